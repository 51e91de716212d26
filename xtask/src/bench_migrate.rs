//! `cargo xtask bench migrate`: how long `virsh migrate` takes, end to end as its user sees
//! it, and the guest's downtime, for a booted 256 MiB TCG guest (the test guest of `cargo
//! xtask guest`) between two release oxvirtd nodes, between two private Debian libvirtd 9.0
//! nodes on the same two-node setup, and between two raw QEMU processes, in one run.
//!
//! The two nodes are network namespaces `oxvt-bmig-<pid>-a` and `-b` plugged into a bridge
//! of the root namespace (`oxbm<pid>`, 192.168.251.254/24), as `cargo xtask nodes up` builds
//! its nodes: node a is 192.168.251.1, node b .2, each daemon listens on TCP 16509 of its
//! address without authentication (oxvirtd `--listen-tcp --allow-remote-tcp`, libvirtd
//! `listen_tcp = 1`, `auth_tcp = "none"`, `--listen`) and has its own `host_uuid`. Each pair
//! gets fresh namespaces, used by it alone: oxvirtd's first, then libvirtd's. Both daemons
//! keep their state on tmpfs (libvirtd as the storage and network benches run it, with a
//! virtlogd of its own; oxvirtd as the storage bench runs it).
//!
//! For each daemon and each mode of [`MODES`], the guest (created transient on node a,
//! booted: its `OXVIRT-DISKS` line on the serial console) first moves a→b→a untimed (the
//! first migration to a node pays for first-time work there, like libvirtd probing QEMU),
//! then moves a→b, b→a, ... for `OXBENCH_ROUNDS` rounds (6 by default); each round is
//! `virsh -c qemu+tcp://SRC/system migrate FLAGS migbench qemu+tcp://DEST/system
//! [--migrateuri tcp://DEST]` run and timed
//! from the root namespace, then `virsh domjobinfo --completed` on the destination (or the
//! source) gives the downtime. A mode a daemon refuses (its first round fails) is skipped
//! with the daemon's message. Each daemon migration is followed by a raw QEMU one in the same
//! namespaces (so both see the same load on this shared machine): a second guest under a
//! plain QEMU, a destination started with `-incoming defer` on the other node, then
//! `migrate-incoming`, `migrate` with libvirt's unlimited `max-bandwidth`, `query-migrate`
//! polled until completed: its `total-time` and `downtime`.
//!
//! The table (medians with min-max, the oxvirtd/libvirtd ratio, oxvirtd's time minus the
//! raw QEMU migrations' beside it) is printed and written to `target/bench/migrate.txt`
//! with every round's figures.
//! Everything (daemons, QEMUs, virtlogd, namespaces, bridge, scratch folder) is removed at
//! the end, also on failure.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::bench_network::{is_root, run_quiet, start_libvirtd_with, LibvirtdExtra, NetnsLab};
use crate::bench_storage::start_oxvirtd_on_tmpfs;
use crate::nodes::{add_bridge, link_exists, plug_ns};
use crate::{cargo, guest, step};

/// A mode of `virsh migrate`: its name in the table and the options that select it.
struct Mode {
    name: &'static str,
    flags: &'static [&'static str],
    /// Whether `--migrateuri tcp://DEST` goes with it (libvirt refuses it with
    /// `--tunnelled`, whose stream travels inside the RPC connection).
    migrateuri: bool,
}

/// The modes timed, in this order. Add one here: a daemon that refuses it is reported as
/// skipped.
const MODES: &[Mode] = &[
    Mode {
        name: "live",
        flags: &["--live"],
        migrateuri: true,
    },
    Mode {
        name: "live --p2p",
        flags: &["--live", "--p2p"],
        migrateuri: true,
    },
    Mode {
        name: "live --p2p --tunnelled",
        flags: &["--live", "--p2p", "--tunnelled"],
        migrateuri: false,
    },
];

/// One of the two nodes.
struct Node {
    name: &'static str,
    addr: &'static str,
    uuid: &'static str,
}

const NODES: [Node; 2] = [
    Node {
        name: "a",
        addr: "192.168.251.1",
        uuid: "6f787674-626d-4967-8000-00000000000a",
    },
    Node {
        name: "b",
        addr: "192.168.251.2",
        uuid: "6f787674-626d-4967-8000-00000000000b",
    },
];

/// The host's address on the bridge, and the prefix length of the nodes' network.
const HOST_CIDR: &str = "192.168.251.254/24";
const PREFIX: u8 = 24;
/// libvirt's TCP port.
const TCP_PORT: u16 = 16509;
/// The port raw QEMU's destination listens on (outside the daemons' 49152-49215).
const RAW_PORT: u16 = 49400;
/// The guest's name.
const NAME: &str = "migbench";
/// libvirt's "unlimited" migration bandwidth (`QEMU_DOMAIN_MIG_BANDWIDTH_MAX` MiB/s) in
/// bytes per second, as libvirt and oxvirtd give QEMU's `max-bandwidth`.
const UNLIMITED_BANDWIDTH: u64 = 9_223_372_036_853_727_232;
/// Migrations per mode and pair unless `OXBENCH_ROUNDS` says otherwise (even: the guest
/// ends where it started).
const DEFAULT_ROUNDS: usize = 6;
/// Untimed migrations (a→b, b→a) before the timed ones, on every pair.
const WARMUP: usize = 2;
/// How long the guest may take to boot (libvirtd probes QEMU at its first start).
const BOOT_SECS: u64 = 120;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Daemon {
    Oxvirtd,
    Libvirtd,
}

impl Daemon {
    fn name(self) -> &'static str {
        match self {
            Daemon::Oxvirtd => "oxvirtd",
            Daemon::Libvirtd => "libvirtd",
        }
    }
}

/// One `virsh migrate`.
#[derive(Debug, Clone, Copy)]
struct Round {
    /// From `a` (0) or `b` (1).
    from: usize,
    /// `virsh migrate`'s wall time, in ms.
    wall_ms: f64,
    /// `Total downtime` of `domjobinfo --completed`, in ms.
    downtime_ms: Option<f64>,
    /// `Time elapsed` of `domjobinfo --completed`, in ms.
    elapsed_ms: Option<f64>,
}

/// A mode on one daemon pair.
struct ModeRun {
    mode: &'static str,
    rounds: Vec<Round>,
    /// Why the mode stopped before its rounds were done (refused, or failed later).
    stopped: Option<String>,
    /// Raw QEMU migrations, one right after each of the daemon's, in the same namespaces.
    raw: Vec<RawRound>,
}

/// One raw QEMU migration.
#[derive(Debug, Clone, Copy)]
struct RawRound {
    from: usize,
    /// query-migrate's `total-time`, in ms.
    total_ms: f64,
    /// query-migrate's `downtime`, in ms.
    downtime_ms: f64,
    /// From `migrate-incoming` to `completed` polled on the source, in ms.
    wall_ms: f64,
}

/// The guest's kernel and initrd, copied where libvirtd's QEMU user can read them.
struct GuestFiles {
    kernel: PathBuf,
    initrd: PathBuf,
}

/// `cargo xtask bench migrate`.
pub(crate) fn bench_migrate(root: &Path) -> Result<()> {
    if !is_root() {
        bail!("the migration bench needs root (network namespaces, a bridge, libvirtd)");
    }
    let missing: Vec<&str> = ["ip", "virsh", "libvirtd", "virtlogd", "qemu-system-x86_64"]
        .into_iter()
        .filter(|t| {
            !["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
                .iter()
                .any(|d| Path::new(d).join(t).exists())
        })
        .collect();
    if !missing.is_empty() {
        bail!(
            "the migration bench needs {} (apt-get install iproute2 libvirt-clients \
             libvirt-daemon-system qemu-system-x86)",
            missing.join(", ")
        );
    }
    let rounds = match std::env::var("OXBENCH_ROUNDS") {
        Ok(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .with_context(|| format!("OXBENCH_ROUNDS={v}: not a positive number"))?,
        Err(_) => DEFAULT_ROUNDS,
    };
    guest::guest(root, &[])?;
    crate::kvm_node_as_udev_leaves_it();
    // OXBENCH_NO_BUILD=1 takes target/release/oxvirtd as it is (say, while the tree
    // does not build).
    if std::env::var_os("OXBENCH_NO_BUILD").is_some()
        && root.join("target/release/oxvirtd").exists()
    {
        eprintln!("OXBENCH_NO_BUILD: target/release/oxvirtd as it is, not rebuilt");
    } else {
        step(
            "build oxvirtd (release)",
            cargo(root, &["build", "--release", "-j2", "-p", "oxvirtd"]),
        )?;
    }
    let base =
        Scratch(std::env::temp_dir().join(format!("oxvirt-bench-mig-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&base.0);
    std::fs::create_dir_all(&base.0).with_context(|| format!("creating {}", base.0.display()))?;
    let files = GuestFiles {
        kernel: base.0.join("vmlinuz"),
        initrd: base.0.join("initrd.gz"),
    };
    for (from, to) in [("vmlinuz", &files.kernel), ("initrd.gz", &files.initrd)] {
        std::fs::copy(root.join("target/guest").join(from), to)
            .with_context(|| format!("copying target/guest/{from}"))?;
    }
    sweep_stale_bridges();
    let bridge = Bridge::add(&format!("oxbm{}", std::process::id()))?;
    let mut notes = vec![format!("load average at the start: {}", loadavg())];

    let mut runs = Vec::new();
    for daemon in [Daemon::Oxvirtd, Daemon::Libvirtd] {
        eprintln!(
            "\n==> {0} → {0} ({rounds} migrations per mode, each followed by a raw QEMU one)",
            daemon.name()
        );
        let (modes, warm) = daemon_pair(root, &base.0, &bridge.0, daemon, rounds, &files)?;
        notes.push(format!(
            "{} warm-up migrations (not counted): {}",
            daemon.name(),
            warm.iter()
                .map(|ms| format!("{ms:.0} ms"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        runs.push((daemon, modes));
        notes.push(format!(
            "load average after {}: {}",
            daemon.name(),
            loadavg()
        ));
    }
    let text = report(rounds, &runs, &notes);
    println!("\n{text}");
    let out = root.join("target/bench/migrate.txt");
    std::fs::create_dir_all(root.join("target/bench"))?;
    std::fs::write(&out, &text).with_context(|| format!("writing {}", out.display()))?;
    eprintln!("(written to {})", out.display());
    Ok(())
}

/// The scratch folder, removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The nodes' bridge in the root namespace, deleted when dropped.
struct Bridge(String);

impl Bridge {
    fn add(name: &str) -> Result<Bridge> {
        eprintln!("\n==> bridge {name} ({HOST_CIDR}) in the root namespace");
        if let Err(e) = add_bridge(name, HOST_CIDR) {
            let _ = Command::new("ip").args(["link", "del", name]).status();
            return Err(e);
        }
        Ok(Bridge(name.to_string()))
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = run_quiet(Command::new("ip").args(["link", "del", &self.0]));
    }
}

/// Bridges `oxbm<pid>` of earlier runs whose process is gone (stopped by a signal).
fn sweep_stale_bridges() {
    let out = Command::new("ip")
        .args(["-br", "link", "show", "type", "bridge"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    for name in out.lines().filter_map(|l| l.split_whitespace().next()) {
        let Some(pid) = name
            .strip_prefix("oxbm")
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            eprintln!("removing bridge {name}, left by an interrupted run");
            let _ = run_quiet(Command::new("ip").args(["link", "del", name]));
        }
    }
}

/// `/proc/loadavg`'s first three figures.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|t| t.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// The two nodes of one pair: fresh namespaces plugged into the bridge. Dropping it
/// deletes the veths, then the lab kills what runs in the namespaces and deletes them.
struct TwoNodes {
    ns: [String; 2],
    legs: Vec<String>,
    lab: NetnsLab,
}

impl Drop for TwoNodes {
    fn drop(&mut self) {
        for leg in &self.legs {
            let _ = run_quiet(Command::new("ip").args(["link", "del", leg]));
        }
    }
}

/// [`TwoNodes`] for pair number `index` (its veths' names differ from the other pairs':
/// a deleted namespace's veth lingers a moment), `phase` naming its scratch folder.
fn two_nodes(base: &Path, index: usize, phase: &str, bridge: &str) -> Result<TwoNodes> {
    let mut nodes = TwoNodes {
        ns: [String::new(), String::new()],
        legs: Vec::new(),
        lab: NetnsLab::new("bmig", base.join(phase))?,
    };
    for (i, node) in NODES.iter().enumerate() {
        nodes.ns[i] = nodes.lab.add_ns(node.name)?;
        let leg = format!("{bridge}{index}{}", node.name);
        if !link_exists(bridge) {
            bail!("bridge {bridge} is gone");
        }
        plug_ns(
            bridge,
            &nodes.ns[i],
            &leg,
            &format!("{}/{PREFIX}", node.addr),
        )?;
        nodes.legs.push(leg);
    }
    Ok(nodes)
}

/// Waits until `log` has a line containing `marker`.
fn wait_marker(log: &Path, marker: &str, secs: u64) -> Result<Duration> {
    let started = Instant::now();
    loop {
        if std::fs::read_to_string(log).is_ok_and(|t| t.contains(marker)) {
            return Ok(started.elapsed());
        }
        if started.elapsed().as_secs() > secs {
            bail!("no {marker} in {} within {secs} s", log.display());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until TCP `addr:port` accepts a connection.
fn wait_tcp(addr: &str, port: u16, secs: u64) -> Result<()> {
    let sa = std::net::SocketAddr::from((addr.parse::<std::net::Ipv4Addr>()?, port));
    let started = Instant::now();
    while std::net::TcpStream::connect_timeout(&sa, Duration::from_millis(200)).is_err() {
        if started.elapsed().as_secs() > secs {
            bail!("nothing listens on {sa} after {secs} s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// Whether a daemon's QEMU process runs inside namespace `ns` (the raw QEMU beside it,
/// `-name rawbench`, does not count).
fn qemu_in(ns: &str) -> bool {
    Command::new("ip")
        .args(["netns", "pids", ns])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
        .split_whitespace()
        .any(|p| {
            std::fs::read_to_string(format!("/proc/{p}/comm"))
                .is_ok_and(|c| c.starts_with("qemu-system"))
                && !std::fs::read(format!("/proc/{p}/cmdline"))
                    .is_ok_and(|c| String::from_utf8_lossy(&c).contains("rawbench"))
        })
}

fn virsh(uri: &str, args: &[&str]) -> Result<Output> {
    Command::new("timeout")
        .args(["120", "virsh", "-c", uri])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .context("running virsh")
}

fn out_text(out: &Output) -> String {
    let text = String::from_utf8_lossy(&out.stderr).trim().to_string();
    if text.is_empty() {
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    } else {
        text
    }
}

/// The number after `key` on its line of `virsh domjobinfo`'s output.
fn jobinfo_ms(text: &str, key: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(key))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// One daemon pair: both nodes up, the guest created on node a and booted, then every mode
/// of [`MODES`] for `rounds` migrations.
fn daemon_pair(
    root: &Path,
    base: &Path,
    bridge: &str,
    daemon: Daemon,
    rounds: usize,
    files: &GuestFiles,
) -> Result<(Vec<ModeRun>, Vec<f64>)> {
    let mut nodes = two_nodes(base, 1 + daemon as usize, daemon.name(), bridge)?;
    let ns = nodes.ns.clone();
    let lab = &mut nodes.lab;
    for (i, node) in NODES.iter().enumerate() {
        let dir = lab
            .scratch()
            .join(format!("{}-{}", daemon.name(), node.name));
        eprintln!(
            "{} of node {} in {} ({}, host UUID {})",
            daemon.name(),
            node.name,
            ns[i],
            node.addr,
            node.uuid
        );
        match daemon {
            Daemon::Oxvirtd => {
                let listen = format!("{}:{TCP_PORT}", node.addr);
                start_oxvirtd_on_tmpfs(
                    root,
                    lab,
                    &ns[i],
                    &dir,
                    &[
                        "--listen-tcp",
                        &listen,
                        "--allow-remote-tcp",
                        "--host-uuid",
                        node.uuid,
                    ],
                )?;
            }
            Daemon::Libvirtd => {
                let conf = format!("host_uuid = \"{}\"\n", node.uuid);
                start_libvirtd_with(
                    lab,
                    &ns[i],
                    &dir,
                    &LibvirtdExtra {
                        tcp: true,
                        conf: &conf,
                        // Its guests' logs go through a virtlogd of its own; its
                        // /var/log/libvirt is not the system's either.
                        prelude: "mkdir -p /var/log/libvirt; \
                                  mount -t tmpfs oxvirt-bench /var/log/libvirt; \
                                  virtlogd -d -p /run/libvirt/virtlogd.pid",
                    },
                )?;
            }
        }
        wait_tcp(node.addr, TCP_PORT, 60)?;
    }
    let uris: Vec<String> = NODES
        .iter()
        .map(|n| format!("qemu+tcp://{}/system", n.addr))
        .collect();
    let serial = lab.scratch().join("serial.log");
    let xml = std::fs::read_to_string(root.join("xtask/data/qemu-guest.xml"))
        .context("reading xtask/data/qemu-guest.xml")?
        .replace("<name>tiny</name>", &format!("<name>{NAME}</name>"))
        .replace("@KERNEL@", &files.kernel.display().to_string())
        .replace("@INITRD@", &files.initrd.display().to_string())
        .replace("@SERIALLOG@", &serial.display().to_string());
    let xml_file = lab.scratch().join("guest.xml");
    std::fs::write(&xml_file, xml)?;
    let out = virsh(&uris[0], &["create", &xml_file.display().to_string()])?;
    if !out.status.success() {
        bail!("virsh create on {} failed: {}", uris[0], out_text(&out));
    }
    let took = wait_marker(&serial, "OXVIRT-DISKS", BOOT_SECS)?;
    eprintln!(
        "guest {NAME} booted on node a ({:.1} s)",
        took.as_secs_f64()
    );
    let mut raw = RawPair::boot(&ns, &lab.scratch().join("raw"), files)?;
    let mut at = 0;
    // Untimed warm-up: the first migration to a node pays for first-time work there (its
    // daemon probes QEMU, ...).
    let mut warmup = Vec::new();
    for _ in 0..WARMUP {
        let (from, to) = (at, 1 - at);
        let (out, wall) = migrate_once(&uris, from, to, &MODES[0])?;
        if !out.status.success() {
            bail!(
                "warm-up `virsh migrate {}` {}→{} on {} failed: {}",
                MODES[0].flags.join(" "),
                NODES[from].name,
                NODES[to].name,
                daemon.name(),
                out_text(&out)
            );
        }
        let _ = virsh(&uris[to], &["domjobinfo", "--completed", NAME]);
        let ms = wall.as_secs_f64() * 1000.0;
        eprintln!(
            "{} warm-up {}→{}: {ms:.0} ms (not counted)",
            daemon.name(),
            NODES[from].name,
            NODES[to].name
        );
        warmup.push(ms);
        at = to;
        settle(&ns[from]);
        let r = raw.migrate(files)?;
        eprintln!("{}", raw_line(&r, true));
    }
    let mut runs = Vec::new();
    for mode in MODES {
        let mut run = ModeRun {
            mode: mode.name,
            rounds: Vec::new(),
            stopped: None,
            raw: Vec::new(),
        };
        for n in 0..rounds {
            let (from, to) = (at, 1 - at);
            let (out, wall) = migrate_once(&uris, from, to, mode)?;
            if !out.status.success() {
                let why = out_text(&out);
                if n == 0 {
                    eprintln!(
                        "SKIPPED `virsh migrate {}` on {}: {why}",
                        mode.flags.join(" "),
                        daemon.name()
                    );
                    run.stopped = Some(format!("refused: {why}"));
                } else {
                    eprintln!(
                        "FAILED `virsh migrate {}` on {} (round {}): {why}",
                        mode.flags.join(" "),
                        daemon.name(),
                        n + 1
                    );
                    run.stopped = Some(format!("failed in round {}: {why}", n + 1));
                }
                at = locate(&uris)?;
                break;
            }
            // The destination keeps the completed job (the source forgets a transient
            // domain it no longer runs); the source is asked when the destination has none.
            let mut info = virsh(&uris[to], &["domjobinfo", "--completed", NAME])?;
            if !info.status.success()
                || jobinfo_ms(&String::from_utf8_lossy(&info.stdout), "Total downtime:").is_none()
            {
                info = virsh(&uris[from], &["domjobinfo", "--completed", NAME])?;
            }
            let info = String::from_utf8_lossy(&info.stdout).into_owned();
            let round = Round {
                from,
                wall_ms: wall.as_secs_f64() * 1000.0,
                downtime_ms: jobinfo_ms(&info, "Total downtime:"),
                elapsed_ms: jobinfo_ms(&info, "Time elapsed:"),
            };
            eprintln!(
                "{} {} {}→{}: {:.0} ms, downtime {}, job {}",
                daemon.name(),
                mode.name,
                NODES[from].name,
                NODES[to].name,
                round.wall_ms,
                opt_ms(round.downtime_ms),
                opt_ms(round.elapsed_ms)
            );
            run.rounds.push(round);
            at = to;
            settle(&ns[from]);
            let r = raw.migrate(files)?;
            eprintln!("{}", raw_line(&r, false));
            run.raw.push(r);
        }
        runs.push(run);
    }
    let _ = virsh(&uris[at], &["destroy", NAME]);
    Ok((runs, warmup))
}

/// `virsh -c SRC migrate FLAGS migbench DEST [--migrateuri tcp://DEST]` from node `from`
/// to node `to`, and its wall time.
fn migrate_once(
    uris: &[String],
    from: usize,
    to: usize,
    mode: &Mode,
) -> Result<(Output, Duration)> {
    let mut args: Vec<&str> = vec!["migrate"];
    args.extend(mode.flags);
    args.extend([NAME, &uris[to]]);
    let migrateuri = format!("tcp://{}", NODES[to].addr);
    if mode.migrateuri {
        args.extend(["--migrateuri", &migrateuri]);
    }
    let started = Instant::now();
    let out = virsh(&uris[from], &args)?;
    Ok((out, started.elapsed()))
}

/// Untimed, after a migration: the source's QEMU gone (namespace `ns`), and a moment of
/// quiet.
fn settle(ns: &str) {
    let started = Instant::now();
    while qemu_in(ns) && started.elapsed().as_secs() < 20 {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
}

/// Which node runs the guest (after a failed migration).
fn locate(uris: &[String]) -> Result<usize> {
    for (i, uri) in uris.iter().enumerate() {
        let out = virsh(uri, &["domstate", NAME])?;
        if String::from_utf8_lossy(&out.stdout).trim() == "running" {
            return Ok(i);
        }
    }
    bail!("after a failed migration no node runs {NAME}")
}

fn opt_ms(ms: Option<f64>) -> String {
    ms.map_or_else(|| "?".to_string(), |m| format!("{m:.0} ms"))
}

/// A raw QEMU process with the guest, inside a node's namespace, killed when dropped.
struct RawQemu {
    child: Child,
    qmp: Qmp,
}

impl RawQemu {
    fn start(
        ns: &str,
        dir: &Path,
        id: usize,
        files: &GuestFiles,
        incoming: bool,
    ) -> Result<RawQemu> {
        let sock = dir.join(format!("rawqemu-{id}.qmp"));
        let serial = Self::serial(dir, id);
        let log = dir.join(format!("rawqemu-{id}.log"));
        let out = std::fs::File::create(&log)?;
        let err = out.try_clone()?;
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns, "qemu-system-x86_64"])
            .args([
                "-name",
                "rawbench",
                "-machine",
                "pc,accel=tcg",
                "-m",
                "256",
                "-smp",
                "1",
            ])
            .args(["-nodefaults", "-no-user-config", "-display", "none"])
            .arg("-kernel")
            .arg(&files.kernel)
            .arg("-initrd")
            .arg(&files.initrd)
            .args(["-append", "console=ttyS0 panic=-1"])
            .arg("-chardev")
            .arg(format!("file,id=serial0,path={}", serial.display()))
            .args(["-serial", "chardev:serial0"])
            .arg("-qmp")
            .arg(format!("unix:{},server=on,wait=off", sock.display()));
        if incoming {
            c.args(["-incoming", "defer"]);
        }
        let mut child = c
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .context("starting qemu-system-x86_64")?;
        let started = Instant::now();
        let stream = loop {
            if let Ok(s) = UnixStream::connect(&sock) {
                break s;
            }
            if matches!(child.try_wait(), Ok(Some(_))) || started.elapsed().as_secs() > 30 {
                let _ = child.kill();
                let _ = child.wait();
                bail!(
                    "QEMU did not open its QMP socket: {}",
                    std::fs::read_to_string(&log).unwrap_or_default().trim()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        match Qmp::new(stream) {
            Ok(qmp) => Ok(RawQemu { child, qmp }),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(e)
            }
        }
    }

    fn serial(dir: &Path, id: usize) -> PathBuf {
        dir.join(format!("rawqemu-{id}.serial"))
    }
}

impl Drop for RawQemu {
    fn drop(&mut self) {
        let _ = self.qmp.cmd(r#"{"execute":"quit"}"#);
        let started = Instant::now();
        while matches!(self.child.try_wait(), Ok(None)) && started.elapsed().as_secs() < 5 {
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A QMP connection: one command at a time, events skipped.
struct Qmp {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Qmp {
    fn new(stream: UnixStream) -> Result<Qmp> {
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        let mut qmp = Qmp {
            reader: BufReader::new(stream.try_clone()?),
            writer: stream,
        };
        let mut greeting = String::new();
        qmp.reader.read_line(&mut greeting)?;
        if !greeting.contains("\"QMP\"") {
            bail!("no QMP greeting: {greeting}");
        }
        qmp.cmd(r#"{"execute":"qmp_capabilities"}"#)?;
        Ok(qmp)
    }

    /// Sends `json`; its `{"return": ...}` line, or its error.
    fn cmd(&mut self, json: &str) -> Result<String> {
        self.writer.write_all(json.as_bytes())?;
        self.writer.write_all(b"\n")?;
        loop {
            let mut line = String::new();
            if self.reader.read_line(&mut line)? == 0 {
                bail!("QMP closed after {json}");
            }
            let line = line.trim_start();
            if line.starts_with("{\"return\"") {
                return Ok(line.to_string());
            }
            if line.starts_with("{\"error\"") {
                bail!("QMP {json}: {}", line.trim());
            }
        }
    }
}

/// Raw QEMU → raw QEMU in the nodes' namespaces, beside a daemon pair: one guest, moved
/// from node to node.
struct RawPair {
    ns: [String; 2],
    dir: PathBuf,
    /// The number of the last QEMU started (names its files).
    id: usize,
    /// The node whose QEMU runs the guest.
    at: usize,
    src: RawQemu,
}

impl RawPair {
    /// A QEMU with the guest on node a, booted.
    fn boot(ns: &[String; 2], dir: &Path, files: &GuestFiles) -> Result<RawPair> {
        std::fs::create_dir_all(dir)?;
        let src = RawQemu::start(&ns[0], dir, 0, files, false)?;
        let took = wait_marker(&RawQemu::serial(dir, 0), "OXVIRT-DISKS", BOOT_SECS)?;
        eprintln!(
            "guest booted under raw QEMU on node a ({:.1} s)",
            took.as_secs_f64()
        );
        Ok(RawPair {
            ns: ns.clone(),
            dir: dir.to_path_buf(),
            id: 0,
            at: 0,
            src,
        })
    }

    /// A QEMU with `-incoming defer` on the other node, then `migrate-incoming` there,
    /// libvirt's unlimited `max-bandwidth` and `migrate` here, `query-migrate` polled until
    /// completed; the old source quits.
    fn migrate(&mut self, files: &GuestFiles) -> Result<RawRound> {
        let to = 1 - self.at;
        self.id += 1;
        let mut dst = RawQemu::start(&self.ns[to], &self.dir, self.id, files, true)?;
        self.src.qmp.cmd(&format!(
            r#"{{"execute":"migrate-set-parameters","arguments":{{"max-bandwidth":{UNLIMITED_BANDWIDTH}}}}}"#
        ))?;
        let uri = format!("tcp:{}:{RAW_PORT}", NODES[to].addr);
        let started = Instant::now();
        dst.qmp.cmd(&format!(
            r#"{{"execute":"migrate-incoming","arguments":{{"uri":"{uri}"}}}}"#
        ))?;
        self.src.qmp.cmd(&format!(
            r#"{{"execute":"migrate","arguments":{{"uri":"{uri}"}}}}"#
        ))?;
        let info = loop {
            let info = self.src.qmp.cmd(r#"{"execute":"query-migrate"}"#)?;
            if info.contains(r#""status": "completed""#) {
                break info;
            }
            if info.contains(r#""status": "failed""#) || started.elapsed().as_secs() > 120 {
                bail!("raw QEMU migration did not complete: {info}");
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let wall = started.elapsed();
        let num = |key: &str| crate::json_number(&info, &format!("\"{key}\":"));
        let round = RawRound {
            from: self.at,
            total_ms: num("total-time").context("no total-time in query-migrate")?,
            downtime_ms: num("downtime").context("no downtime in query-migrate")?,
            wall_ms: wall.as_secs_f64() * 1000.0,
        };
        // The destination runs the guest now (it resumes by itself); the source quits.
        let status = dst.qmp.cmd(r#"{"execute":"query-status"}"#)?;
        if !status.contains("running") {
            std::thread::sleep(Duration::from_millis(200));
        }
        self.src = dst;
        self.at = to;
        std::thread::sleep(Duration::from_millis(300));
        Ok(round)
    }
}

fn raw_line(r: &RawRound, warm: bool) -> String {
    format!(
        "raw QEMU {}{}→{}: total-time {:.0} ms, downtime {:.0} ms (migrate-incoming to completed {:.0} ms){}",
        if warm { "warm-up " } else { "" },
        NODES[r.from].name,
        NODES[1 - r.from].name,
        r.total_ms,
        r.downtime_ms,
        r.wall_ms,
        if warm { " (not counted)" } else { "" }
    )
}

/// Median, min and max.
fn stats(values: &[f64]) -> Option<(f64, f64, f64)> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    Some((median, v[0], v[n - 1]))
}

fn show(s: Option<(f64, f64, f64)>) -> String {
    s.map_or_else(
        || "-".to_string(),
        |(m, lo, hi)| format!("{m:.0} ms ({lo:.0}-{hi:.0})"),
    )
}

/// The table, the goal check and every round's figures.
fn report(rounds: usize, runs: &[(Daemon, Vec<ModeRun>)], notes: &[String]) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "cargo xtask bench migrate: a booted 256 MiB TCG guest, {rounds} migrations per mode \
         (a→b, b→a, ...), each followed by a raw QEMU → raw QEMU migration in the same \
         namespaces; median (min-max)\n"
    );
    let find = |d: Daemon, mode: &str| {
        runs.iter()
            .find(|(daemon, _)| *daemon == d)
            .and_then(|(_, r)| r.iter().find(|m| m.mode == mode))
    };
    let of = |m: Option<&ModeRun>, f: &dyn Fn(&Round) -> Option<f64>| {
        stats(&m.map_or(vec![], |m| m.rounds.iter().filter_map(f).collect()))
    };
    let of_raw = |m: Option<&ModeRun>, f: &dyn Fn(&RawRound) -> f64| {
        stats(&m.map_or(vec![], |m| m.raw.iter().map(f).collect()))
    };
    let _ = writeln!(
        t,
        "| virsh migrate | oxvirtd wall | libvirtd wall | oxvirtd/libvirtd | raw QEMU total-time \
         (beside oxvirtd) | oxvirtd − raw QEMU | oxvirtd downtime | libvirtd downtime | raw QEMU \
         downtime (beside oxvirtd) |"
    );
    let _ = writeln!(t, "|---|---|---|---|---|---|---|---|---|");
    let mut goals = Vec::new();
    for mode in MODES {
        let ox = find(Daemon::Oxvirtd, mode.name);
        let lv = find(Daemon::Libvirtd, mode.name);
        let (ow, lw) = (of(ox, &|r| Some(r.wall_ms)), of(lv, &|r| Some(r.wall_ms)));
        let (od, ld) = (of(ox, &|r| r.downtime_ms), of(lv, &|r| r.downtime_ms));
        let (rt, rd) = (of_raw(ox, &|r| r.total_ms), of_raw(ox, &|r| r.downtime_ms));
        let ratio = match (ow, lw) {
            (Some((o, ..)), Some((l, ..))) => format!("{:.2}", o / l),
            _ => "-".into(),
        };
        let over_raw = match (ow, rt) {
            (Some((o, ..)), Some((r, ..))) => format!("{:+.0} ms", o - r),
            _ => "-".into(),
        };
        let cell = |s: Option<(f64, f64, f64)>, m: Option<&ModeRun>| match (
            s,
            m.and_then(|m| m.stopped.as_ref()),
        ) {
            (None, Some(why)) if why.starts_with("refused") => "skipped (refused)".to_string(),
            (s, Some(_)) => format!("{} (stopped)", show(s)),
            (s, None) => show(s),
        };
        let _ = writeln!(
            t,
            "| {} | {} | {} | {ratio} | {} | {over_raw} | {} | {} | {} |",
            mode.name,
            cell(ow, ox),
            cell(lw, lv),
            show(rt),
            show(od),
            show(ld),
            show(rd)
        );
        if let (Some((o, ..)), Some((l, ..)), Some((r, ..))) = (ow, lw, rt) {
            let down_ok = match (od, ld) {
                (Some((o, ..)), Some((l, ..))) => {
                    if o <= l {
                        "yes"
                    } else {
                        "no"
                    }
                }
                _ => "?",
            };
            goals.push(format!(
                "{}: ≤ 1/3 of libvirtd's time: {}; within 150 ms of raw QEMU: {}; downtime ≤ \
                 libvirtd's: {down_ok}",
                mode.name,
                if o * 3.0 <= l { "yes" } else { "no" },
                if o - r <= 150.0 { "yes" } else { "no" },
            ));
        }
    }
    let _ = writeln!(t, "\ngoal (issue 9):");
    for g in goals {
        let _ = writeln!(t, "  {g}");
    }
    for (daemon, modes) in runs {
        for m in modes {
            if let Some(why) = &m.stopped {
                let _ = writeln!(t, "{} `{}`: {why}", daemon.name(), m.mode);
            }
        }
    }
    let _ = writeln!(
        t,
        "\nevery round: virsh migrate wall / downtime / domjobinfo time elapsed, then the raw \
         QEMU migration after it: total-time / downtime (ms)"
    );
    for (daemon, modes) in runs {
        for m in modes {
            let raw_all = of_raw(Some(m), &|r| r.total_ms);
            let raw_down = of_raw(Some(m), &|r| r.downtime_ms);
            let _ = writeln!(
                t,
                "{} {} (raw QEMU beside it: total-time {}, downtime {}):",
                daemon.name(),
                m.mode,
                show(raw_all),
                show(raw_down)
            );
            for (i, r) in m.rounds.iter().enumerate() {
                let raw = m.raw.get(i).map_or_else(
                    || "-".to_string(),
                    |q| format!("{:.0}/{:.0}", q.total_ms, q.downtime_ms),
                );
                let _ = writeln!(
                    t,
                    "  {}→{} {:.0}/{}/{}, raw {raw}",
                    NODES[r.from].name,
                    NODES[1 - r.from].name,
                    r.wall_ms,
                    r.downtime_ms.map_or("?".into(), |d| format!("{d:.0}")),
                    r.elapsed_ms.map_or("?".into(), |d| format!("{d:.0}"))
                );
            }
        }
    }
    for n in notes {
        let _ = writeln!(t, "{n}");
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(stats(&[3.0, 1.0, 2.0]), Some((2.0, 1.0, 3.0)));
        assert_eq!(stats(&[4.0, 1.0, 2.0, 3.0]), Some((2.5, 1.0, 4.0)));
        assert_eq!(stats(&[]), None);
    }

    #[test]
    fn domjobinfo_figures() {
        let text = "Job type:         Completed\nOperation:        Incoming migration\n\
                    Time elapsed:     1848         ms\nTotal downtime:   74           ms\n";
        assert_eq!(jobinfo_ms(text, "Total downtime:"), Some(74.0));
        assert_eq!(jobinfo_ms(text, "Time elapsed:"), Some(1848.0));
        assert_eq!(jobinfo_ms(text, "Downtime w/o network:"), None);
    }

    #[test]
    fn node_names_fit() {
        // The bridge's veth legs are `oxbm<pid><pair><node>`: at most 15 bytes with a
        // 7-digit pid.
        assert!(format!("oxbm{}2a", 4_194_304).len() <= 15);
        assert_ne!(NODES[0].uuid, NODES[1].uuid);
        assert!(MODES.iter().all(|m| m.flags.contains(&"--live")));
    }
}
