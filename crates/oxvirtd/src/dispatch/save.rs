//! Saving a domain's state to a file and starting it again: save/restore, saved-image
//! XML, managed save.

use oxvirt_domain::driver::Hypervisor;
use oxvirt_rpc::remote::*;
use oxvirt_rpc::RemoteProcedure as P;
use oxvirt_xml::VirError;

use super::{args, dref, ret, void};

/// Serves the save procedures; anything else goes on to the host procedures.
pub(crate) async fn dispatch_save(
    drv: &dyn Hypervisor,
    procedure: P,
    payload: &[u8],
) -> Result<Vec<u8>, VirError> {
    match procedure {
        P::DomainSave => {
            let a: DomainSaveArgs = args(payload)?;
            drv.save(&dref(a.dom), &a.to, None, 0).await?;
            void()
        }
        P::DomainSaveFlags => {
            let a: DomainSaveFlagsArgs = args(payload)?;
            drv.save(&dref(a.dom), &a.to, a.dxml.as_deref(), a.flags)
                .await?;
            void()
        }
        P::DomainRestore => {
            let a: DomainRestoreArgs = args(payload)?;
            drv.restore(&a.from, None, 0).await?;
            void()
        }
        P::DomainRestoreFlags => {
            let a: DomainRestoreFlagsArgs = args(payload)?;
            drv.restore(&a.from, a.dxml.as_deref(), a.flags).await?;
            void()
        }
        P::DomainSaveImageGetXmlDesc => {
            let a: DomainSaveImageGetXmlDescArgs = args(payload)?;
            ret(&DomainSaveImageGetXmlDescRet {
                xml: drv.save_image_xml(&a.file, a.flags).await?,
            })
        }
        P::DomainSaveImageDefineXml => {
            let a: DomainSaveImageDefineXmlArgs = args(payload)?;
            drv.save_image_define_xml(&a.file, &a.dxml, a.flags).await?;
            void()
        }
        P::DomainManagedSave => {
            let a: DomainManagedSaveArgs = args(payload)?;
            drv.managed_save(&dref(a.dom), a.flags).await?;
            void()
        }
        P::DomainManagedSaveRemove => {
            let a: DomainManagedSaveRemoveArgs = args(payload)?;
            drv.managed_save_remove(&dref(a.dom), a.flags).await?;
            void()
        }
        other => super::host::dispatch_host(drv, other, payload).await,
    }
}
