//! `virDomainSnapshotCreateXML` (`qemuSnapshotCreateXML`) for internal snapshots.

use oxvirt_domain::driver::event::{ResumedDetail, SuspendedDetail};
use oxvirt_domain::driver::flags::snapshot_create as create;
use oxvirt_domain::driver::state::{PausedReason, RunningReason};
use oxvirt_domain::driver::{DomainRef, DomainState, Lifecycle, Result, SnapshotRef};
use oxvirt_domain::objects::snapshots::{prepare_snapshot, TEST_CREATE_FLAGS};
use oxvirt_domain::snapshot::{DomainSnapshot, SnapshotLocation};
use oxvirt_domain::Domain;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use super::disks::{for_each_qcow2, internal_disks};
use super::{from_qemu, snapshot_ref};
use crate::driver::{check_flags, invalid, QemuDriver};

/// The flags `qemuSnapshotCreateXML` accepts.
const CREATE_FLAGS: u32 = create::REDEFINE
    | create::CURRENT
    | create::NO_METADATA
    | create::HALT
    | create::DISK_ONLY
    | create::REUSE_EXT
    | create::QUIESCE
    | create::ATOMIC
    | create::LIVE
    | create::VALIDATE;

/// What a snapshot is taken of: the domain's state and definitions.
struct Taken {
    state: DomainState,
    active: bool,
    persistent: bool,
    def: Domain,
    inactive: Option<Domain>,
}

impl QemuDriver {
    /// `virDomainSnapshotCreateXML`: an internal snapshot of every qcow2 disk (and of the
    /// memory of a running domain), recorded unless `NO_METADATA`.
    pub(crate) async fn snapshot_create(
        &self,
        dom: &DomainRef,
        xml: &str,
        flags: u32,
    ) -> Result<SnapshotRef> {
        check_flags(flags, CREATE_FLAGS, "qemuDomainSnapshotCreateXML")?;
        let _job = self.lock_job(&dom.uuid).await?;
        let taken = self.with_obj(dom, |obj| {
            Ok(Taken {
                state: obj.state(),
                active: obj.is_active(),
                persistent: obj.persistent,
                def: obj.def().clone(),
                inactive: obj.new_def().cloned(),
            })
        })?;
        // libvirt words these without the "invalid argument" prefix.
        let arg = |m: &str| VirError::raw(ErrorDomain::Qemu, ErrorCode::InvalidArg, m);
        if flags & create::QUIESCE != 0 && flags & create::DISK_ONLY == 0 {
            return Err(arg(
                "Flag 'VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY' is required by flag \
                 'VIR_DOMAIN_SNAPSHOT_CREATE_QUIESCE'",
            ));
        }
        if flags & create::LIVE != 0 && flags & create::REDEFINE != 0 {
            return Err(arg("Flags 'VIR_DOMAIN_SNAPSHOT_CREATE_LIVE' and \
                 'VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE' are mutually exclusive"));
        }
        if !taken.persistent && flags & create::HALT != 0 {
            return Err(invalid("cannot halt after transient domain snapshot"));
        }
        if flags & create::LIVE != 0 {
            // Only external memory snapshots can be live, and they are not supported.
            return Err(VirError::new(
                ErrorDomain::Qemu,
                ErrorCode::OperationUnsupported,
                "live snapshot creation is supported only during full system snapshots",
            ));
        }
        if flags & (create::DISK_ONLY | create::REUSE_EXT) != 0 {
            return Err(crate::driver::parse::unsupported(
                "external snapshots are not supported by this QEMU driver",
            ));
        }
        let asked = DomainSnapshot::parse(xml).ok().map(|p| p.snapshot);
        if taken.active
            && flags & create::REDEFINE == 0
            && asked.as_ref().and_then(|a| a.memory) == Some(SnapshotLocation::No)
        {
            return Err(VirError::new(
                ErrorDomain::Qemu,
                ErrorCode::OperationUnsupported,
                "internal snapshot of a running VM must include the memory state",
            ));
        }
        let redefine = flags & create::REDEFINE != 0;
        let mut def = self.with_obj(dom, |obj| {
            prepare_snapshot(
                &obj.snapshots,
                xml,
                &taken.def,
                taken.state,
                flags & TEST_CREATE_FLAGS,
                &|d: &mut Domain| d.apply_defaults(),
            )
            .map_err(from_qemu)
        })?;
        check_name(&def, flags)?;
        if !redefine {
            if taken.active && taken.persistent {
                def.inactive_domain = taken.inactive.clone().map(Box::new);
            }
            let paths = internal_disks(&def, &taken.def)?;
            let name = def.name.clone().unwrap_or_default();
            if taken.active {
                self.save_running(dom, &name, flags & create::HALT != 0)
                    .await?;
            } else {
                for_each_qcow2("-c", &name, &paths).await?;
            }
        }
        let name = def.name.clone().unwrap_or_default();
        if flags & create::NO_METADATA == 0 {
            self.record(dom, def, redefine, flags)?;
        }
        Ok(snapshot_ref(dom, &name))
    }

    /// Adds the snapshot to the tree, makes it current as libvirt does and writes the
    /// metadata.
    fn record(
        &self,
        dom: &DomainRef,
        def: DomainSnapshot,
        redefine: bool,
        flags: u32,
    ) -> Result<()> {
        self.with_obj(dom, |obj| {
            let name = if redefine {
                obj.snapshots
                    .replace(def)
                    .map_err(from_qemu)?
                    .name()
                    .to_string()
            } else {
                obj.snapshots
                    .insert(def)
                    .map_err(from_qemu)?
                    .name()
                    .to_string()
            };
            if !redefine || flags & create::CURRENT != 0 {
                obj.snapshots.set_current(Some(&name));
            }
            self.save_snapshots(obj)
        })
    }

    /// `qemuSnapshotCreateActiveInternal`: pauses the CPUs of a running domain
    /// (`SUSPENDED` `PAUSED`, as libvirtd 9.0 reports it), saves the VM state and disks
    /// with `snapshot-save`, then runs the CPUs again (`RESUMED` `UNPAUSED`), or stops the
    /// domain for `halt` (`STOPPED` `FROM_SNAPSHOT`).
    async fn save_running(&self, dom: &DomainRef, name: &str, halt: bool) -> Result<()> {
        let vm = self.running(dom)?;
        let paused = self.pause(dom, &vm, PausedReason::Snapshot).await?;
        if paused {
            // libvirtd 9.0 reports QEMU's STOP here (SUSPENDED PAUSED), and its RESUME.
            let event = self.with_obj(dom, |obj| {
                Ok(Self::lifecycle(
                    obj,
                    Lifecycle::Suspended(SuspendedDetail::Paused),
                ))
            })?;
            self.emit(vec![event]);
        }
        let saved = async {
            let nodes = vm.qmp().snapshot_capable_nodes().await?;
            let Some(vmstate) = nodes.first() else {
                return Err(crate::driver::parse::unsupported(
                    "internal and full system snapshots require all disks to be selected \
                     for snapshot",
                ));
            };
            let refs: Vec<&str> = nodes.iter().map(String::as_str).collect();
            vm.qmp().snapshot_save(name, vmstate, &refs).await
        }
        .await;
        if saved.is_ok() && halt {
            self.stop_for_snapshot(&vm).await;
            return Ok(());
        }
        if paused {
            let resumed = self
                .unpause(
                    dom,
                    &vm,
                    RunningReason::Unpaused,
                    Some(ResumedDetail::Unpaused),
                )
                .await;
            saved?;
            return resumed;
        }
        saved
    }
}

/// Snapshot names become file names: libvirt refuses `/` and a leading `.` unless the
/// snapshot keeps no metadata.
fn check_name(def: &DomainSnapshot, flags: u32) -> Result<()> {
    if flags & create::NO_METADATA != 0 {
        return Ok(());
    }
    let name = def.name.as_deref().unwrap_or_default();
    let why = if name.contains('/') {
        "name can't contain '/'"
    } else if name.starts_with('.') {
        "name can't start with '.'"
    } else {
        return Ok(());
    };
    Err(VirError::new(
        ErrorDomain::Qemu,
        ErrorCode::XmlDetail,
        format!("invalid snapshot name '{name}': {why}"),
    ))
}
