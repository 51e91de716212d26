//! vCPU and I/O thread counts: `<vcpu>`, `<vcpus>`, `<iothreads>`, `<iothreadids>`.

use oxvirt_xml::model::{str_to_long_uip, PropFlags};
use oxvirt_xml::types::cpuset::{CpuSet, CPUSET_MAX};
use oxvirt_xml::{Builder, Context, Cursor, Element, Result, Unknown, XmlError, XmlModel};

use crate::util;

oxvirt_xml::xml_enum! {
    /// How vCPUs are placed on host CPUs (`placement`).
    pub enum VcpuPlacement {
        /// On the CPUs in `cpuset`, or on all of them.
        Static = "static",
        /// Where numad advises.
        Auto = "auto",
    }
}

/// The number of vCPUs (`<vcpu placement= cpuset= current=>N</vcpu>`).
///
/// libvirt always writes `placement` (static by default), ignores `cpuset` with automatic
/// placement, and writes `current` only when fewer vCPUs than the maximum are online.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vcpu {
    /// The maximum number of vCPUs.
    pub count: u32,
    /// The placement mode.
    pub placement: VcpuPlacement,
    /// Host CPUs the vCPUs may run on by default.
    pub cpuset: Option<CpuSet>,
    /// The number of vCPUs online at boot, when fewer than `count`.
    pub current: Option<u32>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl Default for Vcpu {
    /// One statically placed vCPU, what libvirt assumes without `<vcpu>`.
    fn default() -> Self {
        Vcpu {
            count: 1,
            placement: VcpuPlacement::Static,
            cpuset: None,
            current: None,
            unknown: Unknown::default(),
        }
    }
}

impl Vcpu {
    /// The number of vCPUs online at boot.
    pub fn current(&self) -> u32 {
        self.current.unwrap_or(self.count)
    }

    /// Takes the online count from individual vCPU states (`<vcpus>`), which libvirt
    /// prefers to the `current` attribute when they are given.
    pub fn apply_defaults(&mut self, individual: Option<&Vcpus>) {
        if let Some(v) = individual {
            let online = (0..self.count).filter(|&id| v.is_enabled(id)).count() as u32;
            self.current = (online < self.count).then_some(online);
        }
    }
}

impl XmlModel for Vcpu {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let text = c.text();
        let count = str_to_long_uip(&text, 10).ok_or_else(|| {
            XmlError::xml("maximum vcpus count must be an integer").at(el.position)
        })?;
        let current = c.prop_uint("current", 10, PropFlags::NONE)?;
        let placement = c.enum_attr("placement")?.unwrap_or(VcpuPlacement::Static);
        // libvirt ignores the CPU set of automatically placed vCPUs.
        let cpuset_text = c.attr("cpuset");
        let mut cpuset = match cpuset_text {
            Some(t) if placement == VcpuPlacement::Static => {
                Some(util::nonempty_bitmap(el, "cpuset", t)?)
            }
            _ => None,
        };
        if cpuset.as_ref().is_some_and(is_all_cpus) {
            cpuset = None;
        }
        if let Some(cur) = current {
            if cur > count {
                return Err(XmlError::invalid_arg(format!(
                    "maxvcpus must not be less than current vcpus ({count} < {cur})"
                ))
                .at(el.position));
            }
        }
        Ok(Vcpu {
            count,
            placement,
            cpuset,
            current: current.filter(|&cur| cur < count),
            unknown: c.finish(ctx),
        })
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("vcpu");
        b.attr("placement", self.placement);
        b.opt_attr("cpuset", self.cpuset.as_ref());
        b.opt_attr("current", self.current.filter(|&c| c < self.count));
        b.text(self.count.to_string());
        b.finish(&self.unknown)
    }
}

/// Whether `set` names every CPU a domain CPU mask can hold (libvirt omits such a set).
fn is_all_cpus(set: &CpuSet) -> bool {
    set.ranges() == [(0, CPUSET_MAX - 1)]
}

/// The state of each vCPU (`<vcpus>`), for vCPU hotplug.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Vcpus {
    /// One entry per vCPU.
    pub vcpus: Vec<VcpuState>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

/// One vCPU's state (`<vcpu id= enabled= hotpluggable= order=/>`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VcpuState {
    /// The vCPU number.
    pub id: u32,
    /// Whether it is online at boot.
    pub enabled: bool,
    /// Whether it can be unplugged and plugged again.
    pub hotpluggable: Option<bool>,
    /// The order in which it is plugged (never 0).
    pub order: Option<u32>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl Vcpus {
    /// Whether vCPU `id` is online: the last entry for it decides, absent ones are off.
    pub fn is_enabled(&self, id: u32) -> bool {
        self.vcpus
            .iter()
            .rev()
            .find(|v| v.id == id)
            .is_some_and(|v| v.enabled)
    }

    /// libvirt's checks, given the maximum vCPU count: every id below it, and no vCPU
    /// both offline and not hotpluggable.
    pub fn validate(&self, max_vcpus: u32) -> Result<()> {
        for v in &self.vcpus {
            if v.id >= max_vcpus {
                return Err(XmlError::xml(format!(
                    "vcpu id '{}' is out of range of maximum vcpu count",
                    v.id
                )));
            }
        }
        for id in 0..max_vcpus {
            let state = self.vcpus.iter().rev().find(|v| v.id == id);
            if let Some(v) = state {
                if !v.enabled && v.hotpluggable == Some(false) {
                    return Err(XmlError::unsupported(format!(
                        "vcpu '{id}' is both offline and not hotpluggable"
                    )));
                }
            }
        }
        Ok(())
    }

    /// Lists every vCPU below `max_vcpus` in order, as libvirt formats them: unlisted ones
    /// offline, and `hotpluggable` filled in (online ones not, offline ones yes). Left as
    /// it is when empty (libvirt then writes no `<vcpus>`) or when [`Vcpus::validate`]
    /// fails.
    pub fn apply_defaults(&mut self, max_vcpus: u32) {
        if self.validate(max_vcpus).is_err() || self.vcpus.is_empty() {
            return;
        }
        let mut out = Vec::with_capacity(max_vcpus as usize);
        for id in 0..max_vcpus {
            let mut v = self
                .vcpus
                .iter()
                .rev()
                .find(|v| v.id == id)
                .cloned()
                .unwrap_or(VcpuState {
                    id,
                    ..VcpuState::default()
                });
            v.hotpluggable.get_or_insert(!v.enabled);
            out.push(v);
        }
        self.vcpus = out;
    }
}

impl XmlModel for Vcpus {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let mut vcpus = Vec::new();
        for v in c.children("vcpu") {
            let mut vc = Cursor::new(v);
            let id = vc.required_uint("id", 10, PropFlags::NONE)?;
            let enabled = vc.required_yes_no("enabled")?;
            let hotpluggable = vc.prop_yes_no("hotpluggable", PropFlags::NONE)?;
            let order = vc
                .prop_uint("order", 10, PropFlags::NONE)?
                .filter(|&o| o != 0);
            vcpus.push(VcpuState {
                id,
                enabled,
                hotpluggable,
                order,
                unknown: vc.finish(ctx),
            });
        }
        Ok(Vcpus {
            vcpus,
            unknown: c.finish(ctx),
        })
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("vcpus");
        for v in &self.vcpus {
            let mut vb = Builder::new("vcpu");
            vb.attr("id", v.id);
            vb.yes_no("enabled", Some(v.enabled));
            vb.yes_no("hotpluggable", v.hotpluggable);
            vb.opt_attr("order", v.order);
            b.child(vb.finish(&v.unknown));
        }
        b.finish(&self.unknown)
    }
}

/// The number of I/O threads (`<iothreads>N</iothreads>`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Iothreads {
    /// How many I/O threads the domain has.
    pub count: u32,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

impl XmlModel for Iothreads {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let text = c.text();
        let count = if text.is_empty() {
            0
        } else {
            str_to_long_uip(&text, 10).ok_or_else(|| {
                XmlError::xml(format!("invalid iothreads count '{text}'")).at(el.position)
            })?
        };
        Ok(Iothreads {
            count,
            unknown: c.finish(ctx),
        })
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("iothreads");
        b.text(self.count.to_string());
        b.finish(&self.unknown)
    }
}

/// The I/O threads by id (`<iothreadids>`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IothreadIds {
    /// The I/O threads, in the order libvirt keeps them.
    pub iothreads: Vec<IothreadId>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

/// One I/O thread (`<iothread id= thread_pool_min= thread_pool_max=>`); its `<poll>` is
/// kept as written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IothreadId {
    /// The thread's id (from 1).
    pub id: u32,
    /// The least number of worker threads.
    pub thread_pool_min: Option<i32>,
    /// The most worker threads.
    pub thread_pool_max: Option<i32>,
    /// What the model does not know (`<poll>` included), kept as written.
    pub unknown: Unknown,
}

impl IothreadIds {
    /// The ids of every I/O thread, in libvirt's order: those listed here, then the ones
    /// libvirt adds (the lowest unused ids from 1) until there are `count` threads.
    pub fn all_ids(count: Option<&Iothreads>, ids: Option<&IothreadIds>) -> Vec<u32> {
        let mut out: Vec<u32> = ids
            .map(|i| i.iothreads.iter().map(|t| t.id).collect())
            .unwrap_or_default();
        let want = count.map_or(0, |c| c.count) as usize;
        let mut next = 1u32;
        while out.len() < want {
            if !out.contains(&next) {
                out.push(next);
            }
            next += 1;
        }
        out
    }

    /// libvirt's post-parse I/O thread bookkeeping: the count becomes the number of
    /// threads (none when zero), and a listed set of threads gains the ones libvirt adds.
    pub fn apply_defaults(count: &mut Option<Iothreads>, ids: &mut Option<IothreadIds>) {
        let all = Self::all_ids(count.as_ref(), ids.as_ref());
        match count {
            Some(c) if all.is_empty() => {
                if c.unknown.is_empty() {
                    *count = None;
                } else {
                    c.count = 0;
                }
            }
            Some(c) => c.count = all.len() as u32,
            None if !all.is_empty() => {
                *count = Some(Iothreads {
                    count: all.len() as u32,
                    unknown: Unknown::default(),
                })
            }
            None => {}
        }
        if let Some(list) = ids {
            for id in all.into_iter().skip(list.iothreads.len()) {
                list.iothreads.push(IothreadId {
                    id,
                    ..IothreadId::default()
                });
            }
        }
    }

    /// libvirt's checks of the thread pool sizes.
    pub fn validate(&self) -> Result<()> {
        for t in &self.iothreads {
            if t.thread_pool_max == Some(0) {
                return Err(XmlError::unsupported(
                    "thread_pool_max must be a positive integer",
                ));
            }
            if let (Some(min), Some(max)) = (t.thread_pool_min, t.thread_pool_max) {
                if min > max {
                    return Err(XmlError::unsupported(
                        "thread_pool_min must be smaller or equal to thread_pool_max",
                    ));
                }
            }
        }
        Ok(())
    }
}

impl XmlModel for IothreadIds {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let mut iothreads: Vec<IothreadId> = Vec::new();
        for t in c.children("iothread") {
            let mut tc = Cursor::new(t);
            let id = tc.required_uint("id", 10, PropFlags::NONZERO)?;
            let thread_pool_min = tc.prop_int("thread_pool_min", 10, PropFlags::NONNEGATIVE)?;
            let thread_pool_max = tc.prop_int("thread_pool_max", 10, PropFlags::NONNEGATIVE)?;
            if iothreads.iter().any(|o| o.id == id) {
                return Err(
                    XmlError::xml(format!("duplicate iothread id '{id}' found")).at(t.position)
                );
            }
            iothreads.push(IothreadId {
                id,
                thread_pool_min,
                thread_pool_max,
                unknown: tc.finish_known(ctx, &["poll"]),
            });
        }
        Ok(IothreadIds {
            iothreads,
            unknown: c.finish(ctx),
        })
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("iothreadids");
        for t in &self.iothreads {
            let mut tb = Builder::new("iothread");
            tb.attr("id", t.id);
            tb.opt_attr("thread_pool_min", t.thread_pool_min);
            tb.opt_attr("thread_pool_max", t.thread_pool_max);
            b.child(tb.finish(&t.unknown));
        }
        b.finish(&self.unknown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxvirt_xml::to_string;

    use crate::util::read_model as read;

    #[test]
    fn vcpu_round_trip_and_defaults() {
        let v: Vcpu = read("<vcpu>4</vcpu>").unwrap();
        assert_eq!(
            to_string(&v.to_element()),
            "<vcpu placement='static'>4</vcpu>\n"
        );
        let xml = "<vcpu placement='static' cpuset='0-1' current='2'>4</vcpu>\n";
        let v: Vcpu = read(xml).unwrap();
        assert_eq!(to_string(&v.to_element()), xml);
        let v: Vcpu = read("<vcpu placement='auto' cpuset='1' current='6'>6</vcpu>").unwrap();
        assert_eq!(
            to_string(&v.to_element()),
            "<vcpu placement='auto'>6</vcpu>\n"
        );
        assert_eq!(Vcpu::default().to_element().text(), "1");
    }

    #[test]
    fn vcpu_errors() {
        let e = read::<Vcpu>("<vcpu>x</vcpu>").unwrap_err();
        assert_eq!(e.message, "maximum vcpus count must be an integer");
        let e = read::<Vcpu>("<vcpu current='3'>2</vcpu>").unwrap_err();
        assert_eq!(
            e.message,
            "maxvcpus must not be less than current vcpus (2 < 3)"
        );
        let e = read::<Vcpu>("<vcpu cpuset='0,^0'>2</vcpu>").unwrap_err();
        assert_eq!(e.message, "Invalid value of 'cpuset': 0,^0");
        let e = read::<Vcpu>("<vcpu placement='x'>2</vcpu>").unwrap_err();
        assert_eq!(
            e.message,
            "Invalid value for attribute 'placement' in element 'vcpu': 'x'."
        );
    }

    #[test]
    fn individual_vcpus() {
        let xml = "<vcpus>\n  <vcpu id='0' enabled='no' hotpluggable='yes' order='1'/>\n  \
                   <vcpu id='1' enabled='yes' hotpluggable='no'/>\n</vcpus>\n";
        let mut v: Vcpus = read(xml).unwrap();
        assert_eq!(to_string(&v.to_element()), xml);
        v.apply_defaults(3);
        assert_eq!(v.vcpus.len(), 3);
        assert_eq!(v.vcpus[2].hotpluggable, Some(true));
        assert!(v.validate(3).is_ok());
        assert_eq!(
            v.validate(1).unwrap_err().message,
            "vcpu id '1' is out of range of maximum vcpu count"
        );
        let mut vcpu: Vcpu = read("<vcpu current='3'>3</vcpu>").unwrap();
        vcpu.apply_defaults(Some(&v));
        assert_eq!(vcpu.current, Some(1));
        let bad: Vcpus =
            read("<vcpus><vcpu id='0' enabled='no' hotpluggable='no'/></vcpus>").unwrap();
        assert_eq!(
            bad.validate(1).unwrap_err().message,
            "vcpu '0' is both offline and not hotpluggable"
        );
    }

    #[test]
    fn iothread_ids_filled_like_libvirt() {
        let mut count = Some(read::<Iothreads>("<iothreads>4</iothreads>").unwrap());
        let mut ids = Some(
            read::<IothreadIds>("<iothreadids><iothread id='5'/><iothread id='6'/></iothreadids>")
                .unwrap(),
        );
        assert_eq!(
            IothreadIds::all_ids(count.as_ref(), ids.as_ref()),
            [5, 6, 1, 2]
        );
        IothreadIds::apply_defaults(&mut count, &mut ids);
        assert_eq!(count.as_ref().unwrap().count, 4);
        assert_eq!(
            to_string(&ids.as_ref().unwrap().to_element()),
            "<iothreadids>\n  <iothread id='5'/>\n  <iothread id='6'/>\n  <iothread id='1'/>\n  \
             <iothread id='2'/>\n</iothreadids>\n"
        );
        let xml =
            "<iothreadids>\n  <iothread id='2' thread_pool_min='0' thread_pool_max='60'>\n    \
                   <poll max='1'/>\n  </iothread>\n</iothreadids>\n";
        let t: IothreadIds = read(xml).unwrap();
        assert_eq!(to_string(&t.to_element()), xml);
        let e =
            read::<IothreadIds>("<iothreadids><iothread id='1'/><iothread id='1'/></iothreadids>")
                .unwrap_err();
        assert_eq!(e.message, "duplicate iothread id '1' found");
        let e = read::<IothreadIds>("<iothreadids><iothread id='0'/></iothreadids>").unwrap_err();
        assert_eq!(
            e.message,
            "Invalid value for attribute 'id' in element 'iothread': Zero is not permitted"
        );
        let e = read::<Iothreads>("<iothreads>-1</iothreads>").unwrap_err();
        assert_eq!(e.message, "invalid iothreads count '-1'");
    }
}
