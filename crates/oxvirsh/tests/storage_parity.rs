//! The storage commands through `oxvirsh -c qemu:///system` (the remote storage driver)
//! and libvirt's own `virsh` against Debian's libvirtd: the same script, run once by each
//! on a dir pool under /tmp, prints the same stdout and stderr with the same exit status
//! for every command. Only what differs between two runs is masked: UUIDs (a defined pool
//! gets a new one) and file timestamps. Host-dependent sizes (the filesystem's free space)
//! and listings of every pool (other tests' pools may come and go) are kept out of the
//! script; the unit tests check those tables against virsh's captured output.
//!
//! Without virsh or a libvirtd the tests print "SKIPPED <test>: no libvirtd" and pass.

mod common;

use std::process::{Command, Stdio};

use common::{libvirtd_usable, run_line, LIBVIRTD};

const OXVIRSH: &str = env!("CARGO_BIN_EXE_oxvirsh");

/// Destroys and undefines the pool and removes its directory, however the test ends.
struct PoolGuard {
    name: String,
    dir: std::path::PathBuf,
}

impl Drop for PoolGuard {
    fn drop(&mut self) {
        for cmd in ["pool-destroy", "pool-undefine"] {
            let _ = run_line("virsh", LIBVIRTD, &format!("{cmd} {}", self.name));
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// UUIDs and `<atime>`-style timestamps replaced by fixed words.
fn mask(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if ["<atime>", "<mtime>", "<ctime>", "<btime>"]
            .iter()
            .any(|t| trimmed.starts_with(t))
        {
            let indent = &line[..line.len() - trimmed.len()];
            out.push_str(&format!("{indent}<time/>\n"));
            continue;
        }
        out.push_str(&mask_uuids(line));
    }
    out
}

fn mask_uuids(line: &str) -> String {
    let b = line.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        if i + 36 <= b.len() && is_uuid(&line[i..i + 36]) {
            out.push_str("UUID");
            i += 36;
        } else {
            let c = line[i..].chars().next().unwrap_or(' ');
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

fn is_uuid(s: &str) -> bool {
    s.bytes().enumerate().all(|(i, c)| match i {
        8 | 13 | 18 | 23 => c == b'-',
        _ => c.is_ascii_hexdigit(),
    })
}

/// Runs every line with `program`, one process each; the masked transcript.
fn transcript(program: &str, lines: &[String]) -> Vec<(String, String, String, Option<i32>)> {
    lines
        .iter()
        .map(|line| {
            let (out, err, code) = run_line(program, LIBVIRTD, line);
            (line.clone(), mask(&out), mask(&err), code)
        })
        .collect()
}

fn script(name: &str, dir: &str, scratch: &str) -> Vec<String> {
    let p = |s: &str| {
        s.replace("POOL", name)
            .replace("DIR", dir)
            .replace("TMP", scratch)
    };
    [
        "pool-define-as POOL dir --target DIR",
        "pool-define-as POOL dir --target DIR",
        "pool-define-as x logical --source-dev /dev/sdz --source-name vg --target /dev/vg --print-xml",
        "pool-info POOL",
        "pool-dumpxml POOL --inactive",
        "pool-start POOL",
        "pool-build POOL",
        "pool-start POOL",
        "pool-start POOL",
        "pool-list --type bogus",
        "vol-create-as POOL a.img 10M",
        "vol-create-as POOL a.img 10M",
        "vol-create-as POOL b.qcow2 1G --format qcow2",
        "vol-create-as POOL c.img 1G --allocation 0",
        "vol-create-as POOL d.qcow2 1G --format qcow2 --backing-vol b.qcow2 --backing-vol-format qcow2",
        "vol-create-as POOL e.img 1X",
        "vol-list POOL",
        "vol-list POOL --details",
        "vol-info a.img --pool POOL",
        "vol-info a.img --pool POOL --bytes",
        "vol-info DIR/b.qcow2 --physical",
        "vol-info a.img",
        "vol-info nosuch --pool POOL",
        "vol-path a.img --pool POOL",
        "vol-key a.img --pool POOL",
        "vol-name DIR/a.img",
        "vol-pool DIR/a.img",
        "vol-dumpxml d.qcow2 --pool POOL",
        "vol-resize a.img 20M --pool POOL",
        "vol-resize a.img 1M --pool POOL --delta",
        "vol-resize a.img 1M --pool POOL",
        "vol-resize c.img -1M --pool POOL",
        "vol-resize c.img xyz --pool POOL",
        "vol-wipe c.img --pool POOL",
        "vol-wipe c.img --pool POOL --algorithm bogus",
        "vol-clone a.img a2.img --pool POOL",
        "vol-info a2.img --pool POOL --bytes",
        "vol-delete a2.img --pool POOL",
        "vol-delete DIR/c.img",
        "vol-upload a.img TMP/up.bin --pool POOL --offset 4096",
        "vol-download a.img TMP/down.bin --pool POOL --offset 4090 --length 20",
        "vol-download a.img TMP/down.bin --pool POOL --offset x",
        "vol-upload a.img TMP/nonexistent --pool POOL",
        "pool-refresh POOL",
        "pool-autostart POOL",
        "pool-list --autostart --name",
        "pool-autostart POOL --disable",
        "pool-undefine POOL",
        "pool-delete POOL",
        "vol-delete d.qcow2 --pool POOL",
        "vol-delete b.qcow2 --pool POOL",
        "vol-delete a.img --pool POOL",
        "pool-destroy POOL",
        "pool-destroy POOL",
        "vol-list POOL",
        "pool-delete POOL",
        "pool-undefine POOL",
        "pool-info POOL",
        "pool-name 00000000-0000-0000-0000-000000000000",
        "find-storage-pool-sources-as logical",
        "pool-event --list",
        "pool-event --event refresh --timeout 1",
    ]
    .iter()
    .map(|l| p(l))
    .collect()
}

#[test]
fn storage_commands_over_rpc_match_virsh_against_libvirtd() {
    let test = "storage_commands_over_rpc_match_virsh_against_libvirtd";
    if !libvirtd_usable(test) {
        return;
    }
    let name = format!("oxvt-stpar-{}", std::process::id());
    let dir = std::env::temp_dir().join(&name);
    let scratch = std::env::temp_dir().join(format!("{name}-files"));
    std::fs::create_dir_all(&scratch).expect("scratch dir");
    std::fs::write(scratch.join("up.bin"), b"oxvirt upload test").expect("upload file");
    let _guard = PoolGuard {
        name: name.clone(),
        dir: dir.clone(),
    };
    let lines = script(&name, &dir.to_string_lossy(), &scratch.to_string_lossy());
    let theirs = transcript("virsh", &lines);
    let downloaded = std::fs::read(scratch.join("down.bin")).unwrap_or_default();
    let ours = transcript(OXVIRSH, &lines);
    let ours_downloaded = std::fs::read(scratch.join("down.bin")).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&scratch);
    let mut failures = Vec::new();
    for (t, o) in theirs.iter().zip(&ours) {
        if t != o {
            failures.push(format!("{}:\n  virsh:   {t:?}\n  oxvirsh: {o:?}", t.0));
        }
    }
    assert_eq!(downloaded.len(), 20, "virsh's download");
    assert_eq!(ours_downloaded, downloaded, "the downloaded bytes");
    assert_eq!(&ours_downloaded[6..], b"oxvirt upload ");
    eprintln!(
        "storage parity: {} of {} command lines identical",
        lines.len() - failures.len(),
        lines.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `oxvirsh pool-event --loop` sees the lifecycle events libvirtd sends while virsh
/// defines, starts, stops and undefines a pool.
#[test]
fn pool_event_over_rpc_sees_libvirtd_events() {
    let test = "pool_event_over_rpc_sees_libvirtd_events";
    if !libvirtd_usable(test) {
        return;
    }
    let name = format!("oxvt-stev-{}", std::process::id());
    let dir = std::env::temp_dir().join(&name);
    let _guard = PoolGuard {
        name: name.clone(),
        dir: dir.clone(),
    };
    let watcher = Command::new(OXVIRSH)
        .args([
            "-c",
            LIBVIRTD,
            "pool-event --event lifecycle --loop --timeout 5",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("oxvirsh pool-event");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let line = format!(
        "pool-define-as {name} dir --target {}; pool-build {name}; pool-start {name}; \
         pool-destroy {name}; pool-delete {name}; pool-undefine {name}",
        dir.display()
    );
    let done = run_line("virsh", LIBVIRTD, &line);
    assert_eq!(done.2, Some(0), "{done:?}");
    let out = watcher.wait_with_output().expect("pool-event output");
    let text = String::from_utf8_lossy(&out.stdout);
    let expected = format!(
        "event 'lifecycle' for storage pool {name}: Defined\n\
         event 'lifecycle' for storage pool {name}: Created\n\
         event 'lifecycle' for storage pool {name}: Started\n\
         event 'lifecycle' for storage pool {name}: Stopped\n\
         event 'lifecycle' for storage pool {name}: Deleted\n\
         event 'lifecycle' for storage pool {name}: Undefined\n\
         event loop timed out\nevents received: 6\n\n"
    );
    // other pools' events (from tests running beside this one) are not ours
    let ours: String = text
        .lines()
        .filter(|l| !l.starts_with("event 'lifecycle'") || l.contains(&name))
        .map(|l| format!("{l}\n"))
        .collect();
    let ours = ours.replace(
        &format!(
            "events received: {}",
            text.matches("event 'lifecycle'").count()
        ),
        "events received: 6",
    );
    assert_eq!(
        ours,
        expected,
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
