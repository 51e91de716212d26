//! What a QEMU binary can do, asked once through QMP and kept while the binary stays the
//! same (libvirt's `virQEMUCaps`, cached by binary path and modification time).
//!
//! The probe starts the binary as libvirt does, with no guest (`-machine none`), stopped,
//! without defaults, a QMP socket in a private temporary directory, then asks for its
//! version, machine types, CPU models, commands, device types and KVM state, and quits.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};
use serde_json::{json, Value};
use tokio::process::Command;

use crate::qmp::{Qmp, QmpVersion};

/// A machine type (`query-machines`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    /// Its name (`pc-q35-7.2`).
    pub name: String,
    /// Its alias (`q35`), if any.
    pub alias: Option<String>,
    /// Whether QEMU picks it when none is named.
    pub is_default: bool,
    /// The most vCPUs it takes.
    pub max_cpus: u32,
    /// Whether QEMU says it is deprecated.
    pub deprecated: bool,
}

/// One binary's capabilities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QemuCaps {
    /// The binary.
    pub binary: PathBuf,
    /// Its version (`QmpVersion::number()`: 7002000 for 7.2.0).
    pub version: u64,
    /// Its machine types, in QEMU's order.
    pub machines: Vec<Machine>,
    /// Its CPU models (`query-cpu-definitions`), sorted.
    pub cpu_models: BTreeSet<String>,
    /// The QMP commands it has.
    pub commands: BTreeSet<String>,
    /// The device types `-device` takes (`qom-list-types` of `device`).
    pub device_types: BTreeSet<String>,
    /// Whether it was built with KVM support (`query-kvm`'s `present`).
    pub kvm_present: bool,
}

impl QemuCaps {
    /// The machine named `name`, by name or alias.
    pub fn machine(&self, name: &str) -> Option<&Machine> {
        self.machines
            .iter()
            .find(|m| m.name == name || m.alias.as_deref() == Some(name))
    }

    /// Whether `-device TYPE` exists.
    pub fn has_device(&self, device: &str) -> bool {
        self.device_types.contains(device)
    }
}

/// libvirt's error for a binary that cannot be probed.
fn probe_failed(binary: &Path, detail: impl std::fmt::Display) -> VirError {
    VirError::new(
        ErrorDomain::Qemu,
        ErrorCode::InternalError,
        format!(
            "Failed to probe capabilities for {}: {detail}",
            binary.display()
        ),
    )
}

/// Asks `binary` what it can do (about 100 ms for QEMU 7.2 here).
pub async fn probe(binary: &Path) -> Result<QemuCaps, VirError> {
    if !binary.exists() {
        return Err(VirError::new(
            ErrorDomain::Qemu,
            ErrorCode::SystemError,
            format!(
                "Cannot check QEMU binary {}: No such file or directory",
                binary.display()
            ),
        ));
    }
    let dir = ProbeDir::new().map_err(|e| probe_failed(binary, e))?;
    let sock = dir.0.join("qmp.sock");
    let mut child = Command::new(binary)
        .args(["-S", "-no-user-config", "-nodefaults", "-nographic"])
        .args(["-machine", "none,accel=tcg"])
        .arg("-qmp")
        .arg(format!("unix:{},server=on,wait=off", sock.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| probe_failed(binary, e))?;
    let connected = async {
        for _ in 0..500 {
            if sock.exists() {
                if let Ok(pair) = Qmp::connect(&sock).await {
                    return Ok(pair);
                }
            }
            if let Ok(Some(status)) = child.try_wait() {
                let mut said = String::new();
                if let Some(mut err) = child.stderr.take() {
                    use tokio::io::AsyncReadExt;
                    let _ = err.read_to_string(&mut said).await;
                }
                return Err(format!(
                    "it exited with {status} before its monitor was up: {}",
                    said.trim()
                ));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Err("its monitor did not come up within 5 s".to_owned())
    };
    let (qmp, _events) = connected.await.map_err(|e| probe_failed(binary, e))?;
    let caps = ask(binary, &qmp).await;
    let _ = qmp.quit().await;
    let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
    let _ = child.kill().await;
    caps.map_err(|e| probe_failed(binary, e))
}

async fn ask(binary: &Path, qmp: &Qmp) -> Result<QemuCaps, crate::qmp::QmpError> {
    let version: QmpVersion = qmp.query_version().await?;
    let machines = qmp.execute("query-machines", None).await?;
    let cpus = qmp.execute("query-cpu-definitions", None).await?;
    let commands = qmp.execute("query-commands", None).await?;
    let devices = qmp
        .execute(
            "qom-list-types",
            Some(json!({"implements": "device", "abstract": false})),
        )
        .await?;
    let kvm = qmp.execute("query-kvm", None).await?;
    Ok(QemuCaps {
        binary: binary.to_path_buf(),
        version: version.number(),
        // libvirt leaves out `none`, the machine of this very probe.
        machines: list(&machines)
            .iter()
            .filter_map(machine)
            .filter(|m| m.name != "none")
            .collect(),
        cpu_models: names(&cpus),
        commands: names(&commands),
        device_types: names(&devices),
        kvm_present: kvm["present"].as_bool().unwrap_or(false),
    })
}

fn list(v: &Value) -> &[Value] {
    v.as_array().map_or(&[], Vec::as_slice)
}

fn names(v: &Value) -> BTreeSet<String> {
    list(v)
        .iter()
        .filter_map(|e| e["name"].as_str().map(str::to_owned))
        .collect()
}

fn machine(v: &Value) -> Option<Machine> {
    Some(Machine {
        name: v["name"].as_str()?.to_owned(),
        alias: v["alias"].as_str().map(str::to_owned),
        is_default: v["is-default"].as_bool().unwrap_or(false),
        max_cpus: v["cpu-max"]
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(1),
        deprecated: v["deprecated"].as_bool().unwrap_or(false),
    })
}

/// A private directory for the probe's socket, removed afterwards.
struct ProbeDir(PathBuf);

impl ProbeDir {
    fn new() -> std::io::Result<ProbeDir> {
        use std::os::unix::fs::DirBuilderExt;
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("oxvirt-qemu-probe-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
        Ok(ProbeDir(dir))
    }
}

impl Drop for ProbeDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Probed binaries, by path, kept while their modification time stays the same.
#[derive(Debug, Default)]
pub struct CapsCache {
    known: Mutex<HashMap<PathBuf, (SystemTime, Arc<QemuCaps>)>>,
    probes: std::sync::atomic::AtomicUsize,
}

impl CapsCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The capabilities of `binary`, probed only if it was never probed or changed since.
    pub async fn get(&self, binary: &Path) -> Result<Arc<QemuCaps>, VirError> {
        let mtime = std::fs::metadata(binary)
            .and_then(|m| m.modified())
            .map_err(|e| {
                VirError::new(
                    ErrorDomain::Qemu,
                    ErrorCode::SystemError,
                    format!(
                        "Cannot check QEMU binary {}: {}",
                        binary.display(),
                        oxvirt_domain::fsio::strerror(&e)
                    ),
                )
            })?;
        if let Some((seen, caps)) = self.lock().get(binary) {
            if *seen == mtime {
                return Ok(Arc::clone(caps));
            }
        }
        self.probes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let caps = Arc::new(probe(binary).await?);
        self.lock()
            .insert(binary.to_path_buf(), (mtime, Arc::clone(&caps)));
        Ok(caps)
    }

    /// How many probes ran (each `get` that did not find a current entry).
    pub fn probes(&self) -> usize {
        self.probes.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, (SystemTime, Arc<QemuCaps>)>> {
        self.known.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
