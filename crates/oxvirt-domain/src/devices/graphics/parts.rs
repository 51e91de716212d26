//! The enumerations and child elements of `<graphics>`: `<listen>`, SPICE's `<channel>` and
//! compression settings, `<gl>`.

use oxvirt_xml::model::{on_off, yes_no, XmlEnum};
use oxvirt_xml::{Builder, Context, Cursor, Element, Result, Unknown, XmlError, XmlModel};

oxvirt_xml::xml_enum! {
    /// The kind of graphical console.
    pub enum GraphicsType {
        /// A local SDL window.
        Sdl = "sdl",
        /// A VNC server.
        Vnc = "vnc",
        /// An RDP server.
        Rdp = "rdp",
        /// The host's desktop.
        Desktop = "desktop",
        /// A SPICE server.
        Spice = "spice",
        /// Headless OpenGL rendering.
        EglHeadless = "egl-headless",
        /// A D-Bus display.
        Dbus = "dbus",
    }
}

oxvirt_xml::xml_enum! {
    /// Where a server listens (`<listen type='...'>`).
    pub enum ListenType {
        /// Nowhere.
        None = "none",
        /// An IP address.
        Address = "address",
        /// The address of a libvirt network.
        Network = "network",
        /// A UNIX socket.
        Socket = "socket",
    }
}

oxvirt_xml::xml_enum! {
    /// What happens to connected clients when the password changes.
    pub enum AuthConnected {
        /// Fail the change.
        Fail = "fail",
        /// Disconnect them.
        Disconnect = "disconnect",
        /// Keep them.
        Keep = "keep",
    }
}

oxvirt_xml::xml_enum! {
    /// VNC's sharing policy.
    pub enum SharePolicy {
        /// The hypervisor's default (not written back).
        Default = "default",
        /// Allow exclusive access.
        AllowExclusive = "allow-exclusive",
        /// Force shared access.
        ForceShared = "force-shared",
        /// Ignore the client's request.
        Ignore = "ignore",
    }
}

oxvirt_xml::xml_enum! {
    /// A SPICE channel.
    pub enum SpiceChannelName {
        /// `main`.
        Main = "main",
        /// `display`.
        Display = "display",
        /// `inputs`.
        Inputs = "inputs",
        /// `cursor`.
        Cursor = "cursor",
        /// `playback`.
        Playback = "playback",
        /// `record`.
        Record = "record",
        /// `smartcard`.
        Smartcard = "smartcard",
        /// `usbredir`.
        Usbredir = "usbredir",
    }
}

oxvirt_xml::xml_enum! {
    /// Whether a SPICE channel uses TLS.
    pub enum SpiceChannelMode {
        /// Either.
        Any = "any",
        /// TLS only.
        Secure = "secure",
        /// Plain only.
        Insecure = "insecure",
    }
}

oxvirt_xml::xml_enum! {
    /// SPICE image compression.
    pub enum ImageCompression {
        /// `auto_glz`.
        AutoGlz = "auto_glz",
        /// `auto_lz`.
        AutoLz = "auto_lz",
        /// `quic`.
        Quic = "quic",
        /// `glz`.
        Glz = "glz",
        /// `lz`.
        Lz = "lz",
        /// `off`.
        Off = "off",
    }
}

oxvirt_xml::xml_enum! {
    /// SPICE JPEG or zlib compression.
    pub enum AutoCompression {
        /// `auto`.
        Auto = "auto",
        /// `never`.
        Never = "never",
        /// `always`.
        Always = "always",
    }
}

oxvirt_xml::xml_enum! {
    /// SPICE video streaming detection.
    pub enum StreamingMode {
        /// `filter`.
        Filter = "filter",
        /// `all`.
        All = "all",
        /// `off`.
        Off = "off",
    }
}

oxvirt_xml::xml_enum! {
    /// SPICE mouse mode.
    pub enum SpiceMouseMode {
        /// `server`.
        Server = "server",
        /// `client`.
        Client = "client",
    }
}

/// One `<listen>` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphicsListen {
    /// `type`.
    pub kind: ListenType,
    /// `address`.
    pub address: Option<String>,
    /// `network` (type `network` only).
    pub network: Option<String>,
    /// `socket` (type `socket` only).
    pub socket: Option<String>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl GraphicsListen {
    /// A listen element of the given type with nothing else set.
    pub fn new(kind: ListenType) -> Self {
        GraphicsListen {
            kind,
            address: None,
            network: None,
            socket: None,
            unknown: Unknown::default(),
        }
    }

    /// Reads `<listen>`; `parent` is the `<graphics>` element for the first listen, whose
    /// legacy `listen` and `socket` attributes must agree with it.
    pub fn read(el: &Element, parent: Option<&Element>, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let kind: ListenType = c.required_enum_attr("type")?;
        let address = c.attr_string("address");
        let network = c.attr_string("network");
        let socket = c.attr_string("socket");
        let address_compat = parent.and_then(|p| p.attr("listen"));
        let socket_compat = parent.and_then(|p| p.attr("socket"));
        if kind == ListenType::Address {
            if let (Some(a), Some(compat)) = (&address, address_compat) {
                if a != compat {
                    return Err(XmlError::unsupported(format!(
                        "graphics 'listen' attribute '{compat}' must match 'address' attribute \
                         of first listen element (found '{a}')"
                    ))
                    .at(el.position));
                }
            }
        }
        if kind == ListenType::Socket {
            if let (Some(s), Some(compat)) = (&socket, socket_compat) {
                if s != compat {
                    return Err(XmlError::unsupported(format!(
                        "graphics 'socket' attribute '{compat}' must match 'socket' attribute \
                         of first listen element (found '{s}')"
                    ))
                    .at(el.position));
                }
            }
        }
        if network.as_deref().is_some_and(|n| !n.is_empty()) && kind != ListenType::Network {
            return Err(c.error("'network' attribute is valid only for listen type 'network'"));
        }
        if socket.as_deref().is_some_and(|s| !s.is_empty()) && kind != ListenType::Socket {
            return Err(c.error("'socket' attribute is valid only for listen type 'socket'"));
        }
        Ok(GraphicsListen {
            kind,
            address,
            network,
            socket,
            unknown: c.finish(ctx),
        })
    }
}

impl XmlModel for GraphicsListen {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        GraphicsListen::read(el, None, ctx)
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("listen");
        b.attr("type", self.kind)
            .opt_attr("address", self.address.as_deref())
            .opt_attr("network", self.network.as_deref())
            .opt_attr("socket", self.socket.as_deref());
        b.finish(&self.unknown)
    }
}

/// `<gl enable='yes|no' rendernode='...'/>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GraphicsGl {
    /// `enable` (required except for egl-headless, which reads only the render node).
    pub enable: Option<bool>,
    /// The host render node.
    pub rendernode: Option<String>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl GraphicsGl {
    /// Reads `<gl>`; `enable` is required unless `rendernode_only`.
    pub fn read(el: &Element, rendernode_only: bool, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let rendernode = c.attr_string("rendernode");
        let enable = if rendernode_only {
            None
        } else {
            Some(c.required_yes_no("enable")?)
        };
        Ok(GraphicsGl {
            enable,
            rendernode,
            unknown: c.finish(ctx),
        })
    }

    /// The element.
    pub fn to_element(&self) -> Element {
        let mut b = Builder::new("gl");
        b.yes_no("enable", self.enable)
            .opt_attr("rendernode", self.rendernode.as_deref());
        b.finish(&self.unknown)
    }
}

/// The SPICE-only children of `<graphics>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SpiceSettings {
    /// `<channel name= mode=/>` elements.
    pub channels: Vec<(SpiceChannelName, SpiceChannelMode)>,
    /// `<image compression=/>`.
    pub image: Option<ImageCompression>,
    /// `<jpeg compression=/>`.
    pub jpeg: Option<AutoCompression>,
    /// `<zlib compression=/>`.
    pub zlib: Option<AutoCompression>,
    /// `<playback compression='on|off'/>`.
    pub playback: Option<bool>,
    /// `<streaming mode=/>`.
    pub streaming: Option<StreamingMode>,
    /// `<mouse mode=/>`.
    pub mouse: Option<SpiceMouseMode>,
    /// `<clipboard copypaste='yes|no'/>`.
    pub clipboard: Option<bool>,
    /// `<filetransfer enable='yes|no'/>`.
    pub filetransfer: Option<bool>,
}

fn leaf<T>(
    c: &mut Cursor<'_>,
    ctx: &mut Context,
    name: &str,
    read: impl FnOnce(&mut Cursor<'_>) -> Result<T>,
) -> Result<Option<T>> {
    let Some(el) = c.child(name) else {
        return Ok(None);
    };
    let mut lc = Cursor::new(el);
    let v = read(&mut lc)?;
    lc.finish(ctx);
    Ok(Some(v))
}

impl SpiceSettings {
    /// Reads the SPICE children from the `<graphics>` cursor.
    pub fn read(c: &mut Cursor<'_>, ctx: &mut Context) -> Result<Self> {
        let mut s = SpiceSettings::default();
        for el in c.children("channel") {
            let mut cc = Cursor::new(el);
            let name = cc.required_enum_attr("name")?;
            let mode = cc.required_enum_attr("mode")?;
            cc.finish(ctx);
            s.channels.push((name, mode));
        }
        s.image = leaf(c, ctx, "image", |c| c.required_enum_attr("compression"))?;
        s.jpeg = leaf(c, ctx, "jpeg", |c| c.required_enum_attr("compression"))?;
        s.zlib = leaf(c, ctx, "zlib", |c| c.required_enum_attr("compression"))?;
        s.playback = leaf(c, ctx, "playback", |c| c.required_on_off("compression"))?;
        s.streaming = leaf(c, ctx, "streaming", |c| c.required_enum_attr("mode"))?;
        s.clipboard = leaf(c, ctx, "clipboard", |c| c.required_yes_no("copypaste"))?;
        s.filetransfer = leaf(c, ctx, "filetransfer", |c| c.required_yes_no("enable"))?;
        s.mouse = leaf(c, ctx, "mouse", |c| c.required_enum_attr("mode"))?;
        Ok(s)
    }

    /// Writes the children before `<gl>`, in libvirt's order.
    pub fn write(&self, b: &mut Builder) {
        let one = |name: &str, attr: &str, v: &str| Element::new(name).with_attr(attr, v);
        for (name, mode) in &self.channels {
            b.child(
                Element::new("channel")
                    .with_attr("name", name.as_xml_str())
                    .with_attr("mode", mode.as_xml_str()),
            );
        }
        let leaves = [
            ("image", "compression", self.image.map(|v| v.as_xml_str())),
            ("jpeg", "compression", self.jpeg.map(|v| v.as_xml_str())),
            ("zlib", "compression", self.zlib.map(|v| v.as_xml_str())),
            ("playback", "compression", self.playback.map(on_off)),
            ("streaming", "mode", self.streaming.map(|v| v.as_xml_str())),
            ("mouse", "mode", self.mouse.map(|v| v.as_xml_str())),
            ("clipboard", "copypaste", self.clipboard.map(yes_no)),
            ("filetransfer", "enable", self.filetransfer.map(yes_no)),
        ];
        for (name, attr, v) in leaves {
            if let Some(v) = v {
                b.child(one(name, attr, v));
            }
        }
    }

    /// libvirt keeps one mode per channel name (the last given) and writes the channels
    /// in the order of its enum, leaving out mode `any`.
    pub fn apply_defaults(&mut self) {
        let all = [
            SpiceChannelName::Main,
            SpiceChannelName::Display,
            SpiceChannelName::Inputs,
            SpiceChannelName::Cursor,
            SpiceChannelName::Playback,
            SpiceChannelName::Record,
            SpiceChannelName::Smartcard,
            SpiceChannelName::Usbredir,
        ];
        let mut out = Vec::new();
        for name in all {
            let mode = self
                .channels
                .iter()
                .rev()
                .find(|(n, _)| *n == name)
                .map(|c| c.1);
            if let Some(m) = mode.filter(|m| *m != SpiceChannelMode::Any) {
                out.push((name, m));
            }
        }
        self.channels = out;
    }
}
