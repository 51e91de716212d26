//! go-libvirt programs (Debian's golang-github-digitalocean-go-libvirt-dev, a pure-Go
//! client that speaks the protocol itself), built in GOPATH mode and run against a daemon.

use std::path::Path;
use std::process::Command;

use super::clients::skip;
use super::daemon::Daemon;

/// Where Debian installs go-libvirt's source.
pub const GO_LIBVIRT: &str = "/usr/share/gocode/src/github.com/digitalocean/go-libvirt";

/// Whether Go and go-libvirt are installed; reports `test` as skipped if not.
pub fn needs_go_libvirt(test: &str) -> bool {
    if !Path::new(GO_LIBVIRT).exists() || Command::new("go").arg("version").output().is_err() {
        skip(
            test,
            "golang-go and golang-github-digitalocean-go-libvirt-dev are not installed",
        );
        return false;
    }
    true
}

/// Builds `tests/<program>/main.go` in GOPATH mode against Debian's go-libvirt source.
pub fn build(program: &str, out: &Path) -> Result<(), String> {
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/go");
    std::fs::create_dir_all(&target).map_err(|e| e.to_string())?;
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(program)
        .join("main.go");
    let built = Command::new("go")
        .args(["build", "-o"])
        .arg(out)
        .arg(&src)
        .env("GO111MODULE", "off")
        .env("GOPATH", "/usr/share/gocode")
        .env("GOCACHE", target.join("cache"))
        .output()
        .map_err(|e| format!("go: {e}"))?;
    if !built.status.success() {
        return Err(String::from_utf8_lossy(&built.stderr).into_owned());
    }
    Ok(())
}

/// Builds `tests/<program>/main.go` as `exe` in the daemon's directory, runs it with the
/// daemon's socket, checks that it succeeded and gives its standard output.
pub fn run(d: &Daemon, program: &str, exe: &str) -> String {
    let exe = d.dir.join(exe);
    build(program, &exe).unwrap();
    let out = Command::new(&exe).arg(d.sock()).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "go-libvirt failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}
