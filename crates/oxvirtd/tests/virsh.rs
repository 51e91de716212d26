//! End-to-end tests: the built `oxvirtd` against the real virsh, python3-libvirt and raw
//! packets.

// Test helpers may panic: a failed setup is a failed test.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::Duration;

use oxvirt_rpc::packet::PROGRAM_REMOTE;
use oxvirt_rpc::xdr::{decode_from, encode_to_vec};
use oxvirt_rpc::{Header, MessageStatus, MessageType, Packet, PacketDecoder, RemoteError};

/// A running daemon in a private runtime dir, killed on drop.
struct Daemon {
    child: Child,
    dir: PathBuf,
}

impl Daemon {
    fn start(tag: &str) -> Daemon {
        let dir = std::env::temp_dir().join(format!("oxvirtd-test-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_oxvirtd"))
            .arg("--runtime-dir")
            .arg(&dir)
            .arg("--state-dir")
            .arg(dir.join("state"))
            .spawn()
            .unwrap();
        let daemon = Daemon { child, dir };
        for _ in 0..100 {
            if daemon.sock().exists() && daemon.dir.join("libvirt-sock-ro").exists() {
                return daemon;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("oxvirtd did not create its sockets");
    }

    fn sock(&self) -> PathBuf {
        self.dir.join("libvirt-sock")
    }

    fn uri(&self, sock: &str) -> String {
        format!(
            "test+unix:///default?socket={}",
            self.dir.join(sock).display()
        )
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn have(path: &str) -> bool {
    Path::new(path).exists()
}

fn virsh(uri: &str, args: &[&str]) -> Output {
    Command::new("virsh")
        .arg("-c")
        .arg(uri)
        .args(args)
        .output()
        .unwrap()
}

/// stdout, stderr and exit status, with the CPU time (which moves) blanked.
fn normalised(out: &Output) -> (String, String, Option<i32>) {
    let norm = |b: &[u8]| {
        String::from_utf8_lossy(b)
            .lines()
            .map(|l| {
                if l.starts_with("CPU time:") {
                    "CPU time: N".to_owned()
                } else {
                    l.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    (norm(&out.stdout), norm(&out.stderr), out.status.code())
}

#[test]
fn virsh_matches_in_process_test_driver() {
    if !have("/usr/bin/virsh") {
        println!("SKIPPED: virsh not installed");
        return;
    }
    let d = Daemon::start("virsh");
    let uri = d.uri("libvirt-sock");
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
    if !have("/usr/bin/virsh") {
        println!("SKIPPED: virsh not installed");
        return;
    }
    let d = Daemon::start("ro");
    let out = virsh(&d.uri("libvirt-sock-ro"), &["destroy", "test"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("error: operation forbidden: read only access prevents virDomainDestroy"),
        "{err}"
    );
    let out = virsh(&d.uri("libvirt-sock-ro"), &["list", "--all"]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn python_libvirt_domain_info() {
    if !have("/usr/bin/python3") {
        println!("SKIPPED: python3 not installed");
        return;
    }
    let d = Daemon::start("py");
    let script = format!(
        "import libvirt; c=libvirt.open('{}'); print(c.lookupByName('test').info()[:4])",
        d.uri("libvirt-sock")
    );
    let out = Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(&script)
        .output()
        .unwrap();
    if String::from_utf8_lossy(&out.stderr).contains("No module named 'libvirt'") {
        println!("SKIPPED: python3-libvirt not installed");
        return;
    }
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "[1, 8388608, 2097152, 2]",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn call(procedure: i32, serial: u32, payload: Vec<u8>) -> Vec<u8> {
    let header = Header {
        prog: PROGRAM_REMOTE,
        vers: 1,
        procedure,
        kind: MessageType::Call,
        serial,
        status: MessageStatus::Ok,
    };
    Packet::new(header, payload).encode().unwrap()
}

fn read_packet(s: &mut UnixStream, dec: &mut PacketDecoder) -> Option<Packet> {
    let mut buf = [0u8; 4096];
    loop {
        if let Some(p) = dec.next_packet().unwrap() {
            return Some(p);
        }
        let n = s.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        dec.feed(&buf[..n]);
    }
}

fn connect(d: &Daemon) -> UnixStream {
    let s = UnixStream::connect(d.sock()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

#[test]
fn unknown_procedure_keeps_connection_usable() {
    let d = Daemon::start("raw");
    let mut s = connect(&d);
    let mut dec = PacketDecoder::new();
    s.write_all(&call(999, 5, Vec::new())).unwrap();
    let p = read_packet(&mut s, &mut dec).unwrap();
    assert_eq!(p.header.kind, MessageType::Reply);
    assert_eq!(p.header.status, MessageStatus::Error);
    assert_eq!((p.header.procedure, p.header.serial), (999, 5));
    let err: RemoteError = decode_from(&p.payload).unwrap();
    assert_eq!((err.code, err.domain, err.level), (39, 7, 2));
    assert_eq!(err.message.as_deref(), Some("unknown procedure: 999"));
    // AUTH_LIST on the same connection: [0].
    s.write_all(&call(66, 6, Vec::new())).unwrap();
    let p = read_packet(&mut s, &mut dec).unwrap();
    assert_eq!(p.header.status, MessageStatus::Ok);
    assert_eq!(p.header.serial, 6);
    assert_eq!(p.payload, [0, 0, 0, 1, 0, 0, 0, 0]);
    // Keepalive PING gets a PONG.
    let ping = Header {
        prog: oxvirt_rpc::packet::PROGRAM_KEEPALIVE,
        vers: 1,
        procedure: 1,
        kind: MessageType::Message,
        serial: 0,
        status: MessageStatus::Ok,
    };
    s.write_all(&Packet::new(ping, Vec::new()).encode().unwrap())
        .unwrap();
    let p = read_packet(&mut s, &mut dec).unwrap();
    assert_eq!(
        (p.header.procedure, p.header.kind),
        (2, MessageType::Message)
    );
}

#[test]
fn garbage_closes_only_that_connection() {
    let d = Daemon::start("garbage");
    let mut good = connect(&d);
    let mut bad = connect(&d);
    bad.write_all(&[0, 0, 0, 3, 1, 2, 3, 4]).unwrap();
    let mut dec = PacketDecoder::new();
    assert!(
        read_packet(&mut bad, &mut dec).is_none(),
        "bad connection closed"
    );
    // CONNECT_OPEN("test:///default", 0) then GET_HOSTNAME on the other connection.
    let open = encode_to_vec(&oxvirt_rpc::remote::ConnectOpenArgs {
        name: Some("test:///default".into()),
        flags: 0,
    });
    let mut dec = PacketDecoder::new();
    good.write_all(&call(1, 0, open)).unwrap();
    let p = read_packet(&mut good, &mut dec).unwrap();
    assert_eq!(p.header.status, MessageStatus::Ok);
    good.write_all(&call(59, 1, Vec::new())).unwrap();
    let p = read_packet(&mut good, &mut dec).unwrap();
    assert_eq!(p.header.status, MessageStatus::Ok);
    let ret: oxvirt_rpc::remote::ConnectGetHostnameRet = decode_from(&p.payload).unwrap();
    assert_eq!(ret.hostname, "vm");
}

#[test]
fn calls_before_open_and_bad_uri() {
    let d = Daemon::start("open");
    let mut s = connect(&d);
    let mut dec = PacketDecoder::new();
    s.write_all(&call(59, 1, Vec::new())).unwrap();
    let p = read_packet(&mut s, &mut dec).unwrap();
    let err: RemoteError = decode_from(&p.payload).unwrap();
    assert_eq!(
        err.message.as_deref(),
        Some("internal error: connection not open")
    );
    let open = encode_to_vec(&oxvirt_rpc::remote::ConnectOpenArgs {
        name: Some("qemu:///system".into()),
        flags: 0,
    });
    s.write_all(&call(1, 2, open)).unwrap();
    let p = read_packet(&mut s, &mut dec).unwrap();
    let err: RemoteError = decode_from(&p.payload).unwrap();
    assert_eq!(err.code, 5);
}

#[test]
fn sigterm_removes_sockets() {
    let mut d = Daemon::start("term");
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(d.child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let exit = d.child.wait().unwrap();
    assert_eq!(exit.code(), Some(0));
    assert!(!d.sock().exists());
    assert!(!d.dir.join("libvirt-sock-ro").exists());
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
    let out = Command::new(env!("CARGO_BIN_EXE_oxvirtd"))
        .arg("--runtime-dir")
        .arg(&d.dir)
        .arg("--state-dir")
        .arg(d.dir.join("state"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("in use by another daemon"));
    assert!(d.sock().exists());
    // Killed hard, it leaves its sockets behind; the next daemon replaces them.
    let mut d = d;
    d.child.kill().unwrap();
    d.child.wait().unwrap();
    assert!(d.sock().exists());
    d.child = Command::new(env!("CARGO_BIN_EXE_oxvirtd"))
        .arg("--runtime-dir")
        .arg(&d.dir)
        .arg("--state-dir")
        .arg(d.dir.join("state"))
        .spawn()
        .unwrap();
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
