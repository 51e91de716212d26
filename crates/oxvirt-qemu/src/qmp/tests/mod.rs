//! Unit tests against an in-memory fake QMP server.

use std::time::Duration;

use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, DuplexStream, ReadHalf, WriteHalf};
use tokio::time::timeout;

use super::*;

mod flow;
mod typed;

pub(super) const GREETING: &str = r#"{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": "Debian 1:7.2+dfsg-7+deb12u18"}, "capabilities": ["oob"]}}"#;

/// The server side of an in-memory QMP connection.
pub(super) struct Fake<S = DuplexStream> {
    pub(super) reader: BufReader<ReadHalf<S>>,
    pub(super) writer: WriteHalf<S>,
}

impl<S: tokio::io::AsyncRead + tokio::io::AsyncWrite> Fake<S> {
    pub(super) async fn send(&mut self, line: &str) {
        self.writer.write_all(line.as_bytes()).await.unwrap();
        self.writer.write_all(b"\r\n").await.unwrap();
        self.writer.flush().await.unwrap();
    }

    pub(super) async fn recv_raw(&mut self) -> String {
        let mut line = String::new();
        let n = timeout(Duration::from_secs(5), self.reader.read_line(&mut line))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "client closed");
        line
    }

    pub(super) async fn recv(&mut self) -> Value {
        serde_json::from_str(&self.recv_raw().await).unwrap()
    }
}

pub(super) fn pipe() -> (DuplexStream, Fake) {
    let (client, server) = tokio::io::duplex(64 * 1024);
    let (r, w) = tokio::io::split(server);
    let fake = Fake {
        reader: BufReader::new(r),
        writer: w,
    };
    (client, fake)
}

/// A connected client and the fake server after the handshake.
pub(super) async fn connected() -> (Qmp, Events, Fake) {
    let (client, mut fake) = pipe();
    let hs = tokio::spawn(Qmp::handshake(client));
    fake.send(GREETING).await;
    let neg = fake.recv().await;
    assert_eq!(neg, json!({"execute": "qmp_capabilities", "id": 0}));
    fake.send(r#"{"return": {}, "id": 0}"#).await;
    let (qmp, events) = hs.await.unwrap().unwrap();
    (qmp, events, fake)
}

#[tokio::test]
async fn handshake_bytes_and_version() {
    let (client, mut fake) = pipe();
    let hs = tokio::spawn(Qmp::handshake(client));
    fake.send(GREETING).await;
    assert_eq!(
        fake.recv_raw().await,
        "{\"execute\":\"qmp_capabilities\",\"id\":0}\r\n"
    );
    fake.send(r#"{"return": {}, "id": 0}"#).await;
    let (qmp, _events) = hs.await.unwrap().unwrap();
    assert_eq!(
        qmp.version(),
        &QmpVersion {
            major: 7,
            minor: 2,
            micro: 0,
            package: "Debian 1:7.2+dfsg-7+deb12u18".into()
        }
    );
    assert_eq!(qmp.version().number(), 7_002_000);
    assert_eq!(qmp.capabilities(), ["oob".to_string()]);
    assert!(!qmp.is_closed());

    // Commands carry increasing ids after the negotiation's 0, arguments before the id.
    let q = qmp.clone();
    let call = tokio::spawn(async move { q.balloon(1 << 20).await });
    assert_eq!(
        fake.recv_raw().await,
        "{\"execute\":\"balloon\",\"arguments\":{\"value\":1048576},\"id\":1}\r\n"
    );
    fake.send(r#"{"return": {}, "id": 1}"#).await;
    call.await.unwrap().unwrap();
}

#[tokio::test]
async fn bad_greeting_is_a_protocol_error() {
    let (client, mut fake) = pipe();
    let hs = tokio::spawn(Qmp::handshake(client));
    fake.send(r#"{"hello": 1}"#).await;
    let err = hs.await.unwrap().unwrap_err();
    assert_eq!(
        err,
        QmpError::Protocol(r#"unexpected QEMU monitor greeting: {"hello":1}"#.into())
    );
}

#[tokio::test]
async fn refused_capabilities_fail_the_handshake() {
    let (client, mut fake) = pipe();
    let hs = tokio::spawn(Qmp::handshake(client));
    fake.send(GREETING).await;
    fake.recv().await;
    fake.send(r#"{"error": {"class": "CommandNotFound", "desc": "no"}, "id": 0}"#)
        .await;
    let err = hs.await.unwrap().unwrap_err();
    assert!(err.is_class("CommandNotFound"));
    assert_eq!(
        err.to_string(),
        "unable to execute QEMU command 'qmp_capabilities': no"
    );
}

#[tokio::test]
async fn eof_during_greeting_is_closed() {
    let (client, fake) = pipe();
    drop(fake);
    assert_eq!(Qmp::handshake(client).await.unwrap_err(), QmpError::Closed);
}

#[tokio::test]
async fn error_reply_becomes_command_error() {
    let (qmp, _events, mut fake) = connected().await;
    let call = tokio::spawn(async move { qmp.cont().await });
    let cmd = fake.recv().await;
    assert_eq!(cmd, json!({"execute": "cont", "id": 1}));
    fake.send(r#"{"id": 1, "error": {"class": "GenericError", "desc": "Resetting the Virtual Machine is required"}}"#)
        .await;
    let err = call.await.unwrap().unwrap_err();
    assert_eq!(
        err,
        QmpError::Command {
            command: "cont".into(),
            class: "GenericError".into(),
            desc: "Resetting the Virtual Machine is required".into(),
        }
    );
    let vir = VirError::from(err);
    assert_eq!(vir.code, ErrorCode::InternalError);
    assert_eq!(vir.domain, ErrorDomain::Qemu);
    assert_eq!(
        vir.message,
        "internal error: unable to execute QEMU command 'cont': Resetting the Virtual Machine is required"
    );
}

#[tokio::test]
async fn error_without_desc_or_class_has_libvirt_fallback_text() {
    for (class, desc) in [("DeviceNotActive", ""), ("", "some text")] {
        let err = QmpError::Command {
            command: "stop".into(),
            class: class.into(),
            desc: desc.into(),
        };
        assert_eq!(
            err.to_string(),
            "unable to execute QEMU command 'stop': unknown QEMU command error"
        );
    }
}

#[tokio::test]
async fn reply_without_return_or_error() {
    let (qmp, _events, mut fake) = connected().await;
    let call = tokio::spawn(async move { qmp.stop().await });
    fake.recv().await;
    fake.send(r#"{"id": 1}"#).await;
    let err = call.await.unwrap().unwrap_err();
    assert_eq!(
        err.to_vir_error().message,
        "internal error: unable to execute QEMU command 'stop'"
    );
}

#[tokio::test]
async fn connect_to_a_missing_socket() {
    let err = Qmp::connect("/nonexistent/oxvirt-qmp.sock")
        .await
        .unwrap_err();
    assert_eq!(
        err,
        QmpError::Connect {
            detail: "No such file or directory".into()
        }
    );
    let vir = err.to_vir_error();
    assert_eq!(vir.code, ErrorCode::SystemError);
    assert_eq!(vir.domain, ErrorDomain::Qemu);
    assert_eq!(
        vir.message,
        "failed to connect to monitor socket: No such file or directory"
    );
}

#[tokio::test]
async fn connect_over_a_unix_socket() {
    let dir = std::env::temp_dir().join(format!("oxvirt-qmp-unit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("qmp.sock");
    let _ = std::fs::remove_file(&path);
    let listener = tokio::net::UnixListener::bind(&path).unwrap();
    let server = tokio::spawn(async move {
        let (sock, _) = listener.accept().await.unwrap();
        let (r, w) = tokio::io::split(sock);
        let mut fake = Fake {
            reader: BufReader::new(r),
            writer: w,
        };
        fake.send(GREETING).await;
        let neg = fake.recv().await;
        fake.send(&format!(r#"{{"return": {{}}, "id": {}}}"#, neg["id"]))
            .await;
        let cmd = fake.recv().await;
        fake.send(&format!(
            r#"{{"return": {{"status": "prelaunch", "running": false}}, "id": {}}}"#,
            cmd["id"]
        ))
        .await;
    });
    let (qmp, mut events) = Qmp::connect(&path).await.unwrap();
    assert_eq!(
        qmp.query_status().await.unwrap(),
        VmStatus {
            running: false,
            status: "prelaunch".into()
        }
    );
    server.await.unwrap();
    assert!(events.recv().await.is_none());
    std::fs::remove_dir_all(&dir).unwrap();
}
