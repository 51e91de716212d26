//! libvirt's text layout of a command line (`virCommandToStringFull` with line breaks), as
//! its `qemuxml2argvdata/*.args` files hold it.

/// The characters that make libvirt quote a word (`virBufferEscapeShell`).
const SHELL_META: &[char] = &[
    '\r', '\t', '\n', ' ', '!', '"', '#', '$', '&', '\'', '(', ')', '*', ';', '<', '>', '?', '[',
    '\\', ']', '^', '`', '{', '|', '}', '~',
];

/// Quotes `word` for `/bin/sh` as libvirt does: as is when it holds no metacharacter, `''`
/// when empty, otherwise in single quotes with each `'` written as `'\''`.
pub fn shell_escape(word: &str) -> String {
    if word.is_empty() {
        return "''".to_string();
    }
    if !word.contains(SHELL_META) {
        return word.to_string();
    }
    let mut out = String::with_capacity(word.len() + 2);
    out.push('\'');
    for ch in word.chars() {
        if ch == '\'' {
            out.push_str("'\\'");
        }
        out.push(ch);
    }
    out.push('\'');
    out
}

/// Lays out an environment and an argv as libvirt's `.args` files do: each variable on its
/// own line, then the program, each option (an argument starting with `-`) starting a new
/// line and its value following on the same line, lines joined with ` \` and the text ending
/// with a newline.
pub fn format_args(env: &[(String, String)], argv: &[String]) -> String {
    let mut out = String::new();
    for (name, value) in env {
        out.push_str(name);
        out.push('=');
        out.push_str(&shell_escape(value));
        out.push_str(" \\\n");
    }
    for (i, arg) in argv.iter().enumerate() {
        if i > 0 {
            if arg.starts_with('-') {
                out.push_str(" \\\n");
            } else {
                out.push(' ');
            }
        }
        out.push_str(&shell_escape(arg));
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_libvirt() {
        assert_eq!(shell_escape(""), "''");
        assert_eq!(shell_escape("a,b=c/d"), "a,b=c/d");
        assert_eq!(shell_escape("{\"a\":1}"), "'{\"a\":1}'");
        assert_eq!(shell_escape("it's"), "'it'\\''s'");
    }

    #[test]
    fn lays_out_lines() {
        let env = vec![("LC_ALL".to_string(), "C".to_string())];
        let argv: Vec<String> = ["/usr/bin/qemu", "-name", "guest=a", "-S"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            format_args(&env, &argv),
            "LC_ALL=C \\\n/usr/bin/qemu \\\n-name guest=a \\\n-S\n"
        );
    }
}
