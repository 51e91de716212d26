//! The storage driver with real `dir` pools on scratch directories: volumes (raw and qcow2
//! with qemu-img, clones both ways, resize, wipe, info, XML), uploads and downloads (with
//! holes), refresh, volumes in use, and that nothing outside a pool is ever touched through
//! a volume name or a symlink. An `fs` pool on a loop device when root.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use oxvirt_domain::driver::volumes::{StorageVolumes, VolumeSource};
use oxvirt_storage::api::{flags, Chunk, PoolRef, StorageDriver, VolRef, VolType};
use oxvirt_storage::driver::{PoolDriver, StorageConfig};
use oxvirt_xml::testdata::{have, is_root, unavailable};
use oxvirt_xml::ErrorCode;

const MIB: u64 = 1 << 20;
const CANARY: &[u8] = b"canary: must never change\n";

/// `root/{state,run,pool,outside/canary}`, removed on drop.
struct Scratch {
    root: PathBuf,
}

impl Scratch {
    fn new(tag: &str) -> Scratch {
        static N: AtomicUsize = AtomicUsize::new(0);
        let root = std::env::temp_dir().join(format!(
            "oxvirt-drvdir-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(root.join("outside")).expect("outside");
        fs::write(root.join("outside/canary"), CANARY).expect("canary");
        Scratch { root }
    }

    fn pool_dir(&self) -> PathBuf {
        self.root.join("pool")
    }

    fn config(&self) -> StorageConfig {
        StorageConfig::under(&self.root.join("state"), &self.root.join("run"))
    }

    async fn driver(&self) -> PoolDriver {
        PoolDriver::open(self.config()).await.expect("open")
    }

    /// A defined, built and started `dir` pool `p`.
    async fn pool(&self, drv: &PoolDriver) -> PoolRef {
        let xml = format!(
            "<pool type='dir'><name>p</name><target><path>{}</path></target></pool>",
            self.pool_dir().display()
        );
        let p = drv.pool_define_xml(&xml, 0).await.expect("define");
        drv.pool_build(&p, 0).await.expect("build");
        drv.pool_create(&p, 0).await.expect("start");
        p
    }

    fn assert_canary(&self) {
        let c = self.root.join("outside/canary");
        assert_eq!(fs::read(&c).expect("canary"), CANARY);
        let names: Vec<_> = fs::read_dir(self.root.join("outside"))
            .expect("outside")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, ["canary"], "nothing created outside the pool");
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.root);
    }
}

fn vol_xml(name: &str, format: &str, capacity: u64) -> String {
    format!(
        "<volume><name>{name}</name><capacity unit='bytes'>{capacity}</capacity><target><format type='{format}'/></target></volume>"
    )
}

async fn download(drv: &PoolDriver, v: &VolRef, offset: u64, len: u64, fl: u32) -> Vec<Chunk> {
    let mut d = drv
        .vol_download(v, offset, len, fl)
        .await
        .expect("download");
    let mut out = Vec::new();
    while let Some(c) = d.chunks.recv().await {
        out.push(c.expect("chunk"));
    }
    out
}

fn flatten(chunks: &[Chunk]) -> Vec<u8> {
    let mut out = Vec::new();
    for c in chunks {
        match c {
            Chunk::Data(d) => {
                assert!(d.len() <= 262_120, "chunk of {} bytes", d.len());
                out.extend_from_slice(d);
            }
            Chunk::Hole(n) => out.resize(out.len() + *n as usize, 0),
        }
    }
    out
}

async fn upload(drv: &PoolDriver, v: &VolRef, offset: u64, chunks: Vec<Chunk>, fl: u32) {
    let up = drv.vol_upload(v, offset, 0, fl).await.expect("upload");
    for c in chunks {
        up.chunks.send(c).await.expect("send");
    }
    drop(up.chunks);
    up.done.await.expect("done").expect("upload ok");
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8 + 1).collect()
}

#[tokio::test]
async fn volumes_raw_and_qcow2() {
    if !have("qemu-img") {
        return unavailable("volumes_raw_and_qcow2", "qemu-img is not installed");
    }
    let s = Scratch::new("vols");
    let drv = s.driver().await;
    let p = s.pool(&drv).await;

    let raw = drv
        .vol_create_xml(&p, &vol_xml("a.img", "raw", 4 * MIB), 0)
        .await
        .expect("raw");
    let path = s.pool_dir().join("a.img").display().to_string();
    assert_eq!(raw.key, path);
    assert_eq!(drv.vol_path(&raw).await.expect("path"), path);
    let meta = fs::metadata(&path).expect("file");
    assert_eq!(meta.len(), 4 * MIB);
    assert_eq!(meta.mode() & 0o777, 0o600);
    assert!(
        meta.blocks() * 512 >= 4 * MIB,
        "raw without <allocation> is allocated in full, as libvirt"
    );
    let sparse = drv
        .vol_create_xml(
            &p,
            "<volume><name>sp.img</name><capacity>4194304</capacity><allocation>0</allocation></volume>",
            0,
        )
        .await
        .expect("sparse");
    let meta = fs::metadata(s.pool_dir().join("sp.img")).expect("file");
    assert_eq!(meta.len(), 4 * MIB);
    assert!(meta.blocks() * 512 < MIB, "<allocation>0 is sparse");
    let sx = drv.vol_xml_desc(&sparse, 0).await.expect("xml");
    for want in [
        "<volume type='file'>",
        "<allocation unit='bytes'>0</allocation>",
        "<physical unit='bytes'>4194304</physical>",
        "<mode>0600</mode>",
        "<btime>0</btime>",
    ] {
        assert!(sx.contains(want), "{want} in {sx}");
    }
    drv.vol_delete(&sparse, 0).await.expect("delete");
    let info = drv.vol_info(&raw, 0).await.expect("info");
    assert_eq!(info.kind, VolType::File);
    assert_eq!(info.capacity, 4 * MIB);
    let phys = drv
        .vol_info(&raw, flags::vol_info::GET_PHYSICAL)
        .await
        .expect("physical");
    assert_eq!(phys.allocation, 4 * MIB);
    let e = drv
        .vol_create_xml(&p, &vol_xml("a.img", "raw", MIB), 0)
        .await
        .expect_err("exists");
    assert_eq!(e.code, ErrorCode::StorageVolExist);
    assert_eq!(e.message, "storage volume 'a.img' exists already");

    let q = drv
        .vol_create_xml(&p, &vol_xml("b.qcow2", "qcow2", 8 * MIB), 0)
        .await
        .expect("qcow2");
    let xml = drv.vol_xml_desc(&q, 0).await.expect("xml");
    assert!(xml.contains("<format type='qcow2'/>"), "{xml}");
    assert!(xml.contains(&format!("<capacity unit='bytes'>{}</capacity>", 8 * MIB)));
    assert_eq!(drv.vol_info(&q, 0).await.expect("info").capacity, 8 * MIB);

    // A qcow2 overlay on the raw volume, its size from the backing store.
    let overlay = format!(
        "<volume><name>o.qcow2</name><target><format type='qcow2'/></target><backingStore><path>{path}</path><format type='raw'/></backingStore></volume>"
    );
    let o = drv.vol_create_xml(&p, &overlay, 0).await.expect("overlay");
    assert_eq!(drv.vol_info(&o, 0).await.expect("info").capacity, 4 * MIB);
    let ox = drv.vol_xml_desc(&o, 0).await.expect("xml");
    assert!(ox.contains("<backingStore>"), "{ox}");
    assert!(ox.contains(&format!("<path>{path}</path>")), "{ox}");
    let backing = &ox[ox.find("<backingStore>").expect("backing")..];
    assert!(backing.contains("<format type='raw'/>"), "{ox}");
    assert!(backing.contains("<mode>0600</mode>"), "{ox}");
    drv.vol_delete(&o, 0).await.expect("delete overlay");

    // Clones raw -> qcow2 -> raw keep the content.
    let data = pattern(100_000);
    upload(&drv, &raw, MIB, vec![Chunk::Data(data.clone())], 0).await;
    let c1 = drv
        .vol_create_xml_from(&p, &vol_xml("c1.qcow2", "qcow2", 0), &raw, 0)
        .await
        .expect("clone to qcow2");
    let c1x = drv.vol_xml_desc(&c1, 0).await.expect("xml");
    assert!(c1x.contains("<format type='qcow2'/>"), "{c1x}");
    assert_eq!(drv.vol_info(&c1, 0).await.expect("info").capacity, 4 * MIB);
    let c2 = drv
        .vol_create_xml_from(&p, &vol_xml("c2.img", "raw", 0), &c1, 0)
        .await
        .expect("clone to raw");
    let back = fs::read(s.pool_dir().join("c2.img")).expect("read");
    assert_eq!(back.len() as u64, 4 * MIB);
    assert_eq!(&back[MIB as usize..MIB as usize + data.len()], &data[..]);
    let e = drv
        .vol_create_xml_from(&p, &vol_xml("c2.img", "raw", 0), &c1, 0)
        .await
        .expect_err("name in use");
    assert_eq!(
        e.message,
        "internal error: storage volume name 'c2.img' already in use."
    );
    let e = drv
        .vol_create_xml_from(
            &p,
            &vol_xml("c3.img", "raw", 0),
            &VolRef {
                pool: "p".into(),
                name: "nope".into(),
                key: String::new(),
            },
            0,
        )
        .await
        .expect_err("no source");
    assert_eq!(e.code, ErrorCode::NoStorageVol);

    // Resize: grow, refuse a shrink without the flag, shrink with it, delta.
    drv.vol_resize(&c2, 6 * MIB, 0).await.expect("grow");
    assert_eq!(drv.vol_info(&c2, 0).await.expect("i").capacity, 6 * MIB);
    let e = drv.vol_resize(&c2, 5 * MIB, 0).await.expect_err("shrink");
    assert_eq!(e.code, ErrorCode::InvalidArg);
    assert_eq!(
        e.message,
        "invalid argument: Can't shrink capacity below current capacity unless shrink flag explicitly specified"
    );
    drv.vol_resize(&c2, 5 * MIB, flags::resize::SHRINK)
        .await
        .expect("shrink");
    assert_eq!(drv.vol_info(&c2, 0).await.expect("i").capacity, 5 * MIB);
    drv.vol_resize(&c2, MIB, flags::resize::DELTA)
        .await
        .expect("delta");
    assert_eq!(drv.vol_info(&c2, 0).await.expect("i").capacity, 6 * MIB);
    drv.vol_resize(&q, 16 * MIB, 0).await.expect("qcow2 grow");
    assert_eq!(drv.vol_info(&q, 0).await.expect("i").capacity, 16 * MIB);
    let e = drv
        .vol_resize(&c2, u64::MAX / 2, flags::resize::ALLOCATE)
        .await
        .expect_err("no space");
    assert_eq!(
        e.message,
        "operation failed: Not enough space left in storage pool"
    );

    // Wipe zeroes the content, keeps the size.
    drv.vol_wipe(&c2, 0, 0).await.expect("wipe");
    let wiped = fs::read(s.pool_dir().join("c2.img")).expect("read");
    assert_eq!(wiped.len() as u64, 6 * MIB);
    assert!(wiped.iter().all(|b| *b == 0));
    let e = drv.vol_wipe(&c2, 42, 0).await.expect_err("algorithm");
    assert_eq!(e.code, ErrorCode::InvalidArg);
    assert_eq!(
        e.message,
        "invalid argument: wiping algorithm 42 not supported"
    );
    let e = drv.vol_wipe(&c2, 9, 0).await.expect_err("trim");
    assert_eq!(
        e.message,
        "argument unsupported: 'trim' algorithm not supported"
    );
    if !have("scrub") {
        let e = drv.vol_wipe(&c2, 6, 0).await.expect_err("no scrub");
        assert_eq!(
            e.message,
            "Cannot find 'scrub' in path: No such file or directory"
        );
    }

    // Delete.
    let names = |v: Vec<VolRef>| v.into_iter().map(|v| v.name).collect::<Vec<_>>();
    assert_eq!(
        names(drv.pool_list_volumes(&p).await.expect("list")),
        ["a.img", "b.qcow2", "c1.qcow2", "c2.img"]
    );
    drv.vol_delete(&c1, 0).await.expect("delete");
    assert!(!s.pool_dir().join("c1.qcow2").exists());
    let e = drv.vol_delete(&c1, 0).await.expect_err("gone");
    assert_eq!(e.code, ErrorCode::NoStorageVol);
    assert_eq!(
        e.message,
        "Storage volume not found: no storage vol with matching name 'c1.qcow2'"
    );
    assert_eq!(
        drv.vol_lookup_by_key(&path).await.expect("key").name,
        "a.img"
    );
    assert_eq!(
        drv.vol_lookup_by_path(&path).await.expect("path").name,
        "a.img"
    );
    assert_eq!(drv.pool_lookup_by_volume(&raw).await.expect("pool"), p);

    // A restart finds the volumes again.
    drop(drv);
    let drv = s.driver().await;
    assert_eq!(
        names(drv.pool_list_volumes(&p).await.expect("list")),
        ["a.img", "b.qcow2", "c2.img"]
    );
    drv.pool_destroy(&p).await.expect("destroy");
    let e = drv.vol_info(&raw, 0).await.expect_err("inactive");
    assert_eq!(e.code, ErrorCode::OperationInvalid);
    s.assert_canary();
}

#[tokio::test]
async fn upload_download_and_holes() {
    let s = Scratch::new("xfer");
    let drv = s.driver().await;
    let p = s.pool(&drv).await;
    let mut events = drv.subscribe();
    let v = drv
        .vol_create_xml(&p, &vol_xml("d.img", "raw", 0), 0)
        .await
        .expect("vol");
    let data = pattern(3 * 262_120 + 17);
    upload(&drv, &v, 0, vec![Chunk::Data(data.clone())], 0).await;
    assert_eq!(
        events.try_recv().expect("refresh event").what,
        oxvirt_storage::api::PoolEventWhat::Refresh
    );
    assert_eq!(
        drv.vol_info(&v, 0).await.expect("info").capacity,
        data.len() as u64,
        "the upload refreshed the volume"
    );
    let got = download(&drv, &v, 0, 0, 0).await;
    assert_eq!(flatten(&got), data);
    assert!(got.len() >= 4);
    // A range.
    let part = flatten(&download(&drv, &v, 1000, 5000, 0).await);
    assert_eq!(part, &data[1000..6000]);

    // A sparse upload leaves holes; a sparse download reports them.
    let sv = drv
        .vol_create_xml(&p, &vol_xml("s.img", "raw", 0), 0)
        .await
        .expect("vol");
    let head = pattern(64 * 1024);
    let tail = pattern(4096);
    upload(
        &drv,
        &sv,
        0,
        vec![
            Chunk::Data(head.clone()),
            Chunk::Hole(8 * MIB),
            Chunk::Data(tail.clone()),
            Chunk::Hole(MIB),
        ],
        flags::stream::SPARSE,
    )
    .await;
    let file = s.pool_dir().join("s.img");
    let meta = fs::metadata(&file).expect("meta");
    let total = head.len() as u64 + 9 * MIB + tail.len() as u64;
    assert_eq!(meta.len(), total, "a trailing hole keeps the length");
    assert!(meta.blocks() * 512 < 2 * MIB, "holes stayed holes");
    let sparse = download(&drv, &sv, 0, 0, flags::stream::SPARSE).await;
    let holes: u64 = sparse
        .iter()
        .map(|c| match c {
            Chunk::Hole(n) => *n,
            Chunk::Data(_) => 0,
        })
        .sum();
    assert!(holes >= 8 * MIB, "holes reported: {holes}");
    let flat = flatten(&sparse);
    assert_eq!(flat.len() as u64, total);
    assert_eq!(&flat[..head.len()], &head[..]);
    let t0 = head.len() + 8 * MIB as usize;
    assert_eq!(&flat[t0..t0 + tail.len()], &tail[..]);
    let dense = download(&drv, &sv, 0, 0, 0).await;
    assert!(dense.iter().all(|c| matches!(c, Chunk::Data(_))));
    assert_eq!(flatten(&dense), flat);

    // Overwriting data with a hole punches it.
    upload(&drv, &v, 0, vec![Chunk::Hole(1000)], flags::stream::SPARSE).await;
    let again = fs::read(s.pool_dir().join("d.img")).expect("read");
    assert!(again[..1000].iter().all(|b| *b == 0));
    assert_eq!(&again[1000..], &data[1000..]);

    // While an upload runs, its pool cannot be stopped nor the volume deleted.
    let up = drv.vol_upload(&v, 0, 0, 0).await.expect("upload");
    let e = drv.pool_destroy(&p).await.expect_err("jobs");
    assert_eq!(
        e.message,
        "internal error: pool 'p' has asynchronous jobs running."
    );
    let e = drv.vol_delete(&v, 0).await.expect_err("in use");
    assert_eq!(
        e.message,
        "Requested operation is not valid: volume 'd.img' is still in use."
    );
    let e = drv
        .vol_upload(&v, 0, 0, 0)
        .await
        .err()
        .expect("second upload");
    assert_eq!(
        e.message,
        "Requested operation is not valid: volume 'd.img' is still in use."
    );
    drop(up.chunks);
    up.done.await.expect("done").expect("ok");
    drv.vol_delete(&v, 0).await.expect("delete after upload");
    s.assert_canary();
}

#[tokio::test]
async fn refresh_finds_new_files() {
    let s = Scratch::new("refresh");
    let drv = s.driver().await;
    let p = s.pool(&drv).await;
    assert!(drv.pool_list_volumes(&p).await.expect("list").is_empty());
    fs::write(s.pool_dir().join("behind.img"), pattern(5000)).expect("write");
    assert!(drv.vol_lookup_by_name(&p, "behind.img").await.is_err());
    // Creating, resizing or deleting another volume reads that volume alone (as libvirt's
    // refreshVol): the file added behind the driver's back waits for a pool refresh.
    let other = drv
        .vol_create_xml(&p, &vol_xml("other.img", "raw", MIB), 0)
        .await
        .expect("create");
    drv.vol_resize(&other, 2 * MIB, 0).await.expect("resize");
    assert_eq!(
        drv.vol_info(&other, 0).await.expect("info").capacity,
        2 * MIB
    );
    let names = |vols: Vec<VolRef>| vols.into_iter().map(|v| v.name).collect::<Vec<_>>();
    assert_eq!(
        names(drv.pool_list_volumes(&p).await.expect("list")),
        ["other.img"]
    );
    drv.pool_refresh(&p, 0).await.expect("refresh");
    let v = drv
        .vol_lookup_by_name(&p, "behind.img")
        .await
        .expect("found");
    assert_eq!(drv.vol_info(&v, 0).await.expect("info").capacity, 5000);
    // A volume removed behind the driver's back is gone once it is read again.
    fs::remove_file(s.pool_dir().join("behind.img")).expect("remove");
    let e = drv.vol_info(&v, 0).await.expect_err("gone");
    assert_eq!(e.code, ErrorCode::NoStorageVol);
    drv.vol_delete(&other, 0).await.expect("delete");
    assert!(drv.pool_list_volumes(&p).await.expect("list").is_empty());
}

#[tokio::test]
async fn names_and_symlinks_never_escape() {
    let s = Scratch::new("escape");
    let drv = s.driver().await;
    let p = s.pool(&drv).await;
    let outside = s.root.join("outside/canary");
    std::os::unix::fs::symlink(&outside, s.pool_dir().join("link")).expect("symlink");
    std::os::unix::fs::symlink("../outside", s.pool_dir().join("dirlink")).expect("symlink");
    drv.pool_refresh(&p, 0).await.expect("refresh");
    let names: Vec<String> = drv
        .pool_list_volumes(&p)
        .await
        .expect("list")
        .into_iter()
        .map(|v| v.name)
        .collect();
    assert!(
        names.is_empty(),
        "escaping symlinks are not volumes: {names:?}"
    );

    let bad = [
        "../outside/canary".to_string(),
        outside.display().to_string(),
        "..".to_string(),
        "a/b".to_string(),
        "link".to_string(),
        "dirlink/canary".to_string(),
    ];
    for name in &bad {
        let e = drv
            .vol_create_xml(&p, &vol_xml(name, "raw", MIB), 0)
            .await
            .expect_err(name);
        assert_eq!(e.code, ErrorCode::OperationInvalid, "{name}: {}", e.message);
        let e = drv
            .vol_create_xml(&p, &vol_xml(name, "qcow2", MIB), 0)
            .await
            .expect_err(name);
        assert_eq!(e.code, ErrorCode::OperationInvalid, "{name}: {}", e.message);
        // Volumes the driver never listed cannot be reached by name either.
        let forged = VolRef {
            pool: "p".into(),
            name: name.clone(),
            key: String::new(),
        };
        assert_eq!(
            drv.vol_delete(&forged, 0).await.expect_err(name).code,
            ErrorCode::NoStorageVol
        );
        assert!(drv.vol_upload(&forged, 0, 0, 0).await.is_err());
        assert!(drv.vol_download(&forged, 0, 0, 0).await.is_err());
        assert!(drv.vol_wipe(&forged, 0, 0).await.is_err());
        assert!(drv.vol_resize(&forged, MIB, 0).await.is_err());
    }
    let e = drv
        .vol_create_xml(&p, &vol_xml("a/b", "raw", MIB), 0)
        .await
        .expect_err("slash");
    assert_eq!(
        e.message,
        "Requested operation is not valid: volume name 'a/b' cannot contain '/'"
    );
    // Replacing a volume by a symlink behind the driver's back: writes through the stale
    // entry are refused by the pool's directory capability.
    let v = drv
        .vol_create_xml(&p, &vol_xml("v.img", "raw", MIB), 0)
        .await
        .expect("vol");
    fs::remove_file(s.pool_dir().join("v.img")).expect("rm");
    std::os::unix::fs::symlink(&outside, s.pool_dir().join("v.img")).expect("symlink");
    assert!(drv.vol_upload(&v, 0, 0, 0).await.is_err());
    assert!(drv.vol_wipe(&v, 0, 0).await.is_err());
    assert!(drv.vol_resize(&v, 2 * MIB, 0).await.is_err());
    assert!(drv.vol_download(&v, 0, 0, 0).await.is_err());
    drv.vol_delete(&v, 0)
        .await
        .expect("delete removes the link itself");
    assert!(!s.pool_dir().join("v.img").exists());
    s.assert_canary();
}

#[tokio::test]
async fn volumes_in_use_by_domains() {
    let s = Scratch::new("inuse");
    let drv = s.driver().await;
    let p = s.pool(&drv).await;
    let v = drv
        .vol_create_xml(&p, &vol_xml("g.img", "raw", MIB), 0)
        .await
        .expect("vol");
    let r = drv.resolve("p", "g.img").await.expect("resolve");
    assert_eq!(r.source, VolumeSource::File(v.key.clone()));
    assert_eq!(r.format.as_deref(), Some("raw"));
    assert_eq!(r.key, v.key);
    assert_eq!(
        drv.resolve("nope", "g.img").await.expect_err("pool").code,
        ErrorCode::NoStoragePool
    );
    assert_eq!(
        drv.resolve("p", "nope").await.expect_err("vol").code,
        ErrorCode::NoStorageVol
    );
    // A directory in the pool is a volume, but not one a guest can use as a disk.
    std::fs::create_dir(s.pool_dir().join("sub")).expect("mkdir");
    drv.pool_refresh(&p, 0).await.expect("refresh");
    let e = drv.resolve("p", "sub").await.expect_err("a directory");
    assert_eq!(e.code, ErrorCode::ConfigUnsupported);
    assert!(e.message.contains("is a directory"), "{}", e.message);
    drv.set_in_use("guest1", vec![r.key.clone()]);
    let e = drv.vol_delete(&v, 0).await.expect_err("in use");
    assert_eq!(e.code, ErrorCode::OperationInvalid);
    assert_eq!(
        e.message,
        "Requested operation is not valid: volume 'g.img' is still in use by domain 'guest1'"
    );
    assert!(drv.vol_wipe(&v, 0, 0).await.is_err());
    // libvirt lets a volume in use grow.
    drv.vol_resize(&v, 2 * MIB, 0).await.expect("resize in use");
    drv.clear_in_use("guest1");
    drv.vol_delete(&v, 0).await.expect("delete");
    drv.pool_destroy(&p).await.expect("destroy");
    let e = drv.resolve("p", "g.img").await.expect_err("inactive");
    assert_eq!(
        e.message,
        "Requested operation is not valid: storage pool 'p' containing volume 'g.img' is not active"
    );
}

/// Detaches a loop device on drop.
struct Loop(String);

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("losetup").args(["-d", &self.0]).status();
    }
}

/// Unmounts a directory on drop (if mounted).
struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let mounts = fs::read_to_string("/proc/self/mounts").unwrap_or_default();
        let p = self.0.display().to_string();
        if mounts
            .lines()
            .any(|l| l.split_whitespace().nth(1) == Some(p.as_str()))
        {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
}

fn sh(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[tokio::test]
async fn fs_pool_on_a_loop_device() {
    if !is_root() {
        return unavailable("fs_pool_on_a_loop_device", "needs root (losetup, mount)");
    }
    for prog in ["losetup", "mkfs.ext4", "blkid", "mount", "umount"] {
        if !have(prog) {
            return unavailable("fs_pool_on_a_loop_device", &format!("{prog} missing"));
        }
    }
    let s = Scratch::new("fs");
    let image = s.root.join("disk.raw");
    fs::File::create(&image)
        .and_then(|f| f.set_len(64 * MIB))
        .expect("image");
    let dev = sh(Command::new("losetup").args(["-f", "--show"]).arg(&image));
    let _loop = Loop(dev.clone());
    let target = s.root.join("mnt");
    let _mounted = Mounted(target.clone());
    let drv = s.driver().await;
    let xml = format!(
        "<pool type='fs'><name>f</name><source><device path='{dev}'/><format type='ext4'/></source><target><path>{}</path></target></pool>",
        target.display()
    );
    let p = drv.pool_define_xml(&xml, 0).await.expect("define");
    // Without a flag, libvirt's build only makes the directory.
    drv.pool_build(&p, 0).await.expect("build the directory");
    assert!(target.is_dir());
    let probe = Command::new("blkid")
        .args(["-p", "-o", "value", "-s", "TYPE", &dev])
        .output()
        .expect("blkid");
    assert!(probe.stdout.is_empty(), "no file system made yet");
    let e = drv
        .pool_build(&p, flags::build::NO_OVERWRITE | flags::build::OVERWRITE)
        .await
        .expect_err("exclusive");
    assert_eq!(e.code, ErrorCode::InvalidArg);
    drv.pool_build(&p, flags::build::NO_OVERWRITE)
        .await
        .expect("build makes ext4");
    let e = drv
        .pool_build(&p, flags::build::NO_OVERWRITE)
        .await
        .expect_err("already formatted");
    assert_eq!(e.code, ErrorCode::StoragePoolBuilt);
    assert!(
        e.message.contains("already formatted using 'ext4'"),
        "{}",
        e.message
    );
    drv.pool_create(&p, 0).await.expect("mount");
    let mounts = fs::read_to_string("/proc/self/mounts").expect("mounts");
    assert!(
        mounts.contains(&format!(" {} ext4 ", target.display())),
        "mounted"
    );
    let v = drv
        .vol_create_xml(&p, &vol_xml("in-fs.img", "raw", 2 * MIB), 0)
        .await
        .expect("vol");
    let data = pattern(10_000);
    upload(&drv, &v, 0, vec![Chunk::Data(data.clone())], 0).await;
    assert_eq!(flatten(&download(&drv, &v, 0, 10_000, 0).await), data);
    let info = drv.pool_info(&p).await.expect("info");
    assert!(info.capacity > 50 * MIB && info.capacity < 64 * MIB);
    // A restart finds it mounted and running.
    drop(drv);
    let drv = s.driver().await;
    assert!(drv.pool_is_active(&p).await.expect("active"));
    assert_eq!(
        drv.pool_list_volumes(&p).await.expect("vols").len(),
        2,
        "lost+found and the volume"
    );
    drv.pool_destroy(&p).await.expect("umount");
    let mounts = fs::read_to_string("/proc/self/mounts").expect("mounts");
    assert!(!mounts.contains(&format!(" {} ", target.display())));
    drv.pool_delete(&p, 0).await.expect("rmdir");
    assert!(!Path::new(&target).exists());
    drv.pool_undefine(&p).await.expect("undefine");
    s.assert_canary();
}
