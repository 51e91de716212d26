//! The defaults libvirt fills in after parsing a domain, so that its formatted XML says
//! what will actually be used.

use oxvirt_xml::types::uuid::Uuid;
use oxvirt_xml::Result;

use crate::clock::Clock;
use crate::devices::DeviceContext;
use crate::domain::{Domain, LifecycleAction};
use crate::memory::MemorySize;
use crate::tuning::apply_tuning_defaults;

/// The host architecture in libvirt's spelling (`x86_64`, `aarch64`, `ppc64le`, ...).
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86" => "i686",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "powerpc64" => "ppc64",
        other => other,
    }
}

impl Domain {
    /// Fills in what libvirt's generic parse and post-parse steps fill in, for a guest of
    /// this host's architecture: see [`Domain::apply_defaults_for`].
    pub fn apply_defaults(&mut self) -> Result<()> {
        self.apply_defaults_for(host_arch())
    }

    /// Fills in what libvirt's generic parse and post-parse steps fill in: a UUID and a VM
    /// generation ID where asked for, current memory, lifecycle actions, the clock, the
    /// guest architecture (`host_arch` when none is given) and boot device, and each
    /// device's own defaults. Driver-specific defaults (machine types, PCI addresses,
    /// implicit controllers) belong to the drivers.
    ///
    /// Fails where libvirt's post-parse step fails (for example a second console that
    /// claims to be a serial port).
    pub fn apply_defaults_for(&mut self, host_arch: &str) -> Result<()> {
        if self.uuid.is_none() {
            self.uuid = Uuid::new_v4().ok();
        }
        if self.genid.as_deref() == Some("") {
            self.genid = Uuid::new_v4().ok().map(|u| u.to_string());
        }
        let numa_kib = self.cpu.as_ref().map_or(0, |c| c.numa_memory_kib());
        if numa_kib > 0 {
            // With guest NUMA cells, the memory size is theirs (virDomainDefPostParseMemory).
            self.memory.get_or_insert_with(MemorySize::default).kib = numa_kib;
        }
        let numa_cells = self.cpu.as_ref().map_or(0, |c| c.numa_cells());
        if let Some(b) = self.memory_backing.as_mut() {
            b.apply_defaults(numa_cells);
        }
        apply_tuning_defaults(
            &mut self.vcpu,
            &mut self.vcpus,
            &mut self.iothreads,
            &mut self.iothreadids,
            &mut self.cputune,
            &mut self.numatune,
        );
        if self.cputune.as_ref().is_some_and(|t| t.is_empty()) {
            self.cputune = None;
        }
        if self.numatune.as_ref().is_some_and(|t| t.is_empty()) {
            self.numatune = None;
        }
        if let Some(total) = self.memory.as_ref().map(|m| m.kib) {
            match self.current_memory {
                Some(cur) if cur > 0 && cur <= total => {}
                _ => self.current_memory = Some(total),
            }
        }
        self.on_poweroff.get_or_insert(LifecycleAction::Destroy);
        self.on_reboot.get_or_insert(LifecycleAction::Restart);
        self.on_crash.get_or_insert(LifecycleAction::Destroy);
        self.clock.get_or_insert_with(Clock::default);
        let device_boot = self.devices.has_boot_order();
        if let Some(os) = self.os.as_mut() {
            os.apply_defaults(host_arch, device_boot);
        }
        let cx = DeviceContext {
            os_type: self.os.as_ref().and_then(|o| o.os_type),
            arch: self.os.as_ref().and_then(|o| o.arch.as_deref()),
            virt_type: oxvirt_xml::XmlEnum::as_xml_str(&self.virt_type),
        };
        self.devices.apply_defaults(cx)
    }
}

#[cfg(test)]
mod tests {
    use crate::Domain;

    #[test]
    fn fills_in_what_libvirt_fills_in() {
        let mut d = Domain::parse(
            "<domain type='qemu'><name>t</name><memory unit='MiB'>1</memory><genid/>\
             <os><type>hvm</type></os></domain>",
        )
        .unwrap()
        .domain;
        d.apply_defaults_for("x86_64").unwrap();
        assert!(d.uuid.is_some());
        assert_eq!(d.genid.as_ref().map(String::len), Some(36));
        assert_eq!(d.current_memory, Some(1024));
        let xml = d.to_xml();
        for part in [
            "<type arch='x86_64'>hvm</type>",
            "<boot dev='hd'/>",
            "<clock offset='utc'/>",
            "<on_poweroff>destroy</on_poweroff>",
            "<on_reboot>restart</on_reboot>",
            "<on_crash>destroy</on_crash>",
        ] {
            assert!(xml.contains(part), "{part} missing from\n{xml}");
        }
    }
}
