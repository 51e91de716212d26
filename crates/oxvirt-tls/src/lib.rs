//! libvirt's TLS transport (`qemu+tls://`, port 16514) over rustls.
//!
//! - [`paths`]: where libvirt looks for the CA, CRL, certificate and key (`pkipath`,
//!   `~/.pki/libvirt`, `/etc/pki`);
//! - [`load`]: reading them, with errors naming the file;
//! - [`server`]: the daemon's handshake, its checks of the client certificate (CA, dates,
//!   CRL, `tls_allowed_dn_list`) and the confirmation byte; no TLS 1.3 session tickets;
//! - [`client`]: the client's handshake, its checks of the server (CA, host name) and the
//!   wait for the confirmation byte;
//! - [`dn`]: a certificate's subject DN as GnuTLS prints it; the allowed-DN globs are
//!   `fnmatch`'s, from `oxvirt_access::glob` (the access policy's globs are the same).

pub mod client;
pub mod dn;
pub mod load;
pub mod paths;
pub mod server;

pub use client::{ConnectError, ErrorCode, TlsClient};

/// The client's stream type (`tokio_rustls::client`), for callers naming it.
pub mod client_stream {
    pub use tokio_rustls::client::TlsStream;
}
pub use load::{Credentials, LoadError};
pub use paths::{CredentialPaths, Side};
pub use server::{Accepted, Refusal, Refused, ServerOptions, TlsServer};

/// The port of `qemu+tls://` URIs without one.
pub const DEFAULT_PORT: u16 = 16514;
