//! Domain states and the reasons for them (`virDomainState`, `virDomain*Reason`).
//!
//! The discriminants are libvirt's numeric values; they cross the wire unchanged.

macro_rules! reason_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $value:literal, $c:literal;)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(i32)]
        pub enum $name {
            $(
                #[doc = concat!("`", $c, "`.")]
                $variant = $value,
            )*
        }

        impl $name {
            /// The value with libvirt's number `number`, if there is one.
            pub fn from_number(number: i32) -> Option<Self> {
                match number {
                    $($value => Some($name::$variant),)*
                    _ => None,
                }
            }

            /// libvirt's numeric value.
            pub fn number(self) -> i32 {
                self as i32
            }
        }
    };
}

pub(crate) use reason_enum;

reason_enum! {
    /// libvirt's `virDomainState`.
    DomainState {
        Nostate = 0, "VIR_DOMAIN_NOSTATE";
        Running = 1, "VIR_DOMAIN_RUNNING";
        Blocked = 2, "VIR_DOMAIN_BLOCKED";
        Paused = 3, "VIR_DOMAIN_PAUSED";
        Shutdown = 4, "VIR_DOMAIN_SHUTDOWN";
        Shutoff = 5, "VIR_DOMAIN_SHUTOFF";
        Crashed = 6, "VIR_DOMAIN_CRASHED";
        PmSuspended = 7, "VIR_DOMAIN_PMSUSPENDED";
    }
}

reason_enum! {
    /// libvirt's `virDomainNostateReason`.
    NostateReason {
        Unknown = 0, "VIR_DOMAIN_NOSTATE_UNKNOWN";
    }
}

reason_enum! {
    /// libvirt's `virDomainRunningReason`.
    RunningReason {
        Unknown = 0, "VIR_DOMAIN_RUNNING_UNKNOWN";
        Booted = 1, "VIR_DOMAIN_RUNNING_BOOTED";
        Migrated = 2, "VIR_DOMAIN_RUNNING_MIGRATED";
        Restored = 3, "VIR_DOMAIN_RUNNING_RESTORED";
        FromSnapshot = 4, "VIR_DOMAIN_RUNNING_FROM_SNAPSHOT";
        Unpaused = 5, "VIR_DOMAIN_RUNNING_UNPAUSED";
        MigrationCanceled = 6, "VIR_DOMAIN_RUNNING_MIGRATION_CANCELED";
        SaveCanceled = 7, "VIR_DOMAIN_RUNNING_SAVE_CANCELED";
        Wakeup = 8, "VIR_DOMAIN_RUNNING_WAKEUP";
        Crashed = 9, "VIR_DOMAIN_RUNNING_CRASHED";
        Postcopy = 10, "VIR_DOMAIN_RUNNING_POSTCOPY";
        PostcopyFailed = 11, "VIR_DOMAIN_RUNNING_POSTCOPY_FAILED";
    }
}

reason_enum! {
    /// libvirt's `virDomainBlockedReason`.
    BlockedReason {
        Unknown = 0, "VIR_DOMAIN_BLOCKED_UNKNOWN";
    }
}

reason_enum! {
    /// libvirt's `virDomainPausedReason`.
    PausedReason {
        Unknown = 0, "VIR_DOMAIN_PAUSED_UNKNOWN";
        User = 1, "VIR_DOMAIN_PAUSED_USER";
        Migration = 2, "VIR_DOMAIN_PAUSED_MIGRATION";
        Save = 3, "VIR_DOMAIN_PAUSED_SAVE";
        Dump = 4, "VIR_DOMAIN_PAUSED_DUMP";
        Ioerror = 5, "VIR_DOMAIN_PAUSED_IOERROR";
        Watchdog = 6, "VIR_DOMAIN_PAUSED_WATCHDOG";
        FromSnapshot = 7, "VIR_DOMAIN_PAUSED_FROM_SNAPSHOT";
        ShuttingDown = 8, "VIR_DOMAIN_PAUSED_SHUTTING_DOWN";
        Snapshot = 9, "VIR_DOMAIN_PAUSED_SNAPSHOT";
        Crashed = 10, "VIR_DOMAIN_PAUSED_CRASHED";
        StartingUp = 11, "VIR_DOMAIN_PAUSED_STARTING_UP";
        Postcopy = 12, "VIR_DOMAIN_PAUSED_POSTCOPY";
        PostcopyFailed = 13, "VIR_DOMAIN_PAUSED_POSTCOPY_FAILED";
    }
}

reason_enum! {
    /// libvirt's `virDomainShutdownReason`.
    ShutdownReason {
        Unknown = 0, "VIR_DOMAIN_SHUTDOWN_UNKNOWN";
        User = 1, "VIR_DOMAIN_SHUTDOWN_USER";
    }
}

reason_enum! {
    /// libvirt's `virDomainShutoffReason`.
    ShutoffReason {
        Unknown = 0, "VIR_DOMAIN_SHUTOFF_UNKNOWN";
        Shutdown = 1, "VIR_DOMAIN_SHUTOFF_SHUTDOWN";
        Destroyed = 2, "VIR_DOMAIN_SHUTOFF_DESTROYED";
        Crashed = 3, "VIR_DOMAIN_SHUTOFF_CRASHED";
        Migrated = 4, "VIR_DOMAIN_SHUTOFF_MIGRATED";
        Saved = 5, "VIR_DOMAIN_SHUTOFF_SAVED";
        Failed = 6, "VIR_DOMAIN_SHUTOFF_FAILED";
        FromSnapshot = 7, "VIR_DOMAIN_SHUTOFF_FROM_SNAPSHOT";
        Daemon = 8, "VIR_DOMAIN_SHUTOFF_DAEMON";
    }
}

reason_enum! {
    /// libvirt's `virDomainCrashedReason`.
    CrashedReason {
        Unknown = 0, "VIR_DOMAIN_CRASHED_UNKNOWN";
        Panicked = 1, "VIR_DOMAIN_CRASHED_PANICKED";
    }
}

reason_enum! {
    /// libvirt's `virDomainPMSuspendedReason`.
    PmSuspendedReason {
        Unknown = 0, "VIR_DOMAIN_PMSUSPENDED_UNKNOWN";
    }
}

/// A domain's state together with the reason for it, as `virDomainGetState` reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StateReason {
    /// No state.
    Nostate(NostateReason),
    /// Running, and why.
    Running(RunningReason),
    /// Blocked on a resource.
    Blocked(BlockedReason),
    /// Paused, and why.
    Paused(PausedReason),
    /// Being shut down.
    Shutdown(ShutdownReason),
    /// Shut off, and why.
    Shutoff(ShutoffReason),
    /// Crashed.
    Crashed(CrashedReason),
    /// Suspended by guest power management.
    PmSuspended(PmSuspendedReason),
}

impl StateReason {
    /// The state alone.
    pub fn state(self) -> DomainState {
        match self {
            StateReason::Nostate(_) => DomainState::Nostate,
            StateReason::Running(_) => DomainState::Running,
            StateReason::Blocked(_) => DomainState::Blocked,
            StateReason::Paused(_) => DomainState::Paused,
            StateReason::Shutdown(_) => DomainState::Shutdown,
            StateReason::Shutoff(_) => DomainState::Shutoff,
            StateReason::Crashed(_) => DomainState::Crashed,
            StateReason::PmSuspended(_) => DomainState::PmSuspended,
        }
    }

    /// libvirt's number for the reason (meaningful together with the state).
    pub fn reason(self) -> i32 {
        match self {
            StateReason::Nostate(r) => r.number(),
            StateReason::Running(r) => r.number(),
            StateReason::Blocked(r) => r.number(),
            StateReason::Paused(r) => r.number(),
            StateReason::Shutdown(r) => r.number(),
            StateReason::Shutoff(r) => r.number(),
            StateReason::Crashed(r) => r.number(),
            StateReason::PmSuspended(r) => r.number(),
        }
    }

    /// The pair from libvirt's numbers, as they come off the wire.
    pub fn from_numbers(state: i32, reason: i32) -> Option<Self> {
        Some(match DomainState::from_number(state)? {
            DomainState::Nostate => StateReason::Nostate(NostateReason::from_number(reason)?),
            DomainState::Running => StateReason::Running(RunningReason::from_number(reason)?),
            DomainState::Blocked => StateReason::Blocked(BlockedReason::from_number(reason)?),
            DomainState::Paused => StateReason::Paused(PausedReason::from_number(reason)?),
            DomainState::Shutdown => StateReason::Shutdown(ShutdownReason::from_number(reason)?),
            DomainState::Shutoff => StateReason::Shutoff(ShutoffReason::from_number(reason)?),
            DomainState::Crashed => StateReason::Crashed(CrashedReason::from_number(reason)?),
            DomainState::PmSuspended => {
                StateReason::PmSuspended(PmSuspendedReason::from_number(reason)?)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip() {
        let s = StateReason::Shutoff(ShutoffReason::Saved);
        assert_eq!((s.state().number(), s.reason()), (5, 5));
        assert_eq!(StateReason::from_numbers(5, 5), Some(s));
        assert_eq!(StateReason::from_numbers(1, 99), None);
        assert_eq!(PausedReason::from_number(1), Some(PausedReason::User));
    }
}
