//! libvirt's test driver for oxvirt: `test:///default` and `test:///path/to/node.xml`.
//!
//! An in-memory hypervisor that behaves as libvirt 9.0's `src/test/test_driver.c` does
//! through the public API: the same built-in default node, the same node-file format
//! (with the `http://libvirt.org/schemas/domain/test/1.0` namespace for initial states,
//! managed-save images and snapshots), the same state transitions, reasons, events, errors
//! and formatted XML.
//!
//! For a daemon, [`TestDriver::open_with_state`] keeps `test:///default` under a state
//! directory across restarts (layout and guarantees in [`persist`]).
//! Domain statistics are in [`stats`]. The node's virtual networks and storage pools are
//! served by [`TestDriver::network_driver`] and [`TestDriver::storage_driver`].
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use oxvirt_domain::driver::Hypervisor;
//! let conn = oxvirt_driver_test::TestDriver::open_isolated("/default").unwrap();
//! let dom = conn.lookup_by_name("test").await.unwrap();
//! assert_eq!(dom.id, 1);
//! # });
//! ```

mod alias;
mod buses;
mod config;
mod driver;
mod format;
mod host;
mod hypervisor;
mod lifecycle;
mod network;
mod node;
mod parse;
pub mod persist;
mod placement;
mod query;
mod resources;
mod save;
mod screenshot;
mod snapshots;
pub mod stats;
mod storage;

pub use driver::TestDriver;
pub use hypervisor::{TEST_MAX_VCPUS, TEST_VERSION};
pub use network::TestNetworks;
pub use node::{Cell, DEFAULT_NODE_XML};
pub use parse::{TestNs, TEST_ARCH, TEST_NAMESPACE};
pub use resources::{InterfaceObj, NetworkObj, NodeDeviceObj, PoolObj, VolumeObj};
pub use save::{MAX_SAVED_XML, SAVE_MAGIC};
pub use screenshot::{gradient_png, screenshot_png, PNG_SIGNATURE, SCREENSHOT_MIME};
pub use storage::{TestStorage, DEFAULT_POOL_CAPACITY};

#[cfg(test)]
mod tests;
