//! oxvirtd's TLS listener against Debian's virsh (GnuTLS) and our facade (rustls), with
//! certificates made here by rcgen: domains managed over `qemu+tls://` and `test+tls://`;
//! every refused peer (no certificate, another CA, expired, revoked, DN not allowed)
//! refused with its message on the client and a warning with its address, check and DN in
//! the daemon's log, while the daemon goes on serving a good client; the client's own check
//! of the server's name; repeated connections (no TLS 1.3 session tickets).

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use oxvirt::xml::{ErrorCode, ErrorDomain};
use oxvirt::Connect;

use common::tls::pki::{self, write_dir, Ca, Leaf};
use common::tls::{client_dir, foreign_client_dir, require_virsh, server_dir, text, tls_daemon};
use common::{free_port, virsh_within, Daemon, TempDir};

/// The certificates of one test: the daemon's files, and one `pkipath` directory per client.
struct Pki {
    _dir: TempDir,
    server: PathBuf,
    /// CN=alice, allowed.
    good: PathBuf,
    /// Only the CA: no client certificate.
    none: PathBuf,
    /// CN=mallory, signed by another CA.
    foreign: PathBuf,
    /// CN=old, expired in 2002.
    expired: PathBuf,
    /// CN=revoked, on the CRL.
    revoked: PathBuf,
    /// CN=bob, valid but not in the allowed DN list.
    bob: PathBuf,
}

fn pki(tag: &str) -> Pki {
    let dir = TempDir::new(&format!("{tag}-pki"));
    let mut ca = Ca::new("oxvirt test CA");
    let good = client_dir(&mut ca, &dir.join("good"), "alice");
    let bob = client_dir(&mut ca, &dir.join("bob"), "bob");
    let expired = ca.issue(&Leaf {
        expired: true,
        ..Leaf::client("old")
    });
    let expired = write_dir(
        &dir.join("expired"),
        &ca.pem(),
        Some(("client", &expired)),
        None,
    );
    let revoked = ca.issue(&Leaf::client("revoked"));
    ca.revoke(&revoked);
    let revoked = write_dir(
        &dir.join("revoked"),
        &ca.pem(),
        Some(("client", &revoked)),
        None,
    );
    Pki {
        foreign: foreign_client_dir(&ca, &dir.join("foreign")),
        none: write_dir(&dir.join("none"), &ca.pem(), None, None),
        // The server's certificate names 127.0.0.1 only: `localhost` must not match.
        server: server_dir(&mut ca, &dir.join("server"), true),
        good,
        bob,
        expired,
        revoked,
        _dir: dir,
    }
}

impl Pki {
    /// The refused clients' `pkipath` directories, each with the URI parameters a client
    /// needs to present it (no_sanity=1 for the certificates it would refuse itself).
    fn refused(&self) -> [(&Path, &'static str); 5] {
        [
            (&self.none, ""),
            (&self.foreign, "&no_sanity=1"),
            (&self.expired, "&no_sanity=1"),
            (&self.revoked, ""),
            (&self.bob, ""),
        ]
    }
}

/// The certificates of test `tag` ([`pki`]), a free port, and oxvirtd listening for TLS
/// on 127.0.0.1 there with the server files, its CRL and the allowed DNs `alice`, `old`
/// and `revoked` (so those two are refused for their dates and revocation, not their
/// names), and `extra` flags, its log captured.
fn started(tag: &str, extra: &[&str]) -> (Pki, u16, Daemon) {
    let pki = pki(tag);
    let port = free_port();
    let crl = pki.server.join("cacrl.pem").display().to_string();
    let mut more = vec![
        "--log-level",
        "info",
        "--crl-file",
        &crl,
        "--tls-allowed-dn-list",
        "O=oxvirt test,CN=alice",
        "--tls-allowed-dn-list",
        "*CN=old",
        "--tls-allowed-dn-list",
        "*CN=revoked",
    ];
    more.extend_from_slice(extra);
    let d = tls_daemon(tag, &pki.server, port, &more);
    (pki, port, d)
}

/// Debian's virsh on `uri`, stopped after 60 s.
fn virsh(uri: &str, args: &[&str]) -> std::process::Output {
    virsh_within(60, uri, args)
}

/// Asserts that virsh on `uri` prints `want` (and blanks) for `args`.
fn assert_prints(uri: &str, args: &[&str], want: &str) {
    let out = virsh(uri, args);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        want,
        "{}",
        text(&out)
    );
}

fn tls_uri(scheme: &str, host: &str, port: u16, path: &str, dir: &Path, extra: &str) -> String {
    format!(
        "{scheme}+tls://{host}:{port}{path}?pkipath={}{extra}",
        dir.display()
    )
}

/// `test+tls://HOST:PORT/default?pkipath=DIR` and `extra` parameters (`&name=value`).
fn test_uri(host: &str, port: u16, dir: &Path, extra: &str) -> String {
    tls_uri("test", host, port, "/default", dir, extra)
}

/// What a refused virsh prints: the daemon closed the connection without its
/// confirmation byte, as libvirtd does.
const VIRSH_REFUSED: &str = "error: failed to connect to the hypervisor\n\
                             error: Unable to read TLS confirmation: Input/output error\n";

fn assert_lines_in(log: &str, lines: &[&str]) {
    for line in lines {
        assert!(
            log.lines()
                .any(|l| l.contains(" warning : ") && l.contains(line)),
            "no warning containing {line:?} in the daemon's log:\n{log}"
        );
    }
}

const DOMAIN: &str = "<domain type='qemu'><name>tls-guest</name><memory unit='MiB'>64</memory>\
                      <os><type arch='x86_64'>hvm</type></os></domain>";

/// virsh manages domains over TLS, repeatedly (a TLS 1.3 session ticket would break its
/// wait for the confirmation byte), and lists what it lists over the unix socket.
#[test]
fn virsh_manages_domains_over_tls() {
    require_virsh();
    let (pki, port, d) = started("tls-virsh", &[]);
    let test_tls = test_uri("127.0.0.1", port, &pki.good, "");
    let over_tls = virsh(&test_tls, &["list", "--all"]);
    assert!(over_tls.status.success(), "{}", text(&over_tls));
    let over_unix = virsh(&d.uri(), &["list", "--all"]);
    assert_eq!(over_tls.stdout, over_unix.stdout);
    let out = virsh(&test_tls, &["suspend", "test"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_prints(&test_tls, &["domstate", "test"], "paused");

    let qemu_tls = tls_uri("qemu", "127.0.0.1", port, "/system", &pki.good, "");
    let xml = pki._dir.join("tls-guest.xml");
    std::fs::write(&xml, DOMAIN).unwrap();
    let out = virsh(&qemu_tls, &["define", xml.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let out = virsh(&qemu_tls, &["dominfo", "tls-guest"]);
    let info = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        info.lines()
            .any(|l| l.starts_with("Name:") && l.ends_with("tls-guest")),
        "{info}"
    );
    assert!(
        info.lines()
            .any(|l| l.starts_with("State:") && l.ends_with("shut off")),
        "{info}"
    );
    let out = virsh(&qemu_tls, &["list", "--all", "--name"]);
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .any(|l| l == "tls-guest"),
        "{}",
        text(&out)
    );
    let out = virsh(&qemu_tls, &["undefine", "tls-guest"]);
    assert!(out.status.success(), "{}", text(&out));

    // Connection after connection: each waits for the confirmation byte after the
    // handshake; with session tickets virsh would read a ticket there and fail.
    // The timings are printed for the record, not checked.
    let runs = 10;
    let started = Instant::now();
    for i in 0..runs {
        let out = virsh(&test_tls, &["uri"]);
        assert!(out.status.success(), "connection {i}: {}", text(&out));
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), test_tls);
    }
    let tls_time = started.elapsed() / runs;
    let started = Instant::now();
    for _ in 0..runs {
        assert!(virsh(&d.uri(), &["uri"]).status.success());
    }
    let unix_time = started.elapsed() / runs;
    println!(
        "virsh uri (connect, handshake, open, one call): tls {tls_time:?}, unix {unix_time:?}"
    );
}

/// Every kind of refused client: virsh's error, the daemon's warning (address, check,
/// DN), and a good client served right after each.
#[test]
fn virsh_refused_peers_and_server_name() {
    require_virsh();
    let (pki, port, mut d) = started("tls-refused", &[]);
    let good = test_uri("127.0.0.1", port, &pki.good, "");
    // A peer that never starts its handshake holds up nobody: the handshake runs in the
    // connection's own task, which gives up after 10 s.
    let mut silent = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    // no_sanity=1: virsh would otherwise refuse its own expired or foreign certificate
    // before connecting ("The client certificate ... has expired").
    for (dir, extra) in pki.refused() {
        let uri = test_uri("127.0.0.1", port, dir, extra);
        let out = virsh(&uri, &["list", "--all"]);
        assert!(!out.status.success(), "{uri}: {}", text(&out));
        assert_eq!(String::from_utf8_lossy(&out.stderr), VIRSH_REFUSED, "{uri}");
        let out = virsh(&good, &["list", "--all"]);
        assert!(out.status.success(), "after {uri}: {}", text(&out));
    }
    // The client's own check: the certificate names 127.0.0.1, not localhost.
    let out = virsh(&test_uri("localhost", port, &pki.good, ""), &["list"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains(
            "warning : virNetTLSContextCheckCertificate:1086 : Certificate check failed \
             Certificate [session] owner does not match the hostname localhost\n"
        ),
        "{err}"
    );
    assert!(
        err.ends_with(
            "error: failed to connect to the hypervisor\n\
             error: authentication failed: Failed to verify peer's certificate\n"
        ),
        "{err}"
    );
    // no_verify=1 skips it.
    let out = virsh(
        &test_uri("localhost", port, &pki.good, "&no_verify=1"),
        &["list"],
    );
    assert!(out.status.success(), "{}", text(&out));
    // The silent peer: closed by the daemon once its time is up.
    silent
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut byte = [0u8; 1];
    assert_eq!(std::io::Read::read(&mut silent, &mut byte).unwrap(), 0);

    assert!(d.signal_and_wait("TERM").success());
    let log = d.stderr();
    assert_lines_in(
        &log,
        &[
            "refused (handshake): TLS handshake failed: no handshake within 10s",
            "refused (no certificate): Unable to verify TLS peer: No certificate was found.",
            "refused (expired), DN 'O=oxvirt test,CN=old': The client certificate [session] has expired",
            "refused (revoked), DN 'O=oxvirt test,CN=revoked': Certificate failed validation: \
             The certificate has been revoked.",
            "refused (DN not allowed), DN 'O=oxvirt test,CN=bob': Client's Distinguished Name is \
             not on the list of allowed clients (tls_allowed_dn_list).",
        ],
    );
    // GnuTLS (virsh) offers no certificate the server's CA list does not name: the foreign
    // one shows as a second "no certificate".
    let no_cert = log
        .lines()
        .filter(|l| l.contains("refused (no certificate)"))
        .count();
    assert_eq!(no_cert, 2, "{log}");
    // Each line names the peer's address.
    for line in log.lines().filter(|l| l.contains(" refused (")) {
        assert!(line.contains("TLS client 127.0.0.1:"), "{line}");
    }
}

/// The names of the domains `conn` lists.
async fn domain_names(conn: &Connect) -> Vec<String> {
    let domains = conn.list_all_domains(0).await.unwrap();
    domains.iter().map(|d| d.name().to_owned()).collect()
}

/// The memory (KiB) `tls-guest` on `conn` may have.
async fn guest_max_mem(conn: &Connect) -> u64 {
    let dom = conn.lookup_domain_by_name("tls-guest").await.unwrap();
    dom.info().await.unwrap().max_mem_kib
}

fn err_of<T>(result: oxvirt::Result<T>) -> (ErrorCode, ErrorDomain, String) {
    match result {
        Ok(_) => panic!("succeeded"),
        Err(e) => (e.code, e.domain, e.message),
    }
}

/// Our facade over TLS: domains managed, the same refusals (the foreign certificate sent
/// regardless of the CA list, so the daemon names it: unknown CA), the server's name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn facade_over_tls() {
    let (pki, port, mut d) = started("tls-facade", &[]);
    let good = test_uri("127.0.0.1", port, &pki.good, "");
    let conn = Connect::open(&good).await.unwrap();
    assert_eq!(domain_names(&conn).await, ["test"]);
    drop(conn);
    // Open and one call, over TLS and over the unix socket: printed, not checked.
    for (label, uri) in [("tls", good.clone()), ("unix", d.uri())] {
        let runs = 20;
        let started = Instant::now();
        for _ in 0..runs {
            let conn = Connect::open(&uri).await.unwrap();
            assert_eq!(conn.list_all_domains(0).await.unwrap().len(), 1);
        }
        println!(
            "facade open + list over {label}: {:?}",
            started.elapsed() / runs
        );
    }

    let qemu = Connect::open(&tls_uri(
        "qemu",
        "127.0.0.1",
        port,
        "/system",
        &pki.good,
        "",
    ))
    .await
    .unwrap();
    let dom = qemu.define_domain_xml(DOMAIN, 0).await.unwrap();
    assert_eq!(dom.name(), "tls-guest");
    assert_eq!(guest_max_mem(&qemu).await, 64 * 1024);
    dom.undefine(0).await.unwrap();
    assert_eq!(
        err_of(qemu.lookup_domain_by_name("tls-guest").await).0,
        ErrorCode::NoDomain
    );
    drop(qemu);

    let refused = (
        ErrorCode::SystemError,
        ErrorDomain::Rpc,
        "Unable to read TLS confirmation: Input/output error".to_owned(),
    );
    // no_sanity=1 for the certificates we would refuse ourselves, as virsh does.
    for (dir, extra) in pki.refused() {
        let uri = test_uri("127.0.0.1", port, dir, extra);
        assert_eq!(err_of(Connect::open(&uri).await), refused, "{uri}");
        let conn = Connect::open(&good).await.unwrap();
        assert_eq!(conn.list_all_domains(0).await.unwrap().len(), 1);
    }
    assert_eq!(
        err_of(Connect::open(&test_uri("localhost", port, &pki.good, "")).await),
        (
            ErrorCode::AuthFailed,
            ErrorDomain::Rpc,
            "authentication failed: Failed to verify peer's certificate: Certificate [session] \
             owner does not match the hostname localhost"
                .to_owned()
        )
    );
    Connect::open(&test_uri("localhost", port, &pki.good, "&no_verify=1"))
        .await
        .unwrap();
    // Without no_sanity, our own expired or foreign certificate is refused before
    // connecting, in virsh's words.
    for dir in [&pki.expired, &pki.foreign] {
        let uri = test_uri("127.0.0.1", port, dir, "");
        let (code, domain, message) = err_of(Connect::open(&uri).await);
        assert_eq!((code, domain), (ErrorCode::SystemError, ErrorDomain::Rpc));
        let out = virsh(&uri, &["list"]);
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!("error: failed to connect to the hypervisor\nerror: {message}\n")
        );
    }

    assert!(d.signal_and_wait("TERM").success());
    let log = d.stderr();
    assert_lines_in(
        &log,
        &[
            "refused (no certificate): Unable to verify TLS peer: No certificate was found.",
            "refused (unknown CA), DN 'O=oxvirt test,CN=mallory': Certificate failed validation: \
             The certificate hasn't got a known issuer.",
            "refused (expired), DN 'O=oxvirt test,CN=old'",
            "refused (revoked), DN 'O=oxvirt test,CN=revoked'",
            "refused (DN not allowed), DN 'O=oxvirt test,CN=bob'",
        ],
    );
}

/// A credential file that is missing or wrong stops the daemon, naming it.
#[test]
fn missing_credentials_stop_the_daemon() {
    let pki = pki("tls-files");
    let s = |f: &str| pki.server.join(f).display().to_string();
    let run = |cert: &str, key: &str| {
        let dir = TempDir::new("tls-files-run");
        // Under `timeout`: a daemon that wrongly starts fails the test instead of hanging it.
        let out = std::process::Command::new("timeout")
            .args(["20", env!("CARGO_BIN_EXE_oxvirtd")])
            .args(["--runtime-dir", dir.join("run").to_str().unwrap()])
            .args(["--state-dir", dir.join("state").to_str().unwrap()])
            .args(["--listen-tls", &format!("127.0.0.1:{}", free_port())])
            .args(["--ca-file", &s("cacert.pem"), "--cert-file", cert])
            .args(["--key-file", key])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    // For libvirtd's sanity checks: an expired server certificate, one from another CA.
    let mut other = Ca::new("another CA");
    let expired = other.issue(&Leaf {
        expired: true,
        ..Leaf::server(&["127.0.0.1"])
    });
    let foreign = other.issue(&Leaf::server(&["127.0.0.1"]));
    let dir = pki.server.parent().unwrap();
    for (name, issued) in [("expired", &expired), ("foreign", &foreign)] {
        std::fs::write(dir.join(format!("{name}-cert.pem")), &issued.cert_pem).unwrap();
        std::fs::write(dir.join(format!("{name}-key.pem")), &issued.key_pem).unwrap();
    }
    let f = |n: &str| dir.join(n).display().to_string();
    let (ca, cert) = (s("cacert.pem"), s("servercert.pem"));
    let (expired, foreign) = (f("expired-cert.pem"), f("foreign-cert.pem"));
    for (cert, key, want) in [
        (
            &cert,
            s("nokey.pem"),
            format!(
                "Cannot read private key '{}': No such file or directory",
                s("nokey.pem")
            ),
        ),
        // The CA certificate is not the server's key.
        (
            &cert,
            ca.clone(),
            format!(
                "Unable to set x509 key and certificate: {ca}, {cert}: no PEM private key in {ca}"
            ),
        ),
        (
            &expired,
            f("expired-key.pem"),
            format!("The server certificate {expired} has expired"),
        ),
        (
            &foreign,
            f("foreign-key.pem"),
            format!(
                "Our own certificate {foreign} failed validation against {ca}: The certificate \
                 hasn't got a known issuer."
            ),
        ),
    ] {
        assert_eq!(
            run(cert, &key),
            format!("oxvirtd: {want}\n"),
            "{cert} {key}"
        );
    }
}

/// A private Debian libvirtd (its own mount namespace: tmpfs over libvirt's state folders,
/// so the system's daemon and files are untouched) listening for TLS on 127.0.0.1:port
/// with `pki`'s server files and the same allowed DNs as [`started`].
struct Libvirtd {
    child: std::process::Child,
    log: PathBuf,
    _dir: TempDir,
}

impl Libvirtd {
    fn start(pki: &Pki, port: u16) -> Libvirtd {
        assert!(
            Path::new("/usr/sbin/libvirtd").exists(),
            "libvirtd is missing: install Debian's libvirt-daemon-system"
        );
        let dir = TempDir::new("tls-libvirtd-run");
        let s = |f: &str| pki.server.join(f).display().to_string();
        let conf = dir.join("libvirtd.conf");
        std::fs::create_dir_all(dir.join("sock")).unwrap();
        std::fs::write(
            &conf,
            format!(
                "listen_tls = 1\nlisten_tcp = 0\nlisten_addr = \"127.0.0.1\"\n\
                 tls_port = \"{port}\"\nca_file = \"{}\"\ncert_file = \"{}\"\n\
                 key_file = \"{}\"\ncrl_file = \"{}\"\n\
                 tls_allowed_dn_list = [\"O=oxvirt test,CN=alice\", \"*CN=old\", \"*CN=revoked\"]\n\
                 unix_sock_dir = \"{}\"\nauth_unix_rw = \"none\"\nauth_unix_ro = \"none\"\n\
                 log_outputs = \"3:stderr\"\n",
                s("cacert.pem"),
                s("servercert.pem"),
                s("serverkey.pem"),
                s("cacrl.pem"),
                dir.join("sock").display()
            ),
        )
        .unwrap();
        let log = dir.join("libvirtd.log");
        let script = format!(
            "set -e; for d in /run/libvirt /var/run/libvirt /var/lib/libvirt /etc/libvirt/qemu \
             /etc/libvirt/storage /var/cache/libvirt /var/log/libvirt; do mkdir -p $d; \
             mount -t tmpfs oxvirt-tls $d; done; exec libvirtd -f {} -p {} --listen",
            conf.display(),
            dir.join("libvirtd.pid").display()
        );
        let child = std::process::Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c", &script])
            .stdout(std::fs::File::create(dir.join("libvirtd.out")).unwrap())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut d = Libvirtd {
            child,
            log,
            _dir: dir,
        };
        for _ in 0..1500 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return d;
            }
            if let Ok(Some(status)) = d.child.try_wait() {
                panic!("libvirtd exited ({status}): {}", d.log_text());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("libvirtd does not listen on {port}: {}", d.log_text());
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Libvirtd {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        for _ in 0..500 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Our facade against Debian's libvirtd with TLS: domains managed with a good
/// certificate; the refused ones fail as they fail against oxvirtd (and as virsh fails
/// against libvirtd), so the daemon's words and the clients' are the same on both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn facade_against_debians_libvirtd_over_tls() {
    require_virsh();
    let pki = pki("tls-libvirtd");
    let port = free_port();
    let lv = Libvirtd::start(&pki, port);
    let uri =
        |dir: &Path, host: &str, extra: &str| tls_uri("qemu", host, port, "/system", dir, extra);
    let conn = Connect::open(&uri(&pki.good, "127.0.0.1", ""))
        .await
        .unwrap();
    assert_eq!(conn.hypervisor_type(), "QEMU");
    let defined = conn.define_domain_xml(DOMAIN, 0).await;
    match defined {
        Ok(dom) => {
            assert_eq!(guest_max_mem(&conn).await, 64 * 1024);
            assert_eq!(domain_names(&conn).await, ["tls-guest"]);
            dom.undefine(0).await.unwrap();
        }
        // libvirtd checks the emulator at define time.
        Err(e) if e.message.contains("No emulator found") => {
            println!("NOTE: no qemu-system-x86_64 here: listing only");
        }
        Err(e) => panic!("define on libvirtd: {e:?}"),
    }
    assert!(conn.list_all_domains(0).await.unwrap().is_empty());
    drop(conn);

    for (dir, extra) in pki.refused() {
        let ours = err_of(Connect::open(&uri(dir, "127.0.0.1", extra)).await);
        assert_eq!(
            ours,
            (
                ErrorCode::SystemError,
                ErrorDomain::Rpc,
                "Unable to read TLS confirmation: Input/output error".to_owned()
            ),
            "{}",
            dir.display()
        );
        let out = virsh(&uri(dir, "127.0.0.1", extra), &["list"]);
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            VIRSH_REFUSED,
            "{}",
            dir.display()
        );
        Connect::open(&uri(&pki.good, "127.0.0.1", ""))
            .await
            .unwrap();
    }
    assert_eq!(
        err_of(Connect::open(&uri(&pki.good, "localhost", "")).await).2,
        "authentication failed: Failed to verify peer's certificate: Certificate [session] \
         owner does not match the hostname localhost"
    );
    // libvirtd's own log names each refusal (its words, for the record).
    let log = lv.log_text();
    println!("libvirtd's refusals:");
    for line in log
        .lines()
        .filter(|l| l.contains("Certificate check failed"))
    {
        println!("  {line}");
    }
    assert!(
        log.contains("The certificate hasn't got a known issuer."),
        "{log}"
    );
    assert!(log.contains("The certificate has been revoked."), "{log}");
    // An expired certificate is merely "not trusted" to libvirtd (GnuTLS's status bits);
    // oxvirtd says "The client certificate [session] has expired".
    assert!(
        log.contains("Certificate failed validation: The certificate is not trusted."),
        "{log}"
    );
    assert!(
        log.contains("Client's Distinguished Name is not on the list"),
        "{log}"
    );
}

/// tls_no_verify_certificate: clients without a valid certificate are let in (and logged).
#[test]
fn no_verify_certificate_lets_everyone_in() {
    require_virsh();
    let (pki, port, mut d) = started("tls-noverify", &["--tls-no-verify-certificate", "true"]);
    for dir in [&pki.none, &pki.revoked, &pki.bob, &pki.good] {
        let out = virsh(&test_uri("127.0.0.1", port, dir, ""), &["list", "--all"]);
        assert!(out.status.success(), "{}: {}", dir.display(), text(&out));
    }
    assert!(d.signal_and_wait("TERM").success());
    let log = d.stderr();
    assert_lines_in(
        &log,
        &[
            "refused (no certificate): Unable to verify TLS peer: No certificate was found.; \
             accepted anyway (tls_no_verify_certificate)",
            "refused (revoked), DN 'O=oxvirt test,CN=revoked': Certificate failed validation: \
             The certificate has been revoked.; accepted anyway (tls_no_verify_certificate)",
            "refused (DN not allowed), DN 'O=oxvirt test,CN=bob'",
        ],
    );
    assert_eq!(log.matches("accepted anyway").count(), 3, "{log}");
}

/// The server's name as GnuTLS checks it, from virsh and from our facade alike: the subject
/// CN counts for a host name (any case) only when the certificate has no subjectAltName
/// at all, and never for an address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_name_from_the_common_name_as_gnutls() {
    require_virsh();
    let base = TempDir::new("tls-cn-pki");
    let mut ca = Ca::new("cn CA");
    let client = ca.issue(&Leaf::client("alice"));
    let cdir = write_dir(
        &base.join("client"),
        &ca.pem(),
        Some(("client", &client)),
        None,
    );
    for (sans, accepted) in [
        (vec![], vec!["localhost", "LOCALHOST"]),
        (vec!["127.0.0.2"], vec![]),
    ] {
        let server = ca.issue(&Leaf {
            role: pki::Role::Server,
            dn: vec![(rcgen::DnType::CommonName, "localhost")],
            sans,
            expired: false,
        });
        let dir = write_dir(
            &base.join("server"),
            &ca.pem(),
            Some(("server", &server)),
            None,
        );
        let port = free_port();
        let _d = tls_daemon("tls-cn", &dir, port, &[]);
        for host in ["localhost", "LOCALHOST", "127.0.0.1"] {
            let uri = test_uri(host, port, &cdir, "");
            let ok = accepted.contains(&host);
            let out = virsh(&uri, &["uri"]);
            assert_eq!(out.status.success(), ok, "virsh {uri}: {}", text(&out));
            match Connect::open(&uri).await {
                Ok(_) => assert!(ok, "facade accepted {uri}"),
                Err(e) => {
                    assert!(!ok, "facade refused {uri}: {e:?}");
                    assert_eq!(
                        e.message,
                        format!(
                            "authentication failed: Failed to verify peer's certificate: \
                             Certificate [session] owner does not match the hostname {host}"
                        )
                    );
                }
            }
        }
    }
}

/// Credentials made the way libvirt's documentation makes them (GnuTLS's certtool, RSA
/// keys written after their text description, critical key usages, the DN list written as
/// virt-pki-query-dn prints it) work with oxvirtd, virsh and our facade.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certtool_made_credentials() {
    require_virsh();
    assert!(
        Path::new("/usr/bin/certtool").exists(),
        "certtool is missing: install Debian's gnutls-bin"
    );
    let dir = TempDir::new("tls-certtool");
    let certtool = |args: &[&str], out: &str| {
        let o = std::process::Command::new("certtool")
            .args(args)
            .current_dir(&*dir)
            .output()
            .unwrap();
        assert!(o.status.success(), "certtool {args:?}: {}", text(&o));
        std::fs::write(dir.join(out), &o.stdout).unwrap();
    };
    let template = |name: &str, text: &str| std::fs::write(dir.join(name), text).unwrap();
    template(
        "ca.info",
        "cn = Test CA\nca\ncert_signing_key\nexpiration_days = 700\n",
    );
    template(
        "server.info",
        "organization = Test Org\ncn = localhost\nip_address = 127.0.0.1\n\
         dns_name = localhost\ntls_www_server\nencryption_key\nsigning_key\n",
    );
    template(
        "client.info",
        "country = GB\nstate = London\nlocality = London\norganization = Test Org\n\
         cn = client1\ntls_www_client\nencryption_key\nsigning_key\n",
    );
    certtool(&["--generate-privkey"], "cakey.pem");
    certtool(
        &[
            "--generate-self-signed",
            "--load-privkey",
            "cakey.pem",
            "--template",
            "ca.info",
        ],
        "cacert.pem",
    );
    for side in ["server", "client"] {
        certtool(&["--generate-privkey"], &format!("{side}key.pem"));
        certtool(
            &[
                "--generate-certificate",
                "--load-privkey",
                &format!("{side}key.pem"),
                "--load-ca-certificate",
                "cacert.pem",
                "--load-ca-privkey",
                "cakey.pem",
                "--template",
                &format!("{side}.info"),
            ],
            &format!("{side}cert.pem"),
        );
    }
    let dn = std::process::Command::new("virt-pki-query-dn")
        .arg(dir.join("clientcert.pem"))
        .output()
        .unwrap();
    let dn = String::from_utf8(dn.stdout).unwrap();
    assert_eq!(dn.trim(), "C=GB,ST=London,L=London,O=Test Org,CN=client1");
    let port = free_port();
    let _d = tls_daemon(
        "tls-certtool-d",
        &dir,
        port,
        &[
            "--tls-allowed-dn-list",
            "C=GB,ST=London,L=London,O=Test Org,CN=*",
        ],
    );
    for host in ["localhost", "127.0.0.1"] {
        let uri = test_uri(host, port, &dir, "");
        assert_prints(&uri, &["list", "--name"], "test");
        let conn = Connect::open(&uri).await.unwrap();
        assert_eq!(conn.list_all_domains(0).await.unwrap().len(), 1);
    }
}
