//! What pools and volumes share: `<permissions>`, path clean-up, sizes with units, and
//! XPath-like reading helpers.

use oxvirt_xml::model::{str_to_long_i, str_to_long_ullp};
use oxvirt_xml::{Element, ErrorCode, VirError};

use super::{err, xml_err};

/// The result of reading.
pub(crate) type Res<T> = Result<T, VirError>;

/// `<permissions>` of a pool target or a volume: libvirt's `virStoragePerms`. Each field
/// is `None` when unset (libvirt's `-1`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Perms {
    /// `<mode>`: permission bits (at most `0777`).
    pub mode: Option<u32>,
    /// `<owner>`: user id.
    pub owner: Option<u32>,
    /// `<group>`: group id.
    pub group: Option<u32>,
    /// `<label>`: security label.
    pub label: Option<String>,
}

impl Perms {
    /// Whether nothing is set (libvirt then writes no `<permissions>`).
    pub fn is_empty(&self) -> bool {
        self.mode.is_none() && self.owner.is_none() && self.group.is_none() && self.label.is_none()
    }

    /// libvirt's `virStorageDefParsePerms` on a `<permissions>` element.
    pub(crate) fn parse(el: Option<&Element>) -> Res<Perms> {
        let Some(el) = el else {
            return Ok(Perms::default());
        };
        let mut perms = Perms::default();
        if let Some(mode) = child_text(el, "mode") {
            match str_to_long_i(&mode, 8) {
                Some(m) if m & !0o777 == 0 => perms.mode = Some(m as u32),
                _ => return Err(xml_err("malformed octal mode")),
            }
        }
        perms.owner = id(el, "owner", "malformed owner element")?;
        perms.group = id(el, "group", "malformed group element")?;
        perms.label = child_text(el, "label");
        Ok(perms)
    }

    /// The `<permissions>` element, or `None` when nothing is set.
    pub(crate) fn to_element(&self) -> Option<Element> {
        if self.is_empty() {
            return None;
        }
        let mut p = Element::new("permissions");
        if let Some(m) = self.mode {
            p.push(Element::new("mode").with_text(format!("0{m:o}")));
        }
        if let Some(o) = self.owner {
            p.push(Element::new("owner").with_text((o as i32).to_string()));
        }
        if let Some(g) = self.group {
            p.push(Element::new("group").with_text((g as i32).to_string()));
        }
        if let Some(l) = &self.label {
            p.push(Element::new("label").with_text(l.as_str()));
        }
        Some(p)
    }
}

/// An `<owner>`/`<group>` as libvirt reads it: XPath `number()` truncated to an integer,
/// `-1` (or its unsigned form) meaning unset.
fn id(el: &Element, name: &str, bad: &str) -> Res<Option<u32>> {
    let Some(child) = first(el, name) else {
        return Ok(None);
    };
    let n = xpath_number(&child.text()).ok_or_else(|| xml_err(bad))?;
    if n == -1 || n == i64::from(u32::MAX) {
        return Ok(None);
    }
    // libvirt writes ids with `%d`: read back what it writes for ids past `i32::MAX`.
    if (i64::from(i32::MIN)..0).contains(&n) {
        return Ok(Some(n as i32 as u32));
    }
    u32::try_from(n).map(Some).map_err(|_| xml_err(bad))
}

/// XPath's `number()` of a text, truncated as libvirt's `virXPathLongLong` does; `None`
/// for a text that is not a number.
pub(crate) fn xpath_number(text: &str) -> Option<i64> {
    let t = text.trim_matches(|c: char| c == ' ' || c == '\t' || c == '\n' || c == '\r');
    let digits = t.strip_prefix('-').unwrap_or(t);
    let ok = !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit() || c == '.')
        && digits.chars().filter(|c| *c == '.').count() <= 1
        && digits != ".";
    if !ok {
        return None;
    }
    let v: f64 = t.parse().ok()?;
    if !v.is_finite() || v.abs() > 9.2e18 {
        return None;
    }
    Some(v.trunc() as i64)
}

/// The first child element named `name` (no namespace).
pub(crate) fn first<'a>(el: &'a Element, name: &str) -> Option<&'a Element> {
    el.elements()
        .find(|e| e.name == name && e.namespace.is_none())
}

/// Every child element named `name` (no namespace).
pub(crate) fn all<'a>(el: &'a Element, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
    el.elements()
        .filter(move |e| e.name == name && e.namespace.is_none())
}

/// XPath `string(./name)`: the text of the first child `name`, `None` when absent or
/// empty.
pub(crate) fn child_text(el: &Element, name: &str) -> Option<String> {
    first(el, name).map(|c| c.text()).filter(|t| !t.is_empty())
}

/// XPath `string(./a/@b)`: `None` when absent or empty.
pub(crate) fn child_attr(el: &Element, child: &str, attr: &str) -> Option<String> {
    first(el, child)
        .and_then(|c| c.attr(attr))
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

/// libvirt's `virFileSanitizePath`: runs of `/` become one (a leading `//` stays, as
/// POSIX gives it a meaning) and a trailing `/` goes.
pub fn sanitize_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let keep_double = path.starts_with("//") && !path.starts_with("///");
    if keep_double {
        out.push('/');
    }
    let mut prev_slash = false;
    for c in path.chars() {
        if c == '/' {
            if !prev_slash {
                out.push('/');
            }
            prev_slash = true;
        } else {
            out.push(c);
            prev_slash = false;
        }
    }
    while out.len() > 1 && out.ends_with('/') && !(keep_double && out == "//") {
        out.pop();
    }
    out
}

/// The factor of a unit name, as libvirt's `virScaleInteger` (`None`: unknown unit).
pub(crate) fn unit_factor(unit: Option<&str>, default: u64) -> Option<u64> {
    let Some(unit) = unit.filter(|u| !u.is_empty()) else {
        return Some(default);
    };
    let lower = unit.to_ascii_lowercase();
    if lower == "b" || lower == "byte" || lower == "bytes" {
        return Some(1);
    }
    let mut chars = lower.chars();
    let prefix = chars.next()?;
    let rest: String = chars.collect();
    let base: u64 = match rest.as_str() {
        "" | "ib" => 1024,
        "b" => 1000,
        _ => return None,
    };
    let power = match prefix {
        'k' => 1,
        'm' => 2,
        'g' => 3,
        't' => 4,
        'p' => 5,
        'e' => 6,
        _ => return None,
    };
    base.checked_pow(power)
}

/// A size with a unit, as libvirt's `virStorageSize` / `virScaleInteger`: the number is
/// read in decimal, scaled, and must stay at most `limit`.
pub(crate) fn scaled(value: &str, unit: Option<&str>, bad: &str, limit: u64) -> Res<u64> {
    let n = str_to_long_ullp(value, 10).ok_or_else(|| xml_err(bad))?;
    let factor = unit_factor(unit, 1).ok_or_else(|| {
        err(
            ErrorCode::InvalidArg,
            format!("unknown suffix '{}'", unit.unwrap_or_default()),
        )
    })?;
    match n.checked_mul(factor) {
        Some(v) if v <= limit => Ok(v),
        _ => Err(err(
            ErrorCode::Overflow,
            format!("value too large: {n}{}", unit.unwrap_or_default()),
        )),
    }
}
