//! The test driver's node statistics and placement calls, answering as libvirt's
//! `test_driver.c` does: fixed CPU counters, a made-up free page series, a CPU map of 8
//! CPUs with 0, 2 and 4 online, vCPU information with a clock-based CPU time, and the
//! pinning and NUMA tuning kept in the domain definition (`<cputune>`, `<numatune>`).

use std::time::{SystemTime, UNIX_EPOCH};

use oxvirt_domain::domain::Domain;
use oxvirt_domain::driver::flags::affect;
use oxvirt_domain::driver::placement::{
    expect_type, map_to_set, numa_mode_of, numa_parameters, parse_nodeset, set_to_map, NUMA_MODE,
    NUMA_NODESET, STRING_OKAY,
};
use oxvirt_domain::driver::{
    CpuMap, DomainRef, IothreadInfo, NodeCpuMap, TypedParam, TypedValue, VcpuInfo,
};
use oxvirt_domain::tuning::{
    Cputune, EmulatorPin, IothreadPin, NumaMode, NumaPlacement, Numatune, NumatuneMemory, VcpuPin,
};
use oxvirt_xml::types::cpuset::CpuSet;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use crate::driver::{check_flags, invalid, TestDriver};

type Result<T> = std::result::Result<T, VirError>;

/// `VIR_VCPU_RUNNING`.
const VCPU_RUNNING: i32 = 1;

/// `VIR_ERR_INVALID_ARG` from the test driver.
fn test_invalid_arg(detail: impl AsRef<str>) -> VirError {
    VirError::new(ErrorDomain::Test, ErrorCode::InvalidArg, detail)
}

/// Every CPU of a host of `cpus` CPUs.
fn all_cpus(cpus: u32) -> CpuSet {
    let mut set = CpuSet::new();
    if cpus > 0 {
        set.insert_range(0, cpus - 1);
    }
    set
}

/// The bytes a map of `bits` CPUs takes (`VIR_CPU_MAPLEN`).
fn maplen_for(bits: u32) -> usize {
    (bits as usize).div_ceil(8)
}

/// The vCPU `vcpu`'s affinity: its `<vcpupin>`, else `<vcpu cpuset>`, else `all`.
fn vcpu_affinity(def: &Domain, vcpu: u32, all: &CpuSet) -> CpuSet {
    def.cputune
        .as_ref()
        .and_then(|t| t.vcpupins.iter().find(|p| p.vcpu == vcpu))
        .map(|p| p.cpuset.clone())
        .or_else(|| def.vcpu.as_ref().and_then(|v| v.cpuset.clone()))
        .unwrap_or_else(|| all.clone())
}

/// The definition's default affinity: `<vcpu cpuset>`, else `all`.
fn default_affinity(def: &Domain, all: &CpuSet) -> CpuSet {
    def.vcpu
        .as_ref()
        .and_then(|v| v.cpuset.clone())
        .unwrap_or_else(|| all.clone())
}

/// (most vCPUs, online vCPUs) of a definition.
fn vcpu_counts(def: &Domain) -> (u32, u32) {
    let v = def.vcpu.clone().unwrap_or_default();
    (v.count, v.current.unwrap_or(v.count))
}

fn iothread_ids(def: &Domain) -> Vec<u32> {
    oxvirt_domain::tuning::IothreadIds::all_ids(def.iothreads.as_ref(), def.iothreadids.as_ref())
}

impl TestDriver {
    /// How many CPUs the test node has (`VIR_NODEINFO_MAXCPUS`).
    fn host_cpus(&self) -> u32 {
        let n = &self.lock().node_info;
        n.nodes * n.sockets * n.cores * n.threads
    }

    /// `testNodeGetCPUStats`: the same four counters for any CPU.
    pub fn node_cpu_stats_sync(&self, flags: u32) -> Result<Vec<(String, u64)>> {
        check_flags(flags, 0, "testNodeGetCPUStats")?;
        Ok(vec![
            ("user".into(), 9_797_400_000),
            ("kernel".into(), 34_678_723_400_000),
            ("idle".into(), 87_264_900_000),
            ("iowait".into(), 763_600_000),
        ])
    }

    /// `testNodeGetFreePages`: for each page size of each cell, the next of 19, 45, 97,
    /// 201, ... (`x = 2x + 7` from 6, over the whole answer), whatever the cells.
    pub fn node_free_pages_sync(
        &self,
        pages: &[u32],
        _start_cell: i32,
        cell_count: u32,
        flags: u32,
    ) -> Result<Vec<u64>> {
        // Any cells: libvirt's test driver does not look at them.
        check_flags(flags, 0, "testNodeGetFreePages")?;
        let mut x: u64 = 6;
        let mut out = Vec::new();
        for _ in 0..cell_count {
            for _ in pages {
                x = x.wrapping_mul(2).wrapping_add(7);
                out.push(x);
            }
        }
        Ok(out)
    }

    /// `testNodeGetCPUMap`: 8 CPUs, 0, 2 and 4 online.
    pub fn node_cpu_map_sync(&self, flags: u32) -> Result<NodeCpuMap> {
        check_flags(flags, 0, "testNodeGetCPUMap")?;
        Ok(NodeCpuMap {
            cpus: 8,
            online_map: CpuMap(vec![0x15]),
            online: 3,
        })
    }

    /// `testDomainGetVcpus`: the online vCPUs of the running domain, all on the last CPU
    /// of their affinity, with a CPU time made from the clock.
    pub fn vcpu_info_sync(
        &self,
        dom: &DomainRef,
        max_info: u32,
        maplen: usize,
    ) -> Result<(Vec<VcpuInfo>, Vec<CpuMap>)> {
        let all = all_cpus(self.host_cpus());
        let node = self.lock();
        let obj = node.obj(dom)?;
        if !obj.is_active() {
            return Err(invalid("cannot list vcpus for an inactive domain"));
        }
        let (_, online) = vcpu_counts(obj.def());
        let micros = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_micros() as u64)
            .unwrap_or(0);
        // libvirt clamps to the online vCPUs (`virDomainDefGetVcpus`).
        let n = max_info.min(online);
        let mut info = Vec::new();
        let mut maps = Vec::new();
        for i in 0..n {
            let set = vcpu_affinity(obj.def(), i, &all);
            if i >= online {
                info.push(VcpuInfo {
                    number: 0,
                    state: 0,
                    cpu_time_ns: 0,
                    cpu: 0,
                });
                maps.push(CpuMap::new(maplen));
                continue;
            }
            info.push(VcpuInfo {
                number: i,
                state: VCPU_RUNNING,
                cpu_time_ns: micros / 10,
                cpu: set.last().map_or(-1, |c| c as i32),
            });
            maps.push(set_to_map(&set, maplen));
        }
        Ok((info, maps))
    }

    /// `testDomainGetVcpuPinInfo`: each vCPU's affinity, up to `max_vcpus`.
    pub fn vcpu_pin_info_sync(
        &self,
        dom: &DomainRef,
        max_vcpus: u32,
        maplen: usize,
        flags: u32,
    ) -> Result<Vec<CpuMap>> {
        check_flags(
            flags,
            affect::LIVE | affect::CONFIG,
            "testDomainGetVcpuPinInfo",
        )?;
        let all = all_cpus(self.host_cpus());
        let node = self.lock();
        let (def, _) = node.obj(dom)?.one_def(flags)?;
        let n = vcpu_counts(def).0.min(max_vcpus);
        Ok((0..n)
            .map(|i| set_to_map(&vcpu_affinity(def, i, &all), maplen))
            .collect())
    }

    /// `testDomainPinVcpuFlags`: the running domain's vCPU's `<vcpupin>`.
    pub fn pin_vcpu_sync(
        &self,
        dom: &DomainRef,
        vcpu: u32,
        cpumap: &CpuMap,
        flags: u32,
    ) -> Result<()> {
        // libvirt's test driver takes no flags here (not even LIVE or CONFIG).
        check_flags(flags, 0, "testDomainPinVcpuFlags")?;
        let mut node = self.lock();
        let obj = node.obj_mut(dom)?;
        if !obj.is_active() {
            return Err(invalid("cannot pin vcpus on an inactive domain"));
        }
        let (mut def, _) = obj.one_def_mut(flags)?;
        let (_, online) = vcpu_counts(&def);
        if vcpu >= online {
            return Err(test_invalid_arg(format!(
                "requested vcpu '{vcpu}' is not present in the domain"
            )));
        }
        let set = map_to_set(cpumap);
        let tune = def.cputune.get_or_insert_with(Cputune::default);
        tune.vcpupins.retain(|p| p.vcpu != vcpu);
        let at = tune.vcpupins.partition_point(|p| p.vcpu < vcpu);
        tune.vcpupins.insert(
            at,
            VcpuPin {
                vcpu,
                cpuset: set,
                unknown: Default::default(),
            },
        );
        Ok(())
    }

    /// `testDomainGetEmulatorPinInfo`.
    pub fn emulator_pin_info_sync(
        &self,
        dom: &DomainRef,
        maplen: usize,
        flags: u32,
    ) -> Result<CpuMap> {
        check_flags(
            flags,
            affect::LIVE | affect::CONFIG,
            "testDomainGetEmulatorPinInfo",
        )?;
        let all = all_cpus(self.host_cpus());
        let node = self.lock();
        let (def, _) = node.obj(dom)?.one_def(flags)?;
        let set = def
            .cputune
            .as_ref()
            .and_then(|t| t.emulatorpin.as_ref())
            .map(|p| p.cpuset.clone())
            .unwrap_or_else(|| default_affinity(def, &all));
        Ok(set_to_map(&set, maplen))
    }

    /// `testDomainPinEmulator`.
    pub fn pin_emulator_sync(&self, dom: &DomainRef, cpumap: &CpuMap, flags: u32) -> Result<()> {
        check_flags(
            flags,
            affect::LIVE | affect::CONFIG,
            "testDomainPinEmulator",
        )?;
        let mut node = self.lock();
        let (mut def, _) = node.obj_mut(dom)?.one_def_mut(flags)?;
        let set = map_to_set(cpumap);
        if set.is_empty() {
            return Err(test_invalid_arg("Empty cpu list for pinning"));
        }
        def.cputune.get_or_insert_with(Cputune::default).emulatorpin = Some(EmulatorPin {
            cpuset: set,
            unknown: Default::default(),
        });
        Ok(())
    }

    /// `testDomainGetIOThreadInfo`.
    pub fn iothread_info_sync(&self, dom: &DomainRef, flags: u32) -> Result<Vec<IothreadInfo>> {
        check_flags(
            flags,
            affect::LIVE | affect::CONFIG,
            "testDomainGetIOThreadInfo",
        )?;
        let cpus = self.host_cpus();
        let all = all_cpus(cpus);
        let node = self.lock();
        let (def, _) = node.obj(dom)?.one_def(flags)?;
        Ok(iothread_ids(def)
            .into_iter()
            .map(|id| {
                let set = def
                    .cputune
                    .as_ref()
                    .and_then(|t| t.iothreadpins.iter().find(|p| p.iothread == id))
                    .map(|p| p.cpuset.clone())
                    .unwrap_or_else(|| default_affinity(def, &all));
                let bits = set.last().map_or(cpus, |l| (l + 1).max(cpus));
                IothreadInfo {
                    id,
                    cpumap: set_to_map(&set, maplen_for(bits)),
                }
            })
            .collect())
    }

    /// `testDomainPinIOThread`.
    pub fn pin_iothread_sync(
        &self,
        dom: &DomainRef,
        id: u32,
        cpumap: &CpuMap,
        flags: u32,
    ) -> Result<()> {
        check_flags(
            flags,
            affect::LIVE | affect::CONFIG,
            "testDomainPinIOThread",
        )?;
        let mut node = self.lock();
        let (mut def, _) = node.obj_mut(dom)?.one_def_mut(flags)?;
        if !iothread_ids(&def).contains(&id) {
            return Err(test_invalid_arg(format!("iothreadid {id} not found")));
        }
        let set = map_to_set(cpumap);
        if set.is_empty() {
            return Err(test_invalid_arg("Empty iothread cpumap list for pinning"));
        }
        let tune = def.cputune.get_or_insert_with(Cputune::default);
        tune.iothreadpins.retain(|p| p.iothread != id);
        let at = tune.iothreadpins.partition_point(|p| p.iothread < id);
        tune.iothreadpins.insert(
            at,
            IothreadPin {
                iothread: id,
                cpuset: set,
                unknown: Default::default(),
            },
        );
        Ok(())
    }

    /// `testDomainGetNumaParameters`: `numa_mode` and `numa_nodeset`.
    pub fn numa_parameters_sync(&self, dom: &DomainRef, flags: u32) -> Result<Vec<TypedParam>> {
        check_flags(
            flags,
            affect::LIVE | affect::CONFIG | STRING_OKAY,
            "testDomainGetNumaParameters",
        )?;
        let node = self.lock();
        let (def, _) = node.obj(dom)?.one_def(flags & !STRING_OKAY)?;
        Ok(numa_parameters(def))
    }

    /// `testDomainSetNumaParameters`.
    pub fn set_numa_parameters_sync(
        &self,
        dom: &DomainRef,
        params: &[TypedParam],
        flags: u32,
    ) -> Result<()> {
        check_flags(
            flags,
            affect::LIVE | affect::CONFIG,
            "testDomainSetNumaParameters",
        )?;
        let mut mode = None;
        let mut nodeset = None;
        for p in params {
            match (p.field.as_str(), &p.value) {
                (NUMA_MODE, TypedValue::Int(m)) => {
                    mode = Some(numa_mode_of(*m).ok_or_else(|| {
                        test_invalid_arg(format!("unsupported numatune mode: '{m}'"))
                    })?);
                }
                (NUMA_NODESET, TypedValue::String(s)) => {
                    let set = parse_nodeset(s)?;
                    if set.is_empty() {
                        return Err(invalid(format!("Invalid nodeset of 'numatune': {s}")));
                    }
                    nodeset = Some(set);
                }
                (NUMA_MODE, _) | (NUMA_NODESET, _) => {
                    let expected = if p.field == NUMA_MODE {
                        "int"
                    } else {
                        "string"
                    };
                    // The arms above took the right types: this one refuses.
                    expect_type(p, expected)?;
                }
                (other, _) => {
                    return Err(VirError::new(
                        ErrorDomain::None,
                        ErrorCode::ArgumentUnsupported,
                        format!("parameter '{other}' not supported"),
                    ))
                }
            }
        }
        let mut node = self.lock();
        let (mut def, _) = node.obj_mut(dom)?.one_def_mut(flags)?;
        let numa = def.numatune.get_or_insert_with(Numatune::default);
        let memory = numa.memory.get_or_insert_with(|| NumatuneMemory {
            mode: NumaMode::Strict,
            placement: None,
            nodeset: None,
            unknown: Default::default(),
        });
        if let Some(m) = mode {
            memory.mode = m;
        }
        if let Some(s) = nodeset {
            memory.nodeset = Some(s);
            memory.placement = Some(NumaPlacement::Static);
        }
        if memory.nodeset.is_none() && memory.placement != Some(NumaPlacement::Auto) {
            return Err(VirError::new(
                ErrorDomain::Domain,
                ErrorCode::ConfigUnsupported,
                "nodeset for NUMA memory tuning must be set if 'placement' is 'static'",
            ));
        }
        Ok(())
    }
}
