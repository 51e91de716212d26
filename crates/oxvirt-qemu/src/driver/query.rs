//! Finding domains and reading what they are: lookups, listing, info, state, XML, and the
//! CPU time of a running QEMU.

use std::sync::Arc;

use oxvirt_domain::driver::flags::{list, xml};
use oxvirt_domain::driver::state::{PausedReason, RunningReason};
use oxvirt_domain::driver::{DomainInfo, DomainRef, DomainState, StateReason};
use oxvirt_domain::format::format_domain;
use oxvirt_xml::types::Uuid;
use oxvirt_xml::VirError;

use super::vm::Vm;
use super::{check_flags, not_found, QemuDriver};

type Result<T> = std::result::Result<T, VirError>;

/// Every `virConnectListAllDomains` filter.
const LIST_FILTERS: u32 = list::ALL;

/// Clock ticks per second of `/proc/PID/stat` times (`sysconf(_SC_CLK_TCK)`, 100 on Linux).
const CLK_TCK: u64 = 100;

/// The CPU time process `pid` used (user and system), in nanoseconds, from
/// `/proc/PID/stat` (as libvirt's `virProcessGetStatInfo`).
pub(crate) fn process_cpu_time(pid: i32) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    let Some(at) = stat.rfind(')') else {
        return 0;
    };
    // After the command: state is field 3; utime and stime are fields 14 and 15.
    let fields: Vec<&str> = stat[at + 1..].split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (ticks(11) + ticks(12)) * (1_000_000_000 / CLK_TCK)
}

impl QemuDriver {
    /// `virDomainLookupByName`.
    pub(crate) fn lookup_name(&self, name: &str) -> Result<DomainRef> {
        self.domains()
            .find_by_name(name)
            .map(|o| o.to_ref())
            .ok_or_else(|| not_found(format!("no domain with matching name '{name}'")))
    }

    /// `virDomainLookupByUUID`.
    pub(crate) fn lookup_uuid(&self, uuid: &Uuid) -> Result<DomainRef> {
        self.domains()
            .find_by_uuid(uuid)
            .map(|o| o.to_ref())
            .ok_or_else(|| not_found(format!("no domain with matching uuid '{uuid}'")))
    }

    /// `virDomainLookupByID`.
    pub(crate) fn lookup_id(&self, id: i32) -> Result<DomainRef> {
        self.domains()
            .find_by_id(id)
            .map(|o| o.to_ref())
            .ok_or_else(|| not_found(format!("no domain with matching id {id}")))
    }

    /// `virConnectListAllDomains`.
    pub(crate) fn list(&self, flags: u32) -> Result<Vec<DomainRef>> {
        check_flags(flags, LIST_FILTERS, "qemuConnectListAllDomains")?;
        Ok(self
            .domains()
            .export(flags)
            .iter()
            .map(|o| o.to_ref())
            .collect())
    }

    /// `virDomainGetInfo` (`qemuDomainGetInfo`): CPU time from QEMU's process.
    pub(crate) fn info(&self, dom: &DomainRef) -> Result<DomainInfo> {
        let vm = self.vm(&dom.uuid);
        self.with_obj(dom, |obj| {
            let def = obj.def();
            let running = obj.is_active();
            Ok(DomainInfo {
                state: obj.state(),
                max_mem_kib: def.memory_total(),
                memory_kib: if running {
                    def.memory_current()
                } else {
                    def.memory_total()
                },
                nr_virt_cpu: def.vcpus_current(),
                cpu_time_ns: match &vm {
                    Some(vm) if running => process_cpu_time(vm.pid()),
                    _ => 0,
                },
            })
        })
    }

    /// `virDomainGetState`.
    pub(crate) fn state(&self, dom: &DomainRef, flags: u32) -> Result<StateReason> {
        check_flags(flags, 0, "qemuDomainGetState")?;
        self.with_obj(dom, |obj| Ok(obj.state))
    }

    /// `virDomainGetXMLDesc`: the persistent definition with `VIR_DOMAIN_XML_INACTIVE`,
    /// else the one in use.
    pub(crate) fn xml_desc(&self, dom: &DomainRef, flags: u32) -> Result<String> {
        check_flags(
            flags,
            xml::SECURE | xml::INACTIVE | xml::UPDATE_CPU | xml::MIGRATABLE,
            "qemuDomainGetXMLDesc",
        )?;
        self.with_obj(dom, |obj| {
            let def = match (obj.new_def(), flags & xml::INACTIVE != 0) {
                (Some(new_def), true) => new_def,
                _ => obj.def(),
            };
            Ok(format_domain(def, obj.id, flags))
        })
    }

    /// Sets the state of a domain just reattached from what QEMU says it is doing.
    pub(crate) async fn sync_state(&self, uuid: &Uuid, vm: &Arc<Vm>) {
        let Ok(status) = vm.qmp().query_status().await else {
            return;
        };
        let live = self.domains().find_by_uuid(uuid).map(|o| o.def().clone());
        let live = match live {
            Some(def) => Some(self.live_definition(vm, def).await),
            None => None,
        };
        let mut list = self.domains();
        let Some(obj) = list.find_by_uuid_mut(uuid) else {
            return;
        };
        if let Some(def) = live {
            *obj.def_mut() = def;
        }
        match (status.running, obj.state()) {
            (true, DomainState::Paused) => {
                obj.state = StateReason::Running(RunningReason::Unpaused)
            }
            (false, DomainState::Running) => obj.state = StateReason::Paused(PausedReason::Unknown),
            _ => {}
        }
        self.refresh_status(obj);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_of_this_process_is_read_from_proc() {
        // Burn some CPU so the figure cannot be zero.
        let mut x = 0u64;
        let start = std::time::Instant::now();
        while start.elapsed() < std::time::Duration::from_millis(50) {
            x = x.wrapping_mul(31).wrapping_add(7);
        }
        assert!(x != 1);
        let t = process_cpu_time(std::process::id() as i32);
        assert!(t >= 10_000_000, "{t}");
        assert_eq!(t % 10_000_000, 0);
        assert_eq!(process_cpu_time(-5), 0);
    }
}
