//! `cargo xtask bench storage`: pool-start, pool-destroy, vol-create-as (qcow2), pool
//! refresh and vol-list over 1,000 volumes of a `dir` pool on a release oxvirtd and on a
//! private Debian libvirtd 9.0, same python3-libvirt client, same run
//! (`xtask/data/storage_bench.py`).
//!
//! The daemons run as the network bench runs them ([`NetnsLab`]): each in a namespace of
//! its own, libvirtd with tmpfs over its state folders (its storage pool definitions
//! included), so the system's libvirtd and its pools are neither seen nor touched. oxvirtd
//! gets the same: tmpfs over its state directory and its runtime `storage/` folder (in its
//! own mount view; the socket stays where the client finds it), so neither daemon pays for
//! a disk write the other does not. Both pools live in the same scratch folder, so both
//! daemons work on the same file system.

use std::path::Path;

use anyhow::{bail, Result};

use crate::bench_network::{missing_tools, start_libvirtd, NetnsLab};
use crate::{cargo, cmd, step};

/// Timed rounds per operation and daemon.
const CYCLES: &str = "20";
/// Volumes in the pool vol-list lists.
const VOLUMES: &str = "1000";

/// `cargo xtask bench storage`.
pub(crate) fn bench_storage(root: &Path) -> Result<()> {
    let missing: Vec<&str> = missing_tools(true)
        .into_iter()
        .filter(|t| ["ip", "libvirtd"].contains(t))
        .collect();
    if !missing.is_empty() || !Path::new("/usr/bin/qemu-img").exists() {
        bail!(
            "the storage bench needs ip, libvirtd and qemu-img (apt-get install iproute2 \
             libvirt-daemon-system qemu-utils); missing: {}",
            missing.join(", ")
        );
    }
    step(
        "build oxvirtd (release)",
        cargo(root, &["build", "--release", "-j2", "-p", "oxvirtd"]),
    )?;
    let scratch = std::env::temp_dir().join(format!("oxvirt-bench-sto-{}", std::process::id()));
    let mut lab = NetnsLab::new("bsto", scratch)?;
    let ours_ns = lab.add_ns("ox")?;
    let theirs_ns = lab.add_ns("lv")?;
    let ours_dir = lab.scratch().join("oxvirtd-daemon");
    let theirs_dir = lab.scratch().join("libvirtd-daemon");
    eprintln!("\n==> oxvirtd in namespace {ours_ns}, a private libvirtd in {theirs_ns}");
    let ours = start_oxvirtd_on_tmpfs(root, &mut lab, &ours_ns, &ours_dir, &[])?;
    let theirs = start_libvirtd(&mut lab, &theirs_ns, &theirs_dir)?;
    let json = root.join("target/bench-storage.json");
    let pools = lab.scratch().join("pools");
    step(
        "storage latencies: oxvirtd and libvirtd",
        cmd(
            root,
            "/usr/bin/python3",
            &[
                "xtask/data/storage_bench.py",
                CYCLES,
                VOLUMES,
                &pools.display().to_string(),
                &json.display().to_string(),
                &ours,
                &theirs,
            ],
        ),
    )
}

/// A release oxvirtd inside namespace `ns` with tmpfs over its state directory and its
/// runtime `storage/` folder, as the private libvirtd has over its own, with more command
/// line arguments `extra`; its URI.
pub(crate) fn start_oxvirtd_on_tmpfs(
    root: &Path,
    lab: &mut NetnsLab,
    ns: &str,
    dir: &Path,
    extra: &[&str],
) -> Result<String> {
    let run = dir.join("run");
    let state = dir.join("state");
    let log = dir.join("oxvirtd.log");
    let bin = root.join("target/release/oxvirtd");
    let script = format!(
        "set -e; mkdir -p {run}/storage {state}; \
         mount -t tmpfs oxvirt-bench {run}/storage; mount -t tmpfs oxvirt-bench {state}; \
         exec {bin} --runtime-dir {run} --state-dir {state}{extra}",
        run = run.display(),
        state = state.display(),
        bin = bin.display(),
        extra = extra.iter().map(|a| format!(" {a}")).collect::<String>()
    );
    std::fs::create_dir_all(dir)?;
    lab.spawn_in(ns, &["sh", "-c", &script], &log)?;
    let sock = run.join("libvirt-sock");
    lab.wait_socket(&sock, &log, 15)?;
    Ok(format!("qemu+unix:///system?socket={}", sock.display()))
}
