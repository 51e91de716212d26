//! Character devices: `<serial>`, `<parallel>`, `<console>` and `<channel>`.
//!
//! The host side (`type`, `<source>`, `<protocol>`, `<log>`) is a [`ChardevSource`], which
//! `<rng>`, `<smartcard>` and `<redirdev>` reuse. Parsing keeps what was written; what libvirt
//! changes on the way is done by [`Chardev::apply_defaults`] and [`assign_ports`]:
//!
//! * at parse time: a missing `type` is `pty` (done while parsing, so it is always written);
//!   a pty's `<source path>` and a channel's target `state` are not read from inactive XML;
//!   the `tty` attribute is never read; a udp device keeps the first connect and the first
//!   bind `<source>`; `<reconnect timeout>` is read only when enabled.
//! * at post-parse time: a console's target type defaults to `serial`; serial, parallel and
//!   console target ports default to one more than the highest port of their kind
//!   ([`assign_ports`]).
//! * at format time: a tcp, udp or unix `<source>` always says its `mode` (`connect` by
//!   default); tcp always has a `<protocol>` (`raw` by default); udp writes its bind source
//!   before its connect source; a unix `<source>` without a path is not written, nor is a
//!   `<log>` without a file.

pub mod source;
pub mod target;

use oxvirt_xml::{Builder, Context, Cursor, Element, Result, Unknown, XmlError, XmlModel};

use crate::devices::info::DeviceInfo;

pub use source::{
    ChardevLog, ChardevSource, ChardevType, MouseMode, Reconnect, SourceMode, SourceSpec,
    TcpProtocol,
};
pub use target::{
    ChannelState, ChannelTargetType, ChardevTarget, ChardevTargetType, ConsoleTargetType,
    SerialTargetModel, SerialTargetType,
};

/// A character device; `element` says which of the four it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chardev {
    /// `serial`, `parallel`, `console` or `channel`.
    pub element: String,
    /// The host side: type, `<source>`, `<protocol>`, `<log>`.
    pub source: ChardevSource,
    /// The legacy `tty` attribute of a live console (never read back by libvirt).
    pub tty: Option<String>,
    /// `<target>`.
    pub target: Option<ChardevTarget>,
    /// `<alias>`, `<address>` and the rest of libvirt's device info.
    pub info: DeviceInfo,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl Chardev {
    /// A device of element `element` (`serial`, ...) with a host side of type `kind`.
    pub fn new(element: &str, kind: ChardevType) -> Self {
        Chardev {
            element: element.to_string(),
            source: ChardevSource::new(kind),
            tty: None,
            target: None,
            info: DeviceInfo::default(),
            unknown: Unknown::default(),
        }
    }

    /// The host side's type.
    pub fn kind(&self) -> ChardevType {
        self.source.kind
    }

    /// The target type, if one was given.
    pub fn target_type(&self) -> Option<ChardevTargetType> {
        self.target.as_ref().and_then(|t| t.kind)
    }

    /// The target port, if set.
    pub fn port(&self) -> Option<i32> {
        self.target.as_ref().and_then(|t| t.port)
    }

    /// What libvirt's parser, post-parse step and formatter change in this device of an
    /// inactive definition (see the module documentation). Port numbers need the other
    /// devices of the same kind: see [`assign_ports`].
    pub fn apply_defaults(&mut self) {
        self.source.apply_defaults();
        self.tty = None;
        let element = self.element.clone();
        if self.target.is_none() && element != "channel" {
            self.target = Some(ChardevTarget::default());
        }
        if let Some(t) = &mut self.target {
            t.apply_defaults(&element);
        }
    }

    /// The checks libvirt makes when the definition is validated
    /// (`virDomainChrDefValidate`).
    pub fn validate(&self) -> Result<()> {
        let path_optional = self.element == "channel"
            && matches!(
                self.target_type(),
                Some(ChardevTargetType::Channel(
                    ChannelTargetType::Virtio | ChannelTargetType::Xen
                ))
            );
        self.source.validate(path_optional)
    }
}

/// Gives each serial, parallel or console device of `devices` (all of one kind, in document
/// order) without a target port the port libvirt's post-parse step gives it: one more than
/// the highest port so far.
pub fn assign_ports(devices: &mut [Chardev]) {
    for i in 0..devices.len() {
        let dev = &devices[i];
        if !matches!(dev.element.as_str(), "serial" | "parallel" | "console") {
            continue;
        }
        if dev.port().is_some_and(|p| p != -1) {
            continue;
        }
        let max = devices
            .iter()
            .filter_map(Chardev::port)
            .max()
            .unwrap_or(-1)
            .max(-1);
        devices[i]
            .target
            .get_or_insert_with(ChardevTarget::default)
            .port = Some(max + 1);
    }
}

/// libvirt's back-compat handling of consoles (`virDomainDefAddConsoleCompat` and the
/// console part of `virDomainDefFormat`), for a domain whose OS type is `hvm` or not. Call
/// it after [`Chardev::apply_defaults`] and [`assign_ports`] on both lists.
///
/// In an HVM guest the first console with target type `serial` is an alias of the first
/// serial port: if there is no serial port, the console becomes one (port 0); the console
/// is then written as a copy of the first serial port. Without a serial console, a first
/// serial port of target type none, `isa-serial`, `spapr-vio-serial`, `system-serial` or
/// `sclp-serial` gets a console alias in front. Only the first console may have target type
/// `serial`.
pub fn apply_console_compat(
    serials: &mut Vec<Chardev>,
    consoles: &mut Vec<Chardev>,
    hvm: bool,
) -> Result<()> {
    let serial_target = |c: &Chardev| {
        matches!(
            c.target_type(),
            None | Some(ChardevTargetType::Console(
                ConsoleTargetType::Serial | ConsoleTargetType::None
            ))
        )
    };
    if consoles
        .iter()
        .skip(1)
        .any(|c| c.target_type() == Some(ChardevTargetType::Console(ConsoleTargetType::Serial)))
    {
        return Err(XmlError::unsupported(
            "Only the first console can be a serial port",
        ));
    }
    let alias_of = |serial: &Chardev| {
        let mut c = serial.clone();
        c.element = "console".to_string();
        c.target = Some(ChardevTarget {
            kind: Some(ChardevTargetType::Console(ConsoleTargetType::Serial)),
            port: serial.port(),
            ..ChardevTarget::default()
        });
        c
    };
    if hvm && consoles.first().is_some_and(serial_target) {
        if serials.is_empty() {
            let mut s = consoles[0].clone();
            s.element = "serial".to_string();
            s.target = Some(ChardevTarget {
                port: Some(0),
                ..ChardevTarget::default()
            });
            serials.push(s);
        }
        consoles[0] = alias_of(&serials[0]);
    } else if hvm
        && serials.first().is_some_and(|s| {
            matches!(
                s.target_type(),
                None | Some(ChardevTargetType::Serial(
                    SerialTargetType::None
                        | SerialTargetType::IsaSerial
                        | SerialTargetType::SpaprVioSerial
                        | SerialTargetType::SystemSerial
                        | SerialTargetType::SclpSerial
                ))
            )
        })
    {
        consoles.insert(0, alias_of(&serials[0]));
    }
    Ok(())
}

impl XmlModel for Chardev {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let kind = ChardevSource::read_type(&mut c)?;
        let element = el.name.clone();
        if !matches!(
            element.as_str(),
            "serial" | "parallel" | "console" | "channel"
        ) {
            return Err(
                XmlError::unsupported(format!("unknown character device type: {element}"))
                    .at(el.position),
            );
        }
        let target = match c.child("target") {
            Some(t) => Some(ChardevTarget::read(t, &element, ctx)?),
            None => None,
        };
        if element == "channel" && target.as_ref().and_then(|t| t.kind).is_none() {
            return Err(
                XmlError::xml("target type must be specified for channel device").at(el.position),
            );
        }
        let source = ChardevSource::read(kind, &mut c, ctx)?;
        if kind == ChardevType::Spicevmc {
            // libvirt compares the numeric target type with that of a virtio channel.
            let index = target
                .as_ref()
                .and_then(|t| t.kind)
                .map_or(0, |k| k.index());
            if index != 2 {
                return Err(
                    XmlError::unsupported("spicevmc device type only supports virtio")
                        .at(el.position),
                );
            }
        }
        let info = DeviceInfo::parse(&mut c, ctx, false, false)?;
        let usb_serial = Some(ChardevTargetType::Serial(SerialTargetType::UsbSerial));
        if element == "serial"
            && target.as_ref().and_then(|t| t.kind) == usb_serial
            && info.address.as_ref().is_some_and(|a| a.kind() != "usb")
        {
            return Err(
                XmlError::unsupported("usb-serial requires address of usb type").at(el.position),
            );
        }
        let tty = c.attr_string("tty");
        Ok(Chardev {
            element,
            source,
            tty,
            target,
            info,
            unknown: c.finish_known(ctx, &["protocol"]),
        })
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new(&self.element);
        b.attr("type", self.source.kind)
            .opt_attr("tty", self.tty.as_deref());
        self.source.write(&mut b);
        b.model(self.target.as_ref());
        self.info.format(&mut b);
        b.finish(&self.unknown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_compat() {
        let mut serials = Vec::new();
        let mut consoles =
            vec![read("<console type='pty'><alias name='ua-c'/></console>").unwrap()];
        for c in &mut consoles {
            c.apply_defaults();
        }
        assign_ports(&mut consoles);
        apply_console_compat(&mut serials, &mut consoles, true).unwrap();
        assert_eq!(
            xml(&serials[0]),
            "<serial type='pty'>\n  <target port='0'/>\n  <alias name='ua-c'/>\n</serial>\n"
        );
        assert_eq!(
            xml(&consoles[0]),
            "<console type='pty'>\n  <target type='serial' port='0'/>\n  \
             <alias name='ua-c'/>\n</console>\n"
        );
        let mut serials = vec![read(
            "<serial type='tcp'><source host='h' service='1'/>\
                                     <target type='isa-serial' port='0'/></serial>",
        )
        .unwrap()];
        let mut consoles = vec![];
        apply_console_compat(&mut serials, &mut consoles, true).unwrap();
        assert_eq!(consoles[0].kind(), ChardevType::Tcp);
        assert_eq!(consoles[0].element, "console");
        let mut consoles = vec![
            read("<console type='pty'><target type='virtio'/></console>").unwrap(),
            read("<console type='pty'><target type='serial'/></console>").unwrap(),
        ];
        assert_eq!(
            apply_console_compat(&mut vec![], &mut consoles, true)
                .unwrap_err()
                .message,
            "Only the first console can be a serial port"
        );
    }

    fn read(xml: &str) -> Result<Chardev> {
        Chardev::from_element(&oxvirt_xml::parse(xml)?, &mut Context::default())
    }

    fn xml(c: &Chardev) -> String {
        oxvirt_xml::to_string(&c.to_element())
    }

    #[test]
    fn round_trips_libvirt_output() {
        for doc in [
            "<serial type='pty'>\n  <target type='isa-serial' port='0'>\n    \
             <model name='isa-serial'/>\n  </target>\n</serial>\n",
            "<console type='pty'>\n  <target type='serial' port='0'/>\n</console>\n",
            "<channel type='unix'>\n  <source mode='bind' path='/tmp/guestfwd'/>\n  \
             <target type='guestfwd' address='10.0.2.1' port='4600'/>\n</channel>\n",
            "<channel type='spicevmc'>\n  <target type='virtio' name='com.redhat.spice.0'/>\n  \
             <address type='virtio-serial' controller='0' bus='0' port='1'/>\n</channel>\n",
            "<serial type='file'>\n  <source path='/tmp/serial.log' append='on'>\n    \
             <seclabel model='dac' relabel='no'/>\n  </source>\n  \
             <log file='/var/log/libvirt/qemu/demo-serial0.log' append='off'/>\n  \
             <target type='isa-serial' port='0'>\n    <model name='isa-serial'/>\n  \
             </target>\n</serial>\n",
            "<serial type='tcp'>\n  <source mode='connect' host='127.0.0.1' service='9999' \
             tls='yes'/>\n  <protocol type='raw'/>\n  <target port='0'/>\n  \
             <alias name='ua-serial'/>\n</serial>\n",
            "<channel type='qemu-vdagent'>\n  <source>\n    <clipboard copypaste='yes'/>\n    \
             <mouse mode='client'/>\n  </source>\n  \
             <target type='virtio' name='com.redhat.spice.0'/>\n</channel>\n",
            "<parallel type='udp'>\n  <source mode='bind' host='127.0.0.1' service='9999'/>\n  \
             <source mode='connect' host='0.0.0.0' service='9998'/>\n  \
             <target port='0'/>\n</parallel>\n",
        ] {
            let c = read(doc).unwrap();
            assert_eq!(xml(&c), doc);
            assert_eq!(read(&xml(&c)).unwrap(), c);
        }
    }

    #[test]
    fn parse_errors() {
        let e = |x: &str| read(x).unwrap_err().libvirt_message();
        assert_eq!(
            e("<channel type='pty'/>"),
            "XML error: target type must be specified for channel device"
        );
        assert_eq!(
            e("<serial type='spicevmc'><target type='isa-serial'/></serial>"),
            "unsupported configuration: spicevmc device type only supports virtio"
        );
        assert_eq!(
            e("<serial><target port='x'/></serial>"),
            "XML error: Invalid port number: x"
        );
        assert_eq!(
            e("<serial><target type='foo'/></serial>"),
            "unsupported configuration: unknown target type 'foo' specified for character device"
        );
        assert_eq!(
            e("<channel type='pty'><target type='guestfwd' port='1'/></channel>"),
            "XML error: guestfwd channel does not define a target address"
        );
        assert_eq!(
            e("<serial type='pty'><target type='usb-serial'/>\
               <address type='pci' slot='3'/></serial>"),
            "unsupported configuration: usb-serial requires address of usb type"
        );
    }

    #[test]
    fn defaults_and_ports() {
        let mut c = read("<console type='pty' tty='/dev/pts/3'/>").unwrap();
        c.apply_defaults();
        let mut list = vec![c];
        assign_ports(&mut list);
        assert_eq!(
            xml(&list[0]),
            "<console type='pty'>\n  <target type='serial' port='0'/>\n</console>\n"
        );
        let mut serials: Vec<Chardev> = ["<serial><target port='2'/></serial>", "<serial/>"]
            .iter()
            .map(|x| read(x).unwrap())
            .collect();
        for s in &mut serials {
            s.apply_defaults();
        }
        assign_ports(&mut serials);
        assert_eq!(serials[1].port(), Some(3));
        assert_eq!(
            xml(&serials[1]),
            "<serial type='pty'>\n  <target port='3'/>\n</serial>\n"
        );
    }

    #[test]
    fn unix_channel_path_is_optional_for_virtio() {
        let c = read(
            "<channel type='unix'><source mode='connect'/>\
                      <target type='virtio' name='test2'/></channel>",
        )
        .unwrap();
        assert!(c.validate().is_ok());
        let c = read("<serial type='unix'><source mode='connect'/></serial>").unwrap();
        assert_eq!(
            c.validate().unwrap_err().message,
            "Missing source path attribute for char device"
        );
    }
}
