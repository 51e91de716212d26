//! The per-domain procedures: lifecycle, definition and queries.

use oxvirt_domain::driver::Hypervisor;
use oxvirt_rpc::remote::*;
use oxvirt_rpc::{CharArray, RemoteProcedure as P};
use oxvirt_xml::VirError;

use super::{args, dref, int, ret, void, wire};

/// Dispatches the domain procedures; anything else goes on to the resource procedures.
pub(crate) async fn dispatch_domain(
    drv: &dyn Hypervisor,
    procedure: P,
    payload: &[u8],
) -> Result<Vec<u8>, VirError> {
    match procedure {
        P::DomainGetInfo => {
            let a: DomainGetInfoArgs = args(payload)?;
            let i = drv.info(&dref(a.dom)).await?;
            ret(&DomainGetInfoRet {
                state: i.state.number() as u8,
                max_mem: i.max_mem_kib,
                memory: i.memory_kib,
                nr_virt_cpu: u16::try_from(i.nr_virt_cpu).unwrap_or(u16::MAX),
                cpu_time: i.cpu_time_ns,
            })
        }
        P::DomainGetState => {
            let a: DomainGetStateArgs = args(payload)?;
            let s = drv.state(&dref(a.dom), a.flags).await?;
            ret(&DomainGetStateRet {
                state: s.state().number(),
                reason: s.reason(),
            })
        }
        P::DomainGetXmlDesc => {
            let a: DomainGetXmlDescArgs = args(payload)?;
            ret(&DomainGetXmlDescRet {
                xml: drv.xml_desc(&dref(a.dom), a.flags).await?,
            })
        }
        P::DomainGetOsType => {
            let a: DomainGetOsTypeArgs = args(payload)?;
            ret(&DomainGetOsTypeRet {
                r#type: drv.os_type(&dref(a.dom)).await?,
            })
        }
        P::DomainGetAutostart => {
            let a: DomainGetAutostartArgs = args(payload)?;
            ret(&DomainGetAutostartRet {
                autostart: int(drv.autostart(&dref(a.dom)).await?),
            })
        }
        P::DomainSetAutostart => {
            let a: DomainSetAutostartArgs = args(payload)?;
            drv.set_autostart(&dref(a.dom), a.autostart != 0).await?;
            void()
        }
        P::DomainIsActive => {
            let a: DomainIsActiveArgs = args(payload)?;
            ret(&DomainIsActiveRet {
                active: int(drv.is_active(&dref(a.dom)).await?),
            })
        }
        P::DomainIsPersistent => {
            let a: DomainIsPersistentArgs = args(payload)?;
            ret(&DomainIsPersistentRet {
                persistent: int(drv.is_persistent(&dref(a.dom)).await?),
            })
        }
        P::DomainHasManagedSaveImage => {
            let a: DomainHasManagedSaveImageArgs = args(payload)?;
            ret(&DomainHasManagedSaveImageRet {
                result: int(drv.has_managed_save(&dref(a.dom), a.flags).await?),
            })
        }
        P::DomainGetSecurityLabel => {
            let a: DomainGetSecurityLabelArgs = args(payload)?;
            let l = drv.security_label(&dref(a.dom)).await?;
            ret(&DomainGetSecurityLabelRet {
                label: CharArray(l.label),
                enforcing: int(l.enforcing),
            })
        }
        P::DomainDefineXml => {
            let a: DomainDefineXmlArgs = args(payload)?;
            ret(&DomainDefineXmlRet {
                dom: wire(drv.define_xml(&a.xml, 0).await?),
            })
        }
        P::DomainDefineXmlFlags => {
            let a: DomainDefineXmlFlagsArgs = args(payload)?;
            ret(&DomainDefineXmlFlagsRet {
                dom: wire(drv.define_xml(&a.xml, a.flags).await?),
            })
        }
        P::DomainUndefine => {
            let a: DomainUndefineArgs = args(payload)?;
            drv.undefine(&dref(a.dom), 0).await?;
            void()
        }
        P::DomainUndefineFlags => {
            let a: DomainUndefineFlagsArgs = args(payload)?;
            drv.undefine(&dref(a.dom), a.flags).await?;
            void()
        }
        P::DomainCreate => {
            let a: DomainCreateArgs = args(payload)?;
            drv.create(&dref(a.dom), 0).await?;
            void()
        }
        P::DomainCreateWithFlags | P::DomainCreateWithFiles => {
            let a: DomainCreateWithFlagsArgs = args(payload)?;
            ret(&DomainCreateWithFlagsRet {
                dom: wire(drv.create(&dref(a.dom), a.flags).await?),
            })
        }
        // The test driver, like libvirt's, accepts the passed descriptors and ignores them.
        P::DomainCreateXml | P::DomainCreateXmlWithFiles => {
            let a: DomainCreateXmlArgs = args(payload)?;
            ret(&DomainCreateXmlRet {
                dom: wire(drv.create_xml(&a.xml_desc, a.flags).await?),
            })
        }
        P::DomainDestroy => {
            let a: DomainDestroyArgs = args(payload)?;
            drv.destroy(&dref(a.dom), 0).await?;
            void()
        }
        P::DomainDestroyFlags => {
            let a: DomainDestroyFlagsArgs = args(payload)?;
            drv.destroy(&dref(a.dom), a.flags).await?;
            void()
        }
        P::DomainShutdown => {
            let a: DomainShutdownArgs = args(payload)?;
            drv.shutdown(&dref(a.dom), 0).await?;
            void()
        }
        P::DomainShutdownFlags => {
            let a: DomainShutdownFlagsArgs = args(payload)?;
            drv.shutdown(&dref(a.dom), a.flags).await?;
            void()
        }
        P::DomainReboot => {
            let a: DomainRebootArgs = args(payload)?;
            drv.reboot(&dref(a.dom), a.flags).await?;
            void()
        }
        P::DomainSuspend => {
            let a: DomainSuspendArgs = args(payload)?;
            drv.suspend(&dref(a.dom)).await?;
            void()
        }
        P::DomainResume => {
            let a: DomainResumeArgs = args(payload)?;
            drv.resume(&dref(a.dom)).await?;
            void()
        }
        other => super::resources::dispatch_resources(drv, other, payload).await,
    }
}
