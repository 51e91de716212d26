//! Device edits of a domain definition: attach, detach and update, as libvirt's drivers do
//! them on a definition (the QEMU driver's `qemuDomainAttachDeviceConfig`,
//! `qemuDomainDetachDeviceConfig` and `qemuDomainUpdateDeviceLive`, with the matching
//! helpers of `conf/domain_conf.c`), with libvirt 9.0's messages.
//!
//! libvirt 9.0's test driver has none of these calls: `test:///default` answers
//! `virDomainAttachDeviceFlags`, `virDomainDetachDeviceFlags` and
//! `virDomainUpdateDeviceFlags` with `VIR_ERR_NO_SUPPORT` ("this function is not supported
//! by the connection driver: virDomainAttachDeviceFlags"). These functions give a driver
//! the semantics of the drivers that have them.
//!
//! Conf-layer errors (device matching) are reported from `VIR_FROM_DOMAIN`; the driver's
//! own refusals from `VIR_FROM_TEST`, as the test driver reports its errors.

mod edit;
mod update;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod attach_tests;

pub use edit::{attach_device, attach_device_with, detach_device};
pub use update::update_device;

use oxvirt_xml::{Context, Element, ErrorCode, ErrorDomain, VirError, XmlError, XmlModel};

use crate::devices::{
    hostdev, shmem, video, Chardev, Controller, Disk, Filesystem, Graphics, Hostdev, Input,
    Interface, Memballoon, Panic, Redirdev, Rng, Smartcard, Sound, Tpm, Video, Vsock, Watchdog,
};
use crate::Domain;

/// One device read from its own element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Device {
    /// `<disk>`.
    Disk(Box<Disk>),
    /// `<controller>`.
    Controller(Box<Controller>),
    /// `<filesystem>`.
    Filesystem(Box<Filesystem>),
    /// `<interface>`.
    Interface(Box<Interface>),
    /// `<smartcard>`.
    Smartcard(Box<Smartcard>),
    /// `<serial>`, `<parallel>`, `<console>` or `<channel>` (its `element` says which).
    Chardev(Box<Chardev>),
    /// `<input>`.
    Input(Box<Input>),
    /// `<tpm>`.
    Tpm(Box<Tpm>),
    /// `<graphics>`.
    Graphics(Box<Graphics>),
    /// `<sound>`.
    Sound(Box<Sound>),
    /// `<video>`.
    Video(Box<Video>),
    /// `<hostdev>`.
    Hostdev(Box<Hostdev>),
    /// `<redirdev>`.
    Redirdev(Box<Redirdev>),
    /// `<watchdog>`.
    Watchdog(Box<Watchdog>),
    /// `<memballoon>`.
    Memballoon(Box<Memballoon>),
    /// `<rng>`.
    Rng(Box<Rng>),
    /// `<panic>`.
    Panic(Box<Panic>),
    /// `<vsock>`.
    Vsock(Box<Vsock>),
    /// A kind the model keeps untyped (`lease`, `hub`, `shmem`, `memory`, `iommu`,
    /// `audio`, `crypto`, `nvram`), as written.
    Other(Element),
}

/// Element names of the device kinds libvirt's `virDomainDeviceDefParse` accepts that
/// the model keeps untyped.
const OTHER_KINDS: &[&str] = &[
    "lease", "hub", "shmem", "memory", "iommu", "audio", "crypto", "nvram",
];

impl Device {
    /// libvirt's name of the device type (`virDomainDeviceType`), as its messages use it.
    pub fn type_name(&self) -> &str {
        match self {
            Device::Disk(_) => "disk",
            Device::Controller(_) => "controller",
            Device::Filesystem(_) => "filesystem",
            Device::Interface(_) => "interface",
            Device::Smartcard(_) => "smartcard",
            Device::Chardev(_) => "chr",
            Device::Input(_) => "input",
            Device::Tpm(_) => "tpm",
            Device::Graphics(_) => "graphics",
            Device::Sound(_) => "sound",
            Device::Video(_) => "video",
            Device::Hostdev(_) => "hostdev",
            Device::Redirdev(_) => "redirdev",
            Device::Watchdog(_) => "watchdog",
            Device::Memballoon(_) => "memballoon",
            Device::Rng(_) => "rng",
            Device::Panic(_) => "panic",
            Device::Vsock(_) => "vsock",
            Device::Other(e) => &e.name,
        }
    }

    /// The device's alias (`<alias name=...>`), if it has one.
    pub fn alias(&self) -> Option<&str> {
        let info = match self {
            Device::Disk(d) => &d.info,
            Device::Controller(d) => &d.info,
            Device::Filesystem(d) => &d.info,
            Device::Interface(d) => &d.info,
            Device::Smartcard(d) => &d.info,
            Device::Chardev(d) => &d.info,
            Device::Input(d) => &d.info,
            Device::Sound(d) => &d.info,
            Device::Hostdev(d) => &d.info,
            Device::Redirdev(d) => &d.info,
            Device::Watchdog(d) => &d.info,
            Device::Memballoon(d) => &d.info,
            Device::Panic(d) => &d.info,
            Device::Vsock(d) => &d.info,
            Device::Tpm(d) => &d.info,
            Device::Rng(d) => &d.info,
            Device::Video(d) => &d.info,
            Device::Graphics(_) => return None,
            Device::Other(e) => {
                return e.child("alias").and_then(|a| a.attr("name"));
            }
        };
        info.alias_name()
    }
}

/// An XML error of the device document, reported as libvirt's conf layer reports it.
pub(crate) fn xml_err(e: XmlError) -> VirError {
    VirError::from_xml(e, ErrorDomain::Domain)
}

/// Reads a device element as it is written, without defaults or checks.
pub(crate) fn read_device(xml: &str) -> Result<Device, VirError> {
    let el = oxvirt_xml::parse(xml).map_err(xml_err)?;
    let mut ctx = Context::default();
    let cx = &mut ctx;
    fn boxed<T: XmlModel>(el: &Element, cx: &mut Context) -> Result<Box<T>, VirError> {
        T::from_element(el, cx).map(Box::new).map_err(xml_err)
    }
    Ok(match el.name.as_str() {
        "disk" => Device::Disk(boxed(&el, cx)?),
        "controller" => Device::Controller(boxed(&el, cx)?),
        "filesystem" => Device::Filesystem(boxed(&el, cx)?),
        "interface" => Device::Interface(boxed(&el, cx)?),
        "smartcard" => Device::Smartcard(boxed(&el, cx)?),
        "serial" | "parallel" | "console" | "channel" => Device::Chardev(boxed(&el, cx)?),
        "input" => Device::Input(boxed(&el, cx)?),
        "tpm" => Device::Tpm(boxed(&el, cx)?),
        "graphics" => Device::Graphics(boxed(&el, cx)?),
        "sound" => Device::Sound(boxed(&el, cx)?),
        "video" => Device::Video(boxed(&el, cx)?),
        "hostdev" => Device::Hostdev(boxed(&el, cx)?),
        "redirdev" => Device::Redirdev(boxed(&el, cx)?),
        "watchdog" => Device::Watchdog(boxed(&el, cx)?),
        "memballoon" => Device::Memballoon(boxed(&el, cx)?),
        "rng" => Device::Rng(boxed(&el, cx)?),
        "panic" => Device::Panic(boxed(&el, cx)?),
        "vsock" => Device::Vsock(boxed(&el, cx)?),
        // A shared memory device is kept as the element libvirt would write for it.
        "shmem" => Device::Other(shmem::canonical_shmem(&el, cx).map_err(xml_err)?),
        name if OTHER_KINDS.contains(&name) => Device::Other(el),
        name => {
            return Err(VirError::new(
                ErrorDomain::Domain,
                ErrorCode::XmlError,
                format!("unknown device type '{name}'"),
            ))
        }
    })
}

/// Parses one device element as libvirt's `virDomainDeviceDefParse` does, in the context
/// of `def`: the defaults of a defined domain's devices are applied (a generated MAC
/// address, a disk's bus, a chardev's target type, ...) and the device is checked.
pub fn parse_device(xml: &str, def: &Domain) -> Result<Device, VirError> {
    let dev = parse_device_unchecked(xml, def)?;
    validate(&dev, def).map_err(xml_err)?;
    Ok(dev)
}

/// [`parse_device`] without the checks, as libvirt's QEMU driver parses the device a detach
/// names (`VIR_DOMAIN_DEF_PARSE_SKIP_VALIDATE`): a disk given by its target alone is found.
pub(crate) fn parse_device_unchecked(xml: &str, def: &Domain) -> Result<Device, VirError> {
    let mut dev = read_device(xml)?;
    apply_defaults(&mut dev, def);
    Ok(dev)
}

fn os_type(def: &Domain) -> Option<crate::os::OsType> {
    def.os.as_ref().and_then(|o| o.os_type)
}

fn virt_type(def: &Domain) -> &'static str {
    oxvirt_xml::XmlEnum::as_xml_str(&def.virt_type)
}

/// The defaults `Devices::apply_defaults` gives each device of a defined domain.
fn apply_defaults(dev: &mut Device, def: &Domain) {
    match dev {
        Device::Disk(d) => d.assign_bus(),
        Device::Interface(i) => i.apply_defaults(),
        Device::Chardev(c) => c.apply_defaults(),
        Device::Input(i) => {
            let arch = def.os.as_ref().and_then(|o| o.arch.as_deref());
            i.apply_defaults(os_type(def), arch, virt_type(def));
        }
        Device::Smartcard(s) => {
            if let Some(src) = s.source.as_mut() {
                src.apply_defaults();
            }
        }
        Device::Redirdev(r) => r.source.apply_defaults(),
        Device::Graphics(g) => g.apply_defaults(),
        Device::Video(v) => {
            video::apply_video_defaults_for(std::slice::from_mut(v), virt_type(def))
        }
        Device::Rng(r) => r.apply_defaults(),
        Device::Tpm(t) => t.apply_defaults(),
        Device::Vsock(v) => v.apply_defaults(),
        _ => {}
    }
}

/// The checks `Devices::validate` makes of each device.
pub(crate) fn validate(dev: &Device, def: &Domain) -> oxvirt_xml::Result<()> {
    match dev {
        Device::Disk(d) => d.validate(),
        Device::Controller(c) => c.validate(),
        Device::Interface(i) => i.validate(),
        Device::Chardev(c) => c.validate(),
        Device::Input(i) => i.validate(os_type(def), virt_type(def)),
        Device::Graphics(g) => g.validate(),
        Device::Smartcard(s) => s.validate(),
        Device::Redirdev(r) => r.validate(),
        Device::Sound(s) => s.validate(&def.devices.audio_ids()),
        Device::Video(v) => video::validate_videos(std::slice::from_ref(v)),
        Device::Hostdev(h) => hostdev::validate_hostdevs(std::slice::from_ref(h)),
        Device::Rng(r) => r.validate(),
        Device::Tpm(t) => t.validate(),
        Device::Vsock(v) => v.validate(),
        Device::Other(e) if e.name == "shmem" => {
            shmem::shmems(std::slice::from_ref(e)).try_for_each(|s| s?.validate())
        }
        _ => Ok(()),
    }
}
