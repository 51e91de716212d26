//! Tunnelled migration (`virsh migrate --p2p --tunnelled`, `VIR_MIGRATE_TUNNELLED` with
//! `VIR_MIGRATE_PEER2PEER`): QEMU's migration stream travels inside the RPC connection
//! the source daemon opened to the destination.
//!
//! - Destination: procedure 304 (`virDomainMigratePrepareTunnel3Params`) is a stream
//!   procedure. Its reply carries the cookie; then the caller's STREAM packets (same
//!   procedure and serial) are written into the incoming QEMU ([`pump`]): the caller's
//!   finish is confirmed once QEMU has every byte, its abort drops the tunnel, and a QEMU
//!   that cannot take the data aborts the stream with the error.
//! - Source ([`peer2peer`], libvirt's `qemuMigrationSrcPerformPeer2Peer3` with
//!   `qemuMigrationSrcPerformTunnel`): Begin here, PrepareTunnel3 there (opening the
//!   stream), Perform here with QEMU's stream pumped into it, Finish there, Confirm here.
//!   A failure after the prepare cancels the destination (Finish with `cancelled`) and
//!   lets the source run on (Confirm with `cancelled`).

use std::sync::Arc;

use oxvirt_domain::driver::tunnel::MigrationTunnel;
use oxvirt_domain::driver::{DomainRef, Hypervisor, TypedParam as DriverParam};
use oxvirt_rpc::remote::{
    DomainMigratePrepareTunnel3ParamsArgs, DomainMigratePrepareTunnel3ParamsRet,
};
use oxvirt_rpc::stream::{self as rpc, Event, StreamState};
use oxvirt_rpc::xdr::Opaque;
use oxvirt_rpc::{Header, Packet};
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};
use tokio::sync::mpsc;

use super::migrate::{
    finish_and_confirm, lost_destination, require_dconnuri, with_string, SOURCE_ONLY,
};
use super::stream::{Ending, Outbox, StreamCall};
use super::{args, ret};

/// `VIR_MIGRATE_TUNNELLED`.
pub(crate) const TUNNELLED: u32 = 1 << 2;

/// A source that never ends: the destination sends nothing back on a tunnel's stream.
struct Silent;

impl tokio::io::AsyncRead for Silent {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        _: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Pending
    }
}

/// Opens procedure 304: the driver readies the incoming domain; the reply carries its
/// cookie, the stream then feeds the tunnel.
pub(crate) async fn open(drv: &dyn Hypervisor, payload: &[u8]) -> Result<StreamCall, VirError> {
    let a: DomainMigratePrepareTunnel3ParamsArgs = args(payload)?;
    let params: Vec<DriverParam> = a.params.into_iter().map(DriverParam::from).collect();
    let (cookie, tunnel) = drv
        .migrate_prepare_tunnel3_params(&params, &a.cookie_in.0, a.flags)
        .await?;
    Ok(StreamCall {
        reply: ret(&DomainMigratePrepareTunnel3ParamsRet {
            cookie_out: Opaque(cookie),
        })?,
        source: Box::new(Silent),
        sink: None,
        transfer: Some(super::stream::storage_stream::Transfer::Migration(tunnel)),
    })
}

/// Aborts the stream with `err`.
fn fail(call: &Header, out: &Outbox, err: VirError) -> Ending {
    let _ = out.tx.send(rpc::abort(call, Some(&err)));
    Ending::Failed(err)
}

/// Confirms the caller's finish or abort.
fn confirm(call: &Header, out: &Outbox, ending: Ending) -> Ending {
    if out.tx.send(rpc::finish(call)).is_ok() {
        ending
    } else {
        Ending::Disconnected
    }
}

/// Writes the caller's data packets into `tunnel` in order until the caller finishes
/// (confirmed once the tunnel's end has everything) or aborts (the tunnel dropped,
/// confirmed). A tunnel that stops taking data aborts the stream with its error; the
/// connection's end drops the tunnel.
pub(crate) async fn pump(
    call: Header,
    mut tunnel: MigrationTunnel,
    out: Outbox,
    mut incoming: mpsc::Receiver<Packet>,
) -> Ending {
    let mut state = StreamState::new();
    loop {
        let p = tokio::select! {
            p = incoming.recv() => p,
            () = out.tx.closed() => None,
            err = tunnel.closed() => return fail(&call, &out, err),
        };
        let Some(p) = p else {
            return Ending::Disconnected;
        };
        if !rpc::belongs_to(&call, &p.header) {
            continue;
        }
        match state.on_packet(&p) {
            Event::Data(bytes) => {
                let sent = tokio::select! {
                    sent = tunnel.send(bytes) => sent,
                    () = out.tx.closed() => return Ending::Disconnected,
                };
                if let Err(err) = sent {
                    return fail(&call, &out, err);
                }
            }
            Event::Finish => {
                return match tunnel.finish().await {
                    Ok(()) => confirm(&call, &out, Ending::Finished),
                    Err(err) => fail(&call, &out, err),
                };
            }
            Event::Abort(_) => {
                drop(tunnel);
                return confirm(&call, &out, Ending::Aborted);
            }
            // Holes and anything else mean nothing in a migration stream.
            _ => {}
        }
    }
}

/// The checks libvirt makes before a tunnelled peer-to-peer migration starts
/// (`qemuMigrationSrcPerformPeer2Peer`).
fn check_params(params: &[DriverParam]) -> Result<(), VirError> {
    if params.iter().any(|p| p.field == "migrate_uri") {
        return Err(VirError::new(
            ErrorDomain::Qemu,
            ErrorCode::ArgumentUnsupported,
            "migration URI is not supported by tunnelled migration",
        ));
    }
    Ok(())
}

/// A tunnelled peer-to-peer migration of `dom` to the daemon at `dconnuri`, driven from
/// here (the source): the five phases with the migration stream inside the connection.
pub(crate) async fn peer2peer(
    drv: &dyn Hypervisor,
    dom: DomainRef,
    dconnuri: Option<String>,
    params: Vec<DriverParam>,
    flags: u32,
) -> Result<(), VirError> {
    let dconnuri = require_dconnuri(dconnuri)?;
    check_params(&params)?;
    let dconn = super::migrate::open_destination(&dconnuri).await?;
    let dest = Arc::clone(dconn.driver());
    run(drv, dest.as_ref(), dom, params, flags).await
}

/// Whether `err` says the connection to the destination went away (the client's
/// "client socket is closed" or "End of file while reading data").
fn connection_lost(err: &VirError) -> bool {
    err.domain == ErrorDomain::Rpc
        && (err.message.ends_with("client socket is closed")
            || err
                .message
                .ends_with("connection closed due to keepalive timeout")
            || err.message.starts_with("End of file while reading data"))
}

/// The phases of [`peer2peer`] between this driver and the destination's.
async fn run(
    drv: &dyn Hypervisor,
    dest: &dyn Hypervisor,
    dom: DomainRef,
    params: Vec<DriverParam>,
    flags: u32,
) -> Result<(), VirError> {
    let dest_flags = flags & !SOURCE_ONLY;
    let (xml, cookie) = drv.migrate_begin3_params(&dom, &params, flags).await?;
    let mut params = with_string(&params, "destination_xml", &xml);
    if !params.iter().any(|p| p.field == "destination_name") {
        params = with_string(&params, "destination_name", &dom.name);
    }
    let (cookie, tunnel) = match dest
        .migrate_prepare_tunnel3_params(&params, &cookie, dest_flags)
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
    let perform = drv.migrate_perform3_tunnel(&dom, &params, &cookie, flags, tunnel);
    let performed = super::migrate::watching_destination(drv, &dom, dest, perform)
        .await
        .map_err(|e| {
            if connection_lost(&e) {
                lost_destination()
            } else {
                e
            }
        });
    finish_and_confirm(drv, dest, &dom, &params, performed, flags).await
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;
    use oxvirt_domain::driver::tunnel::{migration_tunnel, TunnelEvent};
    use oxvirt_domain::driver::{EventBus, EventReceiver, Result};
    use oxvirt_rpc::packet::PROGRAM_REMOTE;
    use oxvirt_rpc::{MessageStatus, MessageType};

    use super::*;

    fn call() -> Header {
        Header {
            prog: PROGRAM_REMOTE,
            vers: 1,
            procedure: 304,
            kind: MessageType::Call,
            serial: 5,
            status: MessageStatus::Ok,
        }
    }

    #[tokio::test]
    async fn the_callers_data_reaches_the_tunnel_and_its_finish_waits_for_the_end() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let out = Outbox::new(tx);
        let (to_stream, incoming) = mpsc::channel(8);
        let (tunnel, mut end) = migration_tunnel();
        let task = tokio::spawn(pump(call(), tunnel, out, incoming));
        for chunk in [vec![1u8; 4], vec![2u8; 2]] {
            to_stream.send(rpc::data(&call(), chunk)).await.unwrap();
        }
        to_stream.send(rpc::finish(&call())).await.unwrap();
        assert_eq!(end.recv().await, TunnelEvent::Data(vec![1; 4]));
        assert_eq!(end.recv().await, TunnelEvent::Data(vec![2; 2]));
        assert_eq!(end.recv().await, TunnelEvent::Finish);
        // Nothing is confirmed before the end has everything.
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(rx.try_recv().is_err());
        end.done(Ok(()));
        assert_eq!(task.await.unwrap(), Ending::Finished);
        assert_eq!(rx.recv().await.unwrap(), rpc::finish(&call()));
    }

    #[tokio::test]
    async fn a_tunnel_that_fails_aborts_the_stream_with_its_error() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let (_to_stream, incoming) = mpsc::channel(8);
        let (tunnel, end) = migration_tunnel();
        let task = tokio::spawn(pump(call(), tunnel, Outbox::new(tx), incoming));
        let err = VirError::new(
            ErrorDomain::Streams,
            ErrorCode::SystemError,
            "cannot write to stream: Broken pipe",
        );
        end.done(Err(err.clone()));
        assert_eq!(task.await.unwrap(), Ending::Failed(err.clone()));
        let p = rx.recv().await.unwrap();
        assert_eq!(
            (p.header.kind, p.header.status),
            (MessageType::Stream, MessageStatus::Error)
        );
        assert_eq!(rpc::abort_error(&p.payload).message, err.message);
    }

    #[tokio::test]
    async fn the_callers_abort_drops_the_tunnel() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let (to_stream, incoming) = mpsc::channel(8);
        let (tunnel, mut end) = migration_tunnel();
        let task = tokio::spawn(pump(call(), tunnel, Outbox::new(tx), incoming));
        to_stream.send(rpc::abort(&call(), None)).await.unwrap();
        assert_eq!(end.recv().await, TunnelEvent::Abort);
        assert_eq!(task.await.unwrap(), Ending::Aborted);
        assert_eq!(rx.recv().await.unwrap(), rpc::finish(&call()));
    }

    /// Records the phases; the destination's prepare refuses when `refuse`, the perform
    /// fails when `break_perform`.
    struct Fake {
        bus: EventBus,
        log: Arc<Mutex<Vec<String>>>,
        refuse: bool,
        break_perform: bool,
    }

    impl Fake {
        fn log(&self, s: String) {
            self.log.lock().unwrap().push(s);
        }
    }

    fn names(params: &[DriverParam]) -> String {
        let mut v: Vec<&str> = params.iter().map(|p| p.field.as_str()).collect();
        v.sort();
        v.join(",")
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
            self.bus.subscribe()
        }
        async fn migrate_begin3_params(
            &self,
            dom: &DomainRef,
            _params: &[DriverParam],
            flags: u32,
        ) -> Result<(String, Vec<u8>)> {
            self.log(format!("begin {} {flags}", dom.name));
            Ok(("<domain/>".into(), b"c1".to_vec()))
        }
        async fn migrate_prepare_tunnel3_params(
            &self,
            params: &[DriverParam],
            cookie_in: &[u8],
            flags: u32,
        ) -> Result<(Vec<u8>, MigrationTunnel)> {
            self.log(format!("prepare {} {cookie_in:?} {flags}", names(params)));
            if self.refuse {
                return Err(VirError::new(
                    ErrorDomain::Qemu,
                    ErrorCode::OperationInvalid,
                    "domain 'vm' is already active",
                ));
            }
            let (tunnel, mut end) = migration_tunnel();
            let log = Arc::clone(&self.log);
            tokio::spawn(async move {
                let mut n = 0;
                loop {
                    match end.recv().await {
                        TunnelEvent::Data(d) => n += d.len(),
                        TunnelEvent::Finish => {
                            log.lock().unwrap().push(format!("tunnel {n} finished"));
                            end.done(Ok(()));
                            return;
                        }
                        TunnelEvent::Abort => {
                            log.lock().unwrap().push(format!("tunnel {n} aborted"));
                            return;
                        }
                    }
                }
            });
            Ok((b"c2".to_vec(), tunnel))
        }
        async fn migrate_perform3_tunnel(
            &self,
            dom: &DomainRef,
            _params: &[DriverParam],
            cookie_in: &[u8],
            flags: u32,
            mut tunnel: MigrationTunnel,
        ) -> Result<Vec<u8>> {
            self.log(format!("perform {} {cookie_in:?} {flags}", dom.name));
            tunnel.send(vec![0; 100]).await?;
            if self.break_perform {
                return Err(VirError::new(
                    ErrorDomain::Qemu,
                    ErrorCode::OperationFailed,
                    "migration out job: unexpectedly failed",
                ));
            }
            tunnel.finish().await?;
            Ok(b"c3".to_vec())
        }
        async fn migrate_finish3_params(
            &self,
            _params: &[DriverParam],
            cookie_in: &[u8],
            flags: u32,
            cancelled: bool,
        ) -> Result<(DomainRef, Vec<u8>)> {
            self.log(format!("finish {cookie_in:?} {flags} {cancelled}"));
            if cancelled {
                // What the QEMU driver answers once it dropped the incoming domain.
                return Err(VirError::bare(
                    ErrorDomain::Qemu,
                    ErrorCode::MigrateFinishOk,
                ));
            }
            Ok((
                DomainRef {
                    name: "vm".into(),
                    uuid: [1; 16].into(),
                    id: 2,
                },
                b"c4".to_vec(),
            ))
        }
        async fn migrate_confirm3_params(
            &self,
            dom: &DomainRef,
            _params: &[DriverParam],
            cookie_in: &[u8],
            flags: u32,
            cancelled: bool,
        ) -> Result<()> {
            self.log(format!(
                "confirm {} {cookie_in:?} {flags} {cancelled}",
                dom.name
            ));
            Ok(())
        }
    }

    fn fake(log: &Arc<Mutex<Vec<String>>>, refuse: bool, break_perform: bool) -> Fake {
        Fake {
            bus: EventBus::new(),
            log: Arc::clone(log),
            refuse,
            break_perform,
        }
    }

    fn vm() -> DomainRef {
        DomainRef {
            name: "vm".into(),
            uuid: [1; 16].into(),
            id: 1,
        }
    }

    /// `VIR_MIGRATE_PEER2PEER`.
    const PEER2PEER: u32 = 1 << 1;
    /// LIVE | PEER2PEER | TUNNELLED | AUTO_CONVERGE.
    const FLAGS: u32 = 1 | PEER2PEER | TUNNELLED | (1 << 13);

    #[tokio::test]
    async fn the_phases_run_in_libvirts_order_with_the_stream_between() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let (src, dst) = (fake(&log, false, false), fake(&log, false, false));
        run(&src, &dst, vm(), Vec::new(), FLAGS).await.unwrap();
        let log = log.lock().unwrap().clone();
        assert_eq!(
            log,
            [
                "begin vm 8199",
                "prepare destination_name,destination_xml [99, 49] 7",
                "perform vm [99, 50] 8199",
                "tunnel 100 finished",
                "finish [99, 51] 7 false",
                "confirm vm [99, 52] 8199 false",
            ]
        );
    }

    #[tokio::test]
    async fn a_refused_prepare_lets_the_source_run_on() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let (src, dst) = (fake(&log, false, false), fake(&log, true, false));
        let e = run(&src, &dst, vm(), Vec::new(), FLAGS).await.unwrap_err();
        assert_eq!(e.code, ErrorCode::OperationInvalid);
        let log = log.lock().unwrap().clone();
        assert_eq!(log.last().unwrap(), "confirm vm [] 8199 true");
        assert!(!log.iter().any(|l| l.starts_with("perform")));
    }

    #[tokio::test]
    async fn a_failed_perform_aborts_the_tunnel_and_cancels_both_ends() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let (src, dst) = (fake(&log, false, false), fake(&log, false, true));
        let src = Fake {
            break_perform: true,
            ..src
        };
        let e = run(&src, &dst, vm(), Vec::new(), FLAGS).await.unwrap_err();
        assert_eq!(
            e.message,
            "operation failed: migration out job: unexpectedly failed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        let log = log.lock().unwrap().clone();
        assert!(log.contains(&"tunnel 100 aborted".to_string()), "{log:?}");
        let at = |l: &str| log.iter().position(|x| x == l);
        let (finish, confirm) = (at("finish [] 7 true"), at("confirm vm [] 8199 true"));
        assert!(finish.is_some() && finish < confirm, "{log:?}");
    }

    #[test]
    fn procedure_304_is_a_stream_procedure_a_readonly_connection_may_not_call() {
        let p = oxvirt_rpc::RemoteProcedure::DomainMigratePrepareTunnel3Params;
        assert!(super::super::stream::is_stream_procedure(p.number()));
        assert_eq!(
            super::super::mutating_function(p).as_deref(),
            Some("virDomainMigratePrepareTunnel3Params")
        );
    }

    #[test]
    fn a_lost_connection_is_named_as_libvirt_names_it() {
        assert!(connection_lost(&oxvirt_remote::socket_closed()));
        assert!(connection_lost(&oxvirt_remote::end_of_file()));
        assert!(!connection_lost(&tunnel_error()));
        assert_eq!(
            lost_destination().message,
            "operation failed: Lost connection to destination host"
        );
    }

    fn tunnel_error() -> VirError {
        VirError::new(
            ErrorDomain::Streams,
            ErrorCode::SystemError,
            "cannot write to stream: Broken pipe",
        )
    }

    #[test]
    fn a_migration_uri_is_refused() {
        let p = vec![DriverParam::new(
            "migrate_uri",
            oxvirt_domain::driver::TypedValue::String("tcp://h".into()),
        )];
        let e = check_params(&p).unwrap_err();
        assert_eq!(e.code, ErrorCode::ArgumentUnsupported);
        assert_eq!(
            e.message,
            "argument unsupported: migration URI is not supported by tunnelled migration"
        );
        assert!(check_params(&[]).is_ok());
    }
}
