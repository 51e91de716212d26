//! Every storage procedure through python3-libvirt against the built daemon's
//! `qemu:///system` (its host storage driver, a `dir` pool in a private directory): the
//! pool's life with its lifecycle and refresh events, volumes, uploads and downloads, the
//! legacy list and count calls, lookups, read-only refusals and errors. The expected lines
//! are what Debian's libvirtd 9.0 prints for the same script (`python/storage_calls.py`).

#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;

use common::{have_python_libvirt, skip, Daemon, PYTHON};

const SCRIPT: &str = include_str!("python/storage_calls.py");

/// libvirtd 9.0's output for the script, the pool's directory shown as `TARGET`.
const EXPECTED: &str = include_str!("python/storage_calls.expected");

#[test]
fn python_storage_calls_match_libvirtd() {
    if !have_python_libvirt() {
        skip(
            "python_storage_calls_match_libvirtd",
            "python3-libvirt is not installed",
        );
        return;
    }
    let d = Daemon::start("stor-py");
    let target = d.dir.join("pool");
    let uri = format!("qemu+unix:///system?socket={}", d.sock().display());
    let out = Command::new("timeout")
        .args(["120", PYTHON, "-c", SCRIPT, &uri, "pypool"])
        .arg(&target)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "script failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = stdout.replace(&target.display().to_string(), "TARGET");
    for (i, (g, w)) in got.lines().zip(EXPECTED.lines()).enumerate() {
        assert_eq!(g, w, "line {} differs; whole output:\n{got}", i + 1);
    }
    assert_eq!(got.lines().count(), EXPECTED.lines().count(), "{got}");
    // Nothing left behind: the pool was deleted and undefined.
    assert!(!target.exists());
}
