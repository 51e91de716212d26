//! `oxvirt-difftest`: run differential scenarios.
//!
//! ```text
//! oxvirt-difftest run SCENARIO.json      print oxvirt's transcript of one scenario
//! oxvirt-difftest compare [NAME...]      run libvirt's and ours, print the differences
//! ```
//!
//! `compare` with no names runs every scenario in the crate's `scenarios/` directory and
//! exits 1 if any difference is not in `scenarios/known-differences.json`.

use std::path::Path;
use std::process::ExitCode;

use oxvirt_difftest::{libvirt, run_suite, runner, scenario, Scenario};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("run") if args.len() == 2 => run_one(&args[1]),
        Some("compare") => compare(&args[1..]),
        _ => {
            eprintln!(
                "usage: oxvirt-difftest run SCENARIO.json\n       \
                 oxvirt-difftest compare [SCENARIO-NAME...]"
            );
            ExitCode::from(2)
        }
    }
}

fn run_one(path: &str) -> ExitCode {
    let transcript = Scenario::load(Path::new(path)).and_then(|s| runner::run_blocking(&s));
    match transcript
        .and_then(|t| serde_json::to_string_pretty(&t.to_json()).map_err(|e| e.to_string()))
    {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("oxvirt-difftest: {e}");
            ExitCode::FAILURE
        }
    }
}

fn compare(names: &[String]) -> ExitCode {
    if !libvirt::available() {
        println!("{}", libvirt::SKIP_MESSAGE);
        return ExitCode::SUCCESS;
    }
    match run_suite(&scenario::scenarios_dir(), names) {
        Ok(report) => {
            print!("{}", report.render());
            if report.passed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("oxvirt-difftest: {e}");
            ExitCode::FAILURE
        }
    }
}
