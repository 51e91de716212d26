//! Parse and define-time errors, checked against what libvirt 9.0's `virsh net-define`
//! answers for the same documents, and the model's own properties.

use super::*;
use crate::api::{UpdateCommand, UpdateSection};
use oxvirt_xml::{ErrorCode, ErrorDomain};

/// (case, document, libvirt's message as virsh prints it after `error: `)
const REFUSED: &[(&str, &str, &str)] = &[
    (
        "baduuid",
        "<network><name>t1</name><uuid>zzz</uuid></network>",
        "internal error: malformed uuid element",
    ),
    (
        "bridgeboth",
        "<network><name>t1</name><forward mode='bridge' dev='a'/><bridge name='br0'/></network>",
        "XML error: A network with forward mode='bridge' can specify a bridge name or a forward dev, but not both (network 't1')",
    ),
    (
        "bridgename",
        "<network><name>t1</name><forward mode='private'><interface dev='a'/></forward><bridge name='br0'/></network>",
        "XML error: bridge name not allowed in private mode (network 't1')",
    ),
    (
        "bridgestp",
        "<network><name>t1</name><forward mode='bridge'/><bridge name='br0' stp='on'/></network>",
        "XML error: bridge delay/stp/zone options only allowed in route, nat, and isolated mode, not in bridge (network 't1')",
    ),
    (
        "bw",
        "<network><name>t1</name><forward mode='bridge'/><bridge name='br0'/><bandwidth><inbound average='10' floor='5'/></bandwidth></network>",
        "unsupported configuration: floor attribute is not supported for this config",
    ),
    (
        "delay",
        "<network><name>t1</name><bridge name='b' delay='-1'/></network>",
        "XML error: Invalid delay value in network 't1'",
    ),
    (
        "devmismatch",
        "<network><name>t1</name><forward mode='bridge' dev='a'><interface dev='b'/></forward></network>",
        "XML error: <forward dev='a'> must match first <interface dev='b'/> in network t1",
    ),
    (
        "dnsbridge",
        "<network><name>t1</name><forward mode='bridge'/><bridge name='br0'/><domain name='x'/></network>",
        "unsupported configuration: Unsupported <domain> element in network t1 with forward mode='bridge'",
    ),
    (
        "dnsdisabled",
        "<network><name>t1</name><dns enable='no'><host ip='10.0.0.1'><hostname>a</hostname></host></dns></network>",
        "XML error: Extra data in disabled network 't1'",
    ),
    (
        "dnshostnoip",
        "<network><name>t1</name><dns><host><hostname>a</hostname></host></dns></network>",
        "Missing IP address in network 't1' DNS HOST record",
    ),
    (
        "dnshostnoname",
        "<network><name>t1</name><dns><host ip='10.0.0.1'/></dns></network>",
        "Missing hostname in network 't1' DNS HOST record",
    ),
    (
        "driver",
        "<network><name>t1</name><forward mode='hostdev'><driver name='xen'/><pf dev='a'/></forward></network>",
        "unsupported configuration: Unknown forward <driver name='xen'/> in network t1",
    ),
    (
        "fwdbad",
        "<network><name>t1</name><dns><forwarder addr='x'/></dns></network>",
        "XML error: Invalid forwarder IP address 'x' in network 't1'",
    ),
    (
        "fwdempty",
        "<network><name>t1</name><dns><forwarder/></dns></network>",
        "XML error: Invalid forwarder element, must contain at least one of addr or domain",
    ),
    (
        "fwdmode",
        "<network><name>t1</name><forward mode='bogus'/></network>",
        "unsupported configuration: unknown forwarding type 'bogus'",
    ),
    (
        "host6mac",
        "<network><name>t1</name><ip family='ipv6' address='2001::1' prefix='64'><dhcp><host mac='00:11:22:33:44:55' ip='2001::3'/></dhcp></ip></network>",
        "XML error: Invalid to specify MAC address '00:11:22:33:44:55' in network 't1' IPv6 static host definition",
    ),
    (
        "hostid",
        "<network><name>t1</name><ip family='ipv6' address='2001::1' prefix='64'><dhcp><host id='0g' ip='2001::3'/></dhcp></ip></network>",
        "XML error: Invalid character 'g' in id '0g' of network 't1'",
    ),
    (
        "hostmac",
        "<network><name>t1</name><ip address='10.0.0.1' prefix='24'><dhcp><host mac='zz' ip='10.0.0.3'/></dhcp></ip></network>",
        "XML error: Cannot parse MAC address 'zz' in network 't1'",
    ),
    (
        "hostname",
        "<network><name>t1</name><ip address='10.0.0.1' prefix='24'><dhcp><host name='-x' ip='10.0.0.3'/></dhcp></ip></network>",
        "XML error: Cannot use host name '-x' in network 't1'",
    ),
    (
        "hostnoip",
        "<network><name>t1</name><ip address='10.0.0.1' prefix='24'><dhcp><host name='x'/></dhcp></ip></network>",
        "XML error: Missing IP address in static host definition for network 't1'",
    ),
    (
        "ipbothp",
        "<network><name>t1</name><ip address='10.0.0.1' netmask='255.0.0.0' prefix='8'/></network>",
        "unsupported configuration: Network 't1' IP address cannot have both a prefix and a netmask",
    ),
    (
        "ipfam",
        "<network><name>t1</name><ip address='::1'/></network>",
        "unsupported configuration: no family specified for non-IPv4 address '::1' in network 't1'",
    ),
    (
        "ipnoaddr",
        "<network><name>t1</name><ip netmask='255.255.255.0'/></network>",
        "XML error: Missing required address attribute in network 't1'",
    ),
    (
        "ippfx",
        "<network><name>t1</name><ip address='10.0.0.1' prefix='33'/></network>",
        "unsupported configuration: Invalid IPv4 prefix '33' in network 't1'",
    ),
    (
        "ipunk",
        "<network><name>t1</name><ip family='ipx' address='10.0.0.1'/></network>",
        "XML error: Unrecognized family 'ipx' in network 't1'",
    ),
    (
        "ipv6bad",
        "<network ipv6='maybe'><name>t1</name></network>",
        "XML error: Invalid ipv6 setting 'maybe' in network 't1'",
    ),
    (
        "ipv6mask",
        "<network><name>t1</name><ip family='ipv6' address='::1' netmask='255.0.0.0'/></network>",
        "unsupported configuration: netmask not allowed for IPv6 address '::1' in network 't1'",
    ),
    (
        "lease",
        "<network><name>t1</name><ip address='10.0.0.1' prefix='24'><dhcp><range start='10.0.0.2' end='10.0.0.9'><lease expiry='1'/></range></dhcp></ip></network>",
        "unsupported configuration: The minimum lease time should be greater than 2 minutes",
    ),
    (
        "leaseunit",
        "<network><name>t1</name><ip address='10.0.0.1' prefix='24'><dhcp><range start='10.0.0.2' end='10.0.0.9'><lease expiry='5' unit='days'/></range></dhcp></ip></network>",
        "XML error: Invalid value for attribute 'unit' in element 'lease': 'days'.",
    ),
    (
        "macbad",
        "<network><name>t1</name><mac address='zz'/></network>",
        "XML error: Invalid bridge mac address 'zz' in network 't1'",
    ),
    (
        "macmc",
        "<network><name>t1</name><mac address='01:00:00:00:00:01'/></network>",
        "XML error: Invalid multicast bridge mac address '01:00:00:00:00:01' in network 't1'",
    ),
    (
        "mtm",
        "<network><name>t1</name><bridge name='b' macTableManager='default'/></network>",
        "XML error: Invalid macTableManager setting 'default' in network 't1'",
    ),
    (
        "mtubad",
        "<network><name>t1</name><mtu size='abc'/></network>",
        "XML error: Invalid mtu size 'abc' in network 't1'",
    ),
    (
        "mtubridge",
        "<network><name>t1</name><forward mode='bridge'/><bridge name='br0'/><mtu size='9000'/></network>",
        "XML error: mtu size only allowed in open, route, nat, and isolated mode, not in bridge (network 't1')",
    ),
    (
        "multidhcp",
        "<network><name>t1</name><ip address='10.0.0.1' prefix='24'><dhcp><range start='10.0.0.2' end='10.0.0.9'/></dhcp></ip><ip address='10.0.1.1' prefix='24'><dhcp><range start='10.0.1.2' end='10.0.1.9'/></dhcp></ip></network>",
        "unsupported configuration: Multiple IPv4 dhcp sections found -- dhcp is supported only for a single IPv4 address on each network",
    ),
    (
        "nataddr",
        "<network><name>t1</name><forward mode='nat'><nat><address start='1.2.3.4'/></nat></forward><ip address='10.0.0.1' prefix='24'/></network>",
        "XML error: missing 'end' attribute in <address> element in <nat> in <forward> in network t1",
    ),
    (
        "natinroute",
        "<network><name>t1</name><forward mode='route'><nat/></forward><ip address='10.0.0.1' prefix='24'/></network>",
        "XML error: The <nat> element can only be used when <forward> 'mode' is 'nat' in network t1",
    ),
    (
        "natmulti",
        "<network><name>t1</name><forward mode='nat'><interface dev='a'/><interface dev='b'/></forward><ip address='10.0.0.1' prefix='24'/></network>",
        "XML error: multiple forwarding interfaces specified for network 't1', only one is supported",
    ),
    (
        "natnoip",
        "<network><name>t1</name><forward mode='nat'/></network>",
        "XML error: nat forwarding requested, but no IP address provided for network 't1'",
    ),
    (
        "natport",
        "<network><name>t1</name><forward mode='nat'><nat><port start='70000' end='1'/></nat></forward><ip address='10.0.0.1' prefix='24'/></network>",
        "Missing or invalid 'start' attribute in <port> in <nat> in <forward> in network t1",
    ),
    (
        "noname",
        "<network></network>",
        "missing name information",
    ),
    (
        "pcinotype",
        "<network><name>t1</name><forward mode='hostdev'><address bus='1'/></forward></network>",
        "XML error: missing address type in network t1",
    ),
    (
        "pcitype",
        "<network><name>t1</name><forward mode='hostdev'><address type='usb' bus='1'/></forward></network>",
        "unsupported configuration: unknown address type 'usb' in network t1",
    ),
    (
        "pfs",
        "<network><name>t1</name><forward mode='hostdev'><pf dev='a'/><pf dev='b'/></forward></network>",
        "XML error: Only one <pf> element is allowed in <forward> of network t1",
    ),
    (
        "pgdefault",
        "<network><name>t1</name><portgroup name='a' default='yes'/><portgroup name='b' default='yes'/></network>",
        "unsupported configuration: network 't1' has multiple default <portgroup> elements (a and b), but only one default is allowed",
    ),
    (
        "pgdup",
        "<network><name>t1</name><portgroup name='a'/><portgroup name='a'/></network>",
        "unsupported configuration: multiple <portgroup> elements with the same name (a) in network 't1'",
    ),
    (
        "pgnoname",
        "<network><name>t1</name><portgroup/></network>",
        "XML error: Missing required name attribute in portgroup",
    ),
    (
        "rangebad",
        "<network><name>t1</name><ip address='10.0.0.1' prefix='24'><dhcp><range start='x' end='10.0.0.2'/></dhcp></ip></network>",
        "Cannot parse socket address 'x': Name or service not known",
    ),
    (
        "rangebc",
        "<network><name>t1</name><ip address='10.0.0.1' prefix='24'><dhcp><range start='10.0.0.2' end='10.0.0.255'/></dhcp></ip></network>",
        "internal error: end of range 10.0.0.2 - 10.0.0.255 in network 10.0.0.1/24 is the broadcast address",
    ),
    (
        "rangenet",
        "<network><name>t1</name><ip address='10.0.0.1' prefix='24'><dhcp><range start='10.0.0.0' end='10.0.0.2'/></dhcp></ip></network>",
        "internal error: start of range 10.0.0.0 - 10.0.0.2 in network 10.0.0.1/24 is the network address",
    ),
    (
        "rangenostart",
        "<network><name>t1</name><ip address='10.0.0.1' prefix='24'><dhcp><range end='10.0.0.2'/></dhcp></ip></network>",
        "XML error: Missing 'start' attribute in dhcp range for network 't1'",
    ),
    (
        "rangeout",
        "<network><name>t1</name><ip address='10.0.0.1' prefix='24'><dhcp><range start='10.0.1.2' end='10.0.1.9'/></dhcp></ip></network>",
        "internal error: range 10.0.1.2 - 10.0.1.9 is not entirely within network 10.0.0.1/24",
    ),
    (
        "rangerev",
        "<network><name>t1</name><ip address='10.0.0.1' prefix='24'><dhcp><range start='10.0.0.9' end='10.0.0.2'/></dhcp></ip></network>",
        "internal error: range 10.0.0.9 - 10.0.0.2 is reversed ",
    ),
    (
        "rootbad",
        "<domain><name>t1</name></domain>",
        "XML error: expecting root element of 'network', not 'domain'",
    ),
    (
        "route1",
        "<network><name>t1</name><ip address='10.0.0.1' prefix='24'/><route address='192.168.0.0' prefix='24' gateway='172.16.0.1'/></network>",
        "unsupported configuration: unreachable static route gateway '172.16.0.1' specified for network 't1'",
    ),
    (
        "route2",
        "<network><name>t1</name><ip address='10.0.0.1' prefix='24'/><route address='192.168.0.0' prefix='24'/></network>",
        "XML error: t1: Missing required gateway attribute in route definition",
    ),
    (
        "route3",
        "<network><name>t1</name><ip address='10.0.0.1' prefix='24'/><route address='192.168.0.1' prefix='24' gateway='10.0.0.2'/></network>",
        "XML error: t1: Address '192.168.0.1' in route definition is not a network address",
    ),
    (
        "route4",
        "<network><name>t1</name><ip address='10.0.0.1' prefix='24'/><route address='x' prefix='24' gateway='10.0.0.2'/></network>",
        "XML error: t1: Bad network address 'x' in route definition",
    ),
    (
        "route5",
        "<network><name>t1</name><ip address='10.0.0.1' prefix='24'/><route family='ipv6' address='192.168.0.0' prefix='24' gateway='10.0.0.2'/></network>",
        "XML error: t1: ipv6 family specified for non-IPv6 address '192.168.0.0' in route definition",
    ),
    (
        "slash",
        "<network><name>a/b</name></network>",
        "invalid char in name: /",
    ),
    (
        "srvbadchar",
        "<network><name>t1</name><dns><srv service='a.b' protocol='tcp'/></dns></network>",
        "invalid character in service attribute 'a.b' in DNS SRV record of network 't1'",
    ),
    (
        "srvnoservice",
        "<network><name>t1</name><dns><srv protocol='tcp'/></dns></network>",
        "missing required service attribute in DNS SRV record of network 't1'",
    ),
    (
        "srvport",
        "<network><name>t1</name><dns><srv service='a' protocol='tcp' port='5'/></dns></network>",
        "DNS SRV port attribute not permitted without target for service 'a' in network 't1'",
    ),
    (
        "srvport2",
        "<network><name>t1</name><dns><srv service='a' protocol='tcp' target='x' port='70000'/></dns></network>",
        "invalid DNS SRV port attribute for service 'a' in network 't1'",
    ),
    (
        "tftp6",
        "<network><name>t1</name><ip family='ipv6' address='2001::1' prefix='64'><tftp root='/x'/></ip></network>",
        "unsupported configuration: Unsupported <tftp> element in an IPv6 element in network 't1'",
    ),
    (
        "trustbad",
        "<network trustGuestRxFilters='maybe'><name>t1</name></network>",
        "XML error: Invalid value for attribute 'trustGuestRxFilters' in element 'network': 'maybe'.",
    ),
    (
        "txtname",
        "<network><name>t1</name><dns><txt name='a b' value='x'/></dns></network>",
        "prohibited character in DNS TXT record name 'a b' of network t1",
    ),
    (
        "txtnoval",
        "<network><name>t1</name><dns><txt name='ab'/></dns></network>",
        "missing required value attribute in DNS TXT record named 'ab' of network t1",
    ),
    (
        "vport",
        "<network><name>t1</name><forward mode='bridge'/><bridge name='br0'/><virtualport/></network>",
        "XML error: missing required virtualport type",
    ),
];

#[test]
fn refusals_match_libvirt() {
    let mut wrong = Vec::new();
    for (case, xml, want) in REFUSED {
        match Network::parse(xml).and_then(|n| n.validate()) {
            Ok(()) => wrong.push(format!("{case}: accepted")),
            Err(e) if e.message != *want => {
                wrong.push(format!("{case}:\n    want {want}\n    got  {}", e.message))
            }
            Err(_) => {}
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn error_codes_are_libvirts() {
    let code = |xml: &str| Network::parse(xml).unwrap_err().code;
    assert_eq!(code("<network></network>"), ErrorCode::NoName);
    assert_eq!(
        code("<network><name>t</name><forward mode='x'/></network>"),
        ErrorCode::ConfigUnsupported
    );
    assert_eq!(
        code("<network><name>t</name><forward mode='nat'/></network>"),
        ErrorCode::XmlError
    );
    let e = Network::parse("<network><name>t</name><uuid>x</uuid></network>").unwrap_err();
    assert_eq!(
        (e.code, e.domain),
        (ErrorCode::InternalError, ErrorDomain::Network)
    );
}

#[test]
fn ipv4_addresses_are_read_like_inet_aton() {
    let net =
        Network::parse("<network><name>t</name><ip address='10.1' netmask='255.0.0.0'/></network>")
            .unwrap();
    assert_eq!(net.ips[0].address.to_string(), "10.0.0.1");
    assert_eq!(net.ips[0].prefix(), 8);
    assert!(net
        .to_xml()
        .contains("<ip address='10.0.0.1' netmask='255.0.0.0'>"));
}

#[test]
fn prefixes_come_from_netmask_or_class() {
    let net = Network::parse(
        "<network><name>t</name><ip address='192.168.1.1'/><ip address='172.16.0.1'/>\
         <ip address='10.0.0.1' netmask='255.255.252.0'/>\
         <ip family='ipv6' address='fd00::1'/></network>",
    )
    .unwrap();
    let prefixes: Vec<u8> = net.ips.iter().map(Ip::prefix).collect();
    assert_eq!(prefixes, [24, 16, 22, 64]);
    assert_eq!(net.ipv4().count(), 3);
    assert_eq!(net.ipv6().count(), 1);
    assert_eq!(net.forward_mode(), ForwardMode::None);
}

#[test]
fn an_isolated_network_gets_libvirts_bridge_defaults() {
    let net = Network::parse("<network><name>t</name><bridge name='b0'/></network>").unwrap();
    let br = net.bridge.as_ref().unwrap();
    assert_eq!((br.stp, br.delay), (Some(true), Some(0)));
    assert!(net
        .to_xml()
        .contains("<bridge name='b0' stp='on' delay='0'/>"));
    // In bridge mode libvirt writes neither, and refuses them.
    let net = Network::parse(
        "<network><name>t</name><forward mode='bridge'/><bridge name='br0'/></network>",
    )
    .unwrap();
    assert_eq!(net.bridge.as_ref().unwrap().stp, None);
    assert!(net.to_xml().contains("<bridge name='br0'/>"));
}

#[test]
fn a_forward_dev_becomes_the_first_interface() {
    let net = Network::parse(
        "<network><name>t</name><forward dev='eth0'/><ip address='10.0.0.1' prefix='24'/></network>",
    )
    .unwrap();
    let f = net.forward.as_ref().unwrap();
    assert_eq!((f.mode, f.dev()), (ForwardMode::Nat, Some("eth0")));
    assert!(net
        .to_xml()
        .contains("<forward dev='eth0' mode='nat'>\n    <interface dev='eth0'/>\n  </forward>"));
}

#[test]
fn unknown_content_is_dropped_as_libvirt_drops_it() {
    let net = Network::parse(
        "<network foo='1'><name>t</name><bogus/><bridge name='b' extra='x'/></network>",
    )
    .unwrap();
    let xml = net.to_xml();
    assert!(
        !xml.contains("bogus") && !xml.contains("foo") && !xml.contains("extra"),
        "{xml}"
    );
}

#[test]
fn update_refuses_unsupported_sections_in_libvirts_words() {
    let mut net = Network::parse("<network><name>t</name></network>").unwrap();
    let e = update(
        &mut net,
        UpdateCommand::Modify,
        UpdateSection::Bridge,
        -1,
        "<bridge/>",
    )
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::OperationUnsupported);
    assert_eq!(
        e.message,
        "Operation not supported: can't update 'bridge' section of network 't'"
    );
    let e = update(
        &mut net,
        UpdateCommand::AddLast,
        UpdateSection::IpDhcpHost,
        -1,
        "<host/>",
    )
    .unwrap_err();
    assert_eq!(
        e.message,
        "Requested operation is not valid: couldn't update dhcp host entry - no <ip> element found in network 't'"
    );
    let e = update(
        &mut net,
        UpdateCommand::AddLast,
        UpdateSection::DnsTxt,
        -1,
        "<srv/>",
    )
    .unwrap_err();
    assert_eq!(
        e.message,
        "XML error: unexpected element <srv>, expecting <txt>, while updating network 't'"
    );
}

#[test]
fn update_adds_a_dhcp_host_to_the_ip_with_dhcp() {
    let mut net = Network::parse(
        "<network><name>t</name><ip address='10.0.0.1' prefix='24'/>\
         <ip address='10.0.1.1' prefix='24'><dhcp><range start='10.0.1.2' end='10.0.1.9'/></dhcp></ip></network>",
    )
    .unwrap();
    let host = "<host mac='52:54:00:00:00:01' name='vm' ip='10.0.1.5'/>";
    update(
        &mut net,
        UpdateCommand::AddLast,
        UpdateSection::IpDhcpHost,
        -1,
        host,
    )
    .unwrap();
    assert_eq!(net.ips[1].hosts().len(), 1);
    let e = update(
        &mut net,
        UpdateCommand::AddFirst,
        UpdateSection::IpDhcpHost,
        -1,
        host,
    )
    .unwrap_err();
    assert_eq!(
        e.message,
        "Requested operation is not valid: there is an existing dhcp host entry in network 't' that matches \"<host mac='52:54:00:00:00:01' name='vm' ip='10.0.1.5'/>\""
    );
    update(
        &mut net,
        UpdateCommand::Delete,
        UpdateSection::IpDhcpHost,
        -1,
        "<host name='vm'/>",
    )
    .unwrap();
    assert!(net.ips[1].hosts().is_empty());
}

#[test]
fn title_and_description_are_not_read_as_in_libvirt_9_0() {
    let net = Network::parse(
        "<network><name>t</name><title>T</title><description>D</description></network>",
    )
    .unwrap();
    assert_eq!(
        (net.title.as_deref(), net.description.as_deref()),
        (None, None)
    );
    assert!(!net.to_xml().contains("title"));
}

#[test]
fn libvirt_9_0_layout_of_a_full_network() {
    // What libvirt 9.0's net-dumpxml --inactive writes for this definition (its bridge
    // name and MAC address given, so that nothing is generated).
    let xml = "<network trustGuestRxFilters='yes'><name>t1</name>\
        <uuid>11111111-2222-3333-4444-555555555555</uuid>\
        <forward mode='nat'><nat ipv6='no'><port start='1024' end='2000'/></nat></forward>\
        <bridge name='vbt1' stp='off' delay='3' zone='z'/><mtu size='1400'/>\
        <mac address='52:54:00:AA:BB:CC'/><domain name='ex.com' localOnly='yes'/>\
        <dns forwardPlainNames='no'><host ip='10.0.0.7'><hostname>a</hostname>\
        <hostname>b</hostname></host></dns><port isolated='no'/>\
        <ip address='10.0.0.1' netmask='255.255.255.0' localPtr='yes'><dhcp>\
        <host mac='52:54:00:aa:bb:01' ip='10.0.0.9'><lease expiry='0'/></host>\
        <bootp file='x' server='10.0.0.2'/></dhcp></ip>\
        <ip family='ipv6' address='FD00:0:0::1' prefix='64'><dhcp>\
        <host id='0:1:2' name='h6' ip='fd00::9'/></dhcp></ip>\
        <ip address='10.0.5.1' prefix='24'><dhcp><bootp file='only'/></dhcp></ip>\
        <route address='192.168.0.0' netmask='255.255.255.0' gateway='10.0.0.2' metric='5'/>\
        <portgroup name='empty'/><portgroup name='bw' default='yes'><bandwidth>\
        <inbound average='1'/></bandwidth></portgroup></network>";
    let want = "<network trustGuestRxFilters='yes'>
  <name>t1</name>
  <uuid>11111111-2222-3333-4444-555555555555</uuid>
  <forward mode='nat'>
    <nat ipv6='no'>
      <port start='1024' end='2000'/>
    </nat>
  </forward>
  <bridge name='vbt1' zone='z' stp='off' delay='3'/>
  <mtu size='1400'/>
  <mac address='52:54:00:aa:bb:cc'/>
  <domain name='ex.com' localOnly='yes'/>
  <dns forwardPlainNames='no'>
    <host ip='10.0.0.7'>
      <hostname>a</hostname>
      <hostname>b</hostname>
    </host>
  </dns>
  <port isolated='no'/>
  <ip address='10.0.0.1' netmask='255.255.255.0' localPtr='yes'>
    <dhcp>
      <host mac='52:54:00:aa:bb:01' ip='10.0.0.9'>
        <lease expiry='0'/>
      </host>
      <bootp file='x' server='10.0.0.2'/>
    </dhcp>
  </ip>
  <ip family='ipv6' address='fd00::1' prefix='64'>
    <dhcp>
      <host id='0:1:2' name='h6' ip='fd00::9'/>
    </dhcp>
  </ip>
  <ip address='10.0.5.1' prefix='24'>
  </ip>
  <route address='192.168.0.0' netmask='255.255.255.0' gateway='10.0.0.2' metric='5'/>
  <portgroup name='empty'>
  </portgroup>
  <portgroup name='bw' default='yes'>
    <bandwidth>
      <inbound average='1'/>
    </bandwidth>
  </portgroup>
</network>
";
    let net = Network::parse(xml).unwrap();
    net.validate().unwrap();
    assert_eq!(net.to_xml_inactive(), want);
}

/// Edits of a defined network, and what libvirt 9.0's `virsh net-update --config` answers.
#[test]
fn update_errors_match_libvirt() {
    use UpdateCommand::{AddLast, Delete, Modify};
    use UpdateSection as S;
    let base = "<network><name>t1</name><uuid>11111111-2222-3333-4444-555555555555</uuid>\
        <forward mode='nat'/><bridge name='vbt1'/><mac address='52:54:00:aa:bb:cc'/>\
        <dns><txt name='a' value='b'/><host ip='10.0.0.7'><hostname>h</hostname></host></dns>\
        <ip address='10.0.0.1' prefix='24'><dhcp><range start='10.0.0.2' end='10.0.0.9'/>\
        <host mac='52:54:00:00:00:01' name='x' ip='10.0.0.3'/></dhcp></ip>\
        <ip address='10.0.1.1' prefix='24'/><portgroup name='p' default='yes'/></network>";
    let cases: &[(UpdateCommand, UpdateSection, i32, &str, &str)] = &[
        (Modify, S::Bridge, -1, "<bridge name='x'/>", "Operation not supported: can't update 'bridge' section of network 't1'"),
        (AddLast, S::ForwardPf, -1, "<pf dev='x'/>", "Operation not supported: can't update 'forward pf' section of network 't1'"),
        (AddLast, S::IpDhcpHost, 1, "<host mac='52:54:00:00:00:02' name='y' ip='10.0.1.3'/>", "Requested operation is not valid: dhcp is supported only for a single IPv4 address on each network"),
        (AddLast, S::IpDhcpHost, 5, "<host mac='52:54:00:00:00:02' name='y' ip='10.0.0.4'/>", "Requested operation is not valid: couldn't update dhcp host entry - no <ip> element found at index 5 in network 't1'"),
        (Modify, S::IpDhcpHost, -1, "<host mac='52:54:00:00:00:09' name='z' ip='10.0.0.5'/>", "Requested operation is not valid: couldn't locate an existing dhcp host entry with \"mac='52:54:00:00:00:09'\" \"name='z'\" \"ip='10.0.0.5'\" in network 't1'"),
        (AddLast, S::IpDhcpHost, -1, "<range start='10.0.0.2' end='10.0.0.9'/>", "XML error: unexpected element <range>, expecting <host>, while updating network 't1'"),
        (Modify, S::IpDhcpRange, -1, "<range start='10.0.0.2' end='10.0.0.9'/>", "Operation not supported: dhcp ranges cannot be modified, only added or deleted"),
        (AddLast, S::IpDhcpRange, -1, "<range start='10.0.0.2' end='10.0.0.9'/>", "Requested operation is not valid: there is an existing dhcp range entry in network 't1' that matches \"<range start='10.0.0.2' end='10.0.0.9'/>\""),
        (AddLast, S::ForwardInterface, -1, "<interface/>", "XML error: missing dev attribute in <interface> element"),
        (Modify, S::ForwardInterface, -1, "<interface dev='a'/>", "Operation not supported: forward interface entries cannot be modified, only added or deleted"),
        (AddLast, S::Portgroup, -1, "<portgroup name='q' default='yes'/>", "Requested operation is not valid: a different portgroup entry in network 't1' is already set as the default. Only one default is allowed."),
        (Delete, S::Portgroup, -1, "<portgroup name='zz'/>", "Requested operation is not valid: couldn't find a portgroup entry in network 't1' matching <portgroup name='zz'>"),
        (AddLast, S::DnsHost, -1, "<host ip='10.0.0.7'><hostname>z</hostname></host>", "Requested operation is not valid: there is already at least one DNS HOST record with a matching field in network t1"),
        (Delete, S::DnsHost, -1, "<host ip='10.0.0.8'/>", "Requested operation is not valid: couldn't locate a matching DNS HOST record in network t1"),
        (Modify, S::DnsHost, -1, "<srv/>", "Operation not supported: DNS HOST records cannot be modified, only added or deleted"),
        (Modify, S::DnsTxt, -1, "<srv/>", "Operation not supported: DNS TXT records cannot be modified, only added or deleted"),
        (Modify, S::DnsSrv, -1, "<txt/>", "Operation not supported: DNS SRV records cannot be modified, only added or deleted"),
        (AddLast, S::DnsTxt, -1, "<txt name='a' value='c'/>", "Requested operation is not valid: there is already a DNS TXT record with name 'a' in network t1"),
        (AddLast, S::DnsTxt, -1, "<txt name='a b' value='c'/>", "prohibited character in DNS TXT record name 'a b' of network t1"),
        (AddLast, S::IpDhcpHost, -1, "<host mac='52:54:00:00:00:05' name='new' ip='fd00::5'/>", "Requested operation is not valid: the address family of a host entry IP must match the address family of the dhcp element's parent"),
        (AddLast, S::IpDhcpHost, -1, "<host name='h2' ip='10.0.0.3'/>", "Requested operation is not valid: there is an existing dhcp host entry in network 't1' that matches \"<host mac='unknown' name='h2' ip='10.0.0.3'/>\""),
    ];
    let mut wrong = Vec::new();
    for (command, section, index, xml, want) in cases {
        let mut net = Network::parse(base).unwrap();
        let before = net.clone();
        match update(&mut net, *command, *section, *index, xml) {
            Ok(()) => wrong.push(format!("{xml}: applied")),
            Err(e) if e.message != *want => {
                wrong.push(format!("{xml}:\n    want {want}\n    got  {}", e.message))
            }
            Err(_) => assert_eq!(net, before, "a refused edit changed the network"),
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn virtualports_are_written_as_libvirt_writes_them() {
    let net = |vp: &str| {
        Network::parse(&format!(
            "<network><name>t1</name><forward mode='bridge'/><bridge name='br0'/>{vp}</network>"
        ))
    };
    assert_eq!(
        net("<virtualport type='bogus'/>").unwrap_err().message,
        "unsupported configuration: unknown virtualport type bogus"
    );
    assert_eq!(
        net("<virtualport type='openvswitch'><parameters interfaceid='zz'/></virtualport>")
            .unwrap_err()
            .message,
        "XML error: cannot parse interfaceid parameter as a uuid"
    );
    let xml = net(
        "<virtualport type='802.1Qbg'><parameters typeidversion='2' typeid='1193047' \
                   managerid='11'/></virtualport>",
    )
    .unwrap()
    .to_xml();
    assert!(xml.contains("<virtualport type='802.1Qbg'>\n    <parameters managerid='11' typeid='1193047' typeidversion='2'/>\n  </virtualport>"), "{xml}");
    let xml = net("<virtualport type='openvswitch'><bogus/></virtualport>")
        .unwrap()
        .to_xml();
    assert!(
        xml.contains("  <virtualport type='openvswitch'/>\n"),
        "{xml}"
    );
}

#[test]
fn more_refusals_and_layouts_match_libvirt() {
    let doc = |attrs: &str, body: &str| {
        format!(
            "<network{attrs}><name>t1</name><uuid>11111111-2222-3333-4444-555555555555</uuid>\
             {body}</network>"
        )
    };
    let refused = [
        ("<forward mode='hostdev'><pf dev='x'/></forward><vlan/>", "XML error: missing tag id - each <vlan> must have at least one <tag id='n'/> subelement"),
        ("<forward mode='hostdev'><pf dev='x'/></forward><vlan><tag id='5000'/></vlan>", "XML error: vlan tag id 5000 too large (maximum 4095)"),
        ("<forward mode='hostdev'><pf dev='x'/></forward><vlan><tag id='5' nativeMode='bogus'/></vlan>", "XML error: Invalid value for attribute 'nativeMode' in element 'tag': 'bogus'."),
        ("<forward mode='hostdev'><pf dev='x'/></forward><vlan trunk='no'><tag id='5'/><tag id='6'/></vlan>", "XML error: invalid \"trunk='no'\" in <vlan> - trunk='yes' is required for more than one vlan tag"),
        ("<bridge name='vbt1'/><bandwidth><inbound peak='5'/></bandwidth>", "Missing mandatory average or floor attributes"),
        ("<bridge name='vbt1'/><bandwidth><inbound average='5'/><inbound average='6'/></bandwidth>", "Only one child <inbound> element allowed"),
        ("<bridge name='vbt1'/><bandwidth><inbound average='x'/></bandwidth>", "unsupported configuration: could not convert bandwidth average value 'x'"),
    ];
    for (body, want) in refused {
        let got = Network::parse(&doc("", body)).and_then(|n| n.validate());
        assert_eq!(got.unwrap_err().message, want, "{body}");
    }
    let e = Network::parse(&doc(
        " xmlns:x='http://libvirt.org/schemas/network/dnsmasq/1.0'",
        "<x:options><x:option/></x:options>",
    ))
    .unwrap_err();
    assert_eq!(
        e.message,
        "internal error: No dnsmasq options value specified"
    );

    let net = Network::parse(&doc(
        " xmlns:x='http://libvirt.org/schemas/network/dnsmasq/1.0' ipv6='no'",
        "<bridge name='vbt1'/><metadata>  </metadata><mtu size='-1'/>\
         <x:options><x:option value='a=b'/></x:options>",
    ))
    .unwrap();
    assert_eq!(
        net.to_xml(),
        "<network xmlns:dnsmasq='http://libvirt.org/schemas/network/dnsmasq/1.0'>
  <name>t1</name>
  <uuid>11111111-2222-3333-4444-555555555555</uuid>
  <metadata/>
  <bridge name='vbt1' stp='on' delay='0'/>
  <mtu size='4294967295'/>
  <dnsmasq:options>
    <dnsmasq:option value='a=b'/>
  </dnsmasq:options>
</network>
"
    );
}
