//! The real virsh's `net-*` commands against the built `oxvirtd` serving test:///default's
//! networks: the same answers as virsh's in-process test driver, network lifecycle events
//! delivered over the wire, and the read-only socket's refusals.

#![allow(clippy::unwrap_used)]

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{needs_virsh, normalised, virsh, Daemon};

#[test]
fn virsh_net_commands_match_in_process_test_driver() {
    if !needs_virsh("virsh_net_commands_match_in_process_test_driver") {
        return;
    }
    let d = Daemon::start("net-virsh");
    let xml = std::env::temp_dir().join(format!("oxvirtd-net-{}.xml", std::process::id()));
    std::fs::write(
        &xml,
        "<network>\n  <name>n2</name>\n  <uuid>9f1c1b3e-2f4a-4d6b-8c1e-0a1b2c3d4e5f</uuid>\n  \
         <bridge name='virbr5'/>\n  <ip address='192.168.150.1' netmask='255.255.255.0'/>\n\
         </network>\n",
    )
    .unwrap();
    let xml = xml.to_string_lossy().into_owned();
    let cases = [
        "net-list --all".to_owned(),
        "net-info default".into(),
        "net-uuid default".into(),
        "net-name dd8fe884-6c02-601e-7551-cca97df1c5df".into(),
        "net-dumpxml default".into(),
        "net-dumpxml default --inactive".into(),
        "net-info nope".into(),
        "net-dhcp-leases default".into(),
        "net-undefine default".into(),
        "net-destroy default".into(),
        "net-list --inactive".into(),
        "net-start default".into(),
        "net-start default".into(),
        "net-autostart default".into(),
        "net-list --autostart".into(),
        "net-autostart default --disable".into(),
        format!("net-define {xml}"),
        "net-list --all".into(),
        "net-start n2".into(),
        format!("net-create {xml}"),
        "net-update default add ip-dhcp-host \"<host mac='52:54:00:00:00:01' ip='192.168.122.5'/>\" --live".into(),
        "net-dumpxml default".into(),
        "net-update default add bogus x".into(),
        "net-destroy n2".into(),
        "net-undefine n2".into(),
        "net-list --all --name".into(),
    ];
    let script = cases.join(" ; ");
    let ours = normalised(&virsh(&d.uri(), &[&script]));
    let theirs = normalised(&virsh("test:///default", &[&script]));
    let _ = std::fs::remove_file(&xml);
    for (i, (a, b)) in ours.0.lines().zip(theirs.0.lines()).enumerate() {
        assert_eq!(a, b, "stdout line {i} of {script}");
    }
    assert_eq!(ours, theirs);
}

#[test]
fn virsh_net_event_sees_lifecycle_over_the_wire() {
    if !needs_virsh("virsh_net_event_sees_lifecycle_over_the_wire") {
        return;
    }
    let d = Daemon::start("net-event");
    let uri = d.uri();
    let watcher = Command::new("virsh")
        .args(["-c", &uri, "net-event", "--event", "lifecycle", "--loop"])
        .args(["--timeout", "5", "--network", "default"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let out = virsh(
        &uri,
        &["net-destroy default ; net-start default ; net-define /nonexistent"],
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Network default started"));
    let done = watcher.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&done.stdout);
    assert_eq!(
        text,
        "event 'lifecycle' for network default: Stopped\n\
         event 'lifecycle' for network default: Started\n\
         event loop timed out\n\
         events received: 2\n\n",
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
}

#[test]
fn readonly_socket_refuses_network_changes() {
    if !needs_virsh("readonly_socket_refuses_network_changes") {
        return;
    }
    let d = Daemon::start("net-ro");
    let out = virsh(&d.ro_uri(), &["net-destroy", "default"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: Failed to destroy network default\n\
         error: operation forbidden: read only access prevents virNetworkDestroy\n"
    );
    let out = virsh(&d.ro_uri(), &["net-info", "default"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Active:         yes"));
}
