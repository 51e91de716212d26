//! The capabilities XML (`virConnectGetCapabilities`): the model and its formatting.
//!
//! The host part comes from this crate's discovery ([`crate::topology`],
//! [`crate::hostcpu`]); the `<guest>` entries from the hypervisor driver's probing
//! ([`guest`]).

pub mod guest;

use std::fmt::Write as _;

use oxvirt_xml::writer::escape_into;
use oxvirt_xml::VirError;

use crate::hostcpu::HostCpu;
use crate::topology::{HostCache, MemoryBandwidth, ResctrlMonitor, Topology};
use crate::Host;

pub use guest::Guest;

/// `<capabilities>`.
#[derive(Debug, Clone, Default)]
pub struct Capabilities {
    /// `<host>`.
    pub host: HostCaps,
    /// One `<guest>` per OS type, architecture and emulator.
    pub guests: Vec<Guest>,
}

/// `<host>`.
#[derive(Debug, Clone, Default)]
pub struct HostCaps {
    /// `<uuid>`: the host's SMBIOS UUID (or a stable substitute); omitted when `None`.
    pub uuid: Option<String>,
    /// `<cpu>`.
    pub cpu: HostCpu,
    /// `<power_management>`: the suspend targets the host supports (`suspend_mem`,
    /// `suspend_disk`, `suspend_hybrid`), in that order; empty writes `<power_management/>`.
    pub power_management: Vec<String>,
    /// `<iommu support='yes|no'/>`: always written, `no` unless `Some(true)`.
    pub iommu: Option<bool>,
    /// `<migration_features>` (libvirt's "offline migration" flag); `None` omits it.
    pub migration: Option<MigrationFeatures>,
    /// `<netprefix>`; omitted when `None`.
    pub netprefix: Option<String>,
    /// `<topology>`, `<cache>` and `<memory_bandwidth>` (each omitted when empty).
    pub topology: Option<Topology>,
    /// `<secmodel>` entries, in order.
    pub secmodels: Vec<SecModel>,
}

/// `<migration_features>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationFeatures {
    /// `<live/>`.
    pub live: bool,
    /// `<uri_transports>` (`tcp`, `rdma`); omitted when empty.
    pub uri_transports: Vec<String>,
}

/// `<secmodel>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecModel {
    /// `<model>` (`none`, `dac`, `selinux`, `apparmor`).
    pub model: String,
    /// `<doi>`.
    pub doi: String,
    /// `<baselabel type=...>label</baselabel>`, in order: (virt type, label).
    pub baselabels: Vec<(String, String)>,
}

impl Capabilities {
    /// The whole `<capabilities>` document as libvirt 9.0 writes it
    /// (`virCapabilitiesFormatXML`): the host, a blank line, each guest followed by a
    /// blank line.
    pub fn to_xml(&self) -> String {
        let mut out = String::from("<capabilities>\n\n");
        self.host.write_xml(&mut out);
        for guest in &self.guests {
            guest.write_xml(&mut out);
            out.push('\n');
        }
        out.push_str("</capabilities>\n");
        out
    }
}

/// Appends `depth` levels of indentation, then `text`, then a newline.
fn line(out: &mut String, depth: usize, text: &str) {
    for _ in 0..depth {
        out.push_str("  ");
    }
    out.push_str(text);
    out.push('\n');
}

/// Appends `<name>escaped text</name>` on its own line.
fn text_element(out: &mut String, depth: usize, name: &str, text: &str) {
    for _ in 0..depth {
        out.push_str("  ");
    }
    let _ = write!(out, "<{name}>");
    escape_into(out, text);
    let _ = writeln!(out, "</{name}>");
}

impl HostCaps {
    /// The host part as libvirt's QEMU driver builds it (`virQEMUCapsInit` /
    /// `virCapabilitiesNew(arch, true, true)`): the SMBIOS UUID, the host CPU with the node
    /// info's topology, the IOMMU, live migration over `tcp` and `rdma`, the topology,
    /// caches and memory bandwidth. Power management and security models are the
    /// caller's to fill (they need a command runner and the security drivers).
    pub fn read(host: &Host) -> Result<HostCaps, VirError> {
        let info = crate::nodeinfo::node_info(host)?;
        let cpu = HostCpu::probe(host).with_topology(Some(
            crate::hostcpu::CpuTopology::from_node_info(info.sockets, info.cores, info.threads),
        ));
        Ok(HostCaps {
            uuid: crate::hostcpu::host_uuid(host),
            cpu,
            power_management: Vec::new(),
            iommu: Some(crate::hostcpu::iommu_support(host)),
            migration: Some(MigrationFeatures {
                live: true,
                uri_transports: vec!["tcp".to_string(), "rdma".to_string()],
            }),
            netprefix: None,
            topology: Some(Topology::read(host)?),
            secmodels: Vec::new(),
        })
    }

    /// Appends `  <host>...</host>` and the blank line after it
    /// (`virCapabilitiesFormatHostXML`).
    /// Like libvirt, writes nothing when the host has no UUID, architecture, power
    /// management or IOMMU to show.
    pub fn write_xml(&self, out: &mut String) {
        if self.uuid.is_none()
            && self.cpu.arch.is_empty()
            && self.power_management.is_empty()
            && self.iommu != Some(true)
        {
            return;
        }
        line(out, 1, "<host>");
        if let Some(uuid) = &self.uuid {
            text_element(out, 2, "uuid", uuid);
        }
        self.cpu.write_xml(out, 2);
        if self.power_management.is_empty() {
            line(out, 2, "<power_management/>");
        } else {
            line(out, 2, "<power_management>");
            for target in &self.power_management {
                line(out, 3, &format!("<{target}/>"));
            }
            line(out, 2, "</power_management>");
        }
        let iommu = if self.iommu == Some(true) {
            "yes"
        } else {
            "no"
        };
        line(out, 2, &format!("<iommu support='{iommu}'/>"));
        if let Some(migration) = &self.migration {
            line(out, 2, "<migration_features>");
            if migration.live {
                line(out, 3, "<live/>");
            }
            if !migration.uri_transports.is_empty() {
                line(out, 3, "<uri_transports>");
                for t in &migration.uri_transports {
                    text_element(out, 4, "uri_transport", t);
                }
                line(out, 3, "</uri_transports>");
            }
            line(out, 2, "</migration_features>");
        }
        if let Some(prefix) = &self.netprefix {
            text_element(out, 2, "netprefix", prefix);
        }
        if let Some(topology) = &self.topology {
            write_topology(out, topology);
            write_cache(out, &topology.cache);
            write_memory_bandwidth(out, &topology.memory_bandwidth);
        }
        for sec in &self.secmodels {
            line(out, 2, "<secmodel>");
            text_element(out, 3, "model", &sec.model);
            text_element(out, 3, "doi", &sec.doi);
            for (virt, label) in &sec.baselabels {
                let mut s = String::from("<baselabel type='");
                escape_into(&mut s, virt);
                s.push_str("'>");
                escape_into(&mut s, label);
                s.push_str("</baselabel>");
                line(out, 3, &s);
            }
            line(out, 2, "</secmodel>");
        }
        line(out, 1, "</host>");
        out.push('\n');
    }
}

impl HostCpu {
    /// Appends `<cpu>...</cpu>` at `depth` as the capabilities' host CPU
    /// (`virCPUDefFormatBuf` for a host CPU, then the page sizes).
    pub fn write_xml(&self, out: &mut String, depth: usize) {
        let d = depth + 1;
        line(out, depth, "<cpu>");
        if !self.arch.is_empty() {
            text_element(out, d, "arch", &self.arch);
        }
        if let Some(model) = &self.model {
            text_element(out, d, "model", model);
        }
        if let Some(vendor) = &self.vendor {
            text_element(out, d, "vendor", vendor);
        }
        if let Some(version) = &self.microcode {
            line(out, d, &format!("<microcode version='{version}'/>"));
        }
        if let Some((family, model, stepping)) = self.signature {
            line(
                out,
                d,
                &format!("<signature family='{family}' model='{model}' stepping='{stepping}'/>"),
            );
        }
        if let Some((frequency, scaling)) = &self.tsc {
            let scaling = if scaling.is_empty() {
                String::new()
            } else {
                format!(" scaling='{scaling}'")
            };
            line(
                out,
                d,
                &format!("<counter name='tsc' frequency='{frequency}'{scaling}/>"),
            );
        }
        if let Some(t) = self.topology {
            if t.sockets != 0 && t.dies != 0 && t.cores != 0 && t.threads != 0 {
                line(
                    out,
                    d,
                    &format!(
                        "<topology sockets='{}' dies='{}' cores='{}' threads='{}'/>",
                        t.sockets, t.dies, t.cores, t.threads
                    ),
                );
            }
        }
        if let Some((mode, bits)) = &self.maxphysaddr {
            line(
                out,
                d,
                &format!("<maxphysaddr mode='{mode}' bits='{bits}'/>"),
            );
        }
        for feature in &self.features {
            line(out, d, &format!("<feature name='{feature}'/>"));
        }
        for size in &self.pages {
            line(out, d, &format!("<pages unit='KiB' size='{size}'/>"));
        }
        line(out, depth, "</cpu>");
    }
}

/// `<topology>` (`virCapabilitiesHostNUMAFormat`); nothing without cells.
fn write_topology(out: &mut String, topology: &Topology) {
    if topology.cells.is_empty() {
        return;
    }
    line(out, 2, "<topology>");
    line(out, 3, &format!("<cells num='{}'>", topology.cells.len()));
    for cell in &topology.cells {
        line(out, 4, &format!("<cell id='{}'>", cell.id));
        if cell.memory_kib != 0 {
            line(
                out,
                5,
                &format!("<memory unit='KiB'>{}</memory>", cell.memory_kib),
            );
        }
        for (size, count) in &cell.pages {
            line(
                out,
                5,
                &format!("<pages unit='KiB' size='{size}'>{count}</pages>"),
            );
        }
        let distances: Vec<_> = cell.distances.iter().filter(|(_, v)| *v != 0).collect();
        if !distances.is_empty() {
            line(out, 5, "<distances>");
            for (id, value) in distances {
                line(out, 6, &format!("<sibling id='{id}' value='{value}'/>"));
            }
            line(out, 5, "</distances>");
        }
        for cache in &cell.caches {
            line(
                out,
                5,
                &format!(
                    "<cache level='{}' associativity='{}' policy='{}'>",
                    cache.level, cache.associativity, cache.policy
                ),
            );
            line(
                out,
                6,
                &format!("<size value='{}' unit='KiB'/>", cache.size_kib),
            );
            if cache.line != 0 {
                line(out, 6, &format!("<line value='{}' unit='B'/>", cache.line));
            }
            line(out, 5, "</cache>");
        }
        if cell.cpus.is_empty() {
            line(out, 5, "<cpus num='0'/>");
        } else {
            line(out, 5, &format!("<cpus num='{}'>", cell.cpus.len()));
            for cpu in &cell.cpus {
                line(
                    out,
                    6,
                    &format!(
                        "<cpu id='{}' socket_id='{}' die_id='{}' core_id='{}' siblings='{}'/>",
                        cpu.id, cpu.socket_id, cpu.die_id, cpu.core_id, cpu.siblings
                    ),
                );
            }
            line(out, 5, "</cpus>");
        }
        line(out, 4, "</cell>");
    }
    line(out, 3, "</cells>");
    if !topology.interconnects.is_empty() {
        line(out, 3, "<interconnects>");
        for ic in &topology.interconnects {
            let (name, unit) = match ic.kind {
                crate::topology::InterconnectKind::Latency => ("latency", ""),
                crate::topology::InterconnectKind::Bandwidth => ("bandwidth", " unit='KiB'"),
            };
            let cache = if ic.cache > 0 {
                format!(" cache='{}'", ic.cache)
            } else {
                String::new()
            };
            line(
                out,
                4,
                &format!(
                    "<{name} initiator='{}' target='{}'{cache} type='{}' value='{}'{unit}/>",
                    ic.initiator,
                    ic.target,
                    ic.access.as_str(),
                    ic.value
                ),
            );
        }
        line(out, 3, "</interconnects>");
    }
    line(out, 2, "</topology>");
}

/// libvirt's `virFormatIntPretty`: `bytes` in the largest unit (up to PiB) that divides
/// it exactly.
fn pretty(bytes: u64) -> (u64, &'static str) {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes == 0 || bytes % 1024 != 0 {
        return (bytes, "B");
    }
    let mut value = bytes / 1024;
    for (i, unit) in UNITS.iter().enumerate() {
        if value % 1024 != 0 || i == UNITS.len() - 1 {
            return (value, unit);
        }
        value /= 1024;
    }
    (value, "PiB")
}

/// A resctrl `<monitor>` (`virCapabilitiesFormatResctrlMonitor`).
fn write_monitor(out: &mut String, monitor: &Option<ResctrlMonitor>) {
    let Some(monitor) = monitor else {
        return;
    };
    if monitor.features.is_empty() {
        return;
    }
    let cache = match monitor.cache {
        Some((level, reuse)) => format!("level='{level}' reuseThreshold='{reuse}' "),
        None => String::new(),
    };
    line(
        out,
        3,
        &format!("<monitor {cache}maxMonitors='{}'>", monitor.max_monitors),
    );
    for feature in &monitor.features {
        line(out, 4, &format!("<feature name='{feature}'/>"));
    }
    line(out, 3, "</monitor>");
}

/// `<cache>` (`virCapabilitiesFormatCaches`).
fn write_cache(out: &mut String, cache: &HostCache) {
    if cache.banks.is_empty() && cache.monitor.is_none() {
        return;
    }
    line(out, 2, "<cache>");
    for bank in &cache.banks {
        let (size, unit) = pretty(bank.size);
        let open = format!(
            "<bank id='{}' level='{}' type='{}' size='{size}' unit='{unit}' cpus='{}'",
            bank.id,
            bank.level,
            bank.kind.as_str(),
            bank.cpus
        );
        if bank.controls.is_empty() {
            line(out, 3, &format!("{open}/>"));
            continue;
        }
        line(out, 3, &format!("{open}>"));
        for control in &bank.controls {
            let (mut gran, mut unit) = pretty(control.granularity);
            let (mut min, min_unit) = pretty(control.min);
            // Both in the smaller of the two units.
            if let Some(min_div) = control.min.checked_div(min) {
                let gran_div = control.granularity / gran.max(1);
                if min_div > gran_div {
                    min *= min_div / gran_div.max(1);
                } else if min_div < gran_div {
                    unit = min_unit;
                    gran *= gran_div / min_div.max(1);
                }
            }
            let min = if min != 0 {
                format!(" min='{min}'")
            } else {
                String::new()
            };
            line(
                out,
                4,
                &format!(
                    "<control granularity='{gran}'{min} unit='{unit}' type='{}' maxAllocs='{}'/>",
                    control.scope.as_str(),
                    control.max_allocs
                ),
            );
        }
        line(out, 3, "</bank>");
    }
    write_monitor(out, &cache.monitor);
    line(out, 2, "</cache>");
}

/// `<memory_bandwidth>` (`virCapabilitiesFormatMemoryBandwidth`).
fn write_memory_bandwidth(out: &mut String, membw: &MemoryBandwidth) {
    if membw.nodes.is_empty() && membw.monitor.is_none() {
        return;
    }
    line(out, 2, "<memory_bandwidth>");
    for node in &membw.nodes {
        line(
            out,
            3,
            &format!("<node id='{}' cpus='{}'>", node.id, node.cpus),
        );
        line(
            out,
            4,
            &format!(
                "<control granularity='{}' min='{}' maxAllocs='{}'/>",
                node.granularity, node.min, node.max_allocs
            ),
        );
        line(out, 3, "</node>");
    }
    write_monitor(out, &membw.monitor);
    line(out, 2, "</memory_bandwidth>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pretty_units() {
        assert_eq!(pretty(0), (0, "B"));
        assert_eq!(pretty(1000), (1000, "B"));
        assert_eq!(pretty(15 << 20), (15, "MiB"));
        assert_eq!(pretty(768 << 10), (768, "KiB"));
        assert_eq!(pretty(3 << 30), (3, "GiB"));
    }

    #[test]
    fn empty_host() {
        let mut caps = Capabilities::default();
        assert_eq!(caps.to_xml(), "<capabilities>\n\n</capabilities>\n");
        caps.host.cpu.arch = "x86_64".into();
        assert_eq!(
            caps.to_xml(),
            "<capabilities>\n\n  <host>\n    <cpu>\n      <arch>x86_64</arch>\n    </cpu>\n    \
             <power_management/>\n    <iommu support='no'/>\n  </host>\n\n</capabilities>\n"
        );
    }
}
