#![allow(clippy::unwrap_used)]

use super::*;
use oxvirt_domain::driver::event::StartedDetail;
use oxvirt_rpc::packet::PROGRAM_REMOTE;
use oxvirt_rpc::{Header, MessageStatus, MessageType, Packet, PacketDecoder, RemoteError};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

fn nd() -> NonnullDomain {
    NonnullDomain {
        name: "test".into(),
        uuid: [1; 16],
        id: 1,
    }
}

#[test]
fn lifecycle_message_decodes() {
    let msg = EventMessage {
        procedure: 318,
        payload: encode_to_vec(&CallbackLifecycleMsg {
            callback_id: 4,
            dom: nd(),
            event: 2,
            detail: 0,
        }),
    };
    let ev = decode_event(&msg).unwrap();
    assert_eq!(ev.domain, dref(nd()));
    assert_eq!(
        ev.kind,
        EventKind::Lifecycle(Lifecycle::Started(StartedDetail::Booted))
    );
}

#[test]
fn other_event_messages_decode() {
    let dev = |procedure| EventMessage {
        procedure,
        payload: encode_to_vec(&CallbackDeviceMsg {
            callback_id: 1,
            dom: nd(),
            dev_alias: "ua-x".into(),
        }),
    };
    assert_eq!(
        decode_event(&dev(354)).unwrap().kind,
        EventKind::DeviceAdded {
            alias: "ua-x".into()
        }
    );
    assert_eq!(
        decode_event(&dev(333)).unwrap().kind,
        EventKind::DeviceRemoved {
            alias: "ua-x".into()
        }
    );
    let reboot = EventMessage {
        procedure: 319,
        payload: encode_to_vec(&CallbackDomMsg {
            callback_id: 1,
            dom: nd(),
        }),
    };
    assert_eq!(decode_event(&reboot).unwrap().kind, EventKind::Reboot);
    let balloon = EventMessage {
        procedure: 331,
        payload: encode_to_vec(&CallbackBalloonMsg {
            callback_id: 1,
            dom: nd(),
            actual: 4096,
        }),
    };
    assert_eq!(
        decode_event(&balloon).unwrap().kind,
        EventKind::BalloonChange { actual_kib: 4096 }
    );
    let meta = EventMessage {
        procedure: 379,
        payload: encode_to_vec(&CallbackMetadataMsg {
            callback_id: 1,
            dom: nd(),
            r#type: 2,
            nsuri: Some("http://e/".into()),
        }),
    };
    assert_eq!(
        decode_event(&meta).unwrap().kind,
        EventKind::MetadataChange {
            kind: 2,
            nsuri: Some("http://e/".into())
        }
    );
    let tunable = EventMessage {
        procedure: 346,
        payload: encode_to_vec(&oxvirt_rpc::remote::DomainEventCallbackTunableMsg {
            callback_id: 1,
            dom: nd(),
            params: vec![oxvirt_rpc::remote::TypedParam::new(
                "cputune.emulatorpin",
                oxvirt_rpc::remote::TypedParamValue::String("0-1".into()),
            )],
        }),
    };
    let got = decode_event(&tunable).unwrap();
    assert_eq!(got.kind.id().number(), 17);
    assert_eq!(
        got.kind,
        EventKind::Tunable {
            params: vec![oxvirt_domain::driver::TypedParam::new(
                "cputune.emulatorpin",
                oxvirt_domain::driver::TypedValue::String("0-1".into())
            )]
        }
    );
    // Unknown procedures and truncated payloads are skipped.
    assert_eq!(
        decode_event(&EventMessage {
            procedure: 59,
            payload: vec![]
        }),
        None
    );
    assert_eq!(
        decode_event(&EventMessage {
            procedure: 318,
            payload: vec![0, 0, 0, 1]
        }),
        None
    );
}

/// A scripted daemon: answers each expected procedure with a payload (or an error).
async fn script(mut io: DuplexStream, steps: Vec<(i32, Result<Vec<u8>, VirError>)>) -> Vec<Packet> {
    script_on(&mut io, steps).await
}

async fn script_on(
    io: &mut DuplexStream,
    steps: Vec<(i32, Result<Vec<u8>, VirError>)>,
) -> Vec<Packet> {
    let mut dec = PacketDecoder::new();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    for (want, answer) in steps {
        let p = loop {
            if let Some(p) = dec.next_packet().unwrap() {
                break p;
            }
            let n = io.read(&mut buf).await.unwrap();
            assert!(n > 0, "client hung up before procedure {want}");
            dec.feed(&buf[..n]);
        };
        assert_eq!(p.header.procedure, want);
        let (status, payload) = match answer {
            Ok(b) => (MessageStatus::Ok, b),
            Err(e) => (MessageStatus::Error, encode_to_vec(&RemoteError::from(&e))),
        };
        let h = Header {
            kind: MessageType::Reply,
            status,
            ..p.header
        };
        io.write_all(&Packet::new(h, payload).encode().unwrap())
            .await
            .unwrap();
        seen.push(p);
    }
    seen
}

fn int(v: i32) -> Vec<u8> {
    encode_to_vec(&v)
}

#[tokio::test]
async fn handshake_follows_libvirts_order() {
    let (client, server) = tokio::io::duplex(1 << 16);
    let srv = tokio::spawn(script(
        server,
        vec![
            (
                66,
                Ok(encode_to_vec(&AuthListRet {
                    types: vec![AuthType::None],
                })),
            ),
            (60, Ok(int(0))),
            (1, Ok(vec![])),
            (110, Ok(encode_to_vec(&"test:///default".to_owned()))),
            (3, Ok(encode_to_vec(&"TEST".to_owned()))),
        ],
    ));
    let drv = RemoteDriver::open(client, "", CONNECT_RO).await.unwrap();
    let seen = srv.await.unwrap();
    assert_eq!(
        seen.iter().map(|p| p.header.serial).collect::<Vec<_>>(),
        [0, 1, 2, 3, 4]
    );
    assert!(seen.iter().all(|p| p.header.prog == PROGRAM_REMOTE));
    // SUPPORTS_FEATURE(10), then CONNECT_OPEN("" , RO).
    assert_eq!(seen[1].payload, int(10));
    let open: ConnectOpenArgs = decode_from(&seen[2].payload).unwrap();
    assert_eq!(open.name.as_deref(), Some(""));
    assert_eq!(open.flags, 1);
    assert_eq!(
        oxvirt_domain::driver::Hypervisor::uri(&drv),
        "test:///default"
    );
    assert_eq!(
        oxvirt_domain::driver::Hypervisor::hypervisor_type(&drv),
        "TEST"
    );
}

#[tokio::test]
async fn polkit_is_followed_and_sasl_refused() {
    let (client, server) = tokio::io::duplex(1 << 16);
    let srv = tokio::spawn(script(
        server,
        vec![
            (
                66,
                Ok(encode_to_vec(&AuthListRet {
                    types: vec![AuthType::Polkit],
                })),
            ),
            (70, Ok(int(1))),
            (60, Ok(int(1))),
            (1, Ok(vec![])),
            (3, Ok(encode_to_vec(&"QEMU".to_owned()))),
        ],
    ));
    let drv = RemoteDriver::open(client, "qemu:///system", 0)
        .await
        .unwrap();
    let seen = srv.await.unwrap();
    let open: ConnectOpenArgs = decode_from(&seen[3].payload).unwrap();
    assert_eq!(open.name.as_deref(), Some("qemu:///system"));
    assert_eq!(
        oxvirt_domain::driver::Hypervisor::uri(&drv),
        "qemu:///system"
    );

    let (client, server) = tokio::io::duplex(1 << 16);
    tokio::spawn(script(
        server,
        vec![(
            66,
            Ok(encode_to_vec(&AuthListRet {
                types: vec![AuthType::Sasl],
            })),
        )],
    ));
    let err = RemoteDriver::open(client, "qemu:///system", 0)
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::AuthFailed);
    assert_eq!(err.domain, ErrorDomain::Remote);
    assert!(err
        .message
        .starts_with("authentication failed: unsupported authentication type 1"));
}

#[tokio::test]
async fn open_error_is_the_daemons() {
    let (client, server) = tokio::io::duplex(1 << 16);
    let refusal = VirError::new(ErrorDomain::None, ErrorCode::NoConnect, "xen:///");
    tokio::spawn(script(
        server,
        vec![
            (66, Ok(encode_to_vec(&AuthListRet { types: vec![] }))),
            (60, Ok(int(0))),
            (1, Err(refusal)),
        ],
    ));
    let err = RemoteDriver::open(client, "xen:///", 0).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::NoConnect);
    assert_eq!(err.message, "no connection driver available for xen:///");
}

#[tokio::test]
async fn dropping_the_driver_sends_connect_close_then_hangs_up() {
    let (client, mut server) = tokio::io::duplex(1 << 16);
    let handshake = vec![
        (66, Ok(encode_to_vec(&AuthListRet { types: vec![] }))),
        (60, Ok(int(0))),
        (1, Ok(vec![])),
        (3, Ok(encode_to_vec(&"TEST".to_owned()))),
        (2, Ok(vec![])),
    ];
    let srv = tokio::spawn(async move {
        let seen = script_on(&mut server, handshake).await;
        // After CONNECT_CLOSE the client closes its end.
        let mut rest = Vec::new();
        let n = server.read_to_end(&mut rest).await.unwrap();
        (seen, n)
    });
    let drv = RemoteDriver::open(client, "test:///default", 0)
        .await
        .unwrap();
    drop(drv);
    let (seen, trailing) = srv.await.unwrap();
    assert_eq!(seen.last().unwrap().header.procedure, 2);
    assert_eq!(trailing, 0);
}
