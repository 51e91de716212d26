//! libvirt's migration protocol version 3 with typed parameters, as a client drives it
//! (`virDomainMigrate3` without `VIR_MIGRATE_PEER2PEER`): Begin (source), Prepare
//! (destination), Perform (source), Finish (destination), Confirm (source), each phase
//! passing a `<qemu-migration>` cookie to the next. The phases are the primitives of
//! [`super::migration`] with the checks and cookies of libvirt's `qemu_migration.c`.

use std::net::{IpAddr, TcpListener};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use oxvirt_domain::driver::flags::xml;
use oxvirt_domain::driver::state::PausedReason;
use oxvirt_domain::driver::{
    DomainEvent, DomainRef, EventKind, StateReason, TypedParam, TypedValue,
};
use oxvirt_domain::format::format_domain;
use oxvirt_migrate::cookie::{CookieFeature, Statistics};
use oxvirt_migrate::{check_flags, MigrateFlags, MigrateParams, MigrationCookie};
use oxvirt_xml::types::Uuid;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use super::migrate_tls::TlsEnd;
use super::migration::{MigrateOptions, MigrationProgress};
use super::QemuDriver;

type Result<T> = std::result::Result<T, VirError>;

/// The flags the QEMU driver takes in a migration (libvirt's `QEMU_MIGRATION_FLAGS`, less
/// what oxvirt does not do yet: storage migration, compression, RDMA, multifd).
/// `TUNNELLED` only comes with `PEER2PEER` ([`check_flags`]).
const FLAGS: u32 = MigrateFlags::LIVE.0
    | MigrateFlags::PEER2PEER.0
    | MigrateFlags::TUNNELLED.0
    | MigrateFlags::PERSIST_DEST.0
    | MigrateFlags::UNDEFINE_SOURCE.0
    | MigrateFlags::PAUSED.0
    | MigrateFlags::CHANGE_PROTECTION.0
    | MigrateFlags::OFFLINE.0
    | MigrateFlags::UNSAFE.0
    | MigrateFlags::ABORT_ON_ERROR.0
    | MigrateFlags::AUTO_CONVERGE.0
    | MigrateFlags::POSTCOPY.0
    | MigrateFlags::TLS.0;

/// The ports libvirt's QEMU driver gives incoming migrations (`migration_port_min` ..
/// `migration_port_max` of qemu.conf).
const PORTS: std::ops::RangeInclusive<u16> = 49152..=49215;

fn migrate_error(code: ErrorCode, msg: impl AsRef<str>) -> VirError {
    VirError::new(ErrorDomain::Qemu, code, msg)
}

/// What a finish phase told that the migration failed (`cancelled`) answers once it
/// dropped the incoming domain: libvirt's `VIR_ERR_MIGRATE_FINISH_OK` ("migration
/// successfully aborted"), which tells the caller to keep the source's error, where any
/// other error from the destination replaces a source's `VIR_ERR_OPERATION_FAILED`.
pub(crate) fn finish_ok() -> VirError {
    VirError::bare(ErrorDomain::Qemu, ErrorCode::MigrateFinishOk)
}

/// A cookie as it travels: the XML with its terminating NUL, as libvirt sends it.
fn cookie_bytes(cookie: &MigrationCookie) -> Vec<u8> {
    let mut out = cookie.to_xml().into_bytes();
    out.push(0);
    out
}

/// Reads a received cookie (text up to the first NUL); an empty one is none.
fn parse_cookie(bytes: &[u8]) -> Result<Option<MigrationCookie>> {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    let text = std::str::from_utf8(&bytes[..end])
        .map_err(|_| migrate_error(ErrorCode::InternalError, "malformed migration cookie"))?;
    if text.trim().is_empty() {
        return Ok(None);
    }
    MigrationCookie::parse(text).map(Some)
}

fn check(flags: u32, function: &str) -> Result<MigrateFlags> {
    super::check_flags(flags, FLAGS, function)?;
    let flags = MigrateFlags(flags);
    check_flags(flags)?;
    Ok(flags)
}

/// A `tcp` migration URI, `tcp://HOST[:PORT]` or `tcp:HOST[:PORT]`, as its host and
/// port (libvirt accepts both forms; QEMU takes only the second).
pub(crate) fn parse_tcp_uri(uri: &str) -> Result<(String, Option<u16>)> {
    let rest = uri
        .strip_prefix("tcp://")
        .or_else(|| uri.strip_prefix("tcp:"))
        .ok_or_else(|| {
            migrate_error(
                ErrorCode::InvalidArg,
                format!("unsupported scheme in migration URI {uri}"),
            )
        })?;
    let rest = rest.split('/').next().unwrap_or_default();
    let bad = || migrate_error(ErrorCode::InvalidArg, format!("unable to parse URI {uri}"));
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or_else(bad)?;
        (host.to_string(), after.strip_prefix(':'))
    } else {
        match rest.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (rest.to_string(), None),
        }
    };
    let port = match port {
        Some(p) if !p.is_empty() => Some(p.parse::<u16>().map_err(|_| bad())?),
        _ => None,
    };
    if host.is_empty() {
        return Err(bad());
    }
    Ok((host, port))
}

/// QEMU's form of a TCP address (`tcp:HOST:PORT`, an IPv6 host in brackets).
fn qemu_tcp(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("tcp:[{host}]:{port}")
    } else {
        format!("tcp:{host}:{port}")
    }
}

/// Where the next search of [`PORTS`] starts (so that prepare phases close together,
/// here or in another daemon on this host, try different ports first).
static NEXT_PORT: AtomicU32 = AtomicU32::new(0);

/// A port of [`PORTS`] free on `addr`: the search starts at a place that moves with each
/// call and differs between processes.
fn free_port(addr: &str) -> Result<u16> {
    let ip: IpAddr = addr.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let ports: Vec<u16> = PORTS.collect();
    let start = NEXT_PORT
        .fetch_add(1, Ordering::Relaxed)
        .wrapping_add(std::process::id()) as usize;
    (0..ports.len())
        .map(|i| ports[(start + i) % ports.len()])
        .find(|&p| TcpListener::bind((ip, p)).is_ok())
        .ok_or_else(|| {
            migrate_error(
                ErrorCode::InternalError,
                "Unable to find an unused port in range 'migration' (49152-49215)",
            )
        })
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The cookie's `<statistics>` of a completed migration.
fn statistics(p: &MigrationProgress) -> Statistics {
    let now = now_ms();
    Statistics {
        started: now.saturating_sub(p.time_elapsed_ms),
        // When the source paused (QEMU's downtime runs from there to the end of the
        // transfer): the destination counts the guest's downtime from it, as libvirt's does.
        stopped: now.saturating_sub(p.downtime_ms.unwrap_or(0)),
        sent: now,
        time_elapsed: p.time_elapsed_ms,
        downtime: p.downtime_ms,
        setup_time: Some(p.setup_time_ms),
        memory_total: p.mem_total,
        memory_processed: p.mem_processed,
        memory_remaining: p.mem_remaining,
        memory_bps: p.mem_bps,
        memory_constant: Some(p.mem_constant),
        memory_normal: p.mem_normal,
        memory_normal_bytes: p.mem_normal_bytes,
        memory_dirty_rate: p.mem_dirty_rate,
        memory_iteration: p.mem_iteration,
        memory_postcopy_requests: p.mem_postcopy_requests,
        memory_page_size: p.mem_page_size,
        disk_total: p.disk_total,
        disk_processed: p.disk_processed,
        disk_remaining: p.disk_remaining,
        ..Statistics::default()
    }
}

/// `VIR_DOMAIN_JOB_OPERATION_MIGRATION_IN`.
const OPERATION_MIGRATION_IN: i32 = 4;
/// `VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT`.
const OPERATION_MIGRATION_OUT: i32 = 5;

/// A completed migration job as `virDomainGetJobStats` answers it (libvirt's
/// `qemuDomainJobDataToParams`): the operation, then the statistics under libvirt's
/// `VIR_DOMAIN_JOB_*` names (`data_*` are the memory and disk figures together).
pub(crate) fn completed_job_params(s: &Statistics, operation: i32) -> Vec<TypedParam> {
    let u = |name: &str, v: u64| TypedParam::new(name, TypedValue::ULLong(v));
    let mut p = vec![
        TypedParam::new("operation", TypedValue::Int(operation)),
        u("time_elapsed", s.time_elapsed),
    ];
    if let Some(d) = s.delta {
        p.push(u(
            "time_elapsed_net",
            s.time_elapsed.saturating_sub(d.unsigned_abs()),
        ));
    }
    if let Some(d) = s.downtime {
        p.push(u("downtime", d));
    }
    if let Some(t) = s.setup_time {
        p.push(u("setup_time", t));
    }
    p.extend([
        u("data_total", s.memory_total + s.disk_total),
        u("data_processed", s.memory_processed + s.disk_processed),
        u("data_remaining", s.memory_remaining + s.disk_remaining),
        u("memory_total", s.memory_total),
        u("memory_processed", s.memory_processed),
        u("memory_remaining", s.memory_remaining),
        u("memory_bps", s.memory_bps),
    ]);
    if let Some(c) = s.memory_constant {
        p.extend([
            u("memory_constant", c),
            u("memory_normal", s.memory_normal),
            u("memory_normal_bytes", s.memory_normal_bytes),
        ]);
    }
    p.extend([
        u("memory_dirty_rate", s.memory_dirty_rate),
        u("memory_iteration", s.memory_iteration),
        u("memory_postcopy_requests", s.memory_postcopy_requests),
    ]);
    if s.memory_page_size > 0 {
        p.push(u("memory_page_size", s.memory_page_size));
    }
    p.extend([
        u("disk_total", s.disk_total),
        u("disk_processed", s.disk_processed),
        u("disk_remaining", s.disk_remaining),
        u("disk_bps", s.disk_bps),
    ]);
    if s.auto_converge_throttle > 0 {
        p.push(TypedParam::new(
            "auto_converge_throttle",
            TypedValue::Int(s.auto_converge_throttle),
        ));
    }
    p.push(TypedParam::new("success", TypedValue::Boolean(true)));
    p
}

impl QemuDriver {
    /// Records `stats` as the last completed job of domain `uuid`.
    fn set_completed_job(&self, uuid: Uuid, stats: &Statistics, operation: i32) {
        super::lock(&self.inner.completed_jobs)
            .insert(uuid, completed_job_params(stats, operation));
    }

    fn node_hostname() -> String {
        rustix::system::uname()
            .nodename()
            .to_string_lossy()
            .into_owned()
    }

    /// This host's cookie for domain `name`/`uuid`.
    fn own_cookie(&self, name: &str, uuid: &str) -> MigrationCookie {
        MigrationCookie {
            name: name.to_string(),
            uuid: uuid.to_string(),
            hostname: Self::node_hostname(),
            hostuuid: self.host_uuid().unwrap_or_default(),
            capabilities: Some(Vec::new()),
            ..MigrationCookie::default()
        }
    }

    /// `qemuMigrationSrcBegin`: the flags checked, the domain must run; the XML for the
    /// destination (`destination_xml` if the caller gave one, else the migratable form of
    /// the live definition) and the source's cookie.
    pub(crate) async fn migrate_begin3(
        &self,
        dom: &DomainRef,
        params: &[TypedParam],
        flags: u32,
    ) -> Result<(String, Vec<u8>)> {
        let flags = check(flags, "qemuDomainMigrateBegin3Params")?;
        self.inner.config.migrate_tls.check_forced(flags)?;
        let params = MigrateParams::from_typed(params)?;
        let offline = flags.contains(MigrateFlags::OFFLINE);
        if !offline {
            self.running(dom)?;
        }
        let xml = match params.dest_xml {
            Some(x) => x,
            // Offline, the definition the domain will boot with.
            None if offline => self.xml_desc(dom, xml::SECURE | xml::INACTIVE | xml::MIGRATABLE)?,
            None => self.xml_desc(dom, xml::SECURE | xml::MIGRATABLE)?,
        };
        let cookie = self.own_cookie(&dom.name, &dom.uuid.to_string());
        Ok((xml, cookie_bytes(&cookie)))
    }

    /// `qemuMigrationDstPrepareDirect`: the definition parsed (renamed to
    /// `destination_name`), the source's cookie checked, a port chosen, QEMU started to
    /// listen for the migration; the URI the source is to use (`uri_out`, when the
    /// caller's `migrate_uri` had no port or there was none) and this host's cookie.
    pub(crate) async fn migrate_prepare3(
        &self,
        params: &[TypedParam],
        cookie_in: &[u8],
        flags: u32,
    ) -> Result<(Vec<u8>, Option<String>)> {
        let flags = check(flags, "qemuDomainMigratePrepare3Params")?;
        self.inner.config.migrate_tls.check_forced(flags)?;
        let params = MigrateParams::from_typed(params)?;
        let Some(xml) = params.dest_xml.as_deref() else {
            return Err(migrate_error(ErrorCode::InvalidArg, "no domain XML passed"));
        };
        let mut def = self.parse_definition(xml).await?;
        let origname = def.name.clone();
        let uuid = def.uuid.map(|u| u.to_string()).unwrap_or_default();
        if let Some(cookie) = parse_cookie(cookie_in)? {
            // libvirt's source makes `lockstate` mandatory even with its `nop` lock manager
            // (no `<lockstate>` then): accepted, as oxvirt holds no leases either; and
            // `memory-hotplug` for a domain with `<maxMemory slots>`, which the definition
            // itself carries (and oxvirt runs).
            cookie.check_received(
                &origname,
                &uuid,
                &self.host_uuid().unwrap_or_default(),
                &[CookieFeature::Lockstate, CookieFeature::MemoryHotplug],
            )?;
            if let Some(lock) = cookie.lockstate.as_ref().filter(|l| l.driver != "nop") {
                return Err(migrate_error(
                    ErrorCode::InternalError,
                    format!(
                        "Source host lock driver {} different from target nop",
                        lock.driver
                    ),
                ));
            }
        }
        if let Some(name) = params.dest_name.as_deref() {
            def.name = name.to_string();
        }
        // A tunnelled migration's QEMU listens on the daemon's unix socket (migrate_tunnel.rs).
        let unix = params
            .uri
            .clone()
            .filter(|u| u.starts_with("unix:") && flags.contains(MigrateFlags::TUNNELLED));
        // `uri_base`: the URI answered without its port, when the port is this side's
        // choice.
        let (listen, port, uri_base) = match params.uri.as_deref() {
            Some(_) if unix.is_some() => (String::new(), 0, None),
            Some(uri) => {
                let (host, port) = parse_tcp_uri(uri)?;
                let listen = params.listen_address.clone().unwrap_or_else(|| {
                    if host.parse::<IpAddr>().is_ok() {
                        host.clone()
                    } else {
                        "0.0.0.0".to_string()
                    }
                });
                match port {
                    Some(p) => (listen, p, None),
                    None => {
                        let p = free_port(&listen)?;
                        (listen, p, Some(uri.to_string()))
                    }
                }
            }
            None => {
                let listen = params
                    .listen_address
                    .clone()
                    .unwrap_or_else(|| "0.0.0.0".to_string());
                let p = free_port(&listen)?;
                (listen, p, Some(format!("tcp:{}", Self::node_hostname())))
            }
        };
        let mut uri_out = uri_base.as_ref().map(|b| format!("{b}:{port}"));
        let cookie = self.own_cookie(&origname, &uuid);
        if flags.contains(MigrateFlags::OFFLINE) {
            // Nothing runs here (libvirt still answers a URI, which the client insists
            // on): the definition is defined now (libvirt adds the domain object here and
            // makes it persistent in the finish phase, which the client calls with no
            // perform phase between).
            self.define(&format_domain(&def, -1, xml::SECURE | xml::INACTIVE), 0)
                .await?;
            return Ok((cookie_bytes(&cookie), uri_out));
        }
        let opts = MigrateOptions {
            postcopy: flags.contains(MigrateFlags::POSTCOPY),
            tls: flags.contains(MigrateFlags::TLS).then_some(TlsEnd::Server),
            ..MigrateOptions::default()
        };
        let Some(base) = uri_base.filter(|_| unix.is_none()) else {
            let target = unix.unwrap_or_else(|| qemu_tcp(&listen, port));
            self.migration_prepare_def(def, &target, &opts).await?;
            return Ok((cookie_bytes(&cookie), uri_out));
        };
        // A port of our choosing can be taken between the check and QEMU's bind (another
        // daemon on this host choosing at the same moment): another port then.
        let mut port = port;
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self
                .migration_prepare_def(def.clone(), &qemu_tcp(&listen, port), &opts)
                .await
            {
                Ok(_) => break,
                Err(e) if attempts < 4 && e.message.contains("Address already in use") => {
                    port = free_port(&listen)?;
                    uri_out = Some(format!("{base}:{port}"));
                }
                Err(e) => return Err(e),
            }
        }
        // The cookie names the domain as the source knows it (libvirt answers with the
        // name of the cookie it received).
        Ok((cookie_bytes(&cookie), uri_out))
    }

    /// `qemuMigrationSrcPerform` (the direct, non-peer-to-peer form): migrates to
    /// `migrate_uri` and waits for QEMU to complete; the cookie carries the statistics.
    pub(crate) async fn migrate_perform3(
        &self,
        dom: &DomainRef,
        params: &[TypedParam],
        cookie_in: &[u8],
        flags: u32,
    ) -> Result<Vec<u8>> {
        let flags = check(flags, "qemuDomainMigratePerform3Params")?;
        let params = MigrateParams::from_typed(params)?;
        if let Some(cookie) = parse_cookie(cookie_in)? {
            cookie.check_received(
                &dom.name,
                &dom.uuid.to_string(),
                &self.host_uuid().unwrap_or_default(),
                &[],
            )?;
        }
        // The definition the destination makes persistent (`persistent_xml`, else the
        // source's persistent one), taken before the domain moves.
        let persistent = if flags.contains(MigrateFlags::PERSIST_DEST) {
            let xml = match params.persist_xml.as_deref() {
                Some(x) => x.to_string(),
                None => self.xml_desc(dom, xml::SECURE | xml::INACTIVE | xml::MIGRATABLE)?,
            };
            Some(
                oxvirt_domain::Domain::parse(&xml)
                    .map_err(|e| VirError::from_xml(e, ErrorDomain::Domain))?
                    .domain,
            )
        } else {
            None
        };
        let mut cookie = self.own_cookie(&dom.name, &dom.uuid.to_string());
        cookie.persistent = persistent;
        if flags.contains(MigrateFlags::OFFLINE) {
            return Ok(cookie_bytes(&cookie));
        }
        let uri = params
            .uri
            .as_deref()
            .ok_or_else(|| migrate_error(ErrorCode::InvalidArg, "migration URI is required"))?;
        let target = if uri.starts_with("unix:") && flags.contains(MigrateFlags::TUNNELLED) {
            // The daemon's end of a tunnel (migrate_tunnel.rs).
            uri.to_string()
        } else {
            let (host, port) = parse_tcp_uri(uri)?;
            let port = port.ok_or_else(|| {
                migrate_error(
                    ErrorCode::InvalidArg,
                    format!("missing port in migration URI {uri}"),
                )
            })?;
            qemu_tcp(&host, port)
        };
        let opts = MigrateOptions {
            bandwidth_mib: params.bandwidth.or_else(|| self.migrate_speed(dom)),
            auto_converge: flags.contains(MigrateFlags::AUTO_CONVERGE),
            postcopy: flags.contains(MigrateFlags::POSTCOPY),
            postcopy_bandwidth_mib: params.bandwidth_postcopy,
            // The destination's certificate must be for the host the URI names.
            tls: flags.contains(MigrateFlags::TLS).then(|| TlsEnd::Client {
                hostname: parse_tcp_uri(uri).map(|(host, _)| host).unwrap_or_default(),
            }),
            ..MigrateOptions::default()
        };
        let progress = self.migration_perform(dom, &target, &opts, None).await?;
        let stats = statistics(&progress);
        self.set_completed_job(dom.uuid, &stats, OPERATION_MIGRATION_OUT);
        cookie.statistics = Some(stats);
        Ok(cookie_bytes(&cookie))
    }

    /// `qemuMigrationDstFinish`: the incoming domain (named by `destination_name`) runs
    /// (stays paused with `VIR_MIGRATE_PAUSED`) and is defined with
    /// `VIR_MIGRATE_PERSIST_DEST`; after a failed migration (`cancelled`) it is dropped.
    pub(crate) async fn migrate_finish3(
        &self,
        params: &[TypedParam],
        cookie_in: &[u8],
        flags: u32,
        cancelled: bool,
    ) -> Result<(DomainRef, Vec<u8>)> {
        let flags = check(flags, "qemuDomainMigrateFinish3Params")?;
        let params = MigrateParams::from_typed(params)?;
        let Some(name) = params.dest_name.as_deref() else {
            return Err(migrate_error(
                ErrorCode::InvalidArg,
                "missing destination name",
            ));
        };
        if flags.contains(MigrateFlags::OFFLINE) {
            return self.finish_offline(name, cookie_in, cancelled).await;
        }
        let dom = match self.lookup_name(name) {
            Ok(dom) => dom,
            // The prepared domain went away: its QEMU ended (was killed, crashed) during
            // the transfer. Said as the destination's reason, which the caller reports
            // instead of the source's broken connection.
            Err(_) if cancelled => {
                return Err(migrate_error(
                    ErrorCode::OperationFailed,
                    format!(
                        "migration in job: domain '{name}' stopped on the destination before the migration finished"
                    ),
                ))
            }
            Err(e) => return Err(e),
        };
        let incoming = self.with_obj(&dom, |obj| {
            Ok(obj.is_active() && obj.state == StateReason::Paused(PausedReason::Migration))
        })?;
        if !incoming {
            return Err(migrate_error(
                ErrorCode::OperationInvalid,
                format!("domain '{name}' is not processing incoming migration"),
            ));
        }
        if cancelled {
            self.migration_abort_incoming(&dom).await?;
            return Err(finish_ok());
        }
        // The features libvirt's finish phase reads: the statistics, and the persistent
        // definition (which libvirt's source makes mandatory) with VIR_MIGRATE_PERSIST_DEST.
        let mut supported = vec![CookieFeature::Statistics];
        if flags.contains(MigrateFlags::PERSIST_DEST) {
            supported.push(CookieFeature::Persistent);
        }
        let received = parse_cookie(cookie_in).and_then(|received| {
            if let Some(c) = &received {
                c.check_received(
                    &c.name,
                    &dom.uuid.to_string(),
                    &self.host_uuid().unwrap_or_default(),
                    &supported,
                )?;
            }
            Ok(received)
        });
        let received = match received {
            Ok(r) => r,
            Err(e) => {
                // The incoming QEMU is not left behind (libvirt's finish kills it too).
                let _ = self.migration_abort_incoming(&dom).await;
                return Err(e);
            }
        };
        let persistent = received.as_ref().and_then(|c| c.persistent.clone());
        let stats = received.as_ref().and_then(|c| c.statistics.clone());
        let cookie = match received {
            Some(c) => {
                // The answer carries neither the definition nor the statistics back.
                MigrationCookie {
                    persistent: None,
                    statistics: None,
                    ..c.answered_by(
                        &Self::node_hostname(),
                        &self.host_uuid().unwrap_or_default(),
                    )
                }
            }
            None => self.own_cookie(&dom.name, &dom.uuid.to_string()),
        };
        if flags.contains(MigrateFlags::PERSIST_DEST) {
            // Made persistent before the CPUs run, as libvirt's finish phase does (its
            // DEFINED event comes before RESUMED): the source's persistent definition from
            // the cookie (under the name the domain has here), else the running one.
            let xml = match persistent {
                Some(mut def) => {
                    def.name = dom.name.clone();
                    format_domain(&def, -1, xml::SECURE | xml::INACTIVE)
                }
                None => self.xml_desc(&dom, xml::SECURE | xml::MIGRATABLE)?,
            };
            if let Err(e) = self.define(&xml, 0).await {
                let _ = self.migration_abort_incoming(&dom).await;
                return Err(e);
            }
        }
        let resume = !flags.contains(MigrateFlags::PAUSED);
        self.migration_finish(&dom, resume, Duration::from_millis(10))
            .await?;
        if flags.contains(MigrateFlags::TLS) {
            if let Some(vm) = self.vm(&dom.uuid) {
                super::migrate_tls::reset(&vm).await;
            }
        }
        if let Some(mut stats) = stats {
            // The downtime the guest saw: from the source's pause to its resumption here
            // (libvirt's qemuDomainJobDataUpdateDowntime), not only QEMU's transfer part.
            if stats.stopped > 0 {
                stats.downtime = Some(now_ms().saturating_sub(stats.stopped));
            }
            self.set_completed_job(dom.uuid, &stats, OPERATION_MIGRATION_IN);
        }
        let dom = self.lookup_uuid(&dom.uuid)?;
        Ok((dom, cookie_bytes(&cookie)))
    }

    /// The finish phase of an offline migration (`VIR_MIGRATE_OFFLINE`): the domain the
    /// prepare phase defined as `name`; after a failure (`cancelled`) it is undefined
    /// again.
    async fn finish_offline(
        &self,
        name: &str,
        cookie_in: &[u8],
        cancelled: bool,
    ) -> Result<(DomainRef, Vec<u8>)> {
        let dom = self.lookup_name(name)?;
        if cancelled {
            if !self.with_obj(&dom, |obj| Ok(obj.is_active()))? {
                self.undefine(&dom, 0)?;
            }
            return Err(finish_ok());
        }
        let cookie = match parse_cookie(cookie_in)? {
            Some(c) => MigrationCookie {
                persistent: None,
                statistics: None,
                ..c.answered_by(
                    &Self::node_hostname(),
                    &self.host_uuid().unwrap_or_default(),
                )
            },
            None => self.own_cookie(name, &dom.uuid.to_string()),
        };
        Ok((dom, cookie_bytes(&cookie)))
    }

    /// `qemuMigrationSrcConfirm`: after a migration that completed the source QEMU is
    /// killed (shut off, reason `migrated`) and, with `VIR_MIGRATE_UNDEFINE_SOURCE`, the
    /// definition removed; after one that failed (`cancelled`) the source runs again.
    pub(crate) async fn migrate_confirm3(
        &self,
        dom: &DomainRef,
        cookie_in: &[u8],
        flags: u32,
        cancelled: bool,
    ) -> Result<()> {
        let flags = check(flags, "qemuDomainMigrateConfirm3Params")?;
        if let Some(cookie) = parse_cookie(cookie_in)? {
            cookie.check_received(
                &cookie.name,
                &dom.uuid.to_string(),
                &self.host_uuid().unwrap_or_default(),
                &[],
            )?;
        }
        if !flags.contains(MigrateFlags::OFFLINE) {
            self.migration_confirm(dom, !cancelled).await?;
            if !cancelled {
                self.emit_job_completed(dom);
            }
        }
        if !cancelled && flags.contains(MigrateFlags::UNDEFINE_SOURCE) {
            self.forget_migrated(dom)?;
        }
        Ok(())
    }

    /// `VIR_DOMAIN_EVENT_ID_JOB_COMPLETED` for the outgoing migration of `dom` that just
    /// completed, right after its `STOPPED_MIGRATED`, as libvirt's source sends it (its
    /// destination sends none): the completed job's statistics, which stay for
    /// `virDomainGetJobStats` to read.
    fn emit_job_completed(&self, dom: &DomainRef) {
        let params = super::lock(&self.inner.completed_jobs)
            .get(&dom.uuid)
            .cloned();
        if let Some(params) = params {
            self.emit(vec![DomainEvent {
                domain: DomainRef {
                    id: -1,
                    ..dom.clone()
                },
                kind: EventKind::JobCompleted { params },
            }]);
        }
    }

    /// `VIR_MIGRATE_UNDEFINE_SOURCE` after a migration that completed: the definition
    /// is deleted and the (now inactive) domain forgotten, with no event, as libvirt's
    /// confirm phase does (it deletes the config and drops the object: no `UNDEFINED`).
    fn forget_migrated(&self, dom: &DomainRef) -> Result<()> {
        let mut list = self.domains();
        let Some(obj) = list.find_by_uuid_mut(&dom.uuid) else {
            return Ok(());
        };
        if !obj.persistent {
            return Ok(());
        }
        let name = obj.name().to_string();
        self.delete_config(&name)?;
        self.unmark_autostart(&name)?;
        obj.autostart = false;
        self.delete_snapshot_files(&name);
        if obj.is_active() {
            obj.persistent = false;
        } else {
            list.remove(&dom.uuid);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completed_job_params_carry_libvirts_names() {
        let s = Statistics {
            time_elapsed: 600,
            downtime: Some(12),
            setup_time: Some(3),
            memory_total: 1000,
            memory_processed: 900,
            memory_remaining: 0,
            disk_total: 24,
            disk_processed: 24,
            memory_constant: Some(7),
            ..Statistics::default()
        };
        let p = completed_job_params(&s, OPERATION_MIGRATION_IN);
        let get = |name: &str| {
            p.iter()
                .find(|x| x.field == name)
                .map(|x| x.value.clone())
                .unwrap_or_else(|| panic!("no {name}"))
        };
        assert_eq!(get("operation"), TypedValue::Int(4));
        assert_eq!(get("time_elapsed"), TypedValue::ULLong(600));
        assert_eq!(get("downtime"), TypedValue::ULLong(12));
        assert_eq!(get("setup_time"), TypedValue::ULLong(3));
        assert_eq!(get("data_total"), TypedValue::ULLong(1024));
        assert_eq!(get("data_processed"), TypedValue::ULLong(924));
        assert_eq!(get("memory_constant"), TypedValue::ULLong(7));
        assert_eq!(get("success"), TypedValue::Boolean(true));
        assert!(p.iter().all(|x| x.field != "time_elapsed_net"));
    }

    #[test]
    fn tcp_uris_in_both_forms() {
        assert_eq!(
            parse_tcp_uri("tcp://127.0.0.1").unwrap(),
            ("127.0.0.1".to_string(), None)
        );
        assert_eq!(
            parse_tcp_uri("tcp://127.0.0.1:49152").unwrap(),
            ("127.0.0.1".to_string(), Some(49152))
        );
        assert_eq!(
            parse_tcp_uri("tcp:host.example:1234").unwrap(),
            ("host.example".to_string(), Some(1234))
        );
        assert_eq!(
            parse_tcp_uri("tcp://[::1]:5").unwrap(),
            ("::1".to_string(), Some(5))
        );
        assert!(parse_tcp_uri("rdma://x").is_err());
        assert!(parse_tcp_uri("tcp://h:notaport").is_err());
        assert_eq!(qemu_tcp("::1", 5), "tcp:[::1]:5");
        assert_eq!(qemu_tcp("127.0.0.1", 5), "tcp:127.0.0.1:5");
    }

    #[test]
    fn ports_come_from_libvirts_range_and_move_on() {
        let a = free_port("127.0.0.1").unwrap();
        let _held = TcpListener::bind(("127.0.0.1", a)).unwrap();
        let b = free_port("127.0.0.1").unwrap();
        assert!(PORTS.contains(&a) && PORTS.contains(&b), "{a} {b}");
        assert_ne!(a, b);
    }

    #[test]
    fn cookies_travel_nul_terminated() {
        let c = MigrationCookie {
            name: "a".into(),
            uuid: "dcf47dbd-46d1-4d5b-b442-262a806a333a".into(),
            hostname: "h".into(),
            hostuuid: "8b3f4dc4-6a8e-5f9b-94a5-4c35babd8d95".into(),
            capabilities: Some(Vec::new()),
            ..MigrationCookie::default()
        };
        let bytes = cookie_bytes(&c);
        assert_eq!(bytes.last(), Some(&0));
        assert_eq!(parse_cookie(&bytes).unwrap(), Some(c));
        assert_eq!(parse_cookie(b"").unwrap(), None);
    }

    #[test]
    fn unsupported_flags_are_refused() {
        assert!(check(
            MigrateFlags::LIVE.0 | MigrateFlags::CHANGE_PROTECTION.0,
            "f"
        )
        .is_ok());
        let e = check(MigrateFlags::NON_SHARED_DISK.0, "f").unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidArg);
        let e = check(MigrateFlags::TUNNELLED.0, "f").unwrap_err();
        assert_eq!(e.code, ErrorCode::OperationInvalid);
        let p2p = MigrateFlags::PEER2PEER.0 | MigrateFlags::TUNNELLED.0 | MigrateFlags::LIVE.0;
        assert!(check(p2p, "f").is_ok());
    }
}
