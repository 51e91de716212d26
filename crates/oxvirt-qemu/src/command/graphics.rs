//! Graphical consoles: SDL (`-display sdl`) and a plain VNC server (`-vnc`).

use oxvirt_domain::devices::graphics::GraphicsType;
use oxvirt_domain::Domain;
use oxvirt_xml::VirError;

use super::{unsupported, Args};

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
/// default, taken from the environment), otherwise the silent `none` driver.
pub fn default_audio(domain: &Domain) -> Option<&'static str> {
    match domain.devices.graphics.first() {
        Some(g) if g.kind == GraphicsType::Sdl => None,
        _ => Some("none"),
    }
}

/// Adds the graphics options.
pub fn build(argv: &mut Args, domain: &Domain) -> Result<(), VirError> {
    for g in &domain.devices.graphics {
        match g.kind {
            GraphicsType::Sdl => {
                if g.fullscreen == Some(true) {
                    argv.push("-full-screen");
                }
                argv.opt("-display", "sdl");
            }
            GraphicsType::Vnc => {
                let plain = g.port.is_none_or(|p| p == -1)
                    && g.listen.is_none()
                    && g.socket.is_none()
                    && g.websocket.is_none()
                    && g.passwd.is_none()
                    && g.keymap.is_none()
                    && g.share_policy.is_none();
                if !plain {
                    return Err(unsupported("VNC settings"));
                }
                argv.opt("-vnc", "127.0.0.1:0,audiodev=audio1");
            }
            other => return Err(unsupported(format!("graphics type '{other}'"))),
        }
    }
    Ok(())
}
