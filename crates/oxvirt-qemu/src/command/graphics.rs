//! Graphical consoles: SDL (`-display sdl`), VNC (`-vnc`) and SPICE (`-spice`), as
//! libvirt's `qemuBuildGraphicsCommandLine` writes them.
//!
//! The ports are those of the definition: the driver allocates automatic ones before the
//! command line is built (see `driver::graphics`). A definition that still has an automatic
//! port here (libvirt's `qemuxml2argvtest`) gets the first port of the range, 5900. SPICE
//! TLS (`tls-port`, `x509-dir`, `tls-channel`) is built only when qemu.conf's `spice_tls` is
//! on ([`BuildContext::spice_tls_x509_dir`]); the driver keeps it off, so TLS ports and
//! secure channels are refused there as libvirt refuses them. A password only turns
//! ticketing on (`password=on` for VNC, no `disable-ticketing` for SPICE): the driver sets it
//! over the monitor once QEMU runs. OpenGL and UNIX socket listeners without a path are
//! refused with `VIR_ERR_CONFIG_UNSUPPORTED`.

use oxvirt_domain::devices::graphics::{
    AutoCompression, Graphics, GraphicsType, ImageCompression, ListenType, SharePolicy,
    SpiceChannelMode, SpiceMouseMode, StreamingMode,
};
use oxvirt_domain::Domain;
use oxvirt_xml::VirError;

use super::{unsupported, Args, BuildContext};

/// The first port of the VNC and SPICE ranges (VNC display 0).
pub const FIRST_PORT: i32 = 5900;

/// The first port of the VNC WebSocket range (qemu.conf's `remote_websocket_port_min`).
pub const FIRST_WEBSOCKET_PORT: i32 = 5700;

/// The address a server listens on when the definition names none (qemu.conf's
/// `vnc_listen` and `spice_listen` defaults).
pub const DEFAULT_LISTEN: &str = "127.0.0.1";

/// The variables an SDL window needs (`XAUTHORITY`, `DISPLAY`), added to the environment.
pub fn env(domain: &Domain) -> Vec<(String, String)> {
    let mut env = Vec::new();
    for g in &domain.devices.graphics {
        if g.kind == GraphicsType::Sdl {
            if let Some(x) = &g.xauth {
                env.push(("XAUTHORITY".to_string(), x.clone()));
            }
            if let Some(d) = &g.display {
                env.push(("DISPLAY".to_string(), d.clone()));
            }
        }
    }
    env
}

/// The audio backend libvirt adds when the XML names none: none at all for SDL (QEMU's own
/// default, taken from the environment), SPICE's own for a SPICE server, otherwise the
/// silent `none` driver.
pub fn default_audio(domain: &Domain) -> Option<&'static str> {
    match domain.devices.graphics.first() {
        Some(g) if g.kind == GraphicsType::Sdl => None,
        Some(g) if g.kind == GraphicsType::Spice => Some("spice"),
        _ => Some("none"),
    }
}

/// What a VNC or SPICE server listens on: the address of its first `<listen>` (or the
/// legacy attribute), `None` for `<listen type='none'/>`.
fn listen_address(g: &Graphics) -> Result<Option<String>, VirError> {
    match g.listens.first() {
        Some(l) => match l.kind {
            ListenType::Address => Ok(Some(
                l.address
                    .clone()
                    .or_else(|| g.listen.clone())
                    .unwrap_or_else(|| DEFAULT_LISTEN.to_string()),
            )),
            ListenType::None => Ok(None),
            other => Err(unsupported(format!("graphics listen type '{other}'"))),
        },
        None => Ok(Some(
            g.listen
                .clone()
                .unwrap_or_else(|| DEFAULT_LISTEN.to_string()),
        )),
    }
}

/// The port of a server: the definition's, or the first of the range while still automatic.
fn port_of(port: Option<i32>) -> i32 {
    match port {
        Some(p) if p > 0 => p,
        _ => FIRST_PORT,
    }
}

/// An address as QEMU's `host:display` syntax wants it (IPv6 in brackets).
fn host(addr: &str) -> String {
    if addr.contains(':') {
        format!("[{addr}]")
    } else {
        addr.to_string()
    }
}

/// Where a server listens: an address, nowhere, or a UNIX socket the definition names.
enum Listen {
    /// A TCP address.
    Address(String),
    /// Nowhere (`<listen type='none'/>`).
    Nowhere,
    /// A UNIX socket.
    Socket(String),
}

/// The listener of a VNC or SPICE server (its first `<listen>`, or the legacy attributes).
fn listener(g: &Graphics) -> Result<Listen, VirError> {
    let socket = |path: Option<&String>| {
        path.cloned()
            .map(Listen::Socket)
            .ok_or_else(|| unsupported("graphics socket without a path"))
    };
    match g.listens.first() {
        Some(l) if l.kind == ListenType::Socket => socket(l.socket.as_ref().or(g.socket.as_ref())),
        None if g.socket.is_some() => socket(g.socket.as_ref()),
        _ => Ok(match listen_address(g)? {
            Some(a) => Listen::Address(a),
            None => Listen::Nowhere,
        }),
    }
}

/// `-vnc 127.0.0.1:0,audiodev=audio1` (or `none`, or `vnc=unix:<path>`).
fn vnc(g: &Graphics, domain: &Domain) -> Result<String, VirError> {
    if g.listens.len() > 1 {
        return Err(unsupported("VNC settings"));
    }
    let mut s = match listener(g)? {
        Listen::Address(addr) => {
            let port = port_of(g.port);
            if port < FIRST_PORT {
                return Err(unsupported(format!("VNC port {port}")));
            }
            format!("{}:{}", host(&addr), port - FIRST_PORT)
        }
        Listen::Nowhere => "none".to_string(),
        Listen::Socket(path) => format!("vnc=unix:{}", path.replace(',', ",,")),
    };
    match g.websocket {
        Some(p) if p > 0 => s.push_str(&format!(",websocket={p}")),
        Some(-1) => s.push_str(&format!(",websocket={FIRST_WEBSOCKET_PORT}")),
        _ => {}
    }
    if let Some(policy) = g.share_policy.filter(|p| *p != SharePolicy::Default) {
        s.push_str(&format!(",share={policy}"));
    }
    // The password itself is set over the monitor once QEMU runs.
    if g.passwd.is_some() {
        s.push_str(",password=on");
    }
    if g.power_control == Some(true) {
        s.push_str(",power-control=on");
    }
    if super::audio::has_backend(domain) {
        s.push_str(&format!(
            ",audiodev={}",
            super::audio::audiodev(domain, g.audio_id)
        ));
    }
    Ok(s)
}

/// `-spice port=5900,addr=127.0.0.1,disable-ticketing=on,...,seamless-migration=on`.
fn spice(g: &Graphics, ctx: &BuildContext) -> Result<String, VirError> {
    let tls_port = g.tls_port.filter(|p| *p > 0);
    let x509 = ctx.spice_tls_x509_dir.as_deref();
    if tls_port.is_some() && x509.is_none() {
        return Err(unsupported(
            "spice TLS port set in XML configuration, but TLS is disabled in qemu.conf",
        ));
    }
    let secure = g.default_mode == Some(SpiceChannelMode::Secure)
        || g.spice
            .channels
            .iter()
            .any(|(_, m)| *m == SpiceChannelMode::Secure);
    if secure && x509.is_none() {
        return Err(unsupported(
            "spice secure channels set in XML configuration, but TLS is disabled in qemu.conf",
        ));
    }
    if secure && tls_port.is_none() {
        return Err(unsupported(
            "spice secure channels set in XML configuration, but TLS port is not provided",
        ));
    }
    if g.gl.as_ref().is_some_and(|gl| gl.enable == Some(true)) {
        return Err(unsupported("SPICE OpenGL"));
    }
    if g.listens.len() > 1 {
        return Err(unsupported("SPICE settings"));
    }
    let mut opts: Vec<String> = Vec::new();
    // A server with no port, no automatic port and no listener listens nowhere.
    let portless = g.listens.is_empty()
        && g.listen.is_none()
        && g.port.is_none()
        && g.tls_port.is_none()
        && g.autoport != Some(true);
    let listen = if portless {
        Listen::Nowhere
    } else {
        listener(g)?
    };
    match listen {
        Listen::Address(addr) => {
            match (g.port.filter(|p| *p > 0), tls_port) {
                (None, Some(_)) => {}
                (port, _) => opts.push(format!("port={}", port_of(port))),
            }
            if let Some(p) = tls_port {
                opts.push(format!("tls-port={p}"));
            }
            opts.push(format!("addr={addr}"));
        }
        Listen::Nowhere => opts.push("port=0".to_string()),
        Listen::Socket(path) => {
            opts.push("unix".to_string());
            opts.push(format!("addr={}", path.replace(',', ",,")));
        }
    }
    match g.spice.mouse {
        Some(SpiceMouseMode::Client) => opts.push("agent-mouse=on".to_string()),
        Some(SpiceMouseMode::Server) => opts.push("agent-mouse=off".to_string()),
        None => {}
    }
    // Without a password anyone may connect; a password is set over the monitor.
    if ctx.caps.spice_disable_ticketing && g.passwd.is_none() {
        opts.push("disable-ticketing=on".to_string());
    }
    if let (Some(dir), Some(_)) = (x509, tls_port) {
        opts.push(format!("x509-dir={dir}"));
    }
    match g.default_mode {
        Some(SpiceChannelMode::Insecure) => opts.push("plaintext-channel=default".to_string()),
        Some(SpiceChannelMode::Secure) => opts.push("tls-channel=default".to_string()),
        _ => {}
    }
    for (name, mode) in &g.spice.channels {
        match mode {
            SpiceChannelMode::Insecure => opts.push(format!("plaintext-channel={name}")),
            SpiceChannelMode::Secure => opts.push(format!("tls-channel={name}")),
            SpiceChannelMode::Any => {}
        }
    }
    let s = &g.spice;
    if let Some(image) = s.image {
        let v = match image {
            ImageCompression::AutoGlz => "auto_glz",
            ImageCompression::AutoLz => "auto_lz",
            ImageCompression::Quic => "quic",
            ImageCompression::Glz => "glz",
            ImageCompression::Lz => "lz",
            ImageCompression::Off => "off",
        };
        opts.push(format!("image-compression={v}"));
    }
    let auto = |c: AutoCompression| match c {
        AutoCompression::Auto => "auto",
        AutoCompression::Never => "never",
        AutoCompression::Always => "always",
    };
    if let Some(j) = s.jpeg {
        opts.push(format!("jpeg-wan-compression={}", auto(j)));
    }
    if let Some(z) = s.zlib {
        opts.push(format!("zlib-glz-wan-compression={}", auto(z)));
    }
    if let Some(p) = s.playback {
        opts.push(format!(
            "playback-compression={}",
            if p { "on" } else { "off" }
        ));
    }
    if let Some(m) = s.streaming {
        let v = match m {
            StreamingMode::Filter => "filter",
            StreamingMode::All => "all",
            StreamingMode::Off => "off",
        };
        opts.push(format!("streaming-video={v}"));
    }
    if s.clipboard == Some(false) {
        opts.push("disable-copy-paste=on".to_string());
    }
    if s.filetransfer == Some(false) {
        opts.push("disable-agent-file-xfer=on".to_string());
    }
    opts.push("seamless-migration=on".to_string());
    Ok(opts.join(","))
}

/// Adds the graphics options.
pub fn build(argv: &mut Args, domain: &Domain, ctx: &BuildContext) -> Result<(), VirError> {
    for g in &domain.devices.graphics {
        match g.kind {
            GraphicsType::Sdl => {
                if g.fullscreen == Some(true) {
                    argv.push("-full-screen");
                }
                argv.opt("-display", "sdl");
            }
            GraphicsType::Vnc => argv.opt("-vnc", vnc(g, domain)?),
            GraphicsType::Spice => argv.opt("-spice", spice(g, ctx)?),
            other => return Err(unsupported(format!("graphics type '{other}'"))),
        }
        if let (GraphicsType::Vnc | GraphicsType::Spice, Some(keymap)) = (g.kind, &g.keymap) {
            argv.opt("-k", keymap.clone());
        }
    }
    Ok(())
}
