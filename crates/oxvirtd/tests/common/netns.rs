//! Virtual networks end to end: oxvirtd inside a "host" network namespace the test creates,
//! an "uplink" namespace joined to it by a veth on its own subnet (10.231.0.1/24 on the
//! host, 10.231.0.2/24 on the uplink, no route back to the networks' subnets), and client
//! namespaces plugged into a network's bridge by veths. Nothing touches the root
//! namespace's links; dropping the [`Lab`] kills the daemon and every process started
//! under its directory (dnsmasq), then deletes the namespaces.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use oxvirt_xml::testdata::{have, is_root};

use super::qemu::{Guest, QemuEnv};

/// The host's address on the uplink veth.
pub const HOST_UPLINK: &str = "10.231.0.1";
/// The uplink namespace's address.
pub const UPLINK: &str = "10.231.0.2";

/// Whether the network tests can run here (root, ip, nft, dnsmasq, busybox, virsh); else
/// `SKIPPED <test>: <why>` on stderr. Under `OXVIRT_REQUIRE_GUEST=1` (set by
/// `cargo xtask ci`) a missing prerequisite fails the test instead.
pub fn network_prereqs(test: &str) -> bool {
    let mut missing = Vec::new();
    if !is_root() {
        missing.push("not root".to_owned());
    }
    for program in ["ip", "nft", "dnsmasq", "busybox", "virsh", "timeout"] {
        if !have(program) {
            missing.push(format!("{program} is not installed"));
        }
    }
    if missing.is_empty() {
        return true;
    }
    let why = missing.join("; ");
    if std::env::var("OXVIRT_REQUIRE_GUEST").is_ok_and(|v| v == "1") {
        panic!("{test}: OXVIRT_REQUIRE_GUEST=1 but {why}");
    }
    eprintln!("SKIPPED {test}: {why}");
    false
}

/// Runs `args[0]` with the rest; its output.
pub fn run(args: &[&str]) -> Output {
    Command::new(args[0]).args(&args[1..]).output().unwrap()
}

/// Runs `args`, asserting success; stdout.
pub fn run_ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "{args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The daemon in its host namespace, the uplink, and the clients made so far.
pub struct Lab {
    env: Option<QemuEnv>,
    /// The host namespace (the daemon's).
    pub host: String,
    /// The uplink namespace.
    pub uplink: String,
    namespaces: Vec<String>,
    tag: String,
}

/// A client namespace on a network's bridge.
pub struct Client {
    /// Its namespace.
    pub ns: String,
    /// The MAC of its `eth0`.
    pub mac: String,
}

impl Lab {
    /// The namespaces and a daemon in the host one; `guest` is the test guest, or a
    /// placeholder where no guest runs ([`Lab::no_guest`]).
    pub fn start(tag: &str, guest: Guest) -> Lab {
        let pid = std::process::id();
        let host = format!("oxvt-{tag}h-{pid}");
        let uplink = format!("oxvt-{tag}u-{pid}");
        let mut lab = Lab {
            env: None,
            host: host.clone(),
            uplink: uplink.clone(),
            namespaces: Vec::new(),
            tag: tag.to_owned(),
        };
        for ns in [&host, &uplink] {
            run_ok(&["ip", "netns", "add", ns]);
            lab.namespaces.push(ns.clone());
            run_ok(&["ip", "-n", ns, "link", "set", "lo", "up"]);
        }
        run_ok(&[
            "ip", "-n", &host, "link", "add", "hup0", "type", "veth", "peer", "name", "up0",
            "netns", &uplink,
        ]);
        run_ok(&[
            "ip",
            "-n",
            &host,
            "addr",
            "add",
            &format!("{HOST_UPLINK}/24"),
            "dev",
            "hup0",
        ]);
        run_ok(&["ip", "-n", &host, "link", "set", "hup0", "up"]);
        run_ok(&[
            "ip",
            "-n",
            &uplink,
            "addr",
            "add",
            &format!("{UPLINK}/24"),
            "dev",
            "up0",
        ]);
        run_ok(&["ip", "-n", &uplink, "link", "set", "up0", "up"]);
        lab.env = Some(QemuEnv::start_in(&format!("net-{tag}"), guest, Some(&host)));
        lab
    }

    /// A placeholder guest for labs that run no domain.
    pub fn no_guest() -> Guest {
        Guest {
            kernel: PathBuf::from("/nonexistent/vmlinuz"),
            initrd: PathBuf::from("/nonexistent/initrd.gz"),
        }
    }

    /// The daemon.
    pub fn env(&self) -> &QemuEnv {
        self.env.as_ref().unwrap()
    }

    /// The daemon, mutably (kill, restart).
    pub fn env_mut(&mut self) -> &mut QemuEnv {
        self.env.as_mut().unwrap()
    }

    /// Writes `xml` to the private dir as `NAME.xml` and `virsh net-define`s it; virsh's
    /// output.
    pub fn net_define(&self, name: &str, xml: &str) -> Output {
        let file = self.env().base.join(format!("net-{name}.xml"));
        std::fs::write(&file, xml).unwrap();
        self.env().virsh(&["net-define", file.to_str().unwrap()])
    }

    /// [`Lab::net_define`] and `net-start`, asserting both succeed with virsh's words.
    pub fn define_and_start(&self, name: &str, xml: &str) {
        let out = self.net_define(name, xml);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "net-define {name}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.starts_with(&format!("Network {name} defined from ")));
        let started = self.env().virsh_ok(&["net-start", name]);
        assert_eq!(started, format!("Network {name} started\n\n"));
    }

    /// Runs `args` inside namespace `ns`.
    pub fn exec(&self, ns: &str, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", ns])
            .args(args)
            .output()
            .unwrap()
    }

    /// Runs `args` inside `ns`, asserting success; stdout.
    pub fn exec_ok(&self, ns: &str, args: &[&str]) -> String {
        let out = self.exec(ns, args);
        assert!(
            out.status.success(),
            "in {ns}: {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A new client namespace `eth0` (MAC `mac`) whose peer `hveth` is enslaved to `bridge`
    /// in the host namespace.
    pub fn client(&mut self, name: &str, bridge: &str, mac: &str) -> Client {
        let ns = format!("oxvt-{}{name}-{}", self.tag, std::process::id());
        let hveth = format!("h{name}");
        run_ok(&["ip", "netns", "add", &ns]);
        self.namespaces.push(ns.clone());
        run_ok(&["ip", "-n", &ns, "link", "set", "lo", "up"]);
        run_ok(&[
            "ip", "-n", &self.host, "link", "add", &hveth, "type", "veth", "peer", "name", "eth0",
            "netns", &ns,
        ]);
        run_ok(&[
            "ip", "-n", &self.host, "link", "set", &hveth, "master", bridge, "up",
        ]);
        run_ok(&["ip", "-n", &ns, "link", "set", "eth0", "address", mac, "up"]);
        Client {
            ns,
            mac: mac.to_owned(),
        }
    }

    /// A static address `cidr` on the client's `eth0` and a default route via `gateway`.
    pub fn static_address(&self, client: &Client, cidr: &str, gateway: &str) {
        run_ok(&["ip", "-n", &client.ns, "addr", "add", cidr, "dev", "eth0"]);
        run_ok(&[
            "ip", "-n", &client.ns, "route", "add", "default", "via", gateway,
        ]);
    }

    /// A DHCP lease for the client with busybox udhcpc (its script flushes `eth0`, sets the
    /// address with a /24 and a default route through the router option); the address and
    /// how long it took.
    pub fn lease(&self, client: &Client) -> (String, Duration) {
        let dir = self.env().base.join(format!("dhcp-{}", client.ns));
        std::fs::create_dir_all(&dir).unwrap();
        let script = dir.join("udhcpc.sh");
        let bound = dir.join("bound");
        let _ = std::fs::remove_file(&bound);
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\ncase \"$1\" in\nbound|renew)\n  ip addr flush dev \"$interface\"\n  \
                 ip addr add \"$ip/24\" dev \"$interface\"\n  \
                 for r in $router; do ip route replace default via \"$r\"; break; done\n  \
                 echo \"$ip\" > {}\n  ;;\nesac\nexit 0\n",
                bound.display()
            ),
        )
        .unwrap();
        run_ok(&["chmod", "755", script.to_str().unwrap()]);
        let started = Instant::now();
        let out = self.exec(
            &client.ns,
            &[
                "timeout",
                "30",
                "busybox",
                "udhcpc",
                "-i",
                "eth0",
                "-n",
                "-q",
                "-f",
                "-t",
                "10",
                "-T",
                "1",
                "-s",
                script.to_str().unwrap(),
            ],
        );
        let took = started.elapsed();
        assert!(
            out.status.success(),
            "udhcpc in {}: {}{}",
            client.ns,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let ip = std::fs::read_to_string(&bound)
            .unwrap_or_else(|e| panic!("udhcpc bound no address: {e}"))
            .trim()
            .to_owned();
        (ip, took)
    }

    /// Whether one ping from `ns` to `addr` is answered (within 2 s).
    pub fn ping(&self, ns: &str, addr: &str) -> bool {
        self.exec(ns, &["busybox", "ping", "-c", "1", "-W", "2", addr])
            .status
            .success()
    }

    /// The address a TCP connection from `ns` to the uplink comes from, as the uplink sees
    /// it (`busybox netstat` on an established connection to a `busybox nc` listener).
    pub fn seen_by_uplink(&self, ns: &str, port: u16) -> Option<String> {
        let port = port.to_string();
        // `ip netns exec` execs nc: the child is nc, its stdin held open until it is killed.
        let nc = |ns: &str, args: &[&str]| {
            Command::new("ip")
                .args(["netns", "exec", ns, "busybox", "nc"])
                .args(args)
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        };
        let mut listener = nc(&self.uplink, &["-l", "-p", &port]);
        std::thread::sleep(Duration::from_millis(200));
        let mut talker = nc(ns, &[UPLINK, &port]);
        let until = Instant::now() + Duration::from_secs(4);
        let local = format!("{UPLINK}:{port}");
        let mut seen = None;
        while seen.is_none() && Instant::now() < until {
            let out = self.exec(&self.uplink, &["busybox", "netstat", "-tn"]);
            seen = String::from_utf8_lossy(&out.stdout).lines().find_map(|l| {
                let cols: Vec<&str> = l.split_whitespace().collect();
                let unmapped = |a: &str| a.trim_start_matches("::ffff:").to_owned();
                (cols.len() >= 6 && unmapped(cols[3]) == local && cols[5] == "ESTABLISHED")
                    .then(|| unmapped(cols[4].rsplit_once(':').unwrap().0))
            });
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = talker.kill();
        let _ = talker.wait();
        let _ = listener.kill();
        let _ = listener.wait();
        seen
    }

    /// busybox nslookup of `name` from `ns` asking `server`: whether it answered `addr`
    /// (retried for up to 5 s) and the last answer.
    pub fn resolves(&self, ns: &str, name: &str, server: &str, addr: &str) -> (bool, String) {
        let until = Instant::now() + Duration::from_secs(5);
        loop {
            let out = self.exec(ns, &["busybox", "nslookup", name, server]);
            let answer = String::from_utf8_lossy(&out.stdout).into_owned();
            if answer.contains(&format!("Address: {addr}"))
                || answer.contains(&format!("Address 1: {addr}"))
            {
                return (true, answer);
            }
            if Instant::now() > until {
                return (false, answer);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `nft list table inet oxvirt` in the host namespace (`None`: no such table).
    pub fn nft_table(&self) -> Option<String> {
        let out = self.exec(&self.host, &["nft", "list", "table", "inet", "oxvirt"]);
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `nft list tables` in the host namespace.
    pub fn nft_tables(&self) -> String {
        self.exec_ok(&self.host, &["nft", "list", "tables"])
    }

    /// The host namespace's link names (`ip -o link`).
    pub fn host_links(&self) -> Vec<String> {
        self.exec_ok(&self.host, &["ip", "-o", "link"])
            .lines()
            .filter_map(|l| l.split(": ").nth(1))
            .map(|n| n.split('@').next().unwrap().to_owned())
            .collect()
    }

    /// The runtime dir's dnsmasq directory.
    pub fn dnsmasq_dir(&self) -> PathBuf {
        self.env().run.join("network/dnsmasq")
    }

    /// The pids of dnsmasq processes whose command line names network `name`'s
    /// configuration file.
    pub fn dnsmasq_pids(&self, name: &str) -> Vec<u32> {
        let conf = self.dnsmasq_dir().join(format!("{name}.conf"));
        processes_naming(&conf)
    }

    /// The pid in network `name`'s dnsmasq pid file, if any.
    pub fn dnsmasq_pid_file(&self, name: &str) -> Option<u32> {
        std::fs::read_to_string(self.dnsmasq_dir().join(format!("{name}.pid")))
            .ok()
            .and_then(|s| s.trim().parse().ok())
    }

    /// `virsh net-list --all --name`, one name a line.
    pub fn net_names(&self) -> Vec<String> {
        self.env()
            .virsh_ok(&["net-list", "--all", "--name"])
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// Polls `net-dhcp-leases NAME` until it lists `mac` (at most 5 s); the table.
    pub fn leases_with(&self, name: &str, mac: &str) -> String {
        let until = Instant::now() + Duration::from_secs(5);
        loop {
            let table = self.env().virsh_ok(&["net-dhcp-leases", name]);
            if table.contains(mac) || Instant::now() > until {
                return table;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// The pids of processes whose command line has an argument containing `path`.
pub fn processes_naming(path: &Path) -> Vec<u32> {
    let want = path.to_string_lossy().into_owned();
    let mut pids = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return pids;
    };
    for entry in dir.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if cmdline
            .split(|b| *b == 0)
            .any(|a| String::from_utf8_lossy(a).contains(&want))
        {
            pids.push(pid);
        }
    }
    pids
}

impl Drop for Lab {
    fn drop(&mut self) {
        // The daemon's guard kills it and every process naming its directory (dnsmasq,
        // QEMU) before the namespaces go.
        if let Some(env) = self.env.take() {
            let base = env.base.to_path_buf();
            drop(env);
            for pid in processes_naming(&base) {
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            }
        }
        for ns in self.namespaces.iter().rev() {
            let _ = Command::new("ip").args(["netns", "delete", ns]).status();
        }
    }
}
