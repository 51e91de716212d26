//! `oxvirt-ssh-helper`: oxvirtd's `virt-ssh-helper`.
//!
//! libvirt's clients reach a node over ssh by running, in the remote shell,
//! `virt-ssh-helper [-r] URI` when that program is on the PATH (else `nc -U SOCKET`). On a
//! host that runs oxvirtd instead of libvirtd, this program installed as `virt-ssh-helper`
//! (a symlink) takes those arguments, picks oxvirtd's socket — `libvirt-sock`, or
//! `libvirt-sock-ro` for `-r` — in oxvirtd's runtime directory, and copies the ssh
//! session's stdin to the socket and the socket to stdout until either side closes.
//!
//! The arguments, messages and exit codes are libvirt 9.0's `virt-ssh-helper`'s
//! (`src/remote/remote_ssh_helper.c`): `-r/--readonly`, `-V/--version`, `-h/--help`, one
//! URI whose transport must be `unix` (none, with no host), errors on stderr as
//! `PROGRAM: cannot connect to 'SOCKET': Failed to connect socket to 'SOCKET': REASON` and
//! exit status 1.
//!
//! The runtime directory is, in order: `$OXVIRT_RUNTIME_DIR`; the `runtime_dir` key of
//! `/etc/oxvirt/oxvirtd.conf` if that file exists; `/run/oxvirt` for root, else
//! `$XDG_RUNTIME_DIR/oxvirt` (oxvirtd's own defaults).

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc;

/// oxvirtd's system-wide configuration file.
const CONFIG_FILE: &str = "/etc/oxvirt/oxvirtd.conf";

/// The transports libvirt's URIs name (`remoteDriverTransport`).
const TRANSPORTS: [&str; 7] = ["tls", "unix", "ssh", "libssh2", "ext", "tcp", "libssh"];

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
enum Action {
    /// `-h`: the usage on stdout, success.
    Help,
    /// `-V`: the version on stdout, success.
    Version,
    /// No URI or more than one: the usage on stderr, failure.
    Usage,
    /// Bridge to the socket `uri` maps to.
    Proxy {
        /// `-r`: the read-only socket.
        readonly: bool,
        /// The URI.
        uri: String,
    },
}

/// GLib's option parsing as virt-ssh-helper does it: options anywhere, short ones
/// combinable (`-rV`), `--` ends them. `Err` is GLib's message.
fn parse_args(args: &[String]) -> Result<Action, String> {
    let (mut readonly, mut version, mut help) = (false, false, false);
    let mut rest = Vec::new();
    let mut options_done = false;
    for arg in args {
        if options_done || arg == "-" || !arg.starts_with('-') {
            rest.push(arg.clone());
            continue;
        }
        match arg.as_str() {
            "--" => options_done = true,
            "--readonly" => readonly = true,
            "--version" => version = true,
            "--help" => help = true,
            long if long.starts_with("--") => return Err(format!("Unknown option {long}")),
            short => {
                for c in short[1..].chars() {
                    match c {
                        'r' => readonly = true,
                        'V' => version = true,
                        'h' | '?' => help = true,
                        other => return Err(format!("Unknown option -{other}")),
                    }
                }
            }
        }
    }
    Ok(if help {
        Action::Help
    } else if version {
        Action::Version
    } else if rest.len() != 1 {
        Action::Usage
    } else {
        Action::Proxy {
            readonly,
            uri: rest.remove(0),
        }
    })
}

/// GLib's help text for virt-ssh-helper's options, `program` being the name it runs as.
fn usage(program: &str) -> String {
    format!(
        "Usage:\n  {program} [OPTION?] URI - libvirt socket proxy\n\n\
         Internal tool used to handle connections coming from remote\n\
         clients. Not intended to be called directly by the user.\n\n\
         Help Options:\n  -h, --help         Show help options\n\n\
         Application Options:\n  -r, --readonly     Connect read-only\n  \
         -V, --version      Display version information\n\n"
    )
}

/// Why a URI is refused: virt-ssh-helper's message after `PROGRAM: `.
fn check_uri(uri: &str) -> Result<(), String> {
    let unparsable = || format!("cannot parse '{uri}': internal error: Unable to parse URI {uri}");
    // libxml2's URI parser: no blanks or controls, well-formed escapes, a valid scheme.
    let bytes = uri.as_bytes();
    if bytes
        .iter()
        .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
    {
        return Err(unparsable());
    }
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'%'
            && !(bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
        {
            return Err(unparsable());
        }
    }
    let scheme = match uri.find(':') {
        Some(at) if !uri[..at].contains(['/', '?', '#']) => Some(&uri[..at]),
        _ => None,
    };
    let Some(scheme) = scheme else {
        return Err(format!(
            "cannot parse URI transport '{uri}': invalid argument: missing scheme for URI"
        ));
    };
    let valid_scheme = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    if !valid_scheme {
        return Err(unparsable());
    }
    let after = &uri[scheme.len() + 1..];
    let host = after.strip_prefix("//").map(|auth| {
        let end = auth.find(['/', '?', '#']).unwrap_or(auth.len());
        let auth = &auth[..end];
        let host_port = auth.rsplit_once('@').map_or(auth, |(_, h)| h);
        host_port.to_owned()
    });
    if let Some(h) = &host {
        if h.starts_with('[') != h.contains(']') {
            return Err(unparsable());
        }
    }
    let has_host = host.as_deref().is_some_and(|h| {
        let name = match h.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or(""),
            None => h.split(':').next().unwrap_or(""),
        };
        !name.is_empty()
    });
    let transport = match scheme.split_once('+') {
        Some((_, t)) => {
            let t = t.to_ascii_lowercase();
            if !TRANSPORTS.contains(&t.as_str()) {
                return Err(format!(
                    "cannot parse URI transport '{uri}': invalid argument: remote_open: \
                     transport in URL not recognised (should be tls|unix|ssh|ext|tcp|libssh2|libssh)"
                ));
            }
            t
        }
        None if has_host => "tls".to_owned(),
        None => "unix".to_owned(),
    };
    if transport != "unix" {
        return Err(format!("unexpected URI transport '{uri}'"));
    }
    Ok(())
}

/// What the runtime directory depends on.
struct Env<'a> {
    /// `$OXVIRT_RUNTIME_DIR`.
    oxvirt_runtime_dir: Option<String>,
    /// The configuration file's text, if the file exists.
    config: Option<(&'a str, String)>,
    /// Whether the process runs as root.
    root: bool,
    /// `$XDG_RUNTIME_DIR`.
    xdg_runtime_dir: Option<String>,
}

/// oxvirtd's runtime directory (see the [crate documentation](crate)).
fn runtime_dir(env: &Env<'_>) -> Result<PathBuf, String> {
    if let Some(dir) = env.oxvirt_runtime_dir.as_deref().filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    if let Some((file, text)) = &env.config {
        if let Some(dir) = config_runtime_dir(text).map_err(|e| format!("{file}:{e}"))? {
            return Ok(PathBuf::from(dir));
        }
    }
    if env.root {
        return Ok(PathBuf::from("/run/oxvirt"));
    }
    match env.xdg_runtime_dir.as_deref().filter(|d| !d.is_empty()) {
        Some(dir) => Ok(Path::new(dir).join("oxvirt")),
        None => Err("XDG_RUNTIME_DIR is not set".to_owned()),
    }
}

/// The top-level `runtime_dir = "..."` of oxvirtd's TOML configuration, if present;
/// `Err("LINE: why")` when its value is not a string.
fn config_runtime_dir(text: &str) -> Result<Option<String>, String> {
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.starts_with('[') {
            // A table: oxvirtd's keys are all top-level.
            break;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim().trim_matches('"');
        if key != "runtime_dir" {
            continue;
        }
        return toml_string(value.trim())
            .map(Some)
            .ok_or_else(|| format!("{}: runtime_dir must be a string", n + 1));
    }
    Ok(None)
}

/// A TOML basic (`"..."`, with escapes) or literal (`'...'`) string at the start of
/// `value`, followed by nothing but a comment.
fn toml_string(value: &str) -> Option<String> {
    let mut chars = value.chars();
    let quote = chars.next().filter(|q| *q == '"' || *q == '\'')?;
    let mut out = String::new();
    loop {
        match chars.next()? {
            c if c == quote => break,
            '\\' if quote == '"' => out.push(match chars.next()? {
                'n' => '\n',
                't' => '\t',
                'r' => '\r',
                '\\' => '\\',
                '"' => '"',
                'u' | 'U' => return None,
                other => other,
            }),
            c => out.push(c),
        }
    }
    let tail = chars.as_str().trim();
    (tail.is_empty() || tail.starts_with('#')).then_some(out)
}

/// The socket for a read-only or read-write connection.
fn socket_path(dir: &Path, readonly: bool) -> PathBuf {
    dir.join(if readonly {
        "libvirt-sock-ro"
    } else {
        "libvirt-sock"
    })
}

/// `strerror`'s words for `err`: Rust's text without " (os error N)".
fn strerror(err: &io::Error) -> String {
    let text = err.to_string();
    match text.rfind(" (os error ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

/// Copies `from` to `to` until end of file (`Ok`) or an error (libvirt's words for it).
fn copy(
    mut from: impl Read,
    mut to: impl Write,
    read_error: &str,
    write_error: &str,
) -> Result<(), String> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("{read_error}: {}", strerror(&e))),
        };
        to.write_all(&buf[..n])
            .and_then(|()| to.flush())
            .map_err(|e| format!("{write_error}: {}", strerror(&e)))?;
    }
}

/// Bridges stdin/stdout and `sock` until either side closes.
fn proxy(sock: UnixStream) -> Result<(), String> {
    let (done_tx, done_rx) = mpsc::channel();
    let up = sock.try_clone().map_err(|e| strerror(&e))?;
    let tx = done_tx.clone();
    std::thread::spawn(move || {
        let _ = tx.send(copy(
            io::stdin().lock(),
            &up,
            "cannot read from stdin",
            "Cannot write data",
        ));
    });
    std::thread::spawn(move || {
        let _ = done_tx.send(copy(
            &sock,
            io::stdout().lock(),
            "Cannot recv data",
            "cannot write to stdout",
        ));
    });
    // The first side to finish ends the session, as virt-ssh-helper's shutdown does.
    done_rx.recv().unwrap_or(Ok(()))
}

fn main() -> ExitCode {
    let mut args = std::env::args();
    let argv0 = args
        .next()
        .unwrap_or_else(|| "oxvirt-ssh-helper".to_owned());
    let program = Path::new(&argv0)
        .file_name()
        .map_or(argv0.clone(), |n| n.to_string_lossy().into_owned());
    let args: Vec<String> = args.collect();
    let fail = |message: String| {
        eprintln!("{message}");
        ExitCode::FAILURE
    };
    let (readonly, uri) = match parse_args(&args) {
        Err(e) => return fail(format!("option parsing failed: {e}")),
        Ok(Action::Help) => {
            print!("{}", usage(&program));
            return ExitCode::SUCCESS;
        }
        Ok(Action::Version) => {
            println!("{argv0} (oxvirt) {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Ok(Action::Usage) => {
            eprint!("{}", usage(&program));
            return ExitCode::FAILURE;
        }
        Ok(Action::Proxy { readonly, uri }) => (readonly, uri),
    };
    if let Err(e) = check_uri(&uri) {
        return fail(format!("{argv0}: {e}"));
    }
    use std::os::unix::fs::MetadataExt;
    let env = Env {
        oxvirt_runtime_dir: std::env::var("OXVIRT_RUNTIME_DIR").ok(),
        config: std::fs::read_to_string(CONFIG_FILE)
            .ok()
            .map(|text| (CONFIG_FILE, text)),
        root: std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0),
        xdg_runtime_dir: std::env::var("XDG_RUNTIME_DIR").ok(),
    };
    let dir = match runtime_dir(&env) {
        Ok(dir) => dir,
        Err(e) => {
            return fail(format!(
                "{argv0}: cannot find oxvirtd's runtime directory: {e}"
            ))
        }
    };
    let path = socket_path(&dir, readonly);
    let sock = match UnixStream::connect(&path) {
        Ok(sock) => sock,
        Err(e) => {
            let p = path.display();
            return fail(format!(
                "{argv0}: cannot connect to '{p}': Failed to connect socket to '{p}': {}",
                strerror(&e)
            ));
        }
    };
    match proxy(sock) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(format!("{argv0}: could not proxy traffic: {e}")),
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
