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

const NIC: &str = "<interface type='network'><mac address='52:54:00:00:00:b2'/>\
                   <source network='default'/></interface>";

/// The device events received so far, as (domain, id, added?, alias).
fn device_events(
    rx: &mut oxvirt_domain::driver::EventReceiver,
) -> Vec<(String, i32, bool, String)> {
    drain(rx)
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::DeviceAdded { alias } => Some((e.domain.name, e.domain.id, true, alias)),
            EventKind::DeviceRemoved { alias } => Some((e.domain.name, e.domain.id, false, alias)),
            _ => None,
        })
        .collect()
}

fn added(alias: &str) -> (String, i32, bool, String) {
    ("test".into(), 1, true, alias.into())
}

fn removed(alias: &str) -> (String, i32, bool, String) {
    ("test".into(), 1, false, alias.into())
}

#[tokio::test]
async fn live_hotplug_reports_the_aliases_qemu_gives() {
    let conn = default_conn();
    let d = conn.lookup_by_name("test").await.unwrap();
    let mut rx = conn.subscribe();
    // `test` has one interface, net0 to QEMU: the new one is net1, and the live XML shows it.
    conn.attach_device(&d, NIC, affect::LIVE).await.unwrap();
    assert_eq!(device_events(&mut rx), [added("net1")]);
    let live = conn.xml_desc(&d, 0).await.unwrap();
    assert!(live.contains("<alias name='net1'/>"), "{live}");
    assert_eq!(
        live.matches("<alias").count(),
        1,
        "devices that were there keep showing no alias"
    );
    conn.detach_device(&d, NIC, affect::LIVE).await.unwrap();
    assert_eq!(device_events(&mut rx), [removed("net1")]);
    // A device that was there when the domain started goes by its start alias.
    let vda = "<disk type='file' device='disk'><source file='/guest/diskimage1'/>\
               <target dev='vda' bus='virtio'/></disk>";
    conn.detach_device(&d, vda, affect::LIVE).await.unwrap();
    assert_eq!(device_events(&mut rx), [removed("virtio-disk0")]);
    // Live and config: one event, for the live definition; the config one gets no alias.
    let vdb = "<disk type='file' device='disk'><source file='/x.img'/>\
               <target dev='vdb' bus='virtio'/></disk>";
    conn.attach_device(&d, vdb, affect::LIVE | affect::CONFIG)
        .await
        .unwrap();
    assert_eq!(device_events(&mut rx), [added("virtio-disk1")]);
    let config = conn.xml_desc(&d, 2).await.unwrap();
    assert!(
        config.contains("/x.img") && !config.contains("<alias"),
        "{config}"
    );
    conn.detach_device(&d, vdb, affect::LIVE | affect::CONFIG)
        .await
        .unwrap();
    assert_eq!(device_events(&mut rx), [removed("virtio-disk1")]);
}

#[tokio::test]
async fn only_live_changes_that_succeed_report_events() {
    let conn = default_conn();
    let d = conn.lookup_by_name("test").await.unwrap();
    let mut rx = conn.subscribe();
    conn.attach_device(&d, NIC, affect::CONFIG).await.unwrap();
    conn.detach_device(&d, NIC, affect::CONFIG).await.unwrap();
    assert!(device_events(&mut rx).is_empty());
    conn.attach_device(&d, DISK, affect::LIVE).await.unwrap();
    assert_eq!(device_events(&mut rx), [added("ua-extra")]);
    // The same target again fails, live or not: no event.
    let e = conn
        .attach_device(&d, DISK, affect::LIVE)
        .await
        .unwrap_err();
    assert_eq!(
        e.message,
        "Requested operation is not valid: target vdb already exists"
    );
    let missing = "<disk type='file'><target dev='vdz'/></disk>";
    assert!(conn.detach_device(&d, missing, affect::LIVE).await.is_err());
    assert!(device_events(&mut rx).is_empty());
    // libvirt's QEMU driver gives leases no alias, and reports none.
    let lease = "<lease><lockspace>s</lockspace><key>k</key>\
                 <target path='/p'/></lease>";
    conn.attach_device(&d, lease, affect::LIVE).await.unwrap();
    conn.detach_device(&d, lease, affect::LIVE).await.unwrap();
    assert!(device_events(&mut rx).is_empty());
}

#[tokio::test]
async fn aliases_other_than_user_ones_are_dropped() {
    let conn = default_conn();
    let d = conn.lookup_by_name("test").await.unwrap();
    let mut rx = conn.subscribe();
    let nic = NIC.replace("</interface>", "<alias name='net7'/></interface>");
    conn.attach_device(&d, &nic, affect::LIVE | affect::CONFIG)
        .await
        .unwrap();
    assert_eq!(device_events(&mut rx), [added("net1")]);
    assert!(!conn.xml_desc(&d, 2).await.unwrap().contains("net7"));
    assert!(!conn.xml_desc(&d, 0).await.unwrap().contains("net7"));
    // A definition keeps only user aliases, as libvirt's inactive parse does.
    let xml = "<domain type='test'><name>al</name><memory>1024</memory>\
               <os><type>hvm</type></os><devices>\
               <interface type='network'><source network='default'/><alias name='net5'/>\
               </interface><interface type='network'><source network='default'/>\
               <alias name='ua-n'/></interface></devices></domain>";
    let a = conn.define_xml(xml, 0).await.unwrap();
    let shown = conn.xml_desc(&a, 0).await.unwrap();
    assert!(!shown.contains("net5"), "{shown}");
    assert!(shown.contains("<alias name='ua-n'/>"), "{shown}");
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
