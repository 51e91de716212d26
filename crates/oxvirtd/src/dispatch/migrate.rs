//! Migration, version 3 with typed parameters (procedures 302, 303, 305, 306, 307): the
//! phases a client (`virDomainMigrate3`) calls on the source and the destination daemon.

use oxvirt_domain::driver::{DomainRef, Hypervisor, TypedParam as DriverParam, TypedValue};
use oxvirt_rpc::remote::*;
use oxvirt_rpc::xdr::Opaque;
use oxvirt_rpc::RemoteProcedure as P;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use super::{args, dref, ret, void, wire};
use crate::client::Client;

fn params(wire: Vec<TypedParam>) -> Vec<DriverParam> {
    wire.into_iter().map(DriverParam::from).collect()
}

/// `VIR_MIGRATE_PEER2PEER`.
const PEER2PEER: u32 = 1 << 1;
/// `VIR_MIGRATE_OFFLINE`.
const OFFLINE: u32 = 1 << 10;
/// `VIR_MIGRATE_CHANGE_PROTECTION`.
const CHANGE_PROTECTION: u32 = 1 << 8;
/// The flags libvirt keeps from the destination (`VIR_MIGRATE_ABORT_ON_ERROR`,
/// `VIR_MIGRATE_AUTO_CONVERGE`).
pub(crate) const SOURCE_ONLY: u32 = (1 << 12) | (1 << 13);

/// The destination URI a peer-to-peer migration needs.
pub(crate) fn require_dconnuri(dconnuri: Option<String>) -> Result<String, VirError> {
    dconnuri.ok_or_else(|| {
        VirError::new(
            ErrorDomain::Qemu,
            ErrorCode::InvalidArg,
            "missing destination URI for peer-to-peer migration",
        )
    })
}

/// The end of a peer-to-peer migration once Perform has run (`performed`, its cookie or
/// its error): Finish on the destination (`cancelled` if Perform failed), Confirm here
/// (`cancelled` if Finish failed), and the error that says best why. As libvirt: after a
/// failed Perform, a destination that reports a real error (not
/// `VIR_ERR_MIGRATE_FINISH_OK`) explains a source's bare `VIR_ERR_OPERATION_FAILED`.
pub(crate) async fn finish_and_confirm(
    drv: &dyn Hypervisor,
    dest: &dyn Hypervisor,
    dom: &DomainRef,
    params: &[DriverParam],
    performed: Result<Vec<u8>, VirError>,
    flags: u32,
) -> Result<(), VirError> {
    let dest_flags = flags & !SOURCE_ONLY;
    let cookie = performed.clone().unwrap_or_default();
    let finished = dest
        .migrate_finish3_params(params, &cookie, dest_flags, performed.is_err())
        .await;
    let cookie = finished
        .as_ref()
        .map(|(_, c)| c.clone())
        .unwrap_or_default();
    let confirmed = drv
        .migrate_confirm3_params(dom, params, &cookie, flags, finished.is_err())
        .await;
    if let Err(e) = performed {
        return Err(match finished {
            Err(f)
                if e.domain == ErrorDomain::Qemu
                    && e.code == ErrorCode::OperationFailed
                    && f.domain == ErrorDomain::Qemu
                    && f.code != ErrorCode::MigrateFinishOk =>
            {
                f
            }
            _ => e,
        });
    }
    finished?;
    confirmed
}

/// `params` with the string parameter `name` set to `value`.
pub(crate) fn with_string(params: &[DriverParam], name: &str, value: &str) -> Vec<DriverParam> {
    let mut out: Vec<DriverParam> = params.iter().filter(|p| p.field != name).cloned().collect();
    out.push(DriverParam::new(name, TypedValue::String(value.to_owned())));
    out
}

/// Opens the destination of a peer-to-peer migration (libvirt's
/// `qemuMigrationSrcPerformPeer2Peer`), with this daemon's keepalive
/// ([`oxvirt_remote::client_keepalive`], set from its `keepalive_interval` /
/// `keepalive_count`). A failed open is reported with the open's own error, unwrapped, as
/// libvirt 9.0 does (Debian's libvirtd as the source prints "unable to connect to server at
/// 'H:P': Connection refused", "Unable to read TLS confirmation: Input/output error"; the
/// "Failed to connect to remote libvirt URI" wrapper is older libvirt's). libvirt's open
/// waits for ever on a daemon that accepts the connection but never answers; here the
/// whole open is bounded by the time keepalive would give such a daemon,
/// `interval * (count + 1)`, and fails as a keepalive timeout: "internal error: connection
/// closed due to keepalive timeout".
pub(crate) async fn open_destination(dconnuri: &str) -> Result<oxvirt::Connect, VirError> {
    let open = oxvirt::Connect::open(dconnuri);
    match oxvirt_remote::client_keepalive() {
        Some((interval, count)) => tokio::time::timeout(interval * (count + 1), open)
            .await
            .map_err(|_| oxvirt_remote::keepalive_timeout())?,
        None => open.await,
    }
}

/// How often [`watching_destination`] asks the destination whether it is still there.
const DESTINATION_PROBE: std::time::Duration = std::time::Duration::from_secs(1);

/// libvirt's error for a destination whose connection went away while the source's QEMU
/// was sending (`qemuMigrationAnyCompleted`, `VIR_ERR_OPERATION_FAILED`).
pub(crate) fn lost_destination() -> VirError {
    VirError::new(
        ErrorDomain::Qemu,
        ErrorCode::OperationFailed,
        "Lost connection to destination host",
    )
}

/// Runs `work` (the source's perform phase) while watching the connection to the
/// destination `dest`, as libvirt checks `virConnectIsAlive(dconn)` while it waits for
/// QEMU's migration: a call each [`DESTINATION_PROBE`] that fails at the RPC level (the
/// connection closed, by keepalive for a destination that stopped answering) aborts the
/// source's migration job, and the phase fails with "Lost connection to destination host"
/// (unless QEMU had finished already).
pub(crate) async fn watching_destination<T>(
    drv: &dyn Hypervisor,
    dom: &DomainRef,
    dest: &dyn Hypervisor,
    work: impl std::future::Future<Output = Result<T, VirError>>,
) -> Result<T, VirError> {
    tokio::pin!(work);
    let lost = async {
        loop {
            tokio::time::sleep(DESTINATION_PROBE).await;
            match dest.version().await {
                Err(e) if e.domain == ErrorDomain::Rpc => return e,
                _ => {}
            }
        }
    };
    tokio::select! {
        done = &mut work => done,
        why = lost => {
            crate::log::log(
                crate::log::Level::Warn,
                format_args!("migration of {}: destination lost ({}), aborting", dom.name, why.message),
            );
            let _ = drv.abort_job(dom).await;
            work.await.map_err(|_| lost_destination())
        }
    }
}

/// A peer-to-peer migration (`VIR_MIGRATE_PEER2PEER`, libvirt's
/// `qemuMigrationSrcPerformPeer2Peer3`): this daemon connects to the destination
/// `dconnuri` itself and runs the five phases, Begin, Perform and Confirm here, Prepare and
/// Finish there. A failure after Prepare cancels the destination (Finish with
/// `cancelled`) and lets the source run on (Confirm with `cancelled`).
async fn peer2peer(
    drv: &dyn Hypervisor,
    dom: DomainRef,
    dconnuri: Option<String>,
    params: Vec<DriverParam>,
    flags: u32,
) -> Result<(), VirError> {
    let dconnuri = require_dconnuri(dconnuri)?;
    let flags = flags & !PEER2PEER;
    let dest_flags = flags & !SOURCE_ONLY;
    let dconn = open_destination(&dconnuri).await?;
    let dest = dconn.driver();
    // Begin sees PEER2PEER, as libvirt's (the migration job is then the Perform call's).
    let (xml, cookie) = drv
        .migrate_begin3_params(&dom, &params, flags | PEER2PEER)
        .await?;
    let mut params = with_string(&params, "destination_xml", &xml);
    let (cookie, uri_out) = match dest
        .migrate_prepare3_params(&params, &cookie, dest_flags)
        .await
    {
        Ok(answer) => answer,
        Err(e) => {
            let _ = drv
                .migrate_confirm3_params(&dom, &params, &[], flags, true)
                .await;
            return Err(e);
        }
    };
    if let Some(uri) = uri_out {
        params = with_string(&params, "migrate_uri", &uri);
    }
    if !params.iter().any(|p| p.field == "destination_name") {
        params = with_string(&params, "destination_name", &dom.name);
    }
    let performed = if flags & OFFLINE != 0 {
        // No perform phase: the finish phase gets no cookie, as libvirt sends it (the
        // prepare phase's cookie is the destination's own, which libvirt's finish refuses
        // as "Attempt to migrate guest to the same host").
        Ok(Vec::new())
    } else {
        let perform = drv.migrate_perform3_params(&dom, None, &params, &cookie, flags);
        watching_destination(drv, &dom, dest.as_ref(), perform).await
    };
    finish_and_confirm(drv, dest.as_ref(), &dom, &params, performed, flags).await
}

/// Serves the migration procedures; `None` for any other.
pub(crate) async fn dispatch_migrate(
    client: &Client,
    drv: &dyn Hypervisor,
    procedure: P,
    payload: &[u8],
) -> Option<Result<Vec<u8>, VirError>> {
    Some(match procedure {
        P::DomainMigrateBegin3Params => begin(client, drv, payload).await,
        P::DomainMigratePrepare3Params => prepare(drv, payload).await,
        P::DomainMigratePerform3Params => perform(client, drv, payload).await,
        P::DomainMigrateFinish3Params => finish(drv, payload).await,
        P::DomainMigrateConfirm3Params => confirm(client, drv, payload).await,
        P::DomainGetJobStats => job_stats(drv, payload).await,
        P::DomainMigrateSetMaxSpeed => set_max_speed(drv, payload).await,
        P::DomainMigrateGetMaxSpeed => get_max_speed(drv, payload).await,
        P::DomainMigrateSetMaxDowntime => set_max_downtime(drv, payload).await,
        P::DomainMigrateGetMaxDowntime => get_max_downtime(drv, payload).await,
        P::DomainMigrateStartPostCopy => start_post_copy(drv, payload).await,
        _ => return None,
    })
}

/// `virDomainGetJobStats`: the job's type and statistics (a completed migration's with
/// `VIR_DOMAIN_JOB_STATS_COMPLETED`).
async fn job_stats(drv: &dyn Hypervisor, payload: &[u8]) -> Result<Vec<u8>, VirError> {
    let a: DomainGetJobStatsArgs = args(payload)?;
    let (kind, stats) = drv.job_stats(&dref(a.dom), a.flags).await?;
    ret(&DomainGetJobStatsRet {
        r#type: kind,
        params: stats.into_iter().map(TypedParam::from).collect(),
    })
}

async fn set_max_speed(drv: &dyn Hypervisor, payload: &[u8]) -> Result<Vec<u8>, VirError> {
    let a: DomainMigrateSetMaxSpeedArgs = args(payload)?;
    drv.migrate_set_max_speed(&dref(a.dom), a.bandwidth, a.flags)
        .await?;
    void()
}

async fn get_max_speed(drv: &dyn Hypervisor, payload: &[u8]) -> Result<Vec<u8>, VirError> {
    let a: DomainMigrateGetMaxSpeedArgs = args(payload)?;
    let bandwidth = drv.migrate_get_max_speed(&dref(a.dom), a.flags).await?;
    ret(&DomainMigrateGetMaxSpeedRet { bandwidth })
}

async fn set_max_downtime(drv: &dyn Hypervisor, payload: &[u8]) -> Result<Vec<u8>, VirError> {
    let a: DomainMigrateSetMaxDowntimeArgs = args(payload)?;
    drv.migrate_set_max_downtime(&dref(a.dom), a.downtime, a.flags)
        .await?;
    void()
}

async fn get_max_downtime(drv: &dyn Hypervisor, payload: &[u8]) -> Result<Vec<u8>, VirError> {
    let a: DomainMigrateGetMaxDowntimeArgs = args(payload)?;
    let downtime = drv.migrate_get_max_downtime(&dref(a.dom), a.flags).await?;
    ret(&DomainMigrateGetMaxDowntimeRet { downtime })
}

/// `virDomainMigrateStartPostCopy` (its arguments have the shape of procedure 387's:
/// the domain and flags).
async fn start_post_copy(drv: &dyn Hypervisor, payload: &[u8]) -> Result<Vec<u8>, VirError> {
    let a: DomainMigrateGetMaxDowntimeArgs = args(payload)?;
    drv.migrate_start_post_copy(&dref(a.dom), a.flags).await?;
    void()
}

async fn begin(client: &Client, drv: &dyn Hypervisor, payload: &[u8]) -> Result<Vec<u8>, VirError> {
    let a: DomainMigrateBegin3ParamsArgs = args(payload)?;
    let dom = dref(a.dom);
    let (xml, cookie) = drv
        .migrate_begin3_params(&dom, &params(a.params), a.flags)
        .await?;
    if a.flags & CHANGE_PROTECTION != 0 && a.flags & OFFLINE == 0 {
        // The migration job lasts until this client's confirm phase, or its going away.
        client.migration_begun(dom);
    }
    ret(&DomainMigrateBegin3ParamsRet {
        cookie_out: Opaque(cookie),
        xml,
    })
}

async fn prepare(drv: &dyn Hypervisor, payload: &[u8]) -> Result<Vec<u8>, VirError> {
    let a: DomainMigratePrepare3ParamsArgs = args(payload)?;
    let (cookie, uri_out) = drv
        .migrate_prepare3_params(&params(a.params), &a.cookie_in.0, a.flags)
        .await?;
    ret(&DomainMigratePrepare3ParamsRet {
        cookie_out: Opaque(cookie),
        uri_out,
    })
}

async fn perform(
    client: &Client,
    drv: &dyn Hypervisor,
    payload: &[u8],
) -> Result<Vec<u8>, VirError> {
    let a: DomainMigratePerform3ParamsArgs = args(payload)?;
    if a.flags & PEER2PEER != 0 {
        crate::access::check_destination_uri(client, a.dconnuri.as_deref())?;
    }
    if a.flags & PEER2PEER != 0 && a.flags & super::migrate_tunnel::TUNNELLED != 0 {
        let (dom, params) = (dref(a.dom), params(a.params));
        super::migrate_tunnel::peer2peer(drv, dom, a.dconnuri, params, a.flags).await?;
        return ret(&DomainMigratePerform3ParamsRet {
            cookie_out: Opaque(Vec::new()),
        });
    }
    if a.flags & PEER2PEER != 0 {
        peer2peer(drv, dref(a.dom), a.dconnuri, params(a.params), a.flags).await?;
        return ret(&DomainMigratePerform3ParamsRet {
            cookie_out: Opaque(Vec::new()),
        });
    }
    let cookie = drv
        .migrate_perform3_params(
            &dref(a.dom),
            a.dconnuri.as_deref(),
            &params(a.params),
            &a.cookie_in.0,
            a.flags,
        )
        .await?;
    ret(&DomainMigratePerform3ParamsRet {
        cookie_out: Opaque(cookie),
    })
}

async fn finish(drv: &dyn Hypervisor, payload: &[u8]) -> Result<Vec<u8>, VirError> {
    let a: DomainMigrateFinish3ParamsArgs = args(payload)?;
    let (dom, cookie) = drv
        .migrate_finish3_params(&params(a.params), &a.cookie_in.0, a.flags, a.cancelled != 0)
        .await?;
    ret(&DomainMigrateFinish3ParamsRet {
        dom: wire(dom),
        cookie_out: Opaque(cookie),
    })
}

async fn confirm(
    client: &Client,
    drv: &dyn Hypervisor,
    payload: &[u8],
) -> Result<Vec<u8>, VirError> {
    let a: DomainMigrateConfirm3ParamsArgs = args(payload)?;
    let dom = dref(a.dom);
    let confirmed = drv
        .migrate_confirm3_params(
            &dom,
            &params(a.params),
            &a.cookie_in.0,
            a.flags,
            a.cancelled != 0,
        )
        .await;
    client.migration_confirmed(&dom.uuid);
    confirmed?;
    void()
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;
    use oxvirt_domain::driver::{DomainRef, EventBus, EventReceiver, Result, TypedValue};
    use oxvirt_rpc::types::NonnullDomain;
    use oxvirt_rpc::xdr::{decode_from, encode_to_vec};
    use oxvirt_xml::ErrorCode;

    use super::*;

    /// A hypervisor that records the migration phases it is called for.
    struct Fake(EventBus, Mutex<Vec<String>>);

    impl Fake {
        fn log(&self, line: String) {
            self.1.lock().unwrap().push(line);
        }
    }

    fn uri_of(params: &[DriverParam]) -> String {
        params
            .iter()
            .map(|p| match &p.value {
                TypedValue::String(s) => format!("{}={s}", p.field),
                other => format!("{}={other:?}", p.field),
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    #[async_trait]
    impl Hypervisor for Fake {
        fn uri(&self) -> String {
            "fake:///".into()
        }

        fn hypervisor_type(&self) -> &str {
            "FAKE"
        }

        fn subscribe(&self) -> EventReceiver {
            self.0.subscribe()
        }

        async fn migrate_begin3_params(
            &self,
            dom: &DomainRef,
            params: &[DriverParam],
            flags: u32,
        ) -> Result<(String, Vec<u8>)> {
            self.log(format!("begin {} {} {flags}", dom.name, uri_of(params)));
            Ok(("<domain/>".into(), b"c1\0".to_vec()))
        }

        async fn migrate_prepare3_params(
            &self,
            params: &[DriverParam],
            cookie_in: &[u8],
            flags: u32,
        ) -> Result<(Vec<u8>, Option<String>)> {
            self.log(format!("prepare {} {cookie_in:?} {flags}", uri_of(params)));
            Ok((b"c2\0".to_vec(), Some("tcp://h:49152".into())))
        }

        async fn migrate_perform3_params(
            &self,
            dom: &DomainRef,
            dconnuri: Option<&str>,
            params: &[DriverParam],
            cookie_in: &[u8],
            flags: u32,
        ) -> Result<Vec<u8>> {
            self.log(format!(
                "perform {} {dconnuri:?} {} {cookie_in:?} {flags}",
                dom.name,
                uri_of(params)
            ));
            Ok(b"c3\0".to_vec())
        }

        async fn migrate_finish3_params(
            &self,
            params: &[DriverParam],
            cookie_in: &[u8],
            flags: u32,
            cancelled: bool,
        ) -> Result<(DomainRef, Vec<u8>)> {
            self.log(format!(
                "finish {} {cookie_in:?} {flags} {cancelled}",
                uri_of(params)
            ));
            Ok((
                DomainRef {
                    name: "vm2".into(),
                    uuid: [7; 16].into(),
                    id: 3,
                },
                b"c4\0".to_vec(),
            ))
        }

        async fn migrate_confirm3_params(
            &self,
            dom: &DomainRef,
            params: &[DriverParam],
            cookie_in: &[u8],
            flags: u32,
            cancelled: bool,
        ) -> Result<()> {
            self.log(format!(
                "confirm {} {} {cookie_in:?} {flags} {cancelled}",
                dom.name,
                uri_of(params)
            ));
            Ok(())
        }
    }

    fn dom() -> NonnullDomain {
        NonnullDomain {
            name: "vm".into(),
            uuid: [7; 16],
            id: 1,
        }
    }

    fn uri_param() -> Vec<TypedParam> {
        vec![TypedParam {
            field: "migrate_uri".into(),
            value: TypedParamValue::String("tcp://h".into()),
        }]
    }

    async fn call(drv: &Fake, p: P, payload: Vec<u8>) -> Vec<u8> {
        dispatch_migrate(&Client::new(false), drv, p, &payload)
            .await
            .expect("a migration procedure")
            .expect("the call succeeds")
    }

    #[tokio::test]
    async fn the_five_phases_reach_the_driver_and_come_back_on_the_wire() {
        let drv = Fake(EventBus::new(), Mutex::new(Vec::new()));
        let out = call(
            &drv,
            P::DomainMigrateBegin3Params,
            encode_to_vec(&DomainMigrateBegin3ParamsArgs {
                dom: dom(),
                params: uri_param(),
                flags: 257,
            }),
        )
        .await;
        let r: DomainMigrateBegin3ParamsRet = decode_from(&out).unwrap();
        assert_eq!(
            (r.xml.as_str(), r.cookie_out.0.as_slice()),
            ("<domain/>", &b"c1\0"[..])
        );

        let out = call(
            &drv,
            P::DomainMigratePrepare3Params,
            encode_to_vec(&DomainMigratePrepare3ParamsArgs {
                params: uri_param(),
                cookie_in: Opaque(b"c1\0".to_vec()),
                flags: 1,
            }),
        )
        .await;
        let r: DomainMigratePrepare3ParamsRet = decode_from(&out).unwrap();
        assert_eq!(r.uri_out.as_deref(), Some("tcp://h:49152"));
        assert_eq!(r.cookie_out.0, b"c2\0");

        let out = call(
            &drv,
            P::DomainMigratePerform3Params,
            encode_to_vec(&DomainMigratePerform3ParamsArgs {
                dom: dom(),
                dconnuri: None,
                params: uri_param(),
                cookie_in: Opaque(b"c2\0".to_vec()),
                flags: 257,
            }),
        )
        .await;
        let r: DomainMigratePerform3ParamsRet = decode_from(&out).unwrap();
        assert_eq!(r.cookie_out.0, b"c3\0");

        let out = call(
            &drv,
            P::DomainMigrateFinish3Params,
            encode_to_vec(&DomainMigrateFinish3ParamsArgs {
                params: uri_param(),
                cookie_in: Opaque(b"c3\0".to_vec()),
                flags: 1,
                cancelled: 0,
            }),
        )
        .await;
        let r: DomainMigrateFinish3ParamsRet = decode_from(&out).unwrap();
        assert_eq!((r.dom.name.as_str(), r.dom.id), ("vm2", 3));
        assert_eq!(r.cookie_out.0, b"c4\0");

        let out = call(
            &drv,
            P::DomainMigrateConfirm3Params,
            encode_to_vec(&DomainMigrateConfirm3ParamsArgs {
                dom: dom(),
                params: uri_param(),
                cookie_in: Opaque(b"c4\0".to_vec()),
                flags: 257,
                cancelled: 1,
            }),
        )
        .await;
        assert!(out.is_empty());

        let log = drv.1.lock().unwrap().clone();
        assert_eq!(
            log,
            [
                "begin vm migrate_uri=tcp://h 257",
                "prepare migrate_uri=tcp://h [99, 49, 0] 1",
                "perform vm None migrate_uri=tcp://h [99, 50, 0] 257",
                "finish migrate_uri=tcp://h [99, 51, 0] 1 false",
                "confirm vm migrate_uri=tcp://h [99, 52, 0] 257 true",
            ]
        );
    }

    #[tokio::test]
    async fn other_procedures_pass_and_unsupported_drivers_say_so() {
        struct Bare(EventBus);
        #[async_trait]
        impl Hypervisor for Bare {
            fn uri(&self) -> String {
                "bare:///".into()
            }
            fn hypervisor_type(&self) -> &str {
                "BARE"
            }
            fn subscribe(&self) -> EventReceiver {
                self.0.subscribe()
            }
        }
        let drv = Bare(EventBus::new());
        assert!(
            dispatch_migrate(&Client::new(false), &drv, P::DomainGetInfo, &[])
                .await
                .is_none()
        );
        let payload = encode_to_vec(&DomainMigrateBegin3ParamsArgs {
            dom: dom(),
            params: Vec::new(),
            flags: 0,
        });
        let e = dispatch_migrate(
            &Client::new(false),
            &drv,
            P::DomainMigrateBegin3Params,
            &payload,
        )
        .await
        .unwrap()
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::NoSupport);
        assert!(
            e.message.contains("virDomainMigrateBegin3Params"),
            "{}",
            e.message
        );
    }

    #[test]
    fn a_readonly_connection_may_not_migrate() {
        for p in [
            P::DomainMigrateBegin3Params,
            P::DomainMigratePrepare3Params,
            P::DomainMigratePerform3Params,
            P::DomainMigrateFinish3Params,
            P::DomainMigrateConfirm3Params,
        ] {
            let e = super::super::check_readonly(p, &[]).unwrap_err();
            assert_eq!(e.code, ErrorCode::OperationDenied, "{p:?}");
        }
    }
}
