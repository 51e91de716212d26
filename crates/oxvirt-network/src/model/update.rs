//! `virNetworkUpdate`'s edit of one section of a definition: libvirt's
//! `virNetworkDefUpdateSection`, with its matching rules and messages.

use oxvirt_xml::{Element, ErrorCode, VirError};

use crate::api::{UpdateCommand, UpdateSection};

use super::dns::DnsHost;
use super::forward::ForwardInterface;
use super::ip::{Dhcp, Ip};
use super::parse::{
    from_xml, parse_dhcp_host, parse_dns_host, parse_portgroup, parse_range, parse_srv, parse_txt,
};
use super::{err, xml_err, Network};

type Res<T> = Result<T, VirError>;

fn invalid(msg: impl AsRef<str>) -> VirError {
    err(ErrorCode::OperationInvalid, msg)
}

fn unsupported_op(msg: impl AsRef<str>) -> VirError {
    err(ErrorCode::OperationUnsupported, msg)
}

/// `virNetworkDefUpdateSection`: applies `command` with the element `xml` to `section`
/// of `net`. `parent_index` picks the `<ip>` of the DHCP sections (negative: the one with
/// DHCP entries, else the first IPv4, else the first IPv6). On failure `net` is unchanged.
pub fn update(
    net: &mut Network,
    command: UpdateCommand,
    section: UpdateSection,
    parent_index: i32,
    xml: &str,
) -> Result<(), VirError> {
    let el = oxvirt_xml::parse(xml).map_err(from_xml)?;
    let no_support = |what: &str| {
        unsupported_op(format!(
            "can't update '{what}' section of network '{}'",
            net.name
        ))
    };
    match section {
        UpdateSection::Bridge => Err(no_support("bridge")),
        UpdateSection::Domain => Err(no_support("domain")),
        UpdateSection::Ip => Err(no_support("ip")),
        UpdateSection::Forward => Err(no_support("forward")),
        UpdateSection::ForwardPf => Err(no_support("forward pf")),
        UpdateSection::IpDhcpHost => dhcp_host(net, command, parent_index, &el),
        UpdateSection::IpDhcpRange => dhcp_range(net, command, parent_index, &el),
        UpdateSection::ForwardInterface => forward_interface(net, command, &el),
        UpdateSection::Portgroup => portgroup(net, command, &el),
        UpdateSection::DnsHost => dns_host(net, command, &el),
        UpdateSection::DnsTxt => dns_txt(net, command, &el),
        UpdateSection::DnsSrv => dns_srv(net, command, &el),
    }
}

/// `virNetworkDefUpdateCheckElementName`.
fn check_name(net: &Network, el: &Element, want: &str) -> Res<()> {
    if el.name != want {
        return Err(xml_err(format!(
            "unexpected element <{}>, expecting <{want}>, while updating network '{}'",
            el.name, net.name
        )));
    }
    Ok(())
}

fn is_add(command: UpdateCommand) -> bool {
    matches!(command, UpdateCommand::AddFirst | UpdateCommand::AddLast)
}

/// How libvirt 9.0's DNS record updates begin: a modify is refused (later versions can
/// modify), then the element must be `<tag>`. True for an add.
fn dns_record_update(net: &Network, command: UpdateCommand, el: &Element, tag: &str) -> Res<bool> {
    if command == UpdateCommand::Modify {
        return Err(unsupported_op(format!(
            "DNS {} records cannot be modified, only added or deleted",
            tag.to_ascii_uppercase()
        )));
    }
    check_name(net, el, tag)?;
    Ok(is_add(command))
}

/// Inserts `item` first or last, as the add command says.
fn insert<T>(list: &mut Vec<T>, command: UpdateCommand, item: T) {
    if command == UpdateCommand::AddFirst {
        list.insert(0, item);
    } else {
        list.push(item);
    }
}

/// The `<ip>` a DHCP entry update edits ([`ip_index`]), once the element is checked to be
/// `<tag>` (libvirt reports a wrong element before a wrong index).
fn dhcp_ip_index(net: &Network, parent_index: i32, el: &Element, tag: &str) -> Res<usize> {
    check_name(net, el, tag)?;
    ip_index(net, parent_index)
}

/// `virNetworkIPDefByIndex`: the index of the `<ip>` whose DHCP entries to edit.
fn ip_index(net: &Network, parent_index: i32) -> Res<usize> {
    if let Ok(i) = usize::try_from(parent_index) {
        if i < net.ips.len() {
            return Ok(i);
        }
        return Err(invalid(format!(
            "couldn't update dhcp host entry - no <ip> element found at index {parent_index} in network '{}'",
            net.name
        )));
    }
    let with_dhcp = net
        .ips
        .iter()
        .position(|ip| !ip.ranges().is_empty() || !ip.hosts().is_empty());
    with_dhcp
        .or_else(|| net.ips.iter().position(Ip::is_ipv4))
        .or_else(|| net.ips.iter().position(Ip::is_ipv6))
        .ok_or_else(|| {
            invalid(format!(
                "couldn't update dhcp host entry - no <ip> element found in network '{}'",
                net.name
            ))
        })
}

/// `virNetworkDefUpdateCheckMultiDHCP`: no other `<ip>` of the family may have DHCP.
fn check_multi_dhcp(net: &Network, index: usize) -> Res<()> {
    let v4 = net.ips[index].is_ipv4();
    let other = net.ips.iter().enumerate().any(|(i, ip)| {
        i != index && ip.is_ipv4() == v4 && (!ip.ranges().is_empty() || !ip.hosts().is_empty())
    });
    if other {
        return Err(invalid(format!(
            "dhcp is supported only for a single {} address on each network",
            if v4 { "IPv4" } else { "IPv6" }
        )));
    }
    Ok(())
}

/// The `<dhcp>` of `ip`, created when missing.
fn dhcp_of(ip: &mut Ip) -> &mut Dhcp {
    ip.dhcp.get_or_insert_with(Dhcp::default)
}

/// Drops a `<dhcp>` left without ranges and hosts, which libvirt does not write.
fn tidy_dhcp(ip: &mut Ip) {
    if ip
        .dhcp
        .as_ref()
        .is_some_and(|d| d.ranges.is_empty() && d.hosts.is_empty())
    {
        ip.dhcp = None;
    }
}

fn or_unknown(v: Option<String>) -> String {
    v.unwrap_or_else(|| "unknown".into())
}

fn or_null(v: Option<&str>) -> &str {
    v.unwrap_or("(null)")
}

/// `virNetworkDefUpdateIPDHCPHost`.
fn dhcp_host(
    net: &mut Network,
    command: UpdateCommand,
    parent_index: i32,
    el: &Element,
) -> Res<()> {
    let index = dhcp_ip_index(net, parent_index, el, "host")?;
    let partial = command == UpdateCommand::Delete;
    let host = parse_dhcp_host(&net.name, &net.ips[index], el, partial)?;
    if !partial
        && host
            .ip
            .is_some_and(|a| a.is_ipv4() != net.ips[index].is_ipv4())
    {
        return Err(invalid(
            "the address family of a host entry IP must match the address family of the dhcp element's parent",
        ));
    }
    let name = net.name.clone();
    let shown_mac = or_unknown(host.mac.map(|m| m.to_string()));
    let shown_ip = or_unknown(host.ip.map(|a| a.to_string()));
    let shown_name = or_null(host.name.as_deref()).to_string();
    let any_match = |h: &super::DhcpHost| {
        (host.mac.is_some() && h.mac == host.mac)
            || (host.ip.is_some() && h.ip == host.ip)
            || (host.name.is_some() && h.name == host.name)
    };
    match command {
        UpdateCommand::Modify => {
            let Some(i) = net.ips[index].hosts().iter().position(any_match) else {
                return Err(invalid(format!(
                    "couldn't locate an existing dhcp host entry with \"mac='{shown_mac}'\" \"name='{shown_name}'\" \"ip='{shown_ip}'\" in network '{name}'"
                )));
            };
            dhcp_of(&mut net.ips[index]).hosts[i] = host;
        }
        UpdateCommand::AddFirst | UpdateCommand::AddLast => {
            check_multi_dhcp(net, index)?;
            if net.ips[index].hosts().iter().any(any_match) {
                return Err(invalid(format!(
                    "there is an existing dhcp host entry in network '{name}' that matches \"<host mac='{shown_mac}' name='{shown_name}' ip='{shown_ip}'/>\""
                )));
            }
            insert(&mut dhcp_of(&mut net.ips[index]).hosts, command, host);
        }
        UpdateCommand::Delete => {
            let all_match = |h: &super::DhcpHost| {
                (host.mac.is_none() || h.mac.is_none() || h.mac == host.mac)
                    && (host.name.is_none() || h.name == host.name)
                    && (host.ip.is_none() || h.ip == host.ip)
            };
            let Some(i) = net.ips[index].hosts().iter().position(all_match) else {
                return Err(invalid(format!(
                    "couldn't locate a matching dhcp host entry in network '{name}'"
                )));
            };
            dhcp_of(&mut net.ips[index]).hosts.remove(i);
            tidy_dhcp(&mut net.ips[index]);
        }
    }
    Ok(())
}

/// `virNetworkDefUpdateIPDHCPRange`.
fn dhcp_range(
    net: &mut Network,
    command: UpdateCommand,
    parent_index: i32,
    el: &Element,
) -> Res<()> {
    let index = dhcp_ip_index(net, parent_index, el, "range")?;
    if command == UpdateCommand::Modify {
        return Err(unsupported_op(
            "dhcp ranges cannot be modified, only added or deleted",
        ));
    }
    let range = parse_range(&net.name, &net.ips[index], el)?;
    if range.start.is_ipv4() != net.ips[index].is_ipv4() {
        return Err(invalid(
            "the address family of a dhcp range must match the address family of the dhcp element's parent",
        ));
    }
    let name = net.name.clone();
    let found = net.ips[index]
        .ranges()
        .iter()
        .position(|r| r.start == range.start && r.end == range.end);
    if is_add(command) {
        check_multi_dhcp(net, index)?;
        if found.is_some() {
            return Err(invalid(format!(
                "there is an existing dhcp range entry in network '{name}' that matches \"<range start='{}' end='{}'/>\"",
                range.start, range.end
            )));
        }
        insert(&mut dhcp_of(&mut net.ips[index]).ranges, command, range);
    } else {
        let Some(i) = found else {
            return Err(invalid(format!(
                "couldn't locate a matching dhcp range entry in network '{name}'"
            )));
        };
        dhcp_of(&mut net.ips[index]).ranges.remove(i);
        tidy_dhcp(&mut net.ips[index]);
    }
    Ok(())
}

/// `virNetworkDefUpdateForwardInterface`.
fn forward_interface(net: &mut Network, command: UpdateCommand, el: &Element) -> Res<()> {
    check_name(net, el, "interface")?;
    if command == UpdateCommand::Modify {
        return Err(unsupported_op(
            "forward interface entries cannot be modified, only added or deleted",
        ));
    }
    let Some(dev) = el.attr("dev") else {
        return Err(xml_err("missing dev attribute in <interface> element"));
    };
    let name = net.name.clone();
    let mut empty = Vec::new();
    let ifs = match net.forward.as_mut() {
        Some(f) => &mut f.interfaces,
        None => &mut empty,
    };
    let found = ifs.iter().position(|i| i.dev() == Some(dev));
    if is_add(command) {
        if found.is_some() {
            return Err(invalid(format!(
                "there is an existing interface entry in network '{name}' that matches \"<interface dev='{dev}'>\""
            )));
        }
        let iface = ForwardInterface::Netdev {
            dev: dev.to_string(),
            connections: None,
        };
        insert(ifs, command, iface);
    } else {
        let Some(i) = found else {
            return Err(invalid(format!(
                "couldn't find an interface entry in network '{name}' matching <interface dev='{dev}'>"
            )));
        };
        if let ForwardInterface::Netdev {
            connections: Some(n),
            ..
        } = ifs[i]
        {
            if n > 0 {
                return Err(invalid(format!(
                    "unable to delete interface '{dev}' in network '{name}'. It is currently being used by {n} domains."
                )));
            }
        }
        ifs.remove(i);
    }
    Ok(())
}

/// `virNetworkDefUpdatePortGroup`.
fn portgroup(net: &mut Network, command: UpdateCommand, el: &Element) -> Res<()> {
    check_name(net, el, "portgroup")?;
    let pg = parse_portgroup(el)?;
    let found = net.portgroups.iter().position(|p| p.name == pg.name);
    let default = net.portgroups.iter().rposition(|p| p.default);
    let name = &net.name;
    match (found, command) {
        (None, UpdateCommand::Modify | UpdateCommand::Delete) => {
            return Err(invalid(format!(
                "couldn't find a portgroup entry in network '{name}' matching <portgroup name='{}'>",
                pg.name
            )));
        }
        (Some(_), UpdateCommand::AddFirst | UpdateCommand::AddLast) => {
            return Err(invalid(format!(
                "there is an existing portgroup entry in network '{name}' that matches \"<portgroup name='{}'>\"",
                pg.name
            )));
        }
        _ => {}
    }
    if command != UpdateCommand::Delete && pg.default && default.is_some() && default != found {
        return Err(invalid(format!(
            "a different portgroup entry in network '{name}' is already set as the default. Only one default is allowed."
        )));
    }
    match (command, found) {
        (UpdateCommand::Modify, Some(i)) => net.portgroups[i] = pg,
        (UpdateCommand::Delete, Some(i)) => {
            net.portgroups.remove(i);
        }
        _ => insert(&mut net.portgroups, command, pg),
    }
    Ok(())
}

/// `virNetworkDefUpdateDNSHost`.
fn dns_host(net: &mut Network, command: UpdateCommand, el: &Element) -> Res<()> {
    // libvirt 9.0 cannot modify DNS host records (later versions can).
    let add = dns_record_update(net, command, el, "host")?;
    let host = parse_dns_host(&net.name, el, !add)?;
    let name = net.name.clone();
    let (mut found, mut found_modify, mut count) = (None, None, 0);
    for (i, h) in net.dns.hosts.iter().enumerate() {
        let mut this = host.ip == Some(h.ip);
        if this {
            found_modify = Some(i);
        }
        if command == UpdateCommand::Delete && !this {
            this = host.hostnames.iter().any(|n| h.hostnames.contains(n));
        }
        if this {
            count += 1;
            found = Some(i);
        }
    }
    let none = || {
        invalid(format!(
            "couldn't locate a matching DNS HOST record in network {name}"
        ))
    };
    let many = || {
        invalid(format!(
            "multiple matching DNS HOST records were found in network {name}"
        ))
    };
    match command {
        UpdateCommand::AddFirst | UpdateCommand::AddLast => {
            if count > 0 {
                return Err(invalid(format!(
                    "there is already at least one DNS HOST record with a matching field in network {name}"
                )));
            }
            let Some(ip) = host.ip else {
                return Err(none());
            };
            let record = DnsHost {
                ip,
                hostnames: host.hostnames,
            };
            insert(&mut net.dns.hosts, command, record);
        }
        UpdateCommand::Delete => {
            match (count, found) {
                (0, _) | (_, None) => return Err(none()),
                (1, Some(i)) => {
                    net.dns.hosts.remove(i);
                }
                _ => return Err(many()),
            };
        }
        UpdateCommand::Modify => match (count, found_modify, host.ip) {
            // Refused above, as libvirt 9.0 does; kept for when it is allowed.
            (0, _, _) => return Err(none()),
            (1, Some(i), Some(ip)) => {
                net.dns.hosts[i] = DnsHost {
                    ip,
                    hostnames: host.hostnames,
                };
            }
            _ => return Err(many()),
        },
    }
    Ok(())
}

/// `virNetworkDefUpdateDNSSrv`.
fn dns_srv(net: &mut Network, command: UpdateCommand, el: &Element) -> Res<()> {
    let add = dns_record_update(net, command, el, "srv")?;
    let srv = parse_srv(&net.name, el, !add)?;
    let name = net.name.clone();
    let same = |want: &Option<String>, have: &Option<String>| want.is_none() || want == have;
    let matches: Vec<usize> = net
        .dns
        .srvs
        .iter()
        .enumerate()
        .filter(|(_, s)| {
            same(&srv.domain, &s.domain)
                && same(&srv.service, &s.service)
                && same(&srv.protocol, &s.protocol)
                && same(&srv.target, &s.target)
        })
        .map(|(i, _)| i)
        .collect();
    if add {
        if !matches.is_empty() {
            return Err(invalid(format!(
                "there is already at least one DNS SRV record matching all specified fields in network {name}"
            )));
        }
        insert(&mut net.dns.srvs, command, srv);
    } else {
        match matches.as_slice() {
            [] => {
                return Err(invalid(format!(
                    "couldn't locate a matching DNS SRV record in network {name}"
                )))
            }
            [i] => {
                net.dns.srvs.remove(*i);
            }
            _ => {
                return Err(invalid(format!(
                    "multiple DNS SRV records matching all specified fields were found in network {name}"
                )))
            }
        }
    }
    Ok(())
}

/// `virNetworkDefUpdateDNSTxt`.
fn dns_txt(net: &mut Network, command: UpdateCommand, el: &Element) -> Res<()> {
    let add = dns_record_update(net, command, el, "txt")?;
    let txt = parse_txt(&net.name, el, !add)?;
    let name = net.name.clone();
    let found = net.dns.txts.iter().position(|t| t.name == txt.name);
    let missing = || {
        invalid(format!(
            "couldn't locate a matching DNS TXT record in network {name}"
        ))
    };
    match command {
        UpdateCommand::AddFirst | UpdateCommand::AddLast => {
            if found.is_some() {
                return Err(invalid(format!(
                    "there is already a DNS TXT record with name '{}' in network {name}",
                    txt.name
                )));
            }
            insert(&mut net.dns.txts, command, txt);
        }
        UpdateCommand::Delete => {
            let i = found.ok_or_else(missing)?;
            net.dns.txts.remove(i);
        }
        UpdateCommand::Modify => {
            let i = found.ok_or_else(missing)?;
            let Some(value) = txt.value else {
                return Err(invalid(format!(
                    "missing value of modifying DNS TXT record in network {name}"
                )));
            };
            net.dns.txts[i].value = Some(value);
        }
    }
    Ok(())
}
