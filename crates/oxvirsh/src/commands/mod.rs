//! The commands, and running a parsed command line.

pub mod domain;
pub mod event_loop;
pub mod help;
pub mod host;
pub mod ifaddr;
pub mod migrate;
pub mod monitor;
pub mod network;
pub mod node;
pub mod placement;
pub mod snapshot;
pub mod storage;
pub mod table;

#[cfg(test)]
mod tests;

use std::time::Instant;

use oxvirt::{Connect, Domain};
use serde_json::{json, Value};

use crate::args::{parse_command, split_line, Cmd, ParseError};
use crate::ctl::{CmdResult, Ctl};
use crate::output::CmdError;

/// Look domains up by ID (virsh's `VIRSH_BYID`).
pub const BY_ID: u8 = 1;
/// Look domains up by UUID (virsh's `VIRSH_BYUUID`).
pub const BY_UUID: u8 = 2;
/// Look domains up by name (virsh's `VIRSH_BYNAME`).
pub const BY_NAME: u8 = 4;
/// Any of the three, in virsh's order: ID, then UUID, then name.
pub const BY_ANY: u8 = BY_ID | BY_UUID | BY_NAME;

/// virsh's `virshLookupDomainBy`: `arg` as an ID (a non-negative number), then as a UUID (if
/// it is 36 characters long), then as a name; failing all, "failed to get domain 'arg'"
/// (virsh drops the library's error; `--json` keeps it).
pub async fn lookup_domain(conn: &Connect, arg: &str, by: u8) -> Result<Domain, CmdError> {
    let mut last = None;
    if by & BY_ID != 0 {
        if let Some(id) = crate::args::parse_c_long(arg).and_then(|n| i32::try_from(n).ok()) {
            if id >= 0 {
                match conn.lookup_domain_by_id(id).await {
                    Ok(d) => return Ok(d),
                    Err(e) => last = Some(e),
                }
            }
        }
    }
    if by & BY_UUID != 0 && arg.len() == 36 {
        match conn.lookup_domain_by_uuid_string(arg).await {
            Ok(d) => return Ok(d),
            Err(e) => last = Some(e),
        }
    }
    if by & BY_NAME != 0 {
        match conn.lookup_domain_by_name(arg).await {
            Ok(d) => return Ok(d),
            Err(e) => last = Some(e),
        }
    }
    let message = format!("failed to get domain '{arg}'");
    Err(match last {
        Some(e) => CmdError::instead(message, e),
        None => CmdError::msg(message),
    })
}

/// The connection and the domain named by the command's `--domain` (any of ID, UUID, name).
pub async fn cmd_domain(ctl: &Ctl, cmd: &Cmd) -> Result<(Connect, Domain), CmdError> {
    let conn = ctl.conn()?.clone();
    let arg = cmd.required("domain").map_err(CmdError::msg)?;
    let dom = lookup_domain(&conn, arg, BY_ANY).await?;
    Ok((conn, dom))
}

/// virsh's `VSH_EXCLUSIVE_OPTIONS`: "Options --a and --b are mutually exclusive".
pub fn exclusive(cmd: &Cmd, a: &str, b: &str) -> Result<(), CmdError> {
    if cmd.has(a) && cmd.has(b) {
        return Err(CmdError::msg(format!(
            "Options --{a} and --{b} are mutually exclusive"
        )));
    }
    Ok(())
}

/// Reads a file named on the command line, with virsh's message when it cannot.
pub fn read_file(path: &str) -> Result<String, CmdError> {
    std::fs::read_to_string(path).map_err(|e| {
        CmdError::msg(format!(
            "Failed to open file '{path}': {}",
            crate::output::io_error_text(&e)
        ))
    })
}

/// The `{"action", "domain"}` object action commands print with `--json`.
pub fn action(action: &str, dom: &Domain) -> Value {
    json!({ "action": action, "domain": dom.name(), "uuid": dom.uuid_string() })
}

/// Parses a whole line into commands, as virsh does before running any of them.
pub fn parse_line(line: &str) -> Result<Vec<Cmd>, ParseError> {
    split_line(line)?
        .iter()
        .map(|words| parse_command(words, table::lookup))
        .collect()
}

/// Parses already-split words (`oxvirsh CMD ARGS...`) into one command.
pub fn parse_words(words: &[String]) -> Result<Vec<Cmd>, ParseError> {
    Ok(vec![parse_command(words, table::lookup)?])
}

/// Runs parsed commands in order, as virsh's `vshCommandRun`: each failure is reported,
/// a blank line follows each command (not with `-q` or `--json`); the result is the last
/// command's.
pub async fn run(ctl: &mut Ctl, cmds: &[Cmd]) -> bool {
    let mut ok = true;
    for cmd in cmds {
        ctl.json = ctl.opts.json || cmd.json;
        let started = Instant::now();
        let result = if cmd.help {
            help::command_help(ctl, cmd.def)
        } else if !cmd.def.no_connect && ctl.conn.is_none() {
            // after a failed `connect`, reconnect to the URI that last worked, as virsh
            match ctl.connect(None, false).await {
                Ok(()) => dispatch(ctl, cmd).await,
                Err(e) => Err(e),
            }
        } else {
            dispatch(ctl, cmd).await
        };
        ok = match result {
            Ok(value) => {
                if ctl.json && !value.is_null() {
                    ctl.print_json(&value);
                }
                true
            }
            Err(e) => {
                ctl.report(&e);
                false
            }
        };
        if matches!(cmd.def.name, "quit" | "exit") {
            ctl.flush();
            return ok;
        }
        if !ctl.json {
            if ctl.opts.timing {
                let ms = started.elapsed().as_secs_f64() * 1000.0;
                ctl.print(&format!("\n(Time: {ms:.3} ms)\n\n"));
            } else {
                ctl.print_extra("\n");
            }
        }
        ctl.flush();
    }
    ok
}

/// Runs one command.
async fn dispatch(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    match cmd.def.name {
        "attach-device" => domain::attach_device(ctl, cmd, true).await,
        "detach-device" => domain::attach_device(ctl, cmd, false).await,
        "autostart" => domain::autostart(ctl, cmd).await,
        "define" => domain::define(ctl, cmd).await,
        "destroy" => domain::destroy(ctl, cmd).await,
        "managedsave" => domain::managed_save(ctl, cmd).await,
        "reboot" => domain::shutdown(ctl, cmd, true).await,
        "shutdown" => domain::shutdown(ctl, cmd, false).await,
        "restore" => domain::restore(ctl, cmd).await,
        "resume" => domain::resume(ctl, cmd).await,
        "suspend" => domain::suspend(ctl, cmd).await,
        "save" => domain::save(ctl, cmd).await,
        "screenshot" => domain::screenshot(ctl, cmd).await,
        "setmem" => domain::setmem(ctl, cmd).await,
        "setvcpus" => domain::setvcpus(ctl, cmd).await,
        "start" => domain::start(ctl, cmd).await,
        "undefine" => domain::undefine(ctl, cmd).await,
        "domid" => monitor::domid(ctl, cmd).await,
        "domjobabort" => migrate::domjobabort(ctl, cmd).await,
        "domjobinfo" => migrate::domjobinfo(ctl, cmd).await,
        "migrate" => migrate::migrate(ctl, cmd).await,
        "migrate-setmaxdowntime" => migrate::set_max_downtime(ctl, cmd).await,
        "migrate-getmaxdowntime" => migrate::get_max_downtime(ctl, cmd).await,
        "migrate-setspeed" => migrate::set_speed(ctl, cmd).await,
        "migrate-getspeed" => migrate::get_speed(ctl, cmd).await,
        "migrate-postcopy" => migrate::postcopy(ctl, cmd).await,
        "domname" => monitor::domname(ctl, cmd).await,
        "domuuid" => monitor::domuuid(ctl, cmd).await,
        "dumpxml" => monitor::dumpxml(ctl, cmd).await,
        "dominfo" => monitor::dominfo(ctl, cmd).await,
        "domifaddr" => ifaddr::domifaddr(ctl, cmd).await,
        "domstate" => monitor::domstate(ctl, cmd).await,
        "list" => monitor::list(ctl, cmd).await,
        "event" => monitor::event(ctl, cmd).await,
        "hostname" => host::hostname(ctl).await,
        "nodeinfo" => host::nodeinfo(ctl).await,
        "capabilities" => node::capabilities(ctl).await,
        "domcapabilities" => node::domcapabilities(ctl, cmd).await,
        "sysinfo" => node::sysinfo(ctl).await,
        "maxvcpus" => node::maxvcpus(ctl, cmd).await,
        "nodecpumap" => node::nodecpumap(ctl, cmd).await,
        "nodecpustats" => node::nodecpustats(ctl, cmd).await,
        "nodememstats" => node::nodememstats(ctl, cmd).await,
        "freecell" => node::freecell(ctl, cmd).await,
        "freepages" => node::freepages(ctl, cmd).await,
        "vcpuinfo" => placement::vcpuinfo(ctl, cmd).await,
        "vcpupin" => placement::vcpupin(ctl, cmd).await,
        "emulatorpin" => placement::emulatorpin(ctl, cmd).await,
        "iothreadinfo" => placement::iothreadinfo(ctl, cmd).await,
        "iothreadpin" => placement::iothreadpin(ctl, cmd).await,
        "numatune" => placement::numatune(ctl, cmd).await,
        "uri" => host::uri(ctl),
        "version" => host::version(ctl, cmd).await,
        "connect" => host::connect(ctl, cmd).await,
        "snapshot-create-as" => snapshot::create_as(ctl, cmd).await,
        "snapshot-current" => snapshot::current(ctl, cmd).await,
        "snapshot-delete" => snapshot::delete(ctl, cmd).await,
        "snapshot-dumpxml" => snapshot::dumpxml(ctl, cmd).await,
        "snapshot-list" => snapshot::list(ctl, cmd).await,
        "snapshot-revert" => snapshot::revert(ctl, cmd).await,
        "net-list" => network::list(ctl, cmd).await,
        "net-info" => network::info(ctl, cmd).await,
        "net-define" => network::define(ctl, cmd, false).await,
        "net-create" => network::define(ctl, cmd, true).await,
        "net-start" | "net-destroy" | "net-undefine" => network::lifecycle(ctl, cmd).await,
        "net-autostart" => network::autostart(ctl, cmd).await,
        "net-dumpxml" => network::dumpxml(ctl, cmd).await,
        "net-update" => network::update(ctl, cmd).await,
        "net-dhcp-leases" => network::dhcp_leases(ctl, cmd).await,
        "net-event" => network::event(ctl, cmd).await,
        "net-name" => network::name(ctl, cmd).await,
        "net-uuid" => network::uuid(ctl, cmd).await,
        "pool-list" => storage::pool_list(ctl, cmd).await,
        "pool-info" => storage::pool_info(ctl, cmd).await,
        "pool-define" => storage::pool_define(ctl, cmd, false).await,
        "pool-create" => storage::pool_define(ctl, cmd, true).await,
        "pool-define-as" => storage::pool_define_as(ctl, cmd, false).await,
        "pool-create-as" => storage::pool_define_as(ctl, cmd, true).await,
        "pool-build" | "pool-start" | "pool-refresh" | "pool-destroy" | "pool-delete"
        | "pool-undefine" => storage::pool_lifecycle(ctl, cmd).await,
        "pool-autostart" => storage::pool_autostart(ctl, cmd).await,
        "pool-dumpxml" => storage::pool_dumpxml(ctl, cmd).await,
        "pool-name" => storage::pool_name(ctl, cmd).await,
        "pool-uuid" => storage::pool_uuid(ctl, cmd).await,
        "pool-event" => storage::pool_event(ctl, cmd).await,
        "find-storage-pool-sources" => storage::find_sources(ctl, cmd).await,
        "find-storage-pool-sources-as" => storage::find_sources_as(ctl, cmd).await,
        "vol-list" => storage::vol_list(ctl, cmd).await,
        "vol-info" => storage::vol_info(ctl, cmd).await,
        "vol-create" => storage::vol_create(ctl, cmd).await,
        "vol-create-as" => storage::vol_create_as(ctl, cmd).await,
        "vol-create-from" => storage::vol_create_from(ctl, cmd).await,
        "vol-clone" => storage::vol_clone(ctl, cmd).await,
        "vol-delete" => storage::vol_delete(ctl, cmd).await,
        "vol-wipe" => storage::vol_wipe(ctl, cmd).await,
        "vol-resize" => storage::vol_resize(ctl, cmd).await,
        "vol-dumpxml" => storage::vol_dumpxml(ctl, cmd).await,
        "vol-path" | "vol-key" => storage::vol_path_or_key(ctl, cmd).await,
        "vol-name" => storage::vol_name(ctl, cmd).await,
        "vol-pool" => storage::vol_pool(ctl, cmd).await,
        "vol-upload" => storage::vol_upload(ctl, cmd).await,
        "vol-download" => storage::vol_download(ctl, cmd).await,
        "help" => help::help(ctl, cmd),
        "quit" | "exit" => {
            ctl.quit = true;
            Ok(Value::Null)
        }
        other => Err(CmdError::msg(format!("unknown command: '{other}'"))),
    }
}
