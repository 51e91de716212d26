//! The migration cookie: the `<qemu-migration>` document the source and destination
//! daemons hand each other in every phase of migration protocol version 3.
//!
//! [`MigrationCookie::parse`] reads a cookie as libvirt's `qemuMigrationCookieXMLParse`
//! does with every cookie feature enabled, and [`MigrationCookie::to_xml`] writes it as
//! `qemuMigrationCookieXMLFormat` does. The persistent `<domain>` and the guest `<cpu>` are
//! read and written with oxvirt's domain model.

use oxvirt_domain::cpu::Cpu;
use oxvirt_domain::Domain;
use oxvirt_xml::model::{str_to_long_i, str_to_long_ll, str_to_long_ullp};
use oxvirt_xml::writer::{escape_into, write_element};
use oxvirt_xml::{Context, Element, ErrorCode, ErrorDomain, VirError, XmlModel};

fn err(msg: impl AsRef<str>) -> VirError {
    VirError::new(ErrorDomain::Qemu, ErrorCode::InternalError, msg)
}

macro_rules! name_enum {
    ($(#[$doc:meta])* $ty:ident { $($(#[$vdoc:meta])* $v:ident = $s:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $ty { $($(#[$vdoc])* $v,)* }

        impl $ty {
            /// Every value, in libvirt's order.
            pub const ALL: &'static [$ty] = &[$($ty::$v,)*];

            /// libvirt's name for it.
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$v => $s,)* }
            }

            /// The value libvirt names `s`.
            pub fn from_name(s: &str) -> Option<$ty> {
                match s { $($s => Some($ty::$v),)* _ => None }
            }
        }
    };
}

name_enum! {
    /// A cookie feature (`qemuMigrationCookieFlags`), as `<feature name='...'/>` names it
    /// when the sender makes it mandatory.
    CookieFeature {
        /// `graphics`.
        Graphics = "graphics",
        /// `lockstate`.
        Lockstate = "lockstate",
        /// `persistent`.
        Persistent = "persistent",
        /// `network`.
        Network = "network",
        /// `nbd`.
        Nbd = "nbd",
        /// `statistics`.
        Statistics = "statistics",
        /// `memory-hotplug`.
        MemoryHotplug = "memory-hotplug",
        /// `cpu-hotplug`.
        CpuHotplug = "cpu-hotplug",
        /// `cpu`.
        Cpu = "cpu",
        /// `allowReboot`.
        AllowReboot = "allowReboot",
        /// `capabilities`.
        Capabilities = "capabilities",
        /// `block-dirty-bitmaps`.
        BlockDirtyBitmaps = "block-dirty-bitmaps",
    }
}

name_enum! {
    /// A QEMU migration capability libvirt 9.0 knows (`qemuMigrationCapability`).
    MigrationCapability {
        /// `xbzrle`.
        Xbzrle = "xbzrle",
        /// `auto-converge`.
        AutoConverge = "auto-converge",
        /// `rdma-pin-all`.
        RdmaPinAll = "rdma-pin-all",
        /// `events`.
        Events = "events",
        /// `postcopy-ram`.
        PostcopyRam = "postcopy-ram",
        /// `compress`.
        Compress = "compress",
        /// `pause-before-switchover`.
        PauseBeforeSwitchover = "pause-before-switchover",
        /// `late-block-activate`.
        LateBlockActivate = "late-block-activate",
        /// `multifd`.
        Multifd = "multifd",
        /// `dirty-bitmaps`.
        DirtyBitmaps = "dirty-bitmaps",
        /// `return-path`.
        ReturnPath = "return-path",
        /// `zero-copy-send`.
        ZeroCopySend = "zero-copy-send",
    }
}

name_enum! {
    /// A graphics type (`virDomainGraphicsType`).
    GraphicsType {
        /// `sdl`.
        Sdl = "sdl",
        /// `vnc`.
        Vnc = "vnc",
        /// `rdp`.
        Rdp = "rdp",
        /// `desktop`.
        Desktop = "desktop",
        /// `spice`.
        Spice = "spice",
        /// `egl-headless`.
        EglHeadless = "egl-headless",
        /// `dbus`.
        Dbus = "dbus",
    }
}

name_enum! {
    /// A virtual port type (`virNetDevVPortProfile`).
    VPortType {
        /// `none`: nothing to transfer.
        None = "none",
        /// `802.1Qbg`.
        Qbg = "802.1Qbg",
        /// `802.1Qbh`.
        Qbh = "802.1Qbh",
        /// `openvswitch`.
        OpenVSwitch = "openvswitch",
        /// `midonet`.
        Midonet = "midonet",
    }
}

/// `<graphics>`: where graphics clients are to reconnect after migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieGraphics {
    /// The graphics type.
    pub kind: GraphicsType,
    /// The port.
    pub port: i32,
    /// The TLS port (SPICE only; -1 when there is none).
    pub tls_port: i32,
    /// The listen address.
    pub listen: String,
    /// The TLS certificate's subject (`<cert info='subject' value='...'/>`).
    pub tls_subject: Option<String>,
}

/// `<lockstate>`: the lock manager's state of the domain's leases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockState {
    /// The lock driver (`driver=`).
    pub driver: String,
    /// The leases; a cookie without them is written without `<lockstate>`.
    pub leases: Option<String>,
}

/// One `<network><interface>`: a virtual port's data to carry over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetData {
    /// The port type; interfaces of type `none` (or one libvirt does not know) are not
    /// written.
    pub vporttype: VPortType,
    /// `<portdata>`.
    pub portdata: Option<String>,
}

/// `<nbd>`: the destination's NBD server and the disks to copy.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Nbd {
    /// The NBD server's port (0: not written).
    pub port: i32,
    /// `(target, capacity in bytes)` of each disk to pre-create.
    pub disks: Vec<(String, u64)>,
}

/// `<statistics>`: the completed migration job's statistics, sent by the source.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub struct Statistics {
    pub started: u64,
    pub stopped: u64,
    pub sent: u64,
    /// `<delta>`: the clock difference between the hosts, when known.
    pub delta: Option<i64>,
    pub time_elapsed: u64,
    pub downtime: Option<u64>,
    pub setup_time: Option<u64>,
    pub memory_total: u64,
    pub memory_processed: u64,
    pub memory_remaining: u64,
    pub memory_bps: u64,
    /// `memory_constant`, `memory_normal`, `memory_normal_bytes`, written together when
    /// `memory_constant` was known.
    pub memory_constant: Option<u64>,
    pub memory_normal: u64,
    pub memory_normal_bytes: u64,
    pub memory_dirty_rate: u64,
    pub memory_iteration: u64,
    pub memory_postcopy_requests: u64,
    pub memory_page_size: u64,
    pub disk_total: u64,
    pub disk_processed: u64,
    pub disk_remaining: u64,
    pub disk_bps: u64,
    /// `compression_cache` and the other `compression_*` values, written together when
    /// `compression_cache` was known.
    pub compression_cache: Option<u64>,
    pub compression_bytes: u64,
    pub compression_pages: u64,
    pub compression_cache_misses: u64,
    pub compression_overflow: u64,
    pub auto_converge_throttle: i32,
}

/// One `<blockDirtyBitmaps><disk>`: the bitmaps of a disk to migrate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BitmapDisk {
    /// The disk's target.
    pub target: String,
    /// `(name, alias)` of each bitmap.
    pub bitmaps: Vec<(String, String)>,
}

/// A `<qemu-migration>` cookie.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MigrationCookie {
    /// The domain's name.
    pub name: String,
    /// The domain's UUID, as written.
    pub uuid: String,
    /// The sending host's name.
    pub hostname: String,
    /// The sending host's UUID, in canonical form.
    pub hostuuid: String,
    /// The features the sender makes mandatory (`<feature name='...'/>`), in libvirt's
    /// order.
    pub features: Vec<CookieFeature>,
    /// `<graphics>`.
    pub graphics: Option<CookieGraphics>,
    /// `<lockstate>`.
    pub lockstate: Option<LockState>,
    /// The persistent definition (`<domain>`), read with oxvirt's domain model as an
    /// inactive definition; unknown content in it is kept and written back.
    pub persistent: Option<Domain>,
    /// `<network>`: one entry per interface of the domain, in order.
    pub network: Option<Vec<NetData>>,
    /// `<nbd>`.
    pub nbd: Option<Nbd>,
    /// `<statistics>`.
    pub statistics: Option<Statistics>,
    /// The guest CPU (`<cpu>`), read with oxvirt's CPU model.
    pub cpu: Option<Cpu>,
    /// `<capabilities>`: the migration capabilities the sender supports, each with
    /// whether it is always on (`auto='yes'`), in libvirt's order. A cookie read by
    /// [`MigrationCookie::parse`] always has them (none when the element is missing), as
    /// in libvirt.
    pub capabilities: Option<Vec<(MigrationCapability, bool)>>,
    /// `<blockDirtyBitmaps>`.
    pub block_dirty_bitmaps: Option<Vec<BitmapDisk>>,
}

/// Reads a UUID as `virUUIDParse` does (hex digit pairs, dashes allowed between them,
/// white space around) and writes it in canonical form.
pub fn canonical_uuid(s: &str) -> Option<String> {
    let s = s.trim_start();
    let mut digits = String::with_capacity(32);
    let mut rest = s;
    while digits.len() < 32 {
        let c = rest.chars().next()?;
        if c == '-' {
            rest = &rest[1..];
            continue;
        }
        let d = c.to_digit(16)?;
        digits.push(char::from_digit(d, 16)?);
        rest = &rest[c.len_utf8()..];
    }
    if !rest.chars().all(char::is_whitespace) {
        return None;
    }
    Some(format!(
        "{}-{}-{}-{}-{}",
        &digits[..8],
        &digits[8..12],
        &digits[12..16],
        &digits[16..20],
        &digits[20..]
    ))
}

/// The XPath string value of `el`: its text and its descendants' text, in order.
fn string_value(el: &Element) -> String {
    let mut out = String::new();
    fn walk(el: &Element, out: &mut String) {
        for n in &el.children {
            match n {
                oxvirt_xml::Node::Text(t) | oxvirt_xml::Node::CData(t) => out.push_str(t),
                oxvirt_xml::Node::Element(e) => walk(e, out),
                _ => {}
            }
        }
    }
    walk(el, &mut out);
    out
}

/// `virXPathString("string(./name[1])")`: the first child's string value, `None` when
/// the child is missing or its value empty.
fn child_string(el: &Element, name: &str) -> Option<String> {
    el.child(name).map(string_value).filter(|s| !s.is_empty())
}

/// An attribute's value, `None` when missing or empty (as XPath `string(@a)` reads).
fn attr_string(el: &Element, name: &str) -> Option<String> {
    el.attr(name).filter(|s| !s.is_empty()).map(str::to_string)
}

fn parse_graphics(el: &Element) -> Result<CookieGraphics, VirError> {
    let kind =
        attr_string(el, "type").ok_or_else(|| err("missing type attribute in migration data"))?;
    let kind = GraphicsType::from_name(&kind)
        .ok_or_else(|| err(format!("unknown graphics type {kind}")))?;
    let port = el
        .attr("port")
        .and_then(|p| str_to_long_i(p, 10))
        .ok_or_else(|| err("missing port attribute in migration data"))?;
    let mut tls_port = 0;
    if kind == GraphicsType::Spice {
        tls_port = el
            .attr("tlsPort")
            .and_then(|p| str_to_long_i(p, 10))
            .ok_or_else(|| err("missing tlsPort attribute in migration data"))?;
    }
    let listen = attr_string(el, "listen")
        .ok_or_else(|| err("missing listen attribute in migration data"))?;
    let tls_subject = el
        .elements()
        .find(|c| c.name == "cert" && c.attr("info") == Some("subject"))
        .and_then(|c| attr_string(c, "value"));
    Ok(CookieGraphics {
        kind,
        port,
        tls_port,
        listen,
        tls_subject,
    })
}

fn parse_network(el: &Element) -> Result<Vec<NetData>, VirError> {
    let mut nets = Vec::new();
    for iface in el.elements().filter(|e| e.name == "interface") {
        let portdata = child_string(iface, "portdata");
        let vporttype = iface
            .attr("vporttype")
            .ok_or_else(|| err("missing vporttype attribute in migration data"))?;
        nets.push(NetData {
            // A type libvirt does not know is never written back, as `none`.
            vporttype: VPortType::from_name(vporttype).unwrap_or(VPortType::None),
            portdata,
        });
    }
    Ok(nets)
}

fn parse_nbd(el: &Element) -> Result<Nbd, VirError> {
    let mut nbd = Nbd::default();
    if let Some(port) = attr_string(el, "port") {
        nbd.port =
            str_to_long_i(&port, 10).ok_or_else(|| err(format!("Malformed nbd port '{port}'")))?;
    }
    for disk in el.elements().filter(|e| e.name == "disk") {
        let target = attr_string(disk, "target").ok_or_else(|| err("Malformed disk target"))?;
        let capacity = attr_string(disk, "capacity");
        let cap = capacity
            .as_deref()
            .and_then(|c| str_to_long_ullp(c, 10))
            .ok_or_else(|| {
                err(format!(
                    "Malformed disk capacity: '{}'",
                    capacity.as_deref().unwrap_or("<null>")
                ))
            })?;
        nbd.disks.push((target, cap));
    }
    Ok(nbd)
}

fn parse_statistics(el: &Element) -> Statistics {
    let u = |name: &str| child_string(el, name).and_then(|v| str_to_long_ullp(&v, 10));
    let z = |name: &str| u(name).unwrap_or(0);
    Statistics {
        started: z("started"),
        stopped: z("stopped"),
        sent: z("sent"),
        delta: child_string(el, "delta").and_then(|v| str_to_long_ll(&v, 10)),
        time_elapsed: z("time_elapsed"),
        downtime: u("downtime"),
        setup_time: u("setup_time"),
        memory_total: z("memory_total"),
        memory_processed: z("memory_processed"),
        memory_remaining: z("memory_remaining"),
        memory_bps: z("memory_bps"),
        memory_constant: u("memory_constant"),
        memory_normal: z("memory_normal"),
        memory_normal_bytes: z("memory_normal_bytes"),
        memory_dirty_rate: z("memory_dirty_rate"),
        memory_iteration: z("memory_iteration"),
        memory_postcopy_requests: z("memory_postcopy_requests"),
        memory_page_size: z("memory_page_size"),
        disk_total: z("disk_total"),
        disk_processed: z("disk_processed"),
        disk_remaining: z("disk_remaining"),
        disk_bps: z("disk_bps"),
        compression_cache: u("compression_cache"),
        compression_bytes: z("compression_bytes"),
        compression_pages: z("compression_pages"),
        compression_cache_misses: z("compression_cache_misses"),
        compression_overflow: z("compression_overflow"),
        auto_converge_throttle: child_string(el, "auto_converge_throttle")
            .and_then(|v| str_to_long_i(&v, 10))
            .unwrap_or(0),
    }
}

fn parse_capabilities(el: Option<&Element>) -> Result<Vec<(MigrationCapability, bool)>, VirError> {
    let mut supported = [false; MigrationCapability::ALL.len()];
    let mut automatic = [false; MigrationCapability::ALL.len()];
    for cap in el
        .into_iter()
        .flat_map(|e| e.elements())
        .filter(|e| e.name == "cap")
    {
        let name = cap
            .attr("name")
            .ok_or_else(|| err("missing migration capability name"))?;
        // Capabilities this libvirt does not know are skipped.
        if let Some(c) = MigrationCapability::from_name(name) {
            supported[c as usize] = true;
            if cap.attr("auto") == Some("yes") {
                automatic[c as usize] = true;
            }
        }
    }
    Ok(MigrationCapability::ALL
        .iter()
        .filter(|c| supported[**c as usize])
        .map(|c| (*c, automatic[*c as usize]))
        .collect())
}

fn parse_bitmaps(el: &Element) -> Result<Vec<BitmapDisk>, VirError> {
    let malformed = || err("malformed <blockDirtyBitmaps> in migration cookie");
    let mut disks = Vec::new();
    for disk in el.elements().filter(|e| e.name == "disk") {
        let mut bitmaps = Vec::new();
        for b in disk.elements().filter(|e| e.name == "bitmap") {
            match (b.attr("name"), b.attr("alias")) {
                (Some(n), Some(a)) => bitmaps.push((n.to_string(), a.to_string())),
                _ => return Err(malformed()),
            }
        }
        let target = disk.attr("target").ok_or_else(malformed)?.to_string();
        disks.push(BitmapDisk { target, bitmaps });
    }
    Ok(disks)
}

fn text_el(out: &mut String, indent: &str, name: &str, value: impl std::fmt::Display) {
    out.push_str(indent);
    out.push('<');
    out.push_str(name);
    out.push('>');
    escape_into(out, &value.to_string());
    out.push_str("</");
    out.push_str(name);
    out.push_str(">\n");
}

fn attr(out: &mut String, name: &str, value: &str) {
    out.push(' ');
    out.push_str(name);
    out.push_str("='");
    escape_into(out, value);
    out.push('\'');
}

impl MigrationCookie {
    /// Reads a cookie, with libvirt's errors (`VIR_ERR_INTERNAL_ERROR`, `VIR_FROM_QEMU`)
    /// for what libvirt refuses. Unlike libvirt, the name and UUID are not compared to a
    /// local domain, nor the host UUID to the local host's: the caller does that.
    pub fn parse(xml: &str) -> Result<MigrationCookie, VirError> {
        let root = oxvirt_xml::parse(xml).map_err(|e| VirError::from_xml(e, ErrorDomain::Qemu))?;
        Self::from_element(&root)
    }

    /// Reads a cookie from its root element (see [`MigrationCookie::parse`]).
    pub fn from_element(root: &Element) -> Result<MigrationCookie, VirError> {
        let name = child_string(root, "name")
            .ok_or_else(|| err("missing name element in migration data"))?;
        let uuid = child_string(root, "uuid")
            .ok_or_else(|| err("missing uuid element in migration data"))?;
        let hostname = child_string(root, "hostname")
            .ok_or_else(|| err("missing hostname element in migration data"))?;
        let hostuuid = child_string(root, "hostuuid")
            .ok_or_else(|| err("missing hostuuid element in migration data"))?;
        let hostuuid = canonical_uuid(&hostuuid)
            .ok_or_else(|| err("malformed hostuuid element in migration data"))?;
        let mut features = Vec::new();
        for f in root.elements().filter(|e| e.name == "feature") {
            let fname = f.attr("name").ok_or_else(|| err("missing feature name"))?;
            let feature = CookieFeature::from_name(fname)
                .ok_or_else(|| err(format!("Unknown migration cookie feature {fname}")))?;
            if !features.contains(&feature) {
                features.push(feature);
            }
        }
        features.sort();
        let graphics = root.child("graphics").map(parse_graphics).transpose()?;
        let lockstate = match root.child("lockstate") {
            None => None,
            Some(l) => {
                let driver = attr_string(l, "driver")
                    .ok_or_else(|| err("Missing lock driver name in migration cookie"))?;
                // Without leases there is no lock state to carry (nor to write back).
                child_string(l, "leases").map(|leases| LockState {
                    driver,
                    leases: Some(leases),
                })
            }
        };
        let domains: Vec<&Element> = root.elements().filter(|e| e.name == "domain").collect();
        if domains.len() > 1 {
            return Err(err("Too many domain elements in migration cookie"));
        }
        let persistent = match domains.first() {
            None => None,
            Some(d) => Some(
                Domain::parse(&oxvirt_xml::to_string(d))
                    .map_err(|e| VirError::from_xml(e, ErrorDomain::Domain))?
                    .domain,
            ),
        };
        let network = root.child("network").map(parse_network).transpose()?;
        let nbd = root.child("nbd").map(parse_nbd).transpose()?;
        let statistics = root.child("statistics").map(parse_statistics);
        let cpu = root
            .child("cpu")
            .map(|c| Cpu::from_element(c, &mut Context::default()))
            .transpose()
            .map_err(|e| VirError::from_xml(e, ErrorDomain::Cpu))?;
        let capabilities = Some(parse_capabilities(root.child("capabilities"))?);
        let block_dirty_bitmaps = root
            .child("blockDirtyBitmaps")
            .map(parse_bitmaps)
            .transpose()?;
        Ok(MigrationCookie {
            name,
            uuid,
            hostname,
            hostuuid,
            features,
            graphics,
            lockstate,
            persistent,
            network,
            nbd,
            statistics,
            cpu,
            capabilities,
            block_dirty_bitmaps,
        })
    }

    /// The cookie as libvirt writes it (a document ending with a newline).
    pub fn to_xml(&self) -> String {
        let mut out = String::from("<qemu-migration>\n");
        let i1 = "  ";
        let i2 = "    ";
        text_el(&mut out, i1, "name", &self.name);
        text_el(&mut out, i1, "uuid", &self.uuid);
        text_el(&mut out, i1, "hostname", &self.hostname);
        text_el(&mut out, i1, "hostuuid", &self.hostuuid);
        for f in CookieFeature::ALL
            .iter()
            .filter(|f| self.features.contains(f))
        {
            out.push_str(i1);
            out.push_str("<feature");
            attr(&mut out, "name", f.as_str());
            out.push_str("/>\n");
        }
        if let Some(g) = &self.graphics {
            out.push_str(i1);
            out.push_str("<graphics");
            attr(&mut out, "type", g.kind.as_str());
            attr(&mut out, "port", &g.port.to_string());
            attr(&mut out, "listen", &g.listen);
            if g.kind == GraphicsType::Spice {
                attr(&mut out, "tlsPort", &g.tls_port.to_string());
            }
            match &g.tls_subject {
                None => out.push_str("/>\n"),
                Some(s) => {
                    out.push_str(">\n");
                    out.push_str(i2);
                    out.push_str("<cert info='subject'");
                    attr(&mut out, "value", s);
                    out.push_str("/>\n  </graphics>\n");
                }
            }
        }
        if let Some(LockState {
            driver,
            leases: Some(leases),
        }) = &self.lockstate
        {
            out.push_str(i1);
            out.push_str("<lockstate");
            attr(&mut out, "driver", driver);
            out.push_str(">\n");
            text_el(&mut out, i2, "leases", leases);
            out.push_str("  </lockstate>\n");
        }
        if let Some(dom) = &self.persistent {
            write_element(&mut out, &dom.to_element(), 1);
        }
        if let Some(nets) = &self.network {
            let mut ifaces = String::new();
            for (i, n) in nets.iter().enumerate() {
                if n.vporttype == VPortType::None {
                    continue;
                }
                ifaces.push_str(i2);
                ifaces.push_str("<interface");
                attr(&mut ifaces, "index", &i.to_string());
                attr(&mut ifaces, "vporttype", n.vporttype.as_str());
                match &n.portdata {
                    None => ifaces.push_str("/>\n"),
                    Some(p) => {
                        ifaces.push_str(">\n");
                        text_el(&mut ifaces, "      ", "portdata", p);
                        ifaces.push_str("    </interface>\n");
                    }
                }
            }
            if !ifaces.is_empty() {
                out.push_str("  <network>\n");
                out.push_str(&ifaces);
                out.push_str("  </network>\n");
            }
        }
        if let Some(nbd) = &self.nbd {
            out.push_str("  <nbd");
            if nbd.port != 0 {
                attr(&mut out, "port", &nbd.port.to_string());
            }
            if nbd.disks.is_empty() {
                out.push_str("/>\n");
            } else {
                out.push_str(">\n");
                for (target, capacity) in &nbd.disks {
                    out.push_str(i2);
                    out.push_str("<disk");
                    attr(&mut out, "target", target);
                    attr(&mut out, "capacity", &capacity.to_string());
                    out.push_str("/>\n");
                }
                out.push_str("  </nbd>\n");
            }
        }
        if let Some(s) = &self.statistics {
            self.write_statistics(&mut out, s);
        }
        if let Some(cpu) = &self.cpu {
            write_element(&mut out, &cpu.to_element(), 1);
        }
        if let Some(caps) = &self.capabilities {
            out.push_str("  <capabilities>\n");
            for c in MigrationCapability::ALL {
                if let Some((_, auto)) = caps.iter().find(|(k, _)| k == c) {
                    out.push_str(i2);
                    out.push_str("<cap");
                    attr(&mut out, "name", c.as_str());
                    attr(&mut out, "auto", if *auto { "yes" } else { "no" });
                    out.push_str("/>\n");
                }
            }
            out.push_str("  </capabilities>\n");
        }
        if let Some(disks) = &self.block_dirty_bitmaps {
            let mut body = String::new();
            for d in disks.iter().filter(|d| !d.bitmaps.is_empty()) {
                body.push_str(i2);
                body.push_str("<disk");
                attr(&mut body, "target", &d.target);
                body.push_str(">\n");
                for (name, alias) in &d.bitmaps {
                    body.push_str("      <bitmap");
                    attr(&mut body, "name", name);
                    attr(&mut body, "alias", alias);
                    body.push_str("/>\n");
                }
                body.push_str("    </disk>\n");
            }
            if !body.is_empty() {
                out.push_str("  <blockDirtyBitmaps>\n");
                out.push_str(&body);
                out.push_str("  </blockDirtyBitmaps>\n");
            }
        }
        out.push_str("</qemu-migration>\n");
        out
    }

    fn write_statistics(&self, out: &mut String, s: &Statistics) {
        let i = "    ";
        out.push_str("  <statistics>\n");
        text_el(out, i, "started", s.started);
        text_el(out, i, "stopped", s.stopped);
        text_el(out, i, "sent", s.sent);
        if let Some(d) = s.delta {
            text_el(out, i, "delta", d);
        }
        text_el(out, i, "time_elapsed", s.time_elapsed);
        if let Some(v) = s.downtime {
            text_el(out, i, "downtime", v);
        }
        if let Some(v) = s.setup_time {
            text_el(out, i, "setup_time", v);
        }
        text_el(out, i, "memory_total", s.memory_total);
        text_el(out, i, "memory_processed", s.memory_processed);
        text_el(out, i, "memory_remaining", s.memory_remaining);
        text_el(out, i, "memory_bps", s.memory_bps);
        if let Some(v) = s.memory_constant {
            text_el(out, i, "memory_constant", v);
            text_el(out, i, "memory_normal", s.memory_normal);
            text_el(out, i, "memory_normal_bytes", s.memory_normal_bytes);
        }
        text_el(out, i, "memory_dirty_rate", s.memory_dirty_rate);
        text_el(out, i, "memory_iteration", s.memory_iteration);
        text_el(
            out,
            i,
            "memory_postcopy_requests",
            s.memory_postcopy_requests,
        );
        text_el(out, i, "memory_page_size", s.memory_page_size);
        text_el(out, i, "disk_total", s.disk_total);
        text_el(out, i, "disk_processed", s.disk_processed);
        text_el(out, i, "disk_remaining", s.disk_remaining);
        text_el(out, i, "disk_bps", s.disk_bps);
        if let Some(v) = s.compression_cache {
            text_el(out, i, "compression_cache", v);
            text_el(out, i, "compression_bytes", s.compression_bytes);
            text_el(out, i, "compression_pages", s.compression_pages);
            text_el(
                out,
                i,
                "compression_cache_misses",
                s.compression_cache_misses,
            );
            text_el(out, i, "compression_overflow", s.compression_overflow);
        }
        text_el(out, i, "auto_converge_throttle", s.auto_converge_throttle);
        out.push_str("  </statistics>\n");
    }

    /// The checks libvirt makes of a cookie it receives for domain `name` (`uuid`, in
    /// canonical form) on the host `local_hostuuid`, with its errors: the cookie is for
    /// that domain, comes from another host, and makes mandatory only the features in
    /// `supported` (the cookie features the receiving phase handles).
    pub fn check_received(
        &self,
        name: &str,
        uuid: &str,
        local_hostuuid: &str,
        supported: &[CookieFeature],
    ) -> Result<(), VirError> {
        if self.name != name {
            return Err(err(format!(
                "Incoming cookie data had unexpected name {} vs {name}",
                self.name
            )));
        }
        if self.uuid != uuid {
            return Err(err(format!(
                "Incoming cookie data had unexpected UUID {} vs {uuid}",
                self.uuid
            )));
        }
        if canonical_uuid(local_hostuuid).as_deref() == Some(self.hostuuid.as_str()) {
            return Err(err(format!(
                "Attempt to migrate guest to the same host {}",
                self.hostuuid
            )));
        }
        if let Some(f) = self.features.iter().find(|f| !supported.contains(f)) {
            return Err(err(format!(
                "Unsupported migration cookie feature {}",
                f.as_str()
            )));
        }
        Ok(())
    }

    /// The cookie this host sends back after reading `self`: the same content under this
    /// host's name and UUID, no mandatory features, and (as libvirt always sends them)
    /// capabilities.
    pub fn answered_by(&self, hostname: &str, hostuuid: &str) -> MigrationCookie {
        MigrationCookie {
            hostname: hostname.to_string(),
            hostuuid: hostuuid.to_string(),
            features: Vec::new(),
            capabilities: Some(self.capabilities.clone().unwrap_or_default()),
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASIC: &str = "<qemu-migration>\n  <name>a</name>\n  <uuid>dcf47dbd-46d1-4d5b-b442-262a806a333a</uuid>\n  <hostname>h</hostname>\n  <hostuuid>8b3f4dc4-6a8e-5f9b-94a5-4c35babd8d95</hostuuid>\n</qemu-migration>\n";

    #[test]
    fn required_elements_and_their_errors() {
        let c = MigrationCookie::parse(BASIC).expect("basic cookie");
        assert_eq!(c.hostname, "h");
        assert_eq!(c.capabilities, Some(vec![]));
        let no_name = BASIC.replace("<name>a</name>", "");
        let e = MigrationCookie::parse(&no_name).unwrap_err();
        assert_eq!(e.code, ErrorCode::InternalError);
        assert_eq!(e.domain, ErrorDomain::Qemu);
        assert_eq!(
            e.message,
            "internal error: missing name element in migration data"
        );
        let bad = BASIC.replace("8b3f4dc4-6a8e", "zz3f4dc4-6a8e");
        assert_eq!(
            MigrationCookie::parse(&bad).unwrap_err().message,
            "internal error: malformed hostuuid element in migration data"
        );
        let feat = BASIC.replace("</hostuuid>", "</hostuuid><feature name='bogus'/>");
        assert_eq!(
            MigrationCookie::parse(&feat).unwrap_err().message,
            "internal error: Unknown migration cookie feature bogus"
        );
        let nbd = BASIC.replace("</hostuuid>", "</hostuuid><nbd><disk target='vda'/></nbd>");
        assert_eq!(
            MigrationCookie::parse(&nbd).unwrap_err().message,
            "internal error: Malformed disk capacity: '<null>'"
        );
        let g = BASIC.replace(
            "</hostuuid>",
            "</hostuuid><graphics type='spice' port='1' listen='x'/>",
        );
        assert_eq!(
            MigrationCookie::parse(&g).unwrap_err().message,
            "internal error: missing tlsPort attribute in migration data"
        );
    }

    #[test]
    fn what_libvirt_does_not_write_back_is_dropped() {
        let xml = BASIC.replace(
            "</hostuuid>",
            "</hostuuid><lockstate driver='sanlock'/><network><interface index='0' vporttype='none'/><interface index='1' vporttype='openvswitch'><portdata>p</portdata></interface></network><blockDirtyBitmaps><disk target='vda'/></blockDirtyBitmaps><nbd port='0'/>",
        );
        let c = MigrationCookie::parse(&xml).expect("cookie");
        assert_eq!(c.lockstate, None);
        let text = c.to_xml();
        assert!(!text.contains("lockstate"), "{text}");
        assert!(!text.contains("blockDirtyBitmaps"), "{text}");
        assert!(text.contains("  <nbd/>\n"), "{text}");
        // The interface keeps its position in the domain's list as its index.
        assert!(text.contains(
            "  <network>\n    <interface index='1' vporttype='openvswitch'>\n      <portdata>p</portdata>\n    </interface>\n  </network>\n"
        ), "{text}");
    }

    #[test]
    fn received_cookie_checks() {
        let c = MigrationCookie::parse(
            &BASIC.replace("</hostuuid>", "</hostuuid><feature name='nbd'/>"),
        )
        .expect("cookie");
        let uuid = "dcf47dbd-46d1-4d5b-b442-262a806a333a";
        let other = "4a802f00-4cba-5df6-9679-a08c4c5b577f";
        assert_eq!(
            c.check_received("a", uuid, other, &[CookieFeature::Nbd]),
            Ok(())
        );
        let msg = |r: Result<(), VirError>| r.map_err(|e| e.message).unwrap_err();
        assert_eq!(
            msg(c.check_received("b", uuid, other, &[CookieFeature::Nbd])),
            "internal error: Incoming cookie data had unexpected name a vs b"
        );
        assert_eq!(
            msg(c.check_received("a", other, other, &[CookieFeature::Nbd])),
            format!("internal error: Incoming cookie data had unexpected UUID {uuid} vs {other}")
        );
        assert_eq!(
            msg(c.check_received("a", uuid, "8B3F4DC4-6A8E-5F9B-94A5-4C35BABD8D95", &[CookieFeature::Nbd])),
            "internal error: Attempt to migrate guest to the same host 8b3f4dc4-6a8e-5f9b-94a5-4c35babd8d95"
        );
        assert_eq!(
            msg(c.check_received("a", uuid, other, &[])),
            "internal error: Unsupported migration cookie feature nbd"
        );
    }

    #[test]
    fn uuids_are_read_as_libvirt_reads_them() {
        assert_eq!(
            canonical_uuid(" 8B3F4DC46A8E5F9B94A54C35BABD8D95 ").as_deref(),
            Some("8b3f4dc4-6a8e-5f9b-94a5-4c35babd8d95")
        );
        assert_eq!(canonical_uuid("8b3f4dc4"), None);
        assert_eq!(canonical_uuid("8b3f4dc46a8e5f9b94a54c35babd8d95x"), None);
    }

    #[test]
    fn capabilities_are_written_in_libvirt_order_once() {
        let xml = BASIC.replace(
            "</hostuuid>",
            "</hostuuid><capabilities><cap name='multifd' auto='yes'/><cap name='xbzrle'/><cap name='nope'/><cap name='xbzrle' auto='no'/></capabilities>",
        );
        let c = MigrationCookie::parse(&xml).expect("cookie");
        assert_eq!(
            c.capabilities,
            Some(vec![
                (MigrationCapability::Xbzrle, false),
                (MigrationCapability::Multifd, true)
            ])
        );
        assert!(c.to_xml().contains(
            "  <capabilities>\n    <cap name='xbzrle' auto='no'/>\n    <cap name='multifd' auto='yes'/>\n  </capabilities>\n"
        ));
    }
}
