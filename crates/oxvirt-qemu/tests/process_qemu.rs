//! A real QEMU as the driver runs it: started paused with its log and monitor, resumed,
//! destroyed (SIGTERM) with the time it takes, a start that fails with QEMU's own words,
//! and a QEMU killed from outside seen as gone.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{have_qemu, QEMU};
use oxvirt_qemu::process::{Launch, QemuProcess};

struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("oxvirt-qemu-proc-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn launch(&self, extra: &[&str]) -> Launch {
        let monitor = self.0.join("monitor.sock");
        let mut argv: Vec<String> = [
            QEMU,
            "-name",
            "guest=t",
            "-S",
            "-machine",
            "q35",
            "-accel",
            "tcg",
            "-m",
            "64",
            "-nodefaults",
            "-display",
            "none",
            "-no-user-config",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        argv.push("-qmp".into());
        argv.push(format!("unix:{},server=on,wait=off", monitor.display()));
        argv.extend(extra.iter().map(|s| s.to_string()));
        Launch {
            argv,
            env: vec![
                ("LC_ALL".into(), "C".into()),
                ("PATH".into(), "/usr/bin:/bin".into()),
            ],
            log: self.0.join("t.log"),
            monitor,
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Kills the QEMU of a test that failed half-way (QEMU outlives its parent on purpose).
struct Reaper(i32);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-9", &self.0.to_string()])
            .stderr(std::process::Stdio::null())
            .status();
    }
}

fn running(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

#[tokio::test]
async fn start_resume_and_destroy() {
    if !have_qemu("start_resume_and_destroy") {
        return;
    }
    let s = Scratch::new("life");
    let launch = s.launch(&[]);
    let (p, mut events) = QemuProcess::start(&launch).await.unwrap();
    let _reaper = Reaper(p.pid());
    assert!(running(p.pid()));
    let log = std::fs::read_to_string(&launch.log).unwrap();
    assert!(
        log.starts_with("LC_ALL=C PATH=/usr/bin:/bin /usr/bin/qemu-system-x86_64 -name guest=t -S"),
        "{log}"
    );
    assert_eq!(p.qmp().query_status().await.unwrap().status, "prelaunch");
    p.qmp().cont().await.unwrap();
    assert_eq!(events.recv().await.unwrap().name, "RESUME");
    assert!(p.qmp().query_status().await.unwrap().running);
    let started = Instant::now();
    p.destroy(false).await.unwrap();
    let took = started.elapsed();
    eprintln!("destroy (SIGTERM to reaped): {took:?}");
    assert!(p.has_exited());
    assert!(!running(p.pid()));
    // The monitor closed with the process: the event stream ends.
    while events.recv().await.is_some() {}
}

#[tokio::test]
async fn a_failing_start_reports_qemus_words_and_leaves_nothing() {
    if !have_qemu("a_failing_start_reports_qemus_words_and_leaves_nothing") {
        return;
    }
    let s = Scratch::new("fail");
    let err = QemuProcess::start(&s.launch(&["-bogus-option"]))
        .await
        .unwrap_err();
    assert_eq!(err.code, oxvirt_xml::ErrorCode::InternalError);
    assert_eq!(
        err.message,
        "internal error: qemu unexpectedly closed the monitor: qemu-system-x86_64: -bogus-option: invalid option"
    );
    let err = QemuProcess::start(&Launch {
        argv: vec!["/nonexistent/qemu".into()],
        ..s.launch(&[])
    })
    .await
    .unwrap_err();
    assert_eq!(
        err.message,
        "internal error: Failed to execute /nonexistent/qemu: No such file or directory (os error 2)"
    );
}

#[tokio::test]
async fn a_qemu_killed_from_outside_is_seen_gone() {
    if !have_qemu("a_qemu_killed_from_outside_is_seen_gone") {
        return;
    }
    let s = Scratch::new("killed");
    let (p, mut events) = QemuProcess::start(&s.launch(&[])).await.unwrap();
    let _reaper = Reaper(p.pid());
    std::process::Command::new("kill")
        .args(["-9", &p.pid().to_string()])
        .status()
        .unwrap();
    assert!(p.wait_exit(Duration::from_secs(5)).await.is_some());
    assert!(events.recv().await.is_none());
    assert!(p.qmp().query_status().await.is_err());
    // Destroying what is already gone is not an error.
    p.destroy(false).await.unwrap();
}
