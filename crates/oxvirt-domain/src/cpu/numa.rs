//! Guest NUMA topology: `<cpu><numa>`.
//!
//! Cells are kept by id, as libvirt keeps them (it writes them in id order, each with its
//! id). Distances are completed as libvirt completes them: each cell that has or is given a
//! distance lists itself at 10, and a distance given one way is used the other way unless
//! that is given too. Cell caches and `<interconnects>` are kept as written.

use oxvirt_xml::model::PropFlags;
use oxvirt_xml::types::cpuset::CpuSet;
use oxvirt_xml::types::size::parse_memory_kib_for;
use oxvirt_xml::{Builder, Context, Cursor, Element, Result, Unknown, XmlError};

use crate::util;

oxvirt_xml::xml_enum! {
    /// How a cell's memory is mapped (`memAccess`).
    pub enum MemAccess {
        /// Shared with other processes (vhost-user, virtiofs).
        Shared = "shared",
        /// Private to QEMU.
        Private = "private",
    }
}

/// The distance of a cell to itself.
const LOCAL_DISTANCE: u32 = 10;
/// The largest distance (unreachable).
const UNREACHABLE: u32 = 255;

/// The guest NUMA topology (`<numa>`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Numa {
    /// The cells, by id.
    pub cells: Vec<NumaCell>,
    /// What the model does not know (`<interconnects>` included), kept as written.
    pub unknown: Unknown,
}

/// One guest NUMA cell (`<cell id= cpus= memory= unit= memAccess= discard=>`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NumaCell {
    /// The cell id, from 0.
    pub id: u32,
    /// Its vCPUs.
    pub cpus: Option<CpuSet>,
    /// Its memory in KiB.
    pub memory: u64,
    /// How its memory is mapped.
    pub mem_access: Option<MemAccess>,
    /// Whether freed memory is discarded.
    pub discard: Option<bool>,
    /// Distances to cells (`<distances>`).
    pub distances: Option<Distances>,
    /// What the model does not know (`<cache>` included), kept as written.
    pub unknown: Unknown,
}

/// A cell's distances (`<distances>`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Distances {
    /// The distance to each cell that has one, by cell id.
    pub siblings: Vec<Sibling>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

/// A distance (`<sibling id= value=/>`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sibling {
    /// The other cell.
    pub id: u32,
    /// The distance, 10 to 255.
    pub value: u32,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl Numa {
    /// The memory of all cells, in KiB.
    pub fn memory_kib(&self) -> u64 {
        self.cells.iter().map(|c| c.memory).sum()
    }

    /// The number of vCPUs named by the cells.
    pub fn cpu_count(&self) -> usize {
        self.cells
            .iter()
            .filter_map(|c| c.cpus.as_ref())
            .map(CpuSet::len)
            .sum()
    }

    /// The highest vCPU named by a cell (0 when none is).
    pub fn max_cpu_id(&self) -> u32 {
        self.cells
            .iter()
            .filter_map(|c| c.cpus.as_ref().and_then(CpuSet::last))
            .max()
            .unwrap_or(0)
    }

    /// Reads `<numa>` as libvirt's `virDomainNumaDefParseXML` does.
    pub fn parse(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let cell_elements = c.children("cell");
        if cell_elements.is_empty() {
            return Err(XmlError::xml("NUMA topology defined without NUMA cells").at(el.position));
        }
        let n = cell_elements.len();
        let mut matrix = Matrix::new(n);
        let mut cells: Vec<NumaCell> = Vec::with_capacity(n);
        for (i, cell) in cell_elements.iter().enumerate() {
            let parsed = parse_cell(cell, i as u32, &cells, &mut matrix, ctx)?;
            cells.retain(|o| o.id != parsed.id);
            cells.push(parsed);
        }
        for cell in &mut cells {
            let id = cell.id as usize;
            if let Some(row) = &matrix.rows[id] {
                let mut d = cell.distances.take().unwrap_or_default();
                let explicit = std::mem::take(&mut d.siblings);
                d.siblings = row
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| **v != 0)
                    .map(|(j, v)| Sibling {
                        id: j as u32,
                        value: *v,
                        unknown: explicit
                            .iter()
                            .rev()
                            .find(|s| s.id as usize == j)
                            .map(|s| s.unknown.clone())
                            .unwrap_or_default(),
                    })
                    .collect();
                cell.distances = Some(d);
            }
        }
        cells.sort_by_key(|c| c.id);
        Ok(Numa {
            cells,
            unknown: c.finish_known(ctx, &["interconnects"]),
        })
    }

    /// The element, as libvirt writes it.
    pub fn to_element(&self) -> Element {
        let mut b = Builder::new("numa");
        for cell in &self.cells {
            let mut cb = Builder::new("cell");
            cb.attr("id", cell.id);
            cb.opt_attr("cpus", cell.cpus.as_ref());
            cb.attr("memory", cell.memory).attr("unit", "KiB");
            cb.opt_attr("memAccess", cell.mem_access);
            cb.yes_no("discard", cell.discard);
            if let Some(d) = &cell.distances {
                let mut db = Builder::new("distances");
                for s in &d.siblings {
                    let mut sb = Builder::new("sibling");
                    sb.attr("id", s.id).attr("value", s.value);
                    db.child(sb.finish(&s.unknown));
                }
                cb.child(db.finish(&d.unknown));
            }
            b.child(cb.finish(&cell.unknown));
        }
        b.finish(&self.unknown)
    }
}

/// The distances given so far, one row per cell that has any (0 = none).
struct Matrix {
    rows: Vec<Option<Vec<u32>>>,
}

impl Matrix {
    fn new(n: usize) -> Self {
        Matrix {
            rows: vec![None; n],
        }
    }

    fn row(&mut self, cell: usize) -> &mut Vec<u32> {
        let n = self.rows.len();
        self.rows[cell].get_or_insert_with(|| {
            let mut r = vec![0; n];
            r[cell] = LOCAL_DISTANCE;
            r
        })
    }

    fn set(&mut self, from: usize, to: usize, value: u32) {
        self.row(from)[to] = value;
        let back = &mut self.row(to)[from];
        if *back == 0 {
            *back = value;
        }
    }
}

fn parse_cell(
    el: &Element,
    index: u32,
    done: &[NumaCell],
    matrix: &mut Matrix,
    ctx: &mut Context,
) -> Result<NumaCell> {
    let n = matrix.rows.len();
    let mut c = Cursor::new(el);
    let id = c.prop_uint("id", 10, PropFlags::NONE)?.unwrap_or(index);
    if id as usize >= n {
        return Err(XmlError::xml(
            "Exactly one 'cell' element per guest NUMA cell allowed, non-contiguous ranges or \
             ranges not starting from 0 are not allowed",
        )
        .at(el.position));
    }
    if done.iter().any(|o| o.id == id && o.memory != 0) {
        return Err(
            XmlError::xml(format!("Duplicate NUMA cell info for cell id '{id}'")).at(el.position),
        );
    }
    let cpus = match c.attr("cpus") {
        Some(t) => Some(util::bitmap(el, t)?).filter(|s| !s.is_empty()),
        None => None,
    };
    if let Some(mine) = &cpus {
        let mut others: Vec<&NumaCell> = done.iter().filter(|o| o.id != id).collect();
        others.sort_by_key(|o| o.id);
        if let Some(o) = others
            .iter()
            .find(|o| o.cpus.as_ref().is_some_and(|s| s.intersects(mine)))
        {
            return Err(XmlError::unsupported(format!(
                "NUMA cells {id} and {} have overlapping vCPU ids",
                o.id
            ))
            .at(el.position));
        }
    }
    let memory = match c.attr("memory") {
        Some(t) => {
            parse_memory_kib_for(t, c.attr("unit"), "./@memory").map_err(|e| e.at(el.position))?
        }
        None => {
            return Err(XmlError::xml("missing element or attribute './@memory'").at(el.position))
        }
    };
    let mem_access = c.enum_attr("memAccess")?;
    let discard = c.prop_yes_no("discard", PropFlags::NONE)?;
    let distances = match c.child("distances") {
        Some(d) => Some(parse_distances(d, id, matrix, ctx)?),
        None => None,
    };
    Ok(NumaCell {
        id,
        cpus,
        memory,
        mem_access,
        discard,
        distances,
        unknown: c.finish_known(ctx, &["cache"]),
    })
}

fn parse_distances(
    el: &Element,
    cell: u32,
    matrix: &mut Matrix,
    ctx: &mut Context,
) -> Result<Distances> {
    let n = matrix.rows.len();
    let mut c = Cursor::new(el);
    let sibling_elements = c.children("sibling");
    if sibling_elements.is_empty() {
        return Err(XmlError::xml("NUMA distances defined without siblings").at(el.position));
    }
    let mut siblings = Vec::new();
    for s in sibling_elements {
        let mut sc = Cursor::new(s);
        let id = sc.required_uint("id", 10, PropFlags::NONE)?;
        if id as usize >= n {
            return Err(XmlError::xml(format!(
                "'sibling_id {id}' does not refer to a valid cell within NUMA 'cell id {cell}'"
            ))
            .at(s.position));
        }
        let value = sc.required_uint("value", 10, PropFlags::NONE)?;
        if !(LOCAL_DISTANCE..=UNREACHABLE).contains(&value)
            || (id == cell && value != LOCAL_DISTANCE)
            || (id != cell && value == LOCAL_DISTANCE)
        {
            return Err(XmlError::xml(format!(
                "'value {value}' is invalid for 'sibling id {id}' under NUMA 'cell id {cell}'"
            ))
            .at(s.position));
        }
        matrix.set(cell as usize, id as usize, value);
        siblings.push(Sibling {
            id,
            value,
            unknown: sc.finish(ctx),
        });
    }
    Ok(Distances {
        siblings,
        unknown: c.finish(ctx),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxvirt_xml::{parse, to_string};

    fn read(xml: &str) -> Result<Numa> {
        Numa::parse(&parse(xml).unwrap(), &mut Context::default())
    }

    #[test]
    fn cells_by_id() {
        let n = read(
            "<numa><cell id='1' cpus='8-15' memory='109550' unit='KiB'/>\
             <cell id='0' cpus='0-7' memory='1' unit='GiB' memAccess='shared' discard='yes'/></numa>",
        )
        .unwrap();
        assert_eq!(
            to_string(&n.to_element()),
            "<numa>\n  <cell id='0' cpus='0-7' memory='1048576' unit='KiB' memAccess='shared' \
             discard='yes'/>\n  <cell id='1' cpus='8-15' memory='109550' unit='KiB'/>\n</numa>\n"
        );
        assert_eq!(n.memory_kib(), 1048576 + 109550);
        assert_eq!(n.cpu_count(), 16);
        assert_eq!(n.max_cpu_id(), 15);
    }

    #[test]
    fn distances_completed() {
        let n = read(
            "<numa><cell id='0' cpus='0' memory='1'><distances><sibling id='1' value='21'/>\
             </distances></cell><cell id='1' cpus='1' memory='1'/></numa>",
        )
        .unwrap();
        let out = to_string(&n.to_element());
        assert_eq!(
            out,
            "<numa>\n  <cell id='0' cpus='0' memory='1' unit='KiB'>\n    <distances>\n      \
             <sibling id='0' value='10'/>\n      <sibling id='1' value='21'/>\n    \
             </distances>\n  </cell>\n  <cell id='1' cpus='1' memory='1' unit='KiB'>\n    \
             <distances>\n      <sibling id='0' value='21'/>\n      \
             <sibling id='1' value='10'/>\n    </distances>\n  </cell>\n</numa>\n"
        );
        assert_eq!(read(&out).unwrap(), n);
    }

    #[test]
    fn libvirt_errors() {
        let msg = |xml: &str| read(xml).unwrap_err().message;
        assert_eq!(
            msg("<numa><cell id='1' memory='1'/><cell id='2' memory='1'/></numa>"),
            "Exactly one 'cell' element per guest NUMA cell allowed, non-contiguous ranges or \
             ranges not starting from 0 are not allowed"
        );
        assert_eq!(
            msg("<numa><cell memory='1' memAccess='invalid'/></numa>"),
            "Invalid value for attribute 'memAccess' in element 'cell': 'invalid'."
        );
        assert_eq!(msg("<numa/>"), "NUMA topology defined without NUMA cells");
        assert_eq!(
            msg("<numa><cell cpus='0'/></numa>"),
            "missing element or attribute './@memory'"
        );
        assert_eq!(
            msg("<numa><cell cpus='0-1' memory='1'/><cell cpus='1' memory='1'/></numa>"),
            "NUMA cells 1 and 0 have overlapping vCPU ids"
        );
        assert_eq!(
            msg("<numa><cell id='0' memory='1'/><cell id='0' memory='1'/></numa>"),
            "Duplicate NUMA cell info for cell id '0'"
        );
        assert_eq!(
            msg(
                "<numa><cell memory='1'><distances><sibling id='0' value='20'/></distances>\
                 </cell></numa>"
            ),
            "'value 20' is invalid for 'sibling id 0' under NUMA 'cell id 0'"
        );
    }
}
