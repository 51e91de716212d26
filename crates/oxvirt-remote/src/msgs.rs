//! Wire structs the driver needs beyond `oxvirt_rpc::remote`, laid out as libvirt 9.0's
//! `remote_protocol.x`: shapes shared by many procedures (`DomFlagsArgs` is
//! `remote_domain_managed_save_args`, `..._reset_args`...; `IntRet` every `{int x}` result)
//! and the callback-style event messages, flattened.

use oxvirt_rpc::types::{NonnullDomain, NonnullDomainSnapshot};
use oxvirt_rpc::Xdr;

/// One domain: `remote_domain_undefine_args`, `..._get_max_memory_args`,
/// `..._is_updated_args`.
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomArgs {
    /// The domain.
    pub dom: NonnullDomain,
}

/// A domain and flags: `remote_domain_managed_save_args` (182),
/// `..._managed_save_remove_args` (184), `..._reset_args` (245),
/// `..._get_vcpus_flags_args` (200), `..._snapshot_current_args` (191),
/// `..._has_current_snapshot_args` (190).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomFlagsArgs {
    /// The domain.
    pub dom: NonnullDomain,
    /// The call's flags.
    pub flags: u32,
}

/// A result holding one domain: `remote_domain_create_xml_ret` (10).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomRet {
    /// The domain.
    pub dom: NonnullDomain,
}

/// A result holding one int: `..._get_vcpus_flags_ret`, `..._is_updated_ret`,
/// `..._has_current_snapshot_ret`, `..._snapshot_is_current_ret`,
/// `..._snapshot_has_metadata_ret`, `remote_connect_get_max_vcpus_ret`.
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct IntRet {
    /// The value.
    pub value: i32,
}

/// A snapshot and flags: `remote_domain_snapshot_get_parent_args` (244),
/// `..._is_current_args` (271), `..._has_metadata_args` (272),
/// `remote_domain_revert_to_snapshot_args` (192), `..._snapshot_delete_args` (193).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct SnapFlagsArgs {
    /// The snapshot.
    pub snap: NonnullDomainSnapshot,
    /// The call's flags.
    pub flags: u32,
}

/// A result holding one snapshot: `..._snapshot_lookup_by_name_ret` (189),
/// `..._snapshot_current_ret` (191), `..._snapshot_get_parent_ret` (244).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct SnapRet {
    /// The snapshot.
    pub snap: NonnullDomainSnapshot,
}

/// The callback-style event messages whose body is just a domain:
/// `remote_domain_event_callback_reboot_msg` (319).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct CallbackDomMsg {
    /// The callback.
    pub callback_id: i32,
    /// The domain.
    pub dom: NonnullDomain,
}

/// `remote_domain_event_callback_balloon_change_msg` (331).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct CallbackBalloonMsg {
    /// The callback.
    pub callback_id: i32,
    /// The domain.
    pub dom: NonnullDomain,
    /// The new balloon size, KiB.
    pub actual: u64,
}

/// `remote_domain_event_callback_device_removed_msg` (333) and `..._device_added_msg`
/// (354).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct CallbackDeviceMsg {
    /// The callback.
    pub callback_id: i32,
    /// The domain.
    pub dom: NonnullDomain,
    /// The device's alias.
    pub dev_alias: String,
}

/// `remote_domain_event_callback_metadata_change_msg` (379).
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct CallbackMetadataMsg {
    /// The callback.
    pub callback_id: i32,
    /// The domain.
    pub dom: NonnullDomain,
    /// `VIR_DOMAIN_METADATA_*`.
    pub r#type: i32,
    /// The namespace for `VIR_DOMAIN_METADATA_ELEMENT`.
    pub nsuri: Option<String>,
}

/// `remote_domain_event_callback_lifecycle_msg` (318), flattened.
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct CallbackLifecycleMsg {
    /// The callback.
    pub callback_id: i32,
    /// The domain.
    pub dom: NonnullDomain,
    /// `virDomainEventType`.
    pub event: i32,
    /// The detail.
    pub detail: i32,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use oxvirt_rpc::xdr::{decode_from, encode_to_vec};

    fn dom() -> NonnullDomain {
        NonnullDomain {
            name: "t".into(),
            uuid: [0xab; 16],
            id: 2,
        }
    }

    #[test]
    fn dom_flags_layout() {
        let bytes = encode_to_vec(&DomFlagsArgs {
            dom: dom(),
            flags: 5,
        });
        let mut want = vec![0, 0, 0, 1, b't', 0, 0, 0];
        want.extend_from_slice(&[0xab; 16]);
        want.extend_from_slice(&[0, 0, 0, 2, 0, 0, 0, 5]);
        assert_eq!(bytes, want);
    }

    #[test]
    fn metadata_event_decodes() {
        let msg = CallbackMetadataMsg {
            callback_id: 3,
            dom: dom(),
            r#type: 2,
            nsuri: Some("http://x/".into()),
        };
        let back: CallbackMetadataMsg = decode_from(&encode_to_vec(&msg)).unwrap();
        assert_eq!(back, msg);
    }
}
