//! The `fs` pool type: a local block device holding a file system, mounted on the pool's
//! target directory; its volumes are files there, handled as in a `dir` pool. As libvirt's
//! `virStorageBackendFileSystem`.

use std::path::Path;
use std::process::Command;

use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use super::dir::{self, target};
use super::{Backend, Refreshed, RefreshedVolume, Result, VolumeRead, VolumeWrite};
use crate::api::flags;
use crate::model::{Pool, PoolSource, Volume};

fn err(code: ErrorCode, msg: impl AsRef<str>) -> VirError {
    VirError::new(ErrorDomain::Storage, code, msg)
}

/// The source device (`<source><device path>`).
fn device(pool: &Pool) -> Result<&str> {
    pool.source
        .devices
        .first()
        .map(|d| d.path.as_str())
        .ok_or_else(|| err(ErrorCode::InvalidArg, "missing source device"))
}

/// The file system type to mount or make (`<source><format type>`, `auto` by default).
fn fs_format(pool: &Pool) -> &str {
    pool.source.format.as_deref().unwrap_or("auto")
}

/// Runs `cmd`, failing with libvirt's words for a command that failed.
fn run(cmd: &mut Command) -> Result<String> {
    let args: Vec<String> = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let out = cmd.output().map_err(|e| {
        err(
            ErrorCode::SystemError,
            format!("Cannot find '{}' in path: {e}", args[0]),
        )
    })?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    Err(err(
        ErrorCode::InternalError,
        format!(
            "Child process ({}) unexpected exit status {}: {}",
            args.join(" "),
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).trim_end()
        ),
    ))
}

/// The canonical form of a path (itself when it cannot be resolved).
fn canonical(path: &str) -> String {
    std::fs::canonicalize(path)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| path.to_string())
}

/// Undoes the octal escapes of `/proc/self/mounts` (`\040` for a space...).
fn unescape(field: &str) -> String {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(u8::is_ascii_digit) {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether `device` is mounted on `target` (libvirt's
/// `virStorageBackendFileSystemIsMounted`, reading the mount table).
pub fn is_mounted(mounts: &str, device: &str, target: &str) -> bool {
    let (device, target) = (canonical(device), canonical(target));
    mounts.lines().any(|line| {
        let mut f = line.split_whitespace();
        match (f.next(), f.next()) {
            (Some(src), Some(dst)) => {
                canonical(&unescape(dst)) == target && canonical(&unescape(src)) == device
            }
            _ => false,
        }
    })
}

fn mounted(pool: &Pool) -> Result<bool> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").map_err(|e| {
        err(
            ErrorCode::SystemError,
            format!("cannot read mount list '/proc/self/mounts': {e}"),
        )
    })?;
    Ok(is_mounted(&mounts, device(pool)?, target(pool)?))
}

/// The file system on `device` as `blkid` probes it, if any.
fn probe_fs(device: &str) -> Result<Option<String>> {
    let out = Command::new("blkid")
        .args(["-p", "-o", "value", "-s", "TYPE"])
        .arg(device)
        .output()
        .map_err(|e| err(ErrorCode::SystemError, format!("cannot run blkid: {e}")))?;
    match out.status.code() {
        Some(0) => {
            let t = String::from_utf8_lossy(&out.stdout).trim().to_string();
            Ok((!t.is_empty()).then_some(t))
        }
        // 2: nothing found.
        Some(2) => Ok(None),
        _ => Err(err(
            ErrorCode::StorageProbeFailed,
            format!(
                "Not capable of probing for filesystem on device '{device}': {}",
                String::from_utf8_lossy(&out.stderr).trim_end()
            ),
        )),
    }
}

/// Makes the file system with `mkfs -t FORMAT`, forced as libvirt forces it.
fn mkfs(device: &str, format: &str) -> Result<()> {
    let mut cmd = Command::new("mkfs");
    cmd.args(["-t", format]);
    match format {
        "xfs" => {
            cmd.arg("-f");
        }
        "ext2" | "ext3" | "ext4" => {
            cmd.arg("-F");
        }
        "vfat" => {
            cmd.arg("-I");
        }
        _ => {}
    }
    run(cmd.arg(device)).map(|_| ())
}

/// The `fs` pool type.
#[derive(Debug, Default, Clone)]
pub struct FsBackend;

impl FsBackend {
    /// The backend.
    pub fn new() -> Self {
        FsBackend
    }
}

impl Backend for FsBackend {
    fn pool_type(&self) -> &'static str {
        "fs"
    }

    /// Running when the source device is mounted on the target.
    fn check(&self, pool: &Pool) -> Result<bool> {
        mounted(pool)
    }

    /// Makes the target directory; with `OVERWRITE` makes the file system on the device,
    /// with `NO_OVERWRITE` only when `blkid` finds none there; without either flag, only
    /// the directory (as libvirt's `virStorageBackendFileSystemBuild`).
    fn build(&self, pool: &Pool, flags: u32) -> Result<()> {
        dir::exclusive_build_flags(flags)?;
        dir::build_dir(pool)?;
        let device = device(pool)?;
        let format = fs_format(pool);
        let make = if flags & flags::build::OVERWRITE != 0 {
            true
        } else if flags & flags::build::NO_OVERWRITE != 0 {
            match probe_fs(device)? {
                None => true,
                Some(found) if found == format => {
                    return Err(err(
                        ErrorCode::StoragePoolBuilt,
                        format!("Device '{device}' already formatted using '{found}'"),
                    ))
                }
                Some(_) => {
                    return Err(err(
                        ErrorCode::StorageProbeFailed,
                        format!(
                            "Format of device '{device}' does not match the expected format '{format}', forced overwrite is necessary"
                        ),
                    ))
                }
            }
        } else {
            false
        };
        if make {
            if format == "auto" {
                return Err(err(
                    ErrorCode::OperationInvalid,
                    "must provide source format for creating the file system",
                ));
            }
            mkfs(device, format)?;
        }
        Ok(())
    }

    /// Mounts the device on the target (`mount -t FORMAT [-o OPTS] DEVICE TARGET`); a
    /// pool already mounted there is left as it is.
    fn start(&self, pool: &Pool) -> Result<()> {
        let device = device(pool)?;
        let target = target(pool)?;
        if !Path::new(target).is_dir() {
            return Err(err(
                ErrorCode::OperationInvalid,
                format!("cannot open directory '{target}': No such file or directory"),
            ));
        }
        if mounted(pool)? {
            return Ok(());
        }
        let mut cmd = Command::new("mount");
        let format = fs_format(pool);
        if format != "auto" {
            cmd.args(["-t", format]);
        }
        if !pool.mount_opts.is_empty() {
            cmd.arg("-o").arg(pool.mount_opts.join(","));
        }
        run(cmd.arg(device).arg(target)).map(|_| ())
    }

    fn refresh(&self, pool: &Pool) -> Result<Refreshed> {
        dir::refresh(pool)
    }

    fn refresh_volume(&self, pool: &Pool, name: &str) -> Result<Option<RefreshedVolume>> {
        dir::refresh_volume(pool, name)
    }

    /// Unmounts the target (`umount TARGET`) when the device is mounted there.
    fn stop(&self, pool: &Pool) -> Result<()> {
        if !mounted(pool)? {
            return Ok(());
        }
        run(Command::new("umount").arg(target(pool)?)).map(|_| ())
    }

    fn delete(&self, pool: &Pool, flags: u32) -> Result<()> {
        dir::delete_dir(pool, flags)
    }

    fn find_sources(&self, _spec: Option<&PoolSource>, _flags: u32) -> Result<Vec<PoolSource>> {
        Err(err(
            ErrorCode::NoSupport,
            "pool type 'fs' does not support source discovery",
        ))
    }

    fn create_volume(&self, pool: &Pool, vol: &Volume, flags: u32) -> Result<Volume> {
        dir::create_volume(pool, vol, flags)
    }

    fn create_volume_from(
        &self,
        pool: &Pool,
        vol: &Volume,
        from: &Volume,
        flags: u32,
    ) -> Result<Volume> {
        dir::create_volume_from(pool, vol, from, flags)
    }

    fn delete_volume(&self, pool: &Pool, vol: &Volume, flags: u32) -> Result<()> {
        dir::DirBackend.delete_volume(pool, vol, flags)
    }

    fn resize_volume(&self, pool: &Pool, vol: &Volume, capacity: u64, flags: u32) -> Result<()> {
        dir::DirBackend.resize_volume(pool, vol, capacity, flags)
    }

    fn wipe_volume(&self, pool: &Pool, vol: &Volume, algorithm: u32, flags: u32) -> Result<()> {
        dir::DirBackend.wipe_volume(pool, vol, algorithm, flags)
    }

    fn open_read(
        &self,
        pool: &Pool,
        vol: &Volume,
        offset: u64,
        length: u64,
    ) -> Result<Box<dyn VolumeRead>> {
        dir::open_read(pool, vol, offset, length)
    }

    fn open_write(
        &self,
        pool: &Pool,
        vol: &Volume,
        offset: u64,
        length: u64,
    ) -> Result<Box<dyn VolumeWrite>> {
        dir::open_write(pool, vol, offset, length)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_table() {
        let t = "/dev/sda1 / ext4 rw 0 0\n/dev/nonexistent0 /no/such\\040dir ext4 rw 0 0\n";
        assert!(is_mounted(t, "/dev/nonexistent0", "/no/such dir"));
        assert!(!is_mounted(t, "/dev/nonexistent1", "/no/such dir"));
        assert!(!is_mounted(t, "/dev/nonexistent0", "/no/such"));
        assert_eq!(unescape("a\\040b\\011c"), "a b\tc");
    }
}
