//! A network interface (`<interface>`), read as `virDomainNetDefParseXML` reads it and
//! written in the order of `virDomainNetDefFormat`.
//!
//! Elements libvirt knows but this model keeps untyped (`<virtualport>`, `<filterref>`,
//! `<tune>`, `<coalesce>`, `<portForward>`, `<actual>`) are kept as written and placed
//! where libvirt places them. A hostdev interface's `<driver>` and a non-virtio interface's
//! `<driver>` (which libvirt does not read) stay in [`Interface::unknown`].

pub mod parts;
pub mod source;
mod validate;

use oxvirt_xml::model::{str_to_long_uip, PropFlags, XmlEnum};
use oxvirt_xml::types::mac::MacAddr;
use oxvirt_xml::{Builder, Context, Cursor, Element, Result, Unknown, XmlError, XmlModel};

use crate::util;

pub use crate::devices::info::{Boot, DeviceInfo, Rom};
pub use parts::{
    Bandwidth, BandwidthRate, InterfaceBackend, InterfaceDriver, Mac, MacType, NetBackendType,
    NetDriverName, Offloads, TxMode, Vlan, VlanTag,
};
pub use source::{DirectMode, InterfaceSource, NetIp, NetRoute, VhostuserMode};

oxvirt_xml::xml_enum! {
    /// How the interface is connected on the host (`type`).
    pub enum InterfaceType {
        /// User-mode networking (the default).
        User = "user",
        /// A tap device set up by a script or by hand.
        Ethernet = "ethernet",
        /// A vhost-user socket.
        Vhostuser = "vhostuser",
        /// A listening TCP socket.
        Server = "server",
        /// A TCP socket connecting to a server.
        Client = "client",
        /// A multicast group.
        Mcast = "mcast",
        /// A libvirt virtual network.
        Network = "network",
        /// A host bridge.
        Bridge = "bridge",
        /// A VirtualBox internal network.
        Internal = "internal",
        /// macvtap on a host device.
        Direct = "direct",
        /// A PCI or USB network device given to the guest.
        Hostdev = "hostdev",
        /// A UDP tunnel.
        Udp = "udp",
        /// A vDPA device.
        Vdpa = "vdpa",
        /// Not connected.
        Null = "null",
        /// A VMware distributed switch.
        Vds = "vds",
    }
}

oxvirt_xml::xml_enum! {
    /// The link state (`<link state='...'/>`).
    pub enum LinkState {
        /// Up.
        Up = "up",
        /// Down.
        Down = "down",
    }
}

oxvirt_xml::xml_enum! {
    /// A teaming role (`<teaming type='...'/>`).
    pub enum TeamingType {
        /// The device that stays.
        Persistent = "persistent",
        /// The device that may be unplugged.
        Transient = "transient",
    }
}

/// `<target dev= managed=/>`: the host-side device.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InterfaceTarget {
    /// The tap or macvtap device name.
    pub dev: Option<String>,
    /// `managed='yes|no'`: whether libvirt creates the device.
    pub managed: Option<bool>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

/// `<guest dev= actual=/>`: the guest-side device name (containers).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InterfaceGuest {
    /// The requested name.
    pub dev: Option<String>,
    /// The name in use.
    pub actual: Option<String>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

/// `<teaming type= persistent=/>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Teaming {
    /// `type`.
    pub kind: TeamingType,
    /// The alias of the persistent device (transient only).
    pub persistent: Option<String>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

/// A network interface (`<interface>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    /// `type` (`user` when absent, as libvirt reads it).
    pub kind: InterfaceType,
    /// `managed='yes|no'` (hostdev).
    pub managed: Option<bool>,
    /// `trustGuestRxFilters='yes|no'`.
    pub trust_guest_rx_filters: Option<bool>,
    /// `<mac>`.
    pub mac: Option<Mac>,
    /// `<source>`.
    pub source: Option<InterfaceSource>,
    /// `<vlan>`.
    pub vlan: Option<Vlan>,
    /// `<virtualport>`, kept as written.
    pub virtualport: Option<Element>,
    /// `<bandwidth>`.
    pub bandwidth: Option<Bandwidth>,
    /// `<port isolated='yes|no'/>`.
    pub port_isolated: Option<bool>,
    /// `<actual>` (status XML), kept as written.
    pub actual: Option<Element>,
    /// Guest-side `<ip>` addresses.
    pub ips: Vec<NetIp>,
    /// Guest-side `<route>`s.
    pub routes: Vec<NetRoute>,
    /// `<portForward>` elements, kept as written.
    pub port_forwards: Vec<Element>,
    /// `<script path=/>`.
    pub script: Option<String>,
    /// `<downscript path=/>`.
    pub downscript: Option<String>,
    /// `<backenddomain name=/>`.
    pub backend_domain: Option<String>,
    /// `<target>`.
    pub target: Option<InterfaceTarget>,
    /// `<guest>`.
    pub guest: Option<InterfaceGuest>,
    /// `<model type=/>`: the emulated NIC.
    pub model: Option<String>,
    /// `<driver>` of a virtio NIC.
    pub driver: Option<InterfaceDriver>,
    /// `<backend>`.
    pub backend: Option<InterfaceBackend>,
    /// `<filterref>`, kept as written.
    pub filterref: Option<Element>,
    /// `<tune>`, kept as written.
    pub tune: Option<Element>,
    /// `<teaming>`.
    pub teaming: Option<Teaming>,
    /// `<link state=/>`.
    pub link_state: Option<LinkState>,
    /// `<mtu size=/>`.
    pub mtu: Option<u32>,
    /// `<coalesce>`, kept as written.
    pub coalesce: Option<Element>,
    /// `<boot>`, `<alias>`, `<rom>`, `<acpi>`, `<address>`: libvirt's device info.
    pub info: DeviceInfo,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

/// NIC models libvirt knows by name (matched without regard to case).
const KNOWN_MODELS: &[&str] = &[
    "unknown",
    "netfront",
    "rtl8139",
    "virtio",
    "e1000",
    "e1000e",
    "igb",
    "virtio-transitional",
    "virtio-non-transitional",
    "usb-net",
    "spapr-vlan",
    "lan9118",
    "scm91c111",
    "vlance",
    "vmxnet",
    "vmxnet2",
    "vmxnet3",
    "Am79C970A",
    "Am79C973",
    "82540EM",
    "82545EM",
    "82543GC",
];

const MODEL_CHARS: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-";

/// Whether a `<model type>` is one of the virtio models (`virDomainNetIsVirtioModel`).
pub fn is_virtio_model(model: Option<&str>) -> bool {
    model.is_some_and(|m| {
        ["virtio", "virtio-transitional", "virtio-non-transitional"]
            .iter()
            .any(|v| v.eq_ignore_ascii_case(m))
    })
}

impl Interface {
    /// An interface of the given type with nothing else set.
    pub fn new(kind: InterfaceType) -> Self {
        Interface {
            kind,
            managed: None,
            trust_guest_rx_filters: None,
            mac: None,
            source: None,
            vlan: None,
            virtualport: None,
            bandwidth: None,
            port_isolated: None,
            actual: None,
            ips: Vec::new(),
            routes: Vec::new(),
            port_forwards: Vec::new(),
            script: None,
            downscript: None,
            backend_domain: None,
            target: None,
            guest: None,
            model: None,
            driver: None,
            backend: None,
            filterref: None,
            tune: None,
            teaming: None,
            link_state: None,
            mtu: None,
            coalesce: None,
            info: DeviceInfo::default(),
            unknown: Unknown::default(),
        }
    }

    /// The MAC address, if set.
    pub fn mac_address(&self) -> Option<MacAddr> {
        self.mac.as_ref().and_then(|m| m.address)
    }

    /// Whether the NIC model is virtio.
    pub fn is_virtio(&self) -> bool {
        is_virtio_model(self.model.as_deref())
    }

    /// What libvirt's parser (for inactive XML) and formatter change: a missing or
    /// all-zero MAC address is generated (`52:54:00:xx:xx:xx`), a known model is spelled as
    /// libvirt spells it, a direct source says its mode (`vepa`), a network source drops its
    /// live-only `portid`, a generated tap name (`vnet*`, `macvtap*`, `macvlan*`) is
    /// dropped, `queues='1'` is dropped, a VLAN with several tags is a trunk, guest IPs
    /// say their family, a boot `loadparm` is upper case, and what libvirt does not write
    /// (`managed='no'`, `mtu='0'`, an empty `<source>` or `<driver>`, a user interface's
    /// source device without the passt backend) is dropped.
    pub fn apply_defaults(&mut self) {
        let mac = self.mac.get_or_insert_with(Mac::default);
        if mac.address.is_none_or(|a| a.as_bytes() == &[0; 6]) {
            mac.address = MacAddr::random_qemu().ok();
        }
        if let Some(m) = &self.model {
            if let Some(known) = KNOWN_MODELS.iter().find(|k| k.eq_ignore_ascii_case(m)) {
                self.model = (*known != "unknown").then(|| known.to_string());
            }
        }
        if let Some(s) = &mut self.source {
            if self.kind == InterfaceType::Direct {
                s.direct_mode.get_or_insert(DirectMode::Vepa);
            }
            if self.kind == InterfaceType::Network {
                s.portid = None;
            }
            s.ips.iter_mut().for_each(NetIp::apply_defaults);
            let passt = self.backend.as_ref().and_then(|b| b.kind) == Some(NetBackendType::Passt);
            if self.kind == InterfaceType::User && !passt {
                s.dev = None;
            }
        }
        self.source = self
            .source
            .take()
            .filter(|s| *s != InterfaceSource::default());
        if let Some(t) = &mut self.target {
            let generated = t.dev.as_deref().is_some_and(|d| {
                ["vnet", "macvtap", "macvlan"]
                    .iter()
                    .any(|p| d.starts_with(p))
            });
            if generated && t.managed != Some(false) {
                t.dev = None;
            }
        }
        self.target = self
            .target
            .take()
            .filter(|t| t.dev.is_some() || t.managed.is_some() || !t.unknown.is_empty());
        if let Some(d) = &mut self.driver {
            if d.queues == Some(1) {
                d.queues = None;
            }
            for o in [&mut d.host, &mut d.guest] {
                if o.as_ref().is_some_and(|o| *o == Offloads::default()) {
                    *o = None;
                }
            }
        }
        self.driver = self
            .driver
            .take()
            .filter(|d| *d != InterfaceDriver::default());
        if let Some(v) = &mut self.vlan {
            v.apply_defaults();
        }
        self.ips.iter_mut().for_each(NetIp::apply_defaults);
        if self.managed == Some(false) {
            self.managed = None;
        }
        if self.mtu == Some(0) {
            self.mtu = None;
        }
    }
}

fn read_leaf(c: &mut Cursor<'_>, ctx: &mut Context, el: &str, attr: &str) -> Option<String> {
    let e = c.child(el)?;
    let mut lc = Cursor::new(e);
    let v = lc.attr_string(attr);
    lc.finish(ctx);
    v
}

fn read_model(c: &mut Cursor<'_>, ctx: &mut Context) -> Result<Option<String>> {
    let Some(e) = c.child("model") else {
        return Ok(None);
    };
    let mut mc = Cursor::new(e);
    let model = mc.attr_string("type");
    mc.finish(ctx);
    if let Some(m) = &model {
        let known = KNOWN_MODELS.iter().any(|k| k.eq_ignore_ascii_case(m));
        if !known && !m.chars().all(|ch| MODEL_CHARS.contains(ch)) {
            return Err(
                XmlError::invalid_arg("Model name contains invalid characters").at(e.position),
            );
        }
    }
    Ok(model)
}

impl XmlModel for Interface {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        use InterfaceType::*;
        let mut c = Cursor::new(el);
        let mut n = Interface::new(c.enum_attr("type")?.unwrap_or(User));
        n.trust_guest_rx_filters = c.prop_yes_no("trustGuestRxFilters", PropFlags::NONE)?;
        n.model = read_model(&mut c, ctx)?;
        let virtio = n.is_virtio();
        n.source = match c.child("source") {
            Some(s) => Some(InterfaceSource::read(s, n.kind, ctx)?),
            None if InterfaceSource::required_for(n.kind) => {
                return Err(XmlError::xml(format!(
                    "interface type='{}' requires a 'source' element",
                    n.kind.as_xml_str()
                ))
                .at(el.position));
            }
            None => None,
        };
        if let Some(vp) = c.child("virtualport") {
            if !matches!(n.kind, Network | Bridge | Direct | Hostdev) {
                return Err(XmlError::unsupported(format!(
                    "<virtualport> element unsupported for <interface type='{}'>",
                    n.kind.as_xml_str()
                ))
                .at(vp.position));
            }
            n.virtualport = Some(vp.clone());
        }
        if let Some(t) = c.child("target") {
            let mut tc = Cursor::new(t);
            n.target = Some(InterfaceTarget {
                dev: tc.attr_string("dev"),
                managed: tc.prop_yes_no("managed", PropFlags::NONE)?,
                unknown: tc.finish(ctx),
            });
        }
        if let Some(g) = c.child("guest") {
            let mut gc = Cursor::new(g);
            n.guest = Some(InterfaceGuest {
                dev: gc.attr_string("dev"),
                actual: gc.attr_string("actual"),
                unknown: gc.finish(ctx),
            });
        }
        if let Some(l) = c.child("link") {
            let mut lc = Cursor::new(l);
            n.link_state = util::enum_unsupported(&mut lc, "state", "interface link state")?;
            lc.finish(ctx);
        }
        n.script = read_leaf(&mut c, ctx, "script", "path");
        n.downscript = read_leaf(&mut c, ctx, "downscript", "path");
        n.backend_domain = read_leaf(&mut c, ctx, "backenddomain", "name");
        if matches!(n.kind, Network | Bridge | Ethernet) {
            n.filterref = c.child("filterref").cloned();
        }
        if let Some(b) = c.child("bandwidth") {
            n.bandwidth = Some(Bandwidth::read(b, n.kind == Network, ctx)?);
        }
        n.vlan = c.model("vlan", ctx)?;
        n.mac = c.model("mac", ctx)?;
        n.info = DeviceInfo::parse(&mut c, ctx, true, true)?;
        n.ips = c.models("ip", ctx)?;
        n.routes = c.models("route", ctx)?;
        n.port_forwards = c.children("portForward").into_iter().cloned().collect();
        if virtio && n.kind != Hostdev {
            n.driver = c.model("driver", ctx)?;
        }
        if let Some(b) = c.child("backend") {
            n.backend = Some(InterfaceBackend::read(b, virtio && n.kind != Hostdev, ctx)?);
        }
        if let Some(t) = c.child("teaming") {
            let mut tc = Cursor::new(t);
            let kind = tc.attr("type");
            let kind = kind.and_then(TeamingType::from_xml_str).ok_or_else(|| {
                XmlError::unsupported(format!(
                    "unknown teaming type '{}'",
                    kind.unwrap_or("(null)")
                ))
                .at(t.position)
            })?;
            n.teaming = Some(Teaming {
                kind,
                persistent: tc.attr_string("persistent"),
                unknown: tc.finish(ctx),
            });
        }
        n.tune = c.child("tune").cloned();
        if let Some(m) = c.child("mtu") {
            let mut mc = Cursor::new(m);
            if let Some(v) = mc.attr("size") {
                n.mtu = Some(
                    str_to_long_uip(v, 10)
                        .ok_or_else(|| XmlError::xml("malformed mtu size").at(m.position))?,
                );
            }
            mc.finish(ctx);
        }
        n.coalesce = c.child("coalesce").cloned();
        if let Some(p) = c.child("port") {
            let mut pc = Cursor::new(p);
            n.port_isolated = pc.prop_yes_no("isolated", PropFlags::NONE)?;
            pc.finish(ctx);
        }
        n.actual = c.child("actual").cloned();
        if n.kind == Hostdev {
            n.managed = util::lenient_yes_no(&mut c, "managed");
        }
        n.unknown = c.finish_known(ctx, &["driver", "privateData", "filterref"]);
        Ok(n)
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("interface");
        b.attr("type", self.kind)
            .yes_no("managed", self.managed)
            .yes_no("trustGuestRxFilters", self.trust_guest_rx_filters);
        b.model(self.mac.as_ref());
        b.model(self.source.as_ref());
        b.model(self.vlan.as_ref());
        b.opt_child(self.virtualport.clone());
        b.model(self.bandwidth.as_ref());
        if let Some(v) = self.port_isolated {
            b.child(Element::new("port").with_attr("isolated", oxvirt_xml::model::yes_no(v)));
        }
        b.opt_child(self.actual.clone());
        b.models(&self.ips);
        b.models(&self.routes);
        for pf in &self.port_forwards {
            b.child(pf.clone());
        }
        let leaf = |name: &str, attr: &str, v: &str| Element::new(name).with_attr(attr, v);
        b.opt_child(self.script.as_deref().map(|v| leaf("script", "path", v)));
        b.opt_child(
            self.downscript
                .as_deref()
                .map(|v| leaf("downscript", "path", v)),
        );
        b.opt_child(
            self.backend_domain
                .as_deref()
                .map(|v| leaf("backenddomain", "name", v)),
        );
        if let Some(t) = &self.target {
            let mut tb = Builder::new("target");
            tb.opt_attr("dev", t.dev.as_deref())
                .yes_no("managed", t.managed);
            b.child(tb.finish(&t.unknown));
        }
        if let Some(g) = &self.guest {
            let mut gb = Builder::new("guest");
            gb.opt_attr("dev", g.dev.as_deref())
                .opt_attr("actual", g.actual.as_deref());
            b.child(gb.finish(&g.unknown));
        }
        b.opt_child(self.model.as_deref().map(|v| leaf("model", "type", v)));
        b.model(self.driver.as_ref());
        b.opt_child(self.backend.as_ref().map(InterfaceBackend::to_element));
        b.opt_child(self.filterref.clone());
        b.opt_child(self.tune.clone());
        if let Some(t) = &self.teaming {
            let mut tb = Builder::new("teaming");
            tb.attr("type", t.kind)
                .opt_attr("persistent", t.persistent.as_deref());
            b.child(tb.finish(&t.unknown));
        }
        b.opt_child(
            self.link_state
                .map(|s| leaf("link", "state", s.as_xml_str())),
        );
        b.opt_child(self.mtu.map(|m| leaf("mtu", "size", &m.to_string())));
        b.opt_child(self.coalesce.clone());
        self.info.format(&mut b);
        b.finish(&self.unknown)
    }
}

#[cfg(test)]
mod tests;
