//! The host's NUMA topology, caches and memory bandwidth, from sysfs.

/// `<topology>` with `<cache>` and `<memory_bandwidth>` (filled in by the topology work).
#[derive(Debug, Clone, Default)]
pub struct Topology {}
