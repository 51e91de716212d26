//! libvirt's vircaps2xmltest: each fake sysfs tree of `node/vircaps2xmldata/linux-*`
//! (`system` is `/sys/devices/system`, `resctrl` is `/sys/fs/resctrl`) read into the
//! host topology and caches, formatted as the capabilities document, must equal
//! `vircaps-<arch>-<name>.xml` byte for byte.
//!
//! As libvirt's test does (its virnuma mock), each cell's memory is (node + 1) GiB, its
//! page pools are 4 KiB, 2 MiB and 1 GiB pages with (node + 1 + i) × 2048 pages, and the
//! distances are left out.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};

use common::{conformance_dir, linux_cases, write};
use oxvirt_node::caps::{Capabilities, MigrationFeatures};
use oxvirt_node::topology::{CellProbe, Topology};
use oxvirt_node::Host;
use oxvirt_xml::testdata::{conformance, Tally};
use oxvirt_xml::VirError;

/// libvirt's virnuma mock.
struct MockNuma;

impl CellProbe for MockNuma {
    fn memory_bytes(&self, _host: &Host, node: u32) -> Option<u64> {
        Some((1u64 << 30) * u64::from(node + 1))
    }

    fn pages(&self, _host: &Host, node: u32) -> Result<Vec<(u64, u64)>, VirError> {
        Ok([4u64, 2048, 1048576]
            .iter()
            .enumerate()
            .map(|(i, &size)| (size, ((u64::from(node) + 1 + i as u64) * 2) << 10))
            .collect())
    }

    fn distances(&self, _host: &Host, _node: u32) -> Result<Vec<(u32, u32)>, VirError> {
        Ok(Vec::new())
    }
}

/// The conformance copy stores symbolic links as small files holding the link's target;
/// follows such a file to what it points at.
fn resolve(path: &Path) -> PathBuf {
    if path.is_file() {
        if let Ok(text) = std::fs::read_to_string(path) {
            let target = text.trim();
            if !target.is_empty() && !target.contains('\n') {
                let candidate = path.parent().unwrap().join(target);
                if candidate.exists() {
                    return resolve(&candidate);
                }
            }
        }
    }
    path.to_path_buf()
}

/// `dest` becomes a link to `src` resolved, or a directory of links to its resolved
/// entries when `src` is a directory (one level of stored links inside).
fn mount(src: &Path, dest: &Path) {
    let src = resolve(src);
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    if src.is_dir() {
        std::fs::create_dir_all(dest).unwrap();
        for entry in std::fs::read_dir(&src).unwrap() {
            let entry = entry.unwrap();
            let target = resolve(&entry.path()).canonicalize().unwrap();
            std::os::unix::fs::symlink(target, dest.join(entry.file_name())).unwrap();
        }
    }
}

/// A root whose `/sys/devices/system` and `/sys/fs/resctrl` are the test tree's.
fn fake_root(tree: &Path, name: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("vircaps-{name}"));
    let _ = std::fs::remove_dir_all(&root);
    mount(&tree.join("system"), &root.join("sys/devices/system"));
    if tree.join("resctrl").exists() {
        mount(&tree.join("resctrl"), &root.join("sys/fs/resctrl"));
    }
    root
}

/// The migration flags libvirt's test gives each case: (offline, live).
fn migration(arch: &str, name: &str) -> (bool, bool) {
    match (arch, name) {
        ("x86_64", "basic") | ("x86_64", "basic-dies") => (false, false),
        ("aarch64", "basic") => (true, false),
        _ => (true, true),
    }
}

fn document(tree: &Path, arch: &str, name: &str) -> Result<String, String> {
    let root = fake_root(tree, &format!("{arch}-{name}"));
    let host = Host::new(&root);
    let topology = Topology::read_with(&host, &MockNuma).map_err(|e| e.message)?;
    let mut caps = Capabilities::default();
    caps.host.cpu.arch = arch.to_string();
    let (offline, live) = migration(arch, name);
    if offline {
        caps.host.migration = Some(MigrationFeatures {
            live,
            uri_transports: Vec::new(),
        });
    }
    caps.host.topology = Some(topology);
    Ok(caps.to_xml())
}

#[test]
fn vircaps2xml_conformance() {
    let Some(dir) = conformance_dir("vircaps2xml_conformance", "node/vircaps2xmldata") else {
        return;
    };
    let cases = linux_cases(&dir, "vircaps-", ".xml", |rest| {
        let (arch, name) = rest.split_once('-')?;
        Some((arch.to_string(), name.to_string()))
    });
    let mut tally = Tally::default();
    for (arch, name) in &cases {
        let want = std::fs::read_to_string(dir.join(format!("vircaps-{arch}-{name}.xml"))).unwrap();
        let got = document(&dir.join(format!("linux-{name}")), arch, name);
        tally.record(&format!("{arch}-{name}"), &want, got);
    }
    println!(
        "vircaps2xml: {} of {} byte for byte",
        tally.matched.len(),
        cases.len()
    );
    let all: Vec<String> = cases.iter().map(|(a, n)| format!("{a}-{n}")).collect();
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    assert!(cases.len() >= 11, "only {} cases found", cases.len());
    tally.report(20, "VIRCAPS_ALL", &all, cases.len());
}

/// Without `/sys/devices/system/node`, libvirt fakes the cells from the node info: one
/// cell numbered 0 with all the memory of `/proc/meminfo` and every online CPU.
#[test]
fn no_numa_falls_back_to_one_cell() {
    let tree = conformance("node/virhostcpudata/linux-test6/cpu");
    if !tree.exists() {
        eprintln!(
            "SKIPPED no_numa_falls_back_to_one_cell: {} not found",
            tree.display()
        );
        return;
    }
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("vircaps-fake-numa");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("sys/devices/system")).unwrap();
    std::fs::create_dir_all(root.join("proc")).unwrap();
    std::os::unix::fs::symlink(
        tree.canonicalize().unwrap(),
        root.join("sys/devices/system/cpu"),
    )
    .unwrap();
    std::fs::write(root.join("proc/meminfo"), "MemTotal:        8048096 kB\n").unwrap();
    let cpuinfo = conformance("node/virhostcpudata/linux-x86_64-test6.cpuinfo");
    std::fs::copy(cpuinfo, root.join("proc/cpuinfo")).unwrap();
    let host = Host::new(&root);

    let info = oxvirt_node::nodeinfo::node_info_for_arch(&host, "x86_64").unwrap();
    assert_eq!(info.memory_kib, 8048096);
    let topology = Topology::read(&host).unwrap();
    assert_eq!(topology.cells.len() as u32, info.nodes);
    let cell = &topology.cells[0];
    assert_eq!(cell.id, 0);
    assert_eq!(cell.memory_kib, 8048096);
    assert!(cell.pages.is_empty() && cell.distances.is_empty());
    assert_eq!(
        cell.cpus.len() as u32,
        info.cpus,
        "the online CPUs are listed"
    );
    let online = std::fs::read_to_string(tree.join("online")).unwrap();
    assert_eq!(topology.cpus().to_string(), online.trim());
    let mut caps = Capabilities::default();
    caps.host.cpu.arch = "x86_64".into();
    caps.host.topology = Some(topology);
    let xml = caps.to_xml();
    assert!(xml.contains(
        "        <cell id='0'>\n          <memory unit='KiB'>8048096</memory>\n          <cpus num="
    ));
}

/// The real sysfs reading (no mock): memory from `nodeN/meminfo`, huge page pools and the
/// ordinary pages of the memory they leave, distances; an offline CPU still listed by its
/// node has no topology files and shows as socket 0, die 0, core 0, its own sibling.
#[test]
fn sysfs_cells_pages_distances_and_offline_cpu() {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("vircaps-sysfs-real");
    let _ = std::fs::remove_dir_all(&root);
    let sys = "/sys/devices/system";
    write(&root, &format!("{sys}/node/online"), "0-1\n");
    for (n, cpus, mem) in [(0, "0-1", 4194304u64), (1, "2", 2097152)] {
        let node = format!("{sys}/node/node{n}");
        write(&root, &format!("{node}/cpulist"), &format!("{cpus}\n"));
        write(
            &root,
            &format!("{node}/meminfo"),
            &format!("Node {n} MemTotal:       {mem} kB\nNode {n} MemFree:        1024 kB\n"),
        );
        write(
            &root,
            &format!("{node}/distance"),
            if n == 0 { "10 21\n" } else { "21 10\n" },
        );
        let pool = format!("{node}/hugepages/hugepages-2048kB");
        write(
            &root,
            &format!("{pool}/nr_hugepages"),
            if n == 0 { "512\n" } else { "0\n" },
        );
        write(&root, &format!("{pool}/free_hugepages"), "0\n");
    }
    write(&root, &format!("{sys}/cpu/online"), "0,2\n");
    write(&root, &format!("{sys}/cpu/present"), "0-2\n");
    for cpu in [0, 2] {
        let topo = format!("{sys}/cpu/cpu{cpu}/topology");
        write(
            &root,
            &format!("{topo}/physical_package_id"),
            &format!("{}\n", cpu / 2),
        );
        write(&root, &format!("{topo}/die_id"), "0\n");
        write(&root, &format!("{topo}/core_id"), "3\n");
        write(
            &root,
            &format!("{topo}/thread_siblings_list"),
            &format!("{cpu}\n"),
        );
    }
    write(&root, &format!("{sys}/cpu/cpu1/online"), "0\n");

    let topology = Topology::read(&Host::new(&root)).unwrap();
    let mut caps = Capabilities::default();
    caps.host.cpu.arch = "x86_64".into();
    caps.host.topology = Some(topology);
    let xml = caps.to_xml();
    let want = "\
    <topology>
      <cells num='2'>
        <cell id='0'>
          <memory unit='KiB'>4194304</memory>
          <pages unit='KiB' size='4'>786432</pages>
          <pages unit='KiB' size='2048'>512</pages>
          <distances>
            <sibling id='0' value='10'/>
            <sibling id='1' value='21'/>
          </distances>
          <cpus num='2'>
            <cpu id='0' socket_id='0' die_id='0' core_id='3' siblings='0'/>
            <cpu id='1' socket_id='0' die_id='0' core_id='0' siblings='1'/>
          </cpus>
        </cell>
        <cell id='1'>
          <memory unit='KiB'>2097152</memory>
          <pages unit='KiB' size='4'>524288</pages>
          <pages unit='KiB' size='2048'>0</pages>
          <distances>
            <sibling id='0' value='21'/>
            <sibling id='1' value='10'/>
          </distances>
          <cpus num='1'>
            <cpu id='2' socket_id='1' die_id='0' core_id='3' siblings='2'/>
          </cpus>
        </cell>
      </cells>
    </topology>
";
    assert!(xml.contains(want), "got:\n{xml}");
}
