//! Running `nft`: applying a script, reading oxvirt's table back.

use std::process::Stdio;

use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use super::TABLE;

/// How `nft` is run: the program and the words before nft's own arguments. The default is
/// plain `nft` from `PATH`; [`Nft::in_netns`] runs it inside a network namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nft {
    argv: Vec<String>,
}

impl Default for Nft {
    fn default() -> Self {
        Nft {
            argv: vec!["nft".to_string()],
        }
    }
}

/// What one run of nft gave.
struct Output {
    ok: bool,
    stdout: String,
    stderr: String,
}

impl Nft {
    /// nft run as `argv` (a program and its first arguments, e.g. `["/usr/sbin/nft"]`).
    pub fn with_command(argv: Vec<String>) -> Self {
        Nft { argv }
    }

    /// nft run inside the named network namespace (`ip netns exec NAME nft`).
    pub fn in_netns(name: &str) -> Self {
        Nft::with_command(
            ["ip", "netns", "exec", name, "nft"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
        )
    }

    fn command_line(&self, args: &[&str]) -> String {
        self.argv
            .iter()
            .map(String::as_str)
            .chain(args.iter().copied())
            .collect::<Vec<_>>()
            .join(" ")
    }

    async fn run(&self, args: &[&str], stdin: Option<&str>) -> Result<Output, VirError> {
        let cmdline = self.command_line(args);
        let spawn_error = |e: std::io::Error| {
            VirError::new(
                ErrorDomain::Firewall,
                ErrorCode::SystemError,
                format!("Cannot run '{cmdline}': {e}"),
            )
        };
        let (program, rest) = match self.argv.split_first() {
            Some(split) => split,
            None => {
                return Err(spawn_error(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no program",
                )))
            }
        };
        let mut child = Command::new(program)
            .args(rest)
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // nft's messages untranslated: `current` recognizes "No such file or directory"
            .env("LC_ALL", "C")
            .kill_on_drop(true)
            .spawn()
            .map_err(spawn_error)?;
        if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
            // nft may stop reading at its first error: its exit status and stderr say why,
            // a broken pipe here does not
            match pipe.write_all(text.as_bytes()).await {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => return Err(spawn_error(e)),
                _ => {}
            }
            drop(pipe);
        }
        let out = child.wait_with_output().await.map_err(spawn_error)?;
        Ok(Output {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    /// libvirt's error for an nft run that failed: `VIR_ERR_INTERNAL_ERROR` from
    /// `VIR_FROM_FIREWALL`, `Failed to apply firewall rules CMD: STDERR`.
    fn failed(&self, args: &[&str], out: &Output) -> VirError {
        VirError::new(
            ErrorDomain::Firewall,
            ErrorCode::InternalError,
            format!(
                "Failed to apply firewall rules {}: {}",
                self.command_line(args),
                out.stderr.trim_end()
            ),
        )
    }

    /// Runs `script` with `nft -f -` (one transaction). A failure is libvirt's
    /// `VIR_ERR_INTERNAL_ERROR` from `VIR_FROM_FIREWALL`, `Failed to apply firewall rules
    /// CMD: STDERR`, with nft's own message.
    pub async fn apply(&self, script: &str) -> Result<(), VirError> {
        let args = ["-f", "-"];
        let out = self.run(&args, Some(script)).await?;
        if out.ok {
            return Ok(());
        }
        Err(self.failed(&args, &out))
    }

    /// oxvirt's table as `nft list table inet oxvirt` prints it, `None` when it does not
    /// exist.
    pub async fn current(&self) -> Result<Option<String>, VirError> {
        let args = ["list", "table", "inet", TABLE];
        let out = self.run(&args, None).await?;
        if out.ok {
            return Ok(Some(out.stdout));
        }
        if out.stderr.contains("No such file or directory") {
            return Ok(None);
        }
        Err(self.failed(&args, &out))
    }
}

/// Runs `script` (from [`super::ruleset`] or [`super::teardown`]) with the host's `nft -f
/// -`; see [`Nft::apply`].
pub async fn apply(script: &str) -> Result<(), VirError> {
    Nft::default().apply(script).await
}

/// The host's oxvirt table as nft lists it, `None` when absent; see [`Nft::current`].
pub async fn current() -> Result<Option<String>, VirError> {
    Nft::default().current().await
}
