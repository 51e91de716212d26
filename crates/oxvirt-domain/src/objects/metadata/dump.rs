//! Writing an element as libxml2's `xmlNodeDump` does with formatting on, which is how
//! libvirt writes `<metadata>` and returns a metadata element: double-quoted attributes,
//! namespace declarations before the other attributes, two spaces of indentation per
//! level, and no indentation inside an element that holds text.

use oxvirt_xml::{Element, Node};

/// `el` written at indentation level `level` (its first line not indented).
pub(crate) fn dump(el: &Element, level: usize) -> String {
    let mut out = String::new();
    write_element(&mut out, el, level, true);
    out
}

fn indent(out: &mut String, level: usize) {
    for _ in 0..level {
        out.push_str("  ");
    }
}

fn is_ns_decl(name: &str) -> bool {
    name == "xmlns" || name.starts_with("xmlns:")
}

fn write_element(out: &mut String, el: &Element, level: usize, format: bool) {
    out.push('<');
    out.push_str(&el.name);
    let decls = el.attributes.iter().filter(|a| is_ns_decl(&a.name));
    let others = el.attributes.iter().filter(|a| !is_ns_decl(&a.name));
    for a in decls.chain(others) {
        out.push(' ');
        out.push_str(&a.name);
        out.push_str("=\"");
        escape(out, &a.value, true);
        out.push('"');
    }
    if el.children.is_empty() {
        out.push_str("/>");
        return;
    }
    out.push('>');
    let format = format
        && !el
            .children
            .iter()
            .any(|n| matches!(n, Node::Text(_) | Node::CData(_)));
    for child in &el.children {
        if format {
            out.push('\n');
            indent(out, level + 1);
        }
        match child {
            Node::Element(e) => write_element(out, e, level + 1, format),
            Node::Text(t) => escape(out, t, false),
            Node::CData(t) => {
                out.push_str("<![CDATA[");
                out.push_str(t);
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
    if format {
        out.push('\n');
        indent(out, level);
    }
    out.push_str("</");
    out.push_str(&el.name);
    out.push('>');
}

/// libxml2's escaping of text and of attribute values.
fn escape(out: &mut String, s: &str, attr: bool) {
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\r' => out.push_str("&#13;"),
            '"' if attr => out.push_str("&quot;"),
            '\n' if attr => out.push_str("&#10;"),
            '\t' if attr => out.push_str("&#9;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(xml: &str, level: usize) -> String {
        dump(&oxvirt_xml::parse(xml).unwrap(), level)
    }

    #[test]
    fn formats_as_libxml2() {
        assert_eq!(
            d(
                "<k:foo a='1' xmlns:k='http://x/'><k:bar>t</k:bar></k:foo>",
                0
            ),
            "<k:foo xmlns:k=\"http://x/\" a=\"1\">\n  <k:bar>t</k:bar>\n</k:foo>"
        );
        assert_eq!(
            d("<a><b><c/></b><!-- c --></a>", 1),
            "<a>\n    <b>\n      <c/>\n    </b>\n    <!-- c -->\n  </a>"
        );
        // No indentation inside mixed content, nor below it.
        assert_eq!(
            d(
                "<foo b='x&quot;y' c=\"it's\">text <i>mixed <j/></i> tail</foo>",
                0
            ),
            "<foo b=\"x&quot;y\" c=\"it's\">text <i>mixed <j/></i> tail</foo>"
        );
        assert_eq!(
            d("<foo>a&lt;b&gt;c&amp;<![CDATA[<x>]]></foo>", 0),
            "<foo>a&lt;b&gt;c&amp;<![CDATA[<x>]]></foo>"
        );
        assert_eq!(d("<foo a='1&#10;2&#9;'/>", 0), "<foo a=\"1&#10;2&#9;\"/>");
    }
}
