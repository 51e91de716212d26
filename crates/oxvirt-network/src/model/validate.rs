//! The checks libvirt makes when a network is defined or created: the host-independent
//! part of the network driver's `networkValidate` (choosing a free bridge name, the MAC
//! address and checking that PCI devices are SR-IOV virtual functions are the driver's).

use oxvirt_xml::{ErrorCode, VirError};

use super::forward::{ForwardInterface, ForwardMode};
use super::{err, Network};

fn unsupported(msg: impl AsRef<str>) -> VirError {
    err(ErrorCode::ConfigUnsupported, msg)
}

/// Whether a `<virtualport>` element is of type `openvswitch`.
fn is_openvswitch(vp: Option<&oxvirt_xml::Element>) -> bool {
    vp.and_then(|v| v.attr("type")) == Some("openvswitch")
}

impl Network {
    /// libvirt's define-time checks (`networkValidate`), with its messages: what each
    /// forward mode allows (`<mac>`, `<ip>`, `<dns>`, `<domain>`, `<bandwidth>`), the kind
    /// of device pool, DHCP on at most one IPv4 and one IPv6 `<ip>`, where `<vlan>` may be
    /// used, and the portgroups (one default, unique names).
    pub fn validate(&self) -> Result<(), VirError> {
        let name = &self.name;
        if self.name.contains('\n') {
            return Err(err(ErrorCode::XmlDetail, "invalid char in name: 0x0a"));
        }
        let mode = self.forward_mode();
        let bandwidth_allowed = match mode {
            ForwardMode::None | ForwardMode::Nat | ForwardMode::Route | ForwardMode::Open => true,
            _ => {
                let what = if self.mac.is_some() {
                    Some("<mac> element")
                } else if !self.ips.is_empty() {
                    Some("<ip> element")
                } else if !(self.dns.txts.is_empty()
                    && self.dns.hosts.is_empty()
                    && self.dns.srvs.is_empty())
                {
                    Some("<dns> element")
                } else if self.domain.is_some() {
                    Some("<domain> element")
                } else {
                    None
                };
                if let Some(what) = what {
                    return Err(unsupported(format!(
                        "Unsupported {what} in network {name} with forward mode='{mode}'"
                    )));
                }
                mode == ForwardMode::Bridge && self.bridge_name().is_some()
            }
        };
        if self.bandwidth.is_some() && !bandwidth_allowed {
            return Err(unsupported(format!(
                "Unsupported network-wide <bandwidth> element in network {name} with forward mode='{mode}'"
            )));
        }
        let (mut uses_interface, mut uses_address) = (false, false);
        let mut has_pf = false;
        if let Some(f) = &self.forward {
            has_pf = f.pf.is_some();
            for i in &f.interfaces {
                match i {
                    ForwardInterface::Netdev { dev, .. } => {
                        uses_interface = true;
                        if mode == ForwardMode::Hostdev {
                            return Err(unsupported(format!(
                                "hostdev network '{name}' lists '{dev}' in the device pool, but hostdev networks require all devices to be listed by PCI address, not network device name"
                            )));
                        }
                    }
                    ForwardInterface::Pci { .. } => {
                        uses_address = true;
                        if mode != ForwardMode::Hostdev {
                            return Err(unsupported(format!(
                                "network '{name}' has forward mode '{mode}'  but lists a device by PCI address in the device pool. This is only supported for networks with forward mode 'hostdev'"
                            )));
                        }
                    }
                }
            }
        }
        if u8::from(has_pf) + u8::from(uses_interface) + u8::from(uses_address) > 1 {
            return Err(unsupported(format!(
                "<address>, <interface>, and <pf> elements of <forward> in network {name} are mutually exclusive"
            )));
        }
        for v4 in [true, false] {
            let with_dhcp = self
                .ips
                .iter()
                .filter(|ip| ip.is_ipv4() == v4)
                .filter(|ip| !ip.ranges().is_empty() || !ip.hosts().is_empty())
                .count();
            if with_dhcp > 1 {
                let family = if v4 { "IPv4" } else { "IPv6" };
                return Err(unsupported(format!(
                    "Multiple {family} dhcp sections found -- dhcp is supported only for a single {family} address on each network"
                )));
            }
        }
        self.validate_portgroups(bandwidth_allowed)
    }

    /// The `<vlan>` and `<portgroup>` part of `networkValidate`.
    fn validate_portgroups(&self, bandwidth_allowed: bool) -> Result<(), VirError> {
        let name = &self.name;
        let mode = self.forward_mode();
        let vlan_allowed = matches!(mode, ForwardMode::Hostdev | ForwardMode::Passthrough)
            || (mode == ForwardMode::Bridge && is_openvswitch(self.virtualport.as_ref()));
        let vlan_used = self.vlan.as_ref().is_some_and(|v| !v.tags.is_empty());
        let mut bad_vlan = false;
        let mut default: Option<&str> = None;
        for (i, pg) in self.portgroups.iter().enumerate() {
            if vlan_used || pg.vlan.as_ref().is_some_and(|v| !v.tags.is_empty()) {
                bad_vlan |= match &pg.virtualport {
                    Some(vp) => mode != ForwardMode::Bridge || !is_openvswitch(Some(vp)),
                    None => !vlan_allowed,
                };
            }
            if pg.default {
                if let Some(first) = default {
                    return Err(unsupported(format!(
                        "network '{name}' has multiple default <portgroup> elements ({first} and {}), but only one default is allowed",
                        pg.name
                    )));
                }
                default = Some(&pg.name);
            }
            if self.portgroups[i + 1..].iter().any(|o| o.name == pg.name) {
                return Err(unsupported(format!(
                    "multiple <portgroup> elements with the same name ({}) in network '{name}'",
                    pg.name
                )));
            }
            if pg.bandwidth.is_some() && !bandwidth_allowed {
                return Err(unsupported(format!(
                    "Unsupported <bandwidth> element in network '{name}' in portgroup '{}' with forward mode='{mode}'",
                    pg.name
                )));
            }
        }
        if bad_vlan || (vlan_used && !vlan_allowed && default.is_none()) {
            return Err(unsupported(format!(
                "<vlan> element specified for network {name}, whose type doesn't support vlan configuration"
            )));
        }
        if mode == ForwardMode::Hostdev {
            if let Some(pg) = self.portgroups.iter().find(|p| p.bandwidth.is_some()) {
                return Err(unsupported(format!(
                    "unsupported <bandwidth> element in <portgroup name='{}'> of network '{name}' with forward mode='{mode}'",
                    pg.name
                )));
            }
        }
        Ok(())
    }
}
