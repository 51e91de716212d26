//! The storage procedures against a small in-memory storage driver.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use oxvirt_rpc::remote::*;
use oxvirt_rpc::types::{NonnullStoragePool, NonnullStorageVol};
use oxvirt_rpc::xdr::{decode_from, encode_to_vec};
use oxvirt_rpc::{RemoteProcedure as P, XdrDecode, XdrEncode};
use oxvirt_storage::api::{
    flags, Chunk, Download, PoolEvent, PoolEventBus, PoolEventKind, PoolEventReceiver, PoolInfo,
    PoolRef, PoolState, Result, StorageDriver, Upload, VolInfo, VolRef, VolType,
};
use oxvirt_xml::types::Uuid;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};
use tokio::sync::{mpsc, oneshot};

use crate::client::Client;
use crate::dispatch::dispatch;

/// A pool in memory: its volumes' contents by name.
#[derive(Debug, Clone)]
struct Pool {
    r: PoolRef,
    active: bool,
    autostart: bool,
    vols: BTreeMap<String, Vec<u8>>,
}

/// Pools in memory; every call is logged as `"name arg..."`.
#[derive(Debug, Default)]
pub(crate) struct Fake {
    pools: Mutex<Vec<Pool>>,
    bus: PoolEventBus,
    log: Mutex<Vec<String>>,
}

fn no_pool(name: &str) -> VirError {
    VirError::new(
        ErrorDomain::Storage,
        ErrorCode::NoStoragePool,
        format!("no storage pool with matching name '{name}'"),
    )
}

fn no_vol(name: &str) -> VirError {
    VirError::new(
        ErrorDomain::Storage,
        ErrorCode::NoStorageVol,
        format!("no storage vol with matching name '{name}'"),
    )
}

impl Fake {
    /// Pool `default` (UUID 01.., running, volume `a` of "hello") and `cold` (02..,
    /// inactive).
    pub(crate) fn new() -> Arc<Fake> {
        let fake = Fake::default();
        let mut vols = BTreeMap::new();
        vols.insert("a".to_string(), b"hello".to_vec());
        fake.pools.lock().unwrap().extend([
            Pool {
                r: PoolRef {
                    name: "default".into(),
                    uuid: Uuid::from([1; 16]),
                },
                active: true,
                autostart: true,
                vols,
            },
            Pool {
                r: PoolRef {
                    name: "cold".into(),
                    uuid: Uuid::from([2; 16]),
                },
                active: false,
                autostart: false,
                vols: BTreeMap::new(),
            },
        ]);
        Arc::new(fake)
    }

    fn note(&self, entry: String) {
        self.log.lock().unwrap().push(entry);
    }

    /// The calls made so far, forgotten.
    pub(crate) fn take_log(&self) -> Vec<String> {
        std::mem::take(&mut *self.log.lock().unwrap())
    }

    fn with_pool<T>(&self, pool: &PoolRef, f: impl FnOnce(&mut Pool) -> Result<T>) -> Result<T> {
        let mut pools = self.pools.lock().unwrap();
        let p = pools
            .iter_mut()
            .find(|p| p.r.uuid == pool.uuid)
            .ok_or_else(|| no_pool(&pool.name))?;
        f(p)
    }

    fn pool_of(&self, vol: &VolRef) -> Result<PoolRef> {
        let pools = self.pools.lock().unwrap();
        pools
            .iter()
            .find(|p| p.r.name == vol.pool)
            .map(|p| p.r.clone())
            .ok_or_else(|| no_pool(&vol.pool))
    }

    fn vref(pool: &PoolRef, name: &str) -> VolRef {
        VolRef {
            pool: pool.name.clone(),
            name: name.into(),
            key: format!("/pools/{}/{name}", pool.name),
        }
    }

    /// The content of volume `name` of pool `default`.
    pub(crate) fn content(&self, name: &str) -> Option<Vec<u8>> {
        let pools = self.pools.lock().unwrap();
        pools[0].vols.get(name).cloned()
    }

    /// Sets the content of volume `name` of pool `default`.
    pub(crate) fn set_content(&self, name: &str, data: Vec<u8>) {
        self.pools.lock().unwrap()[0]
            .vols
            .insert(name.to_string(), data);
    }

    fn state(&self, pool: &PoolRef, active: bool, kind: PoolEventKind) -> Result<()> {
        self.with_pool(pool, |p| {
            p.active = active;
            Ok(())
        })?;
        self.bus.emit(PoolEvent::lifecycle(pool, kind));
        Ok(())
    }
}

/// Runs of zeroes at least this long are holes in a sparse download.
const HOLE_MIN: usize = 4;

#[async_trait]
impl StorageDriver for Fake {
    fn subscribe(&self) -> PoolEventReceiver {
        self.bus.subscribe()
    }

    async fn list_all_pools(&self, f: u32) -> Result<Vec<PoolRef>> {
        self.note(format!("list_all_pools {f}"));
        let pools = self.pools.lock().unwrap();
        Ok(pools
            .iter()
            // Both state flags, or neither, select every pool (as libvirt's filter).
            .filter(|p| {
                let want = f & (flags::list::ACTIVE | flags::list::INACTIVE);
                want == 0
                    || want == flags::list::ACTIVE | flags::list::INACTIVE
                    || (want == flags::list::ACTIVE) == p.active
            })
            .map(|p| p.r.clone())
            .collect())
    }

    async fn find_pool_sources(&self, t: &str, spec: Option<&str>, f: u32) -> Result<String> {
        self.note(format!("find_pool_sources {t} {spec:?} {f}"));
        Ok("<sources/>".into())
    }

    async fn pool_lookup_by_name(&self, name: &str) -> Result<PoolRef> {
        let pools = self.pools.lock().unwrap();
        pools
            .iter()
            .find(|p| p.r.name == name)
            .map(|p| p.r.clone())
            .ok_or_else(|| no_pool(name))
    }

    async fn pool_lookup_by_uuid(&self, uuid: &Uuid) -> Result<PoolRef> {
        let pools = self.pools.lock().unwrap();
        pools
            .iter()
            .find(|p| p.r.uuid == *uuid)
            .map(|p| p.r.clone())
            .ok_or_else(|| no_pool(&uuid.to_string()))
    }

    async fn pool_lookup_by_volume(&self, vol: &VolRef) -> Result<PoolRef> {
        self.pool_of(vol)
    }

    async fn pool_lookup_by_target_path(&self, path: &str) -> Result<PoolRef> {
        let name = path.strip_prefix("/pools/").unwrap_or(path);
        self.pool_lookup_by_name(name).await
    }

    async fn pool_define_xml(&self, xml: &str, f: u32) -> Result<PoolRef> {
        self.note(format!("pool_define_xml {xml} {f}"));
        let r = PoolRef {
            name: "new".into(),
            uuid: Uuid::from([9; 16]),
        };
        self.pools.lock().unwrap().push(Pool {
            r: r.clone(),
            active: false,
            autostart: false,
            vols: BTreeMap::new(),
        });
        self.bus
            .emit(PoolEvent::lifecycle(&r, PoolEventKind::Defined));
        Ok(r)
    }

    async fn pool_create_xml(&self, xml: &str, f: u32) -> Result<PoolRef> {
        self.note(format!("pool_create_xml {xml} {f}"));
        Ok(PoolRef {
            name: "transient".into(),
            uuid: Uuid::from([8; 16]),
        })
    }

    async fn pool_build(&self, pool: &PoolRef, f: u32) -> Result<()> {
        self.note(format!("pool_build {} {f}", pool.name));
        Ok(())
    }

    async fn pool_create(&self, pool: &PoolRef, f: u32) -> Result<()> {
        self.note(format!("pool_create {} {f}", pool.name));
        self.state(pool, true, PoolEventKind::Started)
    }

    async fn pool_destroy(&self, pool: &PoolRef) -> Result<()> {
        self.note(format!("pool_destroy {}", pool.name));
        self.state(pool, false, PoolEventKind::Stopped)
    }

    async fn pool_delete(&self, pool: &PoolRef, f: u32) -> Result<()> {
        self.note(format!("pool_delete {} {f}", pool.name));
        Ok(())
    }

    async fn pool_undefine(&self, pool: &PoolRef) -> Result<()> {
        self.note(format!("pool_undefine {}", pool.name));
        Ok(())
    }

    async fn pool_refresh(&self, pool: &PoolRef, f: u32) -> Result<()> {
        self.note(format!("pool_refresh {} {f}", pool.name));
        self.bus.emit(PoolEvent::refresh(pool));
        Ok(())
    }

    async fn pool_info(&self, pool: &PoolRef) -> Result<PoolInfo> {
        let active = self.with_pool(pool, |p| Ok(p.active))?;
        Ok(PoolInfo {
            state: if active {
                PoolState::Running
            } else {
                PoolState::Inactive
            },
            capacity: 1 << 40,
            allocation: 5,
            available: (1 << 40) - 5,
        })
    }

    async fn pool_xml_desc(&self, pool: &PoolRef, f: u32) -> Result<String> {
        Ok(format!(
            "<pool flags='{f}'><name>{}</name></pool>",
            pool.name
        ))
    }

    async fn pool_autostart(&self, pool: &PoolRef) -> Result<bool> {
        self.with_pool(pool, |p| Ok(p.autostart))
    }

    async fn pool_set_autostart(&self, pool: &PoolRef, autostart: bool) -> Result<()> {
        self.with_pool(pool, |p| {
            p.autostart = autostart;
            Ok(())
        })
    }

    async fn pool_is_active(&self, pool: &PoolRef) -> Result<bool> {
        self.with_pool(pool, |p| Ok(p.active))
    }

    async fn pool_is_persistent(&self, pool: &PoolRef) -> Result<bool> {
        self.with_pool(pool, |_| Ok(true))
    }

    async fn pool_list_volumes(&self, pool: &PoolRef) -> Result<Vec<VolRef>> {
        self.with_pool(pool, |p| {
            if !p.active {
                return Err(VirError::new(
                    ErrorDomain::Storage,
                    ErrorCode::OperationInvalid,
                    format!("storage pool '{}' is not active", p.r.name),
                ));
            }
            Ok(p.vols.keys().map(|n| Fake::vref(&p.r, n)).collect())
        })
    }

    async fn vol_lookup_by_name(&self, pool: &PoolRef, name: &str) -> Result<VolRef> {
        self.with_pool(pool, |p| {
            p.vols
                .contains_key(name)
                .then(|| Fake::vref(&p.r, name))
                .ok_or_else(|| no_vol(name))
        })
    }

    async fn vol_lookup_by_key(&self, key: &str) -> Result<VolRef> {
        self.vol_lookup_by_path(key).await
    }

    async fn vol_lookup_by_path(&self, path: &str) -> Result<VolRef> {
        let mut parts = path.trim_start_matches("/pools/").splitn(2, '/');
        let (pool, name) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let pool = self.pool_lookup_by_name(pool).await?;
        self.vol_lookup_by_name(&pool, name).await
    }

    async fn vol_create_xml(&self, pool: &PoolRef, xml: &str, f: u32) -> Result<VolRef> {
        self.note(format!("vol_create_xml {} {xml} {f}", pool.name));
        self.with_pool(pool, |p| {
            p.vols.insert("made".into(), Vec::new());
            Ok(Fake::vref(&p.r, "made"))
        })
    }

    async fn vol_create_xml_from(
        &self,
        pool: &PoolRef,
        xml: &str,
        from: &VolRef,
        f: u32,
    ) -> Result<VolRef> {
        self.note(format!(
            "vol_create_xml_from {} {xml} {} {f}",
            pool.name, from.name
        ));
        Ok(Fake::vref(pool, "copy"))
    }

    async fn vol_delete(&self, vol: &VolRef, f: u32) -> Result<()> {
        self.note(format!("vol_delete {} {f}", vol.name));
        Ok(())
    }

    async fn vol_wipe(&self, vol: &VolRef, algorithm: u32, f: u32) -> Result<()> {
        self.note(format!("vol_wipe {} {algorithm} {f}", vol.name));
        Ok(())
    }

    async fn vol_resize(&self, vol: &VolRef, capacity: u64, f: u32) -> Result<()> {
        self.note(format!("vol_resize {} {capacity} {f}", vol.name));
        Ok(())
    }

    async fn vol_info(&self, vol: &VolRef, f: u32) -> Result<VolInfo> {
        self.note(format!("vol_info {} {f}", vol.name));
        let pool = self.pool_of(vol)?;
        let len = self.with_pool(&pool, |p| {
            p.vols
                .get(&vol.name)
                .map(Vec::len)
                .ok_or_else(|| no_vol(&vol.name))
        })?;
        Ok(VolInfo {
            kind: VolType::File,
            capacity: len as u64,
            allocation: if f == flags::vol_info::GET_PHYSICAL {
                4096
            } else {
                len as u64
            },
        })
    }

    async fn vol_xml_desc(&self, vol: &VolRef, f: u32) -> Result<String> {
        Ok(format!(
            "<volume flags='{f}'><name>{}</name></volume>",
            vol.name
        ))
    }

    async fn vol_path(&self, vol: &VolRef) -> Result<String> {
        Ok(vol.key.clone())
    }

    async fn vol_download(
        &self,
        vol: &VolRef,
        offset: u64,
        length: u64,
        f: u32,
    ) -> Result<Download> {
        self.note(format!("vol_download {} {offset} {length} {f}", vol.name));
        let data = self.content(&vol.name).ok_or_else(|| no_vol(&vol.name))?;
        let start = (offset as usize).min(data.len());
        let end = if length == 0 {
            data.len()
        } else {
            (start + length as usize).min(data.len())
        };
        let data = data[start..end].to_vec();
        let sparse = f & flags::stream::SPARSE != 0;
        let (tx, rx) = mpsc::channel(oxvirt_storage::api::TRANSFER_DEPTH);
        tokio::spawn(async move {
            for chunk in split(&data, sparse) {
                if tx.send(Ok(chunk)).await.is_err() {
                    return;
                }
            }
            if vol_fails_at_end(&data) {
                let err = VirError::new(ErrorDomain::Storage, ErrorCode::SystemError, "disk gone");
                let _ = tx.send(Err(err)).await;
            }
        });
        Ok(Download { chunks: rx })
    }

    async fn vol_upload(&self, vol: &VolRef, offset: u64, length: u64, f: u32) -> Result<Upload> {
        self.note(format!("vol_upload {} {offset} {length} {f}", vol.name));
        let pool = self.pool_of(vol)?;
        self.vol_lookup_by_name(&pool, &vol.name).await?;
        let (tx, mut rx) = mpsc::channel::<Chunk>(oxvirt_storage::api::TRANSFER_DEPTH);
        let (done_tx, done) = oneshot::channel();
        let name = vol.name.clone();
        let sink = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::clone(&sink);
        tokio::spawn(async move {
            while let Some(chunk) = rx.recv().await {
                let mut buf = shared.lock().unwrap();
                match chunk {
                    Chunk::Data(d) => buf.extend_from_slice(&d),
                    Chunk::Hole(n) => {
                        let len = buf.len() + n as usize;
                        buf.resize(len, 0);
                    }
                }
            }
            let data = std::mem::take(&mut *sink.lock().unwrap());
            let outcome = if data.starts_with(b"FAIL") {
                Err(VirError::new(
                    ErrorDomain::Storage,
                    ErrorCode::SystemError,
                    "cannot write volume: no space left",
                ))
            } else {
                UPLOADS.lock().unwrap().push((name, data));
                Ok(())
            };
            let _ = done_tx.send(outcome);
        });
        Ok(Upload { chunks: tx, done })
    }
}

/// Completed uploads of every fake: (volume name, content).
static UPLOADS: Mutex<Vec<(String, Vec<u8>)>> = Mutex::new(Vec::new());

/// The last completed upload to volume `name`.
pub(crate) fn uploaded(name: &str) -> Option<Vec<u8>> {
    let all = UPLOADS.lock().unwrap();
    all.iter()
        .rev()
        .find(|(n, _)| n == name)
        .map(|(_, d)| d.clone())
}

/// A download of content ending in "BAD" fails after its data.
fn vol_fails_at_end(data: &[u8]) -> bool {
    data.ends_with(b"BAD")
}

/// `data` as download chunks: data of at most 1000 bytes, and, when sparse, runs of at
/// least [`HOLE_MIN`] zeroes as holes.
fn split(data: &[u8], sparse: bool) -> Vec<Chunk> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < data.len() {
        let zeroes = if sparse {
            data[i..].iter().take_while(|b| **b == 0).count()
        } else {
            0
        };
        if zeroes >= HOLE_MIN {
            out.push(Chunk::Hole(zeroes as u64));
            i += zeroes;
            continue;
        }
        let mut end = i + 1;
        while end < data.len() && end - i < 1000 {
            if sparse
                && data[end..]
                    .iter()
                    .take(HOLE_MIN)
                    .filter(|b| **b == 0)
                    .count()
                    == HOLE_MIN
            {
                break;
            }
            end += 1;
        }
        out.push(Chunk::Data(data[i..end].to_vec()));
        i = end;
    }
    out
}

fn client(fake: &Arc<Fake>, flags: u32) -> Client {
    let c = Client::new(false);
    c.open(Some("test:///default"), flags).unwrap();
    let storage: Arc<dyn StorageDriver> = fake.clone();
    c.replace_storage(Some(storage));
    c
}

async fn call<A: XdrEncode, R: XdrDecode>(
    c: &Client,
    p: P,
    a: &A,
) -> std::result::Result<R, VirError> {
    let reply = dispatch(c, p.number(), &encode_to_vec(a)).await?;
    Ok(decode_from(&reply).unwrap())
}

fn pool(name: &str, byte: u8) -> NonnullStoragePool {
    NonnullStoragePool {
        name: name.into(),
        uuid: [byte; 16],
    }
}

fn vol(name: &str) -> NonnullStorageVol {
    NonnullStorageVol {
        pool: "default".into(),
        name: name.into(),
        key: format!("/pools/default/{name}"),
    }
}

#[tokio::test]
async fn pool_lists_and_counts_come_from_list_all() {
    let fake = Fake::new();
    let c = client(&fake, 0);
    let all: ConnectListAllStoragePoolsRet = call(
        &c,
        P::ConnectListAllStoragePools,
        &ConnectListAllStoragePoolsArgs {
            need_results: 1,
            flags: 0,
        },
    )
    .await
    .unwrap();
    let names: Vec<&str> = all.pools.iter().map(|p| p.name.as_str()).collect();
    assert_eq!((names, all.ret), (vec!["default", "cold"], 2));
    let n: ConnectListAllStoragePoolsRet = call(
        &c,
        P::ConnectListAllStoragePools,
        &ConnectListAllStoragePoolsArgs {
            need_results: 0,
            flags: flags::list::ACTIVE,
        },
    )
    .await
    .unwrap();
    assert_eq!((n.pools.len(), n.ret), (0, 1));
    let n: ConnectNumOfStoragePoolsRet = call(&c, P::ConnectNumOfStoragePools, &()).await.unwrap();
    assert_eq!(n.num, 1);
    let n: ConnectNumOfStoragePoolsRet = call(&c, P::ConnectNumOfDefinedStoragePools, &())
        .await
        .unwrap();
    assert_eq!(n.num, 1);
    let l: ConnectListStoragePoolsRet = call(
        &c,
        P::ConnectListDefinedStoragePools,
        &ConnectListStoragePoolsArgs { maxnames: 5 },
    )
    .await
    .unwrap();
    assert_eq!(l.names, vec!["cold".to_string()]);
    let l: ConnectListStoragePoolsRet = call(
        &c,
        P::ConnectListStoragePools,
        &ConnectListStoragePoolsArgs { maxnames: 5 },
    )
    .await
    .unwrap();
    assert_eq!(l.names, vec!["default".to_string()]);
    assert_eq!(
        fake.take_log(),
        vec![
            "list_all_pools 0",
            "list_all_pools 2",
            "list_all_pools 2",
            "list_all_pools 1",
            "list_all_pools 1",
            "list_all_pools 2"
        ]
    );
    let err = call::<_, ConnectListStoragePoolsRet>(
        &c,
        P::ConnectListStoragePools,
        &ConnectListStoragePoolsArgs { maxnames: -1 },
    )
    .await
    .unwrap_err();
    assert_eq!(
        (err.code, err.domain, err.message.as_str()),
        (
            ErrorCode::InvalidArg,
            ErrorDomain::Storage,
            "invalid argument: maxnames in virConnectListStoragePools must not be negative"
        )
    );
    let err = call::<_, ConnectListStoragePoolsRet>(
        &c,
        P::ConnectListDefinedStoragePools,
        &ConnectListStoragePoolsArgs { maxnames: 16385 },
    )
    .await
    .unwrap_err();
    assert_eq!(err.code, ErrorCode::Rpc);
    assert!(err
        .message
        .ends_with("maxnames > REMOTE_STORAGE_POOL_LIST_MAX"));
}

#[tokio::test]
async fn pool_calls_reach_the_driver() {
    let fake = Fake::new();
    let c = client(&fake, 0);
    let r: StoragePoolLookupByNameRet = call(
        &c,
        P::StoragePoolLookupByName,
        &StoragePoolLookupByNameArgs {
            name: "cold".into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(r.pool, pool("cold", 2));
    let r: StoragePoolLookupByUuidRet = call(
        &c,
        P::StoragePoolLookupByUuid,
        &StoragePoolLookupByUuidArgs { uuid: [1; 16] },
    )
    .await
    .unwrap();
    assert_eq!(r.pool.name, "default");
    let r: StoragePoolLookupByVolumeRet = call(
        &c,
        P::StoragePoolLookupByVolume,
        &StoragePoolLookupByVolumeArgs { vol: vol("a") },
    )
    .await
    .unwrap();
    assert_eq!(r.pool, pool("default", 1));
    let r: StoragePoolLookupByTargetPathRet = call(
        &c,
        P::StoragePoolLookupByTargetPath,
        &StoragePoolLookupByTargetPathArgs {
            path: "/pools/cold".into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(r.pool.name, "cold");
    let err = call::<_, StoragePoolLookupByNameRet>(
        &c,
        P::StoragePoolLookupByName,
        &StoragePoolLookupByNameArgs {
            name: "nope".into(),
        },
    )
    .await
    .unwrap_err();
    assert_eq!(
        (err.code, err.domain),
        (ErrorCode::NoStoragePool, ErrorDomain::Storage)
    );
    let r: StoragePoolDefineXmlRet = call(
        &c,
        P::StoragePoolDefineXml,
        &StoragePoolDefineXmlArgs {
            xml: "<pool/>".into(),
            flags: 1,
        },
    )
    .await
    .unwrap();
    assert_eq!(r.pool, pool("new", 9));
    let r: StoragePoolCreateXmlRet = call(
        &c,
        P::StoragePoolCreateXml,
        &StoragePoolCreateXmlArgs {
            xml: "<pool/>".into(),
            flags: 4,
        },
    )
    .await
    .unwrap();
    assert_eq!(r.pool, pool("transient", 8));
    let cold = pool("cold", 2);
    let () = call(
        &c,
        P::StoragePoolBuild,
        &StoragePoolBuildArgs {
            pool: cold.clone(),
            flags: 4,
        },
    )
    .await
    .unwrap();
    let () = call(
        &c,
        P::StoragePoolCreate,
        &StoragePoolCreateArgs {
            pool: cold.clone(),
            flags: 1,
        },
    )
    .await
    .unwrap();
    let () = call(
        &c,
        P::StoragePoolRefresh,
        &StoragePoolRefreshArgs {
            pool: cold.clone(),
            flags: 0,
        },
    )
    .await
    .unwrap();
    let info: StoragePoolGetInfoRet = call(
        &c,
        P::StoragePoolGetInfo,
        &StoragePoolGetInfoArgs { pool: cold.clone() },
    )
    .await
    .unwrap();
    assert_eq!(
        (info.state, info.capacity, info.allocation),
        (2, 1 << 40, 5)
    );
    let () = call(
        &c,
        P::StoragePoolDestroy,
        &StoragePoolDestroyArgs { pool: cold.clone() },
    )
    .await
    .unwrap();
    let () = call(
        &c,
        P::StoragePoolDelete,
        &StoragePoolDeleteArgs {
            pool: cold.clone(),
            flags: 1,
        },
    )
    .await
    .unwrap();
    let () = call(
        &c,
        P::StoragePoolUndefine,
        &StoragePoolUndefineArgs { pool: cold.clone() },
    )
    .await
    .unwrap();
    let x: StoragePoolGetXmlDescRet = call(
        &c,
        P::StoragePoolGetXmlDesc,
        &StoragePoolGetXmlDescArgs {
            pool: cold.clone(),
            flags: 1,
        },
    )
    .await
    .unwrap();
    assert_eq!(x.xml, "<pool flags='1'><name>cold</name></pool>");
    let () = call(
        &c,
        P::StoragePoolSetAutostart,
        &StoragePoolSetAutostartArgs {
            pool: cold.clone(),
            autostart: 1,
        },
    )
    .await
    .unwrap();
    let a: StoragePoolGetAutostartRet = call(
        &c,
        P::StoragePoolGetAutostart,
        &StoragePoolGetAutostartArgs { pool: cold.clone() },
    )
    .await
    .unwrap();
    assert_eq!(a.autostart, 1);
    let a: StoragePoolIsActiveRet = call(
        &c,
        P::StoragePoolIsActive,
        &StoragePoolIsActiveArgs { pool: cold.clone() },
    )
    .await
    .unwrap();
    assert_eq!(a.active, 0);
    let p: StoragePoolIsPersistentRet = call(
        &c,
        P::StoragePoolIsPersistent,
        &StoragePoolIsPersistentArgs { pool: cold.clone() },
    )
    .await
    .unwrap();
    assert_eq!(p.persistent, 1);
    let s: ConnectFindStoragePoolSourcesRet = call(
        &c,
        P::ConnectFindStoragePoolSources,
        &ConnectFindStoragePoolSourcesArgs {
            r#type: "logical".into(),
            src_spec: Some("<source/>".into()),
            flags: 0,
        },
    )
    .await
    .unwrap();
    assert_eq!(s.xml, "<sources/>");
    assert_eq!(
        fake.take_log(),
        vec![
            "pool_define_xml <pool/> 1",
            "pool_create_xml <pool/> 4",
            "pool_build cold 4",
            "pool_create cold 1",
            "pool_refresh cold 0",
            "pool_destroy cold",
            "pool_delete cold 1",
            "pool_undefine cold",
            "find_pool_sources logical Some(\"<source/>\") 0",
        ]
    );
}

#[tokio::test]
async fn volume_calls_reach_the_driver() {
    let fake = Fake::new();
    let c = client(&fake, 0);
    let default = pool("default", 1);
    let n: StoragePoolNumOfVolumesRet = call(
        &c,
        P::StoragePoolNumOfVolumes,
        &StoragePoolNumOfVolumesArgs {
            pool: default.clone(),
        },
    )
    .await
    .unwrap();
    assert_eq!(n.num, 1);
    let l: StoragePoolListVolumesRet = call(
        &c,
        P::StoragePoolListVolumes,
        &StoragePoolListVolumesArgs {
            pool: default.clone(),
            maxnames: 10,
        },
    )
    .await
    .unwrap();
    assert_eq!(l.names, vec!["a".to_string()]);
    let all: StoragePoolListAllVolumesRet = call(
        &c,
        P::StoragePoolListAllVolumes,
        &StoragePoolListAllVolumesArgs {
            pool: default.clone(),
            need_results: 1,
            flags: 0,
        },
    )
    .await
    .unwrap();
    assert_eq!((all.vols.clone(), all.ret), (vec![vol("a")], 1));
    let err = call::<_, StoragePoolListAllVolumesRet>(
        &c,
        P::StoragePoolListAllVolumes,
        &StoragePoolListAllVolumesArgs {
            pool: default.clone(),
            need_results: 1,
            flags: 2,
        },
    )
    .await
    .unwrap_err();
    assert_eq!(
        (err.code, err.domain, err.message.as_str()),
        (
            ErrorCode::InvalidArg,
            ErrorDomain::Storage,
            "unsupported flags (0x2) in function storagePoolListAllVolumes"
        )
    );
    // The pool must be running: the driver's error goes back as it is.
    let err = call::<_, StoragePoolNumOfVolumesRet>(
        &c,
        P::StoragePoolNumOfVolumes,
        &StoragePoolNumOfVolumesArgs {
            pool: pool("cold", 2),
        },
    )
    .await
    .unwrap_err();
    assert_eq!(
        (err.code, err.domain, err.message.as_str()),
        (
            ErrorCode::OperationInvalid,
            ErrorDomain::Storage,
            "Requested operation is not valid: storage pool 'cold' is not active"
        )
    );
    let r: StorageVolLookupByNameRet = call(
        &c,
        P::StorageVolLookupByName,
        &StorageVolLookupByNameArgs {
            pool: default.clone(),
            name: "a".into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(r.vol, vol("a"));
    let r: StorageVolLookupByKeyRet = call(
        &c,
        P::StorageVolLookupByKey,
        &StorageVolLookupByKeyArgs {
            key: "/pools/default/a".into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(r.vol, vol("a"));
    let r: StorageVolLookupByPathRet = call(
        &c,
        P::StorageVolLookupByPath,
        &StorageVolLookupByPathArgs {
            path: "/pools/default/a".into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(r.vol, vol("a"));
    let err = call::<_, StorageVolLookupByPathRet>(
        &c,
        P::StorageVolLookupByPath,
        &StorageVolLookupByPathArgs {
            path: "/pools/default/zz".into(),
        },
    )
    .await
    .unwrap_err();
    assert_eq!(
        (err.code, err.domain),
        (ErrorCode::NoStorageVol, ErrorDomain::Storage)
    );
    let r: StorageVolCreateXmlRet = call(
        &c,
        P::StorageVolCreateXml,
        &StorageVolCreateXmlArgs {
            pool: default.clone(),
            xml: "<volume/>".into(),
            flags: 4,
        },
    )
    .await
    .unwrap();
    assert_eq!(r.vol, vol("made"));
    let r: StorageVolCreateXmlFromRet = call(
        &c,
        P::StorageVolCreateXmlFrom,
        &StorageVolCreateXmlFromArgs {
            pool: default.clone(),
            xml: "<volume/>".into(),
            clonevol: vol("a"),
            flags: 0,
        },
    )
    .await
    .unwrap();
    assert_eq!(r.vol, vol("copy"));
    let () = call(
        &c,
        P::StorageVolDelete,
        &StorageVolDeleteArgs {
            vol: vol("made"),
            flags: 2,
        },
    )
    .await
    .unwrap();
    let () = call(
        &c,
        P::StorageVolWipe,
        &StorageVolWipeArgs {
            vol: vol("a"),
            flags: 0,
        },
    )
    .await
    .unwrap();
    let () = call(
        &c,
        P::StorageVolWipePattern,
        &StorageVolWipePatternArgs {
            vol: vol("a"),
            algorithm: 8,
            flags: 0,
        },
    )
    .await
    .unwrap();
    let () = call(
        &c,
        P::StorageVolResize,
        &StorageVolResizeArgs {
            vol: vol("a"),
            capacity: 1 << 33,
            flags: 2,
        },
    )
    .await
    .unwrap();
    let i: StorageVolGetInfoRet = call(
        &c,
        P::StorageVolGetInfo,
        &StorageVolGetInfoArgs { vol: vol("a") },
    )
    .await
    .unwrap();
    assert_eq!((i.r#type, i.capacity, i.allocation), (0, 5, 5));
    let i: StorageVolGetInfoFlagsRet = call(
        &c,
        P::StorageVolGetInfoFlags,
        &StorageVolGetInfoFlagsArgs {
            vol: vol("a"),
            flags: 1,
        },
    )
    .await
    .unwrap();
    assert_eq!((i.r#type, i.capacity, i.allocation), (0, 5, 4096));
    let x: StorageVolGetXmlDescRet = call(
        &c,
        P::StorageVolGetXmlDesc,
        &StorageVolGetXmlDescArgs {
            vol: vol("a"),
            flags: 0,
        },
    )
    .await
    .unwrap();
    assert_eq!(x.xml, "<volume flags='0'><name>a</name></volume>");
    let p: StorageVolGetPathRet = call(
        &c,
        P::StorageVolGetPath,
        &StorageVolGetPathArgs { vol: vol("a") },
    )
    .await
    .unwrap();
    assert_eq!(p.name, "/pools/default/a");
    assert_eq!(
        fake.take_log(),
        vec![
            "vol_create_xml default <volume/> 4",
            "vol_create_xml_from default <volume/> a 0",
            "vol_delete made 2",
            "vol_wipe a 0 0",
            "vol_wipe a 8 0",
            "vol_resize a 8589934592 2",
            "vol_info a 0",
            "vol_info a 1",
        ]
    );
}

/// The payload of `p`'s arguments for the read-only test, and its public function.
fn mutating_calls() -> Vec<(P, Vec<u8>, &'static str)> {
    let p = || pool("default", 1);
    let pool_flags = |flags| encode_to_vec(&StoragePoolBuildArgs { pool: p(), flags });
    let vol_flags = || {
        encode_to_vec(&StorageVolDeleteArgs {
            vol: vol("a"),
            flags: 0,
        })
    };
    vec![
        (
            P::StoragePoolDefineXml,
            encode_to_vec(&StoragePoolDefineXmlArgs {
                xml: "<pool/>".into(),
                flags: 0,
            }),
            "virStoragePoolDefineXML",
        ),
        (
            P::StoragePoolCreateXml,
            encode_to_vec(&StoragePoolCreateXmlArgs {
                xml: "<pool/>".into(),
                flags: 0,
            }),
            "virStoragePoolCreateXML",
        ),
        (P::StoragePoolBuild, pool_flags(0), "virStoragePoolBuild"),
        (P::StoragePoolCreate, pool_flags(0), "virStoragePoolCreate"),
        (
            P::StoragePoolDestroy,
            encode_to_vec(&p()),
            "virStoragePoolDestroy",
        ),
        (P::StoragePoolDelete, pool_flags(0), "virStoragePoolDelete"),
        (
            P::StoragePoolUndefine,
            encode_to_vec(&p()),
            "virStoragePoolUndefine",
        ),
        (
            P::StoragePoolRefresh,
            pool_flags(0),
            "virStoragePoolRefresh",
        ),
        (
            P::StoragePoolSetAutostart,
            pool_flags(0),
            "virStoragePoolSetAutostart",
        ),
        (
            P::ConnectFindStoragePoolSources,
            encode_to_vec(&ConnectFindStoragePoolSourcesArgs {
                r#type: "logical".into(),
                src_spec: None,
                flags: 0,
            }),
            "virConnectFindStoragePoolSources",
        ),
        (
            P::StorageVolCreateXml,
            encode_to_vec(&StorageVolCreateXmlArgs {
                pool: p(),
                xml: "<volume/>".into(),
                flags: 0,
            }),
            "virStorageVolCreateXML",
        ),
        (
            P::StorageVolCreateXmlFrom,
            encode_to_vec(&StorageVolCreateXmlFromArgs {
                pool: p(),
                xml: "<volume/>".into(),
                clonevol: vol("a"),
                flags: 0,
            }),
            "virStorageVolCreateXMLFrom",
        ),
        (P::StorageVolDelete, vol_flags(), "virStorageVolDelete"),
        (P::StorageVolWipe, vol_flags(), "virStorageVolWipe"),
        (
            P::StorageVolWipePattern,
            encode_to_vec(&StorageVolWipePatternArgs {
                vol: vol("a"),
                algorithm: 0,
                flags: 0,
            }),
            "virStorageVolWipePattern",
        ),
        (
            P::StorageVolResize,
            encode_to_vec(&StorageVolResizeArgs {
                vol: vol("a"),
                capacity: 1,
                flags: 0,
            }),
            "virStorageVolResize",
        ),
    ]
}

#[tokio::test]
async fn read_only_connections_may_read_but_not_change() {
    let fake = Fake::new();
    let c = client(&fake, crate::client::CONNECT_RO);
    let x: StoragePoolGetXmlDescRet = call(
        &c,
        P::StoragePoolGetXmlDesc,
        &StoragePoolGetXmlDescArgs {
            pool: pool("default", 1),
            flags: 0,
        },
    )
    .await
    .unwrap();
    assert!(x.xml.contains("default"));
    let _: StorageVolGetInfoRet = call(
        &c,
        P::StorageVolGetInfo,
        &StorageVolGetInfoArgs { vol: vol("a") },
    )
    .await
    .unwrap();
    for (p, payload, function) in mutating_calls() {
        let err = dispatch(&c, p.number(), &payload).await.unwrap_err();
        assert_eq!(
            (err.code, err.domain, err.message),
            (
                ErrorCode::OperationDenied,
                ErrorDomain::Storage,
                format!("operation forbidden: read only access prevents {function}")
            ),
            "{p:?}"
        );
    }
    // The transfers are refused the same way (libvirt checks read-only first).
    for (p, function) in [
        (P::StorageVolUpload, "virStorageVolUpload"),
        (P::StorageVolDownload, "virStorageVolDownload"),
    ] {
        let args = StorageVolDownloadArgs {
            vol: vol("a"),
            offset: 0,
            length: 0,
            flags: 0,
        };
        let Err(err) =
            crate::dispatch::stream::dispatch_stream(&c, p.number(), &encode_to_vec(&args)).await
        else {
            panic!("{p:?} opened read-only")
        };
        assert_eq!(
            (err.code, err.domain, err.message),
            (
                ErrorCode::OperationDenied,
                ErrorDomain::Storage,
                format!("operation forbidden: read only access prevents {function}")
            )
        );
    }
    // Only the reading call reached the driver.
    assert_eq!(fake.take_log(), vec!["vol_info a 0"]);
}

#[tokio::test]
async fn connections_without_a_storage_driver_get_no_support() {
    let c = Client::new(false);
    c.open(Some("test:///default"), 0).unwrap();
    c.replace_storage(None);
    for (p, payload, function) in [
        (
            P::ConnectListAllStoragePools,
            encode_to_vec(&ConnectListAllStoragePoolsArgs {
                need_results: 1,
                flags: 0,
            }),
            "virConnectListAllStoragePools",
        ),
        (
            P::StorageVolGetPath,
            encode_to_vec(&vol("a")),
            "virStorageVolGetPath",
        ),
        (
            P::ConnectNumOfStoragePools,
            Vec::new(),
            "virConnectNumOfStoragePools",
        ),
    ] {
        let err = dispatch(&c, p.number(), &payload).await.unwrap_err();
        assert_eq!(
            (err.code, err.domain, err.message),
            (
                ErrorCode::NoSupport,
                ErrorDomain::Storage,
                format!("this function is not supported by the connection driver: {function}")
            )
        );
    }
    let args = StorageVolDownloadArgs {
        vol: vol("a"),
        offset: 0,
        length: 0,
        flags: 0,
    };
    let Err(err) = crate::dispatch::stream::dispatch_stream(
        &c,
        P::StorageVolDownload.number(),
        &encode_to_vec(&args),
    )
    .await
    else {
        panic!("download without a storage driver")
    };
    assert_eq!(
        (err.code, err.domain),
        (ErrorCode::NoSupport, ErrorDomain::Storage)
    );
}

#[tokio::test]
async fn pool_events_reach_the_callbacks_that_match() {
    let fake = Fake::new();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let c = Client::with_outbox(false, Some(tx), None);
    c.open(Some("test:///default"), 0).unwrap();
    let storage: Arc<dyn StorageDriver> = fake.clone();
    c.replace_storage(Some(storage));
    let register = |event_id, pool| ConnectStoragePoolEventRegisterAnyArgs { event_id, pool };
    let all: CallbackIdMsg = call(
        &c,
        P::ConnectStoragePoolEventRegisterAny,
        &register(0, None),
    )
    .await
    .unwrap();
    let cold_only: CallbackIdMsg = call(
        &c,
        P::ConnectStoragePoolEventRegisterAny,
        &register(0, Some(pool("cold", 2))),
    )
    .await
    .unwrap();
    let refresh: CallbackIdMsg = call(
        &c,
        P::ConnectStoragePoolEventRegisterAny,
        &register(1, None),
    )
    .await
    .unwrap();
    assert!(c.relaying_pools());
    let err = call::<_, CallbackIdMsg>(
        &c,
        P::ConnectStoragePoolEventRegisterAny,
        &register(2, None),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.message,
        "internal error: unsupported storage pool event ID 2"
    );
    let default = fake.pool_lookup_by_name("default").await.unwrap();
    let cold = fake.pool_lookup_by_name("cold").await.unwrap();
    fake.pool_destroy(&default).await.unwrap();
    let p = rx.recv().await.unwrap();
    assert_eq!(p.header.procedure, 370);
    let m: StoragePoolEventLifecycleMsg = decode_from(&p.payload).unwrap();
    assert_eq!(
        (m.callback_id, m.pool.name.as_str(), m.event, m.detail),
        (all.callback_id, "default", 3, 0)
    );
    fake.pool_create(&cold, 0).await.unwrap();
    let ids: Vec<i32> = [rx.recv().await.unwrap(), rx.recv().await.unwrap()]
        .iter()
        .map(|p| decode_from::<StoragePoolEventLifecycleMsg>(&p.payload).unwrap())
        .map(|m| {
            assert_eq!((m.pool.name.as_str(), m.event), ("cold", 2));
            m.callback_id
        })
        .collect();
    assert_eq!(ids, vec![all.callback_id, cold_only.callback_id]);
    fake.pool_refresh(&cold, 0).await.unwrap();
    let p = rx.recv().await.unwrap();
    assert_eq!(p.header.procedure, 373);
    let m: StoragePoolEventRefreshMsg = decode_from(&p.payload).unwrap();
    assert_eq!(
        (m.callback_id, m.pool),
        (refresh.callback_id, pool("cold", 2))
    );
    for id in [all, cold_only, refresh] {
        let () = call(&c, P::ConnectStoragePoolEventDeregisterAny, &id)
            .await
            .unwrap();
    }
    assert!(!c.relaying_pools());
    fake.pool_destroy(&cold).await.unwrap();
    tokio::task::yield_now().await;
    assert!(rx.try_recv().is_err());
}

/// The stream pumps of volume transfers, driven packet by packet.
mod streams {
    use super::*;
    use crate::dispatch::stream::{dispatch_stream, Ending, Outbox};
    use oxvirt_rpc::packet::PROGRAM_REMOTE;
    use oxvirt_rpc::stream as rpc;
    use oxvirt_rpc::{Header, MessageStatus, MessageType, Packet};

    fn call_header(p: P) -> Header {
        Header {
            prog: PROGRAM_REMOTE,
            vers: 1,
            procedure: p.number(),
            kind: MessageType::Call,
            serial: 21,
            status: MessageStatus::Ok,
        }
    }

    struct Rig {
        out: Outbox,
        rx: mpsc::UnboundedReceiver<Packet>,
        to_stream: mpsc::Sender<Packet>,
        task: tokio::task::JoinHandle<Ending>,
        call: Header,
    }

    async fn open(c: &Client, p: P, offset: u64, length: u64, flags: u32) -> Rig {
        let args = StorageVolDownloadArgs {
            vol: vol("a"),
            offset,
            length,
            flags,
        };
        let Ok(opened) = dispatch_stream(c, p.number(), &encode_to_vec(&args)).await else {
            panic!("{p:?} did not open")
        };
        assert!(opened.reply.is_empty());
        let (tx, rx) = mpsc::unbounded_channel();
        let out = Outbox::new(tx);
        let (to_stream, incoming) = mpsc::channel(4);
        let call = call_header(p);
        let task = tokio::spawn(opened.run(call, out.clone(), incoming));
        Rig {
            out,
            rx,
            to_stream,
            task,
            call,
        }
    }

    /// Receives until the end of the data: what came, holes as zeroes, and the holes.
    async fn receive(rig: &mut Rig) -> (Vec<u8>, Vec<u64>) {
        let mut data = Vec::new();
        let mut holes = Vec::new();
        loop {
            let p = rig.rx.recv().await.unwrap();
            rig.out.written(Outbox::credit_of(&p));
            assert_eq!(p.header.serial, 21);
            match (p.header.kind, p.header.status) {
                (MessageType::StreamHole, MessageStatus::Continue) => {
                    let h: StreamHole = decode_from(&p.payload).unwrap();
                    assert_eq!(h.flags, 0);
                    holes.push(h.length as u64);
                    data.resize(data.len() + h.length as usize, 0);
                }
                (MessageType::Stream, MessageStatus::Continue) if p.payload.is_empty() => {
                    return (data, holes)
                }
                (MessageType::Stream, MessageStatus::Continue) => {
                    data.extend_from_slice(&p.payload)
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    fn sparse_content() -> Vec<u8> {
        let mut v = b"head".to_vec();
        v.extend(std::iter::repeat_n(0u8, 3000));
        v.extend_from_slice(b"middle");
        v.extend(std::iter::repeat_n(0u8, 10));
        v.extend_from_slice(&vec![7u8; 2500]);
        v
    }

    #[tokio::test]
    async fn downloads_send_holes_only_when_sparse() {
        let fake = Fake::new();
        let c = client(&fake, 0);
        let content = sparse_content();
        fake.set_content("a", content.clone());
        let mut rig = open(&c, P::StorageVolDownload, 0, 0, flags::stream::SPARSE).await;
        let (data, holes) = receive(&mut rig).await;
        assert_eq!(data, content);
        assert_eq!(holes, vec![3000, 10]);
        rig.to_stream.send(rpc::finish(&rig.call)).await.unwrap();
        assert_eq!(rig.task.await.unwrap(), Ending::Finished);
        assert_eq!(rig.rx.recv().await.unwrap(), rpc::finish(&rig.call));

        let mut rig = open(&c, P::StorageVolDownload, 2, 100, 0).await;
        let (data, holes) = receive(&mut rig).await;
        assert_eq!(data, content[2..102].to_vec());
        assert!(holes.is_empty());
        rig.to_stream.send(rpc::finish(&rig.call)).await.unwrap();
        assert_eq!(rig.task.await.unwrap(), Ending::Finished);
        assert_eq!(
            fake.take_log(),
            vec!["vol_download a 0 0 1", "vol_download a 2 100 0"]
        );
    }

    #[tokio::test]
    async fn holes_in_a_non_sparse_download_go_out_as_zeroes() {
        use crate::dispatch::stream::storage_stream::Transfer;
        let (chunk_tx, chunks) = mpsc::channel(8);
        let (tx, mut rx) = mpsc::unbounded_channel();
        let out = Outbox::new(tx);
        let (to_stream, incoming) = mpsc::channel(4);
        let call = call_header(P::StorageVolDownload);
        let transfer = Transfer::Download {
            download: Download { chunks },
            sparse: false,
        };
        let task = tokio::spawn(transfer.run(call, out.clone(), incoming));
        chunk_tx
            .send(Ok(Chunk::Data(b"ab".to_vec())))
            .await
            .unwrap();
        chunk_tx.send(Ok(Chunk::Hole(600_000))).await.unwrap();
        chunk_tx
            .send(Ok(Chunk::Data(b"cd".to_vec())))
            .await
            .unwrap();
        drop(chunk_tx);
        let mut sizes = Vec::new();
        let mut data = Vec::new();
        loop {
            let p = rx.recv().await.unwrap();
            out.written(Outbox::credit_of(&p));
            assert_eq!(p.header.kind, MessageType::Stream);
            if p.payload.is_empty() {
                break;
            }
            sizes.push(p.payload.len());
            data.extend_from_slice(&p.payload);
        }
        assert_eq!(sizes, vec![2, 262_120, 262_120, 75_760, 2]);
        let mut want = b"ab".to_vec();
        want.resize(600_002, 0);
        want.extend_from_slice(b"cd");
        assert_eq!(data, want);
        to_stream.send(rpc::finish(&call)).await.unwrap();
        assert_eq!(task.await.unwrap(), Ending::Finished);
    }

    #[tokio::test]
    async fn a_failing_download_aborts_with_the_drivers_error() {
        let fake = Fake::new();
        let c = client(&fake, 0);
        fake.set_content("a", b"someBAD".to_vec());
        let mut rig = open(&c, P::StorageVolDownload, 0, 0, 0).await;
        let p = rig.rx.recv().await.unwrap();
        assert_eq!(p.payload, b"someBAD");
        let p = rig.rx.recv().await.unwrap();
        assert_eq!(
            (p.header.kind, p.header.status),
            (MessageType::Stream, MessageStatus::Error)
        );
        let err = rpc::abort_error(&p.payload);
        assert_eq!(
            (err.code, err.domain, err.message.as_str()),
            (ErrorCode::SystemError, ErrorDomain::Storage, "disk gone")
        );
        assert!(matches!(rig.task.await.unwrap(), Ending::Failed(_)));
    }

    #[tokio::test]
    async fn uploads_take_data_and_holes_then_confirm_the_finish() {
        let fake = Fake::new();
        let c = client(&fake, 0);
        let rig = open(&c, P::StorageVolUpload, 0, 0, flags::stream::SPARSE).await;
        rig.to_stream
            .send(rpc::data(&rig.call, b"up".to_vec()))
            .await
            .unwrap();
        rig.to_stream.send(stream_hole(&rig.call, 5)).await.unwrap();
        rig.to_stream
            .send(rpc::data(&rig.call, b"load".to_vec()))
            .await
            .unwrap();
        rig.to_stream.send(rpc::finish(&rig.call)).await.unwrap();
        let mut rig = rig;
        assert_eq!(rig.task.await.unwrap(), Ending::Finished);
        assert_eq!(rig.rx.recv().await.unwrap(), rpc::finish(&rig.call));
        assert_eq!(uploaded("a").unwrap(), b"up\0\0\0\0\0load".to_vec());
        assert_eq!(fake.take_log(), vec!["vol_upload a 0 0 1"]);
    }

    #[tokio::test]
    async fn a_hole_in_a_non_sparse_upload_is_refused() {
        let fake = Fake::new();
        let c = client(&fake, 0);
        let mut rig = open(&c, P::StorageVolUpload, 0, 0, 0).await;
        rig.to_stream.send(stream_hole(&rig.call, 5)).await.unwrap();
        let Ending::Failed(err) = rig.task.await.unwrap() else {
            panic!("hole accepted")
        };
        assert_eq!(
            (err.code, err.domain, err.message.as_str()),
            (ErrorCode::Rpc, ErrorDomain::Rpc, "Unexpected stream hole")
        );
        let p = rig.rx.recv().await.unwrap();
        assert_eq!(p.header.status, MessageStatus::Error);
        assert_eq!(
            rpc::abort_error(&p.payload).message,
            "Unexpected stream hole"
        );
    }

    #[tokio::test]
    async fn a_failed_upload_answers_the_finish_with_its_error() {
        let fake = Fake::new();
        let c = client(&fake, 0);
        let mut rig = open(&c, P::StorageVolUpload, 0, 0, 0).await;
        rig.to_stream
            .send(rpc::data(&rig.call, b"FAIL".to_vec()))
            .await
            .unwrap();
        rig.to_stream.send(rpc::finish(&rig.call)).await.unwrap();
        let Ending::Failed(err) = rig.task.await.unwrap() else {
            panic!("upload succeeded")
        };
        assert_eq!(err.message, "cannot write volume: no space left");
        let p = rig.rx.recv().await.unwrap();
        assert_eq!(
            (p.header.kind, p.header.status),
            (MessageType::Stream, MessageStatus::Error)
        );
        let e = rpc::abort_error(&p.payload);
        assert_eq!(
            (e.code, e.domain),
            (ErrorCode::SystemError, ErrorDomain::Storage)
        );

        // A client abort is confirmed once the writer ended (what it had is written).
        let mut rig = open(&c, P::StorageVolUpload, 0, 0, 0).await;
        rig.to_stream
            .send(rpc::data(&rig.call, b"partial-then-abort".to_vec()))
            .await
            .unwrap();
        rig.to_stream
            .send(rpc::abort(&rig.call, None))
            .await
            .unwrap();
        assert_eq!(rig.task.await.unwrap(), Ending::Aborted);
        assert_eq!(rig.rx.recv().await.unwrap(), rpc::finish(&rig.call));
        assert!(UPLOADS
            .lock()
            .unwrap()
            .iter()
            .any(|(_, d)| d == b"partial-then-abort"));
    }
}

/// The storage calls end to end: `oxvirt-remote`'s storage driver against a daemon serving
/// the fake on a unix socket.
mod remote {
    use super::*;
    use crate::listen::{bind_unix, Listener};
    use crate::server::Server;
    use oxvirt_remote::RemoteDriver;
    use oxvirt_storage::api::PoolEventWhat;
    use std::path::PathBuf;

    /// A private directory, removed on drop.
    struct Scratch(PathBuf);

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// A daemon serving `fake` to every connection, and a client storage driver on it.
    async fn start(name: &str, fake: &Arc<Fake>) -> (Scratch, Arc<Server>, RemoteDriver) {
        let dir =
            std::env::temp_dir().join(format!("oxvirtd-storage-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("state")).unwrap();
        let scratch = Scratch(dir.clone());
        let text = format!(
            "runtime_dir = \"{}\"\nstate_dir = \"{}\"\nkeepalive_interval = 0\n",
            dir.display(),
            dir.join("state").display()
        );
        let config = crate::config::Settings::default()
            .overridden_by(crate::config::parse_file("t", &text).unwrap())
            .resolve(&|_| None)
            .unwrap();
        let storage: Arc<dyn StorageDriver> = fake.clone();
        crate::client::set_test_storage_driver(&config.state_dir, storage);
        let sock = dir.join("sock");
        let listener = bind_unix(&sock, 0o600, None).unwrap();
        let server = Server::new(config);
        tokio::spawn(Arc::clone(&server).serve(Listener::Unix {
            listener,
            readonly: false,
        }));
        let drv = RemoteDriver::open_unix(&sock, "test:///default", 0)
            .await
            .unwrap();
        (scratch, server, drv)
    }

    async fn download_all(d: &dyn StorageDriver, v: &VolRef, flags: u32) -> (Vec<u8>, Vec<u64>) {
        let mut dl = d.vol_download(v, 0, 0, flags).await.unwrap();
        let (mut data, mut holes) = (Vec::new(), Vec::new());
        while let Some(chunk) = dl.chunks.recv().await {
            match chunk.unwrap() {
                Chunk::Data(b) => data.extend_from_slice(&b),
                Chunk::Hole(n) => {
                    holes.push(n);
                    data.resize(data.len() + n as usize, 0);
                }
            }
        }
        (data, holes)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn calls_events_and_sparse_transfers_round_trip() {
        let fake = Fake::new();
        let (_scratch, server, remote) = start("rt", &fake).await;
        let d = remote.storage_driver();
        let mut events = d.subscribe();
        let pools = d.list_all_pools(0).await.unwrap();
        let names: Vec<&str> = pools.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, vec!["default", "cold"]);
        let default = d.pool_lookup_by_name("default").await.unwrap();
        assert_eq!(default.uuid, Uuid::from([1; 16]));
        let info = d.pool_info(&default).await.unwrap();
        assert_eq!(info.state, PoolState::Running);
        let vols = d.pool_list_volumes(&default).await.unwrap();
        assert_eq!(vols.len(), 1);
        let a = d.vol_lookup_by_path("/pools/default/a").await.unwrap();
        assert_eq!(a, vols[0]);
        let vi = d.vol_info(&a, flags::vol_info::GET_PHYSICAL).await.unwrap();
        assert_eq!(
            (vi.kind, vi.capacity, vi.allocation),
            (VolType::File, 5, 4096)
        );
        let err = d.pool_lookup_by_name("nope").await.unwrap_err();
        assert_eq!(
            (err.code, err.domain, err.message.as_str()),
            (
                ErrorCode::NoStoragePool,
                ErrorDomain::Storage,
                "Storage pool not found: no storage pool with matching name 'nope'"
            )
        );
        d.vol_wipe(&a, 0, 0).await.unwrap();
        d.vol_wipe(&a, 3, 0).await.unwrap();
        assert_eq!(
            fake.take_log()[..],
            [
                "list_all_pools 0",
                "vol_info a 1",
                "vol_wipe a 0 0",
                "vol_wipe a 3 0"
            ]
        );

        // Events: lifecycle and refresh (the registrations are answered before the next
        // reply on the connection, so an event emitted after a call reaches them).
        let cold = d.pool_lookup_by_name("cold").await.unwrap();
        d.pool_create(&cold, 0).await.unwrap();
        let e = tokio::time::timeout(std::time::Duration::from_secs(5), events.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(e, PoolEvent::lifecycle(&cold, PoolEventKind::Started));
        d.pool_refresh(&cold, 0).await.unwrap();
        let e = tokio::time::timeout(std::time::Duration::from_secs(5), events.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(e.what, PoolEventWhat::Refresh);

        // A sparse download: holes as holes; the same content without the flag: no holes.
        let content = streams_content();
        fake.set_content("a", content.clone());
        let (data, holes) = download_all(&d, &a, flags::stream::SPARSE).await;
        assert_eq!(data, content);
        assert_eq!(holes, vec![300_000, 10]);
        let (data, holes) = download_all(&d, &a, 0).await;
        assert_eq!((data == content, holes.len()), (true, 0));

        // A sparse upload with a hole and a chunk larger than one packet.
        let up = d.vol_upload(&a, 0, 0, flags::stream::SPARSE).await.unwrap();
        let big = vec![9u8; 300_000];
        up.chunks.send(Chunk::Data(b"xy".to_vec())).await.unwrap();
        up.chunks.send(Chunk::Hole(70_000)).await.unwrap();
        up.chunks.send(Chunk::Data(big.clone())).await.unwrap();
        drop(up.chunks);
        up.done.await.unwrap().unwrap();
        let mut want = b"xy".to_vec();
        want.resize(70_002, 0);
        want.extend_from_slice(&big);
        assert_eq!(uploaded("a").unwrap(), want);

        // A hole in a non-sparse upload: the daemon's error comes back.
        let up = d.vol_upload(&a, 0, 0, 0).await.unwrap();
        up.chunks.send(Chunk::Hole(4)).await.unwrap();
        let err = tokio::time::timeout(std::time::Duration::from_secs(5), up.done)
            .await
            .unwrap()
            .unwrap()
            .unwrap_err();
        assert_eq!(err.message, "Unexpected stream hole");
        // A failing upload: the driver's error answers the finish.
        let up = d.vol_upload(&a, 0, 0, 0).await.unwrap();
        up.chunks.send(Chunk::Data(b"FAIL".to_vec())).await.unwrap();
        drop(up.chunks);
        let err = up.done.await.unwrap().unwrap_err();
        assert_eq!(
            (err.code, err.domain, err.message.as_str()),
            (
                ErrorCode::SystemError,
                ErrorDomain::Storage,
                "cannot write volume: no space left"
            )
        );
        // More data than the daemon's credit window, through the remote client.
        let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8 + 1).collect();
        fake.set_content("a", big.clone());
        let (data, holes) = download_all(&d, &a, flags::stream::SPARSE).await;
        assert_eq!((data.len(), data == big, holes.len()), (big.len(), true, 0));

        // The daemon's abort of a failing download ends the client's download with it.
        fake.set_content("a", b"someBAD".to_vec());
        let mut dl = d.vol_download(&a, 0, 0, 0).await.unwrap();
        assert_eq!(
            dl.chunks.recv().await.unwrap().unwrap(),
            Chunk::Data(b"someBAD".to_vec())
        );
        let err = dl.chunks.recv().await.unwrap().unwrap_err();
        assert_eq!(
            (err.domain, err.message.as_str()),
            (ErrorDomain::Storage, "disk gone")
        );
        assert!(dl.chunks.recv().await.is_none());

        // The connection still serves calls after the transfers.
        assert!(d.pool_is_active(&default).await.unwrap());
        remote.close().await.unwrap();
        server.stop_accepting();
    }

    /// Debian's `virsh` on the socket of `dir` (blocking: run off the runtime's threads).
    async fn virsh(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
        let uri = format!("test+unix:///default?socket={}", dir.join("sock").display());
        let mut all = vec!["-q".to_string(), "-c".to_string(), uri];
        all.extend(args.iter().map(|a| a.to_string()));
        tokio::task::spawn_blocking(move || {
            std::process::Command::new("virsh")
                .args(&all)
                .output()
                .unwrap()
        })
        .await
        .unwrap()
    }

    fn ok(out: &std::process::Output) -> String {
        assert!(
            out.status.success(),
            "virsh failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn debian_virsh_lists_uploads_and_downloads_sparse() {
        if !oxvirt_xml::testdata::have("virsh") {
            oxvirt_xml::testdata::unavailable(
                "debian_virsh_lists_uploads_and_downloads_sparse",
                "no virsh",
            );
            return;
        }
        let fake = Fake::new();
        let (scratch, server, remote) = start("virsh", &fake).await;
        let dir = scratch.0.clone();
        let list = ok(&virsh(&dir, &["pool-list", "--all", "--name"]).await);
        assert_eq!(
            list.split_whitespace().collect::<Vec<_>>(),
            ["cold", "default"]
        );
        let vols = ok(&virsh(&dir, &["vol-list", "default"]).await);
        assert!(
            vols.contains("a") && vols.contains("/pools/default/a"),
            "{vols}"
        );
        let out = virsh(&dir, &["vol-list", "cold"]).await;
        assert!(!out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("storage pool 'cold' is not active"),
            "{out:?}"
        );
        let content = streams_content();
        // A sparse file: data, a hole of 300,000 bytes, data.
        let src = dir.join("src.img");
        {
            use std::io::{Seek, SeekFrom, Write};
            let mut f = std::fs::File::create(&src).unwrap();
            f.write_all(&content[..5]).unwrap();
            f.seek(SeekFrom::Start(5 + 300_000)).unwrap();
            f.write_all(&content[5 + 300_000..]).unwrap();
        }
        assert_eq!(std::fs::read(&src).unwrap(), content);
        let src_s = src.to_string_lossy().into_owned();
        ok(&virsh(
            &dir,
            &["vol-upload", "--sparse", "--pool", "default", "a", &src_s],
        )
        .await);
        assert_eq!(uploaded("a").unwrap(), content);
        ok(&virsh(&dir, &["vol-upload", "--pool", "default", "a", &src_s]).await);
        assert_eq!(uploaded("a").unwrap(), content);

        fake.set_content("a", content.clone());
        let dst = dir.join("dst.img");
        let dst_s = dst.to_string_lossy().into_owned();
        ok(&virsh(
            &dir,
            &["vol-download", "--sparse", "--pool", "default", "a", &dst_s],
        )
        .await);
        assert_eq!(std::fs::read(&dst).unwrap(), content);
        let dense = dir.join("dense.img");
        let dense_s = dense.to_string_lossy().into_owned();
        ok(&virsh(&dir, &["vol-download", "--pool", "default", "a", &dense_s]).await);
        assert_eq!(std::fs::read(&dense).unwrap(), content);
        {
            use std::os::unix::fs::MetadataExt;
            // The sparse download left the 300,000-byte hole unallocated.
            let sparse = std::fs::metadata(&dst).unwrap().blocks() * 512;
            let full = std::fs::metadata(&dense).unwrap().blocks() * 512;
            assert!(sparse + 200_000 <= full, "sparse {sparse} full {full}");
        }
        let log = fake.take_log();
        assert!(log.contains(&"vol_upload a 0 0 1".to_string()), "{log:?}");
        assert!(log.contains(&"vol_upload a 0 0 0".to_string()), "{log:?}");
        assert!(log.contains(&"vol_download a 0 0 1".to_string()), "{log:?}");
        assert!(log.contains(&"vol_download a 0 0 0".to_string()), "{log:?}");
        remote.close().await.unwrap();
        server.stop_accepting();
    }

    fn streams_content() -> Vec<u8> {
        let mut v = b"start".to_vec();
        v.resize(5 + 300_000, 0);
        v.extend_from_slice(&[1u8; 270_000]);
        v.extend_from_slice(&[0u8; 10]);
        v.extend_from_slice(b"end");
        v
    }
}

#[tokio::test]
async fn test_uris_serve_their_nodes_pools() {
    let c = Client::new(false);
    c.open(Some("test:///default"), 0).unwrap();
    let pools: ConnectListAllStoragePoolsRet = call(
        &c,
        P::ConnectListAllStoragePools,
        &ConnectListAllStoragePoolsArgs {
            need_results: 1,
            flags: 0,
        },
    )
    .await
    .unwrap();
    let names: Vec<&str> = pools.pools.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["default-pool"]);
    assert_eq!(pools.ret, 1);
}
