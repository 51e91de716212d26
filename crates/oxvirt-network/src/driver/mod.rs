//! The network driver of `qemu:///system`: libvirt's bridge driver.
//!
//! Definitions live in `STATE/network/NAME.xml` (autostart marks in
//! `STATE/network/autostart/NAME`), running networks in `RUNTIME/network/NAME.xml` (the
//! live definition) with their dnsmasq files beside them; every file is written
//! atomically, so a daemon killed at any moment finds on restart what it had. A restart
//! reattaches to the networks whose bridge still exists (and to their dnsmasq), forgets the
//! others, rebuilds the firewall table from the running set, then starts the autostart ones.
//!
//! Starting a network makes, in order: the bridge (with its addresses, routes and IPv6
//! sysctls), IP forwarding for nat/route, the firewall table, dnsmasq. A failure at any
//! step undoes the steps before it, so nothing is left half-created.
//!
//! Calls are serialised by one lock: starting a network takes tens of milliseconds and no
//! call waits behind a guest.

mod host;
mod ports;
mod store;
pub mod system;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use oxvirt_domain::driver::ports::Lease;
use oxvirt_xml::types::{MacAddr, Uuid};
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};
use tokio::sync::Mutex;

pub use host::{BridgePlan, Host};
pub use system::SystemHost;

use crate::api::{
    flags, NetworkDriver, NetworkEvent, NetworkEventBus, NetworkEventKind, NetworkEventReceiver,
    NetworkRef, Result, Update, UpdateCommand, UpdateSection,
};
use crate::firewall::{FirewallNet, FwMode};
use crate::model::{Bridge, ForwardMode, Network};
use ports::Port;

/// Where the driver keeps its files.
#[derive(Debug, Clone)]
pub struct NetworkConfig {
    /// Definitions and autostart marks (`STATE/network`).
    pub state_dir: PathBuf,
    /// Live definitions, dnsmasq files, leases (`RUNTIME/network`).
    pub runtime_dir: PathBuf,
}

impl NetworkConfig {
    /// The driver's directories under a daemon's state and runtime directories.
    pub fn under(state_dir: &Path, runtime_dir: &Path) -> Self {
        NetworkConfig {
            state_dir: state_dir.join("network"),
            runtime_dir: runtime_dir.join("network"),
        }
    }
}

/// One network the driver knows.
#[derive(Debug, Clone)]
struct NetObj {
    /// The persistent definition (the running one for a transient network).
    def: Network,
    /// The running definition, while the network runs.
    live: Option<Network>,
    /// Whether it has a definition on disk.
    persistent: bool,
    autostart: bool,
    /// The ports of running guests' interfaces.
    ports: Vec<Port>,
}

impl NetObj {
    fn reference(&self) -> NetworkRef {
        NetworkRef {
            name: self.def.name.clone(),
            uuid: self.def.uuid,
        }
    }

    fn active(&self) -> bool {
        self.live.is_some()
    }
}

/// The driver's state: every network by name.
#[derive(Debug, Default)]
struct State {
    nets: BTreeMap<String, NetObj>,
}

impl State {
    fn by_uuid(&self, uuid: &Uuid) -> Option<&NetObj> {
        self.nets.values().find(|n| n.def.uuid == *uuid)
    }

    /// libvirt's `networkObjFromNetwork`: the network a call names, by UUID.
    fn get(&self, net: &NetworkRef) -> Result<&NetObj> {
        self.by_uuid(&net.uuid).ok_or_else(|| no_uuid(net))
    }

    fn get_mut(&mut self, net: &NetworkRef) -> Result<&mut NetObj> {
        let name = self.get(net)?.def.name.clone();
        self.nets.get_mut(&name).ok_or_else(|| no_uuid(net))
    }

    /// The running networks' firewall inputs.
    fn firewall(&self) -> Vec<FirewallNet> {
        self.nets
            .values()
            .filter_map(|n| n.live.as_ref())
            .filter_map(firewall_net)
            .collect()
    }
}

pub(crate) fn err(code: ErrorCode, msg: impl AsRef<str>) -> VirError {
    VirError::new(ErrorDomain::Network, code, msg)
}

fn no_uuid(net: &NetworkRef) -> VirError {
    err(
        ErrorCode::NoNetwork,
        format!(
            "no network with matching uuid '{}' ({})",
            net.uuid, net.name
        ),
    )
}

fn no_name(name: &str) -> VirError {
    err(
        ErrorCode::NoNetwork,
        format!("no network with matching name '{name}'"),
    )
}

fn not_active(name: &str) -> VirError {
    err(
        ErrorCode::OperationInvalid,
        format!("network '{name}' is not active"),
    )
}

/// The network driver.
#[derive(Clone)]
pub struct BridgeDriver {
    inner: Arc<Inner>,
}

struct Inner {
    config: NetworkConfig,
    host: Arc<dyn Host>,
    state: Mutex<State>,
    events: NetworkEventBus,
}

impl std::fmt::Debug for BridgeDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BridgeDriver")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl BridgeDriver {
    /// Opens the driver on the real host: loads definitions, reattaches to running
    /// networks, reconciles the firewall and starts the autostart networks.
    pub async fn open(config: NetworkConfig) -> Result<Self> {
        let host = Arc::new(SystemHost::new(&config.runtime_dir));
        Self::open_with(config, host).await
    }

    /// Opens the driver with another host (tests).
    pub async fn open_with(config: NetworkConfig, host: Arc<dyn Host>) -> Result<Self> {
        let state = store::load(&config)?;
        let driver = BridgeDriver {
            inner: Arc::new(Inner {
                config,
                host,
                state: Mutex::new(state),
                events: NetworkEventBus::new(),
            }),
        };
        driver.reconcile().await?;
        driver.autostart_all().await;
        Ok(driver)
    }

    /// After a (re)start: a network recorded as running whose bridge is gone is stopped
    /// (its leftovers removed); the others get their dnsmasq back (restarted if it died);
    /// the firewall table is rebuilt from what runs.
    async fn reconcile(&self) -> Result<()> {
        let host = &self.inner.host;
        let mut state = self.inner.state.lock().await;
        let names: Vec<String> = state.nets.keys().cloned().collect();
        for name in names {
            let Some(obj) = state.nets.get(&name).cloned() else {
                continue;
            };
            let Some(live) = obj.live.clone() else {
                continue;
            };
            let alive = match bridge_of(&live) {
                Some(br) if live.forward_mode().is_virtual() => host.link_exists(br).await?,
                _ => true,
            };
            if !alive {
                let _ = host.stop_dnsmasq(&name).await;
                self.forget_live(&mut state, &name);
                continue;
            }
            if needs_dnsmasq(&live) && !host.reattach_dnsmasq(&live).await? {
                if let Err(e) = host.start_dnsmasq(&live).await {
                    store::log(&format!(
                        "network '{name}': cannot restart dnsmasq: {}",
                        e.message
                    ));
                }
            }
        }
        self.sync_firewall(&state.firewall(), true).await
    }

    /// Starts every inactive autostart network; failures are logged, as libvirtd does.
    async fn autostart_all(&self) {
        let names: Vec<NetworkRef> = {
            let state = self.inner.state.lock().await;
            state
                .nets
                .values()
                .filter(|n| n.autostart && !n.active())
                .map(NetObj::reference)
                .collect()
        };
        for net in names {
            if let Err(e) = self.create(&net).await {
                store::log(&format!(
                    "cannot autostart network '{}': {}",
                    net.name, e.message
                ));
            }
        }
    }

    /// Removes the running state of `name` (after a stop): the runtime files go, a
    /// transient network goes altogether.
    fn forget_live(&self, state: &mut State, name: &str) {
        store::remove_live(&self.inner.config, name);
        let remove = match state.nets.get_mut(name) {
            Some(obj) => {
                obj.live = None;
                obj.ports.clear();
                !obj.persistent
            }
            None => false,
        };
        if remove {
            state.nets.remove(name);
        }
    }

    /// libvirt's define-time defaults: a bridge name (`virbrN`, the first free), a MAC
    /// address for the bridge, spanning tree off and no forward delay (libvirt's default
    /// is on; see docs/oxvirtd.md) for networks oxvirt runs.
    async fn fill_defaults(&self, state: &State, def: &mut Network) -> Result<()> {
        if !def.forward_mode().is_virtual() {
            return Ok(());
        }
        let bridge = def.bridge.get_or_insert_with(Bridge::default);
        let wanted = bridge.name.clone().filter(|n| !n.contains("%d"));
        match wanted {
            Some(name) => {
                let taken = state
                    .nets
                    .values()
                    .any(|n| n.def.name != def.name && bridge_of(&n.def) == Some(name.as_str()));
                if taken {
                    return Err(err(
                        ErrorCode::InternalError,
                        format!("bridge name '{name}' already in use."),
                    ));
                }
            }
            None => {
                let template = bridge.name.clone().unwrap_or_else(|| "virbr%d".to_string());
                let mut found = None;
                for i in 0..256 {
                    let name = template.replacen("%d", &i.to_string(), 1);
                    let used = state
                        .nets
                        .values()
                        .any(|n| bridge_of(&n.def) == Some(name.as_str()));
                    if !used && !self.inner.host.link_exists(&name).await? {
                        found = Some(name);
                        break;
                    }
                }
                let name = found.ok_or_else(|| {
                    err(
                        ErrorCode::InternalError,
                        "Bridge generation exceeded max id 256",
                    )
                })?;
                bridge.name = Some(name);
            }
        }
        if bridge.stp.is_none() {
            bridge.stp = Some(false);
        }
        if def.mac.is_none() {
            def.mac = Some(MacAddr::generate([0x52, 0x54, 0x00]).map_err(|e| {
                err(
                    ErrorCode::InternalError,
                    format!("cannot generate a MAC address: {e}"),
                )
            })?);
        }
        Ok(())
    }

    /// Parses, checks and completes a definition for `define_xml`/`create_xml`, and checks
    /// it against the networks the driver has (libvirt's `virNetworkObjAssignDef`).
    async fn prepare(&self, state: &State, xml: &str, live: bool) -> Result<Network> {
        let mut def = Network::parse(xml)?;
        def.validate()?;
        // `connections` is the daemon's count of ports, never the document's.
        def.connections = None;
        // libvirt's default is spanning tree on; oxvirt's is off unless the document
        // asks for it (docs/oxvirtd.md, "Networks"), and the definition then says so.
        if stp_unspecified(xml) {
            if let Some(bridge) = def.bridge.as_mut() {
                bridge.stp = Some(false);
            }
        }
        for other in state.nets.values() {
            if other.def.uuid == def.uuid && other.def.name != def.name {
                return Err(err(
                    ErrorCode::OperationFailed,
                    format!(
                        "network '{}' is already defined with uuid {}",
                        other.def.name, other.def.uuid
                    ),
                ));
            }
            if other.def.name == def.name {
                if other.def.uuid != def.uuid {
                    return Err(err(
                        ErrorCode::OperationFailed,
                        format!(
                            "network '{}' already exists with uuid {}",
                            def.name, other.def.uuid
                        ),
                    ));
                }
                if live && other.active() {
                    return Err(err(
                        ErrorCode::OperationInvalid,
                        format!("network is already active as '{}'", def.name),
                    ));
                }
            }
        }
        // A redefinition keeps the generated bridge and MAC of the definition it replaces.
        if let Some(old) = state.nets.get(&def.name) {
            if def.bridge.as_ref().and_then(|b| b.name.as_ref()).is_none() {
                if let Some(name) = bridge_of(&old.def) {
                    def.bridge.get_or_insert_with(Bridge::default).name = Some(name.to_string());
                }
            }
            if def.mac.is_none() {
                def.mac = old.def.mac;
            }
        }
        self.fill_defaults(state, &mut def).await?;
        Ok(def)
    }

    /// Starts `name`'s definition: every host step, undone in reverse on failure.
    async fn start(&self, state: &mut State, name: &str) -> Result<()> {
        let host = &self.inner.host;
        let obj = state.nets.get(name).ok_or_else(|| no_name(name))?;
        if obj.active() {
            return Err(err(
                ErrorCode::OperationInvalid,
                "network is already active",
            ));
        }
        let mut live = obj.def.clone();
        live.connections = None;
        let mode = live.forward_mode();
        if mode.is_virtual() {
            let plan = bridge_plan(&live)?;
            let routes = host.routes().await?;
            for (addr, prefix) in &plan.addresses {
                if let Some(dev) = crate::netlink::subnet_in_use(&routes, *addr, *prefix) {
                    return Err(crate::netlink::subnet_in_use_error(&dev));
                }
            }
            // A link of that name that was there before (the kernel's EEXIST) is not ours:
            // a failed start leaves it alone.
            let existed = host.link_exists(&plan.name).await?;
            if let Err(e) = host.create_bridge(&plan).await {
                if !existed {
                    let _ = host.delete_bridge(&plan.name).await;
                }
                return Err(e);
            }
            let undo_bridge = || async {
                let _ = host.delete_bridge(&plan.name).await;
            };
            let v4 = live.ipv4().next().is_some();
            let v6 = live.ipv6().next().is_some();
            if matches!(mode, ForwardMode::Nat | ForwardMode::Route) {
                if let Err(e) = host.enable_forwarding(v4, v6).await {
                    undo_bridge().await;
                    return Err(e);
                }
            }
            let mut fw = state.firewall();
            if let Some(net) = firewall_net(&live) {
                if let Err(e) = crate::firewall::validate(&net) {
                    undo_bridge().await;
                    return Err(e);
                }
                fw.push(net);
            }
            if let Err(e) = self.sync_firewall(&fw, false).await {
                undo_bridge().await;
                let _ = self.sync_firewall(&state.firewall(), false).await;
                return Err(e);
            }
            if needs_dnsmasq(&live) {
                if let Err(e) = host.start_dnsmasq(&live).await {
                    let _ = host.stop_dnsmasq(name).await;
                    undo_bridge().await;
                    let _ = self.sync_firewall(&state.firewall(), false).await;
                    return Err(e);
                }
            }
        } else if mode == ForwardMode::Bridge {
            let br = bridge_of(&live).unwrap_or_default().to_string();
            if !br.is_empty() && !host.link_exists(&br).await? {
                return Err(err(
                    ErrorCode::SystemError,
                    format!("Cannot get interface MTU on '{br}': No such device"),
                ));
            }
        }
        if let Err(e) = store::save_live(&self.inner.config, &live, &[]) {
            self.teardown(state, name, &live).await;
            return Err(e);
        }
        if let Some(obj) = state.nets.get_mut(name) {
            obj.live = Some(live);
            obj.ports.clear();
        }
        Ok(())
    }

    /// Undoes a start's host steps for a network that is (or was being) started.
    async fn teardown(&self, state: &State, name: &str, live: &Network) {
        let host = &self.inner.host;
        if live.forward_mode().is_virtual() {
            let _ = host.stop_dnsmasq(name).await;
            if let Some(br) = bridge_of(live) {
                let _ = host.delete_bridge(br).await;
            }
            let fw: Vec<FirewallNet> = state
                .nets
                .values()
                .filter(|n| n.def.name != name)
                .filter_map(|n| n.live.as_ref())
                .filter_map(firewall_net)
                .collect();
            let _ = self.sync_firewall(&fw, false).await;
        }
    }

    /// Stops a running network.
    async fn stop(&self, state: &mut State, name: &str) -> Result<()> {
        let live = state
            .nets
            .get(name)
            .and_then(|n| n.live.clone())
            .ok_or_else(|| not_active(name))?;
        let host = &self.inner.host;
        if live.forward_mode().is_virtual() {
            host.stop_dnsmasq(name).await?;
            if let Some(br) = bridge_of(&live) {
                host.delete_bridge(br).await?;
            }
        }
        self.forget_live(state, name);
        self.sync_firewall(&state.firewall(), false).await
    }

    /// Replaces the firewall table with the rules of `nets`. A mark file
    /// (`RUNTIME/network/firewall`) says a table may exist: written before a table is
    /// made, removed once it is gone, so a daemon that opens with nothing running and no
    /// mark (the common case) leaves the host's firewall alone, while one that finds the
    /// mark removes what a previous daemon left.
    async fn sync_firewall(&self, nets: &[FirewallNet], opening: bool) -> Result<()> {
        let mark = self.inner.config.runtime_dir.join("firewall");
        if nets.is_empty() {
            if opening && !mark.exists() {
                return Ok(());
            }
            self.inner.host.firewall(nets).await?;
            return oxvirt_domain::fsio::remove(&mark);
        }
        oxvirt_domain::fsio::write_atomic(&mark, "")?;
        self.inner.host.firewall(nets).await
    }

    fn emit(&self, net: &NetworkRef, kind: NetworkEventKind) {
        self.inner.events.emit(NetworkEvent::new(net, kind));
    }

    /// The names of the running networks (for logs).
    pub async fn running(&self) -> Vec<String> {
        let state = self.inner.state.lock().await;
        state
            .nets
            .values()
            .filter(|n| n.active())
            .map(|n| n.def.name.clone())
            .collect()
    }
}

/// Whether the document leaves `<bridge stp>` out.
fn stp_unspecified(xml: &str) -> bool {
    oxvirt_xml::parse(xml)
        .ok()
        .is_none_or(|root| root.child("bridge").and_then(|b| b.attr("stp")).is_none())
}

/// A network's bridge name.
fn bridge_of(def: &Network) -> Option<&str> {
    def.bridge.as_ref().and_then(|b| b.name.as_deref())
}

/// Whether the network runs dnsmasq (libvirt's rule: a virtual network with an address,
/// unless DNS is off and there is no DHCP).
fn needs_dnsmasq(def: &Network) -> bool {
    def.forward_mode().is_virtual() && crate::dnsmasq::needs_dnsmasq(def)
}

/// The host side of a network's bridge.
fn bridge_plan(def: &Network) -> Result<BridgePlan> {
    let name = bridge_of(def)
        .ok_or_else(|| {
            err(
                ErrorCode::InternalError,
                format!("network '{}' has no bridge name", def.name),
            )
        })?
        .to_string();
    let bridge = def.bridge.clone().unwrap_or_default();
    Ok(BridgePlan {
        name,
        mac: def.mac.map(|m| *m.as_bytes()),
        mtu: def.mtu,
        stp: bridge.stp.unwrap_or(false),
        delay_ms: bridge.delay.unwrap_or(0).saturating_mul(1000),
        addresses: def.ips.iter().map(|ip| (ip.address, ip.prefix())).collect(),
        routes: def
            .routes
            .iter()
            .map(|r| (r.address, r.prefix(), r.gateway, r.metric))
            .collect(),
        ipv6: def.ipv6 || def.ipv6().next().is_some(),
    })
}

/// The firewall input of a running network (none for modes without rules).
fn firewall_net(def: &Network) -> Option<FirewallNet> {
    let mode = match def.forward_mode() {
        ForwardMode::Nat => FwMode::Nat,
        ForwardMode::Route => FwMode::Route,
        ForwardMode::None => FwMode::Isolated,
        _ => return None,
    };
    let nat = def.forward.as_ref().and_then(|f| f.nat.as_ref());
    Some(FirewallNet {
        bridge: bridge_of(def)?.to_string(),
        mode,
        forward_dev: def
            .forward
            .as_ref()
            .and_then(|f| f.dev())
            .map(str::to_string),
        ipv4: def
            .ipv4()
            .filter_map(|ip| match ip.address {
                IpAddr::V4(a) => Some((a, ip.prefix())),
                IpAddr::V6(_) => None,
            })
            .collect(),
        ipv6: def
            .ipv6()
            .filter_map(|ip| match ip.address {
                IpAddr::V6(a) => Some((a, ip.prefix())),
                IpAddr::V4(_) => None,
            })
            .collect(),
        nat_addresses: nat
            .and_then(|n| Some((n.address_start?, n.address_end.or(n.address_start)?))),
        nat_ports: nat
            .filter(|n| n.port_start != 0)
            .map(|n| (n.port_start as u16, n.port_end as u16)),
        nat_ipv6: nat.is_some_and(|n| n.ipv6 == Some(true)),
        ipv6_no_gateway: def.ipv6,
    })
}

#[async_trait]
impl NetworkDriver for BridgeDriver {
    fn subscribe(&self) -> NetworkEventReceiver {
        self.inner.events.subscribe()
    }

    async fn list_all(&self, filter: u32) -> Result<Vec<NetworkRef>> {
        let state = self.inner.state.lock().await;
        let pass = |n: &NetObj| {
            let pick = |on: u32, off: u32, value: bool| {
                let (on, off) = (filter & on != 0, filter & off != 0);
                !(on || off) || (on && value) || (off && !value)
            };
            pick(flags::list::ACTIVE, flags::list::INACTIVE, n.active())
                && pick(
                    flags::list::PERSISTENT,
                    flags::list::TRANSIENT,
                    n.persistent,
                )
                && pick(
                    flags::list::AUTOSTART,
                    flags::list::NO_AUTOSTART,
                    n.autostart,
                )
        };
        Ok(state
            .nets
            .values()
            .filter(|n| pass(n))
            .map(NetObj::reference)
            .collect())
    }

    async fn lookup_by_name(&self, name: &str) -> Result<NetworkRef> {
        let state = self.inner.state.lock().await;
        state
            .nets
            .get(name)
            .map(NetObj::reference)
            .ok_or_else(|| no_name(name))
    }

    async fn lookup_by_uuid(&self, uuid: &Uuid) -> Result<NetworkRef> {
        let state = self.inner.state.lock().await;
        state.by_uuid(uuid).map(NetObj::reference).ok_or_else(|| {
            err(
                ErrorCode::NoNetwork,
                format!("no network with matching uuid '{uuid}'"),
            )
        })
    }

    async fn define_xml(&self, xml: &str, _flags: u32) -> Result<NetworkRef> {
        let mut state = self.inner.state.lock().await;
        let def = self.prepare(&state, xml, false).await?;
        store::save_config(&self.inner.config, &def)?;
        let name = def.name.clone();
        match state.nets.get_mut(&name) {
            Some(obj) => {
                obj.def = def;
                obj.persistent = true;
            }
            None => {
                state.nets.insert(
                    name.clone(),
                    NetObj {
                        def,
                        live: None,
                        persistent: true,
                        autostart: false,
                        ports: Vec::new(),
                    },
                );
            }
        }
        let net = state.nets[&name].reference();
        drop(state);
        self.emit(&net, NetworkEventKind::Defined);
        Ok(net)
    }

    async fn undefine(&self, net: &NetworkRef) -> Result<()> {
        let mut state = self.inner.state.lock().await;
        let obj = state.get(net)?;
        if !obj.persistent {
            return Err(err(
                ErrorCode::OperationInvalid,
                "network is not persistent",
            ));
        }
        let name = obj.def.name.clone();
        let active = obj.active();
        store::remove_config(&self.inner.config, &name)?;
        let r = state.nets[&name].reference();
        if active {
            if let Some(obj) = state.nets.get_mut(&name) {
                obj.persistent = false;
                obj.autostart = false;
                if let Some(live) = &obj.live {
                    obj.def = live.clone();
                }
            }
        } else {
            state.nets.remove(&name);
        }
        drop(state);
        self.emit(&r, NetworkEventKind::Undefined);
        Ok(())
    }

    async fn create_xml(&self, xml: &str, _flags: u32) -> Result<NetworkRef> {
        let mut state = self.inner.state.lock().await;
        let def = self.prepare(&state, xml, true).await?;
        let name = def.name.clone();
        let existed = state.nets.contains_key(&name);
        if !existed {
            state.nets.insert(
                name.clone(),
                NetObj {
                    def: def.clone(),
                    live: None,
                    persistent: false,
                    autostart: false,
                    ports: Vec::new(),
                },
            );
        }
        // A running copy of a persistent network keeps its definition for later starts.
        let saved = state.nets.get(&name).map(|o| o.def.clone());
        if let Some(obj) = state.nets.get_mut(&name) {
            obj.def = def;
        }
        if let Err(e) = self.start(&mut state, &name).await {
            if existed {
                if let (Some(obj), Some(old)) = (state.nets.get_mut(&name), saved) {
                    obj.def = old;
                }
            } else {
                state.nets.remove(&name);
            }
            return Err(e);
        }
        if let (true, Some(obj), Some(old)) = (existed, state.nets.get_mut(&name), saved) {
            obj.def = old;
        }
        let net = state.nets[&name].reference();
        drop(state);
        self.emit(&net, NetworkEventKind::Started);
        Ok(net)
    }

    async fn create(&self, net: &NetworkRef) -> Result<()> {
        let mut state = self.inner.state.lock().await;
        let name = state.get(net)?.def.name.clone();
        self.start(&mut state, &name).await?;
        let r = state.nets[&name].reference();
        drop(state);
        self.emit(&r, NetworkEventKind::Started);
        Ok(())
    }

    async fn destroy(&self, net: &NetworkRef) -> Result<()> {
        let mut state = self.inner.state.lock().await;
        let obj = state.get(net)?;
        let name = obj.def.name.clone();
        if !obj.active() {
            return Err(not_active(&name));
        }
        let r = obj.reference();
        self.stop(&mut state, &name).await?;
        drop(state);
        self.emit(&r, NetworkEventKind::Stopped);
        Ok(())
    }

    async fn xml_desc(&self, net: &NetworkRef, xml_flags: u32) -> Result<String> {
        let state = self.inner.state.lock().await;
        let obj = state.get(net)?;
        let def = match (&obj.live, xml_flags & flags::xml::INACTIVE != 0) {
            (Some(live), false) => {
                let mut live = live.clone();
                let n = obj.ports.len() as u32;
                live.connections = (n > 0).then_some(n);
                live
            }
            _ => obj.def.clone(),
        };
        Ok(def.to_xml())
    }

    async fn bridge_name(&self, net: &NetworkRef) -> Result<String> {
        let state = self.inner.state.lock().await;
        let obj = state.get(net)?;
        bridge_of(&obj.def).map(str::to_string).ok_or_else(|| {
            err(
                ErrorCode::InternalError,
                format!("network '{}' does not have a bridge name.", obj.def.name),
            )
        })
    }

    async fn autostart(&self, net: &NetworkRef) -> Result<bool> {
        let state = self.inner.state.lock().await;
        Ok(state.get(net)?.autostart)
    }

    async fn set_autostart(&self, net: &NetworkRef, autostart: bool) -> Result<()> {
        let mut state = self.inner.state.lock().await;
        let obj = state.get_mut(net)?;
        if !obj.persistent {
            return Err(err(
                ErrorCode::OperationInvalid,
                "cannot set autostart for transient network",
            ));
        }
        store::set_autostart(&self.inner.config, &obj.def.name, autostart)?;
        obj.autostart = autostart;
        Ok(())
    }

    async fn is_active(&self, net: &NetworkRef) -> Result<bool> {
        let state = self.inner.state.lock().await;
        Ok(state.get(net)?.active())
    }

    async fn is_persistent(&self, net: &NetworkRef) -> Result<bool> {
        let state = self.inner.state.lock().await;
        Ok(state.get(net)?.persistent)
    }

    async fn update(&self, net: &NetworkRef, update: &Update) -> Result<()> {
        let command = UpdateCommand::from_number(update.command).ok_or_else(|| {
            err(
                ErrorCode::InvalidArg,
                format!(
                    "unrecognized network update command code {}",
                    update.command
                ),
            )
        })?;
        let section = UpdateSection::from_number(update.section).ok_or_else(|| {
            err(
                ErrorCode::NoSupport,
                "can't update unrecognized section of network",
            )
        })?;
        let mut state = self.inner.state.lock().await;
        let obj = state.get(net)?.clone();
        let name = obj.def.name.clone();
        let mut live = update.flags & flags::update::LIVE != 0;
        let mut config = update.flags & flags::update::CONFIG != 0;
        if !live && !config {
            // AFFECT_CURRENT: the running network if it runs, else its definition.
            if obj.active() {
                live = true;
            } else {
                config = true;
            }
        }
        if live && !obj.active() {
            return Err(not_active(&name));
        }
        if config && !obj.persistent {
            return Err(err(
                ErrorCode::OperationInvalid,
                "cannot change persistent config of a transient network",
            ));
        }
        let mut new_def = obj.def.clone();
        if config {
            crate::model::update(
                &mut new_def,
                command,
                section,
                update.parent_index,
                &update.xml,
            )?;
            new_def.validate()?;
        }
        let mut new_live = obj.live.clone();
        if live {
            if let Some(l) = new_live.as_mut() {
                crate::model::update(l, command, section, update.parent_index, &update.xml)?;
                l.validate()?;
            }
        }
        if live {
            if let Some(l) = &new_live {
                self.apply_live_update(&obj, l, section).await?;
                let ports: Vec<Port> = obj.ports.clone();
                store::save_live(&self.inner.config, l, &ports)?;
            }
        }
        if config {
            store::save_config(&self.inner.config, &new_def)?;
        }
        if let Some(o) = state.nets.get_mut(&name) {
            if config || !o.persistent {
                o.def = if o.persistent {
                    new_def
                } else {
                    new_live.clone().unwrap_or(new_def)
                };
            }
            if live {
                o.live = new_live;
            }
        }
        Ok(())
    }

    async fn dhcp_leases(&self, net: &NetworkRef, mac: Option<&str>) -> Result<Vec<Lease>> {
        let state = self.inner.state.lock().await;
        let obj = state.get(net)?;
        let def = obj.live.clone().unwrap_or_else(|| obj.def.clone());
        let name = def.name.clone();
        drop(state);
        leases_of(&self.inner.host, &def, &name, mac).await
    }
}

impl BridgeDriver {
    /// Brings a running network in line with an updated live definition: the dnsmasq
    /// hosts files for host/DNS sections (reread on SIGHUP), a dnsmasq restart for ranges,
    /// the firewall for the rest that changes rules.
    async fn apply_live_update(
        &self,
        obj: &NetObj,
        live: &Network,
        section: UpdateSection,
    ) -> Result<()> {
        let host = &self.inner.host;
        let name = &obj.def.name;
        match section {
            UpdateSection::IpDhcpHost
            | UpdateSection::DnsHost
            | UpdateSection::DnsTxt
            | UpdateSection::DnsSrv
            | UpdateSection::IpDhcpRange => {
                if !needs_dnsmasq(live) {
                    return Ok(());
                }
                if matches!(section, UpdateSection::IpDhcpHost | UpdateSection::DnsHost) {
                    host.reload_dnsmasq(live).await
                } else {
                    host.stop_dnsmasq(name).await?;
                    host.start_dnsmasq(live).await
                }
            }
            _ => Ok(()),
        }
    }
}

/// The network's current leases, only those of `mac` if given.
async fn leases_of(
    host: &Arc<dyn Host>,
    def: &Network,
    name: &str,
    mac: Option<&str>,
) -> Result<Vec<Lease>> {
    let text = host.lease_file(name).await?;
    let iface = bridge_of(def).unwrap_or_default().to_string();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let mut leases = crate::dnsmasq::parse_leases(&text, &iface, now, |ip| {
        crate::dnsmasq::lease_prefix(def, ip)
    });
    if let Some(mac) = mac {
        let mac = mac.to_ascii_lowercase();
        leases.retain(|l| {
            l.mac
                .as_deref()
                .is_some_and(|m| m.eq_ignore_ascii_case(&mac))
        });
    }
    Ok(leases)
}
