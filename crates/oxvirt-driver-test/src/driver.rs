//! The connection: opening `test:///default` or a node file, the shared state behind one
//! mutex, and the helpers every call uses to find its domain and report its events.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use oxvirt_domain::driver::{DomainEvent, DomainRef, EventBus, Lifecycle};
use oxvirt_domain::objects::domains::DomainObj;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use crate::node::{self, NodeConfig};
use crate::persist::Store;

/// Everything one test connection (or every `test:///default` connection) sees: the
/// node as its description set it up, then changed by the calls.
pub(crate) type Node = NodeConfig;

#[derive(Debug)]
pub(crate) struct Shared {
    node: Mutex<Node>,
    events: EventBus,
    /// Where the node is kept across restarts, if it is ([`crate::persist`]).
    pub(crate) store: Option<Store>,
}

/// One connection to libvirt's test hypervisor.
///
/// `test:///default` connections opened with [`TestDriver::open`] share one node, as
/// libvirt's do (a change made through one is seen, with its events, through all);
/// a node file gives each connection its own copy.
#[derive(Debug, Clone)]
pub struct TestDriver {
    pub(crate) shared: Arc<Shared>,
    path: String,
}

/// The node every `test:///default` connection shares while one is open.
static DEFAULT_NODE: Mutex<Weak<Shared>> = Mutex::new(Weak::new());

/// The events a call produces, sent once its changes are made.
pub(crate) type Events = Vec<DomainEvent>;

/// A lifecycle event for the domain as it is now.
pub(crate) fn lifecycle(obj: &DomainObj, event: Lifecycle) -> DomainEvent {
    DomainEvent::lifecycle(obj.to_ref(), event)
}

impl TestDriver {
    /// Opens the test hypervisor at URI path `path`: `/default` for libvirt's built-in
    /// node, any other path for a node XML file (libvirt's `testConnectOpen`).
    ///
    /// `/default` connections share one node while any of them is open.
    pub fn open(path: &str) -> Result<TestDriver, VirError> {
        check_path(path)?;
        if path != "/default" {
            return Self::open_isolated(path);
        }
        Self::open_shared(path, || Self::open_isolated(path))
    }

    /// The node every `/default` connection shares: the one open now, else the one `make`
    /// opens, which becomes the shared one.
    pub(crate) fn open_shared(
        path: &str,
        make: impl FnOnce() -> Result<TestDriver, VirError>,
    ) -> Result<TestDriver, VirError> {
        let mut slot = DEFAULT_NODE.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(shared) = slot.upgrade() {
            return Ok(TestDriver {
                shared,
                path: path.to_string(),
            });
        }
        let driver = make()?;
        *slot = Arc::downgrade(&driver.shared);
        Ok(driver)
    }

    /// Opens the test hypervisor at `path` with a node of its own, even for `/default`
    /// (for tests that must not see each other's changes).
    pub fn open_isolated(path: &str) -> Result<TestDriver, VirError> {
        check_path(path)?;
        let config = if path == "/default" {
            node::default_node()?
        } else {
            node::load_file(path)?
        };
        Ok(Self::from_config(path, config))
    }

    /// Opens a node of its own described by `xml`, a libvirt `<node>` document given as
    /// text rather than a file (`file=` references resolve against the current directory).
    /// Its URI path is `/node.xml`.
    pub fn open_xml(xml: &str) -> Result<TestDriver, VirError> {
        Ok(Self::from_config("/node.xml", node::parse_text(xml)?))
    }

    fn from_config(path: &str, config: NodeConfig) -> TestDriver {
        Self::from_parts(path, config, None)
    }

    /// A connection to a new node set up by `config`, kept in `store` if given.
    pub(crate) fn from_parts(path: &str, config: NodeConfig, store: Option<Store>) -> TestDriver {
        TestDriver {
            shared: Arc::new(Shared {
                node: Mutex::new(config),
                events: EventBus::new(),
                store,
            }),
            path: path.to_string(),
        }
    }

    /// The URI path this connection was opened with (`/default`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The event bus of this connection's node.
    pub fn events(&self) -> &EventBus {
        &self.shared.events
    }

    /// The node's state, locked. Never held across an await.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Node> {
        // Every call leaves the node consistent before it can panic.
        self.shared
            .node
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends a call's events, in order, while its changes are still the latest.
    pub(crate) fn emit(&self, events: Events) {
        for e in events {
            self.shared.events.emit(e);
        }
    }
}

/// `testOpen: supply a path or use test:///default` for an empty path or `/`.
fn check_path(path: &str) -> Result<(), VirError> {
    if path.is_empty() || path == "/" {
        return Err(VirError::new(
            ErrorDomain::Test,
            ErrorCode::InvalidArg,
            "testOpen: supply a path or use test:///default",
        ));
    }
    Ok(())
}

/// `VIR_ERR_NO_DOMAIN` for a reference to a domain that is gone (libvirt's
/// `testDomObjFromDomain`).
pub(crate) fn no_domain(dom: &DomainRef) -> VirError {
    VirError::new(
        ErrorDomain::Test,
        ErrorCode::NoDomain,
        format!("no domain with matching uuid '{}' ({})", dom.uuid, dom.name),
    )
}

/// `VIR_ERR_NO_DOMAIN` with no detail, as the lookups report it.
pub(crate) fn not_found() -> VirError {
    VirError::bare(ErrorDomain::Test, ErrorCode::NoDomain)
}

impl Node {
    /// The domain `dom` names, found by UUID.
    pub fn obj(&self, dom: &DomainRef) -> Result<&DomainObj, VirError> {
        self.domains
            .find_by_uuid(&dom.uuid)
            .ok_or_else(|| no_domain(dom))
    }

    /// The domain `dom` names, to change it.
    pub fn obj_mut(&mut self, dom: &DomainRef) -> Result<&mut DomainObj, VirError> {
        self.domains
            .find_by_uuid_mut(&dom.uuid)
            .ok_or_else(|| no_domain(dom))
    }
}

/// Checks `flags` against `allowed`, reporting unknown bits as the test driver's function
/// `function` does.
pub(crate) fn check_flags(flags: u32, allowed: u32, function: &str) -> Result<(), VirError> {
    VirError::check_flags(ErrorDomain::Test, flags, allowed, function)
}

/// An internal error of the test driver (`VIR_ERR_INTERNAL_ERROR`, `VIR_FROM_TEST`).
pub(crate) fn internal(detail: impl AsRef<str>) -> VirError {
    VirError::new(ErrorDomain::Test, ErrorCode::InternalError, detail)
}

/// `VIR_ERR_OPERATION_INVALID` from the test driver.
pub(crate) fn invalid(detail: impl AsRef<str>) -> VirError {
    VirError::new(ErrorDomain::Test, ErrorCode::OperationInvalid, detail)
}

/// `VIR_ERR_INVALID_ARG` from libvirt's public API layer, whose messages are complete.
pub(crate) fn api_invalid_arg(message: impl Into<String>) -> VirError {
    VirError::raw(ErrorDomain::Domain, ErrorCode::InvalidArg, message)
}

/// libvirt's `VIR_EXCLUSIVE_FLAGS_GOTO` in the public API: two flags that cannot be given
/// together.
pub(crate) fn exclusive(
    flags: u32,
    (a, a_name): (u32, &str),
    (b, b_name): (u32, &str),
) -> Result<(), VirError> {
    if flags & a != 0 && flags & b != 0 {
        return Err(api_invalid_arg(format!(
            "Flags '{a_name}' and '{b_name}' are mutually exclusive"
        )));
    }
    Ok(())
}
