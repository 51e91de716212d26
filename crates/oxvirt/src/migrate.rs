//! Migration from the client side: [`Domain::migrate3`] runs libvirt's migration protocol
//! version 3 with typed parameters between two connections (libvirt's `virDomainMigrate3`,
//! `virDomainMigrateVersion3Full`); [`Domain::migrate_to_uri3`] hands the whole migration
//! to the source daemon (`virDomainMigrateToURI3`); the job calls (`virDomainGetJobStats`,
//! `virDomainAbortJob`, the migration tunables) are thin handles over the driver.

use oxvirt_domain::driver::{DomainState, JobInfo, TypedParam, TypedValue};
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use crate::connect::Connect;
use crate::domain_handle::Domain;
use crate::uri::Uri;
use crate::Result;

/// `virDomainMigrateFlags` the client side looks at.
pub mod migrate_flags {
    /// `VIR_MIGRATE_LIVE`.
    pub const LIVE: u32 = 1 << 0;
    /// `VIR_MIGRATE_PEER2PEER`.
    pub const PEER2PEER: u32 = 1 << 1;
    /// `VIR_MIGRATE_TUNNELLED`.
    pub const TUNNELLED: u32 = 1 << 2;
    /// `VIR_MIGRATE_PERSIST_DEST`.
    pub const PERSIST_DEST: u32 = 1 << 3;
    /// `VIR_MIGRATE_UNDEFINE_SOURCE`.
    pub const UNDEFINE_SOURCE: u32 = 1 << 4;
    /// `VIR_MIGRATE_PAUSED`.
    pub const PAUSED: u32 = 1 << 5;
    /// `VIR_MIGRATE_NON_SHARED_DISK`.
    pub const NON_SHARED_DISK: u32 = 1 << 6;
    /// `VIR_MIGRATE_NON_SHARED_INC`.
    pub const NON_SHARED_INC: u32 = 1 << 7;
    /// `VIR_MIGRATE_CHANGE_PROTECTION`.
    pub const CHANGE_PROTECTION: u32 = 1 << 8;
    /// `VIR_MIGRATE_UNSAFE`.
    pub const UNSAFE: u32 = 1 << 9;
    /// `VIR_MIGRATE_OFFLINE`.
    pub const OFFLINE: u32 = 1 << 10;
    /// `VIR_MIGRATE_COMPRESSED`.
    pub const COMPRESSED: u32 = 1 << 11;
    /// `VIR_MIGRATE_ABORT_ON_ERROR`.
    pub const ABORT_ON_ERROR: u32 = 1 << 12;
    /// `VIR_MIGRATE_AUTO_CONVERGE`.
    pub const AUTO_CONVERGE: u32 = 1 << 13;
    /// `VIR_MIGRATE_RDMA_PIN_ALL`.
    pub const RDMA_PIN_ALL: u32 = 1 << 14;
    /// `VIR_MIGRATE_POSTCOPY`.
    pub const POSTCOPY: u32 = 1 << 15;
    /// `VIR_MIGRATE_TLS`.
    pub const TLS: u32 = 1 << 16;
    /// `VIR_MIGRATE_PARALLEL`.
    pub const PARALLEL: u32 = 1 << 17;
    /// `VIR_MIGRATE_NON_SHARED_SYNCHRONOUS_WRITES`.
    pub const NON_SHARED_SYNCHRONOUS_WRITES: u32 = 1 << 18;
    /// `VIR_MIGRATE_POSTCOPY_RESUME`.
    pub const POSTCOPY_RESUME: u32 = 1 << 19;
    /// `VIR_MIGRATE_ZEROCOPY`.
    pub const ZEROCOPY: u32 = 1 << 20;
}

use migrate_flags as mf;

/// `VIR_DRV_FEATURE_MIGRATION_P2P`.
const FEATURE_P2P: i32 = 4;
/// `VIR_DRV_FEATURE_MIGRATION_DIRECT`.
const FEATURE_DIRECT: i32 = 5;
/// `VIR_DRV_FEATURE_MIGRATION_OFFLINE`.
const FEATURE_OFFLINE: i32 = 12;
/// `VIR_DRV_FEATURE_MIGRATION_PARAMS`.
const FEATURE_PARAMS: i32 = 13;

/// Whether `conn`'s driver says it lacks `feature` (libvirt's `VIR_DRV_SUPPORTS_FEATURE`
/// false); a driver that does not answer is not refused here.
async fn lacks(conn: &Connect, feature: i32) -> bool {
    matches!(conn.driver().supports_feature(feature).await, Ok(false))
}

fn unsupported_arg(detail: &str) -> VirError {
    VirError::new(ErrorDomain::Domain, ErrorCode::ArgumentUnsupported, detail)
}

/// The flags libvirt's client keeps from the destination's phases.
const SOURCE_ONLY: u32 = mf::ABORT_ON_ERROR | mf::AUTO_CONVERGE;

/// libvirt's `virReportInvalidArg`: `VIR_ERR_INVALID_ARG` with the bare sentence (as
/// libvirt 9.0's client reports it, checked with python-libvirt).
fn invalid_arg(detail: &str) -> VirError {
    VirError::raw(ErrorDomain::Domain, ErrorCode::InvalidArg, detail)
}

/// `params` with the string parameter `name` set to `value` (libvirt's
/// `virTypedParamsReplaceString`: the first one replaced in place, or one added).
fn replace_string(params: &mut Vec<TypedParam>, name: &str, value: &str) {
    let value = TypedValue::String(value.to_owned());
    match params.iter_mut().find(|p| p.field == name) {
        Some(p) => p.value = value,
        None => params.push(TypedParam::new(name, value)),
    }
}

fn get_string<'a>(params: &'a [TypedParam], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|p| p.field == name)
        .and_then(|p| match &p.value {
            TypedValue::String(s) => Some(s.as_str()),
            _ => None,
        })
}

/// The checks libvirt's public migration calls share (`VIR_EXCLUSIVE_FLAGS_GOTO`).
fn check_disk_flags(flags: u32) -> Result<()> {
    if flags & mf::NON_SHARED_DISK != 0 && flags & mf::NON_SHARED_INC != 0 {
        return Err(invalid_arg(
            "Flags 'VIR_MIGRATE_NON_SHARED_DISK' and 'VIR_MIGRATE_NON_SHARED_INC' are mutually exclusive",
        ));
    }
    Ok(())
}

/// libvirt's `virDomainMigrateCheckNotLocal`: a peer-to-peer destination must name a host
/// other than `localhost`, or be an explicit UNIX socket (`qemu+unix:///system?socket=...`:
/// whoever names one knows what they are doing).
fn check_not_local(dconnuri: &str) -> Result<()> {
    let uri = Uri::parse(dconnuri)?;
    let local = match uri.host().filter(|h| !h.is_empty()) {
        Some(host) => host.starts_with("localhost"),
        None => !(uri.transport() == Some("unix") && uri.param("socket").is_some()),
    };
    if local {
        return Err(invalid_arg("Attempt to migrate guest to the same host"));
    }
    Ok(())
}

impl Domain {
    /// `virDomainMigrate3`: migrates the domain to the host of `dconn`, this client driving
    /// both daemons through the five phases of libvirt's migration protocol version 3
    /// with typed parameters (`params`, `VIR_MIGRATE_PARAM_*`): Begin here, Prepare there,
    /// Perform here (not for `VIR_MIGRATE_OFFLINE`), Finish there (cancelled if Perform
    /// failed), Confirm here (cancelled if Finish failed, not called if Perform failed: the
    /// source has then cancelled by itself). Returns the domain on the destination.
    ///
    /// As libvirt: refused on a read-only connection at either end; peer-to-peer and
    /// tunnelled migrations are [`Domain::migrate_to_uri3`]'s; the source phases get
    /// `VIR_MIGRATE_CHANGE_PROTECTION` added, the destination's lose
    /// `VIR_MIGRATE_ABORT_ON_ERROR` and `VIR_MIGRATE_AUTO_CONVERGE`; a paused source
    /// domain stays paused on the destination (`VIR_MIGRATE_PAUSED`). The error returned
    /// is the first phase's that failed, except that a destination's own error replaces
    /// the source's "operation failed" when Perform failed because the destination did.
    pub async fn migrate3(
        &self,
        dconn: &Connect,
        params: &[TypedParam],
        flags: u32,
    ) -> Result<Domain> {
        self.writable("virDomainMigrate3")?;
        dconn.check_writable(ErrorDomain::Domain, "virDomainMigrate3")?;
        check_disk_flags(flags)?;
        if flags & mf::PEER2PEER != 0 {
            return Err(invalid_arg(
                "use virDomainMigrateToURI3 for peer-to-peer migration",
            ));
        }
        if flags & mf::TUNNELLED != 0 {
            return Err(invalid_arg(
                "cannot perform tunnelled migration without using peer2peer flag",
            ));
        }
        if flags & mf::OFFLINE != 0 {
            if lacks(self.connect(), FEATURE_OFFLINE).await {
                return Err(unsupported_arg(
                    "offline migration is not supported by the source host",
                ));
            }
            if lacks(dconn, FEATURE_OFFLINE).await {
                return Err(unsupported_arg(
                    "offline migration is not supported by the destination host",
                ));
            }
        }
        // Without parameters on either side libvirt would fall back to the older
        // protocols, which oxvirt does not speak.
        if lacks(self.connect(), FEATURE_PARAMS).await || lacks(dconn, FEATURE_PARAMS).await {
            return Err(oxvirt_domain::driver::no_support("virDomainMigrate3"));
        }
        // CHANGE_PROTECTION is the client's to add for the source only (libvirt masks a
        // caller's and re-adds it, every QEMU driver supporting it).
        let flags = flags & !mf::CHANGE_PROTECTION;
        self.migrate_version3(dconn, params.to_vec(), flags).await
    }

    /// `virDomainMigrateVersion3Full` with parameters.
    async fn migrate_version3(
        &self,
        dconn: &Connect,
        mut params: Vec<TypedParam>,
        mut flags: u32,
    ) -> Result<Domain> {
        let src = self.driver();
        let dst = dconn.driver();
        let dom = self.to_ref();
        let protection = mf::CHANGE_PROTECTION;

        let (xml, cookie) = src
            .migrate_begin3_params(&dom, &params, flags | protection)
            .await
            .map_err(|e| {
                // A driver without migration: libvirt checks for the five phases before
                // it starts and names the public function.
                if e.code == ErrorCode::NoSupport {
                    oxvirt_domain::driver::no_support("virDomainMigrate3")
                } else {
                    e
                }
            })?;
        if let Ok(state) = src.state(&dom, 0).await {
            if state.state() == DomainState::Paused {
                flags |= mf::PAUSED;
            }
        }
        let dest_flags = flags & !SOURCE_ONLY;

        replace_string(&mut params, "destination_xml", &xml);
        let (cookie, uri_out) = match dst
            .migrate_prepare3_params(&params, &cookie, dest_flags)
            .await
        {
            Ok(answer) => answer,
            Err(e) => {
                // Begin started a job on the source: Confirm (cancelled) ends it; its own
                // failure does not replace the error.
                let _ = src
                    .migrate_confirm3_params(&dom, &params, &[], flags | protection, true)
                    .await;
                return Err(e);
            }
        };

        // What Finish gets: the cookie, whether the migration was cancelled, and the
        // error to keep (the first one).
        let mut first_err: Option<VirError> = None;
        let mut notify_source = true;
        let (finish_cookie, cancelled) = if let Some(uri) = uri_out.as_deref() {
            replace_string(&mut params, "migrate_uri", uri);
            self.perform(
                &params,
                cookie,
                flags | protection,
                &mut first_err,
                &mut notify_source,
            )
            .await
        } else if get_string(&params, "migrate_uri").is_none() {
            first_err = Some(VirError::new(
                ErrorDomain::Domain,
                ErrorCode::InternalError,
                "domainMigratePrepare3 did not set uri",
            ));
            (Vec::new(), true)
        } else {
            self.perform(
                &params,
                cookie,
                flags | protection,
                &mut first_err,
                &mut notify_source,
            )
            .await
        };

        if get_string(&params, "destination_name").is_none() {
            replace_string(&mut params, "destination_name", self.name());
        }
        let finished = dst
            .migrate_finish3_params(&params, &finish_cookie, dest_flags, cancelled)
            .await;
        let (ddom, confirm_cookie) = match finished {
            Ok((ddom, cookie)) => (Some(ddom), cookie),
            Err(e) => {
                // A destination's real error (the domain died there) says better why
                // than the source's "operation failed" for the same failure.
                first_err = match first_err {
                    Some(orig)
                        if cancelled
                            && orig.domain == ErrorDomain::Qemu
                            && orig.code == ErrorCode::OperationFailed
                            && e.domain == ErrorDomain::Qemu
                            && e.code != ErrorCode::MigrateFinishOk =>
                    {
                        Some(e)
                    }
                    Some(orig) => Some(orig),
                    None => Some(e),
                };
                (None, Vec::new())
            }
        };

        if notify_source {
            // A failed Confirm leaves the source paused at worst; libvirt only warns.
            let _ = src
                .migrate_confirm3_params(
                    &dom,
                    &params,
                    &confirm_cookie,
                    flags | protection,
                    ddom.is_none(),
                )
                .await;
        }
        match (ddom, first_err) {
            (Some(ddom), None) => Ok(dconn.domain(ddom)),
            (_, Some(e)) => Err(e),
            (None, None) => Err(VirError::new(
                ErrorDomain::Domain,
                ErrorCode::InternalError,
                "migration finished without a domain",
            )),
        }
    }

    /// The Perform phase of [`Domain::migrate3`] (skipped for an offline migration):
    /// the cookie for Finish and whether the migration is cancelled.
    async fn perform(
        &self,
        params: &[TypedParam],
        cookie: Vec<u8>,
        flags: u32,
        first_err: &mut Option<VirError>,
        notify_source: &mut bool,
    ) -> (Vec<u8>, bool) {
        if flags & mf::OFFLINE != 0 {
            return (Vec::new(), false);
        }
        match self
            .driver()
            .migrate_perform3_params(&self.to_ref(), None, params, &cookie, flags)
            .await
        {
            Ok(cookie) => (cookie, false),
            Err(e) => {
                *first_err = Some(e);
                // The source cancelled by itself: no Confirm.
                *notify_source = false;
                (Vec::new(), true)
            }
        }
    }

    /// `virDomainMigrateToURI3`: the source daemon migrates the domain itself. With
    /// `VIR_MIGRATE_PEER2PEER`, `dconnuri` is the destination daemon's URI as the source
    /// sees it (required, and not a local one); without it (a "direct" migration, which
    /// no QEMU driver offers) `dconnuri` is ignored and `params` must name the URI.
    pub async fn migrate_to_uri3(
        &self,
        dconnuri: Option<&str>,
        params: &[TypedParam],
        flags: u32,
    ) -> Result<()> {
        self.writable("virDomainMigrateToURI3")?;
        check_disk_flags(flags)?;
        // libvirt's virDomainMigrateUnmanagedCheckCompat
        if flags & mf::OFFLINE != 0 && lacks(self.connect(), FEATURE_OFFLINE).await {
            return Err(unsupported_arg(
                "offline migration is not supported by the source host",
            ));
        }
        if flags & mf::PEER2PEER != 0 {
            if lacks(self.connect(), FEATURE_P2P).await {
                return Err(unsupported_arg(
                    "p2p migration is not supported by the source host",
                ));
            }
        } else if lacks(self.connect(), FEATURE_DIRECT).await {
            return Err(unsupported_arg(
                "direct migration is not supported by the source host",
            ));
        }
        let dconnuri = if flags & mf::PEER2PEER != 0 {
            let Some(uri) = dconnuri else {
                return Err(invalid_arg(
                    "dconnuri in virDomainMigrateToURI3 must not be NULL",
                ));
            };
            check_not_local(uri)?;
            Some(uri)
        } else {
            None
        };
        self.driver()
            .migrate_perform3_params(&self.to_ref(), dconnuri, params, &[], flags)
            .await
            .map(|_| ())
    }

    // ---- jobs ----

    /// `virDomainGetJobInfo`.
    pub async fn job_info(&self) -> Result<JobInfo> {
        self.driver().job_info(&self.to_ref()).await
    }

    /// `virDomainGetJobStats`: the `virDomainJobType` and the statistics of the current
    /// job, or with `VIR_DOMAIN_JOB_STATS_COMPLETED` (1) of the last completed one
    /// (`VIR_DOMAIN_JOB_STATS_KEEP_COMPLETED` (2) keeps them for the next call).
    pub async fn job_stats(&self, flags: u32) -> Result<(i32, Vec<TypedParam>)> {
        self.driver().job_stats(&self.to_ref(), flags).await
    }

    /// `virDomainAbortJob`.
    pub async fn abort_job(&self) -> Result<()> {
        self.writable("virDomainAbortJob")?;
        self.driver().abort_job(&self.to_ref()).await
    }

    /// `virDomainMigrateStartPostCopy`.
    pub async fn migrate_start_post_copy(&self, flags: u32) -> Result<()> {
        self.writable("virDomainMigrateStartPostCopy")?;
        self.driver()
            .migrate_start_post_copy(&self.to_ref(), flags)
            .await
    }

    /// `virDomainMigrateSetMaxSpeed`, in MiB/s (`VIR_DOMAIN_MIGRATE_MAX_SPEED_POSTCOPY`
    /// (1): of the post-copy phase).
    pub async fn migrate_set_max_speed(&self, mib: u64, flags: u32) -> Result<()> {
        self.writable("virDomainMigrateSetMaxSpeed")?;
        self.driver()
            .migrate_set_max_speed(&self.to_ref(), mib, flags)
            .await
    }

    /// `virDomainMigrateGetMaxSpeed`, in MiB/s.
    pub async fn migrate_get_max_speed(&self, flags: u32) -> Result<u64> {
        self.driver()
            .migrate_get_max_speed(&self.to_ref(), flags)
            .await
    }

    /// `virDomainMigrateSetMaxDowntime`, in milliseconds.
    pub async fn migrate_set_max_downtime(&self, ms: u64, flags: u32) -> Result<()> {
        self.writable("virDomainMigrateSetMaxDowntime")?;
        self.driver()
            .migrate_set_max_downtime(&self.to_ref(), ms, flags)
            .await
    }

    /// `virDomainMigrateGetMaxDowntime`, in milliseconds.
    pub async fn migrate_get_max_downtime(&self, flags: u32) -> Result<u64> {
        self.driver()
            .migrate_get_max_downtime(&self.to_ref(), flags)
            .await
    }
}

#[cfg(test)]
#[path = "migrate_tests.rs"]
mod tests;
