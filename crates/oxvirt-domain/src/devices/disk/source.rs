//! Where a disk's data lives: `<source>` for each disk type, network hosts, the backing
//! chain (`<backingStore>`), and host PCI addresses (also used by `<hostdev>`).

use oxvirt_xml::model::{str_to_long_ullp, PropFlags};
use oxvirt_xml::{
    xml_enum, Builder, Context, Cursor, Element, Result, Unknown, XmlEnum, XmlError, XmlModel,
};

use super::common::{StartupPolicy, StorageFormat};
use crate::address::PciAddress;

xml_enum! {
    /// The kind of storage behind a disk (`<disk type=...>`, `virStorageType`).
    pub enum DiskType {
        File = "file", Block = "block", Dir = "dir", Network = "network", Volume = "volume",
        Nvme = "nvme", Vhostuser = "vhostuser",
    }
}

xml_enum! {
    /// The protocol of a network disk (`<source protocol=...>`).
    pub enum NetProtocol {
        Nbd = "nbd", Rbd = "rbd", Sheepdog = "sheepdog", Gluster = "gluster", Iscsi = "iscsi",
        Http = "http", Https = "https", Ftp = "ftp", Ftps = "ftps", Tftp = "tftp", Ssh = "ssh",
        Vxhs = "vxhs", Nfs = "nfs",
    }
}

impl NetProtocol {
    /// The port libvirt fills in for a TCP host given without one (0: none).
    pub fn default_port(self) -> u32 {
        match self {
            NetProtocol::Http => 80,
            NetProtocol::Https => 443,
            NetProtocol::Ftp => 21,
            NetProtocol::Ftps => 990,
            NetProtocol::Tftp => 69,
            NetProtocol::Sheepdog => 7000,
            NetProtocol::Nbd => 10809,
            NetProtocol::Ssh => 22,
            NetProtocol::Iscsi => 3260,
            NetProtocol::Gluster => 24007,
            NetProtocol::Vxhs => 9999,
            NetProtocol::Rbd | NetProtocol::Nfs => 0,
        }
    }
}

xml_enum! {
    /// How a network disk host is reached (`<host transport=...>`); TCP, the default, is
    /// written as no attribute.
    pub enum HostTransport { Unix = "unix", Rdma = "rdma" }
}

xml_enum! {
    /// How a storage-pool volume is accessed (`<source mode=...>`).
    pub enum PoolMode { Host = "host", Direct = "direct" }
}

/// One server of a network disk (`<host name='...' port='...'/>`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NetHost {
    /// Host name or address (TCP and RDMA).
    pub name: Option<String>,
    /// Port; libvirt fills in the protocol's default for TCP hosts.
    pub port: Option<u32>,
    /// Transport other than TCP.
    pub transport: Option<HostTransport>,
    /// UNIX socket path (`transport='unix'`).
    pub socket: Option<String>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl XmlModel for NetHost {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let transport = match c.attr("transport") {
            None | Some("tcp") => None,
            Some(v) => match HostTransport::from_xml_str(v) {
                Some(t) => Some(t),
                None => return Err(c.invalid_value("transport", v, "")),
            },
        };
        let socket = c.attr_string("socket");
        let mut host = NetHost {
            transport,
            ..NetHost::default()
        };
        if transport == Some(HostTransport::Unix) {
            if socket.is_none() {
                return Err(c.error("missing socket for unix transport"));
            }
            host.socket = socket;
        } else {
            if socket.is_some() {
                let t = transport.map_or("tcp", |t| t.as_xml_str());
                return Err(c.error(format!("transport '{t}' does not support socket attribute")));
            }
            if let Some(p) = c.attr("port") {
                let n = str_to_long_ullp(p, 10)
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| {
                        XmlError::internal(format!("failed to parse port number '{p}'"))
                            .at(el.position)
                    })?;
                if n > u32::from(u16::MAX) {
                    return Err(
                        XmlError::internal(format!("port '{p}' out of range")).at(el.position)
                    );
                }
                host.port = (n != 0).then_some(n);
            }
            host.name = c.attr_string("name");
            if host.name.is_none() {
                return Err(c.error("missing name for host"));
            }
        }
        host.unknown = c.finish(ctx);
        Ok(host)
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("host");
        b.opt_attr("name", self.name.as_deref())
            .opt_attr("port", self.port)
            .opt_attr("transport", self.transport)
            .opt_attr("socket", self.socket.as_deref());
        b.finish(&self.unknown)
    }
}

/// A PCI address on the host (`<address domain='0x0000' bus='0x06' slot='0x12'
/// function='0x5'/>`), as a host device or NVMe disk source names it: no `type` attribute.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HostPciAddress {
    /// The address.
    pub address: PciAddress,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl XmlModel for HostPciAddress {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        if el.attr("type") == Some("pci") {
            // libvirt reads and writes host addresses without a type.
            c.attr("type");
        }
        let address = PciAddress::parse(&mut c)?;
        if address != PciAddress::default() {
            address.validate().map_err(|e| e.at(el.position))?;
        }
        Ok(HostPciAddress {
            address,
            unknown: c.finish_known(ctx, &["zpci"]),
        })
    }

    fn to_element(&self) -> Element {
        let a = &self.address;
        let mut b = Builder::new("address");
        b.attr("domain", format_args!("0x{:04x}", a.domain))
            .attr("bus", format_args!("0x{:02x}", a.bus))
            .attr("slot", format_args!("0x{:02x}", a.slot))
            .attr("function", format_args!("0x{}", a.function));
        b.finish(&self.unknown)
    }
}

/// A disk's `<source>`. Which attributes are read depends on the disk type; the others stay
/// in [`DiskSource::unknown`]. Children libvirt knows but this model does not type
/// (`<seclabel>`, `<auth>`, `<encryption>`, `<reservations>`, `<slices>`, `<snapshot>`,
/// `<config>`, `<initiator>`, `<cookies>`, ...) are kept in place.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DiskSource {
    /// Storage pool (`type='volume'`).
    pub pool: Option<String>,
    /// Volume in the pool (`type='volume'`).
    pub volume: Option<String>,
    /// Volume access mode (`type='volume'`).
    pub mode: Option<PoolMode>,
    /// Image file (`type='file'`).
    pub file: Option<String>,
    /// File descriptor group passed by the client (`type='file'`).
    pub fdgroup: Option<String>,
    /// Block device (`type='block'`).
    pub dev: Option<String>,
    /// Directory (`type='dir'`).
    pub dir: Option<String>,
    /// Network protocol (`type='network'`).
    pub protocol: Option<NetProtocol>,
    /// Image or volume name on the server (`type='network'`).
    pub name: Option<String>,
    /// HTTP(S) query string (`type='network'`).
    pub query: Option<String>,
    /// `tls='yes|no'` (`type='network'`).
    pub tls: Option<bool>,
    /// Host name to verify the TLS certificate against (`type='network'`).
    pub tls_hostname: Option<String>,
    /// The source's own `type`: `pci` for NVMe, `unix` for vhost-user.
    pub source_type: Option<String>,
    /// `managed='yes|no'` (`type='nvme'`).
    pub managed: Option<bool>,
    /// NVMe namespace (`type='nvme'`).
    pub namespace: Option<u64>,
    /// vhost-user socket path (`type='vhostuser'`).
    pub path: Option<String>,
    /// What to do when the source is missing at start.
    pub startup_policy: Option<StartupPolicy>,
    /// The index libvirt gave this image in the backing chain.
    pub index: Option<u32>,
    /// Servers of a network disk.
    pub hosts: Vec<NetHost>,
    /// The NVMe controller's host PCI address (`type='nvme'`).
    pub pci_address: Option<HostPciAddress>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

/// Children of `<source>` libvirt knows and this model keeps untyped.
const SOURCE_UNTYPED: &[&str] = &[
    "seclabel",
    "auth",
    "encryption",
    "reservations",
    "slices",
    "snapshot",
    "config",
    "initiator",
    "cookies",
    "ssl",
    "readahead",
    "timeout",
    "identity",
    "reconnect",
    "knownHosts",
    "dataStore",
    "privateData",
];

fn take_path(c: &mut Cursor<'_>, name: &str) -> Option<String> {
    c.attr_string(name).filter(|p| !p.is_empty())
}

impl DiskSource {
    /// Reads a `<source>` of a disk (or backing image) of type `kind`. `top` is true for the
    /// disk's own source, which alone carries `startupPolicy` and `index`.
    pub fn parse(el: &Element, ctx: &mut Context, kind: DiskType, top: bool) -> Result<Self> {
        let mut c = Cursor::new(el);
        let mut s = DiskSource::default();
        match kind {
            DiskType::File => {
                s.file = take_path(&mut c, "file");
                s.fdgroup = c.attr_string("fdgroup");
            }
            DiskType::Block => s.dev = take_path(&mut c, "dev"),
            DiskType::Dir => s.dir = take_path(&mut c, "dir"),
            DiskType::Volume => {
                let pool = el.attr("pool");
                let volume = el.attr("volume");
                if pool.is_some() || volume.is_some() {
                    if pool.is_none() || volume.is_none() {
                        return Err(c.error(
                            "'pool' and 'volume' must be specified together for 'pool' type source",
                        ));
                    }
                    s.pool = c.attr_string("pool");
                    s.volume = c.attr_string("volume");
                    s.mode = c.enum_attr("mode")?;
                }
            }
            DiskType::Network => s.parse_network(&mut c, ctx)?,
            DiskType::Nvme => {
                match c.attr("type") {
                    None => return Err(c.error("missing 'type' attribute to disk source")),
                    Some("pci") => s.source_type = Some("pci".into()),
                    Some(t) => return Err(c.error(format!("unsupported source type '{t}'"))),
                }
                s.namespace = Some(c.required_ulonglong("namespace", 10, PropFlags::NONE)?);
                s.managed = c.prop_yes_no("managed", PropFlags::NONE)?;
                match c.model::<HostPciAddress>("address", ctx)? {
                    Some(a) => s.pci_address = Some(a),
                    None => return Err(c.error("NVMe disk source is missing address")),
                }
            }
            DiskType::Vhostuser => {
                match c.attr("type") {
                    None => {
                        return Err(c.error("missing 'type' attribute for vhostuser disk source"))
                    }
                    Some("unix") => s.source_type = Some("unix".into()),
                    Some(_) => {
                        return Err(c.error("invalid 'type' attribute for vhostuser disk source"))
                    }
                }
                s.path = c.attr_string("path");
                if s.path.is_none() {
                    return Err(c.error("missing 'path' attribute for vhostuser disk source"));
                }
            }
        }
        if top {
            // Read for every type; validation refuses it where it does not apply.
            s.startup_policy = c.enum_attr("startupPolicy")?;
            if let Some(v) = c.attr("index") {
                let n = str_to_long_ullp(v, 10)
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| c.error(format!("invalid disk index '{v}'")))?;
                s.index = (n != 0).then_some(n);
            }
        }
        s.unknown = c.finish_known(ctx, SOURCE_UNTYPED);
        Ok(s)
    }

    fn parse_network(&mut self, c: &mut Cursor<'_>, ctx: &mut Context) -> Result<()> {
        let protocol: NetProtocol = c.required_enum_attr("protocol")?;
        self.protocol = Some(protocol);
        self.name = c.attr_string("name");
        if self.name.is_none() && protocol != NetProtocol::Nbd {
            return Err(c.error("missing name for disk source"));
        }
        if self.name.as_deref() == Some("") {
            self.name = None;
        }
        self.tls = c.prop_yes_no("tls", PropFlags::NONE)?;
        self.tls_hostname = c.attr_string("tlsHostname");
        if matches!(protocol, NetProtocol::Http | NetProtocol::Https) {
            self.query = c.attr_string("query");
        }
        self.hosts = c.models("host", ctx)?;
        for h in &mut self.hosts {
            if h.transport.is_none() && h.port.is_none() {
                let port = protocol.default_port();
                h.port = (port != 0).then_some(port);
            }
        }
        Ok(())
    }

    /// Writes the element, named `name` (`source`).
    pub fn to_element_named(&self, name: &str) -> Element {
        let mut b = Builder::new(name);
        b.opt_attr("pool", self.pool.as_deref())
            .opt_attr("volume", self.volume.as_deref())
            .opt_attr("mode", self.mode)
            .opt_attr("file", self.file.as_deref())
            .opt_attr("fdgroup", self.fdgroup.as_deref())
            .opt_attr("dev", self.dev.as_deref())
            .opt_attr("dir", self.dir.as_deref())
            .opt_attr("protocol", self.protocol)
            .opt_attr("name", self.name.as_deref())
            .opt_attr("query", self.query.as_deref())
            .yes_no("tls", self.tls)
            .opt_attr("tlsHostname", self.tls_hostname.as_deref())
            .opt_attr("type", self.source_type.as_deref())
            .yes_no("managed", self.managed)
            .opt_attr("namespace", self.namespace)
            .opt_attr("path", self.path.as_deref())
            .opt_attr("startupPolicy", self.startup_policy)
            .opt_attr("index", self.index);
        b.models(&self.hosts);
        b.model(self.pci_address.as_ref());
        b.finish(&self.unknown)
    }

    /// The path libvirt reports for this source (`virDomainDiskGetSource`): the file, device
    /// or directory, the network image name, or the vhost-user socket.
    pub fn path(&self) -> Option<&str> {
        self.file
            .as_deref()
            .or(self.dev.as_deref())
            .or(self.dir.as_deref())
            .or(self.name.as_deref())
            .or(self.path.as_deref())
    }
}

/// The format of an image in a backing chain (`<format type='qcow2'/>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackingFormat {
    /// The image format.
    pub format: StorageFormat,
    /// `<metadata_cache>` and anything else, kept as written.
    pub unknown: Unknown,
}

impl XmlModel for BackingFormat {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let text = c.attr("type").unwrap_or("");
        let format = XmlEnum::from_xml_str(text)
            .ok_or_else(|| c.error(format!("unknown storage source format '{text}'")))?;
        Ok(BackingFormat {
            format,
            unknown: c.finish_known(ctx, &["metadata_cache"]),
        })
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("format");
        b.attr("type", self.format);
        b.finish(&self.unknown)
    }
}

/// One image below a disk's top image (`<backingStore>`), or the end of the chain (an
/// empty `<backingStore/>`, where `kind` is `None`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BackingStore {
    /// The storage type; `None` for the terminator.
    pub kind: Option<DiskType>,
    /// The index libvirt gave this image.
    pub index: Option<u32>,
    /// The image format.
    pub format: Option<BackingFormat>,
    /// Where the image is.
    pub source: Option<DiskSource>,
    /// The next image down.
    pub backing_store: Option<Box<BackingStore>>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl XmlModel for BackingStore {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let Some(type_text) = c.attr("type") else {
            return Ok(BackingStore {
                unknown: c.finish(ctx),
                ..BackingStore::default()
            });
        };
        let kind: DiskType = XmlEnum::from_xml_str(type_text)
            .ok_or_else(|| c.error(format!("unknown storage source type '{type_text}'")))?;
        let index = match c.attr("index") {
            None => None,
            Some(v) => str_to_long_ullp(v, 10)
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| c.error(format!("invalid storage source index '{v}'")))
                .map(|n| (n != 0).then_some(n))?,
        };
        let format_present = el
            .child("format")
            .and_then(|f| f.attr("type"))
            .is_some_and(|t| !t.is_empty());
        if !format_present {
            return Err(c.error("missing disk backing store format"));
        }
        let Some(source_el) = c.child("source") else {
            return Err(c.error("missing disk backing store source"));
        };
        let format = c.model("format", ctx)?;
        let source = Some(DiskSource::parse(source_el, ctx, kind, false)?);
        let backing_store = c.model::<BackingStore>("backingStore", ctx)?.map(Box::new);
        Ok(BackingStore {
            kind: Some(kind),
            index,
            format,
            source,
            backing_store,
            unknown: c.finish_known(ctx, &["dataStore"]),
        })
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("backingStore");
        b.opt_attr("type", self.kind).opt_attr("index", self.index);
        b.model(self.format.as_ref());
        b.opt_child(self.source.as_ref().map(|s| s.to_element_named("source")));
        b.model(self.backing_store.as_deref());
        b.finish(&self.unknown)
    }
}

impl BackingStore {
    /// The images of the chain below this one, this one first, terminator excluded.
    pub fn chain(&self) -> impl Iterator<Item = &BackingStore> {
        std::iter::successors(Some(self), |b| b.backing_store.as_deref())
            .filter(|b| b.kind.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(xml: &str, kind: DiskType) -> Result<DiskSource> {
        DiskSource::parse(
            &oxvirt_xml::parse(xml)?,
            &mut Context::default(),
            kind,
            true,
        )
    }

    #[test]
    fn network_hosts_get_default_ports() {
        let s = source(
            "<source protocol='http' name='test.img'><host name='example.org'/></source>",
            DiskType::Network,
        )
        .unwrap();
        assert_eq!(
            oxvirt_xml::to_string(&s.to_element_named("source")),
            "<source protocol='http' name='test.img'>\n  <host name='example.org' port='80'/>\n</source>\n"
        );
        assert_eq!(s.path(), Some("test.img"));
    }

    #[test]
    fn source_errors_are_libvirts() {
        let err = source("<source protocol='rbd'/>", DiskType::Network).unwrap_err();
        assert_eq!(err.message, "missing name for disk source");
        let err = source("<source pool='p'/>", DiskType::Volume).unwrap_err();
        assert_eq!(
            err.message,
            "'pool' and 'volume' must be specified together for 'pool' type source"
        );
        let err = source(
            "<source protocol='nbd'><host transport='unix'/></source>",
            DiskType::Network,
        )
        .unwrap_err();
        assert_eq!(err.message, "missing socket for unix transport");
    }

    #[test]
    fn nvme_source_round_trips() {
        let xml = "<source type='pci' managed='no' namespace='1'>\n  \
                   <address domain='0x0000' bus='0x02' slot='0x00' function='0x0'/>\n  \
                   <slices>\n    <slice type='storage' offset='1234' size='321'/>\n  </slices>\n</source>\n";
        let s = source(xml, DiskType::Nvme).unwrap();
        assert_eq!(oxvirt_xml::to_string(&s.to_element_named("source")), xml);
    }

    #[test]
    fn backing_chains_nest() {
        let xml = "<backingStore type='file' index='1'>\n  <format type='qcow2'/>\n  \
                   <source file='/b.qcow2'/>\n  <backingStore type='block' index='2'>\n    \
                   <format type='raw'/>\n    <source dev='/dev/c'/>\n    <backingStore/>\n  \
                   </backingStore>\n</backingStore>\n";
        let b =
            BackingStore::from_element(&oxvirt_xml::parse(xml).unwrap(), &mut Context::default())
                .unwrap();
        assert_eq!(oxvirt_xml::to_string(&b.to_element()), xml);
        assert_eq!(b.chain().count(), 2);
        let err = BackingStore::from_element(
            &oxvirt_xml::parse("<backingStore type='file'><source file='/x'/></backingStore>")
                .unwrap(),
            &mut Context::default(),
        )
        .unwrap_err();
        assert_eq!(err.message, "missing disk backing store format");
    }
}
