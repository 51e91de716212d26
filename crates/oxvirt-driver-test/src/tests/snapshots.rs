use oxvirt_domain::driver::event::{Lifecycle, StartedDetail, StoppedDetail, SuspendedDetail};
use oxvirt_domain::driver::flags::list;
use oxvirt_domain::driver::state::{PausedReason, RunningReason, ShutoffReason, StateReason};
use oxvirt_domain::driver::{Hypervisor, SnapshotRef};
use oxvirt_xml::{ErrorCode, ErrorDomain};

use super::{default_conn, dom_xml, err, ev, lifecycle_events};
use crate::TestDriver;

fn snap(name: &str) -> String {
    format!("<domainsnapshot><name>{name}</name></domainsnapshot>")
}

async fn lookup(conn: &TestDriver, dom: &str, name: &str) -> SnapshotRef {
    let d = conn.lookup_by_name(dom).await.unwrap();
    conn.snapshot_lookup(&d, name, 0).await.unwrap()
}

#[tokio::test]
async fn create_lookup_parent_current() {
    let conn = default_conn();
    let mut rx = conn.subscribe();
    let d = conn.define_xml(&dom_xml("d1", 1), 0).await.unwrap();
    let off = conn.snapshot_create(&d, &snap("off1"), 0).await.unwrap();
    assert_eq!(off.name, "off1");
    let xml = conn.snapshot_xml(&off, 0).await.unwrap();
    assert!(xml.starts_with(
        "<domainsnapshot>\n  <name>off1</name>\n  <state>shutoff</state>\n  <creationTime>"
    ));
    assert!(xml.contains("<memory snapshot='no'/>\n  <domain type='test'>\n    <name>d1</name>"));
    assert_eq!(
        err(conn.undefine(&d, 0).await),
        (
            ErrorCode::OperationInvalid,
            ErrorDomain::Test,
            "Requested operation is not valid: cannot delete inactive domain with 1 snapshots"
                .into()
        )
    );
    let d = conn.create(&d, 0).await.unwrap();
    let on = conn.snapshot_create(&d, &snap("on1"), 0).await.unwrap();
    assert!(conn
        .snapshot_xml(&on, 0)
        .await
        .unwrap()
        .contains("<memory snapshot='internal'/>"));
    assert_eq!(conn.snapshot_current(&d, 0).await.unwrap().name, "on1");
    assert_eq!(conn.snapshot_parent(&on, 0).await.unwrap().name, "off1");
    assert_eq!(
        err(conn.snapshot_parent(&off, 0).await),
        (
            ErrorCode::NoDomainSnapshot,
            ErrorDomain::Test,
            "Domain snapshot not found: snapshot 'off1' does not have a parent".into()
        )
    );
    assert_eq!(
        err(conn.snapshot_lookup(&d, "zz", 0).await).2,
        "Domain snapshot not found: no domain snapshot with matching name 'zz'"
    );
    assert!(conn.has_current_snapshot(&d, 0).await.unwrap());
    assert!(!conn.snapshot_is_current(&off, 0).await.unwrap());
    assert!(conn.snapshot_is_current(&on, 0).await.unwrap());
    assert!(conn.snapshot_has_metadata(&on, 0).await.unwrap());
    let mut names: Vec<String> = conn
        .snapshot_list(&d, 0)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    names.sort();
    assert_eq!(names, ["off1", "on1"]);
    let children = conn.snapshot_list_children(&off, 0).await.unwrap();
    assert_eq!(children.len(), 1);
    assert_eq!(children[0].name, "on1");
    assert_eq!(conn.list_all(list::HAS_SNAPSHOT).await.unwrap().len(), 1);
    // Creating snapshots sends no event.
    assert_eq!(lifecycle_events(&mut rx).len(), 2);
    assert_eq!(
        err(conn.snapshot_create(&d, &snap("on1"), 0).await),
        (
            ErrorCode::OperationFailed,
            ErrorDomain::Domain,
            "operation failed: domain moment on1 already exists".into()
        )
    );
}

#[tokio::test]
async fn halt_stops_the_domain() {
    let conn = default_conn();
    let mut rx = conn.subscribe();
    let d = conn.lookup_by_name("test").await.unwrap();
    conn.snapshot_create(&d, &snap("h"), 8).await.unwrap();
    assert_eq!(
        conn.state(&d, 0).await.unwrap(),
        StateReason::Shutoff(ShutoffReason::FromSnapshot)
    );
    assert_eq!(
        lifecycle_events(&mut rx),
        [ev(
            "test",
            -1,
            Lifecycle::Stopped(StoppedDetail::FromSnapshot)
        )]
    );
    let t = conn.create_xml(&dom_xml("t", 2), 0).await.unwrap();
    assert_eq!(
        err(conn.snapshot_create(&t, &snap("h"), 8).await),
        (
            ErrorCode::OperationInvalid,
            ErrorDomain::Test,
            "Requested operation is not valid: cannot halt after transient domain snapshot".into()
        )
    );
    for (flags, hex) in [(16, "0x10"), (4, "0x4")] {
        assert_eq!(
            err(conn.snapshot_create(&t, &snap("h"), flags).await).2,
            format!(
                "unsupported flags ({hex}) in function \
                 testDomainSnapshotCreateXML"
            )
        );
    }
}

#[tokio::test]
async fn reverting_restarts_the_domain() {
    let conn = default_conn();
    let d = conn.define_xml(&dom_xml("d1", 1), 0).await.unwrap();
    conn.snapshot_create(&d, &snap("off1"), 0).await.unwrap();
    let d = conn.create(&d, 0).await.unwrap();
    conn.snapshot_create(&d, &snap("on1"), 0).await.unwrap();
    let off1 = lookup(&conn, "d1", "off1").await;
    let on1 = lookup(&conn, "d1", "on1").await;
    let mut rx = conn.subscribe();
    let state = |conn: TestDriver| async move {
        let d = conn.lookup_by_name("d1").await.unwrap();
        conn.state(&d, 0).await.unwrap()
    };

    // Running, to a running snapshot: stopped and started again.
    conn.snapshot_revert(&on1, 0).await.unwrap();
    assert_eq!(
        lifecycle_events(&mut rx),
        [
            ev("d1", -1, Lifecycle::Stopped(StoppedDetail::FromSnapshot)),
            ev("d1", 3, Lifecycle::Started(StartedDetail::FromSnapshot)),
        ]
    );
    assert_eq!(
        state(conn.clone()).await,
        StateReason::Running(RunningReason::FromSnapshot)
    );
    assert!(conn.snapshot_is_current(&on1, 0).await.unwrap());

    // Running, to a shut-off snapshot.
    conn.snapshot_revert(&off1, 0).await.unwrap();
    assert_eq!(
        lifecycle_events(&mut rx),
        [ev(
            "d1",
            -1,
            Lifecycle::Stopped(StoppedDetail::FromSnapshot)
        )]
    );
    assert_eq!(
        state(conn.clone()).await,
        StateReason::Shutoff(ShutoffReason::FromSnapshot)
    );

    // Shut off, to a shut-off snapshot with RUNNING: reported started, but not started.
    conn.snapshot_revert(&off1, 1).await.unwrap();
    assert_eq!(
        lifecycle_events(&mut rx),
        [ev(
            "d1",
            -1,
            Lifecycle::Started(StartedDetail::FromSnapshot)
        )]
    );
    assert_eq!(
        state(conn.clone()).await,
        StateReason::Shutoff(ShutoffReason::FromSnapshot)
    );

    // Shut off, to a running snapshot.
    conn.snapshot_revert(&on1, 0).await.unwrap();
    assert_eq!(
        lifecycle_events(&mut rx),
        [ev("d1", 4, Lifecycle::Started(StartedDetail::FromSnapshot))]
    );

    // Running, to a running snapshot, paused.
    conn.snapshot_revert(&on1, 2).await.unwrap();
    assert_eq!(
        lifecycle_events(&mut rx),
        [
            ev("d1", -1, Lifecycle::Stopped(StoppedDetail::FromSnapshot)),
            ev("d1", 5, Lifecycle::Started(StartedDetail::FromSnapshot)),
            ev("d1", 5, Lifecycle::Suspended(SuspendedDetail::FromSnapshot)),
        ]
    );
    assert_eq!(
        state(conn.clone()).await,
        StateReason::Paused(PausedReason::FromSnapshot)
    );

    assert_eq!(
        err(conn.snapshot_revert(&off1, 3).await),
        (
            ErrorCode::InvalidArg,
            ErrorDomain::DomainSnapshot,
            "Flags 'VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING' and 'VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED' \
             are mutually exclusive"
                .into()
        )
    );
    assert_eq!(
        err(conn.snapshot_revert(&off1, 8).await).2,
        "unsupported flags (0x8) in function testDomainRevertToSnapshot"
    );
}

#[tokio::test]
async fn reverting_a_transient_domain() {
    let conn = default_conn();
    let t = conn.create_xml(&dom_xml("t1", 2), 0).await.unwrap();
    conn.snapshot_create(&t, &snap("s1"), 0).await.unwrap();
    conn.suspend(&t).await.unwrap();
    conn.snapshot_create(&t, &snap("p1"), 0).await.unwrap();
    let mut rx = conn.subscribe();
    conn.snapshot_revert(&lookup(&conn, "t1", "p1").await, 0)
        .await
        .unwrap();
    // A transient domain keeps its ID when it stops.
    assert_eq!(
        lifecycle_events(&mut rx),
        [
            ev("t1", 2, Lifecycle::Stopped(StoppedDetail::FromSnapshot)),
            ev("t1", 3, Lifecycle::Started(StartedDetail::FromSnapshot)),
            ev("t1", 3, Lifecycle::Suspended(SuspendedDetail::FromSnapshot)),
        ]
    );
    conn.snapshot_revert(&lookup(&conn, "t1", "s1").await, 0)
        .await
        .unwrap();
    assert_eq!(
        lifecycle_events(&mut rx),
        [
            ev("t1", -1, Lifecycle::Stopped(StoppedDetail::FromSnapshot)),
            ev("t1", 4, Lifecycle::Started(StartedDetail::FromSnapshot)),
        ]
    );
    assert!(!conn.is_persistent(&t).await.unwrap());
}

#[tokio::test]
async fn deleting_snapshots() {
    let conn = default_conn();
    let t = conn.create_xml(&dom_xml("t1", 2), 0).await.unwrap();
    conn.snapshot_create(&t, &snap("s1"), 0).await.unwrap();
    conn.snapshot_create(&t, &snap("p1"), 0).await.unwrap();
    let s1 = lookup(&conn, "t1", "s1").await;
    assert_eq!(
        err(conn.snapshot_delete(&s1, 2).await).2,
        "unsupported flags (0x2) in function testDomainSnapshotDelete"
    );
    conn.snapshot_delete(&s1, 1).await.unwrap();
    assert!(conn.snapshot_list(&t, 0).await.unwrap().is_empty());
    assert!(!conn.has_current_snapshot(&t, 0).await.unwrap());
    assert_eq!(
        err(conn.snapshot_current(&t, 0).await),
        (
            ErrorCode::NoDomainSnapshot,
            ErrorDomain::Test,
            "Domain snapshot not found: the domain does not have a current snapshot".into()
        )
    );
}
