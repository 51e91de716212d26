use oxvirt_domain::driver::flags::list;
use oxvirt_domain::driver::{DomainState, Hypervisor};
use oxvirt_xml::types::Uuid;
use oxvirt_xml::{ErrorCode, ErrorDomain};

use super::{default_conn, dom_xml, err};

#[tokio::test]
async fn lookups_find_by_name_uuid_and_id() {
    let conn = default_conn();
    let by_name = conn.lookup_by_name("test").await.unwrap();
    let uuid: Uuid = "6695eb01-f6a4-8304-79aa-97f2502e193f".parse().unwrap();
    assert_eq!((by_name.uuid, by_name.id), (uuid, 1));
    assert_eq!(conn.lookup_by_uuid(&uuid).await.unwrap(), by_name);
    assert_eq!(conn.lookup_by_id(1).await.unwrap(), by_name);
    let not_found = (
        ErrorCode::NoDomain,
        ErrorDomain::Test,
        "Domain not found".to_string(),
    );
    assert_eq!(err(conn.lookup_by_name("nope").await), not_found);
    assert_eq!(err(conn.lookup_by_id(99).await), not_found);
    assert_eq!(
        err(conn.lookup_by_uuid(&Uuid::from([7; 16])).await),
        not_found
    );
    // An inactive domain has no ID to be found by.
    conn.define_xml(&dom_xml("d1", 1), 0).await.unwrap();
    assert_eq!(err(conn.lookup_by_id(-1).await), not_found);
}

#[tokio::test]
async fn list_all_filters() {
    let conn = default_conn();
    let d = conn.define_xml(&dom_xml("d1", 1), 0).await.unwrap();
    conn.set_autostart(&d, true).await.unwrap();
    let names = |flags: u32| {
        let conn = conn.clone();
        async move {
            conn.list_all(flags)
                .await
                .unwrap()
                .into_iter()
                .map(|d| (d.name, d.id))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(names(0).await, [("test".into(), 1), ("d1".into(), -1)]);
    assert_eq!(names(list::ACTIVE).await, [("test".into(), 1)]);
    assert_eq!(names(list::INACTIVE).await, [("d1".into(), -1)]);
    assert_eq!(names(list::AUTOSTART).await, [("d1".into(), -1)]);
    assert_eq!(names(list::NO_AUTOSTART).await, [("test".into(), 1)]);
    assert_eq!(
        names(list::SHUTOFF | list::PAUSED).await,
        [("d1".into(), -1)]
    );
    assert_eq!(names(list::TRANSIENT).await, []);
    assert_eq!(conn.list_ids(), [1]);
    assert_eq!(conn.list_defined(), ["d1"]);
    assert_eq!(
        err(conn.list_all(1 << 20).await),
        (
            ErrorCode::InvalidArg,
            ErrorDomain::Test,
            "unsupported flags (0x100000) in function \
             testConnectListAllDomains"
                .into()
        )
    );
}

#[tokio::test]
async fn info_of_the_default_domain() {
    let conn = default_conn();
    let d = conn.lookup_by_name("test").await.unwrap();
    let before = crate::query::fake_cpu_time();
    let info = conn.info(&d).await.unwrap();
    assert_eq!(
        (
            info.state,
            info.max_mem_kib,
            info.memory_kib,
            info.nr_virt_cpu
        ),
        (DomainState::Running, 8388608, 2097152, 2)
    );
    // The wall clock in microseconds times 1000.
    assert!(info.cpu_time_ns >= before && info.cpu_time_ns % 1000 == 0);
    assert_eq!(conn.os_type(&d).await.unwrap(), "linux");
    assert_eq!(conn.max_memory(&d).await.unwrap(), 8388608);
    assert!(!conn.is_updated(&d).await.unwrap());
    assert!(!conn.autostart(&d).await.unwrap());
    let label = conn.security_label(&d).await.unwrap();
    assert_eq!(
        (label.label.as_str(), label.enforcing),
        ("libvirt-test", true)
    );
    conn.destroy(&d, 0).await.unwrap();
    assert_eq!(conn.security_label(&d).await.unwrap(), Default::default());
}

#[tokio::test]
async fn xml_flags() {
    let conn = default_conn();
    let d = conn.lookup_by_name("test").await.unwrap();
    let live = conn.xml_desc(&d, 0).await.unwrap();
    assert!(live.starts_with("<domain type='test' id='1'>\n"));
    let inactive = conn.xml_desc(&d, 2).await.unwrap();
    assert!(inactive.starts_with("<domain type='test'>\n"));
    assert_eq!(conn.xml_desc(&d, 8).await.unwrap(), live);
    assert_eq!(
        err(conn.xml_desc(&d, 4).await).2,
        "unsupported flags (0x4) in function testDomainGetXMLDesc"
    );
    let g = dom_xml("g", 6).replace(
        "</os>",
        "</os><devices><graphics type='vnc' port='5900' passwd='secret'/></devices>",
    );
    let g = conn.define_xml(&g, 0).await.unwrap();
    assert!(!conn.xml_desc(&g, 0).await.unwrap().contains("passwd"));
    assert!(conn
        .xml_desc(&g, 1)
        .await
        .unwrap()
        .contains("passwd='secret'"));
}
