use oxvirt_domain::devices::info::Alias;
use oxvirt_domain::objects::devices::parse_device;

use super::*;
use crate::parse::parse_domain;

fn domain(devices: &str) -> Domain {
    let xml = format!(
        "<domain type='test'><name>a</name><memory>1048576</memory>\
         <os><type>hvm</type></os><devices>{devices}</devices></domain>"
    );
    parse_domain(&xml).expect("the definition parses").0
}

/// Every alias of `def` in the order the model lists its devices, with the untyped
/// devices' last.
fn aliases(def: &Domain) -> Vec<String> {
    let mut def = def.clone();
    let mut out: Vec<String> = infos_mut(&mut def.devices)
        .into_iter()
        .filter_map(|i| i.alias_name().map(str::to_string))
        .collect();
    out.extend(
        def.devices
            .others
            .iter()
            .filter_map(|e| element_alias(e).map(str::to_string)),
    );
    out
}

#[test]
fn user_aliases_are_ua_and_safe_characters() {
    for ok in ["ua-", "ua-x_y-Z9", "ua-disk0"] {
        assert!(is_user_alias(ok), "{ok}");
    }
    for bad in ["ua-a.b", "UA-x", "net0", "ua-é", "ua x", "xua-"] {
        assert!(!is_user_alias(bad), "{bad}");
    }
}

#[test]
fn an_inactive_definition_keeps_only_user_aliases() {
    let def = domain(
        "<interface type='network'><source network='default'/><alias name='net5'/></interface>\
         <interface type='network'><source network='default'/><alias name='ua-n'/></interface>\
         <shmem name='s'><alias name='ua-a.b'/></shmem>\
         <hub type='usb'><alias name='ua-hub'/></hub>",
    );
    assert_eq!(aliases(&def), ["ua-n", "ua-hub"]);
    let xml = def.to_xml();
    assert!(!xml.contains("net5") && !xml.contains("ua-a.b"), "{xml}");
}

#[test]
fn devices_get_the_aliases_qemu_gives_them_at_start() {
    let def = domain(
        "<disk type='file' device='disk'><source file='/a'/><target dev='vda' bus='virtio'/></disk>\
         <disk type='file' device='cdrom'><source file='/b'/><target dev='hdc' bus='ide'/></disk>\
         <disk type='file' device='disk'><source file='/c'/><target dev='sdj' bus='scsi'/></disk>\
         <disk type='file' device='disk'><source file='/d'/><target dev='sda' bus='scsi'/>\
           <address type='drive' controller='1' bus='0' target='2' unit='3'/></disk>\
         <disk type='file' device='disk'><source file='/e'/><target dev='sdb' bus='scsi'/></disk>\
         <controller type='scsi' index='1' model='virtio-scsi'/>\
         <controller type='usb' index='0'/>\
         <controller type='virtio-serial' index='0'/>\
         <interface type='network'><source network='default'/></interface>\
         <interface type='network'><source network='default'/><alias name='ua-n'/></interface>\
         <interface type='network'><source network='default'/></interface>\
         <interface type='hostdev'><source><address type='pci' domain='0' bus='1' slot='0' \
           function='0'/></source></interface>\
         <hostdev mode='subsystem' type='pci'><source><address domain='0' bus='2' slot='0' \
           function='0'/></source></hostdev>\
         <serial type='pty'/><channel type='pty'><target type='virtio' name='x'/></channel>\
         <input type='tablet' bus='usb'/><input type='keyboard' bus='usb'/>\
         <sound model='ich6'/><video><model type='vga'/></video>\
         <watchdog model='i6300esb'/><rng model='virtio'><backend model='random'/></rng>\
         <memballoon model='virtio'/>\
         <shmem name='s'/><memory model='dimm'><target><size>1024</size><node>0</node></target>\
           <address type='dimm' slot='2'/></memory>",
    );
    let aliased = with_start_aliases(&def);
    let disks: Vec<_> = aliased
        .devices
        .disks
        .iter()
        .map(|d| {
            (
                d.target_dev().unwrap_or(""),
                d.info.alias_name().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        disks,
        [
            ("vda", "virtio-disk0"),
            ("hdc", "ide0-1-0"),
            ("sda", "scsi1-0-2-3"),
            ("sdb", "scsi0-0-1"),
            // Unit 9 of a narrow bus is on controller 1, a virtio-scsi one.
            ("sdj", "scsi1-0-0-2"),
        ]
    );
    let nets: Vec<_> = aliased
        .devices
        .interfaces
        .iter()
        .map(|n| n.info.alias_name().unwrap_or(""))
        .collect();
    assert_eq!(nets, ["net0", "ua-n", "net1", "hostdev0"]);
    assert_eq!(
        aliased.devices.hostdevs[0].info.alias_name(),
        Some("hostdev1")
    );
    let controllers: Vec<_> = aliased
        .devices
        .controllers
        .iter()
        .map(|c| c.info.alias_name().unwrap_or(""))
        .collect();
    assert!(controllers.contains(&"usb"), "{controllers:?}");
    assert!(controllers.contains(&"scsi1"), "{controllers:?}");
    assert!(controllers.contains(&"virtio-serial0"), "{controllers:?}");
    let all = aliases(&aliased);
    for want in [
        "serial0",
        "channel0",
        "input0",
        "input1",
        "sound0",
        "video0",
        "watchdog0",
        "rng0",
        "balloon0",
        "shmem0",
        "dimm2",
    ] {
        assert!(all.iter().any(|a| a == want), "{want} in {all:?}");
    }
    // The definition itself is left as it was.
    assert_eq!(aliases(&def), ["ua-n"]);
}

fn hotplug(def: &Domain, xml: &str) -> Option<String> {
    let dev = parse_device(xml, def).expect("the device parses");
    hotplug_alias(&with_start_aliases(def), &dev)
}

const NIC: &str = "<interface type='network'><source network='default'/></interface>";

#[test]
fn hotplugged_devices_follow_the_ones_there() {
    let def = domain(&format!(
        "{NIC}<disk type='file'><source file='/a'/><target dev='vda' bus='virtio'/></disk>\
         <serial type='pty'/><controller type='scsi' index='0'/>"
    ));
    assert_eq!(hotplug(&def, NIC).as_deref(), Some("net1"));
    let disk = "<disk type='file'><source file='/b'/><target dev='vdc' bus='virtio'/></disk>";
    assert_eq!(hotplug(&def, disk).as_deref(), Some("virtio-disk2"));
    let ide = "<disk type='file' device='cdrom'><target dev='hdb' bus='ide'/></disk>";
    assert_eq!(hotplug(&def, ide).as_deref(), Some("ide0-0-1"));
    let serial = "<serial type='pty'/>";
    assert_eq!(hotplug(&def, serial).as_deref(), Some("serial1"));
    // The serial port's console (added with it) is console0.
    let console = "<console type='pty'><target type='virtio'/></console>";
    assert_eq!(hotplug(&def, console).as_deref(), Some("console1"));
    let scsi = "<controller type='scsi'/>";
    assert_eq!(hotplug(&def, scsi).as_deref(), Some("scsi1"));
    let hostdev = "<hostdev mode='subsystem' type='pci'><source><address domain='0' bus='2' \
                   slot='0' function='0'/></source></hostdev>";
    assert_eq!(hotplug(&def, hostdev).as_deref(), Some("hostdev0"));
    let rng = "<rng model='virtio'><backend model='random'/></rng>";
    assert_eq!(hotplug(&def, rng).as_deref(), Some("rng0"));
    assert_eq!(
        hotplug(&def, "<watchdog model='i6300esb'/>").as_deref(),
        Some("watchdog0")
    );
    // The QEMU driver cannot hotplug sound cards.
    assert_eq!(hotplug(&def, "<sound model='ich6'/>"), None);
}

#[test]
fn hotplugged_interfaces_skip_past_the_highest_net_alias() {
    let def = domain(
        "<interface type='network'><source network='default'/><alias name='ua-x'/></interface>",
    );
    assert_eq!(hotplug(&def, NIC).as_deref(), Some("net0"));
    let mut def = with_start_aliases(&domain(NIC));
    def.devices.interfaces[0].info.alias = Some(Alias {
        name: "net3".into(),
        unknown: Default::default(),
    });
    assert_eq!(hotplug(&def, NIC).as_deref(), Some("net4"));
}

#[test]
fn hotplugged_inputs_number_as_qemu_does() {
    let input = "<input type='tablet' bus='usb'/>";
    let two = domain("<input type='tablet' bus='usb'/><input type='keyboard' bus='usb'/>");
    assert_eq!(hotplug(&two, input).as_deref(), Some("input2"));
    // qemuAssignDeviceInputAlias starts from -1 and no input moves it.
    assert_eq!(hotplug(&domain(""), input).as_deref(), Some("input-1"));
}

#[test]
fn device_documents_keep_only_a_user_alias() {
    let doc = DeviceDoc::new(
        "<interface type='network'><source network='default'/><alias name='net7'/></interface>",
    );
    assert!(!doc.xml().contains("alias"), "{}", doc.xml());
    assert!(doc.hotpluggable());
    let (xml, alias) = doc.for_live_attach(&domain(NIC));
    assert_eq!(alias.as_deref(), Some("net1"));
    assert!(xml.contains("<alias name='net1'/>"), "{xml}");

    let user = "<disk type='file'><source file='/b'/><target dev='vdb' bus='virtio'/>\
                <alias name='ua-b'/><address type='pci' domain='0' bus='0' slot='9' \
                function='0'/></disk>";
    let doc = DeviceDoc::new(user);
    assert_eq!(doc.xml(), user, "a user alias is kept as written");
    let (xml, alias) = doc.for_live_attach(&domain(""));
    assert_eq!((xml.as_str(), alias.as_deref()), (user, Some("ua-b")));

    let bad = DeviceDoc::new("<disk");
    assert_eq!(bad.xml(), "<disk");
    assert!(!bad.hotpluggable());
    assert_eq!(bad.for_live_attach(&domain("")).1, None);
    assert!(!DeviceDoc::new("<sound model='ich6'/>").hotpluggable());
}

#[test]
fn the_alias_goes_before_the_address_of_an_untyped_device() {
    let mut el = oxvirt_xml::parse(
        "<shmem name='s'><model type='ivshmem-plain'/><address type='pci' slot='3'/></shmem>",
    )
    .unwrap();
    set_element_alias(&mut el, "shmem0");
    let names: Vec<&str> = el.elements().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["model", "alias", "address"]);
}

#[test]
fn a_detached_device_is_named_by_its_start_alias() {
    let def = domain(&format!(
        "<disk type='file'><source file='/a'/><target dev='vda' bus='virtio'/></disk>{NIC}\
         <interface type='network'><mac address='52:54:00:00:00:b2'/>\
         <source network='default'/></interface>\
         <sound model='ich6'/>"
    ));
    let alias = |xml: &str| detached_alias(&def, &DeviceDoc::new(xml));

    assert_eq!(
        alias("<disk type='file'><target dev='vda'/></disk>").as_deref(),
        Some("virtio-disk0")
    );
    assert_eq!(
        alias(
            "<interface type='network'><mac address='52:54:00:00:00:b2'/>\
             <source network='default'/></interface>"
        )
        .as_deref(),
        Some("net1")
    );

    assert_eq!(alias("<sound model='ich6'/>"), None, "not hot-unpluggable");
    assert_eq!(alias("<disk type='file'><target dev='vdz'/></disk>"), None);
}
