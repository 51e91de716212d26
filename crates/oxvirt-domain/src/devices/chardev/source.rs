//! The host side of a character device: the `type` attribute and the `<source>`,
//! `<protocol>` and `<log>` children, as `virDomainChrSourceDefParseXML` reads them.
//!
//! The same syntax serves `<serial>`, `<parallel>`, `<console>`, `<channel>`,
//! `<rng><backend model='egd'>`, `<smartcard mode='passthrough'>` and `<redirdev>`, so it is
//! a model of its own: [`ChardevSource::read`] takes what it needs from the caller's cursor
//! and [`ChardevSource::write`] writes it back into the caller's builder.

use oxvirt_xml::model::{PropFlags, XmlEnum};
use oxvirt_xml::{Builder, Context, Cursor, Element, Result, Unknown, XmlError, XmlModel};

oxvirt_xml::xml_enum! {
    /// The kind of host side (`type='...'`, libvirt's `virDomainChrType`).
    pub enum ChardevType {
        /// Nothing connected.
        Null = "null",
        /// A virtual console in the emulator's window.
        Vc = "vc",
        /// A pseudo terminal allocated on the host.
        Pty = "pty",
        /// A host character device.
        Dev = "dev",
        /// Output written to a file.
        File = "file",
        /// A named pipe.
        Pipe = "pipe",
        /// The emulator's standard input and output.
        Stdio = "stdio",
        /// A UDP socket.
        Udp = "udp",
        /// A TCP socket.
        Tcp = "tcp",
        /// A UNIX socket.
        Unix = "unix",
        /// A SPICE channel.
        Spicevmc = "spicevmc",
        /// A SPICE port.
        Spiceport = "spiceport",
        /// A FreeBSD null modem.
        Nmdm = "nmdm",
        /// QEMU's built-in vdagent.
        QemuVdagent = "qemu-vdagent",
        /// A D-Bus display channel.
        Dbus = "dbus",
    }
}

oxvirt_xml::xml_enum! {
    /// Whether the host side listens or connects (`mode='bind|connect'`).
    pub enum SourceMode {
        /// Listen for a connection.
        Bind = "bind",
        /// Connect to a listener.
        Connect = "connect",
    }
}

oxvirt_xml::xml_enum! {
    /// The protocol on a TCP character device (`<protocol type='...'/>`).
    pub enum TcpProtocol {
        /// Raw bytes.
        Raw = "raw",
        /// Telnet.
        Telnet = "telnet",
        /// Telnet over TLS.
        Telnets = "telnets",
        /// TLS.
        Tls = "tls",
    }
}

oxvirt_xml::xml_enum! {
    /// The mouse mode of a `qemu-vdagent` channel.
    pub enum MouseMode {
        /// Relative movements from the server.
        Server = "server",
        /// Absolute positions from the client.
        Client = "client",
    }
}

/// Automatic reconnection of a client socket (`<reconnect enabled='yes' timeout='10'/>`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reconnect {
    /// `enabled='yes|no'`.
    pub enabled: Option<bool>,
    /// Seconds between attempts; read (and required) only when enabled.
    pub timeout: Option<u32>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl XmlModel for Reconnect {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let enabled = c.prop_yes_no("enabled", PropFlags::NONE)?;
        let timeout = if enabled == Some(true) {
            Some(c.required_uint("timeout", 10, PropFlags::NONE)?)
        } else {
            None
        };
        Ok(Reconnect {
            enabled,
            timeout,
            unknown: c.finish(ctx),
        })
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("reconnect");
        b.yes_no("enabled", self.enabled)
            .opt_attr("timeout", self.timeout);
        b.finish(&self.unknown)
    }
}

/// One `<source>` element. Which attributes are read depends on the device's type, as in
/// libvirt; the others stay in [`SourceSpec::unknown`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SourceSpec {
    /// `mode='bind|connect'` (tcp, udp, unix).
    pub mode: Option<SourceMode>,
    /// The master side of an nmdm pair.
    pub master: Option<String>,
    /// The slave side of an nmdm pair.
    pub slave: Option<String>,
    /// Host name or address (tcp, udp).
    pub host: Option<String>,
    /// Port or service name (tcp, udp).
    pub service: Option<String>,
    /// A file, device, pipe or socket path.
    pub path: Option<String>,
    /// `append='on|off'` (file).
    pub append: Option<bool>,
    /// `tls='yes|no'` (tcp).
    pub tls: Option<bool>,
    /// The channel name (spiceport, dbus).
    pub channel: Option<String>,
    /// `<clipboard copypaste='yes|no'/>` (qemu-vdagent).
    pub clipboard_copypaste: Option<bool>,
    /// `<mouse mode='...'/>` (qemu-vdagent).
    pub mouse_mode: Option<MouseMode>,
    /// `<reconnect>` (tcp, unix).
    pub reconnect: Option<Reconnect>,
    /// What the model does not know (such as `<seclabel>`), kept as written.
    pub unknown: Unknown,
}

impl SourceSpec {
    fn read(el: &Element, kind: ChardevType, ctx: &mut Context) -> Result<Self> {
        use ChardevType::*;
        let mut c = Cursor::new(el);
        let mut s = SourceSpec::default();
        if matches!(kind, Tcp | Udp | Unix) {
            s.mode = c.enum_attr("mode")?;
        }
        match kind {
            File => {
                s.path = c.attr_string("path");
                s.append = c.prop_on_off("append", PropFlags::NONE)?;
            }
            Pty | Dev | Pipe => s.path = c.attr_string("path"),
            Unix => s.path = c.attr_string("path"),
            Udp | Tcp => {
                s.host = c.attr_string("host");
                s.service = c.attr_string("service");
                if kind == Tcp {
                    s.tls = c.prop_yes_no("tls", PropFlags::NONE)?;
                }
            }
            Spiceport | Dbus => s.channel = c.attr_string("channel"),
            Nmdm => {
                s.master = c.attr_string("master");
                s.slave = c.attr_string("slave");
            }
            QemuVdagent => {
                if let Some(e) = c.child("clipboard") {
                    let mut cc = Cursor::new(e);
                    s.clipboard_copypaste = Some(cc.required_yes_no("copypaste")?);
                    cc.finish(ctx);
                }
                if let Some(e) = c.child("mouse") {
                    let mut mc = Cursor::new(e);
                    s.mouse_mode = Some(mc.required_enum_attr("mode")?);
                    mc.finish(ctx);
                }
            }
            Null | Vc | Stdio | Spicevmc => {}
        }
        if matches!(kind, Tcp | Unix) {
            s.reconnect = c.model("reconnect", ctx)?;
        }
        s.unknown = c.finish_known(ctx, &["seclabel"]);
        Ok(s)
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("source");
        b.opt_attr("mode", self.mode)
            .opt_attr("master", self.master.as_deref())
            .opt_attr("slave", self.slave.as_deref())
            .opt_attr("host", self.host.as_deref())
            .opt_attr("service", self.service.as_deref())
            .opt_attr("path", self.path.as_deref())
            .on_off("append", self.append)
            .yes_no("tls", self.tls)
            .opt_attr("channel", self.channel.as_deref());
        if let Some(v) = self.clipboard_copypaste {
            b.child(Element::new("clipboard").with_attr("copypaste", oxvirt_xml::model::yes_no(v)));
        }
        if let Some(m) = self.mouse_mode {
            b.child(Element::new("mouse").with_attr("mode", m.as_xml_str()));
        }
        b.model(self.reconnect.as_ref());
        b.finish(&self.unknown)
    }

    /// Whether the element carries child elements the model keeps untyped (`<seclabel>`).
    fn has_seclabels(&self) -> bool {
        self.unknown.elements().any(|e| e.name == "seclabel")
    }
}

/// A `<log file='...' append='on|off'/>` element.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChardevLog {
    /// The log file.
    pub file: Option<String>,
    /// `append='on|off'`.
    pub append: Option<bool>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl XmlModel for ChardevLog {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let file = c.attr_string("file");
        let append = c.prop_on_off("append", PropFlags::NONE)?;
        Ok(ChardevLog {
            file,
            append,
            unknown: c.finish(ctx),
        })
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("log");
        b.opt_attr("file", self.file.as_deref())
            .on_off("append", self.append);
        b.finish(&self.unknown)
    }
}

/// The host side of a character device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChardevSource {
    /// The `type` attribute of the owning element.
    pub kind: ChardevType,
    /// The `<source>` elements in document order (two only for udp: connect and bind).
    pub sources: Vec<SourceSpec>,
    /// `<protocol type='...'/>`, read for tcp only.
    pub protocol: Option<TcpProtocol>,
    /// `<log>`.
    pub log: Option<ChardevLog>,
}

/// The effective udp endpoints, picked from the `<source>` elements as libvirt does.
#[derive(Debug, Default)]
struct UdpEnds<'a> {
    connect: Option<&'a SourceSpec>,
    bind: Option<&'a SourceSpec>,
}

impl ChardevSource {
    /// A host side of the given type with nothing else set.
    pub fn new(kind: ChardevType) -> Self {
        ChardevSource {
            kind,
            sources: Vec::new(),
            protocol: None,
            log: None,
        }
    }

    /// Reads a `type` attribute as libvirt reads a character device's: absent means `pty`,
    /// an unknown value is `unknown type presented to host for character device: X`.
    pub fn read_type(c: &mut Cursor<'_>) -> Result<ChardevType> {
        match c.attr("type") {
            None => Ok(ChardevType::Pty),
            Some(v) => ChardevType::from_xml_str(v).ok_or_else(|| {
                XmlError::unsupported(format!(
                    "unknown type presented to host for character device: {v}"
                ))
                .at(c.element().position)
            }),
        }
    }

    /// Reads the `<source>`, `<protocol>` and `<log>` children of the element under `c`
    /// for a host side of type `kind`, failing as `virDomainChrSourceDefParseXML` fails.
    pub fn read(kind: ChardevType, c: &mut Cursor<'_>, ctx: &mut Context) -> Result<Self> {
        let el = c.element();
        let err = |m: &str| XmlError::xml(m).at(el.position);
        let source_els = c.children("source");
        if source_els.len() > 1 && kind != ChardevType::Udp {
            return Err(err(
                "only one source element is allowed for character device",
            ));
        }
        if source_els.len() > 2 {
            return Err(err(
                "only two source elements are allowed for character device",
            ));
        }
        let sources = source_els
            .into_iter()
            .map(|e| SourceSpec::read(e, kind, ctx))
            .collect::<Result<Vec<_>>>()?;
        let logs: Vec<&Element> = el.elements().filter(|e| e.name == "log").collect();
        if logs.len() > 1 {
            return Err(err("only one log element is allowed for character device"));
        }
        let log = c.model("log", ctx)?;
        let nprotocols = el.elements().filter(|e| e.name == "protocol").count();
        if nprotocols > 1 {
            return Err(err(
                "only one protocol element is allowed for character device",
            ));
        }
        let mut protocol = None;
        if kind == ChardevType::Tcp {
            if let Some(p) = c.child("protocol") {
                let mut pc = Cursor::new(p);
                if let Some(v) = pc.attr("type") {
                    protocol = Some(TcpProtocol::from_xml_str(v).ok_or_else(|| {
                        XmlError::unsupported(format!("Unknown protocol '{v}'")).at(p.position)
                    })?);
                }
                pc.finish(ctx);
            }
        }
        Ok(ChardevSource {
            kind,
            sources,
            protocol,
            log,
        })
    }

    /// Writes the children in libvirt's order: `<source>`s, `<protocol>`, `<log>`.
    pub fn write(&self, b: &mut Builder) {
        for s in &self.sources {
            b.child(s.to_element());
        }
        if let Some(p) = self.protocol {
            b.child(Element::new("protocol").with_attr("type", p.as_xml_str()));
        }
        b.model(self.log.as_ref());
    }

    /// The first `<source>`, which is the only one for every type but udp.
    pub fn first(&self) -> Option<&SourceSpec> {
        self.sources.first()
    }

    fn udp_ends(&self) -> UdpEnds<'_> {
        let mut ends = UdpEnds::default();
        let mut connect_set = false;
        let mut bind_set = false;
        for s in self.sources.iter().take(2) {
            let has = s.host.is_some() || s.service.is_some();
            match s.mode.unwrap_or(SourceMode::Connect) {
                SourceMode::Connect if !connect_set => {
                    ends.connect = Some(s);
                    connect_set = has;
                }
                SourceMode::Bind if !bind_set => {
                    ends.bind = Some(s);
                    bind_set = has;
                }
                _ => {}
            }
        }
        ends
    }

    /// The checks of `virDomainChrSourceDefValidate`. `path_optional` is true for a
    /// `<channel>` with a `virtio` or `xen` target, whose unix socket path libvirt may
    /// generate.
    pub fn validate(&self, path_optional: bool) -> Result<()> {
        use ChardevType::*;
        let first = self.first();
        let get = |f: fn(&SourceSpec) -> Option<&String>| first.and_then(f);
        let internal = |m: &str| Err(XmlError::internal(m));
        let reconnect_in_bind = |s: Option<&SourceSpec>| {
            s.is_some_and(|s| {
                s.mode == Some(SourceMode::Bind)
                    && s.reconnect.as_ref().is_some_and(|r| r.enabled.is_some())
            })
        };
        match self.kind {
            File | Dev | Pipe if get(|s| s.path.as_ref()).is_none() => {
                internal("Missing source path attribute for char device")
            }
            Nmdm if get(|s| s.master.as_ref()).is_some() != get(|s| s.slave.as_ref()).is_some() => {
                internal("Should define both master and slave path attributes for nmdm device")
            }
            Tcp if get(|s| s.host.as_ref()).is_none() => {
                internal("Missing source host attribute for char device")
            }
            Tcp if get(|s| s.service.as_ref()).is_none() => {
                internal("Missing source service attribute for char device")
            }
            Unix if get(|s| s.path.as_ref()).is_none() && !path_optional => {
                internal("Missing source path attribute for char device")
            }
            Tcp | Unix if reconnect_in_bind(first) => {
                internal("chardev reconnect is possible only for connect mode")
            }
            Udp if self
                .udp_ends()
                .connect
                .and_then(|s| s.service.as_ref())
                .is_none() =>
            {
                internal("Missing source service attribute for char device")
            }
            Spiceport | Dbus => validate_channel_name(get(|s| s.channel.as_ref())),
            _ => Ok(()),
        }
    }

    /// What libvirt's parser and formatter do to the host side of an inactive definition:
    /// see the documentation of the `chardev` module for the list.
    pub fn apply_defaults(&mut self) {
        use ChardevType::*;
        match self.kind {
            // Never read (pty: its path only from live XML) and never written.
            Null | Vc | Stdio | Spicevmc | Pty => self.sources.clear(),
            Dev | File | Pipe => {
                self.sources.truncate(1);
                self.sources
                    .retain(|s| s.path.is_some() || s.append.is_some() || s.has_seclabels());
            }
            Unix => {
                self.sources.truncate(1);
                self.sources.retain(|s| s.path.is_some());
                for s in &mut self.sources {
                    s.mode.get_or_insert(SourceMode::Connect);
                }
            }
            Tcp => {
                self.sources.truncate(1);
                if self.sources.is_empty() {
                    self.sources.push(SourceSpec::default());
                }
                for s in &mut self.sources {
                    s.mode.get_or_insert(SourceMode::Connect);
                }
                self.protocol.get_or_insert(TcpProtocol::Raw);
            }
            Udp => {
                let ends = self.udp_ends();
                let pick = |s: Option<&SourceSpec>, mode| {
                    s.filter(|s| s.host.is_some() || s.service.is_some())
                        .map(|s| SourceSpec {
                            mode: Some(mode),
                            ..s.clone()
                        })
                };
                let bind = pick(ends.bind, SourceMode::Bind);
                let connect = pick(ends.connect, SourceMode::Connect);
                self.sources = bind.into_iter().chain(connect).collect();
            }
            Nmdm => {
                self.sources.truncate(1);
                self.sources
                    .retain(|s| s.master.is_some() || s.slave.is_some());
            }
            Spiceport | Dbus => {
                self.sources.truncate(1);
                self.sources.retain(|s| s.channel.is_some());
            }
            QemuVdagent => {
                self.sources.truncate(1);
                self.sources
                    .retain(|s| s.clipboard_copypaste.is_some() || s.mouse_mode.is_some());
            }
        }
        for s in &mut self.sources {
            if let Some(r) = &s.reconnect {
                match r.enabled {
                    None => s.reconnect = None,
                    Some(false) => {
                        if let Some(r) = &mut s.reconnect {
                            r.timeout = None;
                        }
                    }
                    Some(true) => {}
                }
            }
        }
        if self.log.as_ref().is_some_and(|l| l.file.is_none()) {
            self.log = None;
        }
    }
}

const CHANNEL_NAME_CHARS: &str =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.";

fn validate_channel_name(name: Option<&String>) -> Result<()> {
    match name {
        None => Err(XmlError::unsupported(
            "Missing source channel attribute for char device",
        )),
        Some(n) if !n.chars().all(|ch| CHANNEL_NAME_CHARS.contains(ch)) => Err(
            XmlError::invalid_arg("Invalid character in source channel for char device"),
        ),
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(xml: &str) -> Result<ChardevSource> {
        let el = oxvirt_xml::parse(xml)?;
        let mut c = Cursor::new(&el);
        let kind = ChardevSource::read_type(&mut c)?;
        ChardevSource::read(kind, &mut c, &mut Context::default())
    }

    fn written(s: &ChardevSource) -> String {
        let mut b = Builder::new("x");
        s.write(&mut b);
        oxvirt_xml::to_string(&b.build())
    }

    #[test]
    fn egd_backend_source_is_reusable() {
        let s = read(
            "<backend model='egd' type='tcp'><source mode='connect' host='1.2.3.4' \
                      service='1234'/><protocol type='telnet'/></backend>",
        )
        .unwrap();
        assert_eq!(s.kind, ChardevType::Tcp);
        assert_eq!(s.protocol, Some(TcpProtocol::Telnet));
        assert_eq!(
            written(&s),
            "<x>\n  <source mode='connect' host='1.2.3.4' service='1234'/>\n  \
             <protocol type='telnet'/>\n</x>\n"
        );
    }

    #[test]
    fn parse_errors() {
        let e = read("<s type='tcp'><source host='a' service='1'/><source host='b'/></s>");
        assert_eq!(
            e.unwrap_err().message,
            "only one source element is allowed for character device"
        );
        let e = read("<s type='udp'><source/><source/><source/></s>");
        assert_eq!(
            e.unwrap_err().message,
            "only two source elements are allowed for character device"
        );
        let e = read("<s type='tcp'><source><reconnect enabled='yes'/></source></s>");
        assert_eq!(
            e.unwrap_err().message,
            "Missing required attribute 'timeout' in element 'reconnect'"
        );
        let e = read("<s type='tcp'><protocol type='ssh'/></s>").unwrap_err();
        assert_eq!(
            e.libvirt_message(),
            "unsupported configuration: Unknown protocol 'ssh'"
        );
        let e = read("<s type='bogus'/>").unwrap_err();
        assert_eq!(
            e.message,
            "unknown type presented to host for character device: bogus"
        );
        let e = read("<s type='unix'><source mode='listen'/></s>").unwrap_err();
        assert_eq!(
            e.message,
            "Invalid value for attribute 'mode' in element 'source': 'listen'."
        );
    }

    #[test]
    fn validation() {
        let v = |xml: &str, opt| {
            read(xml)
                .unwrap()
                .validate(opt)
                .map_err(|e| e.libvirt_message())
        };
        assert_eq!(
            v(
                "<s type='tcp'><source mode='bind' service='5678'/></s>",
                false
            ),
            Err("internal error: Missing source host attribute for char device".into())
        );
        assert_eq!(
            v("<s type='tcp'><source mode='bind' host='h'/></s>", false),
            Err("internal error: Missing source service attribute for char device".into())
        );
        assert_eq!(
            v(
                "<s type='tcp'><source mode='bind' host='h' service='1'><reconnect \
               enabled='yes' timeout='10'/></source></s>",
                false
            ),
            Err("internal error: chardev reconnect is possible only for connect mode".into())
        );
        assert_eq!(
            v("<s type='udp'><source mode='connect' host='h'/></s>", false),
            Err("internal error: Missing source service attribute for char device".into())
        );
        assert_eq!(
            v("<s type='unix'><source mode='connect'/></s>", false),
            Err("internal error: Missing source path attribute for char device".into())
        );
        assert_eq!(
            v("<s type='unix'><source mode='connect'/></s>", true),
            Ok(())
        );
        assert_eq!(
            v("<s type='spiceport'><source channel='a b'/></s>", false),
            Err("invalid argument: Invalid character in source channel for char device".into())
        );
    }

    #[test]
    fn udp_sources_are_reordered_bind_first() {
        let mut s = read(
            "<s type='udp'><source mode='connect' service='5678'/>\
                          <source mode='bind' host='localhost'/></s>",
        )
        .unwrap();
        s.apply_defaults();
        assert_eq!(
            written(&s),
            "<x>\n  <source mode='bind' host='localhost'/>\n  \
             <source mode='connect' service='5678'/>\n</x>\n"
        );
        let mut s = read("<s type='udp'><source service='5678'/></s>").unwrap();
        s.apply_defaults();
        assert_eq!(
            written(&s),
            "<x>\n  <source mode='connect' service='5678'/>\n</x>\n"
        );
    }

    #[test]
    fn tcp_and_unix_defaults() {
        let mut s = read("<s type='tcp'><source host='localhost' service='5678'/></s>").unwrap();
        s.apply_defaults();
        assert_eq!(
            written(&s),
            "<x>\n  <source mode='connect' host='localhost' service='5678'/>\n  \
             <protocol type='raw'/>\n</x>\n"
        );
        let mut s = read("<s type='unix'><source mode='connect'/></s>").unwrap();
        s.apply_defaults();
        assert!(s.sources.is_empty());
        let mut s = read("<s type='unix'><source path='/p'><reconnect enabled='no'/></source></s>")
            .unwrap();
        s.apply_defaults();
        assert_eq!(
            written(&s),
            "<x>\n  <source mode='connect' path='/p'>\n    <reconnect enabled='no'/>\n  \
             </source>\n</x>\n"
        );
    }
}
