//! Runs the same command lines through `oxvirsh -c test:///default` and libvirt's own
//! `virsh -c test:///default` and requires identical stdout, stderr and exit status,
//! character for character.
//!
//! Normalised before comparing, and only this: the value of dominfo's `CPU time:` line,
//! which libvirt's test driver derives from the clock. Differences on purpose are asserted
//! as such: `version` names oxvirt's library on its "Using library" line, and the
//! interactive shell's banner and prompt say "oxvirsh" instead of "virsh".
//!
//! Without virsh installed the test prints "SKIPPED: virsh not installed" and passes.

mod common;

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::virsh_installed;

const OXVIRSH: &str = env!("CARGO_BIN_EXE_oxvirsh");

/// What one run printed and how it ended.
#[derive(Debug, PartialEq, Eq)]
struct Run {
    stdout: String,
    stderr: String,
    status: Option<i32>,
}

fn normalise(text: &str) -> String {
    text.split_inclusive('\n')
        .map(|line| match line.strip_prefix("CPU time:") {
            Some(rest) if rest.trim_end().ends_with('s') => {
                "CPU time:       <normalised>\n".to_owned()
            }
            _ => line.to_owned(),
        })
        .collect()
}

fn run(program: &str, args: &[&str], stdin: Option<&str>) -> Run {
    let mut child = Command::new(program)
        .arg("-c")
        .arg("test:///default")
        .args(args)
        .env_remove("LIBVIRT_DEFAULT_URI")
        .env("LC_ALL", "C")
        // virsh's save job watcher can hang on a closed pipe: no input is /dev/null
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    if let (Some(text), Some(mut input)) = (stdin, child.stdin.take()) {
        input.write_all(text.as_bytes()).expect("writing the input");
    }
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        stdout.read_to_end(&mut buf).map(|_| buf)
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        stderr.read_to_end(&mut buf).map(|_| buf)
    });
    // bounded: a hung program fails the test instead of stalling it
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for the program") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{program} {args:?} did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let stdout = out_reader
        .join()
        .expect("reader thread")
        .expect("reading stdout");
    let stderr = err_reader
        .join()
        .expect("reader thread")
        .expect("reading stderr");
    Run {
        stdout: normalise(&String::from_utf8_lossy(&stdout)),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        status: status.code(),
    }
}

/// Both programs on the same arguments; panics with both transcripts when they differ.
fn same(args: &[&str]) -> Run {
    let theirs = run("virsh", args, None);
    let ours = run(OXVIRSH, args, None);
    assert_eq!(ours, theirs, "oxvirsh and virsh differ on {args:?}");
    ours
}

#[test]
fn outputs_match_virsh_character_for_character() {
    if !virsh_installed() {
        println!("SKIPPED: virsh not installed");
        return;
    }
    let cases: &[&[&str]] = &[
        &["list"],
        &["list", "--all"],
        &["list --all --name"],
        &["list --uuid --id --name"],
        &["list --title"],
        &["list --inactive"],
        &["-q", "list"],
        &["dominfo", "test"],
        &["dominfo 1"],
        &["dominfo 6695eb01-f6a4-8304-79aa-97f2502e193f"],
        &["domstate", "--reason", "test"],
        &["domstate test"],
        &["nodeinfo"],
        &["domid", "test"],
        &["domname", "1"],
        &["domuuid", "test"],
        &["uri"],
        &["hostname"],
        &["dumpxml", "test"],
        &["dumpxml test --inactive"],
        &["help setmem"],
        &["help snapshot-create-as"],
        &["help list; help undefine; help start; help event; help snapshot-list; help setvcpus"],
        &["help events; help snapshot-current; help version; help domid; help save"],
        &["dominfo --help"],
        &["event --list"],
    ];
    for args in cases {
        let r = same(args);
        assert_eq!(r.status, Some(0), "{args:?} should succeed: {r:?}");
    }
}

#[test]
fn errors_match_virsh_character_for_character() {
    if !virsh_installed() {
        println!("SKIPPED: virsh not installed");
        return;
    }
    let cases: &[&[&str]] = &[
        // unknown domains, by each lookup rule
        &["dominfo", "nosuch"],
        &["domstate x"],
        &["domid nosuch"],
        &["domname test"],
        &["domid 1"],
        &["start 1"],
        // the running domain cannot be started again
        &["start", "test"],
        // state errors from the driver
        &["resume test"],
        &["suspend test; suspend test"],
        &["destroy test; destroy test"],
        // command-line errors
        &["bogus"],
        &["list --foo"],
        &["dominfo"],
        &["save"],
        &["setmem test"],
        &["dominfo test extra"],
        &["dominfo --domain=test --domain test"],
        &["dominfo --domain"],
        &["list --all=yes"],
        &["dominfo \"test"],
        &["dominfo test\\"],
        &["list --table --name"],
        &["setmem test 1xyz"],
        &["setmem test 1000 --current --live"],
        &["setvcpus test 3 --maximum"],
        &["setvcpus test abc"],
        &["shutdown test --mode bogus"],
        &["snapshot-revert test"],
        &["snapshot-dumpxml test nope"],
        &["event"],
        &["event --all --timeout 0"],
        &["help bogus"],
        &["uri; bogus"],
    ];
    for args in cases {
        let r = same(args);
        assert_eq!(r.status, Some(1), "{args:?} should fail: {r:?}");
        assert!(r.stderr.starts_with("error: "), "{args:?}: {r:?}");
    }
}

#[test]
fn command_sequences_match_virsh() {
    if !virsh_installed() {
        println!("SKIPPED: virsh not installed");
        return;
    }
    let cases: &[&[&str]] = &[
        &["destroy test; domstate --reason test; start test; domstate --reason test; list --all"],
        &["suspend test; domstate --reason test; list --state-paused; resume test; domstate --reason test"],
        &["shutdown test; domstate --reason test; reboot test"],
        // no managedsave/start sequence: virsh 9.0 itself hangs on it now and then (1 run
        // in 60 here); the unit tests check those messages against virsh's text
        &["autostart test; list --autostart; autostart --disable test; list --autostart"],
        &["setmem test 1G; dominfo test; setmem --size=512M test; dominfo test"],
        &["setvcpus test 1; dominfo test; setvcpus test 4 --maximum --config; dumpxml --inactive test"],
        &["snapshot-create-as test a desc; snapshot-create-as test b; snapshot-create-as test c; snapshot-current test --snapshotname a; snapshot-create-as test d; snapshot-list test --tree; snapshot-list test --leaves --name; snapshot-current test --name; snapshot-revert test a; snapshot-delete test b --children-only; snapshot-list test --tree"],
        &["snapshot-create-as test 'x<y' 'd&e' --print-xml"],
        &["snapshot-create-as test x --memspec /tmp/m,snapshot=external --diskspec vda,snapshot=external,file=/tmp/d.qcow2,driver=qcow2 --print-xml"],
        &["-q", "destroy test; list --all; start test"],
        &["uri; quit; hostname"],
    ];
    for args in cases {
        same(args);
    }
}

#[test]
fn version_differs_only_in_the_library_line() {
    if !virsh_installed() {
        println!("SKIPPED: virsh not installed");
        return;
    }
    let theirs = run("virsh", &["version"], None);
    let ours = run(OXVIRSH, &["version"], None);
    assert_eq!((ours.status, &ours.stderr), (theirs.status, &theirs.stderr));
    let expected = theirs.stdout.replace(
        "Using library: libvirt 9.0.0\n",
        &format!("Using library: oxvirt {}\n", env!("CARGO_PKG_VERSION")),
    );
    assert_ne!(expected, theirs.stdout, "virsh's library line changed");
    assert_eq!(ours.stdout, expected);
}

#[test]
fn shell_transcripts_differ_only_in_the_programs_name() {
    if !virsh_installed() {
        println!("SKIPPED: virsh not installed");
        return;
    }
    let inputs = [
        "uri\nbogus\n\n  \ndominfo x; uri\nlist --all\nquit\nuri\n",
        "destroy test; domstate --reason test\nexit\n",
        "uri",
    ];
    for input in inputs {
        for opts in [&[][..], &["-q"][..], &["-r"][..]] {
            let theirs = run("virsh", opts, Some(input));
            let ours = run(OXVIRSH, opts, Some(input));
            let expected = Run {
                stdout: theirs.stdout.replace("virsh", "oxvirsh"),
                ..theirs
            };
            assert_eq!(ours, expected, "shell {opts:?} on {input:?}");
        }
    }
}

#[test]
fn migration_commands_match_virsh() {
    if !virsh_installed() {
        println!("SKIPPED: virsh not installed");
        return;
    }
    let help: &[&[&str]] = &[
        &["help migrate; help migrate-setmaxdowntime; help migrate-getmaxdowntime"],
        &["help migrate-setspeed; help migrate-getspeed; help migrate-postcopy"],
        &["help domjobinfo; help domjobabort; migrate --help"],
    ];
    for args in help {
        let r = same(args);
        assert_eq!(r.status, Some(0), "{args:?} should succeed: {r:?}");
    }
    // The test driver has no migration and no jobs; the option checks come first.
    let dest = "qemu+tcp://127.0.0.9:1/system";
    let errors: Vec<Vec<&str>> = vec![
        vec!["migrate", "test", dest, "--timeout", "5"],
        vec!["migrate", "test", dest, "--timeout", "-1", "--live"],
        vec!["migrate", "test", dest, "--timeout", "abc", "--live"],
        vec!["migrate", "test", dest, "--live", "--offline"],
        vec!["migrate", "test", dest, "--postcopy-after-precopy"],
        vec!["migrate", "test", dest, "--timeout-postcopy"],
        vec!["migrate", "test", dest, "--persistent-xml", "/nonexistent"],
        vec!["migrate", "test", dest, "--tls-destination", "x"],
        vec!["migrate", "test", dest],
        vec!["migrate", "nosuch", dest],
        // Not the refusals made once virsh's migration thread runs (`--p2p` or a reachable
        // destination on the test driver): Debian's virsh hangs on them now and then,
        // watching a job that never was. The facade's unit tests cover those.
        vec!["migrate", "test"],
        vec!["migrate-setspeed", "test", "-1"],
        vec!["migrate-setspeed", "test", "x"],
        vec!["migrate-setspeed", "test", "5", "--postcopy"],
        vec!["migrate-getspeed", "test"],
        vec!["migrate-setmaxdowntime", "test", "0"],
        vec!["migrate-setmaxdowntime", "test", "-1"],
        vec!["migrate-setmaxdowntime", "test", "100"],
        vec!["migrate-getmaxdowntime", "test"],
        vec!["migrate-postcopy", "test"],
        vec!["domjobinfo", "test"],
        vec!["domjobinfo", "test", "--completed"],
        vec!["domjobinfo", "test", "--keep-completed"],
        vec!["domjobabort", "test"],
        vec!["domjobabort", "test", "--postcopy"],
    ];
    for args in &errors {
        let r = same(args);
        assert_eq!(r.status, Some(1), "{args:?} should fail: {r:?}");
    }
}
