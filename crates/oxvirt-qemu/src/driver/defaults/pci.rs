//! PCI addresses for the devices that have none (`qemuDomainAssignPCIAddresses`): on an
//! i440FX PC, free slots of bus 0 in libvirt's device order after the PIIX3 functions
//! (IDE 1.1, USB 1.2) and the primary video adapter (slot 2); on a Q35 PC, each endpoint
//! on a `pcie-root-port` of its own, the ports added as libvirt adds them (functions of
//! pcie.0 slot 2 onward, one spare), SATA 0 at 1f.2 and the primary video adapter at 1.0.

use std::collections::BTreeSet;

use oxvirt_domain::address::{DeviceAddress, PciAddress};
use oxvirt_domain::devices::chardev::{ChardevTargetType, SerialTargetType};
use oxvirt_domain::devices::controller::{
    Controller, ControllerType, PciModel, PciModelName, PciTarget,
};
use oxvirt_domain::devices::disk::DiskBus;
use oxvirt_domain::devices::hostdev::{HostdevMode, HostdevType};
use oxvirt_domain::devices::info::DeviceInfo;
use oxvirt_domain::devices::interface::InterfaceType;
use oxvirt_domain::devices::misc::{MemballoonModel, WatchdogModel};
use oxvirt_domain::devices::sound::SoundModel;
use oxvirt_domain::devices::video::VideoModelType;
use oxvirt_domain::Domain;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use super::{machine_of, Machine};

/// Whether a device still needs a PCI address (`virDeviceInfoPCIAddressWanted`).
fn wanted(info: &DeviceInfo) -> bool {
    match &info.address {
        None => true,
        Some(DeviceAddress::Pci { address, .. }) => *address == PciAddress::default(),
        Some(_) => false,
    }
}

/// The PCI address a device was given, if any.
fn given(info: &DeviceInfo) -> Option<PciAddress> {
    match &info.address {
        Some(DeviceAddress::Pci { address, .. }) if *address != PciAddress::default() => {
            Some(*address)
        }
        _ => None,
    }
}

fn set(info: &mut DeviceInfo, address: PciAddress, multifunction: Option<bool>) {
    info.address = Some(DeviceAddress::Pci {
        address,
        multifunction,
        unknown: Default::default(),
    });
}

fn addr(bus: u32, slot: u32, function: u32) -> PciAddress {
    PciAddress {
        domain: 0,
        bus,
        slot,
        function,
    }
}

fn full() -> VirError {
    VirError::new(
        ErrorDomain::Qemu,
        ErrorCode::InternalError,
        "No more available PCI slots",
    )
}

/// Which endpoint lists a device is in, in libvirt's assignment order.
#[derive(Debug, Clone, Copy)]
enum Dev {
    Fs(usize),
    Net(usize),
    Sound(usize),
    Controller(usize),
    Disk(usize),
    Hostdev(usize),
    Balloon,
    Rng(usize),
    Watchdog(usize),
    Video(usize),
    Input(usize),
    Serial(usize),
}

fn info_mut(def: &mut Domain, dev: Dev) -> Option<&mut DeviceInfo> {
    let d = &mut def.devices;
    Some(match dev {
        Dev::Fs(i) => &mut d.filesystems[i].info,
        Dev::Net(i) => &mut d.interfaces[i].info,
        Dev::Sound(i) => &mut d.sounds[i].info,
        Dev::Controller(i) => &mut d.controllers[i].info,
        Dev::Disk(i) => &mut d.disks[i].info,
        Dev::Hostdev(i) => &mut d.hostdevs[i].info,
        Dev::Balloon => &mut d.memballoon.as_mut()?.info,
        Dev::Rng(i) => &mut d.rngs[i].info,
        Dev::Watchdog(i) => &mut d.watchdogs[i].info,
        Dev::Video(i) => &mut d.videos[i].info,
        Dev::Input(i) => &mut d.inputs[i].info,
        Dev::Serial(i) => &mut d.serials[i].info,
    })
}

fn is_usb2(c: &Controller) -> bool {
    c.kind == ControllerType::Usb
        && matches!(
            c.model.as_deref(),
            Some("ich9-ehci1" | "ich9-uhci1" | "ich9-uhci2" | "ich9-uhci3")
        )
}

/// The devices wanting a PCI address, in libvirt's order (`qemuDomainAssignDevicePCISlots`),
/// except PCI controllers, the PIIX3/ICH9 built-ins and the primary video adapter.
fn endpoints(def: &Domain, skip_primary_video: bool) -> Vec<Dev> {
    let d = &def.devices;
    let mut out = Vec::new();
    for (i, f) in d.filesystems.iter().enumerate() {
        if wanted(&f.info) && f.kind == oxvirt_domain::devices::filesystem::FsType::Mount {
            out.push(Dev::Fs(i));
        }
    }
    for (i, n) in d.interfaces.iter().enumerate() {
        if n.kind != InterfaceType::Hostdev && wanted(&n.info) {
            out.push(Dev::Net(i));
        }
    }
    for (i, s) in d.sounds.iter().enumerate() {
        let isa = matches!(
            s.model,
            SoundModel::Sb16 | SoundModel::Pcspk | SoundModel::Usb
        );
        if !isa && wanted(&s.info) {
            out.push(Dev::Sound(i));
        }
    }
    for (i, c) in d.controllers.iter().enumerate() {
        let skip = match c.kind {
            ControllerType::Pci | ControllerType::Fdc | ControllerType::Ccid => true,
            ControllerType::Usb => c.model.as_deref() == Some("none") || is_usb2(c),
            ControllerType::Ide => c.index == Some(0),
            _ => false,
        };
        if !skip && wanted(&c.info) {
            out.push(Dev::Controller(i));
        }
    }
    for (i, disk) in d.disks.iter().enumerate() {
        if disk.effective_bus() == DiskBus::Virtio && wanted(&disk.info) {
            out.push(Dev::Disk(i));
        }
    }
    for (i, n) in d.interfaces.iter().enumerate() {
        if n.kind == InterfaceType::Hostdev && wanted(&n.info) {
            out.push(Dev::Net(i));
        }
    }
    for (i, h) in d.hostdevs.iter().enumerate() {
        let pci = match h.kind {
            HostdevType::Pci | HostdevType::ScsiHost => true,
            HostdevType::Mdev => h.model.as_deref() == Some("vfio-pci"),
            _ => false,
        };
        if pci && h.mode == HostdevMode::Subsystem && wanted(&h.info) {
            out.push(Dev::Hostdev(i));
        }
    }
    if d.memballoon
        .as_ref()
        .is_some_and(|b| b.model == MemballoonModel::Virtio && wanted(&b.info))
    {
        out.push(Dev::Balloon);
    }
    for (i, r) in d.rngs.iter().enumerate() {
        if r.model.to_string() == "virtio" && wanted(&r.info) {
            out.push(Dev::Rng(i));
        }
    }
    for (i, w) in d.watchdogs.iter().enumerate() {
        if w.model == WatchdogModel::I6300esb && wanted(&w.info) {
            out.push(Dev::Watchdog(i));
        }
    }
    for (i, v) in d.videos.iter().enumerate() {
        if (i == 0 && skip_primary_video) || v.kind() == Some(VideoModelType::None) {
            continue;
        }
        if wanted(&v.info) {
            out.push(Dev::Video(i));
        }
    }
    for (i, inp) in d.inputs.iter().enumerate() {
        if inp.bus.map(|b| b.to_string()).as_deref() == Some("virtio") && wanted(&inp.info) {
            out.push(Dev::Input(i));
        }
    }
    for (i, c) in d.serials.iter().enumerate() {
        let pci = c.target_type() == Some(ChardevTargetType::Serial(SerialTargetType::PciSerial));
        if pci && wanted(&c.info) {
            out.push(Dev::Serial(i));
        }
    }
    out
}

/// Assigns PCI addresses to the devices without one, as libvirt does at define time.
/// Devices with an address keep it. Machines other than i440FX and Q35 are left alone.
pub fn assign_pci_addresses(def: &mut Domain) -> Result<(), VirError> {
    pci_controller_defaults(def);
    match machine_of(def) {
        Machine::I440fx => assign_i440fx(def),
        Machine::Q35 => assign_q35(def),
        Machine::Other => Ok(()),
    }
}

/// Where a device hot-plugged into the running domain `def` goes
/// (`qemuDomainEnsurePCIAddress` for a live attach): on an i440FX PC the first free slot of
/// bus 0; on a Q35 PC an empty `pcie-root-port` (libvirt leaves one spare at define for
/// this; root ports cannot be added while the guest runs), avoiding the (bus, slot) pairs
/// in `busy` too. Returns the address and the bus's QEMU id.
pub fn hotplug_address(
    def: &Domain,
    busy: &[(u32, u32)],
) -> Result<(PciAddress, String), VirError> {
    let mut used = used_slots(def);
    used.extend(busy.iter().copied());
    match machine_of(def) {
        Machine::Q35 => {
            let mut ports: Vec<u32> = def
                .devices
                .controllers
                .iter()
                .filter(|c| {
                    c.kind == ControllerType::Pci && c.model.as_deref() == Some("pcie-root-port")
                })
                .filter_map(|c| c.index)
                .collect();
            ports.sort_unstable();
            ports
                .into_iter()
                .find(|bus| !used.iter().any(|(b, _)| b == bus))
                .map(|bus| (addr(bus, 0, 0), format!("pci.{bus}")))
                .ok_or_else(full)
        }
        _ => (2..32)
            .find(|slot| !used.contains(&(0, *slot)))
            .map(|slot| (addr(0, slot, 0), "pci.0".to_string()))
            .ok_or_else(full),
    }
}

/// Every (bus, slot) a device was given.
fn used_slots(def: &Domain) -> BTreeSet<(u32, u32)> {
    let d = &def.devices;
    let infos = d
        .disks
        .iter()
        .map(|x| &x.info)
        .chain(d.controllers.iter().map(|x| &x.info))
        .chain(d.filesystems.iter().map(|x| &x.info))
        .chain(d.interfaces.iter().map(|x| &x.info))
        .chain(d.sounds.iter().map(|x| &x.info))
        .chain(d.videos.iter().map(|x| &x.info))
        .chain(d.hostdevs.iter().map(|x| &x.info))
        .chain(d.memballoon.iter().map(|x| &x.info))
        .chain(d.rngs.iter().map(|x| &x.info))
        .chain(d.watchdogs.iter().map(|x| &x.info))
        .chain(d.inputs.iter().map(|x| &x.info))
        .chain(d.serials.iter().map(|x| &x.info));
    infos.filter_map(given).map(|a| (a.bus, a.slot)).collect()
}

fn primary_video_wanted(def: &Domain) -> bool {
    def.devices
        .videos
        .first()
        .is_some_and(|v| v.kind() != Some(VideoModelType::None) && wanted(&v.info))
}

fn assign_i440fx(def: &mut Domain) -> Result<(), VirError> {
    let mut used = used_slots(def);
    used.insert((0, 0));
    used.insert((0, 1));
    for c in &mut def.devices.controllers {
        if c.index != Some(0) || !wanted(&c.info) {
            continue;
        }
        match (c.kind, c.model.as_deref()) {
            (ControllerType::Ide, _) => set(&mut c.info, addr(0, 1, 1), None),
            (ControllerType::Usb, None | Some("piix3-uhci")) => {
                set(&mut c.info, addr(0, 1, 2), None)
            }
            _ => {}
        }
    }
    let mut primary_done = false;
    if primary_video_wanted(def) && !used.contains(&(0, 2)) {
        used.insert((0, 2));
        set(&mut def.devices.videos[0].info, addr(0, 2, 0), None);
        primary_done = true;
    }
    let next = |used: &mut BTreeSet<(u32, u32)>| {
        let slot = (1..32)
            .find(|s| !used.contains(&(0, *s)))
            .ok_or_else(full)?;
        used.insert((0, slot));
        Ok::<_, VirError>(addr(0, slot, 0))
    };
    // PCI controllers (bridges) first.
    for c in &mut def.devices.controllers {
        let root = matches!(c.model.as_deref(), Some("pci-root" | "pcie-root"));
        if c.kind == ControllerType::Pci && !root && wanted(&c.info) {
            let a = next(&mut used)?;
            set(&mut c.info, a, None);
        }
    }
    // USB2 companions share one slot.
    assign_usb2(def, &mut || next(&mut used).map(|a| a.slot))?;
    let _ = primary_done;
    for dev in endpoints(def, false) {
        let a = next(&mut used)?;
        if let Some(info) = info_mut(def, dev) {
            set(info, a, None);
        }
    }
    Ok(())
}

/// Gives the ICH9 USB2 controllers of one index a common slot: EHCI at function 7, the
/// UHCI companions at 0 (multifunction), 1 and 2.
fn assign_usb2(
    def: &mut Domain,
    next_slot: &mut dyn FnMut() -> Result<u32, VirError>,
) -> Result<(), VirError> {
    let cs = &mut def.devices.controllers;
    for i in 0..cs.len() {
        if !is_usb2(&cs[i]) || !wanted(&cs[i].info) {
            continue;
        }
        let index = cs[i].index;
        let found = cs
            .iter()
            .filter(|c| is_usb2(c) && c.index == index)
            .find_map(|c| given(&c.info));
        let (bus, slot) = match found {
            Some(a) => (a.bus, a.slot),
            None => (0, next_slot()?),
        };
        let (function, multi) = match cs[i].model.as_deref() {
            Some("ich9-ehci1") => (7, None),
            Some("ich9-uhci1") => (0, Some(true)),
            Some("ich9-uhci2") => (1, None),
            _ => (2, None),
        };
        set(&mut cs[i].info, addr(bus, slot, function), multi);
    }
    Ok(())
}

fn assign_q35(def: &mut Domain) -> Result<(), VirError> {
    let mut used = used_slots(def);
    used.insert((0, 0));
    used.insert((0, 0x1f));
    for c in &mut def.devices.controllers {
        if c.kind == ControllerType::Sata && c.index == Some(0) && wanted(&c.info) {
            set(&mut c.info, addr(0, 0x1f, 2), None);
        }
    }
    let mut skip_primary = false;
    if primary_video_wanted(def) && !used.contains(&(0, 1)) {
        used.insert((0, 1));
        set(&mut def.devices.videos[0].info, addr(0, 1, 0), None);
        skip_primary = true;
    }
    // ICH9 USB2 controllers sit at 00:1d when that slot is free.
    let mut usb_slot = Some(0x1d).filter(|s| !used.contains(&(0, *s)));
    assign_usb2(def, &mut || usb_slot.take().ok_or_else(full))?;
    let devs = endpoints(def, skip_primary);
    // Buses: written root ports with nothing on them first, then new ones.
    let mut free: Vec<u32> = def
        .devices
        .controllers
        .iter()
        .filter(|c| c.kind == ControllerType::Pci && c.model.as_deref() == Some("pcie-root-port"))
        .filter_map(|c| c.index)
        .filter(|i| !used.iter().any(|(bus, _)| bus == i))
        .collect();
    free.sort_unstable();
    free.reverse();
    let mut next_index = def
        .devices
        .controllers
        .iter()
        .filter(|c| c.kind == ControllerType::Pci)
        .filter_map(|c| c.index)
        .max()
        .map_or(1, |m| m + 1);
    let mut added = 0u32;
    for dev in devs {
        let bus = match free.pop() {
            Some(b) => b,
            None => {
                let b = next_index;
                next_index += 1;
                def.devices.controllers.push(root_port(b));
                added += 1;
                b
            }
        };
        if let Some(info) = info_mut(def, dev) {
            set(info, addr(bus, 0, 0), None);
        }
    }
    if added > 0 {
        def.devices.controllers.push(root_port(next_index));
    }
    place_root_ports(def, &mut used)
}

/// A `pcie-root-port` controller of `index` (its model name and target come later).
fn root_port(index: u32) -> Controller {
    let mut c = Controller::new(ControllerType::Pci, index);
    c.model = Some("pcie-root-port".to_string());
    c
}

/// Addresses on pcie.0 for the root ports without one, eight functions to a slot from
/// slot 2 on, and their `<model name>` and `<target chassis port>`.
fn place_root_ports(def: &mut Domain, used: &mut BTreeSet<(u32, u32)>) -> Result<(), VirError> {
    let ports: Vec<usize> = def
        .devices
        .controllers
        .iter()
        .enumerate()
        .filter(|(_, c)| c.kind == ControllerType::Pci)
        .filter(|(_, c)| c.model.as_deref() == Some("pcie-root-port") && wanted(&c.info))
        .map(|(i, _)| i)
        .collect();
    let mut slot = 0u32;
    let mut function = 8u32;
    let count = ports.len();
    for (n, i) in ports.into_iter().enumerate() {
        if function == 8 {
            slot = (2..32)
                .find(|s| !used.contains(&(0, *s)))
                .ok_or_else(full)?;
            used.insert((0, slot));
            function = 0;
        }
        let multi = (function == 0 && n + 1 < count).then_some(true);
        let c = &mut def.devices.controllers[i];
        set(&mut c.info, addr(0, slot, function), multi);
        let index = c.index.unwrap_or(0);
        set_port_target(c, index, slot, function);
        function += 1;
    }
    for c in &mut def.devices.controllers {
        if c.kind == ControllerType::Pci && c.model.as_deref() == Some("pcie-root-port") {
            if let Some(a) = given(&c.info) {
                let index = c.index.unwrap_or(0);
                set_port_target(c, index, a.slot, a.function);
            }
        }
    }
    Ok(())
}

/// A root port's `<model name='pcie-root-port'/>` and `<target chassis='INDEX'
/// port='SLOT<<3|FUNCTION'/>` where not written.
fn set_port_target(c: &mut Controller, index: u32, slot: u32, function: u32) {
    set_model_name(c, PciModelName::PcieRootPort);
    let t = c.target.get_or_insert_with(PciTarget::default);
    t.chassis.get_or_insert(index);
    t.port.get_or_insert((slot << 3) | function);
}

fn set_model_name(c: &mut Controller, name: PciModelName) {
    if c.pci_model.is_none() {
        c.pci_model = Some(PciModel {
            name,
            unknown: Default::default(),
        });
    }
}

/// The model names and targets libvirt gives PCI controllers
/// (`qemuDomainPCIControllerSetDefaultModelName`, and the chassis number of a
/// `pci-bridge`).
pub fn pci_controller_defaults(def: &mut Domain) {
    for c in &mut def.devices.controllers {
        if c.kind != ControllerType::Pci {
            continue;
        }
        let index = c.index.unwrap_or(0);
        match c.model.as_deref() {
            Some("pci-bridge") => {
                set_model_name(c, PciModelName::PciBridge);
                c.target
                    .get_or_insert_with(PciTarget::default)
                    .chassis_nr
                    .get_or_insert(index);
            }
            Some("dmi-to-pci-bridge") => set_model_name(c, PciModelName::I82801b11Bridge),
            Some("pcie-to-pci-bridge") => set_model_name(c, PciModelName::PciePciBridge),
            _ => {}
        }
    }
}

#[cfg(test)]
mod hotplug_tests {
    use super::*;

    fn parse(xml: &str) -> Domain {
        Domain::parse(xml).unwrap().domain
    }

    #[test]
    fn q35_hotplug_takes_the_spare_root_port_and_i440fx_the_next_slot() {
        let port = |i: u32, f: u32| {
            format!(
                "<controller type='pci' index='{i}' model='pcie-root-port'>\
                 <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='{f:#x}'/>\
                 </controller>"
            )
        };
        let q35 = parse(&format!(
            "<domain type='qemu'><name>q</name><memory>65536</memory>\
             <os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os><devices>\
             <disk type='file' device='disk'><source file='/a'/><target dev='vda' bus='virtio'/>\
             <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/></disk>\
             <controller type='pci' index='0' model='pcie-root'/>{}{}{}</devices></domain>",
            port(1, 0),
            port(2, 1),
            port(3, 2)
        ));
        let (a, bus) = hotplug_address(&q35, &[]).unwrap();
        assert_eq!((a.bus, a.slot, bus.as_str()), (2, 0, "pci.2"));
        let (a, bus) = hotplug_address(&q35, &[(2, 0)]).unwrap();
        assert_eq!((a.bus, bus.as_str()), (3, "pci.3"));
        let e = hotplug_address(&q35, &[(2, 0), (3, 0)]).unwrap_err();
        assert_eq!(e.message, "internal error: No more available PCI slots");

        let pc = parse(
            "<domain type='qemu'><name>p</name><memory>65536</memory>\
             <os><type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type></os><devices>\
             <memballoon model='virtio'>\
             <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0'/>\
             </memballoon></devices></domain>",
        );
        let (a, bus) = hotplug_address(&pc, &[]).unwrap();
        assert_eq!((a.bus, a.slot, bus.as_str()), (0, 3, "pci.0"));
        let (a, _) = hotplug_address(&pc, &[(0, 3)]).unwrap();
        assert_eq!(a.slot, 4);
    }
}
