//! Running the LVM tools: a [`CommandRunner`] trait, the real one ([`SystemRunner`]) and a
//! recording fake with scripted answers ([`FakeRunner`]) for testing the logic without root.

use std::collections::VecDeque;
use std::io::{Seek, SeekFrom, Write};
use std::process::Command;
use std::sync::Mutex;

/// What a finished program left behind.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Output {
    /// The exit status; `None` when a signal ended the program.
    pub status: Option<i32>,
    /// Its standard output, as text (lossy UTF-8).
    pub stdout: String,
    /// Its standard error, as text (lossy UTF-8).
    pub stderr: String,
}

impl Output {
    /// A successful run printing `stdout`.
    pub fn ok(stdout: impl Into<String>) -> Self {
        Output {
            status: Some(0),
            stdout: stdout.into(),
            stderr: String::new(),
        }
    }

    /// A run that exited with `status`, printing `stderr`.
    pub fn failed(status: i32, stderr: impl Into<String>) -> Self {
        Output {
            status: Some(status),
            stdout: String::new(),
            stderr: stderr.into(),
        }
    }

    /// Whether the program exited with status 0.
    pub fn success(&self) -> bool {
        self.status == Some(0)
    }
}

/// Runs programs and writes device headers: everything the `logical` backend does to the
/// host goes through this trait.
pub trait CommandRunner {
    /// Runs `program` with `args` and the extra environment `env`, waiting for it to end.
    /// An `Err` means the program could not be started at all.
    fn run(&self, program: &str, args: &[String], env: &[(&str, &str)]) -> std::io::Result<Output>;

    /// Overwrites the first `len` bytes of the device `path` with zeros (at most its size),
    /// as libvirt does before `pvcreate` so that a whole disk's partition table goes away.
    fn zero_head(&self, path: &str, len: u64) -> std::io::Result<()>;
}

/// The real runner: `std::process::Command` and plain file writes.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemRunner;

impl CommandRunner for SystemRunner {
    fn run(&self, program: &str, args: &[String], env: &[(&str, &str)]) -> std::io::Result<Output> {
        let out = Command::new(program)
            .args(args)
            .envs(env.iter().copied())
            .stdin(std::process::Stdio::null())
            .output()?;
        Ok(Output {
            status: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    fn zero_head(&self, path: &str, len: u64) -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new().write(true).open(path)?;
        let size = f.seek(SeekFrom::End(0))?;
        f.seek(SeekFrom::Start(0))?;
        let len = if size == 0 { len } else { len.min(size) };
        let zeros = vec![0u8; 64 * 1024];
        let mut left = len;
        while left > 0 {
            let n = left.min(zeros.len() as u64) as usize;
            f.write_all(&zeros[..n])?;
            left -= n as u64;
        }
        f.sync_all()
    }
}

/// A runner that runs nothing: it records each command line (`program arg arg ...`, args
/// with spaces quoted in `'...'`) and answers from a script. Header wipes are recorded as
/// `zero PATH LEN`.
#[derive(Debug, Default)]
pub struct FakeRunner {
    calls: Mutex<Vec<String>>,
    script: Mutex<VecDeque<(String, Output)>>,
}

impl FakeRunner {
    /// A fake where every command succeeds with no output.
    pub fn new() -> Self {
        Self::default()
    }

    /// Answers the next command line starting with `prefix` with `output` (once; scripted
    /// answers are tried in the order given). Commands no answer matches succeed silently.
    pub fn answer(&self, prefix: &str, output: Output) -> &Self {
        lock(&self.script).push_back((prefix.to_string(), output));
        self
    }

    /// The command lines run so far.
    pub fn calls(&self) -> Vec<String> {
        lock(&self.calls).clone()
    }

    fn record(&self, line: String) -> Output {
        lock(&self.calls).push(line.clone());
        let mut script = lock(&self.script);
        match script
            .iter()
            .position(|(p, _)| line.starts_with(p.as_str()))
        {
            Some(i) => script.remove(i).map(|(_, o)| o).unwrap_or_default(),
            None => Output::ok(""),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A command line as the fake records it and as error messages show it.
pub(crate) fn command_line(program: &str, args: &[String]) -> String {
    let mut line = program.to_string();
    for a in args {
        line.push(' ');
        if a.is_empty() || a.contains(char::is_whitespace) {
            line.push('\'');
            line.push_str(a);
            line.push('\'');
        } else {
            line.push_str(a);
        }
    }
    line
}

impl CommandRunner for FakeRunner {
    fn run(
        &self,
        program: &str,
        args: &[String],
        _env: &[(&str, &str)],
    ) -> std::io::Result<Output> {
        Ok(self.record(command_line(program, args)))
    }

    fn zero_head(&self, path: &str, len: u64) -> std::io::Result<()> {
        let out = self.record(format!("zero {path} {len}"));
        if out.success() {
            Ok(())
        } else {
            Err(std::io::Error::other(out.stderr))
        }
    }
}

impl<R: CommandRunner + ?Sized> CommandRunner for &R {
    fn run(&self, program: &str, args: &[String], env: &[(&str, &str)]) -> std::io::Result<Output> {
        (**self).run(program, args, env)
    }

    fn zero_head(&self, path: &str, len: u64) -> std::io::Result<()> {
        (**self).zero_head(path, len)
    }
}
