//! The QMP client against a real `qemu-system-x86_64` (TCG, no guest code: `-S`).
//! Skipped, with a visible message, when the binary is missing.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use oxvirt_qemu::qmp::{Events, Qmp, QmpError, QmpEvent};
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};
use tokio::process::{Child, Command};
use tokio::time::timeout;

const QEMU: &str = "qemu-system-x86_64";

/// A QEMU child in its own temp dir; killed and reaped on drop if the test did not.
struct Qemu {
    child: Option<Child>,
    dir: PathBuf,
    sock: PathBuf,
}

impl Qemu {
    /// Starts QEMU paused with a QMP server socket; `None` when the binary is missing.
    fn start(tag: &str) -> Option<Qemu> {
        let dir = std::env::temp_dir().join(format!("oxvirt-qmp-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let sock = dir.join("qmp.sock");
        let spawned = Command::new(QEMU)
            .args([
                "-machine",
                "q35",
                "-accel",
                "tcg",
                "-m",
                "64",
                "-nodefaults",
            ])
            .args(["-display", "none", "-S", "-qmp"])
            .arg(format!("unix:{},server=on,wait=off", sock.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn();
        match spawned {
            Ok(child) => Some(Qemu {
                child: Some(child),
                dir,
                sock,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // `cargo xtask ci` sets this: there, real QEMU must be tested, not skipped.
                assert!(
                    std::env::var_os("OXVIRT_REQUIRE_GUEST").is_none(),
                    "QEMU is required here (OXVIRT_REQUIRE_GUEST is set)"
                );
                eprintln!("SKIPPED: {QEMU} not found, QMP tests against real QEMU not run");
                let _ = std::fs::remove_dir_all(&dir);
                None
            }
            Err(e) => panic!("spawning {QEMU}: {e}"),
        }
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id().unwrap()
    }

    /// Connects as soon as QEMU has created its socket.
    async fn connect(&self) -> (Qmp, Events) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let attempt = Instant::now();
            match Qmp::connect(&self.sock).await {
                Ok(pair) => {
                    eprintln!("QMP connect + handshake: {:?}", attempt.elapsed());
                    return pair;
                }
                Err(QmpError::Connect { .. }) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                Err(e) => panic!("connecting to QMP: {e}"),
            }
        }
    }

    /// Waits for QEMU to exit and returns whether it exited successfully.
    async fn wait(&mut self) -> bool {
        let mut child = self.child.take().unwrap();
        let status = timeout(Duration::from_secs(10), child.wait())
            .await
            .expect("QEMU did not exit")
            .unwrap();
        status.success()
    }
}

impl Drop for Qemu {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.start_kill();
            for _ in 0..200 {
                if !matches!(child.try_wait(), Ok(None)) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// No process mentions `sock` on its command line any more.
fn assert_no_qemu_left(sock: &Path) {
    let out = std::process::Command::new("pgrep")
        .arg("-f")
        .arg(sock.to_str().unwrap())
        .output()
        .unwrap();
    assert!(
        out.stdout.is_empty(),
        "QEMU processes left behind: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// The next event, which must be `name`.
async fn next_event(events: &mut Events, name: &str) -> QmpEvent {
    let ev = timeout(Duration::from_secs(10), events.recv())
        .await
        .unwrap_or_else(|_| panic!("no {name} event"))
        .unwrap_or_else(|| panic!("events ended before {name}"));
    assert_eq!(ev.name, name, "{ev:?}");
    assert!(ev.timestamp.0 > 1_600_000_000, "{ev:?}");
    ev
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qmp_against_real_qemu() {
    let started = Instant::now();
    let Some(mut qemu) = Qemu::start("life") else {
        return;
    };
    let (qmp, mut events) = qemu.connect().await;
    eprintln!("spawn to QMP ready: {:?}", started.elapsed());

    // Version: greeting and query-version agree.
    assert_eq!(qmp.version().major, 7);
    assert_eq!(&qmp.query_version().await.unwrap(), qmp.version());
    assert!(qmp.capabilities().iter().any(|c| c == "oob"));

    let status = qmp.query_status().await.unwrap();
    assert_eq!(
        (status.running, status.status.as_str()),
        (false, "prelaunch")
    );

    qmp.cont().await.unwrap();
    next_event(&mut events, "RESUME").await;
    let status = qmp.query_status().await.unwrap();
    assert_eq!((status.running, status.status.as_str()), (true, "running"));

    qmp.stop().await.unwrap();
    next_event(&mut events, "STOP").await;
    let status = qmp.query_status().await.unwrap();
    assert_eq!((status.running, status.status.as_str()), (false, "paused"));

    qmp.system_reset().await.unwrap();
    let reset = next_event(&mut events, "RESET").await;
    assert_eq!(reset.data["guest"], false);
    // A reset while paused puts QEMU 7.2 back into "prelaunch".
    let status = qmp.query_status().await.unwrap();
    assert_eq!(
        (status.running, status.status.as_str()),
        (false, "prelaunch")
    );

    let cpus = qmp.query_cpus_fast().await.unwrap();
    assert_eq!(cpus.len(), 1);
    assert_eq!(cpus[0].cpu_index, 0);
    let tid = cpus[0].thread_id;
    assert!(
        Path::new(&format!("/proc/{}/task/{tid}", qemu.pid())).exists(),
        "vCPU thread {tid} is not a thread of QEMU"
    );

    let err = qmp.execute("no-such-command", None).await.unwrap_err();
    assert!(err.is_class("CommandNotFound"), "{err:?}");
    assert_eq!(
        err.to_string(),
        "unable to execute QEMU command 'no-such-command': The command no-such-command has not been found"
    );
    let vir = VirError::from(err);
    assert_eq!(
        (vir.code, vir.domain),
        (ErrorCode::InternalError, ErrorDomain::Qemu)
    );

    // No balloon device: QEMU's DeviceNotActive.
    let err = qmp.query_balloon().await.unwrap_err();
    assert!(err.is_class("DeviceNotActive"), "{err:?}");

    assert_eq!(
        qmp.human_monitor_command("info status").await.unwrap(),
        "VM status: paused (prelaunch)\r\n"
    );

    // A large reply (about 200 KB of schema on one line).
    let t = Instant::now();
    let schema = qmp.execute("query-qmp-schema", None).await.unwrap();
    let entries = schema.as_array().unwrap().len();
    assert!(entries > 1000, "{entries} schema entries");
    eprintln!(
        "query-qmp-schema: {entries} entries, {} bytes, {:?}",
        schema.to_string().len(),
        t.elapsed()
    );

    // 16 concurrent callers, all answered.
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let q = qmp.clone();
        tasks.push(tokio::spawn(async move { q.query_status().await }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap().status, "prelaunch");
    }

    // Round trip of query-status.
    let rounds = 200;
    let t = Instant::now();
    for _ in 0..rounds {
        qmp.query_status().await.unwrap();
    }
    eprintln!("query-status round trip: {:?}", t.elapsed() / rounds);

    // quit: the reply, SHUTDOWN, then EOF.
    qmp.quit().await.unwrap();
    let shutdown = next_event(&mut events, "SHUTDOWN").await;
    assert_eq!(shutdown.data["reason"], "host-qmp-quit");
    let end = timeout(Duration::from_secs(10), events.recv())
        .await
        .unwrap();
    assert_eq!(end, None);
    assert_eq!(qmp.query_status().await.unwrap_err(), QmpError::Closed);
    assert!(qmp.is_closed());
    assert!(qemu.wait().await, "QEMU exited with a failure status");
    let sock = qemu.sock.clone();
    drop(qemu);
    assert_no_qemu_left(&sock);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnect_then_killed_qemu_closes_the_monitor() {
    let Some(mut qemu) = Qemu::start("kill") else {
        return;
    };
    let (qmp, mut events) = qemu.connect().await;
    assert_eq!(qmp.query_status().await.unwrap().status, "prelaunch");

    // Dropping the client disconnects; QEMU keeps running and takes a new client.
    drop(qmp);
    let end = timeout(Duration::from_secs(10), events.recv())
        .await
        .unwrap();
    assert_eq!(end, None);
    let (qmp, mut events) = qemu.connect().await;
    qmp.cont().await.unwrap();
    next_event(&mut events, "RESUME").await;

    qemu.child.as_mut().unwrap().start_kill().unwrap();
    assert!(!qemu.wait().await);
    let end = timeout(Duration::from_secs(10), events.recv())
        .await
        .unwrap();
    assert_eq!(end, None);
    let err = qmp.cont().await.unwrap_err();
    assert_eq!(err, QmpError::Closed);
    assert_eq!(
        VirError::from(err).message,
        "operation failed: domain is no longer running"
    );
    let sock = qemu.sock.clone();
    drop(qemu);
    assert_no_qemu_left(&sock);
}
