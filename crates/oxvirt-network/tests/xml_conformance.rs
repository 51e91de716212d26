//! libvirt 9.0's networkxml2xmltest: every `networkxml2xmlin` document with an expected
//! `networkxml2xmlout` must parse and format to exactly those bytes; the others are
//! documents libvirt refuses, and must fail to parse or validate. Also checks that parsing
//! what we write gives the same network back.

use oxvirt_network::model::Network;
use oxvirt_xml::testdata::{
    case_name as name_of, conformance, read_data, xml_files as cases, Tally,
};

/// The cases that must keep matching byte for byte (a floor; the list is printed).
const MIN_MATCHED: usize = 42;
/// The accepted inputs that also pass the define-time checks.
const MIN_VALID: usize = 38;
/// The refused inputs that must keep failing.
const MIN_REFUSED: usize = 4;

#[test]
fn networkxml2xml_conformance() {
    let input = conformance("network/networkxml2xmlin");
    let output = conformance("network/networkxml2xmlout");
    if !input.is_dir() {
        eprintln!("SKIPPED networkxml2xml_conformance: no {}", input.display());
        return;
    }
    let mut tally = Tally::default();
    let mut refused = Vec::new();
    let mut accepted = Vec::new();
    for path in cases(&input) {
        let name = name_of(&path);
        let xml = read_data(&path);
        let want_path = output.join(format!("{name}.xml"));
        // networkxml2xmltest only parses; the refused documents are refused by the parser
        // or, when defined, by the driver's checks.
        let parsed = Network::parse(&xml);
        if !want_path.exists() {
            match parsed.and_then(|n| n.validate().map(|()| n)) {
                Err(e) => refused.push(format!("{name} ({})", e.message)),
                Ok(_) => accepted.push(name),
            }
            continue;
        }
        let want = read_data(&want_path);
        tally.record(
            &name,
            &want,
            parsed.map(|n| n.to_xml()).map_err(|e| e.message),
        );
    }
    println!("refused as libvirt does: {}", refused.join("; "));
    assert!(
        accepted.is_empty(),
        "accepted documents libvirt refuses: {accepted:?}"
    );
    assert!(refused.len() >= MIN_REFUSED, "refused {refused:?}");
    tally.report(50, "NETWORKXML_ALL", &[], MIN_MATCHED);
}

#[test]
fn the_define_checks_accept_the_valid_examples() {
    let input = conformance("network/networkxml2xmlin");
    if !input.is_dir() {
        eprintln!(
            "SKIPPED the_define_checks_accept_the_valid_examples: no {}",
            input.display()
        );
        return;
    }
    let mut rejected = Vec::new();
    let mut passed = 0;
    for path in cases(&input) {
        let Ok(net) = Network::parse(&read_data(&path)) else {
            continue;
        };
        match net.validate() {
            Ok(()) => passed += 1,
            Err(e) => rejected.push(format!("{}: {}", name_of(&path), e.message)),
        }
    }
    // What libvirt 9.0's virsh net-define answers for these examples.
    let libvirt_refuses = [
        "8021Qbh-net: unsupported configuration: <vlan> element specified for network 8021Qbh-net, whose type doesn't support vlan configuration",
        "openvswitch-net: unsupported configuration: <vlan> element specified for network openvswitch-net, whose type doesn't support vlan configuration",
        "passthrough-address-crash: unsupported configuration: network 'passthrough_001' has forward mode 'passthrough'  but lists a device by PCI address in the device pool. This is only supported for networks with forward mode 'hostdev'",
        "passthrough-pf: unsupported configuration: Unsupported <ip> element in network local with forward mode='passthrough'",
    ];
    assert_eq!(rejected, libvirt_refuses);
    assert!(passed >= MIN_VALID, "only {passed} valid: {rejected:#?}");
}

#[test]
fn parsing_what_we_write_gives_the_same_network() {
    let input = conformance("network/networkxml2xmlin");
    if !input.is_dir() {
        eprintln!(
            "SKIPPED parsing_what_we_write_gives_the_same_network: no {}",
            input.display()
        );
        return;
    }
    let mut checked = 0;
    for path in cases(&input) {
        let Ok(net) = Network::parse(&read_data(&path)) else {
            continue;
        };
        let xml = net.to_xml();
        let again = Network::parse(&xml)
            .unwrap_or_else(|e| panic!("{}: {} in\n{xml}", path.display(), e.message));
        assert_eq!(again, net, "{}", path.display());
        assert_eq!(again.to_xml(), xml, "{}", path.display());
        checked += 1;
    }
    assert!(checked >= MIN_MATCHED, "only {checked} round trips");
}
