//! Unit tests of the test driver's calls, asserting the values libvirt 9.0's test driver
//! gives for the same calls (observed through python3-libvirt on `test:///default`).

mod config;
mod connection;
mod devices;
mod lifecycle;
mod listing;
mod persist;
mod save;
mod snapshots;
mod stats;
mod validation;

use oxvirt_domain::driver::event::Lifecycle;
use oxvirt_domain::driver::{DomainEvent, EventKind, EventReceiver};
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use crate::TestDriver;

/// Held by the tests that open the process-wide `test:///default` node, so that one test's
/// node (kept in a state directory or not) is not another's.
pub(crate) static DEFAULT_NODE_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A private `test:///default` connection.
pub(crate) fn default_conn() -> TestDriver {
    TestDriver::open_isolated("/default").expect("the default node loads")
}

/// A minimal domain definition named `name` with UUID `...-0000000000NN`.
pub(crate) fn dom_xml(name: &str, n: u8) -> String {
    format!(
        "<domain type='test'><name>{name}</name>\
         <uuid>11111111-2222-3333-4444-0000000000{n:02}</uuid>\
         <memory>1048576</memory><vcpu current='2'>4</vcpu><os><type>hvm</type></os></domain>"
    )
}

/// Every event received so far.
pub(crate) fn drain(rx: &mut EventReceiver) -> Vec<DomainEvent> {
    std::iter::from_fn(|| rx.try_recv().ok()).collect()
}

/// The lifecycle events received so far as (name, id, event, detail).
pub(crate) fn lifecycle_events(rx: &mut EventReceiver) -> Vec<(String, i32, i32, i32)> {
    drain(rx)
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::Lifecycle(l) => Some((e.domain.name, e.domain.id, l.event(), l.detail())),
            _ => None,
        })
        .collect()
}

/// An error's code, domain and message.
pub(crate) fn err<T: std::fmt::Debug>(r: Result<T, VirError>) -> (ErrorCode, ErrorDomain, String) {
    let e = r.expect_err("the call fails");
    (e.code, e.domain, e.message)
}

/// `(name, id, event, detail)` of a lifecycle event.
pub(crate) fn ev(name: &str, id: i32, l: Lifecycle) -> (String, i32, i32, i32) {
    (name.to_string(), id, l.event(), l.detail())
}
