//! XDR (RFC 4506) as libvirt's RPC uses it: big-endian 4-byte units, zero padding.
//!
//! Encoding never fails ([`XdrEncode`]). Decoding reads from a bounds-checked [`Reader`]:
//! every length is checked against the bytes that remain *before* anything is allocated,
//! so a hostile length word costs nothing. Decoding is as lenient as libtirpc's, which the
//! real clients rely on: any non-zero boolean or optional-data word means true, padding
//! bytes are skipped unread, and trailing bytes after the arguments are ignored
//! ([`decode_from`]).

mod chars;
mod impls;
#[cfg(test)]
mod tests;

use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

pub use chars::{CharArray, FixedChars};
pub use impls::Opaque;

/// libvirt's `REMOTE_STRING_MAX`: the longest string the protocol carries (4 MiB).
pub const STRING_MAX: usize = 4 * 1024 * 1024;

/// Why XDR input could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XdrError {
    /// The input ended before the value did.
    #[error("truncated input: {needed} bytes needed, {remaining} remain")]
    Truncated {
        /// How many bytes the next item needs.
        needed: usize,
        /// How many bytes were left.
        remaining: usize,
    },
    /// A string, opaque or array is longer than its declared maximum.
    #[error("{what} length {len} exceeds maximum {max}")]
    TooLong {
        /// What was being decoded (`string`, `opaque`, `array`).
        what: &'static str,
        /// The length the input announced.
        len: u64,
        /// The largest allowed.
        max: usize,
    },
    /// An enum discriminant (or union tag) that the type does not define.
    #[error("unknown {name} value {value}")]
    BadEnum {
        /// The Rust type being decoded.
        name: &'static str,
        /// The value found.
        value: i32,
    },
}

impl XdrError {
    /// The error libvirt reports for a payload it cannot decode: `VIR_ERR_RPC` from
    /// `VIR_FROM_RPC`, "Unable to decode message payload" (the reason is in `Display`).
    pub fn to_vir_error(&self) -> VirError {
        VirError::new(
            ErrorDomain::Rpc,
            ErrorCode::Rpc,
            // libvirt's words, without the detail (which `Display` gives, for logs).
            "Unable to decode message payload",
        )
    }
}

impl From<XdrError> for VirError {
    fn from(err: XdrError) -> Self {
        err.to_vir_error()
    }
}

/// A value that can be written as XDR.
pub trait XdrEncode {
    /// Appends this value's XDR encoding to `out`.
    fn encode(&self, out: &mut Vec<u8>);
}

/// A value that can be read from XDR.
pub trait XdrDecode: Sized {
    /// Reads one value from `r`, advancing it past the value (and its padding).
    fn decode(r: &mut Reader<'_>) -> Result<Self, XdrError>;
}

/// A variable-length value (`string<N>`, `opaque<N>`, `T<N>`) decoded with an explicit
/// maximum (a count of bytes or elements). `#[xdr(max = N)]` on a derived field uses this.
pub trait XdrBounded: XdrDecode {
    /// Reads one value whose length may be at most `max`.
    fn decode_bounded(r: &mut Reader<'_>, max: usize) -> Result<Self, XdrError>;
}

/// The XDR encoding of `value` as a new vector.
pub fn encode_to_vec<T: XdrEncode + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    value.encode(&mut out);
    out
}

/// Decodes one `T` from the start of `bytes`, ignoring any trailing bytes as libvirtd does.
pub fn decode_from<T: XdrDecode>(bytes: &[u8]) -> Result<T, XdrError> {
    T::decode(&mut Reader::new(bytes))
}

/// How many zero bytes pad `len` bytes to a multiple of 4.
pub fn padding(len: usize) -> usize {
    (4 - len % 4) % 4
}

/// A bounds-checked cursor over XDR input.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// How many bytes have been read.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// How many bytes are left.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    /// Takes the next `n` bytes, or fails without moving if fewer remain.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], XdrError> {
        let remaining = self.remaining();
        if n > remaining {
            return Err(XdrError::Truncated {
                needed: n,
                remaining,
            });
        }
        let bytes = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(bytes)
    }

    /// Takes `n` bytes followed by their padding to 4 bytes. Padding contents are not
    /// checked (libtirpc skips them too), but the padding must be present.
    pub fn take_padded(&mut self, n: usize) -> Result<&'a [u8], XdrError> {
        let total = n.checked_add(padding(n)).ok_or(XdrError::Truncated {
            needed: usize::MAX,
            remaining: self.remaining(),
        })?;
        let bytes = self.take(total)?;
        Ok(&bytes[..n])
    }

    /// Takes `N` bytes as an array.
    pub fn take_array<const N: usize>(&mut self) -> Result<[u8; N], XdrError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// Reads a length word for something of at most `max` units, each at least
    /// `min_unit_size` bytes on the wire, and checks it against both `max` and the input
    /// that remains, so nothing is allocated for a length the input cannot hold.
    pub fn read_length(
        &mut self,
        what: &'static str,
        max: usize,
        min_unit_size: usize,
    ) -> Result<usize, XdrError> {
        let len = u32::decode(self)? as usize;
        if len > max {
            return Err(XdrError::TooLong {
                what,
                len: len as u64,
                max,
            });
        }
        let needed = len.saturating_mul(min_unit_size);
        if needed > self.remaining() {
            return Err(XdrError::Truncated {
                needed,
                remaining: self.remaining(),
            });
        }
        Ok(len)
    }
}
