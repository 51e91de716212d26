//! `fnmatch(pattern, string, 0)`, as libvirt matches `tls_allowed_dn_list` entries: `*` and
//! `?` match any characters including `/` and a leading `.`, `[...]` is a bracket
//! expression (`!` or `^` negates, ranges with `-`, `]` first is literal), `\` quotes the
//! next character.

/// Whether `pattern` is malformed for [`matches`]: an unterminated bracket expression is
/// taken literally by glibc, so only a trailing lone `\` is refused, as glibc does.
pub fn is_malformed(pattern: &str) -> bool {
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c == '\\' && chars.next().is_none() {
            return true;
        }
    }
    false
}

/// Whether `text` matches the glob `pattern`.
pub fn matches(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    match_from(&p, &t)
}

fn match_from(p: &[char], t: &[char]) -> bool {
    // Iterative matching with one backtrack point for the last `*`.
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    loop {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    // Collapse runs of stars.
                    while pi < p.len() && p[pi] == '*' {
                        pi += 1;
                    }
                    star = Some((pi, ti));
                    continue;
                }
                '?' if ti < t.len() => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                '[' if ti < t.len() => {
                    if let Some((matched, next)) = bracket(p, pi, t[ti]) {
                        if matched {
                            pi = next;
                            ti += 1;
                            continue;
                        }
                    } else if t[ti] == '[' {
                        // Unterminated: a literal '['.
                        pi += 1;
                        ti += 1;
                        continue;
                    }
                }
                '\\' if pi + 1 < p.len() && ti < t.len() && p[pi + 1] == t[ti] => {
                    pi += 2;
                    ti += 1;
                    continue;
                }
                c if c != '*'
                    && c != '?'
                    && c != '['
                    && c != '\\'
                    && ti < t.len()
                    && c == t[ti] =>
                {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                _ => {}
            }
        } else if ti == t.len() {
            return true;
        }
        // Mismatch: let the last star take one more character.
        match star {
            Some((sp, st)) if st < t.len() => {
                star = Some((sp, st + 1));
                pi = sp;
                ti = st + 1;
            }
            _ => return false,
        }
    }
}

/// Matches `c` against the bracket expression at `p[start]` (`[`): `Some((matched, index
/// after the closing ']'))`, or `None` if the expression is not terminated.
fn bracket(p: &[char], start: usize, c: char) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negate = matches!(p.get(i), Some('!') | Some('^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let mut lo = *p.get(i)?;
        if lo == ']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        if lo == '\\' {
            i += 1;
            lo = *p.get(i)?;
        }
        i += 1;
        if p.get(i) == Some(&'-') && p.get(i + 1).is_some_and(|&n| n != ']') {
            let mut hi = p[i + 1];
            i += 2;
            if hi == '\\' {
                hi = *p.get(i)?;
                i += 1;
            }
            if lo <= c && c <= hi {
                matched = true;
            }
        } else if lo == c {
            matched = true;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(matches("C=GB,O=Example,CN=*", "C=GB,O=Example,CN=client"));
        assert!(!matches("C=GB,O=Example,CN=*", "C=GB,O=Other,CN=client"));
        assert!(matches("*CN=client", "C=GB,O=Example,CN=client"));
        assert!(matches("*", ""));
        assert!(matches("a*b*c", "aXXbYYc"));
        assert!(!matches("a*b*c", "aXXbYY"));
        assert!(matches("CN=?lient", "CN=client"));
        assert!(matches("CN=[abc]lient", "CN=client"));
        assert!(!matches("CN=[!c]lient", "CN=client"));
        assert!(matches("CN=[a-d]lient", "CN=client"));
        assert!(matches("CN=[]x]", "CN=]"));
        assert!(matches("O=a/b*", "O=a/b/c"));
        assert!(matches("CN=\\*", "CN=*"));
        assert!(!matches("CN=\\*", "CN=x"));
        assert!(matches("CN=[x", "CN=[x"));
        assert!(matches("CN=a\\,b", "CN=a,b"));
        assert!(!matches("exact", "exactly"));
        assert!(is_malformed("abc\\"));
        assert!(!is_malformed("abc\\*"));
    }
}
