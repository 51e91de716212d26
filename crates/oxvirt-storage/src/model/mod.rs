//! The pool and volume XML models, as libvirt 9.0's `virStoragePoolDef` and
//! `virStorageVolDef` (`src/conf/storage_conf.c`).
//!
//! [`Pool::parse`] reads a `<pool>` document with libvirt's parse-time checks and
//! messages (including the per-type required source fields and the defaults libvirt fills
//! in), [`Pool::to_xml`] writes it in libvirt's layout, [`Pool::validate`] adds the
//! checks of libvirt's schema that the parser does not make. [`Volume::parse`] reads a
//! `<volume>` for a pool of a given type (format names depend on it) and
//! [`Volume::to_xml`] writes it.
//!
//! As libvirt, the models drop elements and attributes they do not know.

mod common;
mod pool;
mod volume;

#[cfg(test)]
mod tests;

use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

pub use common::Perms;
pub use pool::{
    source_element, sources_to_xml, Adapter, Auth, AuthSecret, Pool, PoolSource, PoolSourceDevice,
    PoolSourceHost, PoolType, FS_NAMESPACE, RBD_NAMESPACE,
};
pub use volume::{
    CapacityRule, FileTime, Timestamps, Volume, VolumeExtent, VolumeTarget, VolumeType,
    VOLUME_FEATURES,
};

/// A `VIR_FROM_STORAGE` error.
pub(crate) fn err(code: ErrorCode, msg: impl AsRef<str>) -> VirError {
    VirError::new(ErrorDomain::Storage, code, msg)
}

/// A `VIR_ERR_XML_ERROR` from the storage driver.
pub(crate) fn xml_err(msg: impl AsRef<str>) -> VirError {
    err(ErrorCode::XmlError, msg)
}
