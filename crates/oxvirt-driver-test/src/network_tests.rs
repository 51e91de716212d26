//! The test node's networks, with the answers `virsh -c test:///default` (libvirt 9.0)
//! gives.

use oxvirt_network::api::{flags, NetworkEventKind};
use oxvirt_network::{NetworkDriver, Update};
use oxvirt_xml::ErrorCode;

use crate::TestDriver;

const DEFAULT_XML: &str = "<network>
  <name>default</name>
  <uuid>dd8fe884-6c02-601e-7551-cca97df1c5df</uuid>
  <forward mode='nat'/>
  <bridge name='virbr0' stp='on' delay='0'/>
  <ip address='192.168.122.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='192.168.122.2' end='192.168.122.254'/>
    </dhcp>
  </ip>
</network>
";

const N2: &str = "<network>\n  <name>n2</name>\n  <bridge name='virbr5'/>\n  \
    <ip address='192.168.150.1' netmask='255.255.255.0'/>\n</network>\n";

fn nets() -> crate::TestNetworks {
    TestDriver::open_isolated("/default")
        .unwrap()
        .network_driver()
}

#[tokio::test]
async fn the_default_network_is_libvirts() {
    let n = nets();
    let all = n.list_all(0).await.unwrap();
    assert_eq!(all.len(), 1);
    let d = &all[0];
    assert_eq!(d.name, "default");
    assert_eq!(d.uuid.to_string(), "dd8fe884-6c02-601e-7551-cca97df1c5df");
    assert_eq!(n.xml_desc(d, 0).await.unwrap(), DEFAULT_XML);
    assert!(n.is_active(d).await.unwrap());
    assert!(n.is_persistent(d).await.unwrap());
    assert!(!n.autostart(d).await.unwrap());
    assert_eq!(n.bridge_name(d).await.unwrap(), "virbr0");
    let e = n.xml_desc(d, flags::xml::INACTIVE).await.unwrap_err();
    assert_eq!(
        e.message,
        "unsupported flags (0x1) in function testNetworkGetXMLDesc"
    );
    let e = n.lookup_by_name("nope").await.unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (
            ErrorCode::NoNetwork,
            "Network not found: no network with matching name 'nope'"
        )
    );
    let e = n.dhcp_leases(d, None).await.unwrap_err();
    assert_eq!(
        e.message,
        "this function is not supported by the connection driver: virNetworkGetDHCPLeases"
    );
}

#[tokio::test]
async fn lifecycle_as_virsh_sees_it() {
    let n = nets();
    let mut events = n.subscribe();
    let d = n.lookup_by_name("default").await.unwrap();
    let e = n.undefine(&d).await.unwrap_err();
    assert_eq!(
        e.message,
        "Requested operation is not valid: Network 'default' is still running"
    );
    n.destroy(&d).await.unwrap();
    // libvirt's test driver stops a stopped network again without complaint.
    n.destroy(&d).await.unwrap();
    let e = n.create(&d).await;
    assert!(e.is_ok());
    let e = n.create(&d).await.unwrap_err();
    assert_eq!(
        e.message,
        "Requested operation is not valid: Network 'default' is already running"
    );
    let n2 = n.define_xml(N2, 0).await.unwrap();
    let inactive = n.list_all(flags::list::INACTIVE).await.unwrap();
    assert_eq!(inactive, vec![n2.clone()]);
    n.set_autostart(&n2, true).await.unwrap();
    let auto = n.list_all(flags::list::AUTOSTART).await.unwrap();
    assert_eq!(auto, vec![n2.clone()]);
    assert!(n.list_all(flags::list::TRANSIENT).await.unwrap().is_empty());
    let e = n.create_xml(N2, 0).await.unwrap_err();
    assert_eq!(
        e.message,
        format!(
            "operation failed: network 'n2' already exists with uuid {}",
            n2.uuid
        )
    );
    n.undefine(&n2).await.unwrap();
    assert!(n.lookup_by_name("n2").await.is_err());
    let t = n.create_xml(N2, 0).await.unwrap();
    assert!(!n.is_persistent(&t).await.unwrap());
    n.destroy(&t).await.unwrap();
    assert!(n.lookup_by_uuid(&t.uuid).await.is_err());
    let kinds: Vec<NetworkEventKind> = std::iter::from_fn(|| events.try_recv().ok())
        .map(|e| e.kind)
        .collect();
    use NetworkEventKind::*;
    assert_eq!(
        kinds,
        vec![Stopped, Stopped, Started, Defined, Undefined, Started, Stopped]
    );
}

#[tokio::test]
async fn updates_change_the_definition() {
    let n = nets();
    let d = n.lookup_by_name("default").await.unwrap();
    let u = Update {
        command: 3,
        section: 4,
        parent_index: -1,
        xml: "<host mac='52:54:00:00:00:01' ip='192.168.122.5'/>".into(),
        flags: flags::update::LIVE,
    };
    n.update(&d, &u).await.unwrap();
    let xml = n.xml_desc(&d, 0).await.unwrap();
    assert!(
        xml.contains("<host mac='52:54:00:00:00:01' ip='192.168.122.5'/>"),
        "{xml}"
    );
    let bad = Update { flags: 4, ..u };
    let e = n.update(&d, &bad).await.unwrap_err();
    assert_eq!(
        e.message,
        "unsupported flags (0x4) in function testNetworkUpdate"
    );
}

#[tokio::test]
async fn default_connections_share_networks_and_events() {
    let a = TestDriver::open("/default").unwrap();
    let b = TestDriver::open("/default").unwrap();
    let (na, nb) = (a.network_driver(), b.network_driver());
    let mut events = nb.subscribe();
    let r = na
        .define_xml(N2.replace("n2", "shared-n").as_str(), 0)
        .await
        .unwrap();
    assert_eq!(nb.lookup_by_name("shared-n").await.unwrap(), r);
    assert_eq!(events.try_recv().unwrap().kind, NetworkEventKind::Defined);
    na.undefine(&r).await.unwrap();
}

#[tokio::test]
async fn config_changes_of_a_running_network_wait() {
    let n = nets();
    let d = n.lookup_by_name("default").await.unwrap();
    let host = |mac: &str| Update {
        command: 3,
        section: 4,
        parent_index: -1,
        xml: format!("<host mac='{mac}' ip='192.168.122.9'/>"),
        flags: flags::update::CONFIG,
    };
    n.update(&d, &host("52:54:00:00:00:09")).await.unwrap();
    // The live XML is what the test driver shows; the config change is not in it.
    assert!(!n.xml_desc(&d, 0).await.unwrap().contains("00:09"));
    n.destroy(&d).await.unwrap();
    let live_only = Update {
        flags: flags::update::LIVE,
        ..host("52:54:00:00:00:08")
    };
    let e = n.update(&d, &live_only).await.unwrap_err();
    assert_eq!(
        e.message,
        "Requested operation is not valid: network is not running"
    );
}
