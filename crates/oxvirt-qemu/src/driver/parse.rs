//! Reading a definition as the QEMU driver does (`qemuDomainDefPostParse`): libvirt's
//! generic defaults for the host's architecture, the emulator filled in, the machine type
//! made canonical from the emulator's capabilities (`pc` becomes `pc-i440fx-7.2`), and the
//! virtualization type checked against what the emulator offers.

use std::path::Path;

use oxvirt_domain::defaults::{host_arch, DriverDefaults};
use oxvirt_domain::devices::video::VideoModelType;
use oxvirt_domain::os::OsType;
use oxvirt_domain::{Domain, VirtType};
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use super::QemuDriver;

#[path = "defaults/mod.rs"]
#[allow(dead_code)]
pub(crate) mod defaults;

fn domain_error(e: oxvirt_xml::XmlError) -> VirError {
    VirError::from_xml(e, ErrorDomain::Domain)
}

/// QEMU's choices in libvirt's post-parse step: wide SCSI buses, Cirrus for x86 adapters
/// of the default model (as libvirt 9.0 with QEMU 7.2).
fn policy() -> DriverDefaults {
    DriverDefaults {
        video: VideoModelType::Cirrus,
        wide_scsi: true,
    }
}

/// Parses and completes a definition without consulting the emulator (a kept config, a
/// status file): the generic defaults only (a kept config already carries the driver's).
pub(crate) fn parse_config(xml: &str) -> Result<Domain, VirError> {
    let mut def = Domain::parse(xml).map_err(domain_error)?.domain;
    def.id = None;
    def.apply_defaults_with(host_arch(), &policy())
        .map_err(domain_error)?;
    Ok(def)
}

/// `VIR_ERR_CONFIG_UNSUPPORTED` from the QEMU driver.
pub(crate) fn unsupported(detail: impl AsRef<str>) -> VirError {
    VirError::new(ErrorDomain::Qemu, ErrorCode::ConfigUnsupported, detail)
}

impl QemuDriver {
    /// The emulator binary of `def`.
    pub(crate) fn emulator_of(&self, def: &Domain) -> String {
        def.devices
            .emulator
            .clone()
            .unwrap_or_else(|| self.inner.config.emulator.to_string_lossy().into_owned())
    }

    /// Parses a definition given to define or create: libvirt's checks and defaults, then
    /// the emulator's (probed once per binary).
    pub(crate) async fn parse_definition(&self, xml: &str) -> Result<Domain, VirError> {
        let mut def = Domain::parse(xml).map_err(domain_error)?.domain;
        def.id = None;
        match def.virt_type {
            VirtType::Qemu | VirtType::Kvm => {}
            other => {
                return Err(unsupported(format!(
                    "Emulator '{}' does not support virt type '{other}'",
                    self.emulator_of(&def)
                )))
            }
        }
        if let Some(os) = &def.os {
            if os.os_type.is_some_and(|t| t != OsType::Hvm) {
                return Err(unsupported(format!(
                    "Emulator '{}' does not support os type '{}'",
                    self.emulator_of(&def),
                    os.os_type.map(|t| t.to_string()).unwrap_or_default()
                )));
            }
        }
        let emulator = self.emulator_of(&def);
        let caps = self.inner.caps.get(Path::new(&emulator)).await?;
        def.devices.emulator = Some(emulator);
        let os = def.os.get_or_insert_with(Default::default);
        let wanted = os.machine.clone();
        let machine = match &wanted {
            None => caps.machines.iter().find(|m| m.is_default),
            Some(name) => caps
                .machines
                .iter()
                .find(|m| &m.name == name || m.alias.as_deref() == Some(name.as_str())),
        };
        match machine {
            Some(m) => os.machine = Some(m.name.clone()),
            None => {
                return Err(unsupported(format!(
                    "Emulator '{}' does not support machine type '{}'",
                    caps.binary.display(),
                    wanted.unwrap_or_default()
                )))
            }
        }
        defaults::qemu_post_parse(
            &mut def,
            &defaults::QemuDefaults::QEMU_7_2,
            host_arch(),
            &policy(),
        )?;
        def.validate().map_err(domain_error)?;
        Ok(def)
    }
}
