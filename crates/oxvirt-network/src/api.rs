//! The network driver interface: what a backend implements so that the daemon, the facade
//! and `oxvirsh` can manage virtual networks.
//!
//! Each method is one libvirt call (`virNetworkCreate`, `virConnectListAllNetworks`...),
//! takes libvirt's flags as a `u32` (see [`flags`]) and fails with a [`VirError`] carrying
//! libvirt's code, domain (`VIR_FROM_NETWORK`) and message. Networks are named by a
//! [`NetworkRef`] (name and UUID, as `remote_nonnull_network` carries them); drivers find
//! the network by UUID, as libvirt does. Every method has a default that answers
//! `VIR_ERR_NO_SUPPORT` naming the public function, as libvirt does for a missing call.

use async_trait::async_trait;
use oxvirt_domain::driver::ports::Lease;
use oxvirt_xml::types::Uuid;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};
use tokio::sync::mpsc;

/// The result of a network driver call.
pub type Result<T, E = VirError> = std::result::Result<T, E>;

/// A network as calls name it: libvirt's `remote_nonnull_network`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NetworkRef {
    /// The network's name.
    pub name: String,
    /// The network's UUID.
    pub uuid: Uuid,
}

/// libvirt's flag values for the network calls.
pub mod flags {
    /// `virConnectListAllNetworksFlags`.
    pub mod list {
        /// `VIR_CONNECT_LIST_NETWORKS_INACTIVE`.
        pub const INACTIVE: u32 = 1;
        /// `VIR_CONNECT_LIST_NETWORKS_ACTIVE`.
        pub const ACTIVE: u32 = 2;
        /// `VIR_CONNECT_LIST_NETWORKS_PERSISTENT`.
        pub const PERSISTENT: u32 = 4;
        /// `VIR_CONNECT_LIST_NETWORKS_TRANSIENT`.
        pub const TRANSIENT: u32 = 8;
        /// `VIR_CONNECT_LIST_NETWORKS_AUTOSTART`.
        pub const AUTOSTART: u32 = 16;
        /// `VIR_CONNECT_LIST_NETWORKS_NO_AUTOSTART`.
        pub const NO_AUTOSTART: u32 = 32;
        /// Every filter flag.
        pub const ALL: u32 = 63;
    }
    /// `virNetworkXMLFlags`.
    pub mod xml {
        /// `VIR_NETWORK_XML_INACTIVE`: the persistent definition, not the running one.
        pub const INACTIVE: u32 = 1;
    }
    /// `virNetworkDefineFlags` and `virNetworkCreateFlags`.
    pub mod define {
        /// `VIR_NETWORK_DEFINE_VALIDATE` / `VIR_NETWORK_CREATE_VALIDATE`: check the XML
        /// against libvirt's schema.
        pub const VALIDATE: u32 = 1;
    }
    /// `virNetworkUpdateFlags`.
    pub mod update {
        /// `VIR_NETWORK_UPDATE_AFFECT_CURRENT`.
        pub const CURRENT: u32 = 0;
        /// `VIR_NETWORK_UPDATE_AFFECT_LIVE`.
        pub const LIVE: u32 = 1;
        /// `VIR_NETWORK_UPDATE_AFFECT_CONFIG`.
        pub const CONFIG: u32 = 2;
    }
}

/// `virNetworkUpdateCommand`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateCommand {
    /// `VIR_NETWORK_UPDATE_COMMAND_MODIFY` (1).
    Modify = 1,
    /// `VIR_NETWORK_UPDATE_COMMAND_DELETE` (2).
    Delete = 2,
    /// `VIR_NETWORK_UPDATE_COMMAND_ADD_LAST` (3).
    AddLast = 3,
    /// `VIR_NETWORK_UPDATE_COMMAND_ADD_FIRST` (4).
    AddFirst = 4,
}

impl UpdateCommand {
    /// The command with libvirt's number, if there is one (0, `NONE`, is not a command).
    pub fn from_number(n: u32) -> Option<Self> {
        Some(match n {
            1 => Self::Modify,
            2 => Self::Delete,
            3 => Self::AddLast,
            4 => Self::AddFirst,
            _ => return None,
        })
    }
}

/// `virNetworkUpdateSection`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateSection {
    /// `VIR_NETWORK_SECTION_BRIDGE` (1).
    Bridge = 1,
    /// `VIR_NETWORK_SECTION_DOMAIN` (2).
    Domain = 2,
    /// `VIR_NETWORK_SECTION_IP` (3).
    Ip = 3,
    /// `VIR_NETWORK_SECTION_IP_DHCP_HOST` (4).
    IpDhcpHost = 4,
    /// `VIR_NETWORK_SECTION_IP_DHCP_RANGE` (5).
    IpDhcpRange = 5,
    /// `VIR_NETWORK_SECTION_FORWARD` (6).
    Forward = 6,
    /// `VIR_NETWORK_SECTION_FORWARD_INTERFACE` (7).
    ForwardInterface = 7,
    /// `VIR_NETWORK_SECTION_FORWARD_PF` (8).
    ForwardPf = 8,
    /// `VIR_NETWORK_SECTION_PORTGROUP` (9).
    Portgroup = 9,
    /// `VIR_NETWORK_SECTION_DNS_HOST` (10).
    DnsHost = 10,
    /// `VIR_NETWORK_SECTION_DNS_TXT` (11).
    DnsTxt = 11,
    /// `VIR_NETWORK_SECTION_DNS_SRV` (12).
    DnsSrv = 12,
}

impl UpdateSection {
    /// The section with libvirt's number, if there is one (0, `NONE`, is not a section).
    pub fn from_number(n: u32) -> Option<Self> {
        Some(match n {
            1 => Self::Bridge,
            2 => Self::Domain,
            3 => Self::Ip,
            4 => Self::IpDhcpHost,
            5 => Self::IpDhcpRange,
            6 => Self::Forward,
            7 => Self::ForwardInterface,
            8 => Self::ForwardPf,
            9 => Self::Portgroup,
            10 => Self::DnsHost,
            11 => Self::DnsTxt,
            12 => Self::DnsSrv,
            _ => return None,
        })
    }
}

/// One `virNetworkUpdate` call's request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    /// libvirt's [`UpdateCommand`] number.
    pub command: u32,
    /// libvirt's [`UpdateSection`] number.
    pub section: u32,
    /// The `<ip>` element the change applies to (-1: the first that fits).
    pub parent_index: i32,
    /// The element to add, modify or delete.
    pub xml: String,
    /// [`flags::update`].
    pub flags: u32,
}

/// `virNetworkEventLifecycleType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkEventKind {
    /// `VIR_NETWORK_EVENT_DEFINED` (0).
    Defined = 0,
    /// `VIR_NETWORK_EVENT_UNDEFINED` (1).
    Undefined = 1,
    /// `VIR_NETWORK_EVENT_STARTED` (2).
    Started = 2,
    /// `VIR_NETWORK_EVENT_STOPPED` (3).
    Stopped = 3,
}

/// One lifecycle event (`VIR_NETWORK_EVENT_ID_LIFECYCLE`); libvirt 9.0's detail is always 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkEvent {
    /// The network.
    pub network: NetworkRef,
    /// What happened.
    pub kind: NetworkEventKind,
}

/// A subscription to a driver's network events.
pub type NetworkEventReceiver = mpsc::UnboundedReceiver<NetworkEvent>;

/// Fans a network driver's events out to every subscriber (the domain drivers' bus).
pub type NetworkEventBus = oxvirt_domain::driver::EventBus<NetworkEvent>;

impl NetworkEvent {
    /// The event `kind` about `network`.
    pub fn new(network: &NetworkRef, kind: NetworkEventKind) -> Self {
        NetworkEvent {
            network: network.clone(),
            kind,
        }
    }
}

/// libvirt's answer for a call the driver lacks.
pub fn no_support(function: &str) -> VirError {
    VirError::new(ErrorDomain::Network, ErrorCode::NoSupport, function)
}

/// A network driver: a node's virtual networks.
///
/// Implementations are shared between tasks (`Arc<dyn NetworkDriver>`).
#[async_trait]
pub trait NetworkDriver: Send + Sync {
    /// A subscription to every network event from now on.
    fn subscribe(&self) -> NetworkEventReceiver;

    /// `virConnectListAllNetworks`: the networks that pass the `flags::list` filters,
    /// sorted by name.
    async fn list_all(&self, _flags: u32) -> Result<Vec<NetworkRef>> {
        Err(no_support("virConnectListAllNetworks"))
    }

    /// `virNetworkLookupByName`.
    async fn lookup_by_name(&self, _name: &str) -> Result<NetworkRef> {
        Err(no_support("virNetworkLookupByName"))
    }

    /// `virNetworkLookupByUUID`.
    async fn lookup_by_uuid(&self, _uuid: &Uuid) -> Result<NetworkRef> {
        Err(no_support("virNetworkLookupByUUID"))
    }

    /// `virNetworkDefineXMLFlags`.
    async fn define_xml(&self, _xml: &str, _flags: u32) -> Result<NetworkRef> {
        Err(no_support("virNetworkDefineXMLFlags"))
    }

    /// `virNetworkUndefine`.
    async fn undefine(&self, _net: &NetworkRef) -> Result<()> {
        Err(no_support("virNetworkUndefine"))
    }

    /// `virNetworkCreateXMLFlags`: a transient network, started.
    async fn create_xml(&self, _xml: &str, _flags: u32) -> Result<NetworkRef> {
        Err(no_support("virNetworkCreateXMLFlags"))
    }

    /// `virNetworkCreate`: starts a defined network.
    async fn create(&self, _net: &NetworkRef) -> Result<()> {
        Err(no_support("virNetworkCreate"))
    }

    /// `virNetworkDestroy`.
    async fn destroy(&self, _net: &NetworkRef) -> Result<()> {
        Err(no_support("virNetworkDestroy"))
    }

    /// `virNetworkGetXMLDesc`.
    async fn xml_desc(&self, _net: &NetworkRef, _flags: u32) -> Result<String> {
        Err(no_support("virNetworkGetXMLDesc"))
    }

    /// `virNetworkGetBridgeName`.
    async fn bridge_name(&self, _net: &NetworkRef) -> Result<String> {
        Err(no_support("virNetworkGetBridgeName"))
    }

    /// `virNetworkGetAutostart`.
    async fn autostart(&self, _net: &NetworkRef) -> Result<bool> {
        Err(no_support("virNetworkGetAutostart"))
    }

    /// `virNetworkSetAutostart`.
    async fn set_autostart(&self, _net: &NetworkRef, _autostart: bool) -> Result<()> {
        Err(no_support("virNetworkSetAutostart"))
    }

    /// `virNetworkIsActive`.
    async fn is_active(&self, _net: &NetworkRef) -> Result<bool> {
        Err(no_support("virNetworkIsActive"))
    }

    /// `virNetworkIsPersistent`.
    async fn is_persistent(&self, _net: &NetworkRef) -> Result<bool> {
        Err(no_support("virNetworkIsPersistent"))
    }

    /// `virNetworkUpdate`.
    async fn update(&self, _net: &NetworkRef, _update: &Update) -> Result<()> {
        Err(no_support("virNetworkUpdate"))
    }

    /// `virNetworkGetDHCPLeases`: the leases of the network, only those of `mac` if given.
    async fn dhcp_leases(&self, _net: &NetworkRef, _mac: Option<&str>) -> Result<Vec<Lease>> {
        Err(no_support("virNetworkGetDHCPLeases"))
    }
}
