//! The aliases libvirt's QEMU driver gives devices (`qemu_alias.c`): when a domain starts
//! (`qemuAssignDeviceAliases`) and when a device is hotplugged (`qemuAssign*Alias` with no
//! index given).

use oxvirt_domain::address::DeviceAddress;
use oxvirt_domain::devices::controller::ControllerType;
use oxvirt_domain::devices::disk::{parse_disk_name, DiskBus};
use oxvirt_domain::devices::info::{Alias, DeviceInfo};
use oxvirt_domain::devices::interface::InterfaceType;
use oxvirt_domain::devices::misc::MemballoonModel;
use oxvirt_domain::devices::{Chardev, Controller, Disk, Interface};
use oxvirt_domain::objects::devices::Device;
use oxvirt_domain::{Devices, Domain};
use oxvirt_xml::{Element, XmlEnum};

use super::{element_alias, set_element_alias};

/// `qemuDomainDeviceAliasIndex`: the number after `prefix` in the alias, if the alias is
/// `prefix` and a number.
fn alias_index(alias: Option<&str>, prefix: &str) -> Option<i64> {
    alias?.strip_prefix(prefix)?.parse().ok()
}

/// The first number after every `prefix` alias among `aliases` (0 when there is none).
fn next_index<'a>(aliases: impl IntoIterator<Item = Option<&'a str>>, prefix: &str) -> i64 {
    aliases
        .into_iter()
        .filter_map(|a| alias_index(a, prefix))
        .filter(|i| *i >= 0)
        .map(|i| i + 1)
        .max()
        .unwrap_or(0)
}

/// `qemuDomainHasBuiltinIDE`/`qemuDomainIsQ35` from the machine type (an x86 guest
/// without one gets `pc`, an i440FX machine).
fn is_q35(def: &Domain) -> bool {
    def.os
        .as_ref()
        .and_then(|o| o.machine.as_deref())
        .is_some_and(|m| m == "q35" || m.starts_with("pc-q35"))
}

/// `qemuAssignDeviceDiskAlias`: `BUS<controller>-<bus>-<unit>` (with the target too on
/// SCSI controllers other than LSI Logic) for disks on a drive address, `BUS-disk<N>`
/// from the target name otherwise.
fn disk_alias(def: &Domain, disk: &Disk) -> String {
    let bus = disk.effective_bus();
    let prefix = bus.as_xml_str();
    let mut disk = disk.clone();
    // The address libvirt gave the disk when it was defined.
    let _ = disk.assign_drive_address(false);
    if let Some(DeviceAddress::Drive {
        controller,
        bus: drive_bus,
        target,
        unit,
        ..
    }) = &disk.info.address
    {
        let (c, b, t, u) = (
            controller.unwrap_or(0),
            drive_bus.unwrap_or(0),
            target.unwrap_or(0),
            unit.unwrap_or(0),
        );
        let lsilogic = def
            .devices
            .controllers
            .iter()
            .find(|x| x.kind == ControllerType::Scsi && x.index == Some(c))
            .and_then(|x| x.model.as_deref())
            .is_none_or(|m| m == "lsilogic");
        if bus == DiskBus::Scsi && !lsilogic {
            return format!("{prefix}{c}-{b}-{t}-{u}");
        }
        return format!("{prefix}{c}-{b}-{u}");
    }
    let idx = disk
        .target_dev()
        .and_then(parse_disk_name)
        .map_or(-1, |(i, _)| i64::from(i));
    format!("{prefix}-disk{idx}")
}

/// `qemuAssignDeviceControllerAlias`.
fn controller_alias(def: &Domain, c: &Controller) -> String {
    let idx = c.index.unwrap_or(0);
    let model = c.model.as_deref();
    match c.kind {
        ControllerType::Pci if model == Some("pcie-root") => format!("pcie.{idx}"),
        ControllerType::Pci => format!("pci.{idx}"),
        ControllerType::Ide if idx == 0 && !is_q35(def) => "ide".into(),
        ControllerType::Sata if idx == 0 && is_q35(def) => "ide".into(),
        ControllerType::Usb if idx == 0 => "usb".into(),
        ControllerType::Scsi if idx == 0 && model == Some("ncr53c90") => "scsi".into(),
        kind => format!("{}{idx}", kind.as_xml_str()),
    }
}

/// `qemuAssignDeviceHostdevAlias` for a new host device: after every `hostdevN` of the
/// host devices and interfaces.
fn hostdev_alias(def: &Domain) -> String {
    let aliases = def
        .devices
        .hostdevs
        .iter()
        .map(|h| h.info.alias_name())
        .chain(def.devices.interfaces.iter().map(|n| n.info.alias_name()));
    format!("hostdev{}", next_index(aliases, "hostdev"))
}

/// `qemuAssignDeviceNetAlias` for a new interface: `hostdevN` for a host device
/// interface, else after every `netN`.
fn net_alias(def: &Domain, net: &Interface) -> String {
    if net.kind == InterfaceType::Hostdev {
        return hostdev_alias(def);
    }
    let aliases = def.devices.interfaces.iter().map(|n| n.info.alias_name());
    format!("net{}", next_index(aliases, "net"))
}

/// The list of chardevs of `element`'s kind, and its alias prefix.
fn chardev_list<'a>(devs: &'a Devices, element: &str) -> (&'a [Chardev], &'static str) {
    match element {
        "serial" => (&devs.serials, "serial"),
        "parallel" => (&devs.parallels, "parallel"),
        "console" => (&devs.consoles, "console"),
        _ => (&devs.channels, "channel"),
    }
}

/// The alias of a memory device (`qemuAssignDeviceMemoryAlias`): a DIMM's slot, else after
/// the others of its model.
fn memory_alias(others: &[Element], mem: &Element) -> Option<String> {
    let prefix = match mem.attr("model")? {
        "dimm" => "dimm",
        "nvdimm" => "nvdimm",
        "virtio-pmem" => "virtiopmem",
        "virtio-mem" => "virtiomem",
        _ => return None,
    };
    let slot = mem
        .child("address")
        .filter(|a| a.attr("type") == Some("dimm"))
        .and_then(|a| a.attr("slot"))
        .and_then(|s| s.parse::<u32>().ok());
    if let (Some(slot), "dimm" | "nvdimm") = (slot, prefix) {
        return Some(format!("{prefix}{slot}"));
    }
    let aliases = others
        .iter()
        .filter(|o| o.name == "memory")
        .map(element_alias);
    Some(format!("{prefix}{}", next_index(aliases, prefix)))
}

/// A copy of `def` whose devices without an alias have the one libvirt's QEMU driver gives
/// them when the domain starts (`qemuAssignDeviceAliases`, in its order).
pub(crate) fn with_start_aliases(def: &Domain) -> Domain {
    let mut d = def.clone();
    let set = |info: &mut DeviceInfo, name: String| {
        if info.alias.is_none() {
            info.alias = Some(Alias {
                name,
                unknown: Default::default(),
            });
        }
    };
    for i in 0..d.devices.disks.len() {
        let name = disk_alias(&d, &d.devices.disks[i]);
        set(&mut d.devices.disks[i].info, name);
    }
    for i in 0..d.devices.interfaces.len() {
        if d.devices.interfaces[i].info.alias.is_none() {
            let name = net_alias(&d, &d.devices.interfaces[i]);
            set(&mut d.devices.interfaces[i].info, name);
        }
    }
    for i in 0..d.devices.filesystems.len() {
        let aliases = d.devices.filesystems.iter().map(|f| f.info.alias_name());
        let name = format!("fs{}", next_index(aliases, "fs"));
        set(&mut d.devices.filesystems[i].info, name);
    }
    for (i, s) in d.devices.sounds.iter_mut().enumerate() {
        set(&mut s.info, format!("sound{i}"));
    }
    for i in 0..d.devices.hostdevs.len() {
        if d.devices.hostdevs[i].info.alias.is_none() {
            let name = hostdev_alias(&d);
            set(&mut d.devices.hostdevs[i].info, name);
        }
    }
    for (i, r) in d.devices.redirdevs.iter_mut().enumerate() {
        set(&mut r.info, format!("redir{i}"));
    }
    for (i, v) in d.devices.videos.iter_mut().enumerate() {
        set(&mut v.info, format!("video{i}"));
    }
    for i in 0..d.devices.controllers.len() {
        let name = controller_alias(&d, &d.devices.controllers[i]);
        set(&mut d.devices.controllers[i].info, name);
    }
    for (i, n) in d.devices.inputs.iter_mut().enumerate() {
        set(&mut n.info, format!("input{i}"));
    }
    for (list, prefix) in [
        (&mut d.devices.parallels, "parallel"),
        (&mut d.devices.serials, "serial"),
        (&mut d.devices.channels, "channel"),
        (&mut d.devices.consoles, "console"),
    ] {
        for (i, c) in list.iter_mut().enumerate() {
            set(&mut c.info, format!("{prefix}{i}"));
        }
    }
    for kind in ["hub", "shmem"] {
        let of_kind = d.devices.others.iter_mut().filter(|e| e.name == kind);
        for (n, el) in of_kind.enumerate() {
            if element_alias(el).is_none() {
                set_element_alias(el, &format!("{kind}{n}"));
            }
        }
    }
    for (i, s) in d.devices.smartcards.iter_mut().enumerate() {
        set(&mut s.info, format!("smartcard{i}"));
    }
    for (i, w) in d.devices.watchdogs.iter_mut().enumerate() {
        set(&mut w.info, format!("watchdog{i}"));
    }
    if let Some(b) = d.devices.memballoon.as_mut() {
        if b.model != MemballoonModel::None {
            set(&mut b.info, "balloon0".into());
        }
    }
    for i in 0..d.devices.rngs.len() {
        let aliases = d.devices.rngs.iter().map(|r| r.info.alias_name());
        let name = format!("rng{}", next_index(aliases, "rng"));
        set(&mut d.devices.rngs[i].info, name);
    }
    for (i, t) in d.devices.tpms.iter_mut().enumerate() {
        set(&mut t.info, format!("tpm{i}"));
    }
    for i in 0..d.devices.others.len() {
        let el = &d.devices.others[i];
        if el.name != "memory" || element_alias(el).is_some() {
            continue;
        }
        if let Some(name) = memory_alias(&d.devices.others, el) {
            set_element_alias(&mut d.devices.others[i], &name);
        }
    }
    if let Some(v) = d.devices.vsock.as_mut() {
        set(&mut v.info, "vsock0".into());
    }
    for el in d.devices.others.iter_mut().filter(|e| e.name == "iommu") {
        if element_alias(el).is_none() {
            set_element_alias(el, "iommu0");
        }
    }
    d
}

/// The alias libvirt's QEMU driver gives `dev` when it is hotplugged into a running domain
/// whose devices have the aliases of `aliased` ([`with_start_aliases`]); `None` for kinds
/// it cannot hotplug.
pub(crate) fn hotplug_alias(aliased: &Domain, dev: &Device) -> Option<String> {
    let devs = &aliased.devices;
    Some(match dev {
        Device::Disk(d) => disk_alias(aliased, d),
        Device::Controller(c) => {
            let mut c = (**c).clone();
            if c.index.is_none() {
                c.index = (0..).find(|n| {
                    !devs
                        .controllers
                        .iter()
                        .any(|o| o.kind == c.kind && o.index == Some(*n))
                });
            }
            controller_alias(aliased, &c)
        }
        Device::Interface(n) => net_alias(aliased, n),
        Device::Hostdev(_) => hostdev_alias(aliased),
        Device::Redirdev(_) => {
            let aliases = devs.redirdevs.iter().map(|r| r.info.alias_name());
            format!("redir{}", next_index(aliases, "redir"))
        }
        Device::Chardev(c) => {
            let (list, prefix) = chardev_list(devs, &c.element);
            // A console may carry the alias of the serial port it shows.
            let second = (prefix == "console").then_some("serial");
            let next = list
                .iter()
                .filter_map(|x| {
                    let a = x.info.alias_name();
                    alias_index(a, prefix).or_else(|| alias_index(a, second?))
                })
                .filter(|i| *i >= 0)
                .map(|i| i + 1)
                .max()
                .unwrap_or(0);
            format!("{prefix}{next}")
        }
        Device::Rng(_) => {
            let aliases = devs.rngs.iter().map(|r| r.info.alias_name());
            format!("rng{}", next_index(aliases, "rng"))
        }
        Device::Watchdog(_) => "watchdog0".into(),
        Device::Input(_) => {
            // qemuAssignDeviceInputAlias starts from -1: every input, aliased or not,
            // moves the number past its own, so a domain without inputs gets `input-1`.
            let idx = devs.inputs.iter().fold(-1i64, |idx, n| {
                let this = alias_index(n.info.alias_name(), "input").unwrap_or(-1);
                if this >= idx {
                    this + 1
                } else {
                    idx
                }
            });
            format!("input{idx}")
        }
        Device::Vsock(_) => "vsock0".into(),
        Device::Filesystem(_) => {
            let aliases = devs.filesystems.iter().map(|f| f.info.alias_name());
            format!("fs{}", next_index(aliases, "fs"))
        }
        Device::Other(e) if e.name == "shmem" => {
            let aliases = devs
                .others
                .iter()
                .filter(|o| o.name == "shmem")
                .map(element_alias);
            format!("shmem{}", next_index(aliases, "shmem"))
        }
        Device::Other(e) if e.name == "memory" => memory_alias(&devs.others, e)?,
        _ => return None,
    })
}
