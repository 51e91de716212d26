//! The side effects of running a network, behind one small trait: the real host
//! ([`super::system::SystemHost`]: rtnetlink, `nft`, dnsmasq) and a recording fake for the
//! driver's unit tests.

use std::net::IpAddr;

use async_trait::async_trait;
use oxvirt_xml::VirError;

use crate::firewall::FirewallNet;
use crate::model::Network;
use crate::netlink::Route;

/// The result of a host operation.
pub type Result<T, E = VirError> = std::result::Result<T, E>;

/// A bridge as a network's start creates it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgePlan {
    /// The bridge's name.
    pub name: String,
    /// Its MAC address (`<mac address>`).
    pub mac: Option<[u8; 6]>,
    /// Its MTU (`<mtu size>`).
    pub mtu: Option<u32>,
    /// Spanning tree on or off.
    pub stp: bool,
    /// The forward delay, in milliseconds.
    pub delay_ms: u32,
    /// The addresses it gets (`<ip>`), in document order.
    pub addresses: Vec<(IpAddr, u8)>,
    /// Static routes through it (`<route>`): destination, prefix, gateway, metric.
    pub routes: Vec<(IpAddr, u8, IpAddr, Option<u32>)>,
    /// Whether IPv6 is on for the bridge (an IPv6 address or `ipv6='yes'`).
    pub ipv6: bool,
}

/// What starting and stopping a network does to the host.
#[async_trait]
pub trait Host: Send + Sync {
    /// The host's routes (both families).
    async fn routes(&self) -> Result<Vec<Route>>;
    /// Whether a network link of that name exists.
    async fn link_exists(&self, name: &str) -> Result<bool>;
    /// Creates the bridge with its addresses and routes, and brings it up. On failure
    /// whatever it made is left for [`Host::delete_bridge`].
    async fn create_bridge(&self, plan: &BridgePlan) -> Result<()>;
    /// Deletes the bridge (nothing if it is gone already).
    async fn delete_bridge(&self, name: &str) -> Result<()>;
    /// Turns IP forwarding on (never off).
    async fn enable_forwarding(&self, v4: bool, v6: bool) -> Result<()>;
    /// Replaces oxvirt's firewall table with the rules of these networks (none: no table).
    async fn firewall(&self, nets: &[FirewallNet]) -> Result<()>;
    /// Writes dnsmasq's files for the running definition `net` and starts (and
    /// supervises) dnsmasq for it.
    async fn start_dnsmasq(&self, net: &Network) -> Result<()>;
    /// Finds the dnsmasq a previous daemon started for `net` and supervises it again;
    /// false if none runs.
    async fn reattach_dnsmasq(&self, net: &Network) -> Result<bool>;
    /// Rewrites the hosts files of `net` and has dnsmasq reread them.
    async fn reload_dnsmasq(&self, net: &Network) -> Result<()>;
    /// Stops dnsmasq for `name` and removes its files (leases stay).
    async fn stop_dnsmasq(&self, name: &str) -> Result<()>;
    /// The lease file's text (empty if there is none).
    async fn lease_file(&self, name: &str) -> Result<String>;
}
