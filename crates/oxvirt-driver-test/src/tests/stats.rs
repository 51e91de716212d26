//! Domain statistics and messages, against what python3-libvirt gets from libvirt 9.0's
//! `test:///default` (`conn.getAllDomainStats`, `conn.domainListGetStats`,
//! `dom.messages`).

use oxvirt_domain::driver::flags::stats as groups;
use oxvirt_domain::driver::{DomainRef, Hypervisor, TypedParam, TypedValue};
use oxvirt_xml::{ErrorCode, ErrorDomain};

use super::{default_conn, dom_xml, err};
use crate::stats::*;
use crate::TestDriver;

/// `(name, id, [(field, int)])` of each record.
type Rows = Vec<(String, i32, Vec<(String, i32)>)>;

async fn rows(conn: &TestDriver, doms: &[DomainRef], stats: u32, flags: u32) -> Rows {
    conn.domain_stats(doms, stats, flags)
        .await
        .unwrap()
        .into_iter()
        .map(|r| {
            let params = r
                .params
                .into_iter()
                .map(|TypedParam { field, value }| match value {
                    TypedValue::Int(v) => (field, v),
                    other => panic!("{field} is not an int: {other:?}"),
                })
                .collect();
            (r.domain.name, r.domain.id, params)
        })
        .collect()
}

fn state(name: &str, id: i32, st: i32, reason: i32) -> (String, i32, Vec<(String, i32)>) {
    (
        name.into(),
        id,
        vec![("state.state".into(), st), ("state.reason".into(), reason)],
    )
}

#[tokio::test]
async fn only_the_state_group_is_reported() {
    let conn = default_conn();
    assert_eq!(rows(&conn, &[], 0, 0).await, [state("test", 1, 1, 0)]);
    assert_eq!(
        rows(&conn, &[], groups::STATE, 0).await,
        [state("test", 1, 1, 0)]
    );
    assert_eq!(rows(&conn, &[], 0xffff, 0).await, [state("test", 1, 1, 0)]);
    for g in [
        groups::CPU_TOTAL,
        groups::BALLOON,
        groups::VCPU,
        groups::INTERFACE,
        groups::BLOCK,
        groups::PERF,
        groups::IOTHREAD,
        groups::MEMORY,
        groups::DIRTYRATE,
        groups::VM,
        1 << 20,
    ] {
        assert_eq!(
            rows(&conn, &[], g, 0).await,
            [("test".to_string(), 1, vec![])]
        );
    }
}

#[tokio::test]
async fn filters_select_domains_like_list_all() {
    let conn = default_conn();
    let test = conn.lookup_by_name("test").await.unwrap();
    conn.suspend(&test).await.unwrap();
    conn.define_xml(&dom_xml("x", 1), 0).await.unwrap();
    let paused = state("test", 1, 3, 1);
    let off = state("x", -1, 5, 0);
    assert_eq!(rows(&conn, &[], 0, 0).await, [paused.clone(), off.clone()]);
    assert_eq!(
        rows(&conn, &[], 0, ACTIVE).await,
        std::slice::from_ref(&paused)
    );
    assert_eq!(
        rows(&conn, &[], 0, INACTIVE).await,
        std::slice::from_ref(&off)
    );
    assert_eq!(
        rows(&conn, &[], 0, ACTIVE | INACTIVE).await,
        [paused.clone(), off.clone()]
    );
    assert_eq!(
        rows(&conn, &[], 0, PERSISTENT).await,
        [paused.clone(), off.clone()]
    );
    assert_eq!(rows(&conn, &[], 0, TRANSIENT).await, []);
    assert_eq!(rows(&conn, &[], 0, RUNNING).await, []);
    assert_eq!(
        rows(&conn, &[], 0, PAUSED).await,
        std::slice::from_ref(&paused)
    );
    assert_eq!(
        rows(&conn, &[], 0, SHUTOFF).await,
        std::slice::from_ref(&off)
    );
    assert_eq!(rows(&conn, &[], 0, OTHER).await, []);
    assert_eq!(
        rows(&conn, &[], 0, NOWAIT | BACKING).await,
        [paused.clone(), off.clone()]
    );
    conn.destroy(&test, 0).await.unwrap();
    assert_eq!(rows(&conn, &[], 0, ACTIVE).await, []);
    assert_eq!(rows(&conn, &[], 0, 0).await[0], state("test", -1, 5, 2));
}

#[tokio::test]
async fn list_get_stats_keeps_the_given_order_and_skips_missing_domains() {
    let conn = default_conn();
    let test = conn.lookup_by_name("test").await.unwrap();
    let x = conn.define_xml(&dom_xml("x", 1), 0).await.unwrap();
    assert_eq!(
        rows(&conn, &[x.clone(), test.clone()], 0, 0).await,
        [state("x", -1, 5, 0), state("test", 1, 1, 0)]
    );
    assert_eq!(
        rows(&conn, &[x.clone(), test.clone()], 0, ACTIVE).await,
        [state("test", 1, 1, 0)]
    );
    assert_eq!(
        rows(&conn, &[x.clone(), test.clone()], 0, RUNNING).await[0].0,
        "test"
    );
    conn.undefine(&x, 0).await.unwrap();
    assert_eq!(
        rows(&conn, &[x.clone(), test.clone()], 0, 0).await,
        [state("test", 1, 1, 0)]
    );
    assert_eq!(rows(&conn, &[x], 0, 0).await, []);
}

#[tokio::test]
async fn enforce_stats_and_unknown_flags() {
    let conn = default_conn();
    let test = conn.lookup_by_name("test").await.unwrap();
    assert_eq!(
        rows(&conn, &[], groups::STATE, ENFORCE_STATS).await,
        [state("test", 1, 1, 0)]
    );
    assert_eq!(
        rows(&conn, &[], 0, ENFORCE_STATS).await,
        [state("test", 1, 1, 0)]
    );
    let unsupported = |bits: &str| {
        (
            ErrorCode::ArgumentUnsupported,
            ErrorDomain::Test,
            format!(
                "argument unsupported: Stats types bits {bits} are not supported by this daemon"
            ),
        )
    };
    assert_eq!(
        err(conn
            .domain_stats(&[], groups::STATE | groups::CPU_TOTAL, ENFORCE_STATS)
            .await),
        unsupported("0x2")
    );
    assert_eq!(
        err(conn.domain_stats(&[], 1 << 20, ENFORCE_STATS).await),
        unsupported("0x100000")
    );
    assert_eq!(
        err(conn
            .domain_stats(std::slice::from_ref(&test), groups::BALLOON, ENFORCE_STATS)
            .await),
        unsupported("0x4")
    );
    let bad = |f: &str| {
        (
            ErrorCode::InvalidArg,
            ErrorDomain::Test,
            format!("unsupported flags ({f}) in function testConnectGetAllDomainStats"),
        )
    };
    // Unknown flags are refused before the groups are looked at.
    assert_eq!(
        err(conn
            .domain_stats(&[], groups::CPU_TOTAL, 0x100 | ENFORCE_STATS)
            .await),
        bad("0x100")
    );
    assert_eq!(
        err(conn.domain_stats(&[], 0, 1 << 28).await),
        bad("0x10000000")
    );
    assert_eq!(
        err(conn.domain_stats(&[test], 0, 0x100).await),
        bad("0x100")
    );
}

#[tokio::test]
async fn messages_are_empty_and_jobs_unsupported() {
    let conn = default_conn();
    let test = conn.lookup_by_name("test").await.unwrap();
    for f in [0, MESSAGES_DEPRECATION, MESSAGES_TAINTING, 3] {
        assert_eq!(conn.messages(&test, f).await.unwrap(), Vec::<String>::new());
    }
    assert_eq!(
        err(conn.messages(&test, 4).await),
        (
            ErrorCode::InvalidArg,
            ErrorDomain::Test,
            "unsupported flags (0x4) in function testDomainGetMessages".into()
        )
    );
    let x = conn.define_xml(&dom_xml("x", 1), 0).await.unwrap();
    assert!(conn.messages(&x, 0).await.unwrap().is_empty());
    conn.undefine(&x, 0).await.unwrap();
    assert_eq!(err(conn.messages(&x, 0).await).0, ErrorCode::NoDomain);
    // libvirt 9.0's test driver has no job calls.
    let no_support = |f: &str| {
        (
            ErrorCode::NoSupport,
            ErrorDomain::Domain,
            format!("this function is not supported by the connection driver: {f}"),
        )
    };
    assert_eq!(
        err(conn.job_info(&test).await),
        no_support("virDomainGetJobInfo")
    );
    assert_eq!(
        err(conn.abort_job(&test).await),
        no_support("virDomainAbortJob")
    );
}
