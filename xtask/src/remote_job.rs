//! The main job's remote-access phase: a second oxvirtd listens for TLS clients with
//! certificates made by `certtool`, under an access policy, and `oxvirsh` (and Debian's
//! virsh where installed) manage its test node over `test+tls://`: an operator's
//! certificate may do everything, a viewer's may only look, and a certificate from
//! another CA is refused at the handshake; the daemon's log says who was refused what.

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

use crate::bench_remote::make_pki;
use crate::{cmd, show, step, wait_for_socket, Daemon};

/// The policy: anyone with a certificate from our CA may open a read-write connection and
/// look; the operator may do the rest.
const POLICY: &str = r#"# The main job's access policy (see docs/security.md).
default = "deny"

[[rule]]
action = "allow"
operations = ["*:getattr", "*:read", "connect:search_*", "connect:write"]

[[rule]]
action = "allow"
x509_dns = ["O=oxvirt demo,CN=operator"]
"#;

/// Runs `c`, which must fail (a refusal the phase shows); prints what it said.
fn refused(what: &str, mut c: Command) -> Result<()> {
    let line = show(&c);
    eprintln!("\n==> {what} (refused, as it must be)\n$ {line}");
    let out = c
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("could not start `{line}`"))?;
    eprint!("{}", String::from_utf8_lossy(&out.stdout));
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    if out.status.success() {
        bail!("step '{what}' should have been refused but succeeded: `{line}`");
    }
    Ok(())
}

/// The remote-access phase (see the module's documentation), in `scratch/remote`.
pub(crate) fn remote_workload(root: &Path, scratch: &Path) -> Result<()> {
    if Command::new("certtool")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_err()
    {
        bail!("certtool is missing: apt-get install gnutls-bin");
    }
    let dir = scratch.join("remote");
    let _ = std::fs::remove_dir_all(&dir);
    let pki = dir.join("pki");
    let other = dir.join("other-ca");
    eprintln!("\n==> certificates by certtool: a CA, the daemon, an operator, a viewer");
    make_pki(&pki, "oxvirt demo", &["operator", "viewer"])?;
    make_pki(&other, "elsewhere", &["intruder"])?;
    let policy = dir.join("policy.toml");
    std::fs::write(&policy, POLICY).context("writing the policy")?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .context("picking a free port")?
        .port();
    let run_dir = dir.join("run");
    let log = dir.join("oxvirtd.log");
    let server = |f: &str| pki.join("server").join(f);
    let mut daemon = Command::new(root.join("target/release/oxvirtd"));
    daemon
        .arg("--runtime-dir")
        .arg(&run_dir)
        .arg("--state-dir")
        .arg(dir.join("state"))
        .arg("--listen-tls")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--ca-file")
        .arg(server("cacert.pem"))
        .arg("--cert-file")
        .arg(server("servercert.pem"))
        .arg("--key-file")
        .arg(server("serverkey.pem"))
        .arg("--access-policy")
        .arg(&policy)
        .stderr(Stdio::from(
            std::fs::File::create(&log).context("creating the daemon's log")?,
        ));
    eprintln!("\n==> {}", show(&daemon));
    let daemon = Daemon(daemon.spawn().context("starting oxvirtd with TLS")?);
    wait_for_socket(&run_dir.join("libvirt-sock"))?;

    let oxvirsh = root.join("target/release/oxvirsh").display().to_string();
    let uri = |who: &Path| {
        format!(
            "test+tls://127.0.0.1:{port}/default?pkipath={}",
            who.display()
        )
    };
    let operator = uri(&pki.join("operator"));
    let viewer = uri(&pki.join("viewer"));
    let intruder = uri(&other.join("intruder"));
    let session = |what: &str, uri: &str, lines: &[&str]| -> Result<()> {
        let file = dir.join("session.oxvirsh");
        std::fs::write(&file, lines.join("\n") + "\n").context("writing a session")?;
        let mut c = cmd(root, &oxvirsh, &["-c", uri]);
        c.stdin(Stdio::from(
            std::fs::File::open(&file).context("opening a session")?,
        ));
        step(what, c)
    };
    let result = (|| -> Result<()> {
        session(
            "oxvirsh over TLS as the operator: everything",
            &operator,
            &[
                "uri",
                "list --all",
                "suspend test",
                "domstate test",
                "resume test",
                "dominfo test",
            ],
        )?;
        session(
            "oxvirsh over TLS as the viewer: looking is allowed",
            &viewer,
            &["list --all", "domstate test"],
        )?;
        refused(
            "oxvirsh over TLS as the viewer: destroy",
            cmd(root, &oxvirsh, &["-c", &viewer, "destroy", "test"]),
        )?;
        refused(
            "oxvirsh with a certificate from another CA",
            cmd(root, &oxvirsh, &["-c", &intruder, "list", "--all"]),
        )?;
        if Path::new("/usr/bin/virsh").exists() {
            step(
                "Debian's virsh (GnuTLS) over TLS as the operator",
                cmd(root, "virsh", &["-c", &operator, "list", "--all"]),
            )?;
        }
        Ok(())
    })();
    drop(daemon);
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    eprintln!("\n==> what the daemon logged about its TLS and access refusals");
    for line in text
        .lines()
        .filter(|l| l.contains("access denied") || l.contains("TLS") || l.contains("ertificate"))
    {
        eprintln!("{line}");
    }
    result?;
    if !text.contains("access denied") || !text.contains("known issuer") {
        bail!("the daemon's log lacks the refusals:\n{text}");
    }
    Ok(())
}
