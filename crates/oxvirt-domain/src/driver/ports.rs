//! What a hypervisor driver needs from the node's virtual networks: a port on a network
//! for each `<interface type='network'>` (libvirt's `virNetworkPortCreateXML` inside the
//! daemon), and the DHCP leases `virDomainInterfaceAddresses` reads with the lease source.
//!
//! The network driver implements [`NetworkPorts`]; a hypervisor driver without one refuses
//! `type='network'` interfaces as libvirt does when no network can be found.

use async_trait::async_trait;
use oxvirt_xml::types::Uuid;

use super::Result;

/// `virNetworkDHCPLease`: one lease a network's DHCP server handed out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The network's bridge (`virbr0`).
    pub iface: String,
    /// When the lease expires, in seconds since the epoch (0: never).
    pub expiry_time: i64,
    /// `VIR_IP_ADDR_TYPE_IPV4` (0) or `VIR_IP_ADDR_TYPE_IPV6` (1).
    pub kind: i32,
    /// The client's MAC address (IPv4 leases).
    pub mac: Option<String>,
    /// The identity association ID (IPv6 leases).
    pub iaid: Option<String>,
    /// The address handed out.
    pub ip: String,
    /// The prefix length of the network's range.
    pub prefix: u32,
    /// The host name the client sent.
    pub hostname: Option<String>,
    /// The client ID (DHCPv4 option 61, or the DUID for IPv6).
    pub client_id: Option<String>,
}

/// A port request: the interface of a domain that wants to join a network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortRequest {
    /// The network's name (`<source network=...>`).
    pub network: String,
    /// The port group asked for (`<source portgroup=...>`).
    pub portgroup: Option<String>,
    /// The domain's name.
    pub domain: String,
    /// The domain's UUID.
    pub domain_uuid: Uuid,
    /// The interface's MAC address (`52:54:00:...`).
    pub mac: String,
}

/// Where a port plugs in, as the hypervisor driver needs it to make the tap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortBinding {
    /// The port's UUID (`<source portid=...>` in the live XML).
    pub port_id: Uuid,
    /// The bridge the tap joins (`<source bridge=...>` in the live XML).
    pub bridge: String,
    /// The network's MTU, if it sets one (`<mtu size>`); else the bridge's.
    pub mtu: Option<u32>,
}

/// The node's virtual networks as a hypervisor driver sees them.
#[async_trait]
pub trait NetworkPorts: Send + Sync {
    /// Creates a port on an active network for a domain's interface; fails with
    /// `VIR_ERR_NO_NETWORK` for an unknown network and `VIR_ERR_OPERATION_INVALID`
    /// ("network 'x' is not active") for an inactive one.
    async fn plug(&self, request: &PortRequest) -> Result<PortBinding>;

    /// Deletes a port (the domain stopped or the interface went); unknown ports are ignored.
    async fn unplug(&self, network: &str, port_id: &Uuid) -> Result<()>;

    /// The current DHCP leases of the network a port is on (for `domifaddr --source lease`).
    async fn leases(&self, network: &str) -> Result<Vec<Lease>>;
}
