//! The one place that maps a REMOTE procedure to a driver call: decode the arguments,
//! check read-only access and the access policy ([`crate::access`]), call the driver,
//! encode the result.

use oxvirt_domain::driver::{flags, DomainRef};
use oxvirt_rpc::remote::*;
use oxvirt_rpc::types::NonnullDomain;
use oxvirt_rpc::xdr::{decode_from, encode_to_vec};
use oxvirt_rpc::{CharArray, FixedChars, RemoteProcedure as P, XdrDecode, XdrEncode};
use oxvirt_xml::types::Uuid;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use crate::client::Client;

mod domain;
mod events;
mod host;
mod ifaddr;
mod migrate;
mod migrate_tunnel;
pub(crate) mod network;
mod node;
mod placement;
mod resources;
mod save;
mod snapshot;
pub(crate) mod storage;
pub mod stream;
#[cfg(test)]
mod tests;

/// `VIR_DRV_FEATURE_PROGRAM_KEEPALIVE`.
pub const FEATURE_PROGRAM_KEEPALIVE: i32 = 10;
/// The features libvirtd 9.0 confirms on a `test:///default` connection (probed 0..30):
/// TYPED_PARAM_STRING 8, XML_MIGRATABLE 9, PROGRAM_KEEPALIVE 10, REMOTE_EVENT_CALLBACK 14
/// (clients then register events with 316 rather than the legacy 105/167),
/// REMOTE_CLOSE_CALLBACK 15, NETWORK_UPDATE_HAS_CORRECT_ORDER 16.
pub const SUPPORTED_FEATURES: [i32; 6] = [8, 9, FEATURE_PROGRAM_KEEPALIVE, 14, 15, 16];
/// The migration features libvirtd's QEMU driver confirms besides, which a client checks
/// before it migrates (`virDomainMigrate3`): MIGRATION_P2P 4 (`VIR_MIGRATE_PEER2PEER`:
/// the daemon drives the destination itself), MIGRATION_V3 6, MIGRATE_CHANGE_PROTECTION 7
/// (the client then adds `VIR_MIGRATE_CHANGE_PROTECTION` to the source's phases),
/// MIGRATION_OFFLINE 12 (`VIR_MIGRATE_OFFLINE`), MIGRATION_PARAMS 13 (the
/// typed-parameter procedures 302-307).
pub const QEMU_MIGRATION_FEATURES: [i32; 5] = [4, 6, 7, 12, 13];
/// `VIR_DOMAIN_XML_SECURE`.
const XML_SECURE: u32 = 1;

/// libvirt's answer to a procedure the server does not know.
pub fn unknown_procedure(number: i32) -> VirError {
    VirError::new(
        ErrorDomain::Rpc,
        ErrorCode::Rpc,
        format!("unknown procedure: {number}"),
    )
}

/// libvirt's `virCheckReadOnlyGoto`: `VIR_ERR_OPERATION_DENIED` in the error domain of
/// the API's family.
pub fn denied(function: &str) -> VirError {
    VirError::new(
        crate::extra::api_error_domain(function),
        ErrorCode::OperationDenied,
        format!("read only access prevents {function}"),
    )
}

/// The procedures a read-only connection may not call (their public API starts with
/// `virCheckReadOnlyGoto`).
const MUTATING: &[P] = &[
    P::DomainCreate,
    P::DomainCreateWithFlags,
    P::DomainCreateXml,
    P::DomainDefineXml,
    P::DomainDefineXmlFlags,
    P::DomainUndefine,
    P::DomainUndefineFlags,
    P::DomainDestroy,
    P::DomainDestroyFlags,
    P::DomainShutdown,
    P::DomainShutdownFlags,
    P::DomainReboot,
    P::DomainReset,
    P::DomainSuspend,
    P::DomainResume,
    P::DomainSetAutostart,
    P::DomainSave,
    P::DomainSaveFlags,
    P::DomainRestore,
    P::DomainRestoreFlags,
    P::DomainSaveImageGetXmlDesc,
    P::DomainSaveImageDefineXml,
    P::DomainManagedSave,
    P::DomainManagedSaveRemove,
    P::DomainSnapshotCreateXml,
    P::DomainRevertToSnapshot,
    P::DomainSnapshotDelete,
    P::DomainSetMemory,
    P::DomainSetMaxMemory,
    P::DomainSetMemoryFlags,
    P::DomainSetVcpus,
    P::DomainSetVcpusFlags,
    P::DomainAttachDevice,
    P::DomainAttachDeviceFlags,
    P::DomainDetachDevice,
    P::DomainDetachDeviceFlags,
    P::DomainUpdateDeviceFlags,
    P::DomainSetMetadata,
    P::DomainAbortJob,
    P::DomainPinVcpu,
    P::DomainPinVcpuFlags,
    P::DomainPinEmulator,
    P::DomainPinIothread,
    P::DomainSetNumaParameters,
    P::NetworkCreate,
    P::NetworkCreateXml,
    P::NetworkCreateXmlFlags,
    P::NetworkDefineXml,
    P::NetworkDefineXmlFlags,
    P::NetworkUndefine,
    P::NetworkDestroy,
    P::NetworkSetAutostart,
    P::NetworkUpdate,
];

/// The public API function a mutating procedure stands for (`virDomainSaveFlags`),
/// `None` for read-only ones: the served procedures listed in `MUTATING`, and every other
/// procedure whose public API libvirt refuses on a read-only connection (libvirtd checks
/// that before it finds the driver lacks the call).
pub fn mutating_function(procedure: P) -> Option<String> {
    let function = crate::extra::public_function(procedure)?;
    (MUTATING.contains(&procedure) || crate::extra::denied_when_readonly(&function))
        .then_some(function)
}

/// The read-only gate: mutating procedures, and the reading ones whose flags ask for
/// secrets or the guest agent, are refused on a read-only connection.
fn check_readonly(procedure: P, payload: &[u8]) -> Result<(), VirError> {
    if let Some(function) = mutating_function(procedure) {
        return Err(denied(&function));
    }
    let with_secure = |function: &str| {
        VirError::new(
            crate::extra::api_error_domain(function),
            ErrorCode::OperationDenied,
            format!("{function} with secure flag"),
        )
    };
    match procedure {
        P::DomainGetXmlDesc => {
            let a: DomainGetXmlDescArgs = args(payload)?;
            if a.flags & XML_SECURE != 0 {
                return Err(with_secure("virDomainGetXMLDesc"));
            }
        }
        P::DomainSnapshotGetXmlDesc => {
            let a: DomainSnapshotGetXmlDescArgs = args(payload)?;
            if a.flags & XML_SECURE != 0 {
                return Err(with_secure("virDomainSnapshotGetXMLDesc"));
            }
        }
        P::DomainGetVcpusFlags => {
            let a: DomainGetVcpusFlagsArgs = args(payload)?;
            if a.flags & flags::vcpu::GUEST != 0 {
                return Err(denied("virDomainGetVcpusFlags"));
            }
        }
        _ => {}
    }
    Ok(())
}

/// The records of `reply` (CONNECT_GET_ALL_DOMAIN_STATS) for the domains the client may
/// read (libvirt's `@aclfilter: domain:read`).
fn visible_stats(client: &Client, reply: Vec<u8>) -> Result<Vec<u8>, VirError> {
    let Some(filter) = crate::access::Filter::for_call(client, P::ConnectGetAllDomainStats) else {
        return Ok(reply);
    };
    let mut r: ConnectGetAllDomainStatsRet = args(&reply)?;
    r.ret_stats
        .retain(|s| filter.shows(&s.dom.name, &Uuid::from(s.dom.uuid)));
    ret(&r)
}

pub(crate) fn args<T: XdrDecode>(payload: &[u8]) -> Result<T, VirError> {
    decode_from(payload).map_err(|e| e.to_vir_error())
}

pub(crate) fn ret<T: XdrEncode>(value: &T) -> Result<Vec<u8>, VirError> {
    Ok(encode_to_vec(value))
}

pub(crate) fn void() -> Result<Vec<u8>, VirError> {
    Ok(Vec::new())
}

/// A wire domain as the driver names it.
pub(crate) fn dref(dom: NonnullDomain) -> DomainRef {
    dom.into()
}

/// A driver domain as it travels.
pub(crate) fn wire(dom: DomainRef) -> NonnullDomain {
    dom.into()
}

pub(crate) fn int(b: bool) -> i32 {
    i32::from(b)
}

/// Runs procedure `number` of the REMOTE program with XDR `payload`; the result is the
/// XDR-encoded reply payload, or the error to send.
pub async fn dispatch(client: &Client, number: i32, payload: &[u8]) -> Result<Vec<u8>, VirError> {
    let procedure = P::from_number(number).ok_or_else(|| unknown_procedure(number))?;
    match procedure {
        P::AuthList => {
            return ret(&AuthListRet {
                types: vec![AuthType::None],
            })
        }
        P::ConnectSupportsFeature => {
            let a: ConnectSupportsFeatureArgs = args(payload)?;
            if a.feature != FEATURE_PROGRAM_KEEPALIVE && !client.is_open() {
                return Err(crate::client::not_open());
            }
            if a.feature == FEATURE_PROGRAM_KEEPALIVE {
                client.keepalive_requested();
            }
            let qemu = client
                .driver()
                .is_ok_and(|drv| drv.hypervisor_type() == "QEMU");
            let supported = SUPPORTED_FEATURES.contains(&a.feature)
                || (qemu && QEMU_MIGRATION_FEATURES.contains(&a.feature));
            return ret(&ConnectSupportsFeatureRet {
                supported: int(supported),
            });
        }
        P::ConnectOpen => {
            let a: ConnectOpenArgs = args(payload)?;
            crate::access::check_open(client, a.name.as_deref(), a.flags)?;
            client.open(a.name.as_deref(), a.flags)?;
            return void();
        }
        _ => {}
    }
    let drv = client.driver()?;
    if client.readonly() {
        check_readonly(procedure, payload)?;
    }
    // Access control: after the read-only gate (libvirt's public API checks that first,
    // its drivers the ACL), before the driver is called.
    crate::access::check(client, drv.as_ref(), procedure, payload).await?;
    match procedure {
        P::ConnectClose => {
            client.close();
            void()
        }
        P::ConnectRegisterCloseCallback | P::ConnectUnregisterCloseCallback => void(),
        P::ConnectGetType => ret(&ConnectGetTypeRet {
            r#type: drv.hypervisor_type().to_owned(),
        }),
        P::ConnectGetVersion => ret(&ConnectGetVersionRet {
            hv_ver: drv.version().await?,
        }),
        P::ConnectGetLibVersion => ret(&ConnectGetLibVersionRet {
            lib_ver: crate::LIB_VERSION,
        }),
        P::ConnectGetHostname => ret(&ConnectGetHostnameRet {
            hostname: drv.hostname().await?,
        }),
        P::ConnectGetUri => ret(&ConnectGetUriRet { uri: drv.uri() }),
        P::ConnectGetCapabilities => ret(&ConnectGetCapabilitiesRet {
            capabilities: drv.capabilities().await?,
        }),
        P::ConnectGetMaxVcpus => {
            let a: ConnectGetMaxVcpusArgs = args(payload)?;
            let max = drv.max_vcpus(a.r#type.as_deref()).await?;
            ret(&ConnectGetMaxVcpusRet {
                max_vcpus: i32::try_from(max).unwrap_or(i32::MAX),
            })
        }
        P::NodeGetInfo => {
            let n = drv.node_info().await?;
            let c = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
            ret(&NodeGetInfoRet {
                model: FixedChars(n.model),
                memory: n.memory_kib,
                cpus: c(n.cpus),
                mhz: c(n.mhz),
                nodes: c(n.nodes),
                sockets: c(n.sockets),
                cores: c(n.cores),
                threads: c(n.threads),
            })
        }
        P::NodeGetSecurityModel => {
            let m = drv.security_model().await?;
            ret(&NodeGetSecurityModelRet {
                model: CharArray(m.model),
                doi: CharArray(m.doi),
            })
        }
        P::ConnectListAllDomains => {
            let a: ConnectListAllDomainsArgs = args(payload)?;
            let mut doms = drv.list_all(a.flags).await?;
            crate::access::filter_domains(client, procedure, &mut doms);
            let count = doms.len() as u32;
            let domains = if a.need_results != 0 {
                doms.into_iter().map(wire).collect()
            } else {
                Vec::new()
            };
            ret(&ConnectListAllDomainsRet {
                domains,
                ret: count,
            })
        }
        P::ConnectNumOfDomains | P::ConnectNumOfDefinedDomains => {
            let active = procedure == P::ConnectNumOfDomains;
            let mut doms = drv.list_all(0).await?;
            crate::access::filter_domains(client, procedure, &mut doms);
            let n = doms.iter().filter(|d| d.is_active() == active).count();
            ret(&ConnectNumOfDomainsRet { num: n as i32 })
        }
        P::ConnectListDomains => {
            let a: ConnectListDomainsArgs = args(payload)?;
            let mut doms = drv.list_all(0).await?;
            crate::access::filter_domains(client, procedure, &mut doms);
            let mut ids: Vec<i32> = doms.iter().map(|d| d.id).collect();
            ids.retain(|&id| id >= 0);
            ids.truncate(usize::try_from(a.maxids).unwrap_or(0));
            ret(&ConnectListDomainsRet { ids })
        }
        P::ConnectListDefinedDomains => {
            let a: ConnectListDefinedDomainsArgs = args(payload)?;
            let mut doms = drv.list_all(0).await?;
            crate::access::filter_domains(client, procedure, &mut doms);
            let mut names: Vec<String> = doms
                .into_iter()
                .filter(|d| !d.is_active())
                .map(|d| d.name)
                .collect();
            names.truncate(usize::try_from(a.maxnames).unwrap_or(0));
            ret(&ConnectListDefinedDomainsRet { names })
        }
        P::DomainLookupByName => {
            let a: DomainLookupByNameArgs = args(payload)?;
            ret(&DomainLookupByNameRet {
                dom: wire(drv.lookup_by_name(&a.name).await?),
            })
        }
        P::DomainLookupByUuid => {
            let a: DomainLookupByUuidArgs = args(payload)?;
            ret(&DomainLookupByUuidRet {
                dom: wire(drv.lookup_by_uuid(&Uuid::from(a.uuid)).await?),
            })
        }
        P::DomainLookupById => {
            let a: DomainLookupByIdArgs = args(payload)?;
            ret(&DomainLookupByIdRet {
                dom: wire(drv.lookup_by_id(a.id).await?),
            })
        }
        _ => {
            if let Some(result) = events::dispatch_events(client, &drv, procedure, payload).await {
                return result;
            }
            if let Some(result) = network::dispatch_network(client, procedure, payload).await {
                return result;
            }
            if let Some(result) = storage::dispatch_storage(client, procedure, payload).await {
                return result;
            }
            if let Some(result) =
                migrate::dispatch_migrate(client, drv.as_ref(), procedure, payload).await
            {
                return result;
            }
            let reply = domain::dispatch_domain(drv.as_ref(), procedure, payload).await?;
            if procedure == P::ConnectGetAllDomainStats {
                return visible_stats(client, reply);
            }
            Ok(reply)
        }
    }
}
