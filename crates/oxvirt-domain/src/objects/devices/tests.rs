//! Unit tests of device edits. libvirt 9.0's test driver does not implement these calls,
//! so the messages asserted here are libvirt 9.0's own strings (from its QEMU driver and
//! `domain_conf.c`) for the same checks.

use super::*;
use oxvirt_xml::{ErrorCode, ErrorDomain};

const DOMAIN: &str = "<domain type='test'>
  <name>test</name>
  <uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>
  <memory unit='KiB'>8388608</memory>
  <os>
    <type arch='i686'>hvm</type>
  </os>
  <devices>
    <disk type='file' device='disk'>
      <source file='/guest/diskimage1'/>
      <target dev='vda' bus='virtio'/>
      <serial>abc</serial>
      <alias name='virtio-disk0'/>
    </disk>
    <disk type='file' device='cdrom'>
      <source file='/isos/one.iso'/>
      <target dev='hdc' bus='ide'/>
      <readonly/>
    </disk>
    <controller type='usb' index='0'/>
    <interface type='network'>
      <mac address='aa:bb:cc:dd:ee:ff'/>
      <source network='default'/>
      <model type='virtio'/>
      <alias name='net0'/>
    </interface>
    <serial type='pty'>
      <target port='0'/>
    </serial>
  </devices>
</domain>
";

fn domain() -> Domain {
    Domain::parse(DOMAIN).unwrap().domain
}

fn err<T: std::fmt::Debug>(r: Result<T, VirError>) -> (ErrorCode, ErrorDomain, String) {
    let e = r.unwrap_err();
    (e.code, e.domain, e.message)
}

fn targets(def: &Domain) -> Vec<String> {
    def.devices
        .disks
        .iter()
        .map(|d| d.target_dev().unwrap_or("").to_string())
        .collect()
}

#[test]
fn devices_are_read_with_defaults() {
    let def = domain();
    let dev = parse_device(
        "<disk type='file'><source file='/a'/><target dev='sdb'/></disk>",
        &def,
    )
    .unwrap();
    let Device::Disk(d) = &dev else {
        panic!("{dev:?}")
    };
    assert_eq!(d.target_bus(), Some(crate::devices::disk::DiskBus::Scsi));
    assert_eq!(dev.type_name(), "disk");
    let dev = parse_device(
        "<interface type='network'><source network='default'/></interface>",
        &def,
    )
    .unwrap();
    let Device::Interface(i) = &dev else {
        panic!("{dev:?}")
    };
    assert!(i
        .mac_address()
        .unwrap()
        .to_string()
        .starts_with("52:54:00:"));
    let dev = parse_device("<serial type='pty'/>", &def).unwrap();
    assert_eq!(dev.type_name(), "chr");
    assert_eq!(
        err(parse_device("<bogus/>", &def)),
        (
            ErrorCode::XmlError,
            ErrorDomain::Domain,
            "XML error: unknown device type 'bogus'".into()
        )
    );
    let (code, domain, _) = err(parse_device(
        "<disk type='file'><source file='/a'/></disk>",
        &def,
    ));
    assert_eq!((code, domain), (ErrorCode::NoTarget, ErrorDomain::Domain));
}

#[test]
fn attaching_disks() {
    let mut def = domain();
    let alias = attach_device(
        &mut def,
        "<disk type='file' device='disk'><source file='/b'/><target dev='vdb' bus='virtio'/>\
         <alias name='ua-b'/></disk>",
    )
    .unwrap();
    assert_eq!(alias.as_deref(), Some("ua-b"));
    assert_eq!(targets(&def), ["vda", "vdb", "hdc"]);
    for xml in [
        "<disk type='file'><source file='/c'/><target dev='vdb'/></disk>",
        "<disk type='file'><source file='/c'/><target dev='vda' bus='virtio'/></disk>",
    ] {
        let (code, domain, message) = err(attach_device(&mut def, xml));
        assert_eq!(
            (code, domain),
            (ErrorCode::OperationInvalid, ErrorDomain::Test)
        );
        assert!(
            message.starts_with("Requested operation is not valid: target vd"),
            "{message}"
        );
        assert!(message.ends_with(" already exists"), "{message}");
    }
    assert!(def.to_xml().contains("<source file='/b'/>"));
}

#[test]
fn attaching_other_kinds() {
    let mut def = domain();
    attach_device(&mut def, "<controller type='usb'/>").unwrap();
    attach_device(&mut def, "<controller type='scsi' model='virtio-scsi'/>").unwrap();
    let usb: Vec<_> = def
        .devices
        .controllers
        .iter()
        .map(|c| (c.kind.to_string(), c.index))
        .collect();
    assert!(usb.contains(&("usb".into(), Some(1))), "{usb:?}");
    assert!(usb.contains(&("scsi".into(), Some(0))), "{usb:?}");
    assert_eq!(
        err(attach_device(
            &mut def,
            "<controller type='usb' index='1'/>"
        ))
        .2,
        "Requested operation is not valid: controller index='1' already exists"
    );
    attach_device(
        &mut def,
        "<interface type='network'><source network='default'/></interface>",
    )
    .unwrap();
    assert_eq!(def.devices.interfaces.len(), 2);
    attach_device(&mut def, "<watchdog model='i6300esb'/>").unwrap();
    assert_eq!(
        err(attach_device(&mut def, "<watchdog model='i6300esb'/>")).2,
        "Requested operation is not valid: domain already has a watchdog"
    );
    attach_device(&mut def, "<vsock model='virtio'><cid auto='yes'/></vsock>").unwrap();
    assert_eq!(
        err(attach_device(
            &mut def,
            "<vsock model='virtio'><cid auto='yes'/></vsock>"
        ))
        .2,
        "Requested operation is not valid: domain already has a vsock device"
    );
    attach_device(&mut def, "<serial type='pty'/>").unwrap();
    assert_eq!(def.devices.serials.len(), 2);
    assert_eq!(
        err(attach_device(
            &mut def,
            "<serial type='pty'><target port='0'/></serial>"
        ))
        .2,
        "Requested operation is not valid: chardev already exists"
    );
    attach_device(
        &mut def,
        "<filesystem type='mount'><source dir='/s'/><target dir='tag'/></filesystem>",
    )
    .unwrap();
    assert_eq!(
        err(attach_device(
            &mut def,
            "<filesystem type='mount'><source dir='/t'/><target dir='tag'/></filesystem>"
        ))
        .2,
        "Requested operation is not valid: Target already exists"
    );
    for (xml, name) in [
        ("<graphics type='vnc'/>", "graphics"),
        ("<video><model type='vga'/></video>", "video"),
        ("<memballoon model='virtio'/>", "memballoon"),
        ("<hub type='usb'/>", "hub"),
    ] {
        assert_eq!(
            err(attach_device(&mut def, xml)),
            (
                ErrorCode::OperationUnsupported,
                ErrorDomain::Test,
                format!("Operation not supported: persistent attach of device '{name}' is not supported")
            )
        );
    }
}

#[test]
fn detaching_disks_and_controllers() {
    let mut def = domain();
    let alias = detach_device(&mut def, "<disk type='file'><target dev='vda'/></disk>").unwrap();
    assert_eq!(alias.as_deref(), Some("virtio-disk0"));
    assert_eq!(targets(&def), ["hdc"]);
    assert_eq!(
        err(detach_device(
            &mut def,
            "<disk type='file'><target dev='vdz'/></disk>"
        )),
        (
            ErrorCode::DeviceMissing,
            ErrorDomain::Test,
            "device not found: no target device vdz".into()
        )
    );
    // A disk can be named by its source path.
    detach_device(
        &mut def,
        "<disk type='file'><target dev='/isos/one.iso'/></disk>",
    )
    .unwrap();
    assert!(def.devices.disks.is_empty());
    assert_eq!(
        err(detach_device(
            &mut def,
            "<controller type='usb' index='3'/>"
        ))
        .2,
        "device not found: device not present in domain configuration"
    );
    detach_device(&mut def, "<controller type='usb' index='0'/>").unwrap();
    assert!(def
        .devices
        .controllers
        .iter()
        .all(|c| c.kind.to_string() != "usb"));
    assert_eq!(
        err(detach_device(&mut def, "<graphics type='vnc'/>")).2,
        "Operation not supported: persistent detach of device 'graphics' is not supported"
    );
}

#[test]
fn detaching_interfaces_by_mac_address_and_alias() {
    const NO_MAC: &str = "<interface type='network'><source network='n'/></interface>";
    let mut def = domain();
    assert_eq!(
        err(detach_device(&mut def, "<interface type='network'><mac address='52:54:00:00:00:01'/><source network='n'/></interface>")),
        (
            ErrorCode::DeviceMissing,
            ErrorDomain::Domain,
            "device not found: no device found at address '<null>' matching MAC address \
             '52:54:00:00:00:01' and alias '<null>'"
                .into()
        )
    );
    assert_eq!(
        err(detach_device(
            &mut def,
            "<interface type='network'><source network='n'/><address type='pci' domain='0' \
             bus='0' slot='3' function='0'/><alias name='ua-x'/></interface>"
        ))
        .2,
        "device not found: no device found at address '0000:00:03.0' matching MAC address \
         '<null>' and alias 'ua-x'"
    );
    attach_device(
        &mut def,
        "<interface type='network'><mac address='aa:bb:cc:dd:ee:ff'/><source network='x'/>\
         <alias name='ua-two'/></interface>",
    )
    .unwrap();
    let same = "<interface type='network'><mac address='aa:bb:cc:dd:ee:ff'/>\
                <source network='n'/></interface>";
    assert_eq!(
        err(detach_device(&mut def, same)),
        (
            ErrorCode::OperationFailed,
            ErrorDomain::Domain,
            "operation failed: multiple devices matching MAC address aa:bb:cc:dd:ee:ff found"
                .into()
        )
    );
    assert_eq!(
        err(detach_device(&mut def, NO_MAC)).2,
        "operation failed: multiple matching devices found"
    );
    // The alias tells them apart.
    let by_alias = "<interface type='network'><mac address='aa:bb:cc:dd:ee:ff'/>\
                    <source network='n'/><alias name='ua-two'/></interface>";
    assert_eq!(
        detach_device(&mut def, by_alias).unwrap().as_deref(),
        Some("ua-two")
    );
    // One left: no MAC needed.
    assert_eq!(
        detach_device(&mut def, NO_MAC).unwrap().as_deref(),
        Some("net0")
    );
    assert!(def.devices.interfaces.is_empty());
}

#[test]
fn detaching_other_kinds() {
    let mut def = domain();
    detach_device(&mut def, "<serial type='pty'><target port='0'/></serial>").unwrap();
    assert!(def.devices.serials.is_empty());
    let cases = [
        (
            "<serial type='pty'><target port='5'/></serial>",
            "device not present in domain configuration",
        ),
        (
            "<filesystem type='mount'><source dir='/s'/><target dir='no'/></filesystem>",
            "no matching filesystem device was found",
        ),
        ("<watchdog model='i6300esb'/>", "domain has no watchdog"),
        (
            "<vsock model='virtio'><cid auto='yes'/></vsock>",
            "matching vsock device not found",
        ),
        (
            "<input type='tablet' bus='usb'/>",
            "matching input device not found",
        ),
        (
            "<sound model='ich6'/>",
            "device not present in domain configuration",
        ),
        (
            "<rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>",
            "no matching RNG device was found",
        ),
        ("<shmem name='s'/>", "matching shmem device was not found"),
    ];
    for (xml, message) in cases {
        assert_eq!(
            err(detach_device(&mut def, xml)),
            (
                ErrorCode::DeviceMissing,
                ErrorDomain::Test,
                format!("device not found: {message}")
            ),
            "{xml}"
        );
    }
    attach_device(&mut def, "<input type='tablet' bus='usb'/>").unwrap();
    attach_device(&mut def, "<sound model='ich6'/>").unwrap();
    attach_device(&mut def, "<shmem name='s'/>").unwrap();
    attach_device(&mut def, "<watchdog model='i6300esb'/>").unwrap();
    for xml in [
        "<input type='tablet' bus='usb'/>",
        "<sound model='ich6'/>",
        "<shmem name='s'/>",
        "<watchdog model='i6300esb'/>",
    ] {
        detach_device(&mut def, xml).unwrap();
    }
    assert!(def
        .devices
        .inputs
        .iter()
        .all(|i| i.bus.is_none() || i.kind.to_string() != "tablet"));
    assert!(def.devices.sounds.is_empty() && def.devices.others.is_empty());
}

#[test]
fn updating_a_cdrom_changes_its_medium() {
    let mut def = domain();
    update_device(
        &mut def,
        "<disk type='file' device='cdrom'><source file='/isos/two.iso'/>\
         <target dev='hdc' bus='ide' tray='open'/><readonly/></disk>",
    )
    .unwrap();
    let cd = &def.devices.disks[1];
    assert_eq!(cd.source_path(), Some("/isos/two.iso"));
    assert!(def
        .to_xml()
        .contains("<target dev='hdc' bus='ide' tray='open'/>"));
    // Ejecting: no source.
    update_device(
        &mut def,
        "<disk type='file' device='cdrom'><target dev='hdc' bus='ide'/><readonly/></disk>",
    )
    .unwrap();
    assert_eq!(def.devices.disks[1].source_path(), None);
}

#[test]
fn updating_refuses_what_the_guest_would_see() {
    let mut def = domain();
    let cases: &[(&str, ErrorCode, &str)] = &[
        (
            "<disk type='file' device='disk'><source file='/other'/><target dev='vda' bus='virtio'/>\
             <serial>abc</serial></disk>",
            ErrorCode::OperationUnsupported,
            "Operation not supported: disk source can be changed only in removable drives",
        ),
        (
            "<disk type='file' device='disk'><source file='/guest/diskimage1'/>\
             <target dev='vda' bus='virtio'/><serial>xyz</serial></disk>",
            ErrorCode::OperationUnsupported,
            "Operation not supported: cannot modify field 'serial' of the disk",
        ),
        (
            "<disk type='file' device='cdrom'><target dev='vda' bus='virtio'/><serial>abc</serial></disk>",
            ErrorCode::OperationUnsupported,
            "Operation not supported: cannot modify field 'device' of the disk",
        ),
        (
            "<disk type='file'><source file='/x'/><target dev='vdz'/></disk>",
            ErrorCode::InvalidArg,
            "invalid argument: target vdz doesn't exist.",
        ),
        (
            "<interface type='network'><mac address='aa:bb:cc:dd:ee:ff'/><source network='d'/>\
             <model type='e1000'/></interface>",
            ErrorCode::OperationUnsupported,
            "Operation not supported: cannot modify network device model from virtio to e1000",
        ),
        (
            "<interface type='bridge'><mac address='aa:bb:cc:dd:ee:ff'/><source bridge='br0'/>\
             <model type='virtio'/></interface>",
            ErrorCode::OperationUnsupported,
            "Operation not supported: cannot change config of 'bridge' network interface type",
        ),
        (
            "<sound model='ich6'/>",
            ErrorCode::OperationUnsupported,
            "Operation not supported: live update of device 'sound' is not supported",
        ),
        (
            "<graphics type='vnc'/>",
            ErrorCode::OperationFailed,
            "operation failed: cannot find existing graphics type 'vnc' device to modify",
        ),
    ];
    for (xml, code, message) in cases {
        let (c, _, m) = err(update_device(&mut def, xml));
        assert_eq!((c, m.as_str()), (*code, *message), "{xml}");
    }
    // The same disk again is accepted and changes nothing.
    let before = def.clone();
    update_device(
        &mut def,
        "<disk type='file' device='disk'><source file='/guest/diskimage1'/>\
         <target dev='vda' bus='virtio'/><serial>abc</serial></disk>",
    )
    .unwrap();
    assert_eq!(def, before);
}

#[test]
fn updating_an_interface_sets_its_link_state() {
    let mut def = domain();
    update_device(
        &mut def,
        "<interface type='network'><mac address='aa:bb:cc:dd:ee:ff'/><source network='default'/>\
         <model type='virtio'/><link state='down'/></interface>",
    )
    .unwrap();
    let xml = def.to_xml();
    assert!(xml.contains("<link state='down'/>"), "{xml}");
    // The alias stays when the description does not give one.
    assert!(xml.contains("<alias name='net0'/>"), "{xml}");
    // Without a MAC address the only interface is meant, and keeps its address.
    update_device(
        &mut def,
        "<interface type='network'><source network='default'/><model type='virtio'/></interface>",
    )
    .unwrap();
    let xml = def.to_xml();
    assert!(!xml.contains("<link"), "{xml}");
    assert!(xml.contains("<mac address='aa:bb:cc:dd:ee:ff'/>"), "{xml}");
}

#[test]
fn graphics_settings_are_replaced() {
    let mut def = domain();
    def.devices.graphics.push(
        match parse_device("<graphics type='vnc' port='5900'/>", &def).unwrap() {
            Device::Graphics(g) => *g,
            other => panic!("{other:?}"),
        },
    );
    update_device(&mut def, "<graphics type='vnc' port='5901' passwd='x'/>").unwrap();
    assert_eq!(def.devices.graphics[0].port, Some(5901));
    assert_eq!(def.devices.graphics[0].passwd.as_deref(), Some("x"));
}
