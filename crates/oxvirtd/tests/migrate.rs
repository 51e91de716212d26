//! Live migration between two oxvirtd daemons on this machine with Debian's unchanged
//! `virsh migrate` (client-driven: libvirt's migration protocol version 3 with typed
//! parameters, procedures 302-307). Each daemon has its own directories and host UUID;
//! the destination also listens on TCP (loopback) for the client.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::BufRead;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::migrate::{
    assert_clean, assert_consecutive, assert_failed_cleanly, assert_only_on, assert_state,
    define_ticking, failed, names, text, ticks, wait_ticks,
};
use common::qemu::{guest, QemuEnv};
use common::{free_port, Daemon, Raw, TempDir, PYTHON};
use oxvirt_rpc::remote::{ConnectOpenArgs, ConnectSupportsFeatureArgs, ConnectSupportsFeatureRet};
use oxvirt_rpc::xdr::decode_from;
use oxvirt_rpc::MessageStatus;

const UUID_A: &str = "6c0b7a52-1d3e-4f8a-9b21-5e7d4c3a2f01";
const UUID_B: &str = "6c0b7a52-1d3e-4f8a-9b21-5e7d4c3a2f02";

/// The source (A), the destination (B) and B's `qemu+tcp` URI; `None` when skipped.
fn pair(test: &str) -> Option<(QemuEnv, QemuEnv, String)> {
    common::migrate::pair(test, [UUID_A, UUID_B], &[])
}

/// `virsh -c A migrate --live --verbose NAME DEST --migrateuri tcp://127.0.0.1`, and how
/// long it took.
fn migrate(a: &QemuEnv, name: &str, dest: &str) -> (Output, Duration) {
    migrate_with(a, name, dest, &[])
}

/// [`migrate`] with more options.
fn migrate_with(a: &QemuEnv, name: &str, dest: &str, more: &[&str]) -> (Output, Duration) {
    let start = Instant::now();
    let out = migrate_cmd(a, name, dest, more).output().unwrap();
    (out, start.elapsed())
}

fn migrate_cmd(a: &QemuEnv, name: &str, dest: &str, more: &[&str]) -> Command {
    let mut cmd = Command::new("timeout");
    cmd.args(["120", "virsh", "-c", &a.uri(), "migrate", "--live"])
        .arg("--verbose")
        .args(more)
        .args([name, dest, "--migrateuri", "tcp://127.0.0.1"]);
    cmd
}

/// `virsh -c SRC migrate ARGS` (stopped after 120 s).
fn virsh_migrate(src: &QemuEnv, args: &[&str]) -> Output {
    common::migrate::virsh_migrate(src, args).0
}

#[test]
fn virsh_migrate_live_moves_a_running_guest() {
    let Some((a, b, dest)) = pair("migrate-live") else {
        return;
    };
    a.define("mig", "");
    a.boot("mig");
    let (out, took) = migrate(&a, "mig", &dest);
    assert!(out.status.success(), "virsh migrate failed: {}", text(&out));
    eprintln!("virsh migrate --live (256 MiB TCG guest) took {took:?}");
    assert!(
        text(&out).contains("Migration: [100 %]"),
        "no progress: {}",
        text(&out)
    );

    // The destination runs it, the source shut it off for reason migrated.
    assert_state(&b, "mig", "running (migrated)");
    assert_state(&a, "mig", "shut off (migrated)");

    // Both ends keep the completed job (the destination from the source's cookie); it is
    // gone once read.
    let downtime = |job: &str| -> u64 {
        let line = job
            .lines()
            .find(|l| l.starts_with("Total downtime:"))
            .unwrap_or_else(|| panic!("no downtime in {job}"));
        line.trim_start_matches("Total downtime:")
            .trim()
            .trim_end_matches("ms")
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{line}"))
    };
    let job_b = b.virsh_ok(&["domjobinfo", "--completed", "mig"]);
    for want in [
        "Job type:         Completed",
        "Operation:        Incoming migration",
        "Memory processed:",
    ] {
        assert!(job_b.contains(want), "no {want:?} in B's job: {job_b}");
    }
    let job_a = a.virsh_ok(&["domjobinfo", "--completed", "mig"]);
    for want in [
        "Job type:         Completed",
        "Operation:        Outgoing migration",
    ] {
        assert!(job_a.contains(want), "no {want:?} in A's job: {job_a}");
    }
    // A's is QEMU's (pause to end of transfer); B's runs on to the guest's resumption
    // there, as libvirt's destination counts it.
    let (down_a, down_b) = (downtime(&job_a), downtime(&job_b));
    eprintln!("downtime: {down_a} ms at the source (QEMU's), {down_b} ms as the guest saw it");
    assert!(
        down_b >= down_a,
        "B's downtime {down_b} ms < A's {down_a} ms"
    );
    let job = b.virsh_ok(&["domjobinfo", "--completed", "mig"]);
    assert!(job.contains("Job type:         None"), "{job}");

    // The guest still works there: the power button powers it off (the transient domain
    // then goes away).
    b.virsh_ok(&["shutdown", "mig"]);
    wait_gone(&b, "mig");
}

#[test]
fn migration_to_a_host_running_that_domain_fails_and_the_source_keeps_running() {
    let Some((a, b, dest)) = pair("migrate-busy") else {
        return;
    };
    a.define("mig", "");
    a.virsh_ok(&["start", "mig"]);
    // The same definition (name and UUID) runs on the destination.
    b.define_xml("mig", &a.virsh_ok(&["dumpxml", "--inactive", "mig"]));
    b.virsh_ok(&["start", "mig"]);
    let (out, _) = migrate(&a, "mig", &dest);
    let err = failed(&out);
    assert!(
        err.contains("error: Requested operation is not valid: domain 'mig' is already active"),
        "{err}"
    );
    assert_state(&a, "mig", "running (booted)");
    assert_state(&b, "mig", "running (booted)");
    assert_eq!(b.wait_no_leftovers(0).len(), 1, "B runs one QEMU, its own");

    // To the same host (the source's own daemon): refused by the cookie's host UUID.
    let (out, _) = migrate(&a, "mig", &a.uri());
    let err = failed(&out);
    assert!(
        err.contains(&format!(
            "Attempt to migrate guest to the same host {UUID_A}"
        )),
        "{err}"
    );
    assert_state(&a, "mig", "running (booted)");

    // Once B's domain is gone, the same migration succeeds.
    b.virsh_ok(&["destroy", "mig"]);
    let (out, _) = migrate(&a, "mig", &dest);
    assert!(out.status.success(), "virsh migrate failed: {}", text(&out));
    assert_state(&b, "mig", "running (migrated)");
    assert_state(&a, "mig", "shut off (migrated)");
}

#[test]
fn persistent_migration_defines_the_destination_and_undefines_the_source() {
    let Some((a, b, dest)) = pair("migrate-persist") else {
        return;
    };
    a.define("mig", "");
    a.virsh_ok(&["start", "mig"]);
    // The next boot's definition differs from the running one: the destination keeps it.
    a.virsh_ok(&["setmem", "mig", "200M", "--config"]);
    let (out, _) = migrate_with(
        &a,
        "mig",
        &dest,
        &["--persistent", "--undefinesource", "--dname", "mig2"],
    );
    assert!(out.status.success(), "virsh migrate failed: {}", text(&out));
    assert_only_on(&a, &[]);
    assert_state(&b, "mig2", "running (migrated)");
    let info = b.virsh_ok(&["dominfo", "mig2"]);
    assert!(
        info.lines()
            .any(|l| l.starts_with("Persistent:") && l.ends_with("yes")),
        "{info}"
    );
    let inactive = b.virsh_ok(&["dumpxml", "--inactive", "mig2"]);
    assert!(
        inactive.contains("<currentMemory unit='KiB'>204800</currentMemory>"),
        "{inactive}"
    );
    let live = b.virsh_ok(&["dumpxml", "mig2"]);
    assert!(
        live.contains("<currentMemory unit='KiB'>262144</currentMemory>"),
        "{live}"
    );
    // Defined there: destroyed, it stays, shut off.
    b.virsh_ok(&["destroy", "mig2"]);
    assert_state(&b, "mig2", "shut off (destroyed)");
    assert_only_on(&b, &["mig2"]);
}

#[test]
fn an_aborted_migration_leaves_the_source_running_and_nothing_on_the_destination() {
    let Some((a, b, dest)) = pair("migrate-abort") else {
        return;
    };
    a.define("mig", "");
    a.boot("mig");
    // 1 MiB/s: the migration takes long enough to be aborted. Client-driven, then with
    // the source daemon driving it.
    for mode in [None, Some("--p2p")] {
        let mut more = vec!["--bandwidth", "1"];
        more.extend(mode);
        let child = migrate_cmd(&a, "mig", &dest, &more)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        common::migrate::wait_migrating(&a, "mig");
        assert_only_on(&b, &["mig"]);
        a.virsh_ok(&["domjobabort", "mig"]);
        let out = child.wait_with_output().unwrap();
        let err = failed(&out);
        assert!(
            err.contains("error: operation aborted: migration out job: canceled by client"),
            "{mode:?}: {err}"
        );
        // Never paused by the migration: it runs on for the reason it had.
        assert_failed_cleanly(&a, &b, "mig", "running (unpaused)");
    }
    // The same migration again succeeds, and the guest answers its power button there.
    let (out, _) = migrate(&a, "mig", &dest);
    assert!(out.status.success(), "virsh migrate failed: {}", text(&out));
    assert_state(&b, "mig", "running (migrated)");
    b.virsh_ok(&["shutdown", "mig"]);
    wait_gone(&b, "mig");
}

/// Polls until `name` is no longer on `env` (a transient domain that stopped).
fn wait_gone(env: &QemuEnv, name: &str) {
    let until = Instant::now() + Duration::from_secs(60);
    while names(env).iter().any(|n| n == name) {
        assert!(Instant::now() < until, "{name} is still on {}", env.uri());
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// What a client asks before it migrates (`virDomainMigrate3`): a `qemu:///` connection
/// confirms MIGRATION_P2P (4), MIGRATION_V3 (6), MIGRATE_CHANGE_PROTECTION (7),
/// MIGRATION_OFFLINE (12) and MIGRATION_PARAMS (13), as
/// libvirtd's QEMU driver does; a `test:///` one does not (libvirt's test driver has no
/// migration); both confirm PROGRAM_KEEPALIVE (10).
#[test]
fn qemu_connections_confirm_the_migration_features() {
    let d = Daemon::start("mig-features");
    for (uri, want) in [("qemu:///system", 1), ("test:///default", 0)] {
        let mut raw = Raw::connect(&d.sock());
        let open = ConnectOpenArgs {
            name: Some(uri.into()),
            flags: 0,
        };
        let p = raw.roundtrip(1, &open);
        assert_eq!(p.header.status, MessageStatus::Ok, "open {uri}");
        for (feature, want) in [
            (4, want),
            (6, want),
            (7, want),
            (12, want),
            (13, want),
            (10, 1),
        ] {
            let p = raw.roundtrip(60, &ConnectSupportsFeatureArgs { feature });
            assert_eq!(p.header.status, MessageStatus::Ok);
            let r: ConnectSupportsFeatureRet = decode_from(&p.payload).unwrap();
            assert_eq!(r.supported, want, "{uri}: feature {feature}");
        }
    }
}

#[test]
fn offline_migration_moves_the_definition() {
    let Some((a, b, dest)) = pair("migrate-offline") else {
        return;
    };
    a.define("mig", "");
    a.virsh_ok(&["setmem", "mig", "200M", "--config"]);
    let out = Command::new("timeout")
        .args(["120", "virsh", "-c", &a.uri(), "migrate", "--offline"])
        .args(["--persistent", "--undefinesource", "mig", &dest])
        .output()
        .unwrap();
    assert!(out.status.success(), "virsh migrate failed: {}", text(&out));
    assert_only_on(&a, &[]);
    assert_state(&b, "mig", "shut off (unknown)");
    let xml = b.virsh_ok(&["dumpxml", "mig"]);
    assert!(
        xml.contains("<currentMemory unit='KiB'>204800</currentMemory>"),
        "{xml}"
    );
    // Without --persistent it is refused, with libvirt's words.
    let err = b.virsh_err(&["migrate", "--offline", "mig", &a.uri()]);
    assert!(err.contains("persistent flag"), "{err}");
    eprintln!("refused as: {err}");
    assert_only_on(&a, &[]);
}

#[test]
fn suspended_migration_leaves_the_guest_paused_on_the_destination() {
    let Some((a, b, dest)) = pair("migrate-suspend") else {
        return;
    };
    a.define("mig", "");
    a.virsh_ok(&["start", "mig"]);
    let (out, _) = migrate_with(&a, "mig", &dest, &["--suspend"]);
    assert!(out.status.success(), "virsh migrate failed: {}", text(&out));
    assert_state(&b, "mig", "paused (user)");
    assert_state(&a, "mig", "shut off (migrated)");
    b.virsh_ok(&["resume", "mig"]);
    assert_state(&b, "mig", "running (unpaused)");
}

#[test]
fn peer_to_peer_migration_is_driven_by_the_source_daemon() {
    let Some((a, b, dest)) = pair("migrate-p2p") else {
        return;
    };
    a.define("mig", "");
    a.boot("mig");
    let (out, took) = migrate_with(&a, "mig", &dest, &["--p2p"]);
    assert!(
        out.status.success(),
        "virsh migrate --p2p failed: {}",
        text(&out)
    );
    eprintln!("virsh migrate --p2p --live took {took:?}");
    assert_state(&b, "mig", "running (migrated)");
    assert_state(&a, "mig", "shut off (migrated)");

    // Back to A while A runs a domain of that name: refused, B's guest runs on.
    a.virsh_ok(&["start", "mig"]);
    let back = a.uri();
    let err = b.virsh_err(&[
        "migrate",
        "--live",
        "--p2p",
        "mig",
        &back,
        "--migrateuri",
        "tcp://127.0.0.1",
    ]);
    assert!(err.contains("is already active"), "{err}");
    assert_state(&b, "mig", "running (migrated)");
}

/// The acceptance's observable guest: a guest ticking on its serial console (logged to a
/// file, which the destination's QEMU opens again in append mode, as libvirt's does with
/// the same `<log>`) moves A → B client-driven, back B → A peer-to-peer, then A → B and
/// B → A tunnelled; its ticks run on with no gap and no repeat across every switch, and
/// keep coming after them.
#[test]
fn the_guest_ticks_on_without_a_gap_across_migrations_in_every_mode() {
    let Some((a, b, dest)) = pair("mig-tick") else {
        return;
    };
    let logdir = TempDir::new("mig-tick-log");
    let log = define_ticking(&a, "mig", &logdir);
    a.boot("mig");
    let before = wait_ticks(&log, 4, 60);

    let (out, _) = migrate(&a, "mig", &dest);
    assert!(out.status.success(), "virsh migrate failed: {}", text(&out));
    assert_state(&b, "mig", "running (migrated)");
    assert_state(&a, "mig", "shut off (migrated)");
    // B's guest ticks on, into the same file.
    let on_b = ticks(&log).len();
    assert!(on_b >= before.len(), "ticks vanished");
    let there = wait_ticks(&log, on_b + 4, 60);
    assert_consecutive(&there);

    // Back, driven by B's daemon.
    let out = Command::new("timeout")
        .args(["120", "virsh", "-c", &b.uri(), "migrate", "--live", "--p2p"])
        .args(["mig", &a.uri(), "--migrateuri", "tcp://127.0.0.1"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "virsh migrate --p2p back failed: {}",
        text(&out)
    );
    assert_state(&a, "mig", "running (migrated)");
    assert_only_on(&b, &[]);
    let on_a = ticks(&log).len();
    let back = wait_ticks(&log, on_a + 8, 60);
    assert_consecutive(&back);

    // There again tunnelled (the stream inside A's daemon's connection to B), and back.
    let out = virsh_migrate(&a, &["--live", "--p2p", "--tunnelled", "mig", &dest]);
    assert!(
        out.status.success(),
        "virsh migrate --tunnelled failed: {}",
        text(&out)
    );
    assert_state(&b, "mig", "running (migrated)");
    let tunnelled = ticks(&log).len();
    let again = wait_ticks(&log, tunnelled + 4, 60);
    assert_consecutive(&again);
    let out = virsh_migrate(&b, &["--live", "--p2p", "--tunnelled", "mig", &a.uri()]);
    assert!(
        out.status.success(),
        "virsh migrate --tunnelled back failed: {}",
        text(&out)
    );
    assert_state(&a, "mig", "running (migrated)");
    let home = ticks(&log).len();
    let all = wait_ticks(&log, home + 4, 60);
    assert_consecutive(&all);
    eprintln!(
        "{} ticks: {} before the first migration, then {}, {} and {} before the next ones",
        all.len(),
        before.len(),
        on_a,
        tunnelled,
        home
    );
}

/// A destination nobody answers at: virsh cannot open it (client-driven), the source
/// daemon cannot (`--p2p`: the open's own error, as libvirt 9.0 reports it), or the
/// source's QEMU cannot reach the destination's (`--migrateuri` to an address the
/// destination does not listen on). The source runs on untouched, the destination keeps
/// nothing, and the same migration then succeeds.
#[test]
fn migration_to_an_unreachable_destination_leaves_both_nodes_consistent() {
    let Some((a, b, dest)) = pair("mig-unreach") else {
        return;
    };
    a.define("mig", "");
    a.virsh_ok(&["start", "mig"]);
    let was = a.domstate("mig");
    // An address of the loopback net no daemon or QEMU of the tests listens on (they use
    // 127.0.0.1), so no other test can take the port meanwhile.
    let port = free_port();
    let nobody = format!("qemu+tcp://127.0.0.9:{port}/system");
    let refused = format!("unable to connect to server at '127.0.0.9:{port}': Connection refused");

    // Client-driven: virsh itself cannot connect.
    let (out, _) = migrate(&a, "mig", &nobody);
    let err = failed(&out);
    assert!(err.contains(&refused), "{err}");
    assert_failed_cleanly(&a, &b, "mig", &was);

    // Peer-to-peer: the source daemon says it could not.
    let (out, _) = migrate_with(&a, "mig", &nobody, &["--p2p"]);
    let err = failed(&out);
    // As Debian's libvirtd 9.0 as the source: the open's error itself, not wrapped in
    // older libvirt's "Failed to connect to remote libvirt URI".
    let want = format!("error: {refused}");
    assert!(
        err.contains(&want) && !err.contains("Failed to connect to remote libvirt URI"),
        "{err}"
    );
    assert_failed_cleanly(&a, &b, "mig", &was);

    // QEMU's connection: B's QEMU listens on 127.0.0.1, A's is sent to 127.0.0.2.
    for mode in [None, Some("--p2p")] {
        let qport = free_port().to_string();
        let migrate_uri = format!("tcp://127.0.0.2:{qport}");
        let mut args = vec!["--live", "mig", &dest, "--listen-address", "127.0.0.1"];
        args.extend(["--migrateuri", &migrate_uri]);
        args.extend(mode);
        let out = virsh_migrate(&a, &args);
        let err = failed(&out);
        eprintln!("{mode:?}: {err}");
        assert!(
            err.contains("error: operation failed: migration out job: ")
                && err.contains("Connection refused"),
            "{mode:?}: {err}"
        );
        assert_failed_cleanly(&a, &b, "mig", &was);
    }

    // The same migration to a destination that answers succeeds.
    let (out, _) = migrate(&a, "mig", &dest);
    assert!(out.status.success(), "virsh migrate failed: {}", text(&out));
    assert_state(&b, "mig", "running (migrated)");
    assert_state(&a, "mig", "shut off (migrated)");
}

#[test]
fn a_destination_qemu_killed_mid_transfer_fails_the_migration_cleanly() {
    let Some((a, b, dest)) = pair("mig-qkill") else {
        return;
    };
    a.define("mig", "");
    a.virsh_ok(&["start", "mig"]);
    let was = a.domstate("mig");
    for mode in [None, Some("--p2p")] {
        let mut more = vec!["--bandwidth", "1"];
        more.extend(mode);
        let child = migrate_cmd(&a, "mig", &dest, &more)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        common::migrate::wait_migrating(&a, "mig");
        let pid = b.qemu_pid("mig");
        let killed = Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let out = child.wait_with_output().unwrap();
        let err = failed(&out);
        eprintln!("{mode:?}: {err}");
        // The destination's reason (its domain is gone), or the source's (the stream
        // broke) when the destination had not yet seen its QEMU go.
        assert!(
            err.contains("error: operation failed: migration in job: domain 'mig' stopped on the destination before the migration finished")
                || err.contains("error: operation failed: migration out job: "),
            "{mode:?}: {err}"
        );
        assert_failed_cleanly(&a, &b, "mig", &was);
    }
    let (out, _) = migrate(&a, "mig", &dest);
    assert!(out.status.success(), "virsh migrate failed: {}", text(&out));
    assert_state(&b, "mig", "running (migrated)");
}

/// The destination's daemon killed mid-transfer: the two QEMUs finish the transfer
/// between themselves, the client's Finish call on the dead daemon fails, so the source
/// is confirmed cancelled and runs again (`running (migration canceled)`). The restarted
/// destination daemon does not keep the half-migrated incoming domain: it kills its QEMU
/// (as libvirtd does with a domain that was in an incoming migration job). A retry
/// succeeds.
#[test]
fn a_destination_daemon_killed_mid_transfer_leaves_no_incoming_domain() {
    let Some((a, mut b, dest)) = pair("mig-dkill") else {
        return;
    };
    a.define("mig", "");
    a.virsh_ok(&["start", "mig"]);
    for mode in [None, Some("--p2p")] {
        let mut more = vec!["--bandwidth", "1"];
        more.extend(mode);
        let child = migrate_cmd(&a, "mig", &dest, &more)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        common::migrate::wait_migrating(&a, "mig");
        b.kill_daemon();
        // Let the QEMUs finish quickly.
        a.virsh_ok(&["migrate-setspeed", "mig", "8796093022207"]);
        let out = child.wait_with_output().unwrap();
        let err = failed(&out);
        eprintln!("{mode:?}: {err}");
        // The client (or the source daemon) lost the destination: libvirt's words for a
        // closed connection.
        assert!(
            err.contains("error: internal error: client socket is closed"),
            "{mode:?}: {err}"
        );
        // Paused at the switchover, then confirmed cancelled: running again.
        assert_state(&a, "mig", "running (migration canceled)");
        b.restart_daemon();
        assert_clean(&b);
    }
    let (out, _) = migrate(&a, "mig", &dest);
    assert!(out.status.success(), "virsh migrate failed: {}", text(&out));
    assert_state(&b, "mig", "running (migrated)");
}

/// A definition the destination cannot run (`--xml` naming an emulator that does not
/// exist): the destination's prepare fails and says why; the source runs on untouched,
/// the destination keeps nothing, and the migration without it succeeds.
#[test]
fn a_definition_the_destination_cannot_run_fails_in_prepare() {
    let Some((a, b, dest)) = pair("mig-badcfg") else {
        return;
    };
    a.define("mig", "");
    a.virsh_ok(&["start", "mig"]);
    let was = a.domstate("mig");
    let live = a.virsh_ok(&["dumpxml", "--migratable", "mig"]);
    let bad = match live.find("<emulator>") {
        Some(at) => {
            let end = live[at..].find("</emulator>").unwrap() + at + "</emulator>".len();
            format!(
                "{}<emulator>/nonexistent/qemu-system-x86_64</emulator>{}",
                &live[..at],
                &live[end..]
            )
        }
        None => live.replace(
            "<devices>",
            "<devices>\n    <emulator>/nonexistent/qemu-system-x86_64</emulator>",
        ),
    };
    let file = a.base.join("bad.xml");
    std::fs::write(&file, &bad).unwrap();
    for mode in [None, Some("--p2p")] {
        let mut more = vec!["--xml", file.to_str().unwrap()];
        more.extend(mode);
        let (out, _) = migrate_with(&a, "mig", &dest, &more);
        let err = failed(&out);
        eprintln!("{mode:?}: {err}");
        assert!(
            err.contains("/nonexistent/qemu-system-x86_64"),
            "{mode:?}: {err}"
        );
        assert_failed_cleanly(&a, &b, "mig", &was);
    }
    let (out, _) = migrate(&a, "mig", &dest);
    assert!(out.status.success(), "virsh migrate failed: {}", text(&out));
    assert_state(&b, "mig", "running (migrated)");
}

/// Prints the lifecycle events of a connection as `NAME EVENT DETAIL` (virsh's words), and
/// `NAME job-completed operation=N downtime=True|False` for
/// `VIR_DOMAIN_EVENT_ID_JOB_COMPLETED`; `READY` once registered.
const EVENTS_PY: &str = r#"
import sys, libvirt
libvirt.virEventRegisterDefaultImpl()
conn = libvirt.open(sys.argv[1])
T = ["Defined", "Undefined", "Started", "Suspended", "Resumed", "Stopped", "Shutdown",
     "PMSuspended", "Crashed"]
D = {0: ["Added", "Updated", "Renamed", "Snapshot"], 1: ["Removed", "Renamed"],
     2: ["Booted", "Migrated", "Restored", "Snapshot", "Wakeup"],
     3: ["Paused", "Migrated", "I/O Error", "Watchdog", "Restored", "Snapshot", "API error",
         "Post-copy", "Post-copy Error"],
     4: ["Unpaused", "Migrated", "Snapshot", "Post-copy"],
     5: ["Shutdown", "Destroyed", "Crashed", "Migrated", "Saved", "Failed", "Snapshot"],
     6: ["Finished", "On guest request", "On host request"]}
def life(c, dom, ev, det, _):
    names = D.get(ev, [])
    print(dom.name(), T[ev], names[det] if det < len(names) else det, flush=True)
def job(c, dom, params, _):
    print(dom.name(), "job-completed", "operation=%s" % params.get("operation"),
          "downtime=%s" % ("downtime" in params), flush=True)
conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, life, None)
try:
    conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_JOB_COMPLETED, job, None)
except libvirt.libvirtError as e:
    print("no job-completed events:", e, flush=True)
print("READY", flush=True)
while True:
    libvirt.virEventRunDefaultImpl()
"#;

/// The events a daemon reports while it is watched (python-libvirt's callbacks).
struct Events {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

/// The domain whose definition ends a watched sequence.
const SENTINEL: &str = "zz-sentinel";

impl Events {
    /// Starts watching `env`'s events; returns once the callbacks are registered.
    fn watch(env: &QemuEnv) -> Events {
        let mut child = Command::new(PYTHON)
            .args(["-c", EVENTS_PY, &env.uri()])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap().push(line);
            }
        });
        let events = Events { child, lines };
        events.wait_line("READY");
        events
    }

    fn wait_line(&self, want: &str) {
        let until = Instant::now() + Duration::from_secs(60);
        loop {
            if self.lines.lock().unwrap().iter().any(|l| l == want) {
                return;
            }
            assert!(
                Instant::now() < until,
                "no {want:?} among the events: {:?}",
                self.lines.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Defines the sentinel domain on `env` and waits for its event: the events of `name`
    /// reported before it, in order (the sentinel is undefined again).
    fn of(&self, env: &QemuEnv, name: &str) -> Vec<String> {
        let sentinel = format!("{SENTINEL} Defined Added");
        env.define(SENTINEL, "");
        self.wait_line(&sentinel);
        env.virsh_ok(&["undefine", SENTINEL]);
        let mut lines = self.lines.lock().unwrap();
        let end = lines.iter().position(|l| *l == sentinel).unwrap();
        let prefix = format!("{name} ");
        // Taken up to the sentinel (the events of other domains, such as the sentinel's
        // own undefinition arriving later, are left out).
        lines
            .drain(..=end)
            .filter_map(|l| l.strip_prefix(&prefix).map(str::to_owned))
            .collect()
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The lifecycle events of both ends during live migrations, as libvirt 9.0's QEMU driver
/// reports them (qemu_migration.c): the source `Suspended Migrated` when QEMU stops the
/// guest at switchover, then `Stopped Migrated` at confirm (and no `Undefined` for
/// `--undefinesource`: libvirt deletes the config and drops the domain silently); the
/// destination `Started Migrated` at prepare, `Defined Added` (or `Updated`) for
/// `--persistent` before the CPUs run, then `Resumed Migrated`. Only the source reports
/// `VIR_DOMAIN_EVENT_ID_JOB_COMPLETED` (an outgoing migration, `operation` 5, with its
/// downtime), right after `Stopped Migrated`.
#[test]
fn migration_events_follow_libvirts_sequence_on_both_ends() {
    let Some((a, b, dest)) = pair("mig-events") else {
        return;
    };
    a.define("mig", "");
    a.boot("mig");
    let on_a = Events::watch(&a);
    let on_b = Events::watch(&b);

    // A → B, client-driven, --persistent --undefinesource.
    let (out, _) = migrate_with(&a, "mig", &dest, &["--persistent", "--undefinesource"]);
    assert!(out.status.success(), "virsh migrate failed: {}", text(&out));
    assert_only_on(&a, &[]);
    assert_state(&b, "mig", "running (migrated)");
    let source = on_a.of(&a, "mig");
    let destination = on_b.of(&b, "mig");
    eprintln!("A → B --persistent --undefinesource: A {source:?}, B {destination:?}");
    assert_eq!(
        source,
        [
            "Suspended Migrated",
            "Stopped Migrated",
            "job-completed operation=5 downtime=True"
        ],
        "source events"
    );
    assert_eq!(
        destination,
        ["Started Migrated", "Defined Added", "Resumed Migrated"],
        "destination events"
    );

    // B → A, peer-to-peer, plain: B keeps its definition (shut off), A runs it transient.
    let out = virsh_migrate(
        &b,
        &[
            "--live",
            "--p2p",
            "mig",
            &a.uri(),
            "--migrateuri",
            "tcp://127.0.0.1",
        ],
    );
    assert!(
        out.status.success(),
        "virsh migrate --p2p failed: {}",
        text(&out)
    );
    assert_state(&a, "mig", "running (migrated)");
    assert_state(&b, "mig", "shut off (migrated)");
    let source = on_b.of(&b, "mig");
    let destination = on_a.of(&a, "mig");
    eprintln!("B → A --p2p: B {source:?}, A {destination:?}");
    assert_eq!(
        source,
        [
            "Suspended Migrated",
            "Stopped Migrated",
            "job-completed operation=5 downtime=True"
        ],
        "source events"
    );
    assert_eq!(
        destination,
        ["Started Migrated", "Resumed Migrated"],
        "destination events"
    );
}

/// A network namespace of its own, deleted on drop (after the daemons in it, declared
/// after it, are gone).
struct Netns(String);

impl Netns {
    fn new(tag: &str) -> Netns {
        let name = format!("oxvt-{tag}-{}", std::process::id());
        let out = Command::new("ip")
            .args(["netns", "add", &name])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        let out = Command::new("ip")
            .args(["-n", &name, "link", "set", "lo", "up"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        Netns(name)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "delete", &self.0])
            .status();
    }
}

/// An isolated virtual network `name` on bridge `bridge`, defined and started on `env`.
fn start_network(env: &QemuEnv, name: &str, bridge: &str) {
    let file = env.base.join(format!("{name}-net.xml"));
    std::fs::write(
        &file,
        format!("<network>\n  <name>{name}</name>\n  <bridge name='{bridge}'/>\n</network>\n"),
    )
    .unwrap();
    env.virsh_ok(&["net-define", file.to_str().unwrap()]);
    env.virsh_ok(&["net-start", name]);
}

/// A guest on a virtual network that exists on the source only: the destination's
/// prepare fails on it, with libvirt's "no network with matching name", in both modes;
/// the source runs on untouched, the destination keeps nothing. Once the destination has
/// the network, the same migration succeeds. (Both daemons share one network namespace of
/// their own, for their bridges; the client reaches them by their sockets.)
#[test]
fn a_network_missing_on_the_destination_fails_in_prepare() {
    let test = "a_network_missing_on_the_destination_fails_in_prepare";
    // Root, `ip` for the namespace and `nft` (the network driver loads its firewall table
    // even for a network without an address); no DHCP server is needed.
    let tools = ["ip", "nft"];
    if !oxvirt_xml::testdata::is_root() || !tools.iter().all(|t| oxvirt_xml::testdata::have(t)) {
        // `cargo xtask ci` (OXVIRT_REQUIRE_GUEST=1) runs everything.
        if std::env::var("OXVIRT_REQUIRE_GUEST").is_ok_and(|v| v == "1") {
            panic!("{test}: OXVIRT_REQUIRE_GUEST=1 but this needs root, ip and nft");
        }
        common::skip(test, "needs root, ip and nft");
        return;
    }
    let (Some(ga), Some(gb)) = (guest(test), guest(test)) else {
        return;
    };
    let ns = Netns::new("migcfg");
    let a = QemuEnv::start_with("a-mig-net", ga, Some(&ns.0), &["--host-uuid", UUID_A]);
    let b = QemuEnv::start_with("b-mig-net", gb, Some(&ns.0), &["--host-uuid", UUID_B]);
    start_network(&a, "mignet", "oxvmiga");
    a.define(
        "mig",
        "<interface type='network'>\n      <source network='mignet'/>\n      \
         <model type='virtio'/>\n    </interface>",
    );
    a.virsh_ok(&["start", "mig"]);
    let was = a.domstate("mig");
    let dest = b.uri();
    for mode in [None, Some("--p2p")] {
        let mut more = vec![];
        more.extend(mode);
        let (out, _) = migrate_with(&a, "mig", &dest, &more);
        let err = failed(&out);
        eprintln!("{mode:?}: {err}");
        assert!(
            err.contains("error: Network not found: no network with matching name 'mignet'"),
            "{mode:?}: {err}"
        );
        assert_failed_cleanly(&a, &b, "mig", &was);
    }
    start_network(&b, "mignet", "oxvmigb");
    let (out, _) = migrate(&a, "mig", &dest);
    assert!(out.status.success(), "virsh migrate failed: {}", text(&out));
    assert_state(&b, "mig", "running (migrated)");
    let list = b.virsh_ok(&["domiflist", "mig"]);
    assert!(list.contains("mignet"), "{list}");
}
