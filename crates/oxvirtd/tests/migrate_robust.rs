//! Live migration against destinations that stop answering, and the source's migration
//! job guarding the domain (`VIR_MIGRATE_CHANGE_PROTECTION`), with Debian's unchanged
//! virsh and two oxvirtd daemons (real TCG guests).
//!
//! The source daemon runs with `--keepalive-interval 1 --keepalive-count 2`: its
//! connection to a peer-to-peer destination keeps alive with its own keepalive settings
//! (libvirt's QEMU driver uses qemu.conf's `keepalive_interval` / `keepalive_count`, 5
//! and 5, there), so a silent destination is given up after about 3 s here.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::migrate::{assert_failed_cleanly, failed, pair_with, text};
use common::qemu::QemuEnv;

const UUID_A: &str = "6c0b7a52-1d3e-4f8a-9b21-5e7d4c3a2f21";
const UUID_B: &str = "6c0b7a52-1d3e-4f8a-9b21-5e7d4c3a2f22";

/// The source (A, quick keepalive), the destination (B) and B's `qemu+tcp` URI; `None`
/// when skipped.
fn pair(test: &str) -> Option<(QemuEnv, QemuEnv, String)> {
    let quick = ["--keepalive-interval", "1", "--keepalive-count", "2"];
    pair_with(test, [UUID_A, UUID_B], &quick, &[])
}

/// `virsh -c A migrate --live ARGS NAME DEST` (with `--migrateuri tcp://127.0.0.1` unless
/// tunnelled; stopped after 120 s), started.
fn spawn_migrate(a: &QemuEnv, name: &str, dest: &str, more: &[&str]) -> Child {
    let mut cmd = Command::new("timeout");
    cmd.args(["120", "virsh", "-c", &a.uri(), "migrate", "--live"])
        .args(more)
        .args([name, dest]);
    if !more.contains(&"--tunnelled") {
        cmd.args(["--migrateuri", "tcp://127.0.0.1"]);
    }
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until `name`'s outgoing migration runs on `src` (`domjobinfo` shows it).
fn wait_migrating(src: &QemuEnv, name: &str) {
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let info = src.virsh_ok(&["domjobinfo", name]);
        if info.contains("Unbounded") && info.contains("Memory processed") {
            return;
        }
        assert!(Instant::now() < until, "no migration job: {info}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Sends `signal` to process `pid`.
fn signal(pid: u32, signal: &str) {
    let sent = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .unwrap();
    assert!(sent.success(), "kill {signal} {pid}");
}

/// A "destination" that accepts TCP connections and never says a word (a daemon hung
/// before its handshake): the source daemon's open of it is bounded as keepalive would
/// bound a call, so `virsh migrate --p2p` (and `--p2p --tunnelled`) fails with the
/// keepalive error instead of hanging; the source runs on, B keeps nothing.
#[test]
fn a_p2p_destination_that_never_answers_fails_with_the_keepalive_error() {
    let Some((a, b, _)) = pair("mig-silent") else {
        return;
    };
    a.define("mig", "");
    a.virsh_ok(&["start", "mig"]);
    let was = a.domstate("mig");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent = format!(
        "qemu+tcp://127.0.0.1:{}/system",
        listener.local_addr().unwrap().port()
    );
    // Accepts and holds every connection, reading nothing, answering nothing.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming() {
            held.push(conn);
        }
    });
    for mode in [&["--p2p"][..], &["--p2p", "--tunnelled"]] {
        let out = spawn_migrate(&a, "mig", &silent, mode)
            .wait_with_output()
            .unwrap();
        let err = failed(&out);
        eprintln!("{mode:?}: {err}");
        let want = format!(
            "error: operation failed: Failed to connect to remote libvirt URI {silent}: \
             internal error: connection closed due to keepalive timeout"
        );
        assert!(err.contains(&want), "{mode:?}: {err}");
        assert_failed_cleanly(&a, &b, "mig", &was);
    }
}

/// A destination daemon that answers the handshake, then goes silent mid-transfer
/// (SIGSTOP during a 1 MiB/s peer-to-peer migration): the source's keepalive gives it up,
/// the source aborts its QEMU's migration and fails with libvirt's "Lost connection to
/// destination host"; the source runs on. Once B runs again (SIGCONT) it keeps nothing.
#[test]
fn a_p2p_destination_that_goes_silent_mid_transfer_is_given_up() {
    let Some((a, b, dest)) = pair("mig-stopped") else {
        return;
    };
    a.define("mig", "");
    a.virsh_ok(&["start", "mig"]);
    let was = a.domstate("mig");
    for mode in [&["--p2p"][..], &["--p2p", "--tunnelled"]] {
        let mut more = vec!["--bandwidth", "1"];
        more.extend_from_slice(mode);
        let child = spawn_migrate(&a, "mig", &dest, &more);
        wait_migrating(&a, "mig");
        signal(b.daemon_pid(), "-STOP");
        let out = child.wait_with_output();
        signal(b.daemon_pid(), "-CONT");
        let out = out.unwrap();
        let err = failed(&out);
        eprintln!("{mode:?}: {err}");
        assert!(
            err.contains("error: operation failed: Lost connection to destination host"),
            "{mode:?}: {err}"
        );
        assert_failed_cleanly(&a, &b, "mig", &was);
    }
    // B answers again: the same migration goes through.
    let out = spawn_migrate(&a, "mig", &dest, &["--p2p"])
        .wait_with_output()
        .unwrap();
    assert!(out.status.success(), "virsh migrate failed: {}", text(&out));
}
