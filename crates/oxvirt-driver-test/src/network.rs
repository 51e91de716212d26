//! [`TestNetworks`]: the virtual networks of a test node as libvirt's test driver serves
//! them (`testNetwork*` in test_driver.c): kept in memory with the node, started and
//! stopped without touching the host, and formatted by the network XML model.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use oxvirt_network::api::{
    flags, NetworkEventKind, NetworkEventReceiver, Result, UpdateCommand, UpdateSection,
};
use oxvirt_network::model::Network;
use oxvirt_network::{NetworkDriver, NetworkEvent, NetworkEventBus, NetworkRef, Update};
use oxvirt_xml::types::Uuid;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use crate::buses::{bus_of, NodeBuses};
use crate::resources::NetworkObj;
use crate::TestDriver;

/// The network event bus of each test node.
static BUSES: NodeBuses<NetworkEvent> = Mutex::new(Vec::new());

/// The network calls of a test node.
#[derive(Debug, Clone)]
pub struct TestNetworks {
    driver: TestDriver,
    bus: Arc<NetworkEventBus>,
}

fn err(code: ErrorCode, message: String) -> VirError {
    VirError::new(ErrorDomain::Network, code, message)
}

fn no_name(name: &str) -> VirError {
    err(
        ErrorCode::NoNetwork,
        format!("no network with matching name '{name}'"),
    )
}

fn no_uuid(uuid: &Uuid) -> VirError {
    err(
        ErrorCode::NoNetwork,
        format!("no network with matching uuid '{uuid}'"),
    )
}

impl TestDriver {
    /// The network calls of this node.
    pub fn network_driver(&self) -> TestNetworks {
        TestNetworks {
            driver: self.clone(),
            bus: bus_of(&BUSES, &self.shared),
        }
    }
}

/// The definition of a stored network (the node keeps the XML as written).
fn definition(obj: &NetworkObj) -> Result<Network> {
    Network::parse(&obj.xml)
}

fn obj_ref(obj: &NetworkObj) -> NetworkRef {
    NetworkRef {
        name: obj.name.clone(),
        uuid: obj.uuid.unwrap_or_default(),
    }
}

impl TestNetworks {
    /// Runs `f` on the network `net` names (found by UUID, as libvirt does).
    fn with<T>(&self, net: &NetworkRef, f: impl FnOnce(&mut NetworkObj) -> Result<T>) -> Result<T> {
        self.fill_uuids();
        let mut node = self.driver.lock();
        let obj = node
            .networks
            .iter_mut()
            .find(|n| n.uuid == Some(net.uuid))
            .ok_or_else(|| no_uuid(&net.uuid))?;
        f(obj)
    }

    /// Networks of a node file without a `<uuid>` get one, once (libvirt generates it when
    /// it parses the definition).
    fn fill_uuids(&self) {
        let mut node = self.driver.lock();
        for n in node.networks.iter_mut().filter(|n| n.uuid.is_none()) {
            if let Ok(def) = Network::parse(&n.xml) {
                n.uuid = Some(def.uuid);
                n.xml = def.to_xml_inactive();
            }
        }
    }

    fn emit(&self, net: &NetworkRef, kind: NetworkEventKind) {
        self.bus.emit(NetworkEvent::new(net, kind));
    }

    /// `virNetworkObjAssignDef`'s checks and bookkeeping: a definition whose UUID or name
    /// is taken by another network is refused; `live` starts it (refused if it runs).
    fn assign(&self, def: Network, live: bool) -> Result<NetworkRef> {
        self.fill_uuids();
        let mut node = self.driver.lock();
        let xml = def.to_xml_inactive();
        let r = NetworkRef {
            name: def.name.clone(),
            uuid: def.uuid,
        };
        if let Some(obj) = node.networks.iter_mut().find(|n| n.uuid == Some(def.uuid)) {
            if obj.name != def.name {
                return Err(err(
                    ErrorCode::OperationFailed,
                    format!(
                        "network '{}' is already defined with uuid {}",
                        obj.name, def.uuid
                    ),
                ));
            }
            if live {
                if obj.active {
                    return Err(err(
                        ErrorCode::OperationInvalid,
                        format!("network is already active as '{}'", obj.name),
                    ));
                }
                if obj.persistent && obj.next_xml.is_none() {
                    obj.next_xml = Some(std::mem::take(&mut obj.xml));
                }
                obj.active = true;
                obj.xml = xml;
            } else {
                // A running network keeps its live definition; the new one waits.
                if obj.active {
                    obj.next_xml = Some(xml);
                } else {
                    obj.xml = xml;
                }
                obj.persistent = true;
            }
            return Ok(r);
        }
        if let Some(obj) = node.networks.iter().find(|n| n.name == def.name) {
            return Err(err(
                ErrorCode::OperationFailed,
                format!(
                    "network '{}' already exists with uuid {}",
                    def.name,
                    obj.uuid.unwrap_or_default()
                ),
            ));
        }
        node.networks.push(NetworkObj {
            name: def.name.clone(),
            uuid: Some(def.uuid),
            active: live,
            persistent: !live,
            autostart: false,
            xml,
            next_xml: None,
        });
        Ok(r)
    }
}

#[async_trait]
impl NetworkDriver for TestNetworks {
    fn subscribe(&self) -> NetworkEventReceiver {
        self.bus.subscribe()
    }

    async fn list_all(&self, f: u32) -> Result<Vec<NetworkRef>> {
        VirError::check_flags(
            ErrorDomain::Network,
            f,
            flags::list::ALL,
            "testConnectListAllNetworks",
        )?;
        self.fill_uuids();
        let node = self.driver.lock();
        let pass = |on: bool, yes: u32, no: u32| {
            let want = f & (yes | no);
            want == 0 || want == yes | no || (on && want == yes) || (!on && want == no)
        };
        let mut nets: Vec<NetworkRef> = node
            .networks
            .iter()
            .filter(|n| pass(n.active, flags::list::ACTIVE, flags::list::INACTIVE))
            .filter(|n| {
                pass(
                    n.persistent,
                    flags::list::PERSISTENT,
                    flags::list::TRANSIENT,
                )
            })
            .filter(|n| {
                pass(
                    n.autostart,
                    flags::list::AUTOSTART,
                    flags::list::NO_AUTOSTART,
                )
            })
            .map(obj_ref)
            .collect();
        nets.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(nets)
    }

    async fn lookup_by_name(&self, name: &str) -> Result<NetworkRef> {
        self.fill_uuids();
        let node = self.driver.lock();
        node.networks
            .iter()
            .find(|n| n.name == name)
            .map(obj_ref)
            .ok_or_else(|| no_name(name))
    }

    async fn lookup_by_uuid(&self, uuid: &Uuid) -> Result<NetworkRef> {
        self.fill_uuids();
        let node = self.driver.lock();
        node.networks
            .iter()
            .find(|n| n.uuid == Some(*uuid))
            .map(obj_ref)
            .ok_or_else(|| no_uuid(uuid))
    }

    async fn define_xml(&self, xml: &str, f: u32) -> Result<NetworkRef> {
        VirError::check_flags(
            ErrorDomain::Network,
            f,
            flags::define::VALIDATE,
            "testNetworkDefineXMLFlags",
        )?;
        let def = Network::parse(xml)?;
        let r = self.assign(def, false)?;
        self.emit(&r, NetworkEventKind::Defined);
        Ok(r)
    }

    async fn undefine(&self, net: &NetworkRef) -> Result<()> {
        let r = self.with(net, |obj| {
            if obj.active {
                return Err(err(
                    ErrorCode::OperationInvalid,
                    format!("Network '{}' is still running", obj.name),
                ));
            }
            Ok(obj_ref(obj))
        })?;
        self.driver
            .lock()
            .networks
            .retain(|n| n.uuid != Some(r.uuid));
        self.emit(&r, NetworkEventKind::Undefined);
        Ok(())
    }

    async fn create_xml(&self, xml: &str, f: u32) -> Result<NetworkRef> {
        VirError::check_flags(
            ErrorDomain::Network,
            f,
            flags::define::VALIDATE,
            "testNetworkCreateXMLFlags",
        )?;
        let def = Network::parse(xml)?;
        let r = self.assign(def, true)?;
        self.emit(&r, NetworkEventKind::Started);
        Ok(r)
    }

    async fn create(&self, net: &NetworkRef) -> Result<()> {
        let r = self.with(net, |obj| {
            if obj.active {
                return Err(err(
                    ErrorCode::OperationInvalid,
                    format!("Network '{}' is already running", obj.name),
                ));
            }
            obj.active = true;
            Ok(obj_ref(obj))
        })?;
        self.emit(&r, NetworkEventKind::Started);
        Ok(())
    }

    async fn destroy(&self, net: &NetworkRef) -> Result<()> {
        let (r, transient) = self.with(net, |obj| {
            obj.active = false;
            Ok((obj_ref(obj), !obj.persistent))
        })?;
        if transient {
            self.driver
                .lock()
                .networks
                .retain(|n| n.uuid != Some(r.uuid));
        }
        self.emit(&r, NetworkEventKind::Stopped);
        Ok(())
    }

    async fn xml_desc(&self, net: &NetworkRef, f: u32) -> Result<String> {
        VirError::check_flags(ErrorDomain::Network, f, 0, "testNetworkGetXMLDesc")?;
        let def = self.with(net, |obj| definition(obj))?;
        Ok(def.to_xml())
    }

    async fn bridge_name(&self, net: &NetworkRef) -> Result<String> {
        let def = self.with(net, |obj| definition(obj))?;
        def.bridge.and_then(|b| b.name).ok_or_else(|| {
            err(
                ErrorCode::InternalError,
                format!("network '{}' does not have a bridge name.", def.name),
            )
        })
    }

    async fn autostart(&self, net: &NetworkRef) -> Result<bool> {
        self.with(net, |obj| Ok(obj.autostart))
    }

    async fn set_autostart(&self, net: &NetworkRef, autostart: bool) -> Result<()> {
        self.with(net, |obj| {
            obj.autostart = autostart;
            Ok(())
        })
    }

    async fn is_active(&self, net: &NetworkRef) -> Result<bool> {
        self.with(net, |obj| Ok(obj.active))
    }

    async fn is_persistent(&self, net: &NetworkRef) -> Result<bool> {
        self.with(net, |obj| Ok(obj.persistent))
    }

    async fn update(&self, net: &NetworkRef, u: &Update) -> Result<()> {
        use flags::update::{CONFIG, LIVE};
        VirError::check_flags(
            ErrorDomain::Network,
            u.flags,
            LIVE | CONFIG,
            "testNetworkUpdate",
        )?;
        let command = UpdateCommand::from_number(u.command).ok_or_else(|| {
            err(
                ErrorCode::InvalidArg,
                format!("unrecognized network update command {}", u.command),
            )
        })?;
        let section = UpdateSection::from_number(u.section).ok_or_else(|| {
            err(
                ErrorCode::InvalidArg,
                format!("unrecognized network update section {}", u.section),
            )
        })?;
        self.with(net, |obj| {
            // libvirt's testNetworkUpdate: "current" is the live state of a running
            // network, else its definition; then virNetworkObjConfigChangeSetup's checks.
            let mut f = u.flags;
            if f & (LIVE | CONFIG) == 0 {
                f |= if obj.active { LIVE } else { CONFIG };
            }
            if f & LIVE != 0 && !obj.active {
                return Err(err(
                    ErrorCode::OperationInvalid,
                    "network is not running".into(),
                ));
            }
            if f & CONFIG != 0 && !obj.persistent {
                return Err(err(
                    ErrorCode::OperationInvalid,
                    "cannot change persistent config of a transient network".into(),
                ));
            }
            let apply = |xml: &str| -> Result<String> {
                let mut def = Network::parse(xml)?;
                oxvirt_network::model::update(&mut def, command, section, u.parent_index, &u.xml)?;
                Ok(def.to_xml_inactive())
            };
            // Both copies are changed before either is kept, so a failure changes nothing.
            let live = if f & LIVE != 0 {
                Some(apply(&obj.xml)?)
            } else {
                None
            };
            let config = if f & CONFIG != 0 {
                let base = match (&obj.next_xml, obj.active) {
                    (Some(next), _) => next.clone(),
                    (None, _) => obj.xml.clone(),
                };
                Some(apply(&base)?)
            } else {
                None
            };
            if let Some(config) = config {
                if obj.active {
                    obj.next_xml = Some(config);
                } else {
                    obj.xml = config;
                }
            }
            if let Some(live) = live {
                obj.xml = live;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
#[path = "network_tests.rs"]
mod tests;
