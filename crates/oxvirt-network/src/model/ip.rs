//! `<ip>` (addresses, DHCP, TFTP) and `<route>`.

use std::net::IpAddr;

use oxvirt_xml::types::MacAddr;

oxvirt_xml::xml_enum! {
    /// `<lease unit>`: libvirt's `virNetworkDHCPLeaseTimeUnitType`.
    pub enum LeaseUnit {
        /// Seconds.
        Seconds = "seconds",
        /// Minutes (the default).
        Minutes = "minutes",
        /// Hours.
        Hours = "hours",
    }
}

/// `<lease expiry unit>` of a DHCP range or host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DhcpLease {
    /// The lease time in `unit`; 0 is infinite.
    pub expiry: u64,
    /// The unit of `expiry`.
    pub unit: LeaseUnit,
}

impl DhcpLease {
    /// The lease time in seconds (`None`: infinite).
    pub fn seconds(&self) -> Option<u64> {
        let factor = match self.unit {
            LeaseUnit::Seconds => 1,
            LeaseUnit::Minutes => 60,
            LeaseUnit::Hours => 3600,
        };
        (self.expiry != 0).then(|| self.expiry.saturating_mul(factor))
    }
}

/// `<range start end>` in `<dhcp>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DhcpRange {
    /// The first address handed out.
    pub start: IpAddr,
    /// The last address handed out.
    pub end: IpAddr,
    /// `<lease>`.
    pub lease: Option<DhcpLease>,
}

/// `<host mac id name ip>` in `<dhcp>`: a static lease.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DhcpHost {
    /// `mac` (IPv4 only).
    pub mac: Option<MacAddr>,
    /// `id`: a DHCPv6 DUID or DHCPv4 client id, hex and colons.
    pub id: Option<String>,
    /// `name`.
    pub name: Option<String>,
    /// `ip`.
    pub ip: Option<IpAddr>,
    /// `<lease>`.
    pub lease: Option<DhcpLease>,
}

/// `<bootp file server>` in `<dhcp>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bootp {
    /// The boot file name.
    pub file: String,
    /// The TFTP server (this host when absent).
    pub server: Option<IpAddr>,
}

/// `<dhcp>` of an `<ip>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dhcp {
    /// `<range>`s.
    pub ranges: Vec<DhcpRange>,
    /// `<host>`s.
    pub hosts: Vec<DhcpHost>,
    /// `<bootp>`.
    pub bootp: Option<Bootp>,
}

impl Dhcp {
    /// Whether there is nothing in it (libvirt then does not write `<dhcp>`).
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty() && self.hosts.is_empty() && self.bootp.is_none()
    }
}

/// `<ip>`: an address of the network's bridge, with what is served on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ip {
    /// `family` as written (`ipv4`, `ipv6`).
    pub family: Option<String>,
    /// `address`.
    pub address: IpAddr,
    /// `netmask` (IPv4 only).
    pub netmask: Option<IpAddr>,
    /// `prefix` as written (0: unset).
    pub prefix: u32,
    /// `localPtr='yes|no'`: answer reverse lookups of the network locally.
    pub local_ptr: Option<bool>,
    /// `<tftp root>`.
    pub tftp_root: Option<String>,
    /// `<dhcp>`; `None` when absent or empty.
    pub dhcp: Option<Dhcp>,
}

/// The prefix length of `netmask`, if it is a contiguous mask.
pub(crate) fn mask_prefix(netmask: IpAddr) -> Option<u8> {
    let (bits, width) = match netmask {
        IpAddr::V4(a) => (u128::from(u32::from(a)) << 96, 32u32),
        IpAddr::V6(a) => (u128::from(a), 128u32),
    };
    let ones = bits.leading_ones();
    (bits.checked_shl(ones).unwrap_or(0) == 0 && ones <= width).then_some(ones as u8)
}

/// libvirt's `virSocketAddrGetIPPrefix`: the explicit prefix, else the netmask's, else the
/// class-based prefix of an IPv4 address or 64 for IPv6; `None` where libvirt has -1.
pub(crate) fn ip_prefix(address: IpAddr, netmask: Option<IpAddr>, prefix: u32) -> Option<u8> {
    if prefix > 0 {
        return u8::try_from(prefix).ok();
    }
    if let Some(m) = netmask {
        return mask_prefix(m);
    }
    match address {
        IpAddr::V4(a) => {
            let octet = a.octets()[0];
            if octet & 0x80 == 0 {
                Some(8)
            } else if octet & 0xC0 == 0x80 {
                Some(16)
            } else if octet & 0xE0 == 0xC0 {
                Some(24)
            } else {
                None
            }
        }
        IpAddr::V6(_) => Some(64),
    }
}

/// Whether `a` and `b` are in the same network of `prefix` bits.
pub(crate) fn same_net(a: IpAddr, b: IpAddr, prefix: u8) -> bool {
    match (a, b) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let mask = u32::MAX
                .checked_shl(32 - u32::from(prefix.min(32)))
                .unwrap_or(0);
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let mask = u128::MAX
                .checked_shl(128 - u32::from(prefix.min(128)))
                .unwrap_or(0);
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}

impl Ip {
    /// The prefix length: `prefix`, else from `netmask`, else libvirt's default for the
    /// address (class-based for IPv4, 64 for IPv6). 0 where libvirt finds none.
    pub fn prefix(&self) -> u8 {
        ip_prefix(self.address, self.netmask, self.prefix).unwrap_or(0)
    }

    /// Whether this is an IPv4 address.
    pub fn is_ipv4(&self) -> bool {
        self.address.is_ipv4()
    }

    /// Whether this is an IPv6 address.
    pub fn is_ipv6(&self) -> bool {
        self.address.is_ipv6()
    }

    /// Whether `address` is in this `<ip>`'s network.
    pub fn contains(&self, address: IpAddr) -> bool {
        same_net(self.address, address, self.prefix())
    }

    /// The DHCP ranges (none without `<dhcp>`).
    pub fn ranges(&self) -> &[DhcpRange] {
        self.dhcp.as_ref().map_or(&[], |d| d.ranges.as_slice())
    }

    /// The static DHCP hosts (none without `<dhcp>`).
    pub fn hosts(&self) -> &[DhcpHost] {
        self.dhcp.as_ref().map_or(&[], |d| d.hosts.as_slice())
    }
}

/// `<route>`: a static route the network adds on its bridge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// `family` as written.
    pub family: Option<String>,
    /// `address`: the destination network.
    pub address: IpAddr,
    /// `netmask` (IPv4).
    pub netmask: Option<IpAddr>,
    /// `prefix` as written.
    pub prefix: Option<u32>,
    /// `gateway`.
    pub gateway: IpAddr,
    /// `metric`.
    pub metric: Option<u32>,
}

impl Route {
    /// The destination's prefix length.
    pub fn prefix(&self) -> u8 {
        ip_prefix(self.address, self.netmask, self.prefix.unwrap_or(0)).unwrap_or(0)
    }
}
