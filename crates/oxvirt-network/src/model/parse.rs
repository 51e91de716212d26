//! Reading `<network>`: libvirt's `virNetworkDefParseXML`, with its checks and messages.

use std::net::IpAddr;

use oxvirt_domain::Metadata;
use oxvirt_xml::model::{str_to_long_ui, str_to_long_ullp, PropFlags, XmlModel};
use oxvirt_xml::types::{MacAddr, Uuid};
use oxvirt_xml::{Context, Cursor, Element, ErrorCode, ErrorDomain, VirError, XmlError};

use super::dns::{Dns, DnsForwarder, DnsHost, DnsSrv, DnsTxt};
use super::forward::{Forward, ForwardInterface, ForwardMode, Nat};
use super::ip::Route;
use super::ip::{ip_prefix, same_net, Bootp, Dhcp, DhcpHost, DhcpLease, DhcpRange, Ip, LeaseUnit};
use super::portgroup::{Bridge, MacTableManager, NetDomain, Portgroup};
use super::vport::parse_virtualport;
use super::{err, xml_err, Bandwidth, BandwidthRate, Network, Vlan, DNSMASQ_NAMESPACE};
use oxvirt_domain::PciAddress;

/// The result of reading.
type Res<T> = Result<T, VirError>;

/// An error of libvirt's generic XML readers (`virXMLProp*`), reported from `VIR_FROM_XML`
/// where they say so.
pub(crate) fn from_xml(e: XmlError) -> VirError {
    VirError::from_xml(e, ErrorDomain::Network)
}

/// A `VIR_ERR_XML_DETAIL` (whose message is the bare text).
fn detail(msg: impl AsRef<str>) -> VirError {
    err(ErrorCode::XmlDetail, msg)
}

/// A `VIR_ERR_CONFIG_UNSUPPORTED`.
fn unsupported(msg: impl AsRef<str>) -> VirError {
    err(ErrorCode::ConfigUnsupported, msg)
}

/// A `VIR_ERR_INTERNAL_ERROR`.
fn internal(msg: impl AsRef<str>) -> VirError {
    err(ErrorCode::InternalError, msg)
}

/// A numeric address as `getaddrinfo(AI_NUMERICHOST)` reads it: IPv6, or IPv4 in
/// `inet_aton`'s forms (`10.1` is 10.0.0.1; parts in decimal, octal or hexadecimal).
pub(crate) fn ip_from_str(text: &str) -> Option<IpAddr> {
    if let Ok(a) = text.parse::<IpAddr>() {
        return Some(a);
    }
    let parts: Vec<&str> = text.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut nums = Vec::with_capacity(parts.len());
    for p in &parts {
        if p.is_empty() || !p.chars().next().is_some_and(|c| c.is_ascii_digit()) {
            return None;
        }
        nums.push(str_to_long_ullp(p, 0)?);
    }
    let (last, head) = nums.split_last()?;
    if head.iter().any(|n| *n > 255) {
        return None;
    }
    let rest_bits = 8 * (4 - head.len() as u32);
    if rest_bits < 64 && *last >= 1u64 << rest_bits {
        return None;
    }
    let mut v: u32 = 0;
    for (i, n) in head.iter().enumerate() {
        v |= (*n as u32) << (24 - 8 * i as u32);
    }
    v |= *last as u32;
    Some(IpAddr::V4(v.into()))
}

/// libvirt's `virSocketAddrParse` (numeric addresses only), with its error.
pub(crate) fn parse_addr(text: &str) -> Res<IpAddr> {
    ip_from_str(text).ok_or_else(|| {
        VirError::new(
            ErrorDomain::Network,
            ErrorCode::SystemError,
            format!("Cannot parse socket address '{text}': Name or service not known"),
        )
    })
}

/// `text` as a numeric address (`virSocketAddrParse`), else the error `bad` words for it.
fn addr_or(text: &str, bad: impl FnOnce(&str) -> VirError) -> Res<IpAddr> {
    ip_from_str(text).ok_or_else(|| bad(text))
}

/// An optional address attribute's value as [`addr_or`] reads it: `None` when absent.
fn opt_addr(text: Option<&str>, bad: impl FnOnce(&str) -> VirError) -> Res<Option<IpAddr>> {
    text.map(|t| addr_or(t, bad)).transpose()
}

/// An attribute as `virXMLPropString`/`virXPathString("string(@x)")` read it: `None` when
/// absent, and for XPath strings also when empty.
fn xpath_attr<'a>(el: &'a Element, name: &str) -> Option<&'a str> {
    el.attr(name).filter(|v| !v.is_empty())
}

/// The first child element named `name`.
fn first<'a>(el: &'a Element, name: &str) -> Option<&'a Element> {
    el.elements()
        .find(|e| e.name == name && e.namespace.is_none())
}

/// Every child element named `name`.
fn all<'a>(el: &'a Element, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
    el.elements()
        .filter(move |e| e.name == name && e.namespace.is_none())
}

/// libvirt's `virXMLPropTristateBool` on `el` (absent element: absent value).
fn tristate(el: Option<&Element>, name: &str) -> Res<Option<bool>> {
    match el {
        Some(el) => Cursor::new(el)
            .prop_yes_no(name, PropFlags::NONE)
            .map_err(from_xml),
        None => Ok(None),
    }
}

/// libvirt's `virMacAddrParse`.
fn parse_mac(text: &str) -> Option<MacAddr> {
    MacAddr::try_parse(text)
}

/// The class-less check of `virSocketAddrGetRange`: `start`..`end` must be one family, in
/// the network `net`/`prefix` if given, not its network or broadcast address, and ordered;
/// the range's size otherwise.
pub(crate) fn check_range(
    start: IpAddr,
    end: IpAddr,
    net: Option<(IpAddr, Option<u8>)>,
) -> Res<u32> {
    if start.is_ipv4() != end.is_ipv4() {
        return Err(internal(format!(
            "mismatch of address family in range {start} - {end}"
        )));
    }
    if let Some((network, prefix)) = net {
        if start.is_ipv4() != network.is_ipv4() {
            return Err(internal(format!(
                "mismatch of address family in range {start} - {end} for network {network}"
            )));
        }
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) if p <= max => p,
            p => {
                let shown = p.map_or(-1, i32::from);
                return Err(internal(format!(
                    "bad prefix {shown} for network {network} when checking range {start} - {end}"
                )));
            }
        };
        if !same_net(start, network, prefix) || !same_net(end, network, prefix) {
            return Err(internal(format!(
                "range {start} - {end} is not entirely within network {network}/{prefix}"
            )));
        }
        if let (IpAddr::V4(s), IpAddr::V4(e), IpAddr::V4(n)) = (start, end, network) {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            let netaddr = u32::from(n) & mask;
            let broadcast = netaddr | !mask;
            if u32::from(s) == netaddr {
                return Err(internal(format!(
                    "start of range {start} - {end} in network {network}/{prefix} is the network address"
                )));
            }
            if u32::from(e) == broadcast {
                return Err(internal(format!(
                    "end of range {start} - {end} in network {network}/{prefix} is the broadcast address"
                )));
            }
        }
    }
    match (start, end) {
        (IpAddr::V4(s), IpAddr::V4(e)) => {
            let (s, e) = (s.octets(), e.octets());
            if s[..2] != e[..2] {
                return Err(internal(format!(
                    "range {start} - {end} is too large (> 65535)"
                )));
            }
            let n = (i32::from(e[2]) - i32::from(s[2])) * 256 + i32::from(e[3]) - i32::from(s[3]);
            if n < 0 {
                return Err(internal(format!("range {start} - {end} is reversed ")));
            }
            Ok(n as u32 + 1)
        }
        (IpAddr::V6(s), IpAddr::V6(e)) => {
            let (s, e) = (s.segments(), e.segments());
            if s[..7] != e[..7] {
                return Err(internal(format!(
                    "range {start} - {end} is too large (> 65535)"
                )));
            }
            let n = i32::from(e[7]) - i32::from(s[7]);
            if n < 0 {
                return Err(internal(format!(
                    "range {start} - {end} start larger than end"
                )));
            }
            Ok(n as u32 + 1)
        }
        _ => Err(internal(format!(
            "mismatch of address family in range {start} - {end}"
        ))),
    }
}

/// `<lease expiry unit>`: `virNetworkDHCPLeaseTimeDefParseXML`.
fn parse_lease(el: &Element) -> Res<Option<DhcpLease>> {
    let mut c = Cursor::new(el);
    let Some(expiry) = c
        .prop_ulonglong("expiry", 0, PropFlags::NONE)
        .map_err(from_xml)?
    else {
        return Ok(None);
    };
    let unit = c
        .enum_attr::<LeaseUnit>("unit")
        .map_err(from_xml)?
        .unwrap_or(LeaseUnit::Minutes);
    if expiry > 0
        && ((unit == LeaseUnit::Seconds && expiry < 120)
            || (unit == LeaseUnit::Minutes && expiry < 2))
    {
        return Err(unsupported(
            "The minimum lease time should be greater than 2 minutes",
        ));
    }
    // libvirt writes an infinite lease without its unit.
    let unit = if expiry == 0 {
        LeaseUnit::Minutes
    } else {
        unit
    };
    Ok(Some(DhcpLease { expiry, unit }))
}

/// `<range>`: `virNetworkDHCPRangeDefParseXML`.
pub(crate) fn parse_range(network: &str, ip: &Ip, el: &Element) -> Res<DhcpRange> {
    let Some(start) = el.attr("start") else {
        return Err(xml_err(format!(
            "Missing 'start' attribute in dhcp range for network '{network}'"
        )));
    };
    let start = parse_addr(start)?;
    let Some(end) = el.attr("end") else {
        return Err(xml_err(format!(
            "Missing 'end' attribute in dhcp range for network '{network}'"
        )));
    };
    let end = parse_addr(end)?;
    let prefix = ip_prefix(ip.address, ip.netmask, ip.prefix);
    check_range(start, end, Some((ip.address, prefix)))?;
    let lease = match first(el, "lease") {
        Some(l) => parse_lease(l)?,
        None => None,
    };
    Ok(DhcpRange { start, end, lease })
}

/// `<host>` of `<dhcp>`: `virNetworkDHCPHostDefParseXML`. `partial` (for deleting) needs
/// only one of mac, name and ip.
pub(crate) fn parse_dhcp_host(
    network: &str,
    ip: &Ip,
    el: &Element,
    partial: bool,
) -> Res<DhcpHost> {
    let v6 = ip.address.is_ipv6();
    let mut host = DhcpHost::default();
    if let Some(mac) = el.attr("mac") {
        if v6 {
            return Err(xml_err(format!(
                "Invalid to specify MAC address '{mac}' in network '{network}' IPv6 static host definition"
            )));
        }
        let Some(parsed) = parse_mac(mac) else {
            return Err(xml_err(format!(
                "Cannot parse MAC address '{mac}' in network '{network}'"
            )));
        };
        if parsed.is_multicast() {
            return Err(xml_err(format!(
                "expected unicast mac address, found multicast '{mac}' in network '{network}'"
            )));
        }
        host.mac = Some(parsed);
    }
    if let Some(id) = el.attr("id") {
        if let Some(bad) = id.chars().find(|c| !(c.is_ascii_hexdigit() || *c == ':')) {
            return Err(xml_err(format!(
                "Invalid character '{bad}' in id '{id}' of network '{network}'"
            )));
        }
        host.id = Some(id.to_string());
    }
    if let Some(name) = el.attr("name") {
        if !name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        {
            return Err(xml_err(format!(
                "Cannot use host name '{name}' in network '{network}'"
            )));
        }
        host.name = Some(name.to_string());
    }
    if let Some(addr) = el.attr("ip") {
        host.ip = Some(addr_or(addr, |_| {
            xml_err(format!(
                "Invalid IP address in static host definition for network '{network}'"
            ))
        })?);
    }
    if partial {
        if host.mac.is_none() && host.name.is_none() && host.ip.is_none() {
            return Err(xml_err(format!(
                "At least one of name, mac, or ip attribute must be specified for static host definition in network '{network}'"
            )));
        }
    } else {
        if v6 {
            if host.id.is_none() && host.name.is_none() {
                return Err(xml_err(format!(
                    "Static host definition in IPv6 network '{network}' must have id or name attribute"
                )));
            }
        } else if host.mac.is_none() && host.name.is_none() {
            return Err(xml_err(format!(
                "Static host definition in IPv4 network '{network}' must have mac or name attribute"
            )));
        }
        if host.ip.is_none() {
            return Err(xml_err(format!(
                "Missing IP address in static host definition for network '{network}'"
            )));
        }
    }
    if let Some(l) = first(el, "lease") {
        host.lease = parse_lease(l)?;
    }
    Ok(host)
}

/// `<dhcp>`: `virNetworkDHCPDefParseXML`. Only ranges and hosts make libvirt write it back,
/// so a `<dhcp>` with neither is dropped.
fn parse_dhcp(network: &str, ip: &Ip, el: &Element) -> Res<Option<Dhcp>> {
    let mut dhcp = Dhcp::default();
    for r in all(el, "range") {
        dhcp.ranges.push(parse_range(network, ip, r)?);
    }
    for h in all(el, "host") {
        dhcp.hosts.push(parse_dhcp_host(network, ip, h, false)?);
    }
    if let (Some(b), true) = (first(el, "bootp"), ip.address.is_ipv4()) {
        let file = Cursor::new(b)
            .required_attr("file")
            .map_err(from_xml)?
            .to_string();
        let server = match b.attr("server") {
            Some(s) => Some(parse_addr(s)?),
            None => None,
        };
        dhcp.bootp = Some(Bootp { file, server });
    }
    Ok((!dhcp.ranges.is_empty() || !dhcp.hosts.is_empty()).then_some(dhcp))
}

/// `<ip>`: `virNetworkIPDefParseXML`.
fn parse_ip(network: &str, el: &Element) -> Res<Ip> {
    let family = xpath_attr(el, "family").map(str::to_string);
    let Some(address_text) = xpath_attr(el, "address") else {
        return Err(xml_err(format!(
            "Missing required address attribute in network '{network}'"
        )));
    };
    let address = addr_or(address_text, |a| {
        xml_err(format!("Invalid address '{a}' in network '{network}'"))
    })?;
    let netmask_text = xpath_attr(el, "netmask");
    let netmask = opt_addr(netmask_text, |m| {
        xml_err(format!("Invalid netmask '{m}' in network '{network}'"))
    })?;
    let mut c = Cursor::new(el);
    let prefix = c
        .prop_uint("prefix", 10, PropFlags::NONE)
        .map_err(from_xml)?
        .unwrap_or(0);
    let local_ptr = c
        .prop_yes_no("localPtr", PropFlags::NONE)
        .map_err(from_xml)?;
    match family.as_deref() {
        None | Some("ipv4") => {
            if !address.is_ipv4() {
                let f = if family.is_none() { "no" } else { "ipv4" };
                return Err(unsupported(format!(
                    "{f} family specified for non-IPv4 address '{address_text}' in network '{network}'"
                )));
            }
            if let Some(m) = netmask_text {
                if !netmask.is_some_and(|n| n.is_ipv4()) {
                    return Err(unsupported(format!(
                        "Invalid netmask '{m}' for address '{address_text}' in network '{network}' (both must be IPv4)"
                    )));
                }
                if prefix > 0 {
                    return Err(unsupported(format!(
                        "Network '{network}' IP address cannot have both a prefix and a netmask"
                    )));
                }
            } else if prefix > 32 {
                return Err(unsupported(format!(
                    "Invalid IPv4 prefix '{prefix}' in network '{network}'"
                )));
            }
        }
        Some("ipv6") => {
            if !address.is_ipv6() {
                return Err(unsupported(format!(
                    "Family 'ipv6' specified for non-IPv6 address '{address_text}' in network '{network}'"
                )));
            }
            if netmask_text.is_some() {
                return Err(unsupported(format!(
                    "netmask not allowed for IPv6 address '{address_text}' in network '{network}'"
                )));
            }
            if prefix > 128 {
                return Err(unsupported(format!(
                    "Invalid IPv6 prefix '{prefix}' in network '{network}'"
                )));
            }
        }
        Some(other) => {
            return Err(xml_err(format!(
                "Unrecognized family '{other}' in network '{network}'"
            )))
        }
    }
    let mut ip = Ip {
        family,
        address,
        netmask,
        prefix,
        local_ptr,
        tftp_root: None,
        dhcp: None,
    };
    if let Some(d) = first(el, "dhcp") {
        ip.dhcp = parse_dhcp(network, &ip, d)?;
    }
    if let Some(t) = first(el, "tftp") {
        if !address.is_ipv4() {
            return Err(unsupported(format!(
                "Unsupported <tftp> element in an IPv6 element in network '{network}'"
            )));
        }
        ip.tftp_root = xpath_attr(t, "root").map(str::to_string);
    }
    Ok(ip)
}

/// `<host>` of `<dns>`: `virNetworkDNSHostDefParseXML`.
pub(crate) fn parse_dns_host(network: &str, el: &Element, partial: bool) -> Res<DnsHostParts> {
    let mut hostnames = Vec::new();
    for h in all(el, "hostname") {
        let name = h.text();
        if name.is_empty() {
            return Err(detail(format!(
                "Missing hostname in network '{network}' DNS HOST record"
            )));
        }
        hostnames.push(name);
    }
    if hostnames.is_empty() && !partial {
        return Err(detail(format!(
            "Missing hostname in network '{network}' DNS HOST record"
        )));
    }
    let ip = match el.attr("ip") {
        Some(text) => Some(addr_or(text, |_| {
            detail(format!(
                "Invalid IP address in network '{network}' DNS HOST record"
            ))
        })?),
        None => {
            if !partial {
                return Err(detail(format!(
                    "Missing IP address in network '{network}' DNS HOST record"
                )));
            }
            if hostnames.is_empty() {
                return Err(detail(format!(
                    "Missing ip and hostname in network '{network}' DNS HOST record"
                )));
            }
            None
        }
    };
    Ok(DnsHostParts { ip, hostnames })
}

/// A DNS host record as read for an update, where the address may be missing.
pub(crate) struct DnsHostParts {
    /// The address, if given.
    pub ip: Option<IpAddr>,
    /// The names.
    pub hostnames: Vec<String>,
}

const PROTOCOL_CHARS: &str = "-+/";
const SERVICE_CHARS: &str = "_-+/*";
/// libvirt's `DNS_RECORD_LENGTH_SRV`.
const DNS_RECORD_LENGTH_SRV: usize = 512 - 30;

fn check_line_breaks(record: &str, field: &str, value: Option<&str>) -> Res<()> {
    if value.is_some_and(|v| v.contains(['\r', '\n'])) {
        return Err(detail(format!(
            "invalid line break in DNS {record} record {field} attribute"
        )));
    }
    Ok(())
}

/// `<srv>`: `virNetworkDNSSrvDefParseXML`.
pub(crate) fn parse_srv(network: &str, el: &Element, partial: bool) -> Res<DnsSrv> {
    let mut srv = DnsSrv {
        service: el.attr("service").map(str::to_string),
        ..DnsSrv::default()
    };
    let svc = srv.service.clone().unwrap_or_else(|| "(null)".into());
    match &srv.service {
        None if !partial => {
            return Err(detail(format!(
                "missing required service attribute in DNS SRV record of network '{network}'"
            )))
        }
        Some(s) => {
            if s.len() > DNS_RECORD_LENGTH_SRV {
                return Err(detail(format!(
                    "service attribute '{s}' in network '{network}' is too long, limit is {DNS_RECORD_LENGTH_SRV} bytes"
                )));
            }
            if s.chars()
                .any(|c| !(c.is_ascii_alphanumeric() || SERVICE_CHARS.contains(c)))
            {
                return Err(detail(format!(
                    "invalid character in service attribute '{s}' in DNS SRV record of network '{network}'"
                )));
            }
        }
        None => {}
    }
    srv.protocol = el.attr("protocol").map(str::to_string);
    match &srv.protocol {
        None if !partial => {
            return Err(detail(format!(
                "missing required protocol attribute in DNS SRV record '{svc}' of network '{network}'"
            )))
        }
        Some(p)
            if p
                .chars()
                .any(|c| !(c.is_ascii_alphanumeric() || PROTOCOL_CHARS.contains(c))) =>
        {
            return Err(detail(format!(
                "invalid character in protocol attribute '{p}' in DNS SRV record of network '{network}'"
            )))
        }
        _ => {}
    }
    srv.domain = el.attr("domain").map(str::to_string);
    srv.target = el.attr("target").map(str::to_string);
    check_line_breaks("SRV", "domain", srv.domain.as_deref())?;
    check_line_breaks("SRV", "target", srv.target.as_deref())?;
    let has_target = srv.target.is_some();
    let read = |name: &str, max_ok: &dyn Fn(u32) -> bool, bad: &str| -> Res<Option<u32>> {
        let Some(v) = xpath_attr(el, name) else {
            return Ok(None);
        };
        let n = str_to_long_ui(v, 10);
        if n.is_some() && !has_target {
            return Err(detail(format!(
                "DNS SRV {name} attribute not permitted without target for service '{svc}' in network '{network}'"
            )));
        }
        match n {
            Some(n) if max_ok(n) => Ok(Some(n)),
            _ => Err(detail(format!(
                "{bad} DNS SRV {name} attribute for service '{svc}' in network '{network}'"
            ))),
        }
    };
    srv.port = read("port", &|n| (1..=65535).contains(&n), "invalid")?;
    srv.priority = read("priority", &|n| n <= 65535, "Invalid")?;
    srv.weight = read("weight", &|n| n <= 65535, "invalid")?;
    // libvirt writes zero priority and weight as absent.
    srv.priority = srv.priority.filter(|n| *n != 0);
    srv.weight = srv.weight.filter(|n| *n != 0);
    Ok(srv)
}

/// `<txt>`: `virNetworkDNSTxtDefParseXML`.
pub(crate) fn parse_txt(network: &str, el: &Element, partial: bool) -> Res<DnsTxt> {
    let Some(name) = el.attr("name") else {
        return Err(detail(format!(
            "missing required name attribute in DNS TXT record of network {network}"
        )));
    };
    if name.contains([' ', ',']) {
        return Err(detail(format!(
            "prohibited character in DNS TXT record name '{name}' of network {network}"
        )));
    }
    let value = el.attr("value").map(str::to_string);
    if value.is_none() && !partial {
        return Err(detail(format!(
            "missing required value attribute in DNS TXT record named '{name}' of network {network}"
        )));
    }
    check_line_breaks("TXT", "value", value.as_deref())?;
    Ok(DnsTxt {
        name: name.to_string(),
        value,
    })
}

/// `<dns>`: `virNetworkDNSDefParseXML`.
fn parse_dns(network: &str, el: &Element) -> Res<Dns> {
    let mut dns = Dns {
        enable: tristate(Some(el), "enable")?,
        forward_plain_names: tristate(Some(el), "forwardPlainNames")?,
        ..Dns::default()
    };
    for f in all(el, "forwarder") {
        let addr = opt_addr(f.attr("addr"), |a| {
            xml_err(format!(
                "Invalid forwarder IP address '{a}' in network '{network}'"
            ))
        })?;
        let domain = f.attr("domain").map(str::to_string);
        if addr.is_none() && domain.is_none() {
            return Err(xml_err(
                "Invalid forwarder element, must contain at least one of addr or domain",
            ));
        }
        dns.forwarders.push(DnsForwarder { addr, domain });
    }
    for h in all(el, "host") {
        let parts = parse_dns_host(network, h, false)?;
        if let Some(ip) = parts.ip {
            dns.hosts.push(DnsHost {
                ip,
                hostnames: parts.hostnames,
            });
        }
    }
    for s in all(el, "srv") {
        dns.srvs.push(parse_srv(network, s, false)?);
    }
    for t in all(el, "txt") {
        dns.txts.push(parse_txt(network, t, false)?);
    }
    if dns.enable == Some(false)
        && !(dns.forwarders.is_empty()
            && dns.hosts.is_empty()
            && dns.srvs.is_empty()
            && dns.txts.is_empty())
    {
        return Err(xml_err(format!(
            "Extra data in disabled network '{network}'"
        )));
    }
    Ok(dns)
}

/// One direction of `<bandwidth>`: `virNetDevBandwidthParseRate`.
fn parse_rate(el: &Element) -> Res<BandwidthRate> {
    let num = |name: &str| -> Res<Option<u64>> {
        match el.attr(name) {
            None => Ok(None),
            Some(v) => match str_to_long_ullp(v, 10) {
                Some(n) => Ok(Some(n)),
                None => Err(unsupported(format!(
                    "could not convert bandwidth {name} value '{v}'"
                ))),
            },
        }
    };
    let rate = BandwidthRate {
        average: num("average")?,
        peak: num("peak")?,
        burst: num("burst")?,
        floor: num("floor")?,
        unknown: Default::default(),
    };
    if rate.average.is_none() && rate.floor.is_none() {
        return Err(detail("Missing mandatory average or floor attributes"));
    }
    Ok(rate)
}

/// `<bandwidth>` as `virNetDevBandwidthParse` reads it for a network (no `floor`).
fn parse_bandwidth(el: &Element) -> Res<Bandwidth> {
    for name in ["inbound", "outbound"] {
        if all(el, name).count() > 1 {
            return Err(detail(format!("Only one child <{name}> element allowed")));
        }
    }
    let inbound = first(el, "inbound").map(parse_rate).transpose()?;
    let outbound = first(el, "outbound").map(parse_rate).transpose()?;
    if inbound.as_ref().is_some_and(|r| r.floor.is_some())
        || outbound.as_ref().is_some_and(|r| r.floor.is_some())
    {
        return Err(unsupported(
            "floor attribute is not supported for this config",
        ));
    }
    Ok(Bandwidth {
        inbound,
        outbound,
        unknown: Default::default(),
    })
}

/// `<vlan>`: `virNetDevVlanParse`.
fn parse_vlan(el: &Element) -> Res<Vlan> {
    let tags: Vec<&Element> = all(el, "tag").collect();
    if tags.is_empty() {
        return Err(xml_err(
            "missing tag id - each <vlan> must have at least one <tag id='n'/> subelement",
        ));
    }
    for t in &tags {
        if let Some(mode) = t.attr("nativeMode") {
            if !matches!(mode, "tagged" | "untagged") {
                return Err(from_xml(Cursor::new(t).invalid_value(
                    "nativeMode",
                    mode,
                    "",
                )));
            }
        }
    }
    if tags.len() > 1 && el.attr("trunk") == Some("no") {
        return Err(xml_err(
            "invalid \"trunk='no'\" in <vlan> - trunk='yes' is required for more than one vlan tag",
        ));
    }
    let mut vlan = Vlan::from_element(el, &mut Context::default()).map_err(from_xml)?;
    vlan.apply_defaults();
    vlan.unknown = Default::default();
    for t in &mut vlan.tags {
        t.unknown = Default::default();
    }
    Ok(vlan)
}

/// `<portgroup>`: `virNetworkPortGroupParseXML`.
pub(crate) fn parse_portgroup(el: &Element) -> Res<Portgroup> {
    let Some(name) = xpath_attr(el, "name") else {
        return Err(xml_err("Missing required name attribute in portgroup"));
    };
    Ok(Portgroup {
        name: name.to_string(),
        default: xpath_attr(el, "default").is_some_and(|d| d.eq_ignore_ascii_case("yes")),
        trust_guest_rx_filters: tristate(Some(el), "trustGuestRxFilters")?,
        virtualport: first(el, "virtualport")
            .map(|v| parse_virtualport(v, false))
            .transpose()?,
        bandwidth: first(el, "bandwidth").map(parse_bandwidth).transpose()?,
        vlan: first(el, "vlan").map(parse_vlan).transpose()?,
    })
}

/// An element kept as written, without positions or whitespace-only text.
fn clean_element(el: &Element) -> Element {
    let mut out = Element::new(el.name.clone());
    out.namespace = el.namespace.clone();
    out.attributes = el.attributes.clone();
    for n in &el.children {
        match n {
            oxvirt_xml::Node::Element(e) => out.push(clean_element(e)),
            oxvirt_xml::Node::Text(t) if t.trim().is_empty() => {}
            other => out.children.push(other.clone()),
        }
    }
    out
}

/// `<nat>`: `virNetworkForwardNatDefParseXML`.
fn parse_nat(network: &str, mode: ForwardMode, el: &Element) -> Res<Nat> {
    if mode != ForwardMode::Nat {
        return Err(xml_err(format!(
            "The <nat> element can only be used when <forward> 'mode' is 'nat' in network {network}"
        )));
    }
    let mut nat = Nat {
        ipv6: tristate(Some(el), "ipv6")?,
        ..Nat::default()
    };
    let addrs: Vec<&Element> = all(el, "address").collect();
    if addrs.len() > 1 {
        return Err(xml_err(format!(
            "Only one <address> element is allowed in <nat> in <forward> in network {network}"
        )));
    }
    if let Some(a) = addrs.first() {
        let Some(start) = a.attr("start") else {
            return Err(xml_err(format!(
                "missing 'start' attribute in <address> element in <nat> in <forward> in network {network}"
            )));
        };
        let Some(end) = a.attr("end") else {
            return Err(xml_err(format!(
                "missing 'end' attribute in <address> element in <nat> in <forward> in network {network}"
            )));
        };
        let Some(IpAddr::V4(s)) = ip_from_str(start) else {
            return Err(xml_err(format!(
                "Bad ipv4 start address '{start}' in <nat> in <forward> in network '{network}'"
            )));
        };
        let Some(IpAddr::V4(e)) = ip_from_str(end) else {
            return Err(xml_err(format!(
                "Bad ipv4 end address '{end}' in <nat> in <forward> in network '{network}'"
            )));
        };
        check_range(IpAddr::V4(s), IpAddr::V4(e), None)?;
        nat.address_start = Some(s);
        nat.address_end = Some(e);
    }
    let ports: Vec<&Element> = all(el, "port").collect();
    if ports.len() > 1 {
        return Err(xml_err(format!(
            "Only one <port> element is allowed in <nat> in <forward> in network {network}"
        )));
    }
    if let Some(p) = ports.first() {
        match xpath_attr(p, "start").and_then(|v| str_to_long_ui(v, 10)) {
            Some(n) if n <= 65535 => nat.port_start = n,
            _ => {
                return Err(detail(format!(
                    "Missing or invalid 'start' attribute in <port> in <nat> in <forward> in network {network}"
                )))
            }
        }
        match xpath_attr(p, "end").and_then(|v| str_to_long_ui(v, 10)) {
            Some(n) if n <= 65535 && n >= nat.port_start => nat.port_end = n,
            _ => {
                return Err(detail(format!(
                    "Missing or invalid 'end' attribute in <port> in <nat> in <forward> in network {network}"
                )))
            }
        }
    }
    Ok(nat)
}

/// `<address type='pci'>` of a hostdev pool: `virPCIDeviceAddressParseXML`.
fn parse_pci(el: &Element) -> Res<PciAddress> {
    let mut c = Cursor::new(el);
    let mut a = PciAddress::default();
    for (name, slot) in [
        ("domain", &mut a.domain),
        ("bus", &mut a.bus),
        ("slot", &mut a.slot),
        ("function", &mut a.function),
    ] {
        *slot = c
            .prop_uint(name, 0, PropFlags::NONE)
            .map_err(from_xml)?
            .unwrap_or(0);
    }
    a.validate().map_err(from_xml)?;
    Ok(a)
}

/// `<forward>`: `virNetworkForwardDefParseXML`.
fn parse_forward(network: &str, el: &Element) -> Res<Forward> {
    let mode = match xpath_attr(el, "mode") {
        None => ForwardMode::Nat,
        Some(m) => match <ForwardMode as oxvirt_xml::XmlEnum>::from_xml_str(m) {
            Some(mode) => mode,
            None => return Err(unsupported(format!("unknown forwarding type '{m}'"))),
        },
    };
    let managed = xpath_attr(el, "managed")
        .is_some_and(|m| m.eq_ignore_ascii_case("yes"))
        .then_some(true);
    let driver = match first(el, "driver").and_then(|d| d.attr("name")) {
        None | Some("default") => None,
        Some(n @ ("kvm" | "vfio")) => Some(n.to_string()),
        Some(n) => {
            return Err(unsupported(format!(
                "Unknown forward <driver name='{n}'/> in network {network}"
            )));
        }
    };
    let ifs: Vec<&Element> = all(el, "interface").collect();
    let addrs: Vec<&Element> = all(el, "address").collect();
    let pfs: Vec<&Element> = all(el, "pf").collect();
    let nats: Vec<&Element> = all(el, "nat").collect();
    let mut fwd = Forward {
        mode,
        managed,
        driver,
        pf: None,
        interfaces: Vec::new(),
        nat: None,
    };
    if nats.len() > 1 {
        return Err(xml_err(format!(
            "Only one <nat> element is allowed in <forward> of network {network}"
        )));
    }
    if let Some(n) = nats.first() {
        let nat = parse_nat(network, mode, n)?;
        fwd.nat = (nat != Nat::default()).then_some(nat);
    }
    let dev = xpath_attr(el, "dev");
    if dev.is_some() && (!addrs.is_empty() || !pfs.is_empty()) {
        return Err(xml_err(format!(
            "the <forward> 'dev' attribute cannot be used when <address> or <pf> sub-elements are present in network {network}"
        )));
    }
    if !ifs.is_empty() || dev.is_some() {
        let mut devs: Vec<String> = dev.map(str::to_string).into_iter().collect();
        for (i, e) in ifs.iter().enumerate() {
            let Some(d) = e.attr("dev") else {
                return Err(xml_err(format!(
                    "Missing required dev attribute in <forward> <interface> element of network {network}"
                )));
            };
            if i == 0 && dev.is_some() {
                if Some(d) != dev {
                    return Err(xml_err(format!(
                        "<forward dev='{}'> must match first <interface dev='{d}'/> in network {network}",
                        dev.unwrap_or_default()
                    )));
                }
                continue;
            }
            if devs.iter().any(|x| x == d) {
                return Err(xml_err(format!(
                    "interface '{d}' can only be listed once in network {network}"
                )));
            }
            devs.push(d.to_string());
        }
        fwd.interfaces = devs
            .into_iter()
            .map(|dev| ForwardInterface::Netdev {
                dev,
                connections: None,
            })
            .collect();
        // The live XML's `connections` of each interface.
        for (i, e) in ifs.iter().enumerate() {
            if let (Some(ForwardInterface::Netdev { connections, .. }), Some(n)) = (
                fwd.interfaces.get_mut(i),
                e.attr("connections").and_then(|v| str_to_long_ui(v, 10)),
            ) {
                *connections = (n > 0).then_some(n);
            }
        }
    } else if !addrs.is_empty() {
        let mut seen: Vec<PciAddress> = Vec::new();
        for a in &addrs {
            let Some(kind) = a.attr("type") else {
                return Err(xml_err(format!(
                    "missing address type in network {network}"
                )));
            };
            match kind {
                "pci" => {}
                "none" | "netdev" => {
                    return Err(xml_err(format!(
                        "unsupported address type '{kind}' in network {network}"
                    )))
                }
                _ => {
                    return Err(unsupported(format!(
                        "unknown address type '{kind}' in network {network}"
                    )))
                }
            }
            let pci = parse_pci(a)?;
            if seen.contains(&pci) {
                return Err(xml_err(format!(
                    "PCI device '{pci}' can only be listed once in network {network}"
                )));
            }
            seen.push(pci);
        }
        fwd.interfaces = seen
            .into_iter()
            .map(|address| ForwardInterface::Pci {
                address,
                connections: None,
            })
            .collect();
    } else if pfs.len() > 1 {
        return Err(xml_err(format!(
            "Only one <pf> element is allowed in <forward> of network {network}"
        )));
    } else if let Some(pf) = pfs.first() {
        let Some(d) = pf.attr("dev") else {
            return Err(xml_err(format!(
                "Missing required dev attribute in <pf> element of network '{network}'"
            )));
        };
        fwd.pf = Some(d.to_string());
    }
    Ok(fwd)
}

/// `<route>`: `virNetDevIPRouteParseXML`.
fn parse_route(network: &str, el: &Element) -> Res<Route> {
    let family = xpath_attr(el, "family").map(str::to_string);
    let Some(address_text) = xpath_attr(el, "address") else {
        return Err(xml_err(format!(
            "{network}: Missing required address attribute in route definition"
        )));
    };
    let Some(gateway_text) = xpath_attr(el, "gateway") else {
        return Err(xml_err(format!(
            "{network}: Missing required gateway attribute in route definition"
        )));
    };
    let bad = |what: &'static str| {
        move |text: &str| {
            xml_err(format!(
                "{network}: Bad {what} address '{text}' in route definition"
            ))
        }
    };
    let address = addr_or(address_text, bad("network"))?;
    let gateway = addr_or(gateway_text, bad("gateway"))?;
    let netmask_text = xpath_attr(el, "netmask");
    let netmask = opt_addr(netmask_text, bad("netmask"))?;
    let mut c = Cursor::new(el);
    let prefix = c
        .prop_uint("prefix", 10, PropFlags::NONE)
        .map_err(from_xml)?;
    let metric = c
        .prop_uint("metric", 10, PropFlags::NONZERO)
        .map_err(from_xml)?;
    match family.as_deref() {
        None | Some("ipv4") => {
            if !address.is_ipv4() {
                let f = if family.is_none() { "No" } else { "IPv4" };
                return Err(xml_err(format!(
                    "{network}: {f} family specified for non-IPv4 address '{address_text}' in route definition"
                )));
            }
            if !gateway.is_ipv4() {
                let f = if family.is_none() { "No" } else { "IPv4" };
                return Err(xml_err(format!(
                    "{network}: {f} family specified for non-IPv4 gateway '{gateway_text}' in route definition"
                )));
            }
            if let Some(m) = netmask_text {
                if !netmask.is_some_and(|n| n.is_ipv4()) {
                    return Err(xml_err(format!(
                        "{network}: Invalid netmask '{m}' for address '{address_text}' (both must be IPv4)"
                    )));
                }
                if prefix.is_some() {
                    return Err(xml_err(format!(
                        "{network}: Route definition cannot have both a prefix and a netmask"
                    )));
                }
            }
            if prefix.is_some_and(|p| p > 32) {
                return Err(xml_err(format!(
                    "{network}: Invalid IPv4 prefix '{}' in route definition",
                    prefix.unwrap_or(0)
                )));
            }
        }
        Some("ipv6") => {
            if !address.is_ipv6() {
                return Err(xml_err(format!(
                    "{network}: ipv6 family specified for non-IPv6 address '{address_text}' in route definition"
                )));
            }
            if netmask_text.is_some() {
                return Err(xml_err(format!(
                    "{network}: Specifying netmask invalid for IPv6 address '{address_text}' in route definition"
                )));
            }
            if !gateway.is_ipv6() {
                return Err(xml_err(format!(
                    "{network}: ipv6 specified for non-IPv6 gateway address '{gateway_text}' in route definition"
                )));
            }
            if prefix.is_some_and(|p| p > 128) {
                return Err(xml_err(format!(
                    "{network}: Invalid IPv6 prefix '{}' in route definition",
                    prefix.unwrap_or(0)
                )));
            }
        }
        Some(other) => {
            return Err(xml_err(format!(
                "{network}: Unrecognized family '{other}' in route definition"
            )))
        }
    }
    let route = Route {
        family,
        address,
        netmask,
        prefix,
        gateway,
        metric: metric.filter(|m| *m > 0),
    };
    let p = route.prefix();
    if mask_to(address, p) != address {
        return Err(xml_err(format!(
            "{network}: Address '{address_text}' in route definition is not a network address"
        )));
    }
    Ok(route)
}

/// `address` with all but the first `prefix` bits cleared.
fn mask_to(address: IpAddr, prefix: u8) -> IpAddr {
    match address {
        IpAddr::V4(a) => {
            let mask = u32::MAX
                .checked_shl(32 - u32::from(prefix.min(32)))
                .unwrap_or(0);
            IpAddr::V4((u32::from(a) & mask).into())
        }
        IpAddr::V6(a) => {
            let mask = u128::MAX
                .checked_shl(128 - u32::from(prefix.min(128)))
                .unwrap_or(0);
            IpAddr::V6((u128::from(a) & mask).into())
        }
    }
}

/// `<dnsmasq:options>` in libvirt's dnsmasq namespace: the option values.
fn parse_dnsmasq(root: &Element) -> Res<Vec<String>> {
    let mut out = Vec::new();
    let ours = |e: &&Element| e.namespace.as_deref() == Some(DNSMASQ_NAMESPACE);
    for opts in root
        .elements()
        .filter(ours)
        .filter(|e| e.local_name() == "options")
    {
        for o in opts
            .elements()
            .filter(ours)
            .filter(|e| e.local_name() == "option")
        {
            match o.attr("value") {
                Some(v) => out.push(v.to_string()),
                None => return Err(internal("No dnsmasq options value specified")),
            }
        }
    }
    Ok(out)
}

impl Network {
    /// Parses a `<network>` document with libvirt's parse-time checks
    /// (`virNetworkDefParse`), failing with libvirt's codes and messages. A missing
    /// `<uuid>` is generated.
    pub fn parse(xml: &str) -> Result<Network, VirError> {
        let root = oxvirt_xml::parse(xml).map_err(from_xml)?;
        if root.name != "network" {
            return Err(from_xml(
                XmlError::xml(format!(
                    "expecting root element of 'network', not '{}'",
                    root.name
                ))
                .from_domain(ErrorDomain::Xml),
            ));
        }
        let mut net = Network::from_root(&root)?;
        if let (Some(meta), Some(span)) = (
            net.metadata
                .as_mut()
                .filter(|m| m.element.elements().next().is_some()),
            first(&root, "metadata").and_then(|m| m.span.clone()),
        ) {
            meta.raw = xml
                .get(span)
                .filter(|r| r.starts_with("<metadata") && r.ends_with('>'))
                .map(str::to_string);
        }
        Ok(net)
    }

    /// `virNetworkDefParseXML` on the root element.
    fn from_root(root: &Element) -> Res<Network> {
        let name = match first(root, "name").map(Element::text) {
            Some(n) if !n.is_empty() => n,
            _ => return Err(VirError::bare(ErrorDomain::Network, ErrorCode::NoName)),
        };
        if name.contains('/') {
            return Err(detail("invalid char in name: /"));
        }
        let uuid = match first(root, "uuid").map(Element::text) {
            Some(u) if !u.is_empty() => {
                Uuid::try_parse(&u).ok_or_else(|| internal("malformed uuid element"))?
            }
            _ => Uuid::new_v4().map_err(|_| internal("Failed to generate UUID"))?,
        };
        // libvirt 9.0 reads neither <title> nor <description> of a network (later
        // versions do): they are dropped, as there.
        let (title, description) = (None, None);
        let ipv6 = match xpath_attr(root, "ipv6") {
            None | Some("no") => false,
            Some("yes") => true,
            Some(v) => {
                return Err(xml_err(format!(
                    "Invalid ipv6 setting '{v}' in network '{name}'"
                )))
            }
        };
        let trust_guest_rx_filters = tristate(Some(root), "trustGuestRxFilters")?;
        let connections = root
            .attr("connections")
            .and_then(|v| str_to_long_ui(v, 10))
            .filter(|n| *n > 0);

        let domain_el = first(root, "domain");
        let local_only = tristate(domain_el, "localOnly")?;
        // libvirt 9.0 does not know `register`.
        let register = None;
        let domain = domain_el.and_then(|d| d.attr("name")).map(|n| NetDomain {
            name: n.to_string(),
            local_only,
            register,
        });

        let bandwidth = first(root, "bandwidth").map(parse_bandwidth).transpose()?;
        let vlan = first(root, "vlan").map(parse_vlan).transpose()?;
        let port_isolated = tristate(first(root, "port"), "isolated")?;

        let bridge_el = first(root, "bridge");
        let bridge_attr = |a: &str| bridge_el.and_then(|b| xpath_attr(b, a));
        let stp_text = bridge_attr("stp");
        let delay = match bridge_attr("delay") {
            Some(d) => match str_to_long_ullp(d, 10).and_then(|n| u32::try_from(n).ok()) {
                Some(n) => Some(n),
                None => return Err(xml_err(format!("Invalid delay value in network '{name}'"))),
            },
            None => None,
        };
        let mac_table_manager = match bridge_attr("macTableManager") {
            Some(m) => match <MacTableManager as oxvirt_xml::XmlEnum>::from_xml_str(m) {
                Some(v) => Some(v),
                None => {
                    return Err(xml_err(format!(
                        "Invalid macTableManager setting '{m}' in network '{name}'"
                    )))
                }
            },
            None => None,
        };
        let mut bridge = Bridge {
            name: bridge_attr("name").map(str::to_string),
            stp: stp_text.map(|s| s != "off"),
            delay: delay.filter(|d| *d != 0),
            mac_table_manager,
            zone: bridge_attr("zone").map(str::to_string),
        };

        let mac = match first(root, "mac").and_then(|m| xpath_attr(m, "address")) {
            Some(m) => {
                let Some(parsed) = parse_mac(m) else {
                    return Err(xml_err(format!(
                        "Invalid bridge mac address '{m}' in network '{name}'"
                    )));
                };
                if parsed.is_multicast() {
                    return Err(xml_err(format!(
                        "Invalid multicast bridge mac address '{m}' in network '{name}'"
                    )));
                }
                Some(parsed)
            }
            None => None,
        };
        let mtu = match first(root, "mtu").and_then(|m| xpath_attr(m, "size")) {
            Some(s) => match str_to_long_ui(s, 10) {
                Some(n) => Some(n).filter(|n| *n != 0),
                None => {
                    return Err(xml_err(format!(
                        "Invalid mtu size '{s}' in network '{name}'"
                    )))
                }
            },
            None => None,
        };
        let dns = match first(root, "dns") {
            Some(d) => parse_dns(&name, d)?,
            None => Dns::default(),
        };
        let virtualport = first(root, "virtualport")
            .map(|v| parse_virtualport(v, true))
            .transpose()?;
        let portgroups = all(root, "portgroup")
            .map(parse_portgroup)
            .collect::<Res<Vec<_>>>()?;
        let ips = all(root, "ip")
            .map(|e| parse_ip(&name, e))
            .collect::<Res<Vec<_>>>()?;
        let routes = all(root, "route")
            .map(|e| parse_route(&name, e))
            .collect::<Res<Vec<_>>>()?;
        for r in &routes {
            let reachable = ips.iter().any(|ip| {
                ip.address.is_ipv4() == r.gateway.is_ipv4()
                    && ip_prefix(ip.address, ip.netmask, ip.prefix)
                        .is_some_and(|p| same_net(ip.address, r.gateway, p))
            });
            if !reachable {
                return Err(unsupported(format!(
                    "unreachable static route gateway '{}' specified for network '{name}'",
                    r.gateway
                )));
            }
        }
        let forward = match first(root, "forward") {
            Some(f) => Some(parse_forward(&name, f)?),
            None => None,
        };
        let mode = forward.as_ref().map_or(ForwardMode::None, |f| f.mode);
        let nifs = forward.as_ref().map_or(0, |f| f.interfaces.len());
        let npfs = forward.as_ref().map_or(0, |f| usize::from(f.pf.is_some()));
        match mode {
            ForwardMode::None => {}
            ForwardMode::Route | ForwardMode::Nat => {
                if ips.is_empty() {
                    return Err(xml_err(format!(
                        "{mode} forwarding requested, but no IP address provided for network '{name}'"
                    )));
                }
                if nifs > 1 {
                    return Err(xml_err(format!(
                        "multiple forwarding interfaces specified for network '{name}', only one is supported"
                    )));
                }
            }
            ForwardMode::Open => {
                if nifs > 0 {
                    return Err(xml_err(format!(
                        "forward dev not allowed for network '{name}' with forward mode='{mode}'"
                    )));
                }
            }
            ForwardMode::Private
            | ForwardMode::Vepa
            | ForwardMode::Passthrough
            | ForwardMode::Hostdev
            | ForwardMode::Bridge => {
                if mode != ForwardMode::Bridge {
                    if bridge.name.is_some() {
                        return Err(xml_err(format!(
                            "bridge name not allowed in {mode} mode (network '{name}')"
                        )));
                    }
                    if bridge.zone.is_some() {
                        return Err(xml_err(format!(
                            "bridge zone not allowed in {mode} mode (network '{name}')"
                        )));
                    }
                    if bridge.mac_table_manager.is_some() {
                        return Err(xml_err(format!(
                            "bridge macTableManager setting not allowed in {mode} mode (network '{name}')"
                        )));
                    }
                }
                if delay.is_some_and(|d| d != 0) || stp_text.is_some() || bridge.zone.is_some() {
                    return Err(xml_err(format!(
                        "bridge delay/stp/zone options only allowed in route, nat, and isolated mode, not in {mode} (network '{name}')"
                    )));
                }
                if bridge.name.is_some() && (nifs > 0 || npfs > 0) {
                    return Err(xml_err(format!(
                        "A network with forward mode='{mode}' can specify a bridge name or a forward dev, but not both (network '{name}')"
                    )));
                }
            }
        }
        if mtu.is_some() && !mode.is_virtual() {
            return Err(xml_err(format!(
                "mtu size only allowed in open, route, nat, and isolated mode, not in {mode} (network '{name}')"
            )));
        }
        // libvirt 9.0 keeps <metadata> even without an element in it (written then as
        // it reads it, without blank text).
        let metadata = first(root, "metadata").map(|m| Metadata {
            element: clean_element(m),
            raw: None,
        });
        let dnsmasq_options = parse_dnsmasq(root)?;

        // What libvirt writes for the bridge: stp and delay always for the modes that
        // create it, the element only when something is set otherwise.
        let bridge = if mode.is_virtual() {
            bridge.stp = Some(bridge.stp.unwrap_or(true));
            bridge.delay = Some(bridge.delay.unwrap_or(0));
            Some(bridge)
        } else {
            (bridge.name.is_some() || bridge.mac_table_manager.is_some()).then_some(Bridge {
                stp: None,
                delay: None,
                zone: None,
                ..bridge
            })
        };
        Ok(Network {
            name,
            uuid,
            title,
            description,
            metadata,
            connections,
            ipv6,
            trust_guest_rx_filters,
            forward: forward.filter(|f| f.mode != ForwardMode::None),
            bridge,
            mac,
            mtu,
            domain,
            dns,
            virtualport,
            bandwidth,
            vlan,
            port_isolated,
            portgroups,
            ips,
            routes,
            dnsmasq_options,
            unknown: Default::default(),
        })
    }
}
