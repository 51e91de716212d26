//! Tunnelled migration (`VIR_MIGRATE_TUNNELLED`, always with `VIR_MIGRATE_PEER2PEER`):
//! QEMU's migration stream goes through the daemons' RPC connection instead of a TCP
//! connection of its own (libvirt's `qemuMigrationSrcPerformTunnel` and
//! `qemuMigrationDstPrepareTunnel`).
//!
//! - Destination ([`QemuDriver::migrate_prepare_tunnel3`], procedure 304): the prepare
//!   phase of [`super::migrate_v3`] with QEMU listening on a unix socket in the runtime
//!   directory (`migrate-incoming unix:PATH`); the daemon connects to it and hands back a
//!   [`MigrationTunnel`] whose bytes a task writes into that socket.
//! - Source ([`QemuDriver::migrate_perform3_tunnel`]): the daemon listens on a unix
//!   socket, the perform phase of [`super::migrate_v3`] makes QEMU migrate to it
//!   (`migrate unix:PATH`), and what QEMU sends is copied into the tunnel, which is
//!   finished once QEMU completed and closed its end.
//!
//! A broken tunnel (the destination's QEMU gone, the stream aborted) closes the source's
//! socket, so QEMU's migration fails and the source runs on; the caller then cancels the
//! destination (finish with `cancelled`), as after any failed perform phase.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use oxvirt_domain::driver::tunnel::{migration_tunnel, MigrationTunnel, TunnelEnd, TunnelEvent};
use oxvirt_domain::driver::{DomainRef, TypedParam, TypedValue};
use oxvirt_migrate::{MigrateFlags, MigrateParams};
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};

use super::QemuDriver;

type Result<T> = std::result::Result<T, VirError>;

/// How much of QEMU's stream is read at once (one stream packet's worth).
const CHUNK: usize = 262_120;

/// Numbers the tunnel sockets of this process.
static NEXT_SOCKET: AtomicU32 = AtomicU32::new(0);

/// libvirt's refusal of a tunnelled migration's flags in a direct prepare phase
/// (`qemuDomainMigratePrepare3Params`).
pub(crate) fn refuse_tunnelled(flags: u32) -> Result<()> {
    if flags & MigrateFlags::TUNNELLED.0 != 0 {
        return Err(VirError::new(
            ErrorDomain::Qemu,
            ErrorCode::InternalError,
            "Tunnelled migration requested but invalid RPC method called",
        ));
    }
    Ok(())
}

/// `params` with `migrate_uri` set to `uri` (and no `listen_address`, which means
/// nothing for a tunnel).
fn with_uri(params: &[TypedParam], uri: &str) -> Vec<TypedParam> {
    let mut out: Vec<TypedParam> = params
        .iter()
        .filter(|p| p.field != "migrate_uri" && p.field != "listen_address")
        .cloned()
        .collect();
    out.push(TypedParam::new(
        "migrate_uri",
        TypedValue::String(uri.to_string()),
    ));
    out
}

/// The text `strerror` gives for `err` (Rust's rendering without " (os error N)").
fn strerror(err: &std::io::Error) -> String {
    let text = err.to_string();
    match text.rfind(" (os error ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// libvirt's error for a tunnel that could not be written to (`virFDStreamWrite`).
fn write_failure(err: &std::io::Error) -> VirError {
    VirError::new(
        ErrorDomain::Streams,
        ErrorCode::SystemError,
        format!("cannot write to stream: {}", strerror(err)),
    )
}

/// libvirt's error for a source QEMU whose stream could not be read
/// (`qemuMigrationSrcIOFunc`).
fn read_failure(err: &std::io::Error) -> VirError {
    VirError::new(
        ErrorDomain::Qemu,
        ErrorCode::OperationFailed,
        format!(
            "tunnelled migration failed to read from qemu: {}",
            strerror(err)
        ),
    )
}

fn socket_failure(what: &str, path: &std::path::Path, err: &std::io::Error) -> VirError {
    VirError::new(
        ErrorDomain::Qemu,
        ErrorCode::SystemError,
        format!("{what} '{}': {}", path.display(), strerror(err)),
    )
}

/// Writes what arrives through the tunnel into `qemu` (the incoming QEMU's socket) until
/// the sender finishes (then QEMU's end is closed and success reported) or aborts.
pub(crate) async fn feed_qemu(mut end: TunnelEnd, mut qemu: UnixStream) {
    loop {
        match end.recv().await {
            TunnelEvent::Data(bytes) => {
                if let Err(e) = qemu.write_all(&bytes).await {
                    end.done(Err(write_failure(&e)));
                    return;
                }
            }
            TunnelEvent::Finish => {
                let flushed = match qemu.flush().await {
                    Ok(()) => qemu.shutdown().await,
                    Err(e) => Err(e),
                };
                end.done(flushed.map_err(|e| write_failure(&e)));
                return;
            }
            TunnelEvent::Abort => return,
        }
    }
}

/// Copies `qemu`'s stream into `tunnel` until QEMU closes it; the tunnel, to finish once
/// QEMU says the migration completed (QEMU closes it after a cancelled one too).
async fn drain_qemu(mut qemu: UnixStream, mut tunnel: MigrationTunnel) -> Result<MigrationTunnel> {
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = tokio::select! {
            read = qemu.read(&mut buf) => read.map_err(|e| read_failure(&e))?,
            err = tunnel.closed() => return Err(err),
        };
        if n == 0 {
            return Ok(tunnel);
        }
        tunnel.send(buf[..n].to_vec()).await?;
    }
}

impl QemuDriver {
    /// A fresh path for a tunnel socket in the runtime directory (none there yet).
    fn tunnel_socket(&self) -> PathBuf {
        let n = NEXT_SOCKET.fetch_add(1, Ordering::Relaxed);
        let path = self.inner.config.runtime_dir.join(format!("mig{n}.sock"));
        let _ = std::fs::remove_file(&path);
        path
    }

    /// `qemuMigrationDstPrepareTunnel` (procedure 304): the incoming domain prepared as by
    /// [`QemuDriver::migrate_prepare3`], its QEMU listening on a unix socket the daemon
    /// then connects to; the cookie for the source and the tunnel to send the stream into.
    /// Without `VIR_MIGRATE_TUNNELLED` libvirt's internal error.
    pub(crate) async fn migrate_prepare_tunnel3(
        &self,
        params: &[TypedParam],
        cookie_in: &[u8],
        flags: u32,
    ) -> Result<(Vec<u8>, MigrationTunnel)> {
        if flags & MigrateFlags::TUNNELLED.0 == 0 {
            return Err(VirError::new(
                ErrorDomain::Qemu,
                ErrorCode::InternalError,
                "PrepareTunnel called but no TUNNELLED flag set",
            ));
        }
        let path = self.tunnel_socket();
        let uri = format!("unix:{}", path.display());
        let (cookie, _) = self
            .migrate_prepare3(&with_uri(params, &uri), cookie_in, flags)
            .await?;
        let connected = UnixStream::connect(&path).await;
        let _ = std::fs::remove_file(&path);
        let qemu = match connected {
            Ok(s) => s,
            Err(e) => {
                self.drop_incoming(params).await;
                return Err(socket_failure(
                    "unable to connect to migration socket",
                    &path,
                    &e,
                ));
            }
        };
        let (tunnel, end) = migration_tunnel();
        tokio::spawn(feed_qemu(end, qemu));
        Ok((cookie, tunnel))
    }

    /// Stops the incoming domain of a prepare phase that cannot go on.
    async fn drop_incoming(&self, params: &[TypedParam]) {
        let Ok(p) = MigrateParams::from_typed(params) else {
            return;
        };
        let name = match p.dest_name {
            Some(n) => n,
            None => match p
                .dest_xml
                .as_deref()
                .and_then(|x| oxvirt_domain::Domain::parse(x).ok())
            {
                Some(d) => d.domain.name,
                None => return,
            },
        };
        if let Ok(dom) = self.lookup_name(&name) {
            let _ = self.migration_abort_incoming(&dom).await;
        }
    }

    /// `qemuMigrationSrcPerformTunnel`: the perform phase of [`QemuDriver::migrate_perform3`]
    /// with QEMU migrating to a unix socket of the daemon's, whose bytes go into `tunnel`.
    /// The cookie for the finish phase, once QEMU completed and the destination took the
    /// whole stream; otherwise the error (the tunnel's, if it broke), the source running.
    pub(crate) async fn migrate_perform3_tunnel(
        &self,
        dom: &DomainRef,
        params: &[TypedParam],
        cookie_in: &[u8],
        flags: u32,
        tunnel: MigrationTunnel,
    ) -> Result<Vec<u8>> {
        let path = self.tunnel_socket();
        let listener = UnixListener::bind(&path)
            .map_err(|e| socket_failure("unable to bind migration socket", &path, &e))?;
        let uri = format!("unix:{}", path.display());
        let params = with_uri(params, &uri);
        let perform = self.migrate_perform3(dom, &params, cookie_in, flags);
        let pump = async {
            let accepted = listener.accept().await;
            let _ = std::fs::remove_file(&path);
            let (qemu, _) =
                accepted.map_err(|e| socket_failure("unable to accept migration", &path, &e))?;
            drain_qemu(qemu, tunnel).await
        };
        tokio::pin!(perform, pump);
        // The tunnel is finished once QEMU completed and closed its end (the rest of the
        // stream through); a failed perform phase drops it, which aborts it.
        let result = tokio::select! {
            performed = &mut perform => match performed {
                Ok(cookie) => match pump.await {
                    Ok(tunnel) => tunnel.finish().await.map(|()| cookie),
                    Err(e) => Err(e),
                },
                Err(e) => Err(e),
            },
            pumped = &mut pump => match pumped {
                Ok(tunnel) => match perform.await {
                    Ok(cookie) => tunnel.finish().await.map(|()| cookie),
                    Err(e) => Err(e),
                },
                // The tunnel broke: QEMU's writes now fail (the socket is closed), and its
                // migration with them; the tunnel's error says why.
                Err(e) => {
                    let _ = perform.await;
                    Err(e)
                }
            },
        };
        let _ = std::fs::remove_file(&path);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tunnel_uri_replaces_the_callers() {
        let params = vec![
            TypedParam::new("migrate_uri", TypedValue::String("tcp://h".into())),
            TypedParam::new("listen_address", TypedValue::String("0.0.0.0".into())),
            TypedParam::new("destination_name", TypedValue::String("vm".into())),
        ];
        let out = with_uri(&params, "unix:/run/x.sock");
        let fields: Vec<&str> = out.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["destination_name", "migrate_uri"]);
        assert_eq!(out[1].value, TypedValue::String("unix:/run/x.sock".into()));
    }

    #[test]
    fn a_direct_prepare_refuses_tunnelled_flags() {
        assert!(refuse_tunnelled(MigrateFlags::LIVE.0).is_ok());
        let e =
            refuse_tunnelled(MigrateFlags::TUNNELLED.0 | MigrateFlags::PEER2PEER.0).unwrap_err();
        assert_eq!(e.code, ErrorCode::InternalError);
        assert_eq!(
            e.message,
            "internal error: Tunnelled migration requested but invalid RPC method called"
        );
    }

    #[tokio::test]
    async fn the_stream_reaches_qemus_socket_and_the_finish_waits_for_it() {
        let (ours, qemu) = UnixStream::pair().unwrap();
        let (mut tunnel, end) = migration_tunnel();
        tokio::spawn(feed_qemu(end, ours));
        let reader = tokio::spawn(async move {
            let mut qemu = qemu;
            let mut all = Vec::new();
            qemu.read_to_end(&mut all).await.map(|_| all)
        });
        let data: Vec<u8> = (0..1_000_000u32).map(|i| i as u8).collect();
        for piece in data.chunks(100_000) {
            tunnel.send(piece.to_vec()).await.unwrap();
        }
        tunnel.finish().await.unwrap();
        assert_eq!(reader.await.unwrap().unwrap(), data);
    }

    #[tokio::test]
    async fn a_qemu_gone_breaks_the_tunnel_with_the_write_error() {
        let (ours, qemu) = UnixStream::pair().unwrap();
        drop(qemu);
        let (mut tunnel, end) = migration_tunnel();
        tokio::spawn(feed_qemu(end, ours));
        let mut err = None;
        for _ in 0..10 {
            if let Err(e) = tunnel.send(vec![0; 4096]).await {
                err = Some(e);
                break;
            }
        }
        let err = err.expect("the tunnel breaks");
        assert_eq!(err.message, "cannot write to stream: Broken pipe");
    }

    #[tokio::test]
    async fn drain_copies_until_qemu_closes_then_the_tunnel_is_finished() {
        let (mut qemu, ours) = UnixStream::pair().unwrap();
        let (tunnel, mut end) = migration_tunnel();
        let drained = tokio::spawn(async move {
            let tunnel = drain_qemu(ours, tunnel).await?;
            tunnel.finish().await
        });
        qemu.write_all(&[7u8; 300_000]).await.unwrap();
        drop(qemu);
        let mut got = 0;
        loop {
            match end.recv().await {
                TunnelEvent::Data(d) => got += d.len(),
                TunnelEvent::Finish => break,
                TunnelEvent::Abort => panic!("aborted"),
            }
        }
        end.done(Ok(()));
        drained.await.unwrap().unwrap();
        assert_eq!(got, 300_000);
    }
}
