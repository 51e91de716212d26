//! Live migration driven by our own client: `oxvirsh migrate` (oxvirt's `Domain::migrate3`
//! client-driven, `Domain::migrate_to_uri3` with `--p2p`) between two oxvirtd daemons with
//! a booted TCG guest, its output and errors compared with Debian's `virsh` running the
//! same commands, and `domjobinfo --completed` compared line by line.
//!
//! The oxvirsh binary is the workspace's `target/<profile>/oxvirsh` (next to this test's
//! `deps` directory): `cargo build -p oxvirsh` first (a workspace build has it).

#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

use common::migrate::{
    assert_clean, assert_only_on, assert_state, events_of, text, watch_events, watched,
};
use common::qemu::QemuEnv;

const UUID_A: &str = "6c0b7a52-1d3e-4f8a-9b21-5e7d4c3a2f31";
const UUID_B: &str = "6c0b7a52-1d3e-4f8a-9b21-5e7d4c3a2f32";

/// The built oxvirsh: `target/<profile>/oxvirsh`, beside `deps/` where this test runs.
fn oxvirsh_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let bin = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|dir| dir.join("oxvirsh"))
        .unwrap();
    assert!(
        bin.exists(),
        "{} is missing: build it first (cargo build -p oxvirsh)",
        bin.display()
    );
    bin
}

/// `PROGRAM -c URI ARGS...`, stopped after 120 s.
fn run(program: &str, uri: &str, args: &[&str]) -> Output {
    Command::new("timeout")
        .arg("120")
        .arg(program)
        .args(["-c", uri])
        .args(args)
        .output()
        .unwrap()
}

fn oxvirsh(env: &QemuEnv, args: &[&str]) -> Output {
    run(oxvirsh_bin().to_str().unwrap(), &env.uri(), args)
}

fn virsh(env: &QemuEnv, args: &[&str]) -> Output {
    run("virsh", &env.uri(), args)
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Standard error with `--verbose`'s progress reduced to its last report (the ones before
/// depend on timing): what is after the last carriage return.
fn final_progress(out: &Output) -> String {
    let err = stderr(out);
    err.rsplit('\r').next().unwrap_or_default().to_owned()
}

/// Asserts both tools succeeded and printed the same: standard output byte for byte,
/// standard error up to the timing-dependent progress reports.
fn assert_same_success(what: &str, ours: &Output, theirs: &Output) {
    assert!(
        ours.status.success(),
        "oxvirsh {what} failed: {}",
        text(ours)
    );
    assert!(
        theirs.status.success(),
        "virsh {what} failed: {}",
        text(theirs)
    );
    assert_eq!(stdout(ours), stdout(theirs), "{what}: standard output");
    assert_eq!(
        final_progress(ours),
        final_progress(theirs),
        "{what}: the last progress report"
    );
}

/// Asserts both tools failed with the same output and exit status.
fn assert_same_failure(what: &str, ours: &Output, theirs: &Output) {
    assert!(!theirs.status.success(), "virsh {what} succeeded");
    assert_ne!(ours.status.code(), Some(124), "oxvirsh {what} hung");
    assert_eq!(stdout(ours), stdout(theirs), "{what}: standard output");
    assert_eq!(stderr(ours), stderr(theirs), "{what}: standard error");
    assert_eq!(
        ours.status.code(),
        theirs.status.code(),
        "{what}: exit status"
    );
}

/// The lines of `domjobinfo` as (label, value) pairs.
fn job_fields(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (label, value) = l.split_once(':').unwrap_or((l, ""));
            (label.to_owned(), value.trim().to_owned())
        })
        .collect()
}

/// `domjobinfo --completed --keep-completed NAME` on `env` with both tools (the same
/// statistics, kept for the second reader): identical output; the fields.
fn compare_completed_job(env: &QemuEnv, name: &str) -> Vec<(String, String)> {
    let args = ["domjobinfo", "--completed", "--keep-completed", name];
    let ours = oxvirsh(env, &args);
    let theirs = virsh(env, &args);
    assert!(ours.status.success(), "oxvirsh domjobinfo: {}", text(&ours));
    assert!(
        theirs.status.success(),
        "virsh domjobinfo: {}",
        text(&theirs)
    );
    assert_eq!(stdout(&ours), stdout(&theirs), "domjobinfo --completed");
    for raw in [["--rawstats"], ["--anystats"]] {
        let mut more = args.to_vec();
        more.extend(raw);
        assert_eq!(
            stdout(&oxvirsh(env, &more)),
            stdout(&virsh(env, &more)),
            "domjobinfo {raw:?}"
        );
    }
    job_fields(&stdout(&ours))
}

/// Field by field, two completed migrations' `domjobinfo`: the same labels in the same
/// order, the same job type and operation (values that depend on timing may differ).
fn assert_same_fields(ours: &[(String, String)], theirs: &[(String, String)]) {
    let labels = |f: &[(String, String)]| f.iter().map(|(l, _)| l.clone()).collect::<Vec<_>>();
    assert_eq!(labels(ours), labels(theirs), "domjobinfo labels");
    for label in ["Job type", "Operation", "Page size"] {
        let get = |f: &[(String, String)]| f.iter().find(|(l, _)| l == label).cloned();
        assert_eq!(get(ours), get(theirs), "domjobinfo {label}");
    }
}

#[test]
fn oxvirsh_migrates_a_booted_guest_there_and_back_as_virsh_does() {
    let Some((a, b, dest)) = common::migrate::pair_with("oxvirsh-mig", [UUID_A, UUID_B], &[], &[])
    else {
        return;
    };
    a.define("mig", "");
    a.boot("mig");
    let there = |tool: fn(&QemuEnv, &[&str]) -> Output| {
        tool(
            &a,
            &[
                "migrate",
                "--live",
                "--verbose",
                "mig",
                &dest,
                "--migrateuri",
                "tcp://127.0.0.1",
            ],
        )
    };
    let back = |tool: fn(&QemuEnv, &[&str]) -> Output| {
        tool(
            &b,
            &[
                "migrate",
                "--live",
                "--p2p",
                "--verbose",
                "mig",
                &a.uri(),
                "--migrateuri",
                "tcp://127.0.0.1",
            ],
        )
    };

    // A → B, client-driven, by oxvirsh.
    let ours_there = there(oxvirsh);
    assert!(ours_there.status.success(), "{}", text(&ours_there));
    assert_state(&b, "mig", "running (migrated)");
    assert_state(&a, "mig", "shut off (migrated)");
    let ours_in = compare_completed_job(&b, "mig");
    let ours_out = compare_completed_job(&a, "mig");
    assert!(
        ours_out.iter().any(|(l, _)| l == "Total downtime"),
        "{ours_out:?}"
    );

    // B → A, peer to peer (B's daemon drives it), by oxvirsh.
    let ours_back = back(oxvirsh);
    assert!(ours_back.status.success(), "{}", text(&ours_back));
    assert_state(&a, "mig", "running (migrated)");
    assert_only_on(&b, &[]);
    let ours_p2p_in = compare_completed_job(&a, "mig");

    // The same two migrations by virsh.
    let theirs_there = there(virsh);
    assert_same_success("migrate --live --verbose", &ours_there, &theirs_there);
    assert_same_fields(&ours_in, &compare_completed_job(&b, "mig"));
    assert_same_fields(&ours_out, &compare_completed_job(&a, "mig"));
    let theirs_back = back(virsh);
    assert_same_success("migrate --live --p2p --verbose", &ours_back, &theirs_back);
    assert_same_fields(&ours_p2p_in, &compare_completed_job(&a, "mig"));
    assert_state(&a, "mig", "running (migrated)");

    // The tunables both tools read and set alike (or refuse alike: the daemon has no
    // post-copy bandwidth yet).
    for args in [
        &["migrate-setspeed", "mig", "100"][..],
        &["migrate-getspeed", "mig"],
        &["migrate-getspeed", "mig", "--postcopy"],
        &["migrate-setmaxdowntime", "mig", "250"],
        &["migrate-getmaxdowntime", "mig"],
        &["domjobinfo", "mig"],
    ] {
        let ours = oxvirsh(&a, args);
        let theirs = virsh(&a, args);
        assert_eq!(ours.status.code(), theirs.status.code(), "{args:?}");
        assert_eq!(stdout(&ours), stdout(&theirs), "{args:?}");
        assert_eq!(stderr(&ours), stderr(&theirs), "{args:?}");
    }

    // Failures give virsh's errors, and leave both nodes as they were.
    let failures: Vec<Vec<String>> = vec![
        // no job to abort, nothing to switch to post-copy
        vec!["domjobabort".into(), "mig".into()],
        vec!["migrate-postcopy".into(), "mig".into()],
        vec!["migrate-setmaxdowntime".into(), "mig".into(), "0".into()],
        // tunnelled needs --p2p (libvirt's client refuses)
        vec![
            "migrate".into(),
            "--live".into(),
            "--tunnelled".into(),
            "mig".into(),
            dest.clone(),
        ],
        // options that exclude or need each other
        vec![
            "migrate".into(),
            "--live".into(),
            "--offline".into(),
            "mig".into(),
            dest.clone(),
        ],
        vec![
            "migrate".into(),
            "--postcopy-after-precopy".into(),
            "mig".into(),
            dest.clone(),
        ],
        // a domain of that name already runs on the destination
    ];
    for args in &failures {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let ours = oxvirsh(&a, &args);
        let theirs = virsh(&a, &args);
        assert_same_failure(&format!("{args:?}"), &ours, &theirs);
        assert_state(&a, "mig", "running (migrated)");
        assert_clean(&b);
    }
    // A destination nobody listens on (127.0.0.9: no test daemon there), both modes.
    let nobody = format!("qemu+tcp://127.0.0.9:{}/system", common::free_port());
    for mode in [None, Some("--p2p")] {
        let mut args = vec!["migrate", "--live", "mig", &nobody];
        args.extend(mode);
        let ours = oxvirsh(&a, &args);
        let theirs = virsh(&a, &args);
        assert_same_failure("migrate to an unreachable host", &ours, &theirs);
        assert_state(&a, "mig", "running (migrated)");
        assert_clean(&b);
    }

    // --offline --persistent copies the definition only (the running domain stays).
    let args = ["migrate", "--offline", "--persistent", "mig", &dest];
    let ours = oxvirsh(&a, &args);
    assert!(ours.status.success(), "{}", text(&ours));
    assert_state(&b, "mig", "shut off (unknown)");
    b.virsh_ok(&["undefine", "mig"]);
    let theirs = virsh(&a, &args);
    assert_same_success("migrate --offline --persistent", &ours, &theirs);
    assert_state(&b, "mig", "shut off (unknown)");
    assert_state(&a, "mig", "running (migrated)");
    b.virsh_ok(&["undefine", "mig"]);

    b.define_xml("mig", &a.virsh_ok(&["dumpxml", "--inactive", "mig"]));
    b.virsh_ok(&["start", "mig"]);
    for mode in [None, Some("--p2p")] {
        let mut args = vec![
            "migrate",
            "--live",
            "mig",
            &dest,
            "--migrateuri",
            "tcp://127.0.0.1",
        ];
        args.extend(mode);
        let ours = oxvirsh(&a, &args);
        let theirs = virsh(&a, &args);
        assert_same_failure("migrate to a host running it", &ours, &theirs);
        assert!(
            stderr(&ours).contains("domain 'mig' is already active"),
            "{}",
            stderr(&ours)
        );
        assert_state(&a, "mig", "running (migrated)");
        assert_state(&b, "mig", "running (booted)");
    }
    b.virsh_ok(&["destroy", "mig"]);
    b.virsh_ok(&["undefine", "mig"]);
    a.virsh_ok(&["destroy", "mig"]);
}

/// `PROGRAM -c SRC migrate --live --verbose --bandwidth 1 ... NAME DEST`, started (1 MiB/s:
/// slow enough to be watched and aborted).
fn spawn_slow_migration(
    program: &str,
    src: &QemuEnv,
    name: &str,
    dest: &str,
    mode: Option<&str>,
) -> std::process::Child {
    let mut args = vec!["--live", "--verbose", "--bandwidth", "1"];
    args.extend(mode);
    args.extend_from_slice(&[name, dest, "--migrateuri", "tcp://127.0.0.1"]);
    common::migrate::spawn_migrate(program, src, &args)
}

/// Waits until `domjobinfo` (by oxvirsh) shows `name`'s outgoing migration moving memory.
fn wait_migrating(src: &QemuEnv, name: &str) -> String {
    let mut info = String::new();
    let ok = common::migrate::wait_for(60, || {
        info = stdout(&oxvirsh(src, &["domjobinfo", name]));
        info.contains("Unbounded") && info.contains("Memory processed")
    });
    assert!(ok, "no migration job: {info}");
    info
}

/// Standard error after the last progress report's `%]` (its figure depends on timing).
fn after_progress(out: &Output) -> String {
    let err = stderr(out);
    match err.rfind("%]") {
        Some(i) => err[i + 2..].to_owned(),
        None => err,
    }
}

/// A migration by oxvirsh aborted with `oxvirsh domjobabort`, client-driven and peer to
/// peer, then the same by virsh: the running job's `domjobinfo` has virsh's fields, the
/// migration fails with virsh's error, the source runs on, the destination is clean.
#[test]
fn oxvirsh_domjobabort_stops_a_migration_as_virsh_does() {
    let Some((a, b, dest)) =
        common::migrate::pair_with("oxvirsh-abort", [UUID_A, UUID_B], &[], &[])
    else {
        return;
    };
    a.define("mig", "");
    a.boot("mig");
    let bin = oxvirsh_bin();
    for mode in [None, Some("--p2p")] {
        let mut results = Vec::new();
        for (program, tool) in [
            (
                bin.to_str().unwrap(),
                oxvirsh as fn(&QemuEnv, &[&str]) -> Output,
            ),
            ("virsh", virsh),
        ] {
            let child = spawn_slow_migration(program, &a, "mig", &dest, mode);
            let ours_info = wait_migrating(&a, "mig");
            let theirs_info = stdout(&virsh(&a, &["domjobinfo", "mig"]));
            let labels = |t: &str| {
                job_fields(t)
                    .into_iter()
                    .map(|(l, _)| l)
                    .collect::<Vec<_>>()
            };
            assert_eq!(labels(&ours_info), labels(&theirs_info), "running job");
            // Both tools look at the job every 500 ms: give them time to report progress
            // (at 1 MiB/s the migration lasts minutes).
            std::thread::sleep(std::time::Duration::from_secs(2));
            let abort = tool(&a, &["domjobabort", "mig"]);
            assert!(
                abort.status.success(),
                "{program} domjobabort: {}",
                text(&abort)
            );
            let out = child.wait_with_output().unwrap();
            assert!(
                !out.status.success(),
                "{program} migrate {mode:?} succeeded"
            );
            assert_ne!(out.status.code(), Some(124), "{program} migrate hung");
            assert_state(&a, "mig", "running (unpaused)");
            assert_clean(&b);
            // The aborted job as both tools show it (the same kept statistics).
            for more in [&[][..], &["--anystats"], &["--rawstats"]] {
                let mut args = vec!["domjobinfo", "mig", "--completed", "--keep-completed"];
                args.extend(more);
                let ours = oxvirsh(&a, &args);
                let theirs = virsh(&a, &args);
                assert_eq!(ours.status.code(), theirs.status.code(), "{args:?}");
                assert_eq!(stdout(&ours), stdout(&theirs), "{args:?}");
                assert_eq!(stderr(&ours), stderr(&theirs), "{args:?}");
            }
            results.push(out);
        }
        let (ours, theirs) = (&results[0], &results[1]);
        assert_eq!(stdout(ours), stdout(theirs), "{mode:?}: standard output");
        assert_eq!(
            after_progress(ours),
            after_progress(theirs),
            "{mode:?}: error"
        );
        assert!(
            after_progress(ours)
                .contains("error: operation aborted: migration out job: canceled by client"),
            "{mode:?}: {}",
            stderr(ours)
        );
        assert_eq!(ours.status.code(), theirs.status.code());
        for out in [ours, theirs] {
            assert!(
                stderr(out).starts_with("\rMigration: [  0 %]"),
                "{:?} {:?}",
                stderr(ours),
                stderr(theirs)
            );
        }
    }
}

/// `oxvirsh migrate --postcopy --postcopy-after-precopy`: oxvirsh waits for the second
/// pass's migration-iteration event and switches to post-copy itself, as virsh does (with
/// a 1 ms maximum downtime the pre-copy cannot converge on its own).
#[test]
fn oxvirsh_switches_to_post_copy_after_the_first_pass() {
    let Some((a, b, dest)) =
        common::migrate::pair_with("oxvirsh-pc-after", [UUID_A, UUID_B], &[], &[])
    else {
        return;
    };
    // The guest keeps rewriting 8 MiB (the test guest's oxvirt.dirty): its pre-copy
    // cannot converge before oxvirsh's switch.
    let xml = a
        .domain_xml("mig", "", "")
        .replace("panic=-1</cmdline>", "panic=-1 oxvirt.dirty</cmdline>");
    assert!(xml.contains("oxvirt.dirty"), "{xml}");
    a.define_xml("mig", &xml);
    a.boot("mig");
    let set = oxvirsh(&a, &["migrate-setmaxdowntime", "mig", "1"]);
    assert!(set.status.success(), "{}", text(&set));
    let watcher = watch_events("virsh", &a);
    let our_watcher = watch_events(oxvirsh_bin().to_str().unwrap(), &a);
    // the watcher registers before the migration starts
    std::thread::sleep(std::time::Duration::from_millis(500));
    let out = oxvirsh(
        &a,
        &[
            "migrate",
            "--live",
            "--postcopy",
            "--postcopy-after-precopy",
            "--postcopy-bandwidth",
            "8",
            "--bandwidth",
            "8",
            "mig",
            &dest,
            "--migrateuri",
            "tcp://127.0.0.1",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        common::migrate::wait_for(30, || b.domstate("mig") == "running (migrated)"),
        "{}",
        b.domstate("mig")
    );
    assert_state(&a, "mig", "shut off (migrated)");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let printed = watched(watcher);
    // oxvirsh's `event` saw the same events and prints them as virsh does (the
    // migration-iteration and job-completed events, with its statistics, included).
    assert_eq!(watched(our_watcher), printed, "oxvirsh event --all");
    assert!(printed.contains("\toperation: 5\n"), "{printed}");
    let on_a = events_of(&printed, "mig");
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
    let done = oxvirsh(&b, &["destroy", "mig"]);
    assert!(done.status.success(), "{}", text(&done));
}

/// oxvirsh with the flags that change definitions and the tunnelled mode: `--persistent
/// --undefinesource` client-driven moves the definition with the running guest (none left
/// on the source), `--p2p --tunnelled` brings it back through B's daemon's connection, and
/// `--offline --persistent --undefinesource` moves the stopped definition alone.
#[test]
fn oxvirsh_moves_definitions_and_tunnels() {
    let Some((a, b, dest)) =
        common::migrate::pair_with("oxvirsh-persist", [UUID_A, UUID_B], &[], &[])
    else {
        return;
    };
    a.define("mig", "");
    a.boot("mig");
    let ok = |env: &QemuEnv, args: &[&str]| {
        let out = oxvirsh(env, args);
        assert!(out.status.success(), "oxvirsh {args:?}: {}", text(&out));
        assert_eq!(stdout(&out), "\n", "{args:?}");
        assert_eq!(stderr(&out), "", "{args:?}");
    };
    ok(
        &a,
        &[
            "migrate",
            "--live",
            "--persistent",
            "--undefinesource",
            "mig",
            &dest,
            "--migrateuri",
            "tcp://127.0.0.1",
        ],
    );
    assert_only_on(&a, &[]);
    assert_state(&b, "mig", "running (migrated)");
    let persistent = b.virsh_ok(&["dominfo", "mig"]);
    assert!(persistent.contains("Persistent:     yes"), "{persistent}");

    ok(
        &b,
        &[
            "migrate",
            "--live",
            "--p2p",
            "--tunnelled",
            "--persistent",
            "--undefinesource",
            "mig",
            &a.uri(),
        ],
    );
    assert_only_on(&b, &[]);
    assert_state(&a, "mig", "running (migrated)");

    // Stopped: only the definition goes.
    a.virsh_ok(&["destroy", "mig"]);
    ok(
        &a,
        &[
            "migrate",
            "--offline",
            "--persistent",
            "--undefinesource",
            "mig",
            &dest,
        ],
    );
    assert_only_on(&a, &[]);
    assert_state(&b, "mig", "shut off (unknown)");
    b.virsh_ok(&["undefine", "mig"]);
}

/// `--timeout 1 --timeout-postcopy`: a migration still running after a second (8 MiB/s)
/// is switched to post-copy by oxvirsh (unlimited then, it completes).
#[test]
fn oxvirsh_timeout_switches_to_post_copy() {
    let Some((a, b, dest)) =
        common::migrate::pair_with("oxvirsh-timeout", [UUID_A, UUID_B], &[], &[])
    else {
        return;
    };
    a.define("mig", "");
    a.boot("mig");
    let watcher = watch_events("virsh", &a);
    std::thread::sleep(std::time::Duration::from_millis(500));
    let out = oxvirsh(
        &a,
        &[
            "migrate",
            "--live",
            "--postcopy",
            "--timeout",
            "1",
            "--timeout-postcopy",
            "--bandwidth",
            "8",
            "mig",
            &dest,
            "--migrateuri",
            "tcp://127.0.0.1",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        common::migrate::wait_for(30, || b.domstate("mig") == "running (migrated)"),
        "{}",
        b.domstate("mig")
    );
    assert_state(&a, "mig", "shut off (migrated)");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let on_a = events_of(&watched(watcher), "mig");
    assert!(
        on_a.iter().any(|l| l == "Suspended Post-copy"),
        "A: {on_a:?}"
    );
    let done = oxvirsh(&b, &["destroy", "mig"]);
    assert!(done.status.success(), "{}", text(&done));
}
