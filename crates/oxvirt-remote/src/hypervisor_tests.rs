//! The node and placement calls of the remote client against a scripted daemon: the
//! procedures libvirt's client sends, count-first statistics, and its limits.

#![allow(clippy::unwrap_used)]

use oxvirt_domain::driver::{CpuMap, DomainRef, Hypervisor};
use oxvirt_rpc::remote::*;
use oxvirt_rpc::xdr::{decode_from, encode_to_vec, Opaque};
use oxvirt_rpc::{Header, MessageStatus, MessageType, Packet, PacketDecoder};
use oxvirt_xml::types::Uuid;
use oxvirt_xml::ErrorCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

use crate::driver::RemoteDriver;

/// Answers each expected procedure with its payload, after the open handshake.
async fn daemon(mut io: DuplexStream, steps: Vec<(i32, Vec<u8>)>) -> Vec<Packet> {
    let handshake = vec![
        (
            66,
            encode_to_vec(&AuthListRet {
                types: vec![AuthType::None],
            }),
        ),
        (60, encode_to_vec(&0i32)),
        (1, Vec::new()),
        (110, encode_to_vec(&"test:///default".to_owned())),
        (3, encode_to_vec(&"TEST".to_owned())),
    ];
    let mut dec = PacketDecoder::new();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    for (want, payload) in handshake.into_iter().chain(steps) {
        let p = loop {
            if let Some(p) = dec.next_packet().unwrap() {
                break p;
            }
            let n = io.read(&mut buf).await.unwrap();
            if n == 0 {
                return seen;
            }
            dec.feed(&buf[..n]);
        };
        assert_eq!(p.header.procedure, want);
        let h = Header {
            kind: MessageType::Reply,
            status: MessageStatus::Ok,
            ..p.header
        };
        io.write_all(&Packet::new(h, payload).encode().unwrap())
            .await
            .unwrap();
        seen.push(p);
    }
    seen
}

fn dom() -> DomainRef {
    DomainRef {
        name: "test".into(),
        uuid: Uuid::from([1; 16]),
        id: 1,
    }
}

#[tokio::test]
async fn cpu_stats_ask_the_count_then_the_values() {
    let (client, server) = tokio::io::duplex(1 << 16);
    let stat = |f: &str, v| NodeGetCpuStats {
        field: f.into(),
        value: v,
    };
    let srv = tokio::spawn(daemon(
        server,
        vec![
            (
                227,
                encode_to_vec(&NodeGetCpuStatsRet {
                    params: vec![],
                    nparams: 2,
                }),
            ),
            (
                227,
                encode_to_vec(&NodeGetCpuStatsRet {
                    params: vec![stat("user", 1), stat("kernel", 2)],
                    nparams: 0,
                }),
            ),
        ],
    ));
    let drv = RemoteDriver::open(client, "", 0).await.unwrap();
    let stats = drv.node_cpu_stats(-1, 0).await.unwrap();
    assert_eq!(stats, [("user".to_owned(), 1), ("kernel".to_owned(), 2)]);
    drop(drv);
    let seen = srv.await.unwrap();
    let first: NodeGetCpuStatsArgs = decode_from(&seen[5].payload).unwrap();
    let second: NodeGetCpuStatsArgs = decode_from(&seen[6].payload).unwrap();
    assert_eq!((first.cpu_num, first.nparams), (-1, 0));
    assert_eq!(second.nparams, 2);
}

#[tokio::test]
async fn vcpu_maps_are_split_and_checked() {
    let (client, server) = tokio::io::duplex(1 << 16);
    let info = |n| VcpuInfoWire {
        number: n,
        state: 1,
        cpu_time: 5,
        cpu: 0,
    };
    let srv = tokio::spawn(daemon(
        server,
        vec![
            (
                20,
                encode_to_vec(&DomainGetVcpusRet {
                    info: vec![info(0), info(1)],
                    cpumaps: Opaque(vec![1, 0, 2, 0]),
                }),
            ),
            (
                20,
                encode_to_vec(&DomainGetVcpusRet {
                    info: vec![info(0), info(1), info(2)],
                    cpumaps: Opaque(vec![]),
                }),
            ),
        ],
    ));
    let drv = RemoteDriver::open(client, "", 0).await.unwrap();
    let (v, maps) = drv.vcpu_info(&dom(), 2, 2).await.unwrap();
    assert_eq!(v.len(), 2);
    assert_eq!(maps, [CpuMap(vec![1, 0]), CpuMap(vec![2, 0])]);
    let err = drv.vcpu_info(&dom(), 2, 2).await.unwrap_err();
    assert_eq!(
        (err.code, err.message.as_str()),
        (ErrorCode::Rpc, "host reports too many vCPUs: 3 > 2")
    );
    // over the protocol's limits: refused before anything is sent
    let err = drv.vcpu_info(&dom(), 16385, 1).await.unwrap_err();
    assert_eq!(err.message, "vCPU count exceeds maximum: 16385 > 16384");
    let err = drv.vcpu_info(&dom(), 16384, 1024).await.unwrap_err();
    assert_eq!(
        err.message,
        "vCPU map buffer length exceeds maximum: 16777216 > 8388608"
    );
    let err = drv.node_free_pages(&[4; 600], 0, 2, 0).await.unwrap_err();
    assert_eq!(err.message, "too many NUMA cells: 1200 > 1024");
    drop(drv);
    assert_eq!(srv.await.unwrap().len(), 7);
}
