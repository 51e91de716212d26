//! `virDomainInterfaceAddresses` as libvirt's QEMU driver answers it: from the DHCP leases
//! of the domain's networks (`qemuGetDHCPInterfaces`), from the host's ARP table
//! (`qemuARPGetInterfaces`); the guest agent is not supported (no agent is ever connected).

use oxvirt_domain::devices::interface::InterfaceType;
use oxvirt_domain::driver::ifaddr::{
    DomainInterface, IpAddress, ADDR_IPV4, SRC_AGENT, SRC_ARP, SRC_LEASE,
};
use oxvirt_domain::driver::DomainRef;
use oxvirt_domain::Domain;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use super::{check_flags, QemuDriver};

/// The name of the guest agent's channel (`<target type='virtio' name=...>`).
const AGENT_CHANNEL: &str = "org.qemu.guest_agent.0";

/// One entry of the host's ARP table: the IPv4 address and the MAC address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ArpEntry {
    /// The neighbour's address.
    pub ip: String,
    /// Its MAC address, lower case.
    pub mac: String,
}

/// The complete entries of `/proc/net/arp` (`text`): those with a MAC address.
pub(crate) fn parse_arp(text: &str) -> Vec<ArpEntry> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let (ip, mac) = (cols.first()?, cols.get(3)?);
            if *mac == "00:00:00:00:00:00" {
                return None;
            }
            Some(ArpEntry {
                ip: ip.to_string(),
                mac: mac.to_ascii_lowercase(),
            })
        })
        .collect()
}

/// The host name of interface `net` (its tap), empty if it has none.
fn ifname(net: &oxvirt_domain::devices::Interface) -> String {
    net.target
        .as_ref()
        .and_then(|t| t.dev.clone())
        .unwrap_or_default()
}

/// The interfaces of `def` with the ARP `table`'s addresses for their MACs, one per entry
/// as libvirt lists them.
pub(crate) fn arp_interfaces(def: &Domain, table: &[ArpEntry]) -> Vec<DomainInterface> {
    let mut out = Vec::new();
    for net in &def.devices.interfaces {
        let Some(mac) = net
            .mac_address()
            .map(|m| m.to_string().to_ascii_lowercase())
        else {
            continue;
        };
        for entry in table.iter().filter(|e| e.mac == mac) {
            out.push(DomainInterface {
                name: ifname(net),
                hwaddr: Some(mac.clone()),
                addrs: vec![IpAddress {
                    kind: ADDR_IPV4,
                    addr: entry.ip.clone(),
                    prefix: 0,
                }],
            });
        }
    }
    out
}

/// libvirt's refusal of the agent source when no agent is connected.
fn no_agent(def: &Domain) -> VirError {
    let configured = def
        .devices
        .channels
        .iter()
        .any(|c| c.target.as_ref().and_then(|t| t.name.as_deref()) == Some(AGENT_CHANNEL));
    if configured {
        VirError::new(
            ErrorDomain::Qemu,
            ErrorCode::AgentUnresponsive,
            "QEMU guest agent is not connected",
        )
    } else {
        VirError::new(
            ErrorDomain::Qemu,
            ErrorCode::ArgumentUnsupported,
            "QEMU guest agent is not configured",
        )
    }
}

impl QemuDriver {
    /// `virDomainInterfaceAddresses`.
    pub(crate) async fn interface_addresses_of(
        &self,
        dom: &DomainRef,
        source: u32,
        flags: u32,
    ) -> Result<Vec<DomainInterface>, VirError> {
        check_flags(flags, 0, "qemuDomainInterfaceAddresses")?;
        let def = self.with_obj(dom, |obj| {
            if !obj.is_active() {
                return Err(super::not_running());
            }
            Ok(obj.def().clone())
        })?;
        match source {
            SRC_LEASE => self.lease_interfaces(&def).await,
            SRC_AGENT => Err(no_agent(&def)),
            SRC_ARP => {
                let text = std::fs::read_to_string("/proc/net/arp").unwrap_or_default();
                Ok(arp_interfaces(&def, &parse_arp(&text)))
            }
            other => Err(VirError::new(
                ErrorDomain::Qemu,
                ErrorCode::ArgumentUnsupported,
                format!("Unknown IP address data source {other}"),
            )),
        }
    }

    /// The leases of each `type='network'` interface's network for its MAC address
    /// (interfaces without one are left out).
    async fn lease_interfaces(&self, def: &Domain) -> Result<Vec<DomainInterface>, VirError> {
        let mut out = Vec::new();
        for net in &def.devices.interfaces {
            if net.kind != InterfaceType::Network {
                continue;
            }
            let network = net
                .source
                .as_ref()
                .and_then(|s| s.network.clone())
                .unwrap_or_default();
            let Some(ports) = self.network_ports() else {
                return Err(VirError::new(
                    ErrorDomain::Network,
                    ErrorCode::NoNetwork,
                    format!("no network with matching name '{network}'"),
                ));
            };
            let mac = net
                .mac_address()
                .map(|m| m.to_string().to_ascii_lowercase())
                .unwrap_or_default();
            let addrs: Vec<IpAddress> = ports
                .leases(&network)
                .await?
                .into_iter()
                .filter(|l| l.mac.as_deref().map(str::to_ascii_lowercase) == Some(mac.clone()))
                .map(|l| IpAddress {
                    kind: l.kind,
                    addr: l.ip,
                    prefix: l.prefix,
                })
                .collect();
            if !addrs.is_empty() {
                out.push(DomainInterface {
                    name: ifname(net),
                    hwaddr: Some(mac),
                    addrs,
                });
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARP: &str = "IP address       HW type     Flags       HW address            Mask     Device\n\
                       192.168.122.50   0x1         0x2         52:54:00:AA:bb:01     *        virbr0\n\
                       192.168.122.51   0x1         0x0         00:00:00:00:00:00     *        virbr0\n\
                       10.0.0.7         0x1         0x2         52:54:00:aa:bb:02     *        br1\n";

    #[test]
    fn arp_entries_without_a_mac_are_left_out() {
        let t = parse_arp(ARP);
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].mac, "52:54:00:aa:bb:01");
        assert_eq!(t[1].ip, "10.0.0.7");
    }

    #[test]
    fn arp_addresses_follow_the_interfaces() {
        let xml = "<domain type='qemu'><name>n</name><memory>65536</memory>\
                   <os><type arch='x86_64' machine='pc'>hvm</type></os><devices>\
                   <interface type='bridge'><mac address='52:54:00:aa:bb:02'/>\
                   <source bridge='br1'/><target dev='vnet3'/></interface>\
                   <interface type='user'><mac address='52:54:00:aa:bb:01'/></interface>\
                   </devices></domain>";
        let def = Domain::parse(xml).expect("domain").domain;
        let got = arp_interfaces(&def, &parse_arp(ARP));
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].name, "vnet3");
        assert_eq!(got[0].addrs[0].addr, "10.0.0.7");
        assert_eq!(got[1].name, "");
        assert_eq!(got[1].hwaddr.as_deref(), Some("52:54:00:aa:bb:01"));
    }

    #[test]
    fn the_agent_source_needs_an_agent() {
        let xml = "<domain type='qemu'><name>n</name><memory>65536</memory>\
                   <os><type arch='x86_64' machine='pc'>hvm</type></os></domain>";
        let def = Domain::parse(xml).expect("domain").domain;
        let e = no_agent(&def);
        assert_eq!(e.code, ErrorCode::ArgumentUnsupported);
        assert_eq!(
            e.message,
            "argument unsupported: QEMU guest agent is not configured"
        );
    }
}
