//! Looking at domains: `list`, `dominfo`, `domstate`, `domid`, `domname`, `domuuid`,
//! `dumpxml`, `event`.

use std::cmp::Ordering;

use oxvirt::flags::{list as list_flags, metadata, xml as xml_flags};
use oxvirt::{Connect, Domain, DomainEvent, DomainState, ErrorCode, EventKind, TypedValue};
use serde_json::{json, Value};

use super::event_loop::EventLoop;
use super::{cmd_domain, exclusive, lookup_domain, BY_ANY, BY_ID, BY_NAME, BY_UUID};
use crate::args::Cmd;
use crate::ctl::{CmdResult, Ctl};
use crate::output::{lifecycle_words, reason_name, state_name, CmdError, Table};

/// virsh's `virshDomainSorter`: running domains by ID, then inactive ones by name
/// (ignoring case).
pub fn sort_domains(doms: &mut [Domain]) {
    doms.sort_by(|a, b| match (a.id(), b.id()) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.name().to_lowercase().cmp(&b.name().to_lowercase()),
    });
}

/// The `--table` filter flags of `list` from its options.
pub fn list_flags(cmd: &Cmd) -> u32 {
    let mut flags = list_flags::ACTIVE;
    if cmd.has("inactive") || cmd.has("state-shutoff") {
        flags = list_flags::INACTIVE;
    }
    if cmd.has("all") {
        flags = list_flags::ACTIVE | list_flags::INACTIVE;
    }
    flags |= cmd.flags(&[
        ("persistent", list_flags::PERSISTENT),
        ("transient", list_flags::TRANSIENT),
        ("with-managed-save", list_flags::MANAGEDSAVE),
        ("without-managed-save", list_flags::NO_MANAGEDSAVE),
        ("autostart", list_flags::AUTOSTART),
        ("no-autostart", list_flags::NO_AUTOSTART),
        ("with-snapshot", list_flags::HAS_SNAPSHOT),
        ("without-snapshot", list_flags::NO_SNAPSHOT),
        ("with-checkpoint", list_flags::HAS_CHECKPOINT),
        ("without-checkpoint", list_flags::NO_CHECKPOINT),
        ("state-running", list_flags::RUNNING),
        ("state-paused", list_flags::PAUSED),
        ("state-shutoff", list_flags::SHUTOFF),
        ("state-other", list_flags::OTHER),
    ]);
    flags
}

/// A domain's title, as virsh's `virshGetDomainDescription`: the metadata call, "" when
/// there is none, the XML's `<title>` when the driver lacks the call.
async fn title(dom: &Domain) -> Result<String, CmdError> {
    match dom.metadata(metadata::TITLE, None, 0).await {
        Ok(t) => Ok(t),
        Err(e) if e.code == ErrorCode::NoDomainMetadata => Ok(String::new()),
        Err(e) if e.code == ErrorCode::NoSupport => {
            let xml = dom.xml_desc(0).await?;
            Ok(oxvirt::domain::Domain::parse(&xml)
                .ok()
                .and_then(|p| p.domain.title)
                .unwrap_or_default())
        }
        Err(e) => Err(CmdError::lib(e)),
    }
}

/// `list [filters] [--uuid] [--name] [--id] [--table] [--managed-save] [--title]`.
pub async fn list(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let flags = list_flags(cmd);
    exclusive(cmd, "table", "name")?;
    exclusive(cmd, "table", "uuid")?;
    exclusive(cmd, "table", "id")?;
    let (opt_uuid, opt_name, opt_id) = (cmd.has("uuid"), cmd.has("name"), cmd.has("id"));
    let opt_title = cmd.has("title");
    let managed = cmd.has("managed-save");
    let table_mode = cmd.has("table") || (!opt_uuid && !opt_name && !opt_id);
    let conn = ctl.conn()?.clone();
    let mut doms = conn
        .list_all_domains(flags)
        .await
        .map_err(|e| CmdError::with("Failed to list domains", e))?;
    sort_domains(&mut doms);

    let mut header = vec!["Id", "Name", "State"];
    if opt_title {
        header.push("Title");
    }
    if opt_uuid {
        header.push("UUID");
    }
    let mut table = Table::new(&header);
    let mut text = String::new();
    let mut items = Vec::new();
    for dom in &doms {
        let id = dom.id().map_or_else(|| "-".to_owned(), |i| i.to_string());
        if table_mode || ctl.json {
            // a domain gone meanwhile is left out, as in virsh
            let Ok(state) = dom.state().await else {
                continue;
            };
            let state = state.state();
            let saved = managed
                && state == DomainState::Shutoff
                && dom.has_managed_save(0).await.unwrap_or(false);
            let state_word = if saved { "saved" } else { state_name(state) };
            let mut row = vec![id.clone(), dom.name().to_owned(), state_word.to_owned()];
            let mut item = json!({
                "id": dom.id(),
                "name": dom.name(),
                "uuid": dom.uuid_string(),
                "state": state_word,
            });
            if opt_title {
                let t = title(dom).await?;
                item["title"] = json!(t);
                row.push(t);
            }
            if opt_uuid {
                row.push(dom.uuid_string());
            }
            table.row(row);
            items.push(item);
        }
        if !table_mode {
            let mut parts = Vec::new();
            if opt_uuid {
                parts.push(dom.uuid_string());
            }
            if opt_id {
                if dom.id().is_none() && !opt_uuid && !opt_name {
                    continue;
                }
                parts.push(id);
            }
            if opt_name {
                parts.push(dom.name().to_owned());
            }
            text.push_str(&parts.join(" "));
            text.push('\n');
        }
    }
    if table_mode {
        text = table.render(ctl.opts.quiet);
    }
    ctl.print(&text);
    Ok(Value::Array(items))
}

/// `dominfo DOMAIN`.
pub async fn dominfo(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let (conn, dom) = cmd_domain(ctl, cmd).await?;
    let line = |label: &str, value: &dyn std::fmt::Display| format!("{label:<15} {value}\n");
    let mut out = line(
        "Id:",
        &dom.id().map_or_else(|| "-".to_owned(), |i| i.to_string()),
    );
    out.push_str(&line("Name:", &dom.name()));
    out.push_str(&line("UUID:", &dom.uuid_string()));
    let mut v = json!({ "id": dom.id(), "name": dom.name(), "uuid": dom.uuid_string() });
    if let Ok(os) = dom.os_type().await {
        out.push_str(&line("OS Type:", &os));
        v["os_type"] = json!(os);
    }
    let mut failure = None;
    match dom.info().await {
        Ok(info) => {
            out.push_str(&line("State:", &state_name(info.state)));
            out.push_str(&line("CPU(s):", &info.nr_virt_cpu));
            if info.cpu_time_ns != 0 {
                let secs = info.cpu_time_ns as f64 / 1e9;
                out.push_str(&line("CPU time:", &format!("{secs:.1}s")));
            }
            if info.max_mem_kib == u64::from(u32::MAX) {
                out.push_str(&line("Max memory:", &"no limit"));
            } else {
                out.push_str(&line("Max memory:", &format!("{} KiB", info.max_mem_kib)));
            }
            out.push_str(&line("Used memory:", &format!("{} KiB", info.memory_kib)));
            v["state"] = json!(state_name(info.state));
            v["cpus"] = json!(info.nr_virt_cpu);
            v["cpu_time_ns"] = json!(info.cpu_time_ns);
            v["max_memory_kib"] = json!(info.max_mem_kib);
            v["used_memory_kib"] = json!(info.memory_kib);
        }
        Err(e) => failure = Some(CmdError::lib(e)),
    }
    let persistent = dom.is_persistent().await.ok();
    let yes_no = |b: Option<bool>| match b {
        Some(true) => "yes",
        Some(false) => "no",
        None => "unknown",
    };
    out.push_str(&line("Persistent:", &yes_no(persistent)));
    v["persistent"] = json!(persistent);
    if let Ok(autostart) = dom.autostart().await {
        out.push_str(&line(
            "Autostart:",
            &if autostart { "enable" } else { "disable" },
        ));
        v["autostart"] = json!(autostart);
    }
    let managed = dom.has_managed_save(0).await.ok();
    out.push_str(&line("Managed save:", &yes_no(managed)));
    v["managed_save"] = json!(managed);
    match conn.security_model().await {
        Ok(model) if !model.model.is_empty() => {
            out.push_str(&line("Security model:", &model.model));
            out.push_str(&line("Security DOI:", &model.doi));
            v["security_model"] = json!(model.model);
            v["security_doi"] = json!(model.doi);
            match dom.security_label().await {
                Ok(label) if !label.label.is_empty() => {
                    let mode = if label.enforcing {
                        "enforcing"
                    } else {
                        "permissive"
                    };
                    out.push_str(&line(
                        "Security label:",
                        &format!("{} ({mode})", label.label),
                    ));
                    v["security_label"] = json!(label.label);
                    v["security_enforcing"] = json!(label.enforcing);
                }
                Ok(_) => {}
                Err(e) => {
                    ctl.print(&out);
                    return Err(CmdError::lib(e));
                }
            }
        }
        Ok(_) => {}
        Err(e) if e.code == ErrorCode::NoSupport => {}
        Err(e) => {
            ctl.print(&out);
            return Err(CmdError::lib(e));
        }
    }
    ctl.print(&out);
    match failure {
        Some(e) => Err(e),
        None => Ok(v),
    }
}

/// `domstate DOMAIN [--reason]`.
pub async fn domstate(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let (_, dom) = cmd_domain(ctl, cmd).await?;
    let st = dom.state().await?;
    let state = state_name(st.state());
    let reason = reason_name(st);
    if cmd.has("reason") {
        ctl.print(&format!("{state} ({reason})\n"));
    } else {
        ctl.print(&format!("{state}\n"));
    }
    Ok(json!({
        "state": state,
        "reason": reason,
        "state_code": st.state().number(),
        "reason_code": st.reason(),
    }))
}

async fn lookup_arg(ctl: &Ctl, cmd: &Cmd, by: u8) -> Result<Domain, CmdError> {
    let conn: Connect = ctl.conn()?.clone();
    let arg = cmd.required("domain").map_err(CmdError::msg)?;
    lookup_domain(&conn, arg, by).await
}

/// `domid DOMAIN` (by name or UUID): the ID, `-` when inactive.
pub async fn domid(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let dom = lookup_arg(ctl, cmd, BY_NAME | BY_UUID).await?;
    match dom.id() {
        Some(id) => ctl.print(&format!("{id}\n")),
        None => ctl.print("-\n"),
    }
    Ok(json!({ "id": dom.id() }))
}

/// `domname DOMAIN` (by ID or UUID).
pub async fn domname(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let dom = lookup_arg(ctl, cmd, BY_ID | BY_UUID).await?;
    ctl.print(&format!("{}\n", dom.name()));
    Ok(json!({ "name": dom.name() }))
}

/// `domuuid DOMAIN` (by ID or name).
pub async fn domuuid(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let dom = lookup_arg(ctl, cmd, BY_ID | BY_NAME).await?;
    ctl.print(&format!("{}\n", dom.uuid_string()));
    Ok(json!({ "uuid": dom.uuid_string() }))
}

/// `dumpxml DOMAIN [--inactive] [--security-info] [--update-cpu] [--migratable]`.
/// `--xpath` is not supported (refused with a message).
pub async fn dumpxml(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let (_, dom) = cmd_domain(ctl, cmd).await?;
    if cmd.has("xpath") || cmd.has("wrap") {
        return Err(CmdError::msg(
            "--xpath and --wrap are not supported by oxvirsh",
        ));
    }
    let flags = cmd.flags(&[
        ("inactive", xml_flags::INACTIVE),
        ("security-info", xml_flags::SECURE),
        ("update-cpu", xml_flags::UPDATE_CPU),
        ("migratable", xml_flags::MIGRATABLE),
    ]);
    let xml = dom.xml_desc(flags).await?;
    ctl.print(&xml);
    Ok(json!({ "domain": dom.name(), "xml": xml }))
}

/// The event names `event --list` prints, in `virDomainEventID` order.
pub const EVENT_NAMES: [&str; 27] = [
    "lifecycle",
    "reboot",
    "rtc-change",
    "watchdog",
    "io-error",
    "graphics",
    "io-error-reason",
    "control-error",
    "block-job",
    "disk-change",
    "tray-change",
    "pm-wakeup",
    "pm-suspend",
    "balloon-change",
    "pm-suspend-disk",
    "device-removed",
    "block-job-2",
    "tunable",
    "agent-lifecycle",
    "device-added",
    "migration-iteration",
    "job-completed",
    "device-removal-failed",
    "metadata-change",
    "block-threshold",
    "memory-failure",
    "memory-device-size-change",
];

/// The event's name (`lifecycle`, `device-added`).
pub fn event_name(kind: &EventKind) -> &'static str {
    let index = usize::try_from(kind.id().number()).unwrap_or(usize::MAX);
    EVENT_NAMES.get(index).copied().unwrap_or("unknown")
}

/// The line `event` prints for an event, as virsh prints it.
pub fn event_line(event: &DomainEvent) -> String {
    let name = &event.domain.name;
    match &event.kind {
        EventKind::Lifecycle(l) => {
            let (what, detail) = lifecycle_words(*l);
            format!("event 'lifecycle' for domain '{name}': {what} {detail}\n")
        }
        EventKind::DeviceAdded { alias } => {
            format!("event 'device-added' for domain '{name}': {alias}\n")
        }
        EventKind::DeviceRemoved { alias } => {
            format!("event 'device-removed' for domain '{name}': {alias}\n")
        }
        EventKind::BalloonChange { actual_kib } => {
            format!("event 'balloon-change' for domain '{name}': {actual_kib}KiB\n")
        }
        EventKind::MetadataChange { kind, nsuri } => {
            let kind = match kind {
                0 => "description",
                1 => "title",
                2 => "element",
                _ => "unsupported value",
            };
            let uri = nsuri.as_deref().unwrap_or("<null>");
            format!("event 'metadata-change' for domain '{name}': type {kind}, uri {uri}\n")
        }
        EventKind::Tunable { params } => {
            let mut text = format!("event 'tunable' for domain '{name}':\n");
            for p in params {
                text.push_str(&format!(
                    "\t{}: {}\n",
                    p.field,
                    typed_param_string(&p.value)
                ));
            }
            text
        }
        EventKind::MigrationIteration { iteration } => {
            format!("event 'migration-iteration' for domain '{name}': iteration: '{iteration}'\n")
        }
        EventKind::JobCompleted { params } => {
            let mut text = format!("event 'job-completed' for domain '{name}':\n");
            for p in params {
                text.push_str(&format!(
                    "\t{}: {}\n",
                    p.field,
                    typed_param_string(&p.value)
                ));
            }
            text
        }
        other => format!("event '{}' for domain '{name}'\n", event_name(other)),
    }
}

/// libvirt's `virTypedParameterToString`: numbers in C's `%d`/`%u`/`%lld`/`%llu`/`%g`, a
/// boolean as `1` or `0`, a string as it is.
fn typed_param_string(value: &TypedValue) -> String {
    match value {
        TypedValue::Int(n) => n.to_string(),
        TypedValue::UInt(n) => n.to_string(),
        TypedValue::LLong(n) => n.to_string(),
        TypedValue::ULLong(n) => n.to_string(),
        TypedValue::Double(d) => c_format_g(*d),
        TypedValue::Boolean(b) => i32::from(*b).to_string(),
        TypedValue::String(s) => s.clone(),
    }
}

/// C's `printf("%g")`: six significant digits, trailing zeros dropped, the exponent form
/// (`1e+06`, `1.5e-05`) when the exponent is below -4 or at least 6.
fn c_format_g(d: f64) -> String {
    if d.is_nan() {
        return if d.is_sign_negative() { "-nan" } else { "nan" }.to_owned();
    }
    if d.is_infinite() {
        return if d < 0.0 { "-inf" } else { "inf" }.to_owned();
    }
    if d == 0.0 {
        return if d.is_sign_negative() { "-0" } else { "0" }.to_owned();
    }
    // Rounded to six significant digits first: the exponent is the rounded one.
    let sci = format!("{d:.5e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let trim = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_owned()
        } else {
            s.to_owned()
        }
    };
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim(mantissa), exp.unsigned_abs())
    } else {
        let decimals = usize::try_from(5 - exp).unwrap_or(0);
        trim(&format!("{d:.decimals$}"))
    }
}

fn event_json(event: &DomainEvent) -> Value {
    let mut v = json!({
        "event": event_name(&event.kind),
        "domain": event.domain.name,
        "uuid": event.domain.uuid.to_string(),
    });
    match &event.kind {
        EventKind::Lifecycle(l) => {
            let (what, detail) = lifecycle_words(*l);
            v["type"] = json!(what);
            v["detail"] = json!(detail);
            v["type_code"] = json!(l.event());
            v["detail_code"] = json!(l.detail());
        }
        EventKind::DeviceAdded { alias } | EventKind::DeviceRemoved { alias } => {
            v["alias"] = json!(alias);
        }
        EventKind::BalloonChange { actual_kib } => v["actual_kib"] = json!(actual_kib),
        EventKind::MetadataChange { kind, nsuri } => {
            v["kind"] = json!(kind);
            v["nsuri"] = json!(nsuri);
        }
        EventKind::MigrationIteration { iteration } => v["iteration"] = json!(iteration),
        EventKind::Tunable { params } | EventKind::JobCompleted { params } => {
            let map: serde_json::Map<String, Value> = params
                .iter()
                .map(|p| (p.field.clone(), json!(typed_param_string(&p.value))))
                .collect();
            v["params"] = Value::Object(map);
        }
        _ => {}
    }
    v
}

/// `event [--domain D] (--event NAME | --all | --list) [--loop] [--timeout S]
/// [--timestamp]`: waits for events of the connection and prints them as virsh does.
pub async fn event(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    exclusive(cmd, "all", "event")?;
    exclusive(cmd, "list", "all")?;
    exclusive(cmd, "list", "event")?;
    if cmd.has("list") {
        ctl.print(
            &EVENT_NAMES
                .iter()
                .map(|n| format!("{n}\n"))
                .collect::<String>(),
        );
        return Ok(json!(EVENT_NAMES));
    }
    let wanted = cmd.string("event").map_err(CmdError::msg)?;
    let all = cmd.has("all");
    if wanted.is_none() && !all {
        return Err(CmdError::msg(
            "one of --list, --all, or --event <type> is required",
        ));
    }
    if let Some(name) = wanted {
        if !EVENT_NAMES.contains(&name) {
            return Err(CmdError::msg(format!("unknown event type {name}")));
        }
    }
    let mut waiting = EventLoop::from_cmd(cmd)?;
    let conn = ctl.conn()?.clone();
    let filter = match cmd.string("domain").map_err(CmdError::msg)? {
        Some(arg) => Some(lookup_domain(&conn, arg, BY_ANY).await?.uuid()),
        None => None,
    };
    let mut stream = conn.events();
    while let Some(event) = waiting.next(stream.next()).await {
        if filter.is_some_and(|u| u != event.domain.uuid) {
            continue;
        }
        if wanted.is_some_and(|w| w != event_name(&event.kind)) {
            continue;
        }
        if !waiting.show(ctl, event_json(&event), &event_line(&event)) {
            break;
        }
    }
    waiting.finish(ctl)
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxvirt::{DomainRef, TypedParam, Uuid};

    #[test]
    fn doubles_print_as_c_percent_g() {
        let cases = [
            (0.0, "0"),
            (1.5, "1.5"),
            (100000.0, "100000"),
            (1e6, "1e+06"),
            (123456789.0, "1.23457e+08"),
            (0.0001, "0.0001"),
            (0.000015, "1.5e-05"),
            (-2.25, "-2.25"),
            (999999.5, "1e+06"),
            (1.0 / 3.0, "0.333333"),
        ];
        for (d, want) in cases {
            assert_eq!(c_format_g(d), want, "{d}");
        }
    }

    #[test]
    fn tunable_events_print_one_line_per_parameter() {
        let event = DomainEvent {
            domain: DomainRef {
                name: "vm".into(),
                uuid: Uuid::from([1; 16]),
                id: 2,
            },
            kind: EventKind::Tunable {
                params: vec![
                    TypedParam::new("cputune.vcpupin0", TypedValue::String("0-1".into())),
                    TypedParam::new("cputune.cpu_shares", TypedValue::ULLong(512)),
                ],
            },
        };
        assert_eq!(event_name(&event.kind), "tunable");
        assert_eq!(
            event_line(&event),
            "event 'tunable' for domain 'vm':\n\tcputune.vcpupin0: 0-1\n\tcputune.cpu_shares: 512\n"
        );
        let v = event_json(&event);
        assert_eq!(v["params"]["cputune.vcpupin0"], "0-1");
    }
}
