//! Internal snapshots through the QEMU driver with a real QEMU (TCG, no kernel: SeaBIOS
//! idles) and a real qcow2 image: snapshots of inactive domains with `qemu-img`, of
//! running ones with QMP, reverts that bring back the disk content (checked with
//! `qemu-io`), the tree (current, parents, children), deletes, the metadata read back by
//! a reopened driver, the events of a revert, and libvirt's errors.

#![allow(clippy::unwrap_used)]

mod common;

use common::Scratch;

use std::path::Path;
use std::process::Command;

use oxvirt_domain::driver::event::{
    DefinedDetail, ResumedDetail, StartedDetail, StoppedDetail, SuspendedDetail,
};
use oxvirt_domain::driver::flags::{snapshot_create, snapshot_delete, snapshot_revert};
use oxvirt_domain::driver::state::{PausedReason, RunningReason, ShutoffReason};
use oxvirt_domain::driver::{
    DomainRef, EventKind, EventReceiver, Hypervisor, Lifecycle, SnapshotRef, StateReason,
};
use oxvirt_qemu::driver::QemuDriver;
use oxvirt_xml::{ErrorCode, ErrorDomain};

const QEMU: &str = "/usr/bin/qemu-system-x86_64";

impl Scratch {
    fn image(&self, name: &str, format: &str) -> String {
        let path = self.0.join(name);
        let out = Command::new("qemu-img")
            .args(["create", "-q", "-f", format])
            .arg(&path)
            .arg("16M")
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        path.to_string_lossy().into_owned()
    }
}

/// Destroys whatever the driver still runs when a test ends, even a failing one.
struct Guard(QemuDriver);

impl Drop for Guard {
    fn drop(&mut self) {
        for pid in self.0.running_pids() {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
    }
}

fn have_qemu(test: &str) -> bool {
    let ok = Path::new(QEMU).exists() && Command::new("qemu-io").arg("--version").output().is_ok();
    common::usable(test, ok, &format!("no {QEMU} or qemu-io"))
}

fn domain_xml(name: &str, disk: &str, format: &str) -> String {
    format!(
        "<domain type='qemu'><name>{name}</name><memory unit='MiB'>64</memory>\
         <vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os><devices>\
         <disk type='file' device='disk'><driver name='qemu' type='{format}'/>\
         <source file='{disk}'/><target dev='vda' bus='virtio'/></disk></devices></domain>"
    )
}

/// `qemu-io -c CMD` on an image not in use; whether it succeeded (a `read -P` that finds
/// other bytes fails with "Pattern verification failed").
fn qemu_io(path: &str, cmd: &str) -> bool {
    let out = Command::new("qemu-io")
        .args(["-f", "qcow2", "-c", cmd, path])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    out.status.success() && !text.contains("Pattern verification failed")
}

/// The snapshot names `qemu-img snapshot -l` lists (`-U`: the image may be in use).
fn image_snapshots(path: &str) -> Vec<String> {
    let out = Command::new("qemu-img")
        .args(["snapshot", "-l", "-U", path])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .skip(2)
        .filter_map(|l| l.split_whitespace().nth(1).map(str::to_string))
        .collect()
}

fn names(snaps: &[SnapshotRef]) -> Vec<&str> {
    snaps.iter().map(|s| s.name.as_str()).collect()
}

fn snap_xml(name: &str) -> String {
    format!("<domainsnapshot><name>{name}</name></domainsnapshot>")
}

/// The lifecycle events received so far.
fn drain(rx: &mut EventReceiver) -> Vec<Lifecycle> {
    let mut out = Vec::new();
    while let Ok(e) = rx.try_recv() {
        if let EventKind::Lifecycle(l) = e.kind {
            out.push(l);
        }
    }
    out
}

async fn define(d: &QemuDriver, xml: &str) -> DomainRef {
    d.define_xml(xml, 0).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inactive_snapshots_revert_the_disk_and_survive_a_reopen() {
    if !have_qemu("inactive_snapshots_revert_the_disk_and_survive_a_reopen") {
        return;
    }
    let scratch = Scratch::new("snap", "inactive");
    let disk = scratch.image("d.qcow2", "qcow2");
    assert!(qemu_io(&disk, "write -P 0x5a 0 4k"));
    let d = QemuDriver::open(scratch.config()).await.unwrap();
    let dom = define(&d, &domain_xml("si", &disk, "qcow2")).await;

    let s1 = d.snapshot_create(&dom, &snap_xml("s1"), 0).await.unwrap();
    assert_eq!(s1.name, "s1");
    assert_eq!(image_snapshots(&disk), ["s1"]);
    let xml = d.snapshot_xml(&s1, 0).await.unwrap();
    assert!(xml.contains("<state>shutoff</state>"), "{xml}");
    assert!(xml.contains("<memory snapshot='no'/>"), "{xml}");
    assert!(
        xml.contains("<disk name='vda' snapshot='internal'/>"),
        "{xml}"
    );
    assert!(!xml.contains("<active>"), "{xml}");
    assert!(xml.contains("<domain type='qemu'>"), "{xml}");

    // Overwrite, snapshot again (a child of s1), revert to s1.
    assert!(qemu_io(&disk, "write -P 0x11 0 4k"));
    let s2 = d.snapshot_create(&dom, &snap_xml("s2"), 0).await.unwrap();
    assert_eq!(d.snapshot_parent(&s2, 0).await.unwrap().name, "s1");
    assert_eq!(d.snapshot_current(&dom, 0).await.unwrap().name, "s2");
    let mut rx = d.subscribe();
    d.snapshot_revert(&s1, 0).await.unwrap();
    assert_eq!(
        drain(&mut rx),
        [Lifecycle::Defined(DefinedDetail::FromSnapshot)]
    );
    assert!(qemu_io(&disk, "read -P 0x5a 0 4k"));
    assert!(!qemu_io(&disk, "read -P 0x11 0 4k"));
    assert!(d.snapshot_is_current(&s1, 0).await.unwrap());
    assert!(!d.snapshot_is_current(&s2, 0).await.unwrap());
    assert!(d.has_current_snapshot(&dom, 0).await.unwrap());
    assert!(d.snapshot_has_metadata(&s2, 0).await.unwrap());
    let children = d.snapshot_list_children(&s1, 0).await.unwrap();
    assert_eq!(names(&children), ["s2"]);
    let s3 = d.snapshot_create(&dom, &snap_xml("s3"), 0).await.unwrap();
    assert_eq!(d.snapshot_parent(&s3, 0).await.unwrap().name, "s1");
    let all = d.snapshot_list(&dom, 0).await.unwrap();
    assert_eq!(names(&all), ["s1", "s2", "s3"]);

    // Errors: an unknown name, an inactive domain with snapshots cannot go.
    let e = d.snapshot_lookup(&dom, "nope", 0).await.unwrap_err();
    assert_eq!(
        (e.code, e.domain, e.message.as_str()),
        (
            ErrorCode::NoDomainSnapshot,
            ErrorDomain::Qemu,
            "Domain snapshot not found: no domain snapshot with matching name 'nope'"
        )
    );
    let e = d.snapshot_parent(&s1, 0).await.unwrap_err();
    assert_eq!(
        e.message,
        "Domain snapshot not found: snapshot 's1' does not have a parent"
    );
    let e = d.undefine(&dom, 0).await.unwrap_err();
    assert_eq!(
        e.message,
        "Requested operation is not valid: cannot delete inactive domain with 3 snapshots"
    );

    // The metadata is read back by a new driver on the same directories.
    drop(d);
    let d = QemuDriver::open(scratch.config()).await.unwrap();
    let dom = d.lookup_by_name("si").await.unwrap();
    let all = d.snapshot_list(&dom, 0).await.unwrap();
    assert_eq!(names(&all), ["s1", "s2", "s3"]);
    assert_eq!(d.snapshot_current(&dom, 0).await.unwrap().name, "s3");
    let s2 = d.snapshot_lookup(&dom, "s2", 0).await.unwrap();
    assert_eq!(d.snapshot_parent(&s2, 0).await.unwrap().name, "s1");
    let xml = d.snapshot_xml(&s2, 0).await.unwrap();
    assert!(
        xml.contains("<parent>\n    <name>s1</name>\n  </parent>"),
        "{xml}"
    );

    // Deleting s1 gives its children to nobody: they become roots; its data goes.
    let s1 = d.snapshot_lookup(&dom, "s1", 0).await.unwrap();
    d.snapshot_delete(&s1, 0).await.unwrap();
    assert_eq!(image_snapshots(&disk), ["s2", "s3"]);
    let roots = d
        .snapshot_list(&dom, oxvirt_domain::driver::flags::snapshot_list::ROOTS)
        .await
        .unwrap();
    assert_eq!(names(&roots), ["s3", "s2"]);
    assert!(d.snapshot_parent(&s2, 0).await.is_err());
    // METADATA_ONLY leaves the image alone.
    let s3 = d.snapshot_lookup(&dom, "s3", 0).await.unwrap();
    d.snapshot_delete(&s3, snapshot_delete::METADATA_ONLY)
        .await
        .unwrap();
    assert_eq!(image_snapshots(&disk), ["s2", "s3"]);
    assert!(!d.has_current_snapshot(&dom, 0).await.unwrap());
    let files: Vec<_> = std::fs::read_dir(scratch.0.join("state/qemu/snapshot/si"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(files, ["s2.xml"]);

    // A tree deleted with its children.
    let a = d.snapshot_create(&dom, &snap_xml("a"), 0).await.unwrap();
    d.snapshot_create(&dom, &snap_xml("b"), 0).await.unwrap();
    d.snapshot_create(&dom, &snap_xml("c"), 0).await.unwrap();
    d.snapshot_delete(&a, snapshot_delete::CHILDREN_ONLY)
        .await
        .unwrap();
    assert_eq!(names(&d.snapshot_list(&dom, 0).await.unwrap()), ["s2", "a"]);
    assert_eq!(d.snapshot_current(&dom, 0).await.unwrap().name, "a");
    d.snapshot_create(&dom, &snap_xml("b"), 0).await.unwrap();
    d.snapshot_delete(&a, snapshot_delete::CHILDREN)
        .await
        .unwrap();
    assert_eq!(names(&d.snapshot_list(&dom, 0).await.unwrap()), ["s2"]);
    assert_eq!(image_snapshots(&disk), ["s2", "s3"]);

    // Reverting to a snapshot of the domain shut off, asking it to run: a boot.
    let _guard = Guard(d.clone());
    let s2 = d.snapshot_lookup(&dom, "s2", 0).await.unwrap();
    let mut rx = d.subscribe();
    d.snapshot_revert(&s2, snapshot_revert::RUNNING)
        .await
        .unwrap();
    assert_eq!(
        drain(&mut rx),
        [
            Lifecycle::Resumed(ResumedDetail::Unpaused),
            Lifecycle::Started(StartedDetail::FromSnapshot),
            Lifecycle::Defined(DefinedDetail::FromSnapshot),
        ]
    );
    let dom = d.lookup_by_name("si").await.unwrap();
    assert_eq!(
        d.state(&dom, 0).await.unwrap(),
        StateReason::Running(RunningReason::Booted)
    );
    d.destroy(&dom, 0).await.unwrap();
    d.snapshot_revert(&s2, snapshot_revert::PAUSED)
        .await
        .unwrap();
    let events = drain(&mut rx);
    assert_eq!(
        events[events.len() - 3..],
        [
            Lifecycle::Started(StartedDetail::FromSnapshot),
            Lifecycle::Suspended(SuspendedDetail::FromSnapshot),
            Lifecycle::Defined(DefinedDetail::FromSnapshot),
        ]
    );
    let dom = d.lookup_by_name("si").await.unwrap();
    assert_eq!(
        d.state(&dom, 0).await.unwrap(),
        StateReason::Paused(PausedReason::User)
    );
    d.destroy(&dom, 0).await.unwrap();
    assert!(qemu_io(&disk, "read -P 0x11 0 4k"));

    d.undefine(
        &dom,
        oxvirt_domain::driver::flags::undefine::SNAPSHOTS_METADATA,
    )
    .await
    .unwrap();
    assert!(!scratch.0.join("state/qemu/snapshot/si").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_snapshots_save_and_load_through_qemu() {
    if !have_qemu("running_snapshots_save_and_load_through_qemu") {
        return;
    }
    let scratch = Scratch::new("snap", "running");
    let disk = scratch.image("d.qcow2", "qcow2");
    assert!(qemu_io(&disk, "write -P 0x5a 0 4k"));
    let d = QemuDriver::open(scratch.config()).await.unwrap();
    let _guard = Guard(d.clone());
    let dom = define(&d, &domain_xml("sr", &disk, "qcow2")).await;
    let dom = d.create(&dom, 0).await.unwrap();
    let mut rx = d.subscribe();

    // A snapshot of a running domain: paused and resumed, reported as libvirtd 9.0 does.
    let r1 = d.snapshot_create(&dom, &snap_xml("r1"), 0).await.unwrap();
    assert_eq!(
        drain(&mut rx),
        [
            Lifecycle::Suspended(SuspendedDetail::Paused),
            Lifecycle::Resumed(ResumedDetail::Unpaused),
        ]
    );
    assert_eq!(
        d.state(&dom, 0).await.unwrap(),
        StateReason::Running(RunningReason::Unpaused)
    );
    assert_eq!(image_snapshots(&disk), ["r1"]);
    let xml = d.snapshot_xml(&r1, 0).await.unwrap();
    assert!(xml.contains("<state>running</state>"), "{xml}");
    assert!(xml.contains("<memory snapshot='internal'/>"), "{xml}");
    assert!(xml.contains("<inactiveDomain type='qemu'>"), "{xml}");

    // Reverting a running domain restarts it from the snapshot, as libvirt 9.0 does.
    d.snapshot_revert(&r1, 0).await.unwrap();
    assert_eq!(
        drain(&mut rx),
        [
            Lifecycle::Stopped(StoppedDetail::FromSnapshot),
            Lifecycle::Started(StartedDetail::FromSnapshot),
            Lifecycle::Resumed(ResumedDetail::FromSnapshot),
            Lifecycle::Defined(DefinedDetail::FromSnapshot),
        ]
    );
    let dom = d.lookup_by_name("sr").await.unwrap();
    assert_eq!(
        d.state(&dom, 0).await.unwrap(),
        StateReason::Running(RunningReason::FromSnapshot)
    );
    d.snapshot_revert(&r1, snapshot_revert::PAUSED)
        .await
        .unwrap();
    assert_eq!(
        drain(&mut rx),
        [
            Lifecycle::Stopped(StoppedDetail::FromSnapshot),
            Lifecycle::Started(StartedDetail::FromSnapshot),
            Lifecycle::Suspended(SuspendedDetail::FromSnapshot),
            Lifecycle::Defined(DefinedDetail::FromSnapshot),
        ]
    );
    let dom = d.lookup_by_name("sr").await.unwrap();
    assert_eq!(
        d.state(&dom, 0).await.unwrap(),
        StateReason::Paused(PausedReason::FromSnapshot)
    );

    // HALT stops the domain after the snapshot.
    let r2 = d
        .snapshot_create(&dom, &snap_xml("r2"), snapshot_create::HALT)
        .await
        .unwrap();
    assert_eq!(
        drain(&mut rx),
        [Lifecycle::Stopped(StoppedDetail::FromSnapshot)]
    );
    assert_eq!(
        d.state(&dom, 0).await.unwrap(),
        StateReason::Shutoff(ShutoffReason::FromSnapshot)
    );
    let xml = d.snapshot_xml(&r2, 0).await.unwrap();
    assert!(xml.contains("<state>paused</state>"), "{xml}");
    assert_eq!(d.snapshot_parent(&r2, 0).await.unwrap().name, "r1");

    // Back to r1 from a shut-off domain, with the disk changed meanwhile.
    assert!(qemu_io(&disk, "write -P 0x11 0 4k"));
    d.snapshot_revert(&r1, 0).await.unwrap();
    assert_eq!(
        drain(&mut rx),
        [
            Lifecycle::Started(StartedDetail::FromSnapshot),
            Lifecycle::Resumed(ResumedDetail::FromSnapshot),
            Lifecycle::Defined(DefinedDetail::FromSnapshot),
        ]
    );
    let dom = d.lookup_by_name("sr").await.unwrap();
    // Deleting a snapshot of a running domain goes through QEMU.
    d.snapshot_delete(&r2, 0).await.unwrap();
    assert_eq!(image_snapshots(&disk), ["r1"]);
    d.destroy(&dom, 0).await.unwrap();
    assert!(qemu_io(&disk, "read -P 0x5a 0 4k"));
    assert!(d.running_pids().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_use_libvirts_words() {
    if !have_qemu("refusals_use_libvirts_words") {
        return;
    }
    let scratch = Scratch::new("snap", "errors");
    let raw = scratch.image("r.img", "raw");
    let d = QemuDriver::open(scratch.config()).await.unwrap();
    let dom = define(&d, &domain_xml("sx", &raw, "raw")).await;
    let e = d
        .snapshot_create(&dom, &snap_xml("x"), 0)
        .await
        .unwrap_err();
    assert_eq!(
        (e.code, e.domain, e.message.as_str()),
        (
            ErrorCode::ConfigUnsupported,
            ErrorDomain::Qemu,
            "unsupported configuration: internal snapshot for disk vda unsupported for \
             storage type raw"
        )
    );
    assert!(d.snapshot_list(&dom, 0).await.unwrap().is_empty());
    let e = d.snapshot_current(&dom, 0).await.unwrap_err();
    assert_eq!(
        e.message,
        "Domain snapshot not found: the domain does not have a current snapshot"
    );
    let e = d
        .snapshot_create(&dom, &snap_xml("x"), 1 << 20)
        .await
        .unwrap_err();
    assert_eq!(
        e.message,
        "unsupported flags (0x100000) in function qemuDomainSnapshotCreateXML"
    );
    let e = d
        .snapshot_create(&dom, &snap_xml("x"), snapshot_create::QUIESCE)
        .await
        .unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (
            ErrorCode::InvalidArg,
            "Flag 'VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY' is required by flag \
             'VIR_DOMAIN_SNAPSHOT_CREATE_QUIESCE'"
        )
    );
    let e = d
        .snapshot_create(&dom, &snap_xml("x"), snapshot_create::LIVE)
        .await
        .unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (
            ErrorCode::OperationUnsupported,
            "Operation not supported: live snapshot creation is supported only during full \
             system snapshots"
        )
    );
    // NO_METADATA of a qcow2 disk: the image has the snapshot, the driver does not.
    let disk = scratch.image("d.qcow2", "qcow2");
    let dom = define(&d, &domain_xml("sn", &disk, "qcow2")).await;
    let s = d
        .snapshot_create(&dom, &snap_xml("nm"), snapshot_create::NO_METADATA)
        .await
        .unwrap();
    assert_eq!(s.name, "nm");
    for (name, why) in [
        ("a/b", "name can't contain '/'"),
        (".h", "name can't start with '.'"),
    ] {
        let e = d
            .snapshot_create(&dom, &snap_xml(name), 0)
            .await
            .unwrap_err();
        assert_eq!(
            (e.code, e.message),
            (
                ErrorCode::XmlDetail,
                format!("invalid snapshot name '{name}': {why}")
            )
        );
    }
    assert_eq!(image_snapshots(&disk), ["nm"]);
    assert!(d.snapshot_list(&dom, 0).await.unwrap().is_empty());
    let e = d.snapshot_revert(&s, 0).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::NoDomainSnapshot);
}
