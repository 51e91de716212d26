use oxvirt_domain::driver::{Hypervisor, NodeInfo};
use oxvirt_xml::{ErrorCode, ErrorDomain};

use super::{default_conn, err};
use crate::TestDriver;

const DEFAULT_TEST_XML: &str = include_str!("../../tests/data/default-test.xml");
const DEFAULT_TEST_INACTIVE_XML: &str = include_str!("../../tests/data/default-test-inactive.xml");
const DEFAULT_CAPS: &str = include_str!("../../tests/data/default-capabilities.xml");

#[tokio::test]
async fn default_domain_xml_is_libvirts() {
    let conn = default_conn();
    let dom = conn.lookup_by_name("test").await.unwrap();
    assert_eq!(conn.xml_desc(&dom, 0).await.unwrap(), DEFAULT_TEST_XML);
    assert_eq!(
        conn.xml_desc(&dom, 2).await.unwrap(),
        DEFAULT_TEST_INACTIVE_XML
    );
}

#[tokio::test]
async fn default_capabilities_are_libvirts() {
    let conn = default_conn();
    assert_eq!(conn.capabilities().await.unwrap(), DEFAULT_CAPS);
}

#[tokio::test]
async fn default_node_facts() {
    let conn = default_conn();
    assert_eq!(conn.uri(), "test:///default");
    assert_eq!(conn.hypervisor_type(), "TEST");
    assert_eq!(conn.version().await.unwrap(), 2);
    assert_eq!(conn.max_vcpus(None).await.unwrap(), 32);
    assert_eq!(conn.free_memory().await.unwrap(), 3145728);
    assert_eq!(
        conn.node_info().await.unwrap(),
        NodeInfo {
            model: "i686".into(),
            memory_kib: 3145728,
            cpus: 16,
            mhz: 1400,
            nodes: 2,
            sockets: 2,
            cores: 2,
            threads: 2,
        }
    );
    let model = conn.security_model().await.unwrap();
    assert_eq!(
        (model.model.as_str(), model.doi.as_str()),
        ("testSecurity", "")
    );
    assert!(!conn.hostname().await.unwrap().is_empty());
    let net = conn.network("default").unwrap();
    assert!(net.active && net.persistent && !net.autostart);
    assert_eq!(
        net.uuid.unwrap().to_string(),
        "dd8fe884-6c02-601e-7551-cca97df1c5df"
    );
    let pool = conn.pool("default-pool").unwrap();
    assert!(pool.active && pool.volumes.is_empty());
    let iface = conn.interface("eth1").unwrap();
    assert_eq!(iface.mac.as_deref(), Some("aa:bb:cc:dd:ee:ff"));
    let devs: Vec<_> = conn.node_devices().into_iter().map(|d| d.name).collect();
    assert_eq!(
        devs,
        ["computer", "scsi_host1", "scsi_host2", "scsi_host11"]
    );
    assert_eq!(
        conn.node_device("scsi_host11").unwrap().parent.as_deref(),
        Some("scsi_host1")
    );
}

#[tokio::test]
async fn default_connections_share_one_node() {
    let _guard = super::DEFAULT_NODE_LOCK.lock().await;
    let a = TestDriver::open("/default").unwrap();
    let b = TestDriver::open("/default").unwrap();
    let mut rx = b.subscribe();
    let name = "shared-by-default-connections";
    let xml = format!(
        "<domain type='test'><name>{name}</name><memory>1024</memory>\
         <os><type>hvm</type></os></domain>"
    );
    let d = a.define_xml(&xml, 0).await.unwrap();
    assert_eq!(b.lookup_by_name(name).await.unwrap(), d);
    assert_eq!(super::drain(&mut rx).len(), 1);
    b.undefine(&d, 0).await.unwrap();
    // A private connection sees none of it.
    assert!(default_conn().lookup_by_name(name).await.is_err());
}

#[test]
fn open_errors() {
    assert_eq!(
        err(TestDriver::open("/")),
        (
            ErrorCode::InvalidArg,
            ErrorDomain::Test,
            "invalid argument: testOpen: supply a path or use test:///default".into()
        )
    );
    assert_eq!(err(TestDriver::open("")).0, ErrorCode::InvalidArg);
    assert_eq!(
        err(TestDriver::open("/nonexistent/x.xml")),
        (
            ErrorCode::XmlError,
            ErrorDomain::Test,
            "XML error: failed to parse xml document '/nonexistent/x.xml'".into()
        )
    );
}
