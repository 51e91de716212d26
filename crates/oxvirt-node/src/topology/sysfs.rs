//! Reading single values from sysfs as libvirt's `virFileReadValue*` helpers do: a missing
//! file is "no value" (their `-2`), a file that cannot be read or parsed is an error.

use std::io;

use oxvirt_xml::types::cpuset::CpuSet;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use crate::Host;

/// `/sys/devices/system`, where the CPU and NUMA node devices are.
pub(crate) const SYSTEM: &str = "/sys/devices/system";

/// `VIR_ERR_INTERNAL_ERROR` from `domain`.
pub(crate) fn internal(domain: ErrorDomain, detail: impl AsRef<str>) -> VirError {
    VirError::new(domain, ErrorCode::InternalError, detail)
}

/// A system error about `path`, worded as libvirt's `virFileReadAll`.
pub(crate) fn read_failed(path: &str, err: &io::Error) -> VirError {
    VirError::new(
        ErrorDomain::None,
        ErrorCode::SystemError,
        format!("Failed to open file '{path}': {}", os_message(err)),
    )
}

/// The C library's wording of an I/O error (`No such file or directory`), without Rust's
/// ` (os error N)` suffix.
pub(crate) fn os_message(err: &io::Error) -> String {
    let text = err.to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// The contents of `path` with one trailing newline removed (`virFileReadValueString`);
/// `None` when the file does not exist.
pub(crate) fn read_string(host: &Host, path: &str) -> Result<Option<String>, VirError> {
    match host.read(path) {
        Ok(mut text) => {
            if text.ends_with('\n') {
                text.pop();
            }
            Ok(Some(text))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(read_failed(path, &e)),
    }
}

/// A signed integer file (`virFileReadValueInt`).
pub(crate) fn read_int(host: &Host, path: &str) -> Result<Option<i64>, VirError> {
    let Some(text) = read_string(host, path)? else {
        return Ok(None);
    };
    match c_long(&text) {
        Some(v) if i32::try_from(v).is_ok() => Ok(Some(v)),
        _ => Err(invalid_integer(&text, path)),
    }
}

/// An unsigned integer file (`virFileReadValueUint`).
pub(crate) fn read_uint(host: &Host, path: &str) -> Result<Option<u64>, VirError> {
    let Some(text) = read_string(host, path)? else {
        return Ok(None);
    };
    match c_ulong(&text) {
        Some(v) if u32::try_from(v).is_ok() => Ok(Some(v)),
        _ => Err(invalid_integer(&text, path)),
    }
}

/// A size with an optional unit suffix (`15360K`), in bytes (`virFileReadValueScaledInt`).
pub(crate) fn read_scaled(host: &Host, path: &str) -> Result<Option<u64>, VirError> {
    let Some(text) = read_string(host, path)? else {
        return Ok(None);
    };
    let digits = text.trim_start();
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    let bad = || {
        internal(
            ErrorDomain::None,
            format!("Invalid unsigned scaled integer value '{text}' in file '{path}'"),
        )
    };
    let value: u64 = digits[..end].parse().map_err(|_| bad())?;
    let scale: u64 = match &digits[end..] {
        "" | "b" | "B" | "bytes" => 1,
        "k" | "K" | "KiB" => 1 << 10,
        "M" | "m" | "MiB" => 1 << 20,
        "G" | "g" | "GiB" => 1 << 30,
        "T" | "t" | "TiB" => 1 << 40,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        _ => return Err(bad()),
    };
    value.checked_mul(scale).map(Some).ok_or_else(bad)
}

/// A CPU list file (`virFileReadValueBitmap`). An empty list (a memory-only node's
/// `cpulist`) is the empty set.
pub(crate) fn read_bitmap(host: &Host, path: &str) -> Result<Option<CpuSet>, VirError> {
    let Some(text) = read_string(host, path)? else {
        return Ok(None);
    };
    if text.trim().is_empty() {
        return Ok(Some(CpuSet::new()));
    }
    CpuSet::parse_unlimited(&text)
        .map(Some)
        .map_err(|e| VirError::from_xml(e, ErrorDomain::None))
}

/// The entry names of directory `path`; `None` when it does not exist.
pub(crate) fn read_dir(host: &Host, path: &str) -> Result<Option<Vec<String>>, VirError> {
    let full = host.path(path);
    let entries = match std::fs::read_dir(&full) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(VirError::new(
                ErrorDomain::None,
                ErrorCode::SystemError,
                format!("cannot open directory '{path}': {}", os_message(&e)),
            ))
        }
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| {
            VirError::new(
                ErrorDomain::None,
                ErrorCode::SystemError,
                format!("Unable to read directory '{path}': {}", os_message(&e)),
            )
        })?;
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    Ok(Some(names))
}

/// The number after `prefix` in a directory entry name (`cpu12`, `node3`), as
/// `sscanf(name, "cpu%u")` reads it: leading digits, anything may follow.
pub(crate) fn numbered(name: &str, prefix: &str) -> Option<u32> {
    let rest = name.strip_prefix(prefix)?;
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// The number after `prefix` when nothing else follows (`virStrToLong_ui` on the rest).
pub(crate) fn exact_numbered(name: &str, prefix: &str) -> Option<u32> {
    let rest = name.strip_prefix(prefix)?;
    c_ulong(rest).and_then(|v| u32::try_from(v).ok())
}

fn invalid_integer(text: &str, path: &str) -> VirError {
    internal(
        ErrorDomain::None,
        format!("Invalid integer value '{text}' in file '{path}'"),
    )
}

/// `strtol` over the whole text (leading spaces allowed).
fn c_long(text: &str) -> Option<i64> {
    let t = text.trim_start();
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let v: i64 = digits.parse().ok()?;
    Some(if neg { -v } else { v })
}

/// `strtoul` over the whole text, refusing a minus sign as `virStrToLong_ui` does.
fn c_ulong(text: &str) -> Option<u64> {
    let t = text.trim_start();
    let digits = t.strip_prefix('+').unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_numbers() {
        assert_eq!(numbered("cpu12", "cpu"), Some(12));
        assert_eq!(numbered("cpufreq", "cpu"), None);
        assert_eq!(numbered("node3x", "node"), Some(3));
        assert_eq!(exact_numbered("node3x", "node"), None);
        assert_eq!(exact_numbered("index2", "index"), Some(2));
    }

    #[test]
    fn integers() {
        assert_eq!(c_long("-1"), Some(-1));
        assert_eq!(c_long("12a"), None);
        assert_eq!(c_ulong("-1"), None);
        assert_eq!(c_ulong("7"), Some(7));
    }
}
