//! The QEMU side of a live migration between two drivers, in the phases of libvirt's
//! migration protocol (version 3), for the orchestration that talks to both ends:
//!
//! 1. destination, [`QemuDriver::migration_prepare`]: the domain added (transient) and its
//!    QEMU started paused with `-incoming defer`, listening on a `tcp:` URI
//!    (`qemuMigrationDstPrepare`, which reports `STARTED_MIGRATED`);
//! 2. source, [`QemuDriver::migration_perform`]: capabilities and parameters as libvirt
//!    sets them, `migrate` to the destination, progress polled into
//!    [`MigrationProgress`] until QEMU completed; the source is left in QEMU's
//!    `postmigrate` state, paused for reason `migration` (`SUSPENDED_MIGRATED`);
//! 3. destination, [`QemuDriver::migration_finish`]: waits until the state has arrived and
//!    runs the CPUs (`cont`; `RESUMED_MIGRATED`, running for reason `migrated`), or stops
//!    the domain if the migration failed;
//! 4. source, [`QemuDriver::migration_confirm`]: on success the source QEMU is killed
//!    (`STOPPED_MIGRATED`, shut off for reason `migrated`); on failure the source runs
//!    again (`RESUMED_MIGRATED`, reason `migration-canceled`).
//!
//! [`QemuDriver::migration_cancel`] (`virDomainAbortJob` during a migration) cancels the
//! outgoing migration: `migration_perform` then fails with libvirt's "operation aborted:
//! migration out job: canceled by client" and the source keeps running; the destination
//! is dropped with [`QemuDriver::migration_abort_incoming`]. [`QemuDriver::migration_job`]
//! reads the progress at any time, from either end.

use std::sync::Arc;
use std::time::Duration;

use oxvirt_domain::driver::event::{ResumedDetail, StartedDetail, SuspendedDetail};
use oxvirt_domain::driver::state::{PausedReason, RunningReason};
use oxvirt_domain::driver::{DomainRef, DomainState, Lifecycle, StateReason};
use oxvirt_domain::objects::domains::add_flags;
use oxvirt_xml::types::Uuid;
use oxvirt_xml::VirError;
use tokio::sync::watch;

use super::migrate_postcopy::{wait_arrived_or_postcopy, POSTCOPY_ACTIVE};
use super::migrate_tls::{self, TlsEnd};
use super::start::{Cpus, StartFrom};
use super::vm::{Stopping, Vm};
use super::{check_name, invalid, QemuDriver};
use crate::qmp::ops::{MigrationInfo, MigrationParameters, BANDWIDTH_MAX_MIB};

type Result<T> = std::result::Result<T, VirError>;

/// The migration capabilities oxvirt sets on both ends before each migration (as
/// libvirt's `qemuMigrationParamsApply` sends every capability it knows, each on or off).
const CAPABILITIES: [&str; 10] = [
    "xbzrle",
    "auto-converge",
    "rdma-pin-all",
    "postcopy-ram",
    "compress",
    "pause-before-switchover",
    "late-block-activate",
    "multifd",
    "dirty-bitmaps",
    "return-path",
];

/// How a live migration runs (the parts of libvirt's migration flags and parameters the
/// QEMU end applies).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrateOptions {
    /// `VIR_MIGRATE_PARAM_BANDWIDTH` in MiB/s; `None` is libvirt's unlimited
    /// ([`BANDWIDTH_MAX_MIB`]).
    pub bandwidth_mib: Option<u64>,
    /// The longest pause allowed at switchover, in milliseconds (`downtime-limit`;
    /// `None` leaves QEMU's 300 ms).
    pub downtime_limit_ms: Option<u64>,
    /// `VIR_MIGRATE_AUTO_CONVERGE`: throttle the vCPUs of a guest that dirties memory
    /// faster than it is sent.
    pub auto_converge: bool,
    /// `VIR_MIGRATE_POSTCOPY`: `postcopy-ram` on both ends (the switch to post-copy is
    /// still the caller's, `migrate-start-postcopy`); the perform phase then returns once
    /// post-copy runs.
    pub postcopy: bool,
    /// `VIR_MIGRATE_PARAM_BANDWIDTH_POSTCOPY` in MiB/s (`max-postcopy-bandwidth`; `None`:
    /// QEMU's unlimited).
    pub postcopy_bandwidth_mib: Option<u64>,
    /// `VIR_MIGRATE_TLS`: the migration stream in TLS, this QEMU being the given end.
    pub tls: Option<TlsEnd>,
    /// How often the progress is polled.
    pub poll: Duration,
}

impl Default for MigrateOptions {
    fn default() -> Self {
        MigrateOptions {
            bandwidth_mib: None,
            downtime_limit_ms: None,
            auto_converge: false,
            postcopy: false,
            postcopy_bandwidth_mib: None,
            tls: None,
            poll: Duration::from_millis(10),
        }
    }
}

impl MigrateOptions {
    /// `migrate-set-capabilities` for the source (`source`) or the destination: libvirt
    /// always turns `pause-before-switchover` on at the source and `late-block-activate`
    /// at the destination.
    fn capabilities(&self, source: bool) -> Vec<(&'static str, bool)> {
        CAPABILITIES
            .iter()
            .map(|&cap| {
                let on = match cap {
                    "auto-converge" => source && self.auto_converge,
                    "postcopy-ram" => self.postcopy,
                    "pause-before-switchover" => source,
                    "late-block-activate" => !source,
                    _ => false,
                };
                (cap, on)
            })
            .collect()
    }

    /// `migrate-set-parameters` for the source: `max-bandwidth` always (libvirt sends its
    /// unlimited bandwidth when the caller gave none), `downtime-limit` when given.
    fn parameters(&self) -> MigrationParameters {
        let mib = self.bandwidth_mib.unwrap_or(BANDWIDTH_MAX_MIB);
        MigrationParameters {
            max_bandwidth: Some(mib.saturating_mul(1024 * 1024)),
            downtime_limit: self.downtime_limit_ms,
            max_postcopy_bandwidth: self
                .postcopy_bandwidth_mib
                .map(|m| m.saturating_mul(1024 * 1024)),
            ..MigrationParameters::default()
        }
    }
}

/// A migration's progress, in the terms of libvirt's job statistics
/// (`virDomainGetJobStats`: `VIR_DOMAIN_JOB_*`), from QEMU's `query-migrate`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MigrationProgress {
    /// QEMU's migration status (`none`, `setup`, `active`, `pre-switchover`, `device`,
    /// `completed`, `failed`, `cancelling`, `cancelled` ...).
    pub status: String,
    /// `time_elapsed`: milliseconds since the migration started.
    pub time_elapsed_ms: u64,
    /// `setup_time`: milliseconds QEMU spent setting up.
    pub setup_time_ms: u64,
    /// `downtime`: the guest's pause at switchover, in milliseconds, once completed.
    pub downtime_ms: Option<u64>,
    /// QEMU's expected downtime while the migration is active, in milliseconds.
    pub expected_downtime_ms: Option<u64>,
    /// `data_total`: bytes to move (memory and disks).
    pub data_total: u64,
    /// `data_processed`: bytes moved.
    pub data_processed: u64,
    /// `data_remaining`: bytes still to move.
    pub data_remaining: u64,
    /// `memory_total`: guest memory bytes.
    pub mem_total: u64,
    /// `memory_processed`: memory bytes sent.
    pub mem_processed: u64,
    /// `memory_remaining`: memory bytes still to send.
    pub mem_remaining: u64,
    /// `memory_constant`: pages sent as one repeated byte.
    pub mem_constant: u64,
    /// `memory_normal`: pages sent whole.
    pub mem_normal: u64,
    /// `memory_normal_bytes`: bytes of the pages sent whole.
    pub mem_normal_bytes: u64,
    /// `memory_dirty_rate`: pages dirtied per second.
    pub mem_dirty_rate: u64,
    /// `memory_bps`: the throughput in bytes per second (QEMU's Mbit/s × 10⁶ / 8, as
    /// libvirt converts it).
    pub mem_bps: u64,
    /// `memory_page_size`: bytes.
    pub mem_page_size: u64,
    /// `memory_iteration`: how many passes over memory QEMU made.
    pub mem_iteration: u64,
    /// `memory_postcopy_requests`: pages the destination asked for in post-copy.
    pub mem_postcopy_requests: u64,
    /// `disk_total`, `disk_processed`, `disk_remaining` (block migration only): bytes.
    pub disk_total: u64,
    /// Block bytes sent.
    pub disk_processed: u64,
    /// Block bytes still to send.
    pub disk_remaining: u64,
    /// `error-desc` of a failed migration.
    pub error: Option<String>,
}

impl MigrationProgress {
    /// libvirt's job statistics from `query-migrate`'s answer.
    pub fn from_info(info: &MigrationInfo) -> MigrationProgress {
        let z = |v: Option<u64>| v.unwrap_or(0);
        let disk_total = z(info.disk_total);
        let disk_processed = z(info.disk_transferred);
        let disk_remaining = z(info.disk_remaining);
        MigrationProgress {
            status: info.status().to_string(),
            time_elapsed_ms: z(info.total_time_ms),
            setup_time_ms: z(info.setup_time_ms),
            downtime_ms: info.downtime_ms,
            expected_downtime_ms: info.expected_downtime_ms,
            data_total: z(info.ram_total) + disk_total,
            data_processed: z(info.ram_transferred) + disk_processed,
            data_remaining: z(info.ram_remaining) + disk_remaining,
            mem_total: z(info.ram_total),
            mem_processed: z(info.ram_transferred),
            mem_remaining: z(info.ram_remaining),
            mem_constant: z(info.ram_duplicate),
            mem_normal: z(info.ram_normal),
            mem_normal_bytes: z(info.ram_normal_bytes),
            mem_dirty_rate: z(info.ram_dirty_pages_rate),
            mem_bps: info
                .ram_mbps
                .map(|m| (m * 1_000_000.0 / 8.0) as u64)
                .unwrap_or(0),
            mem_page_size: z(info.ram_page_size),
            mem_iteration: z(info.ram_dirty_sync_count),
            mem_postcopy_requests: z(info.ram_postcopy_requests),
            disk_total,
            disk_processed,
            disk_remaining,
            error: info.error_desc.clone(),
        }
    }

    /// Whether the migration is under way (not yet completed, failed or cancelled).
    pub fn is_active(&self) -> bool {
        matches!(
            self.status.as_str(),
            "setup"
                | "active"
                | "pre-switchover"
                | "device"
                | "postcopy-active"
                | "postcopy-paused"
                | "postcopy-recover"
                | "cancelling"
                | "wait-unplug"
        )
    }
}

impl QemuDriver {
    /// The destination's prepare phase (`qemuMigrationDstPrepare`): the domain of `xml`
    /// is added as a transient domain and started paused (reason `migration`) with
    /// `-incoming defer`; QEMU then listens on `uri` (`tcp:ADDR:PORT`) for the source.
    /// Reports `STARTED_MIGRATED`. A domain of the same name or UUID that is already
    /// active refuses it, as libvirt does.
    pub async fn migration_prepare(
        &self,
        xml: &str,
        uri: &str,
        opts: &MigrateOptions,
    ) -> Result<DomainRef> {
        let def = self.parse_definition(xml).await?;
        self.migration_prepare_def(def, uri, opts).await
    }

    /// [`QemuDriver::migration_prepare`] for a definition already parsed (and renamed, for
    /// a migration to another name).
    pub(crate) async fn migration_prepare_def(
        &self,
        def: oxvirt_domain::Domain,
        uri: &str,
        opts: &MigrateOptions,
    ) -> Result<DomainRef> {
        check_name(&def.name)?;
        let uuid = {
            let mut list = self.domains();
            let (obj, _) = list.add(def, add_flags::LIVE | add_flags::CHECK_LIVE)?;
            obj.uuid()
        };
        let job = self.job(&uuid);
        let _job = job.lock().await;
        let started = self
            .start_domain(
                &uuid,
                Cpus::Pause(PausedReason::Migration),
                StartFrom {
                    defer: true,
                    ..StartFrom::default()
                },
            )
            .await;
        if let Err(e) = started {
            self.drop_transient(&uuid);
            return Err(e);
        }
        let vm = self
            .vm(&uuid)
            .ok_or_else(|| super::internal("domain vanished while starting"))?;
        let listening = async {
            vm.qmp()
                .migrate_set_capabilities(&[("events", true)])
                .await?;
            vm.qmp()
                .migrate_set_capabilities(&opts.capabilities(false))
                .await?;
            migrate_tls::apply(&vm, &self.inner.config.migrate_tls, opts.tls.as_ref()).await?;
            vm.qmp().migrate_incoming(uri).await?;
            Ok::<(), VirError>(())
        }
        .await;
        if let Err(e) = listening {
            let _ = self.stop_quietly(&vm, Stopping::Failed).await;
            return Err(e);
        }
        let (event, dom) = {
            let list = self.domains();
            let obj = list
                .find_by_uuid(&uuid)
                .ok_or_else(|| super::internal("domain vanished while starting"))?;
            (
                Self::lifecycle(obj, Lifecycle::Started(StartedDetail::Migrated)),
                obj.to_ref(),
            )
        };
        self.emit(vec![event]);
        Ok(dom)
    }

    /// The source's perform phase (`qemuMigrationSrcRun` without the cookie exchange):
    /// capabilities (`events`, `pause-before-switchover` on; `auto-converge` and
    /// `postcopy-ram` as asked) and parameters (`max-bandwidth`, libvirt's unlimited by
    /// default; `downtime-limit`) set, `migrate` to `uri`, then the progress polled (and
    /// read again at each `MIGRATION` event), published to `progress` if given, until QEMU
    /// completed. At `pre-switchover` the migration is continued (`migrate-continue`) as
    /// soon as QEMU's event says so, as libvirt does once it has nothing left to do before
    /// the switch: the guest is stopped while it waits, so the wait is downtime.
    ///
    /// On success the source QEMU is left in `postmigrate` and the domain paused for reason
    /// `migration` (`SUSPENDED_MIGRATED`) until [`QemuDriver::migration_confirm`]. A
    /// failed or cancelled migration returns libvirt's error for a `migration out job`
    /// and leaves the domain as it was (QEMU runs a guest it had stopped again).
    pub async fn migration_perform(
        &self,
        dom: &DomainRef,
        uri: &str,
        opts: &MigrateOptions,
        progress: Option<&watch::Sender<MigrationProgress>>,
    ) -> Result<MigrationProgress> {
        let vm = self.running(dom)?;
        let job = self.job(&dom.uuid);
        let _job = job.lock().await;
        let state = self.with_obj(dom, |obj| Ok(obj.state()))?;
        if state != DomainState::Running && state != DomainState::Paused {
            return Err(invalid("domain is not running"));
        }
        let qmp = vm.qmp();
        qmp.migrate_set_capabilities(&[("events", true)]).await?;
        qmp.migrate_set_capabilities(&opts.capabilities(true))
            .await?;
        qmp.migrate_set_parameters(&opts.parameters()).await?;
        migrate_tls::apply(&vm, &self.inner.config.migrate_tls, opts.tls.as_ref()).await?;
        // QEMU stops the CPUs at switchover: the migration reports it, not the monitor.
        vm.set_cpus_by_call(true);
        let result = self
            .run_outgoing(&vm, uri, opts.poll, opts.postcopy, progress)
            .await;
        if opts.tls.is_some() {
            migrate_tls::reset(&vm).await;
        }
        let done = match result {
            Ok(info) => {
                // In post-copy the source is stopped for good, for reason post-copy.
                let (reason, detail) = if info.status() == POSTCOPY_ACTIVE {
                    (PausedReason::Postcopy, SuspendedDetail::Postcopy)
                } else {
                    (PausedReason::Migration, SuspendedDetail::Migrated)
                };
                self.update(&dom.uuid, &vm, |obj| {
                    obj.state = StateReason::Paused(reason);
                    vec![oxvirt_domain::driver::EventKind::Lifecycle(
                        Lifecycle::Suspended(detail),
                    )]
                });
                Ok(MigrationProgress::from_info(&info))
            }
            Err(e) => {
                // QEMU restarts the CPUs of a guest that ran when a late failure stopped it;
                // make sure of it for a domain that was running.
                if state == DomainState::Running {
                    let status = qmp.query_status().await;
                    if status.is_ok_and(|s| !s.running && s.status != "running") {
                        let _ = qmp.cont().await;
                    }
                }
                Err(e)
            }
        };
        vm.set_cpus_by_call(false);
        done
    }

    /// `migrate` to `uri` and the wait for the end.
    async fn run_outgoing(
        &self,
        vm: &Vm,
        uri: &str,
        poll: Duration,
        postcopy: bool,
        progress: Option<&watch::Sender<MigrationProgress>>,
    ) -> Result<MigrationInfo> {
        let qmp = vm.qmp();
        // QEMU's MIGRATION events wake the wait at once (the status changed); the poll
        // between them refreshes the figures.
        let mut events = vm.migration_events();
        events.mark_unchanged();
        qmp.migrate(uri).await?;
        let mut continued = false;
        loop {
            let info = qmp.query_migrate().await?;
            if let Some(tx) = progress {
                tx.send_replace(MigrationProgress::from_info(&info));
            }
            match info.status() {
                "completed" => return Ok(self.final_figures(vm, info).await),
                // The destination takes over now (migrate_postcopy.rs).
                POSTCOPY_ACTIVE if postcopy => return Ok(info),
                "pre-switchover" if !continued => {
                    qmp.migrate_continue("pre-switchover").await?;
                    continued = true;
                }
                _ => {}
            }
            if let Some(err) = info.to_vir_error("migration out job") {
                return Err(err);
            }
            tokio::select! {
                _ = tokio::time::sleep(poll) => {}
                _ = events.changed() => {}
            }
        }
    }

    /// The figures of a completed migration. QEMU 7.2 says `completed` (and sends the
    /// event) a moment before it has computed the total time and the downtime, answering
    /// 0 for both until then: read them again until they are there (for at most 200 ms).
    async fn final_figures(&self, vm: &Vm, mut info: MigrationInfo) -> MigrationInfo {
        for _ in 0..100 {
            if info.total_time_ms != Some(0) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
            match vm.qmp().query_migrate().await {
                Ok(again) if again.status() == "completed" => info = again,
                _ => break,
            }
        }
        info
    }

    /// The destination's finish phase (`qemuMigrationDstFinish`): waits until the whole
    /// state has arrived, then with `resume` runs the CPUs (`cont`): the domain runs for
    /// reason `migrated` (`RESUMED_MIGRATED`); without, it stays paused, for reason `user`
    /// (`SUSPENDED_PAUSED`, as libvirt reports a `VIR_MIGRATE_PAUSED` migration). A failed
    /// incoming migration stops the domain (shut off, reason `failed`) and returns
    /// libvirt's error for a `migration in job`.
    pub async fn migration_finish(
        &self,
        dom: &DomainRef,
        resume: bool,
        poll: Duration,
    ) -> Result<MigrationProgress> {
        let vm = self.running(dom)?;
        let job = self.job(&dom.uuid);
        let _job = job.lock().await;
        let arrived = wait_arrived_or_postcopy(&vm, poll, "migration in job").await;
        let info = match arrived {
            Ok(info) => info,
            Err(e) => {
                drop(_job);
                let _ = self.stop_quietly(&vm, Stopping::Failed).await;
                return Err(e);
            }
        };
        // The state is loaded once QEMU leaves `inmigrate`.
        self.wait_incoming(&vm).await?;
        let postcopy = info.status() == POSTCOPY_ACTIVE;
        if resume {
            vm.set_cpus_by_call(true);
            let ran = vm.qmp().cont().await;
            if let Err(e) = ran {
                vm.set_cpus_by_call(false);
                drop(_job);
                let _ = self.stop_quietly(&vm, Stopping::Failed).await;
                return Err(e.into());
            }
            if postcopy {
                self.postcopy_incoming_resumed(dom, &vm, poll);
            } else {
                self.update(&dom.uuid, &vm, |obj| {
                    obj.state = StateReason::Running(RunningReason::Migrated);
                    vec![oxvirt_domain::driver::EventKind::Lifecycle(
                        Lifecycle::Resumed(ResumedDetail::Migrated),
                    )]
                });
            }
            vm.set_cpus_by_call(false);
        } else {
            // libvirt leaves a domain migrated with VIR_MIGRATE_PAUSED paused by the user.
            self.update(&dom.uuid, &vm, |obj| {
                obj.state = StateReason::Paused(PausedReason::User);
                vec![oxvirt_domain::driver::EventKind::Lifecycle(
                    Lifecycle::Suspended(SuspendedDetail::Paused),
                )]
            });
        }
        Ok(MigrationProgress::from_info(&info))
    }

    /// The source's confirm phase (`qemuMigrationSrcConfirm`): after a successful
    /// migration (`success`) the source QEMU is killed and the domain shut off for reason
    /// `migrated` (`STOPPED_MIGRATED`; a transient domain goes away); otherwise a domain
    /// the migration paused runs again (`RESUMED_MIGRATED`, reason
    /// `migration-canceled`).
    pub async fn migration_confirm(&self, dom: &DomainRef, success: bool) -> Result<()> {
        let vm = self.running(dom)?;
        if success {
            self.postcopy_outgoing_done(dom, &vm).await?;
            return self.stop_quietly(&vm, Stopping::Migrated).await;
        }
        let job = self.job(&dom.uuid);
        let _job = job.lock().await;
        let paused = self.with_obj(dom, |obj| {
            Ok(obj.state == StateReason::Paused(PausedReason::Migration))
        })?;
        if !paused {
            return Ok(());
        }
        vm.set_cpus_by_call(true);
        let ran = vm.qmp().cont().await;
        if ran.is_ok() {
            self.update(&dom.uuid, &vm, |obj| {
                obj.state = StateReason::Running(RunningReason::MigrationCanceled);
                vec![oxvirt_domain::driver::EventKind::Lifecycle(
                    Lifecycle::Resumed(ResumedDetail::Migrated),
                )]
            });
        }
        vm.set_cpus_by_call(false);
        ran.map_err(VirError::from)
    }

    /// Cancels the outgoing migration of `dom` (`migrate_cancel`; libvirt's
    /// `virDomainAbortJob` during a migration). Does not wait for the perform phase's job:
    /// that phase then fails with "operation aborted" and the domain keeps running.
    pub async fn migration_cancel(&self, dom: &DomainRef) -> Result<()> {
        let vm = self.running(dom)?;
        let info = vm.qmp().query_migrate().await?;
        if !MigrationProgress::from_info(&info).is_active() {
            return Err(invalid("no job is active on the domain"));
        }
        vm.qmp().migrate_cancel().await.map_err(VirError::from)
    }

    /// Switches the outgoing migration of `dom`, started with
    /// [`MigrateOptions::postcopy`], to post-copy (`migrate-start-postcopy`; libvirt's
    /// `virDomainMigrateStartPostCopy`): QEMU stops the source at the end of the current
    /// pass and the destination pulls the pages it still lacks. Like
    /// [`QemuDriver::migration_cancel`] it does not wait for the perform phase's job.
    ///
    /// The perform phase then returns at `postcopy-active` (the source paused for reason
    /// `post-copy`), [`QemuDriver::migration_finish`] runs the guest on the destination
    /// while its memory still arrives, and [`QemuDriver::migration_confirm`] waits for the
    /// last page (see migrate_postcopy.rs).
    pub async fn migration_start_postcopy(&self, dom: &DomainRef) -> Result<()> {
        let vm = self.running(dom)?;
        let info = vm.qmp().query_migrate().await?;
        if !MigrationProgress::from_info(&info).is_active() {
            return Err(invalid("no job is active on the domain"));
        }
        vm.qmp()
            .migrate_start_postcopy()
            .await
            .map_err(VirError::from)
    }

    /// Drops a destination whose migration will not finish (the source failed or was
    /// cancelled): its QEMU is killed and the domain shut off for reason `failed`
    /// (`STOPPED_FAILED`; the transient domain goes away).
    pub async fn migration_abort_incoming(&self, dom: &DomainRef) -> Result<()> {
        let vm = self.running(dom)?;
        self.stop_quietly(&vm, Stopping::Failed).await
    }

    /// Kills `vm` for reason `why` without reporting QEMU's SHUTDOWN on the way: libvirt's
    /// `qemuProcessStop` closes the monitor before it kills QEMU, so a migrated source or a
    /// dropped destination reports only its `STOPPED_*` event.
    async fn stop_quietly(&self, vm: &Arc<Vm>, why: Stopping) -> Result<()> {
        vm.set_got_shutdown(true);
        self.kill(vm, why, false).await
    }

    /// The progress of `dom`'s migration as QEMU reports it now (at the source, the
    /// outgoing migration; at a destination, the incoming one).
    pub async fn migration_job(&self, dom: &DomainRef) -> Result<MigrationProgress> {
        let vm = self.running(dom)?;
        let info = vm.qmp().query_migrate().await?;
        Ok(MigrationProgress::from_info(&info))
    }

    /// QEMU's run state of `dom` (`query-status`: `running`, `paused`, `inmigrate`,
    /// `postmigrate` ...).
    pub async fn qemu_run_state(&self, dom: &DomainRef) -> Result<String> {
        let vm = self.running(dom)?;
        Ok(vm.qmp().query_status().await?.status)
    }

    /// Removes the transient, inactive domain `uuid` a failed prepare added.
    fn drop_transient(&self, uuid: &Uuid) {
        let mut list = self.domains();
        if list
            .find_by_uuid(uuid)
            .is_some_and(|o| !o.persistent && !o.is_active())
        {
            list.remove(uuid);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_are_libvirts_per_side() {
        let opts = MigrateOptions::default();
        let src = opts.capabilities(true);
        let on = |caps: &[(&str, bool)]| -> Vec<String> {
            caps.iter()
                .filter(|(_, on)| *on)
                .map(|(c, _)| c.to_string())
                .collect()
        };
        assert_eq!(src.len(), CAPABILITIES.len());
        assert_eq!(on(&src), ["pause-before-switchover"]);
        assert_eq!(on(&opts.capabilities(false)), ["late-block-activate"]);
        let both = MigrateOptions {
            auto_converge: true,
            postcopy: true,
            ..MigrateOptions::default()
        };
        assert_eq!(
            on(&both.capabilities(true)),
            ["auto-converge", "postcopy-ram", "pause-before-switchover"]
        );
        assert_eq!(
            on(&both.capabilities(false)),
            ["postcopy-ram", "late-block-activate"]
        );
    }

    #[test]
    fn parameters_default_to_libvirts_unlimited_bandwidth() {
        let p = MigrateOptions::default().parameters();
        assert_eq!(p.max_bandwidth, Some(9_223_372_036_853_727_232));
        assert_eq!(p.downtime_limit, None);
        let p = MigrateOptions {
            bandwidth_mib: Some(1),
            downtime_limit_ms: Some(50),
            ..MigrateOptions::default()
        }
        .parameters();
        assert_eq!(p.max_bandwidth, Some(1_048_576));
        assert_eq!(p.downtime_limit, Some(50));
    }

    #[test]
    fn progress_from_query_migrate() {
        let info = MigrationInfo::from_value(&serde_json::json!({
            "status": "active", "total-time": 120, "setup-time": 3, "expected-downtime": 30,
            "ram": {"total": 1000, "transferred": 400, "remaining": 600, "duplicate": 7,
                    "normal": 90, "normal-bytes": 368640, "dirty-pages-rate": 12,
                    "mbps": 800.0, "dirty-sync-count": 2, "page-size": 4096,
                    "postcopy-requests": 0},
            "disk": {"total": 100, "transferred": 50, "remaining": 50}
        }))
        .unwrap_or_default();
        let p = MigrationProgress::from_info(&info);
        assert!(p.is_active());
        assert_eq!(p.time_elapsed_ms, 120);
        assert_eq!(p.setup_time_ms, 3);
        assert_eq!(
            (p.data_total, p.data_processed, p.data_remaining),
            (1100, 450, 650)
        );
        assert_eq!(
            (p.mem_total, p.mem_processed, p.mem_remaining),
            (1000, 400, 600)
        );
        assert_eq!(
            (p.mem_constant, p.mem_normal, p.mem_normal_bytes),
            (7, 90, 368640)
        );
        assert_eq!(p.mem_dirty_rate, 12);
        assert_eq!(p.mem_bps, 100_000_000);
        assert_eq!(p.mem_iteration, 2);
        assert_eq!(p.expected_downtime_ms, Some(30));
        assert_eq!(p.downtime_ms, None);
        let done = MigrationProgress::from_info(&MigrationInfo {
            status: Some("completed".into()),
            downtime_ms: Some(40),
            ..MigrationInfo::default()
        });
        assert!(!done.is_active());
        assert_eq!(done.downtime_ms, Some(40));
    }
}
