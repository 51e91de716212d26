//! The differential suite: every scenario through libvirt's test driver (python3-libvirt)
//! and ours; any difference not in `scenarios/known-differences.json` fails.
//!
//! Without python3-libvirt the libvirt side cannot run: the tests that need it print
//! `SKIPPED: ...` and pass (CI installs the package, so they run there).

use std::collections::BTreeSet;

use oxvirt_difftest::known;
use oxvirt_difftest::libvirt;
use oxvirt_difftest::normalise::NORMALISED;
use oxvirt_difftest::scenario::{load_all, scenarios_dir};
use oxvirt_difftest::{compare, run_suite};

fn libvirt_or_skip() -> bool {
    if libvirt::available() {
        return true;
    }
    println!("{}", libvirt::SKIP_MESSAGE);
    false
}

#[test]
fn oxvirt_matches_libvirt_on_every_scenario() {
    if !libvirt_or_skip() {
        return;
    }
    let report = run_suite(&scenarios_dir(), &[]).unwrap_or_else(|e| panic!("{e}"));
    print!("{}", report.render());
    assert!(
        report.passed(),
        "{} differences from libvirt that known-differences.json does not list (above)",
        report.unexpected.len()
    );
}

#[test]
fn libvirt_transcripts_are_reproducible_after_normalisation() {
    if !libvirt_or_skip() {
        return;
    }
    for s in load_all(&scenarios_dir()).unwrap() {
        let first = libvirt::run(&s.path).unwrap();
        let second = libvirt::run(&s.path).unwrap();
        let diffs = compare(&first, &second);
        assert!(
            diffs.is_empty(),
            "{}: libvirt's own runs differ; something nondeterministic is not normalised:\n{}",
            s.name,
            diffs.iter().map(|d| d.render()).collect::<String>()
        );
        assert_eq!(
            first.normalised, NORMALISED,
            "both runners state the same rules"
        );
        assert_eq!(first.steps.len(), s.steps.len());
    }
}

#[test]
fn scenarios_cover_at_least_forty_operations() {
    let ops: BTreeSet<String> = load_all(&scenarios_dir())
        .unwrap()
        .iter()
        .flat_map(|s| s.operations())
        .collect();
    println!("{} distinct operations: {ops:?}", ops.len());
    assert!(ops.len() >= 40, "{} distinct operations", ops.len());
}

#[test]
fn every_known_difference_is_documented_with_its_reason() {
    let doc_path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/differential.md");
    let doc = std::fs::read_to_string(&doc_path).unwrap();
    let scenarios: BTreeSet<String> = load_all(&scenarios_dir())
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    for k in known::load(&scenarios_dir()).unwrap() {
        assert!(
            scenarios.contains(&k.scenario),
            "no scenario {}",
            k.scenario
        );
        let row = format!("| {} | {} | {} |", k.scenario, k.step, k.field);
        assert!(
            doc.contains(&row),
            "docs/differential.md lacks the row {row}"
        );
        assert!(
            doc.contains(&k.reason),
            "docs/differential.md lacks the reason for {row}"
        );
    }
}
