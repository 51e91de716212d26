//! The facade's storage calls over a small in-memory storage driver that logs each call.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use oxvirt_storage::api::{self, PoolEventBus, PoolEventReceiver, StorageDriver};
use oxvirt_xml::types::Uuid;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use super::*;
use crate::testing::fake_connect;

#[derive(Default)]
struct Fake {
    calls: Mutex<Vec<String>>,
    bus: PoolEventBus,
}

impl Fake {
    fn log(&self, call: String) {
        self.calls.lock().unwrap().push(call);
    }

    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}

fn pool_ref() -> PoolRef {
    PoolRef {
        name: "images".into(),
        uuid: Uuid::from([7; 16]),
    }
}

fn vol_ref(name: &str) -> VolRef {
    VolRef {
        pool: "images".into(),
        name: name.into(),
        key: format!("/var/lib/images/{name}"),
    }
}

fn no_pool(name: &str) -> VirError {
    VirError::new(
        ErrorDomain::Storage,
        ErrorCode::NoStoragePool,
        format!("no storage pool with matching name '{name}'"),
    )
}

#[async_trait]
impl StorageDriver for Fake {
    fn subscribe(&self) -> PoolEventReceiver {
        self.bus.subscribe()
    }

    async fn list_all_pools(&self, flags: u32) -> api::Result<Vec<PoolRef>> {
        self.log(format!("list_all_pools {flags}"));
        Ok(vec![pool_ref()])
    }

    async fn find_pool_sources(
        &self,
        pool_type: &str,
        spec: Option<&str>,
        flags: u32,
    ) -> api::Result<String> {
        self.log(format!("find_pool_sources {pool_type} {spec:?} {flags}"));
        Ok("<sources>\n</sources>\n".into())
    }

    async fn pool_lookup_by_name(&self, name: &str) -> api::Result<PoolRef> {
        self.log(format!("pool_lookup_by_name {name}"));
        if name == "images" {
            Ok(pool_ref())
        } else {
            Err(no_pool(name))
        }
    }

    async fn pool_lookup_by_uuid(&self, uuid: &Uuid) -> api::Result<PoolRef> {
        self.log(format!("pool_lookup_by_uuid {uuid}"));
        Ok(pool_ref())
    }

    async fn pool_lookup_by_volume(&self, vol: &VolRef) -> api::Result<PoolRef> {
        self.log(format!("pool_lookup_by_volume {}", vol.name));
        Ok(pool_ref())
    }

    async fn pool_lookup_by_target_path(&self, path: &str) -> api::Result<PoolRef> {
        self.log(format!("pool_lookup_by_target_path {path}"));
        Ok(pool_ref())
    }

    async fn pool_define_xml(&self, _xml: &str, flags: u32) -> api::Result<PoolRef> {
        self.log(format!("pool_define_xml {flags}"));
        self.bus.emit(PoolEvent::lifecycle(
            &pool_ref(),
            api::PoolEventKind::Defined,
        ));
        Ok(pool_ref())
    }

    async fn pool_create_xml(&self, _xml: &str, flags: u32) -> api::Result<PoolRef> {
        self.log(format!("pool_create_xml {flags}"));
        Ok(pool_ref())
    }

    async fn pool_build(&self, pool: &PoolRef, flags: u32) -> api::Result<()> {
        self.log(format!("pool_build {} {flags}", pool.name));
        Ok(())
    }

    async fn pool_create(&self, pool: &PoolRef, flags: u32) -> api::Result<()> {
        self.log(format!("pool_create {} {flags}", pool.name));
        Ok(())
    }

    async fn pool_destroy(&self, pool: &PoolRef) -> api::Result<()> {
        self.log(format!("pool_destroy {}", pool.name));
        Ok(())
    }

    async fn pool_delete(&self, pool: &PoolRef, flags: u32) -> api::Result<()> {
        self.log(format!("pool_delete {} {flags}", pool.name));
        Ok(())
    }

    async fn pool_undefine(&self, pool: &PoolRef) -> api::Result<()> {
        self.log(format!("pool_undefine {}", pool.name));
        Ok(())
    }

    async fn pool_refresh(&self, pool: &PoolRef, flags: u32) -> api::Result<()> {
        self.log(format!("pool_refresh {} {flags}", pool.name));
        self.bus.emit(PoolEvent::refresh(pool));
        Ok(())
    }

    async fn pool_info(&self, _pool: &PoolRef) -> api::Result<PoolInfo> {
        Ok(PoolInfo {
            state: PoolState::Running,
            capacity: 100,
            allocation: 40,
            available: 60,
        })
    }

    async fn pool_xml_desc(&self, _pool: &PoolRef, flags: u32) -> api::Result<String> {
        Ok(format!("<pool flags='{flags}'/>"))
    }

    async fn pool_autostart(&self, _pool: &PoolRef) -> api::Result<bool> {
        Ok(true)
    }

    async fn pool_set_autostart(&self, _pool: &PoolRef, on: bool) -> api::Result<()> {
        self.log(format!("pool_set_autostart {on}"));
        Ok(())
    }

    async fn pool_is_active(&self, _pool: &PoolRef) -> api::Result<bool> {
        Ok(true)
    }

    async fn pool_is_persistent(&self, _pool: &PoolRef) -> api::Result<bool> {
        Ok(false)
    }

    async fn pool_list_volumes(&self, _pool: &PoolRef) -> api::Result<Vec<VolRef>> {
        Ok(vec![vol_ref("a.img"), vol_ref("b.img")])
    }

    async fn vol_lookup_by_name(&self, _pool: &PoolRef, name: &str) -> api::Result<VolRef> {
        Ok(vol_ref(name))
    }

    async fn vol_lookup_by_key(&self, key: &str) -> api::Result<VolRef> {
        self.log(format!("vol_lookup_by_key {key}"));
        Ok(vol_ref("a.img"))
    }

    async fn vol_lookup_by_path(&self, path: &str) -> api::Result<VolRef> {
        self.log(format!("vol_lookup_by_path {path}"));
        Ok(vol_ref("a.img"))
    }

    async fn vol_create_xml(&self, pool: &PoolRef, _xml: &str, flags: u32) -> api::Result<VolRef> {
        self.log(format!("vol_create_xml {} {flags}", pool.name));
        Ok(vol_ref("new.img"))
    }

    async fn vol_create_xml_from(
        &self,
        _pool: &PoolRef,
        _xml: &str,
        from: &VolRef,
        flags: u32,
    ) -> api::Result<VolRef> {
        self.log(format!("vol_create_xml_from {} {flags}", from.name));
        Ok(vol_ref("copy.img"))
    }

    async fn vol_delete(&self, vol: &VolRef, flags: u32) -> api::Result<()> {
        self.log(format!("vol_delete {} {flags}", vol.name));
        Ok(())
    }

    async fn vol_wipe(&self, vol: &VolRef, algorithm: u32, flags: u32) -> api::Result<()> {
        self.log(format!("vol_wipe {} {algorithm} {flags}", vol.name));
        Ok(())
    }

    async fn vol_resize(&self, vol: &VolRef, capacity: u64, flags: u32) -> api::Result<()> {
        self.log(format!("vol_resize {} {capacity} {flags}", vol.name));
        Ok(())
    }

    async fn vol_info(&self, _vol: &VolRef, flags: u32) -> api::Result<VolInfo> {
        Ok(VolInfo {
            kind: VolType::File,
            capacity: 1024,
            allocation: if flags == 0 { 512 } else { 1024 },
        })
    }

    async fn vol_xml_desc(&self, vol: &VolRef, _flags: u32) -> api::Result<String> {
        Ok(format!("<volume><name>{}</name></volume>", vol.name))
    }

    async fn vol_path(&self, vol: &VolRef) -> api::Result<String> {
        Ok(vol.key.clone())
    }

    async fn vol_download(
        &self,
        _vol: &VolRef,
        offset: u64,
        length: u64,
        flags: u32,
    ) -> api::Result<Download> {
        self.log(format!("vol_download {offset} {length} {flags}"));
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tx.try_send(Ok(Chunk::Data(b"abc".to_vec()))).unwrap();
        tx.try_send(Ok(Chunk::Hole(5))).unwrap();
        Ok(Download { chunks: rx })
    }

    async fn vol_upload(
        &self,
        _vol: &VolRef,
        offset: u64,
        length: u64,
        flags: u32,
    ) -> api::Result<Upload> {
        self.log(format!("vol_upload {offset} {length} {flags}"));
        let (tx, mut rx) = tokio::sync::mpsc::channel(4);
        let (done_tx, done) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let mut n = 0;
            while let Some(Chunk::Data(d)) = rx.recv().await {
                n += d.len();
            }
            let _ = done_tx.send(if n == 4 {
                Ok(())
            } else {
                Err(VirError::new(
                    ErrorDomain::Storage,
                    ErrorCode::InternalError,
                    format!("{n} bytes"),
                ))
            });
        });
        Ok(Upload { chunks: tx, done })
    }
}

fn with_storage(read_only: bool) -> (Connect, Arc<Fake>) {
    let base = fake_connect(read_only);
    let fake = Arc::new(Fake::default());
    let storage: Arc<dyn StorageDriver> = fake.clone();
    (base.with_storage(storage), fake)
}

#[tokio::test]
async fn connections_without_a_storage_driver_do_not_support_storage() {
    let conn = fake_connect(false);
    let err = conn.list_all_storage_pools(0).await.unwrap_err();
    assert_eq!(
        err.message,
        "this function is not supported by the connection driver: \
         virConnectListAllStoragePools"
    );
    assert_eq!(err.domain, ErrorDomain::Storage);
    assert_eq!(err.code, ErrorCode::NoSupport);
    let err = conn
        .lookup_storage_pool_by_name("default")
        .await
        .unwrap_err();
    assert!(err.message.ends_with("virStoragePoolLookupByName"));
    let err = conn.storage_vol_lookup_by_path("/x").await.unwrap_err();
    assert!(err.message.ends_with("virStorageVolLookupByPath"));
    assert!(conn.storage_pool_events().is_err());
    assert!(conn.storage_driver().is_none());
}

#[tokio::test]
async fn with_storage_keeps_the_other_drivers() {
    let base = fake_connect(true);
    let conn = base.clone().with_storage(Arc::new(Fake::default()));
    assert!(conn.storage_driver().is_some());
    assert!(conn.is_read_only());
    assert_eq!(conn.uri(), base.uri());
    assert!(Arc::ptr_eq(conn.driver(), base.driver()));
    assert!(!conn.same_connection(&base));
}

#[tokio::test]
async fn pool_calls_reach_the_driver_with_their_flags() {
    let (conn, fake) = with_storage(false);
    let pools = conn.list_all_storage_pools(2).await.unwrap();
    assert_eq!(pools.len(), 1);
    let pool = &pools[0];
    assert_eq!(pool.name(), "images");
    assert_eq!(pool.uuid_string(), "07070707-0707-0707-0707-070707070707");
    pool.build(storage_flags::build::OVERWRITE).await.unwrap();
    pool.create(storage_flags::create::WITH_BUILD)
        .await
        .unwrap();
    pool.refresh(0).await.unwrap();
    pool.set_autostart(false).await.unwrap();
    pool.destroy().await.unwrap();
    pool.delete(storage_flags::delete::ZEROED).await.unwrap();
    pool.undefine().await.unwrap();
    assert_eq!(
        fake.calls(),
        [
            "list_all_pools 2",
            "pool_build images 8",
            "pool_create images 1",
            "pool_refresh images 0",
            "pool_set_autostart false",
            "pool_destroy images",
            "pool_delete images 1",
            "pool_undefine images",
        ]
    );
    let info = pool.info().await.unwrap();
    assert_eq!(
        (info.state, info.capacity, info.available),
        (PoolState::Running, 100, 60)
    );
    assert_eq!(pool.xml_desc(1).await.unwrap(), "<pool flags='1'/>");
    assert!(pool.autostart().await.unwrap());
    assert!(pool.is_active().await.unwrap());
    assert!(!pool.is_persistent().await.unwrap());
    assert_eq!(pool.num_of_volumes().await.unwrap(), 2);
}

#[tokio::test]
async fn lookups_and_definitions() {
    let (conn, fake) = with_storage(false);
    let err = conn.lookup_storage_pool_by_name("nope").await.unwrap_err();
    assert_eq!(err.code, ErrorCode::NoStoragePool);
    let err = conn
        .lookup_storage_pool_by_uuid_string("not-a-uuid")
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidArg);
    let pool = conn
        .lookup_storage_pool_by_uuid_string("07070707-0707-0707-0707-070707070707")
        .await
        .unwrap();
    assert_eq!(pool.name(), "images");
    conn.lookup_storage_pool_by_target_path("/var/lib/images")
        .await
        .unwrap();
    let vol = conn.storage_vol_lookup_by_key("k").await.unwrap();
    assert_eq!(vol.key(), "/var/lib/images/a.img");
    conn.storage_vol_lookup_by_path("/p").await.unwrap();
    conn.storage_pool_define_xml("<pool/>", 1).await.unwrap();
    conn.storage_pool_create_xml("<pool/>", 0).await.unwrap();
    let xml = conn
        .find_storage_pool_sources("logical", Some("<source/>"), 0)
        .await
        .unwrap();
    assert_eq!(xml, "<sources>\n</sources>\n");
    assert_eq!(vol.pool().await.unwrap().name(), "images");
    assert_eq!(
        fake.calls(),
        [
            "pool_lookup_by_name nope",
            "pool_lookup_by_uuid 07070707-0707-0707-0707-070707070707",
            "pool_lookup_by_target_path /var/lib/images",
            "vol_lookup_by_key k",
            "vol_lookup_by_path /p",
            "pool_define_xml 1",
            "pool_create_xml 0",
            "find_pool_sources logical Some(\"<source/>\") 0",
            "pool_lookup_by_volume a.img",
        ]
    );
}

#[tokio::test]
async fn volume_calls_reach_the_driver() {
    let (conn, fake) = with_storage(false);
    let pool = conn.lookup_storage_pool_by_name("images").await.unwrap();
    let vols = pool.list_all_volumes(0).await.unwrap();
    let names: Vec<&str> = vols.iter().map(|v| v.name()).collect();
    assert_eq!(names, ["a.img", "b.img"]);
    assert_eq!(vols[0].pool_name(), "images");
    let err = pool.list_all_volumes(1).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidArg);
    let vol = pool.lookup_volume_by_name("a.img").await.unwrap();
    let made = pool.create_volume_xml("<volume/>", 1).await.unwrap();
    assert_eq!(made.name(), "new.img");
    let copy = pool
        .create_volume_xml_from("<volume/>", &vol, 2)
        .await
        .unwrap();
    assert_eq!(copy.name(), "copy.img");
    vol.resize(4096, storage_flags::resize::DELTA)
        .await
        .unwrap();
    vol.wipe(0).await.unwrap();
    vol.wipe_pattern(8, 0).await.unwrap();
    vol.delete(0).await.unwrap();
    assert_eq!(vol.info(0).await.unwrap().allocation, 512);
    assert_eq!(vol.info(1).await.unwrap().allocation, 1024);
    assert_eq!(vol.path().await.unwrap(), "/var/lib/images/a.img");
    assert_eq!(
        vol.xml_desc(0).await.unwrap(),
        "<volume><name>a.img</name></volume>"
    );
    let mut down = vol.download(1, 2, 1).await.unwrap();
    assert_eq!(
        down.chunks.recv().await.unwrap().unwrap(),
        Chunk::Data(b"abc".to_vec())
    );
    assert_eq!(down.chunks.recv().await.unwrap().unwrap(), Chunk::Hole(5));
    let up = vol.upload(3, 4, 0).await.unwrap();
    up.chunks.send(Chunk::Data(b"wxyz".to_vec())).await.unwrap();
    drop(up.chunks);
    up.done.await.unwrap().unwrap();
    assert_eq!(
        fake.calls()[1..],
        [
            "vol_create_xml images 1",
            "vol_create_xml_from a.img 2",
            "vol_resize a.img 4096 2",
            "vol_wipe a.img 0 0",
            "vol_wipe a.img 8 0",
            "vol_delete a.img 0",
            "vol_download 1 2 1",
            "vol_upload 3 4 0",
        ]
    );
}

#[tokio::test]
async fn read_only_connections_refuse_changes_before_the_driver() {
    let (conn, fake) = with_storage(true);
    let pool = conn.lookup_storage_pool_by_name("images").await.unwrap();
    let vol = pool.lookup_volume_by_name("a.img").await.unwrap();
    let denied = |e: VirError, function: &str| {
        assert_eq!(e.code, ErrorCode::OperationDenied);
        assert_eq!(e.domain, ErrorDomain::Storage);
        assert_eq!(
            e.message,
            format!("operation forbidden: read only access prevents {function}")
        );
    };
    denied(pool.create(0).await.unwrap_err(), "virStoragePoolCreate");
    denied(pool.build(0).await.unwrap_err(), "virStoragePoolBuild");
    denied(pool.destroy().await.unwrap_err(), "virStoragePoolDestroy");
    denied(pool.undefine().await.unwrap_err(), "virStoragePoolUndefine");
    denied(
        pool.set_autostart(true).await.unwrap_err(),
        "virStoragePoolSetAutostart",
    );
    denied(
        conn.storage_pool_define_xml("<pool/>", 0)
            .await
            .unwrap_err(),
        "virStoragePoolDefineXML",
    );
    denied(vol.delete(0).await.unwrap_err(), "virStorageVolDelete");
    denied(vol.wipe(0).await.unwrap_err(), "virStorageVolWipe");
    denied(
        vol.download(0, 0, 0).await.map(drop).unwrap_err(),
        "virStorageVolDownload",
    );
    denied(
        vol.upload(0, 0, 0).await.map(drop).unwrap_err(),
        "virStorageVolUpload",
    );
    // reads still work
    assert!(pool.is_active().await.unwrap());
    assert_eq!(vol.info(0).await.unwrap().capacity, 1024);
    assert_eq!(fake.calls(), ["pool_lookup_by_name images"]);
}

#[tokio::test]
async fn pool_events_come_through_the_stream() {
    let (conn, _fake) = with_storage(false);
    let mut events = conn.storage_pool_events().unwrap();
    assert!(events.try_next().is_none());
    conn.storage_pool_define_xml("<pool/>", 0).await.unwrap();
    let pool = conn.lookup_storage_pool_by_name("images").await.unwrap();
    pool.refresh(0).await.unwrap();
    let first = events.next().await.unwrap();
    assert_eq!(first.pool.name, "images");
    assert_eq!(first.what, PoolEventWhat::Lifecycle(PoolEventKind::Defined));
    assert_eq!(events.next().await.unwrap().what, PoolEventWhat::Refresh);
}
