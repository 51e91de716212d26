//! Domain snapshots, as libvirt 9.0's test driver keeps them: metadata only, with reverts
//! that stop and start the domain.

use oxvirt_domain::driver::event::{StartedDetail, StoppedDetail, SuspendedDetail};
use oxvirt_domain::driver::flags::{snapshot_create, snapshot_revert, snapshot_xml};
use oxvirt_domain::driver::state::{PausedReason, RunningReason, ShutoffReason, StateReason};
use oxvirt_domain::driver::{DomainRef, Lifecycle, Result, SnapshotRef};
use oxvirt_domain::objects::snapshots::prepare_snapshot;
use oxvirt_domain::snapshot::{SnapshotDomain, SnapshotState};
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use crate::driver::{check_flags, exclusive, invalid, lifecycle, TestDriver};
use crate::format::format_snapshot;

/// The snapshot `snap` names, on its domain.
fn snapshot_ref(dom: &DomainRef, name: &str) -> SnapshotRef {
    SnapshotRef {
        domain: dom.clone(),
        name: name.to_string(),
    }
}

/// `VIR_ERR_NO_DOMAIN_SNAPSHOT` from the test driver with `detail`.
fn no_snapshot(detail: impl AsRef<str>) -> VirError {
    VirError::new(ErrorDomain::Test, ErrorCode::NoDomainSnapshot, detail)
}

impl TestDriver {
    /// `virDomainSnapshotCreateXML` (`testDomainSnapshotCreateXML`).
    pub fn snapshot_create_sync(
        &self,
        dom: &DomainRef,
        xml: &str,
        flags: u32,
    ) -> Result<SnapshotRef> {
        let mut node = self.lock();
        let obj = node.obj_mut(dom)?;
        if !obj.persistent && flags & snapshot_create::HALT != 0 {
            return Err(invalid("cannot halt after transient domain snapshot"));
        }
        // The domain a redefined snapshot records is read as the test driver reads one.
        let def = prepare_snapshot(
            &obj.snapshots,
            xml,
            obj.def(),
            obj.state(),
            flags,
            &crate::parse::post_parse,
        )?;
        let redefine = flags & snapshot_create::REDEFINE != 0;
        let name = if redefine {
            obj.snapshots.replace(def)?.name().to_string()
        } else {
            obj.snapshots.insert(def)?.name().to_string()
        };
        if !redefine || flags & snapshot_create::CURRENT != 0 {
            obj.snapshots.set_current(Some(&name));
        }
        if !redefine && flags & snapshot_create::HALT != 0 && obj.is_active() {
            obj.stop(ShutoffReason::FromSnapshot);
            let event = lifecycle(obj, Lifecycle::Stopped(StoppedDetail::FromSnapshot));
            self.emit(vec![event]);
        }
        Ok(snapshot_ref(dom, &name))
    }

    /// `virDomainListAllSnapshots`.
    pub fn snapshot_list_sync(&self, dom: &DomainRef, flags: u32) -> Result<Vec<SnapshotRef>> {
        let node = self.lock();
        let names = node.obj(dom)?.snapshots.list(flags)?;
        Ok(names.iter().map(|n| snapshot_ref(dom, n)).collect())
    }

    /// `virDomainSnapshotListAllChildren`.
    pub fn snapshot_list_children_sync(
        &self,
        snap: &SnapshotRef,
        flags: u32,
    ) -> Result<Vec<SnapshotRef>> {
        let node = self.lock();
        let names = node
            .obj(&snap.domain)?
            .snapshots
            .children(&snap.name, flags)?;
        Ok(names
            .iter()
            .map(|n| snapshot_ref(&snap.domain, n))
            .collect())
    }

    /// `virDomainSnapshotLookupByName`.
    pub fn snapshot_lookup_sync(
        &self,
        dom: &DomainRef,
        name: &str,
        flags: u32,
    ) -> Result<SnapshotRef> {
        check_flags(flags, 0, "testDomainSnapshotLookupByName")?;
        let node = self.lock();
        let snap = node.obj(dom)?.snapshots.lookup(name)?;
        Ok(snapshot_ref(dom, snap.name()))
    }

    /// `virDomainSnapshotGetXMLDesc`.
    pub fn snapshot_xml_sync(&self, snap: &SnapshotRef, flags: u32) -> Result<String> {
        check_flags(flags, snapshot_xml::SECURE, "testDomainSnapshotGetXMLDesc")?;
        let node = self.lock();
        let obj = node.obj(&snap.domain)?.snapshots.lookup(&snap.name)?;
        Ok(format_snapshot(&obj.def, &snap.domain, flags))
    }

    /// `virDomainSnapshotCurrent`.
    pub fn snapshot_current_sync(&self, dom: &DomainRef, flags: u32) -> Result<SnapshotRef> {
        check_flags(flags, 0, "testDomainSnapshotCurrent")?;
        let node = self.lock();
        match node.obj(dom)?.snapshots.current() {
            Some(name) => Ok(snapshot_ref(dom, name)),
            None => Err(no_snapshot("the domain does not have a current snapshot")),
        }
    }

    /// `virDomainHasCurrentSnapshot`.
    pub fn has_current_snapshot_sync(&self, dom: &DomainRef, flags: u32) -> Result<bool> {
        check_flags(flags, 0, "testDomainHasCurrentSnapshot")?;
        Ok(self.lock().obj(dom)?.snapshots.current().is_some())
    }

    /// `virDomainSnapshotGetParent`.
    pub fn snapshot_parent_sync(&self, snap: &SnapshotRef, flags: u32) -> Result<SnapshotRef> {
        check_flags(flags, 0, "testDomainSnapshotGetParent")?;
        let node = self.lock();
        let obj = node.obj(&snap.domain)?.snapshots.lookup(&snap.name)?;
        match obj.parent() {
            Some(parent) => Ok(snapshot_ref(&snap.domain, parent)),
            None => Err(no_snapshot(format!(
                "snapshot '{}' does not have a parent",
                obj.name()
            ))),
        }
    }

    /// `virDomainSnapshotIsCurrent`.
    pub fn snapshot_is_current_sync(&self, snap: &SnapshotRef, flags: u32) -> Result<bool> {
        check_flags(flags, 0, "testDomainSnapshotIsCurrent")?;
        let node = self.lock();
        let tree = &node.obj(&snap.domain)?.snapshots;
        let obj = tree.lookup(&snap.name)?;
        Ok(tree.current() == Some(obj.name()))
    }

    /// `virDomainSnapshotHasMetadata`: every snapshot of the test driver has.
    pub fn snapshot_has_metadata_sync(&self, snap: &SnapshotRef, flags: u32) -> Result<bool> {
        check_flags(flags, 0, "testDomainSnapshotHasMetadata")?;
        let node = self.lock();
        node.obj(&snap.domain)?.snapshots.lookup(&snap.name)?;
        Ok(true)
    }

    /// `virDomainSnapshotDelete` (metadata only: the test driver has no disks to change).
    pub fn snapshot_delete_sync(&self, snap: &SnapshotRef, flags: u32) -> Result<()> {
        let mut node = self.lock();
        node.obj_mut(&snap.domain)?
            .snapshots
            .remove(&snap.name, flags)?;
        Ok(())
    }

    /// `virDomainRevertToSnapshot` as libvirt 9.0's test driver does it: a running domain
    /// is stopped and the snapshot's domain started (`STOPPED`, `STARTED`, and `SUSPENDED`
    /// when it ends paused, all `FROM_SNAPSHOT`); reverting to a snapshot of a shut-off
    /// domain stops it, and with `RUNNING` or `PAUSED` reports it started without starting
    /// it, as libvirt does.
    pub fn snapshot_revert_sync(&self, snap: &SnapshotRef, flags: u32) -> Result<()> {
        exclusive(
            flags,
            (
                snapshot_revert::RUNNING,
                "VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING",
            ),
            (snapshot_revert::PAUSED, "VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED"),
        )
        .map_err(|e| VirError::raw(ErrorDomain::DomainSnapshot, e.code, e.message))?;
        check_flags(
            flags,
            snapshot_revert::RUNNING | snapshot_revert::PAUSED | snapshot_revert::FORCE,
            "testDomainRevertToSnapshot",
        )?;
        let run_or_pause = flags & (snapshot_revert::RUNNING | snapshot_revert::PAUSED) != 0;
        let mut node = self.lock();
        let uuid = node.obj(&snap.domain)?.uuid();
        let obj = node.obj(&snap.domain)?;
        let sobj = obj.snapshots.lookup(&snap.name)?;
        let state = sobj.def.state;
        let live_state = matches!(state, Some(SnapshotState::Running | SnapshotState::Paused));
        if !obj.persistent && !live_state && !run_or_pause {
            return Err(invalid(
                "transient domain needs to request run or pause to revert to inactive snapshot",
            ));
        }
        // libvirt 9.0 refuses this even with FORCE.
        let Some(SnapshotDomain::Full(config)) = &sobj.def.domain else {
            return Err(VirError::new(
                ErrorDomain::Test,
                ErrorCode::SnapshotRevertRisky,
                format!(
                    "snapshot '{}' lacks domain '{}' rollback info",
                    sobj.name(),
                    obj.def().name
                ),
            ));
        };
        let config = (**config).clone();
        let snap_name = sobj.name().to_string();
        let mut events = Vec::new();
        let obj = node.obj_mut(&snap.domain)?;
        obj.snapshots.set_current(None);
        if live_state {
            if obj.is_active() {
                obj.stop(ShutoffReason::FromSnapshot);
                events.push(lifecycle(
                    obj,
                    Lifecycle::Stopped(StoppedDetail::FromSnapshot),
                ));
            }
            obj.assign_def(config, false);
            node.start_domain(&uuid, RunningReason::FromSnapshot);
            let obj = node.obj_mut(&snap.domain)?;
            events.push(lifecycle(
                obj,
                Lifecycle::Started(StartedDetail::FromSnapshot),
            ));
            let paused =
                flags & snapshot_revert::PAUSED != 0 || state == Some(SnapshotState::Paused);
            if flags & snapshot_revert::RUNNING == 0 && paused {
                obj.state = StateReason::Paused(PausedReason::FromSnapshot);
                events.push(lifecycle(
                    obj,
                    Lifecycle::Suspended(SuspendedDetail::FromSnapshot),
                ));
            }
        } else {
            obj.assign_def(config, false);
            if obj.is_active() {
                obj.stop(ShutoffReason::FromSnapshot);
                events.push(lifecycle(
                    obj,
                    Lifecycle::Stopped(StoppedDetail::FromSnapshot),
                ));
            }
            if run_or_pause {
                events.push(lifecycle(
                    obj,
                    Lifecycle::Started(StartedDetail::FromSnapshot),
                ));
                if flags & snapshot_revert::PAUSED != 0 {
                    events.push(lifecycle(
                        obj,
                        Lifecycle::Suspended(SuspendedDetail::FromSnapshot),
                    ));
                }
            }
        }
        let obj = node.obj_mut(&snap.domain)?;
        obj.snapshots.set_current(Some(&snap_name));
        self.emit(events);
        Ok(())
    }
}
