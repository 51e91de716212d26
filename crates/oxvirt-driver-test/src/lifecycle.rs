//! Defining, starting and stopping domains, as libvirt's test driver does it.

use oxvirt_domain::driver::event::{
    DefinedDetail, ResumedDetail, StartedDetail, StoppedDetail, SuspendedDetail, UndefinedDetail,
};
use oxvirt_domain::driver::flags::{create, define, destroy, reboot, undefine};
use oxvirt_domain::driver::state::{PausedReason, RunningReason, ShutoffReason, StateReason};
use oxvirt_domain::driver::{DomainRef, DomainState, Lifecycle, Result};
use oxvirt_domain::objects::domains::add_flags;
use oxvirt_domain::{Domain, LifecycleAction};
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use crate::driver::{check_flags, internal, lifecycle, Node, TestDriver};
use crate::parse::parse_domain;

/// What the test driver does with a guest that powers off or reboots
/// (`testDomainActionSetState`): keep it running for the restart actions, else stop it.
fn action_state(action: Option<LifecycleAction>) -> StateReason {
    match action {
        Some(LifecycleAction::Restart | LifecycleAction::RenameRestart) => {
            StateReason::Running(RunningReason::Booted)
        }
        _ => StateReason::Shutoff(ShutoffReason::Shutdown),
    }
}

impl Node {
    /// Starts `obj` with a fresh ID (libvirt's `testDomainStartState`).
    pub(crate) fn start_domain(&mut self, uuid: &oxvirt_xml::types::Uuid, reason: RunningReason) {
        let id = self.domains.alloc_id();
        if let Some(obj) = self.domains.find_by_uuid_mut(uuid) {
            obj.start(id, StateReason::Running(reason));
        }
    }

    /// Stops the domain for `reason` and reports `detail`; a transient domain goes away.
    pub(crate) fn stop_domain(
        &mut self,
        dom: &DomainRef,
        reason: ShutoffReason,
        detail: StoppedDetail,
    ) -> Result<oxvirt_domain::driver::DomainEvent> {
        let obj = self.obj_mut(dom)?;
        obj.stop(reason);
        let event = lifecycle(obj, Lifecycle::Stopped(detail));
        if !obj.persistent {
            let uuid = obj.uuid();
            self.domains.remove(&uuid);
        }
        Ok(event)
    }

    /// Adds `def` to be started now (`VIR_DOMAIN_OBJ_LIST_ADD_LIVE | CHECK_LIVE`), starts it
    /// for `reason` and reports `detail`.
    pub(crate) fn add_and_start(
        &mut self,
        def: Domain,
        reason: RunningReason,
        detail: StartedDetail,
    ) -> Result<(DomainRef, oxvirt_domain::driver::DomainEvent)> {
        let (obj, _) = self
            .domains
            .add(def, add_flags::LIVE | add_flags::CHECK_LIVE)?;
        let uuid = obj.uuid();
        self.start_domain(&uuid, reason);
        let obj = self
            .domains
            .find_by_uuid(&uuid)
            .ok_or_else(|| internal("domain vanished while starting"))?;
        Ok((obj.to_ref(), lifecycle(obj, Lifecycle::Started(detail))))
    }
}

/// libvirt's `virXMLCheckIllegalChars("name", name, "\n")`.
fn check_name(def: &Domain) -> Result<()> {
    if def.name.contains('\n') {
        return Err(VirError::raw(
            ErrorDomain::Xml,
            ErrorCode::XmlDetail,
            "invalid char in name: \n",
        ));
    }
    Ok(())
}

impl TestDriver {
    /// `virDomainDefineXMLFlags` (`testDomainDefineXMLFlags`).
    pub fn define_xml_sync(&self, xml: &str, flags: u32) -> Result<DomainRef> {
        check_flags(flags, define::VALIDATE, "testDomainDefineXMLFlags")?;
        let (def, _) = parse_domain(xml)?;
        check_name(&def)?;
        let mut node = self.lock();
        let (obj, old) = node.domains.add(def, 0)?;
        obj.persistent = true;
        let detail = match old {
            None => DefinedDetail::Added,
            Some(_) => DefinedDetail::Updated,
        };
        let event = lifecycle(obj, Lifecycle::Defined(detail));
        let dom = obj.to_ref();
        self.emit(vec![event]);
        Ok(dom)
    }

    /// `virDomainUndefineFlags` (`testDomainUndefineFlags`): a running domain becomes
    /// transient, an inactive one goes away.
    pub fn undefine_sync(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        check_flags(
            flags,
            undefine::MANAGED_SAVE | undefine::SNAPSHOTS_METADATA,
            "testDomainUndefineFlags",
        )?;
        let mut node = self.lock();
        let obj = node.obj_mut(dom)?;
        if obj.has_managed_save && flags & undefine::MANAGED_SAVE == 0 {
            return Err(crate::driver::invalid(
                "Refusing to undefine while domain managed save image exists",
            ));
        }
        let nsnapshots = obj.snapshots.len();
        if !obj.is_active() && nsnapshots > 0 && flags & undefine::SNAPSHOTS_METADATA == 0 {
            return Err(crate::driver::invalid(format!(
                "cannot delete inactive domain with {nsnapshots} snapshots"
            )));
        }
        let event = lifecycle(obj, Lifecycle::Undefined(UndefinedDetail::Removed));
        obj.has_managed_save = false;
        if obj.is_active() {
            obj.persistent = false;
        } else {
            let uuid = obj.uuid();
            node.domains.remove(&uuid);
        }
        self.emit(vec![event]);
        Ok(())
    }

    /// `virDomainCreateXML` (`testDomainCreateXML`): starts a transient domain, or a
    /// defined inactive one with this definition as its live one.
    pub fn create_xml_sync(&self, xml: &str, flags: u32) -> Result<DomainRef> {
        check_flags(flags, create::VALIDATE, "testDomainCreateXML")?;
        let (def, _) = parse_domain(xml)?;
        let mut node = self.lock();
        let (dom, event) = node.add_and_start(def, RunningReason::Booted, StartedDetail::Booted)?;
        self.emit(vec![event]);
        Ok(dom)
    }

    /// `virDomainCreateWithFlags` (`testDomainCreateWithFlags`). A managed-save image is
    /// dropped: the test driver boots the domain afresh.
    pub fn create_sync(&self, dom: &DomainRef, flags: u32) -> Result<DomainRef> {
        check_flags(flags, 0, "testDomainCreateWithFlags")?;
        let mut node = self.lock();
        let obj = node.obj(dom)?;
        if obj.state() != DomainState::Shutoff {
            return Err(internal(format!(
                "Domain '{}' is already running",
                dom.name
            )));
        }
        let uuid = obj.uuid();
        node.start_domain(&uuid, RunningReason::Booted);
        let obj = node.obj(dom)?;
        let event = lifecycle(obj, Lifecycle::Started(StartedDetail::Booted));
        let started = obj.to_ref();
        self.emit(vec![event]);
        Ok(started)
    }

    /// `virDomainDestroyFlags` (`testDomainDestroyFlags`).
    pub fn destroy_sync(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        check_flags(flags, destroy::GRACEFUL, "testDomainDestroyFlags")?;
        let mut node = self.lock();
        node.obj(dom)?.check_active()?;
        let event = node.stop_domain(dom, ShutoffReason::Destroyed, StoppedDetail::Destroyed)?;
        self.emit(vec![event]);
        Ok(())
    }

    /// `virDomainShutdownFlags` (`testDomainShutdownFlags`): follows `<on_poweroff>`.
    pub fn shutdown_sync(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        check_flags(flags, 0, "testDomainShutdownFlags")?;
        let mut node = self.lock();
        let obj = node.obj(dom)?;
        if obj.state() == DomainState::Shutoff {
            return Err(internal(format!("domain '{}' not running", dom.name)));
        }
        let action = obj.def().on_poweroff;
        self.guest_action(&mut node, dom, action)
    }

    /// `virDomainReboot` (`testDomainReboot`): follows `<on_reboot>`. libvirt's test
    /// driver emits no reboot event.
    pub fn reboot_sync(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        let all = reboot::ACPI_POWER_BTN
            | reboot::GUEST_AGENT
            | reboot::INITCTL
            | reboot::SIGNAL
            | reboot::PARAVIRT;
        check_flags(flags, all, "testDomainReboot")?;
        let mut node = self.lock();
        let obj = node.obj(dom)?;
        obj.check_active()?;
        let action = obj.def().on_reboot;
        self.guest_action(&mut node, dom, action)
    }

    /// The state a guest power-off or reboot leads to; stopping reports
    /// `STOPPED_SHUTDOWN` (and a transient domain goes away).
    fn guest_action(
        &self,
        node: &mut Node,
        dom: &DomainRef,
        action: Option<LifecycleAction>,
    ) -> Result<()> {
        match action_state(action) {
            StateReason::Shutoff(reason) => {
                let event = node.stop_domain(dom, reason, StoppedDetail::Shutdown)?;
                self.emit(vec![event]);
            }
            state => node.obj_mut(dom)?.state = state,
        }
        Ok(())
    }

    /// `virDomainReset` (`testDomainReset`): nothing happens to a running domain.
    pub fn reset_sync(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        check_flags(flags, 0, "testDomainReset")?;
        self.lock().obj(dom)?.check_active()
    }

    /// `virDomainSuspend` (`testDomainSuspend`).
    pub fn suspend_sync(&self, dom: &DomainRef) -> Result<()> {
        let mut node = self.lock();
        let obj = node.obj_mut(dom)?;
        if matches!(obj.state(), DomainState::Shutoff | DomainState::Paused) {
            return Err(internal(format!("domain '{}' not running", dom.name)));
        }
        obj.state = StateReason::Paused(PausedReason::User);
        let event = lifecycle(obj, Lifecycle::Suspended(SuspendedDetail::Paused));
        self.emit(vec![event]);
        Ok(())
    }

    /// `virDomainResume` (`testDomainResume`).
    pub fn resume_sync(&self, dom: &DomainRef) -> Result<()> {
        let mut node = self.lock();
        let obj = node.obj_mut(dom)?;
        if obj.state() != DomainState::Paused {
            return Err(internal(format!("domain '{}' not paused", dom.name)));
        }
        obj.state = StateReason::Running(RunningReason::Unpaused);
        let event = lifecycle(obj, Lifecycle::Resumed(ResumedDetail::Unpaused));
        self.emit(vec![event]);
        Ok(())
    }
}
