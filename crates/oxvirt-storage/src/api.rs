//! The storage driver interface: what a backend implements so that the daemon, the facade
//! and `oxvirsh` can manage storage pools and volumes.
//!
//! Each method is one libvirt call (`virStoragePoolCreate`, `virStorageVolCreateXML`...),
//! takes libvirt's flags as a `u32` (see [`flags`]) and fails with a [`VirError`] carrying
//! libvirt's code, domain (`VIR_FROM_STORAGE`) and message. Pools are named by a
//! [`PoolRef`] (name and UUID, as `remote_nonnull_storage_pool` carries them) and found by
//! UUID; volumes by a [`VolRef`] (pool name, volume name and key, as
//! `remote_nonnull_storage_vol`) and found by pool and name, as libvirt does. Every method
//! has a default that answers `VIR_ERR_NO_SUPPORT` naming the public function, as libvirt
//! does for a missing call.

use async_trait::async_trait;
use oxvirt_xml::types::Uuid;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};
use tokio::sync::{mpsc, oneshot};

/// The result of a storage driver call.
pub type Result<T, E = VirError> = std::result::Result<T, E>;

/// A pool as calls name it: libvirt's `remote_nonnull_storage_pool`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PoolRef {
    /// The pool's name.
    pub name: String,
    /// The pool's UUID.
    pub uuid: Uuid,
}

/// A volume as calls name it: libvirt's `remote_nonnull_storage_vol`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VolRef {
    /// The name of the pool holding the volume.
    pub pool: String,
    /// The volume's name.
    pub name: String,
    /// The volume's key (its path for file and block volumes, as libvirt).
    pub key: String,
}

/// `virStoragePoolState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolState {
    /// `VIR_STORAGE_POOL_INACTIVE` (0).
    Inactive = 0,
    /// `VIR_STORAGE_POOL_BUILDING` (1).
    Building = 1,
    /// `VIR_STORAGE_POOL_RUNNING` (2).
    Running = 2,
    /// `VIR_STORAGE_POOL_DEGRADED` (3).
    Degraded = 3,
    /// `VIR_STORAGE_POOL_INACCESSIBLE` (4).
    Inaccessible = 4,
}

/// `virStoragePoolInfo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolInfo {
    /// The pool's state.
    pub state: PoolState,
    /// Logical size in bytes.
    pub capacity: u64,
    /// Bytes used by volumes.
    pub allocation: u64,
    /// Bytes free for new volumes.
    pub available: u64,
}

/// `virStorageVolType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VolType {
    /// `VIR_STORAGE_VOL_FILE` (0).
    File = 0,
    /// `VIR_STORAGE_VOL_BLOCK` (1).
    Block = 1,
    /// `VIR_STORAGE_VOL_DIR` (2).
    Dir = 2,
    /// `VIR_STORAGE_VOL_NETWORK` (3).
    Network = 3,
    /// `VIR_STORAGE_VOL_NETDIR` (4).
    Netdir = 4,
    /// `VIR_STORAGE_VOL_PLOOP` (5).
    Ploop = 5,
}

/// `virStorageVolInfo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VolInfo {
    /// The volume's type.
    pub kind: VolType,
    /// Logical size in bytes (what the guest sees).
    pub capacity: u64,
    /// Bytes the volume takes on its pool (or its physical size with
    /// `flags::vol_info::GET_PHYSICAL`).
    pub allocation: u64,
}

/// libvirt's flag values for the storage calls.
pub mod flags {
    /// `virConnectListAllStoragePoolsFlags`.
    pub mod list {
        /// `VIR_CONNECT_LIST_STORAGE_POOLS_INACTIVE`.
        pub const INACTIVE: u32 = 1 << 0;
        /// `VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE`.
        pub const ACTIVE: u32 = 1 << 1;
        /// `VIR_CONNECT_LIST_STORAGE_POOLS_PERSISTENT`.
        pub const PERSISTENT: u32 = 1 << 2;
        /// `VIR_CONNECT_LIST_STORAGE_POOLS_TRANSIENT`.
        pub const TRANSIENT: u32 = 1 << 3;
        /// `VIR_CONNECT_LIST_STORAGE_POOLS_AUTOSTART`.
        pub const AUTOSTART: u32 = 1 << 4;
        /// `VIR_CONNECT_LIST_STORAGE_POOLS_NO_AUTOSTART`.
        pub const NO_AUTOSTART: u32 = 1 << 5;
        /// `VIR_CONNECT_LIST_STORAGE_POOLS_DIR` (the pool type filters follow, one bit
        /// each, in [`TYPES`]' order).
        pub const DIR: u32 = 1 << 6;
        /// The pool types selected by the type filter bits, from `DIR` (bit 6) up to
        /// `ISCSI_DIRECT` (bit 19), as libvirt numbers them.
        pub const TYPES: [&str; 14] = [
            "dir",
            "fs",
            "netfs",
            "logical",
            "disk",
            "iscsi",
            "scsi",
            "mpath",
            "rbd",
            "sheepdog",
            "gluster",
            "zfs",
            "vstorage",
            "iscsi-direct",
        ];
        /// Every filter flag.
        pub const ALL: u32 = (1 << 20) - 1;

        /// The type filter bit of pool type `name` (`"logical"`), if it has one.
        pub fn type_bit(name: &str) -> Option<u32> {
            TYPES.iter().position(|t| *t == name).map(|i| DIR << i)
        }
    }
    /// `virStoragePoolBuildFlags`.
    pub mod build {
        /// `VIR_STORAGE_POOL_BUILD_NEW`.
        pub const NEW: u32 = 0;
        /// `VIR_STORAGE_POOL_BUILD_REPAIR`.
        pub const REPAIR: u32 = 1;
        /// `VIR_STORAGE_POOL_BUILD_RESIZE`.
        pub const RESIZE: u32 = 2;
        /// `VIR_STORAGE_POOL_BUILD_NO_OVERWRITE`.
        pub const NO_OVERWRITE: u32 = 4;
        /// `VIR_STORAGE_POOL_BUILD_OVERWRITE`.
        pub const OVERWRITE: u32 = 8;
    }
    /// `virStoragePoolCreateFlags`.
    pub mod create {
        /// `VIR_STORAGE_POOL_CREATE_WITH_BUILD`.
        pub const WITH_BUILD: u32 = 1;
        /// `VIR_STORAGE_POOL_CREATE_WITH_BUILD_OVERWRITE`.
        pub const WITH_BUILD_OVERWRITE: u32 = 2;
        /// `VIR_STORAGE_POOL_CREATE_WITH_BUILD_NO_OVERWRITE`.
        pub const WITH_BUILD_NO_OVERWRITE: u32 = 4;
    }
    /// `virStoragePoolDeleteFlags` and `virStorageVolDeleteFlags`.
    pub mod delete {
        /// `VIR_STORAGE_POOL_DELETE_NORMAL` / `VIR_STORAGE_VOL_DELETE_NORMAL`.
        pub const NORMAL: u32 = 0;
        /// `VIR_STORAGE_POOL_DELETE_ZEROED` / `VIR_STORAGE_VOL_DELETE_ZEROED`.
        pub const ZEROED: u32 = 1;
        /// `VIR_STORAGE_VOL_DELETE_WITH_SNAPSHOTS`.
        pub const WITH_SNAPSHOTS: u32 = 2;
    }
    /// `virStoragePoolDefineFlags` and `virStoragePoolCreateXML`'s validate flag.
    pub mod define {
        /// `VIR_STORAGE_POOL_DEFINE_VALIDATE` / `VIR_STORAGE_POOL_CREATE_XML_VALIDATE`...
        pub const VALIDATE: u32 = 1;
    }
    /// `virStorageXMLFlags`.
    pub mod xml {
        /// `VIR_STORAGE_XML_INACTIVE`: the persistent definition.
        pub const INACTIVE: u32 = 1;
    }
    /// `virStorageVolCreateFlags`.
    pub mod vol_create {
        /// `VIR_STORAGE_VOL_CREATE_PREALLOC_METADATA`.
        pub const PREALLOC_METADATA: u32 = 1;
        /// `VIR_STORAGE_VOL_CREATE_REFLINK`.
        pub const REFLINK: u32 = 2;
        /// `VIR_STORAGE_VOL_CREATE_VALIDATE`.
        pub const VALIDATE: u32 = 4;
    }
    /// `virStorageVolResizeFlags`.
    pub mod resize {
        /// `VIR_STORAGE_VOL_RESIZE_ALLOCATE`.
        pub const ALLOCATE: u32 = 1;
        /// `VIR_STORAGE_VOL_RESIZE_DELTA`.
        pub const DELTA: u32 = 2;
        /// `VIR_STORAGE_VOL_RESIZE_SHRINK`.
        pub const SHRINK: u32 = 4;
    }
    /// `virStorageVolInfoFlags`.
    pub mod vol_info {
        /// `VIR_STORAGE_VOL_USE_ALLOCATION`.
        pub const USE_ALLOCATION: u32 = 0;
        /// `VIR_STORAGE_VOL_GET_PHYSICAL`.
        pub const GET_PHYSICAL: u32 = 1;
    }
    /// `virStorageVolUploadFlags` and `virStorageVolDownloadFlags`.
    pub mod stream {
        /// `VIR_STORAGE_VOL_UPLOAD_SPARSE_STREAM` / `VIR_STORAGE_VOL_DOWNLOAD_SPARSE_STREAM`.
        pub const SPARSE: u32 = 1;
    }
}

/// `virStorageVolWipeAlgorithm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WipeAlgorithm {
    /// `VIR_STORAGE_VOL_WIPE_ALG_ZERO` (0): zeroes.
    Zero = 0,
    /// `VIR_STORAGE_VOL_WIPE_ALG_NNSA` (1).
    Nnsa = 1,
    /// `VIR_STORAGE_VOL_WIPE_ALG_DOD` (2).
    Dod = 2,
    /// `VIR_STORAGE_VOL_WIPE_ALG_BSI` (3).
    Bsi = 3,
    /// `VIR_STORAGE_VOL_WIPE_ALG_GUTMANN` (4).
    Gutmann = 4,
    /// `VIR_STORAGE_VOL_WIPE_ALG_SCHNEIER` (5).
    Schneier = 5,
    /// `VIR_STORAGE_VOL_WIPE_ALG_PFITZNER7` (6).
    Pfitzner7 = 6,
    /// `VIR_STORAGE_VOL_WIPE_ALG_PFITZNER33` (7).
    Pfitzner33 = 7,
    /// `VIR_STORAGE_VOL_WIPE_ALG_RANDOM` (8).
    Random = 8,
    /// `VIR_STORAGE_VOL_WIPE_ALG_TRIM` (9).
    Trim = 9,
}

impl WipeAlgorithm {
    /// The algorithm with libvirt's number, if there is one.
    pub fn from_number(n: u32) -> Option<Self> {
        use WipeAlgorithm::*;
        Some(match n {
            0 => Zero,
            1 => Nnsa,
            2 => Dod,
            3 => Bsi,
            4 => Gutmann,
            5 => Schneier,
            6 => Pfitzner7,
            7 => Pfitzner33,
            8 => Random,
            9 => Trim,
            _ => return None,
        })
    }
}

/// `virStoragePoolEventLifecycleType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolEventKind {
    /// `VIR_STORAGE_POOL_EVENT_DEFINED` (0).
    Defined = 0,
    /// `VIR_STORAGE_POOL_EVENT_UNDEFINED` (1).
    Undefined = 1,
    /// `VIR_STORAGE_POOL_EVENT_STARTED` (2).
    Started = 2,
    /// `VIR_STORAGE_POOL_EVENT_STOPPED` (3).
    Stopped = 3,
    /// `VIR_STORAGE_POOL_EVENT_CREATED` (4): built.
    Created = 4,
    /// `VIR_STORAGE_POOL_EVENT_DELETED` (5).
    Deleted = 5,
}

/// What a pool event says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolEventWhat {
    /// `VIR_STORAGE_POOL_EVENT_ID_LIFECYCLE` (0) with its kind (libvirt 9.0's detail is
    /// always 0).
    Lifecycle(PoolEventKind),
    /// `VIR_STORAGE_POOL_EVENT_ID_REFRESH` (1): the pool was refreshed.
    Refresh,
}

/// One storage pool event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolEvent {
    /// The pool.
    pub pool: PoolRef,
    /// What happened.
    pub what: PoolEventWhat,
}

impl PoolEvent {
    /// The lifecycle event `kind` about `pool`.
    pub fn lifecycle(pool: &PoolRef, kind: PoolEventKind) -> Self {
        PoolEvent {
            pool: pool.clone(),
            what: PoolEventWhat::Lifecycle(kind),
        }
    }

    /// The refresh event about `pool`.
    pub fn refresh(pool: &PoolRef) -> Self {
        PoolEvent {
            pool: pool.clone(),
            what: PoolEventWhat::Refresh,
        }
    }
}

/// A subscription to a driver's pool events.
pub type PoolEventReceiver = mpsc::UnboundedReceiver<PoolEvent>;

/// Fans a storage driver's events out to every subscriber.
pub type PoolEventBus = oxvirt_domain::driver::EventBus<PoolEvent>;

/// A piece of a volume's content as a stream carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chunk {
    /// Bytes, in order.
    Data(Vec<u8>),
    /// A hole of this many bytes (reads as zeroes; only in sparse streams).
    Hole(u64),
}

/// How many chunks a transfer buffers between the volume and the connection.
pub const TRANSFER_DEPTH: usize = 8;

/// A running `virStorageVolDownload`: the volume's content, in order, then the channel
/// closes. An error ends the transfer (the stream is aborted with it).
pub struct Download {
    /// The chunks (data of at most 262,120 bytes each, a stream packet's payload, or
    /// holes when the download is sparse).
    pub chunks: mpsc::Receiver<Result<Chunk>>,
}

/// A running `virStorageVolUpload`: chunks sent go to the volume in order; dropping the
/// sender ends the upload, after which `done` says whether everything was written (and
/// the volume refreshed).
pub struct Upload {
    /// Where the stream's chunks go.
    pub chunks: mpsc::Sender<Chunk>,
    /// The upload's outcome, once `chunks` is dropped (or the writer failed early).
    pub done: oneshot::Receiver<Result<()>>,
}

/// libvirt's answer for a call the driver lacks.
pub fn no_support(function: &str) -> VirError {
    VirError::new(ErrorDomain::Storage, ErrorCode::NoSupport, function)
}

/// A storage driver: a node's storage pools and their volumes.
///
/// Implementations are shared between tasks (`Arc<dyn StorageDriver>`).
#[async_trait]
pub trait StorageDriver: Send + Sync {
    /// A subscription to every pool event from now on.
    fn subscribe(&self) -> PoolEventReceiver;

    /// `virConnectListAllStoragePools`: the pools that pass the `flags::list` filters,
    /// sorted by name.
    async fn list_all_pools(&self, _flags: u32) -> Result<Vec<PoolRef>> {
        Err(no_support("virConnectListAllStoragePools"))
    }

    /// `virConnectFindStoragePoolSources`: a `<sources>` document of the pools of type
    /// `pool_type` found on the node (or at the host `spec` names).
    async fn find_pool_sources(
        &self,
        _pool_type: &str,
        _spec: Option<&str>,
        _flags: u32,
    ) -> Result<String> {
        Err(no_support("virConnectFindStoragePoolSources"))
    }

    /// `virStoragePoolLookupByName`.
    async fn pool_lookup_by_name(&self, _name: &str) -> Result<PoolRef> {
        Err(no_support("virStoragePoolLookupByName"))
    }

    /// `virStoragePoolLookupByUUID`.
    async fn pool_lookup_by_uuid(&self, _uuid: &Uuid) -> Result<PoolRef> {
        Err(no_support("virStoragePoolLookupByUUID"))
    }

    /// `virStoragePoolLookupByVolume`.
    async fn pool_lookup_by_volume(&self, _vol: &VolRef) -> Result<PoolRef> {
        Err(no_support("virStoragePoolLookupByVolume"))
    }

    /// `virStoragePoolLookupByTargetPath`.
    async fn pool_lookup_by_target_path(&self, _path: &str) -> Result<PoolRef> {
        Err(no_support("virStoragePoolLookupByTargetPath"))
    }

    /// `virStoragePoolDefineXML`.
    async fn pool_define_xml(&self, _xml: &str, _flags: u32) -> Result<PoolRef> {
        Err(no_support("virStoragePoolDefineXML"))
    }

    /// `virStoragePoolCreateXML`: a transient pool, started (`flags::create`).
    async fn pool_create_xml(&self, _xml: &str, _flags: u32) -> Result<PoolRef> {
        Err(no_support("virStoragePoolCreateXML"))
    }

    /// `virStoragePoolBuild` (`flags::build`).
    async fn pool_build(&self, _pool: &PoolRef, _flags: u32) -> Result<()> {
        Err(no_support("virStoragePoolBuild"))
    }

    /// `virStoragePoolCreate`: starts a defined pool (`flags::create`).
    async fn pool_create(&self, _pool: &PoolRef, _flags: u32) -> Result<()> {
        Err(no_support("virStoragePoolCreate"))
    }

    /// `virStoragePoolDestroy`.
    async fn pool_destroy(&self, _pool: &PoolRef) -> Result<()> {
        Err(no_support("virStoragePoolDestroy"))
    }

    /// `virStoragePoolDelete` (`flags::delete`).
    async fn pool_delete(&self, _pool: &PoolRef, _flags: u32) -> Result<()> {
        Err(no_support("virStoragePoolDelete"))
    }

    /// `virStoragePoolUndefine`.
    async fn pool_undefine(&self, _pool: &PoolRef) -> Result<()> {
        Err(no_support("virStoragePoolUndefine"))
    }

    /// `virStoragePoolRefresh`.
    async fn pool_refresh(&self, _pool: &PoolRef, _flags: u32) -> Result<()> {
        Err(no_support("virStoragePoolRefresh"))
    }

    /// `virStoragePoolGetInfo`.
    async fn pool_info(&self, _pool: &PoolRef) -> Result<PoolInfo> {
        Err(no_support("virStoragePoolGetInfo"))
    }

    /// `virStoragePoolGetXMLDesc` (`flags::xml`).
    async fn pool_xml_desc(&self, _pool: &PoolRef, _flags: u32) -> Result<String> {
        Err(no_support("virStoragePoolGetXMLDesc"))
    }

    /// `virStoragePoolGetAutostart`.
    async fn pool_autostart(&self, _pool: &PoolRef) -> Result<bool> {
        Err(no_support("virStoragePoolGetAutostart"))
    }

    /// `virStoragePoolSetAutostart`.
    async fn pool_set_autostart(&self, _pool: &PoolRef, _autostart: bool) -> Result<()> {
        Err(no_support("virStoragePoolSetAutostart"))
    }

    /// `virStoragePoolIsActive`.
    async fn pool_is_active(&self, _pool: &PoolRef) -> Result<bool> {
        Err(no_support("virStoragePoolIsActive"))
    }

    /// `virStoragePoolIsPersistent`.
    async fn pool_is_persistent(&self, _pool: &PoolRef) -> Result<bool> {
        Err(no_support("virStoragePoolIsPersistent"))
    }

    /// `virStoragePoolListAllVolumes`: the pool's volumes, sorted by name (the pool must
    /// be running).
    async fn pool_list_volumes(&self, _pool: &PoolRef) -> Result<Vec<VolRef>> {
        Err(no_support("virStoragePoolListAllVolumes"))
    }

    /// `virStorageVolLookupByName`.
    async fn vol_lookup_by_name(&self, _pool: &PoolRef, _name: &str) -> Result<VolRef> {
        Err(no_support("virStorageVolLookupByName"))
    }

    /// `virStorageVolLookupByKey`.
    async fn vol_lookup_by_key(&self, _key: &str) -> Result<VolRef> {
        Err(no_support("virStorageVolLookupByKey"))
    }

    /// `virStorageVolLookupByPath`.
    async fn vol_lookup_by_path(&self, _path: &str) -> Result<VolRef> {
        Err(no_support("virStorageVolLookupByPath"))
    }

    /// `virStorageVolCreateXML` (`flags::vol_create`).
    async fn vol_create_xml(&self, _pool: &PoolRef, _xml: &str, _flags: u32) -> Result<VolRef> {
        Err(no_support("virStorageVolCreateXML"))
    }

    /// `virStorageVolCreateXMLFrom`: a new volume with `from`'s content (converted to the
    /// new volume's format).
    async fn vol_create_xml_from(
        &self,
        _pool: &PoolRef,
        _xml: &str,
        _from: &VolRef,
        _flags: u32,
    ) -> Result<VolRef> {
        Err(no_support("virStorageVolCreateXMLFrom"))
    }

    /// `virStorageVolDelete` (`flags::delete`); refused while a running domain uses the
    /// volume.
    async fn vol_delete(&self, _vol: &VolRef, _flags: u32) -> Result<()> {
        Err(no_support("virStorageVolDelete"))
    }

    /// `virStorageVolWipe` (`algorithm` [`WipeAlgorithm::Zero`]) and, unless the driver
    /// tells the two apart with [`StorageDriver::vol_wipe_pattern`],
    /// `virStorageVolWipePattern`.
    async fn vol_wipe(&self, _vol: &VolRef, _algorithm: u32, _flags: u32) -> Result<()> {
        Err(no_support("virStorageVolWipe"))
    }

    /// `virStorageVolWipePattern`: [`StorageDriver::vol_wipe`] unless the driver has only
    /// one of the two calls (libvirt's test driver has neither).
    async fn vol_wipe_pattern(&self, vol: &VolRef, algorithm: u32, flags: u32) -> Result<()> {
        self.vol_wipe(vol, algorithm, flags).await
    }

    /// `virStorageVolResize` (`flags::resize`).
    async fn vol_resize(&self, _vol: &VolRef, _capacity: u64, _flags: u32) -> Result<()> {
        Err(no_support("virStorageVolResize"))
    }

    /// `virStorageVolGetInfo` (`flags` 0) and, unless the driver tells the two apart with
    /// [`StorageDriver::vol_info_flags`], `virStorageVolGetInfoFlags` (`flags::vol_info`).
    async fn vol_info(&self, _vol: &VolRef, _flags: u32) -> Result<VolInfo> {
        Err(no_support("virStorageVolGetInfo"))
    }

    /// `virStorageVolGetInfoFlags`: [`StorageDriver::vol_info`] unless the driver has only
    /// the flag-less call (libvirt's test driver).
    async fn vol_info_flags(&self, vol: &VolRef, flags: u32) -> Result<VolInfo> {
        self.vol_info(vol, flags).await
    }

    /// `virStorageVolGetXMLDesc`.
    async fn vol_xml_desc(&self, _vol: &VolRef, _flags: u32) -> Result<String> {
        Err(no_support("virStorageVolGetXMLDesc"))
    }

    /// `virStorageVolGetPath`.
    async fn vol_path(&self, _vol: &VolRef) -> Result<String> {
        Err(no_support("virStorageVolGetPath"))
    }

    /// `virStorageVolDownload`: `length` bytes (0: to the end) from `offset`
    /// (`flags::stream::SPARSE`: holes as [`Chunk::Hole`]).
    async fn vol_download(
        &self,
        _vol: &VolRef,
        _offset: u64,
        _length: u64,
        _flags: u32,
    ) -> Result<Download> {
        Err(no_support("virStorageVolDownload"))
    }

    /// `virStorageVolUpload`: writes the stream at `offset`, at most `length` bytes (0: no
    /// limit); holes in a sparse stream stay holes in a file volume.
    async fn vol_upload(
        &self,
        _vol: &VolRef,
        _offset: u64,
        _length: u64,
        _flags: u32,
    ) -> Result<Upload> {
        Err(no_support("virStorageVolUpload"))
    }
}
