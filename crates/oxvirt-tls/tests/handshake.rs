//! Our server against our client over loopback, with certificates made here: who is
//! accepted, who is refused and with which words, on both ends; loading errors; the DN
//! string compared with GnuTLS's own (`virt-pki-query-dn`).

#![allow(clippy::unwrap_used)]

mod pki;

use std::path::{Path, PathBuf};
use std::time::Duration;

use oxvirt_tls::{
    CredentialPaths, Credentials, ErrorCode, Refused, ServerOptions, Side, TlsClient, TlsServer,
};
use pki::{write_dir, Ca, Issued, Leaf};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("oxvirt-tls-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The `side` credentials in the `pkipath` directory `dir`.
fn load(dir: &Path, side: Side) -> Credentials {
    let paths = CredentialPaths::locate(Some(dir), None, side);
    Credentials::load(&paths, side).unwrap()
}

fn server(dir: &Path, options: ServerOptions) -> TlsServer {
    TlsServer::new(&load(dir, Side::Server), options).unwrap()
}

fn client(dir: &Path, no_verify: bool) -> TlsClient {
    TlsClient::new(&load(dir, Side::Client), no_verify).unwrap()
}

/// One connection: the server's outcome (DN or refusal) and the client's.
async fn attempt(
    server: &TlsServer,
    client: &TlsClient,
    host: &str,
) -> (
    Result<Option<String>, oxvirt_tls::Refusal>,
    Result<(), oxvirt_tls::ConnectError>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let srv = server.clone();
    let served = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        match srv.accept(tcp, Duration::from_secs(10)).await {
            Ok(mut accepted) => {
                // Echo one byte so the client sees a working session.
                let mut b = [0u8; 1];
                if accepted.stream.read_exact(&mut b).await.is_ok() {
                    let _ = accepted.stream.write_all(&b).await;
                    let _ = accepted.stream.flush().await;
                }
                Ok(accepted.dn)
            }
            Err(refusal) => Err(refusal),
        }
    });
    let tcp = TcpStream::connect(addr).await.unwrap();
    let connected = match client.connect(tcp, host).await {
        Ok(mut stream) => {
            stream.write_all(b"x").await.unwrap();
            stream.flush().await.unwrap();
            let mut b = [0u8; 1];
            stream.read_exact(&mut b).await.unwrap();
            assert_eq!(&b, b"x");
            Ok(())
        }
        Err(e) => Err(e),
    };
    (served.await.unwrap(), connected)
}

struct Setup {
    ca: Ca,
    root: PathBuf,
    server_dir: PathBuf,
}

fn setup(name: &str) -> Setup {
    let root = tempdir(name);
    let mut ca = Ca::new("test CA");
    let server = ca.issue(&Leaf::server(&["127.0.0.1", "oxvirt.test"]));
    let server_dir = write_dir(
        &root.join("server"),
        &ca.pem(),
        Some(("server", &server)),
        None,
    );
    Setup {
        ca,
        root,
        server_dir,
    }
}

fn client_dir(s: &mut Setup, name: &str, leaf: &Leaf<'_>) -> PathBuf {
    let issued = s.ca.issue(leaf);
    s.dir_with(name, "client", &issued)
}

impl Setup {
    /// The `pkipath` directory `name` under the root: our CA's certificate and `issued` as
    /// its `prefix` ("server" or "client") certificate and key.
    fn dir_with(&self, name: &str, prefix: &str, issued: &Issued) -> PathBuf {
        write_dir(
            &self.root.join(name),
            &self.ca.pem(),
            Some((prefix, issued)),
            None,
        )
    }
}

#[tokio::test]
async fn accepted_client_gets_its_dn() {
    let mut s = setup("ok");
    let dir = client_dir(&mut s, "good", &Leaf::client("alice"));
    let srv = server(&s.server_dir, ServerOptions::default());
    let (served, connected) = attempt(&srv, &client(&dir, false), "127.0.0.1").await;
    connected.unwrap();
    assert_eq!(served.unwrap().as_deref(), Some("O=oxvirt test,CN=alice"));
    // By DNS name too.
    let (served, connected) = attempt(&srv, &client(&dir, false), "oxvirt.test").await;
    connected.unwrap();
    served.unwrap();
    // Many times in a row (no session tickets to trip over).
    for _ in 0..5 {
        let (served, connected) = attempt(&srv, &client(&dir, false), "127.0.0.1").await;
        connected.unwrap();
        served.unwrap();
    }
    std::fs::remove_dir_all(&s.root).unwrap();
}

async fn refused(srv: &TlsServer, dir: &Path, kind: Refused, message: &str) {
    let (served, connected) = attempt(srv, &client(dir, false), "127.0.0.1").await;
    let refusal = served.expect_err("server accepted");
    assert_eq!(refusal.kind, kind, "{refusal}");
    assert_eq!(refusal.message, message);
    assert!(refusal.peer.is_some());
    // The client sees the socket closed without the confirmation byte.
    let err = connected.expect_err("client connected");
    assert_eq!(err.code, ErrorCode::SystemError, "{err:?}");
    assert_eq!(
        err.message,
        "Unable to read TLS confirmation: Input/output error"
    );
}

#[tokio::test]
async fn refused_clients_are_classified() {
    let mut s = setup("refused");
    // No certificate at all.
    let none = write_dir(&s.root.join("none"), &s.ca.pem(), None, None);
    // Signed by another CA (the client trusts our CA, so only the server objects).
    let mut other = Ca::new("other CA");
    let foreign = other.issue(&Leaf::client("mallory"));
    let foreign_dir = s.dir_with("foreign", "client", &foreign);
    let expired_dir = client_dir(
        &mut s,
        "expired",
        &Leaf {
            expired: true,
            ..Leaf::client("old")
        },
    );
    let revoked = s.ca.issue(&Leaf::client("revoked"));
    let revoked_dir = s.dir_with("revoked", "client", &revoked);
    s.ca.revoke(&revoked);
    std::fs::write(s.server_dir.join("cacrl.pem"), s.ca.crl_pem()).unwrap();
    let good = client_dir(&mut s, "good", &Leaf::client("alice"));
    let bob = client_dir(&mut s, "bob", &Leaf::client("bob"));
    let srv = server(
        &s.server_dir,
        ServerOptions {
            no_verify: false,
            allowed_dns: Some(vec![
                "O=oxvirt test,CN=alice".into(),
                "*CN=revoked".into(),
                "*CN=old".into(),
            ]),
        },
    );

    for (dir, kind, message) in [
        (
            &none,
            Refused::NoCertificate,
            "Unable to verify TLS peer: No certificate was found.",
        ),
        (
            &foreign_dir,
            Refused::UnknownCa,
            "Certificate failed validation: The certificate hasn't got a known issuer.",
        ),
        (
            &expired_dir,
            Refused::Expired,
            "The client certificate [session] has expired",
        ),
        (
            &revoked_dir,
            Refused::Revoked,
            "Certificate failed validation: The certificate has been revoked.",
        ),
        (
            &bob,
            Refused::DnNotAllowed,
            oxvirt_tls::server::DN_NOT_ALLOWED,
        ),
    ] {
        refused(&srv, dir, kind, message).await;
    }
    // The DN of a refused client is reported.
    let (served, _) = attempt(&srv, &client(&bob, false), "127.0.0.1").await;
    assert_eq!(
        served.unwrap_err().dn.as_deref(),
        Some("O=oxvirt test,CN=bob")
    );
    // And the good one still gets in.
    let (served, connected) = attempt(&srv, &client(&good, false), "127.0.0.1").await;
    connected.unwrap();
    assert_eq!(served.unwrap().as_deref(), Some("O=oxvirt test,CN=alice"));

    // tls_no_verify_certificate: everyone gets in.
    let lax = server(
        &s.server_dir,
        ServerOptions {
            no_verify: true,
            allowed_dns: Some(vec!["nobody".into()]),
        },
    );
    for dir in [&none, &foreign_dir, &expired_dir, &revoked_dir, &bob] {
        let (served, connected) = attempt(&lax, &client(dir, false), "127.0.0.1").await;
        connected.unwrap();
        served.unwrap();
    }
    std::fs::remove_dir_all(&s.root).unwrap();
}

#[tokio::test]
async fn client_checks_the_server() {
    let mut s = setup("client");
    let dir = client_dir(&mut s, "good", &Leaf::client("alice"));
    let srv = server(&s.server_dir, ServerOptions::default());
    // The certificate is for 127.0.0.1 and oxvirt.test, not localhost.
    let (_, connected) = attempt(&srv, &client(&dir, false), "localhost").await;
    let err = connected.unwrap_err();
    assert_eq!(err.code, ErrorCode::AuthFailed);
    assert_eq!(
        err.message,
        "Failed to verify peer's certificate: Certificate [session] owner does not match the hostname localhost"
    );
    // A host that is no DNS name matches no certificate.
    let (_, connected) = attempt(&srv, &client(&dir, false), "not_a host").await;
    assert_eq!(
        connected.unwrap_err().message,
        "Failed to verify peer's certificate: Certificate [session] owner does not match the hostname not_a host"
    );
    // no_verify=1 skips the check.
    let (served, connected) = attempt(&srv, &client(&dir, true), "localhost").await;
    connected.unwrap();
    served.unwrap();
    // A server whose certificate another CA signed.
    let mut other = Ca::new("other CA");
    let imposter = other.issue(&Leaf::server(&["127.0.0.1"]));
    let imposter_dir = s.dir_with("imposter", "server", &imposter);
    let bad = server(
        &imposter_dir,
        ServerOptions {
            no_verify: true,
            allowed_dns: None,
        },
    );
    let (_, connected) = attempt(&bad, &client(&dir, false), "127.0.0.1").await;
    let err = connected.unwrap_err();
    assert_eq!(err.code, ErrorCode::AuthFailed);
    assert_eq!(
        err.message,
        "Failed to verify peer's certificate: Certificate failed validation: The certificate hasn't got a known issuer."
    );
    std::fs::remove_dir_all(&s.root).unwrap();
}

#[test]
fn loading_errors_name_the_file() {
    let mut s = setup("load");
    let issued = s.ca.issue(&Leaf::server(&["127.0.0.1"]));
    let other = s.ca.issue(&Leaf::server(&["127.0.0.1"]));
    let dir = s.root.join("bad");
    let paths = CredentialPaths::locate(Some(&dir), None, Side::Server);
    let err = |paths: &CredentialPaths| Credentials::load(paths, Side::Server).unwrap_err();

    let e = err(&paths);
    assert_eq!(e.file, dir.join("cacert.pem"));
    assert_eq!(
        e.message,
        format!(
            "Cannot read CA certificate '{}': No such file or directory",
            dir.join("cacert.pem").display()
        )
    );
    write_dir(&dir, "not a certificate\n", None, None);
    let e = err(&paths);
    assert_eq!(
        e.message,
        format!(
            "Unable to import CA certificate list {}: no PEM certificate in it",
            dir.join("cacert.pem").display()
        )
    );
    write_dir(&dir, &s.ca.pem(), None, None);
    let e = err(&paths);
    assert_eq!(
        e.message,
        format!(
            "Cannot read certificate '{}': No such file or directory",
            dir.join("servercert.pem").display()
        )
    );
    std::fs::write(dir.join("servercert.pem"), &issued.cert_pem).unwrap();
    let e = err(&paths);
    assert_eq!(
        e.message,
        format!(
            "Cannot read private key '{}': No such file or directory",
            dir.join("serverkey.pem").display()
        )
    );
    std::fs::write(dir.join("serverkey.pem"), "garbage").unwrap();
    let e = err(&paths);
    assert_eq!(e.file, dir.join("serverkey.pem"));
    assert!(e.message.contains("no PEM private key in"), "{}", e.message);
    std::fs::write(dir.join("serverkey.pem"), &other.key_pem).unwrap();
    let e = err(&paths);
    assert_eq!(
        e.message,
        format!(
            "Unable to set x509 key and certificate: {}, {}: The certificate and the given key do not match.",
            dir.join("serverkey.pem").display(),
            dir.join("servercert.pem").display()
        )
    );
    std::fs::write(dir.join("serverkey.pem"), &issued.key_pem).unwrap();
    Credentials::load(&paths, Side::Server).unwrap();
    // A client without certificate and key loads (it connects without one).
    let cpaths = CredentialPaths::locate(Some(&dir), None, Side::Client);
    assert!(Credentials::load(&cpaths, Side::Client)
        .unwrap()
        .identity
        .is_none());
    std::fs::remove_dir_all(&s.root).unwrap();
}

/// Our DN strings are GnuTLS's (`virt-pki-query-dn` calls `gnutls_x509_crt_get_dn`, as
/// libvirtd does for `tls_allowed_dn_list`).
#[test]
fn dn_matches_gnutls() {
    use rcgen::DnType;
    let which = std::process::Command::new("sh")
        .args(["-c", "command -v virt-pki-query-dn"])
        .output()
        .unwrap();
    assert!(
        which.status.success(),
        "virt-pki-query-dn is missing: install Debian's libvirt-clients"
    );
    let root = tempdir("dn");
    let mut ca = Ca::new("dn CA");
    use rcgen::{DnValue, Ia5String, PrintableString};
    let p = |s: &str| DnValue::PrintableString(PrintableString::try_from(s).unwrap());
    let ia5 = |s: &str| DnValue::Ia5String(Ia5String::try_from(s).unwrap());
    let u = |s: &str| DnValue::Utf8String(s.to_owned());
    let oid = |arcs: &[u64]| DnType::CustomDnType(arcs.to_vec());
    let cases: Vec<Vec<(DnType, DnValue)>> = vec![
        vec![
            (DnType::CountryName, p("GB")),
            (DnType::StateOrProvinceName, u("London")),
            (DnType::LocalityName, p("London")),
            (DnType::OrganizationName, u("Red Hat")),
            (DnType::CommonName, u("client.example")),
        ],
        // Types GnuTLS does not expect for the attribute: hex.
        vec![
            (DnType::CountryName, u("GB")),
            (DnType::CommonName, ia5("ia5")),
        ],
        vec![(DnType::CommonName, u(" lead#x\\y;z<a>b=c\"q,p+r trail "))],
        vec![
            (DnType::OrganizationName, u("#hash")),
            (DnType::OrganizationalUnitName, u("caf\u{e9} \u{263a}")),
        ],
        vec![
            (oid(&[0, 9, 2342, 19200300, 100, 1, 25]), ia5("example")),
            (oid(&[0, 9, 2342, 19200300, 100, 1, 1]), u("uid1")),
            (oid(&[1, 2, 840, 113549, 1, 9, 1]), ia5("a@b.c")),
        ],
        vec![
            (oid(&[0, 9, 2342, 19200300, 100, 1, 25]), u("example")),
            (oid(&[1, 2, 840, 113549, 1, 9, 1]), u("a@b.c")),
        ],
        vec![
            (oid(&[2, 5, 4, 5]), p("42")),
            (oid(&[2, 5, 4, 12]), u("title")),
            (oid(&[1, 2, 3, 4]), u("odd")),
            (oid(&[2, 5, 4, 46]), p("q")),
        ],
        vec![
            (oid(&[2, 5, 4, 5]), u("42")),
            (oid(&[2, 5, 4, 46]), u("q")),
            (oid(&[2, 5, 4, 9]), u("street")),
            (oid(&[2, 5, 4, 17]), u("pc")),
        ],
        vec![
            (oid(&[2, 5, 4, 4]), u("sn")),
            (oid(&[2, 5, 4, 42]), u("gn")),
            (oid(&[2, 5, 4, 43]), u("in")),
            (oid(&[2, 5, 4, 44]), u("gq")),
            (oid(&[2, 5, 4, 41]), u("nm")),
            (oid(&[2, 5, 4, 65]), u("ps")),
            (oid(&[2, 5, 4, 15]), u("bc")),
        ],
        vec![
            (oid(&[2, 5, 4, 13]), u("desc")),
            (oid(&[2, 5, 4, 16]), u("pa")),
            (oid(&[2, 5, 4, 10, 1]), u("x")),
            (oid(&[1, 3, 6, 1, 4, 1, 311, 60, 2, 1, 3]), p("GB")),
            (oid(&[1, 3, 6, 1, 5, 5, 7, 9, 4]), p("GB")),
        ],
        vec![
            (oid(&[2, 5, 4, 20]), u("tel")),
            (oid(&[2, 5, 4, 97]), u("org")),
            (oid(&[1, 2, 840, 113549, 1, 9, 2]), u("un")),
            (oid(&[1, 3, 6, 1, 4, 1, 311, 60, 2, 1, 1]), u("jl")),
            (oid(&[1, 3, 6, 1, 4, 1, 311, 60, 2, 1, 2]), u("js")),
        ],
    ];
    let mut wrong = Vec::new();
    for (i, dn) in cases.into_iter().enumerate() {
        let issued = ca.issue_with_dn(dn);
        let file = root.join(format!("c{i}.pem"));
        std::fs::write(&file, &issued.cert_pem).unwrap();
        let out = std::process::Command::new("virt-pki-query-dn")
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let gnutls = String::from_utf8(out.stdout).unwrap();
        let der =
            rustls_pki_types::CertificateDer::from_pem_slice(issued.cert_pem.as_bytes()).unwrap();
        let ours = oxvirt_tls::dn::subject_dn(&der).unwrap();
        if ours != gnutls.trim_end_matches('\n') {
            wrong.push(format!("case {i}: ours   {ours}\n        gnutls {gnutls}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    std::fs::remove_dir_all(&root).unwrap();
}

use rustls_pki_types::pem::PemObject as _;

/// libvirt's sanity checks of our own files, in its words.
#[test]
fn sanity_checks_of_our_own_credentials() {
    let mut s = setup("sanity");
    let insane = |dir: &Path, side: Side| load(dir, side).check_sanity(side).unwrap_err().message;
    // libvirt's words for our own `prefix` certificate in `dir` that our CA did not sign.
    let unknown_issuer = |dir: &Path, prefix: &str| {
        format!(
            "Our own certificate {} failed validation against {}: The certificate hasn't got \
             a known issuer.",
            dir.join(format!("{prefix}cert.pem")).display(),
            dir.join("cacert.pem").display()
        )
    };
    load(&s.server_dir, Side::Server)
        .check_sanity(Side::Server)
        .unwrap();
    let good = client_dir(&mut s, "good", &Leaf::client("alice"));
    load(&good, Side::Client)
        .check_sanity(Side::Client)
        .unwrap();
    let expired = client_dir(
        &mut s,
        "expired",
        &Leaf {
            expired: true,
            ..Leaf::client("old")
        },
    );
    assert_eq!(
        insane(&expired, Side::Client),
        format!(
            "The client certificate {} has expired",
            expired.join("clientcert.pem").display()
        )
    );
    let mut other = Ca::new("other CA");
    let foreign = other.issue(&Leaf::client("mallory"));
    let foreign_dir = s.dir_with("foreign", "client", &foreign);
    assert_eq!(
        insane(&foreign_dir, Side::Client),
        unknown_issuer(&foreign_dir, "client")
    );
    // A server certificate from another CA.
    let imposter = other.issue(&Leaf::server(&["127.0.0.1"]));
    let imposter_dir = s.dir_with("imposter", "server", &imposter);
    assert_eq!(
        insane(&imposter_dir, Side::Server),
        unknown_issuer(&imposter_dir, "server")
    );
    // No certificate: only the CA is checked.
    let none = write_dir(&s.root.join("none"), &s.ca.pem(), None, None);
    load(&none, Side::Client)
        .check_sanity(Side::Client)
        .unwrap();
    std::fs::remove_dir_all(&s.root).unwrap();
}
