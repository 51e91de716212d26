//! The QEMU driver survives its daemon: two real TCG guests run, oxvirtd is killed with
//! SIGKILL, a new oxvirtd on the same directories reattaches to both (same IDs, running,
//! consoles work), shuts them down through ACPI, and no QEMU process is left.

#![allow(clippy::unwrap_used)]

mod common;

use common::qemu::{guest, QemuEnv};

#[test]
fn reattach_after_daemon_sigkill() {
    let Some(g) = guest("reattach_after_daemon_sigkill") else {
        return;
    };
    let mut env = QemuEnv::start("reattach", g);
    env.define("g1", "");
    env.define("g2", "");
    env.boot("g1");
    env.boot("g2");
    let ids = |env: &QemuEnv| {
        (
            env.virsh_ok(&["domid", "g1"]).trim().to_owned(),
            env.virsh_ok(&["domid", "g2"]).trim().to_owned(),
        )
    };
    let before = ids(&env);
    assert_eq!(before, ("1".to_owned(), "2".to_owned()));
    let list = env.virsh_ok(&["list"]);
    // Started paused and resumed (to catch the boot on the console): "running (unpaused)".
    assert_eq!(env.domstate("g1"), "running (unpaused)");
    assert_eq!(env.domstate("g2"), "running (unpaused)");
    let pids = (env.qemu_pid("g1"), env.qemu_pid("g2"));

    env.kill_daemon();
    // The guests outlive the daemon.
    for pid in [pids.0, pids.1] {
        assert!(
            std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "QEMU {pid} died with the daemon"
        );
    }
    env.restart_daemon();

    assert_eq!(ids(&env), before);
    assert_eq!(env.virsh_ok(&["list"]), list);
    assert_eq!(env.domstate("g1"), "running (unpaused)");
    assert_eq!(env.domstate("g2"), "running (unpaused)");
    assert_eq!((env.qemu_pid("g1"), env.qemu_pid("g2")), pids);
    let info = env.virsh_ok(&["dominfo", "g2"]);
    assert!(info.contains("State:          running"), "{info}");

    // The consoles work: the ACPI shutdown goes through the reattached monitor and the
    // kernel's last words come through the console stream.
    for name in ["g1", "g2"] {
        let seen = env.console(name, "reboot: Power down", 30, "shutdown", &[]);
        assert!(seen.starts_with("found"), "{name}: {seen}");
    }
    for name in ["g1", "g2"] {
        assert_eq!(
            env.wait_state(name, "shut off (shutdown)", 20),
            "shut off (shutdown)",
            "{name}"
        );
    }
    assert_eq!(env.virsh_ok(&["list", "--name"]).trim(), "");
    // The reattached QEMUs are not the new daemon's children: it must still see them go.
    assert_eq!(
        env.wait_no_leftovers(10),
        Vec::<u32>::new(),
        "QEMU processes left"
    );
    // And a third daemon finds them shut off, still defined (libvirtd loads inactive
    // configs as "shut off (unknown)").
    env.kill_daemon();
    env.restart_daemon();
    assert_eq!(env.domstate("g1"), "shut off (unknown)");
    assert_eq!(env.virsh_ok(&["list", "--all", "--name"]).trim(), "g1\ng2");
}
