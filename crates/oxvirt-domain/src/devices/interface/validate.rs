//! The checks of `virDomainNetDefValidate`.

use oxvirt_xml::model::XmlEnum;
use oxvirt_xml::{Result, XmlError};

use super::{Interface, InterfaceType, NetBackendType, TeamingType, VhostuserMode};

impl Interface {
    /// The checks libvirt makes when the definition is validated
    /// (`virDomainNetDefValidate`), with its messages.
    pub fn validate(&self) -> Result<()> {
        use InterfaceType::*;
        let kind = self.kind.as_xml_str();
        let unsupported = |m: String| Err(XmlError::unsupported(m));
        let mac = self.mac_address().unwrap_or_default();
        if self
            .source
            .as_ref()
            .is_some_and(|s| !s.ips.is_empty() || !s.routes.is_empty())
            && self.kind != Ethernet
        {
            return unsupported(format!(
                "Invalid attempt to set network interface host-side IP route and/or address \
                 info on interface of type '{kind}'. This is only supported on interfaces of \
                 type 'ethernet'"
            ));
        }
        if self.target.as_ref().and_then(|t| t.managed) == Some(false) && self.kind != Ethernet {
            return unsupported(format!(
                "unmanaged target dev is not supported on interfaces of type '{kind}'"
            ));
        }
        if let Some(t) = &self.teaming {
            match (t.kind, &t.persistent) {
                (TeamingType::Transient, None) => {
                    return unsupported(
                        "teaming persistent attribute must be set if teaming type is \
                         'transient'"
                            .into(),
                    )
                }
                (TeamingType::Persistent, Some(_)) => {
                    return unsupported(
                        "teaming persistent attribute not allowed if teaming type is \
                         'persistent'"
                            .into(),
                    )
                }
                _ => {}
            }
        }
        if self.port_isolated == Some(true) {
            if !matches!(self.kind, Network | Bridge) {
                return unsupported(format!(
                    "interface {mac} - <port isolated='yes'/> is not supported for network \
                     interfaces with type='{kind}'"
                ));
            }
            if let Some(vp) = self.virtualport.as_ref().and_then(|v| v.attr("type")) {
                if vp != "none" {
                    return unsupported(format!(
                        "interface {mac} - <port isolated='yes'/> is not supported for network \
                         interfaces with virtualport type='{vp}'"
                    ));
                }
            }
        }
        if !self.is_virtio() {
            let driver = self.unknown.elements().find(|e| e.name == "driver");
            for (attr, what) in [
                ("iommu", "iommu driver option"),
                ("ats", "ats driver option"),
                ("packed", "packed driver option"),
                ("page_per_vq", "page_per_vq option"),
            ] {
                if driver.is_some_and(|d| d.attr(attr).is_some()) {
                    return unsupported(format!("{what} is only supported for virtio devices"));
                }
            }
        }
        let passt = self.backend.as_ref().and_then(|b| b.kind) == Some(NetBackendType::Passt);
        if self.kind != User && passt {
            return Err(XmlError::internal(
                "The 'passt' backend can only be used with interface type='user'",
            ));
        }
        if !self.port_forwards.is_empty() && (self.kind != User || !passt) {
            return unsupported(
                "The <portForward> element can only be used with <interface type='user'> and \
                 its 'passt' backend"
                    .into(),
            );
        }
        if self.kind == Vhostuser {
            if !self.is_virtio() {
                return Err(XmlError::internal(
                    "Wrong or no <model> 'type' attribute specified with <interface \
                     type='vhostuser'/>. vhostuser requires the virtio-net* frontend",
                ));
            }
            let s = self.source.as_ref();
            let server = s.and_then(|s| s.vhostuser_mode) == Some(VhostuserMode::Server);
            let reconnect = s.and_then(|s| s.reconnect.as_ref()).and_then(|r| r.enabled);
            if server && reconnect == Some(true) {
                return unsupported(
                    "'reconnect' attribute unsupported 'server' mode for <interface \
                     type='vhostuser'>"
                        .into(),
                );
            }
        }
        Ok(())
    }
}
