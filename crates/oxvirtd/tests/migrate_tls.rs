//! Live migration with the migration stream in TLS (`virsh migrate --tls`) between two
//! oxvirtd daemons, with Debian's unchanged virsh. The certificates are made by the test
//! with `openssl` in the layout of libvirt's TLS transport (`ca-cert.pem`,
//! `server-cert.pem`/`server-key.pem`, `client-cert.pem`/`client-key.pem`), and the daemons
//! find them through `--migrate-tls-x509-cert-dir` (qemu.conf's
//! `migrate_tls_x509_cert_dir`).

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::Instant;

use common::migrate::{names, pair_with, text, virsh_migrate};
use common::qemu::QemuEnv;
use common::TempDir;

const UUID_A: &str = "7d1c8b63-2e4f-4a9b-8c32-6f8e5d4b3a01";
const UUID_B: &str = "7d1c8b63-2e4f-4a9b-8c32-6f8e5d4b3a02";

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl (Debian's openssl package) runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A certificate authority named `cn` in `dir` (`ca-cert.pem`, `ca-key.pem`), with a server
/// certificate for 127.0.0.1 and a client certificate, both signed by it.
fn make_pki(dir: &Path, cn: &str) {
    std::fs::create_dir_all(dir).unwrap();
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca-key.pem",
            "-out",
            "ca-cert.pem",
            "-days",
            "2",
            "-subj",
            &format!("/CN={cn}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    for (who, usage, san) in [
        (
            "server",
            "serverAuth",
            "\nsubjectAltName=IP:127.0.0.1,DNS:localhost",
        ),
        ("client", "clientAuth", ""),
    ] {
        let ext = format!(
            "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n\
             extendedKeyUsage={usage}{san}\n"
        );
        std::fs::write(dir.join(format!("{who}.ext")), ext).unwrap();
        openssl(
            dir,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                &format!("{who}-key.pem"),
                "-out",
                &format!("{who}.csr"),
                "-subj",
                &format!("/CN={who}.oxvirt.test"),
            ],
        );
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &format!("{who}.csr"),
                "-CA",
                "ca-cert.pem",
                "-CAkey",
                "ca-key.pem",
                "-CAcreateserial",
                "-out",
                &format!("{who}-cert.pem"),
                "-days",
                "2",
                "-extfile",
                &format!("{who}.ext"),
            ],
        );
    }
}

/// Two daemons, A and B (B also on TCP), whose migration credentials are `pki_a` and
/// `pki_b`, with `more` arguments for both; B's `qemu+tcp` URI. `None` when skipped.
fn pair(
    test: &str,
    pki_a: &Path,
    pki_b: &Path,
    more: &[&str],
) -> Option<(QemuEnv, QemuEnv, String)> {
    let (a_dir, b_dir) = (pki_a.display().to_string(), pki_b.display().to_string());
    let mut a_args = vec!["--migrate-tls-x509-cert-dir", a_dir.as_str()];
    a_args.extend_from_slice(more);
    let mut b_args = vec!["--migrate-tls-x509-cert-dir", b_dir.as_str()];
    b_args.extend_from_slice(more);
    pair_with(test, [UUID_A, UUID_B], &a_args, &b_args)
}

/// `virsh migrate --live MORE NAME DEST --migrateuri tcp://127.0.0.1` from `from`.
fn migrate(from: &QemuEnv, name: &str, dest: &str, more: &[&str]) -> Output {
    let mut args = vec!["--live"];
    args.extend_from_slice(more);
    args.extend_from_slice(&[name, dest, "--migrateuri", "tcp://127.0.0.1"]);
    virsh_migrate(from, &args).0
}

#[test]
fn tls_migration_moves_the_guest_and_checks_the_certificates() {
    let pki = TempDir::new("mig-tls-pki");
    let good = pki.join("good");
    make_pki(&good, "oxvirt test CA");
    let Some((a, b, dest)) = pair("migrate-tls", &good, &good, &[]) else {
        return;
    };
    a.define("mig", "");
    a.boot("mig");

    // Client-driven, then back peer-to-peer: both ends present and check certificates.
    let start = Instant::now();
    let out = migrate(&a, "mig", &dest, &["--tls"]);
    assert!(
        out.status.success(),
        "virsh migrate --tls failed: {}",
        text(&out)
    );
    eprintln!("virsh migrate --live --tls took {:?}", start.elapsed());
    assert_eq!(b.domstate("mig"), "running (migrated)");
    assert_eq!(a.domstate("mig"), "shut off (migrated)");
    let out = migrate(&b, "mig", &a.uri(), &["--tls", "--p2p"]);
    assert!(
        out.status.success(),
        "virsh migrate --tls --p2p back failed: {}",
        text(&out)
    );
    assert_eq!(a.domstate("mig"), "running (migrated)");
    assert!(names(&b).is_empty(), "{:?}", names(&b));

    // The guest still answers on A after two TLS migrations.
    a.virsh_ok(&["shutdown", "mig"]);
    assert!(
        a.wait_no_leftovers(60).is_empty(),
        "the guest did not power off"
    );
}

#[test]
fn a_destination_of_another_ca_is_refused_and_the_source_runs_on() {
    let pki = TempDir::new("mig-tls-ca2");
    let (ours, theirs) = (pki.join("ours"), pki.join("theirs"));
    make_pki(&ours, "oxvirt test CA");
    make_pki(&theirs, "another CA");
    let Some((a, b, dest)) = pair("migrate-tls-ca", &ours, &theirs, &[]) else {
        return;
    };
    a.define("mig", "");
    a.virsh_ok(&["start", "mig"]);
    let out = migrate(&a, "mig", &dest, &["--tls"]);
    assert!(
        !out.status.success(),
        "virsh migrate succeeded: {}",
        text(&out)
    );
    let err = text(&out);
    eprintln!("refused as: {err}");
    // GnuTLS's words (through QEMU) for a certificate that does not chain to the CA.
    assert!(
        err.contains("The certificate hasn't got a known issuer"),
        "not a certificate failure: {err}"
    );
    assert!(
        a.domstate("mig").starts_with("running"),
        "{}",
        a.domstate("mig")
    );
    assert!(names(&b).is_empty(), "{:?}", names(&b));
    assert!(b.wait_no_leftovers(10).is_empty(), "a QEMU is left on B");

    // Without the flag, the same pair migrates in the clear.
    let out = migrate(&a, "mig", &dest, &[]);
    assert!(
        out.status.success(),
        "plain migration failed: {}",
        text(&out)
    );
    assert_eq!(b.domstate("mig"), "running (migrated)");
}

#[test]
fn missing_credentials_and_forced_tls_are_refused_with_clear_errors() {
    let pki = TempDir::new("mig-tls-none");
    let good = pki.join("good");
    make_pki(&good, "oxvirt test CA");
    let empty = pki.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let Some((a, b, dest)) = pair(
        "migrate-tls-force",
        &good,
        &empty,
        &["--migrate-tls-force", "true"],
    ) else {
        return;
    };
    a.define("mig", "");
    a.virsh_ok(&["start", "mig"]);

    // A node that forces TLS refuses a migration without it, with libvirt's words.
    let out = migrate(&a, "mig", &dest, &[]);
    assert!(
        !out.status.success(),
        "virsh migrate succeeded: {}",
        text(&out)
    );
    assert!(
        text(&out).contains(
            "Requested operation is not valid: this libvirtd instance allows migration only with VIR_MIGRATE_TLS flag"
        ),
        "{}",
        text(&out)
    );

    // B has no credentials: its QEMU names the missing file; nothing is left on B.
    let out = migrate(&a, "mig", &dest, &["--tls"]);
    assert!(
        !out.status.success(),
        "virsh migrate succeeded: {}",
        text(&out)
    );
    let err = text(&out);
    eprintln!("refused as: {err}");
    assert!(
        err.contains(&format!(
            "cannot set up TLS for the migration from {}",
            empty.display()
        )) && err.contains("ca-cert.pem"),
        "{err}"
    );
    assert!(
        a.domstate("mig").starts_with("running"),
        "{}",
        a.domstate("mig")
    );
    assert!(names(&b).is_empty(), "{:?}", names(&b));
    assert!(b.wait_no_leftovers(10).is_empty(), "a QEMU is left on B");
}
