//! The snapshot queries: listings, lookups, the XML, the current snapshot and parents,
//! read from the domain's snapshot tree (the QEMU driver's `qemuDomainSnapshot*` getters).

use oxvirt_domain::driver::flags::{snapshot_list, snapshot_xml};
use oxvirt_domain::driver::{DomainRef, Result, SnapshotRef};
use oxvirt_domain::format::format_snapshot;

use super::{from_qemu, no_snapshot, snapshot_ref};
use crate::driver::{check_flags, QemuDriver};

/// Every listing filter (`VIR_DOMAIN_SNAPSHOT_FILTERS_ALL`).
const FILTERS_ALL: u32 = snapshot_list::LEAVES
    | snapshot_list::NO_LEAVES
    | snapshot_list::METADATA
    | snapshot_list::NO_METADATA
    | snapshot_list::INACTIVE
    | snapshot_list::ACTIVE
    | snapshot_list::DISK_ONLY
    | snapshot_list::INTERNAL
    | snapshot_list::EXTERNAL;

impl QemuDriver {
    /// `virDomainListAllSnapshots` (`qemuDomainListAllSnapshots`).
    pub(crate) fn snapshot_list(&self, dom: &DomainRef, flags: u32) -> Result<Vec<SnapshotRef>> {
        check_flags(
            flags,
            snapshot_list::ROOTS | snapshot_list::TOPOLOGICAL | FILTERS_ALL,
            "qemuDomainListAllSnapshots",
        )?;
        let names = self.with_obj(dom, |obj| obj.snapshots.list(flags).map_err(from_qemu))?;
        Ok(names.iter().map(|n| snapshot_ref(dom, n)).collect())
    }

    /// `virDomainSnapshotListAllChildren` (`qemuDomainSnapshotListAllChildren`).
    pub(crate) fn snapshot_list_children(
        &self,
        snap: &SnapshotRef,
        flags: u32,
    ) -> Result<Vec<SnapshotRef>> {
        check_flags(
            flags,
            snapshot_list::DESCENDANTS | snapshot_list::TOPOLOGICAL | FILTERS_ALL,
            "qemuDomainSnapshotListAllChildren",
        )?;
        let names = self.with_obj(&snap.domain, |obj| {
            obj.snapshots.children(&snap.name, flags).map_err(from_qemu)
        })?;
        Ok(names
            .iter()
            .map(|n| snapshot_ref(&snap.domain, n))
            .collect())
    }

    /// `virDomainSnapshotLookupByName`.
    pub(crate) fn snapshot_lookup(
        &self,
        dom: &DomainRef,
        name: &str,
        flags: u32,
    ) -> Result<SnapshotRef> {
        check_flags(flags, 0, "qemuDomainSnapshotLookupByName")?;
        self.with_obj(dom, |obj| {
            let snap = obj.snapshots.lookup(name).map_err(from_qemu)?;
            Ok(snapshot_ref(dom, snap.name()))
        })
    }

    /// `virDomainSnapshotGetXMLDesc`.
    pub(crate) fn snapshot_xml(&self, snap: &SnapshotRef, flags: u32) -> Result<String> {
        check_flags(flags, snapshot_xml::SECURE, "qemuDomainSnapshotGetXMLDesc")?;
        self.with_obj(&snap.domain, |obj| {
            let s = obj.snapshots.lookup(&snap.name).map_err(from_qemu)?;
            Ok(format_snapshot(&s.def, &snap.domain, flags))
        })
    }

    /// `virDomainSnapshotCurrent`.
    pub(crate) fn snapshot_current(&self, dom: &DomainRef, flags: u32) -> Result<SnapshotRef> {
        check_flags(flags, 0, "qemuDomainSnapshotCurrent")?;
        self.with_obj(dom, |obj| match obj.snapshots.current() {
            Some(name) => Ok(snapshot_ref(dom, name)),
            None => Err(no_snapshot("the domain does not have a current snapshot")),
        })
    }

    /// `virDomainHasCurrentSnapshot`.
    pub(crate) fn has_current_snapshot(&self, dom: &DomainRef, flags: u32) -> Result<bool> {
        check_flags(flags, 0, "qemuDomainHasCurrentSnapshot")?;
        self.with_obj(dom, |obj| Ok(obj.snapshots.current().is_some()))
    }

    /// `virDomainSnapshotGetParent`.
    pub(crate) fn snapshot_parent(&self, snap: &SnapshotRef, flags: u32) -> Result<SnapshotRef> {
        check_flags(flags, 0, "qemuDomainSnapshotGetParent")?;
        self.with_obj(&snap.domain, |obj| {
            let s = obj.snapshots.lookup(&snap.name).map_err(from_qemu)?;
            match s.parent() {
                Some(parent) => Ok(snapshot_ref(&snap.domain, parent)),
                None => Err(no_snapshot(format!(
                    "snapshot '{}' does not have a parent",
                    s.name()
                ))),
            }
        })
    }

    /// `virDomainSnapshotIsCurrent`.
    pub(crate) fn snapshot_is_current(&self, snap: &SnapshotRef, flags: u32) -> Result<bool> {
        check_flags(flags, 0, "qemuDomainSnapshotIsCurrent")?;
        self.with_obj(&snap.domain, |obj| {
            let s = obj.snapshots.lookup(&snap.name).map_err(from_qemu)?;
            Ok(obj.snapshots.current() == Some(s.name()))
        })
    }

    /// `virDomainSnapshotHasMetadata`: every snapshot the driver knows has.
    pub(crate) fn snapshot_has_metadata(&self, snap: &SnapshotRef, flags: u32) -> Result<bool> {
        check_flags(flags, 0, "qemuDomainSnapshotHasMetadata")?;
        self.with_obj(&snap.domain, |obj| {
            obj.snapshots.lookup(&snap.name).map_err(from_qemu)?;
            Ok(true)
        })
    }
}
