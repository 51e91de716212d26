//! The [`Hypervisor`] trait over the QEMU driver's calls.

use std::path::Path;

use async_trait::async_trait;
use oxvirt_domain::driver::{
    ConsoleIo, CpuMap, DomainInfo, DomainRef, EventReceiver, Hypervisor, IothreadInfo, NodeCpuMap,
    NodeInfo, Result, SecurityLabel, SecurityModel, StateReason, TypedParam, VcpuInfo,
};
use oxvirt_xml::types::Uuid;

use super::QemuDriver;

#[async_trait]
impl Hypervisor for QemuDriver {
    fn uri(&self) -> String {
        "qemu:///system".to_string()
    }

    fn hypervisor_type(&self) -> &str {
        "QEMU"
    }

    async fn version(&self) -> Result<u64> {
        let caps = self.inner.caps.get(&self.inner.config.emulator).await?;
        Ok(caps.version)
    }

    async fn hostname(&self) -> Result<String> {
        Ok(rustix::system::uname()
            .nodename()
            .to_string_lossy()
            .into_owned())
    }

    async fn node_info(&self) -> Result<NodeInfo> {
        self.host_node_info().await
    }

    async fn capabilities(&self) -> Result<String> {
        self.host_capabilities().await
    }

    async fn max_vcpus(&self, kind: Option<&str>) -> Result<u32> {
        self.host_max_vcpus(kind).await
    }

    async fn free_memory(&self) -> Result<u64> {
        self.host_free_memory().await
    }

    async fn cells_free_memory(&self, start: i32, max: i32) -> Result<Vec<u64>> {
        self.host_cells_free_memory(start, max).await
    }

    async fn sysinfo(&self, flags: u32) -> Result<String> {
        self.host_sysinfo(flags).await
    }

    async fn security_model(&self) -> Result<SecurityModel> {
        Ok(SecurityModel {
            model: "none".into(),
            doi: "0".into(),
        })
    }

    async fn security_label(&self, dom: &DomainRef) -> Result<SecurityLabel> {
        // No security driver labels QEMU (the model is `none`): libvirt's answer for it is
        // an empty label, running or not.
        self.lookup_uuid(&dom.uuid)?;
        Ok(SecurityLabel::default())
    }

    async fn node_cpu_stats(&self, cpu: i32, flags: u32) -> Result<Vec<(String, u64)>> {
        self.host_cpu_stats(cpu, flags).await
    }

    async fn node_memory_stats(&self, cell: i32, flags: u32) -> Result<Vec<(String, u64)>> {
        self.host_memory_stats(cell, flags).await
    }

    async fn node_free_pages(
        &self,
        pages: &[u32],
        start_cell: i32,
        cell_count: u32,
        flags: u32,
    ) -> Result<Vec<u64>> {
        self.host_free_pages(pages, start_cell, cell_count, flags)
            .await
    }

    async fn node_cpu_map(&self, flags: u32) -> Result<NodeCpuMap> {
        self.host_cpu_map(flags).await
    }

    async fn domain_capabilities(
        &self,
        emulator: Option<&str>,
        arch: Option<&str>,
        machine: Option<&str>,
        virttype: Option<&str>,
        flags: u32,
    ) -> Result<String> {
        self.host_domain_capabilities(emulator, arch, machine, virttype, flags)
            .await
    }

    fn subscribe(&self) -> EventReceiver {
        self.inner.events.subscribe()
    }

    async fn lookup_by_name(&self, name: &str) -> Result<DomainRef> {
        self.lookup_name(name)
    }

    async fn lookup_by_uuid(&self, uuid: &Uuid) -> Result<DomainRef> {
        self.lookup_uuid(uuid)
    }

    async fn lookup_by_id(&self, id: i32) -> Result<DomainRef> {
        self.lookup_id(id)
    }

    async fn list_all(&self, flags: u32) -> Result<Vec<DomainRef>> {
        self.list(flags)
    }

    async fn define_xml(&self, xml: &str, flags: u32) -> Result<DomainRef> {
        self.define(xml, flags).await
    }

    async fn undefine(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        QemuDriver::undefine(self, dom, flags)
    }

    async fn create_xml(&self, xml: &str, flags: u32) -> Result<DomainRef> {
        QemuDriver::create_xml(self, xml, flags).await
    }

    async fn create(&self, dom: &DomainRef, flags: u32) -> Result<DomainRef> {
        QemuDriver::create(self, dom, flags).await
    }

    async fn destroy(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        QemuDriver::destroy(self, dom, flags).await
    }

    async fn shutdown(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        // libvirt's shutdown is a modify job: it waits for a migration job.
        self.wait_no_migration_job(&dom.uuid).await?;
        QemuDriver::shutdown(self, dom, flags).await
    }

    async fn reboot(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        // libvirt's reboot is a modify job: it waits for a migration job.
        self.wait_no_migration_job(&dom.uuid).await?;
        QemuDriver::reboot(self, dom, flags).await
    }

    async fn reset(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        // libvirt's reset is a modify job: it waits for a migration job.
        self.wait_no_migration_job(&dom.uuid).await?;
        QemuDriver::reset(self, dom, flags).await
    }

    async fn suspend(&self, dom: &DomainRef) -> Result<()> {
        QemuDriver::suspend(self, dom).await
    }

    async fn resume(&self, dom: &DomainRef) -> Result<()> {
        QemuDriver::resume(self, dom).await
    }

    async fn save(
        &self,
        dom: &DomainRef,
        path: &str,
        dxml: Option<&str>,
        flags: u32,
    ) -> Result<()> {
        self.save_to(dom, Path::new(path), dxml, flags).await
    }

    async fn restore(&self, path: &str, dxml: Option<&str>, flags: u32) -> Result<()> {
        self.restore_from(Path::new(path), dxml, flags)
            .await
            .map(|_| ())
    }

    async fn save_image_xml(&self, path: &str, flags: u32) -> Result<String> {
        QemuDriver::save_image_xml(self, Path::new(path), flags)
    }

    async fn save_image_define_xml(&self, path: &str, dxml: &str, flags: u32) -> Result<()> {
        QemuDriver::save_image_define_xml(self, Path::new(path), dxml, flags).await
    }

    async fn managed_save(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        QemuDriver::managed_save(self, dom, flags).await
    }

    async fn has_managed_save(&self, dom: &DomainRef, flags: u32) -> Result<bool> {
        super::check_flags(flags, 0, "qemuDomainHasManagedSaveImage")?;
        QemuDriver::has_managed_save(self, dom)
    }

    async fn managed_save_remove(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        super::check_flags(flags, 0, "qemuDomainManagedSaveRemove")?;
        QemuDriver::managed_save_remove(self, dom)
    }

    async fn info(&self, dom: &DomainRef) -> Result<DomainInfo> {
        QemuDriver::info(self, dom)
    }

    async fn state(&self, dom: &DomainRef, flags: u32) -> Result<StateReason> {
        QemuDriver::state(self, dom, flags)
    }

    async fn xml_desc(&self, dom: &DomainRef, flags: u32) -> Result<String> {
        QemuDriver::xml_desc(self, dom, flags)
    }

    async fn os_type(&self, dom: &DomainRef) -> Result<String> {
        self.with_obj(dom, |_| Ok("hvm".to_string()))
    }

    async fn is_active(&self, dom: &DomainRef) -> Result<bool> {
        self.with_obj(dom, |obj| Ok(obj.is_active()))
    }

    async fn is_persistent(&self, dom: &DomainRef) -> Result<bool> {
        self.with_obj(dom, |obj| Ok(obj.persistent))
    }

    async fn is_updated(&self, dom: &DomainRef) -> Result<bool> {
        self.with_obj(dom, |_| Ok(false))
    }

    async fn autostart(&self, dom: &DomainRef) -> Result<bool> {
        self.with_obj(dom, |obj| Ok(obj.autostart))
    }

    async fn set_autostart(&self, dom: &DomainRef, autostart: bool) -> Result<()> {
        QemuDriver::set_autostart(self, dom, autostart)
    }

    async fn max_memory(&self, dom: &DomainRef) -> Result<u64> {
        self.with_obj(dom, |obj| Ok(obj.def().memory_total()))
    }

    async fn vcpus(&self, dom: &DomainRef, flags: u32) -> Result<u32> {
        use oxvirt_domain::driver::flags::{affect, vcpu};
        super::check_flags(
            flags,
            affect::LIVE | affect::CONFIG | vcpu::MAXIMUM | vcpu::GUEST,
            "qemuDomainGetVcpusFlags",
        )?;
        self.with_obj(dom, |obj| {
            let (def, _) = obj.one_def(flags & (affect::LIVE | affect::CONFIG))?;
            Ok(if flags & vcpu::MAXIMUM != 0 {
                def.vcpus_max()
            } else {
                def.vcpus_current()
            })
        })
    }

    async fn snapshot_create(
        &self,
        dom: &DomainRef,
        xml: &str,
        flags: u32,
    ) -> Result<oxvirt_domain::driver::SnapshotRef> {
        QemuDriver::snapshot_create(self, dom, xml, flags).await
    }

    async fn snapshot_list(
        &self,
        dom: &DomainRef,
        flags: u32,
    ) -> Result<Vec<oxvirt_domain::driver::SnapshotRef>> {
        QemuDriver::snapshot_list(self, dom, flags)
    }

    async fn snapshot_list_children(
        &self,
        snap: &oxvirt_domain::driver::SnapshotRef,
        flags: u32,
    ) -> Result<Vec<oxvirt_domain::driver::SnapshotRef>> {
        QemuDriver::snapshot_list_children(self, snap, flags)
    }

    async fn snapshot_lookup(
        &self,
        dom: &DomainRef,
        name: &str,
        flags: u32,
    ) -> Result<oxvirt_domain::driver::SnapshotRef> {
        QemuDriver::snapshot_lookup(self, dom, name, flags)
    }

    async fn snapshot_xml(
        &self,
        snap: &oxvirt_domain::driver::SnapshotRef,
        flags: u32,
    ) -> Result<String> {
        QemuDriver::snapshot_xml(self, snap, flags)
    }

    async fn snapshot_current(
        &self,
        dom: &DomainRef,
        flags: u32,
    ) -> Result<oxvirt_domain::driver::SnapshotRef> {
        QemuDriver::snapshot_current(self, dom, flags)
    }

    async fn has_current_snapshot(&self, dom: &DomainRef, flags: u32) -> Result<bool> {
        QemuDriver::has_current_snapshot(self, dom, flags)
    }

    async fn snapshot_parent(
        &self,
        snap: &oxvirt_domain::driver::SnapshotRef,
        flags: u32,
    ) -> Result<oxvirt_domain::driver::SnapshotRef> {
        QemuDriver::snapshot_parent(self, snap, flags)
    }

    async fn snapshot_is_current(
        &self,
        snap: &oxvirt_domain::driver::SnapshotRef,
        flags: u32,
    ) -> Result<bool> {
        QemuDriver::snapshot_is_current(self, snap, flags)
    }

    async fn snapshot_has_metadata(
        &self,
        snap: &oxvirt_domain::driver::SnapshotRef,
        flags: u32,
    ) -> Result<bool> {
        QemuDriver::snapshot_has_metadata(self, snap, flags)
    }

    async fn snapshot_revert(
        &self,
        snap: &oxvirt_domain::driver::SnapshotRef,
        flags: u32,
    ) -> Result<()> {
        QemuDriver::snapshot_revert(self, snap, flags).await
    }

    async fn snapshot_delete(
        &self,
        snap: &oxvirt_domain::driver::SnapshotRef,
        flags: u32,
    ) -> Result<()> {
        QemuDriver::snapshot_delete(self, snap, flags).await
    }

    async fn domain_stats(
        &self,
        doms: &[DomainRef],
        stats: u32,
        flags: u32,
    ) -> Result<Vec<oxvirt_domain::driver::DomainStats>> {
        QemuDriver::domain_stats(self, doms, stats, flags).await
    }

    async fn job_info(&self, dom: &DomainRef) -> Result<oxvirt_domain::driver::JobInfo> {
        QemuDriver::job_info(self, dom).await
    }

    async fn job_stats(&self, dom: &DomainRef, flags: u32) -> Result<(i32, Vec<TypedParam>)> {
        QemuDriver::job_stats(self, dom, flags).await
    }

    async fn migrate_set_max_speed(&self, dom: &DomainRef, mib: u64, flags: u32) -> Result<()> {
        QemuDriver::migrate_set_max_speed(self, dom, mib, flags).await
    }

    async fn migrate_get_max_speed(&self, dom: &DomainRef, flags: u32) -> Result<u64> {
        QemuDriver::migrate_get_max_speed(self, dom, flags).await
    }

    async fn migrate_set_max_downtime(&self, dom: &DomainRef, ms: u64, flags: u32) -> Result<()> {
        QemuDriver::migrate_set_max_downtime(self, dom, ms, flags).await
    }

    async fn migrate_get_max_downtime(&self, dom: &DomainRef, flags: u32) -> Result<u64> {
        QemuDriver::migrate_get_max_downtime(self, dom, flags).await
    }

    async fn migrate_start_post_copy(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        QemuDriver::migrate_start_post_copy(self, dom, flags).await
    }

    async fn abort_job(&self, dom: &DomainRef) -> Result<()> {
        QemuDriver::abort_job(self, dom).await
    }

    async fn set_memory(&self, dom: &DomainRef, kib: u64, flags: u32) -> Result<()> {
        QemuDriver::set_memory(self, dom, kib, flags).await
    }

    async fn attach_device(&self, dom: &DomainRef, xml: &str, flags: u32) -> Result<()> {
        QemuDriver::attach_device(self, dom, xml, flags).await
    }

    async fn detach_device(&self, dom: &DomainRef, xml: &str, flags: u32) -> Result<()> {
        QemuDriver::detach_device(self, dom, xml, flags).await
    }

    async fn open_console(
        &self,
        dom: &DomainRef,
        dev_name: Option<&str>,
        flags: u32,
    ) -> Result<ConsoleIo> {
        QemuDriver::open_console(self, dom, dev_name, flags).await
    }

    async fn vcpu_info(
        &self,
        dom: &DomainRef,
        max_info: u32,
        maplen: usize,
    ) -> Result<(Vec<VcpuInfo>, Vec<CpuMap>)> {
        self.placement_vcpu_info(dom, max_info, maplen).await
    }

    async fn pin_vcpu(
        &self,
        dom: &DomainRef,
        vcpu: u32,
        cpumap: &CpuMap,
        flags: u32,
    ) -> Result<()> {
        self.placement_pin_vcpu(dom, vcpu, cpumap, flags).await
    }

    async fn vcpu_pin_info(
        &self,
        dom: &DomainRef,
        max_vcpus: u32,
        maplen: usize,
        flags: u32,
    ) -> Result<Vec<CpuMap>> {
        self.placement_vcpu_pin_info(dom, max_vcpus, maplen, flags)
    }

    async fn pin_emulator(&self, dom: &DomainRef, cpumap: &CpuMap, flags: u32) -> Result<()> {
        self.placement_pin_emulator(dom, cpumap, flags).await
    }

    async fn emulator_pin_info(
        &self,
        dom: &DomainRef,
        maplen: usize,
        flags: u32,
    ) -> Result<CpuMap> {
        self.placement_emulator_pin_info(dom, maplen, flags)
    }

    async fn iothread_info(&self, dom: &DomainRef, flags: u32) -> Result<Vec<IothreadInfo>> {
        self.placement_iothread_info(dom, flags).await
    }

    async fn pin_iothread(
        &self,
        dom: &DomainRef,
        iothread: u32,
        cpumap: &CpuMap,
        flags: u32,
    ) -> Result<()> {
        self.placement_pin_iothread(dom, iothread, cpumap, flags)
            .await
    }

    async fn set_numa_parameters(
        &self,
        dom: &DomainRef,
        params: &[TypedParam],
        flags: u32,
    ) -> Result<()> {
        self.placement_set_numa_parameters(dom, params, flags).await
    }

    async fn numa_parameters(&self, dom: &DomainRef, flags: u32) -> Result<Vec<TypedParam>> {
        self.placement_numa_parameters(dom, flags)
    }

    async fn interface_addresses(
        &self,
        dom: &DomainRef,
        source: u32,
        flags: u32,
    ) -> Result<Vec<oxvirt_domain::driver::ifaddr::DomainInterface>> {
        self.interface_addresses_of(dom, source, flags).await
    }

    async fn migrate_begin3_params(
        &self,
        dom: &DomainRef,
        params: &[TypedParam],
        flags: u32,
    ) -> Result<(String, Vec<u8>)> {
        // VIR_MIGRATE_CHANGE_PROTECTION without VIR_MIGRATE_OFFLINE: the migration job
        // lasts until the confirm phase.
        let protect = flags & (1 << 8) != 0 && flags & (1 << 10) == 0;
        if protect {
            self.running(dom)?;
            // A peer-to-peer migration's phases all run in the client's Perform call.
            let owner = if flags & (1 << 1) != 0 {
                super::migration_job::PERFORM_OWNER
            } else {
                super::migration_job::BEGIN_OWNER
            };
            self.migration_job_start(dom, owner).await?;
        }
        let begun = self.migrate_begin3(dom, params, flags).await;
        if protect && begun.is_err() {
            self.migration_job_end(&dom.uuid);
        }
        begun
    }

    async fn migrate_prepare3_params(
        &self,
        params: &[TypedParam],
        cookie_in: &[u8],
        flags: u32,
    ) -> Result<(Vec<u8>, Option<String>)> {
        super::migrate_tunnel::refuse_tunnelled(flags)?;
        self.migrate_prepare3(params, cookie_in, flags).await
    }

    async fn migrate_prepare_tunnel3_params(
        &self,
        params: &[TypedParam],
        cookie_in: &[u8],
        flags: u32,
    ) -> Result<(Vec<u8>, oxvirt_domain::driver::tunnel::MigrationTunnel)> {
        self.migrate_prepare_tunnel3(params, cookie_in, flags).await
    }

    async fn migrate_perform3_tunnel(
        &self,
        dom: &DomainRef,
        params: &[TypedParam],
        cookie_in: &[u8],
        flags: u32,
        tunnel: oxvirt_domain::driver::tunnel::MigrationTunnel,
    ) -> Result<Vec<u8>> {
        let own = self.migration_job_for_perform(dom).await?;
        let performed = self
            .migrate_perform3_tunnel(dom, params, cookie_in, flags, tunnel)
            .await;
        if own {
            self.migration_job_end(&dom.uuid);
        }
        performed
    }

    async fn migrate_perform3_params(
        &self,
        dom: &DomainRef,
        _dconnuri: Option<&str>,
        params: &[TypedParam],
        cookie_in: &[u8],
        flags: u32,
    ) -> Result<Vec<u8>> {
        let own = flags & (1 << 10) == 0 && self.migration_job_for_perform(dom).await?;
        let performed = self.migrate_perform3(dom, params, cookie_in, flags).await;
        if own {
            self.migration_job_end(&dom.uuid);
        }
        performed
    }

    async fn migrate_finish3_params(
        &self,
        params: &[TypedParam],
        cookie_in: &[u8],
        flags: u32,
        cancelled: bool,
    ) -> Result<(DomainRef, Vec<u8>)> {
        self.migrate_finish3(params, cookie_in, flags, cancelled)
            .await
    }

    async fn migrate_confirm3_params(
        &self,
        dom: &DomainRef,
        _params: &[TypedParam],
        cookie_in: &[u8],
        flags: u32,
        cancelled: bool,
    ) -> Result<()> {
        let confirmed = self
            .migrate_confirm3(dom, cookie_in, flags, cancelled)
            .await;
        self.migration_job_end(&dom.uuid);
        confirmed
    }
}
