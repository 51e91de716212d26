//! Helpers shared by the integration tests: the built daemon on private directories
//! ([`daemon`]), a raw protocol client ([`raw`]) and the real clients (virsh, python3) with
//! a uniform way to report a skipped test ([`clients`]).

// Test helpers may panic: a failed setup is a failed test. Not every test binary uses
// every helper.
#![allow(clippy::unwrap_used, dead_code, unused_imports)]

pub mod clients;
pub mod daemon;
pub mod golibvirt;
pub mod migrate;
pub mod netns;
pub mod qemu;
pub mod raw;
pub mod sshd;
pub mod tls;

pub use clients::*;
pub use daemon::*;
pub use raw::*;
