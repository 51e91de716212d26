//! Tap interfaces of domains run by `QemuDriver` with a real QEMU (SeaBIOS idling, no
//! guest needed): the daemon creates the tap, enslaves it to a bridge this test creates
//! over netlink (`oxbrPID...`, deleted at the end), and QEMU gets the NIC over the monitor
//! before its CPUs start. Needs root and /dev/net/tun; skipped visibly otherwise.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Reaper, Scratch};

use std::path::Path;
use std::time::{Duration, Instant};

use futures_util::TryStreamExt;
use oxvirt_domain::driver::{Hypervisor, StateReason};
use oxvirt_qemu::driver::QemuDriver;
use oxvirt_xml::{ErrorCode, ErrorDomain};
use rtnetlink::LinkBridge;

fn usable(test: &str) -> bool {
    let ok = oxvirt_xml::testdata::is_root()
        && Path::new("/dev/net/tun").exists()
        && Path::new("/usr/bin/qemu-system-x86_64").exists();
    common::usable(test, ok, "needs root, /dev/net/tun and qemu-system-x86_64")
}

impl Scratch {
    async fn driver(&self) -> QemuDriver {
        QemuDriver::open(self.config()).await.unwrap()
    }
}

/// A link this test created; deleted over netlink by [`Link::delete`], and as a last resort
/// (a failed assertion) by `ip link del` when dropped.
struct Link(String);

impl Link {
    fn name(tag: &str) -> String {
        format!("ox{tag}{}", std::process::id())
    }

    async fn bridge(tag: &str) -> Link {
        let name = Link::name(tag);
        let handle = handle();
        handle
            .link()
            .add(LinkBridge::new(&name).up().build())
            .execute()
            .await
            .unwrap();
        Link(name)
    }

    async fn delete(self) {
        let handle = handle();
        let index = index_of(&handle, &self.0).await.expect("link to delete");
        handle.link().del(index).execute().await.unwrap();
        assert!(!exists(&self.0));
        std::mem::forget(self);
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip")
            .args(["link", "del", &self.0])
            .stderr(std::process::Stdio::null())
            .status();
    }
}

fn handle() -> rtnetlink::Handle {
    let (conn, handle, _) = rtnetlink::new_connection().unwrap();
    tokio::spawn(conn);
    handle
}

async fn index_of(handle: &rtnetlink::Handle, name: &str) -> Option<u32> {
    let mut links = handle.link().get().match_name(name.to_string()).execute();
    links
        .try_next()
        .await
        .ok()
        .flatten()
        .map(|m| m.header.index)
}

fn exists(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

fn sys(name: &str, what: &str) -> String {
    std::fs::read_to_string(Path::new("/sys/class/net").join(name).join(what))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// The bridge a link is enslaved to, if any.
fn master(name: &str) -> Option<String> {
    let target = std::fs::read_link(Path::new("/sys/class/net").join(name).join("master")).ok()?;
    Some(target.file_name()?.to_string_lossy().into_owned())
}

fn is_up(name: &str) -> bool {
    let flags = sys(name, "flags");
    u32::from_str_radix(flags.trim_start_matches("0x"), 16).unwrap_or(0) & 1 == 1
}

async fn wait_gone(name: &str) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if !exists(name) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

fn domain_xml(name: &str, interfaces: &str) -> String {
    format!(
        "<domain type='qemu'><name>{name}</name><memory unit='MiB'>64</memory>\
         <vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os>\
         <features><acpi/></features><devices>{interfaces}<memballoon model='none'/></devices></domain>"
    )
}

/// The target dev of interface `i` in a live XML.
fn target_dev(xml: &str, i: usize) -> String {
    let iface = xml.split("<interface ").nth(i + 1).expect("interface");
    let iface = iface.split("</interface>").next().unwrap();
    iface
        .split("<target dev='")
        .nth(1)
        .and_then(|r| r.split('\'').next())
        .unwrap_or_else(|| panic!("no target in {iface}"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bridge_tap_is_created_enslaved_given_to_qemu_and_removed() {
    if !usable("bridge") {
        return;
    }
    let scratch = Scratch::new("net", "bridge");
    let bridge = Link::bridge("br").await;
    let driver = scratch.driver().await;
    let xml = domain_xml(
        "nb",
        &format!(
            "<interface type='user'><mac address='52:54:00:12:00:01'/></interface>\
             <interface type='bridge'><mac address='52:54:00:12:34:56'/>\
             <source bridge='{}'/><model type='virtio'/></interface>",
            bridge.0
        ),
    );
    let dom = driver.define_xml(&xml, 0).await.unwrap();
    driver.create(&dom, 0).await.unwrap();
    let _reaper = Reaper(driver.running_pids());

    let live = driver.xml_desc(&dom, 0).await.unwrap();
    let tap = target_dev(&live, 1);
    assert!(tap.starts_with("vnet"), "{tap}");
    assert!(live.contains("<alias name='net0'/>"), "{live}");
    assert!(live.contains("<alias name='net1'/>"), "{live}");
    assert!(exists(&tap));
    assert_eq!(master(&tap).as_deref(), Some(bridge.0.as_str()));
    assert!(is_up(&tap));
    assert_eq!(sys(&tap, "address"), "fe:54:00:12:34:56");
    assert_eq!(sys(&tap, "mtu"), sys(&bridge.0, "mtu"));

    // The guest sees both NICs at the slots the command line gives them (user: 0x2 then
    // the bridge's virtio NIC: 0x3), with their MAC addresses.
    let nics = driver.qemu_nics(&dom).await.unwrap();
    let seen: Vec<(String, u64, String)> = nics
        .iter()
        .map(|n| (n.id.clone(), n.slot, n.mac.clone()))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("net0".to_string(), 2, "52:54:00:12:00:01".to_string()),
            ("net1".to_string(), 3, "52:54:00:12:34:56".to_string()),
        ]
    );
    let state = driver.state(&dom, 0).await.unwrap();
    assert!(matches!(state, StateReason::Running(_)), "{state:?}");

    driver.destroy(&dom, 0).await.unwrap();
    assert!(wait_gone(&tap).await, "{tap} left after destroy");
    assert!(driver.running_pids().is_empty());
    // The persistent XML gains no target.
    let inactive = driver.xml_desc(&dom, 0).await.unwrap();
    assert!(!inactive.contains("<target dev="), "{inactive}");
    bridge.delete().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ethernet_taps_managed_and_unmanaged() {
    if !usable("ethernet") {
        return;
    }
    let scratch = Scratch::new("net", "eth");
    let driver = scratch.driver().await;
    let named = Link::name("tn");
    // An unmanaged tap must exist: made persistent by hand, as an administrator would.
    let existing = Link(Link::name("tu"));
    let made = std::process::Command::new("ip")
        .args(["tuntap", "add", "dev", &existing.0, "mode", "tap"])
        .status()
        .unwrap();
    assert!(made.success());
    let xml = domain_xml(
        "ne",
        &format!(
            "<interface type='ethernet'><mac address='52:54:00:00:aa:01'/>\
             <target dev='{named}'/><model type='e1000'/></interface>\
             <interface type='ethernet'><mac address='52:54:00:00:aa:02'/>\
             <target dev='{}' managed='no'/><model type='virtio'/></interface>",
            existing.0
        ),
    );
    let dom = driver.define_xml(&xml, 0).await.unwrap();
    driver.create(&dom, 0).await.unwrap();
    let _reaper = Reaper(driver.running_pids());
    let live = driver.xml_desc(&dom, 0).await.unwrap();
    assert_eq!(target_dev(&live, 0), named);
    assert_eq!(target_dev(&live, 1), existing.0);
    assert!(live.contains("managed='no'"), "{live}");
    assert!(exists(&named) && is_up(&named));
    assert_eq!(master(&named), None);
    assert_eq!(sys(&named, "address"), "fe:54:00:00:aa:01");
    let nics = driver.qemu_nics(&dom).await.unwrap();
    assert_eq!(nics.len(), 2, "{nics:?}");
    assert_eq!(nics[0].mac, "52:54:00:00:aa:01");
    assert_eq!(nics[1].mac, "52:54:00:00:aa:02");

    driver.destroy(&dom, 0).await.unwrap();
    assert!(wait_gone(&named).await, "{named} left after destroy");
    // The unmanaged tap is the administrator's: it stays.
    assert!(exists(&existing.0));
    existing.delete().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_type_and_missing_bridge_are_refused_leaving_nothing() {
    if !usable("refused") {
        return;
    }
    let scratch = Scratch::new("net", "refused");
    let driver = scratch.driver().await;
    let xml = domain_xml(
        "nn",
        "<interface type='network'><source network='default'/></interface>",
    );
    let dom = driver.define_xml(&xml, 0).await.unwrap();
    let err = driver.create(&dom, 0).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::NoNetwork);
    assert_eq!(err.domain, ErrorDomain::Network);
    assert_eq!(
        err.message,
        "Network not found: no network with matching name 'default'"
    );
    assert!(!driver.is_active(&dom).await.unwrap());
    assert!(driver.running_pids().is_empty());

    let missing = Link::name("nobr");
    let xml = domain_xml(
        "nm",
        &format!("<interface type='bridge'><source bridge='{missing}'/></interface>"),
    );
    let dom = driver.define_xml(&xml, 0).await.unwrap();
    let err = driver.create(&dom, 0).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::SystemError);
    assert_eq!(
        err.message,
        format!("Cannot get interface MTU on '{missing}': No such device")
    );
    assert!(!driver.is_active(&dom).await.unwrap());
    assert!(driver.running_pids().is_empty());
    // Without ACPI, i440FX's pci.0 takes no device_add, even before the CPUs start: the
    // start fails and the tap the daemon created for it goes away with QEMU.
    let bridge = Link::bridge("bn").await;
    let named = Link::name("tf");
    let xml = domain_xml(
        "nf",
        &format!(
            "<interface type='bridge'><source bridge='{}'/><target dev='{named}'/>\
             </interface>",
            bridge.0
        ),
    )
    .replace("<features><acpi/></features>", "");
    let dom = driver.define_xml(&xml, 0).await.unwrap();
    let err = driver.create(&dom, 0).await.unwrap_err();
    assert_eq!(
        err.message,
        "internal error: unable to execute QEMU command 'device_add': \
         Bus 'pci.0' does not support hotplugging"
    );
    assert!(!driver.is_active(&dom).await.unwrap());
    assert!(driver.running_pids().is_empty());
    assert!(wait_gone(&named).await, "{named} left after a failed start");
    bridge.delete().await;
    // The failed starts left no status file and no private directory.
    let run = scratch.0.join("run/qemu");
    let left: Vec<_> = std::fs::read_dir(&run)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        left.iter().all(|n| !n.to_string_lossy().ends_with(".xml")),
        "{left:?}"
    );
}
