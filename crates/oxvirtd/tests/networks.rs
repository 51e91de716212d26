//! Virtual networks end to end, through Debian's unchanged `virsh` against oxvirtd running
//! inside a network namespace ("host"): a NAT network gives a client namespace a DHCP lease,
//! DNS answers and a way out to an "uplink" namespace through the masquerade; an isolated
//! network keeps its client in; a routed network routes without NAT; net-destroy leaves
//! nothing behind; a daemon killed with SIGKILL comes back to running networks; bad input
//! is refused with libvirt's words and nothing half-created; lifecycle events reach
//! `virsh net-event`; a TCG guest on the NAT network is plugged into its bridge.
//!
//! Needs root, ip, nft, dnsmasq, busybox and virsh (else `SKIPPED`, a failure under
//! `OXVIRT_REQUIRE_GUEST=1`). Every namespace, daemon and dnsmasq is removed at the end,
//! also on failure (`common::netns::Lab`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::netns::{network_prereqs, Lab, HOST_UPLINK, UPLINK};
use common::qemu::guest;

/// The NAT network of the issue: a domain, a DNS host, DHCP .100-.150.
fn nat_xml(name: &str, bridge: &str, subnet: &str) -> String {
    format!(
        "<network>
  <name>{name}</name>
  <forward mode='nat'/>
  <bridge name='{bridge}'/>
  <domain name='oxvt.test'/>
  <dns>
    <host ip='{subnet}.77'>
      <hostname>target</hostname>
    </host>
  </dns>
  <ip address='{subnet}.1' prefix='24'>
    <dhcp>
      <range start='{subnet}.100' end='{subnet}.150'/>
    </dhcp>
  </ip>
</network>
"
    )
}

/// A network with `forward` (empty: isolated) and `dhcp` inside `<dhcp>` (empty: the
/// .100-.150 range).
fn plain_xml(name: &str, bridge: &str, subnet: &str, forward: &str, dhcp: &str) -> String {
    let dhcp = if dhcp.is_empty() {
        format!("<range start='{subnet}.100' end='{subnet}.150'/>")
    } else {
        dhcp.to_owned()
    };
    format!(
        "<network>
  <name>{name}</name>
  {forward}
  <bridge name='{bridge}'/>
  <ip address='{subnet}.1' prefix='24'>
    <dhcp>
      {dhcp}
    </dhcp>
  </ip>
</network>
"
    )
}

/// The text between `start` and the next `end` in `s`.
fn between<'a>(s: &'a str, start: &str, end: &str) -> &'a str {
    let at = s.find(start).unwrap_or_else(|| panic!("no {start} in {s}")) + start.len();
    let len = s[at..].find(end).unwrap();
    &s[at..at + len]
}

/// The last octet of `ip` if it is `subnet.N`.
fn host_part(ip: &str, subnet: &str) -> Option<u8> {
    ip.strip_prefix(&format!("{subnet}."))?.parse().ok()
}

/// Checks virsh's `net-dhcp-leases` table: its header and one row for `mac` with `ip`/24.
fn check_lease_table(table: &str, mac: &str, ip: &str) {
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(
        lines[0],
        " Expiry Time           MAC address         Protocol   IP address           Hostname   Client ID or DUID",
        "{table}"
    );
    assert_eq!(lines[1], "-".repeat(lines[1].len()), "{table}");
    let row = lines
        .iter()
        .find(|l| l.contains(mac))
        .unwrap_or_else(|| panic!("no lease for {mac}:\n{table}"));
    let cols: Vec<&str> = row
        .split("   ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(cols.len(), 6, "{row:?}");
    // 2026-11-27 05:00:00: a date and a time.
    assert_eq!(cols[0].len(), 19, "{row:?}");
    assert_eq!(&cols[0][4..5], "-", "{row:?}");
    assert_eq!(
        cols[1..5],
        [mac, "ipv4", &format!("{ip}/24"), "-"],
        "{row:?}"
    );
    // udhcpc's client identifier: 01 and its MAC.
    assert_eq!(cols[5], format!("01:{mac}"), "{row:?}");
}

#[test]
fn nat_network_lease_dns_and_masquerade() {
    let test = "nat_network_lease_dns_and_masquerade";
    if !network_prereqs(test) {
        return;
    }
    let started = Instant::now();
    let mut lab = Lab::start("nat", Lab::no_guest());
    lab.define_and_start("oxvt-nat", &nat_xml("oxvt-nat", "oxvbr1", "192.168.231"));

    assert_eq!(
        lab.env().virsh_ok(&["net-list", "--all"]),
        " Name       State    Autostart   Persistent\n\
         ---------------------------------------------\n \
         oxvt-nat   active   no          yes\n\n"
    );
    let info = lab.env().virsh_ok(&["net-info", "oxvt-nat"]);
    let uuid = between(&info, "UUID:           ", "\n").to_owned();
    assert_eq!(uuid.len(), 36, "{info}");
    assert_eq!(
        info,
        format!(
            "Name:           oxvt-nat\nUUID:           {uuid}\nActive:         yes\n\
             Persistent:     yes\nAutostart:      no\nBridge:         oxvbr1\n\n"
        )
    );
    let xml = lab.env().virsh_ok(&["net-dumpxml", "oxvt-nat"]);
    let mac = between(&xml, "<mac address='", "'").to_owned();
    assert!(mac.starts_with("52:54:00:"), "{xml}");
    assert_eq!(
        xml,
        format!(
            "<network>\n  <name>oxvt-nat</name>\n  <uuid>{uuid}</uuid>\n  \
             <forward mode='nat'/>\n  <bridge name='oxvbr1' stp='off' delay='0'/>\n  \
             <mac address='{mac}'/>\n  <domain name='oxvt.test'/>\n  <dns>\n    \
             <host ip='192.168.231.77'>\n      <hostname>target</hostname>\n    </host>\n  \
             </dns>\n  <ip address='192.168.231.1' prefix='24'>\n    <dhcp>\n      \
             <range start='192.168.231.100' end='192.168.231.150'/>\n    </dhcp>\n  </ip>\n\
             </network>\n\n"
        )
    );

    // The bridge, with the network's MAC and address, in the host namespace.
    let link = lab.exec_ok(&lab.host, &["ip", "-o", "addr", "show", "dev", "oxvbr1"]);
    assert!(link.contains("inet 192.168.231.1/24"), "{link}");
    let link = lab.exec_ok(&lab.host, &["ip", "link", "show", "dev", "oxvbr1"]);
    assert!(link.contains(&format!("link/ether {mac}")), "{link}");

    // The firewall: one table, the network's rules.
    let table = lab.nft_table().expect("no table inet oxvirt");
    for rule in [
        "iifname \"oxvbr1\" oifname \"oxvbr1\"",
        "oifname \"oxvbr1\" ip daddr 192.168.231.0/24 ct state established,related",
        "ip saddr 192.168.231.0/24 iifname \"oxvbr1\"",
        "type nat hook postrouting priority srcnat; policy accept;",
        "ip saddr 192.168.231.0/24 ip daddr != 192.168.231.0/24 counter",
        "masquerade",
    ] {
        assert!(table.contains(rule), "no {rule:?} in:\n{table}");
    }
    assert_eq!(lab.nft_tables().matches("table inet oxvirt").count(), 1);

    // A client: a lease in the range, DNS, the uplink through the masquerade.
    let client = lab.client("c1", "oxvbr1", "52:54:00:31:00:01");
    let (ip, took) = lab.lease(&client);
    println!(
        "lease time (udhcpc start to lease): {} ms",
        took.as_millis()
    );
    assert!(
        host_part(&ip, "192.168.231").is_some_and(|n| (100..=150).contains(&n)),
        "{ip}"
    );
    for name in ["target", "target.oxvt.test"] {
        let (ok, answer) = lab.resolves(&client.ns, name, "192.168.231.1", "192.168.231.77");
        assert!(ok, "{name}: {answer}");
    }
    assert!(lab.ping(&client.ns, "192.168.231.1"), "the bridge");
    assert!(lab.ping(&client.ns, UPLINK), "the uplink through NAT");
    // The uplink sees the host's address, never the client's.
    assert_eq!(
        lab.seen_by_uplink(&client.ns, 4321).as_deref(),
        Some(HOST_UPLINK)
    );
    assert!(!lab.ping(&lab.uplink, &ip), "the uplink reached {ip}");

    let table = lab.leases_with("oxvt-nat", &client.mac);
    check_lease_table(&table, &client.mac, &ip);
    println!("{test}: {} ms", started.elapsed().as_millis());
}

#[test]
fn isolated_network_keeps_its_clients_in() {
    let test = "isolated_network_keeps_its_clients_in";
    if !network_prereqs(test) {
        return;
    }
    let started = Instant::now();
    let mut lab = Lab::start("iso", Lab::no_guest());
    lab.define_and_start(
        "oxvt-iso",
        &plain_xml("oxvt-iso", "oxvbr2", "192.168.232", "", ""),
    );
    // The uplink knows the way back: only the firewall can stop the client.
    lab.exec_ok(
        &lab.uplink,
        &["ip", "route", "add", "192.168.232.0/24", "via", HOST_UPLINK],
    );
    let client = lab.client("c1", "oxvbr2", "52:54:00:32:00:01");
    lab.static_address(&client, "192.168.232.10/24", "192.168.232.1");
    assert!(lab.ping(&client.ns, "192.168.232.1"), "the bridge");
    assert!(
        !lab.ping(&client.ns, UPLINK),
        "an isolated client reached the uplink"
    );
    assert!(
        !lab.ping(&lab.uplink, "192.168.232.10"),
        "the uplink got in"
    );
    let table = lab.nft_table().expect("no table");
    assert!(!table.contains("masquerade"), "{table}");
    assert!(table.contains("oxvbr2"), "{table}");
    println!("{test}: {} ms", started.elapsed().as_millis());
}

#[test]
fn route_network_routes_without_nat() {
    let test = "route_network_routes_without_nat";
    if !network_prereqs(test) {
        return;
    }
    let started = Instant::now();
    let mut lab = Lab::start("rt", Lab::no_guest());
    lab.define_and_start(
        "oxvt-rt",
        &plain_xml(
            "oxvt-rt",
            "oxvbr3",
            "192.168.233",
            "<forward mode='route'/>",
            "",
        ),
    );
    lab.exec_ok(
        &lab.uplink,
        &["ip", "route", "add", "192.168.233.0/24", "via", HOST_UPLINK],
    );
    let client = lab.client("c1", "oxvbr3", "52:54:00:33:00:01");
    lab.static_address(&client, "192.168.233.10/24", "192.168.233.1");
    assert!(
        lab.ping(&client.ns, UPLINK),
        "the client did not reach the uplink"
    );
    // The uplink sees the client's own address and reaches it by that: no NAT in between.
    assert_eq!(
        lab.seen_by_uplink(&client.ns, 4321).as_deref(),
        Some("192.168.233.10")
    );
    assert!(
        lab.ping(&lab.uplink, "192.168.233.10"),
        "the uplink did not reach the client"
    );
    let table = lab.nft_table().expect("no table");
    assert!(!table.contains("masquerade"), "{table}");
    println!("{test}: {} ms", started.elapsed().as_millis());
}

#[test]
fn destroy_leaves_nothing_behind() {
    let test = "destroy_leaves_nothing_behind";
    if !network_prereqs(test) {
        return;
    }
    let started = Instant::now();
    let lab = Lab::start("td", Lab::no_guest());
    lab.define_and_start("oxvt-ta", &nat_xml("oxvt-ta", "oxvbr1", "192.168.234"));
    lab.define_and_start(
        "oxvt-tb",
        &plain_xml("oxvt-tb", "oxvbr2", "192.168.235", "", ""),
    );
    let (pid_a, pid_b) = (lab.dnsmasq_pids("oxvt-ta"), lab.dnsmasq_pids("oxvt-tb"));
    assert_eq!(pid_a.len(), 1, "{pid_a:?}");
    assert_eq!(pid_b.len(), 1, "{pid_b:?}");
    assert_eq!(lab.dnsmasq_pid_file("oxvt-ta"), Some(pid_a[0]));
    let links = lab.host_links();
    assert!(links.contains(&"oxvbr1".to_owned()) && links.contains(&"oxvbr2".to_owned()));

    // The NAT one goes; the isolated one keeps running with its rules.
    assert_eq!(
        lab.env().virsh_ok(&["net-destroy", "oxvt-ta"]),
        "Network oxvt-ta destroyed\n\n"
    );
    assert!(!lab.host_links().contains(&"oxvbr1".to_owned()));
    let table = lab.nft_table().expect("the other network's table went");
    assert!(
        !table.contains("oxvbr1") && !table.contains("192.168.234."),
        "{table}"
    );
    assert!(!table.contains("masquerade"), "{table}");
    assert!(table.contains("oxvbr2"), "{table}");
    assert!(lab.dnsmasq_pids("oxvt-ta").is_empty());
    assert!(!std::path::Path::new(&format!("/proc/{}", pid_a[0])).exists());
    assert_eq!(lab.dnsmasq_pid_file("oxvt-ta"), None);
    assert_eq!(lab.dnsmasq_pids("oxvt-tb"), pid_b);
    assert_eq!(
        lab.env().virsh_ok(&["net-list", "--all"]),
        " Name      State      Autostart   Persistent\n\
         ----------------------------------------------\n \
         oxvt-ta   inactive   no          yes\n \
         oxvt-tb   active     no          yes\n\n"
    );

    // The last one: no table at all.
    lab.env().virsh_ok(&["net-destroy", "oxvt-tb"]);
    assert!(!lab.host_links().contains(&"oxvbr2".to_owned()));
    assert_eq!(lab.nft_table(), None, "{}", lab.nft_tables());
    assert!(!lab.nft_tables().contains("oxvirt"));
    assert!(lab.dnsmasq_pids("oxvt-tb").is_empty());
    assert!(common::netns::processes_naming(&lab.dnsmasq_dir()).is_empty());
    // Only the uplink veth and lo are left in the host.
    let mut links = lab.host_links();
    links.sort();
    assert_eq!(links, ["hup0", "lo"]);

    for name in ["oxvt-ta", "oxvt-tb"] {
        assert_eq!(
            lab.env().virsh_ok(&["net-undefine", name]),
            format!("Network {name} has been undefined\n\n")
        );
    }
    assert!(lab.net_names().is_empty());
    assert_eq!(
        lab.env().virsh_ok(&["net-list", "--all"]),
        " Name   State   Autostart   Persistent\n\
         ----------------------------------------\n\n"
    );
    println!("{test}: {} ms", started.elapsed().as_millis());
}

#[test]
fn killed_daemon_comes_back_to_running_networks() {
    let test = "killed_daemon_comes_back_to_running_networks";
    if !network_prereqs(test) {
        return;
    }
    let started = Instant::now();
    let mut lab = Lab::start("rs", Lab::no_guest());
    lab.define_and_start("oxvt-rs", &nat_xml("oxvt-rs", "oxvbr1", "192.168.236"));
    let client = lab.client("c1", "oxvbr1", "52:54:00:36:00:01");
    let (ip, first) = lab.lease(&client);
    assert!(lab.ping(&client.ns, UPLINK));
    let before = lab.dnsmasq_pids("oxvt-rs");
    assert_eq!(before.len(), 1);

    lab.env_mut().kill_daemon();
    // dnsmasq and the bridge outlive the daemon.
    assert_eq!(lab.dnsmasq_pids("oxvt-rs"), before);
    assert!(lab.ping(&client.ns, UPLINK));
    lab.env_mut().restart_daemon();

    assert_eq!(
        lab.env().virsh_ok(&["net-list"]),
        " Name      State    Autostart   Persistent\n\
         --------------------------------------------\n \
         oxvt-rs   active   no          yes\n\n"
    );
    let after = lab.dnsmasq_pids("oxvt-rs");
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(lab.dnsmasq_pid_file("oxvt-rs"), Some(after[0]));
    println!(
        "dnsmasq after the restart: {} (before {})",
        after[0], before[0]
    );
    // The same address again, and still the way out.
    lab.exec_ok(&client.ns, &["ip", "addr", "flush", "dev", "eth0"]);
    let (again, second) = lab.lease(&client);
    assert_eq!(again, ip);
    println!(
        "lease times: {} ms, after the restart {} ms",
        first.as_millis(),
        second.as_millis()
    );
    assert!(lab.ping(&client.ns, UPLINK));
    check_lease_table(&lab.leases_with("oxvt-rs", &client.mac), &client.mac, &ip);
    // The firewall reconciled: one table, the network's rules once.
    assert_eq!(lab.nft_tables().matches("table inet oxvirt").count(), 1);
    let table = lab.nft_table().unwrap();
    assert_eq!(table.matches("chain guest_nat {").count(), 1, "{table}");
    assert_eq!(table.matches("masquerade").count(), 3, "{table}");
    assert_eq!(
        table
            .matches("iifname \"oxvbr1\" oifname \"oxvbr1\"")
            .count(),
        1,
        "{table}"
    );

    lab.env().virsh_ok(&["net-destroy", "oxvt-rs"]);
    assert!(!lab.host_links().contains(&"oxvbr1".to_owned()));
    assert_eq!(lab.nft_table(), None);
    assert!(lab.dnsmasq_pids("oxvt-rs").is_empty());
    assert!(!lab.ping(&client.ns, UPLINK));
    println!("{test}: {} ms", started.elapsed().as_millis());
}

/// What a refused request must not change in the host namespace: its links, the
/// firewall table (without counters), the dnsmasq processes, the active networks.
fn host_snapshot(lab: &Lab) -> (Vec<String>, String, Vec<u32>, String) {
    let mut links = lab.host_links();
    links.sort();
    let nft = lab.exec_ok(&lab.host, &["nft", "-s", "list", "ruleset"]);
    let mut dnsmasq = common::netns::processes_naming(&lab.dnsmasq_dir());
    dnsmasq.sort();
    let active = lab.env().virsh_ok(&["net-list", "--name"]);
    (links, nft, dnsmasq, active)
}

#[test]
fn bad_input_is_refused_and_nothing_half_created() {
    let test = "bad_input_is_refused_and_nothing_half_created";
    if !network_prereqs(test) {
        return;
    }
    let started = Instant::now();
    let lab = Lab::start("bad", Lab::no_guest());
    lab.define_and_start("oxvt-a", &nat_xml("oxvt-a", "oxvbr1", "192.168.240"));
    // A link that is no network's.
    lab.exec_ok(
        &lab.host,
        &[
            "ip", "link", "add", "oxvext0", "type", "veth", "peer", "name", "oxvext1",
        ],
    );
    let snap = host_snapshot(&lab);
    let file = |name: &str| lab.env().base.join(format!("net-{name}.xml"));
    let define_fails = |name: &str, xml: &str| {
        let out = lab.net_define(name, xml);
        assert!(!out.status.success(), "{name} defined");
        String::from_utf8_lossy(&out.stderr).trim().to_owned()
    };

    // The same subnet as oxvt-a: defined, but it does not start.
    let out = lab.net_define(
        "oxvt-b",
        &plain_xml(
            "oxvt-b",
            "oxvbr2",
            "192.168.240",
            "<forward mode='nat'/>",
            "",
        ),
    );
    assert!(out.status.success());
    assert_eq!(
        lab.env().virsh_err(&["net-start", "oxvt-b"]),
        "error: Failed to start network oxvt-b\n\
         error: internal error: Network is already in use by interface oxvbr1"
    );
    assert_eq!(host_snapshot(&lab), snap);
    lab.env().virsh_ok(&["net-undefine", "oxvt-b"]);

    // A bridge name another network has.
    assert_eq!(
        define_fails(
            "oxvt-c",
            &plain_xml("oxvt-c", "oxvbr1", "192.168.241", "", "")
        ),
        format!(
            "error: Failed to define network from {}\n\
             error: internal error: bridge name 'oxvbr1' already in use.",
            file("oxvt-c").display()
        )
    );
    assert_eq!(host_snapshot(&lab), snap);

    // A bridge name of a link that is there: the kernel's EEXIST at start, and the link
    // (not ours) stays.
    lab.net_define(
        "oxvt-d",
        &plain_xml("oxvt-d", "oxvext0", "192.168.242", "", ""),
    );
    assert_eq!(
        lab.env().virsh_err(&["net-start", "oxvt-d"]),
        "error: Failed to start network oxvt-d\n\
         error: error creating bridge interface oxvext0: File exists"
    );
    assert_eq!(host_snapshot(&lab), snap);
    lab.env().virsh_ok(&["net-undefine", "oxvt-d"]);

    // DHCP ranges outside the subnet, reversed.
    assert_eq!(
        define_fails(
            "oxvt-e",
            &plain_xml(
                "oxvt-e",
                "oxvbr5",
                "192.168.243",
                "",
                "<range start='192.168.244.100' end='192.168.244.150'/>"
            )
        ),
        format!(
            "error: Failed to define network from {}\n\
             error: internal error: range 192.168.244.100 - 192.168.244.150 is not entirely \
             within network 192.168.243.1/24",
            file("oxvt-e").display()
        )
    );
    assert_eq!(
        define_fails(
            "oxvt-f",
            &plain_xml(
                "oxvt-f",
                "oxvbr6",
                "192.168.245",
                "",
                "<range start='192.168.245.150' end='192.168.245.100'/>"
            )
        ),
        format!(
            "error: Failed to define network from {}\n\
             error: internal error: range 192.168.245.150 - 192.168.245.100 is reversed",
            file("oxvt-f").display()
        )
    );
    // Malformed XML.
    let err = define_fails("oxvt-g", "<network><name>oxvt-g</name><bridge");
    let mut lines = err.lines();
    assert_eq!(
        lines.next().unwrap(),
        format!(
            "error: Failed to define network from {}",
            file("oxvt-g").display()
        )
    );
    let second = lines.next().unwrap();
    assert!(second.starts_with("error: "), "{err}");
    println!("malformed XML: {second}");
    assert_eq!(lines.next(), None, "{err}");

    assert_eq!(host_snapshot(&lab), snap);
    assert_eq!(lab.net_names(), ["oxvt-a"]);
    // oxvt-a still works.
    assert!(lab.host_links().contains(&"oxvbr1".to_owned()));
    assert_eq!(lab.dnsmasq_pids("oxvt-a").len(), 1);
    println!("{test}: {} ms", started.elapsed().as_millis());
}

#[test]
fn lifecycle_events_reach_virsh_net_event() {
    let test = "lifecycle_events_reach_virsh_net_event";
    if !network_prereqs(test) {
        return;
    }
    let started = Instant::now();
    let lab = Lab::start("ev", Lab::no_guest());
    let mut watcher = Command::new("timeout")
        .args(["40", "virsh", "-c", &lab.env().uri()])
        .args([
            "net-event",
            "--loop",
            "--event",
            "lifecycle",
            "--timeout",
            "10",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let reader = {
        let lines = lines.clone();
        let stdout = watcher.stdout.take().unwrap();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout).lines() {
                lines.lock().unwrap().push(line.unwrap());
            }
        })
    };
    // Once a probe network's definition is seen, virsh's callback is registered.
    let probe = plain_xml("oxvt-probe", "oxvbr9", "192.168.239", "", "");
    let until = Instant::now() + Duration::from_secs(8);
    let mut probes = 0;
    loop {
        assert!(lab.net_define("oxvt-probe", &probe).status.success());
        lab.env().virsh_ok(&["net-undefine", "oxvt-probe"]);
        probes += 1;
        std::thread::sleep(Duration::from_millis(200));
        let seen = lines
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.ends_with("oxvt-probe: Defined"));
        if seen {
            break;
        }
        assert!(Instant::now() < until, "virsh net-event saw no event");
    }
    lab.define_and_start(
        "oxvt-ev",
        &plain_xml("oxvt-ev", "oxvbr1", "192.168.237", "", ""),
    );
    lab.env().virsh_ok(&["net-destroy", "oxvt-ev"]);
    lab.env().virsh_ok(&["net-undefine", "oxvt-ev"]);
    let status = watcher.wait().unwrap();
    reader.join().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut watcher.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "{stderr}");
    let lines = lines.lock().unwrap().clone();
    let probe_lines = lines.iter().filter(|l| l.contains("oxvt-probe")).count();
    assert!(probe_lines <= 2 * probes, "{lines:?}");
    let ours: Vec<&str> = lines
        .iter()
        .filter(|l| !l.contains("oxvt-probe"))
        .map(String::as_str)
        .collect();
    let received = format!("events received: {}", 4 + probe_lines);
    assert_eq!(
        ours,
        [
            "event 'lifecycle' for network oxvt-ev: Defined",
            "event 'lifecycle' for network oxvt-ev: Started",
            "event 'lifecycle' for network oxvt-ev: Stopped",
            "event 'lifecycle' for network oxvt-ev: Undefined",
            "event loop timed out",
            &received,
            "",
        ],
        "{stderr}"
    );
    println!("{test}: {} ms", started.elapsed().as_millis());
}

#[test]
fn tcg_guest_on_the_nat_network_gets_a_lease() {
    let test = "tcg_guest_on_the_nat_network_gets_a_lease";
    if !network_prereqs(test) {
        return;
    }
    let Some(g) = guest(test) else { return };
    let init =
        std::fs::read_to_string(common::qemu::workspace_root().join("xtask/data/guest-init.sh"))
            .unwrap();
    if !init.contains("udhcpc") {
        eprintln!("SKIPPED {test}: the test guest's /init runs no DHCP client");
        return;
    }
    let started = Instant::now();
    let lab = Lab::start("gst", g);
    lab.define_and_start("oxvt-gn", &nat_xml("oxvt-gn", "oxvbr1", "192.168.238"));
    let mac = "52:54:00:38:00:01";
    lab.env().define(
        "g1",
        &format!(
            "<interface type='network'>\n      <source network='oxvt-gn'/>\n      \
             <mac address='{mac}'/>\n      <model type='virtio'/>\n    </interface>"
        ),
    );
    lab.env().virsh_ok(&["start", "g1"]);
    let booted = Instant::now();

    // The tap, on the network's bridge in the host namespace.
    let list = lab.env().virsh_ok(&["domiflist", "g1"]);
    let row: Vec<&str> = list
        .lines()
        .find(|l| l.contains(mac))
        .unwrap_or_else(|| panic!("{list}"))
        .split_whitespace()
        .collect();
    assert_eq!(row[1..], ["network", "oxvt-gn", "virtio", mac], "{list}");
    let tap = row[0].to_owned();
    let ports = lab.exec_ok(&lab.host, &["ip", "-o", "link", "show", "master", "oxvbr1"]);
    assert!(ports.contains(&format!(": {tap}:")), "{ports}");

    // The guest's DHCP client gets a lease (TCG: the boot takes a while).
    let until = Instant::now() + Duration::from_secs(120);
    let table = loop {
        let table = lab.env().virsh_ok(&["net-dhcp-leases", "oxvt-gn"]);
        if table.contains(mac) || Instant::now() > until {
            break table;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    println!(
        "guest lease {} ms after virsh start",
        booted.elapsed().as_millis()
    );
    let row = table
        .lines()
        .find(|l| l.contains(mac))
        .unwrap_or_else(|| panic!("no lease for the guest:\n{table}"));
    let ip = row
        .split_whitespace()
        .find(|c| c.starts_with("192.168.238."))
        .unwrap()
        .trim_end_matches("/24")
        .to_owned();
    assert!(
        host_part(&ip, "192.168.238").is_some_and(|n| (100..=150).contains(&n)),
        "{ip}"
    );
    check_lease_table(&table, mac, &ip);

    let addrs = lab
        .env()
        .virsh_ok(&["domifaddr", "g1", "--source", "lease"]);
    let row: Vec<&str> = addrs
        .lines()
        .find(|l| l.contains(mac))
        .unwrap_or_else(|| panic!("{addrs}"))
        .split_whitespace()
        .collect();
    assert_eq!(
        row,
        [tap.as_str(), mac, "ipv4", &format!("{ip}/24")],
        "{addrs}"
    );
    // The guest answers on it.
    let mut answered = false;
    for _ in 0..10 {
        if lab.ping(&lab.host, &ip) {
            answered = true;
            break;
        }
    }
    assert!(answered, "the guest does not answer on {ip}");
    lab.env().virsh_ok(&["destroy", "g1"]);
    let ports = lab.exec_ok(&lab.host, &["ip", "-o", "link", "show", "master", "oxvbr1"]);
    assert!(!ports.contains(&format!(": {tap}:")), "{ports}");
    println!("{test}: {} ms", started.elapsed().as_millis());
}
