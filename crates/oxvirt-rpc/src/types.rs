//! Object identities shared by many procedures.

use crate::Xdr;

/// libvirt's `VIR_UUID_BUFLEN`: a UUID is 16 raw bytes (`opaque[16]`).
pub type Uuid = [u8; 16];

/// `remote_nonnull_domain`: how a domain travels. `id` is -1 when it is inactive.
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct NonnullDomain {
    /// The domain's name.
    pub name: String,
    /// The domain's UUID.
    pub uuid: Uuid,
    /// The running domain's id, else -1.
    pub id: i32,
}

/// `remote_nonnull_network`.
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct NonnullNetwork {
    /// The network's name.
    pub name: String,
    /// The network's UUID.
    pub uuid: Uuid,
}

/// `remote_nonnull_storage_pool`.
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct NonnullStoragePool {
    /// The pool's name.
    pub name: String,
    /// The pool's UUID.
    pub uuid: Uuid,
}

/// `remote_nonnull_storage_vol`: servers find a volume by pool name plus volume name.
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct NonnullStorageVol {
    /// The name of the pool holding the volume.
    pub pool: String,
    /// The volume's name.
    pub name: String,
    /// The volume's key (usually its path).
    pub key: String,
}

/// `remote_nonnull_domain_snapshot`.
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct NonnullDomainSnapshot {
    /// The snapshot's name.
    pub name: String,
    /// The domain it belongs to.
    pub dom: NonnullDomain,
}
