//! The node calls of `qemu:///system`: node info, capabilities, statistics, free memory and
//! pages, the CPU map, SMBIOS data and domain capabilities.

use oxvirt_domain::driver::{no_support, NodeCpuMap, NodeInfo, Result};

use super::QemuDriver;

impl QemuDriver {
    pub(super) async fn host_node_info(&self) -> Result<NodeInfo> {
        Err(no_support("virNodeGetInfo"))
    }

    pub(super) async fn host_capabilities(&self) -> Result<String> {
        Err(no_support("virConnectGetCapabilities"))
    }

    pub(super) async fn host_max_vcpus(&self, _kind: Option<&str>) -> Result<u32> {
        Err(no_support("virConnectGetMaxVcpus"))
    }

    pub(super) async fn host_free_memory(&self) -> Result<u64> {
        Err(no_support("virNodeGetFreeMemory"))
    }

    pub(super) async fn host_cells_free_memory(&self, _start: i32, _max: i32) -> Result<Vec<u64>> {
        Err(no_support("virNodeGetCellsFreeMemory"))
    }

    pub(super) async fn host_sysinfo(&self, _flags: u32) -> Result<String> {
        Err(no_support("virConnectGetSysinfo"))
    }

    pub(super) async fn host_cpu_stats(
        &self,
        _cpu: i32,
        _flags: u32,
    ) -> Result<Vec<(String, u64)>> {
        Err(no_support("virNodeGetCPUStats"))
    }

    pub(super) async fn host_memory_stats(
        &self,
        _cell: i32,
        _flags: u32,
    ) -> Result<Vec<(String, u64)>> {
        Err(no_support("virNodeGetMemoryStats"))
    }

    pub(super) async fn host_free_pages(
        &self,
        _pages: &[u32],
        _start_cell: i32,
        _cell_count: u32,
        _flags: u32,
    ) -> Result<Vec<u64>> {
        Err(no_support("virNodeGetFreePages"))
    }

    pub(super) async fn host_cpu_map(&self, _flags: u32) -> Result<NodeCpuMap> {
        Err(no_support("virNodeGetCPUMap"))
    }

    pub(super) async fn host_domain_capabilities(
        &self,
        _emulator: Option<&str>,
        _arch: Option<&str>,
        _machine: Option<&str>,
        _virttype: Option<&str>,
        _flags: u32,
    ) -> Result<String> {
        Err(no_support("virConnectGetDomainCapabilities"))
    }
}
