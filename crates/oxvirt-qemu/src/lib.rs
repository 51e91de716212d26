//! oxvirt's QEMU/KVM driver (in progress): the domain model as a QEMU command line
//! ([`command`]) and an async client for QEMU's monitor protocol ([`qmp`]).

pub mod command;
pub mod qmp;
