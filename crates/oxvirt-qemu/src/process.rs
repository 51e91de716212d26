//! A QEMU process: started as a direct child of the daemon with its output in a per-domain
//! log file, its monitor connected, its exit watched, and stopped as libvirt stops it
//! (`SIGTERM`, then `SIGKILL` unless the caller asked for a graceful stop).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};
use rustix::process::{kill_process, pidfd_open, Pid, PidfdFlags, Signal};
use tokio::process::Command;
use tokio::sync::watch;

use crate::qmp::{Events, Qmp};

/// How long a QEMU process gets to exit after `SIGTERM` before `SIGKILL` (libvirt waits
/// 10 s, more with host devices).
pub const TERM_GRACE: Duration = Duration::from_secs(10);

/// How long QEMU gets to open its monitor socket.
pub const MONITOR_TIMEOUT: Duration = Duration::from_secs(30);

/// What to start.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The emulator and its arguments (`argv[0]` is the binary).
    pub argv: Vec<String>,
    /// The environment, replacing the daemon's (libvirt passes a small fixed one).
    pub env: Vec<(String, String)>,
    /// The per-domain log file, appended to: a header line with the command, then QEMU's
    /// own output.
    pub log: PathBuf,
    /// The QMP socket the arguments make QEMU listen on.
    pub monitor: PathBuf,
}

impl Launch {
    /// A launch of `argv` with `env`, logging to `log`, monitored on `monitor`.
    pub fn new(
        argv: Vec<String>,
        env: Vec<(String, String)>,
        log: PathBuf,
        monitor: PathBuf,
    ) -> Self {
        Launch {
            argv,
            env,
            log,
            monitor,
        }
    }
}

/// How a QEMU process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    /// Its exit status, known only for a process this daemon started (a reattached one is
    /// reaped by init).
    pub status: Option<ExitStatus>,
}

/// A running QEMU.
#[derive(Debug)]
pub struct QemuProcess {
    pid: i32,
    qmp: Qmp,
    exited: watch::Receiver<Option<Exit>>,
}

fn qemu_error(code: ErrorCode, detail: impl Into<String>) -> VirError {
    VirError::new(ErrorDomain::Qemu, code, detail.into())
}

/// Whether process `pid` is a zombie (exited, not yet reaped), from `/proc/PID/stat`.
fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rfind(')')
                .map(|at| s[at + 1..].trim_start().starts_with('Z'))
        })
        .unwrap_or(true)
}

/// The last lines QEMU wrote to its log, for an error message.
fn log_tail(log: &std::path::Path, since: u64) -> String {
    let text = std::fs::read(log).unwrap_or_default();
    let start = usize::try_from(since).unwrap_or(0).min(text.len());
    String::from_utf8_lossy(&text[start..]).trim().to_owned()
}

impl QemuProcess {
    /// Starts QEMU and connects to its monitor. If QEMU exits first, or its monitor does not
    /// come up, the error carries what QEMU wrote (libvirt's "qemu unexpectedly closed the
    /// monitor: ..."), and nothing is left running.
    pub async fn start(launch: &Launch) -> Result<(QemuProcess, Events), VirError> {
        let Some((binary, args)) = launch.argv.split_first() else {
            return Err(qemu_error(ErrorCode::InternalError, "no emulator to start"));
        };
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&launch.log)
            .map_err(|e| {
                qemu_error(
                    ErrorCode::SystemError,
                    format!("failed to create logfile {}: {e}", launch.log.display()),
                )
            })?;
        let env: String = launch
            .env
            .iter()
            .map(|(k, v)| format!("{k}={v} "))
            .collect();
        let _ = writeln!(log, "{env}{}", launch.argv.join(" "));
        // What QEMU itself writes starts here.
        let since = log.metadata().map(|m| m.len()).unwrap_or(0);
        let stderr = log
            .try_clone()
            .map_err(|e| qemu_error(ErrorCode::SystemError, format!("cannot log QEMU: {e}")))?;
        let _ = std::fs::remove_file(&launch.monitor);
        let mut child = Command::new(binary)
            .args(args)
            .env_clear()
            .envs(launch.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(stderr)
            // QEMU must outlive a daemon that is killed: the next one reattaches.
            .kill_on_drop(false)
            .spawn()
            .map_err(|e| {
                qemu_error(
                    ErrorCode::InternalError,
                    format!("Failed to execute {binary}: {e}"),
                )
            })?;
        let pid = child
            .id()
            .and_then(|p| i32::try_from(p).ok())
            .ok_or_else(|| qemu_error(ErrorCode::InternalError, "QEMU has no process id"))?;
        let deadline = Instant::now() + MONITOR_TIMEOUT;
        let connected = loop {
            if let Ok(Some(_)) = child.try_wait() {
                break Err(qemu_error(
                    ErrorCode::InternalError,
                    format!(
                        "qemu unexpectedly closed the monitor: {}",
                        log_tail(&launch.log, since)
                    ),
                ));
            }
            if launch.monitor.exists() {
                if let Ok(pair) = Qmp::connect(&launch.monitor).await {
                    break Ok(pair);
                }
            }
            if Instant::now() > deadline {
                break Err(qemu_error(
                    ErrorCode::OperationTimeout,
                    format!(
                        "QEMU did not open its monitor within {} s",
                        MONITOR_TIMEOUT.as_secs()
                    ),
                ));
            }
            // QEMU opens its monitor within about 20 ms: check often, it is cheap.
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        let (qmp, events) = match connected {
            Ok(pair) => pair,
            Err(err) => {
                let _ = child.start_kill();
                let _ = child.wait().await;
                return Err(err);
            }
        };
        let (tx, exited) = watch::channel(None);
        tokio::spawn(async move {
            // Reaping our own child: this machine's PID 1 reaps orphans slowly.
            let status = child.wait().await.ok();
            let _ = tx.send(Some(Exit { status }));
        });
        Ok((QemuProcess { pid, qmp, exited }, events))
    }

    /// Reattaches to a QEMU a previous daemon started: process `pid`, monitor socket
    /// `monitor`. Its exit is watched through a pidfd (it is no longer our child: init
    /// reaps it). Fails if the process is gone or its monitor does not answer.
    pub async fn attach(pid: i32, monitor: &Path) -> Result<(QemuProcess, Events), VirError> {
        let gone = || qemu_error(ErrorCode::OperationFailed, format!("process {pid} is gone"));
        let raw = Pid::from_raw(pid).ok_or_else(gone)?;
        let pidfd = pidfd_open(raw, PidfdFlags::empty()).map_err(|_| gone())?;
        if is_zombie(pid) {
            return Err(gone());
        }
        let (qmp, events) = Qmp::connect(monitor).await.map_err(|e| {
            qemu_error(
                ErrorCode::OperationFailed,
                format!("cannot reconnect to the monitor of process {pid}: {e}"),
            )
        })?;
        // Sound: the pidfd is an `OwnedFd`, fixed for its lifetime (the safe
        // constructor's condition; its replacement is `unsafe`, which we forbid).
        #[allow(deprecated)]
        let pidfd = tokio::io::unix::AsyncFd::new(pidfd).map_err(|e| {
            qemu_error(
                ErrorCode::SystemError,
                format!("cannot watch process {pid}: {e}"),
            )
        })?;
        let (tx, exited) = watch::channel(None);
        tokio::spawn(async move {
            // A pidfd becomes readable when the process terminates.
            let _ = pidfd.readable().await;
            let _ = tx.send(Some(Exit { status: None }));
        });
        Ok((QemuProcess { pid, qmp, exited }, events))
    }

    /// The process id.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// The monitor.
    pub fn qmp(&self) -> &Qmp {
        &self.qmp
    }

    /// Whether the process has exited (and been reaped).
    pub fn has_exited(&self) -> bool {
        self.exited.borrow().is_some()
    }

    /// Waits until the process has exited, at most `limit`; how it ended if it did.
    pub async fn wait_exit(&self, limit: Duration) -> Option<Exit> {
        let mut rx = self.exited.clone();
        let waited = tokio::time::timeout(limit, rx.wait_for(Option::is_some)).await;
        match waited {
            Ok(Ok(status)) => *status,
            _ => None,
        }
    }

    fn signal(&self, signal: Signal) -> Result<(), VirError> {
        let Some(pid) = Pid::from_raw(self.pid) else {
            return Ok(());
        };
        match kill_process(pid, signal) {
            Ok(()) | Err(rustix::io::Errno::SRCH) => Ok(()),
            Err(e) => Err(qemu_error(
                ErrorCode::SystemError,
                format!("Failed to kill process {}: {e}", self.pid),
            )),
        }
    }

    /// Stops QEMU as libvirt's destroy does: `SIGTERM`, then after [`TERM_GRACE`]
    /// `SIGKILL`, unless `graceful`, which fails instead with libvirt's
    /// "Failed to terminate process N with SIGTERM: Device or resource busy".
    pub async fn destroy(&self, graceful: bool) -> Result<(), VirError> {
        if self.has_exited() {
            return Ok(());
        }
        self.signal(Signal::TERM)?;
        if self.wait_exit(TERM_GRACE).await.is_some() {
            return Ok(());
        }
        if graceful {
            return Err(qemu_error(
                ErrorCode::SystemError,
                format!(
                    "Failed to terminate process {} with SIGTERM: Device or resource busy",
                    self.pid
                ),
            ));
        }
        self.signal(Signal::KILL)?;
        self.wait_exit(Duration::from_secs(5)).await;
        Ok(())
    }
}
