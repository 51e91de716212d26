//! `<virtualport>` as libvirt's `virNetDevVPortProfileParse` reads it and
//! `virNetDevVPortProfileFormat` writes it: the type, and the `<parameters>` it knows, in
//! libvirt's order. The model keeps it as an element in that normal form.

use oxvirt_xml::model::str_to_long_ui;
use oxvirt_xml::types::Uuid;
use oxvirt_xml::{Element, ErrorCode, VirError};

use super::{err, xml_err};

const TYPES: &[&str] = &["802.1Qbg", "802.1Qbh", "openvswitch", "midonet"];

/// The `<parameters>` attributes, in the order libvirt writes them, with the largest value
/// of the numeric ones (`None`: a UUID or a string).
const PARAMETERS: &[(&str, Option<u32>)] = &[
    ("managerid", Some(0xff)),
    ("typeid", Some(0xff_ffff)),
    ("typeidversion", Some(0xff)),
    ("instanceid", None),
    ("interfaceid", None),
    ("profileid", None),
];

/// libvirt's `LIBVIRT_IFLA_VF_PORT_PROFILE_MAX` less one: the longest profile id.
const PROFILEID_MAX: usize = 39;

/// Reads a `<virtualport>` (`type` required for the network's own, not for a portgroup's)
/// into libvirt's normal form, with its checks and messages.
pub(crate) fn parse_virtualport(el: &Element, require_type: bool) -> Result<Element, VirError> {
    let mut out = Element::new("virtualport");
    match el.attr("type") {
        Some(t) if TYPES.contains(&t) => out.set_attr("type", t),
        Some(t) => {
            return Err(err(
                ErrorCode::ConfigUnsupported,
                format!("unknown virtualport type {t}"),
            ))
        }
        None if require_type => return Err(xml_err("missing required virtualport type")),
        None => {}
    }
    let Some(params) = el.elements().find(|e| e.name == "parameters") else {
        return Ok(out);
    };
    let mut p = Element::new("parameters");
    for (name, max) in PARAMETERS {
        let Some(v) = params.attr(name) else {
            continue;
        };
        let value = match (max, *name) {
            (Some(max), _) => {
                let Some(n) = str_to_long_ui(v, 10) else {
                    return Err(xml_err(format!("cannot parse value of {name} parameter")));
                };
                if n > *max {
                    return Err(xml_err(format!("value of {name} out of range")));
                }
                n.to_string()
            }
            (None, "profileid") => {
                if v.len() > PROFILEID_MAX {
                    return Err(xml_err("profileid parameter too long"));
                }
                v.to_string()
            }
            (None, _) => match Uuid::try_parse(v) {
                Some(u) => u.to_string(),
                None => return Err(xml_err(format!("cannot parse {name} parameter as a uuid"))),
            },
        };
        p.set_attr(name, value);
    }
    if !p.attributes.is_empty() {
        out.push(p);
    }
    Ok(out)
}
