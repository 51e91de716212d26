//! The host's NUMA topology, CPU caches and memory bandwidth, read from sysfs as libvirt
//! 9.0 reads them for the capabilities' `<topology>`, `<cache>` and `<memory_bandwidth>`
//! (`virCapabilitiesHostNUMANewHost`, `virCapabilitiesInitCaches`).
//!
//! * Every online NUMA node (`/sys/devices/system/node/online`) with a `nodeN` directory
//!   is a cell: its CPUs (`cpulist`), each with socket, die, core and thread siblings from
//!   `cpu/cpuN/topology` (a missing file reads as 0, a missing sibling list as the CPU
//!   alone: offline CPUs whose topology the kernel removed show that way), its distances,
//!   memory (`meminfo`), page pools (huge pages plus the ordinary pages left over) and
//!   memory-side caches; HMAT's `access1` initiators give the interconnects.
//! * When the host has no NUMA nodes, or reading them fails, libvirt fakes them from the
//!   node info: `nodes` cells all numbered 0, each with `sockets × cores × threads` CPU
//!   numbers of which the online ones are listed, and the whole memory.
//! * Caches are the level-3-and-above banks of the online CPUs, with resctrl's allocation
//!   controls and monitors (`/sys/fs/resctrl/info`).

mod cache;
pub(crate) mod numa;
pub(crate) mod sysfs;

pub use cache::{
    CacheBank, CacheControl, CacheType, HostCache, MemBwNode, MemoryBandwidth, ResctrlMonitor,
};
pub use numa::{CellProbe, SysfsProbe};

use oxvirt_xml::types::cpuset::CpuSet;
use oxvirt_xml::VirError;

use crate::Host;

/// The host's `<topology>`, `<cache>` and `<memory_bandwidth>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Topology {
    /// `<cells>`, in node order (empty: `<topology>` is omitted).
    pub cells: Vec<Cell>,
    /// `<interconnects>` (HMAT), sorted as libvirt sorts them.
    pub interconnects: Vec<Interconnect>,
    /// `<cache>`.
    pub cache: HostCache,
    /// `<memory_bandwidth>`.
    pub memory_bandwidth: MemoryBandwidth,
}

/// One NUMA cell.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cell {
    /// `id`.
    pub id: u32,
    /// `<memory unit='KiB'>`; omitted when 0.
    pub memory_kib: u64,
    /// `<pages unit='KiB' size=...>count</pages>`: (page size in KiB, pages in the pool),
    /// by increasing size.
    pub pages: Vec<(u64, u64)>,
    /// `<distances><sibling id= value=/>`: (node, distance).
    pub distances: Vec<(u32, u32)>,
    /// Memory-side caches (`<cache level=...>`), by level.
    pub caches: Vec<MemoryCache>,
    /// `<cpus>`, by CPU number.
    pub cpus: Vec<CellCpu>,
}

/// One `<cpu>` of a cell.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CellCpu {
    /// `id`.
    pub id: u32,
    /// `socket_id`.
    pub socket_id: u32,
    /// `die_id`.
    pub die_id: u32,
    /// `core_id`.
    pub core_id: u32,
    /// `siblings`: the CPUs sharing this CPU's core.
    pub siblings: CpuSet,
}

/// A memory-side cache of a cell (`memory_side_cache/indexN`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryCache {
    /// `level`.
    pub level: u32,
    /// `<size unit='KiB'>`.
    pub size_kib: u64,
    /// `<line unit='B'>`; omitted when 0.
    pub line: u32,
    /// `associativity`: `none`, `direct` or `full`.
    pub associativity: &'static str,
    /// `policy`: `none`, `writeback` or `writethrough`.
    pub policy: &'static str,
}

/// What an interconnect entry measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum InterconnectKind {
    /// `<latency>` (nanoseconds).
    Latency,
    /// `<bandwidth unit='KiB'>` (KiB per second).
    Bandwidth,
}

/// Which accesses an interconnect entry is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    /// `type='access'`.
    Access,
    /// `type='read'`.
    Read,
    /// `type='write'`.
    Write,
}

impl Access {
    /// The `type` attribute.
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Access => "access",
            Access::Read => "read",
            Access::Write => "write",
        }
    }
}

/// One `<latency>` or `<bandwidth>` of `<interconnects>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Interconnect {
    /// Latency or bandwidth.
    pub kind: InterconnectKind,
    /// `initiator` node.
    pub initiator: u32,
    /// `target` node.
    pub target: u32,
    /// `cache` level on the target (0: its memory; omitted).
    pub cache: u32,
    /// `type`.
    pub access: Access,
    /// `value`.
    pub value: u64,
}

impl Topology {
    /// Reads the host's topology below `host`'s root, as libvirt does for its
    /// capabilities. NUMA failures fall back to the fake single-node layout as libvirt's
    /// do; cache discovery failures leave `<cache>` empty (libvirt only warns).
    pub fn read(host: &Host) -> Result<Topology, VirError> {
        Topology::read_with(host, &SysfsProbe)
    }

    /// As [`Topology::read`], with each cell's memory, pages and distances from `probe`
    /// (libvirt's tests replace those with fixed values the same way).
    pub fn read_with(host: &Host, probe: &dyn CellProbe) -> Result<Topology, VirError> {
        let (cells, interconnects) = numa::read_cells(host, probe)?;
        let (cache, memory_bandwidth) = cache::read_caches(host).unwrap_or_default();
        Ok(Topology {
            cells,
            interconnects,
            cache,
            memory_bandwidth,
        })
    }

    /// The CPUs of cell `node` (`virCapabilitiesHostNUMAGetCellCpus`); `None` when there
    /// is no such cell.
    pub fn node_cpus(&self, node: u32) -> Option<CpuSet> {
        self.cells
            .iter()
            .find(|c| c.id == node)
            .map(|c| c.cpus.iter().map(|cpu| cpu.id).collect())
    }

    /// The highest cell number (`virCapabilitiesHostNUMAGetMaxNode`: the last cell's).
    pub fn max_node(&self) -> Option<u32> {
        self.cells.last().map(|c| c.id)
    }

    /// The cell holding CPU `cpu`.
    pub fn node_of_cpu(&self, cpu: u32) -> Option<u32> {
        self.cells
            .iter()
            .find(|c| c.cpus.iter().any(|x| x.id == cpu))
            .map(|c| c.id)
    }

    /// Every CPU of every cell.
    pub fn cpus(&self) -> CpuSet {
        self.cells
            .iter()
            .flat_map(|c| c.cpus.iter().map(|cpu| cpu.id))
            .collect()
    }
}
