//! The node and placement commands (`capabilities`, `nodecpustats`, `freepages`,
//! `vcpuinfo`, `vcpupin`, `emulatorpin`, `iothreadinfo`, `iothreadpin`, `numatune`, ...)
//! through `oxvirsh -c test:///default` and libvirt's `virsh -c test:///default`: stdout,
//! stderr and exit status must be identical, character for character.
//!
//! Normalised before comparing, and only this: vcpuinfo's `CPU time:` value, which
//! libvirt's test driver derives from the clock. Without virsh installed the test prints
//! "SKIPPED" and passes.

mod common;

use common::{run_line, virsh_installed};

const OXVIRSH: &str = env!("CARGO_BIN_EXE_oxvirsh");

/// A guest with four vCPUs (two online), I/O threads, pinning and NUMA tuning.
const PINNED: &str = "<domain type='test'><name>d2</name><memory>1048576</memory>\
<vcpu placement='static' current='2' cpuset='1-3'>4</vcpu><iothreads>2</iothreads>\
<cputune><vcpupin vcpu='1' cpuset='0,5'/><emulatorpin cpuset='2-3'/>\
<iothreadpin iothread='2' cpuset='6'/></cputune>\
<numatune><memory mode='interleave' nodeset='0-1'/></numatune>\
<os><type>hvm</type></os></domain>";

/// Each line is one run (virsh splits a single argument into commands itself); `@XML@`
/// stands for the path of [`PINNED`].
const LINES: &[&str] = &[
    "capabilities",
    "domcapabilities",
    "sysinfo",
    "maxvcpus",
    "maxvcpus --type kvm",
    "nodeinfo",
    "nodecpumap",
    "nodecpumap --pretty",
    "nodecpustats",
    "nodecpustats 0",
    "nodecpustats --cpu x",
    "nodecpustats --percent",
    "nodememstats",
    "freecell",
    "freecell --all",
    "freecell 0",
    "freecell --cellno 5",
    "freecell -1",
    "freecell --all --cellno 0",
    "freepages",
    "freepages --all",
    "freepages 0 4",
    "freepages --cellno 1 --pagesize 2048",
    "freepages --all --pagesize 4",
    "freepages --cellno 0",
    "freepages 5 4",
    "freepages -- -1 4",
    "vcpuinfo test",
    "vcpuinfo test --pretty",
    "vcpuinfo nosuch",
    "vcpupin test",
    "vcpupin test --vcpu 1",
    "vcpupin test --vcpu 5",
    "vcpupin test 5 1",
    "vcpupin test 0 99",
    "vcpupin test 0 ^1",
    "vcpupin test 0 ''",
    "vcpupin test --cpulist 1",
    "vcpupin test 0 1 --live",
    "vcpupin test 0 1 --live --config",
    "vcpupin test 0 1 --current --live",
    "vcpupin test --live --config",
    "vcpupin test 0 0-2,^1; vcpupin test; vcpuinfo test --pretty",
    "vcpupin test 1 r --current; vcpupin test --vcpu 1",
    "emulatorpin test",
    "emulatorpin test ''",
    "emulatorpin test 0-1; emulatorpin test",
    "emulatorpin test 3 --config; emulatorpin test --config",
    "emulatorpin test 1 --live --config",
    "emulatorpin test ^1",
    "iothreadinfo test",
    "iothreadinfo test --live --config",
    "iothreadpin test 1 0",
    "iothreadpin test 1",
    "iothreadpin test 1 ''",
    "numatune test",
    "numatune test --mode strict --nodeset 0; numatune test",
    "numatune test --mode interleave",
    "numatune test --mode bogus",
    "numatune test --mode 7",
    "numatune test --mode 0x2 --nodeset 1; numatune test",
    "numatune test --live --config",
    "numatune test --nodeset 0 --live --config",
    "define @XML@; vcpuinfo d2; vcpuinfo d2 --pretty; vcpupin d2; emulatorpin d2; \
     iothreadinfo d2; numatune d2",
    "define @XML@; start d2; vcpuinfo d2; vcpupin d2; vcpupin d2 3 1; vcpupin d2 --vcpu 3; \
     iothreadpin d2 1 2-3; iothreadinfo d2; iothreadpin d2 9 1",
    "define @XML@; vcpupin d2 --live; vcpupin d2 --vcpu 3 --config; \
     vcpupin d2 1 r --config; vcpupin d2 --config",
    "destroy test; vcpupin test 0 1; vcpuinfo test; vcpupin test; emulatorpin test 1",
    "destroy test; vcpupin test 0 1 --current; vcpuinfo test --pretty",
    "connect test:///default --readonly; vcpupin test 0 1",
    "connect test:///default --readonly; vcpupin test 0 1 --current",
    "connect test:///default --readonly; emulatorpin test 1",
    "connect test:///default --readonly; iothreadpin test 1 1",
    "connect test:///default --readonly; numatune test --mode strict",
    "connect test:///default --readonly; numatune test; vcpupin test; emulatorpin test",
    "help vcpupin",
    "help numatune",
    "help freepages",
    "help iothreadpin",
];

/// stdout, stderr and exit status of `program -c test:///default LINE`.
fn run(program: &str, line: &str) -> (String, String, Option<i32>) {
    let (stdout, stderr, status) = run_line(program, "test:///default", line);
    let norm = |text: &str| {
        text.split_inclusive('\n')
            .map(|l| {
                if l.starts_with("CPU time:") {
                    "CPU time: <normalised>\n".to_owned()
                } else {
                    l.to_owned()
                }
            })
            .collect::<String>()
    };
    (norm(&stdout), norm(&stderr), status)
}

#[test]
fn node_and_placement_commands_match_virsh() {
    if !virsh_installed() {
        eprintln!("SKIPPED node_and_placement_commands_match_virsh: virsh not installed");
        return;
    }
    let dir = std::env::temp_dir().join(format!("oxvirsh-node-parity-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let xml = dir.join("d2.xml");
    std::fs::write(&xml, PINNED).expect("writing the domain");
    let mut same = 0;
    let mut differ = Vec::new();
    for line in LINES {
        let line = line.replace("@XML@", &xml.display().to_string());
        let want = run("virsh", &line);
        let got = run(OXVIRSH, &line);
        if want == got {
            same += 1;
        } else {
            differ.push(format!("{line}\n  virsh:   {want:?}\n  oxvirsh: {got:?}"));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!(
        "node parity: {same} of {} command lines identical",
        LINES.len()
    );
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}
