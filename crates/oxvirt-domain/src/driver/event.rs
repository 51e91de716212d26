//! Domain events: what happened to a domain, with libvirt's event and detail codes.

use std::sync::Mutex;

use tokio::sync::mpsc;

use super::state::reason_enum;
use super::typed::{TypedParam, TypedValue};
use super::DomainRef;

reason_enum! {
    /// libvirt's `virDomainEventDefinedDetailType`.
    DefinedDetail {
        Added = 0, "VIR_DOMAIN_EVENT_DEFINED_ADDED";
        Updated = 1, "VIR_DOMAIN_EVENT_DEFINED_UPDATED";
        Renamed = 2, "VIR_DOMAIN_EVENT_DEFINED_RENAMED";
        FromSnapshot = 3, "VIR_DOMAIN_EVENT_DEFINED_FROM_SNAPSHOT";
    }
}

reason_enum! {
    /// libvirt's `virDomainEventUndefinedDetailType`.
    UndefinedDetail {
        Removed = 0, "VIR_DOMAIN_EVENT_UNDEFINED_REMOVED";
        Renamed = 1, "VIR_DOMAIN_EVENT_UNDEFINED_RENAMED";
    }
}

reason_enum! {
    /// libvirt's `virDomainEventStartedDetailType`.
    StartedDetail {
        Booted = 0, "VIR_DOMAIN_EVENT_STARTED_BOOTED";
        Migrated = 1, "VIR_DOMAIN_EVENT_STARTED_MIGRATED";
        Restored = 2, "VIR_DOMAIN_EVENT_STARTED_RESTORED";
        FromSnapshot = 3, "VIR_DOMAIN_EVENT_STARTED_FROM_SNAPSHOT";
        Wakeup = 4, "VIR_DOMAIN_EVENT_STARTED_WAKEUP";
    }
}

reason_enum! {
    /// libvirt's `virDomainEventSuspendedDetailType`.
    SuspendedDetail {
        Paused = 0, "VIR_DOMAIN_EVENT_SUSPENDED_PAUSED";
        Migrated = 1, "VIR_DOMAIN_EVENT_SUSPENDED_MIGRATED";
        Ioerror = 2, "VIR_DOMAIN_EVENT_SUSPENDED_IOERROR";
        Watchdog = 3, "VIR_DOMAIN_EVENT_SUSPENDED_WATCHDOG";
        Restored = 4, "VIR_DOMAIN_EVENT_SUSPENDED_RESTORED";
        FromSnapshot = 5, "VIR_DOMAIN_EVENT_SUSPENDED_FROM_SNAPSHOT";
        ApiError = 6, "VIR_DOMAIN_EVENT_SUSPENDED_API_ERROR";
        Postcopy = 7, "VIR_DOMAIN_EVENT_SUSPENDED_POSTCOPY";
        PostcopyFailed = 8, "VIR_DOMAIN_EVENT_SUSPENDED_POSTCOPY_FAILED";
    }
}

reason_enum! {
    /// libvirt's `virDomainEventResumedDetailType`.
    ResumedDetail {
        Unpaused = 0, "VIR_DOMAIN_EVENT_RESUMED_UNPAUSED";
        Migrated = 1, "VIR_DOMAIN_EVENT_RESUMED_MIGRATED";
        FromSnapshot = 2, "VIR_DOMAIN_EVENT_RESUMED_FROM_SNAPSHOT";
        Postcopy = 3, "VIR_DOMAIN_EVENT_RESUMED_POSTCOPY";
        PostcopyFailed = 4, "VIR_DOMAIN_EVENT_RESUMED_POSTCOPY_FAILED";
    }
}

reason_enum! {
    /// libvirt's `virDomainEventStoppedDetailType`.
    StoppedDetail {
        Shutdown = 0, "VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN";
        Destroyed = 1, "VIR_DOMAIN_EVENT_STOPPED_DESTROYED";
        Crashed = 2, "VIR_DOMAIN_EVENT_STOPPED_CRASHED";
        Migrated = 3, "VIR_DOMAIN_EVENT_STOPPED_MIGRATED";
        Saved = 4, "VIR_DOMAIN_EVENT_STOPPED_SAVED";
        Failed = 5, "VIR_DOMAIN_EVENT_STOPPED_FAILED";
        FromSnapshot = 6, "VIR_DOMAIN_EVENT_STOPPED_FROM_SNAPSHOT";
    }
}

reason_enum! {
    /// libvirt's `virDomainEventShutdownDetailType`.
    ShutdownDetail {
        Finished = 0, "VIR_DOMAIN_EVENT_SHUTDOWN_FINISHED";
        Guest = 1, "VIR_DOMAIN_EVENT_SHUTDOWN_GUEST";
        Host = 2, "VIR_DOMAIN_EVENT_SHUTDOWN_HOST";
    }
}

reason_enum! {
    /// libvirt's `virDomainEventPMSuspendedDetailType`.
    PmSuspendedDetail {
        Memory = 0, "VIR_DOMAIN_EVENT_PMSUSPENDED_MEMORY";
        Disk = 1, "VIR_DOMAIN_EVENT_PMSUSPENDED_DISK";
    }
}

reason_enum! {
    /// libvirt's `virDomainEventCrashedDetailType`.
    CrashedDetail {
        Panicked = 0, "VIR_DOMAIN_EVENT_CRASHED_PANICKED";
        Crashloaded = 1, "VIR_DOMAIN_EVENT_CRASHED_CRASHLOADED";
    }
}

reason_enum! {
    /// libvirt's `virDomainEventID`: which callback an event goes to.
    EventId {
        Lifecycle = 0, "VIR_DOMAIN_EVENT_ID_LIFECYCLE";
        Reboot = 1, "VIR_DOMAIN_EVENT_ID_REBOOT";
        RtcChange = 2, "VIR_DOMAIN_EVENT_ID_RTC_CHANGE";
        Watchdog = 3, "VIR_DOMAIN_EVENT_ID_WATCHDOG";
        IoError = 4, "VIR_DOMAIN_EVENT_ID_IO_ERROR";
        Graphics = 5, "VIR_DOMAIN_EVENT_ID_GRAPHICS";
        IoErrorReason = 6, "VIR_DOMAIN_EVENT_ID_IO_ERROR_REASON";
        ControlError = 7, "VIR_DOMAIN_EVENT_ID_CONTROL_ERROR";
        BlockJob = 8, "VIR_DOMAIN_EVENT_ID_BLOCK_JOB";
        DiskChange = 9, "VIR_DOMAIN_EVENT_ID_DISK_CHANGE";
        TrayChange = 10, "VIR_DOMAIN_EVENT_ID_TRAY_CHANGE";
        Pmwakeup = 11, "VIR_DOMAIN_EVENT_ID_PMWAKEUP";
        Pmsuspend = 12, "VIR_DOMAIN_EVENT_ID_PMSUSPEND";
        BalloonChange = 13, "VIR_DOMAIN_EVENT_ID_BALLOON_CHANGE";
        PmsuspendDisk = 14, "VIR_DOMAIN_EVENT_ID_PMSUSPEND_DISK";
        DeviceRemoved = 15, "VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED";
        BlockJob2 = 16, "VIR_DOMAIN_EVENT_ID_BLOCK_JOB_2";
        Tunable = 17, "VIR_DOMAIN_EVENT_ID_TUNABLE";
        AgentLifecycle = 18, "VIR_DOMAIN_EVENT_ID_AGENT_LIFECYCLE";
        DeviceAdded = 19, "VIR_DOMAIN_EVENT_ID_DEVICE_ADDED";
        MigrationIteration = 20, "VIR_DOMAIN_EVENT_ID_MIGRATION_ITERATION";
        JobCompleted = 21, "VIR_DOMAIN_EVENT_ID_JOB_COMPLETED";
        DeviceRemovalFailed = 22, "VIR_DOMAIN_EVENT_ID_DEVICE_REMOVAL_FAILED";
        MetadataChange = 23, "VIR_DOMAIN_EVENT_ID_METADATA_CHANGE";
        BlockThreshold = 24, "VIR_DOMAIN_EVENT_ID_BLOCK_THRESHOLD";
        MemoryFailure = 25, "VIR_DOMAIN_EVENT_ID_MEMORY_FAILURE";
        MemoryDeviceSizeChange = 26, "VIR_DOMAIN_EVENT_ID_MEMORY_DEVICE_SIZE_CHANGE";
    }
}

/// A lifecycle event (`VIR_DOMAIN_EVENT_ID_LIFECYCLE`) with its detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lifecycle {
    /// `VIR_DOMAIN_EVENT_DEFINED`.
    Defined(DefinedDetail),
    /// `VIR_DOMAIN_EVENT_UNDEFINED`.
    Undefined(UndefinedDetail),
    /// `VIR_DOMAIN_EVENT_STARTED`.
    Started(StartedDetail),
    /// `VIR_DOMAIN_EVENT_SUSPENDED`.
    Suspended(SuspendedDetail),
    /// `VIR_DOMAIN_EVENT_RESUMED`.
    Resumed(ResumedDetail),
    /// `VIR_DOMAIN_EVENT_STOPPED`.
    Stopped(StoppedDetail),
    /// `VIR_DOMAIN_EVENT_SHUTDOWN`.
    Shutdown(ShutdownDetail),
    /// `VIR_DOMAIN_EVENT_PMSUSPENDED`.
    PmSuspended(PmSuspendedDetail),
    /// `VIR_DOMAIN_EVENT_CRASHED`.
    Crashed(CrashedDetail),
}

impl Lifecycle {
    /// libvirt's `virDomainEventType` number.
    pub fn event(self) -> i32 {
        match self {
            Lifecycle::Defined(_) => 0,
            Lifecycle::Undefined(_) => 1,
            Lifecycle::Started(_) => 2,
            Lifecycle::Suspended(_) => 3,
            Lifecycle::Resumed(_) => 4,
            Lifecycle::Stopped(_) => 5,
            Lifecycle::Shutdown(_) => 6,
            Lifecycle::PmSuspended(_) => 7,
            Lifecycle::Crashed(_) => 8,
        }
    }

    /// libvirt's number for the detail (meaningful together with the event).
    pub fn detail(self) -> i32 {
        match self {
            Lifecycle::Defined(d) => d.number(),
            Lifecycle::Undefined(d) => d.number(),
            Lifecycle::Started(d) => d.number(),
            Lifecycle::Suspended(d) => d.number(),
            Lifecycle::Resumed(d) => d.number(),
            Lifecycle::Stopped(d) => d.number(),
            Lifecycle::Shutdown(d) => d.number(),
            Lifecycle::PmSuspended(d) => d.number(),
            Lifecycle::Crashed(d) => d.number(),
        }
    }

    /// The event from libvirt's numbers, as they come off the wire.
    pub fn from_numbers(event: i32, detail: i32) -> Option<Self> {
        Some(match event {
            0 => Lifecycle::Defined(DefinedDetail::from_number(detail)?),
            1 => Lifecycle::Undefined(UndefinedDetail::from_number(detail)?),
            2 => Lifecycle::Started(StartedDetail::from_number(detail)?),
            3 => Lifecycle::Suspended(SuspendedDetail::from_number(detail)?),
            4 => Lifecycle::Resumed(ResumedDetail::from_number(detail)?),
            5 => Lifecycle::Stopped(StoppedDetail::from_number(detail)?),
            6 => Lifecycle::Shutdown(ShutdownDetail::from_number(detail)?),
            7 => Lifecycle::PmSuspended(PmSuspendedDetail::from_number(detail)?),
            8 => Lifecycle::Crashed(CrashedDetail::from_number(detail)?),
            _ => return None,
        })
    }
}

/// libvirt's `VIR_DOMAIN_TUNABLE_*` field names of a tunable event
/// (`VIR_DOMAIN_EVENT_ID_TUNABLE`), for the pinning a driver reports.
pub mod tunable {
    /// `VIR_DOMAIN_TUNABLE_CPU_EMULATORPIN`: the emulator threads' CPU list.
    pub const CPU_EMULATORPIN: &str = "cputune.emulatorpin";

    /// `VIR_DOMAIN_TUNABLE_CPU_VCPUPIN` (`cputune.vcpupin%u`): vCPU `vcpu`'s CPU list.
    pub fn cpu_vcpupin(vcpu: u32) -> String {
        format!("cputune.vcpupin{vcpu}")
    }

    /// `VIR_DOMAIN_TUNABLE_CPU_IOTHREADSPIN` (`cputune.iothreadpin%u`): the CPU list of the
    /// I/O thread with ID `iothread`.
    pub fn cpu_iothreadpin(iothread: u32) -> String {
        format!("cputune.iothreadpin{iothread}")
    }
}

/// What happened, for each kind of domain event a driver emits.
///
/// Not `Eq`: a tunable event carries typed parameters, which may hold a `double`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum EventKind {
    /// The domain was defined, started, stopped... (`VIR_DOMAIN_EVENT_ID_LIFECYCLE`).
    Lifecycle(Lifecycle),
    /// The guest rebooted (`VIR_DOMAIN_EVENT_ID_REBOOT`).
    Reboot,
    /// A device was added while the domain ran (`VIR_DOMAIN_EVENT_ID_DEVICE_ADDED`).
    DeviceAdded {
        /// The device's alias (`ua-...` or the one the driver assigned).
        alias: String,
    },
    /// A device was removed while the domain ran (`VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED`).
    DeviceRemoved {
        /// The device's alias.
        alias: String,
    },
    /// The balloon reached a new size (`VIR_DOMAIN_EVENT_ID_BALLOON_CHANGE`).
    BalloonChange {
        /// The memory the guest now has, in KiB.
        actual_kib: u64,
    },
    /// The title, description or a metadata element changed
    /// (`VIR_DOMAIN_EVENT_ID_METADATA_CHANGE`).
    MetadataChange {
        /// `VIR_DOMAIN_METADATA_*` (see [`super::flags::metadata`]).
        kind: i32,
        /// The namespace URI for `VIR_DOMAIN_METADATA_ELEMENT`.
        nsuri: Option<String>,
    },
    /// Tunables of a running domain changed, e.g. a live pin
    /// (`VIR_DOMAIN_EVENT_ID_TUNABLE`): the new values, named as [`tunable`] names them.
    Tunable {
        /// The parameters, in the order the driver set them.
        params: Vec<TypedParam>,
    },
    /// A job completed, e.g. an outgoing migration at its confirm phase
    /// (`VIR_DOMAIN_EVENT_ID_JOB_COMPLETED`): its statistics, as `virDomainGetJobStats`
    /// with `VIR_DOMAIN_JOB_STATS_COMPLETED` gives them.
    JobCompleted {
        /// The statistics (`operation`, `time_elapsed`, `downtime`, ...).
        params: Vec<TypedParam>,
    },
    /// An outgoing migration began another pass over the guest's memory
    /// (`VIR_DOMAIN_EVENT_ID_MIGRATION_ITERATION`, from QEMU's `MIGRATION_PASS`).
    MigrationIteration {
        /// The pass that began (1 is the first).
        iteration: i32,
    },
}

impl EventKind {
    /// Which libvirt callback (`virDomainEventID`) receives this event.
    pub fn id(&self) -> EventId {
        match self {
            EventKind::Lifecycle(_) => EventId::Lifecycle,
            EventKind::Reboot => EventId::Reboot,
            EventKind::DeviceAdded { .. } => EventId::DeviceAdded,
            EventKind::DeviceRemoved { .. } => EventId::DeviceRemoved,
            EventKind::BalloonChange { .. } => EventId::BalloonChange,
            EventKind::MetadataChange { .. } => EventId::MetadataChange,
            EventKind::Tunable { .. } => EventId::Tunable,
            EventKind::JobCompleted { .. } => EventId::JobCompleted,
            EventKind::MigrationIteration { .. } => EventId::MigrationIteration,
        }
    }
}

/// One event: the domain it concerns (as it was when the event happened) and what happened.
#[derive(Debug, Clone, PartialEq)]
pub struct DomainEvent {
    /// The domain, with the ID it had at the time.
    pub domain: DomainRef,
    /// What happened.
    pub kind: EventKind,
}

impl DomainEvent {
    /// A lifecycle event.
    pub fn lifecycle(domain: DomainRef, event: Lifecycle) -> Self {
        DomainEvent {
            domain,
            kind: EventKind::Lifecycle(event),
        }
    }

    /// A tunable event with one string parameter, as libvirt's QEMU driver sends after a
    /// live pin (`field` from [`tunable`], `value` the CPU list, e.g. `0-1`).
    pub fn tunable_string(
        domain: DomainRef,
        field: impl Into<String>,
        value: impl Into<String>,
    ) -> Self {
        DomainEvent {
            domain,
            kind: EventKind::Tunable {
                params: vec![TypedParam::new(field, TypedValue::String(value.into()))],
            },
        }
    }
}

/// The receiving end of a subscription: every event emitted after [`EventBus::subscribe`],
/// in order, none dropped.
pub type EventReceiver = mpsc::UnboundedReceiver<DomainEvent>;

/// Fans a driver's events out to every subscriber; subscribers that went away are forgotten.
/// Domain events by default; other drivers (networks) use it with their own event type.
#[derive(Debug)]
pub struct EventBus<E = DomainEvent> {
    subscribers: Mutex<Vec<mpsc::UnboundedSender<E>>>,
}

impl<E> Default for EventBus<E> {
    fn default() -> Self {
        EventBus {
            subscribers: Mutex::new(Vec::new()),
        }
    }
}

impl<E: Clone> EventBus<E> {
    /// A bus with no subscribers.
    pub fn new() -> Self {
        Self::default()
    }

    /// A new subscription: every event emitted from now on, in order, none dropped.
    pub fn subscribe(&self) -> mpsc::UnboundedReceiver<E> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.lock().push(tx);
        rx
    }

    /// Sends `event` to every live subscriber.
    pub fn emit(&self, event: E) {
        self.lock().retain(|tx| tx.send(event.clone()).is_ok());
    }

    /// How many subscribers are still listening.
    pub fn subscribers(&self) -> usize {
        let mut subs = self.lock();
        subs.retain(|tx| !tx.is_closed());
        subs.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<mpsc::UnboundedSender<E>>> {
        // A panic while holding the lock cannot leave the list inconsistent.
        self.subscribers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxvirt_xml::types::Uuid;

    #[test]
    fn lifecycle_numbers_round_trip() {
        let e = Lifecycle::Stopped(StoppedDetail::Destroyed);
        assert_eq!((e.event(), e.detail()), (5, 1));
        assert_eq!(Lifecycle::from_numbers(5, 1), Some(e));
        assert_eq!(Lifecycle::from_numbers(9, 0), None);
    }

    #[test]
    fn bus_fans_out_and_forgets_closed_subscribers() {
        let bus = EventBus::new();
        let mut a = bus.subscribe();
        let b = bus.subscribe();
        drop(b);
        let dom = DomainRef {
            name: "x".into(),
            uuid: Uuid::from([0; 16]),
            id: 1,
        };
        bus.emit(DomainEvent::lifecycle(
            dom,
            Lifecycle::Started(StartedDetail::Booted),
        ));
        assert_eq!(bus.subscribers(), 1);
        let got = a.try_recv().unwrap();
        assert_eq!(got.kind.id(), EventId::Lifecycle);
    }

    #[test]
    fn tunable_events_name_libvirts_fields() {
        assert_eq!(tunable::cpu_vcpupin(3), "cputune.vcpupin3");
        assert_eq!(tunable::cpu_iothreadpin(1), "cputune.iothreadpin1");
        let dom = DomainRef {
            name: "x".into(),
            uuid: Uuid::from([0; 16]),
            id: 1,
        };
        let e = DomainEvent::tunable_string(dom, tunable::CPU_EMULATORPIN, "0-1");
        assert_eq!(e.kind.id(), EventId::Tunable);
        assert_eq!(e.kind.id().number(), 17);
        assert_eq!(
            e.kind,
            EventKind::Tunable {
                params: vec![TypedParam::new(
                    "cputune.emulatorpin",
                    TypedValue::String("0-1".into())
                )]
            }
        );
    }
}
