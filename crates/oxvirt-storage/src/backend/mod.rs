//! The backend interface: what each pool type (`dir`, `fs`, `logical`, `iscsi`,
//! `iscsi-direct`) does for the storage driver, as libvirt's `virStorageBackend`.
//!
//! Backends are synchronous (they run tools, touch the file system or talk iSCSI); the
//! driver calls them off the async runtime and serializes the calls on one pool. A backend
//! holds no pool state between calls: what it needs is in the [`Pool`] definition it is
//! given, and what it finds is returned ([`Refreshed`]), so a daemon restart loses
//! nothing. Errors are libvirt's (`VIR_FROM_STORAGE`, its codes and messages).

mod device;
pub mod dir;
pub mod fs;
pub mod iscsi;
pub mod iscsi_direct;
pub mod logical;

use std::io::{Read, Write};

use oxvirt_xml::VirError;

use crate::model::{Pool, PoolSource, Volume};

/// The result of a backend call.
pub type Result<T, E = VirError> = std::result::Result<T, E>;

/// What a refresh finds: the pool's space and its volumes (each with name, key, target
/// path, format, capacity and allocation filled in, as `vol-dumpxml` shows them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Refreshed {
    /// Logical size in bytes.
    pub capacity: u64,
    /// Bytes used.
    pub allocation: u64,
    /// Bytes free.
    pub available: u64,
    /// The volumes, in any order.
    pub volumes: Vec<Volume>,
}

/// What reading one volume again finds: the pool's space, and the volume as a refresh
/// shows it (`None`: it is gone).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RefreshedVolume {
    /// Logical size of the pool in bytes.
    pub capacity: u64,
    /// Bytes used.
    pub allocation: u64,
    /// Bytes free.
    pub available: u64,
    /// The volume, if it still exists.
    pub volume: Option<Volume>,
}

/// A region of a volume's content for sparse transfers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment {
    /// This many bytes of data.
    Data(u64),
    /// This many bytes of hole.
    Hole(u64),
}

/// A volume opened for reading from an offset.
pub trait VolumeRead: Read + Send {
    /// The data and hole segments from the current position to the end of the range (a
    /// backend that cannot tell holes answers one data segment).
    fn segments(&mut self) -> Result<Vec<Segment>>;

    /// Skips `len` bytes (a hole the reader does not need to read).
    fn skip(&mut self, len: u64) -> Result<()>;
}

/// A volume opened for writing from an offset.
pub trait VolumeWrite: Write + Send {
    /// Leaves a hole of `len` bytes (a file punches or skips it; a device writes zeroes).
    fn hole(&mut self, len: u64) -> Result<()>;

    /// Flushes everything to the volume (called once at the end of an upload).
    fn finish(&mut self) -> Result<()>;
}

/// One pool type's operations, as libvirt's `virStorageBackend`.
pub trait Backend: Send + Sync {
    /// The pool type's name (`dir`, `logical`...).
    fn pool_type(&self) -> &'static str;

    /// Whether the pool is already usable without starting it (after a daemon restart,
    /// libvirt's `checkPool`: a dir pool's directory exists, a VG is active...).
    fn check(&self, pool: &Pool) -> Result<bool>;

    /// `virStoragePoolBuild` with `flags::build`.
    fn build(&self, pool: &Pool, flags: u32) -> Result<()>;

    /// Starts the pool (mount, log in, activate).
    fn start(&self, pool: &Pool) -> Result<()>;

    /// Reads the pool's space and volumes.
    fn refresh(&self, pool: &Pool) -> Result<Refreshed>;

    /// Reads volume `name` and the pool's space again, after a change to that volume or
    /// before showing it, without reading every other volume (as libvirt's `refreshVol`).
    /// `None` (the default): the backend cannot read one volume alone, and the driver
    /// refreshes the whole pool instead.
    fn refresh_volume(&self, _pool: &Pool, _name: &str) -> Result<Option<RefreshedVolume>> {
        Ok(None)
    }

    /// Stops the pool (unmount, log out, deactivate).
    fn stop(&self, pool: &Pool) -> Result<()>;

    /// `virStoragePoolDelete`: removes what build made (the pool is stopped). By default
    /// libvirt's answer for a backend without it.
    fn delete(&self, _pool: &Pool, _flags: u32) -> Result<()> {
        Err(device::no_support("pool does not support pool deletion"))
    }

    /// `virConnectFindStoragePoolSources`: the sources found (at `spec`'s host for
    /// network pools).
    fn find_sources(&self, spec: Option<&PoolSource>, flags: u32) -> Result<Vec<PoolSource>>;

    /// Creates volume `vol` (name, capacity, allocation, format given; the driver checked
    /// the name) and returns it as a refresh would show it. The defaults of this and the
    /// other volume calls are libvirt's answers for a backend without them (pools whose
    /// volumes are LUNs a target decides).
    fn create_volume(&self, _pool: &Pool, _vol: &Volume, _flags: u32) -> Result<Volume> {
        Err(device::no_support(
            "storage pool does not support volume creation",
        ))
    }

    /// Creates `vol` with the content of `from` (a volume of this pool or another one of
    /// any type, opened by the driver), converting the format where needed.
    fn create_volume_from(
        &self,
        _pool: &Pool,
        _vol: &Volume,
        _from: &Volume,
        _flags: u32,
    ) -> Result<Volume> {
        Err(device::no_support(
            "storage pool does not support volume creation from an existing volume",
        ))
    }

    /// Deletes a volume.
    fn delete_volume(&self, _pool: &Pool, _vol: &Volume, _flags: u32) -> Result<()> {
        Err(device::no_support(
            "storage pool does not support vol deletion",
        ))
    }

    /// Resizes a volume to `capacity` bytes (`flags::resize` ALLOCATE/SHRINK; the driver
    /// has turned a DELTA into the new capacity and checked SHRINK).
    fn resize_volume(
        &self,
        _pool: &Pool,
        _vol: &Volume,
        _capacity: u64,
        _flags: u32,
    ) -> Result<()> {
        Err(device::no_support(
            "storage pool does not support changing of volume capacity",
        ))
    }

    /// Wipes a volume's content with libvirt's algorithm number (0: zeroes).
    fn wipe_volume(&self, pool: &Pool, vol: &Volume, algorithm: u32, flags: u32) -> Result<()>;

    /// Opens a volume for reading `length` bytes (0: to the end) from `offset`.
    fn open_read(
        &self,
        pool: &Pool,
        vol: &Volume,
        offset: u64,
        length: u64,
    ) -> Result<Box<dyn VolumeRead>>;

    /// Opens a volume for writing at `offset`, at most `length` bytes (0: to the end).
    fn open_write(
        &self,
        pool: &Pool,
        vol: &Volume,
        offset: u64,
        length: u64,
    ) -> Result<Box<dyn VolumeWrite>>;
}
