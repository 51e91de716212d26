//! What the live-migration tests share: two daemons as two nodes (each with its own
//! directories and host UUID, the destination also on TCP), `virsh migrate` run with a time
//! limit, and the checks of both nodes' states after a migration.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::free_port;
use super::qemu::{guest, QemuEnv};

/// The source (A), the destination (B) and B's `qemu+tcp` URI, with host UUIDs `uuids`
/// and `extra` arguments for both daemons; `None` when the test guest is missing (the
/// test is skipped, saying so).
pub fn pair(test: &str, uuids: [&str; 2], extra: &[&str]) -> Option<(QemuEnv, QemuEnv, String)> {
    pair_with(test, uuids, extra, extra)
}

/// [`pair`] with arguments of their own for A (`a_extra`) and B (`b_extra`).
pub fn pair_with(
    test: &str,
    uuids: [&str; 2],
    a_extra: &[&str],
    b_extra: &[&str],
) -> Option<(QemuEnv, QemuEnv, String)> {
    let mut a_args = vec!["--host-uuid", uuids[0]];
    a_args.extend_from_slice(a_extra);
    let a = QemuEnv::start_with(&format!("a-{test}"), guest(test)?, None, &a_args);
    let listen = format!("127.0.0.1:{}", free_port());
    let mut b_args = vec!["--host-uuid", uuids[1], "--listen-tcp", &listen];
    b_args.extend_from_slice(b_extra);
    let b = QemuEnv::start_with(&format!("b-{test}"), guest(test)?, None, &b_args);
    Some((a, b, format!("qemu+tcp://{listen}/system")))
}

/// `virsh -c SRC migrate ARGS`, stopped after 120 s, and how long it took.
pub fn virsh_migrate(src: &QemuEnv, args: &[&str]) -> (Output, Duration) {
    let start = Instant::now();
    let out = Command::new("timeout")
        .args(["120", "virsh", "-c", &src.uri(), "migrate"])
        .args(args)
        .output()
        .unwrap();
    (out, start.elapsed())
}

/// A command's standard output then its standard error.
pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Asserts that `out` is a virsh that failed (and was not stopped by its time limit: that
/// is a hang); its output.
pub fn failed(out: &Output) -> String {
    assert!(
        !out.status.success(),
        "virsh migrate succeeded: {}",
        text(out)
    );
    // 124: `timeout` stopped it.
    assert_ne!(
        out.status.code(),
        Some(124),
        "virsh migrate hung: {}",
        text(out)
    );
    text(out)
}

/// The names `virsh list --all --name` shows.
pub fn names(env: &QemuEnv) -> Vec<String> {
    env.virsh_ok(&["list", "--all", "--name"])
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

/// Polls `cond` every 20 ms for up to `secs` seconds; whether it came true.
pub fn wait_for(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < until {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Asserts `domstate --reason NAME` on `env` is `want`.
pub fn assert_state(env: &QemuEnv, name: &str, want: &str) {
    let state = env.domstate(name);
    assert_eq!(state, want, "the state of {name} on {}", env.uri());
}

/// Asserts `virsh list --all` on `env` shows exactly `want`.
pub fn assert_only_on(env: &QemuEnv, want: &[&str]) {
    assert_eq!(names(env), want, "the domains on {}", env.uri());
}

/// Asserts a destination kept nothing of a failed migration: no domain, no QEMU.
pub fn assert_clean(dest: &QemuEnv) {
    assert_only_on(dest, &[]);
    let left = dest.wait_no_leftovers(30);
    assert!(left.is_empty(), "QEMU left on {}: {left:?}", dest.uri());
}

/// Both nodes after a failed migration: `name` is on the source in the state it had before
/// or was put back in (`want`), the destination kept nothing.
pub fn assert_failed_cleanly(src: &QemuEnv, dest: &QemuEnv, name: &str, want: &str) {
    assert_state(src, name, want);
    assert_clean(dest);
}

/// `timeout 120 PROGRAM -c SRC migrate ARGS` (virsh or oxvirsh), started, its output piped.
pub fn spawn_migrate(program: &str, src: &QemuEnv, args: &[&str]) -> Child {
    Command::new("timeout")
        .args(["120", program, "-c", &src.uri(), "migrate"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits (up to 60 s) until `virsh domjobinfo NAME` on `src` shows an outgoing migration
/// moving memory; what it showed.
pub fn wait_migrating(src: &QemuEnv, name: &str) -> String {
    let mut info = String::new();
    let moving = wait_for(60, || {
        info = src.virsh_ok(&["domjobinfo", name]);
        info.contains("Unbounded") && info.contains("Memory processed")
    });
    assert!(moving, "no migration job: {info}");
    info
}

/// `PROGRAM event --all --loop` on `env` (virsh or oxvirsh itself the child, so that
/// killing it ends the output), in the background.
pub fn watch_events(program: &str, env: &QemuEnv) -> Child {
    Command::new(program)
        .args(["-c", &env.uri(), "event", "--all", "--loop"])
        .args(["--timeout", "120"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Everything an event watcher printed, once stopped.
pub fn watched(mut watcher: Child) -> String {
    let _ = watcher.kill();
    let out = watcher.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The events for domain `name` in a watcher's output (what follows "for domain 'NAME': ").
pub fn events_of(printed: &str, name: &str) -> Vec<String> {
    let tag = format!("for domain '{name}'");
    printed
        .lines()
        .filter(|l| l.contains(&tag))
        .map(|l| l.split("': ").nth(1).unwrap_or(l).trim().to_string())
        .collect()
}

/// The `OXVIRT-TICK: N` numbers of the guest's serial log, complete lines only.
pub fn ticks(log: &Path) -> Vec<u64> {
    let text = String::from_utf8_lossy(&std::fs::read(log).unwrap_or_default()).into_owned();
    text.split("OXVIRT-TICK: ")
        .skip(1)
        .filter_map(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            let after = rest[digits.len()..].chars().next();
            matches!(after, Some('\r' | '\n'))
                .then(|| digits.parse().ok())
                .flatten()
        })
        .collect()
}

/// Polls the serial log until it holds at least `n` ticks (at most `secs`); the ticks.
pub fn wait_ticks(log: &Path, n: usize, secs: u64) -> Vec<u64> {
    let until = Instant::now() + Duration::from_secs(secs);
    loop {
        let t = ticks(log);
        if t.len() >= n {
            return t;
        }
        assert!(
            Instant::now() < until,
            "only {} of {n} ticks in {}: {:?}",
            t.len(),
            log.display(),
            t.iter().rev().take(5).collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Asserts the ticks count up from 1 one by one: no gap, no repeat (a guest that
/// restarted would count from 1 again).
pub fn assert_consecutive(t: &[u64]) {
    assert_eq!(t.first(), Some(&1), "the ticks do not start at 1: {t:?}");
    for (i, w) in t.windows(2).enumerate() {
        assert_eq!(
            w[1],
            w[0] + 1,
            "tick {} is followed by {} (line {i} of the ticks)",
            w[0],
            w[1]
        );
    }
}

/// Defines on `env` the guest `name` that ticks on its serial console (`oxvirt.tick` on
/// its kernel command line), the console logged to `dir/serial.log` in append mode (the
/// destination's QEMU opens the same file again, as libvirt's does with the same `<log>`);
/// the log's path.
pub fn define_ticking(env: &QemuEnv, name: &str, dir: &Path) -> PathBuf {
    let log = dir.join("serial.log");
    let xml = env
        .domain_xml(
            name,
            "",
            &format!("<log file='{}' append='on'/>", log.display()),
        )
        .replace("panic=-1</cmdline>", "panic=-1 oxvirt.tick</cmdline>");
    assert!(xml.contains("oxvirt.tick"), "{xml}");
    env.define_xml(name, &xml);
    log
}

/// Sends `signal` to process `pid`.
pub fn signal(pid: u32, signal: &str) {
    let sent = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .unwrap();
    assert!(sent.success(), "kill {signal} {pid}");
}
