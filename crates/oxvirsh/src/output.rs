//! What oxvirsh prints: virsh's tables, its words for states, reasons and events, the
//! `--json` error object, and dates.

use oxvirt::event::{
    CrashedDetail, DefinedDetail, PmSuspendedDetail, ResumedDetail, ShutdownDetail, StartedDetail,
    StoppedDetail, SuspendedDetail, UndefinedDetail,
};
use oxvirt::state::{PausedReason, RunningReason, ShutoffReason};
use oxvirt::{DomainState, Lifecycle, StateReason, VirError};
use serde_json::{json, Value};

/// virsh's `vshTable`: columns as wide as their widest cell, each cell after one blank and
/// padded to its column's width plus two, a line of dashes under the header.
#[derive(Debug, Clone, Default)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column titles.
    pub fn new(header: &[&str]) -> Self {
        Table {
            header: header.iter().map(|s| (*s).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row (as many cells as the header).
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The text, with the header unless `quiet` (virsh's `-q` drops it, and the header's
    /// width then does not count).
    pub fn render(&self, quiet: bool) -> String {
        let with_header = !quiet;
        let ncols = self.header.len();
        let mut widths = vec![0usize; ncols];
        let all_rows = std::iter::once(&self.header)
            .filter(|_| with_header)
            .chain(self.rows.iter());
        for row in all_rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(display_width(cell));
            }
        }
        let mut out = String::new();
        let line = |row: &[String], out: &mut String| {
            for (i, cell) in row.iter().enumerate() {
                out.push(' ');
                out.push_str(cell);
                if i + 1 < row.len() {
                    let pad = widths[i] - display_width(cell) + 2;
                    out.extend(std::iter::repeat_n(' ', pad));
                }
            }
            out.push('\n');
        };
        if with_header {
            line(&self.header, &mut out);
            let dashes: usize = widths.iter().map(|w| w + 3).sum();
            out.extend(std::iter::repeat_n('-', dashes));
            out.push('\n');
        }
        for row in &self.rows {
            line(row, &mut out);
        }
        out
    }
}

/// How many columns a cell takes on a terminal (characters; virsh counts wide characters
/// twice, which we do not need for names and states).
fn display_width(s: &str) -> usize {
    s.chars().count()
}

/// virsh's word for a state (`virshDomainStateToString`).
pub fn state_name(state: DomainState) -> &'static str {
    match state {
        DomainState::Nostate => "no state",
        DomainState::Running => "running",
        DomainState::Blocked => "idle",
        DomainState::Paused => "paused",
        DomainState::Shutdown => "in shutdown",
        DomainState::Shutoff => "shut off",
        DomainState::Crashed => "crashed",
        DomainState::PmSuspended => "pmsuspended",
    }
}

/// virsh's word for the reason of a state (`virshDomainStateReasonToString`).
pub fn reason_name(state: StateReason) -> &'static str {
    match state {
        StateReason::Running(r) => match r {
            RunningReason::Unknown => "unknown",
            RunningReason::Booted => "booted",
            RunningReason::Migrated => "migrated",
            RunningReason::Restored => "restored",
            RunningReason::FromSnapshot => "from snapshot",
            RunningReason::Unpaused => "unpaused",
            RunningReason::MigrationCanceled => "migration canceled",
            RunningReason::SaveCanceled => "save canceled",
            RunningReason::Wakeup => "event wakeup",
            RunningReason::Crashed => "crashed",
            RunningReason::Postcopy => "post-copy",
            RunningReason::PostcopyFailed => "post-copy failed",
        },
        StateReason::Paused(r) => match r {
            PausedReason::Unknown => "unknown",
            PausedReason::User => "user",
            PausedReason::Migration => "migrating",
            PausedReason::Save => "saving",
            PausedReason::Dump => "dumping",
            PausedReason::Ioerror => "I/O error",
            PausedReason::Watchdog => "watchdog",
            PausedReason::FromSnapshot => "from snapshot",
            PausedReason::ShuttingDown => "shutting down",
            PausedReason::Snapshot => "creating snapshot",
            PausedReason::Crashed => "crashed",
            PausedReason::StartingUp => "starting up",
            PausedReason::Postcopy => "post-copy",
            PausedReason::PostcopyFailed => "post-copy failed",
        },
        StateReason::Shutdown(r) => match r.number() {
            1 => "user",
            _ => "unknown",
        },
        StateReason::Shutoff(r) => match r {
            ShutoffReason::Unknown => "unknown",
            ShutoffReason::Shutdown => "shutdown",
            ShutoffReason::Destroyed => "destroyed",
            ShutoffReason::Crashed => "crashed",
            ShutoffReason::Migrated => "migrated",
            ShutoffReason::Saved => "saved",
            ShutoffReason::Failed => "failed",
            ShutoffReason::FromSnapshot => "from snapshot",
            ShutoffReason::Daemon => "daemon",
        },
        StateReason::Crashed(r) => match r.number() {
            1 => "panicked",
            _ => "unknown",
        },
        StateReason::Nostate(_) | StateReason::Blocked(_) | StateReason::PmSuspended(_) => {
            "unknown"
        }
    }
}

/// virsh's words for a lifecycle event and its detail (`event` prints them).
pub fn lifecycle_words(event: Lifecycle) -> (&'static str, &'static str) {
    match event {
        Lifecycle::Defined(d) => (
            "Defined",
            match d {
                DefinedDetail::Added => "Added",
                DefinedDetail::Updated => "Updated",
                DefinedDetail::Renamed => "Renamed",
                DefinedDetail::FromSnapshot => "Snapshot",
            },
        ),
        Lifecycle::Undefined(d) => (
            "Undefined",
            match d {
                UndefinedDetail::Removed => "Removed",
                UndefinedDetail::Renamed => "Renamed",
            },
        ),
        Lifecycle::Started(d) => (
            "Started",
            match d {
                StartedDetail::Booted => "Booted",
                StartedDetail::Migrated => "Migrated",
                StartedDetail::Restored => "Restored",
                StartedDetail::FromSnapshot => "Snapshot",
                StartedDetail::Wakeup => "Event wakeup",
            },
        ),
        Lifecycle::Suspended(d) => (
            "Suspended",
            match d {
                SuspendedDetail::Paused => "Paused",
                SuspendedDetail::Migrated => "Migrated",
                SuspendedDetail::Ioerror => "I/O Error",
                SuspendedDetail::Watchdog => "Watchdog",
                SuspendedDetail::Restored => "Restored",
                SuspendedDetail::FromSnapshot => "Snapshot",
                SuspendedDetail::ApiError => "API error",
                SuspendedDetail::Postcopy => "Post-copy",
                SuspendedDetail::PostcopyFailed => "Post-copy Error",
            },
        ),
        Lifecycle::Resumed(d) => (
            "Resumed",
            match d {
                ResumedDetail::Unpaused => "Unpaused",
                ResumedDetail::Migrated => "Migrated",
                ResumedDetail::FromSnapshot => "Snapshot",
                ResumedDetail::Postcopy => "Post-copy",
                ResumedDetail::PostcopyFailed => "Post-copy Error",
            },
        ),
        Lifecycle::Stopped(d) => (
            "Stopped",
            match d {
                StoppedDetail::Shutdown => "Shutdown",
                StoppedDetail::Destroyed => "Destroyed",
                StoppedDetail::Crashed => "Crashed",
                StoppedDetail::Migrated => "Migrated",
                StoppedDetail::Saved => "Saved",
                StoppedDetail::Failed => "Failed",
                StoppedDetail::FromSnapshot => "Snapshot",
            },
        ),
        Lifecycle::Shutdown(d) => (
            "Shutdown",
            match d {
                ShutdownDetail::Finished => "Finished",
                ShutdownDetail::Guest => "Finished after guest request",
                ShutdownDetail::Host => "Finished after host request",
            },
        ),
        Lifecycle::PmSuspended(d) => (
            "PMSuspended",
            match d {
                PmSuspendedDetail::Memory => "Memory",
                PmSuspendedDetail::Disk => "Disk",
            },
        ),
        Lifecycle::Crashed(d) => (
            "Crashed",
            match d {
                CrashedDetail::Panicked => "Panicked",
                CrashedDetail::Crashloaded => "Crashloaded",
            },
        ),
    }
}

/// A failed command: the lines virsh prints itself, then the library's error (printed
/// unless virsh drops it, as after a failed domain lookup).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmdError {
    /// virsh's own lines, in order ("Failed to start domain 'foo'").
    pub context: Vec<String>,
    /// The library's error behind it, if any.
    pub cause: Option<VirError>,
    /// Whether virsh prints the cause (it resets it after a failed lookup).
    pub show_cause: bool,
    /// Whether virsh prints nothing at all (the command just fails, as `event` does when
    /// it timed out); the context is still the `--json` message.
    pub silent: bool,
}

impl CmdError {
    /// A failure virsh reports in its own words only.
    pub fn msg(message: impl Into<String>) -> Self {
        CmdError {
            context: vec![message.into()],
            cause: None,
            show_cause: false,
            silent: false,
        }
    }

    /// A failure virsh does not print (only the exit status tells); `message` is for
    /// `--json`.
    pub fn silent(message: impl Into<String>) -> Self {
        CmdError {
            silent: true,
            ..CmdError::msg(message)
        }
    }

    /// Several lines of virsh's own words.
    pub fn lines(lines: Vec<String>) -> Self {
        CmdError {
            context: lines,
            cause: None,
            show_cause: false,
            silent: false,
        }
    }

    /// The library's error, printed as it is.
    pub fn lib(err: VirError) -> Self {
        CmdError {
            context: Vec::new(),
            cause: Some(err),
            show_cause: true,
            silent: false,
        }
    }

    /// virsh's line, then the library's error.
    pub fn with(message: impl Into<String>, err: VirError) -> Self {
        CmdError {
            context: vec![message.into()],
            cause: Some(err),
            show_cause: true,
            silent: false,
        }
    }

    /// virsh's line in place of the library's error (which JSON output still carries).
    pub fn instead(message: impl Into<String>, err: VirError) -> Self {
        CmdError {
            context: vec![message.into()],
            cause: Some(err),
            show_cause: false,
            silent: false,
        }
    }

    /// The lines virsh prints, each after `error: `.
    pub fn text_lines(&self) -> Vec<String> {
        if self.silent {
            return Vec::new();
        }
        let mut lines = self.context.clone();
        if let (Some(cause), true) = (&self.cause, self.show_cause) {
            lines.push(cause.message.clone());
        }
        lines
    }

    /// The `--json` form: `{"error": {"code", "domain", "message", "context"}}`.
    pub fn to_json(&self) -> Value {
        let (code, domain, message) = match &self.cause {
            Some(e) => (e.code.number(), e.domain.number(), e.message.clone()),
            None => (0, 0, self.context.join(": ")),
        };
        let mut err = json!({ "code": code, "domain": domain, "message": message });
        if self.cause.is_some() && !self.context.is_empty() {
            err["context"] = json!(self.context);
        }
        json!({ "error": err })
    }
}

impl From<VirError> for CmdError {
    fn from(err: VirError) -> Self {
        CmdError::lib(err)
    }
}

/// `YYYY-MM-DD HH:MM:SS +0000` for seconds since the epoch, in UTC (virsh uses the local
/// time zone; oxvirsh always shows UTC, see README).
pub fn format_time(epoch: i64) -> String {
    let days = epoch.div_euclid(86_400);
    let secs = epoch.rem_euclid(86_400);
    let (y, m, d) = oxvirt_xml::types::time::civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} +0000",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// An I/O error as C's `strerror` words it ("No such file or directory"), without Rust's
/// " (os error 2)".
pub fn io_error_text(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.rfind(" (os error ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

/// A version number as libvirt encodes them, written `major.minor.release`.
pub fn version_string(v: u64) -> String {
    format!("{}.{}.{}", v / 1_000_000, v / 1_000 % 1_000, v % 1_000)
}

#[cfg(test)]
#[path = "output_tests.rs"]
mod tests;
