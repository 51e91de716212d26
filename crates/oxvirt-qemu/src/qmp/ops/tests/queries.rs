//! The query helpers' parsing, missing fields included.

use serde_json::json;

use super::super::*;
use super::expect;
use crate::qmp::tests::connected;
use crate::qmp::QmpError;

#[tokio::test]
async fn queries_parse_missing_fields() {
    let (qmp, _events, mut fake) = connected().await;

    let q = qmp.clone();
    let task = tokio::spawn(async move { q.query_chardev().await });
    expect(
        &mut fake,
        json!({"execute": "query-chardev"}),
        json!([{"frontend-open": false, "filename": "pty:/dev/pts/7", "label": "charserial0"},
               {"frontend-open": true, "filename": "unix:/run/mon.sock,server=on",
                "label": "charmonitor"}]),
    )
    .await;
    let list = task.await.unwrap().unwrap();
    assert_eq!(list[0].pty_path(), Some("/dev/pts/7"));
    assert_eq!(list[1].pty_path(), None);

    let q = qmp.clone();
    let task = tokio::spawn(async move { q.pty_path("charserial0").await });
    expect(
        &mut fake,
        json!({"execute": "query-chardev"}),
        json!([{"filename": "pty:/dev/pts/7", "label": "charserial0"}]),
    )
    .await;
    assert_eq!(task.await.unwrap().unwrap().as_deref(), Some("/dev/pts/7"));

    let q = qmp.clone();
    let task = tokio::spawn(async move { q.query_chardev().await });
    expect(
        &mut fake,
        json!({"execute": "query-chardev"}),
        json!([{"label": "x"}]),
    )
    .await;
    assert!(matches!(
        task.await.unwrap().unwrap_err(),
        QmpError::Protocol(_)
    ));

    let q = qmp.clone();
    let task = tokio::spawn(async move { q.query_blockstats().await });
    expect(
        &mut fake,
        json!({"execute": "query-blockstats"}),
        json!([{"device": "", "qdev": "/machine/peripheral/virtio-disk0/virtio-backend",
                "node-name": "libvirt-1-format",
                "stats": {"rd_bytes": 512, "wr_bytes": 1024, "rd_operations": 1,
                          "wr_operations": 2, "flush_operations": 3, "rd_total_time_ns": 10,
                          "wr_total_time_ns": 20, "flush_total_time_ns": 30}},
               {"device": "drive-ide0-0-0"}]),
    )
    .await;
    let stats = task.await.unwrap().unwrap();
    assert_eq!(
        stats[0],
        BlockStats {
            device: String::new(),
            qdev: "/machine/peripheral/virtio-disk0/virtio-backend".into(),
            node_name: "libvirt-1-format".into(),
            rd_bytes: 512,
            wr_bytes: 1024,
            rd_operations: 1,
            wr_operations: 2,
            flush_operations: 3,
            rd_total_time_ns: 10,
            wr_total_time_ns: 20,
            flush_total_time_ns: 30,
        }
    );
    assert_eq!(
        stats[1],
        BlockStats {
            device: "drive-ide0-0-0".into(),
            ..BlockStats::default()
        }
    );

    let q = qmp.clone();
    let task = tokio::spawn(async move { q.query_block().await });
    expect(
        &mut fake,
        json!({"execute": "query-block"}),
        json!([{"device": "", "qdev": "sata0-0-0", "removable": true},
               {"device": "", "qdev": "virtio-disk0", "inserted": {"node-name": "n1",
                "file": "/d.qcow2", "drv": "qcow2", "ro": true,
                "image": {"snapshots": [{"name": "a"}, {"name": "b"}]}}}]),
    )
    .await;
    let blocks = task.await.unwrap().unwrap();
    assert_eq!(blocks[0].inserted, None);
    assert_eq!(
        blocks[1].inserted,
        Some(BlockInserted {
            node_name: "n1".into(),
            file: "/d.qcow2".into(),
            format: "qcow2".into(),
            read_only: true,
            snapshots: vec!["a".into(), "b".into()],
        })
    );

    let q = qmp.clone();
    let task = tokio::spawn(async move { q.snapshot_capable_nodes().await });
    expect(
        &mut fake,
        json!({"execute": "query-named-block-nodes", "arguments": {"flat": true}}),
        json!([{"node-name": "libvirt-1-format", "drv": "qcow2", "ro": false},
               {"node-name": "libvirt-1-storage", "drv": "file", "ro": false},
               {"node-name": "libvirt-3-format", "drv": "qcow2", "ro": true},
               {"node-name": "libvirt-2-format", "drv": "raw", "ro": false}]),
    )
    .await;
    assert_eq!(task.await.unwrap().unwrap(), ["libvirt-1-format"]);

    let q = qmp.clone();
    let task = tokio::spawn(async move { q.query_pci().await });
    expect(
        &mut fake,
        json!({"execute": "query-pci"}),
        json!([{"bus": 0, "devices": [
            {"bus": 0, "slot": 1, "function": 0, "class_info": {"class": 1536}},
            {"bus": 0, "slot": 3, "function": 0, "qdev_id": "pci.1",
             "class_info": {"desc": "PCI bridge", "class": 1540},
             "pci_bridge": {"bus": {"number": 1}, "devices": [
                {"bus": 1, "slot": 2, "function": 0, "qdev_id": "net0",
                 "class_info": {"desc": "Ethernet controller", "class": 512}}]}}]}]),
    )
    .await;
    let pci = task.await.unwrap().unwrap();
    assert_eq!(pci.len(), 3);
    assert_eq!(pci[0].qdev_id, "");
    assert_eq!(
        pci[2],
        PciDevice {
            bus: 1,
            slot: 2,
            function: 0,
            qdev_id: "net0".into(),
            class_desc: "Ethernet controller".into(),
        }
    );
}
