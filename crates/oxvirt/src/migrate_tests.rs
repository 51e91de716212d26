//! The client-driven migration over two fake drivers sharing one call log: the phases in
//! libvirt's order, the cookies each phase hands on, and the cancellations on failure.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use oxvirt_domain::driver::state::{PausedReason, RunningReason};
use oxvirt_domain::driver::{
    DomainRef, EventBus, EventReceiver, Hypervisor, Result, StateReason, TypedParam, TypedValue,
};
use oxvirt_xml::types::Uuid;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use super::migrate_flags as mf;
use crate::{Connect, Uri};

type Log = Arc<Mutex<Vec<String>>>;

/// One end of the migration: every phase logs `SIDE PHASE flags=.. cookie=.. [params]`;
/// `fail` names the phase that fails.
struct End {
    side: &'static str,
    log: Log,
    fail: Option<&'static str>,
    paused: bool,
    bus: EventBus,
}

fn dom_ref(name: &str) -> DomainRef {
    DomainRef {
        name: name.into(),
        uuid: Uuid::from([7; 16]),
        id: 3,
    }
}

fn show(params: &[TypedParam]) -> String {
    params
        .iter()
        .map(|p| match &p.value {
            TypedValue::String(s) => format!("{}={}", p.field, s),
            other => format!("{}={other:?}", p.field),
        })
        .collect::<Vec<_>>()
        .join(",")
}

impl End {
    fn phase(
        &self,
        phase: &'static str,
        flags: u32,
        cookie: &[u8],
        params: &[TypedParam],
        extra: &str,
    ) -> Result<()> {
        self.log.lock().unwrap().push(format!(
            "{} {phase} flags={flags:#x} cookie={} [{}]{extra}",
            self.side,
            String::from_utf8_lossy(cookie),
            show(params)
        ));
        if self.fail == Some(phase) {
            return Err(VirError::new(
                ErrorDomain::Qemu,
                ErrorCode::OperationFailed,
                format!("{phase} failed on {}", self.side),
            ));
        }
        Ok(())
    }

    fn cookie(&self, phase: &str) -> Vec<u8> {
        format!("{}-{phase}", self.side).into_bytes()
    }
}

#[async_trait]
impl Hypervisor for End {
    fn uri(&self) -> String {
        format!("test:///{}", self.side)
    }

    fn hypervisor_type(&self) -> &str {
        "Test"
    }

    fn subscribe(&self) -> EventReceiver {
        self.bus.subscribe()
    }

    async fn lookup_by_name(&self, name: &str) -> Result<DomainRef> {
        Ok(dom_ref(name))
    }

    async fn state(&self, _dom: &DomainRef, _flags: u32) -> Result<StateReason> {
        Ok(if self.paused {
            StateReason::Paused(PausedReason::User)
        } else {
            StateReason::Running(RunningReason::Booted)
        })
    }

    async fn migrate_begin3_params(
        &self,
        _dom: &DomainRef,
        params: &[TypedParam],
        flags: u32,
    ) -> Result<(String, Vec<u8>)> {
        self.phase("begin", flags, b"", params, "")?;
        Ok(("<domain/>".into(), self.cookie("begin")))
    }

    async fn migrate_prepare3_params(
        &self,
        params: &[TypedParam],
        cookie_in: &[u8],
        flags: u32,
    ) -> Result<(Vec<u8>, Option<String>)> {
        self.phase("prepare", flags, cookie_in, params, "")?;
        Ok((self.cookie("prepare"), Some("tcp://dest:49152".into())))
    }

    async fn migrate_perform3_params(
        &self,
        _dom: &DomainRef,
        dconnuri: Option<&str>,
        params: &[TypedParam],
        cookie_in: &[u8],
        flags: u32,
    ) -> Result<Vec<u8>> {
        let extra = format!(" dconnuri={dconnuri:?}");
        self.phase("perform", flags, cookie_in, params, &extra)?;
        Ok(self.cookie("perform"))
    }

    async fn migrate_finish3_params(
        &self,
        params: &[TypedParam],
        cookie_in: &[u8],
        flags: u32,
        cancelled: bool,
    ) -> Result<(DomainRef, Vec<u8>)> {
        let extra = format!(" cancelled={cancelled}");
        self.phase("finish", flags, cookie_in, params, &extra)?;
        if cancelled {
            return Err(VirError::new(
                ErrorDomain::Qemu,
                ErrorCode::MigrateFinishOk,
                "migration successfully aborted",
            ));
        }
        Ok((dom_ref("moved"), self.cookie("finish")))
    }

    async fn migrate_confirm3_params(
        &self,
        _dom: &DomainRef,
        params: &[TypedParam],
        cookie_in: &[u8],
        flags: u32,
        cancelled: bool,
    ) -> Result<()> {
        let extra = format!(" cancelled={cancelled}");
        self.phase("confirm", flags, cookie_in, params, &extra)
    }
}

struct Pair {
    src: Connect,
    dst: Connect,
    log: Log,
}

fn pair_with(src_fail: Option<&'static str>, dst_fail: Option<&'static str>, paused: bool) -> Pair {
    let log: Log = Arc::default();
    let end = |side, fail| {
        Arc::new(End {
            side,
            log: log.clone(),
            fail,
            paused,
            bus: EventBus::new(),
        })
    };
    let src = Connect::from_driver(
        Uri::parse("test:///src").unwrap(),
        end("src", src_fail),
        false,
    );
    let dst = Connect::from_driver(
        Uri::parse("test:///dst").unwrap(),
        end("dst", dst_fail),
        false,
    );
    Pair { src, dst, log }
}

fn pair(src_fail: Option<&'static str>, dst_fail: Option<&'static str>) -> Pair {
    pair_with(src_fail, dst_fail, false)
}

impl Pair {
    fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    async fn migrate(&self, params: &[TypedParam], flags: u32) -> Result<crate::Domain> {
        let dom = self.src.lookup_domain_by_name("vm").await.unwrap();
        dom.migrate3(&self.dst, params, flags).await
    }
}

fn bw() -> Vec<TypedParam> {
    vec![TypedParam::new("bandwidth", TypedValue::ULLong(5))]
}

#[tokio::test]
async fn the_five_phases_run_in_order_and_hand_on_their_cookies() {
    let p = pair(None, None);
    let flags = mf::LIVE | mf::AUTO_CONVERGE;
    let ddom = p.migrate(&bw(), flags).await.unwrap();
    assert_eq!(ddom.name(), "moved");
    assert!(ddom.connect().same_connection(&p.dst));
    let bw = "bandwidth=ULLong(5)";
    let xml = "destination_xml=<domain/>";
    let uri = "migrate_uri=tcp://dest:49152";
    assert_eq!(
        p.log(),
        [
            // the source gets CHANGE_PROTECTION, the destination no AUTO_CONVERGE
            format!("src begin flags=0x2101 cookie= [{bw}]"),
            format!("dst prepare flags=0x1 cookie=src-begin [{bw},{xml}]"),
            format!("src perform flags=0x2101 cookie=dst-prepare [{bw},{xml},{uri}] dconnuri=None"),
            format!("dst finish flags=0x1 cookie=src-perform [{bw},{xml},{uri},destination_name=vm] cancelled=false"),
            format!("src confirm flags=0x2101 cookie=dst-finish [{bw},{xml},{uri},destination_name=vm] cancelled=false"),
        ]
    );
}

#[tokio::test]
async fn a_given_destination_name_and_uri_are_kept() {
    let p = pair(None, None);
    let params = vec![
        TypedParam::new("destination_name", TypedValue::String("other".into())),
        TypedParam::new("migrate_uri", TypedValue::String("tcp://mine".into())),
    ];
    p.migrate(&params, mf::LIVE).await.unwrap();
    let log = p.log();
    // Prepare's URI replaces the caller's in place, the name stays the caller's.
    assert!(
        log[3].contains(
            "[destination_name=other,migrate_uri=tcp://dest:49152,destination_xml=<domain/>]"
        ),
        "{log:?}"
    );
}

#[tokio::test]
async fn a_paused_source_migrates_paused() {
    let p = pair_with(None, None, true);
    p.migrate(&[], mf::LIVE).await.unwrap();
    let log = p.log();
    assert!(log[1].starts_with("dst prepare flags=0x21 "), "{log:?}");
    assert!(log[2].starts_with("src perform flags=0x121 "), "{log:?}");
}

#[tokio::test]
async fn an_offline_migration_has_no_perform_phase() {
    let p = pair(None, None);
    let flags = mf::OFFLINE | mf::PERSIST_DEST;
    p.migrate(&[], flags).await.unwrap();
    let log = p.log();
    let phases: Vec<&str> = log.iter().map(|l| l.split(' ').nth(1).unwrap()).collect();
    assert_eq!(phases, ["begin", "prepare", "finish", "confirm"]);
    // Finish gets no cookie (Prepare's is the destination's own).
    assert!(log[2].contains("cookie= ["), "{log:?}");
    assert!(log[2].ends_with("cancelled=false"), "{log:?}");
}

#[tokio::test]
async fn a_failed_prepare_cancels_the_source_job() {
    let p = pair(None, Some("prepare"));
    let err = p.migrate(&[], mf::LIVE).await.unwrap_err();
    assert_eq!(err.message, "operation failed: prepare failed on dst");
    let log = p.log();
    assert_eq!(log.len(), 3, "{log:?}");
    assert!(
        log[2].starts_with("src confirm flags=0x101 cookie= ["),
        "{log:?}"
    );
    assert!(log[2].ends_with("cancelled=true"), "{log:?}");
}

#[tokio::test]
async fn a_failed_perform_cancels_the_destination_and_skips_confirm() {
    let p = pair(Some("perform"), None);
    let err = p.migrate(&[], mf::LIVE).await.unwrap_err();
    // The source's error, not Finish's "migration successfully aborted".
    assert_eq!(err.message, "operation failed: perform failed on src");
    let log = p.log();
    let phases: Vec<&str> = log.iter().map(|l| l.split(' ').nth(1).unwrap()).collect();
    assert_eq!(phases, ["begin", "prepare", "perform", "finish"]);
    assert!(log[3].contains("cookie= ["), "{log:?}");
    assert!(log[3].ends_with("cancelled=true"), "{log:?}");
}

#[tokio::test]
async fn a_failed_finish_cancels_the_source() {
    let p = pair(None, Some("finish"));
    let err = p.migrate(&[], mf::LIVE).await.unwrap_err();
    assert_eq!(err.message, "operation failed: finish failed on dst");
    let log = p.log();
    assert_eq!(log.len(), 5, "{log:?}");
    assert!(
        log[4].starts_with("src confirm flags=0x101 cookie= ["),
        "{log:?}"
    );
    assert!(log[4].ends_with("cancelled=true"), "{log:?}");
}

#[tokio::test]
async fn a_failed_begin_stops_there() {
    let p = pair(Some("begin"), None);
    p.migrate(&[], mf::LIVE).await.unwrap_err();
    assert_eq!(p.log().len(), 1);
}

#[tokio::test]
async fn libvirts_client_refusals() {
    let p = pair(None, None);
    let cases = [
        (mf::PEER2PEER, "use virDomainMigrateToURI3 for peer-to-peer migration"),
        (mf::TUNNELLED, "cannot perform tunnelled migration without using peer2peer flag"),
        (mf::NON_SHARED_DISK | mf::NON_SHARED_INC, "Flags 'VIR_MIGRATE_NON_SHARED_DISK' and 'VIR_MIGRATE_NON_SHARED_INC' are mutually exclusive"),
    ];
    for (flags, want) in cases {
        let err = p.migrate(&[], flags).await.unwrap_err();
        assert_eq!(err.message, want);
        assert_eq!(err.code, ErrorCode::InvalidArg);
    }
    assert!(p.log().is_empty());

    // A read-only destination is refused too.
    let dom = p.src.lookup_domain_by_name("vm").await.unwrap();
    let ro = Connect::from_driver(
        Uri::parse("test:///ro").unwrap(),
        p.dst.driver().clone(),
        true,
    );
    let err = dom.migrate3(&ro, &[], mf::LIVE).await.unwrap_err();
    assert_eq!(
        err.message,
        "operation forbidden: read only access prevents virDomainMigrate3"
    );
}

#[tokio::test]
async fn to_uri3_peer_to_peer_is_one_perform_on_the_source() {
    let p = pair(None, None);
    let dom = p.src.lookup_domain_by_name("vm").await.unwrap();
    dom.migrate_to_uri3(
        Some("qemu+tcp://10.0.0.2/system"),
        &bw(),
        mf::LIVE | mf::PEER2PEER,
    )
    .await
    .unwrap();
    assert_eq!(
        p.log(),
        ["src perform flags=0x3 cookie= [bandwidth=ULLong(5)] dconnuri=Some(\"qemu+tcp://10.0.0.2/system\")"]
    );
    for (uri, want) in [
        (None, "dconnuri in virDomainMigrateToURI3 must not be NULL"),
        (
            Some("qemu:///system"),
            "Attempt to migrate guest to the same host",
        ),
        (
            Some("qemu+tcp://localhost/system"),
            "Attempt to migrate guest to the same host",
        ),
    ] {
        let err = dom
            .migrate_to_uri3(uri, &[], mf::PEER2PEER)
            .await
            .unwrap_err();
        assert_eq!(err.message, want);
    }
    // An explicit UNIX socket is taken as meant.
    dom.migrate_to_uri3(
        Some("qemu+unix:///system?socket=/run/b/sock"),
        &[],
        mf::PEER2PEER,
    )
    .await
    .unwrap();
    assert_eq!(p.log().len(), 2);
}

#[tokio::test]
async fn a_driver_without_migration_is_named_as_libvirt_names_it() {
    let (src, _) = crate::testing::fake_pair(false);
    let (dst, _) = crate::testing::fake_pair(false);
    let dom = src.lookup_domain_by_name("test").await.unwrap();
    let err = dom.migrate3(&dst, &[], mf::LIVE).await.unwrap_err();
    assert_eq!(
        err.message,
        "this function is not supported by the connection driver: virDomainMigrate3"
    );
}

#[tokio::test]
async fn the_features_a_driver_lacks_are_refused_first() {
    // libvirt's test driver (in process) has no migration and says so.
    let src = Connect::open("test:///default").await.unwrap();
    let dst = Connect::open("test:///default").await.unwrap();
    let dom = src.lookup_domain_by_name("test").await.unwrap();
    let err = dom.migrate3(&dst, &[], mf::OFFLINE).await.unwrap_err();
    assert_eq!(
        err.message,
        "argument unsupported: offline migration is not supported by the source host"
    );
    assert_eq!(err.code, ErrorCode::ArgumentUnsupported);
    let err = dom.migrate3(&dst, &[], mf::LIVE).await.unwrap_err();
    assert_eq!(
        err.message,
        "this function is not supported by the connection driver: virDomainMigrate3"
    );
    for (flags, want) in [
        (
            mf::PEER2PEER,
            "p2p migration is not supported by the source host",
        ),
        (0, "direct migration is not supported by the source host"),
        (
            mf::OFFLINE | mf::PEER2PEER,
            "offline migration is not supported by the source host",
        ),
    ] {
        let err = dom
            .migrate_to_uri3(Some("qemu+tcp://10.0.0.2/system"), &[], flags)
            .await
            .unwrap_err();
        assert_eq!(err.message, format!("argument unsupported: {want}"));
    }
}
