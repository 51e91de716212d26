//! A host directory or image shared with the guest (`<filesystem>`), as libvirt's
//! `virDomainFSDefParseXML` reads it and `virDomainFSDefFormat` writes it.

use oxvirt_xml::model::{str_to_long_ullp, PropFlags};
use oxvirt_xml::{
    xml_enum, Builder, Context, Cursor, Element, ErrorCode, Result, Unknown, XmlEnum, XmlError,
    XmlModel,
};

use super::disk::common::StorageFormat;
use super::info::{DeviceInfo, VirtioOptions};
use crate::util;

xml_enum! {
    /// What is shared (`<filesystem type=...>`, default `mount`).
    pub enum FsType {
        Mount = "mount", Block = "block", File = "file", Template = "template", Ram = "ram",
        Bind = "bind", Volume = "volume",
    }
}

xml_enum! {
    /// How guest file ownership maps to the host (`accessmode`).
    pub enum FsAccessMode { Passthrough = "passthrough", Mapped = "mapped", Squash = "squash" }
}

xml_enum! {
    /// The virtio model (`model`).
    pub enum FsModel {
        Virtio = "virtio", VirtioTransitional = "virtio-transitional",
        VirtioNonTransitional = "virtio-non-transitional",
    }
}

xml_enum! {
    /// How files from several host devices get distinct inode numbers (`multidevs`).
    pub enum FsMultidevs { Remap = "remap", Forbid = "forbid", Warn = "warn" }
}

xml_enum! {
    /// The filesystem backend (`<driver type=...>`).
    pub enum FsDriverType {
        Path = "path", Handle = "handle", Loop = "loop", Nbd = "nbd", Ploop = "ploop",
        Virtiofs = "virtiofs",
    }
}

xml_enum! {
    /// The write policy (`<driver wrpolicy=...>`).
    pub enum FsWrpolicy { Immediate = "immediate" }
}

/// A filesystem's `<driver>`. Without a `type`, libvirt writes none of `format`,
/// `wrpolicy` and `queue`; they are then left as written in [`FsDriver::unknown`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FsDriver {
    /// The backend.
    pub kind: Option<FsDriverType>,
    /// The image format (`loop`, `nbd`).
    pub format: Option<StorageFormat>,
    /// The write policy.
    pub wrpolicy: Option<FsWrpolicy>,
    /// The virtqueue size (`virtiofs`).
    pub queue: Option<u64>,
    /// The virtio options.
    pub virtio: VirtioOptions,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl XmlModel for FsDriver {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let kind = util::enum_or_default(&mut c, "type")?;
        let wrpolicy_text = el.attr("wrpolicy");
        if let Some(w) =
            wrpolicy_text.filter(|w| *w != "default" && FsWrpolicy::from_xml_str(w).is_none())
        {
            return Err(c.invalid_value("wrpolicy", w, ""));
        }
        let format_text = el.attr("format");
        let format = match format_text {
            None => None,
            Some(f) => Some(StorageFormat::from_xml_str(f).ok_or_else(|| {
                XmlError::unsupported(format!("unknown driver format value '{f}'")).at(el.position)
            })?),
        };
        let mut d = FsDriver {
            kind,
            virtio: VirtioOptions::parse(&mut c)?,
            ..FsDriver::default()
        };
        if kind.is_some() {
            d.format = format;
            c.attr("format");
            d.wrpolicy = util::enum_or_default(&mut c, "wrpolicy")?;
        }
        if kind == Some(FsDriverType::Virtiofs) {
            if let Some(q) = c.attr("queue") {
                d.queue = Some(str_to_long_ullp(q, 10).ok_or_else(|| {
                    c.error(format!("cannot parse queue size '{q}' for virtiofs"))
                })?)
                .filter(|n| *n != 0);
            }
        }
        d.unknown = c.finish(ctx);
        Ok(d)
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("driver");
        b.opt_attr("type", self.kind)
            .opt_attr("format", self.format)
            .opt_attr("wrpolicy", self.wrpolicy)
            .opt_attr("queue", self.queue);
        self.virtio.format(&mut b);
        b.finish(&self.unknown)
    }
}

/// A filesystem's `<source>`; which attribute is read depends on the filesystem type.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FsSource {
    /// Host directory (`mount`, `bind`).
    pub dir: Option<String>,
    /// virtiofsd socket (`mount`).
    pub socket: Option<String>,
    /// Block device (`block`).
    pub dev: Option<String>,
    /// Image file (`file`).
    pub file: Option<String>,
    /// Template name (`template`).
    pub name: Option<String>,
    /// Size in KiB (`ram`, written as `usage='N' units='KiB'`).
    pub usage_kib: Option<u64>,
    /// Storage pool (`volume`).
    pub pool: Option<String>,
    /// Volume (`volume`).
    pub volume: Option<String>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl FsSource {
    fn parse(el: &Element, ctx: &mut Context, kind: FsType) -> Result<Self> {
        let mut c = Cursor::new(el);
        let mut s = FsSource::default();
        match kind {
            FsType::Mount | FsType::Bind => {
                s.socket = c.attr_string("socket");
                if s.socket.is_none() {
                    s.dir = c.attr_string("dir");
                }
            }
            FsType::File => s.file = c.attr_string("file"),
            FsType::Block => s.dev = c.attr_string("dev"),
            FsType::Template => s.name = c.attr_string("name"),
            FsType::Ram => {
                let Some(usage) = c.attr("usage") else {
                    return Err(c.error("missing 'usage' attribute for RAM filesystem"));
                };
                let n = str_to_long_ullp(usage, 10).ok_or_else(|| {
                    c.error(format!("cannot parse usage '{usage}' for RAM filesystem"))
                })?;
                let units = c.attr("units");
                let bytes = oxvirt_xml::types::size::scale_integer(n, units, 1024, u64::MAX)
                    .map_err(|e| e.at(el.position))?;
                s.usage_kib = Some(bytes / 1024);
            }
            FsType::Volume => {
                let (pool, volume) = (el.attr("pool"), el.attr("volume"));
                if pool.is_some() != volume.is_some() {
                    return Err(c.error(
                        "'pool' and 'volume' must be specified together for 'pool' type source",
                    ));
                }
                s.pool = c.attr_string("pool");
                s.volume = c.attr_string("volume");
            }
        }
        s.unknown = c.finish(ctx);
        Ok(s)
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("source");
        b.opt_attr("dir", self.dir.as_deref())
            .opt_attr("socket", self.socket.as_deref())
            .opt_attr("dev", self.dev.as_deref())
            .opt_attr("file", self.file.as_deref())
            .opt_attr("name", self.name.as_deref());
        if let Some(kib) = self.usage_kib {
            b.attr("usage", kib).attr("units", "KiB");
        }
        b.opt_attr("pool", self.pool.as_deref())
            .opt_attr("volume", self.volume.as_deref());
        b.finish(&self.unknown)
    }

    /// The host path shared: directory, socket, device, file or template name.
    pub fn path(&self) -> Option<&str> {
        self.dir
            .as_deref()
            .or(self.dev.as_deref())
            .or(self.file.as_deref())
            .or(self.name.as_deref())
    }
}

/// A filesystem shared with the guest (`<filesystem>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filesystem {
    /// What is shared (`type`, default `mount`).
    pub kind: FsType,
    /// `accessmode`.
    pub accessmode: Option<FsAccessMode>,
    /// `model`.
    pub model: Option<FsModel>,
    /// `multidevs`.
    pub multidevs: Option<FsMultidevs>,
    /// Mode of files created by the guest (`fmode`, octal).
    pub fmode: Option<u32>,
    /// Mode of directories created by the guest (`dmode`, octal).
    pub dmode: Option<u32>,
    /// `<driver>`.
    pub driver: Option<FsDriver>,
    /// `<source>`.
    pub source: Option<FsSource>,
    /// The mount tag or path in the guest (`<target dir=...>`).
    pub target: Option<String>,
    /// `<readonly/>`.
    pub readonly: bool,
    /// `<boot>`, `<alias>`, `<acpi>`, `<address>`.
    pub info: DeviceInfo,
    /// What the model does not know (`<binary>`, `<idmap>`, space limits), kept as written.
    pub unknown: Unknown,
}

fn mode_attr(c: &mut Cursor<'_>, name: &str) -> Result<Option<u32>> {
    let v = c.prop_uint(name, 8, PropFlags::NONE)?;
    if let Some(m) = v.filter(|m| *m > 0o777) {
        return Err(c.error(format!("invalid {name}: '0{m:o}'")));
    }
    Ok(v.filter(|m| *m != 0))
}

impl XmlModel for Filesystem {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let kind = c.enum_attr("type")?.unwrap_or(FsType::Mount);
        let accessmode = match el.attr("accessmode") {
            Some("") => {
                c.attr("accessmode");
                None
            }
            _ => c.enum_attr("accessmode")?,
        };
        let fmode = mode_attr(&mut c, "fmode")?;
        let dmode = mode_attr(&mut c, "dmode")?;
        let model = c.enum_attr("model")?;
        let multidevs = util::enum_or_default(&mut c, "multidevs")?;
        let source = match c.child("source") {
            Some(s) => Some(FsSource::parse(s, ctx, kind)?),
            None => None,
        };
        let target = match el.child("target") {
            Some(t) if t.attr("dir").is_some() => {
                c.child("target");
                t.attr("dir").map(str::to_string)
            }
            _ => None,
        };
        let readonly = c.child("readonly").is_some();
        let driver = c.model("driver", ctx)?;
        let has_source = source
            .as_ref()
            .is_some_and(|s| s.path().is_some() || s.socket.is_some());
        if !has_source && !matches!(kind, FsType::Ram | FsType::Volume) {
            // VIR_ERR_NO_SOURCE has no code of its own here yet.
            let what = target
                .as_deref()
                .map(|t| format!(" {t}"))
                .unwrap_or_default();
            return Err(XmlError::new(
                ErrorCode::XmlError,
                format!("missing source information for device{what}"),
            )
            .at(el.position));
        }
        if kind == FsType::Ram && source.is_none() {
            return Err(c.error("missing 'usage' attribute for RAM filesystem"));
        }
        let info = DeviceInfo::parse(&mut c, ctx, true, false)?;
        Ok(Filesystem {
            kind,
            accessmode,
            model,
            multidevs,
            fmode,
            dmode,
            driver,
            source,
            target,
            readonly,
            info,
            unknown: c.finish_known(
                ctx,
                &["binary", "idmap", "space_hard_limit", "space_soft_limit"],
            ),
        })
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("filesystem");
        b.attr("type", self.kind)
            .opt_attr("accessmode", self.accessmode)
            .opt_attr("model", self.model)
            .opt_attr("multidevs", self.multidevs)
            .opt_attr("fmode", self.fmode.map(|m| format!("{m:04o}")))
            .opt_attr("dmode", self.dmode.map(|m| format!("{m:04o}")));
        if let Some(d) = self.driver.as_ref().map(XmlModel::to_element) {
            if !d.is_empty() {
                b.child(d);
            }
        }
        if let Some(s) = &self.source {
            let el = s.to_element();
            if !el.is_empty() {
                b.child(el);
            }
        }
        if let Some(t) = &self.target {
            b.child(Element::new("target").with_attr("dir", t.as_str()));
        }
        if self.readonly {
            b.child(Element::new("readonly"));
        }
        self.info.format(&mut b);
        b.finish(&self.unknown)
    }
}

impl Filesystem {
    /// The host path shared (directory, device, file or template name).
    pub fn source_path(&self) -> Option<&str> {
        self.source.as_ref().and_then(FsSource::path)
    }

    /// The virtiofsd socket, for a filesystem served by an external daemon.
    pub fn source_socket(&self) -> Option<&str> {
        self.source.as_ref().and_then(|s| s.socket.as_deref())
    }

    /// The mount tag or guest path (`<target dir=...>`).
    pub fn target_dir(&self) -> Option<&str> {
        self.target.as_deref()
    }

    /// The driver type.
    pub fn driver_type(&self) -> Option<FsDriverType> {
        self.driver.as_ref().and_then(|d| d.kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(xml: &str) -> Result<Filesystem> {
        Filesystem::from_element(&oxvirt_xml::parse(xml)?, &mut Context::default())
    }

    fn round_trip(xml: &str) {
        let f = read(xml).unwrap();
        assert_eq!(oxvirt_xml::to_string(&f.to_element()), xml);
    }

    #[test]
    fn filesystems_round_trip() {
        round_trip(
            "<filesystem type='mount' accessmode='passthrough' multidevs='remap' fmode='0644' dmode='0755'>\n  \
             <driver type='path' wrpolicy='immediate'/>\n  <source dir='/export/to/guest'/>\n  \
             <target dir='/import/from/host'/>\n  <readonly/>\n  \
             <address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'/>\n</filesystem>\n",
        );
        round_trip(
            "<filesystem type='mount' accessmode='passthrough'>\n  <driver type='virtiofs' queue='1024'/>\n  \
             <binary path='/usr/libexec/virtiofsd' xattr='on'>\n    <cache mode='always'/>\n  </binary>\n  \
             <source dir='/path'/>\n  <target dir='mount_tag'/>\n  <boot order='1'/>\n  \
             <alias name='fs0'/>\n</filesystem>\n",
        );
        round_trip(
            "<filesystem type='mount'>\n  <driver type='virtiofs'/>\n  <source socket='/tmp/sock'/>\n  \
             <target dir='tag'/>\n</filesystem>\n",
        );
        round_trip(
            "<filesystem type='ram' accessmode='passthrough'>\n  <source usage='1024' units='KiB'/>\n  \
             <target dir='/mnt'/>\n</filesystem>\n",
        );
    }

    #[test]
    fn ram_usage_is_scaled_to_kib() {
        let f = read(
            "<filesystem type='ram'><source usage='2' units='MiB'/><target dir='/m'/></filesystem>",
        )
        .unwrap();
        assert_eq!(f.source.unwrap().usage_kib, Some(2048));
    }

    #[test]
    fn invalid_filesystems_are_rejected() {
        let err = read("<filesystem fmode='1777'><source dir='/a'/><target dir='b'/></filesystem>")
            .unwrap_err();
        assert_eq!(err.message, "invalid fmode: '01777'");
        let err = read("<filesystem><target dir='/b'/></filesystem>").unwrap_err();
        assert_eq!(err.message, "missing source information for device /b");
        let err =
            read("<filesystem type='ram'><source/><target dir='/b'/></filesystem>").unwrap_err();
        assert_eq!(err.message, "missing 'usage' attribute for RAM filesystem");
        let err = read("<filesystem type='nfs'/>").unwrap_err();
        assert_eq!(
            err.message,
            "Invalid value for attribute 'type' in element 'filesystem': 'nfs'."
        );
    }

    #[test]
    fn accessors_report_paths() {
        let f = read("<filesystem><driver type='virtiofs'/><source dir='/srv'/><target dir='tag'/></filesystem>")
            .unwrap();
        assert_eq!(f.source_path(), Some("/srv"));
        assert_eq!(f.target_dir(), Some("tag"));
        assert_eq!(f.driver_type(), Some(FsDriverType::Virtiofs));
    }
}
