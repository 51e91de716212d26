//! Property tests: whatever tree the writer writes, the reader reads back equal.

use oxvirt_xml::{parse, to_string, Attribute, Element, Node};
use proptest::prelude::*;

fn name() -> impl Strategy<Value = String> {
    "[a-zA-Z_][a-zA-Z0-9_.-]{0,8}"
}

/// Any text XML 1.0 can carry (no control characters but tab, newline, carriage return).
fn text() -> impl Strategy<Value = String> {
    "[\\t\\n\\r -\u{d7ff}\u{e000}-\u{fffd}]{0,12}"
}

fn comment() -> impl Strategy<Value = String> {
    "[ a-z0-9<>&']{0,10}".prop_filter("no -- in comments", |c| !c.contains("--"))
}

fn attributes() -> impl Strategy<Value = Vec<Attribute>> {
    proptest::collection::btree_map(name(), text(), 0..4)
        .prop_map(|m| m.into_iter().map(|(k, v)| Attribute::new(k, v)).collect())
}

fn element() -> impl Strategy<Value = Element> {
    let leaf = (name(), attributes(), proptest::option::of(text())).prop_map(|(n, a, t)| {
        let mut e = Element::new(n);
        e.attributes = a;
        if let Some(t) = t.filter(|t| !t.is_empty()) {
            e.children.push(Node::Text(t));
        }
        e
    });
    leaf.prop_recursive(4, 48, 6, |inner| {
        (
            name(),
            attributes(),
            proptest::collection::vec(
                prop_oneof![
                    4 => inner.prop_map(Node::Element),
                    1 => comment().prop_map(Node::Comment),
                ],
                1..6,
            ),
        )
            .prop_map(|(n, a, children)| {
                let mut e = Element::new(n);
                e.attributes = a;
                e.children = children;
                e
            })
    })
}

proptest! {
    #[test]
    fn written_trees_read_back_equal(el in element()) {
        let text = to_string(&el);
        let back = parse(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(back, el);
    }

    #[test]
    fn writing_is_idempotent(el in element()) {
        let once = to_string(&el);
        let twice = to_string(&parse(&once).unwrap());
        prop_assert_eq!(once, twice);
    }

    #[test]
    fn reader_never_panics(doc in "[<>/a-z ='\"&;!?\\[\\]-]{0,64}") {
        let _ = parse(&doc);
    }
}
