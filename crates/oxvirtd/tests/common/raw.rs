//! A raw protocol client: packets written and read by hand, for the answers real clients
//! never show.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use oxvirt_rpc::packet::{PROGRAM_KEEPALIVE, PROGRAM_REMOTE};
use oxvirt_rpc::remote::ConnectOpenArgs;
use oxvirt_rpc::xdr::{decode_from, encode_to_vec};
use oxvirt_rpc::{
    Header, MessageStatus, MessageType, Packet, PacketDecoder, RemoteError, XdrEncode,
};

/// How long a read waits by default.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// A raw protocol connection.
pub struct Raw {
    /// The socket.
    pub stream: UnixStream,
    decoder: PacketDecoder,
    serial: u32,
}

impl Raw {
    /// Connects to `path`; reads time out after 10 s.
    pub fn connect(path: &Path) -> Raw {
        let stream = UnixStream::connect(path).unwrap();
        stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        Raw {
            stream,
            decoder: PacketDecoder::new(),
            serial: 0,
        }
    }

    /// A raw connection over an already connected stream (a socket pair to a helper
    /// process); reads time out after 10 s.
    pub fn over(stream: UnixStream) -> Raw {
        stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        Raw {
            stream,
            decoder: PacketDecoder::new(),
            serial: 0,
        }
    }

    /// Writes `bytes` as they are.
    pub fn send_bytes(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// Sends a REMOTE CALL with the given serial.
    pub fn send_call<T: XdrEncode>(&mut self, procedure: i32, serial: u32, args: &T) {
        let p = Packet::new(
            header(PROGRAM_REMOTE, 1, procedure, serial),
            encode_to_vec(args),
        );
        self.send_bytes(&p.encode().unwrap());
    }

    /// Sends a REMOTE CALL with the next serial and returns it.
    pub fn call<T: XdrEncode>(&mut self, procedure: i32, args: &T) -> u32 {
        self.serial += 1;
        self.send_call(procedure, self.serial, args);
        self.serial
    }

    /// The next packet; `None` if the daemon closed the connection (or timed out).
    pub fn recv(&mut self) -> Option<Packet> {
        let mut buf = [0u8; 65536];
        loop {
            if let Some(p) = self
                .decoder
                .next_packet()
                .expect("daemon sent a malformed packet")
            {
                return Some(p);
            }
            match self.stream.read(&mut buf) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.decoder.feed(&buf[..n]),
            }
        }
    }

    /// [`Raw::recv`] waiting at most `timeout` for each read.
    pub fn recv_within(&mut self, timeout: Duration) -> Option<Packet> {
        self.stream.set_read_timeout(Some(timeout)).unwrap();
        let p = self.recv();
        self.stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        p
    }

    /// Calls and returns the reply (skipping events).
    pub fn roundtrip<T: XdrEncode>(&mut self, procedure: i32, args: &T) -> Packet {
        let serial = self.call(procedure, args);
        loop {
            let p = self.recv().expect("connection closed before the reply");
            if p.header.kind == MessageType::Reply {
                assert_eq!((p.header.serial, p.header.procedure), (serial, procedure));
                return p;
            }
        }
    }

    /// Whether the daemon closed the connection within 5 s.
    pub fn closed(&mut self) -> bool {
        self.stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut buf = [0u8; 4096];
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
                Err(_) => return false,
            }
        }
    }

    /// CONNECT_OPEN of test:///default, checked.
    pub fn open(&mut self) {
        self.open_flags(0);
    }

    /// CONNECT_OPEN of test:///default with `flags` (1: read-only), checked.
    pub fn open_flags(&mut self, flags: u32) {
        let args = ConnectOpenArgs {
            name: Some("test:///default".into()),
            flags,
        };
        let p = self.roundtrip(1, &args);
        assert_eq!(p.header.status, MessageStatus::Ok, "open failed");
    }
}

/// Pre-encoded arguments.
pub struct RawBytes(pub Vec<u8>);

/// No arguments at all.
pub const NO_ARGS: RawBytes = RawBytes(Vec::new());

impl XdrEncode for RawBytes {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0);
    }
}

/// The header of a CALL.
pub fn header(prog: u32, vers: u32, procedure: i32, serial: u32) -> Header {
    Header {
        prog,
        vers,
        procedure,
        kind: MessageType::Call,
        serial,
        status: MessageStatus::Ok,
    }
}

/// A keepalive MESSAGE (1: PING, 2: PONG), encoded.
pub fn keepalive_packet(procedure: i32) -> Vec<u8> {
    Packet::new(
        Header {
            kind: MessageType::Message,
            ..header(PROGRAM_KEEPALIVE, 1, procedure, 0)
        },
        Vec::new(),
    )
    .encode()
    .unwrap()
}

/// The error a REPLY carries (which must be an error reply).
pub fn remote_error(p: &Packet) -> RemoteError {
    assert_eq!(p.header.kind, MessageType::Reply);
    assert_eq!(p.header.status, MessageStatus::Error);
    decode_from(&p.payload).unwrap()
}

/// The code, domain and message of the error a REPLY carries.
pub fn error_parts(p: &Packet) -> (i32, i32, String) {
    let e = remote_error(p);
    (e.code, e.domain, e.message.unwrap_or_default())
}
