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
        sweep_stale(tag);
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
        let ours = format!("{}-", self.prefix);
        for ns in netns_list().into_iter().filter(|n| n.starts_with(&ours)) {
            kill_netns(&ns);
        }
        let _ = std::fs::remove_dir_all(&self.scratch);
    }
}

/// Namespaces `oxvt-<tag>-<pid>-*` of an earlier run whose process is gone (stopped by a
/// signal, so its guard never ran): what runs inside them is killed, then they are deleted.
fn sweep_stale(tag: &str) {
    let start = format!("oxvt-{tag}-");
    for ns in netns_list() {
        let Some(pid) = ns
            .strip_prefix(&start)
            .and_then(|rest| rest.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            eprintln!("removing network namespace {ns}, left by an interrupted run");
            kill_netns(&ns);
        }
    }
}

/// The names of the named network namespaces.
pub(crate) fn netns_list() -> Vec<String> {
    Command::new("ip")
        .args(["netns", "list"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

/// Kills every process inside namespace `ns` (by pid) and deletes it.
pub(crate) fn kill_netns(ns: &str) {
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

/// Sends `sig` (like "-TERM") to `pid`, quietly.
pub(crate) fn signal(sig: &str, pid: u32) {
    let _ = Command::new("kill")
        .args([sig, &pid.to_string()])
        .stderr(Stdio::null())
        .status();
}

/// Runs `c`; fails with its stderr when it fails.
pub(crate) fn run_quiet(c: &mut Command) -> Result<()> {
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
pub(crate) fn start_libvirtd(lab: &mut NetnsLab, ns: &str, dir: &Path) -> Result<String> {
    start_libvirtd_with(lab, ns, dir, &LibvirtdExtra::default())
}

/// What a private libvirtd gets on top of [`start_libvirtd`]'s setup.
#[derive(Debug, Default)]
pub(crate) struct LibvirtdExtra<'a> {
    /// Listen on TCP (`listen_tcp = 1` and `--listen`); `auth_tcp` is then "none".
    pub(crate) tcp: bool,
    /// More lines for libvirtd.conf (like `host_uuid = "..."`).
    pub(crate) conf: &'a str,
    /// Shell commands run in the namespace's mount view after the tmpfs mounts, before
    /// libvirtd starts (like a virtlogd of its own).
    pub(crate) prelude: &'a str,
}

/// [`start_libvirtd`] with `extra`.
pub(crate) fn start_libvirtd_with(
    lab: &mut NetnsLab,
    ns: &str,
    dir: &Path,
    extra: &LibvirtdExtra<'_>,
) -> Result<String> {
    let sock_dir = dir.join("sock");
    std::fs::create_dir_all(&sock_dir)?;
    let conf = dir.join("libvirtd.conf");
    let tcp = if extra.tcp {
        "listen_tcp = 1\nauth_tcp = \"none\"\n"
    } else {
        "listen_tcp = 0\n"
    };
    std::fs::write(
        &conf,
        format!(
            "listen_tls = 0\n{tcp}unix_sock_dir = \"{}\"\n\
             auth_unix_rw = \"none\"\nauth_unix_ro = \"none\"\nlog_outputs = \"3:stderr\"\n{}",
            sock_dir.display(),
            extra.conf
        ),
    )?;
    let prelude = if extra.prelude.is_empty() {
        String::new()
    } else {
        format!("{}; ", extra.prelude)
    };
    let script = format!(
        "set -e; for d in /run/libvirt /var/lib/libvirt /etc/libvirt/qemu /etc/libvirt/storage \
         /var/cache/libvirt; do mkdir -p $d; mount -t tmpfs oxvirt-bench $d; done; \
         {prelude}exec libvirtd -f {} -p /run/libvirt/libvirtd.pid{}",
        conf.display(),
        if extra.tcp { " --listen" } else { "" }
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

/// The NAT network the bench and the main job define.
const NETWORK_XML: &str = include_str!("../data/network_bench.xml");

/// Plugs a new client namespace `client` of `lab` into `bridge` (in namespace `ns`) by a
/// veth and has busybox udhcpc ask for a lease; returns the time from udhcpc's start to the
/// lease and udhcpc's lease line.
fn dhcp_client(lab: &NetnsLab, ns: &str, bridge: &str, client: &str) -> Result<(Duration, String)> {
    let client = lab.add_ns(client)?;
    let port = "oxbv0";
    run_quiet(Command::new("ip").args([
        "-n", ns, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", &client,
    ]))?;
    run_quiet(Command::new("ip").args(["-n", ns, "link", "set", port, "master", bridge, "up"]))?;
    run_quiet(Command::new("ip").args(["-n", &client, "link", "set", "eth0", "up"]))?;
    let started = Instant::now();
    loop {
        let out = Command::new("bridge")
            .args(["-n", ns, "link", "show", "dev", port])
            .output()
            .context("running bridge")?;
        if String::from_utf8_lossy(&out.stdout).contains("state forwarding") {
            break;
        }
        if started.elapsed().as_secs() > 10 {
            bail!("{port} on {bridge} did not reach the forwarding state in 10 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let started = Instant::now();
    let out = Command::new("ip")
        .args(["netns", "exec", &client, "busybox", "udhcpc", "-i", "eth0"])
        .args(["-n", "-q", "-f", "-s", "/bin/true", "-t", "5"])
        .output()
        .context("running busybox udhcpc")?;
    let took = started.elapsed();
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!("udhcpc got no lease on {bridge}:\n{}", text.trim());
    }
    let line = text
        .lines()
        .find(|l| l.contains("lease of"))
        .unwrap_or("lease obtained")
        .trim()
        .to_string();
    Ok((took, line))
}

/// The test guest (built by `cargo xtask guest`) with a virtio NIC on the network: its
/// init's DHCP client reports the lease on the serial console; domifaddr shows it from the
/// lease file; then the guest is destroyed and undefined. Skipped when the guest is not built.
fn guest_on_network(root: &Path, lab: &NetnsLab, uri: &str, oxvirsh: &str) -> Result<()> {
    let guest_dir = root.join("target/guest");
    if !guest_dir.join("vmlinuz").exists() {
        eprintln!("\nSKIPPED the guest on the network: no test guest (cargo xtask guest)");
        return Ok(());
    }
    let serial_log = lab.scratch().join("nettiny-serial.log");
    let xml = std::fs::read_to_string(root.join("xtask/data/qemu-guest.xml"))
        .context("reading xtask/data/qemu-guest.xml")?
        .replace("<name>tiny</name>", "<name>nettiny</name>")
        .replace("@KERNEL@", &guest_dir.join("vmlinuz").display().to_string())
        .replace(
            "@INITRD@",
            &guest_dir.join("initrd.gz").display().to_string(),
        )
        .replace("@SERIALLOG@", &serial_log.display().to_string())
        .replace(
            "</devices>",
            "  <interface type='network'>\n      <source network='oxbench'/>\n      \
             <model type='virtio'/>\n    </interface>\n  </devices>",
        );
    let xml_file = lab.scratch().join("nettiny.xml");
    std::fs::write(&xml_file, xml).context("writing the guest on the network")?;
    let script = |what: &str, lines: &[String]| -> Result<()> {
        let file = lab.scratch().join("guest.oxvirsh");
        std::fs::write(&file, lines.join("\n") + "\n").context("writing the guest workload")?;
        let mut c = cmd(root, oxvirsh, &["-c", uri]);
        c.stdin(Stdio::from(
            std::fs::File::open(&file).context("opening the guest workload")?,
        ));
        step(&format!("{what} on {uri}"), c)
    };
    script(
        "a TCG guest with a NIC on the network",
        &[
            format!("define {}", xml_file.display()),
            "start nettiny".to_string(),
            "domstate nettiny".to_string(),
        ],
    )?;
    eprintln!(
        "\n==> waiting for the guest's lease in {}",
        serial_log.display()
    );
    let started = Instant::now();
    let found = loop {
        let log = std::fs::read_to_string(&serial_log).unwrap_or_default();
        if let Some(line) = log.lines().find(|l| l.contains("OXVIRT-LEASE")) {
            break Some(line.trim().to_string());
        }
        if started.elapsed().as_secs() > 90 {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    if let Some(line) = &found {
        eprintln!("{line} (after {:.1} s)", started.elapsed().as_secs_f64());
    }
    let shown = script(
        "the guest's address, then destroy and undefine it",
        &[
            "domifaddr nettiny".to_string(),
            "destroy nettiny".to_string(),
            "undefine nettiny".to_string(),
        ],
    );
    if found.is_none() {
        bail!("the guest on the network reported no OXVIRT-LEASE within 90 s");
    }
    shown
}

/// Whether this process runs as root (namespaces, bridges and dnsmasq need it).
pub(crate) fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// The main job's network part: a second oxvirtd inside a network namespace of its own
/// (never the root one) defines and starts a NAT network from the embedded XML through
/// `oxvirsh`'s net-* commands, a client namespace on its bridge (busybox udhcpc) and a TCG
/// guest with a NIC on it get DHCP leases that net-dhcp-leases shows (the guest's also
/// domifaddr), then the network is destroyed and undefined and
/// nothing of it is left: no bridge, no dnsmasq, no `inet oxvirt` table. Skipped (with a
/// line saying why) when not root, a tool is missing or namespaces cannot be made.
pub(crate) fn network_workload(root: &Path, scratch: &Path, oxvirsh: &str) -> Result<()> {
    let missing = missing_tools(false);
    if !is_root() || !missing.is_empty() {
        eprintln!(
            "\nSKIPPED the network part: it needs root and {}",
            if missing.is_empty() {
                "runs as another user".to_string()
            } else {
                format!("{} (missing)", missing.join(", "))
            }
        );
        return Ok(());
    }
    let mut lab = NetnsLab::new("run", scratch.join("net"))?;
    let ns = match lab.add_ns("host") {
        Ok(ns) => ns,
        Err(e) => {
            eprintln!("\nSKIPPED the network part: no network namespace here: {e:#}");
            return Ok(());
        }
    };
    let dir = lab.scratch().join("oxvirtd");
    eprintln!("\n==> oxvirtd in network namespace {ns} (qemu:///system's networks)");
    let uri = start_oxvirtd(root, &mut lab, &ns, &dir)?;
    let xml = lab.scratch().join("network.xml");
    std::fs::write(&xml, NETWORK_XML).context("writing the network XML")?;
    let script = |what: &str, lines: &[String]| -> Result<()> {
        let file = dir.join("net.oxvirsh");
        std::fs::write(&file, lines.join("\n") + "\n").context("writing the network workload")?;
        let mut c = cmd(root, oxvirsh, &["-c", &uri]);
        c.stdin(Stdio::from(
            std::fs::File::open(&file).context("opening the network workload")?,
        ));
        step(&format!("{what} on {uri}"), c)
    };
    let s = |x: &str| x.to_string();
    script(
        "define and start a NAT network",
        &[
            format!("net-define {}", xml.display()),
            s("net-start oxbench"),
            s("net-list --all"),
            s("net-info oxbench"),
        ],
    )?;
    eprintln!("\n==> a client namespace on bridge oxbench0 asks for a lease (busybox udhcpc)");
    let (took, line) = dhcp_client(&lab, &ns, "oxbench0", "client")?;
    eprintln!("{line} (after {:.2} s)", took.as_secs_f64());
    guest_on_network(root, &lab, &uri, oxvirsh)?;
    script(
        "the leases, then destroy and undefine the network",
        &[
            s("net-dhcp-leases oxbench"),
            s("net-destroy oxbench"),
            s("net-undefine oxbench"),
            s("net-list --all"),
        ],
    )?;
    let in_ns = |args: &[&str]| -> String {
        Command::new("ip")
            .args(["netns", "exec", &ns])
            .args(args)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    };
    let bridge_left = !in_ns(&["ip", "-br", "link", "show", "type", "bridge"])
        .trim()
        .is_empty();
    let table_left = in_ns(&["nft", "list", "tables"]).contains("inet oxvirt");
    let dnsmasq_left = Command::new("ip")
        .args(["netns", "pids", &ns])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
        .split_whitespace()
        .any(|p| {
            std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == "dnsmasq")
        });
    let word = |left: bool| if left { "LEFT" } else { "none" };
    eprintln!(
        "after net-destroy in {ns}: bridge {}, nft table inet oxvirt {}, dnsmasq {}",
        word(bridge_left),
        word(table_left),
        word(dnsmasq_left)
    );
    if bridge_left || table_left || dnsmasq_left {
        bail!("net-destroy left something behind in {ns}");
    }
    Ok(())
}
