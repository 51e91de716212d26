//! Where a running domain's threads may run and where its memory lives, as libvirt's QEMU
//! driver arranges it: the affinity of QEMU's threads at start (`qemuProcessInitCpuAffinity`,
//! `qemuProcessSetupEmulator`, `qemuProcessSetupVcpus`, `qemuProcessSetupIOThreads`), the
//! pinning calls (`virDomainPinVcpuFlags`, `virDomainPinEmulator`, `virDomainPinIOThread`)
//! and their queries, `virDomainGetVcpus`, and the NUMA parameters.
//!
//! libvirt confines the emulator threads through the domain's `emulator` cgroup; oxvirt
//! does not place QEMU in cgroups, so the emulator pin is applied to every thread of the
//! QEMU process that runs neither a vCPU nor an I/O thread (`/proc/PID/task`), which is what
//! the cgroup achieves. Threads QEMU creates later inherit the affinity of the thread that
//! creates them (the main loop, an emulator thread).
//!
//! NUMA memory placement of a running domain: libvirt 9.0 changes a running domain's
//! nodeset only when it has no `<numatune>` mode or is in `restrictive` mode, by writing
//! `cpuset.mems` of the domain's cgroups. oxvirt keeps libvirt's checks (the mode cannot
//! change, nothing changes in strict mode, a nodeset needs restrictive mode or none, every
//! node must exist on the host). Its QEMU is in no cpuset cgroup, so a nodeset holding
//! every host node (which binds nothing: the only choice on a one-node host) is recorded
//! in the live definition, and any other is refused as libvirt refuses a domain without a
//! cpuset cgroup ("cgroup cpuset controller is not mounted"). The persistent definition
//! changes as libvirt's does.

use oxvirt_domain::driver::event::tunable;
use oxvirt_domain::driver::flags::affect;
use oxvirt_domain::driver::placement::{
    expect_type, numa_mode_of, numa_parameters, parse_nodeset, NUMA_MODE, NUMA_NODESET, STRING_OKAY,
};
pub(crate) use oxvirt_domain::driver::placement::{map_to_set, set_to_map};
use oxvirt_domain::driver::{
    CpuMap, DomainEvent, DomainRef, IothreadInfo, Result, TypedParam, TypedValue, VcpuInfo,
};
use oxvirt_domain::tuning::{
    Cputune, EmulatorPin, IothreadIds, IothreadPin, NumaMode, NumaPlacement, Numatune,
    NumatuneMemory, VcpuPin,
};
use oxvirt_domain::Domain;
use oxvirt_xml::types::cpuset::CpuSet;
use oxvirt_xml::{ErrorCode, ErrorDomain, Unknown, VirError};
use serde_json::Value;

use super::vm::Vm;
use super::{check_flags, QemuDriver};

/// One pinning call (`virDomainPinVcpuFlags`, `virDomainPinEmulator`,
/// `virDomainPinIOThread`): what differs between them.
struct PinChange<P, L, C> {
    /// libvirt's message for an empty CPU list.
    empty: &'static str,
    /// The field of the tunable event a live pin emits.
    field: String,
    /// Checks the persistent definition before anything changes.
    check_config: P,
    /// Pins the running threads and records the pin in the live definition.
    live: L,
    /// Records the pin in the persistent definition.
    config: C,
}

/// The host threads of a running QEMU's vCPUs and I/O threads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Threads {
    /// `(vCPU index, thread id)` of each online vCPU, by index.
    pub vcpus: Vec<(u32, i32)>,
    /// `(I/O thread id, thread id)` of each I/O thread, in QEMU's order.
    pub iothreads: Vec<(u32, i32)>,
}

impl Threads {
    fn vcpu(&self, vcpu: u32) -> Option<i32> {
        self.vcpus.iter().find(|(i, _)| *i == vcpu).map(|(_, t)| *t)
    }

    fn iothread(&self, id: u32) -> Option<i32> {
        self.iothreads
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, t)| *t)
    }

    /// The threads of process `pid` that run neither a vCPU nor an I/O thread.
    fn emulator(&self, pid: i32) -> Vec<i32> {
        tasks(pid)
            .into_iter()
            .filter(|t| {
                !self.vcpus.iter().any(|(_, v)| v == t)
                    && !self.iothreads.iter().any(|(_, v)| v == t)
            })
            .collect()
    }
}

fn qemu_error(code: ErrorCode, detail: impl AsRef<str>) -> VirError {
    VirError::new(ErrorDomain::Qemu, code, detail)
}

/// A CPU list read from sysfs (`0-3,6`), empty when unreadable.
fn sys_list(path: &str) -> CpuSet {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| CpuSet::parse_unlimited(t.trim()).ok())
        .unwrap_or_default()
}

/// How many CPUs the host has (`virHostCPUGetCount`: the highest present CPU plus one).
pub(crate) fn host_cpu_count() -> u32 {
    let present = sys_list("/sys/devices/system/cpu/present");
    present
        .last()
        .map_or_else(|| online_cpus().last().map_or(1, |c| c + 1), |c| c + 1)
}

/// The online host CPUs (`virHostCPUGetAvailableCPUsBitmap`).
pub(crate) fn online_cpus() -> CpuSet {
    sys_list("/sys/devices/system/cpu/online")
}

/// Every host CPU, `0` to the count.
fn all_cpus() -> CpuSet {
    let mut set = CpuSet::new();
    set.insert_range(0, host_cpu_count().saturating_sub(1));
    set
}

/// The bytes of a map of every host CPU.
fn host_maplen() -> usize {
    host_cpu_count().div_ceil(8) as usize
}

/// The thread ids of process `pid` (`/proc/PID/task`).
pub(crate) fn tasks(pid: i32) -> Vec<i32> {
    let mut tids: Vec<i32> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    tids.sort_unstable();
    tids
}

/// Sets the affinity of thread `tid` (`virProcessSetAffinity`).
pub(crate) fn set_affinity(tid: i32, set: &CpuSet) -> Result<()> {
    let mut mask = rustix::thread::CpuSet::new();
    for cpu in set.iter() {
        if (cpu as usize) < rustix::thread::CpuSet::MAX_CPU {
            mask.set(cpu as usize);
        }
    }
    let pid = rustix::process::Pid::from_raw(tid);
    rustix::thread::sched_setaffinity(pid, &mask).map_err(|e| {
        VirError::new(
            ErrorDomain::None,
            ErrorCode::SystemError,
            format!(
                "cannot set CPU affinity on process {tid}: {}",
                oxvirt_domain::fsio::strerror(&std::io::Error::from(e))
            ),
        )
    })
}

/// The affinity of thread `tid` (`virProcessGetAffinity`).
pub(crate) fn get_affinity(tid: i32) -> Result<CpuSet> {
    let pid = rustix::process::Pid::from_raw(tid);
    let mask = rustix::thread::sched_getaffinity(pid).map_err(|e| {
        VirError::new(
            ErrorDomain::None,
            ErrorCode::SystemError,
            format!(
                "cannot get CPU affinity of process {tid}: {}",
                oxvirt_domain::fsio::strerror(&std::io::Error::from(e))
            ),
        )
    })?;
    let mut set = CpuSet::new();
    for cpu in 0..rustix::thread::CpuSet::MAX_CPU {
        if mask.is_set(cpu) {
            set.insert(cpu as u32);
        }
    }
    Ok(set)
}

/// The CPU time (ns) thread `tid` of `pid` used and the host CPU it last ran on, from
/// `/proc/PID/task/TID/stat` (libvirt's `virProcessGetStatInfo`).
pub(crate) fn thread_stat(pid: i32, tid: i32) -> Option<(u64, i32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat")).ok()?;
    let at = stat.rfind(')')?;
    // After the command, state is field 3: utime, stime are 14, 15 and processor is 39.
    let fields: Vec<&str> = stat[at + 1..].split_whitespace().collect();
    let num = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    let ticks = num(11)? + num(12)?;
    let cpu = fields.get(36).and_then(|f| f.parse::<i32>().ok())?;
    Some((ticks * (1_000_000_000 / 100), cpu))
}

/// The I/O thread ids of a definition: those listed, then the lowest free ids up to the
/// count (as libvirt fills `<iothreadids>`).
pub(crate) fn iothread_ids(def: &Domain) -> Vec<u32> {
    IothreadIds::all_ids(def.iothreads.as_ref(), def.iothreadids.as_ref())
}

/// `<vcpu cpuset>`: the default affinity of the domain's threads.
fn def_cpumask(def: &Domain) -> Option<&CpuSet> {
    def.vcpu.as_ref().and_then(|v| v.cpuset.as_ref())
}

fn vcpupin(def: &Domain, vcpu: u32) -> Option<&CpuSet> {
    def.cputune
        .as_ref()?
        .vcpupins
        .iter()
        .find(|p| p.vcpu == vcpu)
        .map(|p| &p.cpuset)
}

fn emulatorpin(def: &Domain) -> Option<&CpuSet> {
    def.cputune
        .as_ref()?
        .emulatorpin
        .as_ref()
        .map(|p| &p.cpuset)
}

fn iothreadpin(def: &Domain, id: u32) -> Option<&CpuSet> {
    def.cputune
        .as_ref()?
        .iothreadpins
        .iter()
        .find(|p| p.iothread == id)
        .map(|p| &p.cpuset)
}

/// Sets `<vcpupin vcpu= cpuset=>`, keeping the pins in vCPU order as libvirt formats them.
fn set_vcpupin(def: &mut Domain, vcpu: u32, cpuset: CpuSet) {
    let tune = def.cputune.get_or_insert_with(Cputune::default);
    match tune.vcpupins.iter_mut().find(|p| p.vcpu == vcpu) {
        Some(p) => p.cpuset = cpuset,
        None => tune.vcpupins.push(VcpuPin {
            vcpu,
            cpuset,
            unknown: Unknown::default(),
        }),
    }
    tune.vcpupins.sort_by_key(|p| p.vcpu);
}

fn set_emulatorpin(def: &mut Domain, cpuset: CpuSet) {
    let tune = def.cputune.get_or_insert_with(Cputune::default);
    match &mut tune.emulatorpin {
        Some(p) => p.cpuset = cpuset,
        None => {
            tune.emulatorpin = Some(EmulatorPin {
                cpuset,
                unknown: Unknown::default(),
            })
        }
    }
}

/// Sets `<iothreadpin iothread= cpuset=>`, in the order of the I/O threads.
fn set_iothreadpin(def: &mut Domain, iothread: u32, cpuset: CpuSet) {
    let order = iothread_ids(def);
    let tune = def.cputune.get_or_insert_with(Cputune::default);
    match tune
        .iothreadpins
        .iter_mut()
        .find(|p| p.iothread == iothread)
    {
        Some(p) => p.cpuset = cpuset,
        None => tune.iothreadpins.push(IothreadPin {
            iothread,
            cpuset,
            unknown: Unknown::default(),
        }),
    }
    tune.iothreadpins
        .sort_by_key(|p| order.iter().position(|&i| i == p.iothread));
}

/// The CPUs of the host NUMA nodes in `nodes` (`virNumaNodesetToCPUset`).
fn nodes_cpus(nodes: &CpuSet) -> CpuSet {
    let mut cpus = CpuSet::new();
    for node in nodes.iter() {
        let list = sys_list(&format!("/sys/devices/system/node/node{node}/cpulist"));
        cpus = cpus.union(&list);
    }
    cpus
}

/// Whether host NUMA node `node` exists (`virNumaNodeIsAvailable`); a host without NUMA
/// in sysfs has node 0 only.
fn node_available(node: u32) -> bool {
    let base = std::path::Path::new("/sys/devices/system/node");
    if !base.exists() {
        return node == 0;
    }
    base.join(format!("node{node}")).exists()
}

/// `virDomainNumatuneGetMode(def, -1)`: the mode of `<numatune><memory>`, if given.
fn numa_mode(def: &Domain) -> Option<NumaMode> {
    def.numatune.as_ref()?.memory.as_ref().map(|m| m.mode)
}

/// `virDomainNumatuneSet`: the new mode and nodeset of `<numatune><memory>`. A binding
/// left without a nodeset is refused, as libvirt refuses it for statically placed vCPUs;
/// asking for `strict` (the default) of a domain with no binding changes nothing.
fn numatune_set(def: &mut Domain, mode: Option<NumaMode>, nodeset: Option<&CpuSet>) -> Result<()> {
    let current = def.numatune.as_ref().and_then(|t| t.memory.as_ref());
    if current.is_none() && nodeset.is_none() && mode.is_none_or(|m| m == NumaMode::Strict) {
        return Ok(());
    }
    let auto = current.is_some_and(|m| m.placement == Some(NumaPlacement::Auto));
    let has_nodes = nodeset.is_some() || current.is_some_and(|m| m.nodeset.is_some());
    if !auto && !has_nodes {
        return Err(VirError::new(
            ErrorDomain::Domain,
            ErrorCode::ConfigUnsupported,
            "nodeset for NUMA memory tuning must be set if 'placement' is 'static'",
        ));
    }
    let tune = def.numatune.get_or_insert_with(Numatune::default);
    let mem = tune.memory.get_or_insert_with(|| NumatuneMemory {
        mode: NumaMode::Strict,
        placement: None,
        nodeset: None,
        unknown: Unknown::default(),
    });
    if let Some(mode) = mode {
        mem.mode = mode;
    }
    if let Some(nodeset) = nodeset {
        mem.nodeset = Some(nodeset.clone());
        mem.placement = Some(NumaPlacement::Static);
    }
    Ok(())
}

/// The host's NUMA nodes (`/sys/devices/system/node/nodeN`; node 0 without NUMA in sysfs).
fn host_nodes() -> CpuSet {
    let mut nodes = CpuSet::new();
    if let Ok(dir) = std::fs::read_dir("/sys/devices/system/node") {
        for e in dir.flatten() {
            let name = e.file_name();
            if let Some(n) = name.to_str().and_then(|n| n.strip_prefix("node")) {
                if let Ok(n) = n.parse() {
                    nodes.insert(n);
                }
            }
        }
    }
    if nodes.is_empty() {
        nodes.insert(0);
    }
    nodes
}

/// Refuses to start a domain whose `<numatune>` names host NUMA nodes that do not exist
/// (libvirt's `virDomainNumatuneNodesetIsAvailable` before QEMU starts).
pub(crate) fn check_numa_nodes(def: &Domain) -> Result<()> {
    let Some(tune) = &def.numatune else {
        return Ok(());
    };
    let global = tune.memory.as_ref().and_then(|m| m.nodeset.as_ref());
    let cells = tune.memnodes.iter().map(|m| &m.nodeset);
    for nodes in global.into_iter().chain(cells) {
        if let Some(node) = nodes.iter().find(|&n| !node_available(n)) {
            return Err(VirError::new(
                ErrorDomain::None,
                ErrorCode::ConfigUnsupported,
                format!("NUMA node {node} is unavailable"),
            ));
        }
    }
    Ok(())
}

/// The initial affinity of QEMU (`qemuProcessInitCpuAffinity`): the CPUs of the strict
/// nodeset of a guest with at most one NUMA cell, else the emulator pin, else all CPUs
/// (with `false`: libvirt ignores a failure to reset the affinity to all CPUs).
fn initial_affinity(def: &Domain) -> (CpuSet, bool) {
    let cells = def
        .cpu
        .as_ref()
        .and_then(|c| c.numa.as_ref())
        .map_or(0, |n| n.cells.len());
    let strict = def
        .numatune
        .as_ref()
        .and_then(|t| t.memory.as_ref())
        .filter(|m| cells <= 1 && m.mode == NumaMode::Strict)
        .and_then(|m| m.nodeset.as_ref());
    if let Some(nodes) = strict {
        let cpus = nodes_cpus(nodes);
        if !cpus.is_empty() {
            return (cpus, true);
        }
    }
    match emulatorpin(def) {
        Some(set) => (set.clone(), true),
        None => (all_cpus(), false),
    }
}

/// The host threads QEMU reports for its vCPUs and I/O threads.
async fn query_threads(vm: &Vm) -> Result<Threads> {
    let cpus = vm.qmp().query_cpus_fast().await?;
    let mut vcpus: Vec<(u32, i32)> = cpus
        .iter()
        .map(|c| (c.cpu_index as u32, c.thread_id as i32))
        .collect();
    vcpus.sort_unstable();
    let mut iothreads = Vec::new();
    if let Ok(Value::Array(list)) = vm.qmp().execute("query-iothreads", None).await {
        for t in list {
            let id = t
                .get("id")
                .and_then(Value::as_str)
                .and_then(|s| s.strip_prefix("iothread"))
                .and_then(|s| s.parse::<u32>().ok());
            let tid = t.get("thread-id").and_then(Value::as_i64);
            if let (Some(id), Some(tid)) = (id, tid) {
                iothreads.push((id, tid as i32));
            }
        }
    }
    Ok(Threads { vcpus, iothreads })
}

impl QemuDriver {
    /// The vCPU and I/O thread ids of the running `vm`: remembered from the start, or
    /// asked of QEMU again (after a daemon restart).
    pub(crate) async fn vm_threads(&self, vm: &Vm) -> Result<Threads> {
        if let Some(t) = vm.threads() {
            return Ok(t);
        }
        let threads = query_threads(vm).await?;
        vm.set_threads(threads.clone());
        Ok(threads)
    }

    /// Places a just started QEMU's threads as libvirt does before the CPUs start: the
    /// initial affinity on every thread, then each vCPU on its `<vcpupin>` (else
    /// `<vcpu cpuset>`), each I/O thread on its `<iothreadpin>` (else `<vcpu cpuset>`), the
    /// other threads on `<emulatorpin>` (else `<vcpu cpuset>`).
    pub(crate) async fn apply_placement(&self, vm: &Vm, def: &Domain) -> Result<()> {
        let pid = vm.pid();
        let (initial, requested) = initial_affinity(def);
        for tid in tasks(pid) {
            match set_affinity(tid, &initial) {
                Err(e) if requested => return Err(e),
                _ => {}
            }
        }
        let threads = query_threads(vm).await?;
        vm.set_threads(threads.clone());
        if let Some(set) = emulatorpin(def).or(def_cpumask(def)) {
            for tid in threads.emulator(pid) {
                set_affinity(tid, set)?;
            }
        }
        for &(vcpu, tid) in &threads.vcpus {
            if let Some(set) = vcpupin(def, vcpu).or(def_cpumask(def)) {
                set_affinity(tid, set)?;
            }
        }
        for &(id, tid) in &threads.iothreads {
            if let Some(set) = iothreadpin(def, id).or(def_cpumask(def)) {
                set_affinity(tid, set)?;
            }
        }
        Ok(())
    }

    /// The running QEMU of `dom` and its threads, when the flags name the live domain.
    async fn live_threads(
        &self,
        dom: &DomainRef,
        flags: u32,
    ) -> Result<(u32, Option<(std::sync::Arc<Vm>, Threads)>)> {
        let flags = self.with_obj(dom, |obj| obj.update_modification_impact(flags))?;
        if flags & affect::LIVE == 0 {
            return Ok((flags, None));
        }
        let vm = self.vm(&dom.uuid).ok_or_else(super::not_running)?;
        let threads = self.vm_threads(&vm).await?;
        Ok((flags, Some((vm, threads))))
    }

    /// `virDomainGetVcpus`.
    pub(crate) async fn placement_vcpu_info(
        &self,
        dom: &DomainRef,
        max_info: u32,
        maplen: usize,
    ) -> Result<(Vec<VcpuInfo>, Vec<CpuMap>)> {
        let active = self.with_obj(dom, |obj| Ok(obj.is_active()))?;
        let vm = self.vm(&dom.uuid).filter(|_| active).ok_or_else(|| {
            qemu_error(
                ErrorCode::OperationInvalid,
                "cannot retrieve vcpu information for inactive domain",
            )
        })?;
        let threads = self.vm_threads(&vm).await?;
        let mut infos = Vec::new();
        let mut maps = Vec::new();
        for &(vcpu, tid) in threads.vcpus.iter().take(max_info as usize) {
            let (cpu_time_ns, cpu) = thread_stat(vm.pid(), tid).ok_or_else(|| {
                VirError::new(
                    ErrorDomain::Qemu,
                    ErrorCode::SystemError,
                    "cannot get vCPU placement & pCPU time: No such process",
                )
            })?;
            infos.push(VcpuInfo {
                number: vcpu,
                state: 1,
                cpu_time_ns,
                cpu,
            });
            maps.push(set_to_map(&get_affinity(tid)?, maplen));
        }
        Ok((infos, maps))
    }

    /// `virDomainPinVcpuFlags`.
    pub(crate) async fn placement_pin_vcpu(
        &self,
        dom: &DomainRef,
        vcpu: u32,
        cpumap: &CpuMap,
        flags: u32,
    ) -> Result<()> {
        check_flags(
            flags,
            affect::LIVE | affect::CONFIG,
            "qemuDomainPinVcpuFlags",
        )?;
        let change = PinChange {
            empty: "Empty cpu list for pinning",
            field: tunable::cpu_vcpupin(vcpu),
            check_config: |pdef: &Domain| {
                if vcpu >= pdef.vcpus_max() {
                    return Err(qemu_error(
                        ErrorCode::InvalidArg,
                        format!(
                            "vcpu {vcpu} is out of range of persistent cpu count {}",
                            pdef.vcpus_current()
                        ),
                    ));
                }
                Ok(())
            },
            live: |def: &mut Domain, _: &Vm, threads: &Threads, set: &CpuSet| {
                if threads.vcpus.is_empty() {
                    return Err(qemu_error(
                        ErrorCode::OperationInvalid,
                        "cpu affinity is not supported",
                    ));
                }
                if vcpu >= def.vcpus_max() {
                    return Err(qemu_error(
                        ErrorCode::InvalidArg,
                        format!(
                            "vcpu {vcpu} is out of range of live cpu count {}",
                            def.vcpus_max()
                        ),
                    ));
                }
                if let Some(tid) = threads.vcpu(vcpu) {
                    set_affinity(tid, set)?;
                }
                set_vcpupin(def, vcpu, set.clone());
                Ok(())
            },
            config: |pdef: &mut Domain, set: &CpuSet| {
                set_vcpupin(pdef, vcpu, set.clone());
                Ok(())
            },
        };
        self.pin_change(dom, cpumap, flags, change).await
    }

    /// The common course of the pinning calls: under the domain's job, checks the
    /// persistent definition, refuses an empty CPU list with `change.empty`, pins the
    /// running threads and the live definition, then the persistent one; saves both and
    /// emits the tunable event of a live pin.
    async fn pin_change<P, L, C>(
        &self,
        dom: &DomainRef,
        cpumap: &CpuMap,
        flags: u32,
        change: PinChange<P, L, C>,
    ) -> Result<()>
    where
        P: FnOnce(&Domain) -> Result<()>,
        L: FnOnce(&mut Domain, &Vm, &Threads, &CpuSet) -> Result<()>,
        C: FnOnce(&mut Domain, &CpuSet) -> Result<()>,
    {
        let _job = self.lock_job(&dom.uuid).await?;
        let (flags, live) = self.live_threads(dom, flags).await?;
        let set = map_to_set(cpumap);
        let PinChange {
            empty,
            field,
            check_config,
            live: pin_live,
            config: pin_config,
        } = change;
        let (live_ref, config) = self.with_obj(dom, |obj| {
            let me = obj.to_ref();
            let (live_def, mut config) = obj.defs_mut(flags)?;
            if let Some(pdef) = &config {
                check_config(pdef)?;
            }
            if set.is_empty() {
                return Err(qemu_error(ErrorCode::InvalidArg, empty));
            }
            let mut status = false;
            if let (Some(mut def), Some((vm, threads))) = (live_def, &live) {
                pin_live(&mut def, vm, threads, &set)?;
                status = true;
            }
            let config = match config.as_mut() {
                Some(pdef) => {
                    pin_config(pdef, &set)?;
                    Some((**pdef).clone())
                }
                None => None,
            };
            Ok((status.then_some(me), config))
        })?;
        self.placement_commit(dom, live_ref.is_some(), config)?;
        self.emit_pin(live_ref, field, &set);
        Ok(())
    }

    /// After a live pin, libvirt's tunable event: `field` = the new CPU list (`0-1`).
    fn emit_pin(&self, live: Option<DomainRef>, field: String, set: &CpuSet) {
        if let Some(domain) = live {
            self.emit(vec![DomainEvent::tunable_string(
                domain,
                field,
                set.to_string(),
            )]);
        }
    }

    /// Saves what a placement change touched: the status file of the running domain, the
    /// persistent definition (atomically).
    fn placement_commit(
        &self,
        dom: &DomainRef,
        status: bool,
        config: Option<Domain>,
    ) -> Result<()> {
        if status {
            self.with_obj(dom, |obj| {
                self.refresh_status(obj);
                Ok(())
            })?;
        }
        if let Some(def) = config {
            self.save_config(&def)?;
        }
        Ok(())
    }

    /// `virDomainGetVcpuPinInfo`.
    pub(crate) fn placement_vcpu_pin_info(
        &self,
        dom: &DomainRef,
        max_vcpus: u32,
        maplen: usize,
        flags: u32,
    ) -> Result<Vec<CpuMap>> {
        check_flags(
            flags,
            affect::LIVE | affect::CONFIG,
            "qemuDomainGetVcpuPinInfo",
        )?;
        let all = all_cpus();
        self.with_obj(dom, |obj| {
            let (def, _) = obj.one_def(flags)?;
            Ok((0..def.vcpus_max().min(max_vcpus))
                .map(|i| {
                    let set = vcpupin(def, i).or(def_cpumask(def)).unwrap_or(&all);
                    set_to_map(set, maplen)
                })
                .collect())
        })
    }

    /// `virDomainPinEmulator`.
    pub(crate) async fn placement_pin_emulator(
        &self,
        dom: &DomainRef,
        cpumap: &CpuMap,
        flags: u32,
    ) -> Result<()> {
        check_flags(
            flags,
            affect::LIVE | affect::CONFIG,
            "qemuDomainPinEmulator",
        )?;
        let change = PinChange {
            empty: "Empty cpu list for pinning",
            field: tunable::CPU_EMULATORPIN.to_owned(),
            check_config: |_: &Domain| Ok(()),
            live: |def: &mut Domain, vm: &Vm, threads: &Threads, set: &CpuSet| {
                for tid in threads.emulator(vm.pid()) {
                    set_affinity(tid, set)?;
                }
                set_emulatorpin(def, set.clone());
                Ok(())
            },
            config: |pdef: &mut Domain, set: &CpuSet| {
                set_emulatorpin(pdef, set.clone());
                Ok(())
            },
        };
        self.pin_change(dom, cpumap, flags, change).await
    }

    /// `virDomainGetEmulatorPinInfo`: the emulator pin, else `<vcpu cpuset>`, else the
    /// online host CPUs.
    pub(crate) fn placement_emulator_pin_info(
        &self,
        dom: &DomainRef,
        maplen: usize,
        flags: u32,
    ) -> Result<CpuMap> {
        check_flags(
            flags,
            affect::LIVE | affect::CONFIG,
            "qemuDomainGetEmulatorPinInfo",
        )?;
        self.with_obj(dom, |obj| {
            let (def, _) = obj.one_def(flags)?;
            let set = match emulatorpin(def).or(def_cpumask(def)) {
                Some(s) => s.clone(),
                None => online_cpus(),
            };
            Ok(set_to_map(&set, maplen))
        })
    }

    /// `virDomainGetIOThreadInfo`: of the running QEMU (each thread's affinity), or of the
    /// persistent definition.
    pub(crate) async fn placement_iothread_info(
        &self,
        dom: &DomainRef,
        flags: u32,
    ) -> Result<Vec<IothreadInfo>> {
        check_flags(
            flags,
            affect::LIVE | affect::CONFIG,
            "qemuDomainGetIOThreadInfo",
        )?;
        let maplen = host_maplen();
        let (flags, live) = self.live_threads(dom, flags).await?;
        if let Some((_, threads)) = live {
            return threads
                .iothreads
                .iter()
                .map(|&(id, tid)| {
                    Ok(IothreadInfo {
                        id,
                        cpumap: set_to_map(&get_affinity(tid)?, maplen),
                    })
                })
                .collect();
        }
        let all = all_cpus();
        self.with_obj(dom, |obj| {
            let (def, _) = obj.one_def(flags & affect::CONFIG)?;
            Ok(iothread_ids(def)
                .into_iter()
                .map(|id| {
                    let set = iothreadpin(def, id).or(def_cpumask(def)).unwrap_or(&all);
                    IothreadInfo {
                        id,
                        cpumap: set_to_map(set, maplen),
                    }
                })
                .collect())
        })
    }

    /// `virDomainPinIOThread`.
    pub(crate) async fn placement_pin_iothread(
        &self,
        dom: &DomainRef,
        iothread: u32,
        cpumap: &CpuMap,
        flags: u32,
    ) -> Result<()> {
        check_flags(
            flags,
            affect::LIVE | affect::CONFIG,
            "qemuDomainPinIOThread",
        )?;
        let change = PinChange {
            empty: "Empty iothread cpumap list for pinning",
            field: tunable::cpu_iothreadpin(iothread),
            check_config: |_: &Domain| Ok(()),
            live: |def: &mut Domain, _: &Vm, threads: &Threads, set: &CpuSet| {
                let tid = threads
                    .iothread(iothread)
                    .filter(|_| iothread_ids(def).contains(&iothread))
                    .ok_or_else(|| {
                        qemu_error(
                            ErrorCode::InvalidArg,
                            format!("iothread {iothread} not found"),
                        )
                    })?;
                set_affinity(tid, set)?;
                set_iothreadpin(def, iothread, set.clone());
                Ok(())
            },
            config: |pdef: &mut Domain, set: &CpuSet| {
                if !iothread_ids(pdef).contains(&iothread) {
                    return Err(qemu_error(
                        ErrorCode::InvalidArg,
                        format!("iothreadid {iothread} not found"),
                    ));
                }
                set_iothreadpin(pdef, iothread, set.clone());
                Ok(())
            },
        };
        self.pin_change(dom, cpumap, flags, change).await
    }

    /// `virDomainGetNumaParameters`: `numa_mode` (strict without `<numatune>`) and
    /// `numa_nodeset` (empty without a nodeset).
    pub(crate) fn placement_numa_parameters(
        &self,
        dom: &DomainRef,
        flags: u32,
    ) -> Result<Vec<TypedParam>> {
        check_flags(
            flags,
            affect::LIVE | affect::CONFIG | STRING_OKAY,
            "qemuDomainGetNumaParameters",
        )?;
        self.with_obj(dom, |obj| {
            let (def, _) = obj.one_def(flags & !STRING_OKAY)?;
            Ok(numa_parameters(def))
        })
    }

    /// `virDomainSetNumaParameters` (see the module's note on running domains).
    pub(crate) async fn placement_set_numa_parameters(
        &self,
        dom: &DomainRef,
        params: &[TypedParam],
        flags: u32,
    ) -> Result<()> {
        check_flags(
            flags,
            affect::LIVE | affect::CONFIG,
            "qemuDomainSetNumaParameters",
        )?;
        let mut mode = None;
        let mut nodeset = None;
        for p in params {
            match p.field.as_str() {
                NUMA_MODE => expect_type(p, "int")?,
                NUMA_NODESET => expect_type(p, "string")?,
                other => {
                    return Err(VirError::new(
                        ErrorDomain::None,
                        ErrorCode::InvalidArg,
                        format!("parameter '{other}' not supported"),
                    ))
                }
            }
        }
        let _job = self.lock_job(&dom.uuid).await?;
        let flags = self.with_obj(dom, |obj| obj.update_modification_impact(flags))?;
        for p in params {
            match &p.value {
                TypedValue::Int(m) => {
                    mode = Some(numa_mode_of(*m).ok_or_else(|| {
                        qemu_error(
                            ErrorCode::InvalidArg,
                            format!("unsupported numatune mode: '{m}'"),
                        )
                    })?);
                }
                TypedValue::String(s) => {
                    let set = parse_nodeset(s)?;
                    if set.is_empty() {
                        return Err(qemu_error(
                            ErrorCode::OperationInvalid,
                            format!("Invalid nodeset of 'numatune': {s}"),
                        ));
                    }
                    nodeset = Some(set);
                }
                _ => {}
            }
        }
        let config = self.with_obj(dom, |obj| {
            let (live_def, mut config) = obj.defs_mut(flags)?;
            if let Some(mut def) = live_def {
                let current = numa_mode(&def);
                if let Some(cur) = current {
                    if mode.is_some_and(|m| m != cur) {
                        return Err(qemu_error(
                            ErrorCode::OperationInvalid,
                            "can't change numatune mode for running domain",
                        ));
                    }
                    if cur == NumaMode::Strict {
                        return Err(qemu_error(
                            ErrorCode::OperationInvalid,
                            "can't change nodeset for strict mode for running domain",
                        ));
                    }
                }
                if let Some(nodes) = &nodeset {
                    if current.is_some_and(|c| c != NumaMode::Restrictive) {
                        return Err(qemu_error(
                            ErrorCode::OperationInvalid,
                            "change of nodeset for running domain requires restrictive numa mode",
                        ));
                    }
                    if let Some(node) = nodes.iter().find(|&n| !node_available(n)) {
                        return Err(VirError::new(
                            ErrorDomain::None,
                            ErrorCode::ConfigUnsupported,
                            format!("NUMA node {node} is unavailable"),
                        ));
                    }
                    // libvirt writes cpuset.mems of the domain's cgroups here. QEMU has
                    // none under oxvirt: a nodeset holding every host node binds nothing
                    // and is recorded; any other is refused as for a domain without a
                    // cpuset cgroup.
                    if !host_nodes().is_subset(nodes) {
                        return Err(qemu_error(
                            ErrorCode::OperationInvalid,
                            "cgroup cpuset controller is not mounted",
                        ));
                    }
                }
                numatune_set(&mut def, mode, nodeset.as_ref())?;
            }
            match config.as_mut() {
                Some(pdef) => {
                    numatune_set(pdef, mode, nodeset.as_ref())?;
                    Ok(Some((**pdef).clone()))
                }
                None => Ok(None),
            }
        })?;
        let live = flags & affect::LIVE != 0;
        self.placement_commit(dom, live, config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_and_sets_convert_both_ways() {
        let set = CpuSet::parse("0,3,9").unwrap();
        let map = set_to_map(&set, 2);
        assert_eq!(map.0, vec![0b1001, 0b10]);
        assert_eq!(map_to_set(&map).to_string(), "0,3,9");
    }

    #[test]
    fn this_threads_stat_and_affinity_are_read() {
        let pid = std::process::id() as i32;
        let (_, cpu) = thread_stat(pid, pid).unwrap();
        assert!(cpu >= 0);
        let set = get_affinity(pid).unwrap();
        assert!(!set.is_empty());
        assert!(tasks(pid).contains(&pid));
    }

    #[test]
    fn pins_stay_in_order() {
        let mut def = Domain::parse(
            "<domain type='qemu'><name>a</name><memory>1024</memory><vcpu>4</vcpu>\
             <iothreads>2</iothreads><os><type>hvm</type></os></domain>",
        )
        .unwrap()
        .domain;
        set_vcpupin(&mut def, 2, CpuSet::parse("1").unwrap());
        set_vcpupin(&mut def, 0, CpuSet::parse("0").unwrap());
        set_iothreadpin(&mut def, 2, CpuSet::parse("0").unwrap());
        set_iothreadpin(&mut def, 1, CpuSet::parse("1").unwrap());
        let tune = def.cputune.as_ref().unwrap();
        assert_eq!(
            tune.vcpupins.iter().map(|p| p.vcpu).collect::<Vec<_>>(),
            [0, 2]
        );
        assert_eq!(
            tune.iothreadpins
                .iter()
                .map(|p| p.iothread)
                .collect::<Vec<_>>(),
            [1, 2]
        );
        assert_eq!(iothread_ids(&def), [1, 2]);
    }
}
