//! The `logical` backend: every operation's LVM command lines through a fake runner, the
//! content operations through a stand-in device file, and a pool's life on a real loop
//! device (root only; a Drop guard removes the volume group, physical volume, loop device
//! and file).

use std::io::{Read, Write};
use std::path::PathBuf;

use oxvirt_storage::backend::logical::LogicalBackend;
use oxvirt_storage::backend::Backend;
use oxvirt_storage::lvm::{Activation, FakeRunner, Lvm, Output, NO_DEVICE_MAPPER};
use oxvirt_storage::model::{Pool, PoolType, Volume};
use oxvirt_xml::testdata::{have, is_root, unavailable};
use oxvirt_xml::ErrorCode;

const MIB: u64 = 1 << 20;
const LVS: &str = include_str!("../src/lvm/testdata/lvs-metadata-only.json");
const VGS: &str = include_str!("../src/lvm/testdata/vgs.json");
const PVS: &str = include_str!("../src/lvm/testdata/pvs.json");
const NO_ACT: &str = "--config 'global { activation = 0 }'";

fn pool(vg: &str, device: &str) -> Pool {
    Pool::parse(&format!(
        "<pool type='logical'><name>{vg}</name><source><device path='{device}'/>\
         <name>{vg}</name><format type='lvm2'/></source>\
         <target><path>/dev/{vg}</path></target></pool>"
    ))
    .expect("pool XML")
}

fn volume(name: &str, mib: u64) -> Volume {
    Volume::parse(
        &format!("<volume><name>{name}</name><capacity unit='MiB'>{mib}</capacity></volume>"),
        PoolType::Logical,
    )
    .expect("volume XML")
}

fn backend(activation: Activation) -> LogicalBackend<FakeRunner> {
    LogicalBackend::new(Lvm::new(FakeRunner::new(), activation))
}

fn take_calls(b: &LogicalBackend<FakeRunner>, from: &mut usize) -> Vec<String> {
    let calls = b.lvm().runner().calls();
    let new = calls[*from..].to_vec();
    *from = calls.len();
    new
}

#[test]
fn pool_operations_run_lvm_as_libvirt() {
    let b = backend(Activation::Unavailable);
    let p = pool("oxprobe_vg", "/dev/loop0");
    let fake = b.lvm().runner();
    let mut seen = 0;
    assert_eq!(b.pool_type(), "logical");

    fake.answer("pvs", Output::ok(PVS));
    assert!(b.check(&p).unwrap());
    assert_eq!(
        take_calls(&b, &mut seen),
        vec!["vgscan", "pvs --reportformat json -o pv_name,vg_name"]
    );
    // Not listed by pvs: not active.
    assert!(!b.check(&p).unwrap());
    seen = fake.calls().len();

    fake.answer("blkid", Output::failed(2, ""));
    b.build(&p, 0).unwrap();
    assert_eq!(
        take_calls(&b, &mut seen),
        vec![
            "blkid -p -o export /dev/loop0",
            "zero /dev/loop0 1048576",
            "pvcreate /dev/loop0",
            "vgcreate oxprobe_vg /dev/loop0",
        ]
    );

    fake.answer("pvs", Output::ok(PVS));
    b.start(&p).unwrap();
    assert_eq!(
        take_calls(&b, &mut seen)[2..],
        ["vgchange -aly oxprobe_vg".to_string()]
    );

    fake.answer("lvs", Output::ok(LVS))
        .answer("vgs", Output::ok(VGS));
    let r = b.refresh(&p).unwrap();
    assert_eq!(
        take_calls(&b, &mut seen),
        vec![
            "lvs --reportformat json --units b --nosuffix -o lv_name,lv_path,origin,lv_uuid,devices,segtype,stripes,seg_size,vg_extent_size,lv_size,lv_attr oxprobe_vg",
            "vgs --reportformat json --units b --nosuffix -o vg_size,vg_free oxprobe_vg",
        ]
    );
    assert_eq!(
        (r.capacity, r.allocation, r.available),
        (62914560, 62914560 - 37748736, 37748736)
    );
    assert_eq!(r.volumes.len(), 2);
    let meta = &r.volumes[0];
    assert_eq!(meta.name, "meta");
    assert_eq!(
        meta.key.as_deref(),
        Some("iIL1UN-5nGn-yOu2-u0zE-qVWW-YesZ-YFAWTd")
    );
    assert_eq!(meta.target.path.as_deref(), Some("/dev/oxprobe_vg/meta"));
    assert_eq!((meta.capacity, meta.allocation), (20 * MIB, 20 * MIB));
    let extents: Vec<(u64, u64)> = meta.extents.iter().map(|e| (e.start, e.end)).collect();
    assert_eq!(extents, vec![(0, 12 * MIB), (16 * MIB, 24 * MIB)]);
    let xml = meta.to_xml();
    assert!(xml.starts_with("<volume type='block'>"), "{xml}");
    assert!(xml.contains("<device path='/dev/loop0'>"), "{xml}");

    b.stop(&p).unwrap();
    b.delete(&p, 0).unwrap();
    assert_eq!(
        take_calls(&b, &mut seen),
        vec![
            "vgchange -aln oxprobe_vg",
            "vgremove -f oxprobe_vg",
            "pvremove /dev/loop0"
        ]
    );

    fake.answer("pvs", Output::ok(PVS));
    let found = b.find_sources(None, 0).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].name.as_deref(), Some("oxprobe_vg"));
    assert_eq!(found[0].format.as_deref(), Some("lvm2"));
    assert_eq!(found[0].devices[0].path, "/dev/loop0");
}

#[test]
fn volume_operations_run_lvm_as_libvirt() {
    let b = backend(Activation::Unavailable);
    let p = pool("oxprobe_vg", "/dev/loop0");
    let fake = b.lvm().runner();
    let mut seen = 0;

    fake.answer("lvs", Output::ok(LVS));
    let v = b.create_volume(&p, &volume("other", 4), 0).unwrap();
    assert_eq!(
        take_calls(&b, &mut seen)[0],
        format!("lvcreate {NO_ACT} -an -Zn --name other -L 4096K oxprobe_vg --yes")
    );
    assert_eq!(
        v.key.as_deref(),
        Some("QfZoIR-ajJr-QCNF-5kDz-Uk0Z-98j3-5Z6VLB")
    );
    assert_eq!(v.capacity, 4 * MIB);

    b.resize_volume(&p, &v, 8 * MIB, 0).unwrap();
    assert_eq!(
        take_calls(&b, &mut seen),
        vec![format!("lvresize {NO_ACT} -f -L 8192K oxprobe_vg/other")]
    );

    b.delete_volume(&p, &v, 0).unwrap();
    assert_eq!(
        take_calls(&b, &mut seen),
        vec!["lvremove -f /dev/oxprobe_vg/other"]
    );

    // Without device-mapper there is no device node: content operations say so and run
    // nothing.
    for e in [
        b.wipe_volume(&p, &v, 0, 0).unwrap_err(),
        b.open_read(&p, &v, 0, 0).err().unwrap(),
        b.open_write(&p, &v, 0, 0).err().unwrap(),
        b.create_volume_from(&p, &volume("copy", 4), &v, 0)
            .unwrap_err(),
    ] {
        assert_eq!(e.code, ErrorCode::OperationUnsupported, "{}", e.message);
        assert!(e.message.contains(NO_DEVICE_MAPPER), "{}", e.message);
    }
    assert!(take_calls(&b, &mut seen).is_empty());

    // libvirt's refusals.
    let mut enc = volume("secret", 4);
    enc.target.encryption = Some(oxvirt_xml::Element::new("encryption"));
    let e = b.create_volume(&p, &enc, 0).unwrap_err();
    assert_eq!(e.code, ErrorCode::ConfigUnsupported);
    assert_eq!(
        e.message,
        "unsupported configuration: storage pool does not support encrypted volumes"
    );
    let e = b.wipe_volume(&p, &v, 3, 0).unwrap_err();
    assert_eq!(e.message, "invalid argument: unsupported algorithm 3");
    let e = b.create_volume(&p, &v, 1).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidArg);
    assert!(take_calls(&b, &mut seen).is_empty());
}

/// A temporary file standing in for a logical volume's device node.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn content_goes_through_the_device_node() {
    let dir = std::env::temp_dir().join(format!("oxvirt-logical-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let scratch = Scratch(dir);
    let node = scratch.0.join("other");
    std::fs::write(&node, vec![9u8; 4 * MIB as usize]).unwrap();
    let src = scratch.0.join("source.img");
    std::fs::write(&src, b"source content").unwrap();
    let node_s = node.to_str().unwrap();

    let b = backend(Activation::Available);
    let p = pool("oxprobe_vg", "/dev/loop0");
    let active = LVS
        .replace("-wi-XX----", "-wi-a-----")
        .replace("/dev/oxprobe_vg/other", node_s);
    b.lvm().runner().answer("lvs", Output::ok(active));
    let mut v = volume("other", 4);
    v.target.path = Some(node_s.to_string());

    let mut w = b.open_write(&p, &v, 10, 5).unwrap();
    w.write_all(b"hello").unwrap();
    assert!(w.write(b"!").is_err(), "past the length asked for");
    w.finish().unwrap();
    let mut r = b.open_read(&p, &v, 8, 9).unwrap();
    let mut got = Vec::new();
    r.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"\x09\x09hello\x09\x09");

    b.wipe_volume(&p, &v, 0, 0).unwrap();
    assert!(std::fs::read(&node).unwrap().iter().all(|&x| x == 0));

    let mut from = volume("source", 1);
    from.target.path = Some(src.to_str().unwrap().to_string());
    let made = b
        .create_volume_from(&p, &volume("other", 4), &from, 0)
        .unwrap();
    assert_eq!(made.target.path.as_deref(), Some(node_s));
    let content = std::fs::read(&node).unwrap();
    assert_eq!(&content[..14], b"source content");
    assert_eq!(
        b.lvm().runner().calls()[0],
        "lvcreate --name other -L 4096K oxprobe_vg --yes"
    );

    // A node that is missing with device-mapper: the system's error, and the new volume
    // is removed again.
    let b = backend(Activation::Available);
    b.lvm()
        .runner()
        .answer("lvs", Output::ok(LVS.replace("-wi-XX----", "-wi-a-----")));
    let e = b
        .create_volume_from(&p, &volume("other", 4), &from, 0)
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::SystemError, "{}", e.message);
    assert!(e.message.contains("/dev/oxprobe_vg/other"), "{}", e.message);
    assert_eq!(
        b.lvm().runner().calls().last().map(String::as_str),
        Some("lvremove -f /dev/oxprobe_vg/other")
    );
}

#[path = "common/loopvg.rs"]
mod loopvg;
use loopvg::{vg_names, LoopVg};

#[test]
fn logical_backend_on_a_loop_device() {
    let test = "logical_backend_on_a_loop_device";
    if !is_root() {
        return unavailable(test, "needs root for loop devices and LVM");
    }
    for tool in ["losetup", "pvcreate", "vgcreate", "lvcreate", "blkid"] {
        if !have(tool) {
            return unavailable(test, &format!("{tool} is not installed"));
        }
    }
    let before = vg_names();
    let fx = match LoopVg::new("bk") {
        Ok(fx) => fx,
        Err(why) => return unavailable(test, &why),
    };
    let b = LogicalBackend::system();
    let p = pool(&fx.vg, &fx.device);

    assert!(!b.check(&p).unwrap(), "not built yet");
    b.build(&p, 0).expect("build");
    assert!(vg_names().contains(&fx.vg));
    assert!(b.check(&p).unwrap(), "built: the volume group is there");
    b.start(&p).expect("start an empty pool");
    let found = b.find_sources(None, 0).expect("find sources");
    assert!(found
        .iter()
        .any(|s| s.name.as_deref() == Some(fx.vg.as_str()) && s.devices[0].path == fx.device));

    let r = b.refresh(&p).expect("refresh");
    assert!(r.volumes.is_empty());
    assert_eq!(r.available, r.capacity);
    assert!(
        r.capacity > 56 * MIB && r.capacity < 64 * MIB,
        "{}",
        r.capacity
    );

    let v = b.create_volume(&p, &volume("disk1", 8), 0).expect("create");
    assert_eq!(v.capacity, 8 * MIB);
    let r = b.refresh(&p).expect("refresh");
    assert_eq!(r.volumes.len(), 1);
    assert_eq!(r.volumes[0].key, v.key);
    assert_eq!(
        r.volumes[0].target.path.as_deref(),
        Some(format!("/dev/{}/disk1", fx.vg).as_str())
    );
    assert_eq!(r.volumes[0].extents[0].path, fx.device);
    assert_eq!(r.allocation, 8 * MIB);

    b.resize_volume(&p, &v, 12 * MIB, 0).expect("resize");
    assert_eq!(b.refresh(&p).unwrap().volumes[0].capacity, 12 * MIB);
    if b.lvm().activation() == Activation::Unavailable {
        let e = b.open_read(&p, &v, 0, 0).err().expect("no device node");
        assert!(e.message.contains(NO_DEVICE_MAPPER), "{}", e.message);
    }
    b.delete_volume(&p, &v, 0).expect("delete volume");
    assert!(b.refresh(&p).unwrap().volumes.is_empty());

    b.stop(&p).expect("stop");
    b.delete(&p, 0).expect("delete");
    assert!(!vg_names().contains(&fx.vg));
    assert!(!b.check(&p).unwrap());
    drop(fx);
    assert_eq!(vg_names(), before, "other volume groups are untouched");
}
