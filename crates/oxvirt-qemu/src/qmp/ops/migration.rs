//! QEMU's migration commands: to and from a file descriptor (save, restore and managed
//! save) and between hosts (`tcp:`), with capabilities, parameters, progress and events.
//!
//! Save: `stop`, [`Qmp::send_fd`] of the file opened for writing, [`Qmp::migrate_to_fd`],
//! [`Qmp::wait_migration_job`]. Restore: QEMU started with `-incoming defer`,
//! [`Qmp::send_fd`] of the file opened for reading, [`Qmp::migrate_incoming`] with
//! `fd:NAME`, wait until [`Qmp::query_migrate`] says `completed` (or the `MIGRATION` event
//! with that status); QEMU is then `paused`, and `cont` runs the guest.
//!
//! Live migration: the destination QEMU started with `-incoming defer`,
//! [`Qmp::migrate_set_capabilities`] and [`Qmp::migrate_incoming`] with `tcp:HOST:PORT`; the
//! source [`Qmp::migrate_set_capabilities`], [`Qmp::migrate_set_parameters`] and
//! [`Qmp::migrate`] to the same URI, progress in [`Qmp::query_migrate`] and the
//! [`MigrationEvent`]s.

use std::time::Duration;

use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};
use serde_json::{json, Value};

use super::bad_reply;
use crate::qmp::{Qmp, QmpError, QmpEvent};

/// `query-migrate`'s answer. Fields QEMU leaves out are `None`.
#[derive(Debug, Clone, Default, PartialEq)]
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
    /// `ram.duplicate`: pages sent as a single repeated byte (zero pages).
    pub ram_duplicate: Option<u64>,
    /// `ram.normal`: pages sent whole.
    pub ram_normal: Option<u64>,
    /// `ram.normal-bytes`: bytes of the pages sent whole.
    pub ram_normal_bytes: Option<u64>,
    /// `ram.dirty-pages-rate`: pages dirtied per second.
    pub ram_dirty_pages_rate: Option<u64>,
    /// `ram.mbps`: the throughput, in megabits per second.
    pub ram_mbps: Option<f64>,
    /// `ram.dirty-sync-count`: how many times the dirty bitmap was synced (the iteration).
    pub ram_dirty_sync_count: Option<u64>,
    /// `ram.page-size`: the guest page size in bytes.
    pub ram_page_size: Option<u64>,
    /// `ram.pages-per-second`: pages sent per second.
    pub ram_pages_per_second: Option<u64>,
    /// `ram.postcopy-requests`: pages the destination asked for during post-copy.
    pub ram_postcopy_requests: Option<u64>,
    /// `disk.total`, for a migration that copies block devices (`blk`): bytes.
    pub disk_total: Option<u64>,
    /// `disk.remaining`: block bytes still to send.
    pub disk_remaining: Option<u64>,
    /// `disk.transferred`: block bytes sent.
    pub disk_transferred: Option<u64>,
    /// `error-desc`: why it failed.
    pub error_desc: Option<String>,
}

impl MigrationInfo {
    /// Parses `query-migrate`'s `return` object.
    pub fn from_value(v: &Value) -> Option<MigrationInfo> {
        v.as_object()?;
        let n = |k: &str| v.get(k).and_then(Value::as_u64);
        let ram = |k: &str| v.get("ram").and_then(|r| r.get(k)).and_then(Value::as_u64);
        let disk = |k: &str| v.get("disk").and_then(|r| r.get(k)).and_then(Value::as_u64);
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
            ram_duplicate: ram("duplicate"),
            ram_normal: ram("normal"),
            ram_normal_bytes: ram("normal-bytes"),
            ram_dirty_pages_rate: ram("dirty-pages-rate"),
            ram_mbps: v
                .get("ram")
                .and_then(|r| r.get("mbps"))
                .and_then(Value::as_f64),
            ram_dirty_sync_count: ram("dirty-sync-count"),
            ram_page_size: ram("page-size"),
            ram_pages_per_second: ram("pages-per-second"),
            ram_postcopy_requests: ram("postcopy-requests"),
            disk_total: disk("total"),
            disk_remaining: disk("remaining"),
            disk_transferred: disk("transferred"),
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

/// libvirt's unlimited migration bandwidth, in MiB/s (`QEMU_DOMAIN_MIG_BANDWIDTH_MAX`:
/// `INT64_MAX / (1024 * 1024)` on 64-bit hosts). libvirt sets `max-bandwidth` to this times
/// 1 MiB before every migration the caller gave no bandwidth for (QEMU's own default is
/// 128 MiB/s).
pub const BANDWIDTH_MAX_MIB: u64 = (i64::MAX as u64) / (1024 * 1024);

/// `query-migrate-parameters`' answer and `migrate-set-parameters`' arguments, as libvirt's
/// `qemuMigrationParams` holds them: a parameter left `None` is not sent (QEMU keeps its
/// value).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationParameters {
    /// `compress-level` (0-9).
    pub compress_level: Option<u64>,
    /// `compress-threads`.
    pub compress_threads: Option<u64>,
    /// `decompress-threads`.
    pub decompress_threads: Option<u64>,
    /// `cpu-throttle-initial`: percent, for `auto-converge`.
    pub cpu_throttle_initial: Option<u64>,
    /// `cpu-throttle-increment`: percent, for `auto-converge`.
    pub cpu_throttle_increment: Option<u64>,
    /// `tls-creds`: the id of the `tls-creds-x509` object (`""` turns TLS off).
    pub tls_creds: Option<String>,
    /// `tls-hostname`: the name the destination's certificate must carry.
    pub tls_hostname: Option<String>,
    /// `max-bandwidth`: bytes per second.
    pub max_bandwidth: Option<u64>,
    /// `downtime-limit`: milliseconds.
    pub downtime_limit: Option<u64>,
    /// `block-incremental`.
    pub block_incremental: Option<bool>,
    /// `xbzrle-cache-size`: bytes.
    pub xbzrle_cache_size: Option<u64>,
    /// `max-postcopy-bandwidth`: bytes per second.
    pub max_postcopy_bandwidth: Option<u64>,
    /// `multifd-channels`.
    pub multifd_channels: Option<u64>,
    /// `multifd-compression`: `none`, `zlib`, `zstd`.
    pub multifd_compression: Option<String>,
    /// `multifd-zlib-level`.
    pub multifd_zlib_level: Option<u64>,
    /// `multifd-zstd-level`.
    pub multifd_zstd_level: Option<u64>,
}

/// The integer parameters: QMP name and field, in libvirt's order.
macro_rules! int_params {
    ($m:ident) => {
        $m!(
            "compress-level" => compress_level,
            "compress-threads" => compress_threads,
            "decompress-threads" => decompress_threads,
            "cpu-throttle-initial" => cpu_throttle_initial,
            "cpu-throttle-increment" => cpu_throttle_increment,
            "max-bandwidth" => max_bandwidth,
            "downtime-limit" => downtime_limit,
            "xbzrle-cache-size" => xbzrle_cache_size,
            "max-postcopy-bandwidth" => max_postcopy_bandwidth,
            "multifd-channels" => multifd_channels,
            "multifd-zlib-level" => multifd_zlib_level,
            "multifd-zstd-level" => multifd_zstd_level
        )
    };
}

impl MigrationParameters {
    /// Parses `query-migrate-parameters`' `return` object (members oxvirt does not know are
    /// ignored).
    pub fn from_value(v: &Value) -> Option<MigrationParameters> {
        v.as_object()?;
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        let mut p = MigrationParameters {
            tls_creds: s("tls-creds"),
            tls_hostname: s("tls-hostname"),
            block_incremental: v.get("block-incremental").and_then(Value::as_bool),
            multifd_compression: s("multifd-compression"),
            ..MigrationParameters::default()
        };
        macro_rules! read {
            ($($k:literal => $f:ident),*) => {
                $(p.$f = v.get($k).and_then(Value::as_u64);)*
            };
        }
        int_params!(read);
        Some(p)
    }

    /// `migrate-set-parameters`' arguments: the parameters that are set.
    pub fn to_value(&self) -> Value {
        let mut m = serde_json::Map::new();
        macro_rules! write {
            ($($k:literal => $f:ident),*) => {
                $(if let Some(x) = self.$f { m.insert($k.into(), json!(x)); })*
            };
        }
        int_params!(write);
        if let Some(x) = &self.tls_creds {
            m.insert("tls-creds".into(), json!(x));
        }
        if let Some(x) = &self.tls_hostname {
            m.insert("tls-hostname".into(), json!(x));
        }
        if let Some(x) = self.block_incremental {
            m.insert("block-incremental".into(), json!(x));
        }
        if let Some(x) = &self.multifd_compression {
            m.insert("multifd-compression".into(), json!(x));
        }
        Value::Object(m)
    }
}

/// A migration event QEMU sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MigrationEvent {
    /// `MIGRATION`: the migration entered `status` (`setup`, `active`, `pre-switchover`,
    /// `device`, `postcopy-active`, `completed`, `failed`, `cancelled` ...). QEMU sends it
    /// only with the `events` capability on.
    Status(String),
    /// `MIGRATION_PASS`: RAM iteration `pass` started (libvirt's migration iteration
    /// event).
    Pass(u64),
}

impl MigrationEvent {
    /// The migration event `ev` is, if it is one.
    pub fn from_event(ev: &QmpEvent) -> Option<MigrationEvent> {
        match ev.name.as_str() {
            "MIGRATION" => Some(MigrationEvent::Status(
                ev.data.get("status")?.as_str()?.to_string(),
            )),
            "MIGRATION_PASS" => Some(MigrationEvent::Pass(ev.data.get("pass")?.as_u64()?)),
            _ => None,
        }
    }
}

/// Where a migration stream goes or comes from, as QEMU 8.2's `channels` argument of
/// `migrate` and `migrate-incoming` names it (a `MigrationAddress`). QEMU 7.2 knows only
/// the `uri` form ([`MigrationAddress::uri`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MigrationAddress {
    /// A TCP socket.
    Inet {
        /// Host name or address.
        host: String,
        /// Port.
        port: u16,
    },
    /// A UNIX socket.
    Unix {
        /// Its path.
        path: String,
    },
    /// A command reading or writing the stream on its standard input or output.
    Exec {
        /// The command and its arguments.
        args: Vec<String>,
    },
}

impl MigrationAddress {
    /// The address as a `uri` (`tcp:HOST:PORT`, an IPv6 address in brackets;
    /// `unix:PATH`; `exec:CMD`).
    pub fn uri(&self) -> String {
        match self {
            MigrationAddress::Inet { host, port } if host.contains(':') => {
                format!("tcp:[{host}]:{port}")
            }
            MigrationAddress::Inet { host, port } => format!("tcp:{host}:{port}"),
            MigrationAddress::Unix { path } => format!("unix:{path}"),
            MigrationAddress::Exec { args } => format!("exec:{}", args.join(" ")),
        }
    }

    /// The `channels` list of one `main` channel to this address.
    pub fn channels(&self) -> Value {
        let addr = match self {
            MigrationAddress::Inet { host, port } => json!({
                "transport": "socket", "type": "inet", "host": host, "port": port.to_string()
            }),
            MigrationAddress::Unix { path } => {
                json!({"transport": "socket", "type": "unix", "path": path})
            }
            MigrationAddress::Exec { args } => json!({"transport": "exec", "args": args}),
        };
        json!([{ "channel-type": "main", "addr": addr }])
    }
}

impl Qmp {
    /// `migrate` with `channels` (QEMU 8.2 and later) instead of a `uri`.
    pub async fn migrate_channels(&self, to: &MigrationAddress) -> Result<(), QmpError> {
        self.execute("migrate", Some(json!({ "channels": to.channels() })))
            .await
            .map(|_| ())
    }

    /// `migrate-incoming` with `channels` (QEMU 8.2 and later) instead of a `uri`.
    pub async fn migrate_incoming_channels(&self, from: &MigrationAddress) -> Result<(), QmpError> {
        self.execute(
            "migrate-incoming",
            Some(json!({ "channels": from.channels() })),
        )
        .await
        .map(|_| ())
    }
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

    /// `migrate-set-parameters` with the parameters `params` sets.
    pub async fn migrate_set_parameters(
        &self,
        params: &MigrationParameters,
    ) -> Result<(), QmpError> {
        self.execute("migrate-set-parameters", Some(params.to_value()))
            .await
            .map(|_| ())
    }

    /// `query-migrate-parameters`.
    pub async fn query_migrate_parameters(&self) -> Result<MigrationParameters, QmpError> {
        let ret = self.execute("query-migrate-parameters", None).await?;
        MigrationParameters::from_value(&ret)
            .ok_or_else(|| bad_reply("query-migrate-parameters", &ret))
    }

    /// `query-migrate-capabilities`: each capability QEMU knows and whether it is on.
    pub async fn query_migrate_capabilities(&self) -> Result<Vec<(String, bool)>, QmpError> {
        let ret = self.execute("query-migrate-capabilities", None).await?;
        let list = ret
            .as_array()
            .ok_or_else(|| bad_reply("query-migrate-capabilities", &ret))?;
        Ok(list
            .iter()
            .filter_map(|c| {
                let name = c.get("capability")?.as_str()?;
                Some((name.to_string(), c.get("state")?.as_bool()?))
            })
            .collect())
    }

    /// `migrate-continue` from the paused `state` (`pre-switchover` when the
    /// `pause-before-switchover` capability stopped the migration there).
    pub async fn migrate_continue(&self, state: &str) -> Result<(), QmpError> {
        self.execute("migrate-continue", Some(json!({ "state": state })))
            .await
            .map(|_| ())
    }

    /// `migrate-start-postcopy`: switch a migration started with `postcopy-ram` on to
    /// post-copy (the destination runs, pulling the pages it still lacks).
    pub async fn migrate_start_postcopy(&self) -> Result<(), QmpError> {
        self.execute("migrate-start-postcopy", None)
            .await
            .map(|_| ())
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
