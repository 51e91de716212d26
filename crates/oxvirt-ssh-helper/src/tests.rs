#![allow(clippy::unwrap_used)]

use super::*;

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn proxy(readonly: bool, uri: &str) -> Action {
    Action::Proxy {
        readonly,
        uri: uri.to_owned(),
    }
}

#[test]
fn arguments_as_glib_parses_them() {
    assert_eq!(
        parse_args(&args(&["qemu:///system"])),
        Ok(proxy(false, "qemu:///system"))
    );
    assert_eq!(
        parse_args(&args(&["-r", "qemu:///system"])),
        Ok(proxy(true, "qemu:///system"))
    );
    // Options anywhere, long forms, `--` ends them.
    assert_eq!(
        parse_args(&args(&["test:///default", "--readonly"])),
        Ok(proxy(true, "test:///default"))
    );
    assert_eq!(parse_args(&args(&["--", "-r"])), Ok(proxy(false, "-r")));
    // -V wins over a missing URI, -h over everything.
    assert_eq!(parse_args(&args(&["-rV"])), Ok(Action::Version));
    assert_eq!(parse_args(&args(&["--version"])), Ok(Action::Version));
    assert_eq!(parse_args(&args(&["-h", "-V"])), Ok(Action::Help));
    assert_eq!(parse_args(&args(&["--help"])), Ok(Action::Help));
    // No URI, or two: the usage, on stderr.
    assert_eq!(parse_args(&args(&[])), Ok(Action::Usage));
    assert_eq!(parse_args(&args(&["a", "b"])), Ok(Action::Usage));
    assert_eq!(parse_args(&args(&["-r"])), Ok(Action::Usage));
    // GLib's words for unknown options.
    assert_eq!(
        parse_args(&args(&["--bogus", "x"])),
        Err("Unknown option --bogus".to_owned())
    );
    assert_eq!(
        parse_args(&args(&["-x"])),
        Err("Unknown option -x".to_owned())
    );
}

#[test]
fn usage_is_virt_ssh_helpers() {
    let text = usage("virt-ssh-helper");
    assert!(text.starts_with("Usage:\n  virt-ssh-helper [OPTION?] URI - libvirt socket proxy\n\n"));
    assert!(text.contains("  -r, --readonly     Connect read-only\n"));
    assert!(text.ends_with("  -V, --version      Display version information\n\n"));
}

#[test]
fn unix_uris_are_accepted() {
    for uri in [
        "qemu:///system",
        "qemu+unix:///system",
        "qemu+UNIX:///system",
        "test:///default",
        "qemu:///session",
        "qemu:",
        "qemu:/system",
        "qemu:///system#frag",
        "qemu:///system?socket=/x",
        "qemu:///sys%20tem",
    ] {
        assert_eq!(check_uri(uri), Ok(()), "{uri}");
    }
}

#[test]
fn other_uris_are_refused_in_virt_ssh_helpers_words() {
    // Each message as Debian's virt-ssh-helper 9.0 prints it after "PROGRAM: ".
    let cases = [
        (
            "qemu+tcp:///system",
            "unexpected URI transport 'qemu+tcp:///system'",
        ),
        (
            "qemu+ssh://h/system",
            "unexpected URI transport 'qemu+ssh://h/system'",
        ),
        // A host without a transport means TLS.
        (
            "qemu://host/system",
            "unexpected URI transport 'qemu://host/system'",
        ),
        (
            "foo+bar:///x",
            "cannot parse URI transport 'foo+bar:///x': invalid argument: remote_open: \
             transport in URL not recognised (should be tls|unix|ssh|ext|tcp|libssh2|libssh)",
        ),
        (
            "x",
            "cannot parse URI transport 'x': invalid argument: missing scheme for URI",
        ),
        (
            "/system",
            "cannot parse URI transport '/system': invalid argument: missing scheme for URI",
        ),
        (
            "a b",
            "cannot parse 'a b': internal error: Unable to parse URI a b",
        ),
        (
            "::bad",
            "cannot parse '::bad': internal error: Unable to parse URI ::bad",
        ),
        (
            "1qemu:///s",
            "cannot parse '1qemu:///s': internal error: Unable to parse URI 1qemu:///s",
        ),
        (
            "qemu://[::1/x",
            "cannot parse 'qemu://[::1/x': internal error: Unable to parse URI qemu://[::1/x",
        ),
        (
            "qemu:///sys%zz",
            "cannot parse 'qemu:///sys%zz': internal error: Unable to parse URI qemu:///sys%zz",
        ),
    ];
    for (uri, want) in cases {
        assert_eq!(check_uri(uri), Err(want.to_owned()), "{uri}");
    }
}

fn env(oxvirt: Option<&str>, config: Option<&str>, root: bool, xdg: Option<&str>) -> Env<'static> {
    Env {
        oxvirt_runtime_dir: oxvirt.map(str::to_owned),
        config: config.map(|t| ("/etc/oxvirt/oxvirtd.conf", t.to_owned())),
        root,
        xdg_runtime_dir: xdg.map(str::to_owned),
    }
}

#[test]
fn runtime_dir_in_order_env_config_default() {
    let conf =
        "# oxvirtd\nlisten_tcp = \"127.0.0.1:16509\"\nruntime_dir = \"/srv/ox run\" # here\n";
    // The environment first.
    assert_eq!(
        runtime_dir(&env(Some("/tmp/ox"), Some(conf), true, None)),
        Ok(PathBuf::from("/tmp/ox"))
    );
    // Then the configuration file.
    assert_eq!(
        runtime_dir(&env(None, Some(conf), false, Some("/run/user/1000"))),
        Ok(PathBuf::from("/srv/ox run"))
    );
    assert_eq!(
        runtime_dir(&env(Some(""), Some("runtime_dir='/a\\b'"), true, None)),
        Ok(PathBuf::from("/a\\b"))
    );
    // Then oxvirtd's defaults; a file without the key (or with it only in a table) is no
    // answer.
    let other = "state_dir = \"/x\"\n[section]\nruntime_dir = \"/no\"\n";
    assert_eq!(
        runtime_dir(&env(None, Some(other), true, None)),
        Ok(PathBuf::from("/run/oxvirt"))
    );
    assert_eq!(
        runtime_dir(&env(None, None, false, Some("/run/user/1000"))),
        Ok(PathBuf::from("/run/user/1000/oxvirt"))
    );
    assert_eq!(
        runtime_dir(&env(None, None, false, None)),
        Err("XDG_RUNTIME_DIR is not set".to_owned())
    );
    // A runtime_dir that is not a string is an error, not a silent default.
    assert_eq!(
        runtime_dir(&env(None, Some("\nruntime_dir = 3\n"), true, None)),
        Err("/etc/oxvirt/oxvirtd.conf:2: runtime_dir must be a string".to_owned())
    );
}

#[test]
fn toml_strings() {
    assert_eq!(
        toml_string("\"a\\\"b\\\\c\\n\""),
        Some("a\"b\\c\n".to_owned())
    );
    assert_eq!(toml_string("'lit\\x'  # c"), Some("lit\\x".to_owned()));
    assert_eq!(toml_string("\"open"), None);
    assert_eq!(toml_string("\"a\" junk"), None);
    assert_eq!(toml_string("bare"), None);
}

#[test]
fn read_only_picks_the_ro_socket() {
    let dir = Path::new("/run/oxvirt");
    assert_eq!(
        socket_path(dir, false),
        PathBuf::from("/run/oxvirt/libvirt-sock")
    );
    assert_eq!(
        socket_path(dir, true),
        PathBuf::from("/run/oxvirt/libvirt-sock-ro")
    );
}

#[test]
fn copy_reports_errors_in_libvirts_words() {
    struct Broken;
    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::from_raw_os_error(32))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut out = Vec::new();
    assert_eq!(copy(&b"abc"[..], &mut out, "r", "w"), Ok(()));
    assert_eq!(out, b"abc");
    assert_eq!(
        copy(&b"abc"[..], Broken, "r", "cannot write to stdout"),
        Err("cannot write to stdout: Broken pipe".to_owned())
    );
}
