//! A random number generator (`<rng>`).

use oxvirt_xml::model::str_to_long_ullp;
use oxvirt_xml::{Builder, Context, Cursor, Element, Result, Unknown, XmlEnum, XmlError, XmlModel};

use crate::devices::chardev::{ChardevSource, ChardevType};
use crate::devices::info::{DeviceInfo, VirtioDriver};
use crate::util::{enum_unsupported, finish_leaf, non_empty};

oxvirt_xml::xml_enum! {
    /// The RNG device (`model`).
    pub enum RngModel {
        /// virtio-rng.
        Virtio = "virtio",
        /// Transitional virtio-rng.
        VirtioTransitional = "virtio-transitional",
        /// Non-transitional virtio-rng.
        VirtioNonTransitional = "virtio-non-transitional",
    }
}

oxvirt_xml::xml_enum! {
    /// Where the entropy comes from (`<backend model=...>`).
    pub enum RngBackendModel {
        /// A host file such as `/dev/urandom`.
        Random = "random",
        /// An EGD server reached through a character device.
        Egd = "egd",
        /// QEMU's built-in generator.
        Builtin = "builtin",
    }
}

/// The entropy source (`<backend>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RngBackend {
    /// `model`.
    pub model: RngBackendModel,
    /// The file of a `random` backend (its text); `/dev/random` is the default.
    pub file: Option<String>,
    /// The character device of an `egd` backend: its `type` and `<source>`.
    pub egd: Option<ChardevSource>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

/// A random number generator (`<rng>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rng {
    /// `model`.
    pub model: RngModel,
    /// `<rate bytes=...>`: bytes allowed per period (zero is the same as absent).
    pub rate_bytes: Option<u32>,
    /// `<rate period=...>` in milliseconds (kept with a rate).
    pub rate_period: Option<u32>,
    /// `<backend>`.
    pub backend: RngBackend,
    /// `<driver>` virtio options.
    pub driver: Option<VirtioDriver>,
    /// `<alias>`, `<address>` and the rest of libvirt's device info.
    pub info: DeviceInfo,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl Rng {
    /// libvirt's default source of a `random` backend: `/dev/random` (`virDomainRNGDefPostParse`).
    /// The EGD character device gets the defaults of any character device source.
    pub fn apply_defaults(&mut self) {
        if self.backend.model == RngBackendModel::Random && self.backend.file.is_none() {
            self.backend.file = Some("/dev/random".to_string());
        }
        if let Some(egd) = self.backend.egd.as_mut() {
            egd.apply_defaults();
        }
    }

    /// libvirt's check of an EGD backend's character device source
    /// (`virDomainRNGDefValidate`).
    pub fn validate(&self) -> Result<()> {
        match &self.backend.egd {
            Some(egd) => egd.validate(false),
            None => Ok(()),
        }
    }
}

fn read_rate(c: &mut Cursor<'_>, ctx: &mut Context) -> Result<(Option<u32>, Option<u32>)> {
    let Some(rate) = c.child("rate") else {
        return Ok((None, None));
    };
    let mut rc = Cursor::new(rate);
    let read = |rc: &mut Cursor<'_>, name: &str, what: &str| -> Result<Option<u32>> {
        match rc.attr(name).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => str_to_long_ullp(v, 10)
                .and_then(|n| u32::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| {
                    XmlError::xml(format!("invalid RNG rate {what} value")).at(rate.position)
                }),
        }
    };
    let bytes = read(&mut rc, "bytes", "bytes")?.filter(|b| *b > 0);
    let period = if bytes.is_some() {
        read(&mut rc, "period", "period")?.filter(|p| *p > 0)
    } else {
        rc.attr("period");
        None
    };
    finish_leaf(rc, ctx);
    Ok((bytes, period))
}

fn read_backend(el: &Element, ctx: &mut Context) -> Result<RngBackend> {
    let mut c = Cursor::new(el);
    let Some(model) = enum_unsupported(&mut c, "model", "RNG backend model")? else {
        return Err(XmlError::xml("missing RNG device backend model").at(el.position));
    };
    let mut backend = RngBackend {
        model,
        file: None,
        egd: None,
        unknown: Unknown::default(),
    };
    match model {
        RngBackendModel::Random => backend.file = non_empty(c.text()),
        RngBackendModel::Egd => {
            let Some(ty) = c.attr("type") else {
                return Err(XmlError::xml("missing EGD backend type").at(el.position));
            };
            let kind = ChardevType::from_xml_str(ty).ok_or_else(|| {
                XmlError::unsupported(format!("unknown backend type '{ty}' for egd"))
                    .at(el.position)
            })?;
            backend.egd = Some(ChardevSource::read(kind, &mut c, ctx)?);
        }
        RngBackendModel::Builtin => {}
    }
    backend.unknown = c.finish(ctx);
    Ok(backend)
}

impl XmlModel for Rng {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let Some(model) = enum_unsupported::<RngModel>(&mut c, "model", "RNG model")? else {
            return Err(XmlError::xml("missing RNG device model").at(el.position));
        };
        let (rate_bytes, rate_period) = read_rate(&mut c, ctx)?;
        let backends = c.children("backend");
        let [backend] = backends.as_slice() else {
            return Err(XmlError::xml("only one RNG backend is supported").at(el.position));
        };
        let backend = read_backend(backend, ctx)?;
        Ok(Rng {
            model,
            rate_bytes,
            rate_period,
            backend,
            info: DeviceInfo::parse(&mut c, ctx, false, false)?,
            driver: c.model("driver", ctx)?,
            unknown: c.finish(ctx),
        })
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("rng");
        b.attr("model", self.model);
        if let Some(bytes) = self.rate_bytes {
            let mut e = Element::new("rate").with_attr("bytes", bytes.to_string());
            if let Some(p) = self.rate_period {
                e.set_attr("period", p.to_string());
            }
            b.child(e);
        }
        let be = &self.backend;
        let mut bb = Builder::new("backend");
        bb.attr("model", be.model);
        match (&be.egd, be.model) {
            (Some(egd), RngBackendModel::Egd) => {
                bb.attr("type", egd.kind);
                egd.write(&mut bb);
            }
            (_, RngBackendModel::Random) => {
                if let Some(f) = &be.file {
                    bb.text(f.clone());
                }
            }
            _ => {}
        }
        b.child(bb.finish(&be.unknown));
        b.opt_child(VirtioDriver::element(self.driver.as_ref()));
        self.info.format(&mut b);
        b.finish(&self.unknown)
    }
}
