//! The comparer: what differs between libvirt's transcript and ours, step by step.

use std::fmt::Write as _;

use serde_json::Value;

use crate::transcript::{Outcome, StepRecord, Transcript};

/// One difference at one step.
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    /// The scenario.
    pub scenario: String,
    /// The step's number (from 1); 0 for the transcript as a whole.
    pub step: usize,
    /// The step's operation.
    pub op: String,
    /// What differs: `result`, `outcome` (one failed, the other did not), `error.code`,
    /// `error.domain`, `error.message`, `events`, `op` or `steps` (their number).
    pub field: String,
    /// libvirt's value.
    pub expected: Value,
    /// oxvirt's value.
    pub actual: Value,
}

/// Compares two transcripts of the same scenario: `expected` is libvirt's, `actual` ours.
pub fn compare(expected: &Transcript, actual: &Transcript) -> Vec<Difference> {
    let mut out = Vec::new();
    let scenario = &expected.scenario;
    if expected.steps.len() != actual.steps.len() {
        out.push(Difference {
            scenario: scenario.clone(),
            step: 0,
            op: String::new(),
            field: "steps".into(),
            expected: expected.steps.len().into(),
            actual: actual.steps.len().into(),
        });
    }
    for (e, a) in expected.steps.iter().zip(&actual.steps) {
        compare_step(scenario, e, a, &mut out);
    }
    out
}

fn compare_step(scenario: &str, e: &StepRecord, a: &StepRecord, out: &mut Vec<Difference>) {
    let mut push = |field: &str, expected: Value, actual: Value| {
        out.push(Difference {
            scenario: scenario.to_owned(),
            step: e.step,
            op: e.op.clone(),
            field: field.to_owned(),
            expected,
            actual,
        });
    };
    if e.op != a.op {
        push("op", e.op.clone().into(), a.op.clone().into());
        return;
    }
    match (&e.outcome, &a.outcome) {
        (Outcome::Ok(x), Outcome::Ok(y)) => {
            if x != y {
                push("result", x.clone(), y.clone());
            }
        }
        (Outcome::Err(x), Outcome::Err(y)) => {
            if x.code != y.code {
                push("error.code", x.code.into(), y.code.into());
            }
            if x.domain != y.domain {
                push("error.domain", x.domain.into(), y.domain.into());
            }
            if x.message != y.message {
                push(
                    "error.message",
                    x.message.clone().into(),
                    y.message.clone().into(),
                );
            }
        }
        (x, y) => push("outcome", outcome_json(x), outcome_json(y)),
    }
    if e.events != a.events {
        push(
            "events",
            Value::Array(e.events.clone()),
            Value::Array(a.events.clone()),
        );
    }
}

fn outcome_json(o: &Outcome) -> Value {
    match o {
        Outcome::Ok(v) => serde_json::json!({ "result": v }),
        Outcome::Err(e) => serde_json::json!({
            "error": {"code": e.code, "domain": e.domain, "message": e.message}
        }),
    }
}

impl Difference {
    /// The difference for a person: where, then libvirt's and our value; XML (and any
    /// multi-line text) as a line diff, `-` libvirt's lines, `+` ours.
    pub fn render(&self) -> String {
        let mut s = format!(
            "{} step {} ({}) {}:\n",
            self.scenario, self.step, self.op, self.field
        );
        match (&self.expected, &self.actual) {
            (Value::String(x), Value::String(y)) if x.contains('\n') || y.contains('\n') => {
                s.push_str(&line_diff(x, y));
            }
            (x, y) => {
                let _ = writeln!(s, "  libvirt: {x}");
                let _ = writeln!(s, "  oxvirt:  {y}");
            }
        }
        s
    }
}

/// A line diff of `a` (libvirt's) and `b` (ours): common lines start with two spaces,
/// libvirt's only with `- `, ours only with `+ `. Runs of more than 3 common lines are
/// elided.
pub fn line_diff(a: &str, b: &str) -> String {
    let x: Vec<&str> = a.lines().collect();
    let y: Vec<&str> = b.lines().collect();
    // Longest common subsequence table, from the ends.
    let mut lcs = vec![vec![0usize; y.len() + 1]; x.len() + 1];
    for i in (0..x.len()).rev() {
        for j in (0..y.len()).rev() {
            lcs[i][j] = if x[i] == y[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut lines: Vec<(char, &str)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < x.len() || j < y.len() {
        if i < x.len() && j < y.len() && x[i] == y[j] {
            lines.push((' ', x[i]));
            i += 1;
            j += 1;
        } else if i < x.len() && (j == y.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            lines.push(('-', x[i]));
            i += 1;
        } else {
            lines.push(('+', y[j]));
            j += 1;
        }
    }
    let mut out = String::new();
    let changed: Vec<bool> = lines.iter().map(|(c, _)| *c != ' ').collect();
    let near_change = |k: usize| {
        let lo = k.saturating_sub(3);
        let hi = (k + 3).min(lines.len() - 1);
        (lo..=hi).any(|n| changed[n])
    };
    let mut elided = false;
    for (k, (c, line)) in lines.iter().enumerate() {
        if *c == ' ' && !near_change(k) {
            if !elided {
                out.push_str("  ...\n");
                elided = true;
            }
            continue;
        }
        elided = false;
        let _ = writeln!(out, "{c} {line}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcript::ErrorRecord;
    use serde_json::json;

    fn t(steps: Vec<StepRecord>) -> Transcript {
        Transcript {
            scenario: "s".into(),
            runner: "r".into(),
            normalised: vec![],
            steps,
        }
    }

    fn step(n: usize, op: &str, outcome: Outcome, events: Vec<Value>) -> StepRecord {
        StepRecord {
            step: n,
            op: op.into(),
            outcome,
            events,
        }
    }

    fn err(code: i64, domain: i64, message: &str) -> Outcome {
        Outcome::Err(ErrorRecord {
            code,
            domain,
            message: message.into(),
        })
    }

    #[test]
    fn equal_transcripts_have_no_differences() {
        let a = t(vec![step(1, "state", Outcome::Ok(json!([1, 1])), vec![])]);
        let mut b = a.clone();
        b.runner = "other runner".into();
        assert!(compare(&a, &b).is_empty());
    }

    #[test]
    fn reports_each_field_that_differs() {
        let ev = json!({"event": "lifecycle", "dom": "a", "type": 2, "detail": 0});
        let a = t(vec![
            step(1, "state", Outcome::Ok(json!([1, 1])), vec![ev.clone()]),
            step(2, "destroy", err(55, 10, "m1"), vec![]),
            step(3, "create", Outcome::Ok(Value::Null), vec![]),
        ]);
        let b = t(vec![
            step(1, "state", Outcome::Ok(json!([1, 2])), vec![]),
            step(2, "destroy", err(1, 12, "m2"), vec![]),
            step(3, "create", err(3, 10, "no"), vec![]),
        ]);
        let d = compare(&a, &b);
        let fields: Vec<(usize, &str)> = d.iter().map(|d| (d.step, d.field.as_str())).collect();
        assert_eq!(
            fields,
            vec![
                (1, "result"),
                (1, "events"),
                (2, "error.code"),
                (2, "error.domain"),
                (2, "error.message"),
                (3, "outcome")
            ]
        );
        assert_eq!(d[2].expected, json!(55));
        assert_eq!(d[2].actual, json!(1));
        assert_eq!(d[5].expected, json!({"result": null}));
        assert_eq!(
            d[5].actual,
            json!({"error": {"code": 3, "domain": 10, "message": "no"}})
        );
    }

    #[test]
    fn reports_a_different_number_of_steps_and_mismatched_ops() {
        let a = t(vec![
            step(1, "state", Outcome::Ok(json!(1)), vec![]),
            step(2, "info", Outcome::Ok(json!(1)), vec![]),
        ]);
        let b = t(vec![step(1, "xml", Outcome::Ok(json!(1)), vec![])]);
        let d = compare(&a, &b);
        assert_eq!(d[0].field, "steps");
        assert_eq!(
            (d[0].expected.clone(), d[0].actual.clone()),
            (json!(2), json!(1))
        );
        assert_eq!(d[1].field, "op");
    }

    #[test]
    fn renders_xml_as_a_line_diff() {
        let x = "<domain>\n  <name>a</name>\n  <memory>1</memory>\n</domain>";
        let y = "<domain>\n  <name>a</name>\n  <memory>2</memory>\n</domain>";
        let d = Difference {
            scenario: "s".into(),
            step: 4,
            op: "xml".into(),
            field: "result".into(),
            expected: x.into(),
            actual: y.into(),
        };
        assert_eq!(
            d.render(),
            "s step 4 (xml) result:\n  <domain>\n    <name>a</name>\n\
             -   <memory>1</memory>\n+   <memory>2</memory>\n  </domain>\n"
        );
    }

    #[test]
    fn line_diff_elides_long_common_runs() {
        let a: String = (0..20).map(|i| format!("l{i}\n")).collect();
        let b = a.replace("l10\n", "L10\n");
        let d = line_diff(&a, &b);
        assert_eq!(
            d,
            "  ...\n  l7\n  l8\n  l9\n- l10\n+ L10\n  l11\n  l12\n  l13\n  ...\n"
        );
    }

    #[test]
    fn renders_scalars_side_by_side() {
        let d = Difference {
            scenario: "s".into(),
            step: 2,
            op: "destroy".into(),
            field: "error.code".into(),
            expected: json!(55),
            actual: json!(1),
        };
        assert_eq!(
            d.render(),
            "s step 2 (destroy) error.code:\n  libvirt: 55\n  oxvirt:  1\n"
        );
    }
}
