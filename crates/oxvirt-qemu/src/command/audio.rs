//! Audio backends (`<audio>`): one `-audiodev` each, as libvirt's `qemuBuildAudioCommandLine`
//! writes them (`{"id":"audio1","driver":"spice"}`), before the graphics.
//!
//! Only backends without settings (no `<input>`/`<output>`, no server or path) are built;
//! the others are refused with `VIR_ERR_CONFIG_UNSUPPORTED`.

use oxvirt_domain::Domain;
use oxvirt_xml::{Element, VirError};

use super::{unsupported, Args};

/// The `<audio>` elements of a domain.
fn elements(domain: &Domain) -> impl Iterator<Item = &Element> {
    domain.devices.others.iter().filter(|el| el.name == "audio")
}

/// QEMU's audiodev driver for a libvirt audio type, for the types built here.
fn driver(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "none" => "none",
        "spice" => "spice",
        "sdl" => "sdl",
        "alsa" => "alsa",
        "oss" => "oss",
        "pulseaudio" => "pa",
        "dbus" => "dbus",
        _ => return None,
    })
}

/// The `id` of an `<audio>` element (libvirt numbers them from 1).
fn id_of(el: &Element) -> Result<u32, VirError> {
    match el.attr("id") {
        None => Ok(1),
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| unsupported(format!("audio id '{v}'"))),
    }
}

/// The audiodev a device plays through: `audio<id>` of its own `<audio id>`, else of the
/// first backend (libvirt's default), else `audio1` (the backend libvirt adds).
pub fn audiodev(domain: &Domain, own: Option<u32>) -> String {
    if let Some(id) = own {
        return format!("audio{id}");
    }
    let first = elements(domain).next().and_then(|el| id_of(el).ok());
    format!("audio{}", first.unwrap_or(1))
}

/// Whether the domain has a backend at all (given, or the default one libvirt adds).
pub fn has_backend(domain: &Domain) -> bool {
    elements(domain).next().is_some() || super::graphics::default_audio(domain).is_some()
}

/// Adds one `-audiodev` per `<audio>`, or the default backend when the XML names none.
pub fn build(argv: &mut Args, domain: &Domain) -> Result<(), VirError> {
    let mut any = false;
    for el in elements(domain) {
        any = true;
        let kind = el.attr("type").unwrap_or("none");
        let plain = el.children.is_empty()
            && el
                .attributes
                .iter()
                .all(|a| a.name == "id" || a.name == "type");
        let drv = driver(kind)
            .filter(|_| plain)
            .ok_or_else(|| unsupported(format!("<audio type='{kind}'> settings")))?;
        argv.opt(
            "-audiodev",
            format!(r#"{{"id":"audio{}","driver":"{drv}"}}"#, id_of(el)?),
        );
    }
    if !any {
        if let Some(drv) = super::graphics::default_audio(domain) {
            argv.opt(
                "-audiodev",
                format!(r#"{{"id":"audio1","driver":"{drv}"}}"#),
            );
        }
    }
    Ok(())
}
