//! Volume transfers as streams: `virStorageVolDownload` (procedure 209) sends the
//! driver's chunks to the client, `virStorageVolUpload` (208) hands the client's data to
//! the driver.
//!
//! Sparse streams (the calls' `VIR_STORAGE_VOL_*_SPARSE_STREAM` flag, how a libvirt
//! client announces it can take holes) carry holes as STREAM_HOLE packets (message type
//! 6, status CONTINUE, a `virNetStreamHole` payload). As libvirtd, the daemon sends holes
//! only in a sparse download (a non-sparse one gets the zeroes as data) and refuses a hole
//! in an upload that did not announce sparseness ("Unexpected stream hole").

use std::sync::Arc;

use oxvirt_rpc::remote::stream_hole;
use oxvirt_rpc::stream::{self as rpc, Event, StreamState, STREAM_CHUNK};
use oxvirt_rpc::{Header, Packet};
use oxvirt_storage::api::{Chunk, Download, Upload};
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};
use tokio::sync::mpsc;

use super::{Ending, Outbox};

/// A volume transfer a stream procedure opened.
pub enum Transfer {
    /// `virStorageVolDownload`: chunks to the client; holes as holes if `sparse`.
    Download {
        /// The driver's side of the transfer.
        download: Download,
        /// The call asked for a sparse stream.
        sparse: bool,
    },
    /// `virStorageVolUpload`: the client's chunks to the driver; holes accepted if
    /// `sparse`.
    Upload {
        /// The driver's side of the transfer.
        upload: Upload,
        /// The call asked for a sparse stream.
        sparse: bool,
    },
    /// `virDomainMigratePrepareTunnel3Params`: the client's data into the incoming
    /// domain's migration tunnel (see `migrate_tunnel.rs`).
    Migration(oxvirt_domain::driver::tunnel::MigrationTunnel),
}

impl Transfer {
    /// Runs the transfer as the stream of `call` until it is finished, aborted or the
    /// connection ends.
    pub async fn run(self, call: Header, out: Outbox, incoming: mpsc::Receiver<Packet>) -> Ending {
        match self {
            Transfer::Download { download, sparse } => {
                pump_download(call, download, sparse, out, incoming).await
            }
            Transfer::Upload { upload, sparse } => {
                pump_upload(call, upload, sparse, out, incoming).await
            }
            Transfer::Migration(tunnel) => {
                crate::dispatch::migrate_tunnel::pump(call, tunnel, out, incoming).await
            }
        }
    }
}

/// Sends the download's chunks: data under the connection's credit window, holes as
/// STREAM_HOLE packets (or zeroes when not sparse), then the end of the data; then waits
/// for the client's finish.
async fn pump_download(
    call: Header,
    mut download: Download,
    sparse: bool,
    out: Outbox,
    mut incoming: mpsc::Receiver<Packet>,
) -> Ending {
    let mut state = StreamState::new();
    let mut sent_eof = false;
    let mut pending: Option<Vec<u8>> = None;
    // Zeroes still to send for a hole in a non-sparse stream.
    let mut zeroes: u64 = 0;
    loop {
        if pending.is_none() && zeroes > 0 {
            let n = zeroes.min(STREAM_CHUNK as u64);
            zeroes -= n;
            pending = Some(vec![0; n as usize]);
        }
        let want = pending.as_ref().map_or(1, |d| d.len().max(1)) as u32;
        let credit = Arc::clone(&out.credit);
        tokio::select! {
            p = incoming.recv() => {
                let Some(p) = p else {
                    return Ending::Disconnected;
                };
                if !rpc::belongs_to(&call, &p.header) {
                    continue;
                }
                let ending = match state.on_packet(&p) {
                    Event::Finish => Ending::Finished,
                    Event::Abort(_) => Ending::Aborted,
                    _ => continue,
                };
                // The reader ends (releasing the volume) before the confirmation, as
                // libvirtd joins the stream's I/O thread.
                download.chunks.close();
                while download.chunks.recv().await.is_some() {}
                return if out.send(rpc::finish(&call)) {
                    ending
                } else {
                    Ending::Disconnected
                };
            }
            () = out.tx.closed() => return Ending::Disconnected,
            permit = credit.acquire_many_owned(want), if pending.is_some() => {
                let Ok(permit) = permit else {
                    return Ending::Disconnected;
                };
                permit.forget();
                let data = pending.take().unwrap_or_default();
                if !out.send(rpc::data(&call, data)) {
                    return Ending::Disconnected;
                }
            }
            chunk = download.chunks.recv(), if pending.is_none() && zeroes == 0 && !sent_eof => {
                match chunk {
                    None => {
                        sent_eof = true;
                        state.sent_eof();
                        if !out.send(rpc::eof(&call)) {
                            return Ending::Disconnected;
                        }
                    }
                    Some(Ok(Chunk::Data(bytes))) if bytes.is_empty() => {}
                    Some(Ok(Chunk::Data(bytes))) => {
                        // A driver chunk larger than a packet goes out in pieces.
                        if bytes.len() > STREAM_CHUNK {
                            let mut rest = bytes;
                            while rest.len() > STREAM_CHUNK {
                                let tail = rest.split_off(STREAM_CHUNK);
                                let Ok(permit) =
                                    Arc::clone(&out.credit).acquire_many_owned(STREAM_CHUNK as u32).await
                                else {
                                    return Ending::Disconnected;
                                };
                                permit.forget();
                                if !out.send(rpc::data(&call, rest)) {
                                    return Ending::Disconnected;
                                }
                                rest = tail;
                            }
                            pending = Some(rest);
                        } else {
                            pending = Some(bytes);
                        }
                    }
                    Some(Ok(Chunk::Hole(0))) => {}
                    Some(Ok(Chunk::Hole(len))) => {
                        if sparse {
                            if !out.send(stream_hole(&call, len)) {
                                return Ending::Disconnected;
                            }
                        } else {
                            zeroes = len;
                        }
                    }
                    Some(Err(err)) => return fail(&call, &out, err),
                }
            }
        }
    }
}

/// libvirtd's error for a hole in a stream that did not announce sparseness.
fn unexpected_hole() -> VirError {
    VirError::new(ErrorDomain::Rpc, ErrorCode::Rpc, "Unexpected stream hole")
}

/// The error of an upload whose writer went away without saying why.
fn writer_gone() -> VirError {
    VirError::new(
        ErrorDomain::Storage,
        ErrorCode::InternalError,
        "volume upload ended unexpectedly",
    )
}

/// Hands the client's data and holes to the upload in order. At the client's finish the
/// upload's sender is dropped and its outcome awaited: success confirms the finish, an
/// error aborts the stream with it. The writer failing early aborts the stream at once.
async fn pump_upload(
    call: Header,
    upload: Upload,
    sparse: bool,
    out: Outbox,
    mut incoming: mpsc::Receiver<Packet>,
) -> Ending {
    let Upload { chunks, mut done } = upload;
    let mut chunks = Some(chunks);
    let mut state = StreamState::new();
    loop {
        let p = tokio::select! {
            p = incoming.recv() => p,
            () = out.tx.closed() => return Ending::Disconnected,
            outcome = &mut done => {
                // The writer finished before the client did: only an error means anything.
                let err = match outcome {
                    Ok(Err(err)) => err,
                    Ok(Ok(())) | Err(_) => writer_gone(),
                };
                return fail(&call, &out, err);
            }
        };
        let Some(p) = p else {
            return Ending::Disconnected;
        };
        if !rpc::belongs_to(&call, &p.header) {
            continue;
        }
        let chunk = match state.on_packet(&p) {
            Event::Data(bytes) => Chunk::Data(bytes),
            Event::Hole(len) => {
                if !sparse {
                    return fail(&call, &out, unexpected_hole());
                }
                Chunk::Hole(len)
            }
            Event::Finish => {
                drop(chunks.take());
                let outcome = match done.await {
                    Ok(r) => r,
                    Err(_) => Err(writer_gone()),
                };
                return match outcome {
                    Ok(()) if out.send(rpc::finish(&call)) => Ending::Finished,
                    Ok(()) => Ending::Disconnected,
                    Err(err) => fail(&call, &out, err),
                };
            }
            Event::Abort(_) => {
                // As libvirtd joins the stream's I/O thread before confirming an abort:
                // the writer ends (releasing the volume) first.
                drop(chunks.take());
                let _ = done.await;
                return if out.send(rpc::finish(&call)) {
                    Ending::Aborted
                } else {
                    Ending::Disconnected
                };
            }
            _ => continue,
        };
        let Some(tx) = chunks.as_ref() else {
            continue;
        };
        tokio::select! {
            sent = tx.send(chunk) => {
                if sent.is_err() {
                    // The writer stopped: its outcome says why.
                    let err = match (&mut done).await {
                        Ok(Err(err)) => err,
                        _ => writer_gone(),
                    };
                    return fail(&call, &out, err);
                }
            }
            () = out.tx.closed() => return Ending::Disconnected,
        }
    }
}

/// Aborts the stream with `err`.
fn fail(call: &Header, out: &Outbox, err: VirError) -> Ending {
    let _ = out.send(rpc::abort(call, Some(&err)));
    Ending::Failed(err)
}

/// Opens procedure 208 or 209: the driver's transfer and the stream's (empty) reply.
pub(super) async fn open(
    client: &crate::client::Client,
    procedure: oxvirt_rpc::RemoteProcedure,
    payload: &[u8],
) -> Result<super::StreamCall, VirError> {
    use oxvirt_rpc::remote::{StorageVolDownloadArgs, StorageVolUploadArgs};
    use oxvirt_storage::api::flags::stream::SPARSE;
    let function = crate::extra::public_function(procedure).unwrap_or_default();
    let drv = client.storage_driver(&function)?;
    let transfer = if procedure == oxvirt_rpc::RemoteProcedure::StorageVolUpload {
        let a: StorageVolUploadArgs = super::args(payload)?;
        let vol = super::super::storage::vref(a.vol);
        Transfer::Upload {
            upload: drv.vol_upload(&vol, a.offset, a.length, a.flags).await?,
            sparse: a.flags & SPARSE != 0,
        }
    } else {
        let a: StorageVolDownloadArgs = super::args(payload)?;
        let vol = super::super::storage::vref(a.vol);
        Transfer::Download {
            download: drv.vol_download(&vol, a.offset, a.length, a.flags).await?,
            sparse: a.flags & SPARSE != 0,
        }
    };
    Ok(super::StreamCall {
        reply: Vec::new(),
        source: Box::new(tokio::io::empty()),
        sink: None,
        transfer: Some(transfer),
    })
}
