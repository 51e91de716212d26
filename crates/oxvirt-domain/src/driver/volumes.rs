//! What a hypervisor driver needs from the node's storage pools: the source behind each
//! `<disk type='volume'>` (`<source pool='p' volume='v'/>`), as libvirt's
//! `virDomainDiskTranslateSourcePool` finds it, and a record of the volumes running domains
//! use, so that a volume in use is not deleted under a guest.
//!
//! The storage driver implements [`StorageVolumes`]; a hypervisor driver without one
//! refuses `type='volume'` disks as libvirt does without a storage driver
//! (`VIR_ERR_NO_CONNECT`, "no connection driver available for storage:///system").

use async_trait::async_trait;

use super::Result;

/// Where a volume's content is, as the hypervisor opens it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VolumeSource {
    /// A file (dir, fs and netfs pools): open the path.
    File(String),
    /// A block device (logical, disk, iscsi, scsi pools): open the path.
    Block(String),
    /// A LUN on an iSCSI target reached by the hypervisor itself (iscsi-direct pools):
    /// QEMU's `iscsi://host:port/target/lun`.
    Iscsi {
        /// The portal's host.
        host: String,
        /// The portal's port (3260 by default).
        port: u16,
        /// The target's IQN.
        target: String,
        /// The LUN.
        lun: u64,
        /// The initiator IQN the pool logs in with.
        initiator: Option<String>,
    },
}

/// A resolved `<disk type='volume'>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedVolume {
    /// Where the content is.
    pub source: VolumeSource,
    /// The volume's format (`raw`, `qcow2`...), as the pool knows it. Informational: as
    /// libvirt 9.0, a disk without `<driver type>` runs its volume as raw.
    pub format: Option<String>,
    /// The volume's key (its path for file and block volumes), as the storage driver
    /// names it in [`StorageVolumes::set_in_use`].
    pub key: String,
}

/// The node's storage volumes as a hypervisor driver sees them.
#[async_trait]
pub trait StorageVolumes: Send + Sync {
    /// The source of volume `volume` in the running pool `pool`; fails with
    /// `VIR_ERR_NO_STORAGE_POOL` for an unknown pool, `VIR_ERR_OPERATION_INVALID` for an
    /// inactive one and `VIR_ERR_NO_STORAGE_VOL` for an unknown volume.
    async fn resolve(&self, pool: &str, volume: &str) -> Result<ResolvedVolume>;

    /// Records that the running domain `domain` uses these volume keys or paths (every
    /// disk it has, whatever its type), replacing what was recorded for it before.
    fn set_in_use(&self, domain: &str, keys: Vec<String>);

    /// Forgets what `domain` used (it stopped).
    fn clear_in_use(&self, domain: &str);
}
