//! Event messages: MESSAGE packets (status OK) the server sends on its own, with the
//! event's procedure number.

use super::TypedParam;
use crate::types::NonnullDomain;
use crate::Xdr;

/// `REMOTE_DOMAIN_EVENT_TUNABLE_MAX`: the most parameters a tunable event carries.
pub const DOMAIN_EVENT_TUNABLE_MAX: usize = 2048;

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

/// `remote_domain_event_reboot_msg`: the legacy reboot event (procedure 169), also nested
/// in 319.
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainEventRebootMsg {
    /// The domain that rebooted.
    pub dom: NonnullDomain,
}

/// `remote_domain_event_callback_reboot_msg`: procedure 319.
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainEventCallbackRebootMsg {
    /// The callback the event is for.
    pub callback_id: i32,
    /// The event itself.
    pub msg: DomainEventRebootMsg,
}

/// `remote_domain_event_balloon_change_msg`: the legacy balloon event (procedure 276), also
/// nested in 331.
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainEventBalloonChangeMsg {
    /// The domain.
    pub dom: NonnullDomain,
    /// The new balloon size in KiB.
    pub actual: u64,
}

/// `remote_domain_event_callback_balloon_change_msg`: procedure 331.
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainEventCallbackBalloonChangeMsg {
    /// The callback the event is for.
    pub callback_id: i32,
    /// The event itself.
    pub msg: DomainEventBalloonChangeMsg,
}

/// `remote_domain_event_device_removed_msg`: the legacy device-removed event (procedure
/// 311), also nested in 333.
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainEventDeviceRemovedMsg {
    /// The domain.
    pub dom: NonnullDomain,
    /// The removed device's alias.
    pub dev_alias: String,
}

/// `remote_domain_event_callback_device_removed_msg`: procedure 333.
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainEventCallbackDeviceRemovedMsg {
    /// The callback the event is for.
    pub callback_id: i32,
    /// The event itself.
    pub msg: DomainEventDeviceRemovedMsg,
}

/// `remote_domain_event_callback_device_added_msg`: procedure 354 (no legacy form).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainEventCallbackDeviceAddedMsg {
    /// The callback the event is for.
    pub callback_id: i32,
    /// The domain.
    pub dom: NonnullDomain,
    /// The added device's alias.
    pub dev_alias: String,
}

/// `remote_domain_event_callback_metadata_change_msg`: procedure 379 (no legacy form).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainEventCallbackMetadataChangeMsg {
    /// The callback the event is for.
    pub callback_id: i32,
    /// The domain.
    pub dom: NonnullDomain,
    /// `VIR_DOMAIN_METADATA_*`.
    pub r#type: i32,
    /// The namespace for `VIR_DOMAIN_METADATA_ELEMENT`.
    pub nsuri: Option<String>,
}

/// `remote_domain_event_callback_tunable_msg`: procedure 346
/// (`REMOTE_PROC_DOMAIN_EVENT_CALLBACK_TUNABLE`, no legacy form).
#[derive(Debug, Clone, PartialEq, Xdr)]
pub struct DomainEventCallbackTunableMsg {
    /// The callback the event is for.
    pub callback_id: i32,
    /// The domain.
    pub dom: NonnullDomain,
    /// The changed tunables (`cputune.vcpupin0` = `"0-1"`, ...).
    #[xdr(max = DOMAIN_EVENT_TUNABLE_MAX)]
    pub params: Vec<TypedParam>,
}

/// `remote_domain_event_callback_job_completed_msg`: procedure 363
/// (`REMOTE_PROC_DOMAIN_EVENT_CALLBACK_JOB_COMPLETED`, no legacy form).
#[derive(Debug, Clone, PartialEq, Xdr)]
pub struct DomainEventCallbackJobCompletedMsg {
    /// The callback the event is for.
    pub callback_id: i32,
    /// The domain.
    pub dom: NonnullDomain,
    /// The completed job's statistics, as `virDomainGetJobStats` names them.
    #[xdr(max = crate::remote::DOMAIN_JOB_STATS_MAX)]
    pub params: Vec<TypedParam>,
}

/// `remote_domain_event_callback_migration_iteration_msg`: procedure 359
/// (`REMOTE_PROC_DOMAIN_EVENT_CALLBACK_MIGRATION_ITERATION`, no legacy form).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainEventCallbackMigrationIterationMsg {
    /// The callback the event is for.
    pub callback_id: i32,
    /// The domain.
    pub dom: NonnullDomain,
    /// The pass over the guest's memory that has just begun (1 is the first).
    pub iteration: i32,
}

/// `remote_connect_domain_event_register_ret` and `..._deregister_ret` (procedures 105,
/// 106): a redundant flag.
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct ConnectDomainEventRegisterRet {
    /// `cb_registered`.
    pub cb_registered: i32,
}

/// `remote_connect_domain_event_register_any_args` and `..._deregister_any_args`
/// (procedures 167, 168): the legacy registration by event ID.
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct ConnectDomainEventRegisterAnyArgs {
    /// `eventID`.
    pub event_id: i32,
}

/// `remote_nonnull_node_device`.
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct NonnullNodeDevice {
    /// The device's name.
    pub name: String,
}

/// `remote_nonnull_secret`.
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct NonnullSecret {
    /// The secret's UUID.
    pub uuid: crate::types::Uuid,
    /// `VIR_SECRET_USAGE_TYPE_*`.
    pub usage_type: i32,
    /// What the secret is used for.
    pub usage_id: String,
}

/// `remote_connect_network_event_register_any_args`: procedure 313.
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct ConnectNetworkEventRegisterAnyArgs {
    /// `eventID`.
    pub event_id: i32,
    /// The network to watch, or all.
    pub net: Option<crate::types::NonnullNetwork>,
}

/// `remote_connect_storage_pool_event_register_any_args`: procedure 368.
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct ConnectStoragePoolEventRegisterAnyArgs {
    /// `eventID`.
    pub event_id: i32,
    /// The pool to watch, or all.
    pub pool: Option<crate::types::NonnullStoragePool>,
}

/// `remote_connect_node_device_event_register_any_args`: procedure 374.
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct ConnectNodeDeviceEventRegisterAnyArgs {
    /// `eventID`.
    pub event_id: i32,
    /// The device to watch, or all.
    pub dev: Option<NonnullNodeDevice>,
}

/// `remote_connect_secret_event_register_any_args`: procedure 380.
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct ConnectSecretEventRegisterAnyArgs {
    /// `eventID`.
    pub event_id: i32,
    /// The secret to watch, or all.
    pub secret: Option<NonnullSecret>,
}

/// The `..._event_register_any_ret` of procedures 313, 368, 374, 380 and the
/// `..._deregister_any_args` of 314, 369, 375, 381: one callback ID.
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct CallbackIdMsg {
    /// `callbackID`.
    pub callback_id: i32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::TypedParamValue;
    use crate::xdr::{decode_from, encode_to_vec};

    fn tunable(params: Vec<TypedParam>) -> DomainEventCallbackTunableMsg {
        DomainEventCallbackTunableMsg {
            callback_id: 2,
            dom: NonnullDomain {
                name: "vm".into(),
                uuid: [0x11; 16],
                id: 4,
            },
            params,
        }
    }

    #[test]
    fn tunable_event_bytes_and_round_trip() {
        let msg = tunable(vec![TypedParam::new(
            "cputune.vcpupin0",
            TypedParamValue::String("0-1".into()),
        )]);
        let mut want = vec![0, 0, 0, 2];
        want.extend_from_slice(&[0, 0, 0, 2, b'v', b'm', 0, 0]);
        want.extend_from_slice(&[0x11; 16]);
        want.extend_from_slice(&[0, 0, 0, 4]);
        want.extend_from_slice(&[0, 0, 0, 1]);
        want.extend_from_slice(&[0, 0, 0, 16]);
        want.extend_from_slice(b"cputune.vcpupin0");
        want.extend_from_slice(&[0, 0, 0, 7, 0, 0, 0, 3, b'0', b'-', b'1', 0]);
        assert_eq!(encode_to_vec(&msg), want);
        assert_eq!(decode_from(&want), Ok(msg));

        let many = tunable(vec![
            TypedParam::new("cputune.emulatorpin", TypedParamValue::String("0".into())),
            TypedParam::new("cputune.cpu_shares", TypedParamValue::ULLong(512)),
        ]);
        let bytes = encode_to_vec(&many);
        assert_eq!(
            decode_from::<DomainEventCallbackTunableMsg>(&bytes),
            Ok(many)
        );
    }

    #[test]
    fn tunable_event_refuses_more_than_libvirts_maximum() {
        let mut bytes = encode_to_vec(&tunable(Vec::new()));
        let n = bytes.len();
        let count = u32::try_from(DOMAIN_EVENT_TUNABLE_MAX + 1).unwrap();
        bytes[n - 4..].copy_from_slice(&count.to_be_bytes());
        assert!(decode_from::<DomainEventCallbackTunableMsg>(&bytes).is_err());
    }
}
