//! Host statistics and placement facts: CPU and memory statistics, the CPU map, free
//! pages, domain capabilities. As libvirtd, the "how many" form of the statistics calls
//! (`nparams` 0) answers only the count.

use oxvirt_domain::driver::Hypervisor;
use oxvirt_rpc::remote::*;
use oxvirt_rpc::xdr::Opaque;
use oxvirt_rpc::RemoteProcedure as P;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use super::{args, ret};

/// `VIR_ERR_INTERNAL_ERROR` as libvirtd reports a request over the protocol's limits.
pub(crate) fn internal(message: &str) -> VirError {
    VirError::new(ErrorDomain::Rpc, ErrorCode::InternalError, message)
}

/// `VIR_ERR_INVALID_ARG` in the domain error domain as libvirt's public-API argument
/// checks raise it (`virReportInvalidArg` and friends): the bare sentence.
pub(crate) fn invalid_arg(message: String) -> VirError {
    VirError::raw(ErrorDomain::Domain, ErrorCode::InvalidArg, message)
}

/// The counters the caller has room for: all of them when it asked how many (`nparams`
/// 0, answered with the count only), else at most `nparams`.
fn counted<T>(all: Vec<T>, nparams: i32) -> (Vec<T>, i32) {
    let count = i32::try_from(all.len()).unwrap_or(i32::MAX);
    if nparams == 0 {
        return (Vec::new(), count);
    }
    let mut all = all;
    all.truncate(usize::try_from(nparams).unwrap_or(0));
    (all, 0)
}

/// Serves the node statistics procedures; anything else goes on to the placement ones.
pub(crate) async fn dispatch_node(
    drv: &dyn Hypervisor,
    procedure: P,
    payload: &[u8],
) -> Result<Vec<u8>, VirError> {
    match procedure {
        P::NodeGetCpuStats => {
            let a: NodeGetCpuStatsArgs = args(payload)?;
            if a.nparams > NODE_CPU_STATS_MAX as i32 {
                return Err(internal("nparams too large"));
            }
            if a.nparams < 0 {
                return Err(invalid_arg(
                    "nparams in virNodeGetCPUStats must be zero or greater".into(),
                ));
            }
            if a.cpu_num < -1 {
                return Err(invalid_arg(
                    "cpuNum in virNodeGetCPUStats only accepts -1 as a negative value".into(),
                ));
            }
            let all = drv.node_cpu_stats(a.cpu_num, a.flags).await?;
            let (params, nparams) = counted(all, a.nparams);
            ret(&NodeGetCpuStatsRet {
                params: params
                    .into_iter()
                    .map(|(field, value)| NodeGetCpuStats { field, value })
                    .collect(),
                nparams,
            })
        }
        P::NodeGetMemoryStats => {
            let a: NodeGetMemoryStatsArgs = args(payload)?;
            if a.nparams > NODE_MEMORY_STATS_MAX as i32 {
                return Err(internal("nparams too large"));
            }
            if a.nparams < 0 {
                return Err(invalid_arg(
                    "nparams in virNodeGetMemoryStats must be zero or greater".into(),
                ));
            }
            if a.cell_num < -1 {
                return Err(invalid_arg(
                    "cellNum in virNodeGetMemoryStats only accepts -1 as a negative value".into(),
                ));
            }
            let all = drv.node_memory_stats(a.cell_num, a.flags).await?;
            let (params, nparams) = counted(all, a.nparams);
            ret(&NodeGetMemoryStatsRet {
                params: params
                    .into_iter()
                    .map(|(field, value)| NodeGetMemoryStats { field, value })
                    .collect(),
                nparams,
            })
        }
        P::NodeGetCpuMap => {
            let a: NodeGetCpuMapArgs = args(payload)?;
            let m = drv.node_cpu_map(a.flags).await?;
            let mut map = Vec::new();
            if a.need_map != 0 {
                map = m.online_map.0;
                map.resize((m.cpus as usize).div_ceil(8), 0);
            }
            ret(&NodeGetCpuMapRet {
                cpumap: Opaque(map),
                online: if a.need_online != 0 { m.online } else { 0 },
                ret: i32::try_from(m.cpus).unwrap_or(i32::MAX),
            })
        }
        P::NodeGetFreePages => {
            let a: NodeGetFreePagesArgs = args(payload)?;
            let wanted = (a.pages.len() as u64) * u64::from(a.cell_count);
            if wanted > NODE_MAX_CELLS as u64 {
                return Err(VirError::new(
                    ErrorDomain::Rpc,
                    ErrorCode::Rpc,
                    "the result won't fit into REMOTE_NODE_MAX_CELLS",
                ));
            }
            if a.pages.is_empty() {
                return Err(invalid_arg(
                    "npages in virNodeGetFreePages must not be zero".into(),
                ));
            }
            if a.cell_count == 0 {
                return Err(invalid_arg(
                    "cellCount in virNodeGetFreePages must not be zero".into(),
                ));
            }
            let mut counts = drv
                .node_free_pages(&a.pages, a.start_cell, a.cell_count, a.flags)
                .await?;
            counts.resize(wanted as usize, 0);
            ret(&NodeGetFreePagesRet { counts })
        }
        P::ConnectGetDomainCapabilities => {
            let a: ConnectGetDomainCapabilitiesArgs = args(payload)?;
            let capabilities = drv
                .domain_capabilities(
                    a.emulatorbin.as_deref(),
                    a.arch.as_deref(),
                    a.machine.as_deref(),
                    a.virttype.as_deref(),
                    a.flags,
                )
                .await?;
            ret(&ConnectGetDomainCapabilitiesRet { capabilities })
        }
        other => super::placement::dispatch_placement(drv, other, payload).await,
    }
}
