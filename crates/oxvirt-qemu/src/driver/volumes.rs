//! `<disk type='volume'>`: a volume of one of the node's storage pools, resolved as
//! libvirt's `virDomainDiskTranslateSourcePool` does when the domain starts or the disk is
//! attached. A file volume (dir, fs, netfs pools) opens as a `file` node, a block volume
//! (logical, disk, iscsi, scsi pools) as a `host_device` one, and a LUN of an iscsi-direct
//! pool through QEMU's own `iscsi` driver.
//!
//! The live definition keeps `type='volume'` and `<source pool='p' volume='v'/>`, as
//! libvirt's does; a disk that sets no `<driver type>` runs as `raw` and shows
//! `<driver name='qemu' type='raw'/>`, as libvirt 9.0 does whatever the volume's format. The command line and `blockdev-add` see the resolved source: a copy of the
//! definition with each volume disk turned into the file, block or network disk it is.
//!
//! The storage pools are told which volumes and paths each running domain uses (every
//! disk's volume key, file or device), so that they refuse to delete a volume in use.

use std::sync::Arc;

use oxvirt_domain::devices::disk::common::StorageFormat;
use oxvirt_domain::devices::disk::source::PoolMode;
use oxvirt_domain::devices::disk::{DiskSource, DiskType, NetHost, NetProtocol};
use oxvirt_domain::devices::Disk;
use oxvirt_domain::driver::volumes::{ResolvedVolume, StorageVolumes, VolumeSource};
use oxvirt_domain::Domain;
use oxvirt_xml::{Element, ErrorCode, ErrorDomain, Node, VirError};

use super::QemuDriver;

/// The volume behind each disk of a definition (`None` for disks of other types).
pub(crate) type Resolved = Vec<Option<ResolvedVolume>>;

/// libvirt's error for a `type='volume'` disk when no storage driver is there: opening
/// `storage:///system` finds no driver (`VIR_ERR_NO_CONNECT`).
pub(crate) fn no_storage_driver() -> VirError {
    VirError::new(ErrorDomain::None, ErrorCode::NoConnect, "storage:///system")
}

/// The pool and volume a `type='volume'` disk names.
fn pool_volume(disk: &Disk) -> Option<(&str, &str)> {
    if disk.kind != DiskType::Volume {
        return None;
    }
    let s = disk.source.as_ref()?;
    Some((s.pool.as_deref()?, s.volume.as_deref()?))
}

/// The disk a resolved volume disk is for QEMU: the same disk with the volume's file,
/// device or iSCSI LUN as its source (still naming its pool and volume, which the command
/// line does not show), and `raw` when the disk sets no format. What the command
/// line and `blockdev-add` of a `type='volume'` disk are built from.
pub fn runtime_disk(disk: &Disk, vol: &ResolvedVolume) -> Disk {
    let mut out = disk.clone();
    let old = disk.source.as_ref();
    let mut src = DiskSource {
        pool: old.and_then(|s| s.pool.clone()),
        volume: old.and_then(|s| s.volume.clone()),
        startup_policy: old.and_then(|s| s.startup_policy),
        index: old.and_then(|s| s.index),
        ..DiskSource::default()
    };
    match &vol.source {
        VolumeSource::File(path) => {
            out.kind = DiskType::File;
            src.file = Some(path.clone());
        }
        VolumeSource::Block(path) => {
            out.kind = DiskType::Block;
            src.dev = Some(path.clone());
        }
        VolumeSource::Iscsi {
            host,
            port,
            target,
            lun,
            initiator,
        } => {
            out.kind = DiskType::Network;
            src.protocol = Some(NetProtocol::Iscsi);
            src.name = Some(format!("{target}/{lun}"));
            src.hosts = vec![NetHost {
                name: Some(host.clone()),
                port: Some(u32::from(*port)),
                ..NetHost::default()
            }];
            if let Some(iqn) = initiator {
                let mut iqn_el = Element::new("iqn");
                iqn_el.set_attr("name", iqn);
                let mut init = Element::new("initiator");
                init.children.push(Node::Element(iqn_el));
                src.unknown
                    .children
                    .push((oxvirt_xml::model::Anchor(None), Node::Element(init)));
            }
        }
    }
    out.source = Some(src);
    with_format(&mut out, vol);
    out
}

/// Gives a volume disk that sets no `<driver type>` the format libvirt 9.0 opens it with:
/// `raw`, whatever the volume's own format (libvirt does not take the volume's format:
/// a `qcow2` volume of a dir pool runs as `<driver name='qemu' type='raw'/>` unless the
/// disk says `qcow2`), so [`ResolvedVolume::format`] is not used.
pub(crate) fn with_format(disk: &mut Disk, _vol: &ResolvedVolume) {
    let driver = disk.driver.get_or_insert_with(Default::default);
    if driver.format.is_none() {
        driver.format = Some(StorageFormat::Raw);
        if driver.name.is_none() {
            driver.name = Some("qemu".into());
        }
    }
}

/// The definition QEMU is started with: each volume disk turned into what it resolved to.
pub(crate) fn runtime_def(def: &Domain, resolved: &Resolved) -> Domain {
    let mut out = def.clone();
    for (disk, vol) in out.devices.disks.iter_mut().zip(resolved) {
        if let Some(vol) = vol {
            *disk = runtime_disk(disk, vol);
        }
    }
    out
}

/// The live definition of a domain started with `resolved`: the volume disks keep their
/// pool and volume and show the format they run with.
pub(crate) fn live_def(mut def: Domain, resolved: &Resolved) -> Domain {
    for (disk, vol) in def.devices.disks.iter_mut().zip(resolved) {
        if let Some(vol) = vol {
            with_format(disk, vol);
        }
    }
    def
}

/// What a running domain uses, for the storage pools: each disk's volume key, file or
/// device (network disks other than volumes, and empty drives, name nothing local).
pub(crate) fn in_use_keys(def: &Domain, resolved: &Resolved) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for (i, disk) in def.devices.disks.iter().enumerate() {
        let key = match resolved.get(i).and_then(Option::as_ref) {
            Some(vol) => Some(vol.key.clone()),
            None => match disk.kind {
                DiskType::File | DiskType::Block => disk
                    .source
                    .as_ref()
                    .and_then(|s| s.file.clone().or_else(|| s.dev.clone())),
                _ => None,
            },
        };
        if let Some(k) = key {
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
    }
    keys
}

impl QemuDriver {
    /// The storage pools this driver was opened with.
    pub(crate) fn storage_volumes(&self) -> Option<&Arc<dyn StorageVolumes>> {
        self.inner.volumes.as_ref()
    }

    /// The volume behind `disk`, if it is a `type='volume'` one; fails as libvirt does for
    /// an unknown pool or volume, an inactive pool, or no storage driver at all.
    pub(crate) async fn resolve_disk(
        &self,
        disk: &Disk,
    ) -> Result<Option<ResolvedVolume>, VirError> {
        let Some((pool, volume)) = pool_volume(disk) else {
            return Ok(None);
        };
        let volumes = self.storage_volumes().ok_or_else(no_storage_driver)?;
        let resolved = volumes.resolve(pool, volume).await?;
        // libvirt turns `mode='direct'` volumes of an iscsi pool into QEMU's own iSCSI
        // connection to the LUN; we open every block volume on the host, so say so rather
        // than open something other than what was asked for.
        let direct = disk
            .source
            .as_ref()
            .is_some_and(|s| s.mode == Some(PoolMode::Direct));
        if direct && matches!(resolved.source, VolumeSource::Block(_)) {
            return Err(VirError::new(
                ErrorDomain::Domain,
                ErrorCode::ConfigUnsupported,
                format!(
                    "mode='direct' of volume '{volume}' in pool \
                     '{pool}' is not supported: use mode='host', or an iscsi-direct pool"
                ),
            ));
        }
        Ok(Some(resolved))
    }

    /// The volume behind each disk of `def` (a domain about to start).
    pub(crate) async fn resolve_volumes(&self, def: &Domain) -> Result<Resolved, VirError> {
        let mut out = Vec::with_capacity(def.devices.disks.len());
        for disk in &def.devices.disks {
            out.push(self.resolve_disk(disk).await?);
        }
        Ok(out)
    }

    /// Tells the storage pools what the running domain `def` uses. Volume disks are
    /// resolved again (a volume whose pool is gone or inactive is left out); the domain's
    /// earlier record is replaced.
    pub(crate) async fn record_in_use(&self, def: &Domain) {
        let Some(volumes) = self.storage_volumes().cloned() else {
            return;
        };
        let mut resolved = Vec::with_capacity(def.devices.disks.len());
        for disk in &def.devices.disks {
            resolved.push(self.resolve_disk(disk).await.ok().flatten());
        }
        volumes.set_in_use(&def.name, in_use_keys(def, &resolved));
    }

    /// [`QemuDriver::record_in_use`] from what is already resolved.
    pub(crate) fn set_in_use(&self, def: &Domain, resolved: &Resolved) {
        if let Some(volumes) = self.storage_volumes() {
            volumes.set_in_use(&def.name, in_use_keys(def, resolved));
        }
    }

    /// Tells the storage pools that domain `name` uses nothing any more (it stopped).
    pub(crate) fn clear_in_use(&self, name: &str) {
        if let Some(volumes) = self.storage_volumes() {
            volumes.clear_in_use(name);
        }
    }

    /// Re-records what the running domain `uuid` uses from its live definition (a disk
    /// was attached or detached).
    pub(crate) async fn refresh_in_use(&self, uuid: &oxvirt_xml::types::Uuid) {
        if self.storage_volumes().is_none() {
            return;
        }
        let live = self
            .domains()
            .find_by_uuid(uuid)
            .and_then(|obj| obj.is_active().then(|| obj.def().clone()));
        if let Some(def) = live {
            self.record_in_use(&def).await;
        }
    }
}

#[cfg(test)]
mod tests;
