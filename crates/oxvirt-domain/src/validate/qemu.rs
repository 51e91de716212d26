//! Checks libvirt's QEMU driver makes (`qemu_validate.c`) beyond the generic ones, for the
//! parts that need no QEMU binary's capabilities.
//!
//! libvirt's generic validation, and so its test driver, accepts what these refuse: a disk
//! target naming a partition (`hda1`), vendor and product strings on a disk that is not
//! SCSI, a shared memory size that is not a power of two or is below 1 MiB. The QEMU driver
//! calls [`Domain::validate_qemu`] after [`Domain::validate`].

use oxvirt_xml::Result;

use crate::devices::shmem;
use crate::domain::Domain;

impl Domain {
    /// The QEMU driver's own checks of the definition (see the module documentation),
    /// failing with libvirt's error code and message for the first problem found.
    pub fn validate_qemu(&self) -> Result<()> {
        for d in &self.devices.disks {
            d.validate_qemu()?;
        }
        for s in shmem::shmems(&self.devices.others) {
            s?.validate_qemu()?;
        }
        Ok(())
    }
}
