//! The migration cookie (`<qemu-migration>`): whatever `MigrationCookie::parse` accepts
//! must write out as a cookie that parses again; that cookie, written and read once
//! more, must be the same cookie and the same text. (The first writing may drop what
//! libvirt drops: interfaces without a port type, disks without bitmaps, mandatory
//! features' duplicates, capabilities libvirt does not know.)

#![no_main]

use libfuzzer_sys::fuzz_target;
use oxvirt_migrate::MigrationCookie;

fuzz_target!(|data: &[u8]| {
    let Ok(xml) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(cookie) = MigrationCookie::parse(xml) else {
        return;
    };
    let text = cookie.to_xml();
    let first = match MigrationCookie::parse(&text) {
        Ok(c) => c,
        Err(e) => panic!("own cookie refused: {}\n{text}", e.message),
    };
    let again_text = first.to_xml();
    let again = match MigrationCookie::parse(&again_text) {
        Ok(c) => c,
        Err(e) => panic!(
            "own cookie refused the second time: {}\n{again_text}",
            e.message
        ),
    };
    assert_eq!(
        again, first,
        "parsing the written cookie changed it\n{again_text}"
    );
    assert_eq!(
        again.to_xml(),
        again_text,
        "writing the cookie again changed the XML"
    );
});
