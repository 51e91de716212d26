//! `oxvirtd`: serves libvirt's remote protocol on `DIR/libvirt-sock` (read-write, 0600) and
//! `DIR/libvirt-sock-ro` (read-only, 0666), backed by oxvirt's test driver.

mod client;
mod dispatch;
mod extra;
mod server;

use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tokio::net::UnixListener;
use tokio::signal::unix::{signal, SignalKind};

/// The libvirt version reported by CONNECT_GET_LIB_VERSION (9.0.0).
pub const LIB_VERSION: u64 = 9_000_000;

const USAGE: &str = "\
usage: oxvirtd [--runtime-dir DIR] [--state-dir DIR]

Serves libvirt's RPC protocol on DIR/libvirt-sock (read-write, mode 0600) and
DIR/libvirt-sock-ro (read-only, mode 0666), for the test driver (test:///default,
test:///path/node.xml). Clients: virsh -c 'test+unix:///default?socket=DIR/libvirt-sock'.

  --runtime-dir DIR   where the sockets go (default: /run/oxvirt as root,
                      else $XDG_RUNTIME_DIR/oxvirt)
  --state-dir DIR     accepted; persistent definitions are not written yet
  -h, --help          this text

SIGTERM or SIGINT stops the daemon and removes its sockets.";

/// Command-line options.
#[derive(Debug, PartialEq, Eq)]
struct Options {
    runtime_dir: PathBuf,
}

fn default_runtime_dir() -> Result<PathBuf, String> {
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    if root {
        return Ok(PathBuf::from("/run/oxvirt"));
    }
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(dir) if !dir.is_empty() => Ok(Path::new(&dir).join("oxvirt")),
        _ => Err("XDG_RUNTIME_DIR is not set; use --runtime-dir".to_owned()),
    }
}

fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut runtime_dir = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--runtime-dir" => {
                runtime_dir = Some(PathBuf::from(it.next().ok_or(USAGE)?));
            }
            // Accepted for the command line testing.md documents; the test driver keeps
            // no state on disk yet.
            "--state-dir" => {
                it.next().ok_or(USAGE)?;
            }
            _ => return Err(format!("unknown argument '{arg}'\n{USAGE}")),
        }
    }
    let runtime_dir = match runtime_dir {
        Some(dir) => dir,
        None => default_runtime_dir()?,
    };
    Ok(Options { runtime_dir })
}

/// Binds `path` with `mode`, replacing a stale socket; refuses if a daemon answers there.
///
/// The socket is bound inside a private (0700) staging directory, given its mode, then
/// renamed into place: nobody can connect to it before it has its final permissions,
/// whatever the process's umask.
fn bind(path: &Path, mode: u32) -> Result<UnixListener, String> {
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
        std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(mode))?;
        std::fs::rename(&staged, path)?;
        Ok(listener)
    });
    let _ = std::fs::remove_dir_all(&staging);
    result.map_err(shown)
}

async fn run(opts: Options) -> Result<(), String> {
    std::fs::create_dir_all(&opts.runtime_dir)
        .map_err(|e| format!("{}: {e}", opts.runtime_dir.display()))?;
    let rw_path = opts.runtime_dir.join("libvirt-sock");
    let ro_path = opts.runtime_dir.join("libvirt-sock-ro");
    let rw = bind(&rw_path, 0o600)?;
    let ro = bind(&ro_path, 0o666)?;
    let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
    tokio::select! {
        _ = server::serve(rw, false) => {}
        _ = server::serve(ro, true) => {}
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    let _ = std::fs::remove_file(&rw_path);
    let _ = std::fs::remove_file(&ro_path);
    Ok(())
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return;
    }
    let result = match parse_args(&args) {
        Ok(opts) => run(opts).await,
        Err(err) => Err(err),
    };
    if let Err(err) = result {
        eprintln!("oxvirtd: {err}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_runtime_dir() {
        let opts = parse_args(&strings(&["--runtime-dir", "/tmp/x", "--state-dir", "/s"]));
        assert_eq!(opts.unwrap().runtime_dir, PathBuf::from("/tmp/x"));
        assert!(parse_args(&strings(&["--runtime-dir"])).is_err());
        assert!(parse_args(&strings(&["--bogus"]))
            .unwrap_err()
            .starts_with("unknown argument '--bogus'"));
    }
}
