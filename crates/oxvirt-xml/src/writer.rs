//! Writing an [`Element`] tree in libvirt's style.
//!
//! libvirt indents by two spaces, quotes attributes with single quotes, writes an element
//! without content as `<name/>`, an element with only text on one line, and escapes
//! `<`, `>`, `&`, `'` and `"` everywhere. Control characters other than tab, newline
//! and carriage return cannot appear in XML 1.0 and are dropped, as libvirt drops them.

use crate::tree::{Element, Node};

/// The whole element as a document fragment, ending with a newline.
pub fn to_string(el: &Element) -> String {
    let mut out = String::with_capacity(1024);
    write_element(&mut out, el, 0);
    out
}

/// Appends `el` to `out`, indented by `depth` levels, followed by a newline.
pub fn write_element(out: &mut String, el: &Element, depth: usize) {
    indent(out, depth);
    write_inline(out, el, depth, true);
    out.push('\n');
}

fn write_inline(out: &mut String, el: &Element, depth: usize, pretty: bool) {
    out.push('<');
    out.push_str(&el.name);
    for a in &el.attributes {
        out.push(' ');
        out.push_str(&a.name);
        out.push_str("='");
        escape_attr_into(out, &a.value);
        out.push('\'');
    }
    if el.children.is_empty() {
        out.push_str("/>");
        return;
    }
    out.push('>');
    let text_only = el
        .children
        .iter()
        .all(|n| matches!(n, Node::Text(_) | Node::CData(_)));
    let mixed = !text_only
        && el
            .children
            .iter()
            .any(|n| matches!(n, Node::Text(t) if !t.trim().is_empty()));
    if text_only || mixed || !pretty {
        for node in &el.children {
            write_node_inline(out, node, depth);
        }
    } else {
        out.push('\n');
        for node in &el.children {
            write_node(out, node, depth + 1);
        }
        indent(out, depth);
    }
    out.push_str("</");
    out.push_str(&el.name);
    out.push('>');
}

fn write_node_inline(out: &mut String, node: &Node, depth: usize) {
    match node {
        Node::Element(e) => write_inline(out, e, depth, false),
        Node::Text(t) => escape_text_into(out, t),
        Node::CData(t) => {
            out.push_str("<![CDATA[");
            out.push_str(&t.replace("]]>", "]]]]><![CDATA[>"));
            out.push_str("]]>");
        }
        Node::Comment(c) => {
            out.push_str("<!--");
            out.push_str(c);
            out.push_str("-->");
        }
        Node::Verbatim(v) => out.push_str(v),
    }
}

/// Appends one child node on its own line(s) at `depth`.
pub fn write_node(out: &mut String, node: &Node, depth: usize) {
    match node {
        Node::Element(e) => write_element(out, e, depth),
        Node::Text(t) if t.trim().is_empty() => {}
        Node::Verbatim(v) if v.is_empty() => {}
        other => {
            indent(out, depth);
            write_node_inline(out, other, depth);
            out.push('\n');
        }
    }
}

/// Appends `depth` levels of two-space indentation.
pub fn indent(out: &mut String, depth: usize) {
    for _ in 0..depth {
        out.push_str("  ");
    }
}

/// Appends `s` escaped for use in XML text or a quoted attribute value.
pub fn escape_into(out: &mut String, s: &str) {
    let mut rest = s;
    while let Some(i) =
        rest.find(|c: char| matches!(c, '<' | '>' | '&' | '\'' | '"') || is_dropped(c))
    {
        out.push_str(&rest[..i]);
        let c = rest[i..].chars().next().unwrap_or('\0');
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\'' => out.push_str("&apos;"),
            '"' => out.push_str("&quot;"),
            _ => {}
        }
        rest = &rest[i + c.len_utf8()..];
    }
    out.push_str(rest);
}

/// Appends `s` escaped for a quoted attribute value: as [`escape_into`], and with tab,
/// newline and carriage return as character references, which a reader would otherwise
/// turn into spaces.
pub fn escape_attr_into(out: &mut String, s: &str) {
    let mut rest = s;
    while let Some(i) = rest.find(['\t', '\n', '\r']) {
        escape_into(out, &rest[..i]);
        out.push_str(match rest.as_bytes()[i] {
            b'\t' => "&#9;",
            b'\n' => "&#10;",
            _ => "&#13;",
        });
        rest = &rest[i + 1..];
    }
    escape_into(out, rest);
}

/// `s` escaped for use in XML text or a quoted attribute value.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    escape_into(&mut out, s);
    out
}

/// Text content: as [`escape_into`], with carriage returns as character references so
/// that a reader does not fold them into newlines.
fn escape_text_into(out: &mut String, s: &str) {
    let mut parts = s.split('\r');
    if let Some(first) = parts.next() {
        escape_into(out, first);
    }
    for part in parts {
        out.push_str("&#13;");
        escape_into(out, part);
    }
}

fn is_dropped(c: char) -> bool {
    (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reader::parse;

    #[test]
    fn writes_libvirt_style() {
        let el = Element::new("domain")
            .with_attr("type", "kvm")
            .with_child(Element::new("name").with_text("a'b<c"))
            .with_child(
                Element::new("devices").with_child(Element::new("disk").with_attr("x", "\"&")),
            );
        assert_eq!(
            to_string(&el),
            "<domain type='kvm'>\n  <name>a&apos;b&lt;c</name>\n  <devices>\n    \
             <disk x='&quot;&amp;'/>\n  </devices>\n</domain>\n"
        );
    }

    #[test]
    fn round_trips_formatted_documents_exactly() {
        let doc = "<domain type='qemu'>\n  <!-- keep me -->\n  <name>x</name>\n  \
                   <description>multi\nline</description>\n  <devices>\n    <empty/>\n  \
                   </devices>\n</domain>\n";
        assert_eq!(to_string(&parse(doc).unwrap()), doc);
    }

    #[test]
    fn an_empty_verbatim_child_keeps_open_and_close_tags_at_any_depth() {
        let inner = Element {
            children: vec![Node::Verbatim(String::new())],
            ..Element::new("devices")
        };
        let el = Element::new("a").with_child(Element::new("domain").with_child(inner));
        assert_eq!(
            to_string(&el),
            "<a>\n  <domain>\n    <devices>\n    </devices>\n  </domain>\n</a>\n"
        );
    }

    #[test]
    fn drops_control_characters() {
        assert_eq!(escape("a\u{1}b\tc"), "ab\tc");
    }
}
