//! The host's CPU as the capabilities' `<host><cpu>` describes it, with the host facts the
//! capabilities' `<host>` adds: its UUID, power management targets and IOMMU support.

use oxvirt_xml::types::cpuset::CpuSet;
use oxvirt_xml::types::uuid::Uuid;

use crate::sysinfo::CommandRunner;
use crate::Host;

/// `<host><cpu>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostCpu {
    /// `<arch>` (`x86_64`, `aarch64`).
    pub arch: String,
    /// `<model>`; omitted when `None`.
    pub model: Option<String>,
    /// `<vendor>`; omitted when `None`.
    pub vendor: Option<String>,
    /// `<microcode version=.../>`; omitted when `None`.
    pub microcode: Option<String>,
    /// `<signature family= model= stepping=/>`; omitted when `None`.
    pub signature: Option<(u32, u32, u32)>,
    /// `<counter name='tsc' frequency= scaling=/>`: (Hz, scaling); omitted when `None`.
    pub tsc: Option<(u64, String)>,
    /// `<topology sockets= dies= cores= threads=/>`; omitted when `None`.
    pub topology: Option<CpuTopology>,
    /// `<maxphysaddr mode= bits=/>`: (mode, bits); omitted when `None`.
    pub maxphysaddr: Option<(String, u32)>,
    /// `<feature name=.../>` entries, in order.
    pub features: Vec<String>,
    /// `<pages unit='KiB' size=.../>`: the page sizes the host offers (KiB), in order.
    pub pages: Vec<u64>,
}

/// `<topology>` of the host CPU.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTopology {
    /// Sockets.
    pub sockets: u32,
    /// Dies per socket.
    pub dies: u32,
    /// Cores per die.
    pub cores: u32,
    /// Threads per core.
    pub threads: u32,
}

/// libvirt's name (`virArch`) for the architecture this program runs on.
pub fn native_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86" => "i686",
        "arm" => "armv7l",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "powerpc64" => "ppc64",
        "powerpc" => "ppc",
        other => other,
    }
}

fn is_x86(arch: &str) -> bool {
    matches!(arch, "x86_64" | "i686" | "i386")
}

/// libvirt's vendor name (cpu_map's `x86_vendors.xml`) for an x86 `vendor_id`.
pub fn x86_vendor_name(vendor_id: &str) -> Option<&'static str> {
    match vendor_id {
        "GenuineIntel" => Some("Intel"),
        "AuthenticAMD" => Some("AMD"),
        "HygonGenuine" => Some("Hygon"),
        _ => None,
    }
}

/// The x86 CPU features libvirt knows (cpu_map's `x86_features.xml`), in its order: the
/// order libvirt lists a host CPU's features in.
pub const LIBVIRT_X86_FEATURES: &[&str] = &[
    "fpu",
    "vme",
    "de",
    "pse",
    "tsc",
    "msr",
    "pae",
    "mce",
    "cx8",
    "apic",
    "sep",
    "mtrr",
    "pge",
    "mca",
    "cmov",
    "pat",
    "pse36",
    "pn",
    "clflush",
    "ds",
    "acpi",
    "mmx",
    "fxsr",
    "sse",
    "sse2",
    "ss",
    "ht",
    "tm",
    "ia64",
    "pbe",
    "pni",
    "pclmuldq",
    "dtes64",
    "monitor",
    "ds_cpl",
    "vmx",
    "smx",
    "est",
    "tm2",
    "ssse3",
    "cid",
    "fma",
    "cx16",
    "xtpr",
    "pdcm",
    "pcid",
    "dca",
    "sse4.1",
    "sse4.2",
    "x2apic",
    "movbe",
    "popcnt",
    "tsc-deadline",
    "aes",
    "xsave",
    "osxsave",
    "avx",
    "f16c",
    "rdrand",
    "hypervisor",
    "arat",
    "fsgsbase",
    "tsc_adjust",
    "sgx",
    "bmi1",
    "hle",
    "avx2",
    "smep",
    "bmi2",
    "erms",
    "invpcid",
    "rtm",
    "cmt",
    "mpx",
    "avx512f",
    "avx512dq",
    "rdseed",
    "adx",
    "smap",
    "avx512ifma",
    "pcommit",
    "clflushopt",
    "clwb",
    "intel-pt",
    "avx512pf",
    "avx512er",
    "avx512cd",
    "sha-ni",
    "avx512bw",
    "avx512vl",
    "avx512vbmi",
    "umip",
    "pku",
    "ospke",
    "waitpkg",
    "avx512vbmi2",
    "gfni",
    "vaes",
    "vpclmulqdq",
    "avx512vnni",
    "avx512bitalg",
    "avx512-vpopcntdq",
    "la57",
    "rdpid",
    "bus-lock-detect",
    "cldemote",
    "movdiri",
    "movdir64b",
    "sgxlc",
    "pks",
    "avx512-4vnniw",
    "avx512-4fmaps",
    "fsrm",
    "avx512-vp2intersect",
    "md-clear",
    "serialize",
    "tsx-ldtrk",
    "pconfig",
    "arch-lbr",
    "amx-bf16",
    "avx512-fp16",
    "amx-tile",
    "amx-int8",
    "spec-ctrl",
    "stibp",
    "arch-capabilities",
    "core-capability",
    "ssbd",
    "avx-vnni",
    "avx512-bf16",
    "xsaveopt",
    "xsavec",
    "xgetbv1",
    "xsaves",
    "xfd",
    "mbm_total",
    "mbm_local",
    "sgx1",
    "sgx2",
    "sgx-exinfo",
    "sgx-debug",
    "sgx-mode64",
    "sgx-provisionkey",
    "sgx-tokenkey",
    "sgx-kss",
    "intel-pt-lip",
    "syscall",
    "nx",
    "mmxext",
    "fxsr_opt",
    "pdpe1gb",
    "rdtscp",
    "lm",
    "3dnowext",
    "3dnow",
    "lahf_lm",
    "cmp_legacy",
    "svm",
    "extapic",
    "cr8legacy",
    "abm",
    "sse4a",
    "misalignsse",
    "3dnowprefetch",
    "osvw",
    "ibs",
    "xop",
    "skinit",
    "wdt",
    "lwp",
    "fma4",
    "tce",
    "cvt16",
    "nodeid_msr",
    "tbm",
    "topoext",
    "perfctr_core",
    "perfctr_nb",
    "invtsc",
    "clzero",
    "xsaveerptr",
    "wbnoinvd",
    "ibpb",
    "ibrs",
    "amd-stibp",
    "amd-ssbd",
    "virt-ssbd",
    "amd-no-ssb",
    "npt",
    "lbrv",
    "svm-lock",
    "nrip-save",
    "tsc-scale",
    "vmcb-clean",
    "flushbyasid",
    "decodeassists",
    "pause-filter",
    "pfthreshold",
    "avic",
    "v-vmsave-vmload",
    "vgif",
    "svme-addr-chk",
    "rdctl-no",
    "ibrs-all",
    "rsba",
    "skip-l1dfl-vmentry",
    "ssb-no",
    "mds-no",
    "pschange-mc-no",
    "tsx-ctrl",
    "taa-no",
    "split-lock-detect",
];

/// Linux `/proc/cpuinfo` flags whose libvirt feature name is not the flag itself, with `_`
/// made `-`, or with `_` dropped.
const KERNEL_RENAMES: &[(&str, &str)] = &[
    ("dts", "ds"),
    ("pclmulqdq", "pclmuldq"),
    ("sse4_1", "sse4.1"),
    ("sse4_2", "sse4.2"),
    ("tsc_deadline_timer", "tsc-deadline"),
    ("nonstop_tsc", "invtsc"),
    ("tsxldtrk", "tsx-ldtrk"),
    ("core_capabilities", "core-capability"),
    ("pausefilter", "pause-filter"),
    ("ibrs_enhanced", "ibrs-all"),
];

/// libvirt's name for a Linux CPU flag, if libvirt knows the feature.
pub fn libvirt_feature_name(flag: &str) -> Option<&'static str> {
    if let Some((_, n)) = KERNEL_RENAMES.iter().find(|(k, _)| *k == flag) {
        return Some(n);
    }
    let known = |name: &str| LIBVIRT_X86_FEATURES.iter().copied().find(|f| *f == name);
    known(flag)
        .or_else(|| known(&flag.replace('_', "-")))
        .or_else(|| known(&flag.replace('_', "")))
}

/// CPUID bits Linux hides from `/proc/cpuinfo` but which its flags imply: `osxsave` (the
/// kernel enables XSAVE whenever it lists `xsave`) and, on Intel, `spec-ctrl` (Linux lists
/// the SPEC_CTRL bit as `ibrs` and `ibpb`).
fn implied_flags(flags: &[&str], vendor: Option<&str>) -> Vec<&'static str> {
    let mut out = Vec::new();
    if flags.contains(&"xsave") {
        out.push("osxsave");
    }
    if vendor == Some("Intel") && flags.contains(&"ibrs") {
        out.push("spec-ctrl");
    }
    out
}

/// The libvirt features of the Linux CPU `flags`, in libvirt's order, each once; flags
/// libvirt has no feature for (Linux's own, such as `constant_tsc`) are left out.
pub fn libvirt_features<'a>(flags: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let have: Vec<&str> = flags.into_iter().filter_map(libvirt_feature_name).collect();
    LIBVIRT_X86_FEATURES
        .iter()
        .filter(|f| have.contains(f))
        .map(|f| f.to_string())
        .collect()
}

/// The `key: value` lines of `/proc/cpuinfo`'s first processor (up to the first blank
/// line), keys and values trimmed.
fn first_processor(cpuinfo: &str) -> Vec<(&str, &str)> {
    cpuinfo
        .lines()
        .skip_while(|l| l.trim().is_empty())
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            Some((k.trim(), v.trim()))
        })
        .collect()
}

/// The microcode revision libvirt reads (`virHostCPUGetMicrocodeVersion`: the number, in C
/// notation, after the first `microcode` and `:` of `/proc/cpuinfo`'s first 4096 bytes; x86
/// only; 0 when unknown).
fn microcode(cpuinfo: &str) -> u32 {
    let mut end = cpuinfo.len().min(4096);
    while !cpuinfo.is_char_boundary(end) {
        end -= 1;
    }
    let head = &cpuinfo[..end];
    let Some(at) = head.find("microcode") else {
        return 0;
    };
    let Some(colon) = head[at..].find(':') else {
        return 0;
    };
    let v = head[at + colon + 1..].trim_start();
    let word: String = v
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    let parsed = if let Some(hex) = word.strip_prefix("0x").or_else(|| word.strip_prefix("0X")) {
        u32::from_str_radix(hex, 16).ok()
    } else if word.len() > 1 && word.starts_with('0') {
        u32::from_str_radix(&word[1..], 8).ok()
    } else {
        word.parse().ok()
    };
    parsed.unwrap_or(0)
}

/// The physical address bits of `address sizes : N bits physical, ...`
/// (`virHostCPUParsePhysAddrSize`).
fn phys_addr_bits(cpuinfo: &str) -> Option<u32> {
    cpuinfo.lines().find_map(|l| {
        let rest = l
            .get(..13)?
            .eq_ignore_ascii_case("address sizes")
            .then(|| &l[13..])?;
        let v = rest.split_once(':')?.1.trim_start();
        crate::stats::leading_u64(v).and_then(|n| u32::try_from(n).ok())
    })
}

/// The TSC counter where it can be known without KVM: libvirt asks KVM
/// (`KVM_GET_TSC_KHZ` on a scratch vCPU) when the CPU has an invariant TSC. Without KVM, a
/// kernel that took the TSC frequency from CPUID or the hypervisor (`tsc_known_freq`) with
/// an invariant TSC (`constant_tsc` and `nonstop_tsc`) shows it exactly as `cpu MHz`; the
/// scaling (KVM's `KVM_CAP_TSC_CONTROL`) is not knowable and is reported as `no`.
fn tsc_counter(flags: &[&str], info: &[(&str, &str)]) -> Option<(u64, String)> {
    let has = |f| flags.contains(&f);
    if !(has("tsc_known_freq") && has("constant_tsc") && has("nonstop_tsc")) {
        return None;
    }
    let mhz = info.iter().find(|(k, _)| *k == "cpu MHz")?.1;
    let (int, frac) = mhz.split_once('.').unwrap_or((mhz, ""));
    let frac: String = frac.chars().chain(std::iter::repeat('0')).take(3).collect();
    let khz: u64 = format!("{int}{frac}").parse().ok()?;
    (khz > 0).then(|| (khz * 1000, "no".to_string()))
}

impl CpuTopology {
    /// The topology the capabilities give the host CPU from node info (libvirt's
    /// `virCPUGetHost`): its sockets (per NUMA node), cores and threads, one die.
    pub fn from_node_info(sockets: u32, cores: u32, threads: u32) -> Self {
        CpuTopology {
            sockets,
            dies: 1,
            cores,
            threads,
        }
    }
}

/// Reads a sysfs number (`None` when the file is missing or holds something else).
fn read_i64(host: &Host, path: &str) -> Option<i64> {
    host.read(path).ok()?.trim().parse().ok()
}

/// Counts of one node as libvirt's `virHostCPUParseNode` makes them.
#[derive(Default)]
struct NodeCounts {
    cpus: u32,
    offline: u32,
    sockets: u32,
    cores: u32,
    threads: u32,
}

/// Counts the CPUs listed (as `cpuN` entries) in `dir`: online ones by socket
/// (`physical_package_id`, 0 when missing or negative), core (`core_id`; the CPU itself on
/// s390) and thread siblings; present but offline ones apart. `None` when a sibling list
/// cannot be read.
fn parse_node(
    host: &Host,
    dir: &str,
    arch: &str,
    present: &CpuSet,
    online: &CpuSet,
) -> Option<NodeCounts> {
    use std::collections::{BTreeMap, BTreeSet};
    let entries = std::fs::read_dir(host.path(dir)).ok()?;
    let mut cpus: Vec<u32> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let digits: String = name
                .strip_prefix("cpu")?
                .chars()
                .take_while(|c| c.is_ascii_digit())
                .collect();
            digits.parse().ok()
        })
        .filter(|c| present.contains(*c))
        .collect();
    cpus.sort_unstable();
    cpus.dedup();
    let mut counts = NodeCounts::default();
    let mut sockets: BTreeMap<i64, BTreeSet<i64>> = BTreeMap::new();
    for cpu in cpus {
        if !online.contains(cpu) {
            counts.offline += 1;
            continue;
        }
        counts.cpus += 1;
        let topo = format!("/sys/devices/system/cpu/cpu{cpu}/topology");
        let socket = read_i64(host, &format!("{topo}/physical_package_id"))
            .unwrap_or(0)
            .max(0);
        let core = if arch.starts_with("s390") {
            i64::from(cpu)
        } else {
            read_i64(host, &format!("{topo}/core_id")).unwrap_or(0)
        };
        sockets.entry(socket).or_default().insert(core);
        let siblings = match host.read(&format!("{topo}/thread_siblings_list")) {
            Ok(t) => CpuSet::parse_unlimited(t.trim()).ok()?.len() as u32,
            Err(_) => 1,
        };
        counts.threads = counts.threads.max(siblings);
    }
    counts.sockets = sockets.len() as u32;
    counts.cores = sockets.values().map(|c| c.len() as u32).max().unwrap_or(0);
    Some(counts)
}

/// The host CPU topology as libvirt's node info (`virHostCPUGetInfoPopulateLinux`) counts
/// it for this machine's architecture; see [`topology_for_arch`].
pub fn topology(host: &Host) -> Option<CpuTopology> {
    topology_for_arch(host, native_arch())
}

/// The host CPU topology as libvirt's node info counts it, which the capabilities give the
/// host CPU: the most sockets, cores per socket and threads per core of any NUMA node
/// (the CPU directory when there are no nodes); when nodes × sockets × cores × threads is
/// not the CPU count (offline ones included), one socket with a single-threaded core per
/// CPU. `None` when the counts cannot be made (no CPU lists, no CPUs). POWER subcores are
/// not considered.
pub fn topology_for_arch(host: &Host, arch: &str) -> Option<CpuTopology> {
    let online = crate::cpumap::online_cpus(host).ok()?;
    let present = crate::cpumap::present_cpus(host).ok()?;
    let (mut nodes, mut total) = (0u32, NodeCounts::default());
    let add = |c: NodeCounts, total: &mut NodeCounts| {
        total.cpus += c.cpus;
        total.offline += c.offline;
        total.sockets = total.sockets.max(c.sockets);
        total.cores = total.cores.max(c.cores);
        total.threads = total.threads.max(c.threads);
    };
    if host.path("/sys/devices/system/node").is_dir() {
        for n in crate::memory::node_ids(host) {
            nodes += 1;
            let c = parse_node(
                host,
                &format!("/sys/devices/system/node/node{n}"),
                arch,
                &present,
                &online,
            )?;
            add(c, &mut total);
        }
    }
    if total.cpus == 0 || nodes == 0 {
        nodes = 1;
        total = NodeCounts::default();
        let c = parse_node(host, "/sys/devices/system/cpu", arch, &present, &online)?;
        add(c, &mut total);
    }
    if total.cpus == 0 || total.sockets == 0 || total.threads == 0 {
        return None;
    }
    let all = total.cpus + total.offline;
    if nodes * total.sockets * total.cores * total.threads != all {
        return Some(CpuTopology::from_node_info(1, all, 1));
    }
    Some(CpuTopology::from_node_info(
        total.sockets,
        total.cores,
        total.threads,
    ))
}

impl HostCpu {
    /// The host CPU of this machine (its own architecture).
    pub fn probe(host: &Host) -> HostCpu {
        HostCpu::probe_arch(host, native_arch())
    }

    /// The host CPU of `host` for architecture `arch` (libvirt's names: `x86_64`,
    /// `aarch64`), from `/proc/cpuinfo` and sysfs.
    ///
    /// libvirt decodes CPUID against its CPU model database and reports the closest model
    /// plus the features beyond it; without that database the model is `None` and the
    /// features are all of the CPU's flags libvirt has a name for (x86).
    pub fn probe_arch(host: &Host, arch: &str) -> HostCpu {
        let cpuinfo = host.read("/proc/cpuinfo").unwrap_or_default();
        let info = first_processor(&cpuinfo);
        let get = |key: &str| info.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
        let mut cpu = HostCpu {
            arch: arch.to_string(),
            topology: topology_for_arch(host, arch),
            pages: crate::memory::page_sizes(host),
            ..HostCpu::default()
        };
        if is_x86(arch) {
            cpu.vendor = get("vendor_id")
                .and_then(x86_vendor_name)
                .map(str::to_string);
            let num = |k| get(k).and_then(|v| v.parse::<u32>().ok());
            if let (Some(f), Some(m), Some(s)) = (num("cpu family"), num("model"), num("stepping"))
            {
                cpu.signature = Some((f, m, s));
            }
            let mc = microcode(&cpuinfo);
            cpu.microcode = (mc != 0).then(|| mc.to_string());
            cpu.maxphysaddr = phys_addr_bits(&cpuinfo).map(|b| ("emulate".to_string(), b));
            let flags: Vec<&str> = get("flags").unwrap_or("").split_whitespace().collect();
            cpu.tsc = tsc_counter(&flags, &info);
            let implied = implied_flags(&flags, cpu.vendor.as_deref());
            cpu.features = libvirt_features(flags.iter().copied().chain(implied));
        }
        cpu
    }

    /// Replaces the topology (with node info's, for instance).
    pub fn with_topology(mut self, topology: Option<CpuTopology>) -> Self {
        self.topology = topology;
        self
    }
}

/// The host UUID libvirt takes from SMBIOS (`virSetHostUUIDStr` without a configured one):
/// the 36 characters of `/sys/devices/virtual/dmi/id/product_uuid` or
/// `/sys/class/dmi/id/product_uuid`, when they are a UUID whose bytes are not all the
/// same. `None` otherwise (libvirt then makes up a random one at each start).
pub fn host_uuid(host: &Host) -> Option<String> {
    [
        "/sys/devices/virtual/dmi/id/product_uuid",
        "/sys/class/dmi/id/product_uuid",
    ]
    .iter()
    .find_map(|p| {
        let text = host.read(p).ok()?;
        let head = text.get(..36)?;
        let uuid = Uuid::try_parse(head)?;
        let b = uuid.as_bytes();
        (!b.iter().all(|x| *x == b[0])).then(|| uuid.to_string())
    })
}

/// The suspend targets (`suspend_mem`, `suspend_disk`, `suspend_hybrid`) the host supports,
/// as libvirt's pm-utils probe finds them: `pm-is-supported --suspend`, `--hibernate` and
/// `--suspend-hybrid` exiting 0. Nothing when the tool is absent.
pub fn power_management(runner: &dyn CommandRunner) -> Vec<String> {
    [
        ("--suspend", "suspend_mem"),
        ("--hibernate", "suspend_disk"),
        ("--suspend-hybrid", "suspend_hybrid"),
    ]
    .iter()
    .filter(|(arg, _)| {
        runner
            .run(&["pm-is-supported", arg])
            .is_ok_and(|o| o.status == 0)
    })
    .map(|(_, name)| name.to_string())
    .collect()
}

/// Whether the host has an IOMMU in use (libvirt's `virHostHasIOMMU`:
/// `/sys/kernel/iommu_groups` holds an entry).
pub fn iommu_support(host: &Host) -> bool {
    std::fs::read_dir(host.path("/sys/kernel/iommu_groups"))
        .map(|mut d| d.next().is_some())
        .unwrap_or(false)
}
