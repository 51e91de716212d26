//! oxvirt's nftables rules against libvirt's nftables backend (its test suite's expected
//! `nft` commands, `libvirt-main-nftables/*-linux.nftables`): the same rules in effect.
//!
//! Both sides are reduced to one canonical line per rule, `FAMILY CHAIN: clauses => verdict`
//! with the match clauses sorted, and compared as multisets per case. The reduction maps
//! only what the two write differently for the same effect:
//!
//! - oxvirt's one `inet` table says `meta nfproto ipv4|ipv6` (or `ip`/`ip6` selectors)
//!   where libvirt has tables `ip`/`ip6`: the family comes from that, and the clause goes;
//! - oxvirt matches the bridge by name (`iifname`/`oifname`), libvirt by index
//!   (`iif`/`oif`): both become `iif`/`oif` for the bridge, the forward dev stays by name;
//! - `255.255.255.255/32` is `255.255.255.255`, `related,established` is
//!   `established,related`, `counter` and quotes go.
//!
//! Order: libvirt inserts every rule at the head of its chain, so its effective order is
//! the reverse of its commands; the order that matters (the NAT returns before the
//! masquerades of a subnet, a network's accepts before its rejects, and the `forward`
//! chain's jumps from `base.nftables`) is checked separately.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;

use oxvirt_network::firewall::{self, FirewallNet, FwMode};
use oxvirt_xml::testdata::{conformance, Tally};

const V4: (Ipv4Addr, u8) = (Ipv4Addr::new(192, 168, 122, 1), 24);
const V4B: (Ipv4Addr, u8) = (Ipv4Addr::new(192, 168, 128, 1), 24);
const V4C: (Ipv4Addr, u8) = (Ipv4Addr::new(192, 168, 150, 1), 24);

fn v6() -> (Ipv6Addr, u8) {
    ("2001:db8:ca2:2::1".parse().expect("v6"), 64)
}

/// The networks of libvirt's test cases, as the driver hands them to the firewall.
fn cases() -> Vec<(&'static str, FirewallNet)> {
    let base = |mode| FirewallNet::new("virbr0", mode);
    let mut out = Vec::new();

    let mut n = base(FwMode::Nat);
    n.ipv4 = vec![V4];
    out.push(("nat-default", n.clone()));

    let mut m = n.clone();
    m.ipv6 = vec![v6()];
    out.push(("nat-ipv6", m.clone()));
    m.nat_ipv6 = true;
    out.push(("nat-ipv6-masquerade", m));

    let mut m = n.clone();
    m.ipv4 = vec![V4, V4B, V4C];
    out.push(("nat-many-ips", m));

    let mut m = n.clone();
    m.ipv4 = vec![V4, V4B];
    m.ipv6 = vec![v6()];
    m.nat_ports = Some((500, 1000));
    out.push(("nat-port-range", m.clone()));
    m.nat_ipv6 = true;
    out.push(("nat-port-range-ipv6", m));

    let mut m = n.clone();
    m.forward_dev = Some("enp0s7".into());
    out.push(("forward-dev", m));

    let mut m = base(FwMode::Isolated);
    m.ipv4 = vec![V4, V4B];
    m.ipv6 = vec![v6()];
    out.push(("isolated", m));

    let mut m = base(FwMode::Route);
    m.ipv4 = vec![V4];
    out.push(("route-default", m));
    out
}

/// libvirt's commands in a `.nftables` file: one word list per `nft` command.
fn commands(text: &str) -> Vec<Vec<String>> {
    let joined = text.replace("\\\n", " ");
    joined
        .lines()
        .filter(|l| l.trim_start().starts_with("nft"))
        .map(|l| {
            l.split_whitespace()
                .map(|w| w.trim_matches('\'').to_string())
                .collect()
        })
        .collect()
}

/// One rule as `(family, chain, clauses => verdict)`, clauses sorted. `bridge` is the name
/// of the network's bridge (matched by name in oxvirt, by index in libvirt).
fn canonical(family: &str, chain: &str, words: &[&str], bridge: &str) -> (String, String, String) {
    let mut clauses = Vec::new();
    let mut fam = family.to_string();
    let mut verdict = String::new();
    let mut i = 0;
    while i < words.len() {
        let w = words[i];
        let arg = |k: usize| words.get(i + k).map(|s| s.trim_matches('"')).unwrap_or("");
        match w {
            "counter" => i += 1,
            "meta" if arg(1) == "nfproto" => {
                fam = if arg(2) == "ipv4" { "ip" } else { "ip6" }.to_string();
                i += 3;
            }
            "meta" => {
                clauses.push(format!("{} {}", arg(1), arg(2)));
                i += 3;
            }
            "iif" | "oif" | "iifname" | "oifname" => {
                let dev = arg(1);
                let short = w.trim_end_matches("name");
                if dev == bridge {
                    clauses.push(format!("{short} {dev}"));
                } else {
                    clauses.push(format!("{short}name {dev}"));
                }
                i += 2;
            }
            "ip" | "ip6" => {
                fam = w.to_string();
                let (op, val, n) = if arg(2) == "!=" {
                    ("!= ", arg(3), 4)
                } else {
                    ("", arg(2), 3)
                };
                let val = val.strip_suffix("/32").unwrap_or(val);
                clauses.push(format!("{} {op}{val}", arg(1)));
                i += n;
            }
            "ct" => {
                let mut states: Vec<&str> = arg(2).split(',').collect();
                states.sort();
                clauses.push(format!("ct state {}", states.join(",")));
                i += 3;
            }
            _ => {
                verdict = words[i..]
                    .iter()
                    .filter(|w| **w != "ip")
                    .copied()
                    .collect::<Vec<_>>()
                    .join(" ");
                break;
            }
        }
    }
    clauses.sort();
    (
        fam,
        chain.to_string(),
        format!("{} => {verdict}", clauses.join(" & ")),
    )
}

/// libvirt's rules in effective order (the reverse of its `insert`s), canonical.
fn libvirt_rules(text: &str) -> Vec<(String, String, String)> {
    let mut rules: Vec<_> = commands(text)
        .into_iter()
        .filter_map(|c| {
            let at = c.iter().position(|w| w == "rule")?;
            let (family, chain) = (c.get(at + 1)?.clone(), c.get(at + 3)?.clone());
            let words: Vec<&str> = c[at + 4..].iter().map(String::as_str).collect();
            Some(canonical(&family, &chain, &words, "virbr0"))
        })
        .collect();
    rules.reverse();
    rules
}

/// oxvirt's rules in order, canonical: `(family, chain, rule)`.
fn our_rules(script: &str, bridge: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut chain = String::new();
    for line in script.lines() {
        let l = line.trim();
        if let Some(name) = l.strip_prefix("chain ") {
            chain = name.trim_end_matches(" {").to_string();
        } else if l.is_empty()
            || l == "}"
            || l.starts_with("type ")
            || l.starts_with("table ")
            || l.starts_with("delete ")
            || l.starts_with("comment ")
            || chain == "forward"
        {
        } else {
            let words: Vec<&str> = l.split_whitespace().collect();
            out.push(canonical("inet", &chain, &words, bridge));
        }
    }
    out
}

fn as_text(rules: &[(String, String, String)]) -> String {
    let mut lines: Vec<String> = rules
        .iter()
        .map(|(f, c, r)| format!("{f} {c}: {r}"))
        .collect();
    lines.sort();
    lines.join("\n")
}

/// Order checks on one chain of one family: each subnet's NAT rules in libvirt's order,
/// and every accept before the rejects.
fn order_problems(
    ours: &[(String, String, String)],
    theirs: &[(String, String, String)],
) -> Vec<String> {
    let mut problems = Vec::new();
    let group = |rules: &[(String, String, String)]| {
        let mut by: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
        for (f, c, r) in rules {
            by.entry((f.clone(), c.clone()))
                .or_default()
                .push(r.clone());
        }
        by
    };
    let (o, t) = (group(ours), group(theirs));
    for ((f, c), rules) in &o {
        let first_reject = rules.iter().position(|r| r.ends_with("=> reject"));
        if let Some(at) = first_reject {
            if rules[at..].iter().any(|r| !r.ends_with("=> reject")) {
                problems.push(format!("{f} {c}: an accept after a reject"));
            }
        }
        if c == "guest_nat" {
            let theirs = t.get(&(f.clone(), c.clone())).cloned().unwrap_or_default();
            // per source subnet, the sequence of rules must be libvirt's
            let subnet = |r: &str| {
                r.split(" & ")
                    .find(|cl| cl.starts_with("saddr "))
                    .unwrap_or("")
                    .to_string()
            };
            let subnets: Vec<String> = rules.iter().map(|r| subnet(r)).collect();
            for s in subnets {
                let a: Vec<&String> = rules.iter().filter(|r| subnet(r) == s).collect();
                let b: Vec<&String> = theirs.iter().filter(|r| subnet(r) == s).collect();
                if a != b {
                    problems.push(format!("{f} {c} {s}: order {a:?} != {b:?}"));
                }
            }
        }
    }
    problems
}

fn dir() -> Option<std::path::PathBuf> {
    let dir = conformance("../libvirt-main-nftables");
    if Path::new(&dir).join("base.nftables").exists() {
        Some(dir)
    } else {
        eprintln!(
            "SKIPPED firewall conformance: {} does not exist",
            dir.display()
        );
        None
    }
}

#[test]
fn same_rules_as_libvirt_nftables() {
    let Some(dir) = dir() else { return };
    let mut tally = Tally::default();
    for (name, net) in cases() {
        let path = dir.join(format!("{name}-linux.nftables"));
        let text = std::fs::read_to_string(&path).expect("read libvirt's expected commands");
        let theirs = libvirt_rules(&text);
        let ours = our_rules(&firewall::ruleset(&[net]), "virbr0");
        assert!(
            !theirs.is_empty(),
            "{name}: no rule read from libvirt's file"
        );
        if name == "nat-default" {
            // 3 general rules, out, related in, 2 returns, 3 masquerades
            assert_eq!((theirs.len(), ours.len()), (10, 10), "{name}");
        }
        tally.record(name, &as_text(&theirs), Ok(as_text(&ours)));
        let problems = order_problems(&ours, &theirs);
        assert!(problems.is_empty(), "{name}: {problems:#?}");
    }
    tally.report(
        20,
        "OXVIRT_ALL_MISMATCHES",
        &["nat-default", "nat-ipv6", "isolated", "forward-dev"],
        9,
    );
}

#[test]
fn forward_chain_jumps_like_libvirt() {
    let Some(dir) = dir() else { return };
    let text = std::fs::read_to_string(dir.join("base.nftables")).expect("base.nftables");
    // libvirt inserts each jump at the head of `forward`: effective order is reversed.
    let mut jumps: Vec<String> = commands(&text)
        .into_iter()
        .filter(|c| {
            c.get(1).map(String::as_str) == Some("insert")
                && c.get(2).map(String::as_str) == Some("rule")
                && c.get(3).map(String::as_str) == Some("ip")
        })
        .filter_map(|c| c.last().cloned())
        .collect();
    jumps.reverse();
    assert_eq!(jumps, ["guest_cross", "guest_input", "guest_output"]);
    let mut n = FirewallNet::new("virbr0", FwMode::Nat);
    n.ipv4 = vec![V4];
    let script = firewall::ruleset(&[n]);
    let ours: Vec<String> = script
        .lines()
        .filter_map(|l| l.trim().strip_prefix("counter jump ").map(str::to_string))
        .collect();
    assert_eq!(ours, jumps);
    // the base chains' hooks, priorities and policies
    assert!(text.contains("type filter hook forward priority 0; policy accept;"));
    assert!(text.contains("type nat hook postrouting priority 100; policy accept;"));
    assert!(script.contains("type filter hook forward priority filter; policy accept;"));
    assert!(script.contains("type nat hook postrouting priority srcnat; policy accept;"));
}
