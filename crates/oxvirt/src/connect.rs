//! [`Connect`]: one open connection to a hypervisor driver.

use std::sync::Arc;

use oxvirt_domain::driver::{Hypervisor, NodeInfo, SecurityModel};
use oxvirt_xml::types::Uuid;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use crate::domain_handle::Domain;
use crate::events::EventStream;
use crate::registry;
use crate::uri::Uri;
use crate::Result;

/// The environment variable naming the URI an empty URI means, as in libvirt.
pub const DEFAULT_URI_ENV: &str = "LIBVIRT_DEFAULT_URI";

/// The libvirt release whose API, error codes and XML this library follows, encoded as
/// libvirt encodes versions (9.0.0).
///
/// This is what a daemon built on oxvirt answers to `virConnectGetLibVersion`: libvirt's
/// clients (virt-manager, python bindings, Nova) compare that number against libvirt
/// releases to decide which calls they may use, so it must name the libvirt API level we
/// implement. [`Connect::lib_version`] reports this crate's own version instead.
pub const LIBVIRT_API_VERSION: u64 = 9_000_000;

/// An open connection: a driver, the URI it was opened with, and whether it is read-only.
///
/// Cheap to clone; clones share the connection. Every handle ([`Domain`],
/// [`crate::DomainSnapshot`]) holds one, so the connection lives as long as they do.
#[derive(Clone)]
pub struct Connect {
    inner: Arc<Inner>,
}

struct Inner {
    uri: Uri,
    read_only: bool,
    driver: Arc<dyn Hypervisor>,
    /// The network driver of the connection, if it has one.
    network: Option<Arc<dyn oxvirt_network::NetworkDriver>>,
    /// The storage driver of the connection, if it has one.
    storage: Option<Arc<dyn oxvirt_storage::api::StorageDriver>>,
}

impl std::fmt::Debug for Connect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connect")
            .field("uri", &self.inner.uri.to_string())
            .field("read_only", &self.inner.read_only)
            .finish_non_exhaustive()
    }
}

impl Connect {
    /// `virConnectOpen`: opens a read-write connection to the driver `uri` names.
    ///
    /// An empty `uri` means the default: `$LIBVIRT_DEFAULT_URI` when set and not empty,
    /// otherwise `qemu:///system` for root and `qemu:///session` for other users, the URIs
    /// libvirt's QEMU driver probes to. (libvirt also reads `uri_default` from
    /// `libvirt.conf` and resolves `uri_aliases`; we do neither.)
    ///
    /// Fails with libvirt's errors: a malformed URI (`VIR_ERR_INTERNAL_ERROR` from
    /// `VIR_FROM_URI`), no scheme or no driver for it (`VIR_ERR_NO_CONNECT`), `qemu://system`
    /// (`invalid URI ... (maybe you want qemu:///system)`), or the driver's own error.
    pub async fn open(uri: &str) -> Result<Connect> {
        Connect::open_with(uri, false).await
    }

    /// `virConnectOpenReadOnly`: as [`Connect::open`], but every call that changes anything
    /// fails with `VIR_ERR_OPERATION_DENIED`.
    pub async fn open_read_only(uri: &str) -> Result<Connect> {
        Connect::open_with(uri, true).await
    }

    async fn open_with(name: &str, read_only: bool) -> Result<Connect> {
        let name = resolve_default(name);
        let uri = Uri::parse(&name)?;
        check_missing_slash(&name, &uri)?;
        let (driver, network, storage) = registry::open_drivers(&uri, read_only).await?;
        let conn = Connect::from_drivers(uri, driver, network, read_only);
        Ok(match storage {
            Some(storage) => conn.with_storage(storage),
            None => conn,
        })
    }

    /// A connection over a driver made elsewhere (a daemon's own QEMU driver, a fake in
    /// tests); `uri` is what [`Connect::uri`] reports.
    pub fn from_driver(uri: Uri, driver: Arc<dyn Hypervisor>, read_only: bool) -> Connect {
        Connect::from_drivers(uri, driver, None, read_only)
    }

    /// As [`Connect::from_driver`], with a network driver beside the hypervisor driver.
    pub fn from_drivers(
        uri: Uri,
        driver: Arc<dyn Hypervisor>,
        network: Option<Arc<dyn oxvirt_network::NetworkDriver>>,
        read_only: bool,
    ) -> Connect {
        Connect {
            inner: Arc::new(Inner {
                uri,
                read_only,
                driver,
                network,
                storage: None,
            }),
        }
    }

    /// This connection's drivers with `storage` as its storage driver: a new connection
    /// (handles of the old one keep the old drivers).
    pub fn with_storage(self, storage: Arc<dyn oxvirt_storage::api::StorageDriver>) -> Connect {
        Connect {
            inner: Arc::new(Inner {
                uri: self.inner.uri.clone(),
                read_only: self.inner.read_only,
                driver: self.inner.driver.clone(),
                network: self.inner.network.clone(),
                storage: Some(storage),
            }),
        }
    }

    /// The storage driver behind the connection, if it has one.
    pub fn storage_driver(&self) -> Option<&Arc<dyn oxvirt_storage::api::StorageDriver>> {
        self.inner.storage.as_ref()
    }

    /// The network driver behind the connection, if it has one.
    pub fn network_driver(&self) -> Option<&Arc<dyn oxvirt_network::NetworkDriver>> {
        self.inner.network.as_ref()
    }

    /// The driver behind the connection.
    pub fn driver(&self) -> &Arc<dyn Hypervisor> {
        &self.inner.driver
    }

    /// `virConnectGetURI`: the URI the connection was opened with, written canonically
    /// (what `virsh uri` prints).
    pub fn uri(&self) -> String {
        self.inner.uri.to_string()
    }

    /// The URI the connection was opened with, parsed.
    pub fn parsed_uri(&self) -> &Uri {
        &self.inner.uri
    }

    /// Whether the connection was opened read-only.
    pub fn is_read_only(&self) -> bool {
        self.inner.read_only
    }

    /// Whether both handles are the same connection (not merely the same URI).
    pub fn same_connection(&self, other: &Connect) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// `virConnectGetType`: the driver's name (`TEST`, `QEMU`).
    pub fn hypervisor_type(&self) -> &str {
        self.inner.driver.hypervisor_type()
    }

    /// `virConnectGetVersion`: the hypervisor's version, `major * 1_000_000 + minor * 1_000
    /// + release`.
    pub async fn version(&self) -> Result<u64> {
        self.inner.driver.version().await
    }

    /// `virConnectGetLibVersion`: this library's version, encoded as libvirt encodes
    /// versions (0.1.0 is 1000).
    ///
    /// This is oxvirt's own version, not libvirt's: feature checks against libvirt release
    /// numbers belong to [`LIBVIRT_API_VERSION`], the API level this library follows.
    pub fn lib_version(&self) -> u64 {
        crate_version()
    }

    /// `virConnectGetHostname`.
    pub async fn hostname(&self) -> Result<String> {
        self.inner.driver.hostname().await
    }

    /// `virNodeGetInfo`.
    pub async fn node_info(&self) -> Result<NodeInfo> {
        self.inner.driver.node_info().await
    }

    /// `virConnectGetCapabilities`: the capabilities XML.
    pub async fn capabilities(&self) -> Result<String> {
        self.inner.driver.capabilities().await
    }

    /// `virConnectGetMaxVcpus` for guests of `kind` (`None` for the driver's default).
    pub async fn max_vcpus(&self, kind: Option<&str>) -> Result<u32> {
        self.inner.driver.max_vcpus(kind).await
    }

    /// `virNodeGetFreeMemory`, in bytes.
    pub async fn free_memory(&self) -> Result<u64> {
        self.inner.driver.free_memory().await
    }

    /// `virNodeGetCellsFreeMemory`: the free memory of NUMA cells from `start`, at most
    /// `max` of them, in bytes. libvirt's public API refuses a negative start and a count that is not positive.
    pub async fn cells_free_memory(&self, start: i32, max: i32) -> Result<Vec<u64>> {
        crate::placement::check_cells_free_memory(start, max)?;
        self.inner.driver.cells_free_memory(start, max).await
    }

    /// `virConnectGetSysinfo`: the host's SMBIOS data as `<sysinfo>` XML.
    pub async fn sysinfo(&self, flags: u32) -> Result<String> {
        self.inner.driver.sysinfo(flags).await
    }

    /// `virNodeGetSecurityModel`.
    pub async fn security_model(&self) -> Result<SecurityModel> {
        self.inner.driver.security_model().await
    }

    /// Every domain event of this connection from now on.
    pub fn events(&self) -> EventStream {
        EventStream::new(self.inner.driver.subscribe())
    }

    // ---- finding domains ----

    /// A handle for a domain reference a driver or an event gave.
    pub fn domain(&self, dom: oxvirt_domain::driver::DomainRef) -> Domain {
        Domain::new(self.clone(), dom)
    }

    /// `virDomainLookupByName`.
    pub async fn lookup_domain_by_name(&self, name: &str) -> Result<Domain> {
        let dom = self.inner.driver.lookup_by_name(name).await?;
        Ok(self.domain(dom))
    }

    /// `virDomainLookupByUUID`.
    pub async fn lookup_domain_by_uuid(&self, uuid: &Uuid) -> Result<Domain> {
        let dom = self.inner.driver.lookup_by_uuid(uuid).await?;
        Ok(self.domain(dom))
    }

    /// `virDomainLookupByUUIDString`: a malformed UUID is `VIR_ERR_INVALID_ARG` "Invalid
    /// UUID", as in libvirt.
    pub async fn lookup_domain_by_uuid_string(&self, uuid: &str) -> Result<Domain> {
        let uuid = Uuid::try_parse(uuid).ok_or_else(|| {
            VirError::raw(ErrorDomain::Domain, ErrorCode::InvalidArg, "Invalid UUID")
        })?;
        self.lookup_domain_by_uuid(&uuid).await
    }

    /// `virDomainLookupByID`: a negative ID is `VIR_ERR_INVALID_ARG`, as in libvirt.
    pub async fn lookup_domain_by_id(&self, id: i32) -> Result<Domain> {
        if id < 0 {
            return Err(VirError::raw(
                ErrorDomain::Domain,
                ErrorCode::InvalidArg,
                "id in virDomainLookupByID must be zero or greater",
            ));
        }
        let dom = self.inner.driver.lookup_by_id(id).await?;
        Ok(self.domain(dom))
    }

    /// `virConnectListAllDomains` with [`crate::flags::list`] filters, in the driver's order.
    pub async fn list_all_domains(&self, flags: u32) -> Result<Vec<Domain>> {
        let doms = self.inner.driver.list_all(flags).await?;
        Ok(doms.into_iter().map(|d| self.domain(d)).collect())
    }

    // ---- defining, starting, restoring ----

    /// `virDomainDefineXMLFlags` ([`crate::flags::define`]).
    pub async fn define_domain_xml(&self, xml: &str, flags: u32) -> Result<Domain> {
        self.check_writable(
            ErrorDomain::Domain,
            pick(flags, "virDomainDefineXML", "virDomainDefineXMLFlags"),
        )?;
        let dom = self.inner.driver.define_xml(xml, flags).await?;
        Ok(self.domain(dom))
    }

    /// `virDomainCreateXML`: starts a transient domain ([`crate::flags::create`]).
    pub async fn create_domain_xml(&self, xml: &str, flags: u32) -> Result<Domain> {
        self.check_writable(ErrorDomain::Domain, "virDomainCreateXML")?;
        let dom = self.inner.driver.create_xml(xml, flags).await?;
        Ok(self.domain(dom))
    }

    /// `virDomainRestoreFlags`: starts the domain saved in `path`, optionally with the
    /// alternate XML `dxml` ([`crate::flags::save`]).
    pub async fn restore_domain(&self, path: &str, dxml: Option<&str>, flags: u32) -> Result<()> {
        let function = if flags == 0 && dxml.is_none() {
            "virDomainRestore"
        } else {
            "virDomainRestoreFlags"
        };
        self.check_writable(ErrorDomain::Domain, function)?;
        self.inner.driver.restore(path, dxml, flags).await
    }

    /// `virDomainSaveImageGetXMLDesc`: the domain XML stored in a saved image. Denied on a
    /// read-only connection whatever the flags, as in libvirt 9.0.
    pub async fn save_image_xml(&self, path: &str, flags: u32) -> Result<String> {
        self.check_writable(ErrorDomain::Domain, "virDomainSaveImageGetXMLDesc")?;
        self.inner.driver.save_image_xml(path, flags).await
    }

    /// `virDomainSaveImageDefineXML`: replaces the domain XML stored in a saved image.
    pub async fn save_image_define_xml(&self, path: &str, dxml: &str, flags: u32) -> Result<()> {
        self.check_writable(ErrorDomain::Domain, "virDomainSaveImageDefineXML")?;
        self.inner
            .driver
            .save_image_define_xml(path, dxml, flags)
            .await
    }

    // ---- the read-only gate ----

    /// The one check every changing call makes first: on a read-only connection it fails
    /// with libvirt's `VIR_ERR_OPERATION_DENIED`, "operation forbidden: read only access
    /// prevents virDomainSuspend", reported from `domain`.
    pub(crate) fn check_writable(&self, domain: ErrorDomain, function: &str) -> Result<()> {
        if self.inner.read_only {
            return Err(VirError::new(
                domain,
                ErrorCode::OperationDenied,
                format!("read only access prevents {function}"),
            ));
        }
        Ok(())
    }

    /// The secure-flag variant of the gate: reading secrets (`VIR_DOMAIN_XML_SECURE`) is
    /// denied on a read-only connection with "operation forbidden: `function` with secure
    /// flag".
    pub(crate) fn check_secure(
        &self,
        domain: ErrorDomain,
        function: &str,
        secure: bool,
    ) -> Result<()> {
        if self.inner.read_only && secure {
            return Err(VirError::new(
                domain,
                ErrorCode::OperationDenied,
                format!("{function} with secure flag"),
            ));
        }
        Ok(())
    }
}

/// The public function libvirt's clients call for these flags: the plain one when there are
/// none (what virsh calls then, so read-only refusals name the same function), the
/// `...Flags` one otherwise.
pub(crate) fn pick(flags: u32, plain: &'static str, with_flags: &'static str) -> &'static str {
    if flags == 0 {
        plain
    } else {
        with_flags
    }
}

/// This crate's version, `major * 1_000_000 + minor * 1_000 + patch`.
fn crate_version() -> u64 {
    let part = |s: &str| s.parse::<u64>().unwrap_or(0);
    part(env!("CARGO_PKG_VERSION_MAJOR")) * 1_000_000
        + part(env!("CARGO_PKG_VERSION_MINOR")) * 1_000
        + part(env!("CARGO_PKG_VERSION_PATCH"))
}

/// The URI an empty name means (see [`Connect::open`]).
pub fn resolve_default(name: &str) -> String {
    if !name.is_empty() {
        return name.to_owned();
    }
    match std::env::var(DEFAULT_URI_ENV) {
        Ok(uri) if !uri.is_empty() => uri,
        _ if is_root() => "qemu:///system".to_owned(),
        _ => "qemu:///session".to_owned(),
    }
}

/// Whether this process runs as root: the owner of `/proc/self` is the effective user.
fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// `virConnectCheckURIMissingSlash`: `qemu://system` names a host called "system"; libvirt
/// refuses it for the drivers whose paths are `/system` and `/session`.
fn check_missing_slash(name: &str, uri: &Uri) -> Result<()> {
    const DRIVERS: [&str; 7] = ["qemu", "vbox", "vz", "bhyve", "libxl", "xen", "lxc"];
    match uri.host() {
        Some(host @ ("system" | "session")) if DRIVERS.contains(&uri.scheme()) => {
            Err(VirError::new(
                ErrorDomain::None,
                ErrorCode::InternalError,
                format!(
                    "invalid URI {name} (maybe you want {}:///{host})",
                    uri.scheme()
                ),
            ))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
#[path = "connect_tests.rs"]
mod tests;
