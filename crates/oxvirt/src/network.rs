//! [`Network`]: a virtual network of a connection, as libvirt's `virNetworkPtr`, and the
//! connection's network calls.
//!
//! The calls go to the connection's network driver ([`Connect::network_driver`]): a remote
//! connection's own (the daemon's bridge driver behind `qemu:///system`). A connection
//! without one fails every call as libvirt fails a call its driver lacks:
//! `VIR_ERR_NO_SUPPORT`, "this function is not supported by the connection driver:
//! virConnectListAllNetworks". A read-only connection refuses the changing calls with
//! "operation forbidden: read only access prevents virNetworkCreate" before the driver
//! sees them.

use std::sync::Arc;

use oxvirt_network::api::{NetworkEventReceiver, UpdateCommand, UpdateSection};
use oxvirt_network::{Lease, NetworkDriver, NetworkEvent, NetworkRef, Update};
use oxvirt_xml::types::Uuid;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use crate::connect::Connect;
use crate::Result;

pub use oxvirt_network::api::flags as network_flags;

/// A virtual network of a connection, as libvirt's `virNetworkPtr`.
#[derive(Debug, Clone)]
pub struct Network {
    conn: Connect,
    net: NetworkRef,
}

/// The network lifecycle events of a connection (`virConnectNetworkEventRegisterAny`
/// with `VIR_NETWORK_EVENT_ID_LIFECYCLE`). Dropping the stream unsubscribes.
#[derive(Debug)]
pub struct NetworkEventStream {
    rx: NetworkEventReceiver,
}

impl NetworkEventStream {
    /// The next event, waiting for it; `None` once the driver is gone.
    pub async fn next(&mut self) -> Option<NetworkEvent> {
        self.rx.recv().await
    }

    /// The next event if one is already waiting.
    pub fn try_next(&mut self) -> Option<NetworkEvent> {
        self.rx.try_recv().ok()
    }
}

fn unsupported(function: &str) -> VirError {
    VirError::new(ErrorDomain::Network, ErrorCode::NoSupport, function)
}

impl Network {
    /// A handle for the network `net` on `conn`.
    pub fn from_ref(conn: Connect, net: NetworkRef) -> Self {
        Network { conn, net }
    }

    /// A handle for the network `name` with `uuid` on `conn`.
    pub fn new(conn: Connect, name: impl Into<String>, uuid: Uuid) -> Self {
        Network::from_ref(
            conn,
            NetworkRef {
                name: name.into(),
                uuid,
            },
        )
    }

    /// The connection the handle belongs to.
    pub fn connect(&self) -> &Connect {
        &self.conn
    }

    /// The network as drivers name it.
    pub fn network_ref(&self) -> &NetworkRef {
        &self.net
    }

    /// `virNetworkGetName`.
    pub fn name(&self) -> &str {
        &self.net.name
    }

    /// `virNetworkGetUUID`.
    pub fn uuid(&self) -> Uuid {
        self.net.uuid
    }

    /// `virNetworkGetUUIDString`.
    pub fn uuid_string(&self) -> String {
        self.net.uuid.to_string()
    }

    fn driver(&self, function: &str) -> Result<&Arc<dyn NetworkDriver>> {
        self.conn.network_for(function)
    }

    fn writable(&self, function: &str) -> Result<&Arc<dyn NetworkDriver>> {
        self.conn.check_writable(ErrorDomain::Network, function)?;
        self.driver(function)
    }

    /// `virNetworkCreate`: starts the defined network.
    pub async fn create(&self) -> Result<()> {
        self.writable("virNetworkCreate")?.create(&self.net).await
    }

    /// `virNetworkDestroy`: stops the network (a transient one goes away).
    pub async fn destroy(&self) -> Result<()> {
        self.writable("virNetworkDestroy")?.destroy(&self.net).await
    }

    /// `virNetworkUndefine`.
    pub async fn undefine(&self) -> Result<()> {
        self.writable("virNetworkUndefine")?
            .undefine(&self.net)
            .await
    }

    /// `virNetworkGetXMLDesc` (`network_flags::xml::INACTIVE` for the persistent
    /// definition).
    pub async fn xml_desc(&self, flags: u32) -> Result<String> {
        self.driver("virNetworkGetXMLDesc")?
            .xml_desc(&self.net, flags)
            .await
    }

    /// `virNetworkGetBridgeName`.
    pub async fn bridge_name(&self) -> Result<String> {
        self.driver("virNetworkGetBridgeName")?
            .bridge_name(&self.net)
            .await
    }

    /// `virNetworkGetAutostart`.
    pub async fn autostart(&self) -> Result<bool> {
        self.driver("virNetworkGetAutostart")?
            .autostart(&self.net)
            .await
    }

    /// `virNetworkSetAutostart`.
    pub async fn set_autostart(&self, autostart: bool) -> Result<()> {
        self.writable("virNetworkSetAutostart")?
            .set_autostart(&self.net, autostart)
            .await
    }

    /// `virNetworkIsActive`.
    pub async fn is_active(&self) -> Result<bool> {
        self.driver("virNetworkIsActive")?
            .is_active(&self.net)
            .await
    }

    /// `virNetworkIsPersistent`.
    pub async fn is_persistent(&self) -> Result<bool> {
        self.driver("virNetworkIsPersistent")?
            .is_persistent(&self.net)
            .await
    }

    /// `virNetworkUpdate`: `command` on `section` (libvirt's numbers) with the element
    /// `xml`, in the `<ip>` element `parent_index` (-1: the first that fits), affecting the
    /// live network, the definition or both (`network_flags::update`).
    pub async fn update(
        &self,
        command: UpdateCommand,
        section: UpdateSection,
        parent_index: i32,
        xml: &str,
        flags: u32,
    ) -> Result<()> {
        let update = Update {
            command: command as u32,
            section: section as u32,
            parent_index,
            xml: xml.to_owned(),
            flags,
        };
        self.update_raw(&update).await
    }

    /// `virNetworkUpdate` with the numbers as they come (unknown commands or sections are
    /// the driver's to refuse).
    pub async fn update_raw(&self, update: &Update) -> Result<()> {
        self.writable("virNetworkUpdate")?
            .update(&self.net, update)
            .await
    }

    /// `virNetworkGetDHCPLeases`: the leases of the network, only those of `mac` if given;
    /// libvirt knows no flag here.
    pub async fn dhcp_leases(&self, mac: Option<&str>, flags: u32) -> Result<Vec<Lease>> {
        VirError::check_flags(ErrorDomain::Network, flags, 0, "networkGetDHCPLeases")?;
        self.driver("virNetworkGetDHCPLeases")?
            .dhcp_leases(&self.net, mac)
            .await
    }
}

impl Connect {
    /// The network driver, or libvirt's `VIR_ERR_NO_SUPPORT` naming `function`.
    pub(crate) fn network_for(&self, function: &str) -> Result<&Arc<dyn NetworkDriver>> {
        self.network_driver().ok_or_else(|| unsupported(function))
    }

    /// A handle for a network reference a driver or an event gave.
    pub fn network(&self, net: NetworkRef) -> Network {
        Network::from_ref(self.clone(), net)
    }

    /// `virConnectListAllNetworks`: the networks that pass `flags`
    /// (`network_flags::list`), sorted by name.
    pub async fn list_all_networks(&self, flags: u32) -> Result<Vec<Network>> {
        let nets = self
            .network_for("virConnectListAllNetworks")?
            .list_all(flags)
            .await?;
        Ok(nets.into_iter().map(|n| self.network(n)).collect())
    }

    /// `virNetworkLookupByName`.
    pub async fn lookup_network_by_name(&self, name: &str) -> Result<Network> {
        let net = self
            .network_for("virNetworkLookupByName")?
            .lookup_by_name(name)
            .await?;
        Ok(self.network(net))
    }

    /// `virNetworkLookupByUUID`.
    pub async fn lookup_network_by_uuid(&self, uuid: &Uuid) -> Result<Network> {
        let net = self
            .network_for("virNetworkLookupByUUID")?
            .lookup_by_uuid(uuid)
            .await?;
        Ok(self.network(net))
    }

    /// `virNetworkLookupByUUIDString`: libvirt refuses a malformed UUID with
    /// `VIR_ERR_INVALID_ARG` before asking the driver.
    pub async fn lookup_network_by_uuid_string(&self, uuid: &str) -> Result<Network> {
        let parsed = Uuid::try_parse(uuid).ok_or_else(|| {
            VirError::new(
                ErrorDomain::Network,
                ErrorCode::InvalidArg,
                "uuidstr in virNetworkLookupByUUIDString must be a valid UUID",
            )
        })?;
        self.lookup_network_by_uuid(&parsed).await
    }

    /// `virNetworkDefineXMLFlags` (`network_flags::define::VALIDATE`).
    pub async fn define_network_xml(&self, xml: &str, flags: u32) -> Result<Network> {
        let function = if flags == 0 {
            "virNetworkDefineXML"
        } else {
            "virNetworkDefineXMLFlags"
        };
        self.check_writable(ErrorDomain::Network, function)?;
        let net = self.network_for(function)?.define_xml(xml, flags).await?;
        Ok(self.network(net))
    }

    /// `virNetworkCreateXMLFlags`: a transient network, started.
    pub async fn create_network_xml(&self, xml: &str, flags: u32) -> Result<Network> {
        let function = if flags == 0 {
            "virNetworkCreateXML"
        } else {
            "virNetworkCreateXMLFlags"
        };
        self.check_writable(ErrorDomain::Network, function)?;
        let net = self.network_for(function)?.create_xml(xml, flags).await?;
        Ok(self.network(net))
    }

    /// The network lifecycle events of this connection from now on.
    pub fn network_events(&self) -> Result<NetworkEventStream> {
        let rx = self
            .network_for("virConnectNetworkEventRegisterAny")?
            .subscribe();
        Ok(NetworkEventStream { rx })
    }
}

#[cfg(test)]
#[path = "network_tests.rs"]
mod tests;
