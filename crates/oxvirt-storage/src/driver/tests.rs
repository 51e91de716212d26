//! The driver's pool bookkeeping on scratch directories with the `dir` backend: libvirt's
//! checks and messages, events, persistence across a reopen, autostart, transient pools.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::api::{PoolEventWhat, StorageDriver};

/// `root/{state,run,pools}`, removed on drop.
struct Scratch {
    root: PathBuf,
}

impl Scratch {
    fn new() -> Scratch {
        static N: AtomicUsize = AtomicUsize::new(0);
        let root = std::env::temp_dir().join(format!(
            "oxvirt-pooldrv-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("pools")).expect("scratch");
        Scratch { root }
    }

    fn config(&self) -> StorageConfig {
        StorageConfig::under(&self.root.join("state"), &self.root.join("run"))
    }

    fn target(&self, name: &str) -> String {
        self.root.join("pools").join(name).display().to_string()
    }

    fn dir_xml(&self, name: &str) -> String {
        format!(
            "<pool type='dir'><name>{name}</name><target><path>{}</path></target></pool>",
            self.target(name)
        )
    }

    async fn open(&self) -> PoolDriver {
        PoolDriver::open(self.config()).await.expect("open driver")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn lifecycle(rx: &mut PoolEventReceiver) -> Vec<(String, PoolEventWhat)> {
    let mut out = Vec::new();
    while let Ok(e) = rx.try_recv() {
        out.push((e.pool.name, e.what));
    }
    out
}

fn life(name: &str, k: PoolEventKind) -> (String, PoolEventWhat) {
    (name.to_string(), PoolEventWhat::Lifecycle(k))
}

#[tokio::test]
async fn pool_lifecycle_events_and_messages() {
    let s = Scratch::new();
    let drv = s.open().await;
    let mut rx = drv.subscribe();
    let p = drv
        .pool_define_xml(&s.dir_xml("p1"), 0)
        .await
        .expect("define");
    assert!(!drv.pool_is_active(&p).await.expect("active"));
    assert!(drv.pool_is_persistent(&p).await.expect("persistent"));
    assert_eq!(drv.pool_lookup_by_name("p1").await.expect("by name"), p);
    assert_eq!(drv.pool_lookup_by_uuid(&p.uuid).await.expect("uuid"), p);

    let e = drv.pool_list_volumes(&p).await.expect_err("not active");
    assert_eq!(e.code, ErrorCode::OperationInvalid);
    assert_eq!(
        e.message,
        "Requested operation is not valid: storage pool 'p1' is not active"
    );
    let e = drv.pool_create(&p, 0).await.expect_err("no directory yet");
    assert!(e.message.contains("cannot open directory"), "{}", e.message);
    drv.pool_build(&p, 0).await.expect("build");
    assert!(std::path::Path::new(&s.target("p1")).is_dir());
    drv.pool_create(&p, 0).await.expect("start");
    let e = drv.pool_create(&p, 0).await.expect_err("twice");
    assert_eq!(
        e.message,
        "Requested operation is not valid: storage pool 'p1' is already active"
    );
    let e = drv.pool_build(&p, 0).await.expect_err("build while active");
    assert_eq!(e.code, ErrorCode::OperationInvalid);
    let info = drv.pool_info(&p).await.expect("info");
    assert_eq!(info.state, PoolState::Running);
    assert!(info.capacity > 0 && info.available > 0);
    let xml = drv.pool_xml_desc(&p, 0).await.expect("xml");
    assert!(
        xml.contains(&format!(
            "<capacity unit='bytes'>{}</capacity>",
            info.capacity
        )),
        "{xml}"
    );
    assert!(xml.contains("<mode>0711</mode>"), "{xml}");
    let inactive = drv
        .pool_xml_desc(&p, flags::xml::INACTIVE)
        .await
        .expect("xml");
    assert!(inactive.contains("<name>p1</name>"));
    drv.pool_refresh(&p, 0).await.expect("refresh");
    let e = drv.pool_undefine(&p).await.expect_err("active");
    assert_eq!(
        e.message,
        "Requested operation is not valid: storage pool 'p1' is still active"
    );
    let e = drv.pool_delete(&p, 0).await.expect_err("active");
    assert_eq!(e.code, ErrorCode::OperationInvalid);
    drv.pool_destroy(&p).await.expect("destroy");
    let e = drv.pool_destroy(&p).await.expect_err("twice");
    assert_eq!(
        e.message,
        "Requested operation is not valid: storage pool 'p1' is not active"
    );
    assert_eq!(
        drv.pool_info(&p).await.expect("info").state,
        PoolState::Inactive
    );
    drv.pool_delete(&p, 0).await.expect("delete");
    assert!(!std::path::Path::new(&s.target("p1")).exists());
    drv.pool_undefine(&p).await.expect("undefine");
    let e = drv.pool_lookup_by_name("p1").await.expect_err("gone");
    assert_eq!(e.code, ErrorCode::NoStoragePool);
    assert_eq!(
        e.message,
        "Storage pool not found: no storage pool with matching name 'p1'"
    );
    let e = drv.pool_info(&p).await.expect_err("gone");
    assert_eq!(e.code, ErrorCode::NoStoragePool);
    assert_eq!(
        lifecycle(&mut rx),
        vec![
            life("p1", PoolEventKind::Defined),
            life("p1", PoolEventKind::Created),
            life("p1", PoolEventKind::Started),
            ("p1".to_string(), PoolEventWhat::Refresh),
            life("p1", PoolEventKind::Stopped),
            life("p1", PoolEventKind::Deleted),
            life("p1", PoolEventKind::Undefined),
        ]
    );
}

#[tokio::test]
async fn duplicates_and_conflicts() {
    let s = Scratch::new();
    let drv = s.open().await;
    let p = drv
        .pool_define_xml(&s.dir_xml("a"), 0)
        .await
        .expect("define");
    // Redefining the same pool is allowed.
    drv.pool_define_xml(
        &s.dir_xml("a").replace(
            "<name>a</name>",
            &format!("<name>a</name><uuid>{}</uuid>", p.uuid),
        ),
        0,
    )
    .await
    .expect("redefine");
    let same_uuid = format!(
        "<pool type='dir'><name>b</name><uuid>{}</uuid><target><path>/x/b</path></target></pool>",
        p.uuid
    );
    let e = drv.pool_define_xml(&same_uuid, 0).await.expect_err("uuid");
    assert_eq!(e.code, ErrorCode::OperationFailed);
    assert_eq!(
        e.message,
        format!(
            "operation failed: pool 'a' is already defined with uuid {}",
            p.uuid
        )
    );
    let e = drv
        .pool_define_xml(
            "<pool type='dir'><name>a</name><target><path>/x/a2</path></target></pool>",
            0,
        )
        .await
        .expect_err("name");
    assert_eq!(
        e.message,
        format!(
            "operation failed: pool 'a' already exists with uuid {}",
            p.uuid
        )
    );
    let conflict = format!(
        "<pool type='dir'><name>c</name><target><path>{}</path></target></pool>",
        s.target("a")
    );
    let e = drv.pool_define_xml(&conflict, 0).await.expect_err("source");
    assert_eq!(
        e.message,
        "operation failed: Storage source conflict with pool: 'a'"
    );
    let e = drv.pool_create_xml(&conflict, 0).await.expect_err("source");
    assert_eq!(e.code, ErrorCode::OperationFailed);
    // Device pools of different types conflict on a shared device.
    drv.pool_define_xml(
        "<pool type='fs'><name>f</name><source><device path='/dev/oxvirt-none'/></source><target><path>/x/f</path></target></pool>",
        0,
    )
    .await
    .expect("fs");
    let e = drv
        .pool_define_xml(
            "<pool type='logical'><name>vg</name><source><device path='/dev/oxvirt-none'/><name>vg</name></source><target><path>/dev/vg</path></target></pool>",
            0,
        )
        .await
        .expect_err("device");
    assert_eq!(
        e.message,
        "operation failed: Storage source conflict with pool: 'f'"
    );
}

#[tokio::test]
async fn missing_backend() {
    let s = Scratch::new();
    let drv = s.open().await;
    // No backend for zfs pools: refused at define time, as libvirt 9.0 does.
    let xml = "<pool type='zfs'><name>z0</name><source><name>tank</name></source></pool>";
    let e = drv.pool_define_xml(xml, 0).await.expect_err("no backend");
    assert_eq!(e.code, ErrorCode::InternalError);
    assert_eq!(
        e.message,
        "internal error: missing backend for pool type 12 (zfs)"
    );
    assert!(drv.pool_lookup_by_name("z0").await.is_err());
    assert!(drv.list_all_pools(0).await.unwrap().is_empty());
    let e = drv
        .pool_create_xml(&xml.replace("z0", "z1").replace("tank", "tank1"), 0)
        .await
        .expect_err("no backend");
    assert_eq!(e.code, ErrorCode::InternalError);
    assert!(drv.pool_lookup_by_name("z1").await.is_err());
}

#[tokio::test]
async fn transient_pools() {
    let s = Scratch::new();
    let drv = s.open().await;
    let mut rx = drv.subscribe();
    let p = drv
        .pool_create_xml(&s.dir_xml("t"), flags::create::WITH_BUILD)
        .await
        .expect("create");
    assert!(drv.pool_is_active(&p).await.expect("active"));
    assert!(!drv.pool_is_persistent(&p).await.expect("persistent"));
    assert!(s.root.join("run/storage/t.xml").is_file());
    assert!(!s.root.join("state/storage/t.xml").exists());
    // A transient pool that fails to start leaves nothing behind.
    std::fs::write(s.root.join("pools/file"), b"").expect("file");
    let bad = format!(
        "<pool type='dir'><name>bad</name><target><path>{}/file/sub</path></target></pool>",
        s.root.join("pools").display()
    );
    assert!(drv
        .pool_create_xml(&bad, flags::create::WITH_BUILD)
        .await
        .is_err());
    assert!(drv.pool_lookup_by_name("bad").await.is_err());
    assert!(!s.root.join("run/storage/bad.xml").exists());
    let e = drv
        .pool_set_autostart(&p, true)
        .await
        .expect_err("transient");
    assert_eq!(e.message, "internal error: pool has no config file");
    let e = drv
        .pool_create_xml(
            &s.dir_xml("t2"),
            flags::create::WITH_BUILD_OVERWRITE | flags::create::WITH_BUILD_NO_OVERWRITE,
        )
        .await
        .expect_err("exclusive");
    assert_eq!(e.code, ErrorCode::InvalidArg);
    // A restart keeps the transient pool running.
    drop(drv);
    let drv = s.open().await;
    assert!(drv.pool_is_active(&p).await.expect("still there"));
    drv.pool_destroy(&p).await.expect("destroy");
    assert_eq!(
        drv.pool_lookup_by_name("t").await.expect_err("gone").code,
        ErrorCode::NoStoragePool
    );
    assert!(!s.root.join("run/storage/t.xml").exists());
    assert_eq!(
        lifecycle(&mut rx),
        vec![life("t", PoolEventKind::Started)],
        "the first driver's events"
    );
}

#[tokio::test]
async fn restart_keeps_state_and_autostarts() {
    let s = Scratch::new();
    let drv = s.open().await;
    let a = drv.pool_define_xml(&s.dir_xml("a"), 0).await.expect("a");
    let b = drv.pool_define_xml(&s.dir_xml("b"), 0).await.expect("b");
    let c = drv.pool_define_xml(&s.dir_xml("c"), 0).await.expect("c");
    for p in [&a, &b, &c] {
        drv.pool_build(p, 0).await.expect("build");
    }
    drv.pool_create(&a, 0).await.expect("start a");
    drv.pool_set_autostart(&b, true).await.expect("autostart b");
    assert!(drv.pool_autostart(&b).await.expect("autostart"));
    std::fs::write(format!("{}/disk.img", s.target("a")), b"x").expect("file");
    drv.pool_refresh(&a, 0).await.expect("refresh");
    assert_eq!(drv.running_count().await, 1);
    drop(drv);

    let drv = s.open().await;
    assert!(drv.startup_errors().is_empty());
    assert_eq!(drv.pool_count().await, 3);
    assert_eq!(
        drv.running_count().await,
        2,
        "a kept running, b autostarted"
    );
    assert!(drv.pool_is_active(&a).await.expect("a"));
    assert!(drv.pool_is_active(&b).await.expect("b"));
    assert!(!drv.pool_is_active(&c).await.expect("c"));
    assert!(drv.pool_autostart(&b).await.expect("b autostart"));
    let vols = drv.pool_list_volumes(&a).await.expect("vols");
    assert_eq!(vols.len(), 1);
    assert_eq!(vols[0].name, "disk.img");
    assert_eq!(vols[0].key, format!("{}/disk.img", s.target("a")));

    // A running pool whose directory vanished is not running after a restart.
    drv.pool_destroy(&b).await.expect("destroy b");
    drv.pool_set_autostart(&b, false)
        .await
        .expect("no autostart");
    drop(drv);
    std::fs::remove_dir_all(s.target("a")).expect("rm a");
    let drv = s.open().await;
    assert!(!drv.pool_is_active(&a).await.expect("a"));
    assert!(!drv.pool_is_active(&b).await.expect("b"));
    assert_eq!(drv.running_count().await, 0);
    assert!(
        drv.startup_errors().is_empty(),
        "a stopped pool is no error"
    );
    assert!(!s.root.join("run/storage/a.xml").exists());
}

#[tokio::test]
async fn list_filters() {
    let s = Scratch::new();
    let drv = s.open().await;
    let a = drv.pool_define_xml(&s.dir_xml("a"), 0).await.expect("a");
    drv.pool_build(&a, 0).await.expect("build");
    drv.pool_create(&a, 0).await.expect("start");
    drv.pool_define_xml(&s.dir_xml("b"), 0).await.expect("b");
    drv.pool_create_xml(&s.dir_xml("t"), flags::create::WITH_BUILD)
        .await
        .expect("t");
    let names = |v: Vec<PoolRef>| v.into_iter().map(|p| p.name).collect::<Vec<_>>();
    use flags::list::*;
    assert_eq!(
        names(drv.list_all_pools(0).await.expect("all")),
        ["a", "b", "t"]
    );
    assert_eq!(
        names(drv.list_all_pools(ACTIVE).await.expect("")),
        ["a", "t"]
    );
    assert_eq!(names(drv.list_all_pools(INACTIVE).await.expect("")), ["b"]);
    assert_eq!(names(drv.list_all_pools(TRANSIENT).await.expect("")), ["t"]);
    assert_eq!(
        names(drv.list_all_pools(PERSISTENT | ACTIVE).await.expect("")),
        ["a"]
    );
    assert_eq!(names(drv.list_all_pools(DIR).await.expect("")).len(), 3);
    assert!(names(drv.list_all_pools(DIR << 3).await.expect("")).is_empty());
    assert!(names(drv.list_all_pools(AUTOSTART).await.expect("")).is_empty());
    assert!(drv.list_all_pools(1 << 25).await.is_err());
    assert_eq!(
        drv.pool_lookup_by_target_path(&format!("{}//", s.target("a")))
            .await
            .expect("by path"),
        a
    );
}

#[tokio::test]
async fn refresh_failure_stops_the_pool() {
    let s = Scratch::new();
    let drv = s.open().await;
    let mut rx = drv.subscribe();
    let p = drv
        .pool_create_xml(&s.dir_xml("r"), flags::create::WITH_BUILD)
        .await
        .expect("create");
    std::fs::remove_dir(s.target("r")).expect("rmdir");
    let e = drv.pool_refresh(&p, 0).await.expect_err("gone");
    assert_eq!(e.code, ErrorCode::SystemError);
    assert_eq!(
        drv.pool_lookup_by_name("r")
            .await
            .expect_err("transient")
            .code,
        ErrorCode::NoStoragePool
    );
    assert_eq!(
        lifecycle(&mut rx),
        vec![
            life("r", PoolEventKind::Started),
            life("r", PoolEventKind::Stopped)
        ]
    );
    assert!(!s.root.join("run/storage/r.xml").exists());
}

#[tokio::test]
async fn source_discovery_and_lookups() {
    let s = Scratch::new();
    let drv = s.open().await;
    let e = drv
        .find_pool_sources("dir", None, 0)
        .await
        .expect_err("dir");
    assert_eq!(e.code, ErrorCode::NoSupport);
    assert!(
        e.message
            .ends_with("pool type 'dir' does not support source discovery"),
        "{}",
        e.message
    );
    let e = drv
        .find_pool_sources("nope", None, 0)
        .await
        .expect_err("type");
    assert_eq!(e.message, "internal error: unknown storage pool type nope");
    let e = drv
        .pool_lookup_by_target_path("/no//where/")
        .await
        .expect_err("path");
    assert_eq!(
        e.message,
        "Storage pool not found: no storage pool with matching target path '/no//where/' (/no/where)"
    );
    let e = drv.vol_lookup_by_path("/no/where").await.expect_err("vol");
    assert_eq!(e.code, ErrorCode::NoStorageVol);
    assert_eq!(
        e.message,
        "Storage volume not found: no storage vol with matching path '/no/where'"
    );
    let e = drv.vol_lookup_by_key("/k").await.expect_err("key");
    assert_eq!(
        e.message,
        "Storage volume not found: no storage vol with matching key /k"
    );
}

#[tokio::test]
async fn autostart_failure_is_reported() {
    let s = Scratch::new();
    let drv = s.open().await;
    let p = drv
        .pool_define_xml(&s.dir_xml("a"), 0)
        .await
        .expect("define");
    drv.pool_set_autostart(&p, true).await.expect("autostart");
    drop(drv);
    // Never built: the directory does not exist.
    let drv = s.open().await;
    let errors = drv.startup_errors();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].0, "a");
    assert_eq!(drv.running_count().await, 0);
    assert!(drv.pool_autostart(&p).await.expect("still marked"));
}

#[tokio::test]
async fn redefining_a_running_pool() {
    let s = Scratch::new();
    let drv = s.open().await;
    let p = drv
        .pool_define_xml(&s.dir_xml("a"), 0)
        .await
        .expect("define");
    drv.pool_create(&p, flags::create::WITH_BUILD)
        .await
        .expect("start");
    let redefined = format!(
        "<pool type='dir'><name>a</name><uuid>{}</uuid><target><path>{}</path><permissions><mode>0750</mode></permissions></target></pool>",
        p.uuid,
        s.target("a")
    );
    drv.pool_define_xml(&redefined, 0).await.expect("redefine");
    let inactive = drv
        .pool_xml_desc(&p, flags::xml::INACTIVE)
        .await
        .expect("xml");
    assert!(inactive.contains("<mode>0750</mode>"), "{inactive}");
    let live = drv.pool_xml_desc(&p, 0).await.expect("xml");
    assert!(live.contains("<mode>0711</mode>"), "{live}");
    let e = drv
        .pool_create_xml(&redefined, 0)
        .await
        .expect_err("running");
    assert_eq!(
        e.message,
        "Requested operation is not valid: pool is already active as 'a'"
    );
    // The new definition applies once the pool stops, and survives a restart.
    drv.pool_destroy(&p).await.expect("destroy");
    let xml = drv.pool_xml_desc(&p, 0).await.expect("xml");
    assert!(xml.contains("<mode>0750</mode>"), "{xml}");
    drop(drv);
    let drv = s.open().await;
    let xml = drv.pool_xml_desc(&p, 0).await.expect("xml");
    assert!(xml.contains("<mode>0750</mode>"), "{xml}");
}

/// A backend that echoes the discovery spec it was given.
struct EchoSources;

impl Backend for EchoSources {
    fn pool_type(&self) -> &'static str {
        "iscsi"
    }
    fn check(&self, _: &Pool) -> Result<bool> {
        Ok(false)
    }
    fn build(&self, _: &Pool, _: u32) -> Result<()> {
        Ok(())
    }
    fn start(&self, _: &Pool) -> Result<()> {
        Ok(())
    }
    fn refresh(&self, _: &Pool) -> Result<Refreshed> {
        Ok(Refreshed::default())
    }
    fn stop(&self, _: &Pool) -> Result<()> {
        Ok(())
    }
    fn delete(&self, _: &Pool, _: u32) -> Result<()> {
        Ok(())
    }
    fn find_sources(
        &self,
        spec: Option<&crate::model::PoolSource>,
        _: u32,
    ) -> Result<Vec<crate::model::PoolSource>> {
        let mut found = spec.cloned().unwrap_or_default();
        found.devices.push(crate::model::PoolSourceDevice {
            path: "iqn.2026-01.test:t1".into(),
            part_separator: None,
            free_extents: Vec::new(),
        });
        Ok(vec![found])
    }
    fn create_volume(&self, _: &Pool, v: &Volume, _: u32) -> Result<Volume> {
        Ok(v.clone())
    }
    fn create_volume_from(&self, _: &Pool, v: &Volume, _: &Volume, _: u32) -> Result<Volume> {
        Ok(v.clone())
    }
    fn delete_volume(&self, _: &Pool, _: &Volume, _: u32) -> Result<()> {
        Ok(())
    }
    fn resize_volume(&self, _: &Pool, _: &Volume, _: u64, _: u32) -> Result<()> {
        Ok(())
    }
    fn wipe_volume(&self, _: &Pool, _: &Volume, _: u32, _: u32) -> Result<()> {
        Ok(())
    }
    fn open_read(
        &self,
        _: &Pool,
        _: &Volume,
        _: u64,
        _: u64,
    ) -> Result<Box<dyn crate::backend::VolumeRead>> {
        Err(err(ErrorCode::NoSupport, "no"))
    }
    fn open_write(
        &self,
        _: &Pool,
        _: &Volume,
        _: u64,
        _: u64,
    ) -> Result<Box<dyn crate::backend::VolumeWrite>> {
        Err(err(ErrorCode::NoSupport, "no"))
    }
}

#[tokio::test]
async fn source_discovery_spec_reaches_the_backend() {
    let s = Scratch::new();
    let drv = PoolDriver::open_with_backends(s.config(), vec![Arc::new(EchoSources)])
        .await
        .expect("open");
    let xml = drv
        .find_pool_sources(
            "iscsi",
            Some("<source><host name='192.0.2.1' port='3260'/></source>"),
            0,
        )
        .await
        .expect("sources");
    assert!(
        xml.contains("<host name='192.0.2.1' port='3260'/>"),
        "{xml}"
    );
    assert!(
        xml.contains("<device path='iqn.2026-01.test:t1'/>"),
        "{xml}"
    );
    let e = drv
        .find_pool_sources("iscsi", Some("<pool/>"), 0)
        .await
        .expect_err("root");
    assert_eq!(e.code, ErrorCode::XmlError);
    let e = drv
        .find_pool_sources("dir", None, 0)
        .await
        .expect_err("no dir backend here");
    assert_eq!(
        e.message,
        "internal error: missing backend for pool type 0 (dir)"
    );
}
