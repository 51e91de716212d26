//! The node through `qemu:///system`: what virsh shows of the host, side by side with
//! Debian's libvirtd on the same machine in the same run; virt-install building and
//! starting a TCG guest; vCPU and emulator pinning seen on QEMU's threads.
//!
//! Where oxvirtd and libvirtd differ on purpose, the difference is normalised here and
//! explained in docs/oxvirtd.md ("The node").

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use common::clients::skip;
use common::qemu::{guest, QemuEnv};

/// `virsh -c qemu:///system` on Debian's libvirtd; `None` (after saying so) when it does
/// not answer. Under `OXVIRT_REQUIRE_GUEST=1` (`cargo xtask ci`, where `.ci/run` starts
/// libvirtd) it must answer.
fn libvirtd(test: &str) -> Option<impl Fn(&[&str]) -> std::process::Output> {
    let run = |args: &[&str]| {
        Command::new("timeout")
            .args(["60", "virsh", "-c", "qemu:///system"])
            .args(args)
            .output()
            .unwrap()
    };
    if run(&["uri"]).status.success() {
        return Some(run);
    }
    if std::env::var("OXVIRT_REQUIRE_GUEST").is_ok_and(|v| v == "1") {
        panic!("{test}: OXVIRT_REQUIRE_GUEST=1 but libvirtd does not answer on qemu:///system");
    }
    skip(test, "Debian's libvirtd does not answer on qemu:///system");
    None
}

fn text(out: &std::process::Output) -> (bool, String, String) {
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The `<host>` element of a capabilities document, with what differs on purpose
/// replaced: the UUID (libvirtd makes one up at each start where there is no SMBIOS), the
/// CPU's `<model>`, `<feature>`, `<counter>` and `<microcode>` (libvirtd decodes CPUID
/// against its CPU model database), and the security models.
fn host_part(caps: &str) -> String {
    let start = caps.find("  <host>").expect("no <host>");
    let end = caps.find("  </host>").expect("no </host>");
    let mut out = Vec::new();
    let mut in_secmodel = false;
    for line in caps[start..end].lines() {
        let t = line.trim();
        if t == "<secmodel>" {
            in_secmodel = true;
        }
        let skip = in_secmodel
            || t.starts_with("<feature ")
            || t.starts_with("<model>")
            || t.starts_with("<counter ")
            || t.starts_with("<microcode ");
        if t == "</secmodel>" {
            in_secmodel = false;
        }
        if t.starts_with("<uuid>") {
            out.push("    <uuid>UUID</uuid>".to_string());
        } else if !skip {
            out.push(line.to_string());
        }
    }
    out.join("\n")
}

#[test]
fn host_calls_agree_with_libvirtd() {
    let test = "host_calls_agree_with_libvirtd";
    let Some(g) = guest(test) else { return };
    let Some(libvirt) = libvirtd(test) else {
        return;
    };
    let env = QemuEnv::start("node-host", g);

    // Exactly the same.
    for args in [&["nodeinfo"][..], &["nodecpumap"], &["maxvcpus"]] {
        let (ours, theirs) = (text(&env.virsh(args)), text(&libvirt(args)));
        assert!(ours.0, "virsh {args:?} on oxvirtd failed: {}", ours.2);
        assert_eq!(ours, theirs, "virsh {args:?}: oxvirtd vs libvirtd");
    }

    // sysinfo: the same document, or the same refusal where the host has no SMBIOS.
    let (ours, theirs) = (text(&env.virsh(&["sysinfo"])), text(&libvirt(&["sysinfo"])));
    assert_eq!(ours, theirs, "virsh sysinfo: oxvirtd vs libvirtd");

    // freecell: the same cells; free memory moves between the two calls, so within 2%.
    let (ours, theirs) = (
        text(&env.virsh(&["freecell", "--all"])),
        text(&libvirt(&["freecell", "--all"])),
    );
    assert!(ours.0, "{}", ours.2);
    let (ol, tl): (Vec<&str>, Vec<&str>) = (ours.1.lines().collect(), theirs.1.lines().collect());
    assert_eq!(
        ol.len(),
        tl.len(),
        "freecell --all:\n{}\nvs\n{}",
        ours.1,
        theirs.1
    );
    for (o, t) in ol.iter().zip(&tl) {
        let (on, tn) = (o.split_whitespace(), t.split_whitespace());
        for (a, b) in on.zip(tn) {
            match (a.parse::<f64>(), b.parse::<f64>()) {
                (Ok(x), Ok(y)) if y > 0.0 => {
                    assert!((x - y).abs() / y < 0.02, "freecell: {o:?} vs {t:?}")
                }
                _ => assert_eq!(a, b, "freecell: {o:?} vs {t:?}"),
            }
        }
    }

    // capabilities: the host part, bar the documented differences.
    let (ours, theirs) = (
        text(&env.virsh(&["capabilities"])),
        text(&libvirt(&["capabilities"])),
    );
    assert!(ours.0, "{}", ours.2);
    assert_eq!(host_part(&ours.1), host_part(&theirs.1));
    // What we do report of the CPU is there.
    for line in ["<arch>x86_64</arch>", "<topology sockets="] {
        assert!(ours.1.contains(line), "no {line} in:\n{}", ours.1);
    }
}

/// A network namespace with a bridge that carries the default route, as on a host with
/// bridged networking (virt-install then gives a new guest a tap on that bridge).
struct Netns {
    name: String,
}

impl Netns {
    const BRIDGE: &'static str = "oxvibr0";

    fn new(tag: &str) -> Netns {
        let name = format!("oxvt-{tag}-{}", std::process::id());
        let ns = Netns { name };
        ns.ip(&["netns", "add", &ns.name]);
        for args in [
            &["link", "set", "lo", "up"][..],
            &["link", "add", Self::BRIDGE, "type", "bridge"],
            &["link", "set", Self::BRIDGE, "up"],
            &["addr", "add", "192.0.2.1/24", "dev", Self::BRIDGE],
            &[
                "route",
                "add",
                "default",
                "via",
                "192.0.2.254",
                "dev",
                Self::BRIDGE,
            ],
        ] {
            let mut full = vec!["netns", "exec", &ns.name, "ip"];
            full.extend_from_slice(args);
            ns.ip(&full);
        }
        ns
    }

    fn ip(&self, args: &[&str]) {
        let out = Command::new("ip").args(args).output().unwrap();
        assert!(
            out.status.success(),
            "ip {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "delete", &self.name])
            .status();
    }
}

#[test]
fn virt_install_creates_and_starts_a_tcg_guest() {
    let test = "virt_install_creates_and_starts_a_tcg_guest";
    let Some(g) = guest(test) else { return };
    if Command::new("virt-install")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(
            std::env::var("OXVIRT_REQUIRE_GUEST").is_err(),
            "{test}: virt-install is not installed"
        );
        skip(
            test,
            "virt-install is not installed (apt-get install virtinst)",
        );
        return;
    }
    let ns = Netns::new("vi");
    let env = QemuEnv::start_in("node-vi", g, Some(&ns.name));
    // The command, word for word, in the namespace.
    let out = Command::new("timeout")
        .args(["180", "ip", "netns", "exec", &ns.name, "virt-install"])
        .args([
            "--import", "--disk", "none", "--name", "t1", "--memory", "128",
        ])
        .args(["--osinfo", "detect=on,require=off", "--noautoconsole"])
        .args(["--connect", &env.uri()])
        .output()
        .unwrap();
    let (ok, stdout, stderr) = text(&out);
    assert!(ok, "virt-install failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("Domain creation completed."), "{stdout}");
    assert_eq!(
        env.wait_state("t1", "running (booted)", 10),
        "running (booted)"
    );
    let xml = env.virsh_ok(&["dumpxml", "t1"]);
    assert!(xml.contains("<domain type='qemu' id="), "{xml}");
    assert!(xml.contains("<memory unit='KiB'>131072</memory>"), "{xml}");
    assert!(
        xml.contains(&format!("<source bridge='{}'/>", Netns::BRIDGE)),
        "{xml}"
    );
    // A real QEMU runs it, and stops when asked.
    env.virsh_ok(&["destroy", "t1"]);
    assert_eq!(
        env.wait_state("t1", "shut off (destroyed)", 10),
        "shut off (destroyed)"
    );
}

/// `Cpus_allowed_list` of thread `tid` of process `pid`.
fn allowed(pid: u32, tid: u32) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .unwrap()
        .trim()
        .to_owned()
}

/// The QEMU process of the domain `name` (from its status file in the runtime dir).
fn qemu_pid(env: &QemuEnv, name: &str) -> u32 {
    let status = env.run.join(format!("qemu/{name}.xml"));
    let text =
        std::fs::read_to_string(&status).unwrap_or_else(|e| panic!("{}: {e}", status.display()));
    let at = text.find(" pid='").expect("no pid in the status file") + 6;
    text[at..].split('\'').next().unwrap().parse().unwrap()
}

/// The threads of `pid` named `CPU n/TCG` (QEMU's vCPU threads), by vCPU number.
fn vcpu_threads(pid: u32) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let tid: u32 = entry
            .unwrap()
            .file_name()
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let comm = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/comm")).unwrap();
        if let Some(rest) = comm.trim().strip_prefix("CPU ") {
            let n: u32 = rest.split('/').next().unwrap().parse().unwrap();
            out.push((n, tid));
        }
    }
    out.sort();
    out
}

#[test]
fn vcpupin_and_emulatorpin_reach_qemu_threads() {
    let test = "vcpupin_and_emulatorpin_reach_qemu_threads";
    let Some(g) = guest(test) else { return };
    let online = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap();
    if online.trim() != "0-1" && !online.trim().starts_with("0-") {
        skip(test, "the host has a single CPU");
        return;
    }
    let env = QemuEnv::start("node-pin", g);
    let xml = env
        .domain_xml("pin", "", "")
        .replace("<vcpu>1</vcpu>", "<vcpu>2</vcpu>\n  <cputune>\n    <vcpupin vcpu='0' cpuset='1'/>\n    <vcpupin vcpu='1' cpuset='0'/>\n    <emulatorpin cpuset='1'/>\n  </cputune>");
    env.define_xml("pin", &xml);
    env.virsh_ok(&["start", "pin"]);
    let pid = qemu_pid(&env, "pin");
    let vcpus = vcpu_threads(pid);
    assert_eq!(vcpus.len(), 2, "{vcpus:?}");
    assert_eq!(allowed(pid, vcpus[0].1), "1");
    assert_eq!(allowed(pid, vcpus[1].1), "0");
    // The emulator: the main thread.
    assert_eq!(allowed(pid, pid), "1");

    // What virsh shows.
    let pins = env.virsh_ok(&["vcpupin", "pin"]);
    assert!(
        pins.contains(" 0      1") && pins.contains(" 1      0"),
        "{pins}"
    );
    let emu = env.virsh_ok(&["emulatorpin", "pin"]);
    assert!(emu.contains("*: 1"), "{emu}");
    let info = env.virsh_ok(&["vcpuinfo", "pin"]);
    assert_eq!(info.matches("State:          running").count(), 2, "{info}");

    // Live changes reach the threads and the live XML.
    env.virsh_ok(&["vcpupin", "pin", "0", "0-1", "--live"]);
    assert_eq!(allowed(pid, vcpus[0].1), "0-1");
    env.virsh_ok(&["emulatorpin", "pin", "0", "--live"]);
    assert_eq!(allowed(pid, pid), "0");
    let live = env.virsh_ok(&["dumpxml", "pin"]);
    assert!(live.contains("<vcpupin vcpu='0' cpuset='0-1'/>"), "{live}");
    assert!(live.contains("<emulatorpin cpuset='0'/>"), "{live}");
    // The persistent definition keeps the old pins.
    let inactive = env.virsh_ok(&["dumpxml", "--inactive", "pin"]);
    assert!(
        inactive.contains("<vcpupin vcpu='0' cpuset='1'/>"),
        "{inactive}"
    );
    // Bad input: libvirt's words.
    let err = env.virsh_err(&["vcpupin", "pin", "5", "0", "--live"]);
    assert!(err.contains("error:"), "{err}");
    env.virsh_ok(&["destroy", "pin"]);
}
