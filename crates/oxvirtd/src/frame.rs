//! Splits a client's byte stream into packets, as libvirtd reads them.
//!
//! The length word is checked as soon as it arrives (so an oversized packet is refused before
//! any of it is buffered). Unlike [`oxvirt_rpc::PacketDecoder`], a header whose type or
//! status is not one libvirt defines does not end the stream: libvirtd reads those fields as
//! plain integers (answering a CALL with an error, dropping anything else), so the frame is
//! handed back as [`Frame::OddHeader`].

use oxvirt_rpc::packet::{check_length, LEN_SIZE};
use oxvirt_rpc::{Packet, PacketError};

/// A header whose type or status is outside libvirt's enums, read as integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawHeader {
    /// The program.
    pub prog: u32,
    /// The program version.
    pub vers: u32,
    /// The procedure.
    pub procedure: i32,
    /// The message type as sent.
    pub kind: i32,
    /// The serial.
    pub serial: u32,
    /// The status as sent.
    pub status: i32,
}

/// One packet from the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A packet with a valid header.
    Packet(Packet),
    /// A packet whose type or status is not one libvirt defines.
    OddHeader(RawHeader),
}

/// Buffers bytes and cuts them into frames.
#[derive(Debug, Default)]
pub struct Framer {
    buf: Vec<u8>,
    /// Bytes still to drop before the next frame: the one-byte carriers of passed FDs.
    skip: usize,
}

fn word(bytes: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&bytes[at..at + 4]);
    u32::from_be_bytes(w)
}

impl Framer {
    /// An empty framer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends bytes read from the client.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Drops the next `n` bytes of the stream (present or still to come): each FD passed
    /// after a `*_WITH_FDS` packet travels with one dummy byte that is not part of a packet.
    pub fn skip(&mut self, n: usize) {
        self.skip += n;
    }

    /// Whether every byte to skip has arrived (and is dropped now): the descriptors they
    /// carried have then been received too.
    pub fn next_frame_ready(&mut self) -> bool {
        let n = self.skip.min(self.buf.len());
        self.buf.drain(..n);
        self.skip -= n;
        self.skip == 0
    }

    /// The next frame, `Ok(None)` if more bytes are needed; an error ends the connection.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, PacketError> {
        if self.skip > 0 {
            let n = self.skip.min(self.buf.len());
            self.buf.drain(..n);
            self.skip -= n;
            if self.skip > 0 {
                return Ok(None);
            }
        }
        if self.buf.len() < LEN_SIZE {
            return Ok(None);
        }
        let len = check_length(word(&self.buf, 0))?;
        if self.buf.len() < len {
            return Ok(None);
        }
        // Decoded in place, then dropped from the buffer (a byte-wise copy of a 256 KiB
        // stream packet is slow in a debug build).
        let bytes = &self.buf[..len];
        let frame = match Packet::decode_body(&bytes[LEN_SIZE..]) {
            Ok(packet) => Ok(Some(Frame::Packet(packet))),
            Err(PacketError::Header(_)) => {
                let raw = RawHeader {
                    prog: word(bytes, 4),
                    vers: word(bytes, 8),
                    procedure: word(bytes, 12) as i32,
                    kind: word(bytes, 16) as i32,
                    serial: word(bytes, 20),
                    status: word(bytes, 24) as i32,
                };
                Ok(Some(Frame::OddHeader(raw)))
            }
            Err(err) => Err(err),
        };
        self.buf.drain(..len);
        frame
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(kind: i32, status: i32, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let len = (28 + payload.len()) as u32;
        for w in [len, 0x2000_8086, 1, 66, kind as u32, 9, status as u32] {
            out.extend_from_slice(&w.to_be_bytes());
        }
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn frames_come_out_whole_across_feeds() {
        let mut f = Framer::new();
        let bytes = packet(0, 0, &[0, 0, 0, 5]);
        f.feed(&bytes[..10]);
        assert_eq!(f.next_frame().unwrap(), None);
        f.feed(&bytes[10..]);
        let Some(Frame::Packet(p)) = f.next_frame().unwrap() else {
            panic!("no packet")
        };
        assert_eq!((p.header.procedure, p.header.serial), (66, 9));
        assert_eq!(p.payload, vec![0, 0, 0, 5]);
        assert_eq!(f.next_frame().unwrap(), None);
    }

    #[test]
    fn odd_types_and_statuses_come_back_raw() {
        let mut f = Framer::new();
        f.feed(&packet(77, 0, &[]));
        f.feed(&packet(0, 9, &[1, 2, 3, 4]));
        f.feed(&packet(1, 0, &[]));
        let Some(Frame::OddHeader(raw)) = f.next_frame().unwrap() else {
            panic!("odd type not reported")
        };
        assert_eq!((raw.kind, raw.status, raw.procedure), (77, 0, 66));
        let Some(Frame::OddHeader(raw)) = f.next_frame().unwrap() else {
            panic!("odd status not reported")
        };
        assert_eq!((raw.kind, raw.status, raw.serial), (0, 9, 9));
        let Some(Frame::Packet(p)) = f.next_frame().unwrap() else {
            panic!("reply not framed")
        };
        assert_eq!(p.header.kind, oxvirt_rpc::MessageType::Reply);
        assert_eq!(f.next_frame().unwrap(), None);
    }

    #[test]
    fn skipped_bytes_are_dropped_even_before_they_arrive() {
        let mut f = Framer::new();
        let bytes = packet(0, 0, &[]);
        f.feed(&bytes);
        f.feed(&[0]);
        assert!(matches!(f.next_frame().unwrap(), Some(Frame::Packet(_))));
        f.skip(3);
        assert!(!f.next_frame_ready());
        assert_eq!(f.next_frame().unwrap(), None);
        f.feed(&[0]);
        assert!(!f.next_frame_ready());
        f.feed(&[0]);
        f.feed(&bytes);
        assert!(f.next_frame_ready());
        assert!(matches!(f.next_frame().unwrap(), Some(Frame::Packet(_))));
        assert_eq!(f.next_frame().unwrap(), None);
    }

    #[test]
    fn bad_lengths_end_the_stream_before_buffering() {
        let mut f = Framer::new();
        f.feed(&27u32.to_be_bytes());
        assert_eq!(
            f.next_frame().unwrap_err().to_string(),
            "packet 27 bytes received from client too small, want 28"
        );
        let mut f = Framer::new();
        f.feed(&(32 * 1024 * 1024 + 5u32).to_be_bytes());
        assert!(matches!(f.next_frame(), Err(PacketError::TooLarge { .. })));
        let mut f = Framer::new();
        f.feed(&(32 * 1024 * 1024 + 4u32).to_be_bytes());
        assert_eq!(f.next_frame().unwrap(), None);
    }
}
