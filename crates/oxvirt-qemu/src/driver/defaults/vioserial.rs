//! Ports on virtio-serial controllers for the virtio consoles and channels that name
//! none (`qemuDomainAssignVirtioSerialAddresses`): channels from port 1 (port 0 is the
//! console's), each on the controller its address names, else on the first controller
//! with a free port, taking the lowest free port. Virtio consoles keep no address.

use std::collections::BTreeSet;

use oxvirt_domain::address::DeviceAddress;
use oxvirt_domain::devices::chardev::{ChannelTargetType, ChardevTargetType, ConsoleTargetType};
use oxvirt_domain::devices::controller::ControllerType;
use oxvirt_domain::devices::Chardev;
use oxvirt_domain::Domain;

/// The ports of a virtio-serial controller when `ports` is not written.
const DEFAULT_PORTS: u32 = 31;

fn is_virtio(c: &Chardev) -> bool {
    matches!(
        c.target_type(),
        Some(ChardevTargetType::Channel(ChannelTargetType::Virtio))
            | Some(ChardevTargetType::Console(ConsoleTargetType::Virtio))
    )
}

/// `(controller, bus, port)` of a complete virtio-serial address.
fn taken(c: &Chardev) -> Option<(u32, u32, u32)> {
    match &c.info.address {
        Some(DeviceAddress::VirtioSerial {
            controller,
            bus,
            port: Some(port),
            ..
        }) => Some((controller.unwrap_or(0), bus.unwrap_or(0), *port)),
        _ => None,
    }
}

/// Assigns the missing ports.
pub fn assign_virtio_serial_ports(def: &mut Domain) {
    let mut controllers: Vec<(u32, u32)> = def
        .devices
        .controllers
        .iter()
        .filter(|c| c.kind == ControllerType::VirtioSerial)
        .filter_map(|c| Some((c.index?, c.ports.unwrap_or(DEFAULT_PORTS))))
        .collect();
    controllers.sort_unstable();
    let devs = &mut def.devices;
    let mut used: BTreeSet<(u32, u32, u32)> = devs
        .consoles
        .iter()
        .chain(devs.channels.iter())
        .filter(|c| is_virtio(c))
        .filter_map(taken)
        .collect();
    // Virtio consoles keep no address in the XML; their ports only count as taken.
    let first_port = 1u32;
    {
        for c in devs.channels.iter_mut().filter(|c| is_virtio(c)) {
            if taken(c).is_some() {
                continue;
            }
            let wanted = match &c.info.address {
                Some(DeviceAddress::VirtioSerial { controller, .. }) => *controller,
                None => None,
                Some(_) => continue,
            };
            let found = controllers
                .iter()
                .filter(|(index, _)| wanted.is_none_or(|w| w == *index))
                .find_map(|(index, ports)| {
                    (first_port..*ports)
                        .find(|p| !used.contains(&(*index, 0, *p)))
                        .map(|p| (*index, p))
                });
            let Some((index, port)) = found else { continue };
            used.insert((index, 0, port));
            let unknown = match c.info.address.take() {
                Some(DeviceAddress::VirtioSerial { unknown, .. }) => unknown,
                _ => Default::default(),
            };
            c.info.address = Some(DeviceAddress::VirtioSerial {
                controller: Some(index),
                bus: Some(0),
                port: Some(port),
                unknown,
            });
        }
    }
}
