//! The `logical` pool type: an LVM volume group, through [`crate::lvm::Lvm`] (libvirt's
//! `storage_backend_logical.c`).
//!
//! The pool's volume group is `<source><name>` (the pool name by default) on the
//! `<source><device>`s. Volumes are logical volumes: type `block`, key the LV's UUID,
//! target path `/dev/VG/LV`, with their extents. Content goes through the device node;
//! where the kernel has no device-mapper, LVM cannot activate volumes, the node does not
//! exist, and content operations (upload, download, wipe, clone) fail with a clear error
//! while everything else (build, start, refresh, create, resize, delete) works on LVM's
//! metadata.

use std::path::Path;

use oxvirt_xml::{ErrorCode, VirError};

use super::device::{self, storage_error};
use super::{Backend, Refreshed, Result, VolumeRead, VolumeWrite};
use crate::lvm::{
    Activation, CommandRunner, LogicalVolume, Lvm, NewVolume, SystemRunner, NO_DEVICE_MAPPER,
};
use crate::model::{
    Pool, PoolSource, PoolSourceDevice, PoolType, Volume, VolumeExtent, VolumeTarget, VolumeType,
};

/// The `logical` backend over the LVM tools run by `R`.
#[derive(Debug)]
pub struct LogicalBackend<R: CommandRunner = SystemRunner> {
    lvm: Lvm<R>,
}

impl LogicalBackend<SystemRunner> {
    /// The host's LVM tools ([`Lvm::system`]).
    pub fn system() -> Self {
        LogicalBackend::new(Lvm::system())
    }
}

/// The volume group of a `logical` pool: `<source><name>`, or the pool's name.
fn vg_name(pool: &Pool) -> &str {
    pool.source.name.as_deref().unwrap_or(&pool.name)
}

fn devices(pool: &Pool) -> Vec<String> {
    pool.source.devices.iter().map(|d| d.path.clone()).collect()
}

/// A logical volume as `vol-dumpxml` shows it: type `block`, key the LV UUID, target path
/// `/dev/VG/LV`, capacity and allocation the LV's size (libvirt reads the capacity from
/// the device, which has the same size), its extents, and its snapshot origin as the
/// backing store.
pub fn volume_of(lv: &LogicalVolume) -> Volume {
    Volume {
        pool_type: PoolType::Logical,
        vol_type: VolumeType::Block,
        name: lv.name.clone(),
        key: Some(lv.key.clone()),
        extents: lv
            .extents
            .iter()
            .map(|e| VolumeExtent {
                path: e.path.clone(),
                start: e.start,
                end: e.end,
            })
            .collect(),
        capacity: lv.size,
        allocation: lv.size,
        has_allocation: true,
        physical: 0,
        target: VolumeTarget {
            path: Some(lv.path.clone()),
            ..VolumeTarget::default()
        },
        backing_store: lv.backing.as_ref().map(|b| VolumeTarget {
            path: Some(b.clone()),
            ..VolumeTarget::default()
        }),
    }
}

impl<R: CommandRunner> LogicalBackend<R> {
    /// The backend over `lvm` (a [`crate::lvm::FakeRunner`] in tests).
    pub fn new(lvm: Lvm<R>) -> Self {
        LogicalBackend { lvm }
    }

    /// The LVM operations (the fake's recorded commands, in tests).
    pub fn lvm(&self) -> &Lvm<R> {
        &self.lvm
    }

    fn vol_path(pool: &Pool, vol: &Volume) -> String {
        vol.target
            .path
            .clone()
            .unwrap_or_else(|| format!("/dev/{}/{}", vg_name(pool), vol.name))
    }

    /// The volume's device node, which must exist for its content to be read or written:
    /// without device-mapper it cannot.
    fn device_node(&self, pool: &Pool, vol: &Volume) -> Result<String> {
        let path = Self::vol_path(pool, vol);
        if Path::new(&path).exists() {
            return Ok(path);
        }
        if self.lvm.activation() == Activation::Unavailable {
            return Err(storage_error(
                ErrorCode::OperationUnsupported,
                format!(
                    "{NO_DEVICE_MAPPER}: volume '{}' has no device node '{path}'",
                    vol.name
                ),
            ));
        }
        Err(storage_error(
            ErrorCode::SystemError,
            format!("cannot open volume '{path}': No such file or directory"),
        ))
    }

    fn new_volume(vol: &Volume) -> Result<NewVolume> {
        if vol.target.encryption.is_some() {
            return Err(storage_error(
                ErrorCode::ConfigUnsupported,
                "storage pool does not support encrypted volumes",
            ));
        }
        Ok(NewVolume {
            name: vol.name.clone(),
            capacity: vol.capacity,
            allocation: if vol.has_allocation {
                vol.allocation
            } else {
                vol.capacity
            },
            backing: vol.backing_store.as_ref().and_then(|b| b.path.clone()),
        })
    }
}

impl<R: CommandRunner + Send + Sync> Backend for LogicalBackend<R> {
    fn pool_type(&self) -> &'static str {
        "logical"
    }

    fn check(&self, pool: &Pool) -> Result<bool> {
        Ok(self.lvm.is_pool_active(vg_name(pool), &devices(pool)))
    }

    fn build(&self, pool: &Pool, flags: u32) -> Result<()> {
        self.lvm.build_pool(vg_name(pool), &devices(pool), flags)
    }

    fn start(&self, pool: &Pool) -> Result<()> {
        self.lvm.start_pool(vg_name(pool), &devices(pool))
    }

    fn refresh(&self, pool: &Pool) -> Result<Refreshed> {
        let state = self.lvm.refresh_pool(vg_name(pool))?;
        Ok(Refreshed {
            capacity: state.capacity,
            allocation: state.allocation,
            available: state.available,
            volumes: state.volumes.iter().map(volume_of).collect(),
        })
    }

    fn stop(&self, pool: &Pool) -> Result<()> {
        self.lvm.stop_pool(vg_name(pool))
    }

    fn delete(&self, pool: &Pool, flags: u32) -> Result<()> {
        self.lvm.delete_pool(vg_name(pool), &devices(pool), flags)
    }

    /// libvirt's `<source>` per volume group: its physical volumes, its name, format
    /// `lvm2`.
    fn find_sources(&self, _spec: Option<&PoolSource>, flags: u32) -> Result<Vec<PoolSource>> {
        let found = self.lvm.find_pool_sources(flags)?;
        Ok(found
            .into_iter()
            .map(|s| PoolSource {
                devices: s
                    .devices
                    .into_iter()
                    .map(|path| PoolSourceDevice {
                        path,
                        part_separator: None,
                        free_extents: Vec::new(),
                    })
                    .collect(),
                name: Some(s.name),
                format: Some("lvm2".to_string()),
                ..PoolSource::default()
            })
            .collect())
    }

    fn create_volume(&self, pool: &Pool, vol: &Volume, flags: u32) -> Result<Volume> {
        VirError::check_flags(
            oxvirt_xml::ErrorDomain::Storage,
            flags,
            0,
            "virStorageBackendLogicalBuildVol",
        )?;
        let new = Self::new_volume(vol)?;
        let lv = self.lvm.create_volume(vg_name(pool), &new)?;
        Ok(volume_of(&lv))
    }

    /// Creates the volume, then copies `from`'s content into its device node (libvirt's
    /// `buildVolFrom` for logical pools). Without device-mapper no logical volume has a
    /// node: the call fails before creating anything.
    fn create_volume_from(
        &self,
        pool: &Pool,
        vol: &Volume,
        from: &Volume,
        flags: u32,
    ) -> Result<Volume> {
        VirError::check_flags(
            oxvirt_xml::ErrorDomain::Storage,
            flags,
            0,
            "virStorageBackendLogicalBuildVolFrom",
        )?;
        if self.lvm.activation() == Activation::Unavailable {
            return Err(storage_error(
                ErrorCode::OperationUnsupported,
                format!(
                    "{NO_DEVICE_MAPPER}: volume '{}' cannot be created from '{}' \
                     (its content cannot be written)",
                    vol.name, from.name
                ),
            ));
        }
        let Some(source) = from.target.path.clone() else {
            return Err(storage_error(
                ErrorCode::InternalError,
                format!("volume '{}' has no path", from.name),
            ));
        };
        let created = self.create_volume(pool, vol, 0)?;
        let result = self
            .device_node(pool, &created)
            .and_then(|dst| device::copy(&source, &dst));
        if let Err(e) = result {
            let _ = self.lvm.delete_volume(vg_name(pool), &vol.name, 0);
            return Err(e);
        }
        Ok(created)
    }

    fn delete_volume(&self, pool: &Pool, vol: &Volume, flags: u32) -> Result<()> {
        self.lvm.delete_volume(vg_name(pool), &vol.name, flags)
    }

    fn resize_volume(&self, pool: &Pool, vol: &Volume, capacity: u64, flags: u32) -> Result<()> {
        use crate::api::flags::resize;
        VirError::check_flags(
            oxvirt_xml::ErrorDomain::Storage,
            flags,
            resize::ALLOCATE | resize::SHRINK,
            "virStorageBackendLogicalResizeVol",
        )?;
        self.lvm.resize_volume(vg_name(pool), &vol.name, capacity)
    }

    fn wipe_volume(&self, pool: &Pool, vol: &Volume, algorithm: u32, flags: u32) -> Result<()> {
        VirError::check_flags(
            oxvirt_xml::ErrorDomain::Storage,
            flags,
            0,
            "virStorageBackendLogicalVolWipe",
        )?;
        if algorithm != 0 {
            return Err(storage_error(
                ErrorCode::InvalidArg,
                format!("unsupported algorithm {algorithm}"),
            ));
        }
        let path = self.device_node(pool, vol)?;
        device::zero_device(&path)
    }

    fn open_read(
        &self,
        pool: &Pool,
        vol: &Volume,
        offset: u64,
        length: u64,
    ) -> Result<Box<dyn VolumeRead>> {
        let path = self.device_node(pool, vol)?;
        Ok(Box::new(device::DeviceReader::open(&path, offset, length)?))
    }

    fn open_write(
        &self,
        pool: &Pool,
        vol: &Volume,
        offset: u64,
        length: u64,
    ) -> Result<Box<dyn VolumeWrite>> {
        let path = self.device_node(pool, vol)?;
        Ok(Box::new(device::DeviceWriter::open(&path, offset, length)?))
    }
}
