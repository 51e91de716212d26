//! Opening connections, the read-only gate and events, over the fake driver.

use super::*;
use crate::testing::{fake_connect, fake_pair};
use crate::{flags, DomainEvent, EventKind, Lifecycle};
use oxvirt_domain::driver::event::{StartedDetail, StoppedDetail};

fn err_of<T: std::fmt::Debug>(result: Result<T>) -> (ErrorCode, ErrorDomain, String) {
    let err = result.unwrap_err();
    (err.code, err.domain, err.message)
}

#[tokio::test]
async fn open_refuses_what_libvirt_refuses() {
    assert_eq!(
        err_of(Connect::open("te st://").await),
        (
            ErrorCode::InternalError,
            ErrorDomain::Uri,
            "internal error: Unable to parse URI te st://".into()
        )
    );
    assert_eq!(
        err_of(Connect::open("test").await),
        (
            ErrorCode::NoConnect,
            ErrorDomain::None,
            "no connection driver available for URI 'test' does not include a driver name".into()
        )
    );
    assert_eq!(
        err_of(Connect::open("qemu://system").await),
        (
            ErrorCode::InternalError,
            ErrorDomain::None,
            "internal error: invalid URI qemu://system (maybe you want qemu:///system)".into()
        )
    );
    assert_eq!(
        err_of(Connect::open("test:///").await),
        (
            ErrorCode::InvalidArg,
            ErrorDomain::Test,
            "invalid argument: testOpen: supply a path or use test:///default".into()
        )
    );
    assert_eq!(
        err_of(Connect::open("test:").await).2,
        "invalid argument: testOpen: supply a path or use test:///default"
    );
}

#[tokio::test]
async fn uris_for_a_daemon_fail_with_the_remote_drivers_errors() {
    let missing = "/nonexistent/oxvirt-test.sock";
    for (uri, code, domain, message) in [
        // ssh as libvirt spawns it: a command not in $PATH, one that cannot run.
        (
            "qemu+ssh://root@host:2222/system?keyfile=/k&no_verify=1&command=oxvirt-no-ssh"
                .to_owned(),
            ErrorCode::SystemError,
            ErrorDomain::None,
            "Cannot find 'oxvirt-no-ssh' in path: No such file or directory".to_owned(),
        ),
        (
            "qemu+ssh://root@host:2222/system?command=/nonexistent/ssh".to_owned(),
            ErrorCode::SystemError,
            ErrorDomain::Rpc,
            "Cannot recv data: libvirt:  error : cannot execute binary /nonexistent/ssh: \
             No such file or directory: Connection reset by peer"
                .to_owned(),
        ),
        // A host without a transport means TLS (virsh's words for a missing CA file).
        (
            "test://host/default?pkipath=/nonexistent-oxvirt".to_owned(),
            ErrorCode::SystemError,
            ErrorDomain::Rpc,
            "Cannot read CA certificate '/nonexistent-oxvirt/cacert.pem': No such file or directory"
                .to_owned(),
        ),
        (
            format!("qemu+unix:///system?socket={missing}"),
            ErrorCode::SystemError,
            ErrorDomain::Rpc,
            format!("Failed to connect socket to '{missing}': No such file or directory"),
        ),
        (
            format!("test+unix:///default?socket={missing}"),
            ErrorCode::SystemError,
            ErrorDomain::Rpc,
            format!("Failed to connect socket to '{missing}': No such file or directory"),
        ),
    ] {
        assert_eq!(
            err_of(Connect::open_read_only(&uri).await),
            (code, domain, message),
            "{uri}"
        );
    }
}

#[test]
fn the_default_uri_comes_from_the_environment_first() {
    assert_eq!(resolve_default("test:///default"), "test:///default");
    std::env::set_var(DEFAULT_URI_ENV, "test:///tmp/node.xml");
    assert_eq!(resolve_default(""), "test:///tmp/node.xml");
    std::env::set_var(DEFAULT_URI_ENV, "");
    assert!(matches!(
        resolve_default("").as_str(),
        "qemu:///system" | "qemu:///session"
    ));
    std::env::remove_var(DEFAULT_URI_ENV);
}

#[test]
fn versions() {
    let conn = fake_connect(false);
    assert_eq!(conn.lib_version(), 1_000);
    assert_eq!(LIBVIRT_API_VERSION, 9_000_000);
    assert_eq!(conn.hypervisor_type(), "FAKE");
    assert_eq!(conn.uri(), "test:///fake");
    assert!(!conn.is_read_only());
    assert!(conn.same_connection(&conn.clone()));
    assert!(!conn.same_connection(&fake_connect(false)));
}

#[tokio::test]
async fn lookups_check_their_arguments_before_the_driver() {
    let (conn, driver) = fake_pair(false);
    assert_eq!(
        err_of(conn.lookup_domain_by_uuid_string("zz").await),
        (
            ErrorCode::InvalidArg,
            ErrorDomain::Domain,
            "Invalid UUID".into()
        )
    );
    assert_eq!(
        err_of(conn.lookup_domain_by_id(-1).await),
        (
            ErrorCode::InvalidArg,
            ErrorDomain::Domain,
            "id in virDomainLookupByID must be zero or greater".into()
        )
    );
    assert!(driver.calls().is_empty());
    let dom = conn
        .lookup_domain_by_uuid_string("01010101-0101-0101-0101-010101010101")
        .await
        .unwrap();
    assert_eq!((dom.name(), dom.id()), ("test", Some(1)));
    let dom = conn.lookup_domain_by_id(1).await.unwrap();
    assert_eq!(dom.uuid_string(), "01010101-0101-0101-0101-010101010101");
    assert_eq!(
        err_of(conn.lookup_domain_by_name("nope").await),
        (
            ErrorCode::NoDomain,
            ErrorDomain::Test,
            "Domain not found".into()
        )
    );
    let names: Vec<String> = conn
        .list_all_domains(0)
        .await
        .unwrap()
        .iter()
        .map(|d| d.name().to_owned())
        .collect();
    assert_eq!(names, ["test", "idle"]);
}

fn denied(function: &str) -> String {
    format!("operation forbidden: read only access prevents {function}")
}

#[tokio::test]
async fn read_only_connections_refuse_every_change_before_the_driver() {
    let (conn, driver) = fake_pair(true);
    let dom = conn.lookup_domain_by_name("test").await.unwrap();
    let cases: Vec<(&str, Result<()>)> = vec![
        ("virDomainCreate", dom.create(0).await),
        (
            "virDomainCreateWithFlags",
            dom.create(flags::create::PAUSED).await,
        ),
        ("virDomainDestroy", dom.destroy(0).await),
        (
            "virDomainDestroyFlags",
            dom.destroy(flags::destroy::GRACEFUL).await,
        ),
        ("virDomainShutdown", dom.shutdown(0).await),
        (
            "virDomainShutdownFlags",
            dom.shutdown(flags::shutdown::ACPI_POWER_BTN).await,
        ),
        ("virDomainReboot", dom.reboot(0).await),
        ("virDomainReset", dom.reset(0).await),
        ("virDomainSuspend", dom.suspend().await),
        ("virDomainResume", dom.resume().await),
        ("virDomainSave", dom.save("/x", None, 0).await),
        (
            "virDomainSaveFlags",
            dom.save("/x", Some("<domain/>"), 0).await,
        ),
        ("virDomainManagedSave", dom.managed_save(0).await),
        (
            "virDomainManagedSaveRemove",
            dom.managed_save_remove(0).await,
        ),
        ("virDomainUndefine", dom.undefine(0).await),
        (
            "virDomainUndefineFlags",
            dom.undefine(flags::undefine::NVRAM).await,
        ),
        ("virDomainSetAutostart", dom.set_autostart(true).await),
        ("virDomainSetMemory", dom.set_memory(1024).await),
        ("virDomainSetMaxMemory", dom.set_max_memory(1024).await),
        (
            "virDomainSetMemoryFlags",
            dom.set_memory_flags(1024, flags::affect::CONFIG).await,
        ),
        ("virDomainSetVcpus", dom.set_vcpus(1).await),
        (
            "virDomainSetVcpusFlags",
            dom.set_vcpus_flags(1, flags::affect::LIVE).await,
        ),
        (
            "virDomainGetVcpusFlags",
            dom.vcpus(flags::vcpu::GUEST).await.map(drop),
        ),
        ("virDomainAttachDevice", dom.attach_device("<disk/>").await),
        (
            "virDomainAttachDeviceFlags",
            dom.attach_device_flags("<disk/>", 2).await,
        ),
        ("virDomainDetachDevice", dom.detach_device("<disk/>").await),
        (
            "virDomainDetachDeviceFlags",
            dom.detach_device_flags("<disk/>", 2).await,
        ),
        (
            "virDomainUpdateDeviceFlags",
            dom.update_device("<disk/>", 0).await,
        ),
        (
            "virDomainSetMetadata",
            dom.set_metadata(0, Some("d"), None, None, 0).await,
        ),
        (
            "virDomainDefineXML",
            conn.define_domain_xml("<domain/>", 0).await.map(drop),
        ),
        (
            "virDomainDefineXMLFlags",
            conn.define_domain_xml("<domain/>", 1).await.map(drop),
        ),
        (
            "virDomainCreateXML",
            conn.create_domain_xml("<domain/>", 0).await.map(drop),
        ),
        ("virDomainRestore", conn.restore_domain("/x", None, 0).await),
        (
            "virDomainRestoreFlags",
            conn.restore_domain("/x", None, 2).await,
        ),
        (
            "virDomainSaveImageGetXMLDesc",
            conn.save_image_xml("/x", 0).await.map(drop),
        ),
    ];
    for (function, result) in cases {
        assert_eq!(
            err_of(result),
            (
                ErrorCode::OperationDenied,
                ErrorDomain::Domain,
                denied(function)
            )
        );
    }
    let err = err_of(dom.snapshot_create_xml("<domainsnapshot/>", 0).await);
    assert_eq!(
        err,
        (
            ErrorCode::OperationDenied,
            ErrorDomain::DomainSnapshot,
            denied("virDomainSnapshotCreateXML")
        )
    );
    assert_eq!(
        err_of(dom.xml_desc(flags::xml::SECURE).await),
        (
            ErrorCode::OperationDenied,
            ErrorDomain::Domain,
            "operation forbidden: virDomainGetXMLDesc with secure flag".into()
        )
    );
    assert_eq!(driver.calls(), ["lookup_by_name"]);
    // Reading is allowed, and the handle is untouched.
    assert!(dom.xml_desc(0).await.unwrap().contains("<name>test</name>"));
    assert_eq!(dom.id(), Some(1));
}

#[tokio::test]
async fn events_arrive_in_order_and_only_after_subscribing() {
    let (conn, driver) = fake_pair(false);
    let dom = conn.lookup_domain_by_name("test").await.unwrap();
    dom.suspend().await.unwrap();
    let mut events = conn.events();
    assert_eq!(events.try_next(), None);
    dom.destroy(0).await.unwrap();
    dom.create(0).await.unwrap();
    let idle = conn.lookup_domain_by_name("idle").await.unwrap();
    driver.emit(DomainEvent {
        domain: idle.to_ref(),
        kind: EventKind::Reboot,
    });
    let first = events.next().await.unwrap();
    assert_eq!(first.domain.name, "test");
    assert_eq!(first.domain.id, 1);
    assert_eq!(
        first.kind,
        EventKind::Lifecycle(Lifecycle::Stopped(StoppedDetail::Destroyed))
    );
    let second = events.next().await.unwrap();
    assert_eq!(second.domain.id, 2);
    assert_eq!(
        second.kind,
        EventKind::Lifecycle(Lifecycle::Started(StartedDetail::Booted))
    );
    let third = events.try_next().unwrap();
    assert_eq!(
        (third.domain.name.as_str(), third.kind),
        ("idle", EventKind::Reboot)
    );
    assert_eq!(events.try_next(), None);
    // An event's domain becomes a handle on the connection.
    assert_eq!(conn.domain(second.domain).id(), Some(2));
}

#[tokio::test]
async fn read_only_connections_get_events() {
    let (conn, driver) = fake_pair(true);
    let mut events = conn.events();
    let dom = conn.lookup_domain_by_name("test").await.unwrap();
    driver.emit(DomainEvent::lifecycle(
        dom.to_ref(),
        Lifecycle::Started(StartedDetail::Booted),
    ));
    assert_eq!(events.next().await.unwrap().domain.name, "test");
}

#[tokio::test]
async fn cells_and_sysinfo_as_libvirts_test_driver() {
    let conn = Connect::open("test:///default").await.unwrap();
    assert_eq!(
        conn.cells_free_memory(0, 8).await.unwrap(),
        vec![2_097_152, 4_194_304]
    );
    assert_eq!(
        err_of(conn.cells_free_memory(2, 1).await),
        (
            ErrorCode::InvalidArg,
            ErrorDomain::Test,
            "invalid argument: Range exceeds available cells".to_owned()
        )
    );
    assert!(conn
        .sysinfo(0)
        .await
        .unwrap()
        .contains("<entry name='release'>2.61</entry>"));
    assert_eq!(
        err_of(conn.sysinfo(1).await).2,
        "unsupported flags (0x1) in function testConnectGetSysinfo"
    );
}
