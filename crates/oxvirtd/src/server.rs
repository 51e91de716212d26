//! Connections: a reader decoding packets, a writer fed by a channel, a task per CALL (so a
//! slow call never holds up keepalive or other calls), a keepalive timer, and the limits and
//! shutdown shared by every connection.

use std::collections::HashMap;
use std::future::Future;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use oxvirt_rpc::fds::recv_with_fds;
use oxvirt_rpc::packet::{KEEPALIVE_PING, MAX_FDS, PROGRAM_KEEPALIVE, PROGRAM_REMOTE};
use oxvirt_rpc::xdr::encode_to_vec;
use oxvirt_rpc::{Header, MessageStatus, MessageType, Packet, RemoteError, RemoteProcedure};
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, watch, Notify, Semaphore};
use tokio::time::Instant;

use crate::client::Client;
use crate::config::Config;
use crate::dispatch::dispatch;
use crate::dispatch::stream::{self, Outbox};
use crate::frame::{Frame, Framer};
use crate::keepalive::{self, Keepalive, Tick};
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
}

/// Counts one running call for as long as it lives.
struct CallGuard(Arc<Server>);

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
    /// A server running with `config`.
    pub fn new(config: Config) -> Arc<Server> {
        Arc::new(Server {
            clients: AtomicUsize::new(0),
            calls: AtomicUsize::new(0),
            workers: Arc::new(Semaphore::new(config.max_workers)),
            shutdown: watch::channel(false).0,
            config,
        })
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
                conn.peer
            );
            return;
        }
        debug!("new client from {}", conn.peer);
        let server = Arc::clone(self);
        match conn.stream {
            Stream::Unix(s) => {
                let (rd, wr) = s.into_split();
                tokio::spawn(server.handle(Reader::Unix(rd), wr, conn.readonly, guard));
            }
            Stream::Tcp(s) => {
                let _ = s.set_nodelay(true);
                let (rd, wr) = s.into_split();
                tokio::spawn(server.handle(Reader::Stream(Box::new(rd)), wr, false, guard));
            }
        }
    }

    /// Serves one client until it hangs up, sends bytes that are not a packet, or stops
    /// answering keepalive.
    async fn handle<W>(
        self: Arc<Self>,
        mut rd: Reader,
        mut wr: W,
        readonly: bool,
        _guard: ClientGuard,
    ) where
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let (tx, mut rx) = mpsc::unbounded_channel::<Packet>();
        let client = Arc::new(Client::with_outbox(
            readonly,
            Some(tx.clone()),
            Some(self.config.state_dir.clone()),
        ));
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

/// A connection's reading side: unix sockets are read with `recvmsg`, which also collects
/// the descriptors a client passes; other streams (TCP) cannot carry any.
enum Reader {
    /// A unix socket.
    Unix(tokio::net::unix::OwnedReadHalf),
    /// Any other byte stream.
    Stream(Box<dyn AsyncRead + Unpin + Send>),
}

impl Reader {
    /// Reads into `buf`, appending passed descriptors to `fds`; `Ok(0)` at the end.
    async fn read(&mut self, buf: &mut [u8], fds: &mut Vec<OwnedFd>) -> std::io::Result<usize> {
        match self {
            Reader::Unix(rd) => loop {
                let sock = rd.as_ref();
                sock.readable().await?;
                match sock.try_io(tokio::io::Interest::READABLE, || {
                    recv_with_fds(sock.as_fd(), buf, fds)
                }) {
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                    other => return other,
                }
            },
            Reader::Stream(rd) => rd.read(buf).await,
        }
    }
}

/// Appends `packet`'s bytes to the output buffer (a packet that cannot be encoded is
/// logged and left out).
fn push_packet(out: &mut Vec<u8>, packet: &Packet) {
    match packet.encode() {
        Ok(bytes) => out.extend_from_slice(&bytes),
        Err(err) => error!("reply not sent: {err}"),
    }
}

/// One connection's dispatch state.
struct Conn {
    server: Arc<Server>,
    client: Arc<Client>,
    tx: mpsc::UnboundedSender<Packet>,
    /// The output as streams use it (with their credit window).
    outbox: Outbox,
    /// The open streams by serial: where the client's STREAM packets for them go.
    streams: Arc<Mutex<HashMap<u32, mpsc::Sender<Packet>>>>,
    /// One permit per call allowed to run (`max_client_requests`).
    requests: Arc<Semaphore>,
    keepalive: Arc<Mutex<Keepalive>>,
    /// Signalled when keepalive gives up on the client.
    dead: Arc<Notify>,
}

impl Conn {
    fn lock_streams(&self) -> std::sync::MutexGuard<'_, HashMap<u32, mpsc::Sender<Packet>>> {
        self.streams.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Hands a client's STREAM packet to the open stream of its serial (waiting while
    /// that stream is busy, which stops reading the connection); packets of no open
    /// stream are dropped, as libvirtd drops late stream packets.
    async fn route_stream_packet(&self, packet: Packet) {
        let h = packet.header;
        let target = self.lock_streams().get(&h.serial).cloned();
        let Some(target) = target else {
            debug!(
                "ignoring unexpected stream packet serial={} proc={} status={}",
                h.serial, h.procedure, h.status as i32
            );
            return;
        };
        if target.send(packet).await.is_err() {
            self.lock_streams().remove(&h.serial);
        }
    }

    fn lock_keepalive(&self) -> std::sync::MutexGuard<'_, Keepalive> {
        self.keepalive
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The keepalive timer: idle until the client asks for keepalive, then libvirtd's
    /// ping schedule.
    fn pinger(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let client = Arc::clone(&self.client);
        let keepalive = Arc::clone(&self.keepalive);
        let tx = self.tx.clone();
        let dead = Arc::clone(&self.dead);
        async move {
            client.keepalive_wanted().await;
            loop {
                let tick = keepalive
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .tick(Instant::now());
                let wait = match tick {
                    Tick::Wait(d) => d,
                    Tick::Ping => {
                        debug!("keepalive: ping");
                        if tx.send(keepalive::ping()).is_err() {
                            return;
                        }
                        keepalive
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .interval()
                    }
                    Tick::Close => {
                        let ka = keepalive.lock().unwrap_or_else(PoisonError::into_inner);
                        warning!(
                            "No response from client after {} keepalive messages in {} seconds",
                            ka.count(),
                            ka.interval().as_secs() * u64::from(ka.count() + 1)
                        );
                        drop(ka);
                        dead.notify_one();
                        return;
                    }
                };
                tokio::time::sleep(wait).await;
            }
        }
    }

    /// Handles one frame; false closes the connection.
    async fn on_frame(&self, frame: Frame) -> bool {
        let (h, payload) = match frame {
            Frame::Packet(p) => (p.header, p.payload),
            // libvirt reads any type and status: it answers a CALL with an error and drops
            // anything else.
            Frame::OddHeader(raw) => {
                if raw.kind == MessageType::Call as i32
                    || raw.kind == MessageType::CallWithFds as i32
                {
                    let h = Header {
                        prog: raw.prog,
                        vers: raw.vers,
                        procedure: raw.procedure,
                        kind: MessageType::Call,
                        serial: raw.serial,
                        status: MessageStatus::Ok,
                    };
                    let err = if h.prog != PROGRAM_REMOTE || h.vers != 1 {
                        unknown_program(&h)
                    } else {
                        unexpected_status(raw.status as u32)
                    };
                    let _ = self.tx.send(reply(&h, Err(err)));
                } else {
                    debug!(
                        "dropping message with type {} status {}",
                        raw.kind, raw.status
                    );
                }
                return true;
            }
        };
        if h.prog == PROGRAM_KEEPALIVE && h.vers == 1 && h.kind == MessageType::Message {
            if h.procedure == KEEPALIVE_PING {
                let _ = self.tx.send(keepalive::pong());
            }
            return true;
        }
        if matches!(h.kind, MessageType::Stream | MessageType::StreamHole) {
            self.route_stream_packet(Packet::new(h, payload)).await;
            return true;
        }
        if !matches!(h.kind, MessageType::Call | MessageType::CallWithFds) {
            // REPLY, MESSAGE...: nothing to answer (libvirtd drops them too).
            return true;
        }
        if h.prog != PROGRAM_REMOTE || h.vers != 1 {
            let _ = self.tx.send(reply(&h, Err(unknown_program(&h))));
            return true;
        }
        if h.status != MessageStatus::Ok {
            let _ = self
                .tx
                .send(reply(&h, Err(unexpected_status(h.status as u32))));
            return true;
        }
        // Back-pressure: with max_client_requests calls running, stop reading.
        let permit = tokio::select! {
            permit = Arc::clone(&self.requests).acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => return false,
            },
            _ = self.dead.notified() => return false,
        };
        self.server.calls.fetch_add(1, Ordering::SeqCst);
        let guard = CallGuard(Arc::clone(&self.server));
        let client = Arc::clone(&self.client);
        let tx = self.tx.clone();
        let outbox = self.outbox.clone();
        let streams = Arc::clone(&self.streams);
        let workers = Arc::clone(&self.server.workers);
        let mut call = Box::pin(async move {
            // The worker pool is shared: a call waits here, the client's reading does not.
            let Ok(_worker) = workers.acquire_owned().await else {
                return;
            };
            let started = Instant::now();
            // A stream procedure queues its own reply, ahead of its data.
            let result = if stream::is_stream_procedure(h.procedure) {
                start_stream(&client, h, &payload, outbox, &streams)
                    .await
                    .map(|()| None)
            } else {
                dispatch(&client, h.procedure, &payload).await.map(Some)
            };
            if crate::log::enabled(crate::log::Level::Debug) {
                let name = RemoteProcedure::from_number(h.procedure)
                    .map_or("unknown", RemoteProcedure::short_name);
                let outcome = if result.is_ok() { "ok" } else { "error" };
                debug!(
                    "call {name} ({}) serial {}: {outcome} in {:?}",
                    h.procedure,
                    h.serial,
                    started.elapsed()
                );
            }
            if let Some(result) = result.transpose() {
                let _ = tx.send(reply(&h, result));
            }
            drop(permit);
            drop(guard);
        });
        // Most calls never wait (an in-memory driver, a lookup): run the call here, once,
        // and spawn it only if it has to wait, so that a quick call costs no task switch.
        // A call that returned Pending registered only this no-op waker; the spawned task
        // polls it again at once, and from then on tokio's waker is the one registered.
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        if call.as_mut().poll(&mut cx).is_pending() {
            tokio::spawn(call);
        }
        true
    }
}

/// Runs stream procedure `call`: on success the stream is registered under the call's
/// serial before its reply is queued (so the client's first stream packet finds it), and a
/// task streams the data after it. The reply is queued here; errors are the caller's to send.
async fn start_stream(
    client: &Client,
    call: Header,
    payload: &[u8],
    outbox: Outbox,
    streams: &Arc<Mutex<HashMap<u32, mpsc::Sender<Packet>>>>,
) -> Result<(), VirError> {
    let opened = stream::dispatch_stream(client, call.procedure, payload).await?;
    let (to_stream, incoming) = mpsc::channel(8);
    streams
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(call.serial, to_stream);
    let streams = Arc::clone(streams);
    // The reply goes first; the task's packets queue behind it.
    let _ = outbox.tx.send(reply(&call, Ok(opened.reply)));
    tokio::spawn(async move {
        let ending = stream::pump(call, opened.source, outbox, incoming).await;
        debug!("stream serial {} ended: {ending:?}", call.serial);
        streams
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&call.serial);
    });
    Ok(())
}

/// libvirt's error for a CALL whose status is not OK.
pub fn unexpected_status(status: u32) -> VirError {
    VirError::new(
        ErrorDomain::Rpc,
        ErrorCode::Rpc,
        format!("Unexpected message status {status}"),
    )
}

/// libvirt's error for a CALL to a program (or version) the server does not serve.
pub fn unknown_program(h: &Header) -> VirError {
    VirError::new(
        ErrorDomain::Rpc,
        ErrorCode::Rpc,
        format!(
            "Cannot find program {} version {}",
            h.prog as i32, h.vers as i32
        ),
    )
}

enum Stream {
    Unix(tokio::net::UnixStream),
    Tcp(tokio::net::TcpStream),
}

struct Accepted {
    stream: Stream,
    readonly: bool,
    peer: String,
}

async fn accept(listener: &Listener) -> std::io::Result<Accepted> {
    Ok(match listener {
        Listener::Unix { listener, readonly } => {
            let (s, _) = listener.accept().await?;
            let peer = match s.peer_cred() {
                Ok(c) => format!("unix pid {:?} uid {}", c.pid(), c.uid()),
                Err(_) => "unix".to_owned(),
            };
            Accepted {
                stream: Stream::Unix(s),
                readonly: *readonly,
                peer,
            }
        }
        Listener::Tcp(listener) => {
            let (s, addr) = listener.accept().await?;
            Accepted {
                stream: Stream::Tcp(s),
                readonly: false,
                peer: format!("tcp {addr}"),
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
    use crate::dispatch::unknown_procedure;

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
