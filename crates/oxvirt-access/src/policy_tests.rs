//! The policy language and its decisions.

use super::*;
use crate::Accounts;

fn parse(text: &str) -> Policy {
    match Policy::parse(text) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    }
}

fn error(text: &str) -> String {
    match Policy::parse(text) {
        Ok(p) => panic!("parsed: {p:?}"),
        Err(e) => e.to_string(),
    }
}

fn uid(uid: u32) -> Subject {
    Subject {
        uid: Some(uid),
        gids: vec![uid],
        x509_dn: None,
    }
}

fn dom(name: &str) -> Target<'_> {
    Target {
        name: Some(name),
        uuid: None,
    }
}

const EXAMPLE: &str = r#"
# who may do what
default = "deny"

[[rule]]
action = "allow"
uids = [1000]
operations = [
    "domain:getattr", "domain:read",  # seeing them
    "domain:start",
]
domains = ["a", "web-*"]

[[rule]]
action = "allow"
uids = [1000]
operations = ["connect:getattr", "connect:read", "connect:search_domains"]

[[rule]]  # a comment after the header
action = 'deny'
gids = [100]
operations = ["domain:*"]

[[rule]]
action = "allow"
x509_dns = ["C=GB,O=Example,CN=*"]
operations = ["*"]
"#;

#[test]
fn first_matching_rule_decides() {
    let p = parse(EXAMPLE);
    assert_eq!(p.default, Action::Deny);
    assert_eq!(p.rules.len(), 4);
    assert_eq!(p.rules[0].line, 5);
    let alice = uid(1000);
    let allow = |op: &str, t: Option<&Target<'_>>| p.decide(&alice, op, t);
    assert_eq!(
        allow("domain:start", Some(&dom("a"))),
        Decision {
            action: Action::Allow,
            rule_line: Some(5)
        }
    );
    assert!(allow("domain:start", Some(&dom("web-1"))).allowed());
    assert!(!allow("domain:start", Some(&dom("b"))).allowed());
    assert_eq!(allow("domain:start", Some(&dom("b"))).rule_line, None);
    assert!(!allow("domain:stop", Some(&dom("a"))).allowed());
    // Connect operations have no object: the second rule grants them.
    assert_eq!(allow("connect:getattr", None).rule_line, Some(14));
    assert!(allow("connect:getattr", None).allowed());
    assert!(!allow("connect:write", None).allowed());
    // An object not known (a lookup by a name that names nothing) is not in any list.
    assert!(!allow("domain:start", None).allowed());
    // Networks are not in a rule that lists only domains.
    assert!(!allow("network:getattr", Some(&dom("a"))).allowed());
}

#[test]
fn groups_and_certificates() {
    let p = parse(EXAMPLE);
    let mut s = uid(1001);
    s.gids = vec![1001, 100];
    let d = p.decide(&s, "domain:read", Some(&dom("a")));
    assert_eq!((d.action, d.rule_line), (Action::Deny, Some(19)));
    let tls = Subject {
        uid: None,
        gids: vec![],
        x509_dn: Some("C=GB,O=Example,CN=client1".into()),
    };
    assert!(p.decide(&tls, "network:write", None).allowed());
    let other = Subject {
        x509_dn: Some("C=GB,O=Other,CN=client1".into()),
        ..tls
    };
    assert!(!p.decide(&other, "connect:getattr", None).allowed());
}

#[test]
fn uuids_and_wildcard_operations() {
    let p = parse(
        r#"
default = "allow"
[[rule]]
action = "deny"
operations = ["*:write", "domain:s*"]
domains = ["C7A5FDBD-EDAF-9455-926A-D65C16DB1809"]
"#,
    );
    let t = Target {
        name: Some("x"),
        uuid: Some("c7a5fdbd-edaf-9455-926a-d65c16db1809"),
    };
    let anyone = Subject::default();
    assert!(!p.decide(&anyone, "domain:write", Some(&t)).allowed());
    assert!(!p.decide(&anyone, "domain:start", Some(&t)).allowed());
    assert!(p.decide(&anyone, "domain:read", Some(&t)).allowed());
    assert!(p.decide(&anyone, "domain:write", Some(&dom("x"))).allowed());
    // A rule with objects never matches an operation without one.
    assert!(p.decide(&anyone, "connect:write", None).allowed());
    assert!(p.decide(&anyone, "network:write", Some(&t)).allowed());
}

#[test]
fn pools_cover_their_volumes_and_ports_their_networks() {
    let p = parse(
        r#"
[[rule]]
action = "allow"
storage_pools = ["default"]
networks = ["net*"]
"#,
    );
    let s = Subject::default();
    assert!(p
        .decide(&s, "storage_vol:create", Some(&dom("default")))
        .allowed());
    assert!(p
        .decide(&s, "storage_pool:read", Some(&dom("default")))
        .allowed());
    assert!(!p
        .decide(&s, "storage_pool:read", Some(&dom("other")))
        .allowed());
    assert!(p
        .decide(&s, "network_port:read", Some(&dom("net1")))
        .allowed());
    assert!(!p.decide(&s, "domain:read", Some(&dom("net1"))).allowed());
    assert!(!p.decide(&s, "secret:read", None).allowed());
    assert!(!p.decide(&s, "connect:read", None).allowed());
}

#[test]
fn empty_policy_denies() {
    let p = parse("");
    assert_eq!(p.default, Action::Deny);
    assert!(!p.decide(&uid(0), "connect:getattr", None).allowed());
    let p = parse("default = \"allow\"\n");
    assert!(p.decide(&uid(5), "domain:delete", None).allowed());
}

#[test]
fn names_resolve_through_the_accounts() {
    let accounts = Accounts::parse(
        "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/sh\nbob:x:1001:1001::/:/bin/sh\n",
        "root:x:0:\nalice:x:1000:\nbob:x:1001:\nvirt:x:500:bob,carol\n",
    );
    assert_eq!(accounts.groups_of(1001, 1001), [1001, 500]);
    assert_eq!(accounts.groups_of(1000, 1000), [1000]);
    let mut p = parse(
        r#"
[[rule]]
action = "allow"
users = ["alice"]
uids = [7]

[[rule]]
action = "allow"
groups = ["virt"]
"#,
    );
    p.resolve(&accounts).unwrap();
    assert!(p.decide(&uid(1000), "domain:read", None).allowed());
    assert!(p.decide(&uid(7), "domain:read", None).allowed());
    let bob = Subject {
        uid: Some(1001),
        gids: accounts.groups_of(1001, 1001),
        x509_dn: None,
    };
    assert!(p.decide(&bob, "domain:read", None).allowed());
    assert!(!p.decide(&uid(1002), "domain:read", None).allowed());

    let mut p = parse("\n[[rule]]\naction = \"allow\"\nusers = [\"mallory\"]\n");
    assert_eq!(
        p.resolve(&accounts).unwrap_err().to_string(),
        "2: unknown user 'mallory' (not in passwd)"
    );
    let mut p = parse("[[rule]]\naction = \"allow\"\ngroups = [\"nogroup\"]\n");
    assert_eq!(
        p.resolve(&accounts).unwrap_err().to_string(),
        "1: unknown group 'nogroup' (not in group)"
    );
}

#[test]
fn errors_name_the_line() {
    let cases = [
        ("default = \"maybe\"\n", "1: default must be \"allow\" or \"deny\", not 'maybe'"),
        ("default = 1\n", "1: default must be \"allow\" or \"deny\", not an integer"),
        ("\nfoo = 1\n", "2: unknown key 'foo' (the top level has only default; rules go in [[rule]] tables)"),
        ("[rules]\n", "1: unknown table [rules] (only [[rule]] tables)"),
        ("[[rule]]\noperations = [\"domain:*\"]\n", "1: this rule has no action (\"allow\" or \"deny\")"),
        ("[[rule]]\naction = \"allow\"\naction = \"deny\"\n", "3: action is given twice"),
        ("[[rule]]\naction = \"allow\"\noperations = [\"domain:strat\"]\n", "3: operation 'domain:strat' matches no libvirt permission (object:permission, like domain:start)"),
        ("[[rule]]\naction = \"allow\"\nuids = [-1]\n", "3: uids: -1 is not a valid id"),
        ("[[rule]]\naction = \"allow\"\nuids = [\"root\"]\n", "3: uids must hold integers, not a string"),
        ("[[rule]]\naction = \"allow\"\nusers = \"root\"\n", "3: users must be an array of strings, not a string"),
        ("[[rule]]\naction = \"allow\"\ncolour = \"red\"\n", "3: unknown rule key 'colour' (action, users, uids, groups, gids, x509_dns, operations, domains, networks, storage_pools)"),
        ("[[rule]]\naction = allow\n", "2: 'allow' is not a value (strings need quotes)"),
        ("[[rule]]\naction = \"allow\n", "2: unterminated string"),
        ("[[rule]]\naction = \"allow\" x\n", "2: unexpected 'x' after the value"),
        ("[[rule]]\naction = \"allow\"\ndomains = [\"a\",\n\"b\"\n", "3: unterminated array"),
        ("[[rule]]\naction = \"allow\"\ndomains = [[\"a\"]]\n", "3: nested arrays are not supported"),
        ("[[rule]]\naction = \"allow\"\ndomains = [\"a\" \"b\"]\n", "3: expected ',' or ']' in the array, found '\"'"),
        ("= 1\n", "1: expected a key, found '='"),
        ("default \"allow\"\n", "1: expected '=' after default"),
        ("default = \"allow\"\ndefault = \"deny\"\n", "2: default is given twice"),
        ("[[rule]]\naction = \"\\q\"\n", "2: unknown escape '\\q'"),
        ("[[rule]]\naction = \"deny\"\ndomains = []\n", "3: domains is empty; an empty list would match anything (leave the key out for that)"),
        ("[[rule]]\naction = \"allow\"\nusers = [ ]\n", "3: users is empty; an empty list would match anything (leave the key out for that)"),
        ("[[rule]]\naction = \"allow\"\noperations = [\n]\n", "3: operations is empty; an empty list would match anything (leave the key out for that)"),
    ];
    for (text, expected) in cases {
        assert_eq!(error(text), expected, "{text:?}");
    }
}

#[test]
fn toml_subset_details() {
    let p = parse(
        "default = \"allow\" # trailing comment\r\n[[rule]]\r\naction = \"deny\"\r\nx509_dns = [\"CN=a\\\"b\", 'C:\\literal', \"\\u00e9\",]\r\nuids = [1_000]\n",
    );
    assert_eq!(p.rules[0].x509_dns, ["CN=a\"b", "C:\\literal", "é"]);
    assert_eq!(p.rules[0].uids, [1000]);
}
