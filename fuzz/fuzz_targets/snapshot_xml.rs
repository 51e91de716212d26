//! Snapshot XML: whatever the parser accepts, its own output must read back, and from then
//! on stay put (see domain_xml.rs); reading under libvirt's parse flags must not panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use oxvirt_domain::snapshot::{DomainSnapshot, SnapshotParseFlags};

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
    let again = second.to_xml();
    assert_eq!(again, text, "output is not a fixed point\n--- input\n{xml}");
    let third = DomainSnapshot::parse(&again).map(|p| p.snapshot);
    assert!(third.as_ref() == Ok(&second), "model changed on a second round trip\n{again}");
});
