//! The options before the devices: from `-name` to `-boot`, in libvirt's order.

use oxvirt_domain::clock::{ClockOffset, TickPolicy, TimerName, TimerTrack};
use oxvirt_domain::cpu::{CpuMode, FeaturePolicy};
use oxvirt_domain::{Domain, VirtType};
use oxvirt_xml::VirError;

use super::{firmware, resources, unsupported, Args, BuildContext, Monitor};

/// Whether the guest's architecture is x86.
pub fn is_x86(domain: &Domain) -> bool {
    matches!(arch(domain), "i686" | "x86_64")
}

/// The guest's architecture as written (`x86_64` when not given).
pub fn arch(domain: &Domain) -> &str {
    domain
        .os
        .as_ref()
        .and_then(|os| os.arch.as_deref())
        .unwrap_or("x86_64")
}

/// The machine type as written (`pc` when not given).
pub fn machine(domain: &Domain) -> &str {
    domain
        .os
        .as_ref()
        .and_then(|os| os.machine.as_deref())
        .unwrap_or("pc")
}

/// Whether the machine is an i440FX PC (`pc`, `pc-i440fx-*`, `pc-1.0` ...).
pub fn is_i440fx(domain: &Domain) -> bool {
    let m = machine(domain);
    m == "pc" || m.starts_with("pc-i440fx") || m.starts_with("pc-0") || m.starts_with("pc-1")
}

/// Whether the machine is a Q35 PC.
pub fn is_q35(domain: &Domain) -> bool {
    let m = machine(domain);
    m == "q35" || m.starts_with("pc-q35")
}

/// Adds `-name` to `-boot`.
pub fn build(argv: &mut Args, domain: &Domain, ctx: &BuildContext) -> Result<(), VirError> {
    argv.opt("-name", format!("guest={},debug-threads=on", domain.name));
    argv.push("-S");
    argv.opt(
        "-object",
        format!(
            "secret,id=masterKey0,format=raw,file={}/master-key.aes",
            ctx.private_dir
        ),
    );
    let pflash = firmware::pflash(argv, domain)?;
    machine_opts(argv, domain, ctx, pflash);
    match domain.virt_type {
        VirtType::Qemu => argv.opt("-accel", "tcg"),
        VirtType::Kvm => argv.opt("-accel", "kvm"),
        other => return Err(unsupported(format!("virtualization type '{other}'"))),
    }
    cpu(argv, domain, ctx)?;
    firmware::loader(argv, domain)?;
    resources::memory(argv, domain)?;
    argv.opt("-overcommit", "mem-lock=off");
    resources::smp(argv, domain, ctx);
    resources::iothreads(argv, domain)?;
    resources::numa(argv, domain, ctx)?;
    if let Some(uuid) = &domain.uuid {
        argv.opt("-uuid", uuid.to_string());
    }
    if domain.devices.graphics.is_empty() {
        argv.opt("-display", "none");
    }
    argv.push("-no-user-config");
    argv.push("-nodefaults");
    match &ctx.monitor {
        Monitor::Fd(fd) => argv.opt(
            "-chardev",
            format!("socket,id=charmonitor,fd={fd},server=on,wait=off"),
        ),
        Monitor::Path(path) => argv.opt(
            "-chardev",
            format!("socket,id=charmonitor,path={path},server=on,wait=off"),
        ),
    }
    argv.opt("-mon", "chardev=charmonitor,id=monitor,mode=control");
    rtc(argv, domain, ctx)?;
    argv.push("-no-shutdown");
    let acpi = domain.features.as_ref().is_some_and(|f| f.acpi);
    let acpi_arch = is_x86(domain) || arch(domain) == "aarch64";
    if acpi_arch && !acpi && !ctx.caps.machine_acpi {
        argv.push("-no-acpi");
    }
    firmware::pm(argv, domain);
    firmware::boot(argv, domain);
    firmware::kernel(argv, domain);
    if let Some(table) = domain.os.as_ref().and_then(|o| o.slic_table.as_ref()) {
        argv.opt("-acpitable", format!("sig=SLIC,file={table}"));
    }
    Ok(())
}

/// `-machine TYPE,usb=off,...,dump-guest-core=on|off`.
fn machine_opts(argv: &mut Args, domain: &Domain, ctx: &BuildContext, pflash: u8) {
    let mut m = format!("{},usb=off", machine(domain));
    let features = domain.features.clone().unwrap_or_default();
    if let Some(smm) = &features.smm {
        m.push_str(if smm.on { ",smm=on" } else { ",smm=off" });
    }
    if let Some(on) = features.vmport {
        m.push_str(if on { ",vmport=on" } else { ",vmport=off" });
    }
    let arm = matches!(arch(domain), "aarch64" | "armv7l");
    if arm && (machine(domain) == "virt" || machine(domain).starts_with("virt-")) {
        let gic = features
            .gic
            .flatten()
            .map_or("2".to_string(), |g| g.to_string());
        m.push_str(&format!(",gic-version={gic}"));
    }
    for el in domain.unknown.children.iter().filter_map(|(_, n)| match n {
        oxvirt_xml::Node::Element(e) if e.name == "keywrap" => Some(e),
        _ => None,
    }) {
        for cipher in el.elements().filter(|c| c.name == "cipher") {
            if let (Some(name), Some(state)) = (cipher.attr("name"), cipher.attr("state")) {
                m.push_str(&format!(",{name}-key-wrap={state}"));
            }
        }
    }
    let dump = domain
        .memory
        .as_ref()
        .and_then(|mem| mem.dump_core)
        .unwrap_or(false);
    m.push_str(if dump {
        ",dump-guest-core=on"
    } else {
        ",dump-guest-core=off"
    });
    let nosharepages = domain
        .memory_backing
        .as_ref()
        .is_some_and(|b| b.nosharepages.is_some());
    if nosharepages {
        m.push_str(",mem-merge=off");
    }
    for n in 0..pflash {
        m.push_str(&format!(",pflash{n}=libvirt-pflash{n}-format"));
    }
    if let Some(lp) = firmware::loadparm(domain) {
        m.push_str(&format!(",loadparm={}", lp.to_uppercase()));
    }
    if ctx.caps.machine_acpi && is_x86(domain) {
        let acpi = domain.features.as_ref().is_some_and(|f| f.acpi);
        m.push_str(if acpi { ",acpi=on" } else { ",acpi=off" });
    }
    argv.opt("-machine", m);
}

/// `-cpu` for a named model or the host's CPU.
fn cpu(argv: &mut Args, domain: &Domain, ctx: &BuildContext) -> Result<(), VirError> {
    let pmu = domain.features.as_ref().and_then(|f| f.pmu);
    let pmu_opt = pmu.map(|on| if on { ",pmu=on" } else { ",pmu=off" });
    let Some(cpu) = &domain.cpu else {
        if let Some(p) = pmu_opt {
            let model = if arch(domain) == "i686" {
                "qemu32"
            } else {
                "qemu64"
            };
            argv.opt("-cpu", format!("{model}{p}"));
        }
        return Ok(());
    };
    let mut s = match cpu.mode {
        CpuMode::HostPassthrough => "host".to_string(),
        CpuMode::Custom => match cpu.model.as_ref().and_then(|m| m.name.as_deref()) {
            Some(name) => name.to_string(),
            None => return Ok(()),
        },
        other => return Err(unsupported(format!("CPU mode '{other}'"))),
    };
    for f in &cpu.features {
        let on = match f.policy {
            FeaturePolicy::Force | FeaturePolicy::Require | FeaturePolicy::Optional => "on",
            FeaturePolicy::Disable | FeaturePolicy::Forbid => "off",
        };
        s.push_str(&format!(",{}={on}", f.name.replace('_', "-")));
    }
    if cpu.mode == CpuMode::HostPassthrough && ctx.caps.cpu_migratable {
        let on = cpu.migratable.unwrap_or(true);
        s.push_str(if on {
            ",migratable=on"
        } else {
            ",migratable=off"
        });
    }
    if let Some(p) = pmu_opt {
        s.push_str(p);
    }
    argv.opt("-cpu", s);
    Ok(())
}

/// `-rtc base=utc|localtime[,clock=rt|vm|host][,driftfix=slew]`, then what the PIT and
/// HPET timers ask for (`-global kvm-pit.lost_tick_policy=...`, `-no-hpet`).
fn rtc(argv: &mut Args, domain: &Domain, ctx: &BuildContext) -> Result<(), VirError> {
    let clock = domain.clock.clone().unwrap_or_default();
    let mut s = match clock.offset {
        ClockOffset::Utc { .. } => "base=utc".to_string(),
        ClockOffset::Localtime { .. } => "base=localtime".to_string(),
        _ => return Err(unsupported("clock offset")),
    };
    let mut after = Vec::new();
    for t in &clock.timers {
        match t.name {
            TimerName::Rtc => {
                match t.track {
                    None => {}
                    Some(TimerTrack::Realtime) => s.push_str(",clock=rt"),
                    Some(TimerTrack::Guest) => s.push_str(",clock=vm"),
                    Some(TimerTrack::Wall) => s.push_str(",clock=host"),
                    Some(other) => return Err(unsupported(format!("rtc track '{other}'"))),
                }
                match t.tickpolicy {
                    None | Some(TickPolicy::Delay) => {}
                    Some(TickPolicy::Catchup) => s.push_str(",driftfix=slew"),
                    Some(other) => return Err(unsupported(format!("rtc tickpolicy '{other}'"))),
                }
            }
            TimerName::Pit if ctx.caps.kvm_pit_tick_policy => {
                let policy = match t.tickpolicy {
                    None => None,
                    Some(TickPolicy::Delay) => Some("delay"),
                    Some(TickPolicy::Catchup) => Some("slew"),
                    Some(TickPolicy::Discard) => Some("discard"),
                    Some(other) => return Err(unsupported(format!("pit tickpolicy '{other}'"))),
                };
                if let Some(p) = policy {
                    after.push(("-global", format!("kvm-pit.lost_tick_policy={p}")));
                }
            }
            TimerName::Pit => {}
            TimerName::Hpet => {
                if t.present == Some(false) {
                    after.push(("-no-hpet", String::new()));
                }
            }
            other => return Err(unsupported(format!("timer '{other}'"))),
        }
    }
    argv.opt("-rtc", s);
    for (name, value) in after {
        if value.is_empty() {
            argv.push(name);
        } else {
            argv.opt(name, value);
        }
    }
    Ok(())
}
