//! Helpers for the daemon-level integration tests (events, hostile input, daemon):
//! a daemon on private runtime and state dirs and a raw protocol client.

// Test helpers may panic: a failed setup is a failed test.
#![allow(clippy::unwrap_used, dead_code)]

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use oxvirt_rpc::packet::PROGRAM_REMOTE;
use oxvirt_rpc::xdr::encode_to_vec;
use oxvirt_rpc::{Header, MessageStatus, MessageType, Packet, PacketDecoder, XdrEncode};

/// A running daemon with private runtime and state dirs, killed on drop.
pub struct Daemon {
    /// The daemon process.
    pub child: Child,
    /// Its runtime dir.
    pub dir: PathBuf,
    /// Its state dir.
    pub state: PathBuf,
}

pub fn tmpdir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("oxvirtd-it-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

impl Daemon {
    /// Starts the daemon with `args` besides its directories.
    pub fn start(tag: &str, args: &[&str]) -> Daemon {
        let base = tmpdir(tag);
        Daemon::start_in(base.join("run"), base.join("state"), args)
    }

    /// Starts the daemon on given directories.
    pub fn start_in(dir: PathBuf, state: PathBuf, args: &[&str]) -> Daemon {
        let child = Command::new(env!("CARGO_BIN_EXE_oxvirtd"))
            .arg("--runtime-dir")
            .arg(&dir)
            .arg("--state-dir")
            .arg(&state)
            .args(args)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let daemon = Daemon { child, dir, state };
        daemon.wait_ready();
        daemon
    }

    pub fn wait_ready(&self) {
        for _ in 0..250 {
            if self.sock().exists() && self.dir.join("libvirt-sock-ro").exists() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("oxvirtd did not create its sockets");
    }

    pub fn sock(&self) -> PathBuf {
        self.dir.join("libvirt-sock")
    }

    pub fn uri(&self) -> String {
        format!("test+unix:///default?socket={}", self.sock().display())
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Sends `signal` (e.g. "TERM") and waits for the exit status.
    pub fn signal_and_wait(&mut self, signal: &str) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .unwrap();
        for _ in 0..750 {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("oxvirtd did not exit after SIG{signal}");
    }

    /// What the daemon wrote on stderr (after it exited).
    pub fn stderr(&mut self) -> String {
        let mut s = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            e.read_to_string(&mut s).unwrap();
        }
        s
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(base) = self.dir.parent() {
            let _ = std::fs::remove_dir_all(base);
        }
    }
}

pub fn have(path: &str) -> bool {
    Path::new(path).exists()
}

pub fn virsh(uri: &str, args: &[&str]) -> Output {
    Command::new("virsh")
        .arg("-c")
        .arg(uri)
        .args(args)
        .output()
        .unwrap()
}

/// A raw protocol connection.
pub struct Raw {
    pub stream: UnixStream,
    decoder: PacketDecoder,
    serial: u32,
}

impl Raw {
    pub fn connect(path: &Path) -> Raw {
        let stream = UnixStream::connect(path).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Raw {
            stream,
            decoder: PacketDecoder::new(),
            serial: 0,
        }
    }

    pub fn send_bytes(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// Sends a REMOTE CALL and returns its serial.
    pub fn call<T: XdrEncode>(&mut self, procedure: i32, args: &T) -> u32 {
        self.serial += 1;
        let p = Packet::new(
            header(PROGRAM_REMOTE, 1, procedure, self.serial),
            encode_to_vec(args),
        );
        self.send_bytes(&p.encode().unwrap());
        self.serial
    }

    /// The next packet; `None` if the daemon closed the connection (or timed out).
    pub fn recv(&mut self) -> Option<Packet> {
        let mut buf = [0u8; 65536];
        loop {
            if let Some(p) = self
                .decoder
                .next_packet()
                .expect("daemon sent a malformed packet")
            {
                return Some(p);
            }
            match self.stream.read(&mut buf) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.decoder.feed(&buf[..n]),
            }
        }
    }

    /// Calls and returns the reply (skipping events).
    pub fn roundtrip<T: XdrEncode>(&mut self, procedure: i32, args: &T) -> Packet {
        let serial = self.call(procedure, args);
        loop {
            let p = self.recv().expect("connection closed before the reply");
            if p.header.kind == MessageType::Reply {
                assert_eq!((p.header.serial, p.header.procedure), (serial, procedure));
                return p;
            }
        }
    }

    /// Whether the daemon closed the connection within the read timeout.
    pub fn closed(&mut self) -> bool {
        self.stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut buf = [0u8; 4096];
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
                Err(_) => return false,
            }
        }
    }

    /// CONNECT_OPEN of test:///default, checked.
    pub fn open(&mut self) {
        let name: Option<String> = Some("test:///default".into());
        let mut args = encode_to_vec(&name);
        args.extend_from_slice(&0u32.to_be_bytes());
        let p = self.roundtrip(1, &RawBytes(args));
        assert_eq!(p.header.status, MessageStatus::Ok, "open failed");
    }
}

/// Pre-encoded arguments.
pub struct RawBytes(pub Vec<u8>);

impl XdrEncode for RawBytes {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0);
    }
}

pub fn header(prog: u32, vers: u32, procedure: i32, serial: u32) -> Header {
    Header {
        prog,
        vers,
        procedure,
        kind: MessageType::Call,
        serial,
        status: MessageStatus::Ok,
    }
}
