//! [`TestStorage`]: the storage pools and volumes of a test node as libvirt's test driver
//! serves them (`testStoragePool*` and `testStorageVol*` in test_driver.c): kept in memory
//! with the node, nothing on the host touched. Every pool has libvirt's fixed capacity
//! ([`DEFAULT_POOL_CAPACITY`]); a volume takes the allocation its XML gives, lives at the
//! pool's target path and its name, and has that path as its key. Building, deleting and
//! refreshing a pool only send their events; resizing, wiping, uploading and downloading
//! volumes are not supported, as in libvirt.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use oxvirt_storage::api::{
    flags, no_support, PoolEvent, PoolEventBus, PoolEventKind, PoolEventReceiver, PoolInfo,
    PoolRef, PoolState, Result, StorageDriver, VolInfo, VolRef, VolType,
};
use oxvirt_storage::driver::{parse_source_spec, source_conflict};
use oxvirt_storage::model::{CapacityRule, Pool, PoolType, Volume};
use oxvirt_xml::types::Uuid;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use crate::buses::{bus_of, NodeBuses};
use crate::resources::{PoolObj, VolumeObj};
use crate::TestDriver;

/// The capacity libvirt's test driver gives every pool (`defaultPoolCap`): 100 GiB.
pub const DEFAULT_POOL_CAPACITY: u64 = 100 * 1024 * 1024 * 1024;

/// libvirt's test driver's answer to a logical source discovery
/// (`defaultPoolSourcesLogicalXML`).
const LOGICAL_SOURCES: &str = "<sources>
  <source>
    <device path='/dev/sda20'/>
    <name>testvg1</name>
    <format type='lvm2'/>
  </source>
  <source>
    <device path='/dev/sda21'/>
    <name>testvg2</name>
    <format type='lvm2'/>
  </source>
</sources>
";

/// The pool event bus of each test node.
static BUSES: NodeBuses<PoolEvent> = Mutex::new(Vec::new());

/// The storage calls of a test node.
#[derive(Debug, Clone)]
pub struct TestStorage {
    driver: TestDriver,
    bus: Arc<PoolEventBus>,
}

impl TestDriver {
    /// The storage pool and volume calls of this node.
    pub fn storage_driver(&self) -> TestStorage {
        TestStorage {
            driver: self.clone(),
            bus: bus_of(&BUSES, &self.shared),
        }
    }
}

/// An error test_driver.c reports (`VIR_FROM_TEST`).
fn terr(code: ErrorCode, message: String) -> VirError {
    VirError::new(ErrorDomain::Test, code, message)
}

/// An error the storage object list reports (`VIR_FROM_STORAGE`).
fn serr(code: ErrorCode, message: String) -> VirError {
    VirError::new(ErrorDomain::Storage, code, message)
}

fn check_flags(f: u32, allowed: u32, function: &str) -> Result<()> {
    VirError::check_flags(ErrorDomain::Test, f, allowed, function)
}

fn no_pool_name(name: &str) -> VirError {
    terr(
        ErrorCode::NoStoragePool,
        format!("no storage pool with matching name '{name}'"),
    )
}

fn no_vol(what: &str, value: &str) -> VirError {
    terr(
        ErrorCode::NoStorageVol,
        format!("no storage vol with matching {what} '{value}'"),
    )
}

fn obj_ref(obj: &PoolObj) -> PoolRef {
    PoolRef {
        name: obj.name.clone(),
        uuid: obj.uuid.unwrap_or_default(),
    }
}

fn vol_ref(pool: &PoolObj, vol: &VolumeObj) -> VolRef {
    VolRef {
        pool: pool.name.clone(),
        name: vol.name.clone(),
        key: vol.key.clone(),
    }
}

/// The type of a stored pool (a pool the parser refused counts as a dir pool).
fn pool_type(obj: &PoolObj) -> PoolType {
    Pool::parse(&obj.xml)
        .map(|p| p.pool_type)
        .unwrap_or(PoolType::Dir)
}

/// A stored volume's definition, with the path and key the pool gave it.
fn volume(pool: PoolType, vol: &VolumeObj) -> Result<Volume> {
    let mut v = Volume::parse_with(&vol.xml, pool, CapacityRule::Required)?;
    v.key = Some(vol.key.clone());
    v.target.path = Some(vol.path.clone());
    Ok(v)
}

/// A node file's pool read as libvirt's `testParseStorage` reads it: a definition the
/// parser refuses fails the open; a pool without a UUID gets one. Its type.
pub(crate) fn load_pool(pool: &mut PoolObj) -> Result<PoolType> {
    let def = Pool::parse(&pool.xml)?;
    pool.uuid = Some(def.uuid);
    pool.xml = def.to_xml();
    Ok(def.pool_type)
}

/// A node file's volume as libvirt's `testOpenVolumesForPool` reads it: a definition the
/// parser refuses (no capacity...) fails the open.
pub(crate) fn check_volume(pool: PoolType, vol: &VolumeObj) -> Result<()> {
    volume(pool, vol).map(|_| ())
}

/// What a node file's volumes take together (libvirt's `testOpenVolumesForPool` adds each
/// one's allocation to its pool's).
pub(crate) fn volumes_allocation(pool: &PoolObj) -> u64 {
    let t = pool_type(pool);
    pool.volumes
        .iter()
        .filter_map(|v| volume(t, v).ok())
        .map(|v| v.allocation)
        .sum()
}

/// libvirt's `testStorageVolumeTypeForPool`.
fn vol_type_for(t: PoolType) -> VolType {
    use PoolType::*;
    match t {
        Dir | Fs | Netfs | Vstorage => VolType::File,
        Sheepdog | IscsiDirect | Gluster | Rbd => VolType::Network,
        Logical | Disk | Mpath | Iscsi | Scsi | Zfs => VolType::Block,
    }
}

/// Which pools a `virConnectListAllStoragePools` filter keeps.
fn passes(obj: &PoolObj, t: PoolType, f: u32) -> bool {
    use flags::list::*;
    let pass = |on: bool, yes: u32, no: u32| {
        let want = f & (yes | no);
        want == 0 || want == yes | no || (on && want == yes) || (!on && want == no)
    };
    let types = f & (ALL & !(DIR - 1));
    pass(obj.active, ACTIVE, INACTIVE)
        && pass(obj.persistent, PERSISTENT, TRANSIENT)
        && pass(obj.autostart && obj.persistent, AUTOSTART, NO_AUTOSTART)
        && (types == 0 || type_bit(t.as_str()).is_some_and(|b| types & b != 0))
}

impl TestStorage {
    /// Pools of a node file without a `<uuid>` get one, once (libvirt generates it when it
    /// parses the definition).
    fn fill_uuids(&self) {
        let mut node = self.driver.lock();
        for p in node.pools.iter_mut().filter(|p| p.uuid.is_none()) {
            if let Ok(def) = Pool::parse(&p.xml) {
                p.uuid = Some(def.uuid);
                p.xml = def.to_xml();
            }
        }
    }

    fn emit(&self, pool: &PoolRef, kind: PoolEventKind) {
        self.bus.emit(PoolEvent::lifecycle(pool, kind));
    }

    /// Runs `f` on the pool named `name` (libvirt's `testStoragePoolObjFindByName`).
    fn by_name<T>(&self, name: &str, f: impl FnOnce(&mut PoolObj) -> Result<T>) -> Result<T> {
        self.fill_uuids();
        let mut node = self.driver.lock();
        let obj = node
            .pools
            .iter_mut()
            .find(|p| p.name == name)
            .ok_or_else(|| no_pool_name(name))?;
        f(obj)
    }

    /// [`Self::by_name`] for a pool that must run (`testStoragePoolObjFindActiveByName`).
    fn active<T>(&self, name: &str, f: impl FnOnce(&mut PoolObj) -> Result<T>) -> Result<T> {
        self.by_name(name, |obj| {
            if !obj.active {
                return Err(terr(
                    ErrorCode::OperationInvalid,
                    format!("storage pool '{name}' is not active"),
                ));
            }
            f(obj)
        })
    }

    /// [`Self::by_name`] for a pool that must not run
    /// (`testStoragePoolObjFindInactiveByName`).
    fn inactive<T>(&self, name: &str, f: impl FnOnce(&mut PoolObj) -> Result<T>) -> Result<T> {
        self.by_name(name, |obj| {
            if obj.active {
                return Err(terr(
                    ErrorCode::OperationInvalid,
                    format!("storage pool '{name}' is active"),
                ));
            }
            f(obj)
        })
    }

    /// Runs `f` on the pool with `uuid` (`testStoragePoolObjFindByUUID`).
    fn by_uuid<T>(&self, uuid: &Uuid, f: impl FnOnce(&mut PoolObj) -> Result<T>) -> Result<T> {
        self.fill_uuids();
        let mut node = self.driver.lock();
        let obj = node
            .pools
            .iter_mut()
            .find(|p| p.uuid == Some(*uuid))
            .ok_or_else(|| {
                terr(
                    ErrorCode::NoStoragePool,
                    format!("no storage pool with matching uuid '{uuid}'"),
                )
            })?;
        f(obj)
    }

    /// libvirt's `virStoragePoolObjListAdd` with the test driver's defaults: a definition
    /// whose source another pool uses, whose UUID another pool has, or whose name another
    /// pool has is refused; `live` (`virStoragePoolCreateXML`) refuses a running pool and
    /// leaves the pool transient and running. The pool's allocation starts again at 0.
    fn add(&self, def: Pool, live: bool) -> Result<PoolRef> {
        self.fill_uuids();
        let mut node = self.driver.lock();
        for other in &node.pools {
            if let Ok(o) = Pool::parse(&other.xml) {
                if source_conflict(&o, &def) {
                    return Err(serr(
                        ErrorCode::OperationFailed,
                        format!("Storage source conflict with pool: '{}'", other.name),
                    ));
                }
            }
        }
        let r = PoolRef {
            name: def.name.clone(),
            uuid: def.uuid,
        };
        let xml = def.to_xml();
        if let Some(obj) = node.pools.iter_mut().find(|p| p.uuid == Some(def.uuid)) {
            if obj.name != def.name {
                return Err(serr(
                    ErrorCode::OperationFailed,
                    format!(
                        "pool '{}' is already defined with uuid {}",
                        obj.name, def.uuid
                    ),
                ));
            }
            if live && obj.active {
                return Err(serr(
                    ErrorCode::OperationInvalid,
                    format!("pool is already active as '{}'", obj.name),
                ));
            }
            // A running pool keeps its live definition (the new one waits as libvirt's
            // newDef, which the test driver never uses).
            if !obj.active {
                obj.xml = xml;
            }
            obj.allocation = 0;
            obj.persistent = !live;
            obj.active |= live;
            return Ok(r);
        }
        if let Some(obj) = node.pools.iter().find(|p| p.name == def.name) {
            return Err(serr(
                ErrorCode::OperationFailed,
                format!(
                    "pool '{}' already exists with uuid {}",
                    def.name,
                    obj.uuid.unwrap_or_default()
                ),
            ));
        }
        node.pools.push(PoolObj {
            name: def.name.clone(),
            uuid: Some(def.uuid),
            active: live,
            persistent: !live,
            autostart: false,
            xml,
            volumes: Vec::new(),
            allocation: 0,
        });
        Ok(r)
    }

    /// A new volume of the running pool `pool`: `vol`'s definition checked against the
    /// pool's free space, at the pool's target path and its name.
    fn add_volume(&self, pool: &str, vol: Volume, from: Option<&str>) -> Result<VolRef> {
        self.active(pool, |obj| {
            if obj.volumes.iter().any(|v| v.name == vol.name) {
                return Err(terr(
                    ErrorCode::OperationFailed,
                    "storage vol already exists".into(),
                ));
            }
            if let Some(from) = from {
                if !obj.volumes.iter().any(|v| v.name == from) {
                    return Err(no_vol("name", from));
                }
            }
            if obj.allocation.saturating_add(vol.allocation) > DEFAULT_POOL_CAPACITY {
                return Err(terr(
                    ErrorCode::InternalError,
                    format!("Not enough free space in pool for volume '{}'", vol.name),
                ));
            }
            let target = Pool::parse(&obj.xml)
                .ok()
                .and_then(|p| p.target_path)
                .unwrap_or_else(|| "(null)".into());
            let path = format!("{target}/{}", vol.name);
            let mut vol = vol;
            vol.key = Some(path.clone());
            vol.target.path = Some(path.clone());
            let v = VolumeObj {
                name: vol.name.clone(),
                path: path.clone(),
                key: path,
                xml: vol.to_xml(),
            };
            obj.allocation += vol.allocation;
            let r = vol_ref(obj, &v);
            obj.volumes.push(v);
            Ok(r)
        })
    }

    /// Runs `f` on the volume `vol` names in its running pool.
    fn with_vol<T>(
        &self,
        vol: &VolRef,
        f: impl FnOnce(PoolType, &PoolObj, &VolumeObj) -> Result<T>,
    ) -> Result<T> {
        self.active(&vol.pool, |obj| {
            let t = pool_type(obj);
            let v = obj
                .volumes
                .iter()
                .find(|v| v.name == vol.name)
                .ok_or_else(|| no_vol("name", &vol.name))?;
            f(t, obj, v)
        })
    }

    /// The first volume of a running pool that `matches` (libvirt's
    /// `virStoragePoolObjListSearch` over active pools).
    fn find_vol(&self, matches: impl Fn(&VolumeObj) -> bool) -> Option<VolRef> {
        self.fill_uuids();
        let node = self.driver.lock();
        node.pools
            .iter()
            .filter(|p| p.active)
            .find_map(|p| p.volumes.iter().find(|v| matches(v)).map(|v| vol_ref(p, v)))
    }
}

#[async_trait]
impl StorageDriver for TestStorage {
    fn subscribe(&self) -> PoolEventReceiver {
        self.bus.subscribe()
    }

    async fn list_all_pools(&self, f: u32) -> Result<Vec<PoolRef>> {
        check_flags(f, flags::list::ALL, "testConnectListAllStoragePools")?;
        self.fill_uuids();
        let node = self.driver.lock();
        let mut pools: Vec<PoolRef> = node
            .pools
            .iter()
            .filter(|p| passes(p, pool_type(p), f))
            .map(obj_ref)
            .collect();
        pools.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(pools)
    }

    async fn find_pool_sources(
        &self,
        pool_type: &str,
        spec: Option<&str>,
        f: u32,
    ) -> Result<String> {
        check_flags(f, 0, "testConnectFindStoragePoolSources")?;
        // libvirt tests the type's number for zero, so "dir" (0) is "unknown" too.
        let t: Option<PoolType> = pool_type.parse().ok();
        if t == Some(PoolType::Dir) {
            return Err(terr(
                ErrorCode::InternalError,
                format!("unknown storage pool type {pool_type}"),
            ));
        }
        let source = match spec {
            Some(s) => Some(parse_source_spec(s)?),
            None => None,
        };
        match t {
            Some(PoolType::Logical) => Ok(LOGICAL_SOURCES.into()),
            Some(PoolType::Netfs) => {
                let host = source
                    .and_then(|s| s.hosts.into_iter().next())
                    .map(|h| h.name)
                    .ok_or_else(|| {
                        terr(
                            ErrorCode::InvalidArg,
                            "hostname must be specified for netfs sources".into(),
                        )
                    })?;
                Ok(format!(
                    "<sources>\n  <source>\n    <host name='{host}'/>\n    \
                     <dir path='/testshare'/>\n    <format type='nfs'/>\n  \
                     </source>\n</sources>\n"
                ))
            }
            _ => Err(terr(
                ErrorCode::NoSupport,
                format!("pool type '{pool_type}' does not support source discovery"),
            )),
        }
    }

    async fn pool_lookup_by_name(&self, name: &str) -> Result<PoolRef> {
        self.by_name(name, |obj| Ok(obj_ref(obj)))
    }

    async fn pool_lookup_by_uuid(&self, uuid: &Uuid) -> Result<PoolRef> {
        self.by_uuid(uuid, |obj| Ok(obj_ref(obj)))
    }

    async fn pool_lookup_by_volume(&self, vol: &VolRef) -> Result<PoolRef> {
        self.by_name(&vol.pool, |obj| Ok(obj_ref(obj)))
    }

    async fn pool_define_xml(&self, xml: &str, f: u32) -> Result<PoolRef> {
        check_flags(f, flags::define::VALIDATE, "testStoragePoolDefineXML")?;
        let def = Pool::parse(xml)?;
        if f & flags::define::VALIDATE != 0 {
            def.validate()?;
        }
        let r = self.add(def, false)?;
        self.emit(&r, PoolEventKind::Defined);
        Ok(r)
    }

    async fn pool_create_xml(&self, xml: &str, f: u32) -> Result<PoolRef> {
        check_flags(f, 0, "testStoragePoolCreateXML")?;
        let def = Pool::parse(xml)?;
        let r = self.add(def, true)?;
        self.emit(&r, PoolEventKind::Started);
        Ok(r)
    }

    async fn pool_build(&self, pool: &PoolRef, f: u32) -> Result<()> {
        check_flags(f, 0, "testStoragePoolBuild")?;
        self.inactive(&pool.name, |_| Ok(()))?;
        self.emit(pool, PoolEventKind::Created);
        Ok(())
    }

    async fn pool_create(&self, pool: &PoolRef, f: u32) -> Result<()> {
        check_flags(f, 0, "testStoragePoolCreate")?;
        self.inactive(&pool.name, |obj| {
            obj.active = true;
            Ok(())
        })?;
        self.emit(pool, PoolEventKind::Started);
        Ok(())
    }

    async fn pool_destroy(&self, pool: &PoolRef) -> Result<()> {
        let (r, transient) = self.active(&pool.name, |obj| {
            obj.active = false;
            Ok((obj_ref(obj), !obj.persistent))
        })?;
        if transient {
            self.driver.lock().pools.retain(|p| p.name != r.name);
        }
        self.emit(&r, PoolEventKind::Stopped);
        Ok(())
    }

    async fn pool_delete(&self, pool: &PoolRef, f: u32) -> Result<()> {
        check_flags(f, 0, "testStoragePoolDelete")?;
        self.inactive(&pool.name, |_| Ok(()))?;
        self.emit(pool, PoolEventKind::Deleted);
        Ok(())
    }

    async fn pool_undefine(&self, pool: &PoolRef) -> Result<()> {
        self.inactive(&pool.name, |_| Ok(()))?;
        self.driver.lock().pools.retain(|p| p.name != pool.name);
        self.emit(pool, PoolEventKind::Undefined);
        Ok(())
    }

    async fn pool_refresh(&self, pool: &PoolRef, f: u32) -> Result<()> {
        check_flags(f, 0, "testStoragePoolRefresh")?;
        self.active(&pool.name, |_| Ok(()))?;
        self.bus.emit(PoolEvent::refresh(pool));
        Ok(())
    }

    async fn pool_info(&self, pool: &PoolRef) -> Result<PoolInfo> {
        self.by_name(&pool.name, |obj| {
            Ok(PoolInfo {
                state: if obj.active {
                    PoolState::Running
                } else {
                    PoolState::Inactive
                },
                capacity: DEFAULT_POOL_CAPACITY,
                allocation: obj.allocation,
                available: DEFAULT_POOL_CAPACITY.saturating_sub(obj.allocation),
            })
        })
    }

    async fn pool_xml_desc(&self, pool: &PoolRef, f: u32) -> Result<String> {
        check_flags(f, 0, "testStoragePoolGetXMLDesc")?;
        self.by_name(&pool.name, |obj| {
            let mut def = Pool::parse(&obj.xml)?;
            def.capacity = DEFAULT_POOL_CAPACITY;
            def.allocation = obj.allocation;
            def.available = DEFAULT_POOL_CAPACITY.saturating_sub(obj.allocation);
            Ok(def.to_xml())
        })
    }

    async fn pool_autostart(&self, pool: &PoolRef) -> Result<bool> {
        self.by_name(&pool.name, |obj| Ok(obj.persistent && obj.autostart))
    }

    async fn pool_set_autostart(&self, pool: &PoolRef, autostart: bool) -> Result<()> {
        self.by_name(&pool.name, |obj| {
            if !obj.persistent {
                return Err(terr(
                    ErrorCode::InvalidArg,
                    "pool has no config file".into(),
                ));
            }
            obj.autostart = autostart;
            Ok(())
        })
    }

    async fn pool_is_active(&self, pool: &PoolRef) -> Result<bool> {
        self.by_uuid(&pool.uuid, |obj| Ok(obj.active))
    }

    async fn pool_is_persistent(&self, pool: &PoolRef) -> Result<bool> {
        self.by_uuid(&pool.uuid, |obj| Ok(obj.persistent))
    }

    async fn pool_list_volumes(&self, pool: &PoolRef) -> Result<Vec<VolRef>> {
        self.by_uuid(&pool.uuid, |obj| {
            if !obj.active {
                return Err(terr(
                    ErrorCode::OperationInvalid,
                    "storage pool is not active".into(),
                ));
            }
            let mut vols: Vec<VolRef> = obj.volumes.iter().map(|v| vol_ref(obj, v)).collect();
            vols.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(vols)
        })
    }

    async fn vol_lookup_by_name(&self, pool: &PoolRef, name: &str) -> Result<VolRef> {
        self.active(&pool.name, |obj| {
            obj.volumes
                .iter()
                .find(|v| v.name == name)
                .map(|v| vol_ref(obj, v))
                .ok_or_else(|| no_vol("name", name))
        })
    }

    async fn vol_lookup_by_key(&self, key: &str) -> Result<VolRef> {
        self.find_vol(|v| v.key == key)
            .ok_or_else(|| no_vol("key", key))
    }

    async fn vol_lookup_by_path(&self, path: &str) -> Result<VolRef> {
        self.find_vol(|v| v.path == path)
            .ok_or_else(|| no_vol("path", path))
    }

    async fn vol_create_xml(&self, pool: &PoolRef, xml: &str, f: u32) -> Result<VolRef> {
        check_flags(f, 0, "testStorageVolCreateXML")?;
        let t = self.active(&pool.name, |obj| Ok(pool_type(obj)))?;
        let vol = Volume::parse_with(xml, t, CapacityRule::Required)?;
        self.add_volume(&pool.name, vol, None)
    }

    async fn vol_create_xml_from(
        &self,
        pool: &PoolRef,
        xml: &str,
        from: &VolRef,
        f: u32,
    ) -> Result<VolRef> {
        check_flags(f, 0, "testStorageVolCreateXMLFrom")?;
        let t = self.active(&pool.name, |obj| Ok(pool_type(obj)))?;
        let vol = Volume::parse_with(xml, t, CapacityRule::Required)?;
        self.add_volume(&pool.name, vol, Some(&from.name))
    }

    async fn vol_delete(&self, vol: &VolRef, f: u32) -> Result<()> {
        check_flags(f, 0, "testStorageVolDelete")?;
        self.active(&vol.pool, |obj| {
            let t = pool_type(obj);
            let i = obj
                .volumes
                .iter()
                .position(|v| v.name == vol.name)
                .ok_or_else(|| no_vol("name", &vol.name))?;
            let allocation = volume(t, &obj.volumes[i])
                .map(|v| v.allocation)
                .unwrap_or(0);
            obj.allocation = obj.allocation.saturating_sub(allocation);
            obj.volumes.remove(i);
            Ok(())
        })
    }

    async fn vol_wipe(&self, _vol: &VolRef, _algorithm: u32, _flags: u32) -> Result<()> {
        Err(no_support("virStorageVolWipe"))
    }

    async fn vol_wipe_pattern(&self, _vol: &VolRef, _algorithm: u32, _flags: u32) -> Result<()> {
        Err(no_support("virStorageVolWipePattern"))
    }

    async fn vol_info_flags(&self, _vol: &VolRef, _flags: u32) -> Result<VolInfo> {
        // The test driver has virStorageVolGetInfo only.
        Err(no_support("virStorageVolGetInfoFlags"))
    }

    async fn vol_info(&self, vol: &VolRef, f: u32) -> Result<VolInfo> {
        if f != 0 {
            return Err(no_support("virStorageVolGetInfoFlags"));
        }
        self.with_vol(vol, |t, _, v| {
            let def = volume(t, v)?;
            Ok(VolInfo {
                kind: vol_type_for(t),
                capacity: def.capacity,
                allocation: def.allocation,
            })
        })
    }

    async fn vol_xml_desc(&self, vol: &VolRef, f: u32) -> Result<String> {
        check_flags(f, 0, "testStorageVolGetXMLDesc")?;
        self.with_vol(vol, |t, _, v| Ok(volume(t, v)?.to_xml()))
    }

    async fn vol_path(&self, vol: &VolRef) -> Result<String> {
        self.with_vol(vol, |_, _, v| Ok(v.path.clone()))
    }
}

#[cfg(test)]
#[path = "storage_tests.rs"]
mod tests;
