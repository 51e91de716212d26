//! vCPUs, memory, NUMA cells and I/O threads: `-m`, `-smp`, `-object iothread`, `-numa`.

use oxvirt_domain::Domain;
use oxvirt_xml::VirError;

use super::{unsupported, Args, BuildContext};

/// The guest's vCPU count (maximum) and the number online at boot.
/// With `<vcpus>`, only the enabled vCPUs that cannot be hot-plugged are online at boot:
/// libvirt adds the others with `device_add` before starting the CPUs.
pub(super) fn vcpus(domain: &Domain) -> (u32, u32) {
    let (max, cur) = match &domain.vcpu {
        Some(v) => (v.count, v.current.unwrap_or(v.count)),
        None => (1, 1),
    };
    match &domain.vcpus {
        Some(list) if !list.vcpus.is_empty() => {
            let boot = list
                .vcpus
                .iter()
                .filter(|v| v.enabled && v.hotpluggable != Some(true))
                .count() as u32;
            (max, boot)
        }
        _ => (max, cur),
    }
}

/// `-object iothread,id=iothreadN`: the listed ids, then the lowest free ids up to the count.
pub(super) fn iothreads(argv: &mut Args, domain: &Domain) -> Result<(), VirError> {
    let count = domain.iothreads.as_ref().map_or(0, |t| t.count);
    let listed = domain
        .iothreadids
        .as_ref()
        .map(|l| l.iothreads.as_slice())
        .unwrap_or(&[]);
    if listed
        .iter()
        .any(|t| t.thread_pool_min.is_some() || t.thread_pool_max.is_some())
    {
        return Err(unsupported("iothread pool sizes"));
    }
    let mut ids: Vec<u32> = listed.iter().map(|t| t.id).collect();
    let mut next = 1;
    while (ids.len() as u32) < count {
        if !ids.contains(&next) {
            ids.push(next);
        }
        next += 1;
    }
    for id in ids {
        argv.opt("-object", format!("iothread,id=iothread{id}"));
    }
    Ok(())
}

/// `-m` in MiB rounded up, or `size=...k,slots=N,maxmem=...k` with hotplug memory.
pub(super) fn memory(argv: &mut Args, domain: &Domain) -> Result<(), VirError> {
    let Some(mem) = &domain.memory else {
        return Err(unsupported("no memory size"));
    };
    match &domain.max_memory {
        Some(max) if max.slots.is_some_and(|s| s > 0) => argv.opt(
            "-m",
            format!(
                "size={}k,slots={},maxmem={}k",
                mem.kib,
                max.slots.unwrap_or(0),
                max.kib
            ),
        ),
        _ => {
            // With NUMA cells the guest's memory is their sum, each rounded up to a MiB.
            let cells = domain
                .cpu
                .as_ref()
                .and_then(|c| c.numa.as_ref())
                .map(|n| n.cells.as_slice())
                .unwrap_or(&[]);
            let mib = if cells.is_empty() {
                mem.kib.div_ceil(1024)
            } else {
                cells.iter().map(|c| c.memory.div_ceil(1024)).sum()
            };
            argv.opt("-m", mib.to_string())
        }
    }
    Ok(())
}

/// `-smp N[,maxcpus=M],sockets=S[,dies=D],cores=C,threads=T`.
pub(super) fn smp(argv: &mut Args, domain: &Domain, ctx: &BuildContext) {
    let (max, cur) = vcpus(domain);
    let mut s = cur.to_string();
    if max != cur {
        s.push_str(&format!(",maxcpus={max}"));
    }
    match domain.cpu.as_ref().and_then(|c| c.topology.as_ref()) {
        Some(t) => {
            s.push_str(&format!(",sockets={}", t.sockets));
            if ctx.caps.smp_dies || t.dies != 1 {
                s.push_str(&format!(",dies={}", t.dies));
            }
            s.push_str(&format!(",cores={},threads={}", t.cores, t.threads));
        }
        None => {
            s.push_str(&format!(",sockets={max}"));
            if ctx.caps.smp_dies {
                s.push_str(",dies=1");
            }
            s.push_str(",cores=1,threads=1");
        }
    }
    argv.opt("-smp", s);
}

/// Whether QEMU takes `-numa node,mem=` for the domain's machine type: only types before
/// 5.1 (`pc-i440fx-5.0`, `pc-q35-4.2`, `pc-1.0` ...) have `numa-mem-supported`; an alias
/// (`pc`, `q35`) is the newest type.
fn legacy_numa_mem(domain: &Domain) -> bool {
    let machine = super::general::machine(domain);
    let Some((_, version)) = machine.rsplit_once('-') else {
        return false;
    };
    let mut parts = version.split('.').map(|p| p.parse::<u32>());
    match (parts.next(), parts.next()) {
        (Some(Ok(major)), Some(Ok(minor))) => (major, minor) < (5, 1),
        _ => false,
    }
}

/// `-numa node,nodeid=N,cpus=A-B,cpus=C,mem=MiB` per cell, then `-numa dist,...` per
/// distance, for cells backed by ordinary guest RAM. A cell gets a `memory-backend-ram`
/// object (`memdev=ram-nodeN`, as libvirt names it: the RAM block a migration stream
/// names) when `<numatune>` binds one, or when the machine type no longer takes `mem=`.
pub(super) fn numa(argv: &mut Args, domain: &Domain, ctx: &BuildContext) -> Result<(), VirError> {
    let Some(numa) = domain.cpu.as_ref().and_then(|c| c.numa.as_ref()) else {
        return Ok(());
    };
    let backed = domain
        .memory_backing
        .as_ref()
        .is_some_and(|b| b.hugepages.is_some() || b.source.is_some() || b.access.is_some());
    let tune = domain.numatune.as_ref();
    // libvirt backs every cell with a memory object once one cell needs it; a cell bound
    // by its own `<memnode>` does.
    let memnodes = tune.is_some_and(|t| !t.memnodes.is_empty())
        || (ctx.caps.numa_memdev && !legacy_numa_mem(domain));
    if backed || numa.cells.iter().any(|c| c.mem_access.is_some()) {
        return Err(unsupported("NUMA cells with memory backends"));
    }
    for cell in &numa.cells {
        let mut s = format!("node,nodeid={}", cell.id);
        if let Some(cpus) = &cell.cpus {
            for part in cpus.to_string().split(',') {
                s.push_str(&format!(",cpus={part}"));
            }
        }
        if memnodes {
            argv.opt("-object", ram_backend(domain, cell.id, cell.memory)?);
            s.push_str(&format!(",memdev=ram-node{}", cell.id));
        } else {
            s.push_str(&format!(",mem={}", cell.memory.div_ceil(1024)));
        }
        argv.opt("-numa", s);
    }
    for cell in &numa.cells {
        for sib in cell.distances.iter().flat_map(|d| d.siblings.iter()) {
            argv.opt(
                "-numa",
                format!("dist,src={},dst={},val={}", cell.id, sib.id, sib.value),
            );
        }
    }
    Ok(())
}

/// `memory-backend-ram,id=ram-nodeN,size=...` of guest NUMA cell `cell` (`kib` KiB, rounded
/// up to a MiB as libvirt aligns cells), bound as `<numatune>` says: the cell's `<memnode>`,
/// else `<memory>`; `host-nodes` once per range, and QEMU's `policy` name of the mode
/// (`restrictive` leaves the binding to cgroups: no host nodes).
fn ram_backend(domain: &Domain, cell: u32, kib: u64) -> Result<String, VirError> {
    use oxvirt_domain::tuning::{NumaMode, NumaPlacement};
    let bytes = kib.div_ceil(1024) * 1024 * 1024;
    let mut s = format!("memory-backend-ram,id=ram-node{cell},size={bytes}");
    let tune = domain.numatune.as_ref();
    let binding = match tune.and_then(|t| t.memnodes.iter().find(|m| m.cellid == cell)) {
        Some(m) => Some((m.mode, m.nodeset.clone())),
        None => match tune.and_then(|t| t.memory.as_ref()) {
            Some(m) if m.placement == Some(NumaPlacement::Auto) => {
                return Err(unsupported("numad placement of NUMA cells"))
            }
            Some(m) => m.nodeset.clone().map(|n| (m.mode, n)),
            None => None,
        },
    };
    if let Some((mode, nodes)) = binding {
        let policy = match mode {
            NumaMode::Strict => Some("bind"),
            NumaMode::Preferred => Some("preferred"),
            NumaMode::Interleave => Some("interleave"),
            NumaMode::Restrictive => None,
        };
        if let Some(policy) = policy {
            for &(first, last) in nodes.ranges() {
                if first == last {
                    s.push_str(&format!(",host-nodes={first}"));
                } else {
                    s.push_str(&format!(",host-nodes={first}-{last}"));
                }
            }
            s.push_str(&format!(",policy={policy}"));
        }
    }
    Ok(s)
}
