//! An interface's `<source>` and the `<ip>`/`<route>` elements found in it and beside it.

use std::net::IpAddr;

use oxvirt_xml::model::{str_to_long_ui, PropFlags, XmlEnum};
use oxvirt_xml::{Builder, Context, Cursor, Element, Result, Unknown, XmlError, XmlModel};

use super::InterfaceType;
use crate::devices::chardev::Reconnect;

oxvirt_xml::xml_enum! {
    /// The macvtap mode of a `direct` interface.
    pub enum DirectMode {
        /// Virtual Ethernet Port Aggregator (the default).
        Vepa = "vepa",
        /// No traffic between guests on the same device.
        Private = "private",
        /// Traffic between guests goes directly between them.
        Bridge = "bridge",
        /// The device is given to the guest.
        Passthrough = "passthrough",
    }
}

oxvirt_xml::xml_enum! {
    /// Which side of a vhost-user socket QEMU is.
    pub enum VhostuserMode {
        /// QEMU connects.
        Client = "client",
        /// QEMU listens.
        Server = "server",
    }
}

/// A guest or host IP address (`<ip address= family= prefix= peer=/>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetIp {
    /// The address.
    pub address: String,
    /// `ipv4` or `ipv6`.
    pub family: Option<String>,
    /// The prefix length.
    pub prefix: Option<u32>,
    /// The peer address.
    pub peer: Option<String>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl XmlModel for NetIp {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let bad = |m: String| XmlError::invalid_arg(m).at(el.position);
        let Some(address) = c.attr_string("address") else {
            return Err(bad("Missing required address in <ip>".into()));
        };
        let family = c.attr_string("family");
        let parsed = address
            .parse::<IpAddr>()
            .ok()
            .filter(|a| match family.as_deref() {
                Some("ipv4") => a.is_ipv4(),
                Some("ipv6") => a.is_ipv6(),
                _ => true,
            });
        let Some(parsed) = parsed else {
            return Err(bad(format!("Invalid address '{address}' in <ip>")));
        };
        let prefix = match c.attr("prefix") {
            None => None,
            Some(v) => {
                let max = if parsed.is_ipv6() { 128 } else { 32 };
                match str_to_long_ui(v, 10).filter(|&p| p <= max) {
                    Some(p) => Some(p),
                    None => return Err(bad(format!("Invalid prefix value '{v}' in <ip>"))),
                }
            }
        };
        let peer = c.attr_string("peer");
        if let Some(p) = &peer {
            if p.parse::<IpAddr>().map(|a| a.is_ipv6()) != Ok(parsed.is_ipv6()) {
                return Err(bad(format!("Invalid peer '{p}' in <ip>")));
            }
        }
        Ok(NetIp {
            address,
            family,
            prefix,
            peer,
            unknown: c.finish(ctx),
        })
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("ip");
        b.attr("address", &self.address)
            .opt_attr("family", self.family.as_deref())
            .opt_attr("prefix", self.prefix)
            .opt_attr("peer", self.peer.as_deref());
        b.finish(&self.unknown)
    }
}

impl NetIp {
    /// libvirt writes the family of the address, whatever was given.
    pub fn apply_defaults(&mut self) {
        if let Ok(a) = self.address.parse::<IpAddr>() {
            self.family = Some(if a.is_ipv6() { "ipv6" } else { "ipv4" }.to_string());
        }
        if self.prefix == Some(0) {
            self.prefix = None;
        }
    }
}

/// A static route (`<route family= address= netmask= prefix= gateway= metric=/>`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NetRoute {
    /// `family`.
    pub family: Option<String>,
    /// `address`.
    pub address: Option<String>,
    /// `netmask`.
    pub netmask: Option<String>,
    /// `prefix`.
    pub prefix: Option<String>,
    /// `gateway`.
    pub gateway: Option<String>,
    /// `metric`.
    pub metric: Option<String>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl XmlModel for NetRoute {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        Ok(NetRoute {
            family: c.attr_string("family"),
            address: c.attr_string("address"),
            netmask: c.attr_string("netmask"),
            prefix: c.attr_string("prefix"),
            gateway: c.attr_string("gateway"),
            metric: c.attr_string("metric"),
            unknown: c.finish(ctx),
        })
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("route");
        b.opt_attr("family", self.family.as_deref())
            .opt_attr("address", self.address.as_deref())
            .opt_attr("netmask", self.netmask.as_deref())
            .opt_attr("prefix", self.prefix.as_deref())
            .opt_attr("gateway", self.gateway.as_deref())
            .opt_attr("metric", self.metric.as_deref());
        b.finish(&self.unknown)
    }
}

/// An interface's `<source>`. Which attributes are read depends on the interface type, as
/// in libvirt; the others stay in [`InterfaceSource::unknown`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InterfaceSource {
    /// `type` (vhostuser: always `unix`).
    pub kind: Option<String>,
    /// The libvirt network (network).
    pub network: Option<String>,
    /// The network's port group (network).
    pub portgroup: Option<String>,
    /// The distributed switch (vds).
    pub switchid: Option<String>,
    /// The network port (network: a UUID, live only; vds: a number).
    pub portid: Option<String>,
    /// The port group (vds).
    pub portgroupid: Option<String>,
    /// The connection (vds).
    pub connectionid: Option<String>,
    /// The host bridge (bridge).
    pub bridge: Option<String>,
    /// The internal network name (internal).
    pub name: Option<String>,
    /// The host device (direct, vdpa, user with passt).
    pub dev: Option<String>,
    /// The socket path (vhostuser).
    pub path: Option<String>,
    /// The macvtap mode (direct).
    pub direct_mode: Option<DirectMode>,
    /// The vhost-user mode (vhostuser).
    pub vhostuser_mode: Option<VhostuserMode>,
    /// The socket address (server, client, mcast, udp).
    pub address: Option<String>,
    /// The socket port (server, client, mcast, udp).
    pub port: Option<i32>,
    /// `<local address= port=/>` (udp).
    pub local: Option<(String, i32)>,
    /// `<reconnect>` (vhostuser).
    pub reconnect: Option<Reconnect>,
    /// Host-side addresses.
    pub ips: Vec<NetIp>,
    /// Host-side routes.
    pub routes: Vec<NetRoute>,
    /// What the model does not know (a hostdev interface's `<address>`), kept as written.
    pub unknown: Unknown,
}

impl InterfaceSource {
    /// Whether an interface of type `kind` must have a `<source>`.
    pub fn required_for(kind: InterfaceType) -> bool {
        use InterfaceType::*;
        matches!(
            kind,
            Network
                | Vds
                | Internal
                | Bridge
                | Direct
                | Vhostuser
                | Vdpa
                | Client
                | Server
                | Mcast
                | Udp
        )
    }

    /// Reads `<source>` of an interface of type `kind`.
    pub fn read(el: &Element, kind: InterfaceType, ctx: &mut Context) -> Result<Self> {
        use InterfaceType::*;
        let mut c = Cursor::new(el);
        let mut s = InterfaceSource::default();
        match kind {
            Network => {
                s.network = Some(c.required_attr("network")?.to_string());
                s.portgroup = c.attr_string("portgroup");
                s.portid = c.attr_string("portid");
            }
            Vds => {
                s.switchid = Some(c.required_attr("switchid")?.to_string());
                s.portid = Some(c.required_attr("portid")?.to_string());
                s.portgroupid = Some(c.required_attr("portgroupid")?.to_string());
                s.connectionid = Some(c.required_attr("connectionid")?.to_string());
            }
            Internal => s.name = Some(c.required_attr("name")?.to_string()),
            Bridge => s.bridge = Some(c.required_attr("bridge")?.to_string()),
            Direct => {
                s.dev = Some(c.required_attr("dev")?.to_string());
                s.direct_mode = c.enum_attr("mode")?;
            }
            Vhostuser => {
                let t = c.required_attr("type")?.to_string();
                if t != "unix" {
                    return Err(XmlError::unsupported(format!(
                        "Type='{t}' unsupported for <interface type='vhostuser'>"
                    ))
                    .at(el.position));
                }
                s.kind = Some(t);
                s.path = Some(c.required_attr("path")?.to_string());
                s.vhostuser_mode = Some(c.required_enum_attr("mode")?);
                s.reconnect = c.model("reconnect", ctx)?;
            }
            Vdpa => s.dev = Some(c.required_attr("dev")?.to_string()),
            Client | Server | Mcast | Udp => {
                s.address = if kind == Server {
                    c.attr_string("address")
                } else {
                    Some(c.required_attr("address")?.to_string())
                };
                s.port = Some(c.required_int("port", 10, PropFlags::NONE)?);
                if kind == Udp {
                    let Some(local) = c.child("local") else {
                        return Err(XmlError::xml(
                            "'<local>' element missing for 'udp' socket interface",
                        )
                        .at(el.position));
                    };
                    let mut lc = Cursor::new(local);
                    let address = lc.required_attr("address")?.to_string();
                    let port = lc.required_int("port", 10, PropFlags::NONE)?;
                    lc.finish(ctx);
                    s.local = Some((address, port));
                }
            }
            User => s.dev = c.attr_string("dev"),
            Ethernet | Hostdev | Null => {}
        }
        s.ips = c.models("ip", ctx)?;
        s.routes = c.models("route", ctx)?;
        s.unknown = c.finish_known(ctx, &["address", "vendor", "product"]);
        Ok(s)
    }
}

impl XmlModel for InterfaceSource {
    /// Reads a source without knowing its interface; prefer [`InterfaceSource::read`].
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        InterfaceSource::read(el, InterfaceType::Ethernet, ctx)
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("source");
        b.opt_attr("type", self.kind.as_deref())
            .opt_attr("network", self.network.as_deref())
            .opt_attr("portgroup", self.portgroup.as_deref())
            .opt_attr("switchid", self.switchid.as_deref())
            .opt_attr("portid", self.portid.as_deref())
            .opt_attr("portgroupid", self.portgroupid.as_deref())
            .opt_attr("connectionid", self.connectionid.as_deref())
            .opt_attr("bridge", self.bridge.as_deref())
            .opt_attr("name", self.name.as_deref())
            .opt_attr("dev", self.dev.as_deref())
            .opt_attr("path", self.path.as_deref())
            .opt_attr("mode", self.direct_mode.map(|m| m.as_xml_str()))
            .opt_attr("mode", self.vhostuser_mode.map(|m| m.as_xml_str()))
            .opt_attr("address", self.address.as_deref())
            .opt_attr("port", self.port);
        if let Some((address, port)) = &self.local {
            b.child(
                Element::new("local")
                    .with_attr("address", address.as_str())
                    .with_attr("port", port.to_string()),
            );
        }
        b.model(self.reconnect.as_ref());
        b.models(&self.ips);
        b.models(&self.routes);
        b.finish(&self.unknown)
    }
}
