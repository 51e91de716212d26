//! The facade over libvirt's test driver, with the values libvirt 9.0's own test driver gives
//! (`python3 -c "import libvirt; c = libvirt.open('test:///default'); ..."`).
//!
//! `test:///default` connections of one process share one node, so tests that change it
//! open a node of their own over the same driver.

use std::sync::Arc;

use oxvirt::event::{DefinedDetail, ResumedDetail, StartedDetail, StoppedDetail};
use oxvirt::event::{SuspendedDetail, UndefinedDetail};
use oxvirt::state::{PausedReason, RunningReason, ShutoffReason};
use oxvirt::{flags, Connect, DomainState, ErrorCode, ErrorDomain, EventKind, Lifecycle};
use oxvirt::{EventStream, StateReason, Uri};
use oxvirt_driver_test::TestDriver;

/// A read-write connection to a `test:///default` node no other test sees.
fn isolated_default() -> Connect {
    let driver = TestDriver::open_isolated("/default").expect("the default node");
    Connect::from_driver(
        Uri::parse("test:///default").expect("a valid URI"),
        Arc::new(driver),
        false,
    )
}

/// The lifecycle events waiting on `events`, as (domain name, event).
fn drain(events: &mut EventStream) -> Vec<(String, Lifecycle)> {
    let mut out = Vec::new();
    while let Some(event) = events.try_next() {
        if let EventKind::Lifecycle(lifecycle) = event.kind {
            out.push((event.domain.name, lifecycle));
        }
    }
    out
}

#[tokio::test]
async fn open_the_default_node() {
    let conn = Connect::open("test:///default").await.unwrap();
    assert_eq!(conn.uri(), "test:///default");
    assert_eq!(conn.hypervisor_type(), "TEST");
    assert_eq!(conn.version().await.unwrap(), 2);
    assert_eq!(conn.max_vcpus(None).await.unwrap(), 32);
    assert!(!conn.is_read_only());
    let info = conn.node_info().await.unwrap();
    assert_eq!(
        (info.model.as_str(), info.memory_kib, info.cpus, info.mhz),
        ("i686", 3_145_728, 16, 1400)
    );
    assert_eq!(
        (info.nodes, info.sockets, info.cores, info.threads),
        (2, 2, 2, 2)
    );
    assert!(conn
        .capabilities()
        .await
        .unwrap()
        .starts_with("<capabilities>"));
}

#[tokio::test]
async fn the_uri_keeps_its_query() {
    let conn = Connect::open_read_only("test:///def%61ult?a=b")
        .await
        .unwrap();
    assert_eq!(conn.uri(), "test:///default?a=b");
    assert!(conn.is_read_only());
}

#[tokio::test]
async fn list_and_look_up() {
    let conn = Connect::open_read_only("test:///default").await.unwrap();
    let all = conn.list_all_domains(0).await.unwrap();
    let names: Vec<&str> = all.iter().map(|d| d.name()).collect();
    assert_eq!(names, ["test"]);
    let dom = conn.lookup_domain_by_name("test").await.unwrap();
    assert_eq!(dom.id(), Some(1));
    assert_eq!(dom.uuid_string(), "6695eb01-f6a4-8304-79aa-97f2502e193f");
    let by_id = conn.lookup_domain_by_id(1).await.unwrap();
    assert_eq!(by_id.name(), "test");
    let by_uuid = conn
        .lookup_domain_by_uuid_string("6695eb01f6a4830479aa97f2502e193f")
        .await
        .unwrap();
    assert_eq!(by_uuid.uuid(), dom.uuid());
    let err = conn.lookup_domain_by_name("nope").await.unwrap_err();
    assert_eq!(
        (err.code, err.domain),
        (ErrorCode::NoDomain, ErrorDomain::Test)
    );
    let info = dom.info().await.unwrap();
    assert_eq!(
        (
            info.state,
            info.max_mem_kib,
            info.memory_kib,
            info.nr_virt_cpu
        ),
        (DomainState::Running, 8_388_608, 2_097_152, 2)
    );
    assert_eq!(
        dom.state().await.unwrap(),
        StateReason::Running(RunningReason::Unknown)
    );
    assert_eq!(dom.os_type().await.unwrap(), "linux");
    assert!(dom.is_persistent().await.unwrap());
    assert!(!dom.autostart().await.unwrap());
    let xml = dom.xml_desc(0).await.unwrap();
    assert!(xml.starts_with("<domain type='test' id='1'>"), "{xml}");
    let active = conn.list_all_domains(flags::list::INACTIVE).await.unwrap();
    assert!(active.is_empty());
}

#[tokio::test]
async fn read_only_connections_cannot_change_the_node() {
    let conn = Connect::open_read_only("test:///default").await.unwrap();
    let dom = conn.lookup_domain_by_name("test").await.unwrap();
    let err = dom.suspend().await.unwrap_err();
    assert_eq!(
        (err.code, err.domain, err.message.as_str()),
        (
            ErrorCode::OperationDenied,
            ErrorDomain::Domain,
            "operation forbidden: read only access prevents virDomainSuspend"
        )
    );
    assert_eq!(
        dom.state().await.unwrap(),
        StateReason::Running(RunningReason::Unknown)
    );
}

#[tokio::test]
async fn a_lifecycle_round_updates_the_handle_and_emits_events_in_order() {
    let conn = isolated_default();
    let mut events = conn.events();
    let dom = conn.lookup_domain_by_name("test").await.unwrap();

    dom.suspend().await.unwrap();
    assert_eq!(
        dom.state().await.unwrap(),
        StateReason::Paused(PausedReason::User)
    );
    dom.resume().await.unwrap();
    dom.destroy(0).await.unwrap();
    assert_eq!(dom.id(), None);
    assert_eq!(
        dom.state().await.unwrap(),
        StateReason::Shutoff(ShutoffReason::Destroyed)
    );
    dom.create(0).await.unwrap();
    assert_eq!(dom.id(), Some(2));
    dom.shutdown(0).await.unwrap();
    assert_eq!(dom.id(), None);
    dom.create(0).await.unwrap();
    assert_eq!(dom.id(), Some(3));
    dom.reboot(0).await.unwrap();
    assert_eq!(dom.id(), Some(3));

    let test = |e| ("test".to_owned(), e);
    assert_eq!(
        drain(&mut events),
        [
            test(Lifecycle::Suspended(SuspendedDetail::Paused)),
            test(Lifecycle::Resumed(ResumedDetail::Unpaused)),
            test(Lifecycle::Stopped(StoppedDetail::Destroyed)),
            test(Lifecycle::Started(StartedDetail::Booted)),
            test(Lifecycle::Stopped(StoppedDetail::Shutdown)),
            test(Lifecycle::Started(StartedDetail::Booted)),
        ]
    );
}

#[tokio::test]
async fn define_start_stop_undefine() {
    let conn = isolated_default();
    let mut events = conn.events();
    let xml = "<domain type='test'><name>t2</name><memory>65536</memory>\
               <os><type>hvm</type></os></domain>";
    let dom = conn.define_domain_xml(xml, 0).await.unwrap();
    assert_eq!((dom.name(), dom.id()), ("t2", None));
    assert!(!dom.is_active().await.unwrap());
    dom.create(0).await.unwrap();
    assert_eq!(dom.id(), Some(2));
    assert!(dom.is_active().await.unwrap());
    dom.destroy(0).await.unwrap();
    dom.undefine(0).await.unwrap();
    let err = conn.lookup_domain_by_name("t2").await.unwrap_err();
    assert_eq!(err.code, ErrorCode::NoDomain);
    let t2 = |e| ("t2".to_owned(), e);
    assert_eq!(
        drain(&mut events),
        [
            t2(Lifecycle::Defined(DefinedDetail::Added)),
            t2(Lifecycle::Started(StartedDetail::Booted)),
            t2(Lifecycle::Stopped(StoppedDetail::Destroyed)),
            t2(Lifecycle::Undefined(UndefinedDetail::Removed)),
        ]
    );
}

#[tokio::test]
async fn a_transient_domain_goes_away_when_destroyed() {
    let conn = isolated_default();
    let xml = "<domain type='test'><name>tr</name><memory>65536</memory>\
               <os><type>hvm</type></os></domain>";
    let dom = conn.create_domain_xml(xml, 0).await.unwrap();
    assert_eq!(dom.id(), Some(2));
    assert!(!dom.is_persistent().await.unwrap());
    dom.destroy(0).await.unwrap();
    assert_eq!(dom.id(), None);
    assert!(conn.lookup_domain_by_name("tr").await.is_err());
}

#[tokio::test]
async fn a_node_file() {
    let dir = std::env::temp_dir().join(format!("oxvirt-facade-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("node.xml");
    std::fs::write(
        &path,
        "<node>\n  <domain type='test'>\n    <name>fv0</name>\n\
         \x20   <uuid>4dea22b3-1d52-d8f3-2516-782e98ab3fa0</uuid>\n\
         \x20   <os><type>hvm</type></os>\n    <memory>524288</memory>\n\
         \x20   <vcpu>1</vcpu>\n  </domain>\n</node>\n",
    )
    .unwrap();
    let uri = format!("test://{}", path.display());
    let conn = Connect::open(&uri).await.unwrap();
    assert_eq!(conn.uri(), uri);
    let doms = conn.list_all_domains(0).await.unwrap();
    assert_eq!(doms.len(), 1);
    assert_eq!((doms[0].name(), doms[0].id()), ("fv0", Some(1)));
    assert_eq!(
        doms[0].state().await.unwrap(),
        StateReason::Running(RunningReason::Unknown)
    );
    std::fs::remove_dir_all(&dir).unwrap();

    let err = Connect::open("test:///nonexistent/node.xml")
        .await
        .unwrap_err();
    assert_eq!(err.domain, ErrorDomain::Test);
}

#[tokio::test]
async fn save_restore_and_managed_save() {
    let conn = isolated_default();
    let mut events = conn.events();
    let dom = conn.lookup_domain_by_name("test").await.unwrap();
    let path = std::env::temp_dir().join(format!("oxvirt-facade-{}.img", std::process::id()));
    let path = path.to_str().unwrap();

    dom.save(path, None, 0).await.unwrap();
    assert_eq!(dom.id(), None);
    assert_eq!(
        dom.state().await.unwrap(),
        StateReason::Shutoff(ShutoffReason::Saved)
    );
    let xml = conn.save_image_xml(path, 0).await.unwrap();
    assert!(
        xml.starts_with("<domain type='test'>\n  <name>test</name>"),
        "{xml}"
    );
    // The image's XML can be replaced, and the domain comes back with it.
    let titled = xml.replacen(
        "<name>test</name>",
        "<name>test</name><title>saved</title>",
        1,
    );
    conn.save_image_define_xml(path, &titled, 0).await.unwrap();
    let stored = conn.save_image_xml(path, 0).await.unwrap();
    assert!(stored.contains("<title>saved</title>"), "{stored}");
    conn.restore_domain(path, None, 0).await.unwrap();
    // The old handle keeps the ID it had; a new lookup sees the restored domain.
    assert_eq!(dom.id(), None);
    let restored = conn.lookup_domain_by_name("test").await.unwrap();
    assert_eq!(restored.id(), Some(2));
    assert_eq!(
        restored.state().await.unwrap(),
        StateReason::Running(RunningReason::Restored)
    );
    let live = restored.xml_desc(0).await.unwrap();
    assert!(live.contains("<title>saved</title>"), "{live}");

    restored.managed_save(0).await.unwrap();
    assert_eq!(restored.id(), None);
    assert!(restored.has_managed_save(0).await.unwrap());
    restored.create(0).await.unwrap();
    assert_eq!(restored.id(), Some(3));
    assert!(!restored.has_managed_save(0).await.unwrap());
    let _ = std::fs::remove_file(path);

    let test = |e| ("test".to_owned(), e);
    assert_eq!(
        drain(&mut events),
        [
            test(Lifecycle::Stopped(StoppedDetail::Saved)),
            test(Lifecycle::Started(StartedDetail::Restored)),
            test(Lifecycle::Stopped(StoppedDetail::Saved)),
            test(Lifecycle::Started(StartedDetail::Booted)),
        ]
    );
}

#[tokio::test]
async fn snapshots_create_list_revert_delete() {
    let conn = isolated_default();
    let dom = conn.lookup_domain_by_name("test").await.unwrap();
    let s1 = dom
        .snapshot_create_xml("<domainsnapshot><name>s1</name></domainsnapshot>", 0)
        .await
        .unwrap();
    let s2 = dom
        .snapshot_create_xml("<domainsnapshot><name>s2</name></domainsnapshot>", 0)
        .await
        .unwrap();
    assert_eq!(s2.parent(0).await.unwrap().name(), "s1");
    assert!(s2.is_current(0).await.unwrap());
    assert!(!s1.is_current(0).await.unwrap());
    assert!(s1.has_metadata(0).await.unwrap());
    assert!(dom.has_current_snapshot(0).await.unwrap());
    assert_eq!(dom.snapshot_current(0).await.unwrap().name(), "s2");
    let names = |snaps: Vec<oxvirt::DomainSnapshot>| -> Vec<String> {
        snaps.iter().map(|s| s.name().to_owned()).collect()
    };
    assert_eq!(
        names(dom.list_all_snapshots(0).await.unwrap()),
        ["s1", "s2"]
    );
    assert_eq!(names(s1.list_all_children(0).await.unwrap()), ["s2"]);
    assert!(s1
        .xml_desc(0)
        .await
        .unwrap()
        .starts_with("<domainsnapshot>\n  <name>s1</name>\n  <state>running</state>"));

    let mut events = conn.events();
    dom.destroy(0).await.unwrap();
    s1.revert(0).await.unwrap();
    // libvirt leaves the handle's ID stale after a revert; ours follows the domain.
    assert_eq!(dom.id(), Some(2));
    assert_eq!(
        dom.state().await.unwrap(),
        StateReason::Running(RunningReason::FromSnapshot)
    );
    assert_eq!(dom.snapshot_current(0).await.unwrap().name(), "s1");
    let test = |e| ("test".to_owned(), e);
    assert_eq!(
        drain(&mut events),
        [
            test(Lifecycle::Stopped(StoppedDetail::Destroyed)),
            test(Lifecycle::Started(StartedDetail::FromSnapshot)),
        ]
    );

    s2.delete(0).await.unwrap();
    assert_eq!(names(dom.list_all_snapshots(0).await.unwrap()), ["s1"]);
    let err = dom.snapshot_lookup_by_name("s2", 0).await.unwrap_err();
    assert_eq!(
        (err.code, err.domain, err.message.as_str()),
        (
            ErrorCode::NoDomainSnapshot,
            ErrorDomain::Test,
            "Domain snapshot not found: no domain snapshot with matching name 's2'"
        )
    );
}
