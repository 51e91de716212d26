//! libvirt's side: `libvirt_runner.py` run by Debian's `/usr/bin/python3` with
//! python3-libvirt, one process per scenario.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::transcript::Transcript;

/// The Python that has python3-libvirt (Debian's, not a virtualenv's).
pub const PYTHON: &str = "/usr/bin/python3";

/// What the suite prints when libvirt's Python bindings are missing.
pub const SKIP_MESSAGE: &str =
    "SKIPPED: python3-libvirt not installed (apt-get install python3-libvirt)";

/// The runner script shipped beside this crate's sources.
pub fn runner_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("libvirt_runner.py")
}

/// Whether `/usr/bin/python3` can `import libvirt`.
pub fn available() -> bool {
    Command::new(PYTHON)
        .args(["-c", "import libvirt"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs `scenario` against libvirt's test driver and reads the transcript it prints.
pub fn run(scenario: &Path) -> Result<Transcript, String> {
    let out = Command::new(PYTHON)
        .arg(runner_script())
        .arg(scenario)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {PYTHON}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "libvirt_runner.py {} failed ({}):\n{}",
            scenario.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("libvirt_runner.py printed no JSON: {e}"))?;
    Transcript::from_json(&v)
}
