//! A certificate's subject Distinguished Name as GnuTLS 3.7's `gnutls_x509_crt_get_dn` writes
//! it, the string libvirt matches `tls_allowed_dn_list` against and logs.
//!
//! What GnuTLS does (checked with `virt-pki-query-dn`, which calls that function):
//! - the RDNs in certificate order (`C=GB,O=Example,CN=client`), not RFC 4514's reversed
//!   order (`certtool -i` prints the reversed one);
//! - the attributes of one multi-valued RDN in DER order, joined by `+`;
//! - known attribute types by their short names (`CN`, `EMAIL`, `UID`, `serialNumber`...),
//!   others as the dotted OID;
//! - string values (UTF8String, PrintableString, IA5String, TeletexString, BMPString...) as
//!   text with `, + " \ < > ;` escaped, a leading `#` or space and a trailing space too;
//!   other values, and every value of an unknown type, as `#` and the DER in hex.
//!
//! Parsing is a small bounds-checked DER reader: any input gives a result or an error,
//! never a panic.

use std::fmt::Write as _;

/// Why a certificate's subject could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DerError(pub &'static str);

impl std::fmt::Display for DerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for DerError {}

/// One DER element: its tag byte and its contents.
#[derive(Debug, Clone, Copy)]
struct Tlv<'a> {
    tag: u8,
    body: &'a [u8],
    /// The whole element, header included.
    raw: &'a [u8],
}

/// Reads consecutive DER elements from a slice.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Reader { rest: bytes }
    }

    fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    fn next(&mut self) -> Result<Tlv<'a>, DerError> {
        let input = self.rest;
        let (&tag, after_tag) = input.split_first().ok_or(DerError("truncated element"))?;
        if tag & 0x1f == 0x1f {
            return Err(DerError("multi-byte tags are not supported"));
        }
        let (&first, mut after_len) = after_tag
            .split_first()
            .ok_or(DerError("truncated length"))?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let count = usize::from(first & 0x7f);
            if count == 0 || count > 4 {
                return Err(DerError("unsupported length encoding"));
            }
            if after_len.len() < count {
                return Err(DerError("truncated length"));
            }
            let mut len = 0usize;
            for &b in &after_len[..count] {
                len = (len << 8) | usize::from(b);
            }
            after_len = &after_len[count..];
            len
        };
        if after_len.len() < len {
            return Err(DerError("element longer than its container"));
        }
        let header = input.len() - after_len.len();
        let body = &after_len[..len];
        self.rest = &after_len[len..];
        Ok(Tlv {
            tag,
            body,
            raw: &input[..header + len],
        })
    }

    fn expect(&mut self, tag: u8, what: &'static str) -> Result<Tlv<'a>, DerError> {
        let tlv = self.next()?;
        if tlv.tag != tag {
            return Err(DerError(what));
        }
        Ok(tlv)
    }
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;

/// The validity and subject of a DER certificate: the `Validity` and `Name` elements'
/// contents.
fn validity_and_subject(cert_der: &[u8]) -> Result<(&[u8], &[u8]), DerError> {
    let cert = Reader::new(cert_der).expect(SEQUENCE, "not a certificate")?;
    let tbs = Reader::new(cert.body).expect(SEQUENCE, "no tbsCertificate")?;
    let mut fields = Reader::new(tbs.body);
    let mut first = fields.next()?;
    // [0] EXPLICIT version, optional.
    if first.tag == 0xa0 {
        first = fields.next()?;
    }
    if first.tag != 0x02 {
        return Err(DerError("no serial number"));
    }
    fields.expect(SEQUENCE, "no signature algorithm")?;
    fields.expect(SEQUENCE, "no issuer")?;
    let validity = fields.expect(SEQUENCE, "no validity")?.body;
    Ok((validity, fields.expect(SEQUENCE, "no subject")?.body))
}

/// The subject DN of the DER certificate `cert_der`, as `gnutls_x509_crt_get_dn` gives it.
pub fn subject_dn(cert_der: &[u8]) -> Result<String, DerError> {
    name_to_string(validity_and_subject(cert_der)?.1)
}

/// The subject's common names (CN) of the DER certificate `cert_der`, in certificate order
/// (values of a string type GnuTLS reads as text only).
pub fn common_names(cert_der: &[u8]) -> Result<Vec<String>, DerError> {
    let mut names = Vec::new();
    let mut seq = Reader::new(validity_and_subject(cert_der)?.1);
    while !seq.is_empty() {
        let mut set = Reader::new(seq.expect(SET, "an RDN is not a SET")?.body);
        while !set.is_empty() {
            let mut parts =
                Reader::new(set.expect(SEQUENCE, "an attribute is not a SEQUENCE")?.body);
            let oid = parts.expect(OID, "an attribute type is not an OID")?;
            let value = parts.next()?;
            if oid.body == [0x55, 0x04, 0x03] {
                if let Some(text) = string_value(value, Expect::Directory) {
                    names.push(text);
                }
            }
        }
    }
    Ok(names)
}

/// The validity period of the DER certificate `cert_der`: `notBefore` and `notAfter` in
/// seconds since the Unix epoch.
pub fn validity(cert_der: &[u8]) -> Result<(i64, i64), DerError> {
    let mut times = Reader::new(validity_and_subject(cert_der)?.0);
    let not_before = time(times.next()?)?;
    let not_after = time(times.next()?)?;
    Ok((not_before, not_after))
}

/// A UTCTime (`YYMMDDHHMMSSZ`, years 1950-2049) or GeneralizedTime (`YYYYMMDDHHMMSSZ`) in
/// seconds since the Unix epoch.
fn time(tlv: Tlv<'_>) -> Result<i64, DerError> {
    let digits = |b: &[u8]| -> Result<i64, DerError> {
        b.iter().try_fold(0i64, |n, &c| {
            if c.is_ascii_digit() {
                Ok(n * 10 + i64::from(c - b'0'))
            } else {
                Err(DerError("bad time"))
            }
        })
    };
    let (year, rest) = match (tlv.tag, tlv.body.len()) {
        (0x17, 13) => {
            let yy = digits(&tlv.body[..2])?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &tlv.body[2..])
        }
        (0x18, 15) => (digits(&tlv.body[..4])?, &tlv.body[4..]),
        _ => return Err(DerError("bad time")),
    };
    if rest[10] != b'Z' {
        return Err(DerError("bad time"));
    }
    let (month, day) = (digits(&rest[0..2])?, digits(&rest[2..4])?);
    let (hour, min, sec) = (
        digits(&rest[4..6])?,
        digits(&rest[6..8])?,
        digits(&rest[8..10])?,
    );
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || min > 59 || sec > 60 {
        return Err(DerError("bad time"));
    }
    // Days from 1970-01-01 to the date (proleptic Gregorian calendar).
    let (y, m) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Ok(days * 86_400 + hour * 3_600 + min * 60 + sec)
}

/// A `Name`'s contents (the RDNSequence's elements) as GnuTLS writes them.
pub fn name_to_string(rdns: &[u8]) -> Result<String, DerError> {
    let mut out = String::new();
    let mut seq = Reader::new(rdns);
    let mut first_rdn = true;
    while !seq.is_empty() {
        let rdn = seq.expect(SET, "an RDN is not a SET")?;
        if !first_rdn {
            out.push(',');
        }
        first_rdn = false;
        let mut set = Reader::new(rdn.body);
        let mut first_ava = true;
        while !set.is_empty() {
            let ava = set.expect(SEQUENCE, "an attribute is not a SEQUENCE")?;
            let mut parts = Reader::new(ava.body);
            let oid = parts.expect(OID, "an attribute type is not an OID")?;
            let value = parts.next()?;
            if !first_ava {
                out.push('+');
            }
            first_ava = false;
            let dotted = oid_to_string(oid.body)?;
            match attribute(&dotted) {
                Some((name, expect)) => {
                    out.push_str(name);
                    out.push('=');
                    match string_value(value, expect) {
                        Some(text) => escape_into(&mut out, &text),
                        None => hex_into(&mut out, value.raw),
                    }
                }
                None => {
                    out.push_str(&dotted);
                    out.push('=');
                    hex_into(&mut out, value.raw);
                }
            }
        }
    }
    Ok(out)
}

/// The dotted form of an OID's contents.
fn oid_to_string(body: &[u8]) -> Result<String, DerError> {
    if body.is_empty() {
        return Err(DerError("empty OID"));
    }
    let mut arcs: Vec<u64> = Vec::new();
    let mut value: u64 = 0;
    let mut pending = false;
    for &b in body {
        if value > (u64::MAX >> 7) {
            return Err(DerError("OID arc too large"));
        }
        value = (value << 7) | u64::from(b & 0x7f);
        pending = true;
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let (first, second) = match value {
                    0..=39 => (0, value),
                    40..=79 => (1, value - 40),
                    _ => (2, value - 80),
                };
                arcs.push(first);
                arcs.push(second);
            } else {
                arcs.push(value);
            }
            value = 0;
            pending = false;
        }
    }
    if pending {
        return Err(DerError("truncated OID"));
    }
    let mut s = String::new();
    for (i, arc) in arcs.iter().enumerate() {
        if i > 0 {
            s.push('.');
        }
        let _ = write!(s, "{arc}");
    }
    Ok(s)
}

/// The ASN.1 string types GnuTLS expects for an attribute; a value of another type is
/// written in hex.
#[derive(Clone, Copy)]
enum Expect {
    /// X.520 DirectoryString: Teletex, Printable, Universal, UTF8 or BMP.
    Directory,
    /// PrintableString only.
    Printable,
    /// IA5String only.
    Ia5,
}

/// GnuTLS's names of the attribute types it prints as text, and the types it expects.
fn attribute(oid: &str) -> Option<(&'static str, Expect)> {
    use Expect::*;
    Some(match oid {
        "2.5.4.6" => ("C", Printable),
        "2.5.4.8" => ("ST", Directory),
        "2.5.4.7" => ("L", Directory),
        "2.5.4.10" => ("O", Directory),
        "2.5.4.11" => ("OU", Directory),
        "2.5.4.3" => ("CN", Directory),
        "2.5.4.12" => ("title", Directory),
        "2.5.4.13" => ("description", Directory),
        "2.5.4.4" => ("surName", Directory),
        "2.5.4.42" => ("givenName", Directory),
        "2.5.4.43" => ("initials", Directory),
        "2.5.4.44" => ("generationQualifier", Directory),
        "2.5.4.41" => ("name", Directory),
        "2.5.4.65" => ("pseudonym", Directory),
        "2.5.4.46" => ("dnQualifier", Printable),
        "2.5.4.5" => ("serialNumber", Printable),
        "2.5.4.9" => ("street", Directory),
        "2.5.4.17" => ("postalCode", Directory),
        "2.5.4.15" => ("businessCategory", Directory),
        "2.5.4.20" => ("telephoneNumber", Printable),
        "0.9.2342.19200300.100.1.25" => ("DC", Ia5),
        "0.9.2342.19200300.100.1.1" => ("UID", Directory),
        "1.2.840.113549.1.9.1" => ("EMAIL", Ia5),
        "1.3.6.1.4.1.311.60.2.1.1" => ("jurisdictionOfIncorporationLocalityName", Directory),
        "1.3.6.1.4.1.311.60.2.1.2" => ("jurisdictionOfIncorporationStateOrProvinceName", Directory),
        "1.3.6.1.4.1.311.60.2.1.3" => ("jurisdictionOfIncorporationCountryName", Printable),
        "1.3.6.1.5.5.7.9.4" => ("countryOfCitizenship", Printable),
        "1.3.6.1.5.5.7.9.5" => ("countryOfResidence", Printable),
        _ => return None,
    })
}

/// The text of a value of the expected string type; `None` otherwise (written in hex).
fn string_value(value: Tlv<'_>, expect: Expect) -> Option<String> {
    let allowed = match expect {
        Expect::Directory => matches!(value.tag, 0x0c | 0x13 | 0x14 | 0x1c | 0x1e),
        Expect::Printable => value.tag == 0x13,
        Expect::Ia5 => value.tag == 0x16,
    };
    if !allowed {
        return None;
    }
    match value.tag {
        // UTF8String, PrintableString, TeletexString, IA5String.
        0x0c | 0x13 | 0x14 | 0x16 => Some(String::from_utf8_lossy(value.body).into_owned()),
        // BMPString: UCS-2 big endian.
        0x1e => {
            if value.body.len() % 2 != 0 {
                return None;
            }
            let units: Vec<u16> = value
                .body
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16(&units).ok()
        }
        // UniversalString: UCS-4 big endian.
        0x1c => {
            if value.body.len() % 4 != 0 {
                return None;
            }
            value
                .body
                .chunks_exact(4)
                .map(|c| char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
                .collect()
        }
        _ => None,
    }
}

/// Appends `text` with RFC 4514's escapes, as GnuTLS applies them.
fn escape_into(out: &mut String, text: &str) {
    let last = text.chars().count().saturating_sub(1);
    for (i, c) in text.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && (c == '#' || c == ' '))
            || (i == last && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
}

fn hex_into(out: &mut String, bytes: &[u8]) {
    out.push('#');
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![tag];
        if body.len() < 0x80 {
            v.push(body.len() as u8);
        } else {
            v.push(0x82);
            v.extend_from_slice(&(body.len() as u16).to_be_bytes());
        }
        v.extend_from_slice(body);
        v
    }

    fn ava(oid: &[u8], tag: u8, value: &[u8]) -> Vec<u8> {
        let mut body = tlv(OID, oid);
        body.extend(tlv(tag, value));
        tlv(SEQUENCE, &body)
    }

    const CN: &[u8] = &[0x55, 0x04, 0x03];
    const C: &[u8] = &[0x55, 0x04, 0x06];
    const O: &[u8] = &[0x55, 0x04, 0x0a];
    const UID: &[u8] = &[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01];

    #[test]
    fn certificate_order_and_multi_valued_rdns() {
        let mut name = tlv(SET, &ava(C, 0x13, b"GB"));
        name.extend(tlv(SET, &ava(O, 0x0c, b"Example")));
        let mut multi = ava(CN, 0x0c, b"client");
        multi.extend(ava(UID, 0x0c, b"u1"));
        name.extend(tlv(SET, &multi));
        assert_eq!(
            name_to_string(&name).unwrap(),
            "C=GB,O=Example,CN=client+UID=u1"
        );
    }

    #[test]
    fn escapes_as_gnutls() {
        let name = tlv(SET, &ava(CN, 0x0c, b" lead#x\\y;z<a>b=c\"q,p+r trail "));
        assert_eq!(
            name_to_string(&name).unwrap(),
            "CN=\\ lead#x\\\\y\\;z\\<a\\>b=c\\\"q\\,p\\+r trail\\ "
        );
        let name = tlv(SET, &ava(O, 0x0c, b"#hash"));
        assert_eq!(name_to_string(&name).unwrap(), "O=\\#hash");
    }

    #[test]
    fn unknown_types_and_binary_values_in_hex() {
        let name = tlv(SET, &ava(&[0x55, 0x04, 0x2d], 0x0c, b"uid2"));
        assert_eq!(name_to_string(&name).unwrap(), "2.5.4.45=#0c0475696432");
        let name = tlv(SET, &ava(C, 0x0c, b"GB"));
        assert_eq!(name_to_string(&name).unwrap(), "C=#0c024742");
        let name = tlv(SET, &ava(CN, 0x04, b"\x01\x02"));
        assert_eq!(name_to_string(&name).unwrap(), "CN=#04020102");
        let name = tlv(SET, &ava(CN, 0x1e, &[0x00, 0x41, 0x00, 0xe9]));
        assert_eq!(name_to_string(&name).unwrap(), "CN=A\u{e9}");
    }

    #[test]
    fn oids() {
        assert_eq!(
            oid_to_string(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01]).unwrap(),
            "1.2.840.113549.1.9.1"
        );
        assert!(oid_to_string(&[0x2a, 0x86]).is_err());
        assert!(oid_to_string(&[]).is_err());
    }

    #[test]
    fn truncated_and_malformed_input_is_an_error() {
        assert!(subject_dn(&[]).is_err());
        assert!(subject_dn(&[0x30]).is_err());
        assert!(subject_dn(&[0x30, 0x85, 1, 2, 3, 4, 5]).is_err());
        assert!(subject_dn(&[0x30, 0x02, 0x30, 0x05]).is_err());
        assert!(name_to_string(&[0x31, 0x03, 0x30, 0x01, 0x06]).is_err());
        assert!(name_to_string(&[0x30, 0x00]).is_err());
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = subject_dn(&bytes);
            let _ = name_to_string(&bytes);
            let _ = validity(&bytes);
            let _ = common_names(&bytes);
        }

        #[test]
        fn mutated_certificates_never_panic(pos in 0usize..400, byte in proptest::num::u8::ANY) {
            let mut cert = SAMPLE.to_vec();
            if pos < cert.len() {
                cert[pos] = byte;
            }
            let _ = subject_dn(&cert);
            let _ = validity(&cert);
            let _ = subject_dn(&cert[..pos.min(cert.len())]);
        }
    }

    /// A real certificate (made by `openssl req -x509`, subject `C=GB,O=Example,CN=client`).
    const SAMPLE: &[u8] = include_bytes!("../tests/data/sample.der");

    #[test]
    fn reads_a_real_certificate() {
        assert_eq!(subject_dn(SAMPLE).unwrap(), "C=GB,O=Example,CN=client");
        assert_eq!(common_names(SAMPLE).unwrap(), ["client"]);
        let (not_before, not_after) = validity(SAMPLE).unwrap();
        // 3650 days.
        assert_eq!(not_after - not_before, 3650 * 86_400);
    }

    #[test]
    fn times() {
        assert_eq!(
            time(Tlv {
                tag: 0x17,
                body: b"700101000000Z",
                raw: &[]
            })
            .unwrap(),
            0
        );
        assert_eq!(
            time(Tlv {
                tag: 0x17,
                body: b"491231235959Z",
                raw: &[]
            })
            .unwrap(),
            2_524_607_999
        );
        assert_eq!(
            time(Tlv {
                tag: 0x18,
                body: b"20000229120000Z",
                raw: &[]
            })
            .unwrap(),
            951_825_600
        );
        assert_eq!(
            time(Tlv {
                tag: 0x18,
                body: b"99991231235959Z",
                raw: &[]
            })
            .unwrap(),
            253_402_300_799
        );
        assert!(time(Tlv {
            tag: 0x17,
            body: b"700101000000+",
            raw: &[]
        })
        .is_err());
        assert!(time(Tlv {
            tag: 0x17,
            body: b"701301000000Z",
            raw: &[]
        })
        .is_err());
        assert!(time(Tlv {
            tag: 0x18,
            body: b"700101000000Z",
            raw: &[]
        })
        .is_err());
    }
}
