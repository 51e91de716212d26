//! The client side of libvirt's remote protocol: talk to oxvirtd or to a real libvirtd.
//!
//! - [`Connection`]: one multiplexed RPC connection (a reader task, a writer task, calls
//!   matched to replies by serial, events routed by callback ID, keepalive).
//! - [`transport`]: unix sockets, TCP, and the [`Transport`] trait for anything else;
//!   [`ssh`]: the system `ssh` as libvirt spawns it.
//! - [`RemoteDriver`]: an [`oxvirt_domain::driver::Hypervisor`] whose calls are REMOTE
//!   procedures, opened with libvirt's client handshake.
//! - [`RemoteNetworkDriver`]: an [`oxvirt_network::NetworkDriver`] over the same
//!   connection ([`RemoteDriver::network_driver`]).
//! - [`RemoteStorageDriver`]: an [`oxvirt_storage::api::StorageDriver`] over the same
//!   connection ([`RemoteDriver::storage_driver`]), volume transfers as (sparse) streams.
//! - [`msgs`]: the wire structs of the non-core procedures the driver needs.
//!
//! ```no_run
//! # async fn demo() -> Result<(), oxvirt_xml::VirError> {
//! use oxvirt_domain::driver::Hypervisor;
//! use oxvirt_remote::RemoteDriver;
//!
//! let drv = RemoteDriver::open_unix(
//!     "/var/run/libvirt/libvirt-sock".as_ref(),
//!     "qemu:///system",
//!     0,
//! )
//! .await?;
//! println!("{}", drv.hostname().await?);
//! drv.close().await
//! # }
//! ```

mod connection;
mod console;
mod driver;
mod hypervisor;
mod migrate_tunnel;
pub mod msgs;
mod network;
pub mod ssh;
mod storage;
mod stream;
pub mod transport;

pub use connection::{
    end_of_file, keepalive_timeout, socket_closed, Connection, EventMessage, EventSink, PendingCall,
};
pub use console::{ConsoleReader, ConsoleWriter};
pub use driver::{
    client_keepalive, decode_event, set_client_keepalive, RemoteDriver, CONNECT_RO, EVENT_IDS,
    FEATURE_PROGRAM_KEEPALIVE, KEEPALIVE_COUNT, KEEPALIVE_INTERVAL,
};
pub use network::{
    decode_network_event, lease_ref, network_ref, network_wire, RemoteNetworkDriver,
};
pub use ssh::{SshProxy, SshTarget};
pub use storage::{decode_pool_event, pool_ref, pool_wire, vol_ref, vol_wire, RemoteStorageDriver};
pub use stream::{IncomingStream, Piece};
pub use transport::Transport;
