//! What the tests of oxvirtd's TLS listener share (tls.rs, access.rs, flood.rs,
//! migrate_secure.rs): credentials made with rcgen in libvirt's `pkipath` layout ([`pki`],
//! [`server_dir`], [`client_dir`]), oxvirtd listening for TLS with them ([`tls_flags`],
//! [`tls_daemon`], [`wait_port`]), and Debian's virsh ([`require_virsh`], [`text`]).

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use super::Daemon;

#[path = "../../../oxvirt-tls/tests/pki/mod.rs"]
pub mod pki;

use pki::{write_dir, Ca, Leaf};

/// Writes the `pkipath` directory `dir`: `ca`'s certificate and a server certificate it
/// issues for 127.0.0.1, with `ca`'s CRL as it is now if `crl`. `dir`, for [`tls_flags`].
pub fn server_dir(ca: &mut Ca, dir: &Path, crl: bool) -> PathBuf {
    let server = ca.issue(&Leaf::server(&["127.0.0.1"]));
    let crl = crl.then(|| ca.crl_pem());
    write_dir(dir, &ca.pem(), Some(("server", &server)), crl.as_deref())
}

/// Writes the `pkipath` directory `dir`: `ca`'s certificate and a client certificate it
/// issues for `O=oxvirt test,CN={cn}`. `dir`.
pub fn client_dir(ca: &mut Ca, dir: &Path, cn: &str) -> PathBuf {
    let client = ca.issue(&Leaf::client(cn));
    write_dir(dir, &ca.pem(), Some(("client", &client)), None)
}

/// Writes the `pkipath` directory `dir`: `ca`'s certificate and a client certificate for
/// `O=oxvirt test,CN=mallory` that another CA issued. `dir`.
pub fn foreign_client_dir(ca: &Ca, dir: &Path) -> PathBuf {
    let mut other = Ca::new("another CA");
    let foreign = other.issue(&Leaf::client("mallory"));
    write_dir(dir, &ca.pem(), Some(("client", &foreign)), None)
}

/// The daemon flags that make it listen for TLS on 127.0.0.1:`port` with the server
/// credentials in `dir` (`cacert.pem`, `servercert.pem`, `serverkey.pem`).
pub fn tls_flags(dir: &Path, port: u16) -> Vec<String> {
    let f = |name: &str| dir.join(name).display().to_string();
    vec![
        "--listen-tls".into(),
        format!("127.0.0.1:{port}"),
        "--ca-file".into(),
        f("cacert.pem"),
        "--cert-file".into(),
        f("servercert.pem"),
        "--key-file".into(),
        f("serverkey.pem"),
    ]
}

/// oxvirtd, its log captured, listening for TLS on 127.0.0.1:`port` with the server
/// credentials in `dir` ([`tls_flags`]) and `more` flags; returned once the port accepts.
pub fn tls_daemon(tag: &str, dir: &Path, port: u16, more: &[&str]) -> Daemon {
    let mut args = tls_flags(dir, port);
    args.extend(more.iter().map(|a| a.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let d = Daemon::logged(tag, &args);
    wait_port(port);
    d
}

/// Waits (5 s at most) until 127.0.0.1:`port` accepts a TCP connection.
pub fn wait_port(port: u16) {
    for _ in 0..250 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("oxvirtd does not listen on {port}");
}

/// Fails the test if Debian's virsh is not installed.
pub fn require_virsh() {
    assert!(
        Path::new("/usr/bin/virsh").exists(),
        "virsh is missing: install Debian's libvirt-clients"
    );
}

/// A command's exit status, standard output and standard error, for assertion messages.
pub fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
