//! The domain model as a QEMU command line, as libvirt 9.0's `qemuBuildCommandLine` builds
//! it for QEMU 7.2.
//!
//! [`build`] turns a parsed [`Domain`] and a [`BuildContext`] (emulator, private directory,
//! monitor, the capabilities we model) into an argv; [`env()`] gives its environment and
//! [`format_args()`] lays both out as libvirt's `qemuxml2argvdata/*.args` files do. The options
//! come in libvirt's order: [`general`] (`-name` to `-boot`, with [`firmware`] and
//! [`resources`]), controllers and hubs ([`devices`]), [`disk`]s, then [`net`], [`chardev`],
//! inputs, audio, [`graphics`], [`video`], the balloon, and `<qemu:commandline>`
//! ([`passthrough`]). PCI slots (and s390 CCW numbers) the XML leaves out are assigned by
//! [`pci`]. What is not built yet is refused with `VIR_ERR_CONFIG_UNSUPPORTED`.

pub mod audio;
pub mod chardev;
pub mod devices;
pub mod disk;
pub mod firmware;
mod format;
pub mod general;
pub mod graphics;
pub mod net;
pub mod passthrough;
pub mod pci;
pub mod redirdev;
pub mod resources;
pub mod sound;
#[cfg(test)]
mod tests;
pub mod video;

pub use format::{format_args, shell_escape};

use oxvirt_domain::Domain;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

/// Capabilities of the QEMU binary that change the command line, as a few booleans.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Caps {
    /// `-machine ...,acpi=on|off` is known (otherwise `-no-acpi` is used).
    pub machine_acpi: bool,
    /// `-cpu host,migratable=on|off` is known.
    pub cpu_migratable: bool,
    /// `-smp ...,dies=N` is known.
    pub smp_dies: bool,
    /// `piix3-usb-uhci` is a device (otherwise the legacy `-usb` is used).
    pub piix3_usb_uhci: bool,
    /// `-global kvm-pit.lost_tick_policy` is known.
    pub kvm_pit_tick_policy: bool,
    /// `-spice disable-ticketing=on` is known (and needed without a password).
    pub spice_disable_ticketing: bool,
    /// The PC speaker's backend is a machine property (`pcspk-audiodev`; `-soundhw` is gone).
    pub machine_pcspk_audiodev: bool,
    /// Machine types from 5.1 on refuse `-numa node,mem=` (QEMU's `numa-mem-supported` is
    /// false): each guest NUMA cell gets a `memory-backend-ram` object (`memdev`).
    pub numa_memdev: bool,
}

impl Caps {
    /// The fixed fake capability set libvirt's `qemuxml2argvtest` uses for cases without a
    /// QEMU version in their name.
    pub fn libvirt_test() -> Self {
        Caps::default()
    }

    /// The capabilities of QEMU 7.2 on x86_64.
    pub fn qemu_7_2() -> Self {
        Caps {
            machine_acpi: true,
            cpu_migratable: true,
            smp_dies: true,
            piix3_usb_uhci: true,
            kvm_pit_tick_policy: true,
            spice_disable_ticketing: true,
            machine_pcspk_audiodev: true,
            numa_memdev: true,
        }
    }
}

/// How QEMU reaches its monitor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Monitor {
    /// A listening socket passed as an open file descriptor.
    Fd(i32),
    /// A UNIX socket path QEMU listens on.
    Path(String),
}

/// What the command line needs beyond the domain definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildContext {
    /// The emulator used when the domain names none (`<emulator>`).
    pub emulator: String,
    /// The domain's private directory (`/var/lib/libvirt/qemu/domain-<id>-<name>`): HOME,
    /// the XDG directories and the master key live there.
    pub private_dir: String,
    /// The monitor channel.
    pub monitor: Monitor,
    /// The capabilities of the binary.
    pub caps: Caps,
    /// qemu.conf's `spice_tls`: the directory of the SPICE server's certificates
    /// (`spice_tls_x509_cert_dir`) when TLS is on, `None` when it is off (the default).
    pub spice_tls_x509_dir: Option<String>,
    /// `-incoming`: where QEMU reads a migration stream from at start (`defer`: from the
    /// URI a later `migrate-incoming` gives, as libvirt starts a migration's destination
    /// and a restore), `None` for a fresh start.
    pub incoming: Option<String>,
}

impl BuildContext {
    /// The context of libvirt's `qemuxml2argvtest` for the domain `name`: private directory
    /// `/tmp/lib/domain--1-<name>`, monitor fd 1729, the fake capability set, SPICE TLS on
    /// with its certificates in `/etc/pki/libvirt-spice`.
    pub fn libvirt_test(name: &str) -> Self {
        BuildContext {
            emulator: "/usr/bin/qemu-system-x86_64".to_string(),
            private_dir: format!("/tmp/lib/domain--1-{name}"),
            monitor: Monitor::Fd(1729),
            caps: Caps::libvirt_test(),
            spice_tls_x509_dir: Some("/etc/pki/libvirt-spice".to_string()),
            incoming: None,
        }
    }

    /// The environment QEMU runs with, in libvirt's order.
    pub fn env(&self) -> Vec<(String, String)> {
        let dir = &self.private_dir;
        [
            ("LC_ALL", "C".to_string()),
            ("PATH", "/bin".to_string()),
            ("HOME", dir.clone()),
            ("USER", "test".to_string()),
            ("LOGNAME", "test".to_string()),
            ("XDG_DATA_HOME", format!("{dir}/.local/share")),
            ("XDG_CACHE_HOME", format!("{dir}/.cache")),
            ("XDG_CONFIG_HOME", format!("{dir}/.config")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}

/// The environment QEMU runs with for `domain`: [`BuildContext::env`] and what its
/// graphics need.
pub fn env(domain: &Domain, ctx: &BuildContext) -> Vec<(String, String)> {
    let mut env = ctx.env();
    env.extend(passthrough::env(domain));
    env.extend(graphics::env(domain));
    env
}

/// An error for a configuration this generator does not build yet.
pub(crate) fn unsupported(what: impl AsRef<str>) -> VirError {
    VirError::new(ErrorDomain::Qemu, ErrorCode::ConfigUnsupported, what)
}

/// Builds QEMU's argv (program first) for `domain`.
pub fn build(domain: &Domain, ctx: &BuildContext) -> Result<Vec<String>, VirError> {
    let mut argv = Args::default();
    let emulator = domain
        .devices
        .emulator
        .clone()
        .unwrap_or_else(|| ctx.emulator.clone());
    argv.push(emulator);
    let plan = pci::Plan::new(domain)?;
    general::build(&mut argv, domain, ctx)?;
    devices::controllers(&mut argv, domain, ctx, &plan)?;
    devices::hubs(&mut argv, domain)?;
    disk::build(&mut argv, domain, &plan)?;
    devices::build(&mut argv, domain, ctx, &plan)?;
    for arg in passthrough::args(domain) {
        argv.push(arg);
    }
    argv.opt("-msg", "timestamp=on");
    Ok(argv.0)
}

/// An argv under construction.
#[derive(Debug, Default)]
pub struct Args(pub Vec<String>);

impl Args {
    /// Adds one argument.
    pub fn push(&mut self, arg: impl Into<String>) {
        self.0.push(arg.into());
    }

    /// Adds an option and its value.
    pub fn opt(&mut self, name: &str, value: impl Into<String>) {
        self.0.push(name.to_string());
        self.0.push(value.into());
    }
}
