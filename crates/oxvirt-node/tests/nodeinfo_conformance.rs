//! libvirt's virhostcputest (node info part): `linux-<arch>-<name>.cpuinfo` with the fake
//! sysfs tree `linux-<name>` (as `/sys/devices/system`) gives the CPU counts of
//! `linux-<arch>-<name>.expected`; and the real host's node info and topology agree.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};

use common::{conformance_dir, linux_cases};
use oxvirt_node::nodeinfo::{cpu_counts_with_subcores, node_info, CpuCounts};
use oxvirt_node::topology::Topology;
use oxvirt_node::Host;
use oxvirt_xml::testdata::Tally;
use oxvirt_xml::types::cpuset::CpuSet;

/// A root whose `/sys/devices/system` is `tree`.
fn fake_root(tree: &Path, name: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("virhostcpu-{name}"));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("sys/devices")).unwrap();
    std::os::unix::fs::symlink(
        tree.canonicalize().unwrap(),
        root.join("sys/devices/system"),
    )
    .unwrap();
    root
}

/// The line virhostcputest prints.
fn line(c: &CpuCounts) -> String {
    format!(
        "CPUs: {}/{}, MHz: {}, Nodes: {}, Sockets: {}, Cores: {}, Threads: {}\n",
        c.cpus,
        c.nodes * c.sockets * c.cores * c.threads,
        c.mhz,
        c.nodes,
        c.sockets,
        c.cores,
        c.threads
    )
}

const ARCHES: [&str; 7] = [
    "x86_64", "aarch64", "armv6l", "ppc64", "ppc", "s390x", "i686",
];

#[test]
fn virhostcpu_nodeinfo_conformance() {
    let Some(dir) = conformance_dir("virhostcpu_nodeinfo_conformance", "node/virhostcpudata")
    else {
        return;
    };
    let cases = linux_cases(&dir, "linux-", ".cpuinfo", |rest| {
        let arch = ARCHES.iter().find(|a| rest.starts_with(&format!("{a}-")))?;
        Some((arch.to_string(), rest[arch.len() + 1..].to_string()))
    });
    let mut required = Tally::default();
    let mut others = Tally::default();
    for (arch, name) in &cases {
        let stem = format!("linux-{arch}-{name}");
        let want = std::fs::read_to_string(dir.join(format!("{stem}.expected"))).unwrap();
        let cpuinfo = std::fs::read_to_string(dir.join(format!("{stem}.cpuinfo"))).unwrap();
        let root = fake_root(
            &dir.join(format!("linux-{name}")),
            &format!("{arch}-{name}"),
        );
        // libvirt's test mocks POWER's KVM with 8 threads per subcore.
        let subcores = if arch == "ppc64" { 8 } else { 0 };
        let got = cpu_counts_with_subcores(&Host::new(&root), arch, &cpuinfo, subcores)
            .map(|c| line(&c))
            .map_err(|e| e.message);
        let tally = if arch == "x86_64" || arch == "aarch64" {
            &mut required
        } else {
            &mut others
        };
        tally.record(&format!("{arch}-{name}"), &want, got);
    }
    let total_required = required.matched.len() + required.mismatches.len();
    println!(
        "virhostcpu nodeinfo: {} of {}",
        required.matched.len(),
        total_required
    );
    println!(
        "virhostcpu nodeinfo, other architectures: {} of {}",
        others.matched.len(),
        others.matched.len() + others.mismatches.len()
    );
    assert!(
        others.mismatches.is_empty(),
        "other architectures: {:?}",
        others.mismatches
    );
    assert!(
        total_required >= 13,
        "only {total_required} x86/aarch64 cases"
    );
    let all: Vec<String> = cases
        .iter()
        .filter(|(a, _)| a == "x86_64" || a == "aarch64")
        .map(|(a, n)| format!("{a}-{n}"))
        .collect();
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    required.report(20, "VIRHOSTCPU_ALL", &all, total_required);
}

/// The online CPUs of the running host.
fn online_cpus() -> CpuSet {
    let text = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap();
    CpuSet::parse_unlimited(text.trim()).unwrap()
}

#[test]
fn this_host_topology_and_node_info_agree() {
    if !Path::new("/sys/devices/system/cpu/online").exists() {
        eprintln!("SKIPPED this_host_topology_and_node_info_agree: no sysfs");
        return;
    }
    let host = Host::system();
    let info = node_info(&host).expect("node info of this host");
    let topology = Topology::read(&host).expect("topology of this host");
    let online = online_cpus();

    assert_eq!(info.model, oxvirt_node::nodeinfo::host_arch());
    assert_eq!(
        info.cpus as usize,
        online.len(),
        "node info CPUs = online CPUs"
    );
    assert!(info.max_cpus() >= info.cpus);
    assert!(info.memory_kib > 0);
    assert!(!topology.cells.is_empty());
    assert_eq!(
        topology.cpus(),
        online,
        "the cells' CPUs are the online CPUs"
    );
    let cell_memory: u64 = topology.cells.iter().map(|c| c.memory_kib).sum();
    assert_eq!(cell_memory, info.memory_kib, "cells' memory = node memory");
    for cell in &topology.cells {
        assert!(
            cell.pages
                .iter()
                .any(|&(size, _)| size == 4 || size == 16 || size == 64),
            "cell {} lists its ordinary pages: {:?}",
            cell.id,
            cell.pages
        );
        for cpu in &cell.cpus {
            assert!(
                cpu.siblings.contains(cpu.id),
                "CPU {} is its own sibling",
                cpu.id
            );
        }
    }
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    let total: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap();
    // NUMA nodes' MemTotal may differ from /proc/meminfo's by reserved memory only.
    assert!(info.memory_kib <= total + total / 10 && info.memory_kib >= total / 2);
    let caps_xml = {
        let mut caps = oxvirt_node::caps::Capabilities::default();
        caps.host.cpu.arch = info.model.clone();
        caps.host.topology = Some(topology.clone());
        caps.to_xml()
    };
    assert!(caps_xml.contains(&format!("<cells num='{}'>", topology.cells.len())));
    println!("this host: {info:?}");
}

/// The output of `virsh -c qemu:///system ARGS`, when a libvirtd answers.
fn virsh(args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("virsh")
        .args(["-c", "qemu:///system"])
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The lines of `doc` from the one starting with `open` to the one starting with `close`.
fn section(doc: &str, open: &str, close: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for line in doc.lines() {
        if line.trim_start().starts_with(open) {
            inside = true;
        }
        if inside {
            out.push_str(line);
            out.push('\n');
            if line.trim_start().starts_with(close) {
                break;
            }
        }
    }
    out
}

#[test]
fn this_host_matches_libvirtd() {
    let Some(reference) = virsh(&["capabilities"]) else {
        eprintln!("SKIPPED this_host_matches_libvirtd: no libvirtd answers qemu:///system");
        return;
    };
    let host = Host::system();
    let mut caps = oxvirt_node::caps::Capabilities::default();
    caps.host.cpu.arch = oxvirt_node::nodeinfo::host_arch().to_string();
    caps.host.topology = Some(Topology::read(&host).unwrap());
    let ours = caps.to_xml();
    for (open, close) in [
        ("<topology>", "</topology>"),
        ("<cache>", "</cache>"),
        ("<memory_bandwidth>", "</memory_bandwidth>"),
    ] {
        let want = section(&reference, open, close);
        let got = section(&ours, open, close);
        assert_eq!(got, want, "{open} differs from libvirtd's");
    }

    // The host part as the QEMU driver builds it: IOMMU, migration and the CPU's topology
    // line agree too (the UUID is random on a host without SMBIOS, so it is left out).
    let mut caps = oxvirt_node::caps::Capabilities::default();
    caps.host = oxvirt_node::caps::HostCaps::read(&host).unwrap();
    let ours = caps.to_xml();
    for (open, close) in [
        ("<iommu", "<iommu"),
        ("<topology sockets=", "<topology sockets="),
        ("<migration_features>", "</migration_features>"),
        ("<cells", "</cells>"),
    ] {
        let want = section(&reference, open, close);
        let got = section(&ours, open, close);
        assert_eq!(got, want, "{open} differs from libvirtd's");
    }

    let nodeinfo = virsh(&["nodeinfo"]).unwrap();
    let field = |name: &str| -> String {
        nodeinfo
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    let info = node_info(&host).unwrap();
    assert_eq!(field("CPU model:"), info.model);
    assert_eq!(field("CPU(s):"), info.cpus.to_string());
    assert_eq!(field("CPU socket(s):"), info.sockets.to_string());
    assert_eq!(field("Core(s) per socket:"), info.cores.to_string());
    assert_eq!(field("Thread(s) per core:"), info.threads.to_string());
    assert_eq!(field("NUMA cell(s):"), info.nodes.to_string());
    assert_eq!(field("Memory size:"), format!("{} KiB", info.memory_kib));
}
