//! go-libvirt (Debian's golang-github-digitalocean-go-libvirt-dev, a pure-Go client that
//! sends the raw procedures) against oxvirtd: the node statistics with their count-only
//! form, the CPU map, free pages, vCPU information and pinning, emulator pinning, I/O
//! threads and NUMA parameters, and libvirtd's limits.

#![allow(clippy::unwrap_used)]

mod common;

use common::{golibvirt, Daemon};

#[test]
fn go_libvirt_node_and_placement_calls() {
    if !golibvirt::needs_go_libvirt("go_libvirt_node_and_placement_calls") {
        return;
    }
    let d = Daemon::start("golibvirt-node");
    let stdout = golibvirt::run(&d, "go_node", "golibvirt-node");
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
