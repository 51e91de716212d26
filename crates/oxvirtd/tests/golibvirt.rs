//! go-libvirt (Debian's golang-github-digitalocean-go-libvirt-dev, a pure-Go client that
//! speaks the protocol itself) against oxvirtd: connect, host calls, listing, lookup and
//! info, libvirt's error for a missing domain, lifecycle events, disconnect.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::Command;

use common::{skip, virsh, Daemon};

const GO_LIBVIRT: &str = "/usr/share/gocode/src/github.com/digitalocean/go-libvirt";

/// Builds tests/go/main.go in GOPATH mode against Debian's go-libvirt source.
fn build(out: &Path) -> Result<(), String> {
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/go");
    std::fs::create_dir_all(&target).map_err(|e| e.to_string())?;
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/go/main.go");
    let built = Command::new("go")
        .args(["build", "-o"])
        .arg(out)
        .arg(&src)
        .env("GO111MODULE", "off")
        .env("GOPATH", "/usr/share/gocode")
        .env("GOCACHE", target.join("cache"))
        .output()
        .map_err(|e| format!("go: {e}"))?;
    if !built.status.success() {
        return Err(String::from_utf8_lossy(&built.stderr).into_owned());
    }
    Ok(())
}

#[test]
fn go_libvirt_manages_test_default() {
    if !Path::new(GO_LIBVIRT).exists() || Command::new("go").arg("version").output().is_err() {
        skip(
            "go_libvirt_manages_test_default",
            "golang-go and golang-github-digitalocean-go-libvirt-dev are not installed",
        );
        return;
    }
    let d = Daemon::start("golibvirt");
    let exe = d.dir.join("golibvirt-check");
    build(&exe).unwrap();
    let out = Command::new(&exe).arg(d.sock()).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "go-libvirt failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let hostname = String::from_utf8(virsh("test:///default", &["hostname"]).stdout).unwrap();
    let expected = format!(
        "hostname {}\n\
         libversion 9000000\n\
         uri test:///default\n\
         domains 1 test:1\n\
         info 1 8388608 2097152 2\n\
         error 42 Domain not found\n\
         event test 5 1\n\
         event test 2 0\n\
         done\n",
        hostname.trim()
    );
    assert_eq!(stdout, expected);
}
