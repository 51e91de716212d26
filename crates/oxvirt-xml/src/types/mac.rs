//! Ethernet MAC addresses as libvirt reads and writes them.
//!
//! Parsing follows libvirt's `virMacAddrParse`:
//!
//! * Six octets of one or two hex digits (either case), separated by `:` only:
//!   `"0:1E:FC:E:3a:CB"` is accepted. No leading whitespace, sign or `0x`.
//! * After the sixth octet libvirt stops at any byte that is at most `' '` as a C `char`. On
//!   x86-64, where `char` is signed, that is the end of the text, an ASCII control character,
//!   a space, or any non-ASCII byte, and whatever follows is ignored: `"52:54:00:aa:bb:cc xyz"`
//!   is accepted as `52:54:00:aa:bb:cc`. This module reproduces the x86-64 behaviour.
//!
//! Formatting follows `virMacAddrFormat`: lower-case, two digits per octet, `52:54:00:aa:bb:cc`.

use std::fmt;
use std::io::Read;
use std::str::FromStr;

use crate::error::{Result, XmlError};

/// A 6-byte MAC address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct MacAddr([u8; 6]);

impl MacAddr {
    /// The OUI prefix libvirt's QEMU driver gives generated addresses: `52:54:00`.
    pub const QEMU_PREFIX: [u8; 3] = [0x52, 0x54, 0x00];

    /// The address with the given bytes.
    pub const fn from_bytes(bytes: [u8; 6]) -> MacAddr {
        MacAddr(bytes)
    }

    /// The address's bytes.
    pub const fn as_bytes(&self) -> &[u8; 6] {
        &self.0
    }

    /// Whether this is a multicast (group) address: the low bit of the first octet is set.
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 1 == 1
    }

    /// Whether this is a unicast address: the low bit of the first octet is clear.
    pub fn is_unicast(&self) -> bool {
        !self.is_multicast()
    }

    /// Parses `text` as `virMacAddrParse` does, reporting nothing: `None` if it is malformed.
    pub fn try_parse(text: &str) -> Option<MacAddr> {
        let bytes = text.as_bytes();
        let mut out = [0u8; 6];
        let mut pos = 0;
        for (i, octet) in out.iter_mut().enumerate() {
            let digits = bytes[pos..]
                .iter()
                .take(3)
                .take_while(|b| b.is_ascii_hexdigit())
                .count();
            if !(1..=2).contains(&digits) {
                return None;
            }
            *octet = bytes[pos..pos + digits]
                .iter()
                .fold(0, |acc, &b| acc << 4 | hex_value(b));
            pos += digits;
            match bytes.get(pos) {
                Some(b':') if i < 5 => pos += 1,
                // A C `char` compared with ' ': bytes from 0x80 are negative on x86-64.
                None => return (i == 5).then_some(MacAddr(out)),
                Some(&b) if i == 5 && (b <= b' ' || b >= 0x80) => return Some(MacAddr(out)),
                Some(_) => return None,
            }
        }
        None
    }

    /// Parses `text` as `virMacAddrParse` does.
    ///
    /// A malformed address is the error a domain's `<mac address='...'/>` gets, see
    /// [`MacAddr::parse_error`].
    pub fn parse(text: &str) -> Result<MacAddr> {
        MacAddr::try_parse(text).ok_or_else(|| MacAddr::parse_error(text))
    }

    /// Parses `text` and requires a unicast address, as a domain's `<interface>` does: a
    /// multicast address is [`MacAddr::multicast_error`].
    pub fn parse_unicast(text: &str) -> Result<MacAddr> {
        let mac = MacAddr::parse(text)?;
        if mac.is_multicast() {
            return Err(MacAddr::multicast_error(text));
        }
        Ok(mac)
    }

    /// libvirt's error for an unparsable `<mac address='TEXT'/>`: `VIR_ERR_XML_ERROR`
    /// "unable to parse mac address 'TEXT'".
    pub fn parse_error(text: &str) -> XmlError {
        XmlError::xml(format!("unable to parse mac address '{text}'"))
    }

    /// libvirt's error for a multicast `<mac address='TEXT'/>` on an interface:
    /// `VIR_ERR_XML_ERROR` "expected unicast mac address, found multicast 'TEXT'".
    pub fn multicast_error(text: &str) -> XmlError {
        XmlError::xml(format!(
            "expected unicast mac address, found multicast '{text}'"
        ))
    }

    /// A random address with the given first three octets, the last three from
    /// `/dev/urandom` (`virMacAddrGenerate`).
    pub fn generate(prefix: [u8; 3]) -> std::io::Result<MacAddr> {
        let mut bytes = [0u8; 6];
        bytes[..3].copy_from_slice(&prefix);
        std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes[3..])?;
        Ok(MacAddr(bytes))
    }

    /// A random address in QEMU's range, `52:54:00:xx:xx:xx`, as libvirt's QEMU driver
    /// generates for an `<interface>` without a `<mac>`.
    pub fn random_qemu() -> std::io::Result<MacAddr> {
        MacAddr::generate(MacAddr::QEMU_PREFIX)
    }
}

impl From<[u8; 6]> for MacAddr {
    fn from(bytes: [u8; 6]) -> MacAddr {
        MacAddr(bytes)
    }
}

impl From<MacAddr> for [u8; 6] {
    fn from(mac: MacAddr) -> [u8; 6] {
        mac.0
    }
}

impl FromStr for MacAddr {
    type Err = XmlError;

    /// Same as [`MacAddr::parse`]; multicast addresses are accepted.
    fn from_str(s: &str) -> Result<MacAddr> {
        MacAddr::parse(s)
    }
}

impl fmt::Display for MacAddr {
    /// Lower-case `xx:xx:xx:xx:xx:xx`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

/// The value of an ASCII hex digit (callers only pass hex digits).
fn hex_value(b: u8) -> u8 {
    char::from(b).to_digit(16).map_or(0, |d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use proptest::prelude::*;

    fn mac(text: &str) -> String {
        MacAddr::try_parse(text)
            .unwrap_or_else(|| panic!("{text:?} should parse"))
            .to_string()
    }

    #[test]
    fn parses_and_formats() {
        assert_eq!(mac("52:54:00:aa:bb:cc"), "52:54:00:aa:bb:cc");
        assert_eq!(mac("52:54:00:AA:BB:CC"), "52:54:00:aa:bb:cc");
        assert_eq!(mac("0:1E:FC:E:3a:CB"), "00:1e:fc:0e:3a:cb");
        assert_eq!(mac("0:0:0:0:0:0"), "00:00:00:00:00:00");
        assert_eq!(mac("ff:ff:ff:ff:ff:ff"), "ff:ff:ff:ff:ff:ff");
        let parsed: MacAddr = "52:54:00:01:02:03".parse().unwrap();
        assert_eq!(parsed.as_bytes(), &[0x52, 0x54, 0x00, 0x01, 0x02, 0x03]);
        assert_eq!(MacAddr::from([0x52, 0x54, 0, 1, 2, 3]), parsed);
        assert_eq!(<[u8; 6]>::from(parsed), [0x52, 0x54, 0, 1, 2, 3]);
        assert_eq!(MacAddr::default().to_string(), "00:00:00:00:00:00");
    }

    #[test]
    fn stops_after_the_sixth_octet_at_a_low_byte() {
        assert_eq!(mac("52:54:00:aa:bb:cc "), "52:54:00:aa:bb:cc");
        assert_eq!(mac("52:54:00:aa:bb:cc\n"), "52:54:00:aa:bb:cc");
        assert_eq!(mac("52:54:00:aa:bb:cc\t"), "52:54:00:aa:bb:cc");
        assert_eq!(mac("52:54:00:aa:bb:cc xyz"), "52:54:00:aa:bb:cc");
        assert_eq!(mac("52:54:00:aa:bb:cc\u{1}:dd"), "52:54:00:aa:bb:cc");
        assert_eq!(mac("52:54:00:aa:bb:c é"), "52:54:00:aa:bb:0c");
        assert_eq!(mac("52:54:00:aa:bb:ccé"), "52:54:00:aa:bb:cc");
        // DEL is above ' ' even as a signed char.
        assert_eq!(MacAddr::try_parse("52:54:00:aa:bb:cc\u{7f}"), None);
    }

    #[test]
    fn rejects_malformed_addresses() {
        for text in [
            "",
            " 52:54:00:aa:bb:cc",
            "+52:54:00:aa:bb:cc",
            "52:54:00:aa:bb",
            "52:54:00:aa:bb:",
            "52:54:00:aa:bb:cc:",
            "52:54:00:aa:bb:cc:dd",
            "52:54:00:aa:bb:ccc",
            "052:54:00:aa:bb:cc",
            "52:54:00:aa::cc",
            "52-54-00-aa-bb-cc",
            "52.54.00.aa.bb.cc",
            "5254.00aa.bbcc",
            "525400aabbcc",
            "0x52:54:00:aa:bb:cc",
            "52:54:00:aa:bb:0x",
            "52:54:00:aa:bb:0xc",
            "52 :54:00:aa:bb:cc",
            "52: 54:00:aa:bb:cc",
            "g2:54:00:aa:bb:cc",
            "52:54:00:aa:bb:cg",
            "52:54:00:aa:bb:cc-",
            "52:54:00:aa:bb:cc~",
            "é:54:00:aa:bb:cc",
        ] {
            assert_eq!(MacAddr::try_parse(text), None, "{text:?}");
            let err = MacAddr::parse(text).unwrap_err();
            assert_eq!(err.code, ErrorCode::XmlError);
            assert_eq!(err.message, format!("unable to parse mac address '{text}'"));
        }
        assert_eq!(
            MacAddr::parse("nope").unwrap_err().libvirt_message(),
            "XML error: unable to parse mac address 'nope'"
        );
    }

    #[test]
    fn unicast_and_multicast() {
        let unicast = MacAddr::parse("52:54:00:aa:bb:cc").unwrap();
        assert!(unicast.is_unicast() && !unicast.is_multicast());
        let multicast = MacAddr::parse("53:54:00:b4:ad:81").unwrap();
        assert!(multicast.is_multicast() && !multicast.is_unicast());
        assert!(MacAddr::parse("ff:ff:ff:ff:ff:ff").unwrap().is_multicast());
        assert!(MacAddr::parse("01:00:5e:00:00:01").unwrap().is_multicast());

        assert_eq!(MacAddr::parse_unicast("52:54:00:AA:bb:cc"), Ok(unicast));
        let err = MacAddr::parse_unicast("53:54:00:B4:ad:81").unwrap_err();
        assert_eq!(err.code, ErrorCode::XmlError);
        assert_eq!(
            err.libvirt_message(),
            "XML error: expected unicast mac address, found multicast '53:54:00:B4:ad:81'"
        );
        // A malformed address is reported as such, not as multicast.
        assert_eq!(
            MacAddr::parse_unicast("53:54"),
            Err(MacAddr::parse_error("53:54"))
        );
    }

    #[test]
    fn random_addresses() {
        let a = MacAddr::random_qemu().unwrap();
        let b = MacAddr::random_qemu().unwrap();
        for mac in [a, b] {
            assert_eq!(&mac.as_bytes()[..3], &MacAddr::QEMU_PREFIX);
            assert!(mac.to_string().starts_with("52:54:00:"));
            assert!(mac.is_unicast());
        }
        let custom = MacAddr::generate([0x00, 0x16, 0x3e]).unwrap();
        assert_eq!(&custom.as_bytes()[..3], &[0x00, 0x16, 0x3e]);
        // Six random bytes agreeing by chance is negligible (2^-48 for three pairs).
        let c = MacAddr::random_qemu().unwrap();
        assert!(a != b || b != c);
    }

    proptest! {
        #[test]
        fn display_then_parse_round_trips(bytes in any::<[u8; 6]>()) {
            let mac = MacAddr::from_bytes(bytes);
            let text = mac.to_string();
            prop_assert_eq!(text.len(), 17);
            prop_assert_eq!(&text, &text.to_ascii_lowercase());
            prop_assert_eq!(MacAddr::parse(&text), Ok(mac));
            prop_assert_eq!(MacAddr::parse(&text.to_ascii_uppercase()), Ok(mac));
            // Leading zeros may be dropped.
            let short: Vec<String> = bytes.iter().map(|b| format!("{b:x}")).collect();
            prop_assert_eq!(MacAddr::parse(&short.join(":")), Ok(mac));
            prop_assert_eq!(MacAddr::parse_unicast(&text).is_ok(), bytes[0] & 1 == 0);
        }

        #[test]
        fn parse_never_panics(text in "[0-9a-fA-F:x \u{e9}]{0,20}") {
            if let Some(mac) = MacAddr::try_parse(&text) {
                prop_assert!(text.starts_with(|c: char| c.is_ascii_hexdigit()));
                prop_assert_eq!(MacAddr::parse(&mac.to_string()), Ok(mac));
            }
        }
    }
}
