#![allow(clippy::unwrap_used)]

use super::*;

fn env(root: bool, existing: &'static [&'static str]) -> HostEnv<'static> {
    let exists: &'static dyn Fn(&Path) -> bool = Box::leak(Box::new(move |p: &Path| {
        existing.iter().any(|e| Path::new(e) == p)
    }));
    HostEnv {
        root,
        runtime_dir: Some("/run/user/1000".to_owned()),
        home: Some("/home/u".to_owned()),
        exists,
    }
}

fn unix(path: &str) -> Target {
    Target::Unix(PathBuf::from(path))
}

fn tls(host: &str, port: u16, pkipath: Option<&str>, no_verify: bool, no_sanity: bool) -> Target {
    Target::Tls {
        host: host.to_owned(),
        port,
        pkipath: pkipath.map(PathBuf::from),
        no_verify,
        no_sanity,
    }
}

fn tcp(host: &str, port: u16) -> Target {
    Target::Tcp {
        host: host.to_owned(),
        port,
    }
}

#[test]
fn routes_like_libvirts_remote_driver() {
    let root = env(true, &[]);
    let user = env(false, &[]);
    let with_virtqemud = env(true, &["/var/run/libvirt/virtqemud-sock"]);
    #[rustfmt::skip]
    let table: Vec<(&str, bool, &HostEnv<'_>, Target, &str)> = vec![
        ("qemu:///system", false, &root, unix("/var/run/libvirt/libvirt-sock"), "qemu:///system"),
        ("qemu:///system", true, &root, unix("/var/run/libvirt/libvirt-sock-ro"), "qemu:///system"),
        // "auto" mode prefers the per-driver daemon's socket when it exists.
        ("qemu:///system", false, &with_virtqemud, unix("/var/run/libvirt/virtqemud-sock"), "qemu:///system"),
        ("qemu:///system?mode=legacy", false, &with_virtqemud, unix("/var/run/libvirt/libvirt-sock"), "qemu:///system"),
        ("qemu:///system?mode=direct", true, &root, unix("/var/run/libvirt/virtqemud-sock-ro"), "qemu:///system"),
        // Root's session goes to the system daemon; a user's to $XDG_RUNTIME_DIR.
        ("qemu:///session", false, &root, unix("/var/run/libvirt/libvirt-sock"), "qemu:///session"),
        ("qemu:///session", false, &user, unix("/run/user/1000/libvirt/libvirt-sock"), "qemu:///session"),
        ("qemu:///session", true, &user, unix("/run/user/1000/libvirt/libvirt-sock"), "qemu:///session"),
        ("test+unix:///default", false, &user, unix("/run/user/1000/libvirt/libvirt-sock"), "test:///default"),
        ("test+unix:///default", false, &root, unix("/var/run/libvirt/libvirt-sock"), "test:///default"),
        // socket= overrides, and is not sent; other parameters are.
        ("test+unix:///default?socket=/x", false, &root, unix("/x"), "test:///default"),
        ("qemu+unix:///system?socket=/tmp/s&foo=a%20b&mode=legacy", false, &root, unix("/tmp/s"), "qemu:///system?foo=a%20b"),
        ("QEMU+UNIX:///system?SOCKET=/s", false, &root, unix("/s"), "QEMU:///system"),
        ("qemu:///system?name=qemu:///embed", false, &root, unix("/var/run/libvirt/libvirt-sock"), "qemu:///embed"),
        ("remote:///", false, &root, unix("/var/run/libvirt/libvirt-sock"), ""),
        // TCP: the host (localhost by default) and port 16509 unless given.
        ("qemu+tcp://h.example/system", false, &root, tcp("h.example", 16509), "qemu:///system"),
        ("qemu+tcp://u@10.0.0.1:1234/system?x=1", false, &root, tcp("10.0.0.1", 1234), "qemu:///system?x=1"),
        ("test+tcp:///default", false, &root, tcp("localhost", 16509), "test:///default"),
        // TLS: a host without a transport, port 16514 by default; pkipath and no_verify
        // are the client's, not sent.
        ("qemu://h/system", false, &root, tls("h", 16514, None, false, false), "qemu:///system"),
        ("qemu+tls://10.0.0.1:1234/system?pkipath=/p&no_verify=1&x=1", false, &root, tls("10.0.0.1", 1234, Some("/p"), true, false), "qemu:///system?x=1"),
        ("qemu+tls://h/system?no_sanity=1", false, &root, tls("h", 16514, None, false, true), "qemu:///system"),
        ("test+tls:///default?no_verify=0", false, &root, tls("localhost", 16514, None, false, false), "test:///default"),
    ];
    for (text, ro, env, target, name) in table {
        let uri = Uri::parse(text).unwrap();
        let got = route(&uri, ro, env).unwrap_or_else(|e| panic!("{text}: {e:?}"));
        assert_eq!(got.target, target, "{text} ro={ro}");
        assert_eq!(got.name, name, "{text}");
    }
}

#[test]
fn refusals_carry_libvirts_words() {
    let root = env(true, &[]);
    let cases = [
        (
            "qemu+bogus:///system",
            "invalid argument: remote_open: transport in URL not recognised \
             (should be tls|unix|ssh|ext|tcp|libssh2|libssh)",
        ),
        (
            "qemu+unix://host/system",
            "invalid argument: using unix socket and remote server 'host' is not supported.",
        ),
        (
            "qemu:///system?mode=fast",
            "invalid argument: Unknown remote mode 'fast'",
        ),
        (
            "qemu+ssh://h/system?no_verify=x",
            "invalid argument: Failed to parse value of URI component no_verify",
        ),
        // libvirt's spelling.
        (
            "qemu+ssh://h/system?proxy=bogus",
            "invalid argument: Unnkown proxy type 'bogus'",
        ),
        (
            "qemu+ssh://h/system?no_tty=yes",
            "invalid argument: Failed to parse value of URI component no_tty",
        ),
        (
            "qemu+libssh2://h/system",
            "invalid argument: transport 'libssh2' is not supported yet (oxvirt speaks unix and tcp)",
        ),
        (
            "qemu+ext:///system?command=/bin/x",
            "invalid argument: transport 'ext' is not supported yet (oxvirt speaks unix and tcp)",
        ),
    ];
    for (text, message) in cases {
        let err = route(&Uri::parse(text).unwrap(), false, &root).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidArg, "{text}");
        assert_eq!(err.domain, ErrorDomain::Remote, "{text}");
        assert_eq!(err.message, message, "{text}");
    }
}

/// An ssh target with libvirt's defaults for `host` and the helper URI `uri`.
fn ssh(host: &str, uri: &str) -> SshTarget {
    SshTarget {
        host: host.to_owned(),
        port: None,
        user: None,
        keyfile: None,
        known_hosts: None,
        no_verify: false,
        no_tty: false,
        netcat: None,
        command: "ssh".to_owned(),
        socket: "/var/run/libvirt/libvirt-sock".to_owned(),
        proxy: SshProxy::Auto,
        uri: uri.to_owned(),
        read_only: false,
    }
}

#[test]
fn ssh_routes_like_libvirts_remote_driver() {
    let root = env(true, &["/var/run/libvirt/virtqemud-sock"]);
    let user = env(false, &[]);
    let route_of = |text: &str, ro: bool, env: &HostEnv<'_>| {
        let got = route(&Uri::parse(text).unwrap(), ro, env).unwrap();
        match got.target {
            Target::Ssh(t) => (t, got.name),
            other => panic!("{text}: {other:?}"),
        }
    };
    // Everything given: the client's parameters stay here, the others travel.
    let (t, name) = route_of(
        "qemu+ssh://bob@h.example:2222/system?keyfile=/k%20y&no_verify=1&no_tty=1\
         &known_hosts=/kh&command=/usr/bin/ssh&foo=bar",
        false,
        &root,
    );
    let want = SshTarget {
        port: Some(2222),
        user: Some("bob".to_owned()),
        keyfile: Some("/k y".to_owned()),
        known_hosts: Some("/kh".to_owned()),
        no_verify: true,
        no_tty: true,
        command: "/usr/bin/ssh".to_owned(),
        ..ssh("h.example", "qemu:///system?foo=bar")
    };
    assert_eq!((t, name.as_str()), (want, "qemu:///system?foo=bar"));
    // Defaults: localhost, the legacy socket even with virtqemud-sock here (the remote
    // host's files are unknown), -ro when read-only.
    let (t, _) = route_of("qemu+ssh:///system", true, &root);
    assert_eq!(
        t,
        SshTarget {
            socket: "/var/run/libvirt/libvirt-sock-ro".to_owned(),
            read_only: true,
            ..ssh("localhost", "qemu:///system")
        }
    );
    // ?socket= means netcat; ?netcat= is kept (auto then picks netcat when connecting).
    let (t, _) = route_of("qemu+ssh://h/system?socket=/s&netcat=/bin/nc", false, &root);
    assert_eq!(
        t,
        SshTarget {
            socket: "/s".to_owned(),
            netcat: Some("/bin/nc".to_owned()),
            proxy: SshProxy::Netcat,
            ..ssh("h", "qemu:///system")
        }
    );
    // A user's session URI: the helper (native), the local user socket path for nc.
    let (t, _) = route_of("qemu+ssh://h/session", false, &user);
    assert_eq!(
        t,
        SshTarget {
            socket: "/run/user/1000/libvirt/libvirt-sock".to_owned(),
            proxy: SshProxy::Native,
            ..ssh("h", "qemu:///session")
        }
    );
    // Root's session goes through the system socket, auto proxy.
    assert_eq!(
        route_of("qemu+ssh://h/session", false, &root).0.proxy,
        SshProxy::Auto
    );
    // ?proxy= and ?name= as given.
    let (t, name) = route_of(
        "test+ssh://h/default?proxy=native&name=test:///x",
        false,
        &root,
    );
    assert_eq!(
        (t.proxy, t.uri.as_str(), name.as_str()),
        (SshProxy::Native, "test:///x", "test:///x")
    );
    let (t, _) = route_of("qemu+ssh://[::1]/system?proxy=netcat", false, &root);
    assert_eq!((t.host.as_str(), t.proxy), ("::1", SshProxy::Netcat));
    // mode=direct cannot reach a remote host's per-driver socket.
    let err = route(
        &Uri::parse("qemu+ssh://h/system?mode=direct").unwrap(),
        false,
        &root,
    )
    .unwrap_err();
    assert_eq!(
        (err.code, err.domain, err.message.as_str()),
        (
            ErrorCode::OperationUnsupported,
            ErrorDomain::Remote,
            "Operation not supported: Cannot use direct socket mode for ssh transport"
        )
    );
}

#[test]
fn user_runtime_dir_falls_back_to_cache() {
    let e = HostEnv {
        root: false,
        runtime_dir: None,
        home: Some("/home/u".to_owned()),
        exists: &|_: &Path| false,
    };
    let got = route(&Uri::parse("qemu:///session").unwrap(), false, &e).unwrap();
    assert_eq!(got.target, unix("/home/u/.cache/libvirt/libvirt-sock"));
}
