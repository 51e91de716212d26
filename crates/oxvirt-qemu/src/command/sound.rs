//! Sound cards (`<sound>`), as libvirt's `qemuBuildSoundCommandLine` writes them after the
//! video adapters: `-device ES1370|AC97|sb16|usb-audio,id=soundN,audiodev=audio1,...`, and
//! for the Intel HDA models the controller followed by one `hda-*` codec device per
//! `<codec>` (an `hda-duplex` when none is given). The PC speaker is `-soundhw pcspk` where
//! QEMU still has it; with QEMU 7.2 it is refused.

use oxvirt_domain::devices::sound::{CodecType, SoundModel};
use oxvirt_domain::devices::Sound;
use oxvirt_domain::{DeviceAddress, Domain};
use oxvirt_xml::VirError;

use super::pci::{given, Plan};
use super::{audio, unsupported, Args, BuildContext};

/// Whether a sound card model sits on PCI.
pub fn on_pci(model: SoundModel) -> bool {
    matches!(
        model,
        SoundModel::Es1370 | SoundModel::Ac97 | SoundModel::Ich6 | SoundModel::Ich9
    )
}

/// The PCI address part (`bus=pci.0,addr=0x4`) of sound card `i`: the definition's, or the
/// one [`Plan`] assigned.
fn pci(i: usize, sound: &Sound, plan: &Plan) -> Result<String, VirError> {
    let slot = plan
        .sounds
        .get(i)
        .cloned()
        .flatten()
        .or_else(|| given(&sound.info))
        .ok_or_else(|| unsupported(format!("sound model '{}' without PCI address", sound.model)))?;
    Ok(plan.format(&slot))
}

/// The USB port part (`bus=usb.0,port=1`) of a USB sound card.
fn usb(sound: &Sound, ports: &mut super::redirdev::UsbPorts) -> Result<String, VirError> {
    let (bus, port) = match &sound.info.address {
        Some(DeviceAddress::Usb {
            bus, port: Some(p), ..
        }) => (bus.unwrap_or(0), p.clone()),
        None => (0, ports.take()?),
        _ => return Err(unsupported("USB sound address")),
    };
    Ok(super::redirdev::usb_bus(bus, &port))
}

/// Adds the sound cards.
pub fn build(
    argv: &mut Args,
    domain: &Domain,
    ctx: &BuildContext,
    plan: &Plan,
    ports: &mut super::redirdev::UsbPorts,
) -> Result<(), VirError> {
    for (n, sound) in domain.devices.sounds.iter().enumerate() {
        let id = format!("sound{n}");
        let dev = audio::audiodev(domain, sound.audio_id);
        let hda = match sound.model {
            SoundModel::Ich6 => Some("intel-hda"),
            SoundModel::Ich9 => Some("ich9-intel-hda"),
            _ => None,
        };
        if let Some(controller) = hda {
            argv.opt(
                "-device",
                format!("{controller},id={id},{}", pci(n, sound, plan)?),
            );
            let codecs: Vec<CodecType> = if sound.codecs.is_empty() {
                vec![CodecType::Duplex]
            } else {
                sound.codecs.clone()
            };
            for (cad, codec) in codecs.into_iter().enumerate() {
                argv.opt(
                    "-device",
                    format!("hda-{codec},id={id}-codec{cad},bus={id}.0,cad={cad},audiodev={dev}"),
                );
            }
            continue;
        }
        let s = match sound.model {
            SoundModel::Es1370 => format!("ES1370,id={id},audiodev={dev},{}", pci(n, sound, plan)?),
            SoundModel::Ac97 => format!("AC97,id={id},audiodev={dev},{}", pci(n, sound, plan)?),
            SoundModel::Sb16 => format!("sb16,id={id},audiodev={dev}"),
            // QEMU 7.2 wants the PC speaker's backend on the machine (`pcspk-audiodev`).
            SoundModel::Pcspk if !ctx.caps.machine_pcspk_audiodev => {
                argv.opt("-soundhw", "pcspk");
                continue;
            }
            SoundModel::Usb => format!("usb-audio,id={id},audiodev={dev},{}", usb(sound, ports)?),
            other => return Err(unsupported(format!("sound model '{other}'"))),
        };
        argv.opt("-device", s);
    }
    Ok(())
}
