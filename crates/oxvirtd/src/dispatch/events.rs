//! Event callback registration: the procedures that subscribe a connection to domain
//! events (the messages themselves are built in `crate::registry`), and the network,
//! storage pool, node device and secret registrations the test driver accepts or refuses
//! as libvirtd does.

use std::sync::Arc;

use oxvirt_domain::driver::Hypervisor;
use oxvirt_rpc::remote::*;
use oxvirt_rpc::RemoteProcedure as P;
use oxvirt_xml::types::Uuid;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use super::{args, ret};
use crate::client::Client;
use crate::registry::{Family, DOMAIN_EVENT_ID_LAST};

/// `VIR_NETWORK_EVENT_ID_LAST` in libvirt 9.0.
const NETWORK_EVENT_ID_LAST: i32 = 1;
/// `VIR_STORAGE_POOL_EVENT_ID_LAST`.
const STORAGE_POOL_EVENT_ID_LAST: i32 = 2;
/// `VIR_NODE_DEVICE_EVENT_ID_LAST`.
const NODE_DEVICE_EVENT_ID_LAST: i32 = 2;
/// `VIR_SECRET_EVENT_ID_LAST`.
const SECRET_EVENT_ID_LAST: i32 = 2;

/// libvirtd's errors here are `VIR_ERR_INTERNAL_ERROR` from `VIR_FROM_RPC`.
fn internal(message: String) -> VirError {
    VirError::new(ErrorDomain::Rpc, ErrorCode::InternalError, message)
}

fn check_id(event_id: i32, last: i32, what: &str) -> Result<(), VirError> {
    if (0..last).contains(&event_id) {
        Ok(())
    } else {
        Err(internal(format!("unsupported {what}event ID {event_id}")))
    }
}

/// Answers the event registration procedures; `None` for every other procedure.
pub(crate) async fn dispatch_events(
    client: &Client,
    drv: &Arc<dyn Hypervisor>,
    procedure: P,
    payload: &[u8],
) -> Option<Result<Vec<u8>, VirError>> {
    Some(match procedure {
        P::ConnectDomainEventCallbackRegisterAny
        | P::ConnectDomainEventCallbackDeregisterAny
        | P::ConnectDomainEventRegister
        | P::ConnectDomainEventDeregister
        | P::ConnectDomainEventRegisterAny
        | P::ConnectDomainEventDeregisterAny => domain(client, drv, procedure, payload).await,
        P::ConnectNetworkEventRegisterAny
        | P::ConnectStoragePoolEventRegisterAny
        | P::ConnectNodeDeviceEventRegisterAny
        | P::ConnectSecretEventRegisterAny => other_register(client, drv, procedure, payload),
        P::ConnectNetworkEventDeregisterAny
        | P::ConnectStoragePoolEventDeregisterAny
        | P::ConnectNodeDeviceEventDeregisterAny
        | P::ConnectSecretEventDeregisterAny => other_deregister(client, procedure, payload),
        _ => return None,
    })
}

/// The legacy procedures (167/168) stop at `VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED`: newer
/// events only exist in the callback form.
const LEGACY_EVENT_ID_LAST: i32 = 16;

async fn domain(
    client: &Client,
    drv: &Arc<dyn Hypervisor>,
    procedure: P,
    payload: &[u8],
) -> Result<Vec<u8>, VirError> {
    let lifecycle = 0;
    match procedure {
        P::ConnectDomainEventCallbackRegisterAny => {
            let a: ConnectDomainEventCallbackRegisterAnyArgs = args(payload)?;
            // As libvirtd: the domain must exist (the driver's error), then the ID is checked.
            let filter = match a.dom {
                Some(d) => Some(drv.lookup_by_uuid(&Uuid::from(d.uuid)).await?.uuid.into()),
                None => None,
            };
            check_id(a.event_id, DOMAIN_EVENT_ID_LAST, "")?;
            let callback_id =
                client.register_callback(drv, Family::Domain, a.event_id, filter, false);
            ret(&ConnectDomainEventCallbackRegisterAnyRet { callback_id })
        }
        P::ConnectDomainEventCallbackDeregisterAny => {
            let a: ConnectDomainEventCallbackDeregisterAnyArgs = args(payload)?;
            if !client.deregister_callback(Family::Domain, a.callback_id, false) {
                return Err(internal(format!(
                    "domain event callback {} not registered",
                    a.callback_id
                )));
            }
            super::void()
        }
        // libvirtd neither refuses a second legacy registration nor fills in the reply's
        // `cb_registered` (0).
        P::ConnectDomainEventRegister => {
            client.register_callback(drv, Family::Domain, lifecycle, None, true);
            ret(&ConnectDomainEventRegisterRet { cb_registered: 0 })
        }
        P::ConnectDomainEventRegisterAny => {
            let a: ConnectDomainEventRegisterAnyArgs = args(payload)?;
            check_id(a.event_id, LEGACY_EVENT_ID_LAST, "")?;
            client.register_callback(drv, Family::Domain, a.event_id, None, true);
            super::void()
        }
        _ => {
            // ConnectDomainEventDeregister / ConnectDomainEventDeregisterAny: the first
            // callback for the event goes, whichever way it was registered.
            let event_id = if procedure == P::ConnectDomainEventDeregister {
                lifecycle
            } else {
                let a: ConnectDomainEventRegisterAnyArgs = args(payload)?;
                check_id(a.event_id, LEGACY_EVENT_ID_LAST, "")?;
                a.event_id
            };
            if !client.deregister_callback(Family::Domain, event_id, true) {
                return Err(internal(format!("domain event {event_id} not registered")));
            }
            if procedure == P::ConnectDomainEventDeregister {
                ret(&ConnectDomainEventRegisterRet { cb_registered: 0 })
            } else {
                super::void()
            }
        }
    }
}

fn other_register(
    client: &Client,
    drv: &Arc<dyn Hypervisor>,
    procedure: P,
    payload: &[u8],
) -> Result<Vec<u8>, VirError> {
    let (family, event_id) = match procedure {
        P::ConnectNetworkEventRegisterAny => {
            let a: ConnectNetworkEventRegisterAnyArgs = args(payload)?;
            check_id(a.event_id, NETWORK_EVENT_ID_LAST, "network ")?;
            client.network_driver("virConnectNetworkEventRegisterAny")?;
            // libvirt filters by the UUID without looking the network up.
            let filter = a.net.map(|n| n.uuid);
            let callback_id =
                client.register_callback(drv, Family::Network, a.event_id, filter, false);
            return ret(&CallbackIdMsg { callback_id });
        }
        P::ConnectStoragePoolEventRegisterAny => {
            let a: ConnectStoragePoolEventRegisterAnyArgs = args(payload)?;
            check_id(a.event_id, STORAGE_POOL_EVENT_ID_LAST, "storage pool ")?;
            // As for networks, libvirt filters by the UUID without looking the pool up.
            // A connection without a storage driver (the test driver's) keeps the
            // registration; no event comes.
            let filter = a.pool.map(|p| p.uuid);
            let callback_id =
                client.register_callback(drv, Family::StoragePool, a.event_id, filter, false);
            return ret(&CallbackIdMsg { callback_id });
        }
        P::ConnectNodeDeviceEventRegisterAny => {
            let a: ConnectNodeDeviceEventRegisterAnyArgs = args(payload)?;
            check_id(a.event_id, NODE_DEVICE_EVENT_ID_LAST, "node device ")?;
            (Family::NodeDevice, a.event_id)
        }
        _ => {
            // The test driver has no secret driver: libvirt reports the API unsupported.
            let a: ConnectSecretEventRegisterAnyArgs = args(payload)?;
            check_id(a.event_id, SECRET_EVENT_ID_LAST, "secret ")?;
            return Err(VirError::new(
                ErrorDomain::Secret,
                ErrorCode::NoSupport,
                "virConnectSecretEventRegisterAny",
            ));
        }
    };
    // The test driver never emits these events; the registration only has to exist.
    let callback_id = client.register_callback(drv, family, event_id, None, false);
    ret(&CallbackIdMsg { callback_id })
}

fn other_deregister(client: &Client, procedure: P, payload: &[u8]) -> Result<Vec<u8>, VirError> {
    let a: CallbackIdMsg = args(payload)?;
    let (family, what) = match procedure {
        P::ConnectNetworkEventDeregisterAny => (Some(Family::Network), "network"),
        P::ConnectStoragePoolEventDeregisterAny => (Some(Family::StoragePool), "storage pool"),
        P::ConnectNodeDeviceEventDeregisterAny => (Some(Family::NodeDevice), "node device"),
        _ => (None, "secret"),
    };
    let removed = family.is_some_and(|f| client.deregister_callback(f, a.callback_id, false));
    if !removed {
        return Err(internal(format!(
            "{what} event callback {} not registered",
            a.callback_id
        )));
    }
    super::void()
}
