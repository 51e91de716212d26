//! Helpers shared by the integration tests: a daemon on a private runtime dir, virsh, and
//! a uniform way to report a skipped test.

// Test helpers may panic: a failed setup is a failed test.
#![allow(clippy::unwrap_used, dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::Duration;

/// A running daemon in a private runtime dir, killed on drop.
pub struct Daemon {
    /// The daemon process.
    pub child: Child,
    /// Its runtime dir (sockets).
    pub dir: PathBuf,
}

impl Daemon {
    /// Starts the built daemon on a fresh runtime dir named after `tag`.
    pub fn start(tag: &str) -> Daemon {
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
        for _ in 0..250 {
            if daemon.sock().exists() && daemon.dir.join("libvirt-sock-ro").exists() {
                return daemon;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("oxvirtd did not create its sockets");
    }

    /// The read-write socket.
    pub fn sock(&self) -> PathBuf {
        self.dir.join("libvirt-sock")
    }

    /// `test+unix:///default` through socket `sock` (a file name in the runtime dir).
    pub fn uri(&self, sock: &str) -> String {
        format!(
            "test+unix:///default?socket={}",
            self.dir.join(sock).display()
        )
    }

    /// The read-write URI.
    pub fn rw(&self) -> String {
        self.uri("libvirt-sock")
    }

    /// The read-only URI.
    pub fn ro(&self) -> String {
        self.uri("libvirt-sock-ro")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Whether `path` exists.
pub fn have(path: &str) -> bool {
    Path::new(path).exists()
}

/// Runs virsh on `uri`.
pub fn virsh(uri: &str, args: &[&str]) -> Output {
    Command::new("virsh")
        .arg("-c")
        .arg(uri)
        .args(args)
        .output()
        .unwrap()
}

/// Reports a test that could not run here.
pub fn skip(test: &str, why: &str) {
    println!("SKIPPED: {test}: {why}");
}
