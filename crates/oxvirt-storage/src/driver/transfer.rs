//! `virStorageVolDownload` and `virStorageVolUpload`: the backend's reader or writer runs
//! in a blocking task, chunks go through the api's channels.

use std::io::Write;

use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};
use tokio::sync::{mpsc, oneshot};

use super::{blocking, err, PoolDriver};
use crate::api::{flags, Chunk, Download, PoolEvent, Result, Upload, VolRef, TRANSFER_DEPTH};
use crate::backend::{Segment, VolumeRead, VolumeWrite};

/// The largest data chunk: a stream packet's payload (libvirt's
/// `VIR_NET_MESSAGE_LEGACY_PAYLOAD_MAX`).
pub const MAX_CHUNK: usize = 262_120;

fn io_err(what: &str, e: &std::io::Error) -> VirError {
    err(
        ErrorCode::SystemError,
        format!("{what}: {}", oxvirt_domain::fsio::strerror(e)),
    )
}

/// Reads until `buf` is full or the end.
fn read_full(r: &mut dyn VolumeRead, buf: &mut [u8]) -> Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_err("unable to read volume", &e)),
        }
    }
    Ok(got)
}

/// Sends the reader's content; stops quietly when the receiver is gone.
fn pump_out(
    mut r: Box<dyn VolumeRead>,
    tx: &mpsc::Sender<Result<Chunk>>,
    sparse: bool,
) -> Result<()> {
    let mut buf = vec![0u8; MAX_CHUNK];
    let segments = if sparse {
        r.segments()?
    } else {
        vec![Segment::Data(u64::MAX)]
    };
    for seg in segments {
        match seg {
            Segment::Hole(0) | Segment::Data(0) => {}
            Segment::Hole(n) => {
                r.skip(n)?;
                if tx.blocking_send(Ok(Chunk::Hole(n))).is_err() {
                    return Ok(());
                }
            }
            Segment::Data(n) => {
                let mut left = n;
                while left > 0 {
                    let want = left.min(MAX_CHUNK as u64) as usize;
                    let got = read_full(r.as_mut(), &mut buf[..want])?;
                    if got == 0 {
                        break;
                    }
                    if tx
                        .blocking_send(Ok(Chunk::Data(buf[..got].to_vec())))
                        .is_err()
                    {
                        return Ok(());
                    }
                    left -= got as u64;
                }
            }
        }
    }
    Ok(())
}

/// Starts a download.
pub(super) async fn download(
    drv: &PoolDriver,
    vol: &VolRef,
    offset: u64,
    length: u64,
    fl: u32,
) -> Result<Download> {
    VirError::check_flags(
        ErrorDomain::Storage,
        fl,
        flags::stream::SPARSE,
        "storageVolDownload",
    )?;
    let st = drv.inner.state.lock().await;
    let (obj, v) = st.vol(vol)?;
    let backend = drv.backend(obj.def.pool_type)?;
    let (def, v) = (obj.def.clone(), v.clone());
    drop(st);
    let guard = drv.transfer_guard(&def.name, &v.name, false);
    let reader = blocking(move || backend.open_read(&def, &v, offset, length)).await?;
    let (tx, rx) = mpsc::channel(TRANSFER_DEPTH);
    let sparse = fl & flags::stream::SPARSE != 0;
    tokio::task::spawn_blocking(move || {
        let _guard = guard;
        if let Err(e) = pump_out(reader, &tx, sparse) {
            let _ = tx.blocking_send(Err(e));
        }
    });
    Ok(Download { chunks: rx })
}

/// Writes the chunks received, then finishes the writer.
fn pump_in(mut w: Box<dyn VolumeWrite>, mut rx: mpsc::Receiver<Chunk>) -> Result<()> {
    while let Some(chunk) = rx.blocking_recv() {
        match chunk {
            Chunk::Data(d) => w
                .write_all(&d)
                .map_err(|e| io_err("unable to write volume", &e))?,
            Chunk::Hole(n) => w.hole(n)?,
        }
    }
    w.finish()
}

/// Starts an upload; once the sender drops and everything is written, the pool is
/// refreshed (with its refresh event, as libvirt's upload completion) and `done` answers.
pub(super) async fn upload(
    drv: &PoolDriver,
    vol: &VolRef,
    offset: u64,
    length: u64,
    fl: u32,
) -> Result<Upload> {
    VirError::check_flags(
        ErrorDomain::Storage,
        fl,
        flags::stream::SPARSE,
        "storageVolUpload",
    )?;
    let st = drv.inner.state.lock().await;
    let (obj, v) = st.vol(vol)?;
    let backend = drv.backend(obj.def.pool_type)?;
    if drv.is_busy(&obj.def.name, &v.name) {
        return Err(err(
            ErrorCode::OperationInvalid,
            format!("volume '{}' is still in use.", v.name),
        ));
    }
    let (def, v) = (obj.def.clone(), v.clone());
    drop(st);
    let pool_name = def.name.clone();
    let guard = drv.transfer_guard(&def.name, &v.name, true);
    let writer = blocking(move || backend.open_write(&def, &v, offset, length)).await?;
    let (tx, rx) = mpsc::channel(TRANSFER_DEPTH);
    let (done_tx, done_rx) = oneshot::channel();
    let drv = drv.clone();
    tokio::spawn(async move {
        let mut result = blocking(move || pump_in(writer, rx)).await;
        if result.is_ok() {
            result = drv.refresh_after_upload(&pool_name).await;
        }
        drop(guard);
        let _ = done_tx.send(result);
    });
    Ok(Upload {
        chunks: tx,
        done: done_rx,
    })
}

impl PoolDriver {
    /// Refreshes a pool after an upload into one of its volumes.
    async fn refresh_after_upload(&self, pool: &str) -> Result<()> {
        let mut st = self.inner.state.lock().await;
        let Some(obj) = st.pools.get(pool).filter(|p| p.active) else {
            return Ok(());
        };
        let pref = obj.reference();
        self.refresh_obj(&mut st, pool).await?;
        self.inner.events.emit(PoolEvent::refresh(&pref));
        Ok(())
    }
}
