//! Defining, starting, stopping, pausing and rebooting domains.

use std::sync::Arc;

use oxvirt_domain::driver::event::{
    DefinedDetail, ResumedDetail, StartedDetail, SuspendedDetail, UndefinedDetail,
};
use oxvirt_domain::driver::flags::{create, define, destroy, reboot, shutdown, undefine};
use oxvirt_domain::driver::state::{PausedReason, RunningReason, ShutoffReason};
use oxvirt_domain::driver::{DomainRef, DomainState, Lifecycle, StateReason};
use oxvirt_domain::objects::domains::add_flags;
use oxvirt_xml::types::Uuid;
use oxvirt_xml::VirError;

use super::start::{Cpus, StartFrom};
use super::vm::{Stopping, Vm};
use super::{check_flags, check_name, invalid, no_domain, not_running, QemuDriver};

type Result<T> = std::result::Result<T, VirError>;

impl QemuDriver {
    /// The running QEMU of `dom`, or libvirt's "domain is not running".
    pub(crate) fn running(&self, dom: &DomainRef) -> Result<Arc<Vm>> {
        let active = self.with_obj(dom, |obj| Ok(obj.is_active()))?;
        match self.vm(&dom.uuid) {
            Some(vm) if active => Ok(vm),
            _ => Err(not_running()),
        }
    }

    /// `virDomainDefineXMLFlags` (`qemuDomainDefineXMLFlags`).
    pub(crate) async fn define(&self, xml: &str, flags: u32) -> Result<DomainRef> {
        check_flags(flags, define::VALIDATE, "qemuDomainDefineXMLFlags")?;
        let def = self.parse_definition(xml).await?;
        check_name(&def.name)?;
        let mut list = self.domains();
        let (obj, old) = list.add(def, 0)?;
        let was_persistent = obj.persistent;
        let uuid = obj.uuid();
        if let Err(e) = self.save_config(obj.persistent_def()) {
            // Undo: a new domain goes away, a redefined one gets its old definition back.
            match old {
                Some(old) => {
                    obj.assign_def(old, false);
                }
                None if !obj.is_active() => {
                    list.remove(&uuid);
                }
                None => {}
            }
            return Err(e);
        }
        obj.persistent = true;
        // As libvirt (virDomainObjAssignDef): a running transient domain had no next-boot
        // definition, so defining it is ADDED; only a persistent domain's is UPDATED.
        let detail = if was_persistent {
            DefinedDetail::Updated
        } else {
            DefinedDetail::Added
        };
        let event = Self::lifecycle(obj, Lifecycle::Defined(detail));
        let dom = obj.to_ref();
        drop(list);
        self.emit(vec![event]);
        Ok(dom)
    }

    /// `virDomainUndefineFlags` (`qemuDomainUndefineFlags`): a running domain becomes
    /// transient, an inactive one goes away.
    pub(crate) fn undefine(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        check_flags(
            flags,
            undefine::MANAGED_SAVE
                | undefine::SNAPSHOTS_METADATA
                | undefine::NVRAM
                | undefine::KEEP_NVRAM,
            "qemuDomainUndefineFlags",
        )?;
        let mut list = self.domains();
        let obj = list
            .find_by_uuid_mut(&dom.uuid)
            .ok_or_else(|| no_domain(dom))?;
        if !obj.persistent {
            return Err(invalid("cannot undefine transient domain"));
        }
        let nsnapshots = obj.snapshots.len();
        if !obj.is_active() && nsnapshots > 0 && flags & undefine::SNAPSHOTS_METADATA == 0 {
            return Err(invalid(format!(
                "cannot delete inactive domain with {nsnapshots} snapshots"
            )));
        }
        let managed = self.managed_save_path(obj.name());
        if managed.exists() {
            if flags & undefine::MANAGED_SAVE == 0 {
                return Err(invalid(
                    "Refusing to undefine while domain managed save image exists",
                ));
            }
            std::fs::remove_file(&managed).map_err(|e| {
                super::internal(format!(
                    "Failed to remove managed save file '{}': {e}",
                    managed.display()
                ))
            })?;
            obj.has_managed_save = false;
        }
        self.delete_config(obj.name())?;
        self.unmark_autostart(obj.name())?;
        obj.autostart = false;
        self.delete_snapshot_files(obj.name());
        let event = Self::lifecycle(obj, Lifecycle::Undefined(UndefinedDetail::Removed));
        if obj.is_active() {
            obj.persistent = false;
            obj.snapshots = Default::default();
        } else {
            let uuid = obj.uuid();
            list.remove(&uuid);
        }
        drop(list);
        self.emit(vec![event]);
        Ok(())
    }

    /// Starts the inactive domain `uuid` under its job and reports it as libvirtd does.
    pub(crate) async fn start_reported(
        &self,
        uuid: &Uuid,
        paused: bool,
        from: StartFrom,
        detail: StartedDetail,
    ) -> Result<DomainRef> {
        let cpus = if paused {
            Cpus::Pause(PausedReason::User)
        } else {
            Cpus::Run(match detail {
                StartedDetail::Restored => RunningReason::Restored,
                StartedDetail::FromSnapshot => RunningReason::FromSnapshot,
                _ => RunningReason::Booted,
            })
        };
        if let Err(e) = self.start_domain(uuid, cpus, from).await {
            // libvirt leaves a domain that failed to start shut off for reason "failed".
            let mut list = self.domains();
            if let Some(obj) = list.find_by_uuid_mut(uuid) {
                if !obj.is_active() {
                    obj.state = StateReason::Shutoff(ShutoffReason::Failed);
                }
            }
            return Err(e);
        }
        let list = self.domains();
        let obj = list
            .find_by_uuid(uuid)
            .ok_or_else(|| super::internal("domain vanished while starting"))?;
        let mut events = Vec::new();
        if !paused {
            events.push(Self::lifecycle(
                obj,
                Lifecycle::Resumed(ResumedDetail::Unpaused),
            ));
        }
        events.push(Self::lifecycle(obj, Lifecycle::Started(detail)));
        if paused {
            events.push(Self::lifecycle(
                obj,
                Lifecycle::Suspended(SuspendedDetail::Paused),
            ));
        }
        let dom = obj.to_ref();
        drop(list);
        self.emit(events);
        Ok(dom)
    }

    /// `virDomainCreateXML` (`qemuDomainCreateXML`): a transient domain started now.
    pub(crate) async fn create_xml(&self, xml: &str, flags: u32) -> Result<DomainRef> {
        check_flags(
            flags,
            create::PAUSED | create::VALIDATE,
            "qemuDomainCreateXML",
        )?;
        let def = self.parse_definition(xml).await?;
        check_name(&def.name)?;
        let uuid = {
            let mut list = self.domains();
            let (obj, _) = list.add(def, add_flags::LIVE | add_flags::CHECK_LIVE)?;
            obj.uuid()
        };
        let job = self.job(&uuid);
        let _job = job.lock().await;
        let started = self
            .start_reported(
                &uuid,
                flags & create::PAUSED != 0,
                StartFrom::default(),
                StartedDetail::Booted,
            )
            .await;
        if started.is_err() {
            let mut list = self.domains();
            if list
                .find_by_uuid(&uuid)
                .is_some_and(|o| !o.persistent && !o.is_active())
            {
                list.remove(&uuid);
            }
        }
        started
    }

    /// `virDomainCreateWithFlags` (`qemuDomainCreateWithFlags`); a managed-save image is
    /// restored unless `FORCE_BOOT`.
    pub(crate) async fn create(&self, dom: &DomainRef, flags: u32) -> Result<DomainRef> {
        check_flags(
            flags,
            create::PAUSED | create::BYPASS_CACHE | create::FORCE_BOOT | create::RESET_NVRAM,
            "qemuDomainCreateWithFlags",
        )?;
        let job = self.job(&dom.uuid);
        let _job = job.lock().await;
        let (active, name) =
            self.with_obj(dom, |obj| Ok((obj.is_active(), obj.name().to_string())))?;
        if active {
            return Err(invalid("domain is already running"));
        }
        let managed = self.managed_save_path(&name);
        if managed.exists() {
            if flags & create::FORCE_BOOT == 0 {
                return self
                    .restore_managed(dom, &managed, flags & create::PAUSED != 0)
                    .await;
            }
            let _ = std::fs::remove_file(&managed);
            self.with_obj(dom, |obj| {
                obj.has_managed_save = false;
                Ok(())
            })?;
        }
        self.start_reported(
            &dom.uuid,
            flags & create::PAUSED != 0,
            StartFrom::default(),
            StartedDetail::Booted,
        )
        .await
    }

    /// Stops the running domain `dom` by signalling QEMU, for `why`, and waits until it
    /// is shut off.
    pub(crate) async fn kill(&self, vm: &Arc<Vm>, why: Stopping, graceful: bool) -> Result<()> {
        vm.set_stopping(why);
        vm.process().destroy(graceful).await?;
        vm.wait_done().await;
        Ok(())
    }

    /// `virDomainDestroyFlags` (`qemuDomainDestroyFlags`).
    pub(crate) async fn destroy(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        check_flags(flags, destroy::GRACEFUL, "qemuDomainDestroyFlags")?;
        let vm = self.running(dom)?;
        // No job lock: destroy interrupts whatever runs (libvirt's destroy does too).
        self.kill(&vm, Stopping::Destroyed, flags & destroy::GRACEFUL != 0)
            .await
    }

    /// `virDomainShutdownFlags` (`qemuDomainShutdownFlags`): the ACPI power button.
    pub(crate) async fn shutdown(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        check_flags(
            flags,
            shutdown::ACPI_POWER_BTN | shutdown::GUEST_AGENT,
            "qemuDomainShutdownFlags",
        )?;
        if flags & shutdown::GUEST_AGENT != 0 && flags & shutdown::ACPI_POWER_BTN == 0 {
            return Err(super::parse::unsupported(
                "QEMU guest agent is not configured",
            ));
        }
        let vm = self.running(dom)?;
        let state = self.with_obj(dom, |obj| Ok(obj.state()))?;
        if state != DomainState::Running && state != DomainState::Paused {
            return Err(invalid("domain is not running"));
        }
        vm.set_fake_reboot(false);
        vm.qmp().system_powerdown().await?;
        Ok(())
    }

    /// `virDomainReboot` (`qemuDomainReboot`): the ACPI power button, and a reset once the
    /// guest has powered off (libvirt's fake reboot).
    pub(crate) async fn reboot(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        check_flags(
            flags,
            reboot::ACPI_POWER_BTN | reboot::GUEST_AGENT,
            "qemuDomainReboot",
        )?;
        if flags & reboot::GUEST_AGENT != 0 && flags & reboot::ACPI_POWER_BTN == 0 {
            return Err(super::parse::unsupported(
                "QEMU guest agent is not configured",
            ));
        }
        let vm = self.running(dom)?;
        vm.set_fake_reboot(true);
        if let Err(e) = vm.qmp().system_powerdown().await {
            vm.set_fake_reboot(false);
            return Err(e.into());
        }
        Ok(())
    }

    /// `virDomainReset` (`qemuDomainReset`).
    pub(crate) async fn reset(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        check_flags(flags, 0, "qemuDomainReset")?;
        let vm = self.running(dom)?;
        vm.qmp().system_reset().await?;
        self.with_obj(dom, |obj| {
            if obj.state() == DomainState::Crashed {
                obj.state = StateReason::Paused(PausedReason::Crashed);
            }
            Ok(())
        })
    }

    /// Pauses the CPUs for `reason` and reports it, unless they are paused already.
    pub(crate) async fn pause(
        &self,
        dom: &DomainRef,
        vm: &Vm,
        reason: PausedReason,
    ) -> Result<bool> {
        if self.with_obj(dom, |obj| Ok(obj.state()))? == DomainState::Paused {
            return Ok(false);
        }
        vm.set_cpus_by_call(true);
        let stopped = vm.qmp().stop().await;
        let event = self.with_obj(dom, |obj| {
            if stopped.is_ok() {
                obj.state = StateReason::Paused(reason);
                self.refresh_status(obj);
            }
            Ok(Self::lifecycle(
                obj,
                Lifecycle::Suspended(SuspendedDetail::Paused),
            ))
        });
        vm.set_cpus_by_call(false);
        stopped?;
        if reason == PausedReason::User {
            self.emit(vec![event?]);
        }
        Ok(true)
    }

    /// Runs the CPUs again for `reason`, reporting `detail`.
    pub(crate) async fn unpause(
        &self,
        dom: &DomainRef,
        vm: &Vm,
        reason: RunningReason,
        detail: Option<ResumedDetail>,
    ) -> Result<()> {
        vm.set_cpus_by_call(true);
        let resumed = vm.qmp().cont().await;
        let event = self.with_obj(dom, |obj| {
            if resumed.is_ok() {
                obj.state = StateReason::Running(reason);
                self.refresh_status(obj);
            }
            Ok(detail.map(|d| Self::lifecycle(obj, Lifecycle::Resumed(d))))
        });
        vm.set_cpus_by_call(false);
        resumed?;
        self.emit(event?.into_iter().collect());
        Ok(())
    }

    /// `virDomainSuspend` (`qemuDomainSuspend`).
    pub(crate) async fn suspend(&self, dom: &DomainRef) -> Result<()> {
        let vm = self.running(dom)?;
        let job = self.job(&dom.uuid);
        let _job = job.lock().await;
        self.pause(dom, &vm, PausedReason::User).await.map(|_| ())
    }

    /// `virDomainResume` (`qemuDomainResume`).
    pub(crate) async fn resume(&self, dom: &DomainRef) -> Result<()> {
        let vm = self.running(dom)?;
        let job = self.job(&dom.uuid);
        let _job = job.lock().await;
        let state = self.with_obj(dom, |obj| Ok(obj.state))?;
        match state {
            StateReason::PmSuspended(_) => Err(invalid("domain is pmsuspended")),
            StateReason::Paused(_) | StateReason::Crashed(_) => {
                self.unpause(
                    dom,
                    &vm,
                    RunningReason::Unpaused,
                    Some(ResumedDetail::Unpaused),
                )
                .await
            }
            _ => Ok(()),
        }
    }
}
