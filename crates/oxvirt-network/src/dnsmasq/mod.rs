//! dnsmasq for a network: configuration, hosts files, leases, and (feature `host`) the
//! process.
//!
//! - [`conf`]: the configuration file as libvirt 9.0 writes it ([`config`]), the DHCP
//!   hosts file ([`hosts_file`]) and the additional hosts file of `<dns><host>`
//!   ([`addn_hosts`]), with the paths in [`Paths`].
//! - [`leases`]: dnsmasq's lease file read into `virNetworkDHCPLease`s ([`parse_leases`]).
//! - [`process`] (feature `host`): one network's dnsmasq: files written atomically,
//!   spawn, reload (SIGHUP), stop, reattach after a daemon restart, and supervision.

pub mod conf;
pub mod leases;
#[cfg(feature = "host")]
pub mod process;

pub use conf::{
    addn_hosts, change, config, hosts_file, lease_prefix, needs_dnsmasq, Change, Paths,
};
pub use leases::{parse_leases, read_leases};
#[cfg(feature = "host")]
pub use process::{Backoff, Dnsmasq, Launcher, Supervisor};
