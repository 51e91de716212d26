//! The daemon's side: the handshake, then libvirt's checks of the client's certificate
//! (`virNetTLSContextCheckCertificate`), then the one byte 0x01 that tells the client it was
//! accepted. A refused client's socket is closed without that byte, as libvirtd does.
//!
//! The handshake itself accepts any certificate (its signature still has to prove the
//! client holds the key): the checks run after it, so every refusal can be classified and
//! logged with the peer's DN, and the client sees what libvirt's clients see from libvirtd.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, SignatureScheme};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use crate::load::{provider, Credentials, LoadError};

/// How the server treats client certificates (libvirtd.conf's TLS keys).
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// `tls_no_verify_certificate`: accept clients whose certificate is missing or fails
    /// the checks (they are logged, not refused).
    pub no_verify: bool,
    /// `tls_allowed_dn_list`: glob patterns one of which the client's subject DN must
    /// match; `None` allows every DN.
    pub allowed_dns: Option<Vec<String>>,
}

/// The check a refused client failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The handshake did not complete (not TLS, no common parameters, a bad signature,
    /// the peer gave up, or it took too long).
    Handshake,
    /// The client sent no certificate.
    NoCertificate,
    /// The certificate is not signed by our CA.
    UnknownCa,
    /// The certificate has expired.
    Expired,
    /// The certificate is not valid yet.
    NotYetActive,
    /// The certificate is on the CA's revocation list.
    Revoked,
    /// The certificate is not acceptable otherwise (bad encoding, wrong purpose...).
    BadCertificate,
    /// The subject DN matches no `tls_allowed_dn_list` entry.
    DnNotAllowed,
}

impl Refused {
    /// A short name of the check, for logs.
    pub fn check(self) -> &'static str {
        match self {
            Refused::Handshake => "handshake",
            Refused::NoCertificate => "no certificate",
            Refused::UnknownCa => "unknown CA",
            Refused::Expired => "expired",
            Refused::NotYetActive => "not yet active",
            Refused::Revoked => "revoked",
            Refused::BadCertificate => "bad certificate",
            Refused::DnNotAllowed => "DN not allowed",
        }
    }
}

/// A client the server did not accept.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// The failed check.
    pub kind: Refused,
    /// The client's address.
    pub peer: Option<SocketAddr>,
    /// The client certificate's subject DN, when there was one.
    pub dn: Option<String>,
    /// What failed, in libvirt's words.
    pub message: String,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.peer {
            Some(peer) => write!(f, "TLS client {peer}")?,
            None => write!(f, "TLS client")?,
        }
        write!(f, " refused ({})", self.kind.check())?;
        if let Some(dn) = &self.dn {
            // The DN comes from a certificate nobody vouched for yet: its control characters
            // (a newline starting a forged log line) are shown escaped.
            f.write_str(", DN '")?;
            for c in dn.chars() {
                if c.is_control() {
                    write!(f, "{}", c.escape_default())?;
                } else {
                    f.write_char(c)?;
                }
            }
            f.write_str("'")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for Refusal {}

/// An accepted client: the TLS stream (the confirmation byte already sent) and who it is.
pub struct Accepted {
    /// The stream, ready for the RPC protocol.
    pub stream: TlsStream<TcpStream>,
    /// The client certificate's subject DN (`None` only with `no_verify` and no
    /// certificate).
    pub dn: Option<String>,
    /// The client's address.
    pub peer: Option<SocketAddr>,
    /// Why the certificate would have been refused, when `no_verify` let it in.
    pub ignored: Option<Refusal>,
}

/// The server's TLS context: credentials and checks, shared by every connection.
#[derive(Clone)]
pub struct TlsServer {
    acceptor: TlsAcceptor,
    verifier: Arc<dyn ClientCertVerifier>,
    options: ServerOptions,
}

/// Hands every certificate through the handshake (the signature checks still apply) so
/// the real checks can run after it, as libvirt's do.
#[derive(Debug)]
struct Deferred(Arc<dyn ClientCertVerifier>);

impl ClientCertVerifier for Deferred {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.0.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// libvirt's message for a DN matching no `tls_allowed_dn_list` entry.
pub const DN_NOT_ALLOWED: &str = "Client's Distinguished Name is not on the list of allowed \
clients (tls_allowed_dn_list).  Use 'virt-pki-query-dn clientcert.pem' to view the \
Distinguished Name field in the client certificate, or run this daemon with --verbose option.";

impl TlsServer {
    /// The server context for `creds` (which must hold the server's certificate and key).
    pub fn new(creds: &Credentials, options: ServerOptions) -> Result<TlsServer, LoadError> {
        let identity = creds.identity.clone().ok_or_else(|| LoadError {
            file: creds.paths.cert.clone(),
            message: format!("Cannot read certificate '{}'", creds.paths.cert.display()),
        })?;
        if let Some(bad) = options
            .allowed_dns
            .iter()
            .flatten()
            .find(|p| oxvirt_access::glob::is_malformed(p))
        {
            return Err(LoadError {
                file: creds.paths.cert.clone(),
                message: format!("Malformed TLS allowed DN list entry '{bad}'"),
            });
        }
        let verifier = client_verifier(creds)?;
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| LoadError {
                file: creds.paths.cert.clone(),
                message: e.to_string(),
            })?
            .with_client_cert_verifier(Arc::new(Deferred(Arc::clone(&verifier))))
            .with_cert_resolver(Arc::new(rustls::sign::SingleCertAndKey::from(identity)));
        // GnuTLS clients (virsh) read a TLS 1.3 session ticket where they wait for the
        // confirmation byte and fail with "Unable to read TLS confirmation": send none.
        config.send_tls13_tickets = 0;
        config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
        Ok(TlsServer {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            verifier,
            options,
        })
    }

    /// Runs the handshake on `tcp` (at most `limit`), checks the client as libvirt does
    /// and sends the confirmation byte; a refused client's socket is closed without it.
    pub async fn accept(&self, tcp: TcpStream, limit: Duration) -> Result<Accepted, Refusal> {
        let peer = tcp.peer_addr().ok();
        let refusal = |kind, dn: Option<String>, message: String| Refusal {
            kind,
            peer,
            dn,
            message,
        };
        let mut stream = match tokio::time::timeout(limit, self.acceptor.accept(tcp)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(err)) => {
                return Err(refusal(
                    Refused::Handshake,
                    None,
                    format!("TLS handshake failed {err}"),
                ))
            }
            Err(_) => {
                return Err(refusal(
                    Refused::Handshake,
                    None,
                    format!("TLS handshake failed: no handshake within {limit:?}"),
                ))
            }
        };
        let certs: Vec<CertificateDer<'static>> = stream
            .get_ref()
            .1
            .peer_certificates()
            .map(|c| c.iter().map(|c| c.clone().into_owned()).collect())
            .unwrap_or_default();
        let (dn, verdict) = self.check(&certs);
        let ignored = match verdict {
            Ok(()) => None,
            Err((kind, message)) => {
                let refused = refusal(kind, dn.clone(), message);
                if !self.options.no_verify {
                    return Err(refused);
                }
                Some(refused)
            }
        };
        let confirm = async {
            stream.write_all(&[1]).await?;
            stream.flush().await
        };
        match tokio::time::timeout(limit, confirm).await {
            Ok(Ok(())) => Ok(Accepted {
                stream,
                dn,
                peer,
                ignored,
            }),
            Ok(Err(err)) => Err(refusal(
                Refused::Handshake,
                dn,
                format!("cannot send the TLS confirmation: {err}"),
            )),
            Err(_) => Err(refusal(
                Refused::Handshake,
                dn,
                "cannot send the TLS confirmation: timed out".to_owned(),
            )),
        }
    }

    /// The client's DN and libvirt's verdict on its certificate chain `certs`.
    #[allow(clippy::type_complexity)]
    fn check(
        &self,
        certs: &[CertificateDer<'static>],
    ) -> (Option<String>, Result<(), (Refused, String)>) {
        let Some((leaf, intermediates)) = certs.split_first() else {
            return (
                None,
                Err((
                    Refused::NoCertificate,
                    "Unable to verify TLS peer: No certificate was found.".to_owned(),
                )),
            );
        };
        let dn = match crate::dn::subject_dn(leaf) {
            Ok(dn) => dn,
            Err(err) => {
                return (
                    None,
                    Err((
                        Refused::BadCertificate,
                        format!("Failed to get certificate [session] distinguished name: {err}"),
                    )),
                )
            }
        };
        if let Err(err) = self
            .verifier
            .verify_client_cert(leaf, intermediates, UnixTime::now())
        {
            return (Some(dn), Err(classify(&err, "client")));
        }
        if let Some(allowed) = &self.options.allowed_dns {
            if !allowed.iter().any(|p| oxvirt_access::glob::matches(p, &dn)) {
                return (
                    Some(dn),
                    Err((Refused::DnNotAllowed, DN_NOT_ALLOWED.to_owned())),
                );
            }
        }
        (Some(dn), Ok(()))
    }
}

/// The verifier of client certificates: the CA, its revocation lists (a certificate whose
/// issuer published none is not revoked, as with GnuTLS).
fn client_verifier(creds: &Credentials) -> Result<Arc<dyn ClientCertVerifier>, LoadError> {
    let mut builder =
        WebPkiClientVerifier::builder_with_provider(Arc::new(creds.roots()), provider())
            .allow_unknown_revocation_status();
    if !creds.crls.is_empty() {
        builder = builder.with_crls(creds.crls.iter().cloned());
    }
    builder.build().map_err(|e| LoadError {
        file: creds.paths.cacrl.clone(),
        message: format!(
            "Unable to set x509 certificate revocation list: {}: {e}",
            creds.paths.cacrl.display()
        ),
    })
}

/// A verifier's error as the refused check and libvirt's words for it; `whose` is
/// "client" or "server".
pub(crate) fn classify(err: &rustls::Error, whose: &str) -> (Refused, String) {
    let failed = |reason: &str| format!("Certificate failed validation: {reason}");
    match err {
        rustls::Error::InvalidCertificate(cert) => match cert {
            CertificateError::UnknownIssuer => (
                Refused::UnknownCa,
                failed("The certificate hasn't got a known issuer."),
            ),
            CertificateError::Revoked => (
                Refused::Revoked,
                failed("The certificate has been revoked."),
            ),
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => (
                Refused::Expired,
                format!("The {whose} certificate [session] has expired"),
            ),
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => (
                Refused::NotYetActive,
                format!("The {whose} certificate [session] is not yet active"),
            ),
            CertificateError::BadSignature => (
                Refused::BadCertificate,
                failed("The certificate is not trusted."),
            ),
            other => (
                Refused::BadCertificate,
                failed(&format!("Invalid certificate ({other:?})")),
            ),
        },
        other => (
            Refused::BadCertificate,
            failed(&format!("Invalid certificate ({other})")),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A refused certificate's DN cannot start a line of its own in the log.
    #[test]
    fn refusal_shows_control_characters_escaped() {
        let refusal = Refusal {
            kind: Refused::UnknownCa,
            peer: None,
            dn: Some("CN=x\n2026-01-01 00:00:00.000+0000: 1: info : forged\t\u{7}".to_owned()),
            message: "m".to_owned(),
        };
        assert_eq!(
            refusal.to_string(),
            "TLS client refused (unknown CA), DN 'CN=x\\n2026-01-01 00:00:00.000+0000: 1: info : \
             forged\\t\\u{7}': m"
        );
    }
}
