use super::*;

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

fn env(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
    move |name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    }
}

const GOOD: &str = r#"
# oxvirtd.conf
runtime_dir = "/tmp/rt"   # trailing comment
state_dir = "/tmp/st"
listen_tcp = "127.0.0.1:16509"
allow_remote_tcp = false
log_level = "debug"
max_clients = 10
max_client_requests = 2
max_workers = 4
keepalive_interval = -1
keepalive_count = 3
unix_sock_rw_perms = "0770"
unix_sock_ro_perms = "0777"
"#;

#[test]
fn good_file() {
    let s = parse_file("x.conf", GOOD).unwrap();
    let c = s.resolve(&env(&[])).unwrap();
    assert_eq!(c.runtime_dir, PathBuf::from("/tmp/rt"));
    assert_eq!(c.state_dir, PathBuf::from("/tmp/st"));
    assert_eq!(c.listen_tcp, Some("127.0.0.1:16509".parse().unwrap()));
    assert!(!c.allow_remote_tcp);
    assert_eq!(c.log_level, Level::Debug);
    assert_eq!(
        (c.max_clients, c.max_client_requests, c.max_workers),
        (10, 2, 4)
    );
    assert_eq!((c.keepalive_interval, c.keepalive_count), (-1, 3));
    assert_eq!((c.unix_sock_rw_perms, c.unix_sock_ro_perms), (0o770, 0o777));
}

#[test]
fn defaults_are_libvirtds() {
    let s = parse_file("x.conf", "runtime_dir = \"/r\"\nstate_dir = \"/s\"\n").unwrap();
    let c = s.resolve(&env(&[])).unwrap();
    assert_eq!(
        (c.max_clients, c.max_client_requests, c.max_workers),
        (5000, 5, 20)
    );
    assert_eq!((c.keepalive_interval, c.keepalive_count), (5, 5));
    assert_eq!((c.unix_sock_rw_perms, c.unix_sock_ro_perms), (0o600, 0o666));
    assert_eq!(c.log_level, Level::Warn);
    assert_eq!(c.listen_tcp, None);
}

#[test]
fn unknown_key_names_key_and_line() {
    let err = parse_file(
        "/etc/oxvirtd.conf",
        "log_level = \"info\"\n\nmin_workers = 3\n",
    )
    .unwrap_err();
    assert_eq!(err, "/etc/oxvirtd.conf:3: unknown key 'min_workers'");
}

#[test]
fn bad_lines_are_refused_with_line_numbers() {
    let cases = [
        (
            "[section]\n",
            "f:1: expected 'key = value', found '[section]'",
        ),
        (
            "max_clients = \"ten\"\n",
            "f:1: max_clients must be an integer, not a string",
        ),
        (
            "\nmax_clients = 1.5\n",
            "f:2: cannot understand value '1.5' (expected a \"string\", an integer, true or false)",
        ),
        ("runtime_dir = \"/x\n", "f:1: unterminated string"),
        (
            "runtime_dir = [\"a\"]\n",
            "f:1: runtime_dir must be a string, not a list",
        ),
        (
            "log_level = \"loud\"\n",
            "f:1: log_level must be error, warn, info or debug, not 'loud'",
        ),
        (
            "unix_sock_rw_perms = \"0999\"\n",
            "f:1: unix_sock_rw_perms must be an octal mode like \"0770\", not '0999'",
        ),
        (
            "max_clients = 1\nmax_clients = 2\n",
            "f:2: key 'max_clients' is set twice",
        ),
        (
            "max_clients = 0\n",
            "f:1: max_clients must be at least 1, not 0",
        ),
        (
            "allow_remote_tcp = 1\n",
            "f:1: allow_remote_tcp must be true or false, not an integer",
        ),
        (
            "state_dir = \"/x\" junk\n",
            "f:1: unexpected 'junk' after the string",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(parse_file("f", text).unwrap_err(), want, "for {text:?}");
    }
}

#[test]
fn flags_override_the_file() {
    let file = parse_file("f", GOOD).unwrap();
    let args = parse_args(&strings(&[
        "--runtime-dir",
        "/flag/rt",
        "--log-level=warn",
        "--max-clients",
        "7",
        "--config",
        "/etc/x.conf",
    ]))
    .unwrap();
    assert_eq!(args.config, Some(PathBuf::from("/etc/x.conf")));
    let c = file
        .overridden_by(args.settings)
        .resolve(&env(&[]))
        .unwrap();
    assert_eq!(c.runtime_dir, PathBuf::from("/flag/rt"));
    assert_eq!(c.state_dir, PathBuf::from("/tmp/st"));
    assert_eq!(c.log_level, Level::Warn);
    assert_eq!(c.max_clients, 7);
    assert_eq!(c.max_client_requests, 2);
}

#[test]
fn load_reads_the_file() {
    let dir = std::env::temp_dir().join(format!("oxvirtd-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("oxvirtd.conf");
    std::fs::write(&path, GOOD).unwrap();
    let args = parse_args(&strings(&[
        "--config",
        path.to_str().unwrap(),
        "--state-dir",
        "/s",
    ]))
    .unwrap();
    let c = load(&args, &env(&[])).unwrap();
    assert_eq!(c.state_dir, PathBuf::from("/s"));
    assert_eq!(c.max_clients, 10);
    std::fs::write(&path, "bogus = 1\n").unwrap();
    let err = load(&args, &env(&[])).unwrap_err();
    assert_eq!(err, format!("{}:1: unknown key 'bogus'", path.display()));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn remote_tcp_needs_permission() {
    let args = parse_args(&strings(&[
        "--listen-tcp",
        "0.0.0.0:16509",
        "--runtime-dir",
        "/r",
        "--state-dir",
        "/s",
    ]))
    .unwrap();
    let err = load(&args, &env(&[])).unwrap_err();
    assert!(
        err.starts_with("refusing to listen on 0.0.0.0:16509: "),
        "{err}"
    );
    let args = parse_args(&strings(&[
        "--listen-tcp",
        "0.0.0.0:16509",
        "--allow-remote-tcp",
        "--runtime-dir",
        "/r",
        "--state-dir",
        "/s",
    ]))
    .unwrap();
    assert!(load(&args, &env(&[])).unwrap().allow_remote_tcp);
    let args = parse_args(&strings(&[
        "--listen-tcp",
        "[::1]:1",
        "--runtime-dir",
        "/r",
        "--state-dir",
        "/s",
    ]))
    .unwrap();
    assert!(load(&args, &env(&[])).is_ok());
}

#[test]
fn bad_flags() {
    let err = parse_args(&strings(&["--bogus"])).unwrap_err();
    assert_eq!(err, "unknown argument '--bogus'");
    let err = parse_args(&strings(&["--runtime-dir"])).unwrap_err();
    assert_eq!(err, "--runtime-dir needs a value");
    let err = parse_args(&strings(&["--listen-tcp", "localhost"])).unwrap_err();
    assert_eq!(
        err,
        "--listen-tcp: listen_tcp must be ADDRESS:PORT (like 127.0.0.1:16509), not 'localhost'"
    );
    assert!(parse_args(&strings(&["-h"])).unwrap().help);
}

#[test]
fn default_dirs_follow_xdg() {
    if std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0) {
        let c = Settings::default().resolve(&env(&[])).unwrap();
        assert_eq!(c.runtime_dir, PathBuf::from("/run/oxvirt"));
        assert_eq!(c.state_dir, PathBuf::from("/var/lib/oxvirt"));
        return;
    }
    let c = Settings::default()
        .resolve(&env(&[
            ("XDG_RUNTIME_DIR", "/run/user/1"),
            ("HOME", "/home/u"),
        ]))
        .unwrap();
    assert_eq!(c.runtime_dir, PathBuf::from("/run/user/1/oxvirt"));
    assert_eq!(c.state_dir, PathBuf::from("/home/u/.local/share/oxvirt"));
    let c = Settings::default()
        .resolve(&env(&[("XDG_RUNTIME_DIR", "/r"), ("XDG_DATA_HOME", "/d")]))
        .unwrap();
    assert_eq!(c.state_dir, PathBuf::from("/d/oxvirt"));
}

#[test]
fn non_root_defaults_without_environment() {
    assert_eq!(
        default_runtime_dir(false, &env(&[])).unwrap_err(),
        "XDG_RUNTIME_DIR is not set; use --runtime-dir"
    );
    assert_eq!(
        default_state_dir(false, &env(&[("HOME", "/h")])).unwrap(),
        PathBuf::from("/h/.local/share/oxvirt")
    );
    assert_eq!(
        default_state_dir(false, &env(&[("XDG_DATA_HOME", "/x"), ("HOME", "/h")])).unwrap(),
        PathBuf::from("/x/oxvirt")
    );
    assert_eq!(
        default_runtime_dir(true, &env(&[])).unwrap(),
        PathBuf::from("/run/oxvirt")
    );
    assert_eq!(
        default_state_dir(true, &env(&[])).unwrap(),
        PathBuf::from("/var/lib/oxvirt")
    );
}

#[test]
fn host_uuid_is_checked_as_libvirtd_does() {
    let s = parse_file(
        "f",
        "host_uuid = \"2D4A1C2E-9F3B-4E1C-8A7D-0B1C2D3E4F50\"\n",
    )
    .unwrap();
    let c = s
        .resolve(&env(&[("HOME", "/h"), ("XDG_RUNTIME_DIR", "/r")]))
        .unwrap();
    assert_eq!(
        c.host_uuid.map(|u| u.to_string()).as_deref(),
        Some("2d4a1c2e-9f3b-4e1c-8a7d-0b1c2d3e4f50")
    );
    let cases = [
        (
            "host_uuid = \"00000000-0000-0000-0000-000000000000\"\n",
            "f:1: invalid host UUID: 00000000-0000-0000-0000-000000000000",
        ),
        (
            "# all one byte\n\nhost_uuid = \"ffffffff-ffff-ffff-ffff-ffffffffffff\"\n",
            "f:3: invalid host UUID: ffffffff-ffff-ffff-ffff-ffffffffffff",
        ),
        (
            "host_uuid = \"abababab-abab-abab-abab-abababababab\"\n",
            "f:1: invalid host UUID: abababab-abab-abab-abab-abababababab",
        ),
        (
            "log_level = \"info\"\nhost_uuid = \"not-a-uuid\"\n",
            "f:2: invalid host UUID: not-a-uuid",
        ),
        (
            "host_uuid = \"2d4a1c2e-9f3b-4e1c-8a7d-0b1c2d3e4f5\"\n",
            "f:1: invalid host UUID: 2d4a1c2e-9f3b-4e1c-8a7d-0b1c2d3e4f5",
        ),
        (
            "host_uuid = 12\n",
            "f:1: host_uuid must be a string, not an integer",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(parse_file("f", text).unwrap_err(), want, "for {text:?}");
    }
    let args = parse_args(&strings(&[
        "--host-uuid",
        "2d4a1c2e9f3b4e1c8a7d0b1c2d3e4f51",
    ]))
    .unwrap();
    let c = parse_file(
        "f",
        "host_uuid = \"2d4a1c2e-9f3b-4e1c-8a7d-0b1c2d3e4f50\"\n",
    )
    .unwrap()
    .overridden_by(args.settings)
    .resolve(&env(&[("HOME", "/h"), ("XDG_RUNTIME_DIR", "/r")]))
    .unwrap();
    assert_eq!(
        c.host_uuid.map(|u| u.to_string()).as_deref(),
        Some("2d4a1c2e-9f3b-4e1c-8a7d-0b1c2d3e4f51")
    );
    let err = parse_args(&strings(&["--host-uuid=00000000000000000000000000000000"])).unwrap_err();
    assert_eq!(
        err,
        "--host-uuid: invalid host UUID: 00000000000000000000000000000000"
    );
    assert_eq!(
        Settings::default()
            .resolve(&env(&[("HOME", "/h"), ("XDG_RUNTIME_DIR", "/r")]))
            .unwrap()
            .host_uuid,
        None
    );
}

#[test]
fn migration_tls_settings_take_qemu_conf_names_and_libvirts_defaults() {
    let e = env(&[("HOME", "/h"), ("XDG_RUNTIME_DIR", "/r")]);
    let c = Settings::default().resolve(&e).unwrap();
    assert_eq!(c.migrate_tls_x509_cert_dir, PathBuf::from("/etc/pki/qemu"));
    assert!(c.migrate_tls_x509_verify);
    assert!(!c.migrate_tls_force);

    let file = parse_file(
        "f",
        "migrate_tls_x509_cert_dir = \"/srv/pki\"\nmigrate_tls_x509_verify = false\n\
         migrate_tls_force = true\n",
    )
    .unwrap();
    let c = file.clone().resolve(&e).unwrap();
    assert_eq!(c.migrate_tls_x509_cert_dir, PathBuf::from("/srv/pki"));
    assert!(!c.migrate_tls_x509_verify);
    assert!(c.migrate_tls_force);

    let args = parse_args(&strings(&[
        "--migrate-tls-x509-cert-dir",
        "/opt/pki",
        "--migrate-tls-force=false",
    ]))
    .unwrap();
    let c = file.overridden_by(args.settings).resolve(&e).unwrap();
    assert_eq!(c.migrate_tls_x509_cert_dir, PathBuf::from("/opt/pki"));
    assert!(!c.migrate_tls_force);
    assert!(!c.migrate_tls_x509_verify);

    assert_eq!(
        parse_file("f", "migrate_tls_force = \"yes\"\n").unwrap_err(),
        "f:1: migrate_tls_force must be true or false, not a string"
    );
    assert_eq!(
        parse_args(&strings(&["--migrate-tls-x509-verify", "1"])).unwrap_err(),
        "--migrate-tls-x509-verify: migrate_tls_x509_verify must be true or false, not a string"
    );
}

#[test]
fn remote_access_settings_take_libvirtd_conf_names_and_defaults() {
    let e = env(&[("HOME", "/h"), ("XDG_RUNTIME_DIR", "/r")]);
    let c = Settings::default().resolve(&e).unwrap();
    assert_eq!(c.listen_tls, None);
    assert_eq!((c.ca_file.clone(), c.cert_file.clone()), (None, None));
    assert_eq!((c.key_file.clone(), c.crl_file.clone()), (None, None));
    assert!(!c.tls_no_verify_certificate);
    assert_eq!(c.tls_allowed_dn_list, None);
    assert_eq!(c.unix_sock_group, None);
    assert_eq!(c.max_anonymous_clients, 20);
    assert_eq!(c.access_policy, None);

    // libvirtd.conf's own spelling: booleans as 0/1, the port as a string, the DN list.
    let file = parse_file(
        "f",
        "listen_tls = 1\ntls_port = \"16600\"\nlisten_addr = \"127.0.0.1\"\n\
         ca_file = \"/p/ca.pem\"\ncert_file = \"/p/c.pem\"\nkey_file = \"/p/k.pem\"\n\
         crl_file = \"/p/crl.pem\"\ntls_no_verify_certificate = 1\n\
         tls_allowed_dn_list = [\"C=GB,ST=London,L=London,O=Red Hat,CN=*\", \"CN=admin\"] # two\n\
         unix_sock_group = \"libvirt\"\nmax_anonymous_clients = 0\n\
         access_policy = \"/etc/oxvirt/policy.toml\"\n",
    )
    .unwrap();
    let c = file.clone().resolve(&e).unwrap();
    assert_eq!(c.listen_tls, Some("127.0.0.1:16600".parse().unwrap()));
    assert_eq!(c.ca_file, Some(PathBuf::from("/p/ca.pem")));
    assert_eq!(c.cert_file, Some(PathBuf::from("/p/c.pem")));
    assert_eq!(c.key_file, Some(PathBuf::from("/p/k.pem")));
    assert_eq!(c.crl_file, Some(PathBuf::from("/p/crl.pem")));
    assert!(c.tls_no_verify_certificate);
    assert_eq!(
        c.tls_allowed_dn_list,
        Some(vec![
            "C=GB,ST=London,L=London,O=Red Hat,CN=*".to_owned(),
            "CN=admin".to_owned()
        ])
    );
    assert_eq!(c.unix_sock_group.as_deref(), Some("libvirt"));
    assert_eq!(c.max_anonymous_clients, 0);
    assert_eq!(
        c.access_policy,
        Some(PathBuf::from("/etc/oxvirt/policy.toml"))
    );

    // `true` alone: every address, libvirtd's port.
    let c = parse_file("f", "listen_tls = true\n")
        .unwrap()
        .resolve(&e)
        .unwrap();
    assert_eq!(c.listen_tls, Some("0.0.0.0:16514".parse().unwrap()));

    // Flags: an address of its own, `false` turning the file's listener off, the DN list
    // one pattern per flag.
    let args = parse_args(&strings(&[
        "--listen-tls",
        "[::1]:1234",
        "--tls-allowed-dn-list",
        "CN=a,O=x",
        "--tls-allowed-dn-list=CN=b",
    ]))
    .unwrap();
    let c = file
        .clone()
        .overridden_by(args.settings)
        .resolve(&e)
        .unwrap();
    assert_eq!(c.listen_tls, Some("[::1]:1234".parse().unwrap()));
    assert_eq!(
        c.tls_allowed_dn_list,
        Some(vec!["CN=a,O=x".to_owned(), "CN=b".to_owned()])
    );
    let args = parse_args(&strings(&["--listen-tls", "false"])).unwrap();
    let c = file.overridden_by(args.settings).resolve(&e).unwrap();
    assert_eq!(c.listen_tls, None);

    for (text, err) in [
        (
            "listen_tls = \"nowhere\"\n",
            "f:1: listen_tls must be ADDRESS:PORT (like 0.0.0.0:16514) or true, not 'nowhere'",
        ),
        (
            "tls_port = \"0\"\n",
            "f:1: tls_port must be a port number (like \"16514\"), not Str(\"0\")",
        ),
        (
            "tls_allowed_dn_list = \"CN=a\"\n",
            "f:1: tls_allowed_dn_list must be a list of strings like [\"CN=*\"], not a string",
        ),
        (
            "tls_allowed_dn_list = [\"CN=a\" \"CN=b\"]\n",
            "f:1: expected ',' or ']' in the list (a list must be on one line)",
        ),
        (
            "tls_allowed_dn_list = [\"CN=a\",\n",
            "f:1: unterminated list (a list must be on one line)",
        ),
        (
            "tls_allowed_dn_list = [1]\n",
            "f:1: a list holds \"strings\" only, on one line: [\"a\", \"b\"]",
        ),
        (
            "ca_file = [\"a\"]\n",
            "f:1: ca_file must be a string, not a list",
        ),
        (
            "max_anonymous_clients = -1\n",
            "f:1: max_anonymous_clients must be 0 or more, not -1",
        ),
        (
            "unix_sock_group = \"\"\n",
            "f:1: unix_sock_group must name a group",
        ),
        (
            "tls_no_verify_certificate = 2\n",
            "f:1: tls_no_verify_certificate must be true or false, not an integer",
        ),
    ] {
        assert_eq!(parse_file("f", text).unwrap_err(), err, "{text}");
    }
}
