//! The read-only gate, without a daemon.

use oxvirt_rpc::remote::{DomainGetVcpusFlagsArgs, DomainSnapshotGetXmlDescArgs};
use oxvirt_rpc::types::{NonnullDomain, NonnullDomainSnapshot};
use oxvirt_rpc::xdr::encode_to_vec;
use oxvirt_rpc::RemoteProcedure as P;
use oxvirt_xml::{ErrorCode, ErrorDomain};

use super::{check_readonly, mutating_function};

fn dom() -> NonnullDomain {
    NonnullDomain {
        name: "test".into(),
        uuid: [0; 16],
        id: 1,
    }
}

#[test]
fn mutating_procedures_name_their_public_function() {
    let table = [
        (P::DomainSave, "virDomainSave"),
        (P::DomainSaveFlags, "virDomainSaveFlags"),
        (P::DomainRestoreFlags, "virDomainRestoreFlags"),
        (P::DomainSaveImageGetXmlDesc, "virDomainSaveImageGetXMLDesc"),
        (P::DomainSaveImageDefineXml, "virDomainSaveImageDefineXML"),
        (P::DomainManagedSaveRemove, "virDomainManagedSaveRemove"),
        (P::DomainSnapshotCreateXml, "virDomainSnapshotCreateXML"),
        (P::DomainRevertToSnapshot, "virDomainRevertToSnapshot"),
        (P::DomainSetMemory, "virDomainSetMemory"),
        (P::DomainSetVcpusFlags, "virDomainSetVcpusFlags"),
        (P::DomainAttachDeviceFlags, "virDomainAttachDeviceFlags"),
        (P::DomainUpdateDeviceFlags, "virDomainUpdateDeviceFlags"),
        (P::DomainSetMetadata, "virDomainSetMetadata"),
        (P::DomainReset, "virDomainReset"),
        (P::DomainAbortJob, "virDomainAbortJob"),
        (P::DomainCreateXml, "virDomainCreateXML"),
    ];
    for (procedure, function) in table {
        assert_eq!(mutating_function(procedure).as_deref(), Some(function));
    }
    for reader in [
        P::DomainGetMetadata,
        P::DomainSnapshotCurrent,
        P::DomainListAllSnapshots,
        P::DomainGetJobInfo,
        P::ConnectGetAllDomainStats,
        P::NodeGetFreeMemory,
        P::DomainGetMaxMemory,
        P::DomainHasManagedSaveImage,
    ] {
        assert_eq!(mutating_function(reader), None, "{reader}");
    }
}

#[test]
fn readonly_refusals_carry_libvirts_words_and_domains() {
    let e = check_readonly(P::DomainSaveFlags, &[]).unwrap_err();
    assert_eq!(
        (e.code, e.domain),
        (ErrorCode::OperationDenied, ErrorDomain::Domain)
    );
    assert_eq!(
        e.message,
        "operation forbidden: read only access prevents virDomainSaveFlags"
    );
    let e = check_readonly(P::DomainSnapshotDelete, &[]).unwrap_err();
    assert_eq!(e.domain, ErrorDomain::DomainSnapshot);
    assert_eq!(
        e.message,
        "operation forbidden: read only access prevents virDomainSnapshotDelete"
    );
    assert!(check_readonly(P::DomainGetMetadata, &[]).is_ok());
}

#[test]
fn readonly_refuses_secure_and_guest_flags_only() {
    let snap = |flags| {
        encode_to_vec(&DomainSnapshotGetXmlDescArgs {
            snap: NonnullDomainSnapshot {
                name: "s1".into(),
                dom: dom(),
            },
            flags,
        })
    };
    assert!(check_readonly(P::DomainSnapshotGetXmlDesc, &snap(0)).is_ok());
    let e = check_readonly(P::DomainSnapshotGetXmlDesc, &snap(1)).unwrap_err();
    assert_eq!(e.domain, ErrorDomain::DomainSnapshot);
    assert_eq!(
        e.message,
        "operation forbidden: virDomainSnapshotGetXMLDesc with secure flag"
    );
    let vcpus = |flags| encode_to_vec(&DomainGetVcpusFlagsArgs { dom: dom(), flags });
    assert!(check_readonly(P::DomainGetVcpusFlags, &vcpus(4)).is_ok());
    let e = check_readonly(P::DomainGetVcpusFlags, &vcpus(8)).unwrap_err();
    assert_eq!(
        e.message,
        "operation forbidden: read only access prevents virDomainGetVcpusFlags"
    );
}

#[test]
fn the_served_list_agrees_with_the_verb_rule() {
    for procedure in super::MUTATING {
        let function = crate::extra::public_function(*procedure).unwrap();
        assert!(crate::extra::denied_when_readonly(&function), "{function}");
    }
    // An unserved changing call is refused before "not supported".
    let e = check_readonly(P::NetworkDestroy, &[]).unwrap_err();
    assert_eq!(
        (e.code, e.domain),
        (ErrorCode::OperationDenied, ErrorDomain::Network)
    );
    assert!(check_readonly(P::NetworkGetDhcpLeases, &[]).is_ok());
}
