//! Reading a document into an [`Element`] tree.
//!
//! The reader is strict where libvirt's parser (libxml2) is strict: one root element, matching
//! end tags, no duplicate attributes, no undefined entities, no unbound namespace prefixes.
//! It refuses document type declarations, so no entity can expand into the document.
//! Every error carries the line and column where the problem was found.

use std::sync::Arc;

use quick_xml::events::attributes::Attribute as QAttribute;
use quick_xml::events::{BytesRef, BytesStart, BytesText, Event};
use quick_xml::{Reader, XmlVersion};

use crate::error::{ErrorCode, Position, Result, XmlError};
use crate::tree::{Attribute, Element, Node};

/// The namespace bound to the `xml` prefix by definition.
const XML_NAMESPACE: &str = "http://www.w3.org/XML/1998/namespace";

/// Turns byte offsets into line:column positions, moving forward through the document.
struct LineTracker<'a> {
    source: &'a str,
    offset: usize,
    line: u32,
    column: u32,
}

impl<'a> LineTracker<'a> {
    fn new(source: &'a str) -> Self {
        LineTracker {
            source,
            offset: 0,
            line: 1,
            column: 1,
        }
    }

    /// The position of byte `offset`, which must not be before the previous one asked for.
    fn position(&mut self, offset: usize) -> Position {
        let offset = offset.min(self.source.len());
        if offset < self.offset {
            // Asked to go back (only after an error): count again from the start.
            *self = LineTracker::new(self.source);
        }
        let skipped = &self.source.as_bytes()[self.offset..offset];
        // Characters, not the continuation bytes of UTF-8 sequences.
        let chars = |bytes: &[u8]| bytes.iter().filter(|&&b| b & 0xC0 != 0x80).count() as u32;
        match skipped.iter().rposition(|&b| b == b'\n') {
            Some(last) => {
                self.line += skipped.iter().filter(|&&b| b == b'\n').count() as u32;
                self.column = 1 + chars(&skipped[last + 1..]);
            }
            None => self.column += chars(skipped),
        }
        self.offset = offset;
        Position {
            line: self.line,
            column: self.column,
        }
    }
}

/// The namespace bindings in force, innermost last.
#[derive(Default)]
struct Scopes {
    bindings: Vec<(String, Arc<str>)>,
    marks: Vec<usize>,
}

impl Scopes {
    fn open(&mut self, attributes: &[Attribute]) {
        self.marks.push(self.bindings.len());
        for a in attributes {
            if a.name == "xmlns" {
                self.bindings
                    .push((String::new(), Arc::from(a.value.as_str())));
            } else if let Some(prefix) = a.name.strip_prefix("xmlns:") {
                self.bindings
                    .push((prefix.to_string(), Arc::from(a.value.as_str())));
            }
        }
    }

    fn close(&mut self) {
        if let Some(mark) = self.marks.pop() {
            self.bindings.truncate(mark);
        }
    }

    fn resolve(&self, prefix: &str) -> Option<Arc<str>> {
        if prefix == "xml" {
            return Some(Arc::from(XML_NAMESPACE));
        }
        self.bindings
            .iter()
            .rev()
            .find(|(p, _)| p == prefix)
            .map(|(_, uri)| Arc::clone(uri))
            .filter(|uri| !uri.is_empty())
    }
}

/// Reads `source` into its root element.
///
/// Whitespace-only text between elements is dropped; text in an element without child
/// elements is kept as written. Comments and CDATA inside the root are kept.
pub fn parse(source: &str) -> Result<Element> {
    Parser::new(source).run()
}

struct Parser<'a> {
    reader: Reader<&'a [u8]>,
    source: &'a str,
    /// Bytes before what the reader counts from: a byte order mark, which it skips.
    base: usize,
    lines: LineTracker<'a>,
    scopes: Scopes,
    stack: Vec<Element>,
    root: Option<Element>,
    /// Whitespace that followed markup: indentation, dropped unless character data
    /// (an entity reference, say) follows it.
    pending: Option<BytesText<'a>>,
}

impl<'a> Parser<'a> {
    fn new(source: &'a str) -> Self {
        let mut reader = Reader::from_str(source);
        let config = reader.config_mut();
        config.check_end_names = true;
        config.check_comments = true;
        config.expand_empty_elements = false;
        Parser {
            reader,
            source,
            base: if source.starts_with('\u{feff}') { 3 } else { 0 },
            lines: LineTracker::new(source),
            scopes: Scopes::default(),
            stack: Vec::new(),
            root: None,
            pending: None,
        }
    }

    /// A reader position as a byte offset into the source.
    fn offset(&self, pos: u64) -> usize {
        self.base + offset(pos)
    }

    fn error_at(&mut self, offset: usize, message: impl Into<String>) -> XmlError {
        let pos = self.lines.position(offset);
        XmlError::new(ErrorCode::XmlDetail, message).at(pos)
    }

    fn run(mut self) -> Result<Element> {
        loop {
            let start = self.offset(self.reader.buffer_position());
            let event = match self.reader.read_event() {
                Ok(ev @ (Event::Text(_) | Event::GeneralRef(_) | Event::CData(_))) => ev,
                Ok(ev) => {
                    // Markup follows: held-back whitespace was indentation.
                    self.pending = None;
                    ev
                }
                Err(err) => {
                    let at = self.offset(self.reader.error_position());
                    return Err(self.error_at(at, describe_error(&err)));
                }
            };
            match event {
                Event::Start(tag) => {
                    let el = self.open_element(&tag, start)?;
                    self.scopes.open(&el.attributes);
                    self.stack.push(el);
                }
                Event::Empty(tag) => {
                    let mut el = self.open_element(&tag, start)?;
                    self.scopes.open(&el.attributes);
                    el.namespace = self.resolve_element(&el, start)?;
                    self.scopes.close();
                    el.span = Some(start..self.offset(self.reader.buffer_position()));
                    self.attach(el, start)?;
                }
                Event::End(_) => {
                    let Some(mut el) = self.stack.pop() else {
                        return Err(self.error_at(start, "closing tag without an opening tag"));
                    };
                    el.namespace = self.resolve_element(&el, start)?;
                    self.scopes.close();
                    normalise_whitespace(&mut el);
                    if let Some(span) = el.span.as_mut() {
                        span.end = self.offset(self.reader.buffer_position());
                    }
                    self.attach(el, start)?;
                }
                Event::Text(text) => {
                    // Whitespace after markup is held back: it is indentation unless more
                    // character data follows.
                    let after_markup = self
                        .stack
                        .last()
                        .is_some_and(|p| p.children.last().is_some_and(is_markup));
                    self.flush_pending(start)?;
                    if after_markup && text.bytes().all(|b| is_xml_space(b as char)) {
                        self.pending = Some(text);
                    } else {
                        let content = text.xml10_content();
                        self.text(&content, start)?;
                    }
                }
                Event::GeneralRef(reference) => {
                    self.flush_pending(start)?;
                    let ch = self.resolve_reference(&reference, start)?;
                    let mut buf = [0u8; 4];
                    self.text(ch.encode_utf8(&mut buf), start)?;
                }
                Event::CData(data) => {
                    self.flush_pending(start)?;
                    let content = data.xml10_content().into_owned();
                    self.check_chars(&content, start)?;
                    match self.stack.last_mut() {
                        Some(parent) => parent.children.push(Node::CData(content)),
                        None => return Err(self.error_at(start, "CDATA outside the root element")),
                    }
                }
                Event::Comment(text) => {
                    self.check_chars(&text.xml10_content(), start)?;
                    if let Some(parent) = self.stack.last_mut() {
                        drop_trailing_whitespace(parent);
                        parent
                            .children
                            .push(Node::Comment(text.xml10_content().into_owned()));
                    }
                }
                Event::PI(pi) => {
                    if let Some(parent) = self.stack.last_mut() {
                        drop_trailing_whitespace(parent);
                        let raw = pi.into_inner();
                        parent.children.push(Node::Verbatim(format!("<?{raw}?>")));
                    }
                }
                Event::Decl(_) => {
                    if start != self.base || self.root.is_some() || !self.stack.is_empty() {
                        return Err(
                            self.error_at(start, "XML declaration allowed only at the start")
                        );
                    }
                }
                Event::DocType(_) => {
                    return Err(self.error_at(
                        start,
                        "document type declarations are not accepted; remove the <!DOCTYPE>",
                    ));
                }
                Event::Eof => break,
            }
        }
        if let Some(open) = self.stack.last() {
            let name = open.name.clone();
            let at = self.source.len();
            return Err(self.error_at(at, format!("premature end of data in tag {name}")));
        }
        match self.root.take() {
            Some(root) => Ok(root),
            None => Err(self.error_at(0, "document is empty: no root element")),
        }
    }

    fn text(&mut self, content: &str, start: usize) -> Result<()> {
        self.check_chars(content, start)?;
        match self.stack.last_mut() {
            Some(parent) => {
                if let Some(Node::Text(prev)) = parent.children.last_mut() {
                    prev.push_str(content);
                } else {
                    parent.children.push(Node::Text(content.to_string()));
                }
                Ok(())
            }
            None if content.chars().all(is_xml_space) => Ok(()),
            None => Err(self.error_at(start, "text outside the root element")),
        }
    }

    /// Adds held-back whitespace as text: character data follows it.
    fn flush_pending(&mut self, start: usize) -> Result<()> {
        match self.pending.take() {
            Some(ws) => self.text(&ws.xml10_content(), start),
            None => Ok(()),
        }
    }

    /// Refuses characters XML 1.0 does not allow (control characters other than tab,
    /// newline and carriage return, and U+FFFE/U+FFFF), as libxml2 does.
    fn check_chars(&mut self, content: &str, start: usize) -> Result<()> {
        // Fast path: no control byte and no 0xEF lead byte (U+FFFE/U+FFFF start with it).
        if content
            .bytes()
            .all(|b| (b >= 0x20 || matches!(b, b'\t' | b'\n' | b'\r')) && b != 0xEF)
        {
            return Ok(());
        }
        match content.chars().find(|&c| !is_xml_char(c)) {
            None => Ok(()),
            Some(c) => Err(self.error_at(
                start,
                format!("invalid character U+{:04X} in the document", c as u32),
            )),
        }
    }

    fn resolve_reference(&mut self, reference: &BytesRef<'_>, start: usize) -> Result<char> {
        let name: &str = reference;
        let ch = match name {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => reference.resolve_char_ref().ok().flatten(),
        };
        match ch {
            Some(c) if is_xml_char(c) => Ok(c),
            Some(c) => Err(self.error_at(
                start,
                format!(
                    "character reference &{name}; is U+{:04X}, not allowed in XML",
                    c as u32
                ),
            )),
            None => Err(self.error_at(start, format!("entity '{name}' not defined"))),
        }
    }

    fn open_element(&mut self, tag: &BytesStart<'_>, start: usize) -> Result<Element> {
        let name = tag.name().0.to_string();
        if !is_valid_name(&name) {
            return Err(self.error_at(start, format!("invalid element name '{name}'")));
        }
        let mut attributes = Vec::new();
        for attr in tag.attributes() {
            let attr: QAttribute<'_> = match attr {
                Ok(a) => a,
                Err(err) => return Err(self.error_at(start, format!("{err}"))),
            };
            let key = attr.key.0.to_string();
            if !is_valid_name(&key) {
                return Err(self.error_at(start, format!("invalid attribute name '{key}'")));
            }
            let value = match attr.normalized_value(XmlVersion::Implicit1_0) {
                Ok(v) => v.into_owned(),
                Err(err) => {
                    return Err(self.error_at(
                        start,
                        format!("invalid value of attribute '{key}' in element '{name}': {err}"),
                    ))
                }
            };
            self.check_chars(&value, start)?;
            attributes.push(Attribute { name: key, value });
        }
        let position = self.lines.position(start);
        Ok(Element {
            name,
            namespace: None,
            attributes,
            children: Vec::new(),
            position,
            span: Some(start..start),
        })
    }

    fn resolve_element(&mut self, el: &Element, start: usize) -> Result<Option<Arc<str>>> {
        for a in &el.attributes {
            if let Some((prefix, _)) = a.name.split_once(':') {
                if prefix != "xmlns" && self.scopes.resolve(prefix).is_none() {
                    return Err(self.error_at(
                        start,
                        format!(
                            "namespace prefix '{prefix}' of attribute '{}' is not defined",
                            a.name
                        ),
                    ));
                }
            }
        }
        match el.name.split_once(':') {
            Some((prefix, _)) => match self.scopes.resolve(prefix) {
                Some(uri) => Ok(Some(uri)),
                None => Err(self.error_at(
                    start,
                    format!(
                        "namespace prefix '{prefix}' on element '{}' is not defined",
                        el.name
                    ),
                )),
            },
            None => Ok(self.scopes.resolve("")),
        }
    }

    fn attach(&mut self, el: Element, start: usize) -> Result<()> {
        match self.stack.last_mut() {
            Some(parent) => {
                drop_trailing_whitespace(parent);
                parent.children.push(Node::Element(el));
                Ok(())
            }
            None if self.root.is_none() => {
                self.root = Some(el);
                Ok(())
            }
            None => Err(self.error_at(start, "extra content at the end of the document")),
        }
    }
}

/// Whether a node is markup (not character data).
fn is_markup(n: &Node) -> bool {
    !matches!(n, Node::Text(_) | Node::CData(_))
}

/// Drops the indentation before a child about to be added: whitespace-only text is not kept
/// in an element that has markup.
fn drop_trailing_whitespace(parent: &mut Element) {
    if matches!(parent.children.last(), Some(Node::Text(t)) if t.bytes().all(|b| is_xml_space(b as char)))
    {
        parent.children.pop();
    }
}

/// Drops whitespace-only text from elements that contain other elements or comments.
fn normalise_whitespace(el: &mut Element) {
    let has_markup = el
        .children
        .iter()
        .any(|n| !matches!(n, Node::Text(_) | Node::CData(_)));
    if has_markup {
        el.children
            .retain(|n| !matches!(n, Node::Text(t) if t.chars().all(is_xml_space)));
    }
}

/// Whether XML 1.0 allows `c` in a document.
fn is_xml_char(c: char) -> bool {
    match c {
        '\t' | '\n' | '\r' => true,
        '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => false,
        _ => true,
    }
}

fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// Whether `name` is an acceptable XML name (a qualified name with at most one colon).
fn is_valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    if let Some(&first) = bytes.first() {
        if (first.is_ascii_alphabetic() || first == b'_')
            && bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        {
            return true;
        }
    }
    let mut parts = name.split(':');
    let ok = |part: &str| {
        let mut chars = part.chars();
        match chars.next() {
            Some(c) if c.is_alphabetic() || c == '_' => {}
            _ => return false,
        }
        chars.all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
    };
    match (parts.next(), parts.next(), parts.next()) {
        (Some(a), None, None) => ok(a),
        (Some(a), Some(b), None) => ok(a) && ok(b),
        _ => false,
    }
}

fn offset(pos: u64) -> usize {
    usize::try_from(pos).unwrap_or(usize::MAX)
}

fn describe_error(err: &quick_xml::Error) -> String {
    match err {
        quick_xml::Error::IllFormed(e) => format!("document is not well formed: {e}"),
        quick_xml::Error::Syntax(e) => format!("syntax error: {e}"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_nested_elements_with_positions() {
        let doc = "<domain type='kvm'>\n  <name>vm1</name>\n  <devices>\n    <disk/>\n  </devices>\n</domain>";
        let root = parse(doc).unwrap();
        assert_eq!(root.name, "domain");
        assert_eq!(root.attr("type"), Some("kvm"));
        assert_eq!(root.elements().count(), 2);
        let name = root.child("name").unwrap();
        assert_eq!(name.text(), "vm1");
        assert_eq!(name.position, Position { line: 2, column: 3 });
        let disk = root.child("devices").unwrap().child("disk").unwrap();
        assert_eq!(disk.position, Position { line: 4, column: 5 });
        assert_eq!(&doc[disk.span.clone().unwrap()], "<disk/>");
        let devices = root.child("devices").unwrap();
        assert_eq!(
            &doc[devices.span.clone().unwrap()],
            "<devices>\n    <disk/>\n  </devices>"
        );
    }

    #[test]
    fn resolves_entities_and_char_refs() {
        let root = parse("<a x='&lt;&#65;&apos;'>1 &amp; 2&#x42;</a>").unwrap();
        assert_eq!(root.attr("x"), Some("<A'"));
        assert_eq!(root.text(), "1 & 2B");
    }

    #[test]
    fn honours_namespaces() {
        let doc = "<domain xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>\
                   <qemu:commandline><qemu:arg value='-x'/></qemu:commandline></domain>";
        let root = parse(doc).unwrap();
        assert_eq!(root.namespace, None);
        let cmd = root.child("qemu:commandline").unwrap();
        assert_eq!(
            cmd.namespace.as_deref(),
            Some("http://libvirt.org/schemas/domain/qemu/1.0")
        );
        assert_eq!(cmd.local_name(), "commandline");
    }

    #[test]
    fn rejects_unbound_prefix() {
        let err = parse("<a><b:c/></a>").unwrap_err();
        assert!(err.message.contains("prefix 'b'"), "{err}");
        assert_eq!(err.position, Some(Position { line: 1, column: 4 }));
    }

    #[test]
    fn rejects_malformed_documents_with_positions() {
        let cases = [
            ("<a><b></a>", 1),
            ("<a>\n<b x='1' x='2'/></a>", 2),
            ("<a/><b/>", 1),
            ("", 1),
            ("<a>", 1),
            ("<!DOCTYPE a [<!ENTITY x 'y'>]><a>&x;</a>", 1),
            ("<a>&x;</a>", 1),
            ("text<a/>", 1),
            ("<></>", 1),
            ("<a>x\u{0}y</a>", 1),
            ("<a>\n\u{1}<b/></a>", 1),
            ("<a x='\u{8}'/>", 1),
            ("<a>&#1;</a>", 1),
            ("<a><!--\u{ffff}--></a>", 1),
        ];
        for (doc, line) in cases {
            let err = parse(doc).expect_err(doc);
            assert_eq!(err.code, ErrorCode::XmlDetail, "{doc}: {err}");
            let pos = err.position.expect("position");
            assert_eq!(pos.line, line, "{doc}: {err}");
        }
    }

    #[test]
    fn keeps_text_comments_and_drops_formatting_whitespace() {
        let root = parse("<a>\n  <!-- c -->\n  <b>  x  </b>\n  <c>   </c>\n</a>").unwrap();
        assert_eq!(root.children.len(), 3);
        assert_eq!(root.children[0], Node::Comment(" c ".into()));
        assert_eq!(root.child("b").unwrap().text(), "  x  ");
        assert_eq!(root.child("c").unwrap().text(), "   ");
    }

    #[test]
    fn whitespace_before_a_reference_after_markup_is_kept() {
        let root = parse("<a><b/>\n  &gt;<c/>  </a>").unwrap();
        assert_eq!(root.children[1], Node::Text("\n  >".into()));
        assert_eq!(root.children.len(), 3);
    }

    #[test]
    fn spans_count_a_byte_order_mark() {
        let doc = "\u{feff}<a><b/></a>";
        let b = parse(doc).unwrap().child("b").cloned().unwrap();
        assert_eq!(&doc[b.span.unwrap()], "<b/>");
    }

    #[test]
    fn normalises_attribute_whitespace() {
        let root = parse("<a x='1\n2\t3'/>").unwrap();
        assert_eq!(root.attr("x"), Some("1 2 3"));
    }
}
