//! libvirt 9.0's test driver's output for SCSI host devices, which get drive addresses
//! and SCSI controllers
//! (`virsh -c test:///default define` then `dumpxml`, devices only; `ERR` gives the
//! error's code and message instead). The definitions are `<domain type='test'>` of OS type
//! `hvm` (`xen` where said) with these devices.

use super::{check, Guest};
use crate::devices::video::VideoModelType;

#[test]
fn a_scsi_hostdev_gets_a_unit_and_a_controller() {
    check(
        r#"<hostdev mode='subsystem' type='scsi'><source><adapter name='scsi_host0'/><address bus='0' target='0' unit='0'/></source></hostdev>"#,
        Guest {
            os: "hvm",
            arch: "",
            video: VideoModelType::Cirrus,
        },
        r#"<controller type='scsi' index='0'/>
<hostdev mode='subsystem' type='scsi' managed='no'>
  <source>
    <adapter name='scsi_host0'/>
    <address bus='0' target='0' unit='0'/>
  </source>
  <address type='drive' controller='0' bus='0' target='0' unit='0'/>
</hostdev>"#,
    );
}

#[test]
fn a_scsi_hostdev_takes_the_unit_after_the_disks() {
    check(
        r#"<disk type='file' device='disk'><source file='/d'/><target dev='sda' bus='scsi'/></disk><hostdev mode='subsystem' type='scsi'><source><adapter name='scsi_host0'/><address bus='0' target='0' unit='0'/></source></hostdev>"#,
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
<controller type='scsi' index='0'/>
<hostdev mode='subsystem' type='scsi' managed='no'>
  <source>
    <adapter name='scsi_host0'/>
    <address bus='0' target='0' unit='0'/>
  </source>
  <address type='drive' controller='0' bus='0' target='0' unit='1'/>
</hostdev>"#,
    );
}

#[test]
fn a_scsi_hostdev_skips_units_used_by_written_addresses() {
    check(
        r#"<disk type='file' device='disk'><source file='/d'/><target dev='sdz' bus='scsi'/><address type='drive' controller='0' bus='0' target='0' unit='0'/></disk><hostdev mode='subsystem' type='scsi'><source><adapter name='scsi_host0'/><address bus='0' target='0' unit='0'/></source></hostdev>"#,
        Guest {
            os: "hvm",
            arch: "",
            video: VideoModelType::Cirrus,
        },
        r#"<disk type='file' device='disk'>
  <source file='/d'/>
  <target dev='sdz' bus='scsi'/>
  <address type='drive' controller='0' bus='0' target='0' unit='0'/>
</disk>
<controller type='scsi' index='0'/>
<hostdev mode='subsystem' type='scsi' managed='no'>
  <source>
    <adapter name='scsi_host0'/>
    <address bus='0' target='0' unit='0'/>
  </source>
  <address type='drive' controller='0' bus='0' target='0' unit='1'/>
</hostdev>"#,
    );
}

#[test]
fn a_scsi_hostdev_fills_gaps() {
    check(
        r#"<disk type='file' device='disk'><source file='/d'/><target dev='sdz' bus='scsi'/><address type='drive' controller='0' bus='0' target='0' unit='1'/></disk><hostdev mode='subsystem' type='scsi'><source><adapter name='scsi_host0'/><address bus='0' target='0' unit='0'/></source></hostdev><hostdev mode='subsystem' type='scsi'><source><adapter name='scsi_host0'/><address bus='0' target='0' unit='2'/></source></hostdev>"#,
        Guest {
            os: "hvm",
            arch: "",
            video: VideoModelType::Cirrus,
        },
        r#"<disk type='file' device='disk'>
  <source file='/d'/>
  <target dev='sdz' bus='scsi'/>
  <address type='drive' controller='0' bus='0' target='0' unit='1'/>
</disk>
<controller type='scsi' index='0'/>
<hostdev mode='subsystem' type='scsi' managed='no'>
  <source>
    <adapter name='scsi_host0'/>
    <address bus='0' target='0' unit='0'/>
  </source>
  <address type='drive' controller='0' bus='0' target='0' unit='0'/>
</hostdev>
<hostdev mode='subsystem' type='scsi' managed='no'>
  <source>
    <adapter name='scsi_host0'/>
    <address bus='0' target='0' unit='2'/>
  </source>
  <address type='drive' controller='0' bus='0' target='0' unit='2'/>
</hostdev>"#,
    );
}

#[test]
fn a_full_narrow_bus_moves_the_hostdev_on() {
    check(
        r#"<disk type='file' device='disk'><source file='/d'/><target dev='sda' bus='scsi'/></disk><disk type='file' device='disk'><source file='/d'/><target dev='sdb' bus='scsi'/></disk><disk type='file' device='disk'><source file='/d'/><target dev='sdc' bus='scsi'/></disk><disk type='file' device='disk'><source file='/d'/><target dev='sdd' bus='scsi'/></disk><disk type='file' device='disk'><source file='/d'/><target dev='sde' bus='scsi'/></disk><disk type='file' device='disk'><source file='/d'/><target dev='sdf' bus='scsi'/></disk><disk type='file' device='disk'><source file='/d'/><target dev='sdg' bus='scsi'/></disk><hostdev mode='subsystem' type='scsi'><source><adapter name='scsi_host0'/><address bus='0' target='0' unit='0'/></source></hostdev>"#,
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
  <target dev='sdb' bus='scsi'/>
  <address type='drive' controller='0' bus='0' target='0' unit='1'/>
</disk>
<disk type='file' device='disk'>
  <source file='/d'/>
  <target dev='sdc' bus='scsi'/>
  <address type='drive' controller='0' bus='0' target='0' unit='2'/>
</disk>
<disk type='file' device='disk'>
  <source file='/d'/>
  <target dev='sdd' bus='scsi'/>
  <address type='drive' controller='0' bus='0' target='0' unit='3'/>
</disk>
<disk type='file' device='disk'>
  <source file='/d'/>
  <target dev='sde' bus='scsi'/>
  <address type='drive' controller='0' bus='0' target='0' unit='4'/>
</disk>
<disk type='file' device='disk'>
  <source file='/d'/>
  <target dev='sdf' bus='scsi'/>
  <address type='drive' controller='0' bus='0' target='0' unit='5'/>
</disk>
<disk type='file' device='disk'>
  <source file='/d'/>
  <target dev='sdg' bus='scsi'/>
  <address type='drive' controller='0' bus='0' target='0' unit='6'/>
</disk>
<controller type='scsi' index='0'/>
<controller type='scsi' index='1'/>
<hostdev mode='subsystem' type='scsi' managed='no'>
  <source>
    <adapter name='scsi_host0'/>
    <address bus='0' target='0' unit='0'/>
  </source>
  <address type='drive' controller='1' bus='0' target='0' unit='0'/>
</hostdev>"#,
    );
}

/// Seven units per bus (unit 7 is the controller's own): the six disks take units 0 to 5,
/// the first SCSI hostdev unit 6, the second a new controller of the same model.
fn seven_unit_controller(model: &str) {
    check(
        &r#"<controller type='scsi' index='0' model='MODEL'/><disk type='file' device='disk'><source file='/d'/><target dev='sda' bus='scsi'/></disk><disk type='file' device='disk'><source file='/d'/><target dev='sdb' bus='scsi'/></disk><disk type='file' device='disk'><source file='/d'/><target dev='sdc' bus='scsi'/></disk><disk type='file' device='disk'><source file='/d'/><target dev='sdd' bus='scsi'/></disk><disk type='file' device='disk'><source file='/d'/><target dev='sde' bus='scsi'/></disk><disk type='file' device='disk'><source file='/d'/><target dev='sdf' bus='scsi'/></disk><hostdev mode='subsystem' type='scsi'><source><adapter name='scsi_host0'/><address bus='0' target='0' unit='0'/></source></hostdev><hostdev mode='subsystem' type='scsi'><source><adapter name='scsi_host0'/><address bus='0' target='0' unit='1'/></source></hostdev>"#
            .replace("MODEL", model),
        Guest {
            os: "hvm",
            arch: "",
            video: VideoModelType::Cirrus,
        },
        &r#"<disk type='file' device='disk'>
  <source file='/d'/>
  <target dev='sda' bus='scsi'/>
  <address type='drive' controller='0' bus='0' target='0' unit='0'/>
</disk>
<disk type='file' device='disk'>
  <source file='/d'/>
  <target dev='sdb' bus='scsi'/>
  <address type='drive' controller='0' bus='0' target='0' unit='1'/>
</disk>
<disk type='file' device='disk'>
  <source file='/d'/>
  <target dev='sdc' bus='scsi'/>
  <address type='drive' controller='0' bus='0' target='0' unit='2'/>
</disk>
<disk type='file' device='disk'>
  <source file='/d'/>
  <target dev='sdd' bus='scsi'/>
  <address type='drive' controller='0' bus='0' target='0' unit='3'/>
</disk>
<disk type='file' device='disk'>
  <source file='/d'/>
  <target dev='sde' bus='scsi'/>
  <address type='drive' controller='0' bus='0' target='0' unit='4'/>
</disk>
<disk type='file' device='disk'>
  <source file='/d'/>
  <target dev='sdf' bus='scsi'/>
  <address type='drive' controller='0' bus='0' target='0' unit='5'/>
</disk>
<controller type='scsi' index='0' model='MODEL'/>
<controller type='scsi' index='1' model='MODEL'/>
<hostdev mode='subsystem' type='scsi' managed='no'>
  <source>
    <adapter name='scsi_host0'/>
    <address bus='0' target='0' unit='0'/>
  </source>
  <address type='drive' controller='0' bus='0' target='0' unit='6'/>
</hostdev>
<hostdev mode='subsystem' type='scsi' managed='no'>
  <source>
    <adapter name='scsi_host0'/>
    <address bus='0' target='0' unit='1'/>
  </source>
  <address type='drive' controller='1' bus='0' target='0' unit='0'/>
</hostdev>"#
            .replace("MODEL", model),
    );
}

#[test]
fn lsilogic_reserves_unit_7_and_lends_its_model() {
    seven_unit_controller("lsilogic");
}

#[test]
fn ncr53c90_has_seven_units() {
    seven_unit_controller("ncr53c90");
}

#[test]
fn lsisas1068_has_two_units() {
    check(
        r#"<controller type='scsi' index='0' model='lsisas1068'/><hostdev mode='subsystem' type='scsi'><source><adapter name='scsi_host0'/><address bus='0' target='0' unit='0'/></source></hostdev><hostdev mode='subsystem' type='scsi'><source><adapter name='scsi_host0'/><address bus='0' target='0' unit='1'/></source></hostdev>"#,
        Guest {
            os: "hvm",
            arch: "",
            video: VideoModelType::Cirrus,
        },
        r#"<controller type='scsi' index='0' model='lsisas1068'/>
<hostdev mode='subsystem' type='scsi' managed='no'>
  <source>
    <adapter name='scsi_host0'/>
    <address bus='0' target='0' unit='0'/>
  </source>
  <address type='drive' controller='0' bus='0' target='0' unit='0'/>
</hostdev>
<hostdev mode='subsystem' type='scsi' managed='no'>
  <source>
    <adapter name='scsi_host0'/>
    <address bus='0' target='0' unit='1'/>
  </source>
  <address type='drive' controller='0' bus='0' target='0' unit='1'/>
</hostdev>"#,
    );
}

#[test]
fn hostdev_controllers_take_the_model_of_the_last_higher_one() {
    check(
        r#"<controller type='scsi' index='1' model='virtio-scsi'/><hostdev mode='subsystem' type='scsi'><source><adapter name='scsi_host0'/><address bus='0' target='0' unit='0'/></source><address type='drive' controller='1' bus='0' target='0' unit='0'/></hostdev><hostdev mode='subsystem' type='scsi'><source><adapter name='scsi_host0'/><address bus='0' target='0' unit='1'/></source><address type='drive' controller='3' bus='0' target='0' unit='0'/></hostdev>"#,
        Guest {
            os: "hvm",
            arch: "",
            video: VideoModelType::Cirrus,
        },
        r#"<controller type='scsi' index='1' model='virtio-scsi'/>
<controller type='scsi' index='0' model='virtio-scsi'/>
<controller type='scsi' index='2' model='virtio-scsi'/>
<controller type='scsi' index='3' model='virtio-scsi'/>
<hostdev mode='subsystem' type='scsi' managed='no'>
  <source>
    <adapter name='scsi_host0'/>
    <address bus='0' target='0' unit='0'/>
  </source>
  <address type='drive' controller='1' bus='0' target='0' unit='0'/>
</hostdev>
<hostdev mode='subsystem' type='scsi' managed='no'>
  <source>
    <adapter name='scsi_host0'/>
    <address bus='0' target='0' unit='1'/>
  </source>
  <address type='drive' controller='3' bus='0' target='0' unit='0'/>
</hostdev>"#,
    );
}

#[test]
fn a_lower_hostdev_controller_keeps_the_model() {
    check(
        r#"<controller type='scsi' index='2' model='lsilogic'/><hostdev mode='subsystem' type='scsi'><source><adapter name='scsi_host0'/><address bus='0' target='0' unit='0'/></source><address type='drive' controller='2' bus='0' target='0' unit='0'/></hostdev><hostdev mode='subsystem' type='scsi'><source><adapter name='scsi_host0'/><address bus='0' target='0' unit='1'/></source><address type='drive' controller='1' bus='0' target='0' unit='0'/></hostdev>"#,
        Guest {
            os: "hvm",
            arch: "",
            video: VideoModelType::Cirrus,
        },
        r#"<controller type='scsi' index='2' model='lsilogic'/>
<controller type='scsi' index='0' model='lsilogic'/>
<controller type='scsi' index='1' model='lsilogic'/>
<hostdev mode='subsystem' type='scsi' managed='no'>
  <source>
    <adapter name='scsi_host0'/>
    <address bus='0' target='0' unit='0'/>
  </source>
  <address type='drive' controller='2' bus='0' target='0' unit='0'/>
</hostdev>
<hostdev mode='subsystem' type='scsi' managed='no'>
  <source>
    <adapter name='scsi_host0'/>
    <address bus='0' target='0' unit='1'/>
  </source>
  <address type='drive' controller='1' bus='0' target='0' unit='0'/>
</hostdev>"#,
    );
}

#[test]
fn a_scsi_disk_may_not_take_a_hostdev_address() {
    check(
        r#"<hostdev mode='subsystem' type='scsi'><source><adapter name='scsi_host0'/><address bus='0' target='0' unit='0'/></source><address type='drive' controller='0' bus='0' target='0' unit='0'/></hostdev><disk type='file' device='disk'><source file='/d'/><target dev='sda' bus='scsi'/></disk>"#,
        Guest {
            os: "hvm",
            arch: "",
            video: VideoModelType::Cirrus,
        },
        r#"ERR 67 unsupported configuration: using disk target name 'sda' conflicts with SCSI host device address controller='0' bus='0' target='0' unit='0"#,
    );
}

#[test]
fn a_scsi_hostdev_may_not_take_a_disk_address() {
    check(
        r#"<disk type='file' device='disk'><source file='/d'/><target dev='sda' bus='scsi'/><address type='drive' controller='0' bus='0' target='0' unit='0'/></disk><hostdev mode='subsystem' type='scsi'><source><adapter name='scsi_host0'/><address bus='0' target='0' unit='0'/></source><address type='drive' controller='0' bus='0' target='0' unit='0'/></hostdev>"#,
        Guest {
            os: "hvm",
            arch: "",
            video: VideoModelType::Cirrus,
        },
        r#"ERR 27 XML error: SCSI host address controller='0' bus='0' target='0' unit='0' in use by a SCSI disk"#,
    );
}
