//! Domain placement commands: `vcpuinfo`, `vcpupin`, `emulatorpin`, `iothreadinfo`,
//! `iothreadpin`, `numatune`, with virsh 9.0's options, output and messages.

use oxvirt::flags::{affect, vcpu};
use oxvirt::{CpuMap, Domain, DomainState, TypedParam, TypedValue};
use oxvirt_xml::types::cpuset::CpuSet;
use serde_json::{json, Value};

use super::node::{format_cpus, host_cpu_count};
use super::{cmd_domain, exclusive};
use crate::args::Cmd;
use crate::ctl::{CmdResult, Ctl};
use crate::output::{CmdError, Table};

/// `VIR_DOMAIN_NUMATUNE_MEM_*` names, by number.
const NUMA_MODES: [&str; 4] = ["strict", "preferred", "interleave", "restrictive"];

/// `--config`/`--live`/`--current` as virsh reads them: the flags, and whether any was
/// given.
fn affect_opts(cmd: &Cmd) -> Result<(u32, bool), CmdError> {
    exclusive(cmd, "current", "live")?;
    exclusive(cmd, "current", "config")?;
    let flags = cmd.flags(&[("config", affect::CONFIG), ("live", affect::LIVE)]);
    let any = cmd.has("current") || flags != 0;
    Ok((flags, any))
}

/// The bytes of a map of `cpus` CPUs (`VIR_CPU_MAPLEN`).
fn maplen(cpus: u32) -> usize {
    (cpus as usize).div_ceil(8)
}

/// The CPUs of a map, as libvirt's `virBitmapDataFormat` prints them.
fn map_text(map: &CpuMap) -> String {
    format_cpus(&map.cpus())
}

/// virsh's `virshParseCPUList`: `r` for every host CPU, else a libvirt bitmap
/// (`0-3,^2`) whose CPUs must exist.
fn parse_cpulist(cpulist: &str, maxcpu: u32) -> Result<CpuMap, CmdError> {
    if cpulist.starts_with('r') {
        return Ok(CpuMap::from_cpus(maplen(maxcpu), 0..maxcpu));
    }
    let invalid = || format!("Invalid cpulist '{cpulist}'");
    let set = match CpuSet::parse_with_limit(cpulist, 1024) {
        Ok(set) => set,
        Err(_) => {
            return Err(CmdError::with(
                invalid(),
                oxvirt::VirError::new(
                    oxvirt::ErrorDomain::None,
                    oxvirt::ErrorCode::InvalidArg,
                    format!("Failed to parse bitmap '{cpulist}'"),
                ),
            ))
        }
    };
    let Some(last) = set.last() else {
        return Err(CmdError::msg(invalid()));
    };
    if last >= maxcpu {
        return Err(CmdError::msg(format!(
            "CPU {last} in cpulist '{cpulist}' exceed the maxcpu {maxcpu}"
        )));
    }
    Ok(CpuMap::from_cpus(1024 / 8, set.iter()))
}

/// virsh's `virshVcpuinfoPrintAffinity`.
fn affinity_line(map: &CpuMap, maxcpu: u32, pretty: bool) -> String {
    let mut s = format!("{:<15} ", "CPU Affinity:");
    if pretty {
        let cpus: Vec<u32> = map.cpus().into_iter().filter(|c| *c < maxcpu).collect();
        s.push_str(&format!("{} (out of {maxcpu})", format_cpus(&cpus)));
    } else {
        s.extend((0..maxcpu).map(|c| if map.contains(c) { 'y' } else { '-' }));
    }
    s.push('\n');
    s
}

/// `virshDomainVcpuStateToString`.
fn vcpu_state(state: i32) -> &'static str {
    match state {
        0 => "offline",
        1 => "running",
        2 => "blocked",
        _ => "no state",
    }
}

/// `vcpuinfo DOMAIN [--pretty]`: the running domain's vCPUs, or for an inactive one
/// their configured affinity.
pub async fn vcpuinfo(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let (conn, dom) = cmd_domain(ctl, cmd).await?;
    let pretty = cmd.has("pretty");
    let maxcpu = host_cpu_count(&conn).await?;
    let info = dom.info().await.map_err(CmdError::lib)?;
    let n = info.nr_virt_cpu as i32;
    let len = maplen(maxcpu);
    let mut text = String::new();
    let mut rows = Vec::new();
    match dom.vcpu_info(n, len as i32).await {
        Ok((vcpus, maps)) => {
            for (i, v) in vcpus.iter().enumerate() {
                text.push_str(&format!("{:<15} {}\n", "VCPU:", v.number));
                text.push_str(&format!("{:<15} {}\n", "CPU:", v.cpu));
                text.push_str(&format!("{:<15} {}\n", "State:", vcpu_state(v.state)));
                if v.cpu_time_ns != 0 {
                    let secs = v.cpu_time_ns as f64 / 1e9;
                    text.push_str(&format!("{:<15} {secs:.1}s\n", "CPU time:"));
                }
                let map = maps.get(i).cloned().unwrap_or_default();
                text.push_str(&affinity_line(&map, maxcpu, pretty));
                if i + 1 < vcpus.len() {
                    text.push('\n');
                }
                rows.push(json!({ "vcpu": v.number, "cpu": v.cpu,
                    "state": vcpu_state(v.state), "cpu_time_ns": v.cpu_time_ns,
                    "affinity": map_text(&map) }));
            }
        }
        Err(e) => {
            if info.state != DomainState::Shutoff {
                return Err(CmdError::lib(e));
            }
            let maps = dom
                .vcpu_pin_info(n, len as i32, affect::CONFIG)
                .await
                .map_err(CmdError::lib)?;
            for (i, map) in maps.iter().enumerate() {
                text.push_str(&format!("{:<15} {i}\n", "VCPU:"));
                text.push_str(&format!("{:<15} N/A\n", "CPU:"));
                text.push_str(&format!("{:<15} N/A\n", "State:"));
                text.push_str(&format!("{:<15} N/A\n", "CPU time"));
                text.push_str(&affinity_line(map, maxcpu, pretty));
                if i + 1 < maps.len() {
                    text.push('\n');
                }
                rows.push(json!({ "vcpu": i, "affinity": map_text(map) }));
            }
        }
    }
    ctl.print(&text);
    Ok(json!({ "vcpus": rows }))
}

/// `vcpupin DOMAIN [--vcpu N] [--cpulist LIST] [--config] [--live] [--current]`: with a
/// CPU list, pins the vCPU; without, shows the affinity of every vCPU (or of `--vcpu`).
pub async fn vcpupin(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let (flags, any) = affect_opts(cmd)?;
    let cpulist = cmd.get("cpulist");
    if cpulist.is_none() {
        exclusive(cmd, "live", "config")?;
    }
    let (conn, dom) = cmd_domain(ctl, cmd).await?;
    let vcpu_no = cmd.uint("vcpu").map_err(CmdError::msg)?;
    if cpulist.is_some() && vcpu_no.is_none() {
        return Err(CmdError::msg("vcpupin: Missing vCPU number in pin mode."));
    }
    let maxcpu = host_cpu_count(&conn).await?;
    let Some(cpulist) = cpulist else {
        return vcpupin_query(ctl, &dom, vcpu_no, maxcpu, flags).await;
    };
    let map = parse_cpulist(cpulist, maxcpu)?;
    let vcpu_no = vcpu_no.unwrap_or(0);
    if flags == affect::CURRENT && !any {
        dom.pin_vcpu(vcpu_no, &map).await?;
    } else {
        dom.pin_vcpu_flags(vcpu_no, &map, flags).await?;
    }
    Ok(json!({ "vcpu": vcpu_no, "cpulist": format_cpus(&map.cpus()) }))
}

/// virsh's `virshVcpuPinQuery`.
async fn vcpupin_query(
    ctl: &mut Ctl,
    dom: &Domain,
    vcpu_no: Option<u32>,
    maxcpu: u32,
    flags: u32,
) -> CmdResult {
    if flags & affect::LIVE != 0 && !dom.is_active().await.unwrap_or(false) {
        return Err(CmdError::msg("cannot get vcpupin for offline domain"));
    }
    if flags & affect::CONFIG != 0 && !dom.is_persistent().await.unwrap_or(false) {
        return Err(CmdError::msg("cannot get vcpupin for transient domain"));
    }
    let ncpus = dom
        .vcpus(flags | vcpu::MAXIMUM)
        .await
        .map_err(CmdError::lib)?;
    if let Some(v) = vcpu_no {
        if v >= ncpus {
            let live = flags & affect::LIVE != 0
                || (flags & affect::CONFIG == 0 && dom.is_active().await.unwrap_or(false));
            let which = if live { "live" } else { "persistent" };
            return Err(CmdError::msg(format!(
                "vcpu {v} is out of range of {which} cpu count {ncpus}"
            )));
        }
    }
    let len = maplen(maxcpu);
    let maps = dom
        .vcpu_pin_info(ncpus as i32, len as i32, flags)
        .await
        .map_err(CmdError::lib)?;
    let mut table = Table::new(&["VCPU", "CPU Affinity"]);
    let mut rows: Vec<Value> = Vec::new();
    for (i, map) in maps.iter().enumerate() {
        if vcpu_no.is_some_and(|v| v as usize != i) {
            continue;
        }
        table.row(vec![i.to_string(), map_text(map)]);
        rows.push(json!({ "vcpu": i, "affinity": map_text(map) }));
    }
    let quiet = ctl.opts.quiet;
    ctl.print(&table.render(quiet));
    Ok(json!({ "vcpus": rows }))
}

/// `emulatorpin DOMAIN [--cpulist LIST] [--config] [--live] [--current]`.
pub async fn emulatorpin(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let (flags, any) = affect_opts(cmd)?;
    let (conn, dom) = cmd_domain(ctl, cmd).await?;
    let cpulist = cmd.get("cpulist");
    let maxcpu = host_cpu_count(&conn).await?;
    let Some(cpulist) = cpulist else {
        let map = dom
            .emulator_pin_info(maplen(maxcpu) as i32, flags)
            .await
            .map_err(CmdError::lib)?;
        ctl.print_extra("emulator: CPU Affinity\n----------------------------------\n       *: ");
        ctl.print(&format!("{}\n", map_text(&map)));
        return Ok(json!({ "emulator": map_text(&map) }));
    };
    let map = parse_cpulist(cpulist, maxcpu)?;
    let flags = if any { flags } else { affect::LIVE };
    dom.pin_emulator(&map, flags).await?;
    Ok(json!({ "emulator": format_cpus(&map.cpus()) }))
}

/// `iothreadinfo DOMAIN [--config] [--live] [--current]`.
pub async fn iothreadinfo(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let (flags, _) = affect_opts(cmd)?;
    let (_, dom) = cmd_domain(ctl, cmd).await?;
    let info = dom
        .iothread_info(flags)
        .await
        .map_err(|e| CmdError::with("Unable to get domain IOThreads information", e))?;
    if info.is_empty() {
        ctl.print_extra("No IOThreads found for the domain");
        return Ok(json!({ "iothreads": [] }));
    }
    let mut table = Table::new(&["IOThread ID", "CPU Affinity"]);
    let mut rows = Vec::new();
    for t in &info {
        table.row(vec![t.id.to_string(), map_text(&t.cpumap)]);
        rows.push(json!({ "id": t.id, "affinity": map_text(&t.cpumap) }));
    }
    let quiet = ctl.opts.quiet;
    ctl.print(&table.render(quiet));
    Ok(json!({ "iothreads": rows }))
}

/// `iothreadpin DOMAIN IOTHREAD CPULIST [--config] [--live] [--current]`.
pub async fn iothreadpin(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let (flags, _) = affect_opts(cmd)?;
    let (conn, dom) = cmd_domain(ctl, cmd).await?;
    let id = cmd.uint("iothread").map_err(CmdError::msg)?.unwrap_or(0);
    let cpulist = cmd.required("cpulist").map_err(CmdError::msg)?;
    let maxcpu = host_cpu_count(&conn).await?;
    let map = parse_cpulist(cpulist, maxcpu)?;
    dom.pin_iothread(id, &map, flags).await?;
    Ok(json!({ "iothread": id, "cpulist": format_cpus(&map.cpus()) }))
}

/// `numatune DOMAIN [--mode MODE] [--nodeset SET] [--config] [--live] [--current]`: sets
/// the given parameters, or shows them all.
pub async fn numatune(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let (flags, _) = affect_opts(cmd)?;
    let (conn, dom) = cmd_domain(ctl, cmd).await?;
    let mut params = Vec::new();
    if let Some(nodeset) = cmd.string("nodeset").map_err(CmdError::msg)? {
        params.push(TypedParam::new(
            "numa_nodeset",
            TypedValue::String(nodeset.to_owned()),
        ));
    }
    if let Some(mode) = cmd.string("mode").map_err(CmdError::msg)? {
        let n = match NUMA_MODES.iter().position(|m| *m == mode) {
            Some(i) => i as i32,
            None => parse_c_int_any_base(mode)
                .ok_or_else(|| CmdError::msg(format!("Invalid mode: {mode}")))?,
        };
        params.push(TypedParam::new("numa_mode", TypedValue::Int(n)));
    }
    if !params.is_empty() {
        dom.set_numa_parameters(&params, flags)
            .await
            .map_err(|e| CmdError::with("Unable to change numa parameters", e))?;
        return Ok(json!({}));
    }
    // virsh asks for the count first: libvirt's test driver answers it whatever the
    // domain and flags, the QEMU driver checks them first.
    let counted_anyway = conn.hypervisor_type() == "TEST";
    let got = dom.numa_parameters(flags).await.map_err(|e| {
        let what = if counted_anyway && e.code != oxvirt::ErrorCode::NoSupport {
            "Unable to get numa parameters"
        } else {
            "Unable to get number of memory parameters"
        };
        CmdError::with(what, e)
    })?;
    let mut text = String::new();
    let mut value = json!({});
    for p in &got {
        let shown = match (&p.value, p.field.as_str()) {
            (TypedValue::Int(m), "numa_mode") => usize::try_from(*m)
                .ok()
                .and_then(|i| NUMA_MODES.get(i))
                .map_or("(null)".to_owned(), |s| (*s).to_owned()),
            (v, _) => typed_text(v),
        };
        text.push_str(&format!("{:<15}: {shown}\n", p.field));
        value[&p.field] = json!(shown);
    }
    ctl.print(&text);
    Ok(value)
}

/// virsh's `vshGetTypedParamValue`.
fn typed_text(v: &TypedValue) -> String {
    match v {
        TypedValue::Int(n) => n.to_string(),
        TypedValue::UInt(n) => n.to_string(),
        TypedValue::LLong(n) => n.to_string(),
        TypedValue::ULLong(n) => n.to_string(),
        TypedValue::Double(n) => format!("{n:.3}"),
        TypedValue::Boolean(b) => if *b { "yes" } else { "no" }.to_owned(),
        TypedValue::String(s) => s.clone(),
    }
}

/// `virStrToLong_i(s, NULL, 0, ..)`: decimal, `0x` hex or `0` octal, the whole string.
fn parse_c_int_any_base(s: &str) -> Option<i32> {
    let t = s.trim_start();
    let (neg, t) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let v = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        i64::from_str_radix(h, 16).ok()?
    } else if t.len() > 1 && t.starts_with('0') {
        i64::from_str_radix(&t[1..], 8).ok()?
    } else {
        t.parse::<i64>().ok()?
    };
    i32::try_from(if neg { -v } else { v }).ok()
}
