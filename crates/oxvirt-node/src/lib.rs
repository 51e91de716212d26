//! A Linux node as libvirt describes it: NUMA cells and their CPUs, caches, memory, huge
//! pages, node info, CPU and memory statistics, SMBIOS data, and the capabilities XML.
//!
//! Everything is read below a [`Host`]'s root (`/` on a real node), so a fake sysfs/procfs
//! tree (libvirt's own test data) describes any machine.

mod root;

pub mod caps;
pub mod cpumap;
pub mod hostcpu;
pub mod memory;
pub mod nodeinfo;
pub mod stats;
pub mod sysinfo;
pub mod topology;

pub use root::Host;
