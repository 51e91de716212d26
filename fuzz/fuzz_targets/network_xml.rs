//! Network XML (`<network>`): whatever `Network::parse` accepts must format to a document
//! that parses again to the same network, and formats the same; the define-time checks
//! must not panic on it.

#![no_main]

use libfuzzer_sys::fuzz_target;
use oxvirt_network::model::Network;

fuzz_target!(|data: &[u8]| {
    let Ok(xml) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(net) = Network::parse(xml) else {
        return;
    };
    let _ = net.validate();
    let text = net.to_xml();
    let again = match Network::parse(&text) {
        Ok(n) => n,
        Err(e) => panic!("own XML refused: {}\n{text}", e.message),
    };
    assert_eq!(
        again, net,
        "parsing the written XML changed the network\n{text}"
    );
    assert_eq!(
        again.to_xml(),
        text,
        "writing the network again changed the XML"
    );
});
