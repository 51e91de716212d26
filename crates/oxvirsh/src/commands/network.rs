//! The `net-*` commands, as virsh 9.0's virsh-network.c prints them.

use oxvirt::network_flags as nf;
use oxvirt::{Connect, Network};
use oxvirt_network::api::Update;
use oxvirt_network::{Lease, NetworkEvent, NetworkEventKind};
use serde_json::{json, Value};

use crate::args::Cmd;
use crate::ctl::{CmdResult, Ctl};
use crate::output::{format_time, CmdError, Table};

use super::event_loop::EventLoop;
use super::read_file;

/// Look networks up by UUID (virsh's `VIRSH_BYUUID`).
const BY_UUID: u8 = 2;
/// Look networks up by name (virsh's `VIRSH_BYNAME`).
const BY_NAME: u8 = 4;

/// virsh's `virshCommandOptNetworkBy`: the option as a UUID (if it is 36 characters long),
/// then as a name; failing both, "failed to get network 'arg'" and the library's error.
pub async fn lookup_network(conn: &Connect, arg: &str, by: u8) -> Result<Network, CmdError> {
    let mut last = None;
    if by & BY_UUID != 0 && arg.len() == 36 {
        match conn.lookup_network_by_uuid_string(arg).await {
            Ok(n) => return Ok(n),
            Err(e) => last = Some(e),
        }
    }
    if by & BY_NAME != 0 {
        match conn.lookup_network_by_name(arg).await {
            Ok(n) => return Ok(n),
            Err(e) => last = Some(e),
        }
    }
    let message = format!("failed to get network '{arg}'");
    Err(match last {
        Some(e) => CmdError::with(message, e),
        None => CmdError::msg(message),
    })
}

async fn cmd_network(ctl: &Ctl, cmd: &Cmd, by: u8) -> Result<(Connect, Network), CmdError> {
    let conn = ctl.conn()?.clone();
    let arg = cmd.required("network").map_err(CmdError::msg)?;
    let net = lookup_network(&conn, arg, by).await?;
    Ok((conn, net))
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn action(action: &str, net: &Network) -> Value {
    json!({ "action": action, "network": net.name(), "uuid": net.uuid_string() })
}

/// `net-list`: the networks in a table, or their names or UUIDs.
pub async fn list(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let modes = ["table", "name", "uuid"]
        .iter()
        .filter(|m| cmd.has(m))
        .count();
    if modes > 1 {
        return Err(CmdError::msg(
            "Only one argument from --table, --name and --uuid may be specified.",
        ));
    }
    let mut flags = nf::list::ACTIVE;
    if cmd.has("inactive") {
        flags = nf::list::INACTIVE;
    }
    if cmd.has("all") {
        flags = nf::list::ACTIVE | nf::list::INACTIVE;
    }
    flags |= cmd.flags(&[
        ("persistent", nf::list::PERSISTENT),
        ("transient", nf::list::TRANSIENT),
        ("autostart", nf::list::AUTOSTART),
        ("no-autostart", nf::list::NO_AUTOSTART),
    ]);
    let conn = ctl.conn()?.clone();
    let mut nets = conn
        .list_all_networks(flags)
        .await
        .map_err(|e| CmdError::with("Failed to list networks", e))?;
    nets.sort_by_key(|n| n.name().to_ascii_lowercase());
    let (opt_name, opt_uuid) = (cmd.has("name"), cmd.has("uuid"));
    let mut table = Table::new(&["Name", "State", "Autostart", "Persistent"]);
    let mut text = String::new();
    let mut items = Vec::new();
    for net in &nets {
        if opt_name {
            text.push_str(&format!("{}\n", net.name()));
        } else if opt_uuid {
            text.push_str(&format!("{}\n", net.uuid_string()));
        }
        if opt_name || opt_uuid {
            if ctl.json {
                items.push(json!({ "name": net.name(), "uuid": net.uuid_string() }));
            }
            continue;
        }
        let auto = net.autostart().await.ok();
        let autostart = auto.map_or("no autostart", yes_no);
        let active = net.is_active().await.unwrap_or(false);
        let persistent = net.is_persistent().await.unwrap_or(false);
        let state = if active { "active" } else { "inactive" };
        table.row(vec![
            net.name().to_owned(),
            state.to_owned(),
            autostart.to_owned(),
            yes_no(persistent).to_owned(),
        ]);
        items.push(json!({
            "name": net.name(),
            "uuid": net.uuid_string(),
            "state": state,
            "active": active,
            "autostart": auto,
            "persistent": persistent,
        }));
    }
    if !ctl.json {
        if opt_name || opt_uuid {
            ctl.print(&text);
        } else {
            let rendered = table.render(ctl.opts.quiet);
            ctl.print(&rendered);
        }
    }
    Ok(Value::Array(items))
}

/// `net-info`.
pub async fn info(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let (_, net) = cmd_network(ctl, cmd, BY_NAME | BY_UUID).await?;
    let mut out = format!("{:<15} {}\n", "Name:", net.name());
    out.push_str(&format!("{:<15} {}\n", "UUID:", net.uuid_string()));
    let mut v = json!({ "name": net.name(), "uuid": net.uuid_string() });
    if let Ok(active) = net.is_active().await {
        out.push_str(&format!("{:<15} {}\n", "Active:", yes_no(active)));
        v["active"] = json!(active);
    }
    let persistent = net.is_persistent().await.ok();
    let text = persistent.map_or("unknown", yes_no);
    out.push_str(&format!("{:<15} {}\n", "Persistent:", text));
    v["persistent"] = json!(persistent);
    let autostart = net.autostart().await.ok();
    let text = autostart.map_or("no autostart", yes_no);
    out.push_str(&format!("{:<15} {}\n", "Autostart:", text));
    v["autostart"] = json!(autostart);
    if let Ok(bridge) = net.bridge_name().await {
        out.push_str(&format!("{:<15} {}\n", "Bridge:", bridge));
        v["bridge"] = json!(bridge);
    }
    if !ctl.json {
        ctl.print(&out);
    }
    Ok(v)
}

/// `net-define` and `net-create` (`create`): a network from an XML file.
pub async fn define(ctl: &mut Ctl, cmd: &Cmd, create: bool) -> CmdResult {
    let from = cmd.required("file").map_err(CmdError::msg)?;
    let flags = if cmd.has("validate") {
        nf::define::VALIDATE
    } else {
        0
    };
    let conn = ctl.conn()?.clone();
    let xml = read_file(from)?;
    let (result, verb) = if create {
        (conn.create_network_xml(&xml, flags).await, "create")
    } else {
        (conn.define_network_xml(&xml, flags).await, "define")
    };
    let net =
        result.map_err(|e| CmdError::with(format!("Failed to {verb} network from {from}"), e))?;
    let done = if create { "created" } else { "defined" };
    ctl.print_extra(&format!("Network {} {done} from {from}\n", net.name()));
    Ok(action(done, &net))
}

/// `net-start`, `net-destroy`, `net-undefine`.
pub async fn lifecycle(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let (_, net) = cmd_network(ctl, cmd, BY_NAME | BY_UUID).await?;
    let name = net.name().to_owned();
    let (result, failed, done, word) = match cmd.def.name {
        "net-start" => (
            net.create().await,
            format!("Failed to start network {name}"),
            format!("Network {name} started\n"),
            "started",
        ),
        "net-destroy" => (
            net.destroy().await,
            format!("Failed to destroy network {name}"),
            format!("Network {name} destroyed\n"),
            "destroyed",
        ),
        _ => (
            net.undefine().await,
            format!("Failed to undefine network {name}"),
            format!("Network {name} has been undefined\n"),
            "undefined",
        ),
    };
    result.map_err(|e| CmdError::with(failed, e))?;
    ctl.print_extra(&done);
    Ok(action(word, &net))
}

/// `net-autostart [--disable]`.
pub async fn autostart(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let (_, net) = cmd_network(ctl, cmd, BY_NAME | BY_UUID).await?;
    let on = !cmd.has("disable");
    let name = net.name().to_owned();
    net.set_autostart(on).await.map_err(|e| {
        let what = if on { "mark" } else { "unmark" };
        CmdError::with(format!("failed to {what} network {name} as autostarted"), e)
    })?;
    let what = if on { "marked" } else { "unmarked" };
    ctl.print_extra(&format!("Network {name} {what} as autostarted\n"));
    Ok(action(what, &net))
}

/// `net-dumpxml [--inactive]`.
pub async fn dumpxml(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    if cmd.has("xpath") || cmd.has("wrap") {
        return Err(CmdError::msg(
            "--xpath and --wrap are not supported by oxvirsh",
        ));
    }
    let (_, net) = cmd_network(ctl, cmd, BY_NAME | BY_UUID).await?;
    let flags = if cmd.has("inactive") {
        nf::xml::INACTIVE
    } else {
        0
    };
    let xml = net.xml_desc(flags).await.map_err(CmdError::lib)?;
    if !ctl.json {
        ctl.print(&xml);
    }
    Ok(json!({ "network": net.name(), "xml": xml }))
}

/// `net-name`: the name of the network with a UUID.
pub async fn name(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let (_, net) = cmd_network(ctl, cmd, BY_UUID).await?;
    if !ctl.json {
        ctl.print(&format!("{}\n", net.name()));
    }
    Ok(json!(net.name()))
}

/// `net-uuid`: the UUID of the network with a name.
pub async fn uuid(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let (_, net) = cmd_network(ctl, cmd, BY_NAME).await?;
    if !ctl.json {
        ctl.print(&format!("{}\n", net.uuid_string()));
    }
    Ok(json!(net.uuid_string()))
}

/// virsh's names of `virNetworkUpdateCommand` ("add" is "add-last").
fn update_command(word: &str) -> Option<u32> {
    Some(match word {
        "modify" => 1,
        "delete" => 2,
        "add-last" | "add" => 3,
        "add-first" => 4,
        _ => return None,
    })
}

/// virsh's names of `virNetworkUpdateSection`.
const SECTIONS: [&str; 12] = [
    "bridge",
    "domain",
    "ip",
    "ip-dhcp-host",
    "ip-dhcp-range",
    "forward",
    "forward-interface",
    "forward-pf",
    "portgroup",
    "dns-host",
    "dns-txt",
    "dns-srv",
];

/// `net-update NETWORK COMMAND SECTION XML [--parent-index N] [--live] [--config]
/// [--current]`.
pub async fn update(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    super::exclusive(cmd, "current", "live")?;
    super::exclusive(cmd, "current", "config")?;
    let (_, net) = cmd_network(ctl, cmd, BY_NAME | BY_UUID).await?;
    let word = cmd.required("command").map_err(CmdError::msg)?;
    let command = update_command(word)
        .ok_or_else(|| CmdError::msg(format!("unrecognized command name '{word}'")))?;
    let word = cmd.required("section").map_err(CmdError::msg)?;
    let section = SECTIONS
        .iter()
        .position(|s| *s == word)
        .map(|i| i as u32 + 1)
        .ok_or_else(|| CmdError::msg(format!("unrecognized section name '{word}'")))?;
    let parent_index = match cmd.get("parent-index") {
        None => -1,
        Some(raw) => raw.parse::<i32>().map_err(|_| {
            CmdError::msg(format!(
                "Numeric value '{raw}' for <parent-index> option is malformed or out of range"
            ))
        })?,
    };
    let arg = cmd.required("xml").map_err(CmdError::msg)?;
    let xml = if arg.starts_with('<') {
        arg.to_owned()
    } else {
        read_file(arg)?
    };
    let mut flags = nf::update::CURRENT;
    if !cmd.has("current") {
        if cmd.has("config") {
            flags |= nf::update::CONFIG;
        }
        if cmd.has("live") {
            flags |= nf::update::LIVE;
        }
    }
    let update = Update {
        command,
        section,
        parent_index,
        xml,
        flags,
    };
    net.update_raw(&update)
        .await
        .map_err(|e| CmdError::with(format!("Failed to update network {}", net.name()), e))?;
    let affected = if flags & nf::update::CONFIG != 0 {
        if flags & nf::update::LIVE != 0 {
            "persistent config and live state"
        } else {
            "persistent config"
        }
    } else if flags & nf::update::LIVE != 0 || net.is_active().await.unwrap_or(false) {
        "live state"
    } else {
        "persistent config"
    };
    ctl.print_extra(&format!("Updated network {} {affected}", net.name()));
    Ok(json!({ "action": "updated", "network": net.name(), "affected": affected }))
}

/// `YYYY-MM-DD HH:MM:SS` of a lease's expiry (virsh's local time; oxvirsh shows UTC).
fn expiry(epoch: i64) -> String {
    format_time(epoch).trim_end_matches(" +0000").to_owned()
}

fn lease_json(l: &Lease) -> Value {
    json!({
        "expiry_time": l.expiry_time,
        "mac": l.mac,
        "iaid": l.iaid,
        "type": if l.kind == 0 { "ipv4" } else { "ipv6" },
        "ip": l.ip,
        "prefix": l.prefix,
        "hostname": l.hostname,
        "client_id": l.client_id,
        "iface": l.iface,
    })
}

/// `net-dhcp-leases NETWORK [--mac MAC]`.
pub async fn dhcp_leases(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let mac = cmd.string("mac").map_err(CmdError::msg)?;
    let arg = cmd.required("network").map_err(CmdError::msg)?.to_owned();
    let (_, net) = cmd_network(ctl, cmd, BY_NAME | BY_UUID).await?;
    let mut leases = net
        .dhcp_leases(mac, 0)
        .await
        .map_err(|e| CmdError::with(format!("Failed to get leases info for {arg}"), e))?;
    leases.sort_by(|a, b| {
        let key = |l: &Lease| l.mac.clone().or_else(|| l.iaid.clone()).unwrap_or_default();
        key(a).cmp(&key(b))
    });
    let mut table = Table::new(&[
        "Expiry Time",
        "MAC address",
        "Protocol",
        "IP address",
        "Hostname",
        "Client ID or DUID",
    ]);
    let dash = |s: &Option<String>| s.clone().unwrap_or_else(|| "-".into());
    for l in &leases {
        table.row(vec![
            expiry(l.expiry_time),
            dash(&l.mac),
            if l.kind == 0 { "ipv4" } else { "ipv6" }.to_owned(),
            format!("{}/{}", l.ip, l.prefix),
            dash(&l.hostname),
            dash(&l.client_id),
        ]);
    }
    if !ctl.json {
        let rendered = table.render(ctl.opts.quiet);
        ctl.print(&rendered);
    }
    Ok(Value::Array(leases.iter().map(lease_json).collect()))
}

/// `virshNetworkEventToString`.
fn event_word(kind: NetworkEventKind) -> &'static str {
    match kind {
        NetworkEventKind::Defined => "Defined",
        NetworkEventKind::Undefined => "Undefined",
        NetworkEventKind::Started => "Started",
        NetworkEventKind::Stopped => "Stopped",
    }
}

/// The line virsh prints for a network lifecycle event.
pub fn event_line(event: &NetworkEvent) -> String {
    format!(
        "event 'lifecycle' for network {}: {}\n",
        event.network.name,
        event_word(event.kind)
    )
}

/// `net-event [--network N] (--event lifecycle | --list) [--loop] [--timeout S]
/// [--timestamp]`.
pub async fn event(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    if cmd.has("list") {
        ctl.print("lifecycle\n");
        return Ok(json!(["lifecycle"]));
    }
    let Some(wanted) = cmd.string("event").map_err(CmdError::msg)? else {
        return Err(CmdError::msg("either --list or --event <type> is required"));
    };
    if wanted != "lifecycle" {
        return Err(CmdError::msg(format!("unknown event type {wanted}")));
    }
    let mut waiting = EventLoop::from_cmd(cmd)?;
    let conn = ctl.conn()?.clone();
    let filter = match cmd.string("network").map_err(CmdError::msg)? {
        Some(arg) => Some(lookup_network(&conn, arg, BY_NAME | BY_UUID).await?.uuid()),
        None => None,
    };
    let mut stream = conn.network_events().map_err(CmdError::lib)?;
    while let Some(event) = waiting.next(stream.next()).await {
        if filter.is_some_and(|u| u != event.network.uuid) {
            continue;
        }
        let json = json!({
            "event": "lifecycle",
            "network": event.network.name,
            "uuid": event.network.uuid.to_string(),
            "type": event_word(event.kind),
            "type_code": event.kind as i32,
        });
        if !waiting.show(ctl, json, &event_line(&event)) {
            break;
        }
    }
    waiting.finish(ctl)
}
