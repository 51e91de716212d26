//! Changing a domain's resources and reading them back: memory, vCPUs, devices,
//! metadata, reset, jobs and messages.

use oxvirt_domain::driver::flags;
use oxvirt_domain::driver::Hypervisor;
use oxvirt_rpc::remote::*;
use oxvirt_rpc::RemoteProcedure as P;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use super::{args, dref, int, ret, void};

/// libvirt's public-API check that an argument is not zero (`virCheckNonZeroArgGoto`).
fn nonzero(value: u64, arg: &str, function: &str) -> Result<(), VirError> {
    if value == 0 {
        return Err(VirError::raw(
            ErrorDomain::Domain,
            ErrorCode::InvalidArg,
            format!("{arg} in {function} must not be zero"),
        ));
    }
    Ok(())
}

fn clamp(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// Serves the resource procedures; anything else goes on to the snapshot procedures.
pub(crate) async fn dispatch_resources(
    drv: &dyn Hypervisor,
    procedure: P,
    payload: &[u8],
) -> Result<Vec<u8>, VirError> {
    match procedure {
        P::DomainGetMaxMemory => {
            let a: DomainGetMaxMemoryArgs = args(payload)?;
            ret(&DomainGetMaxMemoryRet {
                memory: drv.max_memory(&dref(a.dom)).await?,
            })
        }
        P::DomainSetMemory => {
            let a: DomainSetMemoryArgs = args(payload)?;
            nonzero(a.memory, "memory", "virDomainSetMemory")?;
            drv.set_memory(&dref(a.dom), a.memory, flags::affect::LIVE)
                .await?;
            void()
        }
        P::DomainSetMaxMemory => {
            let a: DomainSetMaxMemoryArgs = args(payload)?;
            nonzero(a.memory, "memory", "virDomainSetMaxMemory")?;
            drv.set_memory(&dref(a.dom), a.memory, flags::memory::MAXIMUM)
                .await?;
            void()
        }
        P::DomainSetMemoryFlags => {
            let a: DomainSetMemoryFlagsArgs = args(payload)?;
            nonzero(a.memory, "memory", "virDomainSetMemoryFlags")?;
            drv.set_memory(&dref(a.dom), a.memory, a.flags).await?;
            void()
        }
        P::DomainSetVcpus => {
            let a: DomainSetVcpusArgs = args(payload)?;
            nonzero(a.nvcpus.into(), "nvcpus", "virDomainSetVcpus")?;
            drv.set_vcpus(&dref(a.dom), a.nvcpus, flags::affect::LIVE)
                .await?;
            void()
        }
        P::DomainSetVcpusFlags => {
            let a: DomainSetVcpusFlagsArgs = args(payload)?;
            nonzero(a.nvcpus.into(), "nvcpus", "virDomainSetVcpusFlags")?;
            drv.set_vcpus(&dref(a.dom), a.nvcpus, a.flags).await?;
            void()
        }
        P::DomainGetVcpusFlags => {
            let a: DomainGetVcpusFlagsArgs = args(payload)?;
            ret(&DomainGetVcpusFlagsRet {
                num: clamp(drv.vcpus(&dref(a.dom), a.flags).await?),
            })
        }
        P::DomainGetMaxVcpus => {
            // Drivers answer virDomainGetMaxVcpus as GetVcpusFlags(LIVE | MAXIMUM).
            let a: DomainGetMaxVcpusArgs = args(payload)?;
            let n = drv
                .vcpus(&dref(a.dom), flags::affect::LIVE | flags::vcpu::MAXIMUM)
                .await?;
            ret(&DomainGetMaxVcpusRet { num: clamp(n) })
        }
        P::DomainAttachDevice => {
            let a: DomainAttachDeviceArgs = args(payload)?;
            drv.attach_device(&dref(a.dom), &a.xml, flags::affect::LIVE)
                .await?;
            void()
        }
        P::DomainAttachDeviceFlags => {
            let a: DomainAttachDeviceFlagsArgs = args(payload)?;
            drv.attach_device(&dref(a.dom), &a.xml, a.flags).await?;
            void()
        }
        P::DomainDetachDevice => {
            let a: DomainDetachDeviceArgs = args(payload)?;
            drv.detach_device(&dref(a.dom), &a.xml, flags::affect::LIVE)
                .await?;
            void()
        }
        P::DomainDetachDeviceFlags => {
            let a: DomainDetachDeviceFlagsArgs = args(payload)?;
            drv.detach_device(&dref(a.dom), &a.xml, a.flags).await?;
            void()
        }
        P::DomainUpdateDeviceFlags => {
            let a: DomainUpdateDeviceFlagsArgs = args(payload)?;
            drv.update_device(&dref(a.dom), &a.xml, a.flags).await?;
            void()
        }
        P::DomainSetMetadata => {
            let a: DomainSetMetadataArgs = args(payload)?;
            drv.set_metadata(
                &dref(a.dom),
                a.r#type,
                a.metadata.as_deref(),
                a.key.as_deref(),
                a.uri.as_deref(),
                a.flags,
            )
            .await?;
            void()
        }
        P::DomainGetMetadata => {
            let a: DomainGetMetadataArgs = args(payload)?;
            ret(&DomainGetMetadataRet {
                metadata: drv
                    .metadata(&dref(a.dom), a.r#type, a.uri.as_deref(), a.flags)
                    .await?,
            })
        }
        P::DomainReset => {
            let a: DomainResetArgs = args(payload)?;
            drv.reset(&dref(a.dom), a.flags).await?;
            void()
        }
        P::DomainIsUpdated => {
            let a: DomainIsUpdatedArgs = args(payload)?;
            ret(&DomainIsUpdatedRet {
                updated: int(drv.is_updated(&dref(a.dom)).await?),
            })
        }
        P::DomainGetMessages => {
            let a: DomainGetMessagesArgs = args(payload)?;
            ret(&DomainGetMessagesRet {
                msgs: drv.messages(&dref(a.dom), a.flags).await?,
            })
        }
        P::DomainGetJobInfo => {
            let a: DomainGetJobInfoArgs = args(payload)?;
            let j = drv.job_info(&dref(a.dom)).await?;
            ret(&DomainGetJobInfoRet {
                r#type: j.kind,
                time_elapsed: j.time_elapsed,
                time_remaining: j.time_remaining,
                data_total: j.data_total,
                data_processed: j.data_processed,
                data_remaining: j.data_remaining,
                mem_total: j.mem_total,
                mem_processed: j.mem_processed,
                mem_remaining: j.mem_remaining,
                file_total: j.file_total,
                file_processed: j.file_processed,
                file_remaining: j.file_remaining,
            })
        }
        P::DomainAbortJob => {
            let a: DomainAbortJobArgs = args(payload)?;
            drv.abort_job(&dref(a.dom)).await?;
            void()
        }
        other => super::snapshot::dispatch_snapshot(drv, other, payload).await,
    }
}
