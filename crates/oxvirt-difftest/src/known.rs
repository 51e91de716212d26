//! The allow-list: differences from libvirt that are on purpose, each with its reason.
//!
//! `scenarios/known-differences.json` is a list of entries
//! `{"scenario": "lifecycle", "step": 5, "field": "error.message", "reason": "..."}`;
//! `docs/differential.md` lists the same entries. An entry allows exactly one field of one
//! step; anything else that differs fails the suite.

use std::path::Path;

use serde_json::Value;

use crate::compare::Difference;

/// The allow-list's file name, in the scenarios directory.
pub const FILE_NAME: &str = "known-differences.json";

/// One allowed difference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownDifference {
    /// The scenario's name.
    pub scenario: String,
    /// The step's number, from 1.
    pub step: usize,
    /// The field ([`Difference::field`]).
    pub field: String,
    /// Why we differ on purpose.
    pub reason: String,
}

impl KnownDifference {
    /// Whether this entry allows `d`.
    pub fn allows(&self, d: &Difference) -> bool {
        self.scenario == d.scenario && self.step == d.step && self.field == d.field
    }
}

/// Reads the allow-list in `dir` (an absent file is an empty list).
pub fn load(dir: &Path) -> Result<Vec<KnownDifference>, String> {
    let path = dir.join(FILE_NAME);
    if !path.exists() {
        return Ok(Vec::new());
    }
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Parses the allow-list; every entry needs all four fields and a non-empty reason.
pub fn parse(text: &str) -> Result<Vec<KnownDifference>, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let list = v.as_array().ok_or("not a list")?;
    list.iter()
        .enumerate()
        .map(|(i, e)| {
            let s = |k: &str| {
                e.get(k)
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .ok_or_else(|| format!("entry {}: no \"{k}\"", i + 1))
            };
            let step = e
                .get("step")
                .and_then(Value::as_u64)
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| format!("entry {}: no \"step\"", i + 1))?;
            Ok(KnownDifference {
                scenario: s("scenario")?,
                step,
                field: s("field")?,
                reason: s("reason")?,
            })
        })
        .collect()
}

/// Splits `diffs` into the allowed ones (with the entry allowing each) and the rest.
pub fn split(
    diffs: Vec<Difference>,
    known: &[KnownDifference],
) -> (Vec<(Difference, &KnownDifference)>, Vec<Difference>) {
    let mut allowed = Vec::new();
    let mut rest = Vec::new();
    for d in diffs {
        match known.iter().find(|k| k.allows(&d)) {
            Some(k) => allowed.push((d, k)),
            None => rest.push(d),
        }
    }
    (allowed, rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn diff(scenario: &str, step: usize, field: &str) -> Difference {
        Difference {
            scenario: scenario.into(),
            step,
            op: "x".into(),
            field: field.into(),
            expected: json!(1),
            actual: json!(2),
        }
    }

    #[test]
    fn an_entry_allows_exactly_its_scenario_step_and_field() {
        let known =
            parse(r#"[{"scenario": "a", "step": 3, "field": "error.message", "reason": "r"}]"#)
                .unwrap();
        let (allowed, rest) = split(
            vec![
                diff("a", 3, "error.message"),
                diff("a", 3, "error.code"),
                diff("a", 4, "error.message"),
                diff("b", 3, "error.message"),
            ],
            &known,
        );
        assert_eq!(allowed.len(), 1);
        assert_eq!(allowed[0].1.reason, "r");
        assert_eq!(rest.len(), 3);
    }

    #[test]
    fn entries_need_every_field_and_a_reason() {
        assert_eq!(
            parse(r#"[{"scenario": "a", "step": 1, "field": "result", "reason": ""}]"#)
                .unwrap_err(),
            "entry 1: no \"reason\""
        );
        assert_eq!(
            parse(r#"[{"scenario": "a", "field": "result", "reason": "r"}]"#).unwrap_err(),
            "entry 1: no \"step\""
        );
        assert!(parse("{}").is_err());
    }

    #[test]
    fn the_shipped_list_parses() {
        load(&crate::scenario::scenarios_dir()).unwrap();
    }
}
