#![allow(clippy::unwrap_used)]

use super::*;

fn target(host: &str) -> SshTarget {
    SshTarget {
        host: host.to_owned(),
        port: None,
        user: None,
        keyfile: None,
        known_hosts: None,
        no_verify: false,
        no_tty: false,
        netcat: None,
        command: "ssh".to_owned(),
        socket: "/var/run/libvirt/libvirt-sock".to_owned(),
        proxy: SshProxy::Auto,
        uri: "qemu:///system".to_owned(),
        read_only: false,
    }
}

/// The netcat script for `nc` (already double-escaped) and `socket`.
fn nc(nc: &str, socket: &str) -> String {
    format!(
        "if {nc} -q 2>&1 | grep \"requires an argument\" >/dev/null 2>&1; then ARG=-q0;\
         else ARG=;fi;{nc} $ARG -U {socket}"
    )
}

#[test]
fn shell_escaping_is_virbufferescapeshells() {
    assert_eq!(escape_shell(""), "''");
    assert_eq!(escape_shell("qemu:///system"), "qemu:///system");
    assert_eq!(escape_shell("a b"), "'a b'");
    assert_eq!(escape_shell("x'y"), "'x'\\''y'");
    assert_eq!(double_escape("qemu:///system"), "qemu:///system");
    assert_eq!(
        double_escape("qemu:///system?foo=bar"),
        "''\\''qemu:///system?foo=bar'\\'''"
    );
}

/// Each argument list as Debian's virsh 9.0 passed it to a fake `?command=` (recorded by
/// the script; see the report of issue 10).
#[test]
fn arguments_are_libvirts() {
    let full = SshTarget {
        port: Some(2222),
        user: Some("bob".to_owned()),
        keyfile: Some("/k y".to_owned()),
        no_tty: true,
        no_verify: true,
        uri: "qemu:///system?foo=bar".to_owned(),
        ..target("h")
    };
    let helper = "virt-ssh-helper '''\\''qemu:///system?foo=bar'\\'''';";
    assert_eq!(
        full.args().unwrap(),
        [
            "-p",
            "2222",
            "-l",
            "bob",
            "-i",
            "/k y",
            "-T",
            "-e",
            "none",
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=no",
            "--",
            "h",
            &format!(
                "sh -c 'which virt-ssh-helper 1>/dev/null 2>&1; if test $? = 0; then     \
                 {helper} else    {}; fi'",
                nc("'nc'", "/var/run/libvirt/libvirt-sock")
            ),
        ]
    );
    // Read-only: -r and the -ro socket (the route picks the socket).
    let ro = SshTarget {
        read_only: true,
        socket: "/var/run/libvirt/libvirt-sock-ro".to_owned(),
        ..target("h")
    };
    assert_eq!(
        ro.remote_command().unwrap(),
        format!(
            "sh -c 'which virt-ssh-helper 1>/dev/null 2>&1; if test $? = 0; then     \
             virt-ssh-helper -r 'qemu:///system'; else    {}; fi'",
            nc("'nc'", "/var/run/libvirt/libvirt-sock-ro")
        )
    );
    // A netcat path makes "auto" netcat; the socket is not escaped.
    let netcat = SshTarget {
        netcat: Some("/bin/n c".to_owned()),
        socket: "/s".to_owned(),
        ..target("h")
    };
    assert_eq!(
        netcat.args().unwrap(),
        [
            "-T",
            "-e",
            "none",
            "--",
            "h",
            &format!("sh -c '{}'", nc("'''\\''/bin/n c'\\''''", "/s"))
        ]
    );
    let native = SshTarget {
        proxy: SshProxy::Native,
        ..target("h")
    };
    assert_eq!(
        native.remote_command().unwrap(),
        "sh -c 'virt-ssh-helper 'qemu:///system''"
    );
    let refused = SshTarget {
        netcat: Some("nc".to_owned()),
        ..native
    };
    let err = refused.remote_command().unwrap_err();
    assert_eq!(
        (err.code, err.domain, err.message.as_str()),
        (
            ErrorCode::InvalidArg,
            ErrorDomain::Rpc,
            "invalid argument: netcat path not valid with native proxy mode"
        )
    );
    assert_eq!(SshProxy::parse("netcat"), Some(SshProxy::Netcat));
    assert_eq!(SshProxy::parse("Native"), None);
}

/// A fake ssh: a shell script in a fresh directory.
fn fake_ssh(tag: &str, script: &str) -> (std::path::PathBuf, String) {
    let dir = std::env::temp_dir().join(format!("oxvirt-ssh-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ssh");
    // Written by another process: a write descriptor of ours, inherited by a process
    // another test forks meanwhile, would make the exec fail with ETXTBSY.
    let status = std::process::Command::new("sh")
        .args([
            "-c",
            "printf '%s\\n' \"$1\" > \"$2\" && chmod 755 \"$2\"",
            "sh",
        ])
        .arg(format!("#!/bin/sh\n{script}"))
        .arg(&path)
        .status()
        .unwrap();
    assert!(status.success());
    let command = path.to_str().unwrap().to_owned();
    (dir, command)
}

#[tokio::test]
async fn ssh_stderr_is_the_error_when_the_stream_ends() {
    // Reads the client's AUTH_LIST call (28 bytes), complains and exits, as libvirt's
    // recorded fake did: trailing line ends go, inner ones stay.
    let (dir, command) = fake_ssh(
        "eof",
        "head -c 28 >/dev/null\nprintf 'Warning: x\\r\\noops\\r\\n\\n' >&2\nexit 1",
    );
    let t = SshTarget {
        command,
        ..target("h")
    };
    let err = crate::RemoteDriver::open_ssh(&t, "qemu:///system", 0)
        .await
        .unwrap_err();
    assert_eq!(
        (err.code, err.domain, err.message.as_str()),
        (
            ErrorCode::SystemError,
            ErrorDomain::Rpc,
            "End of file while reading data: Warning: x\r\noops: Input/output error"
        )
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn dropping_the_stream_kills_and_reaps_ssh() {
    let (dir, command) = fake_ssh("drop", "exec sleep 600");
    let t = SshTarget {
        command,
        ..target("h")
    };
    let stream = connect_ssh(&t).await.unwrap();
    let pid = stream.pid();
    assert!(Path::new(&format!("/proc/{pid}")).exists());
    drop(stream);
    // Killed and waited for: not even a zombie is left.
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "ssh {pid} left"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn ssh_gets_libvirts_environment_and_arguments() {
    let (dir, command) = fake_ssh(
        "env",
        "for a in \"$@\"; do printf '%s\\n' \"$a\"; done > \"$(dirname \"$0\")/args\"\n\
         env > \"$(dirname \"$0\")/env\"\nexit 1",
    );
    let t = SshTarget {
        command,
        port: Some(22),
        ..target("h")
    };
    let _ = crate::RemoteDriver::open_ssh(&t, "qemu:///system", 0).await;
    let args = std::fs::read_to_string(dir.join("args")).unwrap();
    assert_eq!(
        args.lines().collect::<Vec<_>>(),
        t.args()
            .unwrap()
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
    );
    let env = std::fs::read_to_string(dir.join("env")).unwrap();
    assert!(env.lines().any(|l| l == "LC_ALL=C"), "{env}");
    for line in env.lines() {
        let name = line.split('=').next().unwrap();
        assert!(
            name == "LC_ALL"
                || name == "PWD"
                || name == "SHLVL"
                || name == "_"
                || PASSED_ENV.contains(&name),
            "{name} passed to ssh"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}
