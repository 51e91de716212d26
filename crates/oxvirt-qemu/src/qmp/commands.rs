//! Typed helpers for the QMP commands the driver uses, and the greeting's version.

use serde_json::{json, Map, Value};

use super::{Qmp, QmpError};

/// QEMU's version, from the greeting or `query-version`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QmpVersion {
    /// Major version (7 for QEMU 7.2.0).
    pub major: u64,
    /// Minor version.
    pub minor: u64,
    /// Micro version.
    pub micro: u64,
    /// The distribution's package string (`Debian 1:7.2+dfsg-7+deb12u18`), may be empty.
    pub package: String,
}

impl QmpVersion {
    /// libvirt's numeric form: `major * 1_000_000 + minor * 1_000 + micro`.
    pub fn number(&self) -> u64 {
        self.major * 1_000_000 + self.minor * 1_000 + self.micro
    }

    fn from_value(v: &Value) -> Option<QmpVersion> {
        let qemu = v.get("qemu")?;
        let n = |k: &str| qemu.get(k).and_then(Value::as_u64);
        Some(QmpVersion {
            major: n("major")?,
            minor: n("minor")?,
            micro: n("micro")?,
            package: v
                .get("package")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .trim()
                .to_string(),
        })
    }
}

/// The greeting's version and offered capabilities.
pub(crate) fn parse_greeting(
    msg: &Map<String, Value>,
) -> Result<(QmpVersion, Vec<String>), QmpError> {
    let bad = || QmpError::Protocol(format!("unexpected QEMU monitor greeting: {}", json!(msg)));
    let qmp = msg.get("QMP").ok_or_else(bad)?;
    let version = qmp
        .get("version")
        .and_then(QmpVersion::from_value)
        .ok_or_else(bad)?;
    let capabilities = qmp
        .get("capabilities")
        .and_then(Value::as_array)
        .map(|caps| {
            caps.iter()
                .filter_map(|c| c.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    Ok((version, capabilities))
}

/// `query-status`'s answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmStatus {
    /// Whether the vCPUs run.
    pub running: bool,
    /// QEMU's run state (`prelaunch`, `running`, `paused`, `shutdown` ...).
    pub status: String,
}

/// One vCPU from `query-cpus-fast`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuInfoFast {
    /// `cpu-index`.
    pub cpu_index: i64,
    /// `thread-id`: the host thread running this vCPU.
    pub thread_id: i64,
    /// `qom-path` (`/machine/unattached/device[0]`).
    pub qom_path: String,
}

/// A reply that does not have the shape a typed helper expects.
fn bad_reply(command: &str, ret: &Value) -> QmpError {
    QmpError::Protocol(format!(
        "unexpected reply to QEMU command '{command}': {ret}"
    ))
}

impl Qmp {
    async fn execute_unit(&self, command: &str, args: Option<Value>) -> Result<(), QmpError> {
        self.execute(command, args).await.map(|_| ())
    }

    /// `query-status`.
    pub async fn query_status(&self) -> Result<VmStatus, QmpError> {
        let ret = self.execute("query-status", None).await?;
        let running = ret.get("running").and_then(Value::as_bool);
        let status = ret.get("status").and_then(Value::as_str);
        match (running, status) {
            (Some(running), Some(status)) => Ok(VmStatus {
                running,
                status: status.to_string(),
            }),
            _ => Err(bad_reply("query-status", &ret)),
        }
    }

    /// `cont`: start or resume the vCPUs (QEMU emits `RESUME`).
    pub async fn cont(&self) -> Result<(), QmpError> {
        self.execute_unit("cont", None).await
    }

    /// `stop`: pause the vCPUs (QEMU emits `STOP`).
    pub async fn stop(&self) -> Result<(), QmpError> {
        self.execute_unit("stop", None).await
    }

    /// `system_powerdown`: press the ACPI power button (`POWERDOWN`).
    pub async fn system_powerdown(&self) -> Result<(), QmpError> {
        self.execute_unit("system_powerdown", None).await
    }

    /// `system_reset`: hard reset (`RESET`).
    pub async fn system_reset(&self) -> Result<(), QmpError> {
        self.execute_unit("system_reset", None).await
    }

    /// `quit`: QEMU exits (`SHUTDOWN`, then the socket closes).
    pub async fn quit(&self) -> Result<(), QmpError> {
        self.execute_unit("quit", None).await
    }

    /// `query-cpus-fast`: the vCPUs and their host threads.
    pub async fn query_cpus_fast(&self) -> Result<Vec<CpuInfoFast>, QmpError> {
        let ret = self.execute("query-cpus-fast", None).await?;
        let list = ret
            .as_array()
            .ok_or_else(|| bad_reply("query-cpus-fast", &ret))?;
        list.iter()
            .map(|cpu| {
                let index = cpu.get("cpu-index").and_then(Value::as_i64);
                let thread = cpu.get("thread-id").and_then(Value::as_i64);
                match (index, thread) {
                    (Some(cpu_index), Some(thread_id)) => Ok(CpuInfoFast {
                        cpu_index,
                        thread_id,
                        qom_path: cpu
                            .get("qom-path")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string(),
                    }),
                    _ => Err(bad_reply("query-cpus-fast", &ret)),
                }
            })
            .collect()
    }

    /// `balloon`: ask the guest's balloon for `bytes` of memory.
    pub async fn balloon(&self, bytes: u64) -> Result<(), QmpError> {
        self.execute_unit("balloon", Some(json!({ "value": bytes })))
            .await
    }

    /// `query-balloon`: the guest's current memory in bytes (`actual`).
    pub async fn query_balloon(&self) -> Result<u64, QmpError> {
        let ret = self.execute("query-balloon", None).await?;
        ret.get("actual")
            .and_then(Value::as_u64)
            .ok_or_else(|| bad_reply("query-balloon", &ret))
    }

    /// `human-monitor-command`: runs an HMP command line (`savevm NAME`, `loadvm NAME`,
    /// `delvm NAME`) and returns its text output.
    pub async fn human_monitor_command(&self, command_line: &str) -> Result<String, QmpError> {
        let ret = self
            .execute(
                "human-monitor-command",
                Some(json!({ "command-line": command_line })),
            )
            .await?;
        ret.as_str()
            .map(str::to_string)
            .ok_or_else(|| bad_reply("human-monitor-command", &ret))
    }

    /// `query-version`.
    pub async fn query_version(&self) -> Result<QmpVersion, QmpError> {
        let ret = self.execute("query-version", None).await?;
        QmpVersion::from_value(&ret).ok_or_else(|| bad_reply("query-version", &ret))
    }
}
