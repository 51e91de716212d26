//! `<dns>`: what the network's DNS server (dnsmasq) answers.

use std::net::IpAddr;

/// `<forwarder addr domain>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DnsForwarder {
    /// `addr`: the server to forward to.
    pub addr: Option<IpAddr>,
    /// `domain`: only for names in this domain (`addr` absent: answer locally).
    pub domain: Option<String>,
}

/// `<txt name value>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DnsTxt {
    /// The record name.
    pub name: String,
    /// The text.
    pub value: Option<String>,
}

/// `<host ip><hostname>...</hostname></host>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsHost {
    /// The address.
    pub ip: IpAddr,
    /// The names for it.
    pub hostnames: Vec<String>,
}

/// `<srv service protocol domain target port priority weight>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DnsSrv {
    /// `service` (`_service` without the underscore).
    pub service: Option<String>,
    /// `protocol` (`tcp`, `udp`).
    pub protocol: Option<String>,
    /// `domain`.
    pub domain: Option<String>,
    /// `target`.
    pub target: Option<String>,
    /// `port`.
    pub port: Option<u32>,
    /// `priority`.
    pub priority: Option<u32>,
    /// `weight`.
    pub weight: Option<u32>,
}

/// `<dns>`: libvirt's `virNetworkDNSDef`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dns {
    /// `enable='yes|no'` (`no`: no DNS server at all).
    pub enable: Option<bool>,
    /// `forwardPlainNames='yes|no'`.
    pub forward_plain_names: Option<bool>,
    /// `<forwarder>`s.
    pub forwarders: Vec<DnsForwarder>,
    /// `<txt>` records.
    pub txts: Vec<DnsTxt>,
    /// `<host>` records.
    pub hosts: Vec<DnsHost>,
    /// `<srv>` records.
    pub srvs: Vec<DnsSrv>,
}

impl Dns {
    /// Whether nothing is set (libvirt then writes no `<dns>`).
    pub fn is_empty(&self) -> bool {
        self.enable.is_none()
            && self.forward_plain_names.is_none()
            && self.forwarders.is_empty()
            && self.txts.is_empty()
            && self.hosts.is_empty()
            && self.srvs.is_empty()
    }
}
