//! NUMA cells (`virCapabilitiesHostNUMAInitReal` / `...InitFake`) and HMAT interconnects.

use oxvirt_xml::types::cpuset::CpuSet;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use super::sysfs::{self, internal, SYSTEM};
use super::{Access, Cell, CellCpu, Interconnect, InterconnectKind, MemoryCache};
use crate::nodeinfo;
use crate::Host;

/// Where a cell's memory size, page pools and distances come from. [`SysfsProbe`] reads
/// them as libvirt does (through libnuma and sysfs); libvirt's capabilities tests replace
/// these three with fixed values, and so can ours.
pub trait CellProbe {
    /// The node's total memory in bytes (`virNumaGetNodeMemory`); `None` when unknown.
    fn memory_bytes(&self, host: &Host, node: u32) -> Option<u64>;
    /// The node's page pools: (page size in KiB, pages), by increasing size
    /// (`virNumaGetPages`).
    fn pages(&self, host: &Host, node: u32) -> Result<Vec<(u64, u64)>, VirError>;
    /// The node's distances to the other nodes, zeros left out
    /// (`virCapabilitiesGetNUMADistances`).
    fn distances(&self, host: &Host, node: u32) -> Result<Vec<(u32, u32)>, VirError>;
}

/// The real thing: `nodeN/meminfo`, `nodeN/hugepages`, `nodeN/distance`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SysfsProbe;

impl CellProbe for SysfsProbe {
    fn memory_bytes(&self, host: &Host, node: u32) -> Option<u64> {
        node_meminfo(host, node, "MemTotal:")
    }

    fn pages(&self, host: &Host, node: u32) -> Result<Vec<(u64, u64)>, VirError> {
        node_pages(host, node)
    }

    fn distances(&self, host: &Host, node: u32) -> Result<Vec<(u32, u32)>, VirError> {
        if !node_available(host, node) {
            return Ok(Vec::new());
        }
        let text = sysfs::read_string(host, &format!("{SYSTEM}/node/node{node}/distance"))
            .unwrap_or_default()
            .unwrap_or_default();
        // libnuma assigns the numbers, in order, to the nodes that exist.
        let nodes = available_nodes(host);
        Ok(nodes
            .iter()
            .zip(text.split_whitespace())
            .filter_map(|(&id, v)| v.parse::<u32>().ok().map(|v| (id, v)))
            .filter(|&(_, v)| v != 0)
            .collect())
    }
}

/// Whether `nodeN` exists (libnuma's `numa_nodes_ptr`).
pub(crate) fn node_available(host: &Host, node: u32) -> bool {
    host.path(&format!("{SYSTEM}/node/node{node}")).is_dir()
}

/// The node numbers with a `nodeN` directory, ascending.
fn available_nodes(host: &Host) -> Vec<u32> {
    let mut nodes: Vec<u32> = sysfs::read_dir(host, &format!("{SYSTEM}/node"))
        .ok()
        .flatten()
        .unwrap_or_default()
        .iter()
        .filter_map(|n| sysfs::exact_numbered(n, "node"))
        .filter(|&n| node_available(host, n))
        .collect();
    nodes.sort_unstable();
    nodes
}

/// Whether the host has NUMA nodes at all (libvirt asks libnuma; a kernel without NUMA
/// has no `/sys/devices/system/node`).
pub(crate) fn numa_available(host: &Host) -> bool {
    host.path(&format!("{SYSTEM}/node")).is_dir()
}

/// The highest node number (`virNumaGetMaxNode`): the last online node.
pub(crate) fn max_node(host: &Host) -> Result<u32, VirError> {
    if let Some(online) = sysfs::read_bitmap(host, &format!("{SYSTEM}/node/online"))? {
        if let Some(last) = online.last() {
            return Ok(last);
        }
    }
    available_nodes(host)
        .last()
        .copied()
        .ok_or_else(|| internal(ErrorDomain::None, "Failed to request maximum NUMA node id"))
}

/// A `MemTotal:`/`MemFree:` value of `nodeN/meminfo`, in bytes (libnuma's
/// `numa_node_size64`).
pub(crate) fn node_meminfo(host: &Host, node: u32, key: &str) -> Option<u64> {
    let text = host
        .read(&format!("{SYSTEM}/node/node{node}/meminfo"))
        .ok()?;
    text.lines().find_map(|line| {
        let rest = &line[line.find(key)? + key.len()..];
        let kib: u64 = rest.split_whitespace().next()?.parse().ok()?;
        Some(kib * 1024)
    })
}

/// The system page size in bytes: `AT_PAGESZ` of `/proc/self/auxv` below the root, 4096
/// when it cannot be read.
pub(crate) fn system_page_size(host: &Host) -> u64 {
    const AT_PAGESZ: u64 = 6;
    let Ok(bytes) = std::fs::read(host.path("/proc/self/auxv")) else {
        return 4096;
    };
    for pair in bytes.chunks_exact(16) {
        let mut key = [0u8; 8];
        let mut val = [0u8; 8];
        key.copy_from_slice(&pair[..8]);
        val.copy_from_slice(&pair[8..]);
        if u64::from_ne_bytes(key) == AT_PAGESZ {
            let size = u64::from_ne_bytes(val);
            if size >= 1024 {
                return size;
            }
        }
    }
    4096
}

/// A huge page pool counter: a number followed by a newline.
fn read_pool(host: &Host, path: &str) -> Result<u64, VirError> {
    let text = host.read(path).map_err(|e| sysfs::read_failed(path, &e))?;
    text.strip_suffix('\n')
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| internal(ErrorDomain::None, format!("unable to parse: {text}")))
}

/// `virNumaGetPages(node)`: the huge page pools, then the ordinary pages of the memory
/// the pools leave, by increasing size.
fn node_pages(host: &Host, node: u32) -> Result<Vec<(u64, u64)>, VirError> {
    let dir = format!("{SYSTEM}/node/node{node}/hugepages");
    let mut pages = Vec::new();
    let mut huge_bytes = 0u64;
    for name in sysfs::read_dir(host, &dir)?.unwrap_or_default() {
        let Some(rest) = name.strip_prefix("hugepages-") else {
            continue;
        };
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let size: u64 = match (rest[..digits].parse(), &rest[digits..]) {
            (Ok(size), unit) if unit.eq_ignore_ascii_case("kB") => size,
            _ => {
                return Err(internal(
                    ErrorDomain::None,
                    format!("unable to parse {name}"),
                ))
            }
        };
        let nr = format!("{dir}/{name}/nr_hugepages");
        if !host.exists(&nr) {
            return Err(VirError::new(
                ErrorDomain::None,
                ErrorCode::OperationFailed,
                format!("page size {size} is not available on node {node}"),
            ));
        }
        let avail = read_pool(host, &nr)?;
        huge_bytes = huge_bytes.saturating_add(1024 * size * avail);
        pages.push((size, avail));
    }
    let page = system_page_size(host);
    let memory = node_meminfo(host, node, "MemTotal:").ok_or_else(|| {
        internal(
            ErrorDomain::None,
            format!("unable to read the memory of NUMA node {node}"),
        )
    })?;
    pages.push((page / 1024, memory.saturating_sub(huge_bytes) / page));
    pages.sort_by_key(|&(size, _)| size);
    Ok(pages)
}

/// The CPUs of node `node` (`virNumaGetNodeCPUs`); `None` when the node is not there.
fn node_cpus(host: &Host, node: u32) -> Result<Option<CpuSet>, VirError> {
    if !node_available(host, node) {
        return Ok(None);
    }
    let base = format!("{SYSTEM}/node/node{node}");
    if let Some(list) = sysfs::read_bitmap(host, &format!("{base}/cpulist"))? {
        return Ok(Some(list));
    }
    let Some(map) = sysfs::read_string(host, &format!("{base}/cpumap"))? else {
        return Ok(None);
    };
    Ok(Some(parse_cpumap(&map).ok_or_else(|| {
        internal(ErrorDomain::None, format!("unable to parse {base}/cpumap"))
    })?))
}

/// A sysfs CPU mask (`00000000,0000000f`): 32-bit hex words, most significant first.
fn parse_cpumap(text: &str) -> Option<CpuSet> {
    let mut set = CpuSet::new();
    let words: Vec<&str> = text.trim().split(',').collect();
    for (i, word) in words.iter().rev().enumerate() {
        let bits = u32::from_str_radix(word, 16).ok()?;
        for bit in 0..32 {
            if bits & (1 << bit) != 0 {
                set.insert(u32::try_from(i).ok()? * 32 + bit);
            }
        }
    }
    Some(set)
}

/// `virHostCPUGetSocket`: a missing file or a negative id reads as socket 0.
pub(crate) fn cpu_socket(host: &Host, cpu: u32) -> Result<u32, VirError> {
    let v = sysfs::read_int(
        host,
        &format!("{SYSTEM}/cpu/cpu{cpu}/topology/physical_package_id"),
    )?;
    Ok(u32::try_from(v.unwrap_or(0)).unwrap_or(0))
}

/// `virHostCPUGetDie`.
fn cpu_die(host: &Host, cpu: u32) -> Result<u32, VirError> {
    let v = sysfs::read_int(host, &format!("{SYSTEM}/cpu/cpu{cpu}/topology/die_id"))?;
    Ok(u32::try_from(v.unwrap_or(0)).unwrap_or(0))
}

/// `virHostCPUGetCore`.
pub(crate) fn cpu_core(host: &Host, cpu: u32) -> Result<u32, VirError> {
    let v = sysfs::read_uint(host, &format!("{SYSTEM}/cpu/cpu{cpu}/topology/core_id"))?;
    Ok(u32::try_from(v.unwrap_or(0)).unwrap_or(0))
}

/// `virHostCPUGetSiblingsList`: without the file, the CPU is its own only sibling.
pub(crate) fn cpu_siblings(host: &Host, cpu: u32) -> Result<CpuSet, VirError> {
    let path = format!("{SYSTEM}/cpu/cpu{cpu}/topology/thread_siblings_list");
    Ok(sysfs::read_bitmap(host, &path)?.unwrap_or_else(|| std::iter::once(cpu).collect()))
}

/// `virHostCPUGetOnline`: without the file, the CPU cannot be taken offline.
pub(crate) fn cpu_online(host: &Host, cpu: u32) -> Result<bool, VirError> {
    let v = sysfs::read_uint(host, &format!("{SYSTEM}/cpu/cpu{cpu}/online"))?;
    Ok(v.unwrap_or(1) != 0)
}

fn fill_cpu(host: &Host, cpu: u32) -> Result<CellCpu, VirError> {
    Ok(CellCpu {
        id: cpu,
        socket_id: cpu_socket(host, cpu)?,
        die_id: cpu_die(host, cpu)?,
        core_id: cpu_core(host, cpu)?,
        siblings: cpu_siblings(host, cpu)?,
    })
}

/// The cells and interconnects: the real NUMA layout when there is one and it reads
/// without error, else the fake one.
pub(crate) fn read_cells(
    host: &Host,
    probe: &dyn CellProbe,
) -> Result<(Vec<Cell>, Vec<Interconnect>), VirError> {
    if numa_available(host) {
        if let Ok(found) = read_real(host, probe) {
            return Ok(found);
        }
    }
    Ok((read_fake(host)?, Vec::new()))
}

fn read_real(
    host: &Host,
    probe: &dyn CellProbe,
) -> Result<(Vec<Cell>, Vec<Interconnect>), VirError> {
    let max = max_node(host)?;
    let mut cells = Vec::new();
    for n in 0..=max {
        let Some(cpuset) = node_cpus(host, n)? else {
            continue;
        };
        let cpus = cpuset
            .iter()
            .map(|cpu| fill_cpu(host, cpu))
            .collect::<Result<Vec<_>, _>>()?;
        let distances = probe.distances(host, n)?;
        let pages = probe.pages(host, n)?;
        let caches = memory_side_caches(host, n)?;
        let memory_kib = probe.memory_bytes(host, n).unwrap_or(0) >> 10;
        cells.push(Cell {
            id: n,
            memory_kib,
            pages,
            distances,
            caches,
            cpus,
        });
    }
    let interconnects = interconnects(host)?;
    Ok((cells, interconnects))
}

/// `virCapabilitiesHostNUMAInitFake`: the node info's layout, every cell numbered 0.
fn read_fake(host: &Host) -> Result<Vec<Cell>, VirError> {
    let info = nodeinfo::node_info(host)?;
    let per_node = info.sockets * info.cores * info.threads;
    let mut cells = Vec::new();
    let mut id = 0u32;
    for _ in 0..info.nodes {
        let mut cpus = Vec::with_capacity(per_node as usize);
        for socket in 0..info.sockets {
            for core in 0..info.cores {
                let siblings: CpuSet = (id..id + info.threads).collect();
                for _ in 0..info.threads {
                    if cpu_online(host, id)? {
                        cpus.push(CellCpu {
                            id,
                            socket_id: socket,
                            die_id: 0,
                            core_id: core,
                            siblings: siblings.clone(),
                        });
                    }
                    id += 1;
                }
            }
        }
        cells.push(Cell {
            id: 0,
            memory_kib: info.memory_kib,
            cpus,
            ..Cell::default()
        });
    }
    Ok(cells)
}

fn cache_value(host: &Host, dir: &str, file: &str) -> Result<u64, VirError> {
    let path = format!("{dir}/{file}");
    sysfs::read_uint(host, &path)?.ok_or_else(|| {
        internal(
            ErrorDomain::Capabilities,
            format!("File '{path}' does not exist"),
        )
    })
}

/// `virCapabilitiesGetNodeCache`: `nodeN/memory_side_cache/indexL`, by level.
fn memory_side_caches(host: &Host, node: u32) -> Result<Vec<MemoryCache>, VirError> {
    let dir = format!("{SYSTEM}/node/node{node}/memory_side_cache");
    let mut caches = Vec::new();
    for name in sysfs::read_dir(host, &dir)?.unwrap_or_default() {
        let Some(rest) = name.strip_prefix("index") else {
            continue;
        };
        let level = sysfs::exact_numbered(rest, "").ok_or_else(|| {
            internal(ErrorDomain::Capabilities, format!("unable to parse {name}"))
        })?;
        let sub = format!("{dir}/{name}");
        let size = cache_value(host, &sub, "size")? >> 10;
        let line = cache_value(host, &sub, "line_size")?;
        let associativity = match cache_value(host, &sub, "indexing")? {
            0 => "direct",
            1 => "full",
            2 => "none",
            v => {
                return Err(internal(
                    ErrorDomain::Capabilities,
                    format!("unknown indexing value '{v}'"),
                ))
            }
        };
        let policy = match cache_value(host, &sub, "write_policy")? {
            0 => "writeback",
            1 => "writethrough",
            2 => "none",
            v => {
                return Err(internal(
                    ErrorDomain::Capabilities,
                    format!("unknown write_policy value '{v}'"),
                ))
            }
        };
        caches.push(MemoryCache {
            level,
            size_kib: size,
            line: u32::try_from(line).unwrap_or(u32::MAX),
            associativity,
            policy,
        });
    }
    caches.sort_by_key(|c| c.level);
    Ok(caches)
}

/// `virCapabilitiesHostNUMAInitInterconnects`: each node's best CPU initiators
/// (`access1`), four entries per initiator, sorted.
fn interconnects(host: &Host) -> Result<Vec<Interconnect>, VirError> {
    let base = format!("{SYSTEM}/node");
    let mut all = Vec::new();
    for name in sysfs::read_dir(host, &base)?.unwrap_or_default() {
        let Some(rest) = name.strip_prefix("node") else {
            continue;
        };
        let node = sysfs::exact_numbered(rest, "").ok_or_else(|| {
            internal(ErrorDomain::Capabilities, format!("unable to parse {name}"))
        })?;
        let access = format!("{base}/node{node}/access1");
        if !host.exists(&access) {
            continue;
        }
        let init = format!("{access}/initiators");
        let read_bw = cache_value(host, &init, "read_bandwidth")? << 10;
        let write_bw = cache_value(host, &init, "write_bandwidth")? << 10;
        let read_lat = cache_value(host, &init, "read_latency")?;
        let write_lat = cache_value(host, &init, "write_latency")?;
        let entries = sysfs::read_dir(host, &init)?.ok_or_else(|| {
            VirError::new(
                ErrorDomain::None,
                ErrorCode::SystemError,
                format!("cannot open directory '{init}': No such file or directory"),
            )
        })?;
        for entry in entries {
            let Some(rest) = entry.strip_prefix("node") else {
                continue;
            };
            let initiator = sysfs::exact_numbered(rest, "").ok_or_else(|| {
                internal(
                    ErrorDomain::Capabilities,
                    format!("unable to parse {entry}"),
                )
            })?;
            let one = |kind, access, value| Interconnect {
                kind,
                initiator,
                target: node,
                cache: 0,
                access,
                value,
            };
            all.push(one(InterconnectKind::Bandwidth, Access::Read, read_bw));
            all.push(one(InterconnectKind::Bandwidth, Access::Write, write_bw));
            all.push(one(InterconnectKind::Latency, Access::Read, read_lat));
            all.push(one(InterconnectKind::Latency, Access::Write, write_lat));
        }
    }
    all.sort();
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpumap_words() {
        let set = parse_cpumap("00000001,0000000f\n").unwrap();
        assert_eq!(set.to_string(), "0-3,32");
    }
}
