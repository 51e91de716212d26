//! Live migration whose control connections run over the secure transports, with Debian's
//! unchanged virsh and real TCG guests: peer-to-peer (`virsh migrate --live --p2p`, and
//! `--p2p --tunnelled`, where the migration stream itself rides in that connection) with
//! the source oxvirtd opening the destination through
//! `qemu+tls://127.0.0.1:PORT/system?pkipath=DIR` (the destination listening with TLS,
//! the source presenting the client certificate of its `pkipath`) or through
//! `qemu+ssh://root@127.0.0.1:2222/system?keyfile=K&no_verify=1` (OpenSSH's sshd in a
//! network namespace, `virt-ssh-helper` our `oxvirt-ssh-helper`); and client-driven, virsh
//! itself on TLS to both daemons. The guest ticks on its serial console: the ticks go on
//! with no gap and no repeat across every move. A destination whose TLS refuses the
//! source's certificate, whose sshd refuses its key, whose access policy refuses its DN, or
//! which goes silent mid-transfer fails the migration in libvirt 9.0's words, the source's
//! guest runs on in the same QEMU, and the destination keeps nothing. Debian's libvirtd
//! (private, in a mount namespace of its own) is compared as a p2p source into oxvirtd
//! over TLS and serves as a TLS destination for oxvirtd (offline migrations).
//!
//! Needs root, qemu-system-x86, virsh (libvirt-clients), libvirtd (libvirt-daemon-system),
//! unshare (util-linux), ip (iproute2), sshd and ssh (openssh-server, openssh-client), and
//! the built `oxvirt-ssh-helper`; the test guest (`cargo xtask guest`), else skipped.
//!
//! The certificates are made here with rcgen, one `pkipath`-layout directory per node
//! holding its server and its client credentials (`cacert.pem`, `servercert.pem`,
//! `serverkey.pem`, `clientcert.pem`, `clientkey.pem`). Wall times of the migrations are
//! printed (TLS against plain TCP), never asserted; `OXVIRT_MIG_TIMING=N` adds N rounds of
//! each peer-to-peer mode over TLS and TCP and prints their medians.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::migrate::{
    assert_clean, assert_consecutive, assert_state, define_ticking, failed, names, pair_with,
    signal, text, ticks, wait_for, wait_ticks,
};
use common::qemu::{guest, QemuEnv};
use common::sshd::Sshd;
use common::tls::pki::Ca;
use common::tls::{client_dir, foreign_client_dir, server_dir, tls_flags};
use common::{free_port, TempDir};

const UUID_A: &str = "8e2d9c74-3f5a-4b0c-9d43-7a9f6e5c4b01";
const UUID_B: &str = "8e2d9c74-3f5a-4b0c-9d43-7a9f6e5c4b02";

/// The certificates of one test, all from one CA unless said otherwise.
struct Pki {
    _dir: TempDir,
    /// Node A's server (127.0.0.1) and client (CN=node-a) credentials.
    a: PathBuf,
    /// Node B's server (127.0.0.1) and client (CN=node-b) credentials.
    b: PathBuf,
    /// virsh's client credentials (CN=virsh).
    virsh: PathBuf,
    /// The CA and a client certificate (CN=mallory) of another CA.
    foreign: PathBuf,
}

fn pki(tag: &str) -> Pki {
    let dir = TempDir::new(&format!("{tag}-pki"));
    let mut ca = Ca::new("oxvirt migration CA");
    let mut node = |name: &str, cn: &str| {
        server_dir(&mut ca, &dir.join(name), false);
        client_dir(&mut ca, &dir.join(name), cn)
    };
    let (a, b) = (node("a", "node-a"), node("b", "node-b"));
    Pki {
        a,
        b,
        virsh: client_dir(&mut ca, &dir.join("virsh"), "virsh"),
        foreign: foreign_client_dir(&ca, &dir.join("foreign")),
        _dir: dir,
    }
}

/// `qemu+tls://127.0.0.1:PORT/system?pkipath=DIR`.
fn tls_uri(port: u16, pkipath: &Path) -> String {
    format!(
        "qemu+tls://127.0.0.1:{port}/system?pkipath={}",
        pkipath.display()
    )
}

/// Two nodes with TLS listeners (A on `ports[0]`, B on `ports[1]`, their own
/// credentials) and the plain TCP listener [`pair_with`] gives B (its URI is returned),
/// with `a_more` / `b_more` flags. `None` when skipped.
fn tls_pair(
    test: &str,
    pki: &Pki,
    ports: [u16; 2],
    a_more: &[&str],
    b_more: &[&str],
) -> Option<(QemuEnv, QemuEnv, String)> {
    let mut a_args = tls_flags(&pki.a, ports[0]);
    a_args.extend(a_more.iter().map(|s| s.to_string()));
    let mut b_args = tls_flags(&pki.b, ports[1]);
    b_args.extend(b_more.iter().map(|s| s.to_string()));
    let a_args: Vec<&str> = a_args.iter().map(String::as_str).collect();
    let b_args: Vec<&str> = b_args.iter().map(String::as_str).collect();
    // oxvirtd binds its TLS port before its unix socket, which `pair_with` waits for (a
    // probe of the TLS port would be logged as a refused handshake).
    pair_with(test, [UUID_A, UUID_B], &a_args, &b_args)
}

/// `virsh -c CONN migrate ARGS` (stopped after 120 s), and how long it took.
fn virsh_migrate(conn: &str, args: &[&str]) -> (Output, Duration) {
    let start = Instant::now();
    let out = Command::new("timeout")
        .args(["120", "virsh", "-c", conn, "migrate"])
        .args(args)
        .output()
        .unwrap();
    (out, start.elapsed())
}

/// Asserts `err` (a failed virsh's output) is a source daemon's failed open of the
/// destination as Debian's libvirtd 9.0 reports it (checked with it as a p2p source against
/// an unreachable address and against oxvirtd refusing its certificate): the open's own
/// error `why`, not wrapped in older libvirt's "Failed to connect to remote libvirt URI".
fn assert_open_failed(err: &str, why: &str) {
    assert!(
        err.contains(&format!("error: {why}"))
            && !err.contains("Failed to connect to remote libvirt URI"),
        "{err}"
    );
}

/// `--live --p2p MORE [--tunnelled] mig DEST [--migrateuri tcp://127.0.0.1]`: a
/// peer-to-peer migration of `mig`, its stream over a TCP connection of its own unless
/// `tunnelled`.
fn p2p_args<'a>(dest: &'a str, tunnelled: bool, more: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["--live", "--p2p"];
    args.extend_from_slice(more);
    if tunnelled {
        args.push("--tunnelled");
    }
    args.extend_from_slice(&["mig", dest]);
    if !tunnelled {
        args.extend_from_slice(&["--migrateuri", "tcp://127.0.0.1"]);
    }
    args
}

/// Migrates `mig` from the daemon at `src` to `dest` peer-to-peer (not tunnelled), asserted
/// to succeed and leave it running on `to`.
fn p2p_ok(src: &str, dest: &str, to: &QemuEnv) {
    let (out, _) = virsh_migrate(src, &p2p_args(dest, false, &[]));
    assert!(out.status.success(), "{}", text(&out));
    assert_state(to, "mig", "running (migrated)");
}

/// Defines and starts the guest `mig` on `a`: its QEMU's pid and its state, for
/// [`assert_untouched`].
fn start_mig(a: &QemuEnv) -> (u32, String) {
    a.define("mig", "");
    a.virsh_ok(&["start", "mig"]);
    (a.qemu_pid("mig"), a.domstate("mig"))
}

/// Asserts a failed migration left `mig` on `a` as [`start_mig`] found it (state `was`,
/// the same QEMU `pid`) and nothing on `b`.
fn assert_untouched(a: &QemuEnv, b: &QemuEnv, pid: u32, was: &str) {
    assert_eq!(a.domstate("mig"), was);
    assert_eq!(a.qemu_pid("mig"), pid, "the source's QEMU changed");
    assert_clean(b);
}

/// B's access policy, written next to `pki`'s directories: CN=virsh may connect and look,
/// CN=node-a do anything.
fn acl_policy(pki: &Pki) -> PathBuf {
    let policy = pki.a.parent().unwrap().join("policy.toml");
    std::fs::write(
        &policy,
        "[[rule]]\naction = \"allow\"\nx509_dns = [\"O=oxvirt test,CN=virsh\"]\n\
         operations = [\"connect:*\", \"domain:getattr\", \"domain:read\"]\n\n\
         [[rule]]\naction = \"allow\"\nx509_dns = [\"O=oxvirt test,CN=node-a\"]\n",
    )
    .unwrap();
    policy
}

/// Runs `virsh -c CONN migrate ARGS`, asserts it succeeded and that `mig` now runs on
/// `to` (reason migrated) and is gone from `from`, and that the guest's ticks in `log`
/// go on there with no gap or repeat; the migration's wall time.
fn moved(
    what: &str,
    conn: &str,
    args: &[&str],
    from: &QemuEnv,
    to: &QemuEnv,
    log: &Path,
) -> Duration {
    let name = "mig";
    let (out, took) = virsh_migrate(conn, args);
    assert!(out.status.success(), "{what} failed: {}", text(&out));
    eprintln!("{what}: {took:?}");
    assert_state(to, name, "running (migrated)");
    // Defined on A: shut off there; transient on B: gone from there.
    if names(from).iter().any(|n| n == name) {
        assert_state(from, name, "shut off (migrated)");
    }
    let now = ticks(log).len();
    let after = wait_ticks(log, now + 3, 60);
    assert_consecutive(&after);
    took
}

/// The acceptance: one ticking guest moved A → B peer-to-peer over TLS, B → A tunnelled
/// over TLS, A → B client-driven with virsh on TLS to both daemons, then the same
/// peer-to-peer moves over plain TCP for comparison and TLS again; its ticks never skip or
/// repeat, and each move's wall time is printed.
#[test]
fn p2p_tunnelled_and_client_driven_migrations_over_tls_keep_the_guest_ticking() {
    let pki = pki("mig-sec");
    let (pa, pb) = (free_port(), free_port());
    let pa_tcp = free_port();
    let listen_a = format!("127.0.0.1:{pa_tcp}");
    let Some((a, b, b_tcp)) = tls_pair(
        "migrate-secure",
        &pki,
        [pa, pb],
        &["--listen-tcp", &listen_a],
        &[],
    ) else {
        return;
    };
    let a_tcp = format!("qemu+tcp://{listen_a}/system");
    let logdir = TempDir::new("mig-sec-log");
    let log = define_ticking(&a, "mig", &logdir);
    a.boot("mig");
    assert_consecutive(&wait_ticks(&log, 4, 60));

    // A's daemon opens B over TLS with A's client certificate, B's opens A with B's (the
    // tunnelled migration stream rides inside), virsh itself on TLS to both with its own
    // (client-driven); then the same peer-to-peer moves with the control connection in
    // the clear, and TLS again.
    let (b_tls, a_tls) = (tls_uri(pb, &pki.a), tls_uri(pa, &pki.b));
    let (virsh_a, virsh_b) = (tls_uri(pa, &pki.virsh), tls_uri(pb, &pki.virsh));
    let client_args = ["--live", "mig", &virsh_b, "--migrateuri", "tcp://127.0.0.1"];
    let (a_uri, b_uri) = (a.uri(), b.uri());
    let (ab, ba) = ([&a, &b], [&b, &a]);
    let [tls_p2p, tls_tunnel, client, tcp_p2p, tcp_tunnel, tls_p2p_back] = [
        (
            "p2p over TLS (A -> B)",
            &a_uri,
            p2p_args(&b_tls, false, &[]),
            ab,
        ),
        (
            "p2p tunnelled over TLS (B -> A)",
            &b_uri,
            p2p_args(&a_tls, true, &[]),
            ba,
        ),
        (
            "client-driven, virsh on TLS to both (A -> B)",
            &virsh_a,
            client_args.to_vec(),
            ab,
        ),
        (
            "p2p over TCP (B -> A)",
            &b_uri,
            p2p_args(&a_tcp, false, &[]),
            ba,
        ),
        (
            "p2p tunnelled over TCP (A -> B)",
            &a_uri,
            p2p_args(&b_tcp, true, &[]),
            ab,
        ),
        (
            "p2p over TLS (B -> A)",
            &b_uri,
            p2p_args(&a_tls, false, &[]),
            ba,
        ),
    ]
    .map(|(what, conn, args, [from, to])| moved(what, conn, &args, from, to, &log));
    let all = ticks(&log);
    assert_consecutive(&all);
    eprintln!(
        "wall times (256 MiB TCG guest): p2p TLS {tls_p2p:?} and {tls_p2p_back:?}, p2p TCP \
         {tcp_p2p:?}; tunnelled TLS {tls_tunnel:?}, tunnelled TCP {tcp_tunnel:?}; \
         client-driven TLS {client:?}; {} ticks in all",
        all.len()
    );

    // OXVIRT_MIG_TIMING=N: N more rounds of each mode, there and back, and the medians.
    let rounds: usize = std::env::var("OXVIRT_MIG_TIMING")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let modes = [
        ("p2p TLS", &b_tls, &a_tls, false),
        ("p2p TCP", &b_tcp, &a_tcp, false),
        ("p2p tunnelled TLS", &b_tls, &a_tls, true),
        ("p2p tunnelled TCP", &b_tcp, &a_tcp, true),
    ];
    for (what, to_b, to_a, tunnelled) in modes.into_iter().filter(|_| rounds > 0) {
        let mut took = Vec::new();
        for _ in 0..rounds {
            for (from, to, dest) in [(&a, &b, to_b), (&b, &a, to_a)] {
                let args = p2p_args(dest, tunnelled, &[]);
                took.push(moved(what, &from.uri(), &args, from, to, &log));
            }
        }
        took.sort();
        eprintln!(
            "{what}: median {:?} of {} (min {:?}, max {:?})",
            took[took.len() / 2],
            took.len(),
            took[0],
            took[took.len() - 1]
        );
    }
}

/// A destination whose TLS refuses the source daemon's client certificate (a DN not in its
/// `tls_allowed_dn_list`, or one from another CA): `virsh migrate --p2p` (tunnelled or
/// not) fails with the open's own error, as Debian's libvirtd 9.0 reports it, the source's
/// guest runs on in the same QEMU, the destination keeps nothing and logs whom it refused;
/// a certificate the source itself finds invalid is refused before connecting. With a
/// certificate B allows, the same migration then succeeds.
#[test]
fn a_destination_refusing_the_sources_certificate_leaves_the_guest_running() {
    let pki = pki("mig-sec-ref");
    let (pa, pb) = (free_port(), free_port());
    // B lets in virsh's certificate and B's own, not A's.
    let Some((a, b, _)) = tls_pair(
        "migrate-secure-refused",
        &pki,
        [pa, pb],
        &[],
        &[
            "--log-level",
            "info",
            "--tls-allowed-dn-list",
            "O=oxvirt test,CN=virsh",
            "--tls-allowed-dn-list",
            "O=oxvirt test,CN=node-b",
        ],
    ) else {
        return;
    };
    let (pid, was) = start_mig(&a);

    let confirmation = "Unable to read TLS confirmation: Input/output error";
    let not_allowed = tls_uri(pb, &pki.a);
    let foreign = format!("{}&no_sanity=1", tls_uri(pb, &pki.foreign));
    for (dest, tunnelled) in [
        (&not_allowed, false),
        (&not_allowed, true),
        (&foreign, false),
    ] {
        let (out, _) = virsh_migrate(&a.uri(), &p2p_args(dest, tunnelled, &[]));
        let err = failed(&out);
        assert_open_failed(&err, confirmation);
        assert_untouched(&a, &b, pid, &was);
    }
    // A foreign certificate the source checks itself first (no no_sanity): refused before
    // connecting, in libvirt's words for its own credentials.
    let dest = tls_uri(pb, &pki.foreign);
    let (out, _) = virsh_migrate(&a.uri(), &p2p_args(&dest, false, &[]));
    let err = failed(&out);
    let want = format!(
        "Our own certificate {} failed validation against {}: The certificate hasn't got a \
         known issuer.",
        pki.foreign.join("clientcert.pem").display(),
        pki.foreign.join("cacert.pem").display()
    );
    assert_open_failed(&err, &want);
    assert_untouched(&a, &b, pid, &was);

    // B said whom it refused, and why.
    let log = std::fs::read_to_string(b.base.join("daemon0.log")).unwrap();
    for line in [
        "refused (DN not allowed), DN 'O=oxvirt test,CN=node-a'",
        "refused (unknown CA), DN 'O=oxvirt test,CN=mallory'",
    ] {
        assert!(log.contains(line), "no {line:?} in B's log:\n{log}");
    }

    // With a certificate B lets in, the same migration goes through.
    p2p_ok(&a.uri(), &tls_uri(pb, &pki.virsh), &b);
    assert_state(&a, "mig", "shut off (migrated)");
}

/// The ssh sessions (sshd's per-connection processes, ssh clients, helpers) in `sshd`'s
/// namespace: everything there but the daemons, their QEMUs and the listening sshd.
fn ssh_sessions(sshd: &Sshd) -> Vec<String> {
    sshd.others_in_ns()
        .into_iter()
        .filter(|p| !p.contains("oxvirtd") && !p.contains("qemu-system"))
        .collect()
}

/// Asserts every ssh session in `sshd`'s namespace is gone within 10 s (`when` says after
/// what, if not).
fn assert_sessions_end(sshd: &Sshd, when: &str) {
    let mut left = Vec::new();
    assert!(
        wait_for(10, || {
            left = ssh_sessions(sshd);
            left.is_empty()
        }),
        "{when}: ssh sessions left: {left:?}"
    );
}

/// Peer-to-peer over ssh: both daemons in a network namespace with OpenSSH's sshd (the
/// tests/ssh.rs lab), the source daemon's own `ssh` opening
/// `qemu+ssh://root@127.0.0.1:2222/system?keyfile=K&no_verify=1`, whose session runs our
/// helper as `virt-ssh-helper` into the destination's socket. A ticking guest moves A → B
/// peer-to-peer and back B → A tunnelled (sshd then in front of A), its ticks never skip
/// or repeat, no ssh session is left once a migration is over; then A → B over plain TCP
/// for comparison (wall times printed).
#[test]
fn p2p_and_tunnelled_migrations_over_ssh_keep_the_guest_ticking() {
    let (Some(guest_a), Some(guest_b)) = (guest("migrate-ssh"), guest("migrate-ssh")) else {
        return;
    };
    // Dropped last: killing what runs in the namespace and deleting it.
    let mut sshd = Sshd::new("mig");
    sshd.client_config_for_namespace();
    let tcp_b = format!("127.0.0.1:{}", free_port());
    let a = QemuEnv::start_with(
        "a-migrate-ssh",
        guest_a,
        Some(&sshd.ns),
        &["--host-uuid", UUID_A],
    );
    let b = QemuEnv::start_with(
        "b-migrate-ssh",
        guest_b,
        Some(&sshd.ns),
        &["--host-uuid", UUID_B, "--listen-tcp", &tcp_b],
    );
    sshd.serve(&b.run);
    let logdir = TempDir::new("mig-ssh-log");
    let log = define_ticking(&a, "mig", &logdir);
    a.boot("mig");
    assert_consecutive(&wait_ticks(&log, 4, 60));

    let ssh_uri = sshd.qemu_uri();
    let ssh_p2p = moved(
        "p2p over ssh (A -> B)",
        &a.uri(),
        &p2p_args(&ssh_uri, false, &[]),
        &a,
        &b,
        &log,
    );
    assert_sessions_end(&sshd, "after the migration");
    let sessions = sshd.sshd_log.lock().unwrap().join("\n");
    assert!(
        sessions.contains("Accepted publickey for root from 127.0.0.1"),
        "{sessions}"
    );

    // sshd in front of A now; B's daemon tunnels the migration stream through ssh.
    sshd.stop_sshd();
    sshd.serve(&a.run);
    // A key sshd does not know: ssh's words inside libvirt's; B's guest runs on.
    let wrong = ssh_uri.replace("client_key", "other_key");
    let (out, _) = virsh_migrate(&b.uri(), &p2p_args(&wrong, true, &[]));
    let err = failed(&out);
    assert_open_failed(
        &err,
        "Cannot recv data: root@127.0.0.1: Permission denied (publickey).: Connection reset \
         by peer",
    );
    assert_state(&b, "mig", "running (migrated)");
    assert_state(&a, "mig", "shut off (migrated)");
    assert_sessions_end(&sshd, "after the failed migration");
    let ssh_tunnel = moved(
        "p2p tunnelled over ssh (B -> A)",
        &b.uri(),
        &p2p_args(&ssh_uri, true, &[]),
        &b,
        &a,
        &log,
    );
    assert_sessions_end(&sshd, "after the migration");

    // The same move with the control connection in the clear, for comparison.
    let tcp_p2p = moved(
        "p2p over TCP (A -> B)",
        &a.uri(),
        &p2p_args(&format!("qemu+tcp://{tcp_b}/system"), false, &[]),
        &a,
        &b,
        &log,
    );
    assert_consecutive(&ticks(&log));
    eprintln!(
        "wall times (256 MiB TCG guest): p2p ssh {ssh_p2p:?}, tunnelled ssh {ssh_tunnel:?}, \
         p2p TCP {tcp_p2p:?}"
    );
    drop((a, b));
}

/// Over TLS as over TCP, a destination that stops answering is given up by the source's
/// keepalive (here 1 s, 2 probes): one that accepts the TCP connection and never starts
/// its TLS handshake fails the open with libvirt's keepalive error, one that goes silent
/// (SIGSTOP) mid-transfer of a 1 MiB/s migration fails it with "Lost connection to
/// destination host", peer-to-peer and tunnelled; the source's guest runs on in the same
/// QEMU, and B, running again, keeps nothing. Then the same migration goes through.
#[test]
fn a_tls_destination_that_goes_silent_is_given_up_and_the_guest_runs_on() {
    let pki = pki("mig-sec-stop");
    let (pa, pb) = (free_port(), free_port());
    let quick = ["--keepalive-interval", "1", "--keepalive-count", "2"];
    let Some((a, b, _)) = tls_pair("migrate-secure-silent", &pki, [pa, pb], &quick, &[]) else {
        return;
    };
    let (pid, was) = start_mig(&a);

    // Accepts and holds every connection, reading nothing, answering nothing.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent = tls_uri(listener.local_addr().unwrap().port(), &pki.a);
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming() {
            held.push(conn);
        }
    });
    let dest = tls_uri(pb, &pki.a);
    for tunnelled in [false, true] {
        let (out, _) = virsh_migrate(&a.uri(), &p2p_args(&silent, tunnelled, &[]));
        let err = failed(&out);
        assert_open_failed(
            &err,
            "internal error: connection closed due to keepalive timeout",
        );
        assert_eq!(a.domstate("mig"), was);

        let slow = p2p_args(&dest, tunnelled, &["--bandwidth", "1"]);
        let child = common::migrate::spawn_migrate("virsh", &a, &slow);
        common::migrate::wait_migrating(&a, "mig");
        signal(b.daemon_pid(), "-STOP");
        let out = child.wait_with_output();
        signal(b.daemon_pid(), "-CONT");
        let err = failed(&out.unwrap());
        assert!(
            err.contains("error: operation failed: Lost connection to destination host"),
            "tunnelled {tunnelled}: {err}"
        );
        assert!(wait_for(30, || names(&b).is_empty()), "B kept the domain");
        assert_untouched(&a, &b, pid, &was);
    }
    p2p_ok(&a.uri(), &dest, &b);
}

/// Over ssh, a destination daemon that goes silent (SIGSTOP) mid-transfer of a 1 MiB/s
/// migration, peer-to-peer and tunnelled: the source's keepalive (1 s, 2 probes) gives it
/// up through the ssh session, fails with "Lost connection to destination host", and its
/// ssh client is gone (killed and reaped); the guest runs on in the same QEMU; B, running
/// again, keeps nothing; then the same migration goes through.
#[test]
fn a_ssh_destination_that_goes_silent_is_given_up_and_the_guest_runs_on() {
    let (Some(guest_a), Some(guest_b)) = (guest("migrate-ssh-stop"), guest("migrate-ssh-stop"))
    else {
        return;
    };
    let mut sshd = Sshd::new("migstop");
    sshd.client_config_for_namespace();
    let a = QemuEnv::start_with(
        "a-migrate-ssh-stop",
        guest_a,
        Some(&sshd.ns),
        &[
            "--host-uuid",
            UUID_A,
            "--keepalive-interval",
            "1",
            "--keepalive-count",
            "2",
        ],
    );
    let b = QemuEnv::start_with(
        "b-migrate-ssh-stop",
        guest_b,
        Some(&sshd.ns),
        &["--host-uuid", UUID_B],
    );
    sshd.serve(&b.run);
    let (pid, was) = start_mig(&a);
    let dest = sshd.qemu_uri();
    let mut left = Vec::new();
    for tunnelled in [false, true] {
        let args = p2p_args(&dest, tunnelled, &["--bandwidth", "1"]);
        let child = common::migrate::spawn_migrate("virsh", &a, &args);
        common::migrate::wait_migrating(&a, "mig");
        signal(b.daemon_pid(), "-STOP");
        let out = child.wait_with_output();
        // The source's ssh client is gone while B is still stopped.
        let sessions_gone = wait_for(10, || {
            left = ssh_sessions(&sshd)
                .into_iter()
                .filter(|p| p.contains(": ssh "))
                .collect();
            left.is_empty()
        });
        signal(b.daemon_pid(), "-CONT");
        let err = failed(&out.unwrap());
        assert!(
            err.contains("error: operation failed: Lost connection to destination host"),
            "tunnelled {tunnelled}: {err}"
        );
        assert!(
            sessions_gone,
            "tunnelled {tunnelled}: the source's ssh is left: {left:?}"
        );
        assert!(wait_for(30, || names(&b).is_empty()), "B kept the domain");
        assert_untouched(&a, &b, pid, &was);
        assert_sessions_end(&sshd, &format!("tunnelled {tunnelled}"));
    }
    p2p_ok(&a.uri(), &dest, &b);
    drop((a, b));
}

/// The destination's access policy decides by the source daemon's certificate: B lets
/// CN=virsh connect and look, CN=node-a do anything. A peer-to-peer migration whose source
/// presents CN=virsh (tunnelled or not) is refused at the prepare phase with libvirt's
/// "access denied: 'QEMU' denied access", logged by B with the DN and the procedure; the
/// source's guest runs on in the same QEMU and B keeps nothing. With A's own certificate
/// the same migration goes through.
#[test]
fn the_destinations_access_policy_decides_by_the_sources_certificate() {
    let pki = pki("mig-sec-acl");
    let policy = acl_policy(&pki);
    let (pa, pb) = (free_port(), free_port());
    let Some((a, b, _)) = tls_pair(
        "migrate-secure-acl",
        &pki,
        [pa, pb],
        &[],
        &["--access-policy", policy.to_str().unwrap()],
    ) else {
        return;
    };
    let (pid, was) = start_mig(&a);
    let looker = tls_uri(pb, &pki.virsh);
    for tunnelled in [false, true] {
        let (out, _) = virsh_migrate(&a.uri(), &p2p_args(&looker, tunnelled, &[]));
        let err = failed(&out);
        assert!(
            err.contains("error: access denied: 'QEMU' denied access"),
            "tunnelled {tunnelled}: {err}"
        );
        assert_untouched(&a, &b, pid, &was);
    }
    let log = std::fs::read_to_string(b.base.join("daemon0.log")).unwrap();
    for procedure in ["MIGRATE_PREPARE3_PARAMS", "MIGRATE_PREPARE_TUNNEL3_PARAMS"] {
        assert!(
            log.lines().any(|l| l.contains("access denied")
                && l.contains("x509_dn='O=oxvirt test,CN=virsh'")
                && l.contains(procedure)),
            "no denial of {procedure} for CN=virsh in B's log:\n{log}"
        );
    }

    p2p_ok(&a.uri(), &tls_uri(pb, &pki.a), &b);
}

/// Debian's libvirtd 9.0 on private directories: a mount namespace of its own with tmpfs
/// over the directories it keeps state in (so it is not the machine's libvirtd, and
/// leaves nothing behind), its sockets in the test's directory. Enough to define domains
/// and run offline peer-to-peer migrations as a source; killed on drop.
struct PrivateLibvirtd {
    child: std::process::Child,
    dir: TempDir,
}

impl PrivateLibvirtd {
    fn start(tag: &str) -> PrivateLibvirtd {
        PrivateLibvirtd::start_with(tag, "", &[])
    }

    /// [`PrivateLibvirtd::start`] with more libvirtd.conf lines and flags (`--listen`).
    fn start_with(tag: &str, conf: &str, flags: &[&str]) -> PrivateLibvirtd {
        assert!(
            Path::new("/usr/sbin/libvirtd").exists() && Path::new("/usr/bin/unshare").exists(),
            "this test needs Debian's libvirtd (package libvirt-daemon-system) and unshare \
             (util-linux)"
        );
        let dir = TempDir::new(tag);
        let d = |f: &str| dir.join(f).display().to_string();
        std::fs::create_dir_all(dir.join("sock")).unwrap();
        std::fs::write(
            dir.join("libvirtd.conf"),
            format!(
                "unix_sock_dir = \"{}\"\nunix_sock_rw_perms = \"0600\"\nauth_unix_rw = \
                 \"none\"\nauth_unix_ro = \"none\"\nlog_outputs = \"3:stderr\"\n{conf}",
                d("sock")
            ),
        )
        .unwrap();
        let script = format!(
            "set -e\n\
             for m in /run/libvirt /var/lib/libvirt /etc/libvirt/qemu /etc/libvirt/storage \
               /var/cache/libvirt /var/log/libvirt; do \
               mkdir -p $m; mount -t tmpfs oxvirt-mig $m; done\n\
             exec libvirtd -f {} -p {} {}\n",
            d("libvirtd.conf"),
            d("libvirtd.pid"),
            flags.join(" ")
        );
        let child = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c", &script])
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(dir.join("libvirtd.log")).unwrap())
            .spawn()
            .unwrap();
        let mut lv = PrivateLibvirtd { child, dir };
        let sock = lv.dir.join("sock/libvirt-sock");
        let until = Instant::now() + Duration::from_secs(30);
        while std::os::unix::net::UnixStream::connect(&sock).is_err() {
            if let Ok(Some(status)) = lv.child.try_wait() {
                panic!("libvirtd exited ({status}): {}", lv.log());
            }
            assert!(
                Instant::now() < until,
                "libvirtd did not start: {}",
                lv.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        lv
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("libvirtd.log")).unwrap_or_default()
    }

    fn uri(&self) -> String {
        format!(
            "qemu+unix:///system?socket={}",
            self.dir.join("sock/libvirt-sock").display()
        )
    }
}

impl Drop for PrivateLibvirtd {
    fn drop(&mut self) {
        // `unshare` and `sh` exec'd libvirtd: the child is libvirtd itself.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let until = Instant::now() + Duration::from_secs(10);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `virsh -c CONN ARGS` (stopped after 60 s), asserted to succeed.
fn virsh_ok(conn: &str, args: &[&str]) -> String {
    let out = Command::new("timeout")
        .args(["60", "virsh", "-c", conn])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "virsh {args:?}: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Debian's libvirtd 9.0 and oxvirtd as sources of the same offline peer-to-peer
/// migrations into an oxvirtd listening with TLS (the source presenting the client
/// certificate of the URI's `pkipath`): libvirtd's GnuTLS client reaches oxvirtd's TLS and
/// moves its definition there as oxvirtd's does, and both sources fail in the same words
/// when B refuses the certificate (DN not allowed), when B's policy refuses the
/// migration, and when nobody listens.
#[test]
fn debians_libvirtd_and_oxvirtd_as_p2p_sources_over_tls_say_the_same() {
    let pki = pki("mig-sec-lv");
    let policy = acl_policy(&pki);
    let (pa, pb) = (free_port(), free_port());
    let Some((ox, b, _)) = tls_pair(
        "migrate-secure-libvirtd",
        &pki,
        [pa, pb],
        &[],
        &[
            "--access-policy",
            policy.to_str().unwrap(),
            "--tls-allowed-dn-list",
            "O=oxvirt test,CN=node-a",
            "--tls-allowed-dn-list",
            "O=oxvirt test,CN=virsh",
        ],
    ) else {
        return;
    };
    let lv = PrivateLibvirtd::start("mig-sec-libvirtd");
    // The same definition on both sources (B may hold one of each name).
    for (src, name) in [(lv.uri(), "lv-mig"), (ox.uri(), "ox-mig")] {
        let file = ox.base.join(format!("{name}.xml"));
        std::fs::write(&file, ox.domain_xml(name, "", "")).unwrap();
        virsh_ok(&src, &["define", file.to_str().unwrap()]);
    }
    let offline = |src: &str, name: &str, dest: &str| -> String {
        let (out, _) = virsh_migrate(src, &["--offline", "--persistent", "--p2p", name, dest]);
        if out.status.success() {
            return "ok".into();
        }
        failed(&out);
        String::from_utf8_lossy(&out.stderr).trim().to_owned()
    };
    let nobody = format!(
        "qemu+tls://127.0.0.9:{}/system?pkipath={}",
        free_port(),
        pki.a.display()
    );
    let cases = [
        ("DN not allowed", tls_uri(pb, &pki.b)),
        ("access policy", tls_uri(pb, &pki.virsh)),
        ("nobody listens", nobody),
        ("allowed", tls_uri(pb, &pki.a)),
    ];
    for (what, dest) in &cases {
        let theirs = offline(&lv.uri(), "lv-mig", dest);
        let ours = offline(&ox.uri(), "ox-mig", dest);
        eprintln!("{what}: {theirs}");
        assert_eq!(ours, theirs, "{what}: oxvirtd's source against libvirtd's");
    }
    assert_eq!(
        offline(&lv.uri(), "lv-mig", &cases[0].1),
        "error: Unable to read TLS confirmation: Input/output error"
    );
    let defined = b.virsh_ok(&["list", "--all", "--persistent", "--name"]);
    for name in ["lv-mig", "ox-mig"] {
        assert!(defined.lines().any(|l| l.trim() == name), "{defined}");
    }
}

/// The other way: oxvirtd as the source of offline peer-to-peer migrations into Debian's
/// libvirtd 9.0 listening with TLS (GnuTLS, its `tls_allowed_dn_list` naming A's
/// certificate): our rustls client with A's certificate moves the definition there; with a
/// certificate libvirtd refuses, oxvirtd's source fails in the words virsh's client gets
/// from that libvirtd, and the definition stays.
#[test]
fn oxvirtd_as_p2p_source_into_debians_libvirtd_over_tls() {
    let pki = pki("mig-sec-tolv");
    let Some(g) = guest("migrate-secure-to-libvirtd") else {
        return;
    };
    let ox = QemuEnv::start_with("migrate-secure-tolv", g, None, &["--host-uuid", UUID_A]);
    let port = free_port();
    let f = |name: &str| pki.b.join(name).display().to_string();
    let lv = PrivateLibvirtd::start_with(
        "mig-sec-tolv-lv",
        &format!(
            "listen_tls = 1\nlisten_tcp = 0\nlisten_addr = \"127.0.0.1\"\ntls_port = \"{port}\"\n\
             ca_file = \"{}\"\ncert_file = \"{}\"\nkey_file = \"{}\"\n\
             tls_allowed_dn_list = [\"O=oxvirt test,CN=node-a\"]\n",
            f("cacert.pem"),
            f("servercert.pem"),
            f("serverkey.pem")
        ),
        &["--listen"],
    );
    let until = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < until,
            "libvirtd does not listen: {}",
            lv.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    ox.define("mig", "");
    let refused_uri = tls_uri(port, &pki.virsh);
    let out = Command::new("timeout")
        .args(["60", "virsh", "-c", &refused_uri, "list"])
        .output()
        .unwrap();
    let virsh_says = String::from_utf8_lossy(&out.stderr).into_owned();
    let want = "error: Unable to read TLS confirmation: Input/output error";
    assert!(virsh_says.lines().any(|l| l == want), "{virsh_says}");
    let (out, _) = virsh_migrate(
        &ox.uri(),
        &["--offline", "--persistent", "--p2p", "mig", &refused_uri],
    );
    let err = failed(&out);
    assert_eq!(String::from_utf8_lossy(&out.stderr).trim(), want, "{err}");
    assert!(!virsh_ok(&lv.uri(), &["list", "--all", "--name"]).contains("mig"));

    let (out, took) = virsh_migrate(
        &ox.uri(),
        &[
            "--offline",
            "--persistent",
            "--p2p",
            "mig",
            &tls_uri(port, &pki.a),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    eprintln!("offline p2p into libvirtd over TLS: {took:?}");
    let there = virsh_ok(&lv.uri(), &["list", "--all", "--persistent", "--name"]);
    assert!(there.lines().any(|l| l.trim() == "mig"), "{there}");
    let _ = virsh_ok(&lv.uri(), &["undefine", "mig"]);
}
