//! Live migration between Debian's libvirtd 9.0 (the system daemon, `qemu:///system` on
//! /var/run/libvirt/libvirt-sock) and oxvirtd, with Debian's unchanged `virsh migrate`, in
//! both directions and both modes (client-driven and `--p2p`), the same QEMU on both
//! sides: a booted test guest goes libvirtd → oxvirtd → libvirtd three times (plain,
//! `--p2p`, `--p2p --tunnelled`, with and without `--persistent --undefinesource`) and
//! still answers the power button at the end; a stopped definition moves with `--offline`.
//! Skipped (with a SKIPPED line) when libvirtd is not running. The domain is destroyed and
//! undefined on both sides even when the test fails.

#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::net::UnixStream;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::migrate::text;
use common::qemu::{guest, QemuEnv, CONSOLE_PY};
use common::{skip, PYTHON};

const SYSTEM_SOCK: &str = "/var/run/libvirt/libvirt-sock";
const LIBVIRT: &str = "qemu:///system";
/// libvirtd as a destination: `qemu:///system` given to oxvirtd for `--p2p` would be
/// oxvirtd itself (as it would be libvirtd itself for libvirtd).
const LIBVIRT_DEST: &str = "qemu+unix:///system?socket=/var/run/libvirt/libvirt-sock";
/// oxvirtd's host UUID (libvirtd's is the machine's).
const OX_UUID: &str = "6c0b7a52-1d3e-4f8a-9b21-5e7d4c3a2f0d";
/// The domains' names (one per test: the tests share libvirtd).
const NAME: &str = "oxvirt-mig-libvirt";
const NAME_OFFLINE: &str = "oxvirt-mig-libvirt-off";
/// (Short: the agent channel's socket path in oxvirtd's directory must fit in 108 bytes.)
const NAME_NUMA: &str = "oxmig-numa";

/// virsh on libvirtd (stopped after 60 s).
fn lv(args: &[&str]) -> Output {
    Command::new("timeout")
        .args(["60", "virsh", "-c", LIBVIRT])
        .args(args)
        .output()
        .unwrap()
}

fn lv_ok(args: &[&str]) -> String {
    let out = lv(args);
    assert!(
        out.status.success(),
        "virsh {args:?} on libvirtd failed: {}",
        text(&out)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn lv_state(name: &str) -> String {
    lv_ok(&["domstate", "--reason", name]).trim().to_owned()
}

/// Removes the domain from libvirtd, running or not, whatever happened (also before the
/// test, for a run that was killed).
struct LibvirtDomain(&'static str);

impl LibvirtDomain {
    fn new(name: &'static str) -> LibvirtDomain {
        let d = LibvirtDomain(name);
        d.clean();
        d
    }

    fn clean(&self) {
        let _ = lv(&["destroy", self.0]);
        let _ = lv(&["undefine", self.0]);
    }
}

impl Drop for LibvirtDomain {
    fn drop(&mut self) {
        self.clean();
    }
}

/// `virsh -c SRC migrate --live --verbose MORE NAME DEST --migrateuri tcp://127.0.0.1` (no
/// URI when tunnelled), asserted to succeed; how long it took.
fn migrate(src: &str, dest: &str, more: &[&str], what: &str) -> Duration {
    let start = Instant::now();
    let out = Command::new("timeout")
        .args(["120", "virsh", "-c", src, "migrate", "--live", "--verbose"])
        .args(more)
        .args([NAME, dest])
        // A tunnelled migration has no URI of its own.
        .args(if more.contains(&"--tunnelled") {
            &[][..]
        } else {
            &["--migrateuri", "tcp://127.0.0.1"][..]
        })
        .output()
        .unwrap();
    let took = start.elapsed();
    assert!(out.status.success(), "{what} failed: {}", text(&out));
    assert!(
        text(&out).contains("Migration: [100 %]"),
        "{what}: no progress: {}",
        text(&out)
    );
    eprintln!("{what}: virsh migrate took {took:?}");
    took
}

/// The test guest's XML for libvirtd, its kernel and initrd copied into `ox`'s directory
/// (libvirtd runs QEMU as its own user, which may not reach the workspace).
fn libvirt_xml(ox: &QemuEnv, name: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let dir = ox.base.join("guest");
    std::fs::create_dir_all(&dir).unwrap();
    let mut xml = ox.domain_xml(name, "", "");
    for from in [&ox.guest.kernel, &ox.guest.initrd] {
        let to = dir.join(from.file_name().unwrap());
        std::fs::copy(from, &to).unwrap();
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o644)).unwrap();
        xml = xml.replace(from.to_str().unwrap(), to.to_str().unwrap());
    }
    for d in [&*ox.base, dir.as_path()] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    xml
}

#[test]
fn live_migration_to_and_from_debians_libvirtd() {
    let test = "migrate_libvirt";
    if UnixStream::connect(SYSTEM_SOCK).is_err() {
        skip(
            test,
            &format!("no libvirtd listening on {SYSTEM_SOCK} (virtlogd -d; libvirtd -d)"),
        );
        return;
    }
    let Some(g) = guest(test) else {
        return;
    };
    let caps = lv_ok(&["capabilities"]);
    assert!(
        !caps.contains(OX_UUID),
        "libvirtd has oxvirtd's host UUID {OX_UUID}"
    );
    let ox = QemuEnv::start_with("mig-libvirt", g, None, &["--host-uuid", OX_UUID]);
    let oxuri = ox.uri();
    let _cleanup = LibvirtDomain::new(NAME);

    // Defined and booted on libvirtd (until the guest reports its disks: acpid runs).
    let file = ox.base.join("libvirt.xml");
    std::fs::write(&file, libvirt_xml(&ox, NAME)).unwrap();
    lv_ok(&["define", file.to_str().unwrap()]);
    lv_ok(&["start", "--paused", NAME]);
    let out = Command::new("timeout")
        .args(["80", PYTHON, "-c", CONSOLE_PY])
        .args([LIBVIRT, NAME, "OXVIRT-DISKS:", "60", "resume"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("found"),
        "the guest did not boot on libvirtd: {}",
        text(&out)
    );

    // 1. libvirtd → oxvirtd, client-driven: oxvirtd accepts libvirt's cookies (its
    //    mandatory `lockstate` of the nop lock manager) and XML, and its QEMU the stream.
    migrate(LIBVIRT, &oxuri, &[], "libvirtd -> oxvirtd");
    assert_eq!(ox.domstate(NAME), "running (migrated)");
    assert_eq!(lv_state(NAME), "shut off (migrated)");
    // The statistics came in libvirt's Perform cookie.
    let job = ox.virsh_ok(&["domjobinfo", "--completed", NAME]);
    for want in ["Operation:        Incoming migration", "Total downtime:"] {
        assert!(job.contains(want), "no {want:?} in oxvirtd's job: {job}");
    }

    // 2. oxvirtd → libvirtd, peer-to-peer (oxvirtd drives libvirtd with its own client).
    migrate(
        &oxuri,
        LIBVIRT_DEST,
        &["--p2p"],
        "oxvirtd -> libvirtd --p2p",
    );
    assert_eq!(lv_state(NAME), "running (migrated)");
    assert!(ox.virsh(&["domstate", NAME]).status.code() != Some(0));

    // 3. libvirtd → oxvirtd, peer-to-peer, persistent: libvirt's mandatory `persistent`
    //    cookie feature; the source's definition goes.
    migrate(
        LIBVIRT,
        &oxuri,
        &["--p2p", "--persistent", "--undefinesource"],
        "libvirtd -> oxvirtd --p2p --persistent --undefinesource",
    );
    assert_eq!(ox.domstate(NAME), "running (migrated)");
    let persistent = ox.virsh_ok(&["list", "--persistent", "--name"]);
    assert!(persistent.lines().any(|l| l.trim() == NAME), "{persistent}");
    assert!(lv(&["domstate", NAME]).status.code() != Some(0));

    // 4. oxvirtd → libvirtd, client-driven, persistent.
    migrate(
        &oxuri,
        LIBVIRT_DEST,
        &["--persistent", "--undefinesource"],
        "oxvirtd -> libvirtd --persistent --undefinesource",
    );
    assert_eq!(lv_state(NAME), "running (migrated)");
    let persistent = lv_ok(&["list", "--persistent", "--name"]);
    assert!(persistent.lines().any(|l| l.trim() == NAME), "{persistent}");
    let left = ox.virsh_ok(&["list", "--all", "--name"]);
    assert!(!left.lines().any(|l| l.trim() == NAME), "{left}");
    let job = lv_ok(&["domjobinfo", "--completed", NAME]);
    assert!(
        job.contains("Operation:        Incoming migration"),
        "{job}"
    );

    // 5., 6. Tunnelled (the QEMU stream inside the RPC connection, procedure 304), there
    //    and back.
    migrate(
        LIBVIRT,
        &oxuri,
        &["--p2p", "--tunnelled"],
        "libvirtd -> oxvirtd --p2p --tunnelled",
    );
    assert_eq!(ox.domstate(NAME), "running (migrated)");
    migrate(
        &oxuri,
        LIBVIRT_DEST,
        &["--p2p", "--tunnelled"],
        "oxvirtd -> libvirtd --p2p --tunnelled",
    );
    assert_eq!(lv_state(NAME), "running (migrated)");

    // After six moves the guest still runs: the power button turns it off.
    lv_ok(&["shutdown", NAME]);
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let state = lv_state(NAME);
        if state.starts_with("shut off") {
            break;
        }
        assert!(
            Instant::now() < until,
            "the migrated guest did not power off: {state}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `ox`'s and libvirtd's view of the definition: whether each has it, and persistent.
fn defined(ox: &QemuEnv, name: &str) -> (bool, bool) {
    let persistent = |out: Output| {
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("Persistent:     yes")
    };
    (
        persistent(ox.virsh(&["dominfo", name])),
        persistent(lv(&["dominfo", name])),
    )
}

#[test]
fn offline_migration_to_and_from_debians_libvirtd() {
    let test = "migrate_libvirt_offline";
    if UnixStream::connect(SYSTEM_SOCK).is_err() {
        skip(
            test,
            &format!("no libvirtd listening on {SYSTEM_SOCK} (virtlogd -d; libvirtd -d)"),
        );
        return;
    }
    let Some(g) = guest(test) else {
        return;
    };
    let ox = QemuEnv::start_with("mig-libvirt-off", g, None, &["--host-uuid", OX_UUID]);
    let oxuri = ox.uri();
    let _cleanup = LibvirtDomain::new(NAME_OFFLINE);
    let file = ox.base.join("libvirt.xml");
    std::fs::write(&file, libvirt_xml(&ox, NAME_OFFLINE)).unwrap();
    lv_ok(&["define", file.to_str().unwrap()]);

    // The stopped definition moves there and back in each mode; the source's goes.
    let offline = ["--offline", "--persistent", "--undefinesource"];
    for (src, dest, mode, there) in [
        (LIBVIRT, oxuri.as_str(), "", (true, false)),
        (oxuri.as_str(), LIBVIRT_DEST, "", (false, true)),
        (LIBVIRT, oxuri.as_str(), "--p2p", (true, false)),
        // oxvirtd's peer-to-peer finish sends libvirt no cookie, as libvirt does: the
        // prepare phase's would be libvirtd's own ("Attempt to migrate guest to the same
        // host").
        (oxuri.as_str(), LIBVIRT_DEST, "--p2p", (false, true)),
    ] {
        let what = format!("offline {src} -> {dest} {mode}");
        let out = Command::new("timeout")
            .args(["120", "virsh", "-c", src, "migrate"])
            .args(offline)
            .args([mode].into_iter().filter(|m| !m.is_empty()))
            .args([NAME_OFFLINE, dest])
            .output()
            .unwrap();
        assert!(out.status.success(), "{what} failed: {}", text(&out));
        assert_eq!(
            defined(&ox, NAME_OFFLINE),
            there,
            "{what}: (oxvirtd, libvirtd) defined"
        );
    }
}

#[test]
fn a_numa_guest_with_hotplug_memory_and_an_agent_channel_migrates_to_and_from_libvirtd() {
    // Its NUMA cell is a memory-backend-ram object `ram-node0` on both sides (the RAM block
    // the stream names), libvirtd's cookie makes `memory-hotplug` mandatory, and the guest
    // agent's channel comes without a socket path (each side makes up its own).
    let test = "migrate_libvirt_numa";
    if UnixStream::connect(SYSTEM_SOCK).is_err() {
        skip(
            test,
            &format!("no libvirtd listening on {SYSTEM_SOCK} (virtlogd -d; libvirtd -d)"),
        );
        return;
    }
    let Some(g) = guest(test) else {
        return;
    };
    let ox = QemuEnv::start_with("lv-numa", g, None, &["--host-uuid", OX_UUID]);
    let oxuri = ox.uri();
    let _cleanup = LibvirtDomain::new(NAME_NUMA);
    let xml = libvirt_xml(&ox, NAME_NUMA)
        .replace(
            "<memory unit='MiB'>256</memory>",
            "<maxMemory slots='2' unit='MiB'>1024</maxMemory><memory unit='MiB'>256</memory>",
        )
        .replace(
            "<features>",
            "<cpu><numa><cell id='0' cpus='0' memory='256' unit='MiB'/></numa></cpu><features>",
        )
        .replace(
            "<devices>",
            "<devices><channel type='unix'>\
             <target type='virtio' name='org.qemu.guest_agent.0'/></channel>",
        );
    let file = ox.base.join("numa.xml");
    std::fs::write(&file, xml).unwrap();
    lv_ok(&["define", file.to_str().unwrap()]);
    lv_ok(&["start", NAME_NUMA]);
    for (src, dest, what) in [
        (LIBVIRT, oxuri.as_str(), "NUMA guest libvirtd -> oxvirtd"),
        (
            oxuri.as_str(),
            LIBVIRT_DEST,
            "NUMA guest oxvirtd -> libvirtd",
        ),
    ] {
        let out = Command::new("timeout")
            .args([
                "120", "virsh", "-c", src, "migrate", "--live", NAME_NUMA, dest,
            ])
            .args(["--migrateuri", "tcp://127.0.0.1"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{what} failed: {}", text(&out));
    }
    assert_eq!(lv_state(NAME_NUMA), "running (migrated)");
    let xml = lv_ok(&["dumpxml", NAME_NUMA]);
    assert!(
        xml.contains("/channel/target/domain-") && xml.contains("org.qemu.guest_agent.0'/>"),
        "{xml}"
    );
}
