//! Serial ports, consoles and virtio channels, and their `-chardev` backends.

use oxvirt_domain::devices::chardev::ChardevSource;
use oxvirt_domain::devices::chardev::{
    ChannelTargetType, ChardevTargetType, ChardevType, ConsoleTargetType, SerialTargetModel,
    SerialTargetType, SourceMode, TcpProtocol,
};
use oxvirt_domain::devices::controller::ControllerType;
use oxvirt_domain::devices::Chardev;
use oxvirt_domain::{DeviceAddress, Domain};
use oxvirt_xml::VirError;

use super::general::is_x86;
use super::pci::Plan;
use super::{unsupported, Args};

/// The `-chardev` backend of a character device with id `char<alias>`, with its
/// `<log file=.../>` (QEMU copies everything the guest writes there).
fn backend(dev: &Chardev, alias: &str) -> Result<String, VirError> {
    let mut out = backend_only(dev, alias)?;
    if let Some(file) = dev.source.log.as_ref().and_then(|l| l.file.as_deref()) {
        out.push_str(&format!(",logfile={}", file.replace(',', ",,")));
        match dev.source.log.as_ref().and_then(|l| l.append) {
            Some(true) => out.push_str(",logappend=on"),
            Some(false) => out.push_str(",logappend=off"),
            None => {}
        }
    }
    Ok(out)
}

/// [`backend`] without the log.
fn backend_only(dev: &Chardev, alias: &str) -> Result<String, VirError> {
    source_backend(&dev.source, alias)
}

/// The `-chardev` backend of a character device source with id `char<alias>` (a
/// `spicevmc` one is the SPICE agent channel, `name=vdagent`).
pub(crate) fn source_backend(src: &ChardevSource, alias: &str) -> Result<String, VirError> {
    let spec = |mode: SourceMode| {
        src.sources
            .iter()
            .find(|s| s.mode.unwrap_or(SourceMode::Connect) == mode)
    };
    let first = src.sources.first();
    let path = first.and_then(|s| s.path.clone());
    Ok(match src.kind {
        ChardevType::Pty => format!("pty,id=char{alias}"),
        ChardevType::Vc => format!("vc,id=char{alias}"),
        ChardevType::Null => format!("null,id=char{alias}"),
        ChardevType::Spicevmc => format!("spicevmc,id=char{alias},name=vdagent"),
        ChardevType::Spiceport => {
            let name = first
                .and_then(|s| s.channel.as_deref())
                .ok_or_else(|| unsupported("spiceport character device without channel"))?;
            format!("spiceport,id=char{alias},name={name}")
        }
        ChardevType::Dev => {
            let p = path.ok_or_else(|| unsupported("dev character device without path"))?;
            format!("serial,id=char{alias},path={p}")
        }
        ChardevType::Tcp => {
            let s = first.ok_or_else(|| unsupported("tcp character device without source"))?;
            let mut out = format!(
                "socket,id=char{alias},host={},port={}",
                s.host.as_deref().unwrap_or(""),
                s.service.as_deref().unwrap_or("")
            );
            match src.protocol {
                None | Some(TcpProtocol::Raw) => {}
                Some(TcpProtocol::Telnet) => out.push_str(",telnet=on"),
                Some(other) => return Err(unsupported(format!("tcp protocol '{other}'"))),
            }
            if s.tls.is_some() {
                return Err(unsupported("TLS character devices"));
            }
            if s.mode == Some(SourceMode::Bind) {
                out.push_str(",server=on,wait=off");
            }
            out
        }
        ChardevType::Udp => {
            let connect = spec(SourceMode::Connect);
            let bind = spec(SourceMode::Bind);
            format!(
                "udp,id=char{alias},host={},port={},localaddr={},localport={}",
                connect.and_then(|s| s.host.as_deref()).unwrap_or(""),
                connect.and_then(|s| s.service.as_deref()).unwrap_or(""),
                bind.and_then(|s| s.host.as_deref()).unwrap_or(""),
                bind.and_then(|s| s.service.as_deref()).unwrap_or("0"),
            )
        }
        ChardevType::Unix if first.and_then(|s| s.mode) != Some(SourceMode::Bind) => {
            let p = path.ok_or_else(|| unsupported("unix character device without path"))?;
            format!("socket,id=char{alias},path={p}")
        }
        // A listening socket (libvirt hands QEMU the socket already bound, as `fd=N`).
        ChardevType::Unix => {
            let p = path.ok_or_else(|| unsupported("unix character device without path"))?;
            format!("socket,id=char{alias},path={p},server=on,wait=off")
        }
        other => return Err(unsupported(format!("character device type '{other}'"))),
    })
}

/// The target port of a serial port (its position when not given).
fn port(dev: &Chardev, i: usize) -> i64 {
    dev.target
        .as_ref()
        .and_then(|t| t.port)
        .map_or(i as i64, i64::from)
}

/// Adds the serial ports (`-chardev` + `-device isa-serial` or `sclpconsole`); returns the
/// virtio consoles (`-chardev` backend and alias), added after the channels by
/// [`consoles`]. A console on a serial target is the first serial port.
pub fn serials(argv: &mut Args, domain: &Domain) -> Result<Vec<(String, String)>, VirError> {
    let devs = &domain.devices;
    let console_as_serial = devs.serials.is_empty()
        && devs.consoles.first().is_some_and(|c| {
            matches!(
                c.target.as_ref().and_then(|t| t.kind),
                None | Some(ChardevTargetType::Console(ConsoleTargetType::Serial))
            )
        })
        && is_x86(domain);
    // A console on a serial target with no serial port is the first serial port.
    let serials: Vec<&Chardev> = if console_as_serial {
        devs.consoles.iter().take(1).collect()
    } else {
        devs.serials.iter().collect()
    };
    for (i, serial) in serials.iter().enumerate() {
        let target = serial.target.as_ref();
        let kind = target.and_then(|t| t.kind);
        let model = target.and_then(|t| t.model);
        let s390 = super::general::arch(domain) == "s390x";
        let alias = format!("serial{i}");
        let device = match kind {
            None
            | Some(ChardevTargetType::Serial(SerialTargetType::IsaSerial))
            | Some(ChardevTargetType::Console(ConsoleTargetType::Serial))
                if is_x86(domain) =>
            {
                format!(
                    "isa-serial,chardev=char{alias},id={alias},index={}",
                    port(serial, i)
                )
            }
            None | Some(ChardevTargetType::Serial(SerialTargetType::SclpSerial)) if s390 => {
                let dev = match model {
                    Some(SerialTargetModel::Sclplmconsole) => "sclplmconsole",
                    None | Some(SerialTargetModel::Sclpconsole) => "sclpconsole",
                    Some(other) => return Err(unsupported(format!("serial model '{other}'"))),
                };
                format!("{dev},chardev=char{alias},id={alias}")
            }
            _ => return Err(unsupported("serial target type")),
        };
        argv.opt("-chardev", backend(serial, &alias)?);
        argv.opt("-device", device);
    }
    let mut virtconsoles = Vec::new();
    for (i, console) in devs.consoles.iter().enumerate() {
        let kind = console.target.as_ref().and_then(|t| t.kind);
        let on_serial = matches!(
            kind,
            None | Some(ChardevTargetType::Console(ConsoleTargetType::Serial))
        );
        if i == 0 && on_serial && !serials.is_empty() {
            continue;
        }
        if kind != Some(ChardevTargetType::Console(ConsoleTargetType::Virtio))
            || console.info.address.is_some()
        {
            return Err(unsupported("console type"));
        }
        let alias = format!("console{i}");
        virtconsoles.push((backend(console, &alias)?, alias));
    }
    Ok(virtconsoles)
}

/// Adds the virtio channels (`-chardev` + `-device virtserialport`), on the port the XML
/// gives or the next free one of virtio-serial controller 0.
pub fn channels(argv: &mut Args, domain: &Domain, plan: &Plan) -> Result<(), VirError> {
    let chans = &domain.devices.channels;
    let mut used: Vec<(u32, u32, u32)> = chans
        .iter()
        .filter_map(|c| match &c.info.address {
            Some(DeviceAddress::VirtioSerial {
                controller,
                bus,
                port: Some(p),
                ..
            }) => Some((controller.unwrap_or(0), bus.unwrap_or(0), *p)),
            _ => None,
        })
        .collect();
    for (i, chan) in chans.iter().enumerate() {
        let target = chan.target.as_ref();
        if target.and_then(|t| t.kind)
            != Some(ChardevTargetType::Channel(ChannelTargetType::Virtio))
        {
            return Err(unsupported("channel target type"));
        }
        let has_controller = domain
            .devices
            .controllers
            .iter()
            .any(|c| c.kind == ControllerType::VirtioSerial);
        if !has_controller && plan.implicit_virtio_serial.is_none() {
            return Err(unsupported("channel without virtio-serial controller"));
        }
        let (c, b, p) = match &chan.info.address {
            Some(DeviceAddress::VirtioSerial {
                controller,
                bus,
                port: Some(p),
                ..
            }) => (controller.unwrap_or(0), bus.unwrap_or(0), *p),
            None => {
                let p = (1..).find(|p| !used.contains(&(0, 0, *p))).unwrap_or(1);
                used.push((0, 0, p));
                (0, 0, p)
            }
            Some(DeviceAddress::VirtioSerial {
                controller,
                bus,
                port: None,
                ..
            }) => {
                let (c, b) = (controller.unwrap_or(0), bus.unwrap_or(0));
                let p = (1..).find(|p| !used.contains(&(c, b, *p))).unwrap_or(1);
                used.push((c, b, p));
                (c, b, p)
            }
            _ => return Err(unsupported("channel address")),
        };
        let exists = domain
            .devices
            .controllers
            .iter()
            .any(|x| x.kind == ControllerType::VirtioSerial && x.index.unwrap_or(0) == c)
            || (c == 0 && plan.implicit_virtio_serial.is_some());
        if !exists {
            return Err(unsupported(
                "channel on a virtio-serial controller not defined",
            ));
        }
        let alias = format!("channel{i}");
        argv.opt("-chardev", backend(chan, &alias)?);
        let mut s = format!(
            "virtserialport,bus=virtio-serial{c}.{b},nr={p},chardev=char{alias},id={alias}"
        );
        if let Some(name) = target.and_then(|t| t.name.as_deref()) {
            s.push_str(&format!(",name={name}"));
        }
        argv.opt("-device", s);
    }
    Ok(())
}

/// Adds the virtio consoles [`serials`] returned (`-device virtconsole`).
pub fn consoles(argv: &mut Args, virtconsoles: Vec<(String, String)>) {
    for (backend, alias) in virtconsoles {
        argv.opt("-chardev", backend);
        argv.opt(
            "-device",
            format!("virtconsole,chardev=char{alias},id={alias}"),
        );
    }
}
