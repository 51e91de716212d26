//! `cargo xtask bench storage`: pool-start, pool-destroy, vol-create-as (qcow2), pool
//! refresh and vol-list over 1,000 volumes of a `dir` pool on a release oxvirtd and on a
//! private Debian libvirtd 9.0, same python3-libvirt client, same run
//! (`xtask/data/storage_bench.py`).
//!
//! The daemons run as the network bench runs them ([`NetnsLab`]): each in a namespace of
//! its own, libvirtd with tmpfs over its state folders (its storage pool definitions
//! included), so the system's libvirtd and its pools are neither seen nor touched. Both
//! pools live in the same scratch folder, so both daemons work on the same file system.

use std::path::Path;

use anyhow::{bail, Result};

use crate::bench_network::{missing_tools, start_libvirtd, start_oxvirtd, NetnsLab};
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
    let ours = start_oxvirtd(root, &mut lab, &ours_ns, &ours_dir)?;
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
