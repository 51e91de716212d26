//! Drive addresses: the part of libvirt's per-device post-parse step
//! (`virDomainDeviceDefPostParseCommon`) that places disks and SCSI host devices on their
//! controllers.
//!
//! libvirt runs it device by device, all disks first and then the host devices
//! (`virDomainDeviceInfoIterate` visits them in that order), so a host device without an
//! address takes the first SCSI unit left free by every disk and by the host devices
//! before it.

use oxvirt_xml::{Result, Unknown, XmlError};

use super::policy::DriverDefaults;
use crate::address::DeviceAddress;
use crate::devices::controller::{Controller, ControllerType};
use crate::devices::disk::{DiskBus, DiskDevice, DiskType, SnapshotLocation};
use crate::devices::hostdev::{Hostdev, HostdevType};
use crate::devices::{Devices, Disk};

/// A drive address with libvirt's zeros for the parts not written
/// (`virDomainDeviceDriveAddress`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Drive {
    /// Controller index.
    pub controller: u32,
    /// Bus on the controller.
    pub bus: u32,
    /// Target on the bus.
    pub target: u32,
    /// Unit on the target.
    pub unit: u32,
}

impl Drive {
    /// The drive address of a device address, if it is one.
    pub fn of(address: Option<&DeviceAddress>) -> Option<Drive> {
        match address? {
            DeviceAddress::Drive {
                controller,
                bus,
                target,
                unit,
                ..
            } => Some(Drive {
                controller: controller.unwrap_or(0),
                bus: bus.unwrap_or(0),
                target: target.unwrap_or(0),
                unit: unit.unwrap_or(0),
            }),
            _ => None,
        }
    }

    /// `controller='0' bus='0' target='0' unit='0'`, as libvirt's messages quote it.
    fn describe(&self) -> String {
        format!(
            "controller='{}' bus='{}' target='{}' unit='{}'",
            self.controller, self.bus, self.target, self.unit
        )
    }
}

/// Writes out the parts of a drive address left unwritten: libvirt reads them as 0 and
/// always writes all four.
fn complete(address: &mut Option<DeviceAddress>) {
    if let Some(DeviceAddress::Drive {
        controller,
        bus,
        target,
        unit,
        ..
    }) = address
    {
        for part in [controller, bus, target, unit] {
            part.get_or_insert(0);
        }
    }
}

fn set_drive(address: &mut Option<DeviceAddress>, d: Drive) {
    *address = Some(DeviceAddress::Drive {
        controller: Some(d.controller),
        bus: Some(d.bus),
        target: Some(d.target),
        unit: Some(d.unit),
        unknown: Unknown::default(),
    });
}

/// Whether a host device is a SCSI one, whose guest address is a drive address
/// (`virHostdevIsSCSIDevice`).
pub fn is_scsi_hostdev(h: &Hostdev) -> bool {
    h.kind == HostdevType::Scsi
}

/// Whether a disk on `bus` sits at `addr` (`virDomainDriveAddressIsUsedByDisk`).
fn used_by_disk(disks: &[Disk], bus: DiskBus, addr: Drive) -> bool {
    disks
        .iter()
        .any(|d| d.effective_bus() == bus && Drive::of(d.info.address.as_ref()) == Some(addr))
}

/// Whether a SCSI host device sits at `addr` (`virDomainDriveAddressIsUsedByHostdev`).
fn used_by_hostdev(hostdevs: &[Hostdev], addr: Drive) -> bool {
    hostdevs
        .iter()
        .any(|h| is_scsi_hostdev(h) && Drive::of(h.info.address.as_ref()) == Some(addr))
}

/// The highest unit and the unit taken by the adapter itself on a SCSI controller of
/// `model`, as libvirt knows them from QEMU (`virDomainSCSIDriveAddressIsUsed`).
fn scsi_unit_limits(model: Option<&str>) -> (Option<u32>, Option<u32>) {
    match model {
        Some("virtio-scsi" | "virtio-transitional" | "virtio-non-transitional") => {
            (Some(16383), None)
        }
        Some("ibmvscsi") => (Some(31), Some(7)),
        Some("lsisas1068") => (Some(1), None),
        Some("lsisas1078") => (Some(255), None),
        Some("lsilogic" | "vmpvscsi" | "buslogic") => (None, Some(7)),
        Some("ncr53c90" | "dc390" | "am53c974") => (Some(6), None),
        _ => (None, None),
    }
}

/// Whether `addr` on a SCSI controller is taken: beyond what the controller's model
/// offers, its reserved unit, or used by a SCSI disk or host device
/// (`virDomainSCSIDriveAddressIsUsed`).
fn scsi_address_used(devices: &Devices, addr: Drive) -> bool {
    let controller = devices
        .controllers
        .iter()
        .find(|c| c.kind == ControllerType::Scsi && c.index == Some(addr.controller));
    if let Some(c) = controller {
        let (max, reserved) = scsi_unit_limits(c.model.as_deref());
        if max.is_some_and(|m| addr.unit > m) || reserved == Some(addr.unit) {
            return true;
        }
    }
    used_by_disk(&devices.disks, DiskBus::Scsi, addr) || used_by_hostdev(&devices.hostdevs, addr)
}

/// The units of each SCSI controller libvirt 9.0 tries for a host device without an
/// address, on a narrow or a wide bus alike (`SCSI_NARROW_BUS_MAX_CONT_UNIT`): the test
/// driver and libvirt's QEMU outputs (`hostdev-scsi-autogen-address`, on virtio-scsi) both
/// move on to the next controller after unit 6.
const HOSTDEV_SCSI_UNITS: u32 = 7;

/// The address libvirt gives a SCSI host device without one
/// (`virDomainHostdevAssignAddress`): the first free unit among the first
/// [`HOSTDEV_SCSI_UNITS`] on bus 0, target 0 of the first controller with one. Controllers
/// need not exist yet; the implicit-controller step adds them.
fn next_scsi_address(devices: &Devices) -> Drive {
    let units = HOSTDEV_SCSI_UNITS;
    // Each device fills at most one unit, so some controller up to this one is free.
    let last = u32::try_from(devices.disks.len() + devices.hostdevs.len()).unwrap_or(u32::MAX);
    for controller in 0..=last {
        for unit in 0..units {
            let addr = Drive {
                controller,
                bus: 0,
                target: 0,
                unit,
            };
            if !scsi_address_used(devices, addr) {
                return addr;
            }
        }
    }
    Drive {
        controller: last.saturating_add(1),
        bus: 0,
        target: 0,
        unit: 0,
    }
}

/// libvirt's post-parse of one disk (`virDomainDiskDefPostParse`, with the parser's
/// read-only CD-ROM): a CD-ROM is read-only, a vhost-user disk takes no snapshots unless it
/// says otherwise, a drive address says all its parts, and a disk without an address gets
/// the one its target name gives (`virDomainDiskDefAssignAddress`, see
/// [`Disk::assign_drive_address`]), which on a SCSI bus must not be a SCSI host device's.
pub fn disk_post_parse(
    disk: &mut Disk,
    hostdevs: &[Hostdev],
    policy: &DriverDefaults,
) -> Result<()> {
    if disk.device == DiskDevice::Cdrom {
        disk.readonly = true;
    }
    if disk.kind == DiskType::Vhostuser {
        disk.snapshot.get_or_insert(SnapshotLocation::No);
    }
    complete(&mut disk.info.address);
    if disk.info.address.is_some() {
        return Ok(());
    }
    disk.assign_drive_address(policy.wide_scsi)?;
    if disk.effective_bus() != DiskBus::Scsi {
        return Ok(());
    }
    if let Some(addr) = Drive::of(disk.info.address.as_ref()) {
        if used_by_hostdev(hostdevs, addr) {
            // libvirt's message lacks the closing quote.
            return Err(XmlError::unsupported(format!(
                "using disk target name '{}' conflicts with SCSI host device address {}",
                disk.target_dev().unwrap_or(""),
                addr.describe().trim_end_matches('\'')
            )));
        }
    }
    Ok(())
}

/// libvirt's post-parse of the SCSI host device `hostdevs[i]` (`virDomainHostdevDefPostParse`):
/// without an address it gets the next free SCSI unit; with one, that unit must not be a
/// SCSI disk's.
fn scsi_hostdev_post_parse(devices: &mut Devices, i: usize) -> Result<()> {
    complete(&mut devices.hostdevs[i].info.address);
    match Drive::of(devices.hostdevs[i].info.address.as_ref()) {
        None => {
            let addr = next_scsi_address(devices);
            set_drive(&mut devices.hostdevs[i].info.address, addr);
        }
        Some(addr) if used_by_disk(&devices.disks, DiskBus::Scsi, addr) => {
            return Err(XmlError::xml(format!(
                "SCSI host address {} in use by a SCSI disk",
                addr.describe()
            )));
        }
        Some(_) => {}
    }
    Ok(())
}

/// Places the disks, then the SCSI host devices, as libvirt's per-device post-parse step
/// does ([`disk_post_parse`], `virDomainHostdevDefPostParse`).
pub fn assign_drive_addresses(devices: &mut Devices, policy: &DriverDefaults) -> Result<()> {
    for i in 0..devices.disks.len() {
        disk_post_parse(&mut devices.disks[i], &devices.hostdevs, policy)?;
    }
    for i in 0..devices.hostdevs.len() {
        if is_scsi_hostdev(&devices.hostdevs[i]) {
            scsi_hostdev_post_parse(devices, i)?;
        }
    }
    Ok(())
}

/// The model of the SCSI controller `index`, if it exists and has one.
pub fn scsi_controller_model(controllers: &[Controller], index: u32) -> Option<String> {
    controllers
        .iter()
        .find(|c| c.kind == ControllerType::Scsi && c.index == Some(index))
        .and_then(|c| c.model.clone())
}
