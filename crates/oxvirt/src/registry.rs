//! Which driver serves a URI: the one place where backends plug in.
//!
//! libvirt's in-process test driver serves `test:///default` and `test:///path/node.xml`.
//! Every other URI goes to the remote driver ([`oxvirt_remote::RemoteDriver`]), as in
//! libvirt's client library: a URI with a host or a `+transport`, and any local scheme with
//! no in-process driver (`qemu:///system` reaches the daemon's socket, which answers "no
//! connection driver available" for schemes it lacks). [`crate::remote_uri`] computes the
//! socket or address and the name opened there. (The QEMU driver, opened in the daemon's
//! own process, is added here when it lands.) A remote connection carries the network and
//! storage calls too.

use std::sync::Arc;

use oxvirt_domain::driver::Hypervisor;
use oxvirt_driver_test::TestDriver;
use oxvirt_network::NetworkDriver;
use oxvirt_storage::api::StorageDriver;
use oxvirt_xml::VirError;

use oxvirt_remote::{RemoteDriver, CONNECT_RO};

use crate::remote_uri::{self, Target};
use crate::uri::Uri;

/// A hypervisor driver and the network and storage drivers beside it, if any.
pub(crate) type Drivers = (
    Arc<dyn Hypervisor>,
    Option<Arc<dyn NetworkDriver>>,
    Option<Arc<dyn StorageDriver>>,
);

/// Opens the driver for `uri`, read-only (`read_only`) or read-write: a remote open then
/// passes `VIR_CONNECT_RO` and picks the `-ro` socket. The connection's network driver
/// comes with it: a remote connection carries the network calls too.
pub(crate) async fn open_drivers(uri: &Uri, read_only: bool) -> Result<Drivers, VirError> {
    match uri.scheme() {
        // libvirt's test driver is local only: a host or a transport goes to the daemon.
        "test" if !uri.is_remote() => open_test(uri),
        _ => open_remote(uri, read_only).await,
    }
}

/// Opens `uri` through a daemon, as libvirt's remote driver does.
async fn open_remote(uri: &Uri, read_only: bool) -> Result<Drivers, VirError> {
    let route = remote_uri::route(uri, read_only, &remote_uri::HostEnv::current())?;
    let flags = if read_only { CONNECT_RO } else { 0 };
    let driver = match &route.target {
        Target::Unix(path) => RemoteDriver::open_unix(path, &route.name, flags).await?,
        Target::Tcp { host, port } => {
            RemoteDriver::open_tcp(host, *port, &route.name, flags).await?
        }
        Target::Tls {
            host,
            port,
            pkipath,
            no_verify,
            no_sanity,
        } => {
            let options = oxvirt_remote::transport::TlsOptions {
                pkipath: pkipath.clone(),
                no_verify: *no_verify,
                no_sanity: *no_sanity,
            };
            RemoteDriver::open_tls(host, *port, &options, &route.name, flags).await?
        }
        Target::Ssh(ssh) => RemoteDriver::open_ssh(ssh, &route.name, flags).await?,
    };
    let network: Arc<dyn NetworkDriver> = Arc::new(driver.network_driver());
    let storage = remote_storage(&driver);
    Ok((Arc::new(driver), Some(network), storage))
}

/// The storage driver of a remote connection: the daemon's, over the same connection.
fn remote_storage(driver: &RemoteDriver) -> Option<Arc<dyn StorageDriver>> {
    Some(Arc::new(driver.storage_driver()))
}

/// libvirt's `testConnectOpen`: `/default` is the built-in node (shared by every
/// `test:///default` connection of the process, as in libvirt), any other path a node XML
/// file; an empty path or `/` fails with "testOpen: supply a path or use test:///default".
/// The node's networks and storage pools come with it.
fn open_test(uri: &Uri) -> Result<Drivers, VirError> {
    let driver = TestDriver::open(uri.path())?;
    let network: Arc<dyn NetworkDriver> = Arc::new(driver.network_driver());
    let storage: Arc<dyn StorageDriver> = Arc::new(driver.storage_driver());
    Ok((Arc::new(driver), Some(network), Some(storage)))
}
