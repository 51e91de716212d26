//! The typed helpers, and libvirt's recorded QEMU 7.2 session replayed.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::super::*;
use super::connected;

#[tokio::test]
async fn typed_helpers_send_and_parse() {
    let (qmp, _events, mut fake) = connected().await;

    let q = qmp.clone();
    let call = tokio::spawn(async move { q.query_cpus_fast().await });
    assert_eq!(fake.recv().await["execute"], "query-cpus-fast");
    fake.send(r#"{"return": [{"thread-id": 4242, "props": {"core-id": 0, "thread-id": 0, "socket-id": 0}, "qom-path": "/machine/unattached/device[0]", "cpu-index": 0, "target": "x86_64"}], "id": 1}"#).await;
    assert_eq!(
        call.await.unwrap().unwrap(),
        vec![CpuInfoFast {
            cpu_index: 0,
            thread_id: 4242,
            qom_path: "/machine/unattached/device[0]".into()
        }]
    );

    let q = qmp.clone();
    let call = tokio::spawn(async move { q.query_balloon().await });
    assert_eq!(
        fake.recv().await,
        json!({"execute": "query-balloon", "id": 2})
    );
    fake.send(r#"{"return": {"actual": 67108864}, "id": 2}"#)
        .await;
    assert_eq!(call.await.unwrap().unwrap(), 64 << 20);

    let q = qmp.clone();
    let call = tokio::spawn(async move { q.human_monitor_command("savevm snap1").await });
    assert_eq!(
        fake.recv().await,
        json!({"execute": "human-monitor-command", "arguments": {"command-line": "savevm snap1"}, "id": 3})
    );
    fake.send(r#"{"return": "Error: no block device can store vmstate\r\n", "id": 3}"#)
        .await;
    assert_eq!(
        call.await.unwrap().unwrap(),
        "Error: no block device can store vmstate\r\n"
    );

    for (n, name) in ["stop", "system_powerdown", "system_reset", "quit"]
        .into_iter()
        .enumerate()
    {
        let q = qmp.clone();
        let call = tokio::spawn(async move {
            match name {
                "stop" => q.stop().await,
                "system_powerdown" => q.system_powerdown().await,
                "system_reset" => q.system_reset().await,
                _ => q.quit().await,
            }
        });
        let id = n + 4;
        assert_eq!(fake.recv().await, json!({"execute": name, "id": id}));
        fake.send(&format!(r#"{{"return": {{}}, "id": {id}}}"#))
            .await;
        call.await.unwrap().unwrap();
    }

    // A reply of the wrong shape is a protocol error, not a panic.
    let q = qmp.clone();
    let call = tokio::spawn(async move { q.query_status().await });
    fake.recv().await;
    fake.send(r#"{"return": {"status": 3}, "id": 8}"#).await;
    assert_eq!(
        call.await.unwrap().unwrap_err(),
        QmpError::Protocol(
            r#"unexpected reply to QEMU command 'query-status': {"status":3}"#.into()
        )
    );
}

/// libvirt's conformance data: `$OXVIRT_CONFORMANCE`, else `../shared/conformance` next to
/// the workspace.
fn conformance_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("OXVIRT_CONFORMANCE") {
        return Some(dir.into());
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance");
    dir.exists().then_some(dir)
}

/// The QMP session libvirt 9.0 recorded from QEMU 7.2 while probing capabilities (56
/// command/reply pairs, query-qmp-schema among them), replayed through the client: every
/// command goes out with the recorded arguments and every reply or error comes back intact.
#[tokio::test]
async fn replays_libvirts_recorded_qemu_7_2_session() {
    let path = conformance_dir()
        .map(|d| d.join("libvirt-9.0.0/qemu/qemucapabilitiesdata/caps_7.2.0.x86_64.replies"));
    let Some(text) = path.and_then(|p| std::fs::read_to_string(p).ok()) else {
        eprintln!("SKIPPED: libvirt conformance data (caps_7.2.0.x86_64.replies) not found");
        return;
    };
    let values: Vec<Value> = serde_json::Deserializer::from_str(&text)
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(values.len(), 112);
    assert_eq!(values[0]["execute"], "qmp_capabilities");
    let pairs: Vec<(Value, Value)> = values[2..]
        .chunks(2)
        .map(|p| (p[0].clone(), p[1].clone()))
        .collect();

    let (qmp, _events, mut fake) = connected().await;
    let script = pairs.clone();
    let server = tokio::spawn(async move {
        for (cmd, reply) in script {
            let got = fake.recv().await;
            assert_eq!(got["execute"], cmd["execute"]);
            assert_eq!(got.get("arguments"), cmd.get("arguments"));
            let mut reply = reply;
            reply["id"] = got["id"].clone();
            fake.send(&reply.to_string()).await;
        }
        fake
    });

    let (mut ok, mut failed) = (0, 0);
    for (cmd, reply) in &pairs {
        let name = cmd["execute"].as_str().unwrap();
        if name == "query-version" {
            let v = qmp.query_version().await.unwrap();
            assert_eq!((v.major, v.minor, v.micro), (7, 2, 0));
            assert_eq!(v.package, "v7.2.0");
            ok += 1;
            continue;
        }
        let result = qmp.execute(name, cmd.get("arguments").cloned()).await;
        match (reply.get("return"), result) {
            (Some(expected), Ok(got)) => {
                assert_eq!(&got, expected, "{name}");
                ok += 1;
            }
            (None, Err(err)) => {
                let error = &reply["error"];
                assert_eq!(
                    err,
                    QmpError::Command {
                        command: name.into(),
                        class: error["class"].as_str().unwrap().into(),
                        desc: error["desc"].as_str().unwrap().into(),
                    }
                );
                failed += 1;
            }
            (expected, got) => panic!("{name}: expected {expected:?}, got {got:?}"),
        }
    }
    assert_eq!(ok + failed, 55);
    assert!(failed > 0 && ok > 40, "{ok} ok, {failed} failed");
    drop(server.await.unwrap());
}

#[tokio::test]
async fn helper_errors_carry_the_command_name() {
    let (qmp, _events, mut fake) = connected().await;
    let q = qmp.clone();
    let call = tokio::spawn(async move { q.balloon(0).await });
    assert_eq!(
        fake.recv().await,
        json!({"execute": "balloon", "arguments": {"value": 0}, "id": 1})
    );
    fake.send(r#"{"error": {"class": "DeviceNotActive", "desc": "No balloon device has been activated"}, "id": 1}"#)
        .await;
    let err = call.await.unwrap().unwrap_err();
    assert!(err.is_class("DeviceNotActive"));
    assert!(!err.is_class("GenericError"));
    assert_eq!(
        err.to_vir_error().message,
        "internal error: unable to execute QEMU command 'balloon': No balloon device has been activated"
    );
}
