//! The machinery typed XML models are built with.
//!
//! A model reads an [`Element`] through a [`Cursor`], which hands out attributes and
//! children by name and remembers which were taken. What the model did not take is kept in
//! an [`Unknown`], reported as a [`Warning`], and written back by a [`Builder`] at the
//! place it was read from, so nothing a user wrote is lost.

use std::fmt::Display;

use crate::error::{ErrorDomain, Position, Result, XmlError};
use crate::tree::{Attribute, Element, Node};

/// A typed model of one XML element.
pub trait XmlModel: Sized {
    /// Reads the model from `el`, recording what it does not understand in `ctx`.
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self>;
    /// Writes the model back as an element.
    fn to_element(&self) -> Element;
}

/// Something in a document that the model kept without understanding it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// Where it was found.
    pub position: Position,
    /// What it was, in words.
    pub message: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.position.line, self.position.column, self.message
        )
    }
}

/// State carried through one parse: the warnings so far.
#[derive(Debug, Default)]
pub struct Context {
    /// Unknown elements and attributes met so far, in document order.
    pub warnings: Vec<Warning>,
}

/// Where an unknown child stood: after the `n`-th (from 0) known child named `name`, or at
/// the start when there is none.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Anchor(pub Option<(String, usize)>);

/// The attributes and children of an element that its model does not know.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Unknown {
    /// Unknown attributes in document order.
    pub attributes: Vec<Attribute>,
    /// Unknown children (elements, comments, text) with the place each stood.
    pub children: Vec<(Anchor, Node)>,
}

impl Unknown {
    /// Whether nothing unknown was kept.
    pub fn is_empty(&self) -> bool {
        self.attributes.is_empty() && self.children.is_empty()
    }

    /// The unknown child elements.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|(_, n)| n.as_element())
    }
}

/// Reads an element's attributes and children by name, remembering what was taken.
pub struct Cursor<'a> {
    el: &'a Element,
    attr_taken: Taken,
    child_taken: Taken,
}

/// Which attributes or children a cursor has handed out: a bit set that needs no
/// allocation for up to 128 items, which is nearly every element.
#[derive(Debug)]
enum Taken {
    Inline(u128),
    Heap(Vec<u64>),
}

impl Taken {
    fn new(len: usize) -> Self {
        if len <= 128 {
            Taken::Inline(0)
        } else {
            Taken::Heap(vec![0; len.div_ceil(64)])
        }
    }

    fn get(&self, i: usize) -> bool {
        match self {
            Taken::Inline(bits) => bits >> i & 1 == 1,
            Taken::Heap(words) => words[i / 64] >> (i % 64) & 1 == 1,
        }
    }

    fn set(&mut self, i: usize) {
        match self {
            Taken::Inline(bits) => *bits |= 1 << i,
            Taken::Heap(words) => words[i / 64] |= 1 << (i % 64),
        }
    }
}

impl<'a> Cursor<'a> {
    /// A cursor over `el` with nothing taken yet.
    pub fn new(el: &'a Element) -> Self {
        Cursor {
            el,
            attr_taken: Taken::new(el.attributes.len()),
            child_taken: Taken::new(el.children.len()),
        }
    }

    /// The element being read.
    pub fn element(&self) -> &'a Element {
        self.el
    }

    /// An `XML error` about this element, placed at it.
    pub fn error(&self, message: impl Into<String>) -> XmlError {
        XmlError::xml(message).at(self.el.position)
    }

    /// Takes the attribute `name`.
    pub fn attr(&mut self, name: &str) -> Option<&'a str> {
        let el = self.el;
        let i = el.attributes.iter().position(|a| a.name == name)?;
        self.attr_taken.set(i);
        Some(el.attributes[i].value.as_str())
    }

    /// Takes the attribute `name` as an owned string.
    pub fn attr_string(&mut self, name: &str) -> Option<String> {
        self.attr(name).map(str::to_string)
    }

    /// Takes the attribute `name`, which must be present.
    pub fn required_attr(&mut self, name: &str) -> Result<&'a str> {
        match self.attr(name) {
            Some(v) => Ok(v),
            None => Err(self.missing_attr(name)),
        }
    }

    /// Takes an attribute whose values are the variants of an [`XmlEnum`].
    pub fn enum_attr<T: XmlEnum>(&mut self, name: &str) -> Result<Option<T>> {
        let Some(v) = self.attr(name) else {
            return Ok(None);
        };
        match T::from_xml_str(v) {
            Some(x) => Ok(Some(x)),
            None => Err(self.invalid_value(name, v, "")),
        }
    }

    /// Takes a required attribute whose values are the variants of an [`XmlEnum`].
    pub fn required_enum_attr<T: XmlEnum>(&mut self, name: &str) -> Result<T> {
        match self.enum_attr(name)? {
            Some(v) => Ok(v),
            None => Err(self.missing_attr(name)),
        }
    }

    /// libvirt's error for an attribute with an invalid value.
    pub fn invalid_value(&self, name: &str, value: &str, expected: &str) -> XmlError {
        let tail = if expected.is_empty() {
            ".".to_string()
        } else {
            format!(". {expected}")
        };
        self.error(format!(
            "Invalid value for attribute '{name}' in element '{}': '{value}'{tail}",
            self.el.name
        ))
        .from_domain(ErrorDomain::Xml)
    }

    /// libvirt's error for a required attribute that is missing.
    pub fn missing_attr(&self, name: &str) -> XmlError {
        self.error(format!(
            "Missing required attribute '{name}' in element '{}'",
            self.el.name
        ))
        .from_domain(ErrorDomain::Xml)
    }

    /// libvirt's error for a zero where `VIR_XML_PROP_NONZERO` forbids it.
    fn zero_not_permitted(&self, name: &str) -> XmlError {
        self.error(format!(
            "Invalid value for attribute '{name}' in element '{}': Zero is not permitted",
            self.el.name
        ))
        .from_domain(ErrorDomain::Xml)
    }

    /// Takes the attribute `name` for a `prop_*` reader: `None` when it is absent and not
    /// [`PropFlags::REQUIRED`].
    fn prop_value(&mut self, name: &str, flags: PropFlags) -> Result<Option<&'a str>> {
        match self.attr(name) {
            Some(v) => Ok(Some(v)),
            None if flags.contains(PropFlags::REQUIRED) => Err(self.missing_attr(name)),
            None => Ok(None),
        }
    }

    /// libvirt's `virXMLPropInt`: a signed 32-bit attribute in `base` (0 for C's automatic
    /// base), honouring [`PropFlags::REQUIRED`], [`PropFlags::NONNEGATIVE`] and
    /// [`PropFlags::NONZERO`].
    pub fn prop_int(&mut self, name: &str, base: u32, flags: PropFlags) -> Result<Option<i32>> {
        let Some(v) = self.prop_value(name, flags)? else {
            return Ok(None);
        };
        let Some(n) = str_to_long_i(v, base) else {
            return Err(self.invalid_value(name, v, "Expected integer value"));
        };
        if flags.contains(PropFlags::NONNEGATIVE) && n < 0 {
            return Err(self.invalid_value(name, v, "Expected non-negative value"));
        }
        if flags.contains(PropFlags::NONZERO) && n == 0 {
            return Err(self.zero_not_permitted(name));
        }
        Ok(Some(n))
    }

    /// libvirt's `virXMLPropUInt`: an unsigned 32-bit attribute in `base` (0 for C's
    /// automatic base), honouring [`PropFlags::REQUIRED`] and [`PropFlags::NONZERO`].
    pub fn prop_uint(&mut self, name: &str, base: u32, flags: PropFlags) -> Result<Option<u32>> {
        let Some(v) = self.prop_value(name, flags)? else {
            return Ok(None);
        };
        let Some(n) = str_to_long_uip(v, base) else {
            return Err(self.invalid_value(name, v, "Expected non-negative integer value"));
        };
        if flags.contains(PropFlags::NONZERO) && n == 0 {
            return Err(self.zero_not_permitted(name));
        }
        Ok(Some(n))
    }

    /// libvirt's `virXMLPropULongLong`: an unsigned 64-bit attribute in `base`, honouring
    /// [`PropFlags::REQUIRED`] and [`PropFlags::NONZERO`].
    pub fn prop_ulonglong(
        &mut self,
        name: &str,
        base: u32,
        flags: PropFlags,
    ) -> Result<Option<u64>> {
        let Some(v) = self.prop_value(name, flags)? else {
            return Ok(None);
        };
        let Some(n) = str_to_long_ullp(v, base) else {
            return Err(self.invalid_value(name, v, "Expected non-negative integer value"));
        };
        if flags.contains(PropFlags::NONZERO) && n == 0 {
            return Err(self.zero_not_permitted(name));
        }
        Ok(Some(n))
    }

    /// libvirt's `virXMLPropTristateBool`: `yes` or `no`, anything else is an invalid value.
    pub fn prop_yes_no(&mut self, name: &str, flags: PropFlags) -> Result<Option<bool>> {
        self.prop_two_way(name, flags, "yes", "no")
    }

    /// libvirt's `virXMLPropTristateSwitch`: `on` or `off`, anything else is an invalid
    /// value.
    pub fn prop_on_off(&mut self, name: &str, flags: PropFlags) -> Result<Option<bool>> {
        self.prop_two_way(name, flags, "on", "off")
    }

    fn prop_two_way(
        &mut self,
        name: &str,
        flags: PropFlags,
        yes: &str,
        no: &str,
    ) -> Result<Option<bool>> {
        match self.prop_value(name, flags)? {
            None => Ok(None),
            Some(v) if v == yes => Ok(Some(true)),
            Some(v) if v == no => Ok(Some(false)),
            Some(v) => Err(self.invalid_value(name, v, "")),
        }
    }

    /// [`Cursor::prop_int`] with [`PropFlags::REQUIRED`] added.
    pub fn required_int(&mut self, name: &str, base: u32, flags: PropFlags) -> Result<i32> {
        let v = self.prop_int(name, base, flags | PropFlags::REQUIRED)?;
        self.present(name, v)
    }

    /// [`Cursor::prop_uint`] with [`PropFlags::REQUIRED`] added.
    pub fn required_uint(&mut self, name: &str, base: u32, flags: PropFlags) -> Result<u32> {
        let v = self.prop_uint(name, base, flags | PropFlags::REQUIRED)?;
        self.present(name, v)
    }

    /// [`Cursor::prop_ulonglong`] with [`PropFlags::REQUIRED`] added.
    pub fn required_ulonglong(&mut self, name: &str, base: u32, flags: PropFlags) -> Result<u64> {
        let v = self.prop_ulonglong(name, base, flags | PropFlags::REQUIRED)?;
        self.present(name, v)
    }

    /// [`Cursor::prop_yes_no`] with [`PropFlags::REQUIRED`].
    pub fn required_yes_no(&mut self, name: &str) -> Result<bool> {
        let v = self.prop_yes_no(name, PropFlags::REQUIRED)?;
        self.present(name, v)
    }

    /// [`Cursor::prop_on_off`] with [`PropFlags::REQUIRED`].
    pub fn required_on_off(&mut self, name: &str) -> Result<bool> {
        let v = self.prop_on_off(name, PropFlags::REQUIRED)?;
        self.present(name, v)
    }

    /// The value a reader called with [`PropFlags::REQUIRED`] returned.
    fn present<T>(&self, name: &str, value: Option<T>) -> Result<T> {
        value.ok_or_else(|| self.missing_attr(name))
    }

    /// Takes the first child element named `name` not taken yet.
    pub fn child(&mut self, name: &str) -> Option<&'a Element> {
        let el = self.el;
        for (i, node) in el.children.iter().enumerate() {
            if let Node::Element(e) = node {
                if !self.child_taken.get(i) && e.name == name {
                    self.child_taken.set(i);
                    return Some(e);
                }
            }
        }
        None
    }

    /// Takes every child element named `name` not taken yet, in document order.
    pub fn children(&mut self, name: &str) -> Vec<&'a Element> {
        let el = self.el;
        let mut out = Vec::new();
        for (i, node) in el.children.iter().enumerate() {
            if let Node::Element(e) = node {
                if !self.child_taken.get(i) && e.name == name {
                    self.child_taken.set(i);
                    out.push(e);
                }
            }
        }
        out
    }

    /// Takes every child element not taken yet whose name satisfies `pred`.
    pub fn children_where(&mut self, mut pred: impl FnMut(&Element) -> bool) -> Vec<&'a Element> {
        let el = self.el;
        let mut out = Vec::new();
        for (i, node) in el.children.iter().enumerate() {
            if let Node::Element(e) = node {
                if !self.child_taken.get(i) && pred(e) {
                    self.child_taken.set(i);
                    out.push(e);
                }
            }
        }
        out
    }

    /// Takes the text of the first child element named `name`.
    pub fn child_text(&mut self, name: &str) -> Option<String> {
        self.child(name).map(Element::text)
    }

    /// Takes the element's own text content.
    pub fn text(&mut self) -> String {
        let mut out = String::new();
        for (i, node) in self.el.children.iter().enumerate() {
            if let Node::Text(t) | Node::CData(t) = node {
                self.child_taken.set(i);
                out.push_str(t);
            }
        }
        out
    }

    /// Takes a child that is parsed by model `T`.
    pub fn model<T: XmlModel>(&mut self, name: &str, ctx: &mut Context) -> Result<Option<T>> {
        match self.child(name) {
            Some(e) => T::from_element(e, ctx).map(Some),
            None => Ok(None),
        }
    }

    /// Takes every child named `name`, each parsed by model `T`.
    pub fn models<T: XmlModel>(&mut self, name: &str, ctx: &mut Context) -> Result<Vec<T>> {
        self.children(name)
            .into_iter()
            .map(|e| T::from_element(e, ctx))
            .collect()
    }

    /// Ends reading: everything not taken becomes the element's [`Unknown`], and each
    /// unknown element or attribute is reported as a warning.
    pub fn finish(self, ctx: &mut Context) -> Unknown {
        self.finish_known(ctx, &[])
    }

    /// Like [`Cursor::finish`], but child elements named in `untyped` are kept without a
    /// warning: they belong to the format and are simply not modelled.
    pub fn finish_known(self, ctx: &mut Context, untyped: &[&str]) -> Unknown {
        let mut unknown = Unknown::default();
        for (i, a) in self.el.attributes.iter().enumerate() {
            if self.attr_taken.get(i) {
                continue;
            }
            if !is_namespace_declaration(&a.name) {
                ctx.warnings.push(Warning {
                    position: self.el.position,
                    message: format!(
                        "unknown attribute '{}' in element '{}' kept as written",
                        a.name, self.el.name
                    ),
                });
            }
            unknown.attributes.push(a.clone());
        }
        if unknown.attributes.is_empty() && self.all_children_taken() {
            return unknown;
        }
        let mut last: Option<(&str, usize)> = None;
        let mut seen: Vec<(&str, usize)> = Vec::new();
        for (i, node) in self.el.children.iter().enumerate() {
            if self.child_taken.get(i) {
                if let Node::Element(e) = node {
                    let n = match seen.iter_mut().find(|(name, _)| *name == e.name) {
                        Some((_, count)) => {
                            *count += 1;
                            *count - 1
                        }
                        None => {
                            seen.push((e.name.as_str(), 1));
                            0
                        }
                    };
                    last = Some((e.name.as_str(), n));
                }
                continue;
            }
            if let Node::Text(t) = node {
                if t.trim().is_empty() {
                    continue;
                }
            }
            let unexpected = node
                .as_element()
                .filter(|e| !untyped.contains(&e.name.as_str()));
            if let Some(e) = unexpected {
                ctx.warnings.push(Warning {
                    position: e.position,
                    message: format!(
                        "unknown element '{}' in '{}' kept as written",
                        e.name, self.el.name
                    ),
                });
            }
            // A second element of a name the model took once goes right after the one it
            // took: written back there, reading takes the same one again.
            let duplicate_of = node.as_element().and_then(|e| {
                let taken = self.el.children.iter().enumerate().filter(|(j, n)| {
                    self.child_taken.get(*j) && n.as_element().is_some_and(|t| t.name == e.name)
                });
                taken.count().checked_sub(1).map(|n| (e.name.as_str(), n))
            });
            let anchor = Anchor(duplicate_of.or(last).map(|(name, n)| (name.to_string(), n)));
            unknown.children.push((anchor, node.clone()));
        }
        // A model may write its known children in another order than they were read (libvirt
        // groups devices by kind), which changes the document order of what is anchored to
        // them but not where each piece goes: keep them ordered by anchor, so that reading
        // the written document gives an equal Unknown.
        unknown.children.sort_by(|a, b| a.0.cmp(&b.0));
        unknown
    }
}

impl Cursor<'_> {
    /// Whether every child is taken or is whitespace, so that nothing is left unknown.
    fn all_children_taken(&self) -> bool {
        self.el.children.iter().enumerate().all(|(i, n)| {
            self.child_taken.get(i) || matches!(n, Node::Text(t) if t.trim().is_empty())
        })
    }
}

fn is_namespace_declaration(name: &str) -> bool {
    name == "xmlns" || name.starts_with("xmlns:")
}

/// libvirt's `virXMLPropFlags`: what a `Cursor::prop_*` reader rejects besides values that
/// are not numbers or not in the set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PropFlags(u8);

impl PropFlags {
    /// `VIR_XML_PROP_NONE`: a missing attribute is `None`.
    pub const NONE: PropFlags = PropFlags(0);
    /// `VIR_XML_PROP_REQUIRED`: a missing attribute is an error.
    pub const REQUIRED: PropFlags = PropFlags(1);
    /// `VIR_XML_PROP_NONZERO`: zero is an error.
    pub const NONZERO: PropFlags = PropFlags(2);
    /// `VIR_XML_PROP_NONNEGATIVE`: a negative number is an error.
    pub const NONNEGATIVE: PropFlags = PropFlags(4);

    /// Whether every flag of `other` is set.
    pub fn contains(self, other: PropFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for PropFlags {
    type Output = PropFlags;
    fn bitor(self, other: PropFlags) -> PropFlags {
        PropFlags(self.0 | other.0)
    }
}

/// C's `isspace` in the C locale.
fn is_c_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\u{b}' | '\u{c}' | '\r')
}

/// What C's `strtoull`/`strtoll` read from all of `v` in `base` (0 for the automatic base:
/// `0x` hexadecimal, leading-zero octal, else decimal): leading white space, one optional
/// sign, for base 16 an optional `0x`, then digits to the very end. Gives the sign (`true`
/// for `-`) and the magnitude, or `None` when something else follows or the magnitude does
/// not fit 64 bits.
fn c_strto(v: &str, base: u32) -> Option<(bool, u64)> {
    let t = v.trim_start_matches(is_c_space);
    let (negative, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let hex = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X"));
    let (base, digits) = match (base, hex) {
        (0 | 16, Some(rest)) => (16, rest),
        (0, None) if t.len() > 1 && t.starts_with('0') => (8, &t[1..]),
        (0, None) => (10, t),
        (b, _) => (b, t),
    };
    if digits.is_empty() {
        return None;
    }
    let mut value: u64 = 0;
    for ch in digits.chars() {
        let d = ch.to_digit(base)?;
        value = value
            .checked_mul(u64::from(base))?
            .checked_add(u64::from(d))?;
    }
    Some((negative, value))
}

/// libvirt's `virStrToLong_ullp`: an unsigned 64-bit number in `base` (0 for C's automatic
/// base), the whole string, no minus sign.
pub fn str_to_long_ullp(v: &str, base: u32) -> Option<u64> {
    match c_strto(v, base)? {
        (false, n) => Some(n),
        (true, _) => None,
    }
}

/// libvirt's `virStrToLong_uip`: like [`str_to_long_ullp`], at most `u32::MAX`.
pub fn str_to_long_uip(v: &str, base: u32) -> Option<u32> {
    str_to_long_ullp(v, base).and_then(|n| u32::try_from(n).ok())
}

/// libvirt's `virStrToLong_ui`: like [`str_to_long_uip`], but a negative number wraps around
/// as in two's complement (`-1` is `u32::MAX`).
pub fn str_to_long_ui(v: &str, base: u32) -> Option<u32> {
    let (negative, n) = c_strto(v, base)?;
    let n = u32::try_from(n).ok()?;
    Some(if negative { 0u32.wrapping_sub(n) } else { n })
}

/// libvirt's `virStrToLong_ll`: a signed 64-bit number in `base`, the whole string.
pub fn str_to_long_ll(v: &str, base: u32) -> Option<i64> {
    match c_strto(v, base)? {
        (false, n) => i64::try_from(n).ok(),
        (true, n) if n == 1u64 << 63 => Some(i64::MIN),
        (true, n) => i64::try_from(n).ok().map(|x| -x),
    }
}

/// libvirt's `virStrToLong_i`: like [`str_to_long_ll`], within the range of `i32`.
pub fn str_to_long_i(v: &str, base: u32) -> Option<i32> {
    str_to_long_ll(v, base).and_then(|n| i32::try_from(n).ok())
}

/// Builds the element a model writes, placing the model's [`Unknown`] content back where
/// it was read from.
#[derive(Debug)]
pub struct Builder {
    el: Element,
}

impl Builder {
    /// A builder of an element named `name`.
    pub fn new(name: &str) -> Self {
        Builder {
            el: Element::new(name),
        }
    }

    /// Adds the attribute `name`.
    pub fn attr(&mut self, name: &str, value: impl Display) -> &mut Self {
        self.el
            .attributes
            .push(Attribute::new(name, value.to_string()));
        self
    }

    /// Adds the attribute `name` when `value` is present.
    pub fn opt_attr<T: Display>(&mut self, name: &str, value: Option<T>) -> &mut Self {
        if let Some(v) = value {
            self.attr(name, v);
        }
        self
    }

    /// Adds the attribute `name` as `yes`/`no` when `value` is present.
    pub fn yes_no(&mut self, name: &str, value: Option<bool>) -> &mut Self {
        self.opt_attr(name, value.map(yes_no))
    }

    /// Adds the attribute `name` as `on`/`off` when `value` is present.
    pub fn on_off(&mut self, name: &str, value: Option<bool>) -> &mut Self {
        self.opt_attr(name, value.map(on_off))
    }

    /// Adds a child element.
    pub fn child(&mut self, child: Element) -> &mut Self {
        self.el.children.push(Node::Element(child));
        self
    }

    /// Adds a child element when present.
    pub fn opt_child(&mut self, child: Option<Element>) -> &mut Self {
        if let Some(c) = child {
            self.child(c);
        }
        self
    }

    /// Adds a model's element when present.
    pub fn model<T: XmlModel>(&mut self, model: Option<&T>) -> &mut Self {
        if let Some(m) = model {
            self.child(m.to_element());
        }
        self
    }

    /// Adds one element per model.
    pub fn models<T: XmlModel>(&mut self, models: &[T]) -> &mut Self {
        for m in models {
            self.child(m.to_element());
        }
        self
    }

    /// Adds `<name>text</name>`.
    pub fn text_child(&mut self, name: &str, text: impl Display) -> &mut Self {
        self.child(Element::new(name).with_text(text.to_string()))
    }

    /// Adds `<name>text</name>` when `text` is present.
    pub fn opt_text_child<T: Display>(&mut self, name: &str, text: Option<T>) -> &mut Self {
        if let Some(t) = text {
            self.text_child(name, t);
        }
        self
    }

    /// Adds text content.
    pub fn text(&mut self, text: impl Into<String>) -> &mut Self {
        let t = text.into();
        if !t.is_empty() {
            self.el.children.push(Node::Text(t));
        }
        self
    }

    /// Adds an arbitrary node.
    pub fn node(&mut self, node: Node) -> &mut Self {
        self.el.children.push(node);
        self
    }

    /// Whether nothing has been added yet.
    pub fn is_empty(&self) -> bool {
        self.el.is_empty()
    }

    /// The element, with `unknown` merged back: attributes after the known ones, children
    /// after the known child they followed when read.
    pub fn finish(self, unknown: &Unknown) -> Element {
        let mut el = self.el;
        el.attributes.extend(unknown.attributes.iter().cloned());
        if unknown.children.is_empty() {
            return el;
        }
        let known = std::mem::take(&mut el.children);
        let mut placed = vec![false; unknown.children.len()];
        let mut out = Vec::with_capacity(known.len() + unknown.children.len());
        for (i, (anchor, node)) in unknown.children.iter().enumerate() {
            if anchor.0.is_none() {
                out.push(node.clone());
                placed[i] = true;
            }
        }
        let mut seen: Vec<(String, usize)> = Vec::new();
        for node in known {
            let key = match &node {
                Node::Element(e) => {
                    let n = match seen.iter_mut().find(|(name, _)| *name == e.name) {
                        Some((_, count)) => {
                            *count += 1;
                            *count - 1
                        }
                        None => {
                            seen.push((e.name.clone(), 1));
                            0
                        }
                    };
                    Some((e.name.clone(), n))
                }
                _ => None,
            };
            out.push(node);
            if let Some(key) = key {
                for (i, (anchor, extra)) in unknown.children.iter().enumerate() {
                    if !placed[i] && anchor.0.as_ref() == Some(&key) {
                        out.push(extra.clone());
                        placed[i] = true;
                    }
                }
            }
        }
        for (i, (_, extra)) in unknown.children.iter().enumerate() {
            if !placed[i] {
                out.push(extra.clone());
            }
        }
        el.children = out;
        el
    }

    /// The element, with nothing unknown to merge.
    pub fn build(self) -> Element {
        self.el
    }
}

/// `yes` or `no`.
pub fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// `on` or `off`.
pub fn on_off(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
}

/// An enumeration whose variants are written as fixed strings in XML.
pub trait XmlEnum: Sized + Copy {
    /// The variant written as `s`, if any.
    fn from_xml_str(s: &str) -> Option<Self>;
    /// The string this variant is written as.
    fn as_xml_str(&self) -> &'static str;
}

/// Declares an enum with its XML spellings, implementing [`XmlEnum`] and `Display`.
///
/// ```
/// oxvirt_xml::xml_enum! {
///     /// Whether a thing is on.
///     pub enum Switch { On = "on", Off = "off" }
/// }
/// use oxvirt_xml::model::XmlEnum;
/// assert_eq!(Switch::from_xml_str("on"), Some(Switch::On));
/// assert_eq!(Switch::Off.to_string(), "off");
/// ```
#[macro_export]
macro_rules! xml_enum {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name {
            $($(#[$vmeta])* #[doc = concat!("`", $text, "`")] $variant),+
        }

        impl $crate::model::XmlEnum for $name {
            fn from_xml_str(s: &str) -> Option<Self> {
                match s {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
            fn as_xml_str(&self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str($crate::model::XmlEnum::as_xml_str(self))
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reader::parse;
    use crate::writer::to_string;

    struct Disk {
        kind: Option<String>,
        target: Option<String>,
        unknown: Unknown,
    }

    impl XmlModel for Disk {
        fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
            let mut c = Cursor::new(el);
            let kind = c.attr_string("type");
            let target = c
                .child("target")
                .and_then(|t| t.attr("dev"))
                .map(String::from);
            Ok(Disk {
                kind,
                target,
                unknown: c.finish(ctx),
            })
        }
        fn to_element(&self) -> Element {
            let mut b = Builder::new("disk");
            b.opt_attr("type", self.kind.as_deref());
            if let Some(t) = &self.target {
                b.child(Element::new("target").with_attr("dev", t));
            }
            b.finish(&self.unknown)
        }
    }

    #[test]
    fn unknown_content_is_kept_in_place_and_reported() {
        let doc = "<disk type='file' cache='none'>\n  <!-- first -->\n  <driver name='qemu'/>\n  \
                   <target dev='vda'/>\n  <serial>abc</serial>\n</disk>\n";
        let mut ctx = Context::default();
        let disk = Disk::from_element(&parse(doc).unwrap(), &mut ctx).unwrap();
        assert_eq!(disk.kind.as_deref(), Some("file"));
        assert_eq!(disk.target.as_deref(), Some("vda"));
        assert_eq!(ctx.warnings.len(), 3, "{:?}", ctx.warnings);
        assert!(ctx.warnings[0].message.contains("'cache'"));
        assert_eq!(ctx.warnings[1].position.line, 3);
        assert_eq!(to_string(&disk.to_element()), doc);
    }

    #[test]
    fn a_second_element_of_a_typed_name_goes_after_the_first() {
        // The first <target> is typed; the other stays unknown and is written after it, so
        // that reading the output types the same one.
        let doc = "<disk><serial>x</serial><target dev='vda'/><target dev='vdb'/></disk>";
        let mut ctx = Context::default();
        let disk = Disk::from_element(&parse(doc).unwrap(), &mut ctx).unwrap();
        let out = to_string(&disk.to_element());
        let again = Disk::from_element(&parse(&out).unwrap(), &mut ctx).unwrap();
        assert_eq!(again.target.as_deref(), Some("vda"));
        assert_eq!(to_string(&again.to_element()), out);
    }

    #[test]
    fn invalid_values_are_reported_in_libvirts_words() {
        let el = parse("<gic version='x' index='-1'/>").unwrap();
        let mut c = Cursor::new(&el);
        let err = c.prop_uint("index", 10, PropFlags::NONE).unwrap_err();
        assert_eq!(
            err.message,
            "Invalid value for attribute 'index' in element 'gic': '-1'. Expected non-negative integer value"
        );
        assert_eq!(err.position.unwrap().column, 1);
        let err = c.required_attr("nope").unwrap_err();
        assert_eq!(
            err.message,
            "Missing required attribute 'nope' in element 'gic'"
        );
    }

    #[test]
    fn c_integers() {
        // Base 0, as libvirt's `strtoull`/`strtoll` callers use it: decimal, hex, octal.
        assert_eq!(str_to_long_ullp("0x1f", 0), Some(31));
        assert_eq!(str_to_long_ullp("010", 0), Some(8));
        assert_eq!(str_to_long_ullp("0", 0), Some(0));
        assert_eq!(str_to_long_ullp("-1", 0), None);
        assert_eq!(str_to_long_ullp("1a", 0), None);
        assert_eq!(str_to_long_ll("-5", 0), Some(-5));
    }

    #[test]
    fn numbers_are_read_like_virstrtolong() {
        // Base 10: C white space and one sign before the digits, nothing after them.
        assert_eq!(str_to_long_uip(" \t+12", 10), Some(12));
        assert_eq!(str_to_long_uip("12 ", 10), None);
        assert_eq!(str_to_long_uip("-1", 10), None);
        assert_eq!(str_to_long_uip("-0", 10), None);
        assert_eq!(str_to_long_uip("0x10", 10), None);
        assert_eq!(str_to_long_uip("010", 10), Some(10));
        assert_eq!(str_to_long_uip("4294967295", 10), Some(u32::MAX));
        assert_eq!(str_to_long_uip("4294967296", 10), None);
        assert_eq!(str_to_long_uip("", 10), None);
        assert_eq!(str_to_long_uip("+", 10), None);
        assert_eq!(str_to_long_uip("++1", 10), None);
        assert_eq!(str_to_long_uip("\u{a0}1", 10), None);
        // Base 16 and the automatic base.
        assert_eq!(str_to_long_uip("ff", 16), Some(255));
        assert_eq!(str_to_long_uip("0xff", 16), Some(255));
        assert_eq!(str_to_long_uip("0x", 16), None);
        assert_eq!(str_to_long_uip("0x+5", 16), None);
        assert_eq!(str_to_long_uip("0755", 8), Some(0o755));
        assert_eq!(str_to_long_uip("0X1F", 0), Some(31));
        assert_eq!(str_to_long_uip("017", 0), Some(15));
        assert_eq!(str_to_long_uip("08", 0), None);
        assert_eq!(str_to_long_uip("+5", 0), Some(5));
        // 64 bits.
        assert_eq!(str_to_long_ullp("18446744073709551615", 10), Some(u64::MAX));
        assert_eq!(str_to_long_ullp("18446744073709551616", 10), None);
        // Wrap-around of `virStrToLong_ui`.
        assert_eq!(str_to_long_ui("-1", 10), Some(u32::MAX));
        assert_eq!(str_to_long_ui("-4294967295", 10), Some(1));
        assert_eq!(str_to_long_ui("-4294967296", 10), None);
        // Signed.
        assert_eq!(str_to_long_i("-5", 10), Some(-5));
        assert_eq!(str_to_long_i("-0x10", 0), Some(-16));
        assert_eq!(str_to_long_i("2147483648", 10), None);
        assert_eq!(str_to_long_i("-2147483648", 10), Some(i32::MIN));
        assert_eq!(str_to_long_i("5a", 10), None);
        assert_eq!(str_to_long_i("- 5", 10), None);
        assert_eq!(str_to_long_ll("-9223372036854775808", 10), Some(i64::MIN));
        assert_eq!(str_to_long_ll("9223372036854775808", 10), None);
    }

    fn read<T>(xml: &str, f: impl FnOnce(&mut Cursor<'_>) -> Result<T>) -> Result<T> {
        let el = parse(xml).unwrap();
        f(&mut Cursor::new(&el))
    }

    fn message<T: std::fmt::Debug>(r: Result<T>) -> String {
        r.unwrap_err().message
    }

    #[test]
    fn prop_readers_follow_virxmlprop() {
        let none = PropFlags::NONE;
        assert_eq!(read("<a/>", |c| c.prop_uint("n", 10, none)).unwrap(), None);
        assert_eq!(
            read("<a n=' 7'/>", |c| c.prop_uint("n", 10, none)).unwrap(),
            Some(7)
        );
        assert_eq!(
            read("<a n='0x7'/>", |c| c.prop_uint("n", 16, none)).unwrap(),
            Some(7)
        );
        assert_eq!(
            read("<a n='0'/>", |c| c.prop_uint("n", 10, none)).unwrap(),
            Some(0)
        );
        assert_eq!(
            message(read("<a n='-1'/>", |c| c.prop_uint("n", 10, none))),
            "Invalid value for attribute 'n' in element 'a': '-1'. Expected non-negative integer value"
        );
        assert_eq!(
            message(read("<a n='0'/>", |c| c.prop_uint(
                "n",
                10,
                PropFlags::NONZERO
            ))),
            "Invalid value for attribute 'n' in element 'a': Zero is not permitted"
        );
        assert_eq!(
            message(read("<a/>", |c| c.prop_uint("n", 10, PropFlags::REQUIRED))),
            "Missing required attribute 'n' in element 'a'"
        );
        assert_eq!(
            message(read("<a/>", |c| c.required_uint("n", 10, none))),
            "Missing required attribute 'n' in element 'a'"
        );
        assert_eq!(
            read("<a n='3'/>", |c| c.required_uint("n", 10, none)).unwrap(),
            3
        );
        assert_eq!(
            read("<a n='18446744073709551615'/>", |c| c
                .prop_ulonglong("n", 10, none))
            .unwrap(),
            Some(u64::MAX)
        );
        assert_eq!(
            message(read("<a n='0'/>", |c| c.required_ulonglong(
                "n",
                0,
                PropFlags::NONZERO
            ))),
            "Invalid value for attribute 'n' in element 'a': Zero is not permitted"
        );
    }

    #[test]
    fn signed_prop_readers_follow_virxmlpropint() {
        let nonneg = PropFlags::NONNEGATIVE;
        assert_eq!(
            read("<a n='-3'/>", |c| c.prop_int("n", 10, PropFlags::NONE)).unwrap(),
            Some(-3)
        );
        assert_eq!(
            read("<a n='-0'/>", |c| c.prop_int("n", 10, nonneg)).unwrap(),
            Some(0)
        );
        assert_eq!(
            message(read("<a n='x'/>", |c| c.prop_int("n", 10, nonneg))),
            "Invalid value for attribute 'n' in element 'a': 'x'. Expected integer value"
        );
        assert_eq!(
            message(read("<a n='-1'/>", |c| c.prop_int("n", 10, nonneg))),
            "Invalid value for attribute 'n' in element 'a': '-1'. Expected non-negative value"
        );
        assert_eq!(
            message(read("<a n='0'/>", |c| c.prop_int(
                "n",
                10,
                PropFlags::NONZERO
            ))),
            "Invalid value for attribute 'n' in element 'a': Zero is not permitted"
        );
        assert_eq!(
            message(read("<a/>", |c| c.required_int("n", 10, nonneg))),
            "Missing required attribute 'n' in element 'a'"
        );
    }

    #[test]
    fn tristate_readers_follow_virxmlprop() {
        let none = PropFlags::NONE;
        assert_eq!(
            read("<a v='yes'/>", |c| c.prop_yes_no("v", none)).unwrap(),
            Some(true)
        );
        assert_eq!(
            read("<a v='no'/>", |c| c.prop_yes_no("v", none)).unwrap(),
            Some(false)
        );
        assert_eq!(read("<a/>", |c| c.prop_yes_no("v", none)).unwrap(), None);
        assert_eq!(
            read("<a v='off'/>", |c| c.prop_on_off("v", none)).unwrap(),
            Some(false)
        );
        assert_eq!(
            message(read("<a v='on'/>", |c| c.prop_yes_no("v", none))),
            "Invalid value for attribute 'v' in element 'a': 'on'."
        );
        assert_eq!(
            message(read("<a v='absent'/>", |c| c.prop_on_off("v", none))),
            "Invalid value for attribute 'v' in element 'a': 'absent'."
        );
        assert_eq!(
            message(read("<a/>", |c| c.required_yes_no("v"))),
            "Missing required attribute 'v' in element 'a'"
        );
        assert!(read("<a v='on'/>", |c| c.required_on_off("v")).unwrap());
        let flags = PropFlags::REQUIRED | PropFlags::NONZERO;
        assert!(flags.contains(PropFlags::NONZERO) && !flags.contains(PropFlags::NONNEGATIVE));
    }
}
