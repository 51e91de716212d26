use proptest::prelude::*;

use super::*;
use crate::error::RemoteError;
use crate::xdr::decode_from;

fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect()
}

fn call(procedure: i32, serial: u32) -> Header {
    Header {
        prog: PROGRAM_REMOTE,
        vers: PROTOCOL_VERSION,
        procedure,
        kind: MessageType::Call,
        serial,
        status: MessageStatus::Ok,
    }
}

#[test]
fn auth_list_call_bytes() {
    let wire = hex("0000001c 20008086 00000001 00000042 00000000 00000000 00000000");
    let packet = Packet::new(call(66, 0), vec![]);
    assert_eq!(packet.encode().unwrap(), wire);
    let mut dec = PacketDecoder::new();
    dec.feed(&wire);
    assert_eq!(dec.next_packet(), Ok(Some(packet)));
    assert_eq!(dec.next_packet(), Ok(None));
    assert_eq!(dec.buffered(), 0);
}

#[test]
fn keepalive_ping_bytes() {
    let ping = Packet::new(
        Header {
            prog: PROGRAM_KEEPALIVE,
            vers: 1,
            procedure: KEEPALIVE_PING,
            kind: MessageType::Message,
            serial: 0,
            status: MessageStatus::Ok,
        },
        vec![],
    );
    let want = hex("0000001c 6b656570 00000001 00000001 00000002 00000000 00000000");
    assert_eq!(ping.encode().unwrap(), want);
}

#[test]
fn with_fds_carries_a_count_word() {
    let mut header = call(443, 7);
    header.kind = MessageType::CallWithFds;
    let packet = Packet {
        header,
        fds: 2,
        payload: vec![0, 0, 0, 5],
    };
    let want =
        hex("00000024 20008086 00000001 000001bb 00000004 00000007 00000000 00000002 00000005");
    assert_eq!(packet.encode().unwrap(), want);
    let mut dec = PacketDecoder::new();
    dec.feed(&want);
    assert_eq!(dec.next_packet(), Ok(Some(packet)));
}

#[test]
fn byte_by_byte_and_back_to_back() {
    let a = Packet::new(call(1, 0), vec![0, 0, 0, 0, 0, 0, 0, 0])
        .encode()
        .unwrap();
    let b = Packet::new(call(2, 1), vec![]).encode().unwrap();
    let stream: Vec<u8> = a.iter().chain(&b).copied().collect();
    let mut dec = PacketDecoder::new();
    let mut got = Vec::new();
    for byte in &stream {
        dec.feed(std::slice::from_ref(byte));
        while let Some(p) = dec.next_packet().unwrap() {
            got.push(p.header.procedure);
        }
    }
    assert_eq!(got, [1, 2]);
}

#[test]
fn error_reply_payload() {
    let vir = VirError::new(ErrorDomain::Rpc, ErrorCode::Rpc, "unknown procedure: 999");
    let payload = crate::xdr::encode_to_vec(&RemoteError::from(&vir));
    let mut header = call(999, 3);
    header.kind = MessageType::Reply;
    header.status = MessageStatus::Error;
    let bytes = Packet::new(header, payload).encode().unwrap();
    let mut dec = PacketDecoder::new();
    dec.feed(&bytes);
    let packet = dec.next_packet().unwrap().unwrap();
    let err: RemoteError = decode_from(&packet.payload).unwrap();
    assert_eq!(VirError::from(err).message, "unknown procedure: 999");
}

#[test]
fn bad_lengths_are_rejected_early() {
    let mut dec = PacketDecoder::new();
    dec.feed(&[0, 0, 0, 27]);
    assert_eq!(
        dec.next_packet(),
        Err(PacketError::TooSmall { len: 27, min: 28 })
    );
    let mut dec = PacketDecoder::new();
    dec.feed(&[0xff, 0xff, 0xff, 0xff]);
    let err = dec.next_packet().unwrap_err();
    assert_eq!(
        err,
        PacketError::TooLarge {
            len: 0xffff_ffff,
            max: 33_554_436
        }
    );
    let vir = VirError::from(&err);
    assert_eq!((vir.code.number(), vir.domain.number()), (39, 7));
    assert_eq!(
        vir.message,
        "packet 4294967295 bytes received from client too large, want 33554436"
    );
    // The largest legal length only waits for more bytes.
    let mut dec = PacketDecoder::new();
    dec.feed(&((4 + MAX_BODY) as u32).to_be_bytes());
    assert_eq!(dec.next_packet(), Ok(None));
    assert_eq!(MAX_PAYLOAD, 33_554_408);
}

#[test]
fn unknown_type_and_status_are_rejected() {
    let mut bad_type = Packet::new(call(1, 0), vec![]).encode().unwrap();
    bad_type[19] = 7;
    let mut dec = PacketDecoder::new();
    dec.feed(&bad_type);
    assert_eq!(
        dec.next_packet(),
        Err(PacketError::Header(XdrError::BadEnum {
            name: "MessageType",
            value: 7
        }))
    );
    let mut bad_status = Packet::new(call(1, 0), vec![]).encode().unwrap();
    bad_status[27] = 3;
    let mut dec = PacketDecoder::new();
    dec.feed(&bad_status);
    assert!(matches!(dec.next_packet(), Err(PacketError::Header(_))));
}

#[test]
fn fd_count_problems() {
    let mut header = call(1, 0);
    header.kind = MessageType::CallWithFds;
    let mut no_count = Packet::new(call(1, 0), vec![]).encode().unwrap();
    no_count[19] = 4;
    let mut dec = PacketDecoder::new();
    dec.feed(&no_count);
    assert_eq!(dec.next_packet(), Err(PacketError::MissingFdCount));
    let too_many = Packet {
        header,
        fds: 33,
        payload: vec![],
    };
    assert_eq!(
        too_many.encode(),
        Err(PacketError::TooManyFds { count: 33, max: 32 })
    );
    let mut bytes = Packet {
        fds: 32,
        ..too_many
    }
    .encode()
    .unwrap();
    bytes[31] = 33;
    let mut dec = PacketDecoder::new();
    dec.feed(&bytes);
    assert_eq!(
        dec.next_packet(),
        Err(PacketError::TooManyFds { count: 33, max: 32 })
    );
}

#[test]
fn oversized_payload_is_not_encoded() {
    let packet = Packet::new(call(1, 0), vec![0; MAX_PAYLOAD + 1]);
    assert!(matches!(packet.encode(), Err(PacketError::TooLarge { .. })));
    let packet = Packet::new(call(1, 0), vec![0; MAX_PAYLOAD]);
    assert_eq!(packet.encode().map(|b| b.len()), Ok(4 + MAX_BODY));
}

fn message_type() -> impl Strategy<Value = MessageType> {
    (0i32..=6).prop_map(|v| match v {
        0 => MessageType::Call,
        1 => MessageType::Reply,
        2 => MessageType::Message,
        3 => MessageType::Stream,
        4 => MessageType::CallWithFds,
        5 => MessageType::ReplyWithFds,
        _ => MessageType::StreamHole,
    })
}

prop_compose! {
    fn packet()(
        prog in any::<u32>(),
        vers in any::<u32>(),
        procedure in any::<i32>(),
        kind in message_type(),
        serial in any::<u32>(),
        status in prop_oneof![
            Just(MessageStatus::Ok), Just(MessageStatus::Error), Just(MessageStatus::Continue)
        ],
        fds in 0..=MAX_FDS,
        payload in proptest::collection::vec(any::<u8>(), 0..40),
    ) -> Packet {
        let header = Header { prog, vers, procedure, kind, serial, status };
        Packet { header, fds: if kind.has_fds() { fds } else { 0 }, payload }
    }
}

proptest! {
    #[test]
    fn packets_round_trip(packets in proptest::collection::vec(packet(), 1..4), split in 0usize..200) {
        let bytes: Vec<u8> = packets.iter().flat_map(|p| p.encode().unwrap()).collect();
        let split = split.min(bytes.len());
        let mut dec = PacketDecoder::new();
        let mut got = Vec::new();
        for part in [&bytes[..split], &bytes[split..]] {
            dec.feed(part);
            while let Some(p) = dec.next_packet().unwrap() {
                got.push(p);
            }
        }
        prop_assert_eq!(got, packets);
        prop_assert_eq!(dec.buffered(), 0);
    }

    #[test]
    fn arbitrary_bytes_reencode(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
        let mut dec = PacketDecoder::new();
        dec.feed(&bytes);
        let mut offset = 0;
        while let Ok(Some(p)) = dec.next_packet() {
            let again = p.encode().unwrap();
            prop_assert_eq!(&bytes[offset..offset + again.len()], &again[..]);
            offset += again.len();
        }
    }
}

#[test]
fn reply_with_fds_count_round_trips_and_plain_types_ignore_it() {
    let mut header = call(443, 3);
    header.kind = MessageType::ReplyWithFds;
    let reply = Packet {
        header,
        fds: 32,
        payload: vec![],
    };
    let bytes = reply.encode().unwrap();
    assert_eq!(
        bytes,
        hex("00000020 20008086 00000001 000001bb 00000005 00000003 00000000 00000020")
    );
    let mut dec = PacketDecoder::new();
    dec.feed(&bytes);
    assert_eq!(dec.next_packet(), Ok(Some(reply)));
    // A count set on a plain CALL is not written, and decodes back as 0.
    let plain = Packet {
        header: call(1, 0),
        fds: 5,
        payload: vec![],
    };
    let bytes = plain.encode().unwrap();
    assert_eq!(bytes.len(), 28);
    dec.feed(&bytes);
    assert_eq!(dec.next_packet(), Ok(Some(Packet::new(call(1, 0), vec![]))));
}
