//! One connection's dispatch state: how its bytes are read (with passed descriptors on
//! unix sockets), what each frame means (keepalive, stream data, a call to run inline or
//! in its own task), its keepalive timer and its open streams.

use std::collections::HashMap;
use std::future::Future;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, Mutex, PoisonError};

use oxvirt_rpc::fds::recv_with_fds;
use oxvirt_rpc::packet::{KEEPALIVE_PING, PROGRAM_KEEPALIVE, PROGRAM_REMOTE};
use oxvirt_rpc::{Header, MessageStatus, MessageType, Packet, RemoteProcedure};
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::{mpsc, Notify, Semaphore};
use tokio::time::Instant;

use crate::client::Client;
use crate::dispatch::dispatch;
use crate::dispatch::stream::{self, Outbox};
use crate::frame::Frame;
use crate::keepalive::{self, Keepalive, Tick};
use crate::log::{debug, error, warning};
use crate::server::{reply, Server};

/// A connection's reading side: unix sockets are read with `recvmsg`, which also collects
/// the descriptors a client passes; other streams (TCP) cannot carry any.
pub(crate) enum Reader {
    /// A unix socket.
    Unix(tokio::net::unix::OwnedReadHalf),
    /// Any other byte stream.
    Stream(Box<dyn AsyncRead + Unpin + Send>),
}

impl Reader {
    /// Reads into `buf`, appending passed descriptors to `fds`; `Ok(0)` at the end.
    pub(crate) async fn read(
        &mut self,
        buf: &mut [u8],
        fds: &mut Vec<OwnedFd>,
    ) -> std::io::Result<usize> {
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
pub(crate) fn push_packet(out: &mut Vec<u8>, packet: &Packet) {
    match packet.encode() {
        Ok(bytes) => out.extend_from_slice(&bytes),
        Err(err) => error!("reply not sent: {err}"),
    }
}

/// One connection's dispatch state.
pub(crate) struct Conn {
    pub(crate) server: Arc<Server>,
    pub(crate) client: Arc<Client>,
    pub(crate) tx: mpsc::UnboundedSender<Packet>,
    /// The output as streams use it (with their credit window).
    pub(crate) outbox: Outbox,
    /// The open streams by serial: where the client's STREAM packets for them go.
    pub(crate) streams: Arc<Mutex<HashMap<u32, mpsc::Sender<Packet>>>>,
    /// One permit per call allowed to run (`max_client_requests`).
    pub(crate) requests: Arc<Semaphore>,
    pub(crate) keepalive: Arc<Mutex<Keepalive>>,
    /// Signalled when keepalive gives up on the client.
    pub(crate) dead: Arc<Notify>,
}

impl Conn {
    pub(crate) fn lock_streams(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<u32, mpsc::Sender<Packet>>> {
        self.streams.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Hands a client's STREAM packet to the open stream of its serial (waiting while
    /// that stream is busy, which stops reading the connection); packets of no open
    /// stream are dropped, as libvirtd drops late stream packets.
    pub(crate) async fn route_stream_packet(&self, packet: Packet) {
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

    pub(crate) fn lock_keepalive(&self) -> std::sync::MutexGuard<'_, Keepalive> {
        self.keepalive
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The keepalive timer: idle until the client asks for keepalive, then libvirtd's
    /// ping schedule.
    pub(crate) fn pinger(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
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
    pub(crate) async fn on_frame(&self, frame: Frame) -> bool {
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
        let guard = self.server.begin_call();
        let client = Arc::clone(&self.client);
        let tx = self.tx.clone();
        let outbox = self.outbox.clone();
        let streams = Arc::clone(&self.streams);
        let workers = self.server.workers();
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
    let mut opened = stream::dispatch_stream(client, call.procedure, payload).await?;
    let (to_stream, incoming) = mpsc::channel(8);
    streams
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(call.serial, to_stream);
    let streams = Arc::clone(streams);
    // The reply goes first; the task's packets queue behind it.
    let _ = outbox
        .tx
        .send(reply(&call, Ok(std::mem::take(&mut opened.reply))));
    tokio::spawn(async move {
        let ending = opened.run(call, outbox, incoming).await;
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
