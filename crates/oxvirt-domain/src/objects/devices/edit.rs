//! Attaching and detaching devices (the QEMU driver's `qemuDomainAttachDeviceConfig` and
//! `qemuDomainDetachDeviceConfig` in libvirt 9.0, with `domain_conf.c`'s matching).

use oxvirt_xml::{Element, ErrorCode, ErrorDomain, VirError};

use super::{
    apply_defaults, parse_device_unchecked, read_device, validate as validate_device, xml_err,
    Device,
};
use crate::address::DeviceAddress;
use crate::defaults::{disk_post_parse, DriverDefaults};
use crate::devices::info::DeviceInfo;
use crate::devices::{chardev, Chardev, Controller, Disk, Interface};
use crate::Domain;

/// The driver's refusal, reported as the test driver reports its errors.
pub(super) fn driver_err(code: ErrorCode, detail: impl AsRef<str>) -> VirError {
    VirError::new(ErrorDomain::Test, code, detail)
}

fn invalid(detail: impl AsRef<str>) -> VirError {
    driver_err(ErrorCode::OperationInvalid, detail)
}

fn missing(detail: impl AsRef<str>) -> VirError {
    driver_err(ErrorCode::DeviceMissing, detail)
}

const NOT_PRESENT: &str = "device not present in domain configuration";

/// Whether a device found in the domain is the one asked for, as far as `wanted`'s
/// address and alias say (an unset one matches any).
pub(super) fn info_matches(found: &DeviceInfo, wanted: &DeviceInfo) -> bool {
    wanted
        .address
        .as_ref()
        .is_none_or(|a| found.address.as_ref() == Some(a))
        && wanted
            .alias_name()
            .is_none_or(|a| found.alias_name() == Some(a))
}

/// Whether `found` is `wanted` apart from the address and alias, which must match only
/// when `wanted` gives them.
fn same_device<T: Clone + PartialEq>(
    found: &T,
    wanted: &T,
    info: impl Fn(&mut T) -> &mut DeviceInfo,
) -> bool {
    let (mut a, mut b) = (found.clone(), wanted.clone());
    if !info_matches(info(&mut a), info(&mut b)) {
        return false;
    }
    *info(&mut a) = DeviceInfo::default();
    *info(&mut b) = DeviceInfo::default();
    a == b
}

/// `virDomainDiskIndexByName`: a disk by target, or by source path when that is not
/// ambiguous (or when `allow_ambiguous`, the first such).
pub(super) fn disk_index(disks: &[Disk], name: &str, allow_ambiguous: bool) -> Option<usize> {
    if let Some(i) = disks.iter().position(|d| d.target_dev() == Some(name)) {
        return Some(i);
    }
    let mut by_path = disks
        .iter()
        .enumerate()
        .filter(|(_, d)| d.source_path() == Some(name));
    let first = by_path.next().map(|(i, _)| i);
    match by_path.next() {
        Some(_) if !allow_ambiguous => None,
        _ => first,
    }
}

/// `virDomainNetFindIdx`: the interface matching `wanted`'s MAC address (when it gives
/// one), PCI or CCW address and alias; `mac_given` says whether the MAC was written.
pub(super) fn net_find_idx(
    nets: &[Interface],
    wanted: &Interface,
    mac_given: bool,
) -> Result<usize, VirError> {
    let mac = wanted.mac_address().filter(|_| mac_given);
    let addr = wanted.info.address.as_ref().filter(|a| match a {
        DeviceAddress::Pci { .. } => true,
        DeviceAddress::Other(e) => e.attr("type") == Some("ccw"),
        _ => false,
    });
    let alias = wanted.info.alias_name();
    let mut found = None;
    for (i, n) in nets.iter().enumerate() {
        if mac.is_some_and(|m| n.mac_address() != Some(m))
            || addr.is_some_and(|a| n.info.address.as_ref() != Some(a))
            || alias.is_some_and(|a| n.info.alias_name() != Some(a))
        {
            continue;
        }
        if found.is_some() {
            let detail = match mac {
                Some(m) => format!("multiple devices matching MAC address {m} found"),
                None => "multiple matching devices found".to_string(),
            };
            return Err(VirError::new(
                ErrorDomain::Domain,
                ErrorCode::OperationFailed,
                detail,
            ));
        }
        found = Some(i);
    }
    found.ok_or_else(|| {
        let addr = match addr {
            Some(DeviceAddress::Pci { address: p, .. }) => format!(
                "{:04x}:{:02x}:{:02x}.{}",
                p.domain, p.bus, p.slot, p.function
            ),
            Some(DeviceAddress::Other(e)) => format!(
                "{}.{}.{}",
                e.attr("cssid").unwrap_or("<null>"),
                e.attr("ssid").unwrap_or("<null>"),
                e.attr("devno").unwrap_or("<null>")
            ),
            _ => "<null>".to_string(),
        };
        let mac = mac.map_or("<null>".to_string(), |m| m.to_string());
        VirError::new(
            ErrorDomain::Domain,
            ErrorCode::DeviceMissing,
            format!(
                "no device found at address '{addr}' matching MAC address '{mac}' and alias \
                 '{}'",
                alias.unwrap_or("<null>")
            ),
        )
    })
}

/// The chardev list of `def` a chardev of element `element` goes in.
fn chardev_list<'a>(def: &'a mut Domain, element: &str) -> &'a mut Vec<Chardev> {
    let d = &mut def.devices;
    match element {
        "serial" => &mut d.serials,
        "parallel" => &mut d.parallels,
        "console" => &mut d.consoles,
        _ => &mut d.channels,
    }
}

/// `virDomainChrEquals`: same kind, same target, same source.
fn same_chardev(a: &Chardev, b: &Chardev) -> bool {
    a.element == b.element && a.target == b.target && a.source == b.source
}

/// The text of `el`'s child `name`.
fn child_text(el: &Element, name: &str) -> Option<String> {
    el.child(name).map(Element::text)
}

/// `virDomainLeaseIndex`: whether `o` is a lease in `e`'s lockspace with `e`'s key.
fn same_lease(o: &Element, e: &Element) -> bool {
    o.name == "lease"
        && child_text(o, "lockspace") == child_text(e, "lockspace")
        && child_text(o, "key") == child_text(e, "key")
}

/// `virDomainShmemDefFind`: whether `o` is a shared memory device named as `e` is.
fn same_shmem(o: &Element, e: &Element) -> bool {
    o.name == "shmem" && o.attr("name") == e.attr("name")
}

/// The driver's refusal of a device kind it cannot attach or detach persistently.
fn unsupported(action: &str, type_name: &str) -> VirError {
    driver_err(
        ErrorCode::OperationUnsupported,
        format!("persistent {action} of device '{type_name}' is not supported"),
    )
}

/// An untyped device element without what locates it in the domain (`<alias>`,
/// `<address>`), to compare two of them.
fn without_info(el: &Element) -> Element {
    let mut e = el.clone();
    e.children.retain(|n| {
        !n.as_element()
            .is_some_and(|c| c.name == "alias" || c.name == "address")
    });
    e
}

/// The lowest index no controller of `c`'s type uses (`virDomainControllerFindUnusedIndex`).
fn unused_controller_index(controllers: &[Controller], c: &Controller) -> u32 {
    (0..)
        .find(|n| {
            !controllers
                .iter()
                .any(|o| o.kind == c.kind && o.index == Some(*n))
        })
        .unwrap_or(0)
}

/// [`attach_device_with`] with libvirt's generic post-parse step
/// ([`DriverDefaults::GENERIC`]).
pub fn attach_device(def: &mut Domain, xml: &str) -> Result<Option<String>, VirError> {
    attach_device_with(def, xml, &DriverDefaults::GENERIC)
}

/// Adds the device `xml` describes to the definition (libvirt's persistent attach);
/// returns its alias if it has one. Kinds libvirt cannot attach this way are refused with
/// "persistent attach of device 'graphics' is not supported".
///
/// The device gets the post-parse step of the driver's `policy` as libvirt's QEMU driver
/// gives it (`qemuDomainAttachDeviceConfig`): a disk its drive address when it is parsed
/// ([`disk_post_parse`]), then the definition what libvirt's post-parse step adds to it
/// ([`Domain::add_implicit_devices`]: the controller an IDE, SATA, SCSI or floppy disk
/// needs, for example).
pub fn attach_device_with(
    def: &mut Domain,
    xml: &str,
    policy: &DriverDefaults,
) -> Result<Option<String>, VirError> {
    // libvirt's device parse: the defaults, the post-parse step, then the checks.
    let mut dev = parse_device_unchecked(xml, def)?;
    if let Device::Disk(d) = &mut dev {
        disk_post_parse(d, &def.devices.hostdevs, policy).map_err(xml_err)?;
    }
    validate_device(&dev, def).map_err(xml_err)?;
    let alias = dev.alias().map(str::to_string);
    let type_name = dev.type_name().to_string();
    let devs = &mut def.devices;
    match dev {
        Device::Disk(d) => {
            let dst = d.target_dev().unwrap_or_default().to_string();
            if disk_index(&devs.disks, &dst, true).is_some() {
                return Err(invalid(format!("target {dst} already exists")));
            }
            Disk::insert_sorted(&mut devs.disks, *d);
        }
        Device::Interface(i) => devs.interfaces.push(*i),
        Device::Sound(s) => devs.sounds.push(*s),
        Device::Hostdev(h) => {
            if devs.hostdevs.iter().any(|o| same_hostdev(o, &h)) {
                return Err(invalid("device is already in the domain configuration"));
            }
            devs.hostdevs.push(*h);
        }
        Device::Controller(mut c) => {
            let index = match c.index {
                Some(i) => i,
                None => unused_controller_index(&devs.controllers, &c),
            };
            c.index = Some(index);
            if devs
                .controllers
                .iter()
                .any(|o| o.kind == c.kind && o.index == Some(index))
            {
                return Err(invalid(format!(
                    "controller index='{index}' already exists"
                )));
            }
            Controller::insert_sorted(&mut devs.controllers, *c);
        }
        Device::Chardev(c) => {
            let list = chardev_list(def, &c.element.clone());
            if list.iter().any(|o| same_chardev(o, &c)) {
                return Err(invalid("chardev already exists"));
            }
            list.push(*c);
            chardev::assign_ports(list);
        }
        Device::Filesystem(f) => {
            if devs.filesystems.iter().any(|o| o.target == f.target) {
                return Err(invalid("Target already exists"));
            }
            devs.filesystems.push(*f);
        }
        Device::Rng(r) => {
            if let Some(addr) = &r.info.address {
                if address_in_use(def, addr) {
                    return Err(invalid("a device with the same address already exists "));
                }
            }
            def.devices.rngs.push(*r);
        }
        Device::Redirdev(r) => devs.redirdevs.push(*r),
        Device::Input(i) => devs.inputs.push(*i),
        Device::Watchdog(w) => {
            if !devs.watchdogs.is_empty() {
                return Err(invalid("domain already has a watchdog"));
            }
            devs.watchdogs.push(*w);
        }
        Device::Vsock(v) => {
            if devs.vsock.is_some() {
                return Err(invalid("domain already has a vsock device"));
            }
            devs.vsock = Some(*v);
        }
        Device::Other(e) if e.name == "lease" => {
            if devs.others.iter().any(|o| same_lease(o, &e)) {
                return Err(invalid(format!(
                    "Lease {} in lockspace {} already exists",
                    child_text(&e, "key").unwrap_or_default(),
                    child_text(&e, "lockspace").unwrap_or_default()
                )));
            }
            devs.others.push(e);
        }
        Device::Other(e) if e.name == "shmem" => {
            if devs.others.iter().any(|o| same_shmem(o, &e)) {
                return Err(invalid("device is already in the domain configuration"));
            }
            devs.others.push(e);
        }
        Device::Other(e) if e.name == "memory" => devs.others.push(e),
        _ => return Err(unsupported("attach", &type_name)),
    }
    def.add_implicit_devices(policy).map_err(xml_err)?;
    Ok(alias)
}

/// `virDomainHostdevMatch`: same mode, type and source.
fn same_hostdev(a: &crate::devices::Hostdev, b: &crate::devices::Hostdev) -> bool {
    a.mode == b.mode && a.kind == b.kind && a.source == b.source
}

/// Whether a device of the domain already sits at `addr` (`virDomainDefHasDeviceAddress`).
fn address_in_use(def: &Domain, addr: &DeviceAddress) -> bool {
    let d = &def.devices;
    let mut infos = d
        .disks
        .iter()
        .map(|x| &x.info)
        .chain(d.controllers.iter().map(|x| &x.info))
        .chain(d.filesystems.iter().map(|x| &x.info))
        .chain(d.interfaces.iter().map(|x| &x.info))
        .chain(d.sounds.iter().map(|x| &x.info))
        .chain(d.videos.iter().map(|x| &x.info))
        .chain(d.hostdevs.iter().map(|x| &x.info))
        .chain(d.inputs.iter().map(|x| &x.info))
        .chain(d.rngs.iter().map(|x| &x.info))
        .chain(d.watchdogs.iter().map(|x| &x.info))
        .chain(d.memballoon.iter().map(|x| &x.info))
        .chain(d.vsock.iter().map(|x| &x.info));
    infos.any(|i| i.address.as_ref() == Some(addr))
}

/// Removes the device `xml` describes from the definition (libvirt's persistent detach);
/// returns its alias if it had one. A disk is found by target, an interface by MAC
/// address (and PCI address and alias, when given), a controller by type and index, a
/// host device by source, a filesystem by target, other devices by their whole
/// description.
pub fn detach_device(def: &mut Domain, xml: &str) -> Result<Option<String>, VirError> {
    let mut dev = read_device(xml)?;
    let mac_given = matches!(&dev, Device::Interface(i) if i.mac_address().is_some());
    // The MAC of an interface is not generated for matching.
    if !matches!(dev, Device::Interface(_)) {
        apply_defaults(&mut dev, def);
    }
    let type_name = dev.type_name().to_string();
    let devs = &mut def.devices;
    let alias = |info: &DeviceInfo| info.alias_name().map(str::to_string);
    match dev {
        Device::Disk(d) => {
            let dst = d.target_dev().unwrap_or_default().to_string();
            let i = disk_index(&devs.disks, &dst, false)
                .ok_or_else(|| missing(format!("no target device {dst}")))?;
            Ok(alias(&devs.disks.remove(i).info))
        }
        Device::Controller(c) => {
            let i = devs
                .controllers
                .iter()
                .position(|o| o.kind == c.kind && c.index.is_some() && o.index == c.index)
                .ok_or_else(|| missing(NOT_PRESENT))?;
            Ok(alias(&devs.controllers.remove(i).info))
        }
        Device::Interface(n) => {
            let i = net_find_idx(&devs.interfaces, &n, mac_given)?;
            Ok(alias(&devs.interfaces.remove(i).info))
        }
        Device::Sound(s) => {
            let i = devs
                .sounds
                .iter()
                .position(|o| o.model == s.model && info_matches(&o.info, &s.info))
                .ok_or_else(|| missing(NOT_PRESENT))?;
            Ok(alias(&devs.sounds.remove(i).info))
        }
        Device::Hostdev(h) => {
            let i = devs
                .hostdevs
                .iter()
                .position(|o| same_hostdev(o, &h))
                .ok_or_else(|| missing(NOT_PRESENT))?;
            Ok(alias(&devs.hostdevs.remove(i).info))
        }
        Device::Chardev(c) => {
            let list = chardev_list(def, &c.element.clone());
            let i = list
                .iter()
                .position(|o| same_chardev(o, &c))
                .ok_or_else(|| missing(NOT_PRESENT))?;
            Ok(alias(&list.remove(i).info))
        }
        Device::Filesystem(f) => {
            let i = devs
                .filesystems
                .iter()
                .position(|o| o.target == f.target)
                .ok_or_else(|| missing("no matching filesystem device was found"))?;
            Ok(alias(&devs.filesystems.remove(i).info))
        }
        Device::Rng(r) => {
            let i = devs
                .rngs
                .iter()
                .position(|o| same_device(o, &r, |x| &mut x.info))
                .ok_or_else(|| missing("no matching RNG device was found"))?;
            Ok(alias(&devs.rngs.remove(i).info))
        }
        Device::Redirdev(r) => {
            let i = devs
                .redirdevs
                .iter()
                .position(|o| same_device(o, &r, |x| &mut x.info))
                .ok_or_else(|| missing("no matching redirdev was not found"))?;
            Ok(alias(&devs.redirdevs.remove(i).info))
        }
        Device::Input(n) => {
            let i = devs
                .inputs
                .iter()
                .position(|o| same_device(o, &n, |x| &mut x.info))
                .ok_or_else(|| missing("matching input device not found"))?;
            Ok(alias(&devs.inputs.remove(i).info))
        }
        Device::Watchdog(_) => {
            if devs.watchdogs.is_empty() {
                return Err(missing("domain has no watchdog"));
            }
            Ok(alias(&devs.watchdogs.remove(0).info))
        }
        Device::Vsock(v) => {
            let found = devs
                .vsock
                .as_ref()
                .is_some_and(|o| same_device(o, &v, |x| &mut x.info));
            if !found {
                return Err(missing("matching vsock device not found"));
            }
            Ok(devs.vsock.take().and_then(|o| alias(&o.info)))
        }
        Device::Other(e) => detach_other(def, &e, &type_name),
        _ => Err(unsupported("detach", &type_name)),
    }
}

/// Detaches a lease, shared memory or memory device (kept untyped).
fn detach_other(
    def: &mut Domain,
    e: &Element,
    type_name: &str,
) -> Result<Option<String>, VirError> {
    let others = &mut def.devices.others;
    let (pos, err) = match e.name.as_str() {
        "lease" => (
            others.iter().position(|o| same_lease(o, e)),
            format!(
                "Lease {} in lockspace {} does not exist",
                child_text(e, "key").unwrap_or_default(),
                child_text(e, "lockspace").unwrap_or_default()
            ),
        ),
        "shmem" => (
            others.iter().position(|o| same_shmem(o, e)),
            "matching shmem device was not found".to_string(),
        ),
        "memory" => (
            others
                .iter()
                .position(|o| o.name == "memory" && without_info(o) == without_info(e)),
            "matching memory device was not found".to_string(),
        ),
        _ => return Err(unsupported("detach", type_name)),
    };
    let pos = pos.ok_or_else(|| missing(err))?;
    let removed = others.remove(pos);
    Ok(removed
        .child("alias")
        .and_then(|a| a.attr("name"))
        .map(str::to_string))
}
