//! The [`Hypervisor`] trait over the test driver's calls.

use async_trait::async_trait;
use oxvirt_domain::driver::{
    CpuMap, DomainInfo, DomainRef, DomainStats, EventReceiver, Hypervisor, IothreadInfo,
    NodeCpuMap, NodeInfo, Result, Screenshot, SecurityLabel, SecurityModel, SnapshotRef,
    StateReason, TypedParam, VcpuInfo,
};
use oxvirt_xml::types::Uuid;

use crate::driver::{check_flags, TestDriver};
use crate::host;
use crate::persist::Scope;

/// The hypervisor version the test driver reports.
pub const TEST_VERSION: u64 = 2;

/// The most vCPUs a test guest may have.
pub const TEST_MAX_VCPUS: u32 = 32;

#[async_trait]
impl Hypervisor for TestDriver {
    fn uri(&self) -> String {
        format!("test://{}", self.path())
    }

    fn hypervisor_type(&self) -> &str {
        "TEST"
    }

    /// In process, not remote, and without migration: REMOTE and the migration features
    /// (V1, V2, P2P, DIRECT, V3, CHANGE_PROTECTION, OFFLINE, PARAMS) are not supported;
    /// others are not answered here.
    async fn supports_feature(&self, feature: i32) -> Result<bool> {
        match feature {
            1..=7 | 12 | 13 => Ok(false),
            _ => Err(oxvirt_domain::driver::no_support(
                "virConnectSupportsFeature",
            )),
        }
    }

    async fn version(&self) -> Result<u64> {
        Ok(TEST_VERSION)
    }

    async fn hostname(&self) -> Result<String> {
        Ok(host::hostname())
    }

    async fn node_info(&self) -> Result<NodeInfo> {
        Ok(self.lock().node_info.clone())
    }

    async fn capabilities(&self) -> Result<String> {
        Ok(host::capabilities(&self.lock().cells))
    }

    async fn max_vcpus(&self, _kind: Option<&str>) -> Result<u32> {
        Ok(TEST_MAX_VCPUS)
    }

    async fn free_memory(&self) -> Result<u64> {
        Ok(host::free_memory(&self.lock().cells))
    }

    async fn cells_free_memory(&self, start: i32, max: i32) -> Result<Vec<u64>> {
        host::cells_free_memory(&self.lock().cells, start, max)
    }

    async fn sysinfo(&self, flags: u32) -> Result<String> {
        check_flags(flags, 0, "testConnectGetSysinfo")?;
        Ok(host::SYSINFO.to_owned())
    }

    async fn security_model(&self) -> Result<SecurityModel> {
        Ok(self.security_model_sync())
    }

    fn subscribe(&self) -> EventReceiver {
        self.events().subscribe()
    }

    async fn lookup_by_name(&self, name: &str) -> Result<DomainRef> {
        self.lookup_by_name_sync(name)
    }

    async fn lookup_by_uuid(&self, uuid: &Uuid) -> Result<DomainRef> {
        self.lookup_by_uuid_sync(uuid)
    }

    async fn lookup_by_id(&self, id: i32) -> Result<DomainRef> {
        self.lookup_by_id_sync(id)
    }

    async fn list_all(&self, flags: u32) -> Result<Vec<DomainRef>> {
        self.list_all_sync(flags)
    }

    async fn define_xml(&self, xml: &str, flags: u32) -> Result<DomainRef> {
        self.persisted_ref(|| self.define_xml_sync(xml, flags))
    }

    async fn undefine(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        self.persisted(Scope::Domains(vec![dom.uuid]), || {
            self.undefine_sync(dom, flags)
        })
    }

    async fn create_xml(&self, xml: &str, flags: u32) -> Result<DomainRef> {
        self.persisted_ref(|| self.create_xml_sync(xml, flags))
    }

    async fn create(&self, dom: &DomainRef, flags: u32) -> Result<DomainRef> {
        self.persisted(Scope::Domains(vec![dom.uuid]), || {
            self.create_sync(dom, flags)
        })
    }

    async fn destroy(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        self.persisted(Scope::Domains(vec![dom.uuid]), || {
            self.destroy_sync(dom, flags)
        })
    }

    async fn shutdown(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        self.persisted(Scope::Domains(vec![dom.uuid]), || {
            self.shutdown_sync(dom, flags)
        })
    }

    async fn reboot(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        self.persisted(Scope::Domains(vec![dom.uuid]), || {
            self.reboot_sync(dom, flags)
        })
    }

    async fn reset(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        self.reset_sync(dom, flags)
    }

    async fn suspend(&self, dom: &DomainRef) -> Result<()> {
        self.persisted(Scope::Domains(vec![dom.uuid]), || self.suspend_sync(dom))
    }

    async fn resume(&self, dom: &DomainRef) -> Result<()> {
        self.persisted(Scope::Domains(vec![dom.uuid]), || self.resume_sync(dom))
    }

    async fn info(&self, dom: &DomainRef) -> Result<DomainInfo> {
        self.info_sync(dom)
    }

    async fn state(&self, dom: &DomainRef, flags: u32) -> Result<StateReason> {
        self.state_sync(dom, flags)
    }

    async fn xml_desc(&self, dom: &DomainRef, flags: u32) -> Result<String> {
        self.xml_desc_sync(dom, flags)
    }

    async fn os_type(&self, _dom: &DomainRef) -> Result<String> {
        // libvirt's test driver answers without looking the domain up.
        Ok("linux".into())
    }

    async fn is_active(&self, dom: &DomainRef) -> Result<bool> {
        self.is_active_sync(dom)
    }

    async fn is_persistent(&self, dom: &DomainRef) -> Result<bool> {
        self.is_persistent_sync(dom)
    }

    async fn is_updated(&self, _dom: &DomainRef) -> Result<bool> {
        // libvirt's test driver answers without looking the domain up.
        Ok(false)
    }

    async fn autostart(&self, dom: &DomainRef) -> Result<bool> {
        self.autostart_sync(dom)
    }

    async fn set_autostart(&self, dom: &DomainRef, autostart: bool) -> Result<()> {
        self.persisted(Scope::Domains(vec![dom.uuid]), || {
            self.set_autostart_sync(dom, autostart)
        })
    }

    async fn security_label(&self, dom: &DomainRef) -> Result<SecurityLabel> {
        self.security_label_sync(dom)
    }

    async fn screenshot(&self, dom: &DomainRef, screen: u32, flags: u32) -> Result<Screenshot> {
        self.screenshot_sync(dom, screen, flags)
    }

    async fn max_memory(&self, dom: &DomainRef) -> Result<u64> {
        self.max_memory_sync(dom)
    }

    async fn save(
        &self,
        dom: &DomainRef,
        path: &str,
        dxml: Option<&str>,
        flags: u32,
    ) -> Result<()> {
        self.persisted(Scope::Domains(vec![dom.uuid]), || {
            self.save_sync(dom, path, dxml, flags)
        })
    }

    async fn restore(&self, path: &str, dxml: Option<&str>, flags: u32) -> Result<()> {
        self.persisted(Scope::All, || self.restore_sync(path, dxml, flags))
    }

    async fn save_image_xml(&self, path: &str, flags: u32) -> Result<String> {
        self.save_image_xml_sync(path, flags)
    }

    async fn save_image_define_xml(&self, path: &str, dxml: &str, flags: u32) -> Result<()> {
        self.save_image_define_xml_sync(path, dxml, flags)
    }

    async fn managed_save(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        self.persisted(Scope::Domains(vec![dom.uuid]), || {
            self.managed_save_sync(dom, flags)
        })
    }

    async fn has_managed_save(&self, dom: &DomainRef, flags: u32) -> Result<bool> {
        self.has_managed_save_sync(dom, flags)
    }

    async fn managed_save_remove(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        self.persisted(Scope::Domains(vec![dom.uuid]), || {
            self.managed_save_remove_sync(dom, flags)
        })
    }

    async fn set_memory(&self, dom: &DomainRef, kib: u64, flags: u32) -> Result<()> {
        self.persisted(Scope::Domains(vec![dom.uuid]), || {
            self.set_memory_sync(dom, kib, flags)
        })
    }

    async fn set_vcpus(&self, dom: &DomainRef, count: u32, flags: u32) -> Result<()> {
        self.persisted(Scope::Domains(vec![dom.uuid]), || {
            self.set_vcpus_sync(dom, count, flags)
        })
    }

    async fn vcpus(&self, dom: &DomainRef, flags: u32) -> Result<u32> {
        self.vcpus_sync(dom, flags)
    }

    async fn attach_device(&self, dom: &DomainRef, xml: &str, flags: u32) -> Result<()> {
        self.persisted(Scope::Domains(vec![dom.uuid]), || {
            self.attach_device_sync(dom, xml, flags)
        })
    }

    async fn detach_device(&self, dom: &DomainRef, xml: &str, flags: u32) -> Result<()> {
        self.persisted(Scope::Domains(vec![dom.uuid]), || {
            self.detach_device_sync(dom, xml, flags)
        })
    }

    async fn update_device(&self, dom: &DomainRef, xml: &str, flags: u32) -> Result<()> {
        self.persisted(Scope::Domains(vec![dom.uuid]), || {
            self.update_device_sync(dom, xml, flags)
        })
    }

    async fn set_metadata(
        &self,
        dom: &DomainRef,
        kind: i32,
        metadata: Option<&str>,
        key: Option<&str>,
        uri: Option<&str>,
        flags: u32,
    ) -> Result<()> {
        self.persisted(Scope::Domains(vec![dom.uuid]), || {
            self.set_metadata_sync(dom, kind, metadata, key, uri, flags)
        })
    }

    async fn metadata(
        &self,
        dom: &DomainRef,
        kind: i32,
        uri: Option<&str>,
        flags: u32,
    ) -> Result<String> {
        self.metadata_sync(dom, kind, uri, flags)
    }

    async fn snapshot_create(&self, dom: &DomainRef, xml: &str, flags: u32) -> Result<SnapshotRef> {
        self.persisted(Scope::Domains(vec![dom.uuid]), || {
            self.snapshot_create_sync(dom, xml, flags)
        })
    }

    async fn snapshot_list(&self, dom: &DomainRef, flags: u32) -> Result<Vec<SnapshotRef>> {
        self.snapshot_list_sync(dom, flags)
    }

    async fn snapshot_list_children(
        &self,
        snap: &SnapshotRef,
        flags: u32,
    ) -> Result<Vec<SnapshotRef>> {
        self.snapshot_list_children_sync(snap, flags)
    }

    async fn snapshot_lookup(
        &self,
        dom: &DomainRef,
        name: &str,
        flags: u32,
    ) -> Result<SnapshotRef> {
        self.snapshot_lookup_sync(dom, name, flags)
    }

    async fn snapshot_xml(&self, snap: &SnapshotRef, flags: u32) -> Result<String> {
        self.snapshot_xml_sync(snap, flags)
    }

    async fn snapshot_current(&self, dom: &DomainRef, flags: u32) -> Result<SnapshotRef> {
        self.snapshot_current_sync(dom, flags)
    }

    async fn has_current_snapshot(&self, dom: &DomainRef, flags: u32) -> Result<bool> {
        self.has_current_snapshot_sync(dom, flags)
    }

    async fn snapshot_parent(&self, snap: &SnapshotRef, flags: u32) -> Result<SnapshotRef> {
        self.snapshot_parent_sync(snap, flags)
    }

    async fn snapshot_is_current(&self, snap: &SnapshotRef, flags: u32) -> Result<bool> {
        self.snapshot_is_current_sync(snap, flags)
    }

    async fn snapshot_has_metadata(&self, snap: &SnapshotRef, flags: u32) -> Result<bool> {
        self.snapshot_has_metadata_sync(snap, flags)
    }

    async fn snapshot_revert(&self, snap: &SnapshotRef, flags: u32) -> Result<()> {
        self.persisted(Scope::Domains(vec![snap.domain.uuid]), || {
            self.snapshot_revert_sync(snap, flags)
        })
    }

    async fn snapshot_delete(&self, snap: &SnapshotRef, flags: u32) -> Result<()> {
        self.persisted(Scope::Domains(vec![snap.domain.uuid]), || {
            self.snapshot_delete_sync(snap, flags)
        })
    }

    async fn domain_stats(
        &self,
        doms: &[DomainRef],
        stats: u32,
        flags: u32,
    ) -> Result<Vec<DomainStats>> {
        self.domain_stats_sync(doms, stats, flags)
    }

    async fn messages(&self, dom: &DomainRef, flags: u32) -> Result<Vec<String>> {
        self.messages_sync(dom, flags)
    }

    async fn node_cpu_stats(&self, _cpu: i32, flags: u32) -> Result<Vec<(String, u64)>> {
        self.node_cpu_stats_sync(flags)
    }

    async fn node_free_pages(
        &self,
        pages: &[u32],
        start_cell: i32,
        cell_count: u32,
        flags: u32,
    ) -> Result<Vec<u64>> {
        self.node_free_pages_sync(pages, start_cell, cell_count, flags)
    }

    async fn node_cpu_map(&self, flags: u32) -> Result<NodeCpuMap> {
        self.node_cpu_map_sync(flags)
    }

    async fn vcpu_info(
        &self,
        dom: &DomainRef,
        max_info: u32,
        maplen: usize,
    ) -> Result<(Vec<VcpuInfo>, Vec<CpuMap>)> {
        self.vcpu_info_sync(dom, max_info, maplen)
    }

    async fn pin_vcpu(
        &self,
        dom: &DomainRef,
        vcpu: u32,
        cpumap: &CpuMap,
        flags: u32,
    ) -> Result<()> {
        self.persisted(Scope::Domains(vec![dom.uuid]), || {
            self.pin_vcpu_sync(dom, vcpu, cpumap, flags)
        })
    }

    async fn vcpu_pin_info(
        &self,
        dom: &DomainRef,
        max_vcpus: u32,
        maplen: usize,
        flags: u32,
    ) -> Result<Vec<CpuMap>> {
        self.vcpu_pin_info_sync(dom, max_vcpus, maplen, flags)
    }

    async fn pin_emulator(&self, dom: &DomainRef, cpumap: &CpuMap, flags: u32) -> Result<()> {
        self.persisted(Scope::Domains(vec![dom.uuid]), || {
            self.pin_emulator_sync(dom, cpumap, flags)
        })
    }

    async fn emulator_pin_info(
        &self,
        dom: &DomainRef,
        maplen: usize,
        flags: u32,
    ) -> Result<CpuMap> {
        self.emulator_pin_info_sync(dom, maplen, flags)
    }

    async fn iothread_info(&self, dom: &DomainRef, flags: u32) -> Result<Vec<IothreadInfo>> {
        self.iothread_info_sync(dom, flags)
    }

    async fn pin_iothread(
        &self,
        dom: &DomainRef,
        iothread: u32,
        cpumap: &CpuMap,
        flags: u32,
    ) -> Result<()> {
        self.persisted(Scope::Domains(vec![dom.uuid]), || {
            self.pin_iothread_sync(dom, iothread, cpumap, flags)
        })
    }

    async fn set_numa_parameters(
        &self,
        dom: &DomainRef,
        params: &[TypedParam],
        flags: u32,
    ) -> Result<()> {
        self.persisted(Scope::Domains(vec![dom.uuid]), || {
            self.set_numa_parameters_sync(dom, params, flags)
        })
    }

    async fn numa_parameters(&self, dom: &DomainRef, flags: u32) -> Result<Vec<TypedParam>> {
        self.numa_parameters_sync(dom, flags)
    }
}
