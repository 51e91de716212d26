//! Host and connection commands: `version`, `uri`, `hostname`, `nodeinfo`, `connect`.

use oxvirt::LIBVIRT_API_VERSION;
use serde_json::json;

use crate::args::Cmd;
use crate::ctl::{CmdResult, Ctl};
use crate::output::{version_string, CmdError};

/// `uri`: the connection's canonical URI.
pub fn uri(ctl: &mut Ctl) -> CmdResult {
    let uri = ctl.conn()?.uri();
    ctl.print(&format!("{uri}\n"));
    Ok(json!({ "uri": uri }))
}

/// `hostname`: the host's name.
pub async fn hostname(ctl: &mut Ctl) -> CmdResult {
    let conn = ctl.conn()?.clone();
    let name = conn
        .hostname()
        .await
        .map_err(|e| CmdError::with("failed to get hostname", e))?;
    ctl.print(&format!("{name}\n"));
    Ok(json!({ "hostname": name }))
}

/// `nodeinfo`: the host's CPUs and memory.
pub async fn nodeinfo(ctl: &mut Ctl) -> CmdResult {
    let conn = ctl.conn()?.clone();
    let info = conn
        .node_info()
        .await
        .map_err(|e| CmdError::with("failed to get node information", e))?;
    let mut text = format!(
        "{:<20} {}\n{:<20} {}\n",
        "CPU model:", info.model, "CPU(s):", info.cpus
    );
    if info.mhz != 0 {
        text.push_str(&format!("{:<20} {} MHz\n", "CPU frequency:", info.mhz));
    }
    text.push_str(&format!(
        "{:<20} {}\n{:<20} {}\n{:<20} {}\n{:<20} {}\n{:<20} {} KiB\n",
        "CPU socket(s):",
        info.sockets,
        "Core(s) per socket:",
        info.cores,
        "Thread(s) per core:",
        info.threads,
        "NUMA cell(s):",
        info.nodes,
        "Memory size:",
        info.memory_kib
    ));
    ctl.print(&text);
    Ok(json!({
        "model": info.model,
        "cpus": info.cpus,
        "mhz": info.mhz,
        "sockets": info.sockets,
        "cores": info.cores,
        "threads": info.threads,
        "nodes": info.nodes,
        "memory_kib": info.memory_kib,
    }))
}

/// `version [--daemon]`. The library line names oxvirt and its own version (virsh names
/// libvirt); the "compiled against", API and daemon lines give the libvirt API level oxvirt
/// follows (9.0.0), which is what libvirt's clients compare against.
pub async fn version(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let conn = ctl.conn()?.clone();
    let api = version_string(LIBVIRT_API_VERSION);
    let lib = version_string(conn.lib_version());
    let hv_type = conn.hypervisor_type().to_owned();
    let mut text = format!(
        "Compiled against library: libvirt {api}\nUsing library: oxvirt {lib}\nUsing API: {hv_type} {api}\n"
    );
    let hv = conn
        .version()
        .await
        .map_err(|e| CmdError::with("failed to get the hypervisor version", e));
    let hv = match hv {
        Ok(v) => v,
        Err(e) => {
            ctl.print(&text);
            return Err(e);
        }
    };
    if hv == 0 {
        text.push_str(&format!(
            "Cannot extract running {hv_type} hypervisor version\n"
        ));
    } else {
        text.push_str(&format!(
            "Running hypervisor: {hv_type} {}\n",
            version_string(hv)
        ));
    }
    let daemon = cmd.has("daemon");
    if daemon {
        text.push_str(&format!("Running against daemon: {api}\n"));
    }
    ctl.print(&text);
    let mut value = json!({
        "compiled_against": api,
        "library": { "name": "oxvirt", "version": lib },
        "api": { "type": hv_type, "version": api },
        "hypervisor": { "type": hv_type, "version": version_string(hv) },
    });
    if daemon {
        value["daemon"] = json!(api);
    }
    Ok(value)
}

/// `connect [URI] [--readonly]`: replaces the connection (with no URI, reopens the current
/// one).
pub async fn connect(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let name = cmd
        .string("name")
        .map_err(CmdError::msg)?
        .map(str::to_owned);
    ctl.connect(name.as_deref(), cmd.has("readonly")).await?;
    let conn = ctl.conn()?;
    Ok(json!({ "uri": conn.uri(), "readonly": conn.is_read_only() }))
}
