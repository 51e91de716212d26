//! [`Network`]: the shape of a virtual network handle.
//!
//! Networks come with their driver (`oxvirt-network` locally, `oxvirt-rpc` remotely). Until
//! then a handle carries only what needs no driver, and [`Connect::list_all_networks`] and
//! [`Connect::lookup_network_by_name`] fail as libvirt fails a call a connection's driver
//! lacks: `VIR_ERR_NO_SUPPORT`, "this function is not supported by the connection driver:
//! virConnectListAllNetworks".

use oxvirt_xml::types::Uuid;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use crate::connect::Connect;
use crate::Result;

/// A virtual network of a connection, as libvirt's `virNetworkPtr`.
#[derive(Debug, Clone)]
pub struct Network {
    conn: Connect,
    name: String,
    uuid: Uuid,
}

impl Network {
    /// A handle for the network `name` with `uuid` on `conn` (for network drivers).
    pub fn new(conn: Connect, name: impl Into<String>, uuid: Uuid) -> Self {
        Network {
            conn,
            name: name.into(),
            uuid,
        }
    }

    /// The connection the handle belongs to.
    pub fn connect(&self) -> &Connect {
        &self.conn
    }

    /// `virNetworkGetName`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `virNetworkGetUUID`.
    pub fn uuid(&self) -> Uuid {
        self.uuid
    }

    /// `virNetworkGetUUIDString`.
    pub fn uuid_string(&self) -> String {
        self.uuid.to_string()
    }
}

impl Connect {
    /// `virConnectListAllNetworks`: not supported until a network driver lands.
    pub async fn list_all_networks(&self, _flags: u32) -> Result<Vec<Network>> {
        Err(unsupported("virConnectListAllNetworks"))
    }

    /// `virNetworkLookupByName`: not supported until a network driver lands.
    pub async fn lookup_network_by_name(&self, _name: &str) -> Result<Network> {
        Err(unsupported("virNetworkLookupByName"))
    }
}

fn unsupported(function: &str) -> VirError {
    VirError::new(ErrorDomain::Network, ErrorCode::NoSupport, function)
}

#[cfg(test)]
mod tests {
    use crate::testing::fake_connect;

    #[tokio::test]
    async fn network_calls_are_not_supported_yet() {
        let conn = fake_connect(false);
        let err = conn.list_all_networks(0).await.unwrap_err();
        assert_eq!(
            err.message,
            "this function is not supported by the connection driver: virConnectListAllNetworks"
        );
        assert_eq!(err.domain, oxvirt_xml::ErrorDomain::Network);
        let err = conn.lookup_network_by_name("default").await.unwrap_err();
        assert_eq!(err.code, oxvirt_xml::ErrorCode::NoSupport);
        assert!(err.message.ends_with("virNetworkLookupByName"));
    }
}
