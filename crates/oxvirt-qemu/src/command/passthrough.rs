//! `<qemu:commandline>`: extra arguments and environment variables given verbatim.

use oxvirt_domain::Domain;
use oxvirt_xml::Element;

/// The namespace of libvirt's QEMU-specific elements.
pub const QEMU_NS: &str = "http://libvirt.org/schemas/domain/qemu/1.0";

/// The children of every `<qemu:commandline>` element.
fn entries(domain: &Domain) -> impl Iterator<Item = &Element> {
    domain
        .namespaced
        .iter()
        .filter(|el| el.namespace.as_deref() == Some(QEMU_NS) && el.local_name() == "commandline")
        .flat_map(|el| el.elements())
}

/// The `<qemu:arg value=.../>` values, in order.
pub fn args(domain: &Domain) -> Vec<String> {
    entries(domain)
        .filter(|el| el.local_name() == "arg")
        .filter_map(|el| el.attr("value").map(str::to_string))
        .collect()
}

/// The `<qemu:env name=... value=.../>` variables, in order (an absent value is empty).
pub fn env(domain: &Domain) -> Vec<(String, String)> {
    entries(domain)
        .filter(|el| el.local_name() == "env")
        .filter_map(|el| {
            let name = el.attr("name")?;
            Some((name.to_string(), el.attr("value").unwrap_or("").to_string()))
        })
        .collect()
}
