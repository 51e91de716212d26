//! Internal (qcow2) snapshots through QEMU 7.2's `snapshot-save` / `snapshot-load` /
//! `snapshot-delete` jobs, and the job helpers they use.
//!
//! Each call starts the job under a fresh `job-id`, polls `query-jobs` until the job is
//! `concluded`, dismisses it (`job-dismiss`) and reports the job's `error` as a
//! `VIR_ERR_OPERATION_FAILED` "`<command> job failed: <error>`".

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};
use serde_json::{json, Value};

use super::bad_reply;
use crate::qmp::{Qmp, QmpError};

/// How often the snapshot helpers poll `query-jobs`.
const JOB_POLL: Duration = Duration::from_millis(10);

/// A per-process counter for unique job ids.
static NEXT_JOB: AtomicU64 = AtomicU64::new(1);

/// One job from `query-jobs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobInfo {
    /// `id`.
    pub id: String,
    /// `type` (`snapshot-save`, `create`, `backup` ...).
    pub job_type: String,
    /// `status` (`created`, `running`, `concluded`, `null` ...).
    pub status: String,
    /// `current-progress`.
    pub current_progress: u64,
    /// `total-progress`.
    pub total_progress: u64,
    /// `error`: set when a concluded job failed.
    pub error: Option<String>,
}

impl JobInfo {
    /// Parses one member of `query-jobs`'s list.
    pub fn from_value(v: &Value) -> Option<JobInfo> {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        let n = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
        Some(JobInfo {
            id: s("id")?,
            job_type: s("type")?,
            status: s("status")?,
            current_progress: n("current-progress"),
            total_progress: n("total-progress"),
            error: s("error"),
        })
    }
}

impl Qmp {
    /// `query-jobs`.
    pub async fn query_jobs(&self) -> Result<Vec<JobInfo>, QmpError> {
        let ret = self.execute("query-jobs", None).await?;
        ret.as_array()
            .and_then(|jobs| jobs.iter().map(JobInfo::from_value).collect())
            .ok_or_else(|| bad_reply("query-jobs", &ret))
    }

    /// `job-dismiss`: forget a concluded job.
    pub async fn job_dismiss(&self, id: &str) -> Result<(), QmpError> {
        self.execute("job-dismiss", Some(json!({ "id": id })))
            .await
            .map(|_| ())
    }

    /// Polls `query-jobs` every `poll` until job `id` is `concluded`, dismisses it and
    /// returns it (its `error` tells whether it failed). A job that vanished is an error.
    pub async fn wait_job_concluded(&self, id: &str, poll: Duration) -> Result<JobInfo, VirError> {
        loop {
            let jobs = self.query_jobs().await?;
            let Some(job) = jobs.into_iter().find(|j| j.id == id) else {
                return Err(VirError::new(
                    ErrorDomain::Qemu,
                    ErrorCode::InternalError,
                    format!("job '{id}' disappeared"),
                ));
            };
            if job.status == "concluded" {
                self.job_dismiss(id).await?;
                return Ok(job);
            }
            tokio::time::sleep(poll).await;
        }
    }

    /// Runs snapshot job `command` with `args` plus a fresh `job-id` to its end.
    async fn snapshot_job(&self, command: &str, mut args: Value) -> Result<(), VirError> {
        let id = format!(
            "oxvirt-{command}-{}",
            NEXT_JOB.fetch_add(1, Ordering::Relaxed)
        );
        if let Some(map) = args.as_object_mut() {
            map.insert("job-id".into(), Value::String(id.clone()));
        }
        self.execute(command, Some(args)).await?;
        let job = self.wait_job_concluded(&id, JOB_POLL).await?;
        match job.error {
            Some(error) => Err(VirError::new(
                ErrorDomain::Qemu,
                ErrorCode::OperationFailed,
                format!("{command} job failed: {error}"),
            )),
            None => Ok(()),
        }
    }

    /// `snapshot-save`: an internal snapshot `tag` of every node in `disk_nodes` (format
    /// node names, `libvirt-1-format`), with the VM state stored in `vmstate_node` (one of
    /// them). Waits for the job and dismisses it.
    pub async fn snapshot_save(
        &self,
        tag: &str,
        vmstate_node: &str,
        disk_nodes: &[&str],
    ) -> Result<(), VirError> {
        let args = json!({ "tag": tag, "vmstate": vmstate_node, "devices": disk_nodes });
        self.snapshot_job("snapshot-save", args).await
    }

    /// `snapshot-load`: reverts the disks and the VM state to snapshot `tag` (the VM must
    /// be stopped; it stays stopped).
    pub async fn snapshot_load(
        &self,
        tag: &str,
        vmstate_node: &str,
        disk_nodes: &[&str],
    ) -> Result<(), VirError> {
        let args = json!({ "tag": tag, "vmstate": vmstate_node, "devices": disk_nodes });
        self.snapshot_job("snapshot-load", args).await
    }

    /// `snapshot-delete`: removes snapshot `tag` from `disk_nodes`.
    pub async fn snapshot_delete(&self, tag: &str, disk_nodes: &[&str]) -> Result<(), VirError> {
        let args = json!({ "tag": tag, "devices": disk_nodes });
        self.snapshot_job("snapshot-delete", args).await
    }

    /// The writable `qcow2` nodes (from `query-named-block-nodes`, flat): the nodes that
    /// can hold internal snapshots, in QEMU's order.
    pub async fn snapshot_capable_nodes(&self) -> Result<Vec<String>, QmpError> {
        let ret = self
            .execute("query-named-block-nodes", Some(json!({ "flat": true })))
            .await?;
        let list = ret
            .as_array()
            .ok_or_else(|| bad_reply("query-named-block-nodes", &ret))?;
        Ok(list
            .iter()
            .filter(|n| n.get("drv").and_then(Value::as_str) == Some("qcow2"))
            .filter(|n| n.get("ro").and_then(Value::as_bool) != Some(true))
            .filter_map(|n| n.get("node-name").and_then(Value::as_str))
            .map(str::to_string)
            .collect())
    }
}
