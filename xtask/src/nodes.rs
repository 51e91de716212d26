//! `cargo xtask nodes up|down|status`: two oxvirtd nodes on one machine, for migration
//! tests and demos.
//!
//! Each node is a release oxvirtd inside a network namespace of its own (`oxvt-node-a`,
//! `oxvt-node-b`), with its own runtime and state directories under `target/nodes/{a,b}/`
//! and its own fixed `host_uuid`. The namespaces' `eth0` (192.168.250.1/24 and .2/24) are
//! veth legs plugged into a bridge in the root namespace (`oxvt-nodes`, 192.168.250.254/24),
//! so the nodes reach each other and the host reaches both: each daemon listens on its
//! unix socket and on TCP 16509 of its address (`qemu+tcp://192.168.250.1/system`).
//!
//! The daemons outlive the xtask (their pids are in `target/nodes/*/oxvirtd.pid`); `down`
//! stops them, kills whatever else runs in the namespaces (QEMU guests) and deletes the
//! namespaces, the veths and the bridge. Runtime directories go with them; state
//! directories (defined domains) stay for the next `up`.

use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::bench_network::{is_root, kill_netns, netns_list, run_quiet, signal};
use crate::{cargo, step};

/// One of the two nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Node {
    /// `a` or `b`: the folder under `target/nodes`.
    pub(crate) name: &'static str,
    /// The network namespace, also the name of its veth leg in the root namespace.
    pub(crate) netns: &'static str,
    /// Its address on the nodes' network.
    pub(crate) addr: &'static str,
    /// Its `host_uuid`.
    pub(crate) uuid: &'static str,
}

/// The two nodes.
pub(crate) const NODES: [Node; 2] = [
    Node {
        name: "a",
        netns: "oxvt-node-a",
        addr: "192.168.250.1",
        uuid: "6f787674-6e6f-4465-8000-00000000000a",
    },
    Node {
        name: "b",
        netns: "oxvt-node-b",
        addr: "192.168.250.2",
        uuid: "6f787674-6e6f-4465-8000-00000000000b",
    },
];

/// The bridge in the root namespace the nodes' veths are plugged into.
const BRIDGE: &str = "oxvt-nodes";
/// The host's address on the bridge.
const HOST_ADDR: &str = "192.168.250.254";
/// The prefix length of the nodes' network.
const PREFIX: u8 = 24;
/// libvirt's TCP port (`qemu+tcp://ADDR/system` uses it by default).
const TCP_PORT: u16 = 16509;
/// How long `down` lets a daemon drain after SIGTERM before SIGKILL.
const STOP_SECS: u64 = 10;
/// How long `up` waits for a daemon's sockets.
const START_SECS: u64 = 30;

/// What `cargo xtask nodes` was asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Up,
    Down,
    Status,
}

const USAGE: &str = "usage: cargo xtask nodes up|down|status";

fn parse_args(args: &[String]) -> Result<Action> {
    match args {
        [one] => match one.as_str() {
            "up" => Ok(Action::Up),
            "down" => Ok(Action::Down),
            "status" => Ok(Action::Status),
            other => bail!("unknown nodes command '{other}'; {USAGE}"),
        },
        [] => bail!("{USAGE}"),
        _ => bail!("too many arguments; {USAGE}"),
    }
}

/// `target/nodes`.
fn nodes_dir(root: &Path) -> PathBuf {
    root.join("target/nodes")
}

impl Node {
    fn dir(&self, root: &Path) -> PathBuf {
        nodes_dir(root).join(self.name)
    }

    fn run_dir(&self, root: &Path) -> PathBuf {
        self.dir(root).join("run")
    }

    fn state_dir(&self, root: &Path) -> PathBuf {
        self.dir(root).join("state")
    }

    fn sock(&self, root: &Path) -> PathBuf {
        self.run_dir(root).join("libvirt-sock")
    }

    fn pid_file(&self, root: &Path) -> PathBuf {
        self.dir(root).join("oxvirtd.pid")
    }

    fn log(&self, root: &Path) -> PathBuf {
        self.dir(root).join("oxvirtd.log")
    }

    /// `qemu+unix:///system` through the node's read-write socket.
    pub(crate) fn unix_uri(&self, root: &Path) -> String {
        format!("qemu+unix:///system?socket={}", self.sock(root).display())
    }

    /// `qemu+tcp://ADDR/system`.
    pub(crate) fn tcp_uri(&self) -> String {
        format!("qemu+tcp://{}/system", self.addr)
    }

    fn tcp_addr(&self) -> SocketAddr {
        SocketAddr::from((
            self.addr
                .parse::<std::net::Ipv4Addr>()
                .unwrap_or(std::net::Ipv4Addr::LOCALHOST),
            TCP_PORT,
        ))
    }

    /// The oxvirtd argv of this node.
    fn argv(&self, root: &Path) -> Vec<String> {
        vec![
            root.join("target/release/oxvirtd").display().to_string(),
            "--runtime-dir".into(),
            self.run_dir(root).display().to_string(),
            "--state-dir".into(),
            self.state_dir(root).display().to_string(),
            "--listen-tcp".into(),
            self.tcp_addr().to_string(),
            "--allow-remote-tcp".into(),
            "--host-uuid".into(),
            self.uuid.into(),
        ]
    }

    /// The pid in the pid file, when that process is still a running oxvirtd.
    fn daemon_pid(&self, root: &Path) -> Option<u32> {
        let text = std::fs::read_to_string(self.pid_file(root)).ok()?;
        let pid: u32 = text.trim().parse().ok()?;
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
        (comm.trim() == "oxvirtd" && running(pid)).then_some(pid)
    }

    /// Whether the unix socket and the TCP port answer. Without the bridge, the nodes'
    /// addresses are not on any link of the host, and whatever answers for them elsewhere
    /// (a proxy on the default route) is not the node: TCP then does not answer.
    fn answers(&self, root: &Path) -> (bool, bool) {
        let unix = std::os::unix::net::UnixStream::connect(self.sock(root)).is_ok();
        let tcp = link_exists(BRIDGE)
            && TcpStream::connect_timeout(&self.tcp_addr(), Duration::from_millis(500)).is_ok();
        (unix, tcp)
    }
}

/// The text of `target/nodes/env`: shell variables with each node's URIs, address and host
/// UUID, for scripts (`. target/nodes/env`).
fn env_text(root: &Path) -> String {
    let mut out = String::from(
        "# Written by `cargo xtask nodes up`: the two oxvirtd nodes (source it from a shell).\n",
    );
    for node in NODES {
        let n = node.name.to_uppercase();
        out.push_str(&format!(
            "OXVT_NODE_{n}_UNIX='{}'\nOXVT_NODE_{n}_TCP='{}'\nOXVT_NODE_{n}_ADDR='{}'\n\
             OXVT_NODE_{n}_NETNS='{}'\nOXVT_NODE_{n}_UUID='{}'\n",
            node.unix_uri(root),
            node.tcp_uri(),
            node.addr,
            node.netns,
            node.uuid,
        ));
    }
    out
}

/// Whether network interface `name` exists in the root namespace.
pub(crate) fn link_exists(name: &str) -> bool {
    Command::new("ip")
        .args(["link", "show", "dev", name])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// What of the two nodes is there.
struct Seen {
    netns: Vec<String>,
    bridge: bool,
}

impl Seen {
    fn now() -> Seen {
        Seen {
            netns: netns_list(),
            bridge: link_exists(BRIDGE),
        }
    }

    fn has_netns(&self, node: &Node) -> bool {
        self.netns.iter().any(|n| n == node.netns)
    }
}

/// `cargo xtask nodes ARGS`.
pub(crate) fn nodes(root: &Path, args: &[String]) -> Result<()> {
    let action = parse_args(args)?;
    if action != Action::Status && !is_root() {
        bail!("cargo xtask nodes up/down needs root (network namespaces, veths, a bridge)");
    }
    match action {
        Action::Up => up(root),
        Action::Down => {
            if !down(root) {
                eprintln!("nodes are down (nothing to stop or remove)");
            }
            Ok(())
        }
        Action::Status => {
            status(root);
            Ok(())
        }
    }
}

/// Whether both nodes run and answer, with the bridge there.
fn all_up(root: &Path) -> bool {
    let seen = Seen::now();
    seen.bridge
        && NODES.iter().all(|n| {
            seen.has_netns(n) && n.daemon_pid(root).is_some() && n.answers(root) == (true, true)
        })
}

fn print_uris(root: &Path) {
    println!("host address on the nodes' network: {HOST_ADDR}/{PREFIX} ({BRIDGE})");
    for node in NODES {
        println!(
            "node {} (netns {}, {}/{PREFIX}, host UUID {}):\n  {}\n  {}",
            node.name,
            node.netns,
            node.addr,
            node.uuid,
            node.unix_uri(root),
            node.tcp_uri()
        );
    }
    println!(
        "(also in {}: . target/nodes/env)",
        nodes_dir(root).join("env").display()
    );
}

fn up(root: &Path) -> Result<()> {
    if all_up(root) {
        eprintln!("nodes are already up");
        std::fs::write(nodes_dir(root).join("env"), env_text(root))?;
        print_uris(root);
        return Ok(());
    }
    if down(root) {
        eprintln!("(removed what an earlier run left)");
    }
    step(
        "build oxvirtd (release)",
        cargo(root, &["build", "--release", "-j2", "-p", "oxvirtd"]),
    )?;
    if let Err(e) = start(root) {
        down(root);
        return Err(e);
    }
    std::fs::write(nodes_dir(root).join("env"), env_text(root))?;
    print_uris(root);
    Ok(())
}

/// Builds the network and starts the daemons.
fn start(root: &Path) -> Result<()> {
    eprintln!("\n==> bridge {BRIDGE} ({HOST_ADDR}/{PREFIX}) in the root namespace");
    add_bridge(BRIDGE, &format!("{HOST_ADDR}/{PREFIX}"))?;
    for node in NODES {
        eprintln!(
            "==> node {}: netns {}, eth0 {}/{PREFIX}",
            node.name, node.netns, node.addr
        );
        let ns = node.netns;
        run_quiet(Command::new("ip").args(["netns", "add", ns]))?;
        run_quiet(Command::new("ip").args(["-n", ns, "link", "set", "lo", "up"]))?;
        plug_ns(BRIDGE, ns, ns, &format!("{}/{PREFIX}", node.addr))?;
    }
    for node in NODES {
        spawn_daemon(root, &node)?;
    }
    for node in NODES {
        wait_daemon(root, &node)?;
    }
    Ok(())
}

/// Creates bridge `name` in the root namespace (no STP delay, no netfilter) with address
/// `addr_cidr`, and sets it up.
pub(crate) fn add_bridge(name: &str, addr_cidr: &str) -> Result<()> {
    run_quiet(Command::new("ip").args([
        "link",
        "add",
        name,
        "type",
        "bridge",
        "forward_delay",
        "0",
        "nf_call_iptables",
        "0",
    ]))?;
    run_quiet(Command::new("ip").args(["addr", "add", addr_cidr, "dev", name]))?;
    run_quiet(Command::new("ip").args(["link", "set", name, "up"]))
}

/// Plugs namespace `ns` into `bridge`: a veth whose leg in the root namespace is `leg`
/// (at most 15 bytes) and whose other leg is the namespace's `eth0` with `addr_cidr`, all
/// up. Deleting the namespace deletes the veth.
pub(crate) fn plug_ns(bridge: &str, ns: &str, leg: &str, addr_cidr: &str) -> Result<()> {
    run_quiet(Command::new("ip").args([
        "link", "add", leg, "type", "veth", "peer", "name", "eth0", "netns", ns,
    ]))?;
    run_quiet(Command::new("ip").args(["link", "set", leg, "master", bridge, "up"]))?;
    run_quiet(Command::new("ip").args(["-n", ns, "addr", "add", addr_cidr, "dev", "eth0"]))?;
    run_quiet(Command::new("ip").args(["-n", ns, "link", "set", "eth0", "up"]))
}

/// Starts the node's oxvirtd in its namespace, detached from the xtask (its own process
/// group, output to its log), and writes its pid file.
fn spawn_daemon(root: &Path, node: &Node) -> Result<()> {
    let dir = node.dir(root);
    let _ = std::fs::remove_dir_all(node.run_dir(root));
    std::fs::create_dir_all(node.state_dir(root))
        .with_context(|| format!("creating {}", node.state_dir(root).display()))?;
    let log = node.log(root);
    let out = std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
    let err = out.try_clone()?;
    let argv = node.argv(root);
    eprintln!(
        "==> node {}: ip netns exec {} {}",
        node.name,
        node.netns,
        argv.join(" ")
    );
    // `ip netns exec` execs the daemon: the child's pid is oxvirtd's.
    let child = Command::new("ip")
        .args(["netns", "exec", node.netns])
        .args(&argv)
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .with_context(|| format!("starting oxvirtd in {}", node.netns))?;
    std::fs::write(node.pid_file(root), format!("{}\n", child.id()))?;
    Ok(())
}

/// Whether process `pid` exists and has not exited (a zombie of ours has).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.starts_with(" Z"))
    })
}

/// Waits until the node's unix socket and TCP port answer; fails with the end of its log.
fn wait_daemon(root: &Path, node: &Node) -> Result<()> {
    let started = Instant::now();
    loop {
        if node.answers(root) == (true, true) {
            return Ok(());
        }
        // Before `ip netns exec` execs it, the process is still `ip`: only its end counts.
        let gone = std::fs::read_to_string(node.pid_file(root))
            .ok()
            .and_then(|t| t.trim().parse::<u32>().ok())
            .is_none_or(|pid| !running(pid));
        if gone || started.elapsed().as_secs() > START_SECS {
            let text = std::fs::read_to_string(node.log(root)).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(8).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            bail!(
                "node {}: oxvirtd {} (log {}):\n{}",
                node.name,
                if gone {
                    "exited".to_string()
                } else {
                    format!("did not answer on its unix socket and TCP in {START_SECS} s")
                },
                node.log(root).display(),
                tail.join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Stops both daemons, kills what is left in the namespaces, deletes the namespaces, the
/// veths and the bridge, and removes the runtime directories, pid files and env file.
/// Returns whether there was anything to stop or remove.
fn down(root: &Path) -> bool {
    let mut did = false;
    for node in NODES {
        if let Some(pid) = node.daemon_pid(root) {
            eprintln!("stopping oxvirtd of node {} (pid {pid})", node.name);
            signal("-TERM", pid);
            let started = Instant::now();
            while running(pid) && started.elapsed().as_secs() < STOP_SECS {
                std::thread::sleep(Duration::from_millis(50));
            }
            if running(pid) {
                eprintln!(
                    "oxvirtd of node {} did not exit in {STOP_SECS} s: SIGKILL",
                    node.name
                );
                signal("-KILL", pid);
            }
            did = true;
        }
    }
    let seen = Seen::now();
    for node in NODES {
        if seen.has_netns(&node) {
            eprintln!(
                "removing network namespace {} and what runs in it",
                node.netns
            );
            kill_netns(node.netns);
            did = true;
        }
        if link_exists(node.netns) {
            let _ = run_quiet(Command::new("ip").args(["link", "del", node.netns]));
            did = true;
        }
        for path in [node.pid_file(root), node.run_dir(root)] {
            if path.exists() {
                let _ = std::fs::remove_dir_all(&path).or_else(|_| std::fs::remove_file(&path));
            }
        }
    }
    if seen.bridge {
        eprintln!("removing bridge {BRIDGE}");
        let _ = run_quiet(Command::new("ip").args(["link", "del", BRIDGE]));
        did = true;
    }
    let _ = std::fs::remove_file(nodes_dir(root).join("env"));
    did
}

/// One line per node, and the bridge's.
fn status(root: &Path) {
    let seen = Seen::now();
    let yes = |b: bool, what: &str| {
        if b {
            what.to_string()
        } else {
            format!("no {what}")
        }
    };
    println!(
        "bridge {BRIDGE}: {}",
        if seen.bridge { "present" } else { "absent" }
    );
    let mut up = 0;
    let mut pieces = usize::from(seen.bridge);
    for node in NODES {
        let ns = seen.has_netns(&node);
        let pid = node.daemon_pid(root);
        let (unix, tcp) = node.answers(root);
        let daemon = match pid {
            Some(pid) => format!("oxvirtd pid {pid}"),
            None => "no oxvirtd".to_string(),
        };
        println!(
            "node {}: {}, {daemon}, {}, {}",
            node.name,
            yes(ns, &format!("netns {}", node.netns)),
            yes(unix, "unix socket"),
            yes(tcp, &format!("TCP on {}", node.tcp_addr())),
        );
        if ns && pid.is_some() && unix && tcp {
            up += 1;
        }
        pieces += usize::from(ns) + usize::from(pid.is_some());
    }
    if up == NODES.len() && seen.bridge {
        println!("nodes are up");
        print_uris(root);
    } else if pieces == 0 {
        println!("nodes are down");
    } else {
        println!(
            "nodes are partly up: `cargo xtask nodes down` removes the rest, \
             `cargo xtask nodes up` starts afresh"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn arguments() {
        assert_eq!(parse_args(&args(&["up"])).ok(), Some(Action::Up));
        assert_eq!(parse_args(&args(&["down"])).ok(), Some(Action::Down));
        assert_eq!(parse_args(&args(&["status"])).ok(), Some(Action::Status));
        let err = |a: &[&str]| parse_args(&args(a)).err().map(|e| e.to_string());
        assert_eq!(err(&[]).as_deref(), Some(USAGE));
        assert_eq!(
            err(&["start"]).as_deref(),
            Some("unknown nodes command 'start'; usage: cargo xtask nodes up|down|status")
        );
        assert_eq!(
            err(&["up", "now"]).as_deref(),
            Some("too many arguments; usage: cargo xtask nodes up|down|status")
        );
    }

    #[test]
    fn env_file() {
        let text = env_text(Path::new("/w"));
        assert_eq!(
            text,
            "# Written by `cargo xtask nodes up`: the two oxvirtd nodes (source it from a shell).\n\
             OXVT_NODE_A_UNIX='qemu+unix:///system?socket=/w/target/nodes/a/run/libvirt-sock'\n\
             OXVT_NODE_A_TCP='qemu+tcp://192.168.250.1/system'\n\
             OXVT_NODE_A_ADDR='192.168.250.1'\n\
             OXVT_NODE_A_NETNS='oxvt-node-a'\n\
             OXVT_NODE_A_UUID='6f787674-6e6f-4465-8000-00000000000a'\n\
             OXVT_NODE_B_UNIX='qemu+unix:///system?socket=/w/target/nodes/b/run/libvirt-sock'\n\
             OXVT_NODE_B_TCP='qemu+tcp://192.168.250.2/system'\n\
             OXVT_NODE_B_ADDR='192.168.250.2'\n\
             OXVT_NODE_B_NETNS='oxvt-node-b'\n\
             OXVT_NODE_B_UUID='6f787674-6e6f-4465-8000-00000000000b'\n"
        );
    }

    #[test]
    fn daemon_arguments() {
        let argv = NODES[1].argv(Path::new("/w"));
        assert_eq!(
            argv.join(" "),
            "/w/target/release/oxvirtd --runtime-dir /w/target/nodes/b/run \
             --state-dir /w/target/nodes/b/state --listen-tcp 192.168.250.2:16509 \
             --allow-remote-tcp --host-uuid 6f787674-6e6f-4465-8000-00000000000b"
        );
    }

    #[test]
    fn nodes_differ() {
        assert_ne!(NODES[0].uuid, NODES[1].uuid);
        assert_ne!(NODES[0].addr, NODES[1].addr);
        // Interface names are at most 15 bytes.
        assert!(NODES.iter().all(|n| n.netns.len() <= 15) && BRIDGE.len() <= 15);
    }
}
