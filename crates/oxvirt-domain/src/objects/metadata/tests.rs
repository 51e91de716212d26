//! Unit tests of metadata edits, against what libvirt 9.0's test driver returned and
//! printed for the same calls.

use super::*;
use crate::driver::flags::metadata::{DESCRIPTION, ELEMENT, TITLE};

fn domain() -> Domain {
    let xml = "<domain type='test'><name>test</name><memory>1024</memory>\
               <os><type>hvm</type></os></domain>";
    Domain::parse(xml).unwrap().domain
}

/// The `<metadata>` block of the domain's XML, as `virsh dumpxml` shows it.
fn metadata_block(def: &Domain) -> String {
    let xml = def.to_xml();
    let start = xml.find("  <metadata").expect("no metadata");
    let end = xml.find("  <memory").unwrap();
    xml[start..end].to_string()
}

fn err(r: Result<impl std::fmt::Debug, VirError>) -> (i32, i32, String) {
    let e = r.unwrap_err();
    (e.code.number(), e.domain.number(), e.message)
}

#[test]
fn missing_metadata_is_reported_as_libvirt_reports_it() {
    let def = domain();
    let missing = (
        80,
        20,
        "metadata not found: Requested metadata element is not present".into(),
    );
    assert_eq!(err(get_metadata(&def, DESCRIPTION, None)), missing);
    assert_eq!(err(get_metadata(&def, TITLE, None)), missing);
    assert_eq!(err(get_metadata(&def, ELEMENT, Some("http://x/"))), missing);
    assert_eq!(
        err(get_metadata(&def, ELEMENT, None)),
        (8, 20, "uri in virDomainGetMetadata must not be NULL".into())
    );
    assert_eq!(
        err(get_metadata(&def, TITLE, Some("http://x/"))),
        (8, 20, "uri in virDomainGetMetadata must be NULL".into())
    );
    assert_eq!(
        err(get_metadata(&def, 3, None)),
        (8, 20, "invalid argument: unknown metadata type '3'".into())
    );
}

#[test]
fn title_and_description() {
    let mut def = domain();
    assert_eq!(
        err(set_metadata(&mut def, TITLE, Some("a\nb"), None, None)),
        (8, 20, "metadata title can't contain newlines".into())
    );
    set_metadata(&mut def, TITLE, Some("my title"), None, None).unwrap();
    assert_eq!(get_metadata(&def, TITLE, None).unwrap(), "my title");
    set_metadata(&mut def, DESCRIPTION, Some("desc\nline2 & <x>"), None, None).unwrap();
    assert_eq!(
        get_metadata(&def, DESCRIPTION, None).unwrap(),
        "desc\nline2 & <x>"
    );
    assert!(def.to_xml().contains(
        "  <title>my title</title>\n  <description>desc\nline2 &amp; &lt;x&gt;</description>\n"
    ));
    // Empty or absent values remove them.
    set_metadata(&mut def, TITLE, None, None, None).unwrap();
    set_metadata(&mut def, DESCRIPTION, Some(""), None, None).unwrap();
    assert!(get_metadata(&def, TITLE, None).is_err());
    assert!(get_metadata(&def, DESCRIPTION, None).is_err());
    let cases: &[(i32, Option<&str>, Option<&str>, &str)] = &[
        (
            DESCRIPTION,
            Some("k"),
            None,
            "key in virDomainSetMetadata must be NULL",
        ),
        (
            DESCRIPTION,
            None,
            Some("http://u"),
            "uri in virDomainSetMetadata must be NULL",
        ),
        (
            ELEMENT,
            Some("k"),
            None,
            "uri in virDomainSetMetadata must not be NULL",
        ),
        (
            ELEMENT,
            None,
            Some("http://w/"),
            "key in virDomainSetMetadata must not be NULL",
        ),
    ];
    for (kind, key, uri, message) in cases {
        assert_eq!(
            err(set_metadata(&mut def, *kind, Some("<a/>"), *key, *uri)),
            (8, 20, message.to_string())
        );
    }
    assert_eq!(
        err(set_metadata(&mut def, 5, Some("x"), None, None)),
        (8, 20, "invalid argument: unknown metadata type '5'".into())
    );
}

#[test]
fn elements_are_namespaced_stored_and_returned_as_libvirt_does() {
    let mut def = domain();
    let set = |def: &mut Domain, xml: &str, key: &str, uri: &str| {
        set_metadata(def, ELEMENT, Some(xml), Some(key), Some(uri)).unwrap()
    };
    set(&mut def, "<foo a='1'><bar>t</bar></foo>", "k", "http://x/");
    assert_eq!(
        get_metadata(&def, ELEMENT, Some("http://x/")).unwrap(),
        "<foo a=\"1\">\n  <bar>t</bar>\n</foo>"
    );
    set(&mut def, "<foo2/>", "k2", "http://y/");
    set(
        &mut def,
        "<ns:foo3 xmlns:ns='http://z/'><ns:a/></ns:foo3>",
        "k3",
        "http://z/",
    );
    assert_eq!(
        metadata_block(&def),
        "  <metadata>\n    <k:foo xmlns:k=\"http://x/\" a=\"1\">\n      <k:bar>t</k:bar>\n    \
         </k:foo>\n    <k2:foo2 xmlns:k2=\"http://y/\"/>\n    \
         <ns:foo3 xmlns:ns=\"http://z/\" xmlns:k3=\"http://z/\">\n      <ns:a/>\n    \
         </ns:foo3>\n  </metadata>\n"
    );
    assert_eq!(
        get_metadata(&def, ELEMENT, Some("http://z/")).unwrap(),
        "<foo3 xmlns:k3=\"http://z/\">\n  <a/>\n</foo3>"
    );
    // The same URI replaces the element, which goes last; None removes one.
    set(&mut def, "<foo4>x</foo4>", "kk", "http://x/");
    assert_eq!(
        get_metadata(&def, ELEMENT, Some("http://x/")).unwrap(),
        "<foo4>x</foo4>"
    );
    set_metadata(&mut def, ELEMENT, None, None, Some("http://y/")).unwrap();
    set_metadata(&mut def, ELEMENT, None, None, Some("http://nonexist/")).unwrap();
    assert_eq!(
        metadata_block(&def),
        "  <metadata>\n    <ns:foo3 xmlns:ns=\"http://z/\" xmlns:k3=\"http://z/\">\n      \
         <ns:a/>\n    </ns:foo3>\n    <kk:foo4 xmlns:kk=\"http://x/\">x</kk:foo4>\n  \
         </metadata>\n"
    );
    // Removing the last leaves an empty element.
    set_metadata(&mut def, ELEMENT, None, None, Some("http://z/")).unwrap();
    set_metadata(&mut def, ELEMENT, None, Some("k"), Some("http://x/")).unwrap();
    assert_eq!(metadata_block(&def), "  <metadata/>\n");
}

#[test]
fn namespaces_inside_the_element() {
    let mut def = domain();
    let set = |def: &mut Domain, xml: &str, key: &str, uri: &str| {
        set_metadata(def, ELEMENT, Some(xml), Some(key), Some(uri)).unwrap()
    };
    set(
        &mut def,
        "<foo><ns:a xmlns:ns='http://q/'/><b c='1' ns2:d='2' xmlns:ns2='http://r/'/></foo>",
        "p0",
        "http://a/",
    );
    assert_eq!(
        get_metadata(&def, ELEMENT, Some("http://a/")).unwrap(),
        "<foo>\n  <ns:a xmlns:ns=\"http://q/\"/>\n  \
         <b xmlns:ns2=\"http://r/\" c=\"1\" ns2:d=\"2\"/>\n</foo>"
    );
    // An element already in a namespace keeps it, and is found by that one only.
    set(
        &mut def,
        "<ns:foo xmlns:ns='http://q/'><b/></ns:foo>",
        "p1",
        "http://b/",
    );
    assert!(get_metadata(&def, ELEMENT, Some("http://b/")).is_err());
    assert_eq!(
        get_metadata(&def, ELEMENT, Some("http://q/")).unwrap(),
        "<foo xmlns:p1=\"http://b/\">\n  <p1:b/>\n</foo>"
    );
    set(
        &mut def,
        "<foo xmlns='http://d/'><b/></foo>",
        "p2",
        "http://c/",
    );
    set(
        &mut def,
        "<foo b='x&quot;y' c=\"it's\">text <i>mixed</i> tail</foo>",
        "p3",
        "http://e/",
    );
    set(&mut def, "<foo><!-- c --><a/></foo>", "p5", "http://g/");
    set(&mut def, "<?xml version='1.0'?><foo/>", "p8", "http://j/");
    assert_eq!(
        metadata_block(&def),
        "  <metadata>\n    <p0:foo xmlns:p0=\"http://a/\">\n      \
         <ns:a xmlns:ns=\"http://q/\"/>\n      \
         <p0:b xmlns:ns2=\"http://r/\" c=\"1\" ns2:d=\"2\"/>\n    </p0:foo>\n    \
         <ns:foo xmlns:ns=\"http://q/\" xmlns:p1=\"http://b/\">\n      <p1:b/>\n    \
         </ns:foo>\n    <foo xmlns=\"http://d/\" xmlns:p2=\"http://c/\">\n      <b/>\n    \
         </foo>\n    <p3:foo xmlns:p3=\"http://e/\" b=\"x&quot;y\" c=\"it's\">text \
         <p3:i>mixed</p3:i> tail</p3:foo>\n    <p5:foo xmlns:p5=\"http://g/\">\n      \
         <!-- c -->\n      <p5:a/>\n    </p5:foo>\n    <p8:foo xmlns:p8=\"http://j/\"/>\n  \
         </metadata>\n"
    );
    assert_eq!(
        get_metadata(&def, ELEMENT, Some("http://e/")).unwrap(),
        "<foo b=\"x&quot;y\" c=\"it's\">text <i>mixed</i> tail</foo>"
    );
}

#[test]
fn bad_keys_and_documents() {
    let mut def = domain();
    for key in ["k-x", "_k", "k.x", "é"] {
        set_metadata(
            &mut def,
            ELEMENT,
            Some("<a/>"),
            Some(key),
            Some("http://k/"),
        )
        .unwrap();
    }
    let bad_prefix = (
        1,
        5,
        "internal error: failed to validate prefix for a new XML namespace".into(),
    );
    for key in ["1k", "k:x", "a b", ""] {
        assert_eq!(
            err(set_metadata(
                &mut def,
                ELEMENT,
                Some("<a/>"),
                Some(key),
                Some("http://w/")
            )),
            bad_prefix,
            "{key}"
        );
    }
    assert_eq!(
        err(set_metadata(
            &mut def,
            ELEMENT,
            Some("<a xmlns:k='http://other/'><k:b/></a>"),
            Some("k"),
            Some("http://k/")
        )),
        (
            1,
            5,
            "internal error: failed to create a new XML namespace".into()
        )
    );
    for doc in ["<a/><b/>", "not xml", ""] {
        let (code, domain, message) = err(set_metadata(
            &mut def,
            ELEMENT,
            Some(doc),
            Some("k"),
            Some("http://w/"),
        ));
        assert_eq!((code, domain), (35, 20), "{doc}");
        assert!(message.starts_with("(metadata_xml):1: "), "{message}");
    }
    // Failed calls changed nothing.
    assert_eq!(
        get_metadata(&def, ELEMENT, Some("http://k/")).unwrap(),
        "<a/>"
    );
    assert!(get_metadata(&def, ELEMENT, Some("http://w/")).is_err());
}

#[test]
fn metadata_read_with_the_domain_is_found_and_replaced() {
    let xml = "<domain type='test'><name>t</name><metadata>\n  \
               <app:info xmlns:app='http://app/'><app:v>1</app:v></app:info>\n  \
               <other xmlns='http://o/'/></metadata><memory>1024</memory>\
               <os><type>hvm</type></os></domain>";
    let mut def = Domain::parse(xml).unwrap().domain;
    assert_eq!(
        get_metadata(&def, ELEMENT, Some("http://app/")).unwrap(),
        "<info>\n  <v>1</v>\n</info>"
    );
    set_metadata(
        &mut def,
        ELEMENT,
        Some("<info><v>2</v></info>"),
        Some("app"),
        Some("http://app/"),
    )
    .unwrap();
    assert_eq!(
        metadata_block(&def),
        "  <metadata>\n    <other xmlns=\"http://o/\"/>\n    \
         <app:info xmlns:app=\"http://app/\">\n      <app:v>2</app:v>\n    </app:info>\n  \
         </metadata>\n"
    );
}
