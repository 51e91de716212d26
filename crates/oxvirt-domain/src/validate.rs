//! Checks across a whole domain definition that libvirt makes before accepting it.
//!
//! Checks that need one element only are made while parsing, in the element's model; the
//! ones here need several parts of the definition at once. Checks that need a machine
//! type's bus topology (PCI slot plugging, USB ports) belong to the hypervisor driver.

use oxvirt_xml::types::size::parse_scaled;
use oxvirt_xml::{Element, Result, XmlError};

use crate::devices::DeviceContext;
use crate::domain::Domain;
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
        for shmem in self.devices.others.iter().filter(|e| e.name == "shmem") {
            validate_shmem(shmem)?;
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

/// libvirt's checks of a `<shmem>` device: a power-of-two size of at least 1 MiB, and MSI
/// only with a server.
fn validate_shmem(shmem: &Element) -> Result<()> {
    if let Some(size) = shmem.child("size") {
        let bytes = parse_scaled(size.text().trim(), size.attr("unit"), 1, u64::MAX)
            .map_err(|e| e.at(size.position))?;
        if !bytes.is_power_of_two() {
            return Err(XmlError::xml("shmem size must be a power of two").at(size.position));
        }
        if bytes < 1024 * 1024 {
            return Err(
                XmlError::xml("shmem size must be at least 1 MiB (1024 KiB)").at(size.position),
            );
        }
    }
    if shmem.child("msi").is_some() && shmem.child("server").is_none() {
        return Err(XmlError::xml("msi option is only supported with a server").at(shmem.position));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::Domain;

    fn check(devices: &str) -> Result<(), String> {
        let xml = format!(
            "<domain type='qemu'><name>t</name><memory>1024</memory><os><type>hvm</type></os>\
             <devices>{devices}</devices></domain>"
        );
        Domain::parse(&xml)
            .map_err(|e| e.to_string())?
            .domain
            .validate()
            .map_err(|e| e.message)
    }

    #[test]
    fn memory_is_required() {
        let d =
            Domain::parse("<domain type='qemu'><name>t</name><os><type>hvm</type></os></domain>")
                .unwrap()
                .domain;
        let err = d.validate().unwrap_err();
        assert_eq!(err.code, oxvirt_xml::ErrorCode::XmlError);
        assert!(err.message.starts_with("Memory size must be specified"));
    }

    #[test]
    fn shmem_rules() {
        assert_eq!(
            check("<shmem name='a'><size unit='K'>12345</size></shmem>").unwrap_err(),
            "shmem size must be a power of two"
        );
        assert_eq!(
            check("<shmem name='a'><size unit='K'>16</size></shmem>").unwrap_err(),
            "shmem size must be at least 1 MiB (1024 KiB)"
        );
        assert_eq!(
            check("<shmem name='a'><msi/></shmem>").unwrap_err(),
            "msi option is only supported with a server"
        );
        assert!(check("<shmem name='a'><size unit='M'>4</size></shmem>").is_ok());
    }
}
