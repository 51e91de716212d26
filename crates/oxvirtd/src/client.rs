//! One client connection's state: the driver it opened, whether it is read-only, its event
//! callbacks and whether it asked for keepalive.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use oxvirt::uri::Uri;
use oxvirt_domain::driver::{DomainRef, Hypervisor};
use oxvirt_driver_test::TestDriver;
use oxvirt_network::NetworkDriver;
use oxvirt_qemu::driver::QemuDriver;
use oxvirt_rpc::{Packet, RemoteProcedure};
use oxvirt_storage::api::StorageDriver;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinHandle;

use crate::access::Filter;
use crate::registry::{Family, Registry};

/// `VIR_CONNECT_RO`: the only CONNECT_OPEN flag the server honours.
pub const CONNECT_RO: u32 = 1;

/// What CONNECT_OPEN set up.
#[derive(Clone)]
struct Opened {
    driver: Arc<dyn Hypervisor>,
    readonly: bool,
    /// The driver is the process-wide `test:///default`.
    shared: bool,
    /// The network driver the connection offers (`qemu:///system` with one installed).
    network: Option<Arc<dyn NetworkDriver>>,
    /// The storage driver the connection offers (`qemu:///system` with one installed).
    storage: Option<Arc<dyn StorageDriver>>,
}

/// Who is at the other end of a connection, as its transport tells: the peer credentials
/// of a unix socket (`SO_PEERCRED`), the subject DN of a TLS client certificate. This is
/// the subject access control decides on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    /// `unix`, `tcp` or `tls`.
    pub transport: &'static str,
    /// The peer process's user id (unix sockets).
    pub uid: Option<u32>,
    /// The peer process's group id (unix sockets).
    pub gid: Option<u32>,
    /// The peer process's id (unix sockets).
    pub pid: Option<i32>,
    /// The subject DN of the client certificate, as GnuTLS writes it (TLS).
    pub x509_dn: Option<String>,
    /// The peer's IP address (TCP and TLS).
    pub addr: Option<std::net::IpAddr>,
    /// The peer for log lines: `unix pid 12 uid 0`, `tcp 127.0.0.1:40000`.
    pub peer: String,
}

/// A client of the daemon.
pub struct Client {
    readonly_socket: bool,
    identity: Identity,
    opened: Mutex<Option<Opened>>,
    /// Where packets to this client go (events); `None` in unit tests.
    outbox: Option<mpsc::UnboundedSender<Packet>>,
    /// Where persistent drivers keep their state.
    state_dir: Option<PathBuf>,
    events: Arc<Mutex<Registry>>,
    /// The task relaying driver events while domain callbacks exist.
    relay: Mutex<Option<JoinHandle<()>>>,
    /// The task relaying network driver events while network callbacks exist.
    net_relay: Mutex<Option<JoinHandle<()>>>,
    /// The task relaying storage pool events while pool callbacks exist.
    pool_relay: Mutex<Option<JoinHandle<()>>>,
    keepalive: AtomicBool,
    keepalive_started: Notify,
    /// The domains whose outgoing migration this client began with
    /// `VIR_MIGRATE_CHANGE_PROTECTION` and has not confirmed yet.
    migrations: Mutex<Vec<DomainRef>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section leaves its data consistent, even if it panicked.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The error for any call before CONNECT_OPEN (libvirt's daemon words it so).
pub fn not_open() -> VirError {
    VirError::new(
        ErrorDomain::Rpc,
        ErrorCode::InternalError,
        "connection not open",
    )
}

/// The daemon's QEMU driver, opened once at startup (it reattaches to running guests then),
/// shared by every `qemu:///system` connection.
static QEMU: OnceLock<QemuDriver> = OnceLock::new();

/// Installs the daemon's QEMU driver.
pub fn set_qemu_driver(driver: QemuDriver) {
    let _ = QEMU.set(driver);
}

/// The daemon's QEMU driver, if it has one.
pub fn qemu_driver() -> Option<&'static QemuDriver> {
    QEMU.get()
}

/// The daemon's network driver, installed once at startup, offered on every
/// `qemu:///system` connection.
static NETWORK: OnceLock<Arc<dyn NetworkDriver>> = OnceLock::new();

/// Installs the daemon's network driver (the first call wins); `main` calls it at startup
/// with the host network driver.
pub fn set_network_driver(driver: Arc<dyn NetworkDriver>) {
    let _ = NETWORK.set(driver);
}

/// The daemon's network driver, if it has one.
pub fn installed_network_driver() -> Option<Arc<dyn NetworkDriver>> {
    NETWORK.get().cloned()
}

/// The daemon's storage driver, installed once at startup, offered on every
/// `qemu:///system` connection.
static STORAGE: OnceLock<Arc<dyn StorageDriver>> = OnceLock::new();

/// Installs the daemon's storage driver (the first call wins); `main` calls it at startup
/// with the host storage driver.
pub fn set_storage_driver(driver: Arc<dyn StorageDriver>) {
    let _ = STORAGE.set(driver);
}

/// The daemon's storage driver, if it has one.
pub fn installed_storage_driver() -> Option<Arc<dyn StorageDriver>> {
    STORAGE.get().cloned()
}

/// Storage drivers offered to every connection of a daemon whose clients keep state in
/// the directory (tests serving a fake driver over a real socket).
#[cfg(test)]
static TEST_STORAGE: Mutex<Vec<(PathBuf, Arc<dyn StorageDriver>)>> = Mutex::new(Vec::new());

/// Offers `driver` on every connection of clients keeping state in `state_dir`.
#[cfg(test)]
pub fn set_test_storage_driver(state_dir: &Path, driver: Arc<dyn StorageDriver>) {
    lock(&TEST_STORAGE).push((state_dir.to_path_buf(), driver));
}

#[cfg(test)]
fn test_storage(state_dir: Option<&Path>) -> Option<Arc<dyn StorageDriver>> {
    let dir = state_dir?;
    lock(&TEST_STORAGE)
        .iter()
        .find(|(d, _)| d == dir)
        .map(|(_, drv)| Arc::clone(drv))
}

/// A hypervisor driver, the network driver beside it, whether it is shared, and the
/// storage driver of a test node (the daemon's is installed apart).
pub type Drivers = (
    Arc<dyn Hypervisor>,
    Option<Arc<dyn NetworkDriver>>,
    bool,
    Option<Arc<dyn StorageDriver>>,
);

/// Opens the driver `name` names: `qemu:///system`, `test:///default` or
/// `test:///path/to/node.xml`; an empty or missing name means `test:///default`.
/// `state_dir` is where a persistent test driver keeps its definitions. The flag says the
/// driver is shared (`test:///default`, `qemu:///system`).
/// The connection's network driver comes with it: the daemon's on `qemu:///system`, the
/// node's own networks on a test URI, where the node's storage pools come too.
pub fn open_drivers(name: Option<&str>, state_dir: Option<&Path>) -> Result<Drivers, VirError> {
    let name = name.filter(|n| !n.is_empty()).unwrap_or("test:///default");
    let no_connect = || VirError::new(ErrorDomain::None, ErrorCode::NoConnect, name);
    let uri = Uri::parse(name).map_err(|_| no_connect())?;
    if uri.scheme() == "qemu" && uri.host().is_none() {
        if uri.path() != "/system" {
            return Err(VirError::new(
                ErrorDomain::Qemu,
                ErrorCode::InternalError,
                format!(
                    "unexpected QEMU URI path '{}', try qemu:///system",
                    uri.path()
                ),
            ));
        }
        let driver = qemu_driver().ok_or_else(no_connect)?;
        return Ok((
            Arc::new(driver.clone()),
            installed_network_driver(),
            true,
            None,
        ));
    }
    if uri.scheme() != "test" || uri.host().is_some() || uri.path().is_empty() {
        return Err(no_connect());
    }
    let shared = uri.path() == "/default";
    let driver = match state_dir {
        // test:///default lives in the state directory; node files are private copies.
        Some(dir) => TestDriver::open_with_state(uri.path(), dir)?,
        None => TestDriver::open(uri.path())?,
    };
    let network: Arc<dyn NetworkDriver> = Arc::new(driver.network_driver());
    let storage: Arc<dyn StorageDriver> = Arc::new(driver.storage_driver());
    Ok((Arc::new(driver), Some(network), shared, Some(storage)))
}

impl Client {
    /// A client that connected through the read-only socket if `readonly_socket`.
    #[cfg(test)]
    pub fn new(readonly_socket: bool) -> Self {
        Client::with_outbox(readonly_socket, None, None)
    }

    /// A client whose unsolicited packets (events) go to `outbox`, with drivers keeping
    /// state in `state_dir`.
    pub fn with_outbox(
        readonly_socket: bool,
        outbox: Option<mpsc::UnboundedSender<Packet>>,
        state_dir: Option<PathBuf>,
    ) -> Self {
        Client {
            readonly_socket,
            identity: Identity::default(),
            opened: Mutex::new(None),
            outbox,
            state_dir,
            events: Arc::new(Mutex::new(Registry::new())),
            relay: Mutex::new(None),
            net_relay: Mutex::new(None),
            pool_relay: Mutex::new(None),
            keepalive: AtomicBool::new(false),
            keepalive_started: Notify::new(),
            migrations: Mutex::new(Vec::new()),
        }
    }

    /// This client, whose transport says it is `identity`.
    pub fn with_identity(mut self, identity: Identity) -> Self {
        self.identity = identity;
        self
    }

    /// Who the client is.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    fn lock(&self) -> MutexGuard<'_, Option<Opened>> {
        lock(&self.opened)
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
        let (driver, network, shared, test_pools) = open_drivers(name, self.state_dir.as_deref())?;
        // qemu:///system offers the daemon's storage pools, a test URI its node's.
        let storage = if shared && name.is_some_and(|n| n.starts_with("qemu:")) {
            installed_storage_driver()
        } else {
            test_pools
        };
        #[cfg(test)]
        let storage = test_storage(self.state_dir.as_deref()).or(storage);
        *slot = Some(Opened {
            driver,
            readonly: self.readonly_socket || flags & CONNECT_RO != 0,
            shared,
            network,
            storage,
        });
        Ok(())
    }

    /// Opens `name` as [`Client::open`] does, with `network` as its network driver.
    #[cfg(test)]
    pub fn open_with_network(
        &self,
        name: &str,
        flags: u32,
        network: Arc<dyn NetworkDriver>,
    ) -> Result<(), VirError> {
        self.open(Some(name), flags)?;
        self.replace_network(Some(network));
        Ok(())
    }

    /// Replaces the open connection's network driver.
    #[cfg(test)]
    pub fn replace_network(&self, network: Option<Arc<dyn NetworkDriver>>) {
        if let Some(opened) = self.lock().as_mut() {
            opened.network = network;
        }
    }

    /// Replaces the open connection's storage driver.
    #[cfg(test)]
    pub fn replace_storage(&self, storage: Option<Arc<dyn StorageDriver>>) {
        if let Some(opened) = self.lock().as_mut() {
            opened.storage = storage;
        }
    }

    /// CONNECT_CLOSE: forgets the driver and every event callback.
    pub fn close(&self) {
        self.drop_callbacks();
        self.lock().take();
    }

    /// The connection ended: every event callback goes.
    pub fn drop_callbacks(&self) {
        lock(&self.events).clear();
        if let Some(task) = lock(&self.relay).take() {
            task.abort();
        }
        if let Some(task) = lock(&self.net_relay).take() {
            task.abort();
        }
        if let Some(task) = lock(&self.pool_relay).take() {
            task.abort();
        }
    }

    /// The connection's event callbacks.
    #[cfg(test)]
    pub fn callbacks(&self) -> MutexGuard<'_, Registry> {
        lock(&self.events)
    }

    /// Registers a callback and returns its ID; the first domain callback subscribes the
    /// connection to `drv`'s events.
    pub fn register_callback(
        &self,
        drv: &Arc<dyn Hypervisor>,
        family: Family,
        event_id: i32,
        filter: Option<[u8; 16]>,
        legacy: bool,
    ) -> i32 {
        let shared = self.lock().as_ref().is_some_and(|o| o.shared);
        let id = lock(&self.events).add(shared, family, event_id, filter, legacy);
        if family == Family::Domain {
            let mut relay = lock(&self.relay);
            if relay.is_none() {
                if let Some(outbox) = self.outbox.clone() {
                    let mut rx = drv.subscribe();
                    let events = Arc::clone(&self.events);
                    // Only the domains the client may see (as libvirt filters events).
                    let visible = Filter::for_call(
                        self,
                        RemoteProcedure::ConnectDomainEventCallbackRegisterAny,
                    );
                    *relay = Some(tokio::spawn(async move {
                        while let Some(event) = rx.recv().await {
                            let d = &event.domain;
                            if visible.as_ref().is_some_and(|f| !f.shows(&d.name, &d.uuid)) {
                                continue;
                            }
                            let packets = lock(&events).packets(&event);
                            for packet in packets {
                                if outbox.send(packet).is_err() {
                                    return;
                                }
                            }
                        }
                    }));
                }
            }
        }
        if family == Family::Network {
            self.start_network_relay();
        }
        if family == Family::StoragePool {
            self.start_pool_relay();
        }
        id
    }

    /// Relays the network driver's events to the connection, once per connection, while
    /// network callbacks exist (connections without a network driver get none).
    fn start_network_relay(&self) {
        let Some(network) = self.lock().as_ref().and_then(|o| o.network.clone()) else {
            return;
        };
        let mut relay = lock(&self.net_relay);
        if relay.is_some() {
            return;
        }
        let Some(outbox) = self.outbox.clone() else {
            return;
        };
        let mut rx = network.subscribe();
        let events = Arc::clone(&self.events);
        let visible = Filter::for_call(self, RemoteProcedure::ConnectNetworkEventRegisterAny);
        *relay = Some(tokio::spawn(async move {
            while let Some(event) = rx.recv().await {
                let n = &event.network;
                if visible.as_ref().is_some_and(|f| !f.shows(&n.name, &n.uuid)) {
                    continue;
                }
                let packets = lock(&events).network_packets(&event);
                for packet in packets {
                    if outbox.send(packet).is_err() {
                        return;
                    }
                }
            }
        }));
    }

    /// Relays the storage driver's pool events to the connection, once per connection,
    /// while pool callbacks exist (connections without a storage driver get none).
    fn start_pool_relay(&self) {
        let Some(storage) = self.lock().as_ref().and_then(|o| o.storage.clone()) else {
            return;
        };
        let mut relay = lock(&self.pool_relay);
        if relay.is_some() {
            return;
        }
        let Some(outbox) = self.outbox.clone() else {
            return;
        };
        let mut rx = storage.subscribe();
        let events = Arc::clone(&self.events);
        let visible = Filter::for_call(self, RemoteProcedure::ConnectStoragePoolEventRegisterAny);
        *relay = Some(tokio::spawn(async move {
            while let Some(event) = rx.recv().await {
                let p = &event.pool;
                if visible.as_ref().is_some_and(|f| !f.shows(&p.name, &p.uuid)) {
                    continue;
                }
                let packets = lock(&events).pool_packets(&event);
                for packet in packets {
                    if outbox.send(packet).is_err() {
                        return;
                    }
                }
            }
        }));
    }

    /// Removes a callback; `by_event` treats `id` as an event ID and removes the first
    /// domain callback for it (the legacy procedures). False if there was none. The last
    /// domain callback ends the subscription.
    pub fn deregister_callback(&self, family: Family, id: i32, by_event: bool) -> bool {
        let mut events = lock(&self.events);
        let removed = if by_event {
            events.remove_by_event(id)
        } else {
            events.remove(family, id)
        };
        if !events.wants_domain_events() {
            if let Some(task) = lock(&self.relay).take() {
                task.abort();
            }
        }
        if !events.wants_network_events() {
            if let Some(task) = lock(&self.net_relay).take() {
                task.abort();
            }
        }
        if !events.wants_pool_events() {
            if let Some(task) = lock(&self.pool_relay).take() {
                task.abort();
            }
        }
        removed
    }

    /// Whether a domain event subscription is running.
    #[cfg(test)]
    pub fn relaying(&self) -> bool {
        lock(&self.relay).is_some()
    }

    /// The opened driver.
    pub fn driver(&self) -> Result<Arc<dyn Hypervisor>, VirError> {
        self.lock()
            .as_ref()
            .map(|o| Arc::clone(&o.driver))
            .ok_or_else(not_open)
    }

    /// The connection's network driver; without one, libvirt's `VIR_ERR_NO_SUPPORT` naming
    /// `function` (the public call), as libvirt answers a connection whose hypervisor
    /// driver has no network driver beside it.
    pub fn network_driver(&self, function: &str) -> Result<Arc<dyn NetworkDriver>, VirError> {
        let slot = self.lock();
        let opened = slot.as_ref().ok_or_else(not_open)?;
        opened
            .network
            .clone()
            .ok_or_else(|| oxvirt_network::api::no_support(function))
    }

    /// The connection's storage driver; without one, libvirt's `VIR_ERR_NO_SUPPORT` from
    /// `VIR_FROM_STORAGE` naming `function` (the public call), as libvirt answers a
    /// connection whose hypervisor driver has no storage driver beside it.
    pub fn storage_driver(&self, function: &str) -> Result<Arc<dyn StorageDriver>, VirError> {
        let slot = self.lock();
        let opened = slot.as_ref().ok_or_else(not_open)?;
        opened
            .storage
            .clone()
            .ok_or_else(|| oxvirt_storage::api::no_support(function))
    }

    /// Whether a storage pool event subscription is running.
    #[cfg(test)]
    pub fn relaying_pools(&self) -> bool {
        lock(&self.pool_relay).is_some()
    }

    /// Whether a network event subscription is running.
    #[cfg(test)]
    pub fn relaying_networks(&self) -> bool {
        lock(&self.net_relay).is_some()
    }

    /// Whether the connection may only read.
    pub fn readonly(&self) -> bool {
        self.lock()
            .as_ref()
            .map_or(self.readonly_socket, |o| o.readonly)
    }

    /// The client asked for `VIR_DRV_FEATURE_PROGRAM_KEEPALIVE`: from now on the server
    /// may ping it (libvirt starts its own keepalive on the client at this point).
    pub fn keepalive_requested(&self) {
        if !self.keepalive.swap(true, Ordering::SeqCst) {
            self.keepalive_started.notify_one();
        }
    }

    /// Waits until the client asked for keepalive.
    pub async fn keepalive_wanted(&self) {
        if self.keepalive.load(Ordering::SeqCst) {
            return;
        }
        self.keepalive_started.notified().await;
    }

    /// Whether CONNECT_OPEN succeeded.
    pub fn is_open(&self) -> bool {
        self.lock().is_some()
    }
}

impl Client {
    /// This client began `dom`'s outgoing migration, keeping its migration job until its
    /// confirm phase.
    pub fn migration_begun(&self, dom: DomainRef) {
        lock(&self.migrations).push(dom);
    }

    /// This client confirmed the migration of the domain `uuid`.
    pub fn migration_confirmed(&self, uuid: &oxvirt_xml::types::Uuid) {
        lock(&self.migrations).retain(|d| d.uuid != *uuid);
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        // libvirt's close callback for a migration begun and never confirmed: its job ends
        // and the domain runs on (QemuDriver::migration_client_gone).
        let begun = std::mem::take(&mut *lock(&self.migrations));
        if let (false, Some(qemu), Ok(rt)) = (
            begun.is_empty(),
            qemu_driver(),
            tokio::runtime::Handle::try_current(),
        ) {
            rt.spawn(async move {
                for dom in begun {
                    qemu.migration_client_gone(&dom).await;
                }
            });
        }
        if let Some(task) = lock(&self.relay).take() {
            task.abort();
        }
        if let Some(task) = lock(&self.net_relay).take() {
            task.abort();
        }
        if let Some(task) = lock(&self.pool_relay).take() {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_uris_have_no_driver() {
        let Err(err) = open_drivers(Some("qemu:///system"), None) else {
            panic!("qemu:///system opened")
        };
        assert_eq!(err.code, ErrorCode::NoConnect);
        assert_eq!(
            err.message,
            "no connection driver available for qemu:///system"
        );
        assert!(open_drivers(Some("test://host/default"), None).is_err());
        assert!(open_drivers(None, None).unwrap().2);
        // The session daemon is not served: libvirt's words for a QEMU URI it cannot use.
        let Err(err) = open_drivers(Some("qemu:///session"), None) else {
            panic!("qemu:///session opened")
        };
        assert_eq!(
            err.message,
            "internal error: unexpected QEMU URI path '/session', try qemu:///system"
        );
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

    #[tokio::test]
    async fn first_domain_callback_subscribes_and_last_unsubscribes() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let c = Client::with_outbox(false, Some(tx), None);
        c.open(Some("test:///default"), 0).unwrap();
        let drv = c.driver().unwrap();
        let net = c.register_callback(&drv, Family::Network, 0, None, false);
        assert!(!c.relaying());
        let id = c.register_callback(&drv, Family::Domain, 0, None, false);
        assert!(c.relaying());
        let dom = drv.lookup_by_name("test").await.unwrap();
        drv.suspend(&dom).await.unwrap();
        let packet = rx.recv().await.unwrap();
        assert_eq!(packet.header.procedure, 318);
        let msg: oxvirt_rpc::remote::DomainEventCallbackLifecycleMsg =
            oxvirt_rpc::xdr::decode_from(&packet.payload).unwrap();
        assert_eq!((msg.callback_id, msg.msg.event, msg.msg.detail), (id, 3, 0));
        assert!(c.deregister_callback(Family::Domain, id, false));
        assert!(!c.relaying());
        drv.resume(&dom).await.unwrap();
        tokio::task::yield_now().await;
        assert!(rx.try_recv().is_err());
        assert!(c.deregister_callback(Family::Network, net, false));
        c.register_callback(&drv, Family::Domain, 0, None, true);
        assert!(c.relaying());
        c.close();
        assert!(!c.relaying());
        assert_eq!(c.callbacks().len(), 0);
    }
}
