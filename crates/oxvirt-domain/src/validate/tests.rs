use oxvirt_xml::{ErrorCode, XmlError};

use crate::Domain;

fn domain(extra: &str, devices: &str) -> Domain {
    let xml = format!(
        "<domain type='qemu'><name>t</name><memory>1024</memory><os><type>hvm</type></os>\
         {extra}<devices>{devices}</devices></domain>"
    );
    let mut d = Domain::parse(&xml).unwrap().domain;
    d.apply_defaults_for("i686").unwrap();
    d
}

fn check(extra: &str, devices: &str) -> Result<(), XmlError> {
    domain(extra, devices).validate()
}

fn refused(extra: &str, devices: &str) -> (ErrorCode, String) {
    let e = check(extra, devices).unwrap_err();
    (e.code, e.message)
}

#[test]
fn memory_is_required() {
    let d = Domain::parse("<domain type='qemu'><name>t</name><os><type>hvm</type></os></domain>")
        .unwrap()
        .domain;
    let err = d.validate().unwrap_err();
    assert_eq!(err.code, oxvirt_xml::ErrorCode::XmlError);
    assert!(err.message.starts_with("Memory size must be specified"));
}

/// libvirt 9.0's test driver: poweroff and reboot cannot dump core, a crash can do anything.
#[test]
fn lifecycle_actions_each_event_allows() {
    for (event, action) in [
        ("poweroff", "coredump-destroy"),
        ("poweroff", "coredump-restart"),
        ("reboot", "coredump-destroy"),
        ("reboot", "coredump-restart"),
    ] {
        assert_eq!(
            refused(&format!("<on_{event}>{action}</on_{event}>"), ""),
            (
                ErrorCode::ConfigUnsupported,
                format!("Lifecycle event '{event}' doesn't support '{action}' action")
            )
        );
    }
    for action in ["destroy", "restart", "rename-restart", "preserve"] {
        for event in ["poweroff", "reboot", "crash"] {
            assert!(check(&format!("<on_{event}>{action}</on_{event}>"), "").is_ok());
        }
    }
    for action in ["coredump-destroy", "coredump-restart"] {
        assert!(check(&format!("<on_crash>{action}</on_crash>"), "").is_ok());
    }
    // poweroff is checked before reboot.
    assert_eq!(
        refused(
            "<on_poweroff>coredump-restart</on_poweroff><on_reboot>coredump-destroy</on_reboot>",
            ""
        )
        .1,
        "Lifecycle event 'poweroff' doesn't support 'coredump-restart' action"
    );
}

#[test]
fn unknown_lifecycle_actions() {
    let parse = |extra: &str| {
        Domain::parse(&format!(
            "<domain type='qemu'><name>t</name>{extra}</domain>"
        ))
        .map(|p| p.domain)
    };
    let e = parse("<on_poweroff>x</on_poweroff>").unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (
            ErrorCode::ConfigUnsupported,
            "unknown on_poweroff action: x"
        )
    );
    // Not trimmed, and on_reboot is read first.
    let e = parse("<on_poweroff>x</on_poweroff><on_reboot> restart </on_reboot>").unwrap_err();
    assert_eq!(e.message, "unknown on_reboot action:  restart ");
    // Empty is the default.
    assert_eq!(parse("<on_reboot></on_reboot>").unwrap().on_reboot, None);
}

const DISK: &str = "<disk type='file' device='disk'><source file='/{n}'/>\
                    <target dev='vd{n}'/><alias name='{a}'/></disk>";

fn disk(n: &str, alias: &str) -> String {
    DISK.replace("{n}", n).replace("{a}", alias)
}

#[test]
fn user_aliases_are_unique() {
    let dup = format!("{}{}", disk("a", "ua-x"), disk("b", "ua-x"));
    assert_eq!(
        refused("", &dup),
        (
            ErrorCode::ConfigUnsupported,
            "non unique alias detected: ua-x".to_string()
        )
    );
    // Across kinds, and for the untyped ones too.
    let across = format!(
        "{}<interface type='user'><alias name='ua-x'/></interface>",
        disk("a", "ua-x")
    );
    assert_eq!(refused("", &across).1, "non unique alias detected: ua-x");
    let shmem =
        "<shmem name='a'><alias name='ua-s'/></shmem><shmem name='b'><alias name='ua-s'/></shmem>";
    assert_eq!(refused("", shmem).1, "non unique alias detected: ua-s");
    // Only user aliases are checked.
    let theirs = format!("{}{}", disk("a", "virtio-disk0"), disk("b", "virtio-disk0"));
    assert!(check("", &theirs).is_ok());
}

/// Which alias libvirt reports when two are used twice: the one whose second user comes
/// first in its device order (disks, interfaces, ..., controllers, ..., rng, hub, shmem,
/// ..., memory, redirdev, ...), as python3-libvirt shows on the test driver.
#[test]
fn duplicate_aliases_in_libvirts_device_order() {
    let devices = format!(
        "{}{}<shmem name='s'><alias name='ua-a'/></shmem>\
         <controller type='scsi' index='0'><alias name='ua-b'/></controller>",
        disk("a", "ua-a"),
        disk("b", "ua-b")
    );
    assert_eq!(refused("", &devices).1, "non unique alias detected: ua-b");
    let devices = format!(
        "{}{}<hub type='usb'><alias name='ua-a'/></hub>\
         <rng model='virtio'><backend model='random'>/dev/random</backend><alias name='ua-b'/></rng>",
        disk("a", "ua-a"),
        disk("b", "ua-b")
    );
    assert_eq!(refused("", &devices).1, "non unique alias detected: ua-b");
}

/// With the console compatibility of the first serial port, libvirt does not check that
/// port's alias (nor the console's, which is the serial port's).
#[test]
fn first_serial_port_alias_is_not_checked() {
    let serial = |port: u32| {
        format!("<serial type='pty'><target port='{port}'/><alias name='ua-a'/></serial>")
    };
    assert!(check("", &format!("{}{}", serial(0), serial(1))).is_ok());
    let nic = "<interface type='user'><alias name='ua-a'/></interface>";
    assert!(check("", &format!("{}{nic}", serial(0))).is_ok());
    let file =
        "<serial type='file'><source path='/f'/><target port='1'/><alias name='ua-a'/></serial>";
    assert!(check("", &format!("{}{file}{nic}", serial(0))).is_err());
}
