//! dnsmasq's configuration for a network, as libvirt 9.0's
//! `networkDnsmasqConfContents` writes it, and the two hosts files beside it: the DHCP
//! hosts file (`dhcp-hostsfile=`, the `<dhcp><host>`s) and the additional hosts file
//! (`addn-hosts=`, the `<dns><host>`s).
//!
//! libvirt assumes a dnsmasq with `--bind-dynamic`, `--ra-param` and DHCPv6 (2.67 or
//! later, as every supported distribution has), and so do we.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use crate::model::{DhcpHost, DhcpLease, ForwardMode, Ip, LeaseUnit, Network};

/// Where a network's dnsmasq files are, and how its leases are kept.
///
/// File names are the network's name with a suffix in [`Paths::config_dir`] (libvirt's
/// `dnsmasqStateDir`, `/var/lib/libvirt/dnsmasq`): `NAME.conf`, `NAME.hostsfile`,
/// `NAME.addnhosts`. As libvirt builds the hosts file paths with `virBufferEscapeString`,
/// the name in those two is XML-escaped (`"` becomes `&quot;`); the others use it as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// The directory of the configuration and hosts files.
    pub config_dir: PathBuf,
    /// The directory of the pid file `NAME.pid` (libvirt: `/run/libvirt/network`), written
    /// into the configuration as `pid-file=`; `None` writes no `pid-file` line (libvirt's
    /// conformance test passes no pid file).
    pub pid_dir: Option<PathBuf>,
    /// How leases are kept. `None` is libvirt's way: nothing in the configuration, dnsmasq
    /// runs with `--leasefile-ro --dhcp-script=libvirt_leaseshelper` on its command line
    /// and the helper keeps a JSON file per bridge. `Some(dir)` is oxvirt's: dnsmasq keeps
    /// its own lease file `DIR/NAME.leases`, written into the configuration as
    /// `dhcp-leasefile=` (after `dhcp-lease-max`, only when DHCP is served), which
    /// [`super::parse_leases`] reads.
    pub lease_dir: Option<PathBuf>,
}

impl Paths {
    /// libvirt's paths as its conformance test (networkxml2conftest) uses them: the files
    /// in `/var/lib/libvirt/dnsmasq`, no pid file, leases through the helper.
    pub fn libvirt_test() -> Paths {
        Paths {
            config_dir: PathBuf::from("/var/lib/libvirt/dnsmasq"),
            pid_dir: None,
            lease_dir: None,
        }
    }

    /// oxvirt's paths: configuration, hosts files and leases in `state_dir`, the pid file
    /// in `run_dir`.
    pub fn oxvirt(state_dir: impl Into<PathBuf>, run_dir: impl Into<PathBuf>) -> Paths {
        let state_dir = state_dir.into();
        Paths {
            config_dir: state_dir.clone(),
            pid_dir: Some(run_dir.into()),
            lease_dir: Some(state_dir),
        }
    }

    /// `NAME.conf`: the configuration file (`--conf-file=`).
    pub fn conf_file(&self, name: &str) -> PathBuf {
        self.config_dir.join(format!("{name}.conf"))
    }

    /// `NAME.hostsfile` (the name XML-escaped): the DHCP hosts file.
    pub fn hosts_file(&self, name: &str) -> PathBuf {
        self.config_dir.join(format!("{}.hostsfile", escape(name)))
    }

    /// `NAME.addnhosts` (the name XML-escaped): the additional hosts file.
    pub fn addn_hosts_file(&self, name: &str) -> PathBuf {
        self.config_dir.join(format!("{}.addnhosts", escape(name)))
    }

    /// `NAME.pid` in [`Paths::pid_dir`].
    pub fn pid_file(&self, name: &str) -> Option<PathBuf> {
        self.pid_dir.as_ref().map(|d| d.join(format!("{name}.pid")))
    }

    /// `NAME.leases` in [`Paths::lease_dir`].
    pub fn lease_file(&self, name: &str) -> Option<PathBuf> {
        self.lease_dir
            .as_ref()
            .map(|d| d.join(format!("{name}.leases")))
    }
}

/// libvirt's `virBufferEscapeString` of a name.
fn escape(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

fn internal(msg: impl AsRef<str>) -> VirError {
    VirError::new(ErrorDomain::Network, ErrorCode::InternalError, msg)
}

fn unsupported(msg: impl AsRef<str>) -> VirError {
    VirError::new(ErrorDomain::Network, ErrorCode::ConfigUnsupported, msg)
}

fn path_str(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// Whether an `<ip>` serves DHCP (has a range or a static host).
pub fn serves_dhcp(ip: &Ip) -> bool {
    !ip.ranges().is_empty() || !ip.hosts().is_empty()
}

/// Whether the network needs a dnsmasq at all, as libvirt's `networkStartDhcpDaemon`
/// decides: it has an `<ip>`, and serves DHCP or TFTP on one, or has DNS enabled.
pub fn needs_dnsmasq(net: &Network) -> bool {
    if net.ips.is_empty() {
        return false;
    }
    let dhcp = net
        .ips
        .iter()
        .any(|ip| serves_dhcp(ip) || ip.tftp_root.is_some());
    dhcp || net.dns.enable != Some(false)
}

/// The `<ip>`s libvirt serves DHCP on: the first IPv4 and the first IPv6 one with a range
/// or host; a second one of a family is refused.
fn dhcp_ips(net: &Network) -> Result<(Option<&Ip>, Option<&Ip>), VirError> {
    let (mut v4, mut v6) = (None, None);
    for ip in net.ips.iter().filter(|ip| serves_dhcp(ip)) {
        let (slot, family) = if ip.is_ipv4() {
            (&mut v4, "IPv4")
        } else {
            (&mut v6, "IPv6")
        };
        if slot.is_some() {
            return Err(unsupported(format!(
                "For {family}, multiple DHCP definitions cannot be specified."
            )));
        }
        *slot = Some(ip);
    }
    Ok((v4, v6))
}

/// libvirt's `networkBuildDnsmasqLeaseTime`: `infinite`, or the expiry with the unit's
/// first letter.
fn lease_time(lease: &DhcpLease) -> String {
    if lease.expiry == 0 {
        return "infinite".to_string();
    }
    let unit = match lease.unit {
        LeaseUnit::Seconds => 's',
        LeaseUnit::Minutes => 'm',
        LeaseUnit::Hours => 'h',
    };
    format!("{}{unit}", lease.expiry)
}

/// The prefix of an `<ip>` as `virNetworkIPDefPrefix` gives it, or libvirt's error.
fn prefix(ip: &Ip, net: &Network) -> Result<u8, VirError> {
    match ip.prefix() {
        0 => Err(internal(format!(
            "bridge '{}' has an invalid prefix",
            net.bridge_name().unwrap_or("")
        ))),
        p => Ok(p),
    }
}

/// libvirt's `virSocketAddrPTRDomain`: the reverse zone of an address's network, or
/// `None` when the prefix is not on an octet (IPv4) or nibble (IPv6) boundary.
pub fn ptr_domain(address: IpAddr, prefix: u8) -> Option<String> {
    let mut labels = Vec::new();
    match address {
        IpAddr::V4(a) => {
            if prefix == 0 || prefix % 8 != 0 || prefix > 32 {
                return None;
            }
            for octet in a.octets().iter().take(usize::from(prefix / 8)).rev() {
                labels.push(octet.to_string());
            }
            labels.push("in-addr.arpa".to_string());
        }
        IpAddr::V6(a) => {
            if prefix == 0 || prefix % 4 != 0 || prefix > 128 {
                return None;
            }
            let nibbles: Vec<u8> = a.octets().iter().flat_map(|b| [b >> 4, b & 15]).collect();
            for n in nibbles.iter().take(usize::from(prefix / 4)).rev() {
                labels.push(format!("{n:x}"));
            }
            labels.push("ip6.arpa".to_string());
        }
    }
    Some(labels.join("."))
}

/// libvirt's `virSocketAddrGetRange`: how many addresses a DHCP range holds, checked to
/// be inside the `<ip>`'s network.
fn range_size(start: IpAddr, end: IpAddr, ip: &Ip, prefix: u8) -> Result<u64, VirError> {
    let too_large = || internal(format!("range {start} - {end} is too large (> 65535)"));
    if start.is_ipv4() != end.is_ipv4() {
        return Err(internal(format!(
            "mismatch of address family in range {start} - {end}"
        )));
    }
    if !ip.contains(start) || !ip.contains(end) {
        return Err(internal(format!(
            "range {start} - {end} is not entirely within network {}/{prefix}",
            ip.address
        )));
    }
    let (s, e, wide) = match (start, end) {
        (IpAddr::V4(s), IpAddr::V4(e)) => (u128::from(u32::from(s)), u128::from(u32::from(e)), 16),
        (IpAddr::V6(s), IpAddr::V6(e)) => (u128::from(s), u128::from(e), 16),
        _ => return Err(too_large()),
    };
    if s >> wide != e >> wide {
        return Err(too_large());
    }
    if e < s {
        return Err(internal(format!("range {start} - {end} is reversed ")));
    }
    Ok((e - s + 1) as u64)
}

fn netmask_v4(prefix: u8) -> IpAddr {
    let bits = u32::MAX
        .checked_shl(32 - u32::from(prefix.min(32)))
        .unwrap_or(0);
    IpAddr::V4(bits.into())
}

/// The DHCP part of one `<ip>` (libvirt's `networkDnsmasqConfDHCP`); adds to `leases`.
fn conf_dhcp(out: &mut String, ip: &Ip, net: &Network, leases: &mut u64) -> Result<(), VirError> {
    let prefix = prefix(ip, net)?;
    for range in ip.ranges() {
        if ip.is_ipv6() {
            let _ = write!(out, "dhcp-range={},{},{prefix}", range.start, range.end);
        } else {
            let _ = write!(
                out,
                "dhcp-range={},{},{}",
                range.start,
                range.end,
                netmask_v4(prefix)
            );
        }
        if let Some(lease) = &range.lease {
            let _ = write!(out, ",{}", lease_time(lease));
        }
        out.push('\n');
        *leases += range_size(range.start, range.end, ip, prefix)?;
    }
    if ip.ranges().is_empty() && !ip.hosts().is_empty() {
        let _ = write!(out, "dhcp-range={},static", ip.address);
        if ip.is_ipv6() {
            let _ = write!(out, ",{prefix}");
        }
        out.push('\n');
    }
    if ip.is_ipv4() {
        if serves_dhcp(ip) {
            out.push_str("dhcp-no-override\ndhcp-authoritative\n");
        }
        if let Some(bootp) = ip.dhcp.as_ref().and_then(|d| d.bootp.as_ref()) {
            match bootp.server {
                Some(server) => {
                    let _ = writeln!(out, "dhcp-boot={},,{server}", bootp.file);
                }
                None => {
                    let _ = writeln!(out, "dhcp-boot={}", bootp.file);
                }
            }
        }
    }
    Ok(())
}

/// dnsmasq's configuration for `net`, byte for byte as libvirt 9.0's
/// `networkDnsmasqConfContents` writes it, with the files of `paths` (and, when
/// [`Paths::lease_dir`] is set, a `dhcp-leasefile=` line). Fails with libvirt's errors
/// for what dnsmasq cannot be told (two DHCP `<ip>`s of a family, a PTR zone off an
/// octet/nibble boundary, a DHCP range outside its network, an SRV record without
/// service or protocol).
pub fn config(net: &Network, paths: &Paths) -> Result<String, VirError> {
    let mut out = String::new();
    let name = &net.name;
    let dns = &net.dns;
    let want_dns = dns.enable != Some(false);
    let _ = write!(
        out,
        "##WARNING:  THIS IS AN AUTO-GENERATED FILE. CHANGES TO IT ARE LIKELY TO BE\n\
         ##OVERWRITTEN AND LOST.  Changes to this configuration should be made using:\n\
         ##    virsh net-edit {name}\n\
         ## or other application using the libvirt API.\n\
         ##\n\
         ## dnsmasq conf file created by libvirt\n\
         strict-order\n"
    );
    if !want_dns {
        out.push_str("port=0\n");
    }
    if want_dns && !dns.forwarders.is_empty() {
        let mut no_resolv = false;
        for fwd in &dns.forwarders {
            out.push_str("server=");
            if let Some(domain) = &fwd.domain {
                let _ = write!(out, "/{domain}/");
            }
            match fwd.addr {
                Some(addr) => {
                    let _ = writeln!(out, "{addr}");
                    no_resolv |= fwd.domain.is_none();
                }
                None => out.push_str("#\n"),
            }
        }
        if no_resolv {
            out.push_str("no-resolv\n");
        }
    }
    if let Some(domain) = &net.domain {
        if domain.local_only == Some(true) {
            let _ = writeln!(out, "local=/{}/", domain.name);
        }
        let _ = write!(out, "domain={}\nexpand-hosts\n", domain.name);
    }
    if want_dns {
        for ip in net.ips.iter().filter(|ip| ip.local_ptr == Some(true)) {
            let prefix = ip.prefix();
            let Some(zone) = ptr_domain(ip.address, prefix) else {
                return Err(unsupported(format!(
                    "PTR domain for {} network with prefix {prefix} cannot be automatically created",
                    if ip.is_ipv4() { "IPv4" } else { "IPv6" }
                )));
            };
            let _ = writeln!(out, "local=/{zone}/");
        }
        if dns.forward_plain_names == Some(false) {
            out.push_str("domain-needed\nlocal=//\n");
        }
    }
    if let Some(pid) = paths.pid_file(name) {
        let _ = writeln!(out, "pid-file={}", path_str(&pid));
    }
    let _ = write!(
        out,
        "except-interface=lo\nbind-dynamic\ninterface={}\n",
        net.bridge_name().unwrap_or("")
    );
    if net.forward_mode() == ForwardMode::None {
        out.push_str("dhcp-option=3\nno-resolv\nra-param=*,0,0\n");
    }
    if want_dns {
        for txt in &dns.txts {
            let _ = writeln!(
                out,
                "txt-record={},{}",
                txt.name,
                txt.value.as_deref().unwrap_or("")
            );
        }
        for srv in &dns.srvs {
            let missing = || {
                internal(format!(
                    "Missing required 'service' attribute in SRV record of network '{name}'"
                ))
            };
            let service = srv.service.as_deref().ok_or_else(missing)?;
            let protocol = srv.protocol.as_deref().ok_or_else(missing)?;
            let _ = write!(out, "srv-host=_{service}._{protocol}");
            if let Some(domain) = &srv.domain {
                let _ = write!(out, ".{domain}");
            }
            if let Some(target) = srv.target.as_deref().filter(|t| *t != ".") {
                let _ = write!(out, ",{target}");
                let (port, priority, weight) = (
                    srv.port.unwrap_or(0),
                    srv.priority.unwrap_or(0),
                    srv.weight.unwrap_or(0),
                );
                if port != 0 || priority != 0 || weight != 0 {
                    let _ = write!(out, ",{}", if port != 0 { port } else { 1 });
                }
                if priority != 0 || weight != 0 {
                    let _ = write!(out, ",{priority}");
                }
                if weight != 0 {
                    let _ = write!(out, ",{weight}");
                }
            }
            out.push('\n');
        }
    }
    let mut tftp = false;
    let (v4, v6) = dhcp_ips(net)?;
    for ip in net.ips.iter().filter(|ip| ip.is_ipv4()) {
        if let Some(root) = &ip.tftp_root {
            if !tftp {
                out.push_str("enable-tftp\n");
                tftp = true;
            }
            let _ = writeln!(out, "tftp-root={root}");
        }
    }
    let mut leases = 0u64;
    for ip in [v4, v6].into_iter().flatten() {
        conf_dhcp(&mut out, ip, net, &mut leases)?;
    }
    if leases > 0 {
        let _ = writeln!(out, "dhcp-lease-max={leases}");
    }
    if v4.is_some() || v6.is_some() {
        if let Some(file) = paths.lease_file(name) {
            let _ = writeln!(out, "dhcp-leasefile={}", path_str(&file));
        }
        let _ = writeln!(out, "dhcp-hostsfile={}", path_str(&paths.hosts_file(name)));
    }
    if want_dns {
        let _ = writeln!(out, "addn-hosts={}", path_str(&paths.addn_hosts_file(name)));
    }
    if let Some(mtu) = net.mtu.filter(|m| *m > 0) {
        let _ = writeln!(out, "dhcp-option=option:mtu,{mtu}");
    }
    if v6.is_some() {
        out.push_str("enable-ra\n");
    } else {
        for ip in net.ips.iter().filter(|ip| ip.is_ipv6() && !serves_dhcp(ip)) {
            let _ = writeln!(out, "dhcp-range={},ra-only", ip.address);
        }
    }
    for option in &net.dnsmasq_options {
        let _ = writeln!(out, "{option}");
    }
    Ok(out)
}

/// One `dhcp-host` line (libvirt's `hostsfileAdd`).
fn host_line(host: &DhcpHost, ip: IpAddr, ipv6: bool) -> String {
    let mut line = String::new();
    let name = host.name.as_deref();
    if ipv6 {
        match (name, host.id.as_deref()) {
            (Some(n), Some(id)) => line = format!("id:{id},{n}"),
            (Some(n), None) => line = n.to_string(),
            (None, Some(id)) => line = format!("id:{id}"),
            (None, None) => {}
        }
        let _ = write!(line, ",[{ip}]");
    } else {
        let mac = host.mac.map(|m| m.to_string()).unwrap_or_default();
        line = match name {
            Some(n) if host.mac.is_some() => format!("{mac},{ip},{n}"),
            Some(n) => format!("{n},{ip}"),
            None => format!("{mac},{ip}"),
        };
    }
    if let Some(lease) = &host.lease {
        let _ = write!(line, ",{}", lease_time(lease));
    }
    line
}

/// The DHCP hosts file (`dhcp-hostsfile=`): one line per `<dhcp><host>` with an address
/// of the DHCP `<ip>`s (IPv4 first), as libvirt writes it (`MAC,IP,NAME[,LEASE]`,
/// `id:DUID,NAME,[IPV6]`...). Empty when there are none, or when the network's DHCP
/// `<ip>`s cannot be told apart (see [`config`]).
pub fn hosts_file(net: &Network) -> String {
    let Ok((v4, v6)) = dhcp_ips(net) else {
        return String::new();
    };
    let mut out = String::new();
    for ip in [v4, v6].into_iter().flatten() {
        for host in ip.hosts() {
            if let Some(addr) = host.ip {
                out.push_str(&host_line(host, addr, ip.is_ipv6()));
                out.push('\n');
            }
        }
    }
    out
}

/// The additional hosts file (`addn-hosts=`) of the `<dns><host>`s: one line per address
/// (in the order first seen) with all its names, tab-separated with a trailing tab, as
/// libvirt's `addnhostsWrite` writes it.
pub fn addn_hosts(net: &Network) -> String {
    let mut entries: Vec<(IpAddr, Vec<&str>)> = Vec::new();
    for host in &net.dns.hosts {
        let idx = match entries.iter().position(|(ip, _)| *ip == host.ip) {
            Some(i) => i,
            None => {
                entries.push((host.ip, Vec::new()));
                entries.len() - 1
            }
        };
        entries[idx]
            .1
            .extend(host.hostnames.iter().map(String::as_str));
    }
    let mut out = String::new();
    for (ip, names) in entries {
        let _ = write!(out, "{ip}\t");
        for name in names {
            let _ = write!(out, "{name}\t");
        }
        out.push('\n');
    }
    out
}

/// The prefix libvirt reports for a lease of `address` (`networkGetDHCPLeases`): the
/// prefix of the network's `<ip>` holding the address, else of its first `<ip>` of the
/// same family (libvirt's own rule), else none.
pub fn lease_prefix(net: &Network, address: IpAddr) -> Option<u8> {
    net.ip_for(address)
        .or_else(|| net.ips.iter().find(|ip| ip.is_ipv4() == address.is_ipv4()))
        .map(Ip::prefix)
}

/// What a running dnsmasq needs after its network's definition changed from `old` to
/// `new` (libvirt's `networkUpdate`: a changed configuration file needs a restart, since
/// dnsmasq reads it only at start; changed hosts files need a SIGHUP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Nothing dnsmasq reads changed.
    None,
    /// Only the hosts files changed: rewrite them and send SIGHUP.
    Reload,
    /// The configuration changed: rewrite the files and restart dnsmasq.
    Restart,
}

/// Compares what dnsmasq would read for `old` and `new` (see [`Change`]). A configuration
/// that cannot be generated counts as changed.
pub fn change(old: &Network, new: &Network, paths: &Paths) -> Change {
    match (config(old, paths), config(new, paths)) {
        (Ok(a), Ok(b)) if a == b => {
            if hosts_file(old) == hosts_file(new) && addn_hosts(old) == addn_hosts(new) {
                Change::None
            } else {
                Change::Reload
            }
        }
        _ => Change::Restart,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use oxvirt_xml::types::{MacAddr, Uuid};

    use super::*;
    use crate::model::{Bridge, Dhcp, DhcpRange, Dns, DnsHost, DnsSrv, Forward, NetDomain};

    fn net(name: &str, bridge: &str, mode: Option<ForwardMode>) -> Network {
        Network {
            name: name.into(),
            uuid: Uuid::default(),
            title: None,
            description: None,
            metadata: None,
            connections: None,
            ipv6: false,
            trust_guest_rx_filters: None,
            forward: mode.map(|mode| Forward {
                mode,
                managed: None,
                driver: None,
                pf: None,
                interfaces: Vec::new(),
                nat: None,
            }),
            bridge: Some(Bridge {
                name: Some(bridge.into()),
                ..Bridge::default()
            }),
            mac: None,
            mtu: None,
            domain: None,
            dns: Dns::default(),
            virtualport: None,
            bandwidth: None,
            vlan: None,
            port_isolated: None,
            portgroups: Vec::new(),
            ips: Vec::new(),
            routes: Vec::new(),
            dnsmasq_options: Vec::new(),
            unknown: Default::default(),
        }
    }

    fn ip(address: &str, prefix: u32, dhcp: Option<Dhcp>) -> Ip {
        Ip {
            family: None,
            address: address.parse().unwrap(),
            netmask: None,
            prefix,
            local_ptr: None,
            tftp_root: None,
            dhcp,
        }
    }

    fn host(mac: Option<&str>, id: Option<&str>, name: Option<&str>, addr: &str) -> DhcpHost {
        DhcpHost {
            mac: mac.map(|m| MacAddr::parse(m).unwrap()),
            id: id.map(String::from),
            name: name.map(String::from),
            ip: Some(addr.parse().unwrap()),
            lease: None,
        }
    }

    fn range(start: &str, end: &str) -> DhcpRange {
        DhcpRange {
            start: start.parse().unwrap(),
            end: end.parse().unwrap(),
            lease: None,
        }
    }

    fn want(name: &str, ext: &str) -> Option<String> {
        let path =
            oxvirt_xml::testdata::conformance(&format!("network/networkxml2confdata/{name}.{ext}"));
        std::fs::read_to_string(path).ok()
    }

    /// nat-network: an IPv4 DHCP range with hosts, more IPv4 addresses, IPv6 without
    /// DHCP (router advertisements only), a class-A address without netmask.
    fn nat_network() -> Network {
        let mut n = net("default", "virbr0", Some(ForwardMode::Nat));
        n.ips = vec![
            ip(
                "192.168.122.1",
                24,
                Some(Dhcp {
                    ranges: vec![range("192.168.122.2", "192.168.122.254")],
                    hosts: vec![
                        host(
                            Some("00:16:3e:77:e2:ed"),
                            None,
                            Some("a.example.com"),
                            "192.168.122.10",
                        ),
                        host(
                            Some("00:16:3e:3e:a9:1a"),
                            None,
                            Some("b.example.com"),
                            "192.168.122.11",
                        ),
                    ],
                    bootp: None,
                }),
            ),
            ip("192.168.123.1", 24, None),
            ip("2001:db8:ac10:fe01::1", 64, None),
            ip("2001:db8:ac10:fd01::1", 64, None),
            ip("10.24.10.1", 0, None),
        ];
        n
    }

    #[test]
    fn nat_network_as_libvirt() {
        let n = nat_network();
        let conf = config(&n, &Paths::libvirt_test()).unwrap();
        let hosts = hosts_file(&n);
        assert!(conf.contains("dhcp-lease-max=253\n"), "{conf}");
        assert_eq!(
            hosts,
            "00:16:3e:77:e2:ed,192.168.122.10,a.example.com\n00:16:3e:3e:a9:1a,192.168.122.11,b.example.com\n"
        );
        if let Some(w) = want("nat-network", "conf") {
            assert_eq!(conf, w);
            assert_eq!(hosts, want("nat-network", "hostsfile").unwrap());
        } else {
            eprintln!("SKIPPED nat_network_as_libvirt (byte compare): no conformance data");
        }
    }

    #[test]
    fn dhcp6_hosts_and_dns_records() {
        let mut n = net("default", "virbr0", Some(ForwardMode::Nat));
        n.domain = Some(NetDomain {
            name: "mynet".into(),
            ..NetDomain::default()
        });
        n.ips = vec![ip(
            "2001:db8:ac10:fd01::1",
            64,
            Some(Dhcp {
                ranges: vec![range(
                    "2001:db8:ac10:fd01::1:10",
                    "2001:db8:ac10:fd01::1:ff",
                )],
                hosts: vec![
                    host(
                        None,
                        Some("0:4:7e:7d:f0:7d:a8:bc:c5:d2:13:32:11:ed:16:ea:84:63"),
                        None,
                        "2001:db8:ac10:fd01::1:20",
                    ),
                    host(None, None, Some("paul"), "2001:db8:ac10:fd01::1:21"),
                    host(
                        None,
                        Some("0:3:0:1:0:16:3e:11:22:33"),
                        Some("peter.xyz"),
                        "2001:db8:ac10:fd01::1:22",
                    ),
                    host(
                        None,
                        Some("0:3:0:1:0:16:3e:44:55:33"),
                        None,
                        "2001:db8:ac10:fd01::1:23",
                    ),
                    host(
                        None,
                        Some("0:1:0:1:18:aa:62:fe:0:16:3e:44:55:66"),
                        Some("badbob"),
                        "2001:db8:ac10:fd01::1:24",
                    ),
                ],
                bootp: None,
            }),
        )];
        let conf = config(&n, &Paths::libvirt_test()).unwrap();
        assert!(conf.contains("dhcp-range=2001:db8:ac10:fd01::1:10,2001:db8:ac10:fd01::1:ff,64\ndhcp-lease-max=240\n"), "{conf}");
        assert!(conf.ends_with("enable-ra\n"));
        if let Some(w) = want("dhcp6-network", "conf") {
            assert_eq!(conf, w);
            assert_eq!(hosts_file(&n), want("dhcp6-network", "hostsfile").unwrap());
        }

        let mut d = net("default", "virbr0", Some(ForwardMode::Nat));
        d.dns.srvs = vec![DnsSrv {
            service: Some("name5".into()),
            protocol: Some("udp".into()),
            target: Some("test5.example.com".into()),
            priority: Some(55),
            weight: Some(555),
            ..DnsSrv::default()
        }];
        d.dns.hosts = vec![
            DnsHost {
                ip: "192.168.122.1".parse().unwrap(),
                hostnames: vec!["host".into(), "gateway".into()],
            },
            DnsHost {
                ip: "192.168.122.2".parse().unwrap(),
                hostnames: vec!["other".into()],
            },
        ];
        d.ips = vec![ip("192.168.122.1", 24, None)];
        let conf = config(&d, &Paths::libvirt_test()).unwrap();
        assert!(
            conf.contains("\nsrv-host=_name5._udp,test5.example.com,1,55,555\n"),
            "{conf}"
        );
        assert_eq!(
            addn_hosts(&d),
            "192.168.122.1\thost\tgateway\t\n192.168.122.2\tother\t\n"
        );
    }

    #[test]
    fn oxvirt_paths_add_pid_and_lease_file() {
        let mut n = nat_network();
        n.name = "a\"b".into();
        let paths = Paths::oxvirt("/var/lib/oxvirt/network", "/run/oxvirt/network");
        let conf = config(&n, &paths).unwrap();
        assert!(conf.contains("\npid-file=/run/oxvirt/network/a\"b.pid\nexcept-interface=lo\n"));
        assert!(
            conf.contains(
                "dhcp-lease-max=253\ndhcp-leasefile=/var/lib/oxvirt/network/a\"b.leases\n\
             dhcp-hostsfile=/var/lib/oxvirt/network/a&quot;b.hostsfile\n"
            ),
            "{conf}"
        );
        // No DHCP: no lease file.
        let mut plain = net("x", "br", None);
        plain.ips = vec![ip("192.168.1.1", 24, None)];
        assert!(!config(&plain, &paths).unwrap().contains("dhcp-leasefile"));
    }

    #[test]
    fn libvirt_refusals() {
        let mut n = nat_network();
        n.ips[1].dhcp = n.ips[0].dhcp.clone();
        n.ips[1].dhcp.as_mut().unwrap().ranges = vec![range("192.168.123.2", "192.168.123.9")];
        let e = config(&n, &Paths::libvirt_test()).unwrap_err();
        assert_eq!(e.code, ErrorCode::ConfigUnsupported);
        assert!(
            e.message
                .ends_with("For IPv4, multiple DHCP definitions cannot be specified."),
            "{}",
            e.message
        );

        let mut p = nat_network();
        p.ips[0].prefix = 23;
        p.ips[0].local_ptr = Some(true);
        let e = config(&p, &Paths::libvirt_test()).unwrap_err();
        assert!(
            e.message.ends_with(
                "PTR domain for IPv4 network with prefix 23 cannot be automatically created"
            ),
            "{}",
            e.message
        );

        let mut r = nat_network();
        r.ips[0].dhcp.as_mut().unwrap().ranges = vec![range("192.168.122.2", "192.168.124.9")];
        assert!(config(&r, &Paths::libvirt_test()).is_err());
    }

    #[test]
    fn changes_reload_or_restart() {
        let paths = Paths::libvirt_test();
        let old = nat_network();
        assert_eq!(change(&old, &old, &paths), Change::None);
        let mut hosts = old.clone();
        hosts.ips[0].dhcp.as_mut().unwrap().hosts.pop();
        assert_eq!(change(&old, &hosts, &paths), Change::Reload);
        let mut dns = old.clone();
        dns.dns.hosts.push(DnsHost {
            ip: "192.168.122.3".parse().unwrap(),
            hostnames: vec!["x".into()],
        });
        assert_eq!(change(&old, &dns, &paths), Change::Reload);
        let mut range = old.clone();
        range.ips[0].dhcp.as_mut().unwrap().ranges[0].end = "192.168.122.200".parse().unwrap();
        assert_eq!(change(&old, &range, &paths), Change::Restart);
    }

    #[test]
    fn ptr_zones_and_lease_prefix() {
        assert_eq!(
            ptr_domain("192.168.122.1".parse().unwrap(), 24).unwrap(),
            "122.168.192.in-addr.arpa"
        );
        assert_eq!(
            ptr_domain("2001:db8:ac10:fe01::1".parse().unwrap(), 64).unwrap(),
            "1.0.e.f.0.1.c.a.8.b.d.0.1.0.0.2.ip6.arpa"
        );
        let n = nat_network();
        assert_eq!(lease_prefix(&n, "10.1.2.3".parse().unwrap()), Some(8));
        assert_eq!(lease_prefix(&n, "192.168.123.7".parse().unwrap()), Some(24));
        assert_eq!(lease_prefix(&n, "172.16.0.1".parse().unwrap()), Some(24));
    }
}
