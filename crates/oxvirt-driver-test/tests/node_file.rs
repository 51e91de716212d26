//! A node XML file loaded as `test:///path/to/node.xml`: several domains, one paused, one
//! with a managed-save image, one with snapshots (from a file of its own), one transient;
//! a network, a pool with a volume, an interface. The expected values are those libvirt
//! 9.0's test driver gives for the same file.

use std::path::PathBuf;

use oxvirt_domain::driver::event::{Lifecycle, StartedDetail};
use oxvirt_domain::driver::flags::list;
use oxvirt_domain::driver::state::{PausedReason, RunningReason, ShutoffReason, StateReason};
use oxvirt_domain::driver::{DomainEvent, EventKind, Hypervisor, NodeInfo};
use oxvirt_driver_test::TestDriver;
use oxvirt_xml::{ErrorCode, ErrorDomain};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn open() -> TestDriver {
    let path = data("node.xml");
    TestDriver::open(&path.to_string_lossy()).expect("the node file loads")
}

fn expected(name: &str) -> String {
    std::fs::read_to_string(data(name)).expect("the expected output exists")
}

#[tokio::test]
async fn node_information_comes_from_the_file() {
    let conn = open();
    assert_eq!(conn.uri(), format!("test://{}", data("node.xml").display()));
    assert_eq!(
        conn.node_info().await.unwrap(),
        NodeInfo {
            model: "x86_64".into(),
            memory_kib: 8388608,
            cpus: 12,
            mhz: 2400,
            nodes: 1,
            sockets: 2,
            cores: 4,
            threads: 2,
        }
    );
    assert_eq!(conn.free_memory().await.unwrap(), 0);
    assert_eq!(
        conn.capabilities().await.unwrap(),
        expected("file-capabilities.xml")
    );
}

#[tokio::test]
async fn domains_start_in_the_states_the_file_gives() {
    let conn = open();
    let all: Vec<(String, i32)> = conn
        .list_all(0)
        .await
        .unwrap()
        .into_iter()
        .map(|d| (d.name, d.id))
        .collect();
    let expect = [
        ("web", 1),
        ("paused", 2),
        ("saved", -1),
        ("snappy", -1),
        ("temp", 3),
    ];
    let expect: Vec<(String, i32)> = expect.iter().map(|(n, i)| (n.to_string(), *i)).collect();
    assert_eq!(all, expect);
    let state = |name: &'static str| {
        let conn = conn.clone();
        async move {
            let d = conn.lookup_by_name(name).await.unwrap();
            conn.state(&d, 0).await.unwrap()
        }
    };
    // Every state loaded from a file has reason 0.
    assert_eq!(
        state("web").await,
        StateReason::Running(RunningReason::Unknown)
    );
    assert_eq!(
        state("paused").await,
        StateReason::Paused(PausedReason::Unknown)
    );
    assert_eq!(
        state("saved").await,
        StateReason::Shutoff(ShutoffReason::Unknown)
    );
    let saved = conn.lookup_by_name("saved").await.unwrap();
    assert!(conn.has_managed_save(&saved, 0).await.unwrap());
    let temp = conn.lookup_by_name("temp").await.unwrap();
    assert!(!conn.is_persistent(&temp).await.unwrap());
    let web = conn.lookup_by_name("web").await.unwrap();
    assert_eq!(
        conn.xml_desc(&web, 0).await.unwrap(),
        expected("node-web.xml")
    );
    let info = conn.info(&web).await.unwrap();
    assert_eq!(
        (info.max_mem_kib, info.memory_kib, info.nr_virt_cpu),
        (524288, 524288, 2)
    );
}

#[tokio::test]
async fn list_filters_on_the_files_domains() {
    let conn = open();
    let names = |flags: u32| {
        let conn = conn.clone();
        async move {
            let mut n: Vec<String> = conn
                .list_all(flags)
                .await
                .unwrap()
                .into_iter()
                .map(|d| d.name)
                .collect();
            n.sort();
            n
        }
    };
    assert_eq!(names(list::ACTIVE).await, ["paused", "temp", "web"]);
    assert_eq!(names(list::INACTIVE).await, ["saved", "snappy"]);
    assert_eq!(names(list::TRANSIENT).await, ["temp"]);
    assert_eq!(names(list::RUNNING).await, ["temp", "web"]);
    assert_eq!(names(list::PAUSED).await, ["paused"]);
    assert_eq!(names(list::SHUTOFF).await, ["saved", "snappy"]);
    assert!(names(list::OTHER).await.is_empty());
    assert_eq!(names(list::MANAGEDSAVE).await, ["saved"]);
    assert_eq!(
        names(list::NO_MANAGEDSAVE).await,
        ["paused", "snappy", "temp", "web"]
    );
    assert_eq!(names(list::HAS_SNAPSHOT).await, ["snappy"]);
    assert_eq!(
        names(list::NO_SNAPSHOT).await,
        ["paused", "saved", "temp", "web"]
    );
}

#[tokio::test]
async fn snapshots_come_from_the_file() {
    let conn = open();
    let d = conn.lookup_by_name("snappy").await.unwrap();
    let mut names: Vec<String> = conn
        .snapshot_list(&d, 0)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    names.sort();
    assert_eq!(names, ["first", "second"]);
    let current = conn.snapshot_current(&d, 0).await.unwrap();
    assert_eq!(current.name, "second");
    assert_eq!(
        conn.snapshot_parent(&current, 0).await.unwrap().name,
        "first"
    );
    assert_eq!(
        conn.snapshot_xml(&current, 0).await.unwrap(),
        expected("node-snap-second.xml")
    );
    let first = conn.snapshot_lookup(&d, "first", 0).await.unwrap();
    // The file lists the child first; it is still linked under its parent.
    let children = conn.snapshot_list_children(&first, 0).await.unwrap();
    assert_eq!(
        children.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        ["second"]
    );
    assert_eq!(
        conn.snapshot_xml(&first, 0).await.unwrap(),
        expected("node-snap-first.xml")
    );
    // Without a recorded domain there is nothing to revert to, even with FORCE.
    for flags in [0, 4] {
        let e = conn.snapshot_revert(&first, flags).await.unwrap_err();
        assert_eq!(
            (e.code, e.domain, e.message.as_str()),
            (
                ErrorCode::SnapshotRevertRisky,
                ErrorDomain::Test,
                "revert requires force: snapshot 'first' lacks domain 'snappy' rollback info"
            )
        );
    }
    // An inactive domain with snapshots needs SNAPSHOTS_METADATA to be undefined.
    let e = conn.undefine(&d, 0).await.unwrap_err();
    assert_eq!(
        e.message,
        "Requested operation is not valid: cannot delete inactive domain with 2 snapshots"
    );
    conn.undefine(&d, 2).await.unwrap();
}

#[tokio::test]
async fn starting_the_saved_domain_takes_the_next_id() {
    let conn = open();
    let mut rx = conn.subscribe();
    let d = conn.lookup_by_name("saved").await.unwrap();
    let d = conn.create(&d, 0).await.unwrap();
    assert_eq!(d.id, 4);
    assert!(!conn.has_managed_save(&d, 0).await.unwrap());
    let event: DomainEvent = rx.try_recv().unwrap();
    assert_eq!(event.domain.id, 4);
    assert_eq!(
        event.kind,
        EventKind::Lifecycle(Lifecycle::Started(StartedDetail::Booted))
    );
}

#[tokio::test]
async fn node_file_connections_do_not_share_state() {
    let a = open();
    let b = open();
    let web = a.lookup_by_name("web").await.unwrap();
    a.destroy(&web, 0).await.unwrap();
    assert!(b
        .is_active(&b.lookup_by_name("web").await.unwrap())
        .await
        .unwrap());
}

#[tokio::test]
async fn other_objects_of_the_node() {
    let conn = open();
    let net = conn.network("default").unwrap();
    assert!(net.active && net.persistent);
    assert!(net.xml.contains("<bridge name='virbr0'/>"));
    let pool = conn.pool("pool1").unwrap();
    assert_eq!(pool.volumes.len(), 1);
    assert_eq!(pool.volumes[0].name, "disk1.img");
    assert_eq!(pool.volumes[0].path, "/pool1/disk1.img");
    assert_eq!(pool.volumes[0].key, "/pool1/disk1.img");
    assert_eq!(conn.interfaces().len(), 1);
    assert_eq!(
        conn.interface("eth0").unwrap().mac.as_deref(),
        Some("aa:bb:cc:dd:ee:00")
    );
    assert!(conn.node_devices().is_empty());
}

#[test]
fn bad_node_files_fail_as_in_libvirt() {
    // Under target/tmp: cargo's scratch space for integration tests, not the system's.
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("oxvirt-test-nodes-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cases = [
        (
            "notnode.xml",
            "<foo/>",
            ErrorCode::XmlError,
            ErrorDomain::Test,
            "XML error: Root element is not 'node'".to_string(),
        ),
        (
            "missingdom.xml",
            "<node><domain file='missing.xml'/></node>",
            ErrorCode::XmlError,
            ErrorDomain::Test,
            format!(
                "XML error: failed to parse xml document '{}'",
                dir.join("missing.xml").display()
            ),
        ),
        (
            "badcpu.xml",
            "<node><cpu><nodes>x</nodes></cpu></node>",
            ErrorCode::XmlError,
            ErrorDomain::Test,
            "XML error: invalid node cpu nodes value".to_string(),
        ),
        (
            "baddom.xml",
            "<node><domain type='test'><name>x</name></domain></node>",
            ErrorCode::XmlError,
            ErrorDomain::Domain,
            "XML error: an os <type> must be specified".to_string(),
        ),
        (
            "nonet.xml",
            "<node><network file='nonet.xml'/></node>",
            ErrorCode::XmlError,
            ErrorDomain::Xml,
            "XML error: expecting root element of 'network', not 'node'".to_string(),
        ),
        (
            "auth.xml",
            "<node><auth><user>x</user></auth></node>",
            ErrorCode::InvalidArg,
            ErrorDomain::Auth,
            "invalid argument: Missing authentication credentials".to_string(),
        ),
    ];
    for (file, text, code, domain, message) in cases {
        let path = dir.join(file);
        std::fs::write(&path, text).unwrap();
        let e = TestDriver::open(path.to_str().unwrap()).unwrap_err();
        assert_eq!(
            (e.code, e.domain, e.message),
            (code, domain, message),
            "{file}"
        );
    }
}
