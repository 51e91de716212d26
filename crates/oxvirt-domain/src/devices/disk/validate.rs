//! libvirt's generic checks of disks (`virDomainDiskDefValidate` and the helpers it calls
//! in `domain_validate.c`), in libvirt's order, and the checks across the disks of a
//! domain; the QEMU driver's own checks are [`Disk::validate_qemu`].
//!
//! What the model keeps untyped (`<auth>`, `<encryption>`, `<iotune>`, `<geometry>`,
//! `<blockio>`, `<reservations>`, `<slices>`) is looked at as written.

use oxvirt_xml::{Element, ErrorCode, ErrorDomain, Result, XmlError};

use super::common::{Sgio, StartupPolicy, StorageFormat};
use super::source::{DiskSource, DiskType, NetProtocol};
use super::{parse_disk_name, Disk, DiskBus, DiskDevice, SnapshotLocation, Tray};
use crate::address::DeviceAddress;

fn unsupported(detail: impl Into<String>) -> Result<()> {
    Err(XmlError::unsupported(detail))
}

/// The first child `name` of the untyped content of the disk or of its source (libvirt
/// reads `<auth>` and `<encryption>` in either place, into the source).
fn disk_or_source_child<'a>(disk: &'a Disk, name: &str) -> Option<&'a Element> {
    disk.unknown
        .elements()
        .find(|e| e.name == name)
        .or_else(|| source_child(disk.source.as_ref(), name))
}

fn source_child<'a>(source: Option<&'a DiskSource>, name: &str) -> Option<&'a Element> {
    source.and_then(|s| s.unknown.elements().find(|e| e.name == name))
}

/// Whether the child `name` of `el` holds a number other than zero.
fn nonzero_child(el: &Element, name: &str) -> bool {
    el.child(name)
        .and_then(|c| c.text().trim().parse::<u64>().ok())
        .is_some_and(|n| n != 0)
}

/// Whether the attribute `name` of `el` holds a number other than zero.
fn nonzero_attr(el: &Element, name: &str) -> bool {
    el.attr(name)
        .and_then(|v| v.trim().parse::<u64>().ok())
        .is_some_and(|n| n != 0)
}

/// libvirt's checks of the authentication and encryption of a disk's source
/// (`virDomainDiskDefValidateSourceChainOne`, for the top image).
fn validate_source(disk: &Disk) -> Result<()> {
    if let (DiskType::Network, Some(auth)) = (disk.kind, disk_or_source_child(disk, "auth")) {
        let protocol = disk.source.as_ref().and_then(|s| s.protocol);
        use NetProtocol as P;
        if let Some(p @ (P::Nbd | P::Sheepdog | P::Gluster | P::Tftp | P::Vxhs | P::Nfs)) = protocol
        {
            return unsupported(format!(
                "authentication is not supported for protocol '{p}'"
            ));
        }
        let usage = auth.child("secret").and_then(|s| s.attr("type"));
        let known = ["none", "volume", "ceph", "iscsi", "tls", "vtpm"];
        match usage {
            Some(u) if known.contains(&u) => {
                let wrong = match protocol {
                    Some(P::Iscsi) => u != "iscsi",
                    Some(P::Rbd) => u != "ceph",
                    _ => false,
                };
                if wrong {
                    return unsupported(format!("invalid secret type '{u}'"));
                }
            }
            other => {
                return unsupported(format!(
                    "unknown secret type '{}'",
                    other.unwrap_or("<null>")
                ))
            }
        }
    }
    if let Some(enc) = disk_or_source_child(disk, "encryption") {
        if enc.attr("format") == Some("luks") && enc.child("cipher").is_some() {
            return unsupported("supplying <cipher> for domain disk definition is unnecessary");
        }
    }
    Ok(())
}

/// libvirt's checks of the source of a LUN (`virDomainDiskDefSourceLUNValidate`).
fn validate_lun_source(disk: &Disk) -> Result<()> {
    match disk.kind {
        DiskType::Network => {
            let protocol = disk.source.as_ref().and_then(|s| s.protocol);
            if protocol != Some(NetProtocol::Iscsi) {
                let p = protocol.map_or("none".to_string(), |p| p.to_string());
                return unsupported(format!(
                    "disk device='lun' is not supported for protocol='{p}'"
                ));
            }
        }
        DiskType::Block | DiskType::Volume => {}
        _ => return unsupported("disk device='lun' is only valid for block type disk source"),
    }
    if disk.format().is_some_and(|f| f != StorageFormat::Raw) {
        return unsupported("disk device 'lun' must use 'raw' format");
    }
    let storage_slice = source_child(disk.source.as_ref(), "slices").is_some_and(|s| {
        s.elements()
            .any(|e| e.name == "slice" && e.attr("type") == Some("storage"))
    });
    if storage_slice {
        return unsupported("disk device 'lun' doesn't support storage slice");
    }
    if disk_or_source_child(disk, "encryption")
        .and_then(|e| e.attr("format"))
        .is_some_and(|f| f != "default")
    {
        return unsupported("disk device 'lun' doesn't support encryption");
    }
    Ok(())
}

/// The `<iotune>` limits that cannot be given both as a total and per direction.
const IOTUNE_PAIRS: &[&str] = &["bytes_sec", "iops_sec", "bytes_sec_max", "iops_sec_max"];

fn validate_iotune(disk: &Disk) -> Result<()> {
    let Some(iotune) = disk.unknown.elements().find(|e| e.name == "iotune") else {
        return Ok(());
    };
    for what in IOTUNE_PAIRS {
        let total = nonzero_child(iotune, &format!("total_{what}"));
        let split = nonzero_child(iotune, &format!("read_{what}"))
            || nonzero_child(iotune, &format!("write_{what}"));
        if total && split {
            return Err(XmlError::xml(format!(
                "total and read/write {what} cannot be set at the same time"
            )));
        }
    }
    Ok(())
}

/// The address types the buses libvirt's generic code knows accept
/// (`virDomainDiskAddressDiskBusCompatibility`): a drive address on IDE, floppy, SCSI and
/// SATA buses.
fn validate_address(disk: &Disk, dev: &str, bus: DiskBus) -> Result<()> {
    let Some(address) = &disk.info.address else {
        return Ok(());
    };
    let drive_bus = matches!(
        bus,
        DiskBus::Ide | DiskBus::Fdc | DiskBus::Scsi | DiskBus::Sata
    );
    if drive_bus && !matches!(address, DeviceAddress::Drive { .. }) {
        return unsupported(format!(
            "Invalid address type '{}' for the disk '{dev}' with the bus type '{bus}'",
            address.kind()
        ));
    }
    Ok(())
}

/// What a disk on another bus than virtio may not have.
fn validate_non_virtio(disk: &Disk, bus: DiskBus) -> Result<()> {
    // Every disk model is a virtio one.
    if let Some(m) = disk.model {
        return unsupported(format!("disk model '{m}' not supported for bus '{bus}'"));
    }
    let Some(d) = &disk.driver else {
        return Ok(());
    };
    if d.queues.is_some() {
        return unsupported(
            "queues attribute in disk driver element is only supported by virtio-blk",
        );
    }
    if d.event_idx.is_some() {
        return unsupported("disk event_idx mode supported only for virtio bus");
    }
    if d.ioeventfd.is_some() {
        return unsupported("disk ioeventfd mode supported only for virtio bus");
    }
    d.virtio.check_absent()
}

/// What a vhost-user disk cannot have (`virDomainDiskVhostUserValidate`).
fn validate_vhostuser(disk: &Disk, bus: DiskBus) -> Result<()> {
    let not = |what: &str| unsupported(format!("{what} is not supported with vhostuser disk"));
    if bus != DiskBus::Virtio {
        return unsupported("vhostuser disk supports only virtio bus");
    }
    if disk.snapshot != Some(SnapshotLocation::No) {
        return unsupported("only snapshot=no is supported with vhostuser disk");
    }
    if let Some(d) = &disk.driver {
        let attrs = [
            (d.cache.is_some(), "cache"),
            (
                d.error_policy.is_some() || d.rerror_policy.is_some(),
                "error_policy",
            ),
            (d.io.is_some(), "io"),
            (d.ioeventfd.is_some(), "ioeventfd"),
            (d.copy_on_read.is_some(), "copy_on_read"),
            (d.discard.is_some(), "discard"),
            (d.iothread.is_some(), "iothread"),
            (d.detect_zeroes.is_some(), "detect_zeroes"),
            (
                d.unknown.elements().any(|e| e.name == "metadata_cache"),
                "metadata_cache",
            ),
        ];
        if let Some((_, what)) = attrs.iter().find(|(set, _)| *set) {
            return not(what);
        }
    }
    let untyped = |name: &str| disk.unknown.elements().find(|e| e.name == name);
    let iotune = untyped("iotune").is_some_and(|t| {
        t.elements()
            .any(|c| c.name == "group_name" || nonzero_child(t, &c.name))
    });
    let geometry = untyped("geometry").is_some_and(|g| {
        ["cyls", "heads", "secs"].iter().any(|a| nonzero_attr(g, a))
            || g.attr("trans").is_some_and(|t| t != "default")
    });
    let blockio = untyped("blockio").is_some_and(|b| {
        nonzero_attr(b, "logical_block_size") || nonzero_attr(b, "physical_block_size")
    });
    let checks = [
        (iotune, "iotune"),
        (disk.backing_store.is_some(), "backingStore"),
        (
            disk_or_source_child(disk, "encryption").is_some(),
            "encryption",
        ),
        (disk.readonly, "readonly"),
        (disk.shareable, "shareable"),
        (disk.transient.is_some(), "transient"),
        (disk.serial.is_some(), "serial"),
        (disk.wwn.is_some(), "wwn"),
        (disk.vendor.is_some(), "vendor"),
        (disk.product.is_some(), "product"),
        (disk_or_source_child(disk, "auth").is_some(), "auth"),
        (geometry, "geometry"),
        (blockio, "blockio"),
    ];
    match checks.iter().find(|(set, _)| *set) {
        Some((_, what)) => not(what),
        None => Ok(()),
    }
}

/// A SCSI vendor (8 bytes at most) or product (16) string: printable ASCII.
fn validate_inquiry_string(value: Option<&str>, what: &str, max: usize) -> Result<()> {
    let Some(v) = value else {
        return Ok(());
    };
    if !v.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err(XmlError::xml(format!(
            "disk {what} is not printable string"
        )));
    }
    if v.len() > max {
        return unsupported(format!("disk {what} is more than {max} characters"));
    }
    Ok(())
}

/// Where a startup policy may be given (`virDomainDiskDefValidateStartupPolicy`): local
/// storage (or a storage-pool volume), and `requisite` only for removable media.
fn validate_startup_policy(disk: &Disk) -> Result<()> {
    let Some(policy) = disk.source.as_ref().and_then(|s| s.startup_policy) else {
        return Ok(());
    };
    if !matches!(
        disk.kind,
        DiskType::File | DiskType::Block | DiskType::Dir | DiskType::Volume
    ) {
        return Err(XmlError::xml(format!(
            "disk startupPolicy '{policy}' is not allowed for disk of '{}' type",
            disk.kind
        )));
    }
    if !disk.is_removable_media() && policy == StartupPolicy::Requisite {
        return Err(XmlError::xml(
            "disk startupPolicy 'requisite' is allowed only for cdrom or floppy",
        ));
    }
    Ok(())
}

/// libvirt's check of a World Wide Name (`virValidateWWN`): 16 hex digits, optionally
/// after `0x`. Reported from libvirt's generic code.
fn validate_wwn(wwn: &str) -> Result<()> {
    let hex = wwn.strip_prefix("0x").unwrap_or(wwn);
    if hex.len() != 16 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(
            XmlError::internal(format!("Malformed wwn: {wwn}")).from_domain(ErrorDomain::None)
        );
    }
    Ok(())
}

/// Whether the disk has no medium (`virStorageSourceIsEmpty`): local storage without a
/// path, or a network disk without a protocol.
fn is_empty(disk: &Disk) -> bool {
    let s = disk.source.as_ref();
    match disk.kind {
        DiskType::File => s.and_then(|s| s.file.as_deref()).is_none(),
        DiskType::Block => s.and_then(|s| s.dev.as_deref()).is_none(),
        DiskType::Dir => s.and_then(|s| s.dir.as_deref()).is_none(),
        DiskType::Network => s.and_then(|s| s.protocol).is_none(),
        _ => false,
    }
}

impl Disk {
    /// Checks one disk as libvirt's generic validation does (`virDomainDeviceInfoValidate`,
    /// then `virDomainDiskDefValidate`), failing with libvirt's code and message for the
    /// first problem found. Runs on a disk whose bus and drive address are set
    /// ([`Disk::assign_bus`], [`crate::defaults::disk_post_parse`]).
    pub fn validate(&self) -> Result<()> {
        if let Some(a @ DeviceAddress::Other(_)) = &self.info.address {
            if a.kind() == "unassigned" {
                return unsupported("address of type 'unassigned' is supported only for hostdevs");
            }
        }
        let Some(dev) = self.target_dev() else {
            let what = match &self.source {
                Some(s) if s.pool.is_some() => format!(
                    " pool = '{}', volume = '{}'",
                    s.pool.as_deref().unwrap_or(""),
                    s.volume.as_deref().unwrap_or("")
                ),
                _ => self
                    .source_path()
                    .map(|p| format!(" {p}"))
                    .unwrap_or_default(),
            };
            return Err(XmlError::new(
                ErrorCode::NoTarget,
                format!("missing target information for device{what}"),
            ));
        };
        let bus = self.effective_bus();
        validate_source(self)?;
        if self.sgio == Some(Sgio::Unfiltered) {
            return unsupported("unfiltered sgio is no longer supported");
        }
        if self.device == DiskDevice::Lun {
            validate_lun_source(self)?;
        } else {
            if source_child(self.source.as_ref(), "reservations").is_some() {
                return unsupported("<reservations/> allowed only for lun devices");
            }
            if self.rawio.is_some() {
                return unsupported("rawio can be used only with device='lun'");
            }
            if self.sgio.is_some() {
                return unsupported("sgio can be used only with device='lun'");
            }
        }
        validate_iotune(self)?;
        validate_address(self, dev, bus)?;
        if bus != DiskBus::Virtio {
            validate_non_virtio(self, bus)?;
        }
        if self.kind == DiskType::Nvme && self.source.as_ref().and_then(|s| s.namespace) == Some(0)
        {
            return unsupported("NVMe namespace can't be zero");
        }
        if self.kind == DiskType::Vhostuser {
            validate_vhostuser(self, bus)?;
        }
        let tray_open = self.target.as_ref().and_then(|t| t.tray) == Some(Tray::Open);
        if tray_open && !self.is_removable_media() {
            return unsupported("tray is only valid for cdrom and floppy");
        }
        validate_inquiry_string(self.vendor.as_deref(), "vendor", 8)?;
        validate_inquiry_string(self.product.as_deref(), "product", 16)?;
        if self.device == DiskDevice::Floppy && bus != DiskBus::Fdc {
            return Err(XmlError::internal(format!(
                "Invalid bus type '{bus}' for floppy disk"
            )));
        }
        if self.device != DiskDevice::Floppy && bus == DiskBus::Fdc {
            return Err(XmlError::internal(format!(
                "Invalid bus type '{bus}' for disk"
            )));
        }
        if self.target.as_ref().is_some_and(|t| t.removable.is_some()) && bus != DiskBus::Usb {
            return Err(XmlError::xml("removable is only valid for usb disks"));
        }
        validate_startup_policy(self)?;
        if let Some(wwn) = &self.wwn {
            validate_wwn(wwn)?;
        }
        let harddisk_prefixes = ["hd", "sd", "vd", "xvd", "ubd"];
        if matches!(self.device, DiskDevice::Disk | DiskDevice::Lun)
            && !harddisk_prefixes.iter().any(|p| dev.starts_with(p))
        {
            return Err(XmlError::internal(format!(
                "Invalid harddisk device name: {dev}"
            )));
        }
        if self.device == DiskDevice::Floppy && !dev.starts_with("fd") {
            return Err(XmlError::internal(format!(
                "Invalid floppy device name: {dev}"
            )));
        }
        if self.device == DiskDevice::Disk && is_empty(self) {
            return Err(XmlError::new(
                ErrorCode::NoSource,
                format!("missing source information for device {dev}"),
            ));
        }
        Ok(())
    }

    /// The QEMU driver's own checks of a disk (`qemuValidateDomainDeviceDefDisk`) that need
    /// no QEMU capabilities: no partition as the target (`hda1`), and vendor and product
    /// strings only on a SCSI disk. libvirt's generic validation, and its test driver,
    /// accept both.
    pub fn validate_qemu(&self) -> Result<()> {
        if let Some(dev) = self.target_dev() {
            if parse_disk_name(dev).is_some_and(|(_, partition)| partition != 0) {
                return unsupported(format!(
                    "invalid disk target '{dev}', partitions can't appear in disk targets"
                ));
            }
        }
        if (self.vendor.is_some() || self.product.is_some())
            && self.effective_bus() != DiskBus::Scsi
        {
            return unsupported("Only scsi disk supports vendor and product");
        }
        Ok(())
    }
}

pub(super) fn drive_key(a: &DeviceAddress) -> Option<(u32, u32, u32, u32)> {
    match a {
        DeviceAddress::Drive {
            controller,
            bus,
            target,
            unit,
            ..
        } => Some((
            controller.unwrap_or(0),
            bus.unwrap_or(0),
            target.unwrap_or(0),
            unit.unwrap_or(0),
        )),
        _ => None,
    }
}

/// The checks libvirt makes across all disks of a domain: each disk valid
/// ([`Disk::validate`]), no target name used twice, no drive address used twice on a bus.
pub fn validate_disks(disks: &[Disk]) -> Result<()> {
    for d in disks {
        d.validate()?;
    }
    for (i, a) in disks.iter().enumerate() {
        for b in &disks[i + 1..] {
            if a.target_dev() == b.target_dev() {
                return Err(XmlError::xml(format!(
                    "target '{}' duplicated for disk sources '{}' and '{}'",
                    a.target_dev().unwrap_or(""),
                    a.source_path().unwrap_or("<null>"),
                    b.source_path().unwrap_or("<null>"),
                )));
            }
        }
    }
    for (i, a) in disks.iter().enumerate() {
        let Some(ka) = a.info.address.as_ref().and_then(drive_key) else {
            continue;
        };
        for b in &disks[i + 1..] {
            if a.effective_bus() == b.effective_bus()
                && b.info.address.as_ref().and_then(drive_key) == Some(ka)
            {
                return Err(XmlError::unsupported(format!(
                    "Found duplicate drive address for disk with target name '{}' \
                     controller='{}' bus='{}' target='{}' unit='{}'",
                    a.target_dev().unwrap_or(""),
                    ka.0,
                    ka.1,
                    ka.2,
                    ka.3
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
