//! Updating a device in place (the QEMU driver's `qemuDomainUpdateDeviceLive` in libvirt
//! 9.0): a CD-ROM's or floppy's medium, an interface's settings (its link state, ...), a
//! graphics console's settings; what the guest would see change is refused.

use oxvirt_xml::{ErrorCode, VirError};

use super::edit::{disk_index, driver_err, net_find_idx};
use super::{apply_defaults, read_device, validate, xml_err, Device};
use crate::devices::info::DeviceInfo;
use crate::devices::{Disk, Interface};
use crate::Domain;

fn unsupported(detail: impl AsRef<str>) -> VirError {
    driver_err(ErrorCode::OperationUnsupported, detail)
}

/// Keeps what locates the old device when the new description does not say it.
fn inherit_info(new: &mut DeviceInfo, old: &DeviceInfo) {
    if new.address.is_none() {
        new.address = old.address.clone();
    }
    if new.alias.is_none() {
        new.alias = old.alias.clone();
    }
}

/// Replaces a changeable property of the device `xml` describes, as libvirt's update
/// allows: a removable disk's medium (and tray), an interface's settings (link state,
/// bandwidth, ...), a graphics console's settings. Changing what the guest sees is refused
/// with libvirt's message ("cannot modify field 'serial' of the disk", "disk source can be
/// changed only in removable drives", "cannot modify network device model from virtio to
/// e1000"); other kinds with "live update of device 'sound' is not supported".
pub fn update_device(def: &mut Domain, xml: &str) -> Result<(), VirError> {
    let mut dev = read_device(xml)?;
    let mac_given = matches!(&dev, Device::Interface(i) if i.mac_address().is_some());
    // The rest of libvirt's device parse (`parse_device`), on the device already read.
    apply_defaults(&mut dev, def);
    validate(&dev, def).map_err(xml_err)?;
    let type_name = dev.type_name().to_string();
    match dev {
        Device::Disk(d) => update_disk(def, *d),
        Device::Interface(n) => update_net(def, *n, mac_given),
        Device::Graphics(g) => {
            let i = def
                .devices
                .graphics
                .iter()
                .position(|o| o.kind == g.kind)
                .ok_or_else(|| {
                    driver_err(
                        ErrorCode::OperationFailed,
                        format!(
                            "cannot find existing graphics type '{}' device to modify",
                            g.kind
                        ),
                    )
                })?;
            def.devices.graphics[i] = *g;
            Ok(())
        }
        _ => Err(unsupported(format!(
            "live update of device '{type_name}' is not supported"
        ))),
    }
}

/// `qemuDomainDiskChangeSupported`, for the properties the model types: the first one the
/// new description sets differently from the disk it updates.
fn changed_disk_field(new: &Disk, old: &Disk) -> Option<&'static str> {
    [
        ("device", new.device != old.device),
        (
            "bus",
            new.target_bus().is_some() && new.target_bus() != old.target_bus(),
        ),
        ("model", new.model.is_some() && new.model != old.model),
        ("sgio", new.sgio.is_some() && new.sgio != old.sgio),
        ("rawio", new.rawio.is_some() && new.rawio != old.rawio),
        ("serial", new.serial != old.serial),
        ("wwn", new.wwn != old.wwn),
        ("vendor", new.vendor != old.vendor),
        ("product", new.product != old.product),
        ("shareable", new.shareable != old.shareable),
        (
            "transient",
            new.transient.is_some() && new.transient != old.transient,
        ),
        (
            "boot order",
            new.info.boot_order().is_some() && new.info.boot_order() != old.info.boot_order(),
        ),
        (
            "address",
            new.info.address.is_some() && new.info.address != old.info.address,
        ),
        (
            "alias",
            new.info.alias.is_some() && new.info.alias != old.info.alias,
        ),
    ]
    .into_iter()
    .find(|(_, changed)| *changed)
    .map(|(name, _)| name)
}

fn update_disk(def: &mut Domain, mut new: Disk) -> Result<(), VirError> {
    let dst = new.target_dev().unwrap_or_default().to_string();
    let i = disk_index(&def.devices.disks, &dst, false).ok_or_else(|| {
        VirError::new(
            oxvirt_xml::ErrorDomain::Test,
            ErrorCode::InvalidArg,
            format!("target {dst} doesn't exist."),
        )
    })?;
    let old = &mut def.devices.disks[i];
    if let Some(field) = changed_disk_field(&new, old) {
        return Err(unsupported(format!(
            "cannot modify field '{field}' of the disk"
        )));
    }
    if !old.is_removable_media() {
        if new.source_path() != old.source_path() {
            return Err(unsupported(
                "disk source can be changed only in removable drives",
            ));
        }
        return Ok(());
    }
    // A new medium (or none), with the tray as the description says.
    old.kind = new.kind;
    old.source = new.source.take();
    old.backing_store = new.backing_store.take();
    if let Some(fmt) = new.format() {
        old.driver.get_or_insert_with(Default::default).format = Some(fmt);
    }
    if let (Some(o), Some(n)) = (old.target.as_mut(), new.target.as_ref()) {
        o.tray = n.tray;
    }
    old.readonly = new.readonly;
    Ok(())
}

fn update_net(def: &mut Domain, mut new: Interface, mac_given: bool) -> Result<(), VirError> {
    let i = net_find_idx(&def.devices.interfaces, &new, mac_given)?;
    let old = &def.devices.interfaces[i];
    if new.kind != old.kind {
        return Err(unsupported(format!(
            "cannot change config of '{}' network interface type",
            new.kind
        )));
    }
    if !mac_given {
        new.mac = old.mac.clone();
    }
    if let (Some(a), Some(b)) = (old.mac_address(), new.mac_address()) {
        if a != b {
            return Err(unsupported(format!(
                "cannot change network interface mac address from {a} to {b}"
            )));
        }
    }
    if new.model != old.model {
        return Err(unsupported(format!(
            "cannot modify network device model from {} to {}",
            old.model.as_deref().unwrap_or("default"),
            new.model.as_deref().unwrap_or("default")
        )));
    }
    if new.target.is_none() {
        new.target = old.target.clone();
    }
    inherit_info(&mut new.info, &old.info);
    def.devices.interfaces[i] = new;
    Ok(())
}
