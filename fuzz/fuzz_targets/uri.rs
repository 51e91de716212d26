//! Connection URIs: whatever the parser accepts is written back in a form that parses to
//! the same URI, and that form is a fixed point.

#![no_main]

use libfuzzer_sys::fuzz_target;
use oxvirt::Uri;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(uri) = Uri::parse(text) else {
        return;
    };
    let shown = uri.to_string();
    let again = match Uri::parse(&shown) {
        Ok(u) => u,
        Err(e) => panic!("own output rejected: {e}\ninput: {text:?}\noutput: {shown:?}"),
    };
    assert_eq!(again.to_string(), shown, "not a fixed point for {text:?}");
    assert_eq!(again.driver(), uri.driver());
    assert_eq!(again.transport(), uri.transport());
    assert_eq!(again.host(), uri.host());
    assert_eq!(again.port(), uri.port());
    assert_eq!(again.path(), uri.path());
    assert_eq!(again.params(), uri.params());
});
