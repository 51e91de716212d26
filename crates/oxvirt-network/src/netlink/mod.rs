//! Bridges, addresses and routes over rtnetlink, and the host sysctls a virtual network
//! needs, as libvirt's network driver sets them up (`networkStartNetworkVirtual`):
//!
//! - [`Netlink`]: one rtnetlink connection (in the network namespace of the thread that
//!   opens it): create the bridge ([`BridgeSpec`]: MAC, MTU, STP and forward delay, as
//!   `virNetDevBridgeCreate`, `virNetDevSetMTU`, `virNetDevBridgeSetSTPDelay` and
//!   `virNetDevBridgeSetSTP` do), add addresses (`virNetDevIPAddrAdd`) and routes
//!   (`virNetDevIPRouteAdd`), bring links up and down, enslave ports, and list links,
//!   addresses and routes.
//! - [`ProcSys`], [`ip_forward`] and [`ipv6_sysctls`]: `/proc/sys/net` as
//!   `networkEnableIPForwarding` and `networkSetIPv6Sysctls` write it.
//! - [`subnet_in_use`]: `networkCheckRouteCollision`, a network's subnet against the
//!   routing table.
//! - [`enter_netns`]: moves the calling thread into a named network namespace (tests and
//!   tools run netlink there).
//!
//! Errors are [`VirError`]s with libvirt's wording from `virnetdev.c`,
//! `virnetdevbridge.c`, `virnetdevip.c` and `virnetlink.c` (`VIR_FROM_NONE`, system
//! errors with the `strerror` text of the kernel's answer).

mod sysctl;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsFd, AsRawFd};
use std::path::Path;

use futures_util::TryStreamExt;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};
use rtnetlink::packet_route::address::AddressAttribute;
use rtnetlink::packet_route::link::{BridgeStpState, LinkAttribute, LinkFlags, LinkMessage};
use rtnetlink::packet_route::route::{
    RouteAddress, RouteAttribute, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use rtnetlink::{
    Handle, LinkBridge, LinkMessageBuilder, LinkUnspec, LinkVeth, RouteMessageBuilder,
};

pub use sysctl::{ip_forward, ipv6_sysctls, ProcSys};

/// `ENODEV`, which the kernel answers for a link name that does not exist.
const ENODEV: i32 = 19;

/// The main routing table (`RT_TABLE_MAIN`).
const RT_TABLE_MAIN: u32 = 254;

/// The bridge a virtual network runs on, as `<bridge>` and `<mac>`/`<mtu>` give it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeSpec {
    /// The bridge's name (`<bridge name=>`).
    pub name: String,
    /// Its MAC address (`<mac address=>`); the kernel picks one if `None`.
    pub mac: Option<[u8; 6]>,
    /// Its MTU (`<mtu size=>`); the kernel default if `None`.
    pub mtu: Option<u32>,
    /// Whether the spanning tree protocol runs (`stp='on'`).
    pub stp: bool,
    /// The forward delay in milliseconds (`delay=` is in seconds: libvirt keeps it as
    /// milliseconds when it sets it; the kernel counts it in centiseconds).
    pub forward_delay_ms: u32,
}

/// An address of a link, as `ip addr` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkAddress {
    /// The link's name.
    pub link: String,
    /// The address.
    pub addr: IpAddr,
    /// Its prefix length.
    pub prefix: u8,
}

/// A route of the main table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The destination network (`0.0.0.0` or `::` for a default route).
    pub dest: IpAddr,
    /// The destination's prefix length.
    pub prefix: u8,
    /// The output link, if the route has one.
    pub dev: Option<String>,
    /// The gateway, if any.
    pub gateway: Option<IpAddr>,
}

/// What [`Netlink::link_info`] tells of a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkInfo {
    /// Its index.
    pub index: u32,
    /// Its MTU.
    pub mtu: Option<u32>,
    /// Its MAC address (empty for links without one).
    pub mac: Vec<u8>,
    /// Whether it is administratively up (`IFF_UP`).
    pub up: bool,
    /// The name of the bridge (or other controller) it is a port of.
    pub master: Option<String>,
}

/// A system error as libvirt's netdev helpers report one (`VIR_FROM_NONE`).
fn system(message: String) -> VirError {
    VirError::new(ErrorDomain::None, ErrorCode::SystemError, message)
}

/// The text of an rtnetlink error, as `strerror` would say it.
fn nl_text(e: &rtnetlink::Error) -> String {
    match e {
        rtnetlink::Error::NetlinkError(m) => oxvirt_domain::fsio::strerror(&m.to_io()),
        other => other.to_string(),
    }
}

/// `detail: <strerror>`, as `virReportSystemError` words it.
fn system_nl(detail: String, e: &rtnetlink::Error) -> VirError {
    system(format!("{detail}: {}", nl_text(e)))
}

/// Whether `e` is the kernel's "no such device".
fn is_enodev(e: &rtnetlink::Error) -> bool {
    matches!(e, rtnetlink::Error::NetlinkError(m) if m.raw_code() == -ENODEV)
}

/// The name of a link message.
fn link_name(msg: &LinkMessage) -> Option<String> {
    msg.attributes.iter().find_map(|a| match a {
        LinkAttribute::IfName(n) => Some(n.clone()),
        _ => None,
    })
}

/// An IP address of a route attribute.
fn route_ip(a: &RouteAddress) -> Option<IpAddr> {
    match a {
        RouteAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
        RouteAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
        _ => None,
    }
}

/// The IPv4 broadcast address of `addr/prefix`, as libvirt computes it
/// (`virSocketAddrBroadcastByPrefix`: the address with all host bits set).
pub fn broadcast_v4(addr: Ipv4Addr, prefix: u8) -> Ipv4Addr {
    let host = if prefix >= 32 { 0 } else { u32::MAX >> prefix };
    Ipv4Addr::from(u32::from(addr) | host)
}

/// `addr` with its host bits (beyond `prefix`) cleared.
pub fn network_of(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(v4) => {
            let mask = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(prefix.min(32)))
            };
            IpAddr::V4(Ipv4Addr::from(u32::from(v4) & mask))
        }
        IpAddr::V6(v6) => {
            let mask = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(prefix.min(128)))
            };
            IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
        }
    }
}

/// libvirt's `networkCheckRouteCollision`: the error of a network whose IPv4 subnet
/// `addr/prefix` is already the destination of a route of the main table (libvirt reads
/// `/proc/net/route`, which lists those routes; an IPv6 subnet is not checked). Returns
/// the interface of the colliding route (`*` for a route without one).
pub fn subnet_in_use(routes: &[Route], addr: IpAddr, prefix: u8) -> Option<String> {
    let IpAddr::V4(_) = addr else {
        return None;
    };
    let net = network_of(addr, prefix);
    routes
        .iter()
        .find(|r| r.dest.is_ipv4() && r.prefix == prefix && network_of(r.dest, r.prefix) == net)
        .map(|r| r.dev.clone().unwrap_or_else(|| "*".to_string()))
}

/// The other half of `networkCheckRouteCollision`: a network's IPv4 `<route>` to
/// `dest/prefix` whose (masked) destination and prefix are already those of a route of
/// the main table. Returns the masked destination and the route's interface.
pub fn route_in_use(routes: &[Route], dest: IpAddr, prefix: u8) -> Option<(IpAddr, String)> {
    subnet_in_use(routes, dest, prefix).map(|dev| (network_of(dest, prefix), dev))
}

/// libvirt's error for a `<route>` that [`route_in_use`] found in use.
pub fn route_in_use_error(dest: IpAddr, dev: &str) -> VirError {
    VirError::new(
        ErrorDomain::None,
        ErrorCode::InternalError,
        format!("Route address '{dest}' conflicts with IP address for '{dev}'"),
    )
}

/// libvirt's error for a network whose subnet [`subnet_in_use`] found in use.
pub fn subnet_in_use_error(dev: &str) -> VirError {
    VirError::new(
        ErrorDomain::None,
        ErrorCode::InternalError,
        format!("Network is already in use by interface {dev}"),
    )
}

/// Moves the calling thread into the network namespace at `path` (a file like
/// `/run/netns/NAME`, as `ip netns add` makes it): netlink sockets the thread opens
/// afterwards, and the `/proc/sys/net` files it opens, are that namespace's.
pub fn enter_netns(path: &Path) -> Result<(), VirError> {
    let file = std::fs::File::open(path).map_err(|e| {
        oxvirt_domain::fsio::system_error(
            format!("Unable to open network namespace {}", path.display()),
            &e,
        )
    })?;
    nix::sched::setns(file.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).map_err(|e| {
        system(format!(
            "Unable to enter network namespace {}: {}",
            path.display(),
            e.desc()
        ))
    })
}

/// An rtnetlink connection; its task runs on the tokio runtime it was opened in, until
/// the `Netlink` is dropped.
#[derive(Clone)]
pub struct Netlink {
    handle: Handle,
}

impl std::fmt::Debug for Netlink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Netlink").finish_non_exhaustive()
    }
}

impl Netlink {
    /// Opens a connection in the calling thread's network namespace. Must be called
    /// inside a tokio runtime (the connection task is spawned on it).
    pub fn connect() -> Result<Netlink, VirError> {
        let (conn, handle, _) = rtnetlink::new_connection().map_err(|e| {
            system(format!(
                "cannot open netlink socket: {}",
                oxvirt_domain::fsio::strerror(&e)
            ))
        })?;
        tokio::spawn(conn);
        Ok(Netlink { handle })
    }

    /// The link message of `name`, `None` if there is no such link.
    async fn find(&self, name: &str) -> Result<Option<LinkMessage>, rtnetlink::Error> {
        let mut links = self
            .handle
            .link()
            .get()
            .match_name(name.to_string())
            .execute();
        match links.try_next().await {
            Ok(found) => Ok(found),
            Err(e) if is_enodev(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Whether a link `name` exists.
    pub async fn link_exists(&self, name: &str) -> Result<bool, VirError> {
        self.find(name)
            .await
            .map(|m| m.is_some())
            .map_err(|e| system_nl(format!("Unable to get index for interface {name}"), &e))
    }

    /// The index of link `name` (libvirt's `virNetDevGetIndex` error if there is none).
    pub async fn link_index(&self, name: &str) -> Result<u32, VirError> {
        self.index_or(name, format!("Unable to get index for interface {name}"))
            .await
    }

    /// Index, MTU, MAC address, state and bridge of link `name`; `None` if there is no
    /// such link.
    pub async fn link_info(&self, name: &str) -> Result<Option<LinkInfo>, VirError> {
        let Some(msg) = self
            .find(name)
            .await
            .map_err(|e| system_nl(format!("Unable to get index for interface {name}"), &e))?
        else {
            return Ok(None);
        };
        let mut info = LinkInfo {
            index: msg.header.index,
            mtu: None,
            mac: Vec::new(),
            up: msg.header.flags.contains(LinkFlags::Up),
            master: None,
        };
        let mut controller = None;
        for a in &msg.attributes {
            match a {
                LinkAttribute::Mtu(m) => info.mtu = Some(*m),
                LinkAttribute::Address(mac) => info.mac = mac.clone(),
                LinkAttribute::Controller(i) => controller = Some(*i),
                _ => {}
            }
        }
        if let Some(i) = controller {
            info.master = self.link_map().await?.remove(&i);
        }
        Ok(Some(info))
    }

    /// The index of link `name`; if it does not exist (or the lookup fails), the error is
    /// `detail: <strerror>` (`No such device` for a missing link), the wording of the
    /// libvirt helper the caller mirrors.
    async fn index_or(&self, name: &str, detail: String) -> Result<u32, VirError> {
        match self.find(name).await {
            Ok(Some(msg)) => Ok(msg.header.index),
            Ok(None) => Err(system(format!("{detail}: No such device"))),
            Err(e) => Err(system_nl(detail, &e)),
        }
    }

    /// The names of all links, in index order.
    pub async fn link_names(&self) -> Result<Vec<String>, VirError> {
        Ok(self.link_map().await?.into_values().collect())
    }

    /// Every link's name by index.
    async fn link_map(&self) -> Result<BTreeMap<u32, String>, VirError> {
        let mut out = BTreeMap::new();
        let mut links = self.handle.link().get().execute();
        while let Some(msg) = links
            .try_next()
            .await
            .map_err(|e| system_nl("Unable to list network interfaces".to_string(), &e))?
        {
            if let Some(name) = link_name(&msg) {
                out.insert(msg.header.index, name);
            }
        }
        Ok(out)
    }

    /// Creates bridge `spec.name` with its MAC address (`virNetDevBridgeCreate`), then
    /// its MTU (`virNetDevSetMTU`), forward delay and STP state (in that order, as
    /// libvirt: the kernel refuses a delay under 2 s while STP runs), all over netlink
    /// (`IFLA_BR_FORWARD_DELAY`, in centiseconds, and `IFLA_BR_STP_STATE`). The bridge
    /// stays down. An existing link of that name is refused with the kernel's
    /// `EEXIST`, in libvirt's words. On a failure after creation the bridge is removed.
    pub async fn create_bridge(&self, spec: &BridgeSpec) -> Result<(), VirError> {
        let name = &spec.name;
        let mut msg = bridge_msg(name);
        if let Some(mac) = spec.mac {
            msg = msg.address(mac.to_vec());
        }
        self.handle
            .link()
            .add(msg.build())
            .execute()
            .await
            .map_err(|e| system_nl(format!("error creating bridge interface {name}"), &e))?;
        let configured = self.configure_bridge(spec).await;
        if configured.is_err() {
            let _ = self.delete_link(name).await;
        }
        configured
    }

    async fn configure_bridge(&self, spec: &BridgeSpec) -> Result<(), VirError> {
        let name = &spec.name;
        if let Some(mtu) = spec.mtu {
            self.set_mtu(name, mtu).await?;
        }
        self.bridge_param(
            name,
            "forward_delay",
            bridge_msg(name).forward_delay(spec.forward_delay_ms / 10),
        )
        .await?;
        let state = if spec.stp {
            BridgeStpState::KernelStp
        } else {
            BridgeStpState::Disabled
        };
        self.bridge_param(name, "stp_state", bridge_msg(name).stp_state(state))
            .await
    }

    /// Sets one bridge attribute (`RTM_NEWLINK` on the existing bridge); the error is
    /// libvirt's for a bridge parameter it could not set.
    async fn bridge_param(
        &self,
        name: &str,
        param: &str,
        msg: LinkMessageBuilder<LinkBridge>,
    ) -> Result<(), VirError> {
        self.handle
            .link()
            .change(msg.build())
            .execute()
            .await
            .map_err(|e| system_nl(format!("Failed to set bridge {name} {param} via ioctl"), &e))
    }

    /// Deletes link `name` (libvirt's `virNetlinkDelLink`); `false` if there was none.
    pub async fn delete_link(&self, name: &str) -> Result<bool, VirError> {
        let index = match self.find(name).await {
            Ok(Some(msg)) => msg.header.index,
            Ok(None) => return Ok(false),
            Err(e) => {
                return Err(system_nl(
                    format!("error destroying network device {name}"),
                    &e,
                ))
            }
        };
        match self.handle.link().del(index).execute().await {
            Ok(()) => Ok(true),
            Err(e) if is_enodev(&e) => Ok(false),
            Err(e) => Err(system_nl(
                format!("error destroying network device {name}"),
                &e,
            )),
        }
    }

    /// Brings link `name` up or down (`virNetDevSetOnline`).
    pub async fn set_up(&self, name: &str, up: bool) -> Result<(), VirError> {
        let index = self
            .index_or(name, format!("Cannot get interface flags on '{name}'"))
            .await?;
        let msg = LinkUnspec::new_with_index(index);
        let msg = if up { msg.up() } else { msg.down() };
        self.handle
            .link()
            .set(msg.build())
            .execute()
            .await
            .map_err(|e| system_nl(format!("Cannot set interface flags on '{name}'"), &e))
    }

    /// Sets the MTU of link `name` (`virNetDevSetMTU`).
    pub async fn set_mtu(&self, name: &str, mtu: u32) -> Result<(), VirError> {
        let index = self
            .index_or(name, format!("Cannot set interface MTU on '{name}'"))
            .await?;
        self.handle
            .link()
            .set(LinkUnspec::new_with_index(index).mtu(mtu).build())
            .execute()
            .await
            .map_err(|e| system_nl(format!("Cannot set interface MTU on '{name}'"), &e))
    }

    /// Makes `link` a port of `bridge` (`virNetDevBridgeAddPort`: a missing port is
    /// "Unable to get interface index", a missing bridge the kernel's `ENODEV` for the
    /// port request).
    pub async fn enslave(&self, link: &str, bridge: &str) -> Result<(), VirError> {
        let index = self
            .index_or(link, format!("Unable to get interface index for {link}"))
            .await?;
        let br = self
            .index_or(bridge, format!("Unable to add bridge {bridge} port {link}"))
            .await?;
        self.handle
            .link()
            .set(LinkUnspec::new_with_index(index).controller(br).build())
            .execute()
            .await
            .map_err(|e| system_nl(format!("Unable to add bridge {bridge} port {link}"), &e))
    }

    /// Creates a veth pair `a` / `b` (both down).
    pub async fn create_veth(&self, a: &str, b: &str) -> Result<(), VirError> {
        self.handle
            .link()
            .add(LinkVeth::new(a, b).build())
            .execute()
            .await
            .map_err(|e| system_nl(format!("error creating veth interface {a}@{b}"), &e))
    }

    /// Moves link `name` into the network namespace at `netns` (a file like
    /// `/run/netns/NAME`).
    pub async fn move_to_netns(&self, name: &str, netns: &Path) -> Result<(), VirError> {
        let file = std::fs::File::open(netns).map_err(|e| {
            oxvirt_domain::fsio::system_error(
                format!("Unable to open network namespace {}", netns.display()),
                &e,
            )
        })?;
        self.move_to_netns_fd(name, file.as_fd()).await
    }

    /// Moves link `name` into the network namespace of descriptor `netns`.
    pub async fn move_to_netns_fd(
        &self,
        name: &str,
        netns: std::os::fd::BorrowedFd<'_>,
    ) -> Result<(), VirError> {
        let index = self.link_index(name).await?;
        self.handle
            .link()
            .set(
                LinkUnspec::new_with_index(index)
                    .setns_by_fd(netns.as_raw_fd())
                    .build(),
            )
            .execute()
            .await
            .map_err(|e| {
                system_nl(
                    format!("Unable to move interface {name} to another network namespace"),
                    &e,
                )
            })
    }

    /// Adds `addr/prefix` to `link` as libvirt's `virNetDevIPAddrAdd` does: an IPv4
    /// address gets its broadcast address (all host bits set); an IPv6 address goes as
    /// is (libvirt sets no `nodad`, and waits for DAD later). The error, as libvirt's,
    /// says no `strerror`.
    pub async fn add_address(&self, link: &str, addr: IpAddr, prefix: u8) -> Result<(), VirError> {
        let bcast = match addr {
            IpAddr::V4(v4) => Some(broadcast_v4(v4, prefix)),
            IpAddr::V6(_) => None,
        };
        let failed = || {
            let b = bcast.map(|b| format!(" bcast {b}")).unwrap_or_default();
            system(format!(
                "Failed to add IP address {addr}/{prefix}{b} to {link}"
            ))
        };
        let index = self.link_index(link).await.map_err(|_| failed())?;
        let mut req = self.handle.address().add(index, addr, prefix);
        let attrs = &mut req.message_mut().attributes;
        attrs.retain(|a| !matches!(a, AddressAttribute::Broadcast(_)));
        if let Some(b) = bcast {
            attrs.push(AddressAttribute::Broadcast(b));
        }
        req.execute().await.map_err(|_| failed())
    }

    /// The addresses of all links, both families.
    pub async fn addresses(&self) -> Result<Vec<LinkAddress>, VirError> {
        let names = self.link_map().await?;
        let mut out = Vec::new();
        let mut addrs = self.handle.address().get().execute();
        while let Some(msg) = addrs
            .try_next()
            .await
            .map_err(|e| system_nl("Unable to list IP addresses".to_string(), &e))?
        {
            let local = msg.attributes.iter().find_map(|a| match a {
                AddressAttribute::Local(ip) => Some(*ip),
                _ => None,
            });
            let address = msg.attributes.iter().find_map(|a| match a {
                AddressAttribute::Address(ip) => Some(*ip),
                _ => None,
            });
            let Some(addr) = local.or(address) else {
                continue;
            };
            let link = names.get(&msg.header.index).cloned().unwrap_or_default();
            out.push(LinkAddress {
                link,
                addr,
                prefix: msg.header.prefix_len,
            });
        }
        Ok(out)
    }

    /// The routes of the main table, IPv4 then IPv6.
    pub async fn routes(&self) -> Result<Vec<Route>, VirError> {
        let names = self.link_map().await?;
        let mut out = Vec::new();
        let queries = [
            RouteMessageBuilder::<Ipv4Addr>::new().build(),
            RouteMessageBuilder::<Ipv6Addr>::new().build(),
        ];
        for query in queries {
            let v6 = matches!(
                query.header.address_family,
                rtnetlink::packet_route::AddressFamily::Inet6
            );
            let mut routes = self.handle.route().get(query).execute();
            while let Some(msg) = routes
                .try_next()
                .await
                .map_err(|e| system_nl("Unable to list routes".to_string(), &e))?
            {
                if let Some(route) = route_of(&msg, v6, &names) {
                    out.push(route);
                }
            }
        }
        Ok(out)
    }

    /// Adds a route to `dest/prefix` via `gateway` on `dev`, as libvirt's
    /// `virNetDevIPRouteAdd` does for a network's `<route>` elements (main table,
    /// protocol `boot`, scope universe).
    pub async fn add_route(
        &self,
        dest: IpAddr,
        prefix: u8,
        gateway: IpAddr,
        dev: &str,
    ) -> Result<(), VirError> {
        let index = self.link_index(dev).await?;
        let bad = |_| {
            VirError::new(
                ErrorDomain::None,
                ErrorCode::InternalError,
                format!("Invalid route {dest}/{prefix} via {gateway}"),
            )
        };
        let msg = RouteMessageBuilder::<IpAddr>::new()
            .destination_prefix(network_of(dest, prefix), prefix)
            .map_err(bad)?
            .gateway(gateway)
            .map_err(bad)?
            .output_interface(index)
            .table_id(RT_TABLE_MAIN)
            .protocol(RouteProtocol::Boot)
            .scope(RouteScope::Universe)
            .kind(RouteType::Unicast)
            .build();
        self.handle
            .route()
            .add(msg)
            .execute()
            .await
            .map_err(|e| system_nl(format!("Error adding route to {dev}"), &e))
    }
}

/// A route of the main table from its message (`None` for other tables).
fn route_of(msg: &RouteMessage, v6: bool, names: &BTreeMap<u32, String>) -> Option<Route> {
    let table = msg
        .attributes
        .iter()
        .find_map(|a| match a {
            RouteAttribute::Table(t) => Some(*t),
            _ => None,
        })
        .unwrap_or(u32::from(msg.header.table));
    if table != RT_TABLE_MAIN {
        return None;
    }
    let mut dest = None;
    let mut gateway = None;
    let mut oif = None;
    for a in &msg.attributes {
        match a {
            RouteAttribute::Destination(d) => dest = route_ip(d),
            RouteAttribute::Gateway(g) => gateway = route_ip(g),
            RouteAttribute::Oif(i) => oif = Some(*i),
            _ => {}
        }
    }
    let dest = dest.unwrap_or(if v6 {
        IpAddr::V6(Ipv6Addr::UNSPECIFIED)
    } else {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    });
    let dev = oif.and_then(|i| names.get(&i).cloned());
    Some(Route {
        dest,
        prefix: msg.header.destination_prefix_length,
        dev,
        gateway,
    })
}

/// A bridge message for `name` (rtnetlink's builder, without the `up` that
/// `LinkBridge::new` adds).
fn bridge_msg(name: &str) -> LinkMessageBuilder<LinkBridge> {
    LinkMessageBuilder::<LinkBridge>::new(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(dest: &str, prefix: u8, dev: Option<&str>) -> Route {
        Route {
            dest: dest.parse().expect("address"),
            prefix,
            dev: dev.map(str::to_string),
            gateway: None,
        }
    }

    #[test]
    fn subnet_collides_with_same_network_and_prefix() {
        let routes = vec![
            route("0.0.0.0", 0, Some("eth0")),
            route("192.168.122.0", 24, Some("virbr0")),
            route("10.0.0.0", 8, None),
        ];
        assert_eq!(
            subnet_in_use(&routes, "192.168.122.1".parse().expect("ip"), 24),
            Some("virbr0".to_string())
        );
        assert_eq!(
            subnet_in_use(&routes, "10.1.2.3".parse().expect("ip"), 8),
            Some("*".to_string())
        );
        // A different prefix of the same network is not a collision (libvirt compares
        // destination and mask exactly), nor is a subnet inside a wider route.
        assert_eq!(
            subnet_in_use(&routes, "192.168.122.1".parse().expect("ip"), 25),
            None
        );
        assert_eq!(
            subnet_in_use(&routes, "192.168.100.1".parse().expect("ip"), 24),
            None
        );
        // The default route does not collide with a /24.
        assert_eq!(
            subnet_in_use(&routes, "172.16.0.1".parse().expect("ip"), 24),
            None
        );
    }

    #[test]
    fn route_collision_and_wording() {
        let routes = vec![route("10.20.0.0", 16, Some("eth1"))];
        let hit = route_in_use(&routes, "10.20.3.4".parse().expect("ip"), 16);
        assert_eq!(
            hit,
            Some(("10.20.0.0".parse().expect("ip"), "eth1".to_string()))
        );
        assert_eq!(
            route_in_use(&routes, "10.20.3.4".parse().expect("ip"), 24),
            None
        );
        let e = route_in_use_error("10.20.0.0".parse().expect("ip"), "eth1");
        assert_eq!(
            e.message,
            "internal error: Route address '10.20.0.0' conflicts with IP address for 'eth1'"
        );
        assert_eq!(e.domain, ErrorDomain::None);
    }

    #[test]
    fn subnet_check_is_ipv4_only() {
        let routes = vec![route("fd00::", 64, Some("virbr0"))];
        assert_eq!(
            subnet_in_use(&routes, "fd00::1".parse().expect("ip"), 64),
            None
        );
    }

    #[test]
    fn subnet_error_wording() {
        let e = subnet_in_use_error("virbr0");
        assert_eq!(e.code, ErrorCode::InternalError);
        assert_eq!(
            e.message,
            "internal error: Network is already in use by interface virbr0"
        );
    }

    #[test]
    fn broadcast_and_network() {
        let a: Ipv4Addr = "192.168.122.1".parse().expect("ip");
        assert_eq!(broadcast_v4(a, 24), Ipv4Addr::new(192, 168, 122, 255));
        assert_eq!(broadcast_v4(a, 32), a);
        assert_eq!(broadcast_v4(a, 0), Ipv4Addr::BROADCAST);
        assert_eq!(
            network_of(IpAddr::V4(a), 16),
            IpAddr::V4(Ipv4Addr::new(192, 168, 0, 0))
        );
        assert_eq!(
            network_of("fd00:1:2::5".parse().expect("ip"), 48),
            "fd00:1:2::".parse::<IpAddr>().expect("ip")
        );
        assert_eq!(
            network_of(IpAddr::V4(a), 0),
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        );
    }
}
