//! Free memory of the host and its NUMA cells, and free pages per page size
//! (`virNodeGetCellsFreeMemory`, `virNodeGetFreeMemory`, `virNodeGetFreePages`), as
//! libvirt's `virHostMemGetCellsFree`, `virHostMemGetInfo`, `virNumaGetPageInfo`,
//! `virNumaGetPages` and `virHostMemGetFreePages` compute them.
//!
//! Sizes of pages are in KiB, memory amounts in bytes unless said otherwise.

use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use crate::stats::{leading_u64, system_error};
use crate::Host;

const NODE_DIR: &str = "/sys/devices/system/node";
const HUGEPAGES_SYSTEM: &str = "/sys/kernel/mm/hugepages";

/// Whether the host has NUMA (libvirt's `virNumaIsAvailable`: libnuma works, which it does
/// when the kernel has NUMA support, so `/sys/devices/system/node` exists).
pub fn numa_available(host: &Host) -> bool {
    host.path(NODE_DIR).is_dir()
}

/// The NUMA node ids present (`nodeN` below `/sys/devices/system/node`), ascending.
pub fn node_ids(host: &Host) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir(host.path(NODE_DIR)) else {
        return Vec::new();
    };
    let mut ids: Vec<u32> = dir
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_prefix("node")?.parse().ok()
        })
        .collect();
    ids.sort_unstable();
    ids
}

/// The highest NUMA node id (`virNumaGetMaxNode`). Without NUMA:
/// `VIR_ERR_OPERATION_UNSUPPORTED` "NUMA isn't available on this host".
pub fn max_node(host: &Host) -> Result<u32, VirError> {
    if !numa_available(host) {
        return Err(VirError::new(
            ErrorDomain::None,
            ErrorCode::OperationUnsupported,
            "NUMA isn't available on this host",
        ));
    }
    Ok(node_ids(host).last().copied().unwrap_or(0))
}

/// Node `node`'s total and free memory in bytes (`virNumaGetNodeMemory`: libnuma's
/// `numa_node_size64`, the node meminfo's `MemTotal` and `MemFree`). A node that cannot be
/// read: "internal error: Failed to query NUMA free memory for node: N".
pub fn node_memory(host: &Host, node: i32) -> Result<(u64, u64), VirError> {
    let fail = || {
        VirError::new(
            ErrorDomain::None,
            ErrorCode::InternalError,
            format!("Failed to query NUMA free memory for node: {node}"),
        )
    };
    if node < 0 {
        return Err(fail());
    }
    let text = host
        .read(&format!("{NODE_DIR}/node{node}/meminfo"))
        .map_err(|_| fail())?;
    let (total, free) = (
        meminfo_field(&text, "MemTotal:"),
        meminfo_field(&text, "MemFree:"),
    );
    match total {
        Some(total) => Ok((total * 1024, free.unwrap_or(0) * 1024)),
        None => Err(fail()),
    }
}

/// The KiB value of `field` (`MemFree:`) in a `meminfo` text, with or without the
/// `Node N ` prefix.
fn meminfo_field(text: &str, field: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let at = line.find(field)?;
        leading_u64(line[at + field.len()..].trim_start())
    })
}

/// The host's free memory in bytes without NUMA (gnulib's `physmem_available`: the
/// kernel's free RAM, `/proc/meminfo` `MemFree`).
fn physmem_free(host: &Host) -> Option<u64> {
    let text = host.read("/proc/meminfo").ok()?;
    meminfo_field(&text, "MemFree:").map(|k| k * 1024)
}

/// `virNodeGetCellsFreeMemory`: free bytes of cells `start` .. `start + max - 1` (as many
/// as exist). A start above the last cell: "internal error: start cell S out of range
/// (0-M)"; a cell in range that cannot be read counts 0, as libvirt's.
pub fn cells_free_memory(host: &Host, start: i32, max: i32) -> Result<Vec<u64>, VirError> {
    if !numa_available(host) {
        if start != 0 {
            return Err(out_of_range(start, 0));
        }
        return match physmem_free(host) {
            Some(free) if free > 0 => Ok(vec![free]),
            _ => Err(cannot_determine()),
        };
    }
    let max_cell = max_node(host)? as i32;
    if start > max_cell {
        return Err(out_of_range(start, max_cell));
    }
    let last = (start.saturating_add(max) - 1).min(max_cell);
    Ok((start..=last)
        .map(|n| node_memory(host, n).map(|(_, free)| free).unwrap_or(0))
        .collect())
}

/// `virNodeGetFreeMemory`: the host's free bytes, the sum over its NUMA nodes
/// (`virHostMemGetInfo`), or `MemFree` without NUMA.
pub fn free_memory(host: &Host) -> Result<u64, VirError> {
    Ok(memory_info(host)?.1)
}

/// The host's total and free memory in bytes (`virHostMemGetInfo`).
pub fn memory_info(host: &Host) -> Result<(u64, u64), VirError> {
    if !numa_available(host) {
        let text = host.read("/proc/meminfo").ok();
        let get = |f| text.as_deref().and_then(|t| meminfo_field(t, f));
        return match (get("MemTotal:"), get("MemFree:")) {
            (Some(t), Some(f)) if t > 0 && f > 0 => Ok((t * 1024, f * 1024)),
            _ => Err(cannot_determine()),
        };
    }
    let (mut total, mut free) = (0, 0);
    for n in node_ids(host) {
        let (t, f) = node_memory(host, n as i32)?;
        total += t;
        free += f;
    }
    Ok((total, free))
}

/// The system page size in KiB (libvirt asks `sysconf(_SC_PAGESIZE)`): the `AT_PAGESZ`
/// entry of `/proc/self/auxv` below the root, else 4.
pub fn system_page_size(host: &Host) -> u64 {
    const AT_PAGESZ: u64 = 6;
    const WORD: usize = std::mem::size_of::<usize>();
    let Ok(auxv) = std::fs::read(host.path("/proc/self/auxv")) else {
        return 4;
    };
    let word = |b: &[u8]| -> u64 {
        let mut buf = [0u8; WORD];
        buf.copy_from_slice(b);
        usize::from_ne_bytes(buf) as u64
    };
    auxv.chunks_exact(2 * WORD)
        .map(|pair| (word(&pair[..WORD]), word(&pair[WORD..])))
        .find(|(key, _)| *key == AT_PAGESZ)
        .map(|(_, bytes)| bytes / 1024)
        .filter(|&k| k > 0)
        .unwrap_or(4)
}

/// One page size of a node or of the host: (size KiB, pages in the pool, free pages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageInfo {
    /// The page size in KiB.
    pub size: u64,
    /// Pages of this size (for the system page size: memory not given to huge pages).
    pub avail: u64,
    /// Free pages of this size.
    pub free: u64,
}

/// The huge page directory of `node` (`-1`: the whole host).
fn hugepage_dir(node: i32) -> String {
    if node < 0 {
        HUGEPAGES_SYSTEM.to_string()
    } else {
        format!("{NODE_DIR}/node{node}/hugepages")
    }
}

/// `virNumaGetPageInfo`: pages of `size` KiB on `node` (`-1`: the host). For the system
/// page size: the node's memory less `huge_bytes` (what its huge page pools hold), and its
/// `MemFree`, in pages; for huge pages, `nr_hugepages` and `free_hugepages`.
///
/// A size the node lacks: "operation failed: page size S is not available on node N"
/// ("... is not available" for the host; "NUMA node N is not available" for a node that
/// does not exist).
pub fn page_info(host: &Host, node: i32, size: u64, huge_bytes: u64) -> Result<PageInfo, VirError> {
    let system = system_page_size(host);
    if size == system {
        let (total, free) = if node < 0 {
            memory_info(host)?
        } else {
            node_memory(host, node)?
        };
        let page = system * 1024;
        return Ok(PageInfo {
            size,
            avail: total.saturating_sub(huge_bytes) / page,
            free: free / page,
        });
    }
    let dir = format!("{}/hugepages-{size}kB", hugepage_dir(node));
    if !host.exists(&dir) {
        let msg = if node < 0 {
            format!("page size {size} is not available")
        } else if !host.exists(&format!("{NODE_DIR}/node{node}")) {
            format!("NUMA node {node} is not available")
        } else {
            format!("page size {size} is not available on node {node}")
        };
        return Err(VirError::new(
            ErrorDomain::None,
            ErrorCode::OperationFailed,
            msg,
        ));
    }
    let read = |file: &str| -> Result<u64, VirError> {
        let path = format!("{dir}/{file}");
        let text = host
            .read(&path)
            .map_err(|e| system_error(&format!("Failed to open file '{path}'"), &e))?;
        text.strip_suffix('\n')
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| {
                VirError::new(
                    ErrorDomain::None,
                    ErrorCode::InternalError,
                    format!("unable to parse: {text}"),
                )
            })
    };
    Ok(PageInfo {
        size,
        avail: read("nr_hugepages")?,
        free: read("free_hugepages")?,
    })
}

/// `virNumaGetPages`: every page size of `node` (`-1`: the host), ascending: the system
/// page size, then each `hugepages-SkB` pool. A missing huge page directory means no huge
/// pages.
pub fn pages(host: &Host, node: i32) -> Result<Vec<PageInfo>, VirError> {
    let mut huge = Vec::new();
    if let Ok(dir) = std::fs::read_dir(host.path(&hugepage_dir(node))) {
        for entry in dir.filter_map(|e| e.ok()) {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(rest) = name.strip_prefix("hugepages-") else {
                continue;
            };
            let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
            let size = match digits.parse::<u64>() {
                Ok(s) if rest[digits.len()..].eq_ignore_ascii_case("kB") => s,
                _ => {
                    return Err(VirError::new(
                        ErrorDomain::None,
                        ErrorCode::InternalError,
                        format!("unable to parse {name}"),
                    ))
                }
            };
            huge.push(page_info(host, node, size, 0)?);
        }
    }
    let huge_bytes: u64 = huge.iter().map(|p| p.size * 1024 * p.avail).sum();
    let mut all = vec![page_info(host, node, system_page_size(host), huge_bytes)?];
    all.extend(huge);
    all.sort_by_key(|p| p.size);
    Ok(all)
}

/// The page sizes the host offers, in KiB, ascending (the capabilities' `<pages>`:
/// `virNumaGetPages(-1)`).
pub fn page_sizes(host: &Host) -> Vec<u64> {
    match pages(host, -1) {
        Ok(p) => p.into_iter().map(|p| p.size).collect(),
        Err(_) => vec![system_page_size(host)],
    }
}

/// `virNodeGetFreePages` (`virHostMemGetFreePages`): free pages of each size in `sizes`
/// (KiB) for cells `start` .. `start + count - 1`, cell by cell, at most up to `last_cell`
/// (the capabilities' highest cell id; [`last_cell`] gives it).
///
/// A start above `last_cell`: "internal error: start cell S out of range (0-L)"; a size a
/// cell lacks: [`page_info`]'s error; nothing to report: "internal error: no suitable info
/// found".
pub fn free_pages(
    host: &Host,
    sizes: &[u64],
    start: i32,
    count: u32,
    last_cell: i32,
) -> Result<Vec<u64>, VirError> {
    if start > last_cell {
        return Err(out_of_range(start, last_cell));
    }
    let last = last_cell.min(start.saturating_add(count as i32) - 1);
    let mut counts = Vec::new();
    for cell in start..=last {
        for &size in sizes {
            counts.push(page_info(host, cell, size, 0)?.free);
        }
    }
    if counts.is_empty() {
        return Err(VirError::new(
            ErrorDomain::None,
            ErrorCode::InternalError,
            "no suitable info found",
        ));
    }
    Ok(counts)
}

/// The highest NUMA cell id the capabilities list: the last node, or 0 without NUMA (libvirt
/// then describes the host as one cell).
pub fn last_cell(host: &Host) -> i32 {
    max_node(host).map(|m| m as i32).unwrap_or(0)
}

fn out_of_range(start: i32, last: i32) -> VirError {
    VirError::new(
        ErrorDomain::None,
        ErrorCode::InternalError,
        format!("start cell {start} out of range (0-{last})"),
    )
}

fn cannot_determine() -> VirError {
    VirError::new(
        ErrorDomain::None,
        ErrorCode::InternalError,
        "Cannot determine free memory",
    )
}
