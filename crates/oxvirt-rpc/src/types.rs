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
