//! Tunable events (`VIR_DOMAIN_EVENT_ID_TUNABLE`) of a real TCG guest through the built
//! daemon's `qemu:///system`: a live vCPU, emulator or I/O thread pin sends one event with
//! the new CPU list (`cputune.vcpupin0`, `cputune.emulatorpin`, `cputune.iothreadpin1`), a
//! pin of the persistent definition alone sends none. python3-libvirt sees them as Debian's
//! libvirtd 9.0 sends them (the same script, run against it for the same guest, printed the
//! same lines), and virsh's `event --event tunable` prints them as it does for libvirtd.

#![allow(clippy::unwrap_used)]

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::qemu::{guest, QemuEnv};
use common::PYTHON;

const TUNABLE_PY: &str = include_str!("python/qemu_tunable.py");

/// The CPU list the pins use: both of the first two host CPUs when there are two.
fn cpus() -> &'static str {
    let online = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap_or_default();
    let two = parse_cpu_list(online.trim()).is_some_and(|set| set.contains(&1));
    if two {
        "0-1"
    } else {
        "0"
    }
}

/// The CPUs of a `/sys` list (`0-3,5`); `None` when it cannot be read.
fn parse_cpu_list(list: &str) -> Option<Vec<u32>> {
    let mut cpus = Vec::new();
    for part in list.split(',') {
        let (lo, hi) = part.split_once('-').unwrap_or((part, part));
        let (lo, hi): (u32, u32) = (lo.parse().ok()?, hi.parse().ok()?);
        cpus.extend(lo..=hi);
    }
    Some(cpus)
}

/// Defines and starts `name`: the test guest with 2 vCPUs and I/O thread 1.
fn start_guest(env: &QemuEnv, name: &str) -> String {
    let xml = env.domain_xml(name, "", "").replace(
        "<vcpu>1</vcpu>",
        "<vcpu>2</vcpu>\n  <iothreads>1</iothreads>",
    );
    assert!(xml.contains("<iothreads>1</iothreads>"), "{xml}");
    env.define_xml(name, &xml);
    env.virsh_ok(&["start", name]);
    env.virsh_ok(&["domid", name]).trim().to_owned()
}

#[test]
fn python_gets_tunable_events_of_live_pins() {
    let Some(g) = guest("python_gets_tunable_events_of_live_pins") else {
        return;
    };
    let env = QemuEnv::start("py_tunable", g);
    let id = start_guest(&env, "tun");
    let cpus = cpus();
    let out = Command::new("timeout")
        .args(["90", PYTHON, "-c", TUNABLE_PY, &env.uri(), "tun", cpus])
        .output()
        .unwrap();
    let got = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let want = format!(
        "\
vcpupin live: tun/{id} cputune.vcpupin0='{cpus}'
emulatorpin live: tun/{id} cputune.emulatorpin='{cpus}'
iothreadpin live: tun/{id} cputune.iothreadpin1='{cpus}'
vcpupin config: none
emulatorpin live+config: tun/{id} cputune.emulatorpin='{cpus}'
done
"
    );
    assert_eq!(got, want);
    // The pins did reach the live definition the events describe.
    let xml = env.virsh_ok(&["dumpxml", "tun"]);
    assert!(
        xml.contains(&format!("<vcpupin vcpu='0' cpuset='{cpus}'/>")),
        "{xml}"
    );
    assert!(
        xml.contains(&format!("<emulatorpin cpuset='{cpus}'/>")),
        "{xml}"
    );
    env.virsh_ok(&["destroy", "tun"]);
    env.virsh_ok(&["undefine", "tun"]);
    assert_eq!(env.wait_no_leftovers(5), Vec::<u32>::new());
}

/// Starts `virsh event` with `args` on the daemon, in the background (stopped after 60 s).
fn spawn_event(env: &QemuEnv, args: &[&str]) -> std::process::Child {
    Command::new("timeout")
        .args(["60", "virsh", "-c", &env.uri(), "event"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits (at most 30 s) for `child` to end; its stdout and stderr.
fn finish(child: std::process::Child) -> (String, String) {
    let until = Instant::now() + Duration::from_secs(30);
    let mut child = child;
    while child.try_wait().unwrap().is_none() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Gives a `virsh event` just started the time to connect and register its callbacks.
fn let_virsh_register() {
    std::thread::sleep(Duration::from_millis(1500));
}

#[test]
fn virsh_event_prints_tunable_events_as_libvirtd_does() {
    let Some(g) = guest("virsh_event_prints_tunable_events_as_libvirtd_does") else {
        return;
    };
    let env = QemuEnv::start("virsh_tunable", g);
    start_guest(&env, "vt");
    let cpus = cpus();

    // One event, then virsh stops: `event NAME --event tunable` as libvirtd's output
    // (the timeout only ends a wait that got nothing).
    let child = spawn_event(&env, &["vt", "--event", "tunable", "--timeout", "20"]);
    let_virsh_register();
    env.virsh_ok(&["vcpupin", "vt", "1", cpus, "--live"]);
    let (out, err) = finish(child);
    assert_eq!(
        out,
        format!(
            "event 'tunable' for domain 'vt':\n\tcputune.vcpupin1: {cpus}\nevents received: 1\n\n"
        ),
        "stderr: {err}"
    );

    // Every event of a loop: a config-only pin sends nothing, the live ones one each.
    let child = spawn_event(&env, &["--all", "--loop", "--timeout", "6"]);
    let_virsh_register();
    env.virsh_ok(&["vcpupin", "vt", "0", "0", "--config"]);
    env.virsh_ok(&["emulatorpin", "vt", cpus, "--live"]);
    env.virsh_ok(&["iothreadpin", "vt", "1", "0", "--live"]);
    let (out, err) = finish(child);
    assert_eq!(
        out,
        format!(
            "event 'tunable' for domain 'vt':\n\tcputune.emulatorpin: {cpus}\n\
             event 'tunable' for domain 'vt':\n\tcputune.iothreadpin1: 0\n\
             event loop timed out\nevents received: 2\n\n"
        ),
        "stderr: {err}"
    );
}
