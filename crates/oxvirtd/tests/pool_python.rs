//! python3-libvirt's storage pool and volume calls on test:///default: the same answers
//! (values, error codes, domains and messages) from oxvirtd as from libvirt's in-process
//! test driver.

#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;

use common::{needs_python_libvirt, Daemon, PYTHON};

fn run(uri: &str) -> (String, String, Option<i32>) {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/python/pool_test_driver.py"
    );
    let out = Command::new(PYTHON).arg(script).arg(uri).output().unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code(),
    )
}

#[test]
fn python_pool_calls_match_in_process_test_driver() {
    if !needs_python_libvirt("python_pool_calls_match_in_process_test_driver") {
        return;
    }
    let d = Daemon::start("pool-python");
    let ours = run(&d.uri());
    let theirs = run("test:///default");
    assert_eq!(theirs.2, Some(0), "{}", theirs.1);
    let (mut same, mut total) = (0, 0);
    for (a, b) in ours.0.lines().zip(theirs.0.lines()) {
        total += 1;
        same += usize::from(a == b);
    }
    eprintln!("pool calls over oxvirtd: {same}/{total} lines identical");
    for (i, (a, b)) in ours.0.lines().zip(theirs.0.lines()).enumerate() {
        assert_eq!(a, b, "line {i}");
    }
    assert_eq!(ours, theirs);
}
