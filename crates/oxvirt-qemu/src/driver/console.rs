//! Consoles (`virDomainOpenConsole`): the pty QEMU opened for a serial port, console or
//! channel, opened here in raw mode and non-blocking, read and written through tokio.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{ready, Context, Poll};

use oxvirt_domain::devices::chardev::{Chardev, ChardevType};
use oxvirt_domain::driver::flags::console;
use oxvirt_domain::driver::{ConsoleIo, DomainRef};
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::watch;

use super::{check_flags, not_running, QemuDriver};

/// One end of a console: the pty, shared by the reading and the writing half.
struct Pty(Arc<AsyncFd<File>>);

impl AsyncRead for Pty {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        loop {
            let mut guard = ready!(self.0.poll_read_ready(cx))?;
            let unfilled = buf.initialize_unfilled();
            match guard.try_io(|fd| fd.get_ref().read(unfilled)) {
                Ok(Ok(n)) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                // The other side (QEMU) closed the pty: the end of the console.
                Ok(Err(e)) if e.raw_os_error() == Some(rustix::io::Errno::IO.raw_os_error()) => {
                    return Poll::Ready(Ok(()))
                }
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                Err(_would_block) => continue,
            }
        }
    }
}

impl AsyncWrite for Pty {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        loop {
            let mut guard = ready!(self.0.poll_write_ready(cx))?;
            match guard.try_io(|fd| fd.get_ref().write(data)) {
                Ok(result) => return Poll::Ready(result),
                Err(_would_block) => continue,
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

fn console_error(code: ErrorCode, detail: impl AsRef<str>) -> VirError {
    VirError::new(ErrorDomain::Qemu, code, detail)
}

/// Opens the pty at `path` as libvirt does for a console stream: non-blocking, not as a
/// controlling terminal, in raw mode.
fn open_pty(path: &str) -> Result<Pty, VirError> {
    let flags = rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::NOCTTY;
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(flags.bits() as i32)
        .open(path)
        .map_err(|e| {
            console_error(
                ErrorCode::SystemError,
                format!(
                    "Unable to open '{path}': {}",
                    oxvirt_domain::fsio::strerror(&e)
                ),
            )
        })?;
    if let Ok(mut t) = rustix::termios::tcgetattr(&file) {
        t.make_raw();
        let _ = rustix::termios::tcsetattr(&file, rustix::termios::OptionalActions::Now, &t);
    }
    // Sound: the pty's descriptor is owned by the `File` and fixed for its lifetime
    // (the safe constructor's condition; its replacement is `unsafe`, which we forbid).
    #[allow(deprecated)]
    let fd = AsyncFd::new(file).map_err(|e| {
        console_error(
            ErrorCode::SystemError,
            format!("cannot watch '{path}': {e}"),
        )
    })?;
    Ok(Pty(Arc::new(fd)))
}

/// The alias libvirt gives the `i`th device of a kind.
fn alias(prefix: &str, i: usize, dev: &Chardev) -> String {
    dev.info
        .alias
        .as_ref()
        .map(|a| a.name.clone())
        .unwrap_or_else(|| format!("{prefix}{i}"))
}

impl QemuDriver {
    /// `virDomainOpenConsole` (`qemuDomainOpenConsole`): the console `dev_name` (an alias:
    /// `serial0`, `console0`, `channel0`), else the first console, else the first serial.
    pub(crate) async fn open_console(
        &self,
        dom: &DomainRef,
        dev_name: Option<&str>,
        flags: u32,
    ) -> Result<ConsoleIo, VirError> {
        check_flags(
            flags,
            console::FORCE | console::SAFE,
            "qemuDomainOpenConsole",
        )?;
        let (active, def) = self.with_obj(dom, |obj| Ok((obj.is_active(), obj.def().clone())))?;
        if !active {
            return Err(not_running());
        }
        let devs = &def.devices;
        let mut candidates: Vec<(String, &Chardev)> = Vec::new();
        for (i, d) in devs.consoles.iter().enumerate() {
            candidates.push((alias("console", i, d), d));
        }
        for (i, d) in devs.serials.iter().enumerate() {
            candidates.push((alias("serial", i, d), d));
        }
        for (i, d) in devs.channels.iter().enumerate() {
            candidates.push((alias("channel", i, d), d));
        }
        let chosen = match dev_name {
            Some(name) => candidates.iter().find(|(a, _)| a == name),
            None => candidates.first(),
        };
        let Some((name, dev)) = chosen else {
            return Err(console_error(
                ErrorCode::InternalError,
                format!(
                    "cannot find character device {}",
                    dev_name.unwrap_or("<null>")
                ),
            ));
        };
        if dev.source.kind != ChardevType::Pty {
            return Err(console_error(
                ErrorCode::InternalError,
                format!("character device {name} is not using a PTY"),
            ));
        }
        let Some(path) = dev.tty.clone() else {
            return Err(console_error(
                ErrorCode::InternalError,
                format!("character device {name} is not using a PTY"),
            ));
        };
        let session = self.claim_console(&path, flags & console::FORCE != 0)?;
        let pty = open_pty(&path)?;
        let writer = SessionWriter {
            pty: Pty(pty.0.clone()),
            session: session.clone(),
        };
        let (theirs, mut ours) = tokio::io::duplex(64 * 1024);
        let mut taken = session.taken.subscribe();
        tokio::spawn(async move {
            // Copies the guest's output to the session until either side ends or another
            // session takes the console over (then this one sees the end of its stream).
            let mut pty = pty;
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                tokio::select! {
                    read = pty.read(&mut buf) => match read {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if ours.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    },
                    () = async { let _ = taken.wait_for(|t| *t).await; } => break,
                }
            }
            drop(session);
        });
        Ok(ConsoleIo {
            reader: Box::new(theirs),
            writer: Box::new(writer),
        })
    }

    /// Takes the console on `path` for a new session: refused while another session holds
    /// it, unless `force`, which ends the other session (libvirt's `virChrdevOpen`).
    fn claim_console(&self, path: &str, force: bool) -> Result<Arc<Session>, VirError> {
        let mut sessions = self
            .inner
            .consoles
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        sessions.retain(|_, s| s.strong_count() > 0);
        if let Some(old) = sessions.get(path).and_then(Weak::upgrade) {
            if !force {
                return Err(console_error(
                    ErrorCode::OperationFailed,
                    "Active console session exists for this domain",
                ));
            }
            old.taken.send_replace(true);
        }
        let session = Arc::new(Session {
            taken: watch::channel(false).0,
        });
        sessions.insert(path.to_string(), Arc::downgrade(&session));
        Ok(session)
    }
}

/// One console session: alive while its stream is open.
pub(crate) struct Session {
    /// Set when another session took the console over.
    taken: watch::Sender<bool>,
}

/// The writing half of a session: refuses input once another session took over.
struct SessionWriter {
    pty: Pty,
    session: Arc<Session>,
}

impl AsyncWrite for SessionWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if *self.session.taken.borrow() {
            return Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "the console was taken over by another session",
            )));
        }
        Pin::new(&mut self.pty).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.pty).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.pty).poll_shutdown(cx)
    }
}
