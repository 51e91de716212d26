//! Domain XML: whatever the parser accepts, its own output must read back, and from then on
//! stay put: writing what was read from our output gives the same elements, attributes,
//! texts and comments (their order may change as libvirt's does on reading). Filling in
//! defaults and validating must not panic.
//!
//! The first pass may move content the model does not know (a comment, an unknown element)
//! when the typed element it followed is not written back (libvirt leaves empty elements
//! out); it is never lost, and it does not move again.

#![no_main]

use libfuzzer_sys::fuzz_target;
use oxvirt_domain::Domain;
#[path = "common.rs"]
mod common;

use common::content;

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
    // Written again, the same content comes out: the same elements with the same
    // attributes, texts and comments. Their order may change: libvirt keeps disks and
    // controllers in its insertion order as it reads them (its own output is not always a
    // fixed point either), and content the model does not know moves to where the model
    // writes it.
    let again = second.to_xml();
    assert_eq!(content(&again), content(&text), "content changed when read and written again\n--- input\n{xml}\n--- first\n{text}\n--- second\n{again}");
    let third = Domain::parse(&again).map(|p| content(&p.domain.to_xml()));
    assert!(third == Ok(content(&text)), "third pass differs\n{again}");
    let mut defined = second;
    if defined.apply_defaults().is_ok() {
        let _ = defined.validate();
        let _ = defined.to_xml();
    }
});
