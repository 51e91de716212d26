//! Finding domains and reading what they are: lookups, listing, info, state, XML.

use std::time::{SystemTime, UNIX_EPOCH};

use oxvirt_domain::driver::flags::{list, xml};
use oxvirt_domain::driver::{
    DomainInfo, DomainRef, Result, SecurityLabel, SecurityModel, StateReason,
};
use oxvirt_domain::Domain;
use oxvirt_xml::types::Uuid;

use crate::driver::{check_flags, not_found, TestDriver};
use crate::format::format_domain;

/// The vCPUs online (`virDomainDefGetVcpus`).
pub(crate) fn vcpus_current(def: &Domain) -> u32 {
    def.vcpus_current()
}

/// The most vCPUs the definition allows (`virDomainDefGetVcpusMax`).
pub(crate) fn vcpus_max(def: &Domain) -> u32 {
    def.vcpus_max()
}

/// The total memory in KiB (`virDomainDefGetMemoryTotal`).
pub(crate) fn memory_total(def: &Domain) -> u64 {
    def.memory_total()
}

/// The memory the guest has now, in KiB (`mem.cur_balloon`).
pub(crate) fn memory_current(def: &Domain) -> u64 {
    def.memory_current()
}

/// CPU time as the test driver makes it up: the wall clock in microseconds, times 1000.
pub(crate) fn fake_cpu_time() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64 * 1000)
}

/// Every `virConnectListAllDomains` filter.
const LIST_FILTERS: u32 = list::ALL;

impl TestDriver {
    /// `virDomainLookupByName`.
    pub fn lookup_by_name_sync(&self, name: &str) -> Result<DomainRef> {
        let node = self.lock();
        node.domains
            .find_by_name(name)
            .map(|o| o.to_ref())
            .ok_or_else(not_found)
    }

    /// `virDomainLookupByUUID`.
    pub fn lookup_by_uuid_sync(&self, uuid: &Uuid) -> Result<DomainRef> {
        let node = self.lock();
        node.domains
            .find_by_uuid(uuid)
            .map(|o| o.to_ref())
            .ok_or_else(not_found)
    }

    /// `virDomainLookupByID`.
    pub fn lookup_by_id_sync(&self, id: i32) -> Result<DomainRef> {
        let node = self.lock();
        node.domains
            .find_by_id(id)
            .map(|o| o.to_ref())
            .ok_or_else(not_found)
    }

    /// `virConnectListAllDomains`, in the order the domains were added.
    pub fn list_all_sync(&self, flags: u32) -> Result<Vec<DomainRef>> {
        check_flags(flags, LIST_FILTERS, "testConnectListAllDomains")?;
        let node = self.lock();
        Ok(node
            .domains
            .export(flags)
            .iter()
            .map(|o| o.to_ref())
            .collect())
    }

    /// `virConnectListDomains`: the IDs of the running domains.
    pub fn list_ids(&self) -> Vec<i32> {
        self.lock().domains.active_ids()
    }

    /// `virConnectListDefinedDomains`: the names of the inactive domains.
    pub fn list_defined(&self) -> Vec<String> {
        self.lock().domains.inactive_names()
    }

    /// `virDomainGetInfo` (`testDomainGetInfo`).
    pub fn info_sync(&self, dom: &DomainRef) -> Result<DomainInfo> {
        let node = self.lock();
        let obj = node.obj(dom)?;
        Ok(DomainInfo {
            state: obj.state(),
            max_mem_kib: memory_total(obj.def()),
            memory_kib: memory_current(obj.def()),
            nr_virt_cpu: vcpus_current(obj.def()),
            cpu_time_ns: fake_cpu_time(),
        })
    }

    /// `virDomainGetState` (`testDomainGetState`).
    pub fn state_sync(&self, dom: &DomainRef, flags: u32) -> Result<StateReason> {
        check_flags(flags, 0, "testDomainGetState")?;
        Ok(self.lock().obj(dom)?.state)
    }

    /// `virDomainGetXMLDesc` (`testDomainGetXMLDesc`): the persistent definition with
    /// `VIR_DOMAIN_XML_INACTIVE`, else the one in use.
    pub fn xml_desc_sync(&self, dom: &DomainRef, flags: u32) -> Result<String> {
        check_flags(
            flags,
            xml::SECURE | xml::INACTIVE | xml::MIGRATABLE,
            "testDomainGetXMLDesc",
        )?;
        let node = self.lock();
        let obj = node.obj(dom)?;
        let def = match (obj.new_def(), flags & xml::INACTIVE != 0) {
            (Some(new_def), true) => new_def,
            _ => obj.def(),
        };
        Ok(format_domain(def, obj.id, flags))
    }

    /// `virDomainIsActive`.
    pub fn is_active_sync(&self, dom: &DomainRef) -> Result<bool> {
        Ok(self.lock().obj(dom)?.is_active())
    }

    /// `virDomainIsPersistent`.
    pub fn is_persistent_sync(&self, dom: &DomainRef) -> Result<bool> {
        Ok(self.lock().obj(dom)?.persistent)
    }

    /// `virDomainGetAutostart`.
    pub fn autostart_sync(&self, dom: &DomainRef) -> Result<bool> {
        Ok(self.lock().obj(dom)?.autostart)
    }

    /// `virDomainSetAutostart`: nothing else changes, and no event is sent.
    pub fn set_autostart_sync(&self, dom: &DomainRef, autostart: bool) -> Result<()> {
        self.lock().obj_mut(dom)?.autostart = autostart;
        Ok(())
    }

    /// `virDomainGetMaxMemory`, in KiB.
    pub fn max_memory_sync(&self, dom: &DomainRef) -> Result<u64> {
        Ok(memory_total(self.lock().obj(dom)?.def()))
    }

    /// `virDomainGetSecurityLabel`: `libvirt-test`, enforcing, while the domain runs.
    pub fn security_label_sync(&self, dom: &DomainRef) -> Result<SecurityLabel> {
        let node = self.lock();
        if node.obj(dom)?.is_active() {
            Ok(SecurityLabel {
                label: "libvirt-test".into(),
                enforcing: true,
            })
        } else {
            Ok(SecurityLabel::default())
        }
    }

    /// `virNodeGetSecurityModel`.
    pub fn security_model_sync(&self) -> SecurityModel {
        SecurityModel {
            model: "testSecurity".into(),
            doi: String::new(),
        }
    }
}
