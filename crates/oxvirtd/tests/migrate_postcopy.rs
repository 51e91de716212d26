//! Post-copy live migration between two oxvirtd daemons with Debian's unchanged virsh:
//! `virsh migrate --postcopy`, then `virsh migrate-postcopy` (procedure 364) while it runs.
//! The guest must run on the destination while its memory still arrives, with libvirt's
//! states and events on both sides.

#![allow(clippy::unwrap_used)]

mod common;

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use common::migrate::{events_of, spawn_migrate, text, wait_for, watch_events, watched};
use common::qemu::QemuEnv;

const UUID_A: &str = "3e9a4c21-6b7d-4f10-9a2e-1c5d8b7f6a01";
const UUID_B: &str = "3e9a4c21-6b7d-4f10-9a2e-1c5d8b7f6a02";

fn pair(test: &str) -> Option<(QemuEnv, QemuEnv, String)> {
    common::migrate::pair(test, [UUID_A, UUID_B], &[])
}

/// A migration of `mig` from `a` to `dest` at 8 MiB/s in both phases, in the background.
fn slow_migration(a: &QemuEnv, dest: &str, postcopy: bool) -> Child {
    let mut args = vec!["--live"];
    if postcopy {
        args.extend_from_slice(&["--postcopy", "--postcopy-bandwidth", "8"]);
    }
    args.extend_from_slice(&[
        "--bandwidth",
        "8",
        "mig",
        dest,
        "--migrateuri",
        "tcp://127.0.0.1",
    ]);
    spawn_migrate("virsh", a, &args)
}

/// Waits until `a` reports a migration job for `mig` (the migration `virsh` runs in
/// `migration`, which must not have ended).
fn wait_job(a: &QemuEnv, migration: &mut Child) {
    let seen = wait_for(30, || {
        a.virsh_ok(&["domjobinfo", "mig"]).contains("Unbounded")
            || migration.try_wait().ok().flatten().is_some()
    });
    if migration.try_wait().ok().flatten().is_some() {
        let mut out = String::new();
        if let Some(mut e) = migration.stderr.take() {
            std::io::Read::read_to_string(&mut e, &mut out).unwrap();
        }
        panic!("the migration ended before its job was seen: {out}");
    }
    assert!(seen, "no migration job on A");
}

#[test]
fn postcopy_runs_the_guest_on_the_destination_before_the_memory_has_arrived() {
    let Some((a, b, dest)) = pair("migrate-postcopy") else {
        return;
    };
    a.define("mig", "");
    a.boot("mig");

    // No migration yet: libvirt's refusal.
    let err = a.virsh_err(&["migrate-postcopy", "mig"]);
    assert!(
        err.contains("post-copy can only be started while outgoing migration is in progress"),
        "{err}"
    );

    // A migration started without --postcopy cannot switch.
    let mut plain = slow_migration(&a, &dest, false);
    wait_job(&a, &mut plain);
    let err = a.virsh_err(&["migrate-postcopy", "mig"]);
    assert!(
        err.contains(
            "switching to post-copy requires migration to be started with VIR_MIGRATE_POSTCOPY flag"
        ),
        "{err}"
    );
    a.virsh_ok(&["domjobabort", "mig"]);
    let out = plain.wait_with_output().unwrap();
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        wait_for(30, || a.domstate("mig").starts_with("running")),
        "{}",
        a.domstate("mig")
    );
    assert!(
        wait_for(30, || b
            .virsh_ok(&["list", "--all", "--name"])
            .trim()
            .is_empty()),
        "B kept the aborted domain"
    );

    // With --postcopy: switch while it runs.
    let (watch_a, watch_b) = (watch_events("virsh", &a), watch_events("virsh", &b));
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    let mut migration = slow_migration(&a, &dest, true);
    wait_job(&a, &mut migration);
    a.virsh_ok(&["migrate-postcopy", "mig"]);

    // The guest runs on B while post-copy is still pulling its pages (8 MiB/s: seconds).
    assert!(
        wait_for(30, || b
            .virsh(&["domstate", "--reason", "mig"])
            .stdout
            .starts_with(b"running (post-copy)")),
        "B never ran the guest in post-copy: {}",
        b.domstate("mig")
    );
    assert_eq!(a.domstate("mig"), "paused (post-copy)");
    // Neither host holds the whole guest: the job cannot be aborted.
    let err = a.virsh_err(&["domjobabort", "mig"]);
    assert!(
        err.contains("cannot abort migration in post-copy mode"),
        "{err}"
    );

    let out = migration.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "virsh migrate --postcopy failed: {}",
        text(&out)
    );
    eprintln!(
        "virsh migrate --postcopy at 8 MiB/s took {:?}",
        started.elapsed()
    );
    assert!(
        wait_for(30, || b.domstate("mig") == "running (migrated)"),
        "{}",
        b.domstate("mig")
    );
    assert_eq!(a.domstate("mig"), "shut off (migrated)");

    // libvirt's post-copy events, in order.
    std::thread::sleep(Duration::from_millis(300));
    let on_a = events_of(&watched(watch_a), "mig");
    let on_b = events_of(&watched(watch_b), "mig");
    assert_eq!(
        on_a.iter()
            .filter(|l| l.starts_with("Suspended") || l.starts_with("Stopped"))
            .collect::<Vec<_>>(),
        ["Suspended Post-copy", "Stopped Migrated"],
        "A: {on_a:?}"
    );
    assert_eq!(
        on_b.iter()
            .filter(|l| l.starts_with("Started") || l.starts_with("Resumed"))
            .collect::<Vec<_>>(),
        ["Started Migrated", "Resumed Post-copy", "Resumed Migrated"],
        "B: {on_b:?}"
    );

    // The guest still works on B: its power button powers it off.
    b.virsh_ok(&["shutdown", "mig"]);
    assert!(
        b.wait_no_leftovers(60).is_empty(),
        "the guest did not power off"
    );
}

/// `--postcopy-after-precopy`: virsh waits for the migration-iteration event (procedure
/// 359, from QEMU's MIGRATION_PASS) of the second pass and switches to post-copy itself.
#[test]
fn postcopy_after_precopy_switches_on_the_second_pass() {
    let Some((a, b, dest)) = pair("migrate-pc-after") else {
        return;
    };
    // A guest that keeps rewriting 8 MiB and a pause of at most 1 ms: the pre-copy cannot
    // converge on its own, so QEMU switches after the second pass instead of completing
    // (an idle guest may be done before virsh's call arrives, with libvirt as with us).
    let xml = a
        .domain_xml("mig", "", "")
        .replace("panic=-1</cmdline>", "panic=-1 oxvirt.dirty</cmdline>");
    assert!(xml.contains("oxvirt.dirty"), "{xml}");
    a.define_xml("mig", &xml);
    a.boot("mig");
    a.virsh_ok(&["migrate-setmaxdowntime", "mig", "1"]);
    let (watch_a, watch_b) = (watch_events("virsh", &a), watch_events("virsh", &b));
    std::thread::sleep(Duration::from_millis(500));
    let out = Command::new("timeout")
        .args(["120", "virsh", "-c", &a.uri(), "migrate", "--live"])
        .args([
            "--postcopy",
            "--postcopy-after-precopy",
            "--postcopy-bandwidth",
            "8",
        ])
        .args([
            "--bandwidth",
            "8",
            "mig",
            &dest,
            "--migrateuri",
            "tcp://127.0.0.1",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "virsh migrate --postcopy-after-precopy failed: {}",
        text(&out)
    );
    assert!(
        wait_for(30, || b.domstate("mig") == "running (migrated)"),
        "{}",
        b.domstate("mig")
    );
    std::thread::sleep(Duration::from_millis(300));
    let on_a = events_of(&watched(watch_a), "mig");
    let on_b = events_of(&watched(watch_b), "mig");
    // The passes as virsh prints them, counting from 1; the switch came at the second.
    let passes: Vec<&String> = on_a
        .iter()
        .filter(|l| l.starts_with("iteration:"))
        .collect();
    assert!(
        passes.len() >= 2 && passes[0] == "iteration: '1'" && passes[1] == "iteration: '2'",
        "A: {on_a:?}"
    );
    assert!(
        on_a.iter().any(|l| l == "Suspended Post-copy"),
        "A: {on_a:?}"
    );
    // After two passes little is left: the post-copy may be over before B's finish phase
    // looks (then B resumes straight for reason migrated, as libvirt's does).
    let resumed: Vec<&String> = on_b.iter().filter(|l| l.starts_with("Resumed")).collect();
    assert!(
        resumed == ["Resumed Post-copy", "Resumed Migrated"] || resumed == ["Resumed Migrated"],
        "B: {on_b:?}"
    );
}
