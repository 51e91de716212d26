//! Formatting definitions as drivers' calls show them: domains (`virDomainGetXMLDesc`,
//! saved images) and snapshots (`virDomainSnapshotGetXMLDesc`), with what only the
//! `SECURE` flags show hidden the same way in both.

use crate::driver::flags::{snapshot_xml, xml};
use crate::driver::DomainRef;
use crate::snapshot::{DomainSnapshot, SnapshotDomain};
use crate::Domain;
use oxvirt_xml::{Element, Node as XmlNode, XmlModel};

/// Removes from a formatted `<domain>` (or a snapshot's `<inactiveDomain>`) what libvirt
/// writes only with `VIR_DOMAIN_DEF_FORMAT_SECURE`: graphics passwords and the cookies of
/// network disk sources (of each disk and of its backing chain).
///
/// `virDomainGetXMLDesc` and `virDomainSnapshotGetXMLDesc` without their `SECURE` flag
/// both hide them with this.
pub fn hide_secrets(domain: &mut Element) {
    for dev in children_mut(domain, "devices").flat_map(|d| d.children.iter_mut()) {
        let XmlNode::Element(dev) = dev else { continue };
        match dev.name.as_str() {
            "graphics" => dev.attributes.retain(|a| a.name != "passwd"),
            "disk" => hide_cookies(dev),
            _ => {}
        }
    }
}

/// Drops `<cookies>` from every `<source>` under `el`.
fn hide_cookies(el: &mut Element) {
    for child in el.children.iter_mut() {
        let XmlNode::Element(child) = child else {
            continue;
        };
        if child.name == "source" {
            child
                .children
                .retain(|n| !matches!(n, XmlNode::Element(c) if c.name == "cookies"));
        }
        hide_cookies(child);
    }
}

/// The child elements of `el` named `name`.
fn children_mut<'a>(el: &'a mut Element, name: &'a str) -> impl Iterator<Item = &'a mut Element> {
    el.children.iter_mut().filter_map(move |n| match n {
        XmlNode::Element(e) if e.name == name => Some(e),
        _ => None,
    })
}

/// Formats `def` as `virDomainDefFormat` does with the `VIR_DOMAIN_XML_*` `flags`: the ID
/// `id` unless the inactive form is asked for or the domain does not run, secrets only
/// with `VIR_DOMAIN_XML_SECURE`.
pub fn format_domain(def: &Domain, id: i32, flags: u32) -> String {
    let mut def = def.clone();
    def.id = (flags & xml::INACTIVE == 0 && id != -1).then_some(id);
    let mut el = def.to_element();
    if flags & xml::SECURE == 0 {
        hide_secrets(&mut el);
    }
    oxvirt_xml::to_string(&el)
}

/// The snapshot as `virDomainSnapshotGetXMLDesc` shows it with `flags`: without libvirt's
/// internal `<active>`, with the domain's UUID when the snapshot recorded no domain, and
/// with the secrets of its `<domain>` and `<inactiveDomain>` only with
/// `VIR_DOMAIN_SNAPSHOT_XML_SECURE`. The sources of its `<disks>` never show cookies
/// (libvirt formats them without the secure flag whatever the caller asks).
pub fn format_snapshot(def: &DomainSnapshot, dom: &DomainRef, flags: u32) -> String {
    let mut def = def.clone();
    def.active = None;
    if def.domain.is_none() {
        def.domain = Some(SnapshotDomain::Legacy {
            uuid: Some(dom.uuid.to_string()),
            unknown: Default::default(),
        });
    }
    let mut el = def.to_element();
    for disk in children_mut(&mut el, "disks").flat_map(|d| d.children.iter_mut()) {
        if let XmlNode::Element(disk) = disk {
            hide_cookies(disk);
        }
    }
    if flags & snapshot_xml::SECURE == 0 {
        for name in ["domain", "inactiveDomain"] {
            children_mut(&mut el, name).for_each(hide_secrets);
        }
    }
    oxvirt_xml::to_string(&el)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOMAIN: &str = "<domain type='test'><name>s</name>\
        <uuid>11111111-2222-3333-4444-555555555555</uuid><memory>1024</memory>\
        <os><type>hvm</type></os><devices>\
        <disk type='network' device='disk'><source protocol='http' name='/y.img'>\
        <host name='h.example' port='80'/><cookies><cookie name='c'>v</cookie></cookies>\
        </source><target dev='vda' bus='virtio'/></disk>\
        <graphics type='vnc' passwd='pw'/></devices></domain>";

    fn snapshot() -> DomainSnapshot {
        let inactive = DOMAIN
            .replace("<domain", "<inactiveDomain")
            .replace("</domain>", "</inactiveDomain>");
        let xml = format!(
            "<domainsnapshot><name>s1</name><state>running</state>\
             <creationTime>1</creationTime><disks><disk name='vda' snapshot='external' \
             type='network'><source protocol='http' name='/x.img'><host name='h.example' \
             port='80'/><cookies><cookie name='c'>v</cookie></cookies></source></disk>\
             </disks>{DOMAIN}{inactive}</domainsnapshot>"
        );
        let flags = crate::snapshot::SnapshotParseFlags {
            redefine: true,
            internal: false,
            offline: false,
        };
        DomainSnapshot::parse_with(&xml, flags).unwrap().snapshot
    }

    fn dom() -> DomainRef {
        DomainRef {
            name: "s".into(),
            uuid: "11111111-2222-3333-4444-555555555555".parse().unwrap(),
            id: -1,
        }
    }

    #[test]
    fn domains_show_secrets_only_when_asked() {
        let def = Domain::parse(DOMAIN).unwrap().domain;
        let plain = format_domain(&def, 3, 0);
        assert!(
            !plain.contains("passwd") && !plain.contains("cookie"),
            "{plain}"
        );
        assert!(plain.starts_with("<domain type='test' id='3'>"));
        let secure = format_domain(&def, 3, xml::SECURE | xml::INACTIVE);
        assert!(secure.contains(" passwd='pw'"), "{secure}");
        assert!(secure.contains("<cookie name='c'>v</cookie>"), "{secure}");
        assert!(secure.starts_with("<domain type='test'>"));
    }

    #[test]
    fn snapshots_hide_the_secrets_of_both_domains_as_xml_desc_does() {
        let plain = format_snapshot(&snapshot(), &dom(), 0);
        assert!(!plain.contains("passwd"), "{plain}");
        assert!(!plain.contains("cookie"), "{plain}");
        let secure = format_snapshot(&snapshot(), &dom(), snapshot_xml::SECURE);
        assert_eq!(secure.matches(" passwd='pw'").count(), 2, "{secure}");
        // Cookies show in the domains' disks, never in the snapshot's own <disks>.
        assert_eq!(secure.matches("<cookies>").count(), 2, "{secure}");
        let disks = &secure[secure.find("<disks>").unwrap()..secure.find("</disks>").unwrap()];
        assert!(!disks.contains("cookie"), "{disks}");
    }

    #[test]
    fn snapshots_without_a_domain_name_the_domains_uuid() {
        let mut def = snapshot();
        def.domain = None;
        def.inactive_domain = None;
        let xml = format_snapshot(&def, &dom(), 0);
        assert!(
            xml.contains("<domain>\n    <uuid>11111111-2222-3333-4444-555555555555</uuid>"),
            "{xml}"
        );
        assert!(!xml.contains("<active>"));
    }
}
