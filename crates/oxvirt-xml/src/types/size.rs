//! Scaled integers: sizes written as a number and an optional unit (`<memory unit='MiB'>`).
//!
//! This follows libvirt's `virScaleInteger`, `virParseScaledValue` and `virDomainParseMemory`:
//!
//! * A unit is matched without regard to case. `b`, `byte` and `bytes` mean 1. A unit of one
//!   letter, or a letter followed by `iB`, is a power of 1024 (`k`/`KiB`, `M`/`MiB`, `G`/`GiB`,
//!   `T`/`TiB`, `P`/`PiB`, `E`/`EiB`). A letter followed by `B` is a power of 1000 (`KB`, `MB`,
//!   `GB`, `TB`, `PB`, `EB`). So `kib`, `KIB`, `m` and `gb` are all accepted.
//! * A missing or empty unit means the caller's default scale.
//! * The number is an unsigned decimal. Leading ASCII whitespace and a leading `+` are accepted;
//!   a `-`, anything after the digits (trailing whitespace included) or a value above
//!   `u64::MAX` is rejected.
//! * A scaled value above the caller's limit is an overflow.

use std::fmt;
use std::str::FromStr;

use crate::error::{ErrorCode, Result, XmlError};

/// The error code libvirt reports when a scaled value is too large.
///
/// libvirt uses `VIR_ERR_OVERFLOW` (82, shown as "numerical overflow").
pub const OVERFLOW_CODE: ErrorCode = ErrorCode::Overflow;

/// The largest memory size in bytes that libvirt accepts (`virMemoryMaxValue` on a 64-bit
/// host: `LLONG_MAX`).
pub const MEMORY_MAX_BYTES: u64 = i64::MAX as u64;

/// A unit that a scaled integer can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unit {
    /// Bytes: `b`, `byte`, `bytes`.
    Bytes,
    /// 1024 bytes: `k`, `KiB`.
    KiB,
    /// 1024² bytes: `M`, `MiB`.
    MiB,
    /// 1024³ bytes: `G`, `GiB`.
    GiB,
    /// 1024⁴ bytes: `T`, `TiB`.
    TiB,
    /// 1024⁵ bytes: `P`, `PiB`.
    PiB,
    /// 1024⁶ bytes: `E`, `EiB`.
    EiB,
    /// 1000 bytes: `KB`.
    KB,
    /// 1000² bytes: `MB`.
    MB,
    /// 1000³ bytes: `GB`.
    GB,
    /// 1000⁴ bytes: `TB`.
    TB,
    /// 1000⁵ bytes: `PB`.
    PB,
    /// 1000⁶ bytes: `EB`.
    EB,
}

impl Unit {
    /// Every unit, smallest first within each family.
    pub const ALL: [Unit; 13] = [
        Unit::Bytes,
        Unit::KiB,
        Unit::MiB,
        Unit::GiB,
        Unit::TiB,
        Unit::PiB,
        Unit::EiB,
        Unit::KB,
        Unit::MB,
        Unit::GB,
        Unit::TB,
        Unit::PB,
        Unit::EB,
    ];

    /// Parses a unit the way libvirt does (case-insensitive, see the module documentation).
    ///
    /// An unknown unit is `VIR_ERR_INVALID_ARG` "unknown suffix 'SUFFIX'". The empty string is
    /// an unknown unit here; [`scale_integer`] treats an empty unit as "no unit".
    pub fn parse(suffix: &str) -> Result<Unit> {
        let bytes = suffix.as_bytes();
        if suffix.eq_ignore_ascii_case("b")
            || suffix.eq_ignore_ascii_case("byte")
            || suffix.eq_ignore_ascii_case("bytes")
        {
            return Ok(Unit::Bytes);
        }
        let unknown = || XmlError::invalid_arg(format!("unknown suffix '{suffix}'"));
        let (&first, rest) = bytes.split_first().ok_or_else(unknown)?;
        let binary = if rest.is_empty() || rest.eq_ignore_ascii_case(b"iB") {
            true
        } else if rest.eq_ignore_ascii_case(b"B") {
            false
        } else {
            return Err(unknown());
        };
        let unit = match (first.to_ascii_lowercase(), binary) {
            (b'k', true) => Unit::KiB,
            (b'm', true) => Unit::MiB,
            (b'g', true) => Unit::GiB,
            (b't', true) => Unit::TiB,
            (b'p', true) => Unit::PiB,
            (b'e', true) => Unit::EiB,
            (b'k', false) => Unit::KB,
            (b'm', false) => Unit::MB,
            (b'g', false) => Unit::GB,
            (b't', false) => Unit::TB,
            (b'p', false) => Unit::PB,
            (b'e', false) => Unit::EB,
            _ => return Err(unknown()),
        };
        Ok(unit)
    }

    /// The number of bytes in one of this unit.
    pub fn scale(self) -> u64 {
        match self {
            Unit::Bytes => 1,
            Unit::KiB => 1 << 10,
            Unit::MiB => 1 << 20,
            Unit::GiB => 1 << 30,
            Unit::TiB => 1 << 40,
            Unit::PiB => 1 << 50,
            Unit::EiB => 1 << 60,
            Unit::KB => 1_000,
            Unit::MB => 1_000_000,
            Unit::GB => 1_000_000_000,
            Unit::TB => 1_000_000_000_000,
            Unit::PB => 1_000_000_000_000_000,
            Unit::EB => 1_000_000_000_000_000_000,
        }
    }

    /// The canonical spelling libvirt writes: `bytes`, `KiB`, `MB`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Bytes => "bytes",
            Unit::KiB => "KiB",
            Unit::MiB => "MiB",
            Unit::GiB => "GiB",
            Unit::TiB => "TiB",
            Unit::PiB => "PiB",
            Unit::EiB => "EiB",
            Unit::KB => "KB",
            Unit::MB => "MB",
            Unit::GB => "GB",
            Unit::TB => "TB",
            Unit::PB => "PB",
            Unit::EB => "EB",
        }
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Unit {
    type Err = XmlError;

    fn from_str(s: &str) -> Result<Unit> {
        Unit::parse(s)
    }
}

/// Scales `value` by `unit`, as libvirt's `virScaleInteger` does.
///
/// With no unit (or an empty one) `value` is multiplied by `default_scale`; a zero
/// `default_scale` is then `VIR_ERR_INTERNAL_ERROR` "invalid scale 0". An unknown unit is
/// `VIR_ERR_INVALID_ARG` "unknown suffix 'UNIT'". A result above `limit` is an overflow,
/// "value too large: VALUEUNIT" (the value before scaling, then the unit as given), with
/// code [`OVERFLOW_CODE`].
pub fn scale_integer(
    value: u64,
    unit: Option<&str>,
    default_scale: u64,
    limit: u64,
) -> Result<u64> {
    let suffix = unit.unwrap_or("");
    let scale = if suffix.is_empty() {
        if default_scale == 0 {
            return Err(XmlError::internal(format!("invalid scale {default_scale}")));
        }
        default_scale
    } else {
        Unit::parse(suffix)?.scale()
    };
    if value != 0 && value > limit / scale {
        return Err(XmlError::new(
            OVERFLOW_CODE,
            format!("value too large: {value}{suffix}"),
        ));
    }
    // Cannot overflow: value <= limit / scale.
    Ok(value * scale)
}

/// Parses an unsigned decimal as libvirt's `virStrToLong_ullp` does (base 10, whole string).
///
/// Leading ASCII whitespace and one leading `+` are skipped; a `-` anywhere before the digits,
/// no digits, anything after the digits or a value above `u64::MAX` gives `None`.
pub fn parse_u64_strict(text: &str) -> Option<u64> {
    let bytes = text.as_bytes();
    let mut i = bytes
        .iter()
        .position(|b| !is_c_space(*b))
        .unwrap_or(bytes.len());
    match bytes.get(i) {
        Some(b'+') => i += 1,
        Some(b'-') => return None,
        _ => {}
    }
    let digits = &bytes[i..];
    if digits.is_empty() {
        return None;
    }
    let mut value: u64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(value)
}

/// Parses a scaled value: the decimal `text` (see [`parse_u64_strict`]) scaled by `unit` (see
/// [`scale_integer`]).
///
/// A malformed number is `VIR_ERR_XML_ERROR` "Invalid value 'TEXT'". libvirt names the element
/// or attribute in that message; use [`parse_scaled_for`] to get its exact words.
///
/// libvirt treats an empty value as absent and never parses it; callers should do the same.
pub fn parse_scaled(text: &str, unit: Option<&str>, default_scale: u64, limit: u64) -> Result<u64> {
    let value =
        parse_u64_strict(text).ok_or_else(|| XmlError::xml(format!("Invalid value '{text}'")))?;
    scale_integer(value, unit, default_scale, limit)
}

/// [`parse_scaled`] for the value at `xpath` (an element or attribute), with libvirt's message
/// for a malformed number: "Invalid value 'TEXT' for element or attribute 'XPATH'".
pub fn parse_scaled_for(
    text: &str,
    unit: Option<&str>,
    default_scale: u64,
    limit: u64,
    xpath: &str,
) -> Result<u64> {
    let value = parse_u64_strict(text).ok_or_else(|| {
        XmlError::xml(format!(
            "Invalid value '{text}' for element or attribute '{xpath}'"
        ))
    })?;
    scale_integer(value, unit, default_scale, limit)
}

/// Parses a memory size as libvirt's `virDomainParseMemory` does and returns it in KiB.
///
/// The default unit is KiB, the scaled value may not exceed [`MEMORY_MAX_BYTES`], and bytes
/// are rounded up to whole KiB. A result of 2^53 KiB or more is an overflow, "size value too
/// large" (code [`OVERFLOW_CODE`]).
pub fn parse_memory_kib(text: &str, unit: Option<&str>) -> Result<u64> {
    parse_scaled(text, unit, 1024, MEMORY_MAX_BYTES).and_then(bytes_to_kib)
}

/// [`parse_memory_kib`] for the value at `xpath`, with libvirt's message for a malformed
/// number (see [`parse_scaled_for`]).
pub fn parse_memory_kib_for(text: &str, unit: Option<&str>, xpath: &str) -> Result<u64> {
    parse_scaled_for(text, unit, 1024, MEMORY_MAX_BYTES, xpath).and_then(bytes_to_kib)
}

fn bytes_to_kib(bytes: u64) -> Result<u64> {
    let kib = bytes.div_ceil(1024);
    if kib >= MEMORY_MAX_BYTES.div_ceil(1024) {
        return Err(XmlError::new(OVERFLOW_CODE, "size value too large"));
    }
    Ok(kib)
}

/// C's `isspace` in the C locale (and GLib's `g_ascii_isspace`).
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

#[cfg(test)]
mod tests {
    use super::*;

    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * 1024;

    #[test]
    fn unit_spellings() {
        let cases: &[(&str, u64)] = &[
            ("b", 1),
            ("B", 1),
            ("byte", 1),
            ("Bytes", 1),
            ("BYTES", 1),
            ("k", KIB),
            ("K", KIB),
            ("KiB", KIB),
            ("kib", KIB),
            ("KIB", KIB),
            ("KB", 1000),
            ("kb", 1000),
            ("kB", 1000),
            ("M", MIB),
            ("MiB", MIB),
            ("MB", 1_000_000),
            ("g", 1 << 30),
            ("GiB", 1 << 30),
            ("GB", 1_000_000_000),
            ("T", 1 << 40),
            ("TiB", 1 << 40),
            ("TB", 1_000_000_000_000),
            ("P", 1 << 50),
            ("PiB", 1 << 50),
            ("PB", 1_000_000_000_000_000),
            ("E", 1 << 60),
            ("EiB", 1 << 60),
            ("eb", 1_000_000_000_000_000_000),
        ];
        for &(suffix, scale) in cases {
            assert_eq!(Unit::parse(suffix).map(Unit::scale), Ok(scale), "{suffix}");
            assert_eq!(scale_integer(3, Some(suffix), 1, u64::MAX), Ok(3 * scale));
        }
    }

    #[test]
    fn unknown_units() {
        for suffix in [
            "x", "KiBs", "Ki", "kbb", "bb", "bit", "Z", "ZiB", "YB", "iB", "KiB ", " KiB", "é",
            "Kb2", "by",
        ] {
            let err = Unit::parse(suffix).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidArg, "{suffix}");
            assert_eq!(err.message, format!("unknown suffix '{suffix}'"));
            assert_eq!(scale_integer(1, Some(suffix), 1, u64::MAX), Err(err));
        }
        assert!(Unit::parse("").is_err());
        assert_eq!(
            scale_integer(1, Some("q"), 1, u64::MAX)
                .unwrap_err()
                .libvirt_message(),
            "invalid argument: unknown suffix 'q'"
        );
    }

    #[test]
    fn unit_round_trips_through_canonical_name() {
        for unit in Unit::ALL {
            assert_eq!(unit.as_str().parse::<Unit>(), Ok(unit));
            assert_eq!(unit.to_string(), unit.as_str());
        }
    }

    #[test]
    fn default_scale() {
        assert_eq!(scale_integer(5, None, 1024, u64::MAX), Ok(5 * KIB));
        assert_eq!(scale_integer(5, Some(""), 1024, u64::MAX), Ok(5 * KIB));
        assert_eq!(scale_integer(5, None, 1, u64::MAX), Ok(5));
        // An explicit unit overrides the default, even a zero one.
        assert_eq!(scale_integer(5, Some("b"), 0, u64::MAX), Ok(5));
        let err = scale_integer(5, None, 0, u64::MAX).unwrap_err();
        assert_eq!(err.code, ErrorCode::InternalError);
        assert_eq!(err.message, "invalid scale 0");
    }

    #[test]
    fn overflow() {
        assert_eq!(
            scale_integer(u64::MAX, Some("b"), 1, u64::MAX),
            Ok(u64::MAX)
        );
        let err = scale_integer(u64::MAX, Some("KiB"), 1, u64::MAX).unwrap_err();
        assert_eq!(err.code, OVERFLOW_CODE);
        assert_eq!(err.message, format!("value too large: {}KiB", u64::MAX));
        // The limit is inclusive.
        assert_eq!(scale_integer(10, Some("k"), 1, 10 * KIB), Ok(10 * KIB));
        let err = scale_integer(11, Some("k"), 1, 10 * KIB).unwrap_err();
        assert_eq!(err.message, "value too large: 11k");
        // The limit is compared after truncating division, as libvirt does.
        assert_eq!(scale_integer(10, Some("k"), 1, 11 * KIB - 1), Ok(10 * KIB));
        // Without a unit the message has no suffix.
        let err = scale_integer(2, None, 1024, 1024).unwrap_err();
        assert_eq!(err.message, "value too large: 2");
        // Zero never overflows, even when one unit is above the limit.
        assert_eq!(scale_integer(0, Some("EiB"), 1, 1), Ok(0));
        assert!(scale_integer(1, Some("EiB"), 1, 1).is_err());
        assert_eq!(
            scale_integer(16, Some("EiB"), 1, u64::MAX)
                .unwrap_err()
                .code,
            OVERFLOW_CODE
        );
        assert_eq!(scale_integer(15, Some("EiB"), 1, u64::MAX), Ok(15 << 60));
    }

    #[test]
    fn strict_numbers() {
        assert_eq!(parse_u64_strict("0"), Some(0));
        assert_eq!(parse_u64_strict("42"), Some(42));
        assert_eq!(parse_u64_strict("007"), Some(7));
        assert_eq!(parse_u64_strict("+42"), Some(42));
        assert_eq!(parse_u64_strict("  42"), Some(42));
        assert_eq!(parse_u64_strict("\t\n\x0b\x0c\r 42"), Some(42));
        assert_eq!(parse_u64_strict(" +42"), Some(42));
        assert_eq!(parse_u64_strict("18446744073709551615"), Some(u64::MAX));
        for bad in [
            "",
            " ",
            "+",
            "-",
            "-0",
            "-1",
            " -1",
            "++1",
            "+ 1",
            "42 ",
            "42\n",
            "4 2",
            "42k",
            "0x10",
            "1.5",
            "18446744073709551616",
            "99999999999999999999999",
            "٣",
        ] {
            assert_eq!(parse_u64_strict(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn parse_scaled_values() {
        assert_eq!(parse_scaled("1", Some("GiB"), 1, u64::MAX), Ok(1 << 30));
        assert_eq!(parse_scaled(" +2", Some("MB"), 1, u64::MAX), Ok(2_000_000));
        assert_eq!(parse_scaled("7", None, 512, u64::MAX), Ok(7 * 512));
        let err = parse_scaled("12 ", None, 1, u64::MAX).unwrap_err();
        assert_eq!(err.code, ErrorCode::XmlError);
        assert_eq!(err.message, "Invalid value '12 '");
        let err = parse_scaled_for("-1", Some("KiB"), 1024, u64::MAX, "./memory[1]").unwrap_err();
        assert_eq!(err.code, ErrorCode::XmlError);
        assert_eq!(
            err.message,
            "Invalid value '-1' for element or attribute './memory[1]'"
        );
        // The number is checked before the unit.
        let err = parse_scaled("x", Some("bogus"), 1, u64::MAX).unwrap_err();
        assert_eq!(err.code, ErrorCode::XmlError);
        let err = parse_scaled("1", Some("bogus"), 1, u64::MAX).unwrap_err();
        assert_eq!(err.message, "unknown suffix 'bogus'");
        let err = parse_scaled("3", Some("G"), 1, 1 << 31).unwrap_err();
        assert_eq!(err.message, "value too large: 3G");
    }

    #[test]
    fn memory_in_kib() {
        assert_eq!(parse_memory_kib("1024", None), Ok(1024));
        assert_eq!(parse_memory_kib("1024", Some("")), Ok(1024));
        assert_eq!(parse_memory_kib("1024", Some("KiB")), Ok(1024));
        assert_eq!(parse_memory_kib("1", Some("GiB")), Ok(1024 * 1024));
        assert_eq!(parse_memory_kib("2", Some("MB")), Ok(1954)); // 2000000 / 1024 rounded up
        assert_eq!(parse_memory_kib("1", Some("b")), Ok(1));
        assert_eq!(parse_memory_kib("1025", Some("bytes")), Ok(2));
        assert_eq!(parse_memory_kib("1024", Some("bytes")), Ok(1));
        assert_eq!(parse_memory_kib("0", None), Ok(0));
        assert_eq!(parse_memory_kib("0", Some("EiB")), Ok(0));
        assert_eq!(parse_memory_kib("7", Some("EiB")), Ok(7 << 50));
    }

    #[test]
    fn memory_limits() {
        // The largest accepted size: (2^53 - 1) KiB.
        let max_kib = (1u64 << 53) - 1;
        assert_eq!(parse_memory_kib(&max_kib.to_string(), None), Ok(max_kib));
        assert_eq!(
            parse_memory_kib(&(max_kib * 1024).to_string(), Some("b")),
            Ok(max_kib)
        );
        // Bytes that round up to 2^53 KiB are within LLONG_MAX but still too large.
        let err = parse_memory_kib(&(max_kib * 1024 + 1).to_string(), Some("b")).unwrap_err();
        assert_eq!(err.code, OVERFLOW_CODE);
        assert_eq!(err.message, "size value too large");
        let err = parse_memory_kib(&MEMORY_MAX_BYTES.to_string(), Some("bytes")).unwrap_err();
        assert_eq!(err.message, "size value too large");
        // Above LLONG_MAX bytes the scaling itself overflows.
        let err = parse_memory_kib(&(1u64 << 53).to_string(), None).unwrap_err();
        assert_eq!(err.code, OVERFLOW_CODE);
        assert_eq!(err.message, format!("value too large: {}", 1u64 << 53));
        let err = parse_memory_kib("8", Some("EiB")).unwrap_err();
        assert_eq!(err.message, "value too large: 8EiB");
        let err = parse_memory_kib("18446744073709551615", Some("b")).unwrap_err();
        assert_eq!(err.message, "value too large: 18446744073709551615b");
        let err = parse_memory_kib("18446744073709551616", Some("b")).unwrap_err();
        assert_eq!(err.code, ErrorCode::XmlError);
        let err = parse_memory_kib_for("1x", None, "./memory[1]").unwrap_err();
        assert_eq!(
            err.message,
            "Invalid value '1x' for element or attribute './memory[1]'"
        );
        assert_eq!(
            parse_memory_kib_for("4", Some("M"), "./memory[1]"),
            Ok(4096)
        );
    }
}
