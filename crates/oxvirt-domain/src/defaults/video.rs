//! The video adapter libvirt adds to a domain with graphics and no video
//! (`virDomainDefAddImplicitVideo`).

use super::policy::DriverDefaults;
use crate::devices::video::{Video, VideoModel};
use crate::devices::Devices;

/// For backwards compatibility libvirt gives a domain with a `<graphics>` and no `<video>`
/// one video adapter with one head, whose model the driver picks
/// ([`DriverDefaults::video`]). The later video defaults make it primary and give it its
/// video memory, as for an adapter that was written.
pub fn add_implicit_video(devices: &mut Devices, policy: &DriverDefaults) {
    if devices.graphics.is_empty() || !devices.videos.is_empty() {
        return;
    }
    devices.videos.push(Video {
        model: Some(VideoModel {
            kind: Some(policy.video),
            heads: Some(1),
            ..VideoModel::default()
        }),
        ..Video::default()
    });
}
