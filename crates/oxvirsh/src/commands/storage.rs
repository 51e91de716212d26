//! The storage pool and volume commands (`pool-*`, `vol-*`, `find-storage-pool-sources*`),
//! as virsh 9.0's virsh-pool.c and virsh-volume.c print them.

use std::io::{Read, Seek, SeekFrom, Write};

use oxvirt::storage_flags as sf;
use oxvirt::{
    Chunk, Connect, PoolEvent, PoolEventKind, PoolEventWhat, PoolState, StoragePool, StorageVol,
    VolType,
};
use oxvirt::{ErrorCode, VirError};
use serde_json::{json, Value};

use crate::args::{scale_integer, Cmd};
use crate::ctl::{CmdResult, Ctl};
use crate::output::{CmdError, Table};

use super::event_loop::EventLoop;
use super::{exclusive, read_file};

/// Look pools up by UUID (virsh's `VIRSH_BYUUID`; for volumes: by key and path).
const BY_UUID: u8 = 2;
/// Look pools up by name (virsh's `VIRSH_BYNAME`; for volumes: by name in the pool).
const BY_NAME: u8 = 4;

/// The largest data chunk a stream packet carries.
const CHUNK: usize = 262_120;

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn opt_string<'a>(cmd: &'a Cmd, name: &str) -> Result<Option<&'a str>, CmdError> {
    cmd.string(name).map_err(CmdError::msg)
}

fn required<'a>(cmd: &'a Cmd, name: &str) -> Result<&'a str, CmdError> {
    cmd.required(name).map_err(CmdError::msg)
}

/// virsh's `vshPrettyCapacity`: the value in the largest binary unit below which it falls.
pub fn pretty_capacity(val: u64) -> (f64, &'static str) {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if val < 1024 {
        return (val as f64, "B");
    }
    let mut limit: u128 = 1024;
    for (i, unit) in UNITS.iter().enumerate() {
        if (val as u128) < limit * 1024 || i == UNITS.len() - 1 {
            return (val as f64 / limit as f64, unit);
        }
        limit *= 1024;
    }
    (val as f64, "B")
}

/// `"%.2lf %s"` of [`pretty_capacity`]: "1.00 GiB".
pub fn pretty(val: u64) -> String {
    let (v, unit) = pretty_capacity(val);
    format!("{v:.2} {unit}")
}

/// virsh's `virshStoragePoolStateToString`.
fn state_word(state: PoolState) -> &'static str {
    match state {
        PoolState::Inactive => "inactive",
        PoolState::Building => "building",
        PoolState::Running => "running",
        PoolState::Degraded => "degraded",
        PoolState::Inaccessible => "inaccessible",
    }
}

/// virsh's `virshVolumeTypeToString`.
fn vol_type_word(kind: VolType) -> &'static str {
    match kind {
        VolType::File => "file",
        VolType::Block => "block",
        VolType::Dir => "dir",
        VolType::Network => "network",
        VolType::Netdir => "netdir",
        VolType::Ploop => "ploop",
    }
}

/// virsh's `virshCommandOptPoolBy`: the argument as a UUID (if it is 36 characters
/// long), then as a name; failing both, "failed to get pool 'arg'" and the library's error.
pub async fn lookup_pool(conn: &Connect, arg: &str, by: u8) -> Result<StoragePool, CmdError> {
    let mut last = None;
    if by & BY_UUID != 0 && arg.len() == 36 {
        match conn.lookup_storage_pool_by_uuid_string(arg).await {
            Ok(p) => return Ok(p),
            Err(e) => last = Some(e),
        }
    }
    if by & BY_NAME != 0 {
        match conn.lookup_storage_pool_by_name(arg).await {
            Ok(p) => return Ok(p),
            Err(e) => last = Some(e),
        }
    }
    let message = format!("failed to get pool '{arg}'");
    Err(match last {
        Some(e) => CmdError::with(message, e),
        None => CmdError::msg(message),
    })
}

async fn cmd_pool(ctl: &Ctl, cmd: &Cmd, by: u8) -> Result<(Connect, StoragePool), CmdError> {
    let conn = ctl.conn()?.clone();
    let arg = required(cmd, "pool")?;
    let pool = lookup_pool(&conn, arg, by).await?;
    Ok((conn, pool))
}

/// virsh's `virshCommandOptVolBy`: the option `opt` as a volume name in the pool the
/// option `pool_opt` names (which must be running), then as a key, then as a path. The
/// argument is returned with the volume (virsh's messages name the volume as given).
pub async fn lookup_vol(
    ctl: &Ctl,
    cmd: &Cmd,
    opt: &str,
    pool_opt: Option<&str>,
    by: u8,
) -> Result<(StorageVol, String), CmdError> {
    let conn = ctl.conn()?.clone();
    let n = required(cmd, opt)?.to_owned();
    let p = match pool_opt {
        Some(po) => opt_string(cmd, po)?,
        None => None,
    };
    let pool = match p {
        Some(p) => {
            let pool = lookup_pool(&conn, p, BY_UUID | BY_NAME).await?;
            if pool.is_active().await.ok() != Some(true) {
                return Err(CmdError::msg(format!("pool '{p}' is not active")));
            }
            Some(pool)
        }
        None => None,
    };
    let mut last = None;
    let mut found = None;
    if let (Some(pool), true) = (&pool, by & BY_NAME != 0) {
        match pool.lookup_volume_by_name(&n).await {
            Ok(v) => found = Some(v),
            Err(e) => last = Some(e),
        }
    }
    if found.is_none() && by & BY_UUID != 0 {
        match conn.storage_vol_lookup_by_key(&n).await {
            Ok(v) => found = Some(v),
            Err(e) => last = Some(e),
        }
    }
    if found.is_none() && by & BY_UUID != 0 {
        match conn.storage_vol_lookup_by_path(&n).await {
            Ok(v) => found = Some(v),
            Err(e) => last = Some(e),
        }
    }
    let Some(vol) = found else {
        let message = match (&pool, pool_opt) {
            (None, Some(po)) => format!("failed to get vol '{n}', specifying --{po} might help"),
            _ => format!("failed to get vol '{n}'"),
        };
        return Err(match last {
            Some(e) => CmdError::with(message, e),
            None => CmdError::msg(message),
        });
    };
    if let Some(pool) = &pool {
        if let Ok(owner) = vol.pool().await {
            if owner.name() != pool.name() {
                return Err(CmdError::msg(format!(
                    "Requested volume '{n}' is not in pool '{}'",
                    pool.name()
                )));
            }
        }
    }
    Ok((vol, n))
}

async fn cmd_vol(ctl: &Ctl, cmd: &Cmd) -> Result<(StorageVol, String), CmdError> {
    lookup_vol(ctl, cmd, "vol", Some("pool"), BY_UUID | BY_NAME).await
}

fn pool_action(action: &str, pool: &StoragePool) -> Value {
    json!({ "action": action, "pool": pool.name(), "uuid": pool.uuid_string() })
}

fn vol_action(action: &str, vol: &StorageVol) -> Value {
    json!({ "action": action, "vol": vol.name(), "pool": vol.pool_name(), "key": vol.key() })
}

// ---- pools ----

/// `pool-list`: the pools in a table (`--details` for the long one), or their UUIDs and
/// names.
pub async fn pool_list(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    exclusive(cmd, "all", "inactive")?;
    let mut flags = sf::list::ACTIVE;
    if cmd.has("inactive") {
        flags = sf::list::INACTIVE;
    }
    if cmd.has("all") {
        flags = sf::list::ACTIVE | sf::list::INACTIVE;
    }
    flags |= cmd.flags(&[
        ("autostart", sf::list::AUTOSTART),
        ("no-autostart", sf::list::NO_AUTOSTART),
        ("persistent", sf::list::PERSISTENT),
        ("transient", sf::list::TRANSIENT),
    ]);
    let (want_uuid, want_name) = (cmd.has("uuid"), cmd.has("name"));
    let types = opt_string(cmd, "type")?;
    exclusive(cmd, "details", "uuid")?;
    exclusive(cmd, "details", "name")?;
    if let Some(types) = types {
        for t in types.split(',').filter(|t| !t.is_empty()) {
            flags |= sf::list::type_bit(t)
                .ok_or_else(|| CmdError::msg(format!("Invalid pool type '{t}'")))?;
        }
    }
    let details = cmd.has("details");
    let conn = ctl.conn()?.clone();
    let mut pools = conn
        .list_all_storage_pools(flags)
        .await
        .map_err(|e| CmdError::with("Failed to list pools", e))?;
    pools.sort_by_key(|p| p.name().to_ascii_lowercase());
    let mut items = Vec::new();
    let mut rows = Vec::new();
    for pool in &pools {
        let autostart = pool.autostart().await.ok();
        let auto_text = autostart.map_or("no autostart", yes_no);
        let persistent = if details {
            Some(pool.is_persistent().await.ok())
        } else {
            None
        };
        let info = pool.info().await.ok();
        let active = pool.is_active().await.unwrap_or(false);
        let (state, sizes) = match info {
            None => {
                let u = "unknown".to_owned();
                ("unknown".to_owned(), [u.clone(), u.clone(), u])
            }
            Some(i) if details => {
                let sizes = if matches!(i.state, PoolState::Running | PoolState::Degraded) {
                    [
                        pretty(i.capacity),
                        pretty(i.allocation),
                        pretty(i.available),
                    ]
                } else {
                    ["-".to_owned(), "-".to_owned(), "-".to_owned()]
                };
                (state_word(i.state).to_owned(), sizes)
            }
            Some(_) => {
                let state = if active { "active" } else { "inactive" };
                (state.to_owned(), Default::default())
            }
        };
        let persistent_text = match persistent {
            Some(Some(p)) => yes_no(p),
            _ => "unknown",
        };
        items.push(json!({
            "name": pool.name(),
            "uuid": pool.uuid_string(),
            "state": state,
            "active": active,
            "autostart": autostart,
            "persistent": persistent.flatten(),
            "capacity": info.map(|i| i.capacity),
            "allocation": info.map(|i| i.allocation),
            "available": info.map(|i| i.available),
        }));
        let mut row = vec![pool.name().to_owned(), state, auto_text.to_owned()];
        if details {
            row.push(persistent_text.to_owned());
            row.extend(sizes);
        }
        rows.push(row);
    }
    if ctl.json {
        return Ok(Value::Array(items));
    }
    if !details && (want_uuid || want_name) {
        let mut text = String::new();
        for pool in &pools {
            if want_uuid {
                let sep = if want_name { ' ' } else { '\n' };
                text.push_str(&format!("{:<36}{sep}", pool.uuid_string()));
            }
            if want_name {
                text.push_str(&format!("{:<20}\n", pool.name()));
            }
        }
        ctl.print(&text);
        return Ok(Value::Array(items));
    }
    let mut table = if details {
        Table::new(&[
            "Name",
            "State",
            "Autostart",
            "Persistent",
            "Capacity",
            "Allocation",
            "Available",
        ])
    } else {
        Table::new(&["Name", "State", "Autostart"])
    };
    for row in rows {
        table.row(row);
    }
    let rendered = table.render(ctl.opts.quiet);
    ctl.print(&rendered);
    Ok(Value::Array(items))
}

/// `pool-info [--bytes]`.
pub async fn pool_info(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let (_, pool) = cmd_pool(ctl, cmd, BY_UUID | BY_NAME).await?;
    let bytes = cmd.has("bytes");
    let mut out = format!("{:<15} {}\n", "Name:", pool.name());
    out.push_str(&format!("{:<15} {}\n", "UUID:", pool.uuid_string()));
    let mut v = json!({ "name": pool.name(), "uuid": pool.uuid_string() });
    let result = pool.info().await;
    if let Ok(info) = &result {
        out.push_str(&format!("{:<15} {}\n", "State:", state_word(info.state)));
        let persistent = pool.is_persistent().await.ok();
        out.push_str(&format!(
            "{:<15} {}\n",
            "Persistent:",
            persistent.map_or("unknown", yes_no)
        ));
        let autostart = pool.autostart().await.ok();
        out.push_str(&format!(
            "{:<15} {}\n",
            "Autostart:",
            autostart.map_or("no autostart", yes_no)
        ));
        v["state"] = json!(state_word(info.state));
        v["persistent"] = json!(persistent);
        v["autostart"] = json!(autostart);
        if matches!(info.state, PoolState::Running | PoolState::Degraded) {
            let rows = [
                ("Capacity:", info.capacity),
                ("Allocation:", info.allocation),
                ("Available:", info.available),
            ];
            for (label, val) in rows {
                if bytes {
                    out.push_str(&format!("{label:<15} {val}\n"));
                } else {
                    out.push_str(&format!("{label:<15} {}\n", pretty(val)));
                }
            }
            v["capacity"] = json!(info.capacity);
            v["allocation"] = json!(info.allocation);
            v["available"] = json!(info.available);
        }
    }
    ctl.print(&out);
    result.map_err(CmdError::lib)?;
    Ok(v)
}

/// `pool-define FILE` and `pool-create FILE [--build] [--overwrite|--no-overwrite]`.
pub async fn pool_define(ctl: &mut Ctl, cmd: &Cmd, create: bool) -> CmdResult {
    let from = required(cmd, "file")?.to_owned();
    let conn = ctl.conn()?.clone();
    let flags = if create {
        build_flags(cmd)?
    } else {
        cmd.flags(&[("validate", sf::define::VALIDATE)])
    };
    let xml = read_file(&from)?;
    let (result, verb, done) = if create {
        let r = conn.storage_pool_create_xml(&xml, flags).await;
        (r, "create", "created")
    } else {
        let r = conn.storage_pool_define_xml(&xml, flags).await;
        (r, "define", "defined")
    };
    let pool =
        result.map_err(|e| CmdError::with(format!("Failed to {verb} pool from {from}"), e))?;
    ctl.print_extra(&format!("Pool {} {done} from {from}\n", pool.name()));
    Ok(pool_action(done, &pool))
}

/// `--build`, `--overwrite`, `--no-overwrite` as `virStoragePoolCreate` flags.
fn build_flags(cmd: &Cmd) -> Result<u32, CmdError> {
    exclusive(cmd, "overwrite", "no-overwrite")?;
    Ok(cmd.flags(&[
        ("build", sf::create::WITH_BUILD),
        ("overwrite", sf::create::WITH_BUILD_OVERWRITE),
        ("no-overwrite", sf::create::WITH_BUILD_NO_OVERWRITE),
    ]))
}

/// virsh's `virshBuildPoolXML`: the pool XML `pool-define-as` and `pool-create-as` make
/// from their options, and the pool's name.
pub fn build_pool_xml(cmd: &Cmd) -> Result<(String, String), CmdError> {
    exclusive(cmd, "secret-usage", "secret-uuid")?;
    let name = required(cmd, "name")?;
    let kind = required(cmd, "type")?;
    let get = |o: &str| opt_string(cmd, o);
    let host = get("source-host")?;
    let path = get("source-path")?;
    let dev = get("source-dev")?;
    let src_name = get("source-name")?;
    let format = get("source-format")?;
    let target = get("target")?;
    let auth_type = get("auth-type")?;
    let auth_user = get("auth-username")?;
    let secret_usage = get("secret-usage")?;
    let secret_uuid = get("secret-uuid")?;
    let adapter_name = get("adapter-name")?;
    let wwnn = get("adapter-wwnn")?;
    let wwpn = get("adapter-wwpn")?;
    let parent = get("adapter-parent")?;
    let parent_wwnn = get("adapter-parent-wwnn")?;
    let parent_wwpn = get("adapter-parent-wwpn")?;
    let parent_fabric = get("adapter-parent-fabric-wwn")?;
    let proto_ver = get("source-protocol-ver")?;
    let initiator = get("source-initiator")?;

    let mut x = format!("<pool type='{kind}'>\n  <name>{name}</name>\n");
    let fc = wwnn.zip(wwpn);
    if host.is_some()
        || path.is_some()
        || dev.is_some()
        || initiator.is_some()
        || format.is_some()
        || src_name.is_some()
        || fc.is_some()
        || adapter_name.is_some()
    {
        x.push_str("  <source>\n");
        if let Some(h) = host {
            x.push_str(&format!("    <host name='{h}'/>\n"));
        }
        if let Some(p) = path {
            x.push_str(&format!("    <dir path='{p}'/>\n"));
        }
        if let Some(d) = dev {
            x.push_str(&format!("    <device path='{d}'/>\n"));
        }
        if let Some(i) = initiator {
            x.push_str(&format!(
                "    <initiator>\n      <iqn name='{i}'/>\n    </initiator>\n"
            ));
        }
        if let Some((wwnn, wwpn)) = fc {
            x.push_str("    <adapter type='fc_host'");
            if let Some(p) = parent {
                x.push_str(&format!(" parent='{p}'"));
            } else if let Some((pn, pp)) = parent_wwnn.zip(parent_wwpn) {
                x.push_str(&format!(" parent_wwnn='{pn}' parent_wwpn='{pp}'"));
            } else if let Some(f) = parent_fabric {
                x.push_str(&format!(" parent_fabric_wwn='{f}'"));
            }
            x.push_str(&format!(" wwnn='{wwnn}' wwpn='{wwpn}'/>\n"));
        } else if let Some(a) = adapter_name {
            x.push_str(&format!("    <adapter type='scsi_host' name='{a}'/>\n"));
        }
        if let (Some(t), Some(u), true) = (
            auth_type,
            auth_user,
            secret_usage.is_some() || secret_uuid.is_some(),
        ) {
            x.push_str(&format!("    <auth type='{t}' username='{u}'>\n"));
            match secret_usage {
                Some(s) => x.push_str(&format!("      <secret usage='{s}'/>\n")),
                None => x.push_str(&format!(
                    "      <secret uuid='{}'/>\n",
                    secret_uuid.unwrap_or_default()
                )),
            }
            x.push_str("    </auth>\n");
        }
        if let Some(f) = format {
            x.push_str(&format!("    <format type='{f}'/>\n"));
        }
        if let Some(n) = src_name {
            x.push_str(&format!("    <name>{n}</name>\n"));
        }
        if let Some(v) = proto_ver {
            x.push_str(&format!("    <protocol ver='{v}'/>\n"));
        }
        x.push_str("  </source>\n");
    }
    if let Some(t) = target {
        x.push_str(&format!("  <target>\n    <path>{t}</path>\n  </target>\n"));
    }
    x.push_str("</pool>\n");
    Ok((x, name.to_owned()))
}

/// `pool-define-as` and `pool-create-as` (`--print-xml`: only the XML).
pub async fn pool_define_as(ctl: &mut Ctl, cmd: &Cmd, create: bool) -> CmdResult {
    let flags = if create { build_flags(cmd)? } else { 0 };
    let (xml, name) = build_pool_xml(cmd)?;
    if cmd.has("print-xml") {
        ctl.print(&xml);
        return Ok(json!({ "xml": xml }));
    }
    let conn = ctl.conn()?.clone();
    let (result, verb, done) = if create {
        let r = conn.storage_pool_create_xml(&xml, flags).await;
        (r, "create", "created")
    } else {
        let r = conn.storage_pool_define_xml(&xml, 0).await;
        (r, "define", "defined")
    };
    let pool = result.map_err(|e| CmdError::with(format!("Failed to {verb} pool {name}"), e))?;
    ctl.print_extra(&format!("Pool {name} {done}\n"));
    Ok(pool_action(done, &pool))
}

/// `pool-build`, `pool-start`, `pool-refresh`, `pool-destroy`, `pool-delete`,
/// `pool-undefine`.
pub async fn pool_lifecycle(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let (_, pool) = cmd_pool(ctl, cmd, BY_UUID | BY_NAME).await?;
    // virsh names the pool as the argument gave it
    let name = required(cmd, "pool")?.to_owned();
    let (result, verb, done) = match cmd.def.name {
        "pool-build" => {
            let flags = cmd.flags(&[
                ("no-overwrite", sf::build::NO_OVERWRITE),
                ("overwrite", sf::build::OVERWRITE),
            ]);
            (pool.build(flags).await, "build", "built")
        }
        "pool-start" => {
            let flags = build_flags(cmd)?;
            (pool.create(flags).await, "start", "started")
        }
        "pool-refresh" => (pool.refresh(0).await, "refresh", "refreshed"),
        "pool-destroy" => (pool.destroy().await, "destroy", "destroyed"),
        "pool-delete" => (pool.delete(0).await, "delete", "deleted"),
        _ => (pool.undefine().await, "undefine", "has been undefined"),
    };
    result.map_err(|e| CmdError::with(format!("Failed to {verb} pool {name}"), e))?;
    ctl.print_extra(&format!("Pool {name} {done}\n"));
    let word = done.trim_start_matches("has been ");
    Ok(pool_action(word, &pool))
}

/// `pool-autostart [--disable]`.
pub async fn pool_autostart(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let (_, pool) = cmd_pool(ctl, cmd, BY_UUID | BY_NAME).await?;
    let name = required(cmd, "pool")?.to_owned();
    let on = !cmd.has("disable");
    pool.set_autostart(on).await.map_err(|e| {
        let what = if on { "mark" } else { "unmark" };
        CmdError::with(format!("failed to {what} pool {name} as autostarted"), e)
    })?;
    let what = if on { "marked" } else { "unmarked" };
    ctl.print_extra(&format!("Pool {name} {what} as autostarted\n"));
    Ok(pool_action(what, &pool))
}

/// `pool-dumpxml [--inactive]`.
pub async fn pool_dumpxml(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    if cmd.has("xpath") || cmd.has("wrap") {
        return Err(CmdError::msg(
            "--xpath and --wrap are not supported by oxvirsh",
        ));
    }
    let flags = cmd.flags(&[("inactive", sf::xml::INACTIVE)]);
    let (_, pool) = cmd_pool(ctl, cmd, BY_UUID | BY_NAME).await?;
    let xml = pool.xml_desc(flags).await.map_err(CmdError::lib)?;
    ctl.print(&xml);
    Ok(json!({ "pool": pool.name(), "xml": xml }))
}

/// `pool-name`: the name of the pool with a UUID.
pub async fn pool_name(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let (_, pool) = cmd_pool(ctl, cmd, BY_UUID).await?;
    ctl.print(&format!("{}\n", pool.name()));
    Ok(json!(pool.name()))
}

/// `pool-uuid`: the UUID of the pool with a name.
pub async fn pool_uuid(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let (_, pool) = cmd_pool(ctl, cmd, BY_NAME).await?;
    ctl.print(&format!("{}\n", pool.uuid_string()));
    Ok(json!(pool.uuid_string()))
}

/// `find-storage-pool-sources TYPE [--srcSpec FILE]`.
pub async fn find_sources(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let kind = required(cmd, "type")?.to_owned();
    let spec = match opt_string(cmd, "srcSpec")? {
        Some(file) => Some(read_file(file)?),
        None => None,
    };
    discover(ctl, &kind, spec.as_deref()).await
}

/// `find-storage-pool-sources-as TYPE [--host H] [--port P] [--initiator IQN]`: the
/// `<source>` virsh writes from the options.
pub async fn find_sources_as(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let kind = required(cmd, "type")?.to_owned();
    let host = opt_string(cmd, "host")?;
    let initiator = opt_string(cmd, "initiator")?;
    let spec = match host {
        None => None,
        Some(host) => {
            let port = cmd
                .string("port")
                .map_err(|e| CmdError::lines(vec![e, "missing argument".into()]))?;
            let mut x = format!("<source>\n  <host name='{host}'");
            if let Some(port) = port {
                x.push_str(&format!(" port='{port}'"));
            }
            x.push_str("/>\n");
            if let Some(i) = initiator {
                x.push_str(&format!(
                    "  <initiator>\n    <iqn name='{i}'/>\n  </initiator>\n"
                ));
            }
            x.push_str("</source>\n");
            Some(x)
        }
    };
    discover(ctl, &kind, spec.as_deref()).await
}

async fn discover(ctl: &mut Ctl, kind: &str, spec: Option<&str>) -> CmdResult {
    let conn = ctl.conn()?.clone();
    let xml = conn
        .find_storage_pool_sources(kind, spec, 0)
        .await
        .map_err(|e| CmdError::with(format!("Failed to find any {kind} pool sources"), e))?;
    ctl.print(&xml);
    Ok(json!({ "type": kind, "xml": xml }))
}

/// virsh's `virshPoolEventToString`.
fn event_word(kind: PoolEventKind) -> &'static str {
    match kind {
        PoolEventKind::Defined => "Defined",
        PoolEventKind::Undefined => "Undefined",
        PoolEventKind::Started => "Started",
        PoolEventKind::Stopped => "Stopped",
        PoolEventKind::Created => "Created",
        PoolEventKind::Deleted => "Deleted",
    }
}

/// The line virsh prints for a storage pool event.
pub fn event_line(event: &PoolEvent) -> String {
    match event.what {
        PoolEventWhat::Lifecycle(kind) => format!(
            "event 'lifecycle' for storage pool {}: {}\n",
            event.pool.name,
            event_word(kind)
        ),
        PoolEventWhat::Refresh => format!("event 'refresh' for storage pool {}\n", event.pool.name),
    }
}

/// `pool-event [--pool P] (--event lifecycle|refresh | --list) [--loop] [--timeout S]
/// [--timestamp]`.
pub async fn pool_event(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    const EVENTS: [&str; 2] = ["lifecycle", "refresh"];
    if cmd.has("list") {
        ctl.print("lifecycle\nrefresh\n");
        return Ok(json!(EVENTS));
    }
    let Some(wanted) = opt_string(cmd, "event")? else {
        return Err(CmdError::msg("either --list or --event <type> is required"));
    };
    if !EVENTS.contains(&wanted) {
        return Err(CmdError::msg(format!("unknown event type {wanted}")));
    }
    let lifecycle = wanted == "lifecycle";
    let mut waiting = EventLoop::from_cmd(cmd)?;
    let conn = ctl.conn()?.clone();
    let filter = match opt_string(cmd, "pool")? {
        Some(arg) => Some(lookup_pool(&conn, arg, BY_UUID | BY_NAME).await?.uuid()),
        None => None,
    };
    let mut stream = conn.storage_pool_events().map_err(CmdError::lib)?;
    while let Some(event) = waiting.next(stream.next()).await {
        if filter.is_some_and(|u| u != event.pool.uuid) {
            continue;
        }
        let mut json = json!({
            "event": wanted,
            "pool": event.pool.name,
            "uuid": event.pool.uuid.to_string(),
        });
        match event.what {
            PoolEventWhat::Lifecycle(kind) if lifecycle => {
                json["type"] = json!(event_word(kind));
                json["type_code"] = json!(kind as i32);
            }
            PoolEventWhat::Refresh if !lifecycle => {}
            _ => continue,
        }
        if !waiting.show(ctl, json, &event_line(&event)) {
            break;
        }
    }
    waiting.finish(ctl)
}

// ---- volumes ----

/// `vol-list POOL [--details]`.
pub async fn vol_list(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let (_, pool) = cmd_pool(ctl, cmd, BY_UUID | BY_NAME).await?;
    let details = cmd.has("details");
    let mut vols = pool
        .list_all_volumes(0)
        .await
        .map_err(|e| CmdError::with("Failed to list volumes", e))?;
    vols.sort_by_key(|v| v.name().to_ascii_lowercase());
    let mut table = if details {
        Table::new(&["Name", "Path", "Type", "Capacity", "Allocation"])
    } else {
        Table::new(&["Name", "Path"])
    };
    let mut items = Vec::new();
    for vol in &vols {
        let path = vol.path().await.unwrap_or_else(|_| "unknown".into());
        let mut row = vec![vol.name().to_owned(), path.clone()];
        let mut item = json!({ "name": vol.name(), "path": path, "key": vol.key() });
        if details {
            match vol.info(0).await {
                Ok(info) => {
                    row.push(vol_type_word(info.kind).to_owned());
                    row.push(pretty(info.capacity));
                    row.push(pretty(info.allocation));
                    item["type"] = json!(vol_type_word(info.kind));
                    item["capacity"] = json!(info.capacity);
                    item["allocation"] = json!(info.allocation);
                }
                Err(_) => row.extend(["unknown".to_owned(), "unknown".into(), "unknown".into()]),
            }
        }
        table.row(row);
        items.push(item);
    }
    let rendered = table.render(ctl.opts.quiet);
    ctl.print(&rendered);
    Ok(Value::Array(items))
}

/// `vol-info VOL [--pool P] [--bytes] [--physical]`.
pub async fn vol_info(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let (vol, _) = cmd_vol(ctl, cmd).await?;
    let (bytes, physical) = (cmd.has("bytes"), cmd.has("physical"));
    let mut out = format!("{:<15} {}\n", "Name:", vol.name());
    let flags = if physical {
        sf::vol_info::GET_PHYSICAL
    } else {
        0
    };
    let result = vol.info(flags).await;
    let mut v = json!({ "name": vol.name() });
    if let Ok(info) = &result {
        out.push_str(&format!("{:<15} {}\n", "Type:", vol_type_word(info.kind)));
        let second = if physical { "Physical:" } else { "Allocation:" };
        for (label, val) in [("Capacity:", info.capacity), (second, info.allocation)] {
            if bytes {
                out.push_str(&format!("{label:<15} {val} bytes\n"));
            } else {
                out.push_str(&format!("{label:<15} {}\n", pretty(val)));
            }
        }
        v["type"] = json!(vol_type_word(info.kind));
        v["capacity"] = json!(info.capacity);
        v[if physical { "physical" } else { "allocation" }] = json!(info.allocation);
    }
    ctl.print(&out);
    result.map_err(CmdError::lib)?;
    Ok(v)
}

/// virsh's `virshVolSize`: a size in bytes with an optional unit; "Malformed size S" (and
/// the library's reason for a bad suffix).
fn vol_size(text: &str) -> Result<u64, CmdError> {
    scale_integer(text, 1, u64::MAX).map_err(|cause| {
        let mut lines = vec![format!("Malformed size {text}")];
        lines.extend(cause);
        CmdError::lines(lines)
    })
}

/// `vol-create POOL FILE [--prealloc-metadata] [--validate]`.
pub async fn vol_create(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let flags = cmd.flags(&[
        ("prealloc-metadata", sf::vol_create::PREALLOC_METADATA),
        ("validate", sf::vol_create::VALIDATE),
    ]);
    let (_, pool) = cmd_pool(ctl, cmd, BY_UUID | BY_NAME).await?;
    let from = required(cmd, "file")?.to_owned();
    let xml = read_file(&from)?;
    let vol = pool
        .create_volume_xml(&xml, flags)
        .await
        .map_err(|e| CmdError::with(format!("Failed to create vol from {from}"), e))?;
    ctl.print_extra(&format!("Vol {} created from {from}\n", vol.name()));
    Ok(vol_action("created", &vol))
}

/// `vol-create-as POOL NAME CAPACITY [--allocation A] [--format F] [--backing-vol V
/// [--backing-vol-format F]] [--prealloc-metadata] [--print-xml]`.
pub async fn vol_create_as(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let flags = cmd.flags(&[("prealloc-metadata", sf::vol_create::PREALLOC_METADATA)]);
    let (conn, pool) = cmd_pool(ctl, cmd, BY_UUID | BY_NAME).await?;
    let name = required(cmd, "name")?.to_owned();
    let capacity = vol_size(required(cmd, "capacity")?)?;
    let allocation = match cmd.get("allocation") {
        Some(a) if !a.is_empty() => Some(vol_size(a)?),
        _ => None,
    };
    let format = opt_string(cmd, "format")?;
    let backing = opt_string(cmd, "backing-vol")?;
    let backing_format = opt_string(cmd, "backing-vol-format")?;
    let mut x = format!("<volume>\n  <name>{name}</name>\n  <capacity>{capacity}</capacity>\n");
    if let Some(a) = allocation {
        x.push_str(&format!("  <allocation>{a}</allocation>\n"));
    }
    if let Some(f) = format {
        x.push_str(&format!(
            "  <target>\n    <format type='{f}'/>\n  </target>\n"
        ));
    }
    if let Some(b) = backing {
        let mut last = None;
        let mut found = None;
        match pool.lookup_volume_by_name(b).await {
            Ok(v) => found = Some(v),
            Err(e) => last = Some(e),
        }
        if found.is_none() {
            match conn.storage_vol_lookup_by_key(b).await {
                Ok(v) => found = Some(v),
                Err(e) => last = Some(e),
            }
        }
        if found.is_none() {
            match conn.storage_vol_lookup_by_path(b).await {
                Ok(v) => found = Some(v),
                Err(e) => last = Some(e),
            }
        }
        let Some(bvol) = found else {
            let message = format!("failed to get vol '{b}'");
            return Err(match last {
                Some(e) => CmdError::with(message, e),
                None => CmdError::msg(message),
            });
        };
        let path = bvol.path().await.map_err(CmdError::lib)?;
        x.push_str(&format!("  <backingStore>\n    <path>{path}</path>\n"));
        if let Some(f) = backing_format {
            x.push_str(&format!("    <format type='{f}'/>\n"));
        }
        x.push_str("  </backingStore>\n");
    }
    x.push_str("</volume>\n");
    if cmd.has("print-xml") {
        ctl.print(&x);
        return Ok(json!({ "xml": x }));
    }
    let vol = pool
        .create_volume_xml(&x, flags)
        .await
        .map_err(|e| CmdError::with(format!("Failed to create vol {name}"), e))?;
    ctl.print_extra(&format!("Vol {name} created\n"));
    Ok(vol_action("created", &vol))
}

/// `vol-create-from POOL FILE VOL [--inputpool P] [--prealloc-metadata] [--reflink]
/// [--validate]`.
pub async fn vol_create_from(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let (_, pool) = cmd_pool(ctl, cmd, BY_UUID | BY_NAME).await?;
    let flags = cmd.flags(&[
        ("prealloc-metadata", sf::vol_create::PREALLOC_METADATA),
        ("reflink", sf::vol_create::REFLINK),
        ("validate", sf::vol_create::VALIDATE),
    ]);
    let from = required(cmd, "file")?.to_owned();
    let (input, _) = lookup_vol(ctl, cmd, "vol", Some("inputpool"), BY_UUID | BY_NAME).await?;
    let xml = read_file(&from)?;
    let vol = pool
        .create_volume_xml_from(&xml, &input, flags)
        .await
        .map_err(|e| CmdError::with(format!("Failed to create vol from {from}"), e))?;
    ctl.print_extra(&format!(
        "Vol {} created from input vol {}\n",
        vol.name(),
        input.name()
    ));
    Ok(vol_action("created", &vol))
}

/// Escapes text content as libxml2 writes it.
fn escape_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The volume XML `vol-clone` sends: `orig` with `/volume/name` set to `name`, written as
/// libxml2 writes a document's root (attribute values in double quotes, no final
/// newline), as virsh's `virshMakeCloneXML` makes it.
pub fn clone_xml(orig: &str, name: &str) -> Option<String> {
    let root = orig.find("<volume")?;
    let open = root + orig[root..].find("<name>")? + "<name>".len();
    let close = open + orig[open..].find("</name>")?;
    let renamed = format!("{}{}{}", &orig[..open], escape_text(name), &orig[close..]);
    // requote attribute values: outside values, inside tags, a quote opens one
    let mut out = String::with_capacity(renamed.len());
    let mut in_tag = false;
    let mut quote: Option<char> = None;
    let mut value = String::new();
    for c in renamed.chars() {
        match quote {
            Some(q) if c == q => {
                let v = value.replace("&apos;", "'").replace('"', "&quot;");
                out.push('"');
                out.push_str(&v);
                out.push('"');
                value.clear();
                quote = None;
            }
            Some(_) => value.push(c),
            None => {
                match c {
                    '<' => in_tag = true,
                    '>' => in_tag = false,
                    '\'' | '"' if in_tag => {
                        quote = Some(c);
                        continue;
                    }
                    _ => {}
                }
                out.push(c);
            }
        }
    }
    Some(out.trim_end_matches('\n').to_owned())
}

/// `vol-clone VOL NEWNAME [--pool P] [--prealloc-metadata] [--reflink] [--print-xml]`.
pub async fn vol_clone(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let (orig, _) = cmd_vol(ctl, cmd).await?;
    let flags = cmd.flags(&[
        ("prealloc-metadata", sf::vol_create::PREALLOC_METADATA),
        ("reflink", sf::vol_create::REFLINK),
    ]);
    let pool = orig
        .pool()
        .await
        .map_err(|e| CmdError::with("failed to get parent pool", e))?;
    let newname = required(cmd, "newname")?.to_owned();
    let xml = orig.xml_desc(0).await.map_err(CmdError::lib)?;
    let new_xml =
        clone_xml(&xml, &newname).ok_or_else(|| CmdError::msg("Failed to allocate XML buffer"))?;
    if cmd.has("print-xml") {
        ctl.print(&new_xml);
        return Ok(json!({ "xml": new_xml }));
    }
    let vol = pool
        .create_volume_xml_from(&new_xml, &orig, flags)
        .await
        .map_err(|e| CmdError::with(format!("Failed to clone vol from {}", orig.name()), e))?;
    ctl.print_extra(&format!("Vol {} cloned from {}\n", vol.name(), orig.name()));
    Ok(vol_action("cloned", &vol))
}

/// `vol-delete VOL [--pool P] [--delete-snapshots]`.
pub async fn vol_delete(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let (vol, name) = cmd_vol(ctl, cmd).await?;
    let flags = cmd.flags(&[("delete-snapshots", sf::delete::WITH_SNAPSHOTS)]);
    vol.delete(flags)
        .await
        .map_err(|e| CmdError::with(format!("Failed to delete vol {name}"), e))?;
    ctl.print_extra(&format!("Vol {name} deleted\n"));
    Ok(vol_action("deleted", &vol))
}

/// virsh's names of `virStorageVolWipeAlgorithm`, in libvirt's order.
const WIPE_ALGORITHMS: [&str; 10] = [
    "zero",
    "nnsa",
    "dod",
    "bsi",
    "gutmann",
    "schneier",
    "pfitzner7",
    "pfitzner33",
    "random",
    "trim",
];

/// `vol-wipe VOL [--pool P] [--algorithm A]`.
pub async fn vol_wipe(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let (vol, name) = cmd_vol(ctl, cmd).await?;
    let algorithm = match opt_string(cmd, "algorithm")? {
        None => 0,
        Some(a) => WIPE_ALGORITHMS
            .iter()
            .position(|w| *w == a)
            .ok_or_else(|| CmdError::msg(format!("Unsupported algorithm '{a}'")))?
            as u32,
    };
    let mut result = vol.wipe_pattern(algorithm, 0).await;
    if let Err(e) = &result {
        if e.code == ErrorCode::NoSupport && algorithm == 0 {
            result = vol.wipe(0).await;
        }
    }
    result.map_err(|e| CmdError::with(format!("Failed to wipe vol {name}"), e))?;
    ctl.print_extra(&format!("Vol {name} wiped\n"));
    Ok(vol_action("wiped", &vol))
}

/// `vol-resize VOL CAPACITY [--pool P] [--allocate] [--delta] [--shrink]`: a leading `-`
/// shrinks by that much (with `--shrink`).
pub async fn vol_resize(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let mut flags = cmd.flags(&[
        ("allocate", sf::resize::ALLOCATE),
        ("shrink", sf::resize::SHRINK),
    ]);
    let mut delta = cmd.has("delta");
    let (vol, _) = cmd_vol(ctl, cmd).await?;
    let mut text = required(cmd, "capacity")?.trim_start();
    if let Some(rest) = text.strip_prefix('-') {
        if !cmd.has("shrink") {
            return Err(CmdError::msg("negative size requires --shrink"));
        }
        text = rest;
        delta = true;
    }
    if delta {
        flags |= sf::resize::DELTA;
    }
    let capacity = vol_size(text)?;
    let how = if delta { "by" } else { "to" };
    vol.resize(capacity, flags).await.map_err(|e| {
        CmdError::with(
            format!(
                "Failed to change size of volume '{}' {how} {text}",
                vol.name()
            ),
            e,
        )
    })?;
    ctl.print_extra(&format!(
        "Size of volume '{}' successfully changed {how} {text}\n",
        vol.name()
    ));
    Ok(json!({ "action": "resized", "vol": vol.name(), "capacity": capacity, "delta": delta }))
}

/// `vol-dumpxml VOL [--pool P]`.
pub async fn vol_dumpxml(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    if cmd.has("xpath") || cmd.has("wrap") {
        return Err(CmdError::msg(
            "--xpath and --wrap are not supported by oxvirsh",
        ));
    }
    let (vol, _) = cmd_vol(ctl, cmd).await?;
    let xml = vol.xml_desc(0).await.map_err(CmdError::lib)?;
    ctl.print(&xml);
    Ok(json!({ "vol": vol.name(), "xml": xml }))
}

/// `vol-path`, `vol-key`: the volume's path or key.
pub async fn vol_path_or_key(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let (vol, _) = cmd_vol(ctl, cmd).await?;
    let text = if cmd.def.name == "vol-key" {
        vol.key().to_owned()
    } else {
        vol.path().await.map_err(CmdError::lib)?
    };
    ctl.print(&format!("{text}\n"));
    Ok(json!(text))
}

/// `vol-name KEY|PATH`.
pub async fn vol_name(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let (vol, _) = lookup_vol(ctl, cmd, "vol", None, BY_UUID).await?;
    ctl.print(&format!("{}\n", vol.name()));
    Ok(json!(vol.name()))
}

/// `vol-pool KEY|PATH [--uuid]`.
pub async fn vol_pool(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let (vol, _) = lookup_vol(ctl, cmd, "vol", None, BY_UUID).await?;
    let pool = vol
        .pool()
        .await
        .map_err(|e| CmdError::with("failed to get parent pool", e))?;
    let text = if cmd.has("uuid") {
        pool.uuid_string()
    } else {
        pool.name().to_owned()
    };
    ctl.print(&format!("{text}\n"));
    Ok(json!(text))
}

/// An `unsigned long long` option as virsh's `vshCommandOptULongLong` reads it (`wrap`:
/// `vshCommandOptULongLongWrap`, where a negative number wraps around).
fn ull_option(cmd: &Cmd, name: &str, wrap: bool) -> Result<u64, CmdError> {
    let Some(raw) = cmd.get(name) else {
        return Ok(0);
    };
    let malformed = || {
        CmdError::msg(format!(
            "Numeric value '{raw}' for <{name}> option is malformed or out of range"
        ))
    };
    let t = raw.trim_start();
    let (neg, digits) = match t.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed());
    }
    let n: u64 = digits.parse().map_err(|_| malformed())?;
    match (neg, wrap) {
        (false, _) => Ok(n),
        (true, true) => Ok(n.wrapping_neg()),
        (true, false) => Err(malformed()),
    }
}

/// `vol-download VOL FILE [--pool P] [--offset N] [--length N] [--sparse]`: holes of a
/// sparse stream stay holes in the file.
pub async fn vol_download(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let offset = ull_option(cmd, "offset", false)?;
    let length = ull_option(cmd, "length", true)?;
    let (vol, name) = cmd_vol(ctl, cmd).await?;
    let file = required(cmd, "file")?.to_owned();
    let flags = cmd.flags(&[("sparse", sf::stream::SPARSE)]);
    let (mut out, created) = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&file)
    {
        Ok(f) => (f, true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let f = std::fs::OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(&file)
                .map_err(|_| CmdError::msg(format!("cannot create {file}")))?;
            (f, false)
        }
        Err(_) => return Err(CmdError::msg(format!("cannot create {file}"))),
    };
    let result = receive(&vol, &name, &mut out, (offset, length, flags)).await;
    drop(out);
    if result.is_err() && created {
        let _ = std::fs::remove_file(&file);
    }
    let written = result?;
    Ok(json!({ "action": "downloaded", "vol": vol.name(), "file": file, "bytes": written }))
}

async fn receive(
    vol: &StorageVol,
    name: &str,
    out: &mut std::fs::File,
    (offset, length, flags): (u64, u64, u32),
) -> Result<u64, CmdError> {
    let mut download = vol
        .download(offset, length, flags)
        .await
        .map_err(|e| CmdError::with(format!("cannot download from volume {name}"), e))?;
    let failed = || format!("cannot receive data from volume {name}");
    let io_failed = |e: std::io::Error| CmdError::msg(format!("{}: {e}", failed()));
    let mut total = 0u64;
    while let Some(chunk) = download.chunks.recv().await {
        match chunk.map_err(|e| CmdError::with(failed(), e))? {
            Chunk::Data(d) => {
                out.write_all(&d).map_err(io_failed)?;
                total += d.len() as u64;
            }
            Chunk::Hole(n) => {
                let at = out.seek(SeekFrom::Current(n as i64)).map_err(io_failed)?;
                out.set_len(at).map_err(io_failed)?;
                total += n;
            }
        }
    }
    Ok(total)
}

/// The next piece of `file` from `pos` for a sparse upload: a hole up to the next data,
/// else data up to the next hole (at most [`CHUNK`] bytes); `None` at the end.
fn next_sparse(file: &mut std::fs::File, pos: u64, size: u64) -> std::io::Result<Option<Chunk>> {
    if pos >= size {
        return Ok(None);
    }
    let data = match rustix::fs::seek(&*file, rustix::fs::SeekFrom::Data(pos)) {
        Ok(d) => d,
        // no data after pos: the rest is a hole
        Err(rustix::io::Errno::NXIO) => size,
        Err(e) => return Err(e.into()),
    };
    if data > pos {
        return Ok(Some(Chunk::Hole(data - pos)));
    }
    let hole =
        rustix::fs::seek(&*file, rustix::fs::SeekFrom::Hole(pos)).map_err(std::io::Error::from)?;
    let want = (hole - pos).min(CHUNK as u64) as usize;
    file.seek(SeekFrom::Start(pos))?;
    let mut buf = vec![0; want];
    file.read_exact(&mut buf)?;
    Ok(Some(Chunk::Data(buf)))
}

/// `vol-upload VOL FILE [--pool P] [--offset N] [--length N] [--sparse]`: with `--sparse`
/// the file's holes travel as holes.
pub async fn vol_upload(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let offset = ull_option(cmd, "offset", false)?;
    let length = ull_option(cmd, "length", true)?;
    let (vol, name) = cmd_vol(ctl, cmd).await?;
    let file = required(cmd, "file")?.to_owned();
    let mut input =
        std::fs::File::open(&file).map_err(|_| CmdError::msg(format!("cannot read {file}")))?;
    let sparse = cmd.has("sparse");
    let flags = if sparse { sf::stream::SPARSE } else { 0 };
    let upload = vol
        .upload(offset, length, flags)
        .await
        .map_err(|e| CmdError::with(format!("cannot upload to volume {name}"), e))?;
    let send_failed = format!("cannot send data to volume {name}");
    let size = input
        .metadata()
        .map_err(|e| CmdError::msg(format!("{send_failed}: {e}")))?
        .len();
    let mut pos = 0u64;
    let mut sent_all = true;
    loop {
        let chunk = if sparse {
            next_sparse(&mut input, pos, size)
        } else {
            let mut buf = vec![0; CHUNK];
            input.read(&mut buf).map(|n| {
                buf.truncate(n);
                (n > 0).then_some(Chunk::Data(buf))
            })
        }
        .map_err(|e| CmdError::msg(format!("{send_failed}: {e}")))?;
        let Some(chunk) = chunk else { break };
        pos += match &chunk {
            Chunk::Data(d) => d.len() as u64,
            Chunk::Hole(n) => *n,
        };
        if upload.chunks.send(chunk).await.is_err() {
            sent_all = false;
            break;
        }
    }
    drop(upload.chunks);
    let outcome = upload.done.await.unwrap_or_else(|_| {
        Err(VirError::new(
            oxvirt::ErrorDomain::Storage,
            ErrorCode::InternalError,
            "the upload ended without an outcome",
        ))
    });
    match outcome {
        Ok(()) => {}
        Err(e) if !sent_all => return Err(CmdError::with(send_failed, e)),
        Err(e) => return Err(CmdError::with(format!("cannot close volume {name}"), e)),
    }
    Ok(json!({ "action": "uploaded", "vol": vol.name(), "file": file, "bytes": pos }))
}

#[cfg(test)]
#[path = "storage_tests.rs"]
mod tests;
