//! The `dir` backend on a scratch pool directory: each operation, and that nothing outside
//! the pool is ever read, written, created or deleted through a volume name or a symlink.

use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use oxvirt_storage::dir::{DirPool, Segment, VolFormat, VolKind};
use oxvirt_xml::testdata::{have, unavailable};
use oxvirt_xml::ErrorCode;

const MIB: u64 = 1 << 20;
const CANARY: &[u8] = b"canary: must never change\n";

/// A scratch tree `root/{pool,outside/canary}`, removed on drop.
struct Scratch {
    root: PathBuf,
}

impl Scratch {
    fn new(tag: &str) -> Scratch {
        static N: AtomicUsize = AtomicUsize::new(0);
        let root = std::env::temp_dir().join(format!(
            "oxvirt-dir-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(root.join("pool")).expect("pool dir");
        fs::create_dir_all(root.join("outside")).expect("outside dir");
        fs::write(root.join("outside/canary"), CANARY).expect("canary");
        Scratch { root }
    }

    fn pool_path(&self) -> PathBuf {
        self.root.join("pool")
    }

    fn pool(&self) -> DirPool {
        DirPool::open(self.pool_path()).expect("open pool")
    }

    /// Everything outside the pool directory: relative paths, sorted.
    fn outside_listing(&self) -> Vec<String> {
        let mut out = Vec::new();
        walk(&self.root, &self.root, &mut out);
        out.sort();
        out
    }

    fn assert_canary(&self) {
        let c = self.root.join("outside/canary");
        assert_eq!(fs::read(&c).expect("canary still there"), CANARY);
        assert_eq!(
            fs::symlink_metadata(&c).expect("canary").len(),
            CANARY.len() as u64
        );
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
    for e in fs::read_dir(dir).expect("read_dir") {
        let e = e.expect("entry");
        let p = e.path();
        let rel = p.strip_prefix(root).expect("prefix").display().to_string();
        if rel == "pool" {
            continue;
        }
        out.push(rel);
        if e.file_type().expect("type").is_dir() {
            walk(root, &p, out);
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.root);
    }
}

fn qemu_img_virtual_size(path: &Path) -> u64 {
    let out = Command::new("qemu-img")
        .args(["info", "--output=json"])
        .arg(path)
        .output()
        .expect("qemu-img info");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let at = text.find("\"virtual-size\":").expect("virtual-size") + "\"virtual-size\":".len();
    text[at..]
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect::<String>()
        .parse()
        .expect("number")
}

/// Writes `data` at each offset of `at` in an existing file.
fn poke(path: &Path, at: &[(u64, &[u8])]) {
    let mut f = fs::OpenOptions::new().write(true).open(path).expect("open");
    for (off, data) in at {
        f.seek(SeekFrom::Start(*off)).expect("seek");
        f.write_all(data).expect("write");
    }
}

#[test]
fn bad_names_are_refused_for_every_operation() {
    let s = Scratch::new("names");
    let before = s.outside_listing();
    let pool = s.pool();
    for bad in [
        "../x",
        "a/b",
        "/etc/passwd",
        "..",
        "",
        ".",
        "x\0y",
        "../outside/canary",
    ] {
        let codes = [
            pool.create_raw(bad, MIB, 0).map(|_| ()),
            pool.create_qcow2(bad, MIB, "1.1", None),
            pool.clone_volume(bad, "ok", VolFormat::Raw),
            pool.clone_volume("ok", bad, VolFormat::Raw),
            pool.resize(bad, MIB, true),
            pool.wipe(bad),
            pool.delete(bad),
            pool.info(bad).map(|_| ()),
            pool.open_read(bad, 0, 0).map(|_| ()),
            pool.open_write(bad, 0, 0).map(|_| ()),
            pool.sparse_segments(bad, 0, 0).map(|_| ()),
            pool.volume_path(bad).map(|_| ()),
        ];
        for (i, r) in codes.into_iter().enumerate() {
            let err = r.expect_err(&format!("{bad:?} op {i}"));
            // clone's source "ok" does not exist: the bad destination is still refused
            // first or the missing source is reported; both leave the tree alone.
            if i == 3 {
                assert!(
                    matches!(
                        err.code,
                        ErrorCode::OperationInvalid | ErrorCode::NoStorageVol
                    ),
                    "{bad:?}: {err:?}"
                );
            } else {
                assert_eq!(
                    err.code,
                    ErrorCode::OperationInvalid,
                    "{bad:?} op {i}: {err:?}"
                );
            }
        }
    }
    let err = pool.info("a/b").expect_err("slash");
    // libvirt 9.0: "volume name 'a/b' cannot contain '/'", VIR_ERR_OPERATION_INVALID.
    assert_eq!(
        err.message,
        "Requested operation is not valid: volume name 'a/b' cannot contain '/'"
    );
    assert_eq!(s.outside_listing(), before);
    assert_eq!(pool.list().expect("list"), Vec::<String>::new());
    s.assert_canary();
}

#[test]
fn raw_volumes_sparse_and_preallocated() {
    let s = Scratch::new("raw");
    let pool = s.pool();
    pool.create_raw("sparse.img", 1 << 30, 0)
        .expect("create sparse");
    let info = pool.info("sparse.img").expect("info");
    assert_eq!(info.kind, VolKind::File);
    assert_eq!(info.format, VolFormat::Raw);
    assert_eq!(info.capacity, 1 << 30);
    assert!(info.allocation < MIB, "not sparse: {}", info.allocation);
    let meta = fs::metadata(s.pool_path().join("sparse.img")).expect("stat");
    assert_eq!(meta.permissions().mode() & 0o7777, 0o600);
    assert!(meta.blocks() * 512 < MIB);

    pool.create_raw("full.img", 4 * MIB, 4 * MIB)
        .expect("create full");
    let info = pool.info("full.img").expect("info");
    assert_eq!(info.capacity, 4 * MIB);
    assert!(info.allocation >= 4 * MIB, "allocation {}", info.allocation);

    let err = pool.create_raw("full.img", MIB, 0).expect_err("exists");
    assert_eq!(err.code, ErrorCode::OperationInvalid);
    assert_eq!(
        err.message,
        format!(
            "Requested operation is not valid: volume target path '{}' already exists",
            s.pool_path().join("full.img").display()
        )
    );
    assert_eq!(pool.info("full.img").expect("info").capacity, 4 * MIB);

    let err = pool.info("missing").expect_err("missing");
    assert_eq!(err.code, ErrorCode::NoStorageVol);
    assert_eq!(
        err.message,
        "Storage volume not found: no storage vol with matching name 'missing'"
    );

    assert_eq!(pool.list().expect("list"), ["full.img", "sparse.img"]);
    pool.delete("full.img").expect("delete");
    assert_eq!(pool.list().expect("list"), ["sparse.img"]);
    assert_eq!(
        pool.delete("full.img").expect_err("gone").code,
        ErrorCode::NoStorageVol
    );
}

#[test]
fn qcow2_capacity_from_header_matches_qemu_img() {
    if !have("qemu-img") {
        return unavailable("qcow2_capacity_from_header_matches_qemu_img", "no qemu-img");
    }
    let s = Scratch::new("qcow2");
    let before = s.outside_listing();
    let pool = s.pool();
    pool.create_qcow2("a.qcow2", 5 << 30, "1.1", None)
        .expect("create");
    let info = pool.info("a.qcow2").expect("info");
    assert_eq!(info.format, VolFormat::Qcow2);
    assert_eq!(info.capacity, 5 << 30);
    assert_eq!(
        info.capacity,
        qemu_img_virtual_size(&s.pool_path().join("a.qcow2"))
    );
    assert!(info.allocation < MIB);
    let mode = fs::metadata(s.pool_path().join("a.qcow2"))
        .expect("stat")
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o600);

    pool.create_raw("base.img", 64 * MIB, 0).expect("base");
    let base = s.pool_path().join("base.img");
    pool.create_qcow2(
        "over.qcow2",
        64 * MIB,
        "0.10",
        Some((base.to_str().expect("utf8"), "raw")),
    )
    .expect("overlay");
    assert_eq!(pool.info("over.qcow2").expect("info").capacity, 64 * MIB);
    let out = Command::new("qemu-img")
        .args(["info", "--output=json"])
        .arg(s.pool_path().join("over.qcow2"))
        .output()
        .expect("qemu-img");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("\"backing-filename-format\": \"raw\""),
        "{text}"
    );
    assert!(text.contains("\"compat\": \"0.10\""), "{text}");

    let err = pool
        .create_qcow2("a.qcow2", MIB, "1.1", None)
        .expect_err("exists");
    assert_eq!(err.code, ErrorCode::OperationInvalid);
    assert_eq!(pool.info("a.qcow2").expect("kept").capacity, 5 << 30);

    // A failing qemu-img leaves no entry behind.
    let err = pool
        .create_qcow2("bad.qcow2", MIB, "9.9", None)
        .expect_err("compat");
    assert_eq!(err.code, ErrorCode::InternalError);
    assert!(!pool
        .list()
        .expect("list")
        .contains(&"bad.qcow2".to_string()));
    assert_eq!(s.outside_listing(), before);
}

#[test]
fn clone_raw_qcow2_raw_keeps_bytes_and_holes() {
    if !have("qemu-img") {
        return unavailable("clone_raw_qcow2_raw_keeps_bytes_and_holes", "no qemu-img");
    }
    let s = Scratch::new("clone");
    let pool = s.pool();
    pool.create_raw("src.img", 32 * MIB, 0).expect("src");
    let src = s.pool_path().join("src.img");
    poke(
        &src,
        &[
            (0, b"boot sector"),
            (10 * MIB + 7, b"middle"),
            (32 * MIB - 5, b"tail!"),
        ],
    );
    pool.clone_volume("src.img", "mid.qcow2", VolFormat::Qcow2)
        .expect("to qcow2");
    let info = pool.info("mid.qcow2").expect("info");
    assert_eq!(info.format, VolFormat::Qcow2);
    assert_eq!(info.capacity, 32 * MIB);
    pool.clone_volume("mid.qcow2", "back.img", VolFormat::Raw)
        .expect("to raw");
    pool.clone_volume("src.img", "copy.img", VolFormat::Raw)
        .expect("raw copy");
    let orig = fs::read(&src).expect("read");
    for name in ["back.img", "copy.img"] {
        assert_eq!(
            fs::read(s.pool_path().join(name)).expect("read"),
            orig,
            "{name}"
        );
        let info = pool.info(name).expect("info");
        assert_eq!(info.format, VolFormat::Raw);
        assert_eq!(info.capacity, 32 * MIB);
        assert!(
            info.allocation < 4 * MIB,
            "{name} not sparse: {}",
            info.allocation
        );
    }
    let err = pool
        .clone_volume("src.img", "copy.img", VolFormat::Raw)
        .expect_err("exists");
    assert_eq!(err.code, ErrorCode::OperationInvalid);
    let err = pool
        .clone_volume("nope", "new.img", VolFormat::Raw)
        .expect_err("missing");
    assert_eq!(err.code, ErrorCode::NoStorageVol);
    assert!(!pool.list().expect("list").contains(&"new.img".to_string()));
}

#[test]
fn resize_grows_and_shrinks_only_when_allowed() {
    let s = Scratch::new("resize");
    let pool = s.pool();
    pool.create_raw("r.img", 8 * MIB, 0).expect("create");
    pool.resize("r.img", 16 * MIB, false).expect("grow");
    assert_eq!(pool.info("r.img").expect("info").capacity, 16 * MIB);
    let err = pool.resize("r.img", MIB, false).expect_err("shrink");
    assert_eq!(err.code, ErrorCode::InvalidArg);
    assert_eq!(pool.info("r.img").expect("info").capacity, 16 * MIB);
    pool.resize("r.img", MIB, true).expect("shrink allowed");
    assert_eq!(pool.info("r.img").expect("info").capacity, MIB);

    if !have("qemu-img") {
        return unavailable("resize_grows_and_shrinks_only_when_allowed", "no qemu-img");
    }
    pool.create_qcow2("q.qcow2", 8 * MIB, "1.1", None)
        .expect("qcow2");
    pool.resize("q.qcow2", 24 * MIB, false).expect("grow qcow2");
    assert_eq!(pool.info("q.qcow2").expect("info").capacity, 24 * MIB);
    assert_eq!(
        qemu_img_virtual_size(&s.pool_path().join("q.qcow2")),
        24 * MIB
    );
    let err = pool.resize("q.qcow2", 8 * MIB, false).expect_err("shrink");
    assert_eq!(err.code, ErrorCode::InvalidArg);
    pool.resize("q.qcow2", 8 * MIB, true).expect("shrink qcow2");
    assert_eq!(
        qemu_img_virtual_size(&s.pool_path().join("q.qcow2")),
        8 * MIB
    );
}

#[test]
fn wipe_zeroes_and_keeps_size() {
    let s = Scratch::new("wipe");
    let pool = s.pool();
    // Sparse: truncated and stays sparse.
    pool.create_raw("w.img", 3 * MIB + 123, 0).expect("create");
    let path = s.pool_path().join("w.img");
    poke(
        &path,
        &[
            (0, b"secret"),
            (2 * MIB, b"more secret"),
            (3 * MIB + 100, b"end"),
        ],
    );
    pool.wipe("w.img").expect("wipe");
    let bytes = fs::read(&path).expect("read");
    assert_eq!(bytes.len() as u64, 3 * MIB + 123);
    assert!(bytes.iter().all(|&b| b == 0));
    assert!(pool.info("w.img").expect("info").allocation < MIB);
    assert_eq!(
        fs::metadata(&path).expect("stat").permissions().mode() & 0o7777,
        0o600
    );

    // Fully allocated: overwritten in place.
    pool.create_raw("f.img", 2 * MIB, 2 * MIB).expect("create");
    let path = s.pool_path().join("f.img");
    poke(&path, &[(0, b"secret"), (2 * MIB - 3, b"end")]);
    pool.wipe("f.img").expect("wipe");
    let bytes = fs::read(&path).expect("read");
    assert_eq!(bytes.len() as u64, 2 * MIB);
    assert!(bytes.iter().all(|&b| b == 0));
    assert!(pool.info("f.img").expect("info").allocation >= 2 * MIB);
}

#[test]
fn streams_and_sparse_segments() {
    let s = Scratch::new("stream");
    let pool = s.pool();
    pool.create_raw("v.img", 8 * MIB, 0).expect("create");
    let mut w = pool.open_write("v.img", MIB, 5).expect("open_write");
    w.write_all(b"hello").expect("write");
    assert!(w.write_all(b"!").is_err(), "write past length accepted");
    drop(w);
    let mut w = pool.open_write("v.img", 6 * MIB, 0).expect("open_write");
    w.write_all(&vec![0xabu8; 4096]).expect("write");
    drop(w);

    let mut r = pool.open_read("v.img", MIB, 5).expect("open_read");
    let mut got = Vec::new();
    r.read_to_end(&mut got).expect("read");
    assert_eq!(got, b"hello");
    let mut r = pool.open_read("v.img", 8 * MIB - 10, 0).expect("open_read");
    got.clear();
    r.read_to_end(&mut got).expect("read");
    assert_eq!(got, vec![0u8; 10]);

    let segs = pool.sparse_segments("v.img", 0, 0).expect("segments");
    let mut pos = 0;
    let mut data = Vec::new();
    for seg in &segs {
        match *seg {
            Segment::Data { offset, len } => {
                assert_eq!(offset, pos);
                data.push((offset, len));
                pos += len;
            }
            Segment::Hole { offset, len } => {
                assert_eq!(offset, pos);
                pos += len;
            }
        }
    }
    assert_eq!(pos, 8 * MIB, "{segs:?}");
    let covers = |at: u64| data.iter().any(|&(o, l)| o <= at && at < o + l);
    assert!(covers(MIB) && covers(6 * MIB), "{segs:?}");
    let data_bytes: u64 = data.iter().map(|&(_, l)| l).sum();
    assert!(data_bytes < 2 * MIB, "{segs:?}");
    assert!(
        matches!(segs[0], Segment::Hole { offset: 0, .. }),
        "{segs:?}"
    );

    let part = pool.sparse_segments("v.img", MIB, 10).expect("segments");
    assert_eq!(
        part,
        [Segment::Data {
            offset: MIB,
            len: 10
        }]
    );
}

#[test]
fn list_and_pool_space() {
    let s = Scratch::new("list");
    let pool = s.pool();
    pool.create_raw(".hidden", MIB, 0).expect("dotfile");
    pool.create_raw("b.img", MIB, 0).expect("b");
    fs::create_dir(s.pool_path().join("subdir")).expect("subdir");
    std::os::unix::fs::symlink("b.img", s.pool_path().join("link-in")).expect("link");
    std::os::unix::fs::symlink("nowhere", s.pool_path().join("dangling")).expect("link");
    std::os::unix::fs::symlink("/etc/passwd", s.pool_path().join("abs")).expect("link");
    std::os::unix::fs::symlink("../outside/canary", s.pool_path().join("up")).expect("link");
    let fifo = have("mkfifo")
        && Command::new("mkfifo")
            .arg(s.pool_path().join("fifo"))
            .status()
            .is_ok_and(|st| st.success());
    assert!(!fifo || s.pool_path().join("fifo").exists());
    assert_eq!(
        pool.list().expect("list"),
        [".hidden", "b.img", "link-in", "subdir"]
    );
    let dir = pool.info("subdir").expect("dir");
    assert_eq!(
        (dir.kind, dir.capacity, dir.allocation),
        (VolKind::Dir, 0, 0)
    );
    assert_eq!(pool.info("link-in").expect("link").capacity, MIB);
    pool.delete("subdir").expect("rmdir");

    let space = pool.pool_space().expect("space");
    assert!(space.capacity > 0);
    assert!(space.available <= space.capacity);
    assert!(space.allocation <= space.capacity);

    // The same numbers from statvfs as coreutils reads it: fundamental block size, total,
    // free and available blocks (free and available may move between the two reads on a
    // busy file system; total does not).
    if have("stat") {
        let out = Command::new("stat")
            .args(["-f", "-c", "%S %b %f %a"])
            .arg(s.pool_path())
            .output()
            .expect("stat -f");
        let v: Vec<u64> = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .map(|x| x.parse().expect("number"))
            .collect();
        assert_eq!(v.len(), 4, "{out:?}");
        assert_eq!(space.capacity, v[0] * v[1]);
        let near = |a: u64, b: u64| a.abs_diff(b) <= 64 * MIB;
        assert!(
            near(space.allocation, v[0] * (v[1] - v[2])),
            "{space:?} {v:?}"
        );
        assert!(near(space.available, v[0] * v[3]), "{space:?} {v:?}");
    }
}

#[test]
fn symlinks_out_of_the_pool_are_never_followed() {
    let s = Scratch::new("evil");
    let pool = s.pool();
    let p = s.pool_path();
    std::os::unix::fs::symlink("/etc", p.join("evil")).expect("link");
    std::os::unix::fs::symlink("../outside", p.join("evil-dir")).expect("link");
    std::os::unix::fs::symlink("../outside/canary", p.join("evil-file")).expect("link");
    std::os::unix::fs::symlink(s.root.join("outside/canary"), p.join("evil-abs")).expect("link");
    std::os::unix::fs::symlink("../outside/new", p.join("evil-new")).expect("link");
    let before = s.outside_listing();
    let qemu = have("qemu-img");

    for name in ["evil", "evil-dir", "evil-file", "evil-abs", "evil-new"] {
        assert!(pool.info(name).is_err(), "info {name}");
        assert!(pool.open_read(name, 0, 0).is_err(), "open_read {name}");
        assert!(pool.open_write(name, 0, 0).is_err(), "open_write {name}");
        assert!(pool.sparse_segments(name, 0, 0).is_err(), "segments {name}");
        assert!(pool.wipe(name).is_err(), "wipe {name}");
        assert!(pool.resize(name, 1, true).is_err(), "resize {name}");
        assert!(
            pool.create_raw(name, MIB, MIB).is_err(),
            "create_raw {name}"
        );
        assert!(
            pool.clone_volume(name, "copy", VolFormat::Raw).is_err(),
            "clone from {name}"
        );
        if qemu {
            assert!(
                pool.create_qcow2(name, MIB, "1.1", None).is_err(),
                "qcow2 {name}"
            );
            assert!(
                pool.clone_volume(name, "copy2", VolFormat::Qcow2).is_err(),
                "convert {name}"
            );
        }
        s.assert_canary();
        assert_eq!(s.outside_listing(), before, "after {name}");
    }
    pool.create_raw("ok.img", MIB, 0).expect("ok");
    for name in ["evil-file", "evil-new"] {
        let err = pool
            .clone_volume("ok.img", name, VolFormat::Raw)
            .expect_err(name);
        assert_eq!(err.code, ErrorCode::OperationInvalid, "{name}");
        if qemu {
            let err = pool
                .clone_volume("ok.img", name, VolFormat::Qcow2)
                .expect_err(name);
            assert_eq!(err.code, ErrorCode::OperationInvalid, "{name}");
        }
    }
    for path in ["evil/passwd", "evil-dir/canary", "evil-file/x"] {
        assert_eq!(
            pool.info(path).expect_err(path).code,
            ErrorCode::OperationInvalid
        );
        assert_eq!(
            pool.delete(path).expect_err(path).code,
            ErrorCode::OperationInvalid
        );
        assert_eq!(
            pool.open_read(path, 0, 0).expect_err(path).code,
            ErrorCode::OperationInvalid
        );
    }
    assert_eq!(pool.list().expect("list"), ["ok.img"]);
    s.assert_canary();
    assert_eq!(s.outside_listing(), before);

    // Deleting a symlink removes the link in the pool, never its target.
    for name in ["evil", "evil-dir", "evil-file", "evil-abs", "evil-new"] {
        pool.delete(name).expect(name);
        assert!(fs::symlink_metadata(p.join(name)).is_err(), "{name} kept");
    }
    s.assert_canary();
    assert_eq!(s.outside_listing(), before);
    assert!(Path::new("/etc/passwd").exists());
    assert_eq!(pool.list().expect("list"), ["ok.img"]);
}
