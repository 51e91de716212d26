use oxvirt_domain::driver::flags::metadata;
use oxvirt_domain::driver::{EventKind, Hypervisor};
use oxvirt_xml::{ErrorCode, ErrorDomain};

use super::{default_conn, dom_xml, drain, err};

#[tokio::test]
async fn vcpus_inactive() {
    let conn = default_conn();
    let d = conn.define_xml(&dom_xml("d1", 1), 0).await.unwrap();
    assert_eq!(conn.vcpus(&d, 0).await.unwrap(), 2);
    assert_eq!(conn.vcpus(&d, 4).await.unwrap(), 4);
    assert_eq!(conn.vcpus(&d, 2).await.unwrap(), 2);
    let not_running = (
        ErrorCode::OperationInvalid,
        ErrorDomain::Domain,
        "Requested operation is not valid: domain is not running".to_string(),
    );
    assert_eq!(err(conn.vcpus(&d, 1).await), not_running);
    assert_eq!(
        err(conn.vcpus(&d, 3).await),
        (
            ErrorCode::InvalidArg,
            ErrorDomain::Domain,
            "Flags 'VIR_DOMAIN_AFFECT_LIVE' and 'VIR_DOMAIN_AFFECT_CONFIG' are mutually exclusive"
                .into()
        )
    );
    assert_eq!(
        err(conn.vcpus(&d, 8).await).2,
        "unsupported flags (0x8) in function testDomainGetVcpusFlags"
    );
    conn.set_vcpus(&d, 3, 0).await.unwrap();
    assert_eq!(
        err(conn.set_vcpus(&d, 5, 0).await),
        (
            ErrorCode::InvalidArg,
            ErrorDomain::Test,
            "invalid argument: requested cpu amount exceeds maximum (5 > 4)".into()
        )
    );
    assert_eq!(
        err(conn.set_vcpus(&d, 33, 0).await).2,
        "invalid argument: requested cpu amount exceeds maximum supported amount (33 > 32)"
    );
    assert_eq!(
        err(conn.set_vcpus(&d, 0, 0).await),
        (
            ErrorCode::InvalidArg,
            ErrorDomain::Domain,
            "nvcpus in virDomainSetVcpusFlags must not be zero".into()
        )
    );
    assert_eq!(
        err(conn.set_vcpus(&d, 6, 4).await).2,
        "Flag 'VIR_DOMAIN_AFFECT_CONFIG' is required by flag 'VIR_DOMAIN_VCPU_MAXIMUM'"
    );
    assert_eq!(err(conn.set_vcpus(&d, 1, 1).await), not_running);
    assert_eq!(
        err(conn.set_vcpus(&d, 1, 16).await).2,
        "unsupported flags (0x10) in function testDomainSetVcpusFlags"
    );
    assert!(conn
        .xml_desc(&d, 0)
        .await
        .unwrap()
        .contains("<vcpu placement='static' current='3'>4</vcpu>"));
    conn.set_vcpus(&d, 1, 6).await.unwrap();
    assert!(conn
        .xml_desc(&d, 0)
        .await
        .unwrap()
        .contains("<vcpu placement='static'>1</vcpu>"));
    conn.set_vcpus(&d, 8, 6).await.unwrap();
    assert!(conn
        .xml_desc(&d, 0)
        .await
        .unwrap()
        .contains("<vcpu placement='static' current='1'>8</vcpu>"));
}

#[tokio::test]
async fn vcpus_running() {
    let conn = default_conn();
    let d = conn.define_xml(&dom_xml("d1", 1), 0).await.unwrap();
    let d = conn.create(&d, 0).await.unwrap();
    conn.set_vcpus(&d, 3, 1).await.unwrap();
    assert_eq!(conn.vcpus(&d, 1).await.unwrap(), 3);
    assert_eq!(conn.vcpus(&d, 2).await.unwrap(), 2);
    // The maximum with both: the live definition gets 3 online, the persistent a maximum
    // of 3.
    conn.set_vcpus(&d, 3, 7).await.unwrap();
    assert_eq!(conn.vcpus(&d, 6).await.unwrap(), 3);
    assert_eq!(conn.vcpus(&d, 5).await.unwrap(), 4);
    assert_eq!(
        err(conn.set_vcpus(&d, 4, 2).await).2,
        "invalid argument: requested cpu amount exceeds maximum (4 > 3)"
    );
    conn.set_vcpus(&d, 3, 3).await.unwrap();
    assert_eq!(conn.info(&d).await.unwrap().nr_virt_cpu, 3);
    assert!(conn
        .xml_desc(&d, 2)
        .await
        .unwrap()
        .contains("<vcpu placement='static'>3</vcpu>"));
}

#[tokio::test]
async fn memory() {
    let conn = default_conn();
    let d = conn.define_xml(&dom_xml("d1", 1), 0).await.unwrap();
    let d = conn.create(&d, 0).await.unwrap();
    assert_eq!(
        err(conn.set_memory(&d, 2097152, 0).await),
        (
            ErrorCode::InvalidArg,
            ErrorDomain::Test,
            "invalid argument: cannot set memory higher than max memory".into()
        )
    );
    conn.set_memory(&d, 524288, 0).await.unwrap();
    assert_eq!(conn.info(&d).await.unwrap().memory_kib, 524288);
    let no_max = (
        ErrorCode::OperationInvalid,
        ErrorDomain::Test,
        "Requested operation is not valid: cannot resize the maximum memory on an active domain"
            .to_string(),
    );
    assert_eq!(err(conn.set_memory(&d, 524288, 5).await), no_max);
    assert_eq!(err(conn.set_memory(&d, 524288, 4).await), no_max);
    conn.set_memory(&d, 262144, 2).await.unwrap();
    assert!(conn
        .xml_desc(&d, 2)
        .await
        .unwrap()
        .contains("<currentMemory unit='KiB'>262144</currentMemory>"));
    assert_eq!(
        err(conn.set_memory(&d, 262144, 3).await).2,
        "Flags 'VIR_DOMAIN_AFFECT_LIVE' and 'VIR_DOMAIN_AFFECT_CONFIG' are mutually exclusive"
    );
    assert_eq!(
        err(conn.set_memory(&d, 262144, 8).await).2,
        "unsupported flags (0x8) in function testDomainSetMemoryFlags"
    );
    assert_eq!(
        err(conn.set_memory(&d, 0, 0).await),
        (
            ErrorCode::InvalidArg,
            ErrorDomain::Domain,
            "memory in virDomainSetMemoryFlags must not be zero".into()
        )
    );
    assert_eq!(
        err(conn.set_memory(&d, 1 << 60, 4).await),
        (
            ErrorCode::Overflow,
            ErrorDomain::Domain,
            "numerical overflow: input too large: 1152921504606846976".into()
        )
    );
    conn.destroy(&d, 0).await.unwrap();
    conn.set_memory(&d, 100, 4).await.unwrap();
    let info = conn.info(&d).await.unwrap();
    assert_eq!((info.max_mem_kib, info.memory_kib), (100, 100));
    assert_eq!(
        err(conn.set_memory(&d, 100, 1).await).2,
        "Requested operation is not valid: domain is not running"
    );
    // No event for any of it.
    let mut rx = conn.subscribe();
    conn.set_memory(&d, 50, 0).await.unwrap();
    assert!(drain(&mut rx).is_empty());
}

#[tokio::test]
async fn autostart_has_no_event() {
    let conn = default_conn();
    let mut rx = conn.subscribe();
    let d = conn.lookup_by_name("test").await.unwrap();
    conn.set_autostart(&d, true).await.unwrap();
    assert!(conn.autostart(&d).await.unwrap());
    assert!(drain(&mut rx).is_empty());
}

#[tokio::test]
async fn metadata_flags_and_events() {
    let conn = default_conn();
    let d = conn.lookup_by_name("test").await.unwrap();
    assert_eq!(
        err(conn
            .set_metadata(&d, metadata::TITLE, Some("x"), None, None, 4)
            .await)
        .2,
        "unsupported flags (0x4) in function testDomainSetMetadata"
    );
    assert_eq!(
        err(conn.metadata(&d, metadata::TITLE, None, 4).await).2,
        "unsupported flags (0x4) in function testDomainGetMetadata"
    );
    assert_eq!(
        err(conn.metadata(&d, metadata::TITLE, None, 3).await).2,
        "Flags 'VIR_DOMAIN_AFFECT_LIVE' and 'VIR_DOMAIN_AFFECT_CONFIG' are mutually exclusive"
    );
    let t = conn.create_xml(&dom_xml("t", 2), 0).await.unwrap();
    assert_eq!(
        err(conn
            .set_metadata(&t, metadata::TITLE, Some("x"), None, None, 2)
            .await)
        .2,
        "Requested operation is not valid: transient domains do not have any persistent config"
    );
    let mut rx = conn.subscribe();
    conn.set_metadata(&d, metadata::TITLE, Some("hello"), None, None, 0)
        .await
        .unwrap();
    let events = drain(&mut rx);
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0].kind,
        EventKind::MetadataChange {
            kind: metadata::TITLE,
            nsuri: None
        }
    );
    assert_eq!(
        conn.metadata(&d, metadata::TITLE, None, 0).await.unwrap(),
        "hello"
    );
    assert_eq!(
        err(conn.metadata(&d, metadata::DESCRIPTION, None, 0).await),
        (
            ErrorCode::NoDomainMetadata,
            ErrorDomain::Domain,
            "metadata not found: Requested metadata element is not present".into()
        )
    );
}
