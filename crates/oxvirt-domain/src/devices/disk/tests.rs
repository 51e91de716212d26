use super::validate::drive_key;
use super::*;

fn read(xml: &str) -> Result<Disk> {
    Disk::from_element(&oxvirt_xml::parse(xml)?, &mut Context::default())
}

fn round_trip(xml: &str) {
    let d = read(xml).unwrap();
    assert_eq!(oxvirt_xml::to_string(&d.to_element()), xml);
}

#[test]
fn file_disk_round_trips() {
    round_trip(
        "<disk type='file' device='disk'>\n  <driver name='qemu' type='qcow2' cache='none'/>\n  \
         <source file='/var/lib/libvirt/images/f.qcow2'/>\n  <target dev='vda' bus='virtio'/>\n  \
         <boot order='1'/>\n  <address type='pci' domain='0x0000' bus='0x00' slot='0x04' function='0x0'/>\n</disk>\n",
    );
}

#[test]
fn network_disk_with_auth_and_chain_round_trips() {
    round_trip(
        "<disk type='network' device='disk'>\n  <driver name='qemu' type='raw'/>\n  \
         <auth username='myname'>\n    <secret type='ceph' usage='mypassid'/>\n  </auth>\n  \
         <source protocol='rbd' name='pool/image'>\n    <host name='mon1.example.org' port='6321'/>\n    \
         <host name='mon2.example.org'/>\n  </source>\n  <backingStore/>\n  \
         <target dev='vda' bus='virtio'/>\n  <readonly/>\n  <shareable/>\n  \
         <serial>WD-WMAP9A966149</serial>\n  <alias name='ua-disk'/>\n</disk>\n",
    );
}

#[test]
fn cdrom_and_lun_attributes_round_trip() {
    round_trip(
        "<disk type='block' device='lun' rawio='yes' sgio='unfiltered'>\n  \
         <driver name='qemu' type='raw'/>\n  <source dev='/dev/sdfake'/>\n  \
         <target dev='sda' bus='scsi'/>\n  <transient shareBacking='yes'/>\n  \
         <vendor>SEAGATE</vendor>\n  <product>ST3146707LC</product>\n  \
         <address type='drive' controller='0' bus='0' target='0' unit='0'/>\n</disk>\n",
    );
    round_trip(
        "<disk type='file' device='cdrom'>\n  <source file='/root/boot.iso' startupPolicy='optional'/>\n  \
         <target dev='hdc' bus='ide' tray='open'/>\n  <readonly/>\n</disk>\n",
    );
}

#[test]
fn libvirt_normalisations_apply() {
    let d = read(
        "<disk type='block' device='cdrom' snapshot='no'><target dev='hdc' tray='closed'/>\
         <readonly/><serial></serial></disk>",
    )
    .unwrap();
    assert_eq!(d.kind, DiskType::File);
    assert_eq!(
        oxvirt_xml::to_string(&d.to_element()),
        "<disk type='file' device='cdrom'>\n  <target dev='hdc'/>\n  <readonly/>\n</disk>\n"
    );
}

#[test]
fn accessors_report_what_a_driver_needs() {
    let d = read(
        "<disk type='file'><driver name='qemu' type='qcow2'/><source file='/a.img'/>\
         <target dev='sdb'/></disk>",
    )
    .unwrap();
    assert_eq!(d.source_path(), Some("/a.img"));
    assert_eq!(d.target_dev(), Some("sdb"));
    assert_eq!(d.effective_bus(), DiskBus::Scsi);
    assert_eq!(d.format(), Some(StorageFormat::Qcow2));
    assert_eq!(d.driver_name(), Some("qemu"));
}

#[test]
fn defaults_assign_bus_and_drive_address() {
    let mut d =
        read("<disk type='file'><source file='/a.img'/><target dev='hdd'/></disk>").unwrap();
    d.assign_bus();
    d.assign_drive_address(true).unwrap();
    assert_eq!(
        oxvirt_xml::to_string(&d.to_element()),
        "<disk type='file' device='disk'>\n  <source file='/a.img'/>\n  <target dev='hdd' bus='ide'/>\n  \
         <address type='drive' controller='0' bus='1' target='0' unit='1'/>\n</disk>\n"
    );
    let mut s = read("<disk><target dev='sdj' bus='scsi'/></disk>").unwrap();
    s.assign_drive_address(true).unwrap();
    assert_eq!(
        s.info.address.as_ref().and_then(drive_key),
        Some((0, 0, 0, 10)),
        "unit 7 is skipped on a wide SCSI bus"
    );
}

#[test]
fn drive_addresses_follow_libvirts_mapping_per_bus() {
    // libvirt 9.0's test driver (narrow SCSI): fdc fdc -> 1/0/0, sata sdg -> 1/0/0,
    // sata sdb -> 0/0/1, scsi sdh -> 1/0/0, ide hde -> 1/0/0, scsi sdaa -> 3/0/5.
    for (xml, want) in [
        (
            "<disk device='floppy'><target dev='fdc' bus='fdc'/></disk>",
            (1, 0, 0, 0),
        ),
        (
            "<disk device='floppy'><target dev='fdb'/></disk>",
            (0, 0, 0, 1),
        ),
        ("<disk><target dev='sdg' bus='sata'/></disk>", (1, 0, 0, 0)),
        ("<disk><target dev='sdb' bus='sata'/></disk>", (0, 0, 0, 1)),
        ("<disk><target dev='sdh' bus='scsi'/></disk>", (1, 0, 0, 0)),
        ("<disk><target dev='sdaa' bus='scsi'/></disk>", (3, 0, 0, 5)),
        ("<disk><target dev='hde' bus='ide'/></disk>", (1, 0, 0, 0)),
        ("<disk><target dev='hda1' bus='ide'/></disk>", (0, 0, 0, 0)),
    ] {
        let mut d = read(xml).unwrap();
        d.assign_drive_address(false).unwrap();
        assert_eq!(
            d.info.address.as_ref().and_then(drive_key),
            Some(want),
            "{xml}"
        );
    }
    let mut v = read("<disk><target dev='vda' bus='virtio'/></disk>").unwrap();
    v.assign_drive_address(false).unwrap();
    assert_eq!(v.info.address, None);
}

#[test]
fn drive_address_needs_a_disk_name_libvirt_can_number() {
    for (dev, bus) in [("foo", "virtio"), ("hd", "ide"), ("sd1", "scsi")] {
        let mut d = read(&format!("<disk><target dev='{dev}' bus='{bus}'/></disk>")).unwrap();
        assert_eq!(
            d.assign_drive_address(false).unwrap_err().libvirt_message(),
            format!("XML error: Unknown disk name '{dev}' and no address specified")
        );
    }
    let mut d = read(
        "<disk><target dev='foo' bus='virtio'/>\
         <address type='pci' domain='0' bus='0' slot='5' function='0'/></disk>",
    )
    .unwrap();
    assert!(
        d.assign_drive_address(false).is_ok(),
        "an address was given"
    );
}

#[test]
fn disk_names_parse_like_libvirt() {
    assert_eq!(parse_disk_name("hd"), None);
    assert_eq!(parse_disk_name("sd1"), None);
    assert_eq!(parse_disk_name("sda"), Some((0, 0)));
    assert_eq!(parse_disk_name("hdb"), Some((1, 0)));
    assert_eq!(parse_disk_name("vdaa"), Some((26, 0)));
    assert_eq!(parse_disk_name("vdb1"), Some((1, 1)));
    assert_eq!(parse_disk_name("xvdz"), Some((25, 0)));
    assert_eq!(parse_disk_name("nvme0"), None);
}

#[test]
fn duplicate_targets_are_rejected_with_libvirts_message() {
    let disks: Vec<Disk> = [
        "<disk type='file'><source file='/tmp/idedisk.img'/><target dev='sda' bus='ide'/></disk>",
        "<disk type='file'><source file='/tmp/usbdisk.img'/><target dev='sda' bus='usb'/></disk>",
    ]
    .iter()
    .map(|x| read(x).unwrap())
    .collect();
    let err = validate_disks(&disks).unwrap_err();
    assert_eq!(err.code, oxvirt_xml::ErrorCode::XmlError);
    assert_eq!(
        err.message,
        "target 'sda' duplicated for disk sources '/tmp/idedisk.img' and '/tmp/usbdisk.img'"
    );
}

#[test]
fn invalid_disks_are_rejected() {
    let missing = read("<disk type='block'><source dev='/dev/HostVG/QEMUGuest1'/></disk>").unwrap();
    assert_eq!(
        validate_disks(&[missing]).unwrap_err().message,
        "missing target information for device /dev/HostVG/QEMUGuest1"
    );
    let lun = read("<disk type='file' device='lun'><source file='/a'/><target dev='sda'/></disk>")
        .unwrap();
    assert_eq!(
        lun.validate().unwrap_err().message,
        "disk device='lun' is only valid for block type disk source"
    );
    // A partition as the target is the QEMU driver's refusal only.
    let part = read("<disk><source file='/a'/><target dev='vdb1'/></disk>").unwrap();
    assert!(part.validate().is_ok());
    let e = part.validate_qemu().unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (
            oxvirt_xml::ErrorCode::ConfigUnsupported,
            "invalid disk target 'vdb1', partitions can't appear in disk targets"
        )
    );
    let err = read("<disk device='tape'/>").unwrap_err();
    assert_eq!(
        err.message,
        "Invalid value for attribute 'device' in element 'disk': 'tape'."
    );
    let err = read(
        "<disk type='network'><auth username='a'/><source protocol='iscsi' name='x'>\
         <auth username='b'/></source></disk>",
    )
    .unwrap_err();
    assert_eq!(
        err.message,
        "an <auth> definition already found for disk source"
    );
}

#[test]
fn disks_are_ordered_like_libvirts_parser_orders_them() {
    let mut disks = Vec::new();
    for (dev, bus) in [
        ("hda", "ide"),
        ("sda", "usb"),
        ("hdc", "ide"),
        ("hdb", "ide"),
    ] {
        let d = read(&format!("<disk><target dev='{dev}' bus='{bus}'/></disk>")).unwrap();
        Disk::insert_sorted(&mut disks, d);
    }
    let order: Vec<_> = disks.iter().filter_map(Disk::target_dev).collect();
    assert_eq!(order, ["hda", "hdb", "hdc", "sda"]);
}
