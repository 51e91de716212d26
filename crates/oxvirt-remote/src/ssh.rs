//! The `ssh` transport, as libvirt 9.0's remote driver runs it (`virNetClientNewSSH`,
//! `virNetClientSSHHelperCommand`, `virNetSocketNewConnectSSH`): the system `ssh` is
//! spawned as
//!
//! ```text
//! ssh [-p PORT] [-l USER] [-i KEYFILE] -T -e none [-o BatchMode=yes]
//!     [-o StrictHostKeyChecking=no] -- HOST "sh -c '...'"
//! ```
//!
//! with one end of a socket pair as its stdin and stdout (the connection's byte stream) and
//! a pipe as its stderr. The remote script runs `virt-ssh-helper [-r] URI` when `which`
//! finds it, else `nc [-q0] -U SOCKET` (`?proxy=auto`); `?proxy=netcat` always runs `nc`,
//! `?proxy=native` always the helper. When the stream fails, what ssh wrote on stderr
//! goes into libvirt's message: "Cannot recv data: ssh: connect to host h port 22:
//! Connection refused: Connection reset by peer", or "End of file while reading data:
//! STDERR: Input/output error". Dropping the stream kills and reaps ssh.

use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::path::Path;
use std::pin::Pin;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::UnixStream;

use crate::transport::strerror;

/// How the remote end reaches the daemon's socket (`?proxy=`, libvirt's
/// `virNetClientProxy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SshProxy {
    /// `virt-ssh-helper` when the remote host has it, else `nc`.
    Auto,
    /// Always `nc -U SOCKET`.
    Netcat,
    /// Always `virt-ssh-helper`.
    Native,
}

impl SshProxy {
    /// The mode named `text` (`auto`, `netcat`, `native`), as libvirt spells them.
    pub fn parse(text: &str) -> Option<SshProxy> {
        match text {
            "auto" => Some(SshProxy::Auto),
            "netcat" => Some(SshProxy::Netcat),
            "native" => Some(SshProxy::Native),
            _ => None,
        }
    }
}

/// Everything the ssh transport needs, from a `driver+ssh://user@host:port/path?...` URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshTarget {
    /// The host ssh connects to (`localhost` when the URI has none).
    pub host: String,
    /// `-p PORT`, when the URI has a port.
    pub port: Option<u16>,
    /// `-l USER`, when the URI has a user.
    pub user: Option<String>,
    /// `?keyfile=`: `-i KEYFILE`.
    pub keyfile: Option<String>,
    /// `?known_hosts=`: used by libvirt's libssh transports only; OpenSSH reads its own
    /// files (kept so the URI round-trips).
    pub known_hosts: Option<String>,
    /// `?no_verify=1`: `-o StrictHostKeyChecking=no`.
    pub no_verify: bool,
    /// `?no_tty=1`: `-o BatchMode=yes` (no password prompt).
    pub no_tty: bool,
    /// `?netcat=`: the remote `nc` (forces [`SshProxy::Netcat`] under `auto`).
    pub netcat: Option<String>,
    /// `?command=`: the ssh binary (default `ssh`).
    pub command: String,
    /// The remote daemon's socket, for `nc`.
    pub socket: String,
    /// `?proxy=`.
    pub proxy: SshProxy,
    /// The URI given to `virt-ssh-helper` (the name CONNECT_OPEN carries).
    pub uri: String,
    /// A read-only connection: `virt-ssh-helper -r`.
    pub read_only: bool,
}

/// `virBufferEscapeShell`: `str` as is when it has no shell metacharacter, else in single
/// quotes with each `'` written `'\''`; `''` for the empty string.
pub fn escape_shell(text: &str) -> String {
    if text.is_empty() {
        return "''".to_owned();
    }
    if !text.contains(|c| "\r\t\n !\"#$&'()*;<>?[\\]^`{|}~".contains(c)) {
        return text.to_owned();
    }
    let mut out = String::from("'");
    for c in text.chars() {
        if c == '\'' {
            out.push_str("'\\'");
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// The remote shell runs the command, which runs `sh -c` again: two levels of escaping.
fn double_escape(text: &str) -> String {
    escape_shell(&escape_shell(text))
}

impl SshTarget {
    /// The command ssh runs on the host (`virNetClientSSHHelperCommand`).
    pub fn remote_command(&self) -> Result<String, VirError> {
        let netcat = double_escape(self.netcat.as_deref().unwrap_or("nc"));
        let nc = format!(
            "if '{netcat}' -q 2>&1 | grep \"requires an argument\" >/dev/null 2>&1; then \
             ARG=-q0;else ARG=;fi;'{netcat}' $ARG -U {}",
            self.socket
        );
        let helper = format!(
            "virt-ssh-helper{}'{}'",
            if self.read_only { " -r " } else { " " },
            double_escape(&self.uri)
        );
        let proxy = match self.proxy {
            SshProxy::Auto if self.netcat.is_some() => SshProxy::Netcat,
            other => other,
        };
        Ok(match proxy {
            SshProxy::Auto => format!(
                "sh -c 'which virt-ssh-helper 1>/dev/null 2>&1; if test $? = 0; then     \
                 {helper}; else    {nc}; fi'"
            ),
            SshProxy::Netcat => format!("sh -c '{nc}'"),
            SshProxy::Native => {
                if self.netcat.is_some() {
                    return Err(VirError::new(
                        ErrorDomain::Rpc,
                        ErrorCode::InvalidArg,
                        "netcat path not valid with native proxy mode",
                    ));
                }
                format!("sh -c '{helper}'")
            }
        })
    }

    /// ssh's arguments (after the program), in libvirt's order.
    pub fn args(&self) -> Result<Vec<String>, VirError> {
        let mut args = Vec::new();
        if let Some(port) = self.port {
            args.extend(["-p".to_owned(), port.to_string()]);
        }
        if let Some(user) = &self.user {
            args.extend(["-l".to_owned(), user.clone()]);
        }
        if let Some(keyfile) = &self.keyfile {
            args.extend(["-i".to_owned(), keyfile.clone()]);
        }
        args.extend(["-T", "-e", "none"].map(str::to_owned));
        if self.no_tty {
            args.extend(["-o", "BatchMode=yes"].map(str::to_owned));
        }
        if self.no_verify {
            args.extend(["-o", "StrictHostKeyChecking=no"].map(str::to_owned));
        }
        args.extend(["--".to_owned(), self.host.clone(), self.remote_command()?]);
        Ok(args)
    }
}

/// The environment libvirt passes to ssh (`virCommandAddEnvPassCommon` and the ssh
/// agent's, Kerberos' and askpass' variables); everything else is cleared.
const PASSED_ENV: [&str; 13] = [
    "LD_PRELOAD",
    "LD_LIBRARY_PATH",
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "TMPDIR",
    "TERM",
    "KRB5CCNAME",
    "SSH_AUTH_SOCK",
    "SSH_ASKPASS",
    "DISPLAY",
    "XAUTHORITY",
];

/// How much of ssh's stderr goes into an error (`virFileReadLimFD(errfd, 1024)`).
const STDERR_LIMIT: usize = 1024;

/// What ssh wrote on stderr (the first [`STDERR_LIMIT`] bytes) and whether it closed it.
#[derive(Default)]
struct Stderr {
    text: Mutex<(Vec<u8>, bool)>,
    closed: Condvar,
}

impl Stderr {
    /// Drains `pipe` (so ssh never blocks on it), keeping the start.
    fn collect(self: Arc<Stderr>, mut pipe: impl Read) {
        let mut buf = [0u8; 4096];
        loop {
            let n = match pipe.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let mut st = self.text.lock().unwrap_or_else(PoisonError::into_inner);
            let room = STDERR_LIMIT.saturating_sub(st.0.len());
            st.0.extend_from_slice(&buf[..n.min(room)]);
        }
        self.text.lock().unwrap_or_else(PoisonError::into_inner).1 = true;
        self.closed.notify_all();
    }

    /// The text, once ssh closed stderr (it has exited, usually) or after a short wait,
    /// without its trailing line ends (ssh writes `\r\n`), as libvirt 9.0 shows it.
    fn text(&self) -> String {
        let guard = self.text.lock().unwrap_or_else(PoisonError::into_inner);
        let (guard, _) = self
            .closed
            .wait_timeout_while(guard, Duration::from_secs(2), |st| !st.1)
            .unwrap_or_else(PoisonError::into_inner);
        let text = String::from_utf8_lossy(&guard.0);
        text.trim_end_matches(['\r', '\n']).to_owned()
    }
}

/// The end of file of an ssh child's stdout, with what follows libvirt's "End of file while
/// reading data: " (ssh's stderr and the errno text).
#[derive(Debug)]
struct EndOfFile(String);

impl std::fmt::Display for EndOfFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EndOfFile {}

/// Whether a read error is an ssh stream's end of file (see [`SshStream`]): the
/// connection then says "End of file while reading data: ..." rather than "Cannot recv
/// data: ...".
pub(crate) fn is_end_of_file(err: &io::Error) -> bool {
    err.get_ref().is_some_and(|inner| inner.is::<EndOfFile>())
}

/// A connected ssh child: its stdin/stdout as a stream. Dropping it kills and reaps ssh.
pub struct SshStream {
    io: UnixStream,
    child: Child,
    stderr: Arc<Stderr>,
}

impl std::fmt::Debug for SshStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SshStream")
            .field("pid", &self.child.id())
            .finish_non_exhaustive()
    }
}

impl SshStream {
    /// The ssh process's id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// `virFindFileInPath`: a name without `/` is looked up in `$PATH`.
fn find_in_path(name: &str) -> Option<std::path::PathBuf> {
    if name.contains('/') {
        return Some(Path::new(name).to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file()))
}

/// Spawns ssh for `target` (see the [module documentation](self)).
pub async fn connect_ssh(target: &SshTarget) -> Result<SshStream, VirError> {
    let args = target.args()?;
    let Some(program) = find_in_path(&target.command) else {
        return Err(VirError::raw(
            ErrorDomain::None,
            ErrorCode::SystemError,
            format!(
                "Cannot find '{}' in path: No such file or directory",
                target.command
            ),
        ));
    };
    let pair_error = |e: io::Error| {
        VirError::raw(
            ErrorDomain::Rpc,
            ErrorCode::SystemError,
            format!("unable to create socket pair: {}", strerror(&e)),
        )
    };
    let (ours, theirs) = std::os::unix::net::UnixStream::pair().map_err(pair_error)?;
    let theirs_out = theirs.try_clone().map_err(pair_error)?;
    let mut cmd = Command::new(&program);
    cmd.args(&args)
        .env_clear()
        .env("LC_ALL", "C")
        .stdin(Stdio::from(OwnedFd::from(theirs)))
        .stdout(Stdio::from(OwnedFd::from(theirs_out)))
        .stderr(Stdio::piped());
    for name in PASSED_ENV {
        if let Some(value) = std::env::var_os(name) {
            cmd.env(name, value);
        }
    }
    let spawned = cmd.spawn();
    // The command holds the child's ends: drop them so ssh's exit is our end of file.
    drop(cmd);
    let mut child = match spawned {
        Ok(child) => child,
        // libvirt's forked child reports the failed exec on stderr and exits; the parent
        // then fails to read, with that text.
        Err(e) => {
            return Err(VirError::raw(
                ErrorDomain::Rpc,
                ErrorCode::SystemError,
                format!(
                    "Cannot recv data: libvirt:  error : cannot execute binary {}: {}: \
                     Connection reset by peer",
                    program.display(),
                    strerror(&e)
                ),
            ))
        }
    };
    let stderr = Arc::new(Stderr::default());
    if let Some(pipe) = child.stderr.take() {
        let collector = Arc::clone(&stderr);
        std::thread::spawn(move || collector.collect(pipe));
    }
    let io = ours
        .set_nonblocking(true)
        .and_then(|()| UnixStream::from_std(ours))
        .map_err(pair_error);
    let io = match io {
        Ok(io) => io,
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(e);
        }
    };
    Ok(SshStream { io, child, stderr })
}

impl AsyncRead for SshStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) if buf.filled().len() == before && buf.remaining() > 0 => {
                // End of file: "End of file while reading data: STDERR: Input/output error".
                let text = this.stderr.text();
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    EndOfFile(format!("{text}: Input/output error")),
                )))
            }
            // "Cannot recv data: STDERR: REASON".
            Poll::Ready(Err(e)) => Poll::Ready(Err(io::Error::new(
                e.kind(),
                format!("{}: {}", this.stderr.text(), strerror(&e)),
            ))),
            other => other,
        }
    }
}

impl AsyncWrite for SshStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

impl Drop for SshStream {
    fn drop(&mut self) {
        // libvirt's virProcessAbort: the connection is gone, so is ssh.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

#[cfg(test)]
#[path = "ssh_tests.rs"]
mod tests;
