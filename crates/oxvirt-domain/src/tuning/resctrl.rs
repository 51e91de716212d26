//! Cache and memory bandwidth allocation (`<cachetune>`, `<memorytune>` in `<cputune>`).
//!
//! libvirt keeps both as resctrl groups: one per distinct vCPU set, holding cache
//! allocations, memory bandwidth and monitors. A `<memorytune>` naming the same vCPUs as an
//! earlier tune joins its group; groups may not share vCPUs otherwise. [`resolve`] replays
//! libvirt's parser over the tunes as written and returns them as libvirt writes them back:
//! caches by level, type and id, bandwidth by node, monitors after allocations, memory tunes
//! in group order, and vCPU sets limited to the domain's vCPUs when their count is known.

use oxvirt_xml::model::PropFlags;
use oxvirt_xml::types::cpuset::CpuSet;
use oxvirt_xml::types::size::parse_scaled_for;
use oxvirt_xml::{Builder, Context, Cursor, Element, Result, Unknown, XmlError};

oxvirt_xml::xml_enum! {
    /// Which part of a cache an allocation covers (`type`).
    pub enum CacheType {
        /// Code and data.
        Both = "both",
        /// Code only.
        Code = "code",
        /// Data only.
        Data = "data",
    }
}

/// Cache allocation for a set of vCPUs (`<cachetune vcpus=>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cachetune {
    /// The vCPUs sharing the allocation.
    pub vcpus: CpuSet,
    /// The resctrl group name (`id`), in live XML.
    pub id: Option<String>,
    /// The allocations.
    pub caches: Vec<CacheAlloc>,
    /// Cache occupancy monitors (always level 3).
    pub monitors: Vec<ResctrlMonitor>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

/// One cache allocation (`<cache id= level= type= size= unit=/>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheAlloc {
    /// The host cache id.
    pub id: u32,
    /// The cache level.
    pub level: u32,
    /// The part of the cache.
    pub cache_type: CacheType,
    /// The size in bytes.
    pub size: u64,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

/// A resctrl monitor (`<monitor vcpus=/>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResctrlMonitor {
    /// The monitored vCPUs.
    pub vcpus: CpuSet,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

/// Memory bandwidth allocation for a set of vCPUs (`<memorytune vcpus=>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Memorytune {
    /// The vCPUs sharing the allocation.
    pub vcpus: CpuSet,
    /// The resctrl group name (`id`), in live XML.
    pub id: Option<String>,
    /// Bandwidth per host node.
    pub nodes: Vec<MemoryBandwidth>,
    /// Memory bandwidth monitors.
    pub monitors: Vec<ResctrlMonitor>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

/// Bandwidth on one host node (`<node id= bandwidth=/>`), in percent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryBandwidth {
    /// The host node.
    pub id: u32,
    /// The share of bandwidth, 0 to 100.
    pub bandwidth: u32,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

/// The monitor level libvirt supports.
const MONITOR_CACHE_LEVEL: u32 = 3;

/// Reads the `vcpus` of a tune or monitor, in libvirt's words.
fn parse_vcpus(c: &mut Cursor<'_>) -> Result<CpuSet> {
    let el = c.element();
    let Some(text) = c.attr("vcpus") else {
        return Err(
            XmlError::xml(format!("Missing {} attribute 'vcpus'", el.name)).at(el.position),
        );
    };
    CpuSet::parse(text).map_err(|_| {
        XmlError::xml(format!(
            "Invalid {} attribute 'vcpus' value '{text}'",
            el.name
        ))
        .at(el.position)
    })
}

fn parse_monitor(el: &Element, cache: bool, ctx: &mut Context) -> Result<ResctrlMonitor> {
    let mut c = Cursor::new(el);
    if cache {
        let level = c.required_uint("level", 10, PropFlags::NONE)?;
        if level != MONITOR_CACHE_LEVEL {
            return Err(
                XmlError::xml(format!("Invalid monitor cache level '{level}'")).at(el.position),
            );
        }
    } else {
        // libvirt does not read a level for bandwidth monitors and drops it.
        let _ = c.attr("level");
    }
    let vcpus = parse_vcpus(&mut c)?;
    Ok(ResctrlMonitor {
        vcpus,
        unknown: c.finish(ctx),
    })
}

impl Cachetune {
    /// Reads a `<cachetune>` as written, checking each element on its own.
    pub fn parse(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let vcpus = parse_vcpus(&mut c)?;
        let id = c.attr_string("id");
        let mut caches = Vec::new();
        let mut monitors = Vec::new();
        for child in c.children_where(|e| e.name == "cache" || e.name == "monitor") {
            if child.name == "monitor" {
                monitors.push(parse_monitor(child, true, ctx)?);
                continue;
            }
            let mut cc = Cursor::new(child);
            let cache_id = cc.required_uint("id", 10, PropFlags::NONE)?;
            let level = cc.required_uint("level", 10, PropFlags::NONE)?;
            let cache_type = cc.required_enum_attr::<CacheType>("type")?;
            let size = match cc.attr("size") {
                Some(text) => parse_scaled_for(text, cc.attr("unit"), 1024, u64::MAX, "./@size")
                    .map_err(|e| e.at(child.position))?,
                None => {
                    return Err(
                        XmlError::xml("missing element or attribute './@size'").at(child.position)
                    )
                }
            };
            caches.push(CacheAlloc {
                id: cache_id,
                level,
                cache_type,
                size,
                unknown: cc.finish(ctx),
            });
        }
        Ok(Cachetune {
            vcpus,
            id,
            caches,
            monitors,
            unknown: c.finish(ctx),
        })
    }

    /// The element, as libvirt writes it.
    pub fn to_element(&self) -> Element {
        let mut b = Builder::new("cachetune");
        b.attr("vcpus", &self.vcpus)
            .opt_attr("id", self.id.as_deref());
        for cache in &self.caches {
            let (size, unit) = format_int_pretty(cache.size);
            let mut cb = Builder::new("cache");
            cb.attr("id", cache.id)
                .attr("level", cache.level)
                .attr("type", cache.cache_type)
                .attr("size", size)
                .attr("unit", unit);
            b.child(cb.finish(&cache.unknown));
        }
        for m in &self.monitors {
            let mut mb = Builder::new("monitor");
            mb.attr("level", MONITOR_CACHE_LEVEL)
                .attr("vcpus", &m.vcpus);
            b.child(mb.finish(&m.unknown));
        }
        b.finish(&self.unknown)
    }
}

impl Memorytune {
    /// Reads a `<memorytune>` as written, checking each element on its own.
    pub fn parse(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let vcpus = parse_vcpus(&mut c)?;
        let id = c.attr_string("id");
        let mut nodes = Vec::new();
        for n in c.children("node") {
            let mut nc = Cursor::new(n);
            let node_id = nc.required_uint("id", 10, PropFlags::NONE)?;
            let bandwidth = nc.required_uint("bandwidth", 10, PropFlags::NONE)?;
            if bandwidth > 100 {
                return Err(
                    XmlError::xml("Memory Bandwidth value exceeding 100 is invalid.")
                        .at(n.position),
                );
            }
            nodes.push(MemoryBandwidth {
                id: node_id,
                bandwidth,
                unknown: nc.finish(ctx),
            });
        }
        let mut monitors = Vec::new();
        for m in c.children("monitor") {
            monitors.push(parse_monitor(m, false, ctx)?);
        }
        Ok(Memorytune {
            vcpus,
            id,
            nodes,
            monitors,
            unknown: c.finish(ctx),
        })
    }

    /// The element, as libvirt writes it.
    pub fn to_element(&self) -> Element {
        let mut b = Builder::new("memorytune");
        b.attr("vcpus", &self.vcpus)
            .opt_attr("id", self.id.as_deref());
        for n in &self.nodes {
            let mut nb = Builder::new("node");
            nb.attr("id", n.id).attr("bandwidth", n.bandwidth);
            b.child(nb.finish(&n.unknown));
        }
        for m in &self.monitors {
            let mut mb = Builder::new("monitor");
            mb.attr("vcpus", &m.vcpus);
            b.child(mb.finish(&m.unknown));
        }
        b.finish(&self.unknown)
    }
}

/// libvirt's `virFormatIntPretty`: the largest binary unit that divides `bytes` exactly.
pub fn format_int_pretty(bytes: u64) -> (u64, &'static str) {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes == 0 || bytes % 1024 != 0 {
        return (bytes, "B");
    }
    let mut value = bytes / 1024;
    for (i, unit) in UNITS.iter().enumerate() {
        if i == UNITS.len() - 1 || value % 1024 != 0 {
            return (value, unit);
        }
        value /= 1024;
    }
    (value, "PiB")
}

/// `set` without the vCPUs at or above `max` (all of it when `max` is unknown).
fn shrink(set: &CpuSet, max: Option<u32>) -> CpuSet {
    match max {
        None => set.clone(),
        Some(0) => CpuSet::new(),
        Some(m) => {
            let mut all = CpuSet::new();
            all.insert_range(0, m - 1);
            set.intersection(&all)
        }
    }
}

/// One resctrl group while replaying libvirt's parser.
struct Group {
    vcpus: CpuSet,
    cachetune: Option<Cachetune>,
    memorytune: Option<Memorytune>,
    /// Every monitor of the group, with whether it watches the cache.
    monitors: Vec<(CpuSet, bool)>,
}

impl Group {
    fn alloc_is_empty(&self) -> bool {
        self.cachetune.as_ref().is_none_or(|c| c.caches.is_empty())
            && self.memorytune.as_ref().is_none_or(|m| m.nodes.is_empty())
    }

    /// libvirt's `virDomainResctrlValidateMonitor`.
    fn check_monitor(&self, vcpus: &CpuSet, cache: bool) -> Result<()> {
        if vcpus.is_empty() {
            return Err(XmlError::invalid_arg("vcpus is empty"));
        }
        if !vcpus.is_subset(&self.vcpus) {
            return Err(XmlError::invalid_arg(
                "Monitor vcpus conflicts with allocation",
            ));
        }
        let equal_to_group = *vcpus == self.vcpus;
        let mut overlap_any = false;
        let mut overlap_outside = false;
        for (other, other_cache) in &self.monitors {
            if other == vcpus {
                if *other_cache != cache {
                    continue;
                }
                return Err(XmlError::invalid_arg(
                    "Identical vcpus found in same type monitors",
                ));
            }
            let overlaps = vcpus.intersects(other);
            overlap_any |= overlaps;
            if equal_to_group || *other == self.vcpus {
                continue;
            }
            overlap_outside |= overlaps;
        }
        if overlap_outside || (self.alloc_is_empty() && overlap_any) {
            return Err(XmlError::invalid_arg("vcpus overlaps in resctrl groups"));
        }
        Ok(())
    }
}

/// libvirt's `virDomainResctrlVcpuMatch`: the group with exactly these vCPUs, if any.
fn find_group(groups: &[Group], vcpus: &CpuSet) -> Result<Option<usize>> {
    for (i, g) in groups.iter().enumerate() {
        if g.vcpus == *vcpus {
            return Ok(Some(i));
        }
        if g.vcpus.intersects(vcpus) {
            return Err(XmlError::xml("Overlapping vcpus in resctrls"));
        }
    }
    Ok(None)
}

fn collides(done: &[CacheAlloc], c: &CacheAlloc) -> bool {
    done.iter().any(|d| {
        d.level == c.level
            && d.id == c.id
            && (d.cache_type == CacheType::Both
                || c.cache_type == CacheType::Both
                || d.cache_type == c.cache_type)
    })
}

fn shrink_monitors(monitors: &[ResctrlMonitor], max: Option<u32>) -> Vec<ResctrlMonitor> {
    monitors
        .iter()
        .map(|m| ResctrlMonitor {
            vcpus: shrink(&m.vcpus, max),
            unknown: m.unknown.clone(),
        })
        .collect()
}

fn add_cachetune(groups: &mut Vec<Group>, ct: &Cachetune, max: Option<u32>) -> Result<()> {
    let vcpus = shrink(&ct.vcpus, max);
    if vcpus.is_empty() {
        return Ok(());
    }
    if find_group(groups, &vcpus)?.is_some() {
        return Err(XmlError::xml("Identical vcpus in cachetunes found"));
    }
    let mut caches: Vec<CacheAlloc> = Vec::with_capacity(ct.caches.len());
    for c in &ct.caches {
        if collides(&caches, c) {
            return Err(XmlError::xml(format!(
                "Colliding cache allocations for cache level '{}' id '{}', type '{}'",
                c.level, c.id, c.cache_type
            )));
        }
        caches.push(c.clone());
    }
    caches.sort_by_key(|c| (c.level, c.cache_type as u8, c.id));
    let mut group = Group {
        vcpus: vcpus.clone(),
        cachetune: Some(Cachetune {
            vcpus,
            id: ct.id.clone(),
            caches,
            monitors: Vec::new(),
            unknown: ct.unknown.clone(),
        }),
        memorytune: None,
        monitors: Vec::new(),
    };
    let monitors = shrink_monitors(&ct.monitors, max);
    for m in &monitors {
        group.check_monitor(&m.vcpus, true)?;
        group.monitors.push((m.vcpus.clone(), true));
    }
    if monitors.is_empty() && ct.caches.is_empty() {
        return Ok(());
    }
    if let Some(t) = &mut group.cachetune {
        t.monitors = monitors;
    }
    groups.push(group);
    Ok(())
}

fn add_memorytune(groups: &mut Vec<Group>, mt: &Memorytune, max: Option<u32>) -> Result<()> {
    let vcpus = shrink(&mt.vcpus, max);
    if vcpus.is_empty() {
        return Ok(());
    }
    let found = find_group(groups, &vcpus)?;
    let mut fresh = Group {
        vcpus: vcpus.clone(),
        cachetune: None,
        memorytune: None,
        monitors: Vec::new(),
    };
    let group = match found {
        Some(i) => &mut groups[i],
        None => &mut fresh,
    };
    let tune = group.memorytune.get_or_insert_with(|| Memorytune {
        vcpus,
        id: mt.id.clone(),
        nodes: Vec::new(),
        monitors: Vec::new(),
        unknown: Unknown::default(),
    });
    tune.unknown
        .attributes
        .extend(mt.unknown.attributes.iter().cloned());
    tune.unknown
        .children
        .extend(mt.unknown.children.iter().cloned());
    for n in &mt.nodes {
        if tune.nodes.iter().any(|o| o.id == n.id) {
            return Err(XmlError::xml(format!(
                "Memory Bandwidth already defined for node {}",
                n.id
            )));
        }
        tune.nodes.push(n.clone());
    }
    tune.nodes.sort_by_key(|n| n.id);
    for m in shrink_monitors(&mt.monitors, max) {
        group.check_monitor(&m.vcpus, false)?;
        group.monitors.push((m.vcpus.clone(), false));
        if let Some(t) = &mut group.memorytune {
            t.monitors.push(m);
        }
    }
    if found.is_none() && !(mt.nodes.is_empty() && mt.monitors.is_empty()) {
        groups.push(fresh);
    }
    Ok(())
}

/// Replays libvirt's parsing of the tunes as written, with `max_vcpus` vCPUs when known
/// (vCPUs beyond it are dropped first), and returns them as libvirt writes them back, or
/// libvirt's error.
pub fn resolve(
    cachetunes: &[Cachetune],
    memorytunes: &[Memorytune],
    max_vcpus: Option<u32>,
) -> Result<(Vec<Cachetune>, Vec<Memorytune>)> {
    let mut groups: Vec<Group> = Vec::new();
    for ct in cachetunes {
        add_cachetune(&mut groups, ct, max_vcpus)?;
    }
    for mt in memorytunes {
        add_memorytune(&mut groups, mt, max_vcpus)?;
    }
    let mut caches = Vec::new();
    let mut memories = Vec::new();
    for g in groups {
        caches.extend(g.cachetune);
        memories.extend(
            g.memorytune
                .filter(|m| !m.nodes.is_empty() || !m.monitors.is_empty()),
        );
    }
    Ok((caches, memories))
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxvirt_xml::parse;

    fn tunes(xml: &str) -> Result<(Vec<Cachetune>, Vec<Memorytune>)> {
        let root = parse(xml).unwrap();
        let mut ctx = Context::default();
        let mut ct = Vec::new();
        let mut mt = Vec::new();
        for e in root.elements() {
            if e.name == "cachetune" {
                ct.push(Cachetune::parse(e, &mut ctx)?);
            } else {
                mt.push(Memorytune::parse(e, &mut ctx)?);
            }
        }
        resolve(&ct, &mt, None)
    }

    #[test]
    fn pretty_sizes() {
        assert_eq!(format_int_pretty(0), (0, "B"));
        assert_eq!(format_int_pretty(1000), (1000, "B"));
        assert_eq!(format_int_pretty(7680 * 1024), (7680, "KiB"));
        assert_eq!(format_int_pretty(6 << 20), (6, "MiB"));
        assert_eq!(format_int_pretty(1 << 50), (1, "PiB"));
        assert_eq!(format_int_pretty(2048 << 50), (2048, "PiB"));
    }

    #[test]
    fn collisions_are_rejected() {
        let msg = |xml: &str| tunes(xml).unwrap_err().message;
        assert_eq!(
            msg("<t><cachetune vcpus='0'><cache id='0' level='3' type='code' size='12' unit='KiB'/>\
                 <cache id='0' level='3' type='code' size='18' unit='KiB'/></cachetune></t>"),
            "Colliding cache allocations for cache level '3' id '0', type 'code'"
        );
        assert_eq!(
            msg("<t><cachetune vcpus='0-1'><cache id='0' level='3' type='both' size='12' unit='KiB'/>\
                 <cache id='0' level='3' type='code' size='6' unit='KiB'/></cachetune></t>"),
            "Colliding cache allocations for cache level '3' id '0', type 'code'"
        );
        assert_eq!(
            msg("<t><cachetune vcpus='0'><cache id='0' level='3' type='code' size='12' unit='KiB'/>\
                 </cachetune><cachetune vcpus='0'><cache id='0' level='3' type='data' size='18' \
                 unit='KiB'/></cachetune></t>"),
            "Identical vcpus in cachetunes found"
        );
        assert_eq!(
            msg(
                "<t><cachetune vcpus='0-1'><cache id='0' level='3' type='both' size='768' \
                 unit='KiB'/><monitor level='3' vcpus='2'/></cachetune></t>"
            ),
            "Monitor vcpus conflicts with allocation"
        );
        assert_eq!(
            msg(
                "<t><memorytune vcpus='0'><node id='0' bandwidth='50'/><node id='0' \
                 bandwidth='50'/></memorytune></t>"
            ),
            "Memory Bandwidth already defined for node 0"
        );
        assert_eq!(
            msg(
                "<t><cachetune vcpus='0-1'><cache id='0' level='3' type='code' size='12' \
                 unit='KiB'/></cachetune><memorytune vcpus='0'><node id='0' bandwidth='50'/>\
                 </memorytune></t>"
            ),
            "Overlapping vcpus in resctrls"
        );
        assert_eq!(
            msg("<t><cachetune vcpus='0-1'><monitor level='2' vcpus='0'/></cachetune></t>"),
            "Invalid monitor cache level '2'"
        );
    }

    #[test]
    fn memory_tunes_join_groups_in_order() {
        let (ct, mt) = tunes(
            "<t><cachetune vcpus='0-1'><cache id='1' level='3' type='both' size='768' unit='KiB'/>\
             <cache id='0' level='3' type='both' size='768' unit='KiB'/></cachetune>\
             <memorytune vcpus='3'><node id='0' bandwidth='50'/></memorytune>\
             <memorytune vcpus='0-1'><monitor vcpus='0-1'/><node id='1' bandwidth='30'/>\
             <monitor vcpus='0'/><node id='0' bandwidth='20'/></memorytune>\
             <memorytune vcpus='5'/></t>",
        )
        .unwrap();
        assert_eq!(ct.len(), 1);
        assert_eq!(ct[0].caches[0].id, 0);
        let order: Vec<String> = mt.iter().map(|m| m.vcpus.to_string()).collect();
        assert_eq!(order, ["0-1", "3"]);
        assert_eq!(mt[0].nodes.iter().map(|n| n.id).collect::<Vec<_>>(), [0, 1]);
        assert_eq!(mt[0].monitors.len(), 2);
    }

    #[test]
    fn vcpus_beyond_the_domain_are_dropped() {
        let root = parse(
            "<cachetune vcpus='0-3'><cache id='0' level='3' type='code' size='7680' unit='KiB'/>\
             </cachetune>",
        )
        .unwrap();
        let ct = Cachetune::parse(&root, &mut Context::default()).unwrap();
        let far = Cachetune {
            vcpus: CpuSet::parse("100").unwrap(),
            ..ct.clone()
        };
        let (out, _) = resolve(&[ct, far], &[], Some(2)).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].vcpus.to_string(), "0-1");
    }
}
