//! Device aliases (`<alias name=.../>`): the ones a definition keeps, and the ones libvirt's
//! QEMU driver gives devices, which the hotplug events name.
//!
//! The test driver parses every definition as an inactive one, so, as libvirt does, it keeps
//! only user aliases (`ua-` and then letters, digits, `_` and `-`); any other alias is the
//! hypervisor's to give and is dropped.
//!
//! libvirt 9.0's test driver has no device hotplug; ours attaches and detaches devices of
//! a running domain and reports what libvirt's QEMU driver reports: `device-added` with the
//! alias the device got (`qemuAssign*Alias` in `qemu_alias.c`), `device-removed` with the
//! alias of the device that went. The test driver's running domains show no aliases (as
//! libvirt's do not), so a device that has none is named by the alias the QEMU driver gave
//! it when the domain started (`qemuAssignDeviceAliases`).

use oxvirt_domain::devices::info::DeviceInfo;
use oxvirt_domain::{Devices, Domain};
use oxvirt_xml::{Element, Node as XmlNode};

mod qemu;

pub(crate) use qemu::{hotplug_alias, with_start_aliases};

/// The prefix of an alias a user may give (`VIR_DOMAIN_DEF_FEATURE_USER_ALIAS`).
const USER_PREFIX: &str = "ua-";

/// Whether `name` is a user alias libvirt keeps in an inactive definition.
pub(crate) fn is_user_alias(name: &str) -> bool {
    name.starts_with(USER_PREFIX)
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Every typed device's info in `devs`.
fn infos_mut(devs: &mut Devices) -> Vec<&mut DeviceInfo> {
    let mut out: Vec<&mut DeviceInfo> = Vec::new();
    out.extend(devs.disks.iter_mut().map(|d| &mut d.info));
    out.extend(devs.controllers.iter_mut().map(|d| &mut d.info));
    out.extend(devs.filesystems.iter_mut().map(|d| &mut d.info));
    out.extend(devs.interfaces.iter_mut().map(|d| &mut d.info));
    out.extend(devs.smartcards.iter_mut().map(|d| &mut d.info));
    for list in [
        &mut devs.serials,
        &mut devs.parallels,
        &mut devs.consoles,
        &mut devs.channels,
    ] {
        out.extend(list.iter_mut().map(|d| &mut d.info));
    }
    out.extend(devs.inputs.iter_mut().map(|d| &mut d.info));
    out.extend(devs.tpms.iter_mut().map(|d| &mut d.info));
    out.extend(devs.sounds.iter_mut().map(|d| &mut d.info));
    out.extend(devs.videos.iter_mut().map(|d| &mut d.info));
    out.extend(devs.hostdevs.iter_mut().map(|d| &mut d.info));
    out.extend(devs.redirdevs.iter_mut().map(|d| &mut d.info));
    out.extend(devs.watchdogs.iter_mut().map(|d| &mut d.info));
    out.extend(devs.memballoon.iter_mut().map(|d| &mut d.info));
    out.extend(devs.rngs.iter_mut().map(|d| &mut d.info));
    out.extend(devs.panics.iter_mut().map(|d| &mut d.info));
    out.extend(devs.vsock.iter_mut().map(|d| &mut d.info));
    out
}

/// The alias of an untyped device element.
fn element_alias(el: &Element) -> Option<&str> {
    el.child("alias").and_then(|a| a.attr("name"))
}

/// Drops the `<alias>` of `el` unless it is a user alias; whether one was dropped.
fn drop_element_alias(el: &mut Element) -> bool {
    let before = el.children.len();
    el.children.retain(|n| {
        !matches!(n, XmlNode::Element(c)
            if c.name == "alias" && !c.attr("name").is_some_and(is_user_alias))
    });
    el.children.len() != before
}

/// Gives `el` the alias `name`, before its `<address>` as libvirt writes them.
fn set_element_alias(el: &mut Element, name: &str) {
    let alias = XmlNode::Element(Element::new("alias").with_attr("name", name));
    let at = el
        .children
        .iter()
        .position(|n| matches!(n, XmlNode::Element(c) if c.name == "address"))
        .unwrap_or(el.children.len());
    el.children.insert(at, alias);
}

/// Drops every alias of `def` that is not a user alias, as libvirt's parse of an inactive
/// definition does (`virDomainDeviceInfoParseXML`).
pub(crate) fn drop_non_user_aliases(def: &mut Domain) {
    for info in infos_mut(&mut def.devices) {
        if !info.alias_name().is_some_and(is_user_alias) {
            info.alias = None;
        }
    }
    for el in &mut def.devices.others {
        drop_element_alias(el);
    }
}

/// A device document as the test driver reads it for `virDomainAttachDeviceFlags` and
/// `virDomainDetachDeviceFlags`: an inactive parse, which keeps only a user alias.
#[derive(Debug)]
pub(crate) struct DeviceDoc {
    /// The document without an alias libvirt would drop.
    xml: String,
    /// Its root element, if it is well-formed (else the calls report the parse error).
    root: Option<Element>,
}

impl DeviceDoc {
    /// Reads `xml`.
    pub(crate) fn new(xml: &str) -> Self {
        let Ok(mut root) = oxvirt_xml::parse(xml) else {
            return DeviceDoc {
                xml: xml.to_string(),
                root: None,
            };
        };
        let xml = if drop_element_alias(&mut root) {
            oxvirt_xml::to_string(&root)
        } else {
            xml.to_string()
        };
        DeviceDoc {
            xml,
            root: Some(root),
        }
    }

    /// The document to parse.
    pub(crate) fn xml(&self) -> &str {
        &self.xml
    }

    /// The user alias the document gives the device.
    fn user_alias(&self) -> Option<&str> {
        self.root.as_ref().and_then(element_alias)
    }

    /// Whether libvirt's QEMU driver can attach and detach this kind of device on a running
    /// domain (`qemuDomainAttachDeviceLive`, `qemuDomainDetachDeviceLive`), and so reports
    /// its arrival and removal by alias.
    pub(crate) fn hotpluggable(&self) -> bool {
        self.root.as_ref().is_some_and(|r| {
            matches!(
                r.name.as_str(),
                "disk"
                    | "controller"
                    | "interface"
                    | "hostdev"
                    | "redirdev"
                    | "serial"
                    | "parallel"
                    | "console"
                    | "channel"
                    | "rng"
                    | "memory"
                    | "shmem"
                    | "watchdog"
                    | "input"
                    | "vsock"
                    | "filesystem"
            )
        })
    }

    /// The document to attach to the running domain `live`, and the alias the device gets:
    /// its user alias, or the one libvirt's QEMU driver gives a device hotplugged into
    /// `live` (none for kinds it cannot hotplug, or a document that does not parse).
    pub(crate) fn for_live_attach(&self, live: &Domain) -> (String, Option<String>) {
        if let Some(alias) = self.user_alias() {
            return (self.xml.clone(), Some(alias.to_string()));
        }
        let (Some(root), true) = (&self.root, self.hotpluggable()) else {
            return (self.xml.clone(), None);
        };
        let Ok(dev) = oxvirt_domain::objects::devices::parse_device(&self.xml, live) else {
            return (self.xml.clone(), None);
        };
        let Some(alias) = hotplug_alias(&with_start_aliases(live), &dev) else {
            return (self.xml.clone(), None);
        };
        let mut root = root.clone();
        set_element_alias(&mut root, &alias);
        (oxvirt_xml::to_string(&root), Some(alias))
    }
}

/// The alias of the device `doc` names in the running domain `live`, as libvirt's QEMU
/// driver reports its removal: its own, or the one it got when the domain started. `None`
/// for kinds the QEMU driver cannot detach live, or when no device matches (the detach
/// itself then reports why).
pub(crate) fn detached_alias(live: &Domain, doc: &DeviceDoc) -> Option<String> {
    if !doc.hotpluggable() {
        return None;
    }
    let mut aliased = with_start_aliases(live);
    oxvirt_domain::objects::devices::detach_device(&mut aliased, doc.xml())
        .ok()
        .flatten()
}

#[cfg(test)]
mod tests;
