//! vCPUs, I/O threads and their placement: `<vcpu>`, `<vcpus>`, `<iothreads>`,
//! `<iothreadids>`, `<cputune>`, `<numatune>`.
//!
//! Each model reads its element as libvirt's parser does, with the checks that need that
//! element only. What needs other parts of the domain (the vCPU count, the I/O thread ids,
//! the guest NUMA cells) is in each model's `validate` and `apply_defaults`, and in
//! [`apply_placement_defaults`] for the interplay of vCPU and memory placement.

mod cputune;
mod numatune;
mod resctrl;
mod vcpu;

pub use cputune::{Cputune, EmulatorPin, IothreadPin, Sched, Scheduler, ThreadSched, VcpuPin};
pub use numatune::{MemNode, NumaMode, NumaPlacement, Numatune, NumatuneMemory};
pub use resctrl::{
    format_int_pretty, resolve as resolve_resctrl, CacheAlloc, CacheType, Cachetune,
    MemoryBandwidth, Memorytune, ResctrlMonitor,
};
pub use vcpu::{IothreadId, IothreadIds, Iothreads, Vcpu, VcpuPlacement, VcpuState, Vcpus};

use oxvirt_xml::Result;

use crate::cpu::Cpu;

/// libvirt's placement rules across `<vcpu>`, `<numatune>` and `<cputune>`:
///
/// * automatically placed vCPUs without `<numatune>` get numad-advised strict memory
///   placement;
/// * a memory placement left to default follows the vCPUs (see [`Numatune::apply_defaults`]);
/// * with numad-advised memory and no CPU set or pinning anywhere, the vCPUs are placed
///   automatically too.
pub fn apply_placement_defaults(
    vcpu: &mut Vcpu,
    numatune: &mut Option<Numatune>,
    cputune: Option<&Cputune>,
) {
    if numatune.is_none() && vcpu.placement == VcpuPlacement::Auto {
        *numatune = Some(Numatune::auto_placement());
    }
    if let Some(n) = numatune.as_mut() {
        n.apply_defaults(vcpu.placement);
        if n.has_placement_auto()
            && vcpu.cpuset.is_none()
            && !cputune.is_some_and(Cputune::has_pins)
        {
            vcpu.placement = VcpuPlacement::Auto;
        }
    }
}

/// Everything libvirt fills in across `<vcpu>`, `<vcpus>`, `<iothreads>`, `<iothreadids>`,
/// `<cputune>` and `<numatune>` after parsing: a `<vcpu>` when there is none (one vCPU),
/// the online count from `<vcpus>`, the full `<vcpus>` list, the I/O threads libvirt adds,
/// the tuning rewritten for the vCPU count and I/O threads, and the placement rules of
/// [`apply_placement_defaults`]. Pieces that are invalid are left for [`TuningView::validate`].
pub fn apply_tuning_defaults(
    vcpu: &mut Option<Vcpu>,
    vcpus: &mut Option<Vcpus>,
    iothreads: &mut Option<Iothreads>,
    iothreadids: &mut Option<IothreadIds>,
    cputune: &mut Option<Cputune>,
    numatune: &mut Option<Numatune>,
) {
    let vcpu = vcpu.get_or_insert_with(Vcpu::default);
    if vcpus
        .as_ref()
        .is_some_and(|v| v.vcpus.is_empty() && v.unknown.is_empty())
    {
        *vcpus = None;
    }
    vcpu.apply_defaults(vcpus.as_ref());
    if let Some(v) = vcpus.as_mut() {
        v.apply_defaults(vcpu.count);
    }
    IothreadIds::apply_defaults(iothreads, iothreadids);
    let ids = IothreadIds::all_ids(iothreads.as_ref(), iothreadids.as_ref());
    if let Some(t) = cputune.as_mut() {
        t.apply_defaults(vcpu.count, &ids);
    }
    apply_placement_defaults(vcpu, numatune, cputune.as_ref());
}

/// The elements libvirt's tuning checks look at, borrowed from a domain.
#[derive(Debug, Clone, Copy, Default)]
pub struct TuningView<'a> {
    /// `<vcpu>` (one vCPU when absent).
    pub vcpu: Option<&'a Vcpu>,
    /// `<vcpus>`.
    pub vcpus: Option<&'a Vcpus>,
    /// `<iothreads>`.
    pub iothreads: Option<&'a Iothreads>,
    /// `<iothreadids>`.
    pub iothreadids: Option<&'a IothreadIds>,
    /// `<cputune>`.
    pub cputune: Option<&'a Cputune>,
    /// `<numatune>`.
    pub numatune: Option<&'a Numatune>,
    /// `<cpu>`, for its NUMA cells.
    pub cpu: Option<&'a Cpu>,
}

impl TuningView<'_> {
    /// libvirt's checks across these elements, in libvirt's order: vCPU states, thread
    /// references and resctrl groups in `<cputune>`, guest NUMA cells against the vCPU
    /// count, `<numatune>` against the NUMA cells, then the value ranges of `<cputune>`
    /// and the I/O thread pools. Call it after [`apply_tuning_defaults`].
    pub fn validate(&self) -> Result<()> {
        let max = self.vcpu.map_or(1, |v| v.count);
        if let Some(v) = self.vcpus {
            v.validate(max)?;
        }
        let ids = IothreadIds::all_ids(self.iothreads, self.iothreadids);
        if let Some(t) = self.cputune {
            t.validate(max, &ids)?;
        }
        if let Some(c) = self.cpu {
            c.validate(max)?;
        }
        if let Some(n) = self.numatune {
            n.validate(self.cpu.map_or(0, Cpu::numa_cells))?;
        }
        if let Some(t) = self.iothreadids {
            t.validate()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxvirt_xml::{to_string, XmlModel};

    fn read<T: XmlModel>(xml: &str) -> T {
        crate::util::read_model(xml).unwrap()
    }

    #[test]
    fn placement_rules() {
        let mut vcpu: Vcpu = read("<vcpu placement='auto'>2</vcpu>");
        let mut numatune = None;
        apply_placement_defaults(&mut vcpu, &mut numatune, None);
        assert_eq!(
            to_string(&numatune.unwrap().to_element()),
            "<numatune>\n  <memory mode='strict' placement='auto'/>\n</numatune>\n"
        );

        let mut vcpu: Vcpu = read("<vcpu>2</vcpu>");
        let mut numatune = Some(read(
            "<numatune><memory mode='interleave' placement='auto'/></numatune>",
        ));
        apply_placement_defaults(&mut vcpu, &mut numatune, None);
        assert_eq!(vcpu.placement, VcpuPlacement::Auto);

        let mut vcpu: Vcpu = read("<vcpu cpuset='0-1'>2</vcpu>");
        apply_placement_defaults(&mut vcpu, &mut numatune, None);
        assert_eq!(vcpu.placement, VcpuPlacement::Static);
    }

    #[test]
    fn domain_level_defaults_and_checks() {
        let mut vcpu = None;
        let mut vcpus = None;
        let mut iothreads = Some(read("<iothreads>3</iothreads>"));
        let mut iothreadids = None;
        let mut cputune = Some(read(
            "<cputune><iothreadsched iothreads='1-3' scheduler='rr' priority='0'/></cputune>",
        ));
        let mut numatune = None;
        apply_tuning_defaults(
            &mut vcpu,
            &mut vcpus,
            &mut iothreads,
            &mut iothreadids,
            &mut cputune,
            &mut numatune,
        );
        assert_eq!(vcpu.as_ref().map(|v| v.count), Some(1));
        assert_eq!(cputune.as_ref().unwrap().iothreadscheds.len(), 3);
        let check = |cpu: Option<&Cpu>, numatune: Option<&Numatune>| {
            TuningView {
                vcpu: vcpu.as_ref(),
                vcpus: vcpus.as_ref(),
                iothreads: iothreads.as_ref(),
                iothreadids: iothreadids.as_ref(),
                cputune: cputune.as_ref(),
                numatune,
                cpu,
            }
            .validate()
        };
        assert!(check(None, None).is_ok());
        let memnode: Numatune = read("<numatune><memnode cellid='0' nodeset='0'/></numatune>");
        assert_eq!(
            check(None, Some(&memnode)).unwrap_err().message,
            "Element 'memnode' is invalid without any guest NUMA cells"
        );
        let cpu: Cpu = read("<cpu><numa><cell cpus='0-1' memory='1'/></numa></cpu>");
        assert_eq!(
            check(Some(&cpu), None).unwrap_err().message,
            "Number of CPUs in <numa> exceeds the <vcpu> count"
        );
    }
}
