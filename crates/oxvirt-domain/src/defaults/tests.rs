//! Tests of the post-parse defaults, with libvirt 9.0's own output as the expected values.

mod devices;
mod disks;
mod hostdevs;

use std::path::Path;

use super::{Drive, DriverDefaults};
use crate::devices::video::VideoModelType;
use crate::Domain;

/// The guest a definition is for and the video model the driver picks for it.
pub(super) struct Guest {
    /// `<os><type>`.
    pub os: &'static str,
    /// `<os><type arch=...>`, or empty.
    pub arch: &'static str,
    /// The driver's model for an implicit video adapter.
    pub video: VideoModelType,
}

/// The test driver's defaults for `guest`.
fn test_driver(guest: &Guest) -> DriverDefaults {
    DriverDefaults {
        video: guest.video,
        wide_scsi: false,
    }
}

fn domain(devices: &str, guest: &Guest) -> Domain {
    let arch = if guest.arch.is_empty() {
        String::new()
    } else {
        format!(" arch='{}'", guest.arch)
    };
    let xml = format!(
        "<domain type='test'><name>x</name><memory>1024</memory>\
         <os><type{arch}>{}</type></os><devices>{devices}</devices></domain>",
        guest.os
    );
    Domain::parse(&xml).unwrap().domain
}

/// The children of `<devices>` in `xml`, unindented.
fn devices_of(xml: &str) -> String {
    let inner = xml
        .split_once("<devices>\n")
        .and_then(|(_, rest)| rest.split_once("  </devices>"))
        .map_or("", |(inner, _)| inner);
    inner
        .lines()
        .map(|l| l.strip_prefix("    ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Defines `devices` for `guest` as the test driver does and compares the devices with
/// libvirt's (`ERR code message` for an error).
pub(super) fn check(devices: &str, guest: Guest, libvirt: &str) {
    let mut d = domain(devices, &guest);
    let got = match d.apply_defaults_with("i686", &test_driver(&guest)) {
        Ok(()) => devices_of(&d.to_xml()),
        Err(e) => format!("ERR {} {}", e.code.number(), e.libvirt_message()),
    };
    assert_eq!(got, libvirt, "for {devices}");
}

const HVM: Guest = Guest {
    os: "hvm",
    arch: "",
    video: VideoModelType::Cirrus,
};

#[test]
fn fills_in_what_libvirt_fills_in() {
    let mut d = Domain::parse(
        "<domain type='qemu'><name>t</name><memory unit='MiB'>1</memory><genid/>\
         <os><type>hvm</type></os></domain>",
    )
    .unwrap()
    .domain;
    d.apply_defaults_for("x86_64").unwrap();
    assert!(d.uuid.is_some());
    assert_eq!(d.genid.as_ref().map(String::len), Some(36));
    assert_eq!(d.current_memory, Some(1024));
    let xml = d.to_xml();
    for part in [
        "<type arch='x86_64'>hvm</type>",
        "<boot dev='hd'/>",
        "<clock offset='utc'/>",
        "<on_poweroff>destroy</on_poweroff>",
        "<on_reboot>restart</on_reboot>",
        "<on_crash>destroy</on_crash>",
    ] {
        assert!(xml.contains(part), "{part} missing from\n{xml}");
    }
}

#[test]
fn applying_the_defaults_again_changes_nothing() {
    let mut d = domain(
        "<disk type='file' device='cdrom'><target dev='hdc'/></disk>\
         <disk type='file'><source file='/d'/><target dev='sdh' bus='scsi'/></disk>\
         <hostdev mode='subsystem' type='scsi'><source><adapter name='scsi_host0'/>\
         <address bus='0' target='0' unit='0'/></source></hostdev>\
         <channel type='pty'><target type='virtio' name='a'/></channel>\
         <smartcard mode='host'/><graphics type='vnc'/>",
        &HVM,
    );
    d.apply_defaults_with("i686", &test_driver(&HVM)).unwrap();
    let once = d.to_xml();
    d.apply_defaults_with("i686", &test_driver(&HVM)).unwrap();
    assert_eq!(d.to_xml(), once);
    assert_eq!(
        d.devices.controllers.len(),
        5,
        "ide 0, scsi 0 and 1, virtio-serial, ccid"
    );
}

#[test]
fn without_a_driver_the_implicit_adapter_keeps_the_default_model() {
    // libvirt adds VIR_DOMAIN_VIDEO_TYPE_DEFAULT and leaves the choice to the driver's
    // device callback; without one the model stays `default`.
    let mut d = domain("<graphics type='vnc'/>", &HVM);
    d.add_implicit_devices(&DriverDefaults::GENERIC).unwrap();
    assert_eq!(d.devices.videos.len(), 1);
    assert_eq!(d.devices.videos[0].kind(), Some(VideoModelType::Default));
    assert_eq!(DriverDefaults::default(), DriverDefaults::GENERIC);
}

#[test]
fn the_drivers_model_is_used_for_the_implicit_adapter() {
    let qemu_like = DriverDefaults {
        video: VideoModelType::Vga,
        wide_scsi: true,
    };
    let mut d = domain("<graphics type='vnc'/>", &HVM);
    d.add_implicit_devices(&qemu_like).unwrap();
    assert_eq!(d.devices.videos[0].kind(), Some(VideoModelType::Vga));
}

#[test]
fn a_wide_scsi_bus_skips_unit_7_for_disks_but_not_for_hostdevs() {
    let wide = DriverDefaults {
        video: VideoModelType::Vga,
        wide_scsi: true,
    };
    let disks: String = "abcdefgh"
        .chars()
        .map(|c| {
            format!("<disk type='file'><source file='/d'/><target dev='sd{c}' bus='scsi'/></disk>")
        })
        .collect();
    let hostdev = "<hostdev mode='subsystem' type='scsi'><source><adapter name='scsi_host0'/>\
                   <address bus='0' target='0' unit='0'/></source></hostdev>";
    let mut d = domain(&format!("{disks}{hostdev}"), &HVM);
    d.add_implicit_devices(&wide).unwrap();
    let units: Vec<_> = d
        .devices
        .disks
        .iter()
        .filter_map(|x| Drive::of(x.info.address.as_ref()))
        .map(|a| (a.controller, a.unit))
        .collect();
    assert_eq!(
        units,
        [
            (0, 0),
            (0, 1),
            (0, 2),
            (0, 3),
            (0, 4),
            (0, 5),
            (0, 6),
            (0, 8)
        ]
    );
    // Host devices use units 0-6 whatever the bus (libvirt's QEMU output
    // hostdev-scsi-autogen-address moves on to controller 1 after unit 6 of a virtio-scsi
    // controller).
    let h = Drive::of(d.devices.hostdevs[0].info.address.as_ref()).unwrap();
    assert_eq!((h.controller, h.unit), (1, 0));
    assert_eq!(d.devices.controllers.len(), 2);
}

fn conformance_dir() -> Option<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/conformance/libvirt-9.0.0/domain/qemuxml2xmloutdata");
    dir.is_dir().then_some(dir)
}

/// libvirt's QEMU outputs already hold every address and implicit device: adding them again
/// must change nothing.
#[test]
fn libvirts_qemu_outputs_already_have_every_implicit_device() {
    let Some(dir) = conformance_dir() else {
        eprintln!("SKIPPED: conformance data not found");
        return;
    };
    let qemu = DriverDefaults {
        video: VideoModelType::Vga,
        wide_scsi: true,
    };
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "xml"))
        .collect();
    paths.sort();
    let (mut total, mut changed) = (0, Vec::new());
    for p in paths {
        let mut text = std::fs::read_to_string(&p).unwrap();
        if !text.trim_start().starts_with('<') {
            // A symbolic link stored as the name of its target.
            text = std::fs::read_to_string(dir.join(text.trim())).unwrap_or_default();
        }
        let Ok(parsed) = Domain::parse(&text) else {
            continue;
        };
        total += 1;
        let mut d = parsed.domain;
        let before = d.to_xml();
        let name = p.file_stem().unwrap().to_string_lossy().to_string();
        match d.add_implicit_devices(&qemu) {
            Ok(()) if d.to_xml() == before => {}
            Ok(()) => changed.push(name),
            Err(e) => changed.push(format!("{name}: {e}")),
        }
    }
    println!(
        "qemuxml2xmloutdata unchanged by the implicit devices: {} of {total}",
        total - changed.len()
    );
    assert!(total >= 600, "only {total} documents read");
    assert!(changed.is_empty(), "changed: {changed:#?}");
}

/// The QEMU driver's outputs for libvirt's inputs: the drive addresses we give disks and
/// SCSI host devices of the inputs are libvirt's (QEMU numbers SCSI disks on a wide bus),
/// and every controller we add is in libvirt's output (QEMU adds more of its own).
#[test]
fn drive_addresses_and_controllers_match_the_qemu_drivers_output() {
    use crate::devices::controller::ControllerType;
    let Some(out_dir) = conformance_dir() else {
        eprintln!("SKIPPED: conformance data not found");
        return;
    };
    let in_dir = out_dir.with_file_name("qemuxml2argvdata");
    let qemu = DriverDefaults {
        video: VideoModelType::Vga,
        wide_scsi: true,
    };
    let implicit_kinds = [
        ControllerType::Ide,
        ControllerType::Fdc,
        ControllerType::Scsi,
        ControllerType::Sata,
        ControllerType::VirtioSerial,
        ControllerType::Ccid,
    ];
    let read = |p: &Path| {
        let text = std::fs::read_to_string(p).ok()?;
        let text = if text.trim_start().starts_with('<') {
            text
        } else {
            std::fs::read_to_string(p.with_file_name(text.trim())).ok()?
        };
        Domain::parse(&text).ok().map(|d| d.domain)
    };
    let (mut pairs, mut addresses, mut mismatches) = (0, 0, Vec::new());
    for entry in std::fs::read_dir(&out_dir).unwrap() {
        let out_path = entry.unwrap().path();
        let file = out_path.file_name().unwrap().to_string_lossy().to_string();
        let stem = file.split('.').next().unwrap_or_default().to_string();
        let (Some(want), Some(mut ours)) =
            (read(&out_path), read(&in_dir.join(format!("{stem}.xml"))))
        else {
            continue;
        };
        if ours.add_implicit_devices(&qemu).is_err() {
            mismatches.push(format!("{file}: rejected"));
            continue;
        }
        pairs += 1;
        for w in &want.devices.disks {
            let Some(wa) = Drive::of(w.info.address.as_ref()) else {
                continue;
            };
            let ours_disk = ours
                .devices
                .disks
                .iter()
                .find(|d| d.target_dev() == w.target_dev());
            addresses += 1;
            let got = ours_disk.and_then(|d| Drive::of(d.info.address.as_ref()));
            if got != Some(wa) {
                mismatches.push(format!(
                    "{file}: disk {:?}: {got:?} != {wa:?}",
                    w.target_dev()
                ));
            }
        }
        for (w, o) in want.devices.hostdevs.iter().zip(&ours.devices.hostdevs) {
            if let Some(wa) = Drive::of(w.info.address.as_ref()) {
                addresses += 1;
                let got = Drive::of(o.info.address.as_ref());
                if got != Some(wa) {
                    mismatches.push(format!("{file}: hostdev: {got:?} != {wa:?}"));
                }
            }
        }
        for c in ours
            .devices
            .controllers
            .iter()
            .filter(|c| implicit_kinds.contains(&c.kind))
        {
            let known = want
                .devices
                .controllers
                .iter()
                .any(|w| w.kind == c.kind && w.index == c.index);
            if !known {
                mismatches.push(format!("{file}: added {} {:?}", c.kind, c.index));
            }
        }
    }
    println!(
        "qemuxml2argvdata -> qemuxml2xmloutdata: {pairs} pairs, {addresses} drive addresses, \
         {} mismatches",
        mismatches.len()
    );
    assert!(
        pairs > 400 && addresses > 200,
        "{pairs} pairs, {addresses} addresses"
    );
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}
