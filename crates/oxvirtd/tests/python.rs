//! python3-libvirt against oxvirtd: several connections from several threads, event
//! callbacks through `virEventRegisterDefaultImpl`, libvirt's error codes and domains,
//! read-only refusals. The same script passes against Debian's libvirtd (checked when its
//! socket is there), so its expectations are libvirt's own.

#![allow(clippy::unwrap_used)]

mod common;

use common::{have_python_libvirt, needs_python_libvirt, python_within, skip, Daemon};

const SUITE: &str = include_str!("python/suite.py");

const EXPECTED: &str = "\
ok 8 threads x 50 define/lookup/undefine
ok lifecycle callbacks from another connection's calls
ok no callbacks after deregistering
ok deregistering an unknown callback
ok missing name
ok missing UUID
ok starting a running domain
ok malformed XML refused
ok read-only lists
ok read-only destroy
ok read-only define
ok VIR_CONNECT_RO on the read-write socket
ok domain still running
done
";

fn run_suite(rw: &str, ro: &str) -> String {
    let out = python_within(120, SUITE, &[rw, ro]);
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn python_suite_against_oxvirtd() {
    if !needs_python_libvirt("python_suite_against_oxvirtd") {
        return;
    }
    let d = Daemon::start("python-suite");
    assert_eq!(run_suite(&d.uri(), &d.ro_uri()), EXPECTED);
}

#[test]
fn python_suite_against_libvirtd() {
    let sock = "/var/run/libvirt/libvirt-sock";
    if !have_python_libvirt() || std::os::unix::net::UnixStream::connect(sock).is_err() {
        skip(
            "python_suite_against_libvirtd",
            "no libvirtd listening on /var/run/libvirt/libvirt-sock",
        );
        return;
    }
    let uri = |s: &str| format!("test+unix:///default?socket={s}");
    assert_eq!(run_suite(&uri(sock), &uri(&format!("{sock}-ro"))), EXPECTED);
}
