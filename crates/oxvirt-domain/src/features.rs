//! Hypervisor features (`<features>`) and power management (`<pm>`).
//!
//! libvirt reads each child of `<features>` into a table indexed by the feature and writes
//! the table back in its own order (`virDomainFeature`), so the order features were written
//! in is not kept, and a feature given twice counts once (the last time). A feature libvirt
//! does not know is an error. Features that only mean "on" (`<acpi/>`, `<pae/>`, ...) are
//! booleans; features with a `state` keep it, and are written with it even when it was
//! implied (`<pmu/>` is written `<pmu state='on'/>`).

mod groups;

use oxvirt_xml::model::PropFlags;
use oxvirt_xml::types::size::{parse_memory_kib_for, parse_scaled, parse_scaled_for};
use oxvirt_xml::{Builder, Context, Cursor, Element, Result, Unknown, XmlEnum, XmlError, XmlModel};

use crate::util::{finish_leaf, pretty_bytes};

pub use groups::{
    Capabilities, CapabilitiesPolicy, Hyperv, HypervFeature, HypervFeatureName, HypervMode,
    KvmFeature, KvmFeatureName, XenFeature, XenFeatureName, XenPassthroughMode, PROCESS_CAPS,
};

oxvirt_xml::xml_enum! {
    /// The GIC version of an ARM guest (`<gic version=...>`).
    pub enum GicVersion {
        /// The host's version.
        Host = "host",
        /// GICv2.
        V2 = "2",
        /// GICv3.
        V3 = "3",
    }
}

oxvirt_xml::xml_enum! {
    /// Who emulates the I/O APIC (`<ioapic driver=...>`).
    pub enum IoapicDriver {
        /// QEMU (split irqchip).
        Qemu = "qemu",
        /// KVM.
        Kvm = "kvm",
    }
}

oxvirt_xml::xml_enum! {
    /// HPT resizing for pSeries guests (`<hpt resizing=...>`).
    pub enum HptResizing {
        /// Allowed.
        Enabled = "enabled",
        /// Not allowed.
        Disabled = "disabled",
        /// Required.
        Required = "required",
    }
}

oxvirt_xml::xml_enum! {
    /// What to do with accesses to unknown MSRs (`<msrs unknown=...>`).
    pub enum MsrsUnknown {
        /// Ignore them.
        Ignore = "ignore",
        /// Inject a fault.
        Fault = "fault",
    }
}

oxvirt_xml::xml_enum! {
    /// A pSeries speculation mitigation setting (`cfpc` and `sbbc` `value`).
    pub enum SpeculationValue {
        /// Broken, no mitigation.
        Broken = "broken",
        /// Worked around.
        Workaround = "workaround",
        /// Fixed in hardware.
        Fixed = "fixed",
    }
}

oxvirt_xml::xml_enum! {
    /// The pSeries indirect branch speculation setting (`<ibs value=...>`).
    pub enum IbsValue {
        /// Broken.
        Broken = "broken",
        /// Worked around.
        Workaround = "workaround",
        /// Fixed by IBS.
        FixedIbs = "fixed-ibs",
        /// Fixed by CCD.
        FixedCcd = "fixed-ccd",
        /// Not affected.
        FixedNa = "fixed-na",
    }
}

/// System management mode (`<smm>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Smm {
    /// `state='on|off'` (on when absent).
    pub on: bool,
    /// `<tseg>`: the TSEG size in bytes (kept when on).
    pub tseg_bytes: Option<u64>,
}

/// Hashed page table settings (`<hpt>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hpt {
    /// `resizing`.
    pub resizing: Option<HptResizing>,
    /// `<maxpagesize>` in KiB.
    pub maxpagesize_kib: Option<u64>,
}

/// Hypervisor features the guest sees (`<features>`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Features {
    /// `<acpi/>`.
    pub acpi: bool,
    /// `<apic/>`, with its `eoi` setting.
    pub apic: Option<Option<bool>>,
    /// `<pae/>`.
    pub pae: bool,
    /// `<hap state=...>`.
    pub hap: Option<bool>,
    /// `<viridian/>`.
    pub viridian: bool,
    /// `<privnet/>`.
    pub privnet: bool,
    /// `<hyperv>`.
    pub hyperv: Option<Hyperv>,
    /// `<kvm>`: its features in libvirt's order.
    pub kvm: Option<Vec<KvmFeature>>,
    /// `<pvspinlock state=...>`.
    pub pvspinlock: Option<bool>,
    /// `<capabilities>`.
    pub capabilities: Option<Capabilities>,
    /// `<pmu state=...>`.
    pub pmu: Option<bool>,
    /// `<vmport state=...>`.
    pub vmport: Option<bool>,
    /// `<gic>`, with its version when given.
    pub gic: Option<Option<GicVersion>>,
    /// `<smm>`.
    pub smm: Option<Smm>,
    /// `<ioapic driver=...>`.
    pub ioapic: Option<IoapicDriver>,
    /// `<hpt>`.
    pub hpt: Option<Hpt>,
    /// `<vmcoreinfo state=...>`.
    pub vmcoreinfo: Option<bool>,
    /// `<htm state=...>`.
    pub htm: Option<bool>,
    /// `<nested-hv state=...>`.
    pub nested_hv: Option<bool>,
    /// `<msrs unknown=...>`.
    pub msrs: Option<MsrsUnknown>,
    /// `<ccf-assist state=...>`.
    pub ccf_assist: Option<bool>,
    /// `<xen>`: its features in libvirt's order.
    pub xen: Option<Vec<XenFeature>>,
    /// `<cfpc value=...>`.
    pub cfpc: Option<SpeculationValue>,
    /// `<sbbc value=...>`.
    pub sbbc: Option<SpeculationValue>,
    /// `<ibs value=...>`.
    pub ibs: Option<IbsValue>,
    /// `<tcg><tb-cache>`: the translation block cache size in KiB.
    pub tcg_tb_cache_kib: Option<u64>,
    /// What the model does not know (comments, attributes), kept as written.
    pub unknown: Unknown,
}

/// Feature names libvirt 9.0 knows, in its order.
pub const FEATURE_NAMES: &[&str] = &[
    "acpi",
    "apic",
    "pae",
    "hap",
    "viridian",
    "privnet",
    "hyperv",
    "kvm",
    "pvspinlock",
    "capabilities",
    "pmu",
    "vmport",
    "gic",
    "smm",
    "ioapic",
    "hpt",
    "vmcoreinfo",
    "htm",
    "nested-hv",
    "msrs",
    "ccf-assist",
    "xen",
    "cfpc",
    "sbbc",
    "ibs",
    "tcg",
];

impl Features {
    /// Whether no feature is set, so that libvirt would not write `<features>` at all.
    pub fn is_empty(&self) -> bool {
        let caps_empty = self
            .capabilities
            .as_ref()
            .is_none_or(Capabilities::is_empty);
        let rest = Features {
            capabilities: None,
            unknown: Unknown::default(),
            ..self.clone()
        };
        caps_empty && rest == Features::default() && self.unknown.is_empty()
    }

    fn read_one(&mut self, el: &Element, ctx: &mut Context) -> Result<()> {
        let mut c = Cursor::new(el);
        match el.name.as_str() {
            "acpi" => self.acpi = true,
            "pae" => self.pae = true,
            "viridian" => self.viridian = true,
            "privnet" => self.privnet = true,
            "apic" => self.apic = Some(c.prop_on_off("eoi", PropFlags::NONE)?),
            "hap" => self.hap = Some(optional_state(&mut c)?),
            "pmu" => self.pmu = Some(optional_state(&mut c)?),
            "pvspinlock" => self.pvspinlock = Some(optional_state(&mut c)?),
            "vmport" => self.vmport = Some(optional_state(&mut c)?),
            "vmcoreinfo" => self.vmcoreinfo = Some(optional_state(&mut c)?),
            "htm" => self.htm = Some(c.required_on_off("state")?),
            "nested-hv" => self.nested_hv = Some(c.required_on_off("state")?),
            "ccf-assist" => self.ccf_assist = Some(c.required_on_off("state")?),
            "msrs" => self.msrs = Some(c.required_enum_attr("unknown")?),
            "gic" => self.gic = Some(c.enum_attr("version")?),
            "ioapic" => self.ioapic = c.enum_attr("driver")?,
            "cfpc" => self.cfpc = c.enum_attr("value")?,
            "sbbc" => self.sbbc = c.enum_attr("value")?,
            "ibs" => self.ibs = c.enum_attr("value")?,
            "smm" => self.smm = Some(read_smm(&mut c, ctx)?),
            "hpt" => self.hpt = read_hpt(&mut c, ctx)?,
            "tcg" => self.tcg_tb_cache_kib = read_tcg(&mut c, ctx)?,
            "hyperv" => {
                self.hyperv = Some(Hyperv::read(el, ctx)?);
                return Ok(());
            }
            "kvm" => {
                self.kvm = Some(groups::read_kvm(el, ctx)?);
                return Ok(());
            }
            "xen" => {
                self.xen = Some(groups::read_xen(el, ctx)?);
                return Ok(());
            }
            "capabilities" => {
                self.capabilities = Some(Capabilities::read(el, ctx)?);
                return Ok(());
            }
            other => {
                return Err(
                    XmlError::unsupported(format!("unexpected feature '{other}'")).at(el.position),
                )
            }
        }
        finish_leaf(c, ctx);
        Ok(())
    }
}

/// `state='on|off'`, on when absent.
fn optional_state(c: &mut Cursor<'_>) -> Result<bool> {
    Ok(c.prop_on_off("state", PropFlags::NONE)?.unwrap_or(true))
}

fn read_smm(c: &mut Cursor<'_>, ctx: &mut Context) -> Result<Smm> {
    let on = optional_state(c)?;
    let mut tseg_bytes = None;
    if let Some(t) = c.child("tseg") {
        if on {
            let mut tc = Cursor::new(t);
            let unit = tc.attr("unit");
            let text = tc.text();
            if !text.is_empty() {
                tseg_bytes = Some(
                    parse_scaled_for(
                        &text,
                        unit,
                        1 << 20,
                        u64::MAX,
                        "string(./features/smm/tseg)",
                    )
                    .map_err(|e| e.at(t.position))?,
                );
            }
            finish_leaf(tc, ctx);
        }
    }
    Ok(Smm { on, tseg_bytes })
}

fn read_hpt(c: &mut Cursor<'_>, ctx: &mut Context) -> Result<Option<Hpt>> {
    let resizing = c.enum_attr("resizing")?;
    let mut maxpagesize_kib = None;
    if let Some(m) = c.child("maxpagesize") {
        let mut mc = Cursor::new(m);
        let unit = mc.attr("unit");
        let text = mc.text();
        if !text.is_empty() {
            let bytes = parse_scaled(&text, unit, 1024, u64::MAX).map_err(|_| {
                XmlError::unsupported("Unable to parse HPT maxpagesize setting").at(m.position)
            })?;
            maxpagesize_kib = Some(bytes.div_ceil(1024)).filter(|k| *k > 0);
        }
        finish_leaf(mc, ctx);
    }
    if resizing.is_none() && maxpagesize_kib.is_none() {
        return Ok(None);
    }
    Ok(Some(Hpt {
        resizing,
        maxpagesize_kib,
    }))
}

fn read_tcg(c: &mut Cursor<'_>, ctx: &mut Context) -> Result<Option<u64>> {
    let Some(t) = c.child("tb-cache") else {
        return Ok(None);
    };
    let mut tc = Cursor::new(t);
    let unit = tc.attr("unit");
    let text = tc.text();
    finish_leaf(tc, ctx);
    if text.is_empty() {
        return Ok(None);
    }
    let kib = parse_memory_kib_for(&text, unit, "./tb-cache").map_err(|e| e.at(t.position))?;
    Ok(Some(kib).filter(|k| *k > 0))
}

fn state_element(name: &str, on: Option<bool>) -> Option<Element> {
    on.map(|on| Element::new(name).with_attr("state", if on { "on" } else { "off" }))
}

impl XmlModel for Features {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let mut f = Features::default();
        for child in c.children_where(|_| true) {
            f.read_one(child, ctx)?;
        }
        f.unknown = c.finish(ctx);
        Ok(f)
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("features");
        let flag = |on: bool, name: &str| on.then(|| Element::new(name));
        b.opt_child(flag(self.acpi, "acpi"));
        if let Some(eoi) = self.apic {
            let mut e = Element::new("apic");
            if let Some(eoi) = eoi {
                e.set_attr("eoi", if eoi { "on" } else { "off" });
            }
            b.child(e);
        }
        b.opt_child(flag(self.pae, "pae"));
        b.opt_child(state_element("hap", self.hap));
        b.opt_child(flag(self.viridian, "viridian"));
        b.opt_child(flag(self.privnet, "privnet"));
        b.opt_child(self.hyperv.as_ref().map(Hyperv::write));
        b.opt_child(self.kvm.as_deref().map(groups::write_kvm));
        b.opt_child(state_element("pvspinlock", self.pvspinlock));
        b.opt_child(
            self.capabilities
                .as_ref()
                .filter(|c| !c.is_empty())
                .map(Capabilities::write),
        );
        b.opt_child(state_element("pmu", self.pmu));
        b.opt_child(state_element("vmport", self.vmport));
        if let Some(version) = self.gic {
            let mut e = Element::new("gic");
            if let Some(v) = version {
                e.set_attr("version", v.to_string());
            }
            b.child(e);
        }
        if let Some(smm) = self.smm {
            let mut e = Element::new("smm").with_attr("state", if smm.on { "on" } else { "off" });
            if let Some(bytes) = smm.tseg_bytes.filter(|_| smm.on) {
                let (value, unit) = pretty_bytes(bytes);
                e.push(
                    Element::new("tseg")
                        .with_attr("unit", unit)
                        .with_text(value.to_string()),
                );
            }
            b.child(e);
        }
        if let Some(d) = self.ioapic {
            b.child(Element::new("ioapic").with_attr("driver", d.to_string()));
        }
        if let Some(hpt) = self.hpt {
            let mut e = Element::new("hpt");
            if let Some(r) = hpt.resizing {
                e.set_attr("resizing", r.to_string());
            }
            if let Some(k) = hpt.maxpagesize_kib {
                e.push(
                    Element::new("maxpagesize")
                        .with_attr("unit", "KiB")
                        .with_text(k.to_string()),
                );
            }
            b.child(e);
        }
        b.opt_child(state_element("vmcoreinfo", self.vmcoreinfo));
        b.opt_child(state_element("htm", self.htm));
        b.opt_child(state_element("nested-hv", self.nested_hv));
        if let Some(m) = self.msrs {
            b.child(Element::new("msrs").with_attr("unknown", m.to_string()));
        }
        b.opt_child(state_element("ccf-assist", self.ccf_assist));
        b.opt_child(self.xen.as_deref().map(groups::write_xen));
        for (name, value) in [
            ("cfpc", self.cfpc.map(|v| v.as_xml_str())),
            ("sbbc", self.sbbc.map(|v| v.as_xml_str())),
            ("ibs", self.ibs.map(|v| v.as_xml_str())),
        ] {
            if let Some(v) = value {
                b.child(Element::new(name).with_attr("value", v));
            }
        }
        if let Some(k) = self.tcg_tb_cache_kib {
            b.child(
                Element::new("tcg").with_child(
                    Element::new("tb-cache")
                        .with_attr("unit", "KiB")
                        .with_text(k.to_string()),
                ),
            );
        }
        b.finish(&self.unknown)
    }
}

/// Guest power management (`<pm>`): whether the guest may suspend.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pm {
    /// `<suspend-to-mem enabled='yes|no'/>` (S3).
    pub suspend_to_mem: Option<bool>,
    /// `<suspend-to-disk enabled='yes|no'/>` (S4).
    pub suspend_to_disk: Option<bool>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl Pm {
    /// Whether nothing is set, so that libvirt would not write `<pm>`.
    pub fn is_empty(&self) -> bool {
        self.suspend_to_mem.is_none() && self.suspend_to_disk.is_none() && self.unknown.is_empty()
    }
}

fn read_pm_state(c: &mut Cursor<'_>, name: &str, ctx: &mut Context) -> Result<Option<bool>> {
    let Some(el) = c.child(name) else {
        return Ok(None);
    };
    let mut sc = Cursor::new(el);
    let enabled = sc.prop_yes_no("enabled", PropFlags::NONE)?;
    finish_leaf(sc, ctx);
    Ok(enabled)
}

impl XmlModel for Pm {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let suspend_to_mem = read_pm_state(&mut c, "suspend-to-mem", ctx)?;
        let suspend_to_disk = read_pm_state(&mut c, "suspend-to-disk", ctx)?;
        Ok(Pm {
            suspend_to_mem,
            suspend_to_disk,
            unknown: c.finish(ctx),
        })
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("pm");
        for (name, v) in [
            ("suspend-to-mem", self.suspend_to_mem),
            ("suspend-to-disk", self.suspend_to_disk),
        ] {
            if let Some(on) = v {
                b.child(Element::new(name).with_attr("enabled", oxvirt_xml::model::yes_no(on)));
            }
        }
        b.finish(&self.unknown)
    }
}

#[cfg(test)]
mod tests;
