//! Reading the credential files, with errors that name the file and what is wrong, in
//! libvirt's words (`virNetTLSContextLoadCredentials`, `virNetTLSContextCheckCertFile`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::ServerCertVerifier as _;
use rustls::crypto::CryptoProvider;
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};

use crate::paths::{CredentialPaths, Side};

/// A credential file that could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// The file.
    pub file: PathBuf,
    /// What is wrong, naming the file (libvirt's words where it has them).
    pub message: String,
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for LoadError {}

/// One side's credentials, read and checked.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// Where they came from.
    pub paths: CredentialPaths,
    /// The CA certificates peers are verified against.
    pub ca: Vec<CertificateDer<'static>>,
    /// The revocation lists (none if `cacrl.pem` does not exist).
    pub crls: Vec<CertificateRevocationListDer<'static>>,
    /// Our certificate with its key; `None` for a client without them (libvirt then
    /// connects without a certificate).
    pub identity: Option<Arc<CertifiedKey>>,
}

/// The ring provider every config here uses.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// `strerror`'s text of an I/O error, without Rust's " (os error N)".
pub(crate) fn strerror(err: &std::io::Error) -> String {
    let text = err.to_string();
    match text.rfind(" (os error ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

fn read(kind: &str, file: &Path) -> Result<Vec<u8>, LoadError> {
    std::fs::read(file).map_err(|e| LoadError {
        file: file.to_owned(),
        // virNetTLSContextCheckCertFile: "Cannot read CA certificate '/x': No such file..."
        message: format!("Cannot read {kind} '{}': {}", file.display(), strerror(&e)),
    })
}

impl Credentials {
    /// Reads the files at `paths` for `side`.
    ///
    /// The CA certificate is required. The CRL is optional (a missing file means none).
    /// The certificate and key are required on the server; a client without either
    /// connects without a certificate, as libvirt's does.
    pub fn load(paths: &CredentialPaths, side: Side) -> Result<Credentials, LoadError> {
        let ca_pem = read("CA certificate", &paths.cacert)?;
        let ca: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&ca_pem)
            .collect::<Result<_, _>>()
            .ok()
            .filter(|certs: &Vec<_>| !certs.is_empty())
            .ok_or_else(|| LoadError {
                file: paths.cacert.clone(),
                message: format!(
                    "Unable to import CA certificate list {}: no PEM certificate in it",
                    paths.cacert.display()
                ),
            })?;
        // An empty CRL path means none, as in libvirt.
        let crls = if !paths.cacrl.as_os_str().is_empty() && paths.cacrl.exists() {
            let pem = read("CA revocation list", &paths.cacrl)?;
            CertificateRevocationListDer::pem_slice_iter(&pem)
                .collect::<Result<Vec<_>, _>>()
                .ok()
                .filter(|crls| !crls.is_empty())
                .ok_or_else(|| LoadError {
                    file: paths.cacrl.clone(),
                    message: format!(
                        "Unable to set x509 certificate revocation list: {}: no PEM revocation list in it",
                        paths.cacrl.display()
                    ),
                })?
        } else {
            Vec::new()
        };
        let identity = match side {
            Side::Client if !paths.cert.exists() || !paths.key.exists() => None,
            _ => Some(load_identity(&paths.cert, &paths.key, side)?),
        };
        // The roots must be usable as trust anchors.
        let mut roots = rustls::RootCertStore::empty();
        for cert in &ca {
            roots.add(cert.clone()).map_err(|e| LoadError {
                file: paths.cacert.clone(),
                message: format!(
                    "Unable to import CA certificate list {}: {e}",
                    paths.cacert.display()
                ),
            })?;
        }
        Ok(Credentials {
            paths: paths.clone(),
            ca,
            crls,
            identity,
        })
    }

    /// libvirt's sanity checks of our own credentials
    /// (`virNetTLSContextSanityCheckCredentials`, on unless `tls_no_sanity_certificate` /
    /// `no_sanity=1`): our certificate and the CA's are within their dates, and ours is
    /// signed by the CA. The errors are libvirt's, naming the file: "The server
    /// certificate /etc/pki/libvirt/servercert.pem has expired", "Our own certificate X
    /// failed validation against Y: The certificate hasn't got a known issuer."
    pub fn check_sanity(&self, side: Side) -> Result<(), LoadError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let which = match side {
            Side::Server => "server",
            Side::Client => "client",
        };
        let leaf = self.identity.as_ref().and_then(|i| i.cert.first());
        if let Some(leaf) = leaf {
            check_times(leaf, &self.paths.cert, which, now)?;
        }
        for ca in &self.ca {
            check_times(ca, &self.paths.cacert, "CA", now)?;
        }
        let (Some(identity), Some(leaf)) = (&self.identity, leaf) else {
            return Ok(());
        };
        // Checked for its own side's purpose: webpki looks at the purpose before the
        // issuer. The host name is not this check's business.
        let roots = Arc::new(self.roots());
        let import_error = |e: rustls::server::VerifierBuilderError| LoadError {
            file: self.paths.cacert.clone(),
            message: format!(
                "Unable to import CA certificate list {}: {e}",
                self.paths.cacert.display()
            ),
        };
        let now = rustls::pki_types::UnixTime::now();
        let verdict = match side {
            Side::Server => {
                let verifier =
                    rustls::client::WebPkiServerVerifier::builder_with_provider(roots, provider())
                        .build()
                        .map_err(import_error)?;
                let any = rustls::pki_types::ServerName::from(std::net::IpAddr::from([0, 0, 0, 0]));
                verifier
                    .verify_server_cert(leaf, &identity.cert[1..], &any, &[], now)
                    .map(|_| ())
            }
            Side::Client => {
                rustls::server::WebPkiClientVerifier::builder_with_provider(roots, provider())
                    .build()
                    .map_err(import_error)?
                    .verify_client_cert(leaf, &identity.cert[1..], now)
                    .map(|_| ())
            }
        };
        let reason = match verdict {
            Err(rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)) => {
                "The certificate hasn't got a known issuer."
            }
            Err(rustls::Error::InvalidCertificate(rustls::CertificateError::BadSignature)) => {
                "The certificate is not trusted."
            }
            // Its name or purpose is not this check's business.
            _ => return Ok(()),
        };
        Err(LoadError {
            file: self.paths.cert.clone(),
            message: format!(
                "Our own certificate {} failed validation against {}: {reason}",
                self.paths.cert.display(),
                self.paths.cacert.display()
            ),
        })
    }

    /// The CA certificates as a root store.
    pub fn roots(&self) -> rustls::RootCertStore {
        let mut roots = rustls::RootCertStore::empty();
        // Checked by `load`.
        let _ = roots.add_parsable_certificates(self.ca.iter().cloned());
        roots
    }
}

/// `virNetTLSContextCheckCertTimes`: "The {which} certificate FILE has expired" or "is not
/// yet active" (`which`: server, client or CA).
fn check_times(cert: &[u8], file: &Path, which: &str, now: i64) -> Result<(), LoadError> {
    let (not_before, not_after) = crate::dn::validity(cert).map_err(|e| LoadError {
        file: file.to_owned(),
        message: format!(
            "Unable to import {which} certificate {}: {e}",
            file.display()
        ),
    })?;
    let state = if not_after < now {
        "has expired"
    } else if not_before > now {
        "is not yet active"
    } else {
        return Ok(());
    };
    Err(LoadError {
        file: file.to_owned(),
        message: format!("The {which} certificate {} {state}", file.display()),
    })
}

fn load_identity(cert: &Path, key: &Path, side: Side) -> Result<Arc<CertifiedKey>, LoadError> {
    let which = match side {
        Side::Server => "server",
        Side::Client => "client",
    };
    let cert_pem = read("certificate", cert)?;
    let key_pem = read("private key", key)?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .ok()
        .filter(|c: &Vec<_>| !c.is_empty())
        .ok_or_else(|| LoadError {
            file: cert.to_owned(),
            message: format!(
                "Unable to import {which} certificate {}: no PEM certificate in it",
                cert.display()
            ),
        })?;
    let set_error = |file: &Path, what: &str| LoadError {
        file: file.to_owned(),
        // libvirt: "Unable to set x509 key and certificate: KEY, CERT: <gnutls reason>"
        message: format!(
            "Unable to set x509 key and certificate: {}, {}: {what}",
            key.display(),
            cert.display()
        ),
    };
    let private = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|_| set_error(key, &format!("no PEM private key in {}", key.display())))?;
    let signing = provider()
        .key_provider
        .load_private_key(private)
        .map_err(|e| set_error(key, &format!("unusable private key: {e}")))?;
    let certified = CertifiedKey::new(chain, signing);
    match certified.keys_match() {
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
        Err(_) => {
            return Err(set_error(
                key,
                "The certificate and the given key do not match.",
            ))
        }
    }
    Ok(Arc::new(certified))
}
