//! Video adapters (`<video>`).
//!
//! [`apply_video_defaults`] does what libvirt does to the list of adapters of an inactive
//! definition: the parser moves the adapter marked `primary='yes'` to the front, the
//! post-parse step marks the first adapter primary (or, for model `none`, clears it) and
//! fills in the default video memory; [`validate_videos`] makes libvirt's checks on the list.

use oxvirt_xml::model::PropFlags;
use oxvirt_xml::{Builder, Context, Cursor, Element, Result, Unknown, XmlError, XmlModel};

use crate::devices::info::{DeviceInfo, VirtioOptions};
use crate::util;

oxvirt_xml::xml_enum! {
    /// The emulated adapter (`<model type='...'>`).
    pub enum VideoModelType {
        /// Let the driver choose.
        Default = "default",
        /// Standard VGA.
        Vga = "vga",
        /// Cirrus Logic.
        Cirrus = "cirrus",
        /// VMware SVGA.
        Vmvga = "vmvga",
        /// Xen framebuffer.
        Xen = "xen",
        /// VirtualBox.
        Vbox = "vbox",
        /// QXL (SPICE).
        Qxl = "qxl",
        /// Parallels.
        Parallels = "parallels",
        /// virtio-gpu.
        Virtio = "virtio",
        /// UEFI GOP framebuffer.
        Gop = "gop",
        /// No adapter at all.
        None = "none",
        /// Bochs display.
        Bochs = "bochs",
        /// A RAM framebuffer.
        Ramfb = "ramfb",
    }
}

oxvirt_xml::xml_enum! {
    /// Who implements the adapter (`<driver name='...'>`).
    pub enum VideoBackend {
        /// QEMU itself.
        Qemu = "qemu",
        /// A vhost-user GPU process.
        Vhostuser = "vhostuser",
    }
}

oxvirt_xml::xml_enum! {
    /// Xen's VGA configuration (`<driver vgaconf='...'>`).
    pub enum VgaConf {
        /// I/O ports only.
        Io = "io",
        /// Enabled.
        On = "on",
        /// Disabled.
        Off = "off",
    }
}

/// `<acceleration accel3d= accel2d= rendernode=/>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VideoAcceleration {
    /// `accel3d='yes|no'`.
    pub accel3d: Option<bool>,
    /// `accel2d='yes|no'`.
    pub accel2d: Option<bool>,
    /// The host render node.
    pub rendernode: Option<String>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

/// `<model>`: the adapter and its memory.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VideoModel {
    /// `type`.
    pub kind: Option<VideoModelType>,
    /// `ram` in KiB (qxl).
    pub ram: Option<u32>,
    /// `vram` in KiB.
    pub vram: Option<u32>,
    /// `vram64` in KiB (qxl).
    pub vram64: Option<u32>,
    /// `vgamem` in KiB (qxl).
    pub vgamem: Option<u32>,
    /// The number of heads (1 when absent, as libvirt reads it).
    pub heads: Option<u32>,
    /// `primary='yes|no'`; libvirt ignores values it cannot read, so those are kept as
    /// written in [`VideoModel::unknown`].
    pub primary: Option<bool>,
    /// `blob='on|off'`.
    pub blob: Option<bool>,
    /// `<acceleration>`.
    pub acceleration: Option<VideoAcceleration>,
    /// `<resolution x= y=/>`.
    pub resolution: Option<(u32, u32)>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

/// `<driver>`: the backend and its virtio options.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VideoDriver {
    /// `name`.
    pub name: Option<VideoBackend>,
    /// `vgaconf`.
    pub vgaconf: Option<VgaConf>,
    /// The virtio options (`iommu`, `ats`, `packed`, `page_per_vq`).
    pub virtio: VirtioOptions,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

/// A video adapter (`<video>`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Video {
    /// `<driver>`.
    pub driver: Option<VideoDriver>,
    /// `<model>`.
    pub model: Option<VideoModel>,
    /// `<alias>`, `<acpi>`, `<address>` and the rest of libvirt's device info.
    pub info: DeviceInfo,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl Video {
    /// The adapter type, if given.
    pub fn kind(&self) -> Option<VideoModelType> {
        self.model.as_ref().and_then(|m| m.kind)
    }

    /// Whether the adapter is marked `primary='yes'`.
    pub fn is_primary(&self) -> bool {
        self.model.as_ref().and_then(|m| m.primary) == Some(true)
    }
}

impl XmlModel for VideoModel {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let primary = util::lenient_yes_no(&mut c, "primary");
        let acceleration = match c.child("acceleration") {
            None => None,
            Some(a) => {
                let mut ac = Cursor::new(a);
                let rendernode = ac.attr_string("rendernode");
                let accel3d = ac.prop_yes_no("accel3d", PropFlags::NONE)?;
                let accel2d = ac.prop_yes_no("accel2d", PropFlags::NONE)?;
                if rendernode.is_none() && accel3d.is_none() && accel2d.is_none() {
                    return Err(
                        XmlError::unsupported("missing values for acceleration").at(a.position)
                    );
                }
                Some(VideoAcceleration {
                    accel3d,
                    accel2d,
                    rendernode,
                    unknown: ac.finish(ctx),
                })
            }
        };
        let resolution = match c.child("resolution") {
            None => None,
            Some(r) => {
                let mut rc = Cursor::new(r);
                let x = rc.required_uint("x", 10, PropFlags::NONE)?;
                let y = rc.required_uint("y", 10, PropFlags::NONE)?;
                rc.finish(ctx);
                Some((x, y))
            }
        };
        let kind = c.enum_attr("type")?;
        let ram = c.prop_uint("ram", 10, PropFlags::NONE)?;
        let vram = c.prop_uint("vram", 10, PropFlags::NONE)?;
        let vram64 = c.prop_uint("vram64", 10, PropFlags::NONE)?;
        let vgamem = c.prop_uint("vgamem", 10, PropFlags::NONE)?;
        let heads = c.prop_uint("heads", 10, PropFlags::NONE)?;
        let blob = c.prop_on_off("blob", PropFlags::NONE)?;
        Ok(VideoModel {
            kind,
            ram,
            vram,
            vram64,
            vgamem,
            heads,
            primary,
            blob,
            acceleration,
            resolution,
            unknown: c.finish(ctx),
        })
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("model");
        b.opt_attr("type", self.kind)
            .opt_attr("ram", self.ram)
            .opt_attr("vram", self.vram)
            .opt_attr("vram64", self.vram64)
            .opt_attr("vgamem", self.vgamem)
            .opt_attr("heads", self.heads)
            .yes_no("primary", self.primary)
            .on_off("blob", self.blob);
        if let Some(a) = &self.acceleration {
            let mut ab = Builder::new("acceleration");
            ab.yes_no("accel3d", a.accel3d)
                .yes_no("accel2d", a.accel2d)
                .opt_attr("rendernode", a.rendernode.as_deref());
            b.child(ab.finish(&a.unknown));
        }
        if let Some((x, y)) = self.resolution {
            b.child(
                Element::new("resolution")
                    .with_attr("x", x.to_string())
                    .with_attr("y", y.to_string()),
            );
        }
        b.finish(&self.unknown)
    }
}

impl XmlModel for VideoDriver {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        Ok(VideoDriver {
            name: c.enum_attr("name")?,
            virtio: VirtioOptions::parse(&mut c)?,
            vgaconf: c.enum_attr("vgaconf")?,
            unknown: c.finish(ctx),
        })
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("driver");
        self.virtio.format(&mut b);
        b.opt_attr("vgaconf", self.vgaconf)
            .opt_attr("name", self.name);
        b.finish(&self.unknown)
    }
}

impl XmlModel for Video {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let model = c.model("model", ctx)?;
        let driver = c.model("driver", ctx)?;
        let info = DeviceInfo::parse(&mut c, ctx, false, false)?;
        Ok(Video {
            driver,
            model,
            info,
            unknown: c.finish(ctx),
        })
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("video");
        b.model(self.driver.as_ref());
        b.model(self.model.as_ref());
        self.info.format(&mut b);
        b.finish(&self.unknown)
    }
}

impl Video {
    /// The checks libvirt makes on one adapter when the definition is validated
    /// (`virDomainVideoDefValidate`). libvirt's generic code also rejects an adapter whose
    /// type is still `default`, but a driver normally picks the type first, so that check
    /// is left to the driver.
    pub fn validate(&self) -> Result<()> {
        use VideoModelType as T;
        let unsupported = |m: &str| Err(XmlError::unsupported(m));
        let kind = self.kind().unwrap_or(T::Default);
        let m = self.model.clone().unwrap_or_default();
        let d = self.driver.clone().unwrap_or_default();
        match d.name {
            Some(VideoBackend::Vhostuser) if kind != T::Virtio => {
                return unsupported("'vhostuser' driver is only supported with 'virtio' device")
            }
            Some(VideoBackend::Vhostuser) => {}
            _ => {
                if m.acceleration
                    .as_ref()
                    .is_some_and(|a| a.rendernode.is_some())
                {
                    return unsupported(
                        "unsupported rendernode accel attribute without 'vhostuser'",
                    );
                }
            }
        }
        if m.resolution.is_some_and(|(x, y)| x == 0 || y == 0) {
            return unsupported("video resolution values must be greater than 0");
        }
        if kind != T::Qxl {
            for (v, attr) in [(m.ram, "ram"), (m.vram64, "vram64"), (m.vgamem, "vgamem")] {
                if v.unwrap_or(0) != 0 {
                    return Err(XmlError::unsupported(format!(
                        "{attr} attribute only supported for video type qxl"
                    )));
                }
            }
        }
        if kind == T::Ramfb && self.info.address.is_some() {
            return unsupported("address not supported for video type ramfb");
        }
        if kind != T::Virtio {
            for (v, what) in [
                (d.virtio.iommu, "iommu driver option"),
                (d.virtio.ats, "ats driver option"),
                (d.virtio.packed, "packed driver option"),
                (d.virtio.page_per_vq, "page_per_vq option"),
            ] {
                if v.is_some() {
                    return Err(XmlError::unsupported(format!(
                        "{what} is only supported for virtio devices"
                    )));
                }
            }
            if m.blob.is_some() {
                return Err(XmlError::unsupported(format!(
                    "video type '{kind}' does not support blob resources"
                )));
            }
        }
        Ok(())
    }
}

/// The video memory libvirt gives an adapter of type `kind` that does not say
/// (`virDomainVideoDefaultRAM`), for a domain of hypervisor type `virt_type`.
pub fn default_vram(kind: Option<VideoModelType>, virt_type: &str) -> u32 {
    use VideoModelType as T;
    match kind {
        Some(T::Vga | T::Cirrus | T::Vmvga) => match virt_type {
            "vbox" => 8 * 1024,
            "vmware" => 4 * 1024,
            _ => 16 * 1024,
        },
        Some(T::Bochs) => 16 * 1024,
        Some(T::Xen) => 4 * 1024,
        Some(T::Qxl) => 64 * 1024,
        _ => 0,
    }
}

fn round_up_pow2(v: u32) -> u32 {
    if v == 0 {
        0
    } else {
        v.checked_next_power_of_two().unwrap_or(v)
    }
}

/// [`apply_video_defaults_for`] for a QEMU or KVM domain.
pub fn apply_video_defaults(videos: &mut [Video]) {
    apply_video_defaults_for(videos, "kvm");
}

/// What libvirt does to the video adapters of an inactive definition of hypervisor type
/// `virt_type`: the adapter marked primary moves to the front (parse time), each model's
/// `heads` defaults to 1 (parse time), the first adapter is marked `primary='yes'` and
/// `vram` (and `ram` for qxl) default and are rounded up to a power of two (post-parse);
/// an adapter of type `none` in front is cleared of everything but its alias. `primary='no'`
/// and `vgaconf='io'` are dropped as libvirt does not write them.
pub fn apply_video_defaults_for(videos: &mut [Video], virt_type: &str) {
    if let Some(i) = videos.iter().position(Video::is_primary) {
        videos[..=i].rotate_right(1);
    }
    for v in videos.iter_mut() {
        if let Some(m) = &mut v.model {
            if m.heads.is_none() {
                m.heads = Some(1);
            }
        }
        let m = v.model.get_or_insert_with(VideoModel::default);
        if m.heads == Some(0) {
            m.heads = None;
        }
        if m.primary == Some(false) {
            m.primary = None;
        }
        if m.kind.is_none() {
            m.kind = Some(VideoModelType::Default);
        }
        let kind = m.kind;
        if m.ram.unwrap_or(0) == 0 && kind == Some(VideoModelType::Qxl) {
            m.ram = Some(default_vram(kind, virt_type));
        }
        if m.vram.unwrap_or(0) == 0 {
            m.vram = Some(default_vram(kind, virt_type));
        }
        for f in [&mut m.ram, &mut m.vram, &mut m.vram64, &mut m.vgamem] {
            *f = f.map(round_up_pow2).filter(|&n| n != 0);
        }
        if let Some(d) = &mut v.driver {
            if d.vgaconf == Some(VgaConf::Io) {
                d.vgaconf = None;
            }
        }
    }
    if let Some(first) = videos.first_mut() {
        if first.kind() == Some(VideoModelType::None) {
            *first = Video {
                model: Some(VideoModel {
                    kind: Some(VideoModelType::None),
                    ..VideoModel::default()
                }),
                info: DeviceInfo {
                    alias: first.info.alias.take(),
                    ..DeviceInfo::default()
                },
                ..Video::default()
            };
        } else if let Some(m) = &mut first.model {
            m.primary = Some(true);
        }
    }
}

/// The checks libvirt makes on the list of adapters: each adapter's
/// ([`Video::validate`]), at most one primary, and a `none` adapter only alone.
pub fn validate_videos(videos: &[Video]) -> Result<()> {
    for v in videos {
        v.validate()?;
    }
    if videos.iter().filter(|v| v.is_primary()).count() > 1 {
        return Err(XmlError::unsupported(
            "Only one primary video device is supported",
        ));
    }
    if videos.len() > 1
        && videos
            .iter()
            .any(|v| v.kind() == Some(VideoModelType::None))
    {
        return Err(XmlError::unsupported(
            "a 'none' video type must be the only video device defined for the domain",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(xml: &str) -> Result<Video> {
        Video::from_element(&oxvirt_xml::parse(xml)?, &mut Context::default())
    }

    fn xml(v: &Video) -> String {
        oxvirt_xml::to_string(&v.to_element())
    }

    #[test]
    fn round_trips_libvirt_output() {
        for doc in [
            "<video>\n  <model type='cirrus' vram='16384' heads='1' primary='yes'/>\n  \
             <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0'/>\n\
             </video>\n",
            "<video>\n  <driver iommu='on' ats='on' packed='on' name='vhostuser'/>\n  \
             <model type='virtio' heads='1' primary='yes'>\n    \
             <acceleration accel3d='yes' rendernode='/dev/dri/foo'/>\n    \
             <resolution x='800' y='600'/>\n  </model>\n  <alias name='ua-video0'/>\n  \
             <acpi index='2'/>\n</video>\n",
            "<video>\n  <model type='qxl' ram='65536' vram='65536' vram64='131072' \
             vgamem='16384' heads='1' primary='yes'/>\n</video>\n",
        ] {
            let v = read(doc).unwrap();
            assert_eq!(xml(&v), doc);
        }
    }

    #[test]
    fn errors() {
        let e = |x: &str| read(x).unwrap_err().libvirt_message();
        assert_eq!(
            e("<video><model type='vga'><acceleration/></model></video>"),
            "unsupported configuration: missing values for acceleration"
        );
        assert_eq!(
            e("<video><model type='svga'/></video>"),
            "XML error: Invalid value for attribute 'type' in element 'model': 'svga'."
        );
        assert_eq!(
            e("<video><model type='vga' vram='-1'/></video>"),
            "XML error: Invalid value for attribute 'vram' in element 'model': '-1'. \
             Expected non-negative integer value"
        );
    }

    #[test]
    fn primary_defaults() {
        let mut videos: Vec<Video> = [
            "<video><model type='vga' vram='16384' heads='1'/></video>",
            "<video><model type='qxl' primary='yes'/></video>",
        ]
        .iter()
        .map(|x| read(x).unwrap())
        .collect();
        assert!(validate_videos(&videos).is_ok());
        apply_video_defaults(&mut videos);
        assert_eq!(
            xml(&videos[0]),
            "<video>\n  <model type='qxl' ram='65536' vram='65536' heads='1' primary='yes'/>\n\
             </video>\n"
        );
        assert_eq!(
            xml(&videos[1]),
            "<video>\n  <model type='vga' vram='16384' heads='1'/>\n</video>\n"
        );
        let mut one =
            vec![read("<video><model type='cirrus' vram='16384' heads='1'/></video>").unwrap()];
        apply_video_defaults(&mut one);
        assert_eq!(
            xml(&one[0]),
            "<video>\n  <model type='cirrus' vram='16384' heads='1' primary='yes'/>\n</video>\n"
        );
        let mut none = vec![read(
            "<video><model type='none' heads='2'/><alias name='ua-v'/>\
                                  </video>",
        )
        .unwrap()];
        apply_video_defaults(&mut none);
        assert_eq!(
            xml(&none[0]),
            "<video>\n  <model type='none'/>\n  <alias name='ua-v'/>\n</video>\n"
        );
    }

    #[test]
    fn list_checks() {
        let two = [
            read("<video><model type='vga' primary='yes'/></video>").unwrap(),
            read("<video><model type='qxl' primary='yes'/></video>").unwrap(),
        ];
        assert_eq!(
            validate_videos(&two).unwrap_err().message,
            "Only one primary video device is supported"
        );
    }
}
