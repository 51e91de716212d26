//! What libvirt keeps for every device (`virDomainDeviceInfo`): `<boot>`, `<alias>`,
//! `<master>`, `<rom>`, `<acpi>` and `<address>`, read by `virDomainDeviceInfoParseXML` and
//! written by `virDomainDeviceInfoFormat`; and the virtio options a device's `<driver>` can
//! carry (`virDomainVirtioOptions`).

use oxvirt_xml::model::PropFlags;
use oxvirt_xml::{Builder, Context, Cursor, Element, Result, Unknown, XmlError, XmlModel};

use crate::address::DeviceAddress;

/// A device's place in the boot order (`<boot order='1' loadparm='...'/>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Boot {
    /// The boot index, from 1.
    pub order: u32,
    /// The s390 load parameter, upper-cased as libvirt stores it.
    pub loadparm: Option<String>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

/// libvirt's check of a load parameter (`virDomainDeviceLoadparmIsValid`), on the value
/// already upper-cased.
fn check_loadparm(loadparm: &str) -> std::result::Result<(), String> {
    if loadparm.is_empty() || loadparm.len() > 8 {
        return Err(format!(
            "loadparm value '{loadparm}' must be between 1 and 8 characters"
        ));
    }
    if !loadparm
        .chars()
        .all(|ch| ch.is_ascii_alphanumeric() || ch == '.' || ch == ' ')
    {
        return Err(format!(
            "invalid loadparm value '{loadparm}', expecting chars in set of [a-zA-Z0-9.] and \
             blank spaces"
        ));
    }
    Ok(())
}

impl XmlModel for Boot {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let order = c.required_uint("order", 10, PropFlags::NONZERO)?;
        let loadparm = match c.attr("loadparm") {
            None => None,
            Some(v) => {
                let upper = v.to_ascii_uppercase();
                check_loadparm(&upper).map_err(|m| XmlError::internal(m).at(el.position))?;
                Some(upper)
            }
        };
        Ok(Boot {
            order,
            loadparm,
            unknown: c.finish(ctx),
        })
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("boot");
        b.attr("order", self.order)
            .opt_attr("loadparm", self.loadparm.as_deref());
        b.finish(&self.unknown)
    }
}

/// A device's name in the hypervisor (`<alias name='ua-disk0'/>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alias {
    /// The alias.
    pub name: String,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl XmlModel for Alias {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let name = c.attr_string("name").unwrap_or_default();
        Ok(Alias {
            name,
            unknown: c.finish(ctx),
        })
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("alias");
        b.attr("name", &self.name);
        b.finish(&self.unknown)
    }
}

/// The companion controller a USB 1 controller belongs to (`<master startport='0'/>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Master {
    /// The first port of the master controller this one serves.
    pub startport: u32,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl XmlModel for Master {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let startport = c.prop_uint("startport", 0, PropFlags::NONE)?.unwrap_or(0);
        Ok(Master {
            startport,
            unknown: c.finish(ctx),
        })
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("master");
        b.attr("startport", self.startport);
        b.finish(&self.unknown)
    }
}

/// The ACPI index of a PCI device (`<acpi index='1'/>`), which names its NIC in the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acpi {
    /// The index, from 1.
    pub index: Option<u32>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl XmlModel for Acpi {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let index = c.prop_uint("index", 10, PropFlags::NONZERO)?;
        Ok(Acpi {
            index,
            unknown: c.finish(ctx),
        })
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("acpi");
        b.opt_attr("index", self.index);
        b.finish(&self.unknown)
    }
}

/// The option ROM of a PCI device (`<rom enabled='no'/>`, `<rom bar='on' file='/path'/>`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rom {
    /// `enabled='yes|no'`: whether the device has a ROM at all.
    pub enabled: Option<bool>,
    /// `bar='on|off'`: whether the ROM is visible in the guest's memory map.
    pub bar: Option<bool>,
    /// The ROM image to present instead of the device's own.
    pub file: Option<String>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl XmlModel for Rom {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let enabled = c.prop_yes_no("enabled", PropFlags::NONE)?;
        let bar = c.prop_on_off("bar", PropFlags::NONE)?;
        let file = c.attr_string("file");
        if enabled == Some(false) && (bar.is_some() || file.is_some()) {
            return Err(
                XmlError::unsupported("ROM tuning is not supported when ROM is disabled")
                    .at(el.position),
            );
        }
        Ok(Rom {
            enabled,
            bar,
            file,
            unknown: c.finish(ctx),
        })
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("rom");
        b.yes_no("enabled", self.enabled)
            .on_off("bar", self.bar)
            .opt_attr("file", self.file.as_deref());
        b.finish(&self.unknown)
    }
}

/// The elements libvirt keeps for every device (`virDomainDeviceInfo`), written after a
/// device's own children in libvirt's order: boot, alias, master, rom, acpi, address.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeviceInfo {
    /// `<boot order=.../>`, for devices that can boot.
    pub boot: Option<Boot>,
    /// `<alias name=.../>`.
    pub alias: Option<Alias>,
    /// `<master startport=.../>`, for USB companion controllers.
    pub master: Option<Master>,
    /// `<acpi index=.../>`.
    pub acpi: Option<Acpi>,
    /// `<rom .../>`, for devices with an option ROM.
    pub rom: Option<Rom>,
    /// `<address .../>`: where the device sits on its bus.
    pub address: Option<DeviceAddress>,
}

impl DeviceInfo {
    /// Reads the device-info children of the element `c` is reading, in libvirt's order.
    /// `<boot>` and `<rom>` are read only where libvirt reads them (`allow_boot`,
    /// `allow_rom`: `VIR_DOMAIN_DEF_PARSE_ALLOW_BOOT` / `_ALLOW_ROM`); elsewhere they stay
    /// in the device's unknown content. An `<alias>` without a name is kept as written.
    pub(crate) fn parse(
        c: &mut Cursor<'_>,
        ctx: &mut Context,
        allow_boot: bool,
        allow_rom: bool,
    ) -> Result<Self> {
        let alias = match c.element().child("alias") {
            Some(a) if a.attr("name").is_some_and(|n| !n.is_empty()) => c.model("alias", ctx)?,
            _ => None,
        };
        let master = c.model("master", ctx)?;
        let boot = if allow_boot {
            c.model("boot", ctx)?
        } else {
            None
        };
        let rom = if allow_rom {
            c.model("rom", ctx)?
        } else {
            None
        };
        let acpi = c.model("acpi", ctx)?;
        let address = c.model("address", ctx)?;
        Ok(DeviceInfo {
            boot,
            alias,
            master,
            acpi,
            rom,
            address,
        })
    }

    /// Writes the device-info children in libvirt's order.
    pub(crate) fn format(&self, b: &mut Builder) {
        b.model(self.boot.as_ref())
            .model(self.alias.as_ref())
            .model(self.master.as_ref())
            .model(self.rom.as_ref())
            .model(self.acpi.as_ref())
            .model(self.address.as_ref());
    }

    /// The alias name, if any.
    pub fn alias_name(&self) -> Option<&str> {
        self.alias.as_ref().map(|a| a.name.as_str())
    }

    /// The boot index, if any.
    pub fn boot_order(&self) -> Option<u32> {
        self.boot.as_ref().map(|b| b.order)
    }

    /// The ACPI index, if any.
    pub fn acpi_index(&self) -> Option<u32> {
        self.acpi.as_ref().and_then(|a| a.index)
    }
}

/// The virtio options a device's `<driver>` element can carry (`virDomainVirtioOptions`):
/// `iommu`, `ats`, `packed` and `page_per_vq`, each `on` or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VirtioOptions {
    /// `iommu='on|off'`: use the IOMMU for DMA.
    pub iommu: Option<bool>,
    /// `ats='on|off'`: address translation services.
    pub ats: Option<bool>,
    /// `packed='on|off'`: packed virtqueues.
    pub packed: Option<bool>,
    /// `page_per_vq='on|off'`: one notification page per virtqueue.
    pub page_per_vq: Option<bool>,
}

impl VirtioOptions {
    /// Reads the options from the `<driver>` element `c` is reading.
    pub(crate) fn parse(c: &mut Cursor<'_>) -> Result<Self> {
        Ok(VirtioOptions {
            iommu: c.prop_on_off("iommu", PropFlags::NONE)?,
            ats: c.prop_on_off("ats", PropFlags::NONE)?,
            packed: c.prop_on_off("packed", PropFlags::NONE)?,
            page_per_vq: c.prop_on_off("page_per_vq", PropFlags::NONE)?,
        })
    }

    /// Writes the options in libvirt's order (`virDomainVirtioOptionsFormat`).
    pub(crate) fn format(&self, b: &mut Builder) {
        b.on_off("iommu", self.iommu)
            .on_off("ats", self.ats)
            .on_off("packed", self.packed)
            .on_off("page_per_vq", self.page_per_vq);
    }

    /// Whether no option is set.
    pub fn is_empty(&self) -> bool {
        *self == VirtioOptions::default()
    }

    /// libvirt's refusal of virtio options on a device that is not a virtio one
    /// (`virDomainCheckVirtioOptionsAreAbsent`), for the first option set.
    pub fn check_absent(&self) -> Result<()> {
        for (v, what) in [
            (self.iommu, "iommu driver option"),
            (self.ats, "ats driver option"),
            (self.packed, "packed driver option"),
            (self.page_per_vq, "page_per_vq option"),
        ] {
            if v.is_some() {
                return Err(XmlError::unsupported(format!(
                    "{what} is only supported for virtio devices"
                )));
            }
        }
        Ok(())
    }
}

/// A `<driver>` element that carries nothing but virtio options (memballoon, vsock, input,
/// rng).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VirtioDriver {
    /// The virtio options.
    pub options: VirtioOptions,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl VirtioDriver {
    /// Whether nothing is set, so that libvirt would not write the element.
    pub fn is_empty(&self) -> bool {
        self.options.is_empty() && self.unknown.is_empty()
    }

    /// The `<driver>` element, or `None` when libvirt would write nothing.
    pub fn element(driver: Option<&VirtioDriver>) -> Option<Element> {
        driver.filter(|d| !d.is_empty()).map(XmlModel::to_element)
    }
}

impl XmlModel for VirtioDriver {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        Ok(VirtioDriver {
            options: VirtioOptions::parse(&mut c)?,
            unknown: c.finish(ctx),
        })
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("driver");
        self.options.format(&mut b);
        b.finish(&self.unknown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::util::read_model as read;

    #[test]
    fn device_info_is_written_in_libvirts_order() {
        let xml = "<hostdev><address type='drive' controller='0' bus='0' target='0' unit='0'/>\
                   <acpi index='3'/><rom bar='on'/><alias name='ua-x'/>\
                   <boot order='2' loadparm='abc'/></hostdev>";
        let el = oxvirt_xml::parse(xml).unwrap();
        let mut c = Cursor::new(&el);
        let info = DeviceInfo::parse(&mut c, &mut Context::default(), true, true).unwrap();
        let mut b = Builder::new("hostdev");
        info.format(&mut b);
        assert_eq!(
            oxvirt_xml::to_string(&b.build()),
            "<hostdev>\n  <boot order='2' loadparm='ABC'/>\n  <alias name='ua-x'/>\n  \
             <rom bar='on'/>\n  <acpi index='3'/>\n  \
             <address type='drive' controller='0' bus='0' target='0' unit='0'/>\n</hostdev>\n"
        );
        assert_eq!(info.boot_order(), Some(2));
        assert_eq!(info.alias_name(), Some("ua-x"));
        assert_eq!(info.acpi_index(), Some(3));
    }

    #[test]
    fn boot_and_rom_are_read_only_where_allowed() {
        let el =
            oxvirt_xml::parse("<video><boot order='1'/><rom bar='on'/><alias/></video>").unwrap();
        let mut c = Cursor::new(&el);
        let info = DeviceInfo::parse(&mut c, &mut Context::default(), false, false).unwrap();
        assert_eq!(info, DeviceInfo::default());
        assert_eq!(c.finish(&mut Context::default()).children.len(), 3);
    }

    #[test]
    fn errors_are_libvirts() {
        let cases = [
            (
                "<boot/>",
                "Missing required attribute 'order' in element 'boot'",
            ),
            (
                "<boot order='0'/>",
                "Invalid value for attribute 'order' in element 'boot': Zero is not permitted",
            ),
            (
                "<boot order='1' loadparm='123456789'/>",
                "loadparm value '123456789' must be between 1 and 8 characters",
            ),
            (
                "<boot order='1' loadparm='a_b'/>",
                "invalid loadparm value 'A_B', expecting chars in set of [a-zA-Z0-9.] and \
                 blank spaces",
            ),
        ];
        for (xml, message) in cases {
            assert_eq!(read::<Boot>(xml).unwrap_err().message, message, "{xml}");
        }
        assert_eq!(
            read::<Acpi>("<acpi index='0'/>").unwrap_err().message,
            "Invalid value for attribute 'index' in element 'acpi': Zero is not permitted"
        );
    }

    #[test]
    fn disabled_rom_cannot_be_tuned() {
        let err = read::<Rom>("<rom enabled='no' bar='on'/>").unwrap_err();
        assert_eq!(
            err.message,
            "ROM tuning is not supported when ROM is disabled"
        );
        assert_eq!(err.code, oxvirt_xml::ErrorCode::ConfigUnsupported);
        assert!(read::<Rom>("<rom enabled='no'/>").is_ok());
    }

    #[test]
    fn rom_and_boot_round_trip() {
        for xml in [
            "<rom bar='on' file='/x.bin'/>\n",
            "<rom enabled='no'/>\n",
            "<boot order='1' loadparm='2'/>\n",
            "<master startport='2'/>\n",
        ] {
            let el = oxvirt_xml::parse(xml).unwrap();
            let written = match el.name.as_str() {
                "rom" => read::<Rom>(xml).unwrap().to_element(),
                "boot" => read::<Boot>(xml).unwrap().to_element(),
                _ => read::<Master>(xml).unwrap().to_element(),
            };
            assert_eq!(oxvirt_xml::to_string(&written), xml);
        }
        let boot = read::<Boot>("<boot order='3' loadparm='a.b c'/>").unwrap();
        assert_eq!((boot.order, boot.loadparm.as_deref()), (3, Some("A.B C")));
    }

    #[test]
    fn aliases_keep_what_they_do_not_know() {
        let xml = "<input type='tablet'>\n  <alias name='ua-t' foo='1'/>\n</input>\n";
        let el = oxvirt_xml::parse(xml).unwrap();
        let mut ctx = Context::default();
        let mut c = Cursor::new(&el);
        c.attr("type");
        let info = DeviceInfo::parse(&mut c, &mut ctx, false, false).unwrap();
        assert_eq!(info.alias_name(), Some("ua-t"));
        assert_eq!(ctx.warnings.len(), 1, "{:?}", ctx.warnings);
        let mut b = Builder::new("input");
        b.attr("type", "tablet");
        info.format(&mut b);
        assert_eq!(oxvirt_xml::to_string(&b.finish(&c.finish(&mut ctx))), xml);
        // An alias without a name is no alias: it stays with the device, as written.
        let el = oxvirt_xml::parse("<input><alias/></input>").unwrap();
        let mut c = Cursor::new(&el);
        let info = DeviceInfo::parse(&mut c, &mut Context::default(), false, false).unwrap();
        assert_eq!(info.alias, None);
        assert_eq!(c.finish(&mut Context::default()).children.len(), 1);
    }

    #[test]
    fn virtio_driver_round_trips() {
        let xml = "<driver iommu='on' ats='off' packed='on' page_per_vq='off'/>\n";
        let d = read::<VirtioDriver>(xml).unwrap();
        assert_eq!(d.options.iommu, Some(true));
        assert_eq!(oxvirt_xml::to_string(&d.to_element()), xml);
        assert_eq!(VirtioDriver::element(Some(&VirtioDriver::default())), None);
    }
}
