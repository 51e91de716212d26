//! The URI grammar, against what libvirt 9.0's `virsh uri` and `libvirt.open` answer.

use super::*;
use proptest::prelude::*;

fn parse(text: &str) -> Uri {
    Uri::parse(text).unwrap()
}

fn params(uri: &Uri) -> Vec<(&str, &str)> {
    uri.params()
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect()
}

#[test]
fn local_test_uris() {
    let uri = parse("test:///default");
    assert_eq!(
        (uri.scheme(), uri.driver(), uri.transport()),
        ("test", "test", None)
    );
    assert_eq!((uri.user(), uri.host(), uri.port()), (None, None, None));
    assert_eq!(uri.path(), "/default");
    assert_eq!((uri.query(), uri.fragment()), (None, None));
    assert!(uri.params().is_empty());
    assert!(!uri.is_remote());
    assert_eq!(uri.to_string(), "test:///default");
    assert_eq!(parse("test:///tmp/node.xml").path(), "/tmp/node.xml");
    assert_eq!(parse("qemu:///system").path(), "/system");
    assert_eq!(parse("qemu:///session").driver(), "qemu");
}

#[test]
fn remote_uri_with_every_part() {
    let uri = parse("qemu+ssh://root@host:2222/system?keyfile=/k&no_verify=1");
    assert_eq!(
        (uri.scheme(), uri.driver(), uri.transport()),
        ("qemu+ssh", "qemu", Some("ssh"))
    );
    assert_eq!(
        (uri.user(), uri.host(), uri.port()),
        (Some("root"), Some("host"), Some(2222))
    );
    assert_eq!(uri.path(), "/system");
    assert_eq!(params(&uri), [("keyfile", "/k"), ("no_verify", "1")]);
    assert_eq!(uri.param("no_verify"), Some("1"));
    assert_eq!(uri.param("missing"), None);
    assert!(uri.is_remote());
    assert_eq!(
        uri.to_string(),
        "qemu+ssh://root@host:2222/system?keyfile=/k&no_verify=1"
    );
}

#[test]
fn transports_and_sockets() {
    let uri = parse("qemu+tls://host/system?pkipath=/p");
    assert_eq!(
        (uri.transport(), uri.param("pkipath")),
        (Some("tls"), Some("/p"))
    );
    let uri = parse("qemu+unix:///system?socket=/run/x.sock");
    assert_eq!(uri.host(), None);
    assert_eq!(uri.param("socket"), Some("/run/x.sock"));
    assert!(uri.is_remote());
    let uri = parse("test+unix:///default?socket=/tmp/ox/run/libvirt-sock");
    assert_eq!((uri.driver(), uri.path()), ("test", "/default"));
}

#[test]
fn ipv6_hosts_lose_their_brackets() {
    let uri = parse("qemu+tcp://[::1]:16509/system");
    assert_eq!((uri.host(), uri.port()), (Some("::1"), Some(16509)));
    assert_eq!(uri.to_string(), "qemu+tcp://[::1]:16509/system");
    let uri = parse("test://[fe80::1%25eth0]:22/x?a");
    assert_eq!(uri.host(), Some("fe80::1%eth0"));
    assert_eq!(uri.to_string(), "test://[fe80::1%25eth0]:22/x?a");
    // virStringStripIPv6Brackets keeps brackets around anything without a ':'.
    assert_eq!(parse("test://[abc]/x").host(), Some("[abc]"));
    assert_eq!(parse("test://[abc]/x").to_string(), "test://[abc]/x");
    // Found by fuzzing: a decoded `%44` inside such brackets must not be written back as
    // a new escape (`%D4`); the host reads back the same.
    let uri = parse("s://[%%4444]:0");
    assert_eq!(uri.host(), Some("[%D44]"));
    assert_eq!(uri.to_string(), "s://[%25D44]");
    assert_eq!(parse(&uri.to_string()).host(), uri.host());
}

#[test]
fn components_are_percent_decoded_and_written_back_as_virsh_does() {
    assert_eq!(parse("test:///def%61ult").path(), "/default");
    assert_eq!(parse("test:///def%61ult").to_string(), "test:///default");
    assert_eq!(parse("test:///defa%7Eult").path(), "/defa~ult");
    // virsh -c 'test:///tmp/uri%20t/a:b%20c,d;e@f&g=h+i$j~k!l*m(n)o%5Bp%5Dq%23.xml' uri
    let uri = parse("test:///tmp/uri%20t/a:b%20c,d;e@f&g=h+i$j~k!l*m(n)o%5Bp%5Dq%23.xml");
    assert_eq!(
        uri.path(),
        "/tmp/uri t/a:b c,d;e@f&g=h+i$j~k!l*m(n)o[p]q#.xml"
    );
    assert_eq!(
        uri.to_string(),
        "test:///tmp/uri%20t/a%3Ab%20c,d;e@f&g=h+i$j~k!l*m(n)o%5Bp%5Dq%23.xml"
    );
    assert_eq!(
        parse("test:///tmp/uri%20t/%C3%A9.xml").path(),
        "/tmp/uri t/\u{e9}.xml"
    );
    assert_eq!(
        parse("test:///tmp/x%25y.xml").to_string(),
        "test:///tmp/x%25y.xml"
    );
    let uri = parse("qemu+ssh://r%6Fot@h%6Fst/system");
    assert_eq!((uri.user(), uri.host()), (Some("root"), Some("host")));
}

#[test]
fn query_is_kept_as_written_and_split_as_libvirt_splits_it() {
    let uri = parse("test:///default?a=1&b=%20x&c;d=%2f");
    assert_eq!(uri.query(), Some("a=1&b=%20x&c;d=%2f"));
    assert_eq!(uri.to_string(), "test:///default?a=1&b=%20x&c;d=%2f");
    // '&' separates while one follows, then ';'. A bare name has an empty value.
    assert_eq!(
        params(&uri),
        [("a", "1"), ("b", " x"), ("c", ""), ("d", "/")]
    );
    let uri = parse("test:///x?a=1;b=2;c&&=ignored&e=&f=1+2");
    assert_eq!(params(&uri), [("a", "1;b=2;c"), ("e", ""), ("f", "1+2")]);
    let uri = parse("test:///x?s=1;t=2");
    assert_eq!(params(&uri), [("s", "1"), ("t", "2")]);
    let uri = parse("test:///default?");
    assert_eq!((uri.query(), uri.params().len()), (Some(""), 0));
    assert_eq!(uri.to_string(), "test:///default?");
    let uri = parse("test:///x?dup=1&dup=2");
    assert_eq!(uri.param("dup"), Some("1"));
}

#[test]
fn fragments_and_odd_authorities() {
    let uri = parse("test:///default#frag");
    assert_eq!(uri.fragment(), Some("frag"));
    assert_eq!(uri.to_string(), "test:///default#frag");
    assert_eq!(
        parse("test:///default#a[b]").to_string(),
        "test:///default#a[b]"
    );
    // A port without a host is dropped; a user without one is kept.
    assert_eq!(parse("test://:22/default").to_string(), "test:///default");
    assert_eq!(parse("test://:22/default").port(), None);
    assert_eq!(
        parse("test://user@/default").to_string(),
        "test://user@/default"
    );
    assert_eq!(parse("test://host:0/x").port(), None);
    assert_eq!(parse("test://").to_string(), "test://");
    assert_eq!(parse("test:////default").path(), "//default");
    assert_eq!(parse("test:default").path(), "default");
    assert_eq!(parse("test:default").to_string(), "test:default");
}

#[test]
fn malformed_uris_fail_as_libvirt_fails_them() {
    for text in [
        "te st://",
        "://",
        "http://[::1",
        "test:///%zz",
        "test://host:/default",
        "test://[::1]:/default",
        "test://ho st/default",
        "test:///default?a b",
        "test:///default#a b",
        "test:///tmp/uri t/x.xml",
        "test:///tmp/\u{e9}.xml",
        "1test:///x",
        "test://host:99999/x",
        "test:///%C3",
    ] {
        let err = Uri::parse(text).unwrap_err();
        assert_eq!(err.code, ErrorCode::InternalError, "{text}");
        assert_eq!(err.domain, ErrorDomain::Uri, "{text}");
        assert_eq!(
            err.message,
            format!("internal error: Unable to parse URI {text}")
        );
    }
}

#[test]
fn a_uri_without_scheme_names_no_driver() {
    for text in ["test", "/default", "//host/x", "a/b:c"] {
        let err = Uri::parse(text).unwrap_err();
        assert_eq!(
            (err.code, err.domain),
            (ErrorCode::NoConnect, ErrorDomain::None)
        );
        assert_eq!(
            err.message,
            format!(
                "no connection driver available for URI '{text}' does not include a driver name"
            )
        );
    }
    assert_eq!("test:///default".parse::<Uri>().unwrap().path(), "/default");
}

/// Percent-encodes every byte that is not RFC 3986 unreserved.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[derive(Debug, Clone)]
struct Parts {
    scheme: String,
    user: Option<String>,
    host: Option<String>,
    port: Option<u16>,
    segments: Vec<String>,
    params: Vec<(String, String)>,
    fragment: Option<String>,
}

impl Parts {
    fn text(&self) -> String {
        let mut out = format!("{}://", self.scheme);
        if let Some(host) = &self.host {
            if let Some(user) = &self.user {
                out += &format!("{}@", encode(user));
            }
            if host.contains(':') {
                out += &format!("[{host}]");
            } else {
                out += &encode(host);
            }
            if let Some(port) = self.port {
                out += &format!(":{port}");
            }
        }
        for segment in &self.segments {
            out += &format!("/{}", encode(segment));
        }
        if !self.params.is_empty() {
            let query: Vec<String> = self
                .params
                .iter()
                .map(|(n, v)| format!("{}={}", encode(n), encode(v)))
                .collect();
            out += &format!("?{}", query.join("&"));
        }
        if let Some(fragment) = &self.fragment {
            out += &format!("#{}", encode(fragment));
        }
        out
    }
}

fn parts() -> impl Strategy<Value = Parts> {
    let host = prop_oneof![
        "[a-z0-9][a-z0-9.-]{0,12}",
        "[0-9a-f]{1,4}(:[0-9a-f]{0,4}){2,6}",
        "[ -9;-Z\\\\^-~]{1,8}",
    ];
    (
        "[a-z][a-z0-9.-]{0,6}(\\+[a-z]{1,6})?",
        proptest::option::of("\\PC{1,8}"),
        proptest::option::of(host),
        proptest::option::of(1u16..),
        proptest::collection::vec("\\PC{0,8}", 0..4),
        proptest::collection::vec(("\\PC{1,6}", "\\PC{0,6}"), 0..4),
        proptest::option::of("\\PC{0,8}"),
    )
        .prop_map(
            |(scheme, user, host, port, segments, params, fragment)| Parts {
                scheme,
                user,
                port: host.as_ref().and(port),
                host,
                segments,
                params,
                fragment,
            },
        )
}

proptest! {
    #[test]
    fn parse_display_parse_is_stable(parts in parts()) {
        let text = parts.text();
        let uri = Uri::parse(&text).unwrap();
        prop_assert_eq!(uri.scheme(), parts.scheme.as_str());
        let host = parts.host.as_deref().filter(|h| !h.is_empty());
        prop_assert_eq!(uri.host(), host);
        prop_assert_eq!(uri.user(), host.and(parts.user.as_deref()));
        prop_assert_eq!(uri.port(), parts.port.filter(|_| host.is_some()));
        let path: String = parts.segments.iter().map(|s| format!("/{s}")).collect();
        prop_assert_eq!(uri.path(), path.as_str());
        let expected: Vec<(String, String)> = parts.params.clone();
        prop_assert_eq!(uri.params(), expected.as_slice());
        prop_assert_eq!(uri.fragment(), parts.fragment.as_deref());
        let shown = uri.to_string();
        let again = Uri::parse(&shown).unwrap();
        prop_assert_eq!(&again, &uri, "{} -> {}", text, shown);
        prop_assert_eq!(again.to_string(), shown);
    }

    #[test]
    fn any_string_parses_or_fails_with_libvirt_errors(text in "\\PC{0,24}") {
        match Uri::parse(&text) {
            Ok(uri) => {
                let again = Uri::parse(&uri.to_string()).unwrap();
                prop_assert_eq!(again, uri);
            }
            Err(err) => prop_assert!(matches!(
                (err.code, err.domain),
                (ErrorCode::InternalError, ErrorDomain::Uri)
                    | (ErrorCode::NoConnect, ErrorDomain::None)
            )),
        }
    }
}
