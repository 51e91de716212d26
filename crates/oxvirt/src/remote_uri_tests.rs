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

fn tls(host: &str, port: u16, pkipath: Option<&str>, no_verify: bool) -> Target {
    Target::Tls {
        host: host.to_owned(),
        port,
        pkipath: pkipath.map(PathBuf::from),
        no_verify,
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
        ("qemu://h/system", false, &root, tls("h", 16514, None, false), "qemu:///system"),
        ("qemu+tls://10.0.0.1:1234/system?pkipath=/p&no_verify=1&x=1", false, &root, tls("10.0.0.1", 1234, Some("/p"), true), "qemu:///system?x=1"),
        ("test+tls:///default?no_verify=0", false, &root, tls("localhost", 16514, None, false), "test:///default"),
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
        (
            "qemu+ssh://root@h/system",
            "invalid argument: transport 'ssh' is not supported yet (oxvirt speaks unix and tcp)",
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
