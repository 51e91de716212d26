//! Atomic file replacement and removal (libvirt's `virFileRewrite` and
//! `virDomainDeleteConfig`), with libvirt's error messages: what every stateful driver
//! uses to keep its definitions and status files.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

/// The suffix of a file being written; a leftover one is an interrupted write.
pub const TMP_SUFFIX: &str = ".tmp";

/// The `strerror` text of an I/O error, without Rust's ` (os error N)` suffix.
pub fn strerror(e: &io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// `VIR_ERR_SYSTEM_ERROR` as libvirt's file helpers report it (`VIR_FROM_NONE`):
/// `detail: <strerror>`.
pub fn system_error(detail: String, e: &io::Error) -> VirError {
    VirError::raw(
        ErrorDomain::None,
        ErrorCode::SystemError,
        format!("{detail}: {}", strerror(e)),
    )
}

/// Creates `dir` and its parents (`virFileMakePath`), as the configuration directory.
pub fn make_dir(dir: &Path) -> Result<(), VirError> {
    fs::create_dir_all(dir).map_err(|e| {
        system_error(
            format!("cannot create config directory '{}'", dir.display()),
            &e,
        )
    })
}

/// Flushes the directory entry changes of `dir` to disk.
fn sync_dir(dir: &Path) -> Result<(), VirError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| system_error(format!("cannot sync directory '{}'", dir.display()), &e))
}

/// Replaces `path` by a file holding `text`, atomically: `path.tmp` is written and synced
/// in the same directory, renamed over `path`, and the directory synced. A crash leaves
/// either the old file or the new one (and perhaps the `.tmp`, which readers ignore).
pub fn write_atomic(path: &Path, text: &str) -> Result<(), VirError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(TMP_SUFFIX);
    let tmp = Path::new(&tmp);
    let shown = tmp.display();
    let result = (|| {
        let mut f = File::create(tmp)
            .map_err(|e| system_error(format!("cannot create file '{shown}'"), &e))?;
        f.write_all(text.as_bytes())
            .map_err(|e| system_error(format!("cannot write to file '{shown}'"), &e))?;
        f.sync_all()
            .map_err(|e| system_error(format!("cannot sync file '{shown}'"), &e))?;
        fs::rename(tmp, path).map_err(|e| {
            system_error(
                format!("cannot rename file '{shown}' as '{}'", path.display()),
                &e,
            )
        })
    })();
    if result.is_err() {
        let _ = fs::remove_file(tmp);
    }
    result?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

/// Removes `path` if it exists, durably.
pub fn remove(path: &Path) -> Result<(), VirError> {
    match fs::remove_file(path) {
        Ok(()) => sync_dir(path.parent().unwrap_or(Path::new("."))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(system_error(
            format!("cannot remove config {}", path.display()),
            &e,
        )),
    }
}
