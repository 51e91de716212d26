//! Graphical consoles (`<graphics>`).
//!
//! Parsing keeps what was written, reading for each type only the attributes libvirt reads
//! for it (the others stay in [`Graphics::unknown`]), and fails where libvirt's parser
//! fails (for instance when the legacy `listen` or `socket` attribute disagrees with the
//! first `<listen>`). [`Graphics::apply_defaults`] then does what libvirt does to an
//! inactive definition: it builds the `<listen>` element from the legacy attributes, writes
//! the legacy `listen` attribute from the first address listen, turns an automatic VNC port
//! into `port='-1' autoport='yes'`, turns a portless SPICE server into `<listen type='none'/>`
//! and drops what libvirt does not write back.

pub mod parts;

use oxvirt_xml::model::{str_to_long_i, PropFlags};
use oxvirt_xml::{Builder, Context, Cursor, Element, Result, Unknown, XmlError, XmlModel};

use crate::util;

pub use parts::{
    AuthConnected, AutoCompression, GraphicsGl, GraphicsListen, GraphicsType, ImageCompression,
    ListenType, SharePolicy, SpiceChannelMode, SpiceChannelName, SpiceMouseMode, SpiceSettings,
    StreamingMode,
};

/// A graphical console (`<graphics>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Graphics {
    /// `type`.
    pub kind: GraphicsType,
    /// The legacy `socket` attribute (VNC).
    pub socket: Option<String>,
    /// The X display (sdl, desktop).
    pub display: Option<String>,
    /// The X authority file (sdl).
    pub xauth: Option<String>,
    /// `fullscreen='yes|no'` (sdl, desktop).
    pub fullscreen: Option<bool>,
    /// The TCP port (vnc, rdp, spice); `-1` means automatic.
    pub port: Option<i32>,
    /// The TLS port (spice).
    pub tls_port: Option<i32>,
    /// `autoport='yes|no'` (vnc, rdp, spice).
    pub autoport: Option<bool>,
    /// The WebSocket port (vnc); `-1` means automatic.
    pub websocket: Option<i32>,
    /// `replaceUser='yes'` (rdp).
    pub replace_user: Option<bool>,
    /// `multiUser='yes'` (rdp).
    pub multi_user: Option<bool>,
    /// The legacy `listen` attribute: the first listen address.
    pub listen: Option<String>,
    /// `p2p='yes|no'` (dbus).
    pub p2p: Option<bool>,
    /// The bus address (dbus).
    pub address: Option<String>,
    /// The keyboard layout (vnc, spice).
    pub keymap: Option<String>,
    /// `defaultMode` of SPICE channels.
    pub default_mode: Option<SpiceChannelMode>,
    /// `sharePolicy` (vnc).
    pub share_policy: Option<SharePolicy>,
    /// `powerControl='yes|no'` (vnc).
    pub power_control: Option<bool>,
    /// The password (vnc, spice).
    pub passwd: Option<String>,
    /// `passwdValidTo`, `YYYY-MM-DDTHH:MM:SS` (read only with a password).
    pub passwd_valid_to: Option<String>,
    /// `connected` (read only with a password).
    pub connected: Option<AuthConnected>,
    /// `<listen>` elements (vnc, rdp, spice).
    pub listens: Vec<GraphicsListen>,
    /// SPICE's channels and compression settings.
    pub spice: SpiceSettings,
    /// `<gl>` (sdl, spice, egl-headless, dbus).
    pub gl: Option<GraphicsGl>,
    /// `<audio id='N'/>` (vnc, dbus).
    pub audio_id: Option<u32>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl Graphics {
    /// A console of the given type with nothing else set.
    pub fn new(kind: GraphicsType) -> Self {
        Graphics {
            kind,
            socket: None,
            display: None,
            xauth: None,
            fullscreen: None,
            port: None,
            tls_port: None,
            autoport: None,
            websocket: None,
            replace_user: None,
            multi_user: None,
            listen: None,
            p2p: None,
            address: None,
            keymap: None,
            default_mode: None,
            share_policy: None,
            power_control: None,
            passwd: None,
            passwd_valid_to: None,
            connected: None,
            listens: Vec::new(),
            spice: SpiceSettings::default(),
            gl: None,
            audio_id: None,
            unknown: Unknown::default(),
        }
    }

    fn has_listens(&self) -> bool {
        matches!(
            self.kind,
            GraphicsType::Vnc | GraphicsType::Rdp | GraphicsType::Spice
        )
    }
}

/// `virStrToLong_i` with libvirt's message for a VNC or RDP port.
fn legacy_port(c: &mut Cursor<'_>, what: &str) -> Result<Option<i32>> {
    let Some(v) = c.attr("port") else {
        return Ok(None);
    };
    match str_to_long_i(v, 10) {
        Some(p) => Ok(Some(p)),
        None => {
            Err(XmlError::internal(format!("cannot parse {what} port {v}"))
                .at(c.element().position))
        }
    }
}

/// The fields of `YYYY-MM-DDTHH:MM:SS` as libvirt reads them, if the text has that form.
fn parse_valid_to(v: &str) -> Option<[i32; 6]> {
    let mut out = [0; 6];
    let mut rest = v;
    for (i, sep) in ['-', '-', 'T', ':', ':', '\0'].into_iter().enumerate() {
        let t = rest.trim_start();
        let sign = usize::from(t.starts_with(['-', '+']));
        let digits = t[sign..].bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        out[i] = str_to_long_i(&t[..sign + digits], 10)?;
        rest = &t[sign + digits..];
        if sep == '\0' {
            return rest.is_empty().then_some(out);
        }
        rest = rest.strip_prefix(sep)?;
    }
    None
}

fn read_auth(g: &mut Graphics, c: &mut Cursor<'_>) -> Result<()> {
    g.passwd = c.attr_string("passwd");
    if g.passwd.is_none() {
        return Ok(());
    }
    if let Some(v) = c.attr_string("passwdValidTo") {
        if parse_valid_to(&v).is_none() {
            return Err(XmlError::internal(format!(
                "cannot parse password validity time '{v}', expect YYYY-MM-DDTHH:MM:SS"
            ))
            .at(c.element().position));
        }
        g.passwd_valid_to = Some(v);
    }
    if let Some(v) = c.attr("connected") {
        let Some(action) = <AuthConnected as oxvirt_xml::XmlEnum>::from_xml_str(v) else {
            return Err(
                XmlError::unsupported(format!("unknown connected value {v}"))
                    .at(c.element().position),
            );
        };
        if g.kind == GraphicsType::Vnc && action != AuthConnected::Keep {
            return Err(XmlError::unsupported("VNC supports connected='keep' only")
                .at(c.element().position));
        }
        g.connected = Some(action);
    }
    Ok(())
}

fn read_audio(c: &mut Cursor<'_>, ctx: &mut Context) -> Result<Option<u32>> {
    let Some(el) = c.child("audio") else {
        return Ok(None);
    };
    let mut ac = Cursor::new(el);
    let id = ac.required_uint("id", 10, PropFlags::NONZERO)?;
    ac.finish(ctx);
    Ok(Some(id))
}

impl XmlModel for Graphics {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        use GraphicsType::*;
        let mut c = Cursor::new(el);
        let mut g = Graphics::new(c.required_enum_attr("type")?);
        if g.has_listens() {
            for (i, l) in c.children("listen").into_iter().enumerate() {
                g.listens
                    .push(GraphicsListen::read(l, (i == 0).then_some(el), ctx)?);
            }
            g.listen = c.attr_string("listen");
            g.socket = c.attr_string("socket");
        }
        match g.kind {
            Vnc => {
                g.port = legacy_port(&mut c, "vnc")?;
                g.autoport = util::lenient_yes_no(&mut c, "autoport");
                g.websocket = c.prop_int("websocket", 10, PropFlags::NONE)?;
                g.share_policy = c.enum_attr("sharePolicy")?;
                g.power_control = c.prop_yes_no("powerControl", PropFlags::NONE)?;
                g.keymap = c.attr_string("keymap");
                g.audio_id = read_audio(&mut c, ctx)?;
                read_auth(&mut g, &mut c)?;
            }
            Sdl => {
                g.fullscreen = c.prop_yes_no("fullscreen", PropFlags::NONE)?;
                g.xauth = c.attr_string("xauth");
                g.display = c.attr_string("display");
                if let Some(gl) = c.child("gl") {
                    g.gl = Some(GraphicsGl::read(gl, false, ctx)?);
                }
            }
            Rdp => {
                g.port = legacy_port(&mut c, "rdp")?;
                g.autoport = util::lenient_yes_no(&mut c, "autoport");
                g.replace_user = util::lenient_yes_no(&mut c, "replaceUser");
                g.multi_user = util::lenient_yes_no(&mut c, "multiUser");
            }
            Desktop => {
                g.fullscreen = c.prop_yes_no("fullscreen", PropFlags::NONE)?;
                g.display = c.attr_string("display");
            }
            Spice => {
                g.port = c.prop_int("port", 10, PropFlags::NONE)?;
                g.tls_port = c.prop_int("tlsPort", 10, PropFlags::NONE)?;
                g.autoport = c.prop_yes_no("autoport", PropFlags::NONE)?;
                g.default_mode = c.enum_attr("defaultMode")?;
                g.keymap = c.attr_string("keymap");
                read_auth(&mut g, &mut c)?;
                g.spice = SpiceSettings::read(&mut c, ctx)?;
                if let Some(gl) = c.child("gl") {
                    g.gl = Some(GraphicsGl::read(gl, false, ctx)?);
                }
            }
            EglHeadless => {
                if let Some(gl) = c.child("gl") {
                    g.gl = Some(GraphicsGl::read(gl, true, ctx)?);
                }
            }
            Dbus => {
                g.p2p = c.prop_yes_no("p2p", PropFlags::NONE)?;
                g.address = c.attr_string("address");
                if let Some(gl) = c.child("gl") {
                    g.gl = Some(GraphicsGl::read(gl, false, ctx)?);
                }
                g.audio_id = read_audio(&mut c, ctx)?;
            }
        }
        g.unknown = c.finish_known(ctx, &["listen"]);
        Ok(g)
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("graphics");
        b.attr("type", self.kind)
            .opt_attr("socket", self.socket.as_deref())
            .opt_attr("display", self.display.as_deref())
            .opt_attr("xauth", self.xauth.as_deref())
            .yes_no("fullscreen", self.fullscreen)
            .opt_attr("port", self.port)
            .opt_attr("tlsPort", self.tls_port)
            .yes_no("autoport", self.autoport)
            .opt_attr("websocket", self.websocket)
            .yes_no("replaceUser", self.replace_user)
            .yes_no("multiUser", self.multi_user)
            .opt_attr("listen", self.listen.as_deref())
            .yes_no("p2p", self.p2p)
            .opt_attr("address", self.address.as_deref())
            .opt_attr("keymap", self.keymap.as_deref())
            .opt_attr("defaultMode", self.default_mode)
            .opt_attr("sharePolicy", self.share_policy)
            .yes_no("powerControl", self.power_control)
            .opt_attr("passwd", self.passwd.as_deref())
            .opt_attr("passwdValidTo", self.passwd_valid_to.as_deref())
            .opt_attr("connected", self.connected);
        b.models(&self.listens);
        self.spice.write(&mut b);
        if let Some(gl) = &self.gl {
            b.child(gl.to_element());
        }
        if let Some(id) = self.audio_id {
            b.child(Element::new("audio").with_attr("id", id.to_string()));
        }
        b.finish(&self.unknown)
    }
}

mod defaults;

#[cfg(test)]
mod tests;
