//! RPC framing: arbitrary bytes fed to the packet decoder, in two pieces split where the
//! first byte says. Every packet it returns re-encodes to exactly the bytes it came from,
//! and a payload that decodes as one of the messages below (errors, the connection
//! handshake, domain definitions and listings, typed parameters, event messages)
//! survives an encode/decode round trip: whatever a hostile peer sends is either refused
//! or read back exactly.

#![no_main]

use libfuzzer_sys::fuzz_target;
use oxvirt_rpc::remote::{
    ConnectGetAllDomainStatsArgs, ConnectListAllDomainsRet, ConnectOpenArgs, DomainDefineXmlArgs,
    DomainEventCallbackLifecycleMsg, DomainGetInfoRet, DomainMigrateBegin3ParamsArgs,
    DomainSnapshotCreateXmlArgs,
};
use oxvirt_rpc::xdr::{decode_from, encode_to_vec};
use oxvirt_rpc::{PacketDecoder, RemoteError, XdrDecode, XdrEncode};

/// If `payload` decodes as a `T`, its encoding decodes again, to a value with the same
/// encoding (compared as bytes: a NaN in a typed parameter is not equal to itself).
fn round_trip<T: XdrDecode + XdrEncode>(payload: &[u8]) {
    if let Ok(value) = decode_from::<T>(payload) {
        let bytes = encode_to_vec(&value);
        let again = decode_from::<T>(&bytes).expect("an encoded value decodes");
        assert_eq!(encode_to_vec(&again), bytes);
    }
}

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
            let p = &packet.payload;
            round_trip::<RemoteError>(p);
            round_trip::<ConnectOpenArgs>(p);
            round_trip::<DomainDefineXmlArgs>(p);
            round_trip::<ConnectListAllDomainsRet>(p);
            round_trip::<DomainGetInfoRet>(p);
            round_trip::<DomainMigrateBegin3ParamsArgs>(p);
            round_trip::<ConnectGetAllDomainStatsArgs>(p);
            round_trip::<DomainSnapshotCreateXmlArgs>(p);
            round_trip::<DomainEventCallbackLifecycleMsg>(p);
        }
    }
});
