//! What a QEMU binary can do, asked once through QMP and kept while the binary stays the
//! same (libvirt's `virQEMUCaps`, cached by binary path and modification time).
//!
//! The probe starts the binary as libvirt does, with no guest (`-machine none`), stopped,
//! without defaults, a QMP socket in a private temporary directory, then asks for its
//! version, target, machine types, CPU definitions, commands, QOM types, TPM types and
//! models, display types (from the QAPI schema) and KVM state, and quits. Like libvirt,
//! when `/dev/kvm` is usable it runs the binary a second time with KVM, whose machine
//! types and CPU definitions (usability differs) serve `kvm` domains.

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

/// A CPU model (`query-cpu-definitions`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuDefinition {
    /// Its name (`Skylake-Client`).
    pub name: String,
    /// Whether the accelerator can run it: `None` when QEMU does not say
    /// (no `unavailable-features`), else whether nothing is missing.
    pub usable: Option<bool>,
    /// Whether QEMU says it is deprecated.
    pub deprecated: bool,
}

/// What a binary offers under KVM (the second probe, `-machine none,accel=kvm`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvmCaps {
    /// Its machine types under KVM, in QEMU's order.
    pub machines: Vec<Machine>,
    /// Its CPU definitions under KVM, in QEMU's order.
    pub cpu_definitions: Vec<CpuDefinition>,
    /// Whether AMD SEV is available (`query-sev-capabilities` answers).
    pub sev: bool,
    /// Whether Intel SGX is available (`query-sgx-capabilities` answers).
    pub sgx: bool,
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
    /// The guest architecture, in libvirt's spelling (`query-target`: `i386` is `i686`).
    pub arch: String,
    /// Its CPU definitions under TCG, in QEMU's order.
    pub cpu_definitions: Vec<CpuDefinition>,
    /// Every non-abstract QOM type (`qom-list-types`): devices, backends, objects.
    pub object_types: BTreeSet<String>,
    /// TPM backends (`query-tpm-types`: `passthrough`, `emulator`).
    pub tpm_types: BTreeSet<String>,
    /// TPM front ends (`query-tpm-models`: `tpm-tis`, `tpm-crb`).
    pub tpm_models: BTreeSet<String>,
    /// `-display` types compiled in (the QAPI schema's `DisplayType` of
    /// `query-display-options`: `sdl`, `egl-headless`, `dbus`, ...).
    pub display_types: BTreeSet<String>,
    /// What it offers under KVM, when `/dev/kvm` is usable and QEMU enabled KVM there
    /// (libvirt's `QEMU_CAPS_KVM`).
    pub kvm: Option<KvmCaps>,
    /// Whether it runs guests with TCG (`qemu` domains); false for binaries built
    /// without it.
    pub tcg: bool,
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

    /// Whether the QOM type `name` (device, backend or object) exists.
    pub fn has_object(&self, name: &str) -> bool {
        self.object_types.contains(name) || self.device_types.contains(name)
    }

    /// The machine types for `kvm` (the KVM probe's) or else TCG's, in QEMU's order.
    pub fn machines_for(&self, kvm: bool) -> &[Machine] {
        match (&self.kvm, kvm) {
            (Some(k), true) => &k.machines,
            _ => &self.machines,
        }
    }

    /// The CPU definitions for `kvm` (the KVM probe's) or else TCG's, in QEMU's order.
    pub fn cpu_definitions_for(&self, kvm: bool) -> &[CpuDefinition] {
        match (&self.kvm, kvm) {
            (Some(k), true) => &k.cpu_definitions,
            _ => &self.cpu_definitions,
        }
    }
}

/// Whether this process can open `/dev/kvm` for reading and writing, libvirt's test
/// before it probes a binary with KVM.
pub fn kvm_usable() -> bool {
    rustix::fs::access(
        "/dev/kvm",
        rustix::fs::Access::READ_OK | rustix::fs::Access::WRITE_OK,
    )
    .is_ok()
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

/// Asks `binary` what it can do (about 100 ms for QEMU 7.2 here; twice that with KVM).
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
    let kvm_ok = kvm_usable();
    let tcg = match within(ASK_LIMIT, binary, Session::open(binary, "tcg")).await {
        Ok(session) => session,
        // A binary built without TCG (qemu-system-x86_64-microvm): everything comes
        // from its KVM run, and `qemu` domains are not offered.
        Err(_) if kvm_ok => {
            let kvm = Session::open(binary, "kvm").await?;
            let answer = async {
                let mut caps = ask(binary, &kvm.qmp).await?;
                caps.kvm = ask_kvm(&kvm.qmp).await?;
                caps.tcg = false;
                Ok(caps)
            }
            .await;
            return kvm
                .close(answer)
                .await
                .map_err(|e: crate::qmp::QmpError| probe_failed(binary, e));
        }
        Err(e) => return Err(e),
    };
    let answer = within(ASK_LIMIT, binary, async {
        ask(binary, &tcg.qmp)
            .await
            .map_err(|e| probe_failed(binary, e))
    })
    .await;
    // One that did not answer is not asked to quit: it is killed as the session drops.
    let mut caps = match answer {
        Ok(caps) => tcg.close(caps).await,
        Err(e) => return Err(e),
    };
    if kvm_ok {
        caps.kvm = probe_kvm(binary, KVM_LIMIT).await?;
    }
    Ok(caps)
}

/// `run`, failed with [`probe_failed`] if it takes longer than `limit` (it is dropped then,
/// and with it any probe it started, killed on drop).
async fn within<T>(
    limit: Duration,
    binary: &Path,
    run: impl std::future::Future<Output = Result<T, VirError>>,
) -> Result<T, VirError> {
    tokio::time::timeout(limit, run).await.unwrap_or_else(|_| {
        Err(probe_failed(
            binary,
            format!("it did not answer within {} ms", limit.as_millis()),
        ))
    })
}

/// How long a probe may take to answer its questions (about 100 ms here; seconds on a
/// loaded host). A binary that does not answer in time is killed and the probe fails.
const ASK_LIMIT: Duration = Duration::from_secs(30);

/// How long the KVM run of a probe may take, from spawn to answer. A KVM that does not
/// answer in time (a `-machine none,accel=kvm` stalled in the kernel) counts as unusable:
/// the binary is killed and only TCG is offered, rather than every caller waiting on it.
const KVM_LIMIT: Duration = Duration::from_secs(10);

/// The KVM capabilities of `binary`, `None` when it has no usable KVM (including a KVM run
/// that does not answer within `limit`).
async fn probe_kvm(binary: &Path, limit: Duration) -> Result<Option<KvmCaps>, VirError> {
    let run = async {
        let kvm = Session::open(binary, "kvm").await?;
        let answer = ask_kvm(&kvm.qmp).await;
        kvm.close(answer).await.map_err(|e| probe_failed(binary, e))
    };
    // On time-out the future is dropped, and with it the session's child (killed on drop)
    // and its directory.
    tokio::time::timeout(limit, run).await.unwrap_or(Ok(None))
}

/// A running probe: the binary with `-machine none,accel=ACCEL` and its monitor.
struct Session {
    child: tokio::process::Child,
    qmp: Qmp,
    _dir: ProbeDir,
}

impl Session {
    async fn open(binary: &Path, accel: &str) -> Result<Session, VirError> {
        let dir = ProbeDir::new().map_err(|e| probe_failed(binary, e))?;
        let sock = dir.0.join("qmp.sock");
        let mut child = Command::new(binary)
            .args(["-S", "-no-user-config", "-nodefaults", "-nographic"])
            .arg("-machine")
            .arg(format!("none,accel={accel}"))
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
        Ok(Session {
            child,
            qmp,
            _dir: dir,
        })
    }

    /// Quits the binary and hands back `answer`.
    async fn close<T>(mut self, answer: T) -> T {
        let _ = self.qmp.quit().await;
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
        let _ = self.child.kill().await;
        answer
    }
}

async fn ask(binary: &Path, qmp: &Qmp) -> Result<QemuCaps, crate::qmp::QmpError> {
    let version: QmpVersion = qmp.query_version().await?;
    let target = qmp.execute("query-target", None).await?;
    let machines = qmp.execute("query-machines", None).await?;
    let cpus = qmp.execute("query-cpu-definitions", None).await?;
    let commands = qmp.execute("query-commands", None).await?;
    let devices = qmp
        .execute(
            "qom-list-types",
            Some(json!({"implements": "device", "abstract": false})),
        )
        .await?;
    let objects = qmp
        .execute("qom-list-types", Some(json!({"abstract": false})))
        .await?;
    let kvm = qmp.execute("query-kvm", None).await?;
    let commands = names(&commands);
    let strings = |v: Result<Value, _>| -> BTreeSet<String> {
        v.ok()
            .map(|v| {
                list(&v)
                    .iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (tpm_types, tpm_models) = if commands.contains("query-tpm-types") {
        (
            strings(qmp.execute("query-tpm-types", None).await),
            strings(qmp.execute("query-tpm-models", None).await),
        )
    } else {
        Default::default()
    };
    let display_types = match qmp.execute("query-qmp-schema", None).await {
        Ok(schema) => display_types(&schema),
        Err(_) => BTreeSet::new(),
    };
    Ok(QemuCaps {
        binary: binary.to_path_buf(),
        version: version.number(),
        machines: machines_of(&machines),
        cpu_models: names(&cpus),
        commands,
        device_types: names(&devices),
        kvm_present: kvm["present"].as_bool().unwrap_or(false),
        arch: libvirt_arch(target["arch"].as_str().unwrap_or_default()).to_owned(),
        cpu_definitions: cpu_definitions(&cpus),
        object_types: names(&objects),
        tpm_types,
        tpm_models,
        display_types,
        kvm: None,
        tcg: true,
    })
}

/// The KVM probe: nothing when QEMU could not enable KVM.
async fn ask_kvm(qmp: &Qmp) -> Result<Option<KvmCaps>, crate::qmp::QmpError> {
    let kvm = qmp.execute("query-kvm", None).await?;
    if kvm["enabled"].as_bool() != Some(true) {
        return Ok(None);
    }
    let machines = qmp.execute("query-machines", None).await?;
    let cpus = qmp.execute("query-cpu-definitions", None).await?;
    let sev = qmp.execute("query-sev-capabilities", None).await.is_ok();
    let sgx = qmp.execute("query-sgx-capabilities", None).await.is_ok();
    Ok(Some(KvmCaps {
        machines: machines_of(&machines),
        cpu_definitions: cpu_definitions(&cpus),
        sev,
        sgx,
    }))
}

/// libvirt's name for QEMU's target architecture.
fn libvirt_arch(qemu: &str) -> &str {
    match qemu {
        "i386" => "i686",
        "arm" => "armv7l",
        "or1k" => "or32",
        other => other,
    }
}

/// The machine types, without `none` (the machine of the probe itself, which libvirt
/// leaves out).
fn machines_of(v: &Value) -> Vec<Machine> {
    list(v)
        .iter()
        .filter_map(machine)
        .filter(|m| m.name != "none")
        .collect()
}

fn cpu_definitions(v: &Value) -> Vec<CpuDefinition> {
    list(v)
        .iter()
        .filter_map(|c| {
            Some(CpuDefinition {
                name: c["name"].as_str()?.to_owned(),
                usable: c["unavailable-features"].as_array().map(Vec::is_empty),
                deprecated: c["deprecated"].as_bool().unwrap_or(false),
            })
        })
        .collect()
}

/// The `type` values of `query-display-options`' return type in a QAPI schema
/// (`query-qmp-schema`), whose type names are masked: follow the command's `ret-type` to
/// its object, the `type` member to its enum.
fn display_types(schema: &Value) -> BTreeSet<String> {
    let entries = list(schema);
    let by_name = |name: &str| entries.iter().find(|e| e["name"].as_str() == Some(name));
    let values = || -> Option<BTreeSet<String>> {
        let ret = by_name("query-display-options")?["ret-type"].as_str()?;
        let object = by_name(ret)?;
        let member = list(&object["members"])
            .iter()
            .find(|m| m["name"].as_str() == Some("type"))?;
        let enum_ = by_name(member["type"].as_str()?)?;
        Some(
            list(&enum_["values"])
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
        )
    };
    values().unwrap_or_default()
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
        // A probe whose binary went away mid-answer ("domain is no longer running": its
        // monitor closed) is tried once more before a start or a migration fails on it;
        // one CI run saw that once on a loaded machine. A binary that cannot answer fails
        // the same way twice.
        let caps = match probe(binary).await {
            Ok(caps) => caps,
            Err(first) if first.message.contains("Failed to probe capabilities") => {
                self.probes
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                probe(binary).await.map_err(|_| first)?
            }
            Err(e) => return Err(e),
        };
        let caps = Arc::new(caps);
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

#[cfg(test)]
mod probe_limit_tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// A stand-in for a QEMU whose KVM run stalls: it opens its monitor socket, greets, and
    /// then never answers. It writes its pid beside the script.
    const STALLING: &str = r#"#!/usr/bin/python3
import os, socket, sys, time
here = os.path.dirname(os.path.abspath(sys.argv[0]))
open(os.path.join(here, "pid"), "w").write(str(os.getpid()))
path = [a for a in sys.argv if a.startswith("unix:")][0][5:].split(",")[0]
s = socket.socket(socket.AF_UNIX)
s.bind(path)
s.listen(1)
c, _ = s.accept()
c.sendall(b'{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": ""}, "capabilities": []}}\r\n')
time.sleep(3600)
"#;

    fn gone_or_zombie(pid: &str) -> bool {
        match std::fs::read_to_string(format!("/proc/{pid}/status")) {
            Err(_) => true,
            Ok(status) => status
                .lines()
                .any(|l| l.starts_with("State:") && l.contains('Z')),
        }
    }

    #[tokio::test]
    async fn a_stalled_kvm_probe_means_no_kvm_and_is_killed() {
        if !Path::new("/usr/bin/python3").exists() {
            eprintln!("SKIPPED: no /usr/bin/python3 for the stalling stand-in");
            return;
        }
        let dir = std::env::temp_dir().join(format!("oxvirt-caps-stall-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fake = dir.join("qemu-stalls");
        std::fs::write(&fake, STALLING).unwrap();
        std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();

        let kvm = probe_kvm(&fake, Duration::from_millis(1500)).await.unwrap();
        assert!(kvm.is_none(), "a stalled KVM probe must count as no KVM");
        let pid = std::fs::read_to_string(dir.join("pid")).unwrap();
        let until = std::time::Instant::now() + Duration::from_secs(10);
        while !gone_or_zombie(&pid) {
            assert!(
                std::time::Instant::now() < until,
                "the stalled probe {pid} still runs"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }

        // The same stand-in as the TCG run: the probe fails, naming the binary and the limit.
        let e = within(Duration::from_millis(1500), &fake, async {
            let s = Session::open(&fake, "tcg").await?;
            ask(&fake, &s.qmp).await.map_err(|e| probe_failed(&fake, e))
        })
        .await
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::InternalError);
        assert!(
            e.message.contains("Failed to probe capabilities for")
                && e.message.contains("did not answer within 1500 ms"),
            "{}",
            e.message
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
