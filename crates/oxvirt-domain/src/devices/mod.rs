//! The `<devices>` element: every device of a domain, grouped by kind.
//!
//! libvirt writes devices grouped by kind in a fixed order, whatever order they were read
//! in; so do we. Kinds that libvirt knows but this model does not type (`hub`, `memory`,
//! `iommu`, `audio`, ...) are kept as written in [`Devices::others`] and written at their
//! kind's place; so is `shmem`, in the form [`shmem::Shmem`] writes it.

pub mod chardev;
pub mod controller;
pub mod disk;
pub mod filesystem;
pub mod graphics;
pub mod hostdev;
pub mod info;
pub mod input;
pub mod interface;
pub mod misc;
pub mod shmem;
pub mod smartcard;
pub mod sound;
pub mod video;

use oxvirt_xml::{Builder, Context, Cursor, Element, Result, Unknown, XmlModel};

use crate::os::OsType;

pub use chardev::Chardev;
pub use controller::Controller;
pub use disk::Disk;
pub use filesystem::Filesystem;
pub use graphics::Graphics;
pub use hostdev::Hostdev;
pub use input::Input;
pub use interface::Interface;
pub use misc::{Memballoon, Panic, Rng, Tpm, Vsock, Watchdog};
pub use shmem::Shmem;
pub use smartcard::{Redirdev, Smartcard};
pub use sound::Sound;
pub use video::Video;

/// The device kinds in the order libvirt writes them.
pub const DEVICE_ORDER: &[&str] = &[
    "emulator",
    "disk",
    "controller",
    "lease",
    "filesystem",
    "interface",
    "smartcard",
    "serial",
    "parallel",
    "console",
    "channel",
    "input",
    "tpm",
    "graphics",
    "sound",
    "audio",
    "video",
    "hostdev",
    "redirdev",
    "redirfilter",
    "hub",
    "watchdog",
    "memballoon",
    "rng",
    "nvram",
    "panic",
    "shmem",
    "memory",
    "iommu",
    "vsock",
    "crypto",
];

/// Kinds libvirt knows that this model keeps as written.
const UNTYPED: &[&str] = &[
    "lease",
    "audio",
    "redirfilter",
    "hub",
    "nvram",
    "shmem",
    "memory",
    "iommu",
    "crypto",
];

/// All devices of a domain.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Devices {
    /// The emulator binary (`<emulator>`).
    pub emulator: Option<String>,
    /// Disks.
    pub disks: Vec<Disk>,
    /// Controllers.
    pub controllers: Vec<Controller>,
    /// Filesystems.
    pub filesystems: Vec<Filesystem>,
    /// Network interfaces.
    pub interfaces: Vec<Interface>,
    /// Smartcard readers.
    pub smartcards: Vec<Smartcard>,
    /// Serial ports.
    pub serials: Vec<Chardev>,
    /// Parallel ports.
    pub parallels: Vec<Chardev>,
    /// Consoles.
    pub consoles: Vec<Chardev>,
    /// Channels.
    pub channels: Vec<Chardev>,
    /// Input devices.
    pub inputs: Vec<Input>,
    /// TPMs.
    pub tpms: Vec<Tpm>,
    /// Graphical consoles.
    pub graphics: Vec<Graphics>,
    /// Sound cards.
    pub sounds: Vec<Sound>,
    /// Video adapters.
    pub videos: Vec<Video>,
    /// Host devices.
    pub hostdevs: Vec<Hostdev>,
    /// USB redirection.
    pub redirdevs: Vec<Redirdev>,
    /// Watchdogs.
    pub watchdogs: Vec<Watchdog>,
    /// The memory balloon.
    pub memballoon: Option<Memballoon>,
    /// Random number generators.
    pub rngs: Vec<Rng>,
    /// Panic notifiers.
    pub panics: Vec<Panic>,
    /// The vsock device.
    pub vsock: Option<Vsock>,
    /// Devices of kinds libvirt knows but this model does not type, as written.
    pub others: Vec<Element>,
    /// Anything else, kept as written.
    pub unknown: Unknown,
}

impl XmlModel for Devices {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        misc::check_device_counts(el)?;
        let emulator = c.child_text("emulator");
        // libvirt keeps disks and controllers sorted as it reads them; its messages (which
        // disk duplicates which) and its output follow that order.
        let mut disks = Vec::new();
        for d in c.models::<Disk>("disk", ctx)? {
            Disk::insert_sorted(&mut disks, d);
        }
        let mut controllers = Vec::new();
        for d in c.models::<Controller>("controller", ctx)? {
            Controller::insert_sorted(&mut controllers, d);
        }
        let filesystems = c.models("filesystem", ctx)?;
        let interfaces = c.models("interface", ctx)?;
        let smartcards = c.models("smartcard", ctx)?;
        let serials = c.models("serial", ctx)?;
        let parallels = c.models("parallel", ctx)?;
        let consoles = c.models("console", ctx)?;
        let channels = c.models("channel", ctx)?;
        let inputs = c.models("input", ctx)?;
        let tpms = c.models("tpm", ctx)?;
        let graphics = c.models("graphics", ctx)?;
        let sounds = c.models("sound", ctx)?;
        let videos = c.models("video", ctx)?;
        let hostdevs = c.models("hostdev", ctx)?;
        let redirdevs = c.models("redirdev", ctx)?;
        let watchdogs = c.models("watchdog", ctx)?;
        let memballoon = c.model("memballoon", ctx)?;
        let rngs = c.models("rng", ctx)?;
        let panics = c.models("panic", ctx)?;
        let vsock = c.model("vsock", ctx)?;
        let mut others: Vec<Element> = c
            .children_where(|e| UNTYPED.contains(&e.name.as_str()))
            .into_iter()
            .cloned()
            .collect();
        // Kept in the order they are written in, so that reading our output gives the same.
        others.sort_by_key(|e| DEVICE_ORDER.iter().position(|k| *k == e.name));
        for e in others.iter_mut().filter(|e| e.name == "shmem") {
            let position = e.position;
            *e = shmem::canonical_shmem(e, ctx).map_err(|err| err.at(position))?;
        }
        Ok(Devices {
            emulator,
            disks,
            controllers,
            filesystems,
            interfaces,
            smartcards,
            serials,
            parallels,
            consoles,
            channels,
            inputs,
            tpms,
            graphics,
            sounds,
            videos,
            hostdevs,
            redirdevs,
            watchdogs,
            memballoon,
            rngs,
            panics,
            vsock,
            others,
            unknown: c.finish(ctx),
        })
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("devices");
        b.opt_text_child("emulator", self.emulator.as_deref());
        for kind in DEVICE_ORDER {
            match *kind {
                "disk" => b.models(&self.disks),
                "controller" => b.models(&self.controllers),
                "filesystem" => b.models(&self.filesystems),
                "interface" => b.models(&self.interfaces),
                "smartcard" => b.models(&self.smartcards),
                "serial" => b.models(&self.serials),
                "parallel" => b.models(&self.parallels),
                "console" => b.models(&self.consoles),
                "channel" => b.models(&self.channels),
                "input" => b.models(&self.inputs),
                "tpm" => b.models(&self.tpms),
                "graphics" => b.models(&self.graphics),
                "sound" => b.models(&self.sounds),
                "video" => b.models(&self.videos),
                "hostdev" => b.models(&self.hostdevs),
                "redirdev" => b.models(&self.redirdevs),
                "watchdog" => b.models(&self.watchdogs),
                "memballoon" => b.model(self.memballoon.as_ref()),
                "rng" => b.models(&self.rngs),
                "panic" => b.models(&self.panics),
                "vsock" => b.model(self.vsock.as_ref()),
                other => {
                    for e in self.others.iter().filter(|e| e.name == other) {
                        b.child(e.clone());
                    }
                    &mut b
                }
            };
        }
        b.finish(&self.unknown)
    }
}

/// What device defaults and checks need to know about the rest of the domain.
#[derive(Debug, Clone, Copy)]
pub struct DeviceContext<'a> {
    /// The guest OS type (`hvm`, `xen`, ...), if known.
    pub os_type: Option<OsType>,
    /// The guest architecture, once defaulted.
    pub arch: Option<&'a str>,
    /// The hypervisor (`kvm`, `qemu`, `xen`, ...).
    pub virt_type: &'static str,
}

impl Devices {
    /// Whether any device asks to boot in a given order (`<boot order=...>`).
    pub fn has_boot_order(&self) -> bool {
        self.disks.iter().any(|d| d.info.boot_order().is_some())
            || self.hostdevs.iter().any(|d| d.info.boot_order().is_some())
            || self.interfaces.iter().any(|d| d.info.boot.is_some())
            || self.redirdevs.iter().any(|d| d.info.boot.is_some())
    }

    /// The ids of the `<audio>` backends.
    pub fn audio_ids(&self) -> Vec<u32> {
        self.others
            .iter()
            .filter(|e| e.name == "audio")
            .filter_map(|e| e.attr("id").and_then(|v| v.parse().ok()))
            .collect()
    }

    /// Fills in what libvirt's generic parse and post-parse steps fill in for devices.
    pub fn apply_defaults(&mut self, cx: DeviceContext<'_>) -> Result<()> {
        for d in &mut self.disks {
            d.assign_bus();
        }
        controller::assign_controller_indexes(&mut self.controllers);
        for i in &mut self.interfaces {
            i.apply_defaults();
        }
        for list in [
            &mut self.serials,
            &mut self.parallels,
            &mut self.consoles,
            &mut self.channels,
        ] {
            for c in list.iter_mut() {
                c.apply_defaults();
            }
        }
        chardev::assign_ports(&mut self.serials);
        chardev::assign_ports(&mut self.parallels);
        chardev::assign_ports(&mut self.consoles);
        chardev::apply_console_compat(
            &mut self.serials,
            &mut self.consoles,
            cx.os_type == Some(OsType::Hvm),
        )?;
        for i in &mut self.inputs {
            i.apply_defaults(cx.os_type, cx.arch, cx.virt_type);
        }
        for s in self.smartcards.iter_mut().filter_map(|s| s.source.as_mut()) {
            s.apply_defaults();
        }
        for r in &mut self.redirdevs {
            r.source.apply_defaults();
        }
        for g in &mut self.graphics {
            g.apply_defaults();
        }
        video::apply_video_defaults_for(&mut self.videos, cx.virt_type);
        for r in &mut self.rngs {
            r.apply_defaults();
        }
        for t in &mut self.tpms {
            t.apply_defaults();
        }
        if let Some(v) = self.vsock.as_mut() {
            v.apply_defaults();
        }
        Ok(())
    }

    /// libvirt's checks of the devices, alone and together.
    pub fn validate(&self, cx: DeviceContext<'_>) -> Result<()> {
        disk::validate_disks(&self.disks)?;
        for d in &self.disks {
            d.validate()?;
        }
        controller::validate_controllers(&self.controllers)?;
        hostdev::validate_hostdevs(&self.hostdevs)?;
        for i in &self.interfaces {
            i.validate()?;
        }
        for list in [
            &self.serials,
            &self.parallels,
            &self.consoles,
            &self.channels,
        ] {
            for c in list {
                c.validate()?;
            }
        }
        for i in &self.inputs {
            i.validate(cx.os_type, cx.virt_type)?;
        }
        for g in &self.graphics {
            g.validate()?;
        }
        for s in &self.smartcards {
            s.validate()?;
        }
        for r in &self.redirdevs {
            r.validate()?;
        }
        let audio_ids = self.audio_ids();
        for s in &self.sounds {
            s.validate(&audio_ids)?;
        }
        video::validate_videos(&self.videos)?;
        for r in &self.rngs {
            r.validate()?;
        }
        for t in &self.tpms {
            t.validate()?;
        }
        Tpm::check_pair(&self.tpms)?;
        Panic::check_unique(&self.panics)?;
        if let Some(v) = &self.vsock {
            v.validate()?;
        }
        for s in shmem::shmems(&self.others) {
            s?.validate()?;
        }
        Ok(())
    }

    /// Whether there are no devices at all.
    pub fn is_empty(&self) -> bool {
        *self == Devices::default()
    }
}
