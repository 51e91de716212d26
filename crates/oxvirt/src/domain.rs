//! [`Domain`]: a handle on one domain of a connection.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;

use oxvirt_domain::driver::flags;
use oxvirt_domain::driver::{
    DomainInfo, DomainRef, Hypervisor, Screenshot, SecurityLabel, StateReason,
};
use oxvirt_xml::types::Uuid;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use crate::connect::{pick, Connect};
use crate::snapshot::DomainSnapshot;
use crate::Result;

/// A domain of a connection, as libvirt's `virDomainPtr`: its name, UUID and the ID it had
/// when last seen.
///
/// Cheap to clone; clones share the ID, which the calls that start or stop the domain
/// through this handle keep up to date (as libvirt does for its `virDomainPtr`): `create`
/// sets the new ID; `destroy`, `save` and `managed_save` clear it; `shutdown` clears it
/// once the driver reports the domain stopped. Changes made elsewhere are not seen until
/// the domain is looked up again.
#[derive(Clone)]
pub struct Domain {
    conn: Connect,
    inner: Arc<Inner>,
}

struct Inner {
    name: String,
    uuid: Uuid,
    id: AtomicI32,
}

impl std::fmt::Debug for Domain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Domain")
            .field("name", &self.inner.name)
            .field("uuid", &self.inner.uuid.to_string())
            .field("id", &self.id())
            .finish_non_exhaustive()
    }
}

impl Domain {
    /// A handle for `dom` on `conn`.
    pub(crate) fn new(conn: Connect, dom: DomainRef) -> Domain {
        Domain {
            conn,
            inner: Arc::new(Inner {
                name: dom.name,
                uuid: dom.uuid,
                id: AtomicI32::new(dom.id),
            }),
        }
    }

    /// The connection the handle belongs to.
    pub fn connect(&self) -> &Connect {
        &self.conn
    }

    /// The reference driver calls take: name, UUID and the current ID (`-1` if inactive).
    pub fn to_ref(&self) -> DomainRef {
        DomainRef {
            name: self.inner.name.clone(),
            uuid: self.inner.uuid,
            id: self.inner.id.load(Ordering::Acquire),
        }
    }

    /// `virDomainGetName`.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// `virDomainGetUUID`.
    pub fn uuid(&self) -> Uuid {
        self.inner.uuid
    }

    /// `virDomainGetUUIDString`: lower-case `8-4-4-4-12`.
    pub fn uuid_string(&self) -> String {
        self.inner.uuid.to_string()
    }

    /// `virDomainGetID`: the ID while the domain runs, `None` while it is inactive (libvirt
    /// returns `-1` as an unsigned int there).
    pub fn id(&self) -> Option<u32> {
        u32::try_from(self.inner.id.load(Ordering::Acquire)).ok()
    }

    fn set_id(&self, id: i32) {
        self.inner.id.store(id, Ordering::Release);
    }

    pub(crate) fn driver(&self) -> &Arc<dyn Hypervisor> {
        self.conn.driver()
    }

    pub(crate) fn writable(&self, function: &str) -> Result<()> {
        self.conn.check_writable(ErrorDomain::Domain, function)
    }

    // ---- lifecycle ----

    /// `virDomainCreateWithFlags`: starts the defined domain ([`flags::create`]) and
    /// records its new ID in the handle.
    pub async fn create(&self, flags: u32) -> Result<()> {
        self.writable(pick(flags, "virDomainCreate", "virDomainCreateWithFlags"))?;
        let started = self.driver().create(&self.to_ref(), flags).await?;
        self.set_id(started.id);
        Ok(())
    }

    /// `virDomainDestroyFlags` ([`flags::destroy`]); the handle's ID is cleared.
    pub async fn destroy(&self, flags: u32) -> Result<()> {
        self.writable(pick(flags, "virDomainDestroy", "virDomainDestroyFlags"))?;
        self.driver().destroy(&self.to_ref(), flags).await?;
        self.set_id(-1);
        Ok(())
    }

    /// `virDomainShutdownFlags` ([`flags::shutdown`]): asks the guest to shut down; the
    /// handle's ID is cleared if the domain has already stopped (or is gone).
    pub async fn shutdown(&self, flags: u32) -> Result<()> {
        self.writable(pick(flags, "virDomainShutdown", "virDomainShutdownFlags"))?;
        self.driver().shutdown(&self.to_ref(), flags).await?;
        self.refresh_id().await;
        Ok(())
    }

    /// `virDomainReboot` ([`flags::reboot`]).
    pub async fn reboot(&self, flags: u32) -> Result<()> {
        self.writable("virDomainReboot")?;
        self.driver().reboot(&self.to_ref(), flags).await
    }

    /// `virDomainReset`.
    pub async fn reset(&self, flags: u32) -> Result<()> {
        self.writable("virDomainReset")?;
        self.driver().reset(&self.to_ref(), flags).await
    }

    /// `virDomainSuspend`.
    pub async fn suspend(&self) -> Result<()> {
        self.writable("virDomainSuspend")?;
        self.driver().suspend(&self.to_ref()).await
    }

    /// `virDomainResume`.
    pub async fn resume(&self) -> Result<()> {
        self.writable("virDomainResume")?;
        self.driver().resume(&self.to_ref()).await
    }

    /// `virDomainSaveFlags`: saves the running domain to `path` (optionally recording the
    /// alternate XML `dxml`, [`flags::save`]) and stops it; the handle's ID is cleared.
    pub async fn save(&self, path: &str, dxml: Option<&str>, flags: u32) -> Result<()> {
        let function = if flags == 0 && dxml.is_none() {
            "virDomainSave"
        } else {
            "virDomainSaveFlags"
        };
        self.writable(function)?;
        self.driver()
            .save(&self.to_ref(), path, dxml, flags)
            .await?;
        self.set_id(-1);
        Ok(())
    }

    /// `virDomainManagedSave`; the handle's ID is cleared.
    pub async fn managed_save(&self, flags: u32) -> Result<()> {
        self.writable("virDomainManagedSave")?;
        self.driver().managed_save(&self.to_ref(), flags).await?;
        self.set_id(-1);
        Ok(())
    }

    /// `virDomainHasManagedSaveImage`.
    pub async fn has_managed_save(&self, flags: u32) -> Result<bool> {
        self.driver().has_managed_save(&self.to_ref(), flags).await
    }

    /// `virDomainManagedSaveRemove`.
    pub async fn managed_save_remove(&self, flags: u32) -> Result<()> {
        self.writable("virDomainManagedSaveRemove")?;
        self.driver()
            .managed_save_remove(&self.to_ref(), flags)
            .await
    }

    /// `virDomainUndefineFlags` ([`flags::undefine`]).
    pub async fn undefine(&self, flags: u32) -> Result<()> {
        self.writable(pick(flags, "virDomainUndefine", "virDomainUndefineFlags"))?;
        self.driver().undefine(&self.to_ref(), flags).await
    }

    /// Clears the ID if the driver no longer reports the domain active.
    pub(crate) async fn refresh_id(&self) {
        match self.driver().is_active(&self.to_ref()).await {
            Ok(true) => {}
            Ok(false) | Err(_) => self.set_id(-1),
        }
    }

    /// Takes the ID the driver now reports for the domain (after a snapshot revert, which
    /// may start or stop it); left alone if the domain cannot be found.
    pub(crate) async fn reload_id(&self) {
        if let Ok(dom) = self.driver().lookup_by_uuid(&self.inner.uuid).await {
            self.set_id(dom.id);
        }
    }

    // ---- reading ----

    /// `virDomainGetInfo`.
    pub async fn info(&self) -> Result<DomainInfo> {
        self.driver().info(&self.to_ref()).await
    }

    /// `virDomainGetState`: the state and the reason for it.
    pub async fn state(&self) -> Result<StateReason> {
        self.driver().state(&self.to_ref(), 0).await
    }

    /// `virDomainGetXMLDesc` ([`flags::xml`]); `VIR_DOMAIN_XML_SECURE` is refused on a
    /// read-only connection.
    pub async fn xml_desc(&self, flags: u32) -> Result<String> {
        self.conn.check_secure(
            ErrorDomain::Domain,
            "virDomainGetXMLDesc",
            flags & flags::xml::SECURE != 0,
        )?;
        self.driver().xml_desc(&self.to_ref(), flags).await
    }

    /// `virDomainGetOSType` (`hvm`, `linux`, `exe`).
    pub async fn os_type(&self) -> Result<String> {
        self.driver().os_type(&self.to_ref()).await
    }

    /// `virDomainIsActive`.
    pub async fn is_active(&self) -> Result<bool> {
        self.driver().is_active(&self.to_ref()).await
    }

    /// `virDomainIsPersistent`.
    pub async fn is_persistent(&self) -> Result<bool> {
        self.driver().is_persistent(&self.to_ref()).await
    }

    /// `virDomainIsUpdated`.
    pub async fn is_updated(&self) -> Result<bool> {
        self.driver().is_updated(&self.to_ref()).await
    }

    /// `virDomainGetAutostart`.
    pub async fn autostart(&self) -> Result<bool> {
        self.driver().autostart(&self.to_ref()).await
    }

    /// `virDomainSetAutostart`.
    pub async fn set_autostart(&self, autostart: bool) -> Result<()> {
        self.writable("virDomainSetAutostart")?;
        self.driver().set_autostart(&self.to_ref(), autostart).await
    }

    /// `virDomainGetSecurityLabel`.
    pub async fn security_label(&self) -> Result<SecurityLabel> {
        self.driver().security_label(&self.to_ref()).await
    }

    /// `virDomainScreenshot`: the image of console `screen` and its MIME type (through a
    /// remote connection the image arrives as an RPC stream). Refused on a read-only
    /// connection, as libvirt refuses it.
    pub async fn screenshot(&self, screen: u32, flags: u32) -> Result<Screenshot> {
        self.writable("virDomainScreenshot")?;
        self.driver()
            .screenshot(&self.to_ref(), screen, flags)
            .await
    }

    /// `virDomainGetMaxMemory`, in KiB.
    pub async fn max_memory(&self) -> Result<u64> {
        self.driver().max_memory(&self.to_ref()).await
    }

    // ---- changing resources ----

    /// `virDomainSetMemory`: the live domain's memory, in KiB (libvirt's flag-less call
    /// means "the running domain", not "current").
    pub async fn set_memory(&self, kib: u64) -> Result<()> {
        self.writable("virDomainSetMemory")?;
        nonzero(kib, "memory", "virDomainSetMemory")?;
        self.driver()
            .set_memory(&self.to_ref(), kib, flags::memory::LIVE)
            .await
    }

    /// `virDomainSetMaxMemory`: the maximum memory, in KiB.
    pub async fn set_max_memory(&self, kib: u64) -> Result<()> {
        self.writable("virDomainSetMaxMemory")?;
        nonzero(kib, "memory", "virDomainSetMaxMemory")?;
        self.driver()
            .set_memory(&self.to_ref(), kib, flags::memory::MAXIMUM)
            .await
    }

    /// `virDomainSetMemoryFlags`, in KiB ([`flags::memory`], [`flags::affect`]).
    pub async fn set_memory_flags(&self, kib: u64, flags: u32) -> Result<()> {
        self.writable("virDomainSetMemoryFlags")?;
        nonzero(kib, "memory", "virDomainSetMemoryFlags")?;
        self.driver().set_memory(&self.to_ref(), kib, flags).await
    }

    /// `virDomainSetVcpus`: the live domain's vCPU count.
    pub async fn set_vcpus(&self, count: u32) -> Result<()> {
        self.writable("virDomainSetVcpus")?;
        nonzero(count.into(), "nvcpus", "virDomainSetVcpus")?;
        self.driver()
            .set_vcpus(&self.to_ref(), count, flags::vcpu::LIVE)
            .await
    }

    /// `virDomainSetVcpusFlags` ([`flags::vcpu`], [`flags::affect`]).
    pub async fn set_vcpus_flags(&self, count: u32, flags: u32) -> Result<()> {
        self.writable("virDomainSetVcpusFlags")?;
        nonzero(count.into(), "nvcpus", "virDomainSetVcpusFlags")?;
        self.driver().set_vcpus(&self.to_ref(), count, flags).await
    }

    /// `virDomainGetVcpusFlags` ([`flags::vcpu`]); asking the guest agent
    /// (`VIR_DOMAIN_VCPU_GUEST`) is refused on a read-only connection.
    pub async fn vcpus(&self, flags: u32) -> Result<u32> {
        if flags & flags::vcpu::GUEST != 0 {
            self.writable("virDomainGetVcpusFlags")?;
        }
        self.driver().vcpus(&self.to_ref(), flags).await
    }

    /// `virDomainAttachDevice`: adds a device to the running domain.
    pub async fn attach_device(&self, xml: &str) -> Result<()> {
        self.writable("virDomainAttachDevice")?;
        self.driver()
            .attach_device(&self.to_ref(), xml, flags::device::LIVE)
            .await
    }

    /// `virDomainAttachDeviceFlags` ([`flags::device`], [`flags::affect`]).
    pub async fn attach_device_flags(&self, xml: &str, flags: u32) -> Result<()> {
        self.writable("virDomainAttachDeviceFlags")?;
        self.driver()
            .attach_device(&self.to_ref(), xml, flags)
            .await
    }

    /// `virDomainDetachDevice`: removes a device from the running domain.
    pub async fn detach_device(&self, xml: &str) -> Result<()> {
        self.writable("virDomainDetachDevice")?;
        self.driver()
            .detach_device(&self.to_ref(), xml, flags::device::LIVE)
            .await
    }

    /// `virDomainDetachDeviceFlags` ([`flags::device`], [`flags::affect`]).
    pub async fn detach_device_flags(&self, xml: &str, flags: u32) -> Result<()> {
        self.writable("virDomainDetachDeviceFlags")?;
        self.driver()
            .detach_device(&self.to_ref(), xml, flags)
            .await
    }

    /// `virDomainUpdateDeviceFlags` ([`flags::device`], [`flags::affect`]).
    pub async fn update_device(&self, xml: &str, flags: u32) -> Result<()> {
        self.writable("virDomainUpdateDeviceFlags")?;
        self.driver()
            .update_device(&self.to_ref(), xml, flags)
            .await
    }

    /// `virDomainGetMetadata`: the title, description, or the `<metadata>` element of
    /// namespace `uri` ([`flags::metadata`] kinds, [`flags::affect`]).
    pub async fn metadata(&self, kind: i32, uri: Option<&str>, flags: u32) -> Result<String> {
        self.driver()
            .metadata(&self.to_ref(), kind, uri, flags)
            .await
    }

    /// `virDomainSetMetadata`: sets (or with `None`, removes) the title, description or the
    /// `<metadata>` element of namespace `uri` under the prefix `key`.
    pub async fn set_metadata(
        &self,
        kind: i32,
        metadata: Option<&str>,
        key: Option<&str>,
        uri: Option<&str>,
        flags: u32,
    ) -> Result<()> {
        self.writable("virDomainSetMetadata")?;
        self.driver()
            .set_metadata(&self.to_ref(), kind, metadata, key, uri, flags)
            .await
    }

    // ---- snapshots ----

    /// `virDomainSnapshotCreateXML` ([`flags::snapshot_create`]).
    pub async fn snapshot_create_xml(&self, xml: &str, flags: u32) -> Result<DomainSnapshot> {
        self.conn
            .check_writable(ErrorDomain::DomainSnapshot, "virDomainSnapshotCreateXML")?;
        let snap = self
            .driver()
            .snapshot_create(&self.to_ref(), xml, flags)
            .await?;
        if flags & flags::snapshot_create::HALT != 0 {
            self.set_id(-1);
        }
        Ok(DomainSnapshot::new(self.clone(), snap.name))
    }

    /// `virDomainListAllSnapshots` ([`flags::snapshot_list`]).
    pub async fn list_all_snapshots(&self, flags: u32) -> Result<Vec<DomainSnapshot>> {
        let snaps = self.driver().snapshot_list(&self.to_ref(), flags).await?;
        Ok(snaps
            .into_iter()
            .map(|s| DomainSnapshot::new(self.clone(), s.name))
            .collect())
    }

    /// `virDomainSnapshotLookupByName`.
    pub async fn snapshot_lookup_by_name(&self, name: &str, flags: u32) -> Result<DomainSnapshot> {
        let snap = self
            .driver()
            .snapshot_lookup(&self.to_ref(), name, flags)
            .await?;
        Ok(DomainSnapshot::new(self.clone(), snap.name))
    }

    /// `virDomainSnapshotCurrent`.
    pub async fn snapshot_current(&self, flags: u32) -> Result<DomainSnapshot> {
        let snap = self
            .driver()
            .snapshot_current(&self.to_ref(), flags)
            .await?;
        Ok(DomainSnapshot::new(self.clone(), snap.name))
    }

    /// `virDomainHasCurrentSnapshot`.
    pub async fn has_current_snapshot(&self, flags: u32) -> Result<bool> {
        self.driver()
            .has_current_snapshot(&self.to_ref(), flags)
            .await
    }
}

/// libvirt's public-API check that an argument is not zero (`virCheckNonZeroArgGoto`),
/// made before the driver is called, with libvirt's bare sentence.
fn nonzero(value: u64, arg: &str, function: &str) -> Result<()> {
    if value == 0 {
        return Err(VirError::raw(
            ErrorDomain::Domain,
            ErrorCode::InvalidArg,
            format!("{arg} in {function} must not be zero"),
        ));
    }
    Ok(())
}

#[cfg(test)]
#[path = "domain_tests.rs"]
mod tests;
