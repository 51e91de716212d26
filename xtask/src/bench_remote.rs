//! `cargo xtask bench remote`: what remote access costs, on a release oxvirtd and on a
//! private Debian libvirtd 9.0, same python3-libvirt client, same run
//! (`xtask/data/remote_bench.py`, one long-lived process per client identity, so its
//! start-up is not timed; every target interleaved with the others).
//!
//! 1. connect + open + `getLibVersion()` + close over the unix socket, TLS
//!    (`qemu+tls://127.0.0.1:PORT/system?pkipath=DIR`) and SSH (`qemu+ssh://`, OpenSSH's
//!    sshd with a key; oxvirtd reached through `oxvirt-ssh-helper`, libvirtd through
//!    Debian's `virt-ssh-helper`), median over `OXBENCH_ROUNDS` (200; SSH a tenth of it);
//! 2. calls per second on one open connection: 2,000 `getLibVersion()` and 2,000
//!    `dom.info()` of a defined (not running) TCG domain, median of 5 repetitions, over
//!    unix and TLS;
//! 3. access control: an unprivileged uid (`setpriv`) on the read-only and read-write
//!    sockets and a TLS client (its certificate's DN), on an oxvirtd without and one with a
//!    policy of five rules; for libvirtd, the same uid on a libvirtd without access control
//!    and on one with polkit (`access_drivers = ["polkit"]`, its own system bus, polkitd and
//!    a rules file of the same five rules). libvirt's polkit driver knows no TLS subject, so
//!    TLS with polkit is not measured.
//!
//! Everything runs in one network namespace (`oxvt-brem-<pid>-n`): two oxvirtd (without
//! and with the policy), two libvirtd (plain with TLS, and polkit) each in a mount
//! namespace of its own with tmpfs over libvirt's state folders (the system's daemon and
//! files are untouched), two sshd, and the clients. Certificates are made with GnuTLS's
//! `certtool` as libvirt's documentation makes them. Everything (daemons, sshd, bus,
//! polkitd, namespace, scratch folder) is removed at the end, also on failure. The table is
//! printed and written to `target/bench/remote.txt`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::bench_network::{is_root, NetnsLab};
use crate::{cargo, step};

/// The domain every daemon has defined (not running).
const DOMAIN: &str = "remotebench";
/// Calls per throughput repetition.
const CALLS: usize = 2000;
/// Throughput repetitions (after one untimed).
const REPEATS: usize = 9;
/// Connect rounds unless `OXBENCH_ROUNDS` says otherwise.
const DEFAULT_ROUNDS: usize = 200;
/// TLS ports inside the namespace: oxvirtd, oxvirtd with the policy, libvirtd.
const TLS_OX: u16 = 16514;
const TLS_OXP: u16 = 16515;
const TLS_LV: u16 = 16516;
/// sshd ports: the one whose sessions find oxvirt-ssh-helper, the one in libvirtd's
/// mount namespace (Debian's virt-ssh-helper finds that libvirtd's socket).
const SSH_OX: u16 = 2222;
const SSH_LV: u16 = 2223;
/// The client certificate's DN, as oxvirtd and libvirt print it.
const CLIENT_DN: &str = "O=oxvirt bench,CN=client";

/// oxvirtd's policy: five rules for the bench user and the TLS client.
const POLICY: &str = r#"
default = "deny"

[[rule]]
action = "deny"
uids = [UID]
operations = ["domain:*"]
domains = ["secret-*"]

[[rule]]
action = "allow"
uids = [UID]
operations = ["connect:getattr", "connect:read", "connect:write", "connect:search_*"]

[[rule]]
action = "allow"
uids = [UID]
operations = ["domain:getattr", "domain:read"]
domains = ["remotebench"]

[[rule]]
action = "allow"
uids = [UID]
operations = ["network:getattr", "network:read"]
networks = ["default"]

[[rule]]
action = "allow"
x509_dns = ["DN"]
operations = ["connect:*", "domain:getattr", "domain:read"]
"#;

/// The same five rules for libvirtd's polkit driver.
const POLKIT_RULES: &str = r#"
polkit.addRule(function(action, subject) {
    if (subject.user != "remotebench") return polkit.Result.NOT_HANDLED;
    var id = action.id, dom = action.lookup("domain_name");
    if (id.indexOf("org.libvirt.api.domain.") == 0 && dom && dom.indexOf("secret-") == 0)
        return polkit.Result.NO;
    if (id == "org.libvirt.api.connect.getattr" || id == "org.libvirt.api.connect.read" ||
        id == "org.libvirt.api.connect.write" || id.indexOf("org.libvirt.api.connect.search-") == 0)
        return polkit.Result.YES;
    if ((id == "org.libvirt.api.domain.getattr" || id == "org.libvirt.api.domain.read") &&
        dom == "remotebench")
        return polkit.Result.YES;
    if ((id == "org.libvirt.api.network.getattr" || id == "org.libvirt.api.network.read") &&
        action.lookup("network_name") == "default")
        return polkit.Result.YES;
    return polkit.Result.NO;
});
"#;

/// One figure of the python client: median, min, max over `n` samples.
#[derive(Debug, Clone, PartialEq)]
struct Figure {
    label: String,
    metric: String,
    median: f64,
    min: f64,
    max: f64,
    n: usize,
}

/// `RESULT LABEL METRIC MEDIAN MIN MAX COUNT` lines.
fn parse_results(text: &str) -> Vec<Figure> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() != 7 || f[0] != "RESULT" {
                return None;
            }
            Some(Figure {
                label: f[1].to_string(),
                metric: f[2].to_string(),
                median: f[3].parse().ok()?,
                min: f[4].parse().ok()?,
                max: f[5].parse().ok()?,
                n: f[6].parse().ok()?,
            })
        })
        .collect()
}

/// `/proc/loadavg`'s first three figures.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|t| t.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn have(tool: &str) -> bool {
    if tool.starts_with('/') {
        return Path::new(tool).exists();
    }
    ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        .iter()
        .any(|d| Path::new(d).join(tool).exists())
}

/// Runs `c`, failing with its output.
fn run(c: &mut Command) -> Result<String> {
    let out = c.output().with_context(|| format!("running {c:?}"))?;
    if !out.status.success() {
        bail!(
            "{c:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Waits until `file` contains `marker`.
fn wait_log(file: &Path, marker: &str, secs: u64) -> Result<()> {
    let started = Instant::now();
    while !std::fs::read_to_string(file).is_ok_and(|t| t.contains(marker)) {
        if started.elapsed().as_secs() > secs {
            bail!(
                "no '{marker}' in {} after {secs} s:\n{}",
                file.display(),
                std::fs::read_to_string(file).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// Waits until TCP 127.0.0.1:`port` of namespace `ns` accepts connections.
fn wait_port(ns: &str, port: u16) -> Result<()> {
    run(Command::new("ip").args([
        "netns",
        "exec",
        ns,
        "timeout",
        "60",
        "bash",
        "-c",
        &format!("until : 2>/dev/null </dev/tcp/127.0.0.1/{port}; do sleep 0.05; done"),
    ]))
    .with_context(|| format!("nothing listens on 127.0.0.1:{port} in {ns}"))?;
    Ok(())
}

/// An unused uid (and gid of the same number) between 64100 and 65000.
fn free_uid() -> Result<u32> {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let group = std::fs::read_to_string("/etc/group").unwrap_or_default();
    let taken = |text: &str, id: u32| {
        text.lines()
            .any(|l| l.split(':').nth(2) == Some(id.to_string().as_str()))
    };
    (64100..65000)
        .find(|&id| !taken(&passwd, id) && !taken(&group, id))
        .context("no free uid in 64100..65000")
}

/// Credentials made with GnuTLS's `certtool`, as libvirt's documentation makes them, in
/// `pkipath` layout: a CA named `org` CA, `dir/server/` for 127.0.0.1 and localhost, and
/// `dir/CLIENT/` for each client (`CN=CLIENT`, `O=org`), each with the CA's `cacert.pem`.
pub(crate) fn make_pki(dir: &Path, org: &str, clients: &[&str]) -> Result<()> {
    let certtool = |args: &[&str], out: &str| -> Result<()> {
        let text = run(Command::new("certtool").args(args).current_dir(dir))?;
        std::fs::write(dir.join(out), text)?;
        Ok(())
    };
    std::fs::create_dir_all(dir)?;
    std::fs::write(
        dir.join("ca.info"),
        format!("cn = {org} CA\nca\ncert_signing_key\nexpiration_days = 30\n"),
    )?;
    certtool(&["--generate-privkey"], "cakey.pem")?;
    certtool(
        &[
            "--generate-self-signed",
            "--load-privkey",
            "cakey.pem",
            "--template",
            "ca.info",
        ],
        "cacert.pem",
    )?;
    let mut sides = vec![(
        "server",
        "server",
        format!(
            "organization = {org}\ncn = localhost\nip_address = 127.0.0.1\n\
             dns_name = localhost\ntls_www_server\nencryption_key\nsigning_key\n"
        ),
    )];
    for client in clients {
        sides.push((
            client,
            "client",
            format!(
                "organization = {org}\ncn = {client}\ntls_www_client\nencryption_key\n\
                 signing_key\n"
            ),
        ));
    }
    for (name, side, info) in sides {
        std::fs::create_dir_all(dir.join(name))?;
        std::fs::write(dir.join(format!("{name}.info")), info)?;
        let key = format!("{name}/{side}key.pem");
        certtool(&["--generate-privkey"], &key)?;
        certtool(
            &[
                "--generate-certificate",
                "--load-privkey",
                &key,
                "--load-ca-certificate",
                "cacert.pem",
                "--load-ca-privkey",
                "cakey.pem",
                "--template",
                &format!("{name}.info"),
            ],
            &format!("{name}/{side}cert.pem"),
        )?;
        std::fs::copy(dir.join("cacert.pem"), dir.join(name).join("cacert.pem"))?;
    }
    Ok(())
}

/// Keys, sshd configurations (one for oxvirtd's side, one for libvirtd's) and the client's
/// ssh_config in `dir`.
fn make_ssh(dir: &Path, helper: &Path, ox_run: &Path) -> Result<()> {
    std::fs::create_dir_all(dir.join("bin"))?;
    for key in ["host_key", "client_key"] {
        run(Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", key, "-f"])
            .arg(dir.join(key)))?;
    }
    std::fs::copy(dir.join("client_key.pub"), dir.join("authorized_keys"))?;
    std::os::unix::fs::symlink(helper, dir.join("bin/virt-ssh-helper"))?;
    let d = dir.display();
    let common = format!(
        "ListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile none\n\
         AuthorizedKeysFile {d}/authorized_keys\nStrictModes no\nUsePAM no\n\
         PasswordAuthentication no\nKbdInteractiveAuthentication no\n\
         PermitRootLogin prohibit-password\n"
    );
    std::fs::write(
        dir.join("sshd_ox"),
        format!(
            "Port {SSH_OX}\n{common}SetEnv PATH={d}/bin:/usr/local/bin:/usr/bin:/bin \
             OXVIRT_RUNTIME_DIR={}\n",
            ox_run.display()
        ),
    )?;
    std::fs::write(dir.join("sshd_lv"), format!("Port {SSH_LV}\n{common}"))?;
    std::fs::write(
        dir.join("ssh_config"),
        format!("Host *\n  UserKnownHostsFile {d}/known_hosts\n  GlobalKnownHostsFile /dev/null\n"),
    )?;
    std::fs::create_dir_all("/run/sshd")?;
    Ok(())
}

/// A release oxvirtd in `ns` with its sockets in `dir/run`, TLS on `tls_port`, and `extra`
/// flags; its runtime folder.
#[allow(clippy::too_many_arguments)]
fn start_oxvirtd(
    root: &Path,
    lab: &mut NetnsLab,
    ns: &str,
    dir: &Path,
    pki: &Path,
    tls_port: u16,
    extra: &[&str],
) -> Result<PathBuf> {
    let run_dir = dir.join("run");
    let log = dir.join("oxvirtd.log");
    std::fs::create_dir_all(dir)?;
    let s = |p: PathBuf| p.display().to_string();
    let mut argv: Vec<String> = vec![
        s(root.join("target/release/oxvirtd")),
        "--runtime-dir".into(),
        s(run_dir.clone()),
        "--state-dir".into(),
        s(dir.join("state")),
        "--listen-tls".into(),
        format!("127.0.0.1:{tls_port}"),
        "--ca-file".into(),
        s(pki.join("server/cacert.pem")),
        "--cert-file".into(),
        s(pki.join("server/servercert.pem")),
        "--key-file".into(),
        s(pki.join("server/serverkey.pem")),
    ];
    argv.extend(extra.iter().map(|a| a.to_string()));
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    lab.spawn_in(ns, &argv, &log)?;
    lab.wait_socket(&run_dir.join("libvirt-sock"), &log, 15)?;
    wait_port(ns, tls_port)?;
    Ok(run_dir)
}

/// The state folders a private libvirtd gets tmpfs over (in its own mount view).
const LIBVIRT_STATE: &str = "/var/lib/libvirt /etc/libvirt/qemu /etc/libvirt/storage \
                             /var/cache/libvirt /var/log/libvirt";

/// A private libvirtd in `ns` with TLS on [`TLS_LV`], its sockets in `dir/sock` (bound on
/// its /run/libvirt, where Debian's virt-ssh-helper looks), the unix sockets open to
/// everyone, and, with `sshd`, an sshd on [`SSH_LV`] in its mount view; its socket folder.
fn start_libvirtd(
    lab: &mut NetnsLab,
    ns: &str,
    dir: &Path,
    pki: &Path,
    sshd: Option<&Path>,
    accounts: &Path,
) -> Result<PathBuf> {
    let sock = dir.join("sock");
    std::fs::create_dir_all(&sock)?;
    let s = |f: &str| pki.join("server").join(f).display().to_string();
    let conf = dir.join("libvirtd.conf");
    std::fs::write(
        &conf,
        format!(
            "listen_tls = 1\nlisten_tcp = 0\nlisten_addr = \"127.0.0.1\"\ntls_port = \"{TLS_LV}\"\n\
             ca_file = \"{}\"\ncert_file = \"{}\"\nkey_file = \"{}\"\n\
             unix_sock_rw_perms = \"0666\"\nauth_unix_rw = \"none\"\nauth_unix_ro = \"none\"\n\
             auth_tls = \"none\"\nlog_outputs = \"3:stderr\"\n",
            s("cacert.pem"),
            s("servercert.pem"),
            s("serverkey.pem")
        ),
    )?;
    // With sshd beside it, the shell stays to stop and reap sshd after libvirtd.
    let script = match sshd {
        None => format!(
            "exec libvirtd -f {} -p /run/libvirt/libvirtd.pid --listen",
            conf.display()
        ),
        Some(cfg) => format!(
            "/usr/sbin/sshd -D -e -f {cfg} 2>{log} & SSHD=$!; \
             libvirtd -f {conf} -p /run/libvirt/libvirtd.pid --listen & LV=$!; \
             trap 'kill $LV 2>/dev/null' INT TERM; wait $LV || true; \
             wait $LV 2>/dev/null || true; kill $SSHD 2>/dev/null || true; wait",
            cfg = cfg.display(),
            log = dir.join("sshd.log").display(),
            conf = conf.display()
        ),
    };
    let script = format!(
        "set -e; mkdir -p /run/libvirt; mount --bind {sock} /run/libvirt; \
         for d in {LIBVIRT_STATE}; do mkdir -p $d; mount -t tmpfs oxvirt-bench $d; done; \
         mount --bind {acc}/passwd /etc/passwd; mount --bind {acc}/group /etc/group; {script}",
        sock = sock.display(),
        acc = accounts.display()
    );
    let log = dir.join("libvirtd.log");
    lab.spawn_in(ns, &["sh", "-c", &script], &log)?;
    lab.wait_socket(&sock.join("libvirt-sock"), &log, 60)?;
    wait_port(ns, TLS_LV)?;
    Ok(sock)
}

/// `dir/passwd` and `dir/group`: the system's with the bench user `uid` added (bound
/// over /etc/passwd and /etc/group in the mount views of both libvirtd, which refuse a
/// unix peer without one ("Failed to find user record for uid"), and of the user's client).
fn accounts(dir: &Path, uid: u32) -> Result<()> {
    let mut passwd = std::fs::read_to_string("/etc/passwd")?;
    passwd.push_str(&format!("{DOMAIN}:x:{uid}:{uid}::/nonexistent:/bin/sh\n"));
    std::fs::write(dir.join("passwd"), passwd)?;
    let mut group = std::fs::read_to_string("/etc/group")?;
    group.push_str(&format!("{DOMAIN}:x:{uid}:\n"));
    std::fs::write(dir.join("group"), group)?;
    Ok(())
}

/// A private libvirtd with polkit access control in `ns`: its own system bus and polkitd,
/// the bench user in a private /etc/passwd (`accounts`), [`POLKIT_RULES`]; its socket folder.
fn start_polkit_libvirtd(
    lab: &mut NetnsLab,
    ns: &str,
    dir: &Path,
    accounts: &Path,
) -> Result<PathBuf> {
    let sock = dir.join("sock");
    std::fs::create_dir_all(&sock)?;
    std::fs::write(dir.join("50-remotebench.rules"), POLKIT_RULES)?;
    let conf = dir.join("libvirtd.conf");
    std::fs::write(
        &conf,
        format!(
            "listen_tls = 0\nlisten_tcp = 0\nunix_sock_dir = \"{}\"\nunix_sock_rw_perms = \"0666\"\n\
             auth_unix_rw = \"none\"\nauth_unix_ro = \"none\"\naccess_drivers = [ \"polkit\" ]\n\
             log_outputs = \"3:stderr\"\n",
            sock.display()
        ),
    )?;
    let d = |p: &str| dir.join(p).display().to_string();
    let script = format!(
        "set -e\n\
         for m in /run/dbus /run/libvirt {LIBVIRT_STATE} /etc/polkit-1/rules.d; do \
           mkdir -p $m; mount -t tmpfs oxvirt-bench $m; done\n\
         cp {rules} /etc/polkit-1/rules.d/\n\
         mount --bind {passwd} /etc/passwd\n\
         mount --bind {group} /etc/group\n\
         dbus-daemon --system --nofork & DBUS=$!\n\
         while [ ! -S /run/dbus/system_bus_socket ]; do sleep 0.05; done\n\
         /usr/lib/polkit-1/polkitd --no-debug & PK=$!\n\
         libvirtd -f {conf} -p /run/libvirt/libvirtd.pid & LV=$!\n\
         trap 'kill $LV 2>/dev/null' INT TERM\n\
         wait $LV || true\n\
         wait $LV 2>/dev/null || true\n\
         kill $PK $DBUS 2>/dev/null || true\n\
         wait\n",
        rules = d("50-remotebench.rules"),
        passwd = accounts.join("passwd").display(),
        group = accounts.join("group").display(),
        conf = conf.display(),
    );
    let log = dir.join("libvirtd.log");
    lab.spawn_in(ns, &["sh", "-c", &script], &log)?;
    lab.wait_socket(&sock.join("libvirt-sock"), &log, 60)?;
    Ok(sock)
}

/// Runs the python client in `ns` with `targets` (`[ro:]LABEL=URI`), as root with the
/// bench's ssh_config, or as `uid` (with `home`); its figures.
#[allow(clippy::too_many_arguments)]
fn client(
    root: &Path,
    ns: &str,
    ssh_config: &Path,
    user: Option<(u32, &Path)>,
    rounds: usize,
    repeats: usize,
    targets: &[String],
) -> Result<Vec<Figure>> {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns]);
    if let Some((uid, home)) = user {
        let id = uid.to_string();
        c.args([
            "sh",
            "-c",
            "mount --bind \"$0/passwd\" /etc/passwd && mount --bind \"$0/group\" /etc/group \
             && exec \"$@\"",
        ])
        .arg(home)
        .args(["setpriv", "--reuid", &id, "--regid", &id, "--clear-groups"])
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_CACHE_HOME", home.join("cache"))
        .env("XDG_RUNTIME_DIR", home);
    } else {
        c.args([
            "sh",
            "-c",
            "mount --bind \"$0\" /etc/ssh/ssh_config && exec \"$@\"",
        ])
        .arg(ssh_config);
    }
    c.arg("/usr/bin/python3")
        .arg(root.join("xtask/data/remote_bench.py"))
        .args([
            rounds.to_string(),
            repeats.to_string(),
            CALLS.to_string(),
            DOMAIN.to_string(),
        ])
        .args(targets)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit());
    eprintln!(
        "\n==> python3-libvirt{}: {} connects, {repeats} × {CALLS} calls, on {}",
        user.map_or(String::new(), |(u, _)| format!(" as uid {u}")),
        rounds,
        targets
            .iter()
            .map(|t| t.split('=').next().unwrap_or(t))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let out = c.output().context("running the python client")?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        bail!("the python client failed ({}):\n{text}", out.status);
    }
    let figures = parse_results(&text);
    for f in &figures {
        eprintln!(
            "  {} {}: {:.4} ({:.4}-{:.4}, n={})",
            f.label, f.metric, f.median, f.min, f.max, f.n
        );
    }
    Ok(figures)
}

/// `cargo xtask bench remote`.
pub(crate) fn bench_remote(root: &Path) -> Result<()> {
    if !is_root() {
        bail!("the remote bench needs root (a network namespace, libvirtd, setpriv)");
    }
    let missing: Vec<&str> = ["ip", "libvirtd", "certtool", "setpriv", "virsh", "python3"]
        .into_iter()
        .filter(|t| !have(t))
        .collect();
    if !missing.is_empty() {
        bail!(
            "the remote bench needs {} (apt-get install iproute2 libvirt-daemon-system \
             gnutls-bin util-linux libvirt-clients python3-libvirt)",
            missing.join(", ")
        );
    }
    let mut notes = Vec::new();
    let with_ssh = ["sshd", "ssh", "ssh-keygen", "virt-ssh-helper"]
        .iter()
        .all(|t| have(t));
    if !with_ssh {
        notes.push(
            "SSH skipped: sshd, ssh, ssh-keygen or virt-ssh-helper missing (apt-get install \
             openssh-server openssh-client libvirt-clients)"
                .to_string(),
        );
    }
    let with_polkit = have("dbus-daemon") && have("/usr/lib/polkit-1/polkitd");
    if !with_polkit {
        notes.push(
            "libvirtd with polkit skipped: dbus-daemon or polkitd missing (apt-get install \
             dbus polkitd)"
                .to_string(),
        );
    }
    let rounds = match std::env::var("OXBENCH_ROUNDS") {
        Ok(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .with_context(|| format!("OXBENCH_ROUNDS={v}: not a positive number"))?,
        Err(_) => DEFAULT_ROUNDS,
    };
    if std::env::var_os("OXBENCH_NO_BUILD").is_some()
        && root.join("target/release/oxvirtd").exists()
        && root.join("target/release/oxvirt-ssh-helper").exists()
    {
        eprintln!("OXBENCH_NO_BUILD: target/release/oxvirtd as it is, not rebuilt");
    } else {
        step(
            "build oxvirtd and oxvirt-ssh-helper (release)",
            cargo(
                root,
                &[
                    "build",
                    "--release",
                    "-j2",
                    "-p",
                    "oxvirtd",
                    "-p",
                    "oxvirt-ssh-helper",
                ],
            ),
        )?;
    }
    let scratch = std::env::temp_dir().join(format!("oxvirt-bench-rem-{}", std::process::id()));
    let mut lab = NetnsLab::new("brem", scratch)?;
    let base = lab.scratch().to_path_buf();
    let ns = lab.add_ns("n")?;
    notes.push(format!("load average at the start: {}", loadavg()));

    let pki = base.join("pki");
    eprintln!("\n==> certificates (certtool) in {}", pki.display());
    make_pki(&pki, "oxvirt bench", &["client"])?;
    let uid = free_uid()?;
    let home = base.join("home");
    std::fs::create_dir_all(&home)?;
    std::os::unix::fs::chown(&home, Some(uid), Some(uid))?;
    accounts(&home, uid)?;
    let policy = base.join("policy.toml");
    std::fs::write(
        &policy,
        POLICY
            .replace("UID", &uid.to_string())
            .replace("\"DN\"", &format!("\"{CLIENT_DN}\"")),
    )?;
    let ssh = base.join("ssh");
    let ox_dir = base.join("ox");
    if with_ssh {
        make_ssh(
            &ssh,
            &root.join("target/release/oxvirt-ssh-helper"),
            &ox_dir.join("run"),
        )?;
    } else {
        std::fs::create_dir_all(&ssh)?;
        std::fs::write(ssh.join("ssh_config"), "")?;
    }

    eprintln!("\n==> daemons in network namespace {ns}");
    let gid = uid.to_string();
    let ox = start_oxvirtd(
        root,
        &mut lab,
        &ns,
        &ox_dir,
        &pki,
        TLS_OX,
        // The bench user may use the read-write socket without a policy as a member of
        // the socket group, as Debian's polkit rule lets the libvirt group.
        &["--unix-sock-group", &gid, "--unix-sock-rw-perms", "0660"],
    )?;
    let policy_s = policy.display().to_string();
    let oxp = start_oxvirtd(
        root,
        &mut lab,
        &ns,
        &base.join("oxp"),
        &pki,
        TLS_OXP,
        &["--unix-sock-rw-perms", "0666", "--access-policy", &policy_s],
    )?;
    let lv = start_libvirtd(
        &mut lab,
        &ns,
        &base.join("lv"),
        &pki,
        with_ssh.then(|| ssh.join("sshd_lv")).as_deref(),
        &home,
    )?;
    let lvp = if with_polkit {
        Some(start_polkit_libvirtd(
            &mut lab,
            &ns,
            &base.join("lvp"),
            &home,
        )?)
    } else {
        None
    };
    if with_ssh {
        let log = ssh.join("sshd_ox.log");
        let cfg = ssh.join("sshd_ox").display().to_string();
        lab.spawn_in(&ns, &["/usr/sbin/sshd", "-D", "-e", "-f", &cfg], &log)?;
        wait_log(&log, &format!("port {SSH_OX}"), 20)?;
        wait_log(&base.join("lv/sshd.log"), &format!("port {SSH_LV}"), 20)?;
    }

    // The domain, defined (not running) on every daemon.
    let xml = base.join("domain.xml");
    std::fs::write(
        &xml,
        format!(
            "<domain type='qemu'><name>{DOMAIN}</name><memory unit='MiB'>32</memory>\
             <os><type arch='x86_64'>hvm</type></os></domain>"
        ),
    )?;
    let unix = |dir: &Path, ro: bool| {
        format!(
            "qemu+unix:///system?socket={}",
            dir.join(if ro {
                "libvirt-sock-ro"
            } else {
                "libvirt-sock"
            })
            .display()
        )
    };
    let mut sockets = vec![&ox, &oxp, &lv];
    sockets.extend(lvp.as_ref());
    for dir in sockets {
        run(Command::new("virsh")
            .args(["-q", "-c", &unix(dir, false), "define"])
            .arg(&xml))?;
    }
    let client_pki = pki.join("client").display().to_string();
    let tls = |port: u16| format!("qemu+tls://127.0.0.1:{port}/system?pkipath={client_pki}");

    // 1 + 2: root over unix and TLS (and TLS with the policy, for 3).
    let mut figures = client(
        root,
        &ns,
        &ssh.join("ssh_config"),
        None,
        rounds,
        REPEATS,
        &[
            format!("ox-unix={}", unix(&ox, false)),
            format!("lv-unix={}", unix(&lv, false)),
            format!("ox-tls={}", tls(TLS_OX)),
            format!("lv-tls={}", tls(TLS_LV)),
            format!("oxp-tls={}", tls(TLS_OXP)),
        ],
    )?;
    notes.push(format!("load average after unix/TLS: {}", loadavg()));
    // 1 (and 2): SSH, fewer connects (each is an ssh login).
    if with_ssh {
        let key = ssh.join("client_key").display().to_string();
        let uri = |port: u16| {
            format!("qemu+ssh://root@127.0.0.1:{port}/system?keyfile={key}&no_verify=1")
        };
        figures.extend(client(
            root,
            &ns,
            &ssh.join("ssh_config"),
            None,
            (rounds / 10).max(5),
            REPEATS,
            &[
                format!("ox-ssh={}", uri(SSH_OX)),
                format!("lv-ssh={}", uri(SSH_LV)),
            ],
        )?);
        notes.push(format!("load average after SSH: {}", loadavg()));
    }
    // 3: the unprivileged user, without and with access control.
    let mut targets = vec![
        format!("ro:ox-ro={}", unix(&ox, true)),
        format!("ro:oxp-ro={}", unix(&oxp, true)),
        format!("ox-rw={}", unix(&ox, false)),
        format!("oxp-rw={}", unix(&oxp, false)),
        format!("ro:lv-ro={}", unix(&lv, true)),
        format!("lv-rw={}", unix(&lv, false)),
    ];
    if let Some(lvp) = &lvp {
        targets.push(format!("ro:lvp-ro={}", unix(lvp, true)));
        targets.push(format!("lvp-rw={}", unix(lvp, false)));
    }
    figures.extend(client(
        root,
        &ns,
        &ssh.join("ssh_config"),
        Some((uid, &home)),
        rounds,
        REPEATS,
        &targets,
    )?);
    notes.push(format!("load average at the end: {}", loadavg()));
    notes.push(format!(
        "the bench user: uid/gid {uid} (no account; '{DOMAIN}' in the private /etc/passwd of \
         its client and of both libvirtd, which refuse a peer without a user record); oxvirtd without a policy lets it use the read-write socket as a \
         member of --unix-sock-group {uid}, libvirtd without access control by \
         unix_sock_rw_perms 0666 and auth_unix_rw none"
    ));
    let text = report(rounds, &figures, &notes);
    println!("\n{text}");
    let out = root.join("target/bench/remote.txt");
    std::fs::create_dir_all(root.join("target/bench"))?;
    std::fs::write(&out, &text).with_context(|| format!("writing {}", out.display()))?;
    eprintln!("(written to {})", out.display());
    drop(lab);
    Ok(())
}

fn find<'a>(figures: &'a [Figure], label: &str, metric: &str) -> Option<&'a Figure> {
    figures
        .iter()
        .find(|f| f.label == label && f.metric == metric)
}

/// The table: connect times and call rates with the ratios, then the cost of access
/// control per call, then every figure.
fn report(rounds: usize, figures: &[Figure], notes: &[String]) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "cargo xtask bench remote: release oxvirtd and a private Debian libvirtd 9.0 \
         (qemu:///system, a defined TCG domain), one python3-libvirt process per client, \
         targets interleaved; connect = open + getLibVersion() + close, median of {rounds} \
         (SSH: {}) with min-max; calls/s = median of {REPEATS} runs of {CALLS} calls on one \
         connection\n",
        (rounds / 10).max(5)
    );
    let ms = |f: Option<&Figure>| {
        f.map_or("-".into(), |f| {
            format!("{:.2} ms ({:.2}-{:.2})", f.median, f.min, f.max)
        })
    };
    let rate = |f: Option<&Figure>| {
        f.map_or("-".into(), |f| {
            format!("{:.0}/s ({:.0}-{:.0})", f.median, f.min, f.max)
        })
    };
    let ratio = |a: Option<&Figure>, b: Option<&Figure>| match (a, b) {
        (Some(a), Some(b)) if b.median > 0.0 => format!("{:.2}", a.median / b.median),
        _ => "-".into(),
    };
    let _ = writeln!(
        t,
        "| root client | oxvirtd | libvirtd | oxvirtd/libvirtd |\n|---|---|---|---|"
    );
    for tr in ["unix", "tls", "ssh"] {
        let (o, l) = (
            find(figures, &format!("ox-{tr}"), "connect_ms"),
            find(figures, &format!("lv-{tr}"), "connect_ms"),
        );
        if o.is_some() || l.is_some() {
            let _ = writeln!(
                t,
                "| connect over {tr} (time) | {} | {} | {} |",
                ms(o),
                ms(l),
                ratio(o, l)
            );
        }
    }
    for (metric, what) in [
        ("version_per_s", "getLibVersion()"),
        ("info_per_s", "dom.info()"),
    ] {
        for tr in ["unix", "tls", "ssh"] {
            let (o, l) = (
                find(figures, &format!("ox-{tr}"), metric),
                find(figures, &format!("lv-{tr}"), metric),
            );
            let _ = writeln!(
                t,
                "| {what} over {tr} (calls/s) | {} | {} | {} |",
                rate(o),
                rate(l),
                ratio(o, l)
            );
        }
    }
    // Per call: 1/median rate, and 1/best rate (the least disturbed of the runs, steadier
    // on a loaded machine).
    let per_call = |f: Option<&Figure>| f.map(|f| (1e6 / f.median, 1e6 / f.max));
    let us =
        |v: Option<(f64, f64)>| v.map_or("-".into(), |(m, b)| format!("{m:.1} µs / {b:.1} µs"));
    let diff = |a: Option<(f64, f64)>, b: Option<(f64, f64)>| match (a, b) {
        (Some(a), Some(b)) => format!("{:+.1} µs / {:+.1} µs", b.0 - a.0, b.1 - a.1),
        _ => "-".into(),
    };
    let _ = writeln!(
        t,
        "\naccess control: time per call on one connection (from the median / the best of the \
         {REPEATS} runs) and connect time (median, min-max), without → with\n\n\
         | daemon, subject, socket | call | without | with | cost per call |\n|---|---|---|---|---|"
    );
    let pairs = [
        (
            "oxvirtd, uid, read-only unix",
            "ox-ro",
            "oxp-ro",
            "policy of 5 rules",
        ),
        (
            "oxvirtd, uid, read-write unix",
            "ox-rw",
            "oxp-rw",
            "policy of 5 rules",
        ),
        (
            "oxvirtd, x509 DN, TLS",
            "ox-tls",
            "oxp-tls",
            "policy of 5 rules",
        ),
        (
            "libvirtd, uid, read-only unix",
            "lv-ro",
            "lvp-ro",
            "polkit, 5 rules",
        ),
        (
            "libvirtd, uid, read-write unix",
            "lv-rw",
            "lvp-rw",
            "polkit, 5 rules",
        ),
    ];
    for (what, without, with, how) in pairs {
        for (metric, call) in [
            ("version_per_s", "getLibVersion()"),
            ("info_per_s", "dom.info()"),
        ] {
            let (a, b) = (
                per_call(find(figures, without, metric)),
                per_call(find(figures, with, metric)),
            );
            let _ = writeln!(
                t,
                "| {what} ({how}) | {call} | {} | {} | {} |",
                us(a),
                us(b),
                diff(a, b)
            );
        }
        let (a, b) = (
            find(figures, without, "connect_ms"),
            find(figures, with, "connect_ms"),
        );
        let _ = writeln!(
            t,
            "| {what} ({how}) | connect | {} | {} | {} |",
            ms(a),
            ms(b),
            match (a, b) {
                (Some(a), Some(b)) => format!("{:+.2} ms", b.median - a.median),
                _ => "-".into(),
            }
        );
    }
    let _ = writeln!(
        t,
        "\nlibvirtd with polkit over TLS: not measured (libvirt's polkit driver only knows \
         local unix peers)."
    );
    let _ = writeln!(t, "\nevery figure (label metric median min max n):");
    for f in figures {
        let _ = writeln!(
            t,
            "  {} {} {:.4} {:.4} {:.4} {}",
            f.label, f.metric, f.median, f.min, f.max, f.n
        );
    }
    for n in notes {
        let _ = writeln!(t, "{n}");
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_lines() {
        let text = "noise\nRESULT ox-tls connect_ms 4.5 3.9 12 200\nRESULT x y z 1 2 3\n";
        assert_eq!(
            parse_results(text),
            [Figure {
                label: "ox-tls".into(),
                metric: "connect_ms".into(),
                median: 4.5,
                min: 3.9,
                max: 12.0,
                n: 200
            }]
        );
    }

    #[test]
    fn the_policy_has_five_rules() {
        assert_eq!(POLICY.matches("[[rule]]").count(), 5);
        assert!(POLICY.contains("UID") && POLICY.contains("\"DN\""));
    }
}
