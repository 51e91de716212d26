//! Checks across a whole domain definition that libvirt makes before accepting it.
//!
//! Checks that need one element only are made while parsing, in the element's model; the
//! ones here need several parts of the definition at once. Checks that need a machine
//! type's bus topology (PCI slot plugging, USB ports) belong to the hypervisor driver, and
//! the QEMU driver's own checks are in [`Domain::validate_qemu`].

mod aliases;
mod qemu;

use oxvirt_xml::{Element, Result, XmlError};

use crate::devices::DeviceContext;
use crate::domain::{Domain, LifecycleAction};
use crate::os::Os;
use crate::tuning::TuningView;

impl Domain {
    /// Checks the definition as libvirt does when it is defined, failing with libvirt's
    /// error code and message for the first problem found.
    pub fn validate(&self) -> Result<()> {
        let has_bootloader = self.unknown.elements().any(|e| e.name == "bootloader");
        Os::check_type(self.os.as_ref(), has_bootloader)?;
        self.validate_memory()?;
        self.validate_seclabels()?;
        TuningView {
            vcpu: self.vcpu.as_ref(),
            vcpus: self.vcpus.as_ref(),
            iothreads: self.iothreads.as_ref(),
            iothreadids: self.iothreadids.as_ref(),
            cputune: self.cputune.as_ref(),
            numatune: self.numatune.as_ref(),
            cpu: self.cpu.as_ref(),
        }
        .validate()?;
        if let Some(b) = &self.memory_backing {
            b.validate(self.cpu.as_ref().map_or(0, |c| c.numa_cells()))?;
        }
        let device_boot = self.devices.has_boot_order();
        if let Some(os) = &self.os {
            os.validate(device_boot)?;
        }
        if let Some(clock) = &self.clock {
            clock.validate()?;
        }
        let cx = DeviceContext {
            os_type: self.os.as_ref().and_then(|o| o.os_type),
            arch: self.os.as_ref().and_then(|o| o.arch.as_deref()),
            virt_type: oxvirt_xml::XmlEnum::as_xml_str(&self.virt_type),
        };
        self.devices.validate(cx)?;
        aliases::validate_aliases(&self.devices)?;
        self.validate_lifecycle()
    }

    /// The actions each lifecycle event allows (`virDomainDefLifecycleActionAllowed`):
    /// powering off and rebooting cannot dump core; a crash may do anything.
    fn validate_lifecycle(&self) -> Result<()> {
        for (event, action) in [("poweroff", self.on_poweroff), ("reboot", self.on_reboot)] {
            if let Some(a @ (LifecycleAction::CoredumpDestroy | LifecycleAction::CoredumpRestart)) =
                action
            {
                return Err(XmlError::unsupported(format!(
                    "Lifecycle event '{event}' doesn't support '{a}' action"
                )));
            }
        }
        Ok(())
    }

    fn validate_memory(&self) -> Result<()> {
        let has_memory = self.memory.as_ref().is_some_and(|m| m.kib > 0)
            || self.cpu.as_ref().is_some_and(|c| c.numa_memory_kib() > 0);
        if !has_memory {
            return Err(XmlError::xml(
                "Memory size must be specified via <memory> or in the <numa> configuration",
            ));
        }
        Ok(())
    }

    /// With several top-level `<seclabel>`s, each must name its security model.
    fn validate_seclabels(&self) -> Result<()> {
        let labels: Vec<&Element> = self
            .unknown
            .elements()
            .filter(|e| e.name == "seclabel")
            .collect();
        if labels.len() > 1 {
            if let Some(l) = labels.iter().find(|l| l.attr("model").is_none()) {
                return Err(
                    XmlError::xml("missing security model when using multiple labels")
                        .at(l.position),
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
