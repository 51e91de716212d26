//! Node CPU and memory statistics (`virNodeGetCPUStats`, `virNodeGetMemoryStats`), read
//! from `/proc/stat`, `/proc/meminfo` and a NUMA cell's `meminfo` as libvirt's
//! `virHostCPUGetStatsLinux` and `virHostMemGetStats` read them.

use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use crate::Host;

/// `VIR_NODE_CPU_STATS_ALL_CPUS`: the whole host's CPU time.
pub const ALL_CPUS: i32 = -1;

/// `VIR_NODE_MEMORY_STATS_ALL_CELLS`: the whole host's memory.
pub const ALL_CELLS: i32 = -1;

/// Nanoseconds per clock tick: `/proc/stat` counts in `USER_HZ` ticks, which Linux fixes
/// at 100 per second for userspace on every architecture libvirt supports (libvirt asks
/// `sysconf(_SC_CLK_TCK)`, which answers the same).
pub const TICK_NS: u64 = 1_000_000_000 / 100;

/// How many fields [`cpu_stats`] gives (libvirt's `LINUX_NB_CPU_STATS`): the answer to a
/// `virNodeGetCPUStats` call asking how many there are (`nparams` 0).
pub const CPU_STATS_COUNT: i32 = 4;

/// libvirt's check of a caller's `nparams` for CPU statistics (made after `/proc/stat`
/// opened): anything but [`CPU_STATS_COUNT`] is `VIR_ERR_INVALID_ARG` "nparams in
/// virHostCPUGetStatsLinux must be equal to 4".
pub fn check_cpu_nparams(nparams: i32) -> Result<(), VirError> {
    if nparams == CPU_STATS_COUNT {
        return Ok(());
    }
    Err(VirError::raw(
        ErrorDomain::None,
        ErrorCode::InvalidArg,
        format!("nparams in virHostCPUGetStatsLinux must be equal to {CPU_STATS_COUNT}"),
    ))
}

/// How many fields [`memory_stats`] gives for `cell`: 4 for the whole host (which cell 0
/// is without NUMA), 2 for a cell.
pub fn memory_stats_count(host: &Host, cell: i32) -> i32 {
    if cell == ALL_CELLS || (cell == 0 && !crate::memory::numa_available(host)) {
        4
    } else {
        2
    }
}

/// libvirt's check of a caller's `nparams` for memory statistics (made after the cell was
/// validated and its file opened): anything but [`memory_stats_count`] is
/// `VIR_ERR_INVALID_ARG` "nparams in virHostMemGetStatsLinux must be N".
pub fn check_memory_nparams(host: &Host, cell: i32, nparams: i32) -> Result<(), VirError> {
    let want = memory_stats_count(host, cell);
    if nparams == want {
        return Ok(());
    }
    Err(VirError::raw(
        ErrorDomain::None,
        ErrorCode::InvalidArg,
        format!("nparams in virHostMemGetStatsLinux must be {want}"),
    ))
}

/// `virNodeGetCPUStats`: `kernel`, `user`, `idle` and `iowait` time in nanoseconds, in
/// that order, for CPU `cpu` or the whole host ([`ALL_CPUS`]).
///
/// As libvirt: `kernel` is system + irq + softirq, `user` is user + nice; a CPU with no
/// `cpuN` line fails with `VIR_ERR_INVALID_ARG` "Invalid cpuNum in
/// virHostCPUGetStatsLinux"; an unreadable `/proc/stat` with a system error.
pub fn cpu_stats(host: &Host, cpu: i32) -> Result<Vec<(String, u64)>, VirError> {
    let text = host
        .read("/proc/stat")
        .map_err(|e| system_error(&format!("cannot open {}", "/proc/stat"), &e))?;
    cpu_stats_from(&text, cpu)
}

/// [`cpu_stats`] from the text of `/proc/stat`.
pub fn cpu_stats_from(procstat: &str, cpu: i32) -> Result<Vec<(String, u64)>, VirError> {
    let header = if cpu == ALL_CPUS {
        "cpu ".to_string()
    } else {
        format!("cpu{cpu} ")
    };
    for line in procstat.lines() {
        if !line.starts_with(&header) {
            continue;
        }
        // sscanf semantics: the leading numbers up to the first that does not parse.
        let nums: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .map_while(|w| w.parse::<u64>().ok())
            .take(10)
            .collect();
        if nums.len() < 4 {
            continue;
        }
        let at = |i: usize| nums.get(i).copied().unwrap_or(0);
        let (usr, ni, sys, idle, iowait) = (at(0), at(1), at(2), at(3), at(4));
        let (irq, softirq) = (at(5), at(6));
        let ns = |ticks: u64| ticks.wrapping_mul(TICK_NS);
        return Ok(vec![
            ("kernel".to_string(), ns(sys + irq + softirq)),
            ("user".to_string(), ns(usr + ni)),
            ("idle".to_string(), ns(idle)),
            ("iowait".to_string(), ns(iowait)),
        ]);
    }
    Err(VirError::raw(
        ErrorDomain::None,
        ErrorCode::InvalidArg,
        "Invalid cpuNum in virHostCPUGetStatsLinux",
    ))
}

/// `virNodeGetMemoryStats`: in KiB, `total`, `free`, `buffers` and `cached` for the whole
/// host ([`ALL_CELLS`], from `/proc/meminfo`), or `total` and `free` for NUMA cell `cell`
/// (from `/sys/devices/system/node/nodeN/meminfo`), in the order the file lists them.
///
/// As libvirt: without NUMA (no `/sys/devices/system/node`), cell 0 means the whole host;
/// a cell above the highest node fails with `VIR_ERR_INVALID_ARG` "cellNum in
/// virHostMemGetStats must be less than or equal to N"; a file that cannot be opened with a
/// system error "cannot open PATH: ..."; a file without any of the fields with
/// "internal error: no available memory line found".
pub fn memory_stats(host: &Host, cell: i32) -> Result<Vec<(String, u64)>, VirError> {
    let numa = crate::memory::numa_available(host);
    let cell = if !numa && cell == 0 { ALL_CELLS } else { cell };
    let path = if cell == ALL_CELLS {
        "/proc/meminfo".to_string()
    } else {
        let max = crate::memory::max_node(host)?;
        if cell > max as i32 {
            return Err(VirError::raw(
                ErrorDomain::None,
                ErrorCode::InvalidArg,
                format!("cellNum in virHostMemGetStats must be less than or equal to {max}"),
            ));
        }
        format!("/sys/devices/system/node/node{cell}/meminfo")
    };
    let text = host
        .read(&path)
        .map_err(|e| system_error(&format!("cannot open {path}"), &e))?;
    memory_stats_from(&text, cell == ALL_CELLS)
}

/// [`memory_stats`] from the text of a `meminfo` file (`whole`: the host's, with four
/// fields; else a cell's, with two).
pub fn memory_stats_from(meminfo: &str, whole: bool) -> Result<Vec<(String, u64)>, VirError> {
    const FIELDS: [(&str, &str); 4] = [
        ("MemTotal:", "total"),
        ("MemFree:", "free"),
        ("Buffers:", "buffers"),
        ("Cached:", "cached"),
    ];
    let wanted = if whole { 4 } else { 2 };
    let mut out = Vec::new();
    for line in meminfo.lines() {
        let mut rest = line;
        if line.starts_with("Node ") {
            // "Node N MemTotal: ..." loses its first two words.
            let mut it = line.splitn(3, ' ');
            it.next();
            it.next();
            match it.next() {
                Some(r) => rest = r,
                None => {
                    return Err(VirError::new(
                        ErrorDomain::None,
                        ErrorCode::InternalError,
                        "no prefix found",
                    ))
                }
            }
        }
        let mut words = rest.split_whitespace();
        let (Some(name), Some(value)) = (words.next(), words.next()) else {
            continue;
        };
        let Some(value) = leading_u64(value) else {
            continue;
        };
        if let Some((_, field)) = FIELDS.iter().find(|(h, _)| *h == name) {
            out.push((field.to_string(), value));
            if out.len() >= wanted {
                break;
            }
        }
    }
    if out.is_empty() {
        return Err(VirError::new(
            ErrorDomain::None,
            ErrorCode::InternalError,
            "no available memory line found",
        ));
    }
    Ok(out)
}

/// The leading decimal digits of `s` as a number (`strtoul`-like; `None` without digits).
pub(crate) fn leading_u64(s: &str) -> Option<u64> {
    let digits: String = s.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

/// libvirt's `virReportSystemError`: `what: strerror(errno)`.
pub(crate) fn system_error(what: &str, e: &std::io::Error) -> VirError {
    VirError::new(
        ErrorDomain::None,
        ErrorCode::SystemError,
        format!("{what}: {}", strerror(e)),
    )
}

/// The C library's text for an I/O error (Rust's, without " (os error N)").
pub(crate) fn strerror(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "cpu  10 1 20 300 4 5 6 0 0 0\ncpu0 5 0 10 150 2 2 3 0 0 0\ncpu1 5 1 10 150 2 3 3\nintr 1 2\n";

    #[test]
    fn cpu_fields_are_summed_as_libvirt() {
        let all = cpu_stats_from(STAT, ALL_CPUS).unwrap();
        assert_eq!(
            all,
            vec![
                ("kernel".to_string(), 31 * TICK_NS),
                ("user".to_string(), 11 * TICK_NS),
                ("idle".to_string(), 300 * TICK_NS),
                ("iowait".to_string(), 4 * TICK_NS),
            ]
        );
        assert_eq!(cpu_stats_from(STAT, 1).unwrap()[0].1, 16 * TICK_NS);
        let e = cpu_stats_from(STAT, 2).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidArg);
        assert_eq!(e.message, "Invalid cpuNum in virHostCPUGetStatsLinux");
        // "cpu1" must not answer for CPU 10's header.
        assert!(cpu_stats_from(STAT, 10).is_err());
    }

    #[test]
    fn nparams_checks() {
        assert!(check_cpu_nparams(4).is_ok());
        let e = check_cpu_nparams(3).unwrap_err();
        assert_eq!(
            e.message,
            "nparams in virHostCPUGetStatsLinux must be equal to 4"
        );
        let h = Host::new("/nonexistent");
        assert_eq!(memory_stats_count(&h, 0), 4);
        assert_eq!(memory_stats_count(&h, 1), 2);
        let e = check_memory_nparams(&h, ALL_CELLS, 2).unwrap_err();
        assert_eq!(e.message, "nparams in virHostMemGetStatsLinux must be 4");
    }

    #[test]
    fn memory_fields() {
        let whole = "MemTotal:  100 kB\nMemFree:  50 kB\nMemAvailable: 70 kB\nBuffers: 3 kB\nCached: 9 kB\nSwapCached: 1 kB\n";
        let got = memory_stats_from(whole, true).unwrap();
        let names: Vec<_> = got.iter().map(|(n, v)| format!("{n}={v}")).collect();
        assert_eq!(names, ["total=100", "free=50", "buffers=3", "cached=9"]);
        let cell = "Node 0 MemTotal:  100 kB\nNode 0 MemFree:  40 kB\nNode 0 MemUsed: 60 kB\n";
        let got = memory_stats_from(cell, false).unwrap();
        assert_eq!(got, vec![("total".into(), 100), ("free".into(), 40)]);
        let e = memory_stats_from("Nothing: 1 kB\n", true).unwrap_err();
        assert_eq!(e.message, "internal error: no available memory line found");
    }
}
