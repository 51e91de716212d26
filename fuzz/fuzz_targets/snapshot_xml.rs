//! Snapshot XML: whatever the parser accepts, its own output must read back, and from then
//! on stay put (see domain_xml.rs); reading under libvirt's parse flags must not panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use oxvirt_domain::snapshot::{DomainSnapshot, SnapshotParseFlags};

#[path = "common.rs"]
mod common;

use common::content;

fuzz_target!(|data: &[u8]| {
    let Ok(xml) = std::str::from_utf8(data) else {
        return;
    };
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
    let text = first.snapshot.to_xml();
    let second = match DomainSnapshot::parse(&text) {
        Ok(p) => p.snapshot,
        Err(e) => panic!("own output rejected: {e}\n--- input\n{xml}\n--- output\n{text}"),
    };
    // As for domains (see domain_xml.rs): the same content, in an order that may change.
    let again = second.to_xml();
    assert_eq!(
        content(&again),
        content(&text),
        "content changed when read and written again\n--- input\n{xml}"
    );
    let third = DomainSnapshot::parse(&again).map(|p| content(&p.snapshot.to_xml()));
    assert!(third == Ok(content(&text)), "third pass differs\n{again}");
});
