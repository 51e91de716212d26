use std::fmt::Debug;

use oxvirt_xml::{ErrorCode, ErrorDomain};

use super::*;
use crate::procedures::RemoteProcedure;
use crate::types::Uuid;
use crate::xdr::{decode_from, encode_to_vec, CharArray, FixedChars, Reader};
use crate::xdr::{XdrDecode, XdrEncode, XdrError};

/// A value whose XDR encoding must decode back to itself, consuming every byte.
pub(super) trait Sample {
    /// `Err` describes the mismatch.
    fn round_trip(&self) -> Result<(), String>;
}

impl<T: XdrEncode + XdrDecode + PartialEq + Debug> Sample for T {
    fn round_trip(&self) -> Result<(), String> {
        let bytes = encode_to_vec(self);
        if bytes.len() % 4 != 0 {
            return Err(format!(
                "{self:?}: {} bytes, not a multiple of 4",
                bytes.len()
            ));
        }
        let mut r = Reader::new(&bytes);
        let back = T::decode(&mut r).map_err(|e| format!("{self:?}: {e}"))?;
        if r.remaining() != 0 {
            return Err(format!("{self:?}: {} bytes left over", r.remaining()));
        }
        if &back != self {
            return Err(format!("{self:?} came back as {back:?}"));
        }
        Ok(())
    }
}

pub(super) const UUID: Uuid = [
    0x66, 0x95, 0xeb, 0x01, 0xf6, 0xa4, 0x83, 0x04, 0x79, 0xaa, 0x97, 0xf2, 0x50, 0x2e, 0x19, 0x3f,
];

pub(super) fn dom() -> NonnullDomain {
    NonnullDomain {
        name: "test".into(),
        uuid: UUID,
        id: 1,
    }
}

pub(super) fn net() -> NonnullNetwork {
    NonnullNetwork {
        name: "default".into(),
        uuid: UUID,
    }
}

pub(super) fn pool() -> NonnullStoragePool {
    NonnullStoragePool {
        name: "default-pool".into(),
        uuid: UUID,
    }
}

pub(super) fn vol() -> NonnullStorageVol {
    NonnullStorageVol {
        pool: "default-pool".into(),
        name: "disk1.img".into(),
        key: "/default-pool/disk1.img".into(),
    }
}

pub(super) fn snap() -> NonnullDomainSnapshot {
    NonnullDomainSnapshot {
        name: "snap1".into(),
        dom: dom(),
    }
}

pub(super) fn params() -> Vec<TypedParam> {
    vec![
        TypedParam::new("i", TypedParamValue::Int(-3)),
        TypedParam::new("ui", TypedParamValue::UInt(u32::MAX)),
        TypedParam::new("l", TypedParamValue::LLong(i64::MIN)),
        TypedParam::new("ul", TypedParamValue::ULLong(u64::MAX)),
        TypedParam::new("d", TypedParamValue::Double(-0.25)),
        TypedParam::new("b", TypedParamValue::Boolean(1)),
        TypedParam::new("s", TypedParamValue::String("migrate_uri".into())),
    ]
}

#[test]
fn every_struct_round_trips() {
    let mut count = 0;
    let mut failures = Vec::new();
    samples::all_samples(|sample| {
        count += 1;
        if let Err(err) = sample.round_trip() {
            failures.push(err);
        }
    });
    assert_eq!(failures, Vec::<String>::new());
    // 74 argument structs and 63 result structs.
    assert_eq!(count, 137);
}

#[test]
fn helper_types_round_trip() {
    let samples: Vec<Box<dyn Sample>> = vec![
        Box::new(dom()),
        Box::new(net()),
        Box::new(pool()),
        Box::new(vol()),
        Box::new(snap()),
        Box::new(params()),
        Box::new(AuthType::Sasl),
        Box::new(DomainStatsRecord {
            dom: dom(),
            params: params(),
        }),
        Box::new(DomainEventLifecycleMsg {
            dom: dom(),
            event: lifecycle_event::CRASHED,
            detail: 0,
        }),
        Box::new(DomainEventCallbackLifecycleMsg {
            callback_id: 3,
            msg: DomainEventLifecycleMsg {
                dom: dom(),
                event: lifecycle_event::STOPPED,
                detail: 1,
            },
        }),
    ];
    for sample in samples {
        assert_eq!(sample.round_trip(), Ok(()));
    }
}

#[test]
fn core_procedures_are_88_distinct_in_order() {
    assert_eq!(CORE_PROCEDURES.len(), 88);
    assert!(CORE_PROCEDURES.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(CORE_PROCEDURES[0], RemoteProcedure::ConnectOpen);
    assert_eq!(CORE_PROCEDURES[87], RemoteProcedure::NetworkDefineXmlFlags);
}

/// The core list must be exactly the procedures in the document's table.
#[test]
fn core_procedures_match_shared_doc() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/docs/protocol-core-procedures.md");
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!("SKIPPED: {} not found", path.display());
        return;
    };
    let rows: Vec<(i32, String)> = text
        .lines()
        .filter_map(|line| {
            let mut cells = line.split('|').map(str::trim).skip(1);
            let number = cells.next()?.parse().ok()?;
            Some((number, format!("REMOTE_PROC_{}", cells.next()?)))
        })
        .collect();
    let ours: Vec<(i32, String)> = CORE_PROCEDURES
        .iter()
        .map(|p| (p.number(), p.name().to_owned()))
        .collect();
    assert_eq!(ours, rows);
}

/// Big-endian length word, the bytes, zero padding to 4.
fn xdr_string(s: &str) -> Vec<u8> {
    let mut out = (s.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(s.as_bytes());
    out.resize(out.len().div_ceil(4) * 4, 0);
    out
}

#[test]
fn connect_open_bytes() {
    let args = ConnectOpenArgs {
        name: Some("qemu:///system".into()),
        flags: 0,
    };
    let mut want = vec![0, 0, 0, 1, 0, 0, 0, 14];
    want.extend_from_slice(b"qemu:///system\0\0");
    want.extend_from_slice(&[0, 0, 0, 0]);
    assert_eq!(encode_to_vec(&args), want);
    assert_eq!(decode_from(&want), Ok(args));
    let null = ConnectOpenArgs {
        name: None,
        flags: 1,
    };
    assert_eq!(encode_to_vec(&null), [0, 0, 0, 0, 0, 0, 0, 1]);
}

#[test]
fn domain_lookup_by_name_bytes() {
    let args = DomainLookupByNameArgs {
        name: "test".into(),
    };
    assert_eq!(encode_to_vec(&args), b"\0\0\0\x04test");
    let ret = DomainLookupByNameRet { dom: dom() };
    let mut want = b"\0\0\0\x04test".to_vec();
    want.extend_from_slice(&UUID);
    want.extend_from_slice(&[0, 0, 0, 1]);
    assert_eq!(encode_to_vec(&ret), want);
    assert_eq!(want.len(), 28);
    assert_eq!(decode_from(&want), Ok(ret));
}

#[test]
fn node_get_info_reply_is_160_bytes() {
    let ret = NodeGetInfoRet {
        model: FixedChars("i686".into()),
        memory: 3_145_728,
        cpus: 16,
        mhz: 1400,
        nodes: 2,
        sockets: 2,
        cores: 2,
        threads: 2,
    };
    let bytes = encode_to_vec(&ret);
    assert_eq!(bytes.len(), 160);
    let mut want = Vec::new();
    for c in b"i686" {
        want.extend_from_slice(&[0, 0, 0, *c]);
    }
    want.resize(128, 0);
    want.extend_from_slice(&3_145_728u64.to_be_bytes());
    for v in [16i32, 1400, 2, 2, 2, 2] {
        want.extend_from_slice(&v.to_be_bytes());
    }
    assert_eq!(bytes, want);
    assert_eq!(decode_from(&bytes), Ok(ret));
}

#[test]
fn domain_get_info_narrow_fields_take_a_word() {
    let ret = DomainGetInfoRet {
        state: 1,
        max_mem: 8_388_608,
        memory: 2_097_152,
        nr_virt_cpu: 2,
        cpu_time: 7,
    };
    let bytes = encode_to_vec(&ret);
    assert_eq!(bytes.len(), 4 + 8 + 8 + 4 + 8);
    assert_eq!(&bytes[..4], &[0, 0, 0, 1]);
    assert_eq!(&bytes[20..24], &[0, 0, 0, 2]);
}

#[test]
fn lifecycle_event_bytes() {
    let msg = DomainEventCallbackLifecycleMsg {
        callback_id: 1,
        msg: DomainEventLifecycleMsg {
            dom: dom(),
            event: lifecycle_event::STARTED,
            detail: 0,
        },
    };
    let mut want = vec![0, 0, 0, 1];
    want.extend_from_slice(&xdr_string("test"));
    want.extend_from_slice(&UUID);
    want.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0]);
    assert_eq!(encode_to_vec(&msg), want);
    assert_eq!(decode_from(&want), Ok(msg));
}

#[test]
fn security_label_counts_nul() {
    let ret = DomainGetSecurityLabelRet {
        label: CharArray("".into()),
        enforcing: 0,
    };
    assert_eq!(encode_to_vec(&ret), [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
}

#[test]
fn typed_param_tags_are_c_enum_values() {
    let int = TypedParam::new("x", TypedParamValue::Int(5));
    let mut want = xdr_string("x");
    want.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 5]);
    assert_eq!(encode_to_vec(&int), want);

    let s = TypedParamValue::String("ab".into());
    assert_eq!(encode_to_vec(&s), b"\0\0\0\x07\0\0\0\x02ab\0\0");
    let d = TypedParamValue::Double(1.5);
    assert_eq!(
        encode_to_vec(&d),
        [0, 0, 0, 5, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0]
    );
    let ul = TypedParamValue::ULLong(1 << 32);
    assert_eq!(encode_to_vec(&ul), [0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0]);
    let b = TypedParamValue::Boolean(1);
    assert_eq!(encode_to_vec(&b), [0, 0, 0, 6, 0, 0, 0, 1]);
    let tags: Vec<i32> = params().iter().map(|p| p.value.tag()).collect();
    assert_eq!(tags, [1, 2, 3, 4, 5, 6, 7]);
}

#[test]
fn typed_param_unknown_tag_is_refused_as_rpc_error() {
    for tag in [0i32, 8, -1] {
        let mut bytes = xdr_string("x");
        bytes.extend_from_slice(&tag.to_be_bytes());
        bytes.extend_from_slice(&[0, 0, 0, 5]);
        let err = decode_from::<TypedParam>(&bytes).unwrap_err();
        assert_eq!(
            err,
            XdrError::BadEnum {
                name: "TypedParamValue",
                value: tag
            }
        );
        let vir = err.to_vir_error();
        assert_eq!(vir.code, ErrorCode::Rpc);
        assert_eq!(vir.domain, ErrorDomain::Rpc);
        assert_eq!(vir.message, "Unable to decode message payload");
        assert_eq!(
            err.to_string(),
            format!("unknown TypedParamValue value {tag}")
        );
    }
    // A known tag whose arm is missing is truncated input.
    assert!(matches!(
        decode_from::<TypedParamValue>(&[0, 0, 0, 3, 0, 0, 0, 0]),
        Err(XdrError::Truncated { needed: 8, .. })
    ));
}

/// A `u32` count word followed by `count` zero words.
fn counted(count: u32) -> Vec<u8> {
    let mut out = count.to_be_bytes().to_vec();
    out.resize(4 + 4 * count as usize, 0);
    out
}

#[test]
fn bounded_arrays_use_libvirt_limits() {
    assert!(matches!(
        decode_from::<AuthListRet>(&counted(21)),
        Err(XdrError::TooLong {
            len: 21,
            max: 20,
            ..
        })
    ));
    assert_eq!(
        decode_from::<AuthListRet>(&counted(1)),
        Ok(AuthListRet {
            types: vec![AuthType::None]
        })
    );
    assert!(matches!(
        decode_from::<AuthListRet>(&[0, 0, 0, 1, 0, 0, 0, 3]),
        Err(XdrError::BadEnum { value: 3, .. })
    ));
    assert!(matches!(
        decode_from::<NodeGetSecurityModelRet>(&counted(258)),
        Err(XdrError::TooLong {
            len: 258,
            max: 257,
            ..
        })
    ));
    assert!(matches!(
        decode_from::<DomainGetSecurityLabelRet>(&4098u32.to_be_bytes()),
        Err(XdrError::TooLong {
            len: 4098,
            max: 4097,
            ..
        })
    ));
    for (bytes, max) in [
        (
            decode_from::<ConnectListAllDomainsRet>(&16385u32.to_be_bytes()).map(|_| ()),
            16384,
        ),
        (
            decode_from::<DomainGetMessagesRet>(&2049u32.to_be_bytes()).map(|_| ()),
            2048,
        ),
        (
            decode_from::<DomainMigrateBegin3ParamsArgs>(&{
                let mut b = encode_to_vec(&dom());
                b.extend_from_slice(&65u32.to_be_bytes());
                b
            })
            .map(|_| ()),
            64,
        ),
    ] {
        assert!(
            matches!(bytes, Err(XdrError::TooLong { max: m, .. }) if m == max),
            "{bytes:?} for max {max}"
        );
    }
    let cookie = {
        let mut b = Vec::new();
        Vec::<TypedParam>::new().encode(&mut b);
        b.extend_from_slice(&(4 * 1024 * 1024 + 1u32).to_be_bytes());
        b
    };
    assert!(matches!(
        decode_from::<DomainMigratePrepare3ParamsArgs>(&cookie),
        Err(XdrError::TooLong {
            what: "opaque",
            max: 4_194_304,
            ..
        })
    ));
}
