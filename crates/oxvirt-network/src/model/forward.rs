//! `<forward>`: how a network reaches the outside.

use std::net::Ipv4Addr;

use oxvirt_domain::PciAddress;

oxvirt_xml::xml_enum! {
    /// `<forward mode>`: libvirt's `virNetworkForwardType`.
    pub enum ForwardMode {
        /// No `<forward>`: an isolated network.
        None = "none",
        /// NAT to the outside (the default of `<forward>`).
        Nat = "nat",
        /// Routed, no NAT.
        Route = "route",
        /// Routed, no firewall rules at all.
        Open = "open",
        /// A bridge that exists on the host.
        Bridge = "bridge",
        /// macvtap private mode.
        Private = "private",
        /// macvtap VEPA mode.
        Vepa = "vepa",
        /// macvtap passthrough mode.
        Passthrough = "passthrough",
        /// SR-IOV virtual functions assigned to guests.
        Hostdev = "hostdev",
    }
}

impl ForwardMode {
    /// Whether the network is run by libvirt with a bridge and (for nat/route/open/none)
    /// addresses, dnsmasq and firewall rules: `none`, `nat`, `route`, `open`.
    pub fn is_virtual(self) -> bool {
        matches!(
            self,
            ForwardMode::None | ForwardMode::Nat | ForwardMode::Route | ForwardMode::Open
        )
    }
}

/// One device of a forward pool (`<interface dev>` or, for hostdev, `<address type='pci'>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForwardInterface {
    /// `<interface dev='eth0' connections='N'/>`.
    Netdev {
        /// The host interface.
        dev: String,
        /// How many guest interfaces use it (live XML only).
        connections: Option<u32>,
    },
    /// `<address type='pci' domain bus slot function/>` (hostdev mode).
    Pci {
        /// The virtual function's PCI address.
        address: PciAddress,
        /// How many guest interfaces use it (live XML only).
        connections: Option<u32>,
    },
}

impl ForwardInterface {
    /// The device name of a `Netdev` interface.
    pub fn dev(&self) -> Option<&str> {
        match self {
            ForwardInterface::Netdev { dev, .. } => Some(dev),
            ForwardInterface::Pci { .. } => None,
        }
    }
}

/// `<nat>` inside `<forward mode='nat'>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Nat {
    /// `ipv6='yes|no'`: NAT for IPv6 too.
    pub ipv6: Option<bool>,
    /// `<address start>`: the first public IPv4 address to masquerade to.
    pub address_start: Option<Ipv4Addr>,
    /// `<address end>`.
    pub address_end: Option<Ipv4Addr>,
    /// `<port start>`: the first source port (0: unset).
    pub port_start: u32,
    /// `<port end>` (0: unset).
    pub port_end: u32,
}

/// `<forward>`: libvirt's `virNetworkForwardDef`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forward {
    /// `mode` (`nat` when absent).
    pub mode: ForwardMode,
    /// `managed='yes|no'` (hostdev mode): `Some(true)` for `yes`, as libvirt reads it
    /// (anything else is `no`, and libvirt writes `managed='no'` for it).
    pub managed: Option<bool>,
    /// `<driver name>` (hostdev mode: `kvm`, `vfio`...).
    pub driver: Option<String>,
    /// `<pf dev>`: the physical function whose virtual functions make the pool.
    pub pf: Option<String>,
    /// The pool: `<interface>`s or `<address>`es. `dev=` of `<forward>` is the first one.
    pub interfaces: Vec<ForwardInterface>,
    /// `<nat>` (nat mode).
    pub nat: Option<Nat>,
}

impl Forward {
    /// `dev`: the interface the network forwards through (the first of the pool).
    pub fn dev(&self) -> Option<&str> {
        self.interfaces.first().and_then(ForwardInterface::dev)
    }
}
