//! The daemon's settings: command-line flags over a TOML file (`--config`) over defaults.
//!
//! The file is the flat `key = value` subset of TOML: strings in double quotes, integers,
//! `true`/`false`, `#` comments. Anything else (tables, arrays, unknown keys, repeated
//! keys) is refused with its line number.

use std::net::SocketAddr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use oxvirt_xml::types::Uuid;

use crate::log::Level;

/// What the daemon runs with, every default filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Where the sockets go.
    pub runtime_dir: PathBuf,
    /// Where persistent state goes.
    pub state_dir: PathBuf,
    /// A TCP address to listen on too (no authentication).
    pub listen_tcp: Option<SocketAddr>,
    /// Whether `listen_tcp` may be a non-loopback address.
    pub allow_remote_tcp: bool,
    /// The most detailed log level written.
    pub log_level: Level,
    /// Connections beyond this many are closed at once.
    pub max_clients: usize,
    /// Calls one client may have running; the daemon stops reading from it meanwhile.
    pub max_client_requests: usize,
    /// Calls running at once over all clients; more wait for a free worker.
    pub max_workers: usize,
    /// Seconds without traffic before a PING; 0 or less disables keepalive.
    pub keepalive_interval: i64,
    /// Unanswered PINGs before the connection is closed.
    pub keepalive_count: u32,
    /// Mode of `libvirt-sock`.
    pub unix_sock_rw_perms: u32,
    /// Mode of `libvirt-sock-ro`.
    pub unix_sock_ro_perms: u32,
    /// The host UUID the node reports (libvirtd.conf's `host_uuid`); `None`: the machine's
    /// own (SMBIOS, else `/etc/machine-id`, else a random one).
    pub host_uuid: Option<Uuid>,
    /// The credentials directory of migrations with TLS (qemu.conf's
    /// `migrate_tls_x509_cert_dir`).
    pub migrate_tls_x509_cert_dir: PathBuf,
    /// Whether the destination of a TLS migration checks the source's certificate.
    pub migrate_tls_x509_verify: bool,
    /// Whether every migration must use TLS.
    pub migrate_tls_force: bool,
    /// The TLS listener's address (`listen_tls`, `listen_addr`, `tls_port`).
    pub listen_tls: Option<SocketAddr>,
    /// The CA certificate TLS peers are checked against; `None`: libvirt's default path.
    pub ca_file: Option<PathBuf>,
    /// The daemon's TLS certificate; `None`: libvirt's default path.
    pub cert_file: Option<PathBuf>,
    /// The daemon's TLS private key; `None`: libvirt's default path.
    pub key_file: Option<PathBuf>,
    /// The certificate revocation list; `None`: libvirt's default path, if it exists.
    pub crl_file: Option<PathBuf>,
    /// Whether TLS clients are let in without a valid certificate.
    pub tls_no_verify_certificate: bool,
    /// Glob patterns one of which a TLS client's subject DN must match; `None`: any DN.
    pub tls_allowed_dn_list: Option<Vec<String>>,
    /// The group that owns both unix sockets; `None`: the daemon's own group.
    pub unix_sock_group: Option<String>,
    /// Connections accepted but not yet authenticated (TLS handshake, CONNECT_OPEN) kept
    /// at once; beyond it the oldest of them is closed. 0: no limit.
    pub max_anonymous_clients: usize,
    /// The access-control policy file (TOML rules); `None`: every client that can connect
    /// to the read-write socket may do everything, as with libvirtd without polkit.
    pub access_policy: Option<PathBuf>,
}

/// Settings from one source (the file or the flags); `None` means "not given".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// `runtime_dir` / `--runtime-dir`.
    pub runtime_dir: Option<PathBuf>,
    /// `state_dir` / `--state-dir`.
    pub state_dir: Option<PathBuf>,
    /// `listen_tcp` / `--listen-tcp`.
    pub listen_tcp: Option<SocketAddr>,
    /// `allow_remote_tcp` / `--allow-remote-tcp`.
    pub allow_remote_tcp: Option<bool>,
    /// `log_level` / `--log-level`.
    pub log_level: Option<Level>,
    /// `max_clients` / `--max-clients`.
    pub max_clients: Option<usize>,
    /// `max_client_requests` / `--max-client-requests`.
    pub max_client_requests: Option<usize>,
    /// `max_workers` / `--max-workers`.
    pub max_workers: Option<usize>,
    /// `keepalive_interval` / `--keepalive-interval`.
    pub keepalive_interval: Option<i64>,
    /// `keepalive_count` / `--keepalive-count`.
    pub keepalive_count: Option<u32>,
    /// `unix_sock_rw_perms` / `--unix-sock-rw-perms`.
    pub unix_sock_rw_perms: Option<u32>,
    /// `unix_sock_ro_perms` / `--unix-sock-ro-perms`.
    pub unix_sock_ro_perms: Option<u32>,
    /// `host_uuid` / `--host-uuid`.
    pub host_uuid: Option<Uuid>,
    /// `migrate_tls_x509_cert_dir` / `--migrate-tls-x509-cert-dir`.
    pub migrate_tls_x509_cert_dir: Option<PathBuf>,
    /// `migrate_tls_x509_verify` / `--migrate-tls-x509-verify`.
    pub migrate_tls_x509_verify: Option<bool>,
    /// `migrate_tls_force` / `--migrate-tls-force`.
    pub migrate_tls_force: Option<bool>,
    /// `listen_tls` / `--listen-tls`.
    pub listen_tls: Option<ListenTls>,
    /// `listen_addr` / `--listen-addr`.
    pub listen_addr: Option<std::net::IpAddr>,
    /// `tls_port` / `--tls-port`.
    pub tls_port: Option<u16>,
    /// `ca_file` / `--ca-file`.
    pub ca_file: Option<PathBuf>,
    /// `cert_file` / `--cert-file`.
    pub cert_file: Option<PathBuf>,
    /// `key_file` / `--key-file`.
    pub key_file: Option<PathBuf>,
    /// `crl_file` / `--crl-file`.
    pub crl_file: Option<PathBuf>,
    /// `tls_no_verify_certificate` / `--tls-no-verify-certificate`.
    pub tls_no_verify_certificate: Option<bool>,
    /// `tls_allowed_dn_list` / `--tls-allowed-dn-list` (repeated, one pattern each).
    pub tls_allowed_dn_list: Option<Vec<String>>,
    /// `unix_sock_group` / `--unix-sock-group`.
    pub unix_sock_group: Option<String>,
    /// `max_anonymous_clients` / `--max-anonymous-clients`.
    pub max_anonymous_clients: Option<usize>,
    /// `access_policy` / `--access-policy`.
    pub access_policy: Option<PathBuf>,
}

/// `listen_tls` as given: libvirtd.conf's boolean (`1`/`true`: listen on `listen_addr`
/// and `tls_port`), or an address of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenTls {
    /// No TLS listener.
    Off,
    /// Listen on `listen_addr` (default `0.0.0.0`) and `tls_port` (default 16514).
    On,
    /// Listen on this address.
    At(SocketAddr),
}

/// A value from the file, before it is checked against its key.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    Str(String),
    Int(i64),
    Bool(bool),
    List(Vec<String>),
}

impl Value {
    fn describe(&self) -> &'static str {
        match self {
            Value::Str(_) => "a string",
            Value::Int(_) => "an integer",
            Value::Bool(_) => "a boolean",
            Value::List(_) => "a list",
        }
    }
}

/// The keys the file and the flags know, in `--help` order.
pub const KEYS: &[&str] = &[
    "runtime_dir",
    "state_dir",
    "listen_tcp",
    "allow_remote_tcp",
    "log_level",
    "max_clients",
    "max_client_requests",
    "max_workers",
    "keepalive_interval",
    "keepalive_count",
    "unix_sock_rw_perms",
    "unix_sock_ro_perms",
    "host_uuid",
    "migrate_tls_x509_cert_dir",
    "migrate_tls_x509_verify",
    "migrate_tls_force",
    "listen_tls",
    "listen_addr",
    "tls_port",
    "ca_file",
    "cert_file",
    "key_file",
    "crl_file",
    "tls_no_verify_certificate",
    "tls_allowed_dn_list",
    "unix_sock_group",
    "max_anonymous_clients",
    "access_policy",
];

impl Settings {
    /// Sets `key` from its textual form (a flag's argument or a file string).
    fn set_text(&mut self, key: &str, text: &str) -> Result<(), String> {
        self.set(key, Value::Str(text.to_owned()), true)
    }

    /// Sets `key` to `value`; `from_text` lets numbers and booleans come as strings
    /// (command-line arguments).
    fn set(&mut self, key: &str, value: Value, from_text: bool) -> Result<(), String> {
        let int = |v: &Value| -> Result<i64, String> {
            match v {
                Value::Int(i) => Ok(*i),
                Value::Str(s) if from_text => s
                    .parse()
                    .map_err(|_| format!("{key} must be an integer, not '{s}'")),
                other => Err(format!(
                    "{key} must be an integer, not {}",
                    other.describe()
                )),
            }
        };
        let string = |v: &Value| -> Result<String, String> {
            match v {
                Value::Str(s) => Ok(s.clone()),
                other => Err(format!("{key} must be a string, not {}", other.describe())),
            }
        };
        let positive = |v: &Value| -> Result<usize, String> {
            let i = int(v)?;
            usize::try_from(i)
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| format!("{key} must be at least 1, not {i}"))
        };
        let boolean = |v: Value| -> Result<bool, String> {
            match v {
                Value::Bool(b) => Ok(b),
                Value::Str(s) if from_text && s == "true" => Ok(true),
                Value::Str(s) if from_text && s == "false" => Ok(false),
                other => Err(format!(
                    "{key} must be true or false, not {}",
                    other.describe()
                )),
            }
        };
        match key {
            "runtime_dir" => self.runtime_dir = Some(PathBuf::from(string(&value)?)),
            "state_dir" => self.state_dir = Some(PathBuf::from(string(&value)?)),
            "listen_tcp" => {
                let s = string(&value)?;
                let addr = s.parse().map_err(|_| {
                    format!("listen_tcp must be ADDRESS:PORT (like 127.0.0.1:16509), not '{s}'")
                })?;
                self.listen_tcp = Some(addr);
            }
            "allow_remote_tcp" => self.allow_remote_tcp = Some(boolean(value)?),
            "log_level" => {
                let s = string(&value)?;
                self.log_level = Some(Level::parse(&s).ok_or_else(|| {
                    format!("log_level must be error, warn, info or debug, not '{s}'")
                })?);
            }
            "max_clients" => self.max_clients = Some(positive(&value)?),
            "max_client_requests" => self.max_client_requests = Some(positive(&value)?),
            "max_workers" => self.max_workers = Some(positive(&value)?),
            "keepalive_interval" => self.keepalive_interval = Some(int(&value)?),
            "keepalive_count" => {
                let i = int(&value)?;
                let n = u32::try_from(i)
                    .map_err(|_| format!("keepalive_count must be 0 or more, not {i}"))?;
                self.keepalive_count = Some(n);
            }
            "unix_sock_rw_perms" | "unix_sock_ro_perms" => {
                let s = string(&value)?;
                let mode = u32::from_str_radix(&s, 8)
                    .ok()
                    .filter(|m| *m <= 0o777)
                    .ok_or_else(|| {
                        format!("{key} must be an octal mode like \"0770\", not '{s}'")
                    })?;
                if key == "unix_sock_rw_perms" {
                    self.unix_sock_rw_perms = Some(mode);
                } else {
                    self.unix_sock_ro_perms = Some(mode);
                }
            }
            "host_uuid" => self.host_uuid = Some(host_uuid(&string(&value)?)?),
            "migrate_tls_x509_cert_dir" => {
                self.migrate_tls_x509_cert_dir = Some(PathBuf::from(string(&value)?))
            }
            "migrate_tls_x509_verify" => self.migrate_tls_x509_verify = Some(boolean(value)?),
            "migrate_tls_force" => self.migrate_tls_force = Some(boolean(value)?),
            "listen_tls" => {
                self.listen_tls = Some(match value {
                    Value::Bool(false) => ListenTls::Off,
                    Value::Int(0) => ListenTls::Off,
                    Value::Str(s) if from_text && (s == "false" || s == "0") => ListenTls::Off,
                    Value::Bool(true) => ListenTls::On,
                    Value::Int(1) => ListenTls::On,
                    Value::Str(s) if from_text && (s == "true" || s == "1") => ListenTls::On,
                    Value::Str(s) => ListenTls::At(s.parse().map_err(|_| {
                        format!(
                            "listen_tls must be ADDRESS:PORT (like 0.0.0.0:16514) or true, \
                             not '{s}'"
                        )
                    })?),
                    other => {
                        return Err(format!(
                            "listen_tls must be ADDRESS:PORT or true, not {}",
                            other.describe()
                        ))
                    }
                });
            }
            "listen_addr" => {
                let s = string(&value)?;
                self.listen_addr = Some(s.parse().map_err(|_| {
                    format!("listen_addr must be an IP address (like 0.0.0.0), not '{s}'")
                })?);
            }
            "tls_port" => {
                // libvirtd.conf writes the port as a string ("16514"); an integer works too.
                let port = match &value {
                    Value::Str(s) => s.parse::<u16>().ok(),
                    Value::Int(i) => u16::try_from(*i).ok(),
                    _ => None,
                };
                self.tls_port = Some(port.filter(|p| *p > 0).ok_or_else(|| {
                    format!("tls_port must be a port number (like \"16514\"), not {value:?}")
                })?);
            }
            "ca_file" => self.ca_file = Some(PathBuf::from(string(&value)?)),
            "cert_file" => self.cert_file = Some(PathBuf::from(string(&value)?)),
            "key_file" => self.key_file = Some(PathBuf::from(string(&value)?)),
            "crl_file" => self.crl_file = Some(PathBuf::from(string(&value)?)),
            "tls_no_verify_certificate" => {
                // libvirtd.conf writes 0/1; true/false work too.
                self.tls_no_verify_certificate = Some(match value {
                    Value::Int(0) => false,
                    Value::Int(1) => true,
                    other => boolean(other)?,
                })
            }
            "tls_allowed_dn_list" => match value {
                Value::List(list) => self.tls_allowed_dn_list = Some(list),
                // A flag adds one pattern each time it is given.
                Value::Str(s) if from_text => self
                    .tls_allowed_dn_list
                    .get_or_insert_with(Vec::new)
                    .push(s),
                other => {
                    return Err(format!(
                        "{key} must be a list of strings like [\"CN=*\"], not {}",
                        other.describe()
                    ))
                }
            },
            "unix_sock_group" => {
                let s = string(&value)?;
                if s.is_empty() {
                    return Err("unix_sock_group must name a group".to_owned());
                }
                self.unix_sock_group = Some(s);
            }
            "max_anonymous_clients" => {
                let i = int(&value)?;
                self.max_anonymous_clients =
                    Some(usize::try_from(i).map_err(|_| {
                        format!("max_anonymous_clients must be 0 or more, not {i}")
                    })?);
            }
            "access_policy" => self.access_policy = Some(PathBuf::from(string(&value)?)),
            _ => return Err(format!("unknown setting '{key}'")),
        }
        Ok(())
    }

    /// `self` with every setting `over` gives replaced.
    pub fn overridden_by(self, over: Settings) -> Settings {
        Settings {
            runtime_dir: over.runtime_dir.or(self.runtime_dir),
            state_dir: over.state_dir.or(self.state_dir),
            listen_tcp: over.listen_tcp.or(self.listen_tcp),
            allow_remote_tcp: over.allow_remote_tcp.or(self.allow_remote_tcp),
            log_level: over.log_level.or(self.log_level),
            max_clients: over.max_clients.or(self.max_clients),
            max_client_requests: over.max_client_requests.or(self.max_client_requests),
            max_workers: over.max_workers.or(self.max_workers),
            keepalive_interval: over.keepalive_interval.or(self.keepalive_interval),
            keepalive_count: over.keepalive_count.or(self.keepalive_count),
            unix_sock_rw_perms: over.unix_sock_rw_perms.or(self.unix_sock_rw_perms),
            unix_sock_ro_perms: over.unix_sock_ro_perms.or(self.unix_sock_ro_perms),
            host_uuid: over.host_uuid.or(self.host_uuid),
            migrate_tls_x509_cert_dir: over
                .migrate_tls_x509_cert_dir
                .or(self.migrate_tls_x509_cert_dir),
            migrate_tls_x509_verify: over
                .migrate_tls_x509_verify
                .or(self.migrate_tls_x509_verify),
            migrate_tls_force: over.migrate_tls_force.or(self.migrate_tls_force),
            listen_tls: over.listen_tls.or(self.listen_tls),
            listen_addr: over.listen_addr.or(self.listen_addr),
            tls_port: over.tls_port.or(self.tls_port),
            ca_file: over.ca_file.or(self.ca_file),
            cert_file: over.cert_file.or(self.cert_file),
            key_file: over.key_file.or(self.key_file),
            crl_file: over.crl_file.or(self.crl_file),
            tls_no_verify_certificate: over
                .tls_no_verify_certificate
                .or(self.tls_no_verify_certificate),
            tls_allowed_dn_list: over.tls_allowed_dn_list.or(self.tls_allowed_dn_list),
            unix_sock_group: over.unix_sock_group.or(self.unix_sock_group),
            max_anonymous_clients: over.max_anonymous_clients.or(self.max_anonymous_clients),
            access_policy: over.access_policy.or(self.access_policy),
        }
    }

    /// The final configuration; `env` looks up environment variables.
    pub fn resolve(self, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, String> {
        let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
        let runtime_dir = match self.runtime_dir {
            Some(dir) => dir,
            None => default_runtime_dir(root, env)?,
        };
        let state_dir = match self.state_dir {
            Some(dir) => dir,
            None => default_state_dir(root, env)?,
        };
        let allow_remote_tcp = self.allow_remote_tcp.unwrap_or(false);
        if let Some(addr) = self.listen_tcp {
            if !addr.ip().is_loopback() && !allow_remote_tcp {
                return Err(format!(
                    "refusing to listen on {addr}: TCP connections are not authenticated, so \
                     only loopback addresses are allowed unless --allow-remote-tcp (or \
                     allow_remote_tcp = true) is given"
                ));
            }
        }
        Ok(Config {
            runtime_dir,
            state_dir,
            listen_tcp: self.listen_tcp,
            allow_remote_tcp,
            log_level: self.log_level.unwrap_or(Level::Warn),
            max_clients: self.max_clients.unwrap_or(5000),
            max_client_requests: self.max_client_requests.unwrap_or(5),
            max_workers: self.max_workers.unwrap_or(20),
            keepalive_interval: self.keepalive_interval.unwrap_or(5),
            keepalive_count: self.keepalive_count.unwrap_or(5),
            unix_sock_rw_perms: self.unix_sock_rw_perms.unwrap_or(0o600),
            unix_sock_ro_perms: self.unix_sock_ro_perms.unwrap_or(0o666),
            host_uuid: self.host_uuid,
            // libvirt's defaults (`default_tls_x509_cert_dir`, `default_tls_x509_verify`).
            migrate_tls_x509_cert_dir: self
                .migrate_tls_x509_cert_dir
                .unwrap_or_else(|| PathBuf::from("/etc/pki/qemu")),
            migrate_tls_x509_verify: self.migrate_tls_x509_verify.unwrap_or(true),
            migrate_tls_force: self.migrate_tls_force.unwrap_or(false),
            listen_tls: match self.listen_tls {
                None | Some(ListenTls::Off) => None,
                Some(ListenTls::At(addr)) => Some(addr),
                // libvirtd's defaults: every address, port 16514.
                Some(ListenTls::On) => Some(SocketAddr::new(
                    self.listen_addr
                        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)),
                    self.tls_port.unwrap_or(16514),
                )),
            },
            ca_file: self.ca_file,
            cert_file: self.cert_file,
            key_file: self.key_file,
            crl_file: self.crl_file,
            tls_no_verify_certificate: self.tls_no_verify_certificate.unwrap_or(false),
            tls_allowed_dn_list: self.tls_allowed_dn_list,
            unix_sock_group: self.unix_sock_group,
            // libvirtd's default.
            max_anonymous_clients: self.max_anonymous_clients.unwrap_or(20),
            access_policy: self.access_policy,
        })
    }
}

/// A configured host UUID, checked as libvirtd does (`virSetHostUUIDStr`): it must parse as
/// a UUID (`virUUIDParse`: 32 hex digits, `-` and spaces between pairs) and its 16 bytes
/// must not all be the same (`virUUIDIsValid`), so `00000000-0000-0000-0000-000000000000`
/// and `ffffffff-ffff-ffff-ffff-ffffffffffff` are refused. libvirtd's words on failure are
/// "invalid host UUID: VALUE".
fn host_uuid(text: &str) -> Result<Uuid, String> {
    Uuid::try_parse(text)
        .filter(|u| {
            let b = u.as_bytes();
            !b.iter().all(|x| *x == b[0])
        })
        .ok_or_else(|| format!("invalid host UUID: {text}"))
}

fn default_runtime_dir(
    root: bool,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<PathBuf, String> {
    if root {
        return Ok(PathBuf::from("/run/oxvirt"));
    }
    match env("XDG_RUNTIME_DIR") {
        Some(dir) if !dir.is_empty() => Ok(Path::new(&dir).join("oxvirt")),
        _ => Err("XDG_RUNTIME_DIR is not set; use --runtime-dir".to_owned()),
    }
}

fn default_state_dir(root: bool, env: &dyn Fn(&str) -> Option<String>) -> Result<PathBuf, String> {
    if root {
        return Ok(PathBuf::from("/var/lib/oxvirt"));
    }
    if let Some(dir) = env("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return Ok(Path::new(&dir).join("oxvirt"));
    }
    match env("HOME") {
        Some(home) if !home.is_empty() => Ok(Path::new(&home).join(".local/share/oxvirt")),
        _ => Err("neither XDG_DATA_HOME nor HOME is set; use --state-dir".to_owned()),
    }
}

/// Parses the text of a configuration file; errors name `file` and the line.
pub fn parse_file(file: &str, text: &str) -> Result<Settings, String> {
    let mut settings = Settings::default();
    let mut seen: Vec<String> = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let at = |msg: String| format!("{file}:{}: {msg}", index + 1);
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, rest)) = line.split_once('=') else {
            return Err(at(format!("expected 'key = value', found '{line}'")));
        };
        let key = key.trim();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(at(format!("expected 'key = value', found '{line}'")));
        }
        if !KEYS.contains(&key) {
            return Err(at(format!("unknown key '{key}'")));
        }
        if seen.iter().any(|k| k == key) {
            return Err(at(format!("key '{key}' is set twice")));
        }
        seen.push(key.to_owned());
        let value = parse_value(rest.trim()).map_err(at)?;
        settings.set(key, value, false).map_err(at)?;
    }
    Ok(settings)
}

/// The rest of a line after a value: nothing, or a comment.
fn end_of_line(rest: &str, what: &str) -> Result<(), String> {
    let rest = rest.trim();
    if !rest.is_empty() && !rest.starts_with('#') {
        return Err(format!("unexpected '{rest}' after the {what}"));
    }
    Ok(())
}

/// A double-quoted string at the start of `text` (after its opening quote): its value and
/// what follows the closing quote.
fn parse_string(body: &str) -> Result<(String, &str), String> {
    let mut out = String::new();
    let mut chars = body.chars();
    loop {
        match chars.next() {
            None => return Err("unterminated string".to_owned()),
            Some('"') => break,
            Some('\\') => match chars.next() {
                Some('"') => out.push('"'),
                Some('\\') => out.push('\\'),
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                other => {
                    return Err(format!(
                        "unsupported escape '\\{}' in string",
                        other.map(String::from).unwrap_or_default()
                    ))
                }
            },
            Some(c) => out.push(c),
        }
    }
    Ok((out, chars.as_str()))
}

/// A list of strings on one line (`["a", "b"]`, after its `[`), as libvirtd.conf writes
/// `tls_allowed_dn_list`.
fn parse_list(mut rest: &str) -> Result<Value, String> {
    let mut items = Vec::new();
    loop {
        rest = rest.trim_start();
        if rest.is_empty() || rest.starts_with('#') {
            return Err("unterminated list (a list must be on one line)".to_owned());
        }
        if let Some(after) = rest.strip_prefix(']') {
            end_of_line(after, "list")?;
            return Ok(Value::List(items));
        }
        let Some(body) = rest.strip_prefix('"') else {
            return Err("a list holds \"strings\" only, on one line: [\"a\", \"b\"]".to_owned());
        };
        let (item, after) = parse_string(body)?;
        items.push(item);
        rest = after.trim_start();
        if let Some(after) = rest.strip_prefix(',') {
            rest = after;
        } else if !rest.starts_with(']') {
            return Err("expected ',' or ']' in the list (a list must be on one line)".to_owned());
        }
    }
}

/// One value, with an optional trailing comment.
fn parse_value(text: &str) -> Result<Value, String> {
    if let Some(body) = text.strip_prefix('"') {
        let (out, rest) = parse_string(body)?;
        end_of_line(rest, "string")?;
        return Ok(Value::Str(out));
    }
    if let Some(rest) = text.strip_prefix('[') {
        return parse_list(rest);
    }
    let token = text.split('#').next().unwrap_or("").trim();
    match token {
        "true" => return Ok(Value::Bool(true)),
        "false" => return Ok(Value::Bool(false)),
        "" => return Err("missing value".to_owned()),
        _ => {}
    }
    let digits = token.replace('_', "");
    let numeric = digits
        .strip_prefix(['+', '-'])
        .unwrap_or(&digits)
        .chars()
        .all(|c| c.is_ascii_digit());
    match digits.parse::<i64>() {
        Ok(i) if numeric => Ok(Value::Int(i)),
        _ => Err(format!(
            "cannot understand value '{token}' (expected a \"string\", an integer, true or false)"
        )),
    }
}

/// What the command line asked for.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Args {
    /// The settings given as flags.
    pub settings: Settings,
    /// `--config FILE`.
    pub config: Option<PathBuf>,
    /// `-h` / `--help`.
    pub help: bool,
}

/// Parses the arguments (without the program name). Every key has a flag: `max_clients`
/// is `--max-clients N`; `--flag=value` works too; `--allow-remote-tcp` needs no value.
pub fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut out = Args::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        if arg == "-h" || arg == "--help" {
            out.help = true;
            continue;
        }
        let Some(flag) = arg.strip_prefix("--") else {
            return Err(format!("unknown argument '{arg}'"));
        };
        let (name, inline) = match flag.split_once('=') {
            Some((n, v)) => (n, Some(v.to_owned())),
            None => (flag, None),
        };
        let key = name.replace('-', "_");
        if key == "allow_remote_tcp" && inline.is_none() {
            out.settings.allow_remote_tcp = Some(true);
            continue;
        }
        if key != "config" && !KEYS.contains(&key.as_str()) {
            return Err(format!("unknown argument '{arg}'"));
        }
        let value = match inline {
            Some(v) => v,
            None => it
                .next()
                .cloned()
                .ok_or_else(|| format!("--{name} needs a value"))?,
        };
        if key == "config" {
            out.config = Some(PathBuf::from(value));
        } else {
            out.settings
                .set_text(&key, &value)
                .map_err(|e| format!("--{name}: {e}"))?;
        }
    }
    Ok(out)
}

/// The configuration from `args`: the file (if any), then the flags, then defaults.
pub fn load(args: &Args, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, String> {
    let file = match &args.config {
        Some(path) => {
            let shown = path.display().to_string();
            let text = std::fs::read_to_string(path).map_err(|e| format!("{shown}: {e}"))?;
            parse_file(&shown, &text)?
        }
        None => Settings::default(),
    };
    file.overridden_by(args.settings.clone()).resolve(env)
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
