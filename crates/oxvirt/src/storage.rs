//! [`StoragePool`] and [`StorageVol`]: a connection's storage pools and volumes, as
//! libvirt's `virStoragePoolPtr` and `virStorageVolPtr`, and the connection's storage calls.
//!
//! The calls go to the connection's storage driver ([`Connect::storage_driver`]): a remote
//! connection's own (the daemon's storage driver behind `qemu:///system`). A connection
//! without one fails every call as libvirt fails a call its driver lacks:
//! `VIR_ERR_NO_SUPPORT`, "this function is not supported by the connection driver:
//! virConnectListAllStoragePools". A read-only connection refuses the changing calls with
//! "operation forbidden: read only access prevents virStoragePoolCreate" before the driver
//! sees them (libvirt counts volume downloads among them).

use std::sync::Arc;

use oxvirt_storage::api::{PoolEventReceiver, StorageDriver, WipeAlgorithm};
use oxvirt_xml::types::Uuid;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use crate::connect::Connect;
use crate::Result;

pub use oxvirt_storage::api::flags as storage_flags;
pub use oxvirt_storage::api::{
    Chunk, Download, PoolEvent, PoolEventKind, PoolEventWhat, PoolInfo, PoolRef, PoolState, Upload,
    VolInfo, VolRef, VolType,
};

fn unsupported(function: &str) -> VirError {
    VirError::new(ErrorDomain::Storage, ErrorCode::NoSupport, function)
}

/// A storage pool of a connection, as libvirt's `virStoragePoolPtr`.
#[derive(Debug, Clone)]
pub struct StoragePool {
    conn: Connect,
    pool: PoolRef,
}

/// The storage pool events of a connection (`virConnectStoragePoolEventRegisterAny`,
/// lifecycle and refresh events alike). Dropping the stream unsubscribes.
#[derive(Debug)]
pub struct PoolEventStream {
    rx: PoolEventReceiver,
}

impl PoolEventStream {
    /// The next event, waiting for it; `None` once the driver is gone.
    pub async fn next(&mut self) -> Option<PoolEvent> {
        self.rx.recv().await
    }

    /// The next event if one is already waiting.
    pub fn try_next(&mut self) -> Option<PoolEvent> {
        self.rx.try_recv().ok()
    }
}

impl StoragePool {
    /// A handle for the pool `pool` on `conn`.
    pub fn from_ref(conn: Connect, pool: PoolRef) -> Self {
        StoragePool { conn, pool }
    }

    /// A handle for the pool `name` with `uuid` on `conn` (for storage drivers).
    pub fn new(conn: Connect, name: impl Into<String>, uuid: Uuid) -> Self {
        StoragePool::from_ref(
            conn,
            PoolRef {
                name: name.into(),
                uuid,
            },
        )
    }

    /// The connection the handle belongs to.
    pub fn connect(&self) -> &Connect {
        &self.conn
    }

    /// The pool as drivers name it.
    pub fn pool_ref(&self) -> &PoolRef {
        &self.pool
    }

    /// `virStoragePoolGetName`.
    pub fn name(&self) -> &str {
        &self.pool.name
    }

    /// `virStoragePoolGetUUID`.
    pub fn uuid(&self) -> Uuid {
        self.pool.uuid
    }

    /// `virStoragePoolGetUUIDString`.
    pub fn uuid_string(&self) -> String {
        self.pool.uuid.to_string()
    }

    fn driver(&self, function: &str) -> Result<&Arc<dyn StorageDriver>> {
        self.conn.storage_for(function)
    }

    fn writable(&self, function: &str) -> Result<&Arc<dyn StorageDriver>> {
        self.conn.check_writable(ErrorDomain::Storage, function)?;
        self.driver(function)
    }

    fn vol(&self, vol: VolRef) -> StorageVol {
        StorageVol::from_ref(self.conn.clone(), vol)
    }

    /// `virStoragePoolBuild` (`storage_flags::build`).
    pub async fn build(&self, flags: u32) -> Result<()> {
        self.writable("virStoragePoolBuild")?
            .pool_build(&self.pool, flags)
            .await
    }

    /// `virStoragePoolCreate`: starts the defined pool (`storage_flags::create`).
    pub async fn create(&self, flags: u32) -> Result<()> {
        self.writable("virStoragePoolCreate")?
            .pool_create(&self.pool, flags)
            .await
    }

    /// `virStoragePoolDestroy`: stops the pool (a transient one goes away).
    pub async fn destroy(&self) -> Result<()> {
        self.writable("virStoragePoolDestroy")?
            .pool_destroy(&self.pool)
            .await
    }

    /// `virStoragePoolDelete`: removes the pool's storage (`storage_flags::delete`).
    pub async fn delete(&self, flags: u32) -> Result<()> {
        self.writable("virStoragePoolDelete")?
            .pool_delete(&self.pool, flags)
            .await
    }

    /// `virStoragePoolUndefine`.
    pub async fn undefine(&self) -> Result<()> {
        self.writable("virStoragePoolUndefine")?
            .pool_undefine(&self.pool)
            .await
    }

    /// `virStoragePoolRefresh`.
    pub async fn refresh(&self, flags: u32) -> Result<()> {
        self.writable("virStoragePoolRefresh")?
            .pool_refresh(&self.pool, flags)
            .await
    }

    /// `virStoragePoolGetInfo`.
    pub async fn info(&self) -> Result<PoolInfo> {
        self.driver("virStoragePoolGetInfo")?
            .pool_info(&self.pool)
            .await
    }

    /// `virStoragePoolGetXMLDesc` (`storage_flags::xml::INACTIVE` for the persistent
    /// definition).
    pub async fn xml_desc(&self, flags: u32) -> Result<String> {
        self.driver("virStoragePoolGetXMLDesc")?
            .pool_xml_desc(&self.pool, flags)
            .await
    }

    /// `virStoragePoolGetAutostart`.
    pub async fn autostart(&self) -> Result<bool> {
        self.driver("virStoragePoolGetAutostart")?
            .pool_autostart(&self.pool)
            .await
    }

    /// `virStoragePoolSetAutostart`.
    pub async fn set_autostart(&self, autostart: bool) -> Result<()> {
        self.writable("virStoragePoolSetAutostart")?
            .pool_set_autostart(&self.pool, autostart)
            .await
    }

    /// `virStoragePoolIsActive`.
    pub async fn is_active(&self) -> Result<bool> {
        self.driver("virStoragePoolIsActive")?
            .pool_is_active(&self.pool)
            .await
    }

    /// `virStoragePoolIsPersistent`.
    pub async fn is_persistent(&self) -> Result<bool> {
        self.driver("virStoragePoolIsPersistent")?
            .pool_is_persistent(&self.pool)
            .await
    }

    /// `virStoragePoolListAllVolumes`: the pool's volumes, sorted by name. libvirt knows
    /// no flag here.
    pub async fn list_all_volumes(&self, flags: u32) -> Result<Vec<StorageVol>> {
        VirError::check_flags(ErrorDomain::Storage, flags, 0, "storagePoolListAllVolumes")?;
        let vols = self
            .driver("virStoragePoolListAllVolumes")?
            .pool_list_volumes(&self.pool)
            .await?;
        Ok(vols.into_iter().map(|v| self.vol(v)).collect())
    }

    /// `virStoragePoolNumOfVolumes`.
    pub async fn num_of_volumes(&self) -> Result<usize> {
        Ok(self.list_all_volumes(0).await?.len())
    }

    /// `virStorageVolLookupByName`: the pool's volume `name`.
    pub async fn lookup_volume_by_name(&self, name: &str) -> Result<StorageVol> {
        let vol = self
            .driver("virStorageVolLookupByName")?
            .vol_lookup_by_name(&self.pool, name)
            .await?;
        Ok(self.vol(vol))
    }

    /// `virStorageVolCreateXML`: a new volume in the pool (`storage_flags::vol_create`).
    pub async fn create_volume_xml(&self, xml: &str, flags: u32) -> Result<StorageVol> {
        let vol = self
            .writable("virStorageVolCreateXML")?
            .vol_create_xml(&self.pool, xml, flags)
            .await?;
        Ok(self.vol(vol))
    }

    /// `virStorageVolCreateXMLFrom`: a new volume in the pool with `from`'s content.
    pub async fn create_volume_xml_from(
        &self,
        xml: &str,
        from: &StorageVol,
        flags: u32,
    ) -> Result<StorageVol> {
        let vol = self
            .writable("virStorageVolCreateXMLFrom")?
            .vol_create_xml_from(&self.pool, xml, &from.vol, flags)
            .await?;
        Ok(self.vol(vol))
    }
}

/// A storage volume, as libvirt's `virStorageVolPtr`: its pool's name, its own name and its
/// key (usually its path).
#[derive(Debug, Clone)]
pub struct StorageVol {
    conn: Connect,
    vol: VolRef,
}

impl StorageVol {
    /// A handle for the volume `vol` on `conn`.
    pub fn from_ref(conn: Connect, vol: VolRef) -> Self {
        StorageVol { conn, vol }
    }

    /// A handle for the volume `name` with `key` in the pool `pool` (for storage drivers).
    pub fn new(
        conn: Connect,
        pool: impl Into<String>,
        name: impl Into<String>,
        key: impl Into<String>,
    ) -> Self {
        StorageVol::from_ref(
            conn,
            VolRef {
                pool: pool.into(),
                name: name.into(),
                key: key.into(),
            },
        )
    }

    /// The connection the handle belongs to.
    pub fn connect(&self) -> &Connect {
        &self.conn
    }

    /// The volume as drivers name it.
    pub fn vol_ref(&self) -> &VolRef {
        &self.vol
    }

    /// The name of the pool holding the volume.
    pub fn pool_name(&self) -> &str {
        &self.vol.pool
    }

    /// `virStorageVolGetName`.
    pub fn name(&self) -> &str {
        &self.vol.name
    }

    /// `virStorageVolGetKey`.
    pub fn key(&self) -> &str {
        &self.vol.key
    }

    fn driver(&self, function: &str) -> Result<&Arc<dyn StorageDriver>> {
        self.conn.storage_for(function)
    }

    fn writable(&self, function: &str) -> Result<&Arc<dyn StorageDriver>> {
        self.conn.check_writable(ErrorDomain::Storage, function)?;
        self.driver(function)
    }

    /// `virStoragePoolLookupByVolume`: the pool holding the volume.
    pub async fn pool(&self) -> Result<StoragePool> {
        let pool = self
            .driver("virStoragePoolLookupByVolume")?
            .pool_lookup_by_volume(&self.vol)
            .await?;
        Ok(self.conn.storage_pool(pool))
    }

    /// `virStorageVolDelete` (`storage_flags::delete`).
    pub async fn delete(&self, flags: u32) -> Result<()> {
        self.writable("virStorageVolDelete")?
            .vol_delete(&self.vol, flags)
            .await
    }

    /// `virStorageVolWipe`: overwrites the volume's content with zeroes.
    pub async fn wipe(&self, flags: u32) -> Result<()> {
        self.writable("virStorageVolWipe")?
            .vol_wipe(&self.vol, WipeAlgorithm::Zero as u32, flags)
            .await
    }

    /// `virStorageVolWipePattern`: overwrites the volume's content with `algorithm`
    /// (libvirt's number; an unknown one is the driver's to refuse).
    pub async fn wipe_pattern(&self, algorithm: u32, flags: u32) -> Result<()> {
        self.writable("virStorageVolWipePattern")?
            .vol_wipe_pattern(&self.vol, algorithm, flags)
            .await
    }

    /// `virStorageVolResize` to `capacity` bytes (`storage_flags::resize`).
    pub async fn resize(&self, capacity: u64, flags: u32) -> Result<()> {
        self.writable("virStorageVolResize")?
            .vol_resize(&self.vol, capacity, flags)
            .await
    }

    /// `virStorageVolGetInfo` (no flags) or `virStorageVolGetInfoFlags`
    /// (`storage_flags::vol_info`).
    pub async fn info(&self, flags: u32) -> Result<VolInfo> {
        if flags == 0 {
            return self
                .driver("virStorageVolGetInfo")?
                .vol_info(&self.vol, 0)
                .await;
        }
        self.info_flags(flags).await
    }

    /// `virStorageVolGetInfoFlags`, also with `flags` 0.
    pub async fn info_flags(&self, flags: u32) -> Result<VolInfo> {
        self.driver("virStorageVolGetInfoFlags")?
            .vol_info_flags(&self.vol, flags)
            .await
    }

    /// `virStorageVolGetXMLDesc`.
    pub async fn xml_desc(&self, flags: u32) -> Result<String> {
        self.driver("virStorageVolGetXMLDesc")?
            .vol_xml_desc(&self.vol, flags)
            .await
    }

    /// `virStorageVolGetPath`.
    pub async fn path(&self) -> Result<String> {
        self.driver("virStorageVolGetPath")?
            .vol_path(&self.vol)
            .await
    }

    /// `virStorageVolDownload`: `length` bytes (0: to the end) from `offset`
    /// (`storage_flags::stream::SPARSE`: holes as [`Chunk::Hole`]).
    pub async fn download(&self, offset: u64, length: u64, flags: u32) -> Result<Download> {
        self.writable("virStorageVolDownload")?
            .vol_download(&self.vol, offset, length, flags)
            .await
    }

    /// `virStorageVolUpload`: the chunks sent are written at `offset`, at most `length`
    /// bytes (0: no limit).
    pub async fn upload(&self, offset: u64, length: u64, flags: u32) -> Result<Upload> {
        self.writable("virStorageVolUpload")?
            .vol_upload(&self.vol, offset, length, flags)
            .await
    }
}

impl Connect {
    /// The storage driver, or libvirt's `VIR_ERR_NO_SUPPORT` naming `function`.
    pub(crate) fn storage_for(&self, function: &str) -> Result<&Arc<dyn StorageDriver>> {
        self.storage_driver().ok_or_else(|| unsupported(function))
    }

    /// A handle for a pool reference a driver or an event gave.
    pub fn storage_pool(&self, pool: PoolRef) -> StoragePool {
        StoragePool::from_ref(self.clone(), pool)
    }

    /// A handle for a volume reference a driver gave.
    pub fn storage_vol(&self, vol: VolRef) -> StorageVol {
        StorageVol::from_ref(self.clone(), vol)
    }

    /// `virConnectListAllStoragePools`: the pools that pass `flags`
    /// (`storage_flags::list`), sorted by name.
    pub async fn list_all_storage_pools(&self, flags: u32) -> Result<Vec<StoragePool>> {
        let pools = self
            .storage_for("virConnectListAllStoragePools")?
            .list_all_pools(flags)
            .await?;
        Ok(pools.into_iter().map(|p| self.storage_pool(p)).collect())
    }

    /// `virStoragePoolLookupByName`.
    pub async fn lookup_storage_pool_by_name(&self, name: &str) -> Result<StoragePool> {
        let pool = self
            .storage_for("virStoragePoolLookupByName")?
            .pool_lookup_by_name(name)
            .await?;
        Ok(self.storage_pool(pool))
    }

    /// `virStoragePoolLookupByUUID`.
    pub async fn lookup_storage_pool_by_uuid(&self, uuid: &Uuid) -> Result<StoragePool> {
        let pool = self
            .storage_for("virStoragePoolLookupByUUID")?
            .pool_lookup_by_uuid(uuid)
            .await?;
        Ok(self.storage_pool(pool))
    }

    /// `virStoragePoolLookupByUUIDString`: libvirt refuses a malformed UUID with
    /// `VIR_ERR_INVALID_ARG` before asking the driver.
    pub async fn lookup_storage_pool_by_uuid_string(&self, uuid: &str) -> Result<StoragePool> {
        let parsed = Uuid::try_parse(uuid).ok_or_else(|| {
            VirError::new(
                ErrorDomain::Storage,
                ErrorCode::InvalidArg,
                "uuidstr in virStoragePoolLookupByUUIDString must be a valid UUID",
            )
        })?;
        self.lookup_storage_pool_by_uuid(&parsed).await
    }

    /// `virStoragePoolLookupByTargetPath`.
    pub async fn lookup_storage_pool_by_target_path(&self, path: &str) -> Result<StoragePool> {
        let pool = self
            .storage_for("virStoragePoolLookupByTargetPath")?
            .pool_lookup_by_target_path(path)
            .await?;
        Ok(self.storage_pool(pool))
    }

    /// `virStorageVolLookupByKey`.
    pub async fn storage_vol_lookup_by_key(&self, key: &str) -> Result<StorageVol> {
        let vol = self
            .storage_for("virStorageVolLookupByKey")?
            .vol_lookup_by_key(key)
            .await?;
        Ok(self.storage_vol(vol))
    }

    /// `virStorageVolLookupByPath`.
    pub async fn storage_vol_lookup_by_path(&self, path: &str) -> Result<StorageVol> {
        let vol = self
            .storage_for("virStorageVolLookupByPath")?
            .vol_lookup_by_path(path)
            .await?;
        Ok(self.storage_vol(vol))
    }

    /// `virStoragePoolDefineXML` (`storage_flags::define::VALIDATE`).
    pub async fn storage_pool_define_xml(&self, xml: &str, flags: u32) -> Result<StoragePool> {
        self.check_writable(ErrorDomain::Storage, "virStoragePoolDefineXML")?;
        let pool = self
            .storage_for("virStoragePoolDefineXML")?
            .pool_define_xml(xml, flags)
            .await?;
        Ok(self.storage_pool(pool))
    }

    /// `virStoragePoolCreateXML`: a transient pool, started (`storage_flags::create`).
    pub async fn storage_pool_create_xml(&self, xml: &str, flags: u32) -> Result<StoragePool> {
        self.check_writable(ErrorDomain::Storage, "virStoragePoolCreateXML")?;
        let pool = self
            .storage_for("virStoragePoolCreateXML")?
            .pool_create_xml(xml, flags)
            .await?;
        Ok(self.storage_pool(pool))
    }

    /// `virConnectFindStoragePoolSources`: a `<sources>` document of the pools of
    /// `pool_type` found (at the source `spec` describes, if given). libvirt refuses it on
    /// a read-only connection.
    pub async fn find_storage_pool_sources(
        &self,
        pool_type: &str,
        spec: Option<&str>,
        flags: u32,
    ) -> Result<String> {
        self.check_writable(ErrorDomain::Storage, "virConnectFindStoragePoolSources")?;
        self.storage_for("virConnectFindStoragePoolSources")?
            .find_pool_sources(pool_type, spec, flags)
            .await
    }

    /// The storage pool events (lifecycle and refresh) of this connection from now on.
    pub fn storage_pool_events(&self) -> Result<PoolEventStream> {
        let rx = self
            .storage_for("virConnectStoragePoolEventRegisterAny")?
            .subscribe();
        Ok(PoolEventStream { rx })
    }
}

#[cfg(test)]
#[path = "storage_tests.rs"]
mod tests;
