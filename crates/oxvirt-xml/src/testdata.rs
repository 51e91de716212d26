//! Where libvirt's own test data is, and how the conformance tests compare and count
//! what they produce against it; and what the tests that need the host check and make
//! (root, programs, network namespaces of their own) (shared by the crates' test suites).

use std::path::{Path, PathBuf};
use std::process::Command;

/// libvirt 9.0's test data: `$OXVIRT_CONFORMANCE`, else `../shared/conformance` beside
/// the workspace; joined with `rel`. Whether it exists is the caller's to check (and to
/// say so when it skips).
pub fn conformance(rel: &str) -> PathBuf {
    let base = match std::env::var_os("OXVIRT_CONFORMANCE") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance"),
    };
    base.join("libvirt-9.0.0").join(rel)
}

/// A test cannot run on this machine (not root, a program missing): prints
/// `SKIPPED <test>: <why>`, or fails where everything must run (`OXVIRT_REQUIRE_GUEST=1`,
/// which `cargo xtask ci` sets), so CI never passes a test it did not run.
pub fn unavailable(test: &str, why: &str) {
    if std::env::var("OXVIRT_REQUIRE_GUEST").is_ok_and(|v| v == "1") {
        panic!("{test}: {why} (OXVIRT_REQUIRE_GUEST=1: it must run here)");
    }
    eprintln!("SKIPPED {test}: {why}");
}

/// Whether this process runs as root (the effective UID in `/proc/self/status` is 0), as
/// tests that make network namespaces need.
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find(|l| l.starts_with("Uid:"))
            .and_then(|l| l.split_whitespace().nth(2))
            == Some("0")
    })
}

/// Whether `program` is on `PATH` (`command -v`).
pub fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A network namespace a test made (`ip netns add NAME`), deleted when dropped, so also
/// when the test fails. Tests never touch the root namespace's links: they work in these.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Adds namespace `name`; panics with `ip`'s message when it cannot.
    pub fn add(name: impl Into<String>) -> Netns {
        let name = name.into();
        let out = Command::new("ip")
            .args(["netns", "add", &name])
            .output()
            .unwrap_or_else(|e| panic!("ip netns add {name}: {e}"));
        assert!(
            out.status.success(),
            "ip netns add {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Netns { name }
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its file, `/run/netns/NAME`.
    pub fn path(&self) -> PathBuf {
        Path::new("/run/netns").join(&self.name)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// A data file's text. libvirt's test data stores some symbolic links as files holding
/// the target's name: those are followed.
pub fn read_data(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    if !text.contains('<') && text.trim().ends_with(".xml") {
        let target = path.parent().unwrap_or(Path::new(".")).join(text.trim());
        return read_data(&target);
    }
    text
}

/// The `*.xml` files of a directory, sorted (none if it cannot be read).
pub fn xml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "xml"));
    files.sort();
    files
}

/// A case's name: its file name without the extension.
pub fn case_name(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
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
