//! Transcripts: what a runner saw at each step, in the JSON both runners print.
//!
//! ```json
//! {"scenario": "lifecycle", "runner": "...", "normalised": ["..."],
//!  "steps": [
//!   {"step": 1, "op": "define", "result": {"id": -1, "name": "a", "uuid": "..."},
//!    "events": [{"event": "lifecycle", "dom": "a", "id": -1, "type": 0, "detail": 0}]},
//!   {"step": 2, "op": "destroy",
//!    "error": {"code": 55, "domain": 10, "message": "..."}, "events": []}]}
//! ```

use serde_json::{json, Map, Value};

/// A libvirt error as the transcript records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorRecord {
    /// `virErrorNumber`.
    pub code: i64,
    /// `virErrorDomain`.
    pub domain: i64,
    /// The message, as `virGetLastErrorMessage` gives it.
    pub message: String,
}

impl ErrorRecord {
    /// The error a runner reports for a step it could not make (a handle a failed step
    /// should have kept, an operation it lacks): code and domain `-1`, which no libvirt
    /// error has.
    pub fn runner(message: impl Into<String>) -> Self {
        ErrorRecord {
            code: -1,
            domain: -1,
            message: message.into(),
        }
    }
}

/// How a step ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It returned this (normalised) value; `null` for calls that return nothing.
    Ok(Value),
    /// It failed.
    Err(ErrorRecord),
}

/// One step of a transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRecord {
    /// The step's number, from 1.
    pub step: usize,
    /// The operation.
    pub op: String,
    /// Its result or error.
    pub outcome: Outcome,
    /// The events received while the step ran, in order.
    pub events: Vec<Value>,
}

/// A whole transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transcript {
    /// The scenario's name.
    pub scenario: String,
    /// Which implementation produced it.
    pub runner: String,
    /// The normalisations applied, in words.
    pub normalised: Vec<String>,
    /// The steps.
    pub steps: Vec<StepRecord>,
}

impl Transcript {
    /// The transcript as JSON.
    pub fn to_json(&self) -> Value {
        let steps: Vec<Value> = self.steps.iter().map(StepRecord::to_json).collect();
        json!({
            "scenario": self.scenario,
            "runner": self.runner,
            "normalised": self.normalised,
            "steps": steps,
        })
    }

    /// Reads a transcript printed by either runner.
    pub fn from_json(v: &Value) -> Result<Transcript, String> {
        let text = |key: &str| {
            v.get(key)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| format!("transcript: no \"{key}\""))
        };
        let normalised = v
            .get("normalised")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let steps = v
            .get("steps")
            .and_then(Value::as_array)
            .ok_or("transcript: no \"steps\"")?
            .iter()
            .map(StepRecord::from_json)
            .collect::<Result<_, _>>()?;
        Ok(Transcript {
            scenario: text("scenario")?,
            runner: text("runner")?,
            normalised,
            steps,
        })
    }
}

impl StepRecord {
    /// The step as JSON.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("step".into(), json!(self.step));
        m.insert("op".into(), json!(self.op));
        match &self.outcome {
            Outcome::Ok(v) => {
                m.insert("result".into(), v.clone());
            }
            Outcome::Err(e) => {
                m.insert(
                    "error".into(),
                    json!({"code": e.code, "domain": e.domain, "message": e.message}),
                );
            }
        }
        m.insert("events".into(), Value::Array(self.events.clone()));
        Value::Object(m)
    }

    /// Reads one step.
    pub fn from_json(v: &Value) -> Result<StepRecord, String> {
        let step = v
            .get("step")
            .and_then(Value::as_u64)
            .and_then(|n| usize::try_from(n).ok())
            .ok_or("step without a number")?;
        let op = v
            .get("op")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("step {step}: no op"))?
            .to_owned();
        let outcome = match (v.get("result"), v.get("error")) {
            (_, Some(e)) => Outcome::Err(ErrorRecord {
                code: e.get("code").and_then(Value::as_i64).unwrap_or(-1),
                domain: e.get("domain").and_then(Value::as_i64).unwrap_or(-1),
                message: e
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            }),
            (Some(r), None) => Outcome::Ok(r.clone()),
            (None, None) => return Err(format!("step {step}: neither result nor error")),
        };
        let events = v
            .get("events")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        Ok(StepRecord {
            step,
            op,
            outcome,
            events,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_json() {
        let t = Transcript {
            scenario: "s".into(),
            runner: "r".into(),
            normalised: vec!["n".into()],
            steps: vec![
                StepRecord {
                    step: 1,
                    op: "define".into(),
                    outcome: Outcome::Ok(json!({"name": "a", "id": -1})),
                    events: vec![json!({"event": "lifecycle", "type": 0, "detail": 0})],
                },
                StepRecord {
                    step: 2,
                    op: "destroy".into(),
                    outcome: Outcome::Err(ErrorRecord {
                        code: 55,
                        domain: 10,
                        message: "m".into(),
                    }),
                    events: vec![],
                },
                StepRecord {
                    step: 3,
                    op: "suspend".into(),
                    outcome: Outcome::Ok(Value::Null),
                    events: vec![],
                },
            ],
        };
        let v = t.to_json();
        assert_eq!(v["steps"][1]["error"]["code"], 55);
        assert_eq!(v["steps"][2]["result"], Value::Null);
        assert_eq!(Transcript::from_json(&v).unwrap(), t);
    }

    #[test]
    fn reads_the_python_runners_form() {
        let v: Value = serde_json::from_str(
            r#"{"normalised": [], "runner": "libvirt", "scenario": "x", "steps": [
              {"events": [], "op": "state", "result": [5, 1], "step": 1}]}"#,
        )
        .unwrap();
        let t = Transcript::from_json(&v).unwrap();
        assert_eq!(t.steps[0].outcome, Outcome::Ok(json!([5, 1])));
        assert!(Transcript::from_json(&json!({"steps": []})).is_err());
    }
}
