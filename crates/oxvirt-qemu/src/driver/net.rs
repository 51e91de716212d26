//! Tap-based interfaces (`bridge`, `ethernet`), as libvirt's `qemuInterfaceBridgeConnect`
//! and `qemuInterfaceEthernetConnect` set them up: the daemon creates the tap
//! (`/dev/net/tun`, `TUNSETIFF`, named `vnetN` unless `<target dev>` says otherwise) with
//! the guest's MAC address, first byte `fe`, on the host side, enslaves it to the bridge
//! with the bridge's MTU and brings it up over netlink.
//!
//! QEMU cannot get the descriptor at exec (that needs `pre_exec`, which is unsafe), so it
//! starts (paused, `-S`) without the tap NICs ([`command::net::strip_taps`]) and gets them
//! over the monitor before its CPUs first run: `getfd`, `netdev_add` of a `tap` backend on
//! that descriptor, and `device_add` with the properties and PCI slot the command line
//! would have had ([`command::net::tap_nics`]), so the guest finds the NIC at boot.
//!
//! The daemon keeps its own descriptor of each tap it created until the domain stops: the
//! tap (not persistent) goes away when that and QEMU's copy close, so a stopped domain
//! leaves no `vnetN` behind. A tap given with `managed='no'` must exist already; it is only
//! opened, and stays when the domain stops.

use std::collections::HashMap;
use std::os::fd::AsFd;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use futures_util::TryStreamExt;
use oxvirt_domain::devices::info::Alias;
use oxvirt_domain::devices::interface::{InterfaceTarget, InterfaceType};
use oxvirt_domain::driver::DomainRef;
use oxvirt_domain::Domain;
use oxvirt_xml::types::Uuid;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};
use rtnetlink::{Handle, LinkUnspec};
use serde_json::{json, Map, Value};
use tun_rs::{DeviceBuilder, Layer, SyncDevice};

use super::vm::{Stopping, Vm};
use super::{internal, QemuDriver};
use crate::command;

/// The taps the daemon holds open, per running domain (runtime directory and UUID, so two
/// drivers in one process do not mix).
/// Each tap is kept with the id of its QEMU backend (`hostnetN`).
type Held = Mutex<HashMap<(std::path::PathBuf, String), Vec<(String, SyncDevice)>>>;

fn held() -> &'static Held {
    static HELD: OnceLock<Held> = OnceLock::new();
    HELD.get_or_init(Default::default)
}

/// A NIC as QEMU has it (for checks): its id, PCI slot and MAC address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QemuNic {
    /// The device id (`net0`).
    pub id: String,
    /// The slot on PCI bus 0.
    pub slot: u64,
    /// The MAC address QEMU reports (`qom-get mac`).
    pub mac: String,
}

/// A system error as libvirt reports one from its netdev helpers (`VIR_FROM_NONE`).
fn system(message: String) -> VirError {
    VirError::new(ErrorDomain::None, ErrorCode::SystemError, message)
}

/// The text of an rtnetlink error, as `strerror` would say it.
fn nl_text(e: &rtnetlink::Error) -> String {
    match e {
        rtnetlink::Error::NetlinkError(m) => oxvirt_domain::fsio::strerror(&m.to_io()),
        other => other.to_string(),
    }
}

/// Refuses `type='network'` interfaces that have no port (the driver has no virtual
/// networks): no network can be found (libvirt's error).
pub(crate) fn check_networks(def: &Domain) -> Result<(), VirError> {
    for net in &def.devices.interfaces {
        let plugged = net.source.as_ref().is_some_and(|s| s.bridge.is_some());
        if net.kind == InterfaceType::Network && !plugged {
            let name = net
                .source
                .as_ref()
                .and_then(|s| s.network.as_deref())
                .unwrap_or_default();
            return Err(VirError::new(
                ErrorDomain::Network,
                ErrorCode::NoNetwork,
                format!("no network with matching name '{name}'"),
            ));
        }
    }
    Ok(())
}

/// QEMU's argv for the driver: the command line without its tap interfaces.
pub(crate) fn argv_without_taps(argv: Vec<String>) -> Vec<String> {
    command::net::strip_taps(argv)
}

/// A netlink connection (its task runs until the handle is dropped).
fn netlink() -> Result<Handle, VirError> {
    let (conn, handle, _) = rtnetlink::new_connection()
        .map_err(|e| system(format!("cannot open netlink socket: {e}")))?;
    tokio::spawn(conn);
    Ok(handle)
}

/// The index and MTU of link `name`.
async fn link(handle: &Handle, name: &str) -> Result<Option<(u32, Option<u32>)>, rtnetlink::Error> {
    let mut links = handle.link().get().match_name(name.to_string()).execute();
    match links.try_next().await {
        Ok(Some(msg)) => {
            let mtu = msg.attributes.iter().find_map(|a| match a {
                rtnetlink::packet_route::link::LinkAttribute::Mtu(m) => Some(*m),
                _ => None,
            });
            Ok(Some((msg.header.index, mtu)))
        }
        Ok(None) => Ok(None),
        Err(rtnetlink::Error::NetlinkError(m)) if m.raw_code() == -libc_enodev() => Ok(None),
        Err(e) => Err(e),
    }
}

/// `ENODEV`, which netlink answers for a link name that does not exist.
const fn libc_enodev() -> i32 {
    19
}

/// The host side of a guest MAC: first byte `fe`, as libvirt sets it so the bridge never
/// takes the guest's address as its own.
fn host_mac(guest: &str) -> Option<[u8; 6]> {
    let mut out = [0u8; 6];
    let mut parts = guest.split(':');
    for b in out.iter_mut() {
        *b = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    out[0] = 0xfe;
    Some(out)
}

/// Creates (or, unmanaged, opens) the tap of interface `i` and wires it on the host.
/// Returns the device and its name.
async fn open_tap(
    handle: &Handle,
    def: &Domain,
    i: usize,
) -> Result<(SyncDevice, String), VirError> {
    let net = &def.devices.interfaces[i];
    let managed = net.target.as_ref().and_then(|t| t.managed) != Some(false);
    let given = net.target.as_ref().and_then(|t| t.dev.clone());
    // As libvirt, a name in the reserved `vnet` pattern is not taken as given.
    let given = given.filter(|n| !(managed && n.starts_with("vnet")));
    let bridge = match net.kind {
        InterfaceType::Bridge => Some(
            net.source
                .as_ref()
                .and_then(|s| s.bridge.clone())
                .ok_or_else(|| internal("missing bridge name for interface"))?,
        ),
        _ => None,
    };
    if !managed && given.is_none() {
        return Err(VirError::new(
            ErrorDomain::Domain,
            ErrorCode::XmlError,
            "target dev must be supplied when managed='no'",
        ));
    }
    let bridge_link = match &bridge {
        Some(br) => match link(handle, br).await {
            Ok(Some(l)) => Some(l),
            Ok(None) => {
                return Err(system(format!(
                    "Cannot get interface MTU on '{br}': No such device"
                )))
            }
            Err(e) => {
                return Err(system(format!(
                    "Cannot get interface MTU on '{br}': {}",
                    nl_text(&e)
                )))
            }
        },
        None => None,
    };
    if !managed {
        let name = given.clone().unwrap_or_default();
        if !std::path::Path::new("/sys/class/net").join(&name).exists() {
            return Err(system(format!(
                "Unable to create tap device {name}: No such device"
            )));
        }
    }
    let pattern = given.clone().unwrap_or_else(|| "vnet%d".to_string());
    let mut builder = DeviceBuilder::default()
        .name(pattern.clone())
        .layer(Layer::L2);
    let mac = net.mac.as_ref().and_then(|m| m.address.as_ref());
    if managed {
        if let Some(bytes) = mac.and_then(|m| host_mac(&m.to_string())) {
            builder = builder.mac_addr(bytes);
        }
    }
    let dev = tokio::task::spawn_blocking(move || builder.build_sync())
        .await
        .map_err(|e| internal(format!("tap creation task failed: {e}")))?
        .map_err(|e| {
            system(format!(
                "Unable to create tap device {pattern}: {}",
                oxvirt_domain::fsio::strerror(&e)
            ))
        })?;
    let name = dev
        .name()
        .map_err(|e| system(format!("cannot get tap name: {e}")))?;
    let Some((index, _)) = link(handle, &name).await.map_err(|e| {
        system(format!(
            "Unable to get index for interface {name}: {}",
            nl_text(&e)
        ))
    })?
    else {
        return Err(system(format!(
            "Unable to get index for interface {name}: No such device"
        )));
    };
    let mut msg = LinkUnspec::new_with_index(index).up();
    if let Some((br_index, mtu)) = bridge_link {
        msg = msg.controller(br_index);
        // The interface's own `<mtu>` first, else the bridge's.
        if let Some(mtu) = net.mtu.or(mtu) {
            msg = msg.mtu(mtu);
        }
    }
    handle
        .link()
        .set(msg.build())
        .execute()
        .await
        .map_err(|e| match &bridge {
            Some(br) => system(format!(
                "Unable to add bridge {br} port {name}: {}",
                nl_text(&e)
            )),
            None => system(format!(
                "Cannot set interface flags on '{name}': {}",
                nl_text(&e)
            )),
        })?;
    Ok((dev, name))
}

/// The `device_add` arguments of a tap NIC.
fn device_args(nic: &command::net::TapNic) -> Value {
    let mut map = Map::new();
    for (k, v) in &nic.props {
        map.insert(k.clone(), Value::String(v.clone()));
    }
    Value::Object(map)
}

impl QemuDriver {
    fn held_key(&self, uuid: &Uuid) -> (std::path::PathBuf, String) {
        (self.inner.config.runtime_dir.clone(), uuid.to_string())
    }

    /// Gives the freshly started (still paused) QEMU of `uuid` its tap NICs and writes
    /// their names and aliases in the live definition. On failure QEMU is stopped as a
    /// failed start is, and the error returned.
    pub(crate) async fn attach_taps(&self, uuid: &Uuid, vm: &Arc<Vm>) -> Result<(), VirError> {
        let result = self.attach_taps_inner(uuid, vm).await;
        if let Err(e) = result {
            vm.set_stopping(Stopping::Destroyed);
            let _ = vm.process().destroy(false).await;
            self.finish_stop(uuid, vm, None).await;
            return Err(e);
        }
        Ok(())
    }

    async fn attach_taps_inner(&self, uuid: &Uuid, vm: &Arc<Vm>) -> Result<(), VirError> {
        let def = self
            .domains()
            .find_by_uuid(uuid)
            .map(|obj| obj.def().clone())
            .ok_or_else(|| internal("domain vanished while starting"))?;
        let def = super::netports::as_bridged(&def);
        let nics = command::net::tap_nics(&def)?;
        let mut names: Vec<(usize, String)> = Vec::new();
        if !nics.is_empty() {
            let handle = netlink()?;
            for nic in &nics {
                let (dev, name) = open_tap(&handle, &def, nic.index).await?;
                let fdname = format!("tapfd-{}", nic.netdev);
                let added = async {
                    vm.qmp().send_fd(&fdname, dev.as_fd()).await?;
                    vm.qmp()
                        .netdev_add(json!({"type": "tap", "id": nic.netdev, "fd": fdname}))
                        .await?;
                    vm.qmp().device_add(device_args(nic)).await
                }
                .await;
                // Kept until the domain stops, added or not (a failed start releases it).
                held()
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .entry(self.held_key(uuid))
                    .or_default()
                    .push((nic.netdev.clone(), dev));
                added?;
                names.push((nic.index, name));
            }
        }
        let mut list = self.domains();
        if let Some(obj) = list.find_by_uuid_mut(uuid) {
            let mut live = obj.def_mut();
            for (i, net) in live.devices.interfaces.iter_mut().enumerate() {
                net.info.alias = Some(Alias {
                    name: format!("net{i}"),
                    unknown: Default::default(),
                });
                if let Some((_, name)) = names.iter().find(|(j, _)| *j == i) {
                    let target = net.target.get_or_insert_with(InterfaceTarget::default);
                    target.dev = Some(name.clone());
                }
            }
        }
        Ok(())
    }

    /// Closes the daemon's descriptors of the taps of `uuid` (a stopped domain): the taps
    /// it created go away with them.
    pub(crate) fn release_taps(&self, uuid: &Uuid) {
        let taps = held()
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.held_key(uuid));
        drop(taps);
    }

    /// Creates the tap of interface `i` of `def` (the running domain `uuid`'s live
    /// definition with the interface to hot-plug) and gives it to QEMU as backend `netdev`
    /// (`getfd`, `netdev_add`). Returns the tap's name. The daemon keeps the tap until
    /// [`QemuDriver::release_tap`] or the domain stops.
    pub(crate) async fn hotplug_tap(
        &self,
        uuid: &Uuid,
        vm: &Vm,
        def: &Domain,
        i: usize,
        netdev: &str,
    ) -> Result<String, VirError> {
        let handle = netlink()?;
        let def = super::netports::as_bridged(def);
        let (dev, name) = open_tap(&handle, &def, i).await?;
        let fdname = format!("tapfd-{netdev}");
        vm.qmp().send_fd(&fdname, dev.as_fd()).await?;
        let added = vm
            .qmp()
            .netdev_add(json!({"type": "tap", "id": netdev, "fd": fdname}))
            .await;
        if let Err(e) = added {
            // QEMU's copy must go too, or the tap outlives the failed attach.
            let _ = vm.qmp().close_fd(&fdname).await;
            return Err(e.into());
        }
        held()
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(self.held_key(uuid))
            .or_default()
            .push((netdev.to_string(), dev));
        Ok(name)
    }

    /// Closes the daemon's descriptor of the tap behind backend `netdev` of `uuid` (a
    /// detached interface): a tap the daemon created goes away once QEMU's copy closes.
    pub(crate) fn release_tap(&self, uuid: &Uuid, netdev: &str) {
        let mut held = held().lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(taps) = held.get_mut(&self.held_key(uuid)) {
            taps.retain(|(id, _)| id != netdev);
        }
    }

    /// The NICs QEMU has for running domain `dom` (`query-pci` devices with ids `netN`,
    /// and their `mac` property), to check what the guest sees.
    pub async fn qemu_nics(&self, dom: &DomainRef) -> Result<Vec<QemuNic>, VirError> {
        let uuid = self.with_obj(dom, |obj| Ok(obj.uuid()))?;
        let vm = self.vm(&uuid).ok_or_else(super::not_running)?;
        let mut out = Vec::new();
        for dev in vm.qmp().query_pci().await? {
            if !dev.qdev_id.starts_with("net") || dev.bus != 0 {
                continue;
            }
            let mac = vm
                .qmp()
                .execute(
                    "qom-get",
                    Some(
                        json!({"path": format!("/machine/peripheral/{}", dev.qdev_id),
                                "property": "mac"}),
                    ),
                )
                .await?;
            out.push(QemuNic {
                id: dev.qdev_id.clone(),
                slot: dev.slot,
                mac: mac.as_str().unwrap_or_default().to_string(),
            });
        }
        Ok(out)
    }
}
