//! `type='volume'` disks resolved by a fake storage driver: the command line QEMU gets, the
//! live definition, the records of volumes in use, and libvirt's errors.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use oxvirt_domain::driver::volumes::{ResolvedVolume, StorageVolumes, VolumeSource};
use oxvirt_domain::Domain;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use super::*;
use crate::command::{build, BuildContext};
use crate::driver::{Attach, QemuConfig, QemuDriver};

/// Pools `files` (a dir pool), `lvs` (a logical pool) and `lun` (an iscsi-direct pool).
#[derive(Default)]
struct Fake {
    in_use: Mutex<HashMap<String, Vec<String>>>,
}

#[async_trait]
impl StorageVolumes for Fake {
    async fn resolve(
        &self,
        pool: &str,
        volume: &str,
    ) -> oxvirt_domain::driver::Result<ResolvedVolume> {
        let source = match (pool, volume) {
            ("files", "a.qcow2") => VolumeSource::File("/pools/files/a.qcow2".into()),
            ("files", "b.img") => VolumeSource::File("/pools/files/b.img".into()),
            ("lvs", "lv0") => VolumeSource::Block("/dev/vg0/lv0".into()),
            ("lun", "unit:0:0:2") => VolumeSource::Iscsi {
                host: "iscsi.example.com".into(),
                port: 3260,
                target: "iqn.2013-06.com.example:demo".into(),
                lun: 2,
                initiator: Some("iqn.2013-06.com.example:client".into()),
            },
            ("files" | "lvs" | "lun", _) => {
                return Err(VirError::new(
                    ErrorDomain::Storage,
                    ErrorCode::NoStorageVol,
                    format!("no storage vol with matching name '{volume}'"),
                ))
            }
            _ => {
                return Err(VirError::new(
                    ErrorDomain::Storage,
                    ErrorCode::NoStoragePool,
                    format!("no storage pool with matching name '{pool}'"),
                ))
            }
        };
        let format = match volume {
            "a.qcow2" => Some("qcow2".to_string()),
            _ => Some("raw".to_string()),
        };
        let key = match &source {
            VolumeSource::File(p) | VolumeSource::Block(p) => p.clone(),
            VolumeSource::Iscsi { lun, .. } => format!("ip-iscsi.example.com:3260-lun-{lun}"),
        };
        Ok(ResolvedVolume {
            source,
            format,
            key,
        })
    }

    fn set_in_use(&self, domain: &str, keys: Vec<String>) {
        self.in_use.lock().unwrap().insert(domain.to_string(), keys);
    }

    fn clear_in_use(&self, domain: &str) {
        self.in_use.lock().unwrap().remove(domain);
    }
}

fn domain(disks: &str) -> Domain {
    let xml = format!(
        "<domain type='qemu'><name>g</name>\
         <uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid><memory>219100</memory>\
         <os><type arch='x86_64' machine='pc'>hvm</type></os>\
         <devices><emulator>/usr/bin/qemu-system-x86_64</emulator>{disks}</devices></domain>"
    );
    Domain::parse(&xml).expect("domain").domain
}

const DISKS: &str = "<disk type='volume' device='disk'>\
    <source pool='files' volume='a.qcow2'/><target dev='vda' bus='virtio'/></disk>\
    <disk type='volume' device='disk'><driver name='qemu' type='raw'/>\
    <source pool='lvs' volume='lv0'/><target dev='vdb' bus='virtio'/></disk>\
    <disk type='volume' device='disk'>\
    <source pool='lun' volume='unit:0:0:2'/><target dev='vdc' bus='virtio'/></disk>\
    <disk type='file' device='disk'>\
    <source file='/tmp/plain.img'/><target dev='vdd' bus='virtio'/></disk>\
    <disk type='file' device='cdrom'><target dev='hdc' bus='ide'/><readonly/></disk>";

/// A driver under a fresh directory, with `volumes`; removed on drop.
struct Scratch(std::path::PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn driver(volumes: Option<Arc<dyn StorageVolumes>>) -> (QemuDriver, Scratch) {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("oxvirt-volumes-{}-{n}", std::process::id()));
    let scratch = Scratch(dir.clone());
    let config = QemuConfig::under(&dir.join("state"), &dir.join("run"));
    let attach = Attach {
        ports: None,
        volumes,
    };
    let d = QemuDriver::open_with(config, attach).await.expect("open");
    (d, scratch)
}

fn blockdevs(def: &Domain) -> Vec<String> {
    let argv = build(def, &BuildContext::libvirt_test("g")).expect("build");
    argv.windows(2)
        .filter(|w| w[0] == "-blockdev")
        .map(|w| w[1].clone())
        .collect()
}

#[tokio::test]
async fn file_block_and_iscsi_volumes_open_as_libvirt_opens_them() {
    let fake = Arc::new(Fake::default());
    let (d, _s) = driver(Some(fake.clone())).await;
    let def = domain(DISKS);
    let resolved = d.resolve_volumes(&def).await.expect("resolve");
    assert_eq!(resolved.iter().filter(|r| r.is_some()).count(), 3);
    let def = live_def(def, &resolved);
    let nodes = blockdevs(&runtime_def(&def, &resolved));
    assert_eq!(
        nodes,
        [
            r#"{"driver":"file","filename":"/pools/files/a.qcow2","node-name":"libvirt-4-storage","auto-read-only":true,"discard":"unmap"}"#,
            r#"{"node-name":"libvirt-4-format","read-only":false,"driver":"raw","file":"libvirt-4-storage"}"#,
            r#"{"driver":"host_device","filename":"/dev/vg0/lv0","node-name":"libvirt-3-storage","auto-read-only":true,"discard":"unmap"}"#,
            r#"{"node-name":"libvirt-3-format","read-only":false,"driver":"raw","file":"libvirt-3-storage"}"#,
            r#"{"driver":"iscsi","portal":"iscsi.example.com:3260","target":"iqn.2013-06.com.example:demo","lun":2,"transport":"tcp","initiator-name":"iqn.2013-06.com.example:client","node-name":"libvirt-2-storage","auto-read-only":true,"discard":"unmap"}"#,
            r#"{"node-name":"libvirt-2-format","read-only":false,"driver":"raw","file":"libvirt-2-storage"}"#,
            r#"{"driver":"file","filename":"/tmp/plain.img","node-name":"libvirt-1-storage","auto-read-only":true,"discard":"unmap"}"#,
            r#"{"node-name":"libvirt-1-format","read-only":false,"driver":"raw","file":"libvirt-1-storage"}"#,
        ]
    );
}

#[tokio::test]
async fn the_live_definition_keeps_the_volume_and_runs_it_raw() {
    // libvirt 9.0 runs a qcow2 volume of a dir pool as raw when the disk sets no format.
    let fake = Arc::new(Fake::default());
    let (d, _s) = driver(Some(fake.clone())).await;
    let def = domain(DISKS);
    let resolved = d.resolve_volumes(&def).await.expect("resolve");
    let xml = live_def(def, &resolved).to_xml();
    assert!(
        xml.contains(
            "<disk type='volume' device='disk'>\n      <driver name='qemu' type='raw'/>\n      \
             <source pool='files' volume='a.qcow2'/>"
        ),
        "{xml}"
    );
    assert!(
        xml.contains("<source pool='lun' volume='unit:0:0:2'/>"),
        "{xml}"
    );
    assert!(!xml.contains("/pools/files"), "{xml}");
    assert!(!xml.contains("iscsi.example.com"), "{xml}");
}

#[tokio::test]
async fn every_disk_is_recorded_in_use_then_cleared() {
    let fake = Arc::new(Fake::default());
    let (d, _s) = driver(Some(fake.clone())).await;
    let def = domain(DISKS);
    let resolved = d.resolve_volumes(&def).await.expect("resolve");
    d.set_in_use(&def, &resolved);
    assert_eq!(
        fake.in_use.lock().unwrap().get("g").cloned().unwrap(),
        [
            "/pools/files/a.qcow2",
            "/dev/vg0/lv0",
            "ip-iscsi.example.com:3260-lun-2",
            "/tmp/plain.img"
        ]
    );
    // A reattached domain is recorded again from its live definition.
    d.clear_in_use("g");
    assert!(fake.in_use.lock().unwrap().is_empty());
    d.record_in_use(&def).await;
    assert_eq!(fake.in_use.lock().unwrap()["g"].len(), 4);
    d.clear_in_use("g");
    assert!(fake.in_use.lock().unwrap().is_empty());
}

#[tokio::test]
async fn unknown_pools_and_volumes_fail_as_libvirt_fails() {
    let fake = Arc::new(Fake::default());
    let (d, _s) = driver(Some(fake.clone())).await;
    let e = d
        .resolve_volumes(&domain(
            "<disk type='volume' device='disk'><source pool='nope' volume='x'/>\
             <target dev='vda' bus='virtio'/></disk>",
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::NoStoragePool);
    assert_eq!(
        e.message,
        "Storage pool not found: no storage pool with matching name 'nope'"
    );
    let e = d
        .resolve_volumes(&domain(
            "<disk type='volume' device='disk'><source pool='files' volume='x'/>\
             <target dev='vda' bus='virtio'/></disk>",
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::NoStorageVol);
    assert_eq!(
        e.message,
        "Storage volume not found: no storage vol with matching name 'x'"
    );
}

#[tokio::test]
async fn direct_mode_block_volumes_are_refused_not_opened_on_the_host() {
    let fake = Arc::new(Fake::default());
    let (d, _s) = driver(Some(fake.clone())).await;
    let e = d
        .resolve_volumes(&domain(
            "<disk type='volume' device='disk'><source pool='lvs' volume='lv0' mode='direct'/>\
             <target dev='vda' bus='virtio'/></disk>",
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::ConfigUnsupported);
    assert!(
        e.message.contains("mode='direct' of volume 'lv0'"),
        "{}",
        e.message
    );
    // mode='host' is what opens the device.
    let ok = d
        .resolve_volumes(&domain(
            "<disk type='volume' device='disk'><source pool='lvs' volume='lv0' mode='host'/>\
             <target dev='vda' bus='virtio'/></disk>",
        ))
        .await
        .expect("host mode");
    assert!(ok[0].is_some());
}

#[tokio::test]
async fn without_a_storage_driver_volume_disks_are_refused() {
    let (d, _s) = driver(None).await;
    let e = d.resolve_volumes(&domain(DISKS)).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::NoConnect);
    assert_eq!(e.domain, ErrorDomain::None);
    assert_eq!(
        e.message,
        "no connection driver available for storage:///system"
    );
    // Domains without volume disks need none.
    let plain = domain(
        "<disk type='file' device='disk'><source file='/tmp/x.img'/>\
                        <target dev='vda' bus='virtio'/></disk>",
    );
    assert_eq!(d.resolve_volumes(&plain).await.expect("resolve"), [None]);
}

#[test]
fn an_unresolved_volume_is_never_started_without_its_source() {
    let def = domain(DISKS);
    let e = build(&def, &BuildContext::libvirt_test("g")).unwrap_err();
    assert!(e.message.contains("not resolved"), "{}", e.message);
}

#[tokio::test]
async fn a_format_the_disk_sets_is_kept() {
    let fake = Arc::new(Fake::default());
    let (d, _s) = driver(Some(fake.clone())).await;
    let def = domain(
        "<disk type='volume' device='disk'><driver name='qemu' type='qcow2'/>\
         <source pool='files' volume='a.qcow2'/><target dev='vda' bus='virtio'/></disk>",
    );
    let resolved = d.resolve_volumes(&def).await.expect("resolve");
    let def = live_def(def, &resolved);
    assert!(def.to_xml().contains("<driver name='qemu' type='qcow2'/>"));
    assert_eq!(
        blockdevs(&runtime_def(&def, &resolved))[1],
        r#"{"node-name":"libvirt-1-format","read-only":false,"driver":"qcow2","file":"libvirt-1-storage"}"#
    );
}
