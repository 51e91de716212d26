//! `<disk type='volume'>` on real guests run by `QemuDriver` (the test guest of
//! `cargo xtask guest`, under TCG), with a fake storage driver resolving the volumes: a
//! file volume at start and by hotplug, the volumes recorded in use and released, the
//! errors of unknown pools and of no storage driver, and an iSCSI LUN of a real `tgtd`
//! opened by QEMU's own `iscsi` driver.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{guest_dir, guest_domain, serial_pty, Reaper, Scratch};

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use oxvirt_domain::driver::volumes::{ResolvedVolume, StorageVolumes, VolumeSource};
use oxvirt_domain::driver::{DomainRef, Hypervisor};
use oxvirt_qemu::driver::{Attach, QemuDriver};
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

/// Pool `p` of fixed volumes; records what each domain uses, and every call.
#[derive(Default)]
struct Fake {
    volumes: Mutex<HashMap<String, VolumeSource>>,
    in_use: Mutex<HashMap<String, Vec<String>>>,
    calls: Mutex<Vec<String>>,
}

impl Fake {
    fn add(&self, name: &str, source: VolumeSource) {
        self.volumes
            .lock()
            .unwrap()
            .insert(name.to_string(), source);
    }

    fn in_use(&self, domain: &str) -> Option<Vec<String>> {
        self.in_use.lock().unwrap().get(domain).cloned()
    }

    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}

#[async_trait]
impl StorageVolumes for Fake {
    async fn resolve(
        &self,
        pool: &str,
        volume: &str,
    ) -> oxvirt_domain::driver::Result<ResolvedVolume> {
        if pool != "p" {
            return Err(VirError::new(
                ErrorDomain::Storage,
                ErrorCode::NoStoragePool,
                format!("no storage pool with matching name '{pool}'"),
            ));
        }
        let source = self.volumes.lock().unwrap().get(volume).cloned();
        let source = source.ok_or_else(|| {
            VirError::new(
                ErrorDomain::Storage,
                ErrorCode::NoStorageVol,
                format!("no storage vol with matching name '{volume}'"),
            )
        })?;
        let key = match &source {
            VolumeSource::File(p) | VolumeSource::Block(p) => p.clone(),
            VolumeSource::Iscsi { target, lun, .. } => format!("{target}/{lun}"),
        };
        Ok(ResolvedVolume {
            source,
            format: Some("raw".into()),
            key,
        })
    }

    fn set_in_use(&self, domain: &str, keys: Vec<String>) {
        self.calls
            .lock()
            .unwrap()
            .push(format!("set {domain} {}", keys.join(" ")));
        self.in_use.lock().unwrap().insert(domain.to_string(), keys);
    }

    fn clear_in_use(&self, domain: &str) {
        self.calls.lock().unwrap().push(format!("clear {domain}"));
        self.in_use.lock().unwrap().remove(domain);
    }
}

fn have_guest(test: &str) -> bool {
    let ok =
        guest_dir().join("vmlinuz").exists() && Path::new("/usr/bin/qemu-system-x86_64").exists();
    common::usable(
        test,
        ok,
        "no test guest under target/guest (cargo xtask guest) or no QEMU",
    )
}

async fn wait_serial(path: &Path, want: &str, after: usize, secs: u64) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(secs) {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.get(after..).is_some_and(|t| t.contains(want)) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

fn serial_len(path: &Path) -> usize {
    std::fs::read_to_string(path).map(|t| t.len()).unwrap_or(0)
}

fn sparse(path: &Path, size: u64) {
    std::fs::File::create(path).unwrap().set_len(size).unwrap();
}

/// Copies the guest's serial pty into `out`.
fn copy_serial(pty: String, out: PathBuf) {
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        let Ok(mut input) = std::fs::File::open(&pty) else {
            return;
        };
        let mut file = std::fs::File::create(&out).unwrap();
        let mut buf = [0u8; 4096];
        while let Ok(n) = input.read(&mut buf) {
            if n == 0 || file.write_all(&buf[..n]).is_err() {
                break;
            }
        }
    });
}

/// Starts domain `name` with `disks` on a driver whose volumes `fake` resolves; waits for
/// the guest to boot.
async fn start(
    scratch: &Scratch,
    fake: &Arc<Fake>,
    name: &str,
    disks: &str,
) -> (QemuDriver, DomainRef, PathBuf, Reaper) {
    let attach = Attach {
        ports: None,
        volumes: Some(fake.clone() as Arc<dyn StorageVolumes>),
    };
    let driver = QemuDriver::open_with(scratch.config(), attach)
        .await
        .unwrap();
    let xml = guest_domain(
        name,
        "<vcpu>1</vcpu>",
        &format!("{disks}<serial type='pty'/>"),
    );
    let dom = driver.define_xml(&xml, 0).await.unwrap();
    driver.create(&dom, 0).await.unwrap();
    let reaper = Reaper(driver.running_pids());
    let serial = scratch.0.join("serial.log");
    copy_serial(
        serial_pty(&driver.xml_desc(&dom, 0).await.unwrap()),
        serial.clone(),
    );
    assert!(
        wait_serial(&serial, "OXVIRT-GUEST-READY", 0, 90).await,
        "guest did not boot"
    );
    (driver, dom, serial, reaper)
}

fn volume_disk(volume: &str, dev: &str) -> String {
    format!(
        "<disk type='volume' device='disk'><source pool='p' volume='{volume}'/>\
         <target dev='{dev}' bus='virtio'/></disk>"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_sees_its_volume_disks_and_they_are_recorded_in_use() {
    if !have_guest("a_guest_sees_its_volume_disks_and_they_are_recorded_in_use") {
        return;
    }
    let scratch = Scratch::new("vols", "file");
    let fake = Arc::new(Fake::default());
    let a = scratch.0.join("a.img");
    let b = scratch.0.join("b.img");
    let plain = scratch.0.join("plain.img");
    sparse(&a, 24 << 20);
    sparse(&b, 16 << 20);
    sparse(&plain, 8 << 20);
    let a = a.display().to_string();
    let b = b.display().to_string();
    let plain = plain.display().to_string();
    fake.add("a.img", VolumeSource::File(a.clone()));
    fake.add("b.img", VolumeSource::File(b.clone()));
    let disks = format!(
        "{}<disk type='file' device='disk'><driver name='qemu' type='raw'/>\
         <source file='{plain}'/><target dev='vdc' bus='virtio'/></disk>",
        volume_disk("a.img", "vda")
    );
    let (driver, dom, serial, _reaper) = start(&scratch, &fake, "vol1", &disks).await;

    // The guest sees the 24 MiB volume and the 8 MiB file (sizes in 512-byte sectors; the
    // guest names its disks in the order it finds them).
    assert!(
        wait_serial(&serial, "OXVIRT-DISK-SIZES: vda=49152 vdb=16384", 0, 30).await,
        "{}",
        std::fs::read_to_string(&serial).unwrap()
    );
    // The live XML keeps the volume and takes its format.
    let xml = driver.xml_desc(&dom, 0).await.unwrap();
    assert!(
        xml.contains(
            "<disk type='volume' device='disk'>\n      <driver name='qemu' type='raw'/>\n      \
             <source pool='p' volume='a.img'/>"
        ),
        "{xml}"
    );
    assert!(!xml.contains(&a), "{xml}");
    // The inactive definition is as defined.
    let inactive = driver.xml_desc(&dom, 2).await.unwrap();
    assert!(
        !inactive.contains("type='raw'/>\n      <source pool"),
        "{inactive}"
    );
    assert_eq!(fake.in_use("vol1").unwrap(), [a.clone(), plain.clone()]);

    // Hotplug a second volume: the guest sees it, and it is in use.
    let mark = serial_len(&serial);
    let hot = volume_disk("b.img", "vdb");
    driver.attach_device(&dom, &hot, 1).await.unwrap();
    assert!(
        wait_serial(
            &serial,
            "OXVIRT-DISK-SIZES: vda=49152 vdb=16384 vdc=32768",
            mark,
            30
        )
        .await,
        "guest never saw vdb: {}",
        std::fs::read_to_string(&serial).unwrap()
    );
    let xml = driver.xml_desc(&dom, 0).await.unwrap();
    assert!(xml.contains("<source pool='p' volume='b.img'/>"), "{xml}");
    assert_eq!(
        fake.in_use("vol1").unwrap(),
        [a.clone(), b.clone(), plain.clone()]
    );

    // Unplugged: no longer in use once QEMU released it.
    driver.detach_device(&dom, &hot, 1).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while fake.in_use("vol1").unwrap().contains(&b) {
        assert!(Instant::now() < deadline, "{:?}", fake.calls());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(fake.in_use("vol1").unwrap(), [a.clone(), plain.clone()]);

    // Destroyed: nothing in use.
    driver.destroy(&dom, 0).await.unwrap();
    assert_eq!(fake.in_use("vol1"), None);
    assert_eq!(fake.calls().last().unwrap(), "clear vol1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_volumes_and_a_missing_storage_driver_keep_the_domain_off() {
    if !common::have_qemu("unknown_volumes_and_a_missing_storage_driver_keep_the_domain_off") {
        return;
    }
    let scratch = Scratch::new("vols", "errors");
    let fake = Arc::new(Fake::default());
    let attach = Attach {
        ports: None,
        volumes: Some(fake.clone() as Arc<dyn StorageVolumes>),
    };
    let driver = QemuDriver::open_with(scratch.config(), attach)
        .await
        .unwrap();
    for (i, (disk, code, message)) in [
        (
            "<disk type='volume' device='disk'><source pool='nope' volume='x'/>\
             <target dev='vda' bus='virtio'/></disk>",
            ErrorCode::NoStoragePool,
            "Storage pool not found: no storage pool with matching name 'nope'",
        ),
        (
            "<disk type='volume' device='disk'><source pool='p' volume='x'/>\
             <target dev='vda' bus='virtio'/></disk>",
            ErrorCode::NoStorageVol,
            "Storage volume not found: no storage vol with matching name 'x'",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let xml = guest_domain(&format!("bad{i}"), "", disk);
        let dom = driver.define_xml(&xml, 0).await.unwrap();
        let e = driver.create(&dom, 0).await.unwrap_err();
        assert_eq!(e.code, code);
        assert_eq!(e.message, message);
        assert!(!driver.is_active(&dom).await.unwrap());
        assert!(driver.running_pids().is_empty());
    }
    assert!(fake.calls().is_empty(), "{:?}", fake.calls());

    // No storage driver at all.
    let scratch = Scratch::new("vols", "nostorage");
    let driver = QemuDriver::open(scratch.config()).await.unwrap();
    let xml = guest_domain("bad", "", &volume_disk("a.img", "vda"));
    let dom = driver.define_xml(&xml, 0).await.unwrap();
    let e = driver.create(&dom, 0).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::NoConnect);
    assert_eq!(
        e.message,
        "no connection driver available for storage:///system"
    );
    assert!(!driver.is_active(&dom).await.unwrap());
}

/// A `tgtd` on a free portal with a private control port, one target with one LUN
/// backed by a sparse file; taken down when dropped.
struct Tgtd {
    child: Child,
    control: String,
    port: u16,
    iqn: String,
    dir: PathBuf,
}

impl Tgtd {
    fn adm(&self, args: &[&str]) -> Result<(), String> {
        let out = Command::new("tgtadm")
            .args(["-C", &self.control])
            .args(args)
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    fn start(size: u64) -> Tgtd {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // tgtadm wants a control port below 32768.
        let control = (24_000 + std::process::id() % 8_000).to_string();
        let child = Command::new("tgtd")
            .args(["-f", "-C", &control, "--iscsi"])
            .arg(format!("portal=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn tgtd");
        let id = format!("{}-{control}", std::process::id());
        let t = Tgtd {
            child,
            control,
            port,
            iqn: format!("iqn.2024-01.org.oxvirt:qemu-{id}"),
            dir: std::env::temp_dir().join(format!("oxvirt-qemu-iscsi-{id}")),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while let Err(e) = t.adm(&["--lld", "iscsi", "--op", "show", "--mode", "target"]) {
            assert!(Instant::now() < deadline, "tgtd did not come up: {e}");
            std::thread::sleep(Duration::from_millis(50));
        }
        std::fs::create_dir_all(&t.dir).unwrap();
        let lun = t.dir.join("lun1.img");
        sparse(&lun, size);
        let lun = lun.display().to_string();
        for args in [
            vec![
                "--op", "new", "--mode", "target", "--tid", "1", "-T", &t.iqn,
            ],
            vec![
                "--op",
                "new",
                "--mode",
                "logicalunit",
                "--tid",
                "1",
                "--lun",
                "1",
                "-b",
                &lun,
            ],
            vec![
                "--op", "bind", "--mode", "target", "--tid", "1", "-I", "ALL",
            ],
        ] {
            let mut all = vec!["--lld", "iscsi"];
            all.extend(args);
            t.adm(&all).expect("tgtadm");
        }
        t
    }
}

impl Drop for Tgtd {
    fn drop(&mut self) {
        // tgtd ignores SIGTERM: take it offline, then delete the system.
        let _ = self.adm(&[
            "--op", "update", "--mode", "sys", "--name", "State", "-v", "offline",
        ]);
        let _ = self.adm(&["--op", "delete", "--mode", "system"]);
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(200));
                    let _ = self.adm(&["--op", "delete", "--mode", "system"]);
                }
                _ => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break;
                }
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        for suffix in ["", ".lock"] {
            let _ = std::fs::remove_file(format!("/var/run/tgtd/socket.{}{suffix}", self.control));
        }
    }
}

/// Whether QEMU has its iscsi block driver (Debian's qemu-block-extra).
fn have_qemu_iscsi() -> bool {
    Path::new("/usr/lib/x86_64-linux-gnu/qemu/block-iscsi.so").exists()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_sees_an_iscsi_direct_lun_of_a_real_target() {
    let test = "a_guest_sees_an_iscsi_direct_lun_of_a_real_target";
    if !have_guest(test) {
        return;
    }
    use oxvirt_xml::testdata::{have, is_root, unavailable};
    if !is_root() {
        unavailable(test, "needs root for tgtd");
        return;
    }
    for (ok, why) in [
        (have("tgtd") && have("tgtadm"), "tgt is not installed"),
        (
            have_qemu_iscsi(),
            "QEMU's iscsi driver (qemu-block-extra) is not installed",
        ),
    ] {
        if !ok {
            unavailable(test, why);
            return;
        }
    }
    let tgt = Tgtd::start(48 << 20);
    let scratch = Scratch::new("vols", "iscsi");
    let fake = Arc::new(Fake::default());
    fake.add(
        "unit:0:0:1",
        VolumeSource::Iscsi {
            host: "127.0.0.1".into(),
            port: tgt.port,
            target: tgt.iqn.clone(),
            lun: 1,
            initiator: Some("iqn.2024-01.org.oxvirt:initiator".into()),
        },
    );
    let (driver, dom, serial, _reaper) =
        start(&scratch, &fake, "vol2", &volume_disk("unit:0:0:1", "vda")).await;
    assert!(
        wait_serial(&serial, "OXVIRT-DISK-SIZES: vda=98304", 0, 30).await,
        "{}",
        std::fs::read_to_string(&serial).unwrap()
    );
    assert_eq!(fake.in_use("vol2").unwrap(), [format!("{}/1", tgt.iqn)]);
    let xml = driver.xml_desc(&dom, 0).await.unwrap();
    assert!(
        xml.contains("<source pool='p' volume='unit:0:0:1'/>"),
        "{xml}"
    );
    driver.destroy(&dom, 0).await.unwrap();
    assert_eq!(fake.in_use("vol2"), None);
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn a_reattached_domain_is_recorded_in_use_again() {
    if !have_guest("a_reattached_domain_is_recorded_in_use_again") {
        return;
    }
    let scratch = Scratch::new("vols", "reattach");
    let a = scratch.0.join("a.img");
    sparse(&a, 8 << 20);
    let a = a.display().to_string();
    let xml = guest_domain("vol3", "<vcpu>1</vcpu>", &volume_disk("a.img", "vda"));
    let open = |fake: &Arc<Fake>| {
        let attach = Attach {
            ports: None,
            volumes: Some(fake.clone() as Arc<dyn StorageVolumes>),
        };
        QemuDriver::open_with(scratch.config(), attach)
    };
    // The first driver starts the domain; its runtime then ends, as a daemon that exits
    // leaves QEMU running.
    let first = Arc::new(Fake::default());
    first.add("a.img", VolumeSource::File(a.clone()));
    let pids = runtime().block_on(async {
        let driver = open(&first).await.unwrap();
        let dom = driver.define_xml(&xml, 0).await.unwrap();
        driver.create(&dom, 0).await.unwrap();
        // Checked while the runtime runs: as it shuts down, the domain's monitor task sees
        // its QMP socket go and may clear the record (which is what a stopping daemon's
        // record is worth anyway).
        assert_eq!(first.in_use("vol3").unwrap(), vec![a.clone()]);
        driver.running_pids()
    });
    let _reaper = Reaper(pids);
    // The storage pools of a restarted daemon learn it again from the reattached domain.
    let second = Arc::new(Fake::default());
    second.add("a.img", VolumeSource::File(a.clone()));
    runtime().block_on(async {
        let driver = open(&second).await.unwrap();
        let dom = driver.lookup_by_name("vol3").await.unwrap();
        assert!(driver.is_active(&dom).await.unwrap(), "not reattached");
        assert_eq!(second.in_use("vol3").unwrap(), vec![a.clone()]);
        driver.destroy(&dom, 0).await.unwrap();
        assert_eq!(second.in_use("vol3"), None);
        assert_eq!(
            second.calls(),
            [format!("set vol3 {a}"), "clear vol3".to_string()]
        );
    });
}
