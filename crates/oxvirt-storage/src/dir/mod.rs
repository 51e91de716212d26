//! The `dir` backend: volumes as files in one directory, nothing outside it touched.
//!
//! Every access to a volume goes through a [`cap_std::fs::Dir`] opened on the pool's target
//! directory: a volume name is one path component ([`check_volume_name`]), and a symlink in
//! the pool that leads out of it is never followed out (cap-std refuses the open). Where
//! `qemu-img` needs a path, the path is built from the pool directory and a checked name,
//! the file is first created through the `Dir` (`O_CREAT|O_EXCL`, mode 0600, as libvirt
//! creates volumes), and the entry is checked to be a regular file afterwards.

mod header;
mod name;
mod sparse;

use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use cap_std::fs::{Dir, OpenOptions, OpenOptionsExt as _};
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

pub use header::{probe, VolFormat, QCOW2_MAGIC};
pub use name::check_volume_name;
pub use sparse::{segments, Segment};

/// The mode libvirt gives the volumes it creates.
pub const VOLUME_MODE: u32 = 0o600;

/// What kind of entry a volume is (libvirt's `virStorageVolType` for the `dir` backend).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VolKind {
    /// A regular file (`VIR_STORAGE_VOL_FILE`).
    File,
    /// A directory (`VIR_STORAGE_VOL_DIR`).
    Dir,
    /// A block device node (`VIR_STORAGE_VOL_BLOCK`).
    Block,
}

/// What [`DirPool::info`] reports about a volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolInfo {
    /// The kind of entry.
    pub kind: VolKind,
    /// The guest-visible size: the file size for raw, the header's size for qcow2, 0 for a
    /// directory (as libvirt reports it).
    pub capacity: u64,
    /// Bytes allocated on disk (`st_blocks * 512`; 0 for a directory).
    pub allocation: u64,
    /// The detected image format (raw for directories and unknown headers).
    pub format: VolFormat,
}

/// The space of the file system holding the pool, as libvirt's `dir` backend computes it
/// from `statvfs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSpace {
    /// `f_frsize * f_blocks`.
    pub capacity: u64,
    /// `(f_blocks - f_bfree) * f_frsize`.
    pub allocation: u64,
    /// `f_bavail * f_frsize`.
    pub available: u64,
}

/// A `dir` storage pool: its target directory, opened as a capability.
#[derive(Debug)]
pub struct DirPool {
    dir: Dir,
    path: PathBuf,
}

fn storage_err(code: ErrorCode, detail: impl AsRef<str>) -> VirError {
    VirError::new(ErrorDomain::Storage, code, detail)
}

/// A system error as libvirt's `virReportSystemError` words it: `what: strerror`.
fn sys_err(what: impl AsRef<str>, err: &io::Error) -> VirError {
    storage_err(
        ErrorCode::SystemError,
        format!("{}: {}", what.as_ref(), err),
    )
}

fn no_vol(name: &str) -> VirError {
    storage_err(
        ErrorCode::NoStorageVol,
        format!("no storage vol with matching name '{name}'"),
    )
}

/// Maps an error met opening volume `name`: not found becomes `VIR_ERR_NO_STORAGE_VOL`.
fn open_err(name: &str, what: &str, err: io::Error) -> VirError {
    if err.kind() == io::ErrorKind::NotFound {
        no_vol(name)
    } else {
        sys_err(format!("{what} '{name}'"), &err)
    }
}

fn read_opts() -> OpenOptions {
    let mut o = OpenOptions::new();
    o.read(true);
    o
}

fn write_opts() -> OpenOptions {
    let mut o = OpenOptions::new();
    o.read(true).write(true);
    o
}

fn run(cmd: &mut Command) -> Result<(), VirError> {
    let out = cmd
        .output()
        .map_err(|e| sys_err(format!("cannot run {:?}", cmd.get_program()), &e))?;
    if out.status.success() {
        return Ok(());
    }
    let args: Vec<String> = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    Err(storage_err(
        ErrorCode::InternalError,
        format!(
            "Child process ({}) unexpected exit status {}: {}",
            args.join(" "),
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).trim_end()
        ),
    ))
}

/// qemu-img's `-o` values: a comma inside a value is written twice.
fn opt_escape(value: &str) -> String {
    value.replace(',', ",,")
}

impl DirPool {
    /// Opens the pool on its target directory.
    pub fn open(path: impl AsRef<Path>) -> Result<DirPool, VirError> {
        let path = path.as_ref();
        let dir = Dir::open_ambient_dir(path, cap_std::ambient_authority())
            .map_err(|e| sys_err(format!("cannot open directory '{}'", path.display()), &e))?;
        Ok(DirPool {
            dir,
            path: path.to_path_buf(),
        })
    }

    /// The pool's target directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The path of volume `name` (checked), as libvirt reports it in `<target><path>`.
    pub fn volume_path(&self, name: &str) -> Result<PathBuf, VirError> {
        check_volume_name(&self.path, name)?;
        Ok(self.path.join(name))
    }

    /// Opens an existing regular-file volume through the pool's directory.
    fn open_file(&self, name: &str, opts: &OpenOptions) -> Result<std::fs::File, VirError> {
        check_volume_name(&self.path, name)?;
        let file = self
            .dir
            .open_with(name, opts)
            .map_err(|e| open_err(name, "cannot open volume", e))?
            .into_std();
        let meta = file
            .metadata()
            .map_err(|e| sys_err(format!("cannot stat volume '{name}'"), &e))?;
        if !meta.is_file() {
            return Err(storage_err(
                ErrorCode::OperationInvalid,
                format!("volume '{name}' is not a regular file"),
            ));
        }
        Ok(file)
    }

    /// Creates volume `name` exclusively (never through an existing entry or symlink), mode
    /// 0600.
    fn create_new(&self, name: &str) -> Result<std::fs::File, VirError> {
        check_volume_name(&self.path, name)?;
        let mut o = OpenOptions::new();
        o.read(true).write(true).create_new(true).mode(VOLUME_MODE);
        match self.dir.open_with(name, &o) {
            Ok(f) => Ok(f.into_std()),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(storage_err(
                ErrorCode::OperationInvalid,
                format!(
                    "volume target path '{}' already exists",
                    self.path.join(name).display()
                ),
            )),
            Err(e) => Err(sys_err(
                format!("Failed to create file '{}'", self.path.join(name).display()),
                &e,
            )),
        }
    }

    /// Checks, after an external program wrote `name`, that it is a regular file in the pool.
    fn check_regular(&self, name: &str) -> Result<(), VirError> {
        let meta = self
            .dir
            .symlink_metadata(name)
            .map_err(|e| open_err(name, "cannot stat volume", e))?;
        if meta.is_file() {
            Ok(())
        } else {
            Err(storage_err(
                ErrorCode::InternalError,
                format!("volume '{name}' is not a regular file after creation"),
            ))
        }
    }

    /// Creates a raw volume: sparse when `allocation` is 0, otherwise `allocation` bytes
    /// allocated with `fallocate` (written with zeros where the file system cannot).
    pub fn create_raw(&self, name: &str, capacity: u64, allocation: u64) -> Result<(), VirError> {
        let file = self.create_new(name)?;
        let result = (|| {
            let alloc = allocation.min(capacity);
            if alloc > 0 {
                preallocate(&file, alloc).map_err(|e| {
                    sys_err(
                        format!("cannot allocate {alloc} bytes in volume '{name}'"),
                        &e,
                    )
                })?;
            }
            file.set_len(capacity)
                .map_err(|e| sys_err(format!("cannot extend file '{name}'"), &e))
        })();
        if result.is_err() {
            let _ = self.dir.remove_file(name);
        }
        result
    }

    /// Creates a qcow2 volume with `qemu-img create -f qcow2 -o compat=...`, optionally on a
    /// backing file `(path, format)`.
    pub fn create_qcow2(
        &self,
        name: &str,
        capacity: u64,
        compat: &str,
        backing: Option<(&str, &str)>,
    ) -> Result<(), VirError> {
        drop(self.create_new(name)?);
        let path = self.path.join(name);
        let mut opts = format!("compat={}", opt_escape(compat));
        if let Some((file, fmt)) = backing {
            opts.push_str(&format!(
                ",backing_file={},backing_fmt={}",
                opt_escape(file),
                opt_escape(fmt)
            ));
        }
        let result = run(Command::new("qemu-img")
            .args(["create", "-q", "-f", "qcow2", "-o", &opts])
            .arg(&path)
            .arg(capacity.to_string()))
        .and_then(|()| self.check_regular(name));
        if result.is_err() {
            let _ = self.dir.remove_file(name);
        }
        result
    }

    /// Copies volume `src` into a new volume `dst` in format `format`: a sparse copy for
    /// raw to raw (only the data segments are written), `qemu-img convert` otherwise.
    pub fn clone_volume(&self, src: &str, dst: &str, format: VolFormat) -> Result<(), VirError> {
        let mut input = self.open_file(src, &read_opts())?;
        let src_format = detect(&mut input)
            .map_err(|e| sys_err(format!("cannot read volume '{src}'"), &e))?
            .0;
        let out = self.create_new(dst)?;
        let result = if src_format == VolFormat::Raw && format == VolFormat::Raw {
            sparse_copy(&input, &out)
                .map_err(|e| sys_err(format!("failed to copy '{src}' to '{dst}'"), &e))
        } else {
            drop(out);
            run(Command::new("qemu-img")
                .args([
                    "convert",
                    "-q",
                    "-f",
                    src_format.as_str(),
                    "-O",
                    format.as_str(),
                ])
                .arg(self.path.join(src))
                .arg(self.path.join(dst)))
            .and_then(|()| self.check_regular(dst))
        };
        if result.is_err() {
            let _ = self.dir.remove_file(dst);
        }
        result
    }

    /// Changes a volume's capacity: `set_len` for raw, `qemu-img resize` for qcow2. Shrinking
    /// is refused unless `shrink_allowed`, as libvirt refuses it without
    /// `VIR_STORAGE_VOL_RESIZE_SHRINK`.
    pub fn resize(&self, name: &str, capacity: u64, shrink_allowed: bool) -> Result<(), VirError> {
        let mut file = self.open_file(name, &write_opts())?;
        let (format, qsize) =
            detect(&mut file).map_err(|e| sys_err(format!("cannot read volume '{name}'"), &e))?;
        let current = match qsize {
            Some(s) => s,
            None => file
                .metadata()
                .map_err(|e| sys_err(format!("cannot stat volume '{name}'"), &e))?
                .len(),
        };
        if capacity < current && !shrink_allowed {
            return Err(storage_err(
                ErrorCode::InvalidArg,
                "Can't shrink capacity below current capacity unless shrink flag explicitly specified",
            ));
        }
        match format {
            VolFormat::Raw => file
                .set_len(capacity)
                .map_err(|e| sys_err(format!("failed to truncate volume '{name}'"), &e)),
            VolFormat::Qcow2 => {
                drop(file);
                let mut cmd = Command::new("qemu-img");
                cmd.args(["resize", "-q", "-f", "qcow2"]);
                if capacity < current {
                    cmd.arg("--shrink");
                }
                run(cmd.arg(self.path.join(name)).arg(capacity.to_string()))?;
                self.check_regular(name)
            }
        }
    }

    /// Zeroes a volume, keeping its size (libvirt's default wipe algorithm, `zero`). As
    /// libvirt does, a sparse file (fewer blocks allocated than its size) is truncated to 0
    /// and back, so it stays sparse; any other file is overwritten with zeros. A qcow2 volume
    /// is zeroed like any file and reads as raw afterwards, as in libvirt.
    pub fn wipe(&self, name: &str) -> Result<(), VirError> {
        let mut file = self.open_file(name, &write_opts())?;
        let err = |e: io::Error| sys_err(format!("failed to wipe volume '{name}'"), &e);
        let meta = file.metadata().map_err(err)?;
        let size = meta.len();
        if meta.blocks() < size / 512 {
            file.set_len(0).map_err(err)?;
            file.set_len(size).map_err(err)?;
            return file.sync_data().map_err(err);
        }
        file.seek(SeekFrom::Start(0)).map_err(err)?;
        let zeros = vec![0u8; 1 << 20];
        let mut left = size;
        while left > 0 {
            let n = left.min(zeros.len() as u64) as usize;
            file.write_all(&zeros[..n]).map_err(err)?;
            left -= n as u64;
        }
        file.sync_data().map_err(err)
    }

    /// Deletes a volume: the entry itself (a symlink is removed, never its target), a
    /// directory volume with `rmdir`.
    pub fn delete(&self, name: &str) -> Result<(), VirError> {
        check_volume_name(&self.path, name)?;
        let meta = self
            .dir
            .symlink_metadata(name)
            .map_err(|e| open_err(name, "cannot stat volume", e))?;
        let r = if meta.is_dir() {
            self.dir.remove_dir(name)
        } else {
            self.dir.remove_file(name)
        };
        r.map_err(|e| {
            sys_err(
                format!("cannot unlink file '{}'", self.path.join(name).display()),
                &e,
            )
        })
    }

    /// Reports a volume's kind, capacity, allocation and format. A symlink is followed only
    /// while it stays inside the pool; one leading out is refused.
    pub fn info(&self, name: &str) -> Result<VolInfo, VirError> {
        check_volume_name(&self.path, name)?;
        let meta = self
            .dir
            .metadata(name)
            .map_err(|e| open_err(name, "cannot stat volume", e))?;
        if meta.is_dir() {
            // libvirt reports a directory volume with capacity and allocation 0.
            return Ok(VolInfo {
                kind: VolKind::Dir,
                capacity: 0,
                allocation: 0,
                format: VolFormat::Raw,
            });
        }
        let mut file = self
            .dir
            .open_with(name, &read_opts())
            .map_err(|e| open_err(name, "cannot open volume", e))?
            .into_std();
        let st = file
            .metadata()
            .map_err(|e| sys_err(format!("cannot stat volume '{name}'"), &e))?;
        let kind = if st.is_file() {
            VolKind::File
        } else if std::os::unix::fs::FileTypeExt::is_block_device(&st.file_type()) {
            VolKind::Block
        } else {
            return Err(storage_err(
                ErrorCode::OperationInvalid,
                format!("volume '{name}' is not a file, directory or block device"),
            ));
        };
        let (format, qsize) =
            detect(&mut file).map_err(|e| sys_err(format!("cannot read volume '{name}'"), &e))?;
        let size = if kind == VolKind::Block {
            file.seek(SeekFrom::End(0))
                .map_err(|e| sys_err(format!("cannot seek volume '{name}'"), &e))?
        } else {
            st.len()
        };
        Ok(VolInfo {
            kind,
            capacity: qsize.unwrap_or(size),
            allocation: if kind == VolKind::Block {
                size
            } else {
                st.blocks() * 512
            },
            format,
        })
    }

    /// The pool's volumes, sorted: the entries that are (or, through a symlink staying in
    /// the pool, lead to) regular files, directories or block devices, as libvirt's refresh
    /// keeps them; other entries, names that are not UTF-8, and dangling or escaping symlinks
    /// are skipped.
    pub fn list(&self) -> Result<Vec<String>, VirError> {
        let entries = self.dir.entries().map_err(|e| {
            sys_err(
                format!("cannot open directory '{}'", self.path.display()),
                &e,
            )
        })?;
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| {
                sys_err(
                    format!("cannot read directory '{}'", self.path.display()),
                    &e,
                )
            })?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let Ok(meta) = self.dir.metadata(&name) else {
                continue;
            };
            let ft = meta.file_type();
            if ft.is_file() || ft.is_dir() || cap_std::fs::FileTypeExt::is_block_device(&ft) {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    /// The pool's capacity, allocation and available bytes from `statvfs` of its directory.
    pub fn pool_space(&self) -> Result<PoolSpace, VirError> {
        let sv = rustix::fs::fstatvfs(&self.dir).map_err(|e| {
            sys_err(
                format!("cannot statvfs path '{}'", self.path.display()),
                &e.into(),
            )
        })?;
        Ok(PoolSpace {
            capacity: sv.f_frsize * sv.f_blocks,
            allocation: (sv.f_blocks - sv.f_bfree) * sv.f_frsize,
            available: sv.f_bavail * sv.f_frsize,
        })
    }

    /// Opens a volume for download from `offset`: the reader ends after `length` bytes (0:
    /// at the end of the volume), as `virStorageVolDownload` reads.
    pub fn open_read(
        &self,
        name: &str,
        offset: u64,
        length: u64,
    ) -> Result<io::Take<std::fs::File>, VirError> {
        let mut file = self.open_file(name, &read_opts())?;
        file.seek(SeekFrom::Start(offset))
            .map_err(|e| sys_err(format!("unable to seek volume '{name}' to {offset}"), &e))?;
        Ok(file.take(if length == 0 { u64::MAX } else { length }))
    }

    /// Opens a volume for upload at `offset`: the writer refuses more than `length` bytes (0:
    /// no limit), as `virStorageVolUpload` writes.
    pub fn open_write(&self, name: &str, offset: u64, length: u64) -> Result<VolWriter, VirError> {
        let mut file = self.open_file(name, &write_opts())?;
        file.seek(SeekFrom::Start(offset))
            .map_err(|e| sys_err(format!("unable to seek volume '{name}' to {offset}"), &e))?;
        Ok(VolWriter {
            file,
            remaining: (length != 0).then_some(length),
        })
    }

    /// The data and hole segments of a volume between `offset` and `offset + length` (0: the
    /// end), for `vol-download --sparse`.
    pub fn sparse_segments(
        &self,
        name: &str,
        offset: u64,
        length: u64,
    ) -> Result<Vec<Segment>, VirError> {
        let file = self.open_file(name, &read_opts())?;
        let size = file
            .metadata()
            .map_err(|e| sys_err(format!("cannot stat volume '{name}'"), &e))?
            .len();
        let end = if length == 0 {
            size
        } else {
            offset.saturating_add(length).min(size)
        };
        segments(&file, offset, end)
            .map_err(|e| sys_err(format!("cannot seek volume '{name}'"), &e))
    }
}

/// A volume opened for upload, limited to the requested length.
#[derive(Debug)]
pub struct VolWriter {
    file: std::fs::File,
    remaining: Option<u64>,
}

impl VolWriter {
    /// The underlying file (for hole punching or seeking in a sparse upload).
    pub fn file(&self) -> &std::fs::File {
        &self.file
    }
}

impl Write for VolWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let buf = match self.remaining {
            Some(0) if !buf.is_empty() => {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "upload is longer than the requested length",
                ))
            }
            Some(r) => &buf[..buf.len().min(usize::try_from(r).unwrap_or(usize::MAX))],
            None => buf,
        };
        let n = self.file.write(buf)?;
        if let Some(r) = self.remaining.as_mut() {
            *r -= n as u64;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Reads the header at the start of `file` and detects its format.
fn detect(file: &mut std::fs::File) -> io::Result<(VolFormat, Option<u64>)> {
    let mut buf = [0u8; 32];
    file.seek(SeekFrom::Start(0))?;
    let mut got = 0;
    while got < buf.len() {
        let n = file.read(&mut buf[got..])?;
        if n == 0 {
            break;
        }
        got += n;
    }
    file.seek(SeekFrom::Start(0))?;
    Ok(probe(&buf[..got]))
}

/// Allocates the first `len` bytes: `fallocate`, or writing zeros where it is unsupported.
fn preallocate(file: &std::fs::File, len: u64) -> io::Result<()> {
    match rustix::fs::fallocate(file, rustix::fs::FallocateFlags::empty(), 0, len) {
        Ok(()) => Ok(()),
        Err(e) if e == rustix::io::Errno::OPNOTSUPP || e == rustix::io::Errno::NOSYS => {
            let mut f = file;
            f.seek(SeekFrom::Start(0))?;
            let zeros = vec![0u8; 1 << 20];
            let mut left = len;
            while left > 0 {
                let n = left.min(zeros.len() as u64) as usize;
                f.write_all(&zeros[..n])?;
                left -= n as u64;
            }
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// Copies `src` into `dst` writing only its data segments, so holes stay holes.
fn sparse_copy(src: &std::fs::File, dst: &std::fs::File) -> io::Result<()> {
    let size = src.metadata()?.len();
    let mut buf = vec![0u8; 1 << 20];
    let (mut r, mut w) = (src, dst);
    for seg in segments(src, 0, size)? {
        let Segment::Data { offset, len } = seg else {
            continue;
        };
        r.seek(SeekFrom::Start(offset))?;
        w.seek(SeekFrom::Start(offset))?;
        let mut left = len;
        while left > 0 {
            let n = left.min(buf.len() as u64) as usize;
            r.read_exact(&mut buf[..n])?;
            if buf[..n].iter().all(|&b| b == 0) {
                w.seek(SeekFrom::Current(n as i64))?;
            } else {
                w.write_all(&buf[..n])?;
            }
            left -= n as u64;
        }
    }
    dst.set_len(size)
}
