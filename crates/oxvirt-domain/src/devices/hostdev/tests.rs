use super::*;

fn read(xml: &str) -> Result<Hostdev> {
    Hostdev::from_element(&oxvirt_xml::parse(xml)?, &mut Context::default())
}

fn round_trip(xml: &str) {
    let h = read(xml).unwrap();
    assert_eq!(oxvirt_xml::to_string(&h.to_element()), xml);
}

#[test]
fn subsystem_devices_round_trip() {
    round_trip(
        "<hostdev mode='subsystem' type='pci' managed='yes'>\n  <driver name='vfio'/>\n  <source>\n    \
         <address domain='0x0000' bus='0x06' slot='0x12' function='0x5'/>\n  </source>\n  \
         <rom bar='off'/>\n  <address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'/>\n\
         </hostdev>\n",
    );
    round_trip(
        "<hostdev mode='subsystem' type='usb' managed='no'>\n  <source startupPolicy='optional'>\n    \
         <vendor id='0x1234'/>\n    <product id='0xbeef'/>\n  </source>\n  <boot order='2'/>\n</hostdev>\n",
    );
    round_trip(
        "<hostdev mode='subsystem' type='scsi' managed='yes' sgio='unfiltered' rawio='yes'>\n  <source>\n    \
         <adapter name='scsi_host0'/>\n    <address bus='0' target='0' unit='0'/>\n  </source>\n  \
         <readonly/>\n  <address type='drive' controller='0' bus='0' target='0' unit='4'/>\n</hostdev>\n",
    );
    round_trip(
        "<hostdev mode='subsystem' type='scsi' managed='no'>\n  \
         <source protocol='iscsi' name='iqn.1992-01.com.example:storage/1'>\n    \
         <host name='example.org' port='3260'/>\n    <auth username='myname'>\n      \
         <secret type='iscsi' usage='mycluster_myname'/>\n    </auth>\n  </source>\n</hostdev>\n",
    );
    round_trip(
        "<hostdev mode='subsystem' type='scsi_host' managed='no' model='virtio-transitional'>\n  \
         <source protocol='vhost' wwpn='naa.5123456789abcde0'/>\n</hostdev>\n",
    );
    round_trip(
        "<hostdev mode='subsystem' type='mdev' managed='no' model='vfio-pci' display='on' ramfb='on'>\n  \
         <source>\n    <address uuid='53764d0e-85a0-42b4-af5c-2046b460b1dc'/>\n  </source>\n</hostdev>\n",
    );
}

#[test]
fn capabilities_devices_round_trip() {
    round_trip(
        "<hostdev mode='capabilities' type='storage'>\n  <source>\n    <block>/dev/sdf1</block>\n  \
         </source>\n</hostdev>\n",
    );
    round_trip(
        "<hostdev mode='capabilities' type='net'>\n  <source>\n    <interface>eth0</interface>\n  \
         </source>\n  <ip address='192.168.122.2' family='ipv4'/>\n</hostdev>\n",
    );
}

#[test]
fn defaults_are_written_as_libvirt_writes_them() {
    let h = read("<hostdev type='usb'><source><address bus='14' device='6'/></source></hostdev>")
        .unwrap();
    assert_eq!(
        oxvirt_xml::to_string(&h.to_element()),
        "<hostdev mode='subsystem' type='usb' managed='no'>\n  <source>\n    \
         <address bus='14' device='6'/>\n  </source>\n</hostdev>\n"
    );
}

#[test]
fn invalid_hostdevs_are_rejected() {
    let cases = [
        ("<hostdev type='pci'/>", "Missing <source> element in hostdev device"),
        ("<hostdev type='floppy'><source/></hostdev>", "unknown host device source address type 'floppy'"),
        ("<hostdev type='pci' sgio='filtered'><source/></hostdev>", "sgio is only supported for scsi host device"),
        ("<hostdev type='usb' model='x'><source/></hostdev>", "'model' attribute in <hostdev> is only supported when type='usb'"),
        ("<hostdev type='mdev' model='vfio-pci'><source><address/></source></hostdev>", "Missing 'uuid' attribute for element <address>"),
        ("<hostdev type='scsi_host'><source protocol='vhost' wwpn='naa.12'/></hostdev>", "malformed 'wwpn' value"),
        ("<hostdev type='scsi'><source><address bus='0' target='0' unit='0'/></source></hostdev>", "'adapter' name must be specified for scsi hostdev source"),
        ("<hostdev type='pci'><source startupPolicy='optional'/></hostdev>", "Setting startupPolicy is only allowed for USB devices"),
    ];
    for (xml, msg) in cases {
        assert_eq!(read(xml).unwrap_err().message, msg, "{xml}");
    }
}

#[test]
fn duplicates_are_rejected_with_libvirts_message() {
    let pci = "<hostdev mode='subsystem' type='pci' managed='yes'><source>\
               <address domain='0x0000' bus='0x06' slot='0x12' function='0x5'/></source></hostdev>";
    let other = "<hostdev mode='subsystem' type='pci' managed='yes'><source>\
                 <address domain='0x0000' bus='0x06' slot='0x12' function='0x6'/></source></hostdev>";
    let list = [read(pci).unwrap(), read(other).unwrap(), read(pci).unwrap()];
    assert!(validate_hostdevs(&list[..2]).is_ok());
    let err = validate_hostdevs(&list).unwrap_err();
    assert_eq!(
        err.message,
        "Hostdev already exists in the domain configuration"
    );
    assert_eq!(err.code, oxvirt_xml::ErrorCode::XmlError);
    let usb = "<hostdev type='usb'><source><address bus='14' device='6'/></source></hostdev>";
    assert!(validate_hostdevs(&[read(usb).unwrap(), read(usb).unwrap()]).is_err());
}

#[test]
fn accessors_report_the_host_device() {
    let h = read(
        "<hostdev type='pci' managed='yes'><driver name='vfio'/><source>\
         <address domain='0x0000' bus='0x06' slot='0x12' function='0x5'/></source></hostdev>",
    )
    .unwrap();
    assert_eq!(h.pci_address().unwrap().to_string(), "0000:06:12.5");
    assert_eq!(h.pci_backend(), Some(PciBackend::Vfio));
    assert!(h.managed);
}
