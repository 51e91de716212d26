//! The node calls of `qemu:///system`: node info, capabilities, statistics, free memory and
//! pages, the CPU map, SMBIOS data and domain capabilities, read from the host by
//! `oxvirt-node` and from QEMU's probe.

use std::sync::OnceLock;

use oxvirt_domain::driver::{CpuMap, NodeCpuMap, NodeInfo, Result};
use oxvirt_node::caps::{Capabilities, HostCaps, SecModel};
use oxvirt_node::sysinfo::{self, SystemRunner};
use oxvirt_node::{cpumap, hostcpu, memory, nodeinfo, stats, Host};
use oxvirt_xml::types::Uuid;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use super::start::kvm_unusable;
use super::{check_flags, QemuDriver};
use crate::domcaps::{self, DomCapsQuery};
use crate::guests;

/// The host's SMBIOS data, read once (libvirt reads it when the driver starts: running
/// `dmidecode` on every call would cost tens of milliseconds).
static SYSINFO: OnceLock<std::result::Result<String, VirError>> = OnceLock::new();

/// The host UUID when SMBIOS has none: `/etc/machine-id` read as a UUID (libvirt's
/// `host_uuid_source = "machine-id"`), else one made up for this daemon's life (libvirt's
/// fallback).
static HOST_UUID: OnceLock<Option<String>> = OnceLock::new();

fn host_uuid(host: &Host) -> Option<String> {
    if let Some(uuid) = hostcpu::host_uuid(host) {
        return Some(uuid);
    }
    HOST_UUID
        .get_or_init(|| {
            let machine_id = host.read("/etc/machine-id").unwrap_or_default();
            Uuid::try_parse(machine_id.trim())
                .filter(|u| !u.is_nil())
                .or_else(|| Uuid::new_v4().ok())
                .map(|u| u.to_string())
        })
        .clone()
}

/// The host part of the capabilities, read once (as libvirt keeps its capabilities until
/// its QEMU binaries change): the topology, caches and CPU do not change under a running
/// daemon, and reading them costs about a millisecond of sysfs.
static HOST_CAPS: OnceLock<HostCaps> = OnceLock::new();

fn read_host_caps() -> Result<HostCaps> {
    let host = Host::system();
    let mut caps = HostCaps::read(&host)?;
    caps.uuid = host_uuid(&host);
    caps.power_management = hostcpu::power_management(&SystemRunner);
    // QEMU runs as the daemon's user without a security driver; libvirt's DAC model
    // (relabelling images for a `libvirt-qemu` user) is not there.
    caps.secmodels = vec![SecModel {
        model: "none".into(),
        doi: "0".into(),
        baselabels: Vec::new(),
    }];
    Ok(caps)
}

/// libvirt's KVM limit when asked for `kvm` (`KVM_CAP_MAX_VCPUS`): the x86 kernel's
/// `KVM_MAX_VCPUS` (1024 since Linux 5.15). Asking `/dev/kvm` takes an ioctl, which this
/// crate's safe code does not make.
const KVM_MAX_VCPUS: u32 = 1024;

fn invalid_arg(msg: String) -> VirError {
    VirError::new(ErrorDomain::Qemu, ErrorCode::InvalidArg, msg)
}

impl QemuDriver {
    /// The host UUID this node reports: the configured one (libvirtd's `host_uuid`), else
    /// the machine's (as `virGetHostUUID`).
    pub fn host_uuid(&self) -> Option<String> {
        match self.inner.config.host_uuid {
            Some(uuid) => Some(uuid.to_string()),
            None => host_uuid(&Host::system()),
        }
    }

    pub(super) async fn host_node_info(&self) -> Result<NodeInfo> {
        let info = nodeinfo::node_info(&Host::system())?;
        Ok(NodeInfo {
            model: info.model,
            memory_kib: info.memory_kib,
            cpus: info.cpus,
            mhz: info.mhz,
            nodes: info.nodes,
            sockets: info.sockets,
            cores: info.cores,
            threads: info.threads,
        })
    }

    pub(super) async fn host_capabilities(&self) -> Result<String> {
        let mut caps = match HOST_CAPS.get() {
            Some(caps) => caps.clone(),
            None => {
                let caps = read_host_caps()?;
                HOST_CAPS.get_or_init(|| caps).clone()
            }
        };
        if let Some(uuid) = self.inner.config.host_uuid {
            caps.uuid = Some(uuid.to_string());
        }
        let binaries = guests::find_binaries(&guests::default_search_path(), guests::host_arch());
        let mut guests = guests::guests(&self.inner.caps, &binaries).await?;
        if kvm_unusable().is_some() {
            // libvirt lists kvm wherever /dev/kvm opens; a kvm guest then fails to start
            // on a CPU without vmx/svm. Only what can run is offered here.
            for g in &mut guests {
                g.domains.retain(|d| d.virt_type != "kvm");
            }
        }
        Ok(Capabilities { host: caps, guests }.to_xml())
    }

    pub(super) async fn host_max_vcpus(&self, kind: Option<&str>) -> Result<u32> {
        match kind {
            None => Ok(16),
            Some(t) if t.eq_ignore_ascii_case("qemu") => Ok(16),
            Some(t) if t.eq_ignore_ascii_case("kvm") => Ok(KVM_MAX_VCPUS),
            Some(t) => Err(invalid_arg(format!("unknown type '{t}'"))),
        }
    }

    pub(super) async fn host_free_memory(&self) -> Result<u64> {
        memory::free_memory(&Host::system())
    }

    pub(super) async fn host_cells_free_memory(&self, start: i32, max: i32) -> Result<Vec<u64>> {
        memory::cells_free_memory(&Host::system(), start, max)
    }

    pub(super) async fn host_sysinfo(&self, flags: u32) -> Result<String> {
        check_flags(flags, 0, "qemuConnectGetSysinfo")?;
        let answer = SYSINFO.get_or_init(|| {
            sysinfo::host_sysinfo_xml(&Host::system(), &SystemRunner, ErrorDomain::Qemu)
        });
        answer.clone()
    }

    pub(super) async fn host_cpu_stats(&self, cpu: i32, flags: u32) -> Result<Vec<(String, u64)>> {
        check_flags(flags, 0, "virHostCPUGetStats")?;
        stats::cpu_stats(&Host::system(), cpu)
    }

    pub(super) async fn host_memory_stats(
        &self,
        cell: i32,
        flags: u32,
    ) -> Result<Vec<(String, u64)>> {
        check_flags(flags, 0, "virHostMemGetStats")?;
        stats::memory_stats(&Host::system(), cell)
    }

    pub(super) async fn host_free_pages(
        &self,
        pages: &[u32],
        start_cell: i32,
        cell_count: u32,
        flags: u32,
    ) -> Result<Vec<u64>> {
        check_flags(flags, 0, "virHostMemGetFreePages")?;
        let host = Host::system();
        let sizes: Vec<u64> = pages.iter().map(|&p| u64::from(p)).collect();
        memory::free_pages(
            &host,
            &sizes,
            start_cell,
            cell_count,
            memory::last_cell(&host),
        )
    }

    pub(super) async fn host_cpu_map(&self, flags: u32) -> Result<NodeCpuMap> {
        check_flags(flags, 0, "virHostCPUGetMap")?;
        let map = cpumap::cpu_map(&Host::system())?;
        Ok(NodeCpuMap {
            cpus: map.cpus,
            online: map.online_count(),
            online_map: CpuMap(map.online_bytes()),
        })
    }

    pub(super) async fn host_domain_capabilities(
        &self,
        emulator: Option<&str>,
        arch: Option<&str>,
        machine: Option<&str>,
        virttype: Option<&str>,
        flags: u32,
    ) -> Result<String> {
        check_flags(flags, 0, "qemuConnectGetDomainCapabilities")?;
        // Where KVM cannot run guests, the default is TCG and kvm is refused as libvirt
        // refuses it on a host without KVM.
        let virttype = match (virttype, kvm_unusable()) {
            (None, Some(_)) => Some("qemu"),
            (Some(t), Some(_)) if t.eq_ignore_ascii_case("kvm") => {
                let binary = emulator.map(str::to_owned).unwrap_or_else(|| {
                    let host = guests::host_arch();
                    guests::binary_for_arch(
                        &guests::default_search_path(),
                        host,
                        arch.unwrap_or(host),
                    )
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
                });
                return Err(invalid_arg(format!(
                    "KVM is not supported by '{binary}' on this host"
                )));
            }
            (t, _) => t,
        };
        let query = DomCapsQuery {
            emulator,
            arch,
            machine,
            virttype,
        };
        domcaps::domain_capabilities(&self.inner.caps, &guests::default_search_path(), &query).await
    }
}
