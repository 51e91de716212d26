//! What a test connection starts with: libvirt's built-in default node, or a `<node>` XML
//! file (libvirt's `testOpenDefault`, `testOpenFromFile` and `testOpenParse`).

use std::path::{Path, PathBuf};

use oxvirt_domain::driver::state::{RunningReason, ShutoffReason, StateReason};
use oxvirt_domain::driver::{DomainState, NodeInfo};
use oxvirt_domain::objects::domains::DomainList;
use oxvirt_domain::snapshot::{DomainSnapshot, SnapshotParseFlags};
use oxvirt_xml::{Element, ErrorCode, ErrorDomain, VirError};

use crate::driver::internal;
use crate::parse::parse_domain;
use crate::resources::{InterfaceObj, NetworkObj, NodeDeviceObj, PoolObj, VolumeObj};

/// libvirt's built-in node of `test:///default` (`defaultConnXML`).
pub const DEFAULT_NODE_XML: &str = include_str!("default_node.xml");

/// A host NUMA cell of the test node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    /// Its memory, in KiB.
    pub memory_kib: u64,
    /// Its free memory, in KiB.
    pub free_kib: u64,
    /// Its CPUs: `(id, socket_id, core_id)`.
    pub cpus: Vec<(u32, u32, u32)>,
}

/// Everything a node description sets up.
#[derive(Debug)]
pub struct NodeConfig {
    /// The domains, in the order given.
    pub domains: DomainList,
    /// The host's CPUs and memory.
    pub node_info: NodeInfo,
    /// The host's NUMA cells (two for the default node, none for a node file).
    pub cells: Vec<Cell>,
    /// Virtual networks.
    pub networks: Vec<NetworkObj>,
    /// Host interfaces.
    pub interfaces: Vec<InterfaceObj>,
    /// Storage pools.
    pub pools: Vec<PoolObj>,
    /// Node devices.
    pub nodedevs: Vec<NodeDeviceObj>,
}

/// libvirt's `defaultNodeInfo`: an i686 host with 3 GiB, 16 CPUs at 1400 MHz.
pub fn default_node_info() -> NodeInfo {
    NodeInfo {
        model: "i686".into(),
        memory_kib: 3 * 1024 * 1024,
        cpus: 16,
        mhz: 1400,
        nodes: 2,
        sockets: 2,
        cores: 2,
        threads: 2,
    }
}

/// The two NUMA cells of `test:///default`: 8 CPUs each, cell `i` with `(i + 1) * 2` GiB of
/// which `(i + 1)` GiB free.
fn default_cells() -> Vec<Cell> {
    (0..2u32)
        .map(|i| Cell {
            memory_kib: u64::from(i + 1) * 2048 * 1024,
            free_kib: u64::from(i + 1) * 1024 * 1024,
            cpus: (0..8).map(|c| (i * 8 + c, i, c)).collect(),
        })
        .collect()
}

/// The node of `test:///default`.
pub fn default_node() -> Result<NodeConfig, VirError> {
    let root = oxvirt_xml::parse(DEFAULT_NODE_XML)
        .map_err(|e| VirError::from_xml(e, ErrorDomain::Test))?;
    let mut config = parse_node(&root, DEFAULT_NODE_XML, None)?;
    config.cells = default_cells();
    Ok(config)
}

/// The node described by the file at `path`.
pub fn load_file(path: &str) -> Result<NodeConfig, VirError> {
    let (root, text) = read_document(Path::new(path))?;
    parse_node(&root, &text, Some(Path::new(path)))
}

/// The node described by `text`, a `<node>` document; `file=` references resolve against
/// the current directory.
pub fn parse_text(text: &str) -> Result<NodeConfig, VirError> {
    let root = oxvirt_xml::parse(text).map_err(|e| VirError::from_xml(e, ErrorDomain::Test))?;
    parse_node(&root, text, None)
}

/// `VIR_ERR_XML_ERROR` from the test driver.
fn xml_error(detail: impl AsRef<str>) -> VirError {
    VirError::new(ErrorDomain::Test, ErrorCode::XmlError, detail)
}

/// Reads and parses an XML file, failing as libvirt's `virXMLParse` does.
fn read_document(path: &Path) -> Result<(Element, String), VirError> {
    let shown = path.display();
    let text = std::fs::read_to_string(path)
        .map_err(|_| xml_error(format!("failed to parse xml document '{shown}'")))?;
    let root = oxvirt_xml::parse(&text).map_err(|e| {
        if e.code == ErrorCode::XmlDetail {
            let line = e.position.map_or(1, |p| p.line);
            VirError::raw(
                ErrorDomain::Test,
                ErrorCode::XmlDetail,
                format!("{shown}:{line}: {}", e.message),
            )
        } else {
            VirError::from_xml(e, ErrorDomain::Test)
        }
    })?;
    Ok((root, text))
}

/// `rel` as libvirt's `testBuildFilename` resolves it: absolute as it is, else relative to
/// the node file's directory.
fn relative_to(file: Option<&Path>, rel: &str) -> PathBuf {
    match file.and_then(Path::parent) {
        Some(dir) if !Path::new(rel).is_absolute() => dir.join(rel),
        _ => PathBuf::from(rel),
    }
}

/// An element of the node (or the root of the file its `file=` names) and its text
/// (libvirt's `testParseXMLDocFromFile`). Namespace declarations of the node element are
/// carried over into an inline element's text so that it reads on its own.
fn resolve(
    el: &Element,
    text: &str,
    root: &Element,
    file: Option<&Path>,
    kind: &str,
) -> Result<(Element, String), VirError> {
    let (el, xml) = match el.attr("file") {
        Some(rel) => read_document(&relative_to(file, rel))?,
        None => (el.clone(), standalone_text(el, text, root)),
    };
    if el.local_name() != kind {
        return Err(VirError::new(
            ErrorDomain::Xml,
            ErrorCode::XmlError,
            format!(
                "expecting root element of '{kind}', not '{}'",
                el.local_name()
            ),
        ));
    }
    Ok((el, xml))
}

/// The text of `el` inside `text`, with the namespace declarations of `root` it lacks.
fn standalone_text(el: &Element, text: &str, root: &Element) -> String {
    let own = el
        .span
        .clone()
        .and_then(|s| text.get(s))
        .map(str::to_string)
        .unwrap_or_else(|| oxvirt_xml::to_string(el));
    let missing: String = root
        .attributes
        .iter()
        .filter(|a| a.name == "xmlns" || a.name.starts_with("xmlns:"))
        .filter(|a| el.attr(&a.name).is_none())
        .map(|a| format!(" {}=\"{}\"", a.name, oxvirt_xml::writer::escape(&a.value)))
        .collect();
    let head = 1 + el.name.len();
    match own.get(..head) {
        Some(start) if !missing.is_empty() => format!("{start}{missing}{}", &own[head..]),
        _ => own,
    }
}

/// Reads a whole node description.
fn parse_node(root: &Element, text: &str, file: Option<&Path>) -> Result<NodeConfig, VirError> {
    if root.name != "node" {
        return Err(xml_error("Root element is not 'node'"));
    }
    let mut config = NodeConfig {
        domains: DomainList::new(),
        node_info: parse_node_info(root)?,
        cells: Vec::new(),
        networks: Vec::new(),
        interfaces: Vec::new(),
        pools: Vec::new(),
        nodedevs: Vec::new(),
    };
    for el in root.elements().filter(|e| e.name == "domain") {
        let (_, xml) = resolve(el, text, root, file, "domain")?;
        load_domain(&mut config.domains, &xml, file)?;
    }
    for el in root.elements().filter(|e| e.name == "network") {
        let (el, xml) = resolve(el, text, root, file, "network")?;
        config.networks.push(NetworkObj::from_element(&el, xml));
    }
    for el in root.elements().filter(|e| e.name == "interface") {
        let (el, xml) = resolve(el, text, root, file, "interface")?;
        config.interfaces.push(InterfaceObj::from_element(&el, xml));
    }
    for el in root.elements().filter(|e| e.name == "pool") {
        let (pool_el, xml) = resolve(el, text, root, file, "pool")?;
        let mut pool = PoolObj::from_element(&pool_el, xml);
        let pool_type = crate::storage::load_pool(&mut pool)?;
        let pool_path = PoolObj::target_path(&pool_el);
        for v in el.elements().filter(|e| e.name == "volume") {
            let (v, vxml) = resolve(v, text, root, file, "volume")?;
            let vol = VolumeObj::from_element(&v, vxml, &pool_path);
            crate::storage::check_volume(pool_type, &vol)?;
            pool.volumes.push(vol);
        }
        pool.allocation = crate::storage::volumes_allocation(&pool);
        config.pools.push(pool);
    }
    for el in root.elements().filter(|e| e.name == "device") {
        let (el, xml) = resolve(el, text, root, file, "device")?;
        config.nodedevs.push(NodeDeviceObj::from_element(&el, xml));
    }
    check_auth(root)?;
    Ok(config)
}

/// `<auth>` users: a connection that needs credentials cannot be opened without a way to
/// ask for them, which this API does not have.
fn check_auth(root: &Element) -> Result<(), VirError> {
    let Some(auth) = root.child("auth") else {
        return Ok(());
    };
    let users: Vec<&Element> = auth.elements().filter(|e| e.name == "user").collect();
    if users.iter().any(|u| u.text().is_empty()) {
        return Err(xml_error("missing username in /node/auth/user field"));
    }
    if users.is_empty() {
        return Ok(());
    }
    Err(VirError::new(
        ErrorDomain::Auth,
        ErrorCode::InvalidArg,
        "Missing authentication credentials",
    ))
}

/// One number of `<cpu>` or `<memory>`: absent or empty is `None`, anything but an integer
/// is libvirt's "invalid node ... value".
fn node_number(el: Option<&Element>, what: &str) -> Result<Option<u64>, VirError> {
    let text = el.map(|e| e.text()).unwrap_or_default();
    if text.is_empty() {
        return Ok(None);
    }
    text.trim_start()
        .parse::<i64>()
        .ok()
        .map(|n| Some(n as u64))
        .ok_or_else(|| xml_error(format!("invalid node {what} value")))
}

/// libvirt's `testParseNodeInfo`: the default node information with what `<cpu>` and
/// `<memory>` override.
fn parse_node_info(root: &Element) -> Result<NodeInfo, VirError> {
    let mut info = default_node_info();
    let cpu = root.child("cpu");
    let field = |name: &str, what: &str| node_number(cpu.and_then(|c| c.child(name)), what);
    let as_u32 = |n: u64| n as u32;
    if let Some(n) = field("nodes", "cpu nodes")? {
        info.nodes = as_u32(n);
    }
    if let Some(n) = field("sockets", "cpu sockets")? {
        info.sockets = as_u32(n);
    }
    if let Some(n) = field("cores", "cpu cores")? {
        info.cores = as_u32(n);
    }
    if let Some(n) = field("threads", "cpu threads")? {
        info.threads = as_u32(n);
    }
    info.cpus = info
        .cores
        .wrapping_mul(info.threads)
        .wrapping_mul(info.sockets)
        .wrapping_mul(info.nodes);
    if let Some(n) = field("active", "cpu active")? {
        if n < u64::from(info.cpus) {
            info.cpus = as_u32(n);
        }
    }
    if let Some(n) = field("mhz", "cpu mhz")? {
        info.mhz = as_u32(n);
    }
    if let Some(model) = cpu.and_then(|c| c.child("model")).map(Element::text) {
        // virNodeInfo's model is a 32-byte string.
        if model.len() >= 32 {
            return Err(internal(format!("Model {model} too big for destination")));
        }
        info.model = model;
    }
    if let Some(n) = node_number(root.child("memory"), "memory")? {
        info.memory_kib = n;
    }
    Ok(info)
}

/// Loads one domain of a node (libvirt's `testParseDomains`): running (with the next ID)
/// unless `<test:runstate>` says otherwise, every state with reason 0.
fn load_domain(domains: &mut DomainList, xml: &str, file: Option<&Path>) -> Result<(), VirError> {
    let (def, ns) = parse_domain(xml)?;
    let state = ns.state();
    let uuid = domains.add(def, 0)?.0.uuid();
    let id = (state != DomainState::Shutoff).then(|| domains.alloc_id());
    let obj = domains
        .find_by_uuid_mut(&uuid)
        .ok_or_else(|| internal("domain vanished while loading"))?;
    let mut pending = ns
        .snapshots
        .iter()
        .map(|el| parse_snapshot(el, file))
        .collect::<Result<Vec<_>, _>>()?;
    // Parents go in before their children, whatever the file's order, so that the tree
    // links them (libvirt relinks them all once loaded).
    while !pending.is_empty() {
        let ready = pending.iter().position(|def| {
            let parent = def.parent.as_ref().and_then(|p| p.name.as_deref());
            parent.is_none_or(|p| {
                obj.snapshots.get(p).is_some()
                    || !pending.iter().any(|o| o.name.as_deref() == Some(p))
            })
        });
        let def = pending.remove(ready.unwrap_or(0));
        let current = def.active == Some(true);
        let snap_name = obj.snapshots.insert(def)?.name().to_string();
        if current {
            if obj.snapshots.current().is_some() {
                return Err(internal("more than one snapshot claims to be active"));
            }
            obj.snapshots.set_current(Some(&snap_name));
        }
    }
    obj.persistent = !ns.transient;
    obj.has_managed_save = ns.has_managed_save;
    match id {
        Some(id) => obj.start(id, StateReason::Running(RunningReason::Booted)),
        None => obj.stop(ShutoffReason::Unknown),
    }
    obj.state = StateReason::from_numbers(state.number(), 0)
        .ok_or_else(|| internal("state without reason 0"))?;
    Ok(())
}

/// A `<test:domainsnapshot>` (inline, or naming a file with `file=`) read as libvirt reads
/// a snapshot it redefines from its own records.
fn parse_snapshot(el: &Element, file: Option<&Path>) -> Result<DomainSnapshot, VirError> {
    let xml = match el.attr("file") {
        Some(rel) => read_document(&relative_to(file, rel))?.1,
        None => {
            let mut el = el.clone();
            el.name = "domainsnapshot".into();
            el.namespace = None;
            el.attributes.retain(|a| a.name != "xmlns:test");
            oxvirt_xml::to_string(&el)
        }
    };
    let flags = SnapshotParseFlags {
        redefine: true,
        internal: true,
        offline: false,
    };
    DomainSnapshot::parse_for(&xml, flags, &crate::parse::post_parse)
        .map(|p| p.snapshot)
        .map_err(|e| VirError::from_xml(e, ErrorDomain::DomainSnapshot))
}
