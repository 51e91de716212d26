//! Features with children of their own: `<hyperv>`, `<kvm>`, `<xen>` and `<capabilities>`.
//!
//! libvirt keeps each child in a table indexed by its name and writes the table in its own
//! order, whatever order the children were read in; a child given twice counts once, the last
//! time. These models keep their children in that order too.

use oxvirt_xml::model::PropFlags;
use oxvirt_xml::{Context, Cursor, Element, Node, Result, XmlEnum, XmlError};

use crate::util::finish_leaf;

oxvirt_xml::xml_enum! {
    /// How Hyper-V enlightenments are chosen (`<hyperv mode=...>`).
    pub enum HypervMode {
        /// The ones listed.
        Custom = "custom",
        /// All the host supports.
        Passthrough = "passthrough",
    }
}

oxvirt_xml::xml_enum! {
    /// A Hyper-V enlightenment, in libvirt's order.
    pub enum HypervFeatureName {
        /// Relaxed timing.
        Relaxed = "relaxed",
        /// Virtual APIC.
        Vapic = "vapic",
        /// Spinlock retries.
        Spinlocks = "spinlocks",
        /// Virtual processor index.
        Vpindex = "vpindex",
        /// Processor time spent on the guest.
        Runtime = "runtime",
        /// Synthetic interrupt controller.
        Synic = "synic",
        /// Synthetic timers.
        Stimer = "stimer",
        /// Hypervisor reset.
        Reset = "reset",
        /// Hypervisor vendor id.
        VendorId = "vendor_id",
        /// Frequency MSRs.
        Frequencies = "frequencies",
        /// Re-enlightenment notifications.
        Reenlightenment = "reenlightenment",
        /// PV TLB flush.
        Tlbflush = "tlbflush",
        /// PV IPI.
        Ipi = "ipi",
        /// Enlightened VMCS.
        Evmcs = "evmcs",
        /// AVIC.
        Avic = "avic",
    }
}

/// Hyper-V enlightenments in libvirt's order.
const HYPERV_ORDER: &[HypervFeatureName] = &[
    HypervFeatureName::Relaxed,
    HypervFeatureName::Vapic,
    HypervFeatureName::Spinlocks,
    HypervFeatureName::Vpindex,
    HypervFeatureName::Runtime,
    HypervFeatureName::Synic,
    HypervFeatureName::Stimer,
    HypervFeatureName::Reset,
    HypervFeatureName::VendorId,
    HypervFeatureName::Frequencies,
    HypervFeatureName::Reenlightenment,
    HypervFeatureName::Tlbflush,
    HypervFeatureName::Ipi,
    HypervFeatureName::Evmcs,
    HypervFeatureName::Avic,
];

/// The longest Hyper-V vendor id libvirt accepts.
const HYPERV_VENDOR_ID_MAX: usize = 12;

/// One Hyper-V enlightenment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HypervFeature {
    /// Which one.
    pub name: HypervFeatureName,
    /// `state='on|off'`.
    pub on: bool,
    /// `retries` of `spinlocks` (kept when on).
    pub retries: Option<u32>,
    /// `value` of `vendor_id` (kept when on).
    pub value: Option<String>,
    /// `<direct state='on'/>` of `stimer` (kept when on).
    pub direct: bool,
}

/// Hyper-V enlightenments (`<hyperv>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hyperv {
    /// `mode`, `custom` when absent.
    pub mode: HypervMode,
    /// The enlightenments, in libvirt's order.
    pub features: Vec<HypervFeature>,
}

oxvirt_xml::xml_enum! {
    /// A KVM feature, in libvirt's order.
    pub enum KvmFeatureName {
        /// Hide the KVM signature.
        Hidden = "hidden",
        /// Dedicated vCPUs hint.
        HintDedicated = "hint-dedicated",
        /// Haltpoll control.
        PollControl = "poll-control",
        /// PV IPIs.
        PvIpi = "pv-ipi",
        /// Dirty ring for dirty page tracking.
        DirtyRing = "dirty-ring",
    }
}

const KVM_ORDER: &[KvmFeatureName] = &[
    KvmFeatureName::Hidden,
    KvmFeatureName::HintDedicated,
    KvmFeatureName::PollControl,
    KvmFeatureName::PvIpi,
    KvmFeatureName::DirtyRing,
];

/// One KVM feature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvmFeature {
    /// Which one.
    pub name: KvmFeatureName,
    /// `state='on|off'`.
    pub on: bool,
    /// `size` of `dirty-ring` (kept when on).
    pub size: Option<u32>,
}

oxvirt_xml::xml_enum! {
    /// A Xen feature, in libvirt's order.
    pub enum XenFeatureName {
        /// Use the host's e820 map.
        E820Host = "e820_host",
        /// PCI passthrough.
        Passthrough = "passthrough",
    }
}

oxvirt_xml::xml_enum! {
    /// Xen passthrough mode.
    pub enum XenPassthroughMode {
        /// Synchronized page tables.
        SyncPt = "sync_pt",
        /// Shared page tables.
        SharePt = "share_pt",
    }
}

const XEN_ORDER: &[XenFeatureName] = &[XenFeatureName::E820Host, XenFeatureName::Passthrough];

/// One Xen feature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XenFeature {
    /// Which one.
    pub name: XenFeatureName,
    /// `state='on|off'`.
    pub on: bool,
    /// `mode` of `passthrough` (kept when on).
    pub mode: Option<XenPassthroughMode>,
}

oxvirt_xml::xml_enum! {
    /// The default for process capabilities not listed (`<capabilities policy=...>`).
    pub enum CapabilitiesPolicy {
        /// The driver's default.
        Default = "default",
        /// Allow them.
        Allow = "allow",
        /// Deny them.
        Deny = "deny",
    }
}

/// Linux process capabilities a container may be given, in libvirt's order.
pub const PROCESS_CAPS: &[&str] = &[
    "audit_control",
    "audit_write",
    "block_suspend",
    "chown",
    "dac_override",
    "dac_read_search",
    "fowner",
    "fsetid",
    "ipc_lock",
    "ipc_owner",
    "kill",
    "lease",
    "linux_immutable",
    "mac_admin",
    "mac_override",
    "mknod",
    "net_admin",
    "net_bind_service",
    "net_broadcast",
    "net_raw",
    "setgid",
    "setfcap",
    "setpcap",
    "setuid",
    "sys_admin",
    "sys_boot",
    "sys_chroot",
    "sys_module",
    "sys_nice",
    "sys_pacct",
    "sys_ptrace",
    "sys_rawio",
    "sys_resource",
    "sys_time",
    "sys_tty_config",
    "syslog",
    "wake_alarm",
];

/// A container's process capabilities (`<capabilities>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    /// `policy`.
    pub policy: CapabilitiesPolicy,
    /// Capabilities and whether each is granted, in libvirt's order.
    pub caps: Vec<(String, bool)>,
}

/// Inserts `item` keeping `list` sorted by `rank` (each item's place in libvirt's order),
/// replacing an item of the same rank.
fn place<T>(list: &mut Vec<T>, rank: impl Fn(&T) -> usize, item: T) {
    let r = rank(&item);
    list.retain(|x| rank(x) != r);
    let at = list.iter().position(|x| rank(x) > r).unwrap_or(list.len());
    list.insert(at, item);
}

/// The place of `k` in `order`.
fn rank_in<K: PartialEq>(order: &[K], k: &K) -> usize {
    order.iter().position(|o| o == k).unwrap_or(usize::MAX)
}

/// A child's `state`, which these features all require.
fn state(c: &mut Cursor<'_>) -> Result<bool> {
    c.required_on_off("state")
}

/// libvirt writes an empty `<hyperv>`/`<kvm>`/`<xen>` with its closing tag on the next
/// line; this text reproduces that inside a domain's `<features>`.
fn empty_body(el: &mut Element) {
    if el.children.is_empty() {
        el.children.push(Node::Text("\n    ".to_string()));
    }
}

impl Hyperv {
    pub(super) fn read(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let mode = match c.attr("mode") {
            None => HypervMode::Custom,
            Some(v) => HypervMode::from_xml_str(v).ok_or_else(|| c.invalid_value("mode", v, ""))?,
        };
        let mut features = Vec::new();
        for child in c.children_where(|_| true) {
            let name = HypervFeatureName::from_xml_str(&child.name).ok_or_else(|| {
                XmlError::unsupported(format!(
                    "unsupported HyperV Enlightenment feature: {}",
                    child.name
                ))
                .at(child.position)
            })?;
            let mut fc = Cursor::new(child);
            let on = state(&mut fc)?;
            let mut f = HypervFeature {
                name,
                on,
                retries: None,
                value: None,
                direct: false,
            };
            if on {
                read_hyperv_extra(&mut f, &mut fc, child, ctx)?;
            }
            finish_leaf(fc, ctx);
            place(
                &mut features,
                |x: &HypervFeature| rank_in(HYPERV_ORDER, &x.name),
                f,
            );
        }
        finish_leaf(c, ctx);
        Ok(Hyperv { mode, features })
    }

    pub(super) fn write(&self) -> Element {
        let mut el = Element::new("hyperv").with_attr("mode", self.mode.to_string());
        for f in &self.features {
            let mut e = Element::new(f.name.to_string())
                .with_attr("state", if f.on { "on" } else { "off" });
            if let Some(r) = f.retries {
                e.set_attr("retries", r.to_string());
            }
            if let Some(v) = &f.value {
                e.set_attr("value", v.as_str());
            }
            if f.direct {
                e.push(Element::new("direct").with_attr("state", "on"));
            }
            el.push(e);
        }
        empty_body(&mut el);
        el
    }
}

fn read_hyperv_extra(
    f: &mut HypervFeature,
    fc: &mut Cursor<'_>,
    child: &Element,
    ctx: &mut Context,
) -> Result<()> {
    match f.name {
        HypervFeatureName::Spinlocks => {
            let v = fc.required_uint("retries", 0, PropFlags::NONE)?;
            if v < 0xFFF {
                return Err(
                    XmlError::xml("HyperV spinlock retry count must be at least 4095")
                        .at(child.position),
                );
            }
            f.retries = Some(v);
        }
        HypervFeatureName::VendorId => {
            let Some(v) = fc.attr_string("value") else {
                return Err(XmlError::xml(
                    "missing 'value' attribute for HyperV feature 'vendor_id'",
                )
                .at(child.position));
            };
            if v.len() > HYPERV_VENDOR_ID_MAX {
                return Err(XmlError::xml(format!(
                    "HyperV vendor_id value must not be more than {HYPERV_VENDOR_ID_MAX} characters."
                ))
                .at(child.position));
            }
            if v.contains(',') {
                return Err(XmlError::xml("HyperV vendor_id value is invalid").at(child.position));
            }
            f.value = Some(v);
        }
        HypervFeatureName::Stimer => {
            for d in fc.children_where(|_| true) {
                if d.name != "direct" {
                    return Err(XmlError::unsupported(format!(
                        "unsupported Hyper-V stimer feature: {}",
                        d.name
                    ))
                    .at(d.position));
                }
                let mut dc = Cursor::new(d);
                f.direct = state(&mut dc)?;
                finish_leaf(dc, ctx);
            }
        }
        _ => {}
    }
    Ok(())
}

/// Reads `<kvm>`.
pub(super) fn read_kvm(el: &Element, ctx: &mut Context) -> Result<Vec<KvmFeature>> {
    let mut c = Cursor::new(el);
    let mut out = Vec::new();
    for child in c.children_where(|_| true) {
        let name = KvmFeatureName::from_xml_str(&child.name).ok_or_else(|| {
            XmlError::unsupported(format!("unsupported KVM feature: {}", child.name))
                .at(child.position)
        })?;
        let mut fc = Cursor::new(child);
        let on = state(&mut fc)?;
        let mut size = None;
        if name == KvmFeatureName::DirtyRing && on {
            let v = fc.required_uint("size", 0, PropFlags::NONE)?;
            if !v.is_power_of_two() || !(1024..=65536).contains(&v) {
                return Err(XmlError::xml(
                    "dirty ring must be power of 2 and ranges [1024, 65536]",
                )
                .at(child.position));
            }
            size = Some(v);
        }
        finish_leaf(fc, ctx);
        place(
            &mut out,
            |x: &KvmFeature| rank_in(KVM_ORDER, &x.name),
            KvmFeature { name, on, size },
        );
    }
    finish_leaf(c, ctx);
    Ok(out)
}

/// Writes `<kvm>`.
pub(super) fn write_kvm(features: &[KvmFeature]) -> Element {
    let mut el = Element::new("kvm");
    for f in features {
        let mut e =
            Element::new(f.name.to_string()).with_attr("state", if f.on { "on" } else { "off" });
        if let Some(s) = f.size {
            e.set_attr("size", s.to_string());
        }
        el.push(e);
    }
    empty_body(&mut el);
    el
}

/// Reads `<xen>`.
pub(super) fn read_xen(el: &Element, ctx: &mut Context) -> Result<Vec<XenFeature>> {
    let mut c = Cursor::new(el);
    let mut out = Vec::new();
    for child in c.children_where(|_| true) {
        let name = XenFeatureName::from_xml_str(&child.name).ok_or_else(|| {
            XmlError::unsupported(format!("unsupported Xen feature: {}", child.name))
                .at(child.position)
        })?;
        let mut fc = Cursor::new(child);
        let on = state(&mut fc)?;
        let mode = if name == XenFeatureName::Passthrough && on {
            fc.enum_attr("mode")?
        } else {
            None
        };
        finish_leaf(fc, ctx);
        place(
            &mut out,
            |x: &XenFeature| rank_in(XEN_ORDER, &x.name),
            XenFeature { name, on, mode },
        );
    }
    finish_leaf(c, ctx);
    Ok(out)
}

/// Writes `<xen>`.
pub(super) fn write_xen(features: &[XenFeature]) -> Element {
    let mut el = Element::new("xen");
    for f in features {
        let mut e =
            Element::new(f.name.to_string()).with_attr("state", if f.on { "on" } else { "off" });
        if let Some(m) = f.mode {
            e.set_attr("mode", m.to_string());
        }
        el.push(e);
    }
    empty_body(&mut el);
    el
}

impl Capabilities {
    pub(super) fn read(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let policy = c
            .enum_attr("policy")?
            .unwrap_or(CapabilitiesPolicy::Default);
        let mut caps = Vec::new();
        for child in c.children_where(|_| true) {
            let Some(name) = PROCESS_CAPS.iter().find(|n| **n == child.name) else {
                return Err(XmlError::unsupported(format!(
                    "unexpected capability feature '{}'",
                    child.name
                ))
                .at(child.position));
            };
            let mut fc = Cursor::new(child);
            let on = fc.prop_on_off("state", PropFlags::NONE)?.unwrap_or(true);
            finish_leaf(fc, ctx);
            place(
                &mut caps,
                |x: &(String, bool)| rank_in(PROCESS_CAPS, &x.0.as_str()),
                (name.to_string(), on),
            );
        }
        finish_leaf(c, ctx);
        Ok(Capabilities { policy, caps })
    }

    /// Whether libvirt would write nothing.
    pub fn is_empty(&self) -> bool {
        self.policy == CapabilitiesPolicy::Default && self.caps.is_empty()
    }

    pub(super) fn write(&self) -> Element {
        let mut el = Element::new("capabilities").with_attr("policy", self.policy.to_string());
        for (name, on) in &self.caps {
            el.push(Element::new(name.as_str()).with_attr("state", if *on { "on" } else { "off" }));
        }
        el
    }
}
