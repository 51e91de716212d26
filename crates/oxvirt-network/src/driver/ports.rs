//! Guests' interfaces on networks: the driver's side of
//! [`oxvirt_domain::driver::ports::NetworkPorts`].

use async_trait::async_trait;
use oxvirt_domain::driver::ports::{Lease, NetworkPorts, PortBinding, PortRequest};
use oxvirt_xml::types::Uuid;
use oxvirt_xml::ErrorCode;

use super::{bridge_of, err, leases_of, no_name, not_active, store, BridgeDriver};
use crate::api::Result;
use crate::model::ForwardMode;

/// One guest interface plugged into a network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Port {
    /// The port's id (`portid` in the domain's live XML).
    pub id: Uuid,
    /// The interface's MAC address.
    pub mac: String,
    /// The domain's UUID.
    pub domain_uuid: Uuid,
}

impl Port {
    /// The port as a line of `NAME.ports`.
    pub fn line(&self) -> String {
        format!("{} {} {}\n", self.id, self.mac, self.domain_uuid)
    }

    /// A line of `NAME.ports` back.
    pub fn from_line(line: &str) -> Option<Port> {
        let mut parts = line.split_whitespace();
        Some(Port {
            id: Uuid::try_parse(parts.next()?)?,
            mac: parts.next()?.to_string(),
            domain_uuid: Uuid::try_parse(parts.next()?)?,
        })
    }
}

#[async_trait]
impl NetworkPorts for BridgeDriver {
    async fn plug(&self, request: &PortRequest) -> Result<PortBinding> {
        let mut state = self.inner.state.lock().await;
        let obj = state
            .nets
            .get_mut(&request.network)
            .ok_or_else(|| no_name(&request.network))?;
        let Some(live) = obj.live.clone() else {
            return Err(not_active(&request.network));
        };
        let mode = live.forward_mode();
        if !(mode.is_virtual() || mode == ForwardMode::Bridge) {
            return Err(err(
                ErrorCode::ConfigUnsupported,
                format!(
                    "network '{}' uses forward mode '{}': oxvirt connects guests only to networks with a bridge",
                    live.name,
                    mode
                ),
            ));
        }
        if let Some(group) = &request.portgroup {
            if !live.portgroups.iter().any(|p| &p.name == group) {
                return Err(err(
                    ErrorCode::InternalError,
                    format!("No port group {group} found in network {}", live.name),
                ));
            }
        }
        let bridge = bridge_of(&live)
            .ok_or_else(|| {
                err(
                    ErrorCode::InternalError,
                    format!("network '{}' does not have a bridge name.", live.name),
                )
            })?
            .to_string();
        let port = Port {
            id: store::new_uuid()?,
            mac: request.mac.to_ascii_lowercase(),
            domain_uuid: request.domain_uuid,
        };
        let mut ports = obj.ports.clone();
        ports.push(port.clone());
        store::save_live(&self.inner.config, &live, &ports)?;
        obj.ports = ports;
        Ok(PortBinding {
            port_id: port.id,
            bridge,
            mtu: live.mtu,
        })
    }

    async fn unplug(&self, network: &str, port_id: &Uuid) -> Result<()> {
        let mut state = self.inner.state.lock().await;
        let Some(obj) = state.nets.get_mut(network) else {
            return Ok(());
        };
        let Some(live) = obj.live.clone() else {
            return Ok(());
        };
        let before = obj.ports.len();
        let ports: Vec<_> = obj
            .ports
            .iter()
            .filter(|p| p.id != *port_id)
            .cloned()
            .collect();
        if ports.len() != before {
            store::save_live(&self.inner.config, &live, &ports)?;
            obj.ports = ports;
        }
        Ok(())
    }

    async fn leases(&self, network: &str) -> Result<Vec<Lease>> {
        let state = self.inner.state.lock().await;
        let obj = state.nets.get(network).ok_or_else(|| no_name(network))?;
        let def = obj.live.clone().unwrap_or_else(|| obj.def.clone());
        drop(state);
        leases_of(&self.inner.host, &def, network, None).await
    }
}
