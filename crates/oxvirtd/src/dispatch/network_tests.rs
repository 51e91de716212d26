//! The network procedures against a small in-memory network driver.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use oxvirt_network::api::{flags, NetworkEventKind, NetworkEventReceiver, Result};
use oxvirt_network::{Lease, NetworkDriver, NetworkEventBus, NetworkRef, Update};
use oxvirt_rpc::remote::*;
use oxvirt_rpc::types::NonnullNetwork;
use oxvirt_rpc::xdr::{decode_from, encode_to_vec};
use oxvirt_rpc::{RemoteProcedure as P, XdrDecode, XdrEncode};
use oxvirt_xml::types::Uuid;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};
use tokio::sync::mpsc;

use crate::client::Client;
use crate::dispatch::dispatch;

#[derive(Debug, Clone)]
struct Net {
    r: NetworkRef,
    active: bool,
    persistent: bool,
    autostart: bool,
}

/// Networks in memory, named by the `<name>` of their XML.
#[derive(Debug, Default)]
struct Fake {
    nets: Mutex<Vec<Net>>,
    bus: NetworkEventBus,
    updates: Mutex<Vec<Update>>,
}

fn no_network(name: &str) -> VirError {
    VirError::new(
        ErrorDomain::Network,
        ErrorCode::NoNetwork,
        format!("no network with matching name '{name}'"),
    )
}

impl Fake {
    fn with(names: &[(&str, bool)]) -> Arc<Fake> {
        let fake = Fake::default();
        for (i, (name, active)) in names.iter().enumerate() {
            fake.nets.lock().unwrap().push(Net {
                r: NetworkRef {
                    name: (*name).into(),
                    uuid: Uuid::from([i as u8 + 1; 16]),
                },
                active: *active,
                persistent: true,
                autostart: *active,
            });
        }
        Arc::new(fake)
    }

    fn find(&self, net: &NetworkRef) -> Result<Net> {
        let nets = self.nets.lock().unwrap();
        nets.iter()
            .find(|n| n.r.uuid == net.uuid)
            .cloned()
            .ok_or_else(|| no_network(&net.name))
    }

    fn set(&self, net: &NetworkRef, f: impl FnOnce(&mut Net)) {
        let mut nets = self.nets.lock().unwrap();
        if let Some(n) = nets.iter_mut().find(|n| n.r.uuid == net.uuid) {
            f(n);
        }
    }
}

#[async_trait]
impl NetworkDriver for Fake {
    fn subscribe(&self) -> NetworkEventReceiver {
        self.bus.subscribe()
    }

    async fn list_all(&self, f: u32) -> Result<Vec<NetworkRef>> {
        let nets = self.nets.lock().unwrap();
        Ok(nets
            .iter()
            .filter(|n| f & flags::list::ACTIVE == 0 || n.active)
            .filter(|n| f & flags::list::INACTIVE == 0 || !n.active)
            .map(|n| n.r.clone())
            .collect())
    }

    async fn lookup_by_name(&self, name: &str) -> Result<NetworkRef> {
        let nets = self.nets.lock().unwrap();
        nets.iter()
            .find(|n| n.r.name == name)
            .map(|n| n.r.clone())
            .ok_or_else(|| no_network(name))
    }

    async fn lookup_by_uuid(&self, uuid: &Uuid) -> Result<NetworkRef> {
        let nets = self.nets.lock().unwrap();
        nets.iter()
            .find(|n| n.r.uuid == *uuid)
            .map(|n| n.r.clone())
            .ok_or_else(|| no_network(&uuid.to_string()))
    }

    async fn define_xml(&self, xml: &str, _flags: u32) -> Result<NetworkRef> {
        let name = xml
            .split("<name>")
            .nth(1)
            .and_then(|s| s.split("</name>").next())
            .unwrap_or_default();
        let r = NetworkRef {
            name: name.into(),
            uuid: Uuid::from([0xaa; 16]),
        };
        self.nets.lock().unwrap().push(Net {
            r: r.clone(),
            active: false,
            persistent: true,
            autostart: false,
        });
        self.bus.emit(oxvirt_network::NetworkEvent::new(
            &r,
            NetworkEventKind::Defined,
        ));
        Ok(r)
    }

    async fn create(&self, net: &NetworkRef) -> Result<()> {
        self.find(net)?;
        self.set(net, |n| n.active = true);
        self.bus.emit(oxvirt_network::NetworkEvent::new(
            net,
            NetworkEventKind::Started,
        ));
        Ok(())
    }

    async fn destroy(&self, net: &NetworkRef) -> Result<()> {
        self.find(net)?;
        self.set(net, |n| n.active = false);
        self.bus.emit(oxvirt_network::NetworkEvent::new(
            net,
            NetworkEventKind::Stopped,
        ));
        Ok(())
    }

    async fn xml_desc(&self, net: &NetworkRef, flags: u32) -> Result<String> {
        let n = self.find(net)?;
        Ok(format!(
            "<network><name>{}</name><!-- {flags} --></network>",
            n.r.name
        ))
    }

    async fn bridge_name(&self, net: &NetworkRef) -> Result<String> {
        self.find(net)?;
        Ok("virbr0".into())
    }

    async fn autostart(&self, net: &NetworkRef) -> Result<bool> {
        Ok(self.find(net)?.autostart)
    }

    async fn set_autostart(&self, net: &NetworkRef, autostart: bool) -> Result<()> {
        self.find(net)?;
        self.set(net, |n| n.autostart = autostart);
        Ok(())
    }

    async fn is_active(&self, net: &NetworkRef) -> Result<bool> {
        Ok(self.find(net)?.active)
    }

    async fn is_persistent(&self, net: &NetworkRef) -> Result<bool> {
        Ok(self.find(net)?.persistent)
    }

    async fn update(&self, net: &NetworkRef, update: &Update) -> Result<()> {
        self.find(net)?;
        self.updates.lock().unwrap().push(update.clone());
        Ok(())
    }

    async fn dhcp_leases(&self, net: &NetworkRef, mac: Option<&str>) -> Result<Vec<Lease>> {
        self.find(net)?;
        let all = ["52:54:00:00:00:01", "52:54:00:00:00:02"].map(|m| Lease {
            iface: "virbr0".into(),
            expiry_time: 1_700_000_000,
            kind: 0,
            mac: Some(m.into()),
            iaid: None,
            ip: format!("192.168.122.{}", &m[16..].trim_start_matches('0')),
            prefix: 24,
            hostname: None,
            client_id: None,
        });
        Ok(all
            .into_iter()
            .filter(|l| mac.is_none_or(|m| l.mac.as_deref() == Some(m)))
            .collect())
    }
}

fn client(fake: &Arc<Fake>, flags: u32) -> Client {
    let c = Client::new(false);
    let network: Arc<dyn NetworkDriver> = fake.clone();
    c.open_with_network("test:///default", flags, network)
        .unwrap();
    c
}

async fn call<A: XdrEncode, R: XdrDecode>(
    c: &Client,
    p: P,
    a: &A,
) -> std::result::Result<R, VirError> {
    let reply = dispatch(c, p.number(), &encode_to_vec(a)).await?;
    Ok(decode_from(&reply).unwrap())
}

/// CONNECT_LIST_ALL_NETWORKS, which must succeed.
async fn list_all(c: &Client, need_results: i32, flags: u32) -> ConnectListAllNetworksRet {
    let args = ConnectListAllNetworksArgs {
        need_results,
        flags,
    };
    call(c, P::ConnectListAllNetworks, &args).await.unwrap()
}

/// NETWORK_GET_XML_DESC of `net`, which must succeed.
async fn xml_desc(c: &Client, net: NonnullNetwork, flags: u32) -> NetworkGetXmlDescRet {
    let args = NetworkGetXmlDescArgs { net, flags };
    call(c, P::NetworkGetXmlDesc, &args).await.unwrap()
}

fn wire(name: &str, byte: u8) -> NonnullNetwork {
    NonnullNetwork {
        name: name.into(),
        uuid: [byte; 16],
    }
}

#[tokio::test]
async fn lists_and_counts_go_to_the_network_driver() {
    let fake = Fake::with(&[("default", true), ("isolated", false)]);
    let c = client(&fake, 0);
    let all = list_all(&c, 1, 0).await;
    let names: Vec<&str> = all.nets.iter().map(|n| n.name.as_str()).collect();
    assert_eq!((names, all.ret), (vec!["default", "isolated"], 2));
    let count = list_all(&c, 0, flags::list::ACTIVE).await;
    assert_eq!((count.nets.len(), count.ret), (0, 1));
    let n: ConnectNumOfNetworksRet = call(&c, P::ConnectNumOfDefinedNetworks, &()).await.unwrap();
    assert_eq!(n.num, 1);
    let n: ConnectNumOfNetworksRet = call(&c, P::ConnectNumOfNetworks, &()).await.unwrap();
    assert_eq!(n.num, 1);
    let l: ConnectListNetworksRet = call(
        &c,
        P::ConnectListDefinedNetworks,
        &ConnectListNetworksArgs { maxnames: 10 },
    )
    .await
    .unwrap();
    assert_eq!(l.names, vec!["isolated".to_string()]);
    let l: ConnectListNetworksRet = call(
        &c,
        P::ConnectListNetworks,
        &ConnectListNetworksArgs { maxnames: 0 },
    )
    .await
    .unwrap();
    assert!(l.names.is_empty());
    let err = call::<_, ConnectListNetworksRet>(
        &c,
        P::ConnectListNetworks,
        &ConnectListNetworksArgs { maxnames: -1 },
    )
    .await
    .unwrap_err();
    assert_eq!(
        (err.code, err.domain, err.message.as_str()),
        (
            ErrorCode::InvalidArg,
            ErrorDomain::Network,
            "invalid argument: maxnames in virConnectListNetworks must not be negative"
        )
    );
    let err = call::<_, ConnectListNetworksRet>(
        &c,
        P::ConnectListNetworks,
        &ConnectListNetworksArgs { maxnames: 16385 },
    )
    .await
    .unwrap_err();
    assert_eq!(err.code, ErrorCode::Rpc);
    assert!(err.message.ends_with("maxnames > REMOTE_NETWORK_LIST_MAX"));
}

#[tokio::test]
async fn per_network_calls_reach_the_driver() {
    let fake = Fake::with(&[("default", true), ("isolated", false)]);
    let c = client(&fake, 0);
    let r: NetworkLookupByNameRet = call(
        &c,
        P::NetworkLookupByName,
        &NetworkLookupByNameArgs {
            name: "isolated".into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(r.net, wire("isolated", 2));
    let r: NetworkLookupByUuidRet = call(
        &c,
        P::NetworkLookupByUuid,
        &NetworkLookupByUuidArgs { uuid: [1; 16] },
    )
    .await
    .unwrap();
    assert_eq!(r.net.name, "default");
    let err = call::<_, NetworkLookupByNameRet>(
        &c,
        P::NetworkLookupByName,
        &NetworkLookupByNameArgs {
            name: "nope".into(),
        },
    )
    .await
    .unwrap_err();
    assert_eq!(err.code, ErrorCode::NoNetwork);
    let net = wire("isolated", 2);
    let () = call(
        &c,
        P::NetworkCreate,
        &NetworkCreateArgs { net: net.clone() },
    )
    .await
    .unwrap();
    let a: NetworkIsActiveRet = call(
        &c,
        P::NetworkIsActive,
        &NetworkIsActiveArgs { net: net.clone() },
    )
    .await
    .unwrap();
    assert_eq!(a.active, 1);
    let () = call(
        &c,
        P::NetworkSetAutostart,
        &NetworkSetAutostartArgs {
            net: net.clone(),
            autostart: 1,
        },
    )
    .await
    .unwrap();
    let a: NetworkGetAutostartRet = call(
        &c,
        P::NetworkGetAutostart,
        &NetworkGetAutostartArgs { net: net.clone() },
    )
    .await
    .unwrap();
    assert_eq!(a.autostart, 1);
    let b: NetworkGetBridgeNameRet = call(
        &c,
        P::NetworkGetBridgeName,
        &NetworkGetBridgeNameArgs { net: net.clone() },
    )
    .await
    .unwrap();
    assert_eq!(b.name, "virbr0");
    let x = xml_desc(&c, net.clone(), 1).await;
    assert_eq!(x.xml, "<network><name>isolated</name><!-- 1 --></network>");
    let () = call(
        &c,
        P::NetworkUpdate,
        &NetworkUpdateArgs {
            net: net.clone(),
            command: 3,
            section: 4,
            parent_index: -1,
            xml: "<host/>".into(),
            flags: 2,
        },
    )
    .await
    .unwrap();
    let u = fake.updates.lock().unwrap().clone();
    assert_eq!(
        (u[0].command, u[0].section, u[0].parent_index, u[0].flags),
        (3, 4, -1, 2)
    );
    let d: NetworkDefineXmlRet = call(
        &c,
        P::NetworkDefineXmlFlags,
        &NetworkDefineXmlFlagsArgs {
            xml: "<network><name>new</name></network>".into(),
            flags: 0,
        },
    )
    .await
    .unwrap();
    assert_eq!(d.net.name, "new");
}

#[tokio::test]
async fn dhcp_leases_filter_count_and_refuse_flags() {
    let fake = Fake::with(&[("default", true)]);
    let c = client(&fake, 0);
    let args = |mac: Option<&str>, need_results, flags| NetworkGetDhcpLeasesArgs {
        net: wire("default", 1),
        mac: mac.map(str::to_owned),
        need_results,
        flags,
    };
    let r: NetworkGetDhcpLeasesRet = call(&c, P::NetworkGetDhcpLeases, &args(None, 1, 0))
        .await
        .unwrap();
    assert_eq!((r.leases.len(), r.ret), (2, 2));
    assert_eq!(r.leases[1].ipaddr, "192.168.122.2");
    assert_eq!(r.leases[0].prefix, 24);
    let r: NetworkGetDhcpLeasesRet = call(
        &c,
        P::NetworkGetDhcpLeases,
        &args(Some("52:54:00:00:00:02"), 0, 0),
    )
    .await
    .unwrap();
    assert_eq!((r.leases.len(), r.ret), (0, 1));
    let err = call::<_, NetworkGetDhcpLeasesRet>(&c, P::NetworkGetDhcpLeases, &args(None, 1, 4))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidArg);
    assert!(err
        .message
        .contains("unsupported flags (0x4) in function networkGetDHCPLeases"));
}

#[tokio::test]
async fn read_only_connections_may_read_but_not_change() {
    let fake = Fake::with(&[("default", true)]);
    let c = client(&fake, crate::client::CONNECT_RO);
    let x = xml_desc(&c, wire("default", 1), 0).await;
    assert!(x.xml.contains("default"));
    let net = wire("default", 1);
    for (p, payload, function) in [
        (
            P::NetworkDestroy,
            encode_to_vec(&NetworkDestroyArgs { net: net.clone() }),
            "virNetworkDestroy",
        ),
        (
            P::NetworkUndefine,
            encode_to_vec(&NetworkUndefineArgs { net: net.clone() }),
            "virNetworkUndefine",
        ),
        (
            P::NetworkSetAutostart,
            encode_to_vec(&NetworkSetAutostartArgs {
                net: net.clone(),
                autostart: 0,
            }),
            "virNetworkSetAutostart",
        ),
        (
            P::NetworkCreateXmlFlags,
            encode_to_vec(&NetworkCreateXmlFlagsArgs {
                xml: "<network/>".into(),
                flags: 0,
            }),
            "virNetworkCreateXMLFlags",
        ),
        (
            P::NetworkDefineXml,
            encode_to_vec(&NetworkDefineXmlArgs {
                xml: "<network/>".into(),
            }),
            "virNetworkDefineXML",
        ),
    ] {
        let err = dispatch(&c, p.number(), &payload).await.unwrap_err();
        assert_eq!(
            (err.code, err.domain, err.message),
            (
                ErrorCode::OperationDenied,
                ErrorDomain::Network,
                format!("operation forbidden: read only access prevents {function}")
            )
        );
    }
    assert!(
        fake.find(&NetworkRef {
            name: "default".into(),
            uuid: Uuid::from([1; 16])
        })
        .unwrap()
        .active
    );
}

#[tokio::test]
async fn connections_without_a_network_driver_get_no_support() {
    let c = Client::new(false);
    c.open(Some("test:///default"), 0).unwrap();
    // test:///default has the test node's networks.
    let all = list_all(&c, 1, 0).await;
    assert_eq!(all.nets[0].name, "default");
    c.replace_network(None);
    let err = call::<_, CallbackIdMsg>(
        &c,
        P::ConnectNetworkEventRegisterAny,
        &ConnectNetworkEventRegisterAnyArgs {
            event_id: 0,
            net: None,
        },
    )
    .await
    .unwrap_err();
    assert!(err.message.ends_with("virConnectNetworkEventRegisterAny"));
    let err = dispatch(
        &c,
        P::ConnectListAllNetworks.number(),
        &encode_to_vec(&ConnectListAllNetworksArgs {
            need_results: 1,
            flags: 0,
        }),
    )
    .await
    .unwrap_err();
    assert_eq!(
        (err.code, err.domain, err.message.as_str()),
        (
            ErrorCode::NoSupport,
            ErrorDomain::Network,
            "this function is not supported by the connection driver: virConnectListAllNetworks"
        )
    );
}

#[tokio::test]
async fn lifecycle_events_reach_the_callbacks_that_match() {
    let fake = Fake::with(&[("default", true), ("isolated", false)]);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let c = Client::with_outbox(false, Some(tx), None);
    let network: Arc<dyn NetworkDriver> = fake.clone();
    c.open_with_network("test:///default", 0, network).unwrap();
    let all: CallbackIdMsg = call(
        &c,
        P::ConnectNetworkEventRegisterAny,
        &ConnectNetworkEventRegisterAnyArgs {
            event_id: 0,
            net: None,
        },
    )
    .await
    .unwrap();
    let only: CallbackIdMsg = call(
        &c,
        P::ConnectNetworkEventRegisterAny,
        &ConnectNetworkEventRegisterAnyArgs {
            event_id: 0,
            net: Some(wire("isolated", 2)),
        },
    )
    .await
    .unwrap();
    assert!(c.relaying_networks());
    let default = NetworkRef {
        name: "default".into(),
        uuid: Uuid::from([1; 16]),
    };
    fake.destroy(&default).await.unwrap();
    let p = rx.recv().await.unwrap();
    assert_eq!(p.header.procedure, 315);
    let m: NetworkEventLifecycleMsg = decode_from(&p.payload).unwrap();
    assert_eq!(
        (m.callback_id, m.net.name.as_str(), m.event, m.detail),
        (all.callback_id, "default", 3, 0)
    );
    let isolated = NetworkRef {
        name: "isolated".into(),
        uuid: Uuid::from([2; 16]),
    };
    fake.create(&isolated).await.unwrap();
    let ids: Vec<i32> = [rx.recv().await.unwrap(), rx.recv().await.unwrap()]
        .iter()
        .map(|p| decode_from::<NetworkEventLifecycleMsg>(&p.payload).unwrap())
        .map(|m| m.callback_id)
        .collect();
    assert_eq!(ids, vec![all.callback_id, only.callback_id]);
    let () = call(&c, P::ConnectNetworkEventDeregisterAny, &all)
        .await
        .unwrap();
    assert!(c.relaying_networks());
    let () = call(&c, P::ConnectNetworkEventDeregisterAny, &only)
        .await
        .unwrap();
    assert!(!c.relaying_networks());
    fake.destroy(&isolated).await.unwrap();
    tokio::task::yield_now().await;
    assert!(rx.try_recv().is_err());
}
