//! Which driver serves a URI: the one place where backends plug in.
//!
//! Today only libvirt's in-process test driver is here (`test:///default`,
//! `test:///path/to/node.xml`). The QEMU driver (`oxvirt-qemu`, for `qemu:///system` and
//! `qemu:///session` opened in the daemon's process) and the remote client (`oxvirt-rpc`,
//! for every URI with a host or a `+transport`, and for local `qemu:///...` through the
//! daemon's socket) come with their crates and are added to [`open_driver`]; until then
//! those URIs fail as libvirt fails a URI no driver accepts.

use std::sync::Arc;

use oxvirt_domain::driver::Hypervisor;
use oxvirt_driver_test::TestDriver;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use crate::uri::Uri;

/// Opens the driver for `uri`; `name` is the URI as the caller wrote it (after the default
/// was resolved), for messages.
pub(crate) async fn open_driver(uri: &Uri, name: &str) -> Result<Arc<dyn Hypervisor>, VirError> {
    match uri.scheme() {
        // libvirt's test driver is local only: a host or a transport goes to the daemon.
        "test" if !uri.is_remote() => open_test(uri),
        _ => Err(no_driver(name)),
    }
}

/// `VIR_ERR_NO_CONNECT`: "no connection driver available for qemu:///system".
pub(crate) fn no_driver(name: &str) -> VirError {
    VirError::new(ErrorDomain::None, ErrorCode::NoConnect, name)
}

/// libvirt's `testConnectOpen`: `/default` is the built-in node (shared by every
/// `test:///default` connection of the process, as in libvirt), any other path a node XML
/// file; an empty path or `/` fails with "testOpen: supply a path or use test:///default".
fn open_test(uri: &Uri) -> Result<Arc<dyn Hypervisor>, VirError> {
    Ok(Arc::new(TestDriver::open(uri.path())?))
}
