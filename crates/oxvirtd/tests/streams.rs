//! RPC streams end to end, with `virDomainScreenshot` (procedure 211): Debian's virsh and
//! python3-libvirt through oxvirtd against libvirt's in-process test driver, and a raw
//! client checking the packet sequence libvirtd 9.0 sends (REPLY with the MIME type, then
//! STREAM/CONTINUE data of at most 262,120 bytes, an empty CONTINUE, and an empty OK
//! confirming the client's finish or abort).

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{Daemon, Raw};
use oxvirt_rpc::remote::{DomainLookupByNameArgs, DomainLookupByNameRet};
use oxvirt_rpc::stream::{self as rpc, DomainScreenshotArgs, DomainScreenshotRet};
use oxvirt_rpc::xdr::decode_from;
use oxvirt_rpc::{MessageStatus, MessageType, Packet};

const SCREENSHOT: i32 = 211;
const LOOKUP_BY_NAME: i32 = 23;

/// The PNG signature and the IHDR of our 640x480 8-bit grayscale test screen.
fn assert_test_png(bytes: &[u8]) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(&bytes[8..16], b"\0\0\0\x0dIHDR");
    assert_eq!(&bytes[16..24], &[0, 0, 2, 128, 0, 0, 1, 224]);
    assert_eq!(&bytes[24..29], &[8, 0, 0, 0, 0]);
    assert_eq!(bytes, oxvirt_driver_test::screenshot_png());
}

fn tmp(name: &str) -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!("oxvirt-streams-{}-{name}", std::process::id()));
    let _ = std::fs::remove_file(&p);
    p
}

/// Opens test:///default and starts a screenshot of "test" (serial returned), checking
/// the reply.
fn start_screenshot(raw: &mut Raw) -> u32 {
    raw.open();
    let p = raw.roundtrip(
        LOOKUP_BY_NAME,
        &DomainLookupByNameArgs {
            name: "test".into(),
        },
    );
    let dom = decode_from::<DomainLookupByNameRet>(&p.payload)
        .unwrap()
        .dom;
    let serial = raw.call(
        SCREENSHOT,
        &DomainScreenshotArgs {
            dom,
            screen: 0,
            flags: 0,
        },
    );
    let reply = raw.recv().unwrap();
    assert_eq!(
        (reply.header.kind, reply.header.status, reply.header.serial),
        (MessageType::Reply, MessageStatus::Ok, serial)
    );
    let ret: DomainScreenshotRet = decode_from(&reply.payload).unwrap();
    assert_eq!(ret.mime.as_deref(), Some("image/png"));
    serial
}

fn assert_stream(p: &Packet, serial: u32, status: MessageStatus) {
    assert_eq!(
        (
            p.header.kind,
            p.header.procedure,
            p.header.serial,
            p.header.status
        ),
        (MessageType::Stream, SCREENSHOT, serial, status)
    );
}

#[test]
fn raw_sequence_matches_libvirtd() {
    let d = Daemon::start("streams-raw");
    let mut raw = Raw::connect(&d.sock());
    let serial = start_screenshot(&mut raw);
    let mut data = Vec::new();
    let mut sizes = Vec::new();
    loop {
        let p = raw.recv().unwrap();
        assert_stream(&p, serial, MessageStatus::Continue);
        sizes.push(p.payload.len());
        if p.payload.is_empty() {
            break;
        }
        data.extend_from_slice(&p.payload);
    }
    assert_eq!(sizes, vec![262_120, data.len() - 262_120, 0]);
    assert_test_png(&data);
    // Nothing more until the client finishes; then an empty OK confirms.
    assert!(raw.recv_within(Duration::from_millis(200)).is_none());
    let call = common::header(oxvirt_rpc::packet::PROGRAM_REMOTE, 1, SCREENSHOT, serial);
    raw.send_bytes(&rpc::finish(&call).encode().unwrap());
    let confirm = raw.recv().unwrap();
    assert_stream(&confirm, serial, MessageStatus::Ok);
    assert!(confirm.payload.is_empty());
    // The connection goes on.
    let p = raw.roundtrip(
        LOOKUP_BY_NAME,
        &DomainLookupByNameArgs {
            name: "test".into(),
        },
    );
    assert_eq!(p.header.status, MessageStatus::Ok);
}

#[test]
fn client_abort_is_confirmed_and_keepalive_answered_meanwhile() {
    let d = Daemon::start("streams-abort");
    let mut raw = Raw::connect(&d.sock());
    let serial = start_screenshot(&mut raw);
    let first = raw.recv().unwrap();
    assert_stream(&first, serial, MessageStatus::Continue);
    assert_eq!(first.payload.len(), 262_120);
    // A PING in the middle of the stream gets its PONG.
    raw.send_bytes(&common::keepalive_packet(1));
    let call = common::header(oxvirt_rpc::packet::PROGRAM_REMOTE, 1, SCREENSHOT, serial);
    raw.send_bytes(&rpc::abort(&call, None).encode().unwrap());
    let mut pong = false;
    let mut confirmed = false;
    while let Some(p) = raw.recv_within(Duration::from_secs(5)) {
        if p.header.prog == oxvirt_rpc::packet::PROGRAM_KEEPALIVE {
            assert_eq!(p.header.procedure, 2);
            pong = true;
        } else {
            // Data already queued may still come, then the confirmation.
            assert_eq!(p.header.kind, MessageType::Stream);
            if p.header.status == MessageStatus::Ok {
                assert!(p.payload.is_empty());
                confirmed = true;
            }
        }
        if pong && confirmed {
            break;
        }
    }
    assert!(pong && confirmed, "pong {pong} confirmed {confirmed}");
    let p = raw.roundtrip(
        LOOKUP_BY_NAME,
        &DomainLookupByNameArgs {
            name: "test".into(),
        },
    );
    assert_eq!(p.header.status, MessageStatus::Ok);
}

#[test]
fn clients_vanishing_mid_stream_leave_the_daemon_serving() {
    let mut d = Daemon::start("streams-vanish");
    for round in 0..20 {
        let mut raw = Raw::connect(&d.sock());
        start_screenshot(&mut raw);
        if round % 2 == 0 {
            // Read one packet, then hang up.
            raw.recv().unwrap();
        }
        drop(raw);
    }
    // A client that never reads holds its stream back, not the others.
    let mut stalled = Raw::connect(&d.sock());
    start_screenshot(&mut stalled);
    let mut raw = Raw::connect(&d.sock());
    let serial = start_screenshot(&mut raw);
    let mut total = 0;
    loop {
        let p = raw.recv().unwrap();
        assert_stream(&p, serial, MessageStatus::Continue);
        if p.payload.is_empty() {
            break;
        }
        total += p.payload.len();
    }
    assert_eq!(total, oxvirt_driver_test::screenshot_png().len());
    drop(stalled);
    assert!(d.alive());
    if common::needs_virsh("clients_vanishing_mid_stream_leave_the_daemon_serving") {
        let out = common::virsh(&d.uri(), &["domstate", "test"]);
        assert_eq!(String::from_utf8_lossy(&out.stdout), "running\n\n");
    }
}

#[test]
fn virsh_screenshot_saves_the_png_as_libvirt_prints_it() {
    if !common::needs_virsh("virsh_screenshot_saves_the_png_as_libvirt_prints_it") {
        return;
    }
    let d = Daemon::start("streams-virsh");
    let file = tmp("virsh.png");
    let path = file.to_str().unwrap();
    let theirs = common::virsh("test:///default", &["screenshot", "test", path]);
    assert!(theirs.status.success());
    std::fs::remove_file(&file).unwrap();
    let ours = common::virsh(&d.uri(), &["screenshot", "test", path]);
    assert!(
        ours.status.success(),
        "{}",
        String::from_utf8_lossy(&ours.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&ours.stdout),
        format!("Screenshot saved to {path}, with type of image/png\n")
    );
    assert_eq!(ours.stdout, theirs.stdout);
    assert_test_png(&std::fs::read(&file).unwrap());
    // Another screen number gives the same image.
    let ours = common::virsh(&d.uri(), &["screenshot", "test", path, "--screen", "3"]);
    assert!(ours.status.success());
    assert_test_png(&std::fs::read(&file).unwrap());
    std::fs::remove_file(&file).unwrap();
}

#[test]
fn virsh_screenshot_of_an_inactive_domain_answers_as_libvirt() {
    if !common::needs_virsh("virsh_screenshot_of_an_inactive_domain_answers_as_libvirt") {
        return;
    }
    let d = Daemon::start("streams-inactive");
    let file = tmp("inactive.png");
    let path = file.to_str().unwrap();
    // libvirt's test driver takes screenshots of shut-off domains too.
    let script = format!("destroy test; screenshot test {path}");
    let theirs = common::virsh("test:///default", &[&script]);
    std::fs::remove_file(&file).unwrap();
    let ours = common::virsh(&d.uri(), &[&script]);
    assert_eq!(ours.status.code(), theirs.status.code());
    assert_eq!(
        String::from_utf8_lossy(&ours.stdout),
        String::from_utf8_lossy(&theirs.stdout)
    );
    assert_test_png(&std::fs::read(&file).unwrap());
    std::fs::remove_file(&file).unwrap();
    let missing = common::virsh(&d.uri(), &["screenshot", "nosuch", path]);
    let theirs = common::virsh("test:///default", &["screenshot", "nosuch", path]);
    assert_eq!(missing.status.code(), theirs.status.code());
    assert_eq!(missing.stderr, theirs.stderr);
}

const PY_SCREENSHOT: &str = r#"
import sys, libvirt
libvirt.registerErrorHandler(lambda *a: None, None)
def run(uri):
    out = []
    c = libvirt.open(uri)
    d = c.lookupByName('test')
    st = c.newStream(0)
    mime = d.screenshot(st, 0, 0)
    data = bytearray()
    st.recvAll(lambda s, b, acc: acc.extend(b) or len(b), data)
    st.finish()
    out.append('%s %d' % (mime, len(data)))
    for flags in (1, 4):
        st = c.newStream(0)
        try:
            d.screenshot(st, 0, flags)
        except libvirt.libvirtError as e:
            out.append('%d %d %s' % (e.get_error_code(), e.get_error_domain(), e.get_error_message()))
    ro = libvirt.openReadOnly(uri)
    try:
        ro.lookupByName('test').screenshot(ro.newStream(0), 0, 0)
    except libvirt.libvirtError as e:
        out.append('%d %d %s' % (e.get_error_code(), e.get_error_domain(), e.get_error_message()))
    return out, bytes(data)
ours, data = run(sys.argv[1])
theirs, _ = run('test:///default')
open(sys.argv[2], 'wb').write(data)
print('\n'.join(ours))
print('same' if ours[1:] == theirs[1:] else 'differ: %r' % theirs)
"#;

#[test]
fn python_stream_recv_all_and_finish() {
    if !common::needs_python_libvirt("python_stream_recv_all_and_finish") {
        return;
    }
    let d = Daemon::start("streams-python");
    let file = tmp("python.png");
    let out = common::python_within(60, PY_SCREENSHOT, &[&d.uri(), file.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let len = oxvirt_driver_test::screenshot_png().len();
    assert_eq!(
        stdout,
        format!(
            "image/png {len}\n\
             8 12 unsupported flags (0x1) in function testDomainScreenshot\n\
             8 12 unsupported flags (0x4) in function testDomainScreenshot\n\
             29 20 operation forbidden: read only access prevents virDomainScreenshot\n\
             same\n"
        )
    );
    assert_test_png(&std::fs::read(&file).unwrap());
    std::fs::remove_file(&file).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn facade_remote_screenshot_matches_the_in_process_driver() {
    let d = Daemon::start("streams-facade");
    let remote = oxvirt::Connect::open(&d.uri()).await.unwrap();
    let local = oxvirt::Connect::open("test:///default").await.unwrap();
    let r = remote.lookup_domain_by_name("test").await.unwrap();
    let l = local.lookup_domain_by_name("test").await.unwrap();
    let theirs = l.screenshot(0, 0).await.unwrap();
    let ours = r.screenshot(0, 0).await.unwrap();
    assert_eq!(ours.mime, "image/png");
    assert_eq!(ours, theirs);
    assert_test_png(&ours.data);
    // Errors come back as the in-process driver gives them, and the connection goes on.
    let (re, le) = (
        r.screenshot(0, 2).await.unwrap_err(),
        l.screenshot(0, 2).await.unwrap_err(),
    );
    assert_eq!(
        (re.code, re.domain, &re.message),
        (le.code, le.domain, &le.message)
    );
    // Several streams at once on one connection, each with its own serial.
    let shots = futures_join(&r, 4).await;
    for shot in shots {
        assert_eq!(shot.unwrap(), theirs);
    }
    assert!(r.is_active().await.unwrap());
}

async fn futures_join(
    dom: &oxvirt::Domain,
    n: usize,
) -> Vec<Result<oxvirt::domain::driver::Screenshot, oxvirt::VirError>> {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let dom = dom.clone();
            tokio::spawn(async move { dom.screenshot(i as u32, 0).await })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// Our remote client reads libvirtd 9.0's own stream (its test driver's 33,443-byte PNG in
/// one packet), when a libvirtd runs here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn facade_reads_a_real_libvirtd_stream() {
    let sock = "/var/run/libvirt/libvirt-sock";
    if !common::have(sock) {
        common::skip("facade_reads_a_real_libvirtd_stream", "no libvirtd running");
        return;
    }
    let uri = format!("test+unix:///default?socket={sock}");
    let Ok(conn) = oxvirt::Connect::open(&uri).await else {
        common::skip("facade_reads_a_real_libvirtd_stream", "libvirtd refused");
        return;
    };
    let dom = conn.lookup_domain_by_name("test").await.unwrap();
    let shot = dom.screenshot(0, 0).await.unwrap();
    assert_eq!(shot.mime, "image/png");
    assert_eq!(&shot.data[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(&shot.data[12..16], b"IHDR");
    let again = dom.screenshot(1, 0).await.unwrap();
    assert_eq!(again, shot);
    let err = dom.screenshot(0, 1).await.unwrap_err();
    assert_eq!(
        err.message,
        "unsupported flags (0x1) in function testDomainScreenshot"
    );
}

const PY_ABORT: &str = r#"
import libvirt, sys
c = libvirt.open(sys.argv[1]); d = c.lookupByName('test')
for i in range(3):
    st = c.newStream(0)
    print(d.screenshot(st, 0, 0), len(st.recv(1000)))
    st.abort()
    print('aborted', c.getHostname() != '')
st = c.newStream(0); d.screenshot(st, 0, 0)
del st
print(d.info()[0])
"#;

#[test]
fn python_stream_abort_and_abandon_leave_the_connection_usable() {
    if !common::needs_python_libvirt("python_stream_abort_and_abandon") {
        return;
    }
    let d = Daemon::start("streams-pyabort");
    let out = common::python_within(60, PY_ABORT, &[&d.uri()]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "image/png 1000\naborted True\n".repeat(3) + "1\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
