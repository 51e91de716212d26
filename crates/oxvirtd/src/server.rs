//! The server: accepting connections within the limits, each connection's read/write loop
//! (one task: read, hand every frame to its [`Conn`], write everything queued in one go),
//! descriptors passed with `*_WITH_FDS` calls, and the shutdown shared by all.

use std::collections::{HashMap, VecDeque};
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oxvirt_rpc::packet::MAX_FDS;
use oxvirt_rpc::xdr::encode_to_vec;
use oxvirt_rpc::{Header, MessageStatus, MessageType, Packet, RemoteError};
use oxvirt_xml::VirError;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, watch, Notify, Semaphore};
use tokio::time::Instant;

use crate::client::{Client, Identity};
use crate::config::Config;
use crate::conn::{push_packet, Conn, Reader};
use crate::dispatch::stream::Outbox;
use crate::frame::{Frame, Framer};
use crate::keepalive::Keepalive;
use crate::listen::Listener;
use crate::log::{debug, error, warning};

/// What every connection shares: the configuration, the counts the limits apply to, and
/// the shutdown signal.
pub struct Server {
    config: Config,
    clients: AtomicUsize,
    calls: AtomicUsize,
    /// One permit per call allowed to run at once (`max_workers`).
    workers: Arc<Semaphore>,
    shutdown: watch::Sender<bool>,
    /// Connections not yet authenticated (TLS handshake, CONNECT_OPEN), oldest first,
    /// each with where it comes from and the signal that closes it.
    anonymous: Mutex<VecDeque<Pending>>,
    next_id: AtomicU64,
    /// The daemon's own user id: its unix peers, and root's, are authenticated by the
    /// kernel and never count as anonymous.
    own_uid: u32,
    /// Unauthenticated connections closed to make room, and when that was last logged
    /// (a flood must not flood the log too).
    evictions: Mutex<(u64, Option<Instant>)>,
}

/// How often closing unauthenticated connections for room is logged.
const EVICTION_LOG_EVERY: Duration = Duration::from_secs(10);

/// One unauthenticated connection: its id, where it comes from (the peer's uid on a unix
/// socket, its IP address otherwise), and the signal that closes it.
struct Pending {
    id: u64,
    source: String,
    evicted: Arc<Notify>,
}

/// The source the room among unauthenticated connections is shared by: the uid of a unix
/// peer, the address of a network one (an IPv6 one by its /64, which one host usually
/// has whole).
fn source_of(identity: &Identity) -> String {
    match (identity.uid, identity.addr) {
        (Some(uid), _) => format!("uid {uid}"),
        (None, Some(std::net::IpAddr::V6(v6))) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        (None, Some(addr)) => addr.to_string(),
        (None, None) => identity.peer.clone(),
    }
}

/// Which pending connection makes room: the oldest of the source holding the most (a
/// flood's own connections go first, whoever else is waiting), the oldest of all on a
/// tie.
fn room_from(queue: &VecDeque<Pending>) -> Option<usize> {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for p in queue {
        *counts.entry(p.source.as_str()).or_default() += 1;
    }
    let most = counts.values().copied().max()?;
    queue
        .iter()
        .position(|p| counts.get(p.source.as_str()) == Some(&most))
}

/// A connection's place among the unauthenticated ones, until it authenticates or goes.
pub(crate) struct Anonymous {
    server: Arc<Server>,
    id: u64,
    /// Notified when the connection is closed to make room for a newer one.
    evicted: Arc<Notify>,
    pending: bool,
}

impl Anonymous {
    /// Whether the connection has not authenticated yet.
    pub(crate) fn pending(&self) -> bool {
        self.pending
    }

    /// Completes when the daemon closes this unauthenticated connection to make room for a
    /// newer one (`max_anonymous_clients`); never once it authenticated.
    pub(crate) async fn evicted(&self) {
        if self.pending {
            self.evicted.notified().await
        } else {
            std::future::pending().await
        }
    }

    /// The connection authenticated: it no longer counts against `max_anonymous_clients`.
    pub(crate) fn authenticated(&mut self) {
        if self.pending {
            self.pending = false;
            self.server.leave_anonymous(self.id);
        }
    }
}

impl Drop for Anonymous {
    fn drop(&mut self) {
        self.authenticated();
    }
}

/// Counts one running call for as long as it lives.
pub(crate) struct CallGuard(Arc<Server>);

impl Drop for CallGuard {
    fn drop(&mut self) {
        self.0.calls.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Counts one connection for as long as it lives.
struct ClientGuard(Arc<Server>);

impl Drop for ClientGuard {
    fn drop(&mut self) {
        self.0.clients.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Server {
    /// Counts a call as running until the guard is dropped (shutdown waits for it).
    pub(crate) fn begin_call(self: &Arc<Self>) -> CallGuard {
        self.calls.fetch_add(1, Ordering::SeqCst);
        CallGuard(Arc::clone(self))
    }

    /// The permits of `max_workers`: one per call running at once.
    pub(crate) fn workers(&self) -> Arc<Semaphore> {
        Arc::clone(&self.workers)
    }

    /// A server running with `config`.
    pub fn new(config: Config) -> Arc<Server> {
        Arc::new(Server {
            clients: AtomicUsize::new(0),
            calls: AtomicUsize::new(0),
            workers: Arc::new(Semaphore::new(config.max_workers)),
            shutdown: watch::channel(false).0,
            anonymous: Mutex::new(VecDeque::new()),
            next_id: AtomicU64::new(0),
            evictions: Mutex::new((0, None)),
            own_uid: crate::access::own_uid(),
            config,
        })
    }

    /// Counts a new connection as unauthenticated; if that makes more than
    /// `max_anonymous_clients`, one unauthenticated connection is closed: the oldest of the
    /// source (uid or address) that holds the most. libvirtd stops accepting instead, which
    /// lets idle connections lock everyone out; this keeps the daemon reachable under such
    /// a flood, and a flood from one source evicts its own connections first.
    ///
    /// Root's and the daemon's own user's unix connections never count: the kernel
    /// vouched for them (a burst of them must not push each other out), and a flood from
    /// them is the node's administrator's own.
    pub(crate) fn enter_anonymous(self: &Arc<Self>, identity: &Identity) -> Anonymous {
        let peer = &identity.peer;
        let privileged = identity.transport == "unix"
            && identity
                .uid
                .is_some_and(|uid| uid == 0 || uid == self.own_uid);
        if privileged {
            return Anonymous {
                server: Arc::clone(self),
                id: u64::MAX,
                evicted: Arc::new(Notify::new()),
                pending: false,
            };
        }
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        let evicted = Arc::new(Notify::new());
        let mut queue = self
            .anonymous
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let limit = self.config.max_anonymous_clients;
        let source = source_of(identity);
        queue.push_back(Pending {
            id,
            source,
            evicted: Arc::clone(&evicted),
        });
        if limit > 0 && queue.len() > limit {
            if let Some(victim) = room_from(&queue).and_then(|at| queue.remove(at)) {
                // A stored permit: the connection sees it even if it is not waiting yet.
                victim.evicted.notify_one();
                self.count_eviction(limit, peer);
            }
        }
        Anonymous {
            server: Arc::clone(self),
            id,
            evicted,
            pending: true,
        }
    }

    /// Counts one connection closed for room; logs the first, then at most one line per
    /// `EVICTION_LOG_EVERY` with the running total.
    fn count_eviction(&self, limit: usize, peer: &str) {
        let mut evictions = self
            .evictions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        evictions.0 += 1;
        let now = Instant::now();
        if evictions
            .1
            .is_none_or(|last| now.duration_since(last) >= EVICTION_LOG_EVERY)
        {
            evictions.1 = Some(now);
            warning!(
                "{limit} clients have not authenticated yet (max_anonymous_clients); closing \
                 the oldest from the source holding the most to admit {peer} ({} closed so \
                 far)",
                evictions.0
            );
        }
    }

    fn leave_anonymous(&self, id: u64) {
        let mut queue = self
            .anonymous
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        queue.retain(|p| p.id != id);
    }

    /// Connections that have not authenticated yet.
    #[cfg(test)]
    pub(crate) fn anonymous_count(&self) -> usize {
        self.anonymous
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }

    /// Stops every accept loop; connections stay up so running calls can answer.
    pub fn stop_accepting(&self) {
        self.shutdown.send_replace(true);
    }

    /// Calls still running.
    pub fn calls_in_flight(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// Waits (at most `limit`) until no call runs; false if some still do.
    pub async fn drain(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while self.calls_in_flight() > 0 {
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        true
    }

    /// Accepts clients until [`Server::stop_accepting`].
    pub async fn serve(self: Arc<Self>, listener: Listener) {
        let mut stop = self.shutdown.subscribe();
        loop {
            if *stop.borrow() {
                return;
            }
            let accepted = tokio::select! {
                _ = stop.changed() => return,
                accepted = accept(&listener) => accepted,
            };
            match accepted {
                Ok(conn) => self.admit(conn),
                Err(err) => {
                    error!("accept failed: {err}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    fn admit(self: &Arc<Self>, conn: Accepted) {
        let count = self.clients.fetch_add(1, Ordering::SeqCst);
        let guard = ClientGuard(Arc::clone(self));
        if count >= self.config.max_clients {
            error!(
                "Too many active clients ({count}), dropping connection from {}",
                conn.identity.peer
            );
            return;
        }
        debug!("new client from {}", conn.identity.peer);
        let server = Arc::clone(self);
        let anonymous = self.enter_anonymous(&conn.identity);
        let session = Session {
            readonly: conn.readonly,
            identity: conn.identity,
            anonymous,
            _guard: guard,
        };
        match conn.stream {
            Stream::Unix(s) => {
                let (rd, wr) = s.into_split();
                tokio::spawn(server.handle(Reader::Unix(rd), wr, session));
            }
            Stream::Tcp(s) => {
                let _ = s.set_nodelay(true);
                let (rd, wr) = s.into_split();
                tokio::spawn(server.handle(Reader::Stream(Box::new(rd)), wr, session));
            }
            Stream::Tls(s, tls) => {
                let _ = s.set_nodelay(true);
                tokio::spawn(server.handle_tls(s, tls, session));
            }
        }
    }

    /// A TLS client's handshake and certificate checks, in its own task (a slow or
    /// silent peer holds up nobody else), then the connection served as any other with
    /// the certificate's DN in its identity. Every refusal is logged with the peer, the
    /// failed check and the DN.
    async fn handle_tls(
        self: Arc<Self>,
        tcp: tokio::net::TcpStream,
        tls: Arc<oxvirt_tls::TlsServer>,
        mut session: Session,
    ) {
        let accepted = tokio::select! {
            accepted = tls.accept(tcp, TLS_HANDSHAKE_LIMIT) => accepted,
            _ = session.anonymous.evicted() => {
                // Counted and logged (rate-limited) where the room was made.
                debug!(
                    "closing {} during its TLS handshake (max_anonymous_clients)",
                    session.identity.peer
                );
                return;
            }
        };
        match accepted {
            Ok(accepted) => {
                if let Some(ignored) = &accepted.ignored {
                    warning!("{ignored}; accepted anyway (tls_no_verify_certificate)");
                }
                debug!(
                    "{}: TLS client certificate DN '{}'",
                    session.identity.peer,
                    accepted.dn.as_deref().unwrap_or("")
                );
                // A certificate let in only by tls_no_verify_certificate is no identity.
                if accepted.ignored.is_none() {
                    session.identity.x509_dn = accepted.dn;
                }
                let (rd, wr) = tokio::io::split(accepted.stream);
                self.handle(Reader::Stream(Box::new(rd)), wr, session).await;
            }
            Err(refusal) => warning!("{refusal}"),
        }
    }

    /// Serves one client until it hangs up, sends bytes that are not a packet, or stops
    /// answering keepalive.
    async fn handle<W>(self: Arc<Self>, mut rd: Reader, mut wr: W, session: Session)
    where
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let Session {
            readonly,
            identity,
            mut anonymous,
            _guard,
        } = session;
        let (tx, mut rx) = mpsc::unbounded_channel::<Packet>();
        let client = Arc::new(
            Client::with_outbox(
                readonly,
                Some(tx.clone()),
                Some(self.config.state_dir.clone()),
            )
            .with_identity(identity),
        );
        let outbox = Outbox::new(tx.clone());
        let conn = Conn {
            server: Arc::clone(&self),
            client: Arc::clone(&client),
            outbox: outbox.clone(),
            streams: Arc::new(Mutex::new(HashMap::new())),
            tx,
            requests: Arc::new(Semaphore::new(self.config.max_client_requests)),
            keepalive: Arc::new(Mutex::new(Keepalive::new(
                Duration::from_secs(self.config.keepalive_interval.max(1) as u64),
                self.config.keepalive_count,
                Instant::now(),
            ))),
            dead: Arc::new(Notify::new()),
        };
        let pinger = (self.config.keepalive_interval > 0).then(|| tokio::spawn(conn.pinger()));
        let mut framer = Framer::new();
        let mut buf = vec![0u8; 64 * 1024];
        // One task reads and writes: replies of calls that finished while their packet was
        // read, and whatever spawned calls, events and keepalive queued meanwhile, go out
        // together after each read, with no hand-over to another task.
        let mut out = Vec::new();
        // Stream data bytes in `out`: their credit goes back once they are written.
        let mut credit = 0;
        // Descriptors passed with `*_WITH_FDS` calls, in arrival order, and the call
        // waiting for its own (the FDs follow the packet, one dummy byte each).
        let mut fds: Vec<OwnedFd> = Vec::new();
        let mut waiting: Option<Packet> = None;
        'conn: loop {
            let n = tokio::select! {
                read = rd.read(&mut buf, &mut fds) => match read {
                    Ok(0) | Err(_) => break,
                    Ok(n) => Some(n),
                },
                queued = rx.recv() => match queued {
                    Some(packet) => {
                        credit += Outbox::credit_of(&packet);
                        push_packet(&mut out, &packet);
                        None
                    }
                    None => break,
                },
                _ = conn.dead.notified() => break,
                _ = anonymous.evicted() => {
                    debug!("closing unauthenticated client {}", client.identity().peer);
                    break;
                }
            };
            if let Some(n) = n {
                conn.lock_keepalive().received(Instant::now());
                framer.feed(&buf[..n]);
                if fds.len() > MAX_FDS as usize {
                    warning!("closing connection: more than {MAX_FDS} descriptors pending");
                    break 'conn;
                }
                loop {
                    if let Some(call) = waiting.take() {
                        if framer.next_frame_ready() {
                            let wanted = call.fds as usize;
                            if fds.len() < wanted {
                                warning!(
                                    "closing connection: expected {wanted} file descriptors \
                                     after the call, {} arrived",
                                    fds.len()
                                );
                                break 'conn;
                            }
                            // No served procedure takes descriptors yet: they are closed
                            // once the call is answered (libvirtd closes unused ones too).
                            let passed: Vec<OwnedFd> = fds.drain(..wanted).collect();
                            if !conn.on_frame(Frame::Packet(call)).await {
                                break 'conn;
                            }
                            drop(passed);
                        } else {
                            waiting = Some(call);
                            break;
                        }
                    }
                    match framer.next_frame() {
                        Ok(Some(Frame::Packet(p))) if p.header.kind.has_fds() && p.fds > 0 => {
                            framer.skip(p.fds as usize);
                            waiting = Some(p);
                        }
                        Ok(Some(frame)) => {
                            if !conn.on_frame(frame).await {
                                break 'conn;
                            }
                        }
                        Ok(None) => break,
                        Err(err) => {
                            warning!("closing connection: {err}");
                            break 'conn;
                        }
                    }
                }
            }
            if anonymous.pending() && client.is_open() {
                anonymous.authenticated();
            }
            while let Ok(packet) = rx.try_recv() {
                credit += Outbox::credit_of(&packet);
                push_packet(&mut out, &packet);
            }
            if !out.is_empty() {
                if wr.write_all(&out).await.is_err() {
                    break;
                }
                out.clear();
                outbox.written(std::mem::take(&mut credit));
            }
        }
        // Running streams see the connection go: their senders fail, their inputs end.
        outbox.close();
        conn.lock_streams().clear();
        client.drop_callbacks();
        if let Some(pinger) = pinger {
            pinger.abort();
        }
    }
}

enum Stream {
    Unix(tokio::net::UnixStream),
    Tcp(tokio::net::TcpStream),
    Tls(tokio::net::TcpStream, Arc<oxvirt_tls::TlsServer>),
}

/// How long a TLS client may take for its handshake and the confirmation byte.
const TLS_HANDSHAKE_LIMIT: Duration = Duration::from_secs(10);

struct Accepted {
    stream: Stream,
    readonly: bool,
    identity: Identity,
}

/// What a connection's task owns besides its socket.
struct Session {
    readonly: bool,
    identity: Identity,
    anonymous: Anonymous,
    _guard: ClientGuard,
}

async fn accept(listener: &Listener) -> std::io::Result<Accepted> {
    Ok(match listener {
        Listener::Unix { listener, readonly } => {
            let (s, _) = listener.accept().await?;
            let mut identity = Identity {
                transport: "unix",
                peer: "unix".to_owned(),
                ..Identity::default()
            };
            if let Ok(c) = s.peer_cred() {
                identity.uid = Some(c.uid());
                identity.gid = Some(c.gid());
                identity.pid = c.pid();
                identity.peer = match c.pid() {
                    Some(pid) => format!("unix pid {pid} uid {}", c.uid()),
                    None => format!("unix uid {}", c.uid()),
                };
            }
            Accepted {
                stream: Stream::Unix(s),
                readonly: *readonly,
                identity,
            }
        }
        Listener::Tcp(listener) => {
            let (s, addr) = listener.accept().await?;
            Accepted {
                stream: Stream::Tcp(s),
                readonly: false,
                identity: Identity {
                    transport: "tcp",
                    addr: Some(addr.ip()),
                    peer: format!("tcp {addr}"),
                    ..Identity::default()
                },
            }
        }
        Listener::Tls { listener, tls } => {
            let (s, addr) = listener.accept().await?;
            Accepted {
                stream: Stream::Tls(s, Arc::clone(tls)),
                readonly: false,
                identity: Identity {
                    transport: "tls",
                    addr: Some(addr.ip()),
                    peer: format!("tls {addr}"),
                    ..Identity::default()
                },
            }
        }
    })
}

/// The reply packet to `call`: OK with `result`'s payload, or ERROR with a `remote_error`.
pub fn reply(call: &Header, result: Result<Vec<u8>, VirError>) -> Packet {
    let (status, payload) = match result {
        Ok(payload) => (MessageStatus::Ok, payload),
        Err(err) => (
            MessageStatus::Error,
            encode_to_vec(&RemoteError::from(&err)),
        ),
    };
    Packet::new(
        Header {
            kind: MessageType::Reply,
            status,
            ..*call
        },
        payload,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conn::unknown_program;
    use crate::dispatch::unknown_procedure;
    use oxvirt_rpc::packet::PROGRAM_REMOTE;

    fn call(prog: u32, vers: u32) -> Header {
        Header {
            prog,
            vers,
            procedure: 999,
            kind: MessageType::Call,
            serial: 7,
            status: MessageStatus::Ok,
        }
    }

    #[test]
    fn reply_echoes_header() {
        let p = reply(&call(PROGRAM_REMOTE, 1), Err(unknown_procedure(999)));
        assert_eq!(p.header.kind, MessageType::Reply);
        assert_eq!(p.header.status, MessageStatus::Error);
        assert_eq!((p.header.procedure, p.header.serial), (999, 7));
        let err: RemoteError = oxvirt_rpc::xdr::decode_from(&p.payload).unwrap();
        assert_eq!((err.code, err.domain), (39, 7));
        assert_eq!(err.message.as_deref(), Some("unknown procedure: 999"));
    }

    #[test]
    fn unknown_program_is_worded_as_libvirt() {
        let err = unknown_program(&call(0x1234, 1));
        assert_eq!(err.message, "Cannot find program 4660 version 1");
        let err = unknown_program(&call(PROGRAM_REMOTE, 2));
        assert_eq!(err.message, "Cannot find program 536903814 version 2");
        let err = unknown_program(&call(0xffff_fffe, 1));
        assert_eq!(err.message, "Cannot find program -2 version 1");
    }

    fn unix(uid: u32) -> Identity {
        Identity {
            transport: "unix",
            uid: Some(uid),
            peer: format!("unix uid {uid}"),
            ..Identity::default()
        }
    }

    fn tcp(addr: &str) -> Identity {
        let addr: std::net::SocketAddr = addr.parse().unwrap();
        Identity {
            transport: "tcp",
            addr: Some(addr.ip()),
            peer: format!("tcp {addr}"),
            ..Identity::default()
        }
    }

    fn server_with_room(room: usize) -> Arc<Server> {
        let text =
            format!("runtime_dir = \"/r\"\nstate_dir = \"/s\"\nmax_anonymous_clients = {room}\n");
        Server::new(
            crate::config::parse_file("t", &text)
                .unwrap()
                .resolve(&|_| None)
                .unwrap(),
        )
    }

    /// Which of `pending` were told to close (within a short wait for each).
    async fn evicted(pending: &[&Anonymous]) -> Vec<bool> {
        let mut out = Vec::new();
        for p in pending {
            out.push(
                tokio::time::timeout(Duration::from_millis(20), p.evicted())
                    .await
                    .is_ok(),
            );
        }
        out
    }

    #[tokio::test]
    async fn the_oldest_unauthenticated_connection_makes_room() {
        let server = server_with_room(2);
        let first = server.enter_anonymous(&unix(1000));
        let mut second = server.enter_anonymous(&unix(1001));
        assert_eq!(server.anonymous_count(), 2);
        // An authenticated connection no longer counts, and is never closed for room.
        second.authenticated();
        assert!(!second.pending());
        assert_eq!(server.anonymous_count(), 1);
        let third = server.enter_anonymous(&unix(1002));
        assert_eq!(server.anonymous_count(), 2);
        let fourth = server.enter_anonymous(&unix(1003));
        // One connection per source: the oldest pending one (`first`) is told to close.
        assert_eq!(
            evicted(&[&first, &second, &third, &fourth]).await,
            [true, false, false, false]
        );
        assert_eq!(server.anonymous_count(), 2);
        drop((first, third, fourth));
        assert_eq!(server.anonymous_count(), 0);
    }

    #[tokio::test]
    async fn a_flood_from_one_source_makes_room_from_its_own_connections() {
        let server = server_with_room(4);
        // A legitimate client from another address arrives first, then a flood.
        let legit = server.enter_anonymous(&tcp("192.0.2.7:40000"));
        let flood: Vec<Anonymous> = (0..50)
            .map(|i| server.enter_anonymous(&tcp(&format!("198.51.100.9:{}", 1000 + i))))
            .collect();
        assert_eq!(server.anonymous_count(), 4);
        // The flood pushed out only its own, oldest first; the client is still waiting.
        assert_eq!(evicted(&[&legit]).await, [false]);
        let flood_refs: Vec<&Anonymous> = flood.iter().collect();
        let closed = evicted(&flood_refs).await;
        assert_eq!(closed.iter().filter(|c| **c).count(), 47);
        assert!(closed[..47].iter().all(|c| *c) && closed[47..].iter().all(|c| !*c));
        // An IPv6 host is one source however many addresses of its /64 it uses.
        let server = server_with_room(2);
        let legit = server.enter_anonymous(&tcp("[2001:db8:1::7]:40000"));
        let flood: Vec<Anonymous> = (0..10)
            .map(|i| server.enter_anonymous(&tcp(&format!("[2001:db8:2::{i:x}]:1000"))))
            .collect();
        assert_eq!(evicted(&[&legit]).await, [false]);
        let flood_refs: Vec<&Anonymous> = flood.iter().collect();
        assert_eq!(evicted(&flood_refs).await.iter().filter(|c| **c).count(), 9);
        // Unix peers are told apart by uid: uid 2000's flood does not push out uid 1000.
        let server = server_with_room(3);
        let user = server.enter_anonymous(&unix(1000));
        let others: Vec<Anonymous> = (0..10)
            .map(|_| server.enter_anonymous(&unix(2000)))
            .collect();
        assert_eq!(evicted(&[&user]).await, [false]);
        let other_refs: Vec<&Anonymous> = others.iter().collect();
        assert_eq!(evicted(&other_refs).await.iter().filter(|c| **c).count(), 8);
        // Root's unix connections (and the daemon's own user's) never count: a burst of
        // them pushes out nobody, not even each other.
        let roots: Vec<Anonymous> = (0..10).map(|_| server.enter_anonymous(&unix(0))).collect();
        assert!(roots.iter().all(|r| !r.pending()));
        assert_eq!(server.anonymous_count(), 3);
        let root_refs: Vec<&Anonymous> = roots.iter().collect();
        assert!(evicted(&root_refs).await.iter().all(|c| !*c));
        assert_eq!(evicted(&[&user]).await, [false]);
    }

    #[tokio::test]
    async fn drain_waits_for_running_calls_up_to_a_limit() {
        let config = crate::config::Settings::default()
            .overridden_by(
                crate::config::parse_file("t", "runtime_dir = \"/r\"\nstate_dir = \"/s\"\n")
                    .unwrap(),
            )
            .resolve(&|_| None)
            .unwrap();
        let server = Server::new(config);
        assert!(server.drain(Duration::from_millis(10)).await);
        server.calls.fetch_add(1, Ordering::SeqCst);
        let guard = CallGuard(Arc::clone(&server));
        assert_eq!(server.calls_in_flight(), 1);
        assert!(!server.drain(Duration::from_millis(50)).await);
        let s2 = Arc::clone(&server);
        let waiter = tokio::spawn(async move { s2.drain(Duration::from_secs(5)).await });
        tokio::time::sleep(Duration::from_millis(30)).await;
        drop(guard);
        assert!(waiter.await.unwrap());
        assert_eq!(server.calls_in_flight(), 0);
    }
}
