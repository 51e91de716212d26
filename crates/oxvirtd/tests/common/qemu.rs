//! Real QEMU guests (TCG) through the built daemon's `qemu:///system`: the test guest built
//! by `cargo xtask guest`, a daemon on private directories that can be killed and started
//! again on them, and a guard that leaves no domain, daemon or QEMU process behind.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::clients::{have_python_libvirt, skip, PYTHON};
use super::daemon::{oxvirtd, TempDir};

/// The console helper: opens a domain's console through the RPC stream, does an action
/// and waits for a text (see the script for its arguments).
pub const CONSOLE_PY: &str = include_str!("../python/qemu_console.py");

/// The test guest: Debian's cloud kernel and a busybox initramfs.
pub struct Guest {
    /// `target/guest/vmlinuz`.
    pub kernel: PathBuf,
    /// `target/guest/initrd.gz`.
    pub initrd: PathBuf,
}

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap()
        .to_path_buf()
}

/// The guest under `target/guest`, or `None` after a loud SKIPPED line when it (or a
/// client the QEMU tests need) is missing. Under `OXVIRT_REQUIRE_GUEST=1` (set by
/// `cargo xtask ci`) a missing guest or client fails the test instead.
pub fn guest(test: &str) -> Option<Guest> {
    let dir = workspace_root().join("target/guest");
    let guest = Guest {
        kernel: dir.join("vmlinuz"),
        initrd: dir.join("initrd.gz"),
    };
    let mut missing = Vec::new();
    if !guest.kernel.is_file() || !guest.initrd.is_file() {
        missing.push(format!(
            "no test guest in {} (run cargo xtask guest)",
            dir.display()
        ));
    }
    for tool in [
        "/usr/bin/qemu-system-x86_64",
        "/usr/bin/virsh",
        "/usr/bin/script",
    ] {
        if !Path::new(tool).exists() {
            missing.push(format!("{tool} is not installed"));
        }
    }
    if !have_python_libvirt() {
        missing.push("python3-libvirt is not installed".into());
    }
    if missing.is_empty() {
        return Some(guest);
    }
    let why = missing.join("; ");
    if std::env::var("OXVIRT_REQUIRE_GUEST").is_ok_and(|v| v == "1") {
        panic!("{test}: OXVIRT_REQUIRE_GUEST=1 but {why}");
    }
    skip(
        test,
        &format!("{why} ******** run cargo xtask guest ********"),
    );
    None
}

/// A daemon serving `qemu:///system` on private directories, with the guests it runs.
/// Dropping it destroys and undefines every domain, kills the daemon, kills any QEMU whose
/// command line names its directory, and removes the directory.
pub struct QemuEnv {
    /// The private directory (runtime and state dirs, images, logs).
    pub base: TempDir,
    /// The runtime dir (`libvirt-sock`, `qemu/NAME.xml` status files).
    pub run: PathBuf,
    /// The state dir.
    pub state: PathBuf,
    /// The guest's kernel and initrd.
    pub guest: Guest,
    daemon: Option<Child>,
    restarts: u32,
    /// The network namespace the daemon runs in (`None`: the test's own).
    netns: Option<String>,
    /// More arguments for the daemon.
    args: Vec<String>,
}

/// `tag` itself when it has at most 16 characters, else its first 11 and a hash of the
/// whole, so that two long tags with the same beginning still get directories of their own.
fn short_tag(tag: &str) -> String {
    if tag.chars().count() <= 16 {
        return tag.to_string();
    }
    // FNV-1a: stable across runs and toolchains, unlike `DefaultHasher`.
    let hash = tag.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let head: String = tag.chars().take(11).collect();
    format!("{head}-{:04x}", hash & 0xffff)
}

impl QemuEnv {
    /// Starts a daemon on fresh directories named after `tag` (shortened by
    /// `short_tag`: the daemon's socket paths must stay short).
    pub fn start(tag: &str, guest: Guest) -> QemuEnv {
        QemuEnv::start_in(tag, guest, None)
    }

    /// [`QemuEnv::start`] with the daemon in the network namespace `netns` (its taps and
    /// bridges are there).
    pub fn start_in(tag: &str, guest: Guest, netns: Option<&str>) -> QemuEnv {
        QemuEnv::start_with(tag, guest, netns, &[])
    }

    /// [`QemuEnv::start_in`] with more arguments for the daemon (`--host-uuid`,
    /// `--listen-tcp`).
    pub fn start_with(tag: &str, guest: Guest, netns: Option<&str>, args: &[&str]) -> QemuEnv {
        let base = TempDir::new(&format!("q-{}", short_tag(tag)));
        let run = base.join("run");
        let state = base.join("state");
        std::fs::create_dir_all(&state).unwrap();
        let mut env = QemuEnv {
            base,
            run,
            state,
            guest,
            daemon: None,
            restarts: 0,
            netns: netns.map(str::to_owned),
            args: args.iter().map(|a| a.to_string()).collect(),
        };
        env.spawn_daemon();
        env
    }

    fn spawn_daemon(&mut self) {
        let log =
            std::fs::File::create(self.base.join(format!("daemon{}.log", self.restarts))).unwrap();
        self.restarts += 1;
        let mut cmd = match &self.netns {
            // `ip netns exec` execs the daemon: the child's pid is the daemon's.
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(oxvirtd().get_program());
                c
            }
            None => oxvirtd(),
        };
        let child = cmd
            .arg("--runtime-dir")
            .arg(&self.run)
            .arg("--state-dir")
            .arg(&self.state)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.daemon = Some(child);
        let sock = self.run.join("libvirt-sock");
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until {
            if std::os::unix::net::UnixStream::connect(&sock).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("oxvirtd did not listen on {}", sock.display());
    }

    /// The daemon's pid.
    pub fn daemon_pid(&self) -> u32 {
        self.daemon.as_ref().unwrap().id()
    }

    /// `kill -9` of the daemon (its guests keep running), reaped.
    pub fn kill_daemon(&mut self) {
        if let Some(mut child) = self.daemon.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// A new daemon on the same directories.
    pub fn restart_daemon(&mut self) {
        assert!(self.daemon.is_none(), "the daemon still runs");
        self.spawn_daemon();
    }

    /// `qemu+unix:///system` through this daemon's socket.
    pub fn uri(&self) -> String {
        format!(
            "qemu+unix:///system?socket={}",
            self.run.join("libvirt-sock").display()
        )
    }

    /// Runs virsh on this daemon (stopped after 60 s).
    pub fn virsh(&self, args: &[&str]) -> Output {
        Command::new("timeout")
            .args(["60", "virsh", "-c", &self.uri()])
            .args(args)
            .output()
            .unwrap()
    }

    /// Runs virsh on this daemon, asserting success; its stdout.
    pub fn virsh_ok(&self, args: &[&str]) -> String {
        let out = self.virsh(args);
        assert!(
            out.status.success(),
            "virsh {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs virsh on this daemon, asserting failure; its stderr, trimmed.
    pub fn virsh_err(&self, args: &[&str]) -> String {
        let out = self.virsh(args);
        assert!(
            !out.status.success(),
            "virsh {args:?} succeeded: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).trim().to_owned()
    }

    /// A TCG guest named `name`: 256 MiB, `pc`, direct kernel boot, a pty serial (with
    /// `serial_extra` inside `<serial>`) and console, and `devices` before them.
    pub fn domain_xml(&self, name: &str, devices: &str, serial_extra: &str) -> String {
        format!(
            "<domain type='qemu'>\n  <name>{name}</name>\n  <memory unit='MiB'>256</memory>\n  \
             <vcpu>1</vcpu>\n  <os>\n    <type arch='x86_64' machine='pc'>hvm</type>\n    \
             <kernel>{}</kernel>\n    <initrd>{}</initrd>\n    \
             <cmdline>console=ttyS0 panic=-1</cmdline>\n  </os>\n  <features><acpi/></features>\n  \
             <devices>\n    {devices}\n    <serial type='pty'>{serial_extra}</serial>\n    \
             <console type='pty'/>\n  </devices>\n</domain>\n",
            self.guest.kernel.display(),
            self.guest.initrd.display()
        )
    }

    /// Writes `xml` to the private dir and `virsh define`s it.
    pub fn define_xml(&self, name: &str, xml: &str) {
        let file = self.base.join(format!("{name}.xml"));
        std::fs::write(&file, xml).unwrap();
        let out = self.virsh_ok(&["define", file.to_str().unwrap()]);
        assert!(out.contains(&format!("Domain '{name}' defined")), "{out}");
    }

    /// Defines the plain guest `name` (with `devices`).
    pub fn define(&self, name: &str, devices: &str) {
        self.define_xml(name, &self.domain_xml(name, devices, ""));
    }

    /// A disk image in the private dir (`qemu-img create -f FORMAT`), its path.
    pub fn image(&self, file: &str, format: &str, size: &str) -> String {
        let path = self.base.join(file);
        let out = Command::new("qemu-img")
            .args(["create", "-q", "-f", format])
            .arg(&path)
            .arg(size)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        path.to_str().unwrap().to_owned()
    }

    /// `virsh domstate --reason NAME`, trimmed.
    pub fn domstate(&self, name: &str) -> String {
        self.virsh_ok(&["domstate", "--reason", name])
            .trim()
            .to_owned()
    }

    /// Polls `domstate --reason` until it is `want` (at most `secs`); the last state.
    pub fn wait_state(&self, name: &str, want: &str, secs: u64) -> String {
        let until = Instant::now() + Duration::from_secs(secs);
        loop {
            let state = self.domstate(name);
            if state == want || Instant::now() > until {
                return state;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Opens `name`'s console through the RPC stream, does `action` (`none`, `resume`,
    /// `shutdown`, `reboot`, or `run` with `cmd`), and waits up to `secs` for `expect`:
    /// the helper's report, `found` or `missing: ...` (then what `run` printed).
    pub fn console(
        &self,
        name: &str,
        expect: &str,
        secs: u32,
        action: &str,
        cmd: &[&str],
    ) -> String {
        let limit = (secs + 20).to_string();
        let out = Command::new("timeout")
            .args([&limit, PYTHON, "-c", CONSOLE_PY])
            .args([&self.uri(), name, expect, &secs.to_string(), action])
            .args(cmd)
            .output()
            .unwrap();
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }

    /// Starts `name` paused, opens its console, resumes it and waits for the guest's disk
    /// report (acpid is ready then); asserts it came.
    pub fn boot(&self, name: &str) {
        self.virsh_ok(&["start", "--paused", name]);
        let seen = self.console(name, "OXVIRT-DISKS:", 60, "resume", &[]);
        assert!(seen.starts_with("found"), "{name} did not boot: {seen}");
    }

    /// The QEMU pid of running `name` (`pid='N'` in `RUNTIME/qemu/NAME.xml`).
    pub fn qemu_pid(&self, name: &str) -> u32 {
        let status = std::fs::read_to_string(self.run.join(format!("qemu/{name}.xml"))).unwrap();
        let at = status.find(" pid='").expect("no pid in the status file") + 6;
        status[at..].split('\'').next().unwrap().parse().unwrap()
    }

    /// The pids of processes whose command line names this environment's directory
    /// (its QEMUs; the daemon's own command line names it too and is excluded).
    pub fn leftover_processes(&self) -> Vec<u32> {
        let out = Command::new("pgrep")
            .arg("-f")
            .arg(format!("{}/", self.base.display()))
            .output()
            .unwrap();
        let daemon = self.daemon.as_ref().map(Child::id);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .filter(|pid| Some(*pid) != daemon && *pid != std::process::id())
            .collect()
    }

    /// Polls until no process names this environment's directory (at most `secs`); those
    /// left.
    pub fn wait_no_leftovers(&self, secs: u64) -> Vec<u32> {
        let until = Instant::now() + Duration::from_secs(secs);
        loop {
            let left = self.leftover_processes();
            if left.is_empty() || Instant::now() > until {
                return left;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl QemuEnv {
    /// Prints the daemons' logs and the guests' QEMU logs (a failing test shows them).
    fn dump_logs(&self) {
        let mut logs: Vec<PathBuf> = (0..self.restarts)
            .map(|i| self.base.join(format!("daemon{i}.log")))
            .collect();
        if let Ok(dir) = std::fs::read_dir(self.state.join("qemu/log")) {
            logs.extend(dir.filter_map(|e| e.ok().map(|e| e.path())));
        }
        for log in logs {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(40).collect();
            eprintln!("---- {} (last {} lines)", log.display(), tail.len());
            for line in tail.into_iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

impl Drop for QemuEnv {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.dump_logs();
        }
        if self.daemon.is_some() {
            let names = self.virsh(&["list", "--all", "--name"]);
            for name in String::from_utf8_lossy(&names.stdout).lines() {
                let name = name.trim();
                if name.is_empty() {
                    continue;
                }
                let _ = self.virsh(&["destroy", name]);
                let out = self.virsh(&["undefine", name]);
                if !out.status.success() {
                    let _ = self.virsh(&["undefine", "--snapshots-metadata", name]);
                }
            }
        }
        self.kill_daemon();
        for pid in self.leftover_processes() {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
        let _ = self.wait_no_leftovers(5);
    }
}
