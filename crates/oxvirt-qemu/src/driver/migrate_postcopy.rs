//! Post-copy migration (`virsh migrate --postcopy`, then `virsh migrate-postcopy` or
//! `--postcopy-after-precopy`), with libvirt's states and events:
//!
//! - `virDomainMigrateStartPostCopy` makes the source QEMU switch (`migrate-start-postcopy`):
//!   the source stops for good (paused, reason `post-copy`; `SUSPENDED_POSTCOPY`) and the
//!   perform phase returns as soon as QEMU reports `postcopy-active`;
//! - the destination's finish phase resumes the guest at once, while its memory still
//!   arrives page by page (running, reason `post-copy`; `RESUMED_POSTCOPY`), and returns;
//!   when the incoming migration completes the domain runs for reason `migrated`
//!   (`RESUMED_MIGRATED`), or, should it fail, is paused for reason `post-copy failed`
//!   (`SUSPENDED_POSTCOPY_FAILED`): neither host holds the whole guest then;
//! - the source's confirm phase waits for QEMU to complete before it kills the source.
//!
//! A migration in post-copy cannot be aborted (libvirt's "cannot abort migration in
//! post-copy mode"): the guest would be lost.

use std::sync::Arc;
use std::time::Duration;

use oxvirt_domain::driver::event::{ResumedDetail, SuspendedDetail};
use oxvirt_domain::driver::state::{PausedReason, RunningReason};
use oxvirt_domain::driver::{DomainRef, EventKind, Lifecycle, StateReason};
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use super::vm::Vm;
use super::QemuDriver;
use crate::qmp::ops::MigrationInfo;

type Result<T> = std::result::Result<T, VirError>;

/// QEMU's migration status once post-copy runs.
pub(crate) const POSTCOPY_ACTIVE: &str = "postcopy-active";

fn invalid(msg: &str) -> VirError {
    VirError::new(ErrorDomain::Qemu, ErrorCode::OperationInvalid, msg)
}

/// Waits until an incoming migration has either completed or switched to post-copy (when
/// the destination may run the guest); a failed one is libvirt's error for `job`.
pub(crate) async fn wait_arrived_or_postcopy(
    vm: &Vm,
    poll: Duration,
    job: &str,
) -> Result<MigrationInfo> {
    // QEMU's MIGRATION events (on with the `events` capability) wake the wait as soon as
    // the status changes; the poll is the fallback.
    let mut events = vm.migration_events();
    events.mark_unchanged();
    loop {
        let info = vm.qmp().query_migrate().await?;
        if matches!(info.status(), "completed" | POSTCOPY_ACTIVE) {
            return Ok(info);
        }
        if let Some(err) = info.to_vir_error(job) {
            return Err(err);
        }
        tokio::select! {
            _ = tokio::time::sleep(poll) => {}
            _ = events.changed() => {}
        }
    }
}

/// Waits until QEMU's migration (either end) leaves post-copy: `Ok` once completed, else
/// libvirt's error for `job`.
async fn wait_postcopy_done(vm: &Vm, poll: Duration, job: &str) -> Result<MigrationInfo> {
    loop {
        let info = vm.qmp().query_migrate().await?;
        match info.status() {
            "completed" => return Ok(info),
            POSTCOPY_ACTIVE | "postcopy-recover" => {}
            // QEMU pauses a post-copy whose connection broke; nothing will resume it.
            "postcopy-paused" => {
                return Err(VirError::new(
                    ErrorDomain::Qemu,
                    ErrorCode::OperationFailed,
                    format!("{job}: post-copy migration failed"),
                ))
            }
            _ => {
                if let Some(err) = info.to_vir_error(job) {
                    return Err(err);
                }
            }
        }
        tokio::time::sleep(poll).await;
    }
}

impl QemuDriver {
    /// `virDomainMigrateStartPostCopy`: switches `dom`'s outgoing migration to post-copy,
    /// refused as libvirt refuses it when no migration runs or it was not started with
    /// `VIR_MIGRATE_POSTCOPY`.
    pub(crate) async fn migrate_start_post_copy(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        super::check_flags(flags, 0, "qemuDomainMigrateStartPostCopy")?;
        let vm = self.running(dom)?;
        let info = vm.qmp().query_migrate().await?;
        let outgoing = matches!(
            info.status(),
            "setup" | "active" | "pre-switchover" | "device"
        );
        if !outgoing {
            return Err(invalid(
                "post-copy can only be started while outgoing migration is in progress",
            ));
        }
        let caps = vm.qmp().execute("query-migrate-capabilities", None).await?;
        let postcopy = caps.as_array().is_some_and(|caps| {
            caps.iter().any(|c| {
                c["capability"].as_str() == Some("postcopy-ram")
                    && c["state"].as_bool() == Some(true)
            })
        });
        if !postcopy {
            return Err(invalid(
                "switching to post-copy requires migration to be started with VIR_MIGRATE_POSTCOPY flag",
            ));
        }
        vm.qmp()
            .migrate_start_postcopy()
            .await
            .map_err(VirError::from)
    }

    /// The destination's side once post-copy runs: the guest resumed (running, reason
    /// `post-copy`), then a watcher that records the end of the incoming migration.
    pub(crate) fn postcopy_incoming_resumed(&self, dom: &DomainRef, vm: &Arc<Vm>, poll: Duration) {
        self.update(&dom.uuid, vm, |obj| {
            obj.state = StateReason::Running(RunningReason::Postcopy);
            vec![EventKind::Lifecycle(Lifecycle::Resumed(
                ResumedDetail::Postcopy,
            ))]
        });
        let driver = self.clone();
        let vm = Arc::clone(vm);
        let uuid = dom.uuid;
        tokio::spawn(async move {
            let done = wait_postcopy_done(&vm, poll, "migration in job").await;
            // (A domain destroyed meanwhile is left alone: `update` checks the QEMU.)
            driver.update(&uuid, &vm, |obj| match &done {
                Ok(_) => {
                    obj.state = StateReason::Running(RunningReason::Migrated);
                    vec![EventKind::Lifecycle(Lifecycle::Resumed(
                        ResumedDetail::Migrated,
                    ))]
                }
                Err(_) => {
                    obj.state = StateReason::Paused(PausedReason::PostcopyFailed);
                    vec![EventKind::Lifecycle(Lifecycle::Suspended(
                        SuspendedDetail::PostcopyFailed,
                    ))]
                }
            });
        });
    }

    /// The source's confirm of a migration that went to post-copy: waits until QEMU has
    /// sent the last page. A post-copy that fails leaves the source paused for reason
    /// `post-copy failed` (it no longer holds the whole guest) and is an error.
    pub(crate) async fn postcopy_outgoing_done(&self, dom: &DomainRef, vm: &Arc<Vm>) -> Result<()> {
        let status = vm.qmp().query_migrate().await?;
        if !matches!(
            status.status(),
            POSTCOPY_ACTIVE | "postcopy-paused" | "postcopy-recover"
        ) {
            return Ok(());
        }
        match wait_postcopy_done(vm, Duration::from_millis(10), "migration out job").await {
            Ok(_) => Ok(()),
            Err(e) => {
                self.update(&dom.uuid, vm, |obj| {
                    obj.state = StateReason::Paused(PausedReason::PostcopyFailed);
                    vec![EventKind::Lifecycle(Lifecycle::Suspended(
                        SuspendedDetail::PostcopyFailed,
                    ))]
                });
                Err(e)
            }
        }
    }
}
