//! Devices of a running domain: hotplug and unplug (`qemuDomainAttachDeviceFlags`,
//! `qemuDomainDetachDeviceFlags` of libvirt 9.0), and what QEMU reports about them.
//!
//! - A disk (file, raw or qcow2, `virtio` bus) is two `blockdev-add`s (`libvirt-N-storage`,
//!   `libvirt-N-format`, N one more than any node QEMU has) and a `device_add` of
//!   `virtio-blk-pci` with id `virtio-diskI` on the first free slot of `pci.0`. The live
//!   definition gets the alias and address; libvirtd then sends `DEVICE_ADDED`.
//! - An interface of type `user` is `netdev_add` (`hostnetK`) and `device_add`
//!   (`netK`). One of type `bridge`, `ethernet` or `network` (a port on its network
//!   first) gets a tap as at start, given over `getfd` to a `tap` backend; its detach
//!   closes the tap and gives the port back. Other types are refused.
//! - A detach is `device_del` and a wait of up to 5 s for QEMU's `DEVICE_DELETED`, which
//!   removes the device from the live definition and sends `DEVICE_REMOVED`; when the guest
//!   is slower, the call succeeds with the removal still pending (as libvirt does), and
//!   the backend nodes are released once it completes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use oxvirt_domain::address::{DeviceAddress, PciAddress};
use oxvirt_domain::devices::disk::{DiskBus, DiskDevice, DiskType};
use oxvirt_domain::devices::info::Alias;
use oxvirt_domain::devices::interface::InterfaceType;
use oxvirt_domain::devices::Disk;
use oxvirt_domain::driver::flags::device;
use oxvirt_domain::driver::{DomainRef, EventKind};
use oxvirt_domain::objects::devices::{self as devedit, Device};
use oxvirt_domain::Domain;
use oxvirt_xml::types::Uuid;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};
use serde_json::{json, Value};

use super::stats::disk_alias;
use super::vm::Vm;
use super::{check_flags, QemuDriver};

type Result<T> = std::result::Result<T, VirError>;

/// What a hotplug adds to the live definition once QEMU has the device.
type LiveUpdate = Box<dyn FnOnce(&mut Domain) + Send>;

/// How long a detach waits for the guest to release the device (libvirt's 5 s).
const UNPLUG_WAIT: Duration = Duration::from_secs(5);
/// How long the backend of a device whose unplug is pending is kept before giving up.
const BACKEND_WAIT: Duration = Duration::from_secs(300);

fn unsupported(detail: impl AsRef<str>) -> VirError {
    VirError::new(ErrorDomain::Qemu, ErrorCode::OperationUnsupported, detail)
}

fn failed(detail: impl AsRef<str>) -> VirError {
    VirError::new(ErrorDomain::Qemu, ErrorCode::OperationFailed, detail)
}

fn bus_name(bus: Option<DiskBus>) -> &'static str {
    bus.map_or("none", |b| oxvirt_xml::XmlEnum::as_xml_str(&b))
}

fn pci_address(address: PciAddress) -> DeviceAddress {
    DeviceAddress::Pci {
        address,
        multifunction: None,
        unknown: Default::default(),
    }
}

fn alias(name: String) -> Option<Alias> {
    Some(Alias {
        name,
        unknown: Default::default(),
    })
}

/// Where a hot-plugged device goes in the running domain `live` (bus 0 of an i440FX PC, a
/// spare root port of a Q35 one), and the QEMU id of its bus; on an i440FX PC, QEMU's own
/// view of bus 0 is consulted too.
async fn free_slot(vm: &Vm, live: &Domain) -> Result<(PciAddress, String)> {
    let mut busy = Vec::new();
    if super::parse::defaults::machine_of(live) != super::parse::defaults::Machine::Q35 {
        // QEMU's own view of bus 0 (a device the definition does not know of).
        for d in vm.qmp().query_pci().await? {
            if d.bus == 0 {
                busy.push((0, u32::try_from(d.slot).unwrap_or(u32::MAX)));
            }
        }
    }
    super::parse::defaults::hotplug_address(live, &busy)
}

/// One more than the highest `libvirt-N-...` node QEMU has.
async fn next_node_index(vm: &Vm) -> Result<u32> {
    let nodes = vm
        .qmp()
        .execute("query-named-block-nodes", Some(json!({"flat": true})))
        .await?;
    let max = nodes
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n.get("node-name").and_then(Value::as_str))
        .filter_map(|n| {
            n.strip_prefix("libvirt-")?
                .split('-')
                .next()?
                .parse::<u32>()
                .ok()
        })
        .max()
        .unwrap_or(0);
    Ok(max + 1)
}

/// The alias of the device with `alias` is gone from the live definition.
fn has_alias(def: &Domain, alias: &str) -> bool {
    def.devices
        .disks
        .iter()
        .any(|d| d.info.alias_name() == Some(alias) || disk_alias(d) == alias)
        || def
            .devices
            .interfaces
            .iter()
            .any(|n| n.info.alias_name() == Some(alias))
}

impl QemuDriver {
    /// QEMU finished removing the device `alias` (`DEVICE_DELETED`): it leaves the live
    /// definition and `DEVICE_REMOVED` is sent.
    pub(crate) fn on_device_deleted(&self, uuid: &Uuid, vm: &Arc<Vm>, alias: &str) {
        let alias = alias.to_string();
        self.update(uuid, vm, move |obj| {
            let mut def = obj.def_mut();
            let disks = &mut def.devices.disks;
            let before = disks.len();
            disks.retain(|d| disk_alias(d) != alias);
            let mut removed = disks.len() != before;
            let nets = &mut def.devices.interfaces;
            let before = nets.len();
            nets.retain(|n| n.info.alias_name() != Some(alias.as_str()));
            removed |= nets.len() != before;
            if !removed {
                return vec![];
            }
            vec![EventKind::DeviceRemoved { alias }]
        });
    }

    /// With `VIR_DOMAIN_AFFECT_CONFIG` in `flags`, the persistent definition of `dom` with
    /// `edit` applied (checked now, committed once the live change, if any, succeeded).
    fn config_edit(
        &self,
        dom: &DomainRef,
        flags: u32,
        edit: impl FnOnce(&mut Domain) -> std::result::Result<(), VirError>,
    ) -> Result<Option<Domain>> {
        if flags & device::CONFIG == 0 {
            return Ok(None);
        }
        let mut def = self.with_obj(dom, |obj| Ok(obj.persistent_def().clone()))?;
        edit(&mut def).map_err(as_qemu)?;
        Ok(Some(def))
    }

    /// `virDomainAttachDeviceFlags`.
    pub(crate) async fn attach_device(&self, dom: &DomainRef, xml: &str, flags: u32) -> Result<()> {
        check_flags(
            flags,
            device::LIVE | device::CONFIG,
            "qemuDomainAttachDeviceFlags",
        )?;
        let _job = self.lock_job(&dom.uuid).await?;
        let flags = self.with_obj(dom, |obj| obj.update_modification_impact(flags))?;
        // The persistent change is checked first and committed after the live one.
        let config =
            self.config_edit(dom, flags, |def| devedit::attach_device(def, xml).map(drop))?;
        if flags & device::LIVE != 0 {
            let vm = self.vm(&dom.uuid).ok_or_else(super::not_running)?;
            let live = self.with_obj(dom, |obj| Ok(obj.def().clone()))?;
            let dev = devedit::parse_device(xml, &live)?;
            let is_disk = matches!(dev, Device::Disk(_));
            let (alias, update): (String, LiveUpdate) = match dev {
                Device::Disk(d) => self.hotplug_disk(&vm, &live, *d).await?,
                Device::Interface(n) => self.hotplug_net(&vm, &live, *n).await?,
                other => {
                    return Err(unsupported(format!(
                        "live attach of device '{}' is not supported",
                        other.type_name()
                    )))
                }
            };
            self.update(&dom.uuid, &vm, move |obj| {
                update(&mut obj.def_mut());
                vec![EventKind::DeviceAdded { alias }]
            });
            if is_disk {
                self.refresh_in_use(&dom.uuid).await;
            }
        }
        if let Some(def) = config {
            self.commit_config(dom, def)?;
        }
        Ok(())
    }

    fn commit_config(&self, dom: &DomainRef, def: Domain) -> Result<()> {
        self.save_config(&def)?;
        self.with_obj(dom, |obj| {
            let (mut target, _) = obj.one_def_mut(device::CONFIG)?;
            *target = def;
            Ok(())
        })
    }

    async fn hotplug_disk(
        &self,
        vm: &Vm,
        live: &Domain,
        mut disk: Disk,
    ) -> Result<(String, LiveUpdate)> {
        let dst = disk.target_dev().unwrap_or_default().to_string();
        if let Some(other) = live
            .devices
            .disks
            .iter()
            .find(|d| d.target_dev() == Some(dst.as_str()))
        {
            // libvirt 9.0's check of the new definition (`virDomainDefCheckDuplicateDiskInfo`).
            return Err(VirError::new(
                ErrorDomain::Domain,
                ErrorCode::XmlError,
                format!(
                    "target '{dst}' duplicated for disk sources '{}' and '{}'",
                    other.source_path().unwrap_or_default(),
                    disk.source_path().unwrap_or_default()
                ),
            ));
        }
        let bus = disk.target.as_ref().and_then(|t| t.bus);
        match bus {
            Some(DiskBus::Virtio) => {}
            // libvirt 9.0 asks QEMU, whose IDE buses refuse hotplug.
            Some(DiskBus::Ide) => {
                let ide_bus = crate::command::disk::target_index(&dst) / 2;
                return Err(super::internal(format!(
                    "unable to execute QEMU command 'device_add': Bus 'ide.{ide_bus}' \
                     does not support hotplugging"
                )));
            }
            // The `pc` machine has no SATA controller (libvirt adds none on hotplug).
            Some(DiskBus::Sata) => {
                return Err(VirError::new(
                    ErrorDomain::Domain,
                    ErrorCode::InternalError,
                    "Could not find sata controller with index 0 required for device",
                ));
            }
            _ => {
                return Err(unsupported(format!(
                    "disk bus '{}' cannot be hotplugged.",
                    bus_name(bus)
                )))
            }
        }
        if disk.device != DiskDevice::Disk {
            return Err(unsupported(format!(
                "live attach of disk device '{}' is not supported",
                oxvirt_xml::XmlEnum::as_xml_str(&disk.device)
            )));
        }
        // A volume opens as what it resolved to; the live definition keeps the volume.
        let runtime = match self.resolve_disk(&disk).await? {
            Some(vol) => {
                super::volumes::with_format(&mut disk, &vol);
                Some(super::volumes::runtime_disk(&disk, &vol))
            }
            None => None,
        };
        let path = match (disk.kind, disk.source_path()) {
            (DiskType::File, Some(p)) => p.to_string(),
            (DiskType::Volume, _) => String::new(),
            _ => return Err(unsupported("only disks backed by a file can be hotplugged")),
        };
        let format = disk
            .driver
            .as_ref()
            .and_then(|d| d.format)
            .map_or_else(|| "raw".to_string(), |f| f.to_string());
        if format != "raw" && format != "qcow2" {
            return Err(unsupported(format!("disk format '{format}'")));
        }
        let n = next_node_index(vm).await?;
        let (slot, bus) = free_slot(vm, live).await?;
        let id = format!("virtio-disk{}", crate::command::disk::target_index(&dst));
        let storage = format!("libvirt-{n}-storage");
        let fmt_node = format!("libvirt-{n}-format");
        let qmp = vm.qmp();
        let storage_node = match &runtime {
            Some(r) => serde_json::from_str(&crate::command::disk::storage_node(r, n)?)
                .map_err(|e| super::internal(format!("storage node of a volume: {e}")))?,
            None => json!({
                "driver": "file", "filename": path, "node-name": storage,
                "auto-read-only": true, "discard": "unmap",
            }),
        };
        qmp.blockdev_add(storage_node).await?;
        let added = qmp
            .blockdev_add(json!({
                "node-name": fmt_node, "read-only": disk.readonly,
                "driver": format, "file": storage,
            }))
            .await;
        if let Err(e) = added {
            let _ = qmp.blockdev_del(&storage).await;
            return Err(e.into());
        }
        let plugged = qmp
            .device_add(json!({
                "driver": "virtio-blk-pci", "bus": bus, "addr": format!("0x{:x}", slot.slot),
                "drive": fmt_node, "id": id,
            }))
            .await;
        if let Err(e) = plugged {
            let _ = qmp.blockdev_del(&fmt_node).await;
            let _ = qmp.blockdev_del(&storage).await;
            return Err(e.into());
        }
        disk.info.alias = alias(id.clone());
        disk.info.address = Some(pci_address(slot));
        Ok((
            id,
            Box::new(move |def: &mut Domain| Disk::insert_sorted(&mut def.devices.disks, disk)),
        ))
    }

    async fn hotplug_net(
        &self,
        vm: &Vm,
        live: &Domain,
        mut net: oxvirt_domain::devices::Interface,
    ) -> Result<(String, LiveUpdate)> {
        let tap = matches!(
            net.kind,
            InterfaceType::Network | InterfaceType::Bridge | InterfaceType::Ethernet
        );
        if net.kind != InterfaceType::User && !tap {
            return Err(unsupported(format!(
                "live attach of interface type '{}' is not supported",
                oxvirt_xml::XmlEnum::as_xml_str(&net.kind)
            )));
        }
        let k = (0..)
            .find(|k| {
                let name = format!("net{k}");
                !live
                    .devices
                    .interfaces
                    .iter()
                    .any(|n| n.info.alias_name() == Some(&name))
            })
            .unwrap_or(0);
        let id = format!("net{k}");
        let netdev = format!("hostnet{k}");
        let mac = net.mac_address().map(|m| m.to_string()).unwrap_or_default();
        let driver = match net.model.as_deref() {
            Some("virtio") => "virtio-net-pci",
            Some(other) => other,
            None => "rtl8139",
        }
        .to_string();
        let (slot, bus) = free_slot(vm, live).await?;
        let qmp = vm.qmp();
        let uuid = live.uuid.unwrap_or_default();
        let mut port = None;
        if tap {
            // A port on the network first (type='network'), then the tap on its bridge.
            let (plugged, name) = self.hotplug_net_tap(vm, live, net.clone(), &netdev).await?;
            net = plugged;
            port = super::netports::port_of(&net);
            net.target.get_or_insert_with(Default::default).dev = Some(name);
        } else {
            qmp.netdev_add(json!({"type": "user", "id": netdev}))
                .await?;
        }
        let plugged = qmp
            .device_add(json!({
                "driver": driver, "netdev": netdev, "id": id, "mac": mac,
                "bus": bus, "addr": format!("0x{:x}", slot.slot),
            }))
            .await;
        if let Err(e) = plugged {
            let _ = qmp.netdev_del(&netdev).await;
            self.release_tap(&uuid, &netdev);
            self.unplug_ports(port.into_iter().collect()).await;
            return Err(e.into());
        }
        net.info.alias = alias(id.clone());
        net.info.address = Some(pci_address(slot));
        Ok((
            id,
            Box::new(move |def: &mut Domain| def.devices.interfaces.push(net)),
        ))
    }

    /// `virDomainDetachDeviceFlags`.
    pub(crate) async fn detach_device(&self, dom: &DomainRef, xml: &str, flags: u32) -> Result<()> {
        check_flags(
            flags,
            device::LIVE | device::CONFIG,
            "qemuDomainDetachDeviceFlags",
        )?;
        let _job = self.lock_job(&dom.uuid).await?;
        let flags = self.with_obj(dom, |obj| obj.update_modification_impact(flags))?;
        let config =
            self.config_edit(dom, flags, |def| devedit::detach_device(def, xml).map(drop))?;
        if flags & device::LIVE != 0 {
            let vm = self.vm(&dom.uuid).ok_or_else(super::not_running)?;
            let live = self.with_obj(dom, |obj| Ok(obj.def().clone()))?;
            let (alias, backend) = find_live(&live, xml)?;
            let node = if matches!(backend, Backend::Disk) {
                block_node(&vm, &alias).await
            } else {
                None
            };
            vm.qmp().device_del(&alias).await?;
            self.release_backend(dom.uuid, vm.clone(), alias.clone(), backend, node);
            let start = Instant::now();
            while start.elapsed() < UNPLUG_WAIT {
                let present = self.with_obj(dom, |obj| Ok(has_alias(obj.def(), &alias)))?;
                if !present || self.vm(&dom.uuid).is_none() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        if let Some(def) = config {
            self.commit_config(dom, def)?;
        }
        Ok(())
    }

    /// Once the guest released device `alias`, deletes its backend (block nodes, netdev).
    fn release_backend(
        &self,
        uuid: Uuid,
        vm: Arc<Vm>,
        alias: String,
        backend: Backend,
        node: Option<String>,
    ) {
        let driver = self.clone();
        tokio::spawn(async move {
            let start = Instant::now();
            loop {
                let present = driver
                    .domains()
                    .find_by_uuid(&uuid)
                    .is_some_and(|o| has_alias(o.def(), &alias));
                if !present || driver.vm(&uuid).is_none() {
                    break;
                }
                if start.elapsed() > BACKEND_WAIT {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            match backend {
                Backend::Disk => {
                    if let Some(fmt) = node {
                        let _ = vm.qmp().blockdev_del(&fmt).await;
                        let storage = fmt.replace("-format", "-storage");
                        let _ = vm.qmp().blockdev_del(&storage).await;
                    }
                    driver.refresh_in_use(&uuid).await;
                }
                Backend::Net(netdev, port) => {
                    let _ = vm.qmp().netdev_del(&netdev).await;
                    driver.release_tap(&uuid, &netdev);
                    driver.unplug_ports(port.into_iter().collect()).await;
                }
            }
        });
    }
}

/// What a device to unplug leaves behind in QEMU.
enum Backend {
    Disk,
    /// The netdev and the network port (type='network').
    Net(String, Option<super::netports::Port>),
}

/// The format node of the disk whose frontend is `alias`.
async fn block_node(vm: &Vm, alias: &str) -> Option<String> {
    let stats = vm.qmp().query_blockstats().await.ok()?;
    stats
        .into_iter()
        .find(|s| s.qdev == alias || s.qdev.contains(&format!("/{alias}/")))
        .map(|s| s.node_name)
        .filter(|n| !n.is_empty())
}

/// The live device `xml` names: its alias and backend.
fn find_live(live: &Domain, xml: &str) -> Result<(String, Backend)> {
    let dev = devedit::parse_device(xml, live)?;
    match dev {
        Device::Disk(d) => {
            let dst = d.target_dev().unwrap_or_default();
            let disk = live
                .devices
                .disks
                .iter()
                .find(|x| x.target_dev() == Some(dst))
                .ok_or_else(|| {
                    VirError::new(
                        ErrorDomain::Qemu,
                        ErrorCode::DeviceMissing,
                        format!("disk {dst} not found"),
                    )
                })?;
            let bus = disk.target.as_ref().and_then(|t| t.bus);
            if !matches!(bus, Some(DiskBus::Virtio | DiskBus::Scsi | DiskBus::Usb)) {
                return Err(unsupported("This type of disk cannot be hot unplugged"));
            }
            Ok((disk_alias(disk), Backend::Disk))
        }
        Device::Interface(n) => {
            let mac = n.mac_address();
            let found: Vec<_> = live
                .devices
                .interfaces
                .iter()
                .filter(|x| mac.is_none() || x.mac_address() == mac)
                .collect();
            let net = match found.as_slice() {
                [one] => *one,
                [] => {
                    return Err(VirError::new(
                        ErrorDomain::Domain,
                        ErrorCode::DeviceMissing,
                        match mac {
                            Some(m) => format!(
                                "no device found at address '(<null>)' matching MAC \
                                 address '{m}' and alias '(<null>)'"
                            ),
                            None => "no device found at address '(<null>)' matching MAC \
                                     address '(<null>)' and alias '(<null>)'"
                                .to_string(),
                        },
                    ))
                }
                _ => {
                    return Err(VirError::new(
                        ErrorDomain::Domain,
                        ErrorCode::OperationFailed,
                        "multiple devices matching MAC address found",
                    ))
                }
            };
            let alias = net
                .info
                .alias_name()
                .ok_or_else(|| failed("the interface has no alias"))?
                .to_string();
            let netdev = format!("host{alias}");
            Ok((alias, Backend::Net(netdev, super::netports::port_of(net))))
        }
        other => Err(unsupported(format!(
            "live detach of device '{}' is not supported",
            other.type_name()
        ))),
    }
}

/// The conf layer's refusals name the QEMU driver, not the test driver.
fn as_qemu(mut e: VirError) -> VirError {
    if e.domain == ErrorDomain::Test {
        e.domain = ErrorDomain::Qemu;
    }
    e
}
