//! The built `oxvirtd` on private runtime and state directories, killed on drop.

use std::io::Read;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

/// A command running the built daemon binary (no arguments yet).
pub fn oxvirtd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_oxvirtd"))
}

/// A fresh, empty directory under the temp dir, named after the test process and `tag`.
fn fresh_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("oxvirtd-it-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A fresh temp directory, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates `oxvirtd-it-PID-TAG` under the temp dir, empty.
    pub fn new(tag: &str) -> TempDir {
        TempDir(fresh_dir(tag))
    }
}

impl Deref for TempDir {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running daemon with private runtime and state dirs, killed on drop.
pub struct Daemon {
    /// The daemon process.
    pub child: Child,
    /// Its runtime dir (sockets).
    pub dir: PathBuf,
    /// Its state dir.
    pub state: PathBuf,
    /// The directory removed on drop, when the daemon made it.
    owned: Option<PathBuf>,
}

impl Daemon {
    /// Starts the daemon on fresh directories named after `tag`.
    pub fn start(tag: &str) -> Daemon {
        Daemon::launch(tag, &[], false)
    }

    /// Starts the daemon on fresh directories with `args` besides its directories.
    pub fn start_with(tag: &str, args: &[&str]) -> Daemon {
        Daemon::launch(tag, args, false)
    }

    /// As [`Daemon::start_with`], keeping what the daemon writes on stderr for
    /// [`Daemon::stderr`].
    pub fn logged(tag: &str, args: &[&str]) -> Daemon {
        Daemon::launch(tag, args, true)
    }

    /// Starts the daemon on existing directories (a restart keeps its state), capturing
    /// stderr. The directories are the caller's: they stay after the daemon.
    pub fn start_in(dir: PathBuf, state: PathBuf, args: &[&str]) -> Daemon {
        Daemon::spawn(dir, state, args, true, None)
    }

    fn launch(tag: &str, args: &[&str], capture: bool) -> Daemon {
        let base = fresh_dir(tag);
        Daemon::spawn(
            base.join("run"),
            base.join("state"),
            args,
            capture,
            Some(base),
        )
    }

    fn spawn(
        dir: PathBuf,
        state: PathBuf,
        args: &[&str],
        capture: bool,
        owned: Option<PathBuf>,
    ) -> Daemon {
        let mut cmd = oxvirtd();
        cmd.arg("--runtime-dir")
            .arg(&dir)
            .arg("--state-dir")
            .arg(&state)
            .args(args);
        if capture {
            cmd.stderr(Stdio::piped());
        }
        let child = cmd.spawn().unwrap();
        let daemon = Daemon {
            child,
            dir,
            state,
            owned,
        };
        daemon.wait_ready();
        daemon
    }

    /// The daemon binary with this daemon's directories: a second process on them.
    pub fn command(&self) -> Command {
        let mut cmd = oxvirtd();
        cmd.arg("--runtime-dir")
            .arg(&self.dir)
            .arg("--state-dir")
            .arg(&self.state);
        cmd
    }

    /// Waits until both sockets exist.
    pub fn wait_ready(&self) {
        for _ in 0..250 {
            if self.sock().exists() && self.ro_sock().exists() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("oxvirtd did not create its sockets");
    }

    /// The read-write socket.
    pub fn sock(&self) -> PathBuf {
        self.dir.join("libvirt-sock")
    }

    /// The read-only socket.
    pub fn ro_sock(&self) -> PathBuf {
        self.dir.join("libvirt-sock-ro")
    }

    /// `test+unix:///default` through the read-write socket.
    pub fn uri(&self) -> String {
        format!("test+unix:///default?socket={}", self.sock().display())
    }

    /// `test+unix:///default` through the read-only socket.
    pub fn ro_uri(&self) -> String {
        format!("test+unix:///default?socket={}", self.ro_sock().display())
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Sends `signal` (e.g. "TERM") and waits for the exit status.
    pub fn signal_and_wait(&mut self, signal: &str) -> ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -{signal} {pid}");
        for _ in 0..750 {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("oxvirtd did not exit after SIG{signal}");
    }

    /// What the daemon wrote on stderr (after it exited; captured daemons only).
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
        if let Some(base) = &self.owned {
            let _ = std::fs::remove_dir_all(base);
        }
    }
}
