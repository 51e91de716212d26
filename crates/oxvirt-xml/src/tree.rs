//! A small XML tree: elements with their attributes, children, namespace and position.
//!
//! Positions and source spans are bookkeeping: two trees compare equal when their names,
//! namespaces, attributes and children are equal, wherever they were read from.

use std::ops::Range;
use std::sync::Arc;

use crate::error::Position;

/// One attribute, with its name as written (`xmlns:qemu`, `type`) and its unescaped value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// The qualified name as written in the document.
    pub name: String,
    /// The value with entities resolved.
    pub value: String,
}

impl Attribute {
    /// An attribute with the given name and value.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Attribute {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// A node inside an element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A child element.
    Element(Element),
    /// Character data with entities resolved.
    Text(String),
    /// A comment, without its `<!--` `-->` delimiters.
    Comment(String),
    /// A CDATA section's content.
    CData(String),
    /// Markup copied verbatim into the output (for example a `<metadata>` element kept
    /// byte for byte). It is written as is, after the indentation of its first line. An
    /// empty one writes nothing, but makes its parent written with an open and a close tag
    /// (`<devices>` ... `</devices>`) as libvirt writes some elements even when empty.
    Verbatim(String),
}

impl Node {
    /// The element in this node, if it is one.
    pub fn as_element(&self) -> Option<&Element> {
        match self {
            Node::Element(e) => Some(e),
            _ => None,
        }
    }
}

/// An element: name, namespace, attributes in document order, and children.
#[derive(Debug, Clone, Default)]
pub struct Element {
    /// The qualified name as written (`disk`, `qemu:commandline`).
    pub name: String,
    /// The namespace URI the name's prefix (or the default namespace) resolves to.
    pub namespace: Option<Arc<str>>,
    /// The attributes, in document order, namespace declarations included.
    pub attributes: Vec<Attribute>,
    /// The children in document order. Whitespace between elements is not kept.
    pub children: Vec<Node>,
    /// Where the element's start tag begins in its document.
    pub position: Position,
    /// The byte range of the whole element in its document, when it was read from one.
    pub span: Option<Range<usize>>,
}

impl PartialEq for Element {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.namespace == other.namespace
            && self.attributes == other.attributes
            && self.children == other.children
    }
}

impl Eq for Element {}

impl Element {
    /// An empty element with the given name.
    pub fn new(name: impl Into<String>) -> Self {
        Element {
            name: name.into(),
            ..Element::default()
        }
    }

    /// The name without its namespace prefix.
    pub fn local_name(&self) -> &str {
        match self.name.split_once(':') {
            Some((_, local)) => local,
            None => &self.name,
        }
    }

    /// The value of the attribute `name`, if present.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|a| a.name == name)
            .map(|a| a.value.as_str())
    }

    /// Sets (or replaces) the attribute `name`, keeping its place if it existed.
    pub fn set_attr(&mut self, name: &str, value: impl Into<String>) {
        let value = value.into();
        match self.attributes.iter_mut().find(|a| a.name == name) {
            Some(a) => a.value = value,
            None => self.attributes.push(Attribute::new(name, value)),
        }
    }

    /// Builder form of [`Element::set_attr`].
    pub fn with_attr(mut self, name: &str, value: impl Into<String>) -> Self {
        self.set_attr(name, value);
        self
    }

    /// Builder form of pushing a text child.
    pub fn with_text(mut self, text: impl Into<String>) -> Self {
        self.children.push(Node::Text(text.into()));
        self
    }

    /// Builder form of pushing an element child.
    pub fn with_child(mut self, child: Element) -> Self {
        self.children.push(Node::Element(child));
        self
    }

    /// Appends an element child.
    pub fn push(&mut self, child: Element) {
        self.children.push(Node::Element(child));
    }

    /// The child elements, in order.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(Node::as_element)
    }

    /// The first child element named `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.elements().find(|e| e.name == name)
    }

    /// The concatenated text and CDATA content of this element (not of its descendants).
    pub fn text(&self) -> String {
        let mut out = String::new();
        for node in &self.children {
            match node {
                Node::Text(t) | Node::CData(t) => out.push_str(t),
                _ => {}
            }
        }
        out
    }

    /// Whether the element has neither attributes nor children.
    pub fn is_empty(&self) -> bool {
        self.attributes.is_empty() && self.children.is_empty()
    }
}
