//! How the hypervisor accesses a disk: `<driver name='qemu' type='qcow2' cache='none'/>`.

use oxvirt_xml::model::PropFlags;
use oxvirt_xml::{
    xml_enum, Builder, Context, Cursor, Element, Result, Unknown, XmlEnum, XmlError, XmlModel,
};

use super::common::StorageFormat;
use crate::devices::info::VirtioOptions;
use crate::util;

xml_enum! {
    /// Host page cache use (`cache`); `default` reads as unset.
    pub enum DiskCache {
        None = "none", Writethrough = "writethrough", Writeback = "writeback",
        Directsync = "directsync", Unsafe = "unsafe",
    }
}

xml_enum! {
    /// What to do on an I/O error (`error_policy`, `rerror_policy`).
    pub enum ErrorPolicy { Stop = "stop", Report = "report", Ignore = "ignore", Enospace = "enospace" }
}

xml_enum! {
    /// The I/O backend (`io`).
    pub enum DiskIo { Native = "native", Threads = "threads", IoUring = "io_uring" }
}

xml_enum! {
    /// How discard requests are handled (`discard`).
    pub enum DiskDiscard { Unmap = "unmap", Ignore = "ignore" }
}

xml_enum! {
    /// Zero-write detection (`detect_zeroes`).
    pub enum DetectZeroes { Off = "off", On = "on", Unmap = "unmap" }
}

/// A disk's `<driver>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DiskDriver {
    /// The backend driver (`qemu`, `tap`, ...).
    pub name: Option<String>,
    /// The image format (`type`); Xen's `aio` reads as `raw`.
    pub format: Option<StorageFormat>,
    /// `cache`.
    pub cache: Option<DiskCache>,
    /// `error_policy`.
    pub error_policy: Option<ErrorPolicy>,
    /// `rerror_policy` (never `enospace`).
    pub rerror_policy: Option<ErrorPolicy>,
    /// `io`.
    pub io: Option<DiskIo>,
    /// `ioeventfd='on|off'`.
    pub ioeventfd: Option<bool>,
    /// `event_idx='on|off'`.
    pub event_idx: Option<bool>,
    /// `copy_on_read='on|off'`.
    pub copy_on_read: Option<bool>,
    /// `discard`.
    pub discard: Option<DiskDiscard>,
    /// The IOThread serving the disk (`iothread`, from 1).
    pub iothread: Option<u32>,
    /// `detect_zeroes`.
    pub detect_zeroes: Option<DetectZeroes>,
    /// Number of virtqueues (`queues`).
    pub queues: Option<u32>,
    /// Virtqueue size (`queue_size`).
    pub queue_size: Option<u32>,
    /// The virtio options.
    pub virtio: VirtioOptions,
    /// `<metadata_cache>` and anything else, kept as written.
    pub unknown: Unknown,
}

impl XmlModel for DiskDriver {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let name = c.attr_string("name");
        let cache = util::enum_or_default(&mut c, "cache")?;
        let error_policy = c.enum_attr("error_policy")?;
        let rerror_policy = c.enum_attr("rerror_policy")?;
        if rerror_policy == Some(ErrorPolicy::Enospace) {
            return Err(
                XmlError::unsupported("Invalid disk read error policy: 'enospace'").at(el.position),
            );
        }
        let io = c.enum_attr("io")?;
        let ioeventfd = c.prop_on_off("ioeventfd", PropFlags::NONE)?;
        let event_idx = c.prop_on_off("event_idx", PropFlags::NONE)?;
        let copy_on_read = c.prop_on_off("copy_on_read", PropFlags::NONE)?;
        let discard = c.enum_attr("discard")?;
        let iothread = c.prop_uint("iothread", 10, PropFlags::NONZERO)?;
        let detect_zeroes = c.enum_attr("detect_zeroes")?;
        let queues = c
            .prop_uint("queues", 10, PropFlags::NONE)?
            .filter(|n| *n != 0);
        let queue_size = c
            .prop_uint("queue_size", 10, PropFlags::NONE)?
            .filter(|n| *n != 0);
        let virtio = VirtioOptions::parse(&mut c)?;
        let format = match c.attr("type") {
            None => None,
            Some("aio") => Some(StorageFormat::Raw),
            Some(t) => Some(StorageFormat::from_xml_str(t).ok_or_else(|| {
                XmlError::unsupported(format!("unknown driver format value '{t}'")).at(el.position)
            })?),
        };
        Ok(DiskDriver {
            name,
            format,
            cache,
            error_policy,
            rerror_policy,
            io,
            ioeventfd,
            event_idx,
            copy_on_read,
            discard,
            iothread,
            detect_zeroes,
            queues,
            queue_size,
            virtio,
            unknown: c.finish_known(ctx, &["metadata_cache", "iothreads", "statistics"]),
        })
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("driver");
        b.opt_attr("name", self.name.as_deref())
            .opt_attr("type", self.format)
            .opt_attr("cache", self.cache)
            .opt_attr("error_policy", self.error_policy)
            .opt_attr("rerror_policy", self.rerror_policy)
            .opt_attr("io", self.io)
            .on_off("ioeventfd", self.ioeventfd)
            .on_off("event_idx", self.event_idx)
            .on_off("copy_on_read", self.copy_on_read)
            .opt_attr("discard", self.discard)
            .opt_attr("iothread", self.iothread)
            .opt_attr("detect_zeroes", self.detect_zeroes)
            .opt_attr("queues", self.queues)
            .opt_attr("queue_size", self.queue_size);
        self.virtio.format(&mut b);
        b.finish(&self.unknown)
    }
}

impl DiskDriver {
    /// Whether the element would be empty (libvirt then writes no `<driver>`).
    pub fn is_empty(&self) -> bool {
        *self == DiskDriver::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(xml: &str) -> Result<DiskDriver> {
        DiskDriver::from_element(&oxvirt_xml::parse(xml)?, &mut Context::default())
    }

    #[test]
    fn attributes_are_written_in_libvirts_order() {
        let d = read("<driver packed='on' discard='unmap' io='native' cache='none' type='qcow2' name='qemu' iothread='1'/>")
            .unwrap();
        assert_eq!(
            oxvirt_xml::to_string(&d.to_element()),
            "<driver name='qemu' type='qcow2' cache='none' io='native' discard='unmap' iothread='1' packed='on'/>\n"
        );
    }

    #[test]
    fn defaults_and_aliases_are_normalised() {
        let d = read("<driver name='qemu' type='aio' cache='default' queues='0'/>").unwrap();
        assert_eq!(
            oxvirt_xml::to_string(&d.to_element()),
            "<driver name='qemu' type='raw'/>\n"
        );
    }

    #[test]
    fn invalid_values_are_rejected() {
        let err = read("<driver type='foo'/>").unwrap_err();
        assert_eq!(err.message, "unknown driver format value 'foo'");
        assert_eq!(err.code, oxvirt_xml::ErrorCode::ConfigUnsupported);
        let err = read("<driver rerror_policy='enospace'/>").unwrap_err();
        assert_eq!(err.message, "Invalid disk read error policy: 'enospace'");
        let err = read("<driver error_policy='default'/>").unwrap_err();
        assert_eq!(
            err.message,
            "Invalid value for attribute 'error_policy' in element 'driver': 'default'."
        );
    }
}
