//! Network interfaces: a `-netdev` backend and a `-device` front end each.

use oxvirt_domain::devices::interface::InterfaceType;
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

/// Adds each interface's `-netdev` and `-device`.
pub fn build(argv: &mut Args, domain: &Domain, plan: &Plan) -> Result<(), VirError> {
    let boot = BootOrder::new(domain);
    for (i, net) in domain.devices.interfaces.iter().enumerate() {
        if net.kind != InterfaceType::User {
            return Err(unsupported(format!("interface type '{}'", net.kind)));
        }
        if net.driver.is_some() || net.backend.is_some() || net.target.is_some() {
            return Err(unsupported("interface driver, backend or target"));
        }
        let model = match (&plan.ccw, net.model.as_deref()) {
            (Some(_), None | Some("virtio")) => "virtio-net-ccw",
            (Some(_), Some(other)) => return Err(unsupported(format!("NIC model '{other}'"))),
            (None, model) => device_model(model)?,
        };
        argv.opt("-netdev", format!("user,id=hostnet{i}"));
        let mut s = format!("{model},netdev=hostnet{i},id=net{i}");
        let mac = net
            .mac
            .as_ref()
            .and_then(|m| m.address.as_ref())
            .ok_or_else(|| unsupported("interface without MAC address"))?;
        s.push_str(&format!(",mac={mac}"));
        if let Some(b) = boot.nets[i] {
            s.push_str(&format!(",bootindex={b}"));
        }
        if let Some(ccw) = &plan.ccw {
            let devno = ccw.nets[i]
                .as_ref()
                .ok_or_else(|| unsupported("interface without CCW address"))?;
            s.push_str(&format!(",devno={devno}"));
        } else {
            let slot = plan.nets[i]
                .as_ref()
                .ok_or_else(|| unsupported("interface without PCI address"))?;
            s.push(',');
            s.push_str(&plan.format(slot));
        }
        if net.info.rom.as_ref().and_then(|r| r.enabled) == Some(false) {
            s.push_str(",romfile=");
        }
        argv.opt("-device", s);
    }
    Ok(())
}
