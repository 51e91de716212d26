//! The access policy file: arbitrary text never panics the parser, and a policy that parses
//! decides every kind of request without panicking.

#![no_main]

use libfuzzer_sys::fuzz_target;
use oxvirt_access::{Accounts, Policy, Subject, Target};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(mut policy) = Policy::parse(text) else {
        return;
    };
    let accounts = Accounts::parse("alice:x:1000:1000::/h:/bin/sh\n", "staff:x:50:alice\n");
    let _ = policy.resolve(&accounts);
    let subjects = [
        Subject::default(),
        Subject {
            uid: Some(1000),
            gids: vec![1000, 50],
            x509_dn: None,
        },
        Subject {
            uid: None,
            gids: Vec::new(),
            x509_dn: Some("CN=client,O=Example,C=GB".to_owned()),
        },
    ];
    let target = Target {
        name: Some("web-1"),
        uuid: Some("c7a5fdbd-edaf-9455-926a-d65c16db1809"),
    };
    for subject in &subjects {
        for operation in ["connect:getattr", "domain:start", "storage_vol:delete"] {
            let _ = policy.decide(subject, operation, None);
            let _ = policy.decide(subject, operation, Some(&target));
        }
    }
});
