//! Tunnelled live migration between two oxvirtd daemons with Debian's unchanged virsh:
//! `virsh migrate --live --p2p --tunnelled NAME qemu+tcp://DEST/system`. The source daemon
//! drives the destination (peer-to-peer) and QEMU's migration stream travels inside that
//! RPC connection, as the stream of `virDomainMigratePrepareTunnel3Params` (procedure
//! 304). Each daemon has its own directories and host UUID and listens on TCP (loopback).

#![allow(clippy::unwrap_used)]

mod common;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::free_port;
use common::migrate::{names, pair_with, text};
use common::qemu::QemuEnv;

const UUID_A: &str = "6c0b7a52-1d3e-4f8a-9b21-5e7d4c3a2f11";
const UUID_B: &str = "6c0b7a52-1d3e-4f8a-9b21-5e7d4c3a2f12";

/// A node: its daemon and its `qemu+tcp` URI.
struct Node {
    env: QemuEnv,
    tcp: String,
}

/// Two nodes, A and B, both on TCP (each a destination in turn); `None` when skipped (no
/// QEMU or guest image).
fn pair(test: &str) -> Option<(Node, Node)> {
    let listen = format!("127.0.0.1:{}", free_port());
    let (a, b, b_tcp) = pair_with(test, [UUID_A, UUID_B], &["--listen-tcp", &listen], &[])?;
    Some((
        Node {
            env: a,
            tcp: format!("qemu+tcp://{listen}/system"),
        },
        Node { env: b, tcp: b_tcp },
    ))
}

/// `virsh -c SRC migrate --live --p2p --tunnelled [MORE] NAME DEST`.
fn tunnelled_cmd(src: &Node, name: &str, dest: &Node, more: &[&str]) -> Command {
    let mut cmd = Command::new("timeout");
    cmd.args(["120", "virsh", "-c", &src.env.uri(), "migrate", "--live"])
        .args(["--p2p", "--tunnelled"])
        .args(more)
        .args([name, &dest.tcp]);
    cmd
}

/// Runs [`tunnelled_cmd`]; its output and how long it took end to end.
fn tunnelled(src: &Node, name: &str, dest: &Node, more: &[&str]) -> (Output, Duration) {
    let start = Instant::now();
    let out = tunnelled_cmd(src, name, dest, more).output().unwrap();
    (out, start.elapsed())
}

fn assert_running(env: &QemuEnv, name: &str) {
    let state = env.domstate(name);
    assert!(state.starts_with("running"), "{name}: {state}");
}

/// The guest still answers its power button on `env` (and powers off).
fn assert_guest_alive(env: &QemuEnv, name: &str) {
    env.virsh_ok(&["shutdown", name]);
    assert_eq!(
        env.wait_state(name, "shut off (shutdown)", 60),
        "shut off (shutdown)"
    );
}

#[test]
fn tunnelled_migration_moves_a_booted_guest_there_and_back() {
    let Some((a, b)) = pair("tunnel-live") else {
        return;
    };
    a.env.define("mig", "");
    a.env.boot("mig");

    let (out, took) = tunnelled(&a, "mig", &b, &["--persistent", "--verbose"]);
    assert!(
        out.status.success(),
        "virsh migrate --p2p --tunnelled A->B failed: {}",
        text(&out)
    );
    eprintln!("virsh migrate --live --p2p --tunnelled A->B (256 MiB TCG guest) took {took:?}");
    assert!(
        text(&out).contains("Migration: [100 %]"),
        "no progress: {}",
        text(&out)
    );
    assert_eq!(b.env.domstate("mig"), "running (migrated)");
    assert_eq!(a.env.domstate("mig"), "shut off (migrated)");
    // The destination knows the completed job from the source's cookie.
    let job = b.env.virsh_ok(&["domjobinfo", "--completed", "mig"]);
    for want in ["Operation:        Incoming migration", "Total downtime:"] {
        assert!(job.contains(want), "no {want:?} in B's job: {job}");
    }

    let (out, took) = tunnelled(&b, "mig", &a, &["--persistent"]);
    assert!(
        out.status.success(),
        "virsh migrate --p2p --tunnelled B->A failed: {}",
        text(&out)
    );
    eprintln!("virsh migrate --live --p2p --tunnelled B->A (256 MiB TCG guest) took {took:?}");
    assert_eq!(a.env.domstate("mig"), "running (migrated)");
    assert_eq!(b.env.domstate("mig"), "shut off (migrated)");
    assert!(
        b.env.wait_no_leftovers(30).is_empty(),
        "a QEMU is left on B"
    );
    assert_guest_alive(&a.env, "mig");
}

#[test]
fn tunnelled_needs_peer_to_peer_and_takes_no_migration_uri() {
    let Some((a, b)) = pair("tunnel-flags") else {
        return;
    };
    a.env.define("mig", "");
    a.env.virsh_ok(&["start", "mig"]);
    // virsh's libvirt refuses it before any call, with libvirt's words.
    let err = a
        .env
        .virsh_err(&["migrate", "--live", "--tunnelled", "mig", &b.tcp]);
    assert!(
        err.contains("cannot perform tunnelled migration without using peer2peer flag"),
        "{err}"
    );
    // The source daemon refuses a migration URI for a tunnel.
    let (out, _) = tunnelled(&a, "mig", &b, &["--migrateuri", "tcp://127.0.0.1"]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("migration URI is not supported by tunnelled migration"),
        "{}",
        text(&out)
    );
    assert_running(&a.env, "mig");
    assert!(names(&b.env).is_empty(), "{:?}", names(&b.env));
}

#[test]
fn a_tunnelled_migration_to_a_node_running_that_domain_fails_and_the_source_runs_on() {
    let Some((a, b)) = pair("tunnel-busy") else {
        return;
    };
    a.env.define("mig", "");
    a.env.virsh_ok(&["start", "mig"]);
    let xml = a.env.virsh_ok(&["dumpxml", "--inactive", "mig"]);
    b.env.define_xml("mig", &xml);
    b.env.virsh_ok(&["start", "mig"]);
    let (out, _) = tunnelled(&a, "mig", &b, &[]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out)
            .contains("error: Requested operation is not valid: domain 'mig' is already active"),
        "{}",
        text(&out)
    );
    assert_running(&a.env, "mig");
    assert_running(&b.env, "mig");
    assert_eq!(names(&b.env), ["mig"]);
}

#[test]
fn a_tunnel_broken_mid_way_leaves_the_source_running_and_the_destination_clean() {
    let Some((a, b)) = pair("tunnel-broken") else {
        return;
    };
    a.env.define("mig", "");
    a.env.boot("mig");
    // 1 MiB/s: the migration takes long enough to be broken.
    let child = tunnelled_cmd(&a, "mig", &b, &["--bandwidth", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(30);
    while names(&b.env) != ["mig"] || !b.env.domstate("mig").starts_with("paused") {
        assert!(
            Instant::now() < until,
            "B is not prepared: {:?}",
            names(&b.env)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Let some of the stream through, then the destination's QEMU dies.
    std::thread::sleep(Duration::from_millis(500));
    let pid = b.env.qemu_pid("mig");
    Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        !out.status.success(),
        "virsh migrate succeeded: {}",
        text(&out)
    );
    eprintln!("broken tunnel reported as: {}", text(&out).trim());
    // The destination's side of the stream says why.
    assert!(
        text(&out).contains("cannot write to stream: Broken pipe"),
        "{}",
        text(&out)
    );
    assert_running(&a.env, "mig");
    let until = Instant::now() + Duration::from_secs(30);
    while !names(&b.env).is_empty() {
        assert!(Instant::now() < until, "B kept {:?}", names(&b.env));
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        b.env.wait_no_leftovers(30).is_empty(),
        "a QEMU is left on B"
    );
    assert!(a.env.leftover_processes().len() == 1, "A runs one QEMU");
    assert_guest_alive(&a.env, "mig");
}

#[test]
fn an_aborted_tunnelled_migration_leaves_the_source_running_and_the_destination_clean() {
    let Some((a, b)) = pair("tunnel-abort") else {
        return;
    };
    a.env.define("mig", "");
    a.env.boot("mig");
    let child = tunnelled_cmd(&a, "mig", &b, &["--bandwidth", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let info = a.env.virsh_ok(&["domjobinfo", "mig"]);
        if info.contains("Unbounded") && names(&b.env) == ["mig"] {
            break;
        }
        assert!(Instant::now() < until, "no migration job: {info}");
        std::thread::sleep(Duration::from_millis(100));
    }
    a.env.virsh_ok(&["domjobabort", "mig"]);
    let out = child.wait_with_output().unwrap();
    assert!(
        !out.status.success(),
        "virsh migrate succeeded: {}",
        text(&out)
    );
    assert!(
        text(&out).contains("operation aborted: migration out job: canceled by client"),
        "{}",
        text(&out)
    );
    assert_running(&a.env, "mig");
    let until = Instant::now() + Duration::from_secs(30);
    while !names(&b.env).is_empty() {
        assert!(Instant::now() < until, "B kept {:?}", names(&b.env));
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        b.env.wait_no_leftovers(30).is_empty(),
        "a QEMU is left on B"
    );
    assert_guest_alive(&a.env, "mig");
}

#[test]
fn a_destination_daemon_dying_mid_way_leaves_the_source_running() {
    let Some((a, mut b)) = pair("tunnel-dies") else {
        return;
    };
    a.env.define("mig", "");
    a.env.boot("mig");
    let child = tunnelled_cmd(&a, "mig", &b, &["--bandwidth", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(30);
    while names(&b.env) != ["mig"] || !b.env.domstate("mig").starts_with("paused") {
        assert!(Instant::now() < until, "B is not prepared");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
    // The connection the stream travels in goes with the daemon.
    b.env.kill_daemon();
    let out = child.wait_with_output().unwrap();
    assert!(
        !out.status.success(),
        "virsh migrate succeeded: {}",
        text(&out)
    );
    assert!(
        text(&out).contains("error: operation failed: Lost connection to destination host"),
        "{}",
        text(&out)
    );
    assert_running(&a.env, "mig");
    assert_guest_alive(&a.env, "mig");
}
