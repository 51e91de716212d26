//! The QEMU Machine Protocol (QMP) client.
//!
//! [`Qmp::connect`] opens QEMU's monitor socket, reads the greeting, leaves capabilities
//! negotiation mode (`qmp_capabilities`) and starts a reader task. [`Qmp::execute`] may be
//! called from many tasks at once: each command carries an `"id"` and its reply is matched by
//! it. Asynchronous events arrive, in order, on the [`Events`] stream. When QEMU closes the
//! socket (it exited) every pending and later call fails with [`QmpError::Closed`] and the
//! events stream ends.

mod commands;
mod error;
pub mod ops;
mod wire;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Map, Value};
use tokio::io::{AsyncBufRead, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, oneshot};

pub use commands::{CpuInfoFast, QmpVersion, VmStatus};
pub use error::QmpError;
pub use wire::MAX_MESSAGE;

/// One asynchronous QMP event (`{"event": NAME, "data": {...}, "timestamp": {...}}`).
#[derive(Debug, Clone, PartialEq)]
pub struct QmpEvent {
    /// The event name (`RESUME`, `STOP`, `SHUTDOWN` ...).
    pub name: String,
    /// The event's `data` member (`Value::Null` when QEMU sent none).
    pub data: Value,
    /// When QEMU emitted it: (seconds, microseconds) since the epoch.
    pub timestamp: (i64, i64),
}

impl QmpEvent {
    fn from_message(name: String, mut msg: Map<String, Value>) -> QmpEvent {
        let data = msg.remove("data").unwrap_or(Value::Null);
        let ts = msg.get("timestamp");
        let part = |k: &str| {
            ts.and_then(|t| t.get(k))
                .and_then(Value::as_i64)
                .unwrap_or(0)
        };
        QmpEvent {
            name,
            data,
            timestamp: (part("seconds"), part("microseconds")),
        }
    }
}

/// The stream of QMP events of one connection. It ends (`recv` gives `None`) once QEMU
/// closed the monitor and every event before that was received.
#[derive(Debug)]
pub struct Events {
    rx: mpsc::UnboundedReceiver<QmpEvent>,
}

impl Events {
    /// The next event, waiting for it; `None` once the connection is closed and drained.
    pub async fn recv(&mut self) -> Option<QmpEvent> {
        self.rx.recv().await
    }

    /// The next event if one is already queued.
    pub fn try_recv(&mut self) -> Option<QmpEvent> {
        self.rx.try_recv().ok()
    }
}

/// One queued write: a whole command, optionally with a descriptor to pass beside it.
enum Outgoing {
    /// Plain command bytes.
    Plain(Vec<u8>),
    /// Command `id`'s bytes, sent with `fd` attached (`SCM_RIGHTS`).
    WithFd {
        id: u64,
        bytes: Vec<u8>,
        fd: std::os::fd::OwnedFd,
    },
}

type ReplySender = oneshot::Sender<Result<Map<String, Value>, QmpError>>;

/// Connection state shared by the client handles and the reader/writer tasks.
#[derive(Default)]
struct State {
    closed: bool,
    pending: HashMap<u64, ReplySender>,
}

struct Shared {
    state: Mutex<State>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Marks the connection closed and fails every pending call with `why`.
    fn close(&self, why: &QmpError) {
        let mut state = self.lock();
        state.closed = true;
        for (_, tx) in state.pending.drain() {
            let _ = tx.send(Err(why.clone()));
        }
    }
}

/// A QMP connection. Cheap to clone; all clones share the connection. Dropping the last
/// clone disconnects from QEMU (which keeps running and accepts a new client).
#[derive(Clone)]
pub struct Qmp {
    shared: Arc<Shared>,
    writer: mpsc::UnboundedSender<Outgoing>,
    next_id: Arc<AtomicU64>,
    version: QmpVersion,
    capabilities: Arc<Vec<String>>,
}

impl std::fmt::Debug for Qmp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Qmp")
            .field("version", &self.version)
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl Qmp {
    /// Connects to QEMU's QMP unix socket at `path` and negotiates capabilities.
    pub async fn connect(path: impl AsRef<Path>) -> Result<(Qmp, Events), QmpError> {
        let stream =
            tokio::net::UnixStream::connect(path)
                .await
                .map_err(|e| QmpError::Connect {
                    detail: os_error_text(&e),
                })?;
        // Split the socket itself (not through `tokio::io::split`) so the writer can reach
        // the socket for `sendmsg` with `SCM_RIGHTS` ([`Qmp::send_fd`]).
        let (read_half, write_half) = stream.into_split();
        Qmp::start(read_half, write_half).await
    }

    /// Runs the QMP handshake over an already-open byte stream (a socket, or an in-memory
    /// pipe in tests) and starts the reader and writer tasks.
    pub async fn handshake<S>(stream: S) -> Result<(Qmp, Events), QmpError>
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (read_half, write_half) = tokio::io::split(stream);
        Qmp::start(read_half, write_half).await
    }

    /// The handshake and tasks over a read half and a write half.
    async fn start<R, W>(read_half: R, mut write_half: W) -> Result<(Qmp, Events), QmpError>
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: ops::fd::MonitorWriter,
    {
        let mut reader = BufReader::with_capacity(64 * 1024, read_half);
        let (events_tx, events_rx) = mpsc::unbounded_channel();

        let greeting = next_message(&mut reader).await?;
        let (version, capabilities) = commands::parse_greeting(&greeting)?;

        let negotiate = wire::command_line("qmp_capabilities", None, 0);
        write_half
            .write_all(&negotiate)
            .await
            .map_err(|_| QmpError::Closed)?;
        write_half.flush().await.map_err(|_| QmpError::Closed)?;
        loop {
            let msg = next_message(&mut reader).await?;
            if let Some(Value::String(name)) = msg.get("event") {
                let _ = events_tx.send(QmpEvent::from_message(name.clone(), msg));
                continue;
            }
            wire::reply_result("qmp_capabilities", msg)?;
            break;
        }

        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
        });
        let (writer_tx, writer_rx) = mpsc::unbounded_channel();
        tokio::spawn(write_loop(write_half, writer_rx, shared.clone()));
        tokio::spawn(read_loop(reader, events_tx, shared.clone()));
        let qmp = Qmp {
            shared,
            writer: writer_tx,
            next_id: Arc::new(AtomicU64::new(1)),
            version,
            capabilities: Arc::new(capabilities),
        };
        Ok((qmp, Events { rx: events_rx }))
    }

    /// QEMU's version, from the greeting.
    pub fn version(&self) -> &QmpVersion {
        &self.version
    }

    /// The capabilities QEMU offered in its greeting (`oob` ...); none is enabled.
    pub fn capabilities(&self) -> &[String] {
        &self.capabilities
    }

    /// `true` once the monitor is closed (QEMU exited or the stream broke).
    pub fn is_closed(&self) -> bool {
        self.shared.lock().closed
    }

    /// Runs `command` with optional `arguments` (a JSON object) and returns its `return`
    /// value; an `error` reply becomes [`QmpError::Command`].
    pub async fn execute(
        &self,
        command: &str,
        arguments: Option<Value>,
    ) -> Result<Value, QmpError> {
        self.execute_with(command, arguments, None).await
    }

    /// [`Qmp::execute`], with `fd` passed beside the command's bytes when given (only on a
    /// unix socket opened by [`Qmp::connect`]; elsewhere the call fails with
    /// [`QmpError::Protocol`]).
    pub(crate) async fn execute_with(
        &self,
        command: &str,
        arguments: Option<Value>,
        fd: Option<std::os::fd::OwnedFd>,
    ) -> Result<Value, QmpError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        {
            let mut state = self.shared.lock();
            if state.closed {
                return Err(QmpError::Closed);
            }
            state.pending.insert(id, tx);
        }
        let bytes = wire::command_line(command, arguments, id);
        let out = match fd {
            Some(fd) => Outgoing::WithFd { id, bytes, fd },
            None => Outgoing::Plain(bytes),
        };
        if self.writer.send(out).is_err() {
            self.shared.lock().pending.remove(&id);
            return Err(QmpError::Closed);
        }
        match rx.await {
            Ok(Ok(msg)) => wire::reply_result(command, msg),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(QmpError::Closed),
        }
    }
}

/// The next message (a JSON object); EOF is [`QmpError::Closed`].
async fn next_message<R: AsyncBufRead + Unpin>(
    reader: &mut R,
) -> Result<Map<String, Value>, QmpError> {
    match wire::read_line(reader, MAX_MESSAGE).await? {
        Some(line) => wire::parse(&line),
        None => Err(QmpError::Closed),
    }
}

/// Writes queued commands whole, so a cancelled `execute` never leaves half a line. When
/// every [`Qmp`] handle is gone it shuts the write side down: QEMU then closes the
/// connection, the reader sees EOF and the events stream ends.
async fn write_loop<W: ops::fd::MonitorWriter>(
    mut writer: W,
    mut rx: mpsc::UnboundedReceiver<Outgoing>,
    shared: Arc<Shared>,
) {
    while let Some(out) = rx.recv().await {
        let (bytes, sent) = match out {
            Outgoing::Plain(bytes) => (bytes, 0),
            Outgoing::WithFd { id, bytes, fd } => {
                match ops::fd::send_first(writer.unix_stream(), &bytes, &fd).await {
                    Ok(Some(sent)) => (bytes, sent),
                    Ok(None) => {
                        // Not a unix socket: this one command fails, nothing was written.
                        let waiter = shared.lock().pending.remove(&id);
                        if let Some(tx) = waiter {
                            let _ = tx.send(Err(QmpError::Protocol(
                                ops::fd::NOT_UNIX_SOCKET.to_string(),
                            )));
                        }
                        continue;
                    }
                    Err(_) => {
                        shared.close(&QmpError::Closed);
                        return;
                    }
                }
            }
        };
        let ok = writer.write_all(&bytes[sent..]).await.is_ok() && writer.flush().await.is_ok();
        if !ok {
            shared.close(&QmpError::Closed);
            return;
        }
    }
    let _ = writer.shutdown().await;
}

/// Reads replies and events until EOF or garbage, then closes the connection.
async fn read_loop<R: AsyncBufRead + Unpin>(
    mut reader: R,
    events: mpsc::UnboundedSender<QmpEvent>,
    shared: Arc<Shared>,
) {
    let why = loop {
        let msg = match next_message(&mut reader).await {
            Ok(msg) => msg,
            Err(e) => break e,
        };
        if let Some(Value::String(name)) = msg.get("event") {
            let _ = events.send(QmpEvent::from_message(name.clone(), msg));
            continue;
        }
        let Some(id) = msg.get("id").and_then(Value::as_u64) else {
            // A reply with no id of ours (QEMU could not parse a command): nobody waits.
            continue;
        };
        let waiter = shared.lock().pending.remove(&id);
        if let Some(tx) = waiter {
            let _ = tx.send(Ok(msg));
        }
    };
    shared.close(&why);
}

/// The `strerror` text of an I/O error (without Rust's ` (os error N)` suffix).
fn os_error_text(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error ") {
        Some(pos) => text[..pos].to_string(),
        None => text,
    }
}
