//! libvirt 9.0's test driver's output for channels, consoles, smartcards and graphics,
//! which get controllers, addresses and a video adapter
//! (`virsh -c test:///default define` then `dumpxml`, devices only; `ERR` gives the
//! error's code and message instead). The definitions are `<domain type='test'>` of OS type
//! `hvm` (`xen` where said) with these devices.

use super::{check, Guest};
use crate::devices::video::VideoModelType;

#[test]
fn virtio_channels_get_a_virtio_serial_controller() {
    check(
        r#"<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel><channel type='pty'><target type='virtio' name='a'/></channel>"#,
        Guest {
            os: "hvm",
            arch: "",
            video: VideoModelType::Cirrus,
        },
        r#"<controller type='virtio-serial' index='0'/>
<channel type='unix'>
  <target type='virtio' name='org.qemu.guest_agent.0'/>
</channel>
<channel type='pty'>
  <target type='virtio' name='a'/>
</channel>"#,
    );
}

#[test]
fn a_channel_address_names_its_controller() {
    check(
        r#"<channel type='pty'><target type='virtio' name='a'/><address type='virtio-serial' controller='2' bus='0' port='3'/></channel>"#,
        Guest {
            os: "hvm",
            arch: "",
            video: VideoModelType::Cirrus,
        },
        r#"<controller type='virtio-serial' index='2'/>
<channel type='pty'>
  <target type='virtio' name='a'/>
  <address type='virtio-serial' controller='2' bus='0' port='3'/>
</channel>"#,
    );
}

#[test]
fn channels_come_before_consoles() {
    check(
        r#"<channel type='pty'><target type='virtio' name='a'/><address type='virtio-serial' controller='1' bus='0' port='1'/></channel><console type='pty'><target type='virtio'/></console>"#,
        Guest {
            os: "hvm",
            arch: "",
            video: VideoModelType::Cirrus,
        },
        r#"<controller type='virtio-serial' index='1'/>
<controller type='virtio-serial' index='0'/>
<console type='pty'>
  <target type='virtio' port='0'/>
</console>
<channel type='pty'>
  <target type='virtio' name='a'/>
  <address type='virtio-serial' controller='1' bus='0' port='1'/>
</channel>"#,
    );
}

#[test]
fn an_existing_virtio_serial_controller_is_used() {
    check(
        r#"<controller type='virtio-serial' index='0' ports='16'/><channel type='pty'><target type='virtio' name='a'/></channel>"#,
        Guest {
            os: "hvm",
            arch: "",
            video: VideoModelType::Cirrus,
        },
        r#"<controller type='virtio-serial' index='0' ports='16'/>
<channel type='pty'>
  <target type='virtio' name='a'/>
</channel>"#,
    );
}

#[test]
fn other_channels_need_no_controller() {
    check(
        r#"<channel type='pty'><target type='guestfwd' address='10.0.2.1' port='4600'/></channel>"#,
        Guest {
            os: "hvm",
            arch: "",
            video: VideoModelType::Cirrus,
        },
        r#"<channel type='pty'>
  <target type='guestfwd' address='10.0.2.1' port='4600'/>
</channel>"#,
    );
}

#[test]
fn a_serial_console_needs_no_controller() {
    check(
        r#"<console type='pty'/><graphics type='vnc'/><disk type='file' device='cdrom'><target dev='hdc'/></disk>"#,
        Guest {
            os: "hvm",
            arch: "",
            video: VideoModelType::Cirrus,
        },
        r#"<disk type='file' device='cdrom'>
  <target dev='hdc' bus='ide'/>
  <readonly/>
  <address type='drive' controller='0' bus='1' target='0' unit='0'/>
</disk>
<controller type='ide' index='0'/>
<serial type='pty'>
  <target port='0'/>
</serial>
<console type='pty'>
  <target type='serial' port='0'/>
</console>
<graphics type='vnc' port='-1' autoport='yes'>
  <listen type='address'/>
</graphics>
<video>
  <model type='cirrus' vram='16384' heads='1' primary='yes'/>
</video>"#,
    );
}

#[test]
fn smartcards_share_ccid_controller_0() {
    check(
        r#"<smartcard mode='host'/><smartcard mode='host'/>"#,
        Guest {
            os: "hvm",
            arch: "",
            video: VideoModelType::Cirrus,
        },
        r#"<controller type='ccid' index='0'/>
<smartcard mode='host'>
  <address type='ccid' controller='0' slot='0'/>
</smartcard>
<smartcard mode='host'>
  <address type='ccid' controller='0' slot='1'/>
</smartcard>"#,
    );
}

#[test]
fn smartcard_slots_follow_the_highest_on_controller_0() {
    check(
        r#"<smartcard mode='host'><address type='ccid' controller='1' slot='0'/></smartcard><smartcard mode='host'/><smartcard mode='host'><address type='ccid' controller='0' slot='3'/></smartcard><smartcard mode='host'/>"#,
        Guest {
            os: "hvm",
            arch: "",
            video: VideoModelType::Cirrus,
        },
        r#"<controller type='ccid' index='1'/>
<controller type='ccid' index='0'/>
<smartcard mode='host'>
  <address type='ccid' controller='1' slot='0'/>
</smartcard>
<smartcard mode='host'>
  <address type='ccid' controller='0' slot='4'/>
</smartcard>
<smartcard mode='host'>
  <address type='ccid' controller='0' slot='3'/>
</smartcard>
<smartcard mode='host'>
  <address type='ccid' controller='0' slot='5'/>
</smartcard>"#,
    );
}

#[test]
fn graphics_without_video_get_the_drivers_adapter() {
    check(
        r#"<graphics type='vnc'/>"#,
        Guest {
            os: "hvm",
            arch: "",
            video: VideoModelType::Cirrus,
        },
        r#"<graphics type='vnc' port='-1' autoport='yes'>
  <listen type='address'/>
</graphics>
<video>
  <model type='cirrus' vram='16384' heads='1' primary='yes'/>
</video>"#,
    );
}

#[test]
fn xen_guests_get_a_xen_adapter() {
    check(
        r#"<graphics type='vnc'/>"#,
        Guest {
            os: "xen",
            arch: "",
            video: VideoModelType::Xen,
        },
        r#"<graphics type='vnc' port='-1' autoport='yes'>
  <listen type='address'/>
</graphics>
<video>
  <model type='xen' vram='4096' heads='1' primary='yes'/>
</video>"#,
    );
}

#[test]
fn ppc64_guests_get_a_vga_adapter() {
    check(
        r#"<graphics type='vnc'/>"#,
        Guest {
            os: "hvm",
            arch: "ppc64",
            video: VideoModelType::Vga,
        },
        r#"<graphics type='vnc' port='-1' autoport='yes'>
  <listen type='address'/>
</graphics>
<video>
  <model type='vga' vram='16384' heads='1' primary='yes'/>
</video>"#,
    );
}

#[test]
fn a_written_adapter_is_kept() {
    check(
        r#"<graphics type='vnc'/><video><model type='vga'/></video>"#,
        Guest {
            os: "hvm",
            arch: "",
            video: VideoModelType::Cirrus,
        },
        r#"<graphics type='vnc' port='-1' autoport='yes'>
  <listen type='address'/>
</graphics>
<video>
  <model type='vga' vram='16384' heads='1' primary='yes'/>
</video>"#,
    );
}

#[test]
fn two_graphics_get_one_adapter() {
    check(
        r#"<graphics type='vnc'/><graphics type='sdl'/>"#,
        Guest {
            os: "hvm",
            arch: "",
            video: VideoModelType::Cirrus,
        },
        r#"<graphics type='vnc' port='-1' autoport='yes'>
  <listen type='address'/>
</graphics>
<graphics type='sdl'/>
<video>
  <model type='cirrus' vram='16384' heads='1' primary='yes'/>
</video>"#,
    );
}

#[test]
fn a_none_adapter_is_kept() {
    check(
        r#"<graphics type='vnc'/><video><model type='none'/></video>"#,
        Guest {
            os: "hvm",
            arch: "",
            video: VideoModelType::Cirrus,
        },
        r#"<graphics type='vnc' port='-1' autoport='yes'>
  <listen type='address'/>
</graphics>
<video>
  <model type='none'/>
</video>"#,
    );
}
