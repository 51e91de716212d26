//! RPC framing: arbitrary bytes fed to the packet decoder, in two pieces split where the
//! first byte says. Every packet it returns re-encodes to exactly the bytes it came from,
//! and a payload that decodes as a `remote_error` survives an encode/decode round trip.

#![no_main]

use libfuzzer_sys::fuzz_target;
use oxvirt_rpc::xdr::{decode_from, encode_to_vec};
use oxvirt_rpc::{PacketDecoder, RemoteError};

fuzz_target!(|data: &[u8]| {
    let Some((&split, data)) = data.split_first() else {
        return;
    };
    let split = usize::from(split).min(data.len());
    let mut decoder = PacketDecoder::new();
    let mut offset = 0;
    for part in [&data[..split], &data[split..]] {
        decoder.feed(part);
        loop {
            let packet = match decoder.next_packet() {
                Ok(Some(packet)) => packet,
                Ok(None) | Err(_) => break,
            };
            let bytes = packet.encode().expect("a decoded packet re-encodes");
            assert_eq!(&data[offset..offset + bytes.len()], &bytes[..]);
            offset += bytes.len();
            if let Ok(err) = decode_from::<RemoteError>(&packet.payload) {
                let again = decode_from::<RemoteError>(&encode_to_vec(&err));
                assert_eq!(again.as_ref(), Ok(&err));
            }
        }
    }
});
