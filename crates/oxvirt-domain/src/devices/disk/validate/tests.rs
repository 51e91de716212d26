//! Every case checked against libvirt 9.0's test driver (python3-libvirt on
//! `test:///default`): the disks of a definition, and the error code, domain and message
//! libvirt gives (`None`: libvirt defines it).

use oxvirt_xml::{ErrorDomain, VirError};

use crate::Domain;

/// `(devices, Some((code, domain, message)))`.
type Case = (&'static str, Option<(i32, i32, &'static str)>);

const CASES: &[Case] = &[
    (
        r#"<disk type='file' device='disk'><source file='/a'/><target dev='foo'/></disk>"#,
        Some((
            27,
            20,
            r#"XML error: Unknown disk name 'foo' and no address specified"#,
        )),
    ),
    (
        r#"<disk type='file' device='disk'><source file='/a'/><target dev='foo' bus='virtio'/></disk>"#,
        Some((
            27,
            20,
            r#"XML error: Unknown disk name 'foo' and no address specified"#,
        )),
    ),
    (
        r#"<disk type='file' device='disk'><source file='/a'/><target dev='foo' bus='usb'/></disk>"#,
        Some((
            27,
            20,
            r#"XML error: Unknown disk name 'foo' and no address specified"#,
        )),
    ),
    (
        r#"<disk type='file' device='disk'><source file='/a'/><target dev='foo' bus='sd'/></disk>"#,
        Some((
            27,
            20,
            r#"XML error: Unknown disk name 'foo' and no address specified"#,
        )),
    ),
    (
        r#"<disk type='file' device='disk'><source file='/a'/><target dev='foo' bus='virtio'/><address type='pci' domain='0' bus='0' slot='5' function='0'/></disk>"#,
        Some((
            1,
            20,
            r#"internal error: Invalid harddisk device name: foo"#,
        )),
    ),
    (
        r#"<disk type='file' device='disk'><source file='/a'/><target dev='foo' bus='ide'/><address type='drive' controller='0' bus='0' target='0' unit='0'/></disk>"#,
        Some((
            1,
            20,
            r#"internal error: Invalid harddisk device name: foo"#,
        )),
    ),
    (
        r#"<disk type='file' device='lun'><source file='/a'/><target dev='foo' bus='scsi'/><address type='drive' controller='0' bus='0' target='0' unit='0'/></disk>"#,
        Some((
            67,
            20,
            r#"unsupported configuration: disk device='lun' is only valid for block type disk source"#,
        )),
    ),
    (
        r#"<disk type='file' device='floppy'><source file='/a'/><target dev='hda'/></disk>"#,
        Some((1, 20, r#"internal error: Invalid floppy device name: hda"#)),
    ),
    (
        r#"<disk type='file' device='floppy'><source file='/a'/><target dev='fda' bus='ide'/></disk>"#,
        Some((
            1,
            20,
            r#"internal error: Invalid bus type 'ide' for floppy disk"#,
        )),
    ),
    (
        r#"<disk type='file' device='floppy'><source file='/a'/><target dev='hda' bus='ide'/></disk>"#,
        Some((
            1,
            20,
            r#"internal error: Invalid bus type 'ide' for floppy disk"#,
        )),
    ),
    (
        r#"<disk type='file' device='disk'><source file='/a'/><target dev='hda' bus='fdc'/></disk>"#,
        Some((1, 20, r#"internal error: Invalid bus type 'fdc' for disk"#)),
    ),
    (
        r#"<disk type='file' device='disk'><source file='/a'/><target dev='fda'/> </disk>"#,
        Some((
            1,
            20,
            r#"internal error: Invalid harddisk device name: fda"#,
        )),
    ),
    (
        r#"<disk type='file' device='disk'><source file='/a'/><target dev='fda' bus='fdc'/></disk>"#,
        Some((1, 20, r#"internal error: Invalid bus type 'fdc' for disk"#)),
    ),
    (
        r#"<disk type='file' device='cdrom'><source file='/a'/><target dev='hda' bus='fdc'/></disk>"#,
        Some((1, 20, r#"internal error: Invalid bus type 'fdc' for disk"#)),
    ),
    (
        r#"<disk type='file' device='cdrom'><source file='/a'/><target dev='foo' bus='ide'/></disk>"#,
        Some((
            27,
            20,
            r#"XML error: Unknown disk name 'foo' and no address specified"#,
        )),
    ),
    (
        r#"<disk type='file' device='cdrom'><source file='/a'/><target dev='foo' bus='virtio'/></disk>"#,
        Some((
            27,
            20,
            r#"XML error: Unknown disk name 'foo' and no address specified"#,
        )),
    ),
    (
        r#"<disk type='file' device='cdrom'><source file='/a'/><target dev='fda' bus='virtio'/></disk>"#,
        None,
    ),
    (
        r#"<disk type='file' device='cdrom'><source file='/a'/><target dev='hdc' bus='virtio'/></disk>"#,
        None,
    ),
    (
        r#"<disk type='file' device='disk'><source file='/a'/><target dev='hda1'/></disk>"#,
        None,
    ),
    (
        r#"<disk type='file' device='disk'><source file='/a'/><target dev='hda' tray='open'/></disk>"#,
        Some((
            67,
            20,
            r#"unsupported configuration: tray is only valid for cdrom and floppy"#,
        )),
    ),
    (
        r#"<disk type='file' device='cdrom'><source file='/a'/><target dev='hda' tray='open'/></disk>"#,
        None,
    ),
    (
        r#"<disk type='file' device='disk'><source file='/a'/><target dev='hda' removable='on'/></disk>"#,
        Some((
            27,
            20,
            r#"XML error: removable is only valid for usb disks"#,
        )),
    ),
    (
        r#"<disk type='file' device='disk'><source file='/a'/><target dev='sda' bus='usb' removable='on'/></disk>"#,
        None,
    ),
    (
        r#"<disk type='file' device='disk'><source file='/a'/><target dev='hda' bus='ide'/><address type='pci' domain='0' bus='0' slot='5' function='0'/></disk>"#,
        Some((
            67,
            20,
            r#"unsupported configuration: Invalid address type 'pci' for the disk 'hda' with the bus type 'ide'"#,
        )),
    ),
    (
        r#"<disk type='file' device='disk'><source file='/a'/><target dev='sda' bus='sata'/><address type='usb' bus='0' port='1'/></disk>"#,
        Some((
            67,
            20,
            r#"unsupported configuration: Invalid address type 'usb' for the disk 'sda' with the bus type 'sata'"#,
        )),
    ),
    (
        r#"<disk type='file' device='floppy'><source file='/a'/><target dev='fda'/><address type='pci' domain='0' bus='0' slot='5' function='0'/></disk>"#,
        Some((
            67,
            20,
            r#"unsupported configuration: Invalid address type 'pci' for the disk 'fda' with the bus type 'fdc'"#,
        )),
    ),
    (
        r#"<disk type='file' device='disk'><source file='/a'/><target dev='sda' bus='scsi'/><address type='unassigned'/></disk>"#,
        Some((
            67,
            20,
            r#"unsupported configuration: address of type 'unassigned' is supported only for hostdevs"#,
        )),
    ),
    (
        r#"<disk type='file' device='disk' model='virtio'><source file='/a'/><target dev='hda' bus='ide'/></disk>"#,
        Some((
            67,
            20,
            r#"unsupported configuration: disk model 'virtio' not supported for bus 'ide'"#,
        )),
    ),
    (
        r#"<disk type='file' device='disk' model='virtio-transitional'><source file='/a'/><target dev='sda'/></disk>"#,
        Some((
            67,
            20,
            r#"unsupported configuration: disk model 'virtio-transitional' not supported for bus 'scsi'"#,
        )),
    ),
    (
        r#"<disk type='file' device='disk' rawio='yes'><source file='/a'/><target dev='hda' bus='ide'/></disk>"#,
        Some((
            67,
            20,
            r#"unsupported configuration: rawio can be used only with device='lun'"#,
        )),
    ),
    (
        r#"<disk type='file' device='disk' sgio='filtered'><source file='/a'/><target dev='hda' bus='ide'/></disk>"#,
        Some((
            67,
            20,
            r#"unsupported configuration: sgio can be used only with device='lun'"#,
        )),
    ),
    (
        r#"<disk type='block' device='lun' sgio='unfiltered'><source dev='/a'/><target dev='sda' bus='scsi'/></disk>"#,
        Some((
            67,
            20,
            r#"unsupported configuration: unfiltered sgio is no longer supported"#,
        )),
    ),
    (
        r#"<disk type='file' device='disk'><source file='/a'/><target dev='sda' bus='scsi'/><vendor>123456789</vendor></disk>"#,
        Some((
            67,
            20,
            r#"unsupported configuration: disk vendor is more than 8 characters"#,
        )),
    ),
    (
        r#"<disk type='file' device='disk'><source file='/a'/><target dev='sda' bus='scsi'/><vendor>a	b</vendor></disk>"#,
        Some((27, 20, r#"XML error: disk vendor is not printable string"#)),
    ),
    (
        r#"<disk type='file' device='disk'><source file='/a'/><target dev='sda' bus='scsi'/><product>12345678901234567</product></disk>"#,
        Some((
            67,
            20,
            r#"unsupported configuration: disk product is more than 16 characters"#,
        )),
    ),
    (
        r#"<disk type='file' device='disk'><driver name='qemu' queues='2'/><source file='/a'/><target dev='sda' bus='scsi'/></disk>"#,
        Some((
            67,
            20,
            r#"unsupported configuration: queues attribute in disk driver element is only supported by virtio-blk"#,
        )),
    ),
    (
        r#"<disk type='file' device='disk'><driver name='qemu' event_idx='on'/><source file='/a'/><target dev='sda' bus='scsi'/></disk>"#,
        Some((
            67,
            20,
            r#"unsupported configuration: disk event_idx mode supported only for virtio bus"#,
        )),
    ),
    (
        r#"<disk type='file' device='disk'><driver name='qemu' ioeventfd='on'/><source file='/a'/><target dev='sda' bus='scsi'/></disk>"#,
        Some((
            67,
            20,
            r#"unsupported configuration: disk ioeventfd mode supported only for virtio bus"#,
        )),
    ),
    (
        r#"<disk type='file' device='disk'><driver name='qemu' iommu='on'/><source file='/a'/><target dev='sda' bus='scsi'/></disk>"#,
        Some((
            67,
            20,
            r#"unsupported configuration: iommu driver option is only supported for virtio devices"#,
        )),
    ),
    (
        r#"<disk type='file' device='disk'><driver name='qemu' ats='on'/><source file='/a'/><target dev='sda' bus='scsi'/></disk>"#,
        Some((
            67,
            20,
            r#"unsupported configuration: ats driver option is only supported for virtio devices"#,
        )),
    ),
    (
        r#"<disk type='file' device='disk'><driver name='qemu' packed='on'/><source file='/a'/><target dev='sda' bus='scsi'/></disk>"#,
        Some((
            67,
            20,
            r#"unsupported configuration: packed driver option is only supported for virtio devices"#,
        )),
    ),
    (
        r#"<disk type='file' device='disk'><driver name='qemu' page_per_vq='on'/><source file='/a'/><target dev='sda' bus='scsi'/></disk>"#,
        Some((
            67,
            20,
            r#"unsupported configuration: page_per_vq option is only supported for virtio devices"#,
        )),
    ),
    (
        r#"<disk type='file' device='disk'><source file='/a' startupPolicy='requisite'/><target dev='sda' bus='scsi'/></disk>"#,
        Some((
            27,
            20,
            r#"XML error: disk startupPolicy 'requisite' is allowed only for cdrom or floppy"#,
        )),
    ),
    (
        r#"<disk type='network' device='cdrom'><source protocol='nbd' name='x' startupPolicy='optional'><host name='h'/></source><target dev='sda' bus='scsi'/></disk>"#,
        Some((
            27,
            20,
            r#"XML error: disk startupPolicy 'optional' is not allowed for disk of 'network' type"#,
        )),
    ),
    (
        r#"<disk type='file' device='disk'><target dev='hda'/></disk>"#,
        Some((19, 20, r#"missing source information for device hda"#)),
    ),
    (
        r#"<disk type='file' device='lun'><source file='/a'/><target dev='sda' bus='scsi'/></disk>"#,
        Some((
            67,
            20,
            r#"unsupported configuration: disk device='lun' is only valid for block type disk source"#,
        )),
    ),
    (
        r#"<disk type='block' device='lun'><driver name='qemu' type='qcow2'/><source dev='/a'/><target dev='sda' bus='scsi'/></disk>"#,
        Some((
            67,
            20,
            r#"unsupported configuration: disk device 'lun' must use 'raw' format"#,
        )),
    ),
    (
        r#"<disk type='network' device='lun'><source protocol='nbd' name='x'><host name='h'/></source><target dev='sda' bus='scsi'/></disk>"#,
        Some((
            67,
            20,
            r#"unsupported configuration: disk device='lun' is not supported for protocol='nbd'"#,
        )),
    ),
    (
        r#"<disk type='file' device='disk'><source file='/a'/><target dev='sda' bus='scsi'/><iotune><total_bytes_sec>1</total_bytes_sec><read_bytes_sec>2</read_bytes_sec></iotune></disk>"#,
        Some((
            27,
            20,
            r#"XML error: total and read/write bytes_sec cannot be set at the same time"#,
        )),
    ),
    (
        r#"<disk type='nvme' device='disk'><source type='pci' managed='yes' namespace='0'><address domain='0x0000' bus='0x01' slot='0x00' function='0x0'/></source><target dev='vda' bus='virtio'/></disk>"#,
        Some((
            67,
            20,
            r#"unsupported configuration: NVMe namespace can't be zero"#,
        )),
    ),
    (
        r#"<disk type='vhostuser' device='disk'><driver name='qemu' type='raw'/><source type='unix' path='/tmp/vhost.sock'><reconnect enabled='yes' timeout='10'/></source><target dev='vda' bus='virtio'/></disk>"#,
        None,
    ),
    (
        r#"<disk type='vhostuser' device='disk' snapshot='external'><driver name='qemu' type='raw'/><source type='unix' path='/tmp/vhost.sock'><reconnect enabled='yes' timeout='10'/></source><target dev='vda' bus='virtio'/></disk>"#,
        Some((
            67,
            20,
            r#"unsupported configuration: only snapshot=no is supported with vhostuser disk"#,
        )),
    ),
    (
        r#"<disk type='vhostuser' device='disk'><driver name='qemu' type='raw'/><source type='unix' path='/tmp/vhost.sock'><reconnect enabled='yes' timeout='10'/></source><target dev='vda' bus='virtio'/> <readonly/></disk>"#,
        Some((
            67,
            20,
            r#"unsupported configuration: readonly is not supported with vhostuser disk"#,
        )),
    ),
    (
        r#"<disk type='vhostuser' device='disk'><driver name='qemu' type='raw'/><source type='unix' path='/tmp/vhost.sock'><reconnect enabled='yes' timeout='10'/></source><target dev='vda' bus='virtio'/> <shareable/></disk>"#,
        Some((
            67,
            20,
            r#"unsupported configuration: shareable is not supported with vhostuser disk"#,
        )),
    ),
    (
        r#"<disk type='vhostuser' device='disk'><driver name='qemu' type='raw'/><source type='unix' path='/tmp/vhost.sock'><reconnect enabled='yes' timeout='10'/></source><target dev='vda' bus='virtio'/> <serial>x</serial></disk>"#,
        Some((
            67,
            20,
            r#"unsupported configuration: serial is not supported with vhostuser disk"#,
        )),
    ),
    (
        r#"<disk type='vhostuser' device='disk'><driver name='qemu' type='raw'/><source type='unix' path='/tmp/vhost.sock'><reconnect enabled='yes' timeout='10'/></source><target dev='vda' bus='virtio'/> <transient/></disk>"#,
        Some((
            67,
            20,
            r#"unsupported configuration: transient is not supported with vhostuser disk"#,
        )),
    ),
    (
        r#"<disk type='vhostuser' device='disk'><driver name='qemu' type='raw'/><source type='unix' path='/tmp/vhost.sock'><reconnect enabled='yes' timeout='10'/></source><target dev='vda' bus='virtio'/> <wwn>5000c50015ea71ac</wwn></disk>"#,
        Some((
            67,
            20,
            r#"unsupported configuration: wwn is not supported with vhostuser disk"#,
        )),
    ),
    (
        r#"<disk type='vhostuser' device='disk'><driver name='qemu' type='raw'/><source type='unix' path='/tmp/vhost.sock'><reconnect enabled='yes' timeout='10'/></source><target dev='vda' bus='virtio'/> <iotune><total_bytes_sec>1</total_bytes_sec></iotune></disk>"#,
        Some((
            67,
            20,
            r#"unsupported configuration: iotune is not supported with vhostuser disk"#,
        )),
    ),
    (
        r#"<disk type='vhostuser' device='disk'><driver name='qemu' type='raw'/><source type='unix' path='/tmp/vhost.sock'><reconnect enabled='yes' timeout='10'/></source><target dev='vda' bus='virtio'/> <geometry cyls='1' heads='1' secs='1'/></disk>"#,
        Some((
            67,
            20,
            r#"unsupported configuration: geometry is not supported with vhostuser disk"#,
        )),
    ),
    (
        r#"<disk type='vhostuser' device='disk'><driver name='qemu' type='raw'/><source type='unix' path='/tmp/vhost.sock'><reconnect enabled='yes' timeout='10'/></source><target dev='vda' bus='virtio'/> <blockio logical_block_size='512'/></disk>"#,
        Some((
            67,
            20,
            r#"unsupported configuration: blockio is not supported with vhostuser disk"#,
        )),
    ),
    (
        r#"<disk type='vhostuser' device='disk'><driver name='qemu' type='raw' cache='none'/><source type='unix' path='/tmp/vhost.sock'><reconnect enabled='yes' timeout='10'/></source><target dev='vda' bus='virtio'/></disk>"#,
        Some((
            67,
            20,
            r#"unsupported configuration: cache is not supported with vhostuser disk"#,
        )),
    ),
    (
        r#"<disk type='vhostuser' device='disk'><driver name='qemu' type='raw' error_policy='stop'/><source type='unix' path='/tmp/vhost.sock'><reconnect enabled='yes' timeout='10'/></source><target dev='vda' bus='virtio'/></disk>"#,
        Some((
            67,
            20,
            r#"unsupported configuration: error_policy is not supported with vhostuser disk"#,
        )),
    ),
    (
        r#"<disk type='vhostuser' device='disk'><driver name='qemu' type='raw' io='native'/><source type='unix' path='/tmp/vhost.sock'><reconnect enabled='yes' timeout='10'/></source><target dev='vda' bus='virtio'/></disk>"#,
        Some((
            67,
            20,
            r#"unsupported configuration: io is not supported with vhostuser disk"#,
        )),
    ),
    (
        r#"<disk type='vhostuser' device='disk'><driver name='qemu' type='raw' ioeventfd='on'/><source type='unix' path='/tmp/vhost.sock'><reconnect enabled='yes' timeout='10'/></source><target dev='vda' bus='virtio'/></disk>"#,
        Some((
            67,
            20,
            r#"unsupported configuration: ioeventfd is not supported with vhostuser disk"#,
        )),
    ),
    (
        r#"<disk type='vhostuser' device='disk'><driver name='qemu' type='raw' discard='unmap'/><source type='unix' path='/tmp/vhost.sock'><reconnect enabled='yes' timeout='10'/></source><target dev='vda' bus='virtio'/></disk>"#,
        Some((
            67,
            20,
            r#"unsupported configuration: discard is not supported with vhostuser disk"#,
        )),
    ),
    (
        r#"<disk type='vhostuser' device='disk'><driver name='qemu' type='raw' iothread='1'/><source type='unix' path='/tmp/vhost.sock'><reconnect enabled='yes' timeout='10'/></source><target dev='vda' bus='virtio'/></disk>"#,
        Some((
            67,
            20,
            r#"unsupported configuration: iothread is not supported with vhostuser disk"#,
        )),
    ),
    (
        r#"<disk type='vhostuser' device='disk'><driver name='qemu' type='raw' detect_zeroes='on'/><source type='unix' path='/tmp/vhost.sock'><reconnect enabled='yes' timeout='10'/></source><target dev='vda' bus='virtio'/></disk>"#,
        Some((
            67,
            20,
            r#"unsupported configuration: detect_zeroes is not supported with vhostuser disk"#,
        )),
    ),
    (
        r#"<disk type='vhostuser' device='disk'><driver name='qemu' type='raw'/><source type='unix' path='/tmp/vhost.sock'/><target dev='sda' bus='scsi'/></disk>"#,
        Some((
            67,
            20,
            r#"unsupported configuration: vhostuser disk supports only virtio bus"#,
        )),
    ),
    (
        r#"<disk type='vhostuser' device='disk'><driver name='qemu' type='raw'><metadata_cache><max_size unit='bytes'>1000</max_size></metadata_cache></driver><source type='unix' path='/tmp/vhost.sock'/><target dev='vda' bus='virtio'/></disk>"#,
        Some((
            67,
            20,
            r#"unsupported configuration: metadata_cache is not supported with vhostuser disk"#,
        )),
    ),
    (
        r#"<disk type='vhostuser' device='disk'><driver name='qemu' type='raw'/><source type='unix' path='/tmp/vhost.sock'/><backingStore type='file'><format type='raw'/><source file='/b'/></backingStore><target dev='vda' bus='virtio'/></disk>"#,
        Some((
            67,
            20,
            r#"unsupported configuration: backingStore is not supported with vhostuser disk"#,
        )),
    ),
    (
        r#"<disk type='file' device='disk'><source file='/a'><auth username='u'><secret type='ceph' usage='x'/></auth></source><target dev='vda'/></disk>"#,
        None,
    ),
    (
        r#"<disk type='network' device='disk'><source protocol='nbd' name='x'><host name='h'/><auth username='u'><secret type='ceph' usage='x'/></auth></source><target dev='vda'/></disk>"#,
        Some((
            67,
            20,
            r#"unsupported configuration: authentication is not supported for protocol 'nbd'"#,
        )),
    ),
    (
        r#"<disk type='network' device='disk'><source protocol='rbd' name='x/y'><host name='h'/><auth username='u'><secret type='iscsi' usage='x'/></auth></source><target dev='vda'/></disk>"#,
        Some((
            67,
            20,
            r#"unsupported configuration: invalid secret type 'iscsi'"#,
        )),
    ),
    (
        r#"<disk type='network' device='disk'><source protocol='rbd' name='x/y'><host name='h'/><auth username='u'><secret type='bogus' usage='x'/></auth></source><target dev='vda'/></disk>"#,
        Some((
            67,
            20,
            r#"unsupported configuration: unknown secret type 'bogus'"#,
        )),
    ),
    (
        r#"<disk type='network' device='disk'><auth username='u'><secret type='iscsi' usage='x'/></auth><source protocol='rbd' name='x/y'><host name='h'/></source><target dev='vda'/></disk>"#,
        Some((
            67,
            20,
            r#"unsupported configuration: invalid secret type 'iscsi'"#,
        )),
    ),
    (
        r#"<disk type='file' device='disk'><source file='/a'><encryption format='luks'><secret type='passphrase' uuid='0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f'/><cipher name='aes' size='256' mode='xts'/></encryption></source><target dev='vda'/></disk>"#,
        Some((
            67,
            20,
            r#"unsupported configuration: supplying <cipher> for domain disk definition is unnecessary"#,
        )),
    ),
    (
        r#"<disk type='file' device='disk'><source file='/a'><snapshot name='x'/></source><target dev='vda'/></disk>"#,
        None,
    ),
    (
        r#"<disk type='file' device='disk'><source file='/a'><config file='/c'/></source><target dev='vda'/></disk>"#,
        None,
    ),
    (
        r#"<disk type='block' device='disk'><source dev='/a'><reservations managed='yes'/></source><target dev='vda'/></disk>"#,
        Some((
            67,
            20,
            r#"unsupported configuration: <reservations/> allowed only for lun devices"#,
        )),
    ),
    (
        r#"<disk type='file' device='disk' sgio='unfiltered'><source file='/a'/><target dev='hda' bus='fdc'/></disk>"#,
        Some((
            67,
            20,
            r#"unsupported configuration: unfiltered sgio is no longer supported"#,
        )),
    ),
    (
        r#"<disk type='file' device='disk' rawio='yes'><source file='/a'/><target dev='hda' tray='open'/></disk>"#,
        Some((
            67,
            20,
            r#"unsupported configuration: rawio can be used only with device='lun'"#,
        )),
    ),
    (
        r#"<disk type='file' device='disk'><source file='/a'/><target dev='foo' bus='fdc'/><address type='drive' controller='0' bus='0' target='0' unit='0'/></disk>"#,
        Some((1, 20, r#"internal error: Invalid bus type 'fdc' for disk"#)),
    ),
    (
        r#"<disk type='file' device='floppy'><source file='/a'/><target dev='foo' bus='ide'/><address type='drive' controller='0' bus='0' target='0' unit='0'/></disk>"#,
        Some((
            1,
            20,
            r#"internal error: Invalid bus type 'ide' for floppy disk"#,
        )),
    ),
    (
        r#"<disk type='file' device='disk'><target dev='foo'/><address type='drive' controller='0' bus='0' target='0' unit='0'/></disk>"#,
        Some((
            1,
            20,
            r#"internal error: Invalid harddisk device name: foo"#,
        )),
    ),
    (
        r#"<disk type='file' device='disk'><target dev='hda' bus='usb' removable='on'/></disk>"#,
        Some((19, 20, r#"missing source information for device hda"#)),
    ),
    (
        r#"<disk type='volume' device='disk'><source pool='p' volume='v' startupPolicy='optional'/><target dev='vda'/></disk>"#,
        None,
    ),
    (
        r#"<disk type='block' device='disk'><source dev='/a' startupPolicy='optional'/><target dev='vda'/></disk>"#,
        None,
    ),
    (
        r#"<disk type='dir' device='disk'><source dir='/a' startupPolicy='optional'/><target dev='vda'/></disk>"#,
        None,
    ),
    (
        r#"<disk type='volume' device='lun'><source pool='p' volume='v'/><target dev='sda' bus='scsi'/></disk>"#,
        None,
    ),
    (
        r#"<disk type='network' device='lun'><source protocol='iscsi' name='iqn.x/1'><host name='h'/></source><target dev='sda' bus='scsi'/></disk>"#,
        None,
    ),
    (
        r#"<disk type='block' device='lun'><driver name='qemu' type='raw'/><source dev='/a'/><target dev='sda' bus='scsi'/></disk>"#,
        None,
    ),
    (
        r#"<disk type='block' device='lun'><source dev='/a'><slices><slice type='storage' offset='0' size='1'/></slices></source><target dev='sda' bus='scsi'/></disk>"#,
        Some((
            67,
            20,
            r#"unsupported configuration: disk device 'lun' doesn't support storage slice"#,
        )),
    ),
    (
        r#"<disk type='block' device='lun'><source dev='/a'><encryption format='luks'><secret type='passphrase' uuid='0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f'/></encryption></source><target dev='sda' bus='scsi'/></disk>"#,
        Some((
            67,
            20,
            r#"unsupported configuration: disk device 'lun' doesn't support encryption"#,
        )),
    ),
    (
        r#"<disk type='file' device='cdrom'><target dev='hdc'/></disk>"#,
        None,
    ),
    (
        r#"<disk type='network' device='disk'><source protocol='nbd'/><target dev='vda'/></disk>"#,
        None,
    ),
    (
        r#"<disk type='file' device='lun'><target dev='sda' bus='scsi'/></disk>"#,
        Some((
            67,
            20,
            r#"unsupported configuration: disk device='lun' is only valid for block type disk source"#,
        )),
    ),
    (
        r#"<disk type='file' device='disk'><source file='/a'/><target dev='sda' bus='scsi'/><iotune><total_iops_sec>1</total_iops_sec><write_iops_sec>2</write_iops_sec></iotune></disk>"#,
        Some((
            27,
            20,
            r#"XML error: total and read/write iops_sec cannot be set at the same time"#,
        )),
    ),
    (
        r#"<disk type='file' device='disk'><source file='/a'/><target dev='sda' bus='scsi'/><iotune><total_bytes_sec_max>1</total_bytes_sec_max><write_bytes_sec_max>2</write_bytes_sec_max></iotune></disk>"#,
        Some((
            27,
            20,
            r#"XML error: total and read/write bytes_sec_max cannot be set at the same time"#,
        )),
    ),
    (
        r#"<disk type='file' device='disk'><source file='/a'/><target dev='sda' bus='scsi'/><iotune><total_iops_sec_max>1</total_iops_sec_max><read_iops_sec_max>2</read_iops_sec_max></iotune></disk>"#,
        Some((
            27,
            20,
            r#"XML error: total and read/write iops_sec_max cannot be set at the same time"#,
        )),
    ),
    (
        r#"<disk type='file' device='disk'><source file='/a'/><target dev='sda' bus='scsi'/><iotune><total_bytes_sec>0</total_bytes_sec><read_bytes_sec>2</read_bytes_sec></iotune></disk>"#,
        None,
    ),
    (
        r#"<disk type='file' device='disk'><source file='/a'/><target dev='sda' bus='scsi'/><product>aé</product></disk>"#,
        Some((27, 20, r#"XML error: disk product is not printable string"#)),
    ),
    (
        r#"<disk type='file' device='disk'><source file='/a'/><target dev='sda' bus='scsi'/><vendor>12345678</vendor><product>1234567890123456</product></disk>"#,
        None,
    ),
    (
        r#"<disk type='file' device='disk'><source file='/a'/><target dev='sda' bus='scsi'/><wwn>zz</wwn></disk>"#,
        Some((1, 0, r#"internal error: Malformed wwn: zz"#)),
    ),
    (
        r#"<disk type='file' device='disk'><source file='/a'/><target dev='vda' bus='virtio'/><vendor>x</vendor></disk>"#,
        None,
    ),
    (
        r#"<disk type='file' device='cdrom'><source file='/a'/><target dev='sda' bus='usb' removable='off'/></disk>"#,
        None,
    ),
    (
        r#"<disk type='file' device='cdrom'><source file='/a'/><target dev='xvda' bus='xen'/></disk>"#,
        None,
    ),
    (
        r#"<disk type='file' device='disk'><source file='/a'/><target dev='ubda' bus='uml'/></disk>"#,
        None,
    ),
    (
        r#"<disk type='file' device='disk'><source file='/a'/><target dev='sda' bus='sd'/></disk>"#,
        None,
    ),
    (
        r#"<disk type='file' device='disk'><source file='/a'><seclabel model='dac' relabel='no'/></source><target dev='vda'/></disk>"#,
        None,
    ),
];

/// Defines `devices` as the test driver does: parsed, defaults for an i686 guest,
/// validated.
fn define(devices: &str) -> Result<(), VirError> {
    let xml = format!(
        "<domain type='test'><name>v</name><memory>1024</memory><os><type>hvm</type></os>\
         <devices>{devices}</devices></domain>"
    );
    let mut d = Domain::parse(&xml)
        .map_err(|e| VirError::from_xml(e, ErrorDomain::Domain))?
        .domain;
    d.apply_defaults_for("i686")
        .and_then(|()| d.validate())
        .map_err(|e| VirError::from_xml(e, ErrorDomain::Domain))
}

#[test]
fn disks_are_checked_as_libvirt_checks_them() {
    let mut wrong = Vec::new();
    for (devices, want) in CASES {
        let got = define(devices)
            .err()
            .map(|e| (e.code.number(), e.domain.number(), e.message));
        let want = want.map(|(c, d, m)| (c, d, m.to_string()));
        if got != want {
            wrong.push(format!(
                "{devices}\n  libvirt: {want:?}\n  ours:    {got:?}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
