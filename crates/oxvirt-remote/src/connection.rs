//! [`Connection`]: one multiplexed RPC connection to a libvirt daemon.
//!
//! A reader task turns bytes into packets and a writer task sends what callers queue. Each
//! call takes the next serial (from 0, as libvirt's C client) and waits for the REPLY with
//! that serial, so any number of calls run at once. MESSAGE packets of the REMOTE program
//! are events, handed to the sink registered for their callback ID. Keepalive PINGs are
//! always answered; with [`Connection::start_keepalive`] the client pings an idle server
//! and gives up after too many unanswered pings, as virsh does.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use oxvirt_rpc::packet::{
    KEEPALIVE_PING, KEEPALIVE_PONG, PROGRAM_KEEPALIVE, PROGRAM_REMOTE, PROTOCOL_VERSION,
};
use oxvirt_rpc::xdr::{decode_from, encode_to_vec};
use oxvirt_rpc::{
    Header, MessageStatus, MessageType, Packet, PacketDecoder, RemoteError, RemoteProcedure,
    XdrDecode, XdrEncode,
};
use oxvirt_xml::{ErrorCode, ErrorDomain, ErrorLevel, VirError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::stream::IncomingStream;

use crate::transport::{system_error, Transport};

/// An event packet of the REMOTE program: its procedure and its XDR payload (which starts
/// with the callback ID for the callback-style events).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventMessage {
    /// The event's procedure (`318` for a lifecycle event...).
    pub procedure: i32,
    /// The message, XDR-encoded.
    pub payload: Vec<u8>,
}

/// Where event messages go.
pub type EventSink = mpsc::UnboundedSender<EventMessage>;

/// libvirt's error for a call on a connection that is gone: `VIR_ERR_INTERNAL_ERROR` from
/// `VIR_FROM_RPC`, "internal error: client socket is closed".
pub fn socket_closed() -> VirError {
    VirError::new(
        ErrorDomain::Rpc,
        ErrorCode::InternalError,
        "client socket is closed",
    )
}

/// libvirt's error when the daemon hangs up: `VIR_ERR_SYSTEM_ERROR` from `VIR_FROM_RPC`,
/// "End of file while reading data: Input/output error".
pub fn end_of_file() -> VirError {
    VirError::raw(
        ErrorDomain::Rpc,
        ErrorCode::SystemError,
        "End of file while reading data: Input/output error",
    )
}

/// libvirt's error for the calls pending when keepalive gives up on the server:
/// `VIR_ERR_INTERNAL_ERROR` from `VIR_FROM_RPC`, "internal error: connection closed due to
/// keepalive timeout" (later calls get [`socket_closed`]).
pub fn keepalive_timeout() -> VirError {
    VirError::new(
        ErrorDomain::Rpc,
        ErrorCode::InternalError,
        "connection closed due to keepalive timeout",
    )
}

enum Outgoing {
    Bytes(Vec<u8>),
    /// Bytes holding credit of a stream's window, given back once written.
    Paced(Vec<u8>, tokio::sync::OwnedSemaphorePermit),
    Shutdown,
}

#[derive(Default)]
struct State {
    pending: HashMap<u32, oneshot::Sender<Result<Vec<u8>, VirError>>>,
    /// Set once the connection is unusable: the error later calls get.
    closed: Option<VirError>,
    sinks: HashMap<i32, EventSink>,
    /// Open streams by serial: where their STREAM packets go.
    streams: HashMap<u32, mpsc::UnboundedSender<Packet>>,
    default_sink: Option<EventSink>,
    /// Pings sent since the server last sent anything.
    unanswered_pings: u32,
    last_rx: Option<Instant>,
}

pub(crate) struct Shared {
    tx: mpsc::UnboundedSender<Outgoing>,
    serial: AtomicU32,
    state: Mutex<State>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Marks the connection dead: pending calls fail with `pending_err`, later ones with
    /// "client socket is closed"; event sinks are dropped, ending their streams.
    fn fail(&self, pending_err: VirError) {
        let pending = {
            let mut st = self.lock();
            if st.closed.is_none() {
                st.closed = Some(socket_closed());
            }
            st.sinks.clear();
            st.streams.clear();
            st.default_sink = None;
            std::mem::take(&mut st.pending)
        };
        for (_, waiter) in pending {
            let _ = waiter.send(Err(pending_err.clone()));
        }
        let _ = self.tx.send(Outgoing::Shutdown);
    }

    /// Forgets the stream of `serial`.
    pub(crate) fn remove_stream(&self, serial: u32) {
        self.lock().streams.remove(&serial);
    }

    /// Queues a packet for the writer; `credit` is released once it is written.
    pub(crate) fn send_packet_paced(
        &self,
        header: Header,
        payload: Vec<u8>,
        credit: tokio::sync::OwnedSemaphorePermit,
    ) -> Result<(), VirError> {
        let bytes = Packet::new(header, payload)
            .encode()
            .map_err(|e| VirError::from(&e))?;
        self.tx
            .send(Outgoing::Paced(bytes, credit))
            .map_err(|_| socket_closed())
    }

    /// Queues a packet for the writer.
    pub(crate) fn send_packet(&self, header: Header, payload: Vec<u8>) -> Result<(), VirError> {
        let bytes = Packet::new(header, payload)
            .encode()
            .map_err(|e| VirError::from(&e))?;
        self.tx
            .send(Outgoing::Bytes(bytes))
            .map_err(|_| socket_closed())
    }
}

/// One connection to a daemon; cheap to clone, clones share it. Dropping the last clone
/// closes the socket.
#[derive(Clone)]
pub struct Connection {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

/// A call already queued for sending; await it for the reply payload.
pub struct PendingCall {
    rx: oneshot::Receiver<Result<Vec<u8>, VirError>>,
}

impl Future for PendingCall {
    type Output = Result<Vec<u8>, VirError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.rx)
            .poll(cx)
            .map(|r| r.unwrap_or_else(|_| Err(socket_closed())))
    }
}

impl Connection {
    /// Starts the reader and writer tasks over `io`. Must run inside a tokio runtime.
    pub fn new<T: Transport>(io: T) -> Connection {
        let (reader, writer) = tokio::io::split(io);
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            tx,
            serial: AtomicU32::new(0),
            state: Mutex::new(State::default()),
        });
        tokio::spawn(write_loop(writer, rx, Arc::downgrade(&shared)));
        tokio::spawn(read_loop(reader, Arc::downgrade(&shared)));
        Connection { shared }
    }

    /// Whether the connection is gone (hung up, failed, timed out or closed).
    pub fn is_closed(&self) -> bool {
        self.shared.lock().closed.is_some()
    }

    /// Queues a CALL of REMOTE procedure `procedure` with an encoded payload, without
    /// waiting; the returned future resolves to the reply payload or the error it carried.
    pub fn start_call(&self, procedure: i32, payload: Vec<u8>) -> Result<PendingCall, VirError> {
        let serial = self.shared.serial.fetch_add(1, Ordering::Relaxed);
        let (reply_tx, rx) = oneshot::channel();
        {
            let mut st = self.shared.lock();
            if let Some(err) = &st.closed {
                return Err(err.clone());
            }
            st.pending.insert(serial, reply_tx);
        }
        let header = Header {
            prog: PROGRAM_REMOTE,
            vers: PROTOCOL_VERSION,
            procedure,
            kind: MessageType::Call,
            serial,
            status: MessageStatus::Ok,
        };
        if let Err(e) = self.shared.send_packet(header, payload) {
            self.shared.lock().pending.remove(&serial);
            return Err(e);
        }
        Ok(PendingCall { rx })
    }

    /// Calls stream procedure `procedure` with an encoded payload: the reply's payload and
    /// the stream the daemon then sends. The stream is registered before the CALL goes out,
    /// so no data packet following the reply is missed.
    pub async fn call_stream(
        &self,
        procedure: i32,
        payload: Vec<u8>,
    ) -> Result<(Vec<u8>, IncomingStream), VirError> {
        let serial = self.shared.serial.fetch_add(1, Ordering::Relaxed);
        let (reply_tx, reply_rx) = oneshot::channel();
        let (data_tx, data_rx) = mpsc::unbounded_channel();
        {
            let mut st = self.shared.lock();
            if let Some(err) = &st.closed {
                return Err(err.clone());
            }
            st.pending.insert(serial, reply_tx);
            st.streams.insert(serial, data_tx);
        }
        let header = Header {
            prog: PROGRAM_REMOTE,
            vers: PROTOCOL_VERSION,
            procedure,
            kind: MessageType::Call,
            serial,
            status: MessageStatus::Ok,
        };
        let stream = IncomingStream::new(Arc::clone(&self.shared), header, data_rx);
        if let Err(e) = self.shared.send_packet(header, payload) {
            self.shared.lock().pending.remove(&serial);
            return Err(e);
        }
        let reply = PendingCall { rx: reply_rx }.await?;
        Ok((reply, stream))
    }

    /// Calls REMOTE procedure `procedure` with an encoded payload; the reply's payload.
    pub async fn call_raw(&self, procedure: i32, payload: Vec<u8>) -> Result<Vec<u8>, VirError> {
        self.start_call(procedure, payload)?.await
    }

    /// Calls `procedure` with `args` and decodes its result (`()` for void either side).
    pub async fn call<A, R>(&self, procedure: RemoteProcedure, args: &A) -> Result<R, VirError>
    where
        A: XdrEncode + ?Sized,
        R: XdrDecode,
    {
        let reply = self
            .call_raw(procedure.number(), encode_to_vec(args))
            .await?;
        decode_from(&reply).map_err(|e| e.to_vir_error())
    }

    /// Starts an `*_EVENT_REGISTER_ANY` call (`procedure` with `args`) and, once the daemon
    /// answers with the callback ID, hands every message of that callback that `decode`
    /// understands to `emit`, until the connection closes. Needs a tokio runtime: outside
    /// one, nothing is registered.
    pub fn forward_events<A, E>(
        &self,
        procedure: RemoteProcedure,
        args: &A,
        decode: fn(&EventMessage) -> Option<E>,
        emit: impl Fn(E) + Send + 'static,
    ) where
        A: XdrEncode,
        E: Send + 'static,
    {
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let Ok(call) = self.start_call(procedure.number(), encode_to_vec(args)) else {
            return;
        };
        let conn = self.clone();
        handle.spawn(async move {
            let Ok(reply) = call.await else { return };
            let Ok(r) = decode_from::<oxvirt_rpc::remote::CallbackIdMsg>(&reply) else {
                return;
            };
            let (tx, mut rx) = mpsc::unbounded_channel();
            conn.set_event_sink(r.callback_id, tx);
            while let Some(msg) = rx.recv().await {
                if let Some(event) = decode(&msg) {
                    emit(event);
                }
            }
        });
    }

    /// Sends event messages whose callback ID is `callback_id` to `sink`.
    pub fn set_event_sink(&self, callback_id: i32, sink: EventSink) {
        self.shared.lock().sinks.insert(callback_id, sink);
    }

    /// Forgets the sink of `callback_id`.
    pub fn remove_event_sink(&self, callback_id: i32) {
        self.shared.lock().sinks.remove(&callback_id);
    }

    /// Sends event messages no sink claims (unknown callback IDs, legacy events) to `sink`.
    pub fn set_default_event_sink(&self, sink: EventSink) {
        self.shared.lock().default_sink = Some(sink);
    }

    /// Starts pinging: after `interval` without anything from the server a PING goes out,
    /// then one per `interval`; after `count` unanswered pings the connection is closed: the
    /// pending calls fail with [`keepalive_timeout`], later ones with "client socket is
    /// closed". virsh uses 5 s and 6.
    pub fn start_keepalive(&self, interval: Duration, count: u32) {
        self.shared.lock().last_rx = Some(Instant::now());
        tokio::spawn(keepalive_loop(
            Arc::downgrade(&self.shared),
            interval,
            count,
        ));
    }

    /// Closes the socket: pending and later calls fail with "client socket is closed".
    pub fn close(&self) {
        self.shared.fail(socket_closed());
    }
}

async fn write_loop<W: tokio::io::AsyncWrite + Unpin>(
    mut writer: W,
    mut rx: mpsc::UnboundedReceiver<Outgoing>,
    shared: Weak<Shared>,
) {
    loop {
        // A paced packet's credit goes back once it is written.
        let (bytes, _credit) = match rx.recv().await {
            Some(Outgoing::Bytes(bytes)) => (bytes, None),
            Some(Outgoing::Paced(bytes, credit)) => (bytes, Some(credit)),
            Some(Outgoing::Shutdown) | None => break,
        };
        if let Err(e) = writer.write_all(&bytes).await {
            if let Some(shared) = shared.upgrade() {
                shared.fail(system_error("Cannot write data", &e));
            }
            break;
        }
    }
    let _ = writer.shutdown().await;
}

async fn read_loop<R: tokio::io::AsyncRead + Unpin>(mut reader: R, shared: Weak<Shared>) {
    let mut decoder = PacketDecoder::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match reader.read(&mut buf).await {
            Ok(0) => {
                if let Some(s) = shared.upgrade() {
                    s.fail(end_of_file());
                }
                return;
            }
            Ok(n) => n,
            // A transport that knows more about the end of file (ssh's stderr) says it.
            Err(e) if crate::ssh::is_end_of_file(&e) => {
                if let Some(s) = shared.upgrade() {
                    s.fail(system_error("End of file while reading data", &e));
                }
                return;
            }
            Err(e) => {
                if let Some(s) = shared.upgrade() {
                    s.fail(system_error("Cannot recv data", &e));
                }
                return;
            }
        };
        decoder.feed(&buf[..n]);
        let Some(s) = shared.upgrade() else { return };
        loop {
            match decoder.next_packet() {
                Ok(Some(packet)) => handle_packet(&s, packet),
                Ok(None) => break,
                Err(e) => {
                    s.fail(VirError::from(&e));
                    return;
                }
            }
        }
    }
}

fn handle_packet(shared: &Shared, packet: Packet) {
    let h = packet.header;
    {
        let mut st = shared.lock();
        st.unanswered_pings = 0;
        if st.last_rx.is_some() {
            st.last_rx = Some(Instant::now());
        }
    }
    match (h.prog, h.kind) {
        (PROGRAM_KEEPALIVE, MessageType::Message) if h.procedure == KEEPALIVE_PING => {
            let _ = shared.send_packet(keepalive_header(KEEPALIVE_PONG), Vec::new());
        }
        (PROGRAM_REMOTE, MessageType::Reply | MessageType::ReplyWithFds) => {
            let Some(waiter) = shared.lock().pending.remove(&h.serial) else {
                return;
            };
            let result = match h.status {
                MessageStatus::Error => Err(reply_error(&packet.payload)),
                _ => Ok(packet.payload),
            };
            let _ = waiter.send(result);
        }
        (PROGRAM_REMOTE, MessageType::Stream | MessageType::StreamHole) => {
            // Packets of a stream nobody reads any more are dropped.
            let st = shared.lock();
            if let Some(stream) = st.streams.get(&h.serial) {
                let _ = stream.send(packet);
            }
        }
        (PROGRAM_REMOTE, MessageType::Message) => {
            let callback_id = packet
                .payload
                .first_chunk::<4>()
                .map(|b| i32::from_be_bytes(*b));
            let st = shared.lock();
            let sink = callback_id
                .and_then(|id| st.sinks.get(&id))
                .or(st.default_sink.as_ref());
            if let Some(sink) = sink {
                let _ = sink.send(EventMessage {
                    procedure: h.procedure,
                    payload: packet.payload,
                });
            }
        }
        _ => {}
    }
}

fn keepalive_header(procedure: i32) -> Header {
    Header {
        prog: PROGRAM_KEEPALIVE,
        vers: PROTOCOL_VERSION,
        procedure,
        kind: MessageType::Message,
        serial: 0,
        status: MessageStatus::Ok,
    }
}

/// The error an ERROR reply carries, as libvirt's client raises it: an RPC "unknown
/// procedure" from an older server becomes `VIR_ERR_NO_SUPPORT` with the same message.
pub(crate) fn reply_error(payload: &[u8]) -> VirError {
    match decode_from::<RemoteError>(payload) {
        Ok(remote) => {
            let unknown_procedure = remote.code == ErrorCode::Rpc.number()
                && (remote.domain == ErrorDomain::Rpc.number()
                    || remote.domain == ErrorDomain::Remote.number())
                && remote.level == ErrorLevel::Error as i32
                && remote
                    .message
                    .as_deref()
                    .is_some_and(|m| m.starts_with("unknown procedure"));
            let mut err = VirError::from(remote);
            if unknown_procedure {
                err.code = ErrorCode::NoSupport;
            }
            err
        }
        Err(e) => e.to_vir_error(),
    }
}

async fn keepalive_loop(shared: Weak<Shared>, interval: Duration, count: u32) {
    loop {
        tokio::time::sleep(interval / 5).await;
        let Some(s) = shared.upgrade() else { return };
        let ping = {
            let mut st = s.lock();
            if st.closed.is_some() {
                return;
            }
            let idle = st.last_rx.map_or(Duration::ZERO, |t| t.elapsed());
            // One ping per interval of silence: the n-th goes after n intervals.
            let due = interval * (st.unanswered_pings + 1);
            if idle < due {
                false
            } else if st.unanswered_pings >= count {
                drop(st);
                s.fail(keepalive_timeout());
                return;
            } else {
                st.unanswered_pings += 1;
                true
            }
        };
        if ping {
            let _ = s.send_packet(keepalive_header(KEEPALIVE_PING), Vec::new());
        }
    }
}

#[cfg(test)]
#[path = "connection_tests.rs"]
mod tests;
