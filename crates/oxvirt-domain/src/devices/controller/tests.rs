use super::*;

fn read(xml: &str) -> Result<Controller> {
    Controller::from_element(&oxvirt_xml::parse(xml)?, &mut Context::default())
}

fn round_trip(xml: &str) {
    let c = read(xml).unwrap();
    assert_eq!(oxvirt_xml::to_string(&c.to_element()), xml);
}

#[test]
fn pci_controllers_round_trip() {
    round_trip("<controller type='pci' index='0' model='pcie-root'/>\n");
    round_trip(
        "<controller type='pci' index='1' model='pcie-root-port'>\n  \
         <model name='pcie-root-port'/>\n  <target chassis='1' port='0x10' hotplug='off'/>\n  \
         <alias name='pci.1'/>\n  \
         <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0' multifunction='on'/>\n\
         </controller>\n",
    );
    round_trip(
        "<controller type='pci' index='1' model='pci-expander-bus'>\n  <model name='pxb'/>\n  \
         <target busNr='252'>\n    <node>1</node>\n  </target>\n</controller>\n",
    );
    round_trip(
        "<controller type='pci' index='0' model='pci-root'>\n  \
         <pcihole64 unit='KiB'>1048576</pcihole64>\n</controller>\n",
    );
}

#[test]
fn other_controllers_round_trip() {
    round_trip(
        "<controller type='scsi' index='0' model='virtio-scsi'>\n  \
         <driver queues='4' cmd_per_lun='50' max_sectors='512' ioeventfd='off' iothread='2' iommu='on'/>\n  \
         <address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'/>\n</controller>\n",
    );
    round_trip("<controller type='virtio-serial' index='0' ports='16' vectors='4'/>\n");
    round_trip(
        "<controller type='usb' index='0' model='ich9-uhci2'>\n  <master startport='2'/>\n  \
         <address type='pci' domain='0x0000' bus='0x00' slot='0x08' function='0x1'/>\n</controller>\n",
    );
    round_trip(
        "<controller type='xenbus' index='0' maxGrantFrames='64' maxEventChannels='2047'/>\n",
    );
}

#[test]
fn parse_defaults_are_libvirts() {
    let c = read("<controller type='usb' model='ich9-uhci3'/>").unwrap();
    assert_eq!(c.master_startport(), Some(4));
    assert_eq!(c.index, None);
    let c = read("<controller/>").unwrap();
    assert_eq!(
        oxvirt_xml::to_string(&c.to_element()),
        "<controller type='ide'/>\n"
    );
}

#[test]
fn invalid_controllers_are_rejected() {
    let err = read("<controller type='pci' index='-1' model='pci-bridge'/>").unwrap_err();
    assert_eq!(
        err.message,
        "Invalid value for attribute 'index' in element 'controller': '-1'. Expected non-negative value"
    );
    let err = read("<controller type='sata' model='ahci'/>").unwrap_err();
    assert_eq!(err.message, "Unknown model type 'ahci'");
    assert_eq!(err.code, oxvirt_xml::ErrorCode::ConfigUnsupported);
    let err = read(
        "<controller type='pci' model='pci-bridge'><target><node>-1</node></target></controller>",
    )
    .unwrap_err();
    assert_eq!(err.message, "invalid NUMA node in target");
    let root = read("<controller type='pci' index='1' model='pci-root'/>").unwrap();
    assert_eq!(
        validate_controllers(&[root]).unwrap_err().message,
        "pci-root and pcie-root controllers should have index 0"
    );
    let phb =
        read("<controller type='pci' index='1' model='pci-root'><target index='0'/></controller>")
            .unwrap();
    assert_eq!(
        phb.validate().unwrap_err().message,
        "Only the PCI controller with index 0 can have target index 0, and vice versa"
    );
}

#[test]
fn duplicate_indexes_are_rejected_except_for_usb() {
    let list: Vec<Controller> = [
        "<controller type='pci' index='0' model='pci-root'/>",
        "<controller type='usb' index='0' model='ich9-ehci1'/>",
        "<controller type='usb' index='0' model='ich9-uhci1'/>",
        "<controller type='pci' index='1' model='pci-bridge'/>",
        "<controller type='pci' index='1' model='pci-bridge'/>",
    ]
    .iter()
    .map(|x| read(x).unwrap())
    .collect();
    assert!(validate_controllers(&list[..4]).is_ok());
    let err = validate_controllers(&list).unwrap_err();
    assert_eq!(err.message, "Multiple 'pci' controllers with index '1'");
    assert_eq!(err.code, oxvirt_xml::ErrorCode::XmlError);
}

#[test]
fn indexes_are_assigned_as_libvirt_assigns_them() {
    let models = [
        "ich9-ehci1",
        "ich9-uhci1",
        "ich9-uhci2",
        "ich9-uhci3",
        "ich9-ehci1",
        "ich9-uhci1",
        "ich9-uhci1",
        "ich9-uhci2",
        "ich9-uhci3",
        "ich9-ehci1",
        "nec-xhci",
        "ich9-uhci1",
    ];
    let mut list: Vec<Controller> = models
        .iter()
        .map(|m| read(&format!("<controller type='usb' model='{m}'/>")).unwrap())
        .collect();
    list.push(read("<controller type='pci' model='pci-root'/>").unwrap());
    assign_controller_indexes(&mut list);
    let got: Vec<u32> = list.iter().filter_map(|c| c.index).collect();
    assert_eq!(got, [0, 0, 0, 0, 1, 1, 2, 2, 2, 2, 3, 4, 0]);
}
