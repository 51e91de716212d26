//! Capabilities probed from the installed QEMU, checked against what libvirt 9.0 recorded
//! from QEMU 7.2 (`qemucapabilitiesdata/caps_7.2.0.x86_64.xml`), and the cache's rules.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::{have_qemu, QEMU};
use oxvirt_qemu::caps::{probe, CapsCache};
use oxvirt_xml::ErrorCode;

fn conformance() -> Option<PathBuf> {
    let dir = std::env::var_os("OXVIRT_CONFORMANCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance")
        });
    dir.exists().then_some(dir)
}

/// The TCG machine names libvirt recorded for QEMU 7.2 on x86_64.
fn libvirt_tcg_machines(dir: &Path) -> BTreeSet<String> {
    let xml = std::fs::read_to_string(
        dir.join("libvirt-9.0.0/qemu/qemucapabilitiesdata/caps_7.2.0.x86_64.xml"),
    )
    .unwrap();
    xml.lines()
        .filter(|l| l.trim_start().starts_with("<machine type='tcg'"))
        .filter_map(|l| {
            let at = l.find("name='")? + 6;
            let end = l[at..].find('\'')?;
            Some(l[at..at + end].to_owned())
        })
        .collect()
}

#[tokio::test]
async fn probe_of_qemu_7_2_matches_libvirts_record() {
    if !have_qemu("probe_of_qemu_7_2_matches_libvirts_record") {
        return;
    }
    let caps = probe(Path::new(QEMU)).await.unwrap();
    assert_eq!(caps.version / 1000, 7002, "QEMU 7.2 expected");
    let q35 = caps.machine("q35").unwrap();
    assert_eq!(q35.name, "pc-q35-7.2");
    let pc = caps.machine("pc").unwrap();
    assert!(pc.is_default);
    assert_eq!(pc.max_cpus, 255);
    for model in ["qemu64", "max", "Skylake-Client"] {
        assert!(caps.cpu_models.contains(model), "{model}");
    }
    for command in ["query-status", "cont", "blockdev-add", "migrate"] {
        assert!(caps.commands.contains(command), "{command}");
    }
    for device in [
        "virtio-blk-pci",
        "virtio-net-pci",
        "ide-hd",
        "pcie-root-port",
        "qxl-vga",
    ] {
        assert!(caps.has_device(device), "{device}");
    }
    match conformance() {
        Some(dir) => {
            let ours: BTreeSet<String> = caps.machines.iter().map(|m| m.name.clone()).collect();
            let theirs = libvirt_tcg_machines(&dir);
            assert_eq!(theirs.len(), 58);
            assert_eq!(ours, theirs, "machine types differ from libvirt's record");
        }
        None => eprintln!("SKIPPED the comparison with libvirt's record: no ../shared/conformance"),
    }
}

#[tokio::test]
async fn cache_probes_once_per_binary_version() {
    if !have_qemu("cache_probes_once_per_binary_version") {
        return;
    }
    let cache = CapsCache::new();
    let a = cache.get(Path::new(QEMU)).await.unwrap();
    let b = cache.get(Path::new(QEMU)).await.unwrap();
    assert!(std::sync::Arc::ptr_eq(&a, &b));
    assert_eq!(cache.probes(), 1);
    // A binary that changed (a newer mtime) is probed again. (A wrapper script stands in
    // for a second binary: Debian's QEMU finds its accelerator modules only from its own
    // path.)
    let dir = std::env::temp_dir().join(format!("oxvirt-caps-cache-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let copy = dir.join("qemu-system-x86_64");
    std::fs::write(&copy, format!("#!/bin/sh\nexec {QEMU} \"$@\"\n")).unwrap();
    std::fs::set_permissions(&copy, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    cache.get(&copy).await.unwrap();
    assert_eq!(cache.probes(), 2);
    cache.get(&copy).await.unwrap();
    assert_eq!(cache.probes(), 2);
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(10);
    std::fs::File::options()
        .write(true)
        .open(&copy)
        .unwrap()
        .set_modified(later)
        .unwrap();
    cache.get(&copy).await.unwrap();
    assert_eq!(cache.probes(), 3);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_missing_binary_is_a_clear_error() {
    let err = probe(Path::new("/nonexistent/qemu-system-x86_64"))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::SystemError);
    assert_eq!(
        err.message,
        "Cannot check QEMU binary /nonexistent/qemu-system-x86_64: No such file or directory"
    );
    let Err(err) = CapsCache::new()
        .get(Path::new("/nonexistent/qemu-system-x86_64"))
        .await
    else {
        panic!("a missing binary was probed");
    };
    assert!(
        err.message.contains("No such file or directory"),
        "{}",
        err.message
    );
}
