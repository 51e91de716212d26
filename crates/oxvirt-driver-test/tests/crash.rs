//! A process that changes a persisted `test:///default` is killed with SIGKILL at random
//! moments; each time, the state directory reopens with every change the process had
//! acknowledged, and nothing half done.
//!
//! The test runs this same test binary as the worker (`crash_worker`, which does nothing
//! unless `OXVIRT_CRASH_DIR` is set).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oxvirt_domain::driver::{DomainState, Hypervisor};
use oxvirt_driver_test::TestDriver;

fn dom_xml(i: u32) -> String {
    format!(
        "<domain type='test'><name>c{i}</name>\
         <uuid>22222222-3333-4444-5555-{i:012}</uuid>\
         <memory>1024</memory><os><type>hvm</type></os></domain>"
    )
}

/// Step `i`: define and start `c{i}`, then (from the fourth step of this run) destroy and
/// undefine `c{i-3}`.
/// Prints `ack i` once all of it returned.
#[tokio::test]
async fn crash_worker() {
    let Ok(dir) = std::env::var("OXVIRT_CRASH_DIR") else {
        return;
    };
    let conn = TestDriver::open_with_state("/default", Path::new(&dir)).unwrap();
    let start: u32 = std::env::var("OXVIRT_CRASH_FROM").unwrap().parse().unwrap();
    for i in start.. {
        let d = conn.define_xml(&dom_xml(i), 0).await.unwrap();
        conn.create(&d, 0).await.unwrap();
        if i >= start + 3 {
            let old = conn.lookup_by_name(&format!("c{}", i - 3)).await.unwrap();
            conn.destroy(&old, 0).await.unwrap();
            conn.undefine(&old, 0).await.unwrap();
        }
        println!("ack {i}");
    }
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the worker from step `from` until it has acknowledged `until` steps or `wait`
/// passed, then kills it; returns the last step acknowledged.
fn run_and_kill(dir: &Path, from: u32, until: u32, wait: Duration) -> Option<u32> {
    let mut child = Command::new(std::env::current_exe().expect("the test binary"))
        .args(["--exact", "crash_worker", "--nocapture", "--test-threads=1"])
        .env("OXVIRT_CRASH_DIR", dir)
        .env("OXVIRT_CRASH_FROM", from.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the worker starts");
    let stdout = child.stdout.take().expect("the worker's stdout");
    let started = Instant::now();
    let mut last = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("a line of the worker");
        if let Some(n) = line.strip_prefix("ack ") {
            last = Some(n.parse().expect("a step number"));
        }
        if last.is_some_and(|l: u32| l + 1 >= from + until) || started.elapsed() > wait {
            break;
        }
    }
    // SIGKILL, while the worker is in the middle of its next step.
    child.kill().expect("the worker is killed");
    child.wait().expect("the worker is reaped");
    last
}

#[tokio::test]
async fn sigkill_at_any_moment_loses_no_acknowledged_change() {
    let dir = TempDir(std::env::temp_dir().join(format!("oxvirt-crash-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&dir.0);
    let mut from = 0;
    let mut max_id = 1;
    for round in 0..6u32 {
        let acked = run_and_kill(&dir.0, from, 3 + round * 5, Duration::from_secs(20))
            .expect("the worker acknowledged a step");
        let conn = TestDriver::open_isolated_with_state(&dir.0).unwrap();
        let doms = conn.list_all(0).await.unwrap();
        let names: Vec<&str> = doms.iter().map(|d| d.name.as_str()).collect();
        // Every acknowledged change is there: the last two started domains run (the third
        // may have been stopped by the step the kill interrupted).
        let first = acked.saturating_sub(1).max(from);
        for j in first..=acked {
            let d = conn.lookup_by_name(&format!("c{j}")).await.unwrap();
            let state = conn.state(&d, 0).await.unwrap().state();
            assert_eq!(state, DomainState::Running, "c{j} in {names:?}");
            // IDs only grow, across kills too.
            assert!(d.id > max_id, "c{j} has id {} after {max_id}", d.id);
        }
        // The ones stopped by acknowledged steps are gone.
        if acked >= from + 3 {
            for j in from..acked - 2 {
                assert!(conn.lookup_by_name(&format!("c{j}")).await.is_err(), "c{j}");
            }
        }
        assert!(names.len() <= 5, "{names:?}");
        max_id = doms.iter().map(|d| d.id).max().unwrap_or(1).max(max_id);
        // Clean up for the next round, which starts after the interrupted step.
        for d in &doms {
            if d.name == "test" {
                continue;
            }
            if d.id > 0 {
                conn.destroy(d, 0).await.unwrap();
            }
            conn.undefine(d, 0).await.unwrap();
        }
        assert_eq!(conn.list_all(0).await.unwrap().len(), 1);
        from = acked + 2;
    }
    let leftovers = std::fs::read_dir(dir.0.join("test/default/domains"))
        .unwrap()
        .count();
    assert_eq!(leftovers, 1);
}
