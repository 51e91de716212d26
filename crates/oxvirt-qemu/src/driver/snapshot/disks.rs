//! The disks an internal snapshot covers, and `qemu-img snapshot` on them (what libvirt's
//! `qemuDomainSnapshotForEachQcow2` does for an inactive domain).

use oxvirt_domain::snapshot::{DomainSnapshot, SnapshotLocation};
use oxvirt_domain::Domain;
use oxvirt_xml::VirError;

use crate::driver::{internal, parse::unsupported};

/// The image paths of the disks of `domain` that `snap` takes internally, checking each is
/// qcow2 (libvirt's `qemuSnapshotPrepare`) and refusing external snapshots.
pub(crate) fn internal_disks(
    snap: &DomainSnapshot,
    domain: &Domain,
) -> Result<Vec<String>, VirError> {
    if snap.memory == Some(SnapshotLocation::External)
        || snap
            .disks
            .iter()
            .any(|d| d.snapshot == Some(SnapshotLocation::External))
    {
        return Err(unsupported(
            "external snapshots are not supported by this QEMU driver",
        ));
    }
    let mut paths = Vec::new();
    let mut forbid_internal = false;
    for sdisk in &snap.disks {
        let Some(disk) = domain
            .devices
            .disks
            .iter()
            .find(|d| d.target_dev() == Some(sdisk.name.as_str()))
        else {
            continue;
        };
        match sdisk.snapshot {
            Some(SnapshotLocation::Internal) => {
                // (The disk's format type is not exported; its name is.)
                if let Some(format) = disk.format().map(|f| f.to_string()) {
                    if format != "qcow2" {
                        return Err(unsupported(format!(
                            "internal snapshot for disk {} unsupported for storage type {format}",
                            sdisk.name
                        )));
                    }
                }
                if let Some(path) = disk.source_path() {
                    paths.push(path.to_string());
                }
            }
            Some(SnapshotLocation::Manual) => {
                return Err(unsupported(
                    "'manual' disk snapshot mode not supported for internal snapshots",
                ));
            }
            _ => forbid_internal |= disk.source_path().is_some() && !disk.readonly,
        }
    }
    if paths.is_empty() && snap.memory != Some(SnapshotLocation::Internal) {
        return Err(unsupported("nothing selected for snapshot"));
    }
    if (snap.memory == Some(SnapshotLocation::Internal) && paths.is_empty())
        || (!paths.is_empty() && forbid_internal)
    {
        return Err(unsupported(
            "internal and full system snapshots require all disks to be selected for snapshot",
        ));
    }
    Ok(paths)
}

/// Runs `qemu-img snapshot OP NAME PATH`, reporting a failure as libvirt's virCommand does.
pub(crate) async fn qemu_img(op: &str, name: &str, path: &str) -> Result<(), VirError> {
    let out = tokio::process::Command::new("qemu-img")
        .args(["snapshot", op, name, path])
        .output()
        .await
        .map_err(|e| internal(format!("cannot run qemu-img: {e}")))?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    Err(internal(format!(
        "Child process (qemu-img snapshot {op} {name} {path}) unexpected exit status {}: {}",
        out.status.code().unwrap_or(-1),
        stderr.trim_end()
    )))
}

/// `qemu-img snapshot OP NAME` on every path; a failed create (`-c`) removes the
/// snapshots already made, as libvirt does.
pub(crate) async fn for_each_qcow2(op: &str, name: &str, paths: &[String]) -> Result<(), VirError> {
    for (i, path) in paths.iter().enumerate() {
        if let Err(e) = qemu_img(op, name, path).await {
            if op == "-c" {
                for done in &paths[..i] {
                    let _ = qemu_img("-d", name, done).await;
                }
            }
            return Err(e);
        }
    }
    Ok(())
}
