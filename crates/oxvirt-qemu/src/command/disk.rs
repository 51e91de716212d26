//! Disks: a `-blockdev` storage node and a format node per source, then the `-device`.

use oxvirt_domain::devices::disk::driver::{DiskCache, DiskIo};
use oxvirt_domain::devices::disk::{DiskBus, DiskDevice, DiskSource, DiskType, NetProtocol};
use oxvirt_domain::devices::Disk;
use oxvirt_domain::os::BootDev;
use oxvirt_domain::{DeviceAddress, Domain};
use oxvirt_xml::VirError;

use super::pci::Plan;
use super::{unsupported, Args};

/// A JSON string literal.
fn js(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// The boot index of each disk and interface: `<boot order>` on the devices, or else the
/// `<os><boot dev>` list given to the first device of each kind.
pub struct BootOrder {
    /// Per disk.
    pub disks: Vec<Option<u32>>,
    /// Per interface.
    pub nets: Vec<Option<u32>>,
}

impl BootOrder {
    /// Works out the boot indexes of `domain`.
    pub fn new(domain: &Domain) -> BootOrder {
        let devs = &domain.devices;
        let mut disks: Vec<Option<u32>> = devs
            .disks
            .iter()
            .map(|d| d.info.boot.as_ref().map(|b| b.order))
            .collect();
        let mut nets: Vec<Option<u32>> = devs
            .interfaces
            .iter()
            .map(|n| n.info.boot.as_ref().map(|b| b.order))
            .collect();
        let per_device = disks.iter().chain(nets.iter()).any(Option::is_some);
        let boot = domain.os.as_ref().map(|o| o.boot.as_slice()).unwrap_or(&[]);
        if !per_device {
            for (i, dev) in boot.iter().enumerate() {
                let index = Some(i as u32 + 1);
                let want = match dev {
                    BootDev::Hd => DiskDevice::Disk,
                    BootDev::Cdrom => DiskDevice::Cdrom,
                    BootDev::Fd => DiskDevice::Floppy,
                    BootDev::Network => {
                        if let Some(n) = nets.first_mut() {
                            *n = index;
                        }
                        continue;
                    }
                };
                if let Some(pos) = devs.disks.iter().position(|d| d.device == want) {
                    disks[pos] = index;
                }
            }
        }
        BootOrder { disks, nets }
    }
}

/// The index of a target name (`hda` -> 0, `vdb` -> 1, `sdaa` -> 26), as
/// `virDiskNameToIndex` reads it: the letters after the prefix in bijective base 26.
pub fn target_index(dev: &str) -> u32 {
    let prefix = ["xvd", "hd", "sd", "vd", "fd", "ub"]
        .iter()
        .find(|p| dev.starts_with(*p))
        .map_or(0, |p| p.len());
    let letters = dev[prefix..].bytes().take_while(u8::is_ascii_lowercase);
    letters
        .fold(0u32, |acc, b| acc * 26 + u32::from(b - b'a') + 1)
        .saturating_sub(1)
}

/// Adds every disk's nodes and device.
pub fn build(argv: &mut Args, domain: &Domain, plan: &Plan) -> Result<(), VirError> {
    let boot = BootOrder::new(domain);
    let mut node = domain
        .devices
        .disks
        .iter()
        .filter(|d| has_source(d))
        .count() as u32;
    for (i, disk) in domain.devices.disks.iter().enumerate() {
        let drive = if has_source(disk) {
            let n = node;
            node -= 1;
            blockdev(argv, disk, n)?;
            Some(format!("libvirt-{n}-format"))
        } else {
            None
        };
        let dev = device(domain, disk, plan, i, drive.as_deref(), boot.disks[i])?;
        argv.opt("-device", dev);
    }
    Ok(())
}

/// Whether the disk has a source to open: a file or device, an iSCSI LUN, or a storage
/// volume (which must have been resolved before: [`blockdev`] refuses it).
fn has_source(disk: &Disk) -> bool {
    disk.source.as_ref().is_some_and(|s| {
        s.file.is_some()
            || s.dev.is_some()
            || (disk.kind == DiskType::Network && s.protocol == Some(NetProtocol::Iscsi))
            || (disk.kind == DiskType::Volume && s.pool.is_some())
    })
}

/// The iSCSI LUN of a `<source protocol='iscsi' name='IQN/LUN'>`: its target and LUN (0
/// when the name has none), as libvirt splits the name.
fn iscsi_target(name: &str) -> Result<(&str, u64), VirError> {
    match name.rsplit_once('/') {
        None => Ok((name, 0)),
        Some((target, lun)) => lun
            .parse::<u64>()
            .map(|l| (target, l))
            .map_err(|_| unsupported(format!("iSCSI LUN '{lun}'"))),
    }
}

/// The initiator IQN of a network source (`<initiator><iqn name='...'/></initiator>`).
fn iscsi_initiator(src: &DiskSource) -> Option<&str> {
    src.unknown
        .elements()
        .find(|e| e.name == "initiator")?
        .children
        .iter()
        .filter_map(|n| n.as_element())
        .find(|e| e.name == "iqn")?
        .attr("name")
}

/// The members naming where a disk's content is, before `"node-name"`: a file or device
/// (`"driver":"file","filename":...`) or an iSCSI LUN (QEMU's `iscsi` driver:
/// `"portal":"HOST:PORT","target":...,"lun":N,"transport":"tcp"` and the initiator name).
fn storage_location(disk: &Disk, src: &DiskSource) -> Result<String, VirError> {
    let local =
        |driver: &str, path: &str| format!(r#""driver":"{driver}","filename":{}"#, js(path));
    match (disk.kind, src.file.as_deref(), src.dev.as_deref()) {
        (DiskType::File, Some(f), _) => return Ok(local("file", f)),
        // libvirt opens a CD-ROM volume of a block pool as `host_device`: it picks
        // `host_cdrom` from the disk's own type, which is `volume` (a resolved volume
        // keeps its pool in the source).
        (DiskType::Block, _, Some(d)) if disk.device == DiskDevice::Cdrom && src.pool.is_none() => {
            return Ok(local("host_cdrom", d))
        }
        (DiskType::Block, _, Some(d)) => return Ok(local("host_device", d)),
        (DiskType::Volume, ..) => {
            return Err(unsupported(
                "disk of type 'volume' not resolved to its source",
            ))
        }
        _ => {}
    }
    if disk.kind != DiskType::Network || src.protocol != Some(NetProtocol::Iscsi) {
        return Err(unsupported("disk source type"));
    }
    let host = src
        .hosts
        .first()
        .and_then(|h| h.name.as_deref())
        .ok_or_else(|| unsupported("iSCSI disk without host"))?;
    let port = src.hosts.first().and_then(|h| h.port).unwrap_or(3260);
    let portal = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let (target, lun) = iscsi_target(src.name.as_deref().unwrap_or_default())?;
    let mut s = format!(
        r#""driver":"iscsi","portal":{},"target":{},"lun":{lun},"transport":"tcp""#,
        js(&portal),
        js(target)
    );
    if let Some(iqn) = iscsi_initiator(src) {
        s.push_str(&format!(r#","initiator-name":{}"#, js(iqn)));
    }
    Ok(s)
}

/// The `"cache"` member, when the disk sets a cache mode.
fn cache_json(disk: &Disk) -> Option<&'static str> {
    match disk.driver.as_ref().and_then(|d| d.cache)? {
        DiskCache::None | DiskCache::Directsync => {
            Some(r#""cache":{"direct":true,"no-flush":false}"#)
        }
        DiskCache::Writeback | DiskCache::Writethrough => {
            Some(r#""cache":{"direct":false,"no-flush":false}"#)
        }
        DiskCache::Unsafe => Some(r#""cache":{"direct":false,"no-flush":true}"#),
    }
}

/// The storage and format `-blockdev`s of a disk, node `libvirt-N`.
fn blockdev(argv: &mut Args, disk: &Disk, n: u32) -> Result<(), VirError> {
    argv.opt("-blockdev", storage_node(disk, n)?);
    let cache = cache_json(disk);
    let format = disk
        .driver
        .as_ref()
        .and_then(|d| d.format)
        .map(|f| f.to_string())
        .unwrap_or_else(|| "raw".to_string());
    if format != "raw" && format != "qcow2" {
        return Err(unsupported(format!("disk format '{format}'")));
    }
    let ro = disk.readonly || disk.device == DiskDevice::Cdrom;
    let mut f = format!(r#"{{"node-name":"libvirt-{n}-format","read-only":{ro}"#);
    if let Some(c) = cache {
        f.push(',');
        f.push_str(c);
    }
    f.push_str(&format!(
        r#","driver":"{format}","file":"libvirt-{n}-storage"}}"#
    ));
    argv.opt("-blockdev", f);
    Ok(())
}

/// The storage `-blockdev` (JSON) of a disk with a file, block device or iSCSI source,
/// node `libvirt-N-storage`: what a start puts on the command line and a hotplug gives
/// `blockdev-add`.
pub fn storage_node(disk: &Disk, n: u32) -> Result<String, VirError> {
    let src = disk
        .source
        .as_ref()
        .ok_or_else(|| unsupported("disk without source"))?;
    let location = storage_location(disk, src)?;
    if disk
        .backing_store
        .as_ref()
        .is_some_and(|b| b.source.is_some())
    {
        return Err(unsupported("backing chains"));
    }
    let cache = cache_json(disk);
    let mut s = format!("{{{location}");
    if disk.driver.as_ref().and_then(|d| d.io) == Some(DiskIo::Native) {
        s.push_str(r#","aio":"native""#);
    }
    s.push_str(&format!(r#","node-name":"libvirt-{n}-storage""#));
    if let Some(c) = cache {
        s.push(',');
        s.push_str(c);
    }
    s.push_str(r#","auto-read-only":true,"discard":"unmap"}"#);
    Ok(s)
}

/// The drive address of an IDE or SATA disk: given, or from its target name.
fn drive_address(disk: &Disk, bus: DiskBus) -> (u32, u32, u32) {
    if let Some(DeviceAddress::Drive {
        controller,
        bus: b,
        unit,
        ..
    }) = &disk.info.address
    {
        return (controller.unwrap_or(0), b.unwrap_or(0), unit.unwrap_or(0));
    }
    let idx = disk
        .target
        .as_ref()
        .and_then(|t| t.dev.as_deref())
        .map(target_index)
        .unwrap_or(0);
    match bus {
        DiskBus::Sata => (idx / 6, 0, idx % 6),
        _ => (idx / 4, (idx % 4) / 2, idx % 2),
    }
}

/// The `-device` of a disk.
fn device(
    domain: &Domain,
    disk: &Disk,
    plan: &Plan,
    i: usize,
    drive: Option<&str>,
    bootindex: Option<u32>,
) -> Result<String, VirError> {
    let bus = disk
        .target
        .as_ref()
        .and_then(|t| t.bus)
        .ok_or_else(|| unsupported("disk without bus"))?;
    let dev_name = disk
        .target
        .as_ref()
        .and_then(|t| t.dev.clone())
        .unwrap_or_default();
    let mut s;
    let id;
    match bus {
        DiskBus::Ide | DiskBus::Sata => {
            let model = match disk.device {
                DiskDevice::Disk => "ide-hd",
                DiskDevice::Cdrom => "ide-cd",
                _ => return Err(unsupported("IDE device kind")),
            };
            let (c, b, u) = drive_address(disk, bus);
            if bus == DiskBus::Ide {
                s = format!("{model},bus=ide.{b},unit={u}");
                id = format!("ide{c}-{b}-{u}");
            } else {
                let ctl = if c == 0 && super::general::is_q35(domain) {
                    "ide".to_string()
                } else {
                    format!("sata{c}")
                };
                s = format!("{model},bus={ctl}.{u}");
                id = format!("sata{c}-{b}-{u}");
            }
        }
        DiskBus::Virtio if plan.ccw.is_some() => {
            let devno = plan
                .ccw
                .as_ref()
                .and_then(|c| c.disks[i].clone())
                .ok_or_else(|| unsupported("virtio disk without CCW address"))?;
            s = format!("virtio-blk-ccw,devno={devno}");
            id = format!("virtio-disk{}", target_index(&dev_name));
        }
        DiskBus::Virtio => {
            let slot = plan.disks[i]
                .as_ref()
                .ok_or_else(|| unsupported("virtio disk without PCI address"))?;
            s = "virtio-blk-pci".to_string();
            if let Some(t) = disk.driver.as_ref().and_then(|d| d.iothread) {
                s.push_str(&format!(",iothread=iothread{t}"));
            }
            s.push(',');
            s.push_str(&plan.format(slot));
            id = format!("virtio-disk{}", target_index(&dev_name));
        }
        other => return Err(unsupported(format!("disk bus '{other}'"))),
    }
    if disk.shareable {
        s.push_str(",share-rw=on");
    }
    if let Some(d) = drive {
        s.push_str(&format!(",drive={d}"));
    }
    s.push_str(&format!(",id={id}"));
    if let Some(b) = bootindex {
        s.push_str(&format!(",bootindex={b}"));
    }
    match disk.driver.as_ref().and_then(|d| d.cache) {
        Some(DiskCache::None | DiskCache::Writeback | DiskCache::Unsafe) => {
            s.push_str(",write-cache=on")
        }
        Some(DiskCache::Writethrough | DiskCache::Directsync) => s.push_str(",write-cache=off"),
        None => {}
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::target_index;

    #[test]
    fn target_names_index_like_libvirt() {
        assert_eq!(target_index("hda"), 0);
        assert_eq!(target_index("hdc"), 2);
        assert_eq!(target_index("vdb"), 1);
        assert_eq!(target_index("sdz"), 25);
        assert_eq!(target_index("sdaa"), 26);
        assert_eq!(target_index("xvdb"), 1);
    }
}
