//! The session: the connection, the global options, and where output goes.

use std::io::Write;

use oxvirt::Connect;
use serde_json::Value;

use crate::output::CmdError;

/// What a command hands back: its `--json` value on success.
pub type CmdResult = Result<Value, CmdError>;

/// Global options (`-c`, `-r`, `-q`, `-t`, `--json`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// `-c URI`; `None` means libvirt's default (`$LIBVIRT_DEFAULT_URI`, ...).
    pub uri: Option<String>,
    /// `-r`: open read-only.
    pub readonly: bool,
    /// `-q`: leave out informational lines (virsh's `vshPrintExtra`).
    pub quiet: bool,
    /// `-t`: print how long each command took.
    pub timing: bool,
    /// `--json`: machine-readable output for every command.
    pub json: bool,
}

/// The running shell: options, connection and output streams.
pub struct Ctl {
    /// The global options.
    pub opts: Options,
    /// The open connection, if any.
    pub conn: Option<Connect>,
    /// Whether the current command prints JSON (global `--json` or the command's own).
    pub json: bool,
    /// Whether the interactive shell should stop (`quit`).
    pub quit: bool,
    out: Box<dyn Write>,
    err: Box<dyn Write>,
}

impl Ctl {
    /// A session writing to these streams.
    pub fn new(opts: Options, out: Box<dyn Write>, err: Box<dyn Write>) -> Self {
        let json = opts.json;
        Ctl {
            opts,
            conn: None,
            json,
            quit: false,
            out,
            err,
        }
    }

    /// Opens a connection to `uri` (`None`: the current one, or libvirt's default),
    /// replacing the current one, as virsh's `virshReconnect`: the old connection is closed
    /// first; on failure there is none ("failed to connect to the hypervisor"), and the next
    /// command reconnects to the URI that last worked. With `uri` given, the connection is
    /// read-write unless `readonly`; without, it keeps the current mode.
    pub async fn connect(&mut self, uri: Option<&str>, readonly: bool) -> Result<(), CmdError> {
        let readonly = if uri.is_none() {
            readonly || self.opts.readonly
        } else {
            readonly
        };
        self.conn = None;
        let name = uri
            .map(str::to_owned)
            .or_else(|| self.opts.uri.clone())
            .unwrap_or_default();
        let opened = if readonly {
            Connect::open_read_only(&name).await
        } else {
            Connect::open(&name).await
        };
        match opened {
            Ok(conn) => {
                self.conn = Some(conn);
                if let Some(uri) = uri {
                    self.opts.uri = Some(uri.to_owned());
                }
                self.opts.readonly = readonly;
                Ok(())
            }
            Err(e) => Err(CmdError::with("failed to connect to the hypervisor", e)),
        }
    }

    /// The connection; commands that need one are only run with one open.
    pub fn conn(&self) -> Result<&Connect, CmdError> {
        self.conn
            .as_ref()
            .ok_or_else(|| CmdError::msg("no valid connection"))
    }

    /// Prints text (virsh's `vshPrint`); nothing in JSON mode.
    pub fn print(&mut self, text: &str) {
        if !self.json {
            // A closed stdout (`| head`) is not the command's failure.
            let _ = self.out.write_all(text.as_bytes());
        }
    }

    /// Prints informational text (virsh's `vshPrintExtra`): not with `-q`, not in JSON mode.
    pub fn print_extra(&mut self, text: &str) {
        if !self.opts.quiet {
            self.print(text);
        }
    }

    /// Prints a JSON value on its own line.
    pub fn print_json(&mut self, value: &Value) {
        let _ = writeln!(self.out, "{value}");
    }

    /// Reports a failed command on stderr, as text or as JSON.
    pub fn report(&mut self, error: &CmdError) {
        let _ = self.out.flush();
        if self.json {
            let _ = writeln!(self.err, "{}", error.to_json());
        } else {
            for line in error.text_lines() {
                let _ = writeln!(self.err, "error: {line}");
            }
        }
        let _ = self.err.flush();
    }

    /// Flushes both streams.
    pub fn flush(&mut self) {
        let _ = self.out.flush();
        let _ = self.err.flush();
    }
}
