//! A TPM (`<tpm>`).

use std::str::FromStr;

use oxvirt_xml::types::uuid::Uuid;
use oxvirt_xml::{Builder, Context, Cursor, Element, Result, Unknown, XmlEnum, XmlError, XmlModel};

use crate::devices::chardev::ChardevType;
use crate::devices::info::DeviceInfo;
use crate::util::finish_leaf;

oxvirt_xml::xml_enum! {
    /// The TPM device (`model`).
    pub enum TpmModel {
        /// TIS interface.
        TpmTis = "tpm-tis",
        /// CRB interface.
        TpmCrb = "tpm-crb",
        /// pSeries vTPM.
        TpmSpapr = "tpm-spapr",
        /// pSeries TPM proxy.
        SpaprTpmProxy = "spapr-tpm-proxy",
    }
}

oxvirt_xml::xml_enum! {
    /// What implements the TPM (`<backend type=...>`).
    pub enum TpmBackendType {
        /// A host TPM.
        Passthrough = "passthrough",
        /// swtpm, started by libvirt.
        Emulator = "emulator",
        /// swtpm, started by someone else.
        External = "external",
    }
}

oxvirt_xml::xml_enum! {
    /// The TPM version of an emulator (`version`).
    pub enum TpmVersion {
        /// TPM 1.2.
        V1_2 = "1.2",
        /// TPM 2.0.
        V2_0 = "2.0",
    }
}

oxvirt_xml::xml_enum! {
    /// A PCR bank of a TPM 2.0 emulator (`<active_pcr_banks>` children).
    pub enum PcrBank {
        /// SHA-1.
        Sha1 = "sha1",
        /// SHA-256.
        Sha256 = "sha256",
        /// SHA-384.
        Sha384 = "sha384",
        /// SHA-512.
        Sha512 = "sha512",
    }
}

const PCR_ORDER: [PcrBank; 4] = [
    PcrBank::Sha1,
    PcrBank::Sha256,
    PcrBank::Sha384,
    PcrBank::Sha512,
];

/// The socket of an external TPM (`<backend type='external'><source .../>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TpmExternalSource {
    /// `type` (libvirt supports only `unix`).
    pub kind: String,
    /// `mode='bind|connect'`; `connect` when absent.
    pub bind: bool,
    /// `path`.
    pub path: Option<String>,
}

/// What implements the TPM (`<backend>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TpmBackend {
    /// `type`.
    pub kind: TpmBackendType,
    /// `<device path=...>` of a passthrough backend; `/dev/tpm0` is the default.
    pub device_path: Option<String>,
    /// `version` of an emulator.
    pub version: Option<TpmVersion>,
    /// `persistent_state='yes'` of an emulator.
    pub persistent_state: bool,
    /// `<encryption secret=...>` of an emulator: the secret encrypting its state.
    pub encryption_secret: Option<Uuid>,
    /// `<active_pcr_banks>` of an emulator, in libvirt's order.
    pub active_pcr_banks: Vec<PcrBank>,
    /// `<source>` of an external backend.
    pub source: Option<TpmExternalSource>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

/// A TPM (`<tpm>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tpm {
    /// `model`; the driver picks one when absent.
    pub model: Option<TpmModel>,
    /// `<backend>`.
    pub backend: TpmBackend,
    /// `<alias>`, `<address>` and the rest of libvirt's device info.
    pub info: DeviceInfo,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl Tpm {
    /// libvirt's default host device of a passthrough TPM, `/dev/tpm0` (set while parsing).
    pub fn apply_defaults(&mut self) {
        if self.backend.kind == TpmBackendType::Passthrough && self.backend.device_path.is_none() {
            self.backend.device_path = Some("/dev/tpm0".to_string());
        }
    }

    /// libvirt's check of a domain's pair of TPMs: at most one TPM proxy and one other.
    pub fn check_pair(tpms: &[Tpm]) -> Result<()> {
        let proxies = tpms
            .iter()
            .filter(|t| t.model == Some(TpmModel::SpaprTpmProxy))
            .count();
        if proxies > 1 {
            return Err(XmlError::unsupported(
                "only a single TPM Proxy device is supported",
            ));
        }
        if tpms.len() - proxies > 1 {
            return Err(XmlError::unsupported(
                "only a single TPM non-proxy device is supported",
            ));
        }
        Ok(())
    }

    /// libvirt's checks of a TPM (`virDomainTPMDevValidate`).
    pub fn validate(&self) -> Result<()> {
        let b = &self.backend;
        match b.kind {
            TpmBackendType::Emulator
                if !b.active_pcr_banks.is_empty() && b.version != Some(TpmVersion::V2_0) =>
            {
                Err(XmlError::xml(
                    "<active_pcr_banks/> requires TPM version '2.0'",
                ))
            }
            TpmBackendType::External => {
                let src = b.source.as_ref();
                if src.is_none_or(|s| s.kind != "unix") {
                    return Err(XmlError::xml(
                        "only source type 'unix' is supported for external TPM device",
                    ));
                }
                if src.is_some_and(|s| s.bind) {
                    return Err(XmlError::xml(
                        "only 'connect' mode is supported for external TPM device",
                    ));
                }
                if src.is_none_or(|s| s.path.is_none()) {
                    return Err(XmlError::xml("missing socket path for external TPM device"));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

fn read_backend(el: &Element, ctx: &mut Context) -> Result<TpmBackend> {
    let mut c = Cursor::new(el);
    let kind: TpmBackendType = c.required_enum_attr("type")?;
    let mut b = TpmBackend {
        kind,
        device_path: None,
        version: None,
        persistent_state: false,
        encryption_secret: None,
        active_pcr_banks: Vec::new(),
        source: None,
        unknown: Unknown::default(),
    };
    match kind {
        TpmBackendType::Passthrough => {
            if let Some(d) = c.child("device") {
                let mut dc = Cursor::new(d);
                b.device_path = dc.attr_string("path");
                finish_leaf(dc, ctx);
            }
        }
        TpmBackendType::Emulator => read_emulator(&mut b, &mut c, ctx)?,
        TpmBackendType::External => {
            let src = c.child("source");
            let Some(ty) = src.and_then(|s| s.attr("type")).filter(|t| !t.is_empty()) else {
                return Err(XmlError::xml("missing external TPM backend type").at(el.position));
            };
            if ChardevType::from_xml_str(ty).is_none() {
                return Err(XmlError::unsupported(format!(
                    "unknown backend type '{ty}' for external TPM"
                ))
                .at(el.position));
            }
            if let Some(s) = src {
                let mut sc = Cursor::new(s);
                sc.attr("type");
                let bind = sc.attr("mode") == Some("bind");
                let path = sc.attr_string("path");
                finish_leaf(sc, ctx);
                b.source = Some(TpmExternalSource {
                    kind: ty.to_string(),
                    bind,
                    path,
                });
            }
        }
    }
    b.unknown = c.finish(ctx);
    Ok(b)
}

fn read_emulator(b: &mut TpmBackend, c: &mut Cursor<'_>, ctx: &mut Context) -> Result<()> {
    b.version = c.enum_attr("version")?;
    if let Some(e) = c.child("encryption") {
        let mut ec = Cursor::new(e);
        if let Some(s) = ec.attr("secret") {
            let uuid = Uuid::from_str(s).map_err(|_| {
                XmlError::internal(format!("Unable to parse secret uuid '{s}'")).at(e.position)
            })?;
            b.encryption_secret = Some(uuid);
        }
        finish_leaf(ec, ctx);
    }
    match c.attr("persistent_state") {
        None | Some("no") => {}
        Some("yes") => b.persistent_state = true,
        Some(_) => {
            return Err(
                XmlError::internal("Invalid persistent_state value, either 'yes' or 'no'")
                    .at(c.element().position),
            )
        }
    }
    if let Some(banks) = c.child("active_pcr_banks") {
        for bank in banks.elements() {
            let pcr = PcrBank::from_xml_str(&bank.name).ok_or_else(|| {
                XmlError::unsupported(format!("Unsupported PCR banks '{}'", bank.name))
                    .at(bank.position)
            })?;
            if !b.active_pcr_banks.contains(&pcr) {
                b.active_pcr_banks.push(pcr);
            }
        }
        b.active_pcr_banks
            .sort_by_key(|p| PCR_ORDER.iter().position(|o| o == p));
    }
    Ok(())
}

impl XmlModel for Tpm {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let model = c.enum_attr("model")?;
        let backend = match c.children("backend").as_slice() {
            [] => return Err(XmlError::xml("missing TPM device backend").at(el.position)),
            [b] => read_backend(b, ctx)?,
            _ => return Err(XmlError::xml("only one TPM backend is supported").at(el.position)),
        };
        Ok(Tpm {
            model,
            backend,
            info: DeviceInfo::parse(&mut c, ctx, false, false)?,
            unknown: c.finish(ctx),
        })
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("tpm");
        b.opt_attr("model", self.model);
        let be = &self.backend;
        let mut bb = Builder::new("backend");
        bb.attr("type", be.kind);
        match be.kind {
            TpmBackendType::Passthrough => {
                if let Some(p) = &be.device_path {
                    bb.child(Element::new("device").with_attr("path", p.as_str()));
                }
            }
            TpmBackendType::Emulator => {
                bb.opt_attr("version", be.version);
                if be.persistent_state {
                    bb.attr("persistent_state", "yes");
                }
                if let Some(s) = be.encryption_secret {
                    bb.child(Element::new("encryption").with_attr("secret", s.to_string()));
                }
                if !be.active_pcr_banks.is_empty() {
                    let mut e = Element::new("active_pcr_banks");
                    for p in &be.active_pcr_banks {
                        e.push(Element::new(p.as_xml_str()));
                    }
                    bb.child(e);
                }
            }
            TpmBackendType::External => {
                if let Some(s) = be.source.as_ref().filter(|s| s.kind == "unix") {
                    let mut e = Element::new("source").with_attr("type", "unix");
                    e.set_attr("mode", if s.bind { "bind" } else { "connect" });
                    if let Some(p) = &s.path {
                        e.set_attr("path", p.as_str());
                    }
                    bb.child(e);
                }
            }
        }
        b.child(bb.finish(&be.unknown));
        self.info.format(&mut b);
        b.finish(&self.unknown)
    }
}
