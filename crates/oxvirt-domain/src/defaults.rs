//! The defaults libvirt fills in after parsing a domain, so that its formatted XML says
//! what will actually be used.

use oxvirt_xml::types::uuid::Uuid;

use crate::domain::{Domain, LifecycleAction};

impl Domain {
    /// Fills in what libvirt's generic parse and post-parse steps fill in: a UUID and a VM
    /// generation ID where asked for, current memory, lifecycle actions, and each element's
    /// own defaults. Driver-specific defaults (machine types, PCI addresses, implicit
    /// controllers) belong to the drivers.
    pub fn apply_defaults(&mut self) {
        if self.uuid.is_none() {
            self.uuid = Uuid::new_v4().ok();
        }
        if self.genid.as_deref() == Some("") {
            self.genid = Uuid::new_v4().ok().map(|u| u.to_string());
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
    }
}

#[cfg(test)]
mod tests {
    use crate::Domain;

    #[test]
    fn fills_in_what_libvirt_fills_in() {
        let mut d = Domain::parse(
            "<domain type='qemu'><name>t</name><memory unit='MiB'>1</memory><genid/></domain>",
        )
        .unwrap()
        .domain;
        d.apply_defaults();
        assert!(d.uuid.is_some());
        assert_eq!(d.genid.as_ref().map(String::len), Some(36));
        assert_eq!(d.current_memory, Some(1024));
        let xml = d.to_xml();
        assert!(xml.contains("<on_poweroff>destroy</on_poweroff>"), "{xml}");
        assert!(xml.contains("<on_reboot>restart</on_reboot>"), "{xml}");
        assert!(xml.contains("<on_crash>destroy</on_crash>"), "{xml}");
    }
}
