//! The `<guest>` entries of the capabilities XML and the domain capabilities, from our
//! probe of the installed QEMU, compared with what the real libvirtd on this machine says
//! (`virsh -c qemu:///system ...`; skipped when it does not answer), and formatted from a
//! fixed probe.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{have_qemu, QEMU};
use oxvirt_qemu::caps::{CapsCache, CpuDefinition, KvmCaps, Machine, QemuCaps};
use oxvirt_qemu::domcaps::{self, DomCapsHost, DomCapsQuery, Firmware, Selection};
use oxvirt_qemu::guests::{self, default_search_path, find_binaries, host_arch};
use oxvirt_xml::ErrorCode;

/// `virsh -c qemu:///system ARGS` from the real libvirtd, or `None` (with a SKIPPED
/// line) when it does not answer.
fn libvirtd(test: &str, args: &[&str]) -> Option<String> {
    let out = Command::new("virsh")
        .args(["-c", "qemu:///system"])
        .args(args)
        .output();
    match out {
        Ok(o) if o.status.success() => Some(String::from_utf8_lossy(&o.stdout).into_owned()),
        Ok(o) => {
            eprintln!(
                "SKIPPED {test}: libvirtd did not answer: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            );
            None
        }
        Err(e) => {
            eprintln!("SKIPPED {test}: no virsh: {e}");
            None
        }
    }
}

/// libvirtd's error for `virsh domcapabilities ARGS`.
fn libvirtd_error(args: &[&str]) -> Option<String> {
    let o = Command::new("virsh")
        .args(["-c", "qemu:///system", "domcapabilities"])
        .args(args)
        .output()
        .ok()?;
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    err.lines()
        .find(|l| l.starts_with("error: ") && !l.contains("failed to get emulator"))
        .map(|l| l.trim_start_matches("error: ").to_owned())
}

fn first_diff(a: &str, b: &str) -> String {
    for (i, (x, y)) in a.lines().zip(b.lines()).enumerate() {
        if x != y {
            return format!("line {}: ours {x:?}, libvirtd's {y:?}", i + 1);
        }
    }
    format!(
        "lengths: ours {} lines, libvirtd's {}",
        a.lines().count(),
        b.lines().count()
    )
}

#[tokio::test]
async fn guests_equal_libvirtds() {
    let test = "guests_equal_libvirtds";
    if !have_qemu(test) {
        return;
    }
    let Some(theirs) = libvirtd(test, &["capabilities"]) else {
        return;
    };
    let start = theirs.find("  <guest>").unwrap();
    let end = theirs.rfind("  </guest>\n").unwrap() + "  </guest>\n".len();
    let theirs = &theirs[start..end];

    let cache = CapsCache::new();
    let binaries = find_binaries(&default_search_path(), host_arch());
    let found: Vec<&str> = binaries.iter().map(|(a, _)| a.as_str()).collect();
    assert!(found.contains(&"x86_64"), "{found:?}");
    let list = guests::guests(&cache, &binaries).await.unwrap();
    let ours: Vec<String> = list
        .iter()
        .map(|g| {
            let mut s = String::new();
            g.write_xml(&mut s);
            s
        })
        .collect();
    let ours = ours.join("\n");
    assert!(ours == theirs, "{}", first_diff(&ours, theirs));
    // Each binary was probed once; asking again uses the cache.
    let probes = cache.probes();
    guests::guests(&cache, &binaries).await.unwrap();
    assert_eq!(cache.probes(), probes);
}

/// libvirt's host-model CPU (computed from its CPU map) is the one part we do not
/// derive: drop that mode from both sides.
fn without_host_model(xml: &str) -> String {
    let mut out = String::new();
    let mut skipping = false;
    for line in xml.lines() {
        let t = line.trim_start();
        if t.starts_with("<mode name='host-model'") {
            skipping = !t.ends_with("/>");
            continue;
        }
        if skipping {
            if t == "</mode>" {
                skipping = false;
            }
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.trim().to_owned()
}

async fn compare_domcaps(test: &str, args: &[&str], query: DomCapsQuery<'_>) {
    if !have_qemu(test) {
        return;
    }
    let mut virsh_args = vec!["domcapabilities"];
    virsh_args.extend_from_slice(args);
    let Some(theirs) = libvirtd(test, &virsh_args) else {
        return;
    };
    let cache = CapsCache::new();
    let ours = domcaps::domain_capabilities(&cache, &default_search_path(), &query)
        .await
        .unwrap();
    assert!(ours.contains("<mode name='host-model' supported='no'/>"));
    let (ours, theirs) = (without_host_model(&ours), without_host_model(&theirs));
    assert!(ours == theirs, "{args:?}: {}", first_diff(&ours, &theirs));
}

#[tokio::test]
async fn domcaps_default_equal_libvirtds() {
    compare_domcaps(
        "domcaps_default_equal_libvirtds",
        &[],
        DomCapsQuery::default(),
    )
    .await;
}

#[tokio::test]
async fn domcaps_tcg_equal_libvirtds() {
    compare_domcaps(
        "domcaps_tcg_equal_libvirtds",
        &["--virttype", "qemu"],
        DomCapsQuery {
            virttype: Some("qemu"),
            ..DomCapsQuery::default()
        },
    )
    .await;
}

#[tokio::test]
async fn domcaps_q35_equal_libvirtds() {
    compare_domcaps(
        "domcaps_q35_equal_libvirtds",
        &["--machine", "q35"],
        DomCapsQuery {
            machine: Some("q35"),
            ..DomCapsQuery::default()
        },
    )
    .await;
}

#[tokio::test]
async fn domcaps_i686_equal_libvirtds() {
    compare_domcaps(
        "domcaps_i686_equal_libvirtds",
        &["--arch", "i686", "--machine", "isapc"],
        DomCapsQuery {
            arch: Some("i686"),
            machine: Some("isapc"),
            ..DomCapsQuery::default()
        },
    )
    .await;
}

#[tokio::test]
async fn domcaps_errors_are_libvirts() {
    let test = "domcaps_errors_are_libvirts";
    if !have_qemu(test) {
        return;
    }
    let cache = CapsCache::new();
    let dirs = default_search_path();
    let cases: Vec<(Vec<&str>, DomCapsQuery<'_>, ErrorCode, String)> =
        vec![
        (
            vec!["--virttype", "bogus"],
            DomCapsQuery {
                virttype: Some("bogus"),
                ..DomCapsQuery::default()
            },
            ErrorCode::InvalidArg,
            "invalid argument: unknown virttype: bogus".into(),
        ),
        (
            vec!["--arch", "bogus"],
            DomCapsQuery {
                arch: Some("bogus"),
                ..DomCapsQuery::default()
            },
            ErrorCode::InvalidArg,
            "invalid argument: unknown architecture: bogus".into(),
        ),
        (
            vec!["--arch", "sparc"],
            DomCapsQuery {
                arch: Some("sparc"),
                ..DomCapsQuery::default()
            },
            ErrorCode::ConfigUnsupported,
            "unsupported configuration: unable to find any emulator to serve 'sparc' architecture"
                .into(),
        ),
        (
            vec!["--machine", "bogus"],
            DomCapsQuery {
                machine: Some("bogus"),
                ..DomCapsQuery::default()
            },
            ErrorCode::InvalidArg,
            format!(
                "invalid argument: the machine 'bogus' is not supported by emulator '{QEMU}'"
            ),
        ),
        (
            vec!["--virttype", "xen"],
            DomCapsQuery {
                virttype: Some("xen"),
                ..DomCapsQuery::default()
            },
            ErrorCode::InvalidArg,
            format!("invalid argument: Emulator '{QEMU}' does not support virt type 'xen'"),
        ),
        (
            vec!["--emulatorbin", "/usr/bin/qemu-system-i386", "--arch", "x86_64"],
            DomCapsQuery {
                emulator: Some("/usr/bin/qemu-system-i386"),
                arch: Some("x86_64"),
                ..DomCapsQuery::default()
            },
            ErrorCode::InvalidArg,
            "invalid argument: Emulator '/usr/bin/qemu-system-i386' does not support arch 'x86_64'"
                .into(),
        ),
        (
            vec!["--emulatorbin", "/usr/bin/nope"],
            DomCapsQuery {
                emulator: Some("/usr/bin/nope"),
                ..DomCapsQuery::default()
            },
            ErrorCode::SystemError,
            "Cannot check QEMU binary /usr/bin/nope: No such file or directory".into(),
        ),
    ];
    let libvirtd_answers = libvirtd(test, &["uri"]).is_some();
    for (args, query, code, message) in cases {
        if query.emulator == Some("/usr/bin/qemu-system-i386")
            && !Path::new("/usr/bin/qemu-system-i386").exists()
        {
            continue;
        }
        let err = domcaps::domain_capabilities(&cache, &dirs, &query)
            .await
            .unwrap_err();
        assert_eq!(err.code, code, "{args:?}: {err:?}");
        assert_eq!(err.message, message, "{args:?}");
        if libvirtd_answers {
            assert_eq!(
                libvirtd_error(&args).as_deref(),
                Some(message.as_str()),
                "{args:?}"
            );
        }
    }
}

fn machine(name: &str, alias: Option<&str>, default: bool, max_cpus: u32) -> Machine {
    Machine {
        name: name.into(),
        alias: alias.map(str::to_owned),
        is_default: default,
        max_cpus,
        deprecated: false,
    }
}

fn cpu(name: &str, usable: bool) -> CpuDefinition {
    CpuDefinition {
        name: name.into(),
        usable: Some(usable),
        deprecated: false,
    }
}

/// A fixed QEMU 7.2-like probe, TCG only.
fn fixed_caps() -> QemuCaps {
    let set = |items: &[&str]| {
        items
            .iter()
            .map(|s| (*s).to_owned())
            .collect::<BTreeSet<_>>()
    };
    QemuCaps {
        binary: PathBuf::from("/usr/bin/qemu-system-x86_64"),
        version: 7_002_000,
        machines: vec![
            machine("pc-q35-7.2", Some("q35"), false, 288),
            machine("pc-i440fx-7.2", Some("pc"), true, 255),
        ],
        cpu_models: set(&["max", "qemu64", "Haswell", "Haswell-v1"]),
        commands: set(&[
            "blockdev-add",
            "blockdev-backup",
            "block-dirty-bitmap-merge",
            "query-vnc",
        ]),
        device_types: set(&["VGA", "virtio-gpu-pci", "usb-storage", "tpm-crb", "vmgenid"]),
        kvm_present: true,
        arch: "x86_64".into(),
        cpu_definitions: vec![
            cpu("max", true),
            cpu("qemu64", true),
            cpu("Haswell-v1", false),
            cpu("Haswell", false),
        ],
        object_types: set(&["iothread", "memory-backend-file", "rng-random"]),
        tpm_types: set(&["passthrough", "emulator"]),
        tpm_models: set(&["tpm-crb"]),
        display_types: set(&["none", "sdl"]),
        kvm: None,
        tcg: true,
    }
}

#[test]
fn formats_a_fixed_probe() {
    let caps = fixed_caps();
    let host = DomCapsHost {
        firmware: vec![Firmware {
            interfaces: vec!["uefi".into()],
            executable: Some("/bin/sh".into()),
            secure_boot: true,
            targets: vec![("x86_64".into(), vec!["pc-q35-*".into()])],
        }],
        vfio: false,
        swtpm: false,
        swtpm_versions: vec![],
        default_loaders: vec!["/bin/true".into(), "/nonexistent".into()],
    };
    let q35 = caps.machine("q35").unwrap();
    let xml = domcaps::format(
        &caps,
        &Selection {
            arch: "x86_64",
            machine: q35,
            kvm: false,
        },
        &host,
    );
    let expected_parts = [
        "<domainCapabilities>\n  <path>/usr/bin/qemu-system-x86_64</path>\n  <domain>qemu</domain>\n  <machine>pc-q35-7.2</machine>\n  <arch>x86_64</arch>\n  <vcpu max='288'/>\n  <iothreads supported='yes'/>\n",
        "  <os supported='yes'>\n    <enum name='firmware'>\n      <value>efi</value>\n    </enum>\n    <loader supported='yes'>\n      <value>/bin/sh</value>\n",
        "      <enum name='secure'>\n        <value>yes</value>\n        <value>no</value>\n      </enum>\n",
        "    <mode name='host-passthrough' supported='no'/>\n    <mode name='maximum' supported='yes'>\n",
        "    <mode name='custom' supported='yes'>\n      <model usable='yes' vendor='unknown'>qemu64</model>\n      <model usable='no' vendor='Intel'>Haswell</model>\n    </mode>\n",
        "    <enum name='sourceType'>\n      <value>file</value>\n      <value>anonymous</value>\n    </enum>\n",
        "      <enum name='bus'>\n        <value>fdc</value>\n        <value>scsi</value>\n        <value>virtio</value>\n        <value>usb</value>\n      </enum>\n",
        "      <enum name='type'>\n        <value>sdl</value>\n        <value>vnc</value>\n      </enum>\n",
        "      <enum name='modelType'>\n        <value>vga</value>\n        <value>virtio</value>\n        <value>none</value>\n      </enum>\n",
        "    <tpm supported='yes'>\n      <enum name='model'>\n        <value>tpm-crb</value>\n      </enum>\n      <enum name='backendModel'>\n        <value>passthrough</value>\n      </enum>\n    </tpm>\n",
        "    <redirdev supported='no'/>\n",
        "    <gic supported='no'/>\n    <vmcoreinfo supported='no'/>\n    <genid supported='yes'/>\n    <backingStoreInput supported='yes'/>\n    <backup supported='yes'/>\n    <sev supported='no'/>\n    <sgx supported='no'/>\n",
    ];
    for part in expected_parts {
        assert!(xml.contains(part), "missing:\n{part}\nin:\n{xml}");
    }
    assert!(xml.ends_with("    <hyperv supported='no'/>\n  </features>\n</domainCapabilities>\n"));

    // The i440FX machine has IDE, and the q35-only firmware is not offered.
    let pc = caps.machine("pc").unwrap();
    let xml = domcaps::format(
        &caps,
        &Selection {
            arch: "x86_64",
            machine: pc,
            kvm: false,
        },
        &host,
    );
    assert!(xml.contains("        <value>ide</value>\n        <value>fdc</value>\n"));
    assert!(xml.contains("    <enum name='firmware'/>\n"));
    assert!(!xml.contains("/bin/sh"));
    // No descriptor serves it: libvirt's own list, the files that exist.
    assert!(xml.contains(
        "    <loader supported='yes'>\n      <value>/bin/true</value>\n      <enum name='type'>"
    ));
    assert!(!xml.contains("/nonexistent"));
}

#[test]
fn guest_of_a_fixed_probe() {
    let caps = fixed_caps();
    let guest = guests::guest_from_caps("x86_64", &caps);
    let mut xml = String::new();
    guest.write_xml(&mut xml);
    assert_eq!(
        xml,
        "  <guest>
    <os_type>hvm</os_type>
    <arch name='x86_64'>
      <wordsize>64</wordsize>
      <emulator>/usr/bin/qemu-system-x86_64</emulator>
      <machine maxCpus='255'>pc-i440fx-7.2</machine>
      <machine canonical='pc-i440fx-7.2' maxCpus='255'>pc</machine>
      <machine maxCpus='288'>pc-q35-7.2</machine>
      <machine canonical='pc-q35-7.2' maxCpus='288'>q35</machine>
      <domain type='qemu'/>
    </arch>
    <features>
      <acpi default='on' toggle='yes'/>
      <apic default='on' toggle='no'/>
      <cpuselection/>
      <deviceboot/>
      <disksnapshot default='on' toggle='no'/>
    </features>
  </guest>
"
    );
}

#[tokio::test]
async fn domcaps_other_choices_equal_libvirtds() {
    let cases: &[(&[&str], DomCapsQuery<'_>)] = &[
        (
            &["--machine", "pc"],
            DomCapsQuery {
                machine: Some("pc"),
                ..DomCapsQuery::default()
            },
        ),
        (
            &["--machine", "microvm"],
            DomCapsQuery {
                machine: Some("microvm"),
                ..DomCapsQuery::default()
            },
        ),
        (
            &["--virttype", "qemu", "--machine", "q35"],
            DomCapsQuery {
                virttype: Some("qemu"),
                machine: Some("q35"),
                ..DomCapsQuery::default()
            },
        ),
        (
            &["--arch", "i686"],
            DomCapsQuery {
                arch: Some("i686"),
                ..DomCapsQuery::default()
            },
        ),
        (
            &["--arch", "i686", "--machine", "q35"],
            DomCapsQuery {
                arch: Some("i686"),
                machine: Some("q35"),
                ..DomCapsQuery::default()
            },
        ),
        (
            &["--emulatorbin", QEMU, "--arch", "i686"],
            DomCapsQuery {
                emulator: Some(QEMU),
                arch: Some("i686"),
                ..DomCapsQuery::default()
            },
        ),
        (
            &["--machine", "pc-q35-6.2"],
            DomCapsQuery {
                machine: Some("pc-q35-6.2"),
                ..DomCapsQuery::default()
            },
        ),
        (
            &["--emulatorbin", "/usr/bin/qemu-system-x86_64-microvm"],
            DomCapsQuery {
                emulator: Some("/usr/bin/qemu-system-x86_64-microvm"),
                ..DomCapsQuery::default()
            },
        ),
    ];
    for (args, query) in cases {
        if let Some(bin) = query.emulator.filter(|b| !Path::new(b).exists()) {
            eprintln!("SKIPPED {args:?}: {bin} is not installed");
            continue;
        }
        compare_domcaps("domcaps_other_choices_equal_libvirtds", args, *query).await;
    }
}

/// What virt-install 4.1 reads from domain capabilities (its `DomainCapabilities`
/// class), asked of an XML document by Debian's own virtinst.
const VIRTINST_PROBE: &str = r#"
import sys
sys.path.insert(0, "/usr/share/virt-manager")
import virtinst
import virtinst.cli
from virtinst import DomainCapabilities
conn = virtinst.cli.getConnection("test:///default")
d = DomainCapabilities(conn, parsexml=sys.stdin.read())
print("arch", d.arch, "domain", d.domain, "machine", d.machine, "path", d.path)
print("host-passthrough", d.supports_safe_host_passthrough())
print("efi", d.supports_firmware_efi(), d.supports_uefi_loader(), d.find_uefi_path_for_arch())
print("models", d.get_cpu_models())
print("video", d.supports_video_bochs(), d.supports_video_qxl(), d.supports_video_virtio())
print("tpm-emulator", d.supports_tpm_emulator(), "spice", d.supports_graphics_spice())
print("virtiofs", d.supports_filesystem_virtiofs(), "memfd", d.supports_memorybacking_memfd())
print("sev", d.supports_sev_launch_security())
"#;

fn virtinst_reads(xml: &str) -> String {
    use std::io::Write;
    let mut child = Command::new("/usr/bin/python3")
        .args(["-c", VIRTINST_PROBE])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(xml.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn virt_install_reads_ours_as_libvirtds() {
    let test = "virt_install_reads_ours_as_libvirtds";
    if !have_qemu(test) {
        return;
    }
    if !Path::new("/usr/share/virt-manager/virtinst").exists() {
        eprintln!("SKIPPED {test}: virt-install (virtinst) is not installed");
        return;
    }
    let cache = CapsCache::new();
    for (args, query) in [
        (
            vec!["--machine", "q35"],
            DomCapsQuery {
                machine: Some("q35"),
                ..DomCapsQuery::default()
            },
        ),
        (
            vec!["--virttype", "qemu"],
            DomCapsQuery {
                virttype: Some("qemu"),
                ..DomCapsQuery::default()
            },
        ),
    ] {
        let ours = domcaps::domain_capabilities(&cache, &default_search_path(), &query)
            .await
            .unwrap();
        let read = virtinst_reads(&ours);
        assert!(read.contains("host-passthrough"), "{read}");
        let mut virsh_args = vec!["domcapabilities"];
        virsh_args.extend(args.iter().copied());
        let Some(theirs) = libvirtd(test, &virsh_args) else {
            return;
        };
        assert_eq!(read, virtinst_reads(&theirs), "{args:?}");
    }
}

#[test]
fn kvm_of_a_fixed_probe() {
    let mut caps = fixed_caps();
    caps.kvm = Some(KvmCaps {
        machines: caps.machines.clone(),
        cpu_definitions: vec![cpu("max", true), cpu("qemu64", false), cpu("Haswell", true)],
        sev: false,
        sgx: false,
    });
    let pc = caps.machine("pc").unwrap().clone();
    let sel = |kvm| Selection {
        arch: "x86_64",
        machine: &pc,
        kvm,
    };
    let host = DomCapsHost {
        swtpm: true,
        swtpm_versions: vec!["2.0".into()],
        ..DomCapsHost::default()
    };
    let xml = domcaps::format(&caps, &sel(true), &host);
    assert!(xml.contains("      <enum name='backendModel'>\n        <value>passthrough</value>\n        <value>emulator</value>\n      </enum>\n      <enum name='backendVersion'>\n        <value>2.0</value>\n      </enum>\n    </tpm>\n"), "{xml}");
    assert!(xml.contains("  <domain>kvm</domain>\n"));
    assert!(xml.contains("    <mode name='host-passthrough' supported='yes'>\n      <enum name='hostPassthroughMigratable'>\n        <value>off</value>\n      </enum>\n    </mode>\n"));
    // Usability is the KVM probe's.
    assert!(xml.contains("      <model usable='no' vendor='unknown'>qemu64</model>\n      <model usable='yes' vendor='Intel'>Haswell</model>\n"));
    assert!(xml.contains("    <hyperv supported='yes'>\n      <enum name='features'>\n        <value>spinlocks</value>\n        <value>vendor_id</value>\n"));
    let xml = domcaps::format(&caps, &sel(false), &host);
    assert!(xml.contains("  <domain>qemu</domain>\n"));
    assert!(xml.contains("    <mode name='host-passthrough' supported='no'/>\n"));
    assert!(xml.contains("      <model usable='yes' vendor='unknown'>qemu64</model>\n      <model usable='no' vendor='Intel'>Haswell</model>\n"));
    // The guest lists kvm too.
    let guest = guests::guest_from_caps("x86_64", &caps);
    let mut g = String::new();
    guest.write_xml(&mut g);
    assert!(g.contains("      <domain type='qemu'/>\n      <domain type='kvm'/>\n"));
}
