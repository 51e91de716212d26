//! C character arrays. XDR `char` takes a whole 4-byte word, so these are not opaque:
//! `char<N>` is a count then one word per character, `char[N]` is N words.

use super::{Reader, XdrBounded, XdrDecode, XdrEncode, XdrError};

/// Every character takes one 4-byte word.
const CHAR_SIZE: usize = 4;

fn encode_chars(bytes: &[u8], out: &mut Vec<u8>) {
    for &b in bytes {
        // `char` is signed in libvirt's C: the word is the sign-extended byte.
        i32::from(b as i8).encode(out);
    }
}

/// The text before the first NUL (all of it when there is none), invalid UTF-8 replaced.
fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

fn decode_chars(r: &mut Reader<'_>, count: usize) -> Result<Vec<u8>, XdrError> {
    // The caller checked `count` words against the input, so this allocation is backed.
    let mut bytes = Vec::with_capacity(count);
    for _ in 0..count {
        bytes.push(i32::decode(r)? as u8);
    }
    Ok(bytes)
}

/// A variable `char<N>` holding a C string, as libvirt sends security models and labels:
/// the count **includes the terminating NUL** (`"none"` travels as 5 chars).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct CharArray(pub String);

impl XdrEncode for CharArray {
    fn encode(&self, out: &mut Vec<u8>) {
        ((self.0.len() + 1) as u32).encode(out);
        encode_chars(self.0.as_bytes(), out);
        0i32.encode(out);
    }
}

impl XdrDecode for CharArray {
    /// Unbounded except by the input itself.
    fn decode(r: &mut Reader<'_>) -> Result<Self, XdrError> {
        Self::decode_bounded(r, u32::MAX as usize)
    }
}

impl XdrBounded for CharArray {
    /// Reads up to the first NUL; a missing NUL or an empty array is tolerated.
    fn decode_bounded(r: &mut Reader<'_>, max: usize) -> Result<Self, XdrError> {
        let count = r.read_length("array", max, CHAR_SIZE)?;
        Ok(CharArray(c_string(&decode_chars(r, count)?)))
    }
}

/// A fixed `char[N]` holding a NUL-padded C string (NODE_GET_INFO's 32-char `model`).
/// Encoding keeps at most `N - 1` bytes so a NUL always ends it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct FixedChars<const N: usize>(pub String);

impl<const N: usize> XdrEncode for FixedChars<N> {
    fn encode(&self, out: &mut Vec<u8>) {
        let bytes = self.0.as_bytes();
        let kept = &bytes[..bytes.len().min(N.saturating_sub(1))];
        encode_chars(kept, out);
        for _ in kept.len()..N {
            0i32.encode(out);
        }
    }
}

impl<const N: usize> XdrDecode for FixedChars<N> {
    fn decode(r: &mut Reader<'_>) -> Result<Self, XdrError> {
        let needed = N.saturating_mul(CHAR_SIZE);
        if needed > r.remaining() {
            return Err(XdrError::Truncated {
                needed,
                remaining: r.remaining(),
            });
        }
        Ok(FixedChars(c_string(&decode_chars(r, N)?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xdr::{decode_from, encode_to_vec};

    #[test]
    fn char_array_counts_the_nul() {
        let bytes = encode_to_vec(&CharArray("none".into()));
        let mut want = vec![0, 0, 0, 5];
        for b in b"none\0" {
            want.extend_from_slice(&[0, 0, 0, *b]);
        }
        assert_eq!(bytes, want);
        assert_eq!(
            decode_from::<CharArray>(&bytes),
            Ok(CharArray("none".into()))
        );
    }

    #[test]
    fn char_array_is_lenient_and_bounded() {
        assert_eq!(
            decode_from::<CharArray>(&[0, 0, 0, 0]),
            Ok(CharArray::default())
        );
        // No NUL: everything counts.
        assert_eq!(
            decode_from::<CharArray>(&[0, 0, 0, 1, 0, 0, 0, b'x']),
            Ok(CharArray("x".into()))
        );
        let mut r = Reader::new(&[0, 0, 1, 2, 0, 0, 0, 0]);
        assert!(matches!(
            CharArray::decode_bounded(&mut r, 257),
            Err(XdrError::TooLong {
                len: 258,
                max: 257,
                ..
            })
        ));
        assert_eq!(
            decode_from::<CharArray>(&[0x10, 0, 0, 0]),
            Err(XdrError::Truncated {
                needed: 0x1000_0000 * 4,
                remaining: 0
            })
        );
    }

    #[test]
    fn high_bytes_are_sign_extended() {
        let bytes = encode_to_vec(&CharArray("é".into()));
        assert_eq!(
            bytes,
            [0, 0, 0, 3, 0xff, 0xff, 0xff, 0xc3, 0xff, 0xff, 0xff, 0xa9, 0, 0, 0, 0]
        );
        assert_eq!(decode_from::<CharArray>(&bytes), Ok(CharArray("é".into())));
    }

    #[test]
    fn fixed_chars_fill_n_words() {
        let bytes = encode_to_vec(&FixedChars::<32>("x86_64".into()));
        assert_eq!(bytes.len(), 128);
        assert_eq!(&bytes[..8], &[0, 0, 0, b'x', 0, 0, 0, b'8']);
        assert!(bytes[24..].iter().all(|&b| b == 0));
        assert_eq!(
            decode_from::<FixedChars<32>>(&bytes),
            Ok(FixedChars("x86_64".into()))
        );
        let long = encode_to_vec(&FixedChars::<2>("abc".into()));
        assert_eq!(long, [0, 0, 0, b'a', 0, 0, 0, 0]);
        assert!(matches!(
            decode_from::<FixedChars<32>>(&[0; 124]),
            Err(XdrError::Truncated {
                needed: 128,
                remaining: 124
            })
        ));
    }
}
