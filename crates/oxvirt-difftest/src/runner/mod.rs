//! oxvirt's side: a scenario run through the `oxvirt` facade over our test driver, printing
//! the same transcript `libvirt_runner.py` prints for libvirt.

mod connection;
mod domain;
mod snapshot;

use std::collections::HashMap;
use std::path::PathBuf;

use oxvirt::{Connect, Domain, DomainEvent, DomainSnapshot, EventKind, EventStream, VirError};
use serde_json::{json, Map, Value};

use crate::normalise::{now_secs, Normaliser, NORMALISED};
use crate::scenario::{arg_str, Scenario};
use crate::transcript::{ErrorRecord, Outcome, StepRecord, Transcript};

/// Why a step produced no result.
#[derive(Debug)]
pub(crate) enum Fail {
    /// The call failed: the step's error.
    Vir(VirError),
    /// The step names a handle a failed step should have kept (a runner error, recorded as
    /// code and domain `-1`, as the Python runner does).
    Handle(String),
    /// The scenario is wrong (unknown operation, missing argument): the run stops.
    Scenario(String),
}

impl From<VirError> for Fail {
    fn from(e: VirError) -> Self {
        Fail::Vir(e)
    }
}

/// A step's result, or why there is none.
pub(crate) type StepResult = Result<Value, Fail>;

/// What a step may keep under its `as` name.
#[derive(Debug, Clone)]
pub(crate) enum Handle {
    /// A domain handle.
    Domain(Domain),
    /// A snapshot handle.
    Snapshot(DomainSnapshot),
}

/// One run of one scenario against `test:///default`.
pub(crate) struct Runner<'a> {
    pub(crate) scenario: &'a Scenario,
    pub(crate) conn: Connect,
    events: EventStream,
    handles: HashMap<String, Handle>,
    /// What the current step returned that its `as` may keep.
    pub(crate) keep: Option<Handle>,
    pub(crate) tmpdir: PathBuf,
}

/// Runs `scenario` on a fresh connection to our `test:///default` and returns its
/// normalised transcript. Errors are the scenario's own faults, or a connection that cannot
/// be opened.
pub async fn run(scenario: &Scenario) -> Result<Transcript, String> {
    let tmpdir = make_tmpdir()?;
    let start = now_secs().saturating_sub(1);
    let result = run_in(scenario, tmpdir.clone()).await;
    let end = now_secs() + 1;
    let _ = std::fs::remove_dir_all(&tmpdir);
    let steps = result?;
    let tmp = tmpdir.to_string_lossy().into_owned();
    let mut normaliser = Normaliser::new(&scenario.input_uuids()?, start, end, &tmp);
    Ok(Transcript {
        scenario: scenario.name.clone(),
        runner: format!(
            "oxvirt {} (oxvirt facade, test:///default)",
            env!("CARGO_PKG_VERSION")
        ),
        normalised: NORMALISED.iter().map(|s| (*s).to_owned()).collect(),
        steps: normaliser.steps(steps),
    })
}

/// Runs `scenario` on a new current-thread Tokio runtime (for callers that are not async).
pub fn run_blocking(scenario: &Scenario) -> Result<Transcript, String> {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| format!("cannot start a Tokio runtime: {e}"))?
        .block_on(run(scenario))
}

async fn run_in(scenario: &Scenario, tmpdir: PathBuf) -> Result<Vec<StepRecord>, String> {
    let conn = Connect::open("test:///default")
        .await
        .map_err(|e| format!("cannot open test:///default: {}", e.message))?;
    let events = conn.events();
    let mut runner = Runner {
        scenario,
        conn,
        events,
        handles: HashMap::new(),
        keep: None,
        tmpdir,
    };
    runner.drain_events().await;
    let mut steps = Vec::with_capacity(scenario.steps.len());
    for (i, step) in scenario.steps.iter().enumerate() {
        let op = arg_str(step, "op").unwrap_or_default().to_owned();
        runner.keep = None;
        let outcome = match runner.run_op(&op, step).await {
            Ok(v) => Outcome::Ok(v),
            Err(Fail::Vir(e)) => Outcome::Err(ErrorRecord {
                code: i64::from(e.code.number()),
                domain: i64::from(e.domain.number()),
                message: e.message,
            }),
            Err(Fail::Handle(m)) => Outcome::Err(ErrorRecord::runner(m)),
            Err(Fail::Scenario(m)) => {
                return Err(format!("{} step {}: {m}", scenario.name, i + 1));
            }
        };
        if let (Outcome::Ok(_), Some(name)) = (&outcome, arg_str(step, "as")) {
            match runner.keep.take() {
                Some(h) => {
                    runner.handles.insert(name.to_owned(), h);
                }
                None => {
                    return Err(format!(
                        "{} step {}: operation {op:?} returns no handle to keep",
                        scenario.name,
                        i + 1
                    ))
                }
            }
        }
        let events = runner.drain_events().await;
        steps.push(StepRecord {
            step: i + 1,
            op,
            outcome,
            events,
        });
    }
    Ok(steps)
}

fn make_tmpdir() -> Result<PathBuf, String> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!("difftest-oxvirt-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    Ok(dir)
}

impl Runner<'_> {
    async fn run_op(&mut self, op: &str, step: &Map<String, Value>) -> StepResult {
        if let Some(r) = self.connection_op(op, step).await {
            return r;
        }
        if let Some(r) = self.domain_op(op, step).await {
            return r;
        }
        if let Some(r) = self.snapshot_op(op, step).await {
            return r;
        }
        Err(Fail::Scenario(format!("unknown operation {op:?}")))
    }

    /// The events delivered since the last drain, as the transcript records them. The
    /// driver emits during the call; yielding first lets anything it spawned run.
    async fn drain_events(&mut self) -> Vec<Value> {
        for _ in 0..8 {
            tokio::task::yield_now().await;
        }
        let mut out = Vec::new();
        while let Some(ev) = self.events.try_next() {
            out.extend(event_json(&ev));
        }
        out
    }

    /// A required argument.
    pub(crate) fn arg<'s>(step: &'s Map<String, Value>, key: &str) -> Result<&'s Value, Fail> {
        step.get(key)
            .ok_or_else(|| Fail::Scenario(format!("missing argument {key:?}")))
    }

    /// A required string argument.
    pub(crate) fn arg_text<'s>(step: &'s Map<String, Value>, key: &str) -> Result<&'s str, Fail> {
        Self::arg(step, key)?
            .as_str()
            .ok_or_else(|| Fail::Scenario(format!("argument {key:?} is not a string")))
    }

    /// A required integer argument.
    pub(crate) fn arg_int(step: &Map<String, Value>, key: &str) -> Result<i64, Fail> {
        Self::arg(step, key)?
            .as_i64()
            .ok_or_else(|| Fail::Scenario(format!("argument {key:?} is not an integer")))
    }

    /// An optional text argument (`@file` resolved); `null` or absent is `None`.
    pub(crate) fn text(
        &self,
        step: &Map<String, Value>,
        key: &str,
    ) -> Result<Option<String>, Fail> {
        match step.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => self.scenario.text(s).map(Some).map_err(Fail::Scenario),
            Some(_) => Err(Fail::Scenario(format!("argument {key:?} is not a string"))),
        }
    }

    /// A required text argument (`@file` resolved).
    pub(crate) fn required_text(
        &self,
        step: &Map<String, Value>,
        key: &str,
    ) -> Result<String, Fail> {
        self.text(step, key)?
            .ok_or_else(|| Fail::Scenario(format!("missing argument {key:?}")))
    }

    /// The `path` argument, `@tmp/` made the run's temporary directory.
    pub(crate) fn path(&self, step: &Map<String, Value>) -> Result<String, Fail> {
        let p = Self::arg_text(step, "path")?;
        Ok(match p.strip_prefix("@tmp/") {
            Some(rest) => self.tmpdir.join(rest).to_string_lossy().into_owned(),
            None => p.to_owned(),
        })
    }

    fn handle(&self, reference: &str) -> Result<&Handle, Fail> {
        let name = &reference[1..];
        self.handles.get(name).ok_or_else(|| {
            Fail::Handle(format!("no handle '{name}': the step that keeps it failed"))
        })
    }

    /// The step's `dom`: a kept handle (`$name`) or a lookup by name.
    pub(crate) async fn dom(&self, step: &Map<String, Value>) -> Result<Domain, Fail> {
        let reference = Self::arg_text(step, "dom")?;
        if reference.starts_with('$') {
            return match self.handle(reference)? {
                Handle::Domain(d) => Ok(d.clone()),
                Handle::Snapshot(_) => Err(Fail::Scenario(format!(
                    "{reference} is a snapshot, not a domain"
                ))),
            };
        }
        Ok(self.conn.lookup_domain_by_name(reference).await?)
    }

    /// The step's `snap`: a kept handle (`$name`) or a lookup by name in `dom`.
    pub(crate) async fn snap(&self, step: &Map<String, Value>) -> Result<DomainSnapshot, Fail> {
        let reference = Self::arg_text(step, "snap")?;
        if reference.starts_with('$') {
            return match self.handle(reference)? {
                Handle::Snapshot(s) => Ok(s.clone()),
                Handle::Domain(_) => Err(Fail::Scenario(format!(
                    "{reference} is a domain, not a snapshot"
                ))),
            };
        }
        let dom = self.dom(step).await?;
        Ok(dom.snapshot_lookup_by_name(reference, 0).await?)
    }
}

/// A domain handle as results show it: name, UUID and the handle's ID (`-1` inactive).
pub(crate) fn dom_summary(d: &Domain) -> Value {
    json!({
        "name": d.name(),
        "uuid": d.uuid_string(),
        "id": d.id().map_or(-1, i64::from),
    })
}

/// An event as the transcript records it; `None` for kinds the Python runner does not
/// subscribe to (it registers lifecycle, reboot, device-added, device-removed and
/// metadata-change callbacks).
pub(crate) fn event_json(ev: &DomainEvent) -> Option<Value> {
    let dom = ev.domain.name.as_str();
    Some(match &ev.kind {
        EventKind::Lifecycle(l) => json!({
            "event": "lifecycle", "dom": dom, "id": ev.domain.id,
            "type": l.event(), "detail": l.detail()
        }),
        EventKind::Reboot => json!({"event": "reboot", "dom": dom}),
        EventKind::DeviceAdded { alias } => {
            json!({"event": "device-added", "dom": dom, "alias": alias})
        }
        EventKind::DeviceRemoved { alias } => {
            json!({"event": "device-removed", "dom": dom, "alias": alias})
        }
        EventKind::MetadataChange { kind, nsuri } => json!({
            "event": "metadata-change", "dom": dom, "type": kind, "nsuri": nsuri
        }),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxvirt::event::{DefinedDetail, StartedDetail};
    use oxvirt::{DomainRef, Lifecycle, Uuid};

    fn dref() -> DomainRef {
        DomainRef {
            name: "a".into(),
            uuid: Uuid::from([1; 16]),
            id: 3,
        }
    }

    #[test]
    fn events_are_recorded_as_the_python_runner_records_them() {
        let ev = DomainEvent::lifecycle(dref(), Lifecycle::Started(StartedDetail::Booted));
        assert_eq!(
            event_json(&ev),
            Some(json!({"event": "lifecycle", "dom": "a", "id": 3, "type": 2, "detail": 0}))
        );
        let ev = DomainEvent::lifecycle(dref(), Lifecycle::Defined(DefinedDetail::Updated));
        assert_eq!(event_json(&ev).unwrap()["detail"], 1);
        let ev = DomainEvent {
            domain: dref(),
            kind: EventKind::MetadataChange {
                kind: 2,
                nsuri: Some("http://x/".into()),
            },
        };
        assert_eq!(
            event_json(&ev),
            Some(json!({"event": "metadata-change", "dom": "a", "type": 2, "nsuri": "http://x/"}))
        );
        let ev = DomainEvent {
            domain: dref(),
            kind: EventKind::MetadataChange {
                kind: 1,
                nsuri: None,
            },
        };
        assert_eq!(event_json(&ev).unwrap()["nsuri"], Value::Null);
        let ev = DomainEvent {
            domain: dref(),
            kind: EventKind::DeviceRemoved {
                alias: "net1".into(),
            },
        };
        assert_eq!(
            event_json(&ev),
            Some(json!({"event": "device-removed", "dom": "a", "alias": "net1"}))
        );
        let ev = DomainEvent {
            domain: dref(),
            kind: EventKind::BalloonChange { actual_kib: 1 },
        };
        assert_eq!(event_json(&ev), None);
    }
}
