//! What the parity tests share: whether virsh (and a libvirtd) is here, and running one
//! command line through a virsh-like program.

#![allow(dead_code)]

use std::process::{Command, Stdio};

/// Whether libvirt's `virsh` is installed.
pub fn virsh_installed() -> bool {
    Command::new("virsh")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// stdout, stderr and exit status of `program -c URI LINE` (C locale, no input,
/// `LIBVIRT_DEFAULT_URI` unset).
pub fn run_line(program: &str, uri: &str, line: &str) -> (String, String, Option<i32>) {
    let out = Command::new(program)
        .args(["-c", uri, line])
        .env_remove("LIBVIRT_DEFAULT_URI")
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code(),
    )
}

/// The URI of the real libvirtd the remote tests talk to.
pub const LIBVIRTD: &str = "qemu:///system";

/// Whether virsh and a libvirtd that answers on [`LIBVIRTD`] are here; else prints
/// `SKIPPED <test>: <why>`.
pub fn libvirtd_usable(test: &str) -> bool {
    if !virsh_installed() || !std::path::Path::new("/var/run/libvirt/libvirt-sock").exists() {
        eprintln!("SKIPPED {test}: no libvirtd");
        return false;
    }
    if run_line("virsh", LIBVIRTD, "net-list --all").2 != Some(0) {
        eprintln!("SKIPPED {test}: libvirtd refuses");
        return false;
    }
    true
}
