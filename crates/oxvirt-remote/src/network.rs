//! [`RemoteNetworkDriver`]: the virtual network calls of a remote connection, as libvirt's
//! remote driver makes them, and network lifecycle events.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use oxvirt_network::api::NetworkEventReceiver;
use oxvirt_network::api::{NetworkEventKind, Result};
use oxvirt_network::{Lease, NetworkDriver, NetworkEventBus, NetworkRef, Update};
use oxvirt_rpc::remote::*;
use oxvirt_rpc::types::NonnullNetwork;
use oxvirt_rpc::xdr::decode_from;
use oxvirt_rpc::RemoteProcedure as P;
use oxvirt_xml::types::Uuid;

use crate::connection::{Connection, EventMessage};
use crate::driver::RemoteDriver;
use crate::msgs::IntRet;

/// A network driver whose every call is a REMOTE procedure on a connection (shared with
/// the connection's [`RemoteDriver`]).
pub struct RemoteNetworkDriver {
    conn: Connection,
    bus: Arc<NetworkEventBus>,
    registered: AtomicBool,
}

impl std::fmt::Debug for RemoteNetworkDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteNetworkDriver")
            .finish_non_exhaustive()
    }
}

/// A driver network as it travels.
pub fn network_wire(net: &NetworkRef) -> NonnullNetwork {
    NonnullNetwork {
        name: net.name.clone(),
        uuid: net.uuid.into(),
    }
}

/// A wire network as drivers name it.
pub fn network_ref(net: NonnullNetwork) -> NetworkRef {
    NetworkRef {
        name: net.name,
        uuid: Uuid::from(net.uuid),
    }
}

/// A wire lease as drivers describe it.
pub fn lease_ref(l: NetworkDhcpLease) -> Lease {
    Lease {
        iface: l.iface,
        expiry_time: l.expirytime,
        kind: l.r#type,
        mac: l.mac,
        iaid: l.iaid,
        ip: l.ipaddr,
        prefix: l.prefix,
        hostname: l.hostname,
        client_id: l.clientid,
    }
}

/// The network event a NETWORK_EVENT_LIFECYCLE message carries; `None` for anything else.
pub fn decode_network_event(msg: &EventMessage) -> Option<oxvirt_network::NetworkEvent> {
    if msg.procedure != P::NetworkEventLifecycle.number() {
        return None;
    }
    let m: NetworkEventLifecycleMsg = decode_from(&msg.payload).ok()?;
    let kind = match m.event {
        0 => NetworkEventKind::Defined,
        1 => NetworkEventKind::Undefined,
        2 => NetworkEventKind::Started,
        3 => NetworkEventKind::Stopped,
        _ => return None,
    };
    Some(oxvirt_network::NetworkEvent {
        network: network_ref(m.net),
        kind,
    })
}

impl RemoteDriver {
    /// The network calls of this connection.
    pub fn network_driver(&self) -> RemoteNetworkDriver {
        RemoteNetworkDriver::new(self.conn.clone())
    }
}

impl RemoteNetworkDriver {
    /// The network calls of `conn`.
    pub fn new(conn: Connection) -> Self {
        RemoteNetworkDriver {
            conn,
            bus: Arc::new(NetworkEventBus::new()),
            registered: AtomicBool::new(false),
        }
    }

    /// Queues CONNECT_NETWORK_EVENT_REGISTER_ANY for lifecycle events of every network;
    /// once the daemon answers with the callback ID, its messages feed the bus.
    fn register_events(&self) {
        let args = ConnectNetworkEventRegisterAnyArgs {
            event_id: NETWORK_EVENT_ID_LIFECYCLE,
            net: None,
        };
        let bus = Arc::clone(&self.bus);
        self.conn.forward_events(
            P::ConnectNetworkEventRegisterAny,
            &args,
            decode_network_event,
            move |e| bus.emit(e),
        );
    }

    async fn net_call<A, R>(&self, p: P, args: &A) -> Result<R>
    where
        A: oxvirt_rpc::XdrEncode,
        R: oxvirt_rpc::XdrDecode,
    {
        self.conn.call(p, args).await
    }

    async fn void_call<A: oxvirt_rpc::XdrEncode>(&self, p: P, args: &A) -> Result<()> {
        self.conn.call::<A, ()>(p, args).await
    }

    /// A call whose arguments are only the network (`remote_network_*_args { net }`, the
    /// same bytes as the network itself) and whose reply is empty.
    async fn net_void(&self, p: P, net: &NetworkRef) -> Result<()> {
        self.void_call(p, &network_wire(net)).await
    }

    /// A call whose arguments are only the network and whose reply is one int (`active`,
    /// `persistent`, `autostart`): true when it is not 0.
    async fn net_bool(&self, p: P, net: &NetworkRef) -> Result<bool> {
        let r: IntRet = self.net_call(p, &network_wire(net)).await?;
        Ok(r.value != 0)
    }
}

#[async_trait]
impl NetworkDriver for RemoteNetworkDriver {
    fn subscribe(&self) -> NetworkEventReceiver {
        let rx = self.bus.subscribe();
        if !self.registered.swap(true, Ordering::SeqCst) {
            self.register_events();
        }
        rx
    }

    async fn list_all(&self, flags: u32) -> Result<Vec<NetworkRef>> {
        let args = ConnectListAllNetworksArgs {
            need_results: 1,
            flags,
        };
        let r: ConnectListAllNetworksRet = self.net_call(P::ConnectListAllNetworks, &args).await?;
        Ok(r.nets.into_iter().map(network_ref).collect())
    }

    async fn lookup_by_name(&self, name: &str) -> Result<NetworkRef> {
        let args = NetworkLookupByNameArgs {
            name: name.to_owned(),
        };
        let r: NetworkLookupByNameRet = self.net_call(P::NetworkLookupByName, &args).await?;
        Ok(network_ref(r.net))
    }

    async fn lookup_by_uuid(&self, uuid: &Uuid) -> Result<NetworkRef> {
        let args = NetworkLookupByUuidArgs {
            uuid: (*uuid).into(),
        };
        let r: NetworkLookupByUuidRet = self.net_call(P::NetworkLookupByUuid, &args).await?;
        Ok(network_ref(r.net))
    }

    async fn define_xml(&self, xml: &str, flags: u32) -> Result<NetworkRef> {
        let xml = xml.to_owned();
        let r: NetworkDefineXmlRet = if flags == 0 {
            self.net_call(P::NetworkDefineXml, &NetworkDefineXmlArgs { xml })
                .await?
        } else {
            let args = NetworkDefineXmlFlagsArgs { xml, flags };
            self.net_call(P::NetworkDefineXmlFlags, &args).await?
        };
        Ok(network_ref(r.net))
    }

    async fn undefine(&self, net: &NetworkRef) -> Result<()> {
        self.net_void(P::NetworkUndefine, net).await
    }

    async fn create_xml(&self, xml: &str, flags: u32) -> Result<NetworkRef> {
        let xml = xml.to_owned();
        let r: NetworkCreateXmlRet = if flags == 0 {
            self.net_call(P::NetworkCreateXml, &NetworkCreateXmlArgs { xml })
                .await?
        } else {
            let args = NetworkCreateXmlFlagsArgs { xml, flags };
            self.net_call(P::NetworkCreateXmlFlags, &args).await?
        };
        Ok(network_ref(r.net))
    }

    async fn create(&self, net: &NetworkRef) -> Result<()> {
        self.net_void(P::NetworkCreate, net).await
    }

    async fn destroy(&self, net: &NetworkRef) -> Result<()> {
        self.net_void(P::NetworkDestroy, net).await
    }

    async fn xml_desc(&self, net: &NetworkRef, flags: u32) -> Result<String> {
        let args = NetworkGetXmlDescArgs {
            net: network_wire(net),
            flags,
        };
        let r: NetworkGetXmlDescRet = self.net_call(P::NetworkGetXmlDesc, &args).await?;
        Ok(r.xml)
    }

    async fn bridge_name(&self, net: &NetworkRef) -> Result<String> {
        let args = NetworkGetBridgeNameArgs {
            net: network_wire(net),
        };
        let r: NetworkGetBridgeNameRet = self.net_call(P::NetworkGetBridgeName, &args).await?;
        Ok(r.name)
    }

    async fn autostart(&self, net: &NetworkRef) -> Result<bool> {
        self.net_bool(P::NetworkGetAutostart, net).await
    }

    async fn set_autostart(&self, net: &NetworkRef, autostart: bool) -> Result<()> {
        let args = NetworkSetAutostartArgs {
            net: network_wire(net),
            autostart: i32::from(autostart),
        };
        self.void_call(P::NetworkSetAutostart, &args).await
    }

    async fn is_active(&self, net: &NetworkRef) -> Result<bool> {
        self.net_bool(P::NetworkIsActive, net).await
    }

    async fn is_persistent(&self, net: &NetworkRef) -> Result<bool> {
        self.net_bool(P::NetworkIsPersistent, net).await
    }

    async fn update(&self, net: &NetworkRef, update: &Update) -> Result<()> {
        // Both oxvirtd and libvirtd ≥ 1.0.5 have NETWORK_UPDATE_HAS_CORRECT_ORDER: the
        // command and section go in their declared order.
        let args = NetworkUpdateArgs {
            net: network_wire(net),
            command: update.command,
            section: update.section,
            parent_index: update.parent_index,
            xml: update.xml.clone(),
            flags: update.flags,
        };
        self.void_call(P::NetworkUpdate, &args).await
    }

    async fn dhcp_leases(&self, net: &NetworkRef, mac: Option<&str>) -> Result<Vec<Lease>> {
        let args = NetworkGetDhcpLeasesArgs {
            net: network_wire(net),
            mac: mac.map(str::to_owned),
            need_results: 1,
            flags: 0,
        };
        let r: NetworkGetDhcpLeasesRet = self.net_call(P::NetworkGetDhcpLeases, &args).await?;
        Ok(r.leases.into_iter().map(lease_ref).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxvirt_rpc::xdr::encode_to_vec;

    #[test]
    fn lifecycle_messages_become_network_events() {
        let msg = NetworkEventLifecycleMsg {
            callback_id: 7,
            net: NonnullNetwork {
                name: "default".into(),
                uuid: [9; 16],
            },
            event: 3,
            detail: 0,
        };
        let event = decode_network_event(&EventMessage {
            procedure: P::NetworkEventLifecycle.number(),
            payload: encode_to_vec(&msg),
        })
        .unwrap();
        assert_eq!(event.kind, NetworkEventKind::Stopped);
        assert_eq!(event.network.name, "default");
        assert_eq!(event.network.uuid, Uuid::from([9; 16]));
        // Other procedures and unknown event numbers are not network events.
        let other = EventMessage {
            procedure: P::DomainEventCallbackLifecycle.number(),
            payload: encode_to_vec(&msg),
        };
        assert!(decode_network_event(&other).is_none());
        let unknown = NetworkEventLifecycleMsg { event: 9, ..msg };
        assert!(decode_network_event(&EventMessage {
            procedure: P::NetworkEventLifecycle.number(),
            payload: encode_to_vec(&unknown),
        })
        .is_none());
    }

    #[test]
    fn leases_and_networks_convert_both_ways() {
        let r = NetworkRef {
            name: "n".into(),
            uuid: Uuid::from([1; 16]),
        };
        assert_eq!(network_ref(network_wire(&r)), r);
        let l = lease_ref(NetworkDhcpLease {
            iface: "virbr0".into(),
            expirytime: 5,
            r#type: 1,
            mac: None,
            iaid: Some("1234".into()),
            ipaddr: "fd00::5".into(),
            prefix: 64,
            hostname: Some("h".into()),
            clientid: Some("00:01".into()),
        });
        assert_eq!(
            (l.kind, l.iaid.as_deref(), l.ip.as_str(), l.prefix),
            (1, Some("1234"), "fd00::5", 64)
        );
        assert_eq!(l.client_id.as_deref(), Some("00:01"));
    }
}
