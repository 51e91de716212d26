//! Replies matched by id, events, EOF, huge and broken messages.

use std::time::Duration;

use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use tokio::time::timeout;

use super::super::*;
use super::connected;

#[tokio::test]
async fn replies_are_matched_by_id_out_of_order() {
    let (qmp, _events, mut fake) = connected().await;
    let (a, b) = (qmp.clone(), qmp.clone());
    let first = tokio::spawn(async move { a.execute("query-a", None).await });
    let c1 = fake.recv().await;
    let second = tokio::spawn(async move { b.execute("query-b", None).await });
    let c2 = fake.recv().await;
    assert_eq!(c1["execute"], "query-a");
    assert_eq!(c2["execute"], "query-b");
    // Answer the second first.
    fake.send(&format!(r#"{{"return": "B", "id": {}}}"#, c2["id"]))
        .await;
    assert_eq!(second.await.unwrap().unwrap(), json!("B"));
    fake.send(&format!(r#"{{"return": "A", "id": {}}}"#, c1["id"]))
        .await;
    assert_eq!(first.await.unwrap().unwrap(), json!("A"));
}

#[tokio::test]
async fn events_interleaved_with_replies_keep_their_order() {
    let (qmp, mut events, mut fake) = connected().await;
    let call = tokio::spawn(async move { qmp.query_status().await });
    fake.recv().await;
    fake.send(r#"{"timestamp": {"seconds": 1700000000, "microseconds": 12}, "event": "RESUME"}"#)
        .await;
    fake.send(
        r#"{"return": {"status": "running", "singlestep": false, "running": true}, "id": 1}"#,
    )
    .await;
    fake.send(r#"{"timestamp": {"seconds": 1700000001, "microseconds": 5}, "event": "STOP"}"#)
        .await;
    fake.send(r#"{"event": "RESET", "data": {"guest": true, "reason": "guest-reset"}, "timestamp": {"seconds": 1700000002, "microseconds": 0}}"#)
        .await;
    assert_eq!(
        call.await.unwrap().unwrap(),
        VmStatus {
            running: true,
            status: "running".into()
        }
    );
    let e1 = events.recv().await.unwrap();
    assert_eq!(
        e1,
        QmpEvent {
            name: "RESUME".into(),
            data: Value::Null,
            timestamp: (1_700_000_000, 12)
        }
    );
    assert_eq!(events.recv().await.unwrap().name, "STOP");
    let e3 = events.recv().await.unwrap();
    assert_eq!(e3.name, "RESET");
    assert_eq!(e3.data, json!({"guest": true, "reason": "guest-reset"}));
    assert!(events.try_recv().is_none());
}

#[tokio::test]
async fn many_events_none_lost() {
    let (_qmp, mut events, mut fake) = connected().await;
    let mut burst = String::new();
    for i in 0..2000 {
        burst.push_str(&format!(
            "{{\"event\": \"E\", \"data\": {{\"n\": {i}}}, \"timestamp\": {{\"seconds\": 1, \"microseconds\": 2}}}}\r\n"
        ));
    }
    let writer = tokio::spawn(async move {
        fake.writer.write_all(burst.as_bytes()).await.unwrap();
        fake
    });
    for i in 0..2000 {
        assert_eq!(events.recv().await.unwrap().data["n"], i);
    }
    drop(writer.await.unwrap());
    assert!(events.recv().await.is_none());
}

#[tokio::test]
async fn eof_fails_pending_and_later_calls_and_ends_events() {
    let (qmp, mut events, mut fake) = connected().await;
    let q = qmp.clone();
    let pending = tokio::spawn(async move { q.query_status().await });
    fake.recv().await;
    fake.send(r#"{"event": "SHUTDOWN", "data": {"guest": false, "reason": "host-qmp-quit"}, "timestamp": {"seconds": 1, "microseconds": 2}}"#)
        .await;
    drop(fake);
    assert_eq!(pending.await.unwrap().unwrap_err(), QmpError::Closed);
    assert_eq!(events.recv().await.unwrap().name, "SHUTDOWN");
    assert!(events.recv().await.is_none());
    assert!(qmp.is_closed());
    let err = qmp.stop().await.unwrap_err();
    assert_eq!(err, QmpError::Closed);
    let vir: VirError = err.into();
    assert_eq!(vir.code, ErrorCode::OperationFailed);
    assert_eq!(vir.domain, ErrorDomain::Qemu);
    assert_eq!(vir.message, "operation failed: domain is no longer running");
}

#[tokio::test]
async fn huge_reply_is_read_whole() {
    let (qmp, _events, mut fake) = connected().await;
    let call = tokio::spawn(async move { qmp.execute("query-qmp-schema", None).await });
    fake.recv().await;
    let big = "x".repeat(8 * 1024 * 1024);
    let line = format!(r#"{{"return": [{{"name": "{big}"}}], "id": 1}}"#);
    let server = tokio::spawn(async move {
        fake.send(&line).await;
        fake
    });
    let ret = call.await.unwrap().unwrap();
    assert_eq!(ret[0]["name"].as_str().unwrap().len(), 8 * 1024 * 1024);
    drop(server.await.unwrap());
}

#[tokio::test]
async fn garbage_closes_the_connection() {
    let (qmp, mut events, mut fake) = connected().await;
    let q = qmp.clone();
    let pending = tokio::spawn(async move { q.query_status().await });
    fake.recv().await;
    fake.send("this is not json").await;
    assert_eq!(
        pending.await.unwrap().unwrap_err(),
        QmpError::Protocol(
            "cannot parse json this is not json: expected ident at line 1 column 2".into()
        )
    );
    assert!(events.recv().await.is_none());
    assert_eq!(qmp.cont().await.unwrap_err(), QmpError::Closed);
    let vir = VirError::from(QmpError::Protocol("x".into()));
    assert_eq!(vir.code, ErrorCode::InternalError);
    assert_eq!(vir.message, "internal error: x");
}

#[tokio::test]
async fn non_object_message_is_a_protocol_error() {
    let (qmp, _events, mut fake) = connected().await;
    let q = qmp.clone();
    let pending = tokio::spawn(async move { q.query_status().await });
    fake.recv().await;
    fake.send("[1, 2]").await;
    assert_eq!(
        pending.await.unwrap().unwrap_err(),
        QmpError::Protocol("unexpected QEMU monitor reply: [1, 2]".into())
    );
}

#[tokio::test]
async fn oversized_line_is_refused_without_reading_it_all() {
    let data = [b"{\"a\": 1}\r\n".as_slice(), &[b'x'; 100], b"\n"].concat();
    let mut reader = data.as_slice();
    let first = wire::read_line(&mut reader, 16).await.unwrap().unwrap();
    assert_eq!(first, b"{\"a\": 1}");
    assert_eq!(
        wire::read_line(&mut reader, 16).await.unwrap_err(),
        QmpError::Protocol("QEMU monitor reply exceeds buffer size (16 bytes)".into())
    );
    assert_eq!(MAX_MESSAGE, 64 * 1024 * 1024);
}

#[tokio::test]
async fn blank_lines_and_partial_last_line() {
    let data = b"\r\n\n{\"b\": 2}\n{\"partial\"".as_slice();
    let mut reader = data;
    assert_eq!(
        wire::read_line(&mut reader, 1024).await.unwrap().unwrap(),
        b"{\"b\": 2}"
    );
    assert_eq!(wire::read_line(&mut reader, 1024).await.unwrap(), None);
}

#[tokio::test]
async fn cancelled_call_does_not_break_the_connection() {
    let (qmp, _events, mut fake) = connected().await;
    let abandoned = timeout(Duration::from_millis(20), qmp.query_status()).await;
    assert!(abandoned.is_err());
    let first = fake.recv().await;
    let q = qmp.clone();
    let next = tokio::spawn(async move { q.query_version().await });
    let second = fake.recv().await;
    assert_eq!(second["execute"], "query-version");
    // The late reply to the abandoned call is dropped quietly.
    fake.send(&format!(
        r#"{{"return": {{"status": "paused", "running": false}}, "id": {}}}"#,
        first["id"]
    ))
    .await;
    fake.send(&format!(
        r#"{{"return": {{"qemu": {{"micro": 1, "minor": 2, "major": 7}}, "package": ""}}, "id": {}}}"#,
        second["id"]
    ))
    .await;
    let v = next.await.unwrap().unwrap();
    assert_eq!((v.major, v.minor, v.micro), (7, 2, 1));
    assert!(qmp.shared.lock().pending.is_empty());
}

#[tokio::test]
async fn dropping_the_last_handle_disconnects() {
    let (qmp, mut events, mut fake) = connected().await;
    let other = qmp.clone();
    drop(qmp);
    let call = tokio::spawn(async move { other.execute("still-works", None).await.map(|_| other) });
    assert_eq!(fake.recv().await["execute"], "still-works");
    fake.send(r#"{"return": {}, "id": 1}"#).await;
    drop(call.await.unwrap().unwrap());
    // The client shut its write side: the server reads EOF and hangs up.
    let mut rest = String::new();
    let n = timeout(
        Duration::from_secs(5),
        tokio::io::AsyncBufReadExt::read_line(&mut fake.reader, &mut rest),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!((n, rest.as_str()), (0, ""));
    drop(fake);
    assert!(events.recv().await.is_none());
}

#[tokio::test]
async fn endless_line_is_cut_at_the_cap() {
    let (qmp, mut events, mut fake) = connected().await;
    let q = qmp.clone();
    let pending = tokio::spawn(async move { q.query_status().await });
    fake.recv().await;
    let server = tokio::spawn(async move {
        let chunk = vec![b'x'; 1024 * 1024];
        // Stops when the client hangs up after MAX_MESSAGE bytes.
        for _ in 0..80 {
            if fake.writer.write_all(&chunk).await.is_err() {
                break;
            }
        }
    });
    assert_eq!(
        pending.await.unwrap().unwrap_err(),
        QmpError::Protocol("QEMU monitor reply exceeds buffer size (67108864 bytes)".into())
    );
    assert!(events.recv().await.is_none());
    assert_eq!(qmp.query_status().await.unwrap_err(), QmpError::Closed);
    drop(qmp);
    server.await.unwrap();
}
