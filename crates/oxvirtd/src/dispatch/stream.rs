//! Stream procedures (libvirtd's `daemonClientStream`): the CALL is answered with a normal
//! REPLY, then the daemon sends the source's bytes as STREAM/CONTINUE packets of at most
//! 262,120 bytes, the end of the data as an empty CONTINUE, and waits for the client to
//! finish (OK), which it confirms with an empty OK. A client abort (ERROR) is confirmed
//! the same way; a failing source aborts the stream with a `remote_error`.
//!
//! Data only goes out as the connection's writer drains it: each data packet takes
//! credit from the connection's [`Outbox`] window, given back once its bytes are written,
//! so a fast source never piles up behind a slow client.

use std::sync::Arc;

use oxvirt_rpc::stream::{self as rpc, DomainScreenshotArgs, DomainScreenshotRet, Event};
use oxvirt_rpc::stream::{StreamState, STREAM_CHUNK};
use oxvirt_rpc::{Header, MessageType, Packet, RemoteProcedure as P};
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::{mpsc, Semaphore};

use super::{args, dref, ret};
use crate::client::Client;

/// How many data bytes may wait in a connection's output at once (four packets).
pub const STREAM_WINDOW: usize = 4 * STREAM_CHUNK;

/// Where a stream's bytes come from (a file, a console, an image in memory).
pub type Source = Box<dyn AsyncRead + Send + Unpin>;

/// A stream procedure's outcome: the reply payload, then the stream's data.
pub struct StreamCall {
    /// The XDR reply payload sent before any stream packet.
    pub reply: Vec<u8>,
    /// What the daemon streams to the client after the reply.
    pub source: Source,
}

/// Whether `procedure` opens a stream that the daemon serves.
pub fn is_stream_procedure(procedure: i32) -> bool {
    procedure == P::DomainScreenshot.number()
}

/// Runs a stream procedure: the reply payload and the data to stream, or the error to
/// reply with (then no stream opens).
pub async fn dispatch_stream(
    client: &Client,
    procedure: i32,
    payload: &[u8],
) -> Result<StreamCall, VirError> {
    let drv = client.driver()?;
    if client.readonly() {
        if let Some(function) = P::from_number(procedure).and_then(super::mutating_function) {
            return Err(super::denied(&function));
        }
    }
    match P::from_number(procedure) {
        Some(P::DomainScreenshot) => {
            let a: DomainScreenshotArgs = args(payload)?;
            let shot = drv.screenshot(&dref(a.dom), a.screen, a.flags).await?;
            Ok(StreamCall {
                reply: ret(&DomainScreenshotRet {
                    mime: Some(shot.mime),
                })?,
                source: Box::new(std::io::Cursor::new(shot.data)),
            })
        }
        _ => Err(super::unknown_procedure(procedure)),
    }
}

/// A connection's output as streams use it: the packet queue, and the credit window
/// bounding the data bytes queued but not yet written.
#[derive(Clone)]
pub struct Outbox {
    /// The connection's packet queue.
    pub tx: mpsc::UnboundedSender<Packet>,
    /// One permit per data byte allowed in flight; the writer gives back what it wrote.
    pub credit: Arc<Semaphore>,
}

impl Outbox {
    /// An outbox over `tx` with a [`STREAM_WINDOW`] of credit.
    pub fn new(tx: mpsc::UnboundedSender<Packet>) -> Self {
        Outbox {
            tx,
            credit: Arc::new(Semaphore::new(STREAM_WINDOW)),
        }
    }

    /// The credit a packet took, to give back once it is written.
    pub fn credit_of(packet: &Packet) -> usize {
        if packet.header.kind == MessageType::Stream {
            packet.payload.len()
        } else {
            0
        }
    }

    /// Gives back the credit of written packets.
    pub fn written(&self, bytes: usize) {
        if bytes > 0 && !self.credit.is_closed() {
            self.credit.add_permits(bytes);
        }
    }

    /// The connection ended: waiting senders give up.
    pub fn close(&self) {
        self.credit.close();
    }

    /// Queues a control packet (no credit). False once the connection is gone.
    fn send(&self, packet: Packet) -> bool {
        self.tx.send(packet).is_ok()
    }
}

/// Why a stream ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// The client finished after the data; confirmed.
    Finished,
    /// The client aborted; confirmed.
    Aborted,
    /// The source failed; the client got the error.
    Failed(VirError),
    /// The connection went away.
    Disconnected,
}

/// Sends `source` to the client as the stream of `call`, reading the client's stream
/// packets from `incoming`, until the stream is finished, aborted or the connection
/// ends.
pub async fn pump(
    call: Header,
    mut source: Source,
    out: Outbox,
    mut incoming: mpsc::Receiver<Packet>,
) -> Ending {
    let mut state = StreamState::new();
    let mut pending: Option<Vec<u8>> = None;
    let mut buf = vec![0u8; STREAM_CHUNK];
    loop {
        let open = state.phase() == rpc::Phase::Open;
        let p = if !open {
            // Waiting for the client's finish: a connection that went meanwhile ends it
            // even if this stream's input was registered after the connection's cleanup.
            tokio::select! {
                p = incoming.recv() => p,
                () = out.tx.closed() => None,
            }
        } else if let Some(data) = pending.take() {
            let credit = Arc::clone(&out.credit);
            let want = data.len().max(1) as u32;
            tokio::select! {
                p = incoming.recv() => {
                    pending = Some(data);
                    p
                }
                permit = credit.acquire_many_owned(want) => {
                    let Ok(permit) = permit else {
                        return Ending::Disconnected;
                    };
                    permit.forget();
                    if !out.send(rpc::data(&call, data)) {
                        return Ending::Disconnected;
                    }
                    continue;
                }
            }
        } else {
            tokio::select! {
                p = incoming.recv() => p,
                read = source.read(&mut buf) => {
                    match read {
                        Ok(0) => {
                            state.sent_eof();
                            if !out.send(rpc::eof(&call)) {
                                return Ending::Disconnected;
                            }
                        }
                        Ok(n) => pending = Some(buf[..n].to_vec()),
                        Err(err) => {
                            let err = io_failure(&err);
                            let _ = out.send(rpc::abort(&call, Some(&err)));
                            return Ending::Failed(err);
                        }
                    }
                    continue;
                }
            }
        };
        let Some(p) = p else {
            return Ending::Disconnected;
        };
        if !rpc::belongs_to(&call, &p.header) {
            continue;
        }
        match state.on_packet(&p) {
            Event::Finish => {
                return if out.send(rpc::finish(&call)) {
                    Ending::Finished
                } else {
                    Ending::Disconnected
                };
            }
            Event::Abort(_) => {
                return if out.send(rpc::finish(&call)) {
                    Ending::Aborted
                } else {
                    Ending::Disconnected
                };
            }
            // Data, holes or an end sent to a stream the daemon only reads from mean
            // nothing: dropped, as late packets are.
            _ => {}
        }
    }
}

/// libvirt's error for a stream whose source failed.
fn io_failure(err: &std::io::Error) -> VirError {
    VirError::new(
        ErrorDomain::Streams,
        ErrorCode::Rpc,
        format!("stream had I/O failure: {err}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxvirt_rpc::packet::PROGRAM_REMOTE;
    use oxvirt_rpc::MessageStatus;

    fn call() -> Header {
        Header {
            prog: PROGRAM_REMOTE,
            vers: 1,
            procedure: 211,
            kind: MessageType::Call,
            serial: 9,
            status: MessageStatus::Ok,
        }
    }

    struct Rig {
        out: Outbox,
        rx: mpsc::UnboundedReceiver<Packet>,
        to_stream: mpsc::Sender<Packet>,
        task: tokio::task::JoinHandle<Ending>,
    }

    fn start(data: Vec<u8>) -> Rig {
        let (tx, rx) = mpsc::unbounded_channel();
        let out = Outbox::new(tx);
        let (to_stream, incoming) = mpsc::channel(4);
        let src: Source = Box::new(std::io::Cursor::new(data));
        let task = tokio::spawn(pump(call(), src, out.clone(), incoming));
        Rig {
            out,
            rx,
            to_stream,
            task,
        }
    }

    /// Takes the queued packets, giving their credit back as a writer would.
    async fn drain(rig: &mut Rig, count: usize) -> Vec<Packet> {
        let mut got = Vec::new();
        for _ in 0..count {
            let p = rig.rx.recv().await.unwrap();
            rig.out.written(Outbox::credit_of(&p));
            got.push(p);
        }
        got
    }

    #[tokio::test]
    async fn data_then_eof_then_confirmed_finish() {
        let data: Vec<u8> = (0..STREAM_CHUNK * 2 + 10).map(|i| i as u8).collect();
        let mut rig = start(data.clone());
        let got = drain(&mut rig, 4).await;
        let sizes: Vec<usize> = got.iter().map(|p| p.payload.len()).collect();
        assert_eq!(sizes, vec![262_120, 262_120, 10, 0]);
        for p in &got {
            assert_eq!(
                (
                    p.header.kind,
                    p.header.status,
                    p.header.serial,
                    p.header.procedure
                ),
                (MessageType::Stream, MessageStatus::Continue, 9, 211)
            );
        }
        let joined: Vec<u8> = got.iter().flat_map(|p| p.payload.clone()).collect();
        assert_eq!(joined, data);
        rig.to_stream.send(rpc::finish(&call())).await.unwrap();
        assert_eq!(rig.task.await.unwrap(), Ending::Finished);
        let confirm = rig.rx.recv().await.unwrap();
        assert_eq!(confirm, rpc::finish(&call()));
    }

    #[tokio::test]
    async fn a_slow_writer_holds_the_source_back() {
        let mut rig = start(vec![1u8; STREAM_CHUNK * 10]);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        // Nothing was written: only the window's worth is queued.
        let mut queued = 0;
        while let Ok(p) = rig.rx.try_recv() {
            queued += p.payload.len();
        }
        assert_eq!(queued, STREAM_WINDOW);
        rig.out.written(STREAM_WINDOW);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let mut more = 0;
        while let Ok(p) = rig.rx.try_recv() {
            more += p.payload.len();
        }
        assert_eq!(more, STREAM_WINDOW);
        rig.to_stream.send(rpc::abort(&call(), None)).await.unwrap();
        assert_eq!(rig.task.await.unwrap(), Ending::Aborted);
        assert_eq!(rig.rx.recv().await.unwrap(), rpc::finish(&call()));
    }

    #[tokio::test]
    async fn a_vanished_client_ends_the_stream() {
        let rig = start(vec![1u8; STREAM_CHUNK * 10]);
        rig.out.close();
        drop(rig.to_stream);
        assert_eq!(rig.task.await.unwrap(), Ending::Disconnected);
    }

    #[tokio::test]
    async fn data_from_the_client_is_dropped() {
        let mut rig = start(vec![5u8; 3]);
        rig.to_stream
            .send(rpc::data(&call(), vec![1, 2]))
            .await
            .unwrap();
        let got = drain(&mut rig, 2).await;
        assert_eq!(got[0].payload, vec![5, 5, 5]);
        assert!(got[1].payload.is_empty());
        rig.to_stream.send(rpc::finish(&call())).await.unwrap();
        assert_eq!(rig.task.await.unwrap(), Ending::Finished);
    }

    #[tokio::test]
    async fn a_connection_gone_while_waiting_for_the_finish_ends_the_stream() {
        let mut rig = start(vec![5u8; 3]);
        drain(&mut rig, 2).await;
        // The stream's input stays open; only the connection's output goes.
        drop(rig.rx);
        assert_eq!(rig.task.await.unwrap(), Ending::Disconnected);
        drop(rig.to_stream);
    }

    struct Broken;

    impl AsyncRead for Broken {
        fn poll_read(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            _: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::task::Poll::Ready(Err(std::io::Error::other("disk gone")))
        }
    }

    #[tokio::test]
    async fn a_failing_source_aborts_with_an_error() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let (_keep, incoming) = mpsc::channel(1);
        let end = pump(call(), Box::new(Broken), Outbox::new(tx), incoming).await;
        let Ending::Failed(err) = end else {
            panic!("{end:?}")
        };
        assert_eq!(err.message, "stream had I/O failure: disk gone");
        let p = rx.recv().await.unwrap();
        assert_eq!(
            (p.header.kind, p.header.status),
            (MessageType::Stream, MessageStatus::Error)
        );
        assert_eq!(rpc::abort_error(&p.payload).message, err.message);
    }
}
