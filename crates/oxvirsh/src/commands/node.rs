//! Host commands about the node's resources: `capabilities`, `domcapabilities`,
//! `sysinfo`, `maxvcpus`, `nodecpumap`, `nodecpustats`, `nodememstats`, `freecell`,
//! `freepages`, with virsh 9.0's output and messages.

use oxvirt::{NODE_CPU_STATS_ALL_CPUS, NODE_MEMORY_STATS_ALL_CELLS};
use oxvirt_xml::Element;
use serde_json::{json, Value};

use crate::args::{parse_c_long, Cmd};
use crate::ctl::{CmdResult, Ctl};
use crate::output::CmdError;

/// A signed `int` option, as `vshCommandOptInt` reads it.
pub fn int_opt(cmd: &Cmd, name: &str) -> Result<Option<i32>, CmdError> {
    match cmd.get(name) {
        None => Ok(None),
        Some(v) => parse_c_long(v)
            .and_then(|n| i32::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| {
                CmdError::msg(format!(
                    "Numeric value '{v}' for <{name}> option is malformed or out of range"
                ))
            }),
    }
}

/// `capabilities`.
pub async fn capabilities(ctl: &mut Ctl) -> CmdResult {
    let conn = ctl.conn()?.clone();
    let caps = conn
        .capabilities()
        .await
        .map_err(|e| CmdError::with("failed to get capabilities", e))?;
    ctl.print(&format!("{caps}\n"));
    Ok(json!({ "capabilities": caps }))
}

/// `domcapabilities [--virttype] [--emulatorbin] [--arch] [--machine]`.
pub async fn domcapabilities(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let conn = ctl.conn()?.clone();
    let opt = |name: &str| cmd.string(name).map_err(CmdError::msg);
    let virttype = opt("virttype")?;
    let emulator = opt("emulatorbin")?;
    let arch = opt("arch")?;
    let machine = opt("machine")?;
    let caps = conn
        .domain_capabilities(emulator, arch, machine, virttype, 0)
        .await
        .map_err(|e| CmdError::with("failed to get emulator capabilities", e))?;
    ctl.print(&format!("{caps}\n"));
    Ok(json!({ "domcapabilities": caps }))
}

/// `sysinfo`.
pub async fn sysinfo(ctl: &mut Ctl) -> CmdResult {
    let conn = ctl.conn()?.clone();
    let xml = conn
        .sysinfo(0)
        .await
        .map_err(|e| CmdError::with("failed to get sysinfo", e))?;
    ctl.print(&xml);
    Ok(json!({ "sysinfo": xml }))
}

/// `maxvcpus [--type]`: the `<vcpu max>` of the domain capabilities, else
/// `virConnectGetMaxVcpus`.
pub async fn maxvcpus(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let conn = ctl.conn()?.clone();
    let kind = cmd.string("type").map_err(CmdError::msg)?;
    let from_caps = match conn.domain_capabilities(None, None, None, kind, 0).await {
        Ok(xml) => {
            let doc = oxvirt_xml::parse(&xml).map_err(|e| CmdError::msg(e.to_string()))?;
            doc.child("vcpu")
                .and_then(|v| v.attr("max"))
                .and_then(|m| m.trim().parse::<u32>().ok())
        }
        Err(_) => None,
    };
    let n = match from_caps {
        Some(n) => n,
        None => conn.max_vcpus(kind).await.map_err(CmdError::lib)?,
    };
    ctl.print(&format!("{n}\n"));
    Ok(json!({ "maxvcpus": n }))
}

/// virsh's `virshNodeGetCPUCount`: the host's CPU count from the CPU map, else from the
/// node information.
pub async fn host_cpu_count(conn: &oxvirt::Connect) -> Result<u32, CmdError> {
    match conn.node_cpu_map(0).await {
        Ok(m) => Ok(m.cpus),
        Err(first) => match conn.node_info().await {
            Ok(n) => Ok(n.nodes * n.sockets * n.cores * n.threads),
            Err(_) => Err(CmdError::lib(first)),
        },
    }
}

/// `nodecpumap [--pretty]`.
pub async fn nodecpumap(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let conn = ctl.conn()?.clone();
    let m = conn
        .node_cpu_map(0)
        .await
        .map_err(|e| CmdError::with("Unable to get cpu map", e))?;
    let mut text = format!(
        "{:<15} {}\n{:<15} {}\n{:<15} ",
        "CPUs present:", m.cpus, "CPUs online:", m.online, "CPU map:"
    );
    let online: Vec<u32> = m
        .online_map
        .cpus()
        .into_iter()
        .filter(|c| *c < m.cpus)
        .collect();
    if cmd.has("pretty") {
        text.push_str(&format_cpus(&online));
    } else {
        text.extend((0..m.cpus).map(|c| if m.online_map.contains(c) { 'y' } else { '-' }));
    }
    text.push('\n');
    ctl.print(&text);
    Ok(json!({ "present": m.cpus, "online": m.online, "map": format_cpus(&online) }))
}

/// libvirt's `virBitmapFormat`: `0-3,5,7-8`.
pub fn format_cpus(cpus: &[u32]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < cpus.len() {
        let start = cpus[i];
        let mut end = start;
        while i + 1 < cpus.len() && cpus[i + 1] == end + 1 {
            i += 1;
            end = cpus[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    parts.join(",")
}

/// The order virsh prints the CPU counters in, with its labels.
const CPU_FIELDS: [(&str, &str); 4] = [
    ("user", "user:"),
    ("kernel", "system:"),
    ("idle", "idle:"),
    ("iowait", "iowait:"),
];

/// C's `%5.1lf` of a percentage (`-nan` for 0/0, as glibc prints it).
fn pct(v: f64) -> String {
    if v.is_nan() {
        format!("{:>5}", "-nan")
    } else {
        format!("{v:5.1}")
    }
}

/// `nodecpustats [--cpu N] [--percent]`.
pub async fn nodecpustats(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let conn = ctl.conn()?.clone();
    let cpu = int_opt(cmd, "cpu")?.unwrap_or(NODE_CPU_STATS_ALL_CPUS);
    let percent = cmd.has("percent");
    // libvirt's drivers count their counters without looking at the CPU: a failure is
    // the second call's, unless the driver has no such call at all.
    let first = conn.node_cpu_stats(cpu, 0).await.map_err(|e| {
        let what = if e.code == oxvirt::ErrorCode::NoSupport {
            "Unable to get number of cpu stats"
        } else {
            "Unable to get node cpu stats"
        };
        CmdError::with(what, e)
    })?;
    if first.is_empty() {
        return Ok(json!({}));
    }
    let get = |stats: &[(String, u64)], f: &str| stats.iter().find(|(n, _)| n == f).map(|s| s.1);
    let utilization = get(&first, "utilization");
    if !percent {
        let mut text = String::new();
        let mut value = json!({});
        for (field, label) in CPU_FIELDS {
            if let Some(v) = get(&first, field) {
                text.push_str(&format!("{label:<15} {v:>20}\n"));
                value[field] = json!(v);
            }
        }
        ctl.print(&text);
        return Ok(value);
    }
    if let Some(u) = utilization {
        ctl.print(&format!("{:<15} {}%\n", "usage:", pct(u as f64)));
        return Ok(json!({ "usage": u }));
    }
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let second = conn
        .node_cpu_stats(cpu, 0)
        .await
        .map_err(|e| CmdError::with("Unable to get node cpu stats", e))?;
    let delta = |f: &str| {
        get(&second, f)
            .unwrap_or(0)
            .wrapping_sub(get(&first, f).unwrap_or(0)) as f64
    };
    let total: f64 = CPU_FIELDS.iter().map(|(f, _)| delta(f)).sum();
    let usage = (delta("user") + delta("kernel")) / total * 100.0;
    let mut text = format!("{:<15} {}%\n", "usage:", pct(usage));
    let mut value = json!({ "usage": usage });
    for (field, label) in CPU_FIELDS {
        if get(&first, field).is_some() {
            let p = delta(field) / total * 100.0;
            text.push_str(&format!("{label:<15} {}%\n", pct(p)));
            value[field] = json!(p);
        }
    }
    ctl.print(&text);
    Ok(value)
}

/// `nodememstats [--cell N]`.
pub async fn nodememstats(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let conn = ctl.conn()?.clone();
    let cell = int_opt(cmd, "cell")?.unwrap_or(NODE_MEMORY_STATS_ALL_CELLS);
    let stats = conn
        .node_memory_stats(cell, 0)
        .await
        .map_err(|e| CmdError::with("Unable to get number of memory stats", e))?;
    let mut text = String::new();
    let mut value = json!({});
    for (field, v) in &stats {
        text.push_str(&format!("{field:<7}: {v:>20} KiB\n"));
        value[field] = json!(v);
    }
    ctl.print(&text);
    Ok(value)
}

/// The capabilities XML, parsed.
async fn caps_doc(conn: &oxvirt::Connect) -> Result<Element, CmdError> {
    let xml = conn
        .capabilities()
        .await
        .map_err(|e| CmdError::with("unable to get node capabilities", e))?;
    oxvirt_xml::parse(&xml).map_err(|e| CmdError::msg(e.to_string()))
}

/// `/capabilities/host/topology/cells/cell`.
fn cells(doc: &Element) -> Vec<&Element> {
    doc.child("host")
        .and_then(|h| h.child("topology"))
        .and_then(|t| t.child("cells"))
        .map(|c| c.elements().filter(|e| e.local_name() == "cell").collect())
        .unwrap_or_default()
}

/// `freecell [--cellno N] [--all]`.
pub async fn freecell(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let conn = ctl.conn()?.clone();
    let cellno = int_opt(cmd, "cellno")?;
    if cmd.has("all") && cellno.is_some() {
        return Err(CmdError::msg(
            "Options --all and --cellno are mutually exclusive",
        ));
    }
    if cmd.has("all") {
        let doc = caps_doc(&conn).await?;
        let mut rows = Vec::new();
        for cell in cells(&doc) {
            let id: u64 = cell
                .attr("id")
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| CmdError::msg("conversion from string failed"))?;
            let free = conn
                .cells_free_memory(id as i32, 1)
                .await
                .ok()
                .and_then(|v| v.first().copied())
                .ok_or_else(|| {
                    CmdError::msg(format!(
                        "failed to get free memory for NUMA node number: {id}"
                    ))
                })?;
            rows.push((id, free));
        }
        let mut text = String::new();
        let mut total = 0u64;
        for (id, free) in &rows {
            text.push_str(&format!("{id:>5}: {:>10} KiB\n", free / 1024));
            total += free;
        }
        ctl.print(&text);
        ctl.print_extra(&format!(
            "--------------------\n{:>5}: {:>10} KiB\n",
            "Total",
            total / 1024
        ));
        let cells: Vec<Value> = rows
            .iter()
            .map(|(id, free)| json!({ "cell": id, "free_kib": free / 1024 }))
            .collect();
        return Ok(json!({ "cells": cells, "total_kib": total / 1024 }));
    }
    if let Some(cell) = cellno {
        let free = conn
            .cells_free_memory(cell, 1)
            .await
            .map_err(CmdError::lib)?;
        let free = free.first().copied().unwrap_or(0);
        ctl.print(&format!("{cell}: {} KiB\n", free / 1024));
        return Ok(json!({ "cell": cell, "free_kib": free / 1024 }));
    }
    let free = conn.free_memory().await.map_err(CmdError::lib)?;
    ctl.print(&format!("Total: {} KiB\n", free / 1024));
    Ok(json!({ "total_kib": free / 1024 }))
}

/// `freepages [--cellno N] [--pagesize SIZE] [--all]`.
pub async fn freepages(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let conn = ctl.conn()?.clone();
    let all = cmd.has("all");
    let cellno = int_opt(cmd, "cellno")?;
    if all && cellno.is_some() {
        return Err(CmdError::msg(
            "Options --all and --cellno are mutually exclusive",
        ));
    }
    let pagesize = cmd
        .scaled("pagesize", 1024, u64::from(u32::MAX) * 1024)
        .map_err(|e| CmdError::lines(std::iter::once(e.message).chain(e.cause).collect()))?
        .map(|b| b.div_ceil(1024) as u32);
    if all {
        let doc = caps_doc(&conn).await?;
        let sizes: Vec<u32> =
            match pagesize {
                Some(p) => vec![p],
                None => {
                    let host = doc.child("host");
                    let mut pages: Vec<&Element> = host
                        .and_then(|h| h.child("cpu"))
                        .map(|c| c.elements().filter(|e| e.local_name() == "pages").collect())
                        .unwrap_or_default();
                    if pages.is_empty() {
                        pages = cells(&doc)
                            .first()
                            .map(|c| c.elements().filter(|e| e.local_name() == "pages").collect())
                            .unwrap_or_default();
                    }
                    if pages.is_empty() {
                        return Err(CmdError::msg(
                            "could not get information about supported page sizes",
                        ));
                    }
                    let mut sizes = Vec::new();
                    for p in pages {
                        let v = p.attr("size").unwrap_or("");
                        sizes.push(v.parse().map_err(|_| {
                            CmdError::msg(format!("unable to parse page size: {v}"))
                        })?);
                    }
                    sizes
                }
            };
        let mut value = Vec::new();
        for cell in cells(&doc) {
            let v = cell.attr("id").unwrap_or("");
            let id: i32 = v
                .parse()
                .map_err(|_| CmdError::msg(format!("unable to parse numa node id: {v}")))?;
            let counts = conn
                .node_free_pages(&sizes, id, 1, 0)
                .await
                .map_err(CmdError::lib)?;
            let mut text = format!("Node {id}:\n");
            for (size, count) in sizes.iter().zip(&counts) {
                text.push_str(&format!("{size}KiB: {}\n", *count as i64));
            }
            text.push('\n');
            ctl.print(&text);
            value.push(json!({ "cell": id, "pages": sizes.iter().zip(&counts)
                .map(|(s, c)| json!({ "size_kib": s, "free": c })).collect::<Vec<_>>() }));
        }
        return Ok(json!({ "cells": value }));
    }
    let Some(cell) = cellno else {
        return Err(CmdError::msg("missing cellno argument"));
    };
    let Some(size) = pagesize else {
        return Err(CmdError::msg("missing pagesize argument"));
    };
    if cell < -1 {
        return Err(CmdError::msg(
            "cell number must be non-negative integer or -1",
        ));
    }
    let counts = conn
        .node_free_pages(&[size], cell, 1, 0)
        .await
        .map_err(CmdError::lib)?;
    let count = counts.first().copied().unwrap_or(0);
    ctl.print(&format!("{size}KiB: {}\n", count as i64));
    Ok(json!({ "cell": cell, "size_kib": size, "free": count }))
}
