//! `virDomainSnapshotDelete` (`qemuSnapshotDelete`) for internal snapshots: the data goes
//! from the images (QEMU's `snapshot-delete` while the domain runs, `qemu-img snapshot
//! -d` otherwise) unless `METADATA_ONLY`, then the metadata, children moving to the
//! deleted snapshot's parent as libvirt moves them.

use oxvirt_domain::driver::flags::{snapshot_delete as delete, snapshot_list};
use oxvirt_domain::driver::{Result, SnapshotRef};
use oxvirt_domain::snapshot::SnapshotDomain;

use super::disks::{for_each_qcow2, internal_disks};
use super::from_qemu;
use crate::driver::{check_flags, QemuDriver};

impl QemuDriver {
    /// `virDomainSnapshotDelete`.
    pub(crate) async fn snapshot_delete(&self, snap: &SnapshotRef, flags: u32) -> Result<()> {
        let both = delete::CHILDREN | delete::CHILDREN_ONLY;
        check_flags(
            flags,
            both | delete::METADATA_ONLY,
            "qemuDomainSnapshotDelete",
        )?;
        let dom = &snap.domain;
        let _job = self.lock_job(&dom.uuid).await?;
        // The snapshots whose data goes, with the images each covers.
        let targets = self.with_obj(dom, |obj| {
            let tree = &obj.snapshots;
            let s = tree.lookup(&snap.name).map_err(from_qemu)?;
            let mut names = Vec::new();
            if flags & both != 0 {
                names = tree
                    .children(&snap.name, snapshot_list::DESCENDANTS)
                    .map_err(from_qemu)?;
            }
            if flags & delete::CHILDREN_ONLY == 0 {
                names.push(s.name().to_string());
            }
            if flags & delete::METADATA_ONLY != 0 {
                return Ok(Vec::new());
            }
            let mut targets = Vec::new();
            for name in names {
                let s = tree.lookup(&name).map_err(from_qemu)?;
                let paths = match &s.def.domain {
                    Some(SnapshotDomain::Full(d)) => internal_disks(&s.def, d)?,
                    _ => internal_disks(&s.def, obj.def())?,
                };
                targets.push((name, paths));
            }
            Ok(targets)
        })?;
        let vm = self.running(dom).ok();
        for (name, paths) in &targets {
            match &vm {
                Some(vm) => {
                    let nodes = vm.qmp().snapshot_capable_nodes().await?;
                    let refs: Vec<&str> = nodes.iter().map(String::as_str).collect();
                    vm.qmp().snapshot_delete(name, &refs).await?;
                }
                None => for_each_qcow2("-d", name, paths).await?,
            }
        }
        self.with_obj(dom, |obj| {
            obj.snapshots
                .remove(&snap.name, flags & both)
                .map_err(from_qemu)?;
            self.save_snapshots(obj)
        })
    }
}
