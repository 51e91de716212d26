//! Host-wide procedures: free memory, transport security, all-domain statistics. The
//! rest goes on to the node statistics and placement procedures.

use oxvirt_domain::driver::Hypervisor;
use oxvirt_rpc::remote::*;
use oxvirt_rpc::RemoteProcedure as P;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use super::{args, dref, ret, wire};

/// Serves the host procedures; anything else goes on to the node procedures.
pub(crate) async fn dispatch_host(
    drv: &dyn Hypervisor,
    procedure: P,
    payload: &[u8],
) -> Result<Vec<u8>, VirError> {
    match procedure {
        P::NodeGetFreeMemory => ret(&NodeGetFreeMemoryRet {
            free_mem: drv.free_memory().await?,
        }),
        P::NodeGetCellsFreeMemory => {
            let a: NodeGetCellsFreeMemoryArgs = args(payload)?;
            if a.maxcells > NODE_MAX_CELLS as i32 {
                return Err(VirError::new(
                    ErrorDomain::Rpc,
                    ErrorCode::Rpc,
                    "maxCells > REMOTE_NODE_MAX_CELLS",
                ));
            }
            // libvirt's public API, which libvirtd calls
            let f = "virNodeGetCellsFreeMemory";
            if a.start_cell < 0 {
                return Err(super::node::invalid_arg(format!(
                    "startCell in {f} must be zero or greater"
                )));
            }
            if a.maxcells <= 0 {
                return Err(super::node::invalid_arg(format!(
                    "maxCells in {f} must be greater than zero"
                )));
            }
            ret(&NodeGetCellsFreeMemoryRet {
                cells: drv.cells_free_memory(a.start_cell, a.maxcells).await?,
            })
        }
        P::ConnectGetSysinfo => {
            let a: ConnectGetSysinfoArgs = args(payload)?;
            ret(&ConnectGetSysinfoRet {
                sysinfo: drv.sysinfo(a.flags).await?,
            })
        }
        // The test driver calls itself secure (libvirtd answers its driver's word); whether
        // the transport is encrypted the client works out itself: there is no procedure.
        P::ConnectIsSecure => ret(&ConnectIsSecureRet { secure: 1 }),
        P::ConnectGetAllDomainStats => {
            let a: ConnectGetAllDomainStatsArgs = args(payload)?;
            let doms: Vec<_> = a.doms.into_iter().map(dref).collect();
            let records = drv.domain_stats(&doms, a.stats, a.flags).await?;
            let ret_stats = records
                .into_iter()
                .map(|r| DomainStatsRecord {
                    dom: wire(r.domain),
                    params: r.params.into_iter().map(TypedParam::from).collect(),
                })
                .collect();
            ret(&ConnectGetAllDomainStatsRet { ret_stats })
        }
        other => super::node::dispatch_node(drv, other, payload).await,
    }
}
