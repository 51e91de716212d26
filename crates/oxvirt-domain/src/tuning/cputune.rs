//! CPU tuning: `<cputune>`.

use oxvirt_xml::model::{str_to_long_ll, str_to_long_ullp, PropFlags};
use oxvirt_xml::types::cpuset::CpuSet;
use oxvirt_xml::{
    Builder, Context, Cursor, Element, ErrorCode, Result, Unknown, XmlError, XmlModel,
};

use crate::util;

use super::resctrl::{self, Cachetune, Memorytune};

oxvirt_xml::xml_enum! {
    /// A host scheduler policy (`scheduler`).
    pub enum Scheduler {
        /// `SCHED_BATCH`.
        Batch = "batch",
        /// `SCHED_IDLE`.
        Idle = "idle",
        /// `SCHED_FIFO`, with a priority.
        Fifo = "fifo",
        /// `SCHED_RR`, with a priority.
        Rr = "rr",
    }
}

/// A scheduler policy with its priority (real-time policies only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sched {
    /// The policy.
    pub scheduler: Scheduler,
    /// The priority, for `fifo` and `rr`.
    pub priority: Option<i32>,
}

/// Pinning of one vCPU (`<vcpupin vcpu= cpuset=/>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VcpuPin {
    /// The vCPU.
    pub vcpu: u32,
    /// The host CPUs it may run on.
    pub cpuset: CpuSet,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

/// Pinning of one I/O thread (`<iothreadpin iothread= cpuset=/>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IothreadPin {
    /// The I/O thread id.
    pub iothread: u32,
    /// The host CPUs it may run on.
    pub cpuset: CpuSet,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

/// Pinning of the emulator threads (`<emulatorpin cpuset=/>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmulatorPin {
    /// The host CPUs they may run on.
    pub cpuset: CpuSet,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

/// A scheduler for a set of threads (`<vcpusched vcpus=>`, `<iothreadsched iothreads=>`,
/// or `<emulatorsched>` without a set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadSched {
    /// The vCPUs or I/O threads (empty for the emulator).
    pub ids: CpuSet,
    /// The policy.
    pub sched: Sched,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

/// CPU tuning (`<cputune>`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cputune {
    /// CPU shares (`<shares>`), written even when 0.
    pub shares: Option<u64>,
    /// `<period>` in microseconds (0 is not kept: libvirt omits it).
    pub period: Option<u64>,
    /// `<quota>` in microseconds.
    pub quota: Option<i64>,
    /// `<global_period>`.
    pub global_period: Option<u64>,
    /// `<global_quota>`.
    pub global_quota: Option<i64>,
    /// `<emulator_period>`.
    pub emulator_period: Option<u64>,
    /// `<emulator_quota>`.
    pub emulator_quota: Option<i64>,
    /// `<iothread_period>`.
    pub iothread_period: Option<u64>,
    /// `<iothread_quota>`.
    pub iothread_quota: Option<i64>,
    /// vCPU pinning.
    pub vcpupins: Vec<VcpuPin>,
    /// Emulator pinning.
    pub emulatorpin: Option<EmulatorPin>,
    /// I/O thread pinning.
    pub iothreadpins: Vec<IothreadPin>,
    /// The emulator's scheduler.
    pub emulatorsched: Option<ThreadSched>,
    /// vCPU schedulers.
    pub vcpuscheds: Vec<ThreadSched>,
    /// I/O thread schedulers.
    pub iothreadscheds: Vec<ThreadSched>,
    /// Cache allocations, as libvirt keeps them (see [`resctrl::resolve`]).
    pub cachetunes: Vec<Cachetune>,
    /// Memory bandwidth allocations, as libvirt keeps them.
    pub memorytunes: Vec<Memorytune>,
    /// What the model does not know, kept as written.
    pub unknown: Unknown,
}

fn number<T>(el: &Element, what: &str, parse: fn(&str) -> Option<T>) -> Result<Option<T>> {
    match util::nonempty_text(el) {
        None => Ok(None),
        Some(t) => parse(&t).map(Some).ok_or_else(|| {
            XmlError::xml(format!("can't parse cputune {what} value")).at(el.position)
        }),
    }
}

fn parse_sched(c: &mut Cursor<'_>) -> Result<Sched> {
    let scheduler = c.required_enum_attr::<Scheduler>("scheduler")?;
    let priority = match scheduler {
        Scheduler::Fifo | Scheduler::Rr => c.prop_int("priority", 10, PropFlags::REQUIRED)?,
        // libvirt does not read a priority for other policies and drops it.
        Scheduler::Batch | Scheduler::Idle => {
            let _ = c.attr("priority");
            None
        }
    };
    Ok(Sched {
        scheduler,
        priority,
    })
}

/// Reads a `<vcpusched>` or `<iothreadsched>` (`attr` names its set).
fn parse_thread_sched(el: &Element, attr: &str, ctx: &mut Context) -> Result<ThreadSched> {
    let mut c = Cursor::new(el);
    let Some(text) = c.attr(attr) else {
        return Err(XmlError::xml(format!(
            "Missing attribute '{attr}' in element '{}'",
            el.name
        ))
        .at(el.position));
    };
    let ids = util::bitmap(el, text)?;
    if ids.is_empty() {
        return Err(
            XmlError::unsupported(format!("'{attr}' scheduler bitmap '{text}' is empty"))
                .at(el.position),
        );
    }
    let sched = parse_sched(&mut c)?;
    Ok(ThreadSched {
        ids,
        sched,
        unknown: c.finish(ctx),
    })
}

/// Sets of one scheduler kind may not overlap.
fn check_overlap(scheds: &[ThreadSched], element: &str, attr: &str) -> Result<()> {
    let mut seen = CpuSet::new();
    for s in scheds {
        if s.ids.intersects(&seen) {
            return Err(XmlError::new(
                ErrorCode::XmlDetail,
                format!("'{element}' attributes '{attr}' must not overlap"),
            ));
        }
        seen = seen.union(&s.ids);
    }
    Ok(())
}

/// One entry per thread, in the order of `order`.
fn split(scheds: &[ThreadSched], order: impl Iterator<Item = u32>) -> Vec<ThreadSched> {
    let mut out = Vec::new();
    for id in order {
        if let Some(s) = scheds.iter().find(|s| s.ids.contains(id)) {
            out.push(ThreadSched {
                ids: std::iter::once(id).collect(),
                sched: s.sched,
                unknown: s.unknown.clone(),
            });
        }
    }
    out
}

fn cannot_find_iothread(id: u32) -> XmlError {
    XmlError::unsupported(format!("Cannot find 'iothread' : {id}"))
}

impl Cputune {
    /// Whether libvirt writes nothing for it.
    pub fn is_empty(&self) -> bool {
        self.to_element().children.is_empty() && self.unknown.is_empty()
    }

    /// Whether any vCPU, emulator or I/O thread is pinned.
    pub fn has_pins(&self) -> bool {
        !self.vcpupins.is_empty() || self.emulatorpin.is_some() || !self.iothreadpins.is_empty()
    }

    /// libvirt's checks that need the maximum vCPU count and the I/O thread ids (see
    /// [`super::IothreadIds::all_ids`]): parse-time ones on referenced threads and the
    /// resctrl groups, then `virDomainDefCputuneValidate`'s ranges.
    pub fn validate(&self, vcpus: u32, iothread_ids: &[u32]) -> Result<()> {
        let mut pinned = Vec::new();
        for p in self.vcpupins.iter().filter(|p| p.vcpu < vcpus) {
            if pinned.contains(&p.vcpu) {
                return Err(XmlError::internal(format!(
                    "duplicate vcpupin for vcpu '{}'",
                    p.vcpu
                )));
            }
            pinned.push(p.vcpu);
        }
        let mut pinned = Vec::new();
        for p in &self.iothreadpins {
            if !iothread_ids.contains(&p.iothread) {
                return Err(cannot_find_iothread(p.iothread));
            }
            if pinned.contains(&p.iothread) {
                return Err(XmlError::internal(format!(
                    "duplicate iothreadpin for same iothread '{}'",
                    p.iothread
                )));
            }
            pinned.push(p.iothread);
        }
        for s in &self.vcpuscheds {
            if let Some(id) = s.ids.iter().find(|&id| id >= vcpus) {
                return Err(XmlError::unsupported(format!(
                    "vCPU '{id}' is not present in domain definition"
                )));
            }
        }
        for s in &self.iothreadscheds {
            if let Some(id) = s.ids.iter().find(|id| !iothread_ids.contains(id)) {
                return Err(cannot_find_iothread(id));
            }
        }
        resctrl::resolve(&self.cachetunes, &self.memorytunes, Some(vcpus))?;
        self.validate_ranges()
    }

    fn validate_ranges(&self) -> Result<()> {
        let periods = [
            ("period", self.period),
            ("global_period", self.global_period),
            ("emulator_period", self.emulator_period),
            ("iothread_period", self.iothread_period),
        ];
        for (name, v) in periods {
            if v.is_some_and(|v| !(1000..=1_000_000).contains(&v)) {
                return Err(XmlError::unsupported(format!(
                    "Value of cputune '{name}' must be in range [1000, 1000000]"
                )));
            }
        }
        let quotas = [
            ("quota", self.quota),
            ("global_quota", self.global_quota),
            ("emulator_quota", self.emulator_quota),
            ("iothread_quota", self.iothread_quota),
        ];
        for (name, v) in quotas {
            if v.is_some_and(|v| v > 0 && !(1000..=17_592_186_044_415).contains(&v)) {
                return Err(XmlError::unsupported(format!(
                    "Value of cputune '{name}' must be in range [1000, 17592186044415]"
                )));
            }
        }
        Ok(())
    }

    /// Rewrites the tuning as libvirt keeps it for a domain with `vcpus` vCPUs and the I/O
    /// threads `iothread_ids` (in libvirt's order): pins of absent vCPUs dropped and the
    /// rest by vCPU, I/O thread pins and schedulers in thread order, one scheduler element
    /// per thread, and the resctrl groups limited to existing vCPUs. Left as it is when
    /// [`Cputune::validate`] would fail.
    pub fn apply_defaults(&mut self, vcpus: u32, iothread_ids: &[u32]) {
        if self.validate(vcpus, iothread_ids).is_err() {
            return;
        }
        self.vcpupins.retain(|p| p.vcpu < vcpus);
        self.vcpupins.sort_by_key(|p| p.vcpu);
        let position = |id: u32| iothread_ids.iter().position(|&t| t == id);
        self.iothreadpins.sort_by_key(|p| position(p.iothread));
        self.vcpuscheds = split(&self.vcpuscheds, 0..vcpus);
        self.iothreadscheds = split(&self.iothreadscheds, iothread_ids.iter().copied());
        if let Ok((c, m)) = resctrl::resolve(&self.cachetunes, &self.memorytunes, Some(vcpus)) {
            self.cachetunes = c;
            self.memorytunes = m;
        }
    }
}

fn parse_pin_cpuset(el: &Element, c: &mut Cursor<'_>, what: &str) -> Result<CpuSet> {
    let Some(text) = c.attr("cpuset") else {
        return Err(XmlError::internal(format!("missing cpuset for {what}")).at(el.position));
    };
    util::nonempty_bitmap(el, "cpuset", text)
}

fn parse_children(c: &mut Cursor<'_>, t: &mut Cputune, ctx: &mut Context) -> Result<()> {
    for el in c.children("vcpupin") {
        let mut pc = Cursor::new(el);
        let vcpu = pc.required_uint("vcpu", 10, PropFlags::NONE)?;
        let cpuset = parse_pin_cpuset(el, &mut pc, "vcpupin")?;
        t.vcpupins.push(VcpuPin {
            vcpu,
            cpuset,
            unknown: pc.finish(ctx),
        });
    }
    let pins = c.children("emulatorpin");
    if pins.len() > 1 {
        return Err(XmlError::xml("only one emulatorpin is supported").at(pins[1].position));
    }
    if let Some(el) = pins.first() {
        let mut pc = Cursor::new(el);
        let cpuset = parse_pin_cpuset(el, &mut pc, "emulatorpin")?;
        t.emulatorpin = Some(EmulatorPin {
            cpuset,
            unknown: pc.finish(ctx),
        });
    }
    for el in c.children("iothreadpin") {
        let mut pc = Cursor::new(el);
        let iothread = pc.required_uint("iothread", 10, PropFlags::NONZERO)?;
        let cpuset = parse_pin_cpuset(el, &mut pc, "iothreadpin")?;
        if t.iothreadpins.iter().any(|p| p.iothread == iothread) {
            return Err(XmlError::internal(format!(
                "duplicate iothreadpin for same iothread '{iothread}'"
            ))
            .at(el.position));
        }
        t.iothreadpins.push(IothreadPin {
            iothread,
            cpuset,
            unknown: pc.finish(ctx),
        });
    }
    for el in c.children("vcpusched") {
        t.vcpuscheds.push(parse_thread_sched(el, "vcpus", ctx)?);
        check_overlap(&t.vcpuscheds, "vcpusched", "vcpus").map_err(|e| e.at(el.position))?;
    }
    for el in c.children("iothreadsched") {
        t.iothreadscheds
            .push(parse_thread_sched(el, "iothreads", ctx)?);
        check_overlap(&t.iothreadscheds, "iothreadsched", "iothreads")
            .map_err(|e| e.at(el.position))?;
    }
    let scheds = c.children("emulatorsched");
    if scheds.len() > 1 {
        return Err(XmlError::xml("only one emulatorsched is supported").at(scheds[1].position));
    }
    if let Some(el) = scheds.first() {
        let mut sc = Cursor::new(el);
        let sched = parse_sched(&mut sc)?;
        t.emulatorsched = Some(ThreadSched {
            ids: CpuSet::new(),
            sched,
            unknown: sc.finish(ctx),
        });
    }
    let mut cachetunes = Vec::new();
    for el in c.children("cachetune") {
        cachetunes.push(Cachetune::parse(el, ctx)?);
    }
    let mut memorytunes = Vec::new();
    for el in c.children("memorytune") {
        memorytunes.push(Memorytune::parse(el, ctx)?);
    }
    let (cachetunes, memorytunes) = resctrl::resolve(&cachetunes, &memorytunes, None)
        .map_err(|e| e.at(c.element().position))?;
    t.cachetunes = cachetunes;
    t.memorytunes = memorytunes;
    Ok(())
}

impl XmlModel for Cputune {
    fn from_element(el: &Element, ctx: &mut Context) -> Result<Self> {
        let mut c = Cursor::new(el);
        let mut t = Cputune::default();
        let nonzero_u = |v: Option<u64>| v.filter(|&v| v != 0);
        let nonzero_i = |v: Option<i64>| v.filter(|&v| v != 0);
        if let Some(e) = c.child("shares") {
            t.shares = number(e, "shares", |t| str_to_long_ullp(t, 10))?;
        }
        let unsigned: [(&str, &str, &mut Option<u64>); 4] = [
            ("period", "period", &mut t.period),
            ("global_period", "global period", &mut t.global_period),
            ("emulator_period", "emulator period", &mut t.emulator_period),
            ("iothread_period", "iothread period", &mut t.iothread_period),
        ];
        for (name, what, slot) in unsigned {
            if let Some(e) = c.child(name) {
                *slot = nonzero_u(number(e, what, |t| str_to_long_ullp(t, 10))?);
            }
        }
        let signed: [(&str, &str, &mut Option<i64>); 4] = [
            ("quota", "quota", &mut t.quota),
            ("global_quota", "global quota", &mut t.global_quota),
            ("emulator_quota", "emulator quota", &mut t.emulator_quota),
            ("iothread_quota", "iothread quota", &mut t.iothread_quota),
        ];
        for (name, what, slot) in signed {
            if let Some(e) = c.child(name) {
                *slot = nonzero_i(number(e, what, |t| str_to_long_ll(t, 10))?);
            }
        }
        parse_children(&mut c, &mut t, ctx)?;
        t.unknown = c.finish(ctx);
        Ok(t)
    }

    fn to_element(&self) -> Element {
        let mut b = Builder::new("cputune");
        b.opt_text_child("shares", self.shares);
        b.opt_text_child("period", self.period);
        b.opt_text_child("quota", self.quota);
        b.opt_text_child("global_period", self.global_period);
        b.opt_text_child("global_quota", self.global_quota);
        b.opt_text_child("emulator_period", self.emulator_period);
        b.opt_text_child("emulator_quota", self.emulator_quota);
        b.opt_text_child("iothread_period", self.iothread_period);
        b.opt_text_child("iothread_quota", self.iothread_quota);
        for p in &self.vcpupins {
            let mut pb = Builder::new("vcpupin");
            pb.attr("vcpu", p.vcpu).attr("cpuset", &p.cpuset);
            b.child(pb.finish(&p.unknown));
        }
        if let Some(p) = &self.emulatorpin {
            let mut pb = Builder::new("emulatorpin");
            pb.attr("cpuset", &p.cpuset);
            b.child(pb.finish(&p.unknown));
        }
        for p in &self.iothreadpins {
            let mut pb = Builder::new("iothreadpin");
            pb.attr("iothread", p.iothread).attr("cpuset", &p.cpuset);
            b.child(pb.finish(&p.unknown));
        }
        if let Some(s) = &self.emulatorsched {
            b.child(sched_element("emulatorsched", None, s));
        }
        for s in &self.vcpuscheds {
            b.child(sched_element("vcpusched", Some("vcpus"), s));
        }
        for s in &self.iothreadscheds {
            b.child(sched_element("iothreadsched", Some("iothreads"), s));
        }
        for t in &self.cachetunes {
            b.child(t.to_element());
        }
        for t in &self.memorytunes {
            b.child(t.to_element());
        }
        b.finish(&self.unknown)
    }
}

fn sched_element(name: &str, attr: Option<&str>, s: &ThreadSched) -> Element {
    let mut b = Builder::new(name);
    if let Some(a) = attr {
        b.attr(a, &s.ids);
    }
    b.attr("scheduler", s.sched.scheduler);
    b.opt_attr("priority", s.sched.priority);
    b.finish(&s.unknown)
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxvirt_xml::{parse, to_string};

    fn read(xml: &str) -> Result<Cputune> {
        Cputune::from_element(&parse(xml).unwrap(), &mut Context::default())
    }

    const INPUT: &str = "<cputune>\n  <shares>2048</shares>\n  <period>1000000</period>\n  \
        <quota>-1</quota>\n  <vcpupin vcpu='1' cpuset='1'/>\n  <vcpupin vcpu='0' cpuset='0'/>\n  \
        <emulatorpin cpuset='1'/>\n  <emulatorsched scheduler='fifo' priority='2'/>\n  \
        <vcpusched vcpus='0-1' scheduler='fifo' priority='1'/>\n  \
        <vcpusched vcpus='1-3,^1' scheduler='idle'/>\n  \
        <iothreadsched iothreads='1,3' scheduler='batch'/>\n  \
        <iothreadsched iothreads='2' scheduler='rr' priority='99'/>\n</cputune>\n";

    const OUTPUT: &str = "<cputune>\n  <shares>2048</shares>\n  <period>1000000</period>\n  \
        <quota>-1</quota>\n  <vcpupin vcpu='0' cpuset='0'/>\n  <vcpupin vcpu='1' cpuset='1'/>\n  \
        <emulatorpin cpuset='1'/>\n  <emulatorsched scheduler='fifo' priority='2'/>\n  \
        <vcpusched vcpus='0' scheduler='fifo' priority='1'/>\n  \
        <vcpusched vcpus='1' scheduler='fifo' priority='1'/>\n  \
        <vcpusched vcpus='2' scheduler='idle'/>\n  <vcpusched vcpus='3' scheduler='idle'/>\n  \
        <iothreadsched iothreads='1' scheduler='batch'/>\n  \
        <iothreadsched iothreads='2' scheduler='rr' priority='99'/>\n  \
        <iothreadsched iothreads='3' scheduler='batch'/>\n</cputune>\n";

    #[test]
    fn schedulers_split_per_thread() {
        let mut t = read(INPUT).unwrap();
        assert_eq!(to_string(&t.to_element()), INPUT.replace("1-3,^1", "2-3"));
        t.apply_defaults(4, &[1, 2, 3, 4]);
        assert_eq!(to_string(&t.to_element()), OUTPUT);
        let again = read(OUTPUT).unwrap();
        assert_eq!(again, t);
    }

    #[test]
    fn thread_references() {
        let t =
            read("<cputune><iothreadsched iothreads='1-2' scheduler='batch'/></cputune>").unwrap();
        assert_eq!(
            t.validate(2, &[1]).unwrap_err().message,
            "Cannot find 'iothread' : 2"
        );
        let t = read("<cputune><vcpusched vcpus='0-2' scheduler='batch'/></cputune>").unwrap();
        assert_eq!(
            t.validate(2, &[]).unwrap_err().message,
            "vCPU '2' is not present in domain definition"
        );
        let t = read(
            "<cputune><vcpupin vcpu='0' cpuset='1'/><vcpupin vcpu='0' cpuset='2'/>\
                      <vcpupin vcpu='7' cpuset='2'/></cputune>",
        )
        .unwrap();
        assert_eq!(
            t.validate(2, &[]).unwrap_err().message,
            "duplicate vcpupin for vcpu '0'"
        );
        let mut t = read("<cputune><vcpupin vcpu='7' cpuset='2'/></cputune>").unwrap();
        t.apply_defaults(2, &[]);
        assert!(t.is_empty());
    }

    #[test]
    fn parse_errors() {
        let err = read(
            "<cputune><vcpusched vcpus='0-1' scheduler='fifo' priority='1'/>\
             <vcpusched vcpus='1-2' scheduler='fifo' priority='1'/></cputune>",
        )
        .unwrap_err();
        assert_eq!(err.code, ErrorCode::XmlDetail);
        assert_eq!(
            err.message,
            "'vcpusched' attributes 'vcpus' must not overlap"
        );
        let msg = |xml: &str| read(xml).unwrap_err().message;
        assert_eq!(
            msg("<cputune><shares>x</shares></cputune>"),
            "can't parse cputune shares value"
        );
        assert_eq!(
            msg("<cputune><emulator_quota>1.5</emulator_quota></cputune>"),
            "can't parse cputune emulator quota value"
        );
        assert_eq!(
            msg("<cputune><vcpupin vcpu='0'/></cputune>"),
            "missing cpuset for vcpupin"
        );
        assert_eq!(
            msg("<cputune><vcpusched scheduler='idle'/></cputune>"),
            "Missing attribute 'vcpus' in element 'vcpusched'"
        );
        assert_eq!(
            msg("<cputune><vcpusched vcpus='0' scheduler='none'/></cputune>"),
            "Invalid value for attribute 'scheduler' in element 'vcpusched': 'none'."
        );
        assert_eq!(
            msg("<cputune><vcpusched vcpus='0' scheduler='rr'/></cputune>"),
            "Missing required attribute 'priority' in element 'vcpusched'"
        );
        assert_eq!(
            msg("<cputune><emulatorpin cpuset='1'/><emulatorpin cpuset='2'/></cputune>"),
            "only one emulatorpin is supported"
        );
    }

    #[test]
    fn ranges() {
        let t = read("<cputune><period>10</period></cputune>").unwrap();
        assert_eq!(
            t.validate(1, &[]).unwrap_err().message,
            "Value of cputune 'period' must be in range [1000, 1000000]"
        );
        let t = read("<cputune><period>0</period><quota>0</quota><shares>0</shares></cputune>")
            .unwrap();
        assert_eq!(
            to_string(&t.to_element()),
            "<cputune>\n  <shares>0</shares>\n</cputune>\n"
        );
    }

    #[test]
    fn cachetune_extra_tunes() {
        let mut t = read(
            "<cputune><cachetune vcpus='0-3'>\
             <cache id='0' level='3' type='code' size='7680' unit='KiB'/>\
             <cache id='1' level='3' type='data' size='3840' unit='KiB'/></cachetune>\
             <cachetune vcpus='100'><cache id='1' level='3' type='code' size='6' unit='MiB'/>\
             </cachetune></cputune>",
        )
        .unwrap();
        t.apply_defaults(2, &[]);
        assert_eq!(
            to_string(&t.to_element()),
            "<cputune>\n  <cachetune vcpus='0-1'>\n    \
             <cache id='0' level='3' type='code' size='7680' unit='KiB'/>\n    \
             <cache id='1' level='3' type='data' size='3840' unit='KiB'/>\n  </cachetune>\n\
             </cputune>\n"
        );
    }
}
