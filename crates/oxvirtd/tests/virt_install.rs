//! virt-install (Debian's virtinst 4.1) creates a guest through oxvirtd: it reads the
//! capabilities, domain capabilities and existing objects, defines the domain and starts it.

#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;

use common::{skip, virsh, Daemon};

#[test]
fn virt_install_creates_a_running_guest() {
    if Command::new("virt-install")
        .arg("--version")
        .output()
        .is_err()
    {
        skip(
            "virt_install_creates_a_running_guest",
            "virt-install is not installed (apt-get install virtinst)",
        );
        return;
    }
    let d = Daemon::start("virt-install");
    let out = Command::new("virt-install")
        .args(["--connect", &d.uri()])
        .args(["--name", "vi1", "--memory", "64", "--vcpus", "2"])
        .args(["--disk", "none", "--import", "--osinfo", "generic"])
        .args(["--graphics", "none", "--noautoconsole"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "virt-install failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("Domain creation completed."), "{stdout}");
    let info = virsh(&d.uri(), &["dominfo", "vi1"]);
    let info = String::from_utf8_lossy(&info.stdout);
    for line in [
        "Name:           vi1",
        "State:          running",
        "CPU(s):         2",
        "Max memory:     65536 KiB",
        "Persistent:     yes",
    ] {
        assert!(info.contains(line), "missing {line:?} in:\n{info}");
    }
    let xml = virsh(&d.uri(), &["dumpxml", "vi1"]);
    let xml = String::from_utf8_lossy(&xml.stdout);
    assert!(xml.contains("<domain type='test' id="), "{xml}");
    assert!(xml.contains("<memory unit='KiB'>65536</memory>"), "{xml}");
}
