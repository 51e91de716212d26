//! Byte streams a [`crate::Connection`] runs over: unix sockets, TCP, and anything else that
//! reads and writes asynchronously (a TLS session or an ssh child process later).

use std::io;
use std::path::Path;

use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, UnixStream};

/// A connected byte stream to a daemon. Every `AsyncRead + AsyncWrite` type that can move
/// between tasks is one, so TLS or ssh plug in by wrapping their stream.
pub trait Transport: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Transport for T {}

/// The text `strerror` gives for `err`: Rust's rendering without its " (os error N)" tail.
pub(crate) fn strerror(err: &io::Error) -> String {
    let text = err.to_string();
    match text.rfind(" (os error ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

/// `virReportSystemError` from `VIR_FROM_RPC`: "`what`: `strerror`".
pub(crate) fn system_error(what: &str, err: &io::Error) -> VirError {
    VirError::raw(
        ErrorDomain::Rpc,
        ErrorCode::SystemError,
        format!("{what}: {}", strerror(err)),
    )
}

/// Connects to the unix socket at `path`; fails as libvirt does: `VIR_ERR_SYSTEM_ERROR`,
/// "Failed to connect socket to '/run/libvirt/libvirt-sock': No such file or directory".
pub async fn connect_unix(path: &Path) -> Result<UnixStream, VirError> {
    UnixStream::connect(path).await.map_err(|e| {
        system_error(
            &format!("Failed to connect socket to '{}'", path.display()),
            &e,
        )
    })
}

/// Connects to `host:port` over TCP, trying each address the name resolves to; fails as
/// libvirt does: "unable to connect to server at 'localhost:16509': Connection refused".
pub async fn connect_tcp(host: &str, port: u16) -> Result<TcpStream, VirError> {
    let addrs = tokio::net::lookup_host((host, port)).await.map_err(|e| {
        VirError::raw(
            ErrorDomain::Rpc,
            ErrorCode::SystemError,
            // getaddrinfo's own words (gai_strerror), as libvirt prints them; Rust puts
            // "failed to lookup address information: " before them.
            format!(
                "Unable to resolve address '{host}' service '{port}': {}",
                e.to_string()
                    .trim_start_matches("failed to lookup address information: ")
            ),
        )
    })?;
    let mut last = io::Error::new(
        io::ErrorKind::NotFound,
        "No address associated with hostname",
    );
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(stream) => {
                // Small request/reply packets: send them at once.
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Err(e) => last = e,
        }
    }
    Err(system_error(
        &format!("unable to connect to server at '{host}:{port}'"),
        &last,
    ))
}

/// The `qemu+tls://` URI parameters the client itself uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// `?pkipath=DIR`: the CA, certificate and key files in DIR (else `~/.pki/libvirt`
    /// for non-root, else `/etc/pki`).
    pub pkipath: Option<std::path::PathBuf>,
    /// `?no_verify=1`: the server's certificate is not checked.
    pub no_verify: bool,
    /// `?no_sanity=1`: our own certificate is not checked before use.
    pub no_sanity: bool,
}

/// Connects to `host:port` over TLS as libvirt's `qemu+tls://` does: the credentials
/// `options` name, checked first unless `no_sanity` ("The client certificate X has
/// expired", "Our own certificate X failed validation against Y: ..."), the server's
/// certificate checked against the CA and `host` unless `no_verify`, then the server's
/// confirmation byte. Errors are libvirt's (`VIR_FROM_RPC`): "Cannot read CA certificate
/// '/etc/pki/CA/cacert.pem': No such file or directory", "authentication failed: Failed to
/// verify peer's certificate: ...", "Unable to read TLS confirmation: Input/output error"
/// (the server refused our certificate), "server verification (of our certificate or IP
/// address) failed".
pub async fn connect_tls(
    host: &str,
    port: u16,
    options: &TlsOptions,
) -> Result<oxvirt_tls::client_stream::TlsStream<TcpStream>, VirError> {
    use std::os::unix::fs::MetadataExt;
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    let paths = oxvirt_tls::CredentialPaths::for_process(
        options.pkipath.as_deref(),
        oxvirt_tls::Side::Client,
        root,
    );
    let load_error = |e: oxvirt_tls::LoadError| {
        VirError::raw(ErrorDomain::Rpc, ErrorCode::SystemError, e.message)
    };
    let creds =
        oxvirt_tls::Credentials::load(&paths, oxvirt_tls::Side::Client).map_err(load_error)?;
    if !options.no_sanity {
        creds
            .check_sanity(oxvirt_tls::Side::Client)
            .map_err(load_error)?;
    }
    let client = oxvirt_tls::TlsClient::new(&creds, options.no_verify).map_err(load_error)?;
    let tcp = connect_tcp(host, port).await?;
    client.connect(tcp, host).await.map_err(|e| {
        let code = match e.code {
            oxvirt_tls::ErrorCode::SystemError => ErrorCode::SystemError,
            oxvirt_tls::ErrorCode::Rpc => ErrorCode::Rpc,
            oxvirt_tls::ErrorCode::AuthFailed => ErrorCode::AuthFailed,
        };
        // The code's template: "authentication failed: Failed to verify peer's ...".
        VirError::new(ErrorDomain::Rpc, code, e.message)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn missing_unix_socket_fails_with_libvirts_words() {
        let err = connect_unix(Path::new("/nonexistent/oxvirt-sock"))
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::SystemError);
        assert_eq!(err.domain, ErrorDomain::Rpc);
        assert_eq!(
            err.message,
            "Failed to connect socket to '/nonexistent/oxvirt-sock': No such file or directory"
        );
    }

    #[tokio::test]
    async fn refused_tcp_port_fails_with_libvirts_words() {
        // Bind then drop a listener so the port is (almost certainly) closed.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let err = connect_tcp("127.0.0.1", port).await.unwrap_err();
        assert_eq!(err.code, ErrorCode::SystemError);
        assert_eq!(
            err.message,
            format!("unable to connect to server at '127.0.0.1:{port}': Connection refused")
        );
    }
}
