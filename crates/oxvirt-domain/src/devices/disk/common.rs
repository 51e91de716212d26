//! Pieces that disks, controllers, filesystems and host devices share: the device-info
//! elements every device may carry (`<boot>`, `<alias>`, `<master>`, `<acpi>`, `<rom>`,
//! `<address>`), the virtio driver options, a few closed value sets, and readers for
//! attributes that behave like libvirt's `virXMLProp*` helpers.

use oxvirt_xml::model::{parse_c_uint, XmlEnum};
use oxvirt_xml::types::size::parse_u64_strict;
use oxvirt_xml::{
    xml_enum, Builder, Context, Cursor, Element, Result, Unknown, XmlError, XmlModel,
};

use crate::address::DeviceAddress;

xml_enum! {
    /// A disk image format (`virStorageFileFormat`, without `none`).
    pub enum StorageFormat {
        Raw = "raw", Dir = "dir", Bochs = "bochs", Cloop = "cloop", Dmg = "dmg", Iso = "iso",
        Vpc = "vpc", Vdi = "vdi", Fat = "fat", Vhd = "vhd", Ploop = "ploop", Luks = "luks",
        Cow = "cow", Qcow = "qcow", Qcow2 = "qcow2", Qed = "qed", Vmdk = "vmdk",
    }
}

xml_enum! {
    /// What to do when a disk's or USB device's source is missing at start (`startupPolicy`).
    pub enum StartupPolicy { Mandatory = "mandatory", Requisite = "requisite", Optional = "optional" }
}

xml_enum! {
    /// SCSI command filtering of a LUN or SCSI host device (`sgio`).
    pub enum Sgio { Filtered = "filtered", Unfiltered = "unfiltered" }
}

/// Parses an unsigned number in `base` as libvirt's `virStrToLong_*p` helpers do: the whole
/// string, no minus sign. Base 0 means C's automatic base (`0x` hex, leading-zero octal).
pub(crate) fn parse_uint_base(v: &str, base: u32) -> Option<u64> {
    match base {
        0 => parse_c_uint(v),
        10 => parse_u64_strict(v),
        _ => {
            let t = v.trim_start();
            let t = t.strip_prefix('+').unwrap_or(t);
            let t = if base == 16 {
                t.strip_prefix("0x")
                    .or_else(|| t.strip_prefix("0X"))
                    .unwrap_or(t)
            } else {
                t
            };
            if t.is_empty() || t.starts_with(['+', '-']) {
                return None;
            }
            u64::from_str_radix(t, base).ok()
        }
    }
}

fn zero_not_permitted(c: &Cursor<'_>, name: &str) -> XmlError {
    c.error(format!(
        "Invalid value for attribute '{name}' in element '{}': Zero is not permitted",
        c.element().name
    ))
}

/// `virXMLPropULongLong`: an unsigned 64-bit attribute.
pub(crate) fn prop_ull(c: &mut Cursor<'_>, name: &str, base: u32) -> Result<Option<u64>> {
    let Some(v) = c.attr(name) else {
        return Ok(None);
    };
    match parse_uint_base(v, base) {
        Some(n) => Ok(Some(n)),
        None => Err(c.invalid_value(name, v, "Expected non-negative integer value")),
    }
}

/// `virXMLPropUInt`: an unsigned 32-bit attribute.
pub(crate) fn prop_uint(c: &mut Cursor<'_>, name: &str, base: u32) -> Result<Option<u32>> {
    let Some(v) = c.attr(name) else {
        return Ok(None);
    };
    match parse_uint_base(v, base).and_then(|n| u32::try_from(n).ok()) {
        Some(n) => Ok(Some(n)),
        None => Err(c.invalid_value(name, v, "Expected non-negative integer value")),
    }
}

/// `virXMLPropUInt` with `VIR_XML_PROP_NONZERO`.
pub(crate) fn prop_uint_nonzero(c: &mut Cursor<'_>, name: &str, base: u32) -> Result<Option<u32>> {
    match prop_uint(c, name, base)? {
        Some(0) => Err(zero_not_permitted(c, name)),
        v => Ok(v),
    }
}

/// `virXMLPropInt` with `VIR_XML_PROP_NONNEGATIVE`.
pub(crate) fn prop_int_nonneg(c: &mut Cursor<'_>, name: &str, base: u32) -> Result<Option<u32>> {
    let Some(v) = c.attr(name) else {
        return Ok(None);
    };
    let t = v.trim_start();
    let (negative, digits) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let n = (!digits.starts_with(['+', '-']))
        .then(|| parse_uint_base(digits, base))
        .flatten()
        .filter(|n| *n <= i32::MAX as u64 + u64::from(negative));
    match n {
        None => Err(c.invalid_value(name, v, "Expected integer value")),
        Some(0) => Ok(Some(0)),
        Some(_) if negative => Err(c.invalid_value(name, v, "Expected non-negative value")),
        Some(n) => Ok(u32::try_from(n).ok()),
    }
}

/// `virXMLPropTristateBool`: `yes` or `no`.
pub(crate) fn prop_yes_no(c: &mut Cursor<'_>, name: &str) -> Result<Option<bool>> {
    match c.attr(name) {
        None => Ok(None),
        Some("yes") => Ok(Some(true)),
        Some("no") => Ok(Some(false)),
        Some(v) => Err(c.invalid_value(name, v, "")),
    }
}

/// `virXMLPropTristateSwitch`: `on` or `off`.
pub(crate) fn prop_on_off(c: &mut Cursor<'_>, name: &str) -> Result<Option<bool>> {
    match c.attr(name) {
        None => Ok(None),
        Some("on") => Ok(Some(true)),
        Some("off") => Ok(Some(false)),
        Some(v) => Err(c.invalid_value(name, v, "")),
    }
}

/// An enum attribute whose first libvirt value is `default`: `default` is accepted and reads
/// as absent, as libvirt then writes nothing.
pub(crate) fn prop_enum_or_default<T: XmlEnum>(
    c: &mut Cursor<'_>,
    name: &str,
) -> Result<Option<T>> {
    if c.element().attr(name) == Some("default") {
        c.attr(name);
        return Ok(None);
    }
    c.enum_attr(name)
}

/// The text of a child element as libvirt's `virXPathString` reads it: an empty text is
/// absent. The element is taken either way.
pub(crate) fn child_text_nonempty(c: &mut Cursor<'_>, name: &str) -> Option<String> {
    c.child_text(name).filter(|t| !t.is_empty())
}

/// The virtio options of a `<driver>` element (`iommu`, `ats`, `packed`, `page_per_vq`).
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
    /// Reads the options from the driver element `c` is reading.
    pub(crate) fn parse(c: &mut Cursor<'_>) -> Result<Self> {
        Ok(VirtioOptions {
            iommu: prop_on_off(c, "iommu")?,
            ats: prop_on_off(c, "ats")?,
            packed: prop_on_off(c, "packed")?,
            page_per_vq: prop_on_off(c, "page_per_vq")?,
        })
    }

    /// Writes the options in libvirt's order.
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
}

/// A device's place in the boot order (`<boot order='1'/>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Boot {
    /// The boot index, from 1.
    pub order: u32,
    /// The s390 load parameter, upper-cased as libvirt stores it.
    pub loadparm: Option<String>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl XmlModel for Boot {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        if el.attr("order").is_none() {
            return Err(c.error("Missing required attribute 'order' in element 'boot'"));
        }
        let order = prop_uint_nonzero(&mut c, "order", 10)?.unwrap_or(1);
        let loadparm = match c.attr("loadparm") {
            None => None,
            Some(v) => {
                let up = v.to_ascii_uppercase();
                if up.is_empty() || up.chars().count() > 8 {
                    return Err(XmlError::internal(format!(
                        "loadparm value '{up}' must be between 1 and 8 characters"
                    ))
                    .at(el.position));
                }
                if !up
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '.' || ch == ' ')
                {
                    return Err(XmlError::internal(format!(
                        "invalid loadparm value '{up}', expecting chars in set of [a-zA-Z0-9.] and blank spaces"
                    ))
                    .at(el.position));
                }
                Some(up)
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
        let startport = prop_uint(&mut c, "startport", 0)?.unwrap_or(0);
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
        let index = prop_uint_nonzero(&mut c, "index", 10)?;
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

/// The option ROM of a PCI device (`<rom bar='on' file='/path'/>`).
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
        let enabled = prop_yes_no(&mut c, "enabled")?;
        let bar = prop_on_off(&mut c, "bar")?;
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
/// device's own children in this order: boot, alias, master, acpi, rom, address.
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
    /// Reads the device-info children of the element `c` is reading. `<boot>` and `<rom>`
    /// are read only where libvirt reads them (`allow_boot`, `allow_rom`); elsewhere they
    /// stay in the device's unknown content.
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
            .model(self.acpi.as_ref())
            .model(self.rom.as_ref())
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor_test<T>(xml: &str, f: impl FnOnce(&mut Cursor<'_>) -> T) -> T {
        let el = oxvirt_xml::parse(xml).unwrap();
        let mut c = Cursor::new(&el);
        f(&mut c)
    }

    #[test]
    fn numbers_are_read_like_libvirt() {
        assert_eq!(parse_uint_base("0x1f", 0), Some(31));
        assert_eq!(parse_uint_base("0755", 8), Some(0o755));
        assert_eq!(parse_uint_base("ff", 16), Some(255));
        assert_eq!(parse_uint_base("-1", 10), None);
        let err = cursor_test("<controller index='-1'/>", |c| {
            prop_int_nonneg(c, "index", 10)
        })
        .unwrap_err();
        assert_eq!(
            err.message,
            "Invalid value for attribute 'index' in element 'controller': '-1'. Expected non-negative value"
        );
        let err =
            cursor_test("<boot order='0'/>", |c| prop_uint_nonzero(c, "order", 10)).unwrap_err();
        assert_eq!(
            err.message,
            "Invalid value for attribute 'order' in element 'boot': Zero is not permitted"
        );
        let err = cursor_test("<x v='maybe'/>", |c| prop_on_off(c, "v")).unwrap_err();
        assert_eq!(
            err.message,
            "Invalid value for attribute 'v' in element 'x': 'maybe'."
        );
    }

    #[test]
    fn device_info_is_written_in_libvirts_order() {
        let xml = "<disk><address type='drive' controller='0' bus='0' target='0' unit='0'/>\
                   <alias name='ua-x'/><boot order='2' loadparm='abc'/></disk>";
        let el = oxvirt_xml::parse(xml).unwrap();
        let mut c = Cursor::new(&el);
        let info = DeviceInfo::parse(&mut c, &mut Context::default(), true, false).unwrap();
        let mut b = Builder::new("disk");
        info.format(&mut b);
        assert_eq!(
            oxvirt_xml::to_string(&b.build()),
            "<disk>\n  <boot order='2' loadparm='ABC'/>\n  <alias name='ua-x'/>\n  \
             <address type='drive' controller='0' bus='0' target='0' unit='0'/>\n</disk>\n"
        );
        assert_eq!(info.boot_order(), Some(2));
    }

    #[test]
    fn disabled_rom_cannot_be_tuned() {
        let el = oxvirt_xml::parse("<rom enabled='no' bar='on'/>").unwrap();
        let err = Rom::from_element(&el, &mut Context::default()).unwrap_err();
        assert_eq!(
            err.message,
            "ROM tuning is not supported when ROM is disabled"
        );
        assert_eq!(err.code, oxvirt_xml::ErrorCode::ConfigUnsupported);
    }
}
