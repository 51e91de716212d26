//! [`DomainSnapshot`]: a handle on one snapshot of a domain.

use oxvirt_domain::driver::flags;
use oxvirt_domain::driver::SnapshotRef;
use oxvirt_xml::ErrorDomain;

use crate::domain_handle::Domain;
use crate::Result;

/// A snapshot of a domain, as libvirt's `virDomainSnapshotPtr`: the domain's handle and the
/// snapshot's name.
#[derive(Debug, Clone)]
pub struct DomainSnapshot {
    domain: Domain,
    name: String,
}

impl DomainSnapshot {
    pub(crate) fn new(domain: Domain, name: String) -> Self {
        DomainSnapshot { domain, name }
    }

    /// `virDomainSnapshotGetName`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `virDomainSnapshotGetDomain`: the domain's handle (sharing its ID with the handle the
    /// snapshot came from).
    pub fn domain(&self) -> &Domain {
        &self.domain
    }

    /// The reference driver calls take.
    pub fn to_ref(&self) -> SnapshotRef {
        SnapshotRef {
            domain: self.domain.to_ref(),
            name: self.name.clone(),
        }
    }

    fn sibling(&self, snap: SnapshotRef) -> DomainSnapshot {
        DomainSnapshot::new(self.domain.clone(), snap.name)
    }

    /// `virDomainSnapshotGetXMLDesc` ([`flags::snapshot_xml`]); `VIR_DOMAIN_SNAPSHOT_XML_SECURE`
    /// is refused on a read-only connection.
    pub async fn xml_desc(&self, flags: u32) -> Result<String> {
        self.domain.connect().check_secure(
            ErrorDomain::DomainSnapshot,
            "virDomainSnapshotGetXMLDesc",
            flags & flags::snapshot_xml::SECURE != 0,
        )?;
        let driver = self.domain.connect().driver();
        driver.snapshot_xml(&self.to_ref(), flags).await
    }

    /// `virDomainSnapshotGetParent`.
    pub async fn parent(&self, flags: u32) -> Result<DomainSnapshot> {
        let driver = self.domain.connect().driver();
        let parent = driver.snapshot_parent(&self.to_ref(), flags).await?;
        Ok(self.sibling(parent))
    }

    /// `virDomainSnapshotIsCurrent`.
    pub async fn is_current(&self, flags: u32) -> Result<bool> {
        let driver = self.domain.connect().driver();
        driver.snapshot_is_current(&self.to_ref(), flags).await
    }

    /// `virDomainSnapshotHasMetadata`.
    pub async fn has_metadata(&self, flags: u32) -> Result<bool> {
        let driver = self.domain.connect().driver();
        driver.snapshot_has_metadata(&self.to_ref(), flags).await
    }

    /// `virDomainSnapshotListAllChildren` ([`flags::snapshot_list`]).
    pub async fn list_all_children(&self, flags: u32) -> Result<Vec<DomainSnapshot>> {
        let driver = self.domain.connect().driver();
        let children = driver.snapshot_list_children(&self.to_ref(), flags).await?;
        Ok(children.into_iter().map(|s| self.sibling(s)).collect())
    }

    /// `virDomainRevertToSnapshot` ([`flags::snapshot_revert`]); the domain handle then
    /// takes the ID the domain has after the revert (libvirt leaves the handle's ID as it
    /// was, which goes stale when the revert starts or stops the domain).
    pub async fn revert(&self, flags: u32) -> Result<()> {
        let conn = self.domain.connect();
        conn.check_writable(ErrorDomain::DomainSnapshot, "virDomainRevertToSnapshot")?;
        conn.driver().snapshot_revert(&self.to_ref(), flags).await?;
        self.domain.reload_id().await;
        Ok(())
    }

    /// `virDomainSnapshotDelete` ([`flags::snapshot_delete`]).
    pub async fn delete(&self, flags: u32) -> Result<()> {
        let conn = self.domain.connect();
        conn.check_writable(ErrorDomain::DomainSnapshot, "virDomainSnapshotDelete")?;
        conn.driver().snapshot_delete(&self.to_ref(), flags).await
    }
}
