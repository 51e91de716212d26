//! The storage pool and volume procedures: each one the public `virStoragePool*`,
//! `virStorageVol*` or `virConnect*StoragePool*` call libvirtd makes, with that call's
//! argument checks, on the connection's storage driver. The legacy list and count
//! procedures are answered from `virConnectListAllStoragePools` and
//! `virStoragePoolListAllVolumes`, as libvirt's storage driver derives them from the same
//! object lists. Volume uploads and downloads are streams (`stream.rs`,
//! `storage_stream.rs`).

use std::sync::Arc;

use oxvirt_rpc::remote::*;
use oxvirt_rpc::types::{NonnullStoragePool, NonnullStorageVol};
use oxvirt_rpc::RemoteProcedure as P;
use oxvirt_storage::api::{flags, PoolRef, StorageDriver, VolRef, WipeAlgorithm};
use oxvirt_xml::types::Uuid;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use super::{args, int, ret, void};
use crate::access::Filter;
use crate::client::Client;

/// A wire pool as the driver names it.
pub(crate) fn pref(pool: NonnullStoragePool) -> PoolRef {
    PoolRef {
        name: pool.name,
        uuid: Uuid::from(pool.uuid),
    }
}

/// A driver pool as it travels.
pub(crate) fn pwire(pool: PoolRef) -> NonnullStoragePool {
    NonnullStoragePool {
        name: pool.name,
        uuid: pool.uuid.into(),
    }
}

/// A wire volume as the driver names it.
pub(crate) fn vref(vol: NonnullStorageVol) -> VolRef {
    VolRef {
        pool: vol.pool,
        name: vol.name,
        key: vol.key,
    }
}

/// A driver volume as it travels.
pub(crate) fn vwire(vol: VolRef) -> NonnullStorageVol {
    NonnullStorageVol {
        pool: vol.pool,
        name: vol.name,
        key: vol.key,
    }
}

/// Whether `procedure` is one of the storage calls served here (the streams excepted).
pub(crate) fn is_storage_procedure(procedure: P) -> bool {
    matches!(
        procedure,
        P::ConnectNumOfStoragePools
            | P::ConnectListStoragePools
            | P::ConnectNumOfDefinedStoragePools
            | P::ConnectListDefinedStoragePools
            | P::ConnectFindStoragePoolSources
            | P::StoragePoolCreateXml
            | P::StoragePoolDefineXml
            | P::StoragePoolCreate
            | P::StoragePoolBuild
            | P::StoragePoolDestroy
            | P::StoragePoolDelete
            | P::StoragePoolUndefine
            | P::StoragePoolRefresh
            | P::StoragePoolLookupByName
            | P::StoragePoolLookupByUuid
            | P::StoragePoolLookupByVolume
            | P::StoragePoolLookupByTargetPath
            | P::StoragePoolGetInfo
            | P::StoragePoolGetXmlDesc
            | P::StoragePoolGetAutostart
            | P::StoragePoolSetAutostart
            | P::StoragePoolNumOfVolumes
            | P::StoragePoolListVolumes
            | P::StoragePoolIsActive
            | P::StoragePoolIsPersistent
            | P::StoragePoolListAllVolumes
            | P::ConnectListAllStoragePools
            | P::StorageVolCreateXml
            | P::StorageVolCreateXmlFrom
            | P::StorageVolDelete
            | P::StorageVolLookupByName
            | P::StorageVolLookupByKey
            | P::StorageVolLookupByPath
            | P::StorageVolGetInfo
            | P::StorageVolGetInfoFlags
            | P::StorageVolGetXmlDesc
            | P::StorageVolGetPath
            | P::StorageVolWipe
            | P::StorageVolWipePattern
            | P::StorageVolResize
    )
}

/// libvirt's `virCheckNonNegativeArgGoto` in a storage call.
fn non_negative(value: i32, arg: &str, function: &str) -> Result<usize, VirError> {
    usize::try_from(value).map_err(|_| {
        VirError::new(
            ErrorDomain::Storage,
            ErrorCode::InvalidArg,
            format!("{arg} in {function} must not be negative"),
        )
    })
}

/// The daemon's refusal of a list longer than the protocol carries.
fn rpc_error(message: String) -> VirError {
    VirError::new(ErrorDomain::Rpc, ErrorCode::Rpc, message)
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// Answers the storage procedures; `None` for every other procedure.
pub(crate) async fn dispatch_storage(
    client: &Client,
    procedure: P,
    payload: &[u8],
) -> Option<Result<Vec<u8>, VirError>> {
    if !is_storage_procedure(procedure) {
        return None;
    }
    let function = crate::extra::public_function(procedure).unwrap_or_default();
    // Listing calls show only what the client may see (libvirt's @aclfilter).
    let visible = crate::access::Filter::for_call(client, procedure);
    Some(match client.storage_driver(&function) {
        Ok(drv) => call(&drv, procedure, &function, payload, visible.as_ref()).await,
        Err(e) => Err(e),
    })
}

/// The names of the active (or inactive) pools, at most `maxnames` of them
/// (CONNECT_LIST_STORAGE_POOLS, CONNECT_LIST_DEFINED_STORAGE_POOLS).
async fn pool_names(
    drv: &Arc<dyn StorageDriver>,
    payload: &[u8],
    active: bool,
    function: &str,
    visible: Option<&Filter>,
) -> Result<Vec<u8>, VirError> {
    let a: ConnectListStoragePoolsArgs = args(payload)?;
    if a.maxnames > STORAGE_POOL_LIST_MAX as i32 {
        return Err(rpc_error("maxnames > REMOTE_STORAGE_POOL_LIST_MAX".into()));
    }
    let max = non_negative(a.maxnames, "maxnames", function)?;
    let filter = if active {
        flags::list::ACTIVE
    } else {
        flags::list::INACTIVE
    };
    let mut pools = drv.list_all_pools(filter).await?;
    Filter::keep(visible, &mut pools, |p| (&p.name, &p.uuid));
    let mut names: Vec<String> = pools.into_iter().map(|p| p.name).collect();
    names.truncate(max);
    ret(&ConnectListStoragePoolsRet { names })
}

async fn call(
    drv: &Arc<dyn StorageDriver>,
    procedure: P,
    function: &str,
    payload: &[u8],
    visible: Option<&Filter>,
) -> Result<Vec<u8>, VirError> {
    match procedure {
        P::ConnectListAllStoragePools => {
            let a: ConnectListAllStoragePoolsArgs = args(payload)?;
            let mut pools = drv.list_all_pools(a.flags).await?;
            Filter::keep(visible, &mut pools, |p| (&p.name, &p.uuid));
            if pools.len() > STORAGE_POOL_LIST_MAX {
                return Err(rpc_error(format!(
                    "Too many storage pools '{}' for limit '{STORAGE_POOL_LIST_MAX}'",
                    pools.len()
                )));
            }
            let n = pools.len() as u32;
            let pools = if a.need_results != 0 {
                pools.into_iter().map(pwire).collect()
            } else {
                Vec::new()
            };
            ret(&ConnectListAllStoragePoolsRet { pools, ret: n })
        }
        P::ConnectNumOfStoragePools | P::ConnectNumOfDefinedStoragePools => {
            let filter = if procedure == P::ConnectNumOfStoragePools {
                flags::list::ACTIVE
            } else {
                flags::list::INACTIVE
            };
            let mut pools = drv.list_all_pools(filter).await?;
            Filter::keep(visible, &mut pools, |p| (&p.name, &p.uuid));
            let num = count(pools.len());
            ret(&ConnectNumOfStoragePoolsRet { num })
        }
        P::ConnectListStoragePools => pool_names(drv, payload, true, function, visible).await,
        P::ConnectListDefinedStoragePools => {
            pool_names(drv, payload, false, function, visible).await
        }
        P::ConnectFindStoragePoolSources => {
            let a: ConnectFindStoragePoolSourcesArgs = args(payload)?;
            let xml = drv
                .find_pool_sources(&a.r#type, a.src_spec.as_deref(), a.flags)
                .await?;
            ret(&ConnectFindStoragePoolSourcesRet { xml })
        }
        P::StoragePoolLookupByName => {
            let a: StoragePoolLookupByNameArgs = args(payload)?;
            ret(&StoragePoolLookupByNameRet {
                pool: pwire(drv.pool_lookup_by_name(&a.name).await?),
            })
        }
        P::StoragePoolLookupByUuid => {
            let a: StoragePoolLookupByUuidArgs = args(payload)?;
            ret(&StoragePoolLookupByUuidRet {
                pool: pwire(drv.pool_lookup_by_uuid(&Uuid::from(a.uuid)).await?),
            })
        }
        P::StoragePoolLookupByVolume => {
            let a: StoragePoolLookupByVolumeArgs = args(payload)?;
            ret(&StoragePoolLookupByVolumeRet {
                pool: pwire(drv.pool_lookup_by_volume(&vref(a.vol)).await?),
            })
        }
        P::StoragePoolLookupByTargetPath => {
            let a: StoragePoolLookupByTargetPathArgs = args(payload)?;
            ret(&StoragePoolLookupByTargetPathRet {
                pool: pwire(drv.pool_lookup_by_target_path(&a.path).await?),
            })
        }
        P::StoragePoolDefineXml => {
            let a: StoragePoolDefineXmlArgs = args(payload)?;
            ret(&StoragePoolDefineXmlRet {
                pool: pwire(drv.pool_define_xml(&a.xml, a.flags).await?),
            })
        }
        P::StoragePoolCreateXml => {
            let a: StoragePoolCreateXmlArgs = args(payload)?;
            ret(&StoragePoolCreateXmlRet {
                pool: pwire(drv.pool_create_xml(&a.xml, a.flags).await?),
            })
        }
        P::StoragePoolBuild => {
            let a: StoragePoolBuildArgs = args(payload)?;
            drv.pool_build(&pref(a.pool), a.flags).await?;
            void()
        }
        P::StoragePoolCreate => {
            let a: StoragePoolCreateArgs = args(payload)?;
            drv.pool_create(&pref(a.pool), a.flags).await?;
            void()
        }
        P::StoragePoolDestroy => {
            let a: StoragePoolDestroyArgs = args(payload)?;
            drv.pool_destroy(&pref(a.pool)).await?;
            void()
        }
        P::StoragePoolDelete => {
            let a: StoragePoolDeleteArgs = args(payload)?;
            drv.pool_delete(&pref(a.pool), a.flags).await?;
            void()
        }
        P::StoragePoolUndefine => {
            let a: StoragePoolUndefineArgs = args(payload)?;
            drv.pool_undefine(&pref(a.pool)).await?;
            void()
        }
        P::StoragePoolRefresh => {
            let a: StoragePoolRefreshArgs = args(payload)?;
            drv.pool_refresh(&pref(a.pool), a.flags).await?;
            void()
        }
        P::StoragePoolGetInfo => {
            let a: StoragePoolGetInfoArgs = args(payload)?;
            let info = drv.pool_info(&pref(a.pool)).await?;
            ret(&StoragePoolGetInfoRet {
                state: info.state as u8,
                capacity: info.capacity,
                allocation: info.allocation,
                available: info.available,
            })
        }
        P::StoragePoolGetXmlDesc => {
            let a: StoragePoolGetXmlDescArgs = args(payload)?;
            ret(&StoragePoolGetXmlDescRet {
                xml: drv.pool_xml_desc(&pref(a.pool), a.flags).await?,
            })
        }
        P::StoragePoolGetAutostart => {
            let a: StoragePoolGetAutostartArgs = args(payload)?;
            ret(&StoragePoolGetAutostartRet {
                autostart: int(drv.pool_autostart(&pref(a.pool)).await?),
            })
        }
        P::StoragePoolSetAutostart => {
            let a: StoragePoolSetAutostartArgs = args(payload)?;
            drv.pool_set_autostart(&pref(a.pool), a.autostart != 0)
                .await?;
            void()
        }
        P::StoragePoolIsActive => {
            let a: StoragePoolIsActiveArgs = args(payload)?;
            ret(&StoragePoolIsActiveRet {
                active: int(drv.pool_is_active(&pref(a.pool)).await?),
            })
        }
        P::StoragePoolIsPersistent => {
            let a: StoragePoolIsPersistentArgs = args(payload)?;
            ret(&StoragePoolIsPersistentRet {
                persistent: int(drv.pool_is_persistent(&pref(a.pool)).await?),
            })
        }
        P::StoragePoolNumOfVolumes => {
            let a: StoragePoolNumOfVolumesArgs = args(payload)?;
            let pool = pref(a.pool);
            let mut vols = drv.pool_list_volumes(&pool).await?;
            Filter::keep_in(visible, &mut vols, &pool.name, &pool.uuid);
            let num = count(vols.len());
            ret(&StoragePoolNumOfVolumesRet { num })
        }
        P::StoragePoolListVolumes => {
            let a: StoragePoolListVolumesArgs = args(payload)?;
            if a.maxnames > STORAGE_VOL_LIST_MAX as i32 {
                return Err(rpc_error("maxnames > REMOTE_STORAGE_VOL_LIST_MAX".into()));
            }
            let max = non_negative(a.maxnames, "maxnames", function)?;
            let pool = pref(a.pool);
            let mut vols = drv.pool_list_volumes(&pool).await?;
            Filter::keep_in(visible, &mut vols, &pool.name, &pool.uuid);
            let mut names: Vec<String> = vols.into_iter().map(|v| v.name).collect();
            names.truncate(max);
            ret(&StoragePoolListVolumesRet { names })
        }
        P::StoragePoolListAllVolumes => {
            let a: StoragePoolListAllVolumesArgs = args(payload)?;
            // libvirt's storage driver knows no flag here (`virCheckFlags(0, -1)`).
            VirError::check_flags(
                ErrorDomain::Storage,
                a.flags,
                0,
                "storagePoolListAllVolumes",
            )?;
            let pool = pref(a.pool);
            let mut vols = drv.pool_list_volumes(&pool).await?;
            // A volume is seen through its pool: all of them or none.
            Filter::keep_in(visible, &mut vols, &pool.name, &pool.uuid);
            if vols.len() > STORAGE_VOL_LIST_MAX {
                return Err(rpc_error(format!(
                    "Too many storage volumes '{}' for limit '{STORAGE_VOL_LIST_MAX}'",
                    vols.len()
                )));
            }
            let n = vols.len() as u32;
            let vols = if a.need_results != 0 {
                vols.into_iter().map(vwire).collect()
            } else {
                Vec::new()
            };
            ret(&StoragePoolListAllVolumesRet { vols, ret: n })
        }
        P::StorageVolLookupByName => {
            let a: StorageVolLookupByNameArgs = args(payload)?;
            ret(&StorageVolLookupByNameRet {
                vol: vwire(drv.vol_lookup_by_name(&pref(a.pool), &a.name).await?),
            })
        }
        P::StorageVolLookupByKey => {
            let a: StorageVolLookupByKeyArgs = args(payload)?;
            ret(&StorageVolLookupByKeyRet {
                vol: vwire(drv.vol_lookup_by_key(&a.key).await?),
            })
        }
        P::StorageVolLookupByPath => {
            let a: StorageVolLookupByPathArgs = args(payload)?;
            ret(&StorageVolLookupByPathRet {
                vol: vwire(drv.vol_lookup_by_path(&a.path).await?),
            })
        }
        P::StorageVolCreateXml => {
            let a: StorageVolCreateXmlArgs = args(payload)?;
            ret(&StorageVolCreateXmlRet {
                vol: vwire(drv.vol_create_xml(&pref(a.pool), &a.xml, a.flags).await?),
            })
        }
        P::StorageVolCreateXmlFrom => {
            let a: StorageVolCreateXmlFromArgs = args(payload)?;
            let from = vref(a.clonevol);
            let vol = drv
                .vol_create_xml_from(&pref(a.pool), &a.xml, &from, a.flags)
                .await?;
            ret(&StorageVolCreateXmlFromRet { vol: vwire(vol) })
        }
        P::StorageVolDelete => {
            let a: StorageVolDeleteArgs = args(payload)?;
            drv.vol_delete(&vref(a.vol), a.flags).await?;
            void()
        }
        P::StorageVolWipe => {
            let a: StorageVolWipeArgs = args(payload)?;
            drv.vol_wipe(&vref(a.vol), WipeAlgorithm::Zero as u32, a.flags)
                .await?;
            void()
        }
        P::StorageVolWipePattern => {
            let a: StorageVolWipePatternArgs = args(payload)?;
            drv.vol_wipe_pattern(&vref(a.vol), a.algorithm, a.flags)
                .await?;
            void()
        }
        P::StorageVolResize => {
            let a: StorageVolResizeArgs = args(payload)?;
            drv.vol_resize(&vref(a.vol), a.capacity, a.flags).await?;
            void()
        }
        P::StorageVolGetInfo | P::StorageVolGetInfoFlags => {
            let info = if procedure == P::StorageVolGetInfo {
                let a: StorageVolGetInfoArgs = args(payload)?;
                drv.vol_info(&vref(a.vol), flags::vol_info::USE_ALLOCATION)
                    .await?
            } else {
                let a: StorageVolGetInfoFlagsArgs = args(payload)?;
                drv.vol_info_flags(&vref(a.vol), a.flags).await?
            };
            ret(&StorageVolGetInfoRet {
                r#type: info.kind as i8,
                capacity: info.capacity,
                allocation: info.allocation,
            })
        }
        P::StorageVolGetXmlDesc => {
            let a: StorageVolGetXmlDescArgs = args(payload)?;
            ret(&StorageVolGetXmlDescRet {
                xml: drv.vol_xml_desc(&vref(a.vol), a.flags).await?,
            })
        }
        P::StorageVolGetPath => {
            let a: StorageVolGetPathArgs = args(payload)?;
            ret(&StorageVolGetPathRet {
                name: drv.vol_path(&vref(a.vol)).await?,
            })
        }
        other => Err(crate::extra::not_served(other)),
    }
}

#[cfg(test)]
#[path = "storage_tests.rs"]
mod tests;
