//! Every storage procedure through python3-libvirt against the built daemon's
//! `qemu:///system` (its host storage driver, a `dir` pool in a private directory): the
//! pool's life with its lifecycle and refresh events, volumes, uploads and downloads, the
//! legacy list and count calls, lookups, read-only refusals and errors. The expected lines
//! are what Debian's libvirtd 9.0 prints for the same script (`python/storage_calls.py`).
//! Sparse transfers likewise (`python/storage_sparse.py`): the holes a sparse download
//! reports, a sparse upload's hole, the refused hole of a non-sparse upload.

#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;

use common::{have_python_libvirt, skip, Daemon, PYTHON};

const SCRIPT: &str = include_str!("python/storage_calls.py");
const SPARSE: &str = include_str!("python/storage_sparse.py");
const SPARSE_EXPECTED: &str = include_str!("python/storage_sparse.expected");

/// libvirtd 9.0's output for the script, the pool's directory shown as `TARGET`.
const EXPECTED: &str = include_str!("python/storage_calls.expected");

/// Runs `script` against a fresh daemon with a pool named `pool` in a private directory
/// and compares its lines with `expected` (the directory shown as `TARGET`); `deleted`:
/// the script deletes the pool's directory.
fn run_and_compare(test: &str, script: &str, pool: &str, expected: &str, deleted: bool) {
    if !have_python_libvirt() {
        skip(test, "python3-libvirt is not installed");
        return;
    }
    let d = Daemon::start(&format!("stor-{pool}"));
    let target = d.dir.join("pool");
    let uri = format!("qemu+unix:///system?socket={}", d.sock().display());
    let out = Command::new("timeout")
        .args(["120", PYTHON, "-c", script, &uri, pool])
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
    for (i, (g, w)) in got.lines().zip(expected.lines()).enumerate() {
        assert_eq!(g, w, "line {} differs; whole output:\n{got}", i + 1);
    }
    assert_eq!(got.lines().count(), expected.lines().count(), "{got}");
    assert_eq!(target.exists(), !deleted);
}

#[test]
fn python_storage_calls_match_libvirtd() {
    run_and_compare(
        "python_storage_calls_match_libvirtd",
        SCRIPT,
        "pypool",
        EXPECTED,
        true,
    );
}

#[test]
fn python_sparse_transfers_match_libvirtd() {
    run_and_compare(
        "python_sparse_transfers_match_libvirtd",
        SPARSE,
        "pysparse",
        SPARSE_EXPECTED,
        false,
    );
}
