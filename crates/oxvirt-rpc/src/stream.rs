//! RPC streams (`virNetClientStream`, the daemon's `daemonClientStream`): after the CALL's
//! normal REPLY, data moves as type STREAM packets carrying the call's procedure and
//! serial. CONTINUE carries raw bytes (at most [`STREAM_CHUNK`] a packet), CONTINUE with
//! no bytes is the end of the data, the receiver then finishes with OK and the sender
//! confirms with an empty OK. Either side may abort with ERROR: the daemon attaches a
//! `remote_error`, the C client sends none; an abort is confirmed with an empty OK too.

use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use crate::error::RemoteError;
use crate::packet::{Header, MessageStatus, MessageType, Packet};
use crate::types::NonnullDomain;
use crate::xdr::{decode_from, encode_to_vec};
use crate::Xdr;

/// `remote_domain_screenshot_args`: the arguments of procedure 211
/// (`REMOTE_PROC_DOMAIN_SCREENSHOT`), whose image follows the reply as a stream.
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainScreenshotArgs {
    /// The domain.
    pub dom: NonnullDomain,
    /// The console's screen number.
    pub screen: u32,
    /// The call's flags.
    pub flags: u32,
}

/// `remote_domain_screenshot_ret`: the image's MIME type.
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainScreenshotRet {
    /// The MIME type (`remote_string`: may be absent).
    pub mime: Option<String>,
}

/// `remote_domain_open_console_args`: the arguments of procedure 201
/// (`REMOTE_PROC_DOMAIN_OPEN_CONSOLE`). Its reply carries nothing; the console's data then
/// flows both ways as a stream.
#[derive(Debug, Clone, PartialEq, Eq, Xdr)]
pub struct DomainOpenConsoleArgs {
    /// The domain.
    pub dom: NonnullDomain,
    /// The console's alias (`remote_string`: absent for the first console).
    pub dev_name: Option<String>,
    /// `virDomainConsoleFlags`.
    pub flags: u32,
}

/// The most data bytes one stream packet carries (`VIR_NET_MESSAGE_LEGACY_PAYLOAD_MAX`,
/// the daemon's read size).
pub const STREAM_CHUNK: usize = 262_120;

/// `data` cut into stream packet payloads of at most [`STREAM_CHUNK`] bytes (none for no
/// data: the end-of-data packet is separate).
pub fn chunks(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    data.chunks(STREAM_CHUNK)
}

/// A STREAM packet for the stream opened by `call` with `status` and `payload`.
fn packet(call: &Header, status: MessageStatus, payload: Vec<u8>) -> Packet {
    Packet::new(
        Header {
            kind: MessageType::Stream,
            status,
            ..*call
        },
        payload,
    )
}

/// A data packet (CONTINUE with bytes).
pub fn data(call: &Header, bytes: Vec<u8>) -> Packet {
    packet(call, MessageStatus::Continue, bytes)
}

/// The end of the data (CONTINUE with no bytes).
pub fn eof(call: &Header) -> Packet {
    packet(call, MessageStatus::Continue, Vec::new())
}

/// A finish, or the confirmation of a finish or abort (OK with no bytes).
pub fn finish(call: &Header) -> Packet {
    packet(call, MessageStatus::Ok, Vec::new())
}

/// An abort: ERROR with `err` as a `remote_error`, or with no payload as the C client
/// sends it.
pub fn abort(call: &Header, err: Option<&VirError>) -> Packet {
    let payload = err.map_or_else(Vec::new, |e| encode_to_vec(&RemoteError::from(e)));
    packet(call, MessageStatus::Error, payload)
}

/// Whether `p` belongs to the stream opened by `call` (same program, procedure and
/// serial, type STREAM or STREAM_HOLE).
pub fn belongs_to(call: &Header, p: &Header) -> bool {
    matches!(p.kind, MessageType::Stream | MessageType::StreamHole)
        && p.prog == call.prog
        && p.vers == call.vers
        && p.procedure == call.procedure
        && p.serial == call.serial
}

/// The error a peer's abort stands for: its `remote_error`, or libvirt's words for an
/// abort without one.
pub fn abort_error(payload: &[u8]) -> VirError {
    match decode_from::<RemoteError>(payload) {
        Ok(err) => VirError::from(err),
        Err(_) => VirError::new(
            ErrorDomain::Rpc,
            ErrorCode::Rpc,
            "stream aborted at client request",
        ),
    }
}

/// Where one end of a stream is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Data flows.
    Open,
    /// The end of the data was seen (received, or sent by the sender).
    Eof,
    /// A finish (or abort) was sent; its confirmation is awaited.
    Closing,
    /// Finished, aborted or failed: no packet of this stream means anything any more.
    Closed,
}

/// What a received stream packet asks of this end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Data bytes for the reader.
    Data(Vec<u8>),
    /// The end of the data: the receiver should now finish.
    Eof,
    /// The peer finished (OK): confirm it with [`finish`] and close.
    Finish,
    /// The peer aborted (ERROR, maybe with its error): confirm with [`finish`] and close.
    Abort(VirError),
    /// Our finish or abort was confirmed: the stream is done.
    Confirmed,
    /// The peer reported an error for our finish or abort: the stream is done.
    Failed(VirError),
    /// A hole of this many bytes (sparse streams).
    Hole(u64),
    /// Meaningless in this phase (late data after a close...): drop it.
    Ignore,
}

/// One end of a stream: turns the peer's packets into [`Event`]s and tracks the phase.
#[derive(Debug, Clone)]
pub struct StreamState {
    phase: Phase,
}

impl Default for StreamState {
    fn default() -> Self {
        StreamState::new()
    }
}

impl StreamState {
    /// A stream whose CALL was just answered with OK.
    pub fn new() -> Self {
        StreamState { phase: Phase::Open }
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Whether nothing more can happen on the stream.
    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// Records that this end sent the end of the data.
    pub fn sent_eof(&mut self) {
        if self.phase == Phase::Open {
            self.phase = Phase::Eof;
        }
    }

    /// Records that this end sent a finish or an abort; its confirmation is awaited.
    pub fn sent_close(&mut self) {
        if self.phase != Phase::Closed {
            self.phase = Phase::Closing;
        }
    }

    /// Ends the stream without waiting (the connection went away).
    pub fn close(&mut self) {
        self.phase = Phase::Closed;
    }

    /// What the peer's packet `p` means now, moving the phase on.
    pub fn on_packet(&mut self, p: &Packet) -> Event {
        if self.phase == Phase::Closed {
            return Event::Ignore;
        }
        let closing = self.phase == Phase::Closing;
        match (p.header.kind, p.header.status) {
            (MessageType::StreamHole, _) => {
                if closing {
                    return Event::Ignore;
                }
                match decode_from::<u64>(p.payload.get(..8).unwrap_or_default()) {
                    Ok(len) => Event::Hole(len),
                    Err(_) => Event::Ignore,
                }
            }
            (MessageType::Stream, MessageStatus::Continue) => {
                if closing || self.phase == Phase::Eof && p.payload.is_empty() {
                    Event::Ignore
                } else if p.payload.is_empty() {
                    self.phase = Phase::Eof;
                    Event::Eof
                } else {
                    Event::Data(p.payload.clone())
                }
            }
            (MessageType::Stream, MessageStatus::Ok) => {
                self.phase = Phase::Closed;
                if closing {
                    Event::Confirmed
                } else {
                    Event::Finish
                }
            }
            (_, MessageStatus::Error) => {
                self.phase = Phase::Closed;
                let err = abort_error(&p.payload);
                if closing {
                    Event::Failed(err)
                } else {
                    Event::Abort(err)
                }
            }
            _ => Event::Ignore,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::PROGRAM_REMOTE;

    fn call() -> Header {
        Header {
            prog: PROGRAM_REMOTE,
            vers: 1,
            procedure: 211,
            kind: MessageType::Call,
            serial: 5,
            status: MessageStatus::Ok,
        }
    }

    #[test]
    fn chunks_are_at_most_the_legacy_payload() {
        let data = vec![7u8; STREAM_CHUNK * 2 + 3];
        let sizes: Vec<usize> = chunks(&data).map(<[u8]>::len).collect();
        assert_eq!(sizes, vec![262_120, 262_120, 3]);
        assert_eq!(chunks(&[]).count(), 0);
        assert_eq!(chunks(&data[..STREAM_CHUNK]).count(), 1);
    }

    #[test]
    fn packets_echo_the_call_as_stream_packets() {
        let c = call();
        let d = data(&c, vec![1, 2, 3]);
        assert_eq!(
            d.encode().unwrap(),
            [
                vec![0, 0, 0, 31, 0x20, 0, 0x80, 0x86, 0, 0, 0, 1, 0, 0, 0, 211],
                vec![0, 0, 0, 3, 0, 0, 0, 5, 0, 0, 0, 2, 1, 2, 3],
            ]
            .concat()
        );
        let e = eof(&c);
        assert_eq!(
            (e.header.kind, e.header.status, e.payload.len()),
            (MessageType::Stream, MessageStatus::Continue, 0)
        );
        let f = finish(&c);
        assert_eq!((f.header.status, f.header.serial), (MessageStatus::Ok, 5));
        assert!(abort(&c, None).payload.is_empty());
        let err = VirError::new(ErrorDomain::Rpc, ErrorCode::Rpc, "boom");
        let a = abort(&c, Some(&err));
        assert_eq!(a.header.status, MessageStatus::Error);
        assert_eq!(abort_error(&a.payload).message, "boom");
        assert_eq!(abort_error(&[]).message, "stream aborted at client request");
        assert!(belongs_to(&c, &f.header));
        assert!(!belongs_to(
            &c,
            &Header {
                serial: 6,
                ..f.header
            }
        ));
        assert!(!belongs_to(
            &c,
            &Header {
                procedure: 209,
                ..f.header
            }
        ));
        assert!(!belongs_to(&c, &c));
    }

    #[test]
    fn receiver_reads_data_until_eof_then_finishes() {
        let c = call();
        let mut st = StreamState::new();
        assert_eq!(st.on_packet(&data(&c, vec![9; 4])), Event::Data(vec![9; 4]));
        assert_eq!(st.phase(), Phase::Open);
        assert_eq!(st.on_packet(&eof(&c)), Event::Eof);
        assert_eq!(st.phase(), Phase::Eof);
        assert_eq!(st.on_packet(&eof(&c)), Event::Ignore);
        st.sent_close();
        assert_eq!(st.phase(), Phase::Closing);
        assert_eq!(st.on_packet(&data(&c, vec![1])), Event::Ignore);
        assert_eq!(st.on_packet(&finish(&c)), Event::Confirmed);
        assert!(st.is_closed());
        assert_eq!(st.on_packet(&finish(&c)), Event::Ignore);
    }

    #[test]
    fn sender_is_finished_or_aborted_by_the_peer() {
        let c = call();
        let mut st = StreamState::new();
        st.sent_eof();
        assert_eq!(st.phase(), Phase::Eof);
        assert_eq!(st.on_packet(&finish(&c)), Event::Finish);
        assert!(st.is_closed());

        let mut st = StreamState::new();
        let Event::Abort(err) = st.on_packet(&abort(&c, None)) else {
            panic!("not an abort")
        };
        assert_eq!(err.code, ErrorCode::Rpc);
        assert!(st.is_closed());
        assert_eq!(st.on_packet(&data(&c, vec![1])), Event::Ignore);
    }

    #[test]
    fn an_error_answering_our_finish_fails_the_stream() {
        let c = call();
        let mut st = StreamState::new();
        st.sent_close();
        let err = VirError::new(ErrorDomain::Streams, ErrorCode::Rpc, "x");
        assert!(
            matches!(st.on_packet(&abort(&c, Some(&err))), Event::Failed(e) if e.message.contains('x'))
        );
    }

    #[test]
    fn screenshot_messages_match_libvirtd() {
        // libvirtd 9.0's reply to a test:///default screenshot.
        let r: DomainScreenshotRet = decode_from(b"\0\0\0\x01\0\0\0\timage/png\0\0\0").unwrap();
        assert_eq!(r.mime.as_deref(), Some("image/png"));
        let a = DomainScreenshotArgs {
            dom: NonnullDomain {
                name: "t".into(),
                uuid: [1; 16],
                id: 1,
            },
            screen: 2,
            flags: 3,
        };
        let bytes = encode_to_vec(&a);
        assert_eq!(&bytes[bytes.len() - 8..], &[0, 0, 0, 2, 0, 0, 0, 3]);
        assert_eq!(decode_from::<DomainScreenshotArgs>(&bytes).unwrap(), a);
    }

    #[test]
    fn open_console_args_are_dom_dev_name_flags() {
        let a = DomainOpenConsoleArgs {
            dom: NonnullDomain {
                name: "t".into(),
                uuid: [2; 16],
                id: -1,
            },
            dev_name: Some("serial0".into()),
            flags: 1,
        };
        let bytes = encode_to_vec(&a);
        // name "t" (4 + 4), uuid (16), id (4), then the optional string and the flags.
        assert_eq!(&bytes[28..], b"\0\0\0\x01\0\0\0\x07serial0\0\0\0\0\x01");
        assert_eq!(decode_from::<DomainOpenConsoleArgs>(&bytes).unwrap(), a);
        let none = DomainOpenConsoleArgs {
            dev_name: None,
            flags: 0,
            ..a
        };
        assert_eq!(&encode_to_vec(&none)[28..], &[0u8; 8]);
    }

    #[test]
    fn holes_carry_their_length() {
        let c = call();
        let mut st = StreamState::new();
        let mut payload = encode_to_vec(&5000u64);
        payload.extend_from_slice(&encode_to_vec(&0u32));
        let hole = Packet::new(
            Header {
                kind: MessageType::StreamHole,
                ..data(&c, Vec::new()).header
            },
            payload,
        );
        assert_eq!(st.on_packet(&hole), Event::Hole(5000));
    }
}
