use oxvirt_domain::driver::event::{
    DefinedDetail, Lifecycle, ResumedDetail, StartedDetail, StoppedDetail, SuspendedDetail,
    UndefinedDetail,
};
use oxvirt_domain::driver::state::{PausedReason, RunningReason, ShutoffReason, StateReason};
use oxvirt_domain::driver::Hypervisor;
use oxvirt_xml::{ErrorCode, ErrorDomain};

use super::{default_conn, dom_xml, err, ev, lifecycle_events};

#[tokio::test]
async fn define_start_pause_resume_stop_undefine() {
    let conn = default_conn();
    let mut rx = conn.subscribe();
    let d = conn.define_xml(&dom_xml("d1", 1), 0).await.unwrap();
    assert_eq!(d.id, -1);
    assert_eq!(
        lifecycle_events(&mut rx),
        [ev("d1", -1, Lifecycle::Defined(DefinedDetail::Added))]
    );
    assert_eq!(
        conn.state(&d, 0).await.unwrap(),
        StateReason::Shutoff(ShutoffReason::Unknown)
    );
    assert!(conn.is_persistent(&d).await.unwrap());

    let d = conn.create(&d, 0).await.unwrap();
    assert_eq!(d.id, 2);
    assert_eq!(
        lifecycle_events(&mut rx),
        [ev("d1", 2, Lifecycle::Started(StartedDetail::Booted))]
    );
    assert_eq!(
        conn.state(&d, 0).await.unwrap(),
        StateReason::Running(RunningReason::Booted)
    );

    conn.suspend(&d).await.unwrap();
    assert_eq!(
        conn.state(&d, 0).await.unwrap(),
        StateReason::Paused(PausedReason::User)
    );
    conn.resume(&d).await.unwrap();
    assert_eq!(
        conn.state(&d, 0).await.unwrap(),
        StateReason::Running(RunningReason::Unpaused)
    );
    assert_eq!(
        lifecycle_events(&mut rx),
        [
            ev("d1", 2, Lifecycle::Suspended(SuspendedDetail::Paused)),
            ev("d1", 2, Lifecycle::Resumed(ResumedDetail::Unpaused)),
        ]
    );

    conn.destroy(&d, 0).await.unwrap();
    assert_eq!(
        conn.state(&d, 0).await.unwrap(),
        StateReason::Shutoff(ShutoffReason::Destroyed)
    );
    assert_eq!(
        lifecycle_events(&mut rx),
        [ev("d1", -1, Lifecycle::Stopped(StoppedDetail::Destroyed))]
    );
    // IDs are never reused.
    let d = conn.create(&d, 0).await.unwrap();
    assert_eq!(d.id, 3);
    conn.destroy(&d, 0).await.unwrap();

    conn.undefine(&d, 0).await.unwrap();
    let events = lifecycle_events(&mut rx);
    assert_eq!(
        events.last().unwrap(),
        &ev("d1", -1, Lifecycle::Undefined(UndefinedDetail::Removed))
    );
    assert_eq!(
        err(conn.info(&d).await),
        (
            ErrorCode::NoDomain,
            ErrorDomain::Test,
            "Domain not found: no domain with matching uuid \
             '11111111-2222-3333-4444-000000000001' (d1)"
                .into()
        )
    );
}

#[tokio::test]
async fn errors_of_calls_on_inactive_domains() {
    let conn = default_conn();
    let d = conn.define_xml(&dom_xml("d1", 1), 0).await.unwrap();
    let not_running = (
        ErrorCode::OperationInvalid,
        ErrorDomain::Domain,
        "Requested operation is not valid: domain is not running".to_string(),
    );
    assert_eq!(err(conn.destroy(&d, 0).await), not_running);
    assert_eq!(err(conn.reboot(&d, 0).await), not_running);
    assert_eq!(err(conn.reset(&d, 0).await), not_running);
    let internal = |m: &str| {
        (
            ErrorCode::InternalError,
            ErrorDomain::Test,
            format!("internal error: {m}"),
        )
    };
    assert_eq!(
        err(conn.shutdown(&d, 0).await),
        internal("domain 'd1' not running")
    );
    assert_eq!(
        err(conn.suspend(&d).await),
        internal("domain 'd1' not running")
    );
    assert_eq!(
        err(conn.resume(&d).await),
        internal("domain 'd1' not paused")
    );
    let d = conn.create(&d, 0).await.unwrap();
    assert_eq!(
        err(conn.create(&d, 0).await),
        internal("Domain 'd1' is already running")
    );
    conn.suspend(&d).await.unwrap();
    assert_eq!(
        err(conn.suspend(&d).await),
        internal("domain 'd1' not running")
    );
}

#[tokio::test]
async fn flags_are_checked_with_the_test_drivers_function_names() {
    let conn = default_conn();
    let d = conn.lookup_by_name("test").await.unwrap();
    let msg = |r: Result<(), oxvirt_xml::VirError>| {
        let (code, domain, m) = err(r);
        assert_eq!((code, domain), (ErrorCode::InvalidArg, ErrorDomain::Test));
        m
    };
    assert_eq!(
        msg(conn.create(&d, 1).await.map(|_| ())),
        "unsupported flags (0x1) in function testDomainCreateWithFlags"
    );
    assert_eq!(
        msg(conn.destroy(&d, 2).await),
        "unsupported flags (0x2) in function testDomainDestroyFlags"
    );
    assert_eq!(
        msg(conn.undefine(&d, 4).await),
        "unsupported flags (0x4) in function testDomainUndefineFlags"
    );
    assert_eq!(
        msg(conn.state(&d, 1).await.map(|_| ())),
        "unsupported flags (0x1) in function testDomainGetState"
    );
    assert_eq!(
        msg(conn.create_xml(&dom_xml("x", 9), 1).await.map(|_| ())),
        "unsupported flags (0x1) in function testDomainCreateXML"
    );
    assert_eq!(
        msg(conn.shutdown(&d, 1).await),
        "unsupported flags (0x1) in function testDomainShutdownFlags"
    );
}

#[tokio::test]
async fn define_refuses_clashes() {
    let conn = default_conn();
    conn.define_xml(&dom_xml("d1", 1), 0).await.unwrap();
    let other_uuid = dom_xml("d1", 2);
    assert_eq!(
        err(conn.define_xml(&other_uuid, 0).await),
        (
            ErrorCode::OperationFailed,
            ErrorDomain::Domain,
            "operation failed: domain 'd1' already exists with uuid \
             11111111-2222-3333-4444-000000000001"
                .into()
        )
    );
    assert_eq!(
        err(conn.define_xml(&dom_xml("dX", 1), 0).await),
        (
            ErrorCode::OperationFailed,
            ErrorDomain::Domain,
            "operation failed: domain 'd1' is already defined with uuid \
             11111111-2222-3333-4444-000000000001"
                .into()
        )
    );
    let bad = "<domain type='test'><name>a\nb</name><memory>1</memory>\
               <os><type>hvm</type></os></domain>";
    assert_eq!(
        err(conn.define_xml(bad, 0).await),
        (
            ErrorCode::XmlDetail,
            ErrorDomain::Xml,
            "invalid char in name: \n".into()
        )
    );
}

#[tokio::test]
async fn redefining_reports_updated_and_keeps_the_live_definition() {
    let conn = default_conn();
    let mut rx = conn.subscribe();
    let d = conn.define_xml(&dom_xml("d1", 1), 0).await.unwrap();
    conn.define_xml(&dom_xml("d1", 1), 0).await.unwrap();
    let d = conn.create(&d, 0).await.unwrap();
    let bigger = dom_xml("d1", 1).replace("1048576", "2097152");
    conn.define_xml(&bigger, 0).await.unwrap();
    assert_eq!(
        lifecycle_events(&mut rx),
        [
            ev("d1", -1, Lifecycle::Defined(DefinedDetail::Added)),
            ev("d1", -1, Lifecycle::Defined(DefinedDetail::Updated)),
            ev("d1", 2, Lifecycle::Started(StartedDetail::Booted)),
            ev("d1", 2, Lifecycle::Defined(DefinedDetail::Updated)),
        ]
    );
    assert_eq!(conn.max_memory(&d).await.unwrap(), 1048576);
    let inactive = conn.xml_desc(&d, 2).await.unwrap();
    assert!(
        inactive.contains("<memory unit='KiB'>2097152</memory>"),
        "{inactive}"
    );
    conn.destroy(&d, 0).await.unwrap();
    assert_eq!(conn.max_memory(&d).await.unwrap(), 2097152);
}

#[tokio::test]
async fn transient_domains_go_away_when_stopped() {
    let conn = default_conn();
    let mut rx = conn.subscribe();
    let t = conn.create_xml(&dom_xml("t1", 3), 0).await.unwrap();
    assert_eq!(t.id, 2);
    assert!(!conn.is_persistent(&t).await.unwrap());
    assert_eq!(
        conn.state(&t, 0).await.unwrap(),
        StateReason::Running(RunningReason::Booted)
    );
    conn.destroy(&t, 0).await.unwrap();
    // The stopped event of a transient domain still carries its ID.
    assert_eq!(
        lifecycle_events(&mut rx),
        [
            ev("t1", 2, Lifecycle::Started(StartedDetail::Booted)),
            ev("t1", 2, Lifecycle::Stopped(StoppedDetail::Destroyed)),
        ]
    );
    assert_eq!(
        err(conn.lookup_by_name("t1").await),
        (
            ErrorCode::NoDomain,
            ErrorDomain::Test,
            "Domain not found".into()
        )
    );
}

#[tokio::test]
async fn undefining_a_running_domain_makes_it_transient() {
    let conn = default_conn();
    let mut rx = conn.subscribe();
    let d = conn.lookup_by_name("test").await.unwrap();
    conn.undefine(&d, 0).await.unwrap();
    assert!(!conn.is_persistent(&d).await.unwrap());
    assert!(conn.is_active(&d).await.unwrap());
    // Defining it again while it runs: the replaced persistent definition makes it
    // "updated".
    let xml = conn.xml_desc(&d, 2).await.unwrap();
    conn.define_xml(&xml, 0).await.unwrap();
    assert!(conn.is_persistent(&d).await.unwrap());
    conn.undefine(&d, 0).await.unwrap();
    conn.destroy(&d, 0).await.unwrap();
    assert_eq!(
        lifecycle_events(&mut rx),
        [
            ev("test", 1, Lifecycle::Undefined(UndefinedDetail::Removed)),
            ev("test", 1, Lifecycle::Defined(DefinedDetail::Updated)),
            ev("test", 1, Lifecycle::Undefined(UndefinedDetail::Removed)),
            ev("test", -1, Lifecycle::Stopped(StoppedDetail::Destroyed)),
        ]
    );
    assert!(conn.lookup_by_name("test").await.is_err());
}

#[tokio::test]
async fn create_xml_starts_a_defined_inactive_domain_with_the_new_definition() {
    let conn = default_conn();
    let d = conn.define_xml(&dom_xml("d1", 1), 0).await.unwrap();
    let live = dom_xml("d1", 1).replace("1048576", "2048");
    let started = conn.create_xml(&live, 0).await.unwrap();
    assert_eq!(
        (started.id, conn.is_persistent(&d).await.unwrap()),
        (2, true)
    );
    assert_eq!(conn.max_memory(&d).await.unwrap(), 2048);
    assert!(conn.xml_desc(&d, 2).await.unwrap().contains("1048576"));
    assert_eq!(
        err(conn.create_xml(&live, 0).await),
        (
            ErrorCode::OperationInvalid,
            ErrorDomain::Domain,
            "Requested operation is not valid: domain 'd1' is already active".into()
        )
    );
    conn.destroy(&d, 0).await.unwrap();
    assert_eq!(conn.max_memory(&d).await.unwrap(), 1048576);
}

#[tokio::test]
async fn shutdown_and_reboot_follow_the_lifecycle_actions() {
    let conn = default_conn();
    let mut rx = conn.subscribe();
    let d = conn.lookup_by_name("test").await.unwrap();
    // on_reboot=restart: still running, booted, and no event at all.
    conn.reboot(&d, 0).await.unwrap();
    assert_eq!(
        conn.state(&d, 0).await.unwrap(),
        StateReason::Running(RunningReason::Booted)
    );
    conn.reset(&d, 0).await.unwrap();
    assert!(lifecycle_events(&mut rx).is_empty());
    conn.shutdown(&d, 0).await.unwrap();
    assert_eq!(
        conn.state(&d, 0).await.unwrap(),
        StateReason::Shutoff(ShutoffReason::Shutdown)
    );
    assert_eq!(
        lifecycle_events(&mut rx),
        [ev("test", -1, Lifecycle::Stopped(StoppedDetail::Shutdown))]
    );

    let restart = dom_xml("r", 4).replace("</os>", "</os><on_poweroff>restart</on_poweroff>");
    let r = conn.create_xml(&restart, 0).await.unwrap();
    conn.suspend(&r).await.unwrap();
    conn.shutdown(&r, 0).await.unwrap();
    assert_eq!(
        conn.state(&r, 0).await.unwrap(),
        StateReason::Running(RunningReason::Booted)
    );
    let destroy = dom_xml("x", 5).replace("</os>", "</os><on_reboot>destroy</on_reboot>");
    let x = conn.create_xml(&destroy, 0).await.unwrap();
    lifecycle_events(&mut rx);
    conn.reboot(&x, 0).await.unwrap();
    assert_eq!(
        lifecycle_events(&mut rx),
        [ev("x", 3, Lifecycle::Stopped(StoppedDetail::Shutdown))]
    );
    assert!(conn.lookup_by_name("x").await.is_err());
}

#[tokio::test]
async fn defining_a_running_transient_domain_adds_a_persistent_definition() {
    let conn = default_conn();
    let mut rx = conn.subscribe();
    let t = conn.create_xml(&dom_xml("t1", 2), 0).await.unwrap();
    conn.define_xml(&dom_xml("t1", 2), 0).await.unwrap();
    assert!(conn.is_persistent(&t).await.unwrap());
    conn.destroy(&t, 0).await.unwrap();
    assert_eq!(
        conn.state(&t, 0).await.unwrap(),
        StateReason::Shutoff(ShutoffReason::Destroyed)
    );
    assert_eq!(
        lifecycle_events(&mut rx),
        [
            ev("t1", 2, Lifecycle::Started(StartedDetail::Booted)),
            ev("t1", 2, Lifecycle::Defined(DefinedDetail::Added)),
            ev("t1", -1, Lifecycle::Stopped(StoppedDetail::Destroyed)),
        ]
    );
}

#[test]
fn the_driver_is_send_and_sync() {
    fn shared<T: Send + Sync + 'static>() {}
    shared::<crate::TestDriver>();
    let _: std::sync::Arc<dyn Hypervisor> = std::sync::Arc::new(default_conn());
}
