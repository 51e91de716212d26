//! A connection's domain events as an async stream.

use oxvirt_domain::driver::{DomainEvent, EventReceiver};

/// Every domain event of a connection's driver from the moment the stream was made, in the
/// order the driver emitted them, none dropped.
///
/// The stream holds only a channel: dropping it unsubscribes. Read-only connections get
/// events too, as in libvirt.
#[derive(Debug)]
pub struct EventStream {
    rx: EventReceiver,
}

impl EventStream {
    /// A stream over a driver subscription.
    pub fn new(rx: EventReceiver) -> Self {
        EventStream { rx }
    }

    /// The next event, waiting for it; `None` once the driver is gone.
    pub async fn next(&mut self) -> Option<DomainEvent> {
        self.rx.recv().await
    }

    /// The next event if one is already waiting; `None` if none is (or the driver is gone).
    pub fn try_next(&mut self) -> Option<DomainEvent> {
        self.rx.try_recv().ok()
    }
}
