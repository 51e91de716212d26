//! The policy file: an optional `default = "allow"|"deny"` (deny when absent), then
//! `[[rule]]` tables, tried in order; the first whose subject, operation and object all
//! match decides.
//!
//! ```toml
//! default = "deny"
//!
//! [[rule]]
//! action = "allow"
//! users = ["alice"]                 # or uids, groups, gids, x509_dns (globs)
//! operations = ["domain:getattr", "domain:read", "domain:start"]
//! domains = ["a", "web-*"]          # or networks, storage_pools: name globs or UUIDs
//!
//! [[rule]]
//! action = "allow"
//! users = ["alice"]
//! operations = ["connect:getattr", "connect:read", "connect:search_domains"]
//! ```
//!
//! Subject keys: any one listed that matches is enough; none listed matches anyone.
//! `operations` are `object:permission` globs (`domain:*`, `*:getattr`, `*`); none
//! listed matches every operation. Object keys: none listed matches any object; once one
//! is listed, an operation on an object matches only if that object's kind has a list
//! (`domains` for `domain:*`, `networks` for `network:*` and `network_port:*`,
//! `storage_pools` for `storage_pool:*` and `storage_vol:*`, the volume's pool) and the
//! object is in it. A `connect:*` operation has no object, so a rule with object keys
//! never matches it: connecting and listing need a rule of their own.
//!
//! The file is a small subset of TOML: `key = value` with strings (basic `"..."` or
//! literal `'...'`), integers, booleans and arrays of those (over several lines too),
//! `[[rule]]` headers and `#` comments. Anything else is refused with its line number.

use std::fmt;

use crate::glob;
use crate::table;

/// What a rule (or the default) does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Grant the operation.
    Allow,
    /// Refuse it.
    Deny,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Allow => "allow",
            Action::Deny => "deny",
        })
    }
}

/// One `[[rule]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The line of its `[[rule]]` header.
    pub line: usize,
    /// What it decides.
    pub action: Action,
    /// User names (`users`), resolved into `uids` by [`Policy::resolve`].
    pub users: Vec<String>,
    /// User ids.
    pub uids: Vec<u32>,
    /// Group names (`groups`), resolved into `gids` by [`Policy::resolve`].
    pub groups: Vec<String>,
    /// Group ids.
    pub gids: Vec<u32>,
    /// Globs over the client certificate's subject DN.
    pub x509_dns: Vec<String>,
    /// `object:permission` globs.
    pub operations: Vec<String>,
    /// Domain name globs or UUIDs.
    pub domains: Vec<String>,
    /// Network name globs or UUIDs.
    pub networks: Vec<String>,
    /// Storage pool name globs or UUIDs.
    pub storage_pools: Vec<String>,
    resolved_uids: Vec<u32>,
    resolved_gids: Vec<u32>,
    resolved: bool,
}

/// A parsed policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// What happens when no rule matches.
    pub default: Action,
    /// The rules, in file order.
    pub rules: Vec<Rule>,
}

/// Who asks: what the transport says about the peer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subject {
    /// The peer's user id (unix sockets).
    pub uid: Option<u32>,
    /// The peer's groups: its primary gid and the supplementary ones.
    pub gids: Vec<u32>,
    /// The client certificate's subject DN (TLS).
    pub x509_dn: Option<String>,
}

/// The object an operation is on, as far as it is known: a domain, network or storage
/// pool (a volume's pool).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Target<'a> {
    /// Its name.
    pub name: Option<&'a str>,
    /// Its UUID, as text.
    pub uuid: Option<&'a str>,
}

/// The outcome of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Allowed or denied.
    pub action: Action,
    /// The line of the rule that decided; `None`: the default did.
    pub rule_line: Option<usize>,
}

impl Decision {
    /// Whether the operation is allowed.
    pub fn allowed(&self) -> bool {
        self.action == Action::Allow
    }
}

/// A policy file's error: the line and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong there.
    pub message: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.line, self.message)
    }
}

impl std::error::Error for PolicyError {}

fn err(line: usize, message: impl Into<String>) -> PolicyError {
    PolicyError {
        line,
        message: message.into(),
    }
}

/// A TOML value of the subset.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Str(String),
    Int(i64),
    Bool(bool),
    Array(Vec<Value>),
}

impl Value {
    fn describe(&self) -> &'static str {
        match self {
            Value::Str(_) => "a string",
            Value::Int(_) => "an integer",
            Value::Bool(_) => "a boolean",
            Value::Array(_) => "an array",
        }
    }
}

/// A cursor over the file's characters that knows its line.
struct Cursor<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    line: usize,
}

impl Cursor<'_> {
    fn peek(&mut self) -> Option<char> {
        self.chars.peek().copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.chars.next();
        if c == Some('\n') {
            self.line += 1;
        }
        c
    }

    /// Skips spaces and tabs (not newlines).
    fn blanks(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t' | '\r')) {
            self.next();
        }
    }

    /// Skips a comment up to (not including) the newline.
    fn comment(&mut self) {
        if self.peek() == Some('#') {
            while !matches!(self.peek(), None | Some('\n')) {
                self.next();
            }
        }
    }

    /// Skips blanks, comments and newlines (inside arrays).
    fn space(&mut self) {
        loop {
            self.blanks();
            self.comment();
            if self.peek() == Some('\n') {
                self.next();
            } else {
                return;
            }
        }
    }

    /// Expects the end of the line: blanks, maybe a comment, a newline or the end.
    fn end_of_line(&mut self) -> Result<(), PolicyError> {
        self.blanks();
        self.comment();
        match self.next() {
            None | Some('\n') => Ok(()),
            Some(c) => Err(err(self.line, format!("unexpected '{c}' after the value"))),
        }
    }

    fn key(&mut self) -> Result<String, PolicyError> {
        let mut key = String::new();
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                key.push(c);
                self.next();
            } else {
                break;
            }
        }
        if key.is_empty() {
            let what = self
                .peek()
                .map_or("the end".to_owned(), |c| format!("'{c}'"));
            return Err(err(self.line, format!("expected a key, found {what}")));
        }
        Ok(key)
    }

    fn value(&mut self, depth: usize) -> Result<Value, PolicyError> {
        let line = self.line;
        match self.peek() {
            Some('"') => {
                self.next();
                self.basic_string(line).map(Value::Str)
            }
            Some('\'') => {
                self.next();
                let mut s = String::new();
                loop {
                    match self.next() {
                        Some('\'') => return Ok(Value::Str(s)),
                        None | Some('\n') => {
                            return Err(err(line, "unterminated string"));
                        }
                        Some(c) => s.push(c),
                    }
                }
            }
            Some('[') => {
                if depth >= 1 {
                    return Err(err(line, "nested arrays are not supported"));
                }
                self.next();
                let mut items = Vec::new();
                loop {
                    self.space();
                    if self.peek() == Some(']') {
                        self.next();
                        return Ok(Value::Array(items));
                    }
                    if self.peek().is_none() {
                        return Err(err(line, "unterminated array"));
                    }
                    items.push(self.value(depth + 1)?);
                    self.space();
                    match self.next() {
                        Some(',') => {}
                        Some(']') => return Ok(Value::Array(items)),
                        Some(c) => {
                            return Err(err(
                                self.line,
                                format!("expected ',' or ']' in the array, found '{c}'"),
                            ))
                        }
                        None => return Err(err(line, "unterminated array")),
                    }
                }
            }
            _ => {
                let mut word = String::new();
                while let Some(c) = self.peek() {
                    if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+' | '.') {
                        word.push(c);
                        self.next();
                    } else {
                        break;
                    }
                }
                match word.as_str() {
                    "true" => Ok(Value::Bool(true)),
                    "false" => Ok(Value::Bool(false)),
                    "" => Err(err(line, "expected a value")),
                    _ => word
                        .replace('_', "")
                        .parse::<i64>()
                        .map(Value::Int)
                        .map_err(|_| {
                            err(
                                line,
                                format!("'{word}' is not a value (strings need quotes)"),
                            )
                        }),
                }
            }
        }
    }

    fn basic_string(&mut self, line: usize) -> Result<String, PolicyError> {
        let mut s = String::new();
        loop {
            match self.next() {
                Some('"') => return Ok(s),
                None | Some('\n') => return Err(err(line, "unterminated string")),
                Some('\\') => {
                    let c = match self.next() {
                        Some('"') => '"',
                        Some('\\') => '\\',
                        Some('n') => '\n',
                        Some('t') => '\t',
                        Some('r') => '\r',
                        Some(u @ ('u' | 'U')) => {
                            let len = if u == 'u' { 4 } else { 8 };
                            let mut hex = String::new();
                            for _ in 0..len {
                                match self.next() {
                                    Some(h) if h.is_ascii_hexdigit() => hex.push(h),
                                    _ => return Err(err(line, "bad \\u escape")),
                                }
                            }
                            u32::from_str_radix(&hex, 16)
                                .ok()
                                .and_then(char::from_u32)
                                .ok_or_else(|| err(line, "bad \\u escape"))?
                        }
                        Some(c) => {
                            return Err(err(line, format!("unknown escape '\\{c}'")));
                        }
                        None => return Err(err(line, "unterminated string")),
                    };
                    s.push(c);
                }
                Some(c) => s.push(c),
            }
        }
    }
}

fn strings(key: &str, value: Value, line: usize) -> Result<Vec<String>, PolicyError> {
    let items = match value {
        Value::Array(items) => items,
        other => {
            return Err(err(
                line,
                format!(
                    "{key} must be an array of strings, not {}",
                    other.describe()
                ),
            ))
        }
    };
    items
        .into_iter()
        .map(|v| match v {
            Value::Str(s) => Ok(s),
            other => Err(err(
                line,
                format!("{key} must hold strings, not {}", other.describe()),
            )),
        })
        .collect()
}

fn ids(key: &str, value: Value, line: usize) -> Result<Vec<u32>, PolicyError> {
    let items = match value {
        Value::Array(items) => items,
        other => {
            return Err(err(
                line,
                format!(
                    "{key} must be an array of integers, not {}",
                    other.describe()
                ),
            ))
        }
    };
    items
        .into_iter()
        .map(|v| match v {
            Value::Int(i) => {
                u32::try_from(i).map_err(|_| err(line, format!("{key}: {i} is not a valid id")))
            }
            other => Err(err(
                line,
                format!("{key} must hold integers, not {}", other.describe()),
            )),
        })
        .collect()
}

fn action(key: &str, value: Value, line: usize) -> Result<Action, PolicyError> {
    match value {
        Value::Str(s) if s == "allow" => Ok(Action::Allow),
        Value::Str(s) if s == "deny" => Ok(Action::Deny),
        Value::Str(s) => Err(err(
            line,
            format!("{key} must be \"allow\" or \"deny\", not '{s}'"),
        )),
        other => Err(err(
            line,
            format!(
                "{key} must be \"allow\" or \"deny\", not {}",
                other.describe()
            ),
        )),
    }
}

/// Whether the glob `pattern` over `object:permission` can match any permission libvirt
/// defines.
fn operation_matches_any(pattern: &str) -> bool {
    table::OBJECT_PERMISSIONS.iter().any(|(object, perms)| {
        perms
            .iter()
            .any(|p| glob::matches(pattern, &format!("{object}:{p}")))
    })
}

/// A rule under construction: which keys it has seen.
struct Draft {
    rule: Rule,
    seen: Vec<String>,
    action_seen: bool,
}

impl Draft {
    fn new(line: usize) -> Self {
        Draft {
            rule: Rule {
                line,
                action: Action::Deny,
                users: Vec::new(),
                uids: Vec::new(),
                groups: Vec::new(),
                gids: Vec::new(),
                x509_dns: Vec::new(),
                operations: Vec::new(),
                domains: Vec::new(),
                networks: Vec::new(),
                storage_pools: Vec::new(),
                resolved_uids: Vec::new(),
                resolved_gids: Vec::new(),
                resolved: false,
            },
            seen: Vec::new(),
            action_seen: false,
        }
    }

    fn set(&mut self, key: &str, value: Value, line: usize) -> Result<(), PolicyError> {
        // A key left out matches anything; an empty list would too (no subject, operation
        // or object named), which `domains = []` meant as "no domain" must not become.
        if value == Value::Array(Vec::new()) {
            return Err(err(
                line,
                format!("{key} is empty; an empty list would match anything (leave the key out for that)"),
            ));
        }
        let r = &mut self.rule;
        match key {
            "action" => {
                r.action = action(key, value, line)?;
                self.action_seen = true;
            }
            "users" => r.users = strings(key, value, line)?,
            "uids" => r.uids = ids(key, value, line)?,
            "groups" => r.groups = strings(key, value, line)?,
            "gids" => r.gids = ids(key, value, line)?,
            "x509_dns" => r.x509_dns = strings(key, value, line)?,
            "operations" => {
                let ops = strings(key, value, line)?;
                for op in &ops {
                    if !operation_matches_any(op) {
                        return Err(err(
                            line,
                            format!(
                                "operation '{op}' matches no libvirt permission (object:permission, like domain:start)"
                            ),
                        ));
                    }
                }
                r.operations = ops;
            }
            "domains" => r.domains = strings(key, value, line)?,
            "networks" => r.networks = strings(key, value, line)?,
            "storage_pools" => r.storage_pools = strings(key, value, line)?,
            _ => {
                return Err(err(
                    line,
                    format!(
                        "unknown rule key '{key}' (action, users, uids, groups, gids, x509_dns, operations, domains, networks, storage_pools)"
                    ),
                ))
            }
        }
        Ok(())
    }

    fn finish(self) -> Result<Rule, PolicyError> {
        if !self.action_seen {
            return Err(err(
                self.rule.line,
                "this rule has no action (\"allow\" or \"deny\")",
            ));
        }
        Ok(self.rule)
    }
}

impl Policy {
    /// Parses a policy file's text.
    pub fn parse(text: &str) -> Result<Policy, PolicyError> {
        let mut cur = Cursor {
            chars: text.chars().peekable(),
            line: 1,
        };
        let mut default = None;
        let mut rules = Vec::new();
        let mut draft: Option<Draft> = None;
        loop {
            cur.blanks();
            cur.comment();
            let line = cur.line;
            match cur.peek() {
                None => break,
                Some('\n') => {
                    cur.next();
                    continue;
                }
                Some('[') => {
                    let mut header = String::new();
                    while !matches!(cur.peek(), None | Some('\n') | Some('#')) {
                        header.extend(cur.next());
                    }
                    let header = header.trim_end();
                    let name = header
                        .strip_prefix("[[")
                        .and_then(|h| h.strip_suffix("]]"))
                        .map(str::trim);
                    if name != Some("rule") {
                        return Err(err(
                            line,
                            format!("unknown table {header} (only [[rule]] tables)"),
                        ));
                    }
                    if let Some(d) = draft.take() {
                        rules.push(d.finish()?);
                    }
                    draft = Some(Draft::new(line));
                    cur.end_of_line()?;
                }
                Some(_) => {
                    let key = cur.key()?;
                    cur.blanks();
                    if cur.next() != Some('=') {
                        return Err(err(line, format!("expected '=' after {key}")));
                    }
                    cur.blanks();
                    let value = cur.value(0)?;
                    cur.end_of_line()?;
                    match draft.as_mut() {
                        Some(d) => {
                            if d.seen.contains(&key) {
                                return Err(err(line, format!("{key} is given twice")));
                            }
                            d.seen.push(key.clone());
                            d.set(&key, value, line)?;
                        }
                        None if key == "default" => {
                            if default.is_some() {
                                return Err(err(line, "default is given twice"));
                            }
                            default = Some(action(&key, value, line)?);
                        }
                        None => {
                            return Err(err(
                                line,
                                format!(
                                    "unknown key '{key}' (the top level has only default; rules go in [[rule]] tables)"
                                ),
                            ))
                        }
                    }
                }
            }
        }
        if let Some(d) = draft.take() {
            rules.push(d.finish()?);
        }
        Ok(Policy {
            default: default.unwrap_or(Action::Deny),
            rules,
        })
    }

    /// Resolves user and group names into ids with `accounts`; an unknown name is an
    /// error naming its rule's line.
    pub fn resolve(&mut self, accounts: &crate::Accounts) -> Result<(), PolicyError> {
        for rule in &mut self.rules {
            let mut uids = rule.uids.clone();
            for name in &rule.users {
                uids.push(accounts.uid(name).ok_or_else(|| {
                    err(rule.line, format!("unknown user '{name}' (not in passwd)"))
                })?);
            }
            let mut gids = rule.gids.clone();
            for name in &rule.groups {
                gids.push(accounts.gid(name).ok_or_else(|| {
                    err(rule.line, format!("unknown group '{name}' (not in group)"))
                })?);
            }
            rule.resolved_uids = uids;
            rule.resolved_gids = gids;
            rule.resolved = true;
        }
        Ok(())
    }

    /// Decides `operation` (`domain:start`) by `subject` on `target` (`None`: the object is
    /// not known, or the operation has none).
    pub fn decide(
        &self,
        subject: &Subject,
        operation: &str,
        target: Option<&Target<'_>>,
    ) -> Decision {
        for rule in &self.rules {
            if rule.matches_subject(subject)
                && rule.matches_operation(operation)
                && rule.matches_object(operation, target)
            {
                return Decision {
                    action: rule.action,
                    rule_line: Some(rule.line),
                };
            }
        }
        Decision {
            action: self.default,
            rule_line: None,
        }
    }
}

impl Rule {
    /// The user ids it names (with the names resolved once [`Policy::resolve`] ran).
    fn uids(&self) -> &[u32] {
        if self.resolved {
            &self.resolved_uids
        } else {
            &self.uids
        }
    }

    /// The group ids it names (with the names resolved once [`Policy::resolve`] ran).
    fn gids(&self) -> &[u32] {
        if self.resolved {
            &self.resolved_gids
        } else {
            &self.gids
        }
    }

    /// Whether the rule names no subject at all (matches anyone).
    fn anyone(&self) -> bool {
        self.users.is_empty()
            && self.uids.is_empty()
            && self.groups.is_empty()
            && self.gids.is_empty()
            && self.x509_dns.is_empty()
    }

    fn matches_subject(&self, s: &Subject) -> bool {
        if self.anyone() {
            return true;
        }
        if s.uid.is_some_and(|uid| self.uids().contains(&uid)) {
            return true;
        }
        if s.gids.iter().any(|g| self.gids().contains(g)) {
            return true;
        }
        match &s.x509_dn {
            Some(dn) => self.x509_dns.iter().any(|p| glob::matches(p, dn)),
            None => false,
        }
    }

    fn matches_operation(&self, operation: &str) -> bool {
        self.operations.is_empty() || self.operations.iter().any(|p| glob::matches(p, operation))
    }

    fn matches_object(&self, operation: &str, target: Option<&Target<'_>>) -> bool {
        let constrained =
            !(self.domains.is_empty() && self.networks.is_empty() && self.storage_pools.is_empty());
        if !constrained {
            return true;
        }
        let list = match table::object_of(operation) {
            "domain" => &self.domains,
            "network" | "network_port" => &self.networks,
            "storage_pool" | "storage_vol" => &self.storage_pools,
            _ => return false,
        };
        let Some(t) = target else {
            return false;
        };
        list.iter().any(|p| {
            t.name.is_some_and(|n| glob::matches(p, n))
                || t.uuid.is_some_and(|u| p.eq_ignore_ascii_case(u))
        })
    }
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
