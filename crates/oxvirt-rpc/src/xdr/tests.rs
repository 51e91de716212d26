use proptest::prelude::*;

use super::*;
use crate::types::NonnullDomain;
use crate::Xdr;

fn enc<T: XdrEncode>(value: T) -> Vec<u8> {
    encode_to_vec(&value)
}

#[test]
fn integers_are_big_endian() {
    assert_eq!(enc(1i32), [0, 0, 0, 1]);
    assert_eq!(enc(-1i32), [0xff; 4]);
    assert_eq!(enc(0x0102_0304u32), [1, 2, 3, 4]);
    assert_eq!(enc(-2i64), [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]);
    assert_eq!(enc(1u64 << 32), [0, 0, 0, 1, 0, 0, 0, 0]);
    assert_eq!(enc(1.5f64), [0x3f, 0xf8, 0, 0, 0, 0, 0, 0]);
}

#[test]
fn chars_and_shorts_take_four_bytes() {
    assert_eq!(enc(5u8), [0, 0, 0, 5]);
    assert_eq!(enc(-1i8), [0xff; 4]);
    assert_eq!(enc(0x1234u16), [0, 0, 0x12, 0x34]);
    assert_eq!(decode_from::<u8>(&[0, 0, 0, 7]), Ok(7));
    assert_eq!(decode_from::<i16>(&[0xff, 0xff, 0xff, 0xfe]), Ok(-2));
}

#[test]
fn booleans_are_lenient() {
    assert_eq!(enc(true), [0, 0, 0, 1]);
    assert_eq!(decode_from::<bool>(&[0, 0, 0, 0]), Ok(false));
    assert_eq!(decode_from::<bool>(&[0, 0, 0, 2]), Ok(true));
    // go-libvirt's little-endian presence word.
    assert_eq!(
        decode_from::<Option<u32>>(&[1, 0, 0, 0, 0, 0, 0, 9]),
        Ok(Some(9))
    );
}

#[test]
fn strings_are_padded() {
    assert_eq!(enc("abcde"), b"\0\0\0\x05abcde\0\0\0");
    assert_eq!(enc(""), [0, 0, 0, 0]);
    assert_eq!(enc("abcd"), b"\0\0\0\x04abcd");
    assert_eq!(
        decode_from::<String>(b"\0\0\0\x05abcde\0\0\0"),
        Ok("abcde".into())
    );
}

#[test]
fn padding_contents_are_ignored_but_required() {
    assert_eq!(
        decode_from::<String>(b"\0\0\0\x01x\xff\xff\xff"),
        Ok("x".into())
    );
    assert_eq!(
        decode_from::<String>(b"\0\0\0\x01x\0\0"),
        Err(XdrError::Truncated {
            needed: 4,
            remaining: 3
        })
    );
}

#[test]
fn invalid_utf8_is_replaced() {
    assert_eq!(
        decode_from::<String>(b"\0\0\0\x01\xff\0\0\0"),
        Ok("\u{fffd}".into())
    );
}

#[test]
fn optional_string() {
    assert_eq!(enc(None::<String>), [0, 0, 0, 0]);
    assert_eq!(enc(Some("a")), b"\0\0\0\x01\0\0\0\x01a\0\0\0");
}

#[test]
fn fixed_and_variable_opaque() {
    let uuid: [u8; 16] = core::array::from_fn(|i| i as u8);
    assert_eq!(enc(uuid), uuid.to_vec());
    assert_eq!(decode_from::<[u8; 16]>(&uuid), Ok(uuid));
    assert_eq!(enc(Opaque(vec![9, 8])), [0, 0, 0, 2, 9, 8, 0, 0]);
    assert_eq!(
        decode_from::<Opaque>(&[0, 0, 0, 2, 9, 8, 1, 1]),
        Ok(Opaque(vec![9, 8]))
    );
}

#[test]
fn arrays_have_a_count() {
    assert_eq!(enc(vec![1u32, 2]), [0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2]);
    let mut r = Reader::new(&[0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3]);
    assert_eq!(
        Vec::<u32>::decode_bounded(&mut r, 2),
        Err(XdrError::TooLong {
            what: "array",
            len: 3,
            max: 2
        })
    );
}

#[test]
fn hostile_lengths_fail_before_allocating() {
    let huge = [0xff, 0xff, 0xff, 0xff];
    assert!(matches!(
        decode_from::<String>(&huge),
        Err(XdrError::TooLong {
            what: "string",
            len: 0xffff_ffff,
            max: STRING_MAX
        })
    ));
    assert_eq!(
        decode_from::<Opaque>(&huge),
        Err(XdrError::Truncated {
            needed: 0xffff_ffff,
            remaining: 0
        })
    );
    assert_eq!(
        decode_from::<Vec<Vec<u64>>>(&[0, 0x10, 0, 0, 0, 0, 0, 0]),
        Err(XdrError::Truncated {
            needed: 0x10_0000 * 4,
            remaining: 4
        })
    );
    // A string of 4 MiB + 1 is refused even if the bytes are there.
    let mut long = enc((STRING_MAX + 1) as u32);
    long.resize(long.len() + STRING_MAX + 4, b'a');
    assert!(matches!(
        decode_from::<String>(&long),
        Err(XdrError::TooLong { .. })
    ));
}

#[test]
fn truncated_input() {
    assert_eq!(
        decode_from::<u64>(&[0, 0, 0, 1]),
        Err(XdrError::Truncated {
            needed: 8,
            remaining: 4
        })
    );
    assert!(decode_from::<NonnullDomain>(b"\0\0\0\x01a\0\0\0").is_err());
}

#[test]
fn trailing_bytes_are_ignored() {
    assert_eq!(decode_from::<u32>(&[0, 0, 0, 1, 0xde, 0xad]), Ok(1));
}

#[test]
fn xdr_error_is_vir_err_rpc() {
    let vir = XdrError::Truncated {
        needed: 8,
        remaining: 4,
    }
    .to_vir_error();
    assert_eq!(vir.code.number(), 39);
    assert_eq!(vir.domain.number(), 7);
    assert_eq!(vir.message, "Unable to decode message payload");
    let err = XdrError::Truncated {
        needed: 8,
        remaining: 4,
    };
    assert_eq!(err.to_string(), "truncated input: 8 bytes needed, 4 remain");
}

/// A derived struct with every kind of field.
#[derive(Debug, Clone, PartialEq, Xdr)]
struct Everything {
    a: i32,
    b: u64,
    c: Option<String>,
    #[xdr(max = 2)]
    d: Vec<u32>,
    e: [u8; 16],
    #[xdr(max = 3)]
    f: Opaque,
    g: bool,
    h: f64,
    i: Kind,
}

/// A derived XDR enum with implicit and explicit values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Xdr)]
#[repr(i32)]
enum Kind {
    Zero,
    One,
    Ten = 10,
    Eleven,
    Negative = -3,
}

#[derive(Debug, PartialEq, Xdr)]
struct Tuple(u32, #[xdr(max = 1)] String);

#[derive(Debug, PartialEq, Xdr)]
struct Empty;

#[test]
fn derived_enum_values() {
    assert_eq!(enc(Kind::Zero), [0, 0, 0, 0]);
    assert_eq!(enc(Kind::Eleven), [0, 0, 0, 11]);
    assert_eq!(enc(Kind::Negative), [0xff, 0xff, 0xff, 0xfd]);
    assert_eq!(decode_from::<Kind>(&[0, 0, 0, 10]), Ok(Kind::Ten));
    assert_eq!(
        decode_from::<Kind>(&[0, 0, 0, 2]),
        Err(XdrError::BadEnum {
            name: "Kind",
            value: 2
        })
    );
}

#[test]
fn derived_structs_encode_fields_in_order() {
    assert_eq!(enc(Tuple(1, "x".into())), b"\0\0\0\x01\0\0\0\x01x\0\0\0");
    assert!(matches!(
        decode_from::<Tuple>(b"\0\0\0\x01\0\0\0\x02xy\0\0"),
        Err(XdrError::TooLong {
            what: "string",
            len: 2,
            max: 1
        })
    ));
    assert_eq!(enc(Empty), Vec::<u8>::new());
    assert_eq!(decode_from::<Empty>(&[]), Ok(Empty));
    let dom = NonnullDomain {
        name: "vm".into(),
        uuid: [0xaa; 16],
        id: -1,
    };
    let mut want = b"\0\0\0\x02vm\0\0".to_vec();
    want.extend_from_slice(&[0xaa; 16]);
    want.extend_from_slice(&[0xff; 4]);
    assert_eq!(enc(dom.clone()), want);
    assert_eq!(decode_from::<NonnullDomain>(&want), Ok(dom));
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        Just(Kind::Zero),
        Just(Kind::One),
        Just(Kind::Ten),
        Just(Kind::Eleven),
        Just(Kind::Negative)
    ]
}

prop_compose! {
    fn everything()(
        a in any::<i32>(),
        b in any::<u64>(),
        c in proptest::option::of(".{0,20}"),
        d in proptest::collection::vec(any::<u32>(), 0..=2),
        e in any::<[u8; 16]>(),
        f in proptest::collection::vec(any::<u8>(), 0..=3),
        g in any::<bool>(),
        h in any::<f64>().prop_filter("NaN != NaN", |h| !h.is_nan()),
        i in kind(),
    ) -> Everything {
        Everything { a, b, c, d, e, f: Opaque(f), g, h, i }
    }
}

proptest! {
    #[test]
    fn derived_struct_round_trips(value in everything()) {
        let bytes = encode_to_vec(&value);
        prop_assert_eq!(bytes.len() % 4, 0);
        let mut r = Reader::new(&bytes);
        prop_assert_eq!(Everything::decode(&mut r), Ok(value));
        prop_assert_eq!(r.remaining(), 0);
    }

    #[test]
    fn strings_round_trip(s in ".*", tail in proptest::collection::vec(any::<u8>(), 0..8)) {
        let mut bytes = encode_to_vec(&s);
        prop_assert_eq!(bytes.len(), 4 + s.len() + padding(s.len()));
        bytes.extend_from_slice(&tail);
        prop_assert_eq!(decode_from::<String>(&bytes), Ok(s));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = decode_from::<Everything>(&bytes);
        let _ = decode_from::<Vec<Option<String>>>(&bytes);
    }
}
