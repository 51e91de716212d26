//! Writing `<network>` in libvirt's layout: `virNetworkDefFormat`.

use oxvirt_xml::model::{on_off, yes_no, XmlModel};
use oxvirt_xml::{Builder, Element, Node};

use super::dns::Dns;
use super::forward::{Forward, ForwardInterface, ForwardMode};
use super::ip::{DhcpLease, Ip, Route};
use super::portgroup::{Bridge, Portgroup};
use super::{Network, DNSMASQ_NAMESPACE};

/// `el` written with an open and a close tag even when it has no children, as libvirt
/// writes `<ip>` and `<portgroup>`.
fn open_close(mut el: Element) -> Element {
    if el.children.is_empty() {
        el.children.push(Node::Verbatim(String::new()));
    }
    el
}

fn lease(l: &DhcpLease) -> Element {
    let el = Element::new("lease").with_attr("expiry", l.expiry.to_string());
    if l.expiry == 0 {
        el
    } else {
        el.with_attr("unit", l.unit.to_string())
    }
}

fn forward(f: &Forward, inactive: bool) -> Element {
    let mut b = Builder::new("forward");
    if f.pf.is_none() {
        b.opt_attr("dev", f.dev());
    }
    b.attr("mode", f.mode);
    if f.mode == ForwardMode::Hostdev {
        b.attr("managed", yes_no(f.managed == Some(true)));
    }
    if let Some(d) = &f.driver {
        b.child(Element::new("driver").with_attr("name", d.as_str()));
    }
    if let (ForwardMode::Nat, Some(nat)) = (f.mode, &f.nat) {
        let mut n = Builder::new("nat");
        n.yes_no("ipv6", nat.ipv6);
        if let Some(start) = nat.address_start {
            let mut a = Builder::new("address");
            a.attr("start", start).opt_attr("end", nat.address_end);
            n.child(a.build());
        }
        if nat.port_start != 0 || nat.port_end != 0 {
            let mut p = Builder::new("port");
            p.attr("start", nat.port_start);
            if nat.port_end != 0 {
                p.attr("end", nat.port_end);
            }
            n.child(p.build());
        }
        b.child(n.build());
    }
    if let Some(pf) = &f.pf {
        b.child(Element::new("pf").with_attr("dev", pf.as_str()));
    }
    if f.pf.is_none() || !inactive {
        for i in &f.interfaces {
            b.child(match i {
                ForwardInterface::Netdev { dev, connections } => {
                    let mut e = Builder::new("interface");
                    e.attr("dev", dev);
                    if !inactive {
                        e.opt_attr("connections", connections.filter(|n| *n > 0));
                    }
                    e.build()
                }
                ForwardInterface::Pci { address, .. } => Element::new("address")
                    .with_attr("type", "pci")
                    .with_attr("domain", format!("0x{:04x}", address.domain))
                    .with_attr("bus", format!("0x{:02x}", address.bus))
                    .with_attr("slot", format!("0x{:02x}", address.slot))
                    .with_attr("function", format!("0x{}", address.function)),
            });
        }
    }
    b.build()
}

fn bridge(br: Option<&Bridge>, mode: ForwardMode) -> Option<Element> {
    let default = Bridge::default();
    let br = br.unwrap_or(&default);
    let has_bridge = mode.is_virtual();
    if !(has_bridge || br.name.is_some() || br.mac_table_manager.is_some()) {
        return None;
    }
    let mut b = Builder::new("bridge");
    b.opt_attr("name", br.name.as_deref())
        .opt_attr("zone", br.zone.as_deref());
    if has_bridge {
        b.attr("stp", on_off(br.stp.unwrap_or(true)))
            .attr("delay", br.delay.unwrap_or(0));
    }
    b.opt_attr("macTableManager", br.mac_table_manager);
    Some(b.build())
}

fn dns(d: &Dns) -> Option<Element> {
    if d.is_empty() {
        return None;
    }
    let mut b = Builder::new("dns");
    b.yes_no("enable", d.enable)
        .yes_no("forwardPlainNames", d.forward_plain_names);
    for f in &d.forwarders {
        let mut e = Builder::new("forwarder");
        e.opt_attr("domain", f.domain.as_deref())
            .opt_attr("addr", f.addr);
        b.child(e.build());
    }
    for t in &d.txts {
        let mut e = Builder::new("txt");
        e.attr("name", &t.name)
            .opt_attr("value", t.value.as_deref());
        b.child(e.build());
    }
    for s in &d.srvs {
        let (Some(service), Some(protocol)) = (&s.service, &s.protocol) else {
            continue;
        };
        let mut e = Builder::new("srv");
        e.attr("service", service)
            .attr("protocol", protocol)
            .opt_attr("domain", s.domain.as_deref())
            .opt_attr("target", s.target.as_deref())
            .opt_attr("port", s.port.filter(|n| *n != 0))
            .opt_attr("priority", s.priority.filter(|n| *n != 0))
            .opt_attr("weight", s.weight.filter(|n| *n != 0));
        b.child(e.build());
    }
    for h in &d.hosts {
        let mut e = Builder::new("host");
        e.attr("ip", h.ip);
        for n in &h.hostnames {
            e.text_child("hostname", n);
        }
        b.child(e.build());
    }
    Some(b.build())
}

fn ip(ip: &Ip) -> Element {
    let mut b = Builder::new("ip");
    b.opt_attr("family", ip.family.as_deref())
        .attr("address", ip.address)
        .opt_attr("netmask", ip.netmask)
        .opt_attr("prefix", Some(ip.prefix).filter(|p| *p > 0))
        .yes_no("localPtr", ip.local_ptr);
    if let Some(root) = &ip.tftp_root {
        b.child(Element::new("tftp").with_attr("root", root.as_str()));
    }
    if let Some(d) = ip
        .dhcp
        .as_ref()
        .filter(|d| !d.ranges.is_empty() || !d.hosts.is_empty())
    {
        let mut db = Builder::new("dhcp");
        for r in &d.ranges {
            let mut e = Builder::new("range");
            e.attr("start", r.start).attr("end", r.end);
            if let Some(l) = &r.lease {
                e.child(lease(l));
            }
            db.child(e.build());
        }
        for h in &d.hosts {
            let mut e = Builder::new("host");
            e.opt_attr("mac", h.mac)
                .opt_attr("id", h.id.as_deref())
                .opt_attr("name", h.name.as_deref())
                .opt_attr("ip", h.ip);
            if let Some(l) = &h.lease {
                e.child(lease(l));
            }
            db.child(e.build());
        }
        if let Some(bp) = &d.bootp {
            let mut e = Builder::new("bootp");
            e.attr("file", &bp.file).opt_attr("server", bp.server);
            db.child(e.build());
        }
        b.child(db.build());
    }
    open_close(b.build())
}

fn route(r: &Route) -> Element {
    let mut b = Builder::new("route");
    b.opt_attr("family", r.family.as_deref())
        .attr("address", r.address)
        .opt_attr("netmask", r.netmask)
        .opt_attr("prefix", r.prefix)
        .attr("gateway", r.gateway)
        .opt_attr("metric", r.metric.filter(|m| *m > 0));
    b.build()
}

fn portgroup(p: &Portgroup) -> Element {
    let mut b = Builder::new("portgroup");
    b.attr("name", &p.name);
    if p.default {
        b.attr("default", "yes");
    }
    b.yes_no("trustGuestRxFilters", p.trust_guest_rx_filters);
    b.opt_child(p.vlan.as_ref().map(XmlModel::to_element));
    b.opt_child(p.virtualport.clone());
    b.opt_child(p.bandwidth.as_ref().map(XmlModel::to_element));
    open_close(b.build())
}

impl Network {
    /// The network as libvirt writes it (`virNetworkDefFormat` without flags: the live
    /// XML, with `connections`), byte for byte.
    pub fn to_xml(&self) -> String {
        oxvirt_xml::to_string(&self.to_element(false))
    }

    /// The persistent definition as libvirt writes it (`VIR_NETWORK_XML_INACTIVE`):
    /// without `connections`, and a PF's interfaces left out.
    pub fn to_xml_inactive(&self) -> String {
        oxvirt_xml::to_string(&self.to_element(true))
    }

    /// The `<network>` element.
    pub fn to_element(&self, inactive: bool) -> Element {
        let mut b = Builder::new("network");
        if !self.dnsmasq_options.is_empty() {
            b.attr("xmlns:dnsmasq", DNSMASQ_NAMESPACE);
        }
        if !inactive {
            b.opt_attr("connections", self.connections.filter(|n| *n > 0));
        }
        if self.ipv6 {
            b.attr("ipv6", "yes");
        }
        b.yes_no("trustGuestRxFilters", self.trust_guest_rx_filters);
        b.text_child("name", &self.name);
        b.text_child("uuid", self.uuid);
        b.opt_text_child("title", self.title.as_deref());
        b.opt_text_child("description", self.description.as_deref());
        if let Some(m) = &self.metadata {
            b.node(match &m.raw {
                Some(raw) => Node::Verbatim(raw.clone()),
                None => Node::Element(m.element.clone()),
            });
        }
        if let Some(f) = &self.forward {
            b.child(forward(f, inactive));
        }
        b.opt_child(bridge(self.bridge.as_ref(), self.forward_mode()));
        if let Some(mtu) = self.mtu.filter(|m| *m > 0) {
            b.child(Element::new("mtu").with_attr("size", mtu.to_string()));
        }
        if let Some(mac) = self.mac {
            b.child(Element::new("mac").with_attr("address", mac.to_string()));
        }
        if let Some(d) = &self.domain {
            let mut e = Builder::new("domain");
            e.attr("name", &d.name)
                .yes_no("localOnly", d.local_only)
                .yes_no("register", d.register);
            b.child(e.build());
        }
        b.opt_child(dns(&self.dns));
        b.opt_child(self.vlan.as_ref().map(XmlModel::to_element));
        b.opt_child(self.bandwidth.as_ref().map(XmlModel::to_element));
        if let Some(iso) = self.port_isolated {
            b.child(Element::new("port").with_attr("isolated", yes_no(iso)));
        }
        for i in &self.ips {
            b.child(ip(i));
        }
        for r in &self.routes {
            b.child(route(r));
        }
        b.opt_child(self.virtualport.clone());
        for p in &self.portgroups {
            b.child(portgroup(p));
        }
        if !self.dnsmasq_options.is_empty() {
            let mut o = Builder::new("dnsmasq:options");
            for v in &self.dnsmasq_options {
                o.child(Element::new("dnsmasq:option").with_attr("value", v.as_str()));
            }
            b.child(o.build());
        }
        b.finish(&self.unknown)
    }
}
