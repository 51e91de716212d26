//! USB redirection (`<redirdev>`), as libvirt's `qemuBuildRedirdevCommandLine` writes it
//! after the sound cards: the character device (`-chardev spicevmc,...,name=usbredir` or a
//! TCP socket) then `-device usb-redir,chardev=charredirN,id=redirN[,filter=...]
//! [,bootindex=N],bus=usb.0,port=P`. Devices without a USB address take the next free port
//! of USB bus 0, after the input devices and USB sound cards (libvirt's order).

use oxvirt_domain::devices::chardev::ChardevType;
use oxvirt_domain::devices::controller::ControllerType;
use oxvirt_domain::devices::info::DeviceInfo;
use oxvirt_domain::devices::input::InputBus;
use oxvirt_domain::{DeviceAddress, Domain};
use oxvirt_xml::{Element, VirError};

use super::{unsupported, Args};

/// `bus=usb.0,port=P` (`usbN.0` for controller N).
pub fn usb_bus(bus: u32, port: &str) -> String {
    if bus == 0 {
        format!("bus=usb.0,port={port}")
    } else {
        format!("bus=usb{bus}.0,port={port}")
    }
}

/// The ports of USB bus 0 taken so far, for the devices that give none.
#[derive(Debug)]
pub struct UsbPorts {
    used: Vec<String>,
    count: u32,
    hubs: bool,
}

/// The USB port given in a device's info on bus 0.
fn given_port(info: &DeviceInfo) -> Option<String> {
    match &info.address {
        Some(DeviceAddress::Usb {
            bus, port: Some(p), ..
        }) if bus.unwrap_or(0) == 0 => Some(p.clone()),
        _ => None,
    }
}

impl UsbPorts {
    /// The ports the definition gives, and those the USB input devices without one take
    /// (the first free ones, in order).
    pub fn new(domain: &Domain) -> Self {
        let devs = &domain.devices;
        let mut used: Vec<String> = devs
            .inputs
            .iter()
            .map(|i| &i.info)
            .chain(devs.sounds.iter().map(|s| &s.info))
            .chain(devs.redirdevs.iter().map(|r| &r.info))
            .filter_map(given_port)
            .collect();
        let count = devs
            .controllers
            .iter()
            .filter(|c| c.kind == ControllerType::Usb && c.index.unwrap_or(0) == 0)
            .filter(|c| c.info.master.is_none())
            .map(|c| match c.model.as_deref() {
                Some("ich9-ehci1" | "ehci") => 6,
                Some("nec-xhci" | "qemu-xhci") => c.ports.unwrap_or(4),
                _ => 2,
            })
            .next()
            .unwrap_or(2);
        let hubs = devs.others.iter().any(|el| el.name == "hub");
        for input in &devs.inputs {
            if input.bus == Some(InputBus::Usb) && input.info.address.is_none() {
                if let Some(p) = (1..=count)
                    .map(|p| p.to_string())
                    .find(|p| !used.contains(p))
                {
                    used.push(p);
                }
            }
        }
        UsbPorts { used, count, hubs }
    }

    /// Takes the next free port of bus 0.
    pub fn take(&mut self) -> Result<String, VirError> {
        if self.hubs {
            return Err(unsupported("USB port assignment behind hubs"));
        }
        let p = (1..=self.count)
            .map(|p| p.to_string())
            .find(|p| !self.used.contains(p))
            .ok_or_else(|| unsupported("no free USB port"))?;
        self.used.push(p.clone());
        Ok(p)
    }
}

/// A number of a `<usbdev>` rule: `-1` as is, otherwise hexadecimal in `width` digits.
fn rule_number(el: &Element, name: &str, width: usize) -> Result<String, VirError> {
    let v = el.attr(name).unwrap_or("-1");
    if v == "-1" {
        return Ok("-1".to_string());
    }
    let n = u32::from_str_radix(v.trim_start_matches("0x").trim_start_matches("0X"), 16)
        .map_err(|_| unsupported(format!("redirfilter {name} '{v}'")))?;
    Ok(format!("0x{n:0width$X}"))
}

/// A `<usbdev>` version (`major.minor`, both hexadecimal) as `0xMMmm`.
fn rule_version(el: &Element) -> Result<String, VirError> {
    let v = el.attr("version").unwrap_or("-1");
    if v == "-1" {
        return Ok("-1".to_string());
    }
    let bad = || unsupported(format!("redirfilter version '{v}'"));
    let (major, minor) = v.split_once('.').ok_or_else(bad)?;
    let major = u32::from_str_radix(major, 16).map_err(|_| bad())?;
    let minor = u32::from_str_radix(minor, 16).map_err(|_| bad())?;
    Ok(format!("0x{:04X}", (major << 8) | minor))
}

/// The `filter=` rules of `<redirfilter>`, if it has any.
fn filter(domain: &Domain) -> Result<Option<String>, VirError> {
    let Some(rf) = domain
        .devices
        .others
        .iter()
        .find(|el| el.name == "redirfilter")
    else {
        return Ok(None);
    };
    let mut rules = Vec::new();
    for dev in rf.elements().filter(|el| el.name == "usbdev") {
        let allow = match dev.attr("allow") {
            Some("yes") => 1,
            _ => 0,
        };
        rules.push(format!(
            "{}:{}:{}:{}:{allow}",
            rule_number(dev, "class", 2)?,
            rule_number(dev, "vendor", 4)?,
            rule_number(dev, "product", 4)?,
            rule_version(dev)?
        ));
    }
    Ok((!rules.is_empty()).then(|| rules.join("|")))
}

/// Adds the redirected USB devices.
pub fn build(argv: &mut Args, domain: &Domain, ports: &mut UsbPorts) -> Result<(), VirError> {
    let filter = filter(domain)?;
    for (n, redir) in domain.devices.redirdevs.iter().enumerate() {
        let alias = format!("redir{n}");
        let chardev = match redir.source.kind {
            ChardevType::Spicevmc => format!("spicevmc,id=char{alias},name=usbredir"),
            ChardevType::Tcp | ChardevType::Unix => {
                super::chardev::source_backend(&redir.source, &alias)?
            }
            other => return Err(unsupported(format!("redirdev type '{other}'"))),
        };
        let (bus, port) = match &redir.info.address {
            Some(DeviceAddress::Usb {
                bus, port: Some(p), ..
            }) => (bus.unwrap_or(0), p.clone()),
            None => (0, ports.take()?),
            _ => return Err(unsupported("redirdev address")),
        };
        let mut s = format!("usb-redir,chardev=char{alias},id={alias}");
        if let Some(f) = &filter {
            s.push_str(&format!(",filter={f}"));
        }
        if let Some(boot) = &redir.info.boot {
            s.push_str(&format!(",bootindex={}", boot.order));
        }
        s.push(',');
        s.push_str(&usb_bus(bus, &port));
        argv.opt("-chardev", chardev);
        argv.opt("-device", s);
    }
    Ok(())
}
