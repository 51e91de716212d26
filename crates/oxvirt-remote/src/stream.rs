//! [`IncomingStream`]: the client end of a stream the daemon sends (`virNetClientStream`
//! reading): data packets until the empty CONTINUE that ends the data, then the client
//! finishes with OK and waits for the daemon's OK; or it aborts with ERROR (no payload, as
//! libvirt's client sends it) and waits for the confirmation.

use std::sync::Arc;

use oxvirt_rpc::stream::{self as rpc, Event, StreamState};
use oxvirt_rpc::{Header, Packet};
use oxvirt_xml::VirError;
use tokio::sync::mpsc;

use crate::connection::{socket_closed, Shared};

/// What a sparse stream carries next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Data bytes.
    Data(Vec<u8>),
    /// A hole of this many bytes (STREAM_HOLE).
    Hole(u64),
}

/// A stream the daemon sends after replying to a stream procedure (or, for an upload,
/// the one the client sends).
pub struct IncomingStream {
    shared: Arc<Shared>,
    call: Header,
    rx: mpsc::UnboundedReceiver<Packet>,
    state: StreamState,
    /// Handed over by [`IncomingStream::into_parts`]: dropping does nothing.
    detached: bool,
}

impl std::fmt::Debug for IncomingStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IncomingStream")
            .field("procedure", &self.call.procedure)
            .field("serial", &self.call.serial)
            .field("phase", &self.state.phase())
            .finish()
    }
}

impl IncomingStream {
    pub(crate) fn new(
        shared: Arc<Shared>,
        call: Header,
        rx: mpsc::UnboundedReceiver<Packet>,
    ) -> Self {
        IncomingStream {
            shared,
            call,
            rx,
            state: StreamState::new(),
            detached: false,
        }
    }

    /// The connection, the CALL and the stream's packets, for a stream served another
    /// way (a console); whoever takes them unregisters the stream when done.
    pub(crate) fn into_parts(mut self) -> (Arc<Shared>, Header, mpsc::UnboundedReceiver<Packet>) {
        self.detached = true;
        let (_, closed) = mpsc::unbounded_channel();
        let rx = std::mem::replace(&mut self.rx, closed);
        (Arc::clone(&self.shared), self.call, rx)
    }

    /// The next packet of the stream; the connection's end is an error.
    async fn next_packet(&mut self) -> Result<Packet, VirError> {
        match self.rx.recv().await {
            Some(p) => Ok(p),
            None => {
                self.state.close();
                Err(socket_closed())
            }
        }
    }

    /// The next data bytes; `None` once the data ended (then [`IncomingStream::finish`]).
    /// The daemon's abort is its error.
    pub async fn recv(&mut self) -> Result<Option<Vec<u8>>, VirError> {
        loop {
            if self.state.phase() != rpc::Phase::Open {
                return Ok(None);
            }
            let p = self.next_packet().await?;
            match self.state.on_packet(&p) {
                Event::Data(bytes) => return Ok(Some(bytes)),
                Event::Eof => return Ok(None),
                Event::Abort(err) | Event::Failed(err) => return Err(err),
                // A finish from the sender: nothing more will come.
                Event::Finish | Event::Confirmed => return Ok(None),
                Event::Hole(_) | Event::Ignore => {}
            }
        }
    }

    /// The next data bytes or hole of a sparse stream (`virStreamRecvFlags` with
    /// `VIR_STREAM_RECV_STOP_AT_HOLE`, `virStreamRecvHole`); `None` once the data ended.
    pub async fn recv_piece(&mut self) -> Result<Option<Piece>, VirError> {
        loop {
            if self.state.phase() != rpc::Phase::Open {
                return Ok(None);
            }
            let p = self.next_packet().await?;
            match self.state.on_packet(&p) {
                Event::Data(bytes) => return Ok(Some(Piece::Data(bytes))),
                Event::Hole(len) => return Ok(Some(Piece::Hole(len))),
                Event::Eof | Event::Finish | Event::Confirmed => return Ok(None),
                Event::Abort(err) | Event::Failed(err) => return Err(err),
                Event::Ignore => {}
            }
        }
    }

    /// `virStreamSend`: `bytes` to the daemon, in packets of at most 262,120 bytes.
    pub fn send_data(&self, bytes: &[u8]) -> Result<(), VirError> {
        for piece in rpc::chunks(bytes) {
            let p = rpc::data(&self.call, piece.to_vec());
            self.shared.send_packet(p.header, p.payload)?;
        }
        Ok(())
    }

    /// One data packet (at most 262,120 bytes) holding `credit` of a window until the
    /// connection has written it.
    pub(crate) fn send_data_paced(
        &self,
        bytes: Vec<u8>,
        credit: tokio::sync::OwnedSemaphorePermit,
    ) -> Result<(), VirError> {
        let p = rpc::data(&self.call, bytes);
        self.shared.send_packet_paced(p.header, p.payload, credit)
    }

    /// `virStreamSendHole`: a hole of `length` bytes (only in a sparse stream).
    pub fn send_hole(&self, length: u64) -> Result<(), VirError> {
        let p = oxvirt_rpc::remote::stream_hole(&self.call, length);
        self.shared.send_packet(p.header, p.payload)
    }

    /// Waits for the daemon to abort the stream this end sends (its error), or for the
    /// connection to end; anything else the daemon sends meanwhile is dropped.
    pub async fn aborted(&mut self) -> VirError {
        loop {
            let p = match self.next_packet().await {
                Ok(p) => p,
                Err(err) => return err,
            };
            match self.state.on_packet(&p) {
                Event::Abort(err) | Event::Failed(err) => return err,
                _ if self.state.is_closed() => return socket_closed(),
                _ => {}
            }
        }
    }

    /// Sends a close (`status` OK finishes, ERROR aborts) and waits for the daemon's
    /// answer.
    async fn close_with(mut self, finish: bool) -> Result<(), VirError> {
        if self.state.is_closed() {
            return Ok(());
        }
        let p = if finish {
            rpc::finish(&self.call)
        } else {
            rpc::abort(&self.call, None)
        };
        self.shared.send_packet(p.header, p.payload)?;
        self.state.sent_close();
        loop {
            let p = self.next_packet().await?;
            match self.state.on_packet(&p) {
                Event::Confirmed => return Ok(()),
                Event::Failed(err) => return Err(err),
                _ if self.state.is_closed() => return Ok(()),
                _ => {}
            }
        }
    }

    /// `virStreamFinish`: tells the daemon the client is done and waits for its
    /// confirmation.
    pub async fn finish(self) -> Result<(), VirError> {
        self.close_with(true).await
    }

    /// `virStreamAbort`: stops the stream early and waits for the daemon's confirmation.
    pub async fn abort(self) -> Result<(), VirError> {
        self.close_with(false).await
    }

    /// Reads everything up to the end of the data, then finishes (`virStreamRecvAll` and
    /// `virStreamFinish`).
    pub async fn recv_all(mut self) -> Result<Vec<u8>, VirError> {
        let mut all = Vec::new();
        while let Some(bytes) = self.recv().await? {
            all.extend_from_slice(&bytes);
        }
        self.finish().await?;
        Ok(all)
    }
}

impl Drop for IncomingStream {
    fn drop(&mut self) {
        if self.detached {
            return;
        }
        self.shared.remove_stream(self.call.serial);
        // Left unfinished: the daemon is told to stop (its confirmation is dropped).
        if !self.state.is_closed() {
            let p = rpc::abort(&self.call, None);
            let _ = self.shared.send_packet(p.header, p.payload);
        }
    }
}
