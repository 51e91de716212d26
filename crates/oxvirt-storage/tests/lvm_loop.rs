//! The `logical` backend against the real LVM tools on a loop device: build, sources, start,
//! refresh, volume create / resize / delete (metadata-only where the kernel has no
//! device-mapper), stop, delete. Needs root, lvm2 and a free loop device; everything it
//! makes (volume group, physical volume, loop device, file) is removed by a Drop guard, and
//! the host's other volume groups are checked to be untouched.

use oxvirt_storage::lvm::{Activation, Lvm, NewVolume, NO_DEVICE_MAPPER};
use oxvirt_xml::testdata::{have, is_root, unavailable};
use oxvirt_xml::ErrorCode;

const MIB: u64 = 1024 * 1024;

#[path = "common/loopvg.rs"]
mod loopvg;
use loopvg::{lvm_tool, vg_names, LoopVg};

#[test]
fn logical_pool_on_a_loop_device() {
    let test = "logical_pool_on_a_loop_device";
    if !is_root() {
        return unavailable(test, "needs root for loop devices and LVM");
    }
    for tool in ["losetup", "pvcreate", "vgcreate", "lvcreate", "blkid"] {
        if !have(tool) {
            return unavailable(test, &format!("{tool} is not installed"));
        }
    }
    let before = vg_names();
    let fx = match LoopVg::new("vg") {
        Ok(fx) => fx,
        Err(why) => return unavailable(test, &why),
    };
    let lvm = Lvm::system();
    let devices = vec![fx.device.clone()];
    let vg = fx.vg.as_str();

    lvm.build_pool(vg, &devices, 0).expect("build");
    assert!(vg_names().contains(&fx.vg));
    // Built twice: the device is an LVM physical volume now.
    let err = lvm
        .build_pool(vg, &devices, oxvirt_storage::lvm::BUILD_NO_OVERWRITE)
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::StoragePoolBuilt, "{}", err.message);

    let sources = lvm.find_pool_sources(0).expect("sources");
    let ours = sources
        .iter()
        .find(|s| s.name == vg)
        .expect("our vg listed");
    assert_eq!(ours.devices, devices);

    // No volumes yet: activation has nothing to do, even without device-mapper.
    lvm.start_pool(vg, &devices).expect("start an empty vg");

    let state = lvm.refresh_pool(vg).expect("refresh");
    assert_eq!(state.capacity % (4 * MIB), 0);
    assert!(
        state.capacity > 56 * MIB && state.capacity < 64 * MIB,
        "{}",
        state.capacity
    );
    assert_eq!(state.available, state.capacity);
    assert_eq!(state.allocation, 0);
    assert!(state.volumes.is_empty());

    let vol = lvm
        .create_volume(
            vg,
            &NewVolume {
                name: "disk1".into(),
                capacity: 8 * MIB,
                allocation: 8 * MIB,
                backing: None,
            },
        )
        .expect("lvcreate");
    assert_eq!(vol.size, 8 * MIB);
    assert_eq!(vol.path, format!("/dev/{vg}/disk1"));
    assert_eq!(vol.key.len(), 38, "LVM UUID: {}", vol.key);
    assert_eq!(vol.extents.len(), 1);
    assert_eq!(vol.extents[0].path, fx.device);
    assert_eq!(vol.extents[0].end - vol.extents[0].start, 8 * MIB);

    let state = lvm.refresh_pool(vg).expect("refresh");
    assert_eq!(state.volumes.len(), 1);
    assert_eq!(state.volumes[0].key, vol.key);
    assert_eq!(state.available, state.capacity - 8 * MIB);
    assert_eq!(state.allocation, 8 * MIB);

    if lvm.activation() == Activation::Unavailable {
        let err = lvm.start_pool(vg, &devices).unwrap_err();
        assert_eq!(err.code, ErrorCode::OperationFailed);
        assert!(err.message.contains(NO_DEVICE_MAPPER), "{}", err.message);
    }

    lvm.resize_volume(vg, "disk1", 12 * MIB).expect("lvresize");
    let state = lvm.refresh_pool(vg).expect("refresh");
    assert_eq!(state.volumes[0].size, 12 * MIB);
    assert_eq!(state.allocation, 12 * MIB);

    let err = lvm
        .create_volume(
            vg,
            &NewVolume {
                name: "disk1".into(),
                capacity: 4 * MIB,
                allocation: 4 * MIB,
                backing: None,
            },
        )
        .unwrap_err();
    assert!(err.message.contains("already exists"), "{}", err.message);

    lvm.delete_volume(vg, "disk1", 0).expect("lvremove");
    let state = lvm.refresh_pool(vg).expect("refresh");
    assert!(state.volumes.is_empty());
    assert_eq!(state.available, state.capacity);

    lvm.stop_pool(vg).expect("stop");
    lvm.delete_pool(vg, &devices, 0).expect("delete");
    assert!(!vg_names().contains(&fx.vg));
    let pvs = lvm_tool(&["pvs", "--noheadings", "-o", "pv_name"]);
    assert!(!String::from_utf8_lossy(&pvs.stdout).contains(&fx.device));

    let err = lvm.refresh_pool(vg).unwrap_err();
    assert_eq!(err.code, ErrorCode::InternalError);
    assert!(err.message.contains("not found"), "{}", err.message);

    drop(fx);
    assert_eq!(vg_names(), before, "other volume groups are untouched");
}
