//! The QEMU half of the capabilities XML: one `<guest>` per architecture whose
//! `qemu-system-*` binary is installed, as libvirt's `virQEMUCapsInit` builds them.
//!
//! libvirt walks its architectures in their enum order, looks for `qemu-system-ARCH`
//! in `PATH` (QEMU's spelling of the architecture: `i386` for `i686`, `arm` for
//! `armv6l`/`armv7l`), falls back to the 64-bit sibling's binary (`qemu-system-x86_64` for
//! `i686`, `qemu-system-aarch64` for `armv7l`, `qemu-system-ppc64` for `ppc64le`), and to
//! `qemu-kvm` for the host's own architecture. Each binary is probed once ([`CapsCache`]);
//! a binary that cannot be probed is left out, as libvirt does.

use std::path::{Path, PathBuf};

use oxvirt_node::caps::guest::{Guest, GuestDomain, GuestFeatures, GuestMachine, Toggle};
use oxvirt_xml::VirError;

use crate::caps::{CapsCache, Machine, QemuCaps};

/// libvirt's architectures in its enum order (`virArch`), each with its word size.
pub const ARCHES: &[(&str, u32)] = &[
    ("alpha", 64),
    ("armv6l", 32),
    ("armv7l", 32),
    ("armv7b", 32),
    ("aarch64", 64),
    ("cris", 32),
    ("i686", 32),
    ("ia64", 64),
    ("lm32", 32),
    ("m68k", 32),
    ("microblaze", 32),
    ("microblazeel", 32),
    ("mips", 32),
    ("mipsel", 32),
    ("mips64", 64),
    ("mips64el", 64),
    ("or32", 32),
    ("parisc", 32),
    ("parisc64", 64),
    ("ppc", 32),
    ("ppcle", 32),
    ("ppc64", 64),
    ("ppc64le", 64),
    ("ppcemb", 32),
    ("riscv32", 32),
    ("riscv64", 64),
    ("s390", 32),
    ("s390x", 64),
    ("sh4", 32),
    ("sh4eb", 32),
    ("sparc", 32),
    ("sparc64", 64),
    ("unicore32", 32),
    ("x86_64", 64),
    ("xtensa", 32),
    ("xtensaeb", 32),
];

/// The word size of libvirt architecture `arch`, if libvirt knows it.
pub fn wordsize(arch: &str) -> Option<u32> {
    ARCHES.iter().find(|(a, _)| *a == arch).map(|(_, w)| *w)
}

/// QEMU's name for libvirt architecture `arch` (the `qemu-system-` suffix).
pub fn qemu_arch(arch: &str) -> &str {
    match arch {
        "i686" => "i386",
        "armv6l" | "armv7l" => "arm",
        "or32" => "or1k",
        other => other,
    }
}

/// The 64-bit sibling whose binary also runs `arch` guests.
fn fallback_arch(arch: &str) -> Option<&'static str> {
    match arch {
        "i686" => Some("x86_64"),
        "armv7l" => Some("aarch64"),
        "ppc64le" => Some("ppc64"),
        _ => None,
    }
}

/// The host's architecture in libvirt's spelling.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86" => "i686",
        "arm" => "armv7l",
        "powerpc64" => {
            if cfg!(target_endian = "little") {
                "ppc64le"
            } else {
                "ppc64"
            }
        }
        other => other,
    }
}

/// Where libvirt looks for binaries: the directories of `PATH` (libvirtd's own
/// is `/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin` when unset).
pub fn default_search_path() -> Vec<PathBuf> {
    let path = std::env::var_os("PATH")
        .unwrap_or_else(|| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
    std::env::split_paths(&path).collect()
}

fn find_in(dirs: &[PathBuf], name: &str) -> Option<PathBuf> {
    dirs.iter().map(|d| d.join(name)).find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    p.is_file() && rustix::fs::access(p, rustix::fs::Access::EXEC_OK).is_ok()
}

/// The binary that serves `arch` guests on a `host_arch` host, searched in `dirs`
/// (libvirt's `virQEMUCapsFindBinaryForArch`, then `qemu-kvm` for the host's own
/// architecture).
pub fn binary_for_arch(dirs: &[PathBuf], host_arch: &str, arch: &str) -> Option<PathBuf> {
    if let Some(p) = find_in(dirs, &format!("qemu-system-{}", qemu_arch(arch))) {
        return Some(p);
    }
    if let Some(p) =
        fallback_arch(arch).and_then(|fb| find_in(dirs, &format!("qemu-system-{}", qemu_arch(fb))))
    {
        return Some(p);
    }
    if arch == host_arch {
        let mut kvm_dirs = dirs.to_vec();
        kvm_dirs.push(PathBuf::from("/usr/libexec"));
        return find_in(&kvm_dirs, "qemu-kvm");
    }
    None
}

/// Every (architecture, binary) libvirt would list, in libvirt's architecture order.
pub fn find_binaries(dirs: &[PathBuf], host_arch: &str) -> Vec<(String, PathBuf)> {
    ARCHES
        .iter()
        .filter_map(|(arch, _)| {
            binary_for_arch(dirs, host_arch, arch).map(|b| ((*arch).to_owned(), b))
        })
        .collect()
}

/// The machine types in libvirt's order: QEMU's, with its default moved to the front.
pub fn ordered_machines(machines: &[Machine]) -> Vec<&Machine> {
    let mut out: Vec<&Machine> = machines.iter().collect();
    if let Some(at) = out.iter().position(|m| m.is_default) {
        let default = out.remove(at);
        out.insert(0, default);
    }
    out
}

/// The `<machine>` entries of a guest (libvirt's `virQEMUCapsGetMachineTypesCaps`): an
/// alias is listed by its alias with `canonical=`, right after an entry for the
/// canonical name itself.
pub fn guest_machines(machines: &[Machine]) -> Vec<GuestMachine> {
    let mut out: Vec<GuestMachine> = ordered_machines(machines)
        .into_iter()
        .map(|m| match &m.alias {
            Some(alias) => GuestMachine {
                name: alias.clone(),
                canonical: Some(m.name.clone()),
                max_cpus: m.max_cpus,
                deprecated: m.deprecated,
            },
            None => GuestMachine {
                name: m.name.clone(),
                canonical: None,
                max_cpus: m.max_cpus,
                deprecated: m.deprecated,
            },
        })
        .collect();
    let mut i = 0;
    while i < out.len() {
        let Some(canonical) = out[i].canonical.clone() else {
            i += 1;
            continue;
        };
        if out.iter().any(|m| m.name == canonical) {
            i += 1;
            continue;
        }
        let entry = GuestMachine {
            name: canonical,
            canonical: None,
            max_cpus: out[i].max_cpus,
            deprecated: out[i].deprecated,
        };
        out.insert(i, entry);
        i += 2;
    }
    out
}

/// The `<guest>` of `arch` served by the probed binary `caps` (libvirt's
/// `virQEMUCapsInitGuestFromBinary`): machines of the KVM probe when KVM is usable,
/// `qemu` when the binary has TCG and `kvm` when QEMU could enable KVM, and the architecture's features.
pub fn guest_from_caps(arch: &str, caps: &QemuCaps) -> Guest {
    let kvm = caps.kvm.is_some();
    let mut domains = Vec::new();
    if caps.tcg {
        domains.push(GuestDomain {
            virt_type: "qemu".into(),
            ..GuestDomain::default()
        });
    }
    if kvm {
        domains.push(GuestDomain {
            virt_type: "kvm".into(),
            ..GuestDomain::default()
        });
    }
    let x86 = arch == "i686" || arch == "x86_64";
    let features = GuestFeatures {
        pae: arch == "i686",
        nonpae: arch == "i686",
        acpi: x86.then_some(Toggle {
            default_on: true,
            toggle: true,
        }),
        apic: x86.then_some(Toggle {
            default_on: true,
            toggle: false,
        }),
        cpuselection: true,
        deviceboot: true,
        disksnapshot: Some(Toggle {
            default_on: true,
            toggle: false,
        }),
        ..GuestFeatures::default()
    };
    Guest {
        os_type: "hvm".into(),
        arch: arch.to_owned(),
        wordsize: wordsize(arch).unwrap_or(64),
        emulator: caps.binary.display().to_string(),
        loader: None,
        machines: guest_machines(caps.machines_for(kvm)),
        domains,
        features,
    }
}

/// The `<guest>` entries for `binaries` (from [`find_binaries`]), each binary probed
/// through `caps_cache`; binaries that fail to probe are left out.
pub async fn guests(
    caps_cache: &CapsCache,
    binaries: &[(String, PathBuf)],
) -> Result<Vec<Guest>, VirError> {
    let mut out = Vec::new();
    for (arch, binary) in binaries {
        if let Ok(caps) = caps_cache.get(binary).await {
            out.push(guest_from_caps(arch, &caps));
        }
    }
    Ok(out)
}

/// The `<guest>` entries of this host: the binaries of [`default_search_path`] for the
/// host's architecture ([`find_binaries`]), probed through `caps_cache`.
pub async fn host_guests(caps_cache: &CapsCache) -> Result<Vec<Guest>, VirError> {
    let binaries = find_binaries(&default_search_path(), host_arch());
    guests(caps_cache, &binaries).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(name: &str, alias: Option<&str>, default: bool, max: u32, deprecated: bool) -> Machine {
        Machine {
            name: name.into(),
            alias: alias.map(str::to_owned),
            is_default: default,
            max_cpus: max,
            deprecated,
        }
    }

    #[test]
    fn default_first_and_canonical_before_alias() {
        let machines = vec![
            m("pc-q35-5.2", None, false, 288, false),
            m("pc-i440fx-1.4", None, false, 255, true),
            m("pc-q35-7.2", Some("q35"), false, 288, false),
            m("pc-i440fx-7.2", Some("pc"), true, 255, false),
            m("isapc", None, false, 1, false),
        ];
        let names: Vec<(String, Option<String>)> = guest_machines(&machines)
            .into_iter()
            .map(|g| (g.name, g.canonical))
            .collect();
        let s = |a: &str| a.to_owned();
        assert_eq!(
            names,
            vec![
                (s("pc-i440fx-7.2"), None),
                (s("pc"), Some(s("pc-i440fx-7.2"))),
                (s("pc-q35-5.2"), None),
                (s("pc-i440fx-1.4"), None),
                (s("pc-q35-7.2"), None),
                (s("q35"), Some(s("pc-q35-7.2"))),
                (s("isapc"), None),
            ]
        );
        assert!(guest_machines(&machines)[3].deprecated);
    }

    #[test]
    fn arch_names() {
        assert_eq!(qemu_arch("i686"), "i386");
        assert_eq!(qemu_arch("armv7l"), "arm");
        assert_eq!(qemu_arch("x86_64"), "x86_64");
        assert_eq!(wordsize("i686"), Some(32));
        assert_eq!(wordsize("aarch64"), Some(64));
        let i686 = ARCHES.iter().position(|a| a.0 == "i686");
        let x86_64 = ARCHES.iter().position(|a| a.0 == "x86_64");
        assert!(i686 < x86_64);
    }
}
