//! The test driver's `<node>` documents: whatever node the driver accepts must serve calls
//! without panicking, and every domain's own XML must define again unchanged.

#![no_main]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use libfuzzer_sys::fuzz_target;
use oxvirt_domain::driver::{flags, Hypervisor};
use oxvirt_driver_test::TestDriver;

/// The test driver never waits: every call is ready on its first poll.
fn now<T>(fut: impl Future<Output = T>) -> T {
    match pin!(fut).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("a test-driver call did not complete at once"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(xml) = std::str::from_utf8(data) else {
        return;
    };
    // No file references: the fuzzer must not read the machine's files.
    if xml.contains("file=") {
        return;
    }
    let Ok(conn) = TestDriver::open_xml(xml) else {
        return;
    };
    let _ = now(conn.node_info());
    let _ = now(conn.capabilities());
    let Ok(doms) = now(conn.list_all(0)) else {
        panic!("listing the domains of an accepted node failed");
    };
    for dom in doms {
        let Ok(text) = now(conn.xml_desc(&dom, flags::xml::INACTIVE)) else {
            continue;
        };
        let _ = now(conn.info(&dom));
        let _ = now(conn.snapshot_list(&dom, 0));
        if let Err(e) = now(conn.define_xml(&text, 0)) {
            panic!("own XML of '{}' refused: {e}\n{text}", dom.name);
        }
        let again = now(conn.xml_desc(&dom, flags::xml::INACTIVE)).expect("still defined");
        assert_eq!(text, again, "defining a domain's own XML changed it");
        let _ = now(conn.destroy(&dom, 0));
        let _ = now(conn.create(&dom, 0));
    }
});
