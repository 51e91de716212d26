//! Small devices: watchdog, memory balloon, panic notifier and vsock here; the random number
//! generator and the TPM in their own modules.

mod rng;
mod tpm;

use oxvirt_xml::model::PropFlags;
use oxvirt_xml::{Builder, Context, Cursor, Element, Result, Unknown, XmlError, XmlModel};

pub use rng::{Rng, RngBackend, RngBackendModel, RngModel};
pub use tpm::{PcrBank, Tpm, TpmBackend, TpmBackendType, TpmExternalSource, TpmModel, TpmVersion};

use crate::devices::info::{DeviceInfo, VirtioDriver};
use crate::util::{self, finish_leaf};

oxvirt_xml::xml_enum! {
    /// The emulated watchdog (`model`).
    pub enum WatchdogModel {
        /// Intel 6300ESB (PCI).
        I6300esb = "i6300esb",
        /// iBase IB700 (ISA).
        Ib700 = "ib700",
        /// s390 diag288.
        Diag288 = "diag288",
    }
}

oxvirt_xml::xml_enum! {
    /// What happens when the watchdog fires (`action`).
    pub enum WatchdogAction {
        /// Reset the guest.
        Reset = "reset",
        /// Shut it down gracefully.
        Shutdown = "shutdown",
        /// Power it off.
        Poweroff = "poweroff",
        /// Pause it.
        Pause = "pause",
        /// Dump its memory, then go on.
        Dump = "dump",
        /// Nothing.
        None = "none",
        /// Inject an NMI.
        InjectNmi = "inject-nmi",
    }
}

/// A watchdog device (`<watchdog>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watchdog {
    /// `model`.
    pub model: WatchdogModel,
    /// `action`; `reset` when absent, as libvirt reads it.
    pub action: WatchdogAction,
    /// `<alias>`, `<address>` and the rest of libvirt's device info.
    pub info: DeviceInfo,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl XmlModel for Watchdog {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let Some(model) = util::enum_unsupported(&mut c, "model", "watchdog model")? else {
            return Err(XmlError::internal("watchdog must contain model name").at(el.position));
        };
        let action = util::enum_unsupported(&mut c, "action", "watchdog action")?
            .unwrap_or(WatchdogAction::Reset);
        Ok(Watchdog {
            model,
            action,
            info: DeviceInfo::parse(&mut c, ctx, false, false)?,
            unknown: c.finish(ctx),
        })
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("watchdog");
        b.attr("model", self.model).attr("action", self.action);
        self.info.format(&mut b);
        b.finish(&self.unknown)
    }
}

oxvirt_xml::xml_enum! {
    /// The memory balloon device (`model`).
    pub enum MemballoonModel {
        /// virtio.
        Virtio = "virtio",
        /// Xen.
        Xen = "xen",
        /// No balloon.
        None = "none",
        /// Transitional virtio.
        VirtioTransitional = "virtio-transitional",
        /// Non-transitional virtio.
        VirtioNonTransitional = "virtio-non-transitional",
    }
}

/// The memory balloon (`<memballoon>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Memballoon {
    /// `model`.
    pub model: MemballoonModel,
    /// `autodeflate='on|off'`.
    pub autodeflate: Option<bool>,
    /// `freePageReporting='on|off'`.
    pub free_page_reporting: Option<bool>,
    /// `<stats period=...>` in seconds (zero or less is the same as absent).
    pub stats_period: Option<u32>,
    /// `<alias>`, `<address>` and the rest of libvirt's device info (ignored for model
    /// `none`).
    pub info: DeviceInfo,
    /// `<driver>` virtio options.
    pub driver: Option<VirtioDriver>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl XmlModel for Memballoon {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let model: MemballoonModel = c.required_enum_attr("model")?;
        let autodeflate = c.prop_on_off("autodeflate", PropFlags::NONE)?;
        let free_page_reporting = c.prop_on_off("freePageReporting", PropFlags::NONE)?;
        let mut stats_period = None;
        if let Some(s) = c.child("stats") {
            let mut sc = Cursor::new(s);
            let period = sc.prop_int("period", 0, PropFlags::NONE)?;
            stats_period = period
                .and_then(|p| u32::try_from(p).ok())
                .filter(|p| *p > 0);
            finish_leaf(sc, ctx);
        }
        let info = if model == MemballoonModel::None {
            // libvirt does not read the device info of a 'none' balloon.
            let _ = (c.child("alias"), c.child("address"));
            DeviceInfo::default()
        } else {
            DeviceInfo::parse(&mut c, ctx, false, false)?
        };
        Ok(Memballoon {
            model,
            autodeflate,
            free_page_reporting,
            stats_period,
            info,
            driver: c.model("driver", ctx)?,
            unknown: c.finish(ctx),
        })
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("memballoon");
        b.attr("model", self.model)
            .on_off("autodeflate", self.autodeflate)
            .on_off("freePageReporting", self.free_page_reporting);
        if let Some(p) = self.stats_period {
            b.child(Element::new("stats").with_attr("period", p.to_string()));
        }
        self.info.format(&mut b);
        b.opt_child(VirtioDriver::element(self.driver.as_ref()));
        b.finish(&self.unknown)
    }
}

oxvirt_xml::xml_enum! {
    /// The panic notifier device (`model`).
    pub enum PanicModel {
        /// The driver's default (never written).
        Default = "default",
        /// ISA pvpanic.
        Isa = "isa",
        /// pSeries firmware.
        Pseries = "pseries",
        /// Hyper-V crash MSRs.
        Hyperv = "hyperv",
        /// s390 diag288.
        S390 = "s390",
    }
}

/// A panic notifier (`<panic>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Panic {
    /// `model` (never [`PanicModel::Default`], which libvirt does not write).
    pub model: Option<PanicModel>,
    /// `<alias>`, `<address>` and the rest of libvirt's device info.
    pub info: DeviceInfo,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl Panic {
    /// libvirt's check that no two panic devices have the same model
    /// (`virDomainDefRejectDuplicatePanics`).
    pub fn check_unique(panics: &[Panic]) -> Result<()> {
        for (i, p) in panics.iter().enumerate() {
            if panics[..i].iter().any(|q| q.model == p.model) {
                let model = p.model.unwrap_or(PanicModel::Default);
                return Err(XmlError::xml(format!(
                    "Multiple panic devices with model '{model}'"
                )));
            }
        }
        Ok(())
    }
}

impl XmlModel for Panic {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let info = DeviceInfo::parse(&mut c, ctx, false, false)?;
        let model = util::enum_unsupported(&mut c, "model", "panic model")?
            .filter(|m| *m != PanicModel::Default);
        Ok(Panic {
            model,
            info,
            unknown: c.finish(ctx),
        })
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("panic");
        b.opt_attr("model", self.model);
        self.info.format(&mut b);
        b.finish(&self.unknown)
    }
}

oxvirt_xml::xml_enum! {
    /// The vsock device (`model`).
    pub enum VsockModel {
        /// The driver's default (never written).
        Default = "default",
        /// virtio.
        Virtio = "virtio",
        /// Transitional virtio.
        VirtioTransitional = "virtio-transitional",
        /// Non-transitional virtio.
        VirtioNonTransitional = "virtio-non-transitional",
    }
}

/// A virtio vsock device (`<vsock>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vsock {
    /// `model` (never [`VsockModel::Default`]).
    pub model: Option<VsockModel>,
    /// `<cid auto='yes|no'>`: whether libvirt picks the guest CID.
    pub auto_cid: Option<bool>,
    /// `<cid address=...>`: the guest CID.
    pub cid: Option<u32>,
    /// `<alias>`, `<address>` and the rest of libvirt's device info.
    pub info: DeviceInfo,
    /// `<driver>` virtio options.
    pub driver: Option<VirtioDriver>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl Vsock {
    /// libvirt's default for `<cid auto>`: `no` when a CID is given, `yes` otherwise
    /// (`virDomainVsockDefPostParse`).
    pub fn apply_defaults(&mut self) {
        if self.auto_cid.is_none() {
            self.auto_cid = Some(self.cid.is_none());
        }
    }

    /// libvirt's check of the guest CID (`virDomainVsockDefValidate`).
    pub fn validate(&self) -> Result<()> {
        if self.cid.is_some_and(|c| c <= 2) {
            return Err(XmlError::unsupported("guest CIDs must be >= 3"));
        }
        Ok(())
    }
}

impl XmlModel for Vsock {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let model = c.enum_attr("model")?.filter(|m| *m != VsockModel::Default);
        let (mut auto_cid, mut cid) = (None, None);
        if let Some(e) = c.child("cid") {
            let mut cc = Cursor::new(e);
            cid = cc.prop_uint("address", 10, PropFlags::NONZERO)?;
            auto_cid = cc.prop_yes_no("auto", PropFlags::NONE)?;
            finish_leaf(cc, ctx);
        }
        Ok(Vsock {
            model,
            auto_cid,
            cid,
            info: DeviceInfo::parse(&mut c, ctx, false, false)?,
            driver: c.model("driver", ctx)?,
            unknown: c.finish(ctx),
        })
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("vsock");
        b.opt_attr("model", self.model);
        if self.auto_cid.is_some() || self.cid.is_some() {
            let mut e = Element::new("cid");
            if let Some(a) = self.auto_cid {
                e.set_attr("auto", oxvirt_xml::model::yes_no(a));
            }
            if let Some(cid) = self.cid {
                e.set_attr("address", cid.to_string());
            }
            b.child(e);
        }
        self.info.format(&mut b);
        b.opt_child(VirtioDriver::element(self.driver.as_ref()));
        b.finish(&self.unknown)
    }
}

/// libvirt's limits on how many watchdogs, balloons, TPMs and vsock devices a domain may
/// have, checked on its `<devices>` element as written (`virDomainDefParseXML`).
pub fn check_device_counts(devices: &Element) -> Result<()> {
    let count = |name: &str| devices.elements().filter(|e| e.name == name).count();
    if count("watchdog") > 1 {
        return Err(XmlError::internal(
            "only a single watchdog device is supported",
        ));
    }
    if count("memballoon") > 1 {
        return Err(XmlError::internal(
            "only a single memory balloon device is supported",
        ));
    }
    if count("tpm") > 2 {
        return Err(XmlError::xml(
            "a maximum of two TPM devices is supported, one of them being a TPM Proxy device",
        ));
    }
    if count("vsock") > 1 {
        return Err(XmlError::xml("only a single vsock device is supported"));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
