//! Attribute and text readers shared by the tuning, CPU and memory models, reporting
//! problems in the words of libvirt's `virXMLProp*` and `virXPath*` helpers.

use oxvirt_xml::model::XmlEnum;
use oxvirt_xml::types::cpuset::CpuSet;
use oxvirt_xml::types::size::parse_u64_strict;
use oxvirt_xml::{Cursor, Element, Result, XmlError};

/// C's `isspace`.
fn is_c_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\u{b}' | '\u{c}' | '\r')
}

/// A base-10 `unsigned int` as `virStrToLong_uip` reads it: leading whitespace and `+`
/// allowed, no sign, nothing after the digits.
pub(crate) fn parse_u32(text: &str) -> Option<u32> {
    parse_u64_strict(text).and_then(|v| u32::try_from(v).ok())
}

/// A base-10 `int` as `virStrToLong_i` reads it.
pub(crate) fn parse_i32(text: &str) -> Option<i32> {
    parse_i64(text).and_then(|v| i32::try_from(v).ok())
}

/// A base-10 `long long` as `virStrToLong_ll` reads it.
pub(crate) fn parse_i64(text: &str) -> Option<i64> {
    let t = text.trim_start_matches(is_c_space);
    let (neg, digits) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let magnitude: u64 = digits.parse().ok()?;
    if neg {
        if magnitude == 1u64 << 63 {
            Some(i64::MIN)
        } else {
            i64::try_from(magnitude).ok().map(|v| -v)
        }
    } else {
        i64::try_from(magnitude).ok()
    }
}

/// libvirt's message for a missing required attribute.
pub(crate) fn missing(el: &Element, name: &str) -> XmlError {
    XmlError::xml(format!(
        "Missing required attribute '{name}' in element '{}'",
        el.name
    ))
    .at(el.position)
}

/// Reads an `unsigned int` attribute as `virXMLPropUInt` does (base 10).
pub(crate) fn uint(
    c: &mut Cursor<'_>,
    name: &str,
    required: bool,
    nonzero: bool,
) -> Result<Option<u32>> {
    let el = c.element();
    let Some(v) = c.attr(name) else {
        return if required {
            Err(missing(el, name))
        } else {
            Ok(None)
        };
    };
    let Some(n) = parse_u32(v) else {
        return Err(c.invalid_value(name, v, "Expected non-negative integer value"));
    };
    if nonzero && n == 0 {
        return Err(zero_not_permitted(el, name));
    }
    Ok(Some(n))
}

/// A required `unsigned int` attribute.
pub(crate) fn required_uint(c: &mut Cursor<'_>, name: &str, nonzero: bool) -> Result<u32> {
    let el = c.element();
    uint(c, name, true, nonzero)?.ok_or_else(|| missing(el, name))
}

fn zero_not_permitted(el: &Element, name: &str) -> XmlError {
    XmlError::xml(format!(
        "Invalid value for attribute '{name}' in element '{}': Zero is not permitted",
        el.name
    ))
    .at(el.position)
}

/// Reads an `int` attribute as `virXMLPropInt` does (base 10).
pub(crate) fn int(
    c: &mut Cursor<'_>,
    name: &str,
    required: bool,
    nonnegative: bool,
) -> Result<Option<i32>> {
    let el = c.element();
    let Some(v) = c.attr(name) else {
        return if required {
            Err(missing(el, name))
        } else {
            Ok(None)
        };
    };
    let Some(n) = parse_i32(v) else {
        return Err(c.invalid_value(name, v, "Expected integer value"));
    };
    if nonnegative && n < 0 {
        return Err(c.invalid_value(name, v, "Expected non-negative value"));
    }
    Ok(Some(n))
}

/// Reads an enumerated attribute as `virXMLPropEnum` does.
pub(crate) fn enumeration<T: XmlEnum>(
    c: &mut Cursor<'_>,
    name: &str,
    required: bool,
) -> Result<Option<T>> {
    let el = c.element();
    match c.enum_attr::<T>(name)? {
        Some(v) => Ok(Some(v)),
        None if required => Err(missing(el, name)),
        None => Ok(None),
    }
}

/// Reads a `yes`/`no` attribute as `virXMLPropTristateBool` does.
pub(crate) fn yes_no(c: &mut Cursor<'_>, name: &str, required: bool) -> Result<Option<bool>> {
    two_words(c, name, required, "yes", "no")
}

/// Reads an `on`/`off` attribute as `virXMLPropTristateSwitch` does.
pub(crate) fn on_off(c: &mut Cursor<'_>, name: &str, required: bool) -> Result<Option<bool>> {
    two_words(c, name, required, "on", "off")
}

fn two_words(
    c: &mut Cursor<'_>,
    name: &str,
    required: bool,
    yes: &str,
    no: &str,
) -> Result<Option<bool>> {
    let el = c.element();
    match c.attr(name) {
        None if required => Err(missing(el, name)),
        None => Ok(None),
        Some(v) if v == yes => Ok(Some(true)),
        Some(v) if v == no => Ok(Some(false)),
        Some(v) => Err(c.invalid_value(name, v, "")),
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

/// The text of `el` for numeric parsing the way `virXPath*` sees it: `None` when empty.
pub(crate) fn nonempty_text(el: &Element) -> Option<String> {
    let t = el.text();
    if t.is_empty() {
        None
    } else {
        Some(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxvirt_xml::parse;

    #[test]
    fn integers_read_like_libvirt() {
        assert_eq!(parse_u32(" 12"), Some(12));
        assert_eq!(parse_u32("+3"), Some(3));
        assert_eq!(parse_u32("-1"), None);
        assert_eq!(parse_u32("4294967296"), None);
        assert_eq!(parse_u32("1 "), None);
        assert_eq!(parse_i32("-5"), Some(-5));
        assert_eq!(parse_i64("-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64("x"), None);
    }

    #[test]
    fn messages() {
        let el = parse("<topology sockets='0' cores='x'/>").unwrap();
        let mut c = Cursor::new(&el);
        assert_eq!(
            uint(&mut c, "sockets", true, true).unwrap_err().message,
            "Invalid value for attribute 'sockets' in element 'topology': Zero is not permitted"
        );
        assert_eq!(
            uint(&mut c, "cores", true, true).unwrap_err().message,
            "Invalid value for attribute 'cores' in element 'topology': 'x'. Expected non-negative integer value"
        );
        assert_eq!(
            uint(&mut c, "threads", true, true).unwrap_err().message,
            "Missing required attribute 'threads' in element 'topology'"
        );
        let el = parse("<cell discard='maybe'/>").unwrap();
        let mut c = Cursor::new(&el);
        assert_eq!(
            yes_no(&mut c, "discard", false).unwrap_err().message,
            "Invalid value for attribute 'discard' in element 'cell': 'maybe'."
        );
        let err = nonempty_bitmap(&el, "cpuset", "0,^0").unwrap_err();
        assert_eq!(err.message, "Invalid value of 'cpuset': 0,^0");
    }
}
