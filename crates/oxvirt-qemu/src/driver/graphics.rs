//! The ports of VNC and SPICE servers, as libvirt's `qemuProcessGraphicsReservePorts`,
//! `qemuProcessVNCAllocatePorts` and `qemuProcessSPICEAllocatePorts` handle them at start.
//!
//! An automatic port (`autoport='yes'`, or a VNC port of `-1`) gets the first port of
//! qemu.conf's default range 5900-65535 that no running domain uses, no start in progress
//! holds and that can be bound on the host (libvirt's port allocator tries a bind too). A
//! server that listens on an address the definition leaves empty listens on qemu.conf's
//! default, `127.0.0.1`. Both are written into the live definition, as libvirt does:
//! `<graphics type='spice' port='5900' autoport='yes' listen='127.0.0.1'>` with
//! `<listen type='address' address='127.0.0.1'/>`. A VNC WebSocket of `-1` gets a port from
//! 5700 up (`remote_websocket_port_min`). SPICE's TLS port is not allocated:
//! `spice_tls` is off, as in qemu.conf's default.
//!
//! Passwords (`passwd`, `passwdValidTo`, `connected`) are set over the monitor once QEMU
//! runs and before the CPUs start (`set_password`, `expire_password`), as libvirt's
//! `qemuDomainChangeGraphicsPasswords` does; QEMU was started with ticketing on.
//!
//! A port is held from the start until the domain stops: the reservation of a domain that
//! no longer runs and holds no job (it stopped, or its start failed) is dropped at the next
//! allocation, and ports written in running domains' live definitions always count as used
//! (so domains a restarted daemon reattached to keep theirs).

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};

use oxvirt_domain::devices::graphics::{Graphics, GraphicsListen, GraphicsType, ListenType};
use oxvirt_domain::Domain;
use oxvirt_xml::types::Uuid;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use super::vm::{Stopping, Vm};
use super::{Inner, QemuDriver};
use crate::command::graphics::{DEFAULT_LISTEN, FIRST_PORT, FIRST_WEBSOCKET_PORT};

/// The last port of the VNC and SPICE ranges (qemu.conf's `remote_display_port_max`).
pub const LAST_PORT: u16 = 65535;

/// The ports a domain of a driver holds.
struct Held {
    /// The driver (several may run in one process, for instance in tests).
    driver: Weak<Inner>,
    /// The domain.
    uuid: Uuid,
    /// Its ports.
    ports: Vec<u16>,
}

/// The ports held, by every driver of the process.
fn reserved() -> &'static Mutex<Vec<Held>> {
    static RESERVED: OnceLock<Mutex<Vec<Held>>> = OnceLock::new();
    RESERVED.get_or_init(|| Mutex::new(Vec::new()))
}

/// Whether a reservation still stands: its driver is open and the domain runs or is busy
/// (a start in progress holds the domain's job).
fn stands(h: &Held) -> bool {
    let Some(inner) = h.driver.upgrade() else {
        return false;
    };
    let driver = QemuDriver { inner };
    driver.vm(&h.uuid).is_some() || driver.job(&h.uuid).try_lock().is_err()
}

/// Whether `port` can be bound on every address of the host, as libvirt's port allocator
/// checks (IPv6 may be absent).
fn bindable(port: u16) -> bool {
    let v4 = TcpListener::bind(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port))).is_ok();
    if !v4 {
        return false;
    }
    match TcpListener::bind(SocketAddr::from((Ipv6Addr::UNSPECIFIED, port))) {
        Ok(_) => true,
        Err(e) => e.kind() != std::io::ErrorKind::AddrInUse,
    }
}

/// Whether a server takes its port automatically.
fn is_auto(g: &Graphics) -> bool {
    match g.kind {
        GraphicsType::Vnc => g.autoport == Some(true) || g.port.is_none_or(|p| p == -1),
        GraphicsType::Spice => g.autoport == Some(true),
        _ => false,
    }
}

/// Gives an address listener without an address (or a VNC or automatic SPICE server
/// without listener) qemu.conf's default address; keeps the legacy `listen` attribute
/// in step. Returns whether the server listens on an address.
fn setup_listen(g: &mut Graphics) -> bool {
    if g.listens.is_empty() {
        let wants =
            g.socket.is_none() && (g.kind == GraphicsType::Vnc || g.listen.is_some() || is_auto(g));
        if !wants {
            return false;
        }
        g.listens.push(GraphicsListen::new(ListenType::Address));
    }
    let first = &mut g.listens[0];
    if first.kind != ListenType::Address {
        return false;
    }
    let addr = first
        .address
        .clone()
        .or_else(|| g.listen.clone())
        .unwrap_or_else(|| DEFAULT_LISTEN.to_string());
    first.address = Some(addr.clone());
    g.listen = Some(addr);
    true
}

/// The first free port from `first` up to [`LAST_PORT`], for the range `range`.
fn free_port(used: &BTreeSet<u16>, first: i32, range: &str) -> Result<u16, VirError> {
    let first = u16::try_from(first).unwrap_or(u16::MAX);
    (first..=LAST_PORT)
        .find(|p| !used.contains(p) && bindable(*p))
        .ok_or_else(|| {
            VirError::new(
                ErrorDomain::None,
                ErrorCode::InternalError,
                format!("Unable to find an unused port in range '{range}' ({first}-{LAST_PORT})"),
            )
        })
}

/// The graphics ports a definition names (those of running domains' live definitions).
fn ports_of(def: &Domain) -> impl Iterator<Item = u16> + '_ {
    def.devices
        .graphics
        .iter()
        .flat_map(|g| [g.port, g.tls_port, g.websocket])
        .flatten()
        .filter_map(|p| u16::try_from(p).ok())
        .filter(|p| *p > 0)
}

impl QemuDriver {
    /// Gives the VNC and SPICE servers of `def`, about to start as domain `uuid`, their
    /// listen address and automatic ports, and holds those ports until the domain stops.
    pub(crate) fn reserve_graphics_ports(
        &self,
        uuid: &Uuid,
        mut def: Domain,
    ) -> Result<Domain, VirError> {
        let mut table = reserved().lock().unwrap_or_else(PoisonError::into_inner);
        let me = Arc::downgrade(&self.inner);
        table.retain(|h| !(h.driver.ptr_eq(&me) && h.uuid == *uuid) && stands(h));
        let mut used: BTreeSet<u16> = table.iter().flat_map(|h| h.ports.iter().copied()).collect();
        {
            let list = self.domains();
            for obj in list.iter() {
                if obj.is_active() && obj.uuid() != *uuid {
                    used.extend(ports_of(obj.def()));
                }
            }
        }
        let mut mine = Vec::new();
        for g in &mut def.devices.graphics {
            if !matches!(g.kind, GraphicsType::Vnc | GraphicsType::Spice) {
                continue;
            }
            let on_address = setup_listen(g);
            if g.kind == GraphicsType::Spice && g.tls_port.is_some_and(|p| p <= 0) {
                g.tls_port = None;
            }
            if on_address && is_auto(g) {
                let port = free_port(&used, FIRST_PORT, "display")?;
                used.insert(port);
                g.port = Some(i32::from(port));
                if g.kind == GraphicsType::Vnc {
                    g.autoport = Some(true);
                }
            }
            if g.kind == GraphicsType::Vnc && g.websocket == Some(-1) {
                let port = free_port(&used, FIRST_WEBSOCKET_PORT, "webSocket")?;
                g.websocket = Some(i32::from(port));
            }
            for p in [g.port, g.tls_port, g.websocket].into_iter().flatten() {
                if let Ok(p) = u16::try_from(p) {
                    if p > 0 {
                        used.insert(p);
                        mine.push(p);
                    }
                }
            }
        }
        if !mine.is_empty() {
            table.push(Held {
                driver: me,
                uuid: *uuid,
                ports: mine,
            });
        }
        Ok(def)
    }
}

/// Seconds since the epoch of `YYYY-MM-DDTHH:MM:SS` (UTC), as libvirt reads `passwdValidTo`.
fn epoch_of(v: &str) -> Option<i64> {
    let (date, time) = v.split_once('T')?;
    let d: Vec<i64> = date
        .split('-')
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    let t: Vec<i64> = time
        .split(':')
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    let ([y, m, day], [hh, mm, ss]) = (d.as_slice(), t.as_slice()) else {
        return None;
    };
    // Days from 1970-01-01 in the proleptic Gregorian calendar.
    let (y, m) = if *m <= 2 { (y - 1, m + 9) } else { (*y, m - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

impl QemuDriver {
    /// Sets the password of each VNC and SPICE server that has one (QEMU runs paused); on
    /// failure QEMU is stopped and the domain is shut off, as for any failed start.
    pub(crate) async fn set_graphics_passwords(
        &self,
        uuid: &Uuid,
        vm: &Arc<Vm>,
        def: &Domain,
    ) -> Result<(), VirError> {
        let Err(e) = self.graphics_passwords(vm, def).await else {
            return Ok(());
        };
        vm.set_stopping(Stopping::Destroyed);
        let _ = vm.process().destroy(false).await;
        self.finish_stop(uuid, vm, None).await;
        Err(e)
    }

    async fn graphics_passwords(&self, vm: &Vm, def: &Domain) -> Result<(), VirError> {
        for g in &def.devices.graphics {
            let protocol = match g.kind {
                GraphicsType::Vnc => "vnc",
                GraphicsType::Spice => "spice",
                _ => continue,
            };
            let Some(passwd) = &g.passwd else {
                continue;
            };
            let mut args = serde_json::json!({ "protocol": protocol, "password": passwd });
            if let (GraphicsType::Spice, Some(c)) = (g.kind, g.connected) {
                args["connected"] = serde_json::Value::String(c.to_string());
            }
            vm.qmp().execute("set_password", Some(args)).await?;
            let time = match g.passwd_valid_to.as_deref().and_then(epoch_of) {
                Some(t) => t.to_string(),
                None => "never".to_string(),
            };
            let args = serde_json::json!({ "protocol": protocol, "time": time });
            vm.qmp().execute("expire_password", Some(args)).await?;
        }
        Ok(())
    }
}
