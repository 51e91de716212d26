//! Network interfaces: a `-netdev` backend and a `-device` front end each.
//!
//! `user` interfaces are built on the command line. Tap interfaces (`bridge`, `ethernet`)
//! print as libvirt prints them, with the tap passed as `fd=`; the driver, which cannot hand
//! QEMU a descriptor at exec without unsafe code, takes them out again with [`strip_taps`]
//! and adds them over the monitor before the CPUs start, from [`tap_nics`]: the same
//! device properties, so the NIC lands on the slot the command line would give it.

use oxvirt_domain::devices::interface::{Interface, InterfaceType};
use oxvirt_domain::Domain;
use oxvirt_xml::VirError;

use super::disk::BootOrder;
use super::pci::Plan;
use super::{unsupported, Args};

/// The QEMU device of a NIC model (`rtl8139` when none is given, as libvirt on x86).
fn device_model(model: Option<&str>) -> Result<&'static str, VirError> {
    Ok(match model.unwrap_or("rtl8139") {
        "rtl8139" => "rtl8139",
        "e1000" => "e1000",
        "e1000e" => "e1000e",
        "virtio" => "virtio-net-pci",
        "ne2k_pci" => "ne2k_pci",
        "pcnet" => "pcnet",
        other => return Err(unsupported(format!("NIC model '{other}'"))),
    })
}

/// Whether an interface is backed by a tap device the daemon creates or opens.
pub fn is_tap(net: &Interface) -> bool {
    matches!(net.kind, InterfaceType::Bridge | InterfaceType::Ethernet)
}

/// A tap interface's front end, to add over the monitor (`device_add`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TapNic {
    /// The interface's index in the definition.
    pub index: usize,
    /// The backend id (`hostnetN`).
    pub netdev: String,
    /// The `-device` properties in command-line order, the driver (`virtio-net-pci`)
    /// first under the key `driver`.
    pub props: Vec<(String, String)>,
}

/// The `-device` value of interface `i` (driver first, then `key=value`s).
fn device_props(
    domain: &Domain,
    plan: &Plan,
    boot: &BootOrder,
    i: usize,
) -> Result<Vec<(String, String)>, VirError> {
    let net = &domain.devices.interfaces[i];
    let model = match (&plan.ccw, net.model.as_deref()) {
        (Some(_), None | Some("virtio")) => "virtio-net-ccw",
        (Some(_), Some(other)) => return Err(unsupported(format!("NIC model '{other}'"))),
        (None, model) => device_model(model)?,
    };
    let mut props = vec![
        ("driver".to_string(), model.to_string()),
        ("netdev".to_string(), format!("hostnet{i}")),
        ("id".to_string(), format!("net{i}")),
    ];
    let mac = net
        .mac
        .as_ref()
        .and_then(|m| m.address.as_ref())
        .ok_or_else(|| unsupported("interface without MAC address"))?;
    props.push(("mac".into(), mac.to_string()));
    if let Some(b) = boot.nets[i] {
        props.push(("bootindex".into(), b.to_string()));
    }
    if let Some(ccw) = &plan.ccw {
        let devno = ccw.nets[i]
            .as_ref()
            .ok_or_else(|| unsupported("interface without CCW address"))?;
        props.push(("devno".into(), devno.clone()));
    } else {
        let slot = plan.nets[i]
            .as_ref()
            .ok_or_else(|| unsupported("interface without PCI address"))?;
        for part in plan.format(slot).split(',') {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            props.push((k.to_string(), v.to_string()));
        }
    }
    if net.info.rom.as_ref().and_then(|r| r.enabled) == Some(false) {
        props.push(("romfile".into(), String::new()));
    }
    Ok(props)
}

/// Refuses what this generator does not build for interface `net`.
fn check(net: &Interface) -> Result<(), VirError> {
    if net.kind != InterfaceType::User && !is_tap(net) {
        return Err(unsupported(format!("interface type '{}'", net.kind)));
    }
    if net.driver.is_some() || net.backend.is_some() {
        return Err(unsupported("interface driver or backend"));
    }
    if net.target.is_some() && !is_tap(net) {
        return Err(unsupported("interface target"));
    }
    Ok(())
}

/// Adds each interface's `-netdev` and `-device`.
pub fn build(argv: &mut Args, domain: &Domain, plan: &Plan) -> Result<(), VirError> {
    let boot = BootOrder::new(domain);
    for (i, net) in domain.devices.interfaces.iter().enumerate() {
        check(net)?;
        let netdev = if is_tap(net) {
            // libvirt's test harness shows every tap as fd 3, and a virtio NIC's vhost-net
            // descriptor as 44.
            if net.is_virtio() && plan.ccw.is_none() {
                format!("tap,fd=3,vhost=on,vhostfd=44,id=hostnet{i}")
            } else {
                format!("tap,fd=3,id=hostnet{i}")
            }
        } else {
            format!("user,id=hostnet{i}")
        };
        argv.opt("-netdev", netdev);
        let props = device_props(domain, plan, &boot, i)?;
        let mut s = String::new();
        for (k, v) in &props {
            if k == "driver" {
                s.push_str(v);
            } else {
                s.push_str(&format!(",{k}={v}"));
            }
        }
        argv.opt("-device", s);
    }
    Ok(())
}

/// The front ends of `domain`'s tap interfaces, with the PCI (or CCW) addresses and boot
/// indexes the command line would give them.
pub fn tap_nics(domain: &Domain) -> Result<Vec<TapNic>, VirError> {
    let plan = Plan::new(domain)?;
    let boot = BootOrder::new(domain);
    let mut out = Vec::new();
    for (i, net) in domain.devices.interfaces.iter().enumerate() {
        if !is_tap(net) {
            continue;
        }
        check(net)?;
        out.push(TapNic {
            index: i,
            netdev: format!("hostnet{i}"),
            props: device_props(domain, &plan, &boot, i)?,
        });
    }
    Ok(out)
}

/// `argv` without its tap interfaces: each `-netdev tap,...,id=ID` and the `-device` whose
/// `netdev=ID` names it.
pub fn strip_taps(argv: Vec<String>) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for pair in argv.windows(2) {
        if pair[0] == "-netdev" && pair[1].starts_with("tap,") {
            if let Some(id) = pair[1].split(',').find_map(|p| p.strip_prefix("id=")) {
                ids.push(id.to_string());
            }
        }
    }
    let drop = |opt: &str, value: &str| match opt {
        "-netdev" => value.starts_with("tap,"),
        "-device" => value
            .split(',')
            .filter_map(|p| p.strip_prefix("netdev="))
            .any(|n| ids.iter().any(|id| id == n)),
        _ => false,
    };
    let mut out = Vec::with_capacity(argv.len());
    let mut it = argv.into_iter().peekable();
    while let Some(arg) = it.next() {
        if arg == "-netdev" || arg == "-device" {
            if let Some(value) = it.peek() {
                if drop(&arg, value) {
                    it.next();
                    continue;
                }
            }
        }
        out.push(arg);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domain(devices: &str) -> Domain {
        let xml = format!(
            "<domain type='qemu'><name>n</name><memory>65536</memory><os>\
             <type arch='x86_64' machine='pc'>hvm</type></os><devices>{devices}</devices>\
             </domain>"
        );
        Domain::parse(&xml).expect("parse").domain
    }

    const NICS: &str = "<interface type='user'><mac address='52:54:00:00:00:01'/></interface>\
        <interface type='bridge'><mac address='52:54:00:00:00:02'/><source bridge='br0'/>\
        <model type='virtio'/></interface>\
        <interface type='ethernet'><mac address='52:54:00:00:00:03'/>\
        <target dev='tap7'/></interface>";

    #[test]
    fn taps_print_with_fd_and_strip_out() {
        let d = domain(NICS);
        let ctx = super::super::BuildContext::libvirt_test("n");
        let argv = super::super::build(&d, &ctx).expect("build");
        let text = argv.join(" ");
        assert!(text.contains("-netdev tap,fd=3,vhost=on,vhostfd=44,id=hostnet1 -device virtio-net-pci,netdev=hostnet1,id=net1,mac=52:54:00:00:00:02,bus=pci.0,addr=0x3"), "{text}");
        assert!(text.contains("-netdev tap,fd=3,id=hostnet2 -device rtl8139,netdev=hostnet2,id=net2,mac=52:54:00:00:00:03,bus=pci.0,addr=0x4"), "{text}");
        let stripped = strip_taps(argv.clone()).join(" ");
        assert!(!stripped.contains("tap,"), "{stripped}");
        assert!(!stripped.contains("hostnet1") && !stripped.contains("hostnet2"));
        assert!(stripped.contains("-netdev user,id=hostnet0 -device rtl8139,netdev=hostnet0,id=net0,mac=52:54:00:00:00:01,bus=pci.0,addr=0x2"), "{stripped}");
        assert_eq!(stripped.split(' ').count(), argv.len() - 8);
    }

    #[test]
    fn tap_nics_keep_the_planned_slots() {
        let nics = tap_nics(&domain(NICS)).expect("nics");
        assert_eq!(nics.len(), 2);
        assert_eq!(nics[0].index, 1);
        assert_eq!(nics[0].netdev, "hostnet1");
        let want: Vec<(String, String)> = [
            ("driver", "virtio-net-pci"),
            ("netdev", "hostnet1"),
            ("id", "net1"),
            ("mac", "52:54:00:00:00:02"),
            ("bus", "pci.0"),
            ("addr", "0x3"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(nics[0].props, want);
        assert_eq!(nics[1].props[0].1, "rtl8139");
        assert_eq!(nics[1].props[5].1, "0x4");
    }

    #[test]
    fn network_type_is_not_built() {
        let d = domain("<interface type='network'><source network='default'/></interface>");
        assert!(tap_nics(&d).expect("no taps").is_empty());
        let ctx = super::super::BuildContext::libvirt_test("n");
        assert!(super::super::build(&d, &ctx).is_err());
    }
}
