//! The QEMU driver (`qemu:///system`): domains defined and kept under the state directory,
//! each running domain a QEMU process that is a direct child of the daemon, watched over
//! its QMP monitor, with a status file in the runtime directory so that a restarted daemon
//! reattaches to it.
//!
//! # Layout
//!
//! - `STATE/qemu/config/NAME.xml`: each persistent domain's definition (libvirt keeps them
//!   in `/etc/libvirt/qemu`), written atomically.
//! - `STATE/qemu/log/NAME.log`: what each QEMU wrote, after a header with its command line.
//! - `STATE/qemu/domain-ID-NAME/`: a running domain's private directory (`HOME` of QEMU,
//!   its master key).
//! - `RUNTIME/qemu/NAME.xml`: a running domain's status (`<domstatus>`: state, reason, pid,
//!   monitor socket, and its live definition); `RUNTIME/qemu/ID.monitor`: its QMP socket.
//!
//! # Concurrency
//!
//! The domain list sits behind one mutex never held across an await. Calls that change a
//! running domain take the domain's job lock (a tokio mutex per domain), as libvirt's jobs
//! do, so a start, a stop and a save never interleave; queries do not take it.

mod autostart;
mod console;
mod devices;
mod graphics;
mod host;
mod hypervisor;
mod ifaddr;
mod lifecycle;
mod migrate_postcopy;
mod migrate_tls;
mod migrate_tunnel;
mod migrate_v3;
mod migration;
mod migration_job;
mod monitor;
mod net;
mod netports;
mod parse;
mod placement;
mod query;
mod save;
mod snapshot;
mod start;
mod stats;
mod status;
mod vm;
mod volumes;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use oxvirt_domain::driver::ports::NetworkPorts;
use oxvirt_domain::driver::volumes::StorageVolumes;
use oxvirt_domain::driver::{DomainEvent, DomainRef, EventBus, Lifecycle, TypedParam};
use oxvirt_domain::objects::domains::{DomainList, DomainObj};
use oxvirt_xml::types::Uuid;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use crate::caps::CapsCache;
pub use migrate_tls::{MigrateTlsConfig, TlsEnd};
pub use migration::{MigrateOptions, MigrationProgress};
pub use start::kvm_unusable;
pub use vm::Vm;
pub use volumes::runtime_disk;

/// The emulator a domain runs with when it names none.
pub const DEFAULT_EMULATOR: &str = "/usr/bin/qemu-system-x86_64";

/// Where the driver keeps things, and what it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QemuConfig {
    /// Definitions, logs and private directories (`STATE/qemu`).
    pub state_dir: PathBuf,
    /// Status files and monitor sockets (`RUNTIME/qemu`).
    pub runtime_dir: PathBuf,
    /// The emulator of domains that name none.
    pub emulator: PathBuf,
    /// The host UUID the node reports (libvirtd.conf's `host_uuid`); `None`: the
    /// machine's own.
    pub host_uuid: Option<Uuid>,
    /// The credentials of migrations with TLS (`virsh migrate --tls`).
    pub migrate_tls: MigrateTlsConfig,
}

impl QemuConfig {
    /// The driver's directories under a daemon's state and runtime directories.
    pub fn under(state_dir: &Path, runtime_dir: &Path) -> Self {
        QemuConfig {
            state_dir: state_dir.join("qemu"),
            runtime_dir: runtime_dir.join("qemu"),
            emulator: PathBuf::from(DEFAULT_EMULATOR),
            host_uuid: None,
            migrate_tls: MigrateTlsConfig::default(),
        }
    }

    pub(crate) fn config_dir(&self) -> PathBuf {
        self.state_dir.join("config")
    }

    pub(crate) fn log_dir(&self) -> PathBuf {
        self.state_dir.join("log")
    }

    /// The log file of domain `name`.
    pub fn log_path(&self, name: &str) -> PathBuf {
        self.log_dir().join(format!("{name}.log"))
    }
}

/// The driver's state, shared by every connection to `qemu:///system`.
pub(crate) struct Inner {
    pub(crate) config: QemuConfig,
    domains: Mutex<DomainList>,
    pub(crate) events: EventBus,
    pub(crate) caps: CapsCache,
    /// The QEMU process of each running domain.
    vms: Mutex<HashMap<Uuid, Arc<Vm>>>,
    /// Each domain's job lock.
    jobs: Mutex<HashMap<Uuid, Arc<tokio::sync::Mutex<()>>>>,
    /// The domains an outgoing migration job holds, with the API that started it
    /// (migration_job.rs).
    migration_jobs: Mutex<HashMap<Uuid, &'static str>>,
    /// Notified when a migration job ends.
    migration_released: tokio::sync::Notify,
    /// Each domain's last completed job (`virDomainGetJobStats` with
    /// `VIR_DOMAIN_JOB_STATS_COMPLETED`): its statistics as typed parameters.
    pub(crate) completed_jobs: Mutex<HashMap<Uuid, Vec<TypedParam>>>,
    /// Each domain's migration bandwidth in MiB/s (`virDomainMigrateSetMaxSpeed`; none:
    /// unlimited).
    pub(crate) migrate_speeds: Mutex<HashMap<Uuid, u64>>,
    /// The open console sessions, by pty.
    consoles: Mutex<HashMap<String, std::sync::Weak<console::Session>>>,
    /// The node's virtual networks, for `type='network'` interfaces (none: refused).
    ports: Option<Arc<dyn NetworkPorts>>,
    /// The node's storage volumes, for `type='volume'` disks (none: refused).
    volumes: Option<Arc<dyn StorageVolumes>>,
}

/// What the driver is connected to on the node: the other drivers a domain's devices use.
#[derive(Default, Clone)]
pub struct Attach {
    /// The virtual networks (`<interface type='network'>`).
    pub ports: Option<Arc<dyn NetworkPorts>>,
    /// The storage pools (`<disk type='volume'>`), also told which volumes and paths each
    /// running domain uses.
    pub volumes: Option<Arc<dyn StorageVolumes>>,
}

impl std::fmt::Debug for Attach {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attach")
            .field("ports", &self.ports.is_some())
            .field("volumes", &self.volumes.is_some())
            .finish()
    }
}

/// The QEMU driver. Cheap to clone: every clone (every `qemu:///system` connection) is the
/// same driver.
#[derive(Clone)]
pub struct QemuDriver {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for QemuDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QemuDriver")
            .field("config", &self.inner.config)
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section leaves its data consistent before it can panic.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl QemuDriver {
    /// Opens the driver: creates its directories, loads the definitions and reattaches to
    /// every QEMU a previous daemon left running (one whose QEMU is gone is reported shut
    /// off).
    pub async fn open(config: QemuConfig) -> Result<QemuDriver, VirError> {
        Self::open_with_networks(config, None).await
    }

    /// [`QemuDriver::open`] with the node's virtual networks: `type='network'` interfaces
    /// take a port from `ports` when their domain starts (or the interface is attached)
    /// and give it back when it stops. The networks need not be active yet: a port is only
    /// asked for at a start. Without `ports`, such interfaces are refused as libvirt
    /// refuses a network it cannot find.
    pub async fn open_with_networks(
        config: QemuConfig,
        ports: Option<Arc<dyn NetworkPorts>>,
    ) -> Result<QemuDriver, VirError> {
        Self::open_with(
            config,
            Attach {
                ports,
                volumes: None,
            },
        )
        .await
    }

    /// [`QemuDriver::open`] with the node's networks and storage pools (see
    /// [`QemuDriver::open_with_networks`] for the networks). A `<disk type='volume'>` is
    /// resolved through `attach.volumes` when its domain starts or the disk is attached
    /// (as libvirt's `virDomainDiskTranslateSourcePool`), and every running domain's disks
    /// (volume keys, files and block devices) are recorded in use there, also those of the
    /// domains reattached here. Without volumes, `type='volume'` disks are refused as
    /// libvirt refuses them without a storage driver.
    pub async fn open_with(config: QemuConfig, attach: Attach) -> Result<QemuDriver, VirError> {
        let Attach { ports, volumes } = attach;
        for dir in [
            config.config_dir(),
            config.log_dir(),
            config.runtime_dir.clone(),
        ] {
            oxvirt_domain::fsio::make_dir(&dir)?;
        }
        let driver = QemuDriver {
            inner: Arc::new(Inner {
                config,
                domains: Mutex::new(DomainList::new()),
                events: EventBus::new(),
                caps: CapsCache::new(),
                vms: Mutex::new(HashMap::new()),
                jobs: Mutex::new(HashMap::new()),
                migration_jobs: Mutex::new(HashMap::new()),
                migration_released: tokio::sync::Notify::new(),
                completed_jobs: Mutex::new(HashMap::new()),
                migrate_speeds: Mutex::new(HashMap::new()),
                consoles: Mutex::new(HashMap::new()),
                ports,
                volumes,
            }),
        };
        driver.load_configs()?;
        driver.load_snapshots();
        driver.reattach_all().await;
        let starting = driver.clone();
        tokio::spawn(async move { starting.autostart_all().await });
        Ok(driver)
    }

    /// The driver's directories.
    pub fn config(&self) -> &QemuConfig {
        &self.inner.config
    }

    /// The domain list, locked. Never held across an await.
    pub(crate) fn domains(&self) -> MutexGuard<'_, DomainList> {
        lock(&self.inner.domains)
    }

    /// The running QEMU of the domain with `uuid`.
    pub(crate) fn vm(&self, uuid: &Uuid) -> Option<Arc<Vm>> {
        lock(&self.inner.vms).get(uuid).cloned()
    }

    pub(crate) fn set_vm(&self, uuid: Uuid, vm: Option<Arc<Vm>>) {
        let mut vms = lock(&self.inner.vms);
        match vm {
            Some(vm) => vms.insert(uuid, vm),
            None => vms.remove(&uuid),
        };
    }

    /// The pids of every QEMU this driver runs (for tests and the daemon's shutdown).
    pub fn running_pids(&self) -> Vec<i32> {
        lock(&self.inner.vms).values().map(|vm| vm.pid()).collect()
    }

    /// The job lock of the domain with `uuid`.
    pub(crate) fn job(&self, uuid: &Uuid) -> Arc<tokio::sync::Mutex<()>> {
        lock(&self.inner.jobs).entry(*uuid).or_default().clone()
    }

    /// Sends events in order.
    pub(crate) fn emit(&self, events: Vec<DomainEvent>) {
        for e in events {
            self.inner.events.emit(e);
        }
    }

    /// A lifecycle event for the domain as it is now.
    pub(crate) fn lifecycle(obj: &DomainObj, event: Lifecycle) -> DomainEvent {
        DomainEvent::lifecycle(obj.to_ref(), event)
    }

    /// Runs `f` on the domain `dom` names.
    pub(crate) fn with_obj<T>(
        &self,
        dom: &DomainRef,
        f: impl FnOnce(&mut DomainObj) -> Result<T, VirError>,
    ) -> Result<T, VirError> {
        let mut list = self.domains();
        let obj = list
            .find_by_uuid_mut(&dom.uuid)
            .ok_or_else(|| no_domain(dom))?;
        f(obj)
    }
}

/// `VIR_ERR_NO_DOMAIN` for a reference to a domain that is gone (libvirt's
/// `qemuDomainObjFromDomain`).
pub(crate) fn no_domain(dom: &DomainRef) -> VirError {
    VirError::new(
        ErrorDomain::Qemu,
        ErrorCode::NoDomain,
        format!("no domain with matching uuid '{}' ({})", dom.uuid, dom.name),
    )
}

/// `VIR_ERR_NO_DOMAIN` with no detail, as the lookups report it.
pub(crate) fn not_found(detail: String) -> VirError {
    VirError::new(ErrorDomain::Qemu, ErrorCode::NoDomain, detail)
}

/// Checks `flags` against `allowed`, naming the QEMU driver's `function`.
pub(crate) fn check_flags(flags: u32, allowed: u32, function: &str) -> Result<(), VirError> {
    VirError::check_flags(ErrorDomain::Qemu, flags, allowed, function)
}

/// `VIR_ERR_INTERNAL_ERROR` from the QEMU driver.
pub(crate) fn internal(detail: impl AsRef<str>) -> VirError {
    VirError::new(ErrorDomain::Qemu, ErrorCode::InternalError, detail)
}

/// `VIR_ERR_OPERATION_INVALID` from the QEMU driver.
pub(crate) fn invalid(detail: impl AsRef<str>) -> VirError {
    VirError::new(ErrorDomain::Qemu, ErrorCode::OperationInvalid, detail)
}

/// Refuses the names the driver's files cannot carry: libvirt refuses `/` (the config,
/// log and status files are named after the domain); `.` and `..` would name directories
/// (libvirt accepts them and then cannot undefine them).
pub(crate) fn check_name(name: &str) -> Result<(), VirError> {
    if name.contains('/') {
        return Err(VirError::new(
            ErrorDomain::Domain,
            ErrorCode::XmlError,
            format!("name {name} cannot contain '/'"),
        ));
    }
    if name == "." || name == ".." {
        return Err(VirError::new(
            ErrorDomain::Domain,
            ErrorCode::XmlError,
            format!("name '{name}' is not allowed: it names a directory"),
        ));
    }
    Ok(())
}

/// `VIR_ERR_OPERATION_INVALID` "domain is not running".
pub(crate) fn not_running() -> VirError {
    invalid("domain is not running")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_would_escape_or_name_directories_are_refused() {
        for bad in ["a/b", "../x", "/etc/passwd"] {
            let e = check_name(bad).unwrap_err();
            assert_eq!(e.code, ErrorCode::XmlError);
            assert_eq!(
                e.message,
                format!("XML error: name {bad} cannot contain '/'")
            );
        }
        for dir in [".", ".."] {
            let e = check_name(dir).unwrap_err();
            assert_eq!(e.code, ErrorCode::XmlError, "{dir}");
        }
        for ok in ["a b", "guest-1", "...", "ü"] {
            check_name(ok).unwrap();
        }
    }
}
