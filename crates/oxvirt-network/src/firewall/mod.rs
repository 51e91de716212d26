//! The nftables firewall of the active networks.
//!
//! oxvirt owns exactly one nftables table, `inet oxvirt` ([`TABLE`]), and never touches any
//! other. Every change (a network started or stopped) rebuilds that whole table from the
//! list of active networks with [`ruleset`], one `nft -f -` script that nft applies as one
//! transaction: the table is created if absent (so that deleting it cannot fail), deleted,
//! and created again with its chains and rules. A failure anywhere leaves the previous table
//! as it was. [`teardown`] removes the table (no error when it is absent).
//!
//! # The rules, and libvirt's
//!
//! The rules have the effect of libvirt's nftables backend (`network_nftables.c`, libvirt
//! 10.4 and later), which is in turn the translation of the iptables rules of libvirt 9.0:
//!
//! - chain `forward` (`type filter hook forward priority filter; policy accept`) jumps to
//!   `guest_cross`, `guest_input` and `guest_output`, in that order, as libvirt's does;
//! - chain `guest_nat` (`type nat hook postrouting priority srcnat; policy accept`).
//!
//! Per network (`bridge` B, optional `forward_dev` D, each subnet S):
//!
//! - every mode but [`FwMode::Open`]: `iifname B oifname B accept` (guest to guest across
//!   the bridge) in `guest_cross`, `iifname B reject` in `guest_output` and `oifname B
//!   reject` in `guest_input` (after the accepts below). For IPv4 always; for IPv6 when the
//!   network has an IPv6 address or `ipv6_no_gateway` (libvirt's `<network ipv6='yes'>`).
//! - [`FwMode::Nat`], IPv4 subnets (and IPv6 ones with `nat_ipv6`): out `saddr S iifname B
//!   [oifname D] accept`; in `[iifname D] oifname B daddr S ct state related,established
//!   accept`; in `guest_nat`, in this order: `saddr S daddr 224.0.0.0/24 return` (IPv6:
//!   `ff02::/16`), `saddr S daddr 255.255.255.255/32 return` (IPv4 only), then `meta
//!   l4proto tcp`, `meta l4proto udp` and any protocol `saddr S daddr != S [oifname D]
//!   masquerade` (tcp/udp `to :1024-65535`, or the `<nat><port>` range); with
//!   `<nat><address>` an IPv4 `snat ip to A-B[:ports]` instead of `masquerade`.
//! - [`FwMode::Nat`] IPv6 subnets without `nat_ipv6`, and [`FwMode::Route`]: out as above,
//!   in `daddr S [iifname D] oifname B accept` (any state: the subnet is routed).
//! - [`FwMode::Isolated`]: only the first item (nothing leaves or enters the bridge).
//! - [`FwMode::Open`]: no rule at all (libvirt adds none for `<forward mode='open'/>`).
//!
//! Differences from libvirt's nftables backend, none of which changes what is accepted,
//! rejected or translated while the networks' bridges exist:
//!
//! - one `inet` table instead of two tables `ip libvirt_network` and `ip6 libvirt_network`:
//!   rules that are not about an address say `meta nfproto ipv4`/`ipv6` to stay per family,
//!   and `reject` in an `inet` table answers ICMP port-unreachable for IPv4 and ICMPv6
//!   port-unreachable for IPv6, as libvirt's per-family `reject` does. NAT in an `inet`
//!   table needs Linux 5.2 (Debian 12 has 6.1).
//! - interfaces are matched by name (`iifname`/`oifname`) where libvirt matches the
//!   bridge by index (`iif`/`oif`): nft refuses `iif` for an interface that does not
//!   exist, which would make one missing bridge fail the whole atomic rebuild, and an
//!   index goes stale when a bridge is recreated.
//! - the rules are rebuilt for all networks at once instead of inserted and removed per
//!   network; within a chain, a network's accepts come before its rejects, as libvirt's
//!   `insert`s leave them. Rules of different networks match different bridges, so their
//!   relative order does not matter.
//! - libvirt's tc filter that fixes DHCP reply checksums is not part of this table.
//!
//! # Input to the host (DHCP, DNS, TFTP)
//!
//! libvirt 9.0's iptables backend also accepts DHCP, DNS (and TFTP) from the bridge in the
//! INPUT chain and to it in OUTPUT. Like libvirt's nftables backend, oxvirt adds no input or
//! output rules: its table drops nothing at those hooks, and an `accept` in one nftables
//! table cannot override a `drop` in another table, so such rules would have no effect.
//!
//! # Beside other firewalls (Docker, firewalld, a host's own rules)
//!
//! Netfilter runs every base chain registered at a hook, of every table, in priority
//! order. A verdict `accept` only ends the chain that gave it; `drop` (or `reject`) in any
//! chain is final. So:
//!
//! - oxvirt's chains have policy accept: traffic that is not about a network's bridge
//!   passes through them untouched, and oxvirt never drops anything that is not its own.
//! - oxvirt's rejects hold whatever other tables say.
//! - oxvirt's accepts cannot override another table's drop at the same hook: if Docker's
//!   `ip filter FORWARD` chain (policy drop) or a firewalld/host table drops forwarded
//!   traffic, guests on NAT and routed networks lose their outside connectivity until that
//!   firewall allows the bridge (e.g. Docker's `DOCKER-USER` chain, firewalld's `libvirt`
//!   zone or policy). A host firewall that drops input on the bridge likewise blocks DHCP
//!   and DNS to the network's dnsmasq. This is the same as with libvirt's nftables backend.
//!
//! With the `host` feature, [`apply`] and [`current`] run `nft` ([`Nft`] to run another
//! binary, or inside a network namespace).

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

#[cfg(feature = "host")]
mod nft;
#[cfg(feature = "host")]
pub use nft::{apply, current, Nft};

/// The nftables table oxvirt owns, in family `inet`.
pub const TABLE: &str = "oxvirt";

/// The comment on oxvirt's table (libvirt's nftables backend likewise says who manages
/// its table).
pub const COMMENT: &str = "Managed by oxvirt for its virtual networks: rebuilt on every change";

/// How a network forwards traffic, as far as the firewall is concerned (libvirt's
/// `<forward mode=...>`; modes without a bridge of ours, such as `bridge` or `hostdev`, have
/// no firewall and are not given to [`ruleset`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FwMode {
    /// `<forward mode='nat'/>` (and `<forward/>`): IPv4 masqueraded out, replies in.
    Nat,
    /// `<forward mode='route'/>`: the subnets are routed, both directions allowed.
    Route,
    /// `<forward mode='open'/>`: no rules at all.
    Open,
    /// No `<forward>`: nothing is forwarded in or out of the bridge.
    Isolated,
}

/// One active network, as the firewall needs it (the driver converts a network definition
/// into this).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirewallNet {
    /// The bridge (`<bridge name=...>`).
    pub bridge: String,
    /// The forward mode.
    pub mode: FwMode,
    /// `<forward dev=...>`: traffic in and out is restricted to that device.
    pub forward_dev: Option<String>,
    /// The IPv4 addresses with their prefixes (`<ip address netmask|prefix>`); the address
    /// may be the host's address in the subnet, the rules use the subnet.
    pub ipv4: Vec<(Ipv4Addr, u8)>,
    /// The IPv6 addresses with their prefixes.
    pub ipv6: Vec<(Ipv6Addr, u8)>,
    /// `<nat><address start end>`: SNAT to this IPv4 range instead of masquerading.
    pub nat_addresses: Option<(Ipv4Addr, Ipv4Addr)>,
    /// `<nat><port start end>`: the source port range for TCP and UDP (default 1024-65535).
    pub nat_ports: Option<(u16, u16)>,
    /// `<nat ipv6='yes'>`: IPv6 subnets are masqueraded too instead of routed.
    pub nat_ipv6: bool,
    /// `<network ipv6='yes'>`: the IPv6 reject/cross-guest rules are added even when the
    /// network has no IPv6 address (guests talk to each other over link-local IPv6).
    pub ipv6_no_gateway: bool,
}

impl FirewallNet {
    /// A network with `bridge` and `mode` and nothing else (no address, no NAT options).
    pub fn new(bridge: impl Into<String>, mode: FwMode) -> Self {
        FirewallNet {
            bridge: bridge.into(),
            mode,
            forward_dev: None,
            ipv4: Vec::new(),
            ipv6: Vec::new(),
            nat_addresses: None,
            nat_ports: None,
            nat_ipv6: false,
            ipv6_no_gateway: false,
        }
    }
}

/// Checks what [`ruleset`] cannot express, with libvirt's errors: the NAT port range must
/// have start < end (libvirt's firewall backends refuse it with `Invalid port range`), the
/// prefixes must fit their family, and interface names must be usable names.
pub fn validate(net: &FirewallNet) -> Result<(), VirError> {
    let internal = |msg: String| {
        Err(VirError::new(
            ErrorDomain::Network,
            ErrorCode::InternalError,
            msg,
        ))
    };
    if let Some((start, end)) = net.nat_ports {
        if !(start == 0 && end == 0) && start >= end {
            return internal(format!("Invalid port range '{start}-{end}'."));
        }
    }
    if net.ipv4.iter().any(|&(_, p)| p > 32) || net.ipv6.iter().any(|&(_, p)| p > 128) {
        return internal(format!("Invalid prefix or netmask for '{}'", net.bridge));
    }
    for name in std::iter::once(&net.bridge).chain(net.forward_dev.iter()) {
        if !ifname_ok(name) {
            return Err(VirError::new(
                ErrorDomain::Network,
                ErrorCode::InternalError,
                format!("Invalid interface name '{name}'"),
            ));
        }
    }
    Ok(())
}

/// Whether `name` is a Linux interface name that can be quoted in an nft script.
fn ifname_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() < 16
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_graphic() && c != '/' && c != '"' && c != '\\' && c != ':')
}

/// The script that removes oxvirt's table, whether or not it exists.
pub fn teardown() -> String {
    format!("table inet {TABLE} {{}}\ndelete table inet {TABLE}\n")
}

/// The rules of one address family of one network.
#[derive(Default)]
struct Rules {
    cross: Vec<String>,
    input: Vec<String>,
    output: Vec<String>,
    nat: Vec<String>,
}

impl Rules {
    fn is_empty(&self) -> bool {
        self.cross.is_empty()
            && self.input.is_empty()
            && self.output.is_empty()
            && self.nat.is_empty()
    }
}

/// An address family's words in nft.
#[derive(Clone, Copy)]
enum Family {
    V4,
    V6,
}

impl Family {
    fn nfproto(self) -> &'static str {
        match self {
            Family::V4 => "ipv4",
            Family::V6 => "ipv6",
        }
    }
    fn selector(self) -> &'static str {
        match self {
            Family::V4 => "ip",
            Family::V6 => "ip6",
        }
    }
}

fn subnet_v4(addr: Ipv4Addr, prefix: u8) -> String {
    let prefix = prefix.min(32);
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    };
    format!("{}/{prefix}", Ipv4Addr::from(u32::from(addr) & mask))
}

fn subnet_v6(addr: Ipv6Addr, prefix: u8) -> String {
    let prefix = prefix.min(128);
    let mask = if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(prefix))
    };
    format!("{}/{prefix}", Ipv6Addr::from(u128::from(addr) & mask))
}

fn quoted(name: &str) -> String {
    format!("\"{name}\"")
}

/// The general rules of a family: guest to guest on the bridge, reject everything else.
fn general(rules: &mut Rules, fam: Family, bridge: &str) {
    let (p, br) = (fam.nfproto(), quoted(bridge));
    rules.cross.push(format!(
        "meta nfproto {p} iifname {br} oifname {br} counter accept"
    ));
    rules
        .output
        .push(format!("meta nfproto {p} iifname {br} counter reject"));
    rules
        .input
        .push(format!("meta nfproto {p} oifname {br} counter reject"));
}

/// Allow the subnet out of the bridge (to `forward_dev` if given).
fn allow_out(accepts: &mut Rules, net: &FirewallNet, fam: Family, subnet: &str) {
    let mut rule = format!(
        "{} saddr {subnet} iifname {}",
        fam.selector(),
        quoted(&net.bridge)
    );
    if let Some(dev) = &net.forward_dev {
        let _ = write!(rule, " oifname {}", quoted(dev));
    }
    rule.push_str(" counter accept");
    accepts.output.push(rule);
}

/// Allow traffic in to the subnet: replies only (`related`) or everything (routed).
fn allow_in(accepts: &mut Rules, net: &FirewallNet, fam: Family, subnet: &str, related: bool) {
    let mut rule = String::new();
    if let Some(dev) = &net.forward_dev {
        let _ = write!(rule, "iifname {} ", quoted(dev));
    }
    let _ = write!(
        rule,
        "oifname {} {} daddr {subnet}",
        quoted(&net.bridge),
        fam.selector()
    );
    if related {
        rule.push_str(" ct state established,related");
    }
    rule.push_str(" counter accept");
    accepts.input.push(rule);
}

/// The masquerading rules of a subnet, in the order they must be evaluated.
fn masquerade(accepts: &mut Rules, net: &FirewallNet, fam: Family, subnet: &str) {
    let sel = fam.selector();
    let dev = net
        .forward_dev
        .as_ref()
        .map(|d| format!(" oifname {}", quoted(d)))
        .unwrap_or_default();
    let multicast = match fam {
        Family::V4 => "224.0.0.0/24",
        Family::V6 => "ff02::/16",
    };
    accepts.nat.push(format!(
        "{sel} saddr {subnet} {sel} daddr {multicast}{dev} counter return"
    ));
    if let Family::V4 = fam {
        accepts.nat.push(format!(
            "{sel} saddr {subnet} {sel} daddr 255.255.255.255{dev} counter return"
        ));
    }
    let (start, end) = match net.nat_ports {
        Some((0, 0)) | None => (1024, 65535),
        Some(range) => range,
    };
    let snat = match (fam, net.nat_addresses) {
        (Family::V4, Some((a, b))) if a == b => Some(a.to_string()),
        (Family::V4, Some((a, b))) => Some(format!("{a}-{b}")),
        _ => None,
    };
    for proto in ["tcp", "udp", ""] {
        let mut rule = String::new();
        if !proto.is_empty() {
            let _ = write!(rule, "meta l4proto {proto} ");
        }
        let _ = write!(
            rule,
            "{sel} saddr {subnet} {sel} daddr != {subnet}{dev} counter "
        );
        let ports = if proto.is_empty() {
            String::new()
        } else {
            format!(":{start}-{end}")
        };
        match &snat {
            Some(addrs) => {
                let _ = write!(rule, "snat ip to {addrs}{ports}");
            }
            None if ports.is_empty() => rule.push_str("masquerade"),
            None => {
                let _ = write!(rule, "masquerade to {ports}");
            }
        }
        accepts.nat.push(rule);
    }
}

/// The rules of one network: the subnet-specific accepts, then the general rules.
fn network_rules(net: &FirewallNet) -> (Rules, Rules) {
    let (mut accepts, mut general_rules) = (Rules::default(), Rules::default());
    if net.mode == FwMode::Open {
        return (accepts, general_rules);
    }
    general(&mut general_rules, Family::V4, &net.bridge);
    if !net.ipv6.is_empty() || net.ipv6_no_gateway {
        general(&mut general_rules, Family::V6, &net.bridge);
    }
    let subnets = net
        .ipv4
        .iter()
        .map(|&(a, p)| (Family::V4, subnet_v4(a, p)))
        .chain(net.ipv6.iter().map(|&(a, p)| (Family::V6, subnet_v6(a, p))));
    for (fam, subnet) in subnets {
        let natted = matches!(fam, Family::V4) || net.nat_ipv6;
        match net.mode {
            FwMode::Nat if natted => {
                allow_out(&mut accepts, net, fam, &subnet);
                allow_in(&mut accepts, net, fam, &subnet, true);
                masquerade(&mut accepts, net, fam, &subnet);
            }
            FwMode::Nat | FwMode::Route => {
                allow_out(&mut accepts, net, fam, &subnet);
                allow_in(&mut accepts, net, fam, &subnet, false);
            }
            FwMode::Open | FwMode::Isolated => {}
        }
    }
    (accepts, general_rules)
}

/// The `nft -f -` script that replaces oxvirt's table with the rules of `nets`, in one
/// transaction. Without any rule (no network, or only open ones) it is [`teardown`]'s
/// script: the table is removed.
pub fn ruleset(nets: &[FirewallNet]) -> String {
    let mut all = Rules::default();
    for net in nets {
        let (accepts, general_rules) = network_rules(net);
        for rules in [accepts, general_rules] {
            all.cross.extend(rules.cross);
            all.input.extend(rules.input);
            all.output.extend(rules.output);
            all.nat.extend(rules.nat);
        }
    }
    let mut out = teardown();
    if all.is_empty() {
        return out;
    }
    let _ = writeln!(out, "table inet {TABLE} {{\n\tcomment \"{COMMENT}\"");
    out.push_str(
        "\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n",
    );
    for chain in ["guest_cross", "guest_input", "guest_output"] {
        let _ = writeln!(out, "\t\tcounter jump {chain}");
    }
    out.push_str("\t}\n");
    for (name, rules) in [
        ("guest_cross", &all.cross),
        ("guest_input", &all.input),
        ("guest_output", &all.output),
    ] {
        let _ = writeln!(out, "\tchain {name} {{");
        for rule in rules {
            let _ = writeln!(out, "\t\t{rule}");
        }
        out.push_str("\t}\n");
    }
    out.push_str(
        "\tchain guest_nat {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n",
    );
    for rule in &all.nat {
        let _ = writeln!(out, "\t\t{rule}");
    }
    out.push_str("\t}\n}\n");
    out
}
