//! Migration to and from a file descriptor: save, restore and managed save.
//!
//! Save: `stop`, [`Qmp::send_fd`] of the file opened for writing, [`Qmp::migrate_to_fd`],
//! [`Qmp::wait_migration_job`]. Restore: QEMU started with `-incoming defer`,
//! [`Qmp::send_fd`] of the file opened for reading, [`Qmp::migrate_incoming`] with
//! `fd:NAME`, wait until [`Qmp::query_migrate`] says `completed` (or the `MIGRATION` event
//! with that status); QEMU is then `paused`, and `cont` runs the guest.

use std::time::Duration;

use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};
use serde_json::{json, Value};

use super::bad_reply;
use crate::qmp::{Qmp, QmpError};

/// `query-migrate`'s answer. Fields QEMU leaves out are `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationInfo {
    /// `status`: `none` (no migration yet), `setup`, `active`, `completed`, `failed`,
    /// `cancelling`, `cancelled` ... `None` when QEMU sent no status (before any migration
    /// QEMU 7.2 answers `{}`).
    pub status: Option<String>,
    /// `total-time`: milliseconds since the migration started (until it ended).
    pub total_time_ms: Option<u64>,
    /// `setup-time`: milliseconds spent in setup.
    pub setup_time_ms: Option<u64>,
    /// `expected-downtime` while active, in milliseconds.
    pub expected_downtime_ms: Option<u64>,
    /// `downtime` once completed, in milliseconds.
    pub downtime_ms: Option<u64>,
    /// `ram.total`: guest RAM bytes.
    pub ram_total: Option<u64>,
    /// `ram.remaining`: RAM bytes still to send.
    pub ram_remaining: Option<u64>,
    /// `ram.transferred`: RAM bytes sent so far.
    pub ram_transferred: Option<u64>,
    /// `error-desc`: why it failed.
    pub error_desc: Option<String>,
}

impl MigrationInfo {
    /// Parses `query-migrate`'s `return` object.
    pub fn from_value(v: &Value) -> Option<MigrationInfo> {
        v.as_object()?;
        let n = |k: &str| v.get(k).and_then(Value::as_u64);
        let ram = |k: &str| v.get("ram").and_then(|r| r.get(k)).and_then(Value::as_u64);
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        Some(MigrationInfo {
            status: s("status"),
            total_time_ms: n("total-time"),
            setup_time_ms: n("setup-time"),
            expected_downtime_ms: n("expected-downtime"),
            downtime_ms: n("downtime"),
            ram_total: ram("total"),
            ram_remaining: ram("remaining"),
            ram_transferred: ram("transferred"),
            error_desc: s("error-desc"),
        })
    }

    /// The status, `"none"` when QEMU gave none.
    pub fn status(&self) -> &str {
        self.status.as_deref().unwrap_or("none")
    }

    /// libvirt's error for a migration that ended in `failed` or `cancelled` (`None` for
    /// any other status). `job` is libvirt's job name: `migration out job`,
    /// `domain save job`, `migration in job` ... A failure is `VIR_ERR_OPERATION_FAILED`
    /// `"<job>: <error-desc>"` (`unexpectedly failed` without a description), a
    /// cancellation `VIR_ERR_OPERATION_ABORTED` `"<job>: canceled by client"`.
    pub fn to_vir_error(&self, job: &str) -> Option<VirError> {
        match self.status() {
            "failed" => {
                let why = self.error_desc.as_deref().unwrap_or("unexpectedly failed");
                Some(VirError::new(
                    ErrorDomain::Qemu,
                    ErrorCode::OperationFailed,
                    format!("{job}: {why}"),
                ))
            }
            "cancelled" => Some(VirError::new(
                ErrorDomain::Qemu,
                ErrorCode::OperationAborted,
                format!("{job}: canceled by client"),
            )),
            _ => None,
        }
    }
}

impl Qmp {
    /// `migrate` to `uri` (`fd:NAME`, `tcp:HOST:PORT`, `unix:PATH`, `exec:CMD`). Returns
    /// once QEMU started the migration; it runs in the background.
    pub async fn migrate(&self, uri: &str) -> Result<(), QmpError> {
        self.execute("migrate", Some(json!({ "uri": uri })))
            .await
            .map(|_| ())
    }

    /// `migrate` with `uri: "fd:NAME"`: write the migration stream to the descriptor given
    /// to [`Qmp::send_fd`] as `name` (a save file). QEMU closes it when the migration ends.
    pub async fn migrate_to_fd(&self, name: &str) -> Result<(), QmpError> {
        self.migrate(&format!("fd:{name}")).await
    }

    /// `migrate-set-capabilities` with `(capability, state)` pairs. libvirt turns
    /// `events` on right after connecting: without it QEMU 7.2 emits no `MIGRATION`
    /// events but the destination's first `setup`.
    pub async fn migrate_set_capabilities(&self, caps: &[(&str, bool)]) -> Result<(), QmpError> {
        let list: Vec<Value> = caps
            .iter()
            .map(|(name, state)| json!({ "capability": name, "state": state }))
            .collect();
        self.execute(
            "migrate-set-capabilities",
            Some(json!({ "capabilities": list })),
        )
        .await
        .map(|_| ())
    }

    /// `query-migrate`.
    pub async fn query_migrate(&self) -> Result<MigrationInfo, QmpError> {
        let ret = self.execute("query-migrate", None).await?;
        MigrationInfo::from_value(&ret).ok_or_else(|| bad_reply("query-migrate", &ret))
    }

    /// `migrate_cancel`: abort the running outgoing migration (status `cancelling`, then
    /// `cancelled`).
    pub async fn migrate_cancel(&self) -> Result<(), QmpError> {
        self.execute("migrate_cancel", None).await.map(|_| ())
    }

    /// `migrate-incoming` for a QEMU started with `-incoming defer`: read the migration
    /// stream from `uri` (`fd:NAME` for a restore from a file).
    pub async fn migrate_incoming(&self, uri: &str) -> Result<(), QmpError> {
        self.execute("migrate-incoming", Some(json!({ "uri": uri })))
            .await
            .map(|_| ())
    }

    /// Polls `query-migrate` every `poll` until the migration is `completed` and returns the
    /// final statistics; `failed` or `cancelled` become libvirt's error for a
    /// `migration out job` (see [`MigrationInfo::to_vir_error`]).
    pub async fn wait_migration(&self, poll: Duration) -> Result<MigrationInfo, VirError> {
        self.wait_migration_job(poll, "migration out job").await
    }

    /// [`Qmp::wait_migration`] with libvirt's name of the job in the error (`domain save
    /// job` for save and managed save, `migration in job` on a destination).
    pub async fn wait_migration_job(
        &self,
        poll: Duration,
        job: &str,
    ) -> Result<MigrationInfo, VirError> {
        loop {
            let info = self.query_migrate().await?;
            if info.status() == "completed" {
                return Ok(info);
            }
            if let Some(err) = info.to_vir_error(job) {
                return Err(err);
            }
            tokio::time::sleep(poll).await;
        }
    }
}
