//! Domain lifecycle and definition: `define`, `undefine`, `start`, `shutdown`, `reboot`,
//! `destroy`, `suspend`, `resume`, `save`, `restore`, `managedsave`, `autostart`, `setmem`,
//! `setvcpus`, `attach-device`, `detach-device`.
//!
//! Messages and checks follow virsh 9.0 (`tools/virsh-domain.c`); where virsh calls the
//! flag-less API (`virDomainSetMemory`), which every driver runs as "affect the live
//! domain", we pass `VIR_DOMAIN_AFFECT_LIVE`.

use oxvirt::flags::{
    affect, create, define as define_flags, destroy as destroy_flags, save as save_flags,
};
use oxvirt::flags::{device, vcpu};
use oxvirt::flags::{
    reboot as reboot_flags, shutdown as shutdown_flags, undefine as undefine_flags,
};
use oxvirt::ErrorCode;
use serde_json::json;

use super::{action, cmd_domain, exclusive, lookup_domain, read_file, BY_NAME, BY_UUID};
use crate::args::Cmd;
use crate::ctl::{CmdResult, Ctl};
use crate::output::CmdError;

/// `define FILE [--validate]`.
pub async fn define(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let conn = ctl.conn()?.clone();
    let file = cmd.required("file").map_err(CmdError::msg)?;
    let xml = read_file(file)?;
    let flags = if cmd.has("validate") {
        define_flags::VALIDATE
    } else {
        0
    };
    let dom = conn
        .define_domain_xml(&xml, flags)
        .await
        .map_err(|e| CmdError::with(format!("Failed to define domain from {file}"), e))?;
    ctl.print_extra(&format!("Domain '{}' defined from {file}\n", dom.name()));
    let mut v = action("define", &dom);
    v["file"] = json!(file);
    Ok(v)
}

/// `undefine DOMAIN [--managed-save] [--snapshots-metadata] [--nvram|--keep-nvram] ...`.
/// Removing storage volumes (`--storage`, `--remove-all-storage`) needs the storage driver,
/// which oxvirt does not have yet: refused with a message saying so.
pub async fn undefine(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    exclusive(cmd, "nvram", "keep-nvram")?;
    exclusive(cmd, "tpm", "keep-tpm")?;
    let (_, dom) = cmd_domain(ctl, cmd).await?;
    let storage = cmd.string("storage").map_err(CmdError::msg)?;
    if storage.is_some() || cmd.has("remove-all-storage") {
        if dom.is_active().await.unwrap_or(false) {
            return Err(CmdError::msg(
                "Storage volume deletion is supported only on stopped domains",
            ));
        }
        return Err(CmdError::msg(
            "removing storage volumes (--storage, --remove-all-storage) is not supported by oxvirsh",
        ));
    }
    let flags = cmd.flags(&[
        ("managed-save", undefine_flags::MANAGED_SAVE),
        ("snapshots-metadata", undefine_flags::SNAPSHOTS_METADATA),
        ("checkpoints-metadata", undefine_flags::CHECKPOINTS_METADATA),
        ("nvram", undefine_flags::NVRAM),
        ("keep-nvram", undefine_flags::KEEP_NVRAM),
        ("tpm", undefine_flags::TPM),
        ("keep-tpm", undefine_flags::KEEP_TPM),
    ]);
    dom.undefine(flags)
        .await
        .map_err(|e| CmdError::with(format!("Failed to undefine domain '{}'", dom.name()), e))?;
    ctl.print_extra(&format!("Domain '{}' has been undefined\n", dom.name()));
    Ok(action("undefine", &dom))
}

/// `start DOMAIN [--paused] [--autodestroy] [--bypass-cache] [--force-boot] [--reset-nvram]`.
/// The domain is named by name or UUID only, as in virsh. `--force-boot` is emulated
/// (removing the managed save image) when the driver refuses the flag, as virsh does.
pub async fn start(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let conn = ctl.conn()?.clone();
    let arg = cmd.required("domain").map_err(CmdError::msg)?;
    let dom = lookup_domain(&conn, arg, BY_NAME | BY_UUID).await?;
    if dom.id().is_some() {
        return Err(CmdError::msg("Domain is already active"));
    }
    if cmd.has("console") {
        return Err(CmdError::msg("--console is not supported by oxvirsh"));
    }
    if cmd.string("pass-fds").map_err(CmdError::msg)?.is_some() {
        return Err(CmdError::msg("--pass-fds is not supported by oxvirsh"));
    }
    let mut flags = cmd.flags(&[
        ("paused", create::PAUSED),
        ("autodestroy", create::AUTODESTROY),
        ("bypass-cache", create::BYPASS_CACHE),
        ("force-boot", create::FORCE_BOOT),
        ("reset-nvram", create::RESET_NVRAM),
    ]);
    let mut started = false;
    if flags & create::FORCE_BOOT != 0 {
        match dom.create(flags).await {
            Ok(()) => started = true,
            Err(e) if matches!(e.code, ErrorCode::NoSupport | ErrorCode::InvalidArg) => {
                if dom.has_managed_save(0).await.unwrap_or(false) {
                    dom.managed_save_remove(0).await?;
                }
                flags &= !create::FORCE_BOOT;
            }
            Err(e) => return Err(CmdError::lib(e)),
        }
    }
    if !started {
        dom.create(flags)
            .await
            .map_err(|e| CmdError::with(format!("Failed to start domain '{}'", dom.name()), e))?;
    }
    ctl.print_extra(&format!("Domain '{}' started\n", dom.name()));
    let mut v = action("start", &dom);
    v["id"] = json!(dom.id());
    Ok(v)
}

/// virsh's `--mode` list for `shutdown` and `reboot`: comma-separated modes.
pub fn parse_modes(modes: &str, reboot: bool) -> Result<u32, CmdError> {
    let mut flags = 0;
    for mode in modes.split(',') {
        flags |= match (mode, reboot) {
            ("acpi", false) => shutdown_flags::ACPI_POWER_BTN,
            ("agent", false) => shutdown_flags::GUEST_AGENT,
            ("initctl", false) => shutdown_flags::INITCTL,
            ("signal", false) => shutdown_flags::SIGNAL,
            ("paravirt", false) => shutdown_flags::PARAVIRT,
            ("acpi", true) => reboot_flags::ACPI_POWER_BTN,
            ("agent", true) => reboot_flags::GUEST_AGENT,
            ("initctl", true) => reboot_flags::INITCTL,
            ("signal", true) => reboot_flags::SIGNAL,
            ("paravirt", true) => reboot_flags::PARAVIRT,
            _ => {
                return Err(CmdError::msg(format!(
                    "Unknown mode {mode} value, expecting 'acpi', 'agent', 'initctl', 'signal', or 'paravirt'"
                )))
            }
        };
    }
    Ok(flags)
}

/// `shutdown DOMAIN [--mode M]` and `reboot DOMAIN [--mode M]`.
pub async fn shutdown(ctl: &mut Ctl, cmd: &Cmd, reboot: bool) -> CmdResult {
    let modes = cmd.string("mode").map_err(CmdError::msg)?;
    let (_, dom) = cmd_domain(ctl, cmd).await?;
    let flags = match modes {
        Some(modes) => parse_modes(modes, reboot)?,
        None => 0,
    };
    let (verb, done, result) = if reboot {
        ("reboot", "is being rebooted", dom.reboot(flags).await)
    } else {
        ("shutdown", "is being shutdown", dom.shutdown(flags).await)
    };
    result.map_err(|e| CmdError::with(format!("Failed to {verb} domain '{}'", dom.name()), e))?;
    ctl.print_extra(&format!("Domain '{}' {done}\n", dom.name()));
    Ok(action(verb, &dom))
}

/// `destroy DOMAIN [--graceful] [--remove-logs]`.
pub async fn destroy(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let (_, dom) = cmd_domain(ctl, cmd).await?;
    let flags = cmd.flags(&[
        ("graceful", destroy_flags::GRACEFUL),
        ("remove-logs", destroy_flags::REMOVE_LOGS),
    ]);
    dom.destroy(flags)
        .await
        .map_err(|e| CmdError::with(format!("Failed to destroy domain '{}'", dom.name()), e))?;
    ctl.print_extra(&format!("Domain '{}' destroyed\n", dom.name()));
    Ok(action("destroy", &dom))
}

/// `suspend DOMAIN`.
pub async fn suspend(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let (_, dom) = cmd_domain(ctl, cmd).await?;
    dom.suspend()
        .await
        .map_err(|e| CmdError::with(format!("Failed to suspend domain '{}'", dom.name()), e))?;
    ctl.print_extra(&format!("Domain '{}' suspended\n", dom.name()));
    Ok(action("suspend", &dom))
}

/// `resume DOMAIN`.
pub async fn resume(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let (_, dom) = cmd_domain(ctl, cmd).await?;
    dom.resume()
        .await
        .map_err(|e| CmdError::with(format!("Failed to resume domain '{}'", dom.name()), e))?;
    ctl.print_extra(&format!("Domain '{}' resumed\n", dom.name()));
    Ok(action("resume", &dom))
}

fn save_restore_flags(cmd: &Cmd) -> u32 {
    cmd.flags(&[
        ("bypass-cache", save_flags::BYPASS_CACHE),
        ("running", save_flags::RUNNING),
        ("paused", save_flags::PAUSED),
        ("reset-nvram", save_flags::RESET_NVRAM),
    ])
}

/// `save DOMAIN FILE [--xml F] [--running|--paused] [--bypass-cache] [--verbose]`.
pub async fn save(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let (_, dom) = cmd_domain(ctl, cmd).await?;
    let file = cmd.required("file").map_err(CmdError::msg)?;
    let xml = match cmd.string("xml").map_err(CmdError::msg)? {
        Some(path) => Some(read_file(path)?),
        None => None,
    };
    let flags = save_restore_flags(cmd);
    dom.save(file, xml.as_deref(), flags).await.map_err(|e| {
        CmdError::with(
            format!("Failed to save domain '{}' to {file}", dom.name()),
            e,
        )
    })?;
    ctl.print_extra(&format!("\nDomain '{}' saved to {file}\n", dom.name()));
    let mut v = action("save", &dom);
    v["file"] = json!(file);
    Ok(v)
}

/// `screenshot DOMAIN [FILE] [--screen N]`: virsh's `cmdScreenshot`. Without a file the
/// name is virsh's `DOMAIN-YYYY-MM-DD-HH:MM:SS.EXT` (the time in UTC here); a file this
/// command created is removed again if the screenshot fails after it.
pub async fn screenshot(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let (_, dom) = cmd_domain(ctl, cmd).await?;
    let screen = cmd.uint("screen").map_err(CmdError::msg)?.unwrap_or(0);
    let file = cmd
        .string("file")
        .map_err(CmdError::msg)?
        .map(str::to_owned);
    let shot = dom
        .screenshot(screen, 0)
        .await
        .map_err(|e| CmdError::with(format!("could not take a screenshot of {}", dom.name()), e))?;
    let file = file.unwrap_or_else(|| {
        screenshot_file_name(dom.name(), &shot.mime, std::time::SystemTime::now())
    });
    std::fs::write(&file, &shot.data)
        .map_err(|_| CmdError::msg(format!("cannot create file {file}")))?;
    ctl.print(&format!(
        "Screenshot saved to {file}, with type of {}\n",
        shot.mime
    ));
    let mut v = action("screenshot", &dom);
    v["file"] = json!(file);
    v["mime"] = json!(shot.mime);
    v["bytes"] = json!(shot.data.len());
    Ok(v)
}

/// virsh's `virshGenFileName`: `NAME-YYYY-MM-DD-HH:MM:SS` and the MIME type's extension
/// (`.png`, `.ppm`, none for others).
pub fn screenshot_file_name(name: &str, mime: &str, at: std::time::SystemTime) -> String {
    let secs = at
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = oxvirt_xml::types::time::civil_from_days(days as i64);
    let ext = match mime {
        "image/png" => ".png",
        "image/x-portable-pixmap" => ".ppm",
        _ => "",
    };
    format!(
        "{name}-{y:04}-{m:02}-{d:02}-{:02}:{:02}:{:02}{ext}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `restore FILE [--xml F] [--running|--paused] [--bypass-cache] [--reset-nvram]`.
pub async fn restore(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let conn = ctl.conn()?.clone();
    let file = cmd.required("file").map_err(CmdError::msg)?;
    let xml = match cmd.string("xml").map_err(CmdError::msg)? {
        Some(path) => Some(read_file(path)?),
        None => None,
    };
    conn.restore_domain(file, xml.as_deref(), save_restore_flags(cmd))
        .await
        .map_err(|e| CmdError::with(format!("Failed to restore domain from {file}"), e))?;
    ctl.print_extra(&format!("Domain restored from {file}\n"));
    Ok(json!({ "action": "restore", "file": file }))
}

/// `managedsave DOMAIN [--running|--paused] [--bypass-cache] [--verbose]`.
pub async fn managed_save(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let (_, dom) = cmd_domain(ctl, cmd).await?;
    dom.managed_save(save_restore_flags(cmd))
        .await
        .map_err(|e| CmdError::with(format!("Failed to save domain '{}' state", dom.name()), e))?;
    ctl.print_extra(&format!(
        "\nDomain '{}' state saved by libvirt\n",
        dom.name()
    ));
    Ok(action("managedsave", &dom))
}

/// `autostart DOMAIN [--disable]`.
pub async fn autostart(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let (_, dom) = cmd_domain(ctl, cmd).await?;
    let enable = !cmd.has("disable");
    let name = dom.name().to_owned();
    dom.set_autostart(enable).await.map_err(|e| {
        let what = if enable { "mark" } else { "unmark" };
        CmdError::with(
            format!("Failed to {what} domain '{name}' as autostarted"),
            e,
        )
    })?;
    let done = if enable { "marked" } else { "unmarked" };
    ctl.print_extra(&format!("Domain '{name}' {done} as autostarted\n"));
    let mut v = action("autostart", &dom);
    v["autostart"] = json!(enable);
    Ok(v)
}

/// The `--config`/`--live`/`--current` triple: `None` when none was given (virsh then
/// calls the flag-less API, which affects the live domain).
fn affect_flags(cmd: &Cmd) -> Result<Option<u32>, CmdError> {
    exclusive(cmd, "current", "live")?;
    exclusive(cmd, "current", "config")?;
    let mut flags = affect::CURRENT;
    if cmd.has("config") {
        flags |= affect::CONFIG;
    }
    if cmd.has("live") {
        flags |= affect::LIVE;
    }
    let any = cmd.has("current") || cmd.has("live") || cmd.has("config");
    Ok(any.then_some(flags))
}

/// `setmem DOMAIN SIZE [--config] [--live] [--current]`: SIZE is a scaled integer, KiB
/// without a unit; rounded up to whole KiB.
pub async fn setmem(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let flags = affect_flags(cmd)?;
    let (_, dom) = cmd_domain(ctl, cmd).await?;
    let bytes = cmd
        .scaled("size", 1024, u64::MAX)
        .map_err(|e| CmdError::lines(std::iter::once(e.message).chain(e.cause).collect()))?
        .unwrap_or(0);
    let kib = bytes.div_ceil(1024);
    match flags {
        Some(flags) => dom.set_memory_flags(kib, flags).await?,
        None => dom.set_memory(kib).await?,
    }
    let mut v = action("setmem", &dom);
    v["memory_kib"] = json!(kib);
    Ok(v)
}

/// `setvcpus DOMAIN COUNT [--maximum] [--config] [--live] [--current] [--guest]
/// [--hotpluggable]`.
pub async fn setvcpus(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    let flags = affect_flags(cmd)?;
    exclusive(cmd, "guest", "config")?;
    if cmd.has("maximum") && !cmd.has("config") {
        return Err(CmdError::msg(
            "Option --config is required by option --maximum",
        ));
    }
    let (_, dom) = cmd_domain(ctl, cmd).await?;
    let count = cmd.uint("count").map_err(CmdError::msg)?.unwrap_or(0);
    if count == 0 {
        return Err(CmdError::msg("Can't set 0 processors for a VM"));
    }
    let extra = cmd.flags(&[
        ("maximum", vcpu::MAXIMUM),
        ("guest", vcpu::GUEST),
        ("hotpluggable", vcpu::HOTPLUGGABLE),
    ]);
    match flags {
        Some(f) => dom.set_vcpus_flags(count, f | extra).await?,
        None if extra != 0 => dom.set_vcpus_flags(count, extra).await?,
        None => dom.set_vcpus(count).await?,
    }
    let mut v = action("setvcpus", &dom);
    v["count"] = json!(count);
    Ok(v)
}

/// `attach-device DOMAIN FILE [--persistent] [--config] [--live] [--current]` and
/// `detach-device` (same options).
pub async fn attach_device(ctl: &mut Ctl, cmd: &Cmd, attach: bool) -> CmdResult {
    exclusive(cmd, "persistent", "current")?;
    exclusive(cmd, "current", "live")?;
    exclusive(cmd, "current", "config")?;
    let mut flags = device::CURRENT;
    if cmd.has("config") || cmd.has("persistent") {
        flags |= device::CONFIG;
    }
    if cmd.has("live") {
        flags |= device::LIVE;
    }
    let (_, dom) = cmd_domain(ctl, cmd).await?;
    if cmd.has("persistent") && dom.is_active().await.unwrap_or(false) {
        flags |= device::LIVE;
    }
    let file = cmd.required("file").map_err(CmdError::msg)?;
    let xml = read_file(file)?;
    // Without any of the options virsh calls the flag-less API (the live domain).
    let plain = flags == device::CURRENT && !cmd.has("current");
    let (verb, done) = if attach {
        ("attach", "attached")
    } else {
        ("detach", "detached")
    };
    let result = match (attach, plain) {
        (true, true) => dom.attach_device(&xml).await,
        (true, false) => dom.attach_device_flags(&xml, flags).await,
        (false, true) => dom.detach_device(&xml).await,
        (false, false) => dom.detach_device_flags(&xml, flags).await,
    };
    result.map_err(|e| CmdError::with(format!("Failed to {verb} device from {file}"), e))?;
    ctl.print_extra(&format!("Device {done} successfully\n"));
    let mut v = action(&format!("{verb}-device"), &dom);
    v["file"] = json!(file);
    Ok(v)
}
