//! `<bridge>`, `<domain>` and `<portgroup>`.

use oxvirt_xml::Element;

use super::{Bandwidth, Vlan};

oxvirt_xml::xml_enum! {
    /// `<bridge macTableManager>`.
    pub enum MacTableManager {
        /// The kernel's learning and flooding (the default).
        Kernel = "kernel",
        /// libvirt programs the bridge's forwarding table.
        Libvirt = "libvirt",
    }
}

/// `<bridge name stp delay macTableManager zone>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Bridge {
    /// `name`: the bridge device.
    pub name: Option<String>,
    /// `stp='on|off'`; unset is on, and libvirt writes it for the modes that create the
    /// bridge.
    pub stp: Option<bool>,
    /// `delay` (forward delay in seconds).
    pub delay: Option<u32>,
    /// `macTableManager`.
    pub mac_table_manager: Option<MacTableManager>,
    /// `zone`: the firewalld zone.
    pub zone: Option<String>,
}

/// `<domain name localOnly register>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NetDomain {
    /// The DNS domain.
    pub name: String,
    /// `localOnly='yes|no'`: never forward queries for the domain.
    pub local_only: Option<bool>,
    /// `register='yes|no'`.
    pub register: Option<bool>,
}

/// `<portgroup name default>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Portgroup {
    /// `name`.
    pub name: String,
    /// `default='yes'`.
    pub default: bool,
    /// `trustGuestRxFilters='yes|no'`.
    pub trust_guest_rx_filters: Option<bool>,
    /// `<vlan>`.
    pub vlan: Option<Vlan>,
    /// `<virtualport>`, in libvirt's normal form (see [`super::Network::virtualport`]).
    pub virtualport: Option<Element>,
    /// `<bandwidth>`.
    pub bandwidth: Option<Bandwidth>,
}
