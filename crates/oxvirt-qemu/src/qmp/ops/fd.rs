//! Passing a file descriptor to QEMU (`getfd` / `closefd`), as libvirt hands QEMU a save
//! file or a migration stream.
//!
//! QEMU's monitor keeps the descriptors that arrive as `SCM_RIGHTS` with the bytes of a
//! command; `getfd` then files the (last) received descriptor under a name, which later
//! commands use (`migrate` with `uri: "fd:NAME"`). The descriptor therefore travels in the
//! same `sendmsg` as the first bytes of the `getfd` command itself. Only a real unix socket
//! can carry it: over the generic streams of [`Qmp::handshake`] `send_fd` fails.

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::io::Errno;
use rustix::net::{sendmsg, SendAncillaryBuffer, SendAncillaryMessage, SendFlags};
use serde_json::json;
use tokio::io::{AsyncWrite, Interest};
use tokio::net::unix::OwnedWriteHalf;
use tokio::net::UnixStream;

use crate::qmp::{Qmp, QmpError};

/// The error text of [`Qmp::send_fd`] on a connection that is not a unix socket.
pub(crate) const NOT_UNIX_SOCKET: &str = "Unable to pass FD over non-UNIX socket";

/// The write side of a monitor connection, and the unix socket under it if there is one.
pub(crate) trait MonitorWriter: AsyncWrite + Unpin + Send + 'static {
    /// The unix socket to `sendmsg` descriptors on; `None` for other streams.
    fn unix_stream(&self) -> Option<&UnixStream>;
}

impl MonitorWriter for OwnedWriteHalf {
    fn unix_stream(&self) -> Option<&UnixStream> {
        Some(self.as_ref())
    }
}

impl<S> MonitorWriter for tokio::io::WriteHalf<S>
where
    S: tokio::io::AsyncRead + AsyncWrite + Send + 'static,
{
    fn unix_stream(&self) -> Option<&UnixStream> {
        None
    }
}

/// Sends the start of `bytes` with `fd` attached on `stream` (the writer's
/// [`MonitorWriter::unix_stream`]). `Ok(Some(n))`: `n` bytes went out with the descriptor
/// (the caller writes the rest); `Ok(None)`: not a unix socket, nothing sent.
pub(crate) async fn send_first(
    stream: Option<&UnixStream>,
    bytes: &[u8],
    fd: &OwnedFd,
) -> io::Result<Option<usize>> {
    let Some(stream) = stream else {
        return Ok(None);
    };
    loop {
        stream.writable().await?;
        match stream.try_io(Interest::WRITABLE, || {
            sendmsg_with_fd(stream.as_fd(), bytes, fd.as_fd())
        }) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "sendmsg sent no byte with the file descriptor",
                ))
            }
            Ok(sent) => return Ok(Some(sent)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
}

/// One non-blocking `sendmsg` of `bytes` with one `SCM_RIGHTS` descriptor; `EINTR` retried.
fn sendmsg_with_fd(sock: BorrowedFd<'_>, bytes: &[u8], fd: BorrowedFd<'_>) -> io::Result<usize> {
    let fds = [fd];
    let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !control.push(SendAncillaryMessage::ScmRights(&fds)) {
        return Err(io::Error::other(
            "no room for SCM_RIGHTS in the control buffer",
        ));
    }
    loop {
        match sendmsg(
            sock,
            &[io::IoSlice::new(bytes)],
            &mut control,
            SendFlags::NOSIGNAL | SendFlags::DONTWAIT,
        ) {
            Ok(n) => return Ok(n),
            Err(Errno::INTR) => continue,
            Err(e) => return Err(io::Error::from_raw_os_error(e.raw_os_error())),
        }
    }
}

impl Qmp {
    /// `getfd`: passes a duplicate of `fd` to QEMU, which files it under `name` (a later
    /// `fd:NAME` migration URI or `closefd` refers to it). The caller keeps `fd`. Works only
    /// on a connection made by [`Qmp::connect`] (a unix socket); over other streams it
    /// fails with [`QmpError::Protocol`] and nothing is sent.
    pub async fn send_fd(&self, name: &str, fd: BorrowedFd<'_>) -> Result<(), QmpError> {
        let owned = fd.try_clone_to_owned().map_err(|e| {
            QmpError::Protocol(format!(
                "Unable to duplicate file descriptor: {}",
                crate::qmp::os_error_text(&e)
            ))
        })?;
        self.execute_with("getfd", Some(json!({ "fdname": name })), Some(owned))
            .await
            .map(|_| ())
    }

    /// `closefd`: QEMU closes the descriptor it filed under `name`.
    pub async fn close_fd(&self, name: &str) -> Result<(), QmpError> {
        self.execute("closefd", Some(json!({ "fdname": name })))
            .await
            .map(|_| ())
    }
}
