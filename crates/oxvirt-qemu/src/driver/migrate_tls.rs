//! TLS for the migration stream (`VIR_MIGRATE_TLS`, `virsh migrate --tls`), as libvirt's
//! QEMU driver sets it up: both QEMUs get a `tls-creds-x509` object (id
//! `objlibvirt_migrate_tls0`) over the node's migration certificate directory, the
//! destination as the server end, the source as the client end, and the migration
//! parameter `tls-creds` names it (with `tls-hostname` on the source: the name the
//! destination's certificate must carry, the host of the migration URI). QEMU reads the
//! files itself: `ca-cert.pem`, `server-cert.pem` and `server-key.pem` on the destination,
//! `ca-cert.pem`, `client-cert.pem` and `client-key.pem` on the source: the layout of
//! libvirt's TLS transport. A migration without the flag clears both parameters, so a
//! setting never lingers into the next one; the object is removed when the job ends.

use std::path::PathBuf;

use oxvirt_migrate::MigrateFlags;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};
use serde_json::{json, Value};

use super::vm::Vm;
use crate::qmp::ops::MigrationParameters;

type Result<T> = std::result::Result<T, VirError>;

/// The id of the credentials object (libvirt's alias for `libvirt_migrate`).
pub(crate) const TLS_ALIAS: &str = "objlibvirt_migrate_tls0";

/// Where a node's migration credentials are and how they are checked (qemu.conf's
/// `migrate_tls_x509_cert_dir`, `migrate_tls_x509_verify` and `migrate_tls_force`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrateTlsConfig {
    /// The directory of `ca-cert.pem`, `server-cert.pem`, `server-key.pem`,
    /// `client-cert.pem` and `client-key.pem` (default `/etc/pki/qemu`, as libvirt's
    /// `default_tls_x509_cert_dir`).
    pub cert_dir: PathBuf,
    /// Whether the destination requires and checks the source's client certificate.
    pub verify: bool,
    /// Whether every migration must use TLS (a tunnelled one excepted, as in libvirt).
    pub force: bool,
}

impl Default for MigrateTlsConfig {
    fn default() -> Self {
        MigrateTlsConfig {
            cert_dir: PathBuf::from("/etc/pki/qemu"),
            verify: true,
            force: false,
        }
    }
}

/// Which end of a TLS migration a QEMU is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsEnd {
    /// The destination: it listens and presents `server-cert.pem`.
    Server,
    /// The source: it connects and checks that the destination's certificate is for
    /// `hostname`.
    Client {
        /// The destination's host as the migration URI names it.
        hostname: String,
    },
}

impl MigrateTlsConfig {
    /// libvirt's refusal of a migration without `VIR_MIGRATE_TLS` on a node that forces
    /// it.
    pub(crate) fn check_forced(&self, flags: MigrateFlags) -> Result<()> {
        if self.force
            && !flags.contains(MigrateFlags::TUNNELLED)
            && !flags.contains(MigrateFlags::TLS)
        {
            return Err(VirError::new(
                ErrorDomain::Qemu,
                ErrorCode::OperationInvalid,
                "this libvirtd instance allows migration only with VIR_MIGRATE_TLS flag",
            ));
        }
        Ok(())
    }

    /// The `object-add` arguments of the credentials for `end`: the server verifies its
    /// peer as configured, the client always.
    pub(crate) fn creds_object(&self, end: &TlsEnd) -> Value {
        let (endpoint, verify) = match end {
            TlsEnd::Server => ("server", self.verify),
            TlsEnd::Client { .. } => ("client", true),
        };
        json!({
            "qom-type": "tls-creds-x509",
            "id": TLS_ALIAS,
            "dir": self.cert_dir.to_string_lossy(),
            "endpoint": endpoint,
            "verify-peer": verify,
        })
    }
}

/// The migration parameters that turn TLS on for `end` (`None`: off).
pub(crate) fn tls_parameters(end: Option<&TlsEnd>) -> MigrationParameters {
    let (creds, hostname) = match end {
        Some(TlsEnd::Server) => (TLS_ALIAS, ""),
        Some(TlsEnd::Client { hostname }) => (TLS_ALIAS, hostname.as_str()),
        None => ("", ""),
    };
    MigrationParameters {
        tls_creds: Some(creds.to_string()),
        tls_hostname: Some(hostname.to_string()),
        ..MigrationParameters::default()
    }
}

/// Sets up `vm`'s QEMU for a migration with TLS as `end`, or without (`None`): the
/// credentials object (re)created from `config`'s directory (QEMU names a missing or
/// unreadable file in its error), then the parameters.
pub(crate) async fn apply(vm: &Vm, config: &MigrateTlsConfig, end: Option<&TlsEnd>) -> Result<()> {
    let qmp = vm.qmp();
    if let Some(end) = end {
        // A leftover of an earlier job that did not end cleanly.
        let _ = qmp
            .execute("object-del", Some(json!({ "id": TLS_ALIAS })))
            .await;
        qmp.execute("object-add", Some(config.creds_object(end)))
            .await
            .map_err(|e| {
                let e = VirError::from(e);
                VirError::new(
                    ErrorDomain::Qemu,
                    ErrorCode::OperationFailed,
                    format!(
                        "cannot set up TLS for the migration from {}: {}",
                        config.cert_dir.display(),
                        e.message
                    ),
                )
            })?;
    }
    qmp.migrate_set_parameters(&tls_parameters(end)).await?;
    Ok(())
}

/// Ends `vm`'s TLS setup after a migration with TLS: parameters cleared, object removed
/// (best effort: the QEMU may be on its way out).
pub(crate) async fn reset(vm: &Vm) {
    let qmp = vm.qmp();
    let _ = qmp.migrate_set_parameters(&tls_parameters(None)).await;
    let _ = qmp
        .execute("object-del", Some(json!({ "id": TLS_ALIAS })))
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_verifies_as_configured_and_the_client_always() {
        let mut config = MigrateTlsConfig::default();
        assert_eq!(config.cert_dir, PathBuf::from("/etc/pki/qemu"));
        let server = config.creds_object(&TlsEnd::Server);
        assert_eq!(
            server,
            json!({"qom-type": "tls-creds-x509", "id": "objlibvirt_migrate_tls0",
                   "dir": "/etc/pki/qemu", "endpoint": "server", "verify-peer": true})
        );
        config.verify = false;
        assert_eq!(config.creds_object(&TlsEnd::Server)["verify-peer"], false);
        let client = config.creds_object(&TlsEnd::Client {
            hostname: "h".into(),
        });
        assert_eq!(client["endpoint"], "client");
        assert_eq!(client["verify-peer"], true);
    }

    #[test]
    fn parameters_name_the_object_and_the_destination_or_clear_both() {
        let p = tls_parameters(Some(&TlsEnd::Client {
            hostname: "192.168.250.2".into(),
        }));
        assert_eq!(p.tls_creds.as_deref(), Some(TLS_ALIAS));
        assert_eq!(p.tls_hostname.as_deref(), Some("192.168.250.2"));
        let p = tls_parameters(Some(&TlsEnd::Server));
        assert_eq!(
            (p.tls_creds.as_deref(), p.tls_hostname.as_deref()),
            (Some(TLS_ALIAS), Some(""))
        );
        let p = tls_parameters(None);
        assert_eq!(
            (p.tls_creds.as_deref(), p.tls_hostname.as_deref()),
            (Some(""), Some(""))
        );
        assert_eq!(p.max_bandwidth, None);
    }

    #[test]
    fn a_forcing_node_refuses_plain_migrations_but_not_tunnelled_ones() {
        let config = MigrateTlsConfig {
            force: true,
            ..MigrateTlsConfig::default()
        };
        let e = config.check_forced(MigrateFlags::LIVE).unwrap_err();
        assert_eq!(e.code, ErrorCode::OperationInvalid);
        assert_eq!(
            e.message,
            "Requested operation is not valid: this libvirtd instance allows migration only \
             with VIR_MIGRATE_TLS flag"
        );
        assert!(config
            .check_forced(MigrateFlags(MigrateFlags::LIVE.0 | MigrateFlags::TLS.0))
            .is_ok());
        assert!(config
            .check_forced(MigrateFlags(
                MigrateFlags::PEER2PEER.0 | MigrateFlags::TUNNELLED.0
            ))
            .is_ok());
        assert!(MigrateTlsConfig::default()
            .check_forced(MigrateFlags::LIVE)
            .is_ok());
    }
}
