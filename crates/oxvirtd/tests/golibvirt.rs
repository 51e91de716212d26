//! go-libvirt (Debian's golang-github-digitalocean-go-libvirt-dev, a pure-Go client that
//! speaks the protocol itself) against oxvirtd: connect, host calls, listing, lookup and
//! info, libvirt's error for a missing domain, lifecycle events, disconnect.

#![allow(clippy::unwrap_used)]

mod common;

use common::{golibvirt, virsh, Daemon};

#[test]
fn go_libvirt_manages_test_default() {
    if !golibvirt::needs_go_libvirt("go_libvirt_manages_test_default") {
        return;
    }
    let d = Daemon::start("golibvirt");
    let stdout = golibvirt::run(&d, "go", "golibvirt-check");
    let hostname = String::from_utf8(virsh("test:///default", &["hostname"]).stdout).unwrap();
    let expected = format!(
        "hostname {}\n\
         libversion 9000000\n\
         uri test:///default\n\
         domains 1 test:1\n\
         info 1 8388608 2097152 2\n\
         error 42 Domain not found\n\
         event test 5 1\n\
         event test 2 0\n\
         done\n",
        hostname.trim()
    );
    assert_eq!(stdout, expected);
}
