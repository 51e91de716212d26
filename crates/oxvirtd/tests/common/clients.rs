//! The real clients (virsh, python3-libvirt) and a uniform way to report a skipped test.

use std::path::Path;
use std::process::{Command, Output};

/// The python3 with the libvirt module (the first on PATH may lack it).
pub const PYTHON: &str = "/usr/bin/python3";

/// Whether `path` exists.
pub fn have(path: &str) -> bool {
    Path::new(path).exists()
}

/// Reports a test that could not run here.
pub fn skip(test: &str, why: &str) {
    println!("SKIPPED: {test}: {why}");
}

/// Whether virsh is installed; reports `test` as skipped if not.
pub fn needs_virsh(test: &str) -> bool {
    if have("/usr/bin/virsh") {
        return true;
    }
    skip(test, "virsh is not installed");
    false
}

/// Whether [`PYTHON`] can import libvirt.
pub fn have_python_libvirt() -> bool {
    Command::new(PYTHON)
        .args(["-c", "import libvirt"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Whether python3-libvirt is installed; reports `test` as skipped if not.
pub fn needs_python_libvirt(test: &str) -> bool {
    if have_python_libvirt() {
        return true;
    }
    skip(test, "python3-libvirt is not installed");
    false
}

/// Runs virsh on `uri`.
pub fn virsh(uri: &str, args: &[&str]) -> Output {
    Command::new("virsh")
        .arg("-c")
        .arg(uri)
        .args(args)
        .output()
        .unwrap()
}

/// Runs virsh on `uri`, stopped by `timeout` after `secs` seconds (exit status 124).
pub fn virsh_within(secs: u32, uri: &str, args: &[&str]) -> Output {
    Command::new("timeout")
        .args([&secs.to_string(), "virsh", "-c", uri])
        .args(args)
        .output()
        .unwrap()
}

/// Runs `script` with [`PYTHON`] and `args` as `sys.argv[1..]`.
pub fn python(script: &str, args: &[&str]) -> Output {
    Command::new(PYTHON)
        .args(["-c", script])
        .args(args)
        .output()
        .unwrap()
}

/// [`python`], stopped by `timeout` after `secs` seconds (exit status 124).
pub fn python_within(secs: u32, script: &str, args: &[&str]) -> Output {
    Command::new("timeout")
        .args([&secs.to_string(), PYTHON, "-c", script])
        .args(args)
        .output()
        .unwrap()
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// stdout, stderr and exit status, with the CPU time (which moves with the clock) blanked.
pub fn normalised(out: &Output) -> (String, String, Option<i32>) {
    let norm = |b: &[u8]| {
        String::from_utf8_lossy(b)
            .lines()
            .map(|l| {
                if l.starts_with("CPU time:") {
                    "CPU time: N".to_owned()
                } else {
                    l.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    (norm(&out.stdout), norm(&out.stderr), out.status.code())
}
