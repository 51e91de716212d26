//! End-to-end tests: the built `oxvirtd` against the real virsh, python3-libvirt and raw
//! packets.

#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::net::UnixStream;
use std::time::Duration;

use common::{
    keepalive_packet, needs_python_libvirt, needs_virsh, normalised, python, remote_error, virsh,
    Daemon, Raw, NO_ARGS,
};
use oxvirt_rpc::remote::{ConnectGetHostnameRet, ConnectOpenArgs};
use oxvirt_rpc::xdr::decode_from;
use oxvirt_rpc::{MessageStatus, MessageType, RemoteError};

#[test]
fn virsh_matches_in_process_test_driver() {
    if !needs_virsh("virsh_matches_in_process_test_driver") {
        return;
    }
    let d = Daemon::start("virsh");
    let uri = d.uri();
    let cases: &[&[&str]] = &[
        &["list", "--all"],
        &["dominfo", "test"],
        &["destroy", "test"],
        &["start", "test"],
        &["hostname"],
        &["dominfo", "nosuch"],
        &["domstate", "test"],
        &["nodeinfo"],
        &["version"],
        &["capabilities"],
        &["dumpxml", "test"],
        &["suspend", "test"],
        &["resume", "test"],
        &["shutdown", "test"],
        &["reboot", "test"],
        &["undefine", "test"],
        &["autostart", "test"],
        &["domstate", "--reason", "test"],
        &["list", "--inactive"],
        &["dominfo", "1"],
        &["domname", "1"],
        &["maxvcpus"],
    ];
    // One virsh session per side: the daemon keeps test:///default in its state dir, so
    // its state outlives a connection (libvirt's in-process driver forgets it).
    let script = cases
        .iter()
        .map(|args| args.join(" "))
        .collect::<Vec<_>>()
        .join(" ; ");
    let ours = normalised(&virsh(&uri, &[&script]));
    let theirs = normalised(&virsh("test:///default", &[&script]));
    let (ours_lines, theirs_lines): (Vec<&str>, Vec<&str>) =
        (ours.0.lines().collect(), theirs.0.lines().collect());
    for (i, (a, b)) in ours_lines.iter().zip(&theirs_lines).enumerate() {
        assert_eq!(a, b, "stdout line {i} of {script}");
    }
    assert_eq!(ours, theirs);
    // A new connection sees what the session left.
    let session_end = virsh("test:///default", &[&format!("{script} ; list --all")]);
    let out = virsh(&uri, &["list", "--all"]);
    assert!(String::from_utf8_lossy(&session_end.stdout)
        .ends_with(&*String::from_utf8_lossy(&out.stdout)));
}

#[test]
fn readonly_socket_refuses_destroy() {
    if !needs_virsh("readonly_socket_refuses_destroy") {
        return;
    }
    let d = Daemon::start("ro");
    let out = virsh(&d.ro_uri(), &["destroy", "test"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("error: operation forbidden: read only access prevents virDomainDestroy"),
        "{err}"
    );
    let out = virsh(&d.ro_uri(), &["list", "--all"]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn python_libvirt_domain_info() {
    if !needs_python_libvirt("python_libvirt_domain_info") {
        return;
    }
    let d = Daemon::start("py");
    let script = format!(
        "import libvirt; c=libvirt.open('{}'); print(c.lookupByName('test').info()[:4])",
        d.uri()
    );
    let out = python(&script, &[]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "[1, 8388608, 2097152, 2]",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn unknown_procedure_keeps_connection_usable() {
    let d = Daemon::start("raw");
    let mut raw = Raw::connect(&d.sock());
    raw.send_call(999, 5, &NO_ARGS);
    let p = raw.recv().unwrap();
    assert_eq!(p.header.kind, MessageType::Reply);
    assert_eq!(p.header.status, MessageStatus::Error);
    assert_eq!((p.header.procedure, p.header.serial), (999, 5));
    let err = remote_error(&p);
    assert_eq!((err.code, err.domain, err.level), (39, 7, 2));
    assert_eq!(err.message.as_deref(), Some("unknown procedure: 999"));
    // AUTH_LIST on the same connection: [0].
    raw.send_call(66, 6, &NO_ARGS);
    let p = raw.recv().unwrap();
    assert_eq!(p.header.status, MessageStatus::Ok);
    assert_eq!(p.header.serial, 6);
    assert_eq!(p.payload, [0, 0, 0, 1, 0, 0, 0, 0]);
    // Keepalive PING gets a PONG.
    raw.send_bytes(&keepalive_packet(1));
    let p = raw.recv().unwrap();
    assert_eq!(
        (p.header.procedure, p.header.kind),
        (2, MessageType::Message)
    );
}

#[test]
fn garbage_closes_only_that_connection() {
    let d = Daemon::start("garbage");
    let mut good = Raw::connect(&d.sock());
    let mut bad = Raw::connect(&d.sock());
    bad.send_bytes(&[0, 0, 0, 3, 1, 2, 3, 4]);
    assert!(bad.recv().is_none(), "bad connection closed");
    // CONNECT_OPEN("test:///default", 0) then GET_HOSTNAME on the other connection.
    let open = ConnectOpenArgs {
        name: Some("test:///default".into()),
        flags: 0,
    };
    good.send_call(1, 0, &open);
    let p = good.recv().unwrap();
    assert_eq!(p.header.status, MessageStatus::Ok);
    good.send_call(59, 1, &NO_ARGS);
    let p = good.recv().unwrap();
    assert_eq!(p.header.status, MessageStatus::Ok);
    let ret: ConnectGetHostnameRet = decode_from(&p.payload).unwrap();
    assert_eq!(ret.hostname, "vm");
}

#[test]
fn calls_before_open_and_bad_uri() {
    let d = Daemon::start("open");
    let mut raw = Raw::connect(&d.sock());
    raw.send_call(59, 1, &NO_ARGS);
    let p = raw.recv().unwrap();
    let err: RemoteError = decode_from(&p.payload).unwrap();
    assert_eq!(
        err.message.as_deref(),
        Some("internal error: connection not open")
    );
    // A URI no driver of the daemon serves: libvirt's VIR_ERR_NO_CONNECT.
    let open = ConnectOpenArgs {
        name: Some("xen:///system".into()),
        flags: 0,
    };
    raw.send_call(1, 2, &open);
    let p = raw.recv().unwrap();
    let err: RemoteError = decode_from(&p.payload).unwrap();
    assert_eq!(err.code, 5);
    // qemu:///system is served (the QEMU driver), with an empty reply.
    let open = ConnectOpenArgs {
        name: Some("qemu:///system".into()),
        flags: 0,
    };
    raw.send_call(1, 3, &open);
    let p = raw.recv().unwrap();
    assert_eq!(p.header.status, oxvirt_rpc::MessageStatus::Ok, "{p:?}");
    assert!(p.payload.is_empty());
}

#[test]
fn sigterm_removes_sockets() {
    let mut d = Daemon::start("term");
    // Asserts that kill succeeded, then waits.
    let exit = d.signal_and_wait("TERM");
    assert_eq!(exit.code(), Some(0));
    assert!(!d.sock().exists());
    assert!(!d.ro_sock().exists());
}

#[test]
fn sockets_have_libvirts_modes() {
    use std::os::unix::fs::PermissionsExt;
    let d = Daemon::start("modes");
    let mode = |name: &str| {
        std::fs::metadata(d.dir.join(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode("libvirt-sock"), 0o600);
    assert_eq!(mode("libvirt-sock-ro"), 0o666);
    // No staging directory is left behind.
    let left: Vec<_> = std::fs::read_dir(&d.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".staging"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn stale_socket_is_replaced() {
    let d = Daemon::start("stale");
    // A second daemon on the same directory refuses to steal live sockets.
    let out = d.command().output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("in use by another daemon"));
    assert!(d.sock().exists());
    // Killed hard, it leaves its sockets behind; the next daemon replaces them.
    let mut d = d;
    d.child.kill().unwrap();
    d.child.wait().unwrap();
    assert!(d.sock().exists());
    d.child = d.command().spawn().unwrap();
    let mut connected = false;
    for _ in 0..100 {
        if UnixStream::connect(d.sock()).is_ok() {
            connected = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(connected, "the new daemon listens on the old path");
}
