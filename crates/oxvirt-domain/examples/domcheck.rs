//! Reads a domain XML file, reports what the model kept without understanding, checks it as
//! libvirt would when defining it, and prints it as libvirt would store it.
//!
//! `cargo run -p oxvirt-domain --example domcheck -- FILE [--raw]`
//!
//! With `--raw` the document is written back without libvirt's defaults filled in.

use std::process::ExitCode;

use oxvirt_domain::Domain;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.iter().find(|a| !a.starts_with("--")) else {
        eprintln!("usage: domcheck FILE [--raw]");
        return ExitCode::from(2);
    };
    let raw = args.iter().any(|a| a == "--raw");
    let xml = match std::fs::read_to_string(path) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: cannot read {path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let parsed = match Domain::parse(&xml) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    for w in &parsed.warnings {
        eprintln!("warning: {path}: {w}");
    }
    let mut domain = parsed.domain;
    if !raw {
        if let Err(e) = domain.apply_defaults().and_then(|()| domain.validate()) {
            eprintln!("error: {path}: {e}");
            return ExitCode::FAILURE;
        }
    }
    print!("{}", domain.to_xml());
    ExitCode::SUCCESS
}
