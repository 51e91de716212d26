//! The client's side, as libvirt's remote driver does it (`virNetClientSetTLSSession`): the
//! handshake (no SNI), the server's certificate checked against the CA and the host name
//! unless `no_verify`, then the server's confirmation byte.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::load::{provider, Credentials, LoadError};

/// libvirt's error code of a client-side failure (`virErrorNumber`; the domain is always
/// `VIR_FROM_RPC`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// `VIR_ERR_SYSTEM_ERROR` (38).
    SystemError,
    /// `VIR_ERR_RPC` (39).
    Rpc,
    /// `VIR_ERR_AUTH_FAILED` (45).
    AuthFailed,
}

impl ErrorCode {
    /// The `virErrorNumber`.
    pub fn number(self) -> i32 {
        match self {
            ErrorCode::SystemError => 38,
            ErrorCode::Rpc => 39,
            ErrorCode::AuthFailed => 45,
        }
    }
}

/// Why the client could not set up TLS with the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectError {
    /// libvirt's code for it.
    pub code: ErrorCode,
    /// libvirt's words (without the code's prefix such as "authentication failed: ").
    pub message: String,
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConnectError {}

/// Lets every server certificate through the handshake (signatures are still checked);
/// the checks run after it, as libvirt's do.
#[derive(Debug)]
struct Deferred(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for Deferred {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
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

/// A client's TLS context.
#[derive(Clone)]
pub struct TlsClient {
    connector: TlsConnector,
    verifier: Arc<WebPkiServerVerifier>,
    no_verify: bool,
}

impl TlsClient {
    /// The context for `creds`; `no_verify` is the URI's `no_verify=1`: the server's
    /// certificate is not checked.
    pub fn new(creds: &Credentials, no_verify: bool) -> Result<TlsClient, LoadError> {
        let mut builder =
            WebPkiServerVerifier::builder_with_provider(Arc::new(creds.roots()), provider())
                .allow_unknown_revocation_status();
        if !creds.crls.is_empty() {
            builder = builder.with_crls(creds.crls.iter().cloned());
        }
        let verifier = builder.build().map_err(|e| LoadError {
            file: creds.paths.cacrl.clone(),
            message: format!(
                "Unable to set x509 certificate revocation list: {}: {e}",
                creds.paths.cacrl.display()
            ),
        })?;
        let builder = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| LoadError {
                file: creds.paths.cacert.clone(),
                message: e.to_string(),
            })?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Deferred(Arc::clone(&verifier))));
        let mut config = match &creds.identity {
            Some(identity) => builder.with_client_cert_resolver(Arc::new(
                rustls::sign::SingleCertAndKey::from(Arc::clone(identity)),
            )),
            None => builder.with_no_client_auth(),
        };
        // libvirt's client sends no server name.
        config.enable_sni = false;
        Ok(TlsClient {
            connector: TlsConnector::from(Arc::new(config)),
            verifier,
            no_verify,
        })
    }

    /// Sets up TLS on `tcp` to `host` (the URI's host name, which the server's
    /// certificate must match) and waits for the server's confirmation.
    pub async fn connect(
        &self,
        tcp: TcpStream,
        host: &str,
    ) -> Result<TlsStream<TcpStream>, ConnectError> {
        // The name the certificate must match; a host that is neither a DNS name nor an
        // address matches no certificate (the handshake itself needs some name: no SNI is
        // sent).
        let exact = ServerName::try_from(host.to_owned()).ok();
        let name = exact.clone().unwrap_or(ServerName::IpAddress(
            std::net::Ipv4Addr::UNSPECIFIED.into(),
        ));
        let mut stream = self
            .connector
            .connect(name.clone(), tcp)
            .await
            .map_err(|e| ConnectError {
                code: ErrorCode::AuthFailed,
                message: format!("TLS handshake failed {e}"),
            })?;
        if !self.no_verify {
            self.check(
                &stream,
                exact.as_ref().unwrap_or(&name),
                exact.is_some(),
                host,
            )?;
        }
        let mut byte = [0u8; 1];
        match stream.read(&mut byte).await {
            Err(_) => Err(ConnectError {
                code: ErrorCode::SystemError,
                // GnuTLS's read errors reach libvirt as EIO.
                message: "Unable to read TLS confirmation: Input/output error".to_owned(),
            }),
            Ok(1) if byte[0] == 1 => Ok(stream),
            Ok(_) => Err(ConnectError {
                code: ErrorCode::Rpc,
                message: "server verification (of our certificate or IP address) failed".to_owned(),
            }),
        }
    }

    fn check(
        &self,
        stream: &TlsStream<TcpStream>,
        name: &ServerName<'static>,
        valid_name: bool,
        host: &str,
    ) -> Result<(), ConnectError> {
        let failed = |detail: String| ConnectError {
            code: ErrorCode::AuthFailed,
            message: format!("Failed to verify peer's certificate: {detail}"),
        };
        let certs = stream.get_ref().1.peer_certificates().unwrap_or_default();
        let Some((leaf, intermediates)) = certs.split_first() else {
            return Err(failed(
                "Unable to verify TLS peer: No certificate was found.".to_owned(),
            ));
        };
        let mismatch = || {
            failed(format!(
                "Certificate [session] owner does not match the hostname {host}"
            ))
        };
        match self
            .verifier
            .verify_server_cert(leaf, intermediates, name, &[], UnixTime::now())
        {
            Ok(_) if valid_name => Ok(()),
            Ok(_) => Err(mismatch()),
            // GnuTLS (gnutls_x509_crt_check_hostname) falls back to the subject's CN for a
            // host name, not an address, when the certificate has no subjectAltName names
            // at all (checked with virsh: CN=localhost alone matches "localhost" and
            // "LOCALHOST"; with any SAN, even an address, it does not).
            Err(rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext {
                presented,
                ..
            })) if valid_name
                && presented.is_empty()
                && host.parse::<std::net::IpAddr>().is_err()
                && crate::dn::common_names(leaf)
                    .unwrap_or_default()
                    .iter()
                    .any(|cn| cn.eq_ignore_ascii_case(host)) =>
            {
                Ok(())
            }
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Err(mismatch()),
            Err(err) => Err(failed(crate::server::classify(&err, "server").1)),
        }
    }
}
