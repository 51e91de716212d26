//! The client end of `virDomainOpenConsole` (what virsh's console does with its
//! `virStream`): after the empty REPLY, [`ConsoleReader`] yields the data the daemon
//! streams (the guest's output) and [`ConsoleWriter`] sends what is written to it as
//! STREAM data packets (keystrokes).
//!
//! - The guest side closing (the daemon's end of data) is the reader's end of file; the
//!   client then finishes the stream (OK), as virsh does.
//! - Shutting the writer down finishes the stream (`virStreamFinish`); the daemon's
//!   confirmation ends the reader.
//! - The daemon's abort is the reader's error (an `io::Error` wrapping the [`VirError`]).
//! - Dropping both halves of an unfinished console aborts it (`virStreamAbort`).

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use oxvirt_domain::driver::ConsoleIo;
use oxvirt_rpc::stream::{self as rpc, Event, StreamState, STREAM_CHUNK};
use oxvirt_rpc::{Header, Packet};
use oxvirt_xml::VirError;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::mpsc;

use crate::connection::{socket_closed, Shared};
use crate::stream::IncomingStream;

/// What both halves of a console share: the stream's identity, and whether the client
/// already finished or aborted it (or it ended).
struct Link {
    shared: Arc<Shared>,
    call: Header,
    closed: AtomicBool,
}

impl Link {
    /// Sends `p` (a finish or an abort) unless the stream is already closed.
    fn close_with(&self, p: Packet) -> Result<(), VirError> {
        if self.closed.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        self.shared.send_packet(p.header, p.payload)
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.shared.remove_stream(self.call.serial);
        let _ = self.close_with(rpc::abort(&self.call, None));
    }
}

/// The guest's output: the daemon's stream data.
pub struct ConsoleReader {
    link: Arc<Link>,
    rx: mpsc::UnboundedReceiver<Packet>,
    state: StreamState,
    /// Received data not read yet, from `pos`.
    data: Vec<u8>,
    pos: usize,
    ended: bool,
}

/// The guest's input: each write goes out as STREAM data packets.
pub struct ConsoleWriter {
    link: Arc<Link>,
}

impl std::fmt::Debug for ConsoleReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleReader")
            .field("serial", &self.link.call.serial)
            .field("ended", &self.ended)
            .finish()
    }
}

impl std::fmt::Debug for ConsoleWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleWriter")
            .field("serial", &self.link.call.serial)
            .finish()
    }
}

/// The two halves of the console whose stream `stream` is.
pub(crate) fn console_io(stream: IncomingStream) -> ConsoleIo {
    let (reader, writer) = split(stream);
    ConsoleIo {
        reader: Box::new(reader),
        writer: Box::new(writer),
    }
}

/// [`console_io`] with the concrete halves.
pub(crate) fn split(stream: IncomingStream) -> (ConsoleReader, ConsoleWriter) {
    let (shared, call, rx) = stream.into_parts();
    let link = Arc::new(Link {
        shared,
        call,
        closed: AtomicBool::new(false),
    });
    (
        ConsoleReader {
            link: Arc::clone(&link),
            rx,
            state: StreamState::new(),
            data: Vec::new(),
            pos: 0,
            ended: false,
        },
        ConsoleWriter { link },
    )
}

fn io_error(err: VirError) -> io::Error {
    io::Error::other(err)
}

impl AsyncRead for ConsoleReader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.pos < this.data.len() {
                let n = (this.data.len() - this.pos).min(buf.remaining());
                buf.put_slice(&this.data[this.pos..this.pos + n]);
                this.pos += n;
                return Poll::Ready(Ok(()));
            }
            if this.ended {
                return Poll::Ready(Ok(()));
            }
            let Some(p) = std::task::ready!(this.rx.poll_recv(cx)) else {
                this.ended = true;
                this.link.closed.store(true, Ordering::SeqCst);
                return Poll::Ready(Err(io_error(socket_closed())));
            };
            match this.state.on_packet(&p) {
                Event::Data(bytes) => {
                    this.data = bytes;
                    this.pos = 0;
                }
                Event::Eof => {
                    // The guest side closed: finish, as virsh does at the end of data.
                    this.ended = true;
                    let finished = this.link.close_with(rpc::finish(&this.link.call));
                    if let Err(err) = finished {
                        return Poll::Ready(Err(io_error(err)));
                    }
                }
                Event::Finish | Event::Confirmed => {
                    this.ended = true;
                    this.link.closed.store(true, Ordering::SeqCst);
                }
                Event::Abort(err) | Event::Failed(err) => {
                    this.ended = true;
                    this.link.closed.store(true, Ordering::SeqCst);
                    return Poll::Ready(Err(io_error(err)));
                }
                Event::Hole(_) | Event::Ignore => {}
            }
        }
    }
}

impl AsyncWrite for ConsoleWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        if self.link.closed.load(Ordering::SeqCst) {
            return Poll::Ready(Err(io::Error::from(io::ErrorKind::BrokenPipe)));
        }
        let n = buf.len().min(STREAM_CHUNK);
        let p = rpc::data(&self.link.call, buf[..n].to_vec());
        Poll::Ready(
            self.link
                .shared
                .send_packet(p.header, p.payload)
                .map(|()| n)
                .map_err(io_error),
        )
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(
            self.link
                .close_with(rpc::finish(&self.link.call))
                .map_err(io_error),
        )
    }
}

#[cfg(test)]
#[path = "console_tests.rs"]
mod tests;
