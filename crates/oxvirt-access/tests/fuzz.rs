//! Arbitrary text never makes the policy parser (or a decision) panic.

use oxvirt_access::{Policy, Subject, Target};
use proptest::prelude::*;

/// Text made of the policy language's own pieces, so that the parser gets far.
fn policyish() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "[[rule]]",
        "[rule]",
        "[[",
        "]]",
        "[",
        "]",
        "action",
        "default",
        "=",
        " ",
        "\n",
        "\r\n",
        "\"allow\"",
        "\"deny\"",
        "\"",
        "'",
        "#",
        ",",
        "users",
        "uids",
        "groups",
        "gids",
        "x509_dns",
        "operations",
        "domains",
        "networks",
        "storage_pools",
        "\"domain:*\"",
        "\"*\"",
        "\"a\"",
        "0",
        "-1",
        "4294967296",
        "1_0",
        "true",
        "\\",
        "\\u00e9",
        "\\u",
        "é",
        "\t",
    ]);
    prop::collection::vec(piece, 0..60).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC*") {
        let _ = Policy::parse(&text);
    }

    #[test]
    fn policy_shaped_text_never_panics(text in policyish(), op in "[a-z_*]{0,8}:[a-z_*]{0,12}", name in "\\PC{0,8}") {
        if let Ok(policy) = Policy::parse(&text) {
            let s = Subject { uid: Some(1000), gids: vec![1000, 100], x509_dn: Some(name.clone()) };
            let t = Target { name: Some(&name), uuid: Some(&name) };
            let _ = policy.decide(&s, &op, Some(&t));
            let _ = policy.decide(&s, &op, None);
        }
    }

    #[test]
    fn globs_never_panic(pattern in "[a-c*?\\[\\]!\\-\\\\^]{0,12}", text in "[a-c\\[\\]\\-]{0,12}") {
        let _ = oxvirt_access::glob::matches(&pattern, &text);
    }
}
