//! The node statistics and placement procedures over the wire: the real virsh against
//! oxvirtd serving `test:///default` answers as virsh does in process, and the raw
//! procedures keep libvirtd's count-only calls, limits and read-only refusals.

#![allow(clippy::unwrap_used)]

mod common;

use std::process::Output;

use common::{
    error_parts, needs_python_libvirt, needs_virsh, normalised, python, virsh, Daemon, Raw,
};
use oxvirt_rpc::remote::*;
use oxvirt_rpc::types::NonnullDomain;
use oxvirt_rpc::xdr::{decode_from, Opaque};
use oxvirt_rpc::{MessageStatus, RemoteProcedure as P};

/// Command lines, each one virsh run (virsh splits a single argument itself, `;` between
/// commands), each against a fresh daemon.
const CASES: &[&str] = &[
    "nodecpustats",
    "nodecpustats 0",
    "nodecpustats --cpu x",
    "nodememstats",
    "freecell",
    "freecell --all",
    "freecell --cellno 1",
    "freecell --cellno 5",
    "freecell -1",
    "freepages --all",
    "freepages 0 4",
    "freepages --cellno 1 --pagesize 2048",
    "freepages --cellno 0",
    "freepages 5 4",
    "freepages -- -1 4",
    "nodecpumap",
    "nodecpumap --pretty",
    "sysinfo",
    "maxvcpus",
    "capabilities",
    "domcapabilities",
    "vcpuinfo test",
    "vcpuinfo test --pretty",
    "vcpupin test",
    "vcpupin test --vcpu 1",
    "vcpupin test --vcpu 5",
    "vcpupin test 5 1",
    "vcpupin test 0 99",
    "vcpupin test 0 ''",
    "vcpupin test 0 1 --live",
    "vcpupin test 0 1 --current --live",
    "vcpupin test --live --config",
    "vcpupin test 0 0-2,^1; vcpupin test; vcpuinfo test",
    "vcpupin test 0 r --current; vcpupin test --vcpu 0",
    "emulatorpin test",
    "emulatorpin test 0-2,^1 --config; emulatorpin test --config; emulatorpin test",
    "emulatorpin test 1 --live --config",
    "emulatorpin test ^1",
    "iothreadinfo test",
    "iothreadpin test 1 0",
    "numatune test",
    "numatune test --mode interleave",
    "numatune test --mode bogus",
    "numatune test --mode 7",
    "numatune test --mode preferred --nodeset 0,1 --config; numatune test --config",
    "numatune test --live --config",
    "destroy test; vcpupin test 0 1; vcpuinfo test; vcpupin test; emulatorpin test 1",
    "destroy test; vcpupin test 0 1 --current; vcpuinfo test --pretty",
];

#[test]
fn virsh_over_oxvirtd_matches_in_process_test_driver() {
    if !needs_virsh("virsh_over_oxvirtd_matches_in_process_test_driver") {
        return;
    }
    let mut same = 0;
    let mut differ = Vec::new();
    for line in CASES {
        let d = Daemon::start("node-calls");
        let args = [*line];
        let want = normalised(&virsh("test:///default", &args));
        let got = normalised(&virsh(&d.uri(), &args));
        if want == got {
            same += 1;
        } else {
            differ.push(format!("{line}:\n  virsh: {want:?}\n  oxvirtd: {got:?}"));
        }
    }
    eprintln!(
        "node calls: {same} of {} command lines identical",
        CASES.len()
    );
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}

fn test_dom(raw: &mut Raw) -> NonnullDomain {
    let p = raw.roundtrip(
        P::DomainLookupByName.number(),
        &DomainLookupByNameArgs {
            name: "test".into(),
        },
    );
    decode_from::<DomainLookupByNameRet>(&p.payload)
        .unwrap()
        .dom
}

fn ok<T: oxvirt_rpc::XdrDecode>(p: &oxvirt_rpc::Packet) -> T {
    assert_eq!(p.header.status, MessageStatus::Ok, "{:?}", error_parts(p));
    decode_from(&p.payload).unwrap()
}

#[test]
fn statistics_answer_the_count_first() {
    let d = Daemon::start("node-count");
    let mut raw = Raw::connect(&d.sock());
    raw.open();
    let count: NodeGetCpuStatsRet = ok(&raw.roundtrip(
        P::NodeGetCpuStats.number(),
        &NodeGetCpuStatsArgs {
            cpu_num: -1,
            nparams: 0,
            flags: 0,
        },
    ));
    assert_eq!((count.params.len(), count.nparams), (0, 4));
    let all: NodeGetCpuStatsRet = ok(&raw.roundtrip(
        P::NodeGetCpuStats.number(),
        &NodeGetCpuStatsArgs {
            cpu_num: -1,
            nparams: 4,
            flags: 0,
        },
    ));
    let fields: Vec<&str> = all.params.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(fields, ["user", "kernel", "idle", "iowait"]);
    assert_eq!(all.params[1].value, 34_678_723_400_000);
    let two: NodeGetCpuStatsRet = ok(&raw.roundtrip(
        P::NodeGetCpuStats.number(),
        &NodeGetCpuStatsArgs {
            cpu_num: 0,
            nparams: 2,
            flags: 0,
        },
    ));
    assert_eq!(two.params.len(), 2);

    let dom = test_dom(&mut raw);
    let count: DomainGetNumaParametersRet = ok(&raw.roundtrip(
        P::DomainGetNumaParameters.number(),
        &DomainGetNumaParametersArgs {
            dom: dom.clone(),
            nparams: 0,
            flags: 0,
        },
    ));
    assert_eq!((count.params.len(), count.nparams), (0, 2));
    // Without VIR_TYPED_PARAM_STRING_OKAY the nodeset (a string) is left out.
    let old: DomainGetNumaParametersRet = ok(&raw.roundtrip(
        P::DomainGetNumaParameters.number(),
        &DomainGetNumaParametersArgs {
            dom: dom.clone(),
            nparams: 2,
            flags: 0,
        },
    ));
    assert_eq!(old.params.len(), 1);
    assert_eq!(old.params[0].field, "numa_mode");
    let new: DomainGetNumaParametersRet = ok(&raw.roundtrip(
        P::DomainGetNumaParameters.number(),
        &DomainGetNumaParametersArgs {
            dom,
            nparams: 2,
            flags: 4,
        },
    ));
    assert_eq!(new.params.len(), 2);
}

#[test]
fn limits_and_maps_are_libvirtds() {
    let d = Daemon::start("node-limits");
    let mut raw = Raw::connect(&d.sock());
    raw.open();
    let p = raw.roundtrip(
        P::NodeGetCpuStats.number(),
        &NodeGetCpuStatsArgs {
            cpu_num: -1,
            nparams: 17,
            flags: 0,
        },
    );
    assert_eq!(error_parts(&p).2, "internal error: nparams too large");
    let p = raw.roundtrip(
        P::NodeGetCpuStats.number(),
        &NodeGetCpuStatsArgs {
            cpu_num: -2,
            nparams: 0,
            flags: 0,
        },
    );
    assert_eq!(
        error_parts(&p).2,
        "cpuNum in virNodeGetCPUStats only accepts -1 as a negative value"
    );
    let p = raw.roundtrip(
        P::NodeGetFreePages.number(),
        &NodeGetFreePagesArgs {
            pages: vec![4; 512],
            start_cell: 0,
            cell_count: 3,
            flags: 0,
        },
    );
    assert_eq!(
        error_parts(&p).2,
        "the result won't fit into REMOTE_NODE_MAX_CELLS"
    );
    let pages: NodeGetFreePagesRet = ok(&raw.roundtrip(
        P::NodeGetFreePages.number(),
        &NodeGetFreePagesArgs {
            pages: vec![4, 2048],
            start_cell: 0,
            cell_count: 2,
            flags: 0,
        },
    ));
    assert_eq!(pages.counts, [19, 45, 97, 201]);
    let map: NodeGetCpuMapRet = ok(&raw.roundtrip(
        P::NodeGetCpuMap.number(),
        &NodeGetCpuMapArgs {
            need_map: 1,
            need_online: 1,
            flags: 0,
        },
    ));
    assert_eq!((map.cpumap.0, map.online, map.ret), (vec![0x15], 3, 8));
    let bare: NodeGetCpuMapRet = ok(&raw.roundtrip(
        P::NodeGetCpuMap.number(),
        &NodeGetCpuMapArgs {
            need_map: 0,
            need_online: 0,
            flags: 0,
        },
    ));
    assert_eq!((bare.cpumap.0.len(), bare.online, bare.ret), (0, 0, 8));

    let dom = test_dom(&mut raw);
    let p = raw.roundtrip(
        P::DomainGetVcpus.number(),
        &DomainGetVcpusArgs {
            dom: dom.clone(),
            maxinfo: 16385,
            maplen: 1,
        },
    );
    assert_eq!(
        error_parts(&p).2,
        "internal error: maxinfo > REMOTE_VCPUINFO_MAX"
    );
    let p = raw.roundtrip(
        P::DomainGetVcpus.number(),
        &DomainGetVcpusArgs {
            dom: dom.clone(),
            maxinfo: 0,
            maplen: 1,
        },
    );
    assert_eq!(
        error_parts(&p).2,
        "maxinfo in virDomainGetVcpus must be greater than zero"
    );
    // The maps fill maxinfo * maplen bytes, as libvirtd sends them.
    let v: DomainGetVcpusRet = ok(&raw.roundtrip(
        P::DomainGetVcpus.number(),
        &DomainGetVcpusArgs {
            dom: dom.clone(),
            maxinfo: 4,
            maplen: 2,
        },
    ));
    assert_eq!(v.info.len(), 2);
    assert_eq!(v.info[1].number, 1);
    assert_eq!(v.info[1].cpu, 15);
    assert_eq!(v.cpumaps.0, [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
    let pins: DomainGetVcpuPinInfoRet = ok(&raw.roundtrip(
        P::DomainGetVcpuPinInfo.number(),
        &DomainGetVcpuPinInfoArgs {
            dom: dom.clone(),
            ncpumaps: 3,
            maplen: 1,
            flags: 0,
        },
    ));
    assert_eq!((pins.num, pins.cpumaps.0), (2, vec![0xff, 0xff, 0]));
    let p = raw.roundtrip(
        P::DomainGetVcpuPinInfo.number(),
        &DomainGetVcpuPinInfoArgs {
            dom: dom.clone(),
            ncpumaps: 2,
            maplen: 1,
            flags: 3,
        },
    );
    assert_eq!(
        error_parts(&p).2,
        "Flags 'VIR_DOMAIN_AFFECT_LIVE' and 'VIR_DOMAIN_AFFECT_CONFIG' are mutually exclusive"
    );
    let p = raw.roundtrip(
        P::DomainPinVcpuFlags.number(),
        &DomainPinVcpuFlagsArgs {
            dom,
            vcpu: 0,
            cpumap: Opaque(Vec::new()),
            flags: 0,
        },
    );
    assert_eq!(
        error_parts(&p).2,
        "maplen in virDomainPinVcpuFlags must be greater than zero"
    );
}

#[test]
fn pinning_is_refused_read_only() {
    let d = Daemon::start("node-ro");
    let mut raw = Raw::connect(&d.ro_sock());
    raw.open_flags(1);
    let dom = test_dom(&mut raw);
    let map = || Opaque(vec![1]);
    let calls: Vec<(P, Vec<u8>, &str)> = vec![
        (
            P::DomainPinVcpu,
            oxvirt_rpc::xdr::encode_to_vec(&DomainPinVcpuArgs {
                dom: dom.clone(),
                vcpu: 0,
                cpumap: map(),
            }),
            "virDomainPinVcpu",
        ),
        (
            P::DomainPinVcpuFlags,
            oxvirt_rpc::xdr::encode_to_vec(&DomainPinVcpuFlagsArgs {
                dom: dom.clone(),
                vcpu: 0,
                cpumap: map(),
                flags: 0,
            }),
            "virDomainPinVcpuFlags",
        ),
        (
            P::DomainPinEmulator,
            oxvirt_rpc::xdr::encode_to_vec(&DomainPinEmulatorArgs {
                dom: dom.clone(),
                cpumap: map(),
                flags: 0,
            }),
            "virDomainPinEmulator",
        ),
        (
            P::DomainPinIothread,
            oxvirt_rpc::xdr::encode_to_vec(&DomainPinIothreadArgs {
                dom: dom.clone(),
                iothreads_id: 1,
                cpumap: map(),
                flags: 0,
            }),
            "virDomainPinIOThread",
        ),
        (
            P::DomainSetNumaParameters,
            oxvirt_rpc::xdr::encode_to_vec(&DomainSetNumaParametersArgs {
                dom: dom.clone(),
                params: vec![TypedParam::new("numa_mode", TypedParamValue::Int(0))],
                flags: 0,
            }),
            "virDomainSetNumaParameters",
        ),
    ];
    for (procedure, payload, function) in calls {
        let p = raw.roundtrip(procedure.number(), &common::RawBytes(payload));
        assert_eq!(
            error_parts(&p).2,
            format!("operation forbidden: read only access prevents {function}"),
            "{procedure:?}"
        );
    }
    // Reading is allowed.
    let info: DomainGetEmulatorPinInfoRet = ok(&raw.roundtrip(
        P::DomainGetEmulatorPinInfo.number(),
        &DomainGetEmulatorPinInfoArgs {
            dom,
            maplen: 1,
            flags: 0,
        },
    ));
    assert_eq!((info.ret, info.cpumaps.0), (1, vec![0xff]));
}

/// python3-libvirt's calls (libvirt's C client: count-first statistics, maplen-sized
/// maps, typed parameters), printed one per line with errors as code, domain, message.
const PY_CALLS: &str = r#"
import sys, libvirt
libvirt.registerErrorHandler(lambda *a: None, None)
c = libvirt.open(sys.argv[1])
d = c.lookupByName('test')
def t(name, f):
    try: print(name, repr(f()))
    except libvirt.libvirtError as e:
        print(name, 'ERR', e.get_error_code(), e.get_error_domain(), e.get_error_message())
t('cpustats', lambda: c.getCPUStats(-1))
t('cpustats0', lambda: c.getCPUStats(0))
t('cpustats-5', lambda: c.getCPUStats(-5))
t('memstats', lambda: c.getMemoryStats(-1))
t('cpumap', lambda: c.getCPUMap())
t('cellsfree', lambda: c.getCellsFreeMemory(0, 2))
t('domcaps', lambda: c.getDomainCapabilities())
t('vcpus', lambda: d.vcpus()[1])
t('vcpupininfo', lambda: d.vcpuPinInfo(0))
t('pinvcpu', lambda: d.pinVcpu(1, (True, False, True)))
t('pinvcpuflags', lambda: d.pinVcpuFlags(0, (False, True), 0))
t('vcpupininfo2', lambda: d.vcpuPinInfo(0))
t('emupininfo', lambda: d.emulatorPinInfo(0))
t('pinemu', lambda: d.pinEmulator((True, True), 2))
t('emupininfo2', lambda: d.emulatorPinInfo(2))
t('emupininfo-both', lambda: d.emulatorPinInfo(3))
t('iothreads', lambda: d.ioThreadInfo(0))
t('piniothread', lambda: d.pinIOThread(1, (True,), 0))
t('numa', lambda: d.numaParameters(0))
t('setnuma', lambda: d.setNumaParameters({'numa_nodeset': '1', 'numa_mode': 2}, 0))
t('numa2', lambda: d.numaParameters(0))
t('numa-both', lambda: d.numaParameters(3))
"#;

#[test]
fn python_libvirt_over_oxvirtd_matches_in_process_test_driver() {
    if !needs_python_libvirt("python_libvirt_over_oxvirtd_matches_in_process_test_driver") {
        return;
    }
    let d = Daemon::start("node-python");
    let want = python(PY_CALLS, &["test:///default"]);
    let got = python(PY_CALLS, &[&d.uri()]);
    let text = |o: &Output| String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        want.status.success(),
        "{}",
        String::from_utf8_lossy(&want.stderr)
    );
    assert_eq!(text(&got), text(&want));
    assert!(text(&got).contains("cpustats {'user': 9797400000, 'kernel': 34678723400000"));
    assert!(text(&got).contains("numa2 {'numa_mode': 2, 'numa_nodeset': '1'}"));
}
