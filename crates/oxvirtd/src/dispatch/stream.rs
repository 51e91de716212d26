//! Stream procedures (libvirtd's `daemonClientStream`): the CALL is answered with a normal
//! REPLY, then the daemon sends the source's bytes as STREAM/CONTINUE packets of at most
//! 262,120 bytes, the end of the data as an empty CONTINUE, and waits for the client to
//! finish (OK), which it confirms with an empty OK. A client abort (ERROR) is confirmed
//! the same way; a failing source aborts the stream with a `remote_error`.
//!
//! A console (`virDomainOpenConsole`, see `console.rs`) streams both ways: the client's
//! data packets are written to the call's sink while the source's data goes out.
//!
//! Data only goes out as the connection's writer drains it: each data packet takes
//! credit from the connection's [`Outbox`] window, given back once its bytes are written,
//! so a fast source never piles up behind a slow client.

use std::sync::Arc;

use oxvirt_rpc::stream::{self as rpc, DomainScreenshotArgs, DomainScreenshotRet, Event};
use oxvirt_rpc::stream::{StreamState, STREAM_CHUNK};
use oxvirt_rpc::{Header, MessageType, Packet, RemoteProcedure as P};
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, Semaphore};

use super::{args, dref, ret};
use crate::client::Client;

#[path = "console.rs"]
mod console;
#[path = "storage_stream.rs"]
pub mod storage_stream;

use storage_stream::Transfer;

/// How many data bytes may wait in a connection's output at once (four packets).
pub const STREAM_WINDOW: usize = 4 * STREAM_CHUNK;

/// Where a stream's bytes come from (a file, a console, an image in memory).
pub type Source = Box<dyn AsyncRead + Send + Unpin>;

/// Where the bytes a client streams go (a console's input).
pub type Sink = Box<dyn AsyncWrite + Send + Unpin>;

/// A stream procedure's outcome: the reply payload, then the stream's data.
pub struct StreamCall {
    /// The XDR reply payload sent before any stream packet.
    pub reply: Vec<u8>,
    /// What the daemon streams to the client after the reply.
    pub source: Source,
    /// Where the data the client streams goes (`None`: dropped).
    pub sink: Option<Sink>,
    /// A volume transfer, which then carries the stream instead of `source` and `sink`.
    pub transfer: Option<Transfer>,
}

impl StreamCall {
    /// Runs the stream of `call` after its reply: the volume transfer if there is one,
    /// else `source` and `sink` both ways.
    pub async fn run(self, call: Header, out: Outbox, incoming: mpsc::Receiver<Packet>) -> Ending {
        match self.transfer {
            Some(transfer) => transfer.run(call, out, incoming).await,
            None => pump_duplex(call, self.source, self.sink, out, incoming).await,
        }
    }
}

/// Whether `procedure` opens a stream that the daemon serves.
pub fn is_stream_procedure(procedure: i32) -> bool {
    [
        P::DomainScreenshot,
        P::DomainOpenConsole,
        P::StorageVolUpload,
        P::StorageVolDownload,
        P::DomainMigratePrepareTunnel3Params,
    ]
    .iter()
    .any(|p| p.number() == procedure)
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
    // The access policy, as for every other call (after the read-only gate, before the
    // driver): a stream procedure is no way around it.
    if let Some(p) = P::from_number(procedure) {
        crate::access::check(client, drv.as_ref(), p, payload).await?;
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
                sink: None,
                transfer: None,
            })
        }
        Some(P::DomainOpenConsole) => console::open(drv.as_ref(), payload).await,
        Some(p @ (P::StorageVolUpload | P::StorageVolDownload)) => {
            storage_stream::open(client, p, payload).await
        }
        Some(P::DomainMigratePrepareTunnel3Params) => {
            super::migrate_tunnel::open(drv.as_ref(), payload).await
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
/// ends. Data the client sends is dropped (a stream the daemon only reads from).
#[cfg(test)]
pub async fn pump(
    call: Header,
    source: Source,
    out: Outbox,
    incoming: mpsc::Receiver<Packet>,
) -> Ending {
    pump_duplex(call, source, None, out, incoming).await
}

/// Writes `data` to `sink`; never completes without a sink.
async fn write_some(sink: &mut Option<Sink>, data: &[u8]) -> std::io::Result<usize> {
    match sink {
        Some(sink) => sink.write(data).await,
        None => std::future::pending().await,
    }
}

/// A bidirectional stream (libvirtd's `daemonStreamHandleRead`/`HandleWrite` together):
/// `source`'s bytes go to the client as data packets under the credit window, then the
/// end of the data once `source` ends; the data of the client's packets is written to
/// `sink` in order (dropped without one), at most [`STREAM_CHUNK`] bytes buffered before
/// the client's packets wait. Ends at the client's finish (after writing what it sent) or
/// abort, both confirmed; a failing source or sink aborts with its error.
pub async fn pump_duplex(
    call: Header,
    mut source: Source,
    mut sink: Option<Sink>,
    out: Outbox,
    mut incoming: mpsc::Receiver<Packet>,
) -> Ending {
    let mut state = StreamState::new();
    let mut sent_eof = false;
    // Read from the source, waiting for credit.
    let mut pending: Option<Vec<u8>> = None;
    // Sent by the client, not yet written to the sink.
    let mut input: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; STREAM_CHUNK];
    loop {
        let want = pending.as_ref().map_or(1, |d| d.len().max(1)) as u32;
        let credit = Arc::clone(&out.credit);
        let p = tokio::select! {
            p = incoming.recv(), if input.len() < STREAM_CHUNK => p,
            // The connection went (even if this stream's input was registered after the
            // connection's cleanup).
            () = out.tx.closed() => None,
            permit = credit.acquire_many_owned(want), if pending.is_some() => {
                let Ok(permit) = permit else {
                    return Ending::Disconnected;
                };
                permit.forget();
                let data = pending.take().unwrap_or_default();
                if !out.send(rpc::data(&call, data)) {
                    return Ending::Disconnected;
                }
                continue;
            }
            read = source.read(&mut buf), if pending.is_none() && !sent_eof => {
                match read {
                    Ok(0) => {
                        sent_eof = true;
                        if !out.send(rpc::eof(&call)) {
                            return Ending::Disconnected;
                        }
                    }
                    Ok(n) => pending = Some(buf[..n].to_vec()),
                    Err(err) => return fail(&call, &out, io_failure(&err)),
                }
                continue;
            }
            written = write_some(&mut sink, &input), if !input.is_empty() => {
                match written {
                    Ok(0) => {
                        let err = std::io::Error::from(std::io::ErrorKind::WriteZero);
                        return fail(&call, &out, write_failure(&err));
                    }
                    Ok(n) => {
                        input.drain(..n);
                    }
                    Err(err) => return fail(&call, &out, write_failure(&err)),
                }
                continue;
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
                // What the client sent before its finish is written first.
                if let Some(sink) = sink.as_mut() {
                    let flushed = match sink.write_all(&input).await {
                        Ok(()) => sink.flush().await,
                        Err(err) => Err(err),
                    };
                    if let Err(err) = flushed {
                        return fail(&call, &out, write_failure(&err));
                    }
                }
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
            Event::Data(bytes) if sink.is_some() => input.extend_from_slice(&bytes),
            // Data for a stream the daemon only reads from, holes, or the end of the
            // client's data mean nothing: dropped, as late packets are.
            _ => {}
        }
    }
}

/// Aborts the stream with `err`.
fn fail(call: &Header, out: &Outbox, err: VirError) -> Ending {
    let _ = out.send(rpc::abort(call, Some(&err)));
    Ending::Failed(err)
}

/// libvirt's error for a stream whose sink failed (`virFDStreamWrite`).
fn write_failure(err: &std::io::Error) -> VirError {
    VirError::new(
        ErrorDomain::Streams,
        ErrorCode::SystemError,
        format!("cannot write to stream: {err}"),
    )
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
