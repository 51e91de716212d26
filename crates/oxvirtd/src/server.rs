//! Connections: one reader task decoding packets, one writer task fed by a channel, and a
//! task per CALL so that a slow call never holds up keepalive or other calls.

use std::sync::Arc;

use oxvirt_rpc::packet::{KEEPALIVE_PING, KEEPALIVE_PONG, PROGRAM_KEEPALIVE, PROGRAM_REMOTE};
use oxvirt_rpc::xdr::encode_to_vec;
use oxvirt_rpc::{Header, MessageStatus, MessageType, Packet, PacketDecoder, RemoteError};
use oxvirt_xml::VirError;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;

use crate::client::Client;
use crate::dispatch::{dispatch, unknown_procedure};

/// Accepts clients forever; `readonly` marks the read-only socket.
pub async fn serve(listener: UnixListener, readonly: bool) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(handle(stream, readonly));
            }
            Err(err) => {
                eprintln!("oxvirtd: accept failed: {err}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
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

fn pong() -> Packet {
    Packet::new(
        Header {
            prog: PROGRAM_KEEPALIVE,
            vers: 1,
            procedure: KEEPALIVE_PONG,
            kind: MessageType::Message,
            serial: 0,
            status: MessageStatus::Ok,
        },
        Vec::new(),
    )
}

/// Serves one client until it hangs up or sends bytes that are not a packet.
pub async fn handle(stream: UnixStream, readonly: bool) {
    let (mut rd, mut wr) = stream.into_split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Packet>();
    let writer = tokio::spawn(async move {
        while let Some(packet) = rx.recv().await {
            let bytes = match packet.encode() {
                Ok(bytes) => bytes,
                Err(err) => {
                    eprintln!("oxvirtd: reply not sent: {err}");
                    continue;
                }
            };
            if wr.write_all(&bytes).await.is_err() {
                break;
            }
        }
    });
    let client = Arc::new(Client::new(readonly));
    let mut decoder = PacketDecoder::new();
    let mut buf = vec![0u8; 64 * 1024];
    'conn: loop {
        let n = match rd.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        decoder.feed(&buf[..n]);
        loop {
            match decoder.next_packet() {
                Ok(Some(packet)) => on_packet(&client, &tx, packet),
                Ok(None) => break,
                Err(err) => {
                    eprintln!("oxvirtd: closing connection: {err}");
                    break 'conn;
                }
            }
        }
    }
    writer.abort();
}

fn on_packet(client: &Arc<Client>, tx: &mpsc::UnboundedSender<Packet>, packet: Packet) {
    let h = packet.header;
    if h.prog == PROGRAM_KEEPALIVE {
        if h.kind == MessageType::Message && h.procedure == KEEPALIVE_PING {
            let _ = tx.send(pong());
        }
        return;
    }
    if !matches!(h.kind, MessageType::Call | MessageType::CallWithFds) {
        return;
    }
    if h.prog != PROGRAM_REMOTE || h.vers != 1 {
        let _ = tx.send(reply(&h, Err(unknown_procedure(h.procedure))));
        return;
    }
    let client = Arc::clone(client);
    let tx = tx.clone();
    tokio::spawn(async move {
        let result = dispatch(&client, h.procedure, &packet.payload).await;
        let _ = tx.send(reply(&h, result));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_echoes_header() {
        let call = Header {
            prog: PROGRAM_REMOTE,
            vers: 1,
            procedure: 999,
            kind: MessageType::Call,
            serial: 7,
            status: MessageStatus::Ok,
        };
        let p = reply(&call, Err(unknown_procedure(999)));
        assert_eq!(p.header.kind, MessageType::Reply);
        assert_eq!(p.header.status, MessageStatus::Error);
        assert_eq!((p.header.procedure, p.header.serial), (999, 7));
        let err: RemoteError = oxvirt_rpc::xdr::decode_from(&p.payload).unwrap();
        assert_eq!((err.code, err.domain), (39, 7));
        assert_eq!(err.message.as_deref(), Some("unknown procedure: 999"));
    }

    #[test]
    fn pong_is_28_bytes() {
        let bytes = pong().encode().unwrap();
        assert_eq!(bytes.len(), 28);
        assert_eq!(&bytes[4..8], b"keep");
    }
}
