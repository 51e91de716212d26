//! The guest side of a character device: `<target>` (`virDomainChrDefParseTargetXML`).

use std::fmt;
use std::net::IpAddr;

use oxvirt_xml::model::{str_to_long_ui, PropFlags, XmlEnum};
use oxvirt_xml::{Builder, Context, Cursor, Element, Result, Unknown, XmlError, XmlModel};

oxvirt_xml::xml_enum! {
    /// A serial port's target type.
    pub enum SerialTargetType {
        /// No type (libvirt writes none).
        None = "none",
        /// An ISA serial port.
        IsaSerial = "isa-serial",
        /// A USB serial adapter.
        UsbSerial = "usb-serial",
        /// A PCI serial card.
        PciSerial = "pci-serial",
        /// A pSeries VIO serial port.
        SpaprVioSerial = "spapr-vio-serial",
        /// The machine's own serial port.
        SystemSerial = "system-serial",
        /// An s390 SCLP console.
        SclpSerial = "sclp-serial",
        /// The ISA debug console.
        IsaDebug = "isa-debug",
    }
}

oxvirt_xml::xml_enum! {
    /// A channel's target type.
    pub enum ChannelTargetType {
        /// No type.
        None = "none",
        /// Guest forwarding of a TCP address.
        Guestfwd = "guestfwd",
        /// A virtio-serial port.
        Virtio = "virtio",
        /// A Xen channel.
        Xen = "xen",
    }
}

oxvirt_xml::xml_enum! {
    /// A console's target type.
    pub enum ConsoleTargetType {
        /// No type (becomes `serial`).
        None = "none",
        /// An alias of the first serial port.
        Serial = "serial",
        /// A Xen console.
        Xen = "xen",
        /// A UML console.
        Uml = "uml",
        /// A virtio console.
        Virtio = "virtio",
        /// An LXC console.
        Lxc = "lxc",
        /// An OpenVZ console.
        Openvz = "openvz",
        /// An s390 SCLP console.
        Sclp = "sclp",
        /// An s390 SCLP line-mode console.
        Sclplm = "sclplm",
    }
}

oxvirt_xml::xml_enum! {
    /// A serial port's device model (`<model name='...'/>`).
    pub enum SerialTargetModel {
        /// No model.
        None = "none",
        /// `isa-serial`.
        IsaSerial = "isa-serial",
        /// `usb-serial`.
        UsbSerial = "usb-serial",
        /// `pci-serial`.
        PciSerial = "pci-serial",
        /// `spapr-vty`.
        SpaprVty = "spapr-vty",
        /// `pl011`.
        Pl011 = "pl011",
        /// `sclpconsole`.
        Sclpconsole = "sclpconsole",
        /// `sclplmconsole`.
        Sclplmconsole = "sclplmconsole",
        /// `16550a`.
        Uart16550a = "16550a",
        /// `isa-debugcon`.
        IsaDebugcon = "isa-debugcon",
    }
}

oxvirt_xml::xml_enum! {
    /// The connection state of a virtio channel (live XML only).
    pub enum ChannelState {
        /// A guest agent is connected.
        Connected = "connected",
        /// No guest agent is connected.
        Disconnected = "disconnected",
    }
}

/// A target type, whose values depend on the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChardevTargetType {
    /// A `<serial>` target type.
    Serial(SerialTargetType),
    /// A `<channel>` target type.
    Channel(ChannelTargetType),
    /// A `<console>` target type.
    Console(ConsoleTargetType),
}

impl ChardevTargetType {
    /// The value's position in libvirt's enum for its device.
    pub fn index(&self) -> usize {
        fn pos<T: XmlEnum + PartialEq>(all: &[T], v: &T) -> usize {
            all.iter().position(|x| x == v).unwrap_or(0)
        }
        use ChannelTargetType as Ch;
        use ConsoleTargetType as Co;
        use SerialTargetType as S;
        match self {
            ChardevTargetType::Serial(v) => pos(
                &[
                    S::None,
                    S::IsaSerial,
                    S::UsbSerial,
                    S::PciSerial,
                    S::SpaprVioSerial,
                    S::SystemSerial,
                    S::SclpSerial,
                    S::IsaDebug,
                ],
                v,
            ),
            ChardevTargetType::Channel(v) => pos(&[Ch::None, Ch::Guestfwd, Ch::Virtio, Ch::Xen], v),
            ChardevTargetType::Console(v) => pos(
                &[
                    Co::None,
                    Co::Serial,
                    Co::Xen,
                    Co::Uml,
                    Co::Virtio,
                    Co::Lxc,
                    Co::Openvz,
                    Co::Sclp,
                    Co::Sclplm,
                ],
                v,
            ),
        }
    }

    fn parse(element: &str, v: &str) -> Option<Option<Self>> {
        match element {
            "serial" => SerialTargetType::from_xml_str(v).map(|t| Some(Self::Serial(t))),
            "channel" => ChannelTargetType::from_xml_str(v).map(|t| Some(Self::Channel(t))),
            "console" => ConsoleTargetType::from_xml_str(v).map(|t| Some(Self::Console(t))),
            _ => Some(None),
        }
    }
}

impl fmt::Display for ChardevTargetType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChardevTargetType::Serial(v) => v.as_xml_str(),
            ChardevTargetType::Channel(v) => v.as_xml_str(),
            ChardevTargetType::Console(v) => v.as_xml_str(),
        })
    }
}

/// `<target>`: what the guest sees.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChardevTarget {
    /// `type` (not read for `<parallel>`).
    pub kind: Option<ChardevTargetType>,
    /// The guest address of a guestfwd channel.
    pub address: Option<String>,
    /// The port number (the guest port of a guestfwd channel).
    pub port: Option<i32>,
    /// The channel name of a virtio or Xen channel.
    pub name: Option<String>,
    /// The state of a virtio channel.
    pub state: Option<ChannelState>,
    /// A serial port's `<model name='...'/>`.
    pub model: Option<SerialTargetModel>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl ChardevTarget {
    /// Reads `<target>` of a device of element `element` (`serial`, ...).
    pub fn read(el: &Element, element: &str, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let mut t = ChardevTarget::default();
        if element != "parallel" {
            if let Some(v) = c.attr("type") {
                t.kind = ChardevTargetType::parse(element, v).ok_or_else(|| {
                    XmlError::unsupported(format!(
                        "unknown target type '{v}' specified for character device"
                    ))
                    .at(el.position)
                })?;
            }
        }
        if element == "serial" {
            if let Some(m) = c.child("model") {
                let mut mc = Cursor::new(m);
                if let Some(v) = mc.attr("name") {
                    t.model = Some(SerialTargetModel::from_xml_str(v).ok_or_else(|| {
                        XmlError::unsupported(format!(
                            "unknown target model '{v}' specified for character device"
                        ))
                        .at(m.position)
                    })?);
                }
                mc.finish(ctx);
            }
        }
        match (element, t.kind) {
            ("channel", Some(ChardevTargetType::Channel(ChannelTargetType::Guestfwd))) => {
                let Some(addr) = c.attr_string("address") else {
                    return Err(c.error("guestfwd channel does not define a target address"));
                };
                match addr.parse::<IpAddr>() {
                    Ok(IpAddr::V4(_)) => {}
                    Ok(IpAddr::V6(_)) => {
                        return Err(XmlError::unsupported(
                            "guestfwd channel only supports IPv4 addresses",
                        )
                        .at(el.position))
                    }
                    Err(_) => {
                        return Err(XmlError::internal(format!(
                            "Cannot parse socket address '{addr}': Name or service not known"
                        ))
                        .at(el.position))
                    }
                }
                t.address = Some(addr);
                t.port = Some(c.required_uint("port", 10, PropFlags::NONE)? as i32);
            }
            ("channel", Some(ChardevTargetType::Channel(k)))
                if matches!(k, ChannelTargetType::Virtio | ChannelTargetType::Xen) =>
            {
                t.name = c.attr_string("name");
                if k == ChannelTargetType::Virtio {
                    t.state = c.enum_attr("state")?;
                }
            }
            ("channel", _) => {}
            _ => {
                if let Some(v) = c.attr("port") {
                    let port = str_to_long_ui(v, 10).ok_or_else(|| {
                        XmlError::xml(format!("Invalid port number: {v}")).at(el.position)
                    })?;
                    t.port = Some(port as i32);
                }
            }
        }
        t.unknown = c.finish(ctx);
        Ok(t)
    }

    /// The defaults of an inactive definition for a device of element `element`: a
    /// console's target type is `serial`, a serial port's `none` type and model are not
    /// written, a channel's state is not kept.
    pub fn apply_defaults(&mut self, element: &str) {
        match element {
            "console" => {
                if matches!(
                    self.kind,
                    None | Some(ChardevTargetType::Console(ConsoleTargetType::None))
                ) {
                    self.kind = Some(ChardevTargetType::Console(ConsoleTargetType::Serial));
                }
            }
            "serial" => {
                if self.kind == Some(ChardevTargetType::Serial(SerialTargetType::None)) {
                    self.kind = None;
                }
                if self.model == Some(SerialTargetModel::None) {
                    self.model = None;
                }
            }
            _ => {}
        }
        self.state = None;
    }
}

impl XmlModel for ChardevTarget {
    /// Reads a target without knowing its device; prefer [`ChardevTarget::read`].
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        ChardevTarget::read(el, "serial", ctx)
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("target");
        b.opt_attr("type", self.kind)
            .opt_attr("address", self.address.as_deref())
            .opt_attr("port", self.port)
            .opt_attr("name", self.name.as_deref())
            .opt_attr("state", self.state);
        if let Some(m) = self.model {
            b.child(Element::new("model").with_attr("name", m.as_xml_str()));
        }
        b.finish(&self.unknown)
    }
}
