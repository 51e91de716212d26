//! Access control end to end: Debian's virsh run as an unprivileged user (an unused uid
//! and gid, through `setpriv`) against the daemon with its sockets open to everyone.
//! Without a policy the user is refused on the read-write socket and may only read on the
//! read-only one; with a policy that lets the user start domain `a`, only `a` is visible
//! and startable; root is never limited; every denial is a warning in the daemon's log
//! naming subject, procedure and object.

#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::fs::chown;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::tls::pki::Ca;
use common::tls::{client_dir, require_virsh, server_dir, text, tls_daemon};
use common::{free_port, oxvirtd, virsh, Daemon, TempDir};

/// An unprivileged user: a uid and gid no account has, and a home it owns.
struct User {
    uid: u32,
    home: TempDir,
}

impl User {
    fn new(tag: &str) -> User {
        require_virsh();
        assert!(
            Path::new("/usr/bin/setpriv").exists(),
            "this test needs setpriv (package util-linux)"
        );
        let me = Command::new("id").arg("-u").output().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&me.stdout).trim(),
            "0",
            "this test runs virsh as another user with setpriv, which needs root"
        );
        let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
        let group = std::fs::read_to_string("/etc/group").unwrap_or_default();
        let taken = |text: &str, id: u32| {
            text.lines()
                .any(|l| l.split(':').nth(2) == Some(id.to_string().as_str()))
        };
        let uid = (64100..65000)
            .find(|&id| !taken(&passwd, id) && !taken(&group, id))
            .unwrap();
        let home = TempDir::new(&format!("{tag}-home"));
        chown(&*home, Some(uid), Some(uid)).unwrap();
        User { uid, home }
    }

    /// `command` (a program and its arguments) to be run as this user, in its home.
    fn command(&self, command: &[&str]) -> Command {
        let id = self.uid.to_string();
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid", &id, "--regid", &id, "--clear-groups"])
            .args(command)
            .env("HOME", &*self.home)
            .env("XDG_CONFIG_HOME", self.home.join("config"))
            .env("XDG_CACHE_HOME", self.home.join("cache"))
            .env("XDG_RUNTIME_DIR", &*self.home);
        cmd
    }

    /// `policy`, its `UID` this user's uid, written to `dir/policy.toml`; its path.
    fn write_policy(&self, dir: &Path, policy: &str) -> PathBuf {
        let path = dir.join("policy.toml");
        std::fs::write(&path, policy.replace("UID", &self.uid.to_string())).unwrap();
        path
    }

    /// virsh on `uri` as this user, stopped after 30 s.
    fn virsh(&self, uri: &str, args: &[&str]) -> Output {
        self.command(&["timeout", "30", "virsh", "-c", uri])
            .args(args)
            .output()
            .unwrap()
    }
}

fn ok(out: Output) -> String {
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The command failed with `error` among virsh's error lines.
fn refused(out: Output, error: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.lines().any(|l| l == error),
        "expected {error:?}\n{}",
        text(&out)
    );
}

/// The flags of a daemon whose read-write socket anyone may open, under the access policy
/// in `policy`.
fn under_policy(policy: &Path) -> [&str; 4] {
    [
        "--unix-sock-rw-perms",
        "0666",
        "--access-policy",
        policy.to_str().unwrap(),
    ]
}

/// Writes the definition of a test-driver domain `name` to `dir/{name}.xml`; its path.
fn domain_xml(dir: &Path, name: &str) -> String {
    let xml = dir.join(format!("{name}.xml"));
    std::fs::write(
        &xml,
        format!(
            "<domain type='test'><name>{name}</name><memory>8192</memory>\
             <os><type>hvm</type></os></domain>"
        ),
    )
    .unwrap();
    xml.display().to_string()
}

/// The names `virsh list --all --name` prints.
fn names(out: String) -> Vec<String> {
    out.lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

#[test]
fn without_a_policy_unprivileged_users_only_read() {
    let user = User::new("acl-nopolicy");
    let mut daemon = Daemon::logged("acl-nopolicy", &["--unix-sock-rw-perms", "0666"]);

    // Refused on the read-write socket, as libvirtd's polkit default refuses them.
    let out = user.virsh(&daemon.uri(), &["list", "--all"]);
    refused(out, "error: access denied: 'Test' denied access");
    let qemu = format!("qemu+unix:///system?socket={}", daemon.sock().display());
    let out = user.virsh(&qemu, &["list", "--all"]);
    refused(out, "error: access denied: 'QEMU' denied access");

    // Reads work on the read-only socket.
    let ro = daemon.ro_uri();
    assert_eq!(
        names(ok(user.virsh(&ro, &["list", "--all", "--name"]))),
        ["test"]
    );
    assert!(ok(user.virsh(&ro, &["dominfo", "test"])).contains("State:          running"));
    assert!(ok(user.virsh(&ro, &["net-list", "--all"])).contains("default"));
    assert!(ok(user.virsh(&ro, &["pool-list", "--all"])).contains("default-pool"));

    // Every write is refused there.
    let xml = domain_xml(&user.home, "x");
    let xml = xml.as_str();
    let writes: &[(&[&str], &str)] = &[
        (&["destroy", "test"], "virDomainDestroy"),
        (&["suspend", "test"], "virDomainSuspend"),
        (&["shutdown", "test"], "virDomainShutdown"),
        (&["reboot", "test"], "virDomainReboot"),
        (&["reset", "test"], "virDomainReset"),
        (&["setmem", "test", "4096"], "virDomainSetMemoryFlags"),
        (&["autostart", "test"], "virDomainSetAutostart"),
        (&["define", xml], "virDomainDefineXML"),
        (&["create", xml], "virDomainCreateXML"),
        (&["undefine", "test"], "virDomainUndefineFlags"),
        (&["net-destroy", "default"], "virNetworkDestroy"),
        (&["net-autostart", "default"], "virNetworkSetAutostart"),
        (&["pool-destroy", "default-pool"], "virStoragePoolDestroy"),
    ];
    for (args, function) in writes {
        let out = user.virsh(&ro, args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success()
                && stderr.contains(&format!(
                    "operation forbidden: read only access prevents {function}"
                )),
            "{args:?}\n{}",
            text(&out)
        );
    }
    // Nothing changed.
    let root_view = ok(virsh(&daemon.uri(), &["list", "--all"]));
    assert!(root_view.contains(" 1    test   running"), "{root_view}");

    // Root is not limited on the read-write socket.
    assert_eq!(
        names(ok(virsh(&daemon.uri(), &["list", "--all", "--name"]))),
        ["test"]
    );

    daemon.signal_and_wait("TERM");
    let log = daemon.stderr();
    let line = log
        .lines()
        .find(|l| l.contains("access denied") && l.contains("CONNECT_OPEN"))
        .unwrap_or_else(|| panic!("no denial logged:\n{log}"));
    assert!(line.contains(": warning : "), "{line}");
    assert!(
        line.contains(&format!("uid={} gid={}", user.uid, user.uid)),
        "{line}"
    );
    assert!(line.contains("pid="), "{line}");
}

/// Without a policy, members of `unix_sock_group` may use the read-write socket (as
/// Debian's polkit rule lets the `libvirt` group manage libvirtd).
#[test]
fn without_a_policy_the_socket_group_may_write() {
    let user = User::new("acl-group");
    let gid = user.uid.to_string();
    let daemon = Daemon::start_with(
        "acl-group",
        &["--unix-sock-rw-perms", "0660", "--unix-sock-group", &gid],
    );
    // The user is in the group by its primary gid (setpriv --regid).
    ok(user.virsh(&daemon.uri(), &["destroy", "test"]));
    assert!(ok(user.virsh(&daemon.uri(), &["list", "--all"])).contains("test   shut off"));
}

const POLICY: &str = r#"
# The test user may connect and list, and see and start domain "a" only.
default = "deny"

[[rule]]
action = "allow"
uids = [UID]
operations = ["connect:getattr", "connect:write", "connect:read", "connect:search_*"]

[[rule]]
action = "allow"
uids = [UID]
operations = ["domain:getattr", "domain:read", "domain:start"]
domains = ["a"]

[[rule]]
action = "allow"
uids = [UID]
operations = ["network:getattr", "network:read"]
networks = ["default"]

[[rule]]
action = "allow"
uids = [UID]
operations = ["domain:write", "domain:save"]
domains = ["new-*"]
"#;

#[test]
fn a_policy_lets_the_user_start_a_only() {
    let user = User::new("acl-policy");
    let dir = TempDir::new("acl-policy-files");
    let policy = user.write_policy(&dir, POLICY);
    let mut daemon = Daemon::logged("acl-policy", &under_policy(&policy));
    let uri = daemon.uri();
    for name in ["a", "b"] {
        ok(virsh(&uri, &["define", &domain_xml(&dir, name)]));
    }

    // Listing shows only what the user may see.
    assert_eq!(
        names(ok(user.virsh(&uri, &["list", "--all", "--name"]))),
        ["a"]
    );
    assert!(ok(user.virsh(&uri, &["list", "--all"])).contains(" -    a      shut off"));

    // The same for networks and pools.
    assert_eq!(
        names(ok(user.virsh(&uri, &["net-list", "--all", "--name"]))),
        ["default"]
    );
    assert!(!names(ok(virsh(&uri, &["pool-list", "--all", "--name"]))).is_empty());
    assert!(names(ok(user.virsh(&uri, &["pool-list", "--all", "--name"]))).is_empty());
    refused(
        user.virsh(&uri, &["pool-dumpxml", "default-pool"]),
        "error: failed to get pool 'default-pool'",
    );

    // Starting a works, b does not (it cannot even be looked up), nor stopping a.
    assert!(ok(user.virsh(&uri, &["start", "a"])).contains("Domain 'a' started"));
    refused(
        user.virsh(&uri, &["start", "b"]),
        "error: failed to get domain 'b'",
    );
    refused(
        user.virsh(&uri, &["destroy", "a"]),
        "error: access denied: 'Test' denied access",
    );
    refused(
        user.virsh(&uri, &["setmem", "a", "4096"]),
        "error: access denied: 'Test' denied access",
    );
    refused(
        user.virsh(&uri, &["dumpxml", "test"]),
        "error: failed to get domain 'test'",
    );
    assert!(ok(user.virsh(&uri, &["dominfo", "a"])).contains("State:          running"));

    // Definitions are checked against the name in their XML.
    for name in ["new-1", "c"] {
        let out = user.virsh(&uri, &["define", &domain_xml(&dir, name)]);
        if name == "new-1" {
            assert!(ok(out).contains("Domain 'new-1' defined"));
        } else {
            refused(out, "error: access denied: 'Test' denied access");
        }
    }

    // Root is not limited.
    assert_eq!(
        names(ok(virsh(&uri, &["list", "--all", "--name"]))),
        ["test", "a", "b", "new-1"]
    );
    ok(virsh(&uri, &["start", "b"]));
    ok(virsh(&uri, &["destroy", "a"]));

    daemon.signal_and_wait("TERM");
    let log = daemon.stderr();
    let denial = |procedure: &str, object: &str| {
        log.lines()
            .find(|l| l.contains("access denied") && l.contains(procedure) && l.contains(object))
            .unwrap_or_else(|| panic!("no denial of {procedure} on {object} logged:\n{log}"))
            .to_owned()
    };
    let line = denial("DOMAIN_LOOKUP_BY_NAME", "domain 'b'");
    assert!(
        line.contains(&format!("uid={} gid={}", user.uid, user.uid)),
        "{line}"
    );
    assert!(line.contains("domain:getattr"), "{line}");
    let line = denial("DOMAIN_DESTROY", "domain 'a'");
    assert!(line.contains("domain:stop"), "{line}");
    assert!(line.contains("(default)"), "{line}");
}

#[test]
fn a_bad_policy_stops_the_daemon_naming_file_and_line() {
    let dir = TempDir::new("acl-bad");
    let policy = dir.join("policy.toml");
    // oxvirtd under the policy `rules`: it must exit with status 1.
    let start = |rules: &str| {
        std::fs::write(&policy, rules).unwrap();
        let out = oxvirtd()
            .arg("--runtime-dir")
            .arg(dir.join("run"))
            .arg("--state-dir")
            .arg(dir.join("state"))
            .arg("--access-policy")
            .arg(&policy)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        out
    };
    let out = start("[[rule]]\naction = \"allow\"\noperations = [\"domain:strat\"]\n");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim_end(),
        format!(
            "oxvirtd: access policy {}:3: operation 'domain:strat' matches no libvirt \
             permission (object:permission, like domain:start)",
            policy.display()
        )
    );
    assert!(!dir.join("run/libvirt-sock").exists());

    let out = start("[[rule]]\naction = \"allow\"\nusers = [\"no-such-user-x\"]\n");
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains(":1: unknown user 'no-such-user-x' (not in passwd)"),
        "{}",
        text(&out)
    );
}

#[test]
fn events_only_for_domains_the_user_may_see() {
    let user = User::new("acl-events");
    let dir = TempDir::new("acl-events-files");
    let policy = user.write_policy(&dir, POLICY);
    let daemon = Daemon::start_with("acl-events", &under_policy(&policy));
    let uri = daemon.uri();
    for name in ["a", "b"] {
        ok(virsh(&uri, &["define", &domain_xml(&dir, name)]));
    }
    let watcher = user
        .command(&[
            "virsh",
            "-c",
            &uri,
            "event",
            "--all",
            "--loop",
            "--timeout",
            "8",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let root_watcher = Command::new("virsh")
        .args(["-c", &uri, "event", "--all", "--loop", "--timeout", "8"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Root changes both domains for a while: the watcher sees a's events, never b's.
    for _ in 0..6 {
        std::thread::sleep(std::time::Duration::from_millis(500));
        for name in ["a", "b"] {
            ok(virsh(&uri, &["start", name]));
            ok(virsh(&uri, &["destroy", name]));
        }
    }
    let out = watcher.wait_with_output().unwrap();
    let events = String::from_utf8_lossy(&out.stdout);
    assert!(
        events.contains("event 'lifecycle' for domain 'a': Started Booted"),
        "{}",
        text(&out)
    );
    assert!(!events.contains("domain 'b'"), "{}", text(&out));
    // Root sees both.
    let out = root_watcher.wait_with_output().unwrap();
    let events = String::from_utf8_lossy(&out.stdout);
    assert!(
        events.contains("event 'lifecycle' for domain 'b': Started Booted"),
        "{}",
        text(&out)
    );
}

/// TLS clients are subjects by their certificate's DN: alice may read, bob may not even
/// connect; neither is privileged, whoever runs the client.
#[test]
fn x509_dn_rules_decide_for_tls_clients() {
    require_virsh();
    let dir = TempDir::new("acl-tls-pki");
    let mut ca = Ca::new("oxvirt test CA");
    let server = server_dir(&mut ca, &dir.join("server"), true);
    for name in ["alice", "bob", "carol"] {
        client_dir(&mut ca, &dir.join(name), name);
    }
    let policy = dir.join("policy.toml");
    std::fs::write(
        &policy,
        "[[rule]]\naction = \"allow\"\nx509_dns = [\"O=oxvirt test,CN=alice\"]\n\
         operations = [\"connect:*\", \"domain:getattr\", \"domain:read\"]\n\n\
         [[rule]]\naction = \"allow\"\nx509_dns = [\"O=oxvirt test,CN=carol\"]\n",
    )
    .unwrap();
    let port = free_port();
    let crl = server.join("cacrl.pem").display().to_string();
    let mut daemon = tls_daemon(
        "acl-tls",
        &server,
        port,
        &[
            "--crl-file",
            &crl,
            "--access-policy",
            policy.to_str().unwrap(),
        ],
    );
    let uri = |who: &str| {
        format!(
            "test+tls://127.0.0.1:{port}/default?pkipath={}",
            dir.join(who).display()
        )
    };
    assert_eq!(
        names(ok(virsh(&uri("alice"), &["list", "--all", "--name"]))),
        ["test"]
    );
    assert!(ok(virsh(&uri("alice"), &["dominfo", "test"])).contains("running"));
    refused(
        virsh(&uri("alice"), &["destroy", "test"]),
        "error: access denied: 'Test' denied access",
    );
    // A stream procedure is no way around the policy (domain:screenshot not granted).
    let shot = dir.join("shot.ppm");
    refused(
        virsh(
            &uri("alice"),
            &["screenshot", "test", shot.to_str().unwrap()],
        ),
        "error: access denied: 'Test' denied access",
    );
    refused(
        virsh(&uri("bob"), &["list", "--all"]),
        "error: access denied: 'Test' denied access",
    );
    // Root on the unix socket is not limited.
    ok(virsh(&daemon.uri(), &["list", "--all"]));
    // carol may do anything the policy covers, but not make the daemon act with its own
    // privileges on a peer-to-peer destination URI's parameters (`?command=` would run a
    // program as the daemon).
    let qemu = format!(
        "qemu+tls://127.0.0.1:{port}/system?pkipath={}",
        dir.join("carol").display()
    );
    let xml = dir.join("mig.xml");
    std::fs::write(
        &xml,
        "<domain type='qemu'><name>mig</name><memory unit='MiB'>32</memory>\
         <os><type arch='x86_64'>hvm</type></os></domain>",
    )
    .unwrap();
    ok(virsh(&qemu, &["define", xml.to_str().unwrap()]));
    for param in [
        "command=/bin/true",
        "pkipath=/root",
        "keyfile=/root/.ssh/id_rsa",
    ] {
        let key = param.split('=').next().unwrap();
        refused(
            virsh(
                &qemu,
                &[
                    "migrate",
                    "--offline",
                    "--persistent",
                    "--p2p",
                    "mig",
                    &format!("qemu+ssh://127.0.0.1/system?{param}"),
                ],
            ),
            &format!(
                "error: operation forbidden: the destination URI's '{key}' parameter is \
                 accepted from root only: the daemon would act on it with its own privileges"
            ),
        );
    }
    ok(virsh(&qemu, &["undefine", "mig"]));

    daemon.signal_and_wait("TERM");
    let log = daemon.stderr();
    assert!(
        log.lines().any(|l| l.contains("CN=carol")
            && l.contains("its 'command' parameter (accepted from root only)")),
        "{log}"
    );
    let line = log
        .lines()
        .find(|l| l.contains("access denied") && l.contains("CN=bob"))
        .unwrap_or_else(|| panic!("no denial of bob logged:\n{log}"));
    assert!(line.contains("x509_dn='O=oxvirt test,CN=bob'"), "{line}");
    assert!(line.contains("CONNECT_OPEN"), "{line}");
    assert!(line.contains("peer='tls 127.0.0.1:"), "{line}");
    assert!(
        log.lines().any(|l| l.contains("access denied")
            && l.contains("CN=alice")
            && l.contains("DOMAIN_DESTROY")),
        "{log}"
    );
}

/// Debian's libvirtd 9.0 with polkit access control (`access_drivers = ["polkit"]`), in
/// a private mount namespace with its own system bus and polkitd, a polkit rule for the
/// test user and the user in a private copy of /etc/passwd: the reference for what a
/// denial looks like. Killed (with its bus and polkitd) on drop.
struct PolkitLibvirtd {
    child: std::process::Child,
    dir: TempDir,
}

impl PolkitLibvirtd {
    fn start(uid: u32, rules: &str) -> PolkitLibvirtd {
        for (tool, package) in [
            ("/usr/sbin/libvirtd", "libvirt-daemon-system"),
            ("/usr/bin/dbus-daemon", "dbus"),
            ("/usr/lib/polkit-1/polkitd", "polkitd"),
            ("/usr/bin/unshare", "util-linux"),
        ] {
            assert!(
                Path::new(tool).exists(),
                "this test needs {tool} (package {package})"
            );
        }
        let dir = TempDir::new("acl-libvirtd");
        let d = |p: &str| dir.join(p).display().to_string();
        std::fs::create_dir_all(dir.join("sock")).unwrap();
        let mut passwd = std::fs::read_to_string("/etc/passwd").unwrap();
        passwd.push_str(&format!("acltest:x:{uid}:{uid}::/nonexistent:/bin/sh\n"));
        std::fs::write(dir.join("passwd"), passwd).unwrap();
        let mut group = std::fs::read_to_string("/etc/group").unwrap();
        group.push_str(&format!("acltest:x:{uid}:\n"));
        std::fs::write(dir.join("group"), group).unwrap();
        std::fs::write(dir.join("10-acltest.rules"), rules).unwrap();
        std::fs::write(
            dir.join("libvirtd.conf"),
            format!(
                "unix_sock_dir = \"{}\"\nunix_sock_rw_perms = \"0666\"\n\
                 auth_unix_rw = \"none\"\nauth_unix_ro = \"none\"\n\
                 access_drivers = [ \"polkit\" ]\nlog_outputs = \"3:stderr\"\n",
                d("sock")
            ),
        )
        .unwrap();
        let script = format!(
            "set -e\n\
             for m in /run/dbus /run/libvirt /var/run/libvirt /var/lib/libvirt \
               /etc/libvirt/qemu /etc/libvirt/storage /etc/libvirt/qemu/networks \
               /var/cache/libvirt /var/log/libvirt /etc/polkit-1/rules.d; do \
               mkdir -p $m; mount -t tmpfs oxvirt-acl $m; done\n\
             cp {rules} /etc/polkit-1/rules.d/\n\
             mount --bind {passwd} /etc/passwd\n\
             mount --bind {group} /etc/group\n\
             dbus-daemon --system --nofork & DBUS=$!\n\
             while [ ! -S /run/dbus/system_bus_socket ]; do sleep 0.05; done\n\
             /usr/lib/polkit-1/polkitd --no-debug & PK=$!\n\
             trap 'kill $LV $PK $DBUS 2>/dev/null' EXIT INT TERM\n\
             libvirtd -f {conf} -p {pid} & LV=$!\n\
             wait $LV\n",
            rules = d("10-acltest.rules"),
            passwd = d("passwd"),
            group = d("group"),
            conf = d("libvirtd.conf"),
            pid = d("libvirtd.pid"),
        );
        let child = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c", &script])
            .stdout(std::fs::File::create(dir.join("libvirtd.out")).unwrap())
            .stderr(std::fs::File::create(dir.join("libvirtd.log")).unwrap())
            .spawn()
            .unwrap();
        let mut lv = PolkitLibvirtd { child, dir };
        for _ in 0..1500 {
            if std::os::unix::net::UnixStream::connect(lv.sock()).is_ok() {
                return lv;
            }
            if let Ok(Some(status)) = lv.child.try_wait() {
                panic!("libvirtd exited ({status}): {}", lv.log());
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        panic!("libvirtd did not start: {}", lv.log());
    }

    fn sock(&self) -> std::path::PathBuf {
        self.dir.join("sock/libvirt-sock")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("libvirtd.log")).unwrap_or_default()
    }
}

impl Drop for PolkitLibvirtd {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        for _ in 0..500 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The polkit rule of the comparison: the user may not see `b`, may start `a`; polkit's
/// defaults for libvirt's actions do the rest (getattr, read and search for anyone).
const POLKIT_RULES: &str = r#"
polkit.addRule(function(action, subject) {
    if (subject.user != "acltest") return polkit.Result.NOT_HANDLED;
    if (action.id == "org.libvirt.api.domain.getattr" && action.lookup("domain_name") == "b")
        return polkit.Result.NO;
    if (action.id == "org.libvirt.api.domain.start" && action.lookup("domain_name") == "a")
        return polkit.Result.YES;
    return polkit.Result.NOT_HANDLED;
});
"#;

/// The same as an oxvirtd policy: the rule, then libvirt's polkit defaults (and
/// connect:write, which oxvirtd asks of a read-write CONNECT_OPEN).
const SAME_POLICY: &str = r#"
[[rule]]
action = "deny"
uids = [UID]
operations = ["domain:getattr"]
domains = ["b"]

[[rule]]
action = "allow"
uids = [UID]
operations = ["domain:start"]
domains = ["a"]

[[rule]]
action = "allow"
operations = ["*:getattr", "*:read", "connect:search_*", "connect:write"]
"#;

/// What the user sees of one command on a daemon, for comparing daemons.
fn seen(out: &Output) -> String {
    format!(
        "status {:?}\n{}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The same user, policy and commands against libvirtd (polkit ACLs) and oxvirtd: the
/// same listings and the same refusals, word for word.
#[test]
fn same_denials_as_libvirtd_with_polkit() {
    let user = User::new("acl-cmp");
    let files = TempDir::new("acl-cmp-files");
    let policy = user.write_policy(&files, SAME_POLICY);
    let lv = PolkitLibvirtd::start(user.uid, POLKIT_RULES);
    let ox = Daemon::logged("acl-cmp", &under_policy(&policy));
    let uris = [
        format!("qemu+unix:///system?socket={}", lv.sock().display()),
        format!("qemu+unix:///system?socket={}", ox.sock().display()),
    ];
    for name in ["a", "b", "c"] {
        std::fs::write(
            files.join(format!("{name}.xml")),
            format!(
                "<domain type='qemu'><name>{name}</name><memory unit='MiB'>32</memory>\
                 <os><type arch='x86_64'>hvm</type></os></domain>"
            ),
        )
        .unwrap();
    }
    let xml = |name: &str| files.join(format!("{name}.xml")).display().to_string();
    for uri in &uris {
        for name in ["a", "b"] {
            ok(virsh(uri, &["define", &xml(name)]));
        }
    }
    let commands: Vec<Vec<String>> = vec![
        vec!["list".into(), "--all".into(), "--name".into()],
        vec!["start".into(), "b".into()],
        vec!["dominfo".into(), "b".into()],
        vec![
            "setmaxmem".into(),
            "a".into(),
            "40000".into(),
            "--config".into(),
        ],
        vec!["autostart".into(), "a".into()],
        vec!["undefine".into(), "a".into()],
        vec!["define".into(), xml("c")],
    ];
    for args in &commands {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let theirs = seen(&user.virsh(&uris[0], &args));
        let ours = seen(&user.virsh(&uris[1], &args));
        assert_eq!(ours, theirs, "virsh {args:?}");
        println!("virsh {args:?}:\n{theirs}");
    }
    let count = "import libvirt, sys\n\
                 c = libvirt.open(sys.argv[1])\n\
                 print(c.numOfDefinedDomains(), c.listDefinedDomains())\n\
                 try:\n    c.lookupByName('b')\n\
                 except libvirt.libvirtError as e:\n\
                 \x20   print(e.get_error_code(), e.get_error_domain(), e)\n";
    let python = |uri: &str| {
        seen(
            &user
                .command(&["/usr/bin/python3", "-c", count, uri])
                .output()
                .unwrap(),
        )
    };
    let theirs = python(&uris[0]);
    assert_eq!(python(&uris[1]), theirs);
    assert!(
        theirs.contains("1 ['a']\n88 55 access denied: 'QEMU' denied access"),
        "{theirs}"
    );
    // Root is not limited by either.
    for uri in &uris {
        assert_eq!(
            names(ok(virsh(uri, &["list", "--all", "--name"]))),
            ["a", "b"]
        );
    }
    assert!(lv.log().contains("access denied: 'QEMU' denied access"));
}
