//! The capabilities XML (`virConnectGetCapabilities`): the model and its formatting.
//!
//! The host part comes from this crate's discovery ([`crate::topology`],
//! [`crate::hostcpu`]); the `<guest>` entries from the hypervisor driver's probing
//! ([`guest`]).

pub mod guest;

use crate::hostcpu::HostCpu;
use crate::topology::Topology;

pub use guest::Guest;

/// `<capabilities>`.
#[derive(Debug, Clone, Default)]
pub struct Capabilities {
    /// `<host>`.
    pub host: HostCaps,
    /// One `<guest>` per OS type, architecture and emulator.
    pub guests: Vec<Guest>,
}

/// `<host>`.
#[derive(Debug, Clone, Default)]
pub struct HostCaps {
    /// `<uuid>`: the host's SMBIOS UUID (or a stable substitute); omitted when `None`.
    pub uuid: Option<String>,
    /// `<cpu>`.
    pub cpu: HostCpu,
    /// `<power_management>`: the suspend targets the host supports (`suspend_mem`,
    /// `suspend_disk`, `suspend_hybrid`), in that order; empty writes `<power_management/>`.
    pub power_management: Vec<String>,
    /// `<iommu support='yes|no'/>`; omitted when `None`.
    pub iommu: Option<bool>,
    /// `<migration_features>`.
    pub migration: Option<MigrationFeatures>,
    /// `<topology>`, `<cache>` and `<memory_bandwidth>` (each omitted when empty).
    pub topology: Option<Topology>,
    /// `<secmodel>` entries, in order.
    pub secmodels: Vec<SecModel>,
}

/// `<migration_features>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationFeatures {
    /// `<live/>`.
    pub live: bool,
    /// `<uri_transports>` (`tcp`, `rdma`); omitted when empty.
    pub uri_transports: Vec<String>,
}

/// `<secmodel>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecModel {
    /// `<model>` (`none`, `dac`, `selinux`, `apparmor`).
    pub model: String,
    /// `<doi>`.
    pub doi: String,
    /// `<baselabel type=...>label</baselabel>`, in order: (virt type, label).
    pub baselabels: Vec<(String, String)>,
}
