//! `virDomainRevertToSnapshot` (`qemuSnapshotRevert`) for internal snapshots, with the
//! events libvirt 9.0 sends: a running domain is stopped (`STOPPED` `FROM_SNAPSHOT`);
//! a snapshot with memory starts a fresh QEMU paused (`STARTED` `FROM_SNAPSHOT`), loads
//! the snapshot into it, then pauses (`SUSPENDED` `FROM_SNAPSHOT`) or runs it (`RESUMED`
//! `FROM_SNAPSHOT`); a snapshot of a shut-off domain is applied to the images with
//! `qemu-img snapshot -a`, then the domain starts if asked. The snapshot's definition
//! becomes the domain's (`DEFINED` `FROM_SNAPSHOT` for a persistent domain).

use std::sync::Arc;

use oxvirt_domain::driver::event::{DefinedDetail, ResumedDetail, StartedDetail, SuspendedDetail};
use oxvirt_domain::driver::flags::snapshot_revert as revert;
use oxvirt_domain::driver::state::{PausedReason, RunningReason};
use oxvirt_domain::driver::{Lifecycle, Result, SnapshotRef};
use oxvirt_domain::snapshot::{SnapshotDomain, SnapshotState};
use oxvirt_domain::Domain;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use super::disks::{for_each_qcow2, internal_disks};
use super::from_qemu;
use crate::driver::start::{Cpus, StartFrom};
use crate::driver::vm::{Stopping, Vm};
use crate::driver::{check_flags, internal, invalid, QemuDriver};

/// What a revert needs from the snapshot and the domain.
struct Plan {
    /// The snapshot keeps the memory state (it was taken running or paused).
    with_memory: bool,
    /// The snapshot was taken paused.
    was_paused: bool,
    /// The domain as the snapshot recorded it.
    config: Domain,
    /// Its persistent definition, when the snapshot recorded one apart.
    inactive: Option<Domain>,
    /// The images of the snapshot's disks.
    paths: Vec<String>,
    persistent: bool,
    active: bool,
}

impl QemuDriver {
    /// `virDomainRevertToSnapshot`.
    pub(crate) async fn snapshot_revert(&self, snap: &SnapshotRef, flags: u32) -> Result<()> {
        let both = revert::RUNNING | revert::PAUSED;
        if flags & both == both {
            return Err(VirError::raw(
                ErrorDomain::DomainSnapshot,
                ErrorCode::InvalidArg,
                "Flags 'VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING' and \
                 'VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED' are mutually exclusive",
            ));
        }
        check_flags(
            flags,
            both | revert::FORCE | revert::RESET_NVRAM,
            "qemuDomainRevertToSnapshot",
        )?;
        let dom = &snap.domain;
        let _job = self.lock_job(&dom.uuid).await?;
        let plan = self.with_obj(dom, |obj| {
            let s = obj.snapshots.lookup(&snap.name).map_err(from_qemu)?;
            let with_memory = matches!(
                s.def.state,
                Some(SnapshotState::Running | SnapshotState::Paused)
            );
            if !obj.persistent && !with_memory && flags & both == 0 {
                return Err(invalid(
                    "transient domain needs to request run or pause to revert to inactive \
                     snapshot",
                ));
            }
            if s.is_external() {
                return Err(crate::driver::parse::unsupported(
                    "revert to external snapshot not supported yet",
                ));
            }
            let Some(SnapshotDomain::Full(config)) = &s.def.domain else {
                return Err(VirError::new(
                    ErrorDomain::Qemu,
                    ErrorCode::SnapshotRevertRisky,
                    format!(
                        "snapshot '{}' lacks domain '{}' rollback info",
                        s.name(),
                        obj.name()
                    ),
                ));
            };
            if flags & revert::FORCE == 0 && obj.has_managed_save && !with_memory {
                return Err(VirError::new(
                    ErrorDomain::Qemu,
                    ErrorCode::SnapshotRevertRisky,
                    "snapshot without memory state, removal of existing managed saved state \
                     strongly recommended to avoid corruption",
                ));
            }
            Ok(Plan {
                with_memory,
                was_paused: s.def.state == Some(SnapshotState::Paused),
                paths: internal_disks(&s.def, config)?,
                config: (**config).clone(),
                inactive: s.def.inactive_domain.as_deref().cloned(),
                persistent: obj.persistent,
                active: obj.is_active(),
            })
        })?;
        if plan.active {
            if !plan.persistent {
                return self.revert_in_place(snap, &plan, flags).await;
            }
            let vm = self.running(dom)?;
            self.stop_for_snapshot(&vm).await;
        }
        let (config, inactive) = if plan.with_memory {
            let inactive = plan.inactive.clone().unwrap_or_else(|| plan.config.clone());
            (Some(plan.config.clone()), inactive)
        } else {
            (None, plan.config.clone())
        };
        self.with_obj(dom, |obj| {
            obj.assign_def(inactive, false);
            if let Some(config) = config {
                obj.assign_def(config, true);
            }
            Ok(())
        })?;
        if plan.with_memory {
            let paused =
                flags & revert::RUNNING == 0 && (plan.was_paused || flags & revert::PAUSED != 0);
            self.start_loaded(snap, paused).await?;
        } else {
            for_each_qcow2("-a", &snap.name, &plan.paths).await?;
            if flags & both != 0 {
                self.start_after_revert(snap, flags & revert::PAUSED != 0)
                    .await?;
            }
        }
        self.finish_revert(snap, plan.persistent)
    }

    /// Starts the domain paused (`STARTED` `FROM_SNAPSHOT`), loads the snapshot, then
    /// leaves it paused or runs it.
    async fn start_loaded(&self, snap: &SnapshotRef, paused: bool) -> Result<()> {
        let dom = &snap.domain;
        self.start_domain(
            &dom.uuid,
            Cpus::Pause(PausedReason::FromSnapshot),
            StartFrom::default(),
        )
        .await?;
        self.emit_lifecycle(snap, Lifecycle::Started(StartedDetail::FromSnapshot))?;
        let vm = self.running(dom)?;
        if let Err(e) = load(&vm, &snap.name).await {
            let _ = self.kill(&vm, Stopping::Destroyed, false).await;
            return Err(e);
        }
        if paused {
            self.emit_lifecycle(snap, Lifecycle::Suspended(SuspendedDetail::FromSnapshot))
        } else {
            self.unpause(
                dom,
                &vm,
                RunningReason::FromSnapshot,
                Some(ResumedDetail::FromSnapshot),
            )
            .await
        }
    }

    /// Starts the domain after reverting to a snapshot of it shut off (`RUNNING` or
    /// `PAUSED` asked): `RESUMED` `UNPAUSED` then `STARTED` `FROM_SNAPSHOT`, or `STARTED`
    /// then `SUSPENDED` `FROM_SNAPSHOT`, as libvirtd 9.0 reports them.
    async fn start_after_revert(&self, snap: &SnapshotRef, paused: bool) -> Result<()> {
        // libvirt starts it as a boot (running "booted", and QEMU's RESUME reported
        // before STARTED) or paused as by the user.
        let cpus = if paused {
            Cpus::Pause(PausedReason::User)
        } else {
            Cpus::Run(RunningReason::Booted)
        };
        self.start_domain(&snap.domain.uuid, cpus, StartFrom::default())
            .await?;
        if !paused {
            self.emit_lifecycle(snap, Lifecycle::Resumed(ResumedDetail::Unpaused))?;
        }
        self.emit_lifecycle(snap, Lifecycle::Started(StartedDetail::FromSnapshot))?;
        if paused {
            self.emit_lifecycle(snap, Lifecycle::Suspended(SuspendedDetail::FromSnapshot))?;
        }
        Ok(())
    }

    /// A transient domain cannot be stopped without going away: its QEMU is paused and
    /// the snapshot loaded into it.
    async fn revert_in_place(&self, snap: &SnapshotRef, plan: &Plan, flags: u32) -> Result<()> {
        let dom = &snap.domain;
        let vm = self.running(dom)?;
        if plan.with_memory {
            self.pause(dom, &vm, PausedReason::FromSnapshot).await?;
            self.emit_lifecycle(snap, Lifecycle::Suspended(SuspendedDetail::FromSnapshot))?;
            load(&vm, &snap.name).await?;
            let paused =
                flags & revert::RUNNING == 0 && (plan.was_paused || flags & revert::PAUSED != 0);
            if !paused {
                self.unpause(
                    dom,
                    &vm,
                    RunningReason::FromSnapshot,
                    Some(ResumedDetail::FromSnapshot),
                )
                .await?;
            }
            return self.finish_revert(snap, false);
        }
        Err(crate::driver::parse::unsupported(
            "reverting a running transient domain to a snapshot of it shut off is not supported",
        ))
    }

    /// Makes the snapshot current, writes the metadata and the definition, and reports
    /// the new definition of a persistent domain.
    fn finish_revert(&self, snap: &SnapshotRef, persistent: bool) -> Result<()> {
        let event = self.with_obj(&snap.domain, |obj| {
            obj.snapshots.set_current(Some(&snap.name));
            self.save_snapshots(obj)?;
            if !persistent {
                return Ok(None);
            }
            let def = obj.new_def().unwrap_or(obj.def()).clone();
            self.save_config(&def)?;
            Ok(Some(Self::lifecycle(
                obj,
                Lifecycle::Defined(DefinedDetail::FromSnapshot),
            )))
        })?;
        self.emit(event.into_iter().collect());
        Ok(())
    }

    fn emit_lifecycle(&self, snap: &SnapshotRef, event: Lifecycle) -> Result<()> {
        let event = self.with_obj(&snap.domain, |obj| Ok(Self::lifecycle(obj, event)))?;
        self.emit(vec![event]);
        Ok(())
    }
}

/// `snapshot-load` of `tag` into the stopped `vm`, the VM state from the first node.
async fn load(vm: &Arc<Vm>, tag: &str) -> Result<()> {
    let nodes = vm.qmp().snapshot_capable_nodes().await?;
    let Some(vmstate) = nodes.first() else {
        return Err(internal("no disk can hold the snapshot's state"));
    };
    let refs: Vec<&str> = nodes.iter().map(String::as_str).collect();
    vm.qmp().snapshot_load(tag, vmstate, &refs).await
}
