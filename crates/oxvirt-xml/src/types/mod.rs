//! Value types shared by libvirt's XML formats, parsed and formatted exactly as libvirt does.
//!
//! * Scaled integers such as `<memory unit='MiB'>512</memory>`, in [`size`].
//! * CPU lists such as `cpuset='0-3,^2,8'`, in [`cpuset`].
//! * UUIDs, in [`uuid`].
//! * MAC addresses, in [`mac`].

pub mod cpuset;
pub mod mac;
pub mod size;
pub mod time;
pub mod uuid;

pub use cpuset::{CpuSet, CPUSET_MAX};
pub use mac::MacAddr;
pub use size::{parse_memory_kib, parse_scaled, scale_integer, Unit};
pub use uuid::Uuid;
