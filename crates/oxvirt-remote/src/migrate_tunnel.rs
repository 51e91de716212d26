//! The client side of a tunnelled migration: `virDomainMigratePrepareTunnel3Params`
//! (procedure 304) opens a stream on the destination's connection (libvirt's
//! `remoteDomainMigratePrepareTunnel3Params`: the CALL, whose reply carries the cookie,
//! then STREAM packets of the same procedure and serial from the client), and the bytes
//! the source sends into the returned [`MigrationTunnel`] go out as its data packets.
//!
//! The data is paced: at most [`WINDOW`] bytes wait in the connection's output, so a
//! source faster than the network waits instead of piling the stream up in memory. The
//! tunnel's finish is the stream's finish (OK, confirmed by the daemon once its QEMU has
//! everything); a source that gives up aborts the stream; the daemon's abort (its QEMU
//! gone) or a lost connection breaks the tunnel with that error.

use std::sync::Arc;

use oxvirt_domain::driver::tunnel::{migration_tunnel, MigrationTunnel, TunnelEnd, TunnelEvent};
use oxvirt_domain::driver::{Result, TypedParam};
use oxvirt_rpc::remote::{
    DomainMigratePrepareTunnel3ParamsArgs, DomainMigratePrepareTunnel3ParamsRet,
    TypedParam as WireParam,
};
use oxvirt_rpc::stream::STREAM_CHUNK;
use oxvirt_rpc::xdr::{decode_from, encode_to_vec, Opaque};
use oxvirt_rpc::RemoteProcedure as P;
use tokio::sync::Semaphore;

use crate::connection::Connection;
use crate::stream::IncomingStream;

/// How many stream bytes may wait in the connection's output (four packets).
pub const WINDOW: usize = 4 * STREAM_CHUNK;

/// Calls procedure 304 on `conn`: the destination's cookie, and the tunnel whose bytes a
/// task sends as the call's stream.
pub(crate) async fn prepare(
    conn: &Connection,
    params: &[TypedParam],
    cookie_in: &[u8],
    flags: u32,
) -> Result<(Vec<u8>, MigrationTunnel)> {
    let args = DomainMigratePrepareTunnel3ParamsArgs {
        params: params.iter().cloned().map(WireParam::from).collect(),
        cookie_in: Opaque(cookie_in.to_vec()),
        flags,
    };
    let (reply, stream) = conn
        .call_stream(
            P::DomainMigratePrepareTunnel3Params.number(),
            encode_to_vec(&args),
        )
        .await?;
    let r: DomainMigratePrepareTunnel3ParamsRet =
        decode_from(&reply).map_err(|e| e.to_vir_error())?;
    let (tunnel, end) = migration_tunnel();
    tokio::spawn(carry(stream, end));
    Ok((r.cookie_out.0, tunnel))
}

/// Sends what comes through `end` as `stream`'s data under a [`WINDOW`], then finishes
/// (or aborts) the stream as the sender does; the daemon's abort stops the tunnel.
pub(crate) async fn carry(mut stream: IncomingStream, mut end: TunnelEnd) {
    let window = Arc::new(Semaphore::new(WINDOW));
    loop {
        let event = tokio::select! {
            event = end.recv() => event,
            err = stream.aborted() => {
                end.done(Err(err));
                return;
            }
        };
        match event {
            TunnelEvent::Data(mut bytes) => {
                while !bytes.is_empty() {
                    let rest = bytes.split_off(bytes.len().min(STREAM_CHUNK));
                    let credit = tokio::select! {
                        credit = Arc::clone(&window).acquire_many_owned(bytes.len() as u32) => credit,
                        err = stream.aborted() => {
                            end.done(Err(err));
                            return;
                        }
                    };
                    let Ok(credit) = credit else {
                        return;
                    };
                    if let Err(err) = stream.send_data_paced(bytes, credit) {
                        end.done(Err(err));
                        return;
                    }
                    bytes = rest;
                }
            }
            TunnelEvent::Finish => {
                end.done(stream.finish().await);
                return;
            }
            TunnelEvent::Abort => {
                let _ = stream.abort().await;
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use oxvirt_domain::driver::TypedValue;
    use oxvirt_rpc::packet::PacketDecoder;
    use oxvirt_rpc::{Header, MessageStatus, MessageType, Packet};
    use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};
    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

    /// The daemon's end of an in-memory connection.
    struct Daemon {
        io: DuplexStream,
        decoder: PacketDecoder,
    }

    impl Daemon {
        async fn next(&mut self) -> Packet {
            let mut buf = vec![0u8; 65536];
            loop {
                if let Some(p) = self.decoder.next_packet().unwrap() {
                    return p;
                }
                let n = self.io.read(&mut buf).await.unwrap();
                assert!(n > 0, "connection closed");
                self.decoder.feed(&buf[..n]);
            }
        }

        async fn send(&mut self, p: Packet) {
            self.io.write_all(&p.encode().unwrap()).await.unwrap();
        }
    }

    async fn opened(cookie: &[u8]) -> (MigrationTunnel, Vec<u8>, Daemon, Header) {
        let (client, server) = tokio::io::duplex(1 << 16);
        let conn = Connection::new(client);
        let mut daemon = Daemon {
            io: server,
            decoder: PacketDecoder::new(),
        };
        let params = vec![TypedParam::new(
            "destination_xml",
            TypedValue::String("<domain/>".into()),
        )];
        let calling = tokio::spawn(async move {
            let r = prepare(&conn, &params, b"c1\0", 6).await;
            (r, conn)
        });
        let call = daemon.next().await;
        assert_eq!(call.header.procedure, 304);
        assert_eq!(call.header.kind, MessageType::Call);
        let args: DomainMigratePrepareTunnel3ParamsArgs = decode_from(&call.payload).unwrap();
        assert_eq!((args.flags, args.cookie_in.0.as_slice()), (6, &b"c1\0"[..]));
        assert_eq!(args.params[0].field, "destination_xml");
        let ret = DomainMigratePrepareTunnel3ParamsRet {
            cookie_out: Opaque(cookie.to_vec()),
        };
        let reply = Header {
            kind: MessageType::Reply,
            ..call.header
        };
        daemon.send(Packet::new(reply, encode_to_vec(&ret))).await;
        let (r, conn) = calling.await.unwrap();
        // The connection lives on in the stream's task.
        drop(conn);
        let (cookie, tunnel) = r.unwrap();
        (tunnel, cookie, daemon, call.header)
    }

    #[tokio::test]
    async fn the_tunnel_is_the_calls_stream_and_its_finish_waits_for_the_daemon() {
        let (mut tunnel, cookie, mut daemon, call) = opened(b"c2\0").await;
        assert_eq!(cookie, b"c2\0");
        let data: Vec<u8> = (0..STREAM_CHUNK * 6 + 5).map(|i| i as u8).collect();
        let sender = tokio::spawn(async move {
            for piece in data.chunks(300_000) {
                tunnel.send(piece.to_vec()).await.unwrap();
            }
            tunnel.finish().await
        });
        let mut got = Vec::new();
        loop {
            let p = daemon.next().await;
            assert_eq!(
                (p.header.procedure, p.header.serial, p.header.kind),
                (304, call.serial, MessageType::Stream)
            );
            assert!(p.payload.len() <= STREAM_CHUNK);
            if p.header.status == MessageStatus::Ok {
                break;
            }
            got.extend(p.payload);
        }
        assert_eq!(got.len(), STREAM_CHUNK * 6 + 5);
        assert_eq!(got[STREAM_CHUNK], (STREAM_CHUNK % 256) as u8);
        assert!(!sender.is_finished());
        daemon.send(oxvirt_rpc::stream::finish(&call)).await;
        sender.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn the_daemons_abort_breaks_the_tunnel_with_its_error() {
        let (mut tunnel, _, mut daemon, call) = opened(b"").await;
        tunnel.send(vec![1; 10]).await.unwrap();
        let p = daemon.next().await;
        assert_eq!(p.payload, vec![1; 10]);
        let err = VirError::new(
            ErrorDomain::Streams,
            ErrorCode::SystemError,
            "cannot write to stream: Broken pipe",
        );
        daemon
            .send(oxvirt_rpc::stream::abort(&call, Some(&err)))
            .await;
        let mut failed = None;
        for _ in 0..100 {
            if let Err(e) = tunnel.send(vec![2; 10]).await {
                failed = Some(e);
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        assert_eq!(failed.unwrap().message, err.message);
    }

    #[tokio::test]
    async fn a_dropped_tunnel_aborts_the_stream() {
        let (tunnel, _, mut daemon, call) = opened(b"").await;
        drop(tunnel);
        let p = daemon.next().await;
        assert_eq!(p, oxvirt_rpc::stream::abort(&call, None));
    }
}
