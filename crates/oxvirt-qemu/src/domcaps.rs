//! Domain capabilities (`virConnectGetDomainCapabilities`, `virsh domcapabilities`): what
//! one emulator offers a domain of one architecture, machine type and virtualization type,
//! as libvirt 9.0's `virQEMUCapsFillDomainCaps` derives it from a binary's probe and
//! `virDomainCapsFormat` writes it.
//!
//! Defaults are libvirt's: the host's architecture, the emulator that serves it, the
//! binary's default machine type (its canonical name), and `kvm` when QEMU could enable
//! KVM, else `qemu`. Firmware comes from QEMU's firmware descriptors
//! (`/etc/qemu/firmware`, `/usr/share/qemu/firmware`).
//!
//! Not derived as libvirt does: the `host-model` CPU (libvirt computes it from the host
//! CPU and its CPU map; reported here as not supported), the Hyper-V enlightenments
//! (libvirt expands the host CPU under KVM; its answer with QEMU 7.2, `spinlocks` and
//! `vendor_id`, is reported for x86 when KVM is usable), SEV/SGX details, and KVM's own vCPU limit (the machine's is used).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};
use serde_json::Value;

use crate::caps::{CapsCache, Machine, QemuCaps};
use crate::guests::{binary_for_arch, host_arch, ordered_machines, qemu_arch, wordsize};

/// What `virConnectGetDomainCapabilities` was asked; each part optional.
#[derive(Debug, Clone, Copy, Default)]
pub struct DomCapsQuery<'a> {
    /// The emulator binary.
    pub emulator: Option<&'a str>,
    /// The guest architecture (libvirt's spelling).
    pub arch: Option<&'a str>,
    /// The machine type, by name or alias.
    pub machine: Option<&'a str>,
    /// The virtualization type (`qemu`, `kvm`).
    pub virttype: Option<&'a str>,
}

/// A firmware image from a QEMU firmware descriptor, as it matters to domain
/// capabilities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Firmware {
    /// The descriptor's interface types (`uefi`, `bios`).
    pub interfaces: Vec<String>,
    /// The executable: the flash image's or the memory-mapped image's file name.
    pub executable: Option<String>,
    /// Whether it has the `secure-boot` feature.
    pub secure_boot: bool,
    /// Its targets: (QEMU architecture, machine type patterns).
    pub targets: Vec<(String, Vec<String>)>,
}

impl Firmware {
    /// Reads a descriptor (QEMU's `docs/interop/firmware.json`); `None` if it is not one.
    pub fn parse(text: &str) -> Option<Firmware> {
        let v: Value = serde_json::from_str(text).ok()?;
        let strings = |v: &Value| -> Vec<String> {
            v.as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        let mapping = &v["mapping"];
        let executable = match mapping["device"].as_str() {
            Some("flash") => mapping["executable"]["filename"].as_str(),
            Some("memory") => mapping["filename"].as_str(),
            Some("kernel") => mapping["filename"].as_str(),
            _ => None,
        }
        .map(str::to_owned);
        Some(Firmware {
            interfaces: strings(&v["interface-types"]),
            executable,
            secure_boot: strings(&v["features"]).iter().any(|f| f == "secure-boot"),
            targets: v["targets"]
                .as_array()
                .map(|ts| {
                    ts.iter()
                        .filter_map(|t| {
                            Some((
                                t["architecture"].as_str()?.to_owned(),
                                strings(&t["machines"]),
                            ))
                        })
                        .collect()
                })
                .unwrap_or_default(),
        })
    }

    /// Whether it serves `machine` (canonical name) on libvirt architecture `arch`.
    pub fn serves(&self, arch: &str, machine: &str) -> bool {
        self.targets
            .iter()
            .any(|(a, machines)| a == qemu_arch(arch) && machines.iter().any(|p| glob(p, machine)))
    }
}

/// Shell-style pattern matching with `*` and `?` (fnmatch without brackets).
fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// The firmware descriptors in `dirs`, in libvirt's order: by file name, a name in an
/// earlier directory hiding the same name in later ones (an empty file there masks it).
pub fn load_firmware(dirs: &[PathBuf]) -> Vec<Firmware> {
    let mut by_name: BTreeMap<String, PathBuf> = BTreeMap::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".json") {
                by_name.entry(name).or_insert_with(|| e.path());
            }
        }
    }
    by_name
        .values()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .filter_map(|text| Firmware::parse(&text))
        .collect()
}

/// What domain capabilities need from the host besides the binary's probe.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DomCapsHost {
    /// The firmware descriptors ([`load_firmware`]).
    pub firmware: Vec<Firmware>,
    /// Whether VFIO PCI passthrough works (`/dev/vfio/vfio` and IOMMU groups).
    pub vfio: bool,
    /// Whether `swtpm` is installed (the TPM `emulator` backend).
    pub swtpm: bool,
    /// The TPM versions `swtpm_setup --print-capabilities` offers (`1.2`, `2.0`),
    /// libvirt's `backendVersion` values for the emulator.
    pub swtpm_versions: Vec<String>,
    /// The loaders offered when no descriptor serves the machine (libvirt's built-in
    /// `nvram` list, [`DEFAULT_LOADERS`]); those that exist are listed.
    pub default_loaders: Vec<String>,
}

/// libvirt's built-in firmware list (qemu.conf's `nvram` default): the loader halves.
pub const DEFAULT_LOADERS: &[&str] = &[
    "/usr/share/OVMF/OVMF_CODE.fd",
    "/usr/share/OVMF/OVMF_CODE.secboot.fd",
    "/usr/share/AAVMF/AAVMF_CODE.fd",
    "/usr/share/AAVMF/AAVMF32_CODE.fd",
];

impl DomCapsHost {
    /// This host, with the firmware of libvirt's descriptor directories.
    pub fn probe(search_dirs: &[PathBuf]) -> DomCapsHost {
        let iommu = std::fs::read_dir("/sys/kernel/iommu_groups")
            .map(|mut d| d.next().is_some())
            .unwrap_or(false);
        DomCapsHost {
            firmware: load_firmware(&[
                PathBuf::from("/etc/qemu/firmware"),
                PathBuf::from("/usr/share/qemu/firmware"),
            ]),
            vfio: Path::new("/dev/vfio/vfio").exists() && iommu,
            swtpm: search_dirs.iter().any(|d| d.join("swtpm").is_file()),
            swtpm_versions: swtpm_versions(search_dirs),
            default_loaders: DEFAULT_LOADERS.iter().map(|s| (*s).to_owned()).collect(),
        }
    }
}

/// The TPM versions of `swtpm_setup --print-capabilities` (features `tpm-1.2`,
/// `tpm-2.0`), in that order; none when it is not installed or does not say.
fn swtpm_versions(search_dirs: &[PathBuf]) -> Vec<String> {
    let Some(setup) = search_dirs
        .iter()
        .map(|d| d.join("swtpm_setup"))
        .find(|p| p.is_file())
    else {
        return Vec::new();
    };
    let Ok(out) = std::process::Command::new(setup)
        .arg("--print-capabilities")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
    else {
        return Vec::new();
    };
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    let features: Vec<&str> = v["features"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    ["1.2", "2.0"]
        .iter()
        .filter(|ver| features.contains(&format!("tpm-{ver}").as_str()))
        .map(|ver| (*ver).to_owned())
        .collect()
}

/// The choices a domain capabilities document describes.
#[derive(Debug, Clone, Copy)]
pub struct Selection<'a> {
    /// The guest architecture (libvirt's spelling).
    pub arch: &'a str,
    /// The machine type.
    pub machine: &'a Machine,
    /// `kvm` (true) or `qemu`.
    pub kvm: bool,
}

/// libvirt's x86 CPU models (its CPU map) and their vendors: the `custom` CPU mode lists
/// QEMU's models that libvirt knows, in QEMU's order.
const X86_MODELS: &[(&str, &str)] = &[
    ("486", "unknown"),
    ("Broadwell-IBRS", "Intel"),
    ("Broadwell-noTSX-IBRS", "Intel"),
    ("Broadwell-noTSX", "Intel"),
    ("Broadwell", "Intel"),
    ("Cascadelake-Server-noTSX", "Intel"),
    ("Cascadelake-Server", "Intel"),
    ("Conroe", "Intel"),
    ("Cooperlake", "Intel"),
    ("Dhyana", "Hygon"),
    ("EPYC-IBPB", "AMD"),
    ("EPYC-Milan", "AMD"),
    ("EPYC-Rome", "AMD"),
    ("EPYC", "AMD"),
    ("Haswell-IBRS", "Intel"),
    ("Haswell-noTSX-IBRS", "Intel"),
    ("Haswell-noTSX", "Intel"),
    ("Haswell", "Intel"),
    ("Icelake-Client-noTSX", "Intel"),
    ("Icelake-Client", "Intel"),
    ("Icelake-Server-noTSX", "Intel"),
    ("Icelake-Server", "Intel"),
    ("IvyBridge-IBRS", "Intel"),
    ("IvyBridge", "Intel"),
    ("Nehalem-IBRS", "Intel"),
    ("Nehalem", "Intel"),
    ("Opteron_G1", "AMD"),
    ("Opteron_G2", "AMD"),
    ("Opteron_G3", "AMD"),
    ("Opteron_G4", "AMD"),
    ("Opteron_G5", "AMD"),
    ("Penryn", "Intel"),
    ("SandyBridge-IBRS", "Intel"),
    ("SandyBridge", "Intel"),
    ("Skylake-Client-IBRS", "Intel"),
    ("Skylake-Client-noTSX-IBRS", "Intel"),
    ("Skylake-Client", "Intel"),
    ("Skylake-Server-IBRS", "Intel"),
    ("Skylake-Server-noTSX-IBRS", "Intel"),
    ("Skylake-Server", "Intel"),
    ("Snowridge", "Intel"),
    ("Westmere-IBRS", "Intel"),
    ("Westmere", "Intel"),
    ("athlon", "AMD"),
    ("core2duo", "Intel"),
    ("coreduo", "Intel"),
    ("cpu64-rhel5", "unknown"),
    ("cpu64-rhel6", "unknown"),
    ("kvm32", "unknown"),
    ("kvm64", "unknown"),
    ("n270", "Intel"),
    ("pentium", "unknown"),
    ("pentium2", "unknown"),
    ("pentium3", "unknown"),
    ("pentiumpro", "unknown"),
    ("phenom", "AMD"),
    ("qemu32", "unknown"),
    ("qemu64", "unknown"),
];

fn is_x86(arch: &str) -> bool {
    arch == "i686" || arch == "x86_64"
}

/// Whether the machine has a built-in IDE controller (libvirt's
/// `qemuDomainMachineHasBuiltinIDE`: the i440FX PCs, malta, sun4u, g3beige).
fn has_builtin_ide(arch: &str, machine: &str) -> bool {
    (is_x86(arch)
        && (machine == "pc"
            || machine.starts_with("pc-0.")
            || machine.starts_with("pc-1.")
            || machine.starts_with("pc-i440fx-")
            || machine.starts_with("rhel")))
        || matches!(machine, "malta" | "sun4u" | "g3beige")
}

fn is_pseries(arch: &str, machine: &str) -> bool {
    arch.starts_with("ppc64") && (machine == "pseries" || machine.starts_with("pseries-"))
}

/// `<enum name=...>` with `values` (an empty enum is `<enum name='x'/>`).
fn write_enum(out: &mut String, indent: &str, name: &str, values: &[&str]) {
    if values.is_empty() {
        let _ = writeln!(out, "{indent}<enum name='{name}'/>");
        return;
    }
    let _ = writeln!(out, "{indent}<enum name='{name}'>");
    for v in values {
        let _ = writeln!(out, "{indent}  <value>{v}</value>");
    }
    let _ = writeln!(out, "{indent}</enum>");
}

fn pick<'a>(candidates: &[(bool, &'a str)]) -> Vec<&'a str> {
    candidates
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, v)| *v)
        .collect()
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// A device element: `<NAME supported='yes'>` with its enums, or `<NAME supported='no'/>`.
fn write_device(out: &mut String, name: &str, enums: &[(&str, Vec<&str>)], supported: bool) {
    if !supported {
        let _ = writeln!(out, "    <{name} supported='no'/>");
        return;
    }
    let _ = writeln!(out, "    <{name} supported='yes'>");
    for (e, values) in enums {
        write_enum(out, "      ", e, values);
    }
    let _ = writeln!(out, "    </{name}>");
}

/// The `<domainCapabilities>` document of `caps` for `sel` (libvirt's
/// `virQEMUCapsFillDomainCaps` + `virDomainCapsFormat`).
pub fn format(caps: &QemuCaps, sel: &Selection<'_>, host: &DomCapsHost) -> String {
    let mut out = String::from("<domainCapabilities>\n");
    let machine = sel.machine.name.as_str();
    let arch = sel.arch;
    let dev = |d: &str| caps.has_object(d);
    let _ = writeln!(out, "  <path>{}</path>", caps.binary.display());
    let _ = writeln!(
        out,
        "  <domain>{}</domain>",
        if sel.kvm { "kvm" } else { "qemu" }
    );
    let _ = writeln!(out, "  <machine>{machine}</machine>");
    let _ = writeln!(out, "  <arch>{arch}</arch>");
    if sel.machine.max_cpus > 0 {
        let _ = writeln!(out, "  <vcpu max='{}'/>", sel.machine.max_cpus);
    }
    let _ = writeln!(
        out,
        "  <iothreads supported='{}'/>",
        yes_no(caps.has_object("iothread"))
    );

    // <os>: firmware and loader.
    let firmware: Vec<&Firmware> = host
        .firmware
        .iter()
        .filter(|f| f.serves(arch, machine))
        .collect();
    let has = |i: &str| firmware.iter().any(|f| f.interfaces.iter().any(|x| x == i));
    let secure = firmware.iter().any(|f| f.secure_boot);
    out.push_str("  <os supported='yes'>\n");
    write_enum(
        &mut out,
        "    ",
        "firmware",
        &pick(&[(has("bios"), "bios"), (has("uefi"), "efi")]),
    );
    out.push_str("    <loader supported='yes'>\n");
    // Each descriptor's executable once, or libvirt's own list when none serves the
    // machine; only files that exist.
    let mut loaders: Vec<&str> = Vec::new();
    for exe in firmware.iter().filter_map(|f| f.executable.as_deref()) {
        if !loaders.contains(&exe) {
            loaders.push(exe);
        }
    }
    if loaders.is_empty() {
        loaders = host.default_loaders.iter().map(String::as_str).collect();
    }
    for exe in loaders.into_iter().filter(|p| Path::new(p).exists()) {
        let _ = writeln!(out, "      <value>{exe}</value>");
    }
    write_enum(&mut out, "      ", "type", &["rom", "pflash"]);
    write_enum(&mut out, "      ", "readonly", &["yes", "no"]);
    write_enum(
        &mut out,
        "      ",
        "secure",
        &pick(&[(secure, "yes"), (true, "no")]),
    );
    out.push_str("    </loader>\n  </os>\n");

    // <cpu>.
    out.push_str("  <cpu>\n");
    let x86 = is_x86(arch);
    if sel.kvm {
        out.push_str("    <mode name='host-passthrough' supported='yes'>\n");
        if x86 {
            // `on` needs QEMU's `migratable` CPU property, which libvirt looks for on
            // the `max-x86_64-cpu` type only: a qemu-system-i386 binary offers just `off`.
            let migratable = caps.has_object("max-x86_64-cpu");
            write_enum(
                &mut out,
                "      ",
                "hostPassthroughMigratable",
                &pick(&[(migratable, "on"), (true, "off")]),
            );
        }
        out.push_str("    </mode>\n");
    } else {
        out.push_str("    <mode name='host-passthrough' supported='no'/>\n");
    }
    let defs = caps.cpu_definitions_for(sel.kvm);
    if defs.iter().any(|d| d.name == "max") {
        out.push_str("    <mode name='maximum' supported='yes'>\n");
        if x86 {
            write_enum(&mut out, "      ", "maximumMigratable", &["on", "off"]);
        }
        out.push_str("    </mode>\n");
    } else {
        out.push_str("    <mode name='maximum' supported='no'/>\n");
    }
    out.push_str("    <mode name='host-model' supported='no'/>\n");
    let models: Vec<(&str, &str, &str)> = defs
        .iter()
        .filter_map(|d| {
            let vendor = if x86 {
                X86_MODELS.iter().find(|(n, _)| *n == d.name)?.1
            } else if matches!(d.name.as_str(), "max" | "host" | "base") {
                return None;
            } else {
                "unknown"
            };
            let usable = match d.usable {
                Some(true) => "yes",
                Some(false) => "no",
                None => "unknown",
            };
            Some((d.name.as_str(), usable, vendor))
        })
        .collect();
    if models.is_empty() {
        out.push_str("    <mode name='custom' supported='no'/>\n");
    } else {
        out.push_str("    <mode name='custom' supported='yes'>\n");
        for (name, usable, vendor) in models {
            let _ = writeln!(
                out,
                "      <model usable='{usable}' vendor='{vendor}'>{name}</model>"
            );
        }
        out.push_str("    </mode>\n");
    }
    out.push_str("  </cpu>\n");

    // <memoryBacking>.
    out.push_str("  <memoryBacking supported='yes'>\n");
    write_enum(
        &mut out,
        "    ",
        "sourceType",
        &pick(&[
            (dev("memory-backend-file"), "file"),
            (true, "anonymous"),
            (dev("memory-backend-memfd"), "memfd"),
        ]),
    );
    out.push_str("  </memoryBacking>\n");

    // <devices>.
    out.push_str("  <devices>\n");
    let pseries = is_pseries(arch, machine);
    // The transitional models need virtio-pci's transitional devices or its
    // `disable-legacy` property (any virtio-pci device); MMIO-only binaries lack both.
    let transitional = dev("virtio-blk-pci-transitional") || dev("virtio-net-pci");
    let virtio_models = pick(&[
        (true, "virtio"),
        (transitional, "virtio-transitional"),
        (transitional, "virtio-non-transitional"),
    ]);
    write_device(
        &mut out,
        "disk",
        &[
            (
                "diskDevice",
                pick(&[
                    (true, "disk"),
                    (true, "cdrom"),
                    (!pseries, "floppy"),
                    (true, "lun"),
                ]),
            ),
            (
                "bus",
                pick(&[
                    (has_builtin_ide(arch, machine), "ide"),
                    (!pseries, "fdc"),
                    (true, "scsi"),
                    (true, "virtio"),
                    (dev("usb-storage"), "usb"),
                    (dev("ich9-ahci"), "sata"),
                ]),
            ),
            ("model", virtio_models.clone()),
        ],
        true,
    );
    let display = |t: &str| caps.display_types.contains(t);
    let command = |c: &str| caps.commands.contains(c);
    write_device(
        &mut out,
        "graphics",
        &[(
            "type",
            pick(&[
                (display("sdl"), "sdl"),
                (command("query-vnc"), "vnc"),
                (command("query-spice"), "spice"),
                (display("egl-headless"), "egl-headless"),
                (display("dbus"), "dbus"),
            ]),
        )],
        true,
    );
    write_device(
        &mut out,
        "video",
        &[(
            "modelType",
            pick(&[
                (dev("VGA"), "vga"),
                (dev("cirrus-vga"), "cirrus"),
                (dev("vmware-svga"), "vmvga"),
                (dev("qxl-vga"), "qxl"),
                (
                    dev("virtio-gpu-pci") || dev("virtio-gpu-device") || dev("virtio-gpu-ccw"),
                    "virtio",
                ),
                (true, "none"),
                (dev("bochs-display"), "bochs"),
                (dev("ramfb"), "ramfb"),
            ]),
        )],
        true,
    );
    write_device(
        &mut out,
        "hostdev",
        &[
            ("mode", vec!["subsystem"]),
            (
                "startupPolicy",
                vec!["default", "mandatory", "requisite", "optional"],
            ),
            (
                "subsysType",
                pick(&[
                    (dev("usb-host"), "usb"),
                    (true, "pci"),
                    (dev("scsi-generic"), "scsi"),
                ]),
            ),
            ("capsType", vec![]),
            (
                "pciBackend",
                pick(&[
                    (host.vfio && dev("vfio-pci"), "default"),
                    (host.vfio && dev("vfio-pci"), "vfio"),
                ]),
            ),
        ],
        true,
    );
    let virtio_rng = dev("virtio-rng-pci") || dev("virtio-rng-device") || dev("virtio-rng-ccw");
    write_device(
        &mut out,
        "rng",
        &[
            ("model", if virtio_rng { virtio_models } else { vec![] }),
            (
                "backendModel",
                pick(&[
                    (dev("rng-random"), "random"),
                    (dev("rng-egd"), "egd"),
                    (dev("rng-builtin"), "builtin"),
                ]),
            ),
        ],
        true,
    );
    write_device(
        &mut out,
        "filesystem",
        &[(
            "driverType",
            pick(&[
                (true, "path"),
                (true, "handle"),
                (dev("vhost-user-fs-device"), "virtiofs"),
            ]),
        )],
        true,
    );
    let tpm_models = pick(&[
        (dev("tpm-tis"), "tpm-tis"),
        (dev("tpm-crb"), "tpm-crb"),
        (dev("tpm-spapr"), "tpm-spapr"),
        (dev("spapr-tpm-proxy"), "spapr-tpm-proxy"),
    ]);
    let tpm = |t: &str| caps.tpm_types.contains(t);
    let emulator = tpm("emulator") && host.swtpm;
    let mut tpm_enums = vec![
        ("model", tpm_models.clone()),
        (
            "backendModel",
            pick(&[(tpm("passthrough"), "passthrough"), (emulator, "emulator")]),
        ),
    ];
    // The versions are reported only with the emulator (swtpm installed).
    if emulator {
        tpm_enums.push((
            "backendVersion",
            host.swtpm_versions.iter().map(String::as_str).collect(),
        ));
    }
    write_device(&mut out, "tpm", &tpm_enums, !tpm_models.is_empty());
    write_device(
        &mut out,
        "redirdev",
        &[("bus", vec!["usb"])],
        dev("usb-redir"),
    );
    write_device(
        &mut out,
        "channel",
        &[(
            "type",
            pick(&[
                (true, "pty"),
                (true, "unix"),
                (command("query-spice"), "spicevmc"),
            ]),
        )],
        true,
    );
    out.push_str("  </devices>\n");

    // <features>.
    out.push_str("  <features>\n");
    let arm_virt = (arch == "aarch64" || arch == "armv7l")
        && (machine == "virt" || machine.starts_with("virt-"));
    if arm_virt {
        out.push_str("    <gic supported='yes'>\n");
        write_enum(&mut out, "      ", "version", &["2", "3"]);
        out.push_str("    </gic>\n");
    } else {
        out.push_str("    <gic supported='no'/>\n");
    }
    let _ = writeln!(
        out,
        "    <vmcoreinfo supported='{}'/>",
        yes_no(dev("vmcoreinfo"))
    );
    let _ = writeln!(out, "    <genid supported='{}'/>", yes_no(dev("vmgenid")));
    let blockdev = command("blockdev-add");
    let _ = writeln!(
        out,
        "    <backingStoreInput supported='{}'/>",
        yes_no(blockdev)
    );
    let _ = writeln!(
        out,
        "    <backup supported='{}'/>",
        yes_no(blockdev && command("blockdev-backup") && command("block-dirty-bitmap-merge"))
    );
    let kvm_caps = caps.kvm.as_ref().filter(|_| sel.kvm);
    let _ = writeln!(
        out,
        "    <sev supported='{}'/>",
        yes_no(kvm_caps.is_some_and(|k| k.sev))
    );
    let _ = writeln!(
        out,
        "    <sgx supported='{}'/>",
        yes_no(kvm_caps.is_some_and(|k| k.sgx))
    );
    // libvirt reads the Hyper-V enlightenments from the KVM probe's host CPU expansion,
    // whose integer and string properties (`hv-spinlocks`, `hv-vendor-id`) are the ones
    // it ends up listing; without KVM there is no expansion.
    if x86 && caps.kvm.is_some() {
        out.push_str("    <hyperv supported='yes'>\n");
        write_enum(&mut out, "      ", "features", &["spinlocks", "vendor_id"]);
        out.push_str("    </hyperv>\n");
    } else {
        out.push_str("    <hyperv supported='no'/>\n");
    }
    out.push_str("  </features>\n");
    out.push_str("</domainCapabilities>\n");
    out
}

fn invalid(msg: String) -> VirError {
    VirError::new(ErrorDomain::Qemu, ErrorCode::InvalidArg, msg)
}

/// Whether a binary for `binary_arch` runs `arch` guests (libvirt's
/// `virQEMUCapsIsArchSupported`).
pub fn arch_supported(binary_arch: &str, arch: &str) -> bool {
    binary_arch == arch
        || matches!(
            (binary_arch, arch),
            ("x86_64", "i686")
                | ("aarch64", "armv7l")
                | ("armv7l", "armv6l")
                | ("ppc64", "ppc64le")
        )
}

/// The machine `name` (by name or alias) of `machines`, or the default one (libvirt's
/// preferred machine: QEMU's default, else the first).
fn choose_machine<'a>(machines: &'a [Machine], name: Option<&str>) -> Option<&'a Machine> {
    match name {
        Some(n) => machines
            .iter()
            .find(|m| m.name == n || m.alias.as_deref() == Some(n)),
        None => ordered_machines(machines).into_iter().next(),
    }
}

/// The domain capabilities XML for `query` (libvirt's
/// `qemuConnectGetDomainCapabilities`), the emulator found in `search_dirs` when none is
/// named, probed through `caps_cache`; errors as libvirt's for an unknown virt type,
/// architecture, emulator or machine.
pub async fn domain_capabilities(
    caps_cache: &CapsCache,
    search_dirs: &[PathBuf],
    query: &DomCapsQuery<'_>,
) -> Result<String, VirError> {
    let virttype = match query.virttype {
        None => None,
        Some(
            t @ ("qemu" | "kqemu" | "kvm" | "xen" | "lxc" | "uml" | "openvz" | "test" | "vmware"
            | "hyperv" | "vbox" | "phyp" | "parallels" | "bhyve" | "vz"),
        ) => Some(t),
        Some(other) => return Err(invalid(format!("unknown virttype: {other}"))),
    };
    let host = host_arch();
    let arch = match query.arch {
        None => host,
        Some(a) if wordsize(a).is_some() => a,
        Some(other) => return Err(invalid(format!("unknown architecture: {other}"))),
    };
    let binary = match query.emulator {
        Some(e) => PathBuf::from(e),
        None => binary_for_arch(search_dirs, host, arch).ok_or_else(|| {
            VirError::new(
                ErrorDomain::Qemu,
                ErrorCode::ConfigUnsupported,
                format!("unable to find any emulator to serve '{arch}' architecture"),
            )
        })?,
    };
    let caps = caps_cache.get(&binary).await?;
    let kvm = match virttype {
        None => caps.kvm.is_some() || !caps.tcg,
        Some(t) => t == "kvm",
    };
    let machine = choose_machine(caps.machines_for(kvm), query.machine).ok_or_else(|| {
        invalid(format!(
            "the machine '{}' is not supported by emulator '{}'",
            query.machine.unwrap_or_default(),
            binary.display()
        ))
    })?;
    if !arch_supported(&caps.arch, arch) {
        return Err(invalid(format!(
            "Emulator '{}' does not support arch '{arch}'",
            binary.display()
        )));
    }
    if let Some(t) = virttype {
        if !((t == "qemu" && caps.tcg) || (t == "kvm" && caps.kvm.is_some())) {
            return Err(invalid(format!(
                "Emulator '{}' does not support virt type '{t}'",
                binary.display()
            )));
        }
    }
    let env = DomCapsHost::probe(search_dirs);
    Ok(format(&caps, &Selection { arch, machine, kvm }, &env))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("pc-q35-*", "pc-q35-7.2"));
        assert!(!glob("pc-q35-*", "pc-i440fx-7.2"));
        assert!(glob("pc-i440fx-?.2", "pc-i440fx-7.2"));
        assert!(glob("*", "anything"));
        assert!(!glob("q35", "pc-q35-7.2"));
    }

    #[test]
    fn firmware_descriptor() {
        let text = r#"{
            "description": "OVMF with SB+SMM",
            "interface-types": ["uefi"],
            "mapping": {"device": "flash",
                        "executable": {"filename": "/usr/share/OVMF/OVMF_CODE_4M.ms.fd", "format": "raw"},
                        "nvram-template": {"filename": "/usr/share/OVMF/OVMF_VARS_4M.ms.fd", "format": "raw"}},
            "targets": [{"architecture": "x86_64", "machines": ["pc-q35-*"]}],
            "features": ["acpi-s3", "requires-smm", "secure-boot", "enrolled-keys"],
            "tags": []
        }"#;
        let fw = Firmware::parse(text).expect("a descriptor");
        assert_eq!(fw.interfaces, vec!["uefi"]);
        assert_eq!(
            fw.executable.as_deref(),
            Some("/usr/share/OVMF/OVMF_CODE_4M.ms.fd")
        );
        assert!(fw.secure_boot);
        assert!(fw.serves("x86_64", "pc-q35-7.2"));
        assert!(!fw.serves("x86_64", "pc-i440fx-7.2"));
        assert!(!fw.serves("i686", "pc-q35-7.2"));
        assert!(Firmware::parse("not json").is_none());
    }

    #[test]
    fn ide_only_on_i440fx() {
        assert!(has_builtin_ide("x86_64", "pc-i440fx-7.2"));
        assert!(!has_builtin_ide("x86_64", "pc-q35-7.2"));
        assert!(!has_builtin_ide("x86_64", "isapc"));
        assert!(!has_builtin_ide("x86_64", "microvm"));
    }

    #[test]
    fn arch_pairs() {
        assert!(arch_supported("x86_64", "i686"));
        assert!(!arch_supported("i686", "x86_64"));
        assert!(arch_supported("aarch64", "armv7l"));
    }
}
