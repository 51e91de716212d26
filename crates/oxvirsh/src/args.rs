//! virsh's command grammar: splitting a command line into words and commands, and matching
//! the words against a command's option table.
//!
//! The rules are virsh 9.0's (`tools/vsh.c`): options may come anywhere, as `--opt value` or
//! `--opt=value`; options that are not booleans may also be given by position, filling the
//! first positional option not yet given; `--` makes every later word positional; a word
//! starting with `#` starts a comment; `;` and newlines separate commands; `'...'` quotes
//! literally, `"..."` quotes with `\` escapes, and a bare `\` escapes the next character.

use std::fmt;

pub use crate::numbers::{parse_c_long, scale_integer, ScaledError};

/// What an option takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptKind {
    /// A flag: `--all`.
    Bool,
    /// A string value.
    String,
    /// A number (the command checks it).
    Int,
    /// Every remaining positional word (listed last; may repeat).
    Argv,
    /// Another name for the option named here; `name=value` makes a flag that means that
    /// option with that value.
    Alias(&'static str),
}

/// One option of a command, as virsh's `vshCmdOptDef`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptDef {
    /// The name, without `--`.
    pub name: &'static str,
    /// What it takes.
    pub kind: OptKind,
    /// Whether the command refuses to run without it.
    pub required: bool,
    /// Whether a bare word may fill it (virsh's options without `VSH_OFLAG_REQ_OPT`).
    pub positional: bool,
    /// The help text `help CMD` shows.
    pub help: &'static str,
}

impl OptDef {
    /// A flag.
    pub const fn flag(name: &'static str, help: &'static str) -> Self {
        OptDef {
            name,
            kind: OptKind::Bool,
            required: false,
            positional: false,
            help,
        }
    }

    /// A required string that may be given by position (virsh's `VSH_OT_DATA`).
    pub const fn data(name: &'static str, help: &'static str) -> Self {
        OptDef {
            name,
            kind: OptKind::String,
            required: true,
            positional: true,
            help,
        }
    }

    /// An optional string that may be given by position.
    pub const fn string(name: &'static str, help: &'static str) -> Self {
        OptDef {
            name,
            kind: OptKind::String,
            required: false,
            positional: true,
            help,
        }
    }

    /// An optional string that must be named (`--xml FILE`).
    pub const fn named(name: &'static str, help: &'static str) -> Self {
        OptDef {
            name,
            kind: OptKind::String,
            required: false,
            positional: false,
            help,
        }
    }

    /// A number that may be given by position; `required` as the command needs.
    pub const fn int(name: &'static str, required: bool, help: &'static str) -> Self {
        OptDef {
            name,
            kind: OptKind::Int,
            required,
            positional: true,
            help,
        }
    }

    /// The remaining positional words.
    pub const fn argv(name: &'static str, help: &'static str) -> Self {
        OptDef {
            name,
            kind: OptKind::Argv,
            required: false,
            positional: true,
            help,
        }
    }

    /// Another name for `target` (or `target=value`).
    pub const fn alias(name: &'static str, target: &'static str) -> Self {
        OptDef {
            name,
            kind: OptKind::Alias(target),
            required: false,
            positional: false,
            help: "",
        }
    }

    fn takes_position(&self) -> bool {
        self.positional && !matches!(self.kind, OptKind::Bool | OptKind::Alias(_))
    }
}

/// The groups `help` lists commands under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// "Domain Management (help keyword 'domain')".
    Domain,
    /// "Domain Monitoring (help keyword 'monitor')".
    Monitor,
    /// "Domain Events (help keyword 'events')".
    Events,
    /// "Host and Hypervisor (help keyword 'host')".
    Host,
    /// "Networking (help keyword 'network')".
    Network,
    /// "Snapshot (help keyword 'snapshot')".
    Snapshot,
    /// "Storage Pool (help keyword 'pool')".
    Pool,
    /// "Storage Volume (help keyword 'volume')".
    Volume,
    /// "Virsh itself (help keyword 'virsh')".
    Virsh,
}

impl Group {
    /// Every group, in `help`'s order.
    pub const ALL: [Group; 9] = [
        Group::Domain,
        Group::Monitor,
        Group::Events,
        Group::Host,
        Group::Network,
        Group::Snapshot,
        Group::Pool,
        Group::Volume,
        Group::Virsh,
    ];

    /// The heading `help` prints.
    pub fn title(self) -> &'static str {
        match self {
            Group::Domain => "Domain Management",
            Group::Monitor => "Domain Monitoring",
            Group::Events => "Domain Events",
            Group::Host => "Host and Hypervisor",
            Group::Network => "Networking",
            Group::Snapshot => "Snapshot",
            Group::Pool => "Storage Pool",
            Group::Volume => "Storage Volume",
            Group::Virsh => "Virsh itself",
        }
    }

    /// The keyword `help KEYWORD` takes.
    pub fn keyword(self) -> &'static str {
        match self {
            Group::Domain => "domain",
            Group::Monitor => "monitor",
            Group::Events => "events",
            Group::Host => "host",
            Group::Network => "network",
            Group::Snapshot => "snapshot",
            Group::Pool => "pool",
            Group::Volume => "volume",
            Group::Virsh => "virsh",
        }
    }
}

/// One command, as virsh's `vshCmdDef`.
#[derive(Debug)]
pub struct CmdDef {
    /// The command's name.
    pub name: &'static str,
    /// The group `help` lists it under.
    pub group: Group,
    /// The one-line help.
    pub help: &'static str,
    /// The description `help CMD` shows.
    pub desc: &'static str,
    /// Its options, positional ones in position order.
    pub opts: &'static [OptDef],
    /// Whether it runs without a connection (`help`, `quit`, `connect`).
    pub no_connect: bool,
}

/// A command with the options given to it.
#[derive(Debug, Clone)]
pub struct Cmd {
    /// What the command is.
    pub def: &'static CmdDef,
    /// The options given, in order (`Argv` options may repeat); flags carry no value.
    pub opts: Vec<(&'static str, Option<String>)>,
    /// `--help` was given: show the command's help instead of running it.
    pub help: bool,
    /// `--json` was given to this command.
    pub json: bool,
}

impl Cmd {
    /// Whether the option was given.
    pub fn has(&self, name: &str) -> bool {
        self.opts.iter().any(|(n, _)| *n == name)
    }

    /// The flags of the options given, from a table of (option, flag) pairs.
    pub fn flags(&self, table: &[(&str, u32)]) -> u32 {
        table
            .iter()
            .filter(|(opt, _)| self.has(opt))
            .fold(0, |flags, (_, flag)| flags | flag)
    }

    /// The value of a string option, `None` if not given.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.opts
            .iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, v)| v.as_deref())
    }

    /// Every value of a repeatable option, in order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.opts
            .iter()
            .filter(|(n, _)| *n == name)
            .filter_map(|(_, v)| v.as_deref())
            .collect()
    }

    /// The value of a string option that must not be empty: virsh's
    /// `vshCommandOptStringReq` ("Failed to get option 'xml': Option argument is empty").
    pub fn string(&self, name: &str) -> Result<Option<&str>, String> {
        match self.get(name) {
            Some("") => Err(format!(
                "Failed to get option '{name}': Option argument is empty"
            )),
            other => Ok(other),
        }
    }

    /// A required string option (the parser has already refused its absence).
    pub fn required(&self, name: &str) -> Result<&str, String> {
        self.string(name)?
            .ok_or_else(|| format!("Failed to get option '{name}': Mandatory option not present"))
    }

    /// An `unsigned int` option, as `vshCommandOptUInt` reads it.
    pub fn uint(&self, name: &str) -> Result<Option<u32>, String> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => parse_c_long(v)
                .filter(|n| *n >= 0)
                .and_then(|n| u32::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| malformed(v, name)),
        }
    }

    /// A size with an optional unit suffix, as `vshCommandOptScaledInt` reads it:
    /// `default_scale` applies when there is no suffix (1024 for "default KiB"); the
    /// result is in bytes and may not exceed `max`.
    pub fn scaled(
        &self,
        name: &str,
        default_scale: u64,
        max: u64,
    ) -> Result<Option<u64>, ScaledError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => scale_integer(v, default_scale, max)
                .map(Some)
                .map_err(|cause| ScaledError {
                    message: format!(
                        "Scaled numeric value '{v}' for <{name}> option is malformed or out of range"
                    ),
                    cause,
                }),
        }
    }
}

/// A command line that cannot be run; the message is what virsh prints after `error: `.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub Vec<String>);

impl ParseError {
    fn one(message: impl Into<String>) -> Self {
        ParseError(vec![message.into()])
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join("\n"))
    }
}

/// Splits a command string into commands of words, as virsh's `vshCommandStringGetArg`.
pub fn split_line(line: &str) -> Result<Vec<Vec<String>>, ParseError> {
    let chars: Vec<char> = line.chars().collect();
    let mut commands = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut i = 0;
    loop {
        // blanks and backslash-newline between words
        while i < chars.len() {
            match chars[i] {
                ' ' | '\t' => i += 1,
                '\\' if chars.get(i + 1) == Some(&'\n') => i += 2,
                _ => break,
            }
        }
        let Some(&c) = chars.get(i) else { break };
        if c == ';' || c == '\n' {
            i += 1;
            commands.push(std::mem::take(&mut words));
            continue;
        }
        if c == '#' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            commands.push(std::mem::take(&mut words));
            continue;
        }
        let mut word = String::new();
        let (mut single, mut double) = (false, false);
        while let Some(&c) = chars.get(i) {
            if !single && !double && matches!(c, ' ' | '\t' | ';' | '\n') {
                break;
            }
            if !double && c == '\'' {
                single = !single;
                i += 1;
                continue;
            }
            if !single && c == '\\' {
                i += 1;
                match chars.get(i) {
                    None => return Err(ParseError::one("dangling \\")),
                    Some('\n') => {
                        i += 1;
                        continue;
                    }
                    Some(&escaped) => {
                        word.push(escaped);
                        i += 1;
                        continue;
                    }
                }
            }
            if !single && c == '"' {
                double = !double;
                i += 1;
                continue;
            }
            word.push(c);
            i += 1;
        }
        if double {
            return Err(ParseError::one("missing \""));
        }
        words.push(word);
    }
    commands.push(words);
    Ok(commands.into_iter().filter(|w| !w.is_empty()).collect())
}

/// Matches one command's words against the command table, as virsh's `vshCommandParse`.
pub fn parse_command(
    words: &[String],
    lookup: impl Fn(&str) -> Option<&'static CmdDef>,
) -> Result<Cmd, ParseError> {
    let Some((name, rest)) = words.split_first() else {
        return Err(ParseError::one("missing command"));
    };
    let def = lookup(name).ok_or_else(|| ParseError::one(format!("unknown command: '{name}'")))?;
    let is_help = def.name == "help";
    let mut cmd = Cmd {
        def,
        opts: Vec::new(),
        help: false,
        json: false,
    };
    let mut need: Vec<bool> = def.opts.iter().map(OptDef::takes_position).collect();
    let mut seen = vec![false; def.opts.len()];
    let mut data_only = false;
    let mut it = rest.iter();
    while let Some(word) = it.next() {
        let is_option = word.starts_with("--")
            && word[2..]
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric());
        if !data_only && is_option {
            let (mut opt_name, mut value) = match word[2..].split_once('=') {
                Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
                None => (word[2..].to_owned(), None),
            };
            if opt_name == "help" {
                cmd.help = true;
                continue;
            }
            if opt_name == "json" && value.is_none() {
                cmd.json = true;
                continue;
            }
            // follow an alias to the option it names
            let mut index = def.opts.iter().position(|o| o.name == opt_name);
            if let Some(OptKind::Alias(target)) = index.map(|i| def.opts[i].kind) {
                let (target_name, target_value) = match target.split_once('=') {
                    Some((n, v)) => (n, Some(v)),
                    None => (target, None),
                };
                if let Some(v) = target_value {
                    if value.is_some() {
                        return Err(ParseError::one(format!(
                            "invalid '=' after option --{opt_name}"
                        )));
                    }
                    value = Some(v.to_owned());
                }
                opt_name = target_name.to_owned();
                index = def
                    .opts
                    .iter()
                    .position(|o| o.name == opt_name && !matches!(o.kind, OptKind::Alias(_)));
            }
            let Some(index) = index else {
                if is_help {
                    continue;
                }
                return Err(ParseError::one(format!(
                    "command '{}' doesn't support option --{opt_name}",
                    def.name
                )));
            };
            let opt = &def.opts[index];
            if seen[index] && opt.kind != OptKind::Argv {
                return Err(ParseError::one(format!(
                    "option --{} already seen",
                    opt.name
                )));
            }
            seen[index] = true;
            if opt.kind == OptKind::Bool {
                if value.is_some() {
                    return Err(ParseError::one(format!(
                        "invalid '=' after option --{}",
                        opt.name
                    )));
                }
                cmd.opts.push((opt.name, None));
                continue;
            }
            let value = match value {
                Some(v) => v,
                None => it.next().cloned().ok_or_else(|| {
                    let what = if opt.kind == OptKind::Int {
                        "number"
                    } else {
                        "string"
                    };
                    ParseError::one(format!("expected syntax: --{} <{what}>", opt.name))
                })?,
            };
            if opt.kind != OptKind::Argv {
                need[index] = false;
            }
            cmd.opts.push((opt.name, Some(value)));
        } else if !data_only && word == "--" {
            data_only = true;
        } else {
            let Some(index) = need.iter().position(|n| *n) else {
                if is_help {
                    continue;
                }
                return Err(ParseError::one(format!("unexpected data '{word}'")));
            };
            let opt = &def.opts[index];
            if opt.kind != OptKind::Argv {
                need[index] = false;
            }
            seen[index] = true;
            cmd.opts.push((opt.name, Some(word.clone())));
        }
    }
    if !cmd.help {
        let missing: Vec<String> = def
            .opts
            .iter()
            .zip(&seen)
            .filter(|(o, s)| o.required && !**s)
            .map(|(o, _)| {
                if o.positional && o.kind == OptKind::String || o.kind == OptKind::Argv {
                    format!("command '{}' requires <{}> option", def.name, o.name)
                } else {
                    format!("command '{}' requires --{} option", def.name, o.name)
                }
            })
            .collect();
        if !missing.is_empty() {
            return Err(ParseError(missing));
        }
    }
    Ok(cmd)
}

fn malformed(value: &str, name: &str) -> String {
    format!("Numeric value '{value}' for <{name}> option is malformed or out of range")
}

#[cfg(test)]
#[path = "args_tests.rs"]
mod tests;
