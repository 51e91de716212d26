//! The source's migration job as other calls see it (libvirt's migration async job):
//! from the begin phase to the confirm phase of a migration with
//! `VIR_MIGRATE_CHANGE_PROTECTION` (which virsh always sets), or for the perform phase
//! alone without it, the domain's state-changing calls that take
//! [`QemuDriver::lock_job`] (and `shutdown`, `reboot`, `reset`) wait for the migration,
//! at most libvirt's 30 s, then fail with its "Timed out during operation: cannot acquire
//! state change lock (held by monitor=API)". Queries, the job API (`domjobinfo`,
//! `domjobabort`) and `destroy` are not held up, as libvirt's migration job allows them.

use std::time::Duration;

use oxvirt_domain::driver::DomainRef;
use oxvirt_xml::types::Uuid;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};
use tokio::sync::OwnedMutexGuard;

use super::{lock, QemuDriver};

/// How long a call waits for a migration job to end (libvirt's `VIR_JOB_WAIT_TIME`).
pub(crate) const JOB_WAIT: Duration = Duration::from_secs(30);

/// The owner libvirt names for a job a migration's begin phase started.
pub(crate) const BEGIN_OWNER: &str = "remoteDispatchDomainMigrateBegin3Params";
/// The owner libvirt names for a job a migration's perform phase started.
pub(crate) const PERFORM_OWNER: &str = "remoteDispatchDomainMigratePerform3Params";

/// libvirt's error for a call that waited [`JOB_WAIT`] for a job held by `owner`.
fn lock_timeout(owner: &str) -> VirError {
    VirError::new(
        ErrorDomain::None,
        ErrorCode::OperationTimeout,
        format!("cannot acquire state change lock (held by monitor={owner})"),
    )
}

impl QemuDriver {
    /// The API holding `uuid`'s migration job, if one does.
    pub(crate) fn migration_job_owner(&self, uuid: &Uuid) -> Option<&'static str> {
        lock(&self.inner.migration_jobs).get(uuid).copied()
    }

    /// Waits (at most [`JOB_WAIT`]) until no migration job holds `uuid`.
    pub(crate) async fn wait_no_migration_job(&self, uuid: &Uuid) -> Result<(), VirError> {
        let deadline = tokio::time::Instant::now() + JOB_WAIT;
        loop {
            let released = self.inner.migration_released.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            let Some(owner) = self.migration_job_owner(uuid) else {
                return Ok(());
            };
            if tokio::time::timeout_at(deadline, released).await.is_err() {
                return Err(lock_timeout(owner));
            }
        }
    }

    /// The job lock of `uuid` for a state-changing call: after any migration job on the
    /// domain ended (or libvirt's timeout error).
    pub(crate) async fn lock_job(&self, uuid: &Uuid) -> Result<OwnedMutexGuard<()>, VirError> {
        self.wait_no_migration_job(uuid).await?;
        Ok(self.job(uuid).lock_owned().await)
    }

    /// Starts `dom`'s migration job for `owner` (after any other one ended and with no
    /// other job running).
    pub(crate) async fn migration_job_start(
        &self,
        dom: &DomainRef,
        owner: &'static str,
    ) -> Result<(), VirError> {
        loop {
            let job = self.lock_job(&dom.uuid).await?;
            let mut jobs = lock(&self.inner.migration_jobs);
            if jobs.contains_key(&dom.uuid) {
                // Another migration started meanwhile: wait for it as well.
                continue;
            }
            jobs.insert(dom.uuid, owner);
            drop(job);
            return Ok(());
        }
    }

    /// Starts `dom`'s migration job for the perform phase unless the begin phase did
    /// (`VIR_MIGRATE_CHANGE_PROTECTION`); whether it started one.
    pub(crate) async fn migration_job_for_perform(
        &self,
        dom: &DomainRef,
    ) -> Result<bool, VirError> {
        if self.migration_job_owner(&dom.uuid).is_some() {
            return Ok(false);
        }
        self.migration_job_start(dom, PERFORM_OWNER).await?;
        Ok(true)
    }

    /// Ends `dom`'s migration job, if any.
    pub(crate) fn migration_job_end(&self, uuid: &Uuid) {
        if lock(&self.inner.migration_jobs).remove(uuid).is_some() {
            self.inner.migration_released.notify_waiters();
        }
    }

    /// The client that began `dom`'s migration went away before its confirm phase
    /// (libvirt's close callback, `qemuMigrationSrcCleanup`): once no phase runs any more,
    /// the migration job ends. A domain a completed perform phase left paused stays
    /// paused: nobody knows whether the destination runs it now (libvirt warns and leaves
    /// it so as well).
    pub async fn migration_client_gone(&self, dom: &DomainRef) {
        if self.migration_job_owner(&dom.uuid).is_none() {
            return;
        }
        // A perform phase still running holds the job lock until it returns.
        drop(self.job(&dom.uuid).lock().await);
        self.migration_job_end(&dom.uuid);
    }
}
