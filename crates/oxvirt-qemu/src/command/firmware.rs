//! Firmware and boot: `-bios`, pflash `-blockdev`s, `-global` power management, `-boot`,
//! direct kernel boot and the s390 `loadparm`.

use oxvirt_domain::os::NvramStore;
use oxvirt_domain::Domain;
use oxvirt_xml::VirError;

use super::general::is_q35;
use super::{unsupported, Args};

/// `-global PIIX4_PM.disable_s3=0|1` (`ICH9-LPC` on Q35) from `<pm>`.
pub(super) fn pm(argv: &mut Args, domain: &Domain) {
    let Some(pm) = &domain.pm else {
        return;
    };
    let dev = if is_q35(domain) {
        "ICH9-LPC"
    } else {
        "PIIX4_PM"
    };
    if let Some(on) = pm.suspend_to_mem {
        argv.opt("-global", format!("{dev}.disable_s3={}", u8::from(!on)));
    }
    if let Some(on) = pm.suspend_to_disk {
        argv.opt("-global", format!("{dev}.disable_s4={}", u8::from(!on)));
    }
}

/// `-kernel`, `-initrd`, `-append`, `-dtb` for direct kernel boot.
pub(super) fn kernel(argv: &mut Args, domain: &Domain) {
    let Some(os) = &domain.os else {
        return;
    };
    let opts = [
        ("-kernel", &os.kernel),
        ("-initrd", &os.initrd),
        ("-append", &os.cmdline),
        ("-dtb", &os.dtb),
    ];
    for (name, value) in opts {
        if let Some(v) = value {
            argv.opt(name, v.clone());
        }
    }
}

/// `-bios PATH` for a ROM loader.
pub(super) fn loader(argv: &mut Args, domain: &Domain) -> Result<(), VirError> {
    let Some(loader) = domain.os.as_ref().and_then(|o| o.loader.as_ref()) else {
        return Ok(());
    };
    let Some(path) = &loader.path else {
        return Ok(());
    };
    match loader.kind.map(|k| k.to_string()).as_deref() {
        None | Some("rom") => {
            argv.opt("-bios", path.clone());
            Ok(())
        }
        _ => {
            if loader.secure == Some(true) {
                argv.opt("-global", "driver=cfi.pflash01,property=secure,value=on");
            }
            Ok(())
        }
    }
}

/// `-boot [menu=on|off,][splash-time=N,][reboot-timeout=N,]strict=on`.
pub(super) fn boot(argv: &mut Args, domain: &Domain) {
    let mut s = String::new();
    if let Some(os) = &domain.os {
        if let Some(menu) = &os.bootmenu {
            s.push_str(if menu.enable { "menu=on," } else { "menu=off," });
            if let Some(t) = menu.timeout.filter(|_| menu.enable) {
                s.push_str(&format!("splash-time={t},"));
            }
        }
        if let Some(t) = os.bios.as_ref().and_then(|b| b.reboot_timeout) {
            s.push_str(&format!("reboot-timeout={t},"));
        }
    }
    s.push_str("strict=on");
    argv.opt("-boot", s);
}

/// The `loadparm` of the device that boots first (s390).
pub(super) fn loadparm(domain: &Domain) -> Option<&str> {
    let devs = &domain.devices;
    devs.disks
        .iter()
        .map(|d| &d.info)
        .chain(devs.interfaces.iter().map(|n| &n.info))
        .filter_map(|i| i.boot.as_ref())
        .filter(|b| b.loadparm.is_some())
        .min_by_key(|b| b.order)
        .and_then(|b| b.loadparm.as_deref())
}

/// The `-blockdev` nodes of a pflash firmware (`libvirt-pflash0`) and its variable store
/// (`libvirt-pflash1`); returns how many flash devices the machine gets.
pub(super) fn pflash(argv: &mut Args, domain: &Domain) -> Result<u8, VirError> {
    let Some(os) = &domain.os else {
        return Ok(0);
    };
    let Some(loader) = &os.loader else {
        return Ok(0);
    };
    if loader.kind.map(|k| k.to_string()).as_deref() != Some("pflash") {
        return Ok(0);
    }
    let code = loader
        .path
        .as_ref()
        .ok_or_else(|| unsupported("pflash loader without path"))?;
    let mut images = vec![(code.clone(), loader.readonly == Some(true))];
    match os.nvram.as_ref().map(|n| &n.store) {
        Some(NvramStore::Path(p)) => images.push((p.clone(), false)),
        None | Some(NvramStore::Unset) if loader.readonly != Some(true) => {}
        _ => return Err(unsupported("NVRAM store")),
    }
    for (n, (path, ro)) in images.iter().enumerate() {
        let file = serde_json::Value::String(path.clone()).to_string();
        argv.opt(
            "-blockdev",
            format!(
                r#"{{"driver":"file","filename":{file},"node-name":"libvirt-pflash{n}-storage","auto-read-only":true,"discard":"unmap"}}"#
            ),
        );
        argv.opt(
            "-blockdev",
            format!(
                r#"{{"node-name":"libvirt-pflash{n}-format","read-only":{ro},"driver":"raw","file":"libvirt-pflash{n}-storage"}}"#
            ),
        );
    }
    Ok(images.len() as u8)
}
