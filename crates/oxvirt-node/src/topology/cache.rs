//! The host's CPU cache banks with resctrl's allocation controls and monitors
//! (`virCapabilitiesInitCaches`, `virResctrlInfoNew`), and the memory bandwidth
//! controllers that go with the last level cache.

use oxvirt_xml::types::cpuset::CpuSet;
use oxvirt_xml::{ErrorDomain, VirError};

use super::sysfs::{self, internal, SYSTEM};
use crate::Host;

const RESCTRL: &str = "/sys/fs/resctrl";

/// The lowest cache level libvirt reports.
const MIN_LEVEL: u32 = 3;

/// A cache's kind (`virCacheType`): unified, instruction or data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum CacheType {
    /// `both` (kernel `Unified`, resctrl `L3`).
    #[default]
    Both,
    /// `code` (kernel `Instruction`, resctrl `L3CODE`).
    Code,
    /// `data` (kernel `Data`, resctrl `L3DATA`).
    Data,
}

impl CacheType {
    /// The XML name.
    pub fn as_str(self) -> &'static str {
        match self {
            CacheType::Both => "both",
            CacheType::Code => "code",
            CacheType::Data => "data",
        }
    }

    fn from_kernel(s: &str) -> Option<CacheType> {
        match s {
            "Unified" => Some(CacheType::Both),
            "Instruction" => Some(CacheType::Code),
            "Data" => Some(CacheType::Data),
            _ => None,
        }
    }

    fn from_resctrl(s: &str) -> Option<CacheType> {
        match s {
            "" => Some(CacheType::Both),
            "CODE" => Some(CacheType::Code),
            "DATA" => Some(CacheType::Data),
            _ => None,
        }
    }
}

/// `<cache>`: the banks, then the cache monitor.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostCache {
    /// `<bank>`s, by level then id.
    pub banks: Vec<CacheBank>,
    /// `<monitor level= reuseThreshold= maxMonitors=>` (CMT).
    pub monitor: Option<ResctrlMonitor>,
}

/// One `<bank>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheBank {
    /// `id`.
    pub id: u32,
    /// `level`.
    pub level: u32,
    /// `type`.
    pub kind: CacheType,
    /// The size in bytes (written in the largest unit that divides it).
    pub size: u64,
    /// `cpus`.
    pub cpus: CpuSet,
    /// `<control>`s, one per resctrl type of this level.
    pub controls: Vec<CacheControl>,
}

/// A bank's `<control>`: what resctrl can allocate of it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheControl {
    /// Allocation granularity in bytes.
    pub granularity: u64,
    /// Smallest allocation in bytes (0: not written).
    pub min: u64,
    /// `type`: which part of the cache the control allocates.
    pub scope: CacheType,
    /// `maxAllocs`.
    pub max_allocs: u32,
}

/// A resctrl `<monitor>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResctrlMonitor {
    /// (`level`, `reuseThreshold`): written for the cache monitor only.
    pub cache: Option<(u32, u32)>,
    /// `maxMonitors`.
    pub max_monitors: u32,
    /// `<feature name=...>`s.
    pub features: Vec<String>,
}

/// `<memory_bandwidth>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryBandwidth {
    /// `<node>`s, one per last level cache bank.
    pub nodes: Vec<MemBwNode>,
    /// `<monitor maxMonitors=>` (MBM).
    pub monitor: Option<ResctrlMonitor>,
}

/// One `<node>` of `<memory_bandwidth>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemBwNode {
    /// `id` (the cache bank's).
    pub id: u32,
    /// `cpus`.
    pub cpus: CpuSet,
    /// `granularity` (percent).
    pub granularity: u32,
    /// `min` (percent).
    pub min: u32,
    /// `maxAllocs`.
    pub max_allocs: u32,
}

/// One resctrl cache type of one level.
#[derive(Debug, Clone, Default)]
struct ResctrlType {
    min_cbm_bits: u32,
    bits: u32,
    size: u64,
    control: CacheControl,
}

#[derive(Debug, Clone, Default)]
struct MemBwInfo {
    granularity: u32,
    min: u32,
    max_allocs: u32,
    last_level: u32,
}

#[derive(Debug, Clone, Default)]
struct MonitorInfo {
    max_monitors: u32,
    reuse_threshold: u32,
    features: Vec<String>,
}

/// What `/sys/fs/resctrl/info` says (`virResctrlInfo`).
#[derive(Debug, Clone, Default)]
struct Resctrl {
    /// (level, type) → info, in discovery order.
    types: Vec<(u32, CacheType, ResctrlType)>,
    membw: Option<MemBwInfo>,
    monitor: Option<MonitorInfo>,
}

fn must<T>(v: Option<T>, what: &str) -> Result<T, VirError> {
    v.ok_or_else(|| internal(ErrorDomain::Resctrl, what))
}

fn as_u32(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

impl Resctrl {
    fn read(host: &Host) -> Result<Resctrl, VirError> {
        let mut info = Resctrl::default();
        let Some(entries) = sysfs::read_dir(host, &format!("{RESCTRL}/info"))? else {
            return Ok(info);
        };
        // Memory bandwidth allocation.
        if let Some(gran) = sysfs::read_uint(host, &format!("{RESCTRL}/info/MB/bandwidth_gran"))? {
            let min = must(
                sysfs::read_uint(host, &format!("{RESCTRL}/info/MB/min_bandwidth"))?,
                "Cannot get min bandwidth from resctrl memory info",
            )?;
            let max = must(
                sysfs::read_uint(host, &format!("{RESCTRL}/info/MB/num_closids"))?,
                "Cannot get max allocation from resctrl memory info",
            )?;
            info.membw = Some(MemBwInfo {
                granularity: as_u32(gran),
                min: as_u32(min),
                max_allocs: as_u32(max),
                last_level: 0,
            });
        }
        // Cache allocation, per `L<level><type>` directory.
        let mut entries = entries;
        entries.sort();
        for name in entries {
            let Some(rest) = name.strip_prefix('L') else {
                continue;
            };
            let digits = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            let Ok(level) = rest[..digits].parse::<u32>() else {
                continue;
            };
            let Some(kind) = CacheType::from_resctrl(&rest[digits..]) else {
                continue;
            };
            let dir = format!("{RESCTRL}/info/{name}");
            let max_allocs = sysfs::read_uint(host, &format!("{dir}/num_closids"))?.unwrap_or(0);
            let mask = must(
                sysfs::read_string(host, &format!("{dir}/cbm_mask"))?,
                "Cannot get cbm_mask from resctrl cache info",
            )?;
            let bits = count_hex_bits(mask.trim()).ok_or_else(|| {
                internal(
                    ErrorDomain::Resctrl,
                    "Cannot parse cbm_mask from resctrl cache info",
                )
            })?;
            let min_cbm_bits = must(
                sysfs::read_uint(host, &format!("{dir}/min_cbm_bits"))?,
                "Cannot get min_cbm_bits from resctrl cache info",
            )?;
            if info.types.iter().any(|(l, k, _)| *l == level && *k == kind) {
                return Err(internal(
                    ErrorDomain::Resctrl,
                    format!("Duplicate cache type in resctrl for level {level}"),
                ));
            }
            info.types.push((
                level,
                kind,
                ResctrlType {
                    min_cbm_bits: as_u32(min_cbm_bits),
                    bits,
                    size: 0,
                    control: CacheControl {
                        scope: kind,
                        max_allocs: as_u32(max_allocs),
                        ..CacheControl::default()
                    },
                },
            ));
        }
        info.types.sort_by_key(|(level, kind, _)| (*level, *kind));
        // Monitoring.
        let mon = format!("{RESCTRL}/info/L3_MON");
        if let Some(max) = sysfs::read_uint(host, &format!("{mon}/num_rmids"))? {
            let reuse = sysfs::read_uint(host, &format!("{mon}/max_threshold_occupancy"))?;
            let features = must(
                sysfs::read_string(host, &format!("{mon}/mon_features"))?,
                "Cannot get mon_features from resctrl",
            )?;
            if features.is_empty() {
                return Err(internal(
                    ErrorDomain::Resctrl,
                    "Get empty feature list from resctrl",
                ));
            }
            info.monitor = Some(MonitorInfo {
                max_monitors: as_u32(max),
                reuse_threshold: as_u32(reuse.unwrap_or(0)),
                features: features.split('\n').map(str::to_string).collect(),
            });
        }
        Ok(info)
    }

    fn is_empty(&self) -> bool {
        self.membw.is_none() && self.monitor.is_none() && self.types.is_empty()
    }

    /// `virResctrlInfoGetCache`: the controls of a newly found bank of `level` and
    /// `size`, noting the last level cache for memory bandwidth on the way.
    fn cache_controls(&mut self, level: u32, size: u64) -> Result<Vec<CacheControl>, VirError> {
        if self.is_empty() {
            return Ok(Vec::new());
        }
        if let Some(membw) = &mut self.membw {
            if level > membw.last_level {
                membw.last_level = level;
            }
        }
        let mut controls = Vec::new();
        for (l, _, t) in self.types.iter_mut().filter(|(l, _, _)| *l == level) {
            if t.size == 0 {
                t.size = size;
                t.control.granularity = size / u64::from(t.bits.max(1));
                if t.min_cbm_bits != 1 {
                    t.control.min = u64::from(t.min_cbm_bits) * t.control.granularity;
                }
            } else if t.size != size {
                return Err(internal(
                    ErrorDomain::Resctrl,
                    format!(
                        "level {l} cache size {size} does not match expected size {}",
                        t.size
                    ),
                ));
            }
            controls.push(t.control);
        }
        Ok(controls)
    }

    /// `virResctrlInfoGetMonitorPrefix`: the monitor whose features start with `prefix`.
    fn monitor(&self, prefix: &str) -> Option<ResctrlMonitor> {
        if self.is_empty() {
            return None;
        }
        let info = self.monitor.as_ref()?;
        let features: Vec<String> = info
            .features
            .iter()
            .filter(|f| f.starts_with(prefix))
            .cloned()
            .collect();
        if features.is_empty() {
            return None;
        }
        Some(ResctrlMonitor {
            cache: (prefix == "llc_").then_some((3, info.reuse_threshold)),
            max_monitors: info.max_monitors,
            features,
        })
    }
}

/// The number of set bits of a hex mask (`virBitmapNewString`).
fn count_hex_bits(mask: &str) -> Option<u32> {
    if mask.is_empty() {
        return None;
    }
    mask.chars()
        .try_fold(0u32, |n, c| c.to_digit(16).map(|d| n + d.count_ones()))
}

/// `virCapabilitiesInitCaches`: the level 3+ cache banks of the online CPUs, their
/// resctrl controls, the memory bandwidth nodes and the monitors.
pub(crate) fn read_caches(host: &Host) -> Result<(HostCache, MemoryBandwidth), VirError> {
    let mut resctrl = Resctrl::read(host)?;
    let online = sysfs::read_bitmap(host, &format!("{SYSTEM}/cpu/online"))?.ok_or_else(|| {
        sysfs::read_failed(
            &format!("{SYSTEM}/cpu/online"),
            &std::io::Error::from(std::io::ErrorKind::NotFound),
        )
    })?;
    let mut banks: Vec<CacheBank> = Vec::new();
    for cpu in online.iter() {
        let dir = format!("{SYSTEM}/cpu/cpu{cpu}/cache");
        let Some(mut entries) = sysfs::read_dir(host, &dir)? else {
            continue;
        };
        entries.sort();
        for name in entries.iter().filter(|n| n.starts_with("index")) {
            let sub = format!("{dir}/{name}");
            let value = |file: &str| -> Result<u64, VirError> {
                let path = format!("{sub}/{file}");
                sysfs::read_uint(host, &path)?
                    .ok_or_else(|| sysfs::read_failed(&path, &not_found()))
            };
            let level = as_u32(value("level")?);
            if level < MIN_LEVEL {
                continue;
            }
            let id = as_u32(value("id")?);
            let type_path = format!("{sub}/type");
            let kind_name = sysfs::read_string(host, &type_path)?
                .ok_or_else(|| sysfs::read_failed(&type_path, &not_found()))?;
            let size_path = format!("{sub}/size");
            let size = sysfs::read_scaled(host, &size_path)?
                .ok_or_else(|| sysfs::read_failed(&size_path, &not_found()))?;
            let cpus_path = format!("{sub}/shared_cpu_list");
            let cpus = sysfs::read_bitmap(host, &cpus_path)?
                .ok_or_else(|| sysfs::read_failed(&cpus_path, &not_found()))?;
            let kind = CacheType::from_kernel(&kind_name).ok_or_else(|| {
                internal(
                    ErrorDomain::Capabilities,
                    format!("Unknown cache type '{kind_name}'"),
                )
            })?;
            let bank = CacheBank {
                id,
                level,
                kind,
                size,
                cpus,
                controls: Vec::new(),
            };
            let known = banks.iter().any(|b| {
                b.id == bank.id
                    && b.level == bank.level
                    && b.kind == bank.kind
                    && b.size == bank.size
                    && b.cpus == bank.cpus
            });
            if !known {
                let controls = resctrl.cache_controls(level, size)?;
                banks.push(CacheBank { controls, ..bank });
            }
        }
    }
    banks.sort_by_key(|b| (b.level, b.id));

    let mut membw = MemoryBandwidth::default();
    if let Some(info) = &resctrl.membw {
        for bank in banks.iter().filter(|b| b.level == info.last_level) {
            membw.nodes.push(MemBwNode {
                id: bank.id,
                cpus: bank.cpus.clone(),
                granularity: info.granularity,
                min: info.min,
                max_allocs: info.max_allocs,
            });
        }
    }
    membw.monitor = resctrl.monitor("mbm_");
    let cache = HostCache {
        banks,
        monitor: resctrl.monitor("llc_"),
    };
    Ok((cache, membw))
}

fn not_found() -> std::io::Error {
    std::io::Error::from(std::io::ErrorKind::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_bits() {
        assert_eq!(count_hex_bits("fffff"), Some(20));
        assert_eq!(count_hex_bits("7ff"), Some(11));
        assert_eq!(count_hex_bits("xyz"), None);
    }
}
