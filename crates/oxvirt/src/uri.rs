//! Connection URIs: `driver[+transport]://[user@][host][:port]/path[?params][#fragment]`.
//!
//! The grammar is RFC 3986 as libxml2's `xmlParseURI` reads it (libvirt's `virURIParse`
//! wraps it), with libvirt's additions:
//!
//! * user, host, path and fragment are percent-decoded; the query is kept as written and
//!   split into parameters as `virURIParseParams` does (`&` separators, or `;` when no `&`
//!   follows; `name` alone means an empty value; `=value` is ignored; names and values are
//!   percent-decoded, `+` stays `+`);
//! * brackets around an IPv6 host are removed (`[::1]` is host `::1`);
//! * an empty host is no host, and a port without a host is dropped;
//! * a URI without a scheme fails as `virConnectOpen` fails it: `VIR_ERR_NO_CONNECT`,
//!   "URI 'x' does not include a driver name".
//!
//! [`Uri`]'s `Display` writes it back as `virURIFormat` does, which is what
//! `virConnectGetURI` and `virsh uri` print: decoded parts re-escaped (a `:` in the path
//! becomes `%3A`), the query exactly as it was given.
//!
//! Where libvirt's writer would produce a string that does not parse back to the same URI,
//! we differ on purpose so that parse → display → parse always holds: a host with characters
//! outside RFC 3986's `reg-name` is percent-encoded (libxml2 writes it raw), and a rootless
//! path (`test:default`) is written without `//` (libxml2 writes `test://default`, a host).
//! Ports above 65535 are refused as malformed (libvirt accepts them and fails to connect);
//! decoded parts that are not UTF-8 are refused as malformed too.

use std::fmt::{self, Write as _};

use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

/// A parsed connection URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uri {
    scheme: String,
    user: Option<String>,
    host: Option<String>,
    port: Option<u16>,
    path: String,
    query: Option<String>,
    params: Vec<(String, String)>,
    fragment: Option<String>,
}

impl Uri {
    /// Parses a connection URI; see the [module documentation](self) for the grammar.
    ///
    /// A malformed URI fails as libvirt fails it: `VIR_ERR_INTERNAL_ERROR` from
    /// `VIR_FROM_URI`, "internal error: Unable to parse URI te st://". A URI without a
    /// scheme fails with `VIR_ERR_NO_CONNECT`.
    pub fn parse(text: &str) -> Result<Uri, VirError> {
        let raw = Parser::new(text)
            .reference()
            .ok_or_else(|| malformed(text))?;
        let Some(scheme) = raw.scheme else {
            return Err(VirError::new(
                ErrorDomain::None,
                ErrorCode::NoConnect,
                format!("URI '{text}' does not include a driver name"),
            ));
        };
        let decode = |part: &str| percent_decode(part).ok_or_else(|| malformed(text));
        let user = raw.user.map(decode).transpose()?;
        let host = match raw.host {
            Some(h) if !h.is_empty() => Some(strip_ipv6_brackets(decode(h)?)),
            _ => None,
        };
        let port = match (&host, raw.port) {
            (Some(_), Some(p)) if !p.is_empty() => {
                let n: u32 = p.parse().map_err(|_| malformed(text))?;
                let n = u16::try_from(n).map_err(|_| malformed(text))?;
                (n != 0).then_some(n)
            }
            _ => None,
        };
        let query = raw.query.map(str::to_owned);
        let params = parse_params(query.as_deref().unwrap_or("")).ok_or_else(|| malformed(text))?;
        Ok(Uri {
            scheme: scheme.to_owned(),
            user,
            host,
            port,
            path: decode(raw.path)?,
            query,
            params,
            fragment: raw.fragment.map(decode).transpose()?,
        })
    }

    /// The whole scheme (`qemu+ssh`).
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// The driver part of the scheme, before any `+` (`qemu` in `qemu+ssh`).
    pub fn driver(&self) -> &str {
        self.scheme
            .split_once('+')
            .map_or(self.scheme.as_str(), |(d, _)| d)
    }

    /// The transport part of the scheme, after the first `+` (`ssh` in `qemu+ssh`).
    pub fn transport(&self) -> Option<&str> {
        self.scheme.split_once('+').map(|(_, t)| t)
    }

    /// The user name, decoded.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// The host, decoded, without the brackets of an IPv6 address; `None` when empty.
    pub fn host(&self) -> Option<&str> {
        self.host.as_deref()
    }

    /// The port; `None` when absent, zero, or given without a host.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The path, decoded (`/system`, `/default`); empty when there is none.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The query exactly as written, without the `?`.
    pub fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }

    /// The query parameters, decoded, in the order written.
    pub fn params(&self) -> &[(String, String)] {
        &self.params
    }

    /// The value of the first parameter called `name`, as `virURIGetParam` finds it.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The fragment, decoded.
    pub fn fragment(&self) -> Option<&str> {
        self.fragment.as_deref()
    }

    /// Whether the URI needs a remote connection: a host or a transport is given.
    pub fn is_remote(&self) -> bool {
        self.host.is_some() || self.transport().is_some()
    }
}

impl fmt::Display for Uri {
    /// Writes the URI as `virURIFormat` does (see the [module documentation](self)).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.scheme)?;
        f.write_char(':')?;
        let rootless = self.host.is_none()
            && self.user.is_none()
            && !self.path.is_empty()
            && !self.path.starts_with('/');
        if !rootless {
            f.write_str("//")?;
            if let Some(user) = &self.user {
                escape(f, user, USER_EXTRA)?;
                f.write_char('@')?;
            }
            if let Some(host) = &self.host {
                // An IPv6 address (brackets stripped when parsed), or a bracketed host
                // kept as it was: the text between the brackets is taken as it is up to
                // the first `]`, then decoded; so `%` is written `%25` (a zone, RFC 6874)
                // and `]` `%5D`, and it reads back the same.
                let bracketed = if host.contains(':') {
                    Some(host.as_str())
                } else {
                    host.strip_prefix('[').and_then(|h| h.strip_suffix(']'))
                };
                if let Some(inner) = bracketed {
                    let inner = inner.replace('%', "%25").replace(']', "%5D");
                    write!(f, "[{inner}]")?;
                } else {
                    escape(f, host, HOST_EXTRA)?;
                }
                if let Some(port) = self.port {
                    write!(f, ":{port}")?;
                }
            }
        }
        escape(f, &self.path, PATH_EXTRA)?;
        if let Some(query) = &self.query {
            write!(f, "?{query}")?;
        }
        if let Some(fragment) = &self.fragment {
            f.write_char('#')?;
            escape(f, fragment, FRAGMENT_EXTRA)?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Uri {
    type Err = VirError;

    /// Same as [`Uri::parse`].
    fn from_str(s: &str) -> Result<Uri, VirError> {
        Uri::parse(s)
    }
}

fn malformed(text: &str) -> VirError {
    VirError::new(
        ErrorDomain::Uri,
        ErrorCode::InternalError,
        format!("Unable to parse URI {text}"),
    )
}

/// `virStringStripIPv6Brackets`: only `[...]` holding a `:` loses its brackets.
fn strip_ipv6_brackets(host: String) -> String {
    match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(inner) if inner.contains(':') => inner.to_owned(),
        _ => host,
    }
}

/// `virURIParseParams`.
fn parse_params(query: &str) -> Option<Vec<(String, String)>> {
    let mut params = Vec::new();
    let mut rest = query;
    while !rest.is_empty() {
        let end = rest
            .find('&')
            .or_else(|| rest.find(';'))
            .unwrap_or(rest.len());
        let section = &rest[..end];
        rest = rest.get(end + 1..).unwrap_or("");
        match section.split_once('=') {
            _ if section.is_empty() => {}
            None => params.push((percent_decode(section)?, String::new())),
            Some(("", _)) => {}
            Some((name, value)) => params.push((percent_decode(name)?, percent_decode(value)?)),
        }
    }
    Some(params)
}

/// Decodes `%XX` sequences as `xmlURIUnescapeString` does: a `%` not followed by two hex
/// digits stays as it is. `None` if the result is not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) => hex_value(h).zip(hex_value(l)),
            _ => None,
        };
        if let Some((high, low)) = escaped {
            out.push(high << 4 | low);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn hex_value(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// libxml2's `IS_UNRESERVED`: RFC 2396's alphanumerics and marks.
fn is_unreserved_2396(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b)
}

const PATH_EXTRA: &[u8] = b"/;@&=+$,";
const USER_EXTRA: &[u8] = b";:&=+$,";
const FRAGMENT_EXTRA: &[u8] = b";/?:@&=+$,[]";
const HOST_EXTRA: &[u8] = b"$&+,;=";

/// Writes `text`, percent-encoding (upper-case hex) every byte that is neither unreserved
/// nor in `extra`, as `xmlSaveUri` does.
fn escape(f: &mut fmt::Formatter<'_>, text: &str, extra: &[u8]) -> fmt::Result {
    for &b in text.as_bytes() {
        if is_unreserved_2396(b) || extra.contains(&b) {
            f.write_char(char::from(b))?;
        } else {
            write!(f, "%{b:02X}")?;
        }
    }
    Ok(())
}

/// The pieces of a URI reference, still escaped, as the grammar found them.
struct RawUri<'a> {
    scheme: Option<&'a str>,
    user: Option<&'a str>,
    host: Option<&'a str>,
    port: Option<&'a str>,
    path: &'a str,
    query: Option<&'a str>,
    fragment: Option<&'a str>,
}

/// An RFC 3986 reader following libxml2's `xmlParse3986URIReference`: an absolute URI
/// first, a relative reference if that fails.
struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        Parser { text, pos: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<u8> {
        self.text.as_bytes().get(self.pos + offset).copied()
    }

    fn rest(&self) -> &'a str {
        self.text.get(self.pos..).unwrap_or("")
    }

    fn slice(&self, start: usize) -> &'a str {
        self.text.get(start..self.pos).unwrap_or("")
    }

    fn reference(&mut self) -> Option<RawUri<'a>> {
        if let Some(uri) = self.absolute() {
            return Some(uri);
        }
        self.pos = 0;
        self.relative()
    }

    fn absolute(&mut self) -> Option<RawUri<'a>> {
        let scheme = self.scheme()?;
        let mut uri = self.hier_part(false)?;
        uri.scheme = Some(scheme);
        self.tail(uri)
    }

    fn relative(&mut self) -> Option<RawUri<'a>> {
        let uri = self.hier_part(true)?;
        self.tail(uri)
    }

    /// `[ "?" query ] [ "#" fragment ]`, then the end.
    fn tail(&mut self, mut uri: RawUri<'a>) -> Option<RawUri<'a>> {
        if self.peek() == Some(b'?') {
            self.pos += 1;
            let start = self.pos;
            self.skip_while(|p| p.pchar() || p.one_of(b"/?"))?;
            uri.query = Some(self.slice(start));
        }
        if self.peek() == Some(b'#') {
            self.pos += 1;
            let start = self.pos;
            self.skip_while(|p| p.pchar() || p.one_of(b"/?[]"))?;
            uri.fragment = Some(self.slice(start));
        }
        (self.pos == self.text.len()).then_some(uri)
    }

    fn scheme(&mut self) -> Option<&'a str> {
        if !self.peek()?.is_ascii_alphabetic() {
            return None;
        }
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
        {
            self.pos += 1;
        }
        let scheme = self.slice(start);
        (self.peek() == Some(b':')).then(|| {
            self.pos += 1;
            scheme
        })
    }

    /// `hier-part` (or `relative-part` when `relative`): authority and path.
    fn hier_part(&mut self, relative: bool) -> Option<RawUri<'a>> {
        let mut uri = RawUri {
            scheme: None,
            user: None,
            host: None,
            port: None,
            path: "",
            query: None,
            fragment: None,
        };
        if self.rest().starts_with("//") {
            self.pos += 2;
            self.authority(&mut uri)?;
            let start = self.pos;
            while self.peek() == Some(b'/') {
                self.pos += 1;
                self.skip_while(Parser::pchar)?;
            }
            uri.path = self.slice(start);
            return Some(uri);
        }
        let start = self.pos;
        if self.peek() == Some(b'/') {
            self.pos += 1;
            self.skip_while(Parser::pchar)?;
        } else if relative {
            // path-noscheme: the first segment may not hold a ':'.
            self.skip_while(|p| p.pchar() && p.peek() != Some(b':'))?;
            if self.peek() == Some(b':') {
                return None;
            }
        } else {
            self.skip_while(Parser::pchar)?;
        }
        while self.peek() == Some(b'/') {
            self.pos += 1;
            self.skip_while(Parser::pchar)?;
        }
        uri.path = self.slice(start);
        Some(uri)
    }

    fn authority(&mut self, uri: &mut RawUri<'a>) -> Option<()> {
        let start = self.pos;
        if self
            .skip_while(|p| p.unreserved() || p.sub_delim() || p.one_of(b":"))
            .is_some()
            && self.peek() == Some(b'@')
        {
            uri.user = Some(self.slice(start));
            self.pos += 1;
        } else {
            self.pos = start;
        }
        let host_start = self.pos;
        if self.peek() == Some(b'[') {
            let close = self.rest().find(']')?;
            self.pos += close + 1;
        } else {
            self.skip_while(|p| p.unreserved() || p.sub_delim())?;
        }
        uri.host = Some(self.slice(host_start));
        if self.peek() == Some(b':') {
            self.pos += 1;
            let port_start = self.pos;
            while self.peek().is_some_and(|b| b.is_ascii_digit()) {
                self.pos += 1;
            }
            if self.pos == port_start {
                return None;
            }
            uri.port = Some(self.slice(port_start));
        }
        Some(())
    }

    /// Advances over every position where `accept` holds (a `%XX` counts as one); fails on
    /// a malformed `%` escape.
    fn skip_while(&mut self, accept: impl Fn(&Parser<'a>) -> bool) -> Option<()> {
        loop {
            if self.peek() == Some(b'%') {
                if !(self.peek_at(1)?.is_ascii_hexdigit() && self.peek_at(2)?.is_ascii_hexdigit()) {
                    return None;
                }
                if !accept(self) {
                    return Some(());
                }
                self.pos += 3;
            } else if self.peek().is_some() && accept(self) {
                self.pos += 1;
            } else {
                return Some(());
            }
        }
    }

    fn one_of(&self, set: &[u8]) -> bool {
        self.peek().is_some_and(|b| set.contains(&b))
    }

    fn unreserved(&self) -> bool {
        self.peek() == Some(b'%')
            || self
                .peek()
                .is_some_and(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
    }

    fn sub_delim(&self) -> bool {
        self.one_of(b"!$&'()*+,;=")
    }

    fn pchar(&self) -> bool {
        self.unreserved() || self.sub_delim() || self.one_of(b":@")
    }
}

#[cfg(test)]
#[path = "uri_tests.rs"]
mod tests;
