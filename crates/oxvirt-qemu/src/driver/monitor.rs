//! Watching a running domain: QEMU's events become libvirt's state changes and events,
//! the guest's power-off and crash follow `<on_poweroff>` and `<on_crash>`, and QEMU's exit
//! stops the domain (a crash, unless the driver or the guest asked for it).
//!
//! What libvirtd 9.0 reports, observed with a real guest, and done the same here:
//! - start: `RESUMED_UNPAUSED` then `STARTED_BOOTED` (reported by the start call);
//! - shutdown: `SHUTDOWN_GUEST` when the guest powers off, then `STOPPED_SHUTDOWN`;
//! - destroy: `SHUTDOWN_HOST` (QEMU's SHUTDOWN on SIGTERM), then `STOPPED_DESTROYED`;
//! - reboot through ACPI: no lifecycle event, one `REBOOT` when QEMU resets;
//! - reset: `REBOOT`;
//! - QEMU killed: `STOPPED_FAILED`, state shut off, reason crashed.

use std::sync::Arc;
use std::time::Duration;

use oxvirt_domain::driver::event::{
    CrashedDetail, ResumedDetail, ShutdownDetail, StoppedDetail, SuspendedDetail,
};
use oxvirt_domain::driver::state::{
    CrashedReason, PausedReason, RunningReason, ShutdownReason, ShutoffReason,
};
use oxvirt_domain::driver::{DomainEvent, DomainState, EventKind, Lifecycle, StateReason};
use oxvirt_domain::LifecycleAction;
use oxvirt_xml::types::Uuid;

use super::vm::{Stopping, Vm};
use super::QemuDriver;
use crate::qmp::{Events, QmpEvent};

/// How long a QEMU that closed its monitor gets to exit before it is killed.
const EXIT_AFTER_EOF: Duration = Duration::from_secs(5);

/// Starts watching `vm`, the QEMU of domain `uuid`.
pub(crate) fn spawn(driver: &QemuDriver, uuid: Uuid, vm: Arc<Vm>, mut events: Events) {
    let driver = driver.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                ev = events.recv() => match ev {
                    Some(ev) => driver.on_event(&uuid, &vm, ev),
                    None => break,
                },
                _ = vm.process().wait_exit(Duration::MAX) => break,
            }
        }
        while let Some(ev) = events.try_recv() {
            driver.on_event(&uuid, &vm, ev);
        }
        if vm.process().wait_exit(EXIT_AFTER_EOF).await.is_none() {
            // The monitor closed but QEMU lingers: it cannot be managed any more.
            let _ = vm.process().destroy(false).await;
        }
        driver.finish_stop(&uuid, &vm, None).await;
    });
}

impl QemuDriver {
    /// Changes the state of domain `uuid` if it still runs `vm`, returning the events.
    pub(crate) fn update(
        &self,
        uuid: &Uuid,
        vm: &Arc<Vm>,
        f: impl FnOnce(&mut oxvirt_domain::objects::domains::DomainObj) -> Vec<EventKind>,
    ) {
        let current = self.vm(uuid).is_some_and(|v| Arc::ptr_eq(&v, vm));
        if !current {
            return;
        }
        let events: Vec<DomainEvent> = {
            let mut list = self.domains();
            let Some(obj) = list.find_by_uuid_mut(uuid) else {
                return;
            };
            let kinds = f(obj);
            if !kinds.is_empty() {
                self.refresh_status(obj);
            }
            kinds
                .into_iter()
                .map(|kind| DomainEvent {
                    domain: obj.to_ref(),
                    kind,
                })
                .collect()
        };
        self.emit(events);
    }

    fn on_event(&self, uuid: &Uuid, vm: &Arc<Vm>, ev: QmpEvent) {
        match ev.name.as_str() {
            "STOP" => self.update(uuid, vm, |obj| {
                if vm.cpus_by_call() || vm.got_shutdown() || obj.state() != DomainState::Running {
                    return vec![];
                }
                obj.state = StateReason::Paused(PausedReason::Unknown);
                vec![EventKind::Lifecycle(Lifecycle::Suspended(
                    SuspendedDetail::Paused,
                ))]
            }),
            "RESUME" => self.update(uuid, vm, |obj| {
                if vm.cpus_by_call() || obj.state() != DomainState::Paused {
                    return vec![];
                }
                obj.state = StateReason::Running(RunningReason::Unpaused);
                vec![EventKind::Lifecycle(Lifecycle::Resumed(
                    ResumedDetail::Unpaused,
                ))]
            }),
            "RESET" => self.update(uuid, vm, |_| vec![EventKind::Reboot]),
            "SHUTDOWN" => self.on_shutdown(uuid, vm, &ev),
            "GUEST_PANICKED" => self.on_panic(uuid, vm),
            "BALLOON_CHANGE" => {
                let Some(actual) = ev.data.get("actual").and_then(|v| v.as_u64()) else {
                    return;
                };
                self.update(uuid, vm, |obj| {
                    let kib = actual / 1024;
                    obj.def_mut().current_memory = Some(kib);
                    vec![EventKind::BalloonChange { actual_kib: kib }]
                });
            }
            "MIGRATION" => {
                if let Some(crate::qmp::ops::MigrationEvent::Status(status)) =
                    crate::qmp::ops::MigrationEvent::from_event(&ev)
                {
                    vm.set_migration_status(status);
                }
            }
            // A new pass of an outgoing migration (QEMU sends it with the `events`
            // capability, which every migration turns on), as libvirt reports it.
            "MIGRATION_PASS" => {
                let Some(pass) = ev.data.get("pass").and_then(|v| v.as_i64()) else {
                    return;
                };
                // Nothing changes in the domain's state: no status file to write.
                let domain = self.domains().find_by_uuid(uuid).map(|obj| obj.to_ref());
                if let Some(domain) = domain {
                    self.emit(vec![DomainEvent {
                        domain,
                        kind: EventKind::MigrationIteration {
                            iteration: i32::try_from(pass).unwrap_or(i32::MAX),
                        },
                    }]);
                }
            }
            "DEVICE_DELETED" => {
                if let Some(alias) = ev.data.get("device").and_then(|v| v.as_str()) {
                    self.on_device_deleted(uuid, vm, alias);
                }
            }
            _ => {}
        }
    }

    /// The guest powered off, or QEMU was asked to quit (SIGTERM, `quit`).
    fn on_shutdown(&self, uuid: &Uuid, vm: &Arc<Vm>, ev: &QmpEvent) {
        if vm.got_shutdown() {
            // A second SHUTDOWN (the guest powered off, then QEMU got SIGTERM): reported
            // once, as libvirt does.
            return;
        }
        vm.set_got_shutdown(true);
        if vm.fake_reboot() {
            vm.set_fake_reboot(false);
            self.restart_guest(vm);
            return;
        }
        let guest = ev
            .data
            .get("guest")
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        let mut action = None;
        self.update(uuid, vm, |obj| {
            let detail = if guest {
                ShutdownDetail::Guest
            } else {
                ShutdownDetail::Host
            };
            if obj.is_active() {
                obj.state = StateReason::Shutdown(ShutdownReason::Unknown);
            }
            action = Some(obj.def().on_poweroff);
            vec![EventKind::Lifecycle(Lifecycle::Shutdown(detail))]
        });
        if vm.stopping() != Stopping::No {
            return;
        }
        match action.flatten() {
            Some(LifecycleAction::Restart | LifecycleAction::RenameRestart) => {
                self.restart_guest(vm);
            }
            Some(LifecycleAction::Preserve) => {}
            _ => {
                vm.set_stopping(Stopping::Shutdown);
                let vm = vm.clone();
                tokio::spawn(async move {
                    let _ = vm.process().destroy(false).await;
                });
            }
        }
    }

    /// The guest panicked: crashed, then `<on_crash>`.
    fn on_panic(&self, uuid: &Uuid, vm: &Arc<Vm>) {
        let mut action = None;
        self.update(uuid, vm, |obj| {
            obj.state = StateReason::Crashed(CrashedReason::Panicked);
            action = Some(obj.def().on_crash);
            vec![EventKind::Lifecycle(Lifecycle::Crashed(
                CrashedDetail::Panicked,
            ))]
        });
        match action.flatten() {
            Some(LifecycleAction::Preserve | LifecycleAction::CoredumpRestart) => {}
            Some(LifecycleAction::Restart | LifecycleAction::RenameRestart) => {
                self.restart_guest(vm)
            }
            _ => {
                vm.set_stopping(Stopping::Crashed);
                let vm = vm.clone();
                tokio::spawn(async move {
                    let _ = vm.process().destroy(false).await;
                });
            }
        }
    }

    /// libvirt's fake reboot: reset the machine and run it again. QEMU's STOP and RESUME
    /// on the way are not reported (the domain stays running for libvirt's clients).
    fn restart_guest(&self, vm: &Arc<Vm>) {
        let vm = vm.clone();
        tokio::spawn(async move {
            let _ = vm.qmp().system_reset().await;
            let _ = vm.qmp().cont().await;
            vm.set_got_shutdown(false);
        });
    }

    /// Stops domain `uuid` once its QEMU `vm` has exited: the reason and event follow
    /// why it stopped (`reason` if given). Does nothing if the domain no longer runs `vm`
    /// (another path already stopped it). Wakes those waiting for the stop.
    pub(crate) async fn finish_stop(
        &self,
        uuid: &Uuid,
        vm: &Arc<Vm>,
        reason: Option<(ShutoffReason, StoppedDetail)>,
    ) {
        let current = self.vm(uuid).is_some_and(|v| Arc::ptr_eq(&v, vm));
        if !current {
            vm.mark_done();
            return;
        }
        self.release_taps(uuid);
        let ports = self.ports_of(uuid);
        let (reason, detail) = reason.unwrap_or_else(|| match vm.stopping() {
            Stopping::No if vm.got_shutdown() => (ShutoffReason::Shutdown, StoppedDetail::Shutdown),
            Stopping::No => (ShutoffReason::Crashed, StoppedDetail::Failed),
            Stopping::Destroyed => (ShutoffReason::Destroyed, StoppedDetail::Destroyed),
            Stopping::Shutdown => (ShutoffReason::Shutdown, StoppedDetail::Shutdown),
            Stopping::Saved => (ShutoffReason::Saved, StoppedDetail::Saved),
            Stopping::FromSnapshot => (ShutoffReason::FromSnapshot, StoppedDetail::FromSnapshot),
            Stopping::Crashed => (ShutoffReason::Crashed, StoppedDetail::Crashed),
            Stopping::Migrated => (ShutoffReason::Migrated, StoppedDetail::Migrated),
            Stopping::Failed => (ShutoffReason::Failed, StoppedDetail::Failed),
        });
        let (event, name) = {
            let mut list = self.domains();
            self.set_vm(*uuid, None);
            let Some(obj) = list.find_by_uuid_mut(uuid) else {
                vm.mark_done();
                return;
            };
            let name = obj.name().to_string();
            obj.stop(reason);
            let event = Self::lifecycle(obj, Lifecycle::Stopped(detail));
            if !obj.persistent {
                list.remove(uuid);
            }
            self.delete_status(&name);
            (event, name)
        };
        let _ = std::fs::remove_file(&vm.monitor);
        let _ = std::fs::remove_dir_all(&vm.private_dir);
        // The channels' sockets (`channel/target/domain-ID-NAME` beside the private dir).
        if let (Some(state), Some(dir)) = (vm.private_dir.parent(), vm.private_dir.file_name()) {
            let _ = std::fs::remove_dir_all(state.join("channel/target").join(dir));
        }
        self.unplug_ports(ports).await;
        self.clear_in_use(&name);
        self.emit(vec![event]);
        vm.mark_done();
    }
}
