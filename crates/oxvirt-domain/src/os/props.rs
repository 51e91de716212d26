//! Attribute readers with libvirt's `virXMLProp*` semantics and messages, and the small
//! pieces of device info (`<alias>`, virtio `<driver>` options) that several elements share.

use oxvirt_xml::model::parse_c_uint;
use oxvirt_xml::{Builder, Context, Cursor, Element, Result, Unknown, Warning, XmlError, XmlModel};

/// Parses an unsigned decimal as `virStrToLong_uip`/`ullp` with base 10 do: leading
/// whitespace and one `+` allowed, no sign, nothing after the digits.
pub(crate) fn parse_u64_10(v: &str) -> Option<u64> {
    oxvirt_xml::types::size::parse_u64_strict(v)
}

/// Parses a signed decimal as `virStrToLong_i`/`ll` with base 10 do.
pub(crate) fn parse_i64_10(v: &str) -> Option<i64> {
    let t = v.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let magnitude: i128 = digits.parse().ok()?;
    let value = if neg { -magnitude } else { magnitude };
    i64::try_from(value).ok()
}

/// `virXMLPropUInt` with base 10: an unsigned 32-bit decimal attribute.
pub(crate) fn uint(c: &mut Cursor<'_>, name: &str) -> Result<Option<u32>> {
    let Some(v) = c.attr(name) else {
        return Ok(None);
    };
    match parse_u64_10(v).and_then(|n| u32::try_from(n).ok()) {
        Some(n) => Ok(Some(n)),
        None => Err(c.invalid_value(name, v, "Expected non-negative integer value")),
    }
}

/// `virXMLPropUInt` with base 0 (decimal, `0x` hex or leading-zero octal).
pub(crate) fn uint_any_base(c: &mut Cursor<'_>, name: &str) -> Result<Option<u32>> {
    let Some(v) = c.attr(name) else {
        return Ok(None);
    };
    match parse_c_uint(v).and_then(|n| u32::try_from(n).ok()) {
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
        other => Ok(other),
    }
}

/// `virXMLPropULongLong` with base 10.
pub(crate) fn ulong(c: &mut Cursor<'_>, name: &str) -> Result<Option<u64>> {
    let Some(v) = c.attr(name) else {
        return Ok(None);
    };
    match parse_u64_10(v) {
        Some(n) => Ok(Some(n)),
        None => Err(c.invalid_value(name, v, "Expected non-negative integer value")),
    }
}

/// `virXMLPropInt` with base 10.
pub(crate) fn int(c: &mut Cursor<'_>, name: &str) -> Result<Option<i32>> {
    let Some(v) = c.attr(name) else {
        return Ok(None);
    };
    match parse_i64_10(v).and_then(|n| i32::try_from(n).ok()) {
        Some(n) => Ok(Some(n)),
        None => Err(c.invalid_value(name, v, "Expected integer value")),
    }
}

/// `virXMLPropTristateBool`: `yes` or `no`.
pub(crate) fn yes_no(c: &mut Cursor<'_>, name: &str) -> Result<Option<bool>> {
    match c.attr(name) {
        None => Ok(None),
        Some("yes") => Ok(Some(true)),
        Some("no") => Ok(Some(false)),
        Some(v) => Err(c.invalid_value(name, v, "")),
    }
}

/// `virXMLPropTristateSwitch`: `on` or `off`.
pub(crate) fn on_off(c: &mut Cursor<'_>, name: &str) -> Result<Option<bool>> {
    match c.attr(name) {
        None => Ok(None),
        Some("on") => Ok(Some(true)),
        Some("off") => Ok(Some(false)),
        Some(v) => Err(c.invalid_value(name, v, "")),
    }
}

/// A required attribute read by `read`, failing with libvirt's message when absent.
pub(crate) fn required<T>(
    c: &mut Cursor<'_>,
    name: &str,
    read: impl FnOnce(&mut Cursor<'_>, &str) -> Result<Option<T>>,
) -> Result<T> {
    match read(c, name)? {
        Some(v) => Ok(v),
        None => Err(c.error(format!(
            "Missing required attribute '{name}' in element '{}'",
            c.element().name
        ))),
    }
}

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

/// The text of an element as `virXPathString` returns it: `None` when empty.
pub(crate) fn non_empty(text: String) -> Option<String> {
    if text.is_empty() {
        None
    } else {
        Some(text)
    }
}

/// Takes the first child `name` and returns its text, `None` when absent or empty.
pub(crate) fn child_string(c: &mut Cursor<'_>, name: &str, ctx: &mut Context) -> Option<String> {
    let el = c.child(name)?;
    let mut cc = Cursor::new(el);
    let text = cc.text();
    finish_leaf(cc, ctx);
    non_empty(text)
}

/// Reads `<alias name='...'/>`, the user-visible device alias.
pub(crate) fn alias(c: &mut Cursor<'_>, ctx: &mut Context) -> Option<String> {
    let el = c.child("alias")?;
    let mut ac = Cursor::new(el);
    let name = ac.attr_string("name");
    finish_leaf(ac, ctx);
    name
}

/// Writes `<alias name='...'/>` when there is an alias.
pub(crate) fn write_alias(b: &mut Builder, alias: Option<&str>) {
    if let Some(a) = alias {
        b.child(Element::new("alias").with_attr("name", a));
    }
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

/// The virtio options a device's `<driver>` element can carry (`virDomainVirtioOptions`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VirtioOptions {
    /// `iommu='on|off'`: use the IOMMU for DMA.
    pub iommu: Option<bool>,
    /// `ats='on|off'`: address translation services.
    pub ats: Option<bool>,
    /// `packed='on|off'`: packed virtqueues.
    pub packed: Option<bool>,
    /// `page_per_vq='on|off'`: one page per virtqueue for notifications.
    pub page_per_vq: Option<bool>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl VirtioOptions {
    /// Whether nothing is set, so that libvirt would not write the element.
    pub fn is_empty(&self) -> bool {
        self.iommu.is_none()
            && self.ats.is_none()
            && self.packed.is_none()
            && self.page_per_vq.is_none()
            && self.unknown.is_empty()
    }

    /// The `<driver>` element, or `None` when libvirt would write nothing.
    pub fn element(options: Option<&VirtioOptions>) -> Option<Element> {
        options.filter(|o| !o.is_empty()).map(XmlModel::to_element)
    }
}

impl XmlModel for VirtioOptions {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        Ok(VirtioOptions {
            iommu: on_off(&mut c, "iommu")?,
            ats: on_off(&mut c, "ats")?,
            packed: on_off(&mut c, "packed")?,
            page_per_vq: on_off(&mut c, "page_per_vq")?,
            unknown: c.finish(ctx),
        })
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("driver");
        b.on_off("iommu", self.iommu)
            .on_off("ats", self.ats)
            .on_off("packed", self.packed)
            .on_off("page_per_vq", self.page_per_vq);
        b.finish(&self.unknown)
    }
}

/// libvirt's error when an error has no message of its own.
pub(crate) fn unknown_cause() -> XmlError {
    XmlError::internal("An error occurred, but the cause is unknown")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_parsers_follow_strtol() {
        assert_eq!(parse_u64_10(" +12"), Some(12));
        assert_eq!(parse_u64_10("0x10"), None);
        assert_eq!(parse_u64_10("-1"), None);
        assert_eq!(parse_i64_10("-5"), Some(-5));
        assert_eq!(parse_i64_10("5 "), None);
    }

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
    fn zero_is_refused_where_libvirt_refuses_it() {
        let el = oxvirt_xml::parse("<audio id='0'/>").unwrap();
        let err = uint_nonzero(&mut Cursor::new(&el), "id").unwrap_err();
        assert_eq!(
            err.message,
            "Invalid value for attribute 'id' in element 'audio': Zero is not permitted"
        );
    }
}
