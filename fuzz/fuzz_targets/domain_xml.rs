//! Domain XML: whatever the parser accepts, its own output must read back, and from then on
//! stay put: writing what was read from our output gives the same lines (devices may be
//! reordered as libvirt reorders them on reading). Filling in defaults and validating must
//! not panic.
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
    // Written again, the same lines come out. libvirt keeps disks and controllers in its
    // insertion order as it reads them, which is not always the order it wrote them in
    // (its own output is not always a fixed point either), so their order may change.
    let again = second.to_xml();
    let lines = |t: &str| {
        let mut v: Vec<String> = t.lines().map(str::to_string).collect();
        v.sort_unstable();
        v
    };
    assert_eq!(
        lines(&again),
        lines(&text),
        "output changed when read and written again\n--- input\n{xml}"
    );
    let third = Domain::parse(&again).map(|p| p.domain.to_xml());
    assert!(
        third.as_deref().map(lines) == Ok(lines(&text)),
        "third pass differs\n{again}"
    );
    let mut defined = second;
    if defined.apply_defaults().is_ok() {
        let _ = defined.validate();
        let _ = defined.to_xml();
    }
});
