//! Migration and jobs: `migrate`, `migrate-setmaxdowntime`, `migrate-getmaxdowntime`,
//! `migrate-setspeed`, `migrate-getspeed`, `migrate-postcopy`, `domjobinfo`,
//! `domjobabort`.
//!
//! As virsh 9.0 (`tools/virsh-domain.c`): `migrate` without `--p2p` opens the destination
//! itself and calls `virDomainMigrate3` ([`oxvirt::Domain::migrate3`]); with `--p2p` it
//! calls `virDomainMigrateToURI3` and the source daemon drives the migration. While it
//! runs, the job is watched every 500 ms (`virshWatchJob`): `--verbose` prints
//! `Migration: [ NN %]` on standard error, `--timeout` suspends the guest or switches to
//! post-copy once. `--postcopy-after-precopy` switches to post-copy when the second pass
//! over the guest's memory begins (the migration-iteration event).

use std::time::{Duration, Instant};

use oxvirt::event::EventKind;
use oxvirt::migrate_flags as mf;
use oxvirt::{Connect, Domain, TypedParam, TypedValue};
use serde_json::{json, Value};

use super::{cmd_domain, read_file};
use crate::args::{parse_c_long, Cmd};
use crate::ctl::{CmdResult, Ctl};
use crate::output::CmdError;

/// `VIR_DOMAIN_JOB_STATS_COMPLETED`.
const JOB_STATS_COMPLETED: u32 = 1;
/// `VIR_DOMAIN_JOB_STATS_KEEP_COMPLETED`.
const JOB_STATS_KEEP_COMPLETED: u32 = 2;
/// `VIR_DOMAIN_MIGRATE_MAX_SPEED_POSTCOPY`.
const MAX_SPEED_POSTCOPY: u32 = 1;

/// virsh's `VSH_REQUIRE_OPTION`.
fn require(cmd: &Cmd, opt: &str, needs: &str) -> Result<(), CmdError> {
    if cmd.has(opt) && !cmd.has(needs) {
        return Err(CmdError::msg(format!(
            "Option --{needs} is required by option --{opt}"
        )));
    }
    Ok(())
}

fn malformed(name: &str, value: &str) -> CmdError {
    CmdError::msg(format!(
        "Numeric value '{value}' for <{name}> option is malformed or out of range"
    ))
}

/// `vshCommandOptULongLong`: a number without a sign (libvirt's `virStrToLong_ullp`).
fn ullong(cmd: &Cmd, name: &str) -> Result<Option<u64>, CmdError> {
    match cmd.get(name) {
        None => Ok(None),
        Some(v) => {
            let t = v.trim_start();
            if t.starts_with('-') {
                return Err(malformed(name, v));
            }
            t.trim_start_matches('+')
                .parse::<u64>()
                .map(Some)
                .map_err(|_| malformed(name, v))
        }
    }
}

/// `vshCommandOptULWrap`: a number, a negative one wrapping around as C's `strtoull`
/// makes it (`migrate-setspeed DOM -1` asks for the largest bandwidth).
fn ullong_wrap(cmd: &Cmd, name: &str) -> Result<Option<u64>, CmdError> {
    match cmd.get(name) {
        None => Ok(None),
        Some(v) => {
            let t = v.trim_start();
            let (neg, digits) = match t.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, t.trim_start_matches('+')),
            };
            let n = digits.parse::<u64>().map_err(|_| malformed(name, v))?;
            Ok(Some(if neg { n.wrapping_neg() } else { n }))
        }
    }
}

/// `vshCommandOptUInt`: a number without a sign that fits `unsigned int`.
fn uint(cmd: &Cmd, name: &str) -> Result<Option<u32>, CmdError> {
    match cmd.get(name) {
        None => Ok(None),
        Some(v) => ullong(cmd, name)?
            .and_then(|n| u32::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| malformed(name, v)),
    }
}

/// `vshCommandOptInt`.
fn int(cmd: &Cmd, name: &str) -> Result<Option<i32>, CmdError> {
    match cmd.get(name) {
        None => Ok(None),
        Some(v) => parse_c_long(v)
            .and_then(|n| i32::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| malformed(name, v)),
    }
}

/// The parameters and flags `migrate`'s options make (virsh's `doMigrate`).
fn migrate_params(cmd: &Cmd) -> Result<(Vec<TypedParam>, u32), CmdError> {
    let mut params = Vec::new();
    let string = |params: &mut Vec<TypedParam>, field: &str, v: &str| {
        params.push(TypedParam::new(field, TypedValue::String(v.to_owned())));
    };
    for (opt, field) in [
        ("migrateuri", "migrate_uri"),
        ("graphicsuri", "graphics_uri"),
        ("listen-address", "listen_address"),
    ] {
        if let Some(v) = cmd.get(opt) {
            string(&mut params, field, v);
        }
    }
    if let Some(port) = int(cmd, "disks-port")? {
        params.push(TypedParam::new("disks_port", TypedValue::Int(port)));
    }
    if let Some(v) = cmd.get("disks-uri") {
        string(&mut params, "disks_uri", v);
    }
    if let Some(v) = cmd.get("dname") {
        string(&mut params, "destination_name", v);
    }
    if let Some(v) = cmd.get("migrate-disks") {
        for disk in v.split(',').filter(|d| !d.is_empty()) {
            string(&mut params, "migrate_disks", disk);
        }
    }
    if let Some(v) = cmd.get("comp-methods") {
        for m in v.split(',').filter(|d| !d.is_empty()) {
            string(&mut params, "compression", m);
        }
    }
    for (opt, field) in [
        ("comp-mt-level", "compression.mt.level"),
        ("comp-mt-threads", "compression.mt.threads"),
        ("comp-mt-dthreads", "compression.mt.dthreads"),
        ("auto-converge-initial", "auto_converge.initial"),
        ("auto-converge-increment", "auto_converge.increment"),
    ] {
        if let Some(n) = int(cmd, opt)? {
            params.push(TypedParam::new(field, TypedValue::Int(n)));
        }
    }
    if let Some(n) = ullong(cmd, "comp-xbzrle-cache")? {
        params.push(TypedParam::new(
            "compression.xbzrle.cache",
            TypedValue::ULLong(n),
        ));
    }
    if let Some(n) = ullong(cmd, "postcopy-bandwidth")? {
        params.push(TypedParam::new("bandwidth.postcopy", TypedValue::ULLong(n)));
    }
    if let Some(n) = int(cmd, "parallel-connections")? {
        params.push(TypedParam::new("parallel.connections", TypedValue::Int(n)));
    }
    if let Some(n) = ullong(cmd, "bandwidth")? {
        params.push(TypedParam::new("bandwidth", TypedValue::ULLong(n)));
    }
    if let Some(v) = cmd.get("tls-destination") {
        string(&mut params, "tls.destination", v);
    }
    if let Some(file) = cmd.get("xml") {
        let xml = read_file(file)?;
        string(&mut params, "destination_xml", &xml);
    }
    if let Some(file) = cmd.get("persistent-xml") {
        let xml = read_file(file)?;
        string(&mut params, "persistent_xml", &xml);
    }
    let flags = cmd.flags(&[
        ("live", mf::LIVE),
        ("p2p", mf::PEER2PEER),
        ("tunnelled", mf::TUNNELLED),
        ("persistent", mf::PERSIST_DEST),
        ("undefinesource", mf::UNDEFINE_SOURCE),
        ("suspend", mf::PAUSED),
        ("copy-storage-all", mf::NON_SHARED_DISK),
        ("copy-storage-inc", mf::NON_SHARED_INC),
        ("change-protection", mf::CHANGE_PROTECTION),
        ("unsafe", mf::UNSAFE),
        ("compressed", mf::COMPRESSED),
        ("auto-converge", mf::AUTO_CONVERGE),
        ("rdma-pin-all", mf::RDMA_PIN_ALL),
        ("offline", mf::OFFLINE),
        ("abort-on-error", mf::ABORT_ON_ERROR),
        ("postcopy", mf::POSTCOPY),
        ("tls", mf::TLS),
        ("parallel", mf::PARALLEL),
        (
            "copy-storage-synchronous-writes",
            mf::NON_SHARED_SYNCHRONOUS_WRITES,
        ),
        ("postcopy-resume", mf::POSTCOPY_RESUME),
        ("zerocopy", mf::ZEROCOPY),
    ]);
    Ok((params, flags))
}

/// What `--timeout` does once the migration has run that long.
#[derive(Clone, Copy, PartialEq, Eq)]
enum TimeoutAction {
    Suspend,
    Postcopy,
}

/// virsh's `virshPrintJobProgress`: `\rLABEL: [ NN %]` on standard error.
fn progress_line(label: &str, remaining: u64, total: u64) -> String {
    let mut progress = 100.0;
    if remaining != 0 {
        progress = (1.0 - remaining as f64 / total as f64) * 100.0;
        // never 100 % before the job is over
        if progress >= 100.0 {
            progress = 99.0;
        }
    }
    format!("\r{label}: [{:3} %]", progress as i32)
}

/// `migrate DOMAIN DESTURI [--live] [--p2p] ...`.
pub async fn migrate(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    super::exclusive(cmd, "live", "offline")?;
    super::exclusive(cmd, "timeout-suspend", "timeout-postcopy")?;
    require(cmd, "postcopy-after-precopy", "postcopy")?;
    require(cmd, "timeout-postcopy", "postcopy")?;
    require(cmd, "persistent-xml", "persistent")?;
    require(cmd, "tls-destination", "tls")?;
    let (conn, dom) = cmd_domain(ctl, cmd).await?;
    let verbose = cmd.has("verbose");
    let action = if cmd.has("timeout-postcopy") {
        TimeoutAction::Postcopy
    } else {
        TimeoutAction::Suspend
    };
    // 0 is no timeout, as in virsh
    let timeout = match uint(cmd, "timeout")? {
        Some(t) if t > 0 && !cmd.has("live") => {
            return Err(CmdError::msg(
                "migrate: Unexpected timeout for offline migration",
            ))
        }
        Some(t) if t > 0 => Some(Duration::from_secs(u64::from(t))),
        _ => None,
    };
    let desturi = cmd.required("desturi").map_err(CmdError::msg)?.to_owned();
    let p2p = cmd.has("p2p") || cmd.has("direct");
    let dconn = if p2p {
        None
    } else {
        Some(
            Connect::open(&desturi)
                .await
                // virsh reports the library's error alone here
                .map_err(CmdError::lib)?,
        )
    };
    let (params, flags) = migrate_params(cmd)?;
    let mut events = cmd.has("postcopy-after-precopy").then(|| conn.events());

    let job_dom = dom.clone();
    let handle = tokio::spawn(async move {
        match dconn {
            Some(dconn) => job_dom.migrate3(&dconn, &params, flags).await.map(|_| ()),
            None => {
                job_dom
                    .migrate_to_uri3(Some(&desturi), &params, flags)
                    .await
            }
        }
    });

    let started = Instant::now();
    let mut timed_out = false;
    let mut switched = false;
    let mut handle = handle;
    // The job is looked at every 500 ms, as virsh does; with --postcopy-after-precopy the
    // events are read every 50 ms so that the switch follows the second pass promptly.
    let tick = if events.is_some() { 50 } else { 500 };
    let mut ticks = 0u32;
    let joined = loop {
        if let Ok(joined) = tokio::time::timeout(Duration::from_millis(tick), &mut handle).await {
            break joined;
        }
        if let Some(stream) = events.as_mut() {
            while let Some(ev) = stream.try_next() {
                if let EventKind::MigrationIteration { iteration } = ev.kind {
                    if ev.domain.uuid == dom.uuid() && iteration == 2 && !switched {
                        switched = true;
                        let _ = dom.migrate_start_post_copy(0).await;
                    }
                }
            }
        }
        ticks += 1;
        if u64::from(ticks) * tick % 500 != 0 {
            continue;
        }
        let Ok(info) = dom.job_info().await else {
            continue;
        };
        if verbose && info.data_total > 0 {
            eprint!(
                "{}",
                progress_line("Migration", info.data_remaining, info.data_total)
            );
        }
        let running = info.kind == 1 || info.kind == 2;
        if let (Some(limit), false, true) = (timeout, timed_out, running) {
            if started.elapsed() >= limit {
                // virsh says so only in its debug output
                timed_out = true;
                let _ = match action {
                    TimeoutAction::Suspend => dom.suspend().await,
                    TimeoutAction::Postcopy => dom.migrate_start_post_copy(0).await,
                };
            }
        }
    };
    let result = joined.map_err(|e| CmdError::msg(format!("migration task failed: {e}")))?;
    match result {
        Ok(()) => {
            if verbose {
                // virsh ends the line only with its blank line on standard output
                eprint!("{}", progress_line("Migration", 0, 1));
            }
            Ok(json!({ "action": "migrate", "domain": dom.name(), "uuid": dom.uuid_string() }))
        }
        Err(e) => Err(CmdError::lib(e)),
    }
}

/// `migrate-setmaxdowntime DOMAIN DOWNTIME`.
pub async fn set_max_downtime(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let (_, dom) = cmd_domain(ctl, cmd).await?;
    let downtime = ullong(cmd, "downtime")?.unwrap_or(0);
    if downtime < 1 {
        return Err(CmdError::msg("migrate: Invalid downtime"));
    }
    dom.migrate_set_max_downtime(downtime, 0)
        .await
        .map_err(CmdError::lib)?;
    Ok(Value::Null)
}

/// `migrate-getmaxdowntime DOMAIN`.
pub async fn get_max_downtime(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let (_, dom) = cmd_domain(ctl, cmd).await?;
    let ms = dom
        .migrate_get_max_downtime(0)
        .await
        .map_err(CmdError::lib)?;
    ctl.print(&format!("{ms}\n"));
    Ok(json!({ "downtime": ms }))
}

/// `migrate-setspeed DOMAIN BANDWIDTH [--postcopy]`.
pub async fn set_speed(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let (_, dom) = cmd_domain(ctl, cmd).await?;
    let bandwidth = ullong_wrap(cmd, "bandwidth")?.unwrap_or(0);
    let flags = if cmd.has("postcopy") {
        MAX_SPEED_POSTCOPY
    } else {
        0
    };
    dom.migrate_set_max_speed(bandwidth, flags)
        .await
        .map_err(CmdError::lib)?;
    Ok(Value::Null)
}

/// `migrate-getspeed DOMAIN [--postcopy]`.
pub async fn get_speed(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let (_, dom) = cmd_domain(ctl, cmd).await?;
    let flags = if cmd.has("postcopy") {
        MAX_SPEED_POSTCOPY
    } else {
        0
    };
    let mib = dom
        .migrate_get_max_speed(flags)
        .await
        .map_err(CmdError::lib)?;
    ctl.print(&format!("{mib}\n"));
    Ok(json!({ "bandwidth": mib }))
}

/// `migrate-postcopy DOMAIN`.
pub async fn postcopy(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let (_, dom) = cmd_domain(ctl, cmd).await?;
    dom.migrate_start_post_copy(0)
        .await
        .map_err(CmdError::lib)?;
    Ok(Value::Null)
}

/// `domjobabort DOMAIN [--postcopy]`. `--postcopy` (`virDomainAbortJobFlags`) is not in
/// oxvirt's driver interface yet: refused with libvirt's words for a missing call.
pub async fn domjobabort(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let (_, dom) = cmd_domain(ctl, cmd).await?;
    if cmd.has("postcopy") {
        return Err(CmdError::msg(
            "this function is not supported by the connection driver: virDomainAbortJobFlags",
        ));
    }
    dom.abort_job().await.map_err(CmdError::lib)?;
    Ok(Value::Null)
}

/// virsh's `virshDomainJobToString`.
fn job_type_name(kind: i32) -> &'static str {
    match kind {
        0 => "None",
        1 => "Bounded",
        2 => "Unbounded",
        3 => "Completed",
        4 => "Failed",
        5 => "Cancelled",
        _ => "unknown",
    }
}

/// virsh's `virshDomainJobOperationToString`.
fn operation_name(op: i32) -> &'static str {
    match op {
        0 => "Unknown",
        1 => "Start",
        2 => "Save",
        3 => "Restore",
        4 => "Incoming migration",
        5 => "Outgoing migration",
        6 => "Snapshot",
        7 => "Snapshot revert",
        8 => "Dump",
        9 => "Backup",
        10 => "Snapshot delete",
        _ => "unknown",
    }
}

/// virsh's `vshPrettyCapacity`: the value in the largest binary unit it reaches.
fn pretty(bytes: u64) -> (f64, &'static str) {
    const UNITS: [(u64, &str); 5] = [
        (1 << 50, "PiB"),
        (1 << 40, "TiB"),
        (1 << 30, "GiB"),
        (1 << 20, "MiB"),
        (1 << 10, "KiB"),
    ];
    for (size, unit) in UNITS {
        if bytes >= size {
            return (bytes as f64 / size as f64, unit);
        }
    }
    (bytes as f64, "B")
}

/// libvirt's `virTypedParameterToString`.
fn value_text(v: &TypedValue) -> String {
    match v {
        TypedValue::Int(n) => n.to_string(),
        TypedValue::UInt(n) => n.to_string(),
        TypedValue::LLong(n) => n.to_string(),
        TypedValue::ULLong(n) => n.to_string(),
        TypedValue::Double(d) => format!("{d:.6}"),
        TypedValue::Boolean(b) => u8::from(*b).to_string(),
        TypedValue::String(s) => s.clone(),
    }
}

/// The text `domjobinfo` prints for a job of type `kind` with statistics `params`
/// (virsh's `cmdDomjobinfo`, labels padded to 17 columns and values to 12).
pub fn job_text(kind: i32, params: &[TypedParam], anystats: bool) -> String {
    let ull = |name: &str| {
        params
            .iter()
            .find(|p| p.field == name)
            .and_then(|p| match p.value {
                TypedValue::ULLong(n) => Some(n),
                TypedValue::UInt(n) => Some(u64::from(n)),
                TypedValue::LLong(n) => u64::try_from(n).ok(),
                TypedValue::Int(n) => u64::try_from(n).ok(),
                _ => None,
            })
    };
    let mut out = String::new();
    let mut line = |label: &str, value: String| {
        out.push_str(&format!("{label:<17} {value}\n"));
    };
    line("Job type:", format!("{:<12}", job_type_name(kind)));
    if kind == 0 || (kind == 4 && !anystats) {
        return out;
    }
    let op = params
        .iter()
        .find(|p| p.field == "operation")
        .and_then(|p| match p.value {
            TypedValue::Int(n) => Some(n),
            _ => None,
        })
        .unwrap_or(0);
    line("Operation:", format!("{:<12}", operation_name(op)));
    let get = |name: &str| ull(name).unwrap_or(0);
    let ms = |v: u64| format!("{v:<12} ms");
    let cap = |v: u64| {
        let (val, unit) = pretty(v);
        format!("{val:.3} {unit}")
    };
    line("Time elapsed:", ms(get("time_elapsed")));
    if let Some(v) = ull("time_elapsed_net") {
        line("Time elapsed w/o network:", ms(v));
    }
    if kind == 1 {
        line("Time remaining:", ms(get("time_remaining")));
    }
    let (dp, dr, dt) = (
        get("data_processed"),
        get("data_remaining"),
        get("data_total"),
    );
    if dp != 0 || dr != 0 || dt != 0 {
        line("Data processed:", cap(dp));
        line("Data remaining:", cap(dr));
        line("Data total:", cap(dt));
    }
    let (mp, mr, mt) = (
        get("memory_processed"),
        get("memory_remaining"),
        get("memory_total"),
    );
    if mp != 0 || mr != 0 || mt != 0 {
        line("Memory processed:", cap(mp));
        line("Memory remaining:", cap(mr));
        line("Memory total:", cap(mt));
    }
    if let Some(v) = ull("memory_bps").filter(|v| *v != 0) {
        line("Memory bandwidth:", format!("{}/s", cap(v)));
    }
    if let Some(v) = ull("memory_dirty_rate") {
        line("Dirty rate:", format!("{v:<12} pages/s"));
    }
    if let Some(v) = ull("memory_page_size") {
        line("Page size:", format!("{v:<12} bytes"));
    }
    if let Some(v) = ull("memory_iteration") {
        line("Iteration:", format!("{v:<12}"));
    }
    if let Some(v) = ull("memory_postcopy_requests") {
        line("Postcopy requests:", format!("{v:<12}"));
    }
    let (fp, fr, ft) = (
        get("file_processed"),
        get("file_remaining"),
        get("file_total"),
    );
    if fp != 0 || fr != 0 || ft != 0 {
        line("File processed:", cap(fp));
        line("File remaining:", cap(fr));
        line("File total:", cap(ft));
    }
    if let Some(v) = ull("disk_bps").filter(|v| *v != 0) {
        line("File bandwidth:", format!("{}/s", cap(v)));
    }
    if let Some(v) = ull("memory_constant") {
        line("Constant pages:", format!("{v:<12}"));
    }
    if let Some(v) = ull("memory_normal") {
        line("Normal pages:", format!("{v:<12}"));
    }
    if let Some(v) = ull("memory_normal_bytes") {
        line("Normal data:", cap(v));
    }
    if let Some(v) = ull("downtime") {
        line("Total downtime:", ms(v));
    }
    if let Some(v) = ull("downtime_net") {
        line("Downtime w/o network:", ms(v));
    }
    if let Some(v) = ull("setup_time") {
        line("Setup time:", ms(v));
    }
    if let Some(v) = ull("compression_cache") {
        line("Compression cache:", cap(v));
    }
    if let Some(v) = ull("compression_bytes") {
        line("Compressed data:", cap(v));
    }
    if let Some(v) = ull("compression_pages") {
        line("Compressed pages:", format!("{v}"));
    }
    if let Some(v) = ull("compression_cache_misses") {
        line("Compression cache misses:", format!("{v}"));
    }
    if let Some(v) = ull("compression_overflow") {
        line("Compression overflows:", format!("{v}"));
    }
    if let Some(v) = ull("auto_converge_throttle") {
        line("Auto converge throttle:", format!("{v}"));
    }
    if let Some(v) = ull("disk_temp_used") {
        line("Temporary disk space use:", cap(v));
    }
    if let Some(v) = ull("disk_temp_total") {
        line("Temporary disk space total:", cap(v));
    }
    if let Some(TypedValue::String(s)) = params
        .iter()
        .find(|p| p.field == "errmsg")
        .map(|p| &p.value)
    {
        line("Error message:", s.clone());
    }
    out
}

/// `domjobinfo DOMAIN [--completed [--keep-completed]] [--anystats] [--rawstats]`.
pub async fn domjobinfo(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    require(cmd, "keep-completed", "completed")?;
    let (_, dom) = cmd_domain(ctl, cmd).await?;
    let mut flags = 0;
    if cmd.has("completed") {
        flags |= JOB_STATS_COMPLETED;
    }
    if cmd.has("keep-completed") {
        flags |= JOB_STATS_KEEP_COMPLETED;
    }
    let (kind, params) = job_stats(&dom, flags, cmd.has("rawstats")).await?;
    let raw: Vec<Value> = params
        .iter()
        .map(|p| json!({ "field": p.field, "value": value_text(&p.value) }))
        .collect();
    if cmd.has("rawstats") {
        let mut out = format!("Job type: {kind}\n\n");
        for p in &params {
            out.push_str(&format!("{}: {}\n", p.field, value_text(&p.value)));
        }
        ctl.print(&out);
    } else {
        ctl.print(&job_text(kind, &params, cmd.has("anystats")));
    }
    Ok(json!({ "type": kind, "stats": raw }))
}

/// `virDomainGetJobStats`, falling back to `virDomainGetJobInfo` for plain statistics
/// when the driver lacks the former (as virsh does).
async fn job_stats(
    dom: &Domain,
    flags: u32,
    rawstats: bool,
) -> Result<(i32, Vec<TypedParam>), CmdError> {
    match dom.job_stats(flags).await {
        Ok(stats) => Ok(stats),
        Err(e) if e.code == oxvirt::ErrorCode::NoSupport && (flags != 0 || rawstats) => {
            Err(CmdError::with(
                "Optional flags or --rawstats are not supported by the daemon",
                e,
            ))
        }
        Err(e) if e.code == oxvirt::ErrorCode::NoSupport => {
            let info = dom.job_info().await.map_err(CmdError::lib)?;
            let u = |f: &str, v: u64| TypedParam::new(f, TypedValue::ULLong(v));
            Ok((
                info.kind,
                vec![
                    u("time_elapsed", info.time_elapsed),
                    u("time_remaining", info.time_remaining),
                    u("data_total", info.data_total),
                    u("data_processed", info.data_processed),
                    u("data_remaining", info.data_remaining),
                    u("memory_total", info.mem_total),
                    u("memory_processed", info.mem_processed),
                    u("memory_remaining", info.mem_remaining),
                    u("file_total", info.file_total),
                    u("file_processed", info.file_processed),
                    u("file_remaining", info.file_remaining),
                ],
            ))
        }
        Err(e) => Err(CmdError::lib(e)),
    }
}
