//! The built helper against Debian's libvirt 9.0 `virt-ssh-helper` (package
//! libvirt-daemon): for each command line that does not reach a daemon, the same stdout,
//! stderr and exit status, both run as `virt-ssh-helper` (argv[0]).

#![allow(clippy::unwrap_used)]

use std::os::unix::process::CommandExt;
use std::process::{Command, Output, Stdio};

const DEBIAN: &str = "/usr/bin/virt-ssh-helper";

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .arg0("virt-ssh-helper")
        .args(args)
        // Ours must not find a daemon either, whatever this machine runs.
        .env("OXVIRT_RUNTIME_DIR", "/nonexistent-oxvirt")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn shown(out: &Output) -> (String, String, Option<i32>) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code(),
    )
}

#[test]
fn same_words_and_status_as_debians_virt_ssh_helper() {
    assert!(
        std::path::Path::new(DEBIAN).exists(),
        "{DEBIAN} is missing: install Debian's libvirt-daemon package"
    );
    let ours = env!("CARGO_BIN_EXE_oxvirt-ssh-helper");
    let cases: &[&[&str]] = &[
        &[],
        &["-h"],
        &["--help"],
        &["-r"],
        &["a", "b"],
        &["-x"],
        &["--bogus", "x"],
        &["qemu+tcp:///system"],
        &["qemu+ssh://h/system"],
        &["-r", "qemu://h/system"],
        &["foo+bar:///x"],
        &["x"],
        &["/system"],
        &["a b"],
        &["::bad"],
        &["1qemu:///s"],
        &["qemu://[::1/x"],
        &["qemu:///sys%zz"],
    ];
    for args in cases {
        assert_eq!(
            shown(&run(ours, args)),
            shown(&run(DEBIAN, args)),
            "{args:?}"
        );
    }
    // -V: the same form, our own name and version.
    let (stdout, stderr, status) = shown(&run(ours, &["-V"]));
    assert_eq!(
        (stdout.as_str(), stderr.as_str(), status),
        (
            concat!("virt-ssh-helper (oxvirt) ", env!("CARGO_PKG_VERSION"), "\n"),
            "",
            Some(0)
        )
    );
    let (stdout, _, _) = shown(&run(DEBIAN, &["-V"]));
    assert!(stdout.starts_with("virt-ssh-helper (libvirt) "), "{stdout}");
}

#[test]
fn unreachable_socket_in_virt_ssh_helpers_words() {
    let ours = env!("CARGO_BIN_EXE_oxvirt-ssh-helper");
    for (args, sock) in [
        (&["qemu:///system"][..], "libvirt-sock"),
        (&["-r", "test:///default"][..], "libvirt-sock-ro"),
        (&["qemu+unix:///session"][..], "libvirt-sock"),
    ] {
        let path = format!("/nonexistent-oxvirt/{sock}");
        assert_eq!(
            shown(&run(ours, args)),
            (
                String::new(),
                format!(
                    "virt-ssh-helper: cannot connect to '{path}': Failed to connect socket to \
                     '{path}': No such file or directory\n"
                ),
                Some(1)
            ),
            "{args:?}"
        );
    }
}
