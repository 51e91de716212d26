//! The controllers libvirt adds for the devices that need one
//! (`virDomainDefAddImplicitControllers`), in libvirt's order: SCSI, floppy, IDE and SATA
//! controllers for the disks, virtio-serial controllers for virtio channels and consoles,
//! CCID controllers for smartcards (which get their slots here), and SCSI controllers for
//! SCSI host devices.
//!
//! libvirt appends each controller it adds (`virDomainDefAddController`), so they are
//! written after the controllers of the definition, in the order they were added, not
//! sorted by type and index as the parser keeps the written ones.

use oxvirt_xml::Element;

use super::drives::{is_scsi_hostdev, scsi_controller_model, Drive};
use crate::address::DeviceAddress;
use crate::devices::chardev::{ChannelTargetType, ChardevTargetType, ConsoleTargetType};
use crate::devices::controller::{Controller, ControllerType};
use crate::devices::disk::DiskBus;
use crate::devices::{Chardev, Devices};

/// Appends a controller of `kind` with index `index` and `model` unless one of that type
/// has that index (`virDomainDefMaybeAddController`). Returns whether one was added.
pub fn maybe_add_controller(
    controllers: &mut Vec<Controller>,
    kind: ControllerType,
    index: u32,
    model: Option<&str>,
) -> bool {
    if controllers
        .iter()
        .any(|c| c.kind == kind && c.index == Some(index))
    {
        return false;
    }
    let mut c = Controller::new(kind, index);
    c.model = model.map(str::to_string);
    controllers.push(c);
    true
}

/// Every controller of `kind` from index 0 to the highest one that a disk on `bus` with a
/// drive address names (`virDomainDefAddDiskControllersForType`).
fn add_disk_controllers(devices: &mut Devices, bus: DiskBus, kind: ControllerType) {
    let max = devices
        .disks
        .iter()
        .filter(|d| d.effective_bus() == bus)
        .filter_map(|d| Drive::of(d.info.address.as_ref()))
        .map(|a| a.controller)
        .max();
    let Some(max) = max else { return };
    for index in 0..=max {
        maybe_add_controller(&mut devices.controllers, kind, index, None);
    }
}

/// The virtio-serial controller a virtio channel or console is on: the one its address
/// names, else 0.
fn virtio_serial_index(dev: &Chardev) -> u32 {
    match &dev.info.address {
        Some(DeviceAddress::VirtioSerial { controller, .. }) => controller.unwrap_or(0),
        _ => 0,
    }
}

/// A virtio-serial controller for each virtio channel, then for each virtio console
/// (`virDomainDefMaybeAddVirtioSerialController`).
fn add_virtio_serial_controllers(devices: &mut Devices) {
    let channels = devices
        .channels
        .iter()
        .filter(|c| c.target_type() == Some(ChardevTargetType::Channel(ChannelTargetType::Virtio)));
    let consoles = devices
        .consoles
        .iter()
        .filter(|c| c.target_type() == Some(ChardevTargetType::Console(ConsoleTargetType::Virtio)));
    let wanted: Vec<u32> = channels.chain(consoles).map(virtio_serial_index).collect();
    for index in wanted {
        maybe_add_controller(
            &mut devices.controllers,
            ControllerType::VirtioSerial,
            index,
            None,
        );
    }
}

/// The controller and slot of a CCID address.
fn ccid_of(address: Option<&DeviceAddress>) -> Option<(u32, u32)> {
    match address? {
        DeviceAddress::Other(a) if a.attr("type") == Some("ccid") => {
            let num = |name: &str| a.attr(name).and_then(|v| v.parse().ok()).unwrap_or(0);
            Some((num("controller"), num("slot")))
        }
        _ => None,
    }
}

/// Gives each smartcard without an address the slot after the highest one used on CCID
/// controller 0, and adds a CCID controller for each smartcard: the one its address names,
/// else 0 (`virDomainDefMaybeAddSmartcardController`).
fn add_smartcard_controllers(devices: &mut Devices) {
    for i in 0..devices.smartcards.len() {
        let index = match ccid_of(devices.smartcards[i].info.address.as_ref()) {
            Some((controller, _)) => controller,
            None if devices.smartcards[i].info.address.is_none() => {
                let max = devices
                    .smartcards
                    .iter()
                    .filter_map(|s| ccid_of(s.info.address.as_ref()))
                    .filter(|(controller, _)| *controller == 0)
                    .map(|(_, slot)| slot)
                    .max();
                let slot = max.map_or(0, |m| m + 1);
                devices.smartcards[i].info.address = Some(DeviceAddress::Other(
                    Element::new("address")
                        .with_attr("type", "ccid")
                        .with_attr("controller", "0")
                        .with_attr("slot", slot.to_string()),
                ));
                0
            }
            None => 0,
        };
        maybe_add_controller(&mut devices.controllers, ControllerType::Ccid, index, None);
    }
}

/// Every SCSI controller from 0 to the highest one a SCSI host device is on, of the model
/// of the controller the last such device (in document order, each on a higher controller
/// than the ones before) found existing (`virDomainDefMaybeAddHostdevSCSIcontroller`).
fn add_hostdev_scsi_controllers(devices: &mut Devices) {
    let mut max: Option<u32> = None;
    let mut model = None;
    for h in devices.hostdevs.iter().filter(|h| is_scsi_hostdev(h)) {
        let controller = Drive::of(h.info.address.as_ref()).map_or(0, |a| a.controller);
        if max.is_none_or(|m| controller > m) {
            max = Some(controller);
            if let Some(m) = scsi_controller_model(&devices.controllers, controller) {
                model = Some(m);
            }
        }
    }
    let Some(max) = max else { return };
    for index in 0..=max {
        maybe_add_controller(
            &mut devices.controllers,
            ControllerType::Scsi,
            index,
            model.as_deref(),
        );
    }
}

/// Adds the controllers libvirt adds (`virDomainDefAddImplicitControllers`), in its
/// order; see the module documentation. Drive addresses must be assigned first.
pub fn add_implicit_controllers(devices: &mut Devices) {
    add_disk_controllers(devices, DiskBus::Scsi, ControllerType::Scsi);
    add_disk_controllers(devices, DiskBus::Fdc, ControllerType::Fdc);
    add_disk_controllers(devices, DiskBus::Ide, ControllerType::Ide);
    add_disk_controllers(devices, DiskBus::Sata, ControllerType::Sata);
    add_virtio_serial_controllers(devices);
    add_smartcard_controllers(devices);
    add_hostdev_scsi_controllers(devices);
}
