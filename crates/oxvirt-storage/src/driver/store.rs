//! The driver's files: definitions (`STATE/storage/NAME.xml`), autostart marks
//! (`STATE/storage/autostart/NAME`), and the definition of each running pool
//! (`RUNTIME/storage/NAME.xml`). Every write is atomic (`oxvirt_domain::fsio`).

use std::path::{Path, PathBuf};

use oxvirt_domain::fsio::{make_dir, remove, write_atomic};
use oxvirt_xml::VirError;

use super::StorageConfig;
use crate::model::Pool;

/// Whether `name` can be a file name in our directories (libvirt's pool names never hold
/// `/`; this keeps `.`, `..` and the empty name out too).
fn safe(name: &str) -> Result<(), VirError> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') || name.contains('\0') {
        return Err(super::err(
            oxvirt_xml::ErrorCode::XmlError,
            format!("name {name} cannot contain '/'"),
        ));
    }
    Ok(())
}

/// The parsed `*.xml` files of a directory, by name; unreadable ones are skipped.
pub(crate) fn load_dir(dir: &Path) -> Vec<(PathBuf, Result<Pool, VirError>)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "xml") {
            if let Ok(text) = std::fs::read_to_string(&path) {
                out.push((path, Pool::parse(&text)));
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Makes the driver's directories.
pub(crate) fn make_dirs(config: &StorageConfig) -> Result<(), VirError> {
    make_dir(&config.state_dir)?;
    make_dir(&config.state_dir.join("autostart"))?;
    make_dir(&config.runtime_dir)
}

/// Writes a definition.
pub(crate) fn save_config(config: &StorageConfig, def: &Pool) -> Result<(), VirError> {
    safe(&def.name)?;
    make_dir(&config.state_dir)?;
    write_atomic(
        &config.state_dir.join(format!("{}.xml", def.name)),
        &def.to_xml(),
    )
}

/// Removes a definition and its autostart mark.
pub(crate) fn remove_config(config: &StorageConfig, name: &str) -> Result<(), VirError> {
    safe(name)?;
    remove(&config.state_dir.join("autostart").join(name))?;
    remove(&config.state_dir.join(format!("{name}.xml")))
}

/// Whether the autostart mark of `name` exists.
pub(crate) fn autostart(config: &StorageConfig, name: &str) -> bool {
    safe(name).is_ok() && config.state_dir.join("autostart").join(name).exists()
}

/// Sets or clears the autostart mark.
pub(crate) fn set_autostart(config: &StorageConfig, name: &str, on: bool) -> Result<(), VirError> {
    safe(name)?;
    let mark = config.state_dir.join("autostart").join(name);
    if on {
        make_dir(&config.state_dir.join("autostart"))?;
        write_atomic(&mark, "")
    } else {
        remove(&mark)
    }
}

/// Writes a running pool's definition.
pub(crate) fn save_live(config: &StorageConfig, def: &Pool) -> Result<(), VirError> {
    safe(&def.name)?;
    make_dir(&config.runtime_dir)?;
    write_atomic(
        &config.runtime_dir.join(format!("{}.xml", def.name)),
        &def.to_xml(),
    )
}

/// Removes a stopped pool's runtime file.
pub(crate) fn remove_live(config: &StorageConfig, name: &str) -> Result<(), VirError> {
    safe(name)?;
    remove(&config.runtime_dir.join(format!("{name}.xml")))
}
