//! The driver's files: definitions (`STATE/network/NAME.xml`), autostart marks
//! (`STATE/network/autostart/NAME`), and for each running network its live definition and
//! ports (`RUNTIME/network/NAME.xml`, `NAME.ports`). Every write is atomic.

use std::path::Path;

use oxvirt_domain::fsio::{make_dir, remove, write_atomic};
use oxvirt_xml::types::Uuid;
use oxvirt_xml::VirError;

use super::ports::Port;
use super::{NetObj, NetworkConfig, State};
use crate::model::Network;

/// A line in the daemon's log.
pub(crate) fn log(message: &str) {
    eprintln!("oxvirtd: {message}");
}

/// Whether `name` can be a file name in our directories: libvirt refuses `/` in network
/// names at parse time; this also keeps `.`/`..` and empty names out.
fn safe(name: &str) -> Result<(), VirError> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') || name.contains('\0') {
        return Err(super::err(
            oxvirt_xml::ErrorCode::XmlError,
            format!("name {name} cannot contain '/'"),
        ));
    }
    Ok(())
}

/// Loads every definition, autostart mark and running network.
pub(crate) fn load(config: &NetworkConfig) -> Result<State, VirError> {
    make_dir(&config.state_dir)?;
    make_dir(&config.state_dir.join("autostart"))?;
    make_dir(&config.runtime_dir)?;
    let mut state = State::default();
    for (path, text) in xml_files(&config.state_dir) {
        match Network::parse(&text) {
            Ok(def) => {
                let autostart = config.state_dir.join("autostart").join(&def.name).exists();
                state.nets.insert(
                    def.name.clone(),
                    NetObj {
                        def,
                        live: None,
                        persistent: true,
                        autostart,
                        ports: Vec::new(),
                    },
                );
            }
            Err(e) => log(&format!("skipping {}: {}", path.display(), e.message)),
        }
    }
    for (path, text) in xml_files(&config.runtime_dir) {
        let live = match Network::parse(&text) {
            Ok(live) => live,
            Err(e) => {
                log(&format!("skipping {}: {}", path.display(), e.message));
                continue;
            }
        };
        let ports = load_ports(&config.runtime_dir.join(format!("{}.ports", live.name)));
        let obj = state
            .nets
            .entry(live.name.clone())
            .or_insert_with(|| NetObj {
                def: live.clone(),
                live: None,
                persistent: false,
                autostart: false,
                ports: Vec::new(),
            });
        obj.live = Some(live);
        obj.ports = ports;
    }
    Ok(state)
}

/// The `*.xml` files of a directory with their text, by name.
fn xml_files(dir: &Path) -> Vec<(std::path::PathBuf, String)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "xml") {
            match std::fs::read_to_string(&path) {
                Ok(text) => out.push((path, text)),
                Err(e) => log(&format!("cannot read {}: {e}", path.display())),
            }
        }
    }
    out.sort();
    out
}

/// Writes a definition.
pub(crate) fn save_config(config: &NetworkConfig, def: &Network) -> Result<(), VirError> {
    safe(&def.name)?;
    make_dir(&config.state_dir)?;
    write_atomic(
        &config.state_dir.join(format!("{}.xml", def.name)),
        &def.to_xml(),
    )
}

/// Removes a definition and its autostart mark.
pub(crate) fn remove_config(config: &NetworkConfig, name: &str) -> Result<(), VirError> {
    safe(name)?;
    remove(&config.state_dir.join("autostart").join(name))?;
    remove(&config.state_dir.join(format!("{name}.xml")))
}

/// Sets or clears the autostart mark.
pub(crate) fn set_autostart(config: &NetworkConfig, name: &str, on: bool) -> Result<(), VirError> {
    safe(name)?;
    let mark = config.state_dir.join("autostart").join(name);
    if on {
        make_dir(&config.state_dir.join("autostart"))?;
        write_atomic(&mark, "")
    } else {
        remove(&mark)
    }
}

/// Writes a running network's live definition and ports.
pub(crate) fn save_live(
    config: &NetworkConfig,
    live: &Network,
    ports: &[Port],
) -> Result<(), VirError> {
    safe(&live.name)?;
    make_dir(&config.runtime_dir)?;
    let text: String = ports.iter().map(Port::line).collect();
    write_atomic(
        &config.runtime_dir.join(format!("{}.ports", live.name)),
        &text,
    )?;
    write_atomic(
        &config.runtime_dir.join(format!("{}.xml", live.name)),
        &live.to_xml(),
    )
}

/// Removes a stopped network's runtime files (its lease file stays, as libvirt's does).
pub(crate) fn remove_live(config: &NetworkConfig, name: &str) {
    if safe(name).is_err() {
        return;
    }
    for suffix in ["xml", "ports"] {
        if let Err(e) = remove(&config.runtime_dir.join(format!("{name}.{suffix}"))) {
            log(&e.message);
        }
    }
}

fn load_ports(path: &Path) -> Vec<Port> {
    std::fs::read_to_string(path)
        .map(|text| text.lines().filter_map(Port::from_line).collect())
        .unwrap_or_default()
}

/// A port id for a new port.
pub(crate) fn new_uuid() -> Result<Uuid, VirError> {
    Uuid::new_v4()
        .map_err(|e| oxvirt_domain::fsio::system_error("cannot generate a UUID".into(), &e))
}
