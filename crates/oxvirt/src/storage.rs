//! [`StoragePool`] and [`StorageVol`]: the shape of storage handles.
//!
//! Pools and volumes come with their driver (`oxvirt-storage` locally, `oxvirt-rpc`
//! remotely). Until then a handle carries only what needs no driver, and
//! [`Connect::list_all_storage_pools`] and [`Connect::lookup_storage_pool_by_name`] fail
//! with `VIR_ERR_NO_SUPPORT`, as libvirt fails a call a connection's driver lacks.

use oxvirt_xml::types::Uuid;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use crate::connect::Connect;
use crate::Result;

/// A storage pool of a connection, as libvirt's `virStoragePoolPtr`.
#[derive(Debug, Clone)]
pub struct StoragePool {
    conn: Connect,
    name: String,
    uuid: Uuid,
}

impl StoragePool {
    /// A handle for the pool `name` with `uuid` on `conn` (for storage drivers).
    pub fn new(conn: Connect, name: impl Into<String>, uuid: Uuid) -> Self {
        StoragePool {
            conn,
            name: name.into(),
            uuid,
        }
    }

    /// The connection the handle belongs to.
    pub fn connect(&self) -> &Connect {
        &self.conn
    }

    /// `virStoragePoolGetName`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `virStoragePoolGetUUID`.
    pub fn uuid(&self) -> Uuid {
        self.uuid
    }

    /// `virStoragePoolGetUUIDString`.
    pub fn uuid_string(&self) -> String {
        self.uuid.to_string()
    }
}

/// A storage volume, as libvirt's `virStorageVolPtr`: its pool's name, its own name and its
/// key (usually its path).
#[derive(Debug, Clone)]
pub struct StorageVol {
    conn: Connect,
    pool: String,
    name: String,
    key: String,
}

impl StorageVol {
    /// A handle for the volume `name` with `key` in the pool `pool` (for storage drivers).
    pub fn new(
        conn: Connect,
        pool: impl Into<String>,
        name: impl Into<String>,
        key: impl Into<String>,
    ) -> Self {
        StorageVol {
            conn,
            pool: pool.into(),
            name: name.into(),
            key: key.into(),
        }
    }

    /// The connection the handle belongs to.
    pub fn connect(&self) -> &Connect {
        &self.conn
    }

    /// The name of the pool holding the volume.
    pub fn pool_name(&self) -> &str {
        &self.pool
    }

    /// `virStorageVolGetName`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `virStorageVolGetKey`.
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl Connect {
    /// `virConnectListAllStoragePools`: not supported until a storage driver lands.
    pub async fn list_all_storage_pools(&self, _flags: u32) -> Result<Vec<StoragePool>> {
        Err(unsupported("virConnectListAllStoragePools"))
    }

    /// `virStoragePoolLookupByName`: not supported until a storage driver lands.
    pub async fn lookup_storage_pool_by_name(&self, _name: &str) -> Result<StoragePool> {
        Err(unsupported("virStoragePoolLookupByName"))
    }
}

fn unsupported(function: &str) -> VirError {
    VirError::new(ErrorDomain::Storage, ErrorCode::NoSupport, function)
}

#[cfg(test)]
mod tests {
    use crate::testing::fake_connect;

    #[tokio::test]
    async fn storage_calls_are_not_supported_yet() {
        let conn = fake_connect(false);
        let err = conn.list_all_storage_pools(0).await.unwrap_err();
        assert_eq!(
            err.message,
            "this function is not supported by the connection driver: \
             virConnectListAllStoragePools"
        );
        assert_eq!(err.domain, oxvirt_xml::ErrorDomain::Storage);
        let err = conn
            .lookup_storage_pool_by_name("default")
            .await
            .unwrap_err();
        assert!(err.message.ends_with("virStoragePoolLookupByName"));
    }
}
