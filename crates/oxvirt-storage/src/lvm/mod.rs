//! The `logical` backend: LVM through its tools.
//!
//! [`Lvm`] runs what libvirt's `storage_backend_logical.c` runs (`pvcreate`, `vgcreate`,
//! `vgchange`, `vgs`, `lvs`, `lvcreate`, `lvremove`, `vgremove`, `pvremove`, `pvs`), reading
//! the tools' JSON reports instead of libvirt's separator-split text. Every command goes
//! through a [`CommandRunner`], so the logic is testable with [`FakeRunner`].
//!
//! Where the kernel has no device-mapper ([`Activation::Unavailable`]), logical volumes
//! cannot be activated: volumes are then created and resized with LVM's metadata-only
//! form (`--config 'global { activation = 0 }' -an -Zn`), listed whatever their state, and
//! activating a volume group that has volumes fails with a clear error.

pub mod report;
pub mod runner;

use std::path::Path;

use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

pub use report::{Extent, LogicalVolume, LvRow, PoolSource, VgInfo};
pub use runner::{CommandRunner, FakeRunner, Output, SystemRunner};

/// The `lvs` fields read for each volume (one row per segment).
pub const LVS_FIELDS: &str =
    "lv_name,lv_path,origin,lv_uuid,devices,segtype,stripes,seg_size,vg_extent_size,lv_size,lv_attr";

/// The environment every LVM tool runs with: LVM warns about every inherited descriptor
/// otherwise.
pub const LVM_ENV: &[(&str, &str)] = &[("LVM_SUPPRESS_FD_WARNINGS", "1")];

/// LVM's configuration override that turns activation off, for metadata-only changes.
pub const NO_ACTIVATION_CONFIG: &str = "global { activation = 0 }";

/// How many bytes of each device libvirt zeroes before `pvcreate` (1 MiB).
pub const ZEROED_HEAD: u64 = 1024 * 1024;

/// The message of every failure to activate where the kernel has no device-mapper.
pub const NO_DEVICE_MAPPER: &str =
    "the kernel has no device-mapper: logical volumes cannot be activated";

/// `VIR_STORAGE_POOL_BUILD_NO_OVERWRITE`: refuse devices that hold data.
pub const BUILD_NO_OVERWRITE: u32 = 1 << 2;
/// `VIR_STORAGE_POOL_BUILD_OVERWRITE`: take devices whatever they hold.
pub const BUILD_OVERWRITE: u32 = 1 << 3;

/// Whether logical volumes can be activated on this host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// The kernel has device-mapper: LVM behaves as libvirt expects.
    Available,
    /// No device-mapper: metadata-only volume operations, no activation.
    Unavailable,
}

impl Activation {
    /// Detects device-mapper on the host whose filesystem is at `root` (`/` normally): the
    /// `dm_mod` module in `/sys/module`, or a `device-mapper` line in `/proc/misc` (the
    /// control device's minor) when it is built in.
    pub fn detect(root: &Path) -> Activation {
        let module = root.join("sys/module/dm_mod").exists();
        let misc = std::fs::read_to_string(root.join("proc/misc")).is_ok_and(|s| {
            s.lines()
                .any(|l| l.split_whitespace().nth(1) == Some("device-mapper"))
        });
        if module || misc {
            Activation::Available
        } else {
            Activation::Unavailable
        }
    }
}

/// A volume to create (`lvcreate`), as libvirt's volume definition gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewVolume {
    /// The volume's name.
    pub name: String,
    /// Its capacity in bytes.
    pub capacity: u64,
    /// Its allocation in bytes; a smaller allocation than capacity makes it sparse
    /// (`--type snapshot --virtualsize`).
    pub allocation: u64,
    /// The path of the volume to snapshot (`-s PATH`), if any.
    pub backing: Option<String>,
}

/// A `logical` pool's state after a refresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolState {
    /// `vg_size`, in bytes.
    pub capacity: u64,
    /// `vg_size - vg_free`, in bytes.
    pub allocation: u64,
    /// `vg_free`, in bytes.
    pub available: u64,
    /// The volumes libvirt lists: not thin pools, and (with activation) only active ones.
    pub volumes: Vec<LogicalVolume>,
}

/// The `logical` backend's operations on one host.
#[derive(Debug)]
pub struct Lvm<R: CommandRunner> {
    runner: R,
    activation: Activation,
    tool_dir: Option<String>,
}

fn storage_error(code: ErrorCode, msg: impl AsRef<str>) -> VirError {
    VirError::new(ErrorDomain::Storage, code, msg)
}

impl Lvm<SystemRunner> {
    /// The real tools, with activation detected on this host. The LVM tools run from
    /// `/sbin` as libvirt runs them (so error messages name the same programs), or from
    /// `PATH` where `/sbin/lvm` does not exist.
    pub fn system() -> Self {
        let lvm = Lvm::new(SystemRunner, Activation::detect(Path::new("/")));
        if Path::new("/sbin/lvm").exists() {
            lvm.with_tool_dir("/sbin")
        } else {
            lvm
        }
    }
}

impl<R: CommandRunner> Lvm<R> {
    /// Operations through `runner`, with `activation` deciding the volume commands.
    pub fn new(runner: R, activation: Activation) -> Self {
        Lvm {
            runner,
            activation,
            tool_dir: None,
        }
    }

    /// Runs the LVM tools from `dir` (`/sbin/vgchange`) instead of by name from `PATH`.
    pub fn with_tool_dir(mut self, dir: &str) -> Self {
        self.tool_dir = Some(dir.trim_end_matches('/').to_string());
        self
    }

    /// The runner (the fake's recorded calls, in tests).
    pub fn runner(&self) -> &R {
        &self.runner
    }

    /// Whether volumes can be activated.
    pub fn activation(&self) -> Activation {
        self.activation
    }

    /// Runs an LVM tool; a failure is libvirt's `Child process (/sbin/lvcreate ...)
    /// unexpected exit status N: STDERR` (`VIR_ERR_INTERNAL_ERROR`).
    fn run(&self, program: &str, args: &[&str]) -> Result<Output, VirError> {
        let out = self.run_raw(program, args)?;
        if out.success() {
            Ok(out)
        } else {
            Err(self.child_error(program, args, &out))
        }
    }

    /// The program to run for the tool `name`.
    fn program(&self, name: &str) -> String {
        match &self.tool_dir {
            Some(dir) if name != "blkid" => format!("{dir}/{name}"),
            _ => name.to_string(),
        }
    }

    fn run_raw(&self, name: &str, args: &[&str]) -> Result<Output, VirError> {
        let program = self.program(name);
        let program = program.as_str();
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        self.runner.run(program, &args, LVM_ENV).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                storage_error(
                    ErrorCode::InternalError,
                    format!("Cannot find '{program}' in path"),
                )
            } else {
                storage_error(
                    ErrorCode::SystemError,
                    format!("cannot execute binary {program}: {e}"),
                )
            }
        })
    }

    /// libvirt's words for a tool that failed: the command line (without the environment),
    /// the exit status, and the tool's stderr as it printed it (only trailing newlines
    /// dropped).
    fn child_error(&self, name: &str, args: &[&str], out: &Output) -> VirError {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let line = runner::command_line(&self.program(name), &args);
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
        storage_error(
            ErrorCode::InternalError,
            format!("Child process ({line}) unexpected {status}{detail}"),
        )
    }

    /// The metadata-only prefix of volume commands (`--config 'global { activation = 0 }'`),
    /// where activation is impossible.
    fn no_activation_args(&self) -> &'static [&'static str] {
        match self.activation {
            Activation::Available => &[],
            Activation::Unavailable => &["--config", NO_ACTIVATION_CONFIG],
        }
    }

    /// Builds the pool (`virsh pool-build`): for each device, unless `BUILD_OVERWRITE`,
    /// checks it holds nothing (`blkid -p`); zeroes its first MiB and runs `pvcreate DEV`;
    /// then `vgcreate VG DEV...`. On failure, `pvremove` undoes the devices already
    /// initialised, as libvirt does.
    pub fn build_pool(&self, vg: &str, devices: &[String], flags: u32) -> Result<(), VirError> {
        VirError::check_flags(
            ErrorDomain::Storage,
            flags,
            BUILD_OVERWRITE | BUILD_NO_OVERWRITE,
            "virStorageBackendLogicalBuildPool",
        )?;
        if flags & BUILD_OVERWRITE != 0 && flags & BUILD_NO_OVERWRITE != 0 {
            return Err(storage_error(
                ErrorCode::InvalidArg,
                "Flags 'VIR_STORAGE_POOL_BUILD_OVERWRITE' and \
                 'VIR_STORAGE_POOL_BUILD_NO_OVERWRITE' are mutually exclusive",
            ));
        }
        let mut done = 0;
        let result = (|| {
            for dev in devices {
                if flags & BUILD_OVERWRITE == 0 {
                    self.check_empty(dev)?;
                }
                self.runner.zero_head(dev, ZEROED_HEAD).map_err(|e| {
                    storage_error(
                        ErrorCode::SystemError,
                        format!("cannot clear device header of '{dev}': {e}"),
                    )
                })?;
                self.run("pvcreate", &[dev])?;
                done += 1;
            }
            let mut args = vec![vg];
            args.extend(devices.iter().map(String::as_str));
            self.run("vgcreate", &args).map(|_| ())
        })();
        if result.is_err() {
            for dev in &devices[..done] {
                let _ = self.run_raw("pvremove", &[dev]);
            }
        }
        result
    }

    /// libvirt's check that a device holds no data before it becomes a physical volume:
    /// `blkid -p -o export DEV` finds nothing (exit status 2), else the pool is "already
    /// built" (`LVM2_member`) or holds something else.
    fn check_empty(&self, dev: &str) -> Result<(), VirError> {
        let out = self.run_raw("blkid", &["-p", "-o", "export", dev])?;
        match out.status {
            Some(2) => Ok(()),
            Some(0) => {
                let value = |key: &str| {
                    out.stdout
                        .lines()
                        .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
                        .map(str::to_string)
                };
                if value("TYPE").as_deref() == Some("LVM2_member") {
                    Err(storage_error(
                        ErrorCode::StoragePoolBuilt,
                        format!("Device '{dev}' already formatted using 'LVM2_member'"),
                    ))
                } else {
                    Err(storage_error(
                        ErrorCode::StoragePoolBuilt,
                        format!(
                            "Format of device '{dev}' does not match the expected format \
                             'LVM2_member', forced overwrite is necessary"
                        ),
                    ))
                }
            }
            _ => Err(storage_error(
                ErrorCode::StorageProbeFailed,
                format!(
                    "Failed to create filesystem probe for device {dev}: {}",
                    out.stderr.trim()
                ),
            )),
        }
    }

    /// The volume groups and their physical volumes (`vgscan`, whose failure is ignored,
    /// then `pvs --reportformat json -o pv_name,vg_name`), grouped as libvirt's
    /// `<sources>` lists them.
    pub fn find_pool_sources(&self, flags: u32) -> Result<Vec<PoolSource>, VirError> {
        VirError::check_flags(
            ErrorDomain::Storage,
            flags,
            0,
            "virStorageBackendLogicalFindPoolSources",
        )?;
        let _ = self.run_raw("vgscan", &[]);
        let out = self.run("pvs", &["--reportformat", "json", "-o", "pv_name,vg_name"])?;
        report::parse_pvs(&out.stdout)
    }

    /// libvirt's check that a pool's volume group exists and, if the pool names devices,
    /// that at least one of them is one of its physical volumes (`VIR_ERR_CONFIG_UNSUPPORTED`
    /// otherwise). This is also how libvirt decides whether the pool is active.
    pub fn match_pool_source(&self, vg: &str, devices: &[String]) -> Result<(), VirError> {
        let sources = self.find_pool_sources(0)?;
        let Some(source) = sources.iter().find(|s| s.name == vg) else {
            return Err(storage_error(
                ErrorCode::ConfigUnsupported,
                format!("cannot find logical volume group name '{vg}'"),
            ));
        };
        if !devices.is_empty() && !devices.iter().any(|d| source.devices.contains(d)) {
            return Err(storage_error(
                ErrorCode::ConfigUnsupported,
                format!("cannot find any matching source devices for logical volume group '{vg}'"),
            ));
        }
        Ok(())
    }

    /// Whether the pool is active, as libvirt's `checkPool` decides it when the daemon
    /// starts: [`Lvm::match_pool_source`] succeeds.
    pub fn is_pool_active(&self, vg: &str, devices: &[String]) -> bool {
        self.match_pool_source(vg, devices).is_ok()
    }

    /// Starts the pool: [`Lvm::match_pool_source`], then `vgchange -aly VG`. Without
    /// device-mapper, a volume group with volumes cannot be activated:
    /// `VIR_ERR_OPERATION_FAILED` with [`NO_DEVICE_MAPPER`] and the tool's stderr.
    pub fn start_pool(&self, vg: &str, devices: &[String]) -> Result<(), VirError> {
        self.match_pool_source(vg, devices)?;
        self.set_active(vg, true)
    }

    /// Stops the pool: `vgchange -aln VG`.
    pub fn stop_pool(&self, vg: &str) -> Result<(), VirError> {
        self.set_active(vg, false)
    }

    fn set_active(&self, vg: &str, on: bool) -> Result<(), VirError> {
        let args = [if on { "-aly" } else { "-aln" }, vg];
        let out = self.run_raw("vgchange", &args)?;
        if out.success() {
            return Ok(());
        }
        if on && self.activation == Activation::Unavailable {
            return Err(storage_error(
                ErrorCode::OperationFailed,
                format!("{NO_DEVICE_MAPPER}: {}", out.stderr.trim()),
            ));
        }
        Err(self.child_error("vgchange", &args, &out))
    }

    /// The pool's volumes (`lvs --reportformat json --units b --nosuffix -o LVS_FIELDS VG`)
    /// and size (`vgs --reportformat json --units b --nosuffix -o vg_size,vg_free VG`).
    pub fn refresh_pool(&self, vg: &str) -> Result<PoolState, VirError> {
        let volumes = self.list_volumes(vg)?;
        let info = self.vg_info(vg)?;
        Ok(PoolState {
            capacity: info.size,
            allocation: info.size.saturating_sub(info.free),
            available: info.free,
            volumes,
        })
    }

    /// `vgs` for one volume group.
    pub fn vg_info(&self, vg: &str) -> Result<VgInfo, VirError> {
        let out = self.run(
            "vgs",
            &[
                "--reportformat",
                "json",
                "--units",
                "b",
                "--nosuffix",
                "-o",
                "vg_size,vg_free",
                vg,
            ],
        )?;
        report::parse_vgs(&out.stdout)
    }

    /// The volume group's volumes as a pool lists them: thin pools left out, and where
    /// activation works, inactive volumes too (as libvirt does); without device-mapper
    /// every volume's state is unknown, so all are listed.
    pub fn list_volumes(&self, vg: &str) -> Result<Vec<LogicalVolume>, VirError> {
        let out = self.run(
            "lvs",
            &[
                "--reportformat",
                "json",
                "--units",
                "b",
                "--nosuffix",
                "-o",
                LVS_FIELDS,
                vg,
            ],
        )?;
        let rows = report::parse_lvs_rows(&out.stdout)?;
        let vols = report::group_volumes(&rows)?;
        Ok(vols
            .into_iter()
            .filter(|v| !v.is_thin_pool())
            .filter(|v| self.activation == Activation::Unavailable || v.is_active())
            .collect())
    }

    /// Deletes the pool (`virsh pool-delete`): `vgremove -f VG`, then `pvremove DEV` for each
    /// device (whose failures libvirt only logs).
    pub fn delete_pool(&self, vg: &str, devices: &[String], flags: u32) -> Result<(), VirError> {
        VirError::check_flags(
            ErrorDomain::Storage,
            flags,
            0,
            "virStorageBackendLogicalDeletePool",
        )?;
        self.run("vgremove", &["-f", vg])?;
        for dev in devices {
            let _ = self.run_raw("pvremove", &[dev]);
        }
        Ok(())
    }

    /// Creates a volume as libvirt does: `lvcreate --name NAME -L SIZEK [--type snapshot
    /// --virtualsize CAPK] VG|-s BACKING --yes` (sizes in KiB rounded up; a sparse volume
    /// when the allocation is below the capacity), then reads it back with `lvs`; if that
    /// fails the volume is removed again. Without device-mapper the metadata-only form
    /// (`--config 'global { activation = 0 }' -an -Zn`) is used, and sparse or snapshot
    /// volumes (which need device-mapper) fail with `VIR_ERR_OPERATION_FAILED`.
    pub fn create_volume(&self, vg: &str, vol: &NewVolume) -> Result<LogicalVolume, VirError> {
        let sparse = vol.capacity != vol.allocation;
        if self.activation == Activation::Unavailable && (sparse || vol.backing.is_some()) {
            return Err(storage_error(
                ErrorCode::OperationFailed,
                format!(
                    "the kernel has no device-mapper: sparse or snapshot logical volume '{}' \
                     cannot be created",
                    vol.name
                ),
            ));
        }
        let kib = |bytes: u64| format!("{}K", bytes.div_ceil(1024));
        let mut args: Vec<String> = self
            .no_activation_args()
            .iter()
            .map(|s| s.to_string())
            .collect();
        if self.activation == Activation::Unavailable {
            args.extend(["-an".into(), "-Zn".into()]);
        }
        args.extend(["--name".into(), vol.name.clone(), "-L".into()]);
        if sparse {
            args.push(kib(vol.allocation.max(1)));
            args.extend(["--type".into(), "snapshot".into(), "--virtualsize".into()]);
        }
        args.push(kib(vol.capacity));
        match &vol.backing {
            Some(path) => args.extend(["-s".into(), path.clone()]),
            None => args.push(vg.to_string()),
        }
        args.push("--yes".into());
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        self.run("lvcreate", &refs)?;

        let found = self.list_volumes(vg).and_then(|vols| {
            vols.into_iter()
                .find(|v| v.name == vol.name)
                .ok_or_else(|| {
                    storage_error(
                        ErrorCode::InternalError,
                        format!("cannot find newly created volume '/dev/{vg}/{}'", vol.name),
                    )
                })
        });
        if found.is_err() {
            let _ = self.delete_volume(vg, &vol.name, 0);
        }
        found
    }

    /// Changes a volume's size to `capacity` bytes: `lvresize -f -L SIZEK VG/NAME` (metadata
    /// only without device-mapper). libvirt 9.0's `logical` backend has no resize (virsh
    /// reports "storage pool does not support changing of volume capacity"); oxvirt offers
    /// it.
    pub fn resize_volume(&self, vg: &str, name: &str, capacity: u64) -> Result<(), VirError> {
        let size = format!("{}K", capacity.div_ceil(1024));
        let target = format!("{vg}/{name}");
        let mut args: Vec<&str> = self.no_activation_args().to_vec();
        args.extend(["-f", "-L", &size, &target]);
        self.run("lvresize", &args).map(|_| ())
    }

    /// Deletes a volume as libvirt does: `lvremove -f /dev/VG/NAME`; if that fails,
    /// `lvchange -aln /dev/VG/NAME` and `lvremove` again.
    pub fn delete_volume(&self, vg: &str, name: &str, flags: u32) -> Result<(), VirError> {
        VirError::check_flags(
            ErrorDomain::Storage,
            flags,
            0,
            "virStorageBackendLogicalDeleteVol",
        )?;
        let path = format!("/dev/{vg}/{name}");
        if self.run("lvremove", &["-f", &path]).is_ok() {
            return Ok(());
        }
        self.run("lvchange", &["-aln", &path])?;
        self.run("lvremove", &["-f", &path]).map(|_| ())
    }
}

#[cfg(test)]
mod tests;
