//! Where a URI that no in-process driver serves goes, computed as libvirt 9.0's remote
//! driver does (`doRemoteOpen`, `remoteSplitURIScheme`, `remoteGetUNIXSocket`):
//!
//! * the transport is the scheme's `+` part (case-insensitive); without one it is `tls`
//!   when the URI names a host, `unix` otherwise. `unix` with a host is refused, as is an
//!   unknown transport. `unix`, `tcp`, `tls` and `ssh` are implemented here;
//!   `libssh`, `libssh2` and `ext` fail with `VIR_ERR_INVALID_ARG` (what libvirt reports
//!   for a transport its build lacks);
//! * the client consumes the query parameters `name`, `command`, `socket`, `auth`,
//!   `sshauth`, `netcat`, `keyfile`, `pkipath`, `known_hosts`, `known_hosts_verify`,
//!   `tls_priority`, `mode`, `proxy`, `no_sanity`, `no_verify`, `no_tty` and `authfile`;
//!   the others travel to the daemon;
//! * the name sent in CONNECT_OPEN is `?name=` if given, `""` for a `remote` scheme (the
//!   daemon picks), else the URI without transport, user, host, port and the consumed
//!   parameters (`test+unix:///default?socket=/x` opens `test:///default`);
//! * the unix socket is `?socket=` if given; otherwise, for root (and for non-root URIs
//!   other than `/session` and `test+...`), `/var/run/libvirt/virt<driver>d-sock` when it
//!   exists ("direct" mode), else `/var/run/libvirt/libvirt-sock` (the monolithic
//!   libvirtd, Debian's default), each with `-ro` for a read-only open; a non-root user's
//!   `/session` or `test+` URI uses `$XDG_RUNTIME_DIR/libvirt/...-sock` (no `-ro`).
//!   `?mode=legacy|direct` forces one of the two;
//! * TCP goes to the URI's host (default `localhost`) and port (default 16509);
//! * TLS to the URI's host (default `localhost`) and port (default 16514), with the
//!   credentials of `?pkipath=` (else libvirt's default files), checked before use unless
//!   `?no_sanity=1`, and, with `?no_verify=1`, without checking the server's certificate;
//! * SSH runs `?command=` (default `ssh`) to the URI's host (default `localhost`) with its
//!   port and user if given, `?keyfile=`, `?no_verify=1` (`StrictHostKeyChecking=no`),
//!   `?no_tty=1` (`BatchMode=yes`); the remote end runs `virt-ssh-helper [-r] NAME`, or
//!   `nc -U SOCKET` (`?netcat=`, `?socket=`), as `?proxy=auto|netcat|native` says. The
//!   default proxy is `netcat` with `?socket=`, `native` for a non-root user's URI, else
//!   `auto`; the remote socket is always the legacy one (`/var/run/libvirt/libvirt-sock`,
//!   `-ro` when read-only), `?mode=direct` being refused (see [`oxvirt_remote::ssh`]).

use std::path::{Path, PathBuf};

use oxvirt_remote::{SshProxy, SshTarget};
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use crate::uri::Uri;

/// libvirtd's TCP port.
pub(crate) const TCP_PORT: u16 = 16509;

/// libvirtd's TLS port.
pub(crate) const TLS_PORT: u16 = 16514;

/// The transports libvirt knows, in its enum's order.
const TRANSPORTS: [&str; 7] = ["tls", "unix", "ssh", "libssh2", "ext", "tcp", "libssh"];

/// The parameters libvirt's remote driver consumes (compared case-insensitively).
const CONSUMED: [&str; 17] = [
    "name",
    "command",
    "socket",
    "auth",
    "sshauth",
    "netcat",
    "keyfile",
    "pkipath",
    "known_hosts",
    "known_hosts_verify",
    "tls_priority",
    "mode",
    "proxy",
    "no_sanity",
    "no_verify",
    "no_tty",
    "authfile",
];

/// How to reach the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// A unix socket.
    Unix(PathBuf),
    /// Plain TCP.
    Tcp {
        /// Host name or address.
        host: String,
        /// Port.
        port: u16,
    },
    /// TLS (`qemu+tls://host[:port]/...`).
    Tls {
        /// Host name or address; the server's certificate must match it.
        host: String,
        /// Port (default 16514).
        port: u16,
        /// `?pkipath=DIR`: the CA, certificate and key files in DIR.
        pkipath: Option<PathBuf>,
        /// `?no_verify=1`: the server's certificate is not checked.
        no_verify: bool,
        /// `?no_sanity=1`: our own certificate is not checked before use.
        no_sanity: bool,
    },
    /// The system `ssh` (`qemu+ssh://user@host:port/system?keyfile=...`).
    Ssh(SshTarget),
}

/// Where to connect and what to open there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Route {
    /// The daemon's address.
    pub target: Target,
    /// The name CONNECT_OPEN carries.
    pub name: String,
}

/// What socket selection looks at on this host.
pub(crate) struct HostEnv<'a> {
    /// Whether the process runs as root.
    pub root: bool,
    /// `$XDG_RUNTIME_DIR`.
    pub runtime_dir: Option<String>,
    /// `$HOME`.
    pub home: Option<String>,
    /// Whether a path exists (the socket probe of "auto" mode).
    pub exists: &'a dyn Fn(&Path) -> bool,
}

impl HostEnv<'_> {
    /// This process's environment.
    pub(crate) fn current() -> HostEnv<'static> {
        use std::os::unix::fs::MetadataExt;
        HostEnv {
            root: std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0),
            runtime_dir: std::env::var("XDG_RUNTIME_DIR")
                .ok()
                .filter(|s| !s.is_empty()),
            home: std::env::var("HOME").ok().filter(|s| !s.is_empty()),
            exists: &|p: &Path| p.exists(),
        }
    }

    /// `virGetUserRuntimeDirectory`: `$XDG_RUNTIME_DIR/libvirt`, else `~/.cache/libvirt`.
    fn user_runtime_dir(&self) -> String {
        match (&self.runtime_dir, &self.home) {
            (Some(dir), _) => format!("{dir}/libvirt"),
            (None, Some(home)) => format!("{home}/.cache/libvirt"),
            (None, None) => "/.cache/libvirt".to_owned(),
        }
    }
}

fn invalid_arg(message: impl AsRef<str>) -> VirError {
    VirError::new(ErrorDomain::Remote, ErrorCode::InvalidArg, message)
}

/// The route for `uri` (see the [module documentation](self)); `read_only` picks the
/// `-ro` socket.
pub(crate) fn route(uri: &Uri, read_only: bool, env: &HostEnv<'_>) -> Result<Route, VirError> {
    let driver = uri.driver();
    let transport = match uri.transport() {
        Some(t) => {
            let t = t.to_ascii_lowercase();
            if !TRANSPORTS.contains(&t.as_str()) {
                return Err(invalid_arg(
                    "remote_open: transport in URL not recognised \
                     (should be tls|unix|ssh|ext|tcp|libssh2|libssh)",
                ));
            }
            if t == "unix" {
                if let Some(host) = uri.host() {
                    return Err(invalid_arg(format!(
                        "using unix socket and remote server '{host}' is not supported."
                    )));
                }
            }
            t
        }
        None if uri.host().is_some() => "tls".to_owned(),
        None => "unix".to_owned(),
    };

    let mut name = None;
    let mut socket = None;
    let mut mode = None;
    let mut pkipath = None;
    let mut no_verify = false;
    let mut no_sanity = false;
    let mut ssh = SshParams::default();
    let mut kept = Vec::new();
    for (key, value) in uri.params() {
        let lower = key.to_ascii_lowercase();
        if !CONSUMED.contains(&lower.as_str()) {
            kept.push((key.as_str(), value.as_str()));
            continue;
        }
        match lower.as_str() {
            "name" => name = Some(value.clone()),
            "socket" => socket = Some(value.clone()),
            "mode" => mode = Some(value.clone()),
            "pkipath" => pkipath = Some(PathBuf::from(value)),
            "no_sanity" | "no_verify" | "no_tty" if value.trim().parse::<i32>().is_err() => {
                return Err(invalid_arg(format!(
                    "Failed to parse value of URI component {key}"
                )));
            }
            "no_verify" => no_verify = value.trim().parse::<i32>().is_ok_and(|v| v != 0),
            "no_sanity" => no_sanity = value.trim().parse::<i32>().is_ok_and(|v| v != 0),
            "no_tty" => ssh.no_tty = value.trim().parse::<i32>().is_ok_and(|v| v != 0),
            "command" => ssh.command = Some(value.clone()),
            "netcat" => ssh.netcat = Some(value.clone()),
            "keyfile" => ssh.keyfile = Some(value.clone()),
            "known_hosts" => ssh.known_hosts = Some(value.clone()),
            "proxy" => ssh.proxy = Some(value.clone()),
            _ => {}
        }
    }
    let name = match name {
        Some(n) => n,
        None if driver == "remote" => String::new(),
        None => format_name(driver, uri.path(), &kept, uri.fragment()),
    };
    let direct = match mode.as_deref() {
        None | Some("auto") => None,
        Some("legacy") => Some(false),
        Some("direct") => Some(true),
        Some(other) => return Err(invalid_arg(format!("Unknown remote mode '{other}'"))),
    };

    let target = match transport.as_str() {
        "unix" => Target::Unix(match socket {
            Some(path) => PathBuf::from(path),
            None => unix_socket(uri, driver, direct, read_only, env)?,
        }),
        "tcp" => Target::Tcp {
            host: uri.host().unwrap_or("localhost").to_owned(),
            port: uri.port().unwrap_or(TCP_PORT),
        },
        "tls" => Target::Tls {
            host: uri.host().unwrap_or("localhost").to_owned(),
            port: uri.port().unwrap_or(TLS_PORT),
            pkipath,
            no_verify,
            no_sanity,
        },
        "ssh" => {
            ssh.no_verify = no_verify;
            ssh.socket = socket;
            Target::Ssh(ssh_target(uri, ssh, direct, &name, read_only, env)?)
        }
        other => {
            return Err(invalid_arg(format!(
                "transport '{other}' is not supported yet (oxvirt speaks unix and tcp)"
            )))
        }
    };
    Ok(Route { target, name })
}

/// `remoteGetUNIXSocket` for the unix transport.
fn unix_socket(
    uri: &Uri,
    driver: &str,
    direct: Option<bool>,
    read_only: bool,
    env: &HostEnv<'_>,
) -> Result<PathBuf, VirError> {
    let user = !env.root && (uri.path() == "/session" || uri.scheme().starts_with("test+"));
    let sock = |prefix: &str| -> PathBuf {
        if user {
            PathBuf::from(format!("{}/{prefix}-sock", env.user_runtime_dir()))
        } else {
            let suffix = if read_only { "sock-ro" } else { "sock" };
            PathBuf::from(format!("/var/run/libvirt/{prefix}-{suffix}"))
        }
    };
    let direct_sock = if driver == "remote" {
        sock("libvirt")
    } else {
        sock(&format!("virt{driver}d"))
    };
    let legacy_sock = sock("libvirt");
    let use_direct = direct.unwrap_or_else(|| (env.exists)(&direct_sock));
    Ok(if use_direct { direct_sock } else { legacy_sock })
}

/// The ssh parameters of a URI.
#[derive(Default)]
struct SshParams {
    command: Option<String>,
    netcat: Option<String>,
    keyfile: Option<String>,
    known_hosts: Option<String>,
    proxy: Option<String>,
    socket: Option<String>,
    no_verify: bool,
    no_tty: bool,
}

/// The ssh transport's target, as `doRemoteOpen` and `remoteGetUNIXSocket` make it.
fn ssh_target(
    uri: &Uri,
    params: SshParams,
    direct: Option<bool>,
    name: &str,
    read_only: bool,
    env: &HostEnv<'_>,
) -> Result<SshTarget, VirError> {
    let user = !env.root && (uri.path() == "/session" || uri.scheme().starts_with("test+"));
    let proxy = match params.proxy.as_deref() {
        // libvirt's spelling.
        Some(text) => SshProxy::parse(text)
            .ok_or_else(|| invalid_arg(format!("Unnkown proxy type '{text}'")))?,
        None if params.socket.is_some() => SshProxy::Netcat,
        None if user => SshProxy::Native,
        None => SshProxy::Auto,
    };
    let socket = match params.socket {
        Some(path) => path,
        None if direct == Some(true) => {
            return Err(VirError::new(
                ErrorDomain::Remote,
                ErrorCode::OperationUnsupported,
                "Cannot use direct socket mode for ssh transport",
            ))
        }
        None if user => format!("{}/libvirt-sock", env.user_runtime_dir()),
        None if read_only => "/var/run/libvirt/libvirt-sock-ro".to_owned(),
        None => "/var/run/libvirt/libvirt-sock".to_owned(),
    };
    Ok(SshTarget {
        host: uri.host().unwrap_or("localhost").to_owned(),
        port: uri.port(),
        user: uri.user().map(str::to_owned),
        keyfile: params.keyfile,
        known_hosts: params.known_hosts,
        no_verify: params.no_verify,
        no_tty: params.no_tty,
        netcat: params.netcat,
        command: params.command.unwrap_or_else(|| "ssh".to_owned()),
        socket,
        proxy,
        uri: name.to_owned(),
        read_only,
    })
}

/// `remoteConnectFormatURI`: `driver://path?kept#fragment`, written as `virURIFormat`
/// does with no host (so `//` stays), the kept parameters' values URI-escaped.
fn format_name(driver: &str, path: &str, kept: &[(&str, &str)], fragment: Option<&str>) -> String {
    let mut out = format!("{driver}://");
    escape_into(&mut out, path, "/;@&=+$,");
    if !kept.is_empty() {
        out.push('?');
        for (i, (key, value)) in kept.iter().enumerate() {
            if i > 0 {
                out.push('&');
            }
            out.push_str(key);
            out.push('=');
            escape_into(&mut out, value, "");
        }
    }
    if let Some(fragment) = fragment {
        out.push('#');
        escape_into(&mut out, fragment, "/?;:@&=+$,");
    }
    out
}

/// Percent-encodes everything but RFC 3986's unreserved characters and `extra`.
fn escape_into(out: &mut String, text: &str, extra: &str) {
    for b in text.bytes() {
        let c = char::from(b);
        if b.is_ascii_alphanumeric() || "-._~".contains(c) || (b.is_ascii() && extra.contains(c)) {
            out.push(c);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

#[cfg(test)]
#[path = "remote_uri_tests.rs"]
mod tests;
