//! The options before the command (`-c URI`, `-r`, `-q`, `-t`, `-h`, `-v`, `--json`), read
//! as virsh reads them with `getopt_long("+:c:d:e:hk:K:l:qrtvV")`: short options may be
//! bundled (`-qr`, `-cURI`), long ones take `--opt=value` or `--opt value`, and the first
//! word that is not an option starts the command.

use crate::args::Group;
use crate::commands::table::COMMANDS;
use crate::ctl::Options;

/// What to do after the options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// No command: the interactive shell.
    Shell,
    /// One word: a command string, split as virsh splits it (`"list --all; uri"`).
    Line(String),
    /// Several words: one command and its arguments, taken as they are.
    Words(Vec<String>),
    /// `-h`.
    Help,
    /// `-v`, `-V`, `--version[=short|long]`.
    Version {
        /// `-V` / `--version=long`.
        long: bool,
    },
}

/// Reads the global options; the error is the message to print after `error: `.
pub fn parse(argv: &[String]) -> Result<(Options, Mode), String> {
    // no -c: the library resolves the default ($LIBVIRT_DEFAULT_URI, ...)
    let mut opts = Options::default();
    let mut i = 0;
    let mut early: Option<Mode> = None;
    while i < argv.len() {
        if let Some(mode) = early {
            // -h and -v act as soon as they are read, as with getopt
            return Ok((opts, mode));
        }
        let word = &argv[i];
        if word == "--" {
            i += 1;
            break;
        }
        if let Some(long) = word.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_owned())),
                None => (long, None),
            };
            let short = match name {
                "connect" => 'c',
                "debug" => 'd',
                "escape" => 'e',
                "help" => 'h',
                "keepalive-interval" => 'k',
                "keepalive-count" => 'K',
                "log" => 'l',
                "quiet" => 'q',
                "readonly" => 'r',
                "timing" => 't',
                "json" => 'j',
                "version" => {
                    let long = match inline.as_deref() {
                        None | Some("short") => false,
                        Some("long") => true,
                        Some(other) => return Err(format!("unknown version type '{other}'")),
                    };
                    early.get_or_insert(Mode::Version { long });
                    i += 1;
                    continue;
                }
                _ => return Err(format!("unsupported option '{word}'. See --help.")),
            };
            let needs_value = matches!(short, 'c' | 'd' | 'e' | 'k' | 'K' | 'l');
            let value = if needs_value {
                match inline {
                    Some(v) => Some(v),
                    None => {
                        i += 1;
                        Some(argv.get(i).cloned().ok_or_else(|| missing(short, name))?)
                    }
                }
            } else if inline.is_some() {
                return Err(format!("option '--{name}' doesn't allow an argument"));
            } else {
                None
            };
            apply(&mut opts, &mut early, short, value);
            i += 1;
            continue;
        }
        if word.len() > 1 && word.starts_with('-') {
            let chars: Vec<char> = word[1..].chars().collect();
            let mut j = 0;
            while j < chars.len() {
                let c = chars[j];
                match c {
                    'c' | 'd' | 'e' | 'k' | 'K' | 'l' => {
                        let rest: String = chars[j + 1..].iter().collect();
                        let value = if rest.is_empty() {
                            i += 1;
                            argv.get(i)
                                .cloned()
                                .ok_or_else(|| missing(c, long_name(c)))?
                        } else {
                            rest
                        };
                        apply(&mut opts, &mut early, c, Some(value));
                        break;
                    }
                    'h' | 'q' | 'r' | 't' | 'v' | 'V' => apply(&mut opts, &mut early, c, None),
                    _ => return Err(format!("unsupported option '-{c}'. See --help.")),
                }
                j += 1;
            }
            i += 1;
            continue;
        }
        break;
    }
    if let Some(mode) = early {
        return Ok((opts, mode));
    }
    let rest = &argv[i..];
    if rest.iter().any(|w| w == "--json")
        || (rest.len() == 1 && rest[0].split_whitespace().any(|w| w == "--json"))
    {
        opts.json = true;
    }
    let mode = match rest {
        [] => Mode::Shell,
        [line] => Mode::Line(line.clone()),
        words => Mode::Words(words.to_vec()),
    };
    Ok((opts, mode))
}

fn long_name(c: char) -> &'static str {
    match c {
        'c' => "connect",
        'd' => "debug",
        'e' => "escape",
        'k' => "keepalive-interval",
        'K' => "keepalive-count",
        _ => "log",
    }
}

fn missing(c: char, name: &str) -> String {
    format!("option '-{c}'/'--{name}' requires an argument")
}

fn apply(opts: &mut Options, early: &mut Option<Mode>, c: char, value: Option<String>) {
    match c {
        'c' => opts.uri = value,
        'q' => opts.quiet = true,
        'r' => opts.readonly = true,
        't' => opts.timing = true,
        'j' => opts.json = true,
        'h' => {
            early.get_or_insert(Mode::Help);
        }
        'v' => {
            early.get_or_insert(Mode::Version { long: false });
        }
        'V' => {
            early.get_or_insert(Mode::Version { long: true });
        }
        // -d, -e, -k, -K, -l: accepted for virsh compatibility; nothing to do yet
        _ => {}
    }
}

/// `oxvirsh -v` / `-V`.
pub fn version_text(long: bool) -> String {
    let version = env!("CARGO_PKG_VERSION");
    if long {
        format!(
            "oxvirsh command line tool of oxvirt {version}\n\
             Following the API of libvirt {}\n",
            crate::output::version_string(oxvirt::LIBVIRT_API_VERSION)
        )
    } else {
        format!("{version}\n")
    }
}

/// `oxvirsh -h`: virsh's usage text, with oxvirsh's commands.
pub fn usage() -> String {
    let mut out = String::from(
        "\n\
oxvirsh [options]... [<command_string>]\n\
oxvirsh [options]... <command> [args...]\n\
\n\
  options:\n\
    -c | --connect=URI      hypervisor connection URI\n\
    -d | --debug=NUM        debug level [0-4] (accepted, ignored)\n\
    -e | --escape <char>    set escape sequence for console (accepted, ignored)\n\
    -h | --help             this help\n\
    -k | --keepalive-interval=NUM\n\
                            keepalive interval in seconds (accepted, ignored)\n\
    -K | --keepalive-count=NUM\n\
                            number of possible missed keepalive messages (accepted, ignored)\n\
    -l | --log=FILE         output logging to file (accepted, ignored)\n\
    -q | --quiet            quiet mode\n\
    -r | --readonly         connect readonly\n\
    -t | --timing           print timing information\n\
    -v                      short version\n\
    -V                      long version\n\
         --version[=TYPE]   version, TYPE is short or long (default short)\n\
         --json             machine-readable JSON output (also after the command)\n\
  commands (non interactive mode):\n\n",
    );
    for group in Group::ALL {
        out.push_str(&format!(
            " {} (help keyword '{}')\n",
            group.title(),
            group.keyword()
        ));
        for c in COMMANDS.iter().filter(|c| c.group == group) {
            out.push_str(&format!("    {:<30} {}\n", c.name, c.help));
        }
        out.push('\n');
    }
    out.push_str(
        "\n  (specify help <group> for details about the commands in the group)\n\n  \
         (specify help <command> for details about the command)\n\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &[&str]) -> Vec<String> {
        s.iter().map(|w| (*w).to_owned()).collect()
    }

    #[test]
    fn options_then_command_words() {
        let (o, m) = parse(&words(&["-c", "test:///default", "-qr", "list", "--all"])).unwrap();
        assert_eq!(o.uri.as_deref(), Some("test:///default"));
        assert!(o.quiet && o.readonly && !o.json);
        assert_eq!(m, Mode::Words(words(&["list", "--all"])));
    }

    #[test]
    fn bundled_and_long_forms_of_connect() {
        let (o, m) = parse(&words(&["-ctest:///x", "uri"])).unwrap();
        assert_eq!(o.uri.as_deref(), Some("test:///x"));
        assert_eq!(m, Mode::Line("uri".into()));
        let (o, _) = parse(&words(&["--connect=test:///y", "uri"])).unwrap();
        assert_eq!(o.uri.as_deref(), Some("test:///y"));
        let (o, _) = parse(&words(&["--connect", "test:///z", "--readonly", "uri"])).unwrap();
        assert_eq!((o.uri.as_deref(), o.readonly), (Some("test:///z"), true));
    }

    #[test]
    fn json_before_or_after_the_command() {
        let (o, _) = parse(&words(&["--json", "uri"])).unwrap();
        assert!(o.json);
        let (o, _) = parse(&words(&["list", "--all", "--json"])).unwrap();
        assert!(o.json);
        let (o, _) = parse(&words(&["list --json"])).unwrap();
        assert!(o.json);
    }

    #[test]
    fn no_command_is_the_shell_and_the_first_word_ends_options() {
        assert_eq!(parse(&[]).unwrap().1, Mode::Shell);
        let (o, m) = parse(&words(&["dominfo", "-q"])).unwrap();
        assert!(!o.quiet);
        assert_eq!(m, Mode::Words(words(&["dominfo", "-q"])));
    }

    #[test]
    fn errors_are_worded_as_virsh_words_them() {
        assert_eq!(
            parse(&words(&["--foo"])).unwrap_err(),
            "unsupported option '--foo'. See --help."
        );
        assert_eq!(
            parse(&words(&["-x"])).unwrap_err(),
            "unsupported option '-x'. See --help."
        );
        assert_eq!(
            parse(&words(&["-c"])).unwrap_err(),
            "option '-c'/'--connect' requires an argument"
        );
    }

    #[test]
    fn help_and_version() {
        assert_eq!(parse(&words(&["-h", "list"])).unwrap().1, Mode::Help);
        assert_eq!(
            parse(&words(&["-V"])).unwrap().1,
            Mode::Version { long: true }
        );
        assert_eq!(
            parse(&words(&["--version=short"])).unwrap().1,
            Mode::Version { long: false }
        );
        assert!(usage().contains("    list                           list domains\n"));
        assert_eq!(
            version_text(false),
            format!("{}\n", env!("CARGO_PKG_VERSION"))
        );
    }
}
