//! Controllers and the devices after the disks: network, serial ports, audio, video, balloon.

use oxvirt_domain::devices::controller::ControllerType;
use oxvirt_domain::devices::input::{InputBus, InputType};
use oxvirt_domain::devices::misc::MemballoonModel;
use oxvirt_domain::devices::Controller;
use oxvirt_domain::{DeviceAddress, Domain};
use oxvirt_xml::VirError;

use super::general::{is_i440fx, is_x86};
use super::pci::Plan;
use super::{chardev, net};
use super::{unsupported, Args, BuildContext};

/// The alias of USB controller `index` (`usb`, `usb1`, ...).
fn usb_alias(index: u32) -> String {
    if index == 0 {
        "usb".to_string()
    } else {
        format!("usb{index}")
    }
}

/// The QEMU device of a USB controller model.
fn usb_device(model: &str) -> Option<&'static str> {
    Some(match model {
        "piix3-uhci" => "piix3-usb-uhci",
        "piix4-uhci" => "piix4-usb-uhci",
        "ich9-ehci1" => "ich9-usb-ehci1",
        "ich9-uhci1" => "ich9-usb-uhci1",
        "ich9-uhci2" => "ich9-usb-uhci2",
        "ich9-uhci3" => "ich9-usb-uhci3",
        "nec-xhci" => "nec-usb-xhci",
        "qemu-xhci" => "qemu-xhci",
        "vt82c686b-uhci" => "vt82c686b-usb-uhci",
        _ => return None,
    })
}

/// The QEMU device of a PCI controller libvirt adds as a device (root ports and bridges).
fn pci_controller_device(c: &Controller) -> Option<&'static str> {
    Some(match c.model.as_deref()? {
        "pcie-root-port" => "pcie-root-port",
        "pci-bridge" => "pci-bridge",
        "pcie-pci-bridge" => "pcie-pci-bridge",
        _ => return None,
    })
}

/// Adds the PCI root ports and bridges, by index, before every other controller (as
/// libvirt does): `pcie-root-port,port=16,chassis=1,id=pci.1,bus=pcie.0,addr=0x2`.
fn pci_controllers(argv: &mut Args, ctrls: &[Controller], plan: &Plan) -> Result<(), VirError> {
    let mut pci: Vec<(usize, &Controller)> = ctrls
        .iter()
        .enumerate()
        .filter(|(_, c)| c.kind == ControllerType::Pci && pci_controller_device(c).is_some())
        .collect();
    pci.sort_by_key(|(_, c)| c.index.unwrap_or(0));
    for (i, c) in pci {
        let Some(dev) = pci_controller_device(c) else {
            continue;
        };
        let index = c.index.unwrap_or(0);
        let target = c.target.clone().unwrap_or_default();
        let mut s = dev.to_string();
        match dev {
            "pcie-root-port" => {
                let port = target
                    .port
                    .ok_or_else(|| unsupported("pcie-root-port without a port"))?;
                let chassis = target.chassis.unwrap_or(index);
                s.push_str(&format!(",port={port},chassis={chassis}"));
            }
            "pci-bridge" => {
                s.push_str(&format!(
                    ",chassis_nr={}",
                    target.chassis_nr.unwrap_or(index)
                ));
            }
            _ => {}
        }
        s.push_str(&format!(",id=pci.{index}"));
        let slot = plan.controllers[i]
            .as_ref()
            .ok_or_else(|| unsupported(format!("{dev} without a PCI address")))?;
        s.push(',');
        s.push_str(&plan.format(slot));
        argv.opt("-device", s);
    }
    Ok(())
}

/// Adds the controllers: the legacy `-usb` or the USB controller devices.
pub fn controllers(
    argv: &mut Args,
    domain: &Domain,
    ctx: &BuildContext,
    plan: &Plan,
) -> Result<(), VirError> {
    let ctrls = &domain.devices.controllers;
    for c in ctrls {
        match c.kind {
            ControllerType::Usb | ControllerType::Ide | ControllerType::Fdc => {}
            ControllerType::Pci if c.model.as_deref() == Some("pci-root") => {}
            ControllerType::Pci if c.model.as_deref() == Some("pcie-root") => {}
            ControllerType::Pci if pci_controller_device(c).is_some() => {}
            ControllerType::Sata if c.index == Some(0) => {}
            ControllerType::VirtioSerial => {}
            other => return Err(unsupported(format!("controller type '{other}'"))),
        }
    }
    pci_controllers(argv, ctrls, plan)?;
    let mut usb: Vec<(usize, &Controller)> = ctrls
        .iter()
        .enumerate()
        .filter(|(_, c)| c.kind == ControllerType::Usb)
        .collect();
    usb.sort_by_key(|(_, c)| c.index.unwrap_or(0));
    let legacy = match usb.as_slice() {
        [] => is_x86(domain) && is_i440fx(domain),
        [(_, c)] if c.model.is_none() && is_i440fx(domain) => true,
        _ => false,
    };
    if legacy && ctx.caps.piix3_usb_uhci {
        argv.opt("-device", "piix3-usb-uhci,id=usb,bus=pci.0,addr=0x1.0x2");
    }
    for (i, c) in usb.into_iter().filter(|_| !legacy) {
        let model = match c.model.as_deref() {
            Some("none") => continue,
            Some(m) => m,
            None => return Err(unsupported("default USB controller model")),
        };
        let dev = usb_device(model)
            .ok_or_else(|| unsupported(format!("USB controller model '{model}'")))?;
        let alias = usb_alias(c.index.unwrap_or(0));
        let mut s = dev.to_string();
        if let Some(master) = &c.info.master {
            s.push_str(&format!(
                ",masterbus={alias}.0,firstport={}",
                master.startport
            ));
        } else {
            if let Some(p) = c.ports {
                if dev.ends_with("xhci") {
                    s.push_str(&format!(",p2={p},p3={p}"));
                }
            }
            s.push_str(&format!(",id={alias}"));
        }
        let slot = plan.controllers[i]
            .as_ref()
            .ok_or_else(|| unsupported("USB controller without PCI address"))?;
        s.push(',');
        s.push_str(&plan.format(slot));
        argv.opt("-device", s);
    }
    for (i, c) in ctrls.iter().enumerate() {
        if c.kind != ControllerType::VirtioSerial {
            continue;
        }
        let slot = plan.controllers[i]
            .as_ref()
            .ok_or_else(|| unsupported("virtio-serial controller without PCI address"))?;
        let mut s = format!("virtio-serial-pci,id=virtio-serial{}", c.index.unwrap_or(0));
        if let Some(p) = c.ports {
            s.push_str(&format!(",max_ports={p}"));
        }
        if let Some(v) = c.vectors {
            s.push_str(&format!(",vectors={v}"));
        }
        s.push(',');
        s.push_str(&plan.format(slot));
        argv.opt("-device", s);
    }
    if let Some(slot) = &plan.implicit_virtio_serial {
        argv.opt(
            "-device",
            format!("virtio-serial-pci,id=virtio-serial0,{}", plan.format(slot)),
        );
    }
    if legacy && !ctx.caps.piix3_usb_uhci {
        argv.push("-usb");
    }
    Ok(())
}

/// Adds the devices after the disks, in libvirt's order.
pub fn build(
    argv: &mut Args,
    domain: &Domain,
    ctx: &BuildContext,
    plan: &Plan,
) -> Result<(), VirError> {
    let devs = &domain.devices;
    let pending = [
        ("parallel", devs.parallels.len()),
        ("smartcard", devs.smartcards.len()),
        ("filesystem", devs.filesystems.len()),
        ("tpm", devs.tpms.len()),
        ("hostdev", devs.hostdevs.len()),
        ("watchdog", devs.watchdogs.len()),
        ("rng", devs.rngs.len()),
        ("panic", devs.panics.len()),
        ("vsock", usize::from(devs.vsock.is_some())),
    ];
    // `<audio>` backends are built by `audio`, `<redirfilter>` by `redirdev`.
    let built =
        |el: &&oxvirt_xml::Element| matches!(el.name.as_str(), "audio" | "hub" | "redirfilter");
    if let Some(other) = devs.others.iter().find(|el| !built(el)) {
        return Err(unsupported(format!("<{}> devices", other.name)));
    }
    if let Some((what, _)) = pending.iter().find(|(_, n)| *n > 0) {
        return Err(unsupported(format!("{what} devices")));
    }
    net::build(argv, domain, plan)?;
    let virtconsoles = chardev::serials(argv, domain)?;
    chardev::channels(argv, domain, plan)?;
    chardev::consoles(argv, virtconsoles);
    inputs(argv, domain)?;
    super::audio::build(argv, domain)?;
    super::graphics::build(argv, domain, ctx)?;
    super::video::build(argv, domain, plan)?;
    let mut usb_ports = super::redirdev::UsbPorts::new(domain);
    super::sound::build(argv, domain, ctx, plan, &mut usb_ports)?;
    super::redirdev::build(argv, domain, &mut usb_ports)?;
    // libvirt places `-incoming` between the USB redirection and the balloon.
    if let Some(uri) = &ctx.incoming {
        argv.opt("-incoming", uri.as_str());
    }
    balloon(argv, domain, plan)?;
    let vmcoreinfo = domain.features.as_ref().and_then(|f| f.vmcoreinfo);
    if vmcoreinfo == Some(true) {
        argv.opt("-device", "vmcoreinfo");
    }
    Ok(())
}

/// `-device virtio-balloon-pci`, also for a guest that names no balloon (libvirt adds one).
fn balloon(argv: &mut Args, domain: &Domain, plan: &Plan) -> Result<(), VirError> {
    let (model, autodeflate) = match &domain.devices.memballoon {
        Some(b) => (b.model, b.autodeflate),
        None => (MemballoonModel::Virtio, None),
    };
    match model {
        MemballoonModel::None => Ok(()),
        MemballoonModel::Virtio if plan.ccw.is_some() => {
            let devno = plan
                .ccw
                .as_ref()
                .and_then(|c| c.balloon.clone())
                .ok_or_else(|| unsupported("balloon without CCW address"))?;
            let mut s = "virtio-balloon-ccw,id=balloon0".to_string();
            if let Some(on) = autodeflate {
                s.push_str(if on {
                    ",deflate-on-oom=on"
                } else {
                    ",deflate-on-oom=off"
                });
            }
            argv.opt("-device", format!("{s},devno={devno}"));
            Ok(())
        }
        MemballoonModel::Virtio => {
            let slot = plan
                .balloon
                .as_ref()
                .ok_or_else(|| unsupported("balloon without PCI address"))?;
            let mut s = "virtio-balloon-pci,id=balloon0".to_string();
            if let Some(on) = autodeflate {
                s.push_str(if on {
                    ",deflate-on-oom=on"
                } else {
                    ",deflate-on-oom=off"
                });
            }
            s.push(',');
            s.push_str(&plan.format(slot));
            argv.opt("-device", s);
            Ok(())
        }
        other => Err(unsupported(format!("balloon model '{other}'"))),
    }
}

/// USB (`usb-tablet`, `usb-mouse`, `usb-kbd` on a port of USB bus 0, the first free one when
/// not given) and PS/2 input devices (built into the machine: nothing to add).
fn inputs(argv: &mut Args, domain: &Domain) -> Result<(), VirError> {
    let inputs = &domain.devices.inputs;
    let mut used: Vec<String> = inputs
        .iter()
        .filter_map(|i| match &i.info.address {
            Some(DeviceAddress::Usb { port: Some(p), .. }) => Some(p.clone()),
            _ => None,
        })
        .collect();
    for (n, input) in inputs.iter().enumerate() {
        match input.bus {
            Some(InputBus::Ps2) if matches!(input.kind, InputType::Mouse | InputType::Keyboard) => {
                continue
            }
            Some(InputBus::Usb) => {}
            _ => return Err(unsupported("input devices other than PS/2 and USB")),
        }
        let dev = match input.kind {
            InputType::Tablet => "usb-tablet",
            InputType::Mouse => "usb-mouse",
            InputType::Keyboard => "usb-kbd",
            other => return Err(unsupported(format!("USB input type '{other}'"))),
        };
        let (bus, port) = match &input.info.address {
            Some(DeviceAddress::Usb {
                bus, port: Some(p), ..
            }) => (bus.unwrap_or(0), p.clone()),
            None if domain.devices.others.iter().any(|el| el.name == "hub") => {
                return Err(unsupported("USB port assignment behind hubs"));
            }
            None => {
                let free = (1..=2)
                    .map(|p: u32| p.to_string())
                    .find(|p| !used.contains(p))
                    .ok_or_else(|| unsupported("no free USB port"))?;
                used.push(free.clone());
                (0, free)
            }
            _ => return Err(unsupported("USB input address")),
        };
        argv.opt(
            "-device",
            format!("{dev},id=input{n},bus={}.0,port={port}", usb_alias(bus)),
        );
    }
    Ok(())
}

/// The USB address (`bus`, `port`) written on an untyped device element.
fn usb_address(el: &oxvirt_xml::Element) -> Option<(u32, String)> {
    let addr = el.elements().find(|c| c.name == "address")?;
    if addr.attr("type") != Some("usb") {
        return None;
    }
    let bus = addr.attr("bus").and_then(|b| b.parse().ok()).unwrap_or(0);
    Some((bus, addr.attr("port")?.to_string()))
}

/// Adds `-device usb-hub` per `<hub type='usb'>`, each on the port its XML gives.
pub fn hubs(argv: &mut Args, domain: &Domain) -> Result<(), VirError> {
    let hubs = domain.devices.others.iter().filter(|el| el.name == "hub");
    for (n, hub) in hubs.enumerate() {
        if hub.attr("type") != Some("usb") {
            return Err(unsupported("hub type"));
        }
        let (bus, port) = usb_address(hub).ok_or_else(|| unsupported("USB hub without port"))?;
        argv.opt(
            "-device",
            format!("usb-hub,id=hub{n},bus={}.0,port={port}", usb_alias(bus)),
        );
    }
    Ok(())
}
