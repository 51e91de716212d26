//! The storage driver of `qemu:///system`: libvirt's `storage_driver.c` over the
//! [`Backend`]s of the pool types.
//!
//! Definitions live in `STATE/storage/NAME.xml` (autostart marks in
//! `STATE/storage/autostart/NAME`), running pools in `RUNTIME/storage/NAME.xml`; every
//! write is atomic and made before the call returns, so a daemon restarted at any moment
//! finds the same pools, running state and (after a refresh) volumes. On open, a pool
//! whose runtime file is present and whose backend `check` says it is still usable is
//! running again; then the autostart pools start.
//!
//! Calls are serialised by one lock; backend work runs in `spawn_blocking` while it is
//! held. Volume transfers run outside the lock: while one runs, the volume cannot be
//! deleted, wiped or resized ("volume 'x' is still in use."), and while an upload runs,
//! its pool cannot be refreshed or stopped ("pool 'x' has asynchronous jobs running."),
//! as libvirt.

mod store;
#[cfg(test)]
mod tests;
mod transfer;
mod volumes;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex as StdMutex};

use async_trait::async_trait;
use oxvirt_xml::types::Uuid;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};
use tokio::sync::Mutex;

use crate::api::{
    flags, Download, PoolEvent, PoolEventBus, PoolEventKind, PoolEventReceiver, PoolInfo, PoolRef,
    PoolState, Result, StorageDriver, Upload, VolInfo, VolRef, VolType, WipeAlgorithm,
};
use crate::backend::{Backend, Refreshed, RefreshedVolume};
use crate::model::{sources_to_xml, CapacityRule, Pool, PoolType, Volume, VolumeType};

/// Where the driver keeps its files.
#[derive(Debug, Clone)]
pub struct StorageConfig {
    /// Definitions and autostart marks (`STATE/storage`).
    pub state_dir: PathBuf,
    /// The definitions of running pools (`RUNTIME/storage`).
    pub runtime_dir: PathBuf,
}

impl StorageConfig {
    /// The driver's directories under a daemon's state and runtime directories.
    pub fn under(state_dir: &Path, runtime_dir: &Path) -> Self {
        StorageConfig {
            state_dir: state_dir.join("storage"),
            runtime_dir: runtime_dir.join("storage"),
        }
    }
}

/// The backends of the pool types `qemu:///system` offers.
///
/// Pool types listed here can be defined and started; the others are refused with
/// libvirt's "missing backend for pool type".
pub fn default_backends() -> Vec<Arc<dyn Backend>> {
    vec![
        // Pool types with a backend, one line each.
        Arc::new(crate::backend::dir::DirBackend::new()),
        Arc::new(crate::backend::fs::FsBackend::new()),
        Arc::new(crate::backend::logical::LogicalBackend::system()),
        Arc::new(crate::backend::iscsi::IscsiBackend::system()),
        Arc::new(crate::backend::iscsi_direct::IscsiDirectBackend::new()),
    ]
}

/// A `VIR_FROM_STORAGE` error.
pub(crate) fn err(code: ErrorCode, msg: impl AsRef<str>) -> VirError {
    VirError::new(ErrorDomain::Storage, code, msg)
}

fn not_active(name: &str) -> VirError {
    err(
        ErrorCode::OperationInvalid,
        format!("storage pool '{name}' is not active"),
    )
}

fn already_active(name: &str) -> VirError {
    err(
        ErrorCode::OperationInvalid,
        format!("storage pool '{name}' is already active"),
    )
}

fn still_active(name: &str) -> VirError {
    err(
        ErrorCode::OperationInvalid,
        format!("storage pool '{name}' is still active"),
    )
}

fn no_pool_name(name: &str) -> VirError {
    err(
        ErrorCode::NoStoragePool,
        format!("no storage pool with matching name '{name}'"),
    )
}

fn no_vol_name(name: &str) -> VirError {
    err(
        ErrorCode::NoStorageVol,
        format!("no storage vol with matching name '{name}'"),
    )
}

fn jobs_running(name: &str) -> VirError {
    err(
        ErrorCode::InternalError,
        format!("pool '{name}' has asynchronous jobs running."),
    )
}

/// libvirt's number of a pool type (`virStoragePoolType`).
fn type_number(t: PoolType) -> usize {
    PoolType::ALL.iter().position(|x| *x == t).unwrap_or(0)
}

/// Runs backend work off the async runtime.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        err(
            ErrorCode::InternalError,
            format!("storage task failed: {e}"),
        )
    })?
}

/// One pool the driver knows.
#[derive(Debug, Clone)]
struct PoolObj {
    /// The definition (the running one while the pool runs).
    def: Pool,
    /// A persistent definition given while the pool ran, used once it stops.
    next_def: Option<Pool>,
    persistent: bool,
    autostart: bool,
    active: bool,
    /// Capacity, allocation and available bytes from the last refresh.
    space: (u64, u64, u64),
    /// The volumes from the last refresh, by name.
    volumes: BTreeMap<String, Volume>,
    /// The target directory's permissions from the last refresh.
    target_perms: Option<crate::model::Perms>,
}

impl PoolObj {
    fn reference(&self) -> PoolRef {
        PoolRef {
            name: self.def.name.clone(),
            uuid: self.def.uuid,
        }
    }

    fn apply(&mut self, r: Refreshed) {
        if matches!(
            self.def.pool_type,
            PoolType::Dir | PoolType::Fs | PoolType::Netfs
        ) {
            self.target_perms = crate::backend::dir::target_perms(&self.def);
        }
        self.space = (r.capacity, r.allocation, r.available);
        self.volumes = r.volumes.into_iter().map(|v| (v.name.clone(), v)).collect();
    }

    /// What reading volume `name` again found: the pool's space, and the volume (or that
    /// it is gone).
    fn apply_volume(&mut self, name: &str, r: RefreshedVolume) {
        self.space = (r.capacity, r.allocation, r.available);
        match r.volume {
            Some(v) => {
                self.volumes.insert(v.name.clone(), v);
            }
            None => {
                self.volumes.remove(name);
            }
        }
    }

    /// Forgets the volumes of a stopped pool; its last space stays visible, as libvirt's.
    fn clear(&mut self) {
        self.active = false;
        self.volumes.clear();
    }

    fn vol_ref(&self, v: &Volume) -> VolRef {
        VolRef {
            pool: self.def.name.clone(),
            name: v.name.clone(),
            key: v.key.clone().unwrap_or_default(),
        }
    }
}

/// Every pool, by name.
#[derive(Debug, Default)]
struct State {
    pools: BTreeMap<String, PoolObj>,
}

impl State {
    /// libvirt's `storagePoolObjFindByUUID`.
    fn get(&self, pool: &PoolRef) -> Result<&PoolObj> {
        self.pools
            .values()
            .find(|p| p.def.uuid == pool.uuid)
            .ok_or_else(|| {
                err(
                    ErrorCode::NoStoragePool,
                    format!(
                        "no storage pool with matching uuid '{}' ({})",
                        pool.uuid, pool.name
                    ),
                )
            })
    }

    fn name_of(&self, pool: &PoolRef) -> Result<String> {
        self.get(pool).map(|p| p.def.name.clone())
    }

    fn obj_mut(&mut self, name: &str) -> Result<&mut PoolObj> {
        self.pools.get_mut(name).ok_or_else(|| no_pool_name(name))
    }

    /// libvirt's `virStorageVolDefFromVol`: the pool by name, running, and the volume.
    fn vol(&self, vol: &VolRef) -> Result<(&PoolObj, &Volume)> {
        let obj = self
            .pools
            .get(&vol.pool)
            .ok_or_else(|| no_pool_name(&vol.pool))?;
        if !obj.active {
            return Err(not_active(&obj.def.name));
        }
        let v = obj
            .volumes
            .get(&vol.name)
            .ok_or_else(|| no_vol_name(&vol.name))?;
        Ok((obj, v))
    }
}

/// libvirt's `virStoragePoolSourceMatchSingleHost`.
fn same_single_host(a: &Pool, b: &Pool) -> bool {
    let (ha, hb) = (&a.source.hosts, &b.source.hosts);
    if ha.len() != 1 && hb.len() != 1 {
        return false;
    }
    let (Some(x), Some(y)) = (ha.first(), hb.first()) else {
        return false;
    };
    if y.port != 0 && x.port != y.port {
        return false;
    }
    x.name == y.name
}

/// libvirt's `virStoragePoolSourceFindDuplicateDevices`: a source device in common.
fn same_device(a: &Pool, b: &Pool) -> bool {
    a.source
        .devices
        .iter()
        .any(|d| b.source.devices.iter().any(|e| e.path == d.path))
}

/// Whether the new definition `def` uses the storage of the existing pool `obj`, as
/// libvirt's `virStoragePoolObjSourceFindDuplicateCb` decides.
pub fn source_conflict(obj: &Pool, def: &Pool) -> bool {
    use PoolType::*;
    if obj.name == def.name {
        return false;
    }
    let same_type = obj.pool_type == def.pool_type;
    match obj.pool_type {
        Dir => same_type && obj.target_path == def.target_path,
        Netfs => same_type && obj.source.dir == def.source.dir && same_single_host(obj, def),
        Gluster => {
            same_type
                && obj.source.name == def.source.name
                && obj.source.dir == def.source.dir
                && same_single_host(obj, def)
        }
        Scsi => {
            same_type && obj.source.adapter.is_some() && obj.source.adapter == def.source.adapter
        }
        Iscsi => {
            def.pool_type == Iscsi
                && same_device(obj, def)
                && obj.source.initiator_iqn == def.source.initiator_iqn
        }
        Fs | Logical | Disk | Zfs => {
            matches!(def.pool_type, Fs | Logical | Disk | Zfs) && same_device(obj, def)
        }
        Sheepdog => same_type && same_single_host(obj, def),
        Mpath => same_type,
        Vstorage => same_type && obj.source.name == def.source.name,
        IscsiDirect | Rbd => false,
    }
}

/// The part of the driver shared by its clones.
struct Inner {
    config: StorageConfig,
    backends: Vec<Arc<dyn Backend>>,
    state: Mutex<State>,
    events: PoolEventBus,
    /// Volume keys and paths running domains use, by domain.
    in_use: StdMutex<BTreeMap<String, Vec<String>>>,
    /// Transfers running, by (pool, volume).
    busy: StdMutex<HashMap<(String, String), usize>>,
    /// Uploads running, by pool.
    jobs: StdMutex<HashMap<String, usize>>,
    /// Pools that failed to come back or autostart when the driver opened.
    startup_errors: StdMutex<Vec<(String, VirError)>>,
}

/// The storage driver (cheap to clone: every clone is the same driver).
#[derive(Clone)]
pub struct PoolDriver {
    inner: Arc<Inner>,
}

fn lock<T>(m: &StdMutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl PoolDriver {
    /// Opens the driver with the [`default_backends`].
    pub async fn open(config: StorageConfig) -> Result<PoolDriver> {
        Self::open_with_backends(config, default_backends()).await
    }

    /// Opens the driver with these backends: loads the definitions, takes back the pools
    /// that were running and are still usable (refreshing them), and starts the autostart
    /// pools.
    pub async fn open_with_backends(
        config: StorageConfig,
        backends: Vec<Arc<dyn Backend>>,
    ) -> Result<PoolDriver> {
        store::make_dirs(&config)?;
        let mut state = State::default();
        for (_, def) in store::load_dir(&config.state_dir) {
            let Ok(def) = def else { continue };
            let autostart = store::autostart(&config, &def.name);
            state.pools.insert(
                def.name.clone(),
                PoolObj {
                    def,
                    next_def: None,
                    persistent: true,
                    autostart,
                    active: false,
                    space: (0, 0, 0),
                    volumes: BTreeMap::new(),
                    target_perms: None,
                },
            );
        }
        let driver = PoolDriver {
            inner: Arc::new(Inner {
                config,
                backends,
                state: Mutex::new(State::default()),
                events: PoolEventBus::new(),
                in_use: StdMutex::new(BTreeMap::new()),
                busy: StdMutex::new(HashMap::new()),
                jobs: StdMutex::new(HashMap::new()),
                startup_errors: StdMutex::new(Vec::new()),
            }),
        };
        let mut errors = Vec::new();
        for (_, live) in store::load_dir(&driver.inner.config.runtime_dir) {
            let Ok(live) = live else { continue };
            let name = live.name.clone();
            match driver.reattach(&mut state, live).await {
                Ok(true) => {}
                // Stopped behind our back: forgotten, as libvirt's storagePoolUpdateState.
                Ok(false) => {
                    let _ = store::remove_live(&driver.inner.config, &name);
                }
                Err(e) => {
                    errors.push((name.clone(), e));
                    let _ = store::remove_live(&driver.inner.config, &name);
                }
            }
        }
        let autostart: Vec<String> = state
            .pools
            .values()
            .filter(|p| p.autostart && !p.active)
            .map(|p| p.def.name.clone())
            .collect();
        for name in autostart {
            if let Err(e) = driver.start_obj(&mut state, &name, None).await {
                errors.push((name, e));
            }
        }
        *driver.inner.state.lock().await = state;
        *lock(&driver.inner.startup_errors) = errors;
        Ok(driver)
    }

    /// A pool that was running before a restart: running again if its backend finds it
    /// usable (`true`), forgotten if not (`false`).
    async fn reattach(&self, state: &mut State, live: Pool) -> Result<bool> {
        let backend = self.backend(live.pool_type)?;
        let def = live.clone();
        let b = backend.clone();
        let refreshed = blocking(move || {
            if !b.check(&def)? {
                return Ok(None);
            }
            b.refresh(&def).map(Some)
        })
        .await?;
        let Some(r) = refreshed else {
            return Ok(false);
        };
        let obj = state
            .pools
            .entry(live.name.clone())
            .or_insert_with(|| PoolObj {
                def: live.clone(),
                next_def: None,
                persistent: false,
                autostart: false,
                active: false,
                space: (0, 0, 0),
                volumes: BTreeMap::new(),
                target_perms: None,
            });
        if obj.persistent && obj.def != live {
            obj.next_def = Some(std::mem::replace(&mut obj.def, live));
        }
        obj.active = true;
        obj.apply(r);
        Ok(true)
    }

    /// How many pools run.
    pub async fn running_count(&self) -> usize {
        self.inner
            .state
            .lock()
            .await
            .pools
            .values()
            .filter(|p| p.active)
            .count()
    }

    /// How many pools are defined (persistent or running).
    pub async fn pool_count(&self) -> usize {
        self.inner.state.lock().await.pools.len()
    }

    /// The pools that could not be taken back or autostarted when the driver opened, with
    /// why (for the daemon's log).
    pub fn startup_errors(&self) -> Vec<(String, VirError)> {
        lock(&self.inner.startup_errors).clone()
    }

    /// The backend of pool type `t` (libvirt's `virStorageBackendForType`).
    fn backend(&self, t: PoolType) -> Result<Arc<dyn Backend>> {
        self.inner
            .backends
            .iter()
            .find(|b| b.pool_type() == t.as_str())
            .cloned()
            .ok_or_else(|| {
                err(
                    ErrorCode::InternalError,
                    format!(
                        "missing backend for pool type {} ({})",
                        type_number(t),
                        t.as_str()
                    ),
                )
            })
    }

    fn emit(&self, pool: &PoolRef, kind: PoolEventKind) {
        self.inner.events.emit(PoolEvent::lifecycle(pool, kind));
    }

    /// Builds (with `build` flags), starts and refreshes pool `name`, and records it
    /// running.
    async fn start_obj(&self, st: &mut State, name: &str, build: Option<u32>) -> Result<()> {
        let obj = st.obj_mut(name)?;
        let backend = self.backend(obj.def.pool_type)?;
        let def = obj.def.clone();
        let d = def.clone();
        let r = blocking(move || {
            if let Some(f) = build {
                backend.build(&d, f)?;
            }
            backend.start(&d)?;
            match backend.refresh(&d) {
                Ok(r) => Ok(r),
                Err(e) => {
                    let _ = backend.stop(&d);
                    Err(e)
                }
            }
        })
        .await?;
        if let Err(e) = store::save_live(&self.inner.config, &def) {
            let backend = self.backend(def.pool_type)?;
            let _ = blocking(move || backend.stop(&def)).await;
            return Err(e);
        }
        let obj = st.obj_mut(name)?;
        obj.active = true;
        obj.apply(r);
        Ok(())
    }

    /// Stops pool `name` and forgets its runtime state (a transient pool vanishes).
    async fn stop_obj(&self, st: &mut State, name: &str) -> Result<()> {
        let obj = st.obj_mut(name)?;
        let backend = self.backend(obj.def.pool_type)?;
        let def = obj.def.clone();
        blocking(move || backend.stop(&def)).await?;
        store::remove_live(&self.inner.config, name)?;
        self.after_stop(st, name);
        Ok(())
    }

    fn after_stop(&self, st: &mut State, name: &str) {
        let Some(obj) = st.pools.get_mut(name) else {
            return;
        };
        obj.clear();
        if let Some(next) = obj.next_def.take() {
            obj.def = next;
            obj.target_perms = None;
        }
        if !obj.persistent {
            st.pools.remove(name);
        }
    }

    /// Refreshes pool `name`; a failed refresh stops the pool, as libvirt's.
    async fn refresh_obj(&self, st: &mut State, name: &str) -> Result<()> {
        let obj = st.obj_mut(name)?;
        let backend = self.backend(obj.def.pool_type)?;
        let def = obj.def.clone();
        let b = backend.clone();
        match blocking(move || b.refresh(&def)).await {
            Ok(r) => {
                st.obj_mut(name)?.apply(r);
                Ok(())
            }
            Err(e) => {
                let obj = st.obj_mut(name)?;
                let pref = obj.reference();
                let def = obj.def.clone();
                let _ = blocking(move || backend.stop(&def)).await;
                let _ = store::remove_live(&self.inner.config, name);
                self.after_stop(st, name);
                self.emit(&pref, PoolEventKind::Stopped);
                Err(e)
            }
        }
    }

    /// libvirt's `virStoragePoolObjIsDuplicate` and `virStoragePoolObjSourceFindDuplicate`
    /// for a new definition: the name of the existing pool it replaces, if any.
    fn check_duplicate(&self, st: &State, def: &Pool, check_active: bool) -> Result<bool> {
        if let Some(other) = st.pools.values().find(|p| source_conflict(&p.def, def)) {
            return Err(err(
                ErrorCode::OperationFailed,
                format!("Storage source conflict with pool: '{}'", other.def.name),
            ));
        }
        if let Some(p) = st.pools.values().find(|p| p.def.uuid == def.uuid) {
            if p.def.name != def.name {
                return Err(err(
                    ErrorCode::OperationFailed,
                    format!(
                        "pool '{}' is already defined with uuid {}",
                        p.def.name, p.def.uuid
                    ),
                ));
            }
            if check_active && p.active {
                return Err(err(
                    ErrorCode::OperationInvalid,
                    format!("pool is already active as '{}'", p.def.name),
                ));
            }
            return Ok(true);
        }
        if let Some(p) = st.pools.get(&def.name) {
            return Err(err(
                ErrorCode::OperationFailed,
                format!(
                    "pool '{}' already exists with uuid {}",
                    def.name, p.def.uuid
                ),
            ));
        }
        Ok(false)
    }

    /// Marks a transfer on a volume (and, for an upload, a job on its pool) until the
    /// guard drops.
    fn transfer_guard(&self, pool: &str, vol: &str, upload: bool) -> TransferGuard {
        *lock(&self.inner.busy)
            .entry((pool.to_string(), vol.to_string()))
            .or_default() += 1;
        if upload {
            *lock(&self.inner.jobs).entry(pool.to_string()).or_default() += 1;
        }
        TransferGuard {
            driver: self.clone(),
            pool: pool.to_string(),
            vol: vol.to_string(),
            upload,
        }
    }

    /// A volume, first refreshed when its pool keeps files (libvirt's `refreshVol`
    /// before `vol-info` and `vol-dumpxml`).
    async fn refreshed_vol(&self, vol: &VolRef) -> Result<Volume> {
        let mut st = self.inner.state.lock().await;
        let (obj, v) = st.vol(vol)?;
        let backend = self.backend(obj.def.pool_type)?;
        let (def, cached, vname) = (obj.def.clone(), v.clone(), v.name.clone());
        match blocking(move || backend.refresh_volume(&def, &vname)).await? {
            // Backends that cannot read one volume show what the last refresh found.
            None => Ok(cached),
            Some(r) => {
                let fresh = r.volume.clone();
                // A volume gone behind the driver's back is forgotten.
                st.obj_mut(&vol.pool)?.apply_volume(&vol.name, r);
                fresh.ok_or_else(|| {
                    err(
                        ErrorCode::NoStorageVol,
                        format!("no storage vol with matching name '{}'", vol.name),
                    )
                })
            }
        }
    }

    /// Reads volume `vol` of pool `name` and the pool's space again after a change to the
    /// volume; the whole pool where the backend cannot read one volume alone.
    async fn refresh_vol_obj(&self, st: &mut State, name: &str, vol: &str) -> Result<()> {
        let obj = st.obj_mut(name)?;
        let backend = self.backend(obj.def.pool_type)?;
        let (def, vname) = (obj.def.clone(), vol.to_string());
        match blocking(move || backend.refresh_volume(&def, &vname)).await? {
            Some(r) => {
                st.obj_mut(name)?.apply_volume(vol, r);
                Ok(())
            }
            None => self.refresh_obj(st, name).await,
        }
    }

    fn is_busy(&self, pool: &str, vol: &str) -> bool {
        lock(&self.inner.busy)
            .get(&(pool.to_string(), vol.to_string()))
            .copied()
            .unwrap_or(0)
            > 0
    }

    fn has_jobs(&self, pool: &str) -> bool {
        lock(&self.inner.jobs).get(pool).copied().unwrap_or(0) > 0
    }

    /// libvirt's checks before changing a volume: no transfer running on it, and (in
    /// oxvirt, with `domains`: before a delete or a wipe) no running domain using it.
    fn check_vol_free(&self, v: &Volume, pool: &str, domains: bool) -> Result<()> {
        if self.is_busy(pool, &v.name) {
            return Err(err(
                ErrorCode::OperationInvalid,
                format!("volume '{}' is still in use.", v.name),
            ));
        }
        if !domains {
            return Ok(());
        }
        let names: Vec<&str> = [v.key.as_deref(), v.target.path.as_deref()]
            .into_iter()
            .flatten()
            .collect();
        let users = lock(&self.inner.in_use);
        if let Some((domain, _)) = users
            .iter()
            .find(|(_, keys)| keys.iter().any(|k| names.contains(&k.as_str())))
        {
            return Err(err(
                ErrorCode::OperationInvalid,
                format!("volume '{}' is still in use by domain '{domain}'", v.name),
            ));
        }
        Ok(())
    }
}

/// Ends a transfer's marks when dropped.
struct TransferGuard {
    driver: PoolDriver,
    pool: String,
    vol: String,
    upload: bool,
}

impl Drop for TransferGuard {
    fn drop(&mut self) {
        let key = (self.pool.clone(), self.vol.clone());
        let mut busy = lock(&self.driver.inner.busy);
        if let Some(n) = busy.get_mut(&key) {
            *n -= 1;
            if *n == 0 {
                busy.remove(&key);
            }
        }
        drop(busy);
        if self.upload {
            let mut jobs = lock(&self.driver.inner.jobs);
            if let Some(n) = jobs.get_mut(&self.pool) {
                *n -= 1;
                if *n == 0 {
                    jobs.remove(&self.pool);
                }
            }
        }
    }
}

fn vol_kind(t: VolumeType) -> VolType {
    match t {
        VolumeType::File => VolType::File,
        VolumeType::Block => VolType::Block,
        VolumeType::Dir => VolType::Dir,
        VolumeType::Network => VolType::Network,
        VolumeType::Netdir => VolType::Netdir,
        VolumeType::Ploop => VolType::Ploop,
    }
}

#[async_trait]
impl StorageDriver for PoolDriver {
    fn subscribe(&self) -> PoolEventReceiver {
        self.inner.events.subscribe()
    }

    async fn list_all_pools(&self, fl: u32) -> Result<Vec<PoolRef>> {
        use flags::list::*;
        VirError::check_flags(
            ErrorDomain::Storage,
            fl,
            ALL,
            "virConnectListAllStoragePools",
        )?;
        let st = self.inner.state.lock().await;
        let pair = |a: u32, b: u32, v: bool| {
            let (a, b) = (fl & a != 0, fl & b != 0);
            !(a || b) || (a && v) || (b && !v)
        };
        let types = fl & !(DIR - 1) & ALL;
        Ok(st
            .pools
            .values()
            .filter(|p| pair(ACTIVE, INACTIVE, p.active))
            .filter(|p| pair(PERSISTENT, TRANSIENT, p.persistent))
            .filter(|p| pair(AUTOSTART, NO_AUTOSTART, p.autostart))
            .filter(|p| {
                types == 0 || type_bit(p.def.pool_type.as_str()).is_some_and(|b| types & b != 0)
            })
            .map(PoolObj::reference)
            .collect())
    }

    async fn find_pool_sources(
        &self,
        pool_type: &str,
        spec: Option<&str>,
        fl: u32,
    ) -> Result<String> {
        let t: PoolType = pool_type.parse().map_err(|_| {
            err(
                ErrorCode::InternalError,
                format!("unknown storage pool type {pool_type}"),
            )
        })?;
        let backend = self.backend(t)?;
        let spec = match spec {
            Some(s) if !s.trim().is_empty() => Some(parse_source_spec(s)?),
            _ => None,
        };
        let found = blocking(move || backend.find_sources(spec.as_ref(), fl)).await?;
        Ok(sources_to_xml(t, &found))
    }

    async fn pool_lookup_by_name(&self, name: &str) -> Result<PoolRef> {
        let st = self.inner.state.lock().await;
        st.pools
            .get(name)
            .map(PoolObj::reference)
            .ok_or_else(|| no_pool_name(name))
    }

    async fn pool_lookup_by_uuid(&self, uuid: &Uuid) -> Result<PoolRef> {
        let st = self.inner.state.lock().await;
        st.pools
            .values()
            .find(|p| p.def.uuid == *uuid)
            .map(PoolObj::reference)
            .ok_or_else(|| {
                err(
                    ErrorCode::NoStoragePool,
                    format!("no storage pool with matching uuid '{uuid}'"),
                )
            })
    }

    async fn pool_lookup_by_volume(&self, vol: &VolRef) -> Result<PoolRef> {
        let st = self.inner.state.lock().await;
        st.pools
            .get(&vol.pool)
            .map(PoolObj::reference)
            .ok_or_else(|| no_pool_name(&vol.pool))
    }

    async fn pool_lookup_by_target_path(&self, path: &str) -> Result<PoolRef> {
        let clean = clean_path(path);
        let st = self.inner.state.lock().await;
        st.pools
            .values()
            .find(|p| p.active && p.def.target_path.as_deref() == Some(clean.as_str()))
            .map(PoolObj::reference)
            .ok_or_else(|| {
                let msg = if clean == path {
                    format!("no storage pool with matching target path '{path}'")
                } else {
                    format!("no storage pool with matching target path '{path}' ({clean})")
                };
                err(ErrorCode::NoStoragePool, msg)
            })
    }

    async fn pool_define_xml(&self, xml: &str, fl: u32) -> Result<PoolRef> {
        VirError::check_flags(
            ErrorDomain::Storage,
            fl,
            flags::define::VALIDATE,
            "storagePoolDefineXML",
        )?;
        let def = Pool::parse(xml)?;
        if fl & flags::define::VALIDATE != 0 {
            def.validate()?;
        }
        // As libvirt: a pool type without a backend cannot even be defined.
        self.backend(def.pool_type)?;
        let mut st = self.inner.state.lock().await;
        let exists = self.check_duplicate(&st, &def, false)?;
        store::save_config(&self.inner.config, &def)?;
        let pref = PoolRef {
            name: def.name.clone(),
            uuid: def.uuid,
        };
        if exists {
            let obj = st.obj_mut(&def.name)?;
            obj.persistent = true;
            if obj.active {
                obj.next_def = Some(def);
            } else {
                obj.def = def;
            }
        } else {
            st.pools.insert(
                def.name.clone(),
                PoolObj {
                    def,
                    next_def: None,
                    persistent: true,
                    autostart: false,
                    active: false,
                    space: (0, 0, 0),
                    volumes: BTreeMap::new(),
                    target_perms: None,
                },
            );
        }
        self.emit(&pref, PoolEventKind::Defined);
        Ok(pref)
    }

    async fn pool_create_xml(&self, xml: &str, fl: u32) -> Result<PoolRef> {
        use flags::create::*;
        VirError::check_flags(
            ErrorDomain::Storage,
            fl,
            WITH_BUILD | WITH_BUILD_OVERWRITE | WITH_BUILD_NO_OVERWRITE,
            "storagePoolCreateXML",
        )?;
        let build = build_flags(fl)?;
        let def = Pool::parse(xml)?;
        self.backend(def.pool_type)?;
        let mut st = self.inner.state.lock().await;
        let exists = self.check_duplicate(&st, &def, true)?;
        let name = def.name.clone();
        let pref = PoolRef {
            name: name.clone(),
            uuid: def.uuid,
        };
        let previous = if exists {
            let obj = st.obj_mut(&name)?;
            let old = obj.def.clone();
            obj.next_def = Some(old.clone());
            obj.def = def;
            Some(old)
        } else {
            st.pools.insert(
                name.clone(),
                PoolObj {
                    def,
                    next_def: None,
                    persistent: false,
                    autostart: false,
                    active: false,
                    space: (0, 0, 0),
                    volumes: BTreeMap::new(),
                    target_perms: None,
                },
            );
            None
        };
        if let Err(e) = self.start_obj(&mut st, &name, build).await {
            match previous {
                Some(old) => {
                    if let Ok(obj) = st.obj_mut(&name) {
                        obj.def = old;
                        obj.next_def = None;
                    }
                }
                None => {
                    st.pools.remove(&name);
                }
            }
            return Err(e);
        }
        self.emit(&pref, PoolEventKind::Started);
        Ok(pref)
    }

    async fn pool_build(&self, pool: &PoolRef, fl: u32) -> Result<()> {
        let st = self.inner.state.lock().await;
        let obj = st.get(pool)?;
        let backend = self.backend(obj.def.pool_type)?;
        if obj.active {
            return Err(already_active(&obj.def.name));
        }
        let def = obj.def.clone();
        let pref = obj.reference();
        blocking(move || backend.build(&def, fl)).await?;
        self.emit(&pref, PoolEventKind::Created);
        Ok(())
    }

    async fn pool_create(&self, pool: &PoolRef, fl: u32) -> Result<()> {
        use flags::create::*;
        VirError::check_flags(
            ErrorDomain::Storage,
            fl,
            WITH_BUILD | WITH_BUILD_OVERWRITE | WITH_BUILD_NO_OVERWRITE,
            "storagePoolCreate",
        )?;
        let build = build_flags(fl)?;
        let mut st = self.inner.state.lock().await;
        let obj = st.get(pool)?;
        self.backend(obj.def.pool_type)?;
        if obj.active {
            return Err(already_active(&obj.def.name));
        }
        let (name, pref) = (obj.def.name.clone(), obj.reference());
        self.start_obj(&mut st, &name, build).await?;
        self.emit(&pref, PoolEventKind::Started);
        Ok(())
    }

    async fn pool_destroy(&self, pool: &PoolRef) -> Result<()> {
        let mut st = self.inner.state.lock().await;
        let obj = st.get(pool)?;
        self.backend(obj.def.pool_type)?;
        let (name, pref) = (obj.def.name.clone(), obj.reference());
        if !obj.active {
            return Err(not_active(&name));
        }
        if self.has_jobs(&name) {
            return Err(jobs_running(&name));
        }
        self.stop_obj(&mut st, &name).await?;
        self.emit(&pref, PoolEventKind::Stopped);
        Ok(())
    }

    async fn pool_delete(&self, pool: &PoolRef, fl: u32) -> Result<()> {
        let st = self.inner.state.lock().await;
        let obj = st.get(pool)?;
        let backend = self.backend(obj.def.pool_type)?;
        if obj.active {
            return Err(still_active(&obj.def.name));
        }
        if self.has_jobs(&obj.def.name) {
            return Err(jobs_running(&obj.def.name));
        }
        let def = obj.def.clone();
        let pref = obj.reference();
        blocking(move || backend.delete(&def, fl)).await?;
        self.emit(&pref, PoolEventKind::Deleted);
        Ok(())
    }

    async fn pool_undefine(&self, pool: &PoolRef) -> Result<()> {
        let mut st = self.inner.state.lock().await;
        let obj = st.get(pool)?;
        let (name, pref) = (obj.def.name.clone(), obj.reference());
        if obj.active {
            return Err(still_active(&name));
        }
        if self.has_jobs(&name) {
            return Err(jobs_running(&name));
        }
        store::remove_config(&self.inner.config, &name)?;
        st.pools.remove(&name);
        self.emit(&pref, PoolEventKind::Undefined);
        Ok(())
    }

    async fn pool_refresh(&self, pool: &PoolRef, fl: u32) -> Result<()> {
        VirError::check_flags(ErrorDomain::Storage, fl, 0, "storagePoolRefresh")?;
        let mut st = self.inner.state.lock().await;
        let obj = st.get(pool)?;
        let (name, pref) = (obj.def.name.clone(), obj.reference());
        if !obj.active {
            return Err(not_active(&name));
        }
        if self.has_jobs(&name) {
            return Err(jobs_running(&name));
        }
        self.refresh_obj(&mut st, &name).await?;
        self.inner.events.emit(PoolEvent::refresh(&pref));
        Ok(())
    }

    async fn pool_info(&self, pool: &PoolRef) -> Result<PoolInfo> {
        let st = self.inner.state.lock().await;
        let obj = st.get(pool)?;
        Ok(PoolInfo {
            state: if obj.active {
                PoolState::Running
            } else {
                PoolState::Inactive
            },
            capacity: obj.space.0,
            allocation: obj.space.1,
            available: obj.space.2,
        })
    }

    async fn pool_xml_desc(&self, pool: &PoolRef, fl: u32) -> Result<String> {
        VirError::check_flags(
            ErrorDomain::Storage,
            fl,
            flags::xml::INACTIVE,
            "storagePoolGetXMLDesc",
        )?;
        let st = self.inner.state.lock().await;
        let obj = st.get(pool)?;
        if fl & flags::xml::INACTIVE != 0 {
            if let Some(next) = &obj.next_def {
                return Ok(next.to_xml());
            }
        }
        let mut def = obj.def.clone();
        (def.capacity, def.allocation, def.available) = obj.space;
        if let Some(perms) = &obj.target_perms {
            def.target_perms = perms.clone();
        }
        Ok(def.to_xml())
    }

    async fn pool_autostart(&self, pool: &PoolRef) -> Result<bool> {
        let st = self.inner.state.lock().await;
        Ok(st.get(pool)?.autostart)
    }

    async fn pool_set_autostart(&self, pool: &PoolRef, autostart: bool) -> Result<()> {
        let mut st = self.inner.state.lock().await;
        let name = st.name_of(pool)?;
        let obj = st.obj_mut(&name)?;
        if !obj.persistent {
            return Err(err(ErrorCode::InternalError, "pool has no config file"));
        }
        if obj.autostart != autostart {
            store::set_autostart(&self.inner.config, &name, autostart)?;
            obj.autostart = autostart;
        }
        Ok(())
    }

    async fn pool_is_active(&self, pool: &PoolRef) -> Result<bool> {
        Ok(self.inner.state.lock().await.get(pool)?.active)
    }

    async fn pool_is_persistent(&self, pool: &PoolRef) -> Result<bool> {
        Ok(self.inner.state.lock().await.get(pool)?.persistent)
    }

    async fn pool_list_volumes(&self, pool: &PoolRef) -> Result<Vec<VolRef>> {
        let st = self.inner.state.lock().await;
        let obj = st.get(pool)?;
        if !obj.active {
            return Err(not_active(&obj.def.name));
        }
        Ok(obj.volumes.values().map(|v| obj.vol_ref(v)).collect())
    }

    async fn vol_lookup_by_name(&self, pool: &PoolRef, name: &str) -> Result<VolRef> {
        let st = self.inner.state.lock().await;
        let obj = st.get(pool)?;
        if !obj.active {
            return Err(not_active(&obj.def.name));
        }
        obj.volumes
            .get(name)
            .map(|v| obj.vol_ref(v))
            .ok_or_else(|| no_vol_name(name))
    }

    async fn vol_lookup_by_key(&self, key: &str) -> Result<VolRef> {
        let st = self.inner.state.lock().await;
        st.pools
            .values()
            .filter(|p| p.active)
            .find_map(|p| {
                p.volumes
                    .values()
                    .find(|v| v.key.as_deref() == Some(key))
                    .map(|v| p.vol_ref(v))
            })
            .ok_or_else(|| {
                err(
                    ErrorCode::NoStorageVol,
                    format!("no storage vol with matching key {key}"),
                )
            })
    }

    async fn vol_lookup_by_path(&self, path: &str) -> Result<VolRef> {
        let clean = clean_path(path);
        let st = self.inner.state.lock().await;
        st.pools
            .values()
            .filter(|p| p.active)
            .find_map(|p| {
                p.volumes
                    .values()
                    .find(|v| v.target.path.as_deref() == Some(clean.as_str()))
                    .map(|v| p.vol_ref(v))
            })
            .ok_or_else(|| {
                let msg = if clean == path {
                    format!("no storage vol with matching path '{path}'")
                } else {
                    format!("no storage vol with matching path '{path}' ({clean})")
                };
                err(ErrorCode::NoStorageVol, msg)
            })
    }

    async fn vol_create_xml(&self, pool: &PoolRef, xml: &str, fl: u32) -> Result<VolRef> {
        use flags::vol_create::*;
        VirError::check_flags(
            ErrorDomain::Storage,
            fl,
            PREALLOC_METADATA | VALIDATE,
            "storageVolCreateXML",
        )?;
        let mut st = self.inner.state.lock().await;
        let obj = st.get(pool)?;
        let name = obj.def.name.clone();
        if !obj.active {
            return Err(not_active(&name));
        }
        let backend = self.backend(obj.def.pool_type)?;
        let vol = Volume::parse(xml, obj.def.pool_type)?;
        if obj.volumes.contains_key(&vol.name) {
            return Err(err(ErrorCode::StorageVolExist, format!("'{}'", vol.name)));
        }
        let def = obj.def.clone();
        let v = vol.clone();
        let created = blocking(move || backend.create_volume(&def, &v, fl & !VALIDATE)).await?;
        self.refresh_vol_obj(&mut st, &name, &created.name).await?;
        let obj = st.obj_mut(&name)?;
        let entry = obj
            .volumes
            .entry(created.name.clone())
            .or_insert(created)
            .clone();
        Ok(obj.vol_ref(&entry))
    }

    async fn vol_create_xml_from(
        &self,
        pool: &PoolRef,
        xml: &str,
        from: &VolRef,
        fl: u32,
    ) -> Result<VolRef> {
        use flags::vol_create::*;
        VirError::check_flags(
            ErrorDomain::Storage,
            fl,
            PREALLOC_METADATA | REFLINK | VALIDATE,
            "storageVolCreateXMLFrom",
        )?;
        let mut st = self.inner.state.lock().await;
        let obj = st.get(pool)?;
        let name = obj.def.name.clone();
        let src_obj = if from.pool == name {
            obj
        } else {
            st.pools
                .get(&from.pool)
                .ok_or_else(|| no_pool_name(&from.pool))?
        };
        if !obj.active {
            return Err(not_active(&name));
        }
        if !src_obj.active {
            return Err(not_active(&src_obj.def.name));
        }
        let backend = self.backend(obj.def.pool_type)?;
        let orig = src_obj
            .volumes
            .get(&from.name)
            .ok_or_else(|| no_vol_name(&from.name))?
            .clone();
        let mut vol = Volume::parse_with(xml, obj.def.pool_type, CapacityRule::Optional)?;
        if obj.volumes.contains_key(&vol.name) {
            return Err(err(
                ErrorCode::InternalError,
                format!("storage volume name '{}' already in use.", vol.name),
            ));
        }
        if vol.capacity < orig.capacity {
            vol.capacity = orig.capacity;
        }
        let def = obj.def.clone();
        let v = vol.clone();
        let created = blocking(move || {
            backend.create_volume_from(&def, &v, &orig, fl & !(VALIDATE | REFLINK))
        })
        .await?;
        self.refresh_vol_obj(&mut st, &name, &created.name).await?;
        let obj = st.obj_mut(&name)?;
        let entry = obj
            .volumes
            .entry(created.name.clone())
            .or_insert(created)
            .clone();
        Ok(obj.vol_ref(&entry))
    }

    async fn vol_delete(&self, vol: &VolRef, fl: u32) -> Result<()> {
        let mut st = self.inner.state.lock().await;
        let (obj, v) = st.vol(vol)?;
        self.check_vol_free(v, &obj.def.name, true)?;
        let backend = self.backend(obj.def.pool_type)?;
        let (def, v) = (obj.def.clone(), v.clone());
        let name = def.name.clone();
        blocking(move || backend.delete_volume(&def, &v, fl)).await?;
        st.obj_mut(&name)?.volumes.remove(&vol.name);
        self.refresh_vol_obj(&mut st, &name, &vol.name).await
    }

    async fn vol_wipe(&self, vol: &VolRef, algorithm: u32, fl: u32) -> Result<()> {
        VirError::check_flags(ErrorDomain::Storage, fl, 0, "storageVolWipePattern")?;
        if WipeAlgorithm::from_number(algorithm).is_none() {
            return Err(err(
                ErrorCode::InvalidArg,
                format!("wiping algorithm {algorithm} not supported"),
            ));
        }
        let mut st = self.inner.state.lock().await;
        let (obj, v) = st.vol(vol)?;
        self.check_vol_free(v, &obj.def.name, true)?;
        let backend = self.backend(obj.def.pool_type)?;
        let (def, v) = (obj.def.clone(), v.clone());
        let name = def.name.clone();
        blocking(move || backend.wipe_volume(&def, &v, algorithm, fl)).await?;
        self.refresh_vol_obj(&mut st, &name, &vol.name).await
    }

    async fn vol_resize(&self, vol: &VolRef, capacity: u64, fl: u32) -> Result<()> {
        use flags::resize::*;
        VirError::check_flags(
            ErrorDomain::Storage,
            fl,
            ALLOCATE | DELTA | SHRINK,
            "storageVolResize",
        )?;
        let mut st = self.inner.state.lock().await;
        let (obj, v) = st.vol(vol)?;
        self.check_vol_free(v, &obj.def.name, false)?;
        let abs = if fl & DELTA != 0 {
            if fl & SHRINK != 0 {
                v.capacity - capacity.min(v.capacity)
            } else {
                v.capacity.saturating_add(capacity)
            }
        } else {
            capacity
        };
        if abs < v.allocation {
            return Err(err(
                ErrorCode::InvalidArg,
                "can't shrink capacity below existing allocation",
            ));
        }
        if abs < v.capacity && fl & SHRINK == 0 {
            return Err(err(
                ErrorCode::InvalidArg,
                "Can't shrink capacity below current capacity unless shrink flag explicitly specified",
            ));
        }
        if fl & ALLOCATE != 0 && abs.saturating_sub(v.allocation) > obj.space.2 {
            return Err(err(
                ErrorCode::OperationFailed,
                "Not enough space left in storage pool",
            ));
        }
        let backend = self.backend(obj.def.pool_type)?;
        let (def, v) = (obj.def.clone(), v.clone());
        let name = def.name.clone();
        blocking(move || backend.resize_volume(&def, &v, abs, fl & !DELTA)).await?;
        self.refresh_vol_obj(&mut st, &name, &vol.name).await
    }

    async fn vol_info(&self, vol: &VolRef, fl: u32) -> Result<VolInfo> {
        VirError::check_flags(
            ErrorDomain::Storage,
            fl,
            flags::vol_info::GET_PHYSICAL,
            "storageVolGetInfoFlags",
        )?;
        let v = self.refreshed_vol(vol).await?;
        Ok(VolInfo {
            kind: vol_kind(v.vol_type),
            capacity: v.capacity,
            allocation: if fl & flags::vol_info::GET_PHYSICAL != 0 {
                v.physical
            } else {
                v.allocation
            },
        })
    }

    async fn vol_xml_desc(&self, vol: &VolRef, fl: u32) -> Result<String> {
        VirError::check_flags(ErrorDomain::Storage, fl, 0, "storageVolGetXMLDesc")?;
        Ok(self.refreshed_vol(vol).await?.to_xml())
    }

    async fn vol_path(&self, vol: &VolRef) -> Result<String> {
        let st = self.inner.state.lock().await;
        let (_, v) = st.vol(vol)?;
        Ok(v.target.path.clone().unwrap_or_default())
    }

    async fn vol_download(
        &self,
        vol: &VolRef,
        offset: u64,
        length: u64,
        fl: u32,
    ) -> Result<Download> {
        transfer::download(self, vol, offset, length, fl).await
    }

    async fn vol_upload(&self, vol: &VolRef, offset: u64, length: u64, fl: u32) -> Result<Upload> {
        transfer::upload(self, vol, offset, length, fl).await
    }
}

/// The `<source>` document of `virConnectFindStoragePoolSources` (host, device, dir,
/// name, format, initiator), without the per-type requirements of a pool definition, as
/// libvirt's `virStoragePoolDefParseSourceString`.
pub fn parse_source_spec(xml: &str) -> Result<crate::model::PoolSource> {
    use crate::model::{PoolSource, PoolSourceDevice, PoolSourceHost};
    let root = oxvirt_xml::parse(xml).map_err(|e| VirError::from_xml(e, ErrorDomain::Storage))?;
    if root.name != "source" {
        // virXMLParse's root check, reported from the XML utilities.
        return Err(VirError::new(
            ErrorDomain::Xml,
            ErrorCode::XmlError,
            format!("expecting root element of 'source', not '{}'", root.name),
        ));
    }
    let mut src = PoolSource::default();
    for el in root.elements() {
        match el.name.as_str() {
            "host" => {
                let name = el
                    .attr("name")
                    .ok_or_else(|| err(ErrorCode::XmlError, "missing storage pool host name"))?;
                let port = match el.attr("port") {
                    None => 0,
                    Some(p) => p.parse().map_err(|_| {
                        err(
                            ErrorCode::XmlError,
                            format!("Invalid value for attribute 'port' in element 'host': '{p}'. Expected integer value"),
                        )
                    })?,
                };
                src.hosts.push(PoolSourceHost {
                    name: name.to_string(),
                    port,
                });
            }
            "device" => {
                let path = el.attr("path").ok_or_else(|| {
                    err(
                        ErrorCode::XmlError,
                        "missing storage pool source device path",
                    )
                })?;
                src.devices.push(PoolSourceDevice {
                    path: path.to_string(),
                    part_separator: None,
                    free_extents: Vec::new(),
                });
            }
            "dir" => src.dir = el.attr("path").map(str::to_string),
            "name" => src.name = Some(el.text()),
            "format" => src.format = el.attr("type").map(str::to_string),
            "initiator" => {
                src.initiator_iqn = el
                    .child("iqn")
                    .and_then(|i| i.attr("name"))
                    .map(str::to_string)
            }
            _ => {}
        }
    }
    Ok(src)
}

/// A path with repeated and trailing `/` removed (libvirt's `virFileSanitizePath`).
fn clean_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if c == '/' && out.ends_with('/') {
            continue;
        }
        out.push(c);
    }
    if out.len() > 1 && out.ends_with('/') {
        out.pop();
    }
    out
}

/// The build flags a create call asks for (`None`: no build), with libvirt's check that
/// `OVERWRITE` and `NO_OVERWRITE` are not both given.
fn build_flags(fl: u32) -> Result<Option<u32>> {
    use flags::create::*;
    if fl & WITH_BUILD_OVERWRITE != 0 && fl & WITH_BUILD_NO_OVERWRITE != 0 {
        return Err(err(
            ErrorCode::InvalidArg,
            "Flags 'VIR_STORAGE_POOL_BUILD_OVERWRITE' and 'VIR_STORAGE_POOL_BUILD_NO_OVERWRITE' are mutually exclusive",
        ));
    }
    Ok(if fl & WITH_BUILD_OVERWRITE != 0 {
        Some(flags::build::OVERWRITE)
    } else if fl & WITH_BUILD_NO_OVERWRITE != 0 {
        Some(flags::build::NO_OVERWRITE)
    } else if fl & WITH_BUILD != 0 {
        Some(0)
    } else {
        None
    })
}
