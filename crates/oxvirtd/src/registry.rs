//! One connection's event callbacks: which events it registered for and the MESSAGE
//! packets a driver event turns into.
//!
//! As with libvirtd on `test:///default`, callback IDs come from the (shared) driver: one
//! counter for every connection to `test:///default`, starting at 0 and shared by domain,
//! network, storage pool and node device callbacks. Other test drivers are private to their
//! connection, so their counter is too.

use std::sync::atomic::{AtomicI32, Ordering};

use oxvirt_domain::driver::{DomainEvent, EventKind};
use oxvirt_network::NetworkEvent;
use oxvirt_rpc::packet::PROGRAM_REMOTE;
use oxvirt_rpc::remote::*;
use oxvirt_rpc::xdr::encode_to_vec;
use oxvirt_rpc::{Header, MessageStatus, MessageType, Packet, RemoteProcedure as P};

use crate::dispatch::wire;

/// The callback-ID counter of the shared `test:///default` driver.
static SHARED_NEXT_ID: AtomicI32 = AtomicI32::new(0);

/// `VIR_DOMAIN_EVENT_ID_LAST` in libvirt 9.0.
pub const DOMAIN_EVENT_ID_LAST: i32 = 27;

/// The serial libvirtd puts on every event message.
pub const EVENT_SERIAL: u32 = 1;

/// Which kind of object a callback watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Domains (CALLBACK_REGISTER_ANY or the legacy procedures).
    Domain,
    /// Networks.
    Network,
    /// Storage pools.
    StoragePool,
    /// Node devices.
    NodeDevice,
}

/// One registered callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callback {
    /// The ID the client got back (legacy callbacks have one too, never shown).
    pub id: i32,
    /// What it watches.
    pub family: Family,
    /// The family's event ID (`virDomainEventID` for domains).
    pub event_id: i32,
    /// Only events about the object with this UUID, if set.
    pub filter: Option<[u8; 16]>,
    /// Registered through 105/167: messages without a callback ID.
    pub legacy: bool,
}

/// A connection's callbacks, in registration order (the order events are delivered in).
#[derive(Debug, Default)]
pub struct Registry {
    callbacks: Vec<Callback>,
    private_next_id: i32,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a callback and returns its ID; `shared` says the driver is
    /// `test:///default` (IDs from the process-wide counter).
    pub fn add(
        &mut self,
        shared: bool,
        family: Family,
        event_id: i32,
        filter: Option<[u8; 16]>,
        legacy: bool,
    ) -> i32 {
        let id = if shared {
            SHARED_NEXT_ID.fetch_add(1, Ordering::Relaxed)
        } else {
            let id = self.private_next_id;
            self.private_next_id += 1;
            id
        };
        self.callbacks.push(Callback {
            id,
            family,
            event_id,
            filter,
            legacy,
        });
        id
    }

    /// Removes callback `id` of `family` (legacy or not, as libvirtd); false if there is
    /// none.
    pub fn remove(&mut self, family: Family, id: i32) -> bool {
        match self
            .callbacks
            .iter()
            .position(|c| c.family == family && c.id == id)
        {
            Some(i) => {
                self.callbacks.remove(i);
                true
            }
            None => false,
        }
    }

    /// Removes the first domain callback for `event_id` (the legacy deregistrations);
    /// false if there is none.
    pub fn remove_by_event(&mut self, event_id: i32) -> bool {
        match self
            .callbacks
            .iter()
            .position(|c| c.family == Family::Domain && c.event_id == event_id)
        {
            Some(i) => {
                self.callbacks.remove(i);
                true
            }
            None => false,
        }
    }

    /// Whether any domain callback is registered (the driver subscription is needed).
    pub fn wants_domain_events(&self) -> bool {
        self.callbacks.iter().any(|c| c.family == Family::Domain)
    }

    /// Whether any network callback is registered.
    pub fn wants_network_events(&self) -> bool {
        self.callbacks.iter().any(|c| c.family == Family::Network)
    }

    /// The NETWORK_EVENT_LIFECYCLE messages `event` becomes for this connection: one per
    /// lifecycle callback for every network or for this one.
    pub fn network_packets(&self, event: &NetworkEvent) -> Vec<Packet> {
        let uuid: [u8; 16] = event.network.uuid.into();
        self.callbacks
            .iter()
            .filter(|c| c.family == Family::Network && c.event_id == NETWORK_EVENT_ID_LIFECYCLE)
            .filter(|c| c.filter.is_none_or(|f| f == uuid))
            .map(|c| {
                let msg = NetworkEventLifecycleMsg {
                    callback_id: c.id,
                    net: oxvirt_rpc::types::NonnullNetwork {
                        name: event.network.name.clone(),
                        uuid,
                    },
                    event: event.kind as i32,
                    detail: 0,
                };
                event_packet(P::NetworkEventLifecycle, encode_to_vec(&msg))
            })
            .collect()
    }

    /// Whether any storage pool callback is registered.
    pub fn wants_pool_events(&self) -> bool {
        self.callbacks
            .iter()
            .any(|c| c.family == Family::StoragePool)
    }

    /// The STORAGE_POOL_EVENT_LIFECYCLE (370) or STORAGE_POOL_EVENT_REFRESH (373) messages
    /// `event` becomes for this connection: one per callback for its event ID, for every
    /// pool or for this one.
    pub fn pool_packets(&self, event: &oxvirt_storage::api::PoolEvent) -> Vec<Packet> {
        use oxvirt_storage::api::PoolEventWhat;
        let uuid: [u8; 16] = event.pool.uuid.into();
        let pool = oxvirt_rpc::types::NonnullStoragePool {
            name: event.pool.name.clone(),
            uuid,
        };
        let event_id = match event.what {
            PoolEventWhat::Lifecycle(_) => STORAGE_POOL_EVENT_ID_LIFECYCLE,
            PoolEventWhat::Refresh => STORAGE_POOL_EVENT_ID_REFRESH,
        };
        self.callbacks
            .iter()
            .filter(|c| c.family == Family::StoragePool && c.event_id == event_id)
            .filter(|c| c.filter.is_none_or(|f| f == uuid))
            .map(|c| match event.what {
                PoolEventWhat::Lifecycle(kind) => {
                    let msg = StoragePoolEventLifecycleMsg {
                        callback_id: c.id,
                        pool: pool.clone(),
                        event: kind as i32,
                        detail: 0,
                    };
                    event_packet(P::StoragePoolEventLifecycle, encode_to_vec(&msg))
                }
                PoolEventWhat::Refresh => {
                    let msg = StoragePoolEventRefreshMsg {
                        callback_id: c.id,
                        pool: pool.clone(),
                    };
                    event_packet(P::StoragePoolEventRefresh, encode_to_vec(&msg))
                }
            })
            .collect()
    }

    /// How many callbacks are registered.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.callbacks.len()
    }

    /// Forgets every callback (CONNECT_CLOSE, disconnect).
    pub fn clear(&mut self) {
        self.callbacks.clear();
    }

    /// The MESSAGE packets `event` becomes for this connection: one per matching callback.
    pub fn packets(&self, event: &DomainEvent) -> Vec<Packet> {
        let Some(event_id) = domain_event_id(&event.kind) else {
            return Vec::new();
        };
        let uuid: [u8; 16] = event.domain.uuid.into();
        self.callbacks
            .iter()
            .filter(|c| c.family == Family::Domain && c.event_id == event_id)
            .filter(|c| c.filter.is_none_or(|f| f == uuid))
            .filter_map(|c| encode_event(c, event))
            .map(|(procedure, payload)| event_packet(procedure, payload))
            .collect()
    }
}

/// The `virDomainEventID` of an event kind the server can relay.
fn domain_event_id(kind: &EventKind) -> Option<i32> {
    Some(kind.id().number())
}

/// The MESSAGE packet for one event: status OK, serial 1, as libvirtd sends them.
pub fn event_packet(procedure: P, payload: Vec<u8>) -> Packet {
    Packet::new(
        Header {
            prog: PROGRAM_REMOTE,
            vers: 1,
            procedure: procedure.number(),
            kind: MessageType::Message,
            serial: EVENT_SERIAL,
            status: MessageStatus::Ok,
        },
        payload,
    )
}

/// The procedure and payload of `event` for callback `cb`.
fn encode_event(cb: &Callback, event: &DomainEvent) -> Option<(P, Vec<u8>)> {
    let dom = wire(event.domain.clone());
    let callback_id = cb.id;
    Some(match &event.kind {
        EventKind::Lifecycle(l) => {
            let msg = DomainEventLifecycleMsg {
                dom,
                event: l.event(),
                detail: l.detail(),
            };
            if cb.legacy {
                (P::DomainEventLifecycle, encode_to_vec(&msg))
            } else {
                let m = DomainEventCallbackLifecycleMsg { callback_id, msg };
                (P::DomainEventCallbackLifecycle, encode_to_vec(&m))
            }
        }
        EventKind::Reboot => {
            let msg = DomainEventRebootMsg { dom };
            if cb.legacy {
                (P::DomainEventReboot, encode_to_vec(&msg))
            } else {
                let m = DomainEventCallbackRebootMsg { callback_id, msg };
                (P::DomainEventCallbackReboot, encode_to_vec(&m))
            }
        }
        EventKind::BalloonChange { actual_kib } => {
            let msg = DomainEventBalloonChangeMsg {
                dom,
                actual: *actual_kib,
            };
            if cb.legacy {
                (P::DomainEventBalloonChange, encode_to_vec(&msg))
            } else {
                let m = DomainEventCallbackBalloonChangeMsg { callback_id, msg };
                (P::DomainEventCallbackBalloonChange, encode_to_vec(&m))
            }
        }
        EventKind::DeviceRemoved { alias } => {
            let msg = DomainEventDeviceRemovedMsg {
                dom,
                dev_alias: alias.clone(),
            };
            if cb.legacy {
                (P::DomainEventDeviceRemoved, encode_to_vec(&msg))
            } else {
                let m = DomainEventCallbackDeviceRemovedMsg { callback_id, msg };
                (P::DomainEventCallbackDeviceRemoved, encode_to_vec(&m))
            }
        }
        // These events only exist in the callback form; libvirtd sends that form to
        // legacy registrations too.
        EventKind::DeviceAdded { alias } => (
            P::DomainEventCallbackDeviceAdded,
            encode_to_vec(&DomainEventCallbackDeviceAddedMsg {
                callback_id,
                dom,
                dev_alias: alias.clone(),
            }),
        ),
        EventKind::MetadataChange { kind, nsuri } => (
            P::DomainEventCallbackMetadataChange,
            encode_to_vec(&DomainEventCallbackMetadataChangeMsg {
                callback_id,
                dom,
                r#type: *kind,
                nsuri: nsuri.clone(),
            }),
        ),
        EventKind::Tunable { params } => (
            P::DomainEventCallbackTunable,
            encode_to_vec(&DomainEventCallbackTunableMsg {
                callback_id,
                dom,
                params: params.iter().cloned().map(Into::into).collect(),
            }),
        ),
        EventKind::MigrationIteration { iteration } => (
            P::DomainEventCallbackMigrationIteration,
            encode_to_vec(&DomainEventCallbackMigrationIterationMsg {
                callback_id,
                dom,
                iteration: *iteration,
            }),
        ),
        EventKind::JobCompleted { params } => (
            P::DomainEventCallbackJobCompleted,
            encode_to_vec(&DomainEventCallbackJobCompletedMsg {
                callback_id,
                dom,
                params: params.iter().cloned().map(Into::into).collect(),
            }),
        ),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxvirt_domain::driver::event::{Lifecycle, StoppedDetail};
    use oxvirt_domain::driver::DomainRef;
    use oxvirt_rpc::xdr::decode_from;
    use oxvirt_xml::types::Uuid;

    fn dom(byte: u8) -> DomainRef {
        DomainRef {
            name: format!("d{byte}"),
            uuid: Uuid::from([byte; 16]),
            id: 3,
        }
    }

    fn destroyed(byte: u8) -> DomainEvent {
        DomainEvent::lifecycle(dom(byte), Lifecycle::Stopped(StoppedDetail::Destroyed))
    }

    #[test]
    fn private_ids_count_from_zero_and_removal_is_by_family() {
        let mut r = Registry::new();
        assert_eq!(r.add(false, Family::Domain, 0, None, false), 0);
        assert_eq!(r.add(false, Family::Network, 0, None, false), 1);
        assert!(!r.remove(Family::Domain, 1));
        assert!(r.remove(Family::Network, 1));
        assert!(!r.remove(Family::Network, 1));
        assert!(r.wants_domain_events());
        assert!(r.remove(Family::Domain, 0));
        assert!(!r.wants_domain_events());
        assert_eq!(r.len(), 0);
    }

    #[test]
    fn legacy_deregistration_takes_the_first_callback_of_the_event() {
        let mut r = Registry::new();
        let a = r.add(false, Family::Domain, 0, None, false);
        let b = r.add(false, Family::Domain, 0, None, true);
        assert!(!r.remove_by_event(1));
        assert!(r.remove_by_event(0));
        // The first one registered went, whether legacy or not; the other is still there.
        assert!(!r.remove(Family::Domain, a));
        assert!(r.remove(Family::Domain, b));
        assert!(!r.remove_by_event(0));
    }

    #[test]
    fn lifecycle_packets_match_event_id_and_filter() {
        let mut r = Registry::new();
        r.add(false, Family::Domain, 0, None, false); // 0: every domain
        r.add(false, Family::Domain, 1, None, false); // 1: reboot only
        r.add(false, Family::Domain, 0, Some([7; 16]), false); // 2: only d7
        r.add(false, Family::Domain, 0, None, true); // 3: legacy
        let packets = r.packets(&destroyed(9));
        let procs: Vec<i32> = packets.iter().map(|p| p.header.procedure).collect();
        assert_eq!(procs, vec![318, 107]);
        let h = packets[0].header;
        assert_eq!(
            (h.kind, h.status, h.serial),
            (MessageType::Message, MessageStatus::Ok, 1)
        );
        let m: DomainEventCallbackLifecycleMsg = decode_from(&packets[0].payload).unwrap();
        assert_eq!((m.callback_id, m.msg.event, m.msg.detail), (0, 5, 1));
        assert_eq!((m.msg.dom.name.as_str(), m.msg.dom.id), ("d9", 3));
        let legacy: DomainEventLifecycleMsg = decode_from(&packets[1].payload).unwrap();
        assert_eq!((legacy.event, legacy.detail), (5, 1));
        let ids: Vec<i32> = r
            .packets(&destroyed(7))
            .iter()
            .filter(|p| p.header.procedure == 318)
            .map(|p| decode_from::<DomainEventCallbackLifecycleMsg>(&p.payload).unwrap())
            .map(|m| m.callback_id)
            .collect();
        assert_eq!(ids, vec![0, 2]);
    }

    #[test]
    fn other_events_use_their_procedures() {
        let mut r = Registry::new();
        for id in [1, 13, 15, 19, 23] {
            r.add(false, Family::Domain, id, None, false);
        }
        let ev = |kind| DomainEvent {
            domain: dom(1),
            kind,
        };
        let one = |kind| {
            let p = r.packets(&ev(kind));
            assert_eq!(p.len(), 1);
            p[0].clone()
        };
        assert_eq!(one(EventKind::Reboot).header.procedure, 319);
        let p = one(EventKind::BalloonChange { actual_kib: 4096 });
        assert_eq!(p.header.procedure, 331);
        let m: DomainEventCallbackBalloonChangeMsg = decode_from(&p.payload).unwrap();
        assert_eq!((m.callback_id, m.msg.actual), (1, 4096));
        let p = one(EventKind::DeviceRemoved {
            alias: "net0".into(),
        });
        assert_eq!(p.header.procedure, 333);
        let p = one(EventKind::DeviceAdded {
            alias: "ua-x".into(),
        });
        assert_eq!(p.header.procedure, 354);
        let m: DomainEventCallbackDeviceAddedMsg = decode_from(&p.payload).unwrap();
        assert_eq!((m.callback_id, m.dev_alias.as_str()), (3, "ua-x"));
        let p = one(EventKind::MetadataChange {
            kind: 2,
            nsuri: Some("http://x/".into()),
        });
        assert_eq!(p.header.procedure, 379);
        let m: DomainEventCallbackMetadataChangeMsg = decode_from(&p.payload).unwrap();
        assert_eq!((m.callback_id, m.r#type), (4, 2));
        assert_eq!(m.nsuri.as_deref(), Some("http://x/"));
    }

    #[test]
    fn tunable_events_go_to_their_callbacks_as_procedure_346() {
        use oxvirt_domain::driver::event::tunable;
        let mut r = Registry::new();
        r.add(false, Family::Domain, 0, None, false);
        let id = r.add(false, Family::Domain, 17, None, false);
        let event = DomainEvent::tunable_string(dom(5), tunable::cpu_vcpupin(1), "0-1");
        let p = r.packets(&event);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].header.procedure, 346);
        let m: DomainEventCallbackTunableMsg = decode_from(&p[0].payload).unwrap();
        assert_eq!((m.callback_id, m.dom.name.as_str()), (id, "d5"));
        assert_eq!(
            m.params,
            vec![TypedParam::new(
                "cputune.vcpupin1",
                TypedParamValue::String("0-1".into())
            )]
        );
    }

    #[test]
    fn shared_ids_are_process_wide() {
        let mut a = Registry::new();
        let mut b = Registry::new();
        let first = a.add(true, Family::Domain, 0, None, false);
        let second = b.add(true, Family::Network, 0, None, false);
        assert!(second > first);
    }
}
