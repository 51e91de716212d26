//! dnsmasq for real: in a fresh network namespace with a bridge 192.168.213.1/24, our
//! configuration of a small isolated network runs dnsmasq (through `ip netns exec`); a
//! second namespace joined by a veth to the bridge gets a lease with busybox udhcpc, the
//! lease shows in the lease file, a `<dns><host>` name resolves through busybox nslookup
//! (and a name added later, after a reload), dnsmasq killed with SIGKILL is restarted by
//! the supervisor, and stopping leaves no process.
//!
//! Needs root, `ip`, `dnsmasq` and `busybox`; else prints `SKIPPED` and passes (fails under `cargo xtask ci`). The
//! namespaces are always deleted (a Drop guard), and any dnsmasq left with our
//! configuration file is killed.

#![cfg(feature = "host")]
#![allow(clippy::unwrap_used)]

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;
use std::time::{Duration, Instant};

use oxvirt_network::dnsmasq::process::{alive, write_hosts};
use oxvirt_network::dnsmasq::{
    lease_prefix, parse_leases, read_leases, Backoff, Dnsmasq, Launcher, Paths, Supervisor,
};
use oxvirt_network::model::{DnsHost, Network};
use oxvirt_xml::testdata::{have, is_root};
use tokio::process::Command;

fn run(args: &[&str]) {
    let out = StdCommand::new(args[0]).args(&args[1..]).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Deletes the namespaces and kills any dnsmasq still running with `conf`.
struct Guard {
    namespaces: Vec<String>,
    conf: PathBuf,
    dir: PathBuf,
}

impl Drop for Guard {
    fn drop(&mut self) {
        let want = format!("--conf-file={}", self.conf.display());
        if let Ok(dir) = std::fs::read_dir("/proc") {
            for entry in dir.flatten() {
                let name = entry.file_name().into_string().unwrap_or_default();
                if let Ok(pid) = name.parse::<u32>() {
                    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                    if cmdline.split(|b| *b == 0).any(|a| a == want.as_bytes()) {
                        let _ = StdCommand::new("kill").args(["-9", &name]).status();
                    }
                }
            }
        }
        for ns in &self.namespaces {
            let _ = StdCommand::new("ip").args(["netns", "del", ns]).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A small isolated network on `br0`: DHCP .100-.150, one `<dns><host>`.
const NETWORK: &str = "<network>
  <name>oxvt-dnsmasq</name>
  <bridge name='br0'/>
  <dns>
    <host ip='192.168.213.7'><hostname>webby</hostname></host>
  </dns>
  <ip address='192.168.213.1' prefix='24'>
    <dhcp>
      <range start='192.168.213.100' end='192.168.213.150'/>
    </dhcp>
  </ip>
</network>";

async fn nslookup(ns: &str, name: &str) -> String {
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            ns,
            "busybox",
            "nslookup",
            name,
            "192.168.213.1",
        ])
        .output()
        .await
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Waits until `name` resolves to `addr` from `ns` (up to 5 s); the last answer.
async fn resolves(ns: &str, name: &str, addr: &str) -> (bool, String) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let answer = nslookup(ns, name).await;
        if answer.contains(&format!("Address: {addr}"))
            || answer.contains(&format!("Address 1: {addr}"))
        {
            return (true, answer);
        }
        if Instant::now() > deadline {
            return (false, answer);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test]
async fn dnsmasq_in_a_namespace() {
    if !is_root() {
        oxvirt_xml::testdata::unavailable("dnsmasq_in_a_namespace", "not root");
        return;
    }
    for program in ["ip", "dnsmasq", "busybox"] {
        if !have(program) {
            oxvirt_xml::testdata::unavailable("dnsmasq_in_a_namespace", &format!("no {program}"));
            return;
        }
    }
    let pid = std::process::id();
    let (srv, cli) = (format!("oxvt-dms-{pid}"), format!("oxvt-dmc-{pid}"));
    let dir = std::env::temp_dir().join(format!("oxvt-dnsmasq-{pid}"));
    let paths = Paths::oxvirt(dir.join("state"), dir.join("run"));
    let net = Network::parse(NETWORK).unwrap();
    let _guard = Guard {
        namespaces: vec![srv.clone(), cli.clone()],
        conf: paths.conf_file(&net.name),
        dir: dir.clone(),
    };
    std::fs::create_dir_all(&dir).unwrap();
    run(&["ip", "netns", "add", &srv]);
    run(&["ip", "netns", "add", &cli]);
    run(&["ip", "-n", &srv, "link", "set", "lo", "up"]);
    run(&["ip", "-n", &cli, "link", "set", "lo", "up"]);
    run(&[
        "ip",
        "-n",
        &srv,
        "link",
        "add",
        "br0",
        "type",
        "bridge",
        "stp_state",
        "0",
        "forward_delay",
        "0",
    ]);
    run(&[
        "ip",
        "-n",
        &srv,
        "addr",
        "add",
        "192.168.213.1/24",
        "dev",
        "br0",
    ]);
    run(&["ip", "-n", &srv, "link", "set", "br0", "up"]);
    run(&[
        "ip", "-n", &srv, "link", "add", "veth0", "type", "veth", "peer", "name", "eth0", "netns",
        &cli,
    ]);
    run(&[
        "ip", "-n", &srv, "link", "set", "veth0", "master", "br0", "up",
    ]);
    run(&[
        "ip",
        "-n",
        &cli,
        "link",
        "set",
        "eth0",
        "address",
        "52:54:00:21:3a:01",
        "up",
    ]);

    let launcher = Launcher {
        prefix: vec!["ip".into(), "netns".into(), "exec".into(), srv.clone()],
        ..Launcher::default()
    };
    let dnsmasq = Dnsmasq::start(&net, &paths, &launcher).await.unwrap();
    let first_pid = dnsmasq.pid();
    assert!(alive(first_pid));
    let conf = std::fs::read_to_string(paths.conf_file(&net.name)).unwrap();
    assert!(conf.contains("dhcp-leasefile="), "{conf}");

    // A client gets a lease; the script sets the address so that nslookup can ask.
    let script = dir.join("udhcpc.sh");
    let bound = dir.join("bound");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nif [ \"$1\" = bound ]; then ip addr add \"$ip/24\" dev \"$interface\"; echo \"$ip\" > {}; fi\nexit 0\n",
            bound.display()
        ),
    )
    .unwrap();
    run(&["chmod", "755", script.to_str().unwrap()]);
    let started = Instant::now();
    let out = Command::new("ip")
        .args([
            "netns", "exec", &cli, "busybox", "udhcpc", "-i", "eth0", "-n", "-q", "-f", "-t", "10",
            "-T", "1", "-s",
        ])
        .arg(&script)
        .output()
        .await
        .unwrap();
    let lease_ms = started.elapsed().as_millis();
    assert!(
        out.status.success(),
        "udhcpc: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: IpAddr = std::fs::read_to_string(&bound)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let IpAddr::V4(v4) = got else { panic!("{got}") };
    assert!(
        (100..=150).contains(&v4.octets()[3]) && v4.octets()[..3] == [192, 168, 213],
        "{got}"
    );
    println!("lease time (udhcpc start to lease): {lease_ms} ms");

    // The lease file shows it (dnsmasq writes it right after the ACK).
    let lease_file = paths.lease_file(&net.name).unwrap();
    let deadline = Instant::now() + Duration::from_secs(3);
    let leases = loop {
        let leases = read_leases(&net, &paths, now()).unwrap();
        if !leases.is_empty() || Instant::now() > deadline {
            break leases;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let text = std::fs::read_to_string(&lease_file).unwrap();
    assert_eq!(
        parse_leases(&text, "br0", now(), |ip| lease_prefix(&net, ip)),
        leases
    );
    assert_eq!(leases.len(), 1, "{leases:?}");
    assert_eq!(leases[0].ip, got.to_string());
    assert_eq!(leases[0].mac.as_deref(), Some("52:54:00:21:3a:01"));
    assert_eq!(
        (leases[0].kind, leases[0].prefix, leases[0].iface.as_str()),
        (0, 24, "br0")
    );
    assert!(leases[0].expiry_time > now());

    // <dns><host> resolves; a host added later resolves after a reload.
    let (ok, answer) = resolves(&cli, "webby", "192.168.213.7").await;
    assert!(ok, "{answer}");
    let mut net2 = net.clone();
    net2.dns.hosts.push(DnsHost {
        ip: "192.168.213.8".parse().unwrap(),
        hostnames: vec!["later".into()],
    });
    write_hosts(&net2, &paths).unwrap();
    dnsmasq.reload().unwrap();
    let (ok, answer) = resolves(&cli, "later", "192.168.213.8").await;
    assert!(ok, "{answer}");

    // After a daemon restart the running dnsmasq is found again from its pid file.
    let found = Dnsmasq::find(&net.name, &paths, &launcher).unwrap();
    assert_eq!(found.pid(), first_pid);
    assert!(Dnsmasq::find("other", &paths, &launcher).is_none());

    // Supervision: SIGKILL, and it is back (a new pid) and answering.
    let sup = Supervisor::spawn(
        dnsmasq,
        Backoff {
            initial: Duration::from_millis(50),
            ..Backoff::default()
        },
    );
    assert_eq!(sup.pid(), first_pid);
    run(&["kill", "-9", &first_pid.to_string()]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while (sup.pid() == first_pid || sup.pid() == 0) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let second_pid = sup.pid();
    assert!(second_pid != 0 && second_pid != first_pid, "not restarted");
    assert_eq!(sup.restarts(), 1);
    assert!(!alive(first_pid));
    let (ok, answer) = resolves(&cli, "later", "192.168.213.8").await;
    assert!(ok, "after restart: {answer}");

    // Stop: no process left, pid file gone.
    sup.stop().await;
    assert!(!alive(second_pid));
    assert!(!Path::new(&paths.pid_file(&net.name).unwrap()).exists());
    assert!(Dnsmasq::find(&net.name, &paths, &launcher).is_none());
}
