//! The network XML model (`<network>`), as libvirt 9.0's `virNetworkDef`.
//!
//! [`Network::parse`] reads a document with libvirt's parse-time checks and messages,
//! [`Network::to_xml`] writes it in libvirt's layout (`virNetworkDefFormat`),
//! [`Network::validate`] adds the checks libvirt makes when a network is defined, and
//! [`update`] is `virNetworkUpdate`'s section edit (`virNetworkDefUpdateSection`).
//!
//! As libvirt, the model drops elements and attributes it does not know: they are neither
//! refused nor written back.

mod dns;
mod format;
mod forward;
mod ip;
mod parse;
mod portgroup;
mod update;
mod validate;
mod vport;

#[cfg(test)]
mod tests;

use std::net::IpAddr;

use oxvirt_xml::types::{MacAddr, Uuid};
use oxvirt_xml::{Element, ErrorCode, ErrorDomain, Unknown, VirError};

pub use oxvirt_domain::Metadata;

pub use dns::{Dns, DnsForwarder, DnsHost, DnsSrv, DnsTxt};
pub use forward::{Forward, ForwardInterface, ForwardMode, Nat};
pub use ip::{Bootp, Dhcp, DhcpHost, DhcpLease, DhcpRange, Ip, LeaseUnit, Route};
pub use oxvirt_domain::devices::interface::parts::{Bandwidth, BandwidthRate, Vlan, VlanTag};
pub use portgroup::{Bridge, MacTableManager, NetDomain, Portgroup};
pub use update::update;

/// The namespace of `<dnsmasq:options>`.
pub const DNSMASQ_NAMESPACE: &str = "http://libvirt.org/schemas/network/dnsmasq/1.0";

/// A virtual network's definition: libvirt's `virNetworkDef`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    /// `<name>`.
    pub name: String,
    /// `<uuid>`; generated when the document has none, as libvirt does.
    pub uuid: Uuid,
    /// `<title>`, written verbatim when set. libvirt 9.0 does not read it from a
    /// document (later versions do), so [`Network::parse`] leaves it unset.
    pub title: Option<String>,
    /// `<description>`, written verbatim when set; like `title`, not read by libvirt 9.0.
    pub description: Option<String>,
    /// `<metadata>`, kept as written.
    pub metadata: Option<Metadata>,
    /// `connections='N'` on `<network>`: how many guest interfaces use the network (only
    /// in the live XML). libvirt counts them itself and ignores a value in a definition;
    /// [`Network::parse`] reads it so that a live document parses back unchanged.
    pub connections: Option<u32>,
    /// `ipv6='yes'`: IPv6 between guests even without an IPv6 address on the network.
    pub ipv6: bool,
    /// `trustGuestRxFilters='yes|no'`.
    pub trust_guest_rx_filters: Option<bool>,
    /// `<forward>`; `None` is an isolated network.
    pub forward: Option<Forward>,
    /// `<bridge>`.
    pub bridge: Option<Bridge>,
    /// `<mac address>` of the bridge.
    pub mac: Option<MacAddr>,
    /// `<mtu size>`.
    pub mtu: Option<u32>,
    /// `<domain>`: the DNS domain of DHCP clients.
    pub domain: Option<NetDomain>,
    /// `<dns>`.
    pub dns: Dns,
    /// `<virtualport>`, in libvirt's normal form (type, then the `<parameters>` libvirt
    /// knows, in its order).
    pub virtualport: Option<Element>,
    /// `<bandwidth>`.
    pub bandwidth: Option<Bandwidth>,
    /// `<vlan>`.
    pub vlan: Option<Vlan>,
    /// `<port isolated='yes|no'>`: whether guest ports are isolated from each other.
    pub port_isolated: Option<bool>,
    /// `<portgroup>`s.
    pub portgroups: Vec<Portgroup>,
    /// `<ip>` addresses, in document order.
    pub ips: Vec<Ip>,
    /// `<route>`s.
    pub routes: Vec<Route>,
    /// `<dnsmasq:options><dnsmasq:option value>` values, passed to dnsmasq verbatim.
    pub dnsmasq_options: Vec<String>,
    /// Content oxvirt does not model, written back at the end of `<network>`. libvirt
    /// drops elements and attributes it does not know, so [`Network::parse`] leaves this
    /// empty; a network built in code may carry extra content here.
    pub unknown: Unknown,
}

impl Network {
    /// The forward mode; [`ForwardMode::None`] for an isolated network.
    pub fn forward_mode(&self) -> ForwardMode {
        self.forward.as_ref().map_or(ForwardMode::None, |f| f.mode)
    }

    /// The IPv4 `<ip>` elements.
    pub fn ipv4(&self) -> impl Iterator<Item = &Ip> {
        self.ips.iter().filter(|ip| ip.address.is_ipv4())
    }

    /// The IPv6 `<ip>` elements.
    pub fn ipv6(&self) -> impl Iterator<Item = &Ip> {
        self.ips.iter().filter(|ip| ip.address.is_ipv6())
    }

    /// The bridge device name, if set.
    pub fn bridge_name(&self) -> Option<&str> {
        self.bridge.as_ref().and_then(|b| b.name.as_deref())
    }

    /// The `<ip>` that `address` falls into, if any.
    pub fn ip_for(&self, address: IpAddr) -> Option<&Ip> {
        self.ips.iter().find(|ip| ip.contains(address))
    }
}

/// A `VIR_FROM_NETWORK` error.
pub(crate) fn err(code: ErrorCode, msg: impl AsRef<str>) -> VirError {
    VirError::new(ErrorDomain::Network, code, msg)
}

/// A `VIR_ERR_XML_ERROR` from the network driver.
#[allow(dead_code)]
pub(crate) fn xml_err(msg: impl AsRef<str>) -> VirError {
    err(ErrorCode::XmlError, msg)
}
