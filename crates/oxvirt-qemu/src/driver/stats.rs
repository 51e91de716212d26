//! Statistics, jobs and memory of QEMU domains: `virConnectGetAllDomainStats` /
//! `virDomainListGetStats`, `virDomainGetJobInfo` / `virDomainAbortJob` and
//! `virDomainSetMemoryFlags`, as libvirt 9.0's QEMU driver does them.
//!
//! What libvirtd 9.0 gives (`virsh domstats`, checked with the same guest):
//! - running: `state.*`, `cpu.time|user|system`, `cpu.cache.monitor.count`,
//!   `cpu.haltpoll.success|fail.time`, `balloon.current|maximum|last-update|rss`,
//!   `vcpu.current|maximum`, `vcpu.N.state|time|wait|delay`, `net.count` (+ the entries of
//!   interfaces that have a host device), `block.count` + per disk, `dirtyrate.*`;
//! - shut off: `state.*`, `cpu.*` (libvirt reads its *own* process's times there: the
//!   domain has no pid, and `/proc/self/stat` is what it reads — kept), `balloon.current`,
//!   `balloon.maximum`, `vcpu.current|maximum`, `block.count`.

use std::sync::Arc;

use oxvirt_domain::driver::flags::{all_stats, memory, stats};
use oxvirt_domain::driver::{DomainRef, DomainStats, JobInfo, TypedParam, TypedValue};
use oxvirt_domain::objects::domains::DomainObj;
use oxvirt_domain::Domain;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};
use serde_json::{json, Value};

use super::vm::Vm;
use super::{check_flags, invalid, QemuDriver};
use crate::qmp::ops::{MigrationParameters, BANDWIDTH_MAX_MIB};

type Result<T> = std::result::Result<T, VirError>;

const FILTERS: u32 = all_stats::ACTIVE
    | all_stats::INACTIVE
    | all_stats::PERSISTENT
    | all_stats::TRANSIENT
    | all_stats::RUNNING
    | all_stats::PAUSED
    | all_stats::SHUTOFF
    | all_stats::OTHER;

/// Every group libvirt 9.0's QEMU driver knows (some give nothing here).
const SUPPORTED_GROUPS: u32 = stats::STATE
    | stats::CPU_TOTAL
    | stats::BALLOON
    | stats::VCPU
    | stats::INTERFACE
    | stats::BLOCK
    | stats::PERF
    | stats::IOTHREAD
    | stats::MEMORY
    | stats::DIRTYRATE
    | stats::VM;

/// Nanoseconds per clock tick of `/proc` times.
const TICK_NS: u64 = 10_000_000;

/// The fields of `/proc/.../stat` after the command name (field 3 is index 0).
fn stat_fields(path: &str) -> Option<Vec<u64>> {
    let text = std::fs::read_to_string(path).ok()?;
    let at = text.rfind(')')?;
    Some(
        text[at + 1..]
            .split_whitespace()
            .map(|f| f.parse::<u64>().unwrap_or(0))
            .collect(),
    )
}

/// `(user, system)` nanoseconds of `/proc/.../stat` at `path`.
fn user_system(path: &str) -> (u64, u64) {
    let f = stat_fields(path).unwrap_or_default();
    let at = |i: usize| f.get(i).copied().unwrap_or(0) * TICK_NS;
    (at(11), at(12))
}

/// The resident set of process `pid` in KiB (`/proc/PID/stat` field 24, pages).
fn rss_kib(pid: i32) -> u64 {
    let pages = stat_fields(&format!("/proc/{pid}/stat"))
        .and_then(|f| f.get(21).copied())
        .unwrap_or(0);
    pages * 4
}

/// The run-queue delay of a thread in ns (`schedstat`'s second field).
fn sched_delay(pid: i32, tid: i64) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/schedstat"))
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

/// The I/O wait of a thread in ns (`sched`'s `wait_sum`, in ms with decimals), 0 when
/// the kernel keeps no scheduler statistics.
fn sched_wait(pid: i32, tid: i64) -> u64 {
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/sched")) else {
        return 0;
    };
    text.lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            let k = k.trim();
            (k == "se.statistics.wait_sum" || k == "se.wait_sum")
                .then(|| v.trim().parse::<f64>().ok())
                .flatten()
        })
        .map_or(0, |ms| (ms * 1_000_000.0) as u64)
}

/// A host network device's counters from `/proc/net/dev`: rx bytes, packets, errs, drop,
/// tx bytes, packets, errs, drop.
fn net_dev_counters(ifname: &str) -> Option<[u64; 8]> {
    let text = std::fs::read_to_string("/proc/net/dev").ok()?;
    let line = text.lines().find_map(|l| {
        let (name, rest) = l.split_once(':')?;
        (name.trim() == ifname).then_some(rest)
    })?;
    let n: Vec<u64> = line
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0))
        .collect();
    let g = |i: usize| n.get(i).copied().unwrap_or(0);
    Some([g(0), g(1), g(2), g(3), g(8), g(9), g(10), g(11)])
}

/// `(capacity, physical)` of an image file: its virtual size (a qcow2 header's, else the
/// file's length) and the file's length.
fn image_sizes(path: &str) -> Option<(u64, u64)> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).ok()?;
    let len = f.metadata().ok()?.len();
    let mut head = [0u8; 32];
    let capacity = match f.read_exact(&mut head) {
        Ok(()) if &head[..4] == b"QFI\xfb" => {
            let mut b = [0u8; 8];
            b.copy_from_slice(&head[24..32]);
            u64::from_be_bytes(b)
        }
        _ => len,
    };
    Some((capacity, len))
}

struct Params(Vec<TypedParam>);

impl Params {
    fn int(&mut self, k: impl Into<String>, v: i32) {
        self.0.push(TypedParam::new(k, TypedValue::Int(v)));
    }
    fn uint(&mut self, k: impl Into<String>, v: u32) {
        self.0.push(TypedParam::new(k, TypedValue::UInt(v)));
    }
    fn ull(&mut self, k: impl Into<String>, v: u64) {
        self.0.push(TypedParam::new(k, TypedValue::ULLong(v)));
    }
    fn ll(&mut self, k: impl Into<String>, v: i64) {
        self.0.push(TypedParam::new(k, TypedValue::LLong(v)));
    }
    fn string(&mut self, k: impl Into<String>, v: impl Into<String>) {
        self.0
            .push(TypedParam::new(k, TypedValue::String(v.into())));
    }
}

/// What QEMU says about a running domain, read before the statistics are assembled.
#[derive(Default)]
struct Live {
    pid: i32,
    /// `(cpu index, thread id)`.
    vcpus: Vec<(i64, i64)>,
    balloon_last_update: Option<u64>,
    blockstats: Vec<Value>,
    block_nodes: Vec<Value>,
    dirty: Option<Value>,
}

async fn read_live(vm: &Arc<Vm>, groups: u32) -> Live {
    let qmp = vm.qmp();
    let mut live = Live {
        pid: vm.pid(),
        ..Live::default()
    };
    if groups & stats::VCPU != 0 {
        if let Ok(cpus) = qmp.query_cpus_fast().await {
            live.vcpus = cpus.iter().map(|c| (c.cpu_index, c.thread_id)).collect();
        }
    }
    if groups & stats::BALLOON != 0 {
        let args = json!({"path": "/machine/peripheral/balloon0", "property": "guest-stats"});
        if let Ok(v) = qmp.execute("qom-get", Some(args)).await {
            live.balloon_last_update = v.get("last-update").and_then(Value::as_u64);
        }
    }
    if groups & stats::BLOCK != 0 {
        if let Ok(Value::Array(v)) = qmp.execute("query-blockstats", None).await {
            live.blockstats = v;
        }
        let args = json!({"flat": true});
        if let Ok(Value::Array(v)) = qmp.execute("query-named-block-nodes", Some(args)).await {
            live.block_nodes = v;
        }
    }
    if groups & stats::DIRTYRATE != 0 {
        live.dirty = qmp.execute("query-dirty-rate", None).await.ok();
    }
    live
}

/// The alias QEMU knows a disk by (`virtio-disk0`, `ide0-0-0`...): the one in the live
/// definition, else the one the command line gave it.
pub(crate) fn disk_alias(disk: &oxvirt_domain::devices::Disk) -> String {
    if let Some(a) = disk.info.alias_name() {
        return a.to_string();
    }
    let dev = disk.target_dev().unwrap_or_default();
    format!("virtio-disk{}", crate::command::disk::target_index(dev))
}

fn state_group(p: &mut Params, obj: &DomainObj) {
    p.int("state.state", obj.state().number());
    p.int("state.reason", obj.state.reason());
}

fn cpu_group(p: &mut Params, live: Option<&Live>) {
    let path = match live {
        Some(l) => format!("/proc/{}/stat", l.pid),
        None => "/proc/self/stat".to_string(),
    };
    let (user, system) = user_system(&path);
    p.ull("cpu.time", user + system);
    p.ull("cpu.user", user);
    p.ull("cpu.system", system);
    if live.is_some() {
        p.uint("cpu.cache.monitor.count", 0);
        p.ull("cpu.haltpoll.success.time", 0);
        p.ull("cpu.haltpoll.fail.time", 0);
    }
}

fn balloon_group(p: &mut Params, def: &Domain, live: Option<&Live>) {
    p.ull("balloon.current", def.memory_current());
    p.ull("balloon.maximum", def.memory_total());
    if let Some(l) = live {
        if let Some(t) = l.balloon_last_update {
            p.ull("balloon.last-update", t);
        }
        p.ull("balloon.rss", rss_kib(l.pid));
    }
}

fn vcpu_group(p: &mut Params, def: &Domain, live: Option<&Live>) {
    p.uint("vcpu.current", def.vcpus_current());
    p.uint("vcpu.maximum", def.vcpus_max());
    let Some(l) = live else {
        return;
    };
    for (index, tid) in &l.vcpus {
        let (user, system) = user_system(&format!("/proc/{}/task/{tid}/stat", l.pid));
        p.int(format!("vcpu.{index}.state"), 1);
        p.ull(format!("vcpu.{index}.time"), user + system);
        p.ull(format!("vcpu.{index}.wait"), sched_wait(l.pid, *tid));
        p.ull(format!("vcpu.{index}.delay"), sched_delay(l.pid, *tid));
    }
}

fn net_group(p: &mut Params, def: &Domain) {
    let nets = &def.devices.interfaces;
    p.uint("net.count", nets.len() as u32);
    for (i, net) in nets.iter().enumerate() {
        let Some(ifname) = net.target.as_ref().and_then(|t| t.dev.as_deref()) else {
            continue;
        };
        let Some(c) = net_dev_counters(ifname) else {
            continue;
        };
        p.string(format!("net.{i}.name"), ifname);
        // A tap's host side sees the guest's traffic the other way round.
        let (rx, tx) = ([c[4], c[5], c[6], c[7]], [c[0], c[1], c[2], c[3]]);
        for (dir, v) in [("rx", rx), ("tx", tx)] {
            p.ull(format!("net.{i}.{dir}.bytes"), v[0]);
            p.ull(format!("net.{i}.{dir}.pkts"), v[1]);
            p.ull(format!("net.{i}.{dir}.errs"), v[2]);
            p.ull(format!("net.{i}.{dir}.drop"), v[3]);
        }
    }
}

fn block_group(p: &mut Params, def: &Domain, live: Option<&Live>) {
    let disks = &def.devices.disks;
    p.uint("block.count", disks.len() as u32);
    let Some(l) = live else {
        // Shut off: what the image files say (libvirt's `qemuDomainGetStatsBlock` without
        // a monitor).
        for (i, disk) in disks.iter().enumerate() {
            p.string(
                format!("block.{i}.name"),
                disk.target_dev().unwrap_or_default(),
            );
            let Some(path) = disk.source_path() else {
                continue;
            };
            p.string(format!("block.{i}.path"), path);
            if let Some((capacity, physical)) = image_sizes(path) {
                p.ull(format!("block.{i}.capacity"), capacity);
                p.ull(format!("block.{i}.physical"), physical);
            }
        }
        return;
    };
    for (i, disk) in disks.iter().enumerate() {
        let alias = disk_alias(disk);
        p.string(
            format!("block.{i}.name"),
            disk.target_dev().unwrap_or_default(),
        );
        let entry = l.blockstats.iter().find(|e| {
            e.get("qdev")
                .and_then(Value::as_str)
                .is_some_and(|q| q == alias || q.contains(&format!("/{alias}/")))
        });
        let node = entry
            .and_then(|e| e.get("node-name"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        if let Some(path) = disk.source_path() {
            p.string(format!("block.{i}.path"), path);
            if let Some(n) = node
                .strip_prefix("libvirt-")
                .and_then(|r| r.split('-').next())
                .and_then(|n| n.parse::<u32>().ok())
            {
                p.uint(format!("block.{i}.backingIndex"), n);
            }
        }
        let Some(e) = entry else {
            continue;
        };
        let s = |k: &str| e.pointer(&format!("/stats/{k}")).and_then(Value::as_u64);
        let z = |k: &str| s(k).unwrap_or(0);
        p.ull(format!("block.{i}.rd.reqs"), z("rd_operations"));
        p.ull(format!("block.{i}.rd.bytes"), z("rd_bytes"));
        p.ull(format!("block.{i}.rd.times"), z("rd_total_time_ns"));
        p.ull(format!("block.{i}.wr.reqs"), z("wr_operations"));
        p.ull(format!("block.{i}.wr.bytes"), z("wr_bytes"));
        p.ull(format!("block.{i}.wr.times"), z("wr_total_time_ns"));
        p.ull(format!("block.{i}.fl.reqs"), z("flush_operations"));
        p.ull(format!("block.{i}.fl.times"), z("flush_total_time_ns"));
        p.ull(format!("block.{i}.allocation"), z("wr_highest_offset"));
        let image = l
            .block_nodes
            .iter()
            .find(|n| n.get("node-name").and_then(Value::as_str) == Some(node))
            .and_then(|n| n.get("image"));
        if let Some(img) = image {
            let g = |k: &str| img.get(k).and_then(Value::as_u64).unwrap_or(0);
            p.ull(format!("block.{i}.capacity"), g("virtual-size"));
            p.ull(format!("block.{i}.physical"), g("actual-size"));
        }
    }
}

fn dirtyrate_group(p: &mut Params, live: &Live) {
    let Some(d) = &live.dirty else {
        return;
    };
    let status = match d.get("status").and_then(Value::as_str) {
        Some("measuring") => 1,
        Some("measured") => 2,
        _ => 0,
    };
    p.int("dirtyrate.calc_status", status);
    p.ll(
        "dirtyrate.calc_start_time",
        d.get("start-time").and_then(Value::as_i64).unwrap_or(0),
    );
    p.int(
        "dirtyrate.calc_period",
        d.get("calc-time").and_then(Value::as_i64).unwrap_or(0) as i32,
    );
    p.string(
        "dirtyrate.calc_mode",
        d.get("mode")
            .and_then(Value::as_str)
            .unwrap_or("page-sampling"),
    );
    if status == 2 {
        if let Some(rate) = d.get("dirty-rate").and_then(Value::as_i64) {
            p.ll("dirtyrate.megabytes_per_second", rate);
        }
    }
}

impl QemuDriver {
    /// `virConnectGetAllDomainStats` (`doms` empty) / `virDomainListGetStats`
    /// (`qemuConnectGetAllDomainStats`).
    pub(crate) async fn domain_stats(
        &self,
        doms: &[DomainRef],
        groups: u32,
        flags: u32,
    ) -> Result<Vec<DomainStats>> {
        check_flags(
            flags,
            FILTERS | all_stats::NOWAIT | all_stats::BACKING | all_stats::ENFORCE_STATS,
            "qemuConnectGetAllDomainStats",
        )?;
        let lacking = groups & !SUPPORTED_GROUPS;
        if flags & all_stats::ENFORCE_STATS != 0 && lacking != 0 {
            return Err(VirError::new(
                ErrorDomain::Qemu,
                ErrorCode::ArgumentUnsupported,
                format!("Stats types bits 0x{lacking:x} are not supported by this daemon"),
            ));
        }
        let groups = if groups == 0 {
            SUPPORTED_GROUPS
        } else {
            groups & SUPPORTED_GROUPS
        };
        let filter = flags & FILTERS;
        let selected: Vec<DomainRef> = {
            let list = self.domains();
            if doms.is_empty() {
                list.export(filter).iter().map(|o| o.to_ref()).collect()
            } else {
                doms.iter()
                    .filter_map(|d| list.find_by_uuid(&d.uuid))
                    .filter(|o| o.matches(filter))
                    .map(|o| o.to_ref())
                    .collect()
            }
        };
        let mut out = Vec::new();
        for dom in selected {
            let vm = self.vm(&dom.uuid);
            let live = match &vm {
                Some(vm) => Some(read_live(vm, groups).await),
                None => None,
            };
            let record = self.with_obj(&dom, |obj| {
                let live = live.as_ref().filter(|_| obj.is_active());
                Ok(self.stats_record(obj, groups, live))
            });
            if let Ok(r) = record {
                out.push(r);
            }
        }
        Ok(out)
    }

    fn stats_record(&self, obj: &DomainObj, groups: u32, live: Option<&Live>) -> DomainStats {
        let mut p = Params(Vec::new());
        let def = obj.def();
        if groups & stats::STATE != 0 {
            state_group(&mut p, obj);
        }
        if groups & stats::CPU_TOTAL != 0 {
            cpu_group(&mut p, live);
        }
        if groups & stats::BALLOON != 0 {
            balloon_group(&mut p, def, live);
        }
        if groups & stats::VCPU != 0 {
            vcpu_group(&mut p, def, live);
        }
        if groups & stats::INTERFACE != 0 && live.is_some() {
            net_group(&mut p, def);
        }
        if groups & stats::BLOCK != 0 {
            block_group(&mut p, def, live);
        }
        if let (true, Some(l)) = (groups & stats::DIRTYRATE != 0, live) {
            dirtyrate_group(&mut p, l);
        }
        DomainStats {
            domain: obj.to_ref(),
            params: p.0,
        }
    }

    /// `virDomainGetJobInfo` (`qemuDomainGetJobInfo`): a save in progress is an unbounded
    /// job with QEMU's migration figures; anything else is no job.
    pub(crate) async fn job_info(&self, dom: &DomainRef) -> Result<JobInfo> {
        let vm = self.running_domain(dom)?;
        let Ok(info) = vm.qmp().query_migrate().await else {
            return Ok(JobInfo::default());
        };
        if !matches!(
            info.status(),
            "setup" | "active" | "device" | "pre-switchover"
        ) {
            return Ok(JobInfo::default());
        }
        let total = info.ram_total.unwrap_or(0);
        let done = info.ram_transferred.unwrap_or(0);
        let left = info.ram_remaining.unwrap_or(0);
        Ok(JobInfo {
            kind: 2,
            time_elapsed: info.total_time_ms.unwrap_or(0),
            data_total: total,
            data_processed: done,
            data_remaining: left,
            mem_total: total,
            mem_processed: done,
            mem_remaining: left,
            ..JobInfo::default()
        })
    }

    /// `virDomainGetJobStats` (`qemuDomainGetJobStats`): with
    /// `VIR_DOMAIN_JOB_STATS_COMPLETED` the domain's last completed job (a migration's, on
    /// either side), removed once read unless `VIR_DOMAIN_JOB_STATS_KEEP_COMPLETED`;
    /// without it the current job as [`QemuDriver::job_info`] sees it.
    pub(crate) async fn job_stats(
        &self,
        dom: &DomainRef,
        flags: u32,
    ) -> Result<(i32, Vec<TypedParam>)> {
        const COMPLETED: u32 = 1;
        const KEEP_COMPLETED: u32 = 2;
        check_flags(flags, COMPLETED | KEEP_COMPLETED, "qemuDomainGetJobStats")?;
        if flags & COMPLETED != 0 {
            self.with_obj(dom, |_| Ok(()))?;
            let mut jobs = super::lock(&self.inner.completed_jobs);
            let params = if flags & KEEP_COMPLETED != 0 {
                jobs.get(&dom.uuid).cloned()
            } else {
                jobs.remove(&dom.uuid)
            };
            return Ok(match params {
                Some(p) => (3, p),
                None => (0, Vec::new()),
            });
        }
        let j = self.job_info(dom).await?;
        if j.kind == 0 {
            return Ok((0, Vec::new()));
        }
        let u = |name: &str, v: u64| TypedParam::new(name, TypedValue::ULLong(v));
        Ok((
            j.kind,
            vec![
                u("time_elapsed", j.time_elapsed),
                u("data_total", j.data_total),
                u("data_processed", j.data_processed),
                u("data_remaining", j.data_remaining),
                u("memory_total", j.mem_total),
                u("memory_processed", j.mem_processed),
                u("memory_remaining", j.mem_remaining),
            ],
        ))
    }

    /// `virDomainMigrateSetMaxSpeed` (`qemuDomainMigrateSetMaxSpeed`): the bandwidth in
    /// MiB/s the domain's migrations use when the caller gives none; on a running domain
    /// QEMU's `max-bandwidth` is set at once (so a migration in progress slows down).
    pub(crate) async fn migrate_set_max_speed(
        &self,
        dom: &DomainRef,
        mib: u64,
        flags: u32,
    ) -> Result<()> {
        check_flags(flags, 0, "qemuDomainMigrateSetMaxSpeed")?;
        if mib > BANDWIDTH_MAX_MIB {
            return Err(VirError::new(
                ErrorDomain::Qemu,
                ErrorCode::Overflow,
                format!("bandwidth must be less than {}", BANDWIDTH_MAX_MIB + 1),
            ));
        }
        if self.with_obj(dom, |obj| Ok(obj.is_active()))? {
            let vm = self.running_domain(dom)?;
            let params = MigrationParameters {
                max_bandwidth: Some(mib.saturating_mul(1024 * 1024)),
                ..MigrationParameters::default()
            };
            vm.qmp()
                .migrate_set_parameters(&params)
                .await
                .map_err(VirError::from)?;
        }
        super::lock(&self.inner.migrate_speeds).insert(dom.uuid, mib);
        Ok(())
    }

    /// `virDomainMigrateGetMaxSpeed`: the bandwidth set by
    /// [`QemuDriver::migrate_set_max_speed`], else libvirt's unlimited
    /// ([`BANDWIDTH_MAX_MIB`]).
    pub(crate) async fn migrate_get_max_speed(&self, dom: &DomainRef, flags: u32) -> Result<u64> {
        check_flags(flags, 0, "qemuDomainMigrateGetMaxSpeed")?;
        self.with_obj(dom, |_| Ok(()))?;
        Ok(self.migrate_speed(dom).unwrap_or(BANDWIDTH_MAX_MIB))
    }

    /// The bandwidth (MiB/s) set for the migrations of `dom`, if any.
    pub(crate) fn migrate_speed(&self, dom: &DomainRef) -> Option<u64> {
        super::lock(&self.inner.migrate_speeds)
            .get(&dom.uuid)
            .copied()
    }

    /// `virDomainMigrateSetMaxDowntime` (`qemuDomainMigrateSetMaxDowntime`): QEMU's
    /// `downtime-limit` of the running domain, in milliseconds.
    pub(crate) async fn migrate_set_max_downtime(
        &self,
        dom: &DomainRef,
        ms: u64,
        flags: u32,
    ) -> Result<()> {
        check_flags(flags, 0, "qemuDomainMigrateSetMaxDowntime")?;
        let vm = self.running_domain(dom)?;
        let params = MigrationParameters {
            downtime_limit: Some(ms),
            ..MigrationParameters::default()
        };
        vm.qmp()
            .migrate_set_parameters(&params)
            .await
            .map_err(VirError::from)
    }

    /// `virDomainMigrateGetMaxDowntime` (`qemuDomainMigrateGetMaxDowntime`): QEMU's
    /// `downtime-limit` of the running domain, in milliseconds.
    pub(crate) async fn migrate_get_max_downtime(
        &self,
        dom: &DomainRef,
        flags: u32,
    ) -> Result<u64> {
        check_flags(flags, 0, "qemuDomainMigrateGetMaxDowntime")?;
        let vm = self.running_domain(dom)?;
        let params = vm
            .qmp()
            .query_migrate_parameters()
            .await
            .map_err(VirError::from)?;
        params.downtime_limit.ok_or_else(|| {
            VirError::new(
                ErrorDomain::Qemu,
                ErrorCode::OperationFailed,
                "Querying migration downtime is not supported by QEMU binary",
            )
        })
    }

    /// `virDomainAbortJob`: cancels a save in progress (the save then fails with
    /// "operation aborted").
    pub(crate) async fn abort_job(&self, dom: &DomainRef) -> Result<()> {
        let vm = self.running_domain(dom)?;
        let status = vm.qmp().query_migrate().await.ok();
        let status = status.as_ref().map(|i| i.status());
        // Neither host holds the whole guest in post-copy: libvirt refuses to abort it.
        if status == Some("postcopy-active") {
            return Err(invalid("cannot abort migration in post-copy mode"));
        }
        let active = matches!(
            status,
            Some("setup" | "active" | "device" | "pre-switchover")
        );
        if !active {
            return Err(invalid("no job is active on the domain"));
        }
        vm.qmp().migrate_cancel().await.map_err(VirError::from)
    }

    /// The running QEMU of `dom`, or libvirt's "domain is not running" (from the conf
    /// layer, as `virDomainObjCheckActive` reports it).
    fn running_domain(&self, dom: &DomainRef) -> Result<Arc<Vm>> {
        let active = self.with_obj(dom, |obj| Ok(obj.is_active()))?;
        match self.vm(&dom.uuid) {
            Some(vm) if active => Ok(vm),
            _ => Err(VirError::new(
                ErrorDomain::Domain,
                ErrorCode::OperationInvalid,
                "domain is not running",
            )),
        }
    }

    /// `virDomainSetMemoryFlags` (`qemuDomainSetMemoryFlags`): the balloon of the running
    /// guest, and/or `<currentMemory>` (or `<memory>` with `MAXIMUM`) of the persistent
    /// definition.
    pub(crate) async fn set_memory(&self, dom: &DomainRef, kib: u64, flags: u32) -> Result<()> {
        check_flags(
            flags,
            memory::LIVE | memory::CONFIG | memory::MAXIMUM,
            "qemuDomainSetMemoryFlags",
        )?;
        let _job = self.lock_job(&dom.uuid).await?;
        let (flags, live_max, config_max, balloon) = self.with_obj(dom, |obj| {
            let flags = obj.update_modification_impact(flags)?;
            let balloon = obj
                .def()
                .devices
                .memballoon
                .as_ref()
                .is_some_and(|b| oxvirt_xml::XmlEnum::as_xml_str(&b.model) != "none");
            Ok((
                flags,
                obj.def().memory_total(),
                obj.persistent_def().memory_total(),
                balloon,
            ))
        })?;
        let live = flags & memory::LIVE != 0;
        let config = flags & memory::CONFIG != 0;
        if flags & memory::MAXIMUM != 0 {
            if live {
                return Err(invalid(
                    "cannot resize the maximum memory on an active domain",
                ));
            }
            let def = self.with_obj(dom, |obj| {
                let (mut def, _) = obj.one_def_mut(memory::CONFIG)?;
                if let Some(m) = def.memory.as_mut() {
                    m.kib = kib;
                }
                if def.current_memory.is_some_and(|c| c > kib) {
                    def.current_memory = Some(kib);
                }
                Ok(def.clone())
            })?;
            return self.save_config(&def);
        }
        let too_big = || {
            VirError::new(
                ErrorDomain::Qemu,
                ErrorCode::InvalidArg,
                "cannot set memory higher than max memory",
            )
        };
        if (live && kib > live_max) || (config && kib > config_max) {
            return Err(too_big());
        }
        if live {
            if !balloon {
                return Err(invalid(
                    "Unable to change memory of active domain without the balloon device \
                     and guest OS balloon driver",
                ));
            }
            let vm = self.running_domain(dom)?;
            vm.qmp().balloon(kib * 1024).await.map_err(VirError::from)?;
        }
        if config {
            let def = self.with_obj(dom, |obj| {
                let (mut def, _) = obj.one_def_mut(memory::CONFIG)?;
                def.current_memory = Some(kib);
                Ok(def.clone())
            })?;
            self.save_config(&def)?;
        }
        Ok(())
    }
}
