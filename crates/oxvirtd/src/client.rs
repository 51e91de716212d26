//! One client connection's state: the driver it opened and whether it is read-only.

use std::sync::{Arc, Mutex, PoisonError};

use oxvirt::uri::Uri;
use oxvirt_domain::driver::Hypervisor;
use oxvirt_driver_test::TestDriver;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

/// `VIR_CONNECT_RO`: the only CONNECT_OPEN flag the server honours.
pub const CONNECT_RO: u32 = 1;

/// What CONNECT_OPEN set up.
#[derive(Clone)]
struct Opened {
    driver: Arc<dyn Hypervisor>,
    readonly: bool,
}

/// A client of the daemon.
pub struct Client {
    readonly_socket: bool,
    opened: Mutex<Option<Opened>>,
}

/// The error for any call before CONNECT_OPEN (libvirt's daemon words it so).
pub fn not_open() -> VirError {
    VirError::new(
        ErrorDomain::Rpc,
        ErrorCode::InternalError,
        "connection not open",
    )
}

/// Opens the driver `name` names: `test:///default` or `test:///path/to/node.xml`; an
/// empty or missing name means `test:///default`.
pub fn open_driver(name: Option<&str>) -> Result<Arc<dyn Hypervisor>, VirError> {
    let name = name.filter(|n| !n.is_empty()).unwrap_or("test:///default");
    let no_connect = || VirError::new(ErrorDomain::None, ErrorCode::NoConnect, name);
    let uri = Uri::parse(name).map_err(|_| no_connect())?;
    if uri.scheme() != "test" || uri.host().is_some() || uri.path().is_empty() {
        return Err(no_connect());
    }
    Ok(Arc::new(TestDriver::open(uri.path())?))
}

impl Client {
    /// A client that connected through the read-only socket if `readonly_socket`.
    pub fn new(readonly_socket: bool) -> Self {
        Client {
            readonly_socket,
            opened: Mutex::new(None),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Opened>> {
        self.opened.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// CONNECT_OPEN: every flag but RO is ignored. A second open is refused.
    pub fn open(&self, name: Option<&str>, flags: u32) -> Result<(), VirError> {
        let mut slot = self.lock();
        if slot.is_some() {
            return Err(VirError::new(
                ErrorDomain::Rpc,
                ErrorCode::InternalError,
                "connection already open",
            ));
        }
        let driver = open_driver(name)?;
        *slot = Some(Opened {
            driver,
            readonly: self.readonly_socket || flags & CONNECT_RO != 0,
        });
        Ok(())
    }

    /// CONNECT_CLOSE.
    pub fn close(&self) {
        self.lock().take();
    }

    /// The opened driver.
    pub fn driver(&self) -> Result<Arc<dyn Hypervisor>, VirError> {
        self.lock()
            .as_ref()
            .map(|o| Arc::clone(&o.driver))
            .ok_or_else(not_open)
    }

    /// Whether the connection may only read.
    pub fn readonly(&self) -> bool {
        self.lock()
            .as_ref()
            .map_or(self.readonly_socket, |o| o.readonly)
    }

    /// The client asked for `VIR_DRV_FEATURE_PROGRAM_KEEPALIVE`: from now on the server
    /// may ping it (libvirt starts its own keepalive on the client at this point).
    pub fn keepalive_requested(&self) {}

    /// Whether CONNECT_OPEN succeeded.
    pub fn is_open(&self) -> bool {
        self.lock().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_uris_have_no_driver() {
        let Err(err) = open_driver(Some("qemu:///system")) else {
            panic!("qemu:///system opened")
        };
        assert_eq!(err.code, ErrorCode::NoConnect);
        assert_eq!(
            err.message,
            "no connection driver available for qemu:///system"
        );
        assert!(open_driver(Some("test://host/default")).is_err());
    }

    #[test]
    fn readonly_from_flags_or_socket() {
        let c = Client::new(false);
        assert!(!c.is_open());
        let Err(err) = c.driver() else {
            panic!("driver before open")
        };
        assert_eq!(err.message, "internal error: connection not open");
        c.open(Some("test:///default"), 6).unwrap();
        assert!(!c.readonly());
        assert!(c.open(Some("test:///default"), 0).is_err());
        c.close();
        c.open(None, CONNECT_RO).unwrap();
        assert!(c.readonly());
        let ro = Client::new(true);
        ro.open(Some("test:///default"), 0).unwrap();
        assert!(ro.readonly());
    }
}
