//! The `<devices>` element: every device of a domain, grouped by kind.
//!
//! libvirt writes devices grouped by kind in a fixed order, whatever order they were read
//! in; so do we. Kinds that libvirt knows but this model does not type (`smartcard`,
//! `redirdev`, `hub`, `shmem`, `memory`, `iommu`, `audio`, ...) are kept as written in
//! [`Devices::others`] and written at their kind's place.

pub mod chardev;
pub mod controller;
pub mod disk;
pub mod filesystem;
pub mod graphics;
pub mod hostdev;
pub mod input;
pub mod interface;
pub mod misc;
pub mod sound;
pub mod video;

use oxvirt_xml::{Builder, Context, Cursor, Element, Result, Unknown, XmlModel};

pub use chardev::Chardev;
pub use controller::Controller;
pub use disk::Disk;
pub use filesystem::Filesystem;
pub use graphics::Graphics;
pub use hostdev::Hostdev;
pub use input::Input;
pub use interface::Interface;
pub use misc::{Memballoon, Panic, Rng, Tpm, Vsock, Watchdog};
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
    "smartcard",
    "audio",
    "redirdev",
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
        let emulator = c.child_text("emulator");
        let disks = c.models("disk", ctx)?;
        let controllers = c.models("controller", ctx)?;
        let filesystems = c.models("filesystem", ctx)?;
        let interfaces = c.models("interface", ctx)?;
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
        Ok(Devices {
            emulator,
            disks,
            controllers,
            filesystems,
            interfaces,
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

impl Devices {
    /// Whether there are no devices at all.
    pub fn is_empty(&self) -> bool {
        *self == Devices::default()
    }
}
