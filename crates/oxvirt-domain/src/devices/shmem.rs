//! Shared memory (`<shmem>`), as libvirt's `virDomainShmemDefParseXML` reads it and
//! `virDomainShmemDefFormat` writes it.
//!
//! The domain keeps a shared memory device as an element among
//! [`Devices::others`](super::Devices::others), with the code that handles untyped devices
//! (aliases, attach and detach); it is read through [`Shmem`] when it is parsed and kept as
//! the element [`Shmem`] writes ([`canonical_shmem`]): the model libvirt gives a device
//! without one (`<model type='ivshmem'/>`), the size in MiB, the children in libvirt's order,
//! and what libvirt does not read dropped (`role` of an `ivshmem` device, a second `<model>`,
//! `<server>` or `<msi>`).
//!
//! One difference on purpose: libvirt writes the size in whole MiB (`size >> 20`), so a size
//! that is not a multiple of 1 MiB (which only the QEMU driver refuses) reads back as
//! another one, or as none; the model writes such a size in KiB or bytes instead, so that
//! it reads back the same.

use oxvirt_xml::model::PropFlags;
use oxvirt_xml::types::size::parse_scaled_for;
use oxvirt_xml::{
    Builder, Context, Cursor, Element, ErrorCode, ErrorDomain, Result, Unknown, XmlError, XmlModel,
};

use super::info::DeviceInfo;
use crate::util::finish_leaf;

oxvirt_xml::xml_enum! {
    /// The shared memory device (`<model type=...>`).
    pub enum ShmemModel {
        /// The legacy `ivshmem` device (libvirt's default).
        Ivshmem = "ivshmem",
        /// `ivshmem-plain`: shared memory only.
        IvshmemPlain = "ivshmem-plain",
        /// `ivshmem-doorbell`: shared memory and interrupts through a server.
        IvshmemDoorbell = "ivshmem-doorbell",
    }
}

oxvirt_xml::xml_enum! {
    /// Who owns the memory on migration (`role`), for the models other than `ivshmem`.
    pub enum ShmemRole {
        /// This guest's copy migrates with it.
        Master = "master",
        /// This guest cannot migrate with the device.
        Peer = "peer",
    }
}

/// The server a doorbell device talks to (`<server path=.../>`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ShmemServer {
    /// The server's socket (`path`, written even when empty).
    pub path: Option<String>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

/// The device's interrupts (`<msi vectors=... ioeventfd=.../>`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ShmemMsi {
    /// The number of vectors (a zero reads as unset).
    pub vectors: Option<u32>,
    /// `ioeventfd='on|off'`.
    pub ioeventfd: Option<bool>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

/// A shared memory device (`<shmem>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shmem {
    /// The name of the shared memory object (`name`, required).
    pub name: String,
    /// `role`, for the models other than `ivshmem` (libvirt ignores it there).
    pub role: Option<ShmemRole>,
    /// The model (`ivshmem` when not written).
    pub model: ShmemModel,
    /// The size in bytes (`<size>`; zero reads as unset).
    pub size: Option<u64>,
    /// `<server>`.
    pub server: Option<ShmemServer>,
    /// `<msi>`.
    pub msi: Option<ShmemMsi>,
    /// `<alias>` and `<address>`.
    pub info: DeviceInfo,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

const MIB: u64 = 1024 * 1024;

/// libvirt's errors for `<size>`: a malformed number from its XML helpers, an unknown unit
/// from its generic code.
fn size_error(e: XmlError) -> XmlError {
    match e.code {
        ErrorCode::XmlError => e.from_domain(ErrorDomain::Xml),
        ErrorCode::InvalidArg => e.from_domain(ErrorDomain::None),
        _ => e,
    }
}

impl XmlModel for Shmem {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let Some(name) = c.attr_string("name") else {
            return Err(
                XmlError::xml("shmem element must contain 'name' attribute").at(el.position)
            );
        };
        // libvirt reads the first of each child and ignores the others.
        let mut models = c.children("model").into_iter();
        let model = match models.next() {
            Some(m) => {
                let mut mc = Cursor::new(m);
                let model = mc.enum_attr::<ShmemModel>("type")?;
                finish_leaf(mc, ctx);
                model.unwrap_or(ShmemModel::Ivshmem)
            }
            None => ShmemModel::Ivshmem,
        };
        let role = if model == ShmemModel::Ivshmem {
            let _ = c.attr("role");
            None
        } else {
            c.enum_attr::<ShmemRole>("role")?
        };
        let mut sizes = c.children("size").into_iter();
        let size = match sizes.next() {
            Some(s) => {
                let text = s.text();
                if text.is_empty() {
                    None
                } else {
                    let bytes = parse_scaled_for(&text, s.attr("unit"), 1, u64::MAX, "./size[1]")
                        .map_err(|e| size_error(e).at(s.position))?;
                    Some(bytes).filter(|b| *b != 0)
                }
            }
            None => None,
        };
        let server = match c.children("server").first() {
            Some(s) => {
                let mut sc = Cursor::new(s);
                let path = sc.attr_string("path");
                Some(ShmemServer {
                    path,
                    unknown: sc.finish(ctx),
                })
            }
            None => None,
        };
        let msi = match c.children("msi").first() {
            Some(m) => {
                let mut mc = Cursor::new(m);
                let vectors = mc
                    .prop_uint("vectors", 0, PropFlags::NONE)?
                    .filter(|v| *v != 0);
                let ioeventfd = mc.prop_on_off("ioeventfd", PropFlags::NONE)?;
                Some(ShmemMsi {
                    vectors,
                    ioeventfd,
                    unknown: mc.finish(ctx),
                })
            }
            None => None,
        };
        let info = DeviceInfo::parse(&mut c, ctx, false, false)?;
        Ok(Shmem {
            name,
            role,
            model,
            size,
            server,
            msi,
            info,
            unknown: c.finish(ctx),
        })
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("shmem");
        b.attr("name", &self.name).opt_attr("role", self.role);
        b.child(Element::new("model").with_attr("type", self.model.to_string()));
        if let Some(bytes) = self.size {
            let (unit, n) = if bytes % MIB == 0 {
                ("M", bytes / MIB)
            } else if bytes % 1024 == 0 {
                ("K", bytes / 1024)
            } else {
                ("bytes", bytes)
            };
            b.child(
                Element::new("size")
                    .with_attr("unit", unit)
                    .with_text(n.to_string()),
            );
        }
        if let Some(s) = &self.server {
            let mut sb = Builder::new("server");
            sb.opt_attr("path", s.path.as_deref());
            b.child(sb.finish(&s.unknown));
        }
        if let Some(m) = &self.msi {
            let mut mb = Builder::new("msi");
            mb.opt_attr("vectors", m.vectors)
                .on_off("ioeventfd", m.ioeventfd);
            b.child(mb.finish(&m.unknown));
        }
        self.info.format(&mut b);
        b.finish(&self.unknown)
    }
}

impl Shmem {
    /// libvirt's generic checks of a shared memory device: MSI only with a server (which
    /// libvirt checks as it reads the device), and a name that can be a file name
    /// (`virDomainShmemDefValidate`).
    pub fn validate(&self) -> Result<()> {
        if self.msi.is_some() && self.server.is_none() {
            return Err(XmlError::xml("msi option is only supported with a server"));
        }
        let rule = if self.name.contains('/') {
            "shmem name cannot include '/' character"
        } else if self.name == "." {
            "shmem name cannot be equal to '.'"
        } else if self.name == ".." {
            "shmem name cannot be equal to '..'"
        } else {
            return Ok(());
        };
        Err(XmlError::unsupported(rule))
    }

    /// The QEMU driver's checks of the size (`qemuValidateDomainDeviceDefShmem`): a power
    /// of two of at least 1 MiB.
    pub fn validate_qemu(&self) -> Result<()> {
        if let Some(bytes) = self.size {
            if !bytes.is_power_of_two() {
                return Err(XmlError::xml("shmem size must be a power of two"));
            }
            if bytes < MIB {
                return Err(XmlError::xml(
                    "shmem size must be at least 1 MiB (1024 KiB)",
                ));
            }
        }
        Ok(())
    }
}

/// Reads a `<shmem>` element and returns the element libvirt would write for it
/// ([`Shmem`], see the module documentation).
pub fn canonical_shmem(el: &Element, ctx: &mut Context) -> Result<Element> {
    Shmem::from_element(el, ctx).map(|s| s.to_element())
}

/// The shared memory devices of `others`, read back ([`canonical_shmem`] keeps them in a
/// form that reads without error).
pub fn shmems(others: &[Element]) -> impl Iterator<Item = Result<Shmem>> + '_ {
    others
        .iter()
        .filter(|e| e.name == "shmem")
        .map(|e| Shmem::from_element(e, &mut Context::default()))
}

#[cfg(test)]
mod tests;
