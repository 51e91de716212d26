//! [`RemoteDriver`]: opening a connection as libvirt's remote driver does (authentication,
//! keepalive negotiation, CONNECT_OPEN), closing it, and turning event messages into
//! [`DomainEvent`]s.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use oxvirt_domain::driver::{
    DomainEvent, DomainRef, EventBus, EventKind, EventReceiver, Lifecycle, SnapshotRef,
};
use oxvirt_rpc::remote::{
    AuthListRet, AuthPolkitRet, AuthType, ConnectDomainEventCallbackRegisterAnyArgs,
    ConnectDomainEventCallbackRegisterAnyRet, ConnectGetTypeRet, ConnectGetUriRet, ConnectOpenArgs,
    ConnectSupportsFeatureArgs, ConnectSupportsFeatureRet, DomainEventCallbackJobCompletedMsg,
    DomainEventCallbackMigrationIterationMsg, DomainEventCallbackTunableMsg,
};
use oxvirt_rpc::types::{NonnullDomain, NonnullDomainSnapshot};
use oxvirt_rpc::xdr::{decode_from, encode_to_vec};
use oxvirt_rpc::RemoteProcedure as P;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};
use tokio::sync::mpsc;

use crate::connection::{Connection, EventMessage};
use crate::msgs::*;
use crate::ssh::{connect_ssh, SshTarget};
use crate::transport::{connect_tcp, connect_unix, Transport};

/// `VIR_CONNECT_RO`: the CONNECT_OPEN flag of a read-only connection.
pub const CONNECT_RO: u32 = 1;
/// `VIR_DRV_FEATURE_PROGRAM_KEEPALIVE`.
pub const FEATURE_PROGRAM_KEEPALIVE: i32 = 10;
/// virsh's keepalive interval.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(5);
/// virsh's keepalive count: unanswered pings before the connection is dropped.
pub const KEEPALIVE_COUNT: u32 = 6;

/// The keepalive this process's connections start (`None`: none); virsh's unless
/// [`set_client_keepalive`] changed it.
static CLIENT_KEEPALIVE: Mutex<Option<(Duration, u32)>> =
    Mutex::new(Some((KEEPALIVE_INTERVAL, KEEPALIVE_COUNT)));

/// Sets the keepalive (interval, count) the connections this process opens from now on
/// start, or none: a daemon's own outgoing connections (the peer-to-peer migration's, as
/// libvirt's QEMU driver starts them with qemu.conf's `keepalive_interval` and
/// `keepalive_count`).
pub fn set_client_keepalive(setting: Option<(Duration, u32)>) {
    *CLIENT_KEEPALIVE
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = setting;
}

/// The keepalive (interval, count) new connections start, if any.
pub fn client_keepalive() -> Option<(Duration, u32)> {
    *CLIENT_KEEPALIVE
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

/// The event IDs [`RemoteDriver`] subscribes to (those [`EventKind`] has): lifecycle,
/// reboot, balloon change, device removed, tunable, device added, migration iteration,
/// job completed, metadata change.
pub const EVENT_IDS: [i32; 9] = [0, 1, 13, 15, 17, 19, 20, 21, 23];

/// A hypervisor driver whose every call goes to a libvirt daemon (libvirtd, virtqemud,
/// oxvirtd) over the remote protocol.
pub struct RemoteDriver {
    pub(crate) conn: Connection,
    uri: String,
    hv_type: String,
    bus: Arc<EventBus>,
    events_registered: AtomicBool,
    closed: AtomicBool,
}

impl std::fmt::Debug for RemoteDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteDriver")
            .field("uri", &self.uri)
            .field("type", &self.hv_type)
            .finish_non_exhaustive()
    }
}

pub(crate) fn dref(dom: NonnullDomain) -> DomainRef {
    dom.into()
}

pub(crate) fn wire(dom: &DomainRef) -> NonnullDomain {
    dom.into()
}

pub(crate) fn snap_ref(snap: NonnullDomainSnapshot) -> SnapshotRef {
    snap.into()
}

pub(crate) fn snap_wire(snap: &SnapshotRef) -> NonnullDomainSnapshot {
    snap.into()
}

impl RemoteDriver {
    /// Connects to the unix socket `path` and opens `name` there (see
    /// [`RemoteDriver::open`]).
    pub async fn open_unix(path: &Path, name: &str, flags: u32) -> Result<RemoteDriver, VirError> {
        let stream = connect_unix(path).await?;
        RemoteDriver::open(stream, name, flags).await
    }

    /// Connects to `host:port` over plain TCP and opens `name` there.
    pub async fn open_tcp(
        host: &str,
        port: u16,
        name: &str,
        flags: u32,
    ) -> Result<RemoteDriver, VirError> {
        let stream = connect_tcp(host, port).await?;
        RemoteDriver::open(stream, name, flags).await
    }

    /// Connects to `host:port` over TLS ([`crate::transport::connect_tls`], with a
    /// `qemu+tls://` URI's `options`) and opens `name` there.
    pub async fn open_tls(
        host: &str,
        port: u16,
        options: &crate::transport::TlsOptions,
        name: &str,
        flags: u32,
    ) -> Result<RemoteDriver, VirError> {
        let stream = crate::transport::connect_tls(host, port, options).await?;
        RemoteDriver::open(stream, name, flags).await
    }

    /// Spawns the system `ssh` for `target` as libvirt does (see [`crate::ssh`]) and opens
    /// `name` over it; the ssh process lives as long as the connection.
    pub async fn open_ssh(
        target: &SshTarget,
        name: &str,
        flags: u32,
    ) -> Result<RemoteDriver, VirError> {
        let stream = connect_ssh(target).await?;
        RemoteDriver::open(stream, name, flags).await
    }

    /// Opens the driver URI `name` (empty: the daemon picks and CONNECT_GET_URI says which)
    /// over a connected stream, with `flags` ([`CONNECT_RO`]), in libvirt's client order:
    /// AUTH_LIST (then AUTH_POLKIT if the daemon asks for it; SASL is refused with
    /// `VIR_ERR_AUTH_FAILED`), SUPPORTS_FEATURE(keepalive) and, when supported, virsh's
    /// keepalive (5 s, 6; see [`set_client_keepalive`]), CONNECT_OPEN, then CONNECT_GET_URI for an empty name.
    pub async fn open<T: Transport>(
        io: T,
        name: &str,
        flags: u32,
    ) -> Result<RemoteDriver, VirError> {
        let conn = Connection::new(io);
        match handshake(&conn, name, flags).await {
            Ok((uri, hv_type)) => Ok(RemoteDriver::from_parts(conn, uri, hv_type)),
            Err(e) => {
                conn.close();
                Err(e)
            }
        }
    }

    pub(crate) fn from_parts(conn: Connection, uri: String, hv_type: String) -> RemoteDriver {
        let bus = Arc::new(EventBus::new());
        let (tx, rx) = mpsc::unbounded_channel();
        conn.set_default_event_sink(tx);
        tokio::spawn(forward_events(rx, Arc::clone(&bus)));
        RemoteDriver {
            conn,
            uri,
            hv_type,
            bus,
            events_registered: AtomicBool::new(false),
            closed: AtomicBool::new(false),
        }
    }

    /// The underlying connection (for procedures the trait lacks).
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// `virConnectClose`: CONNECT_CLOSE, then the socket is closed. Dropping the driver
    /// does the same in the background.
    pub async fn close(&self) -> Result<(), VirError> {
        if self.closed.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        let result = self.conn.call::<_, ()>(P::ConnectClose, &()).await;
        self.conn.close();
        result
    }

    /// Queues the event registrations (so they reach the daemon before any later call)
    /// and records their callback IDs in the background; failures after the first are
    /// tolerated, as `virsh event --all` does.
    fn register_events(&self) {
        let mut calls = Vec::new();
        for id in EVENT_IDS {
            let args = ConnectDomainEventCallbackRegisterAnyArgs {
                event_id: id,
                dom: None,
            };
            let number = P::ConnectDomainEventCallbackRegisterAny.number();
            match self.conn.start_call(number, encode_to_vec(&args)) {
                Ok(call) => calls.push(call),
                Err(_) => return,
            }
        }
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                for call in calls {
                    if let Ok(reply) = call.await {
                        let _: Result<ConnectDomainEventCallbackRegisterAnyRet, _> =
                            decode_from(&reply);
                    }
                }
            });
        }
    }

    pub(crate) fn subscribe_events(&self) -> EventReceiver {
        let rx = self.bus.subscribe();
        if !self.events_registered.swap(true, Ordering::SeqCst) {
            self.register_events();
        }
        rx
    }

    pub(crate) fn uri_str(&self) -> String {
        self.uri.clone()
    }

    pub(crate) fn type_str(&self) -> &str {
        &self.hv_type
    }
}

impl Drop for RemoteDriver {
    fn drop(&mut self) {
        if self.closed.swap(true, Ordering::SeqCst) {
            return;
        }
        let conn = self.conn.clone();
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                let _ = conn.call::<_, ()>(P::ConnectClose, &()).await;
                conn.close();
            });
        } else {
            conn.close();
        }
    }
}

async fn handshake(
    conn: &Connection,
    name: &str,
    flags: u32,
) -> Result<(String, String), VirError> {
    authenticate(conn).await?;
    let keepalive: Result<ConnectSupportsFeatureRet, _> = conn
        .call(
            P::ConnectSupportsFeature,
            &ConnectSupportsFeatureArgs {
                feature: FEATURE_PROGRAM_KEEPALIVE,
            },
        )
        .await;
    if let (true, Some((interval, count))) = (
        keepalive.is_ok_and(|r| r.supported != 0),
        client_keepalive(),
    ) {
        conn.start_keepalive(interval, count);
    }
    conn.call::<_, ()>(
        P::ConnectOpen,
        &ConnectOpenArgs {
            name: Some(name.to_owned()),
            flags,
        },
    )
    .await?;
    let uri = if name.is_empty() {
        conn.call::<_, ConnectGetUriRet>(P::ConnectGetUri, &())
            .await?
            .uri
    } else {
        name.to_owned()
    };
    let hv_type = conn
        .call::<_, ConnectGetTypeRet>(P::ConnectGetType, &())
        .await
        .map(|r| r.r#type)
        .unwrap_or_default();
    Ok((uri, hv_type))
}

/// libvirt's `remoteAuthenticate`: the first scheme the daemon lists decides.
async fn authenticate(conn: &Connection) -> Result<(), VirError> {
    let types = match conn.call::<_, AuthListRet>(P::AuthList, &()).await {
        Ok(r) => r.types,
        // A daemon older than AUTH_LIST: no authentication.
        Err(e) if e.code == ErrorCode::NoSupport => return Ok(()),
        Err(e) => return Err(e),
    };
    match types.first() {
        None | Some(AuthType::None) => Ok(()),
        Some(AuthType::Polkit) => {
            conn.call::<_, AuthPolkitRet>(P::AuthPolkit, &()).await?;
            Ok(())
        }
        Some(AuthType::Sasl) => Err(VirError::new(
            ErrorDomain::Remote,
            ErrorCode::AuthFailed,
            "unsupported authentication type 1 (SASL is not supported by oxvirt yet)",
        )),
    }
}

async fn forward_events(mut rx: mpsc::UnboundedReceiver<EventMessage>, bus: Arc<EventBus>) {
    while let Some(msg) = rx.recv().await {
        if let Some(event) = decode_event(&msg) {
            bus.emit(event);
        }
    }
}

/// The [`DomainEvent`] a callback-style event message carries; `None` for events we do not
/// model or cannot decode.
pub fn decode_event(msg: &EventMessage) -> Option<DomainEvent> {
    let p = &msg.payload;
    let (dom, kind) = match P::from_number(msg.procedure)? {
        P::DomainEventCallbackLifecycle => {
            let m: CallbackLifecycleMsg = decode_from(p).ok()?;
            let event = Lifecycle::from_numbers(m.event, m.detail)?;
            (m.dom, EventKind::Lifecycle(event))
        }
        P::DomainEventCallbackReboot => {
            let m: CallbackDomMsg = decode_from(p).ok()?;
            (m.dom, EventKind::Reboot)
        }
        P::DomainEventCallbackBalloonChange => {
            let m: CallbackBalloonMsg = decode_from(p).ok()?;
            let kind = EventKind::BalloonChange {
                actual_kib: m.actual,
            };
            (m.dom, kind)
        }
        P::DomainEventCallbackDeviceRemoved => {
            let m: CallbackDeviceMsg = decode_from(p).ok()?;
            let kind = EventKind::DeviceRemoved { alias: m.dev_alias };
            (m.dom, kind)
        }
        P::DomainEventCallbackDeviceAdded => {
            let m: CallbackDeviceMsg = decode_from(p).ok()?;
            let kind = EventKind::DeviceAdded { alias: m.dev_alias };
            (m.dom, kind)
        }
        P::DomainEventCallbackTunable => {
            let m: DomainEventCallbackTunableMsg = decode_from(p).ok()?;
            let params = m.params.into_iter().map(Into::into).collect();
            (m.dom, EventKind::Tunable { params })
        }
        P::DomainEventCallbackMigrationIteration => {
            let m: DomainEventCallbackMigrationIterationMsg = decode_from(p).ok()?;
            (
                m.dom,
                EventKind::MigrationIteration {
                    iteration: m.iteration,
                },
            )
        }
        P::DomainEventCallbackJobCompleted => {
            let m: DomainEventCallbackJobCompletedMsg = decode_from(p).ok()?;
            let params = m.params.into_iter().map(Into::into).collect();
            (m.dom, EventKind::JobCompleted { params })
        }
        P::DomainEventCallbackMetadataChange => {
            let m: CallbackMetadataMsg = decode_from(p).ok()?;
            let kind = EventKind::MetadataChange {
                kind: m.r#type,
                nsuri: m.nsuri,
            };
            (m.dom, kind)
        }
        _ => return None,
    };
    Some(DomainEvent {
        domain: dref(dom),
        kind,
    })
}

#[cfg(test)]
#[path = "driver_tests.rs"]
mod tests;
