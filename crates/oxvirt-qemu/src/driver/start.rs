//! Starting a domain as libvirt's `qemuProcessStart` does: checks first (nothing is
//! started for a domain that cannot run), a fresh ID, the private directory and master key,
//! QEMU started paused (`-S`) as a direct child with its monitor, the ptys it opened written
//! into the live definition, the status file, then the CPUs started.

use std::fs::File;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use oxvirt_domain::devices::chardev::{
    Chardev, ChardevTargetType, ChardevType, ConsoleTargetType, SourceSpec,
};
use oxvirt_domain::devices::disk::DiskType;
use oxvirt_domain::driver::state::{PausedReason, RunningReason};
use oxvirt_domain::driver::StateReason;
use oxvirt_domain::{Domain, VirtType};
use oxvirt_xml::types::Uuid;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use super::parse::unsupported;
use super::vm::Vm;
use super::{internal, QemuDriver};
use crate::command::{self, BuildContext, Caps, Monitor};
use crate::process::{Launch, QemuProcess};

/// How the CPUs are left once QEMU runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cpus {
    /// Started, for this reason.
    Run(RunningReason),
    /// Left paused, for this reason.
    Pause(PausedReason),
}

/// What a start begins from.
#[derive(Debug, Default)]
pub(crate) struct StartFrom {
    /// A saved state QEMU loads at start (QEMU starts with `-incoming defer`; the file is
    /// passed over the monitor once the devices the daemon adds are in place).
    pub incoming: Option<File>,
    /// QEMU starts with `-incoming defer` and waits for a `migrate-incoming` the caller
    /// sends once the start returns: a live migration's destination (libvirt's
    /// `qemuMigrationDstPrepare`). Start it paused: the CPUs run once the state arrived.
    pub defer: bool,
}

/// Why KVM cannot run guests here, if it cannot: `/dev/kvm` must open and the CPU must
/// have hardware virtualization (a paravirtual KVM such as PVM opens but cannot run
/// ordinary guests).
pub fn kvm_unusable() -> Option<String> {
    if let Err(e) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
    {
        return Some(format!("/dev/kvm: {}", oxvirt_domain::fsio::strerror(&e)));
    }
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let hw = cpuinfo
        .lines()
        .filter(|l| l.starts_with("flags"))
        .any(|l| l.split_whitespace().any(|f| f == "vmx" || f == "svm"));
    (!hw).then(|| "the host CPU has no hardware virtualization (vmx or svm)".to_string())
}

/// The disk sources a domain needs that are missing (libvirt fails the start with
/// "Cannot access storage file").
fn check_disk_sources(def: &Domain) -> Result<(), VirError> {
    for disk in &def.devices.disks {
        if disk.kind != DiskType::File {
            continue;
        }
        let Some(path) = disk.source.as_ref().and_then(|s| s.file.as_deref()) else {
            continue;
        };
        if let Err(e) = std::fs::metadata(path) {
            // libvirt reports it from its storage layer (`virStorageSourceUpdate...`).
            return Err(VirError::new(
                ErrorDomain::Storage,
                ErrorCode::SystemError,
                format!(
                    "Cannot access storage file '{path}': {}",
                    oxvirt_domain::fsio::strerror(&e)
                ),
            ));
        }
    }
    Ok(())
}

/// 32 random bytes for QEMU's master key (`-object secret,id=masterKey0`).
fn master_key() -> Result<Vec<u8>, VirError> {
    let mut key = vec![0u8; 32];
    File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut key))
        .map_err(|e| internal(format!("cannot generate master key: {e}")))?;
    Ok(key)
}

/// Whether `path` is one a daemon made up for a channel (`.../channel/target/domain-*/F`,
/// libvirt's layout and oxvirtd's): the source host's, which a migrated domain does not
/// keep (libvirt drops such paths when it reads a definition, too).
fn made_up_channel_path(path: &str) -> bool {
    let dir = std::path::Path::new(path).parent();
    dir.and_then(|d| d.file_name())
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("domain-"))
        && dir
            .and_then(|d| d.parent())
            .is_some_and(|g| g.ends_with("channel/target"))
}

/// Gives each virtio channel of type `unix` without a path (or with one made up on another
/// host) (the guest agent's, as
/// virt-install adds it and as libvirt's migratable XML leaves it) a listening socket in
/// `dir`, named after the channel (`vioser-C-B-P.sock` without a name), as libvirt's
/// `qemuDomainPrepareChannel` does in its `channel_target_dir`; `dir` is created when
/// needed.
fn channel_paths(mut def: Domain, dir: &std::path::Path) -> Result<Domain, VirError> {
    use oxvirt_domain::devices::chardev::{ChannelTargetType, ChardevTargetType, SourceMode};
    for chan in &mut def.devices.channels {
        let target = chan.target.as_ref();
        let virtio = target.and_then(|t| t.kind)
            == Some(ChardevTargetType::Channel(ChannelTargetType::Virtio));
        let src = &mut chan.source;
        let own_path = src
            .sources
            .first()
            .and_then(|s| s.path.as_deref())
            .is_some_and(|p| !made_up_channel_path(p));
        if !virtio || src.kind != ChardevType::Unix || own_path {
            continue;
        }
        let file = match target.and_then(|t| t.name.as_deref()) {
            Some(name) => name.to_string(),
            None => match &chan.info.address {
                Some(oxvirt_domain::DeviceAddress::VirtioSerial {
                    controller,
                    bus,
                    port,
                    ..
                }) => format!(
                    "vioser-{:02}-{:02}-{:02}.sock",
                    controller.unwrap_or(0),
                    bus.unwrap_or(0),
                    port.unwrap_or(0)
                ),
                _ => continue,
            },
        };
        std::fs::create_dir_all(dir)
            .map_err(|e| internal(format!("cannot create directory '{}': {e}", dir.display())))?;
        if src.sources.is_empty() {
            src.sources.push(SourceSpec::default());
        }
        src.sources[0].mode = Some(SourceMode::Bind);
        src.sources[0].path = Some(dir.join(file).to_string_lossy().into_owned());
    }
    Ok(def)
}

/// Writes the pty QEMU opened for character device `dev` into it.
fn set_pty(dev: &mut Chardev, path: &str) {
    if dev.source.kind != ChardevType::Pty {
        return;
    }
    if dev.source.sources.is_empty() {
        dev.source.sources.push(SourceSpec::default());
    }
    dev.source.sources[0].path = Some(path.to_string());
    dev.tty = Some(path.to_string());
}

impl QemuDriver {
    /// Checks a definition can start here, before anything is created.
    pub(crate) async fn check_startable(&self, def: &Domain) -> Result<(), VirError> {
        if def.virt_type == VirtType::Kvm {
            if let Some(why) = kvm_unusable() {
                return Err(unsupported(format!(
                    "Domain requires KVM, but it is not available ({why}). Check that \
                     virtualization is enabled in the host BIOS, and host configuration is \
                     setup to load the kvm modules."
                )));
            }
        }
        let emulator = self.emulator_of(def);
        self.inner.caps.get(std::path::Path::new(&emulator)).await?;
        super::placement::check_numa_nodes(def)?;
        check_disk_sources(def)
    }

    /// Starts the inactive domain `uuid` (the caller holds its job). On failure nothing
    /// is left running and the domain is as it was.
    pub(crate) async fn start_domain(
        &self,
        uuid: &Uuid,
        cpus: Cpus,
        from: StartFrom,
    ) -> Result<(), VirError> {
        let def = {
            let list = self.domains();
            let obj = list
                .find_by_uuid(uuid)
                .ok_or_else(|| internal("domain vanished while starting"))?;
            if obj.is_active() {
                return Err(super::invalid("domain is already running"));
            }
            obj.def().clone()
        };
        self.check_startable(&def).await?;
        // A start forgets the last completed job (libvirt's `qemuProcessInit`).
        super::lock(&self.inner.completed_jobs).remove(uuid);
        // `type='volume'` disks: their pools' files, devices or LUNs (libvirt's
        // `virDomainDiskTranslateSourcePool`); QEMU opens what they resolved to.
        let resolved = self.resolve_volumes(&def).await?;
        let def = super::volumes::live_def(def, &resolved);
        check_disk_sources(&super::volumes::runtime_def(&def, &resolved))?;
        let def = self.reserve_graphics_ports(uuid, def)?;
        let def = self.plug_ports(def).await?;
        let id = self.domains().alloc_id();
        let name = def.name.clone();
        let config = &self.inner.config;
        let private_dir = config.state_dir.join(format!("domain-{id}-{name}"));
        let def = channel_paths(
            def,
            &config
                .state_dir
                .join(format!("channel/target/domain-{id}-{name}")),
        )?;
        let monitor = config.runtime_dir.join(format!("{id}.monitor"));
        let cleanup = |dir: &PathBuf| {
            let _ = std::fs::remove_dir_all(dir);
            let _ = std::fs::remove_file(&monitor);
        };
        let incoming = from.incoming;
        let defer = from.defer || incoming.is_some();
        let runtime = super::volumes::runtime_def(&def, &resolved);
        let started = self
            .launch(&runtime, id, &private_dir, &monitor, defer)
            .await;
        let (process, events) = match started {
            Ok(p) => p,
            Err(e) => {
                cleanup(&private_dir);
                self.unplug_ports(super::netports::live_ports(&def)).await;
                return Err(e);
            }
        };
        let vm = Arc::new(Vm::new(process, monitor.clone(), private_dir.clone()));
        let placement = def.clone();
        let live = self.live_definition(&vm, def).await;
        let found = {
            let mut list = self.domains();
            match list.find_by_uuid_mut(uuid) {
                Some(obj) => {
                    obj.assign_def(live, true);
                    obj.start(id, StateReason::Paused(PausedReason::StartingUp));
                    true
                }
                None => false,
            }
        };
        if !found {
            let _ = vm.process().destroy(false).await;
            cleanup(&private_dir);
            self.unplug_ports(super::netports::live_ports(&placement))
                .await;
            return Err(internal("domain vanished while starting"));
        }
        self.set_vm(*uuid, Some(vm.clone()));
        // From here every failure stops the domain through `finish_stop`, which clears it.
        self.set_in_use(&placement, &resolved);
        super::monitor::spawn(self, *uuid, vm.clone(), events);
        self.attach_taps(uuid, &vm).await?;
        self.set_graphics_passwords(uuid, &vm, &placement).await?;
        // The threads' affinity before the CPUs run (libvirt's qemuProcessSetup*).
        if let Err(e) = self.apply_placement(&vm, &placement).await {
            vm.set_stopping(super::vm::Stopping::Destroyed);
            let _ = vm.process().destroy(false).await;
            self.finish_stop(uuid, &vm, None).await;
            return Err(e);
        }
        if let Some(file) = incoming {
            if let Err(e) = self.load_state(&vm, file).await {
                vm.set_stopping(super::vm::Stopping::Destroyed);
                let _ = vm.process().destroy(false).await;
                self.finish_stop(uuid, &vm, None).await;
                return Err(e);
            }
        }
        // The start reports the CPUs starting itself: QEMU's RESUME is not reported again.
        vm.set_cpus_by_call(true);
        let state = match cpus {
            Cpus::Run(reason) => {
                if let Err(e) = vm.qmp().cont().await {
                    vm.set_cpus_by_call(false);
                    vm.set_stopping(super::vm::Stopping::Destroyed);
                    let _ = vm.process().destroy(false).await;
                    self.finish_stop(uuid, &vm, None).await;
                    return Err(e.into());
                }
                StateReason::Running(reason)
            }
            Cpus::Pause(reason) => StateReason::Paused(reason),
        };
        {
            let mut list = self.domains();
            if let Some(obj) = list.find_by_uuid_mut(uuid) {
                obj.state = state;
                if let Err(e) = self.save_status(obj, &vm) {
                    eprintln!("oxvirtd: cannot save the status of '{name}': {}", e.message);
                }
            }
        }
        vm.set_cpus_by_call(false);
        Ok(())
    }

    /// Creates the private directory and starts QEMU.
    async fn launch(
        &self,
        def: &Domain,
        id: i32,
        private_dir: &PathBuf,
        monitor: &std::path::Path,
        incoming: bool,
    ) -> Result<(QemuProcess, crate::qmp::Events), VirError> {
        let io = |what: &str, e: std::io::Error| {
            VirError::new(
                ErrorDomain::Qemu,
                ErrorCode::SystemError,
                format!(
                    "{what} '{}': {}",
                    private_dir.display(),
                    oxvirt_domain::fsio::strerror(&e)
                ),
            )
        };
        std::fs::create_dir_all(private_dir).map_err(|e| io("cannot create directory", e))?;
        std::fs::write(private_dir.join("master-key.aes"), master_key()?)
            .map_err(|e| io("cannot write master key in", e))?;
        let ctx = BuildContext {
            emulator: self.emulator_of(def),
            private_dir: private_dir.to_string_lossy().into_owned(),
            monitor: Monitor::Path(monitor.to_string_lossy().into_owned()),
            caps: Caps::qemu_7_2(),
            spice_tls_x509_dir: None,
            incoming: incoming.then(|| "defer".to_string()),
        };
        super::net::check_networks(def)?;
        let argv =
            super::net::argv_without_taps(command::build(&super::netports::as_bridged(def), &ctx)?);
        let mut env = command::env(def, &ctx);
        // QEMU runs with a minimal PATH; helpers it may run live in the usual places.
        for (k, v) in &mut env {
            if k == "PATH" {
                *v = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into();
            }
        }
        let _ = id;
        let launch = Launch::new(
            argv,
            env,
            self.inner.config.log_path(&def.name),
            monitor.to_path_buf(),
        );
        QemuProcess::start(&launch).await
    }

    /// The live definition of a domain QEMU now runs: the ptys it opened.
    pub(crate) async fn live_definition(&self, vm: &Vm, mut def: Domain) -> Domain {
        let Ok(chardevs) = vm.qmp().execute("query-chardev", None).await else {
            return def;
        };
        let ptys: Vec<(String, String)> = chardevs
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| {
                let label = c.get("label")?.as_str()?;
                let file = c.get("filename")?.as_str()?.strip_prefix("pty:")?;
                Some((label.to_string(), file.to_string()))
            })
            .collect();
        let pty = |label: String| {
            ptys.iter()
                .find(|(l, _)| *l == label)
                .map(|(_, f)| f.clone())
        };
        for (i, dev) in def.devices.serials.iter_mut().enumerate() {
            if let Some(path) = pty(format!("charserial{i}")) {
                set_pty(dev, &path);
            }
        }
        let first_serial = def.devices.serials.first().and_then(|s| s.tty.clone());
        for (i, dev) in def.devices.consoles.iter_mut().enumerate() {
            let on_serial = dev
                .target_type()
                .is_none_or(|t| t == ChardevTargetType::Console(ConsoleTargetType::Serial));
            if i == 0 && on_serial {
                if let Some(path) = &first_serial {
                    set_pty(dev, path);
                }
            } else if let Some(path) = pty(format!("charconsole{i}")) {
                set_pty(dev, &path);
            }
        }
        for (i, dev) in def.devices.channels.iter_mut().enumerate() {
            if let Some(path) = pty(format!("charchannel{i}")) {
                set_pty(dev, &path);
            }
        }
        def
    }

    /// Has a QEMU started with `-incoming defer` load its state from `file` (positioned at
    /// the migration stream), and waits until it has.
    async fn load_state(&self, vm: &Vm, file: File) -> Result<(), VirError> {
        use std::os::fd::AsFd;
        vm.qmp().send_fd("restore", file.as_fd()).await?;
        vm.qmp().migrate_incoming("fd:restore").await?;
        self.wait_incoming(vm).await
    }

    /// Waits until a QEMU started with `-incoming` has loaded its state.
    pub(crate) async fn wait_incoming(&self, vm: &Vm) -> Result<(), VirError> {
        loop {
            let status = vm.qmp().query_status().await?;
            if status.status != "inmigrate" {
                if status.status == "paused"
                    || status.status == "postmigrate"
                    || status.status == "prelaunch"
                    || status.status == "running"
                {
                    return Ok(());
                }
                return Err(VirError::new(
                    ErrorDomain::Qemu,
                    ErrorCode::OperationFailed,
                    format!(
                        "operation failed: job 'restore' failed: QEMU is {}",
                        status.status
                    ),
                ));
            }
            // Short: QEMU leaves `inmigrate` a moment after the stream ends, and a
            // migration's finish phase (downtime for the guest) waits on it.
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel_source(xml_source: &str) -> (Option<String>, bool) {
        let xml = format!(
            "<domain type='qemu'><name>g</name><memory>1024</memory><os><type>hvm</type></os>\
             <devices><channel type='unix'>{xml_source}\
             <target type='virtio' name='org.qemu.guest_agent.0'/></channel></devices></domain>"
        );
        let def = Domain::parse(&xml).expect("parse").domain;
        let dir = std::env::temp_dir().join(format!("oxvirt-chan-{}", std::process::id()));
        let def = channel_paths(def, &dir.join("channel/target/domain-3-g")).expect("paths");
        let _ = std::fs::remove_dir_all(&dir);
        let spec = &def.devices.channels[0].source.sources[0];
        (
            spec.path
                .clone()
                .map(|p| p.replace(&*dir.to_string_lossy(), "D")),
            spec.mode == Some(oxvirt_domain::devices::chardev::SourceMode::Bind),
        )
    }

    #[test]
    fn guest_agent_channels_get_a_socket_of_their_own() {
        let made = (
            Some("D/channel/target/domain-3-g/org.qemu.guest_agent.0".to_string()),
            true,
        );
        assert_eq!(channel_source(""), made);
        // The source host's made-up path (libvirt's or oxvirtd's) is replaced ...
        assert_eq!(
            channel_source(
                "<source mode='bind' path='/var/lib/libvirt/qemu/channel/target/\
                 domain-7-g/org.qemu.guest_agent.0'/>"
            ),
            made
        );
        // ... a path of the user's is kept.
        assert_eq!(
            channel_source("<source mode='bind' path='/run/ga.sock'/>"),
            (Some("/run/ga.sock".to_string()), true)
        );
    }
}
