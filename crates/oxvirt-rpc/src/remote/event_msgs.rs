//! Event messages: MESSAGE packets (status OK) the server sends on its own, with the
//! event's procedure number.

use crate::types::NonnullDomain;
use crate::Xdr;

/// `VIR_DOMAIN_EVENT_*`: the `event` numbers of a lifecycle event.
pub mod lifecycle_event {
    /// `VIR_DOMAIN_EVENT_DEFINED`.
    pub const DEFINED: i32 = 0;
    /// `VIR_DOMAIN_EVENT_UNDEFINED`.
    pub const UNDEFINED: i32 = 1;
    /// `VIR_DOMAIN_EVENT_STARTED`.
    pub const STARTED: i32 = 2;
    /// `VIR_DOMAIN_EVENT_SUSPENDED`.
    pub const SUSPENDED: i32 = 3;
    /// `VIR_DOMAIN_EVENT_RESUMED`.
    pub const RESUMED: i32 = 4;
    /// `VIR_DOMAIN_EVENT_STOPPED`.
    pub const STOPPED: i32 = 5;
    /// `VIR_DOMAIN_EVENT_SHUTDOWN`.
    pub const SHUTDOWN: i32 = 6;
    /// `VIR_DOMAIN_EVENT_PMSUSPENDED`.
    pub const PMSUSPENDED: i32 = 7;
    /// `VIR_DOMAIN_EVENT_CRASHED`.
    pub const CRASHED: i32 = 8;
}

/// `remote_domain_event_lifecycle_msg`: the body of the legacy lifecycle event
/// (procedure 107, `REMOTE_PROC_DOMAIN_EVENT_LIFECYCLE`), also nested in 318.
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainEventLifecycleMsg {
    /// The domain the event is about.
    pub dom: NonnullDomain,
    /// `virDomainEventType` (see [`lifecycle_event`]).
    pub event: i32,
    /// The event-specific detail (`virDomainEvent*DetailType`).
    pub detail: i32,
}

/// `remote_domain_event_callback_lifecycle_msg`: procedure 318
/// (`REMOTE_PROC_DOMAIN_EVENT_CALLBACK_LIFECYCLE`), `callbackID` then the lifecycle body.
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainEventCallbackLifecycleMsg {
    /// The id CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY returned.
    pub callback_id: i32,
    /// The event itself.
    pub msg: DomainEventLifecycleMsg,
}
