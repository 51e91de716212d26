//! The node statistics and placement calls of [`Connect`] and [`Domain`], with libvirt's
//! public-API argument checks made before the driver is called (`VIR_ERR_INVALID_ARG` with
//! libvirt's bare sentence, `VIR_ERR_OPERATION_DENIED` on a read-only connection).

use oxvirt_domain::driver::placement::{pin_inactive_error, vcpu_fits};
use oxvirt_domain::driver::{flags, CpuMap, IothreadInfo, NodeCpuMap, TypedParam, VcpuInfo};
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use crate::connect::Connect;
use crate::domain_handle::Domain;
use crate::Result;

/// `VIR_TYPED_PARAM_STRING_OKAY`, which libvirt's public API adds for drivers that
/// understand string parameters.
pub const TYPED_PARAM_STRING_OKAY: u32 = 1 << 2;
/// `VIR_NODE_CPU_STATS_ALL_CPUS`.
pub const NODE_CPU_STATS_ALL_CPUS: i32 = -1;
/// `VIR_NODE_MEMORY_STATS_ALL_CELLS`.
pub const NODE_MEMORY_STATS_ALL_CELLS: i32 = -1;

fn invalid(message: String) -> VirError {
    VirError::raw(ErrorDomain::Domain, ErrorCode::InvalidArg, message)
}

/// `virCheckPositiveArgGoto`.
fn positive(value: i64, arg: &str, function: &str) -> Result<()> {
    if value <= 0 {
        return Err(invalid(format!(
            "{arg} in {function} must be greater than zero"
        )));
    }
    Ok(())
}

/// `virCheckNonZeroArgGoto`.
fn nonzero(value: u64, arg: &str, function: &str) -> Result<()> {
    if value == 0 {
        return Err(invalid(format!("{arg} in {function} must not be zero")));
    }
    Ok(())
}

/// `VIR_EXCLUSIVE_FLAGS_GOTO`: at most one of `VIR_DOMAIN_AFFECT_LIVE` and `VIR_DOMAIN_AFFECT_CONFIG`.
fn live_or_config(flags: u32) -> Result<()> {
    if flags & flags::affect::LIVE != 0 && flags & flags::affect::CONFIG != 0 {
        return Err(invalid(
            "Flags 'VIR_DOMAIN_AFFECT_LIVE' and 'VIR_DOMAIN_AFFECT_CONFIG' are mutually exclusive"
                .into(),
        ));
    }
    Ok(())
}

/// `virNodeGetCellsFreeMemory`'s argument checks.
pub(crate) fn check_cells_free_memory(start: i32, max: i32) -> Result<()> {
    let f = "virNodeGetCellsFreeMemory";
    if start < 0 {
        return Err(invalid(format!("startCell in {f} must be zero or greater")));
    }
    positive(max.into(), "maxCells", f)
}

impl Connect {
    /// `virNodeGetCPUStats`: the named counters (ns) of host CPU `cpu`
    /// ([`NODE_CPU_STATS_ALL_CPUS`] for all).
    pub async fn node_cpu_stats(&self, cpu: i32, flags: u32) -> Result<Vec<(String, u64)>> {
        if cpu < NODE_CPU_STATS_ALL_CPUS {
            return Err(invalid(
                "cpuNum in virNodeGetCPUStats only accepts -1 as a negative value".into(),
            ));
        }
        self.driver().node_cpu_stats(cpu, flags).await
    }

    /// `virNodeGetMemoryStats`: the named amounts (KiB) of NUMA cell `cell`
    /// ([`NODE_MEMORY_STATS_ALL_CELLS`] for the whole host).
    pub async fn node_memory_stats(&self, cell: i32, flags: u32) -> Result<Vec<(String, u64)>> {
        if cell < NODE_MEMORY_STATS_ALL_CELLS {
            return Err(invalid(
                "cellNum in virNodeGetMemoryStats only accepts -1 as a negative value".into(),
            ));
        }
        self.driver().node_memory_stats(cell, flags).await
    }

    /// `virNodeGetFreePages`: free pages of each size in `pages` (KiB) for `cell_count`
    /// cells from `start_cell`, cell by cell.
    pub async fn node_free_pages(
        &self,
        pages: &[u32],
        start_cell: i32,
        cell_count: u32,
        flags: u32,
    ) -> Result<Vec<u64>> {
        nonzero(pages.len() as u64, "npages", "virNodeGetFreePages")?;
        nonzero(cell_count.into(), "cellCount", "virNodeGetFreePages")?;
        if (pages.len() as u64) * u64::from(cell_count) > i32::MAX as u64 {
            return Err(VirError::new(
                ErrorDomain::Domain,
                ErrorCode::Overflow,
                "cellCount * npages overflows",
            ));
        }
        self.driver()
            .node_free_pages(pages, start_cell, cell_count, flags)
            .await
    }

    /// `virNodeGetCPUMap`: how many CPUs the host has, which are online.
    pub async fn node_cpu_map(&self, flags: u32) -> Result<NodeCpuMap> {
        self.driver().node_cpu_map(flags).await
    }

    /// `virConnectGetDomainCapabilities`: what a guest of this emulator binary, arch,
    /// machine and virtualization type (`None`: the driver's default) may use, as XML.
    pub async fn domain_capabilities(
        &self,
        emulator: Option<&str>,
        arch: Option<&str>,
        machine: Option<&str>,
        virttype: Option<&str>,
        flags: u32,
    ) -> Result<String> {
        self.driver()
            .domain_capabilities(emulator, arch, machine, virttype, flags)
            .await
    }
}

impl Domain {
    /// `virDomainGetVcpus`: at most `maxinfo` vCPUs of the running domain and, when
    /// `maplen` is not zero, each one's affinity over `maplen` bytes.
    pub async fn vcpu_info(
        &self,
        maxinfo: i32,
        maplen: i32,
    ) -> Result<(Vec<VcpuInfo>, Vec<CpuMap>)> {
        let f = "virDomainGetVcpus";
        positive(maxinfo.into(), "maxinfo", f)?;
        if maplen < 0 {
            return Err(invalid(format!("maplen in {f} must be zero")));
        }
        self.driver()
            .vcpu_info(&self.to_ref(), maxinfo as u32, maplen as usize)
            .await
    }

    /// `virDomainPinVcpu`: the live vCPU's affinity (an inactive domain is refused).
    pub async fn pin_vcpu(&self, vcpu: u32, cpumap: &CpuMap) -> Result<()> {
        self.writable("virDomainPinVcpu")?;
        positive(cpumap.0.len() as i64, "maplen", "virDomainPinVcpu")?;
        vcpu_fits(vcpu)?;
        // libvirt's drivers pin the live vCPU here and refuse an inactive domain.
        if !self.driver().is_active(&self.to_ref()).await? {
            return Err(pin_inactive_error(self.driver().hypervisor_type()));
        }
        self.driver()
            .pin_vcpu(&self.to_ref(), vcpu, cpumap, flags::affect::CURRENT)
            .await
    }

    /// `virDomainPinVcpuFlags` ([`flags::affect`]).
    pub async fn pin_vcpu_flags(&self, vcpu: u32, cpumap: &CpuMap, flags: u32) -> Result<()> {
        self.writable("virDomainPinVcpuFlags")?;
        positive(cpumap.0.len() as i64, "maplen", "virDomainPinVcpuFlags")?;
        vcpu_fits(vcpu)?;
        self.driver()
            .pin_vcpu(&self.to_ref(), vcpu, cpumap, flags)
            .await
    }

    /// `virDomainGetVcpuPinInfo` ([`flags::affect`]): the affinity of at most `ncpumaps`
    /// vCPUs over `maplen` bytes each.
    pub async fn vcpu_pin_info(
        &self,
        ncpumaps: i32,
        maplen: i32,
        flags: u32,
    ) -> Result<Vec<CpuMap>> {
        let f = "virDomainGetVcpuPinInfo";
        positive(ncpumaps.into(), "ncpumaps", f)?;
        positive(maplen.into(), "maplen", f)?;
        live_or_config(flags)?;
        self.driver()
            .vcpu_pin_info(&self.to_ref(), ncpumaps as u32, maplen as usize, flags)
            .await
    }

    /// `virDomainPinEmulator` ([`flags::affect`]).
    pub async fn pin_emulator(&self, cpumap: &CpuMap, flags: u32) -> Result<()> {
        self.writable("virDomainPinEmulator")?;
        positive(cpumap.0.len() as i64, "maplen", "virDomainPinEmulator")?;
        self.driver()
            .pin_emulator(&self.to_ref(), cpumap, flags)
            .await
    }

    /// `virDomainGetEmulatorPinInfo` ([`flags::affect`]): the emulator threads' affinity
    /// over `maplen` bytes.
    pub async fn emulator_pin_info(&self, maplen: i32, flags: u32) -> Result<CpuMap> {
        let f = "virDomainGetEmulatorPinInfo";
        positive(maplen.into(), "maplen", f)?;
        live_or_config(flags)?;
        self.driver()
            .emulator_pin_info(&self.to_ref(), maplen as usize, flags)
            .await
    }

    /// `virDomainGetIOThreadInfo` ([`flags::affect`]).
    pub async fn iothread_info(&self, flags: u32) -> Result<Vec<IothreadInfo>> {
        live_or_config(flags)?;
        self.driver().iothread_info(&self.to_ref(), flags).await
    }

    /// `virDomainPinIOThread` ([`flags::affect`]).
    pub async fn pin_iothread(&self, iothread: u32, cpumap: &CpuMap, flags: u32) -> Result<()> {
        self.writable("virDomainPinIOThread")?;
        positive(cpumap.0.len() as i64, "maplen", "virDomainPinIOThread")?;
        self.driver()
            .pin_iothread(&self.to_ref(), iothread, cpumap, flags)
            .await
    }

    /// `virDomainSetNumaParameters` ([`flags::affect`]): `numa_mode` (int) and
    /// `numa_nodeset` (string).
    pub async fn set_numa_parameters(&self, params: &[TypedParam], flags: u32) -> Result<()> {
        self.writable("virDomainSetNumaParameters")?;
        positive(params.len() as i64, "nparams", "virDomainSetNumaParameters")?;
        self.driver()
            .set_numa_parameters(&self.to_ref(), params, flags)
            .await
    }

    /// `virDomainGetNumaParameters` ([`flags::affect`]); string parameters are asked for,
    /// as libvirt's public API does for drivers that support them.
    pub async fn numa_parameters(&self, flags: u32) -> Result<Vec<TypedParam>> {
        self.driver()
            .numa_parameters(&self.to_ref(), flags | TYPED_PARAM_STRING_OKAY)
            .await
    }
}

#[cfg(test)]
#[path = "placement_tests.rs"]
mod tests;
