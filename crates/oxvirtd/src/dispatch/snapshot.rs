//! Domain snapshot procedures: create, look up, list (modern and legacy calls), walk the
//! tree, revert and delete.

use oxvirt_domain::driver::{Hypervisor, SnapshotRef};
use oxvirt_rpc::remote::*;
use oxvirt_rpc::RemoteProcedure as P;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use super::{args, dref, int, ret, void};

/// A wire snapshot as the driver names it.
pub(crate) fn sref(snap: NonnullDomainSnapshot) -> SnapshotRef {
    snap.into()
}

/// A driver snapshot as it travels.
pub(crate) fn swire(snap: SnapshotRef) -> NonnullDomainSnapshot {
    snap.into()
}

/// The daemon's bound check on a legacy name list (libvirtd's generated stub).
fn check_maxnames(maxnames: i32) -> Result<usize, VirError> {
    if usize::try_from(maxnames).unwrap_or(0) > DOMAIN_SNAPSHOT_LIST_MAX {
        return Err(VirError::new(
            ErrorDomain::Rpc,
            ErrorCode::Rpc,
            "maxnames > REMOTE_DOMAIN_SNAPSHOT_LIST_MAX",
        ));
    }
    Ok(usize::try_from(maxnames).unwrap_or(0))
}

fn names(snaps: Vec<SnapshotRef>, max: usize) -> Vec<String> {
    snaps.into_iter().take(max).map(|s| s.name).collect()
}

fn count<T>(items: &[T]) -> i32 {
    i32::try_from(items.len()).unwrap_or(i32::MAX)
}

/// Serves the snapshot procedures; anything else goes on to save and restore.
pub(crate) async fn dispatch_snapshot(
    drv: &dyn Hypervisor,
    procedure: P,
    payload: &[u8],
) -> Result<Vec<u8>, VirError> {
    match procedure {
        P::DomainSnapshotCreateXml => {
            let a: DomainSnapshotCreateXmlArgs = args(payload)?;
            let snap = drv
                .snapshot_create(&dref(a.dom), &a.xml_desc, a.flags)
                .await?;
            ret(&DomainSnapshotCreateXmlRet { snap: swire(snap) })
        }
        P::DomainSnapshotGetXmlDesc => {
            let a: DomainSnapshotGetXmlDescArgs = args(payload)?;
            ret(&DomainSnapshotGetXmlDescRet {
                xml: drv.snapshot_xml(&sref(a.snap), a.flags).await?,
            })
        }
        P::DomainSnapshotNum => {
            let a: DomainSnapshotNumArgs = args(payload)?;
            let snaps = drv.snapshot_list(&dref(a.dom), a.flags).await?;
            ret(&DomainSnapshotNumRet { num: count(&snaps) })
        }
        P::DomainSnapshotListNames => {
            let a: DomainSnapshotListNamesArgs = args(payload)?;
            let max = check_maxnames(a.maxnames)?;
            let snaps = drv.snapshot_list(&dref(a.dom), a.flags).await?;
            ret(&DomainSnapshotListNamesRet {
                names: names(snaps, max),
            })
        }
        P::DomainListAllSnapshots => {
            let a: DomainListAllSnapshotsArgs = args(payload)?;
            let snaps = drv.snapshot_list(&dref(a.dom), a.flags).await?;
            let n = count(&snaps);
            let snapshots = if a.need_results != 0 {
                snaps.into_iter().map(swire).collect()
            } else {
                Vec::new()
            };
            ret(&DomainListAllSnapshotsRet { snapshots, ret: n })
        }
        P::DomainSnapshotNumChildren => {
            let a: DomainSnapshotNumChildrenArgs = args(payload)?;
            let snaps = drv.snapshot_list_children(&sref(a.snap), a.flags).await?;
            ret(&DomainSnapshotNumChildrenRet { num: count(&snaps) })
        }
        P::DomainSnapshotListChildrenNames => {
            let a: DomainSnapshotListChildrenNamesArgs = args(payload)?;
            let max = check_maxnames(a.maxnames)?;
            let snaps = drv.snapshot_list_children(&sref(a.snap), a.flags).await?;
            ret(&DomainSnapshotListChildrenNamesRet {
                names: names(snaps, max),
            })
        }
        P::DomainSnapshotListAllChildren => {
            let a: DomainSnapshotListAllChildrenArgs = args(payload)?;
            let snaps = drv
                .snapshot_list_children(&sref(a.snapshot), a.flags)
                .await?;
            let n = count(&snaps);
            let snapshots = if a.need_results != 0 {
                snaps.into_iter().map(swire).collect()
            } else {
                Vec::new()
            };
            ret(&DomainSnapshotListAllChildrenRet { snapshots, ret: n })
        }
        P::DomainSnapshotLookupByName => {
            let a: DomainSnapshotLookupByNameArgs = args(payload)?;
            let snap = drv.snapshot_lookup(&dref(a.dom), &a.name, a.flags).await?;
            ret(&DomainSnapshotLookupByNameRet { snap: swire(snap) })
        }
        P::DomainHasCurrentSnapshot => {
            let a: DomainHasCurrentSnapshotArgs = args(payload)?;
            ret(&DomainHasCurrentSnapshotRet {
                result: int(drv.has_current_snapshot(&dref(a.dom), a.flags).await?),
            })
        }
        P::DomainSnapshotCurrent => {
            let a: DomainSnapshotCurrentArgs = args(payload)?;
            let snap = drv.snapshot_current(&dref(a.dom), a.flags).await?;
            ret(&DomainSnapshotCurrentRet { snap: swire(snap) })
        }
        P::DomainSnapshotGetParent => {
            let a: DomainSnapshotGetParentArgs = args(payload)?;
            let snap = drv.snapshot_parent(&sref(a.snap), a.flags).await?;
            ret(&DomainSnapshotGetParentRet { snap: swire(snap) })
        }
        P::DomainSnapshotIsCurrent => {
            let a: DomainSnapshotIsCurrentArgs = args(payload)?;
            ret(&DomainSnapshotIsCurrentRet {
                current: int(drv.snapshot_is_current(&sref(a.snap), a.flags).await?),
            })
        }
        P::DomainSnapshotHasMetadata => {
            let a: DomainSnapshotHasMetadataArgs = args(payload)?;
            ret(&DomainSnapshotHasMetadataRet {
                metadata: int(drv.snapshot_has_metadata(&sref(a.snap), a.flags).await?),
            })
        }
        P::DomainRevertToSnapshot => {
            let a: DomainRevertToSnapshotArgs = args(payload)?;
            drv.snapshot_revert(&sref(a.snap), a.flags).await?;
            void()
        }
        P::DomainSnapshotDelete => {
            let a: DomainSnapshotDeleteArgs = args(payload)?;
            drv.snapshot_delete(&sref(a.snap), a.flags).await?;
            void()
        }
        other => super::save::dispatch_save(drv, other, payload).await,
    }
}
