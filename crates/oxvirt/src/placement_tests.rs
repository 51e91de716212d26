//! The placement calls' public-API checks, made before the driver, and their answers
//! from libvirt's test driver.

use oxvirt_domain::driver::{CpuMap, TypedParam, TypedValue};
use oxvirt_xml::{ErrorCode, ErrorDomain};

use crate::Connect;

#[tokio::test]
async fn arguments_are_checked_as_libvirts_public_api() {
    let conn = Connect::open("test:///default").await.unwrap();
    let dom = conn.lookup_domain_by_name("test").await.unwrap();
    let err = conn.node_cpu_stats(-2, 0).await.unwrap_err();
    assert_eq!(
        (err.code, err.domain, err.message.as_str()),
        (
            ErrorCode::InvalidArg,
            ErrorDomain::Domain,
            "cpuNum in virNodeGetCPUStats only accepts -1 as a negative value"
        )
    );
    let err = conn.node_memory_stats(-3, 0).await.unwrap_err();
    assert_eq!(
        err.message,
        "cellNum in virNodeGetMemoryStats only accepts -1 as a negative value"
    );
    let err = conn.node_free_pages(&[], 0, 1, 0).await.unwrap_err();
    assert_eq!(
        err.message,
        "npages in virNodeGetFreePages must not be zero"
    );
    let err = conn.node_free_pages(&[4], 0, 0, 0).await.unwrap_err();
    assert_eq!(
        err.message,
        "cellCount in virNodeGetFreePages must not be zero"
    );
    let err = dom.vcpu_info(0, 1).await.unwrap_err();
    assert_eq!(
        err.message,
        "maxinfo in virDomainGetVcpus must be greater than zero"
    );
    let err = dom.vcpu_pin_info(2, 0, 0).await.unwrap_err();
    assert_eq!(
        err.message,
        "maplen in virDomainGetVcpuPinInfo must be greater than zero"
    );
    let err = dom.emulator_pin_info(1, 3).await.unwrap_err();
    assert_eq!(
        err.message,
        "Flags 'VIR_DOMAIN_AFFECT_LIVE' and 'VIR_DOMAIN_AFFECT_CONFIG' are mutually exclusive"
    );
    let err = dom
        .pin_vcpu_flags(0, &CpuMap(Vec::new()), 0)
        .await
        .unwrap_err();
    assert_eq!(
        err.message,
        "maplen in virDomainPinVcpuFlags must be greater than zero"
    );
    let err = dom.pin_vcpu(70000, &CpuMap(vec![1])).await.unwrap_err();
    assert_eq!(
        (err.code, err.message.as_str()),
        (
            ErrorCode::Overflow,
            "numerical overflow: input too large: 70000"
        )
    );
    let err = dom.set_numa_parameters(&[], 0).await.unwrap_err();
    assert_eq!(
        err.message,
        "nparams in virDomainSetNumaParameters must be greater than zero"
    );
}

#[tokio::test]
async fn read_only_connections_cannot_pin() {
    let conn = Connect::open_read_only("test:///default").await.unwrap();
    let dom = conn.lookup_domain_by_name("test").await.unwrap();
    let map = CpuMap(vec![1]);
    let denied = |e: oxvirt_xml::VirError| (e.code, e.message);
    let want = |f: &str| {
        (
            ErrorCode::OperationDenied,
            format!("operation forbidden: read only access prevents {f}"),
        )
    };
    assert_eq!(
        denied(dom.pin_vcpu(0, &map).await.unwrap_err()),
        want("virDomainPinVcpu")
    );
    assert_eq!(
        denied(dom.pin_emulator(&map, 0).await.unwrap_err()),
        want("virDomainPinEmulator")
    );
    assert_eq!(
        denied(dom.pin_iothread(1, &map, 0).await.unwrap_err()),
        want("virDomainPinIOThread")
    );
    let p = [TypedParam::new("numa_mode", TypedValue::Int(0))];
    assert_eq!(
        denied(dom.set_numa_parameters(&p, 0).await.unwrap_err()),
        want("virDomainSetNumaParameters")
    );
    // reading is allowed
    assert_eq!(
        dom.emulator_pin_info(1, 0).await.unwrap(),
        CpuMap(vec![0xff])
    );
}

#[tokio::test]
async fn test_driver_answers_as_libvirts() {
    let conn = Connect::open("test:///default").await.unwrap();
    let dom = conn.lookup_domain_by_name("test").await.unwrap();
    let stats = conn.node_cpu_stats(-1, 0).await.unwrap();
    assert_eq!(stats.len(), 4);
    assert_eq!(
        conn.node_free_pages(&[4, 8], 1, 1, 0).await.unwrap(),
        [19, 45]
    );
    let m = conn.node_cpu_map(0).await.unwrap();
    assert_eq!(
        (m.cpus, m.online, m.online_map.cpus()),
        (8, 3, vec![0, 2, 4])
    );
    let (info, maps) = dom.vcpu_info(8, 2).await.unwrap();
    assert_eq!(info.len(), 2);
    assert_eq!((info[0].state, info[0].cpu), (1, 15));
    assert_eq!(maps[1], CpuMap(vec![0xff, 0xff]));
    dom.pin_vcpu(1, &CpuMap(vec![0b110])).await.unwrap();
    let pins = dom.vcpu_pin_info(2, 1, 0).await.unwrap();
    assert_eq!(pins, [CpuMap(vec![0xff]), CpuMap(vec![0b110])]);
    let p = [
        TypedParam::new("numa_nodeset", TypedValue::String("1".into())),
        TypedParam::new("numa_mode", TypedValue::Int(2)),
    ];
    dom.set_numa_parameters(&p, 0).await.unwrap();
    let got = dom.numa_parameters(0).await.unwrap();
    assert_eq!(got[0].value, TypedValue::Int(2));
    assert_eq!(got[1].value, TypedValue::String("1".into()));
    let err = dom.pin_iothread(1, &CpuMap(vec![1]), 0).await.unwrap_err();
    assert_eq!(err.message, "invalid argument: iothreadid 1 not found");
}
