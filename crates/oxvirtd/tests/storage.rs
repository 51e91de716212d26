//! Storage pools and volumes end to end, through Debian's unchanged `virsh` against oxvirtd
//! serving `qemu:///system` on private directories: a `dir` pool with raw and qcow2
//! volumes, clones, resizes, uploads and downloads (also sparse) that give back the same
//! bytes; names and symlinks that try to leave the pool refused with nothing outside
//! touched; a daemon killed with SIGKILL that comes back with every pool and volume; a
//! refresh that finds files added behind the daemon's back; pool events; a volume in use
//! by a running guest that cannot be deleted; a `logical` pool on a loop device; an
//! `iscsi-direct` pool on a tgt target whose LUN a TCG guest sees.
//!
//! Needs root, qemu-img, virsh and the test guest (else `SKIPPED`, a failure under
//! `OXVIRT_REQUIRE_GUEST=1`); the logical and iSCSI tests also LVM's tools and tgt.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::qemu::{guest, QemuEnv};

/// The tgt fixture of the storage crate's tests (tgtd on a private control port).
#[path = "../../oxvirt-storage/tests/common/tgt.rs"]
mod tgt;

const MIB: u64 = 1 << 20;

/// A daemon with the test guest, or `None` (skipped) when something is missing.
fn env(test: &str) -> Option<QemuEnv> {
    if !oxvirt_xml::testdata::is_root() {
        oxvirt_xml::testdata::unavailable(test, "needs root");
        return None;
    }
    if !oxvirt_xml::testdata::have("qemu-img") {
        oxvirt_xml::testdata::unavailable(test, "qemu-img is not installed");
        return None;
    }
    let guest = guest(test)?;
    Some(QemuEnv::start(test, guest))
}

/// A dir pool `name` at `BASE/name`, defined, built and started through virsh; its path.
fn dir_pool(env: &QemuEnv, name: &str) -> PathBuf {
    let path = env.base.join(name);
    let target = path.to_str().unwrap();
    let out = env.virsh_ok(&["pool-define-as", name, "dir", "--target", target]);
    assert_eq!(out, format!("Pool {name} defined\n\n"));
    assert_eq!(
        env.virsh_ok(&["pool-build", name]),
        format!("Pool {name} built\n\n")
    );
    assert!(path.is_dir(), "pool-build made no {}", path.display());
    assert_eq!(
        env.virsh_ok(&["pool-start", name]),
        format!("Pool {name} started\n\n")
    );
    path
}

/// `bytes` of content with data, a hole of zeroes in the middle and data again.
fn content(bytes: usize) -> Vec<u8> {
    let mut v: Vec<u8> = (0..bytes).map(|i| (i * 131 % 251) as u8 + 1).collect();
    let (a, b) = (bytes / 4, bytes / 4 * 3);
    v[a..b].fill(0);
    v
}

/// The `Capacity:` or `Allocation:` line of `virsh vol-info --bytes`, as a number.
fn info_bytes(info: &str, field: &str) -> u64 {
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in {info}"))
        .trim()
        .trim_end_matches(" bytes")
        .parse()
        .unwrap()
}

fn qemu_img_format(path: &Path) -> String {
    let out = Command::new("qemu-img")
        .args(["info", "--output=json", "-U"])
        .arg(path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.trim().strip_prefix("\"format\": \""))
        .map(|f| f.trim_end_matches("\",").to_string())
        .unwrap_or_else(|| panic!("qemu-img info: {text}"))
}

#[test]
fn dir_pool_volumes_clone_resize_upload_download() {
    let Some(env) = env("dir_pool_volumes_clone_resize_upload_download") else {
        return;
    };
    let pool = dir_pool(&env, "dirp");
    let list = env.virsh_ok(&["pool-list", "--all"]);
    assert!(
        list.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["dirp", "active", "no"]),
        "{list}"
    );

    assert_eq!(
        env.virsh_ok(&["vol-create-as", "dirp", "a.img", "10M"]),
        "Vol a.img created\n\n"
    );
    env.virsh_ok(&[
        "vol-create-as",
        "dirp",
        "b.qcow2",
        "20M",
        "--format",
        "qcow2",
    ]);
    assert_eq!(qemu_img_format(&pool.join("a.img")), "raw");
    assert_eq!(qemu_img_format(&pool.join("b.qcow2")), "qcow2");
    let details = env.virsh_ok(&["vol-list", "dirp", "--details"]);
    let a_path = pool.join("a.img").display().to_string();
    assert!(
        details
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()
                == ["a.img", &a_path, "file", "10.00", "MiB", "10.00", "MiB"]),
        "{details}"
    );
    assert!(details.contains("20.00 MiB"), "{details}");
    let xml = env.virsh_ok(&["vol-dumpxml", "--pool", "dirp", "b.qcow2"]);
    assert!(xml.contains("<format type='qcow2'/>"), "{xml}");
    assert!(
        xml.contains(&format!("<key>{}</key>", pool.join("b.qcow2").display())),
        "{xml}"
    );
    assert_eq!(
        env.virsh_ok(&["vol-path", "--pool", "dirp", "a.img"])
            .trim(),
        a_path
    );

    // Upload, then download: the same bytes, also as sparse streams.
    let data = content(3 * MIB as usize);
    let src = env.base.join("upload.bin");
    std::fs::write(&src, &data).unwrap();
    env.virsh_ok(&["vol-create-as", "dirp", "up.img", "3M"]);
    env.virsh_ok(&[
        "vol-upload",
        "--pool",
        "dirp",
        "up.img",
        src.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read(pool.join("up.img")).unwrap(), data);
    let dst = env.base.join("download.bin");
    env.virsh_ok(&[
        "vol-download",
        "--pool",
        "dirp",
        "up.img",
        dst.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read(&dst).unwrap(), data, "download differs");
    let sparse_src = env.base.join("sparse.bin");
    {
        // A file with a real hole: 1 MiB of data, 6 MiB unwritten, 1 MiB of data.
        let mut f = std::fs::File::create(&sparse_src).unwrap();
        f.write_all(&data[..MIB as usize]).unwrap();
        f.set_len(7 * MIB).unwrap();
        use std::io::Seek;
        f.seek(std::io::SeekFrom::Start(7 * MIB)).unwrap();
        f.write_all(&data[..MIB as usize]).unwrap();
    }
    env.virsh_ok(&["vol-create-as", "dirp", "sp.img", "8M"]);
    env.virsh_ok(&[
        "vol-upload",
        "--sparse",
        "--pool",
        "dirp",
        "sp.img",
        sparse_src.to_str().unwrap(),
    ]);
    let original = std::fs::read(&sparse_src).unwrap();
    assert_eq!(std::fs::read(pool.join("sp.img")).unwrap(), original);
    let sparse_dst = env.base.join("sparse-download.bin");
    env.virsh_ok(&[
        "vol-download",
        "--sparse",
        "--pool",
        "dirp",
        "sp.img",
        sparse_dst.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read(&sparse_dst).unwrap(), original);
    let blocks = std::fs::metadata(&sparse_dst).unwrap().blocks() * 512;
    assert!(
        blocks < 4 * MIB,
        "a sparse download of 2 MiB of data in 8 MiB allocated {blocks} bytes"
    );

    // Clone (also converting to qcow2), resize, wipe, delete.
    assert_eq!(
        env.virsh_ok(&["vol-clone", "--pool", "dirp", "up.img", "copy.img"]),
        "Vol copy.img cloned from up.img\n\n"
    );
    assert_eq!(std::fs::read(pool.join("copy.img")).unwrap(), data);
    let newvol = env.base.join("conv.xml");
    std::fs::write(
        &newvol,
        "<volume><name>conv.qcow2</name><capacity unit='M'>3</capacity>\
         <target><format type='qcow2'/></target></volume>",
    )
    .unwrap();
    env.virsh_ok(&[
        "vol-create-from",
        "dirp",
        newvol.to_str().unwrap(),
        "--inputpool",
        "dirp",
        "up.img",
    ]);
    assert_eq!(qemu_img_format(&pool.join("conv.qcow2")), "qcow2");
    let back = env.base.join("conv-back.bin");
    env.virsh_ok(&[
        "vol-download",
        "--pool",
        "dirp",
        "conv.qcow2",
        back.to_str().unwrap(),
    ]);
    // A qcow2 volume downloads as its image file; convert it to compare the content.
    let raw = env.base.join("conv-raw.bin");
    let ok = Command::new("qemu-img")
        .args(["convert", "-f", "qcow2", "-O", "raw"])
        .arg(&back)
        .arg(&raw)
        .status()
        .unwrap();
    assert!(ok.success());
    assert_eq!(
        std::fs::read(&raw).unwrap(),
        data,
        "the converted clone differs"
    );

    env.virsh_ok(&["vol-resize", "--pool", "dirp", "a.img", "30M"]);
    let info = env.virsh_ok(&["vol-info", "--bytes", "--pool", "dirp", "a.img"]);
    assert_eq!(info_bytes(&info, "Capacity"), 30 * MIB, "{info}");
    // a.img is allocated (10 MiB written): libvirt refuses to cut into that.
    let err = env.virsh_err(&["vol-resize", "--pool", "dirp", "a.img", "5M", "--shrink"]);
    assert!(
        err.contains("can't shrink capacity below existing allocation"),
        "{err}"
    );
    env.virsh_ok(&["vol-create-as", "dirp", "s.img", "20M", "--allocation", "0"]);
    let err = env.virsh_err(&["vol-resize", "--pool", "dirp", "s.img", "5M"]);
    assert!(
        err.contains("Can't shrink capacity below current capacity"),
        "{err}"
    );
    env.virsh_ok(&["vol-resize", "--pool", "dirp", "s.img", "5M", "--shrink"]);
    let info = env.virsh_ok(&["vol-info", "--bytes", "--pool", "dirp", "s.img"]);
    assert_eq!(info_bytes(&info, "Capacity"), 5 * MIB, "{info}");
    assert_eq!(
        std::fs::metadata(pool.join("s.img")).unwrap().len(),
        5 * MIB
    );
    env.virsh_ok(&["vol-resize", "--pool", "dirp", "b.qcow2", "+10M", "--delta"]);
    let info = env.virsh_ok(&["vol-info", "--bytes", "--pool", "dirp", "b.qcow2"]);
    assert_eq!(info_bytes(&info, "Capacity"), 30 * MIB, "{info}");

    assert_eq!(
        env.virsh_ok(&["vol-wipe", "--pool", "dirp", "copy.img"]),
        "Vol copy.img wiped\n\n"
    );
    let wiped = std::fs::read(pool.join("copy.img")).unwrap();
    assert_eq!(wiped.len(), data.len());
    assert!(wiped.iter().all(|b| *b == 0), "vol-wipe left data");
    assert_eq!(
        env.virsh_ok(&["vol-delete", "--pool", "dirp", "copy.img"]),
        "Vol copy.img deleted\n\n"
    );
    assert!(!pool.join("copy.img").exists());

    // The pool's end: destroy, delete (the directory goes), undefine.
    let err = env.virsh_err(&["pool-delete", "dirp"]);
    assert!(err.contains("is still active"), "{err}");
    env.virsh_ok(&["pool-destroy", "dirp"]);
    let err = env.virsh_err(&["vol-list", "dirp"]);
    assert!(err.contains("is not active"), "{err}");
    for f in std::fs::read_dir(&pool).unwrap() {
        std::fs::remove_file(f.unwrap().path()).unwrap();
    }
    assert_eq!(
        env.virsh_ok(&["pool-delete", "dirp"]),
        "Pool dirp deleted\n\n"
    );
    assert!(!pool.exists(), "pool-delete left {}", pool.display());
    env.virsh_ok(&["pool-undefine", "dirp"]);
    let list = env.virsh_ok(&["pool-list", "--all", "--name"]);
    assert_eq!(list.trim(), "", "{list}");
}

#[test]
fn names_and_symlinks_never_leave_the_pool() {
    let Some(env) = env("names_and_symlinks_never_leave_the_pool") else {
        return;
    };
    let pool = dir_pool(&env, "safe");
    let outside = env.base.join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    let canary = outside.join("canary");
    std::fs::write(&canary, b"do not touch").unwrap();
    let listing = |dir: &Path| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    let base_before = listing(&env.base);

    for name in ["../escape", "a/b", "/tmp/oxvirt-escape"] {
        let err = env.virsh_err(&["vol-create-as", "safe", name, "1M"]);
        assert!(
            err.contains(&format!(
                "Requested operation is not valid: volume name '{name}' cannot contain '/'"
            )),
            "{name}: {err}"
        );
    }
    for name in ["..", "."] {
        let err = env.virsh_err(&["vol-create-as", "safe", name, "1M"]);
        assert!(
            err.starts_with(&format!("error: Failed to create vol {name}")),
            "{err}"
        );
    }
    // A symlink planted in the pool, pointing at the canary outside it.
    std::os::unix::fs::symlink(&canary, pool.join("evil")).unwrap();
    env.virsh_ok(&["pool-refresh", "safe"]);
    let src = env.base.join("payload.bin");
    std::fs::write(&src, vec![0x41u8; 4096]).unwrap();
    let upload = env.virsh(&[
        "vol-upload",
        "--pool",
        "safe",
        "evil",
        src.to_str().unwrap(),
    ]);
    assert!(
        !upload.status.success(),
        "vol-upload through a symlink worked"
    );
    let wipe = env.virsh(&["vol-wipe", "--pool", "safe", "evil"]);
    assert!(!wipe.status.success(), "vol-wipe through a symlink worked");
    let resize = env.virsh(&["vol-resize", "--pool", "safe", "evil", "1M"]);
    assert!(
        !resize.status.success(),
        "vol-resize through a symlink worked"
    );
    let dst = env.base.join("leak.bin");
    let download = env.virsh(&[
        "vol-download",
        "--pool",
        "safe",
        "evil",
        dst.to_str().unwrap(),
    ]);
    assert!(
        !download.status.success() || std::fs::read(&dst).unwrap_or_default() != b"do not touch",
        "vol-download read the file behind a symlink"
    );
    let _ = std::fs::remove_file(&dst);
    let _ = env.virsh(&["vol-delete", "--pool", "safe", "evil"]);
    assert_eq!(std::fs::read(&canary).unwrap(), b"do not touch");
    assert_eq!(listing(&outside), ["canary"]);
    let mut base_after = listing(&env.base);
    base_after.retain(|n| n != "outside" && n != "payload.bin");
    let mut before = base_before.clone();
    before.retain(|n| n != "outside");
    assert_eq!(base_after, before, "something was created beside the pool");
    assert!(!Path::new("/tmp/oxvirt-escape").exists());
    // The daemon still serves.
    env.virsh_ok(&["vol-create-as", "safe", "fine.img", "1M"]);
}

#[test]
fn restart_keeps_pools_and_refresh_finds_new_files() {
    let Some(mut env) = env("restart_keeps_pools_and_refresh_finds_new_files") else {
        return;
    };
    let run = dir_pool(&env, "runp");
    env.virsh_ok(&["vol-create-as", "runp", "one.img", "2M"]);
    env.virsh_ok(&[
        "vol-create-as",
        "runp",
        "two.qcow2",
        "4M",
        "--format",
        "qcow2",
    ]);
    env.virsh_ok(&["pool-autostart", "runp"]);
    let idle = env.base.join("idlep");
    env.virsh_ok(&[
        "pool-define-as",
        "idlep",
        "dir",
        "--target",
        idle.to_str().unwrap(),
    ]);
    let list_before = env.virsh_ok(&["pool-list", "--all"]);
    let vols_before = env.virsh_ok(&["vol-list", "runp", "--details"]);
    let uuid_before = env.virsh_ok(&["pool-uuid", "runp"]);

    env.kill_daemon();
    env.restart_daemon();
    assert_eq!(env.virsh_ok(&["pool-list", "--all"]), list_before);
    assert_eq!(
        env.virsh_ok(&["vol-list", "runp", "--details"]),
        vols_before
    );
    assert_eq!(env.virsh_ok(&["pool-uuid", "runp"]), uuid_before);
    let info = env.virsh_ok(&["pool-info", "idlep"]);
    assert!(info.contains("State:          inactive"), "{info}");

    // A file copied in behind the daemon's back shows after a refresh.
    std::fs::write(run.join("late.img"), vec![7u8; MIB as usize]).unwrap();
    assert!(!env.virsh_ok(&["vol-list", "runp"]).contains("late.img"));
    assert_eq!(
        env.virsh_ok(&["pool-refresh", "runp"]),
        "Pool runp refreshed\n\n"
    );
    let vols = env.virsh_ok(&["vol-list", "runp"]);
    assert!(vols.contains("late.img"), "{vols}");
    let info = env.virsh_ok(&["vol-info", "--bytes", "--pool", "runp", "late.img"]);
    assert_eq!(info_bytes(&info, "Capacity"), MIB, "{info}");
}

#[test]
fn pool_events_reach_virsh() {
    let Some(env) = env("pool_events_reach_virsh") else {
        return;
    };
    let watch = |event: &str| {
        Command::new("timeout")
            .args([
                "30",
                "virsh",
                "-c",
                &env.uri(),
                "pool-event",
                "--loop",
                "--event",
                event,
            ])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let watchers = [watch("lifecycle"), watch("refresh")];
    std::thread::sleep(Duration::from_millis(700));
    let path = env.base.join("evp");
    env.virsh_ok(&[
        "pool-define-as",
        "evp",
        "dir",
        "--target",
        path.to_str().unwrap(),
    ]);
    env.virsh_ok(&["pool-build", "evp"]);
    env.virsh_ok(&["pool-start", "evp"]);
    env.virsh_ok(&["pool-refresh", "evp"]);
    env.virsh_ok(&["pool-destroy", "evp"]);
    env.virsh_ok(&["pool-delete", "evp"]);
    env.virsh_ok(&["pool-undefine", "evp"]);
    std::thread::sleep(Duration::from_millis(700));
    let texts: Vec<String> = watchers
        .into_iter()
        .map(|w| {
            let _ = Command::new("kill")
                .args(["-INT", &w.id().to_string()])
                .status();
            String::from_utf8_lossy(&w.wait_with_output().unwrap().stdout).into_owned()
        })
        .collect();
    let events = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.starts_with("event '"))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(
        events(&texts[0]),
        [
            "event 'lifecycle' for storage pool evp: Defined",
            "event 'lifecycle' for storage pool evp: Created",
            "event 'lifecycle' for storage pool evp: Started",
            "event 'lifecycle' for storage pool evp: Stopped",
            "event 'lifecycle' for storage pool evp: Deleted",
            "event 'lifecycle' for storage pool evp: Undefined",
        ],
        "{}",
        texts[0]
    );
    assert_eq!(
        events(&texts[1]),
        ["event 'refresh' for storage pool evp"],
        "{}",
        texts[1]
    );
}

/// Waits for `needle` in the serial log after byte `from`; the log's text.
fn wait_log(log: &Path, needle: &str, from: usize, secs: u64) -> Option<String> {
    let until = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < until {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.len() > from && text[from..].contains(needle) {
            return Some(text);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

/// A guest with a file serial log and `disk` (a `<disk>` element).
fn guest_with_disk(env: &QemuEnv, name: &str, disk: &str) -> PathBuf {
    let log = env.base.join(format!("{name}-serial.log"));
    let xml = env.domain_xml(name, disk, &format!("<log file='{}'/>", log.display()));
    env.define_xml(name, &xml);
    log
}

#[test]
fn volume_in_use_by_a_running_guest_is_not_deleted() {
    let Some(env) = env("volume_in_use_by_a_running_guest_is_not_deleted") else {
        return;
    };
    dir_pool(&env, "usep");
    env.virsh_ok(&["vol-create-as", "usep", "disk.img", "24M"]);
    let log = guest_with_disk(
        &env,
        "voluser",
        "<disk type='volume' device='disk'><source pool='usep' volume='disk.img'/>\
         <target dev='vda' bus='virtio'/></disk>",
    );
    env.virsh_ok(&["start", "voluser"]);
    let text = wait_log(&log, "OXVIRT-DISK-SIZES:", 0, 60).expect("the guest reported no disks");
    assert!(
        text.contains(&format!("vda={}", 24 * MIB / 512)),
        "the guest does not see the 24 MiB volume: {text}"
    );
    let err = env.virsh_err(&["vol-delete", "--pool", "usep", "disk.img"]);
    assert!(err.contains("in use"), "{err}");
    assert!(env.base.join("usep/disk.img").exists());
    env.virsh_ok(&["destroy", "voluser"]);
    env.virsh_ok(&["vol-delete", "--pool", "usep", "disk.img"]);
    assert!(!env.base.join("usep/disk.img").exists());
}

/// A loop device over a sparse file, detached (and the file removed) when dropped.
struct Loop {
    dev: String,
    file: PathBuf,
}

impl Loop {
    fn new(file: PathBuf, size: u64) -> Option<Loop> {
        std::fs::File::create(&file).unwrap().set_len(size).unwrap();
        let out = Command::new("losetup")
            .args(["--find", "--show"])
            .arg(&file)
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        Some(Loop {
            dev: String::from_utf8_lossy(&out.stdout).trim().to_string(),
            file,
        })
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("losetup").args(["-d", &self.dev]).status();
        let _ = std::fs::remove_file(&self.file);
    }
}

#[test]
fn logical_pool_on_a_loop_device() {
    let test = "logical_pool_on_a_loop_device";
    let Some(env) = env(test) else {
        return;
    };
    for tool in ["losetup", "pvcreate", "vgcreate", "vgremove"] {
        if !oxvirt_xml::testdata::have(tool) {
            oxvirt_xml::testdata::unavailable(test, &format!("{tool} is not installed"));
            return;
        }
    }
    let Some(dev) = Loop::new(env.base.join("pv.img"), 64 * MIB) else {
        oxvirt_xml::testdata::unavailable(test, "no loop device could be set up");
        return;
    };
    let vg = format!("oxvtvg{}", std::process::id());
    let target = format!("/dev/{vg}");
    env.virsh_ok(&[
        "pool-define-as",
        "lvp",
        "logical",
        "--source-dev",
        &dev.dev,
        "--source-name",
        &vg,
        "--target",
        &target,
    ]);
    assert_eq!(env.virsh_ok(&["pool-build", "lvp"]), "Pool lvp built\n\n");
    let vgs = Command::new("vgs")
        .args(["--noheadings", "-o", "vg_name,pv_count", &vg])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&vgs.stdout).contains(&vg),
        "pool-build made no VG {vg}: {}",
        String::from_utf8_lossy(&vgs.stderr)
    );
    let found = env.virsh_ok(&["find-storage-pool-sources", "logical"]);
    assert!(found.contains(&format!("<name>{vg}</name>")), "{found}");
    assert!(
        found.contains(&format!("<device path='{}'/>", dev.dev)),
        "{found}"
    );
    assert_eq!(env.virsh_ok(&["pool-start", "lvp"]), "Pool lvp started\n\n");
    let list = env.virsh_ok(&["pool-list", "--all", "--details"]);
    assert!(
        list.lines()
            .any(|l| l.split_whitespace().take(3).collect::<Vec<_>>() == ["lvp", "running", "no"]),
        "{list}"
    );
    let info = env.virsh_ok(&["pool-info", "--bytes", "lvp"]);
    let capacity: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("Capacity:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // 64 MiB less LVM's metadata area, in 4 MiB extents.
    assert_eq!(capacity, 60 * MIB, "{info}");
    let vols = env.virsh_ok(&["vol-list", "lvp"]);
    assert_eq!(
        vols.lines().filter(|l| l.contains(&target)).count(),
        0,
        "{vols}"
    );
    env.virsh_ok(&["pool-destroy", "lvp"]);
    assert_eq!(
        env.virsh_ok(&["pool-delete", "lvp"]),
        "Pool lvp deleted\n\n"
    );
    let vgs = Command::new("vgs").arg(&vg).output().unwrap();
    assert!(!vgs.status.success(), "pool-delete left VG {vg}");
    env.virsh_ok(&["pool-undefine", "lvp"]);
}

#[test]
fn iscsi_direct_pool_lists_luns_and_a_guest_sees_one() {
    let test = "iscsi_direct_pool_lists_luns_and_a_guest_sees_one";
    if !tgt::usable(test) {
        return;
    }
    let Some(env) = env(test) else {
        return;
    };
    let _turn = tgt::turn();
    let target = tgt::Tgt::start(&[64 * MIB, 100 * MIB], 11_000);
    let xml = format!(
        "<pool type='iscsi-direct'>\n  <name>isd</name>\n  <source>\n    \
         <host name='127.0.0.1' port='{}'/>\n    <device path='{}'/>\n    \
         <initiator>\n      <iqn name='iqn.2024-01.org.oxvirt:storage-test'/>\n    \
         </initiator>\n  </source>\n</pool>\n",
        target.portal.port(),
        target.iqn
    );
    let file = env.base.join("isd.xml");
    std::fs::write(&file, xml).unwrap();
    let port = target.portal.port().to_string();
    let found = env.virsh_ok(&[
        "find-storage-pool-sources-as",
        "iscsi-direct",
        "127.0.0.1",
        &port,
        "--initiator",
        "iqn.2024-01.org.oxvirt:storage-test",
    ]);
    assert!(
        found.contains(&format!("<device path='{}'/>", target.iqn)),
        "{found}"
    );
    env.virsh_ok(&["pool-define", file.to_str().unwrap()]);
    env.virsh_ok(&["pool-start", "isd"]);
    let vols = env.virsh_ok(&["vol-list", "isd", "--details"]);
    let rows: Vec<Vec<&str>> = vols
        .lines()
        .filter(|l| l.trim_start().starts_with("unit:"))
        .map(|l| l.split_whitespace().collect())
        .collect();
    // Every LUN the target reports, as libvirt lists them: tgt's controller (LUN 0, no
    // capacity) and the two disks.
    let sized = |name: &str| -> String {
        let row = rows
            .iter()
            .find(|r| r[0] == name)
            .unwrap_or_else(|| panic!("no {name} in {vols}"));
        row[row.len() - 4..row.len() - 2].join(" ")
    };
    assert_eq!(sized("unit:0:0:1"), "64.00 MiB", "{vols}");
    assert_eq!(sized("unit:0:0:2"), "100.00 MiB", "{vols}");
    let info = env.virsh_ok(&["pool-info", "--bytes", "isd"]);
    assert!(
        info.contains(&format!("Capacity:       {}", 164 * MIB)),
        "{info}"
    );

    let log = guest_with_disk(
        &env,
        "lunuser",
        "<disk type='volume' device='disk'><driver name='qemu' type='raw'/>\
         <source pool='isd' volume='unit:0:0:2'/><target dev='vda' bus='virtio'/></disk>",
    );
    env.virsh_ok(&["start", "lunuser"]);
    let text = wait_log(&log, "OXVIRT-DISK-SIZES:", 0, 90).expect("the guest reported no disks");
    assert!(
        text.contains(&format!("vda={}", 100 * MIB / 512)),
        "the guest does not see the 100 MiB LUN: {text}"
    );
    env.virsh_ok(&["destroy", "lunuser"]);
    env.virsh_ok(&["pool-destroy", "isd"]);
    env.virsh_ok(&["pool-undefine", "isd"]);
}
