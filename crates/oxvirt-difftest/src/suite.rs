//! The whole suite: every scenario through both runners, compared, with counts.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

use crate::compare::{compare, Difference};
use crate::known::{self, KnownDifference};
use crate::scenario::{self, Scenario};
use crate::{libvirt, runner};

/// What one run of the suite found.
#[derive(Debug, Default)]
pub struct SuiteReport {
    /// Scenarios compared.
    pub scenarios: usize,
    /// Steps compared, over all scenarios.
    pub steps: usize,
    /// The distinct operations the compared steps made.
    pub operations: BTreeSet<String>,
    /// Steps whose transcripts were equal in every field.
    pub steps_equal: usize,
    /// Differences the allow-list allows, with the entry allowing each.
    pub known: Vec<(Difference, KnownDifference)>,
    /// Differences nobody allowed: each one fails the suite.
    pub unexpected: Vec<Difference>,
    /// Allow-list entries that matched no difference (stale: the difference is gone).
    pub stale: Vec<KnownDifference>,
}

impl SuiteReport {
    /// Whether the suite passes: no difference outside the allow-list.
    pub fn passed(&self) -> bool {
        self.unexpected.is_empty()
    }

    /// The counts, one line.
    pub fn summary(&self) -> String {
        format!(
            "differential: {} scenarios, {} steps, {} distinct operations compared, \
             {} steps equal, {} known differences, {} unexpected differences",
            self.scenarios,
            self.steps,
            self.operations.len(),
            self.steps_equal,
            self.known.len(),
            self.unexpected.len()
        )
    }

    /// Everything a person needs: unexpected differences in full, known ones in a line
    /// each, stale allow-list entries, then the counts.
    pub fn render(&self) -> String {
        let mut s = String::new();
        for d in &self.unexpected {
            let _ = write!(s, "UNEXPECTED {}", d.render());
        }
        for (d, k) in &self.known {
            let _ = writeln!(
                s,
                "known: {} step {} ({}) {}: {}",
                d.scenario, d.step, d.op, d.field, k.reason
            );
        }
        for k in &self.stale {
            let _ = writeln!(
                s,
                "STALE allow-list entry (no such difference now): {} step {} {}",
                k.scenario, k.step, k.field
            );
        }
        s.push_str(&self.summary());
        s.push('\n');
        s
    }
}

/// Runs the scenarios in `dir` (all of them, or those named in `only`) through libvirt's
/// runner and ours, and compares them against the allow-list in `dir`.
pub fn run_suite(dir: &Path, only: &[String]) -> Result<SuiteReport, String> {
    let allow = known::load(dir)?;
    let scenarios: Vec<Scenario> = scenario::load_all(dir)?
        .into_iter()
        .filter(|s| only.is_empty() || only.contains(&s.name))
        .collect();
    let mut report = SuiteReport::default();
    let mut used = vec![false; allow.len()];
    for s in &scenarios {
        let expected = libvirt::run(&s.path)?;
        let actual = runner::run_blocking(s)?;
        let diffs = compare(&expected, &actual);
        report.scenarios += 1;
        report.steps += s.steps.len();
        report.operations.extend(s.operations());
        let differing: BTreeSet<usize> = diffs.iter().map(|d| d.step).collect();
        report.steps_equal += (1..=s.steps.len())
            .filter(|n| !differing.contains(n) && !differing.contains(&0))
            .count();
        let (allowed, rest) = known::split(diffs, &allow);
        for (d, k) in allowed {
            if let Some(i) = allow.iter().position(|a| a == k) {
                used[i] = true;
            }
            report.known.push((d, k.clone()));
        }
        report.unexpected.extend(rest);
    }
    report.stale = allow
        .iter()
        .zip(&used)
        .filter(|(k, used)| !**used && (only.is_empty() || only.contains(&k.scenario)))
        .map(|(k, _)| k.clone())
        .collect();
    Ok(report)
}
