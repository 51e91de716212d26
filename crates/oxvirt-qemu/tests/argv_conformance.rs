//! libvirt's own expected QEMU command lines (`qemuxml2argvdata/*.args`, built against the
//! fixed fake capabilities of `qemuxml2argvtest`) compared byte for byte with ours.

mod common;

use std::path::{Path, PathBuf};

use oxvirt_domain::Domain;
use oxvirt_qemu::command::{build, env, format_args, BuildContext};

/// The cases that match exactly: each must keep matching.
const MUST_MATCH: &[&str] = &[
    "aarch64-gic-default",
    "aarch64-gic-host",
    "aarch64-gic-none",
    "aarch64-gic-none-tcg",
    "aarch64-gic-v2",
    "aarch64-gic-v3",
    "acpi-table",
    "audio-default-spice",
    "balloon-device",
    "balloon-device-auto",
    "balloon-device-deflate",
    "balloon-device-deflate-off",
    "balloon-device-period",
    "blkiotune",
    "blkiotune-device",
    "channel-virtio",
    "channel-virtio-state",
    "clock-catchup",
    "clock-hpet-off",
    "clock-localtime",
    "clock-realtime",
    "clock-utc",
    "console-compat",
    "console-compat-auto",
    "console-compat-chardev",
    "console-virtio",
    "console-virtio-many",
    "cpu-Haswell",
    "cpu-Haswell-noTSX",
    "cpu-Haswell2",
    "cpu-Haswell3",
    "cpu-cache-disable2",
    "cpu-check-default-none",
    "cpu-check-default-none2",
    "cpu-check-default-partial2",
    "cpu-check-full",
    "cpu-check-none",
    "cpu-check-partial",
    "cpu-exact1",
    "cpu-host-passthrough",
    "cpu-host-passthrough-features",
    "cpu-hotplug-startup",
    "cpu-numa-disjoint",
    "cpu-numa1",
    "cpu-numa2",
    "cpu-s390-features",
    "cpu-s390-zEC12",
    "cpu-topology1",
    "cpu-topology2",
    "cpu-topology3",
    "cputune",
    "cputune-numatune",
    "cputune-zero-shares",
    "default-kvm-host-arch",
    "default-qemu-host-arch",
    "firmware-manual-bios",
    "firmware-manual-bios-stateless",
    "firmware-manual-efi",
    "firmware-manual-efi-acpi-aarch64",
    "firmware-manual-efi-acpi-q35",
    "firmware-manual-efi-noacpi-aarch64",
    "firmware-manual-efi-secure",
    "firmware-manual-noefi-acpi-q35",
    "firmware-manual-noefi-noacpi-aarch64",
    "firmware-manual-noefi-noacpi-q35",
    "graphics-sdl",
    "graphics-sdl-fullscreen",
    "input-usbmouse",
    "input-usbmouse-addr",
    "input-usbtablet",
    "iothreads",
    "iothreads-disk",
    "iothreads-ids",
    "iothreads-ids-partial",
    "machine-aeskeywrap-off-cap",
    "machine-aeskeywrap-off-caps",
    "machine-aeskeywrap-on-cap",
    "machine-aeskeywrap-on-caps",
    "machine-aliases1",
    "machine-aliases2",
    "machine-core-off",
    "machine-core-on",
    "machine-deakeywrap-off-cap",
    "machine-deakeywrap-off-caps",
    "machine-deakeywrap-on-cap",
    "machine-deakeywrap-on-caps",
    "machine-keywrap-none",
    "machine-keywrap-none-caps",
    "machine-loadparm-multiple-disks-nets-s390",
    "machine-loadparm-net-s390",
    "machine-loadparm-s390",
    "machine-vmport-opt",
    "master-key",
    "memory-hotplug",
    "memtune",
    "memtune-unlimited",
    "migrate",
    "minimal",
    "misc-acpi",
    "misc-disable-s3",
    "misc-disable-suspends",
    "misc-enable-s4",
    "misc-uuid",
    "net-eth",
    "net-eth-hostip",
    "net-eth-ifname",
    "net-eth-names",
    "net-eth-unmanaged-tap",
    "net-user",
    "net-virtio",
    "net-virtio-netdev",
    "nosharepages",
    "numad",
    "numad-auto-memory-vcpu-cpuset",
    "numad-auto-memory-vcpu-no-cpuset-and-placement",
    "numad-auto-vcpu-static-numatune",
    "numad-static-memory-auto-vcpu",
    "numatune-auto-nodeset-invalid",
    "numatune-auto-prefer",
    "numatune-distances",
    "numatune-memory",
    "numatune-no-vcpu",
    "pci-autofill-addr",
    "pci-many",
    "pci-rom-disabled",
    "pcie-root",
    "pmu-feature",
    "pmu-feature-off",
    "qemu-ns-alt",
    "qemu-ns-commandline",
    "qemu-ns-commandline-ns0",
    "qemu-ns-commandline-ns1",
    "qemu-ns-domain-commandline",
    "qemu-ns-domain-commandline-ns0",
    "qemu-ns-domain-ns0",
    "qemu-ns-no-env",
    "reboot-timeout-disabled",
    "reboot-timeout-enabled",
    "restore-v2",
    "restore-v2-fd",
    "s390-serial",
    "s390-serial-2",
    "s390-serial-console",
    "seclabel-dac-none",
    "seclabel-dynamic",
    "seclabel-dynamic-baselabel",
    "seclabel-dynamic-labelskip",
    "seclabel-dynamic-override",
    "seclabel-dynamic-relabel",
    "seclabel-none",
    "seclabel-static",
    "seclabel-static-labelskip",
    "seclabel-static-relabel",
    "serial-dev-chardev",
    "serial-pty-chardev",
    "serial-spiceport",
    "serial-tcp-chardev",
    "serial-tcp-telnet-chardev",
    "serial-udp-chardev",
    "serial-vc-chardev",
    "smp",
    "smp-dies",
    "sound",
    "sound-device",
    "usb-controller",
    "usb-controller-explicit-q35",
    "usb-controller-qemu-xhci",
    "usb-controller-xhci",
    "usb-hub",
    "usb-ich9-companion",
    "usb-long-port-path",
    "usb-none",
    "usb-piix3-controller",
    "usb-ports",
    "vcpu-placement-static",
    "video-none-device",
    "video-qxl-device",
    "video-qxl-heads",
    "video-qxl-noheads",
    "video-qxl-sec-device",
    "video-vga-device",
    "video-vga-qxl-heads",
    "video-virtio-gpu-device",
    "video-virtio-gpu-secondary",
    "vmcoreinfo",
];

/// The number of cases matched when this constant was last raised: never fewer.
const MIN_MATCHED: usize = 187;

/// The data directory, or `None` when the conformance data is absent.
fn data_dir() -> Option<PathBuf> {
    let dir = common::conformance("domain/qemuxml2argvdata");
    dir.is_dir().then_some(dir)
}

/// Whether a case is built against the fixed fake capabilities (no QEMU version in its name).
fn is_plain(name: &str) -> bool {
    !name.contains("-latest") && !name.contains('.')
}

/// Our `.args` text for a case, or `None` when its XML does not parse or we build no argv.
fn ours(name: &str, xml: &str) -> Result<String, String> {
    let parsed = Domain::parse(xml).map_err(|e| format!("parse: {e}"))?;
    let domain = parsed.domain;
    let mut ctx = BuildContext::libvirt_test(&domain.name);
    ctx.incoming = incoming(name).map(str::to_string);
    let argv = build(&domain, &ctx).map_err(|e| format!("build: {e}"))?;
    Ok(format_args(&env(&domain, &ctx), &argv))
}

/// The `-incoming` of the cases `qemuxml2argvtest` starts as a migration's destination
/// or a restore (its `migrateFrom`, with `stdio` on descriptor 7 as `fd:7`).
fn incoming(name: &str) -> Option<&'static str> {
    match name {
        "migrate" => Some("tcp:10.0.0.1:5000"),
        "migrate-numa-unaligned" | "restore-v2-fd" => Some("fd:7"),
        "restore-v2" => Some("exec:cat"),
        _ => None,
    }
}

/// The expected text of a case; a file holding only another case's file name (a symbolic
/// link stored as text) stands for that file.
fn read_args(dir: &Path, name: &str) -> String {
    let text = std::fs::read_to_string(dir.join(format!("{name}.args"))).expect("args");
    let target = text.trim();
    if target.ends_with(".args") && !target.contains(char::is_whitespace) {
        if let Ok(linked) = std::fs::read_to_string(dir.join(target)) {
            return linked;
        }
    }
    text
}

#[test]
fn qemuxml2argv_conformance() {
    let Some(dir) = data_dir() else {
        println!("SKIPPED: conformance data absent (set OXVIRT_CONFORMANCE)");
        return;
    };
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("read data dir")
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".args"))
                .map(str::to_string)
        })
        .collect();
    names.sort();
    let total = names.len();
    let mut attempted = 0usize;
    let mut tally = common::Tally::default();
    for name in &names {
        if !is_plain(name) {
            continue;
        }
        let Ok(xml) = std::fs::read_to_string(dir.join(format!("{name}.xml"))) else {
            continue;
        };
        if Domain::parse(&xml).is_err() {
            continue;
        }
        attempted += 1;
        tally.record(name, &read_args(&dir, name), ours(name, &xml));
    }
    let matched = tally.matched.len();
    println!("argv: {matched} of {total} byte for byte ({attempted} attempted)");
    tally.report(12, "OXVIRT_ARGV_ALL", MUST_MATCH, MIN_MATCHED);
}

/// The volumes of the fake storage driver of libvirt's `qemuxml2argvtest`, as its expected
/// command lines show them: a volume named `TYPE+NAME` is of that type at
/// `/some/TYPE/device/NAME`, any other is a block device at `/some/block/device/NAME`;
/// `pool-iscsi` volumes used with `mode='direct'` are LUN `N` (`unit:0:0:N`) of
/// `demo-target` on `iscsi.example.com`. `None` for the types oxvirt's storage pools do
/// not have (`dir` volumes).
fn libvirt_test_volume(
    pool: &str,
    volume: &str,
    direct: bool,
) -> Option<oxvirt_domain::driver::volumes::ResolvedVolume> {
    use oxvirt_domain::driver::volumes::{ResolvedVolume, VolumeSource};
    let source = if pool == "pool-iscsi" && direct {
        VolumeSource::Iscsi {
            host: "iscsi.example.com".into(),
            port: 3260,
            target: "demo-target".into(),
            lun: volume.rsplit(':').next()?.parse().ok()?,
            initiator: None,
        }
    } else {
        match volume.split_once('+') {
            Some(("block", name)) => VolumeSource::Block(format!("/some/block/device/{name}")),
            Some(("file", name)) => VolumeSource::File(format!("/some/file/device/{name}")),
            Some(_) => return None,
            None => VolumeSource::Block(format!("/some/block/device/{volume}")),
        }
    };
    Some(ResolvedVolume {
        key: volume.to_string(),
        source,
        format: None,
    })
}

/// libvirt's cases of `type='volume'` disks (built against the latest capabilities, so
/// only the disks' storage nodes are compared): each storage `-blockdev` of a volume
/// oxvirt's pools can hold must be libvirt's, byte for byte.
#[test]
fn volume_disk_storage_nodes() {
    let Some(dir) = data_dir() else {
        println!("SKIPPED: conformance data absent (set OXVIRT_CONFORMANCE)");
        return;
    };
    let (mut matched, mut total) = (0usize, 0usize);
    for case in ["disk-source-pool", "disk-source-pool-mode"] {
        let xml = std::fs::read_to_string(dir.join(format!("{case}.xml"))).expect("xml");
        let expected =
            std::fs::read_to_string(dir.join(format!("{case}.x86_64-latest.args"))).expect("args");
        let domain = Domain::parse(&xml).expect("parse").domain;
        let disks = &domain.devices.disks;
        let with_source = |d: &oxvirt_domain::devices::Disk| {
            d.source
                .as_ref()
                .is_some_and(|s| s.pool.is_some() || s.file.is_some() || s.dev.is_some())
        };
        // libvirt numbers the nodes down from the number of disks (an empty drive takes
        // its number too).
        let mut n = disks.len() as u32 + 1;
        for disk in disks {
            n -= 1;
            if !with_source(disk) {
                continue;
            }
            let node = format!("\"node-name\":\"libvirt-{n}-storage\"");
            let Some(src) = disk.source.as_ref().filter(|s| s.pool.is_some()) else {
                continue;
            };
            total += 1;
            let want = expected
                .lines()
                .find(|l| l.starts_with("-blockdev ") && l.contains(&node))
                .expect("storage node")
                .trim_start_matches("-blockdev '")
                .trim_end_matches(" \\")
                .trim_end_matches('\'');
            let direct = src.mode == Some(oxvirt_domain::devices::disk::source::PoolMode::Direct);
            let pool = src.pool.as_deref().unwrap_or_default();
            let volume = src.volume.as_deref().unwrap_or_default();
            let Some(vol) = libvirt_test_volume(pool, volume, direct) else {
                eprintln!("{case}: volume {volume} of pool {pool}: not a type oxvirt has");
                continue;
            };
            let disk = oxvirt_qemu::driver::runtime_disk(disk, &vol);
            let ours = oxvirt_qemu::command::disk::storage_node(&disk, n).expect("node");
            assert_eq!(ours, want, "{case}: {volume}");
            matched += 1;
        }
    }
    println!("volume storage nodes: {matched} of {total} byte for byte");
    // Every block and iSCSI volume; the two `dir` volumes (QEMU's vvfat) are not ours.
    assert_eq!((matched, total), (4, 6));
}
