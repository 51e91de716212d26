//! The XML tree: whatever the reader accepts, the writer's output must read back to an
//! equal tree.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(xml) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(first) = oxvirt_xml::parse(xml) else {
        return;
    };
    let text = oxvirt_xml::to_string(&first);
    let second = match oxvirt_xml::parse(&text) {
        Ok(t) => t,
        Err(e) => panic!("own output rejected: {e}\n--- input\n{xml}\n--- output\n{text}"),
    };
    assert!(
        first == second,
        "round trip changed the tree\n--- input\n{xml:?}\n--- output\n{text:?}\n--- first\n{first:?}\n--- second\n{second:?}"
    );
});
