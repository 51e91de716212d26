//! libvirt's networkxml2conftest: each `network/networkxml2confdata/NAME.xml` read as a
//! network and turned into dnsmasq's configuration must equal `NAME.conf` byte for byte,
//! and its DHCP hosts file `NAME.hostsfile` where the case has one. Paths as libvirt's
//! test has them (`/var/lib/libvirt/dnsmasq`, no pid file, leases through the helper).
//!
//! `OXVIRT_DNSMASQ_ALL=1` prints every mismatch.

#![allow(clippy::unwrap_used)]

use oxvirt_network::dnsmasq::{config, hosts_file, Paths};
use oxvirt_network::model::Network;
use oxvirt_xml::testdata::{conformance, Tally};

/// Cases that must keep matching (the floor below counts them all).
const MUST: &[&str] = &[
    "nat-network",
    "dhcp6-nat-network",
    "dhcp6host-routed-network",
    "isolated-network",
    "routed-network-no-dns",
    "nat-network-name-with-quotes",
    "nat-network-dns-srv-record",
    "ptr-domains-auto",
    "netboot-network",
    "dnsmasq-options",
];

/// How many cases matched when this floor was last raised (all 27 of libvirt 9.0).
const FLOOR: usize = 27;

#[test]
fn networkxml2conf() {
    let dir = conformance("network/networkxml2confdata");
    if !dir.is_dir() {
        eprintln!("SKIPPED networkxml2conf: no {}", dir.display());
        return;
    }
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".xml").map(String::from)
        })
        .collect();
    names.sort();
    let mut tally = Tally::default();
    let paths = Paths::libvirt_test();
    for name in &names {
        let xml = std::fs::read_to_string(dir.join(format!("{name}.xml"))).unwrap();
        let want_conf = std::fs::read_to_string(dir.join(format!("{name}.conf"))).unwrap();
        let want_hosts = std::fs::read_to_string(dir.join(format!("{name}.hostsfile"))).ok();
        let got = Network::parse(&xml)
            .map_err(|e| format!("parse: {}", e.message))
            .and_then(|net| {
                let conf = config(&net, &paths).map_err(|e| format!("config: {}", e.message))?;
                Ok((conf, hosts_file(&net)))
            });
        // One case = the configuration and, where libvirt's data has one, the hosts file.
        let (want, got) = match (want_hosts, got) {
            (Some(h), Ok((c, g))) => (
                format!("{want_conf}--hostsfile--\n{h}"),
                Ok(format!("{c}--hostsfile--\n{g}")),
            ),
            (Some(h), Err(e)) => (format!("{want_conf}--hostsfile--\n{h}"), Err(e)),
            (None, got) => (want_conf, got.map(|(c, _)| c)),
        };
        tally.record(name, &want, got);
    }
    println!(
        "dnsmasq conformance: {} of {} cases byte-exact",
        tally.matched.len(),
        names.len()
    );
    tally.report(10, "OXVIRT_DNSMASQ_ALL", MUST, FLOOR);
}
