//! What the conformance tests share: where libvirt's data is, how two texts differ, and
//! how a run's counts are reported and held to their floor.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// libvirt 9.0's test data: `$OXVIRT_CONFORMANCE`, else `../shared/conformance` beside
/// the workspace; joined with `rel`.
pub fn conformance(rel: &str) -> PathBuf {
    let base = match std::env::var_os("OXVIRT_CONFORMANCE") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance"),
    };
    base.join("libvirt-9.0.0").join(rel)
}

/// The first differing line of two texts.
pub fn first_diff(want: &str, got: &str) -> String {
    let (w, g): (Vec<&str>, Vec<&str>) = (want.lines().collect(), got.lines().collect());
    for i in 0..w.len().max(g.len()) {
        let (a, b) = (w.get(i).copied(), g.get(i).copied());
        if a != b {
            return format!(
                "line {}:\n    - {}\n    + {}",
                i + 1,
                a.unwrap_or("<end>"),
                b.unwrap_or("<end>")
            );
        }
    }
    "no line differs (trailing bytes)".to_string()
}

/// A conformance run's outcome.
#[derive(Default)]
pub struct Tally {
    /// The cases that matched byte for byte.
    pub matched: Vec<String>,
    /// `name: why` for the others.
    pub mismatches: Vec<String>,
}

impl Tally {
    /// Records one case: `want` against what we produced.
    pub fn record(&mut self, name: &str, want: &str, got: Result<String, String>) {
        match got {
            Ok(got) if got == want => self.matched.push(name.to_string()),
            Ok(got) => self
                .mismatches
                .push(format!("{name}: {}", first_diff(want, &got))),
            Err(e) => self.mismatches.push(format!("{name}: {e}")),
        }
    }

    /// Prints the matched names and the first `shown` mismatches (all of them on stderr
    /// when `all_var` is set), then asserts every case of `must_match` matched and at
    /// least `min` did.
    pub fn report(&self, shown: usize, all_var: &str, must_match: &[&str], min: usize) {
        println!("matched: {}", self.matched.join(" "));
        for m in self.mismatches.iter().take(shown) {
            println!("MISMATCH {m}");
        }
        if std::env::var_os(all_var).is_some() {
            for m in &self.mismatches {
                eprintln!("ALL {m}");
            }
        }
        for name in must_match {
            assert!(
                self.matched.iter().any(|n| n == name),
                "{name} no longer matches byte for byte"
            );
        }
        let matched = self.matched.len();
        assert!(matched >= min, "matched {matched}, fewer than {min}");
    }
}

/// Whether a test that needs the host to have something (`ok`) can run; if not it says
/// `SKIPPED <test>: <why>`, unless `OXVIRT_REQUIRE_GUEST` is set (`cargo xtask ci`), where
/// real QEMU must be tested and the test fails instead.
pub fn usable(test: &str, ok: bool, why: &str) -> bool {
    if !ok {
        assert!(
            std::env::var_os("OXVIRT_REQUIRE_GUEST").is_none(),
            "{test}: {why} (OXVIRT_REQUIRE_GUEST is set: it must run here)"
        );
        eprintln!("SKIPPED {test}: {why}");
    }
    ok
}

/// A test's state and runtime directories (and any images), removed at the end.
pub struct Scratch(pub PathBuf);

impl Scratch {
    /// A fresh directory for `tag` of the test file `kind`.
    pub fn new(kind: &str, tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("oxvirt-{kind}-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        Scratch(dir)
    }

    /// The QEMU driver's directories under it.
    pub fn config(&self) -> oxvirt_qemu::driver::QemuConfig {
        oxvirt_qemu::driver::QemuConfig::under(&self.0.join("state"), &self.0.join("run"))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Kills the QEMUs (pids) a failed test left running.
pub struct Reaper(pub Vec<i32>);

impl Drop for Reaper {
    fn drop(&mut self) {
        for pid in &self.0 {
            let _ = std::process::Command::new("kill")
                .args(["-9", &pid.to_string()])
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
}
