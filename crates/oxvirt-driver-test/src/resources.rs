//! The node's other objects, kept as libvirt's test driver loads them: virtual networks,
//! host interfaces, storage pools with their volumes, and node devices. Each keeps its XML
//! as written; only what finds and lists them is read out of it.

use oxvirt_xml::types::Uuid;
use oxvirt_xml::Element;

/// A virtual network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkObj {
    /// The network's name.
    pub name: String,
    /// Its UUID, if the XML gives one.
    pub uuid: Option<Uuid>,
    /// Whether it runs (networks of a node file do).
    pub active: bool,
    /// Whether it has a persistent definition.
    pub persistent: bool,
    /// Whether it starts with the host.
    pub autostart: bool,
    /// Its XML, as written in the node file.
    pub xml: String,
    /// The persistent definition saved while it runs (libvirt's `newDef`): a definition or
    /// a config update made to a running network, not in its live XML.
    pub next_xml: Option<String>,
}

/// A host network interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceObj {
    /// The interface's name.
    pub name: String,
    /// Its MAC address, if the XML gives one.
    pub mac: Option<String>,
    /// Whether it is up (interfaces of a node file are).
    pub active: bool,
    /// Its XML, as written.
    pub xml: String,
}

/// A storage volume of a pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeObj {
    /// The volume's name.
    pub name: String,
    /// Its path: the XML's target path, else the pool's target path and the name.
    pub path: String,
    /// Its key: the XML's key, else the path.
    pub key: String,
    /// Its XML, as written.
    pub xml: String,
}

/// A storage pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolObj {
    /// The pool's name.
    pub name: String,
    /// Its UUID, if the XML gives one.
    pub uuid: Option<Uuid>,
    /// Whether it runs (pools of a node file do).
    pub active: bool,
    /// Whether it has a persistent definition.
    pub persistent: bool,
    /// Whether it starts with the host.
    pub autostart: bool,
    /// Its XML, as written.
    pub xml: String,
    /// Its volumes.
    pub volumes: Vec<VolumeObj>,
    /// Bytes its volumes take, as libvirt's test driver counts them (`def->allocation`:
    /// the volumes' allocations, reset to 0 when the pool is defined again).
    pub allocation: u64,
}

/// A node device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeDeviceObj {
    /// The device's name.
    pub name: String,
    /// Its parent device's name.
    pub parent: Option<String>,
    /// Its XML, as written.
    pub xml: String,
}

fn child_text(el: &Element, name: &str) -> Option<String> {
    el.child(name).map(|c| c.text().trim().to_string())
}

fn uuid_of(el: &Element) -> Option<Uuid> {
    child_text(el, "uuid").and_then(|u| Uuid::try_parse(&u))
}

impl NetworkObj {
    /// A running, persistent network from its element.
    pub fn from_element(el: &Element, xml: String) -> Self {
        NetworkObj {
            name: child_text(el, "name").unwrap_or_default(),
            uuid: uuid_of(el),
            active: true,
            persistent: true,
            autostart: false,
            xml,
            next_xml: None,
        }
    }
}

impl InterfaceObj {
    /// An active interface from its element.
    pub fn from_element(el: &Element, xml: String) -> Self {
        InterfaceObj {
            name: el.attr("name").unwrap_or_default().to_string(),
            mac: el
                .child("mac")
                .and_then(|m| m.attr("address"))
                .map(str::to_string),
            active: true,
            xml,
        }
    }
}

impl VolumeObj {
    /// A volume of the pool whose target path is `pool_path`, from its element.
    pub fn from_element(el: &Element, xml: String, pool_path: &str) -> Self {
        let name = child_text(el, "name").unwrap_or_default();
        let path = el
            .child("target")
            .and_then(|t| child_text(t, "path"))
            .unwrap_or_else(|| format!("{pool_path}/{name}"));
        let key = child_text(el, "key").unwrap_or_else(|| path.clone());
        VolumeObj {
            name,
            path,
            key,
            xml,
        }
    }
}

impl PoolObj {
    /// A running, persistent pool from its element, without volumes.
    pub fn from_element(el: &Element, xml: String) -> Self {
        PoolObj {
            name: child_text(el, "name").unwrap_or_default(),
            uuid: uuid_of(el),
            active: true,
            persistent: true,
            autostart: false,
            xml,
            volumes: Vec::new(),
            allocation: 0,
        }
    }

    /// The pool's target path (`<target><path>`), empty if none.
    pub fn target_path(el: &Element) -> String {
        el.child("target")
            .and_then(|t| child_text(t, "path"))
            .unwrap_or_default()
    }
}

impl NodeDeviceObj {
    /// A node device from its element.
    pub fn from_element(el: &Element, xml: String) -> Self {
        NodeDeviceObj {
            name: child_text(el, "name").unwrap_or_default(),
            parent: child_text(el, "parent"),
            xml,
        }
    }
}

impl crate::TestDriver {
    /// Every virtual network, in the node's order.
    pub fn networks(&self) -> Vec<NetworkObj> {
        self.lock().networks.clone()
    }

    /// The network named `name`.
    pub fn network(&self, name: &str) -> Option<NetworkObj> {
        self.lock()
            .networks
            .iter()
            .find(|n| n.name == name)
            .cloned()
    }

    /// Every host interface, in the node's order.
    pub fn interfaces(&self) -> Vec<InterfaceObj> {
        self.lock().interfaces.clone()
    }

    /// The host interface named `name`.
    pub fn interface(&self, name: &str) -> Option<InterfaceObj> {
        self.lock()
            .interfaces
            .iter()
            .find(|i| i.name == name)
            .cloned()
    }

    /// Every storage pool with its volumes, in the node's order.
    pub fn pools(&self) -> Vec<PoolObj> {
        self.lock().pools.clone()
    }

    /// The storage pool named `name`.
    pub fn pool(&self, name: &str) -> Option<PoolObj> {
        self.lock().pools.iter().find(|p| p.name == name).cloned()
    }

    /// Every node device, in the node's order.
    pub fn node_devices(&self) -> Vec<NodeDeviceObj> {
        self.lock().nodedevs.clone()
    }

    /// The node device named `name`.
    pub fn node_device(&self, name: &str) -> Option<NodeDeviceObj> {
        self.lock()
            .nodedevs
            .iter()
            .find(|d| d.name == name)
            .cloned()
    }
}
