use oxvirt_domain::driver::flags::{affect, metadata};
use oxvirt_domain::driver::{EventKind, Hypervisor};

use super::{default_conn, dom_xml, drain, err};

const DISK: &str = "<disk type='file' device='disk'><source file='/x.img'/>\
                    <target dev='vdb' bus='virtio'/><alias name='ua-extra'/></disk>";

#[tokio::test]
async fn attach_and_detach_live_and_config() {
    let conn = default_conn();
    let d = conn.lookup_by_name("test").await.unwrap();
    let mut rx = conn.subscribe();
    conn.attach_device(&d, DISK, affect::LIVE).await.unwrap();
    assert!(conn
        .xml_desc(&d, 0)
        .await
        .unwrap()
        .contains("<source file='/x.img'/>"));
    assert!(!conn.xml_desc(&d, 2).await.unwrap().contains("/x.img"));
    let events = drain(&mut rx);
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0].kind,
        EventKind::DeviceAdded {
            alias: "ua-extra".into()
        }
    );
    conn.attach_device(&d, DISK, affect::CONFIG).await.unwrap();
    assert!(conn.xml_desc(&d, 2).await.unwrap().contains("/x.img"));
    assert!(drain(&mut rx).is_empty());
    conn.detach_device(&d, DISK, affect::LIVE | affect::CONFIG)
        .await
        .unwrap();
    assert!(!conn.xml_desc(&d, 0).await.unwrap().contains("/x.img"));
    assert!(!conn.xml_desc(&d, 2).await.unwrap().contains("/x.img"));
    let events = drain(&mut rx);
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0].kind,
        EventKind::DeviceRemoved {
            alias: "ua-extra".into()
        }
    );
}

#[tokio::test]
async fn device_calls_check_flags_and_state() {
    let conn = default_conn();
    let d = conn.define_xml(&dom_xml("d1", 1), 0).await.unwrap();
    assert_eq!(
        err(conn.attach_device(&d, DISK, affect::LIVE).await).2,
        "Requested operation is not valid: domain is not running"
    );
    assert_eq!(
        err(conn.attach_device(&d, DISK, 4).await).2,
        "unsupported flags (0x4) in function testDomainAttachDeviceFlags"
    );
    // A failed change leaves every definition as it was.
    let before = conn.xml_desc(&d, 0).await.unwrap();
    assert!(conn.detach_device(&d, DISK, 0).await.is_err());
    assert_eq!(conn.xml_desc(&d, 0).await.unwrap(), before);
    conn.attach_device(&d, DISK, 0).await.unwrap();
    assert!(conn.xml_desc(&d, 0).await.unwrap().contains("/x.img"));
}

#[tokio::test]
async fn metadata_live_and_config() {
    let conn = default_conn();
    let d = conn.lookup_by_name("test").await.unwrap();
    let mut rx = conn.subscribe();
    conn.set_metadata(&d, metadata::TITLE, Some("live"), None, None, affect::LIVE)
        .await
        .unwrap();
    conn.set_metadata(&d, metadata::TITLE, Some("cfg"), None, None, affect::CONFIG)
        .await
        .unwrap();
    assert_eq!(
        conn.metadata(&d, metadata::TITLE, None, 0).await.unwrap(),
        "live"
    );
    assert_eq!(
        conn.metadata(&d, metadata::TITLE, None, affect::CONFIG)
            .await
            .unwrap(),
        "cfg"
    );
    conn.set_metadata(
        &d,
        metadata::ELEMENT,
        Some("<foo>bar</foo>"),
        Some("k"),
        Some("http://x/"),
        0,
    )
    .await
    .unwrap();
    assert_eq!(
        conn.metadata(&d, metadata::ELEMENT, Some("http://x/"), 0)
            .await
            .unwrap(),
        "<foo>bar</foo>"
    );
    conn.set_metadata(&d, metadata::TITLE, None, None, None, affect::LIVE)
        .await
        .unwrap();
    let e = conn
        .metadata(&d, metadata::TITLE, None, 0)
        .await
        .unwrap_err();
    assert_eq!(
        e.message,
        "metadata not found: Requested metadata element is not present"
    );
    let kinds: Vec<EventKind> = drain(&mut rx).into_iter().map(|e| e.kind).collect();
    let title = EventKind::MetadataChange {
        kind: metadata::TITLE,
        nsuri: None,
    };
    let element = EventKind::MetadataChange {
        kind: metadata::ELEMENT,
        nsuri: Some("http://x/".into()),
    };
    assert_eq!(kinds, [title.clone(), title.clone(), element, title]);
}
