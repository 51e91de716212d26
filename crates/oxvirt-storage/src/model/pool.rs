//! `<pool>`: libvirt's `virStoragePoolDefParseXML` and `virStoragePoolDefFormat`.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use oxvirt_xml::model::str_to_long_uip;
use oxvirt_xml::types::Uuid;
use oxvirt_xml::{Attribute, Element, ErrorCode, ErrorDomain, Node, VirError};

use super::common::{all, child_attr, child_text, first, sanitize_path, Perms, Res};
use super::{err, xml_err};

/// The namespace of `<fs:mount_opts>` (fs and netfs pools).
pub const FS_NAMESPACE: &str = "http://libvirt.org/schemas/storagepool/fs/1.0";
/// The namespace of `<rbd:config_opts>` (rbd pools).
pub const RBD_NAMESPACE: &str = "http://libvirt.org/schemas/storagepool/rbd/1.0";

/// A pool type (`<pool type>`): libvirt's `virStoragePoolType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PoolType {
    /// `dir`: a directory.
    Dir,
    /// `fs`: a mounted local file system.
    Fs,
    /// `netfs`: a mounted network file system.
    Netfs,
    /// `logical`: an LVM volume group.
    Logical,
    /// `disk`: a partitioned disk.
    Disk,
    /// `iscsi`: an iSCSI target through the kernel initiator.
    Iscsi,
    /// `iscsi-direct`: an iSCSI target through a userspace initiator.
    IscsiDirect,
    /// `scsi`: a SCSI host adapter.
    Scsi,
    /// `mpath`: multipath devices.
    Mpath,
    /// `rbd`: a Ceph RBD pool.
    Rbd,
    /// `sheepdog`: a Sheepdog cluster.
    Sheepdog,
    /// `gluster`: a Gluster volume.
    Gluster,
    /// `zfs`: a ZFS pool.
    Zfs,
    /// `vstorage`: a Virtuozzo storage cluster.
    Vstorage,
}

/// The source fields a pool type uses (libvirt's `VIR_STORAGE_POOL_SOURCE_*`).
mod flag {
    pub const HOST: u8 = 1;
    pub const DEVICE: u8 = 2;
    pub const DIR: u8 = 4;
    pub const ADAPTER: u8 = 8;
    pub const NAME: u8 = 16;
    pub const IQN: u8 = 32;
    pub const NETWORK: u8 = 64;
}

impl PoolType {
    /// Every type, in libvirt's order.
    pub const ALL: [PoolType; 14] = [
        PoolType::Dir,
        PoolType::Fs,
        PoolType::Netfs,
        PoolType::Logical,
        PoolType::Disk,
        PoolType::Iscsi,
        PoolType::IscsiDirect,
        PoolType::Scsi,
        PoolType::Mpath,
        PoolType::Rbd,
        PoolType::Sheepdog,
        PoolType::Gluster,
        PoolType::Zfs,
        PoolType::Vstorage,
    ];

    /// The name in XML.
    pub fn as_str(self) -> &'static str {
        match self {
            PoolType::Dir => "dir",
            PoolType::Fs => "fs",
            PoolType::Netfs => "netfs",
            PoolType::Logical => "logical",
            PoolType::Disk => "disk",
            PoolType::Iscsi => "iscsi",
            PoolType::IscsiDirect => "iscsi-direct",
            PoolType::Scsi => "scsi",
            PoolType::Mpath => "mpath",
            PoolType::Rbd => "rbd",
            PoolType::Sheepdog => "sheepdog",
            PoolType::Gluster => "gluster",
            PoolType::Zfs => "zfs",
            PoolType::Vstorage => "vstorage",
        }
    }

    fn flags(self) -> u8 {
        use flag::*;
        match self {
            PoolType::Logical | PoolType::Zfs => NAME | DEVICE,
            PoolType::Dir | PoolType::Mpath => 0,
            PoolType::Fs | PoolType::Disk => DEVICE,
            PoolType::Netfs => HOST | DIR,
            PoolType::Iscsi => HOST | DEVICE | IQN,
            PoolType::IscsiDirect => HOST | DEVICE | NETWORK | IQN,
            PoolType::Scsi => ADAPTER,
            PoolType::Rbd | PoolType::Sheepdog => HOST | NETWORK | NAME,
            PoolType::Gluster => HOST | NETWORK | NAME | DIR,
            PoolType::Vstorage => NAME,
        }
    }

    /// The `<source><format type>` names this type knows (libvirt's pool format enum),
    /// the first being the default; empty when the type has no source format.
    pub fn source_formats(self) -> &'static [&'static str] {
        match self {
            PoolType::Logical => &["lvm2", "unknown"],
            PoolType::Fs => &[
                "auto", "ext2", "ext3", "ext4", "ufs", "iso9660", "udf", "gfs", "gfs2", "vfat",
                "hfs+", "xfs", "ocfs2", "vmfs",
            ],
            PoolType::Netfs => &["auto", "nfs", "glusterfs", "cifs"],
            PoolType::Disk => &[
                "unknown", "dos", "dvh", "gpt", "mac", "bsd", "pc98", "sun", "lvm2",
            ],
            _ => &[],
        }
    }

    /// Whether pools of this type have a `<target>` (network pools have none).
    pub fn has_target(self) -> bool {
        !matches!(
            self,
            PoolType::Rbd | PoolType::Sheepdog | PoolType::Gluster | PoolType::IscsiDirect
        )
    }
}

impl fmt::Display for PoolType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PoolType {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        PoolType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or(())
    }
}

/// `<source><host name port>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolSourceHost {
    /// `name`: host name or address.
    pub name: String,
    /// `port`; 0 when unset.
    pub port: i32,
}

/// `<source><device path part_separator>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolSourceDevice {
    /// `path`.
    pub path: String,
    /// `part_separator='yes|no'`.
    pub part_separator: Option<bool>,
    /// `<freeExtent start end>`s: free space on a disk pool's device (live state, filled by
    /// the disk backend, never read from a document, as libvirt).
    pub free_extents: Vec<(u64, u64)>,
}

/// `<secret>` of an `<auth>`: by UUID or by usage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthSecret {
    /// `uuid='...'`.
    Uuid(Uuid),
    /// `usage='...'`.
    Usage(String),
}

/// `<source><auth type username><secret/></auth>`: libvirt's `virStorageAuthDef`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auth {
    /// `type`: `chap` or `ceph`.
    pub auth_type: String,
    /// `username`.
    pub username: String,
    /// The secret holding the password or key.
    pub secret: AuthSecret,
}

/// `<source><adapter>` of a scsi pool: libvirt's `virStorageAdapter`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Adapter {
    /// `type='scsi_host'` by `name`, or by `<parentaddr unique_id>` with a PCI address.
    ScsiHost {
        /// `name='hostN'`.
        name: Option<String>,
        /// `<parentaddr unique_id>`.
        unique_id: Option<u32>,
        /// `<parentaddr><address>`, as (domain, bus, slot, function).
        address: Option<(u32, u32, u32, u32)>,
    },
    /// `type='fc_host'`: a vHBA.
    FcHost {
        /// `parent`.
        parent: Option<String>,
        /// `parent_wwnn`.
        parent_wwnn: Option<String>,
        /// `parent_wwpn`.
        parent_wwpn: Option<String>,
        /// `parent_fabric_wwn`.
        parent_fabric_wwn: Option<String>,
        /// `managed='yes|no'`.
        managed: Option<bool>,
        /// `wwnn`.
        wwnn: String,
        /// `wwpn`.
        wwpn: String,
    },
}

/// `<source>` of a pool: libvirt's `virStoragePoolSource`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolSource {
    /// `<host>`s.
    pub hosts: Vec<PoolSourceHost>,
    /// `<device>`s.
    pub devices: Vec<PoolSourceDevice>,
    /// `<dir path>`, cleaned as libvirt cleans paths.
    pub dir: Option<String>,
    /// `<adapter>`.
    pub adapter: Option<Adapter>,
    /// `<name>`.
    pub name: Option<String>,
    /// `<format type>`, one of the pool type's [`PoolType::source_formats`].
    pub format: Option<String>,
    /// `<initiator><iqn name>`.
    pub initiator_iqn: Option<String>,
    /// `<auth>`.
    pub auth: Option<Auth>,
    /// `<protocol ver>`: the NFS version (`3`, `4.1`), passed to mount as `nfsvers`.
    pub protocol_ver: Option<String>,
    /// `<vendor name>`.
    pub vendor: Option<String>,
    /// `<product name>`.
    pub product: Option<String>,
}

/// A storage pool's definition: libvirt's `virStoragePoolDef`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pool {
    /// `type`.
    pub pool_type: PoolType,
    /// `<name>`.
    pub name: String,
    /// `<uuid>`; generated when the document has none, as libvirt does.
    pub uuid: Uuid,
    /// `<capacity>` in bytes (live state: libvirt does not read it from a definition).
    pub capacity: u64,
    /// `<allocation>` in bytes (live state).
    pub allocation: u64,
    /// `<available>` in bytes (live state).
    pub available: u64,
    /// `<features><cow state>` (dir and fs pools).
    pub cow: Option<bool>,
    /// `<source>`.
    pub source: PoolSource,
    /// `<target><path>`, cleaned as libvirt cleans paths; `None` for network pools.
    pub target_path: Option<String>,
    /// `<target><permissions>`.
    pub target_perms: Perms,
    /// `<refresh><volume allocation='capacity'>` (rbd): true when set to `capacity`.
    pub refresh_capacity: Option<bool>,
    /// `<fs:mount_opts><fs:option name>` (fs, netfs, dir pools).
    pub mount_opts: Vec<String>,
    /// `<rbd:config_opts><rbd:option name value>` (rbd pools).
    pub rbd_opts: Vec<(String, String)>,
}

/// libvirt's `virXMLPropEnum` error for an attribute value it does not know.
fn invalid_attr(attr: &str, element: &str, value: &str) -> VirError {
    VirError::new(
        ErrorDomain::Xml,
        ErrorCode::XmlError,
        format!("Invalid value for attribute '{attr}' in element '{element}': '{value}'."),
    )
}

fn unsupported(msg: impl AsRef<str>) -> VirError {
    err(ErrorCode::ConfigUnsupported, msg)
}

fn parse_source(el: &Element, t: PoolType) -> Res<PoolSource> {
    let mut src = PoolSource {
        name: child_text(el, "name"),
        ..PoolSource::default()
    };
    if t == PoolType::Rbd && src.name.is_none() {
        return Err(xml_err("element 'name' is mandatory for RBD pool"));
    }
    let formats = t.source_formats();
    if !formats.is_empty() {
        match child_attr(el, "format", "type") {
            None => src.format = Some(formats[0].to_string()),
            Some(f) if formats.contains(&f.as_str()) => src.format = Some(f),
            Some(f) => return Err(unsupported(format!("unknown pool format type {f}"))),
        }
    }
    for h in all(el, "host") {
        let name = h
            .attr("name")
            .ok_or_else(|| xml_err("missing storage pool host name"))?;
        let port = match h.attr("port") {
            None => 0,
            Some(p) => oxvirt_xml::model::str_to_long_i(p, 10).ok_or_else(|| {
                VirError::new(
                    ErrorDomain::Xml,
                    ErrorCode::XmlError,
                    format!("Invalid value for attribute 'port' in element 'host': '{p}'. Expected integer value"),
                )
            })?,
        };
        src.hosts.push(PoolSourceHost {
            name: name.to_string(),
            port,
        });
    }
    src.initiator_iqn = first(el, "initiator").and_then(|i| child_attr(i, "iqn", "name"));
    for d in all(el, "device") {
        let path = d
            .attr("path")
            .ok_or_else(|| xml_err("missing storage pool source device path"))?;
        let part_separator = match d.attr("part_separator") {
            None => None,
            Some("yes") => Some(true),
            Some("no") => Some(false),
            Some(v) => {
                return Err(VirError::new(
                    ErrorDomain::Xml,
                    ErrorCode::XmlError,
                    format!(
                        "Invalid value for attribute 'part_separator' in element 'device': '{v}'."
                    ),
                ))
            }
        };
        src.devices.push(PoolSourceDevice {
            path: path.to_string(),
            part_separator,
            free_extents: Vec::new(),
        });
    }
    src.dir = child_attr(el, "dir", "path").map(|d| sanitize_path(&d));
    if src.dir.is_none() && t == PoolType::Gluster {
        src.dir = Some("/".into());
    }
    if let Some(a) = first(el, "adapter") {
        src.adapter = Some(parse_adapter(a)?);
    }
    if let Some(a) = first(el, "auth") {
        src.auth = Some(parse_auth(a)?);
    }
    if let Some(ver) = child_attr(el, "protocol", "ver") {
        let fmt = src.format.as_deref().unwrap_or("auto");
        if t != PoolType::Netfs || (fmt != "nfs" && fmt != "auto") {
            return Err(unsupported(format!(
                "storage pool protocol ver unsupported for pool type '{fmt}'"
            )));
        }
        if ver.contains(',') {
            return Err(err(
                ErrorCode::XmlDetail,
                format!("storage pool protocol ver '{ver}' must not contain ','"),
            ));
        }
        src.protocol_ver = Some(ver);
    }
    src.vendor = child_attr(el, "vendor", "name");
    src.product = child_attr(el, "product", "name");
    Ok(src)
}

/// `src` without the fields a pool type neither uses nor writes (libvirt reads them,
/// then drops them when it writes the pool).
fn keep_used(mut src: PoolSource, flags: u8) -> PoolSource {
    if flags & flag::HOST == 0 {
        src.hosts.clear();
    }
    if flags & flag::DEVICE == 0 {
        src.devices.clear();
    }
    if flags & flag::DIR == 0 {
        src.dir = None;
    }
    if flags & flag::ADAPTER == 0 {
        src.adapter = None;
    }
    if flags & flag::NAME == 0 {
        src.name = None;
    }
    if flags & flag::IQN == 0 {
        src.initiator_iqn = None;
    }
    src
}

fn parse_auth(el: &Element) -> Res<Auth> {
    let auth_type = match el.attr("type") {
        None | Some("none") => return Err(unsupported("storage pool missing auth type")),
        Some(t @ ("chap" | "ceph")) => t.to_string(),
        Some(t) => return Err(unsupported(format!("unknown auth type '{t}'"))),
    };
    let username = el
        .attr("username")
        .filter(|u| !u.is_empty())
        .ok_or_else(|| xml_err("missing username for auth"))?
        .to_string();
    let secret_el =
        first(el, "secret").ok_or_else(|| xml_err("Missing <secret> element in auth"))?;
    let secret = match (secret_el.attr("uuid"), secret_el.attr("usage")) {
        (Some(_), Some(_)) => return Err(xml_err("either secret uuid or usage expected")),
        (Some(u), None) => AuthSecret::Uuid(
            Uuid::try_parse(u).ok_or_else(|| xml_err(format!("invalid secret uuid '{u}'")))?,
        ),
        (None, Some(u)) => AuthSecret::Usage(u.to_string()),
        (None, None) => return Err(xml_err("missing secret uuid or usage attribute")),
    };
    Ok(Auth {
        auth_type,
        username,
        secret,
    })
}

/// libvirt's `virValidateWWN`: 16 hexadecimal digits, after an optional `0x`.
fn check_wwn(wwn: &str) -> Res<()> {
    let digits = wwn
        .strip_prefix("0x")
        .or_else(|| wwn.strip_prefix("0X"))
        .unwrap_or(wwn);
    if digits.len() == 16 && digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(err(
            ErrorCode::InternalError,
            format!("Malformed wwn: {wwn}"),
        ))
    }
}

fn pci_part(el: &Element, name: &str) -> Res<u32> {
    let v = el.attr(name).unwrap_or("0");
    str_to_long_uip(v, 0)
        .ok_or_else(|| xml_err(format!("Cannot parse <address> '{name}' attribute")))
}

fn parse_adapter(el: &Element) -> Res<Adapter> {
    let attr = |n: &str| el.attr(n).map(str::to_string);
    let kind = el.attr("type");
    match kind {
        Some("fc_host") => {
            let managed = match el.attr("managed") {
                None => None,
                Some("yes") => Some(true),
                Some("no") => Some(false),
                Some(v) => return Err(invalid_attr("managed", "adapter", v)),
            };
            let (Some(wwnn), Some(wwpn)) = (attr("wwnn"), attr("wwpn")) else {
                return Err(xml_err(
                    "'wwnn' and 'wwpn' must be specified for adapter type 'fchost'",
                ));
            };
            let mut wwns = vec![wwnn.as_str(), wwpn.as_str()];
            wwns.extend(el.attr("parent_wwnn"));
            wwns.extend(el.attr("parent_wwpn"));
            for w in wwns {
                check_wwn(w)?;
            }
            match (el.attr("parent_wwnn"), el.attr("parent_wwpn")) {
                (Some(n), None) => {
                    return Err(xml_err(format!(
                        "when providing parent_wwnn='{n}', the parent_wwpn must also be provided"
                    )))
                }
                (None, Some(p)) => {
                    return Err(xml_err(format!(
                        "when providing parent_wwpn='{p}', the parent_wwnn must also be provided"
                    )))
                }
                _ => {}
            }
            if let Some(f) = el.attr("parent_fabric_wwn") {
                check_wwn(f)?;
            }
            Ok(Adapter::FcHost {
                parent: attr("parent"),
                parent_wwnn: attr("parent_wwnn"),
                parent_wwpn: attr("parent_wwpn"),
                parent_fabric_wwn: attr("parent_fabric_wwn"),
                managed,
                wwnn,
                wwpn,
            })
        }
        Some("scsi_host") | None => {
            if kind.is_none() && el.attr("name").is_none() {
                return Err(xml_err("missing storage pool source adapter"));
            }
            let name = attr("name");
            let (mut unique_id, mut address) = (None, None);
            if let Some(pa) = first(el, "parentaddr") {
                unique_id = Some(
                    pa.attr("unique_id")
                        .and_then(|u| str_to_long_uip(u, 10))
                        .ok_or_else(|| {
                            xml_err("Missing or invalid scsi adapter 'unique_id' value")
                        })?,
                );
                let a = first(pa, "address")
                    .ok_or_else(|| xml_err("Missing scsi_host PCI address element"))?;
                {
                    address = Some((
                        pci_part(a, "domain")?,
                        pci_part(a, "bus")?,
                        pci_part(a, "slot")?,
                        pci_part(a, "function")?,
                    ));
                }
            }
            if name.is_some() && address.is_some() {
                return Err(xml_err(
                    "Both 'name' and 'parent' cannot be specified for the 'scsi_host' adapter",
                ));
            }
            if name.is_none() && address.is_none() {
                return Err(xml_err(
                    "Either 'name' or 'parent' must be specified for the 'scsi_host' adapter",
                ));
            }
            Ok(Adapter::ScsiHost {
                name,
                unique_id,
                address,
            })
        }
        Some(t) => Err(invalid_attr("type", "adapter", t)),
    }
}

/// The children of `<prefix:wrapper>` elements in namespace `ns` named `prefix:option`.
fn ns_options<'a>(root: &'a Element, ns: &str, wrapper: &str) -> Vec<&'a Element> {
    root.elements()
        .filter(|e| e.namespace.as_deref() == Some(ns) && e.local_name() == wrapper)
        .flat_map(|w| w.elements())
        .filter(|o| o.namespace.as_deref() == Some(ns) && o.local_name() == "option")
        .collect()
}

impl Pool {
    /// Reads a `<pool>` document as libvirt's `virStoragePoolDefParseString`, with its
    /// checks and messages: the per-type required source fields, the defaults for the
    /// source name and format and the logical/zfs target path, cleaned paths.
    pub fn parse(xml: &str) -> Result<Pool, VirError> {
        let root =
            oxvirt_xml::parse(xml).map_err(|e| VirError::from_xml(e, ErrorDomain::Storage))?;
        if root.name != "pool" {
            return Err(xml_err(format!(
                "unexpected root element <{}>, expecting <pool>",
                root.name
            )));
        }
        let t = match root.attr("type") {
            None => {
                return Err(VirError::new(
                    ErrorDomain::Xml,
                    ErrorCode::XmlError,
                    "Missing required attribute 'type' in element 'pool'",
                ))
            }
            Some(v) => v.parse::<PoolType>().map_err(|()| {
                VirError::new(
                    ErrorDomain::Xml,
                    ErrorCode::XmlError,
                    format!("Invalid value for attribute 'type' in element 'pool': '{v}'."),
                )
            })?,
        };
        let flags = t.flags();
        let mut source = match first(&root, "source") {
            Some(s) => keep_used(parse_source(s, t)?, flags),
            None => PoolSource {
                format: t.source_formats().first().map(|f| f.to_string()),
                ..PoolSource::default()
            },
        };
        let mut name = child_text(&root, "name");
        if name.is_none() && flags & flag::NAME != 0 {
            name.clone_from(&source.name);
        }
        let name = name.ok_or_else(|| xml_err("missing pool source name element"))?;
        if name.contains('/') {
            return Err(xml_err(format!("name {name} cannot contain '/'")));
        }
        let uuid = match child_text(&root, "uuid") {
            None => Uuid::new_v4()
                .map_err(|_| err(ErrorCode::InternalError, "unable to generate uuid"))?,
            Some(u) => Uuid::try_parse(&u).ok_or_else(|| xml_err("malformed uuid element"))?,
        };
        let cow = match first(&root, "features").and_then(|f| first(f, "cow")) {
            None => None,
            Some(c) => match c.attr("state") {
                None => None,
                Some(v) => {
                    let state = match v {
                        "yes" => true,
                        "no" => false,
                        _ => {
                            return Err(VirError::new(
                                ErrorDomain::Xml,
                                ErrorCode::XmlError,
                                format!(
                                    "Invalid value for attribute 'state' in element 'cow': '{v}'."
                                ),
                            ))
                        }
                    };
                    if !matches!(t, PoolType::Fs | PoolType::Dir) {
                        return Err(err(
                            ErrorCode::NoSupport,
                            "cow feature may only be used for 'fs' and 'dir' pools",
                        ));
                    }
                    Some(state)
                }
            },
        };
        if flags & flag::HOST != 0 && source.hosts.is_empty() {
            return Err(xml_err("missing storage pool source host name"));
        }
        if flags & flag::DIR != 0 && source.dir.is_none() {
            return Err(xml_err("missing storage pool source path"));
        }
        if flags & flag::NAME != 0 && source.name.is_none() {
            source.name = Some(name.clone());
        }
        if flags & flag::ADAPTER != 0 && source.adapter.is_none() {
            return Err(xml_err("missing storage pool source adapter"));
        }
        if flags == flag::DEVICE && source.devices.is_empty() {
            return Err(xml_err("missing storage pool source device name"));
        }
        let (mut target_path, mut target_perms) = (None, Perms::default());
        if flags & flag::NETWORK == 0 {
            let target = first(&root, "target");
            let src_name = source.name.as_deref().unwrap_or_default();
            let path = match t {
                PoolType::Logical => format!("/dev/{src_name}"),
                PoolType::Zfs => format!("/dev/zvol/{src_name}"),
                _ => target
                    .and_then(|t| child_text(t, "path"))
                    .ok_or_else(|| xml_err("missing storage pool target path"))?,
            };
            target_path = Some(sanitize_path(&path));
            target_perms = Perms::parse(target.and_then(|t| first(t, "permissions")))?;
        }
        if t == PoolType::IscsiDirect && source.initiator_iqn.is_none() {
            return Err(unsupported("missing initiator IQN"));
        }
        let refresh_capacity =
            match first(&root, "refresh").and_then(|r| child_attr(r, "volume", "allocation")) {
                None => None,
                Some(a) if a == "default" => Some(false),
                Some(a) if a == "capacity" => Some(true),
                Some(a) => {
                    return Err(unsupported(format!(
                        "unknown storage pool volume refresh allocation type {a}"
                    )))
                }
            };
        let mut mount_opts = Vec::new();
        if matches!(t, PoolType::Fs | PoolType::Netfs | PoolType::Dir) {
            for o in ns_options(&root, FS_NAMESPACE, "mount_opts") {
                let n = o
                    .attr("name")
                    .ok_or_else(|| xml_err("no fs mount option name specified"))?;
                mount_opts.push(n.to_string());
            }
        }
        let mut rbd_opts = Vec::new();
        if t == PoolType::Rbd {
            for o in ns_options(&root, RBD_NAMESPACE, "config_opts") {
                let n = o
                    .attr("name")
                    .ok_or_else(|| xml_err("no rbd option name specified"))?;
                let v = o.attr("value").ok_or_else(|| {
                    xml_err(format!("no rbd option value specified for name '{n}'"))
                })?;
                rbd_opts.push((n.to_string(), v.to_string()));
            }
        }
        Ok(Pool {
            pool_type: t,
            name,
            uuid,
            capacity: 0,
            allocation: 0,
            available: 0,
            cow,
            source,
            target_path,
            target_perms,
            refresh_capacity,
            mount_opts,
            rbd_opts,
        })
    }

    /// The parser's per-type requirements again, for a pool built in code (a parsed pool
    /// always passes): the source host, directory, adapter, device, RBD name and initiator
    /// IQN each type needs, a target path, and `cow` only for dir and fs pools. As
    /// libvirt 9.0, a relative glusterfs `netfs` source directory is accepted.
    pub fn validate(&self) -> Result<(), VirError> {
        // The parser's per-type requirements, for pools built in code.
        let flags = self.pool_type.flags();
        let src = &self.source;
        if self.name.is_empty() {
            return Err(xml_err("missing pool source name element"));
        }
        if self.name.contains('/') {
            return Err(xml_err(format!("name {} cannot contain '/'", self.name)));
        }
        if flags & flag::HOST != 0 && src.hosts.is_empty() {
            return Err(xml_err("missing storage pool source host name"));
        }
        if flags & flag::DIR != 0 && src.dir.is_none() {
            return Err(xml_err("missing storage pool source path"));
        }
        if flags & flag::ADAPTER != 0 && src.adapter.is_none() {
            return Err(xml_err("missing storage pool source adapter"));
        }
        if flags == flag::DEVICE && src.devices.is_empty() {
            return Err(xml_err("missing storage pool source device name"));
        }
        if self.pool_type == PoolType::Rbd && src.name.is_none() {
            return Err(xml_err("element 'name' is mandatory for RBD pool"));
        }
        if flags & flag::NETWORK == 0 && self.target_path.is_none() {
            return Err(xml_err("missing storage pool target path"));
        }
        if self.pool_type == PoolType::IscsiDirect && src.initiator_iqn.is_none() {
            return Err(unsupported("missing initiator IQN"));
        }
        if self.cow.is_some() && !matches!(self.pool_type, PoolType::Fs | PoolType::Dir) {
            return Err(err(
                ErrorCode::NoSupport,
                "cow feature may only be used for 'fs' and 'dir' pools",
            ));
        }
        Ok(())
    }

    /// The `<source>` element as libvirt's `virStoragePoolSourceFormat` writes it.
    pub fn source_element(&self) -> Element {
        source_element(self.pool_type, &self.source)
    }

    /// The document in libvirt's layout (`virStoragePoolDefFormat`).
    pub fn to_xml(&self) -> String {
        oxvirt_xml::to_string(&self.to_element())
    }

    /// The `<pool>` element.
    pub fn to_element(&self) -> Element {
        let mut root = Element::new("pool").with_attr("type", self.pool_type.as_str());
        let fs_ns = !self.mount_opts.is_empty();
        let rbd_ns = !self.rbd_opts.is_empty();
        if fs_ns {
            root.set_attr("xmlns:fs", FS_NAMESPACE);
        }
        if rbd_ns {
            root.set_attr("xmlns:rbd", RBD_NAMESPACE);
        }
        root.push(Element::new("name").with_text(self.name.as_str()));
        root.push(Element::new("uuid").with_text(self.uuid.to_string()));
        for (n, v) in [
            ("capacity", self.capacity),
            ("allocation", self.allocation),
            ("available", self.available),
        ] {
            root.push(
                Element::new(n)
                    .with_attr("unit", "bytes")
                    .with_text(v.to_string()),
            );
        }
        if let Some(cow) = self.cow {
            root.push(Element::new("features").with_child(
                Element::new("cow").with_attr("state", if cow { "yes" } else { "no" }),
            ));
        }
        root.push(self.source_element());
        if self.pool_type.has_target() {
            let mut t = Element::new("target");
            if let Some(p) = &self.target_path {
                t.push(Element::new("path").with_text(p.as_str()));
            }
            if let Some(p) = self.target_perms.to_element() {
                t.push(p);
            }
            if t.children.is_empty() {
                t.children.push(Node::Verbatim(String::new()));
            }
            root.push(t);
        }
        if let Some(cap) = self.refresh_capacity {
            root.push(
                Element::new("refresh").with_child(
                    Element::new("volume")
                        .with_attr("allocation", if cap { "capacity" } else { "default" }),
                ),
            );
        }
        if fs_ns {
            let ns: Arc<str> = Arc::from(FS_NAMESPACE);
            let mut w = Element::new("fs:mount_opts");
            w.namespace = Some(ns.clone());
            for o in &self.mount_opts {
                let mut e = Element::new("fs:option").with_attr("name", o.as_str());
                e.namespace = Some(ns.clone());
                w.push(e);
            }
            root.push(w);
        }
        if rbd_ns {
            let ns: Arc<str> = Arc::from(RBD_NAMESPACE);
            let mut w = Element::new("rbd:config_opts");
            w.namespace = Some(ns.clone());
            for (n, v) in &self.rbd_opts {
                let mut e = Element::new("rbd:option")
                    .with_attr("name", n.as_str())
                    .with_attr("value", v.as_str());
                e.namespace = Some(ns.clone());
                w.push(e);
            }
            root.push(w);
        }
        root
    }
}

/// A pool source as libvirt's `virStoragePoolSourceFormat` writes it for a pool of type
/// `t`: only the fields the type uses.
pub fn source_element(t: PoolType, src: &PoolSource) -> Element {
    let flags = t.flags();
    let mut s = Element::new("source");
    if flags & flag::HOST != 0 {
        for h in &src.hosts {
            let mut e = Element::new("host").with_attr("name", h.name.as_str());
            if h.port != 0 {
                e.set_attr("port", h.port.to_string());
            }
            s.push(e);
        }
    }
    if flags & flag::DEVICE != 0 {
        for d in &src.devices {
            let mut e = Element::new("device").with_attr("path", d.path.as_str());
            if let Some(p) = d.part_separator {
                e.set_attr("part_separator", if p { "yes" } else { "no" });
            }
            for (start, end) in &d.free_extents {
                e.push(
                    Element::new("freeExtent")
                        .with_attr("start", start.to_string())
                        .with_attr("end", end.to_string()),
                );
            }
            s.push(e);
        }
    }
    if flags & flag::DIR != 0 {
        if let Some(d) = &src.dir {
            s.push(Element::new("dir").with_attr("path", d.as_str()));
        }
    }
    if flags & flag::ADAPTER != 0 {
        if let Some(a) = &src.adapter {
            s.push(adapter_element(a));
        }
    }
    if flags & flag::NAME != 0 {
        if let Some(n) = &src.name {
            s.push(Element::new("name").with_text(n.as_str()));
        }
    }
    if flags & flag::IQN != 0 {
        if let Some(iqn) = &src.initiator_iqn {
            s.push(
                Element::new("initiator")
                    .with_child(Element::new("iqn").with_attr("name", iqn.as_str())),
            );
        }
    }
    if !t.source_formats().is_empty() {
        if let Some(f) = &src.format {
            s.push(Element::new("format").with_attr("type", f.as_str()));
        }
    }
    if let Some(a) = &src.auth {
        let secret = match &a.secret {
            AuthSecret::Uuid(u) => Element::new("secret").with_attr("uuid", u.to_string()),
            AuthSecret::Usage(u) => Element::new("secret").with_attr("usage", u.as_str()),
        };
        s.push(
            Element::new("auth")
                .with_attr("type", a.auth_type.as_str())
                .with_attr("username", a.username.as_str())
                .with_child(secret),
        );
    }
    if let Some(v) = &src.protocol_ver {
        s.push(Element::new("protocol").with_attr("ver", v.as_str()));
    }
    if let Some(v) = &src.vendor {
        s.push(Element::new("vendor").with_attr("name", v.as_str()));
    }
    if let Some(p) = &src.product {
        s.push(Element::new("product").with_attr("name", p.as_str()));
    }
    if s.children.is_empty() {
        s.children.push(Node::Verbatim(String::new()));
    }
    s
}

/// `<sources>`: what a pool source discovery (`virConnectFindStoragePoolSources`) answers,
/// as libvirt's `virStoragePoolSourceListFormat` writes it.
pub fn sources_to_xml(t: PoolType, sources: &[PoolSource]) -> String {
    let mut root = Element::new("sources");
    for s in sources {
        root.push(source_element(t, s));
    }
    if root.children.is_empty() {
        root.children.push(Node::Verbatim(String::new()));
    }
    oxvirt_xml::to_string(&root)
}

fn adapter_element(a: &Adapter) -> Element {
    let mut e = Element::new("adapter");
    let mut set = |n: &str, v: Option<&String>| {
        if let Some(v) = v {
            e.attributes.push(Attribute::new(n, v.as_str()));
        }
    };
    match a {
        Adapter::FcHost {
            parent,
            parent_wwnn,
            parent_wwpn,
            parent_fabric_wwn,
            managed,
            wwnn,
            wwpn,
        } => {
            set("type", Some(&"fc_host".to_string()));
            set("parent", parent.as_ref());
            set("parent_wwnn", parent_wwnn.as_ref());
            set("parent_wwpn", parent_wwpn.as_ref());
            set("parent_fabric_wwn", parent_fabric_wwn.as_ref());
            let m = managed.map(|m| if m { "yes" } else { "no" }.to_string());
            set("managed", m.as_ref());
            set("wwnn", Some(wwnn));
            set("wwpn", Some(wwpn));
        }
        Adapter::ScsiHost {
            name,
            unique_id,
            address,
        } => {
            set("type", Some(&"scsi_host".to_string()));
            set("name", name.as_ref());
            if let Some((d, b, s, f)) = address {
                let mut pa = Element::new("parentaddr");
                if let Some(u) = unique_id {
                    pa.set_attr("unique_id", u.to_string());
                }
                pa.push(
                    Element::new("address")
                        .with_attr("domain", format!("0x{d:04x}"))
                        .with_attr("bus", format!("0x{b:02x}"))
                        .with_attr("slot", format!("0x{s:02x}"))
                        .with_attr("function", format!("0x{f:x}")),
                );
                e.push(pa);
            }
        }
    }
    e
}
