//! dnsmasq's lease file (`dhcp-leasefile=`), read into `virNetworkDHCPLease`s.
//!
//! dnsmasq writes one line per IPv4 lease, `EXPIRY MAC IP HOSTNAME CLIENTID`, then (when
//! it serves DHCPv6) a `duid SERVER-DUID` line and one line per IPv6 lease,
//! `EXPIRY IAID IP HOSTNAME CLIENT-DUID` (the IAID prefixed with `T` for a temporary
//! address). `*` stands for "none"; an expiry of 0 means the lease never expires.
//!
//! libvirt does not read this file: it runs dnsmasq with `--leasefile-ro` and
//! `--dhcp-script=libvirt_leaseshelper`, which keeps a JSON file per bridge from the
//! script's arguments, and `networkGetDHCPLeases` reads that. The fields are the same
//! ones: the hostname dnsmasq knows for the lease, the client ID it saw (IPv4, as
//! colon-separated hex) or the client's DUID (IPv6), the IAID as a decimal number. As the
//! helper only records leases whose MAC address is known, an IPv6 lease is reported only
//! when its DUID carries the link-layer address (DUID-LLT and DUID-LL of an Ethernet
//! client: what dnsmasq would have handed the helper as `DNSMASQ_MAC`), and as
//! `networkGetDHCPLeases` does, leases already expired are left out.

use std::net::IpAddr;

use oxvirt_domain::driver::ports::Lease;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use super::conf::{lease_prefix, Paths};
use crate::model::Network;

/// `VIR_IP_ADDR_TYPE_IPV4`.
const IPV4: i32 = 0;
/// `VIR_IP_ADDR_TYPE_IPV6`.
const IPV6: i32 = 1;

/// The leases of a dnsmasq lease file `text`, for the network whose bridge is `iface`, as
/// `virNetworkGetDHCPLeases` reports them: leases whose expiry is before `now` (seconds
/// since the epoch) are dropped (0, "never", is kept), and each lease's `prefix` is
/// `prefix_of(address)` (the prefix of the network's `<ip>` the address belongs to; 0
/// when it gives none, as libvirt leaves it for an address family the network has no
/// `<ip>` of). Lines that are not leases are skipped.
pub fn parse_leases(
    text: &str,
    iface: &str,
    now: i64,
    prefix_of: impl Fn(IpAddr) -> Option<u8>,
) -> Vec<Lease> {
    let mut v6 = false;
    let mut leases = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.first() == Some(&"duid") {
            v6 = true;
            continue;
        }
        let [expiry, id, ip, hostname, client] = fields[..] else {
            continue;
        };
        let Ok(expiry) = expiry.parse::<i64>() else {
            continue;
        };
        if expiry > 0 && expiry < now {
            continue;
        }
        let Ok(addr) = ip.parse::<IpAddr>() else {
            continue;
        };
        let (kind, mac, iaid) = if v6 || addr.is_ipv6() {
            let Some(mac) = duid_mac(client) else {
                continue;
            };
            let iaid = id.strip_prefix('T').unwrap_or(id);
            (IPV6, mac, Some(iaid.to_string()))
        } else {
            (IPV4, id.to_ascii_lowercase(), None)
        };
        leases.push(Lease {
            iface: iface.to_string(),
            expiry_time: expiry,
            kind,
            mac: Some(mac),
            iaid,
            ip: addr.to_string(),
            prefix: u32::from(prefix_of(addr).unwrap_or(0)),
            hostname: field(hostname),
            client_id: field(client),
        });
    }
    leases
}

/// The current leases of a network whose dnsmasq keeps its lease file where `paths` says
/// ([`Paths::lease_file`]), as `virNetworkGetDHCPLeases` reports them: none when there is
/// no lease file (or `paths` keeps none), libvirt's "Unable to read leases file" error
/// when it cannot be read; `iface` is the network's bridge and prefixes are
/// [`lease_prefix`]'s.
pub fn read_leases(net: &Network, paths: &Paths, now: i64) -> Result<Vec<Lease>, VirError> {
    let Some(file) = paths.lease_file(&net.name) else {
        return Ok(Vec::new());
    };
    let text = match std::fs::read_to_string(&file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(VirError::new(
                ErrorDomain::Network,
                ErrorCode::SystemError,
                format!("Unable to read leases file: {}: {e}", file.display()),
            ))
        }
    };
    let iface = net.bridge_name().unwrap_or("");
    Ok(parse_leases(&text, iface, now, |ip| lease_prefix(net, ip)))
}

/// A lease file field: `*` is none.
fn field(text: &str) -> Option<String> {
    (text != "*").then(|| text.to_string())
}

/// The Ethernet address inside a client DUID written as colon-separated hex: a DUID-LLT
/// (type 1: type, hardware type, 4 bytes of time, address) or DUID-LL (type 3: type,
/// hardware type, address) of hardware type 1 (Ethernet) with a 6-byte address.
pub fn duid_mac(duid: &str) -> Option<String> {
    let bytes: Vec<u8> = duid
        .split(':')
        .map(|b| u8::from_str_radix(b, 16))
        .collect::<Result<_, _>>()
        .ok()?;
    let address = match bytes.as_slice() {
        [0, 1, 0, 1, _, _, _, _, rest @ ..] => rest,
        [0, 3, 0, 1, rest @ ..] => rest,
        _ => return None,
    };
    (address.len() == 6).then(|| {
        address
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const FILE: &str = "\
1764300000 52:54:00:aa:bb:cc 192.168.122.10 guest1 01:52:54:00:aa:bb:cc
1764200000 52:54:00:aa:bb:dd 192.168.122.11 * *
0 52:54:00:aa:bb:ee 192.168.122.12 forever *
garbage line
duid 00:01:00:01:2c:6b:1e:2f:52:54:00:11:22:33
1764300000 1234567 2001:db8::10 guest6 00:01:00:01:2c:6b:1e:30:52:54:00:aa:bb:cc
1764300000 T55 2001:db8::11 * 00:03:00:01:52:54:00:aa:bb:ff
1764300000 99 2001:db8::12 * 00:02:00:00:ab:11:01:02
";

    fn prefix(ip: IpAddr) -> Option<u8> {
        Some(if ip.is_ipv4() { 24 } else { 64 })
    }

    #[test]
    fn ipv4_and_ipv6_leases_as_libvirt_reports_them() {
        let leases = parse_leases(FILE, "virbr0", 1764250000, prefix);
        assert_eq!(leases.len(), 4, "{leases:#?}");
        assert_eq!(
            leases[0],
            Lease {
                iface: "virbr0".into(),
                expiry_time: 1764300000,
                kind: 0,
                mac: Some("52:54:00:aa:bb:cc".into()),
                iaid: None,
                ip: "192.168.122.10".into(),
                prefix: 24,
                hostname: Some("guest1".into()),
                client_id: Some("01:52:54:00:aa:bb:cc".into()),
            }
        );
        // The expired lease (1764200000) is gone; the infinite one stays.
        assert_eq!(leases[1].ip, "192.168.122.12");
        assert_eq!(leases[1].expiry_time, 0);
        assert_eq!(leases[1].client_id, None);
        assert_eq!(
            leases[2],
            Lease {
                iface: "virbr0".into(),
                expiry_time: 1764300000,
                kind: 1,
                mac: Some("52:54:00:aa:bb:cc".into()),
                iaid: Some("1234567".into()),
                ip: "2001:db8::10".into(),
                prefix: 64,
                hostname: Some("guest6".into()),
                client_id: Some("00:01:00:01:2c:6b:1e:30:52:54:00:aa:bb:cc".into()),
            }
        );
        assert_eq!(leases[3].iaid.as_deref(), Some("55"));
        assert_eq!(leases[3].mac.as_deref(), Some("52:54:00:aa:bb:ff"));
        assert_eq!(leases[3].hostname, None);
    }

    #[test]
    fn unknown_prefix_is_zero_and_empty_file_has_none() {
        let leases = parse_leases(FILE, "br", 0, |_| None);
        assert_eq!(leases.len(), 5);
        assert!(leases.iter().all(|l| l.prefix == 0));
        assert!(parse_leases("", "br", 0, prefix).is_empty());
    }

    #[test]
    fn duid_addresses() {
        assert_eq!(
            duid_mac("0:3:0:1:0:16:3e:11:22:33").as_deref(),
            Some("00:16:3e:11:22:33")
        );
        assert_eq!(duid_mac("00:04:7e:7d:f0:7d:a8:bc:c5:d2"), None);
        assert_eq!(duid_mac("zz"), None);
    }
}
