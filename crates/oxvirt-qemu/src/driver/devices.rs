//! Devices of a running domain: what QEMU reports about them.

use std::sync::Arc;

use oxvirt_domain::driver::EventKind;
use oxvirt_xml::types::Uuid;

use super::vm::Vm;
use super::QemuDriver;

impl QemuDriver {
    /// QEMU finished removing the device `alias` (`DEVICE_DELETED`).
    pub(crate) fn on_device_deleted(&self, uuid: &Uuid, vm: &Arc<Vm>, alias: &str) {
        let alias = alias.to_string();
        self.update(uuid, vm, move |_| vec![EventKind::DeviceRemoved { alias }]);
    }
}
