//! `virDomainOpenConsole` (procedure 201) through the built daemon, which serves only the
//! test driver (no consoles): the raw CALL gets libvirt's exact NO_SUPPORT error, a
//! read-only connection libvirt's read-only refusal, and no stream opens (the connection
//! goes on). The same through python3-libvirt and through oxvirt's remote client
//! (`RemoteDriver::open_console`), compared with libvirt's own test driver.

#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;
use std::time::Duration;

use common::{error_parts, needs_python_libvirt, Daemon, Raw, PYTHON};
use oxvirt::Connect;
use oxvirt_rpc::remote::{DomainLookupByNameArgs, DomainLookupByNameRet};
use oxvirt_rpc::stream::DomainOpenConsoleArgs;
use oxvirt_rpc::types::NonnullDomain;
use oxvirt_rpc::xdr::decode_from;
use oxvirt_rpc::MessageStatus;

const OPEN_CONSOLE: i32 = 201;
const LOOKUP_BY_NAME: i32 = 23;

/// VIR_ERR_NO_SUPPORT, VIR_FROM_DOMAIN and libvirt 9.0's words.
const NO_SUPPORT: (i32, i32, &str) = (
    3,
    20,
    "this function is not supported by the connection driver: virDomainOpenConsole",
);

/// VIR_ERR_OPERATION_DENIED, VIR_FROM_DOMAIN and libvirt 9.0's words.
const READ_ONLY: (i32, i32, &str) = (
    29,
    20,
    "operation forbidden: read only access prevents virDomainOpenConsole",
);

fn lookup(raw: &mut Raw, name: &str) -> NonnullDomain {
    let p = raw.roundtrip(
        LOOKUP_BY_NAME,
        &DomainLookupByNameArgs { name: name.into() },
    );
    assert_eq!(p.header.status, MessageStatus::Ok);
    decode_from::<DomainLookupByNameRet>(&p.payload)
        .unwrap()
        .dom
}

/// Opens the console of `dom` and returns the error reply's parts, checking that nothing
/// else (no stream packet) follows and that the connection still answers.
fn refused(raw: &mut Raw, dom: NonnullDomain, dev_name: Option<&str>) -> (i32, i32, String) {
    let args = DomainOpenConsoleArgs {
        dom,
        dev_name: dev_name.map(str::to_owned),
        flags: 0,
    };
    let p = raw.roundtrip(OPEN_CONSOLE, &args);
    let parts = error_parts(&p);
    assert!(raw.recv_within(Duration::from_millis(200)).is_none());
    lookup(raw, "test");
    parts
}

fn owned((code, domain, message): (i32, i32, &str)) -> (i32, i32, String) {
    (code, domain, message.to_owned())
}

#[test]
fn the_test_driver_has_no_console_support() {
    let d = Daemon::start("console-nosupport");
    let mut raw = Raw::connect(&d.sock());
    raw.open();
    let dom = lookup(&mut raw, "test");
    assert_eq!(refused(&mut raw, dom.clone(), None), owned(NO_SUPPORT));
    assert_eq!(refused(&mut raw, dom, Some("serial0")), owned(NO_SUPPORT));
}

#[test]
fn read_only_connections_cannot_open_a_console() {
    let d = Daemon::start("console-ro");
    // The read-only socket.
    let mut raw = Raw::connect(&d.ro_sock());
    raw.open();
    let dom = lookup(&mut raw, "test");
    assert_eq!(refused(&mut raw, dom, None), owned(READ_ONLY));
    // VIR_CONNECT_RO on the read-write socket; refused before the domain is looked at.
    let mut raw = Raw::connect(&d.sock());
    raw.open_flags(1);
    let mut dom = lookup(&mut raw, "test");
    dom.name = "no-such-domain".into();
    assert_eq!(refused(&mut raw, dom, None), owned(READ_ONLY));
}

/// What python3-libvirt's `openConsole` reports on `uri` (`ro`: opened read-only).
fn python_open_console(uri: &str, ro: bool) -> String {
    let script = format!(
        "import libvirt\n\
         c = libvirt.{}({uri:?})\n\
         st = c.newStream(0)\n\
         try:\n    c.lookupByName('test').openConsole(None, st, 0)\n    print('opened')\n\
         except libvirt.libvirtError as e:\n\
         \x20   print(e.get_error_code(), e.get_error_domain(), e.get_error_message())\n",
        if ro { "openReadOnly" } else { "open" }
    );
    let out = Command::new(PYTHON).args(["-c", &script]).output().unwrap();
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn python_gets_libvirts_errors() {
    if !needs_python_libvirt("python_gets_libvirts_errors") {
        return;
    }
    let d = Daemon::start("console-python");
    for ro in [false, true] {
        let ours = python_open_console(&d.uri(), ro);
        let theirs = python_open_console("test:///default", ro);
        assert_eq!(ours, theirs);
    }
    assert_eq!(
        python_open_console(&d.uri(), false),
        format!("3 20 {}\n", NO_SUPPORT.2)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_remote_client_reports_the_daemons_errors() {
    let d = Daemon::start("console-remote");
    let conn = Connect::open(&d.uri()).await.unwrap();
    let dom = conn.lookup_domain_by_name("test").await.unwrap();
    let err = conn
        .driver()
        .open_console(&dom.to_ref(), None, 0)
        .await
        .unwrap_err();
    assert_eq!(
        (err.code as i32, err.domain as i32, err.message.as_str()),
        NO_SUPPORT
    );
    // The read-only socket without the read-only flag: the daemon refuses.
    let uri = d.ro_uri();
    let conn = Connect::open(&uri).await.unwrap();
    let dom = conn.lookup_domain_by_name("test").await.unwrap();
    let err = conn
        .driver()
        .open_console(&dom.to_ref(), Some("serial0"), 0)
        .await
        .unwrap_err();
    assert_eq!(
        (err.code as i32, err.domain as i32, err.message.as_str()),
        READ_ONLY
    );
    // The connection goes on.
    assert_eq!(
        conn.lookup_domain_by_name("test").await.unwrap().name(),
        "test"
    );
}
