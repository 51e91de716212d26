//! libvirt 9.0's test driver's output for disks, which get drive addresses and the
//! controllers for them
//! (`virsh -c test:///default define` then `dumpxml`, devices only; `ERR` gives the
//! error's code and message instead). The definitions are `<domain type='test'>` of OS type
//! `hvm` (`xen` where said) with these devices.

use super::{check, Guest};
use crate::devices::video::VideoModelType;

#[test]
fn ide_cdrom_gets_a_drive_address_and_controller() {
    check(
        r#"<disk type='file' device='cdrom'><source file='/x.iso'/><target dev='hdc'/></disk>"#,
        Guest {
            os: "hvm",
            arch: "",
            video: VideoModelType::Cirrus,
        },
        r#"<disk type='file' device='cdrom'>
  <source file='/x.iso'/>
  <target dev='hdc' bus='ide'/>
  <readonly/>
  <address type='drive' controller='0' bus='1' target='0' unit='0'/>
</disk>
<controller type='ide' index='0'/>"#,
    );
}

#[test]
fn ide_disks_span_two_controllers() {
    check(
        r#"<disk type='file' device='disk'><source file='/a'/><target dev='hda' bus='ide'/></disk><disk type='file' device='disk'><source file='/d'/><target dev='hdb'/></disk><disk type='file' device='cdrom'><target dev='hdd' bus='ide'/></disk><disk type='file' device='disk'><source file='/d'/><target dev='hde' bus='ide'/></disk>"#,
        Guest {
            os: "hvm",
            arch: "",
            video: VideoModelType::Cirrus,
        },
        r#"<disk type='file' device='disk'>
  <source file='/a'/>
  <target dev='hda' bus='ide'/>
  <address type='drive' controller='0' bus='0' target='0' unit='0'/>
</disk>
<disk type='file' device='cdrom'>
  <target dev='hdd' bus='ide'/>
  <readonly/>
  <address type='drive' controller='0' bus='1' target='0' unit='1'/>
</disk>
<disk type='file' device='disk'>
  <source file='/d'/>
  <target dev='hde' bus='ide'/>
  <address type='drive' controller='1' bus='0' target='0' unit='0'/>
</disk>
<disk type='file' device='disk'>
  <source file='/d'/>
  <target dev='hdb' bus='ide'/>
  <address type='drive' controller='0' bus='0' target='0' unit='1'/>
</disk>
<controller type='ide' index='0'/>
<controller type='ide' index='1'/>"#,
    );
}

#[test]
fn scsi_disks_use_seven_units_per_controller() {
    check(
        r#"<disk type='file' device='disk'><source file='/d'/><target dev='sda' bus='scsi'/></disk><disk type='file' device='disk'><source file='/d'/><target dev='sdh' bus='scsi'/></disk><disk type='file' device='disk'><source file='/d'/><target dev='sdo' bus='scsi'/></disk>"#,
        Guest {
            os: "hvm",
            arch: "",
            video: VideoModelType::Cirrus,
        },
        r#"<disk type='file' device='disk'>
  <source file='/d'/>
  <target dev='sda' bus='scsi'/>
  <address type='drive' controller='0' bus='0' target='0' unit='0'/>
</disk>
<disk type='file' device='disk'>
  <source file='/d'/>
  <target dev='sdh' bus='scsi'/>
  <address type='drive' controller='1' bus='0' target='0' unit='0'/>
</disk>
<disk type='file' device='disk'>
  <source file='/d'/>
  <target dev='sdo' bus='scsi'/>
  <address type='drive' controller='2' bus='0' target='0' unit='0'/>
</disk>
<controller type='scsi' index='0'/>
<controller type='scsi' index='1'/>
<controller type='scsi' index='2'/>"#,
    );
}

#[test]
fn sata_disks_use_six_units_on_bus_0() {
    check(
        r#"<disk type='file' device='disk'><source file='/d'/><target dev='sda' bus='sata'/></disk><disk type='file' device='disk'><source file='/d'/><target dev='sdb' bus='sata'/></disk><disk type='file' device='disk'><source file='/d'/><target dev='sdg' bus='sata'/></disk>"#,
        Guest {
            os: "hvm",
            arch: "",
            video: VideoModelType::Cirrus,
        },
        r#"<disk type='file' device='disk'>
  <source file='/d'/>
  <target dev='sda' bus='sata'/>
  <address type='drive' controller='0' bus='0' target='0' unit='0'/>
</disk>
<disk type='file' device='disk'>
  <source file='/d'/>
  <target dev='sdb' bus='sata'/>
  <address type='drive' controller='0' bus='0' target='0' unit='1'/>
</disk>
<disk type='file' device='disk'>
  <source file='/d'/>
  <target dev='sdg' bus='sata'/>
  <address type='drive' controller='1' bus='0' target='0' unit='0'/>
</disk>
<controller type='sata' index='0'/>
<controller type='sata' index='1'/>"#,
    );
}

#[test]
fn floppies_use_two_units_per_controller() {
    check(
        r#"<disk type='file' device='floppy'><target dev='fda'/></disk><disk type='file' device='floppy'><target dev='fdb'/></disk><disk type='file' device='floppy'><target dev='fdc'/></disk>"#,
        Guest {
            os: "hvm",
            arch: "",
            video: VideoModelType::Cirrus,
        },
        r#"<disk type='file' device='floppy'>
  <target dev='fda' bus='fdc'/>
  <address type='drive' controller='0' bus='0' target='0' unit='0'/>
</disk>
<disk type='file' device='floppy'>
  <target dev='fdb' bus='fdc'/>
  <address type='drive' controller='0' bus='0' target='0' unit='1'/>
</disk>
<disk type='file' device='floppy'>
  <target dev='fdc' bus='fdc'/>
  <address type='drive' controller='1' bus='0' target='0' unit='0'/>
</disk>
<controller type='fdc' index='0'/>
<controller type='fdc' index='1'/>"#,
    );
}

#[test]
fn usb_virtio_and_xen_disks_get_no_address() {
    check(
        r#"<disk type='file' device='disk'><source file='/d'/><target dev='sda' bus='usb'/></disk><disk type='file' device='disk'><source file='/d'/><target dev='vda' bus='virtio'/></disk><disk type='file' device='disk'><source file='/d'/><target dev='xvda' bus='xen'/></disk>"#,
        Guest {
            os: "hvm",
            arch: "",
            video: VideoModelType::Cirrus,
        },
        r#"<disk type='file' device='disk'>
  <source file='/d'/>
  <target dev='sda' bus='usb'/>
</disk>
<disk type='file' device='disk'>
  <source file='/d'/>
  <target dev='vda' bus='virtio'/>
</disk>
<disk type='file' device='disk'>
  <source file='/d'/>
  <target dev='xvda' bus='xen'/>
</disk>"#,
    );
}

#[test]
fn a_written_drive_address_brings_every_controller_up_to_it() {
    check(
        r#"<disk type='file' device='disk'><source file='/d'/><target dev='hda' bus='ide'/><address type='drive' controller='2' bus='0' target='0' unit='0'/></disk>"#,
        Guest {
            os: "hvm",
            arch: "",
            video: VideoModelType::Cirrus,
        },
        r#"<disk type='file' device='disk'>
  <source file='/d'/>
  <target dev='hda' bus='ide'/>
  <address type='drive' controller='2' bus='0' target='0' unit='0'/>
</disk>
<controller type='ide' index='0'/>
<controller type='ide' index='1'/>
<controller type='ide' index='2'/>"#,
    );
}

#[test]
fn a_partial_drive_address_is_completed() {
    check(
        r#"<disk type='file' device='disk'><source file='/d'/><target dev='hda' bus='ide'/><address type='drive' controller='1'/></disk>"#,
        Guest {
            os: "hvm",
            arch: "",
            video: VideoModelType::Cirrus,
        },
        r#"<disk type='file' device='disk'>
  <source file='/d'/>
  <target dev='hda' bus='ide'/>
  <address type='drive' controller='1' bus='0' target='0' unit='0'/>
</disk>
<controller type='ide' index='0'/>
<controller type='ide' index='1'/>"#,
    );
}

#[test]
fn controllers_are_appended_in_libvirts_order() {
    check(
        r#"<controller type='usb' index='0'/><disk type='file' device='disk'><source file='/d'/><target dev='hda' bus='ide'/></disk><disk type='file' device='disk'><source file='/d'/><target dev='sda' bus='scsi'/></disk>"#,
        Guest {
            os: "hvm",
            arch: "",
            video: VideoModelType::Cirrus,
        },
        r#"<disk type='file' device='disk'>
  <source file='/d'/>
  <target dev='hda' bus='ide'/>
  <address type='drive' controller='0' bus='0' target='0' unit='0'/>
</disk>
<disk type='file' device='disk'>
  <source file='/d'/>
  <target dev='sda' bus='scsi'/>
  <address type='drive' controller='0' bus='0' target='0' unit='0'/>
</disk>
<controller type='usb' index='0'/>
<controller type='scsi' index='0'/>
<controller type='ide' index='0'/>"#,
    );
}

#[test]
fn added_controllers_follow_written_ones() {
    check(
        r#"<controller type='ide' index='1'/><disk type='file' device='disk'><source file='/d'/><target dev='hde' bus='ide'/></disk>"#,
        Guest {
            os: "hvm",
            arch: "",
            video: VideoModelType::Cirrus,
        },
        r#"<disk type='file' device='disk'>
  <source file='/d'/>
  <target dev='hde' bus='ide'/>
  <address type='drive' controller='1' bus='0' target='0' unit='0'/>
</disk>
<controller type='ide' index='1'/>
<controller type='ide' index='0'/>"#,
    );
}

#[test]
fn a_controller_without_index_counts_as_index_0() {
    check(
        r#"<controller type='scsi' model='virtio-scsi'/><disk type='file' device='disk'><source file='/d'/><target dev='sdh' bus='scsi'/></disk>"#,
        Guest {
            os: "hvm",
            arch: "",
            video: VideoModelType::Cirrus,
        },
        r#"<disk type='file' device='disk'>
  <source file='/d'/>
  <target dev='sdh' bus='scsi'/>
  <address type='drive' controller='1' bus='0' target='0' unit='0'/>
</disk>
<controller type='scsi' index='0' model='virtio-scsi'/>
<controller type='scsi' index='1'/>"#,
    );
}

#[test]
fn written_controller_models_are_kept() {
    check(
        r#"<controller type='ide' index='0' model='piix4'/><disk type='file' device='disk'><source file='/d'/><target dev='hda' bus='ide'/></disk><disk type='file' device='disk'><source file='/d'/><target dev='hde' bus='ide'/></disk>"#,
        Guest {
            os: "hvm",
            arch: "",
            video: VideoModelType::Cirrus,
        },
        r#"<disk type='file' device='disk'>
  <source file='/d'/>
  <target dev='hda' bus='ide'/>
  <address type='drive' controller='0' bus='0' target='0' unit='0'/>
</disk>
<disk type='file' device='disk'>
  <source file='/d'/>
  <target dev='hde' bus='ide'/>
  <address type='drive' controller='1' bus='0' target='0' unit='0'/>
</disk>
<controller type='ide' index='0' model='piix4'/>
<controller type='ide' index='1'/>"#,
    );
}

#[test]
fn an_unnumbered_disk_name_is_an_error() {
    check(
        r#"<disk type='file' device='disk'><source file='/d'/><target dev='foo' bus='ide'/></disk>"#,
        Guest {
            os: "hvm",
            arch: "",
            video: VideoModelType::Cirrus,
        },
        r#"ERR 27 XML error: Unknown disk name 'foo' and no address specified"#,
    );
}

#[test]
fn a_disk_name_without_letters_is_an_error() {
    check(
        r#"<disk type='file' device='disk'><source file='/d'/><target dev='hd' bus='ide'/></disk>"#,
        Guest {
            os: "hvm",
            arch: "",
            video: VideoModelType::Cirrus,
        },
        r#"ERR 27 XML error: Unknown disk name 'hd' and no address specified"#,
    );
}

#[test]
fn cdroms_are_read_only_and_floppies_are_not() {
    check(
        r#"<disk type='file' device='floppy'><target dev='fda'/></disk>"#,
        Guest {
            os: "hvm",
            arch: "",
            video: VideoModelType::Cirrus,
        },
        r#"<disk type='file' device='floppy'>
  <target dev='fda' bus='fdc'/>
  <address type='drive' controller='0' bus='0' target='0' unit='0'/>
</disk>
<controller type='fdc' index='0'/>"#,
    );
}

#[test]
fn sata_cdroms_get_sata_addresses() {
    check(
        r#"<disk type='file' device='cdrom'><target dev='sdc' bus='sata'/></disk>"#,
        Guest {
            os: "hvm",
            arch: "",
            video: VideoModelType::Cirrus,
        },
        r#"<disk type='file' device='cdrom'>
  <target dev='sdc' bus='sata'/>
  <readonly/>
  <address type='drive' controller='0' bus='0' target='0' unit='2'/>
</disk>
<controller type='sata' index='0'/>"#,
    );
}
