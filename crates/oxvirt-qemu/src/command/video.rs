//! Video adapters: `-device cirrus-vga|VGA|qxl-vga|qxl|virtio-gpu-pci`.

use oxvirt_domain::devices::video::VideoModelType;
use oxvirt_domain::devices::Video;
use oxvirt_domain::Domain;
use oxvirt_xml::VirError;

use super::pci::Plan;
use super::{unsupported, Args};

/// The adapters in libvirt's order (the primary one first) with their positions in the
/// definition, which index [`Plan::videos`].
pub fn ordered(domain: &Domain) -> Vec<(usize, &Video)> {
    let mut list: Vec<(usize, &Video)> = domain.devices.videos.iter().enumerate().collect();
    if let Some(p) = list.iter().position(|(_, v)| v.is_primary()) {
        let primary = list.remove(p);
        list.insert(0, primary);
    }
    list
}

/// Adds a `-device` per video adapter.
pub fn build(argv: &mut Args, domain: &Domain, plan: &Plan) -> Result<(), VirError> {
    for (n, (i, video)) in ordered(domain).into_iter().enumerate() {
        let model = video.model.as_ref();
        let kind = video.kind().unwrap_or(VideoModelType::Default);
        let id = format!("video{n}");
        let mut s = match kind {
            VideoModelType::None => continue,
            VideoModelType::Cirrus => format!("cirrus-vga,id={id}"),
            VideoModelType::Vga => format!("VGA,id={id}"),
            VideoModelType::Qxl => {
                let name = if n == 0 { "qxl-vga" } else { "qxl" };
                let heads = model.and_then(|m| m.heads).unwrap_or(1);
                let ram = model.and_then(|m| m.ram).unwrap_or(65536);
                let vram = model.and_then(|m| m.vram).unwrap_or(65536);
                format!(
                    "{name},id={id},max_outputs={heads},ram_size={},vram_size={}",
                    u64::from(ram) * 1024,
                    u64::from(vram) * 1024
                )
            }
            VideoModelType::Virtio => {
                let heads = model.and_then(|m| m.heads).unwrap_or(1);
                if model.is_some_and(|m| m.acceleration.is_some()) {
                    return Err(unsupported("video acceleration"));
                }
                format!("virtio-gpu-pci,id={id},max_outputs={heads}")
            }
            other => return Err(unsupported(format!("video model '{other}'"))),
        };
        let slot = plan.videos[i]
            .as_ref()
            .ok_or_else(|| unsupported("video adapter without PCI address"))?;
        s.push(',');
        s.push_str(&plan.format(slot));
        argv.opt("-device", s);
    }
    Ok(())
}
