//! A host device passed through to the guest (`<hostdev>`), as libvirt's
//! `virDomainHostdevDefParseXML` reads it and `virDomainHostdevDefFormat` writes it.

pub mod source;

use oxvirt_xml::model::PropFlags;
use oxvirt_xml::types::Uuid;
use oxvirt_xml::{
    xml_enum, Builder, Context, Cursor, Element, Result, Unknown, XmlError, XmlModel,
};

use super::disk::common::Sgio;
use super::info::DeviceInfo;
use crate::address::{DeviceAddress, PciAddress};
pub use source::{HostdevSource, ScsiHostAddress, UsbGuestReset, UsbHostAddress, UsbId};

xml_enum! {
    /// Whether the device is a bus device (`subsystem`) or a host resource handed to a
    /// container (`capabilities`).
    pub enum HostdevMode { Subsystem = "subsystem", Capabilities = "capabilities" }
}

xml_enum! {
    /// The kind of host device (`<hostdev type=...>`): `usb`, `pci`, `scsi`, `scsi_host` and
    /// `mdev` in subsystem mode, `storage`, `misc` and `net` in capabilities mode.
    pub enum HostdevType {
        Usb = "usb", Pci = "pci", Scsi = "scsi", ScsiHost = "scsi_host", Mdev = "mdev",
        Storage = "storage", Misc = "misc", Net = "net",
    }
}

impl HostdevType {
    /// The mode this type belongs to.
    pub fn mode(self) -> HostdevMode {
        match self {
            HostdevType::Storage | HostdevType::Misc | HostdevType::Net => {
                HostdevMode::Capabilities
            }
            _ => HostdevMode::Subsystem,
        }
    }
}

xml_enum! {
    /// The PCI assignment backend (`<driver name=...>`).
    pub enum PciBackend { Kvm = "kvm", Vfio = "vfio", Xen = "xen" }
}

/// A PCI host device's `<driver name='vfio'/>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostdevDriver {
    /// The backend.
    pub name: Option<PciBackend>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl XmlModel for HostdevDriver {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let name = c.enum_attr("name")?;
        Ok(HostdevDriver {
            name,
            unknown: c.finish(ctx),
        })
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("driver");
        b.opt_attr("name", self.name);
        b.finish(&self.unknown)
    }
}

/// A host device passed through to the guest (`<hostdev>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hostdev {
    /// `mode` (default `subsystem`).
    pub mode: HostdevMode,
    /// `type`.
    pub kind: HostdevType,
    /// `managed`: libvirt detaches the device from its host driver (subsystem mode; written
    /// as `yes` or `no`).
    pub managed: bool,
    /// SCSI command filtering (SCSI).
    pub sgio: Option<Sgio>,
    /// `rawio='yes|no'` (SCSI).
    pub rawio: Option<bool>,
    /// `model`: `vfio-pci`, `vfio-ccw` or `vfio-ap` (mdev, required); `virtio`,
    /// `virtio-transitional` or `virtio-non-transitional` (scsi_host).
    pub model: Option<String>,
    /// `display='on|off'` (mdev, PCI).
    pub display: Option<bool>,
    /// `ramfb='on|off'` (mdev, PCI).
    pub ramfb: Option<bool>,
    /// `<driver>` (PCI).
    pub driver: Option<HostdevDriver>,
    /// `<source>`.
    pub source: HostdevSource,
    /// `<readonly/>`.
    pub readonly: bool,
    /// `<shareable/>`.
    pub shareable: bool,
    /// `<boot>`, `<alias>`, `<acpi>`, `<rom>`, `<address>` (the guest side).
    pub info: DeviceInfo,
    /// What the model does not know (`<teaming>`, `<ip>`, `<route>`), kept as written.
    pub unknown: Unknown,
}

const MDEV_MODELS: &[&str] = &["vfio-pci", "vfio-ccw", "vfio-ap"];
const SCSI_HOST_MODELS: &[&str] = &["virtio", "virtio-transitional", "virtio-non-transitional"];

impl XmlModel for Hostdev {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let mode = c.enum_attr("mode")?.unwrap_or(HostdevMode::Subsystem);
        let kind = match (c.attr("type"), mode) {
            (None, HostdevMode::Subsystem) => return Err(c.error("missing source address type")),
            (None, HostdevMode::Capabilities) => return Err(c.error("missing type in hostdev")),
            (Some(t), _) => match <HostdevType as oxvirt_xml::XmlEnum>::from_xml_str(t) {
                Some(k) if k.mode() == mode => k,
                _ => return Err(c.error(format!("unknown host device source address type '{t}'"))),
            },
        };
        let subsys = mode == HostdevMode::Subsystem;
        let managed = subsys && matches!(c.attr("managed"), Some("yes"));
        let (mut sgio, mut rawio, mut model, mut display, mut ramfb) =
            (None, None, None, None, None);
        if subsys {
            sgio = c.enum_attr("sgio")?;
            if sgio.is_some() && kind != HostdevType::Scsi {
                return Err(c.error("sgio is only supported for scsi host device"));
            }
            rawio = c.prop_yes_no("rawio", PropFlags::NONE)?;
            if rawio.is_some() && kind != HostdevType::Scsi {
                return Err(c.error("rawio is only supported for scsi host device"));
            }
            match kind {
                HostdevType::Mdev => {
                    let m = c.required_attr("model")?;
                    if !MDEV_MODELS.contains(&m) {
                        return Err(c.invalid_value("model", m, ""));
                    }
                    model = Some(m.to_string());
                }
                HostdevType::ScsiHost => {
                    if el.attr("model") == Some("default") {
                        c.attr("model");
                    } else if let Some(m) = c.attr("model") {
                        if !SCSI_HOST_MODELS.contains(&m) {
                            return Err(c.invalid_value("model", m, ""));
                        }
                        model = Some(m.to_string());
                    }
                }
                _ if el.attr("model").is_some() => {
                    return Err(c.error(format!(
                        "'model' attribute in <hostdev> is only supported when type='{kind}'"
                    )));
                }
                _ => {}
            }
            if matches!(kind, HostdevType::Mdev | HostdevType::Pci) {
                display = c.prop_on_off("display", PropFlags::NONE)?;
                ramfb = c.prop_on_off("ramfb", PropFlags::NONE)?;
            }
        }
        let Some(source_el) = c.child("source") else {
            return Err(c.error("Missing <source> element in hostdev device"));
        };
        let source = HostdevSource::parse(source_el, ctx, kind)?;
        let driver = if kind == HostdevType::Pci {
            c.model("driver", ctx)?
        } else {
            None
        };
        let readonly = c.child("readonly").is_some();
        let shareable = c.child("shareable").is_some();
        let info = DeviceInfo::parse(&mut c, ctx, true, true)?;
        if kind == HostdevType::Scsi
            && info
                .address
                .as_ref()
                .is_some_and(|a| !matches!(a, DeviceAddress::Drive { .. }))
        {
            return Err(c.error("SCSI host devices must have address specified as type 'drive'"));
        }
        Ok(Hostdev {
            mode,
            kind,
            managed,
            sgio,
            rawio,
            model,
            display,
            ramfb,
            driver,
            source,
            readonly,
            shareable,
            info,
            unknown: c.finish_known(ctx, &["teaming", "ip", "route"]),
        })
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("hostdev");
        b.attr("mode", self.mode).attr("type", self.kind);
        if self.mode == HostdevMode::Subsystem {
            b.attr("managed", if self.managed { "yes" } else { "no" });
        }
        b.opt_attr("sgio", self.sgio)
            .yes_no("rawio", self.rawio)
            .opt_attr("model", self.model.as_deref())
            .on_off("display", self.display)
            .on_off("ramfb", self.ramfb);
        if let Some(d) = self.driver.as_ref().map(XmlModel::to_element) {
            if !d.is_empty() {
                b.child(d);
            }
        }
        b.child(self.source.to_element());
        if self.readonly {
            b.child(Element::new("readonly"));
        }
        if self.shareable {
            b.child(Element::new("shareable"));
        }
        self.info.format(&mut b);
        b.finish(&self.unknown)
    }
}

impl Hostdev {
    /// The host PCI address of a PCI device.
    pub fn pci_address(&self) -> Option<PciAddress> {
        self.source.pci_address.as_ref().map(|a| a.address)
    }

    /// The UUID of a mediated device.
    pub fn mdev_uuid(&self) -> Option<Uuid> {
        self.source.mdev_uuid
    }

    /// The vendor and product ids of a USB device selected by id.
    pub fn usb_ids(&self) -> Option<(u32, u32)> {
        match (&self.source.vendor, &self.source.product) {
            (Some(v), Some(p)) => Some((v.id, p.id)),
            _ => None,
        }
    }

    /// The PCI assignment backend.
    pub fn pci_backend(&self) -> Option<PciBackend> {
        self.driver.as_ref().and_then(|d| d.name)
    }

    /// Whether `self` and `other` name the same host device (`virDomainHostdevMatch`).
    pub fn same_host_device(&self, other: &Hostdev) -> bool {
        if self.mode != other.mode || self.kind != other.kind {
            return false;
        }
        let (a, b) = (&self.source, &other.source);
        match self.kind {
            HostdevType::Pci => self.pci_address() == other.pci_address(),
            HostdevType::Usb => {
                let bus_dev = |s: &HostdevSource| {
                    s.usb_address
                        .as_ref()
                        .map(|x| (x.bus, x.device, x.port.clone()))
                };
                match bus_dev(a) {
                    Some((bus, dev, port))
                        if bus != 0 && (dev.is_some_and(|d| d != 0) || port.is_some()) =>
                    {
                        bus_dev(b) == Some((bus, dev, port))
                    }
                    _ => self.usb_ids().unwrap_or((0, 0)) == other.usb_ids().unwrap_or((0, 0)),
                }
            }
            HostdevType::Scsi => {
                if a.protocol != b.protocol {
                    return false;
                }
                if a.protocol.is_some() {
                    let host =
                        |s: &HostdevSource| s.hosts.first().map(|h| (h.name.clone(), h.port));
                    host(a) == host(b) && a.name == b.name
                } else {
                    let key = |s: &HostdevSource| {
                        s.scsi_address.as_ref().map(|x| (x.bus, x.target, x.unit))
                    };
                    a.adapter == b.adapter && key(a) == key(b)
                }
            }
            HostdevType::ScsiHost => a.protocol == b.protocol && a.wwpn == b.wwpn,
            HostdevType::Mdev => a.mdev_uuid == b.mdev_uuid,
            HostdevType::Storage => a.block == b.block,
            HostdevType::Misc => a.char_dev == b.char_dev,
            HostdevType::Net => a.interface == b.interface,
        }
    }
}

/// The check libvirt makes across all host devices: no host device assigned twice.
pub fn validate_hostdevs(hostdevs: &[Hostdev]) -> Result<()> {
    for (i, a) in hostdevs.iter().enumerate() {
        if hostdevs[i + 1..].iter().any(|b| a.same_host_device(b)) {
            return Err(XmlError::xml(
                "Hostdev already exists in the domain configuration",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
