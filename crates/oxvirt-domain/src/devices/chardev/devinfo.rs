//! The parts of libvirt's device info that sit before `<address>`: `<boot>`, `<alias>`,
//! `<rom>` and `<acpi>` (`virDomainDeviceInfoParseXML` / `virDomainDeviceInfoFormat`).

use oxvirt_xml::{Builder, Context, Cursor, Element, Result, Unknown, XmlError, XmlModel};

use super::attrs;

/// A device's place in the boot order (`<boot order='1' loadparm='...'/>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Boot {
    /// The boot index, from 1.
    pub order: u32,
    /// The s390 load parameter.
    pub loadparm: Option<String>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl Boot {
    /// libvirt keeps the load parameter in upper case.
    pub fn apply_defaults(&mut self) {
        if let Some(l) = &mut self.loadparm {
            *l = l.to_uppercase();
        }
    }
}

impl XmlModel for Boot {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let order = match attrs::uint_nonzero(&mut c, "order")? {
            Some(v) => v,
            None => return Err(attrs::missing(&c, "order")),
        };
        let loadparm = c.attr_string("loadparm");
        if let Some(l) = &loadparm {
            let upper = l.to_uppercase();
            if upper.is_empty() || upper.len() > 8 {
                return Err(XmlError::internal(format!(
                    "loadparm value '{upper}' must be between 1 and 8 characters"
                ))
                .at(el.position));
            }
            if !upper
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '.' || ch == ' ')
            {
                return Err(XmlError::internal(format!(
                    "invalid loadparm value '{upper}', expecting chars in set of [a-zA-Z0-9.] \
                     and blank spaces"
                ))
                .at(el.position));
            }
        }
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

/// A PCI device's option ROM (`<rom enabled='no'/>`, `<rom bar='on' file='...'/>`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rom {
    /// `enabled='yes|no'`.
    pub enabled: Option<bool>,
    /// `bar='on|off'`: whether the ROM is visible in the guest's memory map.
    pub bar: Option<bool>,
    /// The ROM image to use instead of the device's own.
    pub file: Option<String>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl XmlModel for Rom {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let enabled = attrs::yes_no(&mut c, "enabled")?;
        let bar = attrs::on_off(&mut c, "bar")?;
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
        b.opt_attr("enabled", self.enabled.map(attrs::yn))
            .opt_attr("bar", self.bar.map(attrs::onoff))
            .opt_attr("file", self.file.as_deref());
        b.finish(&self.unknown)
    }
}

/// Reads `<alias name='...'/>`.
pub(crate) fn read_alias(c: &mut Cursor<'_>, ctx: &mut Context) -> Option<String> {
    let el = c.child("alias")?;
    let mut ac = Cursor::new(el);
    let name = ac.attr_string("name");
    ac.finish(ctx);
    name
}

/// Reads `<acpi index='N'/>`.
pub(crate) fn read_acpi(c: &mut Cursor<'_>, ctx: &mut Context) -> Result<Option<u32>> {
    let Some(el) = c.child("acpi") else {
        return Ok(None);
    };
    let mut ac = Cursor::new(el);
    let index = attrs::uint_nonzero(&mut ac, "index")?;
    ac.finish(ctx);
    Ok(index)
}

/// Writes `<alias name='...'/>`.
pub(crate) fn write_alias(b: &mut Builder, alias: Option<&str>) {
    if let Some(a) = alias {
        b.child(Element::new("alias").with_attr("name", a));
    }
}

/// Writes `<acpi index='N'/>`.
pub(crate) fn write_acpi(b: &mut Builder, index: Option<u32>) {
    if let Some(i) = index {
        b.child(Element::new("acpi").with_attr("index", i.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rom_and_boot() {
        let el = oxvirt_xml::parse("<rom bar='on' file='/x.bin'/>").unwrap();
        let rom = Rom::from_element(&el, &mut Context::default()).unwrap();
        assert_eq!(
            oxvirt_xml::to_string(&rom.to_element()),
            "<rom bar='on' file='/x.bin'/>\n"
        );
        let el = oxvirt_xml::parse("<rom enabled='no' bar='on'/>").unwrap();
        let err = Rom::from_element(&el, &mut Context::default()).unwrap_err();
        assert_eq!(
            err.message,
            "ROM tuning is not supported when ROM is disabled"
        );
        let el = oxvirt_xml::parse("<boot order='1' loadparm='2'/>").unwrap();
        let boot = Boot::from_element(&el, &mut Context::default()).unwrap();
        assert_eq!(boot.order, 1);
        assert_eq!(
            oxvirt_xml::to_string(&boot.to_element()),
            "<boot order='1' loadparm='2'/>\n"
        );
    }
}
