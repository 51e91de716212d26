//! Domain handles over the fake driver: the ID they track and the calls they make.

use crate::testing::fake_pair;
use crate::{DomainState, StateReason};
use oxvirt_domain::driver::state::{PausedReason, ShutoffReason};

#[tokio::test]
async fn create_gives_the_handle_its_new_id_and_clones_share_it() {
    let (conn, _driver) = fake_pair(false);
    let dom = conn.lookup_domain_by_name("idle").await.unwrap();
    let clone = dom.clone();
    assert_eq!(dom.id(), None);
    assert_eq!(dom.to_ref().id, -1);
    dom.create(0).await.unwrap();
    assert_eq!(dom.id(), Some(2));
    assert_eq!(clone.id(), Some(2));
    assert_eq!(dom.state().await.unwrap().state(), DomainState::Running);
    let err = dom.create(0).await.unwrap_err();
    assert_eq!(
        err.message,
        "Requested operation is not valid: domain is already running"
    );
    assert_eq!(dom.id(), Some(2));
}

#[tokio::test]
async fn stopping_calls_clear_the_id() {
    let (conn, driver) = fake_pair(false);
    let dom = conn.lookup_domain_by_name("test").await.unwrap();
    dom.destroy(0).await.unwrap();
    assert_eq!(dom.id(), None);
    dom.create(0).await.unwrap();
    assert_eq!(dom.id(), Some(2));
    dom.shutdown(0).await.unwrap();
    assert_eq!(dom.id(), None);
    dom.create(0).await.unwrap();
    dom.save("/tmp/x.img", None, 0).await.unwrap();
    assert_eq!(dom.id(), None);
    assert_eq!(
        driver.calls(),
        [
            "lookup_by_name",
            "destroy",
            "create",
            "shutdown",
            "destroy",
            "is_active",
            "create",
            "save",
            "destroy"
        ]
    );
}

#[tokio::test]
async fn a_failed_call_leaves_the_id_alone() {
    let (conn, _driver) = fake_pair(false);
    let dom = conn.lookup_domain_by_name("idle").await.unwrap();
    let err = dom.destroy(0).await.unwrap_err();
    assert_eq!(
        err.message,
        "Requested operation is not valid: domain is not running"
    );
    let running = conn.lookup_domain_by_name("test").await.unwrap();
    running.destroy(0).await.unwrap();
    assert!(running.destroy(0).await.is_err());
    assert_eq!(running.id(), None);
}

#[tokio::test]
async fn handles_read_through_the_driver() {
    let (conn, _driver) = fake_pair(false);
    let dom = conn.lookup_domain_by_name("test").await.unwrap();
    assert_eq!(dom.name(), "test");
    assert_eq!(dom.uuid().as_bytes(), &[1; 16]);
    assert_eq!(dom.uuid_string(), "01010101-0101-0101-0101-010101010101");
    assert!(dom.is_active().await.unwrap());
    dom.suspend().await.unwrap();
    assert_eq!(
        dom.state().await.unwrap(),
        StateReason::Paused(PausedReason::User)
    );
    assert_eq!(
        dom.xml_desc(0).await.unwrap(),
        "<domain><name>test</name></domain>\n"
    );
    // What the fake lacks answers as libvirt answers a call a driver lacks.
    let err = dom.os_type().await.unwrap_err();
    assert_eq!(
        err.message,
        "this function is not supported by the connection driver: virDomainGetOSType"
    );
    assert!(dom.connect().same_connection(&conn));
    assert!(format!("{dom:?}").contains("\"test\""));
    let other = conn.lookup_domain_by_name("idle").await.unwrap();
    assert_eq!(
        other.state().await.unwrap(),
        StateReason::Shutoff(ShutoffReason::Unknown)
    );
}

#[tokio::test]
async fn snapshots_share_their_domain_handle_and_revert_refreshes_its_id() {
    let (conn, _driver) = fake_pair(false);
    let dom = conn.lookup_domain_by_name("idle").await.unwrap();
    let snap = dom
        .snapshot_create_xml("<domainsnapshot/>", 0)
        .await
        .unwrap();
    assert_eq!(snap.name(), "snap1");
    assert_eq!(snap.to_ref().domain, dom.to_ref());
    snap.revert(0).await.unwrap();
    assert_eq!(dom.id(), Some(2));
    assert_eq!(snap.domain().id(), Some(2));
    let err = snap.delete(0).await.unwrap_err();
    assert!(err.message.ends_with("virDomainSnapshotDelete"));
}

#[tokio::test]
async fn read_only_snapshot_changes_are_refused() {
    let (conn, driver) = fake_pair(false);
    let dom = conn.lookup_domain_by_name("idle").await.unwrap();
    let snap = dom
        .snapshot_create_xml("<domainsnapshot/>", 0)
        .await
        .unwrap();
    let ro = crate::Connect::from_driver(conn.parsed_uri().clone(), driver.clone(), true);
    let ro_snap = ro
        .domain(dom.to_ref())
        .snapshot_create_xml("<x/>", 0)
        .await
        .unwrap_err();
    assert_eq!(ro_snap.domain, crate::ErrorDomain::DomainSnapshot);
    let ro_dom = ro.domain(dom.to_ref());
    let handle = crate::DomainSnapshot::new(ro_dom, snap.name().to_owned());
    for (function, err) in [
        (
            "virDomainRevertToSnapshot",
            handle.revert(0).await.unwrap_err(),
        ),
        (
            "virDomainSnapshotDelete",
            handle.delete(0).await.unwrap_err(),
        ),
    ] {
        assert_eq!(
            (err.code, err.domain, err.message),
            (
                crate::ErrorCode::OperationDenied,
                crate::ErrorDomain::DomainSnapshot,
                format!("operation forbidden: read only access prevents {function}")
            )
        );
    }
    let err = handle
        .xml_desc(crate::flags::snapshot_xml::SECURE)
        .await
        .unwrap_err();
    assert_eq!(
        err.message,
        "operation forbidden: virDomainSnapshotGetXMLDesc with secure flag"
    );
    assert_eq!(driver.calls(), ["lookup_by_name", "snapshot_create"]);
}

#[tokio::test]
async fn screenshot_goes_to_the_driver_and_is_refused_read_only() {
    let (conn, driver) = fake_pair(false);
    let dom = conn.lookup_domain_by_name("test").await.unwrap();
    // The fake has no screenshot: libvirt's answer for a driver lacking the call.
    let err = dom.screenshot(0, 0).await.unwrap_err();
    assert_eq!(err.code, crate::ErrorCode::NoSupport);
    assert_eq!(
        err.message,
        "this function is not supported by the connection driver: virDomainScreenshot"
    );
    let ro = crate::Connect::from_driver(conn.parsed_uri().clone(), driver, true);
    let err = ro.domain(dom.to_ref()).screenshot(0, 0).await.unwrap_err();
    assert_eq!(err.code, crate::ErrorCode::OperationDenied);
    assert_eq!(err.domain, crate::ErrorDomain::Domain);
    assert_eq!(
        err.message,
        "operation forbidden: read only access prevents virDomainScreenshot"
    );
}

#[tokio::test]
async fn screenshot_of_the_test_driver_is_its_png() {
    let conn = crate::Connect::open("test:///default").await.unwrap();
    let dom = conn.lookup_domain_by_name("test").await.unwrap();
    let shot = dom.screenshot(0, 0).await.unwrap();
    assert_eq!(shot.mime, "image/png");
    assert_eq!(&shot.data[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(&shot.data[16..24], &[0, 0, 2, 128, 0, 0, 1, 224]);
    let err = dom.screenshot(0, 1).await.unwrap_err();
    assert_eq!(
        err.message,
        "unsupported flags (0x1) in function testDomainScreenshot"
    );
}
