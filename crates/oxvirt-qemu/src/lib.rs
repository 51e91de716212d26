//! oxvirt's QEMU/KVM driver (in progress): the domain model as a QEMU command line
//! ([`command`]), an async client for QEMU's monitor protocol ([`qmp`]), and each binary's
//! capabilities, probed once ([`caps`]).

pub mod caps;
pub mod command;
pub mod process;
pub mod qmp;
