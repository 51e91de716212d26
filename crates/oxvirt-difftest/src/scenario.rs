//! Scenarios: JSON files listing the calls to make, in order, with their arguments.
//!
//! ```json
//! {"description": "...", "steps": [
//!   {"op": "define", "xml": "@xml/domain-a.xml", "as": "a"},
//!   {"op": "create", "dom": "a", "flags": 1},
//!   {"op": "state", "dom": "$a"}
//! ]}
//! ```
//!
//! Arguments every runner reads the same way:
//! - `dom`: a domain name, looked up by name when the step runs (a failed lookup is the
//!   step's error), or `$handle` for a handle an earlier step kept with `as`.
//! - `snap`: a snapshot name, looked up in `dom` when the step runs, or `$handle`.
//! - `xml`, `dxml`, `value`: inline text, or `@relative/path` for a file beside the scenario.
//! - `path`: a file path; a leading `@tmp/` is the run's own temporary directory.
//! - `flags`: the call's flags (`0` when absent). Where libvirt has a plain and a `...Flags`
//!   call (`define`, `undefine`, `create`, `destroy`, `shutdown`, `save`, `restore`,
//!   `set_memory`, `set_vcpus`), the plain one is made when `flags` is absent.
//!
//! docs/differential.md lists every operation.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::normalise::find_uuids;

/// The arguments that may be `@file` texts.
pub const TEXT_KEYS: [&str; 3] = ["xml", "dxml", "value"];

/// One scenario, read from its file.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The file's stem (`lifecycle` for `lifecycle.json`).
    pub name: String,
    /// The file itself.
    pub path: PathBuf,
    /// What the scenario exercises.
    pub description: String,
    /// The steps, in order, as written.
    pub steps: Vec<Map<String, Value>>,
}

/// The directory holding the scenarios shipped with this crate.
pub fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

/// Every scenario in `dir` (files `*.json` except `known-differences.json`), sorted by name.
pub fn load_all(dir: &Path) -> Result<Vec<Scenario>, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .filter(|p| p.file_name().is_some_and(|n| n != crate::known::FILE_NAME))
        .collect();
    paths.sort();
    paths.iter().map(|p| Scenario::load(p)).collect()
}

impl Scenario {
    /// Reads and checks one scenario file.
    pub fn load(path: &Path) -> Result<Scenario, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let value: Value = serde_json::from_str(&text)
            .map_err(|e| format!("{}: not JSON: {e}", path.display()))?;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let description = value
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let Some(list) = value.get("steps").and_then(Value::as_array) else {
            return Err(format!("{}: no \"steps\" list", path.display()));
        };
        let mut steps = Vec::with_capacity(list.len());
        for (i, step) in list.iter().enumerate() {
            let Some(obj) = step.as_object() else {
                return Err(format!(
                    "{}: step {} is not an object",
                    path.display(),
                    i + 1
                ));
            };
            if !obj.get("op").is_some_and(Value::is_string) {
                return Err(format!("{}: step {} has no \"op\"", path.display(), i + 1));
            }
            steps.push(obj.clone());
        }
        Ok(Scenario {
            name,
            path: path.to_path_buf(),
            description,
            steps,
        })
    }

    /// The directory `@file` arguments are relative to.
    pub fn base_dir(&self) -> PathBuf {
        self.path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }

    /// Resolves a text argument: `@file` is read from beside the scenario.
    pub fn text(&self, value: &str) -> Result<String, String> {
        match value.strip_prefix('@') {
            Some(rel) => {
                let path = self.base_dir().join(rel);
                std::fs::read_to_string(&path)
                    .map_err(|e| format!("{}: cannot read {}: {e}", self.name, path.display()))
            }
            None => Ok(value.to_owned()),
        }
    }

    /// The UUIDs the scenario itself supplies (in its steps and the files they name): the
    /// ones normalisation leaves alone.
    pub fn input_uuids(&self) -> Result<Vec<String>, String> {
        let mut found = Vec::new();
        for step in &self.steps {
            for (key, value) in step {
                let Some(s) = value.as_str() else { continue };
                if TEXT_KEYS.contains(&key.as_str()) {
                    found.extend(find_uuids(&self.text(s)?));
                } else {
                    found.extend(find_uuids(s));
                }
            }
        }
        Ok(found)
    }

    /// The distinct operation names, sorted.
    pub fn operations(&self) -> Vec<String> {
        let mut ops: Vec<String> = self
            .steps
            .iter()
            .filter_map(|s| s.get("op").and_then(Value::as_str).map(str::to_owned))
            .collect();
        ops.sort();
        ops.dedup();
        ops
    }
}

/// A step's argument as text, if present and a string.
pub fn arg_str<'a>(step: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    step.get(key).and_then(Value::as_str)
}

/// A step's flags (`0` when absent), as libvirt's unsigned int.
pub fn flags(step: &Map<String, Value>) -> u32 {
    step.get("flags")
        .and_then(Value::as_u64)
        .and_then(|f| u32::try_from(f).ok())
        .unwrap_or(0)
}

/// Whether the step gives flags (to choose between libvirt's plain and `...Flags` calls).
pub fn has_flags(step: &Map<String, Value>) -> bool {
    step.contains_key("flags")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn tmp(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("difftest-scn-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn loads_steps_texts_and_input_uuids() {
        let d = tmp("load");
        write(
            &d,
            "x.xml",
            "<domain><uuid>11111111-2222-3333-4444-555555555555</uuid></domain>",
        );
        let p = write(
            &d,
            "s.json",
            r#"{"description": "d", "steps": [
                {"op": "define", "xml": "@x.xml"},
                {"op": "lookup_uuid", "uuid": "AAAAAAAA-2222-3333-4444-555555555555"},
                {"op": "state", "dom": "a", "flags": 3}]}"#,
        );
        let s = Scenario::load(&p).unwrap();
        assert_eq!(s.name, "s");
        assert_eq!(s.description, "d");
        assert_eq!(s.steps.len(), 3);
        assert_eq!(flags(&s.steps[2]), 3);
        assert!(has_flags(&s.steps[2]));
        assert_eq!(flags(&s.steps[0]), 0);
        assert!(!has_flags(&s.steps[0]));
        assert!(s.text("@x.xml").unwrap().starts_with("<domain>"));
        assert_eq!(s.text("inline").unwrap(), "inline");
        assert_eq!(
            s.input_uuids().unwrap(),
            vec![
                "11111111-2222-3333-4444-555555555555".to_owned(),
                "aaaaaaaa-2222-3333-4444-555555555555".to_owned()
            ]
        );
        assert_eq!(s.operations(), vec!["define", "lookup_uuid", "state"]);
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn refuses_steps_without_op_and_files_without_steps() {
        let d = tmp("bad");
        let p = write(&d, "a.json", r#"{"steps": [{"dom": "a"}]}"#);
        assert!(Scenario::load(&p)
            .unwrap_err()
            .contains("step 1 has no \"op\""));
        let p = write(&d, "b.json", r#"{"description": "x"}"#);
        assert!(Scenario::load(&p)
            .unwrap_err()
            .contains("no \"steps\" list"));
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn shipped_scenarios_load() {
        let all = load_all(&scenarios_dir()).unwrap();
        assert!(all.len() >= 10, "{} scenarios", all.len());
        assert!(all.iter().all(|s| !s.steps.is_empty()));
    }
}
