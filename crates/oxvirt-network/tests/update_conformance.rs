//! libvirt 9.0's networkxml2xmlupdatetest: each case applies one `virNetworkUpdate` edit
//! (`networkxml2xmlupdatein`) to a network of `networkxml2xmlin` and compares the result
//! with `networkxml2xmlupdateout`, or expects the edit to be refused. The table is
//! networkxml2xmlupdatetest.c's; as there, every case edits the `<ip>` at index 0.

use std::path::Path;

use oxvirt_network::api::{UpdateCommand, UpdateSection};
use oxvirt_network::model::{update, Network};
use oxvirt_xml::testdata::{conformance, Tally};

use UpdateCommand::{AddFirst, AddLast, Delete, Modify};
use UpdateSection::{
    DnsHost, DnsSrv, DnsTxt, ForwardInterface, IpDhcpHost, IpDhcpRange, Portgroup,
};

/// The successful edits that must keep matching byte for byte.
const MIN_MATCHED: usize = 21;
/// The refused edits that must keep being refused.
const MIN_REFUSED: usize = 20;

/// (section, update input, base network, expected output or `None` for a refusal, command)
type Case = (
    UpdateSection,
    &'static str,
    &'static str,
    Option<&'static str>,
    UpdateCommand,
);

const CASES: &[Case] = &[
    (IpDhcpHost, "host-incomplete", "nat-network", None, AddLast),
    (
        IpDhcpHost,
        "host-new-incomplete",
        "nat-network",
        None,
        AddLast,
    ),
    (IpDhcpHost, "host-existing", "nat-network", None, AddLast),
    (
        IpDhcpHost,
        "host-new",
        "nat-network",
        Some("nat-network-hosts"),
        AddLast,
    ),
    (IpDhcpHost, "host-new", "nat-network", None, Modify),
    (IpDhcpHost, "host-incomplete", "nat-network", None, Modify),
    (
        IpDhcpHost,
        "host-updated",
        "nat-network",
        Some("nat-network-host-updated"),
        Modify,
    ),
    (
        IpDhcpHost,
        "host-incomplete",
        "nat-network",
        Some("nat-network-one-host"),
        Delete,
    ),
    (
        IpDhcpHost,
        "host-existing",
        "nat-network",
        Some("nat-network-one-host"),
        Delete,
    ),
    (IpDhcpHost, "host-new", "nat-network", None, Delete),
    (
        IpDhcpRange,
        "dhcp-range",
        "dhcp6host-routed-network",
        Some("dhcp6host-routed-network-range"),
        AddFirst,
    ),
    (
        IpDhcpRange,
        "dhcp-range-10",
        "dhcp6host-routed-network",
        None,
        AddFirst,
    ),
    (
        IpDhcpRange,
        "dhcp-range",
        "dhcp6host-routed-network",
        Some("dhcp6host-routed-network-another-range"),
        AddLast,
    ),
    (
        IpDhcpRange,
        "dhcp-range-existing",
        "nat-network",
        Some("nat-network-no-range"),
        Delete,
    ),
    (IpDhcpRange, "dhcp-range", "nat-network", None, Delete),
    (
        ForwardInterface,
        "interface-eth47",
        "nat-network-dns-srv-record",
        Some("nat-network-forward-ifaces"),
        AddFirst,
    ),
    (
        ForwardInterface,
        "interface-eth1",
        "nat-network-dns-srv-record",
        Some("nat-network-no-forward-ifaces"),
        Delete,
    ),
    (
        ForwardInterface,
        "interface-eth47",
        "nat-network-dns-srv-record",
        None,
        Delete,
    ),
    (
        Portgroup,
        "portgroup-alison",
        "openvswitch-net",
        Some("openvswitch-net-more-portgroups"),
        AddFirst,
    ),
    (
        Portgroup,
        "portgroup-alice-new",
        "openvswitch-net",
        None,
        AddLast,
    ),
    (
        Portgroup,
        "portgroup-alice-new",
        "openvswitch-net",
        Some("openvswitch-net-modified"),
        Modify,
    ),
    (
        Portgroup,
        "portgroup-alison",
        "openvswitch-net",
        None,
        Modify,
    ),
    (
        Portgroup,
        "portgroup-alice-new",
        "openvswitch-net",
        Some("openvswitch-net-without-alice"),
        Delete,
    ),
    (
        Portgroup,
        "portgroup-alice-new",
        "nat-network-dns-srv-record",
        None,
        Delete,
    ),
    (
        DnsHost,
        "dns-host-gateway-incomplete",
        "nat-network-dns-hosts",
        None,
        AddFirst,
    ),
    (
        DnsHost,
        "dns-host-pudding",
        "nat-network-dns-hosts",
        Some("nat-network-dns-more-hosts"),
        AddFirst,
    ),
    (DnsHost, "unparsable-dns-host", "nat-network", None, Delete),
    (
        DnsHost,
        "dns-host-gateway-incomplete",
        "nat-network-dns-hosts",
        Some("nat-network-no-hosts"),
        Delete,
    ),
    (
        DnsTxt,
        "dns-txt-record-snowman",
        "nat-network-dns-txt-record",
        Some("nat-network-dns-txt-records"),
        AddFirst,
    ),
    (
        DnsTxt,
        "dns-txt-record-example",
        "nat-network-dns-txt-record",
        None,
        AddLast,
    ),
    (
        DnsTxt,
        "dns-txt-record-example",
        "nat-network-dns-txt-record",
        Some("nat-network-dns-txt-none"),
        Delete,
    ),
    (
        DnsTxt,
        "dns-txt-record-snowman",
        "nat-network-dns-txt-record",
        None,
        Delete,
    ),
    (
        DnsSrv,
        "srv-record",
        "nat-network",
        Some("nat-network-dns-srv-record"),
        AddFirst,
    ),
    (
        DnsSrv,
        "srv-record",
        "nat-network",
        Some("nat-network-dns-srv-record"),
        AddLast,
    ),
    (
        DnsSrv,
        "srv-record",
        "nat-network-dns-srv-record",
        None,
        AddLast,
    ),
    (
        DnsSrv,
        "srv-record-donkey",
        "nat-network-dns-srv-record",
        Some("nat-network-dns-srv-records"),
        AddLast,
    ),
    (DnsSrv, "srv-record-service", "nat-network", None, Delete),
    (
        DnsSrv,
        "srv-record-invalid",
        "nat-network-dns-srv-record",
        None,
        Delete,
    ),
    (
        DnsSrv,
        "srv-record-donkey",
        "nat-network-dns-srv-records",
        Some("nat-network-dns-srv-record"),
        Delete,
    ),
    (
        DnsSrv,
        "srv-record-service",
        "nat-network-dns-srv-records",
        None,
        Delete,
    ),
    (
        DnsSrv,
        "srv-record-protocol",
        "nat-network-dns-srv-record",
        Some("nat-network"),
        Delete,
    ),
];

/// A data file's text; the data set stores symbolic links as files holding the target path.
fn read_data(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    if !text.contains('<') && text.trim().ends_with(".xml") {
        return read_data(&path.parent()?.join(text.trim()));
    }
    Some(text)
}

#[test]
fn networkxml2xmlupdate_conformance() {
    let root = conformance("network");
    if !root.join("networkxml2xmlupdatein").is_dir() {
        eprintln!(
            "SKIPPED networkxml2xmlupdate_conformance: no {}",
            root.display()
        );
        return;
    }
    let mut tally = Tally::default();
    let (mut refused, mut wrongly_accepted) = (Vec::new(), Vec::new());
    for &(section, upd, base, out, command) in CASES {
        let case = format!("{section:?}/{command:?} {upd} on {base}");
        let upd_xml = read_data(&root.join(format!("networkxml2xmlupdatein/{upd}.xml")));
        let base_xml = read_data(&root.join(format!("networkxml2xmlin/{base}.xml")));
        let (Some(upd_xml), Some(base_xml)) = (upd_xml, base_xml) else {
            panic!("{case}: missing data file");
        };
        let result = Network::parse(&base_xml).and_then(|mut net| {
            update(&mut net, command, section, 0, &upd_xml).map(|()| net.to_xml())
        });
        match out {
            Some(out) => {
                let want = read_data(&root.join(format!("networkxml2xmlupdateout/{out}.xml")))
                    .unwrap_or_default();
                tally.record(&case, &want, result.map_err(|e| e.message));
            }
            None => match result {
                Err(e) => refused.push(format!("{case}: {}", e.message)),
                Ok(_) => wrongly_accepted.push(case),
            },
        }
    }
    for r in &refused {
        println!("refused {r}");
    }
    assert!(
        wrongly_accepted.is_empty(),
        "edits libvirt refuses were applied: {wrongly_accepted:?}"
    );
    assert!(
        refused.len() >= MIN_REFUSED,
        "refused only {}",
        refused.len()
    );
    tally.report(50, "NETWORKUPDATE_ALL", &[], MIN_MATCHED);
}
