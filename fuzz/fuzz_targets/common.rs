//! What the domain and snapshot targets share.

use oxvirt_xml::{Element, Node};

/// Every element (with its sorted attributes), text and comment of a document, sorted.
pub fn content(xml: &str) -> Vec<String> {
    fn walk(el: &Element, out: &mut Vec<String>) {
        let mut attrs: Vec<String> = el
            .attributes
            .iter()
            .map(|a| format!("{}={:?}", a.name, a.value))
            .collect();
        attrs.sort_unstable();
        out.push(format!("<{} {}>", el.name, attrs.join(" ")));
        for node in &el.children {
            match node {
                Node::Element(e) => walk(e, out),
                Node::Text(t) | Node::CData(t) if !t.trim().is_empty() => {
                    out.push(format!("text {:?}", t.trim()))
                }
                Node::Comment(c) => out.push(format!("comment {c:?}")),
                Node::Verbatim(v) => out.push(format!("verbatim {v:?}")),
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    match oxvirt_xml::parse(xml) {
        Ok(root) => walk(&root, &mut out),
        Err(e) => out.push(format!("unreadable: {e}")),
    }
    out.sort_unstable();
    out
}
