//! The facade's network calls over a small in-memory network driver.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use oxvirt_network::api::{NetworkEventKind, NetworkEventReceiver, UpdateCommand, UpdateSection};
use oxvirt_network::{Lease, NetworkDriver, NetworkEventBus, NetworkRef, Update};
use oxvirt_xml::types::Uuid;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use crate::testing::fake_connect;
use crate::uri::Uri;
use crate::Connect;

#[derive(Debug, Default)]
struct Fake {
    active: Mutex<bool>,
    bus: NetworkEventBus,
    updates: Mutex<Vec<Update>>,
}

fn default_ref() -> NetworkRef {
    NetworkRef {
        name: "default".into(),
        uuid: Uuid::from([3; 16]),
    }
}

#[async_trait]
impl NetworkDriver for Fake {
    fn subscribe(&self) -> NetworkEventReceiver {
        self.bus.subscribe()
    }

    async fn list_all(&self, _flags: u32) -> oxvirt_network::api::Result<Vec<NetworkRef>> {
        Ok(vec![default_ref()])
    }

    async fn lookup_by_name(&self, name: &str) -> oxvirt_network::api::Result<NetworkRef> {
        if name == "default" {
            Ok(default_ref())
        } else {
            Err(VirError::new(
                ErrorDomain::Network,
                ErrorCode::NoNetwork,
                format!("no network with matching name '{name}'"),
            ))
        }
    }

    async fn lookup_by_uuid(&self, _uuid: &Uuid) -> oxvirt_network::api::Result<NetworkRef> {
        Ok(default_ref())
    }

    async fn destroy(&self, net: &NetworkRef) -> oxvirt_network::api::Result<()> {
        *self.active.lock().unwrap() = false;
        self.bus.emit(oxvirt_network::NetworkEvent::new(
            net,
            NetworkEventKind::Stopped,
        ));
        Ok(())
    }

    async fn is_active(&self, _net: &NetworkRef) -> oxvirt_network::api::Result<bool> {
        Ok(*self.active.lock().unwrap())
    }

    async fn update(&self, _net: &NetworkRef, u: &Update) -> oxvirt_network::api::Result<()> {
        self.updates.lock().unwrap().push(u.clone());
        Ok(())
    }

    async fn dhcp_leases(
        &self,
        _net: &NetworkRef,
        mac: Option<&str>,
    ) -> oxvirt_network::api::Result<Vec<Lease>> {
        Ok(vec![Lease {
            iface: "virbr0".into(),
            expiry_time: 0,
            kind: 0,
            mac: mac.map(str::to_owned),
            iaid: None,
            ip: "192.168.122.9".into(),
            prefix: 24,
            hostname: None,
            client_id: None,
        }])
    }
}

fn with_network(read_only: bool) -> (Connect, Arc<Fake>) {
    let base = fake_connect(read_only);
    let fake = Arc::new(Fake {
        active: Mutex::new(true),
        ..Fake::default()
    });
    let network: Arc<dyn NetworkDriver> = fake.clone();
    let conn = Connect::from_drivers(
        Uri::parse("qemu:///system").unwrap(),
        base.driver().clone(),
        Some(network),
        read_only,
    );
    (conn, fake)
}

#[tokio::test]
async fn connections_without_a_network_driver_do_not_support_networks() {
    let conn = fake_connect(false);
    let err = conn.list_all_networks(0).await.unwrap_err();
    assert_eq!(
        err.message,
        "this function is not supported by the connection driver: virConnectListAllNetworks"
    );
    assert_eq!(err.domain, ErrorDomain::Network);
    let err = conn.lookup_network_by_name("default").await.unwrap_err();
    assert_eq!(err.code, ErrorCode::NoSupport);
    assert!(err.message.ends_with("virNetworkLookupByName"));
    assert!(conn.network_events().is_err());
}

#[tokio::test]
async fn handles_call_the_network_driver() {
    let (conn, fake) = with_network(false);
    let nets = conn.list_all_networks(0).await.unwrap();
    assert_eq!(nets.len(), 1);
    assert_eq!(nets[0].name(), "default");
    assert_eq!(
        nets[0].uuid_string(),
        "03030303-0303-0303-0303-030303030303"
    );
    let net = conn.lookup_network_by_name("default").await.unwrap();
    assert!(net.is_active().await.unwrap());
    let err = conn.lookup_network_by_name("nope").await.unwrap_err();
    assert_eq!(err.code, ErrorCode::NoNetwork);
    let by_uuid = conn
        .lookup_network_by_uuid_string("03030303-0303-0303-0303-030303030303")
        .await
        .unwrap();
    assert_eq!(by_uuid.name(), "default");
    let err = conn
        .lookup_network_by_uuid_string("not-a-uuid")
        .await
        .unwrap_err();
    assert_eq!(
        err.message,
        "invalid argument: uuidstr in virNetworkLookupByUUIDString must be a valid UUID"
    );
    let mut events = conn.network_events().unwrap();
    net.destroy().await.unwrap();
    assert!(!net.is_active().await.unwrap());
    let ev = events.next().await.unwrap();
    assert_eq!(
        (ev.network.name.as_str(), ev.kind),
        ("default", NetworkEventKind::Stopped)
    );
    net.update(
        UpdateCommand::AddLast,
        UpdateSection::IpDhcpHost,
        -1,
        "<host/>",
        3,
    )
    .await
    .unwrap();
    let u = fake.updates.lock().unwrap()[0].clone();
    assert_eq!(
        (u.command, u.section, u.parent_index, u.flags),
        (3, 4, -1, 3)
    );
    let leases = net.dhcp_leases(Some("52:54:00:aa:bb:cc"), 0).await.unwrap();
    assert_eq!(leases[0].mac.as_deref(), Some("52:54:00:aa:bb:cc"));
    let err = net.dhcp_leases(None, 1).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidArg);
    // Calls the driver lacks answer libvirt's words for them.
    let err = net.bridge_name().await.unwrap_err();
    assert!(err.message.ends_with("virNetworkGetBridgeName"));
}

#[tokio::test]
async fn read_only_connections_refuse_changes_before_the_driver() {
    let (conn, _fake) = with_network(true);
    let net = conn.lookup_network_by_name("default").await.unwrap();
    assert!(net.is_active().await.unwrap());
    let denied = |f: &str| format!("operation forbidden: read only access prevents {f}");
    let err = net.destroy().await.unwrap_err();
    assert_eq!(
        (err.code, err.domain, err.message.clone()),
        (
            ErrorCode::OperationDenied,
            ErrorDomain::Network,
            denied("virNetworkDestroy")
        )
    );
    assert_eq!(
        net.set_autostart(true).await.unwrap_err().message,
        denied("virNetworkSetAutostart")
    );
    assert_eq!(
        conn.define_network_xml("<network/>", 0)
            .await
            .unwrap_err()
            .message,
        denied("virNetworkDefineXML")
    );
    assert_eq!(
        conn.create_network_xml("<network/>", 1)
            .await
            .unwrap_err()
            .message,
        denied("virNetworkCreateXMLFlags")
    );
    assert!(net.is_active().await.unwrap());
}
