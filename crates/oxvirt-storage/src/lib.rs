//! libvirt's storage pools and volumes for oxvirt.
//!
//! - [`api`]: the [`api::StorageDriver`] interface the daemon, the facade and `oxvirsh`
//!   use, with libvirt's flags, states and events.
//! - [`backend`]: the [`backend::Backend`] interface each pool type implements.
//! - [`model`]: the pool (`<pool>`) and volume (`<volume>`) XML: parse, validate, format in
//!   libvirt's layout.
//! - [`dir`]: the `dir` backend's file operations, confined to the pool's directory.
//! - [`iscsi`]: a userspace iSCSI initiator (login, SendTargets discovery, SCSI commands)
//!   for the `iscsi-direct` backend.
//! - [`driver`]: the storage driver of `qemu:///system` ([`driver::PoolDriver`]).
//! - [`lvm`]: the `logical` backend's LVM tool invocations and their JSON reports.

pub mod api;
pub mod backend;
pub mod dir;
pub mod driver;
pub mod iscsi;
pub mod lvm;
pub mod model;
