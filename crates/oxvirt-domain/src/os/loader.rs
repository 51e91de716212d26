//! Firmware: `<loader>` and `<nvram>` inside `<os>`.

use oxvirt_xml::model::PropFlags;
use oxvirt_xml::{Builder, Context, Cursor, Element, Node, Result, Unknown, XmlModel};

use crate::util::{self, unknown_cause};

oxvirt_xml::xml_enum! {
    /// How the loader image is mapped into the guest (`<loader type=...>`).
    pub enum LoaderType {
        /// A read-only ROM.
        Rom = "rom",
        /// A pflash device (UEFI).
        Pflash = "pflash",
    }
}

/// Storage types an NVRAM store can use (`<nvram type=...>`, libvirt's `virStorageType`).
pub const NVRAM_STORAGE_TYPES: &[&str] = &[
    "none",
    "file",
    "block",
    "dir",
    "network",
    "volume",
    "nvme",
    "vhostuser",
];

/// The firmware image (`<loader>`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Loader {
    /// `readonly='yes|no'`.
    pub readonly: Option<bool>,
    /// `secure='yes|no'`: the firmware implements Secure Boot.
    pub secure: Option<bool>,
    /// `type`: where the image is mapped.
    pub kind: Option<LoaderType>,
    /// `stateless='yes|no'`: run without NVRAM.
    pub stateless: Option<bool>,
    /// The image path (the element's text); `None` when empty.
    pub path: Option<String>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl Loader {
    /// Whether libvirt would write nothing for this loader.
    pub fn is_empty(&self) -> bool {
        *self == Loader::default()
    }
}

impl XmlModel for Loader {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let readonly = c.prop_yes_no("readonly", PropFlags::NONE)?;
        let kind = c.enum_attr("type")?;
        let path = util::non_empty(c.text());
        let secure = c.prop_yes_no("secure", PropFlags::NONE)?;
        let stateless = c.prop_yes_no("stateless", PropFlags::NONE)?;
        Ok(Loader {
            readonly,
            secure,
            kind,
            stateless,
            path,
            unknown: c.finish(ctx),
        })
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("loader");
        b.yes_no("readonly", self.readonly)
            .yes_no("secure", self.secure)
            .opt_attr("type", self.kind)
            .yes_no("stateless", self.stateless);
        if let Some(p) = &self.path {
            b.text(p.clone());
        }
        b.finish(&self.unknown)
    }
}

/// Where the NVRAM variable store lives.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum NvramStore {
    /// Nothing given: libvirt picks a path when the domain starts.
    #[default]
    Unset,
    /// The old form: a path as the element's text.
    Path(String),
    /// The new form (`<nvram type='file|block|network'>`): a storage source, as a disk's
    /// `<source>`, kept as written.
    Source {
        /// The storage type.
        kind: String,
        /// The `<source>` element.
        source: Element,
    },
}

/// The NVRAM store of UEFI variables (`<nvram>`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Nvram {
    /// `template`: the file the store is first copied from.
    pub template: Option<String>,
    /// The store itself.
    pub store: NvramStore,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl Nvram {
    /// Whether libvirt would write nothing for this element.
    pub fn is_empty(&self) -> bool {
        *self == Nvram::default()
    }
}

impl XmlModel for Nvram {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let template = c.attr_string("template");
        let store = match c.attr("type") {
            None => {
                let text = c.text();
                if text.is_empty() {
                    NvramStore::Unset
                } else {
                    NvramStore::Path(text)
                }
            }
            Some(kind) => {
                if !NVRAM_STORAGE_TYPES.contains(&kind) {
                    return Err(c.invalid_value("type", kind, ""));
                }
                let Some(source) = c.child("source") else {
                    return Err(unknown_cause().at(el.position));
                };
                NvramStore::Source {
                    kind: kind.to_string(),
                    source: source.clone(),
                }
            }
        };
        Ok(Nvram {
            template,
            store,
            unknown: c.finish(ctx),
        })
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("nvram");
        b.opt_attr("template", self.template.as_deref());
        match &self.store {
            NvramStore::Unset => {}
            NvramStore::Path(p) => {
                b.node(Node::Text(p.clone()));
            }
            NvramStore::Source { kind, source } => {
                b.attr("type", kind);
                b.child(source.clone());
            }
        }
        b.finish(&self.unknown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T: XmlModel>(xml: &str) -> String {
        let el = oxvirt_xml::parse(xml).unwrap();
        oxvirt_xml::to_string(
            &T::from_element(&el, &mut Context::default())
                .unwrap()
                .to_element(),
        )
    }

    #[test]
    fn loader_attributes_are_written_in_libvirts_order() {
        let out = round_trip::<Loader>(
            "<loader type='pflash' secure='yes' readonly='yes'>/usr/share/OVMF/OVMF_CODE.secboot.fd</loader>",
        );
        assert_eq!(
            out,
            "<loader readonly='yes' secure='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE.secboot.fd</loader>\n"
        );
        assert_eq!(
            round_trip::<Loader>("<loader stateless='yes' type='rom'>/bios.bin</loader>"),
            "<loader type='rom' stateless='yes'>/bios.bin</loader>\n"
        );
    }

    #[test]
    fn loader_type_none_is_refused() {
        let el = oxvirt_xml::parse("<loader type='none'/>").unwrap();
        let err = Loader::from_element(&el, &mut Context::default()).unwrap_err();
        assert_eq!(
            err.message,
            "Invalid value for attribute 'type' in element 'loader': 'none'."
        );
    }

    #[test]
    fn nvram_in_both_forms() {
        let xml = "<nvram template='/t.fd'>/var/lib/nvram.fd</nvram>\n";
        assert_eq!(round_trip::<Nvram>(xml), xml);
        let xml = "<nvram type='file'>\n  <source file='/var/lib/libvirt/nvram/guest_VARS.fd'/>\n</nvram>\n";
        assert_eq!(round_trip::<Nvram>(xml), xml);
        let el = oxvirt_xml::parse("<nvram type='file'/>").unwrap();
        assert!(Nvram::from_element(&el, &mut Context::default()).is_err());
    }
}
