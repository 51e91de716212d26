//! OpenSSH's sshd on loopback in a network namespace the test creates, for the ssh
//! transport's tests (tests/ssh.rs) and migration over ssh (tests/migrate_secure.rs).
//!
//! sshd puts a directory first in the session's PATH (`SetEnv PATH=...`) where
//! `virt-ssh-helper` is a symlink to the built `oxvirt-ssh-helper` (Debian's own
//! /usr/bin/virt-ssh-helper is installed on the test machines and must not answer), and
//! sets OXVIRT_RUNTIME_DIR to the runtime directory of the daemon the sessions reach.
//!
//! The ssh clients run inside the namespace with `/etc/ssh/ssh_config` replaced, in their
//! own mount namespace, by one that keeps host keys in the test's directory (root's
//! ~/.ssh/known_hosts stays untouched): through [`Sshd::command`], or, for daemons that
//! `ip netns exec` starts, [`Sshd::client_config_for_namespace`].
//!
//! Needs root, ip, sshd (Debian's openssh-server), ssh and ssh-keygen (openssh-client),
//! virsh (libvirt-clients), and the helper built: `cargo build -p oxvirt-ssh-helper` (a
//! workspace build has it). A missing one fails the test with what is missing.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// sshd's port inside the test's namespace (nothing else listens there).
pub const PORT: u16 = 2222;

/// The built helper: `target/<profile>/oxvirt-ssh-helper`, beside `deps/` where this test
/// runs.
pub fn helper_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe
        .parent()
        .and_then(Path::parent)
        .map(|dir| dir.join("oxvirt-ssh-helper"))
        .unwrap();
    assert!(
        path.exists(),
        "{} is missing: build it first (cargo build -p oxvirt-ssh-helper)",
        path.display()
    );
    path
}

/// Fails the test with what is missing, if anything.
pub fn require_tools() {
    let mut missing = Vec::new();
    if !oxvirt_xml::testdata::is_root() {
        missing.push("not root (network namespaces, sshd)".to_owned());
    }
    for (tool, package) in [
        ("/usr/sbin/sshd", "openssh-server"),
        ("/usr/bin/ssh", "openssh-client"),
        ("/usr/bin/ssh-keygen", "openssh-client"),
        ("/usr/bin/virsh", "libvirt-clients"),
        ("/usr/bin/which", "debianutils"),
        ("/usr/sbin/ip", "iproute2"),
    ] {
        if !Path::new(tool).exists() {
            missing.push(format!("{tool} is missing (Debian package {package})"));
        }
    }
    assert!(missing.is_empty(), "ssh tests: {}", missing.join("; "));
}

/// Runs `cmd`, asserting success; its stdout.
pub fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The namespace, the test's keys and configuration, and sshd once [`Sshd::serve`]
/// started it; all torn down on drop (every process in the namespace killed, the
/// namespace and its `/etc/netns` entry deleted).
pub struct Sshd {
    /// The network namespace.
    pub ns: String,
    /// The test's directory: keys (`host_key`, `client_key` authorized, `other_key` not),
    /// `sshd_config`, `ssh_config`, `bin/virt-ssh-helper`.
    pub dir: PathBuf,
    sshd: Option<Child>,
    /// What sshd logged (`-e`), line by line.
    pub sshd_log: Arc<Mutex<Vec<String>>>,
}

impl Sshd {
    /// The namespace (loopback up), the keys and the client configuration; sshd itself is
    /// started by [`Sshd::serve`].
    pub fn new(tag: &str) -> Sshd {
        require_tools();
        let helper = helper_binary();
        let pid = std::process::id();
        let dir = std::env::temp_dir().join(format!("oxvirt-ssh-it-{pid}-{tag}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        let sshd = Sshd {
            ns: format!("oxvt-ssh{tag}-{pid}"),
            dir: dir.clone(),
            sshd: None,
            sshd_log: Arc::default(),
        };
        run_ok(Command::new("ip").args(["netns", "add", &sshd.ns]));
        run_ok(Command::new("ip").args(["-n", &sshd.ns, "link", "set", "lo", "up"]));
        for key in ["host_key", "client_key", "other_key"] {
            run_ok(Command::new("ssh-keygen").args([
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-C",
                key,
                "-f",
                dir.join(key).to_str().unwrap(),
            ]));
        }
        std::fs::copy(dir.join("client_key.pub"), dir.join("authorized_keys")).unwrap();
        std::os::unix::fs::symlink(&helper, dir.join("bin/virt-ssh-helper")).unwrap();
        let d = dir.display();
        std::fs::write(
            dir.join("ssh_config"),
            format!(
                "Host *\n  UserKnownHostsFile {d}/known_hosts\n  GlobalKnownHostsFile /dev/null\n"
            ),
        )
        .unwrap();
        sshd
    }

    /// Starts sshd in the namespace, its sessions reaching the daemon of `runtime_dir`.
    pub fn serve(&mut self, runtime_dir: &Path) {
        let d = self.dir.display();
        std::fs::write(
            self.dir.join("sshd_config"),
            format!(
                "Port {PORT}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile none\n\
                 AuthorizedKeysFile {d}/authorized_keys\nStrictModes no\nUsePAM no\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\n\
                 PermitRootLogin prohibit-password\nLogLevel VERBOSE\n\
                 SetEnv PATH={d}/bin:/usr/local/bin:/usr/bin:/bin OXVIRT_RUNTIME_DIR={}\n",
                runtime_dir.display()
            ),
        )
        .unwrap();
        // sshd's privilege separation directory (Debian's service unit makes it).
        std::fs::create_dir_all("/run/sshd").unwrap();
        self.start_sshd();
    }

    /// Starts sshd in the namespace and waits until it listens (says so in its log after
    /// what an earlier sshd logged).
    pub fn start_sshd(&mut self) {
        let earlier = self.sshd_log.lock().unwrap().len();
        let mut child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.ns,
                "/usr/sbin/sshd",
                "-D",
                "-e",
                "-f",
            ])
            .arg(self.dir.join("sshd_config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::clone(&self.sshd_log);
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                log.lock().unwrap().push(line);
            }
        });
        self.sshd = Some(child);
        let until = Instant::now() + Duration::from_secs(20);
        let ready = format!("Server listening on 127.0.0.1 port {PORT}.");
        while !self.sshd_log.lock().unwrap()[earlier..].contains(&ready) {
            let exited = self.sshd.as_mut().unwrap().try_wait().unwrap();
            assert!(
                exited.is_none() && Instant::now() < until,
                "sshd did not start ({exited:?}): {:?}",
                self.sshd_log.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the listening sshd (sessions in progress are killed on drop).
    pub fn stop_sshd(&mut self) {
        if let Some(mut child) = self.sshd.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// A command run inside the namespace, with the test's ssh client configuration.
    pub fn command(&self, program: &Path) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.ns, "sh", "-c"])
            .arg("mount --bind \"$0\" /etc/ssh/ssh_config && exec \"$@\"")
            .arg(self.dir.join("ssh_config"))
            .arg(program);
        cmd
    }

    /// `/etc/netns/NS/ssh/ssh_config`: every process `ip netns exec` starts in the
    /// namespace from now on (a daemon whose ssh client opens a destination) sees the
    /// test's client configuration as `/etc/ssh/ssh_config` (`ip netns exec` binds
    /// `/etc/netns/NS/*` over `/etc`), as [`Sshd::command`] gives one command. Call it
    /// before [`Sshd::serve`]: sshd then sees that directory as `/etc/ssh` too, which it
    /// does not read (its configuration and host key are the test's own files).
    pub fn client_config_for_namespace(&self) {
        let etc = self.netns_etc();
        std::fs::create_dir_all(etc.join("ssh")).unwrap();
        std::fs::copy(self.dir.join("ssh_config"), etc.join("ssh/ssh_config")).unwrap();
    }

    fn netns_etc(&self) -> PathBuf {
        Path::new("/etc/netns").join(&self.ns)
    }

    /// `test+ssh://root@127.0.0.1:PORT/default` with `key` and no host key check.
    pub fn uri(&self, key: &str) -> String {
        format!(
            "test+ssh://root@127.0.0.1:{PORT}/default?keyfile={}&no_verify=1",
            self.dir.join(key).display()
        )
    }

    /// `qemu+ssh://root@127.0.0.1:PORT/system` with the authorized key.
    pub fn qemu_uri(&self) -> String {
        format!(
            "qemu+ssh://root@127.0.0.1:{PORT}/system?keyfile={}&no_verify=1",
            self.dir.join("client_key").display()
        )
    }

    /// The processes in the namespace but the listening sshd.
    pub fn others_in_ns(&self) -> Vec<String> {
        let listener = self.sshd.as_ref().map(Child::id);
        let pids = run_ok(Command::new("ip").args(["netns", "pids", &self.ns]));
        pids.split_whitespace()
            .filter(|p| Some(p.parse::<u32>().unwrap_or(0)) != listener)
            // The `ip netns exec` wrapper of sshd is sshd itself (exec).
            .map(|p| {
                let cmdline = std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
                format!(
                    "{p}: {}",
                    String::from_utf8_lossy(&cmdline).replace('\0', " ")
                )
            })
            .collect()
    }

    /// Waits (up to 10 s) until nothing but the listening sshd runs in the namespace: ssh
    /// sessions, helpers and clients all gone. What is left, if anything.
    pub fn settle(&self) -> Vec<String> {
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            let left = self.others_in_ns();
            if left.is_empty() || Instant::now() > until {
                return left;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.stop_sshd();
        if let Ok(out) = Command::new("ip")
            .args(["netns", "pids", &self.ns])
            .output()
        {
            for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                let _ = Command::new("kill").args(["-9", pid]).status();
            }
        }
        let _ = Command::new("ip")
            .args(["netns", "delete", &self.ns])
            .status();
        let _ = std::fs::remove_dir_all(self.netns_etc());
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
