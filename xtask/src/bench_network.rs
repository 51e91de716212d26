//! `cargo xtask bench network`: net-start, net-destroy and DHCP lease latencies of a NAT
//! network on a release oxvirtd and on Debian's libvirtd 9.0, same python3-libvirt client,
//! same run (`xtask/data/network_bench.py`).
//!
//! Nothing is created in the root network namespace: oxvirtd runs inside a namespace of its
//! own, and a second, private libvirtd runs inside another one with tmpfs over the
//! directories libvirt's drivers keep state in (`/run/libvirt`, `/var/lib/libvirt`,
//! `/etc/libvirt/qemu` with its networks and autostart marks, `/etc/libvirt/storage`,
//! `/var/cache/libvirt`), so it neither sees nor disturbs the system's libvirtd and its
//! `default` network; its sockets go to a scratch folder the client reaches. Everything
//! (daemons, their dnsmasq, the namespaces) goes away at the end, also on failure.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::{cargo, cmd, step};

/// Timed net-start/net-destroy cycles per daemon.
const CYCLES: &str = "20";
/// DHCP leases timed per daemon.
const LEASES: &str = "5";

/// The bench's namespaces, daemons and scratch folder, all removed when dropped.
pub(crate) struct NetnsLab {
    /// Namespace names start with this (clients too).
    prefix: String,
    /// Daemons started inside the namespaces (`ip netns exec` execs them: the pid is theirs).
    daemons: Vec<Child>,
    scratch: PathBuf,
}

impl NetnsLab {
    /// A lab whose namespaces are named `oxvt-<tag>-<pid>-*`, with a fresh scratch folder.
    pub(crate) fn new(tag: &str, scratch: PathBuf) -> Result<Self> {
        let lab = NetnsLab {
            prefix: format!("oxvt-{tag}-{}", std::process::id()),
            daemons: Vec::new(),
            scratch,
        };
        let _ = std::fs::remove_dir_all(&lab.scratch);
        std::fs::create_dir_all(&lab.scratch)
            .with_context(|| format!("creating {}", lab.scratch.display()))?;
        Ok(lab)
    }

    /// The name of namespace `name` of this lab.
    pub(crate) fn ns(&self, name: &str) -> String {
        format!("{}-{name}", self.prefix)
    }

    /// Creates namespace `name` with its loopback up; returns its full name.
    pub(crate) fn add_ns(&self, name: &str) -> Result<String> {
        let ns = self.ns(name);
        run_quiet(Command::new("ip").args(["netns", "add", &ns]))?;
        run_quiet(Command::new("ip").args(["-n", &ns, "link", "set", "lo", "up"]))?;
        Ok(ns)
    }

    /// Starts `argv` inside namespace `ns` (with `ip netns exec`, which also gives it a
    /// private mount namespace), its output to `log`.
    pub(crate) fn spawn_in(&mut self, ns: &str, argv: &[&str], log: &Path) -> Result<()> {
        let out =
            std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let err = out.try_clone()?;
        let child = Command::new("ip")
            .args(["netns", "exec", ns])
            .args(argv)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("starting {} in {ns}", argv.join(" ")))?;
        self.daemons.push(child);
        Ok(())
    }

    /// The scratch folder.
    pub(crate) fn scratch(&self) -> &Path {
        &self.scratch
    }

    /// Waits for a daemon's socket; fails with the end of its log if it does not come.
    pub(crate) fn wait_socket(&mut self, sock: &Path, log: &Path, secs: u64) -> Result<()> {
        let started = Instant::now();
        while std::os::unix::net::UnixStream::connect(sock).is_err() {
            let exited = self
                .daemons
                .iter_mut()
                .any(|c| matches!(c.try_wait(), Ok(Some(_))));
            if exited || started.elapsed().as_secs() > secs {
                let text = std::fs::read_to_string(log).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(8).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                bail!(
                    "no daemon listened on {} (log {}):\n{}",
                    sock.display(),
                    log.display(),
                    tail.join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }
}

impl Drop for NetnsLab {
    fn drop(&mut self) {
        for child in &self.daemons {
            signal("-TERM", child.id());
        }
        for child in &mut self.daemons {
            let started = Instant::now();
            while matches!(child.try_wait(), Ok(None)) && started.elapsed().as_secs() < 10 {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        // What is left in our namespaces (dnsmasq, which libvirtd leaves running on
        // purpose; a client's udhcpc) is ours: kill it by pid, then delete the namespaces.
        let listed = Command::new("ip").args(["netns", "list"]).output();
        let listed = listed
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        for ns in listed
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .filter(|n| n.starts_with(&format!("{}-", self.prefix)))
        {
            let pids = Command::new("ip").args(["netns", "pids", ns]).output();
            for pid in pids
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|p| p.parse::<u32>().ok())
            {
                signal("-KILL", pid);
            }
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        let _ = std::fs::remove_dir_all(&self.scratch);
    }
}

fn signal(sig: &str, pid: u32) {
    let _ = Command::new("kill")
        .args([sig, &pid.to_string()])
        .stderr(Stdio::null())
        .status();
}

fn run_quiet(c: &mut Command) -> Result<()> {
    let out = c.output().with_context(|| format!("running {c:?}"))?;
    if !out.status.success() {
        bail!(
            "{c:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// The tools the network bench and the main job's network part need.
pub(crate) fn missing_tools(with_libvirtd: bool) -> Vec<&'static str> {
    let mut tools = vec!["ip", "bridge", "nft", "dnsmasq", "busybox"];
    if with_libvirtd {
        tools.extend(["libvirtd", "iptables"]);
    }
    tools
        .into_iter()
        .filter(|t| {
            !["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
                .iter()
                .any(|d| Path::new(d).join(t).exists())
        })
        .collect()
}

/// Starts a release oxvirtd inside namespace `ns` of `lab`, its state and sockets under
/// `dir`; returns its `qemu:///system` URI.
pub(crate) fn start_oxvirtd(
    root: &Path,
    lab: &mut NetnsLab,
    ns: &str,
    dir: &Path,
) -> Result<String> {
    let run = dir.join("run");
    let state = dir.join("state");
    let log = dir.join("oxvirtd.log");
    std::fs::create_dir_all(dir)?;
    let bin = root.join("target/release/oxvirtd").display().to_string();
    let (run_s, state_s) = (run.display().to_string(), state.display().to_string());
    lab.spawn_in(
        ns,
        &[&bin, "--runtime-dir", &run_s, "--state-dir", &state_s],
        &log,
    )?;
    let sock = run.join("libvirt-sock");
    lab.wait_socket(&sock, &log, 15)?;
    Ok(format!("qemu+unix:///system?socket={}", sock.display()))
}

/// A private libvirtd inside namespace `ns`: tmpfs over libvirt's state folders (in the
/// namespace's own mount view), sockets in `dir/sock`, no TCP, no polkit.
fn start_libvirtd(lab: &mut NetnsLab, ns: &str, dir: &Path) -> Result<String> {
    let sock_dir = dir.join("sock");
    std::fs::create_dir_all(&sock_dir)?;
    let conf = dir.join("libvirtd.conf");
    std::fs::write(
        &conf,
        format!(
            "listen_tls = 0\nlisten_tcp = 0\nunix_sock_dir = \"{}\"\n\
             auth_unix_rw = \"none\"\nauth_unix_ro = \"none\"\nlog_outputs = \"3:stderr\"\n",
            sock_dir.display()
        ),
    )?;
    let script = format!(
        "set -e; for d in /run/libvirt /var/lib/libvirt /etc/libvirt/qemu /etc/libvirt/storage \
         /var/cache/libvirt; do mkdir -p $d; mount -t tmpfs oxvirt-bench $d; done; \
         exec libvirtd -f {} -p /run/libvirt/libvirtd.pid",
        conf.display()
    );
    let log = dir.join("libvirtd.log");
    lab.spawn_in(ns, &["sh", "-c", &script], &log)?;
    let sock = sock_dir.join("libvirt-sock");
    lab.wait_socket(&sock, &log, 60)?;
    Ok(format!("qemu+unix:///system?socket={}", sock.display()))
}

/// `cargo xtask bench network`.
pub(crate) fn bench_network(root: &Path) -> Result<()> {
    let missing = missing_tools(true);
    if !missing.is_empty() {
        bail!("the network bench needs {} (apt-get install iproute2 nftables dnsmasq-base busybox libvirt-daemon-system iptables)", missing.join(", "));
    }
    step(
        "build oxvirtd (release)",
        cargo(root, &["build", "--release", "-j2", "-p", "oxvirtd"]),
    )?;
    let scratch = std::env::temp_dir().join(format!("oxvirt-bench-net-{}", std::process::id()));
    let mut lab = NetnsLab::new("bnet", scratch)?;
    let ours_ns = lab.add_ns("ox")?;
    let theirs_ns = lab.add_ns("lv")?;
    let ours_dir = lab.scratch().join("oxvirtd");
    let theirs_dir = lab.scratch().join("libvirtd");
    eprintln!("\n==> oxvirtd in network namespace {ours_ns}, a private libvirtd in {theirs_ns}");
    let ours = start_oxvirtd(root, &mut lab, &ours_ns, &ours_dir)?;
    let theirs = start_libvirtd(&mut lab, &theirs_ns, &theirs_dir)?;
    let json = root.join("target/bench-network.json");
    let clients = lab.ns("c");
    step(
        "network latencies: oxvirtd and libvirtd",
        cmd(
            root,
            "/usr/bin/python3",
            &[
                "xtask/data/network_bench.py",
                CYCLES,
                LEASES,
                "xtask/data/network_bench.xml",
                &clients,
                &json.display().to_string(),
                &ours,
                &ours_ns,
                &theirs,
                &theirs_ns,
            ],
        ),
    )
}
