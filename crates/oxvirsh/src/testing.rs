//! Test harness: a session on a private copy of `test:///default`, capturing what it
//! prints.

use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;
use std::sync::Arc;

use oxvirt::{Connect, Uri};
use oxvirt_driver_test::TestDriver;

use crate::commands;
use crate::ctl::{Ctl, Options};
use crate::output::CmdError;

/// A shared byte buffer standing in for stdout or stderr.
#[derive(Clone, Default)]
pub struct Buf(Rc<RefCell<Vec<u8>>>);

impl Buf {
    /// Everything written so far, emptying the buffer.
    pub fn take(&self) -> String {
        String::from_utf8(std::mem::take(&mut *self.0.borrow_mut())).unwrap()
    }
}

impl Write for Buf {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A session and its captured streams.
pub struct Session {
    /// The session.
    pub ctl: Ctl,
    /// What it printed on stdout.
    pub out: Buf,
    /// What it printed on stderr.
    pub err: Buf,
    /// The runtime commands run on.
    pub rt: tokio::runtime::Runtime,
}

/// What one command line did.
#[derive(Debug, PartialEq, Eq)]
pub struct Outcome {
    /// stdout.
    pub out: String,
    /// stderr.
    pub err: String,
    /// Whether the last command succeeded.
    pub ok: bool,
}

impl Session {
    /// A session with `opts` on a private default node.
    pub fn with(opts: Options) -> Session {
        let (out, err) = (Buf::default(), Buf::default());
        let readonly = opts.readonly;
        let mut ctl = Ctl::new(opts, Box::new(out.clone()), Box::new(err.clone()));
        let driver = TestDriver::open_isolated("/default").unwrap();
        let uri = Uri::parse("test:///default").unwrap();
        ctl.conn = Some(Connect::from_driver(uri, Arc::new(driver), readonly));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        Session { ctl, out, err, rt }
    }

    /// A plain session.
    pub fn new() -> Session {
        Session::with(Options::default())
    }

    /// Runs a command line as `oxvirsh "LINE"` does.
    pub fn run(&mut self, line: &str) -> Outcome {
        let ok = match commands::parse_line(line) {
            Ok(cmds) => self.rt.block_on(commands::run(&mut self.ctl, &cmds)),
            Err(e) => {
                self.ctl.report(&CmdError::lines(e.0));
                false
            }
        };
        Outcome {
            out: self.out.take(),
            err: self.err.take(),
            ok,
        }
    }

    /// Runs a line that must succeed; its stdout.
    pub fn ok(&mut self, line: &str) -> String {
        let o = self.run(line);
        assert!(o.ok && o.err.is_empty(), "{line}: {o:?}");
        o.out
    }
}

/// Replaces the value of dominfo's `CPU time:` (it grows with the clock in the test
/// driver).
pub fn normalise_cpu_time(text: &str) -> String {
    text.lines()
        .map(|l| {
            if l.starts_with("CPU time:") {
                "CPU time:       X".to_owned()
            } else {
                l.to_owned()
            }
        })
        .map(|l| l + "\n")
        .collect()
}
