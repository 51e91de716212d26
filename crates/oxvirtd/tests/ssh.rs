//! The ssh transport end to end: `oxvirt-ssh-helper` bridging to oxvirtd, OpenSSH's sshd
//! on loopback in a network namespace the test creates, Debian's virsh and our facade
//! connecting with `test+ssh://root@127.0.0.1:2222/default?keyfile=KEY&no_verify=1`.
//!
//! sshd puts a directory first in the session's PATH (`SetEnv PATH=...`) where
//! `virt-ssh-helper` is a symlink to the built `oxvirt-ssh-helper` (Debian's own
//! /usr/bin/virt-ssh-helper is installed on the test machines and must not answer), and
//! sets OXVIRT_RUNTIME_DIR to the test daemon's runtime directory. Domains defined over ssh
//! show up on the test daemon's own socket: the helper was ours.
//!
//! The ssh client of each test (virsh's, the facade's) runs inside the namespace with
//! `/etc/ssh/ssh_config` replaced, in that process's private mount namespace, by one that
//! keeps host keys in the test's directory (root's ~/.ssh/known_hosts stays untouched).
//!
//! `ssh_command_lines_are_virshs` needs only virsh: Debian's virsh and our facade run the
//! same fake `?command=` ssh for a set of URIs and must give it the same arguments and
//! environment, and show the same error.
//!
//! The others need root, ip, sshd (Debian's openssh-server), ssh and ssh-keygen (openssh-client),
//! virsh (libvirt-clients), and the helper built: `cargo build -p oxvirt-ssh-helper` (a
//! workspace build has it). A missing one fails the test with what is missing.

#![allow(clippy::unwrap_used)]

mod common;

use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::sshd::{helper_binary, Sshd, PORT};
use common::{Daemon, Raw};
use oxvirt_rpc::remote::{DomainDefineXmlArgs, DomainDefineXmlRet};
use oxvirt_rpc::xdr::decode_from;
use oxvirt_rpc::{MessageStatus, RemoteProcedure as P};

/// The environment variable that makes [`facade_child`] act (set only when a test
/// re-runs this binary inside the namespace).
const CHILD_URI: &str = "OXVIRT_SSH_TEST_URI";

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A domain for the QEMU driver of the test daemon (defined only, never started).
fn domain_xml(name: &str) -> String {
    format!(
        "<domain type='kvm'><name>{name}</name><memory unit='MiB'>64</memory>\
         <os><type arch='x86_64' machine='pc'>hvm</type></os></domain>"
    )
}

/// The test daemon, and sshd in a namespace of its own in front of it (the namespace, keys
/// and configuration of [`Sshd`], whose methods a `Lab` has too); all torn down on drop.
struct Lab {
    sshd: Sshd,
    daemon: Daemon,
}

impl Lab {
    fn start(tag: &str) -> Lab {
        let mut sshd = Sshd::new(tag);
        let daemon = Daemon::start(&format!("ssh-{tag}"));
        sshd.serve(&daemon.dir);
        Lab { sshd, daemon }
    }

    /// Debian's virsh inside the namespace (killed after 60 s if it hangs).
    fn virsh(&self, args: &[&str]) -> Output {
        let mut cmd = self.command(Path::new("/usr/bin/timeout"));
        cmd.args(["60", "virsh"]).args(args).output().unwrap()
    }

    /// The domain names the test daemon lists on its own read-write socket.
    fn daemon_domains(&self, uri: &str) -> Vec<String> {
        let socket = format!("{uri}?socket={}", self.daemon.sock().display());
        let out = common::virsh(&socket, &["list", "--all", "--name"]);
        assert!(out.status.success(), "{}", text(&out));
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

impl std::ops::Deref for Lab {
    type Target = Sshd;

    fn deref(&self) -> &Sshd {
        &self.sshd
    }
}

impl std::ops::DerefMut for Lab {
    fn deref_mut(&mut self) -> &mut Sshd {
        &mut self.sshd
    }
}

/// The helper with `args`, its stdin and stdout one end of a socket pair (as sshd and
/// libvirt's client give it a stream), OXVIRT_RUNTIME_DIR at `dir`; the other end as a
/// raw protocol connection.
fn spawn_helper(dir: &Path, args: &[&str]) -> (Child, Raw) {
    let (ours, theirs) = UnixStream::pair().unwrap();
    let child = Command::new(helper_binary())
        .args(args)
        .env("OXVIRT_RUNTIME_DIR", dir)
        .stdin(OwnedFd::from(theirs.try_clone().unwrap()))
        .stdout(OwnedFd::from(theirs))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    (child, Raw::over(ours))
}

fn wait_exit(child: &mut Child) -> Option<i32> {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        assert!(Instant::now() < until, "the helper did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn helper_bridges_rpc_to_the_daemons_sockets() {
    let d = Daemon::start("ssh-helper");
    // Read-write: AUTH_LIST, CONNECT_OPEN, a define that the daemon then lists.
    let (mut child, mut raw) = spawn_helper(&d.dir, &["qemu:///system"]);
    let auth = raw.roundtrip(66, &());
    assert_eq!(auth.header.status, MessageStatus::Ok);
    raw.open();
    let xml = DomainDefineXmlArgs {
        xml: domain_xml("helper-rw").replace("kvm", "test"),
    };
    let p = raw.roundtrip(P::DomainDefineXml.number(), &xml);
    assert_eq!(
        p.header.status,
        MessageStatus::Ok,
        "{:?}",
        common::error_parts(&p)
    );
    let ret: DomainDefineXmlRet = decode_from(&p.payload).unwrap();
    assert_eq!(ret.dom.name, "helper-rw");
    // Our end closing ends the helper, successfully.
    drop(raw);
    assert_eq!(wait_exit(&mut child), Some(0));
    assert!(d.daemon_list().contains(&"helper-rw".to_owned()));

    // -r: the read-only socket; the daemon refuses the write there, even from a client
    // that opened without VIR_CONNECT_RO.
    let (mut child, mut raw) = spawn_helper(&d.dir, &["-r", "qemu:///system"]);
    raw.open_flags(0);
    let p = raw.roundtrip(P::DomainDefineXml.number(), &xml);
    let (code, _, message) = common::error_parts(&p);
    assert_eq!(
        (code, message.as_str()),
        (
            29,
            "operation forbidden: read only access prevents virDomainDefineXML"
        )
    );
    drop(raw);
    assert_eq!(wait_exit(&mut child), Some(0));

    // The daemon going away ends the helper too.
    let mut d = d;
    let (mut child, mut raw) = spawn_helper(&d.dir, &["test:///default"]);
    raw.open();
    let _ = d.child.kill();
    let _ = d.child.wait();
    assert_eq!(wait_exit(&mut child), Some(0));
    assert!(raw.closed());

    // No daemon (its socket file left behind): virt-ssh-helper's message, status 1.
    let out = Command::new(helper_binary())
        .arg("-r")
        .arg("qemu:///system")
        .env("OXVIRT_RUNTIME_DIR", &d.dir)
        .output()
        .unwrap();
    let sock = d.dir.join("libvirt-sock-ro");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "{}: cannot connect to '{s}': Failed to connect socket to '{s}': \
             Connection refused\n",
            helper_binary().display(),
            s = sock.display()
        )
    );
}

/// Domain names on a daemon's read-write socket (test:///default).
trait DaemonList {
    fn daemon_list(&self) -> Vec<String>;
}

impl DaemonList for Daemon {
    fn daemon_list(&self) -> Vec<String> {
        let out = common::virsh(&self.uri(), &["list", "--all", "--name"]);
        assert!(out.status.success(), "{}", text(&out));
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

#[test]
fn virsh_over_ssh_reaches_oxvirtd_through_our_helper() {
    let lab = Lab::start("virsh");
    let uri = lab.qemu_uri();
    // Define over ssh; the domain is on the test daemon (so the helper that answered was
    // ours, not Debian's, which would have gone to /var/run/libvirt).
    let file = lab.dir.join("dom.xml");
    std::fs::write(&file, domain_xml("over-ssh")).unwrap();
    let out = lab.virsh(&["-c", &uri, "define", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(lab
        .daemon_domains("qemu+unix:///system")
        .contains(&"over-ssh".to_owned()));
    let out = lab.virsh(&["-c", &uri, "list", "--all"]);
    assert!(out.status.success(), "{}", text(&out));
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(
        listed
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["-", "over-ssh", "shut", "off"]),
        "{listed}"
    );
    // The session ran `virt-ssh-helper 'qemu:///system'` from the test's PATH.
    let log = lab.sshd_log.lock().unwrap().join("\n");
    assert!(
        log.contains("Accepted publickey for root from 127.0.0.1"),
        "{log}"
    );

    // Read-only: the -ro socket; reads work, writes are refused in libvirt's words.
    let out = lab.virsh(&["-r", "-c", &uri, "list", "--all", "--name"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("over-ssh"));
    std::fs::write(&file, domain_xml("refused-ro")).unwrap();
    let out = lab.virsh(&["-r", "-c", &uri, "define", file.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("error: operation forbidden: read only access prevents virDomainDefineXML"),
        "{}",
        text(&out)
    );
    assert!(!lab
        .daemon_domains("qemu+unix:///system")
        .contains(&"refused-ro".to_owned()));

    // With the read-write socket out of the way, -r still works (the helper got -r and
    // went to libvirt-sock-ro) and a read-write open fails with the helper's words, carried
    // through ssh's stderr into libvirt's message.
    let rw = lab.daemon.sock();
    let aside = lab.daemon.dir.join("libvirt-sock.aside");
    std::fs::rename(&rw, &aside).unwrap();
    let ro_out = lab.virsh(&["-r", "-c", &uri, "list", "--all", "--name"]);
    let rw_out = lab.virsh(&["-c", &uri, "list", "--all", "--name"]);
    std::fs::rename(&aside, &rw).unwrap();
    assert!(ro_out.status.success(), "{}", text(&ro_out));
    assert!(String::from_utf8_lossy(&ro_out.stdout).contains("over-ssh"));
    assert!(!rw_out.status.success());
    let helper_words = format!(
        "virt-ssh-helper: cannot connect to '{p}': Failed to connect socket to '{p}': \
         No such file or directory",
        p = rw.display()
    );
    let stderr = String::from_utf8_lossy(&rw_out.stderr);
    assert!(
        stderr
            == format!(
                "error: failed to connect to the hypervisor\n\
             error: End of file while reading data: {helper_words}: Input/output error\n"
            )
            || stderr
                == format!(
                    "error: failed to connect to the hypervisor\n\
             error: Cannot recv data: {helper_words}: Connection reset by peer\n"
                ),
        "{stderr}"
    );

    let out = lab.virsh(&["-c", &uri, "undefine", "over-ssh"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!lab
        .daemon_domains("qemu+unix:///system")
        .contains(&"over-ssh".to_owned()));

    // test:///default over ssh: the daemon's built-in "test" domain.
    let out = lab.virsh(&["-c", &lab.uri("client_key"), "list", "--name"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "test");

    // Each virsh's ssh, session and helper are gone once it exits.
    assert_eq!(lab.settle(), Vec::<String>::new());

    // Timing (OXVIRT_SSH_TIMING=1): virsh list over ssh and over the unix socket.
    if !timing() {
        return;
    }
    let started = Instant::now();
    for _ in 0..5 {
        assert!(lab.virsh(&["-c", &uri, "list"]).status.success());
    }
    let ssh = started.elapsed() / 5;
    let local = format!("qemu+unix:///system?socket={}", lab.daemon.sock().display());
    let started = Instant::now();
    for _ in 0..5 {
        assert!(lab.virsh(&["-c", &local, "list"]).status.success());
    }
    let unix = started.elapsed() / 5;
    eprintln!("virsh list: over ssh {ssh:?}, over the unix socket {unix:?} (mean of 5)");
}

/// Whether to measure and print timings (`OXVIRT_SSH_TIMING=1`).
fn timing() -> bool {
    std::env::var("OXVIRT_SSH_TIMING").is_ok_and(|v| v == "1")
}

/// The facade's side of [`facade_over_ssh`]: acts only in the process that test starts
/// inside the namespace (with [`CHILD_URI`] set); prints one `@@ key: value` line a step.
/// Ignored in a normal run, where it would have nothing to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the facade's side of facade_over_ssh, which runs it inside its namespace"]
async fn facade_child() {
    let Ok(uri) = std::env::var(CHILD_URI) else {
        return;
    };
    // The marker finds the lines among the test harness's own output.
    let step = |key: &str, value: String| println!("\n@@ {key}: {value}");
    let started = Instant::now();
    let conn = oxvirt::Connect::open(&uri).await;
    let conn = match conn {
        Ok(conn) => conn,
        Err(e) => {
            step(
                "open-error",
                format!("{:?} {:?} {}", e.code, e.domain, e.message),
            );
            return;
        }
    };
    let names = |doms: Vec<oxvirt::Domain>| {
        doms.iter()
            .map(|d| d.name().to_owned())
            .collect::<Vec<_>>()
            .join(",")
    };
    let listed = names(conn.list_all_domains(0).await.unwrap());
    step("connect+list", format!("{:?}", started.elapsed()));
    step("domains", listed);
    let dom = conn
        .define_domain_xml(&std::env::var("OXVIRT_SSH_TEST_XML").unwrap(), 0)
        .await
        .unwrap();
    step("defined", dom.name().to_owned());
    step("domains", names(conn.list_all_domains(0).await.unwrap()));
    dom.undefine(0).await.unwrap();
    step("domains", names(conn.list_all_domains(0).await.unwrap()));
    // The domain handle holds the connection too.
    drop(dom);
    drop(conn);

    let ro = oxvirt::Connect::open_read_only(&uri).await.unwrap();
    step("ro-domains", names(ro.list_all_domains(0).await.unwrap()));
    let err = ro
        .define_domain_xml(&std::env::var("OXVIRT_SSH_TEST_XML").unwrap(), 0)
        .await
        .unwrap_err();
    step("ro-define", err.message);
    drop(ro);
    // Both connections dropped: their ssh processes are killed (or have exited) and
    // reaped, while this process lives on.
    let until = Instant::now() + Duration::from_secs(10);
    let mut children = own_children();
    while !children.is_empty() && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(50)).await;
        children = own_children();
    }
    step("children-after-close", children.join(","));
}

/// This process's child processes (zombies included), as `PID COMM STATE`.
fn own_children() -> Vec<String> {
    let me = std::process::id().to_string();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        // PID (COMM) STATE PPID ...
        let Some((head, tail)) = stat.rsplit_once(") ") else {
            continue;
        };
        let fields: Vec<&str> = tail.split_whitespace().collect();
        if fields.get(1) == Some(&me.as_str()) {
            found.push(format!("{head}) {}", fields[0]));
        }
    }
    found
}

/// Runs [`facade_child`] inside the namespace with `uri`; its `key: value` lines.
fn facade(lab: &Lab, uri: &str, xml: &str) -> Vec<(String, String)> {
    let out = lab
        .command(&std::env::current_exe().unwrap())
        .args([
            "--exact",
            "facade_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_URI, uri)
        .env("OXVIRT_SSH_TEST_XML", xml)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("@@ ")?.split_once(": "))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn value<'a>(lines: &'a [(String, String)], key: &str) -> Vec<&'a str> {
    lines
        .iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .collect()
}

#[test]
fn facade_over_ssh() {
    let lab = Lab::start("facade");
    let lines = facade(&lab, &lab.qemu_uri(), &domain_xml("facade-ssh"));
    assert_eq!(
        value(&lines, "domains"),
        ["", "facade-ssh", ""],
        "{lines:?}"
    );
    assert_eq!(value(&lines, "defined"), ["facade-ssh"]);
    assert_eq!(value(&lines, "ro-domains"), [""]);
    assert_eq!(value(&lines, "children-after-close"), [""], "{lines:?}");
    assert_eq!(
        value(&lines, "ro-define"),
        ["operation forbidden: read only access prevents virDomainDefineXML"]
    );
    // test:///default: the test daemon's own node.
    let lines = facade(
        &lab,
        &lab.uri("client_key"),
        &domain_xml("facade-t").replace("kvm", "test"),
    );
    assert_eq!(value(&lines, "domains")[0], "test", "{lines:?}");
    assert_eq!(value(&lines, "defined"), ["facade-t"]);
    // The helper's failure reaches the facade as it reaches virsh: through ssh's stderr.
    let rw = lab.daemon.sock();
    let aside = lab.daemon.dir.join("libvirt-sock.aside");
    std::fs::rename(&rw, &aside).unwrap();
    let failed = facade(&lab, &lab.qemu_uri(), "");
    std::fs::rename(&aside, &rw).unwrap();
    let helper_words = format!(
        "virt-ssh-helper: cannot connect to '{p}': Failed to connect socket to '{p}': \
         No such file or directory",
        p = rw.display()
    );
    let got = value(&failed, "open-error");
    assert!(
        got == [format!(
            "SystemError Rpc End of file while reading data: {helper_words}: Input/output error"
        )] || got
            == [format!(
                "SystemError Rpc Cannot recv data: {helper_words}: Connection reset by peer"
            )],
        "{failed:?}"
    );
    // The child's ssh processes, sessions and helpers are gone.
    assert_eq!(lab.settle(), Vec::<String>::new());
    // Timing (OXVIRT_SSH_TIMING=1): connect + list over ssh and over the unix socket.
    if !timing() {
        return;
    }
    let over_ssh = value(&lines, "connect+list")[0].to_owned();
    let local = format!(
        "test+unix:///default?socket={}",
        lab.daemon.sock().display()
    );
    let lines = facade(&lab, &local, &domain_xml("facade-u").replace("kvm", "test"));
    eprintln!(
        "facade connect+list: over ssh {over_ssh}, over the unix socket {}",
        value(&lines, "connect+list")[0]
    );
}

#[test]
fn failures_give_ssh_stderr_in_libvirts_words_and_leave_nothing_running() {
    let mut lab = Lab::start("fail");
    // A key sshd does not know: ssh's own words inside libvirt's message, the same from
    // virsh and from the facade.
    let uri = lab.uri("other_key");
    // Once known, the host key adds no warning to the message.
    assert!(lab
        .virsh(&["-c", &lab.uri("client_key"), "uri"])
        .status
        .success());
    let want = "Cannot recv data: root@127.0.0.1: Permission denied (publickey).: \
                Connection reset by peer";
    let out = lab.virsh(&["-c", &uri, "list"]);
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("error: failed to connect to the hypervisor\nerror: {want}\n"),
        "{}",
        text(&out)
    );
    let lines = facade(&lab, &uri, "");
    assert_eq!(
        value(&lines, "open-error"),
        [format!("SystemError Rpc {want}").as_str()]
    );
    assert_eq!(lab.settle(), Vec::<String>::new());

    // sshd down.
    lab.stop_sshd();
    let want = format!(
        "Cannot recv data: ssh: connect to host 127.0.0.1 port {PORT}: Connection refused: \
         Connection reset by peer"
    );
    let uri = lab.uri("client_key");
    let out = lab.virsh(&["-c", &uri, "list"]);
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("error: failed to connect to the hypervisor\nerror: {want}\n")
    );
    let lines = facade(&lab, &uri, "");
    assert_eq!(
        value(&lines, "open-error"),
        [format!("SystemError Rpc {want}").as_str()]
    );
    assert_eq!(lab.settle(), Vec::<String>::new());
}

/// What a fake `?command=` ssh recorded: its arguments and the names of its environment.
fn recorded(dir: &Path) -> (Vec<String>, Vec<String>) {
    let args = std::fs::read_to_string(dir.join("args")).unwrap();
    let env = std::fs::read_to_string(dir.join("env")).unwrap();
    let mut names: Vec<String> = env
        .split('\0')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, _)| k.to_owned())
        .collect();
    names.sort();
    (
        args.split('\0')
            .filter(|a| !a.is_empty())
            .map(str::to_owned)
            .collect(),
        names,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssh_command_lines_are_virshs() {
    // One fake ssh for both clients: it records its arguments and environment (NUL
    // separated), reads the AUTH_LIST call (28 bytes), complains and exits.
    assert!(
        common::have("/usr/bin/virsh"),
        "virsh is missing (libvirt-clients)"
    );
    let dir = common::TempDir::new("ssh-cmdline");
    let fake = dir.join("fake ssh");
    let script = "#!/bin/sh\nd=$(dirname \"$0\")\nprintf '%s\\0' \"$@\" > \"$d/args\"\n\
                  env -0 > \"$d/env\"\nhead -c 28 >/dev/null\necho \"oops\" >&2\nexit 255\n";
    // Written by another process, so that no descriptor of ours open for writing can
    // make the exec fail (ETXTBSY) if a test forks meanwhile.
    let status = Command::new("sh")
        .args([
            "-c",
            "printf '%s' \"$1\" > \"$2\" && chmod 755 \"$2\"",
            "sh",
        ])
        .arg(script)
        .arg(&fake)
        .status()
        .unwrap();
    assert!(status.success());
    let command = fake.to_str().unwrap().replace(' ', "%20");
    let uris = [
        format!("qemu+ssh://bob@h.example:2222/system?keyfile=/k%20y&no_verify=1&no_tty=1&foo=bar&command={command}"),
        format!("qemu+ssh://h/system?netcat=/bin/n%20c&socket=/s&command={command}"),
        format!("test+ssh://h/default?proxy=native&command={command}"),
        format!("qemu+ssh:///system?command={command}"),
        format!("qemu+ssh://[::1]/session?name=xen:///x%27y&command={command}"),
        format!("qemu+ssh://h/system?proxy=netcat&known_hosts=/kh&command={command}"),
    ];
    for uri in &uris {
        for read_only in [false, true] {
            let mut args = vec!["-c", uri.as_str(), "uri"];
            if read_only {
                args.insert(0, "-r");
            }
            let clear = || {
                let _ = std::fs::remove_file(dir.join("args"));
                let _ = std::fs::remove_file(dir.join("env"));
            };
            clear();
            let out = Command::new("virsh").args(&args).output().unwrap();
            let virsh_error = String::from_utf8_lossy(&out.stderr).into_owned();
            let theirs = recorded(&dir);
            assert!(theirs.0.len() > 4 && theirs.1.contains(&"LC_ALL".to_owned()));
            clear();
            let ours = if read_only {
                oxvirt::Connect::open_read_only(uri).await
            } else {
                oxvirt::Connect::open(uri).await
            };
            let ours_error = match ours {
                Ok(_) => panic!("{uri}: opened through a fake ssh"),
                Err(e) => e.message,
            };
            assert_eq!(recorded(&dir), theirs, "{uri} read_only={read_only}");
            assert_eq!(
                virsh_error,
                format!("error: failed to connect to the hypervisor\nerror: {ours_error}\n"),
                "{uri} read_only={read_only}"
            );
            assert_eq!(
                ours_error,
                "End of file while reading data: oops: Input/output error"
            );
        }
    }
}
