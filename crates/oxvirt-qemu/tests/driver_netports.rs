//! `<interface type='network'>` with a real guest (the test guest of `cargo xtask guest`,
//! under TCG) and a fake provider of network ports: the driver takes a port at start, makes
//! the tap on the port's bridge, shows the port in the live definition, gives it back at
//! destroy, plugs and unplugs around hot attach and detach, and answers
//! `virDomainInterfaceAddresses` from the network's leases.
//!
//! Everything runs in a network namespace of its own (`oxvt-npX-PID`, deleted at the end,
//! also on failure): the test's thread moves into it before its runtime starts, so the
//! driver's taps, the bridge and QEMU are all there. Needs root, /dev/net/tun and `ip`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{guest_dir, guest_domain, serial_pty, Reaper, Scratch};

use std::os::fd::AsFd;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use oxvirt_domain::driver::ifaddr::{SRC_AGENT, SRC_LEASE};
use oxvirt_domain::driver::ports::{Lease, NetworkPorts, PortBinding, PortRequest};
use oxvirt_domain::driver::{Hypervisor, Result};
use oxvirt_qemu::driver::QemuDriver;
use oxvirt_xml::testdata::{self, Netns};
use oxvirt_xml::types::Uuid;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

const BRIDGE: &str = "oxnpbr0";
const MAC: &str = "52:54:00:4e:50:01";
const MAC2: &str = "52:54:00:4e:50:02";

/// A network namespace this test made (`oxvt-npTAG-PID`); deleted when dropped.
fn netns(tag: &str) -> Netns {
    Netns::add(format!("oxvt-np{tag}-{}", std::process::id()))
}

/// `ip -n NS ARGS`, which must succeed.
fn ip(ns: &Netns, args: &[&str]) {
    let ok = std::process::Command::new("ip")
        .args(["-n", ns.name()])
        .args(args)
        .status()
        .unwrap()
        .success();
    assert!(ok, "ip -n {} {args:?}", ns.name());
}

/// The fake network `fake` on bridge [`BRIDGE`]; `down` is an inactive network.
#[derive(Default)]
struct FakePorts {
    calls: Mutex<Vec<String>>,
    leases: Mutex<Vec<Lease>>,
}

impl FakePorts {
    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}

#[async_trait]
impl NetworkPorts for FakePorts {
    async fn plug(&self, request: &PortRequest) -> Result<PortBinding> {
        if request.network == "down" {
            return Err(VirError::new(
                ErrorDomain::Network,
                ErrorCode::OperationInvalid,
                "network 'down' is not active",
            ));
        }
        let port_id = Uuid::new_v4().unwrap();
        self.calls.lock().unwrap().push(format!(
            "plug {} {} {} {port_id}",
            request.network, request.domain, request.mac
        ));
        Ok(PortBinding {
            port_id,
            bridge: BRIDGE.into(),
            mtu: Some(1400),
        })
    }

    async fn unplug(&self, network: &str, port_id: &Uuid) -> Result<()> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("unplug {network} {port_id}"));
        Ok(())
    }

    async fn leases(&self, _network: &str) -> Result<Vec<Lease>> {
        Ok(self.leases.lock().unwrap().clone())
    }
}

fn usable(test: &str) -> bool {
    let ok = testdata::is_root()
        && Path::new("/dev/net/tun").exists()
        && Path::new("/usr/bin/qemu-system-x86_64").exists()
        && guest_dir().join("vmlinuz").exists();
    common::usable(
        test,
        ok,
        "needs root, /dev/net/tun, qemu-system-x86_64 and the test guest (cargo xtask guest)",
    )
}

fn domain_xml(name: &str) -> String {
    guest_domain(
        name,
        "<vcpu>1</vcpu>",
        &format!(
            "<interface type='network'><mac address='{MAC}'/>\
             <source network='fake'/><model type='virtio'/></interface>\
             <serial type='pty'/><memballoon model='none'/>"
        ),
    )
}

/// What `ip -j -n NS link show dev NAME` says of link `name` of namespace `ns` (sysfs
/// shows the namespace that mounted it, not the thread's), `None` if it is gone.
fn link(ns: &str, name: &str) -> Option<serde_json::Value> {
    let out = std::process::Command::new("ip")
        .args(["-j", "-n", ns, "link", "show", "dev", name])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    v.get(0).cloned()
}

fn exists(ns: &str, name: &str) -> bool {
    link(ns, name).is_some()
}

/// The tap's bridge, host-side MAC address and MTU.
fn tap_info(ns: &str, name: &str) -> (Option<String>, String, u64) {
    let l = link(ns, name).unwrap_or_else(|| panic!("no link {name}"));
    (
        l["master"].as_str().map(str::to_owned),
        l["address"].as_str().unwrap_or_default().to_owned(),
        l["mtu"].as_u64().unwrap_or_default(),
    )
}

/// Copies the guest's serial pty (from the live XML) into a buffer.
fn serial(xml: &str) -> Arc<Mutex<String>> {
    let pty = serial_pty(xml);
    let buf = Arc::new(Mutex::new(String::new()));
    let out = buf.clone();
    std::thread::spawn(move || {
        use std::io::Read;
        let Ok(mut input) = std::fs::File::open(&pty) else {
            return;
        };
        let mut chunk = [0u8; 4096];
        while let Ok(n) = input.read(&mut chunk) {
            if n == 0 {
                break;
            }
            out.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&chunk[..n]));
        }
    });
    buf
}

async fn wait_for(what: impl Fn() -> bool, secs: u64) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(secs) {
        if what() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// The `<interface>` of a live XML with MAC `mac`.
fn interface<'a>(xml: &'a str, mac: &str) -> &'a str {
    xml.split("<interface ")
        .skip(1)
        .map(|i| i.split("</interface>").next().unwrap())
        .find(|i| i.contains(mac))
        .unwrap_or_else(|| panic!("no interface {mac} in {xml}"))
}

fn attr<'a>(element: &'a str, name: &str) -> &'a str {
    element
        .split(&format!(" {name}='"))
        .nth(1)
        .and_then(|r| r.split('\'').next())
        .unwrap_or_else(|| panic!("no {name} in {element}"))
}

/// Runs `body` on a fresh runtime in a thread that moved into `ns` first (the runtime's
/// threads, the driver's netlink sockets and taps, and QEMU are then all in it).
fn run_in<T: Send + 'static>(
    ns: &Netns,
    body: impl std::future::Future<Output = T> + Send + 'static,
) -> T {
    let path = ns.path();
    let outcome = std::thread::spawn(move || {
        let file = std::fs::File::open(&path).unwrap();
        rustix::thread::move_into_link_name_space(
            file.as_fd(),
            Some(rustix::thread::LinkNameSpaceType::Network),
        )
        .unwrap();
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
            .block_on(body)
    })
    .join();
    match outcome {
        Ok(v) => v,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

#[test]
fn network_interfaces_take_ports_and_give_them_back() {
    if !usable("network_interfaces_take_ports_and_give_them_back") {
        return;
    }
    let ns = netns("a");
    ip(
        &ns,
        &["link", "add", BRIDGE, "mtu", "1450", "type", "bridge"],
    );
    ip(&ns, &["link", "set", BRIDGE, "up"]);
    let ns_name = ns.name().to_owned();
    run_in(&ns, async move {
        let scratch = Scratch::new("netports", "np");
        let fake = Arc::new(FakePorts::default());
        let driver = QemuDriver::open_with_networks(scratch.config(), Some(fake.clone()))
            .await
            .unwrap();

        // An inactive network: plug's error, nothing started.
        let down = domain_xml("npdown").replace("network='fake'", "network='down'");
        let dom = driver.define_xml(&down, 0).await.unwrap();
        let e = driver.create(&dom, 0).await.unwrap_err();
        assert_eq!(e.code, ErrorCode::OperationInvalid);
        assert_eq!(
            e.message,
            "Requested operation is not valid: network 'down' is not active"
        );
        assert!(driver.running_pids().is_empty());
        driver.undefine(&dom, 0).await.unwrap();

        let dom = driver.define_xml(&domain_xml("np1"), 0).await.unwrap();
        driver.create(&dom, 0).await.unwrap();
        let _reaper = Reaper(driver.running_pids());
        let calls = fake.calls();
        assert_eq!(calls.len(), 1, "{calls:?}");
        assert!(
            calls[0].starts_with(&format!("plug fake np1 {MAC} ")),
            "{calls:?}"
        );
        let port = calls[0].rsplit(' ').next().unwrap().to_string();

        // The live XML shows the port, the bridge and the tap (no MTU: the tap takes the
        // bridge's, as libvirt's).
        let live = driver.xml_desc(&dom, 0).await.unwrap();
        let iface = interface(&live, MAC);
        assert!(iface.starts_with("type='network'>"), "{iface}");
        assert!(
            iface.contains(&format!(
                "<source network='fake' portid='{port}' bridge='{BRIDGE}'/>"
            )),
            "{iface}"
        );
        assert!(!iface.contains("<mtu"), "{iface}");
        assert!(iface.contains("<alias name='net0'/>"), "{iface}");
        let tap = attr(iface.split("<target").nth(1).unwrap(), "dev").to_string();
        assert_eq!(tap, "vnet0");
        // The inactive definition keeps the network only.
        let inactive = driver.xml_desc(&dom, 2).await.unwrap();
        let iface = interface(&inactive, MAC);
        assert!(iface.contains("<source network='fake'/>"), "{iface}");
        assert!(!iface.contains("<mtu"), "{iface}");

        // The tap: on the bridge, host MAC fe:..., the bridge's MTU.
        assert_eq!(
            tap_info(&ns_name, &tap),
            (
                Some(BRIDGE.to_string()),
                "fe:54:00:4e:50:01".to_string(),
                1450
            )
        );
        let nics = driver.qemu_nics(&dom).await.unwrap();
        assert_eq!(nics.len(), 1, "{nics:?}");
        assert_eq!(nics[0].mac, MAC);

        // domifaddr: the leases of the network for the interface's MAC.
        let lease = |mac: &str, ip: &str| Lease {
            iface: BRIDGE.into(),
            expiry_time: 0,
            kind: 0,
            mac: Some(mac.into()),
            iaid: None,
            ip: ip.into(),
            prefix: 24,
            hostname: None,
            client_id: None,
        };
        *fake.leases.lock().unwrap() = vec![
            lease("52:54:00:99:99:99", "192.168.100.9"),
            lease(MAC, "192.168.100.50"),
        ];
        let got = driver
            .interface_addresses(&dom, SRC_LEASE, 0)
            .await
            .unwrap();
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].name, "vnet0");
        assert_eq!(got[0].hwaddr.as_deref(), Some(MAC));
        assert_eq!(got[0].addrs[0].addr, "192.168.100.50");
        assert_eq!(got[0].addrs[0].prefix, 24);
        let e = driver
            .interface_addresses(&dom, SRC_AGENT, 0)
            .await
            .unwrap_err();
        assert_eq!(
            e.message,
            "argument unsupported: QEMU guest agent is not configured"
        );
        let e = driver.interface_addresses(&dom, 7, 0).await.unwrap_err();
        assert_eq!(
            e.message,
            "argument unsupported: Unknown IP address data source 7"
        );

        // Hot attach: a second port and tap; detach gives them back once the guest (booted,
        // to answer the unplug request) lets the NIC go.
        let console = serial(&live);
        let booted = wait_for(
            || console.lock().unwrap().contains("OXVIRT-GUEST-READY"),
            120,
        )
        .await;
        assert!(booted, "guest did not boot");
        let nic = format!(
            "<interface type='network'><mac address='{MAC2}'/><source network='fake'/>\
             <model type='virtio'/></interface>"
        );
        driver.attach_device(&dom, &nic, 1).await.unwrap();
        let calls = fake.calls();
        assert_eq!(calls.len(), 2, "{calls:?}");
        assert!(calls[1].starts_with(&format!("plug fake np1 {MAC2} ")));
        let port2 = calls[1].rsplit(' ').next().unwrap().to_string();
        let live = driver.xml_desc(&dom, 0).await.unwrap();
        let iface = interface(&live, MAC2);
        assert!(
            iface.contains(&format!(
                "<source network='fake' portid='{port2}' bridge='{BRIDGE}'/>"
            )),
            "{iface}"
        );
        let tap2 = attr(iface.split("<target").nth(1).unwrap(), "dev").to_string();
        assert_eq!(tap2, "vnet1");
        assert_eq!(
            tap_info(&ns_name, &tap2),
            (
                Some(BRIDGE.to_string()),
                "fe:54:00:4e:50:02".to_string(),
                1450
            )
        );
        // An attach to an inactive network fails as the port does; nothing is left.
        let bad = nic
            .replace(MAC2, "52:54:00:4e:50:03")
            .replace("network='fake'", "network='down'");
        let e = driver.attach_device(&dom, &bad, 1).await.unwrap_err();
        assert_eq!(
            e.message,
            "Requested operation is not valid: network 'down' is not active"
        );
        assert_eq!(fake.calls().len(), 2, "{:?}", fake.calls());
        assert!(!exists(&ns_name, "vnet2"));
        let live = driver.xml_desc(&dom, 0).await.unwrap();
        assert!(!live.contains("52:54:00:4e:50:03"), "{live}");

        driver.detach_device(&dom, &nic, 1).await.unwrap();
        let unplugged = wait_for(|| fake.calls().len() == 3, 120).await;
        assert!(unplugged, "no unplug after detach: {:?}", fake.calls());
        assert_eq!(fake.calls()[2], format!("unplug fake {port2}"));
        assert!(
            wait_for(|| !exists(&ns_name, &tap2), 10).await,
            "{tap2} left"
        );
        assert!(exists(&ns_name, &tap));

        // Destroy gives the first port back and the tap goes.
        driver.destroy(&dom, 0).await.unwrap();
        let calls = fake.calls();
        assert_eq!(calls.len(), 4, "{calls:?}");
        assert_eq!(calls[3], format!("unplug fake {port}"));
        assert!(
            wait_for(|| !exists(&ns_name, &tap), 10).await,
            "{tap} left after destroy"
        );
        let e = driver
            .interface_addresses(&dom, SRC_LEASE, 0)
            .await
            .unwrap_err();
        assert_eq!(
            e.message,
            "Requested operation is not valid: domain is not running"
        );
    });
    drop(ns);
}

#[test]
fn ports_survive_a_daemon_restart() {
    if !usable("ports_survive_a_daemon_restart") {
        return;
    }
    let ns = netns("b");
    ip(&ns, &["link", "add", BRIDGE, "type", "bridge"]);
    ip(&ns, &["link", "set", BRIDGE, "up"]);
    let scratch = Scratch::new("netports", "restart");
    let config = scratch.config();
    let fake = Arc::new(FakePorts::default());
    // The first driver starts the domain; its runtime (monitor connections) then ends, as a
    // daemon that exits leaves QEMU running.
    let (first, ports) = (config.clone(), fake.clone());
    let (port, pids) = run_in(&ns, async move {
        let driver = QemuDriver::open_with_networks(first, Some(ports.clone()))
            .await
            .unwrap();
        let dom = driver.define_xml(&domain_xml("np2"), 0).await.unwrap();
        driver.create(&dom, 0).await.unwrap();
        let calls = ports.calls();
        assert_eq!(calls.len(), 1, "{calls:?}");
        let port = calls[0].rsplit(' ').next().unwrap().to_string();
        (port, driver.running_pids())
    });
    let _reaper = Reaper(pids);
    let ns_name = ns.name().to_owned();
    run_in(&ns, async move {
        let driver = QemuDriver::open_with_networks(config, Some(fake.clone()))
            .await
            .unwrap();
        let dom = driver.lookup_by_name("np2").await.unwrap();
        assert!(driver.is_active(&dom).await.unwrap(), "not reattached");
        let live = driver.xml_desc(&dom, 0).await.unwrap();
        let iface = interface(&live, MAC);
        assert!(
            iface.contains(&format!(
                "<source network='fake' portid='{port}' bridge='{BRIDGE}'/>"
            )),
            "{iface}"
        );
        assert!(exists(&ns_name, "vnet0"));
        driver.destroy(&dom, 0).await.unwrap();
        let calls = fake.calls();
        assert_eq!(calls.len(), 2, "{calls:?}");
        assert_eq!(calls[1], format!("unplug fake {port}"));
        assert!(
            wait_for(|| !exists(&ns_name, "vnet0"), 10).await,
            "vnet0 left after destroy"
        );
    });
    drop(scratch);
    drop(ns);
}
