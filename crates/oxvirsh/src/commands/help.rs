//! `help`, `help GROUP`, `help COMMAND` and `COMMAND --help`, laid out as virsh lays them.

use serde_json::{json, Value};

use super::table::{lookup, COMMANDS};
use crate::args::{Cmd, CmdDef, Group, OptDef, OptKind};
use crate::ctl::{CmdResult, Ctl};
use crate::output::CmdError;

/// `help [COMMAND|GROUP]`.
pub fn help(ctl: &mut Ctl, cmd: &Cmd) -> CmdResult {
    match cmd.get("command") {
        None => {
            ctl.print(&all_text());
            Ok(json!({ "groups": Group::ALL.iter().map(|g| group_json(*g)).collect::<Vec<_>>() }))
        }
        Some(name) => {
            if let Some(group) = Group::ALL
                .into_iter()
                .find(|g| g.keyword() == name || g.title() == name)
            {
                ctl.print(&group_text(group));
                return Ok(group_json(group));
            }
            match lookup(name) {
                Some(def) => command_help(ctl, def),
                None => Err(CmdError::msg(format!(
                    "command or command group '{name}' doesn't exist"
                ))),
            }
        }
    }
}

/// The help of one command (`help CMD`, `CMD --help`).
pub fn command_help(ctl: &mut Ctl, def: &CmdDef) -> CmdResult {
    ctl.print(&command_text(def));
    Ok(json!({
        "name": def.name,
        "help": def.help,
        "description": def.desc,
        "synopsis": synopsis(def),
        "options": def.opts.iter().filter(|o| !matches!(o.kind, OptKind::Alias(_))).map(|o| json!({
            "name": o.name,
            "type": match o.kind {
                OptKind::Bool => "bool",
                OptKind::Int => "number",
                _ => "string",
            },
            "required": o.required,
            "positional": o.positional && o.kind != OptKind::Bool,
            "help": o.help,
        })).collect::<Vec<_>>(),
    }))
}

fn group_json(group: Group) -> Value {
    json!({
        "group": group.title(),
        "keyword": group.keyword(),
        "commands": COMMANDS.iter().filter(|c| c.group == group)
            .map(|c| json!({ "name": c.name, "help": c.help })).collect::<Vec<_>>(),
    })
}

/// `help` alone: every group.
pub fn all_text() -> String {
    let mut out = String::from("Grouped commands:\n\n");
    for group in Group::ALL {
        out.push_str(&group_text(group));
        out.push('\n');
    }
    out
}

/// `help GROUP`.
pub fn group_text(group: Group) -> String {
    let mut out = format!(" {} (help keyword '{}'):\n", group.title(), group.keyword());
    for c in COMMANDS.iter().filter(|c| c.group == group) {
        out.push_str(&format!("    {:<30} {}\n", c.name, c.help));
    }
    out
}

/// The synopsis line: `setmem <domain> <size> [--config] ...`.
pub fn synopsis(def: &CmdDef) -> String {
    let mut out = def.name.to_owned();
    let mut shortopt = false;
    for o in def.opts {
        let part = match o.kind {
            OptKind::Alias(_) => continue,
            OptKind::Bool => format!("[--{}]", o.name),
            OptKind::Int if o.required => format!("<{}>", o.name),
            OptKind::Int => format!("[--{} <number>]", o.name),
            OptKind::String if o.required => format!("<{}>", o.name),
            OptKind::String => format!("[--{} <string>]", o.name),
            OptKind::Argv if shortopt => format!("[[--{}] <string>]...", o.name),
            OptKind::Argv => format!("[<{}>]...", o.name),
        };
        if o.positional && o.kind != OptKind::Bool {
            shortopt = true;
        }
        out.push(' ');
        out.push_str(&part);
    }
    out
}

fn option_label(o: &OptDef) -> String {
    match o.kind {
        OptKind::Bool | OptKind::Alias(_) => format!("--{}", o.name),
        OptKind::Int if o.required => format!("[--{}] <number>", o.name),
        OptKind::Int => format!("--{} <number>", o.name),
        OptKind::String if o.required => format!("[--{}] <string>", o.name),
        OptKind::String => format!("--{} <string>", o.name),
        OptKind::Argv => format!("[--{}] <string>", o.name),
    }
}

/// `help CMD`: NAME, SYNOPSIS, DESCRIPTION and OPTIONS.
pub fn command_text(def: &CmdDef) -> String {
    let mut out = format!(
        "  NAME\n    {} - {}\n\n  SYNOPSIS\n    {}\n\n",
        def.name,
        def.help,
        synopsis(def)
    );
    if !def.desc.is_empty() {
        out.push_str("  DESCRIPTION\n");
        // virsh indents the text's first line only; its later lines carry their own
        // indentation (most four spaces, a few none), as the table keeps them.
        for (i, line) in def.desc.lines().enumerate() {
            if i == 0 {
                out.push_str(&format!("    {line}\n"));
            } else {
                out.push_str(&format!("{line}\n"));
            }
        }
        out.push('\n');
    }
    let documented: Vec<&OptDef> = def
        .opts
        .iter()
        .filter(|o| !matches!(o.kind, OptKind::Alias(_)))
        .collect();
    if !documented.is_empty() {
        out.push_str("  OPTIONS\n");
        for o in documented {
            out.push_str(&format!("    {:<15}  {}\n", option_label(o), o.help));
        }
        out.push('\n');
    }
    out
}
