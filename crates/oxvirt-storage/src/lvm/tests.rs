//! The `logical` backend's logic against [`FakeRunner`]: the exact command lines of each
//! operation, and the parsing of JSON reports captured from lvm2 2.03 on a loop device.

use super::*;

/// `lvs` of a volume group on `/dev/loop0` without device-mapper: `meta` (two segments,
/// after a metadata-only lvextend) and `other`; state `X` (unknown).
const LVS: &str = include_str!("testdata/lvs-metadata-only.json");
/// `vgs -o vg_size,vg_free` of the same 64 MiB loop device with 24 MiB used.
const VGS: &str = include_str!("testdata/vgs.json");
/// `pvs -o pv_name,vg_name` with one volume group.
const PVS: &str = include_str!("testdata/pvs.json");

fn lvm(activation: Activation) -> Lvm<FakeRunner> {
    Lvm::new(FakeRunner::new(), activation)
}

fn devs(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

const LVS_CMD: &str = "lvs --reportformat json --units b --nosuffix -o \
    lv_name,lv_path,origin,lv_uuid,devices,segtype,stripes,seg_size,vg_extent_size,lv_size,lv_attr";

#[test]
fn parses_vgs() {
    let info = report::parse_vgs(VGS).expect("vgs");
    assert_eq!(
        info,
        VgInfo {
            size: 62914560,
            free: 37748736
        }
    );
    let with_suffix = VGS.replace("\"62914560\"", "\"62914560B\"");
    assert_eq!(report::parse_vgs(&with_suffix).expect("B").size, 62914560);
    let empty = r#"{"report":[{"vg":[]}]}"#;
    let err = report::parse_vgs(empty).unwrap_err();
    assert_eq!(err.code, ErrorCode::InternalError);
    assert!(report::parse_vgs("not json").is_err());
}

#[test]
fn parses_lvs_into_volumes_with_extents() {
    let rows = report::parse_lvs_rows(LVS).expect("lvs");
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0].seg_size, 12582912);
    assert_eq!(rows[0].extent_size, 4194304);
    let vols = report::group_volumes(&rows).expect("group");
    assert_eq!(vols.len(), 2);
    let meta = &vols[0];
    assert_eq!(meta.name, "meta");
    assert_eq!(meta.key, "iIL1UN-5nGn-yOu2-u0zE-qVWW-YesZ-YFAWTd");
    assert_eq!(meta.path, "/dev/oxprobe_vg/meta");
    assert_eq!(meta.size, 20971520);
    assert!(!meta.sparse);
    assert_eq!(meta.backing, None);
    assert!(!meta.is_active());
    assert_eq!(
        meta.extents,
        vec![
            Extent {
                path: "/dev/loop0".into(),
                start: 0,
                end: 12582912
            },
            Extent {
                path: "/dev/loop0".into(),
                start: 4 * 4194304,
                end: 4 * 4194304 + 8388608
            },
        ]
    );
    assert_eq!(vols[1].name, "other");
    assert_eq!(vols[1].extents[0].start, 3 * 4194304);
}

#[test]
fn striped_snapshot_and_sparse_rows() {
    let row =
        |name: &str, origin: &str, devices: &str, segtype: &str, stripes: u32, attr: &str| LvRow {
            name: name.into(),
            path: format!("/dev/vg/{name}"),
            origin: origin.into(),
            uuid: format!("uuid-{name}"),
            devices: devices.into(),
            segtype: segtype.into(),
            stripes,
            seg_size: 8192,
            extent_size: 4096,
            size: 8192,
            attr: attr.into(),
        };
    let rows = vec![
        row(
            "st",
            "",
            "/dev/sdc1(10),/dev/sdd1(0)",
            "striped",
            2,
            "-wi-a-----",
        ),
        row("snap", "base", "/dev/sdc1(20)", "linear", 1, "swi-a-s---"),
        row("sp", "[sp_vorigin]", "", "snapshot", 1, "swi-a-s---"),
    ];
    let vols = report::group_volumes(&rows).expect("group");
    assert_eq!(vols[0].extents.len(), 2);
    assert_eq!(vols[0].extents[0].start, 10 * 4096);
    assert_eq!(vols[0].extents[1].path, "/dev/sdd1");
    assert_eq!(vols[1].backing.as_deref(), Some("/dev/vg/base"));
    assert!(vols[1].sparse);
    assert_eq!(vols[2].backing, None);
    assert!(vols[2].extents.is_empty());

    let bad = row("x", "", "/dev/sdc1", "linear", 1, "-wi-a-----");
    let err = report::segment_extents(&bad).unwrap_err();
    assert_eq!(
        err.message,
        "internal error: malformed volume extent devices value"
    );
    let bad = row("x", "", "/dev/sdc1(zz)", "linear", 1, "-wi-a-----");
    assert_eq!(
        report::segment_extents(&bad).unwrap_err().message,
        "internal error: malformed volume extent offset value"
    );
}

#[test]
fn parses_pvs_grouped_by_vg() {
    let sources = report::parse_pvs(PVS).expect("pvs");
    assert_eq!(
        sources,
        vec![PoolSource {
            name: "oxprobe_vg".into(),
            devices: devs(&["/dev/loop0"])
        }]
    );
    let many = r#"{"report":[{"pv":[
        {"pv_name":"/dev/sdb1","vg_name":"a"},
        {"pv_name":"/dev/sdc","vg_name":""},
        {"pv_name":"/dev/sdd","vg_name":"b"},
        {"pv_name":"/dev/sde","vg_name":"a"}]}]}"#;
    let sources = report::parse_pvs(many).expect("pvs");
    assert_eq!(sources.len(), 2);
    assert_eq!(sources[0].devices, devs(&["/dev/sdb1", "/dev/sde"]));
    assert_eq!(sources[1].name, "b");
    // libvirt 9.0's own output for the first sample (virsh find-storage-pool-sources).
    assert_eq!(
        report::format_sources(&report::parse_pvs(PVS).expect("pvs")),
        "<sources>\n  <source>\n    <device path='/dev/loop0'/>\n    <name>oxprobe_vg</name>\n    \
         <format type='lvm2'/>\n  </source>\n</sources>\n"
    );
}

#[test]
fn build_runs_blkid_zero_pvcreate_vgcreate() {
    let l = lvm(Activation::Unavailable);
    l.runner()
        .answer("blkid", Output::failed(2, ""))
        .answer("blkid", Output::failed(2, ""));
    l.build_pool("HostVG", &devs(&["/dev/sdb1", "/dev/sdb2"]), 0)
        .expect("build");
    assert_eq!(
        l.runner().calls(),
        vec![
            "blkid -p -o export /dev/sdb1",
            "zero /dev/sdb1 1048576",
            "pvcreate /dev/sdb1",
            "blkid -p -o export /dev/sdb2",
            "zero /dev/sdb2 1048576",
            "pvcreate /dev/sdb2",
            "vgcreate HostVG /dev/sdb1 /dev/sdb2",
        ]
    );

    let l = lvm(Activation::Unavailable);
    l.build_pool("HostVG", &devs(&["/dev/sdb1"]), BUILD_OVERWRITE)
        .expect("overwrite");
    assert_eq!(
        l.runner().calls(),
        vec![
            "zero /dev/sdb1 1048576",
            "pvcreate /dev/sdb1",
            "vgcreate HostVG /dev/sdb1"
        ]
    );
}

#[test]
fn build_refuses_used_devices_and_undoes_on_failure() {
    let l = lvm(Activation::Available);
    l.runner().answer(
        "blkid",
        Output::ok("DEVNAME=/dev/sdb1\nTYPE=LVM2_member\nUSAGE=raid\n"),
    );
    let err = l
        .build_pool("HostVG", &devs(&["/dev/sdb1"]), BUILD_NO_OVERWRITE)
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::StoragePoolBuilt);
    assert_eq!(
        err.message,
        "Storage pool already built: Device '/dev/sdb1' already formatted using 'LVM2_member'"
    );
    assert_eq!(l.runner().calls(), vec!["blkid -p -o export /dev/sdb1"]);

    let l = lvm(Activation::Available);
    l.runner().answer("blkid", Output::ok("PTTYPE=dos\n"));
    let err = l.build_pool("HostVG", &devs(&["/dev/sdb"]), 0).unwrap_err();
    assert!(
        err.message.contains("forced overwrite is necessary"),
        "{}",
        err.message
    );

    // vgcreate fails: both initialised devices are pvremoved, and the error carries stderr.
    let l = lvm(Activation::Available);
    l.runner().answer(
        "vgcreate",
        Output::failed(5, "  A volume group called HostVG already exists.\n"),
    );
    let err = l
        .build_pool(
            "HostVG",
            &devs(&["/dev/sdb1", "/dev/sdb2"]),
            BUILD_OVERWRITE,
        )
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::InternalError);
    assert_eq!(
        err.message,
        "internal error: Child process (vgcreate HostVG /dev/sdb1 /dev/sdb2) unexpected exit \
         status 5:   A volume group called HostVG already exists."
    );
    let calls = l.runner().calls();
    assert_eq!(
        &calls[calls.len() - 2..],
        &["pvremove /dev/sdb1", "pvremove /dev/sdb2"]
    );

    let err = lvm(Activation::Available)
        .build_pool("v", &[], BUILD_OVERWRITE | BUILD_NO_OVERWRITE)
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidArg);
    assert!(err.message.contains("mutually exclusive"));
    let err = lvm(Activation::Available)
        .build_pool("v", &[], 1)
        .unwrap_err();
    assert_eq!(
        err.message,
        "unsupported flags (0x1) in function virStorageBackendLogicalBuildPool"
    );
}

#[test]
fn start_matches_source_then_activates() {
    let l = lvm(Activation::Available);
    l.runner().answer("pvs", Output::ok(PVS));
    l.start_pool("oxprobe_vg", &devs(&["/dev/loop0"]))
        .expect("start");
    assert_eq!(
        l.runner().calls(),
        vec![
            "vgscan",
            "pvs --reportformat json -o pv_name,vg_name",
            "vgchange -aly oxprobe_vg"
        ]
    );

    let l = lvm(Activation::Available);
    l.runner().answer("pvs", Output::ok(PVS));
    let err = l.start_pool("HostVG", &[]).unwrap_err();
    assert_eq!(
        err.message,
        "unsupported configuration: cannot find logical volume group name 'HostVG'"
    );
    let l = lvm(Activation::Available);
    l.runner().answer("pvs", Output::ok(PVS));
    let err = l
        .start_pool("oxprobe_vg", &devs(&["/dev/sdz"]))
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::ConfigUnsupported);
    assert!(err
        .message
        .contains("cannot find any matching source devices"));

    let l = lvm(Activation::Available);
    l.runner()
        .answer("pvs", Output::ok(PVS))
        .answer("pvs", Output::ok(PVS));
    assert!(l.is_pool_active("oxprobe_vg", &[]));
    assert!(!l.is_pool_active("HostVG", &[]));
}

#[test]
fn start_without_device_mapper_says_so() {
    let l = lvm(Activation::Unavailable);
    l.runner().answer("pvs", Output::ok(PVS)).answer(
        "vgchange",
        Output::failed(5, "  /dev/mapper/control: open failed: No such device\n"),
    );
    let err = l.start_pool("oxprobe_vg", &[]).unwrap_err();
    assert_eq!(err.code, ErrorCode::OperationFailed);
    assert_eq!(err.domain, ErrorDomain::Storage);
    assert_eq!(
        err.message,
        "operation failed: the kernel has no device-mapper: logical volumes cannot be \
         activated: /dev/mapper/control: open failed: No such device"
    );
}

#[test]
fn stop_and_delete_pool() {
    let l = lvm(Activation::Available);
    l.stop_pool("HostVG").expect("stop");
    l.runner()
        .answer("pvremove /dev/sdb1", Output::failed(5, "busy"));
    l.delete_pool("HostVG", &devs(&["/dev/sdb1", "/dev/sdb2"]), 0)
        .expect("delete: pvremove failures are ignored");
    assert_eq!(
        l.runner().calls(),
        vec![
            "vgchange -aln HostVG",
            "vgremove -f HostVG",
            "pvremove /dev/sdb1",
            "pvremove /dev/sdb2"
        ]
    );
    let l = lvm(Activation::Available);
    l.runner().answer(
        "vgremove",
        Output::failed(5, "  Volume group \"x\" not found"),
    );
    assert!(l.delete_pool("x", &devs(&["/dev/sdb1"]), 0).is_err());
    assert_eq!(l.runner().calls(), vec!["vgremove -f x"]);
}

#[test]
fn refresh_reads_lvs_then_vgs() {
    let l = lvm(Activation::Unavailable);
    l.runner()
        .answer("lvs", Output::ok(LVS))
        .answer("vgs", Output::ok(VGS));
    let state = l.refresh_pool("oxprobe_vg").expect("refresh");
    assert_eq!(
        l.runner().calls(),
        vec![
            format!("{LVS_CMD} oxprobe_vg"),
            "vgs --reportformat json --units b --nosuffix -o vg_size,vg_free oxprobe_vg".into(),
        ]
    );
    assert_eq!(state.capacity, 62914560);
    assert_eq!(state.available, 37748736);
    assert_eq!(state.allocation, 62914560 - 37748736);
    let names: Vec<&str> = state.volumes.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["meta", "other"]);

    // With device-mapper, inactive volumes are left out as libvirt leaves them out.
    let l = lvm(Activation::Available);
    let active = LVS.replacen("-wi-XX----", "-wi-a-----", 1);
    l.runner()
        .answer("lvs", Output::ok(active))
        .answer("vgs", Output::ok(VGS));
    let state = l.refresh_pool("oxprobe_vg").expect("refresh");
    let names: Vec<&str> = state.volumes.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["meta"]);
}

#[test]
fn create_volume_command_lines() {
    let created = LVS;
    // Metadata-only, without device-mapper.
    let l = lvm(Activation::Unavailable);
    l.runner().answer("lvs", Output::ok(created));
    let v = l
        .create_volume(
            "oxprobe_vg",
            &NewVolume {
                name: "other".into(),
                capacity: 4 * 1024 * 1024,
                allocation: 4 * 1024 * 1024,
                backing: None,
            },
        )
        .expect("create");
    assert_eq!(v.key, "QfZoIR-ajJr-QCNF-5kDz-Uk0Z-98j3-5Z6VLB");
    assert_eq!(
        l.runner().calls()[0],
        "lvcreate --config 'global { activation = 0 }' -an -Zn --name other -L 4096K \
         oxprobe_vg --yes"
    );

    // libvirt's forms, with device-mapper: plain (KiB rounded up), sparse, snapshot.
    let l = lvm(Activation::Available);
    let active = LVS.replace("-wi-XX----", "-wi-a-----");
    for _ in 0..3 {
        l.runner().answer("lvs", Output::ok(active.clone()));
    }
    let mut vol = NewVolume {
        name: "other".into(),
        capacity: 1025,
        allocation: 1025,
        backing: None,
    };
    l.create_volume("oxprobe_vg", &vol).expect("plain");
    vol.capacity = 16 << 20;
    vol.allocation = 0;
    l.create_volume("oxprobe_vg", &vol).expect("sparse");
    vol.allocation = vol.capacity;
    vol.backing = Some("/dev/oxprobe_vg/meta".into());
    l.create_volume("oxprobe_vg", &vol).expect("snapshot");
    let lvcreates: Vec<String> = l
        .runner()
        .calls()
        .into_iter()
        .filter(|c| c.starts_with("lvcreate"))
        .collect();
    assert_eq!(
        lvcreates,
        vec![
            "lvcreate --name other -L 2K oxprobe_vg --yes",
            "lvcreate --name other -L 1K --type snapshot --virtualsize 16384K oxprobe_vg --yes",
            "lvcreate --name other -L 16384K -s /dev/oxprobe_vg/meta --yes",
        ]
    );

    // Sparse needs device-mapper: refused before running anything.
    let l = lvm(Activation::Unavailable);
    vol.backing = None;
    vol.allocation = 0;
    let err = l.create_volume("oxprobe_vg", &vol).unwrap_err();
    assert_eq!(err.code, ErrorCode::OperationFailed);
    assert!(err.message.contains("device-mapper"), "{}", err.message);
    assert!(l.runner().calls().is_empty());
}

#[test]
fn create_volume_not_found_afterwards_is_removed() {
    let l = lvm(Activation::Unavailable);
    l.runner().answer("lvs", Output::ok(LVS));
    let err = l
        .create_volume(
            "oxprobe_vg",
            &NewVolume {
                name: "ghost".into(),
                capacity: 4096,
                allocation: 4096,
                backing: None,
            },
        )
        .unwrap_err();
    assert_eq!(
        err.message,
        "internal error: cannot find newly created volume '/dev/oxprobe_vg/ghost'"
    );
    assert_eq!(
        l.runner().calls().last().map(String::as_str),
        Some("lvremove -f /dev/oxprobe_vg/ghost")
    );
}

#[test]
fn resize_and_delete_volume() {
    let l = lvm(Activation::Unavailable);
    l.resize_volume("vg", "lv", 20 << 20).expect("resize");
    let l2 = lvm(Activation::Available);
    l2.resize_volume("vg", "lv", 1).expect("resize");
    l2.runner().answer("lvremove", Output::failed(5, "in use"));
    l2.delete_volume("vg", "lv", 0)
        .expect("delete after lvchange");
    assert_eq!(
        l.runner().calls(),
        vec!["lvresize --config 'global { activation = 0 }' -f -L 20480K vg/lv"]
    );
    assert_eq!(
        l2.runner().calls(),
        vec![
            "lvresize -f -L 1K vg/lv",
            "lvremove -f /dev/vg/lv",
            "lvchange -aln /dev/vg/lv",
            "lvremove -f /dev/vg/lv",
        ]
    );
}

#[test]
fn missing_tool_is_reported() {
    struct Missing;
    impl CommandRunner for Missing {
        fn run(&self, _: &str, _: &[String], _: &[(&str, &str)]) -> std::io::Result<Output> {
            Err(std::io::ErrorKind::NotFound.into())
        }
        fn zero_head(&self, _: &str, _: u64) -> std::io::Result<()> {
            Ok(())
        }
    }
    let err = Lvm::new(Missing, Activation::Available)
        .stop_pool("vg")
        .unwrap_err();
    assert_eq!(
        err.message,
        "internal error: Cannot find 'vgchange' in path"
    );
}

#[test]
fn detects_device_mapper_below_a_root() {
    let root = std::env::temp_dir().join(format!("oxvirt-lvm-detect-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("proc")).expect("mkdir");
    std::fs::write(root.join("proc/misc"), "130 watchdog\n237 loop-control\n").expect("w");
    assert_eq!(Activation::detect(&root), Activation::Unavailable);
    std::fs::write(root.join("proc/misc"), "236 device-mapper\n").expect("w");
    assert_eq!(Activation::detect(&root), Activation::Available);
    std::fs::write(root.join("proc/misc"), "").expect("w");
    std::fs::create_dir_all(root.join("sys/module/dm_mod")).expect("mkdir");
    assert_eq!(Activation::detect(&root), Activation::Available);
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn tool_dir_names_programs_as_libvirt_does() {
    // libvirt 9.0, `virsh vol-create-as POOL v1 8M` without device-mapper.
    let l = Lvm::new(FakeRunner::new(), Activation::Available).with_tool_dir("/sbin/");
    let stderr = "  /dev/mapper/control: open failed: No such device\n  Run `lvcreate --help' for \
                  more information.\n";
    l.runner()
        .answer("/sbin/lvcreate", Output::failed(3, stderr));
    let err = l
        .create_volume(
            "oxref_vg",
            &NewVolume {
                name: "v1".into(),
                capacity: 8 << 20,
                allocation: 8 << 20,
                backing: None,
            },
        )
        .unwrap_err();
    assert_eq!(
        err.message,
        "internal error: Child process (/sbin/lvcreate --name v1 -L 8192K oxref_vg --yes) \
         unexpected exit status 3:   /dev/mapper/control: open failed: No such device\n  \
         Run `lvcreate --help' for more information."
    );
    l.runner().answer("blkid", Output::failed(2, ""));
    l.build_pool("vg", &devs(&["/dev/sdb"]), 0).expect("build");
    let calls = l.runner().calls();
    assert_eq!(
        &calls[1..],
        &[
            "blkid -p -o export /dev/sdb",
            "zero /dev/sdb 1048576",
            "/sbin/pvcreate /dev/sdb",
            "/sbin/vgcreate vg /dev/sdb"
        ]
    );
}
