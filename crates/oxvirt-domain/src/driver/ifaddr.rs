//! `virDomainInterfaceAddresses`: the IP addresses of a running domain's interfaces, from
//! its networks' DHCP leases, its guest agent or the host's ARP table.

/// `VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE`: the DHCP leases of the domain's networks.
pub const SRC_LEASE: u32 = 0;
/// `VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT`: the guest agent.
pub const SRC_AGENT: u32 = 1;
/// `VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_ARP`: the host's ARP table.
pub const SRC_ARP: u32 = 2;

/// `VIR_IP_ADDR_TYPE_IPV4`.
pub const ADDR_IPV4: i32 = 0;
/// `VIR_IP_ADDR_TYPE_IPV6`.
pub const ADDR_IPV6: i32 = 1;

/// `virDomainIPAddress`: one address of an interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpAddress {
    /// [`ADDR_IPV4`] or [`ADDR_IPV6`].
    pub kind: i32,
    /// The address (`192.168.122.50`).
    pub addr: String,
    /// Its prefix length.
    pub prefix: u32,
}

/// `virDomainInterface`: one interface and its addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainInterface {
    /// The interface's name: the host tap (`vnet0`) for the lease and ARP sources, the
    /// guest's name for the agent.
    pub name: String,
    /// Its MAC address.
    pub hwaddr: Option<String>,
    /// Its addresses.
    pub addrs: Vec<IpAddress>,
}
