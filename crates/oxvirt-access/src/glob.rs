//! Shell-style globs as `fnmatch(3)` without flags treats them: `*` any run of
//! characters, `?` one character, `[...]` one of a set (`[!...]` or `[^...]` none of it,
//! `a-z` ranges), `\` quotes the next character.

/// Whether `pattern` is malformed for [`matches`]: glibc takes an unterminated bracket
/// expression literally, so only a trailing lone `\` is refused, as glibc refuses it.
pub fn is_malformed(pattern: &str) -> bool {
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c == '\\' && chars.next().is_none() {
            return true;
        }
    }
    false
}

/// Whether `text` matches `pattern` as a whole.
///
/// libvirt matches `tls_allowed_dn_list` entries with the same `fnmatch`, so the TLS
/// transport uses this too.
pub fn matches(pattern: &str, text: &str) -> bool {
    if pattern.is_ascii() && text.is_ascii() {
        // The common case, without allocating.
        return matches_in(pattern.as_bytes(), text.as_bytes());
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    matches_in(&p, &t)
}

/// [`matches`] over bytes (ASCII) or characters.
fn matches_in<C: Copy + Ord + From<u8>>(p: &[C], t: &[C]) -> bool {
    let (star_c, any, open, escape) = (C::from(b'*'), C::from(b'?'), C::from(b'['), C::from(b'\\'));
    // Iterative matching with one backtrack point (the last `*`): linear in practice,
    // never exponential.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() {
            let c = p[pi];
            if c == star_c {
                star = Some((pi, ti));
                pi += 1;
                continue;
            } else if c == any {
                pi += 1;
                ti += 1;
                continue;
            } else if c == open {
                if let Some((hit, next)) = class(p, pi, t[ti]) {
                    if hit {
                        pi = next;
                        ti += 1;
                        continue;
                    }
                } else if t[ti] == open {
                    // An unterminated '[' is an ordinary character.
                    pi += 1;
                    ti += 1;
                    continue;
                }
            } else if c == escape && pi + 1 < p.len() {
                if p[pi + 1] == t[ti] {
                    pi += 2;
                    ti += 1;
                    continue;
                }
            } else if c == t[ti] {
                pi += 1;
                ti += 1;
                continue;
            }
        }
        match star {
            Some((sp, st)) => {
                pi = sp + 1;
                ti = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|&c| c == star_c)
}

/// Matches `c` against the bracket expression at `p[start]` (`[`): whether it matched
/// and the index after the closing `]`; `None` if there is no closing `]`.
fn class<C: Copy + Ord + From<u8>>(p: &[C], start: usize, c: C) -> Option<(bool, usize)> {
    let (close, dash, escape) = (C::from(b']'), C::from(b'-'), C::from(b'\\'));
    let mut i = start + 1;
    let negate = p
        .get(i)
        .is_some_and(|&n| n == C::from(b'!') || n == C::from(b'^'));
    if negate {
        i += 1;
    }
    let mut hit = false;
    let mut first = true;
    loop {
        let &ch = p.get(i)?;
        if ch == close && !first {
            return Some((hit != negate, i + 1));
        }
        first = false;
        let (lo, next) = if ch == escape {
            (*p.get(i + 1)?, i + 2)
        } else {
            (ch, i + 1)
        };
        if p.get(next) == Some(&dash) && p.get(next + 1).is_some_and(|&e| e != close) {
            let hi = p[next + 1];
            if lo <= c && c <= hi {
                hit = true;
            }
            i = next + 2;
        } else {
            if lo == c {
                hit = true;
            }
            i = next;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{is_malformed, matches};

    #[test]
    fn globs() {
        assert!(matches("*", ""));
        assert!(matches("*", "anything"));
        assert!(matches("domain:*", "domain:start"));
        assert!(!matches("domain:*", "network:start"));
        assert!(matches("*:getattr", "domain:getattr"));
        assert!(!matches("*:getattr", "domain:getattr2"));
        assert!(matches("a?c", "abc"));
        assert!(!matches("a?c", "ac"));
        assert!(matches("web-[0-9]*", "web-1x"));
        assert!(!matches("web-[0-9]*", "web-x"));
        assert!(matches("[!a]b", "cb"));
        assert!(!matches("[!a]b", "ab"));
        assert!(matches("C=GB,O=Example,CN=*", "C=GB,O=Example,CN=client1"));
        assert!(!matches("C=GB,O=Example,CN=*", "C=GB,O=Other,CN=client1"));
        assert!(matches("a\\*", "a*"));
        assert!(!matches("a\\*", "ab"));
        assert!(matches("[", "["));
        assert!(matches("*a*b*c*", "xxaxxbxxcxx"));
        assert!(!matches("*a*b*c*", "xxaxxcxxbxx"));
        assert!(matches("é*", "écrit"));
        // libvirt's tls_allowed_dn_list entries.
        assert!(matches("*CN=client", "C=GB,O=Example,CN=client"));
        assert!(matches("a*b*c", "aXXbYYc"));
        assert!(!matches("a*b*c", "aXXbYY"));
        assert!(matches("CN=?lient", "CN=client"));
        assert!(matches("CN=[abc]lient", "CN=client"));
        assert!(!matches("CN=[!c]lient", "CN=client"));
        assert!(matches("CN=[a-d]lient", "CN=client"));
        assert!(matches("CN=[]x]", "CN=]"));
        assert!(matches("O=a/b*", "O=a/b/c"));
        assert!(matches("CN=[x", "CN=[x"));
        assert!(matches("CN=a\\,b", "CN=a,b"));
        assert!(!matches("exact", "exactly"));
        assert!(is_malformed("abc\\"));
        assert!(!is_malformed("abc\\*"));
    }
}
