//! `<interface type='network'>`: a port on one of the node's virtual networks, as
//! libvirt's QEMU driver takes one (`virDomainNetAllocateActualDevice`, which creates a
//! network port) before QEMU starts, then connects the interface like a `type='bridge'`
//! one to the bridge the port names.
//!
//! The live definition shows the port as libvirt's does:
//! `<source network='default' portid='UUID' bridge='virbr0'/>` (the inactive one keeps
//! `<source network='default'/>`). The port id in the live definition (and so in the status
//! file) is what a stop unplugs, also after a daemon restart.

use std::sync::Arc;

use oxvirt_domain::devices::interface::InterfaceType;
use oxvirt_domain::driver::ports::{NetworkPorts, PortRequest};
use oxvirt_domain::Domain;
use oxvirt_xml::types::Uuid;
use oxvirt_xml::VirError;

use super::QemuDriver;

/// A plugged port: its network and id.
pub(crate) type Port = (String, Uuid);

/// The ports the `type='network'` interfaces of a live definition hold.
pub(crate) fn live_ports(def: &Domain) -> Vec<Port> {
    def.devices.interfaces.iter().filter_map(port_of).collect()
}

/// The port interface `net` holds, if it is a plugged `type='network'` one.
pub(crate) fn port_of(net: &oxvirt_domain::devices::Interface) -> Option<Port> {
    if net.kind != InterfaceType::Network {
        return None;
    }
    let s = net.source.as_ref()?;
    Some((s.network.clone()?, Uuid::parse(s.portid.as_deref()?).ok()?))
}

/// Drops the port id and bridge a `type='network'` interface's `<source>` carries (the
/// bridge, which the domain parser does not read for this type, among its unknown
/// attributes): they belong to a port taken earlier.
pub(crate) fn forget_port(net: &mut oxvirt_domain::devices::Interface) {
    if let Some(s) = net.source.as_mut() {
        s.portid = None;
        s.bridge = None;
        s.unknown.attributes.retain(|a| a.name != "bridge");
    }
}

/// `def` with each plugged `type='network'` interface seen as the `type='bridge'` one it is
/// connected as (for the command line and the taps).
pub(crate) fn as_bridged(def: &Domain) -> Domain {
    let mut out = def.clone();
    for net in &mut out.devices.interfaces {
        let bridged = net.kind == InterfaceType::Network
            && net.source.as_ref().is_some_and(|s| s.bridge.is_some());
        if bridged {
            net.kind = InterfaceType::Bridge;
        }
    }
    out
}

impl QemuDriver {
    /// The provider of network ports this driver was opened with.
    pub(crate) fn network_ports(&self) -> Option<&Arc<dyn NetworkPorts>> {
        self.inner.ports.as_ref()
    }

    /// Plugs interface `i` of `def` (of type `network`) into its network: the port id and
    /// bridge go into its `<source>`. The port's MTU is not used: the network's bridge has
    /// it, and the tap takes the bridge's (libvirt's QEMU driver creates the tap with no
    /// MTU of its own, so the live XML shows none).
    pub(crate) async fn plug_interface(&self, def: &mut Domain, i: usize) -> Result<(), VirError> {
        let Some(ports) = self.network_ports().cloned() else {
            return super::net::check_networks(def);
        };
        let request = {
            let net = &def.devices.interfaces[i];
            let source = net.source.clone().unwrap_or_default();
            PortRequest {
                network: source.network.unwrap_or_default(),
                portgroup: source.portgroup,
                domain: def.name.clone(),
                domain_uuid: def.uuid.unwrap_or_default(),
                mac: net.mac_address().map(|m| m.to_string()).unwrap_or_default(),
            }
        };
        let binding = ports.plug(&request).await?;
        let net = &mut def.devices.interfaces[i];
        let source = net.source.get_or_insert_with(Default::default);
        source.portid = Some(binding.port_id.to_string());
        source.bridge = Some(binding.bridge);
        Ok(())
    }

    /// Plugs every `type='network'` interface of `def` (a domain about to start); on a
    /// failure the ports already taken are given back. A port id or bridge the definition
    /// carries (one taken from a saved image or a snapshot of a running domain) is stale
    /// and replaced.
    pub(crate) async fn plug_ports(&self, mut def: Domain) -> Result<Domain, VirError> {
        for i in 0..def.devices.interfaces.len() {
            if def.devices.interfaces[i].kind != InterfaceType::Network {
                continue;
            }
            forget_port(&mut def.devices.interfaces[i]);
            if let Err(e) = self.plug_interface(&mut def, i).await {
                self.unplug_ports(live_ports(&def)).await;
                return Err(e);
            }
        }
        Ok(def)
    }

    /// Gives `ports` back to their networks (a stopped domain, a failed start, a removed
    /// interface). Errors are reported on stderr: the domain is stopped anyway.
    pub(crate) async fn unplug_ports(&self, ports: Vec<Port>) {
        let Some(provider) = self.network_ports().cloned() else {
            return;
        };
        for (network, id) in ports {
            if let Err(e) = provider.unplug(&network, &id).await {
                eprintln!(
                    "oxvirtd: cannot remove port {id} of network '{network}': {}",
                    e.message
                );
            }
        }
    }

    /// Connects interface `net`, about to be hot-plugged into the running domain whose
    /// live definition is `live`, as QEMU backend `netdev`: a port on its network
    /// (`type='network'`), then its tap. Returns the interface with its port and the tap's
    /// name; on failure the port is given back.
    pub(crate) async fn hotplug_net_tap(
        &self,
        vm: &super::vm::Vm,
        live: &Domain,
        net: oxvirt_domain::devices::Interface,
        netdev: &str,
    ) -> Result<(oxvirt_domain::devices::Interface, String), VirError> {
        let uuid = live.uuid.unwrap_or_default();
        let mut def = live.clone();
        def.devices.interfaces.push(net);
        let i = def.devices.interfaces.len() - 1;
        if def.devices.interfaces[i].kind == InterfaceType::Network {
            forget_port(&mut def.devices.interfaces[i]);
            self.plug_interface(&mut def, i).await?;
        }
        let port = port_of(&def.devices.interfaces[i]);
        match self.hotplug_tap(&uuid, vm, &def, i, netdev).await {
            Ok(name) => Ok((def.devices.interfaces.swap_remove(i), name)),
            Err(e) => {
                self.unplug_ports(port.into_iter().collect()).await;
                Err(e)
            }
        }
    }

    /// The ports the live definition of `uuid` holds.
    pub(crate) fn ports_of(&self, uuid: &Uuid) -> Vec<Port> {
        self.domains()
            .find_by_uuid(uuid)
            .map(|obj| live_ports(obj.def()))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domain(devices: &str) -> Domain {
        let xml = format!(
            "<domain type='qemu'><name>n</name>\
             <uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid><memory>65536</memory>\
             <os><type arch='x86_64' machine='pc'>hvm</type></os>\
             <devices>{devices}</devices></domain>"
        );
        Domain::parse(&xml).expect("domain").domain
    }

    const NET: &str = "<interface type='network'><mac address='52:54:00:11:22:33'/>\
                       <source network='default' portid='a5c0e56a-6b1c-4b6a-9a3e-2b8f1f9c0c01' \
                       bridge='virbr0'/></interface>\
                       <interface type='network'><mac address='52:54:00:11:22:34'/>\
                       <source network='other'/></interface>\
                       <interface type='user'><mac address='52:54:00:11:22:35'/></interface>";

    #[test]
    fn live_ports_are_the_plugged_network_interfaces() {
        let d = domain(NET);
        let ports = live_ports(&d);
        assert_eq!(ports.len(), 1);
        assert_eq!(ports[0].0, "default");
        assert_eq!(
            ports[0].1.to_string(),
            "a5c0e56a-6b1c-4b6a-9a3e-2b8f1f9c0c01"
        );
    }

    #[test]
    fn the_live_source_keeps_its_port_and_bridge() {
        // As a restarted daemon reads the status file back.
        let xml = domain(NET).to_xml();
        assert!(
            xml.contains(
                "<source network='default' \
                 portid='a5c0e56a-6b1c-4b6a-9a3e-2b8f1f9c0c01' bridge='virbr0'/>"
            ),
            "{xml}"
        );
    }

    #[test]
    fn a_stale_port_is_forgotten_before_a_new_one() {
        let mut d = domain(NET);
        forget_port(&mut d.devices.interfaces[0]);
        let s = d.devices.interfaces[0].source.as_mut().unwrap();
        assert_eq!(s.portid, None);
        s.portid = Some("0d7a3c5e-1f2b-4c6d-8e9f-a0b1c2d3e4f5".into());
        s.bridge = Some("virbr1".into());
        let xml = d.to_xml();
        assert!(
            xml.contains(
                "<source network='default' \
                 portid='0d7a3c5e-1f2b-4c6d-8e9f-a0b1c2d3e4f5' bridge='virbr1'/>"
            ),
            "{xml}"
        );
        assert_eq!(xml.matches("bridge=").count(), 1, "{xml}");
    }

    #[test]
    fn plugged_network_interfaces_are_bridged() {
        let mut d = domain(NET);
        if let Some(s) = d.devices.interfaces[0].source.as_mut() {
            s.bridge = Some("virbr0".into());
        }
        let d = as_bridged(&d);
        let kinds: Vec<_> = d.devices.interfaces.iter().map(|n| n.kind).collect();
        assert_eq!(
            kinds,
            [
                InterfaceType::Bridge,
                InterfaceType::Network,
                InterfaceType::User
            ]
        );
    }
}
