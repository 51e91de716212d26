//! PCI addresses: those the XML gives and, for an i440FX PC, the slots libvirt assigns to
//! the devices that have none (`qemuDomainAssignDevicePCISlots`, simplified: bus 0 only).

use std::collections::BTreeSet;

use oxvirt_domain::devices::controller::ControllerType;
use oxvirt_domain::devices::disk::DiskBus;
use oxvirt_domain::devices::info::DeviceInfo;
use oxvirt_domain::devices::misc::MemballoonModel;
use oxvirt_domain::{DeviceAddress, Domain, PciAddress};
use oxvirt_xml::VirError;

use super::general::{is_i440fx, is_q35};
use super::unsupported;

/// A PCI address with its `multifunction` setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    /// The address.
    pub address: PciAddress,
    /// `multifunction='on|off'`.
    pub multifunction: Option<bool>,
}

/// The PCI address of each device that sits on PCI.
#[derive(Debug, Default)]
pub struct Plan {
    /// Whether bus 0 is `pcie.0` (Q35) rather than `pci.0`.
    pub pcie_root: bool,
    /// Per disk, in definition order.
    pub disks: Vec<Option<Slot>>,
    /// Per controller, in definition order.
    pub controllers: Vec<Option<Slot>>,
    /// Per interface.
    pub nets: Vec<Option<Slot>>,
    /// Per sound card (those on PCI).
    pub sounds: Vec<Option<Slot>>,
    /// Per video adapter.
    pub videos: Vec<Option<Slot>>,
    /// The memory balloon.
    pub balloon: Option<Slot>,
    /// The virtio-serial controller libvirt adds for virtio consoles and channels when the
    /// XML has none.
    pub implicit_virtio_serial: Option<Slot>,
    /// On s390: the CCW address (`fe.0.0002`) of each disk, interface and the balloon.
    pub ccw: Option<Ccw>,
}

/// CCW addresses (`cssid.ssid.devno`) on an s390 machine.
#[derive(Debug, Default)]
pub struct Ccw {
    /// Per disk (virtio disks only).
    pub disks: Vec<Option<String>>,
    /// Per interface.
    pub nets: Vec<Option<String>>,
    /// The balloon.
    pub balloon: Option<String>,
}

/// A CCW address written in the XML as `(cssid, ssid, devno)`.
fn given_ccw(info: &DeviceInfo) -> Option<(u32, u32, u32)> {
    let Some(DeviceAddress::Other(el)) = &info.address else {
        return None;
    };
    if el.attr("type") != Some("ccw") {
        return None;
    }
    let num = |name: &str| {
        let v = el.attr(name)?;
        let hex = v.strip_prefix("0x").unwrap_or(v);
        u32::from_str_radix(hex, 16).ok()
    };
    Some((num("cssid")?, num("ssid")?, num("devno")?))
}

/// Assigns CCW addresses: given ones kept, the rest take the lowest free device numbers
/// on channel subsystem `fe`, disks first, then interfaces, then the balloon.
fn plan_ccw(domain: &Domain) -> Ccw {
    let devs = &domain.devices;
    let mut used: BTreeSet<u32> = BTreeSet::new();
    let infos = devs
        .disks
        .iter()
        .map(|d| &d.info)
        .chain(devs.interfaces.iter().map(|n| &n.info))
        .chain(devs.memballoon.iter().map(|b| &b.info));
    for info in infos {
        if let Some((_, _, devno)) = given_ccw(info) {
            used.insert(devno);
        }
    }
    let fmt = |(c, s, d): (u32, u32, u32)| format!("{c:x}.{s:x}.{d:04x}");
    let mut next = || {
        let d = (0..).find(|d| !used.contains(d)).unwrap_or(0);
        used.insert(d);
        fmt((0xfe, 0, d))
    };
    let mut ccw = Ccw::default();
    for disk in &devs.disks {
        let virtio = disk.target.as_ref().and_then(|t| t.bus) == Some(DiskBus::Virtio);
        ccw.disks.push(match given_ccw(&disk.info) {
            Some(a) => Some(fmt(a)),
            None if virtio => Some(next()),
            None => None,
        });
    }
    for net in &devs.interfaces {
        ccw.nets
            .push(Some(given_ccw(&net.info).map_or_else(&mut next, fmt)));
    }
    ccw.balloon = match &devs.memballoon {
        Some(b) if b.model == MemballoonModel::None => None,
        Some(b) => Some(given_ccw(&b.info).map_or_else(&mut next, fmt)),
        None => Some(next()),
    };
    ccw
}

/// The PCI address written in a device's XML, if any.
/// An all-zero address counts as none (libvirt assigns one).
pub fn given(info: &DeviceInfo) -> Option<Slot> {
    match &info.address {
        Some(DeviceAddress::Pci {
            address,
            multifunction,
            ..
        }) if *address != PciAddress::default() => Some(Slot {
            address: *address,
            multifunction: *multifunction,
        }),
        _ => None,
    }
}

impl Plan {
    /// Collects the given addresses and assigns free bus-0 slots to the rest.
    pub fn new(domain: &Domain) -> Result<Plan, VirError> {
        let devs = &domain.devices;
        if super::general::arch(domain) == "s390x" {
            let ccw = plan_ccw(domain);
            return Ok(Plan {
                disks: vec![None; devs.disks.len()],
                nets: vec![None; devs.interfaces.len()],
                controllers: vec![None; devs.controllers.len()],
                videos: vec![None; devs.videos.len()],
                ccw: Some(ccw),
                ..Plan::default()
            });
        }
        let mut used: BTreeSet<(u32, u32)> = BTreeSet::new();
        let infos = devs
            .disks
            .iter()
            .map(|d| &d.info)
            .chain(devs.controllers.iter().map(|c| &c.info))
            .chain(devs.interfaces.iter().map(|n| &n.info))
            .chain(devs.sounds.iter().map(|s| &s.info))
            .chain(devs.videos.iter().map(|v| &v.info))
            .chain(devs.memballoon.iter().map(|b| &b.info));
        for info in infos {
            if let Some(s) = given(info) {
                used.insert((s.address.bus, s.address.slot));
            }
        }
        let pcie_root = is_q35(domain);
        let auto = is_i440fx(domain);
        // Slot 0 is the host bridge, slot 1 the PIIX3 (IDE, USB, ACPI).
        used.insert((0, 0));
        used.insert((0, 1));
        let next = |used: &mut BTreeSet<(u32, u32)>| -> Result<Slot, VirError> {
            if !auto {
                return Err(unsupported("PCI address assignment on this machine type"));
            }
            let slot = (2..32)
                .find(|s| !used.contains(&(0, *s)))
                .ok_or_else(|| unsupported("no free PCI slot"))?;
            used.insert((0, slot));
            Ok(Slot {
                address: PciAddress {
                    domain: 0,
                    bus: 0,
                    slot,
                    function: 0,
                },
                multifunction: None,
            })
        };
        let mut plan = Plan {
            pcie_root,
            ..Plan::default()
        };
        // The primary video adapter takes slot 2 first.
        let mut videos: Vec<Option<Slot>> = devs.videos.iter().map(|v| given(&v.info)).collect();
        let video_on_pci = |i: usize| {
            devs.videos[i]
                .kind()
                .is_some_and(|k| !matches!(k.to_string().as_str(), "none"))
        };
        let primary = super::video::ordered(domain).first().map(|(i, _)| *i);
        if let Some(p) = primary {
            let first = &mut videos[p];
            if first.is_none() && video_on_pci(p) && auto && !used.contains(&(0, 2)) {
                used.insert((0, 2));
                *first = Some(Slot {
                    address: PciAddress {
                        domain: 0,
                        bus: 0,
                        slot: 2,
                        function: 0,
                    },
                    multifunction: None,
                });
            }
        }
        for net in &devs.interfaces {
            let slot = match given(&net.info) {
                Some(s) => Some(s),
                None => Some(next(&mut used)?),
            };
            plan.nets.push(slot);
        }
        // Sound cards on PCI come after the interfaces, as in libvirt.
        for sound in &devs.sounds {
            let slot = match given(&sound.info) {
                Some(s) => Some(s),
                None if super::sound::on_pci(sound.model) => Some(next(&mut used)?),
                None => None,
            };
            plan.sounds.push(slot);
        }
        for c in &devs.controllers {
            let model = c.model.as_deref();
            let slot = match (c.kind, given(&c.info), model) {
                (_, Some(s), _) => Some(s),
                (ControllerType::Usb, None, Some("piix3-uhci")) if auto => Some(Slot {
                    address: PciAddress {
                        domain: 0,
                        bus: 0,
                        slot: 1,
                        function: 2,
                    },
                    multifunction: None,
                }),
                (ControllerType::VirtioSerial, None, _) => Some(next(&mut used)?),
                (ControllerType::Usb, None, Some("nec-xhci" | "qemu-xhci")) => {
                    Some(next(&mut used)?)
                }
                (ControllerType::Usb, None, None | Some("none")) => None,
                (ControllerType::Scsi | ControllerType::Usb, None, _) => {
                    return Err(unsupported("controllers without a PCI address"));
                }
                _ => None,
            };
            plan.controllers.push(slot);
        }
        if needs_implicit_virtio_serial(domain) {
            plan.implicit_virtio_serial = Some(next(&mut used)?);
        }
        for disk in &devs.disks {
            let virtio = disk.target.as_ref().and_then(|t| t.bus) == Some(DiskBus::Virtio);
            let slot = match given(&disk.info) {
                Some(s) => Some(s),
                None if virtio => Some(next(&mut used)?),
                None => None,
            };
            plan.disks.push(slot);
        }
        match &devs.memballoon {
            Some(b) if b.model != MemballoonModel::None => {
                plan.balloon = match given(&b.info) {
                    Some(s) => Some(s),
                    None => Some(next(&mut used)?),
                };
            }
            Some(_) => {}
            // libvirt adds a virtio balloon to a QEMU guest that names none.
            None => plan.balloon = Some(next(&mut used)?),
        }
        // Secondary video adapters come last.
        for (i, video) in videos.iter_mut().enumerate() {
            if video.is_none() && video_on_pci(i) {
                *video = Some(next(&mut used)?);
            }
        }
        plan.videos = videos;
        Ok(plan)
    }

    /// `bus=pci.N[,multifunction=on|off],addr=0xS[.0xF]`.
    pub fn format(&self, slot: &Slot) -> String {
        let a = &slot.address;
        let bus = if a.bus == 0 && self.pcie_root {
            "pcie.0".to_string()
        } else {
            format!("pci.{}", a.bus)
        };
        let mut s = format!("bus={bus}");
        match slot.multifunction {
            Some(true) => s.push_str(",multifunction=on"),
            Some(false) => s.push_str(",multifunction=off"),
            None => {}
        }
        s.push_str(&format!(",addr={:#x}", a.slot));
        if a.function != 0 {
            s.push_str(&format!(".{:#x}", a.function));
        }
        s
    }
}

/// Whether the domain has virtio consoles or channels but no virtio-serial controller.
pub fn needs_implicit_virtio_serial(domain: &Domain) -> bool {
    use oxvirt_domain::devices::chardev::{
        ChannelTargetType, ChardevTargetType, ConsoleTargetType,
    };
    let devs = &domain.devices;
    let has = devs
        .controllers
        .iter()
        .any(|c| c.kind == ControllerType::VirtioSerial);
    let virtio = devs.consoles.iter().chain(devs.channels.iter()).any(|c| {
        matches!(
            c.target.as_ref().and_then(|t| t.kind),
            Some(ChardevTargetType::Console(ConsoleTargetType::Virtio))
                | Some(ChardevTargetType::Channel(ChannelTargetType::Virtio))
        )
    });
    virtio && !has
}
