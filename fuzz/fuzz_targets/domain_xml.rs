//! Domain XML: whatever the parser accepts, its own output must read back, and from then on
//! stay put: writing what was read from our output gives the same text and the same model.
//! Filling in defaults and validating must not panic.
//!
//! The first pass may move content the model does not know (a comment, an unknown element)
//! when the typed element it followed is not written back (libvirt leaves empty elements
//! out); it is never lost, and it does not move again.

#![no_main]

use libfuzzer_sys::fuzz_target;
use oxvirt_domain::Domain;

fuzz_target!(|data: &[u8]| {
    let Ok(xml) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(first) = Domain::parse(xml) else {
        return;
    };
    let text = first.domain.to_xml();
    let second = match Domain::parse(&text) {
        Ok(p) => p.domain,
        Err(e) => panic!("own output rejected: {e}\n--- input\n{xml}\n--- output\n{text}"),
    };
    let again = second.to_xml();
    assert_eq!(again, text, "output is not a fixed point\n--- input\n{xml}");
    let third = Domain::parse(&again).map(|p| p.domain);
    assert!(third.as_ref() == Ok(&second), "model changed on a second round trip\n{again}");
    let mut defined = second;
    if defined.apply_defaults().is_ok() {
        let _ = defined.validate();
        let _ = defined.to_xml();
    }
});
