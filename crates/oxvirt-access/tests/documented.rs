//! The example policy of docs/security.md parses and decides as the text around it says.

use oxvirt_access::{Accounts, Action, Policy, Subject, Target};

/// The first ```toml block of docs/security.md.
fn documented_policy() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/security.md");
    let doc = std::fs::read_to_string(path).expect("docs/security.md");
    let start = doc.find("```toml\n").expect("a ```toml block") + "```toml\n".len();
    let len = doc[start..].find("```").expect("the block's end");
    doc[start..start + len].to_owned()
}

fn uid(uid: u32) -> Subject {
    Subject {
        uid: Some(uid),
        gids: vec![uid],
        x509_dn: None,
    }
}

fn dn(dn: &str) -> Subject {
    Subject {
        uid: None,
        gids: Vec::new(),
        x509_dn: Some(dn.to_owned()),
    }
}

fn domain(name: &str) -> Target<'_> {
    Target {
        name: Some(name),
        uuid: None,
    }
}

#[test]
fn the_documented_example_decides_as_documented() {
    let mut policy = Policy::parse(&documented_policy()).expect("the example parses");
    let accounts = Accounts::parse(
        "alice:x:1000:1000::/home/alice:/bin/sh\nbob:x:1001:1001::/home/bob:/bin/sh\n",
        "alice:x:1000:\nbob:x:1001:\n",
    );
    policy.resolve(&accounts).expect("alice resolves");
    let decide =
        |s: &Subject, op: &str, t: Option<Target<'_>>| policy.decide(s, op, t.as_ref()).action;
    let (alice, bob) = (uid(1000), uid(1001));
    let operator = dn("C=GB,O=Example,OU=operators,CN=carol");
    let outsider = dn("C=GB,O=Example,OU=sales,CN=dave");

    // Everyone may look.
    for who in [&alice, &bob, &operator, &outsider] {
        assert_eq!(decide(who, "connect:getattr", None), Action::Allow);
        assert_eq!(decide(who, "connect:search_domains", None), Action::Allow);
        assert_eq!(
            decide(who, "domain:getattr", Some(domain("x"))),
            Action::Allow
        );
    }
    // alice opens read-write and starts/stops her own guests only.
    assert_eq!(decide(&alice, "connect:write", None), Action::Allow);
    assert_eq!(decide(&bob, "connect:write", None), Action::Deny);
    assert_eq!(
        decide(&alice, "domain:start", Some(domain("alice-web"))),
        Action::Allow
    );
    assert_eq!(
        decide(&alice, "domain:stop", Some(domain("alice-web"))),
        Action::Allow
    );
    assert_eq!(
        decide(&alice, "domain:start", Some(domain("bob-web"))),
        Action::Deny
    );
    assert_eq!(
        decide(&alice, "domain:delete", Some(domain("alice-web"))),
        Action::Deny
    );
    // Operators do everything but delete; other certificates only look.
    assert_eq!(
        decide(&operator, "domain:start", Some(domain("any"))),
        Action::Allow
    );
    assert_eq!(decide(&operator, "connect:write", None), Action::Allow);
    assert_eq!(
        decide(&operator, "domain:delete", Some(domain("any"))),
        Action::Deny
    );
    assert_eq!(
        decide(&operator, "storage_vol:delete", Some(domain("any"))),
        Action::Deny
    );
    assert_eq!(
        decide(&outsider, "domain:start", Some(domain("any"))),
        Action::Deny
    );
}
