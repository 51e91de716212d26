//! The one place that maps a REMOTE procedure to a driver call: decode the arguments,
//! check read-only access, call the driver, encode the result.

use oxvirt_domain::driver::DomainRef;
use oxvirt_rpc::remote::*;
use oxvirt_rpc::types::NonnullDomain;
use oxvirt_rpc::xdr::{decode_from, encode_to_vec};
use oxvirt_rpc::{CharArray, FixedChars, RemoteProcedure as P, XdrDecode, XdrEncode};
use oxvirt_xml::types::Uuid;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use crate::client::Client;
use crate::extra::*;

mod domain;
mod events;

/// `VIR_DRV_FEATURE_PROGRAM_KEEPALIVE`.
pub const FEATURE_PROGRAM_KEEPALIVE: i32 = 10;
/// `VIR_DRV_FEATURE_REMOTE_CLOSE_CALLBACK`.
pub const FEATURE_REMOTE_CLOSE_CALLBACK: i32 = 15;
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

fn denied(function: &str) -> VirError {
    VirError::new(
        ErrorDomain::Domain,
        ErrorCode::OperationDenied,
        format!("read only access prevents {function}"),
    )
}

/// The public API function a mutating procedure stands for, `None` for read-only ones.
pub fn mutating_function(procedure: P) -> Option<&'static str> {
    Some(match procedure {
        P::DomainCreate => "virDomainCreate",
        P::DomainCreateWithFlags => "virDomainCreateWithFlags",
        P::DomainCreateXml => "virDomainCreateXML",
        P::DomainDefineXml => "virDomainDefineXML",
        P::DomainDefineXmlFlags => "virDomainDefineXMLFlags",
        P::DomainUndefine => "virDomainUndefine",
        P::DomainUndefineFlags => "virDomainUndefineFlags",
        P::DomainDestroy => "virDomainDestroy",
        P::DomainDestroyFlags => "virDomainDestroyFlags",
        P::DomainShutdown => "virDomainShutdown",
        P::DomainShutdownFlags => "virDomainShutdownFlags",
        P::DomainReboot => "virDomainReboot",
        P::DomainSuspend => "virDomainSuspend",
        P::DomainResume => "virDomainResume",
        P::DomainSetAutostart => "virDomainSetAutostart",
        _ => return None,
    })
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

pub(crate) fn dref(dom: NonnullDomain) -> DomainRef {
    DomainRef {
        name: dom.name,
        uuid: Uuid::from(dom.uuid),
        id: dom.id,
    }
}

pub(crate) fn wire(dom: DomainRef) -> NonnullDomain {
    NonnullDomain {
        name: dom.name,
        uuid: dom.uuid.into(),
        id: dom.id,
    }
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
            let supported = matches!(
                a.feature,
                FEATURE_PROGRAM_KEEPALIVE | FEATURE_REMOTE_CLOSE_CALLBACK
            );
            return ret(&ConnectSupportsFeatureRet {
                supported: int(supported),
            });
        }
        P::ConnectOpen => {
            let a: ConnectOpenArgs = args(payload)?;
            client.open(a.name.as_deref(), a.flags)?;
            return void();
        }
        _ => {}
    }
    let drv = client.driver()?;
    if let Some(function) = mutating_function(procedure) {
        if client.readonly() {
            return Err(denied(function));
        }
    }
    if procedure == P::DomainGetXmlDesc && client.readonly() {
        let a: DomainGetXmlDescArgs = args(payload)?;
        if a.flags & XML_SECURE != 0 {
            return Err(VirError::new(
                ErrorDomain::Domain,
                ErrorCode::OperationDenied,
                "virDomainGetXMLDesc with secure flag",
            ));
        }
    }
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
            let a: GetMaxVcpusArgs = args(payload)?;
            let max = drv.max_vcpus(a.r#type.as_deref()).await?;
            ret(&GetMaxVcpusRet {
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
            let doms = drv.list_all(a.flags).await?;
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
            let n = drv
                .list_all(0)
                .await?
                .iter()
                .filter(|d| d.is_active() == active)
                .count();
            ret(&NumRet { num: n as i32 })
        }
        P::ConnectListDomains => {
            let a: MaxArgs = args(payload)?;
            let mut ids: Vec<i32> = drv.list_all(0).await?.iter().map(|d| d.id).collect();
            ids.retain(|&id| id >= 0);
            ids.truncate(usize::try_from(a.max).unwrap_or(0));
            ret(&ListIdsRet { ids })
        }
        P::ConnectListDefinedDomains => {
            let a: MaxArgs = args(payload)?;
            let mut names: Vec<String> = drv
                .list_all(0)
                .await?
                .into_iter()
                .filter(|d| !d.is_active())
                .map(|d| d.name)
                .collect();
            names.truncate(usize::try_from(a.max).unwrap_or(0));
            ret(&ListNamesRet { names })
        }
        P::DomainLookupByName => {
            let a: DomainLookupByNameArgs = args(payload)?;
            ret(&DomRet {
                dom: wire(drv.lookup_by_name(&a.name).await?),
            })
        }
        P::DomainLookupByUuid => {
            let a: DomainLookupByUuidArgs = args(payload)?;
            ret(&DomRet {
                dom: wire(drv.lookup_by_uuid(&Uuid::from(a.uuid)).await?),
            })
        }
        P::DomainLookupById => {
            let a: DomainLookupByIdArgs = args(payload)?;
            ret(&DomRet {
                dom: wire(drv.lookup_by_id(a.id).await?),
            })
        }
        _ => {
            if let Some(result) = events::dispatch_events(client, &drv, procedure, payload).await {
                return result;
            }
            domain::dispatch_domain(drv.as_ref(), procedure, payload).await
        }
    }
}
