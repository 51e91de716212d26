//! Where libvirt looks for its TLS credentials (`virNetTLSContextLocateCredentials`).

use std::path::{Path, PathBuf};

/// The global CA certificate.
pub const CACERT: &str = "/etc/pki/CA/cacert.pem";
/// The global certificate revocation list (optional).
pub const CACRL: &str = "/etc/pki/CA/cacrl.pem";
/// The global server certificate.
pub const SERVERCERT: &str = "/etc/pki/libvirt/servercert.pem";
/// The global server key.
pub const SERVERKEY: &str = "/etc/pki/libvirt/private/serverkey.pem";
/// The global client certificate.
pub const CLIENTCERT: &str = "/etc/pki/libvirt/clientcert.pem";
/// The global client key.
pub const CLIENTKEY: &str = "/etc/pki/libvirt/private/clientkey.pem";

/// Which end of the connection the credentials are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The daemon: `servercert.pem` / `serverkey.pem`.
    Server,
    /// A client: `clientcert.pem` / `clientkey.pem`.
    Client,
}

/// The four files of one side's credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialPaths {
    /// The CA certificate(s) peers are verified against.
    pub cacert: PathBuf,
    /// The certificate revocation list; a missing file (or an empty path) means no CRL.
    pub cacrl: PathBuf,
    /// Our own certificate.
    pub cert: PathBuf,
    /// Our own private key.
    pub key: PathBuf,
}

impl CredentialPaths {
    /// The files as libvirt locates them.
    ///
    /// - `pkipath` given (`?pkipath=DIR`): `DIR/cacert.pem`, `DIR/cacrl.pem` and the side's
    ///   `DIR/{client,server}{cert,key}.pem`, whether they exist or not.
    /// - else with `user_dir` (`$HOME`, libvirt tries it for non-root processes):
    ///   `HOME/.pki/libvirt/` for each of the CA and CRL files that exists there, and for
    ///   the certificate and key if both exist there;
    /// - everything not found that way: the global files under `/etc/pki`.
    pub fn locate(pkipath: Option<&Path>, user_dir: Option<&Path>, side: Side) -> Self {
        let (cert_name, key_name) = match side {
            Side::Server => ("servercert.pem", "serverkey.pem"),
            Side::Client => ("clientcert.pem", "clientkey.pem"),
        };
        if let Some(dir) = pkipath {
            return CredentialPaths {
                cacert: dir.join("cacert.pem"),
                cacrl: dir.join("cacrl.pem"),
                cert: dir.join(cert_name),
                key: dir.join(key_name),
            };
        }
        let mut found = CredentialPaths::global(side);
        if let Some(home) = user_dir {
            let dir = home.join(".pki/libvirt");
            let cacert = dir.join("cacert.pem");
            if cacert.exists() {
                found.cacert = cacert;
            }
            let cacrl = dir.join("cacrl.pem");
            if cacrl.exists() {
                found.cacrl = cacrl;
            }
            let (cert, key) = (dir.join(cert_name), dir.join(key_name));
            if cert.exists() && key.exists() {
                found.cert = cert;
                found.key = key;
            }
        }
        found
    }

    /// The global files under `/etc/pki`.
    pub fn global(side: Side) -> Self {
        let (cert, key) = match side {
            Side::Server => (SERVERCERT, SERVERKEY),
            Side::Client => (CLIENTCERT, CLIENTKEY),
        };
        CredentialPaths {
            cacert: CACERT.into(),
            cacrl: CACRL.into(),
            cert: cert.into(),
            key: key.into(),
        }
    }

    /// The files for this process as libvirt chooses: `pkipath` if given, else the user's
    /// `~/.pki/libvirt` when not running as root (`$HOME`), else the global ones.
    pub fn for_process(pkipath: Option<&Path>, side: Side, is_root: bool) -> Self {
        let home = (!is_root)
            .then(|| std::env::var_os("HOME").map(PathBuf::from))
            .flatten();
        CredentialPaths::locate(pkipath, home.as_deref(), side)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn pkipath_replaces_everything() {
        let p = CredentialPaths::locate(Some(Path::new("/d")), Some(Path::new("/h")), Side::Client);
        assert_eq!(p.cacert, Path::new("/d/cacert.pem"));
        assert_eq!(p.cacrl, Path::new("/d/cacrl.pem"));
        assert_eq!(p.cert, Path::new("/d/clientcert.pem"));
        assert_eq!(p.key, Path::new("/d/clientkey.pem"));
        let p = CredentialPaths::locate(Some(Path::new("/d")), None, Side::Server);
        assert_eq!(p.cert, Path::new("/d/servercert.pem"));
        assert_eq!(p.key, Path::new("/d/serverkey.pem"));
    }

    #[test]
    fn global_defaults() {
        assert_eq!(
            CredentialPaths::locate(None, None, Side::Server),
            CredentialPaths {
                cacert: "/etc/pki/CA/cacert.pem".into(),
                cacrl: "/etc/pki/CA/cacrl.pem".into(),
                cert: "/etc/pki/libvirt/servercert.pem".into(),
                key: "/etc/pki/libvirt/private/serverkey.pem".into(),
            }
        );
        let c = CredentialPaths::locate(None, Some(Path::new("/nonexistent-home")), Side::Client);
        assert_eq!(c.cert, Path::new("/etc/pki/libvirt/clientcert.pem"));
        assert_eq!(c.key, Path::new("/etc/pki/libvirt/private/clientkey.pem"));
    }

    #[test]
    fn user_files_each_fall_back() {
        let home = std::env::temp_dir().join(format!("oxvirt-tls-home-{}", std::process::id()));
        let dir = home.join(".pki/libvirt");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("cacert.pem"), "x").unwrap();
        // A certificate without its key: both stay global.
        std::fs::write(dir.join("clientcert.pem"), "x").unwrap();
        let p = CredentialPaths::locate(None, Some(&home), Side::Client);
        assert_eq!(p.cacert, dir.join("cacert.pem"));
        assert_eq!(p.cacrl, Path::new(CACRL));
        assert_eq!(p.cert, Path::new(CLIENTCERT));
        std::fs::write(dir.join("clientkey.pem"), "x").unwrap();
        let p = CredentialPaths::locate(None, Some(&home), Side::Client);
        assert_eq!(p.cert, dir.join("clientcert.pem"));
        assert_eq!(p.key, dir.join("clientkey.pem"));
        std::fs::remove_dir_all(&home).unwrap();
    }
}
