//! Unit tests of the operations against the fake QMP server: the exact arguments sent,
//! replies with missing fields, job flows, and descriptor passing on a real socket pair.

use std::path::{Path, PathBuf};

use oxvirt_xml::{ErrorCode, ErrorDomain};
use serde_json::{json, Value};

use super::*;
use crate::qmp::tests::{connected, Fake};
use crate::qmp::{Qmp, QmpError, QmpEvent};

mod fd;
mod migration;
mod queries;

/// Answers the next command with `ret` after checking it is `expected` (plus its id).
pub(super) async fn expect(fake: &mut Fake, expected: Value, ret: Value) {
    let mut cmd = fake.recv().await;
    let id = cmd["id"].clone();
    cmd.as_object_mut().unwrap().remove("id");
    assert_eq!(cmd, expected);
    fake.send(&json!({"return": ret, "id": id}).to_string())
        .await;
}

#[tokio::test]
async fn unit_commands_send_exact_arguments() {
    let (qmp, _events, mut fake) = connected().await;
    type Call = Box<dyn Fn(Qmp) -> tokio::task::JoinHandle<Result<(), QmpError>>>;
    let cases: Vec<(Call, Value)> = vec![
        (
            Box::new(|q| tokio::spawn(async move { q.migrate_to_fd("migrate").await })),
            json!({"execute": "migrate", "arguments": {"uri": "fd:migrate"}}),
        ),
        (
            Box::new(|q| tokio::spawn(async move { q.migrate_incoming("fd:restore").await })),
            json!({"execute": "migrate-incoming", "arguments": {"uri": "fd:restore"}}),
        ),
        (
            Box::new(|q| tokio::spawn(async move { q.migrate_cancel().await })),
            json!({"execute": "migrate_cancel"}),
        ),
        (
            Box::new(|q| {
                tokio::spawn(async move {
                    q.migrate_set_capabilities(&[("events", true), ("xbzrle", false)])
                        .await
                })
            }),
            json!({"execute": "migrate-set-capabilities", "arguments": {"capabilities": [
                {"capability": "events", "state": true},
                {"capability": "xbzrle", "state": false}]}}),
        ),
        (
            Box::new(|q| tokio::spawn(async move { q.close_fd("migrate").await })),
            json!({"execute": "closefd", "arguments": {"fdname": "migrate"}}),
        ),
        (
            Box::new(|q| {
                tokio::spawn(async move {
                    q.blockdev_add(json!({"driver": "file", "filename": "/x.raw",
                        "node-name": "libvirt-2-storage"}))
                        .await
                })
            }),
            json!({"execute": "blockdev-add", "arguments": {"driver": "file",
                "filename": "/x.raw", "node-name": "libvirt-2-storage"}}),
        ),
        (
            Box::new(|q| tokio::spawn(async move { q.blockdev_del("libvirt-2-format").await })),
            json!({"execute": "blockdev-del", "arguments": {"node-name": "libvirt-2-format"}}),
        ),
        (
            Box::new(|q| {
                tokio::spawn(async move {
                    q.device_add(json!({"driver": "virtio-blk-pci", "id": "virtio-disk1"}))
                        .await
                })
            }),
            json!({"execute": "device_add", "arguments": {"driver": "virtio-blk-pci",
                "id": "virtio-disk1"}}),
        ),
        (
            Box::new(|q| tokio::spawn(async move { q.device_del("virtio-disk1").await })),
            json!({"execute": "device_del", "arguments": {"id": "virtio-disk1"}}),
        ),
        (
            Box::new(|q| {
                tokio::spawn(async move {
                    q.netdev_add(json!({"type": "user", "id": "hostnet1"}))
                        .await
                })
            }),
            json!({"execute": "netdev_add", "arguments": {"type": "user", "id": "hostnet1"}}),
        ),
        (
            Box::new(|q| tokio::spawn(async move { q.netdev_del("hostnet1").await })),
            json!({"execute": "netdev_del", "arguments": {"id": "hostnet1"}}),
        ),
        (
            Box::new(|q| tokio::spawn(async move { q.job_dismiss("job0").await })),
            json!({"execute": "job-dismiss", "arguments": {"id": "job0"}}),
        ),
    ];
    for (call, expected) in cases {
        let task = call(qmp.clone());
        expect(&mut fake, expected, json!({})).await;
        task.await.unwrap().unwrap();
    }
}

#[test]
fn migration_info_parsing() {
    // QEMU 7.2 before any migration.
    let none = MigrationInfo::from_value(&json!({})).unwrap();
    assert_eq!(none, MigrationInfo::default());
    assert_eq!(none.status(), "none");
    assert_eq!(none.to_vir_error("migration out job"), None);

    let active = MigrationInfo::from_value(&json!({
        "expected-downtime": 300, "status": "active", "setup-time": 2, "total-time": 120,
        "ram": {"total": 67641344, "remaining": 1000, "transferred": 2000, "mbps": 1.5}
    }))
    .unwrap();
    assert_eq!(
        active,
        MigrationInfo {
            status: Some("active".into()),
            total_time_ms: Some(120),
            setup_time_ms: Some(2),
            expected_downtime_ms: Some(300),
            downtime_ms: None,
            ram_total: Some(67641344),
            ram_remaining: Some(1000),
            ram_transferred: Some(2000),
            ram_mbps: Some(1.5),
            ..MigrationInfo::default()
        }
    );
    assert!(MigrationInfo::from_value(&json!([])).is_none());

    let failed = MigrationInfo::from_value(
        &json!({"status": "failed", "error-desc": "Unable to write to file: Bad file descriptor"}),
    )
    .unwrap();
    let err = failed.to_vir_error("migration out job").unwrap();
    assert_eq!(
        (err.code, err.domain, err.message.as_str()),
        (
            ErrorCode::OperationFailed,
            ErrorDomain::Qemu,
            "operation failed: migration out job: Unable to write to file: Bad file descriptor"
        )
    );
    let bare = MigrationInfo::from_value(&json!({"status": "failed"})).unwrap();
    assert_eq!(
        bare.to_vir_error("domain save job").unwrap().message,
        "operation failed: domain save job: unexpectedly failed"
    );
    let cancelled = MigrationInfo::from_value(&json!({"status": "cancelled"})).unwrap();
    let err = cancelled.to_vir_error("migration out job").unwrap();
    assert_eq!(
        (err.code, err.message.as_str()),
        (
            ErrorCode::OperationAborted,
            "operation aborted: migration out job: canceled by client"
        )
    );
}

#[tokio::test]
async fn wait_migration_polls_until_failed() {
    let (qmp, _events, mut fake) = connected().await;
    let q = qmp.clone();
    let task =
        tokio::spawn(async move { q.wait_migration(std::time::Duration::from_millis(1)).await });
    let query = json!({"execute": "query-migrate"});
    expect(&mut fake, query.clone(), json!({"status": "setup"})).await;
    expect(&mut fake, query.clone(), json!({"status": "active"})).await;
    expect(
        &mut fake,
        query,
        json!({"status": "failed", "error-desc": "boom"}),
    )
    .await;
    let err = task.await.unwrap().unwrap_err();
    assert_eq!(err.message, "operation failed: migration out job: boom");
}

#[tokio::test]
async fn snapshot_job_flow_and_failure() {
    let (qmp, _events, mut fake) = connected().await;
    let q = qmp.clone();
    let task = tokio::spawn(async move {
        q.snapshot_save(
            "s1",
            "libvirt-1-format",
            &["libvirt-1-format", "libvirt-2-format"],
        )
        .await
    });
    let mut cmd = fake.recv().await;
    let id = cmd["id"].clone();
    let job = cmd["arguments"]["job-id"].as_str().unwrap().to_string();
    assert!(job.starts_with("oxvirt-snapshot-save-"), "{job}");
    cmd["arguments"].as_object_mut().unwrap().remove("job-id");
    assert_eq!(
        cmd["arguments"],
        json!({"tag": "s1", "vmstate": "libvirt-1-format",
               "devices": ["libvirt-1-format", "libvirt-2-format"]})
    );
    fake.send(&json!({"return": {}, "id": id}).to_string())
        .await;
    let running = json!([{"id": job, "type": "snapshot-save", "status": "running",
        "current-progress": 0, "total-progress": 1}]);
    expect(&mut fake, json!({"execute": "query-jobs"}), running).await;
    let done = json!([{"id": job, "type": "snapshot-save", "status": "concluded",
        "current-progress": 1, "total-progress": 1,
        "error": "Device 'libvirt-1-format' is writable but does not support snapshots"}]);
    expect(&mut fake, json!({"execute": "query-jobs"}), done).await;
    expect(
        &mut fake,
        json!({"execute": "job-dismiss", "arguments": {"id": job}}),
        json!({}),
    )
    .await;
    let err = task.await.unwrap().unwrap_err();
    assert_eq!(
        (err.code, err.domain, err.message.as_str()),
        (
            ErrorCode::OperationFailed,
            ErrorDomain::Qemu,
            "operation failed: snapshot-save job failed: Device 'libvirt-1-format' is writable but does not support snapshots"
        )
    );

    // snapshot-delete has no vmstate; a job that vanished is an internal error.
    let q = qmp.clone();
    let task = tokio::spawn(async move { q.snapshot_delete("s1", &["libvirt-1-format"]).await });
    let mut cmd = fake.recv().await;
    let id = cmd["id"].clone();
    cmd["arguments"].as_object_mut().unwrap().remove("job-id");
    assert_eq!(
        cmd["arguments"],
        json!({"tag": "s1", "devices": ["libvirt-1-format"]})
    );
    fake.send(&json!({"return": {}, "id": id}).to_string())
        .await;
    expect(&mut fake, json!({"execute": "query-jobs"}), json!([])).await;
    let err = task.await.unwrap().unwrap_err();
    assert_eq!(err.code, ErrorCode::InternalError);
    assert!(err.message.contains("disappeared"), "{}", err.message);
}

/// libvirt's conformance data: `$OXVIRT_CONFORMANCE`, else `../shared/conformance`.
fn conformance_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("OXVIRT_CONFORMANCE") {
        return Some(PathBuf::from(dir));
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance");
    dir.is_dir().then_some(dir)
}

#[test]
fn parses_libvirts_recorded_query_jobs() {
    let Some(dir) = conformance_dir() else {
        eprintln!("SKIPPED: libvirt conformance data not found");
        return;
    };
    let path = dir.join("libvirt-9.0.0/qemu/qemumonitorjsondata/query-jobs-create.json");
    let reply: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let jobs: Vec<JobInfo> = reply["return"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| JobInfo::from_value(j).unwrap())
        .collect();
    assert_eq!(
        jobs,
        vec![
            JobInfo {
                id: "createjob-fail".into(),
                job_type: "create".into(),
                status: "concluded".into(),
                current_progress: 1,
                total_progress: 1,
                error: Some("Image size must be a multiple of 512 bytes".into()),
            },
            JobInfo {
                id: "createjob".into(),
                job_type: "create".into(),
                status: "concluded".into(),
                current_progress: 1,
                total_progress: 1,
                error: None,
            },
        ]
    );
}

#[test]
fn device_deleted_matches_only_its_alias() {
    let ev = |name: &str, data: Value| QmpEvent {
        name: name.into(),
        data,
        timestamp: (1, 2),
    };
    let path = "/machine/peripheral/virtio-disk1/virtio-backend";
    assert!(is_device_deleted(
        &ev(
            "DEVICE_DELETED",
            json!({"device": "virtio-disk1", "path": path})
        ),
        "virtio-disk1"
    ));
    assert!(!is_device_deleted(
        &ev("DEVICE_DELETED", json!({"device": "virtio-disk2"})),
        "virtio-disk1"
    ));
    assert!(!is_device_deleted(
        &ev("DEVICE_DELETED", json!({"path": path})),
        "virtio-disk1"
    ));
    assert!(!is_device_deleted(
        &ev(
            "DEVICE_UNPLUG_GUEST_ERROR",
            json!({"device": "virtio-disk1"})
        ),
        "virtio-disk1"
    ));
}
