//! Hotplug: block nodes, devices and network backends.
//!
//! Attaching a disk is `blockdev_add` of the storage node (`libvirt-2-storage`, driver
//! `file`), `blockdev_add` of the format node on top of it (`libvirt-2-format`), then
//! `device_add` of the frontend (`virtio-blk-pci` with `drive: libvirt-2-format`).
//!
//! Detaching: `device_del` only *requests* the unplug. For PCI (ACPI/SHPC/PCIe hotplug)
//! the guest must acknowledge it; the device disappears and QEMU emits `DEVICE_DELETED`
//! (`data.device` = the id) only then. A guest that never answers (no OS, firmware only,
//! paused) keeps the device forever: measured with QEMU 7.2 on `pc` (ACPI hotplug) and an
//! idle SeaBIOS guest, no `DEVICE_DELETED` comes, `query-pci` still lists the device, and a
//! second `device_del` is accepted again (QEMU re-signals the request). The driver owns the [`Events`](crate::qmp::Events)
//! receiver: it sends `device_del`, waits (libvirt: 5 s) for an event that
//! [`is_device_deleted`] accepts for the alias, and only then `blockdev_del`s the format
//! and storage nodes and drops the device from the live XML. On timeout libvirt leaves the
//! device in place and reports success of the request (the unplug may finish later).

use serde_json::{json, Value};

use super::bad_reply;
use crate::qmp::{Qmp, QmpError, QmpEvent};

/// `true` when `event` is QEMU's `DEVICE_DELETED` for the device whose id is `alias`.
/// (QEMU also emits `DEVICE_DELETED` with only a `path` for id-less child devices; those
/// never match.)
pub fn is_device_deleted(event: &QmpEvent, alias: &str) -> bool {
    event.name == "DEVICE_DELETED"
        && event.data.get("device").and_then(Value::as_str) == Some(alias)
}

/// One PCI device from `query-pci` (bus 0's and bridged buses' devices, flattened).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PciDevice {
    /// Bus number.
    pub bus: u64,
    /// Slot.
    pub slot: u64,
    /// Function.
    pub function: u64,
    /// `qdev_id`: the device's id (`virtio-disk1`), empty for built-in devices.
    pub qdev_id: String,
    /// `class_info.desc` (`SCSI controller`), may be empty.
    pub class_desc: String,
}

fn collect_pci(devices: &Value, out: &mut Vec<PciDevice>) {
    let Some(list) = devices.as_array() else {
        return;
    };
    for dev in list {
        let n = |k: &str| dev.get(k).and_then(Value::as_u64).unwrap_or(0);
        out.push(PciDevice {
            bus: n("bus"),
            slot: n("slot"),
            function: n("function"),
            qdev_id: dev
                .get("qdev_id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            class_desc: dev
                .pointer("/class_info/desc")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        });
        if let Some(sub) = dev.pointer("/pci_bridge/devices") {
            collect_pci(sub, out);
        }
    }
}

impl Qmp {
    /// `blockdev-add` with `options` as the arguments (`{"driver": "file", "filename":
    /// ..., "node-name": "libvirt-2-storage", ...}`).
    pub async fn blockdev_add(&self, options: Value) -> Result<(), QmpError> {
        self.execute("blockdev-add", Some(options))
            .await
            .map(|_| ())
    }

    /// `blockdev-del` of the node `node_name`.
    pub async fn blockdev_del(&self, node_name: &str) -> Result<(), QmpError> {
        self.execute("blockdev-del", Some(json!({ "node-name": node_name })))
            .await
            .map(|_| ())
    }

    /// `device_add` with `props` as the arguments (`{"driver": "virtio-blk-pci", "id":
    /// "virtio-disk1", "bus": "pci.0", "addr": "0x5", "drive": "libvirt-2-format"}`).
    pub async fn device_add(&self, props: Value) -> Result<(), QmpError> {
        self.execute("device_add", Some(props)).await.map(|_| ())
    }

    /// `device_del`: *requests* the removal of device `id` (see the module documentation:
    /// it is done when `DEVICE_DELETED` arrives).
    pub async fn device_del(&self, id: &str) -> Result<(), QmpError> {
        self.execute("device_del", Some(json!({ "id": id })))
            .await
            .map(|_| ())
    }

    /// `netdev_add` with `options` as the arguments (`{"type": "tap", "id": "hostnet1",
    /// "fd": "fdname"}`, `{"type": "user", "id": "hostnet1"}`).
    pub async fn netdev_add(&self, options: Value) -> Result<(), QmpError> {
        self.execute("netdev_add", Some(options)).await.map(|_| ())
    }

    /// `netdev_del` of backend `id`.
    pub async fn netdev_del(&self, id: &str) -> Result<(), QmpError> {
        self.execute("netdev_del", Some(json!({ "id": id })))
            .await
            .map(|_| ())
    }

    /// `query-pci`: every PCI device, bridged buses flattened in.
    pub async fn query_pci(&self) -> Result<Vec<PciDevice>, QmpError> {
        let ret = self.execute("query-pci", None).await?;
        let buses = ret.as_array().ok_or_else(|| bad_reply("query-pci", &ret))?;
        let mut out = Vec::new();
        for bus in buses {
            if let Some(devices) = bus.get("devices") {
                collect_pci(devices, &mut out);
            }
        }
        Ok(out)
    }
}
