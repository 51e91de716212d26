//! The driver's QMP operations against a real `qemu-system-x86_64` 7.2 under TCG:
//! descriptor passing with save/restore through files, internal qcow2 snapshots, hotplug,
//! and the chardev/block queries. Skipped, with a visible message, when QEMU is missing.

#![allow(clippy::unwrap_used)]

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use oxvirt_qemu::qmp::ops::is_device_deleted;
use oxvirt_qemu::qmp::{Events, Qmp, QmpError, QmpEvent};
use oxvirt_xml::{ErrorCode, ErrorDomain};
use serde_json::json;
use tokio::process::{Child, Command};
use tokio::time::timeout;

const QEMU: &str = "qemu-system-x86_64";

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("oxvirt-qmpops-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A QEMU child; killed and reaped on drop (also when the test panics).
struct Qemu {
    child: Option<Child>,
    sock: PathBuf,
}

impl Qemu {
    /// Starts QEMU (TCG, 64 MiB, no default devices, no display) with `extra` arguments
    /// and a QMP socket `NAME.sock` in `dir`. `None` when the binary is missing.
    fn start(dir: &Scratch, name: &str, machine: &str, extra: &[&str]) -> Option<Qemu> {
        let sock = dir.path(&format!("{name}.sock"));
        let spawned = Command::new(QEMU)
            .args(["-machine", machine, "-accel", "tcg", "-m", "64"])
            .args(["-nodefaults", "-display", "none", "-qmp"])
            .arg(format!("unix:{},server=on,wait=off", sock.display()))
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn();
        match spawned {
            Ok(child) => Some(Qemu {
                child: Some(child),
                sock,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // `cargo xtask ci` sets this: there, real QEMU must be tested, not skipped.
                assert!(
                    std::env::var_os("OXVIRT_REQUIRE_GUEST").is_none(),
                    "QEMU is required here (OXVIRT_REQUIRE_GUEST is set)"
                );
                eprintln!("SKIPPED: {QEMU} not found, QMP operation tests not run");
                None
            }
            Err(e) => panic!("spawning {QEMU}: {e}"),
        }
    }

    async fn connect(&self) -> (Qmp, Events) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match Qmp::connect(&self.sock).await {
                Ok(pair) => return pair,
                Err(QmpError::Connect { .. }) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err(e) => panic!("connecting to QMP: {e}"),
            }
        }
    }

    /// `quit`, then reap QEMU; asserts it exited cleanly.
    async fn quit(&mut self, qmp: &Qmp) {
        qmp.quit().await.unwrap();
        let mut child = self.child.take().unwrap();
        let status = timeout(Duration::from_secs(10), child.wait())
            .await
            .expect("QEMU did not exit")
            .unwrap();
        assert!(status.success(), "{status:?}");
    }
}

impl Drop for Qemu {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.start_kill();
            for _ in 0..300 {
                if !matches!(child.try_wait(), Ok(None)) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        let out = std::process::Command::new("pgrep")
            .arg("-f")
            .arg(self.sock.to_str().unwrap_or_default())
            .output();
        if let Ok(out) = out {
            assert!(
                out.stdout.is_empty() || std::thread::panicking(),
                "QEMU left behind"
            );
        }
    }
}

/// Waits for an event named `name`, skipping others.
async fn wait_event(events: &mut Events, name: &str, within: Duration) -> Option<QmpEvent> {
    timeout(within, async {
        while let Some(ev) = events.recv().await {
            if ev.name == name {
                return Some(ev);
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
}

fn qemu_img(args: &[&str]) -> String {
    let out = std::process::Command::new("qemu-img")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "qemu-img {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn save_and_restore_through_passed_fds() {
    let dir = Scratch::new("save");
    let Some(mut src) = Qemu::start(&dir, "src", "q35", &["-S"]) else {
        return;
    };
    let (qmp, _events) = src.connect().await;
    // Run the guest (SeaBIOS) a moment, then pause it as libvirt's save does. (A source
    // that never ran stays `prelaunch` after `stop`, and the destination then restores
    // into `prelaunch` rather than `paused`.)
    qmp.cont().await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    qmp.stop().await.unwrap();
    assert_eq!(qmp.query_status().await.unwrap().status, "paused");

    // A descriptor filed and closed by name; closing it again is QEMU's error.
    let spare = std::fs::File::open("/dev/null").unwrap();
    qmp.send_fd("spare", spare.as_fd()).await.unwrap();
    qmp.close_fd("spare").await.unwrap();
    let err = qmp.close_fd("spare").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "unable to execute QEMU command 'closefd': File descriptor named 'spare' not found"
    );

    // Before any migration QEMU 7.2 answers `{}`.
    let before = qmp.query_migrate().await.unwrap();
    assert_eq!((before.status.as_deref(), before.status()), (None, "none"));

    // A migration into a read-only descriptor fails: libvirt's error.
    let ro = std::fs::File::open("/dev/null").unwrap();
    qmp.send_fd("ro", ro.as_fd()).await.unwrap();
    qmp.migrate_to_fd("ro").await.unwrap();
    let err = qmp
        .wait_migration_job(Duration::from_millis(5), "domain save job")
        .await
        .unwrap_err();
    assert_eq!(
        (err.code, err.domain),
        (ErrorCode::OperationFailed, ErrorDomain::Qemu)
    );
    assert_eq!(
        err.message,
        "operation failed: domain save job: Unable to write to file: Bad file descriptor"
    );
    let failed = qmp.query_migrate().await.unwrap();
    assert_eq!(failed.status(), "failed");
    assert!(failed.error_desc.is_some());

    // A throttled migration (1 KB/s), cancelled: libvirt's "canceled by client".
    let set_bandwidth = |bytes: u64| {
        let q = qmp.clone();
        async move {
            q.execute(
                "migrate-set-parameters",
                Some(json!({ "max-bandwidth": bytes })),
            )
            .await
            .unwrap();
        }
    };
    set_bandwidth(1000).await;
    let slow = std::fs::File::create(dir.path("slow.img")).unwrap();
    qmp.send_fd("slow", slow.as_fd()).await.unwrap();
    qmp.migrate_to_fd("slow").await.unwrap();
    // Right after `migrate` QEMU may still be setting up.
    let status = qmp.query_migrate().await.unwrap().status().to_string();
    assert!(status == "active" || status == "setup", "{status}");
    qmp.migrate_cancel().await.unwrap();
    let err = qmp
        .wait_migration(Duration::from_millis(5))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code, err.message.as_str()),
        (
            ErrorCode::OperationAborted,
            "operation aborted: migration out job: canceled by client"
        )
    );
    set_bandwidth(1 << 40).await;

    // The save proper.
    let save = dir.path("save.img");
    let file = std::fs::File::create(&save).unwrap();
    qmp.send_fd("migrate", file.as_fd()).await.unwrap();
    drop(file);
    let t = Instant::now();
    qmp.migrate_to_fd("migrate").await.unwrap();
    let info = qmp.wait_migration(Duration::from_millis(5)).await.unwrap();
    let wall = t.elapsed();
    let size = std::fs::metadata(&save).unwrap().len();
    eprintln!("save: {info:?}, file {size} bytes, wall {wall:?}");
    assert_eq!(info.status.as_deref(), Some("completed"));
    assert!(size > 0);
    assert_eq!(info.ram_remaining, Some(0));
    assert!(info.ram_transferred.unwrap() > 0);
    assert!(info.total_time_ms.is_some());
    assert_eq!(qmp.query_status().await.unwrap().status, "postmigrate");
    src.quit(&qmp).await;

    // The restore: a QEMU waiting for its incoming stream.
    let Some(mut dst) = Qemu::start(&dir, "dst", "q35", &["-S", "-incoming", "defer"]) else {
        return;
    };
    let (qmp, mut events) = dst.connect().await;
    assert_eq!(qmp.query_status().await.unwrap().status, "inmigrate");
    qmp.migrate_set_capabilities(&[("events", true)])
        .await
        .unwrap();
    let file = std::fs::File::open(&save).unwrap();
    qmp.send_fd("restore", file.as_fd()).await.unwrap();
    drop(file);
    let t = Instant::now();
    qmp.migrate_incoming("fd:restore").await.unwrap();
    let info = qmp
        .wait_migration_job(Duration::from_millis(5), "migration in job")
        .await
        .unwrap();
    eprintln!("restore: {info:?}, wall {:?}", t.elapsed());
    assert_eq!(info.status(), "completed");
    // query-migrate may say `completed` before the event is on the wire: wait for it.
    let mut statuses = Vec::new();
    while statuses.last().map(String::as_str) != Some("completed") {
        let ev = wait_event(&mut events, "MIGRATION", Duration::from_secs(10))
            .await
            .expect("no MIGRATION completed event");
        statuses.push(ev.data["status"].as_str().unwrap_or_default().to_string());
    }
    eprintln!("destination MIGRATION events: {statuses:?}");
    assert_eq!(statuses, ["setup", "active", "completed"]);
    let status = qmp.query_status().await.unwrap();
    assert_eq!((status.running, status.status.as_str()), (false, "paused"));
    qmp.cont().await.unwrap();
    let status = qmp.query_status().await.unwrap();
    assert_eq!((status.running, status.status.as_str()), (true, "running"));
    dst.quit(&qmp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_snapshots_and_queries() {
    let dir = Scratch::new("snap");
    let disk = dir.path("disk.qcow2");
    qemu_img(&["create", "-q", "-f", "qcow2", disk.to_str().unwrap(), "16M"]);
    let storage =
        json!({"driver": "file", "filename": disk, "node-name": "libvirt-1-storage"}).to_string();
    let format =
        json!({"node-name": "libvirt-1-format", "driver": "qcow2", "file": "libvirt-1-storage"})
            .to_string();
    let extra = [
        "-S",
        "-blockdev",
        &storage,
        "-blockdev",
        &format,
        "-device",
        "virtio-blk-pci,drive=libvirt-1-format,id=virtio-disk0",
        "-chardev",
        "pty,id=charserial0",
        "-device",
        "isa-serial,chardev=charserial0,id=serial0",
    ];
    let Some(mut qemu) = Qemu::start(&dir, "snap", "q35", &extra) else {
        return;
    };
    let (qmp, _events) = qemu.connect().await;

    // Console and block queries.
    let chardevs = qmp.query_chardev().await.unwrap();
    eprintln!("chardevs: {chardevs:?}");
    let pty = qmp.pty_path("charserial0").await.unwrap().unwrap();
    assert!(pty.starts_with("/dev/pts/"), "{pty}");
    assert!(Path::new(&pty).exists());
    assert_eq!(qmp.pty_path("nosuch").await.unwrap(), None);
    let blocks = qmp.query_block().await.unwrap();
    eprintln!("query-block: {blocks:?}");
    assert_eq!(blocks.len(), 1);
    assert_eq!(blocks[0].device, "");
    assert_eq!(
        blocks[0].qdev,
        "/machine/peripheral/virtio-disk0/virtio-backend"
    );
    let ins = blocks[0].inserted.as_ref().unwrap();
    assert_eq!(
        (ins.node_name.as_str(), ins.format.as_str(), ins.read_only),
        ("libvirt-1-format", "qcow2", false)
    );
    assert_eq!(ins.file, disk.to_str().unwrap());
    let stats = qmp.query_blockstats().await.unwrap();
    eprintln!("query-blockstats: {stats:?}");
    assert_eq!(stats.len(), 1);
    assert_eq!(stats[0].node_name, "libvirt-1-format");
    assert_eq!(stats[0].qdev, blocks[0].qdev);
    assert_eq!((stats[0].rd_operations, stats[0].wr_bytes), (0, 0));

    // Snapshots.
    assert_eq!(
        qmp.snapshot_capable_nodes().await.unwrap(),
        vec!["libvirt-1-format".to_string()]
    );
    let nodes = ["libvirt-1-format"];
    let t = Instant::now();
    qmp.snapshot_save("s1", "libvirt-1-format", &nodes)
        .await
        .unwrap();
    eprintln!("snapshot-save: {:?}", t.elapsed());
    qmp.snapshot_save("s2", "libvirt-1-format", &nodes)
        .await
        .unwrap();
    let snaps = |blocks: Vec<oxvirt_qemu::qmp::ops::BlockInfo>| {
        blocks[0].inserted.clone().unwrap().snapshots
    };
    assert_eq!(snaps(qmp.query_block().await.unwrap()), ["s1", "s2"]);
    let t = Instant::now();
    qmp.snapshot_load("s1", "libvirt-1-format", &nodes)
        .await
        .unwrap();
    eprintln!("snapshot-load: {:?}", t.elapsed());
    let t = Instant::now();
    qmp.snapshot_delete("s1", &nodes).await.unwrap();
    eprintln!("snapshot-delete: {:?}", t.elapsed());
    assert_eq!(snaps(qmp.query_block().await.unwrap()), ["s2"]);
    assert!(qmp.query_jobs().await.unwrap().is_empty());

    let err = qmp
        .snapshot_load("nosuch", "libvirt-1-format", &nodes)
        .await
        .unwrap_err();
    eprintln!("snapshot-load of a missing tag: {}", err.message);
    assert_eq!(
        (err.code, err.domain),
        (ErrorCode::OperationFailed, ErrorDomain::Qemu)
    );
    assert!(
        err.message
            .starts_with("operation failed: snapshot-load job failed: "),
        "{}",
        err.message
    );
    assert!(qmp.query_jobs().await.unwrap().is_empty());
    qemu.quit(&qmp).await;

    let listing = qemu_img(&["snapshot", "-l", disk.to_str().unwrap()]);
    eprintln!("{listing}");
    assert!(listing.contains(" s2 "), "{listing}");
    assert!(!listing.contains(" s1 "), "{listing}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hotplug_on_i440fx() {
    let dir = Scratch::new("hotplug");
    let raw = dir.path("extra.raw");
    std::fs::write(&raw, vec![0u8; 1 << 20]).unwrap();
    // A cold-plugged boot disk: SeaBIOS reads it, which the block statistics show.
    let boot = dir.path("boot.raw");
    std::fs::write(&boot, vec![0u8; 1 << 20]).unwrap();
    let storage =
        json!({"driver": "file", "filename": boot, "node-name": "libvirt-1-storage"}).to_string();
    let format =
        json!({"node-name": "libvirt-1-format", "driver": "raw", "file": "libvirt-1-storage"})
            .to_string();
    let extra = [
        "-blockdev",
        &storage,
        "-blockdev",
        &format,
        "-device",
        "virtio-blk-pci,bus=pci.0,addr=0x4,drive=libvirt-1-format,id=virtio-disk0,bootindex=1",
    ];
    let Some(mut qemu) = Qemu::start(&dir, "hp", "pc", &extra) else {
        return;
    };
    let (qmp, mut events) = qemu.connect().await;
    assert_eq!(qmp.query_status().await.unwrap().status, "running");
    let t = Instant::now();
    let stats = loop {
        let stats = qmp.query_blockstats().await.unwrap();
        if stats[0].rd_operations > 0 || t.elapsed() > Duration::from_secs(10) {
            break stats;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    eprintln!("boot disk stats after {:?}: {:?}", t.elapsed(), stats[0]);
    assert_eq!(stats[0].node_name, "libvirt-1-format");
    assert!(stats[0].rd_operations > 0 && stats[0].rd_bytes >= 512);
    assert!(stats[0].rd_total_time_ns > 0);
    assert_eq!(stats[0].wr_operations, 0);

    qmp.blockdev_add(json!({
        "driver": "file", "filename": raw, "node-name": "libvirt-2-storage",
        "auto-read-only": true, "discard": "unmap"
    }))
    .await
    .unwrap();
    qmp.blockdev_add(json!({
        "node-name": "libvirt-2-format", "read-only": false, "driver": "raw",
        "file": "libvirt-2-storage"
    }))
    .await
    .unwrap();
    qmp.device_add(json!({
        "driver": "virtio-blk-pci", "bus": "pci.0", "addr": "0x5",
        "drive": "libvirt-2-format", "id": "virtio-disk1"
    }))
    .await
    .unwrap();
    let pci = qmp.query_pci().await.unwrap();
    let dev = pci.iter().find(|d| d.qdev_id == "virtio-disk1").unwrap();
    assert_eq!((dev.bus, dev.slot, dev.function), (0, 5, 0));
    assert_eq!(dev.class_desc, "SCSI controller");
    let blocks = qmp.query_block().await.unwrap();
    assert!(blocks.iter().any(|b| {
        b.qdev == "/machine/peripheral/virtio-disk1/virtio-backend"
            && b.inserted.as_ref().map(|i| i.node_name.as_str()) == Some("libvirt-2-format")
    }));

    // A node in use cannot go.
    let err = qmp.blockdev_del("libvirt-2-format").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "unable to execute QEMU command 'blockdev-del': Node libvirt-2-format is in use"
    );

    // The unplug request: SeaBIOS never acks it, so no DEVICE_DELETED comes.
    qmp.device_del("virtio-disk1").await.unwrap();
    let deleted = wait_event(&mut events, "DEVICE_DELETED", Duration::from_secs(2)).await;
    assert_eq!(deleted, None);
    // QEMU 7.2 on i440fx (ACPI hotplug) accepts a repeated request (it re-signals it).
    qmp.device_del("virtio-disk1").await.unwrap();
    let still = qmp.query_pci().await.unwrap();
    assert!(still.iter().any(|d| d.qdev_id == "virtio-disk1"));
    // An unknown id is refused at once.
    let err = qmp.device_del("nosuch").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "unable to execute QEMU command 'device_del': Device 'nosuch' not found"
    );
    // What the driver's wait loop would accept.
    let ev = QmpEvent {
        name: "DEVICE_DELETED".into(),
        data: json!({"device": "virtio-disk1", "path": "/machine/peripheral/virtio-disk1"}),
        timestamp: (0, 0),
    };
    assert!(is_device_deleted(&ev, "virtio-disk1"));

    // Network backends.
    qmp.netdev_add(json!({"type": "user", "id": "hostnet1"}))
        .await
        .unwrap();
    qmp.netdev_del("hostnet1").await.unwrap();
    let err = qmp.netdev_del("hostnet1").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "unable to execute QEMU command 'netdev_del': Device 'hostnet1' not found"
    );
    qemu.quit(&qmp).await;
}
