//! oxvirt's client library: open a connection by URI, then manage its domains and
//! snapshots through typed handles, as libvirt's C API does.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use oxvirt::{Connect, DomainState};
//!
//! let conn = Connect::open("test:///default").await?;
//! let dom = conn.lookup_domain_by_name("test").await?;
//! let state = dom.state().await?;
//! println!("{} is {:?} ({:?})", dom.name(), state.state(), state);
//! assert_eq!(state.state(), DomainState::Running);
//! # Ok::<(), oxvirt::VirError>(())
//! # }).unwrap();
//! ```
//!
//! * [`Connect`] is one connection; [`Uri`] is libvirt's connection URI grammar.
//!   `test:///default` and `test:///path/node.xml` run libvirt's test driver in process;
//!   the QEMU driver and the remote client plug into one place (see [`Connect::open`]).
//! * [`Domain`] and [`DomainSnapshot`] are handles whose calls go to the connection's
//!   [`Hypervisor`] driver; [`EventStream`] delivers the connection's domain events.
//! * [`Network`] handles call the connection's network driver (a remote connection's
//!   own); [`NetworkEventStream`] delivers network lifecycle events.
//! * [`StoragePool`] and [`StorageVol`] handles call the connection's storage driver
//!   ([`Connect::storage_driver`]); [`PoolEventStream`] delivers storage pool events.
//! * Every failure is a [`VirError`] with libvirt's code, domain and message. A read-only
//!   connection refuses every changing call with `VIR_ERR_OPERATION_DENIED`, "operation
//!   forbidden: read only access prevents virDomainSuspend", before the driver sees it.
//!
//! The model crates are re-exported ([`domain`], [`xml`]), as are the flag values
//! ([`flags`]), states ([`state`]) and events ([`event`]), so users need only this crate.
//!
//! Choices worth knowing:
//!
//! * An empty URI means `$LIBVIRT_DEFAULT_URI`, else `qemu:///system` (root) or
//!   `qemu:///session` (see [`resolve_default`]); `libvirt.conf` and URI aliases are not read.
//! * [`Connect::lib_version`] is this crate's version (0.1.0 is 1000), not libvirt's;
//!   [`LIBVIRT_API_VERSION`] (9.0.0) is the libvirt API level we follow, the number a
//!   daemon reports to libvirt's clients for their feature checks.
//! * Which function a read-only refusal names follows the flags: `virDomainDestroy` with
//!   none, `virDomainDestroyFlags` with some, as virsh's choice of call would make it.
//! * libvirt's own argument checks (flags that exclude each other, unknown flags) belong to
//!   the driver, so that a daemon calling drivers directly makes them too.

mod connect;
#[path = "domain.rs"]
mod domain_handle;
mod events;
mod ifaddr;
mod migrate;
mod network;
mod placement;
mod registry;
mod remote_uri;
mod snapshot;
mod storage;
#[cfg(test)]
mod testing;
pub mod uri;

pub use oxvirt_domain as domain;
pub use oxvirt_xml as xml;

pub use connect::{resolve_default, Connect, DEFAULT_URI_ENV, LIBVIRT_API_VERSION};
pub use domain_handle::Domain;
pub use events::EventStream;
pub use migrate::migrate_flags;
pub use network::{network_flags, Network, NetworkEventStream};
pub use placement::{
    NODE_CPU_STATS_ALL_CPUS, NODE_MEMORY_STATS_ALL_CELLS, TYPED_PARAM_STRING_OKAY,
};
pub use snapshot::DomainSnapshot;
pub use storage::{storage_flags, PoolEventStream, StoragePool, StorageVol};
pub use storage::{
    Chunk, Download, PoolEvent, PoolEventKind, PoolEventWhat, PoolInfo, PoolRef, PoolState, Upload,
    VolInfo, VolRef, VolType,
};
pub use uri::Uri;

pub use oxvirt_domain::driver::{event, flags, state};
pub use oxvirt_domain::driver::{
    CpuMap, IothreadInfo, JobInfo, NodeCpuMap, TypedParam, TypedValue, VcpuInfo,
};
pub use oxvirt_domain::driver::{
    DomainEvent, DomainInfo, DomainRef, DomainState, EventId, EventKind, Hypervisor, Lifecycle,
    NodeInfo, SecurityLabel, SecurityModel, SnapshotRef, StateReason,
};
pub use oxvirt_xml::types::Uuid;
pub use oxvirt_xml::{ErrorCode, ErrorDomain, ErrorLevel, VirError};

/// The result of a library call.
pub type Result<T, E = VirError> = std::result::Result<T, E>;
