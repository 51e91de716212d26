//! `oxvirsh`: a virsh-compatible command-line client for oxvirt.
//!
//! `oxvirsh [OPTIONS] [COMMAND_STRING]`, `oxvirsh [OPTIONS] COMMAND [ARGS...]`, or with no
//! command an interactive shell. Commands, options, output and error messages follow
//! virsh 9.0 character for character; `--json` gives machine-readable output instead (see
//! README.md).

mod args;
mod commands;
mod ctl;
mod global;
mod numbers;
mod output;
mod shell;
#[cfg(test)]
mod testing;

use std::io::{BufReader, Write};
use std::process::ExitCode;

use ctl::Ctl;
use global::Mode;
use output::CmdError;

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let (opts, mode) = match global::parse(&argv) {
        Ok(parsed) => parsed,
        Err(message) => {
            let _ = writeln!(std::io::stderr(), "error: {message}");
            return ExitCode::FAILURE;
        }
    };
    match &mode {
        Mode::Help => {
            print!("{}", global::usage());
            return ExitCode::SUCCESS;
        }
        Mode::Version { long } => {
            print!("{}", global::version_text(*long));
            return ExitCode::SUCCESS;
        }
        _ => {}
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let ok = runtime.block_on(run(opts, mode));
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Connects, then runs the command line or the shell; whether it all succeeded.
async fn run(opts: ctl::Options, mode: Mode) -> bool {
    let mut ctl = Ctl::new(
        opts,
        Box::new(std::io::stdout()),
        Box::new(std::io::stderr()),
    );
    // virsh connects before parsing anything, and gives up if it cannot
    if let Err(e) = ctl.connect(None, false).await {
        ctl.report(&e);
        return false;
    }
    let parsed = match mode {
        Mode::Shell => {
            let echo = !shell::stdin_is_terminal();
            let stdin = BufReader::new(std::io::stdin());
            shell::run(&mut ctl, stdin, echo).await;
            return true;
        }
        Mode::Line(line) => commands::parse_line(&line),
        Mode::Words(words) => commands::parse_words(&words),
        Mode::Help | Mode::Version { .. } => return true,
    };
    match parsed {
        Ok(cmds) => commands::run(&mut ctl, &cmds).await,
        Err(e) => {
            ctl.report(&CmdError::lines(e.0));
            false
        }
    }
}
