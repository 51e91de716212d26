//! Device addresses: where a device sits on its bus (`<address type='pci' .../>`).

use oxvirt_xml::model::PropFlags;
use oxvirt_xml::{Builder, Context, Cursor, Element, Result, Unknown, XmlError, XmlModel};

/// A PCI address: domain, bus, slot and function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PciAddress {
    /// PCI domain (segment), at most 0xFFFF.
    pub domain: u32,
    /// Bus number, at most 0xFF.
    pub bus: u32,
    /// Slot number, at most 0x1F.
    pub slot: u32,
    /// Function number, at most 7.
    pub function: u32,
}

impl PciAddress {
    /// Reads `domain`, `bus`, `slot` and `function` from the element `c` is reading, as
    /// libvirt's `virPCIDeviceAddressParseXML` does: each optional, in C's automatic base.
    pub(crate) fn parse(c: &mut Cursor<'_>) -> Result<Self> {
        let mut address = PciAddress::default();
        for (name, slot) in [
            ("domain", &mut address.domain),
            ("bus", &mut address.bus),
            ("slot", &mut address.slot),
            ("function", &mut address.function),
        ] {
            *slot = c.prop_uint(name, 0, PropFlags::NONE)?.unwrap_or(0);
        }
        Ok(address)
    }

    /// libvirt's range checks, with its messages.
    pub fn validate(&self) -> Result<()> {
        if self.domain > 0xFFFF {
            return Err(XmlError::xml(format!(
                "Invalid PCI address domain='0x{:x}', must be <= 0xFFFF",
                self.domain
            )));
        }
        if self.bus > 0xFF {
            return Err(XmlError::xml(format!(
                "Invalid PCI address bus='0x{:x}', must be <= 0xFF",
                self.bus
            )));
        }
        if self.slot > 0x1F {
            return Err(XmlError::xml(format!(
                "Invalid PCI address slot='0x{:x}', must be <= 0x1F",
                self.slot
            )));
        }
        if self.function > 7 {
            return Err(XmlError::xml(format!(
                "Invalid PCI address function=0x{:x}, must be <= 7",
                self.function
            )));
        }
        Ok(())
    }
}

impl std::fmt::Display for PciAddress {
    /// `0000:00:03.0`, as libvirt prints PCI addresses in messages.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:04x}:{:02x}:{:02x}.{:x}",
            self.domain, self.bus, self.slot, self.function
        )
    }
}

/// Where a device sits on its bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceAddress {
    /// `type='pci'`.
    Pci {
        /// The address; absent parts read as 0.
        address: PciAddress,
        /// `multifunction='on|off'`.
        multifunction: Option<bool>,
        /// Anything else on the element (`<zpci>`, unknown attributes).
        unknown: Unknown,
    },
    /// `type='drive'`: a disk on an IDE, SATA, SCSI or floppy controller.
    Drive {
        /// Controller index.
        controller: Option<u32>,
        /// Bus on the controller.
        bus: Option<u32>,
        /// Target on the bus.
        target: Option<u32>,
        /// Unit on the target.
        unit: Option<u32>,
        /// Anything else on the element.
        unknown: Unknown,
    },
    /// `type='virtio-serial'`: a port on a virtio-serial controller.
    VirtioSerial {
        /// Controller index.
        controller: Option<u32>,
        /// Bus on the controller.
        bus: Option<u32>,
        /// Port number.
        port: Option<u32>,
        /// Anything else on the element.
        unknown: Unknown,
    },
    /// `type='usb'`: a port on a USB bus (`port='1.2'` for a port behind a hub).
    Usb {
        /// USB bus (controller index).
        bus: Option<u32>,
        /// Port path, dotted for hubs.
        port: Option<String>,
        /// Anything else on the element.
        unknown: Unknown,
    },
    /// Any other type (`ccid`, `ccw`, `isa`, `dimm`, `spapr-vio`, `virtio-mmio`,
    /// `unassigned`, ...), kept as written.
    Other(Element),
}

/// An unsigned attribute of a drive, virtio-serial or USB address (`virXMLPropUInt`, base 10).
fn opt_u32(c: &mut Cursor<'_>, name: &str) -> Result<Option<u32>> {
    c.prop_uint(name, 10, PropFlags::NONE)
}

impl XmlModel for DeviceAddress {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        match el.attr("type") {
            Some("pci") => {
                c.attr("type");
                let address = PciAddress::parse(&mut c)?;
                address.validate().map_err(|e| e.at(el.position))?;
                let multifunction = c.prop_on_off("multifunction", PropFlags::NONE)?;
                Ok(DeviceAddress::Pci {
                    address,
                    multifunction,
                    unknown: c.finish_known(ctx, &["zpci"]),
                })
            }
            Some("drive") => {
                c.attr("type");
                Ok(DeviceAddress::Drive {
                    controller: opt_u32(&mut c, "controller")?,
                    bus: opt_u32(&mut c, "bus")?,
                    target: opt_u32(&mut c, "target")?,
                    unit: opt_u32(&mut c, "unit")?,
                    unknown: c.finish(ctx),
                })
            }
            Some("virtio-serial") => {
                c.attr("type");
                Ok(DeviceAddress::VirtioSerial {
                    controller: opt_u32(&mut c, "controller")?,
                    bus: opt_u32(&mut c, "bus")?,
                    port: opt_u32(&mut c, "port")?,
                    unknown: c.finish(ctx),
                })
            }
            Some("usb") => {
                c.attr("type");
                let bus = opt_u32(&mut c, "bus")?;
                let port = c.attr_string("port");
                if let Some(p) = &port {
                    if p.split('.').count() > 5
                        || !p
                            .split('.')
                            .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                    {
                        return Err(
                            c.error(format!("Cannot parse <address> 'port' attribute: '{p}'"))
                        );
                    }
                }
                Ok(DeviceAddress::Usb {
                    bus,
                    port,
                    unknown: c.finish(ctx),
                })
            }
            Some(_) => Ok(DeviceAddress::Other(el.clone())),
            None => Err(XmlError::xml("No type specified for device address").at(el.position)),
        }
    }

    fn to_element(&self) -> Element {
        match self {
            DeviceAddress::Pci {
                address,
                multifunction,
                unknown,
            } => {
                let mut b = Builder::new("address");
                b.attr("type", "pci")
                    .attr("domain", format_args!("0x{:04x}", address.domain))
                    .attr("bus", format_args!("0x{:02x}", address.bus))
                    .attr("slot", format_args!("0x{:02x}", address.slot))
                    .attr("function", format_args!("0x{:x}", address.function))
                    .on_off("multifunction", *multifunction);
                b.finish(unknown)
            }
            DeviceAddress::Drive {
                controller,
                bus,
                target,
                unit,
                unknown,
            } => {
                let mut b = Builder::new("address");
                b.attr("type", "drive")
                    .opt_attr("controller", *controller)
                    .opt_attr("bus", *bus)
                    .opt_attr("target", *target)
                    .opt_attr("unit", *unit);
                b.finish(unknown)
            }
            DeviceAddress::VirtioSerial {
                controller,
                bus,
                port,
                unknown,
            } => {
                let mut b = Builder::new("address");
                b.attr("type", "virtio-serial")
                    .opt_attr("controller", *controller)
                    .opt_attr("bus", *bus)
                    .opt_attr("port", *port);
                b.finish(unknown)
            }
            DeviceAddress::Usb { bus, port, unknown } => {
                let mut b = Builder::new("address");
                b.attr("type", "usb")
                    .opt_attr("bus", *bus)
                    .opt_attr("port", port.as_deref());
                b.finish(unknown)
            }
            DeviceAddress::Other(el) => el.clone(),
        }
    }
}

impl DeviceAddress {
    /// The address `type` attribute.
    pub fn kind(&self) -> &str {
        match self {
            DeviceAddress::Pci { .. } => "pci",
            DeviceAddress::Drive { .. } => "drive",
            DeviceAddress::VirtioSerial { .. } => "virtio-serial",
            DeviceAddress::Usb { .. } => "usb",
            DeviceAddress::Other(el) => el.attr("type").unwrap_or(""),
        }
    }

    /// The PCI address, for a PCI device.
    pub fn pci(&self) -> Option<PciAddress> {
        match self {
            DeviceAddress::Pci { address, .. } => Some(*address),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(xml: &str) -> Result<DeviceAddress> {
        DeviceAddress::from_element(&oxvirt_xml::parse(xml)?, &mut Context::default())
    }

    #[test]
    fn pci_addresses_are_written_in_libvirts_form() {
        let a = read(
            "<address type='pci' domain='0' bus='0' slot='3' function='0' multifunction='on'/>",
        )
        .unwrap();
        assert_eq!(
            oxvirt_xml::to_string(&a.to_element()),
            "<address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0' multifunction='on'/>\n"
        );
        assert_eq!(a.pci().unwrap().to_string(), "0000:00:03.0");
    }

    #[test]
    fn out_of_range_pci_addresses_are_rejected_with_libvirts_messages() {
        let cases = [
            (
                "bus='0x100'",
                "Invalid PCI address bus='0x100', must be <= 0xFF",
            ),
            (
                "slot='0x20'",
                "Invalid PCI address slot='0x20', must be <= 0x1F",
            ),
            (
                "function='8'",
                "Invalid PCI address function=0x8, must be <= 7",
            ),
            (
                "domain='0x10000'",
                "Invalid PCI address domain='0x10000', must be <= 0xFFFF",
            ),
        ];
        for (attr, msg) in cases {
            let err = read(&format!("<address type='pci' {attr}/>")).unwrap_err();
            assert_eq!(err.message, msg);
            assert_eq!(err.code, oxvirt_xml::ErrorCode::XmlError);
        }
    }

    #[test]
    fn other_addresses_are_kept_verbatim() {
        let xml = "<address type='ccw' cssid='0xfe' ssid='0x0' devno='0x0001'/>\n";
        let a = read(xml).unwrap();
        assert_eq!(a.kind(), "ccw");
        assert_eq!(oxvirt_xml::to_string(&a.to_element()), xml);
    }
}
