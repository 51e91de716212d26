//! What both runners replace in a transcript because it differs from run to run by nature.
//!
//! The rules (and their wording, [`NORMALISED`]) are the same in `libvirt_runner.py`:
//! - `info`'s CPU time is `@CPU-TIME@` (libvirt's test driver reports the time of day);
//! - a UUID the scenario did not supply (nor the default domain's) is `@UUID-n@`, numbered
//!   by first appearance: steps in order; in each, the result, then the error, then the
//!   events; object keys sorted;
//! - an integer between the run's start and end, in seconds since the epoch, is `@TIME@`
//!   (snapshot creation times and the default snapshot names made from them);
//! - the run's temporary directory is `@TMP@`.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::Value;

use crate::transcript::{Outcome, StepRecord};

/// The normalisations, as the transcript states them (the Python runner prints the same).
pub const NORMALISED: [&str; 4] = [
    "info: cpu_time is replaced by @CPU-TIME@ (the test driver reports the time of day)",
    "UUIDs that appear in no scenario input (nor are the default domain's) are replaced by \
     @UUID-1@, @UUID-2@, ... in order of first appearance (walking steps in order; result, \
     then error, then events; object keys sorted)",
    "integers between the run's start and end times, in seconds since the epoch, are \
     replaced by @TIME@ (snapshot creation times and the default snapshot names made of them)",
    "the run's temporary directory is replaced by @TMP@",
];

/// The marker for `info`'s CPU time.
pub const CPU_TIME: &str = "@CPU-TIME@";

/// UUIDs fixed by the test driver's default configuration, never replaced.
pub const FIXED_UUIDS: [&str; 1] = ["6695eb01-f6a4-8304-79aa-97f2502e193f"];

/// Every UUID (`8-4-4-4-12` hex digits) in `text`, lower-cased, in order.
pub fn find_uuids(text: &str) -> Vec<String> {
    uuid_spans(text)
        .into_iter()
        .map(|(start, end)| text[start..end].to_ascii_lowercase())
        .collect()
}

/// Byte ranges of the UUIDs in `text` (leftmost first, not overlapping, as a regex finds
/// them).
fn uuid_spans(text: &str) -> Vec<(usize, usize)> {
    const GROUPS: [usize; 5] = [8, 4, 4, 4, 12];
    const LEN: usize = 36;
    let bytes = text.as_bytes();
    let mut spans = Vec::new();
    let mut i = 0;
    while i + LEN <= bytes.len() {
        if is_uuid_at(&bytes[i..i + LEN], &GROUPS) {
            spans.push((i, i + LEN));
            i += LEN;
        } else {
            i += 1;
        }
    }
    spans
}

fn is_uuid_at(window: &[u8], groups: &[usize]) -> bool {
    let mut pos = 0;
    for (n, len) in groups.iter().enumerate() {
        if n > 0 {
            if window[pos] != b'-' {
                return false;
            }
            pos += 1;
        }
        if !window[pos..pos + len].iter().all(u8::is_ascii_hexdigit) {
            return false;
        }
        pos += len;
    }
    true
}

/// The state of one transcript's normalisation.
#[derive(Debug)]
pub struct Normaliser {
    known: HashSet<String>,
    labels: HashMap<String, String>,
    start: u64,
    end: u64,
    tmpdir: String,
}

impl Normaliser {
    /// A normaliser for a run between `start` and `end` (seconds since the epoch, already
    /// widened by the caller), whose scenario supplied `input_uuids`, using `tmpdir`.
    pub fn new(input_uuids: &[String], start: u64, end: u64, tmpdir: &str) -> Self {
        let mut known: HashSet<String> = input_uuids.iter().map(|u| u.to_lowercase()).collect();
        known.extend(FIXED_UUIDS.iter().map(|u| (*u).to_owned()));
        Normaliser {
            known,
            labels: HashMap::new(),
            start,
            end,
            tmpdir: tmpdir.to_owned(),
        }
    }

    /// Normalises every step, in the order the rules prescribe.
    pub fn steps(&mut self, steps: Vec<StepRecord>) -> Vec<StepRecord> {
        steps
            .into_iter()
            .map(|mut s| {
                s.outcome = match s.outcome {
                    Outcome::Ok(v) => Outcome::Ok(self.value(v)),
                    Outcome::Err(mut e) => {
                        e.message = self.text(&e.message);
                        Outcome::Err(e)
                    }
                };
                s.events = s.events.into_iter().map(|e| self.value(e)).collect();
                s
            })
            .collect()
    }

    /// Normalises every string in `v`, object keys in sorted order.
    pub fn value(&mut self, v: Value) -> Value {
        match v {
            Value::String(s) => Value::String(self.text(&s)),
            Value::Array(a) => Value::Array(a.into_iter().map(|x| self.value(x)).collect()),
            Value::Object(o) => {
                let sorted: BTreeMap<String, Value> = o.into_iter().collect();
                let mut out = serde_json::Map::new();
                for (k, x) in sorted {
                    let x = self.value(x);
                    out.insert(k, x);
                }
                Value::Object(out)
            }
            other => other,
        }
    }

    /// Normalises one string: the temporary directory, then UUIDs, then times.
    pub fn text(&mut self, s: &str) -> String {
        let s = if self.tmpdir.is_empty() {
            s.to_owned()
        } else {
            s.replace(&self.tmpdir, "@TMP@")
        };
        let s = self.uuids(&s);
        self.times(&s)
    }

    fn uuids(&mut self, s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        let mut last = 0;
        for (start, end) in uuid_spans(s) {
            out.push_str(&s[last..start]);
            let found = &s[start..end];
            let lower = found.to_ascii_lowercase();
            if self.known.contains(&lower) {
                out.push_str(found);
            } else {
                let next = self.labels.len() + 1;
                let label = self
                    .labels
                    .entry(lower)
                    .or_insert_with(|| format!("@UUID-{next}@"));
                out.push_str(label);
            }
            last = end;
        }
        out.push_str(&s[last..]);
        out
    }

    fn times(&self, s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        let mut digits = String::new();
        let flush = |digits: &mut String, out: &mut String| {
            if digits.is_empty() {
                return;
            }
            match digits.parse::<u64>() {
                Ok(n) if (self.start..=self.end).contains(&n) => out.push_str("@TIME@"),
                _ => out.push_str(digits),
            }
            digits.clear();
        };
        for c in s.chars() {
            if c.is_ascii_digit() {
                digits.push(c);
            } else {
                flush(&mut digits, &mut out);
                out.push(c);
            }
        }
        flush(&mut digits, &mut out);
        out
    }
}

/// Seconds since the epoch, now.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcript::ErrorRecord;
    use serde_json::json;

    #[test]
    fn finds_uuids_anywhere_and_only_whole_ones() {
        let t = "x11111111-2222-3333-4444-555555555555y and 1111-2222 and \
                 ABCDEF01-2222-3333-4444-555555555555";
        assert_eq!(
            find_uuids(t),
            vec![
                "11111111-2222-3333-4444-555555555555",
                "abcdef01-2222-3333-4444-555555555555"
            ]
        );
        assert!(find_uuids("11111111-2222-3333-4444-55555555555").is_empty());
    }

    #[test]
    fn labels_unknown_uuids_in_order_and_keeps_known_ones() {
        let known = vec!["11111111-2222-3333-4444-555555555555".to_owned()];
        let mut n = Normaliser::new(&known, 1000, 2000, "/tmp/run");
        let a = "aaaaaaaa-2222-3333-4444-555555555555";
        let b = "bbbbbbbb-2222-3333-4444-555555555555";
        assert_eq!(
            n.text(&format!("{b} {a} {b}")),
            "@UUID-1@ @UUID-2@ @UUID-1@"
        );
        assert_eq!(
            n.text("11111111-2222-3333-4444-555555555555"),
            "11111111-2222-3333-4444-555555555555"
        );
        assert_eq!(n.text(FIXED_UUIDS[0]), FIXED_UUIDS[0]);
    }

    #[test]
    fn replaces_times_in_the_window_and_the_tmpdir() {
        let mut n = Normaliser::new(&[], 1000, 1002, "/tmp/run");
        assert_eq!(
            n.text("<creationTime>1001</creationTime> 10010 999 1002"),
            "<creationTime>@TIME@</creationTime> 10010 999 @TIME@"
        );
        assert_eq!(
            n.text("cannot read '/tmp/run/a.save'"),
            "cannot read '@TMP@/a.save'"
        );
    }

    #[test]
    fn walks_result_then_error_then_events_with_sorted_keys() {
        let a = "aaaaaaaa-2222-3333-4444-555555555555";
        let b = "bbbbbbbb-2222-3333-4444-555555555555";
        let c = "cccccccc-2222-3333-4444-555555555555";
        let steps = vec![
            StepRecord {
                step: 1,
                op: "x".into(),
                outcome: Outcome::Ok(json!({"z": a, "b": b})),
                events: vec![json!({"dom": c})],
            },
            StepRecord {
                step: 2,
                op: "y".into(),
                outcome: Outcome::Err(ErrorRecord {
                    code: 1,
                    domain: 2,
                    message: format!("{c} {a}"),
                }),
                events: vec![],
            },
        ];
        let out = Normaliser::new(&[], 0, 0, "").steps(steps);
        assert_eq!(
            out[0].outcome,
            Outcome::Ok(json!({"b": "@UUID-1@", "z": "@UUID-2@"}))
        );
        assert_eq!(out[0].events, vec![json!({"dom": "@UUID-3@"})]);
        match &out[1].outcome {
            Outcome::Err(e) => assert_eq!(e.message, "@UUID-3@ @UUID-2@"),
            other => panic!("{other:?}"),
        }
    }
}
