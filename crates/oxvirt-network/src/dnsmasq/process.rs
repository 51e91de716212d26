//! One network's dnsmasq: its files, the process, and its supervision.
//!
//! libvirt writes `NAME.conf` (mode 0600) and the two hosts files, runs
//! `dnsmasq --conf-file=NAME.conf --leasefile-ro --dhcp-script=libvirt_leaseshelper`,
//! lets it daemonize and reads its pid from the `pid-file` the configuration names; after
//! a change of the hosts files it sends SIGHUP (dnsmasq rereads `dhcp-hostsfile` and
//! `addn-hosts`), after any other change it kills and restarts it.
//!
//! oxvirt does the same with two differences, both deliberate:
//! - dnsmasq keeps its own lease file (`dhcp-leasefile=` in the configuration, see
//!   [`Paths::lease_dir`]), so no `--leasefile-ro`/`--dhcp-script`;
//! - it runs with `--keep-in-foreground`, so that it stays the daemon's child: its death
//!   is seen at once and the [`Supervisor`] restarts it. It still writes its pid file, so
//!   that after a daemon restart [`Dnsmasq::find`] reattaches to it (it outlives the
//!   daemon: it is not killed when its parent exits).
//!
//! Like libvirt, no `--no-ping` by default ([`Launcher::no_ping`]): dnsmasq probes an
//! address with ICMP echo before offering it to a new client (about 3 s), which guards
//! against handing out an address a misconfigured guest already uses.
//!
//! Files are written atomically (a temporary file in the same directory, fsync, rename,
//! fsync of the directory). Signals are sent with kill(1) (the crate has no unsafe code
//! and no signal binding).

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};
use tokio::io::AsyncReadExt as _;
use tokio::process::{Child, Command};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::conf::{addn_hosts, config, hosts_file, Paths};
use crate::model::Network;

fn system(msg: impl AsRef<str>) -> VirError {
    VirError::new(ErrorDomain::Network, ErrorCode::SystemError, msg)
}

fn internal(msg: impl AsRef<str>) -> VirError {
    VirError::new(ErrorDomain::Network, ErrorCode::InternalError, msg)
}

/// Writes `contents` to `path` atomically with permissions `mode`: a temporary file
/// beside it, fsync, rename over `path`, fsync of the directory.
pub fn write_atomic(path: &Path, contents: &str, mode: u32) -> Result<(), VirError> {
    let fail = |e: std::io::Error| system(format!("cannot write file '{}': {e}", path.display()));
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(fail)?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{file_name}.new"));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(contents.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(fail)
}

/// Writes the network's DHCP hosts file and additional hosts file (mode 0644: dnsmasq
/// rereads them on SIGHUP after dropping its privileges).
pub fn write_hosts(net: &Network, paths: &Paths) -> Result<(), VirError> {
    write_atomic(&paths.hosts_file(&net.name), &hosts_file(net), 0o644)?;
    write_atomic(&paths.addn_hosts_file(&net.name), &addn_hosts(net), 0o644)
}

/// Writes the network's configuration (mode 0600, as libvirt) and both hosts files;
/// returns the configuration's path.
pub fn write_files(net: &Network, paths: &Paths) -> Result<PathBuf, VirError> {
    let text = config(net, paths)?;
    write_hosts(net, paths)?;
    let conf = paths.conf_file(&net.name);
    write_atomic(&conf, &text, 0o600)?;
    Ok(conf)
}

/// How dnsmasq is started: `PREFIX... PROGRAM ARGS`. The prefix runs it elsewhere
/// (`ip netns exec NS` in tests); it must exec the program (not fork), so that the child's
/// pid is dnsmasq's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launcher {
    /// The dnsmasq binary.
    pub program: PathBuf,
    /// Words put before it.
    pub prefix: Vec<String>,
    /// Pass `--no-ping`: offer an address without first probing it with ICMP echo.
    /// libvirt does not, and neither does the default; the probe costs a new client about
    /// 3 s before its first offer (measured: 3.1 s from udhcpc's start to its lease, 0.1 s
    /// with `--no-ping`).
    pub no_ping: bool,
}

impl Default for Launcher {
    /// `dnsmasq` from `PATH` (`/usr/sbin/dnsmasq` on Debian), no prefix.
    fn default() -> Self {
        Launcher {
            program: PathBuf::from("dnsmasq"),
            prefix: Vec::new(),
            no_ping: false,
        }
    }
}

/// Sends `signal` (a kill(1) name: `HUP`, `TERM`, `KILL`) to `pid`.
fn signal(pid: u32, signal: &str) -> Result<(), VirError> {
    let status = std::process::Command::new("kill")
        .args(["-s", signal, &pid.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| system(format!("cannot run kill: {e}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(system(format!(
            "Failed to send SIG{signal} to dnsmasq (PID: {pid})"
        )))
    }
}

/// Whether `pid` is a live process (not a zombie).
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            // "PID (COMM) STATE ...": the state follows the last ')'.
            let state = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next());
            !matches!(state, Some("Z") | Some("X") | None)
        }
        Err(_) => false,
    }
}

/// Whether `pid` is a dnsmasq running with `--conf-file=CONF`.
fn runs_conf(pid: u32, conf: &Path) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let want = format!("--conf-file={}", conf.display());
    cmdline.split(|b| *b == 0).any(|arg| arg == want.as_bytes())
}

fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// One network's dnsmasq process.
#[derive(Debug)]
pub struct Dnsmasq {
    conf: PathBuf,
    pid_file: Option<PathBuf>,
    launcher: Launcher,
    pid: u32,
    /// Our child (`None` when reattached after a daemon restart).
    child: Option<Child>,
}

impl Dnsmasq {
    /// Writes the network's files ([`write_files`]) and starts its dnsmasq.
    pub async fn start(
        net: &Network,
        paths: &Paths,
        launcher: &Launcher,
    ) -> Result<Dnsmasq, VirError> {
        let conf = write_files(net, paths)?;
        Dnsmasq::spawn(&conf, paths.pid_file(&net.name), launcher).await
    }

    /// Starts `dnsmasq --conf-file=CONF --keep-in-foreground` and waits until it has
    /// written `pid_file` (when given; else until it has run for a moment). Fails with
    /// dnsmasq's own complaint when it exits at once (a bad option, an address in use).
    pub async fn spawn(
        conf: &Path,
        pid_file: Option<PathBuf>,
        launcher: &Launcher,
    ) -> Result<Dnsmasq, VirError> {
        if let Some(pid_file) = &pid_file {
            let _ = std::fs::remove_file(pid_file);
            if let Some(dir) = pid_file.parent() {
                std::fs::create_dir_all(dir).map_err(|e| {
                    system(format!("cannot create directory {}: {e}", dir.display()))
                })?;
            }
        }
        let mut words = launcher.prefix.iter();
        let mut cmd = match words.next() {
            Some(first) => {
                let mut c = Command::new(first);
                c.args(words).arg(&launcher.program);
                c
            }
            None => Command::new(&launcher.program),
        };
        cmd.arg(format!("--conf-file={}", conf.display()))
            .arg("--keep-in-foreground")
            .args(launcher.no_ping.then_some("--no-ping"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(false);
        let mut child = cmd.spawn().map_err(|e| {
            system(format!(
                "cannot execute binary {}: {e}",
                launcher.program.display()
            ))
        })?;
        let pid = child.id().unwrap_or(0);
        let mut stderr = child.stderr.take();
        let deadline = Instant::now() + Duration::from_secs(10);
        let settle = Instant::now() + Duration::from_millis(200);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                let mut text = String::new();
                if let Some(err) = stderr.as_mut() {
                    let _ = err.read_to_string(&mut text).await;
                }
                return Err(internal(format!(
                    "dnsmasq for '{}' exited at start ({status}): {}",
                    conf.display(),
                    text.trim()
                )));
            }
            let ready = match &pid_file {
                Some(f) => read_pid(f) == Some(pid),
                None => Instant::now() >= settle,
            };
            if ready {
                break;
            }
            if Instant::now() >= deadline {
                let _ = child.start_kill();
                let _ = child.wait().await;
                return Err(internal(format!(
                    "dnsmasq for '{}' did not start in time",
                    conf.display()
                )));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // dnsmasq logs to syslog once started; drain what it may still write to stderr.
        if let Some(mut err) = stderr {
            tokio::spawn(async move {
                let mut sink = Vec::new();
                let _ = err.read_to_end(&mut sink).await;
            });
        }
        Ok(Dnsmasq {
            conf: conf.to_path_buf(),
            pid_file,
            launcher: launcher.clone(),
            pid,
            child: Some(child),
        })
    }

    /// The dnsmasq already running for the network (after a daemon restart): the pid in
    /// its pid file, if that process is alive and runs with this network's configuration
    /// file. It is not our child: [`Dnsmasq::wait`] then polls.
    pub fn find(name: &str, paths: &Paths, launcher: &Launcher) -> Option<Dnsmasq> {
        let pid_file = paths.pid_file(name)?;
        let pid = read_pid(&pid_file)?;
        let conf = paths.conf_file(name);
        (alive(pid) && runs_conf(pid, &conf)).then(|| Dnsmasq {
            conf,
            pid_file: Some(pid_file),
            launcher: launcher.clone(),
            pid,
            child: None,
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The configuration file it runs with.
    pub fn conf_file(&self) -> &Path {
        &self.conf
    }

    /// Whether it is still running.
    pub fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => alive(self.pid),
        }
    }

    /// SIGHUP: dnsmasq rereads its hosts files (`dhcp-hostsfile`, `addn-hosts`) and
    /// `/etc/hosts`, and clears its cache. A change to anything in the configuration file
    /// (a DHCP range, DNS records other than hosts) needs a restart instead.
    pub fn reload(&self) -> Result<(), VirError> {
        signal(self.pid, "HUP")
    }

    /// Waits until the process has exited (reaped when it is our child).
    pub async fn wait(&mut self) {
        match &mut self.child {
            Some(child) => {
                let _ = child.wait().await;
            }
            None => {
                while alive(self.pid) {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    }

    /// Stops it: SIGTERM, then SIGKILL after 5 s (libvirt's `virProcessKillPainfully`),
    /// and reaps it; removes the pid file.
    pub async fn stop(mut self) -> Result<(), VirError> {
        if self.is_running() {
            let _ = signal(self.pid, "TERM");
            if tokio::time::timeout(Duration::from_secs(5), self.wait())
                .await
                .is_err()
            {
                let _ = signal(self.pid, "KILL");
                self.wait().await;
            }
        } else {
            self.wait().await;
        }
        if let Some(pid_file) = &self.pid_file {
            if read_pid(pid_file) == Some(self.pid) {
                let _ = std::fs::remove_file(pid_file);
            }
        }
        Ok(())
    }

    /// Starts a new dnsmasq with the same configuration file, pid file and launcher.
    pub async fn respawn(&self) -> Result<Dnsmasq, VirError> {
        Dnsmasq::spawn(&self.conf, self.pid_file.clone(), &self.launcher).await
    }
}

/// The restart delays of a [`Supervisor`]: `initial` after the first death, doubled for
/// each further death up to `max`; a run longer than `reset_after` starts over at
/// `initial`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first delay.
    pub initial: Duration,
    /// The longest delay.
    pub max: Duration,
    /// How long a run must last for the delay to start over.
    pub reset_after: Duration,
}

impl Default for Backoff {
    /// 100 ms, doubling to 30 s; reset after a minute of running.
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(30),
            reset_after: Duration::from_secs(60),
        }
    }
}

/// A task that keeps a network's dnsmasq running: when it dies it is started again with
/// the same configuration after a growing delay ([`Backoff`]), until [`Supervisor::stop`].
#[derive(Debug)]
pub struct Supervisor {
    pid: Arc<AtomicU32>,
    restarts: Arc<AtomicU32>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Supervisor {
    /// Supervises `dnsmasq` (just started, or found after a daemon restart).
    pub fn spawn(dnsmasq: Dnsmasq, backoff: Backoff) -> Supervisor {
        let pid = Arc::new(AtomicU32::new(dnsmasq.pid()));
        let restarts = Arc::new(AtomicU32::new(0));
        let (stop_tx, stop_rx) = oneshot::channel();
        let task = tokio::spawn(supervise(
            dnsmasq,
            backoff,
            Arc::clone(&pid),
            Arc::clone(&restarts),
            stop_rx,
        ));
        Supervisor {
            pid,
            restarts,
            stop: Some(stop_tx),
            task,
        }
    }

    /// The current dnsmasq's pid (0 while it is being restarted).
    pub fn pid(&self) -> u32 {
        self.pid.load(Ordering::SeqCst)
    }

    /// How many times dnsmasq was restarted.
    pub fn restarts(&self) -> u32 {
        self.restarts.load(Ordering::SeqCst)
    }

    /// SIGHUP to the current dnsmasq (see [`Dnsmasq::reload`]).
    pub fn reload(&self) -> Result<(), VirError> {
        match self.pid() {
            0 => Err(internal("dnsmasq is not running")),
            pid => signal(pid, "HUP"),
        }
    }

    /// Stops supervising and stops dnsmasq ([`Dnsmasq::stop`]); returns once it is gone.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

async fn supervise(
    mut dnsmasq: Dnsmasq,
    backoff: Backoff,
    pid: Arc<AtomicU32>,
    restarts: Arc<AtomicU32>,
    mut stop: oneshot::Receiver<()>,
) {
    let mut delay = backoff.initial;
    loop {
        let started = Instant::now();
        let stopped = tokio::select! {
            _ = &mut stop => true,
            _ = dnsmasq.wait() => false,
        };
        if stopped {
            let _ = dnsmasq.stop().await;
            pid.store(0, Ordering::SeqCst);
            return;
        }
        pid.store(0, Ordering::SeqCst);
        if started.elapsed() >= backoff.reset_after {
            delay = backoff.initial;
        }
        loop {
            tokio::select! {
                _ = &mut stop => return,
                _ = tokio::time::sleep(delay) => {}
            }
            delay = (delay * 2).min(backoff.max);
            match dnsmasq.respawn().await {
                Ok(next) => {
                    dnsmasq = next;
                    pid.store(dnsmasq.pid(), Ordering::SeqCst);
                    restarts.fetch_add(1, Ordering::SeqCst);
                    break;
                }
                Err(_) => continue,
            }
        }
    }
}
