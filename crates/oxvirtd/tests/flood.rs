//! Connections that never authenticate: a flood of them must not lock out a legitimate
//! client (`max_anonymous_clients`), and before CONNECT_OPEN nothing but the connection
//! set-up procedures is served.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::Read;
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use common::tls::pki::Ca;
use common::tls::{client_dir, server_dir, tls_flags};
use common::{error_parts, free_port, needs_virsh, virsh, Daemon, Raw, TempDir};

/// How many of `streams` the daemon has closed (EOF or reset within a short wait).
fn closed_by_daemon<S: Read>(streams: &mut [S], set_timeout: impl Fn(&S)) -> usize {
    let mut closed = 0;
    for s in streams.iter_mut() {
        set_timeout(s);
        let mut byte = [0u8; 1];
        match s.read(&mut byte) {
            Ok(0) => closed += 1,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => closed += 1,
            _ => {}
        }
    }
    closed
}

#[test]
fn a_flood_of_silent_connections_does_not_lock_out_clients() {
    if !needs_virsh("a_flood_of_silent_connections_does_not_lock_out_clients") {
        return;
    }
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut d = Daemon::logged("flood", &["--listen-tcp", &addr, "--log-level", "warn"]);
    let tcp_uri = format!("test+tcp://127.0.0.1:{port}/default");

    // 500 TCP connections that connect and never say a word; and 500 of root's on the
    // unix socket, which the kernel vouched for: those never count as unauthenticated.
    let mut tcp: Vec<TcpStream> = (0..500)
        .map(|_| TcpStream::connect(&addr).unwrap())
        .collect();
    let mut unix: Vec<UnixStream> = (0..500)
        .map(|_| UnixStream::connect(d.sock()).unwrap())
        .collect();

    // The daemon closes the flood's oldest connections to make room as it admits the
    // newer ones: once it has admitted them all, only `max_anonymous_clients` (20) remain.
    let mut closed = 0;
    for _ in 0..100 {
        closed = closed_by_daemon(&mut tcp, |s: &TcpStream| {
            s.set_read_timeout(Some(Duration::from_millis(20))).unwrap()
        });
        if closed >= 500 - 20 {
            break;
        }
    }
    assert_eq!(closed, 500 - 20, "silent TCP connections closed");
    let closed_unix = closed_by_daemon(&mut unix, |s: &UnixStream| {
        s.set_read_timeout(Some(Duration::from_millis(20))).unwrap()
    });
    assert_eq!(
        closed_unix, 0,
        "root's unix connections were closed for room"
    );

    // Legitimate clients get in at once, on both transports, with the flood still
    // connected and holding all the room.
    for uri in [tcp_uri.as_str(), d.uri().as_str()] {
        let out = virsh(uri, &["list", "--all"]);
        assert!(out.status.success(), "{uri}: {out:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains(" test "),
            "{uri}: {out:?}"
        );
    }

    assert!(d.alive());
    drop((tcp, unix));
    assert!(d.signal_and_wait("TERM").success());
    let log = d.stderr();
    assert!(
        log.contains(
            "20 clients have not authenticated yet (max_anonymous_clients); closing the \
             oldest from the source holding the most to admit"
        ),
        "{log}"
    );
    // Nearly five hundred connections were closed, but the log did not grow with them.
    let lines = log.matches("have not authenticated yet").count();
    assert!(lines <= 2, "{lines} eviction lines:\n{log}");
}

#[test]
fn a_flood_of_silent_tls_connections_does_not_lock_out_clients() {
    if !needs_virsh("a_flood_of_silent_tls_connections_does_not_lock_out_clients") {
        return;
    }
    let dir = TempDir::new("flood-tls-pki");
    let mut ca = Ca::new("oxvirt flood CA");
    let server = server_dir(&mut ca, &dir.join("server"), false);
    let client = client_dir(&mut ca, &dir.join("client"), "alice");
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let flags = tls_flags(&server, port);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    // Not `tls_daemon`: the first connection that gets in is kept, one of the flood.
    let mut d = Daemon::logged("flood-tls", &flags);
    let mut silent = Vec::new();
    for _ in 0..250 {
        match TcpStream::connect(&addr) {
            Ok(s) => {
                silent.push(s);
                break;
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    assert_eq!(silent.len(), 1, "oxvirtd does not listen on {addr}");
    // 500 connections that never start their handshake.
    silent.extend((1..500).map(|_| TcpStream::connect(&addr).unwrap()));

    // The flood's handshakes are abandoned for room as newer ones arrive: once the daemon
    // has admitted them all, only the newest 20 remain.
    let mut closed = 0;
    for _ in 0..100 {
        closed = closed_by_daemon(&mut silent, |s: &TcpStream| {
            s.set_read_timeout(Some(Duration::from_millis(20))).unwrap()
        });
        if closed >= 500 - 20 {
            break;
        }
    }
    assert_eq!(closed, 500 - 20, "silent TLS connections closed");

    // A legitimate TLS client gets in at once, the flood still connected and holding all
    // the room.
    let uri = format!(
        "test+tls://127.0.0.1:{port}/default?pkipath={}",
        client.display()
    );
    let out = virsh(&uri, &["list", "--all"]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(" test "),
        "{out:?}"
    );
    assert!(d.alive());
    drop(silent);
    assert!(d.signal_and_wait("TERM").success());
    let log = d.stderr();
    assert_eq!(
        log.matches("have not authenticated yet").count(),
        1,
        "{log}"
    );
}

#[test]
fn nothing_but_connection_setup_before_connect_open() {
    let d = Daemon::start("preopen");
    let mut raw = Raw::connect(&d.sock());
    // AUTH_LIST (66) and SUPPORTS_FEATURE for keepalive (60) are answered...
    let p = raw.roundtrip(66, &());
    assert_eq!(p.header.status, oxvirt_rpc::MessageStatus::Ok);
    let p = raw.roundtrip(60, &10i32);
    assert_eq!(p.payload, vec![0, 0, 0, 1]);
    // ...anything else is refused as libvirtd refuses it: "connection not open".
    for procedure in [3, 23, 9, 273] {
        let p = raw.roundtrip(procedure, &());
        assert_eq!(p.header.status, oxvirt_rpc::MessageStatus::Error);
        let (code, domain, message) = error_parts(&p);
        assert_eq!(
            (code, domain, message.as_str()),
            (1, 7, "internal error: connection not open"),
            "procedure {procedure}"
        );
    }
    // And the connection still opens afterwards.
    raw.open();
}
