//! The answer for the REMOTE procedures the daemon knows but does not serve: libvirtd
//! calls the public API, which fails with `VIR_ERR_NO_SUPPORT` ("this function is not
//! supported by the connection driver: virXxx") in the error domain of the file the API
//! lives in. Event messages (server to client) have no dispatcher in libvirtd, so a CALL
//! of one gets "unknown procedure: N", as the daemon-internal AUTH_* calls do here.
//!
//! The argument and result structs of the non-core procedures live in
//! `oxvirt_rpc::remote` (`more.rs`).

use oxvirt_rpc::RemoteProcedure as P;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use crate::dispatch::unknown_procedure;

/// Words libvirt's public names spell otherwise than `Capitalised`.
const SPELLINGS: &[(&str, &str)] = &[
    ("XML", "XML"),
    ("UUID", "UUID"),
    ("URI", "URI"),
    ("CPU", "CPU"),
    ("OS", "OS"),
    ("ID", "ID"),
    ("MAC", "MAC"),
    ("NWFILTER", "NWFilter"),
    ("NWFILTERS", "NWFilters"),
    ("FSTRIM", "FSTrim"),
    ("FSFREEZE", "FSFreeze"),
    ("FSTHAW", "FSThaw"),
    ("FSINFO", "FSInfo"),
    ("IOTHREAD", "IOThread"),
    ("PM", "PM"),
    ("NMI", "NMI"),
    ("DHCP", "DHCP"),
    ("SEV", "SEV"),
    ("SCSI", "SCSI"),
    ("WWN", "WWN"),
    ("SSH", "SSH"),
    ("FD", "FD"),
];

/// Whether `procedure` is an event message the server sends (never a call).
pub fn is_event_message(procedure: P) -> bool {
    let name = procedure.short_name();
    (name.contains("_EVENT_") && !name.starts_with("CONNECT_"))
        || name == "CONNECT_EVENT_CONNECTION_CLOSED"
}

/// The public API function (`virDomainGetXMLDesc`...) libvirtd calls for `procedure`;
/// `None` for event messages and the daemon's own AUTH_* procedures.
pub fn public_function(procedure: P) -> Option<String> {
    let name = procedure.short_name();
    if is_event_message(procedure) || name.starts_with("AUTH_") {
        return None;
    }
    // The modern event registration calls are the RegisterAny APIs in the daemon.
    let name = name.replace("_EVENT_CALLBACK_", "_EVENT_");
    let mut out = String::from("vir");
    for word in name.split('_') {
        match SPELLINGS.iter().find(|(w, _)| *w == word) {
            Some((_, spelled)) => out.push_str(spelled),
            None => {
                let mut chars = word.chars();
                if let Some(first) = chars.next() {
                    out.push(first);
                    out.extend(chars.map(|c| c.to_ascii_lowercase()));
                }
            }
        }
    }
    Some(out)
}

/// The error domain of the libvirt source file `function` lives in (`VIR_FROM_THIS`):
/// libvirt-domain-snapshot.c, libvirt-domain-checkpoint.c, libvirt-network.c,
/// libvirt-storage.c, libvirt-interface.c, libvirt-nodedev.c, libvirt-secret.c,
/// libvirt-nwfilter.c; libvirt-domain.c and libvirt-host.c both report `VIR_FROM_DOMAIN`.
pub fn api_error_domain(function: &str) -> ErrorDomain {
    let rest = function.strip_prefix("vir").unwrap_or(function);
    if rest.starts_with("DomainSnapshot")
        || matches!(
            rest,
            "DomainListAllSnapshots" | "DomainHasCurrentSnapshot" | "DomainRevertToSnapshot"
        )
    {
        return ErrorDomain::DomainSnapshot;
    }
    if rest.starts_with("DomainCheckpoint") || rest == "DomainListAllCheckpoints" {
        return ErrorDomain::DomainCheckpoint;
    }
    if rest.starts_with("Domain") {
        return ErrorDomain::Domain;
    }
    if matches!(rest, "NodeNumOfDevices" | "NodeListDevices") {
        return ErrorDomain::Nodedev;
    }
    let noun = rest.strip_prefix("Connect").unwrap_or(rest);
    let families = [
        ("NWFilter", ErrorDomain::Nwfilter),
        ("NodeDevice", ErrorDomain::Nodedev),
        ("Secret", ErrorDomain::Secret),
        ("Interface", ErrorDomain::Interface),
        ("StoragePool", ErrorDomain::Storage),
        ("StorageVol", ErrorDomain::Storage),
        ("Network", ErrorDomain::Network),
    ];
    for (word, domain) in families {
        let hit = if rest.starts_with("Connect") {
            noun.contains(word)
        } else {
            rest.starts_with(word)
        };
        if hit {
            return domain;
        }
    }
    ErrorDomain::Domain
}

/// The object families of the public API, longest first: what a name starts with
/// before its verb (`virDomainSnapshot` + `Delete`).
const FAMILIES: &[&str] = &[
    "DomainSnapshot",
    "DomainCheckpoint",
    "Domain",
    "NetworkPort",
    "Network",
    "StoragePool",
    "StorageVol",
    "Interface",
    "NodeDevice",
    "Node",
    "Secret",
    "NWFilterBinding",
    "NWFilter",
    "Connect",
];

/// Verbs of the calls that change something: their public API starts with
/// `virCheckReadOnlyGoto`.
const CHANGING_VERBS: &[&str] = &[
    "Abort",
    "Add",
    "Agent",
    "Alloc",
    "Attach",
    "Build",
    "Change",
    "Core",
    "Create",
    "Define",
    "Del",
    "Delete",
    "Destroy",
    "Detach",
    "Dettach",
    "Download",
    "FDAssociate",
    "FSFreeze",
    "FSThaw",
    "FSTrim",
    "Graphics",
    "Inject",
    "Open",
    "PMSuspend",
    "PMWakeup",
    "Pin",
    "Re",
    "Reboot",
    "Refresh",
    "Rename",
    "Reset",
    "Resize",
    "Restore",
    "Resume",
    "Revert",
    "Save",
    "Screenshot",
    "Send",
    "Set",
    "Shutdown",
    "Start",
    "Suspend",
    "Undefine",
    "Update",
    "Upload",
    "Wipe",
];

/// Calls that only read but are refused on a read-only connection all the same (they
/// reach into the guest, its disks or memory, or secrets), as libvirt 9.0 has them.
const DENIED_READERS: &[&str] = &[
    "virDomainMemoryPeek",
    "virDomainGetTime",
    "virDomainGetHostname",
    "virDomainGetLaunchSecurityInfo",
    "virDomainGetFSInfo",
    "virDomainGetGuestInfo",
    "virDomainAuthorizedSSHKeysGet",
    "virDomainManagedSaveDefineXML",
    "virDomainBackupBegin",
    "virConnectDomainXMLToNative",
    "virConnectDomainXMLFromNative",
    "virConnectFindStoragePoolSources",
    "virSecretGetValue",
];

/// Whether libvirt's public `function` refuses a read-only connection before anything
/// else (`virCheckReadOnlyGoto`), whatever its flags.
pub fn denied_when_readonly(function: &str) -> bool {
    if DENIED_READERS.contains(&function) {
        return true;
    }
    let rest = function.strip_prefix("vir").unwrap_or(function);
    let rest = FAMILIES
        .iter()
        .find_map(|f| rest.strip_prefix(f))
        .unwrap_or(rest);
    if rest.starts_with("Migrate") {
        return rest != "MigrateGetMaxDowntime";
    }
    if rest.starts_with("ManagedSave") {
        // Only the XML with secrets is refused (by flag, in the dispatcher).
        return rest != "ManagedSaveGetXMLDesc";
    }
    if rest.starts_with("Block") {
        return !rest.starts_with("BlockStats");
    }
    CHANGING_VERBS.iter().any(|verb| {
        rest.strip_prefix(verb)
            .is_some_and(|after| after.chars().next().is_none_or(|c| c.is_ascii_uppercase()))
    })
}

/// `VIR_ERR_NO_SUPPORT` for `function`, in its family's error domain.
pub fn no_support(function: &str) -> VirError {
    VirError::new(api_error_domain(function), ErrorCode::NoSupport, function)
}

/// What libvirtd answers for a known procedure this daemon does not serve.
pub fn not_served(procedure: P) -> VirError {
    match public_function(procedure) {
        Some(function) => no_support(&function),
        None => unknown_procedure(procedure.number()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Real public names, checked against libvirt 9.0's headers and error messages.
    #[test]
    fn names_use_libvirts_spellings() {
        let table: &[(P, &str)] = &[
            (P::ConnectGetMaxVcpus, "virConnectGetMaxVcpus"),
            (P::DomainGetXmlDesc, "virDomainGetXMLDesc"),
            (P::DomainGetOsType, "virDomainGetOSType"),
            (P::DomainLookupById, "virDomainLookupByID"),
            (P::DomainLookupByUuid, "virDomainLookupByUUID"),
            (P::ConnectGetUri, "virConnectGetURI"),
            (P::NodeGetCellsFreeMemory, "virNodeGetCellsFreeMemory"),
            (P::DomainGetJobInfo, "virDomainGetJobInfo"),
            (P::DomainSnapshotCreateXml, "virDomainSnapshotCreateXML"),
            (P::DomainSaveImageGetXmlDesc, "virDomainSaveImageGetXMLDesc"),
            (P::DomainListAllSnapshots, "virDomainListAllSnapshots"),
            (P::ConnectGetAllDomainStats, "virConnectGetAllDomainStats"),
            (
                P::ConnectDomainEventCallbackRegisterAny,
                "virConnectDomainEventRegisterAny",
            ),
            (
                P::ConnectGetDomainCapabilities,
                "virConnectGetDomainCapabilities",
            ),
            (P::NetworkGetDhcpLeases, "virNetworkGetDHCPLeases"),
            (P::NodeGetCpuStats, "virNodeGetCPUStats"),
            (
                P::DomainSnapshotListChildrenNames,
                "virDomainSnapshotListChildrenNames",
            ),
            (
                P::DomainPmSuspendForDuration,
                "virDomainPMSuspendForDuration",
            ),
            (P::DomainPmWakeup, "virDomainPMWakeup"),
            (P::DomainInjectNmi, "virDomainInjectNMI"),
            (
                P::InterfaceLookupByMacString,
                "virInterfaceLookupByMACString",
            ),
            (P::NwfilterLookupByName, "virNWFilterLookupByName"),
            (P::ConnectListNwfilters, "virConnectListNWFilters"),
            (P::DomainFsfreeze, "virDomainFSFreeze"),
            (
                P::ConnectListAllStoragePools,
                "virConnectListAllStoragePools",
            ),
            (
                P::NodeDeviceLookupScsiHostByWwn,
                "virNodeDeviceLookupSCSIHostByWWN",
            ),
            (P::DomainGetFsinfo, "virDomainGetFSInfo"),
            (P::DomainPinIothread, "virDomainPinIOThread"),
            (P::NodeGetSevInfo, "virNodeGetSEVInfo"),
            (
                P::DomainAuthorizedSshKeysGet,
                "virDomainAuthorizedSSHKeysGet",
            ),
            (P::DomainOpenGraphicsFd, "virDomainOpenGraphicsFD"),
            (P::NodeDeviceDettach, "virNodeDeviceDettach"),
        ];
        for (procedure, expected) in table {
            assert_eq!(
                public_function(*procedure).as_deref(),
                Some(*expected),
                "{procedure}"
            );
        }
    }

    #[test]
    fn events_and_auth_have_no_public_function() {
        assert!(is_event_message(P::DomainEventLifecycle));
        assert!(is_event_message(P::DomainEventCallbackLifecycle));
        assert!(is_event_message(P::ConnectEventConnectionClosed));
        assert!(is_event_message(P::SecretEventValueChanged));
        assert!(!is_event_message(P::ConnectDomainEventCallbackRegisterAny));
        assert!(!is_event_message(P::DomainGetPerfEvents));
        assert_eq!(public_function(P::DomainEventLifecycle), None);
        assert_eq!(public_function(P::AuthPolkit), None);
        assert_eq!(public_function(P::AuthSaslInit), None);
        let messages = P::ALL.iter().filter(|p| is_event_message(**p)).count();
        assert_eq!(messages, 51);
    }

    #[test]
    fn error_domains_follow_the_api_family() {
        let table = [
            ("virDomainGetJobInfo", ErrorDomain::Domain),
            ("virNodeGetMemoryStats", ErrorDomain::Domain),
            ("virConnectCompareCPU", ErrorDomain::Domain),
            ("virNetworkGetDHCPLeases", ErrorDomain::Network),
            ("virConnectListAllSecrets", ErrorDomain::Secret),
            ("virConnectListAllNWFilters", ErrorDomain::Nwfilter),
            ("virConnectGetStoragePoolCapabilities", ErrorDomain::Storage),
            ("virStorageVolUpload", ErrorDomain::Storage),
            ("virConnectGetDomainCapabilities", ErrorDomain::Domain),
            ("virDomainSnapshotCreateXML", ErrorDomain::DomainSnapshot),
            ("virDomainRevertToSnapshot", ErrorDomain::DomainSnapshot),
            ("virDomainListAllCheckpoints", ErrorDomain::DomainCheckpoint),
            ("virNodeListDevices", ErrorDomain::Nodedev),
            ("virNodeDeviceGetXMLDesc", ErrorDomain::Nodedev),
            ("virConnectListAllInterfaces", ErrorDomain::Interface),
            ("virConnectNetworkEventRegisterAny", ErrorDomain::Network),
        ];
        for (function, domain) in table {
            assert_eq!(api_error_domain(function), domain, "{function}");
        }
    }

    #[test]
    fn not_served_messages() {
        let e = not_served(P::NetworkGetDhcpLeases);
        assert_eq!(e.code, ErrorCode::NoSupport);
        assert_eq!(e.domain, ErrorDomain::Network);
        assert_eq!(
            e.message,
            "this function is not supported by the connection driver: virNetworkGetDHCPLeases"
        );
        let e = not_served(P::DomainEventLifecycle);
        assert_eq!(e.code, ErrorCode::Rpc);
        assert_eq!(e.message, "unknown procedure: 107");
    }

    /// Every name the mapping makes is a function libvirt.so exports (when the library
    /// and `nm` are installed).
    #[test]
    fn every_public_function_is_exported_by_libvirt() {
        let lib = "/usr/lib/x86_64-linux-gnu/libvirt.so.0";
        let Ok(out) = std::process::Command::new("nm")
            .args(["-D", "--defined-only", lib])
            .output()
        else {
            println!("SKIPPED: nm not installed");
            return;
        };
        if !out.status.success() {
            println!("SKIPPED: {lib} not installed");
            return;
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let symbols: std::collections::HashSet<&str> = text
            .lines()
            .filter_map(|l| l.split_whitespace().nth(2))
            .map(|s| s.split('@').next().unwrap_or(s))
            .collect();
        let names: Vec<String> = P::ALL.iter().filter_map(|p| public_function(*p)).collect();
        assert_eq!(names.len(), 387);
        let missing: Vec<&String> = names
            .iter()
            .filter(|n| !symbols.contains(n.as_str()))
            .collect();
        assert!(missing.is_empty(), "not in {lib}: {missing:?}");
    }

    /// Checked with python3-libvirt on a read-only `test:///default` connection (and
    /// libvirt 9.0's source for the rest).
    #[test]
    fn readonly_refusal_follows_libvirt() {
        let denied = [
            "virDomainBlockResize",
            "virDomainSendKey",
            "virDomainCoreDump",
            "virDomainFSTrim",
            "virSecretDefineXML",
            "virNWFilterDefineXML",
            "virDomainBlockPeek",
            "virDomainMigrateGetMaxSpeed",
            "virConnectDomainXMLToNative",
            "virDomainGetTime",
            "virDomainGetHostname",
            "virDomainGetLaunchSecurityInfo",
            "virConnectFindStoragePoolSources",
            "virDomainScreenshot",
            "virDomainCheckpointCreateXML",
            "virDomainStartDirtyRateCalc",
            "virDomainAgentSetResponseTimeout",
            "virDomainSaveImageGetXMLDesc",
            "virDomainSnapshotDelete",
            "virDomainRevertToSnapshot",
            "virNodeDeviceReAttach",
            "virNodeDeviceDettach",
            "virNodeSuspendForDuration",
            "virNetworkUpdate",
            "virNetworkPortCreateXML",
            "virStorageVolWipePattern",
            "virInterfaceChangeBegin",
            "virDomainFDAssociate",
            "virDomainPMWakeup",
            "virDomainInjectNMI",
            "virDomainMigratePrepare3Params",
            "virDomainManagedSave",
            "virDomainManagedSaveRemove",
        ];
        for f in denied {
            assert!(denied_when_readonly(f), "{f}");
        }
        let allowed = [
            "virDomainMigrateGetMaxDowntime",
            "virDomainManagedSaveGetXMLDesc",
            "virDomainHasManagedSaveImage",
            "virDomainGetGuestVcpus",
            "virNetworkGetDHCPLeases",
            "virDomainGetPerfEvents",
            "virDomainGetJobStats",
            "virDomainGetBlockJobInfo",
            "virDomainMemoryStats",
            "virDomainInterfaceAddresses",
            "virDomainGetVcpuPinInfo",
            "virDomainGetEmulatorPinInfo",
            "virDomainGetDiskErrors",
            "virNodeGetCPUStats",
            "virNodeGetMemoryParameters",
            "virDomainBackupGetXMLDesc",
            "virDomainBlockStats",
            "virDomainBlockStatsFlags",
            "virDomainListAllSnapshots",
            "virDomainSnapshotCurrent",
            "virDomainHasCurrentSnapshot",
            "virConnectDomainEventRegisterAny",
            "virConnectRegisterCloseCallback",
            "virConnectClose",
        ];
        for f in allowed {
            assert!(!denied_when_readonly(f), "{f}");
        }
    }
}
