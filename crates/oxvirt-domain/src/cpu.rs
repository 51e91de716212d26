//! The guest CPU model and topology: `<cpu>`.

mod numa;

pub use numa::{Distances, MemAccess, Numa, NumaCell, Sibling};

use oxvirt_xml::model::{PropFlags, XmlEnum};
use oxvirt_xml::{Builder, Context, Cursor, Element, Result, Unknown, XmlError, XmlModel};

oxvirt_xml::xml_enum! {
    /// How the guest CPU is defined (`mode`).
    pub enum CpuMode {
        /// A named model with features.
        Custom = "custom",
        /// The closest model to the host's.
        HostModel = "host-model",
        /// The host CPU itself.
        HostPassthrough = "host-passthrough",
        /// The most the hypervisor can offer.
        Maximum = "maximum",
    }
}

oxvirt_xml::xml_enum! {
    /// How strictly a custom model must match the host (`match`).
    pub enum CpuMatch {
        /// Exactly the model and features.
        Exact = "exact",
        /// At least them.
        Minimum = "minimum",
        /// Exactly, and nothing else.
        Strict = "strict",
    }
}

oxvirt_xml::xml_enum! {
    /// How the hypervisor's CPU is checked against the definition (`check`).
    pub enum CpuCheck {
        /// The hypervisor's default (libvirt omits it).
        Default = "default",
        /// No check.
        None = "none",
        /// Checked before starting.
        Partial = "partial",
        /// Checked before and after starting.
        Full = "full",
    }
}

oxvirt_xml::xml_enum! {
    /// Whether another model may be used when the named one is unavailable (`fallback`).
    pub enum CpuFallback {
        /// It may.
        Allow = "allow",
        /// It may not.
        Forbid = "forbid",
    }
}

oxvirt_xml::xml_enum! {
    /// What a feature's presence must be (`policy`).
    pub enum FeaturePolicy {
        /// Present even if the host lacks it.
        Force = "force",
        /// Present; the host must have it.
        Require = "require",
        /// Present when the host has it.
        Optional = "optional",
        /// Absent.
        Disable = "disable",
        /// Absent; the host must lack it.
        Forbid = "forbid",
    }
}

oxvirt_xml::xml_enum! {
    /// How CPU caches are shown to the guest (`<cache mode=>`).
    pub enum CpuCacheMode {
        /// Emulated.
        Emulate = "emulate",
        /// The host's.
        Passthrough = "passthrough",
        /// None.
        Disable = "disable",
    }
}

oxvirt_xml::xml_enum! {
    /// How the physical address size is chosen (`<maxphysaddr mode=>`).
    pub enum MaxPhysAddrMode {
        /// The given number of bits.
        Emulate = "emulate",
        /// The host's.
        Passthrough = "passthrough",
    }
}

/// The CPU model (`<model fallback= vendor_id=>NAME</model>`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CpuModel {
    /// The model name.
    pub name: Option<String>,
    /// The fallback policy; allow by default for a named custom or host-model CPU.
    pub fallback: Option<CpuFallback>,
    /// The vendor id shown to the guest (12 characters).
    pub vendor_id: Option<String>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

/// The CPU topology (`<topology sockets= dies= clusters= cores= threads=/>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    /// Sockets.
    pub sockets: u32,
    /// Dies per socket (1 when not given).
    pub dies: u32,
    /// Clusters per die (not known to libvirt 9.0; kept when given).
    pub clusters: Option<u32>,
    /// Cores per die.
    pub cores: u32,
    /// Threads per core.
    pub threads: u32,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

/// The CPU cache shown to the guest (`<cache level= mode=/>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuCache {
    /// The cache level, 1 to 3.
    pub level: Option<u32>,
    /// The mode.
    pub mode: CpuCacheMode,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

/// The physical address size (`<maxphysaddr mode= bits=/>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaxPhysAddr {
    /// The mode.
    pub mode: MaxPhysAddrMode,
    /// The number of bits.
    pub bits: Option<u32>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

/// A CPU feature (`<feature policy= name=/>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuFeature {
    /// The policy (require when not given).
    pub policy: FeaturePolicy,
    /// The feature name.
    pub name: String,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

/// The guest CPU (`<cpu>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cpu {
    /// The mode (custom when not given).
    pub mode: CpuMode,
    /// The match policy; always set (exact by default) for custom CPUs.
    pub cpu_match: Option<CpuMatch>,
    /// The check policy (`default` is not kept: libvirt omits it).
    pub check: Option<CpuCheck>,
    /// `migratable='on|off'` (host-passthrough and maximum only).
    pub migratable: Option<bool>,
    /// The model.
    pub model: Option<CpuModel>,
    /// The vendor (`<vendor>`).
    pub vendor: Option<String>,
    /// The topology.
    pub topology: Option<Topology>,
    /// The cache.
    pub cache: Option<CpuCache>,
    /// The physical address size.
    pub maxphysaddr: Option<MaxPhysAddr>,
    /// Features, in order.
    pub features: Vec<CpuFeature>,
    /// The guest NUMA topology.
    pub numa: Option<Numa>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl Default for Cpu {
    fn default() -> Self {
        Cpu {
            mode: CpuMode::Custom,
            cpu_match: Some(CpuMatch::Exact),
            check: None,
            migratable: None,
            model: None,
            vendor: None,
            topology: None,
            cache: None,
            maxphysaddr: None,
            features: Vec::new(),
            numa: None,
            unknown: Unknown::default(),
        }
    }
}

impl Cpu {
    /// The memory of all guest NUMA cells, in KiB (0 without NUMA cells).
    pub fn numa_memory_kib(&self) -> u64 {
        self.numa.as_ref().map_or(0, Numa::memory_kib)
    }

    /// The number of guest NUMA cells.
    pub fn numa_cells(&self) -> usize {
        self.numa.as_ref().map_or(0, |n| n.cells.len())
    }

    /// The model name, if any.
    pub fn model_name(&self) -> Option<&str> {
        self.model.as_ref().and_then(|m| m.name.as_deref())
    }

    /// Whether libvirt writes nothing for it (`<cpu/>` says nothing).
    pub fn is_empty(&self) -> bool {
        !self.writes_attributes() && self.to_element().children.is_empty()
    }

    /// libvirt's checks that need the maximum vCPU count: the NUMA cells may not name more
    /// vCPUs, or higher ones, than the domain has, and the topology must fit an `unsigned
    /// int`.
    pub fn validate(&self, max_vcpus: u32) -> Result<()> {
        if let Some(n) = &self.numa {
            if n.cpu_count() > max_vcpus as usize {
                return Err(XmlError::internal(
                    "Number of CPUs in <numa> exceeds the <vcpu> count",
                ));
            }
            if n.max_cpu_id() >= max_vcpus {
                return Err(XmlError::internal(
                    "CPU IDs in <numa> exceed the <vcpu> count",
                ));
            }
        }
        if let Some(t) = &self.topology {
            let total = [t.dies, t.clusters.unwrap_or(1), t.cores, t.threads]
                .iter()
                .try_fold(u64::from(t.sockets), |acc, &v| {
                    let p = acc * u64::from(v);
                    (p <= u64::from(u32::MAX)).then_some(p)
                });
            if total.is_none() {
                return Err(XmlError::unsupported(format!(
                    "cpu topology results in more than {} cpus",
                    u32::MAX
                )));
            }
        }
        Ok(())
    }

    /// The number of vCPUs the topology describes, if there is one.
    pub fn topology_vcpus(&self) -> Option<u64> {
        self.topology.as_ref().map(|t| {
            [t.dies, t.clusters.unwrap_or(1), t.cores, t.threads]
                .iter()
                .fold(u64::from(t.sockets), |acc, &v| {
                    acc.saturating_mul(u64::from(v))
                })
        })
    }

    /// libvirt writes the attributes of a guest CPU unless it is a custom one without a
    /// model; they are also written here when they carry something libvirt would lose.
    fn writes_attributes(&self) -> bool {
        self.mode != CpuMode::Custom
            || self.model_name().is_some()
            || self.check.is_some()
            || self.migratable.is_some()
            || self.cpu_match.is_some_and(|m| m != CpuMatch::Exact)
    }
}

fn cpu_unsupported(el: &Element, message: &str) -> XmlError {
    XmlError::unsupported(message).at(el.position)
}

fn parse_model(el: &Element, mode: CpuMode, ctx: &mut Context) -> Result<CpuModel> {
    let mut c = Cursor::new(el);
    let name = Some(c.text()).filter(|t| !t.is_empty());
    // libvirt reads neither attribute for host-passthrough and maximum CPUs: they are
    // then kept as written.
    let checked = !matches!(mode, CpuMode::HostPassthrough | CpuMode::Maximum);
    let fallback_text = if checked { c.attr("fallback") } else { None };
    let mut fallback = match fallback_text {
        Some(v) => Some(
            CpuFallback::from_xml_str(v)
                .ok_or_else(|| cpu_unsupported(el, "Invalid fallback attribute"))?,
        ),
        None => None,
    };
    let vendor_id = if checked {
        c.attr_string("vendor_id")
    } else {
        None
    };
    if let Some(v) = &vendor_id {
        if v.chars().count() != 12 {
            return Err(
                XmlError::xml("vendor_id must be exactly 12 characters long").at(el.position),
            );
        }
        if v.contains(',') {
            return Err(XmlError::xml("vendor id is invalid").at(el.position));
        }
    }
    // libvirt writes the fallback of a named model only, allow by default.
    if name.is_none() {
        fallback = None;
    } else if checked && fallback.is_none() {
        fallback = Some(CpuFallback::Allow);
    }
    Ok(CpuModel {
        name,
        fallback,
        vendor_id,
        unknown: c.finish(ctx),
    })
}

fn parse_topology(el: &Element, ctx: &mut Context) -> Result<Topology> {
    let mut c = Cursor::new(el);
    let sockets = c.required_uint("sockets", 10, PropFlags::NONZERO)?;
    let dies = c.prop_uint("dies", 10, PropFlags::NONZERO)?.unwrap_or(1);
    let clusters = c.prop_uint("clusters", 10, PropFlags::NONZERO)?;
    let cores = c.required_uint("cores", 10, PropFlags::NONZERO)?;
    let threads = c.required_uint("threads", 10, PropFlags::NONZERO)?;
    Ok(Topology {
        sockets,
        dies,
        clusters,
        cores,
        threads,
        unknown: c.finish(ctx),
    })
}

fn parse_features(c: &mut Cursor<'_>, ctx: &mut Context) -> Result<Vec<CpuFeature>> {
    let mut features: Vec<CpuFeature> = Vec::new();
    for f in c.children("feature") {
        let mut fc = Cursor::new(f);
        let policy = match fc.attr("policy") {
            None => FeaturePolicy::Require,
            Some(v) => FeaturePolicy::from_xml_str(v)
                .ok_or_else(|| cpu_unsupported(f, "Invalid CPU feature policy"))?,
        };
        let name = match fc.attr("name") {
            Some(n) if !n.is_empty() => n.to_string(),
            _ => return Err(XmlError::xml("Invalid CPU feature name").at(f.position)),
        };
        if features.iter().any(|o| o.name == name) {
            return Err(
                XmlError::xml(format!("CPU feature '{name}' specified more than once"))
                    .at(f.position),
            );
        }
        features.push(CpuFeature {
            policy,
            name,
            unknown: fc.finish(ctx),
        });
    }
    Ok(features)
}

fn parse_cache(el: &Element, ctx: &mut Context) -> Result<CpuCache> {
    let mut c = Cursor::new(el);
    let level = c.prop_int("level", 10, PropFlags::NONNEGATIVE)?;
    if level.is_some_and(|l| !(1..=3).contains(&l)) {
        return Err(
            XmlError::xml("invalid CPU cache level, must be in range [1,3]").at(el.position),
        );
    }
    let mode = c.required_enum_attr::<CpuCacheMode>("mode")?;
    Ok(CpuCache {
        level: level.map(|l| l as u32),
        mode,
        unknown: c.finish(ctx),
    })
}

fn parse_maxphysaddr(el: &Element, ctx: &mut Context) -> Result<MaxPhysAddr> {
    let mut c = Cursor::new(el);
    let mode = c.required_enum_attr::<MaxPhysAddrMode>("mode")?;
    let bits = c
        .prop_int("bits", 10, PropFlags::NONNEGATIVE)?
        .map(|b| b as u32);
    Ok(MaxPhysAddr {
        mode,
        bits,
        unknown: c.finish(ctx),
    })
}

impl XmlModel for Cpu {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let mode = match c.attr("mode") {
            None => CpuMode::Custom,
            Some(v) => CpuMode::from_xml_str(v)
                .ok_or_else(|| cpu_unsupported(el, &format!("Invalid mode attribute '{v}'")))?,
        };
        let migratable = c.prop_on_off("migratable", PropFlags::NONE)?;
        if migratable.is_some() && !matches!(mode, CpuMode::HostPassthrough | CpuMode::Maximum) {
            return Err(cpu_unsupported(
                el,
                "Attribute migratable is only allowed for 'host-passthrough' / 'maximum' CPU mode",
            ));
        }
        let mut cpu_match = c.enum_attr::<CpuMatch>("match")?;
        if mode == CpuMode::Custom {
            cpu_match.get_or_insert(CpuMatch::Exact);
        }
        let check = c
            .enum_attr::<CpuCheck>("check")?
            .filter(|&v| v != CpuCheck::Default);
        let model = match c.child("model") {
            Some(m) => Some(parse_model(m, mode, ctx)?).filter(|m| *m != CpuModel::default()),
            None => None,
        };
        let has_name = model.as_ref().is_some_and(|m| m.name.is_some());
        let vendor = c.child_text("vendor").filter(|v| !v.is_empty());
        if vendor.is_some() && !has_name {
            return Err(XmlError::xml("CPU vendor specified without CPU model").at(el.position));
        }
        let topology = match c.child("topology") {
            Some(t) => Some(parse_topology(t, ctx)?),
            None => None,
        };
        if mode == CpuMode::Custom && !has_name && c.element().child("feature").is_some() {
            return Err(
                XmlError::xml("Non-empty feature list specified without CPU model").at(el.position),
            );
        }
        let features = parse_features(&mut c, ctx)?;
        let caches = c.children("cache");
        if caches.len() > 1 {
            return Err(
                XmlError::xml("at most one CPU cache element may be specified")
                    .at(caches[1].position),
            );
        }
        let cache = match caches.first() {
            Some(e) => Some(parse_cache(e, ctx)?),
            None => None,
        };
        let maxphysaddr = match c.child("maxphysaddr") {
            Some(e) => Some(parse_maxphysaddr(e, ctx)?),
            None => None,
        };
        let numa = match c.child("numa") {
            Some(e) => Some(Numa::parse(e, ctx)?),
            None => None,
        };
        Ok(Cpu {
            mode,
            cpu_match,
            check,
            migratable,
            model,
            vendor,
            topology,
            cache,
            maxphysaddr,
            features,
            numa,
            unknown: c.finish(ctx),
        })
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("cpu");
        if self.writes_attributes() {
            b.attr("mode", self.mode);
            if self.mode == CpuMode::Custom {
                b.attr("match", self.cpu_match.unwrap_or(CpuMatch::Exact));
            } else {
                b.opt_attr("match", self.cpu_match);
            }
            b.opt_attr("check", self.check);
            b.on_off("migratable", self.migratable);
        }
        if let Some(m) = &self.model {
            let mut mb = Builder::new("model");
            mb.opt_attr("fallback", m.fallback);
            mb.opt_attr("vendor_id", m.vendor_id.as_deref());
            if let Some(name) = &m.name {
                mb.text(name.as_str());
            }
            let model = mb.finish(&m.unknown);
            if !model.is_empty() {
                b.child(model);
            }
        }
        b.opt_text_child("vendor", self.vendor.as_deref());
        if let Some(t) = &self.topology {
            let mut tb = Builder::new("topology");
            tb.attr("sockets", t.sockets).attr("dies", t.dies);
            tb.opt_attr("clusters", t.clusters);
            tb.attr("cores", t.cores).attr("threads", t.threads);
            b.child(tb.finish(&t.unknown));
        }
        if let Some(cache) = &self.cache {
            let mut cb = Builder::new("cache");
            cb.opt_attr("level", cache.level).attr("mode", cache.mode);
            b.child(cb.finish(&cache.unknown));
        }
        if let Some(a) = &self.maxphysaddr {
            let mut ab = Builder::new("maxphysaddr");
            ab.attr("mode", a.mode).opt_attr("bits", a.bits);
            b.child(ab.finish(&a.unknown));
        }
        for f in &self.features {
            let mut fb = Builder::new("feature");
            fb.attr("policy", f.policy).attr("name", &f.name);
            b.child(fb.finish(&f.unknown));
        }
        if let Some(n) = &self.numa {
            b.child(n.to_element());
        }
        b.finish(&self.unknown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxvirt_xml::{parse, to_string};

    fn read(xml: &str) -> Result<Cpu> {
        Cpu::from_element(&parse(xml).unwrap(), &mut Context::default())
    }

    fn same(xml: &str) {
        let cpu = read(xml).unwrap();
        assert_eq!(to_string(&cpu.to_element()), xml);
        assert_eq!(read(xml).unwrap(), cpu);
    }

    #[test]
    fn libvirt_output_round_trips() {
        same(
            "<cpu mode='custom' match='exact' check='partial'>\n  \
             <model fallback='forbid'>Haswell</model>\n  <vendor>Intel</vendor>\n  \
             <topology sockets='2' dies='1' cores='4' threads='2'/>\n  \
             <cache level='3' mode='emulate'/>\n  <maxphysaddr mode='emulate' bits='42'/>\n  \
             <feature policy='disable' name='vmx'/>\n  <numa>\n    \
             <cell id='0' cpus='0-15' memory='219136' unit='KiB'/>\n  </numa>\n</cpu>\n",
        );
        same("<cpu mode='host-passthrough' check='none' migratable='off'/>\n");
        same("<cpu mode='host-model' check='partial'>\n  <model vendor_id='Libvirt QEMU'/>\n</cpu>\n");
        same("<cpu>\n  <topology sockets='2' dies='1' cores='1' threads='1'/>\n</cpu>\n");
    }

    #[test]
    fn defaults_are_written() {
        let cpu = read(
            "<cpu match='exact' check='default'><model>core2duo</model>\
             <topology sockets='1' cores='2' threads='1'/><feature name='lahf_lm'/></cpu>",
        )
        .unwrap();
        assert_eq!(
            to_string(&cpu.to_element()),
            "<cpu mode='custom' match='exact'>\n  <model fallback='allow'>core2duo</model>\n  \
             <topology sockets='1' dies='1' cores='2' threads='1'/>\n  \
             <feature policy='require' name='lahf_lm'/>\n</cpu>\n"
        );
        assert!(read("<cpu>\n</cpu>").unwrap().is_empty());
        let cpu = read(
            "<cpu><numa><cell id='0' cpus='0-1' memory='1024'/><cell id='1' \
                        memory='2048'/></numa></cpu>",
        )
        .unwrap();
        assert_eq!(cpu.numa_memory_kib(), 3072);
        assert_eq!(cpu.numa_cells(), 2);
        assert!(cpu.validate(2).is_ok());
        assert_eq!(
            cpu.validate(1).unwrap_err().message,
            "Number of CPUs in <numa> exceeds the <vcpu> count"
        );
    }

    #[test]
    fn libvirt_errors() {
        let msg = |xml: &str| read(xml).unwrap_err().message;
        assert_eq!(msg("<cpu mode='x'/>"), "Invalid mode attribute 'x'");
        assert_eq!(
            msg("<cpu mode='custom' migratable='on'/>"),
            "Attribute migratable is only allowed for 'host-passthrough' / 'maximum' CPU mode"
        );
        assert_eq!(
            msg("<cpu><feature name='x'/></cpu>"),
            "Non-empty feature list specified without CPU model"
        );
        assert_eq!(
            msg("<cpu><model>a</model><feature name='x'/><feature name='x'/></cpu>"),
            "CPU feature 'x' specified more than once"
        );
        assert_eq!(
            msg("<cpu><model>a</model><feature policy='maybe' name='x'/></cpu>"),
            "Invalid CPU feature policy"
        );
        assert_eq!(
            msg("<cpu><vendor>Intel</vendor></cpu>"),
            "CPU vendor specified without CPU model"
        );
        assert_eq!(
            msg("<cpu><model vendor_id='short'>a</model></cpu>"),
            "vendor_id must be exactly 12 characters long"
        );
        assert_eq!(
            msg("<cpu><topology sockets='0' cores='1' threads='1'/></cpu>"),
            "Invalid value for attribute 'sockets' in element 'topology': Zero is not permitted"
        );
        assert_eq!(
            msg("<cpu><cache level='4' mode='emulate'/></cpu>"),
            "invalid CPU cache level, must be in range [1,3]"
        );
        assert_eq!(
            msg("<cpu><cache mode='emulate'/><cache mode='disable'/></cpu>"),
            "at most one CPU cache element may be specified"
        );
        assert_eq!(
            msg("<cpu><maxphysaddr bits='42'/></cpu>"),
            "Missing required attribute 'mode' in element 'maxphysaddr'"
        );
    }
}
