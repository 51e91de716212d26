//! Small reading and writing helpers the models share. libvirt's `virXMLProp*` attribute
//! readers are methods of [`Cursor`] (`prop_uint`, `prop_yes_no`, ...); what is here has no
//! single libvirt counterpart.

use oxvirt_xml::model::XmlEnum;
use oxvirt_xml::types::cpuset::CpuSet;
use oxvirt_xml::{Context, Cursor, Element, Result, Warning, XmlError};

/// Ends reading an element whose values were folded into its parent's fields: anything left
/// on it is reported as ignored, as libvirt ignores it.
pub(crate) fn finish_leaf(c: Cursor<'_>, ctx: &mut Context) {
    let el = c.element();
    let mut scratch = Context::default();
    let rest = c.finish(&mut scratch);
    for a in &rest.attributes {
        if a.name == "xmlns" || a.name.starts_with("xmlns:") {
            continue;
        }
        ctx.warnings.push(Warning {
            position: el.position,
            message: format!(
                "unknown attribute '{}' in element '{}' ignored",
                a.name, el.name
            ),
        });
    }
    for e in rest.elements() {
        ctx.warnings.push(Warning {
            position: e.position,
            message: format!("unknown element '{}' in '{}' ignored", e.name, el.name),
        });
    }
}

/// A text as `virXPathString` returns it: `None` when empty.
pub(crate) fn non_empty(text: String) -> Option<String> {
    if text.is_empty() {
        None
    } else {
        Some(text)
    }
}

/// The text of `el` the way `virXPath*` sees it: `None` when empty.
pub(crate) fn nonempty_text(el: &Element) -> Option<String> {
    non_empty(el.text())
}

/// Takes the first child `name` and returns its text, `None` when absent or empty. What else
/// the child carries is reported as ignored.
pub(crate) fn child_string(c: &mut Cursor<'_>, name: &str, ctx: &mut Context) -> Option<String> {
    let el = c.child(name)?;
    let mut cc = Cursor::new(el);
    let text = cc.text();
    finish_leaf(cc, ctx);
    non_empty(text)
}

/// The text of a child element as libvirt's `virXPathString` reads it: an empty text is
/// absent. The element is taken either way.
pub(crate) fn child_text_nonempty(c: &mut Cursor<'_>, name: &str) -> Option<String> {
    c.child_text(name).and_then(non_empty)
}

/// A `yes`/`no` attribute that libvirt reads with `virStringParseYesNo` and whose errors it
/// ignores: any other value is left untaken, so it is kept as written.
pub(crate) fn lenient_yes_no(c: &mut Cursor<'_>, name: &str) -> Option<bool> {
    match c.element().attr(name)? {
        "yes" => {
            c.attr(name);
            Some(true)
        }
        "no" => {
            c.attr(name);
            Some(false)
        }
        _ => None,
    }
}

/// An enum attribute whose first libvirt value is `default`: `default` is accepted and reads
/// as absent, as libvirt then writes nothing.
pub(crate) fn enum_or_default<T: XmlEnum>(c: &mut Cursor<'_>, name: &str) -> Result<Option<T>> {
    if c.element().attr(name) == Some("default") {
        c.attr(name);
        return Ok(None);
    }
    c.enum_attr(name)
}

/// An enum attribute that libvirt reads with its `TypeFromString` and rejects with
/// `unknown WHAT 'VALUE'` (`VIR_ERR_CONFIG_UNSUPPORTED`).
pub(crate) fn enum_unsupported<T: XmlEnum>(
    c: &mut Cursor<'_>,
    name: &str,
    what: &str,
) -> Result<Option<T>> {
    match c.attr(name) {
        None => Ok(None),
        Some(v) => T::from_xml_str(v).map(Some).ok_or_else(|| {
            XmlError::unsupported(format!("unknown {what} '{v}'")).at(c.element().position)
        }),
    }
}

/// Parses a CPU or node list from `el`, placing libvirt's bitmap error at the element.
pub(crate) fn bitmap(el: &Element, text: &str) -> Result<CpuSet> {
    CpuSet::parse(text).map_err(|e| e.at(el.position))
}

/// Parses a CPU or node list that must not be empty, as libvirt's pinning attributes do:
/// an empty set is `Invalid value of 'ATTR': TEXT`.
pub(crate) fn nonempty_bitmap(el: &Element, attr: &str, text: &str) -> Result<CpuSet> {
    let set = bitmap(el, text)?;
    if set.is_empty() {
        return Err(
            XmlError::unsupported(format!("Invalid value of '{attr}': {text}")).at(el.position),
        );
    }
    Ok(set)
}

/// libvirt's `virFileSanitizePath`: collapses repeated slashes and drops a trailing one,
/// keeping a leading `//` as POSIX allows.
pub(crate) fn sanitize_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut rest = path;
    if path.starts_with("//") && !path.starts_with("///") {
        out.push_str("//");
        rest = &path[2..];
    }
    let mut prev_slash = out.ends_with('/');
    for ch in rest.chars() {
        if ch == '/' {
            if prev_slash {
                continue;
            }
            prev_slash = true;
        } else {
            prev_slash = false;
        }
        out.push(ch);
    }
    if out.len() > 1 && out.ends_with('/') && out != "//" {
        out.pop();
    }
    out
}

/// libvirt's `virFormatIntPretty`: the value in the largest binary unit that divides it.
pub(crate) fn pretty_bytes(bytes: u64) -> (u64, &'static str) {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes == 0 {
        return (0, "B");
    }
    let mut value = bytes;
    let mut unit = 0;
    while unit + 1 < UNITS.len() && value % 1024 == 0 {
        value /= 1024;
        unit += 1;
    }
    (value, UNITS[unit])
}

/// libvirt's error when an error has no message of its own.
pub(crate) fn unknown_cause() -> XmlError {
    XmlError::internal("An error occurred, but the cause is unknown")
}

/// Reads model `T` from an XML snippet, for tests.
#[cfg(test)]
pub(crate) fn read_model<T: oxvirt_xml::XmlModel>(xml: &str) -> oxvirt_xml::Result<T> {
    T::from_element(
        &oxvirt_xml::parse(xml)?,
        &mut oxvirt_xml::Context::default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_sanitized_like_libvirt() {
        assert_eq!(sanitize_path("/dev//input///event1/"), "/dev/input/event1");
        assert_eq!(sanitize_path("//foo"), "//foo");
        assert_eq!(sanitize_path("///foo"), "/foo");
        assert_eq!(sanitize_path("/"), "/");
    }

    #[test]
    fn sizes_are_pretty_printed() {
        assert_eq!(pretty_bytes(48 * 1024 * 1024), (48, "MiB"));
        assert_eq!(pretty_bytes(1000), (1000, "B"));
        assert_eq!(pretty_bytes(0), (0, "B"));
    }

    #[test]
    fn empty_bitmaps_are_refused_where_libvirt_refuses_them() {
        let el = oxvirt_xml::parse("<cell/>").unwrap();
        let err = nonempty_bitmap(&el, "cpuset", "0,^0").unwrap_err();
        assert_eq!(err.message, "Invalid value of 'cpuset': 0,^0");
    }

    #[test]
    fn lenient_yes_no_keeps_other_values() {
        let el = oxvirt_xml::parse("<g a='yes' b='maybe'/>").unwrap();
        let mut c = Cursor::new(&el);
        assert_eq!(lenient_yes_no(&mut c, "a"), Some(true));
        assert_eq!(lenient_yes_no(&mut c, "b"), None);
        let rest = c.finish(&mut Context::default());
        assert_eq!(rest.attributes.len(), 1);
    }
}
