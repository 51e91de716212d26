use oxvirt_xml::{Context, Result, XmlModel};

use super::*;

fn read(xml: &str) -> Result<Interface> {
    Interface::from_element(&oxvirt_xml::parse(xml)?, &mut Context::default())
}

fn xml(n: &Interface) -> String {
    oxvirt_xml::to_string(&n.to_element())
}

#[test]
fn round_trips_libvirt_output() {
    for doc in [
        "<interface type='network'>\n  <mac address='00:11:22:33:44:55'/>\n  \
         <source network='default' portgroup='engineering'/>\n  \
         <vlan trunk='yes'>\n    <tag id='42'/>\n    <tag id='48'/>\n  </vlan>\n  \
         <virtualport type='openvswitch'>\n    <parameters interfaceid='09b11c53-8b5c-4eeb-8f00-d84eaa0aaa4f' profileid='testprofile'/>\n  </virtualport>\n  \
         <bandwidth>\n    <inbound average='1000' peak='4000' floor='2000' burst='1024'/>\n    \
         <outbound average='128' peak='256' burst='32768'/>\n  </bandwidth>\n  \
         <port isolated='yes'/>\n  <model type='virtio'/>\n  \
         <driver name='vhost' txmode='iothread' ioeventfd='on' event_idx='off' queues='5' \
         rx_queue_size='256' tx_queue_size='256' rss='on' iommu='on' ats='on' packed='on'>\n    \
         <host csum='off' gso='off' tso4='off' tso6='off' ecn='off' ufo='off' mrg_rxbuf='off'/>\n    \
         <guest csum='off' tso4='off' tso6='off' ecn='off' ufo='off'/>\n  </driver>\n  \
         <filterref filter='clean-traffic'>\n    <parameter name='IP' value='0.0.0.0'/>\n  \
         </filterref>\n  <teaming type='transient' persistent='ua-backup0'/>\n  \
         <link state='down'/>\n  <mtu size='1500'/>\n  \
         <coalesce>\n    <rx>\n      <frames max='7'/>\n    </rx>\n  </coalesce>\n  \
         <boot order='1'/>\n  <alias name='ua-net0'/>\n  <rom bar='on' file='/etc/fake/bootrom.bin'/>\n  \
         <acpi index='3'/>\n  \
         <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0'/>\n\
         </interface>\n",
        "<interface type='hostdev' managed='yes'>\n  <mac address='00:11:22:33:44:55'/>\n  \
         <driver name='vfio'/>\n  <source>\n    \
         <address type='pci' domain='0x0000' bus='0x00' slot='0x07' function='0x0'/>\n  \
         </source>\n  <vlan>\n    <tag id='42'/>\n  </vlan>\n  \
         <address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'/>\n\
         </interface>\n",
        "<interface type='udp'>\n  <mac address='52:54:00:8c:b9:05'/>\n  \
         <source address='192.168.10.1' port='5555'>\n    \
         <local address='192.168.10.1' port='5556'/>\n  </source>\n  \
         <model type='rtl8139'/>\n</interface>\n",
        "<interface type='vhostuser'>\n  <mac address='52:54:00:ee:96:6b'/>\n  \
         <source type='unix' path='/tmp/vhost0.sock' mode='server'>\n    \
         <reconnect enabled='yes' timeout='10'/>\n  </source>\n  \
         <model type='virtio'/>\n  <driver queues='4'/>\n</interface>\n",
        "<interface type='ethernet'>\n  <mac address='52:54:00:8c:b9:05'/>\n  \
         <source>\n    <ip address='192.168.122.12' family='ipv4' prefix='24' peer='192.168.122.5'/>\n    \
         <route family='ipv4' address='192.168.122.0' prefix='24' gateway='192.168.122.1'/>\n  \
         </source>\n  <ip address='192.168.122.13' family='ipv4' prefix='24'/>\n  \
         <script path='/etc/qemu-ifup'/>\n  <target dev='mytap0' managed='no'/>\n  \
         <model type='e1000'/>\n</interface>\n",
        "<interface type='user'>\n  <mac address='00:11:22:33:44:55'/>\n  \
         <source dev='eth42'/>\n  <portForward proto='tcp'>\n    <range start='22' to='2022'/>\n  \
         </portForward>\n  <model type='rtl8139'/>\n  <backend type='passt' logFile='/log'/>\n\
         </interface>\n",
        "<interface type='direct' trustGuestRxFilters='yes'>\n  \
         <mac address='aa:bb:cc:dd:ee:fd' type='generated' check='no'/>\n  \
         <source dev='eth0' mode='vepa'/>\n  <model type='virtio'/>\n</interface>\n",
    ] {
        let n = read(doc).unwrap();
        assert_eq!(xml(&n), doc);
        assert_eq!(read(&xml(&n)).unwrap(), n);
    }
}

#[test]
fn elements_are_written_in_libvirts_order() {
    let n = read(
        "<interface type='bridge'><model type='virtio'/><source bridge='br0'/>\
         <mac address='52:54:00:00:00:01'/><target dev='vnet3'/></interface>",
    )
    .unwrap();
    assert_eq!(
        xml(&n),
        "<interface type='bridge'>\n  <mac address='52:54:00:00:00:01'/>\n  \
         <source bridge='br0'/>\n  <target dev='vnet3'/>\n  <model type='virtio'/>\n\
         </interface>\n"
    );
}

#[test]
fn parse_errors() {
    let e = |x: &str| read(x).unwrap_err().libvirt_message();
    assert_eq!(
        e("<interface type='network'/>"),
        "XML error: interface type='network' requires a 'source' element"
    );
    assert_eq!(
        e("<interface type='bridge'><source/></interface>"),
        "XML error: Missing required attribute 'bridge' in element 'source'"
    );
    assert_eq!(
        e(
            "<interface type='bridge'><mac address='01:00:5e:00:00:01'/>\
           <source bridge='br0'/></interface>"
        ),
        "XML error: expected unicast mac address, found multicast '01:00:5e:00:00:01'"
    );
    assert_eq!(
        e("<interface type='user'><mac address='52:54:00'/></interface>"),
        "XML error: unable to parse mac address '52:54:00'"
    );
    assert_eq!(
        e("<interface type='user'><model type='virtio'/><driver queues='-5'/></interface>"),
        "XML error: Invalid value for attribute 'queues' in element 'driver': '-5'. \
         Expected non-negative integer value"
    );
    assert_eq!(
        e("<interface type='user'><model type='e1000 x'/></interface>"),
        "invalid argument: Model name contains invalid characters"
    );
    assert_eq!(
        e("<interface type='user'><link state='sideways'/></interface>"),
        "unsupported configuration: unknown interface link state 'sideways'"
    );
    assert_eq!(
        e("<interface type='user'><virtualport type='802.1Qbh'/></interface>"),
        "unsupported configuration: <virtualport> element unsupported for \
         <interface type='user'>"
    );
    assert_eq!(
        e(
            "<interface type='vhostuser'><source type='tcp' path='/x' mode='client'/>\
           </interface>"
        ),
        "unsupported configuration: Type='tcp' unsupported for <interface type='vhostuser'>"
    );
    assert_eq!(
        e("<interface type='udp'><source address='1.2.3.4' port='1'/></interface>"),
        "XML error: '<local>' element missing for 'udp' socket interface"
    );
    assert_eq!(
        e("<interface type='user'><teaming persistent='x'/></interface>"),
        "unsupported configuration: unknown teaming type '(null)'"
    );
    assert_eq!(
        e("<interface type='bridge'><source bridge='br0'/><bandwidth>\
           <inbound floor='100'/></bandwidth></interface>"),
        "XML error: floor attribute is supported only for interfaces of type network"
    );
    assert_eq!(
        e("<interface type='nope'/>"),
        "XML error: Invalid value for attribute 'type' in element 'interface': 'nope'."
    );
}

#[test]
fn non_virtio_driver_is_kept_unread() {
    let n = read("<interface type='user'><model type='e1000'/><driver queues='x'/></interface>")
        .unwrap();
    assert!(n.driver.is_none());
    assert_eq!(
        xml(&n),
        "<interface type='user'>\n  <model type='e1000'/>\n  <driver queues='x'/>\n\
         </interface>\n"
    );
}

#[test]
fn defaults() {
    let mut n = read(
        "<interface type='direct'><source dev='eth0'/><model type='VIRTIO'/>\
         <driver queues='1'/><target dev='macvtap0'/><vlan trunk='no'><tag id='4'/></vlan>\
         <ip address='fe80::1'/></interface>",
    )
    .unwrap();
    n.apply_defaults();
    let mac = n.mac_address().unwrap();
    assert!(mac.to_string().starts_with("52:54:00:"));
    assert_eq!(
        xml(&n),
        format!(
            "<interface type='direct'>\n  <mac address='{mac}'/>\n  \
             <source dev='eth0' mode='vepa'/>\n  <vlan>\n    <tag id='4'/>\n  </vlan>\n  \
             <ip address='fe80::1' family='ipv6'/>\n  <model type='virtio'/>\n</interface>\n"
        )
    );
    let mut n = read("<interface><mac address='aa:bb:cc:dd:ee:ff'/></interface>").unwrap();
    n.apply_defaults();
    assert_eq!(
        xml(&n),
        "<interface type='user'>\n  <mac address='aa:bb:cc:dd:ee:ff'/>\n</interface>\n"
    );
}

#[test]
fn validation() {
    let v = |x: &str| read(x).unwrap().validate().map_err(|e| e.libvirt_message());
    assert_eq!(
        v("<interface type='user'><teaming type='transient'/></interface>"),
        Err(
            "unsupported configuration: teaming persistent attribute must be set if teaming \
             type is 'transient'"
                .into()
        )
    );
    assert_eq!(
        v(
            "<interface type='bridge'><source bridge='br0'><ip address='1.2.3.4'/></source>\
           </interface>"
        ),
        Err(
            "unsupported configuration: Invalid attempt to set network interface host-side IP \
             route and/or address info on interface of type 'bridge'. This is only supported on \
             interfaces of type 'ethernet'"
                .into()
        )
    );
    assert_eq!(
        v("<interface type='network'><source network='n'/><backend type='passt'/></interface>"),
        Err(
            "internal error: The 'passt' backend can only be used with interface type='user'"
                .into()
        )
    );
    assert_eq!(
        v("<interface type='user'><model type='e1000'/><driver iommu='on'/></interface>"),
        Err(
            "unsupported configuration: iommu driver option is only supported for virtio devices"
                .into()
        )
    );
    assert_eq!(
        v(
            "<interface type='vhostuser'><source type='unix' path='/s' mode='client'/>\
           <model type='e1000'/></interface>"
        )
        .unwrap_err(),
        "internal error: Wrong or no <model> 'type' attribute specified with <interface \
         type='vhostuser'/>. vhostuser requires the virtio-net* frontend"
    );
    assert_eq!(
        v("<interface type='user'><backend type='passt'/></interface>"),
        Ok(())
    );
}
