//! Smartcard readers (`<smartcard>`) and USB redirection (`<redirdev>`): two devices whose
//! host side is a character device source.

use oxvirt_xml::{Builder, Context, Cursor, Element, Result, Unknown, XmlEnum, XmlModel};

use crate::devices::chardev::{ChardevSource, ChardevType};
use crate::devices::info::DeviceInfo;

oxvirt_xml::xml_enum! {
    /// How a smartcard reaches the guest (`mode`).
    pub enum SmartcardMode {
        /// The host's own reader.
        Host = "host",
        /// Three certificates in a database on the host.
        HostCertificates = "host-certificates",
        /// A remote reader through a character device.
        Passthrough = "passthrough",
    }
}

/// A smartcard reader (`<smartcard>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Smartcard {
    /// `mode`.
    pub mode: SmartcardMode,
    /// The three `<certificate>`s of `host-certificates` mode.
    pub certificates: Vec<String>,
    /// `<database>` of `host-certificates` mode.
    pub database: Option<String>,
    /// The character device of `passthrough` mode.
    pub source: Option<ChardevSource>,
    /// `<alias>`, `<address>` (a CCID slot) and the rest of libvirt's device info.
    pub info: DeviceInfo,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl XmlModel for Smartcard {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let mode = c.required_enum_attr::<SmartcardMode>("mode")?;
        let mut certificates = Vec::new();
        let mut database = None;
        let mut source = None;
        match mode {
            SmartcardMode::Host => {}
            SmartcardMode::HostCertificates => {
                certificates = c.children("certificate").iter().map(|e| e.text()).collect();
                if certificates.len() != 3 {
                    return Err(c.error("host-certificates mode needs exactly three certificates"));
                }
                database = c.child_text("database");
            }
            SmartcardMode::Passthrough => {
                let kind = ChardevSource::read_type(&mut c)?;
                source = Some(ChardevSource::read(kind, &mut c, ctx)?);
            }
        }
        let info = DeviceInfo::parse(&mut c, ctx, false, false)?;
        Ok(Smartcard {
            mode,
            certificates,
            database,
            source,
            info,
            unknown: c.finish(ctx),
        })
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("smartcard");
        b.attr("mode", self.mode);
        if let Some(s) = &self.source {
            b.attr("type", s.kind.as_xml_str());
        }
        for cert in &self.certificates {
            b.text_child("certificate", cert);
        }
        b.opt_text_child("database", self.database.as_deref());
        if let Some(s) = &self.source {
            s.write(&mut b);
        }
        self.info.format(&mut b);
        b.finish(&self.unknown)
    }
}

/// A USB device redirected from a client or a remote host (`<redirdev>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirdev {
    /// `bus` (always `usb` today).
    pub bus: String,
    /// The character device that carries the USB traffic.
    pub source: ChardevSource,
    /// `<boot>`, `<alias>`, `<address>` (on the guest's USB bus) and the rest of libvirt's
    /// device info.
    pub info: DeviceInfo,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl XmlModel for Redirdev {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let bus = c.attr("bus").unwrap_or("usb").to_string();
        if bus != "usb" {
            return Err(c.invalid_value("bus", &bus, ""));
        }
        let kind = ChardevSource::read_type(&mut c)?;
        let source = ChardevSource::read(kind, &mut c, ctx)?;
        let info = DeviceInfo::parse(&mut c, ctx, true, false)?;
        Ok(Redirdev {
            bus,
            source,
            info,
            unknown: c.finish(ctx),
        })
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("redirdev");
        b.attr("bus", &self.bus)
            .attr("type", self.source.kind.as_xml_str());
        self.source.write(&mut b);
        self.info.format(&mut b);
        b.finish(&self.unknown)
    }
}

impl Redirdev {
    /// libvirt's check of the character device (`virDomainRedirdevDefValidate`). A D-Bus
    /// redirection's channel is named by the hypervisor driver, so it may be missing here.
    pub fn validate(&self) -> Result<()> {
        if self.source.kind == ChardevType::Dbus {
            return Ok(());
        }
        self.source.validate(false)
    }
}

impl Smartcard {
    /// libvirt's check of a passthrough reader's character device.
    pub fn validate(&self) -> Result<()> {
        match &self.source {
            Some(s) => s.validate(false),
            None => Ok(()),
        }
    }

    /// Whether the reader uses a spice channel (`type='spicevmc'`).
    pub fn is_spicevmc(&self) -> bool {
        self.source
            .as_ref()
            .is_some_and(|s| s.kind == ChardevType::Spicevmc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T: XmlModel>(xml: &str) {
        let el = oxvirt_xml::parse(xml).unwrap();
        let mut ctx = Context::default();
        let model = T::from_element(&el, &mut ctx).unwrap();
        assert!(ctx.warnings.is_empty(), "{:?}", ctx.warnings);
        assert_eq!(oxvirt_xml::to_string(&model.to_element()), xml);
    }

    #[test]
    fn smartcards_round_trip() {
        round_trip::<Smartcard>(
            "<smartcard mode='host-certificates'>\n  <certificate>cert1</certificate>\n  \
             <certificate>cert2</certificate>\n  <certificate>cert3</certificate>\n  \
             <database>/etc/pki/nssdb/</database>\n  \
             <address type='ccid' controller='0' slot='0'/>\n</smartcard>\n",
        );
        round_trip::<Smartcard>(
            "<smartcard mode='passthrough' type='tcp'>\n  \
             <source mode='connect' host='127.0.0.1' service='2001'/>\n  \
             <protocol type='raw'/>\n  <address type='ccid' controller='0' slot='0'/>\n</smartcard>\n",
        );
    }

    #[test]
    fn redirdevs_round_trip() {
        round_trip::<Redirdev>(
            "<redirdev bus='usb' type='spicevmc'>\n  <boot order='1'/>\n  \
             <address type='usb' bus='0' port='3'/>\n</redirdev>\n",
        );
    }

    #[test]
    fn redirdev_boot_is_device_info() {
        let el = oxvirt_xml::parse(
            "<redirdev bus='usb' type='spicevmc'><boot order='2' loadparm='x1'/></redirdev>",
        )
        .unwrap();
        let r = Redirdev::from_element(&el, &mut Context::default()).unwrap();
        assert_eq!(r.info.boot_order(), Some(2));
        assert_eq!(
            oxvirt_xml::to_string(&r.to_element()),
            "<redirdev bus='usb' type='spicevmc'>\n  <boot order='2' loadparm='X1'/>\n</redirdev>\n"
        );
        let el =
            oxvirt_xml::parse("<redirdev bus='usb' type='spicevmc'><boot order='0'/></redirdev>")
                .unwrap();
        assert_eq!(
            Redirdev::from_element(&el, &mut Context::default())
                .unwrap_err()
                .message,
            "Invalid value for attribute 'order' in element 'boot': Zero is not permitted"
        );
    }

    #[test]
    fn a_unix_source_needs_a_path() {
        let el = oxvirt_xml::parse("<redirdev bus='usb' type='unix'><source/></redirdev>").unwrap();
        let r = Redirdev::from_element(&el, &mut Context::default()).unwrap();
        assert_eq!(
            r.validate().unwrap_err().message,
            "Missing source path attribute for char device"
        );
    }
}
