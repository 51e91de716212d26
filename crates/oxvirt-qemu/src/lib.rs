//! oxvirt's QEMU/KVM driver: `qemu:///system` ([`driver::QemuDriver`]), built on the
//! domain model as a QEMU command line ([`command`]), an async client for QEMU's monitor
//! protocol ([`qmp`]), each binary's capabilities, probed once ([`caps`]), and QEMU
//! processes kept as direct children ([`process`]).

pub mod caps;
pub mod command;
pub mod domcaps;
pub mod driver;
pub mod guests;
pub mod process;
pub mod qmp;
