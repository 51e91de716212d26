//! The `iscsi` pool type: a target's LUNs through the kernel initiator, driven with
//! `iscsiadm` as libvirt's `storage_backend_iscsi.c` and `viriscsi.c` drive it.
//!
//! - start: unless a session to the target exists (`iscsiadm --mode session`), create the
//!   node record (`--mode node --portal HOST:PORT,1 --targetname IQN --op new`), set CHAP
//!   (`--op update --name node.session.auth.*`), and log in (`--login`), through an
//!   `iscsiadm` interface carrying the pool's `<initiator><iqn>` (found with
//!   `--mode iface`, or created as `libvirt-iface-XXXXXXXX` and discovered through).
//! - refresh: rescan the session (`--mode session -r N -R`), then read sysfs as libvirt:
//!   the session's SCSI host (`/sys/class/iscsi_session/sessionN/device/targetH:B:T`),
//!   its disks in `/sys/bus/scsi/devices/H:B:T:L` with their block devices; each is a
//!   volume `unit:B:T:L` whose path is the device's stable name in the pool's target
//!   directory (`/dev/disk/by-path`) and whose key is `scsi_id`'s serial.
//! - stop: log out if logged in. find-sources: SendTargets discovery (through the
//!   initiator's interface, which must exist, when the spec names one).
//!
//! The sysfs and `/dev` are read below an injectable root, and every command goes through
//! a [`CommandRunner`], so the backend is testable on a host with no kernel initiator.

use std::hash::{Hash, Hasher};
use std::path::{Component, Path, PathBuf};

use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use super::device::{self, storage_error};
use super::{Backend, Refreshed, Result, VolumeRead, VolumeWrite};
use crate::lvm::runner::command_line;
use crate::lvm::{CommandRunner, Output, SystemRunner};
use crate::model::{
    AuthSecret, Pool, PoolSource, PoolSourceDevice, PoolType, Volume, VolumeTarget, VolumeType,
};

/// Where libvirt (Debian's build) runs `iscsiadm` from.
pub const ISCSIADM: &str = "/usr/bin/iscsiadm";
/// The program libvirt asks for a disk's serial (the volume key).
pub const SCSI_ID: &str = "/lib/udev/scsi_id";
/// The iSCSI port used when the pool gives none.
pub const DEFAULT_PORT: i32 = 3260;

/// Looks up a CHAP secret's value (the secret driver's job): given the `<secret>` of a
/// pool's `<auth>`, its bytes.
pub type SecretLookup = Box<dyn Fn(&AuthSecret) -> Result<Vec<u8>> + Send + Sync>;

/// The CHAP password of `secret` through `secrets`; without a secret store, libvirt's
/// error for a secret that does not exist (`VIR_ERR_NO_SECRET`).
pub(crate) fn chap_password(secrets: Option<&SecretLookup>, secret: &AuthSecret) -> Result<String> {
    match secrets {
        Some(lookup) => Ok(String::from_utf8_lossy(&lookup(secret)?).into_owned()),
        None => Err(VirError::new(
            ErrorDomain::Secret,
            ErrorCode::NoSecret,
            match secret {
                AuthSecret::Usage(u) => format!("no secret with matching usage '{u}'"),
                AuthSecret::Uuid(u) => format!("no secret with matching uuid '{u}'"),
            },
        )),
    }
}

/// The `iscsi` backend over `iscsiadm` run by `R`, with sysfs and `/dev` below a root.
pub struct IscsiBackend<R: CommandRunner = SystemRunner> {
    runner: R,
    root: PathBuf,
    iscsiadm: String,
    secrets: Option<SecretLookup>,
}

impl<R: CommandRunner + std::fmt::Debug> std::fmt::Debug for IscsiBackend<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IscsiBackend")
            .field("runner", &self.runner)
            .field("root", &self.root)
            .field("iscsiadm", &self.iscsiadm)
            .finish_non_exhaustive()
    }
}

impl IscsiBackend<SystemRunner> {
    /// The host's `iscsiadm` and sysfs.
    pub fn system() -> Self {
        IscsiBackend::new(SystemRunner, "/")
    }
}

fn internal(msg: impl AsRef<str>) -> VirError {
    storage_error(ErrorCode::InternalError, msg)
}

fn one_host() -> VirError {
    storage_error(
        ErrorCode::ConfigUnsupported,
        "Expected exactly 1 host for the storage pool",
    )
}

/// libvirt's portal for a source's single host, as `iscsiadm` takes it: `HOST:PORT,1`
/// (`[HOST]:PORT,1` for an IPv6 address; port 3260 when unset; the name is not
/// resolved).
pub fn portal(source: &PoolSource) -> Result<String> {
    let [host] = source.hosts.as_slice() else {
        return Err(one_host());
    };
    let port = if host.port == 0 {
        DEFAULT_PORT
    } else {
        host.port
    };
    Ok(if host.name.contains(':') {
        format!("[{}]:{port},1", host.name)
    } else {
        format!("{}:{port},1", host.name)
    })
}

/// The session number of the `iscsiadm --mode session` line for `target`
/// (`tcp: [N] PORTAL,TPGT TARGET ...`).
pub fn parse_session(stdout: &str, target: &str) -> Option<String> {
    stdout.lines().find_map(|line| {
        let mut f = line.split_whitespace();
        if f.next()? != "tcp:" {
            return None;
        }
        let id = f.next()?.strip_prefix('[')?.strip_suffix(']')?;
        f.next()?;
        (f.next()? == target).then(|| id.to_string())
    })
}

/// The target names of `iscsiadm --mode discovery --type sendtargets` output (`PORTAL,TPGT
/// TARGET` per line).
pub fn parse_targets(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            (f.len() == 2).then(|| f[1].to_string())
        })
        .collect()
}

/// The interface of `iscsiadm --mode iface` output (`NAME TRANSPORT,HWADDR,IP,NET,IQN`
/// per line) whose initiator name is `iqn`; a line not of that form is libvirt's
/// "malformed output" error.
pub fn parse_iface(stdout: &str, iqn: &str) -> Result<Option<String>> {
    // As libvirt, only newline-terminated lines count.
    let complete = stdout.rfind('\n').map_or("", |end| &stdout[..end]);
    for line in complete.split('\n') {
        let malformed = || internal(format!("malformed output of {ISCSIADM}: {line}"));
        let (iface, rest) = line.split_once(' ').ok_or_else(malformed)?;
        let fields: Vec<&str> = rest.splitn(5, ',').collect();
        let [_, _, _, _, name] = fields.as_slice() else {
            return Err(malformed());
        };
        if *name == iqn {
            return Ok(Some(iface.to_string()));
        }
    }
    Ok(None)
}

/// The interface name oxvirt creates for `iqn`: libvirt's `libvirt-iface-XXXXXXXX` form
/// (32 bits; libvirt's are random, oxvirt's derive from the IQN so they are stable).
pub fn iface_name(iqn: &str) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    iqn.hash(&mut h);
    format!("libvirt-iface-{:08x}", h.finish() & 0xffff_ffff)
}

/// `/dev/disk/by-path/../../sdb` without `..`: the path a link points to, lexically.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(n) => out.push(n),
            _ => {}
        }
    }
    out
}

impl<R: CommandRunner> IscsiBackend<R> {
    /// The backend over `runner`, reading `/sys` and `/dev` below `root`.
    pub fn new(runner: R, root: impl Into<PathBuf>) -> Self {
        IscsiBackend {
            runner,
            root: root.into(),
            iscsiadm: ISCSIADM.to_string(),
            secrets: None,
        }
    }

    /// Runs `program` as `iscsiadm` instead of [`ISCSIADM`].
    pub fn with_iscsiadm(mut self, program: &str) -> Self {
        self.iscsiadm = program.to_string();
        self
    }

    /// Reads CHAP secrets through `secrets`.
    pub fn with_secrets(mut self, secrets: SecretLookup) -> Self {
        self.secrets = Some(secrets);
        self
    }

    /// The runner (the fake's recorded commands, in tests).
    pub fn runner(&self) -> &R {
        &self.runner
    }

    fn host_path(&self, path: &str) -> PathBuf {
        self.root.join(path.trim_start_matches('/'))
    }

    /// Runs `program`; one that cannot be executed ends as libvirt's child does: status
    /// 127 and its message on stderr.
    fn exec(&self, program: &str, args: &[&str]) -> Result<Output> {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        match self.runner.run(program, &args, &[]) {
            Ok(out) => Ok(out),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Output::failed(
                127,
                format!("libvirt:  error : cannot execute binary {program}: No such file or directory\n"),
            )),
            Err(e) => Err(storage_error(
                ErrorCode::SystemError,
                format!("cannot execute binary {program}: {e}"),
            )),
        }
    }

    fn iscsiadm(&self, args: &[&str]) -> Result<Output> {
        self.exec(&self.iscsiadm, args)
    }

    /// Runs `iscsiadm`; a failure is libvirt's `Child process (...) unexpected exit
    /// status N: STDERR`.
    fn iscsiadm_ok(&self, args: &[&str]) -> Result<Output> {
        let out = self.iscsiadm(args)?;
        if out.success() {
            return Ok(out);
        }
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let line = command_line(&self.iscsiadm, &args);
        let status = match out.status {
            Some(n) => format!("exit status {n}"),
            None => "fatal signal".to_string(),
        };
        let err = out.stderr.trim_end();
        let detail = if err.is_empty() {
            String::new()
        } else {
            format!(": {err}")
        };
        Err(internal(format!(
            "Child process ({line}) unexpected {status}{detail}"
        )))
    }

    fn check_source(pool: &Pool) -> Result<&str> {
        if pool.source.hosts.len() != 1 {
            return Err(one_host());
        }
        if pool.source.hosts[0].name.is_empty() {
            return Err(internal("missing source host"));
        }
        match pool.source.devices.first() {
            Some(d) if pool.source.devices.len() == 1 && !d.path.is_empty() => Ok(&d.path),
            _ => Err(internal("missing source device")),
        }
    }

    /// The number of the session logged in to `target`; `None` when there is none and
    /// `probe`, libvirt's error otherwise. The command's status is not checked (old
    /// `iscsiadm`s exit non-zero when there are no sessions).
    pub fn session(&self, target: &str, probe: bool) -> Result<Option<String>> {
        let out = self.iscsiadm(&["--mode", "session"])?;
        match parse_session(&out.stdout, target) {
            Some(s) => Ok(Some(s)),
            None if probe => Ok(None),
            None => Err(internal(format!(
                "cannot find iscsiadm session: {}",
                out.stderr.trim_end()
            ))),
        }
    }

    fn find_iface(&self, iqn: &str) -> Result<Option<String>> {
        let out = self.iscsiadm_ok(&["--mode", "iface"])?;
        parse_iface(&out.stdout, iqn)
    }

    /// Creates the interface for `iqn` (both commands' statuses ignored, as libvirt: old
    /// tools fail when they succeed) and checks it is there.
    fn create_iface(&self, iqn: &str) -> Result<String> {
        let name = iface_name(iqn);
        self.iscsiadm(&["--mode", "iface", "--interface", &name, "--op", "new"])?;
        self.iscsiadm(&[
            "--mode",
            "iface",
            "--interface",
            &name,
            "--op",
            "update",
            "--name",
            "iface.initiatorname",
            "--value",
            iqn,
        ])?;
        self.find_iface(iqn)?.ok_or_else(|| {
            internal(format!(
                "Failed to find interface '{name}' with IQN '{iqn}' after attempting to create it"
            ))
        })
    }

    fn scan(&self, portal: &str, iface: Option<&str>, persist: bool) -> Result<Vec<String>> {
        let mut args = vec![
            "--mode",
            "discovery",
            "--type",
            "sendtargets",
            "--portal",
            portal,
        ];
        if !persist {
            args.extend(["--op", "nonpersistent"]);
        }
        if let Some(i) = iface {
            args.extend(["--interface", i]);
        }
        Ok(parse_targets(&self.iscsiadm_ok(&args)?.stdout))
    }

    /// SendTargets discovery at `portal` (not recorded: `--op nonpersistent`), through
    /// the interface of `initiator` if given, which must exist.
    pub fn scan_targets(&self, portal: &str, initiator: Option<&str>) -> Result<Vec<String>> {
        let iface = match initiator {
            Some(iqn) => Some(self.find_iface(iqn)?.ok_or_else(|| {
                storage_error(
                    ErrorCode::OperationFailed,
                    format!("no iSCSI interface defined for IQN {iqn}"),
                )
            })?),
            None => None,
        };
        self.scan(portal, iface.as_deref(), false)
    }

    /// The static node record libvirt creates before logging in.
    fn node_new(&self, portal: &str, target: &str) -> Result<()> {
        let out = self.iscsiadm(&[
            "--mode",
            "node",
            "--portal",
            portal,
            "--targetname",
            target,
            "--op",
            "new",
        ])?;
        match out.status {
            Some(0) => Ok(()),
            Some(n) => Err(internal(format!(
                "{} failed new mode for target '{target}' with status '{n}'",
                self.iscsiadm
            ))),
            None => Err(internal(format!(
                "Failed new node mode for target '{target}'"
            ))),
        }
    }

    fn node_update(&self, portal: &str, target: &str, name: &str, value: &str) -> Result<()> {
        self.iscsiadm(&[
            "--mode", "node", "--portal", portal, "--target", target, "--op", "update", "--name",
            name, "--value", value,
        ])
        .map(|_| ())
        .map_err(|_| {
            internal(format!(
                "Failed to update '{name}' of node mode for target '{target}'"
            ))
        })
    }

    /// Logs in or out (`action` `--login`/`--logout`), through the initiator's interface
    /// when the pool names one.
    fn connection(
        &self,
        portal: &str,
        initiator: Option<&str>,
        target: &str,
        action: &str,
    ) -> Result<()> {
        let mut args = vec![
            "--mode",
            "node",
            "--portal",
            portal,
            "--targetname",
            target,
            action,
        ];
        let iface;
        if let Some(iqn) = initiator {
            iface = match self.find_iface(iqn)? {
                Some(i) => i,
                None => {
                    let i = self.create_iface(iqn)?;
                    // iscsiadm takes no command for a new interface before a discovery
                    // through it that records the targets.
                    self.scan(portal, Some(&i), true)?;
                    i
                }
            };
            args.extend(["--interface", iface.as_str()]);
        }
        self.iscsiadm_ok(&args).map(|_| ())
    }

    fn set_auth(&self, portal: &str, pool: &Pool, target: &str) -> Result<()> {
        let Some(auth) = &pool.source.auth else {
            return Ok(());
        };
        if auth.auth_type == "none" {
            return Ok(());
        }
        if auth.auth_type != "chap" {
            return Err(storage_error(
                ErrorCode::XmlError,
                "iscsi pool only supports 'chap' auth type",
            ));
        }
        let password = chap_password(self.secrets.as_ref(), &auth.secret)?;
        self.node_update(portal, target, "node.session.auth.authmethod", "CHAP")?;
        self.node_update(portal, target, "node.session.auth.username", &auth.username)?;
        self.node_update(portal, target, "node.session.auth.password", &password)
    }

    /// The SCSI host number of session `session` (its `device/targetH:B:T` entry).
    fn host_number(&self, session: &str) -> Result<u32> {
        let path = format!("/sys/class/iscsi_session/session{session}/device");
        let entries = std::fs::read_dir(self.host_path(&path)).map_err(|e| {
            storage_error(
                ErrorCode::SystemError,
                format!("cannot open directory '{path}': {e}"),
            )
        })?;
        let Some(name) = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().into_string().ok())
            .find(|n| n.starts_with("target"))
        else {
            return Err(internal(format!(
                "Failed to get host number for iSCSI session with path '{path}'"
            )));
        };
        name["target".len()..]
            .split(':')
            .next()
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| internal(format!("Failed to parse target '{name}'")))
    }

    fn block_device(&self, dir: &Path) -> Option<String> {
        if let Ok(entries) = std::fs::read_dir(dir.join("block")) {
            if let Some(name) = entries
                .filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .min()
            {
                return Some(name);
            }
        }
        std::fs::read_dir(dir)
            .ok()?
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().into_string().ok())
            .find_map(|n| n.strip_prefix("block:").map(str::to_string))
    }

    fn device_size(&self, dir: &Path, name: &str) -> u64 {
        let candidates = [
            dir.join("block").join(name).join("size"),
            self.host_path(&format!("/sys/class/block/{name}/size")),
        ];
        candidates
            .iter()
            .find_map(|p| std::fs::read_to_string(p).ok()?.trim().parse::<u64>().ok())
            .map_or(0, |sectors| sectors * 512)
    }

    /// The stable name of `/dev/NAME` in the pool's target directory (a link there that
    /// resolves to it), or the device path itself when the target is `/dev` or not below
    /// it, or no link is found.
    fn stable_path(&self, pool: &Pool, devpath: &str) -> String {
        let Some(dir) = pool.target_path.as_deref() else {
            return devpath.to_string();
        };
        let dir = dir.trim_end_matches('/');
        if dir == "/dev" || !dir.starts_with("/dev/") {
            return devpath.to_string();
        }
        let Ok(entries) = std::fs::read_dir(self.host_path(dir)) else {
            return devpath.to_string();
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        names.sort();
        for name in names {
            let Ok(link) = std::fs::read_link(self.host_path(&format!("{dir}/{name}"))) else {
                continue;
            };
            if normalize(&Path::new(dir).join(link)) == Path::new(devpath) {
                return format!("{dir}/{name}");
            }
        }
        devpath.to_string()
    }

    /// The volume key: `scsi_id`'s serial for the device, or its path.
    fn serial(&self, path: &str) -> String {
        match self.exec(
            SCSI_ID,
            &["--replace-whitespace", "--whitelisted", "--device", path],
        ) {
            Ok(out) if out.success() && !out.stdout.trim().is_empty() => {
                out.stdout.trim().to_string()
            }
            _ => path.to_string(),
        }
    }

    /// The disks and CD-ROMs of SCSI host `host`, as volumes.
    fn find_lus(&self, pool: &Pool, host: u32) -> Result<Vec<Volume>> {
        let devices = self.host_path("/sys/bus/scsi/devices");
        let entries = std::fs::read_dir(&devices).map_err(|e| {
            storage_error(
                ErrorCode::SystemError,
                format!("Failed to opendir path '/sys/bus/scsi/devices': {e}"),
            )
        })?;
        let mut units: Vec<[u32; 4]> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter_map(|n| {
                let v: Vec<u32> = n
                    .split(':')
                    .map(|p| p.parse().ok())
                    .collect::<Option<_>>()?;
                <[u32; 4]>::try_from(v).ok()
            })
            .filter(|u| u[0] == host)
            .collect();
        units.sort();
        let mut vols = Vec::new();
        for [h, bus, target, lun] in units {
            let dir = devices.join(format!("{h}:{bus}:{target}:{lun}"));
            let kind = std::fs::read_to_string(dir.join("type"))
                .ok()
                .and_then(|t| t.trim().parse::<u32>().ok());
            if !matches!(kind, Some(0) | Some(5)) {
                continue;
            }
            let Some(name) = self.block_device(&dir) else {
                continue;
            };
            let capacity = self.device_size(&dir, &name);
            let path = self.stable_path(pool, &format!("/dev/{name}"));
            vols.push(Volume {
                pool_type: PoolType::Iscsi,
                vol_type: VolumeType::Block,
                name: format!("unit:{bus}:{target}:{lun}"),
                key: Some(self.serial(&path)),
                extents: Vec::new(),
                capacity,
                allocation: capacity,
                has_allocation: true,
                physical: 0,
                target: VolumeTarget {
                    path: Some(path),
                    ..VolumeTarget::default()
                },
                backing_store: None,
            });
        }
        Ok(vols)
    }

    fn device_path(vol: &Volume) -> Result<String> {
        vol.target
            .path
            .clone()
            .ok_or_else(|| internal(format!("volume '{}' has no path", vol.name)))
    }
}

impl<R: CommandRunner + Send + Sync> Backend for IscsiBackend<R> {
    fn pool_type(&self) -> &'static str {
        "iscsi"
    }

    /// Active when a session to the target exists.
    fn check(&self, pool: &Pool) -> Result<bool> {
        let target = Self::check_source(pool)?;
        Ok(self.session(target, true)?.is_some())
    }

    /// libvirt's iscsi pools have nothing to build.
    fn build(&self, _pool: &Pool, _flags: u32) -> Result<()> {
        Ok(())
    }

    fn start(&self, pool: &Pool) -> Result<()> {
        let target = Self::check_source(pool)?;
        if self.session(target, true)?.is_some() {
            return Ok(());
        }
        let portal = portal(&pool.source)?;
        self.node_new(&portal, target)?;
        self.set_auth(&portal, pool, target)?;
        self.connection(
            &portal,
            pool.source.initiator_iqn.as_deref(),
            target,
            "--login",
        )
    }

    fn refresh(&self, pool: &Pool) -> Result<Refreshed> {
        let target = Self::check_source(pool)?;
        let session = self
            .session(target, false)?
            .ok_or_else(|| internal("cannot find iscsiadm session: "))?;
        self.iscsiadm_ok(&["--mode", "session", "-r", &session, "-R"])?;
        let host = self.host_number(&session)?;
        let volumes = self.find_lus(pool, host)?;
        Ok(Refreshed {
            capacity: volumes.iter().map(|v| v.capacity).sum(),
            allocation: volumes.iter().map(|v| v.allocation).sum(),
            available: 0,
            volumes,
        })
    }

    /// Logs out, if a session exists.
    fn stop(&self, pool: &Pool) -> Result<()> {
        let target = Self::check_source(pool)?;
        if self.session(target, true)?.is_none() {
            return Ok(());
        }
        let portal = portal(&pool.source)?;
        self.connection(
            &portal,
            pool.source.initiator_iqn.as_deref(),
            target,
            "--logout",
        )
    }

    /// SendTargets discovery at the spec's host: one source per target.
    fn find_sources(&self, spec: Option<&PoolSource>, flags: u32) -> Result<Vec<PoolSource>> {
        VirError::check_flags(
            ErrorDomain::Storage,
            flags,
            0,
            "virStorageBackendISCSIFindPoolSources",
        )?;
        let Some(spec) = spec else {
            return Err(storage_error(
                ErrorCode::InvalidArg,
                "hostname must be specified for iscsi sources",
            ));
        };
        if spec.hosts.len() != 1 {
            return Err(one_host());
        }
        let portal = portal(spec)?;
        let targets = self.scan_targets(&portal, spec.initiator_iqn.as_deref())?;
        Ok(targets
            .into_iter()
            .map(|t| PoolSource {
                hosts: spec.hosts.clone(),
                devices: vec![PoolSourceDevice {
                    path: t,
                    part_separator: None,
                    free_extents: Vec::new(),
                }],
                initiator_iqn: spec.initiator_iqn.clone(),
                ..PoolSource::default()
            })
            .collect())
    }

    /// Writes zeroes over the LUN's block device.
    fn wipe_volume(&self, _pool: &Pool, vol: &Volume, algorithm: u32, flags: u32) -> Result<()> {
        VirError::check_flags(
            ErrorDomain::Storage,
            flags,
            0,
            "virStorageBackendVolWipeLocal",
        )?;
        if algorithm != 0 {
            return Err(storage_error(
                ErrorCode::InvalidArg,
                format!("unsupported algorithm {algorithm}"),
            ));
        }
        device::zero_device(&Self::device_path(vol)?)
    }

    fn open_read(
        &self,
        _pool: &Pool,
        vol: &Volume,
        offset: u64,
        length: u64,
    ) -> Result<Box<dyn VolumeRead>> {
        let path = Self::device_path(vol)?;
        Ok(Box::new(device::DeviceReader::open(&path, offset, length)?))
    }

    fn open_write(
        &self,
        _pool: &Pool,
        vol: &Volume,
        offset: u64,
        length: u64,
    ) -> Result<Box<dyn VolumeWrite>> {
        let path = Self::device_path(vol)?;
        Ok(Box::new(device::DeviceWriter::open(&path, offset, length)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lvm::FakeRunner;

    const IQN: &str = "iqn.2024-01.org.oxvirt:tgt";
    const INITIATOR: &str = "iqn.2024-01.org.oxvirt:init";
    const MIB: u64 = 1 << 20;

    fn pool(extra: &str) -> Pool {
        Pool::parse(&format!(
            "<pool type='iscsi'><name>p</name><source><host name='127.0.0.1'/>\
             <device path='{IQN}'/>{extra}</source>\
             <target><path>/dev/disk/by-path</path></target></pool>"
        ))
        .unwrap()
    }

    /// A temporary host root with a fake sysfs and `/dev/disk/by-path`.
    struct Root(PathBuf);

    impl Root {
        fn new(tag: &str) -> Root {
            let root = std::env::temp_dir()
                .join(format!("oxvirt-iscsi-root-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&root);
            let mk = |p: &str| std::fs::create_dir_all(root.join(p)).unwrap();
            let write = |p: &str, s: &str| std::fs::write(root.join(p), s).unwrap();
            mk("sys/class/iscsi_session/session3/device/target5:0:0");
            mk("sys/class/iscsi_session/session3/device/power");
            // LUN 0: tgt's controller (type 12) is not listed.
            mk("sys/bus/scsi/devices/5:0:0:0");
            write("sys/bus/scsi/devices/5:0:0:0/type", "12\n");
            for (unit, dev, size) in [
                ("5:0:0:1", "sdb", 64 * MIB),
                ("5:0:0:2", "sdc", 100 * MIB),
                ("6:0:0:1", "sdd", MIB),
            ] {
                mk(&format!("sys/bus/scsi/devices/{unit}/block/{dev}"));
                write(&format!("sys/bus/scsi/devices/{unit}/type"), "0\n");
                write(
                    &format!("sys/bus/scsi/devices/{unit}/block/{dev}/size"),
                    &format!("{}\n", size / 512),
                );
            }
            mk("sys/bus/scsi/devices/host5");
            mk("dev/disk/by-path");
            for (lun, dev) in [(1, "sdb"), (2, "sdc")] {
                std::os::unix::fs::symlink(
                    format!("../../{dev}"),
                    root.join(format!(
                        "dev/disk/by-path/ip-127.0.0.1:3260-iscsi-{IQN}-lun-{lun}"
                    )),
                )
                .unwrap();
            }
            Root(root)
        }
    }

    impl Drop for Root {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn by_path(lun: u32) -> String {
        format!("/dev/disk/by-path/ip-127.0.0.1:3260-iscsi-{IQN}-lun-{lun}")
    }

    #[test]
    fn parses_iscsiadm_output() {
        let sessions = "tcp: [1] 192.168.122.170:3260,1 demo-tgt-b (non-flash)\n\
                        tcp: [12] 192.168.122.170:3260,1 demo-tgt-a (non-flash)\n";
        assert_eq!(parse_session(sessions, "demo-tgt-a").as_deref(), Some("12"));
        assert_eq!(parse_session(sessions, "demo-tgt"), None);
        let found = "10.0.0.1:3260,1 iqn.a\n10.0.0.1:3260,1 iqn.b\n\n";
        assert_eq!(parse_targets(found), vec!["iqn.a", "iqn.b"]);
        let ifaces = "default tcp,<empty>,<empty>,<empty>,<empty>\n\
                      libvirt-iface-0000abcd tcp,<empty>,<empty>,<empty>,iqn.x\n";
        assert_eq!(
            parse_iface(ifaces, "iqn.x").unwrap().as_deref(),
            Some("libvirt-iface-0000abcd")
        );
        assert_eq!(parse_iface(ifaces, "iqn.y").unwrap(), None);
        assert!(iface_name("iqn.x").starts_with("libvirt-iface-"));
        assert_eq!(iface_name("iqn.x").len(), "libvirt-iface-".len() + 8);
        assert_eq!(iface_name("iqn.x"), iface_name("iqn.x"));
    }

    #[test]
    fn refresh_reads_the_sessions_luns() {
        let root = Root::new("refresh");
        let fake = FakeRunner::new();
        for _ in 0..2 {
            fake.answer(
                "/usr/bin/iscsiadm --mode session",
                Output::ok(format!("tcp: [3] 127.0.0.1:3260,1 {IQN} (non-flash)\n")),
            );
        }
        fake.answer(
            "/lib/udev/scsi_id --replace-whitespace --whitelisted --device /dev/disk/by-path/ip-127.0.0.1:3260-iscsi-iqn.2024-01.org.oxvirt:tgt-lun-1",
            Output::ok("360000000000000000e00000000010001\n"),
        );
        fake.answer("/lib/udev/scsi_id", Output::failed(1, ""));
        let b = IscsiBackend::new(&fake, &root.0);
        let p = pool("");
        assert!(b.check(&p).unwrap());
        let r = b.refresh(&p).unwrap();
        assert_eq!(
            fake.calls(),
            vec![
                "/usr/bin/iscsiadm --mode session".to_string(),
                "/usr/bin/iscsiadm --mode session".to_string(),
                "/usr/bin/iscsiadm --mode session -r 3 -R".to_string(),
                format!(
                    "/lib/udev/scsi_id --replace-whitespace --whitelisted --device {}",
                    by_path(1)
                ),
                format!(
                    "/lib/udev/scsi_id --replace-whitespace --whitelisted --device {}",
                    by_path(2)
                ),
            ]
        );
        assert_eq!(r.volumes.len(), 2, "{:?}", r.volumes);
        let v1 = &r.volumes[0];
        assert_eq!(v1.name, "unit:0:0:1");
        assert_eq!(v1.vol_type, VolumeType::Block);
        assert_eq!(v1.key.as_deref(), Some("360000000000000000e00000000010001"));
        assert_eq!(v1.target.path.as_deref(), Some(by_path(1).as_str()));
        assert_eq!((v1.capacity, v1.allocation), (64 * MIB, 64 * MIB));
        let v2 = &r.volumes[1];
        assert_eq!(v2.name, "unit:0:0:2");
        assert_eq!(
            v2.key.as_deref(),
            Some(by_path(2).as_str()),
            "scsi_id failed: key is the path"
        );
        assert_eq!(v2.capacity, 100 * MIB);
        assert_eq!(
            (r.capacity, r.allocation, r.available),
            (164 * MIB, 164 * MIB, 0)
        );

        // A target path of /dev: the kernel names.
        let mut p = p.clone();
        p.target_path = Some("/dev".into());
        fake.answer(
            "/usr/bin/iscsiadm --mode session",
            Output::ok(format!("tcp: [3] 127.0.0.1:3260,1 {IQN}\n")),
        );
        let r = b.refresh(&p).unwrap();
        let paths: Vec<_> = r
            .volumes
            .iter()
            .map(|v| v.target.path.clone().unwrap())
            .collect();
        assert_eq!(paths, vec!["/dev/sdb", "/dev/sdc"]);
    }

    #[test]
    fn refresh_without_a_session_fails_as_libvirt() {
        let root = Root::new("nosession");
        let fake = FakeRunner::new();
        fake.answer(
            "/usr/bin/iscsiadm --mode session",
            Output::failed(21, "iscsiadm: No active sessions.\n"),
        );
        let b = IscsiBackend::new(&fake, &root.0);
        assert!(!b.check(&pool("")).unwrap());
        fake.answer(
            "/usr/bin/iscsiadm --mode session",
            Output::failed(21, "iscsiadm: No active sessions.\n"),
        );
        let e = b.refresh(&pool("")).unwrap_err();
        assert_eq!(e.code, ErrorCode::InternalError);
        assert_eq!(
            e.message,
            "internal error: cannot find iscsiadm session: iscsiadm: No active sessions."
        );
        // A session whose sysfs has no target: libvirt's message.
        fake.answer(
            "/usr/bin/iscsiadm --mode session",
            Output::ok(format!("tcp: [4] 127.0.0.1:3260,1 {IQN}\n")),
        );
        std::fs::create_dir_all(root.0.join("sys/class/iscsi_session/session4/device")).unwrap();
        let e = b.refresh(&pool("")).unwrap_err();
        assert_eq!(
            e.message,
            "internal error: Failed to get host number for iSCSI session with path \
             '/sys/class/iscsi_session/session4/device'"
        );
    }

    #[test]
    fn start_and_stop_run_libvirts_commands() {
        let fake = FakeRunner::new();
        let b = IscsiBackend::new(&fake, "/nonexistent");
        b.start(&pool("")).unwrap();
        assert_eq!(
            fake.calls(),
            vec![
                "/usr/bin/iscsiadm --mode session".to_string(),
                format!("/usr/bin/iscsiadm --mode node --portal 127.0.0.1:3260,1 --targetname {IQN} --op new"),
                format!("/usr/bin/iscsiadm --mode node --portal 127.0.0.1:3260,1 --targetname {IQN} --login"),
            ]
        );

        // Already logged in: nothing to do.
        let fake = FakeRunner::new();
        fake.answer(
            "/usr/bin/iscsiadm --mode session",
            Output::ok(format!("tcp: [2] 127.0.0.1:3260,1 {IQN} (non-flash)\n")),
        );
        IscsiBackend::new(&fake, "/").start(&pool("")).unwrap();
        assert_eq!(fake.calls().len(), 1);

        // With an initiator IQN and CHAP: the secret, the node's auth settings, and a new
        // interface for the IQN (discovered through before the login).
        let fake = FakeRunner::new();
        let iface = iface_name(INITIATOR);
        // (Answers match by prefix: the interface commands' own answers come first.)
        for _ in 0..2 {
            fake.answer("/usr/bin/iscsiadm --mode iface --interface", Output::ok(""));
        }
        fake.answer(
            "/usr/bin/iscsiadm --mode iface",
            Output::ok("default tcp,<empty>,<empty>,<empty>,<empty>\n"),
        );
        fake.answer(
            "/usr/bin/iscsiadm --mode iface",
            Output::ok(format!("default tcp,<empty>,<empty>,<empty>,<empty>\n{iface} tcp,<empty>,<empty>,<empty>,{INITIATOR}\n")),
        );
        let extra = format!(
            "<initiator><iqn name='{INITIATOR}'/></initiator>\
             <auth type='chap' username='oxuser'><secret usage='oxsecret'/></auth>"
        );
        let b = IscsiBackend::new(&fake, "/").with_secrets(Box::new(|s| match s {
            AuthSecret::Usage(u) if u == "oxsecret" => Ok(b"pa ss".to_vec()),
            _ => Err(internal("wrong secret")),
        }));
        b.start(&pool(&extra)).unwrap();
        let node = "/usr/bin/iscsiadm --mode node --portal 127.0.0.1:3260,1";
        assert_eq!(
            fake.calls(),
            vec![
                "/usr/bin/iscsiadm --mode session".to_string(),
                format!("{node} --targetname {IQN} --op new"),
                format!("{node} --target {IQN} --op update --name node.session.auth.authmethod --value CHAP"),
                format!("{node} --target {IQN} --op update --name node.session.auth.username --value oxuser"),
                format!("{node} --target {IQN} --op update --name node.session.auth.password --value 'pa ss'"),
                "/usr/bin/iscsiadm --mode iface".to_string(),
                format!("/usr/bin/iscsiadm --mode iface --interface {iface} --op new"),
                format!("/usr/bin/iscsiadm --mode iface --interface {iface} --op update --name iface.initiatorname --value {INITIATOR}"),
                "/usr/bin/iscsiadm --mode iface".to_string(),
                format!("/usr/bin/iscsiadm --mode discovery --type sendtargets --portal 127.0.0.1:3260,1 --interface {iface}"),
                format!("{node} --targetname {IQN} --login --interface {iface}"),
            ]
        );

        // Stop: log out through the (now existing) interface.
        let fake = FakeRunner::new();
        fake.answer(
            "/usr/bin/iscsiadm --mode session",
            Output::ok(format!("tcp: [2] 127.0.0.1:3260,1 {IQN} (non-flash)\n")),
        );
        fake.answer(
            "/usr/bin/iscsiadm --mode iface",
            Output::ok(format!("{iface} tcp,<empty>,<empty>,<empty>,{INITIATOR}\n")),
        );
        IscsiBackend::new(&fake, "/").stop(&pool(&extra)).unwrap();
        assert_eq!(
            fake.calls(),
            vec![
                "/usr/bin/iscsiadm --mode session".to_string(),
                "/usr/bin/iscsiadm --mode iface".to_string(),
                format!("{node} --targetname {IQN} --logout --interface {iface}"),
            ]
        );
        // Not logged in: nothing to log out of.
        let fake = FakeRunner::new();
        IscsiBackend::new(&fake, "/").stop(&pool(&extra)).unwrap();
        assert_eq!(fake.calls(), vec!["/usr/bin/iscsiadm --mode session"]);

        // Two hosts: libvirt's refusal.
        let two = Pool::parse(&format!(
            "<pool type='iscsi'><name>p</name><source><host name='a'/><host name='b'/>\
             <device path='{IQN}'/></source><target><path>/dev</path></target></pool>"
        ));
        if let Ok(two) = two {
            let e = IscsiBackend::new(&fake, "/").start(&two).unwrap_err();
            assert_eq!(
                e.message,
                "unsupported configuration: Expected exactly 1 host for the storage pool"
            );
        }

        // CHAP without a secret store: libvirt's missing-secret error, before any login.
        let fake = FakeRunner::new();
        let e = IscsiBackend::new(&fake, "/")
            .start(&pool(&extra))
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::NoSecret);
        assert_eq!(
            e.message,
            "Secret not found: no secret with matching usage 'oxsecret'"
        );
        assert!(!fake.calls().iter().any(|c| c.contains("--login")));

        // A failed login: the command, its status and stderr.
        let fake = FakeRunner::new();
        fake.answer(
            &format!("{node} --targetname {IQN} --login"),
            Output::failed(8, "iscsiadm: Could not login\n"),
        );
        let e = IscsiBackend::new(&fake, "/").start(&pool("")).unwrap_err();
        assert_eq!(
            e.message,
            format!("internal error: Child process ({node} --targetname {IQN} --login) unexpected exit status 8: iscsiadm: Could not login")
        );
    }

    #[test]
    fn find_sources_parses_sendtargets() {
        let fake = FakeRunner::new();
        fake.answer(
            "/usr/bin/iscsiadm --mode discovery",
            Output::ok(
                "127.0.0.1:3260,1 iqn.2024-01.org.x:a\n127.0.0.1:3260,1 iqn.2024-01.org.x:b\n",
            ),
        );
        let b = IscsiBackend::new(&fake, "/");
        let spec = pool("").source;
        let found = b.find_sources(Some(&spec), 0).unwrap();
        assert_eq!(
            fake.calls(),
            vec!["/usr/bin/iscsiadm --mode discovery --type sendtargets --portal 127.0.0.1:3260,1 --op nonpersistent"]
        );
        let xml = crate::model::sources_to_xml(PoolType::Iscsi, &found);
        assert!(
            xml.contains("<host name='127.0.0.1'/>")
                && xml.contains("<device path='iqn.2024-01.org.x:b'/>"),
            "{xml}"
        );
        assert_eq!(found.len(), 2);
        // Through an initiator's interface, which must exist.
        let fake = FakeRunner::new();
        fake.answer(
            "/usr/bin/iscsiadm --mode iface",
            Output::ok("default tcp,<empty>,<empty>,<empty>,<empty>\n"),
        );
        let b2 = IscsiBackend::new(&fake, "/");
        let mut with_iqn = spec.clone();
        with_iqn.initiator_iqn = Some(INITIATOR.into());
        let e = b2.find_sources(Some(&with_iqn), 0).unwrap_err();
        assert_eq!(e.code, ErrorCode::OperationFailed);
        assert_eq!(
            e.message,
            format!("operation failed: no iSCSI interface defined for IQN {INITIATOR}")
        );
        fake.answer("/usr/bin/iscsiadm --mode iface", Output::ok("garbage\n"));
        let e = b2.find_sources(Some(&with_iqn), 0).unwrap_err();
        assert_eq!(
            e.message,
            "internal error: malformed output of /usr/bin/iscsiadm: garbage"
        );
        let e = b.find_sources(None, 0).unwrap_err();
        assert_eq!(
            e.message,
            "invalid argument: hostname must be specified for iscsi sources"
        );
    }

    #[test]
    fn missing_iscsiadm_fails_as_libvirt_does() {
        let b = IscsiBackend::new(SystemRunner, "/").with_iscsiadm("/nonexistent/iscsiadm");
        let e = b.find_sources(Some(&pool("").source), 0).unwrap_err();
        assert_eq!(
            e.message,
            "internal error: Child process (/nonexistent/iscsiadm --mode discovery --type \
             sendtargets --portal 127.0.0.1:3260,1 --op nonpersistent) unexpected exit status \
             127: libvirt:  error : cannot execute binary /nonexistent/iscsiadm: No such file or directory"
        );
        let e = b.start(&pool("")).unwrap_err();
        assert_eq!(
            e.message,
            format!("internal error: /nonexistent/iscsiadm failed new mode for target '{IQN}' with status '127'")
        );
    }

    #[test]
    fn volumes_cannot_be_made_and_devices_must_exist() {
        let fake = FakeRunner::new();
        let b = IscsiBackend::new(&fake, "/");
        let p = pool("");
        let vol = Volume {
            pool_type: PoolType::Iscsi,
            vol_type: VolumeType::Block,
            name: "unit:0:0:1".into(),
            key: None,
            extents: Vec::new(),
            capacity: 0,
            allocation: 0,
            has_allocation: false,
            physical: 0,
            target: VolumeTarget {
                path: Some(by_path(1)),
                ..VolumeTarget::default()
            },
            backing_store: None,
        };
        let e = b.create_volume(&p, &vol, 0).unwrap_err();
        assert_eq!(e.code, ErrorCode::NoSupport);
        assert!(e
            .message
            .ends_with(": storage pool does not support volume creation"));
        assert!(b.delete_volume(&p, &vol, 0).is_err());
        assert!(b.resize_volume(&p, &vol, 1, 0).is_err());
        let e = b.open_read(&p, &vol, 0, 0).err().unwrap();
        assert_eq!(e.code, ErrorCode::SystemError);
        assert!(
            e.message.contains(&by_path(1)) && e.message.contains("No such file"),
            "{}",
            e.message
        );
        assert!(b.wipe_volume(&p, &vol, 0, 0).is_err());
        assert!(fake.calls().is_empty());
    }
}
