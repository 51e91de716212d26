//! Packet framing: a length word, the 24-byte header, then the payload.
//!
//! The length word counts itself. `*_WITH_FDS` packets carry a u32 descriptor count between
//! the header and the payload (the descriptors themselves travel out of band).

use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use crate::xdr::{Reader, XdrDecode, XdrEncode, XdrError};
use crate::Xdr;

/// The REMOTE program (the libvirt API).
pub const PROGRAM_REMOTE: u32 = 0x2000_8086;
/// The QEMU program (monitor passthrough and friends).
pub const PROGRAM_QEMU: u32 = 0x2000_8087;
/// The LXC program.
pub const PROGRAM_LXC: u32 = 0x0006_8000;
/// The keepalive program, `"keep"`.
pub const PROGRAM_KEEPALIVE: u32 = 0x6b65_6570;
/// The version every program above speaks.
pub const PROTOCOL_VERSION: u32 = 1;
/// Keepalive PING (type MESSAGE, serial 0, empty body).
pub const KEEPALIVE_PING: i32 = 1;
/// Keepalive PONG.
pub const KEEPALIVE_PONG: i32 = 2;

/// Bytes in the length word.
pub const LEN_SIZE: usize = 4;
/// Bytes in the header.
pub const HEADER_SIZE: usize = 24;
/// The longest body (everything after the length word): 32 MiB.
pub const MAX_BODY: usize = 32 * 1024 * 1024;
/// The longest payload: 33,554,408 bytes.
pub const MAX_PAYLOAD: usize = MAX_BODY - HEADER_SIZE;
/// The most descriptors one packet may pass.
pub const MAX_FDS: u32 = 32;

/// `virNetMessageType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Xdr)]
#[repr(i32)]
pub enum MessageType {
    /// A client's call; expects a REPLY.
    Call = 0,
    /// The answer to a CALL.
    Reply = 1,
    /// An unsolicited message (events, keepalive).
    Message = 2,
    /// Stream data or control.
    Stream = 3,
    /// A CALL passing file descriptors.
    CallWithFds = 4,
    /// A REPLY passing file descriptors.
    ReplyWithFds = 5,
    /// A hole in a sparse stream.
    StreamHole = 6,
}

impl MessageType {
    /// Whether a descriptor count follows the header.
    pub fn has_fds(self) -> bool {
        matches!(self, MessageType::CallWithFds | MessageType::ReplyWithFds)
    }
}

/// `virNetMessageStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Xdr)]
#[repr(i32)]
pub enum MessageStatus {
    /// Success (and every CALL).
    Ok = 0,
    /// Failure; the payload is a `remote_error`.
    Error = 1,
    /// More stream data follows.
    Continue = 2,
}

/// `virNetMessageHeader`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Xdr)]
pub struct Header {
    /// The program (`PROGRAM_REMOTE`...).
    pub prog: u32,
    /// The program version (1).
    pub vers: u32,
    /// The procedure number.
    pub procedure: i32,
    /// What kind of message this is.
    pub kind: MessageType,
    /// Chosen by the caller; replies and stream packets echo it.
    pub serial: u32,
    /// OK, ERROR or CONTINUE.
    pub status: MessageStatus,
}

/// Why bytes from a peer are not a valid packet. Any of these ends that connection only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    /// The length word is smaller than a length word plus a header.
    #[error("packet {len} bytes received from client too small, want {min}")]
    TooSmall {
        /// The length announced.
        len: u32,
        /// The smallest valid length.
        min: usize,
    },
    /// The length word is beyond the protocol's limit.
    #[error("packet {len} bytes received from client too large, want {max}")]
    TooLarge {
        /// The length announced.
        len: u64,
        /// The largest valid length.
        max: usize,
    },
    /// The header holds an unknown message type or status.
    #[error("Unable to decode message header: {0}")]
    Header(XdrError),
    /// A `*_WITH_FDS` packet has no room for its descriptor count.
    #[error("Unable to decode number of FDs")]
    MissingFdCount,
    /// A `*_WITH_FDS` packet announces too many descriptors.
    #[error("Received too many FDs {count}, expected {max} maximum")]
    TooManyFds {
        /// The count announced.
        count: u32,
        /// The most allowed.
        max: u32,
    },
}

impl From<&PacketError> for VirError {
    /// `VIR_ERR_RPC` from `VIR_FROM_RPC`, as libvirt reports framing failures.
    fn from(err: &PacketError) -> Self {
        VirError::new(ErrorDomain::Rpc, ErrorCode::Rpc, err.to_string())
    }
}

/// One whole packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// The header.
    pub header: Header,
    /// How many descriptors follow out of band; on the wire only for `*_WITH_FDS` types
    /// (ignored and decoded as 0 for the others).
    pub fds: u32,
    /// The XDR-encoded arguments, results, error or stream data.
    pub payload: Vec<u8>,
}

impl Packet {
    /// A packet without descriptors.
    pub fn new(header: Header, payload: Vec<u8>) -> Self {
        Packet {
            header,
            fds: 0,
            payload,
        }
    }

    /// The body length (everything after the length word).
    fn body_len(&self) -> usize {
        let fd_word = if self.header.kind.has_fds() { 4 } else { 0 };
        HEADER_SIZE + fd_word + self.payload.len()
    }

    /// The packet's bytes, length word first. Fails if the body would exceed [`MAX_BODY`]
    /// or the descriptor count [`MAX_FDS`], which the peer would reject.
    pub fn encode(&self) -> Result<Vec<u8>, PacketError> {
        let body = self.body_len();
        if body > MAX_BODY {
            return Err(PacketError::TooLarge {
                len: (body + LEN_SIZE) as u64,
                max: MAX_BODY + LEN_SIZE,
            });
        }
        let has_fds = self.header.kind.has_fds();
        if has_fds && self.fds > MAX_FDS {
            return Err(PacketError::TooManyFds {
                count: self.fds,
                max: MAX_FDS,
            });
        }
        let mut out = Vec::with_capacity(LEN_SIZE + body);
        ((LEN_SIZE + body) as u32).encode(&mut out);
        self.header.encode(&mut out);
        if has_fds {
            self.fds.encode(&mut out);
        }
        out.extend_from_slice(&self.payload);
        Ok(out)
    }

    /// Decodes a body (everything after the length word).
    pub fn decode_body(body: &[u8]) -> Result<Packet, PacketError> {
        let mut r = Reader::new(body);
        let header = Header::decode(&mut r).map_err(PacketError::Header)?;
        let fds = if header.kind.has_fds() {
            let count = u32::decode(&mut r).map_err(|_| PacketError::MissingFdCount)?;
            if count > MAX_FDS {
                return Err(PacketError::TooManyFds {
                    count,
                    max: MAX_FDS,
                });
            }
            count
        } else {
            0
        };
        Ok(Packet {
            header,
            fds,
            payload: r.rest().to_vec(),
        })
    }
}

/// Turns a byte stream into packets: feed it what the socket gives, take whole packets out.
///
/// A bad length word is reported as soon as its 4 bytes arrive, before any body is
/// buffered. After an error the stream cannot be resynchronised: close the connection.
#[derive(Debug, Default)]
pub struct PacketDecoder {
    buf: Vec<u8>,
}

impl PacketDecoder {
    /// An empty decoder.
    pub fn new() -> Self {
        PacketDecoder::default()
    }

    /// Appends bytes read from the peer.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes buffered but not yet returned as packets.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The next whole packet, `Ok(None)` if more bytes are needed.
    pub fn next_packet(&mut self) -> Result<Option<Packet>, PacketError> {
        let Some(word) = self.buf.first_chunk::<LEN_SIZE>() else {
            return Ok(None);
        };
        let len = check_length(u32::from_be_bytes(*word))?;
        if self.buf.len() < len {
            return Ok(None);
        }
        let packet = Packet::decode_body(&self.buf[LEN_SIZE..len])?;
        self.buf.drain(..len);
        Ok(Some(packet))
    }
}

/// Checks a packet's length word (which counts itself) as soon as it arrives: at least a
/// header, at most [`MAX_BODY`] after the word, so nothing larger is ever buffered.
pub fn check_length(len: u32) -> Result<usize, PacketError> {
    let min = LEN_SIZE + HEADER_SIZE;
    if (len as usize) < min {
        return Err(PacketError::TooSmall { len, min });
    }
    let max = LEN_SIZE + MAX_BODY;
    if len as usize > max {
        return Err(PacketError::TooLarge {
            len: u64::from(len),
            max,
        });
    }
    Ok(len as usize)
}

#[cfg(test)]
#[path = "packet_tests.rs"]
mod tests;
