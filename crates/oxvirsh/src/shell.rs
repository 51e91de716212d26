//! The interactive shell: `oxvirsh` with no command reads command lines from stdin.
//!
//! As virsh: a banner (not with `-q`), the prompt `oxvirsh # ` (`oxvirsh > ` when
//! read-only), each line parsed whole and its `;`-separated commands run in order, errors
//! reported without ending the shell, `quit`/`exit` or end of input ends it with a line
//! break, and the exit status is 0. When stdin is not a terminal the line read is echoed
//! after the prompt, as readline does there, so a transcript reads like a session. With
//! `--json` there is no banner, prompt or echo: only the commands' JSON lines.

use std::io::{BufRead, IsTerminal};

use crate::commands;
use crate::ctl::Ctl;

/// The banner virsh prints on entering the shell.
pub const BANNER: &str = "Welcome to oxvirsh, the virtualization interactive terminal.\n\n\
Type:  'help' for help with commands\n       'quit' to quit\n\n";

/// The prompt for a read-write or read-only connection.
pub fn prompt(readonly: bool) -> &'static str {
    if readonly {
        "oxvirsh > "
    } else {
        "oxvirsh # "
    }
}

/// Runs the shell over `input` until `quit` or end of input.
pub async fn run(ctl: &mut Ctl, mut input: impl BufRead, echo: bool) {
    let plain = !ctl.opts.json;
    if plain {
        ctl.json = false;
        ctl.print_extra(BANNER);
    }
    loop {
        if plain {
            ctl.json = false;
            let readonly = ctl.opts.readonly;
            ctl.print(prompt(readonly));
            ctl.flush();
        }
        let mut line = String::new();
        match input.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let line = line.strip_suffix('\n').unwrap_or(&line);
        let line = line.strip_suffix('\r').unwrap_or(line);
        if plain && echo {
            ctl.print(&format!("{line}\n"));
        }
        if line.is_empty() {
            continue;
        }
        match commands::parse_line(line) {
            Ok(cmds) => {
                commands::run(ctl, &cmds).await;
            }
            Err(e) => {
                ctl.json = ctl.opts.json;
                ctl.report(&crate::output::CmdError::lines(e.0));
            }
        }
        if ctl.quit {
            break;
        }
    }
    if plain {
        ctl.json = false;
        ctl.print("\n");
    }
    ctl.flush();
}

/// Whether stdin is a terminal (then the terminal echoes what is typed).
pub fn stdin_is_terminal() -> bool {
    std::io::stdin().is_terminal()
}
