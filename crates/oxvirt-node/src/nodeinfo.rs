//! Node info (`virNodeGetInfo`) with libvirt 9.0's algorithm (`virCapabilitiesGetNodeInfo`,
//! `virHostCPUGetInfoPopulateLinux`):
//!
//! * `model` is the host architecture's name, `memory` the total memory in KiB (the sum of
//!   the NUMA nodes' `MemTotal`, or `/proc/meminfo`'s without NUMA).
//! * `mhz` is the last "cpu MHz" (x86), "clock" (PowerPC), "cpu MHz dynamic" (s390) or
//!   "CPU MHz" (LoongArch) line of `/proc/cpuinfo`; 0 on ARM.
//! * The CPUs of each `/sys/devices/system/node/nodeN` (falling back to
//!   `/sys/devices/system/cpu` as one node when there are no nodes or they list no CPUs)
//!   give the online CPU count and, per node, the sockets, the most cores in a socket and
//!   the most thread siblings of a core; the maxima over the nodes are reported.
//! * When `nodes × sockets × cores × threads` is not the number of present CPUs, the
//!   topology is not uniform and libvirt reports 1 node, 1 socket, one core per CPU and 1
//!   thread.

use oxvirt_xml::types::cpuset::CpuSet;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use crate::topology::numa;
use crate::topology::sysfs::{self, internal, SYSTEM};
use crate::Host;

/// What `virNodeGetInfo` returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeInfo {
    /// The architecture (`x86_64`).
    pub model: String,
    /// Total memory in KiB.
    pub memory_kib: u64,
    /// Online CPUs.
    pub cpus: u32,
    /// CPU frequency in MHz (0 when unknown).
    pub mhz: u32,
    /// NUMA nodes.
    pub nodes: u32,
    /// Sockets per node.
    pub sockets: u32,
    /// Cores per socket.
    pub cores: u32,
    /// Threads per core.
    pub threads: u32,
}

impl NodeInfo {
    /// `VIR_NODEINFO_MAXCPUS`: nodes × sockets × cores × threads.
    pub fn max_cpus(&self) -> u32 {
        self.nodes * self.sockets * self.cores * self.threads
    }
}

/// The CPU part of the node info (`virHostCPUGetInfoPopulateLinux`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuCounts {
    /// Online CPUs.
    pub cpus: u32,
    /// MHz.
    pub mhz: u32,
    /// Nodes.
    pub nodes: u32,
    /// Sockets per node.
    pub sockets: u32,
    /// Cores per socket.
    pub cores: u32,
    /// Threads per core.
    pub threads: u32,
}

/// The architecture name libvirt gives this build's host (`virArchFromHost`).
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86" => "i686",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "powerpc64" => "ppc64",
        "powerpc" => "ppc",
        "loongarch64" => "loongarch64",
        other => other,
    }
}

/// The node info of `host` (running this build's architecture).
pub fn node_info(host: &Host) -> Result<NodeInfo, VirError> {
    node_info_for_arch(host, host_arch())
}

/// The node info of `host` as a host of architecture `arch` reports it.
pub fn node_info_for_arch(host: &Host, arch: &str) -> Result<NodeInfo, VirError> {
    let memory = total_memory(host)?;
    let cpuinfo = host.read("/proc/cpuinfo").map_err(|e| {
        VirError::new(
            ErrorDomain::None,
            ErrorCode::SystemError,
            format!("cannot open /proc/cpuinfo: {}", sysfs::os_message(&e)),
        )
    })?;
    let c = cpu_counts(host, arch, &cpuinfo)?;
    Ok(NodeInfo {
        model: arch.to_string(),
        memory_kib: memory / 1024,
        cpus: c.cpus,
        mhz: c.mhz,
        nodes: c.nodes,
        sockets: c.sockets,
        cores: c.cores,
        threads: c.threads,
    })
}

/// The host's total memory in bytes (`virHostMemGetInfo`): the NUMA nodes' `MemTotal`
/// summed, or `/proc/meminfo`'s `MemTotal` without NUMA.
pub fn total_memory(host: &Host) -> Result<u64, VirError> {
    let cannot = || internal(ErrorDomain::None, "Cannot determine free memory");
    if !numa::numa_available(host) {
        let meminfo = host.read("/proc/meminfo").map_err(|_| cannot())?;
        return meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .filter(|&v| v != 0)
            .map(|kib| kib * 1024)
            .ok_or_else(cannot);
    }
    let max = numa::max_node(host)?;
    let mut total = 0u64;
    for n in 0..=max {
        if !numa::node_available(host, n) {
            continue;
        }
        total += numa::node_meminfo(host, n, "MemTotal:").ok_or_else(|| {
            internal(
                ErrorDomain::None,
                format!("unable to read the memory of NUMA node {n}"),
            )
        })?;
    }
    Ok(total)
}

/// The `/proc/cpuinfo` prefix of the frequency line for `arch`; `None` where libvirt
/// does not look (ARM) or cannot (others).
fn mhz_prefix(arch: &str) -> Option<&'static str> {
    match arch {
        "i686" | "x86_64" => Some("cpu MHz"),
        "ppc" | "ppcle" | "ppc64" | "ppc64le" | "ppcemb" => Some("clock"),
        "s390" | "s390x" => Some("cpu MHz dynamic"),
        "loongarch64" => Some("CPU MHz"),
        _ => None,
    }
}

/// `virHostCPUParseFrequencyString`: `Ok(Some)` for a frequency line, `Ok(None)` for
/// another line, `Err` for a malformed frequency line.
fn parse_mhz(line: &str, prefix: &str) -> Result<Option<u32>, ()> {
    let Some(rest) = line.strip_prefix(prefix) else {
        return Ok(None);
    };
    let rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace());
    if rest.is_empty() {
        return Err(());
    }
    let Some(rest) = rest.strip_prefix(':') else {
        return Ok(None);
    };
    let rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace());
    if rest.is_empty() {
        return Err(());
    }
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let value: u32 = rest[..end].parse().map_err(|_| ())?;
    match rest[end..].chars().next() {
        None | Some('.') => Ok(Some(value)),
        Some(c) if c.is_ascii_whitespace() => Ok(Some(value)),
        Some(_) => Err(()),
    }
}

/// The frequency of `/proc/cpuinfo` text `cpuinfo` for `arch` (the last line wins; a
/// malformed line stops the scan, keeping what was found before, as libvirt only warns).
pub fn cpuinfo_mhz(cpuinfo: &str, arch: &str) -> u32 {
    let Some(prefix) = mhz_prefix(arch) else {
        return 0;
    };
    let mut mhz = 0;
    for line in cpuinfo.lines() {
        match parse_mhz(line, prefix) {
            Ok(Some(v)) => mhz = v,
            Ok(None) => {}
            Err(()) => break,
        }
    }
    mhz
}

/// One node's counts (`virHostCPUParseNode`).
struct NodeCounts {
    processors: u32,
    sockets: u32,
    cores: u32,
    threads: u32,
}

/// The CPU maps and subcore mode one count works with.
struct Scan<'a> {
    arch: &'a str,
    present: &'a CpuSet,
    online: &'a CpuSet,
    threads_per_subcore: u32,
}

fn parse_node(
    host: &Host,
    dir: &str,
    scan: &Scan<'_>,
    offline: &mut u32,
) -> Result<NodeCounts, VirError> {
    let (arch, present, online) = (scan.arch, scan.present, scan.online);
    let tps = scan.threads_per_subcore;
    let entries = sysfs::read_dir(host, dir)?.ok_or_else(|| {
        VirError::new(
            ErrorDomain::None,
            ErrorCode::SystemError,
            format!("cannot open directory '{dir}': No such file or directory"),
        )
    })?;
    let mut node_cpus = CpuSet::new();
    let mut sockets = CpuSet::new();
    for name in &entries {
        let Some(cpu) = sysfs::numbered(name, "cpu") else {
            continue;
        };
        if !present.contains(cpu) {
            continue;
        }
        node_cpus.insert(cpu);
        if !online.contains(cpu) {
            continue;
        }
        sockets.insert(numa::cpu_socket(host, cpu)?);
    }
    let mut cores_of: std::collections::BTreeMap<u32, CpuSet> = Default::default();
    let mut processors = 0;
    let mut threads = 0;
    let last_present = present.last().map_or(0, |l| l + 1);
    for cpu in node_cpus.iter().filter(|&c| c < last_present) {
        if !online.contains(cpu) {
            // With subcores, an offline secondary thread of an online primary counts.
            if tps > 0 && cpu % tps != 0 && online.contains(cpu - cpu % tps) {
                processors += 1;
            } else {
                *offline += 1;
            }
            continue;
        }
        processors += 1;
        let socket = numa::cpu_socket(host, cpu)?;
        if !sockets.contains(socket) {
            return Err(internal(
                ErrorDomain::None,
                "CPU socket topology has changed",
            ));
        }
        let core = if arch.starts_with("s390") {
            cpu
        } else {
            numa::cpu_core(host, cpu)?
        };
        cores_of.entry(socket).or_default().insert(core);
        let siblings = u32::try_from(numa::cpu_siblings(host, cpu)?.len()).unwrap_or(u32::MAX);
        if siblings == 0 {
            return Err(internal(ErrorDomain::None, "no threads found"));
        }
        threads = threads.max(siblings);
    }
    let cores = cores_of
        .values()
        .map(|c| u32::try_from(c.len()).unwrap_or(u32::MAX))
        .max()
        .unwrap_or(0);
    if tps > 0 {
        threads *= tps;
    }
    Ok(NodeCounts {
        processors,
        sockets: u32::try_from(sockets.len()).unwrap_or(u32::MAX),
        cores,
        threads,
    })
}

/// `virHostCPUGetInfoPopulateLinux`: the CPU counts from `cpuinfo` (the text of
/// `/proc/cpuinfo`) and the sysfs below `host`'s root, for a host of `arch`.
///
/// PowerPC's subcore mode needs the threads per subcore, which libvirt asks KVM for; this
/// counts without it (see [`cpu_counts_with_subcores`]).
pub fn cpu_counts(host: &Host, arch: &str, cpuinfo: &str) -> Result<CpuCounts, VirError> {
    cpu_counts_with_subcores(host, arch, cpuinfo, 0)
}

/// As [`cpu_counts`], for a POWER host whose KVM reports `threads_per_subcore` threads
/// per subcore (0: not in use). When it is in use and valid (no secondary thread online),
/// offline secondary threads of online primaries count as CPUs and the threads per core
/// are multiplied by it.
pub fn cpu_counts_with_subcores(
    host: &Host,
    arch: &str,
    cpuinfo: &str,
    threads_per_subcore: u32,
) -> Result<CpuCounts, VirError> {
    let mut out = CpuCounts {
        mhz: cpuinfo_mhz(cpuinfo, arch),
        ..CpuCounts::default()
    };
    let bitmap = |name: &str| -> Result<CpuSet, VirError> {
        let path = format!("{SYSTEM}/cpu/{name}");
        sysfs::read_bitmap(host, &path)?.ok_or_else(|| {
            sysfs::read_failed(&path, &std::io::Error::from(std::io::ErrorKind::NotFound))
        })
    };
    let present = bitmap("present")?;
    let online = bitmap("online")?;
    let mut offline = 0u32;

    let node_dir = format!("{SYSTEM}/node");
    let mut scan = Scan {
        arch,
        present: &present,
        online: &online,
        threads_per_subcore: 0,
    };
    if let Some(entries) = sysfs::read_dir(host, &node_dir)? {
        let valid = threads_per_subcore > 0 && online.iter().all(|c| c % threads_per_subcore == 0);
        scan.threads_per_subcore = if valid { threads_per_subcore } else { 0 };
        let mut names: Vec<&String> = entries
            .iter()
            .filter(|n| sysfs::numbered(n, "node").is_some())
            .collect();
        names.sort();
        for name in names {
            out.nodes += 1;
            let c = parse_node(host, &format!("{node_dir}/{name}"), &scan, &mut offline)?;
            out.cpus += c.processors;
            out.sockets = out.sockets.max(c.sockets);
            out.cores = out.cores.max(c.cores);
            out.threads = out.threads.max(c.threads);
        }
    }
    if out.cpus == 0 || out.nodes == 0 {
        let c = parse_node(host, &format!("{SYSTEM}/cpu"), &scan, &mut offline)?;
        out.nodes = 1;
        out.cpus = c.processors;
        out.sockets = c.sockets;
        out.cores = c.cores;
        out.threads = c.threads;
    }
    if out.cpus == 0 {
        return Err(internal(ErrorDomain::None, "no CPUs found"));
    }
    if out.sockets == 0 {
        return Err(internal(ErrorDomain::None, "no sockets found"));
    }
    if out.threads == 0 {
        return Err(internal(ErrorDomain::None, "no threads found"));
    }
    let total = u64::from(out.nodes)
        * u64::from(out.sockets)
        * u64::from(out.cores)
        * u64::from(out.threads);
    if total != u64::from(out.cpus + offline) {
        out.nodes = 1;
        out.sockets = 1;
        out.cores = out.cpus + offline;
        out.threads = 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frequency_lines() {
        assert_eq!(
            parse_mhz("cpu MHz\t\t: 2800.000\n", "cpu MHz"),
            Ok(Some(2800))
        );
        assert_eq!(parse_mhz("cpu MHz : 800", "cpu MHz"), Ok(Some(800)));
        assert_eq!(parse_mhz("cpu family\t: 6", "cpu MHz"), Ok(None));
        assert_eq!(parse_mhz("cpu MHz dynamic : 5000", "cpu MHz"), Ok(None));
        assert_eq!(parse_mhz("cpu MHz : x", "cpu MHz"), Err(()));
        assert_eq!(cpuinfo_mhz("cpu MHz : 1\ncpu MHz : 2\n", "x86_64"), 2);
        assert_eq!(cpuinfo_mhz("cpu MHz : 1\n", "aarch64"), 0);
    }
}
