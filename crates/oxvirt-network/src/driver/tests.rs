//! The driver's logic against a recording fake host: definitions, lifecycle, rollback,
//! restart, ports, updates.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use oxvirt_domain::driver::ports::{NetworkPorts, PortRequest};
use oxvirt_xml::types::Uuid;
use oxvirt_xml::{ErrorCode, VirError};

use super::*;

/// A host that records what it is asked and can be told to fail one step.
#[derive(Default)]
struct FakeHost {
    calls: Mutex<Vec<String>>,
    links: Mutex<BTreeSet<String>>,
    routes: Mutex<Vec<crate::netlink::Route>>,
    fail: Mutex<Option<&'static str>>,
    dnsmasq: Mutex<BTreeSet<String>>,
    leases: Mutex<String>,
    firewall: Mutex<Vec<String>>,
}

impl FakeHost {
    fn step(&self, what: &'static str, detail: String) -> Result<()> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("{what} {detail}").trim_end().to_string());
        if *self.fail.lock().unwrap() == Some(what) {
            return Err(err(ErrorCode::InternalError, format!("{what} failed")));
        }
        Ok(())
    }

    fn calls(&self) -> Vec<String> {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }
}

#[async_trait]
impl Host for FakeHost {
    async fn routes(&self) -> Result<Vec<crate::netlink::Route>> {
        Ok(self.routes.lock().unwrap().clone())
    }
    async fn link_exists(&self, name: &str) -> Result<bool> {
        Ok(self.links.lock().unwrap().contains(name))
    }
    async fn create_bridge(&self, plan: &BridgePlan) -> Result<()> {
        if self.links.lock().unwrap().contains(&plan.name) {
            return Err(err(
                ErrorCode::SystemError,
                format!("Unable to create bridge {}: File exists", plan.name),
            ));
        }
        self.links.lock().unwrap().insert(plan.name.clone());
        self.step("bridge", format!("{} stp={}", plan.name, plan.stp))
    }
    async fn delete_bridge(&self, name: &str) -> Result<()> {
        self.links.lock().unwrap().remove(name);
        self.step("delete", name.to_string())
    }
    async fn enable_forwarding(&self, v4: bool, v6: bool) -> Result<()> {
        self.step("forwarding", format!("{v4} {v6}"))
    }
    async fn firewall(&self, nets: &[FirewallNet]) -> Result<()> {
        let bridges: Vec<String> = nets.iter().map(|n| n.bridge.clone()).collect();
        self.step("firewall", bridges.join(","))?;
        *self.firewall.lock().unwrap() = bridges;
        Ok(())
    }
    async fn start_dnsmasq(&self, net: &Network) -> Result<()> {
        self.step("dnsmasq", net.name.clone())?;
        self.dnsmasq.lock().unwrap().insert(net.name.clone());
        Ok(())
    }
    async fn reattach_dnsmasq(&self, net: &Network) -> Result<bool> {
        self.step("reattach", net.name.clone())?;
        Ok(self.dnsmasq.lock().unwrap().contains(&net.name))
    }
    async fn reload_dnsmasq(&self, net: &Network) -> Result<()> {
        self.step("reload", net.name.clone())
    }
    async fn stop_dnsmasq(&self, name: &str) -> Result<()> {
        self.dnsmasq.lock().unwrap().remove(name);
        self.step("stop-dnsmasq", name.to_string())
    }
    async fn lease_file(&self, _name: &str) -> Result<String> {
        Ok(self.leases.lock().unwrap().clone())
    }
}

const NAT: &str = "<network><name>nat1</name><uuid>11111111-2222-3333-4444-555555555555</uuid>\
    <forward mode='nat'/><ip address='192.168.150.1' netmask='255.255.255.0'>\
    <dhcp><range start='192.168.150.2' end='192.168.150.254'/></dhcp></ip></network>";
const ISOLATED: &str = "<network><name>iso</name><bridge name='oxvbr9'/>\
    <ip address='10.77.0.1' prefix='24'/></network>";

struct Fixture {
    _dir: tempdir::Dir,
    config: NetworkConfig,
    host: Arc<FakeHost>,
    driver: BridgeDriver,
}

mod tempdir {
    /// A directory removed on drop.
    pub struct Dir(pub std::path::PathBuf);
    impl Dir {
        pub fn new() -> Dir {
            static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let p = std::env::temp_dir()
                .join(format!("oxvirt-network-driver-{}-{n}", std::process::id()));
            let _ = std::fs::remove_dir_all(&p);
            std::fs::create_dir_all(&p).unwrap();
            Dir(p)
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

async fn fixture() -> Fixture {
    let dir = tempdir::Dir::new();
    let config = NetworkConfig::under(&dir.0.join("state"), &dir.0.join("run"));
    let host = Arc::new(FakeHost::default());
    let driver = BridgeDriver::open_with(config.clone(), host.clone())
        .await
        .unwrap();
    host.calls();
    Fixture {
        _dir: dir,
        config,
        host,
        driver,
    }
}

impl Fixture {
    async fn reopen(&self) -> BridgeDriver {
        BridgeDriver::open_with(self.config.clone(), self.host.clone())
            .await
            .unwrap()
    }
}

fn code(e: VirError) -> (ErrorCode, String) {
    (e.code, e.message)
}

#[tokio::test]
async fn define_fills_bridge_mac_and_stp_and_persists() {
    let f = fixture().await;
    let mut events = f.driver.subscribe();
    let net = f.driver.define_xml(NAT, 0).await.unwrap();
    assert_eq!(net.name, "nat1");
    let xml = f.driver.xml_desc(&net, 0).await.unwrap();
    assert!(
        xml.contains("<bridge name='virbr0' stp='off' delay='0'/>"),
        "{xml}"
    );
    assert!(xml.contains("<mac address='52:54:00:"), "{xml}");
    assert_eq!(events.recv().await.unwrap().kind, NetworkEventKind::Defined);
    assert!(f.config.state_dir.join("nat1.xml").exists());
    assert!(!f.driver.is_active(&net).await.unwrap());
    assert!(f.driver.is_persistent(&net).await.unwrap());
    // A second network gets the next free bridge; a link of that name is skipped too.
    f.host.links.lock().unwrap().insert("virbr1".into());
    let other = NAT
        .replace("nat1", "nat2")
        .replace("11111111", "21111111")
        .replace("192.168.150", "192.168.151");
    let n2 = f.driver.define_xml(&other, 0).await.unwrap();
    assert_eq!(f.driver.bridge_name(&n2).await.unwrap(), "virbr2");
    // Redefining keeps the generated bridge and MAC.
    let before = f.driver.xml_desc(&net, 0).await.unwrap();
    f.driver.define_xml(NAT, 0).await.unwrap();
    assert_eq!(f.driver.xml_desc(&net, 0).await.unwrap(), before);
}

#[tokio::test]
async fn conflicts_are_refused_with_libvirts_errors() {
    let f = fixture().await;
    f.driver.define_xml(NAT, 0).await.unwrap();
    let same_uuid = NAT.replace("<name>nat1", "<name>other");
    assert_eq!(
        code(f.driver.define_xml(&same_uuid, 0).await.unwrap_err()),
        (
            ErrorCode::OperationFailed,
            "operation failed: network 'nat1' is already defined with uuid 11111111-2222-3333-4444-555555555555"
                .into()
        )
    );
    let same_name = NAT.replace("11111111", "91111111");
    assert_eq!(
        code(f.driver.define_xml(&same_name, 0).await.unwrap_err()).0,
        ErrorCode::OperationFailed
    );
    f.driver.define_xml(ISOLATED, 0).await.unwrap();
    let clash = ISOLATED.replace("<name>iso", "<name>iso2");
    assert_eq!(
        code(f.driver.define_xml(&clash, 0).await.unwrap_err()),
        (
            ErrorCode::InternalError,
            "internal error: bridge name 'oxvbr9' already in use.".into()
        )
    );
}

#[tokio::test]
async fn start_and_destroy_run_every_step_in_order() {
    let f = fixture().await;
    let net = f.driver.define_xml(NAT, 0).await.unwrap();
    let mut events = f.driver.subscribe();
    f.driver.create(&net).await.unwrap();
    assert_eq!(
        f.host.calls(),
        [
            "bridge virbr0 stp=false",
            "forwarding true false",
            "firewall virbr0",
            "dnsmasq nat1"
        ]
    );
    assert_eq!(events.recv().await.unwrap().kind, NetworkEventKind::Started);
    assert!(f.driver.is_active(&net).await.unwrap());
    assert!(f.config.runtime_dir.join("nat1.xml").exists());
    assert_eq!(
        code(f.driver.create(&net).await.unwrap_err()),
        (
            ErrorCode::OperationInvalid,
            "Requested operation is not valid: network is already active".into()
        )
    );
    f.driver.destroy(&net).await.unwrap();
    assert_eq!(
        f.host.calls(),
        ["stop-dnsmasq nat1", "delete virbr0", "firewall"]
    );
    assert_eq!(events.recv().await.unwrap().kind, NetworkEventKind::Stopped);
    assert!(!f.config.runtime_dir.join("nat1.xml").exists());
    assert_eq!(
        code(f.driver.destroy(&net).await.unwrap_err()),
        (
            ErrorCode::OperationInvalid,
            "Requested operation is not valid: network 'nat1' is not active".into()
        )
    );
}

#[tokio::test]
async fn a_failed_step_undoes_the_ones_before() {
    for step in ["bridge", "forwarding", "firewall", "dnsmasq"] {
        let f = fixture().await;
        let net = f.driver.define_xml(NAT, 0).await.unwrap();
        *f.host.fail.lock().unwrap() = Some(step);
        let e = f.driver.create(&net).await.unwrap_err();
        assert_eq!(e.message, format!("internal error: {step} failed"));
        assert!(
            f.host.links.lock().unwrap().is_empty(),
            "{step}: bridge left"
        );
        assert!(
            f.host.dnsmasq.lock().unwrap().is_empty(),
            "{step}: dnsmasq left"
        );
        *f.host.fail.lock().unwrap() = None;
        f.host.firewall(&[]).await.unwrap();
        assert!(!f.driver.is_active(&net).await.unwrap());
        assert!(!f.config.runtime_dir.join("nat1.xml").exists());
        // And it starts once the host works again.
        f.driver.create(&net).await.unwrap();
        assert_eq!(*f.host.firewall.lock().unwrap(), ["virbr0"]);
    }
}

#[tokio::test]
async fn a_link_of_the_bridges_name_is_refused_and_left_alone() {
    let f = fixture().await;
    let net = f.driver.define_xml(ISOLATED, 0).await.unwrap();
    // Someone else's link took the name after the definition.
    f.host.links.lock().unwrap().insert("oxvbr9".into());
    let e = f.driver.create(&net).await.unwrap_err();
    assert_eq!(e.message, "Unable to create bridge oxvbr9: File exists");
    assert!(f.host.links.lock().unwrap().contains("oxvbr9"));
    assert!(!f.host.calls().iter().any(|c| c.starts_with("delete")));
    assert!(!f.driver.is_active(&net).await.unwrap());
}

#[tokio::test]
async fn a_subnet_in_use_is_refused_before_anything_is_made() {
    let f = fixture().await;
    f.host.routes.lock().unwrap().push(crate::netlink::Route {
        dest: "192.168.150.0".parse().unwrap(),
        prefix: 24,
        dev: Some("eth0".into()),
        gateway: None,
    });
    let net = f.driver.define_xml(NAT, 0).await.unwrap();
    assert_eq!(
        code(f.driver.create(&net).await.unwrap_err()),
        (
            ErrorCode::InternalError,
            "internal error: Network is already in use by interface eth0".into()
        )
    );
    assert!(f.host.calls().iter().all(|c| !c.starts_with("bridge")));
}

#[tokio::test]
async fn transient_networks_vanish_when_destroyed() {
    let f = fixture().await;
    let mut events = f.driver.subscribe();
    let net = f.driver.create_xml(ISOLATED, 0).await.unwrap();
    assert_eq!(events.recv().await.unwrap().kind, NetworkEventKind::Started);
    assert!(!f.driver.is_persistent(&net).await.unwrap());
    assert_eq!(
        code(f.driver.set_autostart(&net, true).await.unwrap_err()).1,
        "Requested operation is not valid: cannot set autostart for transient network"
    );
    // Isolated: no forwarding, rules that keep it in.
    assert!(!f.host.calls().iter().any(|c| c.starts_with("forwarding")));
    assert_eq!(*f.host.firewall.lock().unwrap(), ["oxvbr9"]);
    f.driver.destroy(&net).await.unwrap();
    assert_eq!(
        code(f.driver.lookup_by_name("iso").await.unwrap_err()),
        (
            ErrorCode::NoNetwork,
            "Network not found: no network with matching name 'iso'".into()
        )
    );
}

#[tokio::test]
async fn undefining_a_running_network_leaves_it_running_transient() {
    let f = fixture().await;
    let net = f.driver.define_xml(NAT, 0).await.unwrap();
    f.driver.set_autostart(&net, true).await.unwrap();
    f.driver.create(&net).await.unwrap();
    f.driver.undefine(&net).await.unwrap();
    assert!(f.driver.is_active(&net).await.unwrap());
    assert!(!f.driver.is_persistent(&net).await.unwrap());
    assert!(!f.config.state_dir.join("nat1.xml").exists());
    assert!(!f.config.state_dir.join("autostart/nat1").exists());
    f.driver.destroy(&net).await.unwrap();
    assert!(f.driver.list_all(0).await.unwrap().is_empty());
}

#[tokio::test]
async fn list_filters_as_libvirt() {
    let f = fixture().await;
    let a = f.driver.define_xml(NAT, 0).await.unwrap();
    f.driver.create(&a).await.unwrap();
    f.driver.set_autostart(&a, true).await.unwrap();
    f.driver.define_xml(ISOLATED, 0).await.unwrap();
    let names = |v: Vec<NetworkRef>| v.into_iter().map(|n| n.name).collect::<Vec<_>>();
    assert_eq!(names(f.driver.list_all(0).await.unwrap()), ["iso", "nat1"]);
    assert_eq!(
        names(f.driver.list_all(flags::list::ACTIVE).await.unwrap()),
        ["nat1"]
    );
    assert_eq!(
        names(f.driver.list_all(flags::list::INACTIVE).await.unwrap()),
        ["iso"]
    );
    assert_eq!(
        names(f.driver.list_all(flags::list::NO_AUTOSTART).await.unwrap()),
        ["iso"]
    );
    assert_eq!(
        names(
            f.driver
                .list_all(flags::list::ACTIVE | flags::list::INACTIVE)
                .await
                .unwrap()
        ),
        ["iso", "nat1"]
    );
    assert!(f
        .driver
        .list_all(flags::list::TRANSIENT)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn a_restart_reattaches_running_networks_and_forgets_vanished_ones() {
    let f = fixture().await;
    let a = f.driver.define_xml(NAT, 0).await.unwrap();
    f.driver.create(&a).await.unwrap();
    let iso = f.driver.create_xml(ISOLATED, 0).await.unwrap();
    f.host.calls();
    // The isolated network's bridge disappears while the daemon is down.
    f.host.links.lock().unwrap().remove("oxvbr9");
    let again = f.reopen().await;
    assert!(again.is_active(&a).await.unwrap());
    assert!(again.lookup_by_uuid(&iso.uuid).await.is_err());
    let calls = f.host.calls();
    assert!(calls.contains(&"reattach nat1".to_string()), "{calls:?}");
    assert_eq!(calls.last().unwrap(), "firewall virbr0");
    // dnsmasq that died with the daemon away is started again.
    f.host.dnsmasq.lock().unwrap().clear();
    let _ = f.reopen().await;
    assert!(f.host.calls().contains(&"dnsmasq nat1".to_string()));
}

#[tokio::test]
async fn autostart_networks_start_when_the_driver_opens() {
    let f = fixture().await;
    let a = f.driver.define_xml(NAT, 0).await.unwrap();
    f.driver.set_autostart(&a, true).await.unwrap();
    let again = f.reopen().await;
    assert!(again.is_active(&a).await.unwrap());
    assert!(again.autostart(&a).await.unwrap());
}

#[tokio::test]
async fn ports_need_an_active_network_and_count_as_connections() {
    let f = fixture().await;
    let net = f.driver.define_xml(NAT, 0).await.unwrap();
    let request = PortRequest {
        network: "nat1".into(),
        portgroup: None,
        domain: "g".into(),
        domain_uuid: Uuid::new_v4().unwrap(),
        mac: "52:54:00:AA:BB:CC".into(),
    };
    assert_eq!(
        code(f.driver.plug(&request).await.unwrap_err()),
        (
            ErrorCode::OperationInvalid,
            "Requested operation is not valid: network 'nat1' is not active".into()
        )
    );
    let missing = PortRequest {
        network: "nope".into(),
        ..request.clone()
    };
    assert_eq!(
        code(f.driver.plug(&missing).await.unwrap_err()).0,
        ErrorCode::NoNetwork
    );
    f.driver.create(&net).await.unwrap();
    let binding = f.driver.plug(&request).await.unwrap();
    assert_eq!(binding.bridge, "virbr0");
    let xml = f.driver.xml_desc(&net, 0).await.unwrap();
    assert!(xml.contains("connections='1'"), "{xml}");
    assert!(!f
        .driver
        .xml_desc(&net, flags::xml::INACTIVE)
        .await
        .unwrap()
        .contains("connections="));
    // Ports survive a restart.
    let again = f.reopen().await;
    assert!(again
        .xml_desc(&net, 0)
        .await
        .unwrap()
        .contains("connections='1'"));
    again.unplug("nat1", &binding.port_id).await.unwrap();
    assert!(!again
        .xml_desc(&net, 0)
        .await
        .unwrap()
        .contains("connections="));
}

#[tokio::test]
async fn leases_come_from_the_lease_file_filtered_by_mac() {
    let f = fixture().await;
    let net = f.driver.define_xml(NAT, 0).await.unwrap();
    f.driver.create(&net).await.unwrap();
    *f.host.leases.lock().unwrap() = "4102444800 52:54:00:aa:bb:cc 192.168.150.10 guest1 *\n\
         4102444800 52:54:00:aa:bb:dd 192.168.150.11 * 01:52:54:00:aa:bb:dd\n"
        .to_string();
    let all = f.driver.dhcp_leases(&net, None).await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].iface, "virbr0");
    assert_eq!(all[0].prefix, 24);
    let one = f
        .driver
        .dhcp_leases(&net, Some("52:54:00:AA:BB:DD"))
        .await
        .unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].ip, "192.168.150.11");
    assert_eq!(f.driver.leases("nat1").await.unwrap().len(), 2);
}

#[tokio::test]
async fn live_updates_of_hosts_reload_dnsmasq_and_config_updates_persist() {
    let f = fixture().await;
    let net = f.driver.define_xml(NAT, 0).await.unwrap();
    f.driver.create(&net).await.unwrap();
    f.host.calls();
    let host = "<host mac='52:54:00:00:00:01' name='a' ip='192.168.150.5'/>";
    let up = |flags| Update {
        command: UpdateCommand::AddLast as u32,
        section: UpdateSection::IpDhcpHost as u32,
        parent_index: -1,
        xml: host.to_string(),
        flags,
    };
    f.driver
        .update(&net, &up(flags::update::LIVE | flags::update::CONFIG))
        .await
        .unwrap();
    assert_eq!(f.host.calls(), ["reload nat1"]);
    assert!(f
        .driver
        .xml_desc(&net, 0)
        .await
        .unwrap()
        .contains("name='a'"));
    assert!(f
        .driver
        .xml_desc(&net, flags::xml::INACTIVE)
        .await
        .unwrap()
        .contains("name='a'"));
    assert!(std::fs::read_to_string(f.config.state_dir.join("nat1.xml"))
        .unwrap()
        .contains("name='a'"));
    // The same host again is refused, and nothing changes.
    assert!(f
        .driver
        .update(&net, &up(flags::update::LIVE))
        .await
        .is_err());
    f.driver.destroy(&net).await.unwrap();
    assert_eq!(
        code(
            f.driver
                .update(&net, &up(flags::update::LIVE))
                .await
                .unwrap_err()
        )
        .1,
        "Requested operation is not valid: network 'nat1' is not active"
    );
}

#[tokio::test]
async fn opening_with_nothing_running_leaves_the_firewall_alone_unless_marked() {
    let f = fixture().await;
    let _ = f.reopen().await;
    assert!(!f.host.calls().iter().any(|c| c.starts_with("firewall")));
    // A table a previous daemon may have left (its mark is there) is removed.
    std::fs::write(f.config.runtime_dir.join("firewall"), "").unwrap();
    let _ = f.reopen().await;
    assert_eq!(f.host.calls(), ["firewall"]);
    assert!(!f.config.runtime_dir.join("firewall").exists());
    // Running networks keep the mark until the last one stops.
    let net = f.driver.create_xml(ISOLATED, 0).await.unwrap();
    assert!(f.config.runtime_dir.join("firewall").exists());
    f.driver.destroy(&net).await.unwrap();
    assert!(!f.config.runtime_dir.join("firewall").exists());
}
