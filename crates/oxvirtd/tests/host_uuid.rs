//! `host_uuid` (libvirtd.conf's key, `--host-uuid`): the configured UUID is the `<host>`
//! `<uuid>` of `virsh capabilities` on `qemu:///system`, and a bad one stops the daemon at
//! startup with the configuration file's line.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use common::{needs_virsh, Daemon, TempDir};

const UUID: &str = "5b2f0c8e-7a41-4d39-9e6a-3c1d2b4f6a70";

/// The `<uuid>` inside `<host>` of a capabilities document.
fn host_uuid(caps: &str) -> Option<String> {
    let host = &caps[caps.find("<host>")?..caps.find("</host>")?];
    let start = host.find("<uuid>")? + "<uuid>".len();
    let end = host.find("</uuid>")?;
    Some(host[start..end].to_string())
}

#[test]
fn configured_host_uuid_is_the_capabilities_uuid() {
    let test = "configured_host_uuid_is_the_capabilities_uuid";
    if !needs_virsh(test) {
        return;
    }
    let conf = TempDir::new("host-uuid-conf");
    let file = conf.join("oxvirtd.conf");
    // Upper case and no dashes: written back as libvirt formats UUIDs.
    let raw = UUID.replace('-', "").to_uppercase();
    std::fs::write(
        &file,
        format!("log_level = \"warn\"\nhost_uuid = \"{raw}\"\n"),
    )
    .unwrap();
    let d = Daemon::start_with("host-uuid", &["--config", file.to_str().unwrap()]);
    let uri = format!("qemu+unix:///system?socket={}", d.sock().display());
    let out = Command::new("timeout")
        .args(["120", "virsh", "-c", &uri, "capabilities"])
        .output()
        .unwrap();
    let caps = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "virsh capabilities: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(host_uuid(&caps).as_deref(), Some(UUID), "{caps}");

    // The flag overrides the file.
    let other = "5b2f0c8e-7a41-4d39-9e6a-3c1d2b4f6a71";
    let d2 = Daemon::start_with(
        "host-uuid-flag",
        &["--config", file.to_str().unwrap(), "--host-uuid", other],
    );
    let uri = format!("qemu+unix:///system?socket={}", d2.sock().display());
    let out = Command::new("timeout")
        .args(["120", "virsh", "-c", &uri, "capabilities"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let caps = String::from_utf8_lossy(&out.stdout);
    assert_eq!(host_uuid(&caps).as_deref(), Some(other), "{caps}");
}

#[test]
fn bad_host_uuid_is_refused_at_startup() {
    let conf = TempDir::new("host-uuid-bad");
    let file = conf.join("oxvirtd.conf");
    for (uuid, line) in [
        ("00000000-0000-0000-0000-000000000000", 2),
        ("ffffffff-ffff-ffff-ffff-ffffffffffff", 3),
        ("5b2f0c8e-7a41-4d39-9e6a", 2),
    ] {
        let text = if line == 2 {
            format!("max_workers = 3\nhost_uuid = \"{uuid}\"\n")
        } else {
            format!("max_workers = 3\n# the node\nhost_uuid = \"{uuid}\"\n")
        };
        std::fs::write(&file, text).unwrap();
        let out = common::oxvirtd()
            .arg("--runtime-dir")
            .arg(conf.join("run"))
            .arg("--state-dir")
            .arg(conf.join("state"))
            .arg("--config")
            .arg(&file)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            String::from_utf8_lossy(&out.stderr).trim_end(),
            format!(
                "oxvirtd: {}:{line}: invalid host UUID: {uuid}",
                file.display()
            )
        );
        assert!(!conf.join("run").join("libvirt-sock").exists());
    }
    let out = common::oxvirtd()
        .args(["--host-uuid", "11111111-1111-1111-1111-111111111111"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with(
            "oxvirtd: --host-uuid: invalid host UUID: 11111111-1111-1111-1111-111111111111\n"
        ),
        "{err}"
    );
}
