//! Node statistics, free memory, free pages and the CPU map, read from libvirt's test data
//! and from small fake sysfs/procfs trees.

mod common;

use common::Tree;
use oxvirt_node::stats::{self, ALL_CELLS, ALL_CPUS, TICK_NS};
use oxvirt_node::{cpumap, memory, Host};
use oxvirt_xml::testdata::{conformance, first_diff};
use oxvirt_xml::{ErrorCode, ErrorDomain};

#[test]
fn cpu_stats_match_virhostcputest_24cpu() {
    let dir = conformance("node/virhostcpudata");
    let stat = dir.join("linux-cpustat-24cpu.stat");
    if !stat.exists() {
        eprintln!(
            "SKIPPED cpu_stats_match_virhostcputest_24cpu: no {}",
            stat.display()
        );
        return;
    }
    let want = std::fs::read_to_string(dir.join("linux-cpustat-24cpu.out")).unwrap();
    let text = std::fs::read_to_string(stat).unwrap();
    // virhostcputest prints each field divided by the tick length.
    let mut got = String::new();
    for cpu in std::iter::once(ALL_CPUS).chain(0..24) {
        let fields = stats::cpu_stats_from(&text, cpu).unwrap();
        if cpu < 0 {
            got.push_str("cpu:\n");
        } else {
            got.push_str(&format!("cpu{cpu}:\n"));
        }
        for (name, value) in fields {
            got.push_str(&format!("{name}: {}\n", value / TICK_NS));
        }
        got.push('\n');
    }
    assert_eq!(got, want, "{}", first_diff(&want, &got));
    println!("cpustat: 1 of 1");
    let e = stats::cpu_stats_from(&text, 24).unwrap_err();
    assert_eq!(
        (e.code, e.domain, e.message.as_str()),
        (
            ErrorCode::InvalidArg,
            ErrorDomain::None,
            "Invalid cpuNum in virHostCPUGetStatsLinux"
        )
    );
}

const MEMINFO: &str = "MemTotal:       24731708 kB\nMemFree:        21181132 kB\nMemAvailable:   23000000 kB\nBuffers:            7376 kB\nCached:          3114240 kB\nSwapCached:            0 kB\n";
const NODE0: &str = "Node 0 MemTotal:       16000000 kB\nNode 0 MemFree:        10000000 kB\nNode 0 MemUsed:         6000000 kB\n";
const NODE1: &str = "Node 1 MemTotal:        8000000 kB\nNode 1 MemFree:         2000000 kB\n";

fn numa_tree(name: &str) -> Tree {
    Tree::new(
        name,
        &[
            ("/proc/meminfo", MEMINFO),
            (
                "/proc/stat",
                "cpu  1 2 3 4 5 6 7 0 0 0\ncpu0 1 2 3 4 5 6 7\n",
            ),
            ("/sys/devices/system/node/node0/meminfo", NODE0),
            ("/sys/devices/system/node/node1/meminfo", NODE1),
            (
                "/sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages",
                "10\n",
            ),
            (
                "/sys/devices/system/node/node0/hugepages/hugepages-2048kB/free_hugepages",
                "7\n",
            ),
            (
                "/sys/devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages",
                "0\n",
            ),
            (
                "/sys/devices/system/node/node1/hugepages/hugepages-2048kB/free_hugepages",
                "0\n",
            ),
            (
                "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages",
                "10\n",
            ),
            (
                "/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages",
                "7\n",
            ),
            (
                "/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages",
                "0\n",
            ),
            (
                "/sys/kernel/mm/hugepages/hugepages-1048576kB/free_hugepages",
                "0\n",
            ),
            ("/sys/devices/system/cpu/present", "0-11\n"),
            ("/sys/devices/system/cpu/online", "0-3,8\n"),
        ],
    )
}

#[test]
fn cpu_stats_from_a_tree() {
    let t = numa_tree("cpu");
    let all = stats::cpu_stats(&t.host(), ALL_CPUS).unwrap();
    assert_eq!(all[0], ("kernel".to_string(), (3 + 6 + 7) * TICK_NS));
    assert_eq!(all[1], ("user".to_string(), 3 * TICK_NS));
    assert!(stats::cpu_stats(&t.host(), 1).is_err());
    let none = Tree::new("cpu-none", &[]);
    let e = stats::cpu_stats(&none.host(), ALL_CPUS).unwrap_err();
    assert_eq!(e.code, ErrorCode::SystemError);
    assert_eq!(
        e.message,
        "cannot open /proc/stat: No such file or directory"
    );
}

#[test]
fn memory_stats_host_and_cells() {
    let t = numa_tree("mem");
    let h = t.host();
    let all = stats::memory_stats(&h, ALL_CELLS).unwrap();
    assert_eq!(
        all,
        vec![
            ("total".to_string(), 24731708),
            ("free".to_string(), 21181132),
            ("buffers".to_string(), 7376),
            ("cached".to_string(), 3114240),
        ]
    );
    let cell1 = stats::memory_stats(&h, 1).unwrap();
    assert_eq!(
        cell1,
        vec![
            ("total".to_string(), 8000000),
            ("free".to_string(), 2000000)
        ]
    );
    let e = stats::memory_stats(&h, 5).unwrap_err();
    assert_eq!(
        (e.code, e.domain),
        (ErrorCode::InvalidArg, ErrorDomain::None)
    );
    assert_eq!(
        e.message,
        "cellNum in virHostMemGetStats must be less than or equal to 1"
    );
}

#[test]
fn memory_stats_without_numa() {
    let t = Tree::new("nonuma", &[("/proc/meminfo", MEMINFO)]);
    let h = t.host();
    // Cell 0 is the whole host.
    assert_eq!(stats::memory_stats(&h, 0).unwrap().len(), 4);
    let e = stats::memory_stats(&h, 1).unwrap_err();
    assert_eq!(e.code, ErrorCode::OperationUnsupported);
    assert_eq!(
        e.message,
        "Operation not supported: NUMA isn't available on this host"
    );
    assert_eq!(
        memory::cells_free_memory(&h, 0, 8).unwrap(),
        vec![21181132 * 1024]
    );
    let e = memory::cells_free_memory(&h, 1, 1).unwrap_err();
    assert_eq!(e.message, "internal error: start cell 1 out of range (0-0)");
    assert_eq!(memory::free_memory(&h).unwrap(), 21181132 * 1024);
    assert_eq!(memory::last_cell(&h), 0);
}

#[test]
fn free_memory_of_cells() {
    let t = numa_tree("cells");
    let h = t.host();
    assert_eq!(
        memory::cells_free_memory(&h, 0, 10).unwrap(),
        vec![10000000 * 1024, 2000000 * 1024]
    );
    assert_eq!(
        memory::cells_free_memory(&h, 1, 1).unwrap(),
        vec![2000000 * 1024]
    );
    let e = memory::cells_free_memory(&h, 3, 1).unwrap_err();
    assert_eq!(e.code, ErrorCode::InternalError);
    assert_eq!(e.message, "internal error: start cell 3 out of range (0-1)");
    assert_eq!(memory::free_memory(&h).unwrap(), 12000000 * 1024);
    assert_eq!(memory::max_node(&h).unwrap(), 1);
}

#[test]
fn free_pages_per_size_and_cell() {
    let t = numa_tree("pages");
    let h = t.host();
    let sys = memory::system_page_size(&h);
    assert_eq!(sys, 4, "a fake root has no smaps: 4 KiB");
    assert_eq!(memory::last_cell(&h), 1);
    let counts = memory::free_pages(&h, &[4, 2048], 0, 2, 1).unwrap();
    assert_eq!(counts, vec![10000000 / 4, 7, 2000000 / 4, 0]);
    let e = memory::free_pages(&h, &[4], 2, 1, 1).unwrap_err();
    assert_eq!(e.message, "internal error: start cell 2 out of range (0-1)");
    let e = memory::free_pages(&h, &[1234], 0, 1, 1).unwrap_err();
    assert_eq!(
        (e.code, e.domain),
        (ErrorCode::OperationFailed, ErrorDomain::None)
    );
    assert_eq!(
        e.message,
        "operation failed: page size 1234 is not available on node 0"
    );
    // The host's page sizes, ascending; the 4 KiB pool excludes the huge pages.
    assert_eq!(memory::page_sizes(&h), vec![4, 2048, 1048576]);
    let node0 = memory::pages(&h, 0).unwrap();
    assert_eq!(
        node0[0],
        memory::PageInfo {
            size: 4,
            avail: (16000000 - 10 * 2048) / 4,
            free: 10000000 / 4
        }
    );
    assert_eq!(node0.len(), 2);
}

#[test]
fn cpu_map_from_sysfs() {
    let t = numa_tree("cpumap");
    let m = cpumap::cpu_map(&t.host()).unwrap();
    assert_eq!(m.cpus, 12);
    assert_eq!(m.online_count(), 5);
    assert_eq!(m.online_bytes(), vec![0x0f, 0x01]);
    let none = Tree::new("cpumap-none", &[]);
    assert!(cpumap::cpu_map(&none.host()).is_err());
}

#[test]
fn this_host_answers_plausibly() {
    let h = Host::system();
    if !h.exists("/proc/stat") {
        eprintln!("SKIPPED this_host_answers_plausibly: no /proc/stat");
        return;
    }
    let all = stats::cpu_stats(&h, ALL_CPUS).unwrap();
    let names: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["kernel", "user", "idle", "iowait"]);
    assert!(all[2].1 > 0);
    assert!(stats::cpu_stats(&h, 0).is_ok());
    assert!(stats::cpu_stats(&h, 1 << 20).is_err());
    let mem = stats::memory_stats(&h, ALL_CELLS).unwrap();
    assert_eq!(mem.len(), 4);
    assert!(mem[0].1 > mem[1].1 && mem[1].1 > 0);
    assert_eq!(stats::memory_stats(&h, 0).unwrap().len(), 2);
    let free = memory::cells_free_memory(&h, 0, 64).unwrap();
    assert!(!free.is_empty() && free[0] > 0);
    assert!(memory::free_memory(&h).unwrap() > 0);
    if std::env::consts::ARCH == "x86_64" {
        assert_eq!(memory::system_page_size(&h), 4);
    }
    let sizes = memory::page_sizes(&h);
    assert_eq!(sizes[0], memory::system_page_size(&h));
    let pages = memory::free_pages(&h, &sizes, 0, 1, memory::last_cell(&h)).unwrap();
    assert_eq!(pages.len(), sizes.len());
    assert!(pages[0] > 0);
    let map = cpumap::cpu_map(&h).unwrap();
    assert!(map.cpus >= 1 && map.online_count() >= 1 && map.online_count() <= map.cpus);
}
