//! The hypervisor driver interface: what a backend (the in-memory test driver, QEMU, a
//! remote daemon) implements so that the facade and the daemon can manage its domains.
//!
//! The shape follows libvirt's public domain API: each method is one `virDomain*` or
//! `virConnect*` call, takes libvirt's flags as a `u32` (see [`flags`]) and fails with a
//! [`VirError`] carrying libvirt's error code, domain and message. Domains are named by a
//! [`DomainRef`] (name, UUID and ID, as `remote_nonnull_domain` carries them); drivers find
//! the domain by UUID, as libvirt does.
//!
//! Every method has a default that fails with `VIR_ERR_NO_SUPPORT` ("this function is not
//! supported by the connection driver: virDomainXxx"), exactly what libvirt answers for a
//! call a driver lacks, so a backend can grow one call at a time.

pub mod event;
pub mod flags;
pub mod ifaddr;
pub mod node;
pub mod placement;
pub mod ports;
pub mod state;
pub mod tunnel;
pub mod typed;
pub mod volumes;

use async_trait::async_trait;
use oxvirt_xml::types::Uuid;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

pub use event::{DomainEvent, EventBus, EventId, EventKind, EventReceiver, Lifecycle};
pub use node::{CpuMap, IothreadInfo, NodeCpuMap, VcpuInfo};
pub use state::{DomainState, StateReason};
pub use typed::{DomainStats, JobInfo, TypedParam, TypedValue};

/// The result of a driver call.
pub type Result<T, E = VirError> = std::result::Result<T, E>;

/// A domain as calls name it: libvirt's `remote_nonnull_domain`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DomainRef {
    /// The domain's name.
    pub name: String,
    /// The domain's UUID.
    pub uuid: Uuid,
    /// The ID while it runs, `-1` while it is inactive.
    pub id: i32,
}

impl DomainRef {
    /// Whether the reference was taken while the domain ran.
    pub fn is_active(&self) -> bool {
        self.id >= 0
    }
}

/// A snapshot as calls name it: its domain and its name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SnapshotRef {
    /// The domain the snapshot belongs to.
    pub domain: DomainRef,
    /// The snapshot's name.
    pub name: String,
}

/// `virDomainInfo`: what `virsh dominfo` shows of a domain's resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DomainInfo {
    /// The current state.
    pub state: DomainState,
    /// The maximum memory, in KiB.
    pub max_mem_kib: u64,
    /// The memory in use, in KiB.
    pub memory_kib: u64,
    /// The number of virtual CPUs.
    pub nr_virt_cpu: u32,
    /// CPU time used, in nanoseconds.
    pub cpu_time_ns: u64,
}

/// `virNodeInfo`: the host's CPUs and memory, as `virsh nodeinfo` shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    /// The CPU model (`x86_64`, `i686`).
    pub model: String,
    /// Memory, in KiB.
    pub memory_kib: u64,
    /// Active CPUs.
    pub cpus: u32,
    /// Expected CPU frequency, in MHz.
    pub mhz: u32,
    /// NUMA cells.
    pub nodes: u32,
    /// CPU sockets per NUMA cell.
    pub sockets: u32,
    /// Cores per socket.
    pub cores: u32,
    /// Threads per core.
    pub threads: u32,
}

/// `virSecurityModel`: the host's security driver, as `virsh dominfo` and `capabilities`
/// show it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SecurityModel {
    /// The model's name (`selinux`, `apparmor`, `testSecurity`); empty when there is none.
    pub model: String,
    /// Its domain of interpretation; may be empty.
    pub doi: String,
}

/// `virSecurityLabel`: a running domain's security label.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SecurityLabel {
    /// The label; empty when the domain has none.
    pub label: String,
    /// Whether the security driver enforces it.
    pub enforcing: bool,
}

/// A console image taken by `virDomainScreenshot`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Screenshot {
    /// Its MIME type (`image/png`).
    pub mime: String,
    /// The image file's bytes.
    pub data: Vec<u8>,
}

/// A domain console opened by `virDomainOpenConsole`: what the guest writes, and where
/// what the user types goes. The daemon streams both directions to the client.
pub struct ConsoleIo {
    /// The guest's output.
    pub reader: Box<dyn tokio::io::AsyncRead + Send + Unpin>,
    /// The guest's input.
    pub writer: Box<dyn tokio::io::AsyncWrite + Send + Unpin>,
}

impl std::fmt::Debug for ConsoleIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConsoleIo")
    }
}

/// The error every unimplemented call returns: libvirt's `VIR_ERR_NO_SUPPORT` naming the
/// public function.
pub fn no_support(function: &str) -> VirError {
    VirError::new(ErrorDomain::Domain, ErrorCode::NoSupport, function)
}

/// A hypervisor driver: one connection's view of a node's domains.
///
/// Implementations are shared between tasks (`Arc<dyn Hypervisor>`); calls on different
/// domains may run concurrently.
#[async_trait]
pub trait Hypervisor: Send + Sync {
    // ---- the connection ----

    /// The canonical URI of this connection (`test:///default`).
    fn uri(&self) -> String;

    /// The driver's name as `virConnectGetType` reports it (`TEST`, `QEMU`).
    fn hypervisor_type(&self) -> &str;

    /// `virConnectSupportsFeature`: whether the driver has the `VIR_DRV_FEATURE_*`
    /// `feature` (the migration features are what clients ask: P2P 4, DIRECT 5, V3 6,
    /// CHANGE_PROTECTION 7, OFFLINE 12, PARAMS 13). A driver that does not answer leaves
    /// its callers to find out from the calls themselves.
    async fn supports_feature(&self, _feature: i32) -> Result<bool> {
        Err(no_support("virConnectSupportsFeature"))
    }

    /// The hypervisor's version, encoded as libvirt does (`major * 1_000_000 + minor *
    /// 1_000 + release`).
    async fn version(&self) -> Result<u64> {
        Err(no_support("virConnectGetVersion"))
    }

    /// The host's name.
    async fn hostname(&self) -> Result<String> {
        Err(no_support("virConnectGetHostname"))
    }

    /// The host's CPUs and memory.
    async fn node_info(&self) -> Result<NodeInfo> {
        Err(no_support("virNodeGetInfo"))
    }

    /// The capabilities XML.
    async fn capabilities(&self) -> Result<String> {
        Err(no_support("virConnectGetCapabilities"))
    }

    /// The most vCPUs a guest of `kind` (`None` for the default) may have.
    async fn max_vcpus(&self, _kind: Option<&str>) -> Result<u32> {
        Err(no_support("virConnectGetMaxVcpus"))
    }

    /// Free memory of the host, in bytes.
    async fn free_memory(&self) -> Result<u64> {
        Err(no_support("virNodeGetFreeMemory"))
    }

    /// `virNodeGetCellsFreeMemory`: the free memory of NUMA cells `start..start + max`
    /// (fewer where the host has fewer cells), in bytes.
    async fn cells_free_memory(&self, _start: i32, _max: i32) -> Result<Vec<u64>> {
        Err(no_support("virNodeGetCellsFreeMemory"))
    }

    /// `virConnectGetSysinfo`: the host's SMBIOS data as libvirt's `<sysinfo>` XML.
    async fn sysinfo(&self, _flags: u32) -> Result<String> {
        Err(no_support("virConnectGetSysinfo"))
    }

    /// `virNodeGetSecurityModel`.
    async fn security_model(&self) -> Result<SecurityModel> {
        Err(no_support("virNodeGetSecurityModel"))
    }

    /// `virNodeGetCPUStats`: the kernel, user, idle and iowait time (ns) of host CPU `cpu`
    /// (`-1`: all CPUs together), as named fields in the kernel's order.
    async fn node_cpu_stats(&self, _cpu: i32, _flags: u32) -> Result<Vec<(String, u64)>> {
        Err(no_support("virNodeGetCPUStats"))
    }

    /// `virNodeGetMemoryStats`: total, free, buffers and cached memory (KiB) of NUMA cell
    /// `cell` (`-1`: the whole host).
    async fn node_memory_stats(&self, _cell: i32, _flags: u32) -> Result<Vec<(String, u64)>> {
        Err(no_support("virNodeGetMemoryStats"))
    }

    /// `virNodeGetFreePages`: for each cell in `start_cell..start_cell + cell_count`, the
    /// free pages of each size in `pages` (KiB), cell by cell.
    async fn node_free_pages(
        &self,
        _pages: &[u32],
        _start_cell: i32,
        _cell_count: u32,
        _flags: u32,
    ) -> Result<Vec<u64>> {
        Err(no_support("virNodeGetFreePages"))
    }

    /// `virNodeGetCPUMap`: the host's CPUs and which are online.
    async fn node_cpu_map(&self, _flags: u32) -> Result<NodeCpuMap> {
        Err(no_support("virNodeGetCPUMap"))
    }

    /// `virConnectGetDomainCapabilities`: what a guest of this emulator, arch, machine and
    /// virtualization type (each `None` for the driver's default) may use, as XML.
    async fn domain_capabilities(
        &self,
        _emulator: Option<&str>,
        _arch: Option<&str>,
        _machine: Option<&str>,
        _virttype: Option<&str>,
        _flags: u32,
    ) -> Result<String> {
        Err(no_support("virConnectGetDomainCapabilities"))
    }

    /// A subscription to every domain event from now on.
    fn subscribe(&self) -> EventReceiver;

    // ---- finding domains ----

    /// `virDomainLookupByName`.
    async fn lookup_by_name(&self, _name: &str) -> Result<DomainRef> {
        Err(no_support("virDomainLookupByName"))
    }

    /// `virDomainLookupByUUID`.
    async fn lookup_by_uuid(&self, _uuid: &Uuid) -> Result<DomainRef> {
        Err(no_support("virDomainLookupByUUID"))
    }

    /// `virDomainLookupByID`.
    async fn lookup_by_id(&self, _id: i32) -> Result<DomainRef> {
        Err(no_support("virDomainLookupByID"))
    }

    /// `virConnectListAllDomains` with [`flags::list`] filters, in the driver's order.
    async fn list_all(&self, _flags: u32) -> Result<Vec<DomainRef>> {
        Err(no_support("virConnectListAllDomains"))
    }

    // ---- defining and starting ----

    /// `virDomainDefineXMLFlags` ([`flags::define`]).
    async fn define_xml(&self, _xml: &str, _flags: u32) -> Result<DomainRef> {
        Err(no_support("virDomainDefineXMLFlags"))
    }

    /// `virDomainUndefineFlags` ([`flags::undefine`]).
    async fn undefine(&self, _dom: &DomainRef, _flags: u32) -> Result<()> {
        Err(no_support("virDomainUndefineFlags"))
    }

    /// `virDomainCreateXML`: start a transient domain ([`flags::create`]).
    async fn create_xml(&self, _xml: &str, _flags: u32) -> Result<DomainRef> {
        Err(no_support("virDomainCreateXML"))
    }

    /// `virDomainCreateWithFlags`: start a defined domain ([`flags::create`]); returns it
    /// with its new ID.
    async fn create(&self, _dom: &DomainRef, _flags: u32) -> Result<DomainRef> {
        Err(no_support("virDomainCreateWithFlags"))
    }

    // ---- lifecycle ----

    /// `virDomainDestroyFlags` ([`flags::destroy`]).
    async fn destroy(&self, _dom: &DomainRef, _flags: u32) -> Result<()> {
        Err(no_support("virDomainDestroyFlags"))
    }

    /// `virDomainShutdownFlags` ([`flags::shutdown`]).
    async fn shutdown(&self, _dom: &DomainRef, _flags: u32) -> Result<()> {
        Err(no_support("virDomainShutdownFlags"))
    }

    /// `virDomainReboot` ([`flags::reboot`]).
    async fn reboot(&self, _dom: &DomainRef, _flags: u32) -> Result<()> {
        Err(no_support("virDomainReboot"))
    }

    /// `virDomainReset`.
    async fn reset(&self, _dom: &DomainRef, _flags: u32) -> Result<()> {
        Err(no_support("virDomainReset"))
    }

    /// `virDomainSuspend`.
    async fn suspend(&self, _dom: &DomainRef) -> Result<()> {
        Err(no_support("virDomainSuspend"))
    }

    /// `virDomainResume`.
    async fn resume(&self, _dom: &DomainRef) -> Result<()> {
        Err(no_support("virDomainResume"))
    }

    /// `virDomainSaveFlags`: save the running domain's state to `path` and stop it.
    async fn save(
        &self,
        _dom: &DomainRef,
        _path: &str,
        _dxml: Option<&str>,
        _flags: u32,
    ) -> Result<()> {
        Err(no_support("virDomainSaveFlags"))
    }

    /// `virDomainRestoreFlags`: start a domain from a file written by [`Hypervisor::save`],
    /// optionally with an alternate XML.
    async fn restore(&self, _path: &str, _dxml: Option<&str>, _flags: u32) -> Result<()> {
        Err(no_support("virDomainRestoreFlags"))
    }

    /// `virDomainSaveImageGetXMLDesc`: the domain XML stored in a saved image.
    async fn save_image_xml(&self, _path: &str, _flags: u32) -> Result<String> {
        Err(no_support("virDomainSaveImageGetXMLDesc"))
    }

    /// `virDomainSaveImageDefineXML`: replaces the domain XML stored in a saved image
    /// ([`flags::save`]: `RUNNING` or `PAUSED` also change the state it restores to).
    async fn save_image_define_xml(&self, _path: &str, _dxml: &str, _flags: u32) -> Result<()> {
        Err(no_support("virDomainSaveImageDefineXML"))
    }

    /// `virDomainManagedSave`.
    async fn managed_save(&self, _dom: &DomainRef, _flags: u32) -> Result<()> {
        Err(no_support("virDomainManagedSave"))
    }

    /// `virDomainHasManagedSaveImage`.
    async fn has_managed_save(&self, _dom: &DomainRef, _flags: u32) -> Result<bool> {
        Err(no_support("virDomainHasManagedSaveImage"))
    }

    /// `virDomainManagedSaveRemove`.
    async fn managed_save_remove(&self, _dom: &DomainRef, _flags: u32) -> Result<()> {
        Err(no_support("virDomainManagedSaveRemove"))
    }

    // ---- reading ----

    /// `virDomainGetInfo`.
    async fn info(&self, _dom: &DomainRef) -> Result<DomainInfo> {
        Err(no_support("virDomainGetInfo"))
    }

    /// `virDomainGetState`.
    async fn state(&self, _dom: &DomainRef, _flags: u32) -> Result<StateReason> {
        Err(no_support("virDomainGetState"))
    }

    /// `virDomainGetXMLDesc` ([`flags::xml`]).
    async fn xml_desc(&self, _dom: &DomainRef, _flags: u32) -> Result<String> {
        Err(no_support("virDomainGetXMLDesc"))
    }

    /// `virDomainGetOSType`.
    async fn os_type(&self, _dom: &DomainRef) -> Result<String> {
        Err(no_support("virDomainGetOSType"))
    }

    /// `virDomainIsActive`.
    async fn is_active(&self, _dom: &DomainRef) -> Result<bool> {
        Err(no_support("virDomainIsActive"))
    }

    /// `virDomainIsPersistent`.
    async fn is_persistent(&self, _dom: &DomainRef) -> Result<bool> {
        Err(no_support("virDomainIsPersistent"))
    }

    /// `virDomainIsUpdated`: whether the live definition differs from the persistent one.
    async fn is_updated(&self, _dom: &DomainRef) -> Result<bool> {
        Err(no_support("virDomainIsUpdated"))
    }

    /// `virDomainGetAutostart`.
    async fn autostart(&self, _dom: &DomainRef) -> Result<bool> {
        Err(no_support("virDomainGetAutostart"))
    }

    /// `virDomainSetAutostart`.
    async fn set_autostart(&self, _dom: &DomainRef, _autostart: bool) -> Result<()> {
        Err(no_support("virDomainSetAutostart"))
    }

    /// `virDomainGetSecurityLabel`.
    async fn security_label(&self, _dom: &DomainRef) -> Result<SecurityLabel> {
        Err(no_support("virDomainGetSecurityLabel"))
    }

    /// `virDomainScreenshot`: an image of the domain's console `screen`, sent to the
    /// caller through a stream (the daemon streams [`Screenshot::data`] after replying
    /// with the MIME type).
    async fn screenshot(&self, _dom: &DomainRef, _screen: u32, _flags: u32) -> Result<Screenshot> {
        Err(no_support("virDomainScreenshot"))
    }

    /// `virDomainOpenConsole`: the console `dev_name` (a serial, console or channel alias
    /// such as `serial0`; the first console when `None`). `flags`:
    /// [`flags::console`].
    async fn open_console(
        &self,
        _dom: &DomainRef,
        _dev_name: Option<&str>,
        _flags: u32,
    ) -> Result<ConsoleIo> {
        Err(no_support("virDomainOpenConsole"))
    }

    /// `virDomainGetMaxMemory`, in KiB.
    async fn max_memory(&self, _dom: &DomainRef) -> Result<u64> {
        Err(no_support("virDomainGetMaxMemory"))
    }

    // ---- changing resources ----

    /// `virDomainSetMemoryFlags` ([`flags::memory`]), in KiB.
    async fn set_memory(&self, _dom: &DomainRef, _kib: u64, _flags: u32) -> Result<()> {
        Err(no_support("virDomainSetMemoryFlags"))
    }

    /// `virDomainSetVcpusFlags` ([`flags::vcpu`]).
    async fn set_vcpus(&self, _dom: &DomainRef, _count: u32, _flags: u32) -> Result<()> {
        Err(no_support("virDomainSetVcpusFlags"))
    }

    /// `virDomainGetVcpusFlags` ([`flags::vcpu`]).
    async fn vcpus(&self, _dom: &DomainRef, _flags: u32) -> Result<u32> {
        Err(no_support("virDomainGetVcpusFlags"))
    }

    /// `virDomainAttachDeviceFlags` ([`flags::device`]).
    async fn attach_device(&self, _dom: &DomainRef, _xml: &str, _flags: u32) -> Result<()> {
        Err(no_support("virDomainAttachDeviceFlags"))
    }

    /// `virDomainDetachDeviceFlags` ([`flags::device`]).
    async fn detach_device(&self, _dom: &DomainRef, _xml: &str, _flags: u32) -> Result<()> {
        Err(no_support("virDomainDetachDeviceFlags"))
    }

    /// `virDomainUpdateDeviceFlags` ([`flags::device`]).
    async fn update_device(&self, _dom: &DomainRef, _xml: &str, _flags: u32) -> Result<()> {
        Err(no_support("virDomainUpdateDeviceFlags"))
    }

    /// `virDomainSetMetadata`: set (or with `None`, remove) the title, description or the
    /// `<metadata>` element of namespace `uri` ([`flags::metadata`] kinds, [`flags::affect`]).
    /// The arguments are libvirt's, one for one.
    #[allow(clippy::too_many_arguments)]
    async fn set_metadata(
        &self,
        _dom: &DomainRef,
        _kind: i32,
        _metadata: Option<&str>,
        _key: Option<&str>,
        _uri: Option<&str>,
        _flags: u32,
    ) -> Result<()> {
        Err(no_support("virDomainSetMetadata"))
    }

    /// `virDomainGetMetadata`.
    async fn metadata(
        &self,
        _dom: &DomainRef,
        _kind: i32,
        _uri: Option<&str>,
        _flags: u32,
    ) -> Result<String> {
        Err(no_support("virDomainGetMetadata"))
    }

    // ---- snapshots ----

    /// `virDomainSnapshotCreateXML` ([`flags::snapshot_create`]).
    async fn snapshot_create(
        &self,
        _dom: &DomainRef,
        _xml: &str,
        _flags: u32,
    ) -> Result<SnapshotRef> {
        Err(no_support("virDomainSnapshotCreateXML"))
    }

    /// `virDomainListAllSnapshots` ([`flags::snapshot_list`]).
    async fn snapshot_list(&self, _dom: &DomainRef, _flags: u32) -> Result<Vec<SnapshotRef>> {
        Err(no_support("virDomainListAllSnapshots"))
    }

    /// `virDomainSnapshotListAllChildren` ([`flags::snapshot_list`]).
    async fn snapshot_list_children(
        &self,
        _snap: &SnapshotRef,
        _flags: u32,
    ) -> Result<Vec<SnapshotRef>> {
        Err(no_support("virDomainSnapshotListAllChildren"))
    }

    /// `virDomainSnapshotLookupByName`.
    async fn snapshot_lookup(
        &self,
        _dom: &DomainRef,
        _name: &str,
        _flags: u32,
    ) -> Result<SnapshotRef> {
        Err(no_support("virDomainSnapshotLookupByName"))
    }

    /// `virDomainSnapshotGetXMLDesc` ([`flags::snapshot_xml`]).
    async fn snapshot_xml(&self, _snap: &SnapshotRef, _flags: u32) -> Result<String> {
        Err(no_support("virDomainSnapshotGetXMLDesc"))
    }

    /// `virDomainSnapshotCurrent`.
    async fn snapshot_current(&self, _dom: &DomainRef, _flags: u32) -> Result<SnapshotRef> {
        Err(no_support("virDomainSnapshotCurrent"))
    }

    /// `virDomainHasCurrentSnapshot`.
    async fn has_current_snapshot(&self, _dom: &DomainRef, _flags: u32) -> Result<bool> {
        Err(no_support("virDomainHasCurrentSnapshot"))
    }

    /// `virDomainSnapshotGetParent`.
    async fn snapshot_parent(&self, _snap: &SnapshotRef, _flags: u32) -> Result<SnapshotRef> {
        Err(no_support("virDomainSnapshotGetParent"))
    }

    /// `virDomainSnapshotIsCurrent`.
    async fn snapshot_is_current(&self, _snap: &SnapshotRef, _flags: u32) -> Result<bool> {
        Err(no_support("virDomainSnapshotIsCurrent"))
    }

    /// `virDomainSnapshotHasMetadata`.
    async fn snapshot_has_metadata(&self, _snap: &SnapshotRef, _flags: u32) -> Result<bool> {
        Err(no_support("virDomainSnapshotHasMetadata"))
    }

    /// `virDomainRevertToSnapshot` ([`flags::snapshot_revert`]).
    async fn snapshot_revert(&self, _snap: &SnapshotRef, _flags: u32) -> Result<()> {
        Err(no_support("virDomainRevertToSnapshot"))
    }

    /// `virDomainSnapshotDelete` ([`flags::snapshot_delete`]).
    async fn snapshot_delete(&self, _snap: &SnapshotRef, _flags: u32) -> Result<()> {
        Err(no_support("virDomainSnapshotDelete"))
    }

    // ---- statistics and jobs ----

    /// `virConnectGetAllDomainStats` (`doms` empty) or `virDomainListGetStats`: the
    /// statistics groups in `stats` (`VIR_DOMAIN_STATS_*`, 0 for every group the driver
    /// has) of the domains `flags` select, or of `doms`.
    async fn domain_stats(
        &self,
        doms: &[DomainRef],
        _stats: u32,
        _flags: u32,
    ) -> Result<Vec<DomainStats>> {
        Err(no_support(if doms.is_empty() {
            "virConnectGetAllDomainStats"
        } else {
            "virDomainListGetStats"
        }))
    }

    /// `virDomainGetJobInfo`.
    async fn job_info(&self, _dom: &DomainRef) -> Result<JobInfo> {
        Err(no_support("virDomainGetJobInfo"))
    }

    /// `virDomainGetJobStats`: the `virDomainJobType` and statistics of the current job,
    /// or with `VIR_DOMAIN_JOB_STATS_COMPLETED` (1) of the last completed one.
    async fn job_stats(&self, _dom: &DomainRef, _flags: u32) -> Result<(i32, Vec<TypedParam>)> {
        Err(no_support("virDomainGetJobStats"))
    }

    /// `virDomainMigrateSetMaxSpeed`: the bandwidth (MiB/s) the domain's migrations may
    /// use.
    async fn migrate_set_max_speed(&self, _dom: &DomainRef, _mib: u64, _flags: u32) -> Result<()> {
        Err(no_support("virDomainMigrateSetMaxSpeed"))
    }

    /// `virDomainMigrateGetMaxSpeed`: the bandwidth (MiB/s) the domain's migrations may
    /// use.
    async fn migrate_get_max_speed(&self, _dom: &DomainRef, _flags: u32) -> Result<u64> {
        Err(no_support("virDomainMigrateGetMaxSpeed"))
    }

    /// `virDomainMigrateSetMaxDowntime`: the longest pause (ms) a live migration of the
    /// domain may cause at switchover.
    async fn migrate_set_max_downtime(
        &self,
        _dom: &DomainRef,
        _ms: u64,
        _flags: u32,
    ) -> Result<()> {
        Err(no_support("virDomainMigrateSetMaxDowntime"))
    }

    /// `virDomainMigrateGetMaxDowntime`: the longest pause (ms) a live migration of the
    /// domain may cause at switchover.
    async fn migrate_get_max_downtime(&self, _dom: &DomainRef, _flags: u32) -> Result<u64> {
        Err(no_support("virDomainMigrateGetMaxDowntime"))
    }

    /// `virDomainMigrateStartPostCopy`: switches the domain's outgoing migration (started
    /// with `VIR_MIGRATE_POSTCOPY`) to post-copy.
    async fn migrate_start_post_copy(&self, _dom: &DomainRef, _flags: u32) -> Result<()> {
        Err(no_support("virDomainMigrateStartPostCopy"))
    }

    /// `virDomainAbortJob`.
    async fn abort_job(&self, _dom: &DomainRef) -> Result<()> {
        Err(no_support("virDomainAbortJob"))
    }

    /// `virDomainGetMessages`: messages about the domain (tainting, deprecations).
    async fn messages(&self, _dom: &DomainRef, _flags: u32) -> Result<Vec<String>> {
        Err(no_support("virDomainGetMessages"))
    }

    // ---- placement: vCPUs, emulator and I/O threads, NUMA ----

    /// `virDomainGetVcpus`: each running vCPU's state, CPU time and host CPU, with its
    /// affinity over `maplen` bytes of host CPUs (at most `max_info` vCPUs).
    async fn vcpu_info(
        &self,
        _dom: &DomainRef,
        _max_info: u32,
        _maplen: usize,
    ) -> Result<(Vec<VcpuInfo>, Vec<CpuMap>)> {
        Err(no_support("virDomainGetVcpus"))
    }

    /// `virDomainPinVcpuFlags` ([`flags::affect`]): vCPU `vcpu` may run on `cpumap`.
    async fn pin_vcpu(
        &self,
        _dom: &DomainRef,
        _vcpu: u32,
        _cpumap: &CpuMap,
        _flags: u32,
    ) -> Result<()> {
        Err(no_support("virDomainPinVcpuFlags"))
    }

    /// `virDomainGetVcpuPinInfo` ([`flags::affect`]): the affinity of the first
    /// `max_vcpus` vCPUs over `maplen` bytes of host CPUs.
    async fn vcpu_pin_info(
        &self,
        _dom: &DomainRef,
        _max_vcpus: u32,
        _maplen: usize,
        _flags: u32,
    ) -> Result<Vec<CpuMap>> {
        Err(no_support("virDomainGetVcpuPinInfo"))
    }

    /// `virDomainPinEmulator` ([`flags::affect`]).
    async fn pin_emulator(&self, _dom: &DomainRef, _cpumap: &CpuMap, _flags: u32) -> Result<()> {
        Err(no_support("virDomainPinEmulator"))
    }

    /// `virDomainGetEmulatorPinInfo` ([`flags::affect`]): the emulator threads' affinity
    /// over `maplen` bytes of host CPUs.
    async fn emulator_pin_info(
        &self,
        _dom: &DomainRef,
        _maplen: usize,
        _flags: u32,
    ) -> Result<CpuMap> {
        Err(no_support("virDomainGetEmulatorPinInfo"))
    }

    /// `virDomainGetIOThreadInfo` ([`flags::affect`]): each I/O thread and its affinity.
    async fn iothread_info(&self, _dom: &DomainRef, _flags: u32) -> Result<Vec<IothreadInfo>> {
        Err(no_support("virDomainGetIOThreadInfo"))
    }

    /// `virDomainPinIOThread` ([`flags::affect`]).
    async fn pin_iothread(
        &self,
        _dom: &DomainRef,
        _iothread: u32,
        _cpumap: &CpuMap,
        _flags: u32,
    ) -> Result<()> {
        Err(no_support("virDomainPinIOThread"))
    }

    /// `virDomainSetNumaParameters` ([`flags::affect`]): `numa_mode` (int) and
    /// `numa_nodeset` (string).
    async fn set_numa_parameters(
        &self,
        _dom: &DomainRef,
        _params: &[TypedParam],
        _flags: u32,
    ) -> Result<()> {
        Err(no_support("virDomainSetNumaParameters"))
    }

    /// `virDomainGetNumaParameters` ([`flags::affect`]): `numa_mode` and `numa_nodeset`.
    async fn numa_parameters(&self, _dom: &DomainRef, _flags: u32) -> Result<Vec<TypedParam>> {
        Err(no_support("virDomainGetNumaParameters"))
    }

    /// `virDomainInterfaceAddresses`: the addresses of a running domain's interfaces from
    /// `source` ([`ifaddr::SRC_LEASE`], [`ifaddr::SRC_AGENT`] or [`ifaddr::SRC_ARP`]).
    async fn interface_addresses(
        &self,
        _dom: &DomainRef,
        _source: u32,
        _flags: u32,
    ) -> Result<Vec<ifaddr::DomainInterface>> {
        Err(no_support("virDomainInterfaceAddresses"))
    }

    // ---- migration (protocol version 3 with typed parameters) ----

    /// `virDomainMigrateBegin3Params` (source): checks the migration may start and
    /// returns the domain XML for the destination and the cookie for it.
    async fn migrate_begin3_params(
        &self,
        _dom: &DomainRef,
        _params: &[TypedParam],
        _flags: u32,
    ) -> Result<(String, Vec<u8>)> {
        Err(no_support("virDomainMigrateBegin3Params"))
    }

    /// `virDomainMigratePrepare3Params` (destination): readies the domain to receive the
    /// migration; returns the cookie for the source and the URI it is to migrate to
    /// (`uri_out`), when the caller gave none.
    async fn migrate_prepare3_params(
        &self,
        _params: &[TypedParam],
        _cookie_in: &[u8],
        _flags: u32,
    ) -> Result<(Vec<u8>, Option<String>)> {
        Err(no_support("virDomainMigratePrepare3Params"))
    }

    /// `virDomainMigratePrepareTunnel3Params` (destination of a tunnelled migration):
    /// readies the domain to receive the migration through the RPC connection; returns
    /// the cookie for the source and the tunnel the migration stream is to be sent into.
    async fn migrate_prepare_tunnel3_params(
        &self,
        _params: &[TypedParam],
        _cookie_in: &[u8],
        _flags: u32,
    ) -> Result<(Vec<u8>, tunnel::MigrationTunnel)> {
        Err(no_support("virDomainMigratePrepareTunnel3Params"))
    }

    /// The perform phase of a tunnelled migration (source): moves the domain, its
    /// migration stream sent into `tunnel` (finished once complete, dropped on failure);
    /// returns the cookie for the destination's finish phase.
    async fn migrate_perform3_tunnel(
        &self,
        _dom: &DomainRef,
        _params: &[TypedParam],
        _cookie_in: &[u8],
        _flags: u32,
        _tunnel: tunnel::MigrationTunnel,
    ) -> Result<Vec<u8>> {
        Err(no_support("virDomainMigratePerform3Params"))
    }

    /// `virDomainMigratePerform3Params` (source): moves the domain; returns the cookie
    /// for the destination's finish phase.
    async fn migrate_perform3_params(
        &self,
        _dom: &DomainRef,
        _dconnuri: Option<&str>,
        _params: &[TypedParam],
        _cookie_in: &[u8],
        _flags: u32,
    ) -> Result<Vec<u8>> {
        Err(no_support("virDomainMigratePerform3Params"))
    }

    /// `virDomainMigrateFinish3Params` (destination): completes (or, with `cancelled`,
    /// drops) the incoming domain; returns it and the cookie for the confirm phase.
    async fn migrate_finish3_params(
        &self,
        _params: &[TypedParam],
        _cookie_in: &[u8],
        _flags: u32,
        _cancelled: bool,
    ) -> Result<(DomainRef, Vec<u8>)> {
        Err(no_support("virDomainMigrateFinish3Params"))
    }

    /// `virDomainMigrateConfirm3Params` (source): after a migration that succeeded, the
    /// source domain goes away; after one that failed (`cancelled`), it runs again.
    async fn migrate_confirm3_params(
        &self,
        _dom: &DomainRef,
        _params: &[TypedParam],
        _cookie_in: &[u8],
        _flags: u32,
        _cancelled: bool,
    ) -> Result<()> {
        Err(no_support("virDomainMigrateConfirm3Params"))
    }
}
