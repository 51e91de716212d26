//! Hostile input against the daemon binary: broken framing, foreign programs, bad types,
//! garbage arguments, oversized strings and a seeded stream of random packets. Throughout, a
//! second connection keeps getting exact answers and the daemon stays up; everything the
//! daemon sends back decodes.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::Shutdown;
use std::time::Duration;

use common::{error_parts, header, Daemon, Raw, RawBytes, NO_ARGS};
use oxvirt_rpc::packet::{PROGRAM_KEEPALIVE, PROGRAM_REMOTE};
use oxvirt_rpc::xdr::decode_from;
use oxvirt_rpc::{Header, MessageStatus, MessageType, Packet, RemoteError};

/// A connection that must keep working: CONNECT_GET_LIB_VERSION answers 9.0.0.
struct Witness(Raw);

impl Witness {
    fn new(d: &Daemon) -> Witness {
        let mut raw = Raw::connect(&d.sock());
        raw.open();
        Witness(raw)
    }

    fn check(&mut self) {
        let p = self.0.roundtrip(157, &NO_ARGS); // CONNECT_GET_LIB_VERSION
        assert_eq!(p.header.status, MessageStatus::Ok);
        assert_eq!(decode_from::<u64>(&p.payload).unwrap(), 9_000_000);
    }
}

fn raw_packet(words: &[u32], payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&((4 + words.len() * 4 + payload.len()) as u32).to_be_bytes());
    for w in words {
        out.extend_from_slice(&w.to_be_bytes());
    }
    out.extend_from_slice(payload);
    out
}

#[test]
fn broken_framing_closes_only_that_connection() {
    let mut d = Daemon::start("hostile-frame");
    let mut witness = Witness::new(&d);
    // A truncated packet, then the client hangs up.
    let mut raw = Raw::connect(&d.sock());
    let full = raw_packet(&[PROGRAM_REMOTE, 1, 66, 0, 1, 0], &[0; 12]);
    raw.send_bytes(&full[..17]);
    raw.stream.shutdown(Shutdown::Write).unwrap();
    assert!(raw.closed());
    witness.check();
    // Length words below 28 and above 32 MiB + 4.
    for len in [0u32, 4, 27, 32 * 1024 * 1024 + 5, u32::MAX] {
        let mut raw = Raw::connect(&d.sock());
        raw.send_bytes(&len.to_be_bytes());
        assert!(raw.closed(), "length {len} did not close the connection");
        witness.check();
    }
    // The largest legal length is accepted and buffered (the connection stays open).
    let mut raw = Raw::connect(&d.sock());
    raw.send_bytes(&(32 * 1024 * 1024 + 4u32).to_be_bytes());
    assert!(raw.recv_within(Duration::from_millis(300)).is_none());
    witness.check();
    assert!(d.alive());
}

#[test]
fn announced_descriptors_that_never_come_close_the_connection() {
    let mut d = Daemon::start("hostile-fds");
    let mut witness = Witness::new(&d);
    // CALL_WITH_FDS (type 4) announcing one descriptor, then bytes with none attached:
    // libvirtd closes such a client when its descriptor read finds no SCM_RIGHTS.
    let mut raw = Raw::connect(&d.sock());
    raw.open();
    let call = raw_packet(&[PROGRAM_REMOTE, 1, 157, 4, 5, 0], &[0, 0, 0, 1]);
    raw.send_bytes(&call);
    raw.send_bytes(&[0]);
    assert!(raw.closed());
    witness.check();
    // Over and over: the daemon holds nothing for such clients.
    for serial in 0..50 {
        let mut raw = Raw::connect(&d.sock());
        let call = raw_packet(&[PROGRAM_REMOTE, 1, 157, 4, serial, 0], &[0, 0, 0, 32]);
        raw.send_bytes(&call);
        raw.send_bytes(&[0; 32]);
        assert!(raw.closed());
    }
    witness.check();
    assert!(d.alive());
}

#[test]
fn foreign_programs_versions_and_types() {
    let mut d = Daemon::start("hostile-prog");
    let mut witness = Witness::new(&d);
    let mut raw = Raw::connect(&d.sock());
    // Unknown program: libvirt's "Cannot find program" error, header echoed.
    raw.send_bytes(&raw_packet(&[0x1234_5678, 1, 3, 0, 41, 0], &[]));
    let p = raw.recv().unwrap();
    assert_eq!(
        (
            p.header.prog,
            p.header.vers,
            p.header.procedure,
            p.header.serial
        ),
        (0x1234_5678, 1, 3, 41)
    );
    assert_eq!(
        error_parts(&p),
        (39, 7, "Cannot find program 305419896 version 1".into())
    );
    // Known program, unknown version.
    raw.send_bytes(&raw_packet(&[PROGRAM_REMOTE, 2, 66, 0, 42, 0], &[]));
    let p = raw.recv().unwrap();
    assert_eq!(
        error_parts(&p),
        (39, 7, "Cannot find program 536903814 version 2".into())
    );
    // A CALL to the keepalive program is not something the server serves either.
    raw.send_bytes(&raw_packet(&[PROGRAM_KEEPALIVE, 1, 1, 0, 43, 0], &[]));
    let p = raw.recv().unwrap();
    assert_eq!(
        error_parts(&p),
        (39, 7, "Cannot find program 1801807216 version 1".into())
    );
    // Types a client must not send (REPLY, MESSAGE, STREAM, REPLY_WITH_FDS, STREAM_HOLE, 9)
    // and an unknown status on a MESSAGE are dropped without an answer.
    for kind in [1u32, 2, 3, 6, 9, 0xffff_ffff] {
        raw.send_bytes(&raw_packet(&[PROGRAM_REMOTE, 1, 66, kind, 50, 0], &[0; 8]));
    }
    raw.send_bytes(&raw_packet(&[PROGRAM_REMOTE, 1, 66, 5, 51, 0, 0], &[]));
    raw.send_bytes(&raw_packet(&[PROGRAM_REMOTE, 1, 66, 2, 52, 7], &[]));
    // A CALL whose status is not OK gets libvirtd's error, whatever the status.
    for (status, serial) in [(1u32, 53u32), (2, 54), (7, 55), (0xffff_fffe, 56)] {
        raw.send_bytes(&raw_packet(
            &[PROGRAM_REMOTE, 1, 66, 0, serial, status],
            &[],
        ));
        let p = raw.recv().unwrap();
        assert_eq!((p.header.procedure, p.header.serial), (66, serial));
        assert_eq!(
            error_parts(&p),
            (39, 7, format!("Unexpected message status {status}"))
        );
    }
    // An odd status on a CALL to an unknown program: the program is checked first.
    raw.send_bytes(&raw_packet(&[0x99, 1, 66, 0, 57, 9], &[]));
    let p = raw.recv().unwrap();
    assert_eq!(
        error_parts(&p),
        (39, 7, "Cannot find program 153 version 1".into())
    );
    // The next packet is the answer to the next call: nothing was sent for the others.
    let p = raw.roundtrip(66, &NO_ARGS);
    assert_eq!(p.header.status, MessageStatus::Ok);
    witness.check();
    assert!(d.alive());
}

#[test]
fn garbage_arguments_get_an_error_and_the_connection_stays() {
    let mut d = Daemon::start("hostile-args");
    let mut witness = Witness::new(&d);
    let mut raw = Raw::connect(&d.sock());
    raw.open();
    // DOMAIN_LOOKUP_BY_NAME with 3 bytes of arguments.
    let p = raw.roundtrip(23, &RawBytes(vec![1, 2, 3]));
    let (code, domain, message) = error_parts(&p);
    assert_eq!((code, domain), (39, 7));
    assert!(
        message.starts_with("Unable to decode message payload"),
        "{message}"
    );
    // A string one byte over 4 MiB.
    let len = 4 * 1024 * 1024 + 1;
    let mut args = (len as u32).to_be_bytes().to_vec();
    args.resize(4 + len + 3, b'a');
    let p = raw.roundtrip(23, &RawBytes(args));
    let (code, domain, message) = error_parts(&p);
    assert_eq!((code, domain), (39, 7));
    assert!(
        message.starts_with("Unable to decode message payload"),
        "{message}"
    );
    // A string length far beyond the packet.
    let p = raw.roundtrip(23, &RawBytes(0x7fff_fff0u32.to_be_bytes().to_vec()));
    assert_eq!(error_parts(&p).0, 39);
    // An unknown procedure.
    let p = raw.roundtrip(9999, &NO_ARGS);
    assert_eq!(error_parts(&p), (39, 7, "unknown procedure: 9999".into()));
    // Still usable.
    let p = raw.roundtrip(23, &"test".to_owned());
    assert_eq!(p.header.status, MessageStatus::Ok);
    witness.check();
    assert!(d.alive());
}

/// xorshift64*: a small deterministic generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn random_packet(rng: &mut Rng, serial: u32) -> Vec<u8> {
    let prog = match rng.below(4) {
        0 | 1 => PROGRAM_REMOTE,
        2 => PROGRAM_KEEPALIVE,
        _ => rng.next() as u32,
    };
    let vers = if rng.below(8) == 0 {
        rng.next() as u32
    } else {
        1
    };
    // Procedures 1 and 2 (open/close) are left to the fixed cases; the rest run at random.
    let procedure = match rng.below(10) {
        0 => rng.next() as u32,
        _ => 3 + rng.below(445) as u32,
    };
    let kind = match rng.below(10) {
        0..=5 => 0,
        6 => 2,
        7 => 3,
        8 => 4,
        _ => rng.below(16) as u32,
    };
    let status = if rng.below(10) == 0 {
        rng.below(5) as u32
    } else {
        0
    };
    let mut payload: Vec<u8> = (0..rng.below(200)).map(|_| rng.next() as u8).collect();
    if rng.below(3) == 0 {
        // Small, plausible words: counts and lengths that decode.
        for chunk in payload.chunks_mut(4) {
            if chunk.len() == 4 {
                chunk.copy_from_slice(&(rng.below(4) as u32).to_be_bytes());
            }
        }
    }
    if kind == 4 || kind == 5 {
        // A descriptor count of 0: a packet that announces descriptors and sends none
        // closes its connection (as libvirtd's does), which
        // `announced_descriptors_that_never_come_close_the_connection` checks.
        payload.splice(0..0, [0, 0, 0, 0]);
    }
    raw_packet(&[prog, vers, procedure, kind, serial, status], &payload)
}

#[test]
fn a_thousand_random_packets() {
    let mut d = Daemon::start("hostile-random");
    let mut witness = Witness::new(&d);
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut replies = 0;
    for batch in 0..10 {
        let mut raw = Raw::connect(&d.sock());
        raw.open();
        for i in 0..100u32 {
            let bytes = random_packet(&mut rng, 1000 + i);
            raw.send_bytes(&bytes);
        }
        // A sentinel AUTH_LIST: every packet up to its reply must decode.
        let sentinel = Packet::new(
            Header {
                serial: 0xffff_0000,
                ..header(PROGRAM_REMOTE, 1, 66, 0)
            },
            Vec::new(),
        );
        raw.send_bytes(&sentinel.encode().unwrap());
        loop {
            let Some(p) = raw.recv() else {
                panic!("batch {batch}: connection closed before the sentinel")
            };
            assert!(
                matches!(p.header.kind, MessageType::Reply | MessageType::Message),
                "{:?}",
                p.header
            );
            if p.header.kind == MessageType::Reply && p.header.status == MessageStatus::Error {
                let _: RemoteError = decode_from(&p.payload).unwrap();
            }
            if p.header.kind == MessageType::Reply && p.header.serial == 0xffff_0000 {
                break;
            }
            replies += 1;
        }
        witness.check();
    }
    assert!(replies > 300, "only {replies} replies");
    assert!(d.alive());
}
