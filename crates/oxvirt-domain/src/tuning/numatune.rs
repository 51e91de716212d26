//! NUMA memory placement: `<numatune>`.

use oxvirt_xml::model::{PropFlags, XmlEnum};
use oxvirt_xml::types::cpuset::CpuSet;
use oxvirt_xml::{Builder, Context, Cursor, Element, Result, Unknown, XmlError, XmlModel};

use crate::util;

use super::vcpu::VcpuPlacement;

oxvirt_xml::xml_enum! {
    /// How memory is bound to host NUMA nodes (`mode`).
    pub enum NumaMode {
        /// Only on the given nodes.
        Strict = "strict",
        /// Preferably on the given nodes.
        Preferred = "preferred",
        /// Interleaved over the given nodes.
        Interleave = "interleave",
        /// Only on the given nodes, through cgroups only.
        Restrictive = "restrictive",
    }
}

oxvirt_xml::xml_enum! {
    /// Where the memory's node set comes from (`placement`).
    pub enum NumaPlacement {
        /// Decided from the vCPU placement.
        Default = "default",
        /// The `nodeset` given.
        Static = "static",
        /// numad's advice.
        Auto = "auto",
    }
}

/// NUMA memory placement (`<numatune>`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Numatune {
    /// The binding of all guest memory (`<memory>`).
    pub memory: Option<NumatuneMemory>,
    /// Per guest NUMA cell bindings (`<memnode>`), by cell id.
    pub memnodes: Vec<MemNode>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

/// `<memory mode= nodeset= placement=/>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumatuneMemory {
    /// The binding mode (strict when not given).
    pub mode: NumaMode,
    /// The placement; `None` or `Default` until resolved against the vCPU placement.
    pub placement: Option<NumaPlacement>,
    /// The host nodes, with static placement.
    pub nodeset: Option<CpuSet>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

/// `<memnode cellid= mode= nodeset=/>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemNode {
    /// The guest NUMA cell.
    pub cellid: u32,
    /// The binding mode (strict when not given).
    pub mode: NumaMode,
    /// The host nodes.
    pub nodeset: CpuSet,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

fn static_without_nodeset() -> XmlError {
    XmlError::unsupported("nodeset for NUMA memory tuning must be set if 'placement' is 'static'")
}

fn per_node_with_auto() -> XmlError {
    XmlError::unsupported("Per-node binding is not compatible with automatic NUMA placement.")
}

impl Numatune {
    /// The `<numatune>` libvirt adds for automatically placed vCPUs: strict, numad-advised.
    pub fn auto_placement() -> Self {
        Numatune {
            memory: Some(NumatuneMemory {
                mode: NumaMode::Strict,
                placement: Some(NumaPlacement::Auto),
                nodeset: None,
                unknown: Unknown::default(),
            }),
            ..Numatune::default()
        }
    }

    /// Whether memory placement is left to numad.
    pub fn has_placement_auto(&self) -> bool {
        self.memory
            .as_ref()
            .is_some_and(|m| m.placement == Some(NumaPlacement::Auto))
    }

    /// Whether libvirt writes nothing for it (no `<memory>`, no `<memnode>`).
    pub fn is_empty(&self) -> bool {
        self.memory.is_none() && self.memnodes.is_empty() && self.unknown.is_empty()
    }

    /// Resolves a memory placement left to default: static with a node set or with
    /// statically placed vCPUs, automatic otherwise (libvirt's `virDomainNumatuneSet`).
    pub fn apply_defaults(&mut self, vcpu_placement: VcpuPlacement) {
        if let Some(m) = &mut self.memory {
            if matches!(m.placement, None | Some(NumaPlacement::Default)) {
                m.placement = Some(
                    if m.nodeset.is_some() || vcpu_placement == VcpuPlacement::Static {
                        NumaPlacement::Static
                    } else {
                        NumaPlacement::Auto
                    },
                );
            }
        }
    }

    /// libvirt's checks that need the number of guest NUMA cells (`<cpu><numa>`); call it
    /// after [`Numatune::apply_defaults`].
    pub fn validate(&self, numa_cells: usize) -> Result<()> {
        if let Some(m) = &self.memory {
            if m.placement == Some(NumaPlacement::Static) && m.nodeset.is_none() {
                return Err(static_without_nodeset());
            }
        }
        if self.memnodes.is_empty() {
            return Ok(());
        }
        if self.has_placement_auto() {
            return Err(per_node_with_auto());
        }
        if numa_cells == 0 {
            return Err(XmlError::xml(
                "Element 'memnode' is invalid without any guest NUMA cells",
            ));
        }
        for n in &self.memnodes {
            if n.cellid as usize >= numa_cells {
                return Err(XmlError::xml(
                    "Argument 'cellid' in memnode element must correspond to existing guest's \
                     NUMA cell",
                ));
            }
        }
        self.check_restrictive()
    }

    /// A `restrictive` mode must be used by the memory and every memnode, or by none.
    fn check_restrictive(&self) -> Result<()> {
        let memory_mode = self.memory.as_ref().map_or(NumaMode::Strict, |m| m.mode);
        for n in &self.memnodes {
            if memory_mode == NumaMode::Restrictive && n.mode != NumaMode::Restrictive {
                return Err(XmlError::xml(
                    "'restrictive' mode is required in memnode element when mode is \
                     'restrictive' in memory element",
                ));
            }
            if n.mode == NumaMode::Restrictive && memory_mode != NumaMode::Restrictive {
                return Err(XmlError::xml(
                    "'restrictive' mode is required in memory element when mode is \
                     'restrictive' in memnode element",
                ));
            }
        }
        Ok(())
    }
}

fn unsupported_value(el: &Element, what: &str, value: &str) -> XmlError {
    XmlError::unsupported(format!("Unsupported NUMA memory {what} '{value}'")).at(el.position)
}

fn parse_memory(el: &Element, ctx: &mut Context) -> Result<NumatuneMemory> {
    let mut c = Cursor::new(el);
    let mode = match c.attr("mode") {
        None => NumaMode::Strict,
        Some(v) => {
            NumaMode::from_xml_str(v).ok_or_else(|| unsupported_value(el, "tuning mode", v))?
        }
    };
    let mut placement = match c.attr("placement") {
        None => None,
        Some(v) => Some(
            NumaPlacement::from_xml_str(v)
                .ok_or_else(|| unsupported_value(el, "placement mode", v))?,
        ),
    };
    let mut nodeset = match c.attr("nodeset") {
        Some(t) => Some(util::nonempty_bitmap(el, "nodeset", t)?),
        None => None,
    };
    if nodeset.is_some() && matches!(placement, None | Some(NumaPlacement::Default)) {
        placement = Some(NumaPlacement::Static);
    }
    match placement {
        Some(NumaPlacement::Static) if nodeset.is_none() => {
            return Err(static_without_nodeset().at(el.position))
        }
        // libvirt drops a node set that numad's advice replaces.
        Some(NumaPlacement::Auto) => nodeset = None,
        _ => {}
    }
    Ok(NumatuneMemory {
        mode,
        placement,
        nodeset,
        unknown: c.finish(ctx),
    })
}

fn parse_memnode(el: &Element, ctx: &mut Context) -> Result<MemNode> {
    let mut c = Cursor::new(el);
    let cellid = c.required_uint("cellid", 10, PropFlags::NONE)?;
    let mode = c.enum_attr("mode")?.unwrap_or(NumaMode::Strict);
    let Some(text) = c.attr("nodeset") else {
        return Err(
            XmlError::xml("Missing required nodeset attribute in memnode element").at(el.position),
        );
    };
    let nodeset = util::nonempty_bitmap(el, "nodeset", text)?;
    Ok(MemNode {
        cellid,
        mode,
        nodeset,
        unknown: c.finish(ctx),
    })
}

impl XmlModel for Numatune {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let memory = match c.child("memory") {
            Some(m) => Some(parse_memory(m, ctx)?),
            None => None,
        };
        let mut memnodes: Vec<MemNode> = Vec::new();
        for n in c.children("memnode") {
            if memory
                .as_ref()
                .is_some_and(|m| m.placement == Some(NumaPlacement::Auto))
            {
                return Err(per_node_with_auto().at(n.position));
            }
            let node = parse_memnode(n, ctx)?;
            if memnodes.iter().any(|o| o.cellid == node.cellid) {
                return Err(XmlError::xml(format!(
                    "Multiple memnode elements with cellid {}",
                    node.cellid
                ))
                .at(n.position));
            }
            memnodes.push(node);
        }
        memnodes.sort_by_key(|n| n.cellid);
        let numatune = Numatune {
            memory,
            memnodes,
            unknown: c.finish(ctx),
        };
        numatune
            .check_restrictive()
            .map_err(|e| e.at(el.position))?;
        Ok(numatune)
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("numatune");
        if let Some(m) = &self.memory {
            let mut mb = Builder::new("memory");
            mb.attr("mode", m.mode);
            match (&m.nodeset, m.placement) {
                (Some(set), _) => {
                    mb.attr("nodeset", set);
                }
                (None, Some(p)) => {
                    mb.attr("placement", p);
                }
                (None, None) => {}
            }
            b.child(mb.finish(&m.unknown));
        }
        for n in &self.memnodes {
            let mut nb = Builder::new("memnode");
            nb.attr("cellid", n.cellid)
                .attr("mode", n.mode)
                .attr("nodeset", &n.nodeset);
            b.child(nb.finish(&n.unknown));
        }
        b.finish(&self.unknown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxvirt_xml::{parse, to_string};

    fn read(xml: &str) -> Result<Numatune> {
        Numatune::from_element(&parse(xml).unwrap(), &mut Context::default())
    }

    fn fmt(n: &Numatune) -> String {
        to_string(&n.to_element())
    }

    #[test]
    fn round_trips_and_normalises() {
        let xml = "<numatune>\n  <memory mode='strict' nodeset='0-1'/>\n  \
                   <memnode cellid='0' mode='strict' nodeset='0'/>\n  \
                   <memnode cellid='1' mode='preferred' nodeset='1'/>\n</numatune>\n";
        assert_eq!(fmt(&read(xml).unwrap()), xml);
        let n = read(
            "<numatune><memnode cellid='1' nodeset='1'/><memnode cellid='0' nodeset='0'/>\
             <memory nodeset='0-1' placement='static'/></numatune>",
        )
        .unwrap();
        assert_eq!(fmt(&n), xml.replace("preferred", "strict"));
        let n = read(
            "<numatune><memory mode='preferred' placement='auto' nodeset='0-5,^4'/></numatune>",
        )
        .unwrap();
        assert_eq!(
            fmt(&n),
            "<numatune>\n  <memory mode='preferred' placement='auto'/>\n</numatune>\n"
        );
    }

    #[test]
    fn placement_follows_vcpus() {
        let mut n = read("<numatune><memory mode='preferred'/></numatune>").unwrap();
        assert_eq!(
            fmt(&n),
            "<numatune>\n  <memory mode='preferred'/>\n</numatune>\n"
        );
        n.apply_defaults(VcpuPlacement::Auto);
        assert_eq!(
            fmt(&n),
            "<numatune>\n  <memory mode='preferred' placement='auto'/>\n</numatune>\n"
        );
        let mut n = read("<numatune><memory mode='preferred'/></numatune>").unwrap();
        n.apply_defaults(VcpuPlacement::Static);
        assert_eq!(
            n.validate(0).unwrap_err().message,
            "nodeset for NUMA memory tuning must be set if 'placement' is 'static'"
        );
        assert!(Numatune::auto_placement().has_placement_auto());
    }

    #[test]
    fn libvirt_errors() {
        let msg = |xml: &str| read(xml).unwrap_err().message;
        assert_eq!(
            msg("<numatune><memory mode='interleave' placement='static'/></numatune>"),
            "nodeset for NUMA memory tuning must be set if 'placement' is 'static'"
        );
        assert_eq!(
            msg("<numatune><memory mode='x'/></numatune>"),
            "Unsupported NUMA memory tuning mode 'x'"
        );
        assert_eq!(
            msg("<numatune><memory placement='auto'/><memnode cellid='0' nodeset='3'/></numatune>"),
            "Per-node binding is not compatible with automatic NUMA placement."
        );
        assert_eq!(
            msg("<numatune><memory nodeset='0,^0'/></numatune>"),
            "Invalid value of 'nodeset': 0,^0"
        );
        assert_eq!(
            msg("<numatune><memnode cellid='0'/></numatune>"),
            "Missing required nodeset attribute in memnode element"
        );
        assert_eq!(
            msg("<numatune><memnode cellid='0' nodeset='1'/><memnode cellid='0' nodeset='1'/></numatune>"),
            "Multiple memnode elements with cellid 0"
        );
        assert_eq!(
            msg("<numatune><memory mode='restrictive' nodeset='0'/>\
                 <memnode cellid='0' mode='strict' nodeset='1'/></numatune>"),
            "'restrictive' mode is required in memnode element when mode is 'restrictive' in \
             memory element"
        );
        let n = read("<numatune><memnode cellid='1' nodeset='1'/></numatune>").unwrap();
        assert_eq!(
            n.validate(0).unwrap_err().message,
            "Element 'memnode' is invalid without any guest NUMA cells"
        );
        assert_eq!(
            n.validate(1).unwrap_err().message,
            "Argument 'cellid' in memnode element must correspond to existing guest's NUMA cell"
        );
        assert!(n.validate(2).is_ok());
    }
}
