//! Attribute readers that follow libvirt's `virXMLProp*` helpers: the values they accept and
//! the messages they fail with. Shared by the interface, chardev, graphics and video models.

use oxvirt_xml::model::XmlEnum;
use oxvirt_xml::{Cursor, Result, XmlError};

/// Parses a base-10 unsigned number the way `virStrToLong_uip` does: leading white space
/// and `+` allowed, no sign `-`, nothing after the digits, at most `u32::MAX`.
pub(crate) fn parse_uip(v: &str) -> Option<u32> {
    let s = v.trim_start();
    let s = s.strip_prefix('+').unwrap_or(s);
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u32>().ok()
}

/// Parses a base-10 signed number the way `virStrToLong_i` does.
pub(crate) fn parse_i(v: &str) -> Option<i32> {
    let s = v.trim_start();
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: i64 = digits.parse().ok()?;
    i32::try_from(if neg { -n } else { n }).ok()
}

/// Parses a number the way `virStrToLong_ui` does: like [`parse_uip`], but a leading `-`
/// wraps around (`-1` is `u32::MAX`).
pub(crate) fn parse_ui(v: &str) -> Option<u32> {
    let s = v.trim_start();
    match s.strip_prefix('-') {
        Some(rest) => {
            let n = parse_uip(rest)?;
            Some(0u32.wrapping_sub(n))
        }
        None => parse_uip(s),
    }
}

/// `virXMLPropUInt` (base 10): an optional unsigned attribute.
pub(crate) fn uint(c: &mut Cursor<'_>, name: &str) -> Result<Option<u32>> {
    let Some(v) = c.attr(name) else {
        return Ok(None);
    };
    match parse_uip(v) {
        Some(n) => Ok(Some(n)),
        None => Err(c.invalid_value(name, v, "Expected non-negative integer value")),
    }
}

/// `virXMLPropUInt` with `VIR_XML_PROP_NONZERO`.
pub(crate) fn uint_nonzero(c: &mut Cursor<'_>, name: &str) -> Result<Option<u32>> {
    match uint(c, name)? {
        Some(0) => Err(c.error(format!(
            "Invalid value for attribute '{name}' in element '{}': Zero is not permitted",
            c.element().name
        ))),
        v => Ok(v),
    }
}

/// `virXMLPropUInt` with `VIR_XML_PROP_REQUIRED`.
pub(crate) fn required_uint(c: &mut Cursor<'_>, name: &str) -> Result<u32> {
    match uint(c, name)? {
        Some(v) => Ok(v),
        None => Err(missing(c, name)),
    }
}

/// `virXMLPropInt` (base 10): an optional signed attribute.
pub(crate) fn int(c: &mut Cursor<'_>, name: &str) -> Result<Option<i32>> {
    let Some(v) = c.attr(name) else {
        return Ok(None);
    };
    match parse_i(v) {
        Some(n) => Ok(Some(n)),
        None => Err(c.invalid_value(name, v, "Expected integer value")),
    }
}

/// libvirt's error for a missing required attribute.
pub(crate) fn missing(c: &Cursor<'_>, name: &str) -> XmlError {
    c.error(format!(
        "Missing required attribute '{name}' in element '{}'",
        c.element().name
    ))
}

/// `virXMLPropTristateBool`: `yes` or `no`, anything else is an error.
pub(crate) fn yes_no(c: &mut Cursor<'_>, name: &str) -> Result<Option<bool>> {
    two_way(c, name, "yes", "no")
}

/// `virXMLPropTristateSwitch`: `on` or `off`, anything else is an error.
pub(crate) fn on_off(c: &mut Cursor<'_>, name: &str) -> Result<Option<bool>> {
    two_way(c, name, "on", "off")
}

fn two_way(c: &mut Cursor<'_>, name: &str, t: &str, f: &str) -> Result<Option<bool>> {
    match c.attr(name) {
        None => Ok(None),
        Some(v) if v == t => Ok(Some(true)),
        Some(v) if v == f => Ok(Some(false)),
        Some(v) => Err(c.invalid_value(name, v, "")),
    }
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

/// A required enum attribute (`virXMLPropEnum` with `VIR_XML_PROP_REQUIRED`).
pub(crate) fn required_enum<T: XmlEnum>(c: &mut Cursor<'_>, name: &str) -> Result<T> {
    match c.enum_attr(name)? {
        Some(v) => Ok(v),
        None => Err(missing(c, name)),
    }
}

/// `yes`/`no` for writing.
pub(crate) fn yn(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// `on`/`off` for writing.
pub(crate) fn onoff(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_follow_libvirt() {
        assert_eq!(parse_uip(" +12"), Some(12));
        assert_eq!(parse_uip("-1"), None);
        assert_eq!(parse_uip("0x10"), None);
        assert_eq!(parse_uip("4294967296"), None);
        assert_eq!(parse_ui("-1"), Some(u32::MAX));
        assert_eq!(parse_i("-5"), Some(-5));
        assert_eq!(parse_i("5a"), None);
        assert_eq!(parse_i("2147483648"), None);
    }

    #[test]
    fn messages() {
        let el = oxvirt_xml::parse("<driver queues='-5' a='maybe' z='0'/>").unwrap();
        let mut c = Cursor::new(&el);
        assert_eq!(
            uint(&mut c, "queues").unwrap_err().message,
            "Invalid value for attribute 'queues' in element 'driver': '-5'. Expected \
             non-negative integer value"
        );
        assert_eq!(
            yes_no(&mut c, "a").unwrap_err().message,
            "Invalid value for attribute 'a' in element 'driver': 'maybe'."
        );
        assert_eq!(
            uint_nonzero(&mut c, "z").unwrap_err().message,
            "Invalid value for attribute 'z' in element 'driver': Zero is not permitted"
        );
        assert_eq!(
            required_uint(&mut c, "x").unwrap_err().message,
            "Missing required attribute 'x' in element 'driver'"
        );
    }
}
