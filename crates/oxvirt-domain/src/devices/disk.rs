//! A disk, CD-ROM, floppy or LUN (`<disk>`), as libvirt's `virDomainDiskDefParseXML` reads
//! it and `virDomainDiskDefFormat` writes it.
//!
//! The pieces live in submodules: [`common`] (device info shared with other devices, virtio
//! options, attribute readers), [`source`] (`<source>`, `<backingStore>`, host PCI
//! addresses) and [`driver`] (`<driver>`). Elements libvirt knows but this model keeps
//! untyped (`<auth>`, `<encryption>`, `<iotune>`, `<geometry>`, `<blockio>`, `<mirror>`)
//! stay in [`Disk::unknown`] at their place.

pub mod common;
pub mod driver;
pub mod source;
mod validate;

use oxvirt_xml::model::PropFlags;
use oxvirt_xml::{
    xml_enum, Builder, Context, Cursor, Element, Result, Unknown, XmlError, XmlModel,
};

use super::info::DeviceInfo;
use crate::address::DeviceAddress;
use crate::util;
use common::{Sgio, StorageFormat};
pub use driver::DiskDriver;
pub use source::{BackingStore, DiskSource, DiskType, NetHost, NetProtocol};
pub use validate::validate_disks;

xml_enum! {
    /// What the guest sees (`<disk device=...>`).
    pub enum DiskDevice { Disk = "disk", Cdrom = "cdrom", Floppy = "floppy", Lun = "lun" }
}

xml_enum! {
    /// The virtio device model of a virtio disk (`<disk model=...>`).
    pub enum DiskModel {
        Virtio = "virtio", VirtioTransitional = "virtio-transitional",
        VirtioNonTransitional = "virtio-non-transitional",
    }
}

xml_enum! {
    /// Where snapshots of the disk go by default (`<disk snapshot=...>`).
    pub enum SnapshotLocation { No = "no", Internal = "internal", External = "external", Manual = "manual" }
}

xml_enum! {
    /// The bus the guest sees the disk on (`<target bus=...>`).
    pub enum DiskBus {
        Ide = "ide", Fdc = "fdc", Scsi = "scsi", Virtio = "virtio", Xen = "xen", Usb = "usb",
        Uml = "uml", Sata = "sata", Sd = "sd",
    }
}

xml_enum! {
    /// The tray of a removable drive (`<target tray=...>`); libvirt writes only `open`.
    pub enum Tray { Open = "open" }
}

/// Where and how the guest sees the disk (`<target dev='vda' bus='virtio'/>`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DiskTarget {
    /// The device name in the guest (`vda`, `sdb`, `hdc`).
    pub dev: Option<String>,
    /// The bus.
    pub bus: Option<DiskBus>,
    /// The tray is open (a closed tray is written as nothing).
    pub tray: Option<Tray>,
    /// `removable='on|off'`, for USB disks only.
    pub removable: Option<bool>,
    /// Rotation rate reported to the guest (1 for an SSD).
    pub rotation_rate: Option<u32>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl XmlModel for DiskTarget {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let dev = c.attr_string("dev");
        let bus = c.enum_attr("bus")?;
        let tray = match c.attr("tray") {
            None | Some("closed") => None,
            Some("open") => Some(Tray::Open),
            Some(v) => return Err(c.invalid_value("tray", v, "")),
        };
        // Kept whatever the bus: validation refuses it on another bus than USB.
        let removable = c.prop_on_off("removable", PropFlags::NONE)?;
        let rotation_rate = c
            .prop_uint("rotation_rate", 10, PropFlags::NONE)?
            .filter(|n| *n != 0);
        Ok(DiskTarget {
            dev,
            bus,
            tray,
            removable,
            rotation_rate,
            unknown: c.finish(ctx),
        })
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("target");
        b.opt_attr("dev", self.dev.as_deref())
            .opt_attr("bus", self.bus)
            .opt_attr("tray", self.tray)
            .on_off("removable", self.removable)
            .opt_attr("rotation_rate", self.rotation_rate);
        b.finish(&self.unknown)
    }
}

/// A disk whose changes are thrown away when the guest stops (`<transient/>`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Transient {
    /// `shareBacking='yes'`: the read-only backing image may be shared (`no` reads as unset).
    pub share_backing: Option<bool>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl XmlModel for Transient {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let share_backing = c
            .prop_yes_no("shareBacking", PropFlags::NONE)?
            .filter(|b| *b);
        Ok(Transient {
            share_backing,
            unknown: c.finish(ctx),
        })
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("transient");
        b.yes_no("shareBacking", self.share_backing);
        b.finish(&self.unknown)
    }
}

/// A disk, CD-ROM, floppy or LUN (`<disk>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disk {
    /// The storage type (`type`, default `file`; a disk without `<source>` is `file`).
    pub kind: DiskType,
    /// The device the guest sees (`device`, default `disk`).
    pub device: DiskDevice,
    /// The virtio model.
    pub model: Option<DiskModel>,
    /// `rawio='yes|no'` (LUNs).
    pub rawio: Option<bool>,
    /// SCSI command filtering (LUNs).
    pub sgio: Option<Sgio>,
    /// Default snapshot location.
    pub snapshot: Option<SnapshotLocation>,
    /// `<driver>`.
    pub driver: Option<DiskDriver>,
    /// `<source>`.
    pub source: Option<DiskSource>,
    /// `<backingStore>`: the images below the top one.
    pub backing_store: Option<BackingStore>,
    /// `<backenddomain name=.../>`: the Xen domain providing the disk.
    pub backend_domain: Option<String>,
    /// `<target>`.
    pub target: Option<DiskTarget>,
    /// `<readonly/>`.
    pub readonly: bool,
    /// `<shareable/>`.
    pub shareable: bool,
    /// `<transient/>`.
    pub transient: Option<Transient>,
    /// `<serial>`.
    pub serial: Option<String>,
    /// `<wwn>`: the SCSI World Wide Name.
    pub wwn: Option<String>,
    /// `<vendor>` (SCSI).
    pub vendor: Option<String>,
    /// `<product>` (SCSI).
    pub product: Option<String>,
    /// `<boot>`, `<alias>`, `<acpi>`, `<address>`.
    pub info: DeviceInfo,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

/// Children of `<disk>` libvirt knows and this model keeps untyped.
const DISK_UNTYPED: &[&str] = &[
    "auth",
    "encryption",
    "iotune",
    "geometry",
    "blockio",
    "mirror",
    "throttlefilters",
    "privateData",
    "diskSecretsPlacement",
];

impl XmlModel for Disk {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let mut kind: DiskType = c.enum_attr("type")?.unwrap_or(DiskType::File);
        let device = c.enum_attr("device")?.unwrap_or(DiskDevice::Disk);
        let model = util::enum_or_default(&mut c, "model")?;
        let snapshot = c.enum_attr("snapshot")?;
        let rawio = c.prop_yes_no("rawio", PropFlags::NONE)?;
        let sgio = c.enum_attr("sgio")?;
        let source = match c.child("source") {
            Some(s) => {
                for what in ["auth", "encryption"] {
                    if s.child(what).is_some() && el.child(what).is_some() {
                        return Err(XmlError::unsupported(format!(
                            "an <{what}> definition already found for disk source"
                        ))
                        .at(el.position));
                    }
                }
                Some(DiskSource::parse(s, ctx, kind, true)?)
            }
            None => {
                kind = DiskType::File;
                None
            }
        };
        let readonly = c.child("readonly").is_some();
        let shareable = c.child("shareable").is_some();
        let backing_store = c.model("backingStore", ctx)?;
        let target = c.model("target", ctx)?;
        let driver = c.model("driver", ctx)?;
        let transient = c.model("transient", ctx)?;
        let backend_domain = match el.child("backenddomain") {
            Some(b)
                if b.attributes.len() == 1 && b.children.is_empty() && b.attr("name").is_some() =>
            {
                c.child("backenddomain");
                b.attr("name").map(str::to_string)
            }
            _ => None,
        };
        let serial = util::child_text_nonempty(&mut c, "serial");
        let wwn = util::child_text_nonempty(&mut c, "wwn");
        let vendor = util::child_text_nonempty(&mut c, "vendor");
        let product = util::child_text_nonempty(&mut c, "product");
        let info = DeviceInfo::parse(&mut c, ctx, true, false)?;
        let snapshot = snapshot.filter(|s| !(*s == SnapshotLocation::No && readonly));
        Ok(Disk {
            kind,
            device,
            model,
            rawio,
            sgio,
            snapshot,
            driver,
            source,
            backing_store,
            backend_domain,
            target,
            readonly,
            shareable,
            transient,
            serial,
            wwn,
            vendor,
            product,
            info,
            unknown: c.finish_known(ctx, DISK_UNTYPED),
        })
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("disk");
        b.attr("type", self.kind)
            .attr("device", self.device)
            .opt_attr("model", self.model)
            .yes_no("rawio", self.rawio)
            .opt_attr("sgio", self.sgio)
            .opt_attr("snapshot", self.snapshot);
        if let Some(d) = self.driver.as_ref().filter(|d| !d.is_empty()) {
            b.child(d.to_element());
        }
        if let Some(s) = &self.source {
            let el = s.to_element_named("source");
            if !el.is_empty() {
                b.child(el);
            }
        }
        b.model(self.backing_store.as_ref());
        if let Some(name) = &self.backend_domain {
            b.child(Element::new("backenddomain").with_attr("name", name.as_str()));
        }
        b.model(self.target.as_ref());
        if self.readonly {
            b.child(Element::new("readonly"));
        }
        if self.shareable {
            b.child(Element::new("shareable"));
        }
        b.model(self.transient.as_ref())
            .opt_text_child("serial", self.serial.as_deref())
            .opt_text_child("wwn", self.wwn.as_deref())
            .opt_text_child("vendor", self.vendor.as_deref())
            .opt_text_child("product", self.product.as_deref());
        self.info.format(&mut b);
        b.finish(&self.unknown)
    }
}

/// The index of a disk name (`sda` is 0, `hdb` 1, `vdaa` 26) as libvirt's
/// `virDiskNameParse` computes it, with the partition number (`vdb1` gives 1).
pub fn parse_disk_name(name: &str) -> Option<(u32, u32)> {
    let rest = ["fd", "hd", "vd", "sd", "xvd", "ubd"]
        .iter()
        .find_map(|p| name.strip_prefix(p))?;
    let letters = rest.bytes().take_while(u8::is_ascii_lowercase).count();
    if letters == 0 {
        return None;
    }
    let mut idx: u64 = 0;
    for (i, ch) in rest.bytes().take(letters).enumerate() {
        idx = (idx + u64::from(i > 0)) * 26 + u64::from(ch - b'a');
        if idx > u64::from(i32::MAX as u32) {
            return None;
        }
    }
    let digits = &rest[letters..];
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let partition = if digits.is_empty() {
        0
    } else {
        digits.parse().ok()?
    };
    Some((u32::try_from(idx).ok()?, partition))
}

impl Disk {
    /// The path of the top image (file, device, directory, network image name or vhost-user
    /// socket), as libvirt's `virDomainDiskGetSource` reports it.
    pub fn source_path(&self) -> Option<&str> {
        self.source.as_ref().and_then(DiskSource::path)
    }

    /// The guest device name (`<target dev=...>`).
    pub fn target_dev(&self) -> Option<&str> {
        self.target.as_ref().and_then(|t| t.dev.as_deref())
    }

    /// The bus as written (`<target bus=...>`).
    pub fn target_bus(&self) -> Option<DiskBus> {
        self.target.as_ref().and_then(|t| t.bus)
    }

    /// The bus libvirt uses: the written one, else the one it derives from the device and
    /// the target name (`fdc` for floppies, then `hd*` IDE, `sd*` SCSI, `vd*` virtio, `xvd*`
    /// Xen, `ubd*` UML, otherwise IDE).
    pub fn effective_bus(&self) -> DiskBus {
        if let Some(bus) = self.target_bus() {
            return bus;
        }
        if self.device == DiskDevice::Floppy {
            return DiskBus::Fdc;
        }
        let dev = self.target_dev().unwrap_or("");
        [
            ("hd", DiskBus::Ide),
            ("sd", DiskBus::Scsi),
            ("vd", DiskBus::Virtio),
            ("xvd", DiskBus::Xen),
            ("ubd", DiskBus::Uml),
        ]
        .into_iter()
        .find(|(p, _)| dev.starts_with(p))
        .map_or(DiskBus::Ide, |(_, b)| b)
    }

    /// The image format (`<driver type=...>`).
    pub fn format(&self) -> Option<StorageFormat> {
        self.driver.as_ref().and_then(|d| d.format)
    }

    /// The backend driver name (`<driver name=...>`).
    pub fn driver_name(&self) -> Option<&str> {
        self.driver.as_ref().and_then(|d| d.name.as_deref())
    }

    /// Whether the disk is a CD-ROM or floppy, whose medium can change.
    pub fn is_removable_media(&self) -> bool {
        matches!(self.device, DiskDevice::Cdrom | DiskDevice::Floppy)
    }

    /// Sets the bus libvirt derives when none is written ([`Disk::effective_bus`]).
    pub fn assign_bus(&mut self) {
        if self.target.is_some() && self.target_bus().is_none() {
            let bus = self.effective_bus();
            if let Some(t) = &mut self.target {
                t.bus = Some(bus);
            }
        }
    }

    /// Gives a disk without an address the drive address libvirt derives from its target
    /// name (`virDomainDiskDefAssignAddress`): on an IDE bus 2 units on each of 2 buses per
    /// controller, SATA 6 units and floppy 2 units on bus 0, SCSI 7 units (unit 7 is the
    /// controller) or, with `wide_scsi` (the QEMU driver's mapping), 15 units skipping unit
    /// 7. Disks on other buses get no address, but their name must still be one libvirt
    /// can number. A disk without a target name is left to validation.
    pub fn assign_drive_address(&mut self, wide_scsi: bool) -> Result<()> {
        if self.info.address.is_some() {
            return Ok(());
        }
        let Some(dev) = self.target_dev() else {
            return Ok(());
        };
        let Some((idx, _)) = parse_disk_name(dev) else {
            return Err(XmlError::xml(format!(
                "Unknown disk name '{dev}' and no address specified"
            )));
        };
        let (controller, bus_no, unit) = match self.effective_bus() {
            DiskBus::Scsi if wide_scsi => {
                let unit = idx % 15;
                (idx / 15, 0, if unit >= 7 { unit + 1 } else { unit })
            }
            DiskBus::Scsi => (idx / 7, 0, idx % 7),
            DiskBus::Ide => (idx / 4, (idx % 4) / 2, idx % 2),
            DiskBus::Sata => (idx / 6, 0, idx % 6),
            DiskBus::Fdc => (idx / 2, 0, idx % 2),
            _ => return Ok(()),
        };
        self.info.address = Some(DeviceAddress::Drive {
            controller: Some(controller),
            bus: Some(bus_no),
            target: Some(0),
            unit: Some(unit),
            unknown: Unknown::default(),
        });
        Ok(())
    }

    /// Inserts `disk` into `disks` where libvirt's parser puts it (`virDomainDiskInsert`):
    /// after the last disk on the same bus, before the first disk on that bus whose target
    /// sorts after it; at the end when no disk shares its bus.
    pub fn insert_sorted(disks: &mut Vec<Disk>, disk: Disk) {
        let key = |d: &Disk| {
            d.target_dev()
                .and_then(parse_disk_name)
                .map_or(-1, |(i, _)| i64::from(i))
        };
        let bus = disk.target_bus();
        let idx = key(&disk);
        let mut insert_at = None;
        for (i, d) in disks.iter().enumerate().rev() {
            if d.target_bus() != bus {
                continue;
            }
            if key(d) > idx {
                insert_at = Some(i);
            } else if insert_at.is_none() {
                insert_at = Some(i + 1);
            }
        }
        match insert_at {
            Some(i) => disks.insert(i, disk),
            None => disks.push(disk),
        }
    }
}

#[cfg(test)]
mod tests;
