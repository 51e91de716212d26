//! UUIDs as libvirt reads and writes them.
//!
//! Parsing follows libvirt's `virUUIDParse`, which is liberal:
//!
//! * Leading and trailing whitespace (C `isspace`) is ignored.
//! * Between the 16 pairs of hex digits (either case), and before the first, any number of
//!   `-` and space characters may appear; none may appear after the last pair, and a pair may
//!   not be split. So `"  {0123...}"`, `"0123456789abcdef0123456789abcdef"` and
//!   `"01-23 45--67..."` are all accepted.
//! * Anything else, including braces, is rejected.
//!
//! Formatting follows `virUUIDFormat`: lower-case `8-4-4-4-12`.

use std::fmt;
use std::io::Read;
use std::str::FromStr;

use crate::error::{Result, XmlError};

/// A 16-byte UUID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Uuid([u8; 16]);

impl Uuid {
    /// The UUID with the given bytes.
    pub const fn from_bytes(bytes: [u8; 16]) -> Uuid {
        Uuid(bytes)
    }

    /// The UUID's bytes.
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// Whether every byte is zero.
    pub fn is_nil(&self) -> bool {
        self.0 == [0; 16]
    }

    /// Parses `text` as `virUUIDParse` does, reporting nothing: `None` if it is malformed.
    pub fn try_parse(text: &str) -> Option<Uuid> {
        let bytes = text.as_bytes();
        let mut pos = bytes
            .iter()
            .position(|b| !is_c_space(*b))
            .unwrap_or(bytes.len());
        let mut out = [0u8; 16];
        for byte in &mut out {
            while matches!(bytes.get(pos), Some(b'-' | b' ')) {
                pos += 1;
            }
            let high = hex_value(*bytes.get(pos)?)?;
            let low = hex_value(*bytes.get(pos + 1)?)?;
            *byte = high << 4 | low;
            pos += 2;
        }
        bytes[pos..]
            .iter()
            .all(|b| is_c_space(*b))
            .then_some(Uuid(out))
    }

    /// Parses `text` as `virUUIDParse` does.
    ///
    /// A malformed UUID is `VIR_ERR_INTERNAL_ERROR` "malformed uuid element", the words all of
    /// libvirt's XML parsers use for a bad `<uuid>`. Callers parsing something other than a
    /// `<uuid>` element should word their own error from [`Uuid::try_parse`].
    pub fn parse(text: &str) -> Result<Uuid> {
        Uuid::try_parse(text).ok_or_else(|| XmlError::internal("malformed uuid element"))
    }

    /// A random version-4 UUID (RFC 4122 variant), from 16 bytes of `/dev/urandom`.
    pub fn new_v4() -> std::io::Result<Uuid> {
        let mut bytes = [0u8; 16];
        std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        Ok(Uuid(bytes))
    }
}

impl From<[u8; 16]> for Uuid {
    fn from(bytes: [u8; 16]) -> Uuid {
        Uuid(bytes)
    }
}

impl From<Uuid> for [u8; 16] {
    fn from(uuid: Uuid) -> [u8; 16] {
        uuid.0
    }
}

impl FromStr for Uuid {
    type Err = XmlError;

    /// Same as [`Uuid::parse`].
    fn from_str(s: &str) -> Result<Uuid> {
        Uuid::parse(s)
    }
}

impl fmt::Display for Uuid {
    /// Lower-case `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, byte) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// C's `isspace` in the C locale (and GLib's `g_ascii_isspace`).
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use proptest::prelude::*;

    const CANONICAL: &str = "c7a5fdbd-edaf-9455-926a-d65c16db1809";
    const BYTES: [u8; 16] = [
        0xc7, 0xa5, 0xfd, 0xbd, 0xed, 0xaf, 0x94, 0x55, 0x92, 0x6a, 0xd6, 0x5c, 0x16, 0xdb, 0x18,
        0x09,
    ];

    #[test]
    fn parses_and_formats() {
        let uuid = Uuid::parse(CANONICAL).unwrap();
        assert_eq!(uuid.as_bytes(), &BYTES);
        assert_eq!(uuid.to_string(), CANONICAL);
        assert_eq!(CANONICAL.parse::<Uuid>(), Ok(uuid));
        assert_eq!(Uuid::from(BYTES), uuid);
        assert_eq!(<[u8; 16]>::from(uuid), BYTES);
        assert_eq!(
            Uuid::default().to_string(),
            "00000000-0000-0000-0000-000000000000"
        );
        assert!(Uuid::default().is_nil() && !uuid.is_nil());
    }

    #[test]
    fn accepts_what_libvirt_accepts() {
        for text in [
            "c7a5fdbdedaf9455926ad65c16db1809",
            "C7A5FDBD-EDAF-9455-926A-D65C16DB1809",
            "c7a5fdbd-EDAF-9455-926a-d65c16db1809",
            "  c7a5fdbd-edaf-9455-926a-d65c16db1809\n",
            "\t\x0b\x0c\rc7a5fdbd-edaf-9455-926a-d65c16db1809 \t",
            "-c7a5fdbd-edaf-9455-926a-d65c16db1809",
            "--- c7a5fdbd-edaf-9455-926a-d65c16db1809",
            "c7-a5-fd-bd-ed-af-94-55-92-6a-d6-5c-16-db-18-09",
            "c7 a5 fd bd ed af 94 55 92 6a d6 5c 16 db 18 09",
            "c7a5fdbd--edaf - 9455926a-d65c16db1809",
            "c7a5fdbd-edaf-9455-926a-d65c16db1809 ",
        ] {
            assert_eq!(
                Uuid::try_parse(text).map(|u| u.to_string()).as_deref(),
                Some(CANONICAL),
                "{text:?}"
            );
        }
    }

    #[test]
    fn rejects_what_libvirt_rejects() {
        for text in [
            "",
            "   ",
            "c7a5fdbd-edaf-9455-926a-d65c16db180",
            "c7a5fdbd-edaf-9455-926a-d65c16db18091",
            "c7a5fdbd-edaf-9455-926a-d65c16db1809-",
            "c7a5fdbd-edaf-9455-926a-d65c16db1809 -",
            "c7a5fdbd-edaf-9455-926a-d65c16db1809x",
            "c7a5fdbd-edaf-9455-926a-d65c16db1809 00",
            "c-7a5fdbd-edaf-9455-926a-d65c16db1809",
            "c7a5fdbd-edaf-9455-926a-d65c16db18-09-",
            "c7a5fdbd\tedaf-9455-926a-d65c16db1809",
            "{c7a5fdbd-edaf-9455-926a-d65c16db1809}",
            "g7a5fdbd-edaf-9455-926a-d65c16db1809",
            "c7a5fdbd_edaf_9455_926a_d65c16db1809",
            "urn:uuid:c7a5fdbd-edaf-9455-926a-d65c16db1809",
            "c7a5fdbd-edaf-9455-926a-d65c16db1809\u{a0}",
            "c7a5fdbd-edaf-9455-926a-d65c16db18é9",
        ] {
            assert_eq!(Uuid::try_parse(text), None, "{text:?}");
            let err = Uuid::parse(text).unwrap_err();
            assert_eq!(err.code, ErrorCode::InternalError);
            assert_eq!(err.message, "malformed uuid element");
            assert_eq!(
                err.libvirt_message(),
                "internal error: malformed uuid element"
            );
        }
    }

    #[test]
    fn random_uuids_are_version_4() {
        let a = Uuid::new_v4().unwrap();
        let b = Uuid::new_v4().unwrap();
        assert_ne!(a, b);
        for uuid in [a, b] {
            assert_eq!(uuid.as_bytes()[6] >> 4, 4);
            assert_eq!(uuid.as_bytes()[8] >> 6, 0b10);
            let text = uuid.to_string();
            assert_eq!(&text[14..15], "4");
            assert!(matches!(&text[19..20], "8" | "9" | "a" | "b"));
            assert_eq!(Uuid::parse(&text), Ok(uuid));
        }
    }

    proptest! {
        #[test]
        fn display_then_parse_round_trips(bytes in any::<[u8; 16]>()) {
            let uuid = Uuid::from_bytes(bytes);
            let text = uuid.to_string();
            prop_assert_eq!(text.len(), 36);
            prop_assert_eq!(&text, &text.to_ascii_lowercase());
            prop_assert_eq!(Uuid::parse(&text), Ok(uuid));
            prop_assert_eq!(Uuid::parse(&text.to_ascii_uppercase()), Ok(uuid));
            prop_assert_eq!(Uuid::parse(&text.replace('-', "")), Ok(uuid));
        }

        #[test]
        fn parse_never_panics(text in "[0-9a-fA-F \\- g]{0,40}") {
            if let Some(uuid) = Uuid::try_parse(&text) {
                let hex: String = text.chars().filter(|c| c.is_ascii_hexdigit()).collect();
                prop_assert_eq!(hex.to_ascii_lowercase(), uuid.to_string().replace('-', ""));
            }
        }
    }
}
