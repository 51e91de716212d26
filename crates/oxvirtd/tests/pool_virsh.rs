//! The real virsh's `pool-*` and `vol-*` commands against the built `oxvirtd` serving
//! test:///default's storage pools: the same answers as virsh's in-process test driver
//! (UUIDs of newly defined pools masked: random on both sides), pool lifecycle and refresh
//! events delivered over the wire, and the read-only socket's refusals.

#![allow(clippy::unwrap_used)]

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{needs_virsh, normalised, virsh, Daemon};

/// UUIDs replaced by a fixed word.
fn mask(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        let uuid = rest.len() >= 36
            && rest.as_bytes()[..36].iter().enumerate().all(|(i, b)| {
                if [8, 13, 18, 23].contains(&i) {
                    *b == b'-'
                } else {
                    b.is_ascii_hexdigit()
                }
            });
        if uuid {
            out.push_str("UUID");
            rest = &rest[36..];
        } else {
            let c = rest.chars().next().unwrap();
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

#[test]
fn virsh_pool_commands_match_in_process_test_driver() {
    if !needs_virsh("virsh_pool_commands_match_in_process_test_driver") {
        return;
    }
    let d = Daemon::start("pool-virsh");
    let cases = [
        "pool-list --all --details",
        "pool-info default-pool",
        "pool-dumpxml default-pool",
        "pool-dumpxml default-pool --inactive",
        "pool-info nope",
        "pool-name dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566",
        "pool-start default-pool",
        "pool-build default-pool",
        "vol-create-as default-pool a 10M",
        "vol-list default-pool --details",
        "vol-info a --pool default-pool",
        "vol-dumpxml a --pool default-pool",
        "vol-path a --pool default-pool",
        "vol-key a --pool default-pool",
        "vol-pool /default-pool/a",
        "vol-clone a b --pool default-pool",
        "pool-info default-pool",
        "vol-resize a 20M --pool default-pool",
        "vol-wipe a --pool default-pool",
        "vol-info a --pool default-pool --physical",
        "vol-create-as default-pool big 200G",
        "vol-delete a --pool default-pool",
        "vol-delete b --pool default-pool",
        "vol-info nope --pool default-pool",
        "vol-info /default-pool/nope",
        "pool-define-as x dir --target /x",
        "pool-list --all",
        "pool-start x",
        "pool-autostart x",
        "pool-list --autostart --all",
        "pool-refresh x",
        "pool-destroy x",
        "pool-build x",
        "pool-delete x",
        "pool-refresh x",
        "vol-list x",
        "pool-undefine x",
        "pool-define-as y dir --target /default-pool",
        "pool-create-as t dir --target /t",
        "pool-list --transient",
        "pool-autostart t",
        "pool-destroy t",
        "pool-list --all --name",
        "find-storage-pool-sources logical",
        "find-storage-pool-sources-as netfs host1",
        "find-storage-pool-sources netfs",
        "find-storage-pool-sources dir",
    ];
    let script = cases.join(" ; ");
    let masked = |(o, e, c): (String, String, Option<i32>)| (mask(&o), mask(&e), c);
    let ours = masked(normalised(&virsh(&d.uri(), &[&script])));
    let theirs = masked(normalised(&virsh("test:///default", &[&script])));
    for (i, (a, b)) in ours.0.lines().zip(theirs.0.lines()).enumerate() {
        assert_eq!(a, b, "stdout line {i} of {script}");
    }
    assert_eq!(ours, theirs);
    eprintln!(
        "pool parity over oxvirtd: {} command lines in one script identical",
        cases.len()
    );
}

#[test]
fn virsh_pool_event_sees_lifecycle_over_the_wire() {
    if !needs_virsh("virsh_pool_event_sees_lifecycle_over_the_wire") {
        return;
    }
    let d = Daemon::start("pool-event");
    let uri = d.uri();
    let watch = |event: &str| {
        Command::new("virsh")
            .args(["-c", &uri, "pool-event", "--event", event, "--loop"])
            .args(["--timeout", "5", "--pool", "default-pool"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let lifecycle = watch("lifecycle");
    let refresh = watch("refresh");
    std::thread::sleep(Duration::from_millis(1500));
    let out = virsh(
        &uri,
        &["pool-refresh default-pool ; pool-destroy default-pool ; pool-start default-pool"],
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Pool default-pool started"));
    let done = lifecycle.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&done.stdout),
        "event 'lifecycle' for storage pool default-pool: Stopped\n\
         event 'lifecycle' for storage pool default-pool: Started\n\
         event loop timed out\n\
         events received: 2\n\n",
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let done = refresh.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&done.stdout),
        "event 'refresh' for storage pool default-pool\n\
         event loop timed out\n\
         events received: 1\n\n",
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
}

#[test]
fn readonly_socket_refuses_pool_changes() {
    if !needs_virsh("readonly_socket_refuses_pool_changes") {
        return;
    }
    let d = Daemon::start("pool-ro");
    let out = virsh(&d.ro_uri(), &["pool-destroy", "default-pool"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: Failed to destroy pool default-pool\n\
         error: operation forbidden: read only access prevents virStoragePoolDestroy\n"
    );
    let out = virsh(&d.ro_uri(), &["pool-info", "default-pool"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("State:          running"));
}

/// While one connection is open, test:///default's pools are one node for every
/// connection (as libvirt's defaultPrivconn; nothing is kept once all have closed).
#[test]
fn pools_are_shared_by_open_test_default_connections() {
    if !needs_virsh("pools_are_shared_by_open_test_default_connections") {
        return;
    }
    let d = Daemon::start("pool-shared");
    let uri = d.uri();
    let watcher = Command::new("virsh")
        .args(["-c", &uri, "pool-event", "--event", "lifecycle", "--loop"])
        .args(["--timeout", "4"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let out = virsh(
        &uri,
        &["pool-define-as x dir --target /x ; vol-create-as default-pool a 1M"],
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let out = virsh(&uri, &["pool-list --all --name ; vol-list default-pool"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "default-pool        \nx                   \n\n Name   Path\n\
         -------------------------\n a      /default-pool/a\n\n"
    );
    let done = watcher.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&done.stdout),
        "event 'lifecycle' for storage pool x: Defined\n\
         event loop timed out\n\
         events received: 1\n\n"
    );
}
