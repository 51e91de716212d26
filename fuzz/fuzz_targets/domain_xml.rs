//! Domain XML: whatever the parser accepts, its own output must read back to the same
//! model, and filling in defaults and validating must not panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use oxvirt_domain::Domain;

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
    let Ok(first) = Domain::parse(xml) else {
        return;
    };
    let first = first.domain;
    let text = first.to_xml();
    let second = match Domain::parse(&text) {
        Ok(p) => p.domain,
        Err(e) => panic!("own output rejected: {e}\n--- input\n{xml}\n--- output\n{text}"),
    };
    assert!(
        first == second,
        "round trip changed the model\n--- input\n{xml}\n--- output\n{text}\n--- first\n{first:?}\n--- second\n{second:?}"
    );
    let mut defined = second;
    if defined.apply_defaults().is_ok() {
        let _ = defined.validate();
        let _ = defined.to_xml();
    }
});
