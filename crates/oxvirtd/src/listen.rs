//! Listening sockets: the two unix sockets (bound so nobody can reach them before they have
//! their mode) and the optional TCP listener.

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

use tokio::net::{TcpListener, UnixListener};

/// A socket the daemon accepts clients on.
pub enum Listener {
    /// A unix socket; `readonly` for `libvirt-sock-ro`.
    Unix {
        /// The socket.
        listener: UnixListener,
        /// Clients get read-only connections.
        readonly: bool,
    },
    /// The TCP listener (no authentication, read-write).
    Tcp(TcpListener),
    /// The TLS listener: each connection's handshake and certificate checks run in its
    /// own task before it is served.
    Tls {
        /// The socket.
        listener: TcpListener,
        /// The credentials and checks.
        tls: std::sync::Arc<oxvirt_tls::TlsServer>,
    },
}

/// Binds `path` with `mode`, replacing a stale socket; refuses if a daemon answers there.
///
/// The socket is bound inside a private (0700) staging directory, given its mode, then
/// renamed into place: nobody can connect to it before it has its final permissions,
/// whatever the process's umask.
pub fn bind_unix(path: &Path, mode: u32, group: Option<u32>) -> Result<UnixListener, String> {
    let shown = |e: std::io::Error| format!("{}: {e}", path.display());
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(format!("{} is in use by another daemon", path.display()));
        }
        std::fs::remove_file(path).map_err(shown)?;
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().unwrap_or_default();
    let staging = dir.join(format!(
        ".staging-{}-{}",
        std::process::id(),
        name.to_string_lossy()
    ));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&staging)
        .map_err(shown)?;
    let staged = staging.join(name);
    let result = UnixListener::bind(&staged).and_then(|listener| {
        if let Some(gid) = group {
            std::os::unix::fs::chown(&staged, None, Some(gid))?;
        }
        std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(mode))?;
        std::fs::rename(&staged, path)?;
        Ok(listener)
    });
    let _ = std::fs::remove_dir_all(&staging);
    result.map_err(shown)
}

/// The group id of `unix_sock_group`: a group name `accounts` knows, or a number.
pub fn group_id(group: &str, accounts: &oxvirt_access::Accounts) -> Result<u32, String> {
    accounts
        .gid(group)
        .or_else(|| group.parse().ok())
        .ok_or_else(|| format!("Failed to lookup group '{group}' (unix_sock_group)"))
}

/// The TLS context of `listen_tls`: `ca_file`, `cert_file`, `key_file` (all three or none:
/// then libvirt's default files, `~/.pki/libvirt` first when not root), `crl_file`,
/// `tls_no_verify_certificate`, `tls_allowed_dn_list`. A file that is missing or unusable
/// is an error naming it.
pub fn tls_server(config: &crate::config::Config) -> Result<oxvirt_tls::TlsServer, String> {
    use oxvirt_tls::{CredentialPaths, Credentials, ServerOptions, Side, TlsServer};
    let paths = match (&config.ca_file, &config.cert_file, &config.key_file) {
        (None, None, None) => {
            let mut paths = CredentialPaths::for_process(None, Side::Server, is_root());
            if let Some(crl) = &config.crl_file {
                paths.cacrl = crl.clone();
            }
            paths
        }
        (Some(ca), Some(cert), Some(key)) => CredentialPaths {
            cacert: ca.clone(),
            // No crl_file: no revocation list, as libvirtd.
            cacrl: config.crl_file.clone().unwrap_or_default(),
            cert: cert.clone(),
            key: key.clone(),
        },
        // libvirtd's words.
        (None, _, _) => return Err("No CA certificate path set to match server key/cert".into()),
        (_, None, _) => return Err("No server certificate path set to match server key".into()),
        (_, _, None) => return Err("No server key path set to match server cert".into()),
    };
    let creds = Credentials::load(&paths, Side::Server).map_err(|e| e.message)?;
    // libvirtd's tls_no_sanity_certificate = 0: our own files checked before use.
    creds.check_sanity(Side::Server).map_err(|e| e.message)?;
    TlsServer::new(
        &creds,
        ServerOptions {
            no_verify: config.tls_no_verify_certificate,
            allowed_dns: config.tls_allowed_dn_list.clone(),
        },
    )
    .map_err(|e| e.message)
}

/// Whether the daemon runs as root (`/proc/self` belongs to the effective user).
fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// Binds the TCP listener.
pub async fn bind_tcp(addr: std::net::SocketAddr) -> Result<TcpListener, String> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn config(file: &str) -> crate::config::Config {
        crate::config::Settings::default()
            .overridden_by(
                crate::config::parse_file("t", &format!("runtime_dir = \"/r\"\n{file}")).unwrap(),
            )
            .resolve(&|_| None)
            .unwrap()
    }

    #[test]
    fn tls_files_come_all_three_or_none() {
        let err = |file: &str| tls_server(&config(file)).err().unwrap();
        assert_eq!(
            err("cert_file = \"/c\"\nkey_file = \"/k\"\n"),
            "No CA certificate path set to match server key/cert"
        );
        assert_eq!(
            err("ca_file = \"/a\"\nkey_file = \"/k\"\n"),
            "No server certificate path set to match server key"
        );
        assert_eq!(
            err("ca_file = \"/a\"\ncert_file = \"/c\"\n"),
            "No server key path set to match server cert"
        );
        assert_eq!(
            err("ca_file = \"/nonexistent/a\"\ncert_file = \"/c\"\nkey_file = \"/k\"\n"),
            "Cannot read CA certificate '/nonexistent/a': No such file or directory"
        );
    }

    #[tokio::test]
    async fn socket_gets_its_mode_and_refuses_a_live_daemon() {
        let dir = std::env::temp_dir().join(format!("oxvirtd-listen-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("sock");
        let listener = bind_unix(&path, 0o640, None).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o640);
        let Err(err) = bind_unix(&path, 0o600, None) else {
            panic!("bound over a live socket")
        };
        assert_eq!(
            err,
            format!("{} is in use by another daemon", path.display())
        );
        drop(listener);
        // A stale socket is replaced.
        bind_unix(&path, 0o600, None).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn socket_group_by_name_or_number() {
        let etc = oxvirt_access::Accounts::parse(
            "",
            "root:x:0:\nlibvirt:x:117:alice,bob\n# odd line\nkvm:x:104:\n",
        );
        assert_eq!(group_id("libvirt", &etc), Ok(117));
        assert_eq!(group_id("kvm", &etc), Ok(104));
        assert_eq!(group_id("2000", &etc), Ok(2000));
        assert_eq!(
            group_id("nogroup-here", &etc),
            Err("Failed to lookup group 'nogroup-here' (unix_sock_group)".to_owned())
        );
    }

    #[tokio::test]
    async fn socket_gets_its_group() {
        let dir = std::env::temp_dir().join(format!("oxvirtd-group-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("sock");
        let gid = std::fs::metadata("/proc/self").unwrap().gid();
        // Our own group always works, root or not; root can give any group.
        let want = if gid == 0 { 12345 } else { gid };
        let _listener = bind_unix(&path, 0o660, Some(want)).unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.gid(), want);
        assert_eq!(meta.mode() & 0o777, 0o660);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
