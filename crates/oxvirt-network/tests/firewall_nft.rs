//! The firewall applied by the real `nft`, inside network namespaces the tests create (never
//! the host's own): replacing the table, tearing it down, leaving other tables alone,
//! nft's errors, and NAT/isolation in effect on traffic between namespaces.
//!
//! Needs root, `nft` and `ip`: without them each test prints `SKIPPED` and passes (fails
//! under `cargo xtask ci`, which requires them).
#![cfg(feature = "host")]

use std::net::Ipv4Addr;
use std::process::Command;

use oxvirt_network::firewall::{self, FirewallNet, FwMode, Nft};
use oxvirt_xml::testdata;

/// Why these tests cannot run here, if they cannot.
fn unusable() -> Option<String> {
    if !testdata::is_root() {
        return Some("needs root (network namespaces, nft)".into());
    }
    ["nft", "ip", "ping"]
        .into_iter()
        .find(|prog| !testdata::have(prog))
        .map(|prog| format!("`{prog}` is not installed"))
}

macro_rules! require {
    ($name:expr) => {
        if let Some(why) = unusable() {
            testdata::unavailable($name, &why);
            return;
        }
    };
}

/// Runs a command, panicking with its stderr when it fails.
fn run(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether a command succeeds.
fn succeeds(args: &[&str]) -> bool {
    Command::new(args[0])
        .args(&args[1..])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// A network namespace, deleted when dropped (also when the test fails).
struct Netns(testdata::Netns);

impl Netns {
    fn new(what: &str) -> Netns {
        let name = format!("oxvt-{what}-{}", std::process::id());
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        Netns(testdata::Netns::add(name))
    }

    fn name(&self) -> &str {
        self.0.name()
    }

    /// `ip netns exec NS args...`
    fn exec(&self, args: &[&str]) -> String {
        let mut all = vec!["ip", "netns", "exec", self.name()];
        all.extend_from_slice(args);
        run(&all)
    }

    fn exec_ok(&self, args: &[&str]) -> bool {
        let mut all = vec!["ip", "netns", "exec", self.name()];
        all.extend_from_slice(args);
        succeeds(&all)
    }
}

fn nat_net(bridge: &str, third: u8) -> FirewallNet {
    let mut n = FirewallNet::new(bridge, FwMode::Nat);
    n.ipv4 = vec![(Ipv4Addr::new(192, 168, third, 1), 24)];
    n
}

const OTHER: &str = "table ip other {\n\tchain c {\n\t\ttype filter hook forward priority 10; policy accept;\n\t\tiifname \"virbr0\" counter accept\n\t}\n}\n";

#[tokio::test]
async fn apply_replace_teardown_in_netns() {
    require!("apply_replace_teardown_in_netns");
    let ns = Netns::new("fwt");
    let nft = Nft::in_netns(ns.name());

    // a table that is not ours, there before and after everything
    nft.apply(OTHER).await.expect("other table");
    let other = || ns.exec(&["nft", "list", "table", "ip", "other"]);
    let other_before = other();
    assert!(other_before.contains("chain c"), "{other_before}");

    assert_eq!(nft.current().await.expect("list"), None);

    let two = firewall::ruleset(&[nat_net("virbr0", 122), nat_net("virbr1", 100)]);
    nft.apply(&two).await.expect("apply two networks");
    let listed = nft.current().await.expect("list").expect("table present");
    for want in [
        "iifname \"virbr0\"",
        "iifname \"virbr1\"",
        "ip saddr 192.168.122.0/24",
        "ip saddr 192.168.100.0/24",
        "masquerade to :1024-65535",
        "type nat hook postrouting priority srcnat; policy accept;",
        "type filter hook forward priority filter; policy accept;",
        firewall::COMMENT,
    ] {
        assert!(listed.contains(want), "missing {want}:\n{listed}");
    }

    // idempotent: applying the same script again gives the same table
    nft.apply(&two).await.expect("apply again");
    assert_eq!(nft.current().await.expect("list"), Some(listed.clone()));

    // one network: the other's rules are gone
    let one = firewall::ruleset(&[nat_net("virbr0", 122)]);
    nft.apply(&one).await.expect("apply one network");
    let listed_one = nft.current().await.expect("list").expect("table present");
    assert!(listed_one.contains("virbr0"), "{listed_one}");
    assert!(!listed_one.contains("virbr1"), "{listed_one}");
    assert!(!listed_one.contains("192.168.100."), "{listed_one}");

    // a failing script changes nothing (one transaction) and reports nft's message
    let broken = format!(
        "{two}table inet oxvirt {{\n\tchain guest_nat {{\n\t\tip saddr nonsense accept\n\t}}\n}}\n"
    );
    let err = nft.apply(&broken).await.expect_err("broken script");
    assert_eq!(err.code, oxvirt_xml::ErrorCode::InternalError);
    assert_eq!(err.domain, oxvirt_xml::ErrorDomain::Firewall);
    assert!(
        err.message
            .starts_with("internal error: Failed to apply firewall rules ip netns exec"),
        "{}",
        err.message
    );
    assert!(err.message.contains("Error:"), "{}", err.message);
    assert!(err.message.contains("nonsense"), "{}", err.message);
    assert_eq!(nft.current().await.expect("list"), Some(listed_one));

    let err = nft.apply("this is not nft\n").await.expect_err("garbage");
    assert!(
        err.message.contains("Error: syntax error"),
        "{}",
        err.message
    );

    // teardown: the table is gone; again: no error
    nft.apply(&firewall::teardown()).await.expect("teardown");
    assert_eq!(nft.current().await.expect("list"), None);
    nft.apply(&firewall::teardown())
        .await
        .expect("teardown twice");
    // an empty ruleset is a teardown too
    nft.apply(&firewall::ruleset(&[])).await.expect("empty");
    assert_eq!(nft.current().await.expect("list"), None);

    assert_eq!(other(), other_before, "the other table changed");
}

#[tokio::test]
async fn missing_nft_is_a_system_error() {
    let nft = Nft::with_command(vec!["/nonexistent/oxvirt-nft".into()]);
    let err = nft.apply("").await.expect_err("no such program");
    assert_eq!(err.code, oxvirt_xml::ErrorCode::SystemError);
    assert!(
        err.message.contains("/nonexistent/oxvirt-nft -f -"),
        "{}",
        err.message
    );
}

/// Three namespaces: client —veth— host —veth— uplink. The host has the bridge `virbr0`
/// (192.168.177.1/24, 2001:db8:177::1/64) with the client's veth in it, `up0`
/// (10.88.0.1/24, 2001:db8:88::1/64) to the uplink (10.88.0.2/24, 2001:db8:88::2/64),
/// and forwards both families. The client routes everything through the bridge; the
/// uplink knows no route back.
fn topology(tag: &str) -> (Netns, Netns, Netns) {
    let client = Netns::new(&format!("{tag}c"));
    let host = Netns::new(&format!("{tag}h"));
    let uplink = Netns::new(&format!("{tag}u"));
    let ip = |ns: &Netns, args: &[&str]| {
        let mut all = vec!["ip", "-n", ns.name()];
        all.extend_from_slice(args);
        run(&all);
    };
    ip(&host, &["link", "add", "virbr0", "type", "bridge"]);
    ip(
        &host,
        &[
            "link",
            "add",
            "vnet0",
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            client.name(),
        ],
    );
    ip(
        &host,
        &[
            "link",
            "add",
            "up0",
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            uplink.name(),
        ],
    );
    ip(&host, &["link", "set", "vnet0", "master", "virbr0"]);
    for (dev, addrs) in [
        ("virbr0", ["192.168.177.1/24", "2001:db8:177::1/64"]),
        ("up0", ["10.88.0.1/24", "2001:db8:88::1/64"]),
    ] {
        ip(&host, &["addr", "add", addrs[0], "dev", dev]);
        ip(&host, &["addr", "add", addrs[1], "dev", dev, "nodad"]);
    }
    for dev in ["lo", "virbr0", "vnet0", "up0"] {
        ip(&host, &["link", "set", dev, "up"]);
    }
    host.exec(&["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);
    host.exec(&["sysctl", "-q", "-w", "net.ipv6.conf.all.forwarding=1"]);
    for (ns, addrs) in [
        (&client, ["192.168.177.2/24", "2001:db8:177::2/64"]),
        (&uplink, ["10.88.0.2/24", "2001:db8:88::2/64"]),
    ] {
        ip(ns, &["addr", "add", addrs[0], "dev", "eth0"]);
        ip(ns, &["addr", "add", addrs[1], "dev", "eth0", "nodad"]);
        ip(ns, &["link", "set", "eth0", "up"]);
        ip(ns, &["link", "set", "lo", "up"]);
    }
    ip(
        &client,
        &["route", "add", "default", "via", "192.168.177.1"],
    );
    ip(
        &client,
        &["-6", "route", "add", "default", "via", "2001:db8:177::1"],
    );
    (client, host, uplink)
}

/// client —veth— host (bridge `virbr0` 192.168.177.1/24, forwarding, our rules) —veth—
/// uplink 10.88.0.2/24. The uplink has no route back to 192.168.177.0/24: the client's
/// ping comes back only if it was masqueraded.
#[tokio::test]
async fn nat_and_isolation_on_traffic() {
    require!("nat_and_isolation_on_traffic");
    let (client, host, uplink) = topology("fw");

    let ping = || {
        client.exec_ok(&["ping", "-c", "1", "-W", "1", "10.88.0.2"])
            || client.exec_ok(&["ping", "-c", "2", "-W", "2", "10.88.0.2"])
    };
    // the bridge itself answers: the setup works
    assert!(client.exec_ok(&["ping", "-c", "1", "-W", "2", "192.168.177.1"]));
    // no rules: the uplink cannot answer (no route back)
    assert!(
        !ping(),
        "reached the uplink without NAT: the test proves nothing"
    );

    let nft = Nft::in_netns(host.name());
    let mut net = nat_net("virbr0", 177);
    nft.apply(&firewall::ruleset(&[net.clone()]))
        .await
        .expect("nat rules");
    assert!(ping(), "no connectivity through the masquerade");
    let listed = nft.current().await.expect("list").expect("table");
    assert!(
        listed.contains("masquerade") && !listed.contains("packets 0 bytes 0 masquerade\n"),
        "the generic masquerade rule saw no packet:\n{listed}"
    );

    // another table that drops at the same hook wins over our accepts (as documented) ...
    let dropper = "table ip other {\n\tchain c {\n\t\ttype filter hook forward priority 10; policy drop;\n\t}\n}\n";
    nft.apply(dropper).await.expect("other table");
    assert!(!ping(), "another table's drop was overridden");
    // ... and rebuilding our table leaves it in place
    nft.apply(&firewall::ruleset(&[net.clone()]))
        .await
        .expect("nat rules again");
    assert!(ns_has_other(&host));
    nft.apply("delete table ip other\n")
        .await
        .expect("delete other");
    assert!(ping(), "no connectivity after the other table went");

    // from the uplink, the client is not reachable (even with a route): only replies enter
    run(&[
        "ip",
        "-n",
        uplink.name(),
        "route",
        "add",
        "192.168.177.0/24",
        "via",
        "10.88.0.1",
    ]);
    assert!(
        !uplink.exec_ok(&["ping", "-c", "1", "-W", "1", "192.168.177.2"]),
        "a new connection from outside reached a NAT guest"
    );

    // route mode: the routed subnet is reachable both ways, no NAT needed
    net.mode = FwMode::Route;
    nft.apply(&firewall::ruleset(&[net.clone()]))
        .await
        .expect("route rules");
    assert!(ping(), "routed network: no connectivity");
    assert!(uplink.exec_ok(&["ping", "-c", "1", "-W", "2", "192.168.177.2"]));

    // isolated: nothing forwarded, even with the route back
    net.mode = FwMode::Isolated;
    nft.apply(&firewall::ruleset(&[net]))
        .await
        .expect("isolated rules");
    assert!(!ping(), "an isolated network reached the outside");
    assert!(!uplink.exec_ok(&["ping", "-c", "1", "-W", "1", "192.168.177.2"]));
    // the host itself still answers on the bridge
    assert!(client.exec_ok(&["ping", "-c", "1", "-W", "2", "192.168.177.1"]));

    nft.apply(&firewall::teardown()).await.expect("teardown");
    assert_eq!(nft.current().await.expect("list"), None);
}

/// Whether the namespace has the test's `ip other` table.
fn ns_has_other(ns: &Netns) -> bool {
    ns.exec_ok(&["nft", "list", "table", "ip", "other"])
}

/// IPv6 on a NAT network is routed (libvirt does not NAT IPv6 without `<nat ipv6='yes'>`),
/// masqueraded with `nat_ipv6`; an isolated network forwards no IPv6 either.
#[tokio::test]
async fn ipv6_routed_masqueraded_isolated() {
    require!("ipv6_routed_masqueraded_isolated");
    let (client, host, uplink) = topology("fw6");
    let out = || {
        client.exec_ok(&["ping", "-6", "-c", "1", "-W", "1", "2001:db8:88::2"])
            || client.exec_ok(&["ping", "-6", "-c", "2", "-W", "2", "2001:db8:88::2"])
    };
    let inward = || uplink.exec_ok(&["ping", "-6", "-c", "2", "-W", "1", "2001:db8:177::2"]);
    assert!(client.exec_ok(&["ping", "-6", "-c", "1", "-W", "2", "2001:db8:177::1"]));
    assert!(
        !out(),
        "reached the uplink without a route back: the test proves nothing"
    );

    let nft = Nft::in_netns(host.name());
    let mut net = nat_net("virbr0", 177);
    net.ipv6 = vec![("2001:db8:177::1".parse().expect("v6"), 64)];

    // masqueraded: out works without a route back, nothing new comes in
    net.nat_ipv6 = true;
    nft.apply(&firewall::ruleset(&[net.clone()]))
        .await
        .expect("nat ipv6");
    assert!(out(), "IPv6 masquerade: no connectivity");
    run(&[
        "ip",
        "-n",
        uplink.name(),
        "-6",
        "route",
        "add",
        "2001:db8:177::/64",
        "via",
        "2001:db8:88::1",
    ]);
    assert!(
        !inward(),
        "a new IPv6 connection from outside reached a masqueraded guest"
    );

    // routed (plain NAT network): both ways with the route back
    net.nat_ipv6 = false;
    nft.apply(&firewall::ruleset(&[net.clone()]))
        .await
        .expect("nat, ipv6 routed");
    assert!(out(), "routed IPv6: no connectivity out");
    assert!(inward(), "routed IPv6: no connectivity in");

    net.mode = FwMode::Isolated;
    nft.apply(&firewall::ruleset(&[net]))
        .await
        .expect("isolated");
    assert!(!out(), "an isolated network forwarded IPv6 out");
    assert!(!inward(), "an isolated network forwarded IPv6 in");

    nft.apply(&firewall::teardown()).await.expect("teardown");
}

/// A script larger than a pipe's buffer, with an error at its start: nft's message, not a
/// broken pipe; and the same size valid script applies (200 networks).
#[tokio::test]
async fn large_scripts() {
    require!("large_scripts");
    let ns = Netns::new("fwl");
    let nft = Nft::in_netns(ns.name());
    let nets: Vec<FirewallNet> = (0..200u8)
        .map(|i| {
            let mut n = nat_net(&format!("virbr{i}"), i);
            n.ipv6 = vec![(format!("2001:db8:{i}::1").parse().expect("v6"), 64)];
            n
        })
        .collect();
    let script = firewall::ruleset(&nets);
    assert!(script.len() > 128 * 1024, "{}", script.len());
    nft.apply(&script).await.expect("200 networks");
    let listed = nft.current().await.expect("list").expect("table");
    assert!(listed.contains("\"virbr199\""));
    let err = nft
        .apply(&format!("bogus statement\n{script}"))
        .await
        .expect_err("broken");
    assert!(err.message.contains("Error:"), "{}", err.message);
    assert_eq!(nft.current().await.expect("list"), Some(listed));
}
