//! The `<source>` of a host device: which host device is passed through.

use oxvirt_xml::model::PropFlags;
use oxvirt_xml::types::Uuid;
use oxvirt_xml::{
    xml_enum, Builder, Context, Cursor, Element, Result, Unknown, XmlError, XmlModel,
};

use super::HostdevType;
use crate::devices::disk::common::StartupPolicy;
use crate::devices::disk::source::{HostPciAddress, NetHost};

xml_enum! {
    /// Whether a USB device is reset by the guest (`<source guestReset=...>`).
    pub enum UsbGuestReset { Off = "off", Uninitialized = "uninitialized", On = "on" }
}

/// A USB vendor or product id (`<vendor id='0x1234'/>`), written as 4 hex digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsbId {
    /// The id.
    pub id: u32,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl UsbId {
    fn parse(el: &Element, ctx: &mut Context, nonzero: bool) -> Result<Self> {
        let mut c = Cursor::new(el);
        let flags = if nonzero {
            PropFlags::NONZERO
        } else {
            PropFlags::NONE
        };
        let id = c.required_uint("id", 0, flags)?;
        Ok(UsbId {
            id,
            unknown: c.finish(ctx),
        })
    }

    fn to_element_named(&self, name: &str) -> Element {
        let mut b = Builder::new(name);
        b.attr("id", format_args!("0x{:04x}", self.id));
        b.finish(&self.unknown)
    }
}

/// Where a USB device sits on the host (`<address bus='1' device='3'/>` or `port='1.2'`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsbHostAddress {
    /// The host bus.
    pub bus: u32,
    /// The device number on the bus.
    pub device: Option<u32>,
    /// The port path on the bus.
    pub port: Option<String>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl XmlModel for UsbHostAddress {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let bus = c.required_uint("bus", 0, PropFlags::NONE)?;
        let device = c.prop_uint("device", 0, PropFlags::NONE)?;
        let port = c.attr_string("port").filter(|p| !p.is_empty());
        match (device.is_some(), port.is_some()) {
            (false, false) => {
                return Err(
                    XmlError::internal("usb address needs either device id or port")
                        .at(el.position),
                )
            }
            (true, true) => {
                return Err(XmlError::internal(
                    "found both device id and port in usb address (ambiguous setting)",
                )
                .at(el.position))
            }
            _ => {}
        }
        Ok(UsbHostAddress {
            bus,
            device,
            port,
            unknown: c.finish(ctx),
        })
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("address");
        b.attr("bus", self.bus)
            .opt_attr("device", self.device)
            .opt_attr("port", self.port.as_deref());
        b.finish(&self.unknown)
    }
}

/// Where a SCSI device sits on its host adapter (`<address bus='0' target='0' unit='0'/>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScsiHostAddress {
    /// The bus.
    pub bus: u32,
    /// The target.
    pub target: u32,
    /// The unit (LUN).
    pub unit: u64,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl XmlModel for ScsiHostAddress {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        for name in ["bus", "target", "unit"] {
            if el.attr(name).is_none() {
                return Err(c.error(format!(
                    "Missing required attribute '{name}' in element 'address'"
                )));
            }
        }
        Ok(ScsiHostAddress {
            bus: c.prop_uint("bus", 0, PropFlags::NONE)?.unwrap_or(0),
            target: c.prop_uint("target", 0, PropFlags::NONE)?.unwrap_or(0),
            unit: c.prop_ulonglong("unit", 0, PropFlags::NONE)?.unwrap_or(0),
            unknown: c.finish(ctx),
        })
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("address");
        b.attr("bus", self.bus)
            .attr("target", self.target)
            .attr("unit", self.unit);
        b.finish(&self.unknown)
    }
}

/// Which host device a `<hostdev>` passes through. The fields read depend on the hostdev
/// type; children libvirt knows but this model keeps untyped (`<auth>`, `<initiator>`,
/// `<origstates>`) stay in place.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HostdevSource {
    /// What to do when the device is missing at start (USB).
    pub startup_policy: Option<StartupPolicy>,
    /// `guestReset` (USB).
    pub guest_reset: Option<UsbGuestReset>,
    /// `writeFiltering='yes|no'` (PCI).
    pub write_filtering: Option<bool>,
    /// `protocol`: `iscsi` (SCSI) or `vhost` (scsi_host); the default `adapter` reads unset.
    pub protocol: Option<String>,
    /// The iSCSI target name (SCSI over iSCSI).
    pub name: Option<String>,
    /// The vhost-scsi target WWPN (`naa.` and 16 hex digits; scsi_host).
    pub wwpn: Option<String>,
    /// `<vendor id=...>` (USB).
    pub vendor: Option<UsbId>,
    /// `<product id=...>` (USB).
    pub product: Option<UsbId>,
    /// `<address bus=... device=...>` (USB).
    pub usb_address: Option<UsbHostAddress>,
    /// `<address domain=... bus=... slot=... function=...>` (PCI).
    pub pci_address: Option<HostPciAddress>,
    /// `<adapter name=...>`: the host SCSI adapter (SCSI).
    pub adapter: Option<String>,
    /// `<address bus=... target=... unit=...>` (SCSI).
    pub scsi_address: Option<ScsiHostAddress>,
    /// `<host>`: the iSCSI server (SCSI over iSCSI).
    pub hosts: Vec<NetHost>,
    /// `<address uuid=...>`: the mediated device (mdev).
    pub mdev_uuid: Option<Uuid>,
    /// `<block>` (capabilities storage).
    pub block: Option<String>,
    /// `<char>` (capabilities misc).
    pub char_dev: Option<String>,
    /// `<interface>` (capabilities net).
    pub interface: Option<String>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

fn required_text(c: &mut Cursor<'_>, name: &str, what: &str) -> Result<String> {
    match c.child_text(name).filter(|t| !t.is_empty()) {
        Some(t) => Ok(t),
        None => Err(c.error(format!("Missing <{name}> element in hostdev {what} device"))),
    }
}

impl HostdevSource {
    pub(super) fn parse(el: &Element, ctx: &mut Context, kind: HostdevType) -> Result<Self> {
        let mut c = Cursor::new(el);
        let mut s = HostdevSource::default();
        if kind != HostdevType::Usb && el.attr("startupPolicy").is_some() {
            return Err(XmlError::unsupported(
                "Setting startupPolicy is only allowed for USB devices",
            )
            .at(el.position));
        }
        match kind {
            HostdevType::Usb => {
                s.startup_policy = c.enum_attr("startupPolicy")?;
                s.guest_reset = c.enum_attr("guestReset")?;
                let vendor = c.child("vendor");
                let product = c.child("product");
                if let Some(v) = vendor {
                    s.vendor = Some(UsbId::parse(v, ctx, true)?);
                    if product.is_none() {
                        return Err(XmlError::internal("missing product").at(el.position));
                    }
                }
                if let Some(p) = product {
                    s.product = Some(UsbId::parse(p, ctx, false)?);
                    if vendor.is_none() {
                        return Err(XmlError::internal("missing vendor").at(el.position));
                    }
                }
                s.usb_address = c.model("address", ctx)?;
            }
            HostdevType::Pci => {
                s.write_filtering = c.prop_yes_no("writeFiltering", PropFlags::NONE)?;
                s.pci_address = c.model("address", ctx)?;
            }
            HostdevType::Scsi => match c.attr("protocol") {
                Some("iscsi") => {
                    s.protocol = Some("iscsi".into());
                    s.name = c.attr_string("name");
                    if s.name.is_none() {
                        return Err(c.error("missing iSCSI hostdev source path name"));
                    }
                    s.hosts = c.models("host", ctx)?;
                    match s.hosts.len() {
                        0 => return Err(c.error("missing the host address for the iSCSI hostdev")),
                        1 => {}
                        _ => return Err(c.error(
                            "only one source host address may be specified for the iSCSI hostdev",
                        )),
                    }
                }
                None | Some("adapter") => {
                    if el.child("address").is_none() {
                        return Err(c.error("'address' must be specified for scsi hostdev source"));
                    }
                    s.scsi_address = c.model("address", ctx)?;
                    let adapter = el
                        .child("adapter")
                        .and_then(|a| a.attr("name"))
                        .filter(|n| !n.is_empty());
                    let Some(adapter) = adapter else {
                        return Err(
                            c.error("'adapter' name must be specified for scsi hostdev source")
                        );
                    };
                    c.child("adapter");
                    s.adapter = Some(adapter.to_string());
                }
                Some(v) => return Err(c.invalid_value("protocol", v, "")),
            },
            HostdevType::ScsiHost => {
                match c.attr("protocol") {
                    None => {
                        return Err(
                            c.error("Missing required attribute 'protocol' in element 'source'")
                        )
                    }
                    Some("vhost") => s.protocol = Some("vhost".into()),
                    Some(v) => return Err(c.invalid_value("protocol", v, "")),
                }
                let Some(wwpn) = c.attr_string("wwpn") else {
                    return Err(c.error("missing vhost-scsi hostdev source wwpn"));
                };
                let valid = wwpn.strip_prefix("naa.").is_some_and(|hex| {
                    let hex = hex.strip_prefix("0x").unwrap_or(hex);
                    hex.len() == 16 && hex.bytes().all(|b| b.is_ascii_hexdigit())
                });
                if !valid {
                    return Err(c.error("malformed 'wwpn' value"));
                }
                s.wwpn = Some(wwpn);
            }
            HostdevType::Mdev => {
                let Some(addr) = c.child("address") else {
                    return Err(c.error("Missing <address> element"));
                };
                let Some(uuid) = addr.attr("uuid") else {
                    return Err(XmlError::unsupported(
                        "Missing 'uuid' attribute for element <address>",
                    )
                    .at(addr.position));
                };
                let uuid = Uuid::try_parse(uuid).ok_or_else(|| {
                    XmlError::unsupported("Cannot parse uuid attribute of element <address>")
                        .at(addr.position)
                })?;
                let mut ac = Cursor::new(addr);
                ac.attr("uuid");
                ac.finish(ctx);
                s.mdev_uuid = Some(uuid);
            }
            HostdevType::Storage => s.block = Some(required_text(&mut c, "block", "storage")?),
            HostdevType::Misc => s.char_dev = Some(required_text(&mut c, "char", "character")?),
            HostdevType::Net => s.interface = Some(required_text(&mut c, "interface", "net")?),
        }
        s.unknown = c.finish_known(ctx, &["auth", "initiator", "origstates"]);
        Ok(s)
    }

    pub(super) fn to_element(&self) -> Element {
        let mut b = Builder::new("source");
        b.opt_attr("startupPolicy", self.startup_policy)
            .opt_attr("guestReset", self.guest_reset)
            .yes_no("writeFiltering", self.write_filtering)
            .opt_attr("protocol", self.protocol.as_deref())
            .opt_attr("name", self.name.as_deref())
            .opt_attr("wwpn", self.wwpn.as_deref());
        if let Some(v) = &self.vendor {
            b.child(v.to_element_named("vendor"));
        }
        if let Some(p) = &self.product {
            b.child(p.to_element_named("product"));
        }
        b.model(self.usb_address.as_ref())
            .model(self.pci_address.as_ref());
        if let Some(a) = &self.adapter {
            b.child(Element::new("adapter").with_attr("name", a.as_str()));
        }
        b.model(self.scsi_address.as_ref()).models(&self.hosts);
        if let Some(u) = &self.mdev_uuid {
            b.child(Element::new("address").with_attr("uuid", u.to_string()));
        }
        b.opt_text_child("block", self.block.as_deref())
            .opt_text_child("char", self.char_dev.as_deref())
            .opt_text_child("interface", self.interface.as_deref());
        b.finish(&self.unknown)
    }
}
