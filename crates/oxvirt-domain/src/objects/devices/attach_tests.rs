//! The post-parse step of an attached device, as libvirt's QEMU driver runs it
//! (`qemuDomainAttachDeviceConfig`: the device parse gives a disk its drive address, then
//! `virDomainDefPostParse` adds the controllers the definition now needs). libvirt 9.0's
//! test driver has no attach; the addresses and controllers asserted here are the ones
//! libvirt's post-parse step gives the same disks in a definition (python3-libvirt on
//! `test:///default`, or `virsh define` then `dumpxml`).

use oxvirt_xml::{ErrorCode, ErrorDomain};

use super::*;
use crate::defaults::{Drive, DriverDefaults};
use crate::devices::controller::ControllerType;

/// A domain as a driver keeps it: parsed, with libvirt's defaults (an IDE CD-ROM on
/// controller 0, with its controller; a virtio disk).
fn defined() -> Domain {
    let mut d = Domain::parse(
        "<domain type='test'><name>t</name><memory>1024</memory><os><type>hvm</type></os>\
         <devices><disk type='file' device='disk'><source file='/a'/>\
         <target dev='vda' bus='virtio'/></disk><disk type='file' device='cdrom'>\
         <source file='/c.iso'/><target dev='hdc' bus='ide'/></disk></devices></domain>",
    )
    .unwrap()
    .domain;
    d.apply_defaults_for("i686").unwrap();
    d
}

fn drive(def: &Domain, dev: &str) -> Option<Drive> {
    let d = def
        .devices
        .disks
        .iter()
        .find(|d| d.target_dev() == Some(dev))?;
    Drive::of(d.info.address.as_ref())
}

fn at(controller: u32, bus: u32, unit: u32) -> Option<Drive> {
    Some(Drive {
        controller,
        bus,
        target: 0,
        unit,
    })
}

fn controllers(def: &Domain) -> Vec<(ControllerType, u32)> {
    def.devices
        .controllers
        .iter()
        .map(|c| (c.kind, c.index.unwrap_or(0)))
        .collect()
}

const NARROW: DriverDefaults = DriverDefaults::GENERIC;

#[test]
fn an_attached_scsi_disk_gets_its_address_and_controller() {
    let mut def = defined();
    assert_eq!(controllers(&def), [(ControllerType::Ide, 0)]);
    attach_device_with(
        &mut def,
        "<disk type='file' device='disk'><source file='/s'/><target dev='sdb'/></disk>",
        &NARROW,
    )
    .unwrap();
    assert_eq!(drive(&def, "sdb"), at(0, 0, 1));
    // Appended, as libvirt appends the controllers its post-parse step adds.
    assert_eq!(
        controllers(&def),
        [(ControllerType::Ide, 0), (ControllerType::Scsi, 0)]
    );
    let xml = def.to_xml();
    assert!(
        xml.contains(
            "      <target dev='sdb' bus='scsi'/>\n      \
             <address type='drive' controller='0' bus='0' target='0' unit='1'/>\n"
        ),
        "{xml}"
    );
    assert!(
        xml.contains("    <controller type='scsi' index='0'/>\n"),
        "{xml}"
    );
}

#[test]
fn scsi_numbering_follows_the_drivers_policy() {
    let disk = "<disk type='file' device='disk'><source file='/s'/><target dev='sdh'/></disk>";
    let mut narrow = defined();
    attach_device_with(&mut narrow, disk, &NARROW).unwrap();
    assert_eq!(drive(&narrow, "sdh"), at(1, 0, 0));
    assert!(controllers(&narrow).contains(&(ControllerType::Scsi, 1)));
    // QEMU's wide bus: 15 units a controller, unit 7 skipped.
    let wide = DriverDefaults {
        wide_scsi: true,
        ..DriverDefaults::GENERIC
    };
    let mut def = defined();
    attach_device_with(&mut def, disk, &wide).unwrap();
    assert_eq!(drive(&def, "sdh"), at(0, 0, 8));
    assert_eq!(
        controllers(&def),
        [(ControllerType::Ide, 0), (ControllerType::Scsi, 0)]
    );
}

#[test]
fn attached_ide_and_sata_disks() {
    let mut def = defined();
    let ide = |dev: &str| {
        format!(
            "<disk type='file' device='disk'><source file='/{dev}'/><target dev='{dev}'/></disk>"
        )
    };
    // hdd is the second unit of the second bus of controller 0, which exists.
    attach_device_with(&mut def, &ide("hdd"), &NARROW).unwrap();
    assert_eq!(drive(&def, "hdd"), at(0, 1, 1));
    assert_eq!(controllers(&def), [(ControllerType::Ide, 0)]);
    // hde is on controller 1, which is added.
    attach_device_with(&mut def, &ide("hde"), &NARROW).unwrap();
    assert_eq!(drive(&def, "hde"), at(1, 0, 0));
    assert_eq!(
        controllers(&def),
        [(ControllerType::Ide, 0), (ControllerType::Ide, 1)]
    );
    attach_device(
        &mut def,
        "<disk type='file' device='disk'><source file='/s'/><target dev='sdb' bus='sata'/></disk>",
    )
    .unwrap();
    assert_eq!(drive(&def, "sdb"), at(0, 0, 1));
    assert!(controllers(&def).contains(&(ControllerType::Sata, 0)));
    // An attached CD-ROM is read-only, as a defined one.
    attach_device(
        &mut def,
        "<disk type='file' device='cdrom'><source file='/d.iso'/><target dev='hdb'/></disk>",
    )
    .unwrap();
    let cdrom = def
        .devices
        .disks
        .iter()
        .find(|d| d.target_dev() == Some("hdb"))
        .unwrap();
    assert!(cdrom.readonly);
    assert_eq!(drive(&def, "hdb"), at(0, 0, 1));
}

#[test]
fn a_given_address_is_kept_and_virtio_disks_get_none() {
    let mut def = defined();
    attach_device(
        &mut def,
        "<disk type='file' device='disk'><source file='/s'/><target dev='sda' bus='scsi'/>\
         <address type='drive' controller='2' unit='3'/></disk>",
    )
    .unwrap();
    assert_eq!(drive(&def, "sda"), at(2, 0, 3));
    // Every controller up to the one the address names.
    assert_eq!(
        controllers(&def),
        [
            (ControllerType::Ide, 0),
            (ControllerType::Scsi, 0),
            (ControllerType::Scsi, 1),
            (ControllerType::Scsi, 2)
        ]
    );
    attach_device(
        &mut def,
        "<disk type='file' device='disk'><source file='/v'/><target dev='vdb'/></disk>",
    )
    .unwrap();
    let vdb = def
        .devices
        .disks
        .iter()
        .find(|d| d.target_dev() == Some("vdb"))
        .unwrap();
    assert_eq!(vdb.info.address, None);
}

/// libvirt's device parse runs the post-parse step before the checks: a name it cannot
/// number fails there, with the post-parse step's error.
#[test]
fn post_parse_errors_come_first() {
    let mut def = defined();
    let e = attach_device(
        &mut def,
        "<disk type='file' device='disk'><source file='/s'/><target dev='foo' bus='scsi'/></disk>",
    )
    .unwrap_err();
    assert_eq!(
        (e.code, e.domain, e.message.as_str()),
        (
            ErrorCode::XmlError,
            ErrorDomain::Domain,
            "XML error: Unknown disk name 'foo' and no address specified"
        )
    );
    let e = attach_device(
        &mut def,
        "<disk type='file' device='floppy'><source file='/f'/><target dev='fda' bus='ide'/></disk>",
    )
    .unwrap_err();
    assert_eq!(
        e.message,
        "internal error: Invalid bus type 'ide' for floppy disk"
    );
    // Nothing was added.
    assert_eq!(def.devices.disks.len(), 2);
}
