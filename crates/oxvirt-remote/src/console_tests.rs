#![allow(clippy::unwrap_used)]

use std::future::Future;
use std::time::Duration;

use oxvirt_domain::driver::{DomainRef, Hypervisor};
use oxvirt_rpc::packet::PROGRAM_REMOTE;
use oxvirt_rpc::stream::DomainOpenConsoleArgs;
use oxvirt_rpc::xdr::{decode_from, encode_to_vec};
use oxvirt_rpc::{MessageStatus, MessageType, PacketDecoder, RemoteError};
use oxvirt_xml::types::Uuid;
use oxvirt_xml::{ErrorCode, ErrorDomain};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

use super::*;
use crate::connection::Connection;
use crate::driver::RemoteDriver;

/// The daemon's end of an in-memory connection.
struct Server {
    io: DuplexStream,
    decoder: PacketDecoder,
}

impl Server {
    async fn next(&mut self) -> Packet {
        within(async {
            let mut buf = [0u8; 4096];
            loop {
                if let Some(p) = self.decoder.next_packet().unwrap() {
                    return p;
                }
                let n = self.io.read(&mut buf).await.unwrap();
                assert!(n > 0, "the client hung up");
                self.decoder.feed(&buf[..n]);
            }
        })
        .await
    }

    async fn send(&mut self, p: Packet) {
        self.io.write_all(&p.encode().unwrap()).await.unwrap();
    }
}

async fn within<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(5), f)
        .await
        .expect("timed out")
}

fn driver() -> (RemoteDriver, Server) {
    let (client, server) = tokio::io::duplex(1 << 20);
    let drv = RemoteDriver::from_parts(
        Connection::new(client),
        "test:///default".into(),
        "TEST".into(),
    );
    let server = Server {
        io: server,
        decoder: PacketDecoder::new(),
    };
    (drv, server)
}

fn vm() -> DomainRef {
    DomainRef {
        name: "vm".into(),
        uuid: Uuid::from_bytes([9; 16]),
        id: 3,
    }
}

/// Opens the console of "vm" (`dev_name`, `flags`), the server answering `answer`; the
/// client's CALL and the outcome.
async fn open(
    drv: &RemoteDriver,
    server: &mut Server,
    dev_name: Option<&str>,
    flags: u32,
    answer: Result<(), VirError>,
) -> (Packet, oxvirt_domain::driver::Result<ConsoleIo>) {
    let dom = vm();
    let opening = drv.open_console(&dom, dev_name, flags);
    let serve = async {
        let call = server.next().await;
        let (status, payload) = match &answer {
            Ok(()) => (MessageStatus::Ok, Vec::new()),
            Err(e) => (MessageStatus::Error, encode_to_vec(&RemoteError::from(e))),
        };
        let reply = Header {
            kind: MessageType::Reply,
            status,
            ..call.header
        };
        server.send(Packet::new(reply, payload)).await;
        call
    };
    let (io, call) = within(async { tokio::join!(opening, serve) }).await;
    (call, io)
}

async fn read_some(io: &mut ConsoleIo) -> io::Result<Vec<u8>> {
    let mut buf = [0u8; 64];
    let n = within(io.reader.read(&mut buf)).await?;
    Ok(buf[..n].to_vec())
}

#[tokio::test]
async fn the_call_carries_the_arguments_and_data_flows_both_ways() {
    let (drv, mut server) = driver();
    let (call, io) = open(&drv, &mut server, Some("serial0"), 2, Ok(())).await;
    let mut io = io.unwrap();
    let h = call.header;
    assert_eq!(
        (h.prog, h.procedure, h.kind),
        (PROGRAM_REMOTE, 201, MessageType::Call)
    );
    let args: DomainOpenConsoleArgs = decode_from(&call.payload).unwrap();
    assert_eq!(
        (args.dom.name.as_str(), args.dom.uuid, args.dom.id),
        ("vm", [9; 16], 3)
    );
    assert_eq!((args.dev_name.as_deref(), args.flags), (Some("serial0"), 2));

    // The guest's output, in order.
    server.send(rpc::data(&h, b"login: ".to_vec())).await;
    server.send(rpc::data(&h, b"\r\n".to_vec())).await;
    assert_eq!(read_some(&mut io).await.unwrap(), b"login: ");
    assert_eq!(read_some(&mut io).await.unwrap(), b"\r\n");

    // Keystrokes go out as STREAM data packets of the call.
    io.writer.write_all(b"root\r").await.unwrap();
    io.writer.write_all(b"ls").await.unwrap();
    assert_eq!(server.next().await, rpc::data(&h, b"root\r".to_vec()));
    assert_eq!(server.next().await, rpc::data(&h, b"ls".to_vec()));

    // Shutting the writer down finishes; the confirmation ends the reader.
    io.writer.shutdown().await.unwrap();
    assert_eq!(server.next().await, rpc::finish(&h));
    let err = io.writer.write_all(b"late").await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
    server.send(rpc::finish(&h)).await;
    assert_eq!(read_some(&mut io).await.unwrap(), b"");
    drop(io);
    // Nothing more is sent for a finished console (no abort on drop).
    assert!(
        tokio::time::timeout(Duration::from_millis(100), server.next())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn the_guests_end_of_data_ends_the_reader_and_finishes() {
    let (drv, mut server) = driver();
    let (call, io) = open(&drv, &mut server, None, 0, Ok(())).await;
    let mut io = io.unwrap();
    let h = call.header;
    let args: DomainOpenConsoleArgs = decode_from(&call.payload).unwrap();
    assert_eq!((args.dev_name, args.flags), (None, 0));
    server.send(rpc::data(&h, b"bye".to_vec())).await;
    server.send(rpc::eof(&h)).await;
    let mut all = Vec::new();
    within(io.reader.read_to_end(&mut all)).await.unwrap();
    assert_eq!(all, b"bye");
    assert_eq!(server.next().await, rpc::finish(&h));
    let err = io.writer.write_all(b"x").await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
}

#[tokio::test]
async fn the_daemons_abort_is_the_readers_error() {
    let (drv, mut server) = driver();
    let (call, io) = open(&drv, &mut server, None, 0, Ok(())).await;
    let mut io = io.unwrap();
    let h = call.header;
    let err = VirError::new(
        ErrorDomain::Streams,
        ErrorCode::SystemError,
        "cannot write to stream: broken pipe",
    );
    server.send(rpc::abort(&h, Some(&err))).await;
    let got = read_some(&mut io).await.unwrap_err();
    let inner = got.get_ref().unwrap().downcast_ref::<VirError>().unwrap();
    assert_eq!(inner, &err);
    assert_eq!(read_some(&mut io).await.unwrap(), b"");
}

#[tokio::test]
async fn dropping_an_open_console_aborts_it() {
    let (drv, mut server) = driver();
    let (call, io) = open(&drv, &mut server, None, 0, Ok(())).await;
    let io = io.unwrap();
    let ConsoleIo { reader, writer } = io;
    drop(reader);
    // The writer still works with the reader gone.
    let mut writer = writer;
    writer.write_all(b"q").await.unwrap();
    assert_eq!(server.next().await, rpc::data(&call.header, b"q".to_vec()));
    drop(writer);
    let abort = server.next().await;
    assert_eq!(abort, rpc::abort(&call.header, None));
    assert_eq!(abort.header.status, MessageStatus::Error);
    assert!(abort.payload.is_empty());
}

#[tokio::test]
async fn an_error_reply_opens_no_console() {
    let (drv, mut server) = driver();
    let refusal = VirError::new(
        ErrorDomain::Domain,
        ErrorCode::OperationDenied,
        "read only access prevents virDomainOpenConsole",
    );
    let (_, io) = open(&drv, &mut server, None, 0, Err(refusal.clone())).await;
    let err = io.unwrap_err();
    assert_eq!(err, refusal);
    assert_eq!(
        err.message,
        "operation forbidden: read only access prevents virDomainOpenConsole"
    );
}
