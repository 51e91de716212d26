//! `virDomainSetMetadata` and `virDomainGetMetadata` on a domain definition: the
//! description, the title, and applications' elements in `<metadata>`, one per namespace
//! URI (libvirt's `virDomainDefSetMetadata` and `virDomainDefGetMetadata`, after the
//! public API's argument checks).
//!
//! An element set through the API is put in the namespace `uri` under the prefix `key`:
//! the element and its descendants without a namespace take it, and the declaration goes
//! on the element. Reading it back strips that namespace again. Both are written as
//! libxml2 writes them (double-quoted attributes, two-space indentation).

mod dump;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use oxvirt_xml::{Attribute, Element, ErrorCode, ErrorDomain, Node, VirError, XmlError};

use crate::domain::Metadata;
use crate::driver::flags::metadata as kind_of;
use crate::Domain;

/// libvirt's error for a bad argument to the public call, worded as `virReportInvalidArg`
/// words it (no prefix).
fn invalid_arg(message: impl Into<String>) -> VirError {
    VirError::raw(ErrorDomain::Domain, ErrorCode::InvalidArg, message)
}

fn must_be_null(what: &str, func: &str, value: Option<&str>) -> Result<(), VirError> {
    match value {
        Some(_) => Err(invalid_arg(format!("{what} in {func} must be NULL"))),
        None => Ok(()),
    }
}

fn must_not_be_null(what: &str, func: &str, value: Option<&str>) -> Result<(), VirError> {
    match value {
        None => Err(invalid_arg(format!("{what} in {func} must not be NULL"))),
        Some(_) => Ok(()),
    }
}

fn unknown_type(kind: i32) -> VirError {
    VirError::new(
        ErrorDomain::Domain,
        ErrorCode::InvalidArg,
        format!("unknown metadata type '{kind}'"),
    )
}

fn not_found() -> VirError {
    VirError::new(
        ErrorDomain::Domain,
        ErrorCode::NoDomainMetadata,
        "Requested metadata element is not present",
    )
}

/// `virDomainSetMetadata`: sets the description, the title (`kind` from
/// [`kind_of`]), or the element of namespace `uri` written with the prefix `key`. An empty
/// or absent `value` removes what was there.
pub fn set_metadata(
    def: &mut Domain,
    kind: i32,
    value: Option<&str>,
    key: Option<&str>,
    uri: Option<&str>,
) -> Result<(), VirError> {
    const FUNC: &str = "virDomainSetMetadata";
    match kind {
        kind_of::TITLE | kind_of::DESCRIPTION => {
            if kind == kind_of::TITLE && value.is_some_and(|v| v.contains('\n')) {
                return Err(invalid_arg("metadata title can't contain newlines"));
            }
            must_be_null("uri", FUNC, uri)?;
            must_be_null("key", FUNC, key)?;
            let text = value.filter(|v| !v.is_empty()).map(str::to_string);
            if kind == kind_of::TITLE {
                def.title = text;
            } else {
                def.description = text;
            }
            Ok(())
        }
        kind_of::ELEMENT => {
            must_not_be_null("uri", FUNC, uri)?;
            let uri = uri.unwrap_or_default();
            let new = match value {
                Some(v) => {
                    must_not_be_null("key", FUNC, key)?;
                    Some(namespaced_element(v, key.unwrap_or_default(), uri)?)
                }
                None => None,
            };
            set_element(def, uri, new);
            Ok(())
        }
        other => Err(unknown_type(other)),
    }
}

/// `virDomainGetMetadata`: the description, the title, or the element of namespace `uri`
/// as libvirt returns it.
pub fn get_metadata(def: &Domain, kind: i32, uri: Option<&str>) -> Result<String, VirError> {
    const FUNC: &str = "virDomainGetMetadata";
    match kind {
        kind_of::TITLE | kind_of::DESCRIPTION => {
            must_be_null("uri", FUNC, uri)?;
            let text = if kind == kind_of::TITLE {
                &def.title
            } else {
                &def.description
            };
            text.clone().ok_or_else(not_found)
        }
        kind_of::ELEMENT => {
            must_not_be_null("uri", FUNC, uri)?;
            let uri = uri.unwrap_or_default();
            let meta = def.metadata.as_ref().ok_or_else(not_found)?;
            let el = find_by_ns(&meta.element, uri).ok_or_else(not_found)?;
            Ok(dump::dump(&extract(el, uri), 0))
        }
        other => Err(unknown_type(other)),
    }
}

/// The first element child of `meta` in namespace `uri` (`virXMLFindChildNodeByNs`).
fn find_by_ns<'a>(meta: &'a Element, uri: &str) -> Option<&'a Element> {
    meta.elements()
        .find(|e| e.namespace.as_deref() == Some(uri))
}

/// Puts `new` in `<metadata>` in place of the element of namespace `uri` (after the
/// others), or just removes that element for `None`; `<metadata>` stays, if empty.
fn set_element(def: &mut Domain, uri: &str, new: Option<Element>) {
    if def.metadata.is_none() && new.is_none() {
        return;
    }
    let meta = def.metadata.get_or_insert_with(|| Metadata {
        element: Element::new("metadata"),
        raw: None,
    });
    let el = &mut meta.element;
    let old = el.children.iter().position(|n| {
        n.as_element()
            .is_some_and(|e| e.namespace.as_deref() == Some(uri))
    });
    if let Some(i) = old {
        el.children.remove(i);
    }
    if let Some(new) = new {
        el.children.push(Node::Element(new));
    }
    // Whitespace between elements is not kept once libvirt has read the domain.
    el.children
        .retain(|n| !matches!(n, Node::Text(t) if t.trim().is_empty()));
    meta.raw = Some(dump::dump(el, 1));
}

/// Whether `key` can be a namespace prefix (an XML NCName).
fn is_ncname(key: &str) -> bool {
    let mut chars = key.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | '\u{b7}'))
}

/// Reads the application's element and puts it in namespace `uri` with prefix `key`
/// (`virXMLInjectNamespace`).
fn namespaced_element(xml: &str, key: &str, uri: &str) -> Result<Element, VirError> {
    let mut el = oxvirt_xml::parse(xml).map_err(|e| parse_error(&e))?;
    let internal = |m: &str| VirError::new(ErrorDomain::Xml, ErrorCode::InternalError, m);
    if !is_ncname(key) {
        return Err(internal(
            "failed to validate prefix for a new XML namespace",
        ));
    }
    let decl = format!("xmlns:{key}");
    if el.attributes.iter().any(|a| a.name == decl) {
        return Err(internal("failed to create a new XML namespace"));
    }
    let ns: Arc<str> = Arc::from(uri);
    inject(&mut el, key, &ns);
    let last_decl = el
        .attributes
        .iter()
        .rposition(|a| a.name == "xmlns" || a.name.starts_with("xmlns:"))
        .map_or(0, |i| i + 1);
    el.attributes.insert(last_decl, Attribute::new(decl, uri));
    Ok(el)
}

/// Gives `el` and its descendants that have no namespace the namespace `ns` as `key`.
fn inject(el: &mut Element, key: &str, ns: &Arc<str>) {
    if el.namespace.is_none() {
        el.name = format!("{key}:{}", el.local_name());
        el.namespace = Some(ns.clone());
    }
    for child in &mut el.children {
        if let Node::Element(e) = child {
            inject(e, key, ns);
        }
    }
}

/// A copy of a metadata element as `virXMLExtractNamespaceXML` returns it: its first
/// namespace declaration dropped, and the elements of namespace `uri` without prefix.
fn extract(el: &Element, uri: &str) -> Element {
    let mut copy = el.clone();
    if let Some(i) = copy
        .attributes
        .iter()
        .position(|a| a.name == "xmlns" || a.name.starts_with("xmlns:"))
    {
        copy.attributes.remove(i);
    }
    strip(&mut copy, uri);
    copy
}

fn strip(el: &mut Element, uri: &str) {
    if el.namespace.as_deref() == Some(uri) {
        el.name = el.local_name().to_string();
    }
    for child in &mut el.children {
        if let Node::Element(e) = child {
            strip(e, uri);
        }
    }
}

/// A syntax error in the application's element, as libvirt reports it (the parser's
/// message after the document's name and line).
fn parse_error(e: &XmlError) -> VirError {
    let line = e.position.map_or(1, |p| p.line);
    VirError::raw(
        ErrorDomain::Domain,
        ErrorCode::XmlDetail,
        format!("(metadata_xml):{line}: {}", e.message),
    )
}
