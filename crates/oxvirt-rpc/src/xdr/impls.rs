//! [`XdrEncode`]/[`XdrDecode`] for the primitive XDR types.

use super::{padding, Reader, XdrBounded, XdrDecode, XdrEncode, XdrError, STRING_MAX};

/// Every XDR item except `void` takes at least one 4-byte unit; array counts are checked
/// against the input with this.
const MIN_ITEM_SIZE: usize = 4;

/// Elements reserved up front when decoding an array; more grow the vector as they
/// actually arrive, so a large (but in-bounds) count never allocates ahead of the data.
const MAX_PREALLOC: usize = 1024;

macro_rules! word {
    ($($ty:ty => $wire:ty),* $(,)?) => {$(
        impl XdrEncode for $ty {
            fn encode(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&(*self as $wire).to_be_bytes());
            }
        }
        impl XdrDecode for $ty {
            fn decode(r: &mut Reader<'_>) -> Result<Self, XdrError> {
                // Narrow types (`char`, `short`) travel as 4 bytes; like libtirpc, keep the
                // low bits.
                Ok(<$wire>::from_be_bytes(r.take_array()?) as $ty)
            }
        }
    )*};
}

word! {
    i32 => i32, u32 => u32, i64 => i64, u64 => u64,
    // XDR `char`, `unsigned char`, `short`, `unsigned short`: 4 bytes each.
    i8 => i32, u8 => u32, i16 => i32, u16 => u32,
}

impl XdrEncode for bool {
    fn encode(&self, out: &mut Vec<u8>) {
        u32::from(*self).encode(out);
    }
}

impl XdrDecode for bool {
    /// Any non-zero word is true, as in libtirpc.
    fn decode(r: &mut Reader<'_>) -> Result<Self, XdrError> {
        Ok(u32::decode(r)? != 0)
    }
}

impl XdrEncode for f64 {
    fn encode(&self, out: &mut Vec<u8>) {
        self.to_bits().encode(out);
    }
}

impl XdrDecode for f64 {
    fn decode(r: &mut Reader<'_>) -> Result<Self, XdrError> {
        Ok(f64::from_bits(u64::decode(r)?))
    }
}

/// `void`: nothing on the wire (procedures without arguments or results).
impl XdrEncode for () {
    fn encode(&self, _out: &mut Vec<u8>) {}
}

impl XdrDecode for () {
    fn decode(_r: &mut Reader<'_>) -> Result<Self, XdrError> {
        Ok(())
    }
}

fn encode_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    (bytes.len() as u32).encode(out);
    out.extend_from_slice(bytes);
    out.resize(out.len() + padding(bytes.len()), 0);
}

impl XdrEncode for str {
    fn encode(&self, out: &mut Vec<u8>) {
        encode_bytes(self.as_bytes(), out);
    }
}

impl XdrEncode for String {
    fn encode(&self, out: &mut Vec<u8>) {
        self.as_str().encode(out);
    }
}

impl XdrDecode for String {
    /// A `remote_string` (at most [`STRING_MAX`] bytes).
    fn decode(r: &mut Reader<'_>) -> Result<Self, XdrError> {
        Self::decode_bounded(r, STRING_MAX)
    }
}

impl XdrBounded for String {
    /// XDR strings are bytes; C clients may send any. Invalid UTF-8 is replaced with
    /// U+FFFD rather than failing the call.
    fn decode_bounded(r: &mut Reader<'_>, max: usize) -> Result<Self, XdrError> {
        let len = r.read_length("string", max, 1)?;
        let bytes = r.take_padded(len)?;
        Ok(String::from_utf8_lossy(bytes).into_owned())
    }
}

/// Variable-length `opaque<N>`: a length word, the bytes, zero padding.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Opaque(pub Vec<u8>);

impl XdrEncode for Opaque {
    fn encode(&self, out: &mut Vec<u8>) {
        encode_bytes(&self.0, out);
    }
}

impl XdrDecode for Opaque {
    /// Unbounded except by the input itself.
    fn decode(r: &mut Reader<'_>) -> Result<Self, XdrError> {
        Self::decode_bounded(r, u32::MAX as usize)
    }
}

impl XdrBounded for Opaque {
    fn decode_bounded(r: &mut Reader<'_>, max: usize) -> Result<Self, XdrError> {
        let len = r.read_length("opaque", max, 1)?;
        Ok(Opaque(r.take_padded(len)?.to_vec()))
    }
}

/// Fixed-length `opaque[N]` (a UUID is `[u8; 16]`): the bytes and padding, no length.
impl<const N: usize> XdrEncode for [u8; N] {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self);
        out.resize(out.len() + padding(N), 0);
    }
}

impl<const N: usize> XdrDecode for [u8; N] {
    fn decode(r: &mut Reader<'_>) -> Result<Self, XdrError> {
        let mut out = [0u8; N];
        out.copy_from_slice(r.take_padded(N)?);
        Ok(out)
    }
}

/// Optional data `T *`: a boolean word, then `T` when it is non-zero.
impl<T: XdrEncode> XdrEncode for Option<T> {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            None => false.encode(out),
            Some(value) => {
                true.encode(out);
                value.encode(out);
            }
        }
    }
}

impl<T: XdrDecode> XdrDecode for Option<T> {
    fn decode(r: &mut Reader<'_>) -> Result<Self, XdrError> {
        if bool::decode(r)? {
            Ok(Some(T::decode(r)?))
        } else {
            Ok(None)
        }
    }
}

impl<T: XdrBounded> XdrBounded for Option<T> {
    fn decode_bounded(r: &mut Reader<'_>, max: usize) -> Result<Self, XdrError> {
        if bool::decode(r)? {
            Ok(Some(T::decode_bounded(r, max)?))
        } else {
            Ok(None)
        }
    }
}

/// Variable-length array `T<N>`: a count, then the elements.
impl<T: XdrEncode> XdrEncode for Vec<T> {
    fn encode(&self, out: &mut Vec<u8>) {
        (self.len() as u32).encode(out);
        for item in self {
            item.encode(out);
        }
    }
}

impl<T: XdrDecode> XdrDecode for Vec<T> {
    /// Unbounded except by the input itself (`T<>`).
    fn decode(r: &mut Reader<'_>) -> Result<Self, XdrError> {
        Self::decode_bounded(r, u32::MAX as usize)
    }
}

impl<T: XdrDecode> XdrBounded for Vec<T> {
    fn decode_bounded(r: &mut Reader<'_>, max: usize) -> Result<Self, XdrError> {
        let len = r.read_length("array", max, MIN_ITEM_SIZE)?;
        let mut items = Vec::with_capacity(len.min(MAX_PREALLOC));
        for _ in 0..len {
            items.push(T::decode(r)?);
        }
        Ok(items)
    }
}

impl<T: XdrEncode + ?Sized> XdrEncode for &T {
    fn encode(&self, out: &mut Vec<u8>) {
        (**self).encode(out);
    }
}

impl<T: XdrEncode + ?Sized> XdrEncode for Box<T> {
    fn encode(&self, out: &mut Vec<u8>) {
        (**self).encode(out);
    }
}

impl<T: XdrDecode> XdrDecode for Box<T> {
    fn decode(r: &mut Reader<'_>) -> Result<Self, XdrError> {
        Ok(Box::new(T::decode(r)?))
    }
}
