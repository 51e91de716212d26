//! The virtual network procedures: each one the public `virNetwork*`/`virConnect*Network*`
//! call libvirtd makes, with that call's argument checks, on the connection's network
//! driver.

use std::sync::Arc;

use oxvirt_network::api::{flags, Update};
use oxvirt_network::{Lease, NetworkDriver, NetworkRef};
use oxvirt_rpc::remote::*;
use oxvirt_rpc::types::NonnullNetwork;
use oxvirt_rpc::RemoteProcedure as P;
use oxvirt_xml::types::Uuid;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use super::{args, int, ret, void};
use crate::access::Filter;
use crate::client::Client;

/// A wire network as the driver names it.
pub(crate) fn nref(net: NonnullNetwork) -> NetworkRef {
    NetworkRef {
        name: net.name,
        uuid: Uuid::from(net.uuid),
    }
}

/// A driver network as it travels.
pub(crate) fn nwire(net: NetworkRef) -> NonnullNetwork {
    NonnullNetwork {
        name: net.name,
        uuid: net.uuid.into(),
    }
}

/// A driver lease as it travels.
pub(crate) fn lease_wire(l: Lease) -> NetworkDhcpLease {
    NetworkDhcpLease {
        iface: l.iface,
        expirytime: l.expiry_time,
        r#type: l.kind,
        mac: l.mac,
        iaid: l.iaid,
        ipaddr: l.ip,
        prefix: l.prefix,
        hostname: l.hostname,
        clientid: l.client_id,
    }
}

/// Whether `procedure` is one of the network calls served here.
pub(crate) fn is_network_procedure(procedure: P) -> bool {
    matches!(
        procedure,
        P::ConnectListAllNetworks
            | P::ConnectNumOfNetworks
            | P::ConnectNumOfDefinedNetworks
            | P::ConnectListNetworks
            | P::ConnectListDefinedNetworks
            | P::NetworkLookupByName
            | P::NetworkLookupByUuid
            | P::NetworkDefineXml
            | P::NetworkDefineXmlFlags
            | P::NetworkCreateXml
            | P::NetworkCreateXmlFlags
            | P::NetworkUndefine
            | P::NetworkCreate
            | P::NetworkDestroy
            | P::NetworkGetXmlDesc
            | P::NetworkGetBridgeName
            | P::NetworkGetAutostart
            | P::NetworkSetAutostart
            | P::NetworkIsActive
            | P::NetworkIsPersistent
            | P::NetworkUpdate
            | P::NetworkGetDhcpLeases
    )
}

/// libvirt's `virCheckNonNegativeArgGoto` in a network call.
fn non_negative(value: i32, arg: &str, function: &str) -> Result<usize, VirError> {
    usize::try_from(value).map_err(|_| {
        VirError::new(
            ErrorDomain::Network,
            ErrorCode::InvalidArg,
            format!("{arg} in {function} must not be negative"),
        )
    })
}

/// The daemon's refusal of a list longer than the protocol carries.
fn rpc_error(message: String) -> VirError {
    VirError::new(ErrorDomain::Rpc, ErrorCode::Rpc, message)
}

/// Answers the network procedures; `None` for every other procedure.
pub(crate) async fn dispatch_network(
    client: &Client,
    procedure: P,
    payload: &[u8],
) -> Option<Result<Vec<u8>, VirError>> {
    if !is_network_procedure(procedure) {
        return None;
    }
    let function = crate::extra::public_function(procedure).unwrap_or_default();
    // Listing calls show only what the client may see (libvirt's @aclfilter).
    let visible = crate::access::Filter::for_call(client, procedure);
    Some(match client.network_driver(&function) {
        Ok(drv) => call(&drv, procedure, &function, payload, visible.as_ref()).await,
        Err(e) => Err(e),
    })
}

/// The names of the active (or inactive) networks, at most `maxnames` of them.
async fn names(
    drv: &Arc<dyn NetworkDriver>,
    payload: &[u8],
    active: bool,
    function: &str,
    visible: Option<&Filter>,
) -> Result<Vec<u8>, VirError> {
    let a: ConnectListNetworksArgs = args(payload)?;
    if a.maxnames > NETWORK_LIST_MAX as i32 {
        return Err(rpc_error("maxnames > REMOTE_NETWORK_LIST_MAX".into()));
    }
    let max = non_negative(a.maxnames, "maxnames", function)?;
    let filter = if active {
        flags::list::ACTIVE
    } else {
        flags::list::INACTIVE
    };
    let mut nets = drv.list_all(filter).await?;
    Filter::keep(visible, &mut nets, |n| (&n.name, &n.uuid));
    let mut names: Vec<String> = nets.into_iter().map(|n| n.name).collect();
    names.truncate(max);
    ret(&ConnectListNetworksRet { names })
}

async fn call(
    drv: &Arc<dyn NetworkDriver>,
    procedure: P,
    function: &str,
    payload: &[u8],
    visible: Option<&Filter>,
) -> Result<Vec<u8>, VirError> {
    match procedure {
        P::ConnectListAllNetworks => {
            let a: ConnectListAllNetworksArgs = args(payload)?;
            let mut nets = drv.list_all(a.flags).await?;
            Filter::keep(visible, &mut nets, |n| (&n.name, &n.uuid));
            if nets.len() > NETWORK_LIST_MAX {
                return Err(rpc_error(format!(
                    "Too many networks '{}' for limit '{NETWORK_LIST_MAX}'",
                    nets.len()
                )));
            }
            let count = nets.len() as u32;
            let nets = if a.need_results != 0 {
                nets.into_iter().map(nwire).collect()
            } else {
                Vec::new()
            };
            ret(&ConnectListAllNetworksRet { nets, ret: count })
        }
        P::ConnectNumOfNetworks | P::ConnectNumOfDefinedNetworks => {
            let filter = if procedure == P::ConnectNumOfNetworks {
                flags::list::ACTIVE
            } else {
                flags::list::INACTIVE
            };
            let mut nets = drv.list_all(filter).await?;
            Filter::keep(visible, &mut nets, |n| (&n.name, &n.uuid));
            let num = nets.len();
            ret(&ConnectNumOfNetworksRet {
                num: i32::try_from(num).unwrap_or(i32::MAX),
            })
        }
        P::ConnectListNetworks => names(drv, payload, true, function, visible).await,
        P::ConnectListDefinedNetworks => names(drv, payload, false, function, visible).await,
        P::NetworkLookupByName => {
            let a: NetworkLookupByNameArgs = args(payload)?;
            ret(&NetworkLookupByNameRet {
                net: nwire(drv.lookup_by_name(&a.name).await?),
            })
        }
        P::NetworkLookupByUuid => {
            let a: NetworkLookupByUuidArgs = args(payload)?;
            ret(&NetworkLookupByUuidRet {
                net: nwire(drv.lookup_by_uuid(&Uuid::from(a.uuid)).await?),
            })
        }
        P::NetworkDefineXml => {
            let a: NetworkDefineXmlArgs = args(payload)?;
            ret(&NetworkDefineXmlRet {
                net: nwire(drv.define_xml(&a.xml, 0).await?),
            })
        }
        P::NetworkDefineXmlFlags => {
            let a: NetworkDefineXmlFlagsArgs = args(payload)?;
            ret(&NetworkDefineXmlFlagsRet {
                net: nwire(drv.define_xml(&a.xml, a.flags).await?),
            })
        }
        P::NetworkCreateXml => {
            let a: NetworkCreateXmlArgs = args(payload)?;
            ret(&NetworkCreateXmlRet {
                net: nwire(drv.create_xml(&a.xml, 0).await?),
            })
        }
        P::NetworkCreateXmlFlags => {
            let a: NetworkCreateXmlFlagsArgs = args(payload)?;
            ret(&NetworkCreateXmlRet {
                net: nwire(drv.create_xml(&a.xml, a.flags).await?),
            })
        }
        P::NetworkUndefine => {
            let a: NetworkUndefineArgs = args(payload)?;
            drv.undefine(&nref(a.net)).await?;
            void()
        }
        P::NetworkCreate => {
            let a: NetworkCreateArgs = args(payload)?;
            drv.create(&nref(a.net)).await?;
            void()
        }
        P::NetworkDestroy => {
            let a: NetworkDestroyArgs = args(payload)?;
            drv.destroy(&nref(a.net)).await?;
            void()
        }
        P::NetworkGetXmlDesc => {
            let a: NetworkGetXmlDescArgs = args(payload)?;
            ret(&NetworkGetXmlDescRet {
                xml: drv.xml_desc(&nref(a.net), a.flags).await?,
            })
        }
        P::NetworkGetBridgeName => {
            let a: NetworkGetBridgeNameArgs = args(payload)?;
            ret(&NetworkGetBridgeNameRet {
                name: drv.bridge_name(&nref(a.net)).await?,
            })
        }
        P::NetworkGetAutostart => {
            let a: NetworkGetAutostartArgs = args(payload)?;
            ret(&NetworkGetAutostartRet {
                autostart: int(drv.autostart(&nref(a.net)).await?),
            })
        }
        P::NetworkSetAutostart => {
            let a: NetworkSetAutostartArgs = args(payload)?;
            drv.set_autostart(&nref(a.net), a.autostart != 0).await?;
            void()
        }
        P::NetworkIsActive => {
            let a: NetworkIsActiveArgs = args(payload)?;
            ret(&NetworkIsActiveRet {
                active: int(drv.is_active(&nref(a.net)).await?),
            })
        }
        P::NetworkIsPersistent => {
            let a: NetworkIsPersistentArgs = args(payload)?;
            ret(&NetworkIsPersistentRet {
                persistent: int(drv.is_persistent(&nref(a.net)).await?),
            })
        }
        P::NetworkUpdate => {
            let a: NetworkUpdateArgs = args(payload)?;
            let update = Update {
                command: a.command,
                section: a.section,
                parent_index: a.parent_index,
                xml: a.xml,
                flags: a.flags,
            };
            drv.update(&nref(a.net), &update).await?;
            void()
        }
        P::NetworkGetDhcpLeases => {
            let a: NetworkGetDhcpLeasesArgs = args(payload)?;
            // libvirt's network driver knows no flag here (`virCheckFlags(0, -1)`).
            VirError::check_flags(ErrorDomain::Network, a.flags, 0, "networkGetDHCPLeases")?;
            let leases = drv.dhcp_leases(&nref(a.net), a.mac.as_deref()).await?;
            if leases.len() > NETWORK_DHCP_LEASES_MAX {
                return Err(rpc_error(format!(
                    "Number of leases is {}, which exceeds max limit: {NETWORK_DHCP_LEASES_MAX}",
                    leases.len()
                )));
            }
            let count = leases.len() as u32;
            let leases = if a.need_results != 0 {
                leases.into_iter().map(lease_wire).collect()
            } else {
                Vec::new()
            };
            ret(&NetworkGetDhcpLeasesRet { leases, ret: count })
        }
        other => Err(crate::extra::not_served(other)),
    }
}

#[cfg(test)]
#[path = "network_tests.rs"]
mod tests;
