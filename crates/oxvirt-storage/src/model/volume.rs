//! `<volume>`: libvirt's `virStorageVolDefParseXML` and `virStorageVolDefFormat`.

use std::fmt;
use std::str::FromStr;

use oxvirt_xml::model::str_to_long_ui;
use oxvirt_xml::{Element, ErrorCode, ErrorDomain, Node, VirError};

use super::common::{child_attr, child_text, first, scaled, Perms, Res};
use super::pool::PoolType;
use super::{err, xml_err};

/// A volume type (`<volume type>`): libvirt's `virStorageVolType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum VolumeType {
    /// `file`.
    #[default]
    File,
    /// `block`.
    Block,
    /// `dir`.
    Dir,
    /// `network`.
    Network,
    /// `netdir`.
    Netdir,
    /// `ploop`.
    Ploop,
}

impl VolumeType {
    /// Every type, in libvirt's order.
    pub const ALL: [VolumeType; 6] = [
        VolumeType::File,
        VolumeType::Block,
        VolumeType::Dir,
        VolumeType::Network,
        VolumeType::Netdir,
        VolumeType::Ploop,
    ];

    /// The name in XML.
    pub fn as_str(self) -> &'static str {
        match self {
            VolumeType::File => "file",
            VolumeType::Block => "block",
            VolumeType::Dir => "dir",
            VolumeType::Network => "network",
            VolumeType::Netdir => "netdir",
            VolumeType::Ploop => "ploop",
        }
    }
}

impl fmt::Display for VolumeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for VolumeType {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        VolumeType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or(())
    }
}

/// The image features a `<target><features>` may list, in libvirt's order.
pub const VOLUME_FEATURES: [&str; 2] = ["lazy_refcounts", "extended_l2"];

/// File formats of file-based pools (libvirt's `virStorageFileFormat`, `none` excluded
/// from what a document may name).
const FILE_FORMATS: [&str; 17] = [
    "none", "raw", "dir", "bochs", "cloop", "dmg", "iso", "vpc", "vdi", "fat", "vhd", "ploop",
    "cow", "qcow", "qcow2", "qed", "vmdk",
];

/// Partition types of disk pools (libvirt's `virStorageVolFormatDisk`).
const DISK_FORMATS: [&str; 8] = [
    "none",
    "linux",
    "fat16",
    "fat32",
    "linux-swap",
    "linux-lvm",
    "linux-raid",
    "extended",
];

/// The volume formats of a pool type: (default, accepted names); `None` when volumes of
/// the type have no format.
fn vol_formats(t: PoolType) -> Option<(&'static str, &'static [&'static str])> {
    match t {
        PoolType::Dir
        | PoolType::Fs
        | PoolType::Netfs
        | PoolType::Rbd
        | PoolType::Gluster
        | PoolType::Vstorage => Some(("raw", &FILE_FORMATS[1..])),
        PoolType::Disk => Some(("none", &DISK_FORMATS)),
        _ => None,
    }
}

/// When a `<volume>` may leave out `<capacity>` (libvirt's `VIR_VOL_XML_PARSE_*` flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapacityRule {
    /// Always required (no flag).
    Required,
    /// Optional when a backing store is given (`VIR_VOL_XML_PARSE_OPT_CAPACITY`, what
    /// `virStorageVolCreateXML` uses).
    UnlessBacked,
    /// Optional (`VIR_VOL_XML_PARSE_NO_CAPACITY`, what `virStorageVolCreateXMLFrom` uses:
    /// the capacity comes from the source volume).
    Optional,
}

/// A file time of `<timestamps>`: seconds and nanoseconds since the epoch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileTime {
    /// Whole seconds.
    pub sec: u64,
    /// Nanoseconds (written as nine digits after a dot when non-zero).
    pub nsec: u32,
}

/// `<timestamps>` of a file volume: filled by the backends from `stat`, never read from a
/// document, as libvirt. An unknown time is `None` and not written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timestamps {
    /// `<atime>`: last access.
    pub atime: Option<FileTime>,
    /// `<mtime>`: last modification.
    pub mtime: Option<FileTime>,
    /// `<ctime>`: last status change.
    pub ctime: Option<FileTime>,
    /// `<btime>`: birth.
    pub btime: Option<FileTime>,
}

/// A volume's `<target>` or `<backingStore>`: path, format, permissions and, for the
/// target, the image options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VolumeTarget {
    /// `<path>`.
    pub path: Option<String>,
    /// `<format type>`: a file format, or a partition type in disk pools; `None` in pools
    /// whose volumes have no format.
    pub format: Option<String>,
    /// `<permissions>`.
    pub perms: Perms,
    /// `<timestamps>` (live state).
    pub timestamps: Option<Timestamps>,
    /// `<encryption>`, kept as written.
    pub encryption: Option<Element>,
    /// `<compat>`: the qcow2 compatibility level (`1.1` when features are given).
    pub compat: Option<String>,
    /// `<nocow/>`: create without copy-on-write (not written back, as libvirt).
    pub nocow: bool,
    /// `<clusterSize>` in bytes; 0 when unset.
    pub cluster_size: u64,
    /// `<features>`: the names from [`VOLUME_FEATURES`], in libvirt's order;
    /// `None` without `<features>`.
    pub features: Option<Vec<String>>,
}

/// A volume's extent on a device (`<source><device path><extent start end/>`): where a
/// disk partition or a logical volume lies. Filled by the backends, never read from a
/// document, as libvirt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeExtent {
    /// The device's path.
    pub path: String,
    /// The first byte.
    pub start: u64,
    /// The byte past the end.
    pub end: u64,
}

/// A storage volume's definition: libvirt's `virStorageVolDef`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    /// The type of the pool the volume belongs to (format names depend on it).
    pub pool_type: PoolType,
    /// `type`.
    pub vol_type: VolumeType,
    /// `<name>`.
    pub name: String,
    /// `<key>`.
    pub key: Option<String>,
    /// `<source>` extents, grouped by device when written.
    pub extents: Vec<VolumeExtent>,
    /// `<capacity>` in bytes.
    pub capacity: u64,
    /// `<allocation>` in bytes (the capacity when the document has none).
    pub allocation: u64,
    /// Whether the document gave `<allocation>`.
    pub has_allocation: bool,
    /// `<physical>` in bytes (live state, written when non-zero; not read).
    pub physical: u64,
    /// `<target>`.
    pub target: VolumeTarget,
    /// `<backingStore>`.
    pub backing_store: Option<VolumeTarget>,
}

fn read_format(el: &Element, pool: PoolType) -> Res<Option<String>> {
    let Some((default, names)) = vol_formats(pool) else {
        return Ok(None);
    };
    match child_attr(el, "format", "type") {
        None => Ok(Some(default.to_string())),
        Some(f) if names.contains(&f.as_str()) => Ok(Some(f)),
        Some(f) => Err(err(
            ErrorCode::ConfigUnsupported,
            format!("unknown volume format type {f}"),
        )),
    }
}

fn size(el: &Element, name: &str, bad: &str) -> Res<Option<u64>> {
    match first(el, name) {
        Some(c) if !c.text().is_empty() => {
            let unit = c.attr("unit").filter(|u| !u.is_empty());
            scaled(&c.text(), unit, bad, i64::MAX as u64).map(Some)
        }
        _ => Ok(None),
    }
}

fn check_compat(compat: &str) -> Res<()> {
    let ok = compat
        .split_once('.')
        .is_some_and(|(a, b)| str_to_long_ui(a, 10).is_some() && str_to_long_ui(b, 10).is_some());
    if ok {
        Ok(())
    } else {
        Err(xml_err("forbidden characters in 'compat' attribute"))
    }
}

impl Volume {
    /// Reads a `<volume>` document for a pool of type `pool` as libvirt's
    /// `virStorageVolDefParseString` with `VIR_VOL_XML_PARSE_OPT_CAPACITY` (the flag the
    /// storage driver passes: `<capacity>` may be left out when a backing store is
    /// given), with its checks and messages.
    pub fn parse(xml: &str, pool: PoolType) -> Result<Volume, VirError> {
        Volume::parse_with(xml, pool, CapacityRule::UnlessBacked)
    }

    /// [`Volume::parse`] with the given rule for a missing `<capacity>`.
    pub fn parse_with(xml: &str, pool: PoolType, rule: CapacityRule) -> Result<Volume, VirError> {
        let root =
            oxvirt_xml::parse(xml).map_err(|e| VirError::from_xml(e, ErrorDomain::Storage))?;
        if root.name != "volume" {
            return Err(xml_err(format!(
                "unexpected root element <{}>, expecting <volume>",
                root.name
            )));
        }
        let name =
            child_text(&root, "name").ok_or_else(|| xml_err("missing volume name element"))?;
        let key = child_text(&root, "key");
        let vol_type = match root.attr("type").filter(|t| !t.is_empty()) {
            None => VolumeType::File,
            Some(t) => t.parse().map_err(|()| {
                err(
                    ErrorCode::ConfigUnsupported,
                    format!("unknown volume type '{t}'"),
                )
            })?,
        };
        let mut backing_store = None;
        if let Some(b) = first(&root, "backingStore") {
            if let Some(path) = child_text(b, "path") {
                backing_store = Some(VolumeTarget {
                    path: Some(path),
                    format: read_format(b, pool)?,
                    perms: Perms::parse(first(b, "permissions"))?,
                    ..VolumeTarget::default()
                });
            }
        }
        let capacity = match size(&root, "capacity", "malformed capacity element")? {
            Some(c) => c,
            None if rule == CapacityRule::Optional => 0,
            None if rule == CapacityRule::UnlessBacked && backing_store.is_some() => 0,
            None => return Err(xml_err("missing capacity element")),
        };
        let allocation = size(&root, "allocation", "malformed capacity element")?;
        let mut target = VolumeTarget::default();
        let t = first(&root, "target");
        let empty = Element::new("target");
        let t = t.unwrap_or(&empty);
        target.path = child_text(t, "path");
        target.format = read_format(t, pool)?;
        target.perms = Perms::parse(first(t, "permissions"))?;
        target.encryption = first(t, "encryption").cloned().map(strip_positions);
        target.compat = child_text(t, "compat");
        if let Some(c) = &target.compat {
            check_compat(c)?;
        }
        target.nocow = first(t, "nocow").is_some();
        if let Some(cs) = first(t, "clusterSize") {
            let unit = cs.attr("unit").filter(|u| !u.is_empty());
            target.cluster_size = scaled(
                &cs.text(),
                unit,
                &format!(
                    "Invalid value '{}' for element or attribute './target/clusterSize'",
                    cs.text()
                ),
                u64::MAX,
            )?;
        }
        if let Some(f) = first(t, "features") {
            if target.compat.is_none() {
                target.compat = Some("1.1".into());
            }
            let mut set = [false; VOLUME_FEATURES.len()];
            for child in f.elements() {
                let i = VOLUME_FEATURES
                    .iter()
                    .position(|n| *n == child.name)
                    .ok_or_else(|| {
                        err(
                            ErrorCode::ConfigUnsupported,
                            format!("unsupported feature {}", child.name),
                        )
                    })?;
                set[i] = true;
            }
            target.features = Some(
                VOLUME_FEATURES
                    .iter()
                    .zip(set)
                    .filter(|(_, on)| *on)
                    .map(|(n, _)| n.to_string())
                    .collect(),
            );
        }
        Ok(Volume {
            pool_type: pool,
            vol_type,
            name,
            key,
            extents: Vec::new(),
            capacity,
            allocation: allocation.unwrap_or(capacity),
            has_allocation: allocation.is_some(),
            physical: 0,
            target,
            backing_store,
        })
    }

    /// The document in libvirt's layout (`virStorageVolDefFormat`).
    pub fn to_xml(&self) -> String {
        oxvirt_xml::to_string(&self.to_element())
    }

    /// The `<volume>` element.
    pub fn to_element(&self) -> Element {
        let mut root = Element::new("volume").with_attr("type", self.vol_type.as_str());
        root.push(Element::new("name").with_text(self.name.as_str()));
        if let Some(k) = &self.key {
            root.push(Element::new("key").with_text(k.as_str()));
        }
        if !self.extents.is_empty() {
            let mut source = Element::new("source");
            for x in &self.extents {
                let extent = Element::new("extent")
                    .with_attr("start", x.start.to_string())
                    .with_attr("end", x.end.to_string());
                let same = source.children.last_mut().and_then(|n| match n {
                    Node::Element(d) if d.attr("path") == Some(x.path.as_str()) => Some(d),
                    _ => None,
                });
                match same {
                    Some(d) => d.push(extent),
                    None => source.push(
                        Element::new("device")
                            .with_attr("path", x.path.as_str())
                            .with_child(extent),
                    ),
                }
            }
            root.push(source);
        }
        let mut sizes = vec![("capacity", self.capacity), ("allocation", self.allocation)];
        if self.physical != 0 {
            sizes.push(("physical", self.physical));
        }
        for (n, v) in sizes {
            root.push(
                Element::new(n)
                    .with_attr("unit", "bytes")
                    .with_text(v.to_string()),
            );
        }
        root.push(self.target_element(&self.target, "target"));
        if let Some(b) = &self.backing_store {
            root.push(self.target_element(b, "backingStore"));
        }
        root
    }

    fn target_element(&self, t: &VolumeTarget, name: &str) -> Element {
        let mut e = Element::new(name);
        if let Some(p) = &t.path {
            e.push(Element::new("path").with_text(p.as_str()));
        }
        if vol_formats(self.pool_type).is_some() {
            if let Some(f) = &t.format {
                e.push(Element::new("format").with_attr("type", f.as_str()));
            }
        }
        if let Some(p) = t.perms.to_element() {
            e.push(p);
        }
        if let Some(ts) = &t.timestamps {
            let mut el = Element::new("timestamps");
            for (n, v) in [
                ("atime", ts.atime),
                ("mtime", ts.mtime),
                ("ctime", ts.ctime),
                ("btime", ts.btime),
            ] {
                if let Some(v) = v {
                    let text = if v.nsec == 0 {
                        v.sec.to_string()
                    } else {
                        format!("{}.{:09}", v.sec, v.nsec)
                    };
                    el.push(Element::new(n).with_text(text));
                }
            }
            if el.children.is_empty() {
                el.children.push(Node::Verbatim(String::new()));
            }
            e.push(el);
        }
        if let Some(enc) = &t.encryption {
            e.push(enc.clone());
        }
        if let Some(c) = &t.compat {
            e.push(Element::new("compat").with_text(c.as_str()));
        }
        if t.cluster_size > 0 {
            e.push(
                Element::new("clusterSize")
                    .with_attr("unit", "B")
                    .with_text(t.cluster_size.to_string()),
            );
        }
        if let Some(fs) = &t.features {
            let mut f = Element::new("features");
            for n in fs {
                f.push(Element::new(n.as_str()));
            }
            e.push(f);
        }
        if e.children.is_empty() {
            e.children.push(Node::Verbatim(String::new()));
        }
        e
    }
}

/// `el` without where it was read from, so that equal content compares equal.
fn strip_positions(mut el: Element) -> Element {
    el.span = None;
    el.position = Default::default();
    el.children = el
        .children
        .into_iter()
        .filter_map(|n| match n {
            Node::Element(c) => Some(Node::Element(strip_positions(c))),
            Node::Text(t) if t.trim().is_empty() => None,
            other => Some(other),
        })
        .collect();
    el
}
