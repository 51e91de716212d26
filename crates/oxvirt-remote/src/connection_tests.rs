#![allow(clippy::unwrap_used)]

use super::*;
use oxvirt_rpc::remote::{ConnectGetHostnameRet, DomainLookupByIdArgs};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

/// The server end of an in-memory connection.
struct FakeServer {
    io: DuplexStream,
    decoder: PacketDecoder,
}

impl FakeServer {
    fn pair() -> (Connection, FakeServer) {
        let (client, server) = tokio::io::duplex(1 << 20);
        (
            Connection::new(client),
            FakeServer {
                io: server,
                decoder: PacketDecoder::new(),
            },
        )
    }

    async fn next(&mut self) -> Option<Packet> {
        let mut buf = [0u8; 4096];
        loop {
            if let Some(p) = self.decoder.next_packet().unwrap() {
                return Some(p);
            }
            let n = self.io.read(&mut buf).await.unwrap();
            if n == 0 {
                return None;
            }
            self.decoder.feed(&buf[..n]);
        }
    }

    async fn send(&mut self, header: Header, payload: Vec<u8>) {
        let bytes = Packet::new(header, payload).encode().unwrap();
        self.io.write_all(&bytes).await.unwrap();
    }

    async fn reply(&mut self, call: &Header, status: MessageStatus, payload: Vec<u8>) {
        let h = Header {
            kind: MessageType::Reply,
            status,
            ..*call
        };
        self.send(h, payload).await;
    }
}

fn hostname(name: &str) -> Vec<u8> {
    encode_to_vec(&ConnectGetHostnameRet {
        hostname: name.to_owned(),
    })
}

#[tokio::test]
async fn serials_start_at_zero_and_replies_match_out_of_order() {
    let (conn, mut srv) = FakeServer::pair();
    let c1 = conn.clone();
    let c2 = conn.clone();
    let a = tokio::spawn(async move {
        c1.call::<_, ConnectGetHostnameRet>(RemoteProcedure::ConnectGetHostname, &())
            .await
    });
    let first = srv.next().await.unwrap();
    let b = tokio::spawn(async move {
        c2.call::<_, ConnectGetHostnameRet>(RemoteProcedure::ConnectGetHostname, &())
            .await
    });
    let second = srv.next().await.unwrap();
    assert_eq!((first.header.serial, second.header.serial), (0, 1));
    assert_eq!(first.header.procedure, 59);
    assert_eq!(first.header.prog, PROGRAM_REMOTE);
    assert_eq!(first.header.kind, MessageType::Call);
    // Answer the second call first.
    srv.reply(&second.header, MessageStatus::Ok, hostname("second"))
        .await;
    srv.reply(&first.header, MessageStatus::Ok, hostname("first"))
        .await;
    assert_eq!(a.await.unwrap().unwrap().hostname, "first");
    assert_eq!(b.await.unwrap().unwrap().hostname, "second");
}

#[tokio::test]
async fn call_bytes_are_libvirts() {
    let (conn, mut srv) = FakeServer::pair();
    let _pending = conn.start_call(66, Vec::new()).unwrap();
    let p = srv.next().await.unwrap();
    assert_eq!(
        Packet::new(p.header, p.payload).encode().unwrap(),
        [
            0, 0, 0, 0x1c, 0x20, 0, 0x80, 0x86, 0, 0, 0, 1, 0, 0, 0, 0x42, 0, 0, 0, 0, 0, 0, 0, 0,
            0, 0, 0, 0
        ]
    );
}

#[tokio::test]
async fn error_reply_becomes_the_vir_error() {
    let (conn, mut srv) = FakeServer::pair();
    let call = tokio::spawn({
        let conn = conn.clone();
        async move {
            conn.call::<_, ()>(
                RemoteProcedure::DomainLookupById,
                &DomainLookupByIdArgs { id: 9 },
            )
            .await
        }
    });
    let p = srv.next().await.unwrap();
    let vir = VirError::new(
        ErrorDomain::Test,
        ErrorCode::NoDomain,
        "no domain with matching id 9",
    );
    srv.reply(
        &p.header,
        MessageStatus::Error,
        encode_to_vec(&RemoteError::from(&vir)),
    )
    .await;
    let err = call.await.unwrap().unwrap_err();
    assert_eq!(err.code, ErrorCode::NoDomain);
    assert_eq!(err.domain, ErrorDomain::Test);
    assert_eq!(
        err.message,
        "Domain not found: no domain with matching id 9"
    );
}

#[tokio::test]
async fn unknown_procedure_becomes_no_support() {
    let (conn, mut srv) = FakeServer::pair();
    let call = tokio::spawn({
        let conn = conn.clone();
        async move { conn.call_raw(999, Vec::new()).await }
    });
    let p = srv.next().await.unwrap();
    let vir = VirError::new(ErrorDomain::Rpc, ErrorCode::Rpc, "unknown procedure: 999");
    srv.reply(
        &p.header,
        MessageStatus::Error,
        encode_to_vec(&RemoteError::from(&vir)),
    )
    .await;
    let err = call.await.unwrap().unwrap_err();
    assert_eq!(err.code, ErrorCode::NoSupport);
    assert_eq!(err.domain, ErrorDomain::Rpc);
    assert_eq!(err.message, "unknown procedure: 999");
}

#[tokio::test]
async fn hangup_fails_pending_and_later_calls_with_libvirts_errors() {
    let (conn, mut srv) = FakeServer::pair();
    let pending = conn.start_call(59, Vec::new()).unwrap();
    srv.next().await.unwrap();
    drop(srv);
    let err = pending.await.unwrap_err();
    assert_eq!(err.code, ErrorCode::SystemError);
    assert_eq!(err.domain, ErrorDomain::Rpc);
    assert_eq!(
        err.message,
        "End of file while reading data: Input/output error"
    );
    let later = conn.call_raw(59, Vec::new()).await.unwrap_err();
    assert_eq!(later.code, ErrorCode::InternalError);
    assert_eq!(later.domain, ErrorDomain::Rpc);
    assert_eq!(later.message, "internal error: client socket is closed");
    assert!(conn.is_closed());
}

#[tokio::test]
async fn pings_are_answered_with_pongs() {
    let (_conn, mut srv) = FakeServer::pair();
    srv.send(keepalive_header(KEEPALIVE_PING), Vec::new()).await;
    let pong = srv.next().await.unwrap();
    assert_eq!(pong.header, keepalive_header(KEEPALIVE_PONG));
    assert!(pong.payload.is_empty());
}

#[tokio::test]
async fn events_are_routed_by_callback_id() {
    let (conn, mut srv) = FakeServer::pair();
    let (tx7, mut rx7) = mpsc::unbounded_channel();
    let (txd, mut rxd) = mpsc::unbounded_channel();
    conn.set_event_sink(7, tx7);
    conn.set_default_event_sink(txd);
    let h = Header {
        prog: PROGRAM_REMOTE,
        vers: 1,
        procedure: 318,
        kind: MessageType::Message,
        serial: 1,
        status: MessageStatus::Ok,
    };
    let p7 = [7i32.to_be_bytes(), [0; 4]].concat();
    let p8 = [8i32.to_be_bytes(), [0; 4]].concat();
    srv.send(h, p7.clone()).await;
    srv.send(h, p8.clone()).await;
    let got = rx7.recv().await.unwrap();
    assert_eq!((got.procedure, got.payload), (318, p7));
    let got = rxd.recv().await.unwrap();
    assert_eq!(got.payload, p8);
}

#[tokio::test(start_paused = true)]
async fn keepalive_pings_idle_server_and_gives_up_after_count() {
    let (conn, mut srv) = FakeServer::pair();
    conn.start_keepalive(Duration::from_secs(5), 2);
    let pending = conn.start_call(59, Vec::new()).unwrap();
    srv.next().await.unwrap();
    let start = Instant::now();
    let ping = srv.next().await.unwrap();
    assert_eq!(ping.header, keepalive_header(KEEPALIVE_PING));
    let first = start.elapsed();
    assert!(first >= Duration::from_secs(5) && first < Duration::from_secs(6));
    // Answering (any packet) resets the count; the next ping comes 5 s later.
    srv.send(keepalive_header(KEEPALIVE_PONG), Vec::new()).await;
    let t = Instant::now();
    srv.next().await.unwrap();
    assert!(t.elapsed() >= Duration::from_secs(5));
    srv.next().await.unwrap();
    // Two unanswered pings: the next due ping closes the connection instead.
    let err = pending.await.unwrap_err();
    assert_eq!(
        err.message,
        "internal error: connection closed due to keepalive timeout"
    );
    let Err(later) = conn.start_call(59, Vec::new()) else {
        panic!("a call after the keepalive timeout went out");
    };
    assert_eq!(later.message, "internal error: client socket is closed");
    assert!(srv.next().await.is_none());
}

#[tokio::test]
async fn stream_data_is_read_to_the_end_then_finished() {
    let (conn, mut server) = FakeServer::pair();
    let client = tokio::spawn(async move {
        let (reply, stream) = conn.call_stream(211, vec![1, 2, 3, 4]).await.unwrap();
        (reply, stream.recv_all().await)
    });
    let call = server.next().await.unwrap().header;
    assert_eq!((call.procedure, call.kind), (211, MessageType::Call));
    server
        .reply(&call, MessageStatus::Ok, vec![0, 0, 0, 0])
        .await;
    for chunk in [vec![1u8; 5], vec![2u8; 3]] {
        let p = oxvirt_rpc::stream::data(&call, chunk);
        server.send(p.header, p.payload).await;
    }
    // Unrelated stream packets (another serial) are dropped.
    let other = oxvirt_rpc::stream::data(&Header { serial: 77, ..call }, vec![9]);
    server.send(other.header, other.payload).await;
    let eof = oxvirt_rpc::stream::eof(&call);
    server.send(eof.header, eof.payload).await;
    let finish = server.next().await.unwrap();
    assert_eq!(finish, oxvirt_rpc::stream::finish(&call));
    server.send(finish.header, Vec::new()).await;
    let (reply, data) = client.await.unwrap();
    assert_eq!(reply, vec![0, 0, 0, 0]);
    assert_eq!(data.unwrap(), [vec![1u8; 5], vec![2u8; 3]].concat());
}

#[tokio::test]
async fn a_server_abort_fails_the_stream_and_an_error_reply_opens_none() {
    let (conn, mut server) = FakeServer::pair();
    let c2 = conn.clone();
    let client = tokio::spawn(async move {
        let (_, mut stream) = c2.call_stream(211, Vec::new()).await.unwrap();
        let first = stream.recv().await;
        (first, stream.recv().await)
    });
    let call = server.next().await.unwrap().header;
    server.reply(&call, MessageStatus::Ok, Vec::new()).await;
    let d = oxvirt_rpc::stream::data(&call, vec![4]);
    server.send(d.header, d.payload).await;
    let err = VirError::new(ErrorDomain::Streams, ErrorCode::Rpc, "disk gone");
    let a = oxvirt_rpc::stream::abort(&call, Some(&err));
    server.send(a.header, a.payload).await;
    let (first, second) = client.await.unwrap();
    assert_eq!(first.unwrap(), Some(vec![4]));
    assert_eq!(second.unwrap_err().message, "disk gone");

    let c3 = conn.clone();
    let failing = tokio::spawn(async move { c3.call_stream(211, Vec::new()).await });
    let call = server.next().await.unwrap().header;
    let remote = RemoteError::from(&VirError::new(
        ErrorDomain::Test,
        ErrorCode::InvalidArg,
        "unsupported flags (0x1) in function testDomainScreenshot",
    ));
    server
        .reply(&call, MessageStatus::Error, encode_to_vec(&remote))
        .await;
    let err = failing.await.unwrap().unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidArg);
    assert!(conn.shared.lock().streams.is_empty());
}

#[tokio::test]
async fn an_abandoned_stream_is_aborted_and_a_dead_socket_ends_streams() {
    let (conn, mut server) = FakeServer::pair();
    let c2 = conn.clone();
    let client = tokio::spawn(async move { c2.call_stream(211, Vec::new()).await });
    let call = server.next().await.unwrap().header;
    server.reply(&call, MessageStatus::Ok, Vec::new()).await;
    let (_, stream) = client.await.unwrap().unwrap();
    drop(stream);
    assert_eq!(
        server.next().await.unwrap(),
        oxvirt_rpc::stream::abort(&call, None)
    );

    let c3 = conn.clone();
    let client = tokio::spawn(async move {
        let (_, mut stream) = c3.call_stream(211, Vec::new()).await.unwrap();
        stream.recv().await
    });
    let call = server.next().await.unwrap().header;
    server.reply(&call, MessageStatus::Ok, Vec::new()).await;
    drop(server);
    let err = client.await.unwrap().unwrap_err();
    assert_eq!(err.message, socket_closed().message);
}
