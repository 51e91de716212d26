//! The SMBIOS `<sysinfo>` against libvirt's sysinfotest data: `dmidecode` output and
//! `/proc/cpuinfo`/`/proc/sysinfo` files in, XML out, byte for byte.

use std::path::{Path, PathBuf};

use oxvirt_node::sysinfo::{self, CommandOutput, CommandRunner, Reader};
use oxvirt_node::Host;
use oxvirt_xml::testdata::{conformance, Tally};
use oxvirt_xml::{ErrorCode, ErrorDomain};

/// libvirt's test stand-in for `dmidecode`: the case's `sysinfo.data` file as the table
/// dump (failing when there is none), and OEM string 3 with a line break in it.
struct FakeDmidecode {
    data: PathBuf,
}

impl CommandRunner for FakeDmidecode {
    fn run(&self, argv: &[&str]) -> std::io::Result<CommandOutput> {
        assert_eq!(argv[0], "dmidecode");
        if argv.get(1) == Some(&"--dump") && argv.get(2) == Some(&"--oem-string") {
            return Ok(match argv.get(3) {
                Some(&"3") => CommandOutput {
                    status: 0,
                    stdout: "Ha ha ha try parsing\\n\n      String 3: this correctly\n      String 4:then".into(),
                    stderr: String::new(),
                },
                n => CommandOutput {
                    status: 1,
                    stdout: String::new(),
                    stderr: format!("No OEM string number {}", n.unwrap_or(&"")),
                },
            });
        }
        assert_eq!(&argv[1..], ["-q", "-t", "0,1,2,3,4,11,17"]);
        Ok(match std::fs::read_to_string(&self.data) {
            Ok(text) => CommandOutput {
                status: 0,
                stdout: text,
                stderr: String::new(),
            },
            Err(e) => CommandOutput {
                status: 1,
                stdout: String::new(),
                stderr: e.to_string(),
            },
        })
    }
}

/// A root holding the case's cpuinfo and sysinfo files as /proc/cpuinfo and /proc/sysinfo.
fn tree(dir: &Path, name: &str) -> PathBuf {
    let root =
        std::env::temp_dir().join(format!("oxvirt-node-sysinfo-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("proc")).expect("proc");
    for (from, to) in [("cpuinfo", "cpuinfo"), ("sysinfo", "sysinfo")] {
        let src = dir.join(format!("{name}{from}.data"));
        if src.exists() {
            std::fs::copy(src, root.join("proc").join(to)).expect("a copy");
        }
    }
    root
}

#[test]
fn sysinfo_matches_sysinfotest() {
    let dir = conformance("node/sysinfodata");
    if !dir.exists() {
        eprintln!("SKIPPED sysinfo_matches_sysinfotest: no {}", dir.display());
        return;
    }
    let cases = [
        ("s390", Reader::S390),
        ("s390-freq", Reader::S390),
        ("ppc", Reader::Ppc),
        ("x86", Reader::Dmi),
        ("arm", Reader::Arm),
        ("arm-rpi2", Reader::Arm),
        ("aarch64", Reader::Arm),
        ("aarch64-moonshot", Reader::Arm),
        ("aarch64-gigabyte", Reader::Arm),
    ];
    let mut tally = Tally::default();
    for (name, reader) in cases {
        let want = std::fs::read_to_string(dir.join(format!("{name}sysinfo.expect"))).unwrap();
        let root = tree(&dir, name);
        let runner = FakeDmidecode {
            data: dir.join(format!("{name}sysinfo.data")),
        };
        let got = sysinfo::read_with(&Host::new(&root), reader, &runner)
            .map(|s| s.format())
            .map_err(|e| e.message);
        tally.record(name, &want, got);
        let _ = std::fs::remove_dir_all(&root);
    }
    println!(
        "sysinfo: {} of {}",
        tally.matched.len(),
        tally.matched.len() + tally.mismatches.len()
    );
    tally.report(
        10,
        "OXVIRT_SYSINFO_ALL",
        &["x86", "aarch64-gigabyte", "s390"],
        9,
    );
}

/// A `dmidecode` that fails as on a machine without DMI tables.
struct NoDmi;

impl CommandRunner for NoDmi {
    fn run(&self, _argv: &[&str]) -> std::io::Result<CommandOutput> {
        Ok(CommandOutput {
            status: 1,
            stdout: String::new(),
            stderr: "/dev/mem: No such file or directory\n".into(),
        })
    }
}

#[test]
fn no_dmi_tables_is_unsupported_configuration() {
    let e = sysinfo::read_with(&Host::new("/nonexistent"), Reader::Dmi, &NoDmi).unwrap_err();
    assert_eq!(e.domain, ErrorDomain::Sysinfo);
    assert!(
        e.message.contains("unexpected exit status 1"),
        "{}",
        e.message
    );
    if sysinfo::Reader::for_arch(std::env::consts::ARCH) == Some(Reader::Dmi) {
        let e = sysinfo::host_sysinfo_xml(&Host::system(), &NoDmi, ErrorDomain::Qemu).unwrap_err();
        assert_eq!(
            (e.code, e.domain),
            (ErrorCode::ConfigUnsupported, ErrorDomain::Qemu)
        );
        assert_eq!(
            e.message,
            "unsupported configuration: Host SMBIOS information is not available"
        );
    }
}

#[test]
fn this_host_sysinfo_agrees_with_dmidecode() {
    // Where dmidecode works, the XML is a sysinfo document; where it does not (no DMI
    // tables, as in many VMs and containers), the error is libvirtd's.
    match sysinfo::host_sysinfo_xml(&Host::system(), &sysinfo::SystemRunner, ErrorDomain::Qemu) {
        Ok(xml) => assert!(xml.starts_with("<sysinfo type='smbios'"), "{xml}"),
        Err(e) => assert_eq!(
            e.message,
            "unsupported configuration: Host SMBIOS information is not available"
        ),
    }
}
