//! Snapshot XML: whatever the parser accepts, its own output must read back to the same
//! model; reading under libvirt's parse flags must not panic either.

#![no_main]

use libfuzzer_sys::fuzz_target;
use oxvirt_domain::snapshot::{DomainSnapshot, SnapshotParseFlags};

fuzz_target!(|data: &[u8]| {
    let Ok(xml) = std::str::from_utf8(data) else {
        return;
    };
    // Characters XML 1.0 forbids are the reader's business (the xml_tree target): libxml2
    // rejects them, and the writer drops them.
    if xml.chars().any(|c| {
        (c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || c == '\u{fffe}' || c == '\u{ffff}'
    }) {
        return;
    }
    for redefine in [false, true] {
        for internal in [false, true] {
            let flags = SnapshotParseFlags {
                redefine,
                internal,
                offline: false,
            };
            if let Ok(p) = DomainSnapshot::parse_with(xml, flags) {
                let _ = p.snapshot.to_xml();
            }
        }
    }
    let Ok(first) = DomainSnapshot::parse(xml) else {
        return;
    };
    let first = first.snapshot;
    let text = first.to_xml();
    let second = match DomainSnapshot::parse(&text) {
        Ok(p) => p.snapshot,
        Err(e) => panic!("own output rejected: {e}\n--- input\n{xml}\n--- output\n{text}"),
    };
    assert!(
        first == second,
        "round trip changed the model\n--- input\n{xml}\n--- output\n{text}\n--- first\n{first:?}\n--- second\n{second:?}"
    );
});
