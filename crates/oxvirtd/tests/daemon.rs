//! The daemon around the dispatcher: keepalive, limits, configuration, TCP, logging and
//! shutdown, against the built binary.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{free_port, header, keepalive_packet, needs_virsh, oxvirtd, virsh};
use common::{Daemon, Raw, TempDir, NO_ARGS};
use oxvirt_rpc::packet::{PROGRAM_KEEPALIVE, PROGRAM_REMOTE};
use oxvirt_rpc::{Header, MessageStatus, MessageType, Packet};

fn ask_keepalive(raw: &mut Raw) {
    let p = raw.roundtrip(60, &10i32); // SUPPORTS_FEATURE(PROGRAM_KEEPALIVE)
    assert_eq!(p.payload, vec![0, 0, 0, 1]);
}

#[test]
fn keepalive_pings_only_clients_that_asked_and_gives_up() {
    let d = Daemon::start_with(
        "ka",
        &["--keepalive-interval", "1", "--keepalive-count", "2"],
    );
    // A client that never asked: no ping, however long it stays quiet.
    let mut quiet = Raw::connect(&d.sock());
    quiet.open();
    let mut asked = Raw::connect(&d.sock());
    ask_keepalive(&mut asked);
    let start = Instant::now();
    assert!(
        quiet.recv_within(Duration::from_millis(2500)).is_none(),
        "a client that did not ask was pinged"
    );
    // The one that asked got pings (MESSAGE, serial 0) and is cut off after 2 unanswered.
    let mut pings = Vec::new();
    while let Some(p) = asked.recv() {
        assert_eq!((p.header.prog, p.header.procedure), (PROGRAM_KEEPALIVE, 1));
        assert_eq!((p.header.kind, p.header.serial), (MessageType::Message, 0));
        assert!(p.payload.is_empty());
        pings.push(start.elapsed());
    }
    assert_eq!(pings.len(), 2, "{pings:?}");
    let closed_after = start.elapsed();
    assert!(
        closed_after >= Duration::from_millis(2500) && closed_after < Duration::from_secs(6),
        "closed after {closed_after:?}"
    );
}

#[test]
fn answering_pings_keeps_the_connection_and_pings_get_pongs() {
    let d = Daemon::start_with(
        "ka-answer",
        &["--keepalive-interval", "1", "--keepalive-count", "1"],
    );
    let mut raw = Raw::connect(&d.sock());
    // A PING from the client is answered at once with a PONG.
    raw.send_bytes(&keepalive_packet(1));
    let p = raw.recv().unwrap();
    assert_eq!(
        (p.header.prog, p.header.procedure, p.header.serial),
        (PROGRAM_KEEPALIVE, 2, 0)
    );
    ask_keepalive(&mut raw);
    for _ in 0..4 {
        let p = raw.recv().expect("closed although pings were answered");
        assert_eq!(p.header.procedure, 1);
        raw.send_bytes(&keepalive_packet(2));
    }
    let p = raw.roundtrip(66, &NO_ARGS);
    assert_eq!(p.header.status, MessageStatus::Ok);
}

#[test]
fn max_clients_closes_the_extra_connection() {
    let mut d = Daemon::logged("maxc", &["--max-clients", "2"]);
    let mut a = Raw::connect(&d.sock());
    let mut b = Raw::connect(&d.sock());
    a.open();
    b.open();
    let mut c = Raw::connect(&d.sock());
    assert!(c.closed(), "third client was served");
    drop(a);
    std::thread::sleep(Duration::from_millis(200));
    let mut e = Raw::connect(&d.sock());
    e.open();
    let status = d.signal_and_wait("TERM");
    assert!(status.success());
    let log = d.stderr();
    assert!(
        log.contains("error : Too many active clients (2), dropping connection from unix"),
        "{log}"
    );
}

#[test]
fn sigterm_and_sigint_stop_cleanly() {
    for signal in ["TERM", "INT"] {
        let mut d = Daemon::logged(&format!("stop-{signal}"), &["--log-level", "info"]);
        let mut raw = Raw::connect(&d.sock());
        raw.open();
        let status = d.signal_and_wait(signal);
        assert_eq!(status.code(), Some(0));
        assert!(!d.sock().exists());
        assert!(!d.ro_sock().exists());
        let log = d.stderr();
        let lines: Vec<&str> = log.lines().collect();
        assert!(
            lines[0].contains(": info : oxvirtd 0.1.0 starting"),
            "{log}"
        );
        assert!(
            lines[1].ends_with(&format!(
                "info : listening on {} (read-write)",
                d.sock().display()
            )),
            "{log}"
        );
        assert!(
            log.contains(&format!("info : SIG{signal}: stopping")),
            "{log}"
        );
        assert!(lines.last().unwrap().ends_with("info : stopped"), "{log}");
        // Timestamps as libvirt writes them.
        let ts = lines[0].split(": ").next().unwrap();
        assert_eq!(ts.len(), "2026-01-02 03:04:05.678+0000".len(), "{ts}");
        assert!(ts.ends_with("+0000"));
    }
}

#[test]
fn debug_logs_every_call() {
    let mut d = Daemon::logged("debug", &["--log-level", "debug"]);
    let mut raw = Raw::connect(&d.sock());
    raw.open();
    let p = raw.roundtrip(157, &NO_ARGS);
    assert_eq!(p.header.status, MessageStatus::Ok);
    d.signal_and_wait("TERM");
    let log = d.stderr();
    assert!(
        log.contains("debug : call CONNECT_OPEN (1) serial 1: ok in "),
        "{log}"
    );
    assert!(
        log.contains("debug : call CONNECT_GET_LIB_VERSION (157) serial 2: ok in "),
        "{log}"
    );
}

#[test]
fn tcp_listener_serves_virsh() {
    if !needs_virsh("tcp_listener_serves_virsh") {
        return;
    }
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let d = Daemon::start_with("tcp", &["--listen-tcp", &addr]);
    let tcp = format!("test+tcp://127.0.0.1:{port}/default");
    let over_tcp = virsh(&tcp, &["list", "--all"]);
    let over_unix = virsh(&d.uri(), &["list", "--all"]);
    assert!(over_tcp.status.success(), "{over_tcp:?}");
    assert_eq!(over_tcp.stdout, over_unix.stdout);
    // TCP clients may write.
    let out = virsh(&tcp, &["suspend", "test"]);
    assert!(out.status.success(), "{out:?}");
}

fn run_daemon(args: &[&str]) -> (Option<i32>, String) {
    let out = oxvirtd().args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn remote_tcp_and_bad_configuration_are_refused() {
    let dir = TempDir::new("badconf");
    let rt = dir.join("run");
    let rt = rt.to_str().unwrap();
    let st = dir.join("state");
    let st = st.to_str().unwrap();
    let (code, err) = run_daemon(&[
        "--runtime-dir",
        rt,
        "--state-dir",
        rt,
        "--listen-tcp",
        "0.0.0.0:16599",
    ]);
    assert_eq!(code, Some(1));
    assert!(
        err.starts_with(
            "oxvirtd: refusing to listen on 0.0.0.0:16599: TCP connections are not authenticated"
        ),
        "{err}"
    );
    let conf = dir.join("oxvirtd.conf");
    std::fs::write(&conf, "log_level = \"info\"\nmin_workers = 20\n").unwrap();
    let (code, err) = run_daemon(&[
        "--config",
        conf.to_str().unwrap(),
        "--runtime-dir",
        rt,
        "--state-dir",
        st,
    ]);
    assert_eq!(code, Some(1));
    assert_eq!(
        err,
        format!("oxvirtd: {}:2: unknown key 'min_workers'\n", conf.display())
    );
    let (code, err) = run_daemon(&["--state-dir", st, "--bogus"]);
    assert_eq!(code, Some(1));
    assert!(
        err.starts_with("oxvirtd: unknown argument '--bogus'\nusage: oxvirtd"),
        "{err}"
    );
}

#[test]
fn allowed_remote_tcp_is_a_logged_warning() {
    let port = free_port();
    let addr = format!("0.0.0.0:{port}");
    let mut d = Daemon::logged(
        "remote-tcp",
        &[
            "--listen-tcp",
            &addr,
            "--allow-remote-tcp",
            "--log-level",
            "warn",
        ],
    );
    // Served, as the administrator asked...
    let tcp = format!("test+tcp://127.0.0.1:{port}/default");
    if needs_virsh("allowed_remote_tcp_is_a_logged_warning") {
        let out = virsh(&tcp, &["uri"]);
        assert!(out.status.success(), "{out:?}");
    }
    // ...and said out loud at start.
    assert!(d.signal_and_wait("TERM").success());
    let log = d.stderr();
    assert!(
        log.contains(&format!(
            "warning : listening on tcp {addr} without TLS: anyone who can reach this \
             address has full, unauthenticated, unencrypted access (allow_remote_tcp); use \
             listen_tls instead"
        )),
        "{log}"
    );
}

#[test]
fn config_file_sets_modes_and_flags_override_it() {
    let dir = TempDir::new("conffile");
    let conf = dir.join("oxvirtd.conf");
    std::fs::write(
        &conf,
        format!(
            "runtime_dir = \"{}\"\nunix_sock_rw_perms = \"0660\"\nunix_sock_ro_perms = \"0644\"\nlog_level = \"error\"\n",
            dir.join("from-file").display()
        ),
    )
    .unwrap();
    let run = dir.join("from-flag");
    let mut d = Daemon::start_in(
        run.clone(),
        dir.join("state"),
        &["--config", conf.to_str().unwrap(), "--log-level", "info"],
    );
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        std::fs::metadata(run.join("libvirt-sock")).unwrap().mode() & 0o777,
        0o660
    );
    assert_eq!(
        std::fs::metadata(run.join("libvirt-sock-ro"))
            .unwrap()
            .mode()
            & 0o777,
        0o644
    );
    assert!(!dir.join("from-file").exists());
    d.signal_and_wait("TERM");
    assert!(d.stderr().contains("info : stopped"));
}

#[test]
fn help_lists_every_option() {
    let out = oxvirtd().arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--config FILE",
        "--runtime-dir DIR",
        "--state-dir DIR",
        "--listen-tcp ADDR:PORT",
        "--allow-remote-tcp",
        "--log-level LEVEL",
        "--max-clients N",
        "--max-client-requests N",
        "--max-workers N",
        "--keepalive-interval SECS",
        "--keepalive-count N",
        "--unix-sock-rw-perms MODE",
        "--unix-sock-ro-perms MODE",
    ] {
        assert!(text.contains(flag), "--help lacks {flag}");
    }
}

fn pipelined_serials(d: &Daemon, calls: u32) -> Vec<u32> {
    let mut raw = Raw::connect(&d.sock());
    raw.open();
    let mut bytes = Vec::new();
    for serial in 0..calls {
        let procedure = if serial % 2 == 0 { 66 } else { 157 };
        let p = Packet::new(
            Header {
                serial: 100 + serial,
                ..header(PROGRAM_REMOTE, 1, procedure, 0)
            },
            Vec::new(),
        );
        bytes.extend_from_slice(&p.encode().unwrap());
    }
    raw.send_bytes(&bytes);
    (0..calls)
        .map(|_| {
            let p = raw.recv().expect("reply missing");
            assert_eq!(p.header.status, MessageStatus::Ok);
            p.header.serial
        })
        .collect()
}

#[test]
fn pipelined_calls_all_get_answers() {
    let d = Daemon::start("pipeline");
    let mut serials = pipelined_serials(&d, 300);
    serials.sort_unstable();
    assert_eq!(serials, (100..400).collect::<Vec<_>>());
    // One call at a time: the daemon reads the next call only after answering the last,
    // so the answers come back in order.
    let d = Daemon::start_with("pipeline-1", &["--max-client-requests", "1"]);
    assert_eq!(pipelined_serials(&d, 100), (100..200).collect::<Vec<_>>());
    // One worker for everyone: calls queue, none is lost.
    let d = Daemon::start_with("pipeline-w", &["--max-workers", "1"]);
    let mut serials = pipelined_serials(&d, 100);
    serials.sort_unstable();
    assert_eq!(serials, (100..200).collect::<Vec<_>>());
}

const DOMAIN_XML: &str = "<domain type='test'><name>kept</name><memory>65536</memory>\
<os><type>hvm</type></os></domain>";

#[test]
fn definitions_survive_sigterm_and_sigkill() {
    if !needs_virsh("definitions_survive_sigterm_and_sigkill") {
        return;
    }
    let base = TempDir::new("persist");
    let (run, state) = (base.join("run"), base.join("state"));
    let xml = base.join("kept.xml");
    std::fs::write(&xml, DOMAIN_XML).unwrap();
    let mut d = Daemon::start_in(run.clone(), state.clone(), &[]);
    let out = virsh(&d.uri(), &["define", xml.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let out = virsh(&d.uri(), &["suspend", "test"]);
    assert!(out.status.success(), "{out:?}");
    let before = virsh(&d.uri(), &["list", "--all"]).stdout;
    assert!(
        String::from_utf8_lossy(&before).contains(" kept "),
        "{before:?}"
    );
    assert_eq!(d.signal_and_wait("TERM").code(), Some(0));
    drop(d);

    let mut d = Daemon::start_in(run.clone(), state.clone(), &[]);
    assert_eq!(virsh(&d.uri(), &["list", "--all"]).stdout, before);
    let out = virsh(&d.uri(), &["undefine", "kept"]);
    assert!(out.status.success(), "{out:?}");
    let after = virsh(&d.uri(), &["list", "--all"]).stdout;
    // kill -9: nothing gets a chance to flush, yet the undefine is on disk.
    let _ = d.child.kill();
    let _ = d.child.wait();
    drop(d);

    let d = Daemon::start_in(run, state, &[]);
    assert_eq!(virsh(&d.uri(), &["list", "--all"]).stdout, after);
    assert!(!String::from_utf8_lossy(&after).contains(" kept "));
}

#[test]
fn virsh_answers_pings_and_stays_connected() {
    if !needs_virsh("virsh_answers_pings_and_stays_connected") {
        return;
    }
    let mut d = Daemon::logged(
        "ka-virsh",
        &[
            "--keepalive-interval",
            "1",
            "--keepalive-count",
            "1",
            "--log-level",
            "debug",
        ],
    );
    // Four idle seconds: without answered pings the daemon would cut virsh off after 2.
    let out = virsh(&d.uri(), &["event", "--all", "--loop", "--timeout", "4"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "event loop timed out\nevents received: 0\n\n"
    );
    // virsh exits 1 when the loop times out without events, as with test:///default.
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    d.signal_and_wait("TERM");
    let log = d.stderr();
    assert!(log.matches("debug : keepalive: ping").count() >= 2, "{log}");
    assert!(!log.contains("No response from client"), "{log}");
}
