//! Access control, in the one place every call passes ([`crate::dispatch::dispatch`]):
//! who the client is (its [`Identity`]), which of libvirt's ACL permissions the call
//! requires ([`oxvirt_access::table`]), on which object (decoded from the arguments,
//! resolved through the driver as the driver will find it), and what the policy file says.
//!
//! Without a policy file every client that reached a socket may do everything, except a
//! unix peer on the read-write socket that is neither root, nor the daemon's own user, nor
//! a member of `unix_sock_group`: it is refused at CONNECT_OPEN, as libvirtd's polkit
//! default refuses unprivileged users there (Debian's polkit rule lets the `libvirt`
//! group in). With a policy, every call of every client is decided by it, except those of
//! root and of the daemon's own user on a unix socket (polkit, which libvirt's ACLs ask,
//! always authorises root). Denials are libvirt's `VIR_ERR_ACCESS_DENIED` ("access
//! denied: 'QEMU' denied access") and a warning in the log naming the subject, the
//! procedure, the object and the rule (file:line, or the default) that decided.
//!
//! As libvirt, listing calls leave out the objects the client may not `getattr`
//! ([`Filter`], the table's `@aclfilter`), and events reach a client only for objects it
//! may `getattr`. A call on an object that does not exist is left to the driver, which
//! says so (libvirt checks access once it has found the object). An object the arguments
//! do not name (a restore from an image, an incoming migration) is "unknown": only rules
//! without object keys grant an operation on it.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, PoisonError};

use oxvirt_access::{Accounts, Policy, Subject, Target};
use oxvirt_domain::driver::{DomainRef, Hypervisor};
use oxvirt_rpc::remote::{
    DomainLookupByIdArgs, DomainLookupByNameArgs, DomainLookupByUuidArgs, NetworkLookupByNameArgs,
    NetworkLookupByUuidArgs, StoragePoolLookupByNameArgs, StoragePoolLookupByTargetPathArgs,
    StoragePoolLookupByUuidArgs, StorageVolLookupByKeyArgs, StorageVolLookupByPathArgs,
};
use oxvirt_rpc::types::{
    NonnullDomain, NonnullDomainSnapshot, NonnullNetwork, NonnullStoragePool, NonnullStorageVol,
};
use oxvirt_rpc::xdr::decode_from;
use oxvirt_rpc::RemoteProcedure as P;
use oxvirt_xml::types::Uuid;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use crate::client::{Client, Identity};
use crate::log::warning;

/// The daemon's access-control state, set once at startup.
struct Access {
    /// The policy and the file it came from; `None`: no policy file.
    policy: Option<(Policy, PathBuf)>,
    /// The daemon's own user id.
    own_uid: u32,
    /// `unix_sock_group`'s gid: without a policy, its members may use the read-write
    /// socket (as Debian's polkit rule lets the `libvirt` group manage libvirtd).
    sock_gid: Option<u32>,
    /// For the groups of unix peers.
    accounts: Accounts,
    /// The groups of each (uid, primary gid) seen so far.
    groups: Mutex<HashMap<(u32, u32), Vec<u32>>>,
}

static ACCESS: OnceLock<Access> = OnceLock::new();

/// The daemon's effective user id (the owner of `/proc/self`).
pub(crate) fn own_uid() -> u32 {
    std::fs::metadata("/proc/self").map_or(0, |m| m.uid())
}

/// Loads the policy file at `path` (if any), its names resolved with `accounts`, and
/// installs access control, with the sockets' `unix_sock_group` id; a file that cannot be
/// read or parsed is an error naming the file and the line.
pub fn install(
    path: Option<&Path>,
    sock_gid: Option<u32>,
    accounts: Accounts,
) -> Result<(), String> {
    let policy = match path {
        Some(path) => Some((load(path, &accounts)?, path.to_path_buf())),
        None => None,
    };
    let _ = ACCESS.set(Access {
        policy,
        own_uid: own_uid(),
        sock_gid,
        accounts,
        groups: Mutex::new(HashMap::new()),
    });
    Ok(())
}

/// Reads and parses a policy file, its user and group names resolved with `accounts`.
pub fn load(path: &Path, accounts: &Accounts) -> Result<Policy, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("access policy {}: {e}", path.display()))?;
    let mut policy =
        Policy::parse(&text).map_err(|e| format!("access policy {}:{e}", path.display()))?;
    policy
        .resolve(accounts)
        .map_err(|e| format!("access policy {}:{e}", path.display()))?;
    Ok(policy)
}

/// libvirt's denial: `VIR_ERR_ACCESS_DENIED` from `VIR_FROM_ACCESS`, naming the
/// connection's driver as libvirt's `virAccessManagerSanitizeError` does.
pub fn denied_error(driver_name: &str) -> VirError {
    VirError::new(
        ErrorDomain::Access,
        ErrorCode::AccessDenied,
        format!("'{driver_name}' denied access"),
    )
}

/// The name libvirt's driver of `hypervisor_type` has (`conn->driver->name`).
fn driver_name(hypervisor_type: &str) -> &str {
    match hypervisor_type {
        "TEST" | "test" => "Test",
        "qemu" => "QEMU",
        other => other,
    }
}

/// The driver name for a CONNECT_OPEN of `uri` (none: `test:///default`).
fn driver_name_for_uri(uri: Option<&str>) -> String {
    let scheme = uri
        .filter(|u| !u.is_empty())
        .and_then(|u| u.split(':').next())
        .unwrap_or("test");
    match scheme {
        "qemu" => "QEMU".to_owned(),
        "test" => "Test".to_owned(),
        other => other.to_owned(),
    }
}

/// Whether the peer is root or the daemon's own user on a unix socket: never limited.
fn privileged(access: &Access, id: &Identity) -> bool {
    id.transport == "unix" && id.uid.is_some_and(|uid| uid == 0 || uid == access.own_uid)
}

/// The policy's view of the peer.
fn subject(access: &Access, id: &Identity) -> Subject {
    let gids = match (id.uid, id.gid) {
        (Some(uid), Some(gid)) => {
            let mut cache = access.groups.lock().unwrap_or_else(PoisonError::into_inner);
            cache
                .entry((uid, gid))
                .or_insert_with(|| access.accounts.groups_of(uid, gid))
                .clone()
        }
        (_, Some(gid)) => vec![gid],
        _ => Vec::new(),
    };
    Subject {
        uid: id.uid,
        gids,
        x509_dn: id.x509_dn.clone(),
    }
}

/// The subject as log lines name it.
fn describe(id: &Identity) -> String {
    let mut s = String::new();
    if let Some(uid) = id.uid {
        s.push_str(&format!("uid={uid} "));
    }
    if let Some(gid) = id.gid {
        s.push_str(&format!("gid={gid} "));
    }
    if let Some(pid) = id.pid {
        s.push_str(&format!("pid={pid} "));
    }
    if let Some(dn) = &id.x509_dn {
        s.push_str(&format!("x509_dn='{dn}' "));
    }
    s.push_str(&format!("peer='{}'", id.peer));
    s
}

/// An object a call is on: its kind's word in log lines, name and UUID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// `domain`, `network`, `storage_pool`.
    pub kind: &'static str,
    /// Its name.
    pub name: String,
    /// Its UUID.
    pub uuid: String,
}

impl Object {
    fn target(&self) -> Target<'_> {
        Target {
            name: Some(&self.name),
            uuid: Some(&self.uuid),
        }
    }
}

fn domain_object(d: &DomainRef) -> Object {
    Object {
        kind: "domain",
        name: d.name.clone(),
        uuid: d.uuid.to_string(),
    }
}

/// What a call is on, as far as the access check is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Objects {
    /// The objects (one, or two when a client names an object by a name and a UUID of
    /// different objects: both are checked).
    Known(Vec<Object>),
    /// The kind is known but not which object (a restore from an image, or arguments that
    /// do not decode): only rules without object keys can grant it.
    Unknown,
    /// It does not exist: the driver will say so (libvirt checks access after finding
    /// the object).
    Missing,
}

/// The name and UUID a definition of `kind` (`domain`, `network`, `storage_pool`) gives
/// its object, read as the drivers read it: the XML parsed by [`oxvirt_xml::parse`], the
/// text and CDATA of the root's first `<name>` (untrimmed, comments skipped, references
/// resolved) and of its first `<uuid>` (in the canonical form when it parses as one). A
/// scan of its own would see `a` in `<name>a<!---->dmin</name>`, which defines `admin`.
/// Domains take `<name>` in any namespace, networks and pools only in none.
pub fn xml_identity(kind: &str, xml: &str) -> (Option<String>, Option<String>) {
    let Ok(root) = oxvirt_xml::parse(xml) else {
        return (None, None);
    };
    let text = |element: &str| {
        root.elements()
            .find(|e| e.name == element && (kind == "domain" || e.namespace.is_none()))
            .map(oxvirt_xml::Element::text)
    };
    let name = text("name").filter(|n| !n.is_empty());
    let uuid = text("uuid").map(|u| {
        let u = u.trim();
        u.parse::<Uuid>()
            .map_or_else(|_| u.to_ascii_lowercase(), |u| u.to_string())
    });
    (name, uuid)
}

fn from_xml(kind: &'static str, payload: &[u8]) -> Objects {
    let Ok(xml) = decode_from::<String>(payload) else {
        return Objects::Unknown;
    };
    match xml_identity(kind, &xml) {
        (Some(name), uuid) => Objects::Known(vec![Object {
            kind,
            name,
            uuid: uuid.unwrap_or_default(),
        }]),
        _ => Objects::Unknown,
    }
}

/// The domain a wire reference stands for: found by UUID as the drivers find it, and
/// by name too when the name is another domain's.
async fn wire_domain(drv: &dyn Hypervisor, dom: &NonnullDomain) -> Objects {
    let by_uuid = drv.lookup_by_uuid(&Uuid::from(dom.uuid)).await;
    let by_uuid = by_uuid.map(|d| domain_object(&d));
    // The name is looked up only when the UUID found another domain, or none.
    if let Ok(o) = &by_uuid {
        if o.name == dom.name {
            return Objects::Known(vec![o.clone()]);
        }
    }
    let by_name = drv
        .lookup_by_name(&dom.name)
        .await
        .map(|d| domain_object(&d));
    both(by_uuid, &dom.name, by_name)
}

fn found<T>(r: Result<T, VirError>, f: impl FnOnce(T) -> Object) -> Objects {
    match r {
        Ok(t) => Objects::Known(vec![f(t)]),
        Err(_) => Objects::Missing,
    }
}

/// The object a wire reference's UUID finds and, when it is another (or none), the one
/// its `name` finds: drivers find objects by one or the other, so both are checked.
fn both(
    by_uuid: Result<Object, VirError>,
    name: &str,
    by_name: Result<Object, VirError>,
) -> Objects {
    let mut out = Vec::new();
    if let Ok(o) = by_uuid {
        out.push(o);
    }
    if out.first().is_none_or(|o| o.name != name) {
        if let Ok(o) = by_name {
            out.push(o);
        }
    }
    if out.is_empty() {
        Objects::Missing
    } else {
        Objects::Known(out)
    }
}

/// The procedures whose arguments start with a snapshot (`remote_nonnull_domain_snapshot`).
fn snapshot_first(p: P) -> bool {
    matches!(
        p,
        P::DomainSnapshotGetXmlDesc
            | P::DomainSnapshotNumChildren
            | P::DomainSnapshotListChildrenNames
            | P::DomainSnapshotListAllChildren
            | P::DomainSnapshotGetParent
            | P::DomainSnapshotIsCurrent
            | P::DomainSnapshotHasMetadata
            | P::DomainRevertToSnapshot
            | P::DomainSnapshotDelete
    )
}

/// The object `procedure` with `payload` is on, for an operation on `object_kind`
/// (`domain`, `network`...).
pub async fn objects(
    client: &Client,
    drv: &dyn Hypervisor,
    procedure: P,
    object_kind: &str,
    payload: &[u8],
) -> Objects {
    let name = procedure.short_name();
    match object_kind {
        "domain" => match procedure {
            P::DomainLookupByName => match decode_from::<DomainLookupByNameArgs>(payload) {
                Ok(a) => found(drv.lookup_by_name(&a.name).await, |d| domain_object(&d)),
                Err(_) => Objects::Unknown,
            },
            P::DomainLookupByUuid => match decode_from::<DomainLookupByUuidArgs>(payload) {
                Ok(a) => found(drv.lookup_by_uuid(&Uuid::from(a.uuid)).await, |d| {
                    domain_object(&d)
                }),
                Err(_) => Objects::Unknown,
            },
            P::DomainLookupById => match decode_from::<DomainLookupByIdArgs>(payload) {
                Ok(a) => found(drv.lookup_by_id(a.id).await, |d| domain_object(&d)),
                Err(_) => Objects::Unknown,
            },
            P::DomainCreateXml
            | P::DomainCreateXmlWithFiles
            | P::DomainDefineXml
            | P::DomainDefineXmlFlags => from_xml("domain", payload),
            p if snapshot_first(p) => match decode_from::<NonnullDomainSnapshot>(payload) {
                Ok(s) => wire_domain(drv, &s.dom).await,
                Err(_) => Objects::Unknown,
            },
            _ if name.starts_with("DOMAIN_MIGRATE_PREPARE")
                || name.starts_with("DOMAIN_MIGRATE_FINISH")
                || name.starts_with("DOMAIN_RESTORE")
                || name.starts_with("DOMAIN_SAVE_IMAGE") =>
            {
                Objects::Unknown
            }
            _ if name.starts_with("DOMAIN_") => match decode_from::<NonnullDomain>(payload) {
                Ok(d) => wire_domain(drv, &d).await,
                Err(_) => Objects::Unknown,
            },
            _ => Objects::Unknown,
        },
        "network" | "network_port" => {
            let Ok(net) = client.network_driver("") else {
                return Objects::Missing;
            };
            let object = |n: oxvirt_network::NetworkRef| Object {
                kind: "network",
                name: n.name,
                uuid: n.uuid.to_string(),
            };
            match procedure {
                P::NetworkLookupByName => match decode_from::<NetworkLookupByNameArgs>(payload) {
                    Ok(a) => found(net.lookup_by_name(&a.name).await, object),
                    Err(_) => Objects::Unknown,
                },
                P::NetworkLookupByUuid => match decode_from::<NetworkLookupByUuidArgs>(payload) {
                    Ok(a) => found(net.lookup_by_uuid(&Uuid::from(a.uuid)).await, object),
                    Err(_) => Objects::Unknown,
                },
                P::NetworkCreateXml
                | P::NetworkCreateXmlFlags
                | P::NetworkDefineXml
                | P::NetworkDefineXmlFlags => from_xml("network", payload),
                _ => match decode_from::<NonnullNetwork>(payload) {
                    Ok(n) => both(
                        net.lookup_by_uuid(&Uuid::from(n.uuid)).await.map(object),
                        &n.name,
                        net.lookup_by_name(&n.name).await.map(object),
                    ),
                    Err(_) => Objects::Unknown,
                },
            }
        }
        "storage_pool" | "storage_vol" => {
            let Ok(st) = client.storage_driver("") else {
                return Objects::Missing;
            };
            let object = |p: oxvirt_storage::api::PoolRef| Object {
                kind: "storage_pool",
                name: p.name,
                uuid: p.uuid.to_string(),
            };
            let by_name = |name: String| {
                let st = st.clone();
                async move { found(st.pool_lookup_by_name(&name).await, object) }
            };
            match procedure {
                P::StoragePoolLookupByName => {
                    match decode_from::<StoragePoolLookupByNameArgs>(payload) {
                        Ok(a) => by_name(a.name).await,
                        Err(_) => Objects::Unknown,
                    }
                }
                P::StoragePoolLookupByUuid => {
                    match decode_from::<StoragePoolLookupByUuidArgs>(payload) {
                        Ok(a) => found(st.pool_lookup_by_uuid(&Uuid::from(a.uuid)).await, object),
                        Err(_) => Objects::Unknown,
                    }
                }
                P::StoragePoolLookupByTargetPath => {
                    match decode_from::<StoragePoolLookupByTargetPathArgs>(payload) {
                        Ok(a) => found(st.pool_lookup_by_target_path(&a.path).await, object),
                        Err(_) => Objects::Unknown,
                    }
                }
                P::StoragePoolCreateXml | P::StoragePoolDefineXml => {
                    from_xml("storage_pool", payload)
                }
                P::StorageVolLookupByKey | P::StorageVolLookupByPath => {
                    let vol = if procedure == P::StorageVolLookupByKey {
                        match decode_from::<StorageVolLookupByKeyArgs>(payload) {
                            Ok(a) => st.vol_lookup_by_key(&a.key).await,
                            Err(_) => return Objects::Missing,
                        }
                    } else {
                        match decode_from::<StorageVolLookupByPathArgs>(payload) {
                            Ok(a) => st.vol_lookup_by_path(&a.path).await,
                            Err(_) => return Objects::Missing,
                        }
                    };
                    match vol {
                        Ok(v) => by_name(v.pool).await,
                        Err(_) => Objects::Unknown,
                    }
                }
                P::StoragePoolLookupByVolume => match decode_from::<NonnullStorageVol>(payload) {
                    Ok(v) => by_name(v.pool).await,
                    Err(_) => Objects::Unknown,
                },
                P::StorageVolCreateXml | P::StorageVolCreateXmlFrom | P::StorageVolLookupByName => {
                    match decode_from::<NonnullStoragePool>(payload) {
                        Ok(p) => both(
                            st.pool_lookup_by_uuid(&Uuid::from(p.uuid))
                                .await
                                .map(object),
                            &p.name,
                            st.pool_lookup_by_name(&p.name).await.map(object),
                        ),
                        Err(_) => Objects::Unknown,
                    }
                }
                _ if name.starts_with("STORAGE_VOL_") => {
                    match decode_from::<NonnullStorageVol>(payload) {
                        Ok(v) => by_name(v.pool).await,
                        Err(_) => Objects::Unknown,
                    }
                }
                _ => match decode_from::<NonnullStoragePool>(payload) {
                    Ok(p) => both(
                        st.pool_lookup_by_uuid(&Uuid::from(p.uuid))
                            .await
                            .map(object),
                        &p.name,
                        st.pool_lookup_by_name(&p.name).await.map(object),
                    ),
                    Err(_) => Objects::Unknown,
                },
            }
        }
        _ => Objects::Unknown,
    }
}

/// The flags of `procedure`'s call and the argument before them, for its conditional
/// permissions: the last two words of the arguments as the driver decodes them. The
/// payload itself may go on past them (decoding ignores trailing bytes, as libvirtd
/// does), so its last words are not the flags: a client appending four zero bytes to a
/// secure DOMAIN_GET_XML_DESC would otherwise skip `domain:read_secure`. `None`: a
/// procedure with conditional permissions this daemon does not serve (every condition
/// then applies).
fn call_flags(procedure: P, payload: &[u8]) -> Option<(u32, u32)> {
    use oxvirt_rpc::remote::*;
    use oxvirt_rpc::{Reader, XdrDecode};
    /// The length of the arguments as `T` decodes them (all of `payload` if it does not:
    /// the driver then refuses the call).
    fn end<T: XdrDecode>(payload: &[u8]) -> usize {
        let mut r = Reader::new(payload);
        T::decode(&mut r).map_or(payload.len(), |_| r.position())
    }
    let len = match procedure {
        P::DomainGetXmlDesc => end::<DomainGetXmlDescArgs>(payload),
        P::DomainSnapshotCreateXml => end::<DomainSnapshotCreateXmlArgs>(payload),
        P::DomainSnapshotGetXmlDesc => end::<DomainSnapshotGetXmlDescArgs>(payload),
        P::DomainManagedSaveGetXmlDesc => end::<DomainManagedSaveGetXmlDescArgs>(payload),
        P::DomainReboot => end::<DomainRebootArgs>(payload),
        P::DomainShutdownFlags => end::<DomainShutdownFlagsArgs>(payload),
        P::DomainSetVcpusFlags => end::<DomainSetVcpusFlagsArgs>(payload),
        P::DomainGetVcpusFlags => end::<DomainGetVcpusFlagsArgs>(payload),
        P::DomainInterfaceAddresses => end::<DomainInterfaceAddressesArgs>(payload),
        P::NetworkUpdate => end::<NetworkUpdateArgs>(payload),
        P::DomainAttachDeviceFlags => end::<DomainAttachDeviceFlagsArgs>(payload),
        P::DomainDetachDeviceFlags => end::<DomainDetachDeviceFlagsArgs>(payload),
        P::DomainUpdateDeviceFlags => end::<DomainUpdateDeviceFlagsArgs>(payload),
        P::DomainSetMemoryFlags => end::<DomainSetMemoryFlagsArgs>(payload),
        P::DomainPinVcpuFlags => end::<DomainPinVcpuFlagsArgs>(payload),
        P::DomainSetNumaParameters => end::<DomainSetNumaParametersArgs>(payload),
        P::DomainSetMetadata => end::<DomainSetMetadataArgs>(payload),
        P::DomainPinEmulator => end::<DomainPinEmulatorArgs>(payload),
        P::DomainPinIothread => end::<DomainPinIothreadArgs>(payload),
        _ => return None,
    };
    Some(flags_and_arg(&payload[..len]))
}

/// The last two 32-bit words of `args`: the flags and the argument before them (every
/// procedure with a conditional permission ends its arguments so).
fn flags_and_arg(payload: &[u8]) -> (u32, u32) {
    let word = |end: usize| -> u32 {
        end.checked_sub(4)
            .and_then(|start| payload.get(start..end))
            .and_then(|b| b.try_into().ok())
            .map_or(0, u32::from_be_bytes)
    };
    (word(payload.len()), word(payload.len().saturating_sub(4)))
}

fn log_denial(id: &Identity, procedure: &str, operation: &str, object: Option<&Object>, why: &str) {
    let object = match object {
        Some(o) => format!("{} '{}' ({})", o.kind, o.name, o.uuid),
        None => "no object".to_owned(),
    };
    warning!(
        "access denied: {} calling {procedure} on {object}: {operation} refused by {why}",
        describe(id)
    );
}

/// The parameters of a peer-to-peer migration's destination URI that the daemon would
/// act on with its own privileges: a program to run, files to read credentials from, a
/// socket or netcat path put into the remote shell.
const PRIVILEGED_URI_PARAMS: [&str; 8] = [
    "command",
    "netcat",
    "socket",
    "keyfile",
    "pkipath",
    "known_hosts",
    "authfile",
    "sshauth",
];

/// Under an access policy, a subject that is not root may not give a peer-to-peer
/// migration's destination URI a parameter the daemon would act on with its own
/// privileges ([`PRIVILEGED_URI_PARAMS`]): `?command=` would run any program as the
/// daemon, `?pkipath=` would present any certificate the daemon can read. Without a
/// policy every client that may migrate is already the administrator's.
pub fn check_destination_uri(client: &Client, dconnuri: Option<&str>) -> Result<(), VirError> {
    let (Some(access), Some(uri)) = (ACCESS.get(), dconnuri) else {
        return Ok(());
    };
    let id = client.identity();
    if access.policy.is_none() || privileged(access, id) {
        return Ok(());
    }
    let Ok(parsed) = oxvirt::uri::Uri::parse(uri) else {
        // The open that follows reports the malformed URI in libvirt's words.
        return Ok(());
    };
    let Some((key, _)) = parsed
        .params()
        .iter()
        .find(|(k, _)| PRIVILEGED_URI_PARAMS.contains(&k.to_ascii_lowercase().as_str()))
    else {
        return Ok(());
    };
    log_denial(
        id,
        "DOMAIN_MIGRATE_PERFORM3_PARAMS",
        "(destination URI parameter)",
        None,
        &format!("its '{key}' parameter (accepted from root only)"),
    );
    Err(VirError::new(
        ErrorDomain::Qemu,
        ErrorCode::OperationDenied,
        format!(
            "the destination URI's '{key}' parameter is accepted from root only: the daemon \
             would act on it with its own privileges"
        ),
    ))
}

/// CONNECT_OPEN's check: `connect:getattr`, and `connect:write` for a read-write
/// connection; without a policy, a unix peer that is neither root nor the daemon's user
/// is refused on the read-write socket.
pub fn check_open(client: &Client, uri: Option<&str>, flags: u32) -> Result<(), VirError> {
    let Some(access) = ACCESS.get() else {
        return Ok(());
    };
    let id = client.identity();
    if privileged(access, id) {
        return Ok(());
    }
    let readonly = client.readonly() || flags & crate::client::CONNECT_RO != 0;
    let driver = driver_name_for_uri(uri);
    let Some((policy, path)) = &access.policy else {
        let in_sock_group = access
            .sock_gid
            .is_some_and(|gid| subject(access, id).gids.contains(&gid));
        if id.transport == "unix" && !client.readonly() && !in_sock_group {
            log_denial(
                id,
                "CONNECT_OPEN",
                "connect:write",
                None,
                "the read-write socket (no access policy: only root, the daemon's user \
                 and unix_sock_group)",
            );
            return Err(denied_error(&driver));
        }
        return Ok(());
    };
    let subject = subject(access, id);
    let ops: &[&str] = if readonly {
        &["connect:getattr"]
    } else {
        &["connect:getattr", "connect:write"]
    };
    for op in ops {
        let d = policy.decide(&subject, op, None);
        if !d.allowed() {
            log_denial(id, "CONNECT_OPEN", op, None, &why(path, d.rule_line));
            return Err(denied_error(&driver));
        }
    }
    Ok(())
}

fn why(path: &Path, line: Option<usize>) -> String {
    match line {
        Some(l) => format!("{}:{l}", path.display()),
        None => format!("{} (default)", path.display()),
    }
}

/// The check before `procedure` reaches the driver: every permission its table entry
/// requires (with the call's flags), on the object its arguments name.
pub async fn check(
    client: &Client,
    drv: &dyn Hypervisor,
    procedure: P,
    payload: &[u8],
) -> Result<(), VirError> {
    let Some(access) = ACCESS.get() else {
        return Ok(());
    };
    let Some((policy, path)) = &access.policy else {
        return Ok(());
    };
    let id = client.identity();
    if privileged(access, id) {
        return Ok(());
    }
    let Some(perms) = oxvirt_access::permissions(procedure.number()) else {
        // Every procedure libvirt knows has an entry (a test checks it); one without is not
        // a call a policy can grant, so it is refused rather than let through.
        log_denial(
            id,
            procedure.short_name(),
            "(no permission known)",
            None,
            "the permission table",
        );
        return Err(denied_error(driver_name(drv.hypervisor_type())));
    };
    let flags = call_flags(procedure, payload);
    let subject = subject(access, id);
    let mut objects: Option<Objects> = None;
    let applies = |r: &&oxvirt_access::Requirement| match flags {
        Some((flags, arg)) => r.applies(flags, arg),
        None => true,
    };
    for req in perms.required.iter().filter(applies) {
        let kind = req.object();
        if kind == "connect" {
            let d = policy.decide(&subject, req.operation, None);
            if !d.allowed() {
                log_denial(
                    id,
                    procedure.short_name(),
                    req.operation,
                    None,
                    &why(path, d.rule_line),
                );
                return Err(denied_error(driver_name(drv.hypervisor_type())));
            }
            continue;
        }
        if objects.is_none() {
            objects = Some(self::objects(client, drv, procedure, kind, payload).await);
        }
        match objects.as_ref() {
            Some(Objects::Known(list)) => {
                for o in list {
                    let d = policy.decide(&subject, req.operation, Some(&o.target()));
                    if !d.allowed() {
                        log_denial(
                            id,
                            procedure.short_name(),
                            req.operation,
                            Some(o),
                            &why(path, d.rule_line),
                        );
                        return Err(denied_error(driver_name(drv.hypervisor_type())));
                    }
                }
            }
            Some(Objects::Unknown) => {
                let d = policy.decide(&subject, req.operation, None);
                if !d.allowed() {
                    log_denial(
                        id,
                        procedure.short_name(),
                        req.operation,
                        None,
                        &why(path, d.rule_line),
                    );
                    return Err(denied_error(driver_name(drv.hypervisor_type())));
                }
            }
            Some(Objects::Missing) | None => return Ok(()),
        }
    }
    Ok(())
}

/// A filter for listing calls (libvirt's `@aclfilter`): whether the client may see an
/// object of the filter's kind named `name` with `uuid`. `None`: no filtering needed
/// (no policy, a privileged peer, a call without a filter).
pub struct Filter {
    policy: &'static Policy,
    subject: Subject,
    operation: &'static str,
}

impl Filter {
    /// The filter for `procedure`'s results on `client`.
    pub fn for_call(client: &Client, procedure: P) -> Option<Filter> {
        let access = ACCESS.get()?;
        let (policy, _) = access.policy.as_ref()?;
        let id = client.identity();
        if privileged(access, id) {
            return None;
        }
        let operation = oxvirt_access::permissions(procedure.number())?.filter?;
        Some(Filter {
            policy,
            subject: subject(access, id),
            operation,
        })
    }

    /// Whether the object named `name` with `uuid` is shown.
    pub fn shows(&self, name: &str, uuid: &Uuid) -> bool {
        let uuid = uuid.to_string();
        let target = Target {
            name: Some(name),
            uuid: Some(&uuid),
        };
        self.policy
            .decide(&self.subject, self.operation, Some(&target))
            .allowed()
    }
}

impl Filter {
    /// Keeps the items of `list` that `filter` shows (`None`: all of them); `id` gives an
    /// item's object's name and UUID (a volume's: its pool's).
    pub fn keep<T>(
        filter: Option<&Filter>,
        list: &mut Vec<T>,
        id: impl Fn(&T) -> (&String, &Uuid),
    ) {
        if let Some(f) = filter {
            list.retain(|item| {
                let (name, uuid) = id(item);
                f.shows(name, uuid)
            });
        }
    }
}

impl Filter {
    /// Keeps the items of `list`, all in the object named `name` with `uuid` (a pool's
    /// volumes), if `filter` shows that object; else empties it.
    pub fn keep_in<T>(filter: Option<&Filter>, list: &mut Vec<T>, name: &str, uuid: &Uuid) {
        if filter.is_some_and(|f| !f.shows(name, uuid)) {
            list.clear();
        }
    }
}

/// Keeps the domains of `list` the client may see for `procedure`.
pub fn filter_domains(client: &Client, procedure: P, list: &mut Vec<DomainRef>) {
    if let Some(f) = Filter::for_call(client, procedure) {
        list.retain(|d| f.shows(&d.name, &d.uuid));
    }
}

#[cfg(test)]
#[path = "access_tests.rs"]
mod tests;
