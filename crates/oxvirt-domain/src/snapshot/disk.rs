//! The `<disks>` of a snapshot: what a snapshot does with each of the domain's disks.
//!
//! ```xml
//! <disk name='vda' snapshot='external' type='file'>
//!   <driver type='qcow2'/>
//!   <source file='/var/lib/libvirt/images/vda.snap1'/>
//! </disk>
//! ```

use oxvirt_xml::model::XmlEnum;
use oxvirt_xml::types::size::parse_scaled_for;
use oxvirt_xml::{Builder, Context, Cursor, Element, Result, Unknown, XmlError, XmlModel};

use super::{anchored, settle};

oxvirt_xml::xml_enum! {
    /// Where a disk's or the memory's snapshot is kept (`snapshot='...'`).
    pub enum SnapshotLocation {
        /// Not snapshotted.
        No = "no",
        /// Inside the disk image itself (qcow2 internal snapshots).
        Internal = "internal",
        /// In a new overlay file, or a separate memory file.
        External = "external",
        /// Left to the user, who snapshots the disk by other means.
        Manual = "manual",
    }
}

oxvirt_xml::xml_enum! {
    /// The kind of storage behind a snapshot disk (`type='...'`, libvirt's `virStorageType`).
    pub enum StorageType {
        /// A plain file.
        File = "file",
        /// A block device.
        Block = "block",
        /// A directory (rejected for snapshots).
        Dir = "dir",
        /// Network storage.
        Network = "network",
        /// A storage pool volume (rejected for snapshots).
        Volume = "volume",
        /// An NVMe namespace.
        Nvme = "nvme",
        /// A vhost-user block device.
        VhostUser = "vhostuser",
    }
}

oxvirt_xml::xml_enum! {
    /// An image format (`<driver type='...'>`, libvirt's `virStorageFileFormat`).
    pub enum StorageFormat {
        /// Raw.
        Raw = "raw",
        /// A directory.
        Dir = "dir",
        /// Bochs.
        Bochs = "bochs",
        /// cloop.
        Cloop = "cloop",
        /// Apple disk image.
        Dmg = "dmg",
        /// ISO 9660.
        Iso = "iso",
        /// Virtual PC.
        Vpc = "vpc",
        /// VirtualBox.
        Vdi = "vdi",
        /// A FAT directory.
        Fat = "fat",
        /// Hyper-V VHD.
        Vhd = "vhd",
        /// Virtuozzo ploop.
        Ploop = "ploop",
        /// User-mode Linux COW.
        Cow = "cow",
        /// QCOW version 1.
        Qcow = "qcow",
        /// QCOW2.
        Qcow2 = "qcow2",
        /// QED.
        Qed = "qed",
        /// VMware.
        Vmdk = "vmdk",
    }
}

oxvirt_xml::xml_enum! {
    /// The protocol of network storage (`<source protocol='...'>`).
    pub enum NetProtocol {
        /// None given.
        None = "none",
        /// NBD.
        Nbd = "nbd",
        /// Ceph RBD.
        Rbd = "rbd",
        /// Sheepdog.
        Sheepdog = "sheepdog",
        /// Gluster.
        Gluster = "gluster",
        /// iSCSI.
        Iscsi = "iscsi",
        /// HTTP.
        Http = "http",
        /// HTTPS.
        Https = "https",
        /// FTP.
        Ftp = "ftp",
        /// FTPS.
        Ftps = "ftps",
        /// TFTP.
        Tftp = "tftp",
        /// SSH.
        Ssh = "ssh",
        /// VxHS.
        Vxhs = "vxhs",
        /// NFS.
        Nfs = "nfs",
    }
}

/// Children of `<source>` that libvirt knows and this model keeps as written.
const SOURCE_UNTYPED: &[&str] = &[
    "host",
    "snapshot",
    "config",
    "auth",
    "encryption",
    "reservations",
    "seclabel",
    "cookies",
    "ssl",
    "readahead",
    "timeout",
    "initiator",
    "reconnect",
    "address",
    "slices",
    "identity",
    "knownHosts",
];

/// One `<disk>` of a snapshot's `<disks>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotDisk {
    /// The disk's target (`vda`) or source path (`name`).
    pub name: String,
    /// What to do with the disk; `external` when absent but a new file or format is given,
    /// as libvirt decides.
    pub snapshot: Option<SnapshotLocation>,
    /// The kind of storage of the new image (`type`, `file` by default).
    pub storage: StorageType,
    /// `<driver>`: the new image's format.
    pub driver: SnapshotDiskDriver,
    /// `<source>`: where the new image goes.
    pub source: SnapshotDiskSource,
    /// What the model does not type, kept as written.
    pub unknown: Unknown,
}

/// The `<driver>` of a snapshot disk.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SnapshotDiskDriver {
    /// The new image's format (`type`).
    pub format: Option<StorageFormat>,
    /// The qcow2 metadata cache limit in bytes (`<metadata_cache><max_size>`).
    pub metadata_cache_max_size: Option<u64>,
    /// What the model does not type inside `<metadata_cache>`, kept as written.
    pub metadata_cache_unknown: Unknown,
    /// What the model does not type, kept as written.
    pub unknown: Unknown,
}

/// The `<source>` of a snapshot disk.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SnapshotDiskSource {
    /// The new image: `file=` for files, `dev=` for block devices, `dir=` for directories,
    /// `name=` for network storage. An empty value counts as none, as in libvirt.
    pub path: Option<String>,
    /// The network protocol, for network storage.
    pub protocol: Option<NetProtocol>,
    /// Hosts, security labels and the rest, kept as written.
    pub unknown: Unknown,
}

impl SnapshotDisk {
    /// A disk snapshot entry for `name` with nothing else set.
    pub fn new(name: impl Into<String>) -> Self {
        SnapshotDisk {
            name: name.into(),
            snapshot: None,
            storage: StorageType::File,
            driver: SnapshotDiskDriver::default(),
            source: SnapshotDiskSource::default(),
            unknown: Unknown::default(),
        }
    }
}

impl SnapshotDiskDriver {
    fn is_empty(&self) -> bool {
        self.format.is_none()
            && self.metadata_cache_max_size.is_none()
            && self.metadata_cache_unknown.is_empty()
            && self.unknown.is_empty()
    }

    fn read(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let format = match c.attr("type").filter(|t| !t.is_empty()) {
            None => None,
            Some(t) => Some(StorageFormat::from_xml_str(t).ok_or_else(|| {
                XmlError::unsupported(format!("unknown disk snapshot driver '{t}'")).at(el.position)
            })?),
        };
        let mut metadata_cache_max_size = None;
        let mut metadata_cache_unknown = Unknown::default();
        if let Some(mc) = c.child("metadata_cache") {
            let mut mcc = Cursor::new(mc);
            if let Some(max) = mcc.child("max_size") {
                let text = max.text();
                if !text.is_empty() {
                    let bytes = parse_scaled_for(
                        &text,
                        max.attr("unit"),
                        1,
                        u64::MAX,
                        "./driver/metadata_cache/max_size",
                    )
                    .map_err(|e| e.at(max.position))?;
                    metadata_cache_max_size = Some(bytes).filter(|b| *b > 0);
                }
            }
            metadata_cache_unknown = mcc.finish(ctx);
            settle(&mut metadata_cache_unknown, &["max_size"]);
        }
        let mut unknown = c.finish(ctx);
        settle(&mut unknown, &["metadata_cache"]);
        Ok(SnapshotDiskDriver {
            format,
            metadata_cache_max_size,
            metadata_cache_unknown,
            unknown,
        })
    }

    /// The element, when it carries anything or `force` says a second one follows it.
    fn to_element(&self, force: bool) -> Option<Element> {
        if self.is_empty() && !force {
            return None;
        }
        let mut b = Builder::new("driver");
        b.opt_attr("type", self.format);
        let mc_unknown = &self.metadata_cache_unknown;
        if self.metadata_cache_max_size.is_some()
            || !mc_unknown.is_empty()
            || anchored(&self.unknown, "metadata_cache")
        {
            let mut mc = Builder::new("metadata_cache");
            match self.metadata_cache_max_size {
                Some(bytes) => {
                    mc.child(
                        Element::new("max_size")
                            .with_attr("unit", "bytes")
                            .with_text(bytes.to_string()),
                    );
                }
                None if anchored(mc_unknown, "max_size") => {
                    mc.child(Element::new("max_size"));
                }
                None => {}
            }
            b.child(mc.finish(mc_unknown));
        }
        Some(b.finish(&self.unknown))
    }
}

impl SnapshotDiskSource {
    fn read(el: &Element, storage: StorageType, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let (path, protocol) = match storage {
            StorageType::File => (c.attr_string("file"), None),
            StorageType::Block => (c.attr_string("dev"), None),
            StorageType::Dir => (c.attr_string("dir"), None),
            StorageType::Network => {
                let protocol = c.required_enum_attr::<NetProtocol>("protocol")?;
                let name = c.attr_string("name");
                if name.is_none() && protocol != NetProtocol::Nbd {
                    return Err(c.error("missing name for disk source"));
                }
                (name, Some(protocol))
            }
            StorageType::Volume | StorageType::Nvme | StorageType::VhostUser => (None, None),
        };
        Ok(SnapshotDiskSource {
            path: path.filter(|p| !p.is_empty()),
            protocol,
            unknown: c.finish_known(ctx, SOURCE_UNTYPED),
        })
    }

    /// The element, when it carries anything or `force` says a second one follows it.
    fn to_element(&self, storage: StorageType, force: bool) -> Option<Element> {
        let mut b = Builder::new("source");
        let path_attr = match storage {
            StorageType::File => Some("file"),
            StorageType::Block => Some("dev"),
            StorageType::Dir => Some("dir"),
            StorageType::Network => {
                b.opt_attr("protocol", self.protocol);
                Some("name")
            }
            StorageType::Volume | StorageType::Nvme | StorageType::VhostUser => None,
        };
        if let Some(attr) = path_attr {
            b.opt_attr(attr, self.path.as_deref());
        }
        if b.is_empty() && self.unknown.is_empty() && !force {
            return None;
        }
        Some(b.finish(&self.unknown))
    }
}

impl XmlModel for SnapshotDisk {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let name = c.attr_string("name").ok_or_else(|| {
            XmlError::internal("missing name from disk snapshot element").at(el.position)
        })?;
        let mut snapshot = c.enum_attr::<SnapshotLocation>("snapshot")?;
        let storage = c
            .enum_attr::<StorageType>("type")?
            .unwrap_or(StorageType::File);
        if matches!(storage, StorageType::Volume | StorageType::Dir) {
            return Err(c.error(format!("unsupported disk snapshot type '{storage}'")));
        }
        let source = match c.child("source") {
            Some(s) => SnapshotDiskSource::read(s, storage, ctx)?,
            None => SnapshotDiskSource::default(),
        };
        let driver = match c.child("driver") {
            Some(d) => SnapshotDiskDriver::read(d, ctx)?,
            None => SnapshotDiskDriver::default(),
        };
        if let Some(path) = &source.path {
            let local = matches!(storage, StorageType::File | StorageType::Block);
            if local && !path.starts_with('/') {
                return Err(c.error(format!(
                    "disk snapshot image path '{path}' must be absolute"
                )));
            }
        }
        if snapshot.is_none() && (source.path.is_some() || driver.format.is_some()) {
            snapshot = Some(SnapshotLocation::External);
        }
        let mut unknown = c.finish(ctx);
        settle(&mut unknown, &["driver", "source"]);
        Ok(SnapshotDisk {
            name,
            snapshot,
            storage,
            driver,
            source,
            unknown,
        })
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("disk");
        b.attr("name", &self.name);
        b.opt_attr("snapshot", self.snapshot);
        // libvirt writes the type only with a new image; a type other than the default is
        // written always, so that reading the output back gives the same disk.
        if self.source.path.is_some()
            || self.driver.format.is_some()
            || self.storage != StorageType::File
        {
            b.attr("type", self.storage);
        }
        let force = |name| anchored(&self.unknown, name);
        b.opt_child(self.driver.to_element(force("driver")));
        b.opt_child(self.source.to_element(self.storage, force("source")));
        b.finish(&self.unknown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(xml: &str) -> Result<SnapshotDisk> {
        let el = oxvirt_xml::parse(xml)?;
        SnapshotDisk::from_element(&el, &mut Context::default())
    }

    fn round_trip(xml: &str) -> String {
        let disk = read(xml).unwrap();
        let text = oxvirt_xml::to_string(&disk.to_element());
        assert_eq!(read(&text).unwrap(), disk, "unstable: {text}");
        text
    }

    #[test]
    fn external_file_disk_is_written_as_libvirt_writes_it() {
        let out = round_trip(
            "<disk name='vda' snapshot='external'>\n  <source file='/tmp/foo'/>\n  \
             <driver/>\n</disk>\n",
        );
        assert_eq!(
            out,
            "<disk name='vda' snapshot='external' type='file'>\n  <source file='/tmp/foo'/>\n\
             </disk>\n"
        );
    }

    #[test]
    fn driver_goes_before_source_and_cache_size_in_bytes() {
        let out = round_trip(
            "<disk name='hdd'>\n  <source file='/new'/>\n  <driver type='qcow2'>\n    \
             <metadata_cache>\n      <max_size unit='KiB'>2</max_size>\n    \
             </metadata_cache>\n  </driver>\n</disk>\n",
        );
        assert_eq!(
            out,
            "<disk name='hdd' snapshot='external' type='file'>\n  <driver type='qcow2'>\n    \
             <metadata_cache>\n      <max_size unit='bytes'>2048</max_size>\n    \
             </metadata_cache>\n  </driver>\n  <source file='/new'/>\n</disk>\n"
        );
    }

    #[test]
    fn network_source_keeps_its_hosts() {
        let xml = "<disk name='hdh' snapshot='external' type='network'>\n  \
                   <source protocol='rbd' name='vol/name'>\n    \
                   <host name='host' port='1234'/>\n    \
                   <host name='host2' port='1234' transport='rdma'/>\n  </source>\n</disk>\n";
        assert_eq!(round_trip(xml), xml);
        let disk = read(xml).unwrap();
        assert_eq!(disk.source.protocol, Some(NetProtocol::Rbd));
        assert_eq!(disk.source.path.as_deref(), Some("vol/name"));
    }

    #[test]
    fn plain_entries_stay_plain() {
        for xml in [
            "<disk name='/dev/HostVG/QEMUGuest1'/>\n",
            "<disk name='hdb' snapshot='no'/>\n",
            "<disk name='hdc' snapshot='manual'/>\n",
            "<disk name='hdf' snapshot='external' type='block'>\n  \
             <source dev='/path/to/new3'/>\n</disk>\n",
        ] {
            assert_eq!(round_trip(xml), xml);
        }
        // An empty <source/> carries nothing.
        assert_eq!(
            round_trip("<disk name='hdd' snapshot='external'><source/><driver type='qed'/></disk>"),
            "<disk name='hdd' snapshot='external' type='file'>\n  <driver type='qed'/>\n</disk>\n"
        );
    }

    #[test]
    fn errors_are_libvirts() {
        let cases: &[(&str, oxvirt_xml::ErrorCode, &str)] = &[
            (
                "<disk snapshot='no'/>",
                oxvirt_xml::ErrorCode::InternalError,
                "missing name from disk snapshot element",
            ),
            (
                "<disk name='a' snapshot='default'/>",
                oxvirt_xml::ErrorCode::XmlError,
                "Invalid value for attribute 'snapshot' in element 'disk': 'default'.",
            ),
            (
                "<disk name='a' type='none'/>",
                oxvirt_xml::ErrorCode::XmlError,
                "Invalid value for attribute 'type' in element 'disk': 'none'.",
            ),
            (
                "<disk name='a' type='volume'/>",
                oxvirt_xml::ErrorCode::XmlError,
                "unsupported disk snapshot type 'volume'",
            ),
            (
                "<disk name='a'><driver type='none'/></disk>",
                oxvirt_xml::ErrorCode::ConfigUnsupported,
                "unknown disk snapshot driver 'none'",
            ),
            (
                "<disk name='a'><source file='rel/path'/></disk>",
                oxvirt_xml::ErrorCode::XmlError,
                "disk snapshot image path 'rel/path' must be absolute",
            ),
            (
                "<disk name='a' type='network'><source name='x'/></disk>",
                oxvirt_xml::ErrorCode::XmlError,
                "Missing required attribute 'protocol' in element 'source'",
            ),
            (
                "<disk name='a' type='network'><source protocol='rbd'/></disk>",
                oxvirt_xml::ErrorCode::XmlError,
                "missing name for disk source",
            ),
            (
                "<disk name='a'><driver><metadata_cache><max_size>x</max_size></metadata_cache>\
                 </driver></disk>",
                oxvirt_xml::ErrorCode::XmlError,
                "Invalid value 'x' for element or attribute './driver/metadata_cache/max_size'",
            ),
        ];
        for (xml, code, message) in cases {
            let err = read(xml).unwrap_err();
            assert_eq!((err.code, err.message.as_str()), (*code, *message), "{xml}");
        }
    }

    #[test]
    fn nbd_needs_no_name_and_empty_paths_are_none() {
        let disk = read("<disk name='a' type='network'><source protocol='nbd'/></disk>").unwrap();
        assert_eq!(disk.source.path, None);
        assert_eq!(disk.snapshot, None);
        let disk = read("<disk name='a'><source file=''/></disk>").unwrap();
        assert_eq!(disk.source.path, None);
    }
}
