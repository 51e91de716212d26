//! Live migration between two oxvirtd daemons on this machine with Debian's unchanged
//! `virsh migrate` (client-driven: libvirt's migration protocol version 3 with typed
//! parameters, procedures 302-307). Each daemon has its own directories and host UUID;
//! the destination also listens on TCP (loopback) for the client.

#![allow(clippy::unwrap_used)]

mod common;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::qemu::{guest, QemuEnv};
use common::{free_port, Daemon, Raw};
use oxvirt_rpc::remote::{ConnectOpenArgs, ConnectSupportsFeatureArgs, ConnectSupportsFeatureRet};
use oxvirt_rpc::xdr::decode_from;
use oxvirt_rpc::MessageStatus;

const UUID_A: &str = "6c0b7a52-1d3e-4f8a-9b21-5e7d4c3a2f01";
const UUID_B: &str = "6c0b7a52-1d3e-4f8a-9b21-5e7d4c3a2f02";

/// The source (A), the destination (B) and B's `qemu+tcp` URI; `None` when skipped.
/// (Their directories are named after the first 16 characters of their tags.)
fn pair(test: &str) -> Option<(QemuEnv, QemuEnv, String)> {
    let a = QemuEnv::start_with(
        &format!("a-{test}"),
        guest(test)?,
        None,
        &["--host-uuid", UUID_A],
    );
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let b = QemuEnv::start_with(
        &format!("b-{test}"),
        guest(test)?,
        None,
        &["--host-uuid", UUID_B, "--listen-tcp", &listen],
    );
    Some((a, b, format!("qemu+tcp://127.0.0.1:{port}/system")))
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

/// The names `virsh list --all --name` shows.
fn names(env: &QemuEnv) -> Vec<String> {
    env.virsh_ok(&["list", "--all", "--name"])
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
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
    let state = b.virsh_ok(&["domstate", "--reason", "mig"]);
    assert_eq!(state.trim(), "running (migrated)");
    assert_eq!(a.domstate("mig"), "shut off (migrated)");

    // Both ends keep the completed job (the destination from the source's cookie); it is
    // gone once read.
    let job = b.virsh_ok(&["domjobinfo", "--completed", "mig"]);
    for want in [
        "Job type:         Completed",
        "Operation:        Incoming migration",
        "Total downtime:",
        "Memory processed:",
    ] {
        assert!(job.contains(want), "no {want:?} in B's job: {job}");
    }
    let job = a.virsh_ok(&["domjobinfo", "--completed", "mig"]);
    for want in [
        "Job type:         Completed",
        "Operation:        Outgoing migration",
        "Total downtime:",
    ] {
        assert!(job.contains(want), "no {want:?} in A's job: {job}");
    }
    let job = b.virsh_ok(&["domjobinfo", "--completed", "mig"]);
    assert!(job.contains("Job type:         None"), "{job}");

    // The guest still works there: the power button powers it off (the transient domain
    // then goes away).
    b.virsh_ok(&["shutdown", "mig"]);
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let names = b.virsh_ok(&["list", "--all", "--name"]);
        if !names.lines().any(|l| l.trim() == "mig") {
            break;
        }
        assert!(
            Instant::now() < until,
            "the migrated guest did not power off"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
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
    assert!(
        !out.status.success(),
        "virsh migrate succeeded: {}",
        text(&out)
    );
    let err = text(&out);
    assert!(
        err.contains("error: Requested operation is not valid: domain 'mig' is already active"),
        "{err}"
    );
    assert!(
        a.domstate("mig").starts_with("running"),
        "{}",
        a.domstate("mig")
    );
    assert!(
        b.domstate("mig").starts_with("running"),
        "{}",
        b.domstate("mig")
    );

    // To the same host (the source's own daemon): refused by the cookie's host UUID.
    let (out, _) = migrate(&a, "mig", &a.uri());
    assert!(
        !out.status.success(),
        "virsh migrate succeeded: {}",
        text(&out)
    );
    let err = text(&out);
    assert!(
        err.contains(&format!(
            "Attempt to migrate guest to the same host {UUID_A}"
        )),
        "{err}"
    );
    assert!(
        a.domstate("mig").starts_with("running"),
        "{}",
        a.domstate("mig")
    );
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
    assert!(names(&a).is_empty(), "{:?}", names(&a));
    assert_eq!(b.domstate("mig2"), "running (migrated)");
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
    assert_eq!(b.domstate("mig2"), "shut off (destroyed)");
    assert_eq!(names(&b), ["mig2"]);
}

#[test]
fn an_aborted_migration_leaves_the_source_running_and_nothing_on_the_destination() {
    let Some((a, b, dest)) = pair("migrate-abort") else {
        return;
    };
    a.define("mig", "");
    a.boot("mig");
    // 1 MiB/s: the migration takes long enough to be aborted.
    let child = migrate_cmd(&a, "mig", &dest, &["--bandwidth", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let info = a.virsh_ok(&["domjobinfo", "mig"]);
        if info.contains("Unbounded") {
            break;
        }
        assert!(Instant::now() < until, "no migration job: {info}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(names(&b), ["mig"], "the destination is not prepared");
    a.virsh_ok(&["domjobabort", "mig"]);
    let out = child.wait_with_output().unwrap();
    assert!(
        !out.status.success(),
        "virsh migrate succeeded: {}",
        text(&out)
    );
    let err = text(&out);
    assert!(
        err.contains("operation aborted: migration out job: canceled by client"),
        "{err}"
    );
    assert!(
        a.domstate("mig").starts_with("running"),
        "{}",
        a.domstate("mig")
    );
    assert!(names(&b).is_empty(), "{:?}", names(&b));
    assert!(b.wait_no_leftovers(10).is_empty(), "a QEMU is left on B");
    // The source guest still answers its power button.
    a.virsh_ok(&["shutdown", "mig"]);
    assert_eq!(
        a.wait_state("mig", "shut off (shutdown)", 60),
        "shut off (shutdown)"
    );
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
    assert!(names(&a).is_empty(), "{:?}", names(&a));
    assert_eq!(b.domstate("mig"), "shut off (unknown)");
    let xml = b.virsh_ok(&["dumpxml", "mig"]);
    assert!(
        xml.contains("<currentMemory unit='KiB'>204800</currentMemory>"),
        "{xml}"
    );
    // Without --persistent it is refused, with libvirt's words.
    let err = b.virsh_err(&["migrate", "--offline", "mig", &a.uri()]);
    assert!(err.contains("persistent flag"), "{err}");
    eprintln!("refused as: {err}");
    assert!(names(&a).is_empty(), "{:?}", names(&a));
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
    assert_eq!(b.domstate("mig"), "paused (user)");
    assert_eq!(a.domstate("mig"), "shut off (migrated)");
    b.virsh_ok(&["resume", "mig"]);
    assert_eq!(b.domstate("mig"), "running (unpaused)");
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
    assert_eq!(b.domstate("mig"), "running (migrated)");
    assert_eq!(a.domstate("mig"), "shut off (migrated)");

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
    assert_eq!(b.domstate("mig"), "running (migrated)");
}
