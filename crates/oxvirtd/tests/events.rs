//! Domain events end to end: `virsh event`, python3-libvirt callbacks, and the raw
//! registration procedures (IDs, filters, errors, messages).

#![allow(clippy::unwrap_used)]

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{error_parts, needs_python_libvirt, needs_virsh, python, virsh, Daemon, Raw, NO_ARGS};
use oxvirt_rpc::remote::*;
use oxvirt_rpc::types::NonnullDomain;
use oxvirt_rpc::xdr::decode_from;
use oxvirt_rpc::{MessageStatus, MessageType, Packet};

/// What `virsh -c test:///default event --loop --all` prints for the sequence below (the
/// in-process test driver emits exactly these lifecycle events for it).
const EXPECTED_VIRSH: &str = "\
event 'lifecycle' for domain 'test': Stopped Destroyed
event 'lifecycle' for domain 'test': Started Booted
event 'lifecycle' for domain 'test': Suspended Paused
event 'lifecycle' for domain 'test': Resumed Unpaused
event 'lifecycle' for domain 'test': Stopped Destroyed
event 'lifecycle' for domain 'test': Undefined Removed
event 'lifecycle' for domain 'test': Defined Added
event loop timed out
events received: 7

";

fn run_sequence(uri: &str, xml_path: &std::path::Path) {
    for args in [
        &["destroy", "test"][..],
        &["start", "test"],
        &["suspend", "test"],
        &["resume", "test"],
        &["destroy", "test"],
        &["undefine", "test"],
        &["define", xml_path.to_str().unwrap()],
    ] {
        let out = virsh(uri, args);
        assert!(out.status.success(), "virsh {args:?}: {out:?}");
    }
}

#[test]
fn virsh_event_loop_prints_what_libvirt_prints() {
    if !needs_virsh("virsh_event_loop_prints_what_libvirt_prints") {
        return;
    }
    let d = Daemon::start("ev-virsh");
    let uri = d.uri();
    let xml = virsh(&uri, &["dumpxml", "test"]);
    let xml_path = d.dir.join("test.xml");
    std::fs::write(&xml_path, &xml.stdout).unwrap();
    let watcher = Command::new("virsh")
        .args(["-c", &uri, "event", "--loop", "--all", "--timeout", "5"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    run_sequence(&uri, &xml_path);
    let out = watcher.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), EXPECTED_VIRSH);
    assert!(out.status.success(), "{out:?}");
}

/// Runs `script` on `uri` with python3-libvirt; it must succeed. Returns its stdout.
fn python_ok(script: &str, uri: &str) -> String {
    let out = python(script, &[uri]);
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

const PY_EVENTS: &str = r#"
import sys, threading, time, libvirt
libvirt.virEventRegisterDefaultImpl()
def loop():
    while True:
        libvirt.virEventRunDefaultImpl()
threading.Thread(target=loop, daemon=True).start()
c = libvirt.open(sys.argv[1])
got, legacy = [], []
cid = c.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
    lambda conn, dom, ev, det, op: got.append("%s %d %d" % (dom.name(), ev, det)), None)
c.domainEventRegister(lambda conn, dom, ev, det, op: legacy.append("%s %d %d" % (dom.name(), ev, det)), None)
d = c.lookupByName("test")
xml = d.XMLDesc()
d.destroy(); d.create(); d.suspend(); d.resume(); d.destroy(); d.undefine(); c.defineXML(xml)
deadline = time.time() + 5
while (len(got) < 7 or len(legacy) < 7) and time.time() < deadline:
    time.sleep(0.05)
c.domainEventDeregisterAny(cid)
print(",".join(got))
print(",".join(legacy))
try:
    c.domainEventDeregisterAny(cid)
except libvirt.libvirtError as e:
    print(e.get_error_code(), e.get_error_domain(), e.get_error_message())
"#;

#[test]
fn python_gets_lifecycle_callbacks() {
    if !needs_python_libvirt("python_gets_lifecycle_callbacks") {
        return;
    }
    let d = Daemon::start("ev-python");
    let run = |uri: &str| python_ok(PY_EVENTS, uri);
    let ours = run(&d.uri());
    let want = "test 5 1,test 2 0,test 3 0,test 4 0,test 5 1,test 1 0,test 0 0";
    let lines: Vec<&str> = ours.lines().collect();
    assert_eq!(lines[0], want);
    assert_eq!(lines[1], want);
    // The remote client library refuses an unknown callback before asking the daemon.
    assert_eq!(
        lines[2],
        "8 0 invalid argument: event callback id 0 not registered"
    );
    // The in-process driver delivers the same events.
    let theirs = run("test:///default");
    assert_eq!(theirs.lines().take(2).collect::<Vec<_>>(), lines[..2]);
}

fn lookup(raw: &mut Raw, name: &str) -> NonnullDomain {
    let p = raw.roundtrip(23, &name.to_owned());
    assert_eq!(p.header.status, MessageStatus::Ok);
    decode_from(&p.payload).unwrap()
}

fn register(raw: &mut Raw, event_id: i32, dom: Option<NonnullDomain>) -> Packet {
    raw.roundtrip(
        316,
        &ConnectDomainEventCallbackRegisterAnyArgs { event_id, dom },
    )
}

fn callback_id(p: &Packet) -> i32 {
    assert_eq!(p.header.status, MessageStatus::Ok, "{:?}", error_parts(p));
    decode_from::<ConnectDomainEventCallbackRegisterAnyRet>(&p.payload)
        .unwrap()
        .callback_id
}

/// The next event message (skipping nothing else: the caller expects one).
fn next_event(raw: &mut Raw) -> Packet {
    let p = raw.recv().expect("no event");
    assert_eq!(p.header.kind, MessageType::Message);
    assert_eq!((p.header.status, p.header.serial), (MessageStatus::Ok, 1));
    p
}

#[test]
fn raw_registration_ids_filters_and_errors() {
    let d = Daemon::start("ev-raw");
    let mut raw = Raw::connect(&d.sock());
    raw.open();
    let test = lookup(&mut raw, "test");
    let all = callback_id(&register(&mut raw, 0, None));
    let only_test = callback_id(&register(&mut raw, 0, Some(test.clone())));
    let mut other = test.clone();
    other.uuid = [9; 16];
    other.name = "other".into();
    // A filter on a domain that does not exist: the driver's lookup error, as libvirtd.
    let (code, domain, _) = error_parts(&register(&mut raw, 0, Some(other)));
    assert_eq!((code, domain), (42, 12));
    let only_test_reboot = callback_id(&register(&mut raw, 1, Some(test.clone())));
    assert_eq!((all, only_test, only_test_reboot), (0, 1, 2));
    // A second connection shares test:///default's counter, as in libvirtd.
    let mut second = Raw::connect(&d.sock());
    second.open();
    assert_eq!(callback_id(&register(&mut second, 1, None)), 3);

    let p = register(&mut raw, 27, None);
    assert_eq!(
        error_parts(&p),
        (1, 7, "internal error: unsupported event ID 27".into())
    );
    let p = register(&mut raw, -1, None);
    assert_eq!(
        error_parts(&p),
        (1, 7, "internal error: unsupported event ID -1".into())
    );

    // destroy: the reply and two events (callbacks 0 and 1), in registration order.
    let serial = raw.call(12, &test);
    let mut events = Vec::new();
    let mut replied = false;
    while events.len() < 2 || !replied {
        let p = raw.recv().unwrap();
        if p.header.kind == MessageType::Reply {
            assert_eq!(
                (p.header.serial, p.header.status),
                (serial, MessageStatus::Ok)
            );
            replied = true;
        } else {
            assert_eq!((p.header.procedure, p.header.serial), (318, 1));
            events.push(decode_from::<DomainEventCallbackLifecycleMsg>(&p.payload).unwrap());
        }
    }
    assert_eq!(events[0].callback_id, 0);
    assert_eq!(events[1].callback_id, 1);
    assert_eq!((events[0].msg.event, events[0].msg.detail), (5, 1));
    assert_eq!(events[0].msg.dom.name, "test");
    // The domain as it is after the event: destroyed, so no ID (as libvirt's test driver).
    assert_eq!(events[0].msg.dom.id, -1);

    // Deregistering: unknown IDs are refused; removed callbacks get nothing more.
    let p = raw.roundtrip(
        317,
        &ConnectDomainEventCallbackDeregisterAnyArgs { callback_id: 77 },
    );
    assert_eq!(
        error_parts(&p),
        (
            1,
            7,
            "internal error: domain event callback 77 not registered".into()
        )
    );
    for id in [0, 2] {
        let p = raw.roundtrip(
            317,
            &ConnectDomainEventCallbackDeregisterAnyArgs { callback_id: id },
        );
        assert_eq!(p.header.status, MessageStatus::Ok);
    }
    let serial = raw.call(9, &test); // DOMAIN_CREATE
    let mut got = Vec::new();
    while got.len() < 2 {
        got.push(raw.recv().unwrap());
    }
    let reply = got
        .iter()
        .find(|p| p.header.kind == MessageType::Reply)
        .unwrap();
    assert_eq!(reply.header.serial, serial);
    let ev = got
        .iter()
        .find(|p| p.header.kind == MessageType::Message)
        .unwrap();
    let m: DomainEventCallbackLifecycleMsg = decode_from(&ev.payload).unwrap();
    assert_eq!((m.callback_id, m.msg.event, m.msg.detail), (1, 2, 0));
}

#[test]
fn legacy_procedures_and_other_objects() {
    let d = Daemon::start("ev-legacy");
    let mut raw = Raw::connect(&d.sock());
    raw.open();
    let test = lookup(&mut raw, "test");
    // 105: lifecycle only; libvirtd leaves cb_registered at 0 and takes it twice.
    for _ in 0..2 {
        let p = raw.roundtrip(105, &NO_ARGS);
        let r: ConnectDomainEventRegisterRet = decode_from(&p.payload).unwrap();
        assert_eq!(r.cb_registered, 0);
    }
    // 167 for reboot; 168 for an event never registered.
    let p = raw.roundtrip(167, &ConnectDomainEventRegisterAnyArgs { event_id: 1 });
    assert_eq!(p.header.status, MessageStatus::Ok);
    let p = raw.roundtrip(168, &ConnectDomainEventRegisterAnyArgs { event_id: 5 });
    assert_eq!(
        error_parts(&p),
        (1, 7, "internal error: domain event 5 not registered".into())
    );
    // The legacy procedures stop at DEVICE_REMOVED (15).
    let p = raw.roundtrip(167, &ConnectDomainEventRegisterAnyArgs { event_id: 16 });
    assert_eq!(
        error_parts(&p),
        (1, 7, "internal error: unsupported event ID 16".into())
    );
    let p = raw.roundtrip(168, &ConnectDomainEventRegisterAnyArgs { event_id: 19 });
    assert_eq!(
        error_parts(&p),
        (1, 7, "internal error: unsupported event ID 19".into())
    );

    // Legacy lifecycle messages are 107, without a callback ID: one per registration.
    // The reply and the events may come in either order: wait for all three.
    let serial = raw.call(34, &test); // DOMAIN_SUSPEND
    let mut events = Vec::new();
    let mut replied = false;
    while events.len() < 2 || !replied {
        let p = raw.recv().unwrap();
        if p.header.kind == MessageType::Reply {
            assert_eq!(
                (p.header.serial, p.header.status),
                (serial, MessageStatus::Ok)
            );
            replied = true;
        } else if p.header.kind == MessageType::Message {
            events.push(p);
        }
    }
    for ev in &events {
        assert_eq!(ev.header.procedure, 107);
        let m: DomainEventLifecycleMsg = decode_from(&ev.payload).unwrap();
        assert_eq!((m.dom.name.as_str(), m.event, m.detail), ("test", 3, 0));
    }

    for _ in 0..2 {
        let p = raw.roundtrip(106, &NO_ARGS);
        let r: ConnectDomainEventRegisterRet = decode_from(&p.payload).unwrap();
        assert_eq!(r.cb_registered, 0);
    }
    let p = raw.roundtrip(106, &NO_ARGS);
    assert_eq!(
        error_parts(&p),
        (1, 7, "internal error: domain event 0 not registered".into())
    );
    let p = raw.roundtrip(168, &ConnectDomainEventRegisterAnyArgs { event_id: 1 });
    assert_eq!(p.header.status, MessageStatus::Ok);

    // Networks, pools and node devices register like libvirtd's test driver; secrets do not.
    let net = raw.roundtrip(
        313,
        &ConnectNetworkEventRegisterAnyArgs {
            event_id: 0,
            net: None,
        },
    );
    let net_id = decode_from::<CallbackIdMsg>(&net.payload)
        .unwrap()
        .callback_id;
    let p = raw.roundtrip(
        313,
        &ConnectNetworkEventRegisterAnyArgs {
            event_id: 1,
            net: None,
        },
    );
    assert_eq!(
        error_parts(&p),
        (
            1,
            7,
            "internal error: unsupported network event ID 1".into()
        )
    );
    let p = raw.roundtrip(
        368,
        &ConnectStoragePoolEventRegisterAnyArgs {
            event_id: 1,
            pool: None,
        },
    );
    assert_eq!(p.header.status, MessageStatus::Ok);
    let p = raw.roundtrip(
        374,
        &ConnectNodeDeviceEventRegisterAnyArgs {
            event_id: 0,
            dev: None,
        },
    );
    assert_eq!(p.header.status, MessageStatus::Ok);
    let p = raw.roundtrip(
        380,
        &ConnectSecretEventRegisterAnyArgs {
            event_id: 0,
            secret: None,
        },
    );
    assert_eq!(
        error_parts(&p),
        (
            3,
            30,
            "this function is not supported by the connection driver: \
             virConnectSecretEventRegisterAny"
                .into()
        )
    );
    let p = raw.roundtrip(
        314,
        &CallbackIdMsg {
            callback_id: net_id,
        },
    );
    assert_eq!(p.header.status, MessageStatus::Ok);
    let p = raw.roundtrip(
        314,
        &CallbackIdMsg {
            callback_id: net_id,
        },
    );
    assert_eq!(
        error_parts(&p),
        (
            1,
            7,
            format!("internal error: network event callback {net_id} not registered")
        )
    );
}

#[test]
fn close_drops_callbacks() {
    let d = Daemon::start("ev-close");
    let mut raw = Raw::connect(&d.sock());
    raw.open();
    let id = callback_id(&register(&mut raw, 0, None));
    let p = raw.roundtrip(2, &NO_ARGS); // CONNECT_CLOSE
    assert_eq!(p.header.status, MessageStatus::Ok);
    raw.open();
    let p = raw.roundtrip(
        317,
        &ConnectDomainEventCallbackDeregisterAnyArgs { callback_id: id },
    );
    assert_eq!(
        error_parts(&p),
        (
            1,
            7,
            format!("internal error: domain event callback {id} not registered")
        )
    );
    // Another connection's actions reach nobody here: the next packet is our own reply.
    let mut other = Raw::connect(&d.sock());
    other.open();
    let test = lookup(&mut other, "test");
    let p = other.roundtrip(12, &test);
    assert_eq!(p.header.status, MessageStatus::Ok);
    let p = raw.roundtrip(4, &NO_ARGS); // CONNECT_GET_VERSION... any call
    assert_eq!(p.header.kind, MessageType::Reply);
    let _ = next_event;
}

const PY_METADATA: &str = r#"
import sys, threading, time, libvirt
libvirt.virEventRegisterDefaultImpl()
def loop():
    while True:
        libvirt.virEventRunDefaultImpl()
threading.Thread(target=loop, daemon=True).start()
c = libvirt.open(sys.argv[1])
got = []
c.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_METADATA_CHANGE,
    lambda conn, dom, mtype, nsuri, op: got.append("%s %d %s" % (dom.name(), mtype, nsuri)), None)
d = c.lookupByName("test")
d.setMetadata(libvirt.VIR_DOMAIN_METADATA_DESCRIPTION, "hello", None, None, 0)
d.setMetadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, "<x/>", "k", "http://example.org/", 0)
deadline = time.time() + 5
while len(got) < 2 and time.time() < deadline:
    time.sleep(0.05)
print(",".join(got))
"#;

/// Callback-only events (IDs above 15) need the callback procedures, which clients use once
/// the daemon confirms `VIR_DRV_FEATURE_REMOTE_EVENT_CALLBACK` (14).
#[test]
fn python_gets_metadata_change_callbacks() {
    if !needs_python_libvirt("python_gets_metadata_change_callbacks") {
        return;
    }
    let d = Daemon::start("ev-metadata");
    let mut raw = Raw::connect(&d.sock());
    raw.open();
    let p = raw.roundtrip(60, &14i32); // SUPPORTS_FEATURE(REMOTE_EVENT_CALLBACK)
    assert_eq!(p.payload, vec![0, 0, 0, 1], "feature 14 must be announced");
    let run = |uri: &str| python_ok(PY_METADATA, uri);
    let ours = run(&d.uri());
    assert_eq!(ours, "test 0 None,test 2 http://example.org/\n");
    assert_eq!(run("test:///default"), ours);
}
