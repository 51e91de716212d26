//! How guest memory is backed (`<memoryBacking>`) and memory limits (`<memtune>`).

use oxvirt_xml::model::{str_to_long_uip, XmlEnum};
use oxvirt_xml::types::cpuset::CpuSet;
use oxvirt_xml::types::size::{parse_memory_kib_for, parse_scaled_for};
use oxvirt_xml::{
    Builder, Context, Cursor, Element, ErrorCode, Result, Unknown, XmlError, XmlModel,
};

use crate::util;

oxvirt_xml::xml_enum! {
    /// Where guest memory comes from (`<source type=>`).
    pub enum MemorySource {
        /// A file (in hugetlbfs or the memory backing directory).
        File = "file",
        /// Anonymous memory.
        Anonymous = "anonymous",
        /// A memfd.
        Memfd = "memfd",
    }
}

oxvirt_xml::xml_enum! {
    /// Whether guest memory is shared (`<access mode=>`).
    pub enum MemoryAccess {
        /// Shared.
        Shared = "shared",
        /// Private.
        Private = "private",
    }
}

oxvirt_xml::xml_enum! {
    /// When guest memory is allocated (`<allocation mode=>`).
    pub enum AllocationMode {
        /// All at start.
        Immediate = "immediate",
        /// When first touched.
        Ondemand = "ondemand",
    }
}

/// An empty marker element (`<locked/>`, `<nosharepages/>`, `<discard/>`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Flag {
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

/// Huge pages (`<hugepages>`): none listed means the host's default size.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Hugepages {
    /// The page sizes.
    pub pages: Vec<HugePage>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

/// One huge page size (`<page size= unit= nodeset=/>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HugePage {
    /// The page size in KiB.
    pub size: u64,
    /// The guest NUMA cells using it (all others when absent).
    pub nodeset: Option<CpuSet>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

/// Memory allocation (`<allocation mode= threads=/>`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Allocation {
    /// When memory is allocated.
    pub mode: Option<AllocationMode>,
    /// How many threads allocate it (never 0).
    pub threads: Option<u32>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

/// How guest memory is backed (`<memoryBacking>`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MemoryBacking {
    /// Huge pages.
    pub hugepages: Option<Hugepages>,
    /// `<nosharepages/>`: no KSM.
    pub nosharepages: Option<Flag>,
    /// `<locked/>`: memory locked in host RAM.
    pub locked: Option<Flag>,
    /// The memory source (`<source type=>`).
    pub source: Option<MemorySource>,
    /// What `<source>` holds besides its type, kept as written.
    pub source_unknown: Unknown,
    /// Shared or private memory (`<access mode=>`).
    pub access: Option<MemoryAccess>,
    /// What `<access>` holds besides its mode, kept as written.
    pub access_unknown: Unknown,
    /// Allocation.
    pub allocation: Option<Allocation>,
    /// `<discard/>`: memory discarded when freed.
    pub discard: Option<Flag>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl MemoryBacking {
    /// Whether libvirt writes nothing for it.
    pub fn is_empty(&self) -> bool {
        self.to_element().is_empty()
    }

    /// libvirt's `virDomainDefPostParseMemtune`: without guest NUMA cells, a page size
    /// bound to node 0 only is the default page size.
    pub fn apply_defaults(&mut self, numa_cells: usize) {
        if numa_cells > 0 {
            return;
        }
        for page in self.hugepages.iter_mut().flat_map(|h| h.pages.iter_mut()) {
            if page
                .nodeset
                .as_ref()
                .is_some_and(|s| s.iter().all(|n| n == 0))
            {
                page.nodeset = None;
            }
        }
    }

    /// libvirt's `virDomainDefMemtuneValidate`, given the number of guest NUMA cells: at
    /// most one page size without a node set, no node in two sets, and only existing
    /// nodes.
    pub fn validate(&self, numa_cells: usize) -> Result<()> {
        let Some(h) = &self.hugepages else {
            return Ok(());
        };
        for (i, page) in h.pages.iter().enumerate() {
            for other in &h.pages[..i] {
                match (&page.nodeset, &other.nodeset) {
                    (Some(a), Some(b)) if a.intersects(b) => {
                        return Err(XmlError::new(
                            ErrorCode::XmlDetail,
                            format!(
                                "nodeset attribute of hugepages of sizes {} and {} intersect",
                                page.size, other.size
                            ),
                        ))
                    }
                    (None, None) => {
                        return Err(XmlError::new(
                            ErrorCode::XmlDetail,
                            format!(
                                "two master hugepages detected: {} and {}",
                                page.size, other.size
                            ),
                        ))
                    }
                    _ => {}
                }
            }
            let beyond = page
                .nodeset
                .as_ref()
                .and_then(|s| s.iter().find(|&n| n as usize >= numa_cells));
            if let Some(node) = beyond {
                return Err(XmlError::new(
                    ErrorCode::XmlDetail,
                    format!("hugepages: node {node} not found"),
                ));
            }
        }
        Ok(())
    }
}

fn flag(el: &Element, ctx: &mut Context) -> Flag {
    Flag {
        unknown: Cursor::new(el).finish(ctx),
    }
}

fn unknown_value(el: &Element, what: &str, value: &str) -> XmlError {
    XmlError::unsupported(format!("unknown memoryBacking/{what} '{value}'")).at(el.position)
}

/// Reads the enumerated attribute `attr` of `el` (`what` names it in libvirt's message),
/// with what else the element holds.
fn typed_attr<T: XmlEnum>(
    el: &Element,
    attr: &str,
    what: &str,
    ctx: &mut Context,
) -> Result<(Option<T>, Unknown)> {
    let mut c = Cursor::new(el);
    let value = match c.attr(attr) {
        None => None,
        Some(v) => Some(T::from_xml_str(v).ok_or_else(|| unknown_value(el, what, v))?),
    };
    Ok((value, c.finish(ctx)))
}

fn parse_page(el: &Element, ctx: &mut Context) -> Result<HugePage> {
    let mut c = Cursor::new(el);
    let size = match c.attr("size") {
        Some(t) => {
            parse_memory_kib_for(t, c.attr("unit"), "./@size").map_err(|e| e.at(el.position))?
        }
        None => return Err(XmlError::xml("missing element or attribute './@size'").at(el.position)),
    };
    if size == 0 {
        return Err(
            XmlError::new(ErrorCode::XmlDetail, "hugepage size can't be zero").at(el.position),
        );
    }
    let nodeset = match c.attr("nodeset") {
        Some(t) => Some(util::nonempty_bitmap(el, "nodeset", t)?),
        None => None,
    };
    Ok(HugePage {
        size,
        nodeset,
        unknown: c.finish(ctx),
    })
}

impl XmlModel for MemoryBacking {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let mut m = MemoryBacking::default();
        if let Some(h) = c.child("hugepages") {
            let mut hc = Cursor::new(h);
            let mut pages = Vec::new();
            for p in hc.children("page") {
                pages.push(parse_page(p, ctx)?);
            }
            m.hugepages = Some(Hugepages {
                pages,
                unknown: hc.finish(ctx),
            });
        }
        m.nosharepages = c.child("nosharepages").map(|e| flag(e, ctx));
        m.locked = c.child("locked").map(|e| flag(e, ctx));
        if let Some(s) = c.child("source") {
            (m.source, m.source_unknown) = typed_attr(s, "type", "source/type", ctx)?;
        }
        if let Some(a) = c.child("access") {
            (m.access, m.access_unknown) = typed_attr(a, "mode", "access/mode", ctx)?;
        }
        if let Some(a) = c.child("allocation") {
            let mut ac = Cursor::new(a);
            let mode = match ac.attr("mode") {
                None => None,
                Some(v) => Some(
                    AllocationMode::from_xml_str(v)
                        .ok_or_else(|| unknown_value(a, "allocation/mode", v))?,
                ),
            };
            let threads = match ac.attr("threads") {
                None => None,
                Some(t) => Some(str_to_long_uip(t, 10).ok_or_else(|| {
                    XmlError::xml("Failed to parse memory allocation threads").at(a.position)
                })?),
            };
            m.allocation = Some(Allocation {
                mode,
                threads: threads.filter(|&t| t != 0),
                unknown: ac.finish(ctx),
            })
            .filter(|a| *a != Allocation::default());
        }
        m.discard = c.child("discard").map(|e| flag(e, ctx));
        m.unknown = c.finish(ctx);
        Ok(m)
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("memoryBacking");
        if let Some(h) = &self.hugepages {
            let mut hb = Builder::new("hugepages");
            for p in &h.pages {
                let mut pb = Builder::new("page");
                pb.attr("size", p.size).attr("unit", "KiB");
                pb.opt_attr("nodeset", p.nodeset.as_ref());
                hb.child(pb.finish(&p.unknown));
            }
            b.child(hb.finish(&h.unknown));
        }
        let flag_element = |name: &str, f: &Flag| Builder::new(name).finish(&f.unknown);
        if let Some(f) = &self.nosharepages {
            b.child(flag_element("nosharepages", f));
        }
        if let Some(f) = &self.locked {
            b.child(flag_element("locked", f));
        }
        // Written when typed or when it carries something unknown, which must not be lost.
        if self.source.is_some() || !self.source_unknown.is_empty() {
            let mut sb = Builder::new("source");
            sb.opt_attr("type", self.source);
            b.child(sb.finish(&self.source_unknown));
        }
        if self.access.is_some() || !self.access_unknown.is_empty() {
            let mut ab = Builder::new("access");
            ab.opt_attr("mode", self.access);
            b.child(ab.finish(&self.access_unknown));
        }
        if let Some(a) = &self.allocation {
            let mut ab = Builder::new("allocation");
            ab.opt_attr("mode", a.mode).opt_attr("threads", a.threads);
            b.child(ab.finish(&a.unknown));
        }
        if let Some(f) = &self.discard {
            b.child(flag_element("discard", f));
        }
        b.finish(&self.unknown)
    }
}

/// libvirt's "no limit" for memory tunables, in KiB (`VIR_DOMAIN_MEMORY_PARAM_UNLIMITED`).
pub const MEMORY_UNLIMITED: u64 = (1 << 53) - 1;

/// Memory limits (`<memtune>`), in KiB; libvirt omits unlimited values.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Memtune {
    /// `<hard_limit>`.
    pub hard_limit: Option<u64>,
    /// `<soft_limit>`.
    pub soft_limit: Option<u64>,
    /// `<min_guarantee>` (never 0).
    pub min_guarantee: Option<u64>,
    /// `<swap_hard_limit>`.
    pub swap_hard_limit: Option<u64>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl Memtune {
    /// Whether libvirt writes nothing for it.
    pub fn is_empty(&self) -> bool {
        self.to_element().is_empty()
    }
}

/// Reads a limit as `virDomainParseMemoryLimit` does: `None` when unlimited.
fn limit(el: &Element, ctx: &mut Context) -> Result<Option<u64>> {
    let mut c = Cursor::new(el);
    let text = c.text();
    let unit = c.attr("unit");
    let _ = c.finish(ctx);
    if text.is_empty() {
        return Ok(None);
    }
    let xpath = format!("./memtune/{}[1]", el.name);
    let bytes = parse_scaled_for(&text, unit, 1024, MEMORY_UNLIMITED << 10, &xpath)
        .map_err(|e| e.at(el.position))?;
    let kib = bytes.div_ceil(1024).min(MEMORY_UNLIMITED);
    Ok((kib < MEMORY_UNLIMITED).then_some(kib))
}

impl XmlModel for Memtune {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let mut m = Memtune::default();
        if let Some(e) = c.child("hard_limit") {
            m.hard_limit = limit(e, ctx)?;
        }
        if let Some(e) = c.child("soft_limit") {
            m.soft_limit = limit(e, ctx)?;
        }
        if let Some(e) = c.child("min_guarantee") {
            let mut ec = Cursor::new(e);
            let text = ec.text();
            let unit = ec.attr("unit");
            let _ = ec.finish(ctx);
            if !text.is_empty() {
                m.min_guarantee = Some(
                    parse_memory_kib_for(&text, unit, "./memtune/min_guarantee[1]")
                        .map_err(|err| err.at(e.position))?,
                )
                .filter(|&v| v != 0);
            }
        }
        if let Some(e) = c.child("swap_hard_limit") {
            m.swap_hard_limit = limit(e, ctx)?;
        }
        m.unknown = c.finish(ctx);
        Ok(m)
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("memtune");
        let items = [
            ("hard_limit", self.hard_limit),
            ("soft_limit", self.soft_limit),
            ("min_guarantee", self.min_guarantee),
            ("swap_hard_limit", self.swap_hard_limit),
        ];
        for (name, value) in items {
            if let Some(v) = value {
                b.child(
                    Element::new(name)
                        .with_attr("unit", "KiB")
                        .with_text(v.to_string()),
                );
            }
        }
        b.finish(&self.unknown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxvirt_xml::to_string;

    use crate::util::read_model as read;

    #[test]
    fn backing_round_trip() {
        let xml = "<memoryBacking>\n  <hugepages>\n    \
                   <page size='1048576' unit='KiB' nodeset='0,2-3'/>\n    \
                   <page size='2048' unit='KiB'/>\n  </hugepages>\n  <nosharepages/>\n  \
                   <locked/>\n  <source type='file'/>\n  <access mode='shared'/>\n  \
                   <allocation mode='immediate' threads='8'/>\n  <discard/>\n</memoryBacking>\n";
        let m: MemoryBacking = read(xml).unwrap();
        assert_eq!(to_string(&m.to_element()), xml);
        assert!(m.validate(4).is_ok());
        let m: MemoryBacking = read(
            "<memoryBacking><hugepages><page size='1' unit='G'/></hugepages>\
                  <allocation threads='0'/></memoryBacking>",
        )
        .unwrap();
        assert_eq!(
            to_string(&m.to_element()),
            "<memoryBacking>\n  <hugepages>\n    <page size='1048576' unit='KiB'/>\n  \
             </hugepages>\n</memoryBacking>\n"
        );
        let m: MemoryBacking = read("<memoryBacking><hugepages/></memoryBacking>").unwrap();
        assert_eq!(
            to_string(&m.to_element()),
            "<memoryBacking>\n  <hugepages/>\n</memoryBacking>\n"
        );
    }

    #[test]
    fn backing_errors() {
        let msg = |xml: &str| read::<MemoryBacking>(xml).unwrap_err().message;
        assert_eq!(
            msg("<memoryBacking><source type='none'/></memoryBacking>"),
            "unknown memoryBacking/source/type 'none'"
        );
        assert_eq!(
            msg("<memoryBacking><access mode='default'/></memoryBacking>"),
            "unknown memoryBacking/access/mode 'default'"
        );
        assert_eq!(
            msg("<memoryBacking><allocation threads='x'/></memoryBacking>"),
            "Failed to parse memory allocation threads"
        );
        assert_eq!(
            msg("<memoryBacking><hugepages><page size='0'/></hugepages></memoryBacking>"),
            "hugepage size can't be zero"
        );
        assert_eq!(
            msg("<memoryBacking><hugepages><page unit='KiB'/></hugepages></memoryBacking>"),
            "missing element or attribute './@size'"
        );
        let two: MemoryBacking = read(
            "<memoryBacking><hugepages><page size='1' unit='G'/><page size='2048'/>\
             </hugepages></memoryBacking>",
        )
        .unwrap();
        assert_eq!(
            two.validate(0).unwrap_err().message,
            "two master hugepages detected: 2048 and 1048576"
        );
        let far: MemoryBacking = read(
            "<memoryBacking><hugepages><page size='2048' nodeset='1'/></hugepages></memoryBacking>",
        )
        .unwrap();
        assert_eq!(
            far.validate(1).unwrap_err().message,
            "hugepages: node 1 not found"
        );
        let mut zero: MemoryBacking = read(
            "<memoryBacking><hugepages><page size='1' unit='G'/><page size='2048' \
             nodeset='0'/></hugepages></memoryBacking>",
        )
        .unwrap();
        zero.apply_defaults(0);
        assert_eq!(
            zero.validate(0).unwrap_err().message,
            "two master hugepages detected: 2048 and 1048576"
        );
        assert!(far.validate(2).is_ok());
    }

    #[test]
    fn memtune() {
        let xml = "<memtune>\n  <hard_limit unit='KiB'>9007199254740991</hard_limit>\n  \
                   <soft_limit unit='MiB'>1</soft_limit>\n  \
                   <min_guarantee unit='KiB'>0</min_guarantee>\n</memtune>\n";
        let m: Memtune = read(xml).unwrap();
        assert_eq!(
            to_string(&m.to_element()),
            "<memtune>\n  <soft_limit unit='KiB'>1024</soft_limit>\n</memtune>\n"
        );
        let e = read::<Memtune>("<memtune><hard_limit>x</hard_limit></memtune>").unwrap_err();
        assert_eq!(
            e.message,
            "Invalid value 'x' for element or attribute './memtune/hard_limit[1]'"
        );
    }
}
