//! go-libvirt (Debian's golang-github-digitalocean-go-libvirt-dev, a pure-Go client that
//! sends the raw procedures) against oxvirtd: the node statistics with their count-only
//! form, the CPU map, free pages, vCPU information and pinning, emulator pinning, I/O
//! threads and NUMA parameters, and libvirtd's limits.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::Command;

use common::{skip, Daemon};

const GO_LIBVIRT: &str = "/usr/share/gocode/src/github.com/digitalocean/go-libvirt";

/// Builds tests/go_node/main.go in GOPATH mode against Debian's go-libvirt source.
fn build(out: &Path) -> Result<(), String> {
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/go");
    std::fs::create_dir_all(&target).map_err(|e| e.to_string())?;
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/go_node/main.go");
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
fn go_libvirt_node_and_placement_calls() {
    if !Path::new(GO_LIBVIRT).exists() || Command::new("go").arg("version").output().is_err() {
        skip(
            "go_libvirt_node_and_placement_calls",
            "golang-go and golang-github-digitalocean-go-libvirt-dev are not installed",
        );
        return;
    }
    let d = Daemon::start("golibvirt-node");
    let exe = d.dir.join("golibvirt-node");
    build(&exe).unwrap();
    let out = Command::new(&exe).arg(d.sock()).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "go-libvirt failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected = "cpustats-count 0 4\n\
         cpustat user 9797400000\n\
         cpustat kernel 34678723400000\n\
         cpustat idle 87264900000\n\
         cpustat iowait 763600000\n\
         cpustats-17 error 1 internal error: nparams too large\n\
         memstats error 3 this function is not supported by the connection driver: virNodeGetMemoryStats\n\
         cpumap 15 3 8\n\
         freepages [19 45 97 201]\n\
         freepages-big error 39 the result won't fit into REMOTE_NODE_MAX_CELLS\n\
         vcpu 0 1 15\n\
         vcpu 1 1 15\n\
         vcpumaps ffff\n\
         vcpus-big error 1 internal error: maxinfo > REMOTE_VCPUINFO_MAX\n\
         pininfo 2 ff06\n\
         emuinfo 1 03\n\
         iothreads 0 0\n\
         numa-count 0 2\n\
         numa numa_mode 0\n\
         numa numa_nodeset \n\
         done\n";
    assert_eq!(stdout, expected);
}
