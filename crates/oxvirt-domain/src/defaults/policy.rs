//! What a driver decides in libvirt's post-parse step: the few defaults that are not the
//! same for every hypervisor.

use crate::devices::video::VideoModelType;

/// The defaults a driver gives libvirt's generic post-parse step, which otherwise behaves
/// the same for every hypervisor.
///
/// libvirt gets these from the driver's `virDomainDefParserConfig`: its feature flags and
/// its device post-parse callback (which, for example, picks the model of a video adapter
/// left at `default`, including the one libvirt adds for a `<graphics>` without `<video>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DriverDefaults {
    /// The model of the video adapter added when the domain has graphics and no video
    /// (`virDomainDefAddImplicitVideo`, then the driver's choice for the `default` model):
    /// `cirrus` in the test driver on x86, `xen` for its Xen guests, `vga` on ppc64; QEMU
    /// chooses from the architecture and machine. [`VideoModelType::Default`] leaves it
    /// undecided, as libvirt does without a driver callback.
    pub video: VideoModelType,
    /// The driver numbers SCSI disks on a wide bus (`VIR_DOMAIN_DEF_FEATURE_WIDE_SCSI`, set
    /// by QEMU): 15 disks per controller, unit 7 skipped. Otherwise (the test driver, and
    /// libvirt without a driver) a narrow bus: 7 disks per controller.
    pub wide_scsi: bool,
}

impl DriverDefaults {
    /// What libvirt's generic code does without a driver's callbacks or features (the
    /// parser configuration of libvirt's `genericxml2xmltest`).
    pub const GENERIC: DriverDefaults = DriverDefaults {
        video: VideoModelType::Default,
        wide_scsi: false,
    };
}

impl Default for DriverDefaults {
    fn default() -> Self {
        DriverDefaults::GENERIC
    }
}
