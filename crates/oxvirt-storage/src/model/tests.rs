//! Unit tests of the pool and volume models: libvirt's error messages and defaults.

use super::*;

fn pool_err(xml: &str) -> String {
    match Pool::parse(xml) {
        Ok(p) => panic!("accepted: {}", p.to_xml()),
        Err(e) => e.message,
    }
}

#[test]
fn pool_errors_carry_libvirts_messages() {
    let cases = [
        ("<pool type='dir'><name>a</name></pool>", "missing storage pool target path"),
        (
            "<pool type='netfs'><name>a</name><source><dir path='/x'/></source><target><path>/m</path></target></pool>",
            "missing storage pool source host name",
        ),
        (
            "<pool type='netfs'><name>a</name><source><host name='h'/></source><target><path>/m</path></target></pool>",
            "missing storage pool source path",
        ),
        (
            "<pool type='fs'><name>a</name><target><path>/m</path></target></pool>",
            "missing storage pool source device name",
        ),
        ("<pool type='dir'><target><path>/m</path></target></pool>", "missing pool source name element"),
        (
            "<pool type='dir'><name>a/b</name><target><path>/m</path></target></pool>",
            "name a/b cannot contain '/'",
        ),
        (
            "<pool type='dir'><name>a</name><uuid>nope</uuid><target><path>/m</path></target></pool>",
            "malformed uuid element",
        ),
        (
            "<pool type='rbd'><name>a</name><source><host name='h'/></source></pool>",
            "element 'name' is mandatory for RBD pool",
        ),
        (
            "<pool type='iscsi-direct'><name>a</name><source><host name='h'/><device path='t'/></source></pool>",
            "missing initiator IQN",
        ),
        (
            "<pool type='logical'><name>a</name><features><cow state='yes'/></features></pool>",
            "cow feature may only be used for 'fs' and 'dir' pools",
        ),
        (
            "<pool type='dir'><name>a</name><target><path>/m</path><permissions><mode>0999</mode></permissions></target></pool>",
            "malformed octal mode",
        ),
        (
            "<pool type='fs'><name>a</name><source><device path='/d'/><format type='zz'/></source><target><path>/m</path></target></pool>",
            "unknown pool format type zz",
        ),
        ("<pool type='scsi'><name>a</name><target><path>/m</path></target></pool>", "missing storage pool source adapter"),
    ];
    for (xml, want) in cases {
        let got = pool_err(xml);
        assert!(got.ends_with(want), "{xml}: {got}");
    }
}

#[test]
fn pool_defaults_follow_libvirt() {
    let p = Pool::parse("<pool type='logical'><name>vg</name></pool>").unwrap();
    assert_eq!(p.source.name.as_deref(), Some("vg"));
    assert_eq!(p.source.format.as_deref(), Some("lvm2"));
    assert_eq!(p.target_path.as_deref(), Some("/dev/vg"));
    let p =
        Pool::parse("<pool type='dir'><name>d</name><target><path>///a//b/</path></target></pool>")
            .unwrap();
    assert_eq!(p.target_path.as_deref(), Some("/a/b"));
    assert!(!p.uuid.is_nil());
}

#[test]
fn volume_errors_and_sizes() {
    let e = Volume::parse("<volume><capacity>1</capacity></volume>", PoolType::Dir).unwrap_err();
    assert!(
        e.message.ends_with("missing volume name element"),
        "{}",
        e.message
    );
    let e = Volume::parse("<volume><name>v</name></volume>", PoolType::Dir).unwrap_err();
    assert!(
        e.message.ends_with("missing capacity element"),
        "{}",
        e.message
    );
    let e = Volume::parse(
        "<volume><name>v</name><capacity>1</capacity><target><format type='zz'/></target></volume>",
        PoolType::Dir,
    )
    .unwrap_err();
    assert!(
        e.message.ends_with("unknown volume format type zz"),
        "{}",
        e.message
    );
    let e = Volume::parse(
        "<volume><name>v</name><capacity>1</capacity><target><compat>x</compat></target></volume>",
        PoolType::Dir,
    )
    .unwrap_err();
    assert!(
        e.message
            .ends_with("forbidden characters in 'compat' attribute"),
        "{}",
        e.message
    );
    let v = Volume::parse(
        "<volume><name>v</name><capacity unit='KB'>2</capacity></volume>",
        PoolType::Dir,
    )
    .unwrap();
    assert_eq!((v.capacity, v.allocation), (2000, 2000));
    assert_eq!(v.target.format.as_deref(), Some("raw"));
    let v = Volume::parse(
        "<volume><name>v</name><capacity unit='MiB'>1</capacity></volume>",
        PoolType::Logical,
    )
    .unwrap();
    assert_eq!(v.capacity, 1 << 20);
    assert_eq!(v.target.format, None);
}

#[test]
fn volume_extents_are_written_grouped_by_device() {
    let mut v = Volume::parse(
        "<volume><name>p1</name><capacity>10</capacity></volume>",
        PoolType::Disk,
    )
    .unwrap();
    for (path, start, end) in [("/dev/sda", 1, 5), ("/dev/sda", 7, 9), ("/dev/sdb", 0, 2)] {
        v.extents.push(VolumeExtent {
            path: path.into(),
            start,
            end,
        });
    }
    let xml = v.to_xml();
    let want = "  <source>\n    <device path='/dev/sda'>\n      <extent start='1' end='5'/>\n      <extent start='7' end='9'/>\n    </device>\n    <device path='/dev/sdb'>\n      <extent start='0' end='2'/>\n    </device>\n  </source>\n  <capacity unit='bytes'>10</capacity>\n";
    assert!(xml.contains(want), "{xml}");
    assert!(xml.contains("<format type='none'/>"), "{xml}");
}

#[test]
fn validate_repeats_the_per_type_requirements() {
    let mut p = Pool::parse(
        "<pool type='netfs'><name>n</name><source><host name='h'/><dir path='/e'/></source><target><path>/m</path></target></pool>",
    )
    .unwrap();
    assert!(p.validate().is_ok());
    p.source.hosts.clear();
    assert!(p
        .validate()
        .unwrap_err()
        .message
        .ends_with("missing storage pool source host name"));
    let mut p =
        Pool::parse("<pool type='dir'><name>d</name><target><path>/m</path></target></pool>")
            .unwrap();
    p.target_path = None;
    assert!(p
        .validate()
        .unwrap_err()
        .message
        .ends_with("missing storage pool target path"));
    p.target_path = Some("/m".into());
    p.cow = Some(true);
    assert!(p.validate().is_ok());
    p.pool_type = PoolType::Netfs;
    assert!(p
        .validate()
        .unwrap_err()
        .message
        .ends_with("missing storage pool source host name"));
}

#[test]
fn volume_size_errors_read_as_libvirts() {
    let msg = |xml: &str| Volume::parse(xml, PoolType::Dir).unwrap_err().message;
    assert!(
        msg("<volume><name>v</name><capacity unit='zz'>1</capacity></volume>")
            .ends_with("unknown suffix 'zz'")
    );
    assert!(
        msg("<volume><name>v</name><capacity unit='E'>9</capacity></volume>")
            .ends_with("value too large: 9E")
    );
    assert!(
        msg("<volume><name>v</name><capacity>99999999999999999999</capacity></volume>")
            .ends_with("malformed capacity element")
    );
    assert!(msg("<volume><name>v</name><capacity>1</capacity><target><clusterSize>x</clusterSize></target></volume>")
        .ends_with("Invalid value 'x' for element or attribute './target/clusterSize'"));
    assert!(msg("<volume><name>v</name><capacity>1</capacity><target><format type='none'/></target></volume>")
        .ends_with("unknown volume format type none"));
    assert!(
        msg("<volume type='zz'><name>v</name><capacity>1</capacity></volume>")
            .ends_with("unknown volume type 'zz'")
    );
}

#[test]
fn adapter_and_auth_errors_read_as_libvirts() {
    let t = "<target><path>/m</path></target>";
    let cases = [
        (format!("<pool type='scsi'><name>a</name><source><adapter type='scsi_host'/></source>{t}</pool>"),
         "Either 'name' or 'parent' must be specified for the 'scsi_host' adapter"),
        (format!("<pool type='scsi'><name>a</name><source><adapter type='scsi_host'><parentaddr><address domain='0' bus='0' slot='1' function='0'/></parentaddr></adapter></source>{t}</pool>"),
         "Missing or invalid scsi adapter 'unique_id' value"),
        (format!("<pool type='scsi'><name>a</name><source><adapter type='zz'/></source>{t}</pool>"),
         "Invalid value for attribute 'type' in element 'adapter': 'zz'."),
        (format!("<pool type='iscsi'><name>a</name><source><host name='h'/><device path='d'/><auth username='u'><secret usage='x'/></auth></source>{t}</pool>"),
         "storage pool missing auth type"),
        (format!("<pool type='iscsi'><name>a</name><source><host name='h'/><device path='d'/><auth type='chap' username='u'><secret/></auth></source>{t}</pool>"),
         "missing secret uuid or usage attribute"),
        (format!("<pool type='scsi'><name>a</name><source><adapter type='fc_host' wwnn='zz' wwpn='10000000c9831b4b'/></source>{t}</pool>"),
         "Malformed wwn: zz"),
        (format!("<pool type='scsi'><name>a</name><source><adapter type='fc_host' parent_wwnn='20000000c9831b4b' wwnn='20000000c9831b4b' wwpn='10000000c9831b4b'/></source>{t}</pool>"),
         "when providing parent_wwnn='20000000c9831b4b', the parent_wwpn must also be provided"),
    ];
    for (xml, want) in cases {
        let got = pool_err(&xml);
        assert!(got.ends_with(want), "{xml}: {got}");
    }
}

#[test]
fn a_wwn_may_start_with_0x() {
    let p = Pool::parse(
        "<pool type='scsi'><name>a</name><source><adapter type='fc_host' wwnn='0x20000000c9831b4b' wwpn='10000000c9831b4b'/></source><target><path>/m</path></target></pool>",
    )
    .unwrap();
    assert!(p
        .to_xml()
        .contains("<adapter type='fc_host' wwnn='0x20000000c9831b4b' wwpn='10000000c9831b4b'/>"));
}

#[test]
fn timestamps_are_written_as_libvirt_writes_them() {
    let mut v = Volume::parse(
        "<volume><name>f</name><capacity>1</capacity><target><path>/p/f</path></target></volume>",
        PoolType::Dir,
    )
    .unwrap();
    v.target.timestamps = Some(Timestamps {
        atime: Some(FileTime {
            sec: 1341933637,
            nsec: 273190990,
        }),
        mtime: Some(FileTime {
            sec: 1341930622,
            nsec: 0,
        }),
        ctime: Some(FileTime {
            sec: 1341930622,
            nsec: 47245868,
        }),
        btime: None,
    });
    let xml = v.to_xml();
    let want = "    <format type='raw'/>\n    <timestamps>\n      <atime>1341933637.273190990</atime>\n      <mtime>1341930622</mtime>\n      <ctime>1341930622.047245868</ctime>\n    </timestamps>\n  </target>\n";
    assert!(xml.contains(want), "{xml}");
    // Not read back, as libvirt.
    assert_eq!(
        Volume::parse(&xml, PoolType::Dir)
            .unwrap()
            .target
            .timestamps,
        None
    );
}

#[test]
fn a_live_dir_volume_is_written_as_libvirts_vol_dumpxml() {
    // What Debian's libvirt 9.0 answers to vol-dumpxml for a fresh 1 MiB qcow2 volume.
    let want = "<volume type='file'>
  <name>v1.qcow2</name>
  <key>/tmp/oxs-pooldir/v1.qcow2</key>
  <capacity unit='bytes'>1048576</capacity>
  <allocation unit='bytes'>200704</allocation>
  <physical unit='bytes'>196616</physical>
  <target>
    <path>/tmp/oxs-pooldir/v1.qcow2</path>
    <format type='qcow2'/>
    <permissions>
      <mode>0600</mode>
      <owner>0</owner>
      <group>0</group>
    </permissions>
    <timestamps>
      <atime>1795756256.206370993</atime>
      <mtime>1795756256.203483656</mtime>
      <ctime>1795756256.206310012</ctime>
      <btime>0</btime>
    </timestamps>
  </target>
</volume>
";
    let mut v = Volume::parse(want, PoolType::Dir).unwrap();
    v.physical = 196616;
    let t = |sec, nsec| Some(FileTime { sec, nsec });
    v.target.timestamps = Some(Timestamps {
        atime: t(1795756256, 206370993),
        mtime: t(1795756256, 203483656),
        ctime: t(1795756256, 206310012),
        btime: t(0, 0),
    });
    assert_eq!(v.to_xml(), want);
}

#[test]
fn disk_free_extents_and_source_lists_are_written_as_libvirt_writes_them() {
    let mut p = Pool::parse(
        "<pool type='disk'><name>sda</name><source><device path='/dev/sda'/></source><target><path>/dev</path></target></pool>",
    )
    .unwrap();
    p.source.devices[0].free_extents = vec![(370137600, 567544320)];
    let xml = p.to_xml();
    let want = "    <device path='/dev/sda'>\n      <freeExtent start='370137600' end='567544320'/>\n    </device>\n    <format type='unknown'/>\n";
    assert!(xml.contains(want), "{xml}");
    let vg = PoolSource {
        name: Some("vg0".into()),
        format: Some("lvm2".into()),
        devices: vec![PoolSourceDevice {
            path: "/dev/loop0".into(),
            part_separator: None,
            free_extents: vec![],
        }],
        ..PoolSource::default()
    };
    assert_eq!(
        sources_to_xml(PoolType::Logical, &[vg]),
        "<sources>\n  <source>\n    <device path='/dev/loop0'/>\n    <name>vg0</name>\n    <format type='lvm2'/>\n  </source>\n</sources>\n"
    );
    assert_eq!(
        sources_to_xml(PoolType::Logical, &[]),
        "<sources>\n</sources>\n"
    );
}
