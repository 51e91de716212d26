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
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use common::migrate::{assert_failed_cleanly, failed, names, pair_with, signal, text, wait_for};
use common::qemu::QemuEnv;
use common::Raw;
use oxvirt_rpc::remote::{ConnectOpenArgs, DomainMigrateBegin3ParamsArgs};
use oxvirt_rpc::types::NonnullDomain;
use oxvirt_rpc::MessageStatus;

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
    let mut args = vec!["--live"];
    args.extend_from_slice(more);
    args.extend_from_slice(&[name, dest]);
    if !more.contains(&"--tunnelled") {
        args.extend_from_slice(&["--migrateuri", "tcp://127.0.0.1"]);
    }
    common::migrate::spawn_migrate("virsh", a, &args)
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
        let want = "error: internal error: connection closed due to keepalive timeout";
        assert!(
            err.contains(want) && !err.contains(&silent),
            "{mode:?}: {err}"
        );
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
        common::migrate::wait_migrating(&a, "mig");
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
        // B, running again, sees its QEMU's incoming migration fail and drops the domain.
        wait_for(30, || names(&b).is_empty());
        assert_failed_cleanly(&a, &b, "mig", &was);
    }
    // B answers again: the same migration goes through.
    let out = spawn_migrate(&a, "mig", &dest, &["--p2p"])
        .wait_with_output()
        .unwrap();
    assert!(out.status.success(), "virsh migrate failed: {}", text(&out));
}

/// libvirt's error for a state-changing call that waited 30 s for a migration job the
/// API `owner` started.
fn held_by(owner: &str) -> String {
    format!(
        "error: Timed out during operation: cannot acquire state change lock \
         (held by monitor={owner})"
    )
}

/// During a slow migration (virsh always asks for `VIR_MIGRATE_CHANGE_PROTECTION`), the
/// source's state-changing calls (`setmem`, `attach-device`) wait for the migration job
/// and give up with libvirt's lock timeout, naming the call that started the job (virsh's
/// Begin client-driven, its Perform peer-to-peer), while `dominfo` and `domjobinfo`
/// answer and `domjobabort` still ends the migration; afterwards the job is over and
/// `setmem` works again.
#[test]
fn the_migration_job_holds_off_state_changes_until_it_ends() {
    let Some((a, b, dest)) = pair("mig-protect") else {
        return;
    };
    a.define("mig", "");
    a.virsh_ok(&["start", "mig"]);
    let was = a.domstate("mig");
    let disk = a.image("extra.qcow2", "qcow2", "16M");
    let dev = std::env::temp_dir().join(format!("mig-protect-{}.xml", std::process::id()));
    std::fs::write(
        &dev,
        format!(
            "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>\
             <source file='{disk}'/><target dev='vdb' bus='virtio'/></disk>"
        ),
    )
    .unwrap();
    for (mode, owner) in [
        (None, "remoteDispatchDomainMigrateBegin3Params"),
        (Some("--p2p"), "remoteDispatchDomainMigratePerform3Params"),
    ] {
        let mut more = vec!["--bandwidth", "1"];
        more.extend(mode);
        let child = spawn_migrate(&a, "mig", &dest, &more);
        common::migrate::wait_migrating(&a, "mig");
        let uri = a.uri();
        let refused: Vec<_> = [
            vec!["setmem", "mig", "200000", "--live"],
            vec!["attach-device", "mig", dev.to_str().unwrap(), "--live"],
        ]
        .into_iter()
        .map(|args| {
            let args: Vec<String> = args.into_iter().map(String::from).collect();
            let uri = uri.clone();
            std::thread::spawn(move || {
                Command::new("virsh")
                    .args(["-c", &uri])
                    .args(&args)
                    .output()
                    .unwrap()
            })
        })
        .collect();
        // Queries and the job API answer meanwhile.
        assert!(a.virsh_ok(&["dominfo", "mig"]).contains("running"));
        assert!(a.virsh_ok(&["domjobinfo", "mig"]).contains("Unbounded"));
        for call in refused {
            let out = call.join().unwrap();
            let err = text(&out);
            eprintln!("{mode:?}: {err}");
            assert!(!out.status.success(), "{err}");
            assert!(err.contains(&held_by(owner)), "{mode:?}: {err}");
        }
        a.virsh_ok(&["domjobabort", "mig"]);
        let out = child.wait_with_output().unwrap();
        let err = failed(&out);
        assert!(
            err.contains("error: operation aborted: migration out job: canceled by client"),
            "{mode:?}: {err}"
        );
        assert_failed_cleanly(&a, &b, "mig", &was);
        // The job ended with the confirm phase: the domain changes again.
        a.virsh_ok(&["setmem", "mig", "200000", "--live"]);
    }
    let _ = std::fs::remove_file(&dev);
}

/// A client that began a migration (Begin with `VIR_MIGRATE_CHANGE_PROTECTION`, procedure
/// 302, over the raw protocol) and went away before its confirm phase: the job it held
/// ends with its connection (libvirt's close callback), so a `setmem` that was waiting for
/// it goes through, and the domain runs on.
#[test]
fn a_migration_job_ends_when_the_client_that_began_it_goes_away() {
    let Some((a, _b, _)) = pair("mig-gone") else {
        return;
    };
    a.define("mig", "");
    a.virsh_ok(&["start", "mig"]);
    let uri = a.uri();
    let sock = uri.split("socket=").nth(1).unwrap();
    let mut raw = Raw::connect(Path::new(sock));
    let open = ConnectOpenArgs {
        name: Some("qemu:///system".into()),
        flags: 0,
    };
    assert_eq!(raw.roundtrip(1, &open).header.status, MessageStatus::Ok);
    let uuid = a.virsh_ok(&["domuuid", "mig"]);
    let hex = uuid.trim().replace('-', "");
    let uuid: Vec<u8> = (0..16)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let id: i32 = a.virsh_ok(&["domid", "mig"]).trim().parse().unwrap();
    let begin = DomainMigrateBegin3ParamsArgs {
        dom: NonnullDomain {
            name: "mig".into(),
            uuid: uuid.try_into().unwrap(),
            id,
        },
        params: Vec::new(),
        // VIR_MIGRATE_LIVE | VIR_MIGRATE_CHANGE_PROTECTION
        flags: 1 | (1 << 8),
    };
    let p = raw.roundtrip(302, &begin);
    assert_eq!(p.header.status, MessageStatus::Ok, "begin");
    // A state change now waits for the migration job...
    let waiting = std::thread::spawn(move || {
        let start = Instant::now();
        let out = Command::new("virsh")
            .args(["-c", &uri, "setmem", "mig", "200000", "--live"])
            .output()
            .unwrap();
        (out, start.elapsed())
    });
    std::thread::sleep(Duration::from_secs(1));
    // ... which ends with the connection of the client that began it.
    drop(raw);
    let (out, took) = waiting.join().unwrap();
    eprintln!("setmem took {took:?} (waiting for the job): {}", text(&out));
    assert!(out.status.success(), "setmem: {}", text(&out));
    assert_eq!(a.domstate("mig"), "running (booted)");
}
