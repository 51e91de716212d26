//! Checks across a whole domain definition that libvirt makes before accepting it.

use oxvirt_xml::{Result, XmlError};

use crate::domain::Domain;

impl Domain {
    /// Checks the definition as libvirt does when it is defined, failing with libvirt's
    /// error code and message for the first problem found.
    pub fn validate(&self) -> Result<()> {
        if self.memory.is_none() {
            return Err(XmlError::xml(
                "Memory size must be specified via <memory> or in the <numa> configuration",
            ));
        }
        Ok(())
    }
}
