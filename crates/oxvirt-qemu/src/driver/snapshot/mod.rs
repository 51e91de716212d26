//! Internal (qcow2) snapshots, as libvirt 9.0's QEMU driver takes them
//! (`qemu_snapshot.c`): a running domain's through QEMU's `snapshot-save` / `-load` /
//! `-delete` jobs, an inactive one's with `qemu-img snapshot`.
//!
//! Their metadata is kept per domain under `STATE/qemu/snapshot/DOMAIN/NAME.xml`: each
//! snapshot's `<domainsnapshot>` with libvirt's internal `<active>` telling whether it is
//! the current one, written atomically and read back when the driver opens.

mod create;
mod delete;
mod disks;
mod query;
mod revert;

use std::path::PathBuf;

use oxvirt_domain::driver::{DomainRef, SnapshotRef};
use oxvirt_domain::objects::domains::DomainObj;
use oxvirt_domain::snapshot::DomainSnapshot;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use super::QemuDriver;

/// The snapshot `name` of `dom`.
pub(crate) fn snapshot_ref(dom: &DomainRef, name: &str) -> SnapshotRef {
    SnapshotRef {
        domain: dom.clone(),
        name: name.to_string(),
    }
}

/// `VIR_ERR_NO_DOMAIN_SNAPSHOT` from the QEMU driver.
pub(crate) fn no_snapshot(detail: impl AsRef<str>) -> VirError {
    VirError::new(ErrorDomain::Qemu, ErrorCode::NoDomainSnapshot, detail)
}

/// The shared snapshot code words its own errors as libvirt's test driver; the QEMU
/// driver reports the same errors from `VIR_FROM_QEMU`.
pub(crate) fn from_qemu(mut e: VirError) -> VirError {
    if e.domain == ErrorDomain::Test {
        e.domain = ErrorDomain::Qemu;
    }
    e
}

impl QemuDriver {
    /// Stops the running `vm` as libvirt's `qemuProcessStop` does for a snapshot: `SIGKILL`
    /// (so QEMU sends no `SHUTDOWN`), then the domain is shut off `FROM_SNAPSHOT` and
    /// `STOPPED` `FROM_SNAPSHOT` reported.
    pub(crate) async fn stop_for_snapshot(&self, vm: &super::Vm) {
        vm.set_stopping(super::vm::Stopping::FromSnapshot);
        if let Some(pid) = rustix::process::Pid::from_raw(vm.pid()) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
        vm.wait_done().await;
    }

    /// Where the snapshot metadata of domain `name` is kept.
    pub(crate) fn snapshot_dir(&self, name: &str) -> PathBuf {
        self.inner.config.state_dir.join("snapshot").join(name)
    }

    /// Removes the snapshot metadata of domain `name` (it is being undefined).
    pub(crate) fn delete_snapshot_files(&self, name: &str) {
        let _ = std::fs::remove_dir_all(self.snapshot_dir(name));
    }

    /// Writes the metadata of every snapshot of `obj` (the current one marked
    /// `<active>1</active>`) and removes the files of snapshots it no longer has.
    pub(crate) fn save_snapshots(&self, obj: &DomainObj) -> Result<(), VirError> {
        let dir = self.snapshot_dir(obj.name());
        let tree = &obj.snapshots;
        if tree.is_empty() {
            let _ = std::fs::remove_dir_all(&dir);
            return Ok(());
        }
        oxvirt_domain::fsio::make_dir(&dir)?;
        for name in tree.names() {
            let Some(snap) = tree.get(name) else { continue };
            let mut def = snap.def.clone();
            def.active = Some(tree.current() == Some(name));
            oxvirt_domain::fsio::write_atomic(&dir.join(format!("{name}.xml")), &def.to_xml())?;
        }
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for entry in entries.flatten() {
                let path = entry.path();
                let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
                if path.extension().is_some_and(|e| e == "xml") && tree.get(stem).is_none() {
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        Ok(())
    }

    /// Reads back the snapshot metadata of every loaded domain (`virDomainSnapshotLoad`
    /// at daemon start): parents before children, the one marked active current. A file
    /// that does not read back is skipped with a warning.
    pub(crate) fn load_snapshots(&self) {
        let mut list = self.domains();
        let uuids: Vec<_> = list.iter().map(|o| o.uuid()).collect();
        for uuid in uuids {
            let Some(obj) = list.find_by_uuid_mut(&uuid) else {
                continue;
            };
            let dir = self.snapshot_dir(obj.name());
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            let mut defs: Vec<DomainSnapshot> = Vec::new();
            for entry in entries.flatten() {
                let path = entry.path();
                if path.extension().is_none_or(|e| e != "xml") {
                    continue;
                }
                let parsed = std::fs::read_to_string(&path)
                    .map_err(|e| e.to_string())
                    .and_then(|t| DomainSnapshot::parse(&t).map_err(|e| e.to_string()));
                match parsed {
                    Ok(p) if p.snapshot.name.is_some() => defs.push(p.snapshot),
                    Ok(_) => eprintln!("oxvirtd: skipping {}: no name", path.display()),
                    Err(e) => eprintln!("oxvirtd: skipping {}: {e}", path.display()),
                }
            }
            // In the order they were taken.
            defs.sort_by(|a, b| (a.creation_time, &a.name).cmp(&(b.creation_time, &b.name)));
            let mut current = None;
            // Parents first: repeatedly add those whose parent is known (or absent).
            while !defs.is_empty() {
                let ready = defs.iter().position(|d| {
                    d.parent
                        .as_ref()
                        .and_then(|p| p.name.as_deref())
                        .is_none_or(|p| {
                            obj.snapshots.get(p).is_some()
                                || !defs.iter().any(|o| o.name.as_deref() == Some(p))
                        })
                });
                let mut def = defs.remove(ready.unwrap_or(0));
                if def.active == Some(true) {
                    current = def.name.clone();
                }
                def.active = None;
                if let Err(e) = obj.snapshots.insert(def) {
                    eprintln!(
                        "oxvirtd: skipping a snapshot of {}: {}",
                        obj.name(),
                        e.message
                    );
                }
            }
            obj.snapshots.set_current(current.as_deref());
        }
    }
}
