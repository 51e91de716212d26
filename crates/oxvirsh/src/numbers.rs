//! Numbers on the command line, read as libvirt reads them: `strtol`-style integers and
//! scaled sizes with unit suffixes (`virScaleInteger`).

/// A size option that could not be read: virsh's message, and the library's reason when
/// the suffix was at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScaledError {
    /// "Scaled numeric value '1xyz' for <size> option is malformed or out of range".
    pub message: String,
    /// "invalid argument: unknown suffix 'xyz'", when that was the problem.
    pub cause: Option<String>,
}

/// `strtol` over the whole word, as libvirt's `virStrToLong_*` use it: leading blanks and a
/// sign are allowed, nothing may follow the digits.
pub fn parse_c_long(s: &str) -> Option<i64> {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: i64 = digits.parse().ok()?;
    Some(if neg { -n } else { n })
}

/// libvirt's `virScaleInteger` after `virStrToLong_ullp`: the digits, then an optional
/// unit (`b`/`bytes`, `k`/`KiB`, `KB` (1000), `M`, `MiB`, `MB`, ... up to `E`).
/// Errors carry the library's reason when the suffix was unknown.
pub fn scale_integer(s: &str, default_scale: u64, max: u64) -> Result<u64, Option<String>> {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let t = t.strip_prefix('+').unwrap_or(t);
    if t.starts_with('-') {
        return Err(None);
    }
    let end = t.bytes().take_while(u8::is_ascii_digit).count();
    if end == 0 {
        return Err(None);
    }
    let value: u64 = t[..end].parse().map_err(|_| None)?;
    let suffix = &t[end..];
    let scale = unit_scale(suffix, default_scale)
        .ok_or_else(|| Some(format!("invalid argument: unknown suffix '{suffix}'")))?;
    if value > max / scale {
        return Err(Some(format!(
            "numerical overflow: value too large: {value}{suffix}"
        )));
    }
    Ok(value * scale)
}

fn unit_scale(suffix: &str, default_scale: u64) -> Option<u64> {
    if suffix.is_empty() {
        return Some(default_scale);
    }
    let lower = suffix.to_ascii_lowercase();
    if lower == "b" || lower == "byte" || lower == "bytes" {
        return Some(1);
    }
    let mut chars = lower.chars();
    let power = match chars.next()? {
        'k' => 1,
        'm' => 2,
        'g' => 3,
        't' => 4,
        'p' => 5,
        'e' => 6,
        _ => return None,
    };
    let base: u64 = match chars.as_str() {
        "" | "ib" => 1024,
        "b" => 1000,
        _ => return None,
    };
    Some(base.pow(power))
}
