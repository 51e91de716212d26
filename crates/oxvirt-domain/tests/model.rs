//! Behaviour of the domain model as a whole: what is kept, what is reported, what is refused.

use oxvirt_domain::{Domain, ErrorCode};

const BASE: &str = "<domain type='kvm'>\n  <name>vm1</name>\n  <memory unit='KiB'>1024</memory>\n";

#[test]
fn unknown_content_is_kept_and_reported_with_positions() {
    let xml = format!(
        "{BASE}  <frobnicate level='3'/>\n  <devices>\n    <teleporter range='far'/>\n  </devices>\n</domain>\n"
    );
    let parsed = Domain::parse(&xml).unwrap();
    let messages: Vec<String> = parsed.warnings.iter().map(|w| w.to_string()).collect();
    assert_eq!(
        messages,
        [
            "line 4, column 3: unknown element 'frobnicate' in 'domain' kept as written",
            "line 6, column 5: unknown element 'teleporter' in 'devices' kept as written",
        ]
    );
    let out = parsed.domain.to_xml();
    assert!(out.contains("  <frobnicate level='3'/>\n"), "{out}");
    assert!(out.contains("    <teleporter range='far'/>\n"), "{out}");
}

#[test]
fn metadata_round_trips_byte_for_byte() {
    let metadata = "<metadata>\n    <app1:foo xmlns:app1=\"http://app1.org/app1/\">fooish</app1:foo>\n    \
                    <app2:bar xmlns:app2='http://app1.org/app2/'   a = \"b\"><!-- note --></app2:bar>\n  </metadata>";
    let xml = format!("{BASE}  {metadata}\n  <frobnicate/>\n</domain>\n");
    let out = Domain::parse(&xml).unwrap().domain.to_xml();
    assert!(out.contains(metadata), "{out}");
    // What followed the metadata still follows it.
    assert!(
        out.contains(&format!("{metadata}\n  <frobnicate/>\n")),
        "{out}"
    );
}

#[test]
fn qemu_namespace_elements_are_kept_last() {
    let xml = "<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>\n  \
               <name>vm1</name>\n  <qemu:commandline>\n    <qemu:arg value='-S'/>\n  \
               </qemu:commandline>\n  <memory unit='KiB'>1024</memory>\n</domain>\n";
    let parsed = Domain::parse(xml).unwrap();
    assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
    let out = parsed.domain.to_xml();
    assert!(
        out.starts_with(
            "<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>"
        ),
        "{out}"
    );
    assert!(
        out.ends_with(
            "  <qemu:commandline>\n    <qemu:arg value='-S'/>\n  </qemu:commandline>\n</domain>\n"
        ),
        "{out}"
    );
}

#[test]
fn refusals_carry_libvirts_codes_and_positions() {
    let cases: &[(&str, ErrorCode, &str)] = &[
        (
            "<domain><name>a</name></domain>",
            ErrorCode::XmlError,
            "Missing required attribute 'type' in element 'domain'",
        ),
        (
            "<domain type='warp'><name>a</name></domain>",
            ErrorCode::XmlError,
            "Invalid value for attribute 'type' in element 'domain': 'warp'.",
        ),
        (
            "<domain type='kvm'/>",
            ErrorCode::NoName,
            "missing name information",
        ),
        (
            "<domain type='kvm'><name/></domain>",
            ErrorCode::NoName,
            "missing name information",
        ),
        (
            "<domain type='kvm'><name>a/b</name></domain>",
            ErrorCode::XmlError,
            "name a/b cannot contain '/'",
        ),
        (
            "<domain type='kvm'><name>a</name><uuid>zz</uuid></domain>",
            ErrorCode::InternalError,
            "malformed uuid element",
        ),
        (
            "<network><name>a</name></network>",
            ErrorCode::XmlError,
            "expecting root element of 'domain', not 'network'",
        ),
        (
            "<domain type='kvm'><name>a</name>\n<on_crash>explode</on_crash></domain>",
            ErrorCode::ConfigUnsupported,
            "unknown on_crash action: explode",
        ),
        (
            "<domain type='kvm'><name>a</name><memory unit='parsec'>1</memory></domain>",
            ErrorCode::InvalidArg,
            "unknown suffix 'parsec'",
        ),
    ];
    for (xml, code, message) in cases {
        let err = Domain::parse(xml).expect_err(xml);
        assert_eq!((err.code, err.message.as_str()), (*code, *message), "{xml}");
        assert!(err.position.is_some(), "{xml}: no position");
    }
}

#[test]
fn syntax_errors_say_where() {
    let err = Domain::parse("<domain type='kvm'>\n  <name>a</nam>\n</domain>").unwrap_err();
    assert_eq!(err.code, ErrorCode::XmlDetail);
    assert_eq!(err.position.map(|p| p.line), Some(2));
}
