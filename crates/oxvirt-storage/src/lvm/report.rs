//! The LVM tools' JSON reports (`--reportformat json --units b --nosuffix`), parsed into
//! typed values with sizes in bytes.

use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};
use serde_json::Value;

/// A volume group's size, from `vgs -o vg_size,vg_free`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VgInfo {
    /// `vg_size`: the pool's capacity, in bytes.
    pub size: u64,
    /// `vg_free`: the pool's available space, in bytes.
    pub free: u64,
}

/// One row of `lvs` with the fields [`crate::lvm::LVS_FIELDS`] names: one segment of a
/// logical volume (a volume has as many rows as segments).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LvRow {
    /// `lv_name`.
    pub name: String,
    /// `lv_path`: `/dev/VG/LV`.
    pub path: String,
    /// `origin`: the origin of a snapshot; `[NAME_vorigin]` for a sparse (`--virtualsize`)
    /// volume; empty otherwise.
    pub origin: String,
    /// `lv_uuid`: libvirt's volume key.
    pub uuid: String,
    /// `devices`: `PATH(FIRST_EXTENT)`, comma-separated for striped segments.
    pub devices: String,
    /// `segtype`: `linear`, `striped`, `mirror`, `raid1`, `snapshot`, ...
    pub segtype: String,
    /// `stripes`.
    pub stripes: u32,
    /// `seg_size`, in bytes.
    pub seg_size: u64,
    /// `vg_extent_size`, in bytes.
    pub extent_size: u64,
    /// `lv_size`, in bytes.
    pub size: u64,
    /// `lv_attr`: `-wi-a-----`; character 0 is the volume type (`s` snapshot, `t` thin
    /// pool), character 4 the state (`a` active; `X` unknown, where there is no
    /// device-mapper).
    pub attr: String,
}

/// A piece of a physical volume a logical volume uses, as libvirt's `<extent>` gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extent {
    /// The physical volume.
    pub path: String,
    /// The first byte on it.
    pub start: u64,
    /// The byte after the last one.
    pub end: u64,
}

/// A logical volume as a `logical` pool lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogicalVolume {
    /// The volume's name (`lv_name`).
    pub name: String,
    /// Its key: the LV's UUID, as libvirt uses it.
    pub key: String,
    /// Its device path, `/dev/VG/LV`.
    pub path: String,
    /// Its size in bytes (`lv_size`); libvirt reports it as the allocation, and as the
    /// capacity when the device cannot be opened.
    pub size: u64,
    /// Whether it is a sparse (`--virtualsize`, snapshot-type) volume.
    pub sparse: bool,
    /// The path of its backing volume (the snapshot origin), if it has one.
    pub backing: Option<String>,
    /// `lv_attr`.
    pub attr: String,
    /// Where its data lies, segment by segment.
    pub extents: Vec<Extent>,
}

impl LogicalVolume {
    /// Whether LVM reports it active (`lv_attr` character 4 is `a`).
    pub fn is_active(&self) -> bool {
        self.attr.as_bytes().get(4) == Some(&b'a')
    }

    /// Whether it is a thin pool (`lv_attr` character 0 is `t`), which libvirt never lists.
    pub fn is_thin_pool(&self) -> bool {
        self.attr.as_bytes().first() == Some(&b't')
    }
}

/// A volume group and its physical volumes, as `find-storage-pool-sources` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolSource {
    /// The volume group's name (`<name>`).
    pub name: String,
    /// Its physical volumes, in `pvs` order (`<device path=.../>`).
    pub devices: Vec<String>,
}

fn internal(msg: impl AsRef<str>) -> VirError {
    VirError::new(ErrorDomain::Storage, ErrorCode::InternalError, msg)
}

/// The rows of a report: `report[0].<kind>` (`vg`, `lv`, `pv`).
fn rows<'a>(json: &'a Value, kind: &str, tool: &str) -> Result<&'a Vec<Value>, VirError> {
    json.get("report")
        .and_then(|r| r.get(0))
        .and_then(|r| r.get(kind))
        .and_then(Value::as_array)
        .ok_or_else(|| internal(format!("cannot parse {tool} output: no '{kind}' report")))
}

fn parse_json(text: &str, tool: &str) -> Result<Value, VirError> {
    serde_json::from_str(text).map_err(|e| internal(format!("cannot parse {tool} output: {e}")))
}

fn field<'a>(row: &'a Value, name: &str, tool: &str) -> Result<&'a str, VirError> {
    row.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| internal(format!("cannot parse {tool} output: no field '{name}'")))
}

/// A size in bytes as `--units b` prints it, with or without the `B` suffix.
pub fn parse_bytes(text: &str) -> Option<u64> {
    let t = text.trim();
    let t = t.strip_suffix(['B', 'b']).unwrap_or(t);
    t.parse().ok()
}

fn bytes(row: &Value, name: &str, tool: &str, what: &str) -> Result<u64, VirError> {
    parse_bytes(field(row, name, tool)?).ok_or_else(|| internal(what))
}

/// Parses `vgs --reportformat json --units b -o vg_size,vg_free VG`.
pub fn parse_vgs(text: &str) -> Result<VgInfo, VirError> {
    let json = parse_json(text, "vgs")?;
    let row = rows(&json, "vg", "vgs")?
        .first()
        .ok_or_else(|| internal("cannot parse vgs output: no volume group"))?;
    Ok(VgInfo {
        size: bytes(row, "vg_size", "vgs", "malformed volume group size value")?,
        free: bytes(row, "vg_free", "vgs", "malformed volume group free value")?,
    })
}

/// Parses `lvs --reportformat json --units b -o` [`crate::lvm::LVS_FIELDS`] into rows.
pub fn parse_lvs_rows(text: &str) -> Result<Vec<LvRow>, VirError> {
    let json = parse_json(text, "lvs")?;
    rows(&json, "lv", "lvs")?
        .iter()
        .map(|row| {
            let s = |name| field(row, name, "lvs").map(str::to_string);
            Ok(LvRow {
                name: s("lv_name")?,
                path: s("lv_path")?,
                origin: s("origin")?,
                uuid: s("lv_uuid")?,
                devices: s("devices")?,
                segtype: s("segtype")?,
                stripes: field(row, "stripes", "lvs")?
                    .parse()
                    .map_err(|_| internal("malformed volume extent stripes value"))?,
                seg_size: bytes(
                    row,
                    "seg_size",
                    "lvs",
                    "malformed volume extent length value",
                )?,
                extent_size: bytes(
                    row,
                    "vg_extent_size",
                    "lvs",
                    "malformed volume extent size value",
                )?,
                size: bytes(row, "lv_size", "lvs", "malformed volume allocation value")?,
                attr: s("lv_attr")?,
            })
        })
        .collect()
}

/// The extents of one segment, as libvirt reads them: one per device of a striped,
/// mirror or raid segment, else one; each from `first extent × extent size` for the
/// segment's size.
pub fn segment_extents(row: &LvRow) -> Result<Vec<Extent>, VirError> {
    if row.devices.is_empty() {
        return Ok(Vec::new());
    }
    let multi =
        matches!(row.segtype.as_str(), "striped" | "mirror") || row.segtype.starts_with("raid");
    let wanted = if multi {
        row.stripes.max(1) as usize
    } else {
        1
    };
    let parts: Vec<&str> = row.devices.split(',').collect();
    if parts.len() < wanted {
        return Err(internal("malformed volume extent devices value"));
    }
    parts[..wanted]
        .iter()
        .map(|part| {
            let (path, rest) = part
                .rsplit_once('(')
                .ok_or_else(|| internal("malformed volume extent devices value"))?;
            let first: u64 = rest
                .strip_suffix(')')
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| internal("malformed volume extent offset value"))?;
            let start = first * row.extent_size;
            Ok(Extent {
                path: path.to_string(),
                start,
                end: start + row.seg_size,
            })
        })
        .collect()
}

/// Groups `lvs` rows into volumes (in first-seen order), collecting their extents. The
/// volume's backing path is `/dev/VG/ORIGIN` unless the origin is LVM's internal
/// `[..._vorigin]` of a sparse volume.
pub fn group_volumes(rows: &[LvRow]) -> Result<Vec<LogicalVolume>, VirError> {
    let mut vols: Vec<LogicalVolume> = Vec::new();
    for row in rows {
        let extents = segment_extents(row)?;
        if let Some(v) = vols.iter_mut().find(|v| v.name == row.name) {
            v.extents.extend(extents);
            continue;
        }
        let backing = (!row.origin.is_empty() && !row.origin.starts_with('[')).then(|| {
            match row.path.rsplit_once('/') {
                Some((dir, _)) => format!("{dir}/{}", row.origin),
                None => row.origin.clone(),
            }
        });
        vols.push(LogicalVolume {
            name: row.name.clone(),
            key: row.uuid.clone(),
            path: row.path.clone(),
            size: row.size,
            sparse: row.attr.starts_with('s'),
            backing,
            attr: row.attr.clone(),
            extents,
        });
    }
    Ok(vols)
}

/// Parses `pvs --reportformat json -o pv_name,vg_name` into volume groups with their
/// physical volumes, in first-seen order. Physical volumes in no volume group are left
/// out, as libvirt leaves them out.
pub fn parse_pvs(text: &str) -> Result<Vec<PoolSource>, VirError> {
    let json = parse_json(text, "pvs")?;
    let mut sources: Vec<PoolSource> = Vec::new();
    for row in rows(&json, "pv", "pvs")? {
        let pv = field(row, "pv_name", "pvs")?;
        let vg = field(row, "vg_name", "pvs")?;
        if pv.is_empty() || vg.is_empty() {
            continue;
        }
        match sources.iter_mut().find(|s| s.name == vg) {
            Some(s) => s.devices.push(pv.to_string()),
            None => sources.push(PoolSource {
                name: vg.to_string(),
                devices: vec![pv.to_string()],
            }),
        }
    }
    Ok(sources)
}

/// libvirt's `<sources>` document for a `logical` pool's sources, as
/// `virConnectFindStoragePoolSources` returns it.
pub fn format_sources(sources: &[PoolSource]) -> String {
    let mut out = String::from("<sources>\n");
    for s in sources {
        out.push_str("  <source>\n");
        for d in &s.devices {
            out.push_str(&format!("    <device path='{}'/>\n", escape(d)));
        }
        out.push_str(&format!("    <name>{}</name>\n", escape(&s.name)));
        out.push_str("    <format type='lvm2'/>\n");
        out.push_str("  </source>\n");
    }
    out.push_str("</sources>\n");
    out
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\'', "&apos;")
        .replace('"', "&quot;")
}
