//! The volumes of running pools as the QEMU driver sees them
//! ([`oxvirt_domain::driver::volumes::StorageVolumes`]).

use async_trait::async_trait;
use oxvirt_domain::driver::volumes::{ResolvedVolume, StorageVolumes, VolumeSource};
use oxvirt_xml::ErrorCode;

use super::{err, lock, no_pool_name, no_vol_name, PoolDriver};
use crate::model::{Pool, PoolType, Volume, VolumeType};

/// Where volume `v` of pool `def` is, by pool type.
fn source(def: &Pool, v: &Volume) -> VolumeSource {
    let path = v
        .target
        .path
        .clone()
        .or_else(|| v.key.clone())
        .unwrap_or_default();
    match def.pool_type {
        PoolType::Dir | PoolType::Fs | PoolType::Netfs => VolumeSource::File(path),
        PoolType::IscsiDirect => {
            let host = def.source.hosts.first();
            VolumeSource::Iscsi {
                host: host.map(|h| h.name.clone()).unwrap_or_default(),
                port: host
                    .and_then(|h| u16::try_from(h.port).ok())
                    .filter(|p| *p != 0)
                    .unwrap_or(3260),
                target: def
                    .source
                    .devices
                    .first()
                    .map(|d| d.path.clone())
                    .unwrap_or_default(),
                // libvirt names iscsi-direct volumes `unit:0:0:LUN`.
                lun: v
                    .name
                    .rsplit(':')
                    .next()
                    .and_then(|l| l.parse().ok())
                    .unwrap_or(0),
                initiator: def.source.initiator_iqn.clone(),
            }
        }
        _ => VolumeSource::Block(path),
    }
}

#[async_trait]
impl StorageVolumes for PoolDriver {
    /// libvirt's `virDomainDiskTranslateSourcePool`.
    async fn resolve(
        &self,
        pool: &str,
        volume: &str,
    ) -> oxvirt_domain::driver::Result<ResolvedVolume> {
        let st = self.inner.state.lock().await;
        let obj = st.pools.get(pool).ok_or_else(|| no_pool_name(pool))?;
        if !obj.active {
            return Err(err(
                ErrorCode::OperationInvalid,
                format!("storage pool '{pool}' containing volume '{volume}' is not active"),
            ));
        }
        let v = obj.volumes.get(volume).ok_or_else(|| no_vol_name(volume))?;
        if v.vol_type == VolumeType::Dir {
            // libvirt hands a directory volume to QEMU as a virtual FAT disk; we do not.
            return Err(err(
                ErrorCode::ConfigUnsupported,
                format!(
                    "volume '{volume}' of pool '{pool}' is a directory, which cannot be \
                     a disk: use a file volume"
                ),
            ));
        }
        Ok(ResolvedVolume {
            source: source(&obj.def, v),
            format: v.target.format.clone(),
            key: v
                .key
                .clone()
                .or_else(|| v.target.path.clone())
                .unwrap_or_default(),
        })
    }

    fn set_in_use(&self, domain: &str, keys: Vec<String>) {
        lock(&self.inner.in_use).insert(domain.to_string(), keys);
    }

    fn clear_in_use(&self, domain: &str) {
        lock(&self.inner.in_use).remove(domain);
    }
}
