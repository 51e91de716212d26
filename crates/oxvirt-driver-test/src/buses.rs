//! The event buses of test nodes: every connection to one shared node
//! (`test:///default`) sees the others' network and pool events, as in libvirt, so each
//! kind of event has one bus per node, found again by the node it belongs to.

use std::sync::{Arc, Mutex, PoisonError, Weak};

use oxvirt_domain::driver::EventBus;

use crate::driver::Shared;

/// The buses of one kind of event, one per live node.
pub(crate) type NodeBuses<E> = Mutex<Vec<(Weak<Shared>, Arc<EventBus<E>>)>>;

/// The bus of `shared` in `buses`, made on first use; buses of dropped nodes are let go.
pub(crate) fn bus_of<E: Clone>(buses: &NodeBuses<E>, shared: &Arc<Shared>) -> Arc<EventBus<E>> {
    let mut buses = buses.lock().unwrap_or_else(PoisonError::into_inner);
    buses.retain(|(w, _)| w.strong_count() > 0);
    if let Some((_, bus)) = buses
        .iter()
        .find(|(w, _)| std::ptr::eq(w.as_ptr(), Arc::as_ptr(shared)))
    {
        return Arc::clone(bus);
    }
    let bus = Arc::new(EventBus::new());
    buses.push((Arc::downgrade(shared), Arc::clone(&bus)));
    bus
}
