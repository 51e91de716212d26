//! Live migration commands: exact arguments, parameters against libvirt's
//! qemumigparamsdata, `query-migrate` replies in QEMU 7.2's shape, and the events.

use super::*;
use crate::qmp::ops::{MigrationAddress, MigrationEvent, MigrationParameters, BANDWIDTH_MAX_MIB};
use oxvirt_xml::testdata::conformance;

#[tokio::test]
async fn live_migration_commands_send_exact_arguments() {
    let (qmp, _events, mut fake) = connected().await;
    type Call = Box<dyn Fn(Qmp) -> tokio::task::JoinHandle<Result<(), QmpError>>>;
    let params = MigrationParameters {
        max_bandwidth: Some(BANDWIDTH_MAX_MIB * 1024 * 1024),
        downtime_limit: Some(300),
        tls_creds: Some(String::new()),
        ..MigrationParameters::default()
    };
    let cases: Vec<(Call, Value)> = vec![
        (
            Box::new(|q| tokio::spawn(async move { q.migrate("tcp:127.0.0.1:49152").await })),
            json!({"execute": "migrate", "arguments": {"uri": "tcp:127.0.0.1:49152"}}),
        ),
        (
            Box::new(|q| {
                tokio::spawn(async move { q.migrate_incoming("tcp:0.0.0.0:49152").await })
            }),
            json!({"execute": "migrate-incoming", "arguments": {"uri": "tcp:0.0.0.0:49152"}}),
        ),
        (
            Box::new(|q| tokio::spawn(async move { q.migrate_continue("pre-switchover").await })),
            json!({"execute": "migrate-continue", "arguments": {"state": "pre-switchover"}}),
        ),
        (
            Box::new(|q| tokio::spawn(async move { q.migrate_start_postcopy().await })),
            json!({"execute": "migrate-start-postcopy"}),
        ),
        (
            Box::new(move |q| {
                let p = params.clone();
                tokio::spawn(async move { q.migrate_set_parameters(&p).await })
            }),
            // 8796093022207 MiB/s in bytes: what libvirt 9.0 sends for "unlimited".
            json!({"execute": "migrate-set-parameters", "arguments": {
                "max-bandwidth": 9223372036853727232u64, "downtime-limit": 300,
                "tls-creds": ""}}),
        ),
    ];
    for (call, expected) in cases {
        let task = call(qmp.clone());
        expect(&mut fake, expected, json!({})).await;
        task.await.unwrap().unwrap();
    }
    // QEMU 8.2's channels.
    let inet = MigrationAddress::Inet {
        host: "192.0.2.1".into(),
        port: 49152,
    };
    let task = tokio::spawn({
        let (q, a) = (qmp.clone(), inet.clone());
        async move { q.migrate_channels(&a).await }
    });
    expect(
        &mut fake,
        json!({"execute": "migrate", "arguments": {"channels": [{"channel-type": "main",
            "addr": {"transport": "socket", "type": "inet", "host": "192.0.2.1",
                     "port": "49152"}}]}}),
        json!({}),
    )
    .await;
    task.await.unwrap().unwrap();
    let unix = MigrationAddress::Unix {
        path: "/run/m.sock".into(),
    };
    let task = tokio::spawn({
        let (q, a) = (qmp.clone(), unix.clone());
        async move { q.migrate_incoming_channels(&a).await }
    });
    expect(
        &mut fake,
        json!({"execute": "migrate-incoming", "arguments": {"channels": [{"channel-type": "main",
            "addr": {"transport": "socket", "type": "unix", "path": "/run/m.sock"}}]}}),
        json!({}),
    )
    .await;
    task.await.unwrap().unwrap();
    assert_eq!(inet.uri(), "tcp:192.0.2.1:49152");
    assert_eq!(unix.uri(), "unix:/run/m.sock");
    let v6 = MigrationAddress::Inet {
        host: "::1".into(),
        port: 7,
    };
    assert_eq!(v6.uri(), "tcp:[::1]:7");
    let exec = MigrationAddress::Exec {
        args: vec!["cat".into(), "/dev/null".into()],
    };
    assert_eq!(exec.uri(), "exec:cat /dev/null");
    assert_eq!(
        exec.channels(),
        json!([{"channel-type": "main", "addr": {"transport": "exec",
            "args": ["cat", "/dev/null"]}}])
    );
    let task = tokio::spawn({
        let q = qmp.clone();
        async move { q.query_migrate_capabilities().await }
    });
    expect(
        &mut fake,
        json!({"execute": "query-migrate-capabilities"}),
        json!([{"capability": "xbzrle", "state": false},
               {"capability": "events", "state": true}]),
    )
    .await;
    assert_eq!(
        task.await.unwrap().unwrap(),
        vec![("xbzrle".to_string(), false), ("events".to_string(), true)]
    );
}

#[tokio::test]
async fn migration_parameters_match_libvirts_qemumigparamsdata() {
    let dir = conformance("qemu/qemumigparamsdata");
    if !dir.exists() {
        eprintln!(
            "SKIPPED migration_parameters_match_libvirts_qemumigparamsdata: no {}",
            dir.display()
        );
        return;
    }
    let mut seen = 0;
    for name in ["basic", "empty", "tls", "tls-enabled", "tls-hostname"] {
        let reply: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join(format!("{name}.reply"))).unwrap(),
        )
        .unwrap();
        let sent: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join(format!("{name}.json"))).unwrap(),
        )
        .unwrap();
        // query-migrate-parameters' reply, read and written back as migrate-set-parameters'
        // arguments, is what libvirt sends.
        let (qmp, _events, mut fake) = connected().await;
        let task = tokio::spawn(async move { qmp.query_migrate_parameters().await });
        expect(
            &mut fake,
            json!({"execute": "query-migrate-parameters"}),
            reply["return"].clone(),
        )
        .await;
        let params = task.await.unwrap().unwrap();
        assert_eq!(params.to_value(), sent, "{name}");
        seen += 1;
    }
    assert_eq!(seen, 5);
    let basic = MigrationParameters::from_value(&json!({
        "max-bandwidth": 33554432, "downtime-limit": 300, "tls-hostname": "f27-1.virt",
        "multifd-channels": 2, "multifd-compression": "none", "block-incremental": false,
        "announce-step": 100
    }))
    .unwrap();
    assert_eq!(basic.max_bandwidth, Some(33554432));
    assert_eq!(basic.downtime_limit, Some(300));
    assert_eq!(basic.tls_hostname.as_deref(), Some("f27-1.virt"));
    assert_eq!(basic.multifd_channels, Some(2));
    assert_eq!(basic.multifd_compression.as_deref(), Some("none"));
    assert_eq!(basic.block_incremental, Some(false));
    assert!(MigrationParameters::from_value(&json!(null)).is_none());
}

#[test]
fn query_migrate_of_a_completed_live_migration() {
    // QEMU 7.2's reply once a migration completed.
    let info = MigrationInfo::from_value(&json!({
        "blocked": false, "status": "completed", "setup-time": 1, "downtime": 42,
        "total-time": 310,
        "ram": {"total": 268894208, "postcopy-requests": 0, "dirty-sync-count": 3,
                "multifd-bytes": 0, "pages-per-second": 41318, "downtime-bytes": 1024,
                "page-size": 4096, "remaining": 0, "postcopy-bytes": 0,
                "mbps": 2586.65, "transferred": 98713821, "dirty-sync-missed-zero-copy": 0,
                "precopy-bytes": 98712797, "duplicate": 41843, "dirty-pages-rate": 120,
                "skipped": 0, "normal-bytes": 97767424, "normal": 23869}}))
    .unwrap();
    assert_eq!(info.status(), "completed");
    assert_eq!(info.total_time_ms, Some(310));
    assert_eq!(info.downtime_ms, Some(42));
    assert_eq!(info.setup_time_ms, Some(1));
    assert_eq!(info.ram_total, Some(268894208));
    assert_eq!(info.ram_transferred, Some(98713821));
    assert_eq!(info.ram_remaining, Some(0));
    assert_eq!(info.ram_duplicate, Some(41843));
    assert_eq!(info.ram_normal, Some(23869));
    assert_eq!(info.ram_normal_bytes, Some(97767424));
    assert_eq!(info.ram_dirty_pages_rate, Some(120));
    assert_eq!(info.ram_mbps, Some(2586.65));
    assert_eq!(info.ram_pages_per_second, Some(41318));
    assert_eq!(info.ram_dirty_sync_count, Some(3));
    assert_eq!(info.ram_page_size, Some(4096));
    assert_eq!(info.disk_total, None);
    assert_eq!(info.to_vir_error("migration out job"), None);
}

#[test]
fn migration_events() {
    let ev = |name: &str, data: Value| QmpEvent {
        name: name.into(),
        data,
        timestamp: (0, 0),
    };
    assert_eq!(
        MigrationEvent::from_event(&ev("MIGRATION", json!({"status": "pre-switchover"}))),
        Some(MigrationEvent::Status("pre-switchover".into()))
    );
    assert_eq!(
        MigrationEvent::from_event(&ev("MIGRATION_PASS", json!({"pass": 2}))),
        Some(MigrationEvent::Pass(2))
    );
    assert_eq!(
        MigrationEvent::from_event(&ev("MIGRATION", json!({}))),
        None
    );
    assert_eq!(MigrationEvent::from_event(&ev("STOP", Value::Null)), None);
}
