//! libvirt's virtual networks for oxvirt.
//!
//! - [`model`]: the network XML (`<network>`): parse, validate, format in libvirt's layout,
//!   and `virNetworkUpdate`'s section edits.
//! - [`api`]: the [`NetworkDriver`] interface a backend implements (the daemon's bridge
//!   driver, the remote client), one method per `virNetwork*`/`virConnect*Network*` call,
//!   with libvirt's flags, events and DHCP leases.
//! - [`firewall`]: the nftables rules a set of active networks needs, as one table oxvirt
//!   owns, replaced in one atomic transaction per change.
//! - [`dnsmasq`]: dnsmasq's configuration and hosts files for a network, and its lease file.
//! - with the `host` feature, [`netlink`] (bridges, addresses, taps over rtnetlink) and
//!   [`driver`] (the network driver of `qemu:///system`: definitions on disk, start/stop,
//!   supervision, reconciliation after a restart).

pub mod api;
pub mod dnsmasq;
pub mod firewall;
pub mod model;

#[cfg(feature = "host")]
pub mod driver;
#[cfg(feature = "host")]
pub mod netlink;

pub use api::{NetworkDriver, NetworkEvent, NetworkEventBus, NetworkEventKind, NetworkRef, Update};
pub use oxvirt_domain::driver::ports::Lease;
