//! The nftables script `firewall::ruleset` writes, per forward mode.

use std::net::{Ipv4Addr, Ipv6Addr};

use oxvirt_network::firewall::{self, FirewallNet, FwMode, TABLE};

fn net(bridge: &str, mode: FwMode) -> FirewallNet {
    let mut n = FirewallNet::new(bridge, mode);
    n.ipv4 = vec![(Ipv4Addr::new(192, 168, 122, 1), 24)];
    n
}

fn v6() -> (Ipv6Addr, u8) {
    ("2001:db8:ca2:2::1".parse().expect("v6"), 64)
}

/// The rule lines of chain `name` in `script`.
fn chain(script: &str, name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in script.lines() {
        let l = line.trim();
        if l == format!("chain {name} {{") {
            inside = true;
        } else if inside && l == "}" {
            return out;
        } else if inside && !l.starts_with("type ") {
            out.push(l.to_string());
        }
    }
    out
}

#[test]
fn table_is_replaced_atomically() {
    let s = firewall::ruleset(&[net("virbr0", FwMode::Nat)]);
    let head: Vec<&str> = s.lines().take(3).collect();
    assert_eq!(
        head,
        [
            "table inet oxvirt {}",
            "delete table inet oxvirt",
            "table inet oxvirt {"
        ]
    );
    assert_eq!(TABLE, "oxvirt");
    assert_eq!(
        s.lines().nth(3).map(str::trim),
        Some(format!("comment \"{}\"", firewall::COMMENT).as_str())
    );
    assert!(s.contains("type filter hook forward priority filter; policy accept;"));
    assert!(s.contains("type nat hook postrouting priority srcnat; policy accept;"));
    assert_eq!(
        chain(&s, "forward"),
        [
            "counter jump guest_cross",
            "counter jump guest_input",
            "counter jump guest_output"
        ]
    );
    // nothing in the script drops: every verdict is accept, reject, return or a NAT
    assert!(!s.contains("drop"));
}

#[test]
fn teardown_and_empty_ruleset() {
    let t = firewall::teardown();
    assert_eq!(t, "table inet oxvirt {}\ndelete table inet oxvirt\n");
    assert_eq!(firewall::ruleset(&[]), t);
    assert_eq!(firewall::ruleset(&[net("virbr9", FwMode::Open)]), t);
}

#[test]
fn nat_rules() {
    let s = firewall::ruleset(&[net("virbr0", FwMode::Nat)]);
    assert_eq!(
        chain(&s, "guest_cross"),
        [r#"meta nfproto ipv4 iifname "virbr0" oifname "virbr0" counter accept"#]
    );
    assert_eq!(
        chain(&s, "guest_output"),
        [
            r#"ip saddr 192.168.122.0/24 iifname "virbr0" counter accept"#,
            r#"meta nfproto ipv4 iifname "virbr0" counter reject"#,
        ]
    );
    assert_eq!(
        chain(&s, "guest_input"),
        [
            r#"oifname "virbr0" ip daddr 192.168.122.0/24 ct state established,related counter accept"#,
            r#"meta nfproto ipv4 oifname "virbr0" counter reject"#,
        ]
    );
    assert_eq!(
        chain(&s, "guest_nat"),
        [
            "ip saddr 192.168.122.0/24 ip daddr 224.0.0.0/24 counter return",
            "ip saddr 192.168.122.0/24 ip daddr 255.255.255.255 counter return",
            "meta l4proto tcp ip saddr 192.168.122.0/24 ip daddr != 192.168.122.0/24 counter masquerade to :1024-65535",
            "meta l4proto udp ip saddr 192.168.122.0/24 ip daddr != 192.168.122.0/24 counter masquerade to :1024-65535",
            "ip saddr 192.168.122.0/24 ip daddr != 192.168.122.0/24 counter masquerade",
        ]
    );
    // IPv4 only: no IPv6 rule at all
    assert!(!s.contains("ipv6") && !s.contains("ip6"));
}

#[test]
fn nat_forward_dev_ports_and_addresses() {
    let mut n = net("virbr0", FwMode::Nat);
    n.forward_dev = Some("enp0s7".into());
    n.nat_ports = Some((500, 1000));
    let s = firewall::ruleset(&[n.clone()]);
    assert_eq!(
        chain(&s, "guest_output")[0],
        r#"ip saddr 192.168.122.0/24 iifname "virbr0" oifname "enp0s7" counter accept"#
    );
    assert_eq!(
        chain(&s, "guest_input")[0],
        r#"iifname "enp0s7" oifname "virbr0" ip daddr 192.168.122.0/24 ct state established,related counter accept"#
    );
    let nat = chain(&s, "guest_nat");
    assert_eq!(
        nat[0],
        r#"ip saddr 192.168.122.0/24 ip daddr 224.0.0.0/24 oifname "enp0s7" counter return"#
    );
    assert_eq!(
        nat[2],
        r#"meta l4proto tcp ip saddr 192.168.122.0/24 ip daddr != 192.168.122.0/24 oifname "enp0s7" counter masquerade to :500-1000"#
    );
    // the catch-all reject of a forward dev network still covers every interface
    assert_eq!(
        chain(&s, "guest_output")[1],
        r#"meta nfproto ipv4 iifname "virbr0" counter reject"#
    );

    n.nat_addresses = Some((Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 5)));
    let nat = chain(&firewall::ruleset(&[n.clone()]), "guest_nat");
    assert!(
        nat[3].ends_with("counter snat ip to 10.0.0.1-10.0.0.5:500-1000"),
        "{}",
        nat[3]
    );
    assert!(
        nat[4].ends_with("counter snat ip to 10.0.0.1-10.0.0.5"),
        "{}",
        nat[4]
    );
    n.nat_addresses = Some((Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 1)));
    let nat = chain(&firewall::ruleset(&[n]), "guest_nat");
    assert!(
        nat[4].ends_with("counter snat ip to 10.0.0.1"),
        "{}",
        nat[4]
    );
}

#[test]
fn nat_ipv6_routed_or_masqueraded() {
    let mut n = net("virbr0", FwMode::Nat);
    n.ipv6 = vec![v6()];
    let s = firewall::ruleset(&[n.clone()]);
    assert!(chain(&s, "guest_output")
        .contains(&r#"ip6 saddr 2001:db8:ca2:2::/64 iifname "virbr0" counter accept"#.into()));
    assert!(chain(&s, "guest_input")
        .contains(&r#"oifname "virbr0" ip6 daddr 2001:db8:ca2:2::/64 counter accept"#.into()));
    assert!(chain(&s, "guest_output")
        .contains(&r#"meta nfproto ipv6 iifname "virbr0" counter reject"#.into()));
    assert!(chain(&s, "guest_cross")
        .contains(&r#"meta nfproto ipv6 iifname "virbr0" oifname "virbr0" counter accept"#.into()));
    assert!(!chain(&s, "guest_nat").iter().any(|r| r.contains("ip6")));

    n.nat_ipv6 = true;
    n.nat_addresses = Some((Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 5)));
    let s = firewall::ruleset(&[n]);
    let nat6: Vec<String> = chain(&s, "guest_nat")
        .into_iter()
        .filter(|r| r.contains("ip6"))
        .collect();
    assert_eq!(
        nat6,
        [
            "ip6 saddr 2001:db8:ca2:2::/64 ip6 daddr ff02::/16 counter return",
            "meta l4proto tcp ip6 saddr 2001:db8:ca2:2::/64 ip6 daddr != 2001:db8:ca2:2::/64 counter masquerade to :1024-65535",
            "meta l4proto udp ip6 saddr 2001:db8:ca2:2::/64 ip6 daddr != 2001:db8:ca2:2::/64 counter masquerade to :1024-65535",
            "ip6 saddr 2001:db8:ca2:2::/64 ip6 daddr != 2001:db8:ca2:2::/64 counter masquerade",
        ]
    );
    assert!(chain(&s, "guest_input").contains(
        &r#"oifname "virbr0" ip6 daddr 2001:db8:ca2:2::/64 ct state established,related counter accept"#.into()
    ));
}

#[test]
fn route_rules() {
    let mut n = net("virbr1", FwMode::Route);
    n.ipv4 = vec![(Ipv4Addr::new(10, 1, 2, 200), 25)];
    n.forward_dev = Some("eth1".into());
    let s = firewall::ruleset(&[n]);
    assert_eq!(
        chain(&s, "guest_output"),
        [
            r#"ip saddr 10.1.2.128/25 iifname "virbr1" oifname "eth1" counter accept"#,
            r#"meta nfproto ipv4 iifname "virbr1" counter reject"#,
        ]
    );
    assert_eq!(
        chain(&s, "guest_input"),
        [
            r#"iifname "eth1" oifname "virbr1" ip daddr 10.1.2.128/25 counter accept"#,
            r#"meta nfproto ipv4 oifname "virbr1" counter reject"#,
        ]
    );
    assert!(chain(&s, "guest_nat").is_empty());
}

#[test]
fn isolated_rules() {
    let mut n = net("virbr2", FwMode::Isolated);
    n.ipv6 = vec![v6()];
    let s = firewall::ruleset(&[n]);
    assert_eq!(
        chain(&s, "guest_cross"),
        [
            r#"meta nfproto ipv4 iifname "virbr2" oifname "virbr2" counter accept"#,
            r#"meta nfproto ipv6 iifname "virbr2" oifname "virbr2" counter accept"#,
        ]
    );
    assert_eq!(
        chain(&s, "guest_output"),
        [
            r#"meta nfproto ipv4 iifname "virbr2" counter reject"#,
            r#"meta nfproto ipv6 iifname "virbr2" counter reject"#,
        ]
    );
    assert_eq!(
        chain(&s, "guest_input"),
        [
            r#"meta nfproto ipv4 oifname "virbr2" counter reject"#,
            r#"meta nfproto ipv6 oifname "virbr2" counter reject"#,
        ]
    );
    assert!(chain(&s, "guest_nat").is_empty());

    // <network ipv6='yes'> without an IPv6 address: IPv6 general rules too
    let mut n = FirewallNet::new("virbr3", FwMode::Isolated);
    n.ipv6_no_gateway = true;
    let s = firewall::ruleset(&[n]);
    assert_eq!(chain(&s, "guest_output").len(), 2);
}

#[test]
fn open_adds_nothing_beside_others() {
    let s = firewall::ruleset(&[net("virbr0", FwMode::Nat), net("virbr9", FwMode::Open)]);
    assert!(!s.contains("virbr9"));
    assert!(s.contains("virbr0"));
}

#[test]
fn several_networks_in_one_table() {
    let mut b = net("virbr1", FwMode::Isolated);
    b.ipv4 = vec![(Ipv4Addr::new(192, 168, 100, 1), 24)];
    let s = firewall::ruleset(&[net("virbr0", FwMode::Nat), b]);
    assert_eq!(s.matches("table inet oxvirt {\n").count(), 1);
    assert_eq!(s.matches("chain guest_output {").count(), 1);
    let out = chain(&s, "guest_output");
    assert_eq!(out.len(), 3);
    assert!(out[2].contains("virbr1") && out[2].ends_with("reject"));
    // an isolated network's subnet is never masqueraded
    assert!(!s.contains("192.168.100.0/24"));
}

#[test]
fn validate_refuses_what_libvirt_refuses() {
    let mut n = net("virbr0", FwMode::Nat);
    assert!(firewall::validate(&n).is_ok());
    n.nat_ports = Some((1000, 500));
    let e = firewall::validate(&n).expect_err("reversed range");
    assert_eq!(e.message, "internal error: Invalid port range '1000-500'.");
    n.nat_ports = Some((0, 0));
    assert!(firewall::validate(&n).is_ok());
    n.bridge = "bad\"name".into();
    assert!(firewall::validate(&n).is_err());
    n.bridge = "waytoolongbridgename".into();
    assert!(firewall::validate(&n).is_err());
    n.bridge = "virbr0".into();
    n.ipv4 = vec![(Ipv4Addr::new(10, 0, 0, 1), 33)];
    assert!(firewall::validate(&n).is_err());
}
