//! The `dir` pool type: volumes are files in the pool's target directory, every access
//! confined to it through [`DirPool`], as libvirt's `virStorageBackendDirectory`.

use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, PermissionsExt as _};
use std::path::Path;
use std::process::Command;

use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use super::{Backend, Refreshed, RefreshedVolume, Result, Segment, VolumeRead, VolumeWrite};
use crate::api::flags;
use crate::dir::{self, DirPool, VolFormat, VolKind};
use crate::model::{
    FileTime, Perms, Pool, PoolSource, Timestamps, Volume, VolumeTarget, VolumeType,
};

/// The mode libvirt gives a pool directory it builds when the pool sets none.
pub const DEFAULT_POOL_MODE: u32 = 0o711;

/// The largest data chunk the readers hand out at once.
const CHUNK: usize = 1 << 20;

fn err(code: ErrorCode, msg: impl AsRef<str>) -> VirError {
    VirError::new(ErrorDomain::Storage, code, msg)
}

fn sys(what: impl AsRef<str>, e: &io::Error) -> VirError {
    err(
        ErrorCode::SystemError,
        format!("{}: {}", what.as_ref(), oxvirt_domain::fsio::strerror(e)),
    )
}

/// The pool's target directory (`<target><path>`).
pub(crate) fn target(pool: &Pool) -> Result<&str> {
    pool.target_path.as_deref().ok_or_else(|| {
        err(
            ErrorCode::InternalError,
            format!("storage pool '{}' has no target path", pool.name),
        )
    })
}

/// libvirt's check that `OVERWRITE` and `NO_OVERWRITE` are not both given.
pub(crate) fn exclusive_build_flags(flags: u32) -> Result<()> {
    VirError::check_flags(
        ErrorDomain::Storage,
        flags,
        flags::build::OVERWRITE | flags::build::NO_OVERWRITE,
        "virStorageBackendFileSystemBuild",
    )?;
    if flags & flags::build::OVERWRITE != 0 && flags & flags::build::NO_OVERWRITE != 0 {
        return Err(err(
            ErrorCode::InvalidArg,
            "Flags 'VIR_STORAGE_POOL_BUILD_OVERWRITE' and 'VIR_STORAGE_POOL_BUILD_NO_OVERWRITE' are mutually exclusive",
        ));
    }
    Ok(())
}

/// Makes the pool directory (and its parents) with the pool's mode, owner and group, or
/// adjusts an existing one, as libvirt's `virStorageBackendBuildLocal`.
pub(crate) fn build_dir(pool: &Pool) -> Result<()> {
    let path = target(pool)?;
    let mode = pool.target_perms.mode.unwrap_or(DEFAULT_POOL_MODE);
    let p = Path::new(path);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| sys(format!("cannot create path '{}'", parent.display()), &e))?;
    }
    match std::fs::DirBuilder::new().mode(mode).create(p) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && p.is_dir() => {}
        Err(e) => return Err(sys(format!("cannot create path '{path}'"), &e)),
    }
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
        .map_err(|e| sys(format!("cannot set mode of '{path}' to {mode:04o}"), &e))?;
    let owner = pool.target_perms.owner.map(rustix::fs::Uid::from_raw);
    let group = pool.target_perms.group.map(rustix::fs::Gid::from_raw);
    if owner.is_some() || group.is_some() {
        rustix::fs::chown(p, owner, group).map_err(|e| {
            sys(
                format!("cannot chown '{path}' to ({:?}, {:?})", owner, group),
                &e.into(),
            )
        })?;
    }
    Ok(())
}

/// Removes the pool directory (libvirt's `virStorageBackendDeleteLocal`: `rmdir`).
pub(crate) fn delete_dir(pool: &Pool, flags: u32) -> Result<()> {
    VirError::check_flags(
        ErrorDomain::Storage,
        flags,
        0,
        "virStorageBackendDeleteLocal",
    )?;
    let path = target(pool)?;
    std::fs::remove_dir(path).map_err(|e| sys(format!("failed to remove pool '{path}'"), &e))
}

/// Opens the pool's directory as a capability.
pub(crate) fn open(pool: &Pool) -> Result<DirPool> {
    DirPool::open(target(pool)?)
}

/// A file's permissions and times as libvirt reports them (`stat`; no birth time: 0).
fn file_meta(path: &str) -> (Perms, Option<Timestamps>) {
    let Ok(meta) = std::fs::metadata(path) else {
        return (Perms::default(), None);
    };
    let t = |sec: i64, nsec: i64| {
        Some(FileTime {
            sec: u64::try_from(sec).unwrap_or(0),
            nsec: u32::try_from(nsec).unwrap_or(0),
        })
    };
    let perms = Perms {
        mode: Some(meta.mode() & 0o777),
        owner: Some(meta.uid()),
        group: Some(meta.gid()),
        label: None,
    };
    let times = Timestamps {
        atime: t(meta.atime(), meta.atime_nsec()),
        mtime: t(meta.mtime(), meta.mtime_nsec()),
        ctime: t(meta.ctime(), meta.ctime_nsec()),
        btime: Some(FileTime::default()),
    };
    (perms, Some(times))
}

/// The volume `name` of `pool` as a refresh shows it.
pub(crate) fn volume(pool: &Pool, dp: &DirPool, name: &str) -> Result<Volume> {
    let info = dp.info(name)?;
    let path = dp.volume_path(name)?.to_string_lossy().into_owned();
    let (vol_type, format) = match info.kind {
        VolKind::Dir => (VolumeType::Dir, "dir"),
        VolKind::Block => (VolumeType::Block, info.format.as_str()),
        VolKind::File => (VolumeType::File, info.format.as_str()),
    };
    let mut backing_store = None;
    let mut physical = info.allocation;
    let (perms, timestamps) = file_meta(&path);
    if info.kind == VolKind::File {
        if let Ok(meta) = std::fs::metadata(&path) {
            physical = meta.len();
        }
    }
    if info.kind == VolKind::File && info.format == VolFormat::Qcow2 {
        backing_store = qcow2_backing(&path).map(|(p, f)| {
            let (perms, timestamps) = file_meta(&p);
            VolumeTarget {
                path: Some(p),
                format: f,
                perms,
                timestamps,
                ..VolumeTarget::default()
            }
        });
    }
    Ok(Volume {
        pool_type: pool.pool_type,
        vol_type,
        name: name.to_string(),
        key: Some(path.clone()),
        extents: Vec::new(),
        capacity: info.capacity,
        allocation: info.allocation,
        has_allocation: true,
        physical,
        target: VolumeTarget {
            path: Some(path),
            format: Some(format.to_string()),
            perms,
            timestamps,
            ..VolumeTarget::default()
        },
        backing_store,
    })
}

/// The backing file of a qcow2 image (path, format) from its header: the name's offset
/// (u64 at 8) and length (u32 at 16), both big-endian.
fn qcow2_backing(path: &str) -> Option<(String, Option<String>)> {
    let mut f = std::fs::File::open(path).ok()?;
    let mut h = [0u8; 20];
    f.read_exact(&mut h).ok()?;
    let off = u64::from_be_bytes(h[8..16].try_into().ok()?);
    let len = u32::from_be_bytes(h[16..20].try_into().ok()?);
    if off == 0 || len == 0 || len > 1023 {
        return None;
    }
    f.seek(SeekFrom::Start(off)).ok()?;
    let mut name = vec![0u8; len as usize];
    f.read_exact(&mut name).ok()?;
    let name = String::from_utf8(name).ok()?;
    let full = if name.starts_with('/') {
        name
    } else {
        Path::new(path)
            .parent()
            .map(|d| d.join(&name).to_string_lossy().into_owned())
            .unwrap_or(name)
    };
    let mut head = Vec::with_capacity(32);
    if let Ok(b) = std::fs::File::open(&full) {
        let _ = b.take(32).read_to_end(&mut head);
    }
    let fmt = dir::probe(&head).0;
    Some((full, Some(fmt.as_str().to_string())))
}

/// The permissions of the pool's target directory, as libvirt's refresh reports them.
pub fn target_perms(pool: &Pool) -> Option<Perms> {
    let meta = std::fs::metadata(pool.target_path.as_deref()?).ok()?;
    Some(Perms {
        mode: Some(meta.mode() & 0o7777),
        owner: Some(meta.uid()),
        group: Some(meta.gid()),
        label: pool.target_perms.label.clone(),
    })
}

/// The guest-visible size of an image file: a qcow2 header's size, or the file's length.
fn virtual_size(path: &str) -> Result<u64> {
    let e = |e: io::Error| sys(format!("cannot read backing store '{path}'"), &e);
    let f = std::fs::File::open(path).map_err(e)?;
    let len = f.metadata().map_err(e)?.len();
    let mut head = Vec::with_capacity(32);
    f.take(32).read_to_end(&mut head).map_err(e)?;
    Ok(dir::probe(&head).1.unwrap_or(len))
}

/// Reads the pool's space and volumes.
pub(crate) fn refresh(pool: &Pool) -> Result<Refreshed> {
    let dp = open(pool)?;
    let space = dp.pool_space()?;
    let mut volumes = Vec::new();
    for name in dp.list()? {
        // An entry that vanished or cannot be read between listing and probing is skipped,
        // as libvirt skips volumes it cannot open.
        if let Ok(v) = volume(pool, &dp, &name) {
            volumes.push(v);
        }
    }
    Ok(Refreshed {
        capacity: space.capacity,
        allocation: space.allocation,
        available: space.available,
        volumes,
    })
}

fn format_of(vol: &Volume) -> Result<VolFormat> {
    match vol.target.format.as_deref() {
        None | Some("raw") => Ok(VolFormat::Raw),
        Some("qcow2") => Ok(VolFormat::Qcow2),
        Some(other) => Err(err(
            ErrorCode::OperationUnsupported,
            format!("storage vol format '{other}' is not supported by this pool"),
        )),
    }
}

/// One volume and the pool's space, as [`refresh`] would find them; an entry that is gone
/// or cannot be read is no volume, as [`refresh`] skips it.
pub(crate) fn refresh_volume(pool: &Pool, name: &str) -> Result<Option<RefreshedVolume>> {
    let dp = open(pool)?;
    let space = dp.pool_space()?;
    Ok(Some(RefreshedVolume {
        capacity: space.capacity,
        allocation: space.allocation,
        available: space.available,
        volume: volume(pool, &dp, name).ok(),
    }))
}

/// Creates a volume (raw: sparse unless an allocation is given; qcow2 with `qemu-img`).
pub(crate) fn create_volume(pool: &Pool, vol: &Volume, vflags: u32) -> Result<Volume> {
    VirError::check_flags(
        ErrorDomain::Storage,
        vflags,
        flags::vol_create::PREALLOC_METADATA,
        "virStorageBackendFileSystemVolBuild",
    )?;
    if vol.target.encryption.is_some() {
        return Err(err(
            ErrorCode::ConfigUnsupported,
            "storage pool does not support encrypted volumes",
        ));
    }
    let dp = open(pool)?;
    match format_of(vol)? {
        VolFormat::Raw => {
            if vol.backing_store.is_some() {
                return Err(err(
                    ErrorCode::ConfigUnsupported,
                    "backing storage not supported for raw volumes",
                ));
            }
            // As libvirt: a volume without `<allocation>` is allocated in full (the
            // parser made its allocation the capacity); `<allocation>0` makes it sparse.
            dp.create_raw(&vol.name, vol.capacity, vol.allocation)?;
        }
        VolFormat::Qcow2 => {
            let compat = vol.target.compat.as_deref().unwrap_or("1.1");
            let backing = vol.backing_store.as_ref().and_then(|b| {
                b.path
                    .as_deref()
                    .map(|p| (p, b.format.as_deref().unwrap_or("raw")))
            });
            // Without `<capacity>`, the image is as large as its backing store.
            let capacity = match (vol.capacity, backing) {
                (0, Some((path, _))) => virtual_size(path)?,
                (c, _) => c,
            };
            dp.create_qcow2(&vol.name, capacity, compat, backing)?;
        }
    }
    volume(pool, &dp, &vol.name)
}

/// Creates `vol` from `from`: inside one pool through [`DirPool::clone_volume`], from
/// another pool with `qemu-img convert` into a file first created exclusively here.
pub(crate) fn create_volume_from(
    pool: &Pool,
    vol: &Volume,
    from: &Volume,
    vflags: u32,
) -> Result<Volume> {
    VirError::check_flags(
        ErrorDomain::Storage,
        vflags,
        flags::vol_create::PREALLOC_METADATA,
        "virStorageBackendFileSystemVolBuildFrom",
    )?;
    let dp = open(pool)?;
    let format = format_of(vol)?;
    let from_path = from.target.path.clone().unwrap_or_default();
    let same_pool = Path::new(&from_path).parent() == Some(dp.path());
    if same_pool {
        dp.clone_volume(&from.name, &vol.name, format)?;
    } else {
        // A volume of another pool: its path comes from that pool's refresh.
        dp.create_raw(&vol.name, 0, 0)?;
        let out = dp.volume_path(&vol.name)?;
        let src_fmt = match from.target.format.as_deref() {
            Some("qcow2") => "qcow2",
            _ => "raw",
        };
        let status = Command::new("qemu-img")
            .args(["convert", "-q", "-f", src_fmt, "-O", format.as_str()])
            .arg(&from_path)
            .arg(&out)
            .output();
        let ok = matches!(&status, Ok(o) if o.status.success());
        if !ok {
            let _ = dp.delete(&vol.name);
            let detail = match status {
                Ok(o) => String::from_utf8_lossy(&o.stderr).trim_end().to_string(),
                Err(e) => e.to_string(),
            };
            return Err(err(
                ErrorCode::InternalError,
                format!("Child process (qemu-img convert) unexpected exit status: {detail}"),
            ));
        }
    }
    let mut v = volume(pool, &dp, &vol.name)?;
    if vol.capacity > v.capacity {
        dp.resize(&vol.name, vol.capacity, false)?;
        v = volume(pool, &dp, &vol.name)?;
    }
    Ok(v)
}

/// A file volume opened for reading a range, with its holes.
struct DirReader {
    file: io::Take<std::fs::File>,
}

impl Read for DirReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(CHUNK);
        self.file.read(&mut buf[..n])
    }
}

impl VolumeRead for DirReader {
    fn segments(&mut self) -> Result<Vec<Segment>> {
        let left = self.file.limit();
        let f = self.file.get_mut();
        let e = |e: io::Error| sys("cannot seek volume", &e);
        let pos = f.stream_position().map_err(e)?;
        let size = f.metadata().map_err(e)?.len();
        let end = pos.saturating_add(left).min(size).max(pos);
        let segs = dir::segments(f, pos, end).map_err(e)?;
        f.seek(SeekFrom::Start(pos)).map_err(e)?;
        Ok(segs
            .into_iter()
            .map(|s| match s {
                dir::Segment::Data { len, .. } => Segment::Data(len),
                dir::Segment::Hole { len, .. } => Segment::Hole(len),
            })
            .collect())
    }

    fn skip(&mut self, len: u64) -> Result<()> {
        let left = self.file.limit();
        let len = len.min(left);
        self.file
            .get_mut()
            .seek(SeekFrom::Current(len as i64))
            .map_err(|e| sys("cannot seek volume", &e))?;
        self.file.set_limit(left - len);
        Ok(())
    }
}

/// A file volume opened for writing: holes are punched, the file grows to cover them.
struct DirWriter {
    file: std::fs::File,
    left: Option<u64>,
}

impl DirWriter {
    fn take(&mut self, n: u64) -> io::Result<u64> {
        match self.left.as_mut() {
            None => Ok(n),
            Some(0) if n > 0 => Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "upload is longer than the requested length",
            )),
            Some(l) => {
                let n = n.min(*l);
                *l -= n;
                Ok(n)
            }
        }
    }
}

impl Write for DirWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let allowed = match self.left {
            Some(l) => buf.len().min(usize::try_from(l).unwrap_or(usize::MAX)),
            None => buf.len(),
        };
        if allowed == 0 && !buf.is_empty() {
            self.take(1)?;
        }
        let n = self.file.write(&buf[..allowed])?;
        self.take(n as u64)?;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl VolumeWrite for DirWriter {
    fn hole(&mut self, len: u64) -> Result<()> {
        let e = |e: io::Error| sys("cannot write a hole in volume", &e);
        if len > 0 && self.left == Some(0) {
            return Err(e(io::Error::new(
                io::ErrorKind::WriteZero,
                "upload is longer than the requested length",
            )));
        }
        let len = self.take(len).map_err(e)?;
        let pos = self.file.stream_position().map_err(e)?;
        let size = self.file.metadata().map_err(e)?.len();
        let punch_end = (pos + len).min(size);
        if punch_end > pos {
            let flags =
                rustix::fs::FallocateFlags::PUNCH_HOLE | rustix::fs::FallocateFlags::KEEP_SIZE;
            if rustix::fs::fallocate(&self.file, flags, pos, punch_end - pos).is_err() {
                write_zeroes(&mut self.file, punch_end - pos).map_err(e)?;
                self.file.seek(SeekFrom::Start(pos)).map_err(e)?;
            }
        }
        self.file
            .seek(SeekFrom::Start(pos + len))
            .map_err(e)
            .map(|_| ())
    }

    fn finish(&mut self) -> Result<()> {
        let e = |e: io::Error| sys("cannot finish writing volume", &e);
        let pos = self.file.stream_position().map_err(e)?;
        if self.file.metadata().map_err(e)?.len() < pos {
            self.file.set_len(pos).map_err(e)?;
        }
        self.file.sync_all().map_err(e)
    }
}

/// Writes `len` zero bytes (where a file system cannot punch holes).
fn write_zeroes(out: &mut impl Write, len: u64) -> io::Result<()> {
    let zeros = vec![0u8; CHUNK];
    let mut left = len;
    while left > 0 {
        let n = left.min(CHUNK as u64) as usize;
        out.write_all(&zeros[..n])?;
        left -= n as u64;
    }
    Ok(())
}

/// Opens a file volume for reading.
pub(crate) fn open_read(
    pool: &Pool,
    vol: &Volume,
    offset: u64,
    length: u64,
) -> Result<Box<dyn VolumeRead>> {
    let file = open(pool)?.open_read(&vol.name, offset, length)?;
    Ok(Box::new(DirReader { file }))
}

/// Opens a file volume for writing.
pub(crate) fn open_write(
    pool: &Pool,
    vol: &Volume,
    offset: u64,
    length: u64,
) -> Result<Box<dyn VolumeWrite>> {
    let w = open(pool)?.open_write(&vol.name, offset, 0)?;
    let file = w
        .file()
        .try_clone()
        .map_err(|e| sys("cannot open volume", &e))?;
    Ok(Box::new(DirWriter {
        file,
        left: (length != 0).then_some(length),
    }))
}

/// The `dir` pool type.
#[derive(Debug, Default, Clone)]
pub struct DirBackend;

impl DirBackend {
    /// The backend.
    pub fn new() -> Self {
        DirBackend
    }
}

impl Backend for DirBackend {
    fn pool_type(&self) -> &'static str {
        "dir"
    }

    /// Running when the directory exists (libvirt's `virStorageBackendFileSystemCheck`).
    fn check(&self, pool: &Pool) -> Result<bool> {
        Ok(Path::new(target(pool)?).is_dir())
    }

    fn build(&self, pool: &Pool, flags: u32) -> Result<()> {
        exclusive_build_flags(flags)?;
        build_dir(pool)
    }

    fn start(&self, pool: &Pool) -> Result<()> {
        let path = target(pool)?;
        if !Path::new(path).is_dir() {
            return Err(err(
                ErrorCode::OperationInvalid,
                format!("cannot open directory '{path}': No such file or directory"),
            ));
        }
        Ok(())
    }

    fn refresh(&self, pool: &Pool) -> Result<Refreshed> {
        refresh(pool)
    }

    fn refresh_volume(&self, pool: &Pool, name: &str) -> Result<Option<RefreshedVolume>> {
        refresh_volume(pool, name)
    }

    fn stop(&self, _pool: &Pool) -> Result<()> {
        Ok(())
    }

    fn delete(&self, pool: &Pool, flags: u32) -> Result<()> {
        delete_dir(pool, flags)
    }

    fn find_sources(&self, _spec: Option<&PoolSource>, _flags: u32) -> Result<Vec<PoolSource>> {
        Err(err(
            ErrorCode::NoSupport,
            "pool type 'dir' does not support source discovery",
        ))
    }

    fn create_volume(&self, pool: &Pool, vol: &Volume, flags: u32) -> Result<Volume> {
        create_volume(pool, vol, flags)
    }

    fn create_volume_from(
        &self,
        pool: &Pool,
        vol: &Volume,
        from: &Volume,
        flags: u32,
    ) -> Result<Volume> {
        create_volume_from(pool, vol, from, flags)
    }

    fn delete_volume(&self, pool: &Pool, vol: &Volume, flags: u32) -> Result<()> {
        VirError::check_flags(
            ErrorDomain::Storage,
            flags,
            0,
            "virStorageBackendVolDeleteLocal",
        )?;
        open(pool)?.delete(&vol.name)
    }

    fn resize_volume(&self, pool: &Pool, vol: &Volume, capacity: u64, flags: u32) -> Result<()> {
        VirError::check_flags(
            ErrorDomain::Storage,
            flags,
            flags::resize::ALLOCATE | flags::resize::SHRINK,
            "virStorageBackendVolResizeLocal",
        )?;
        let dp = open(pool)?;
        if flags & flags::resize::ALLOCATE != 0 && format_of(vol)? == VolFormat::Qcow2 {
            return Err(err(
                ErrorCode::OperationUnsupported,
                "preallocate is only supported for raw type volume",
            ));
        }
        dp.resize(&vol.name, capacity, flags & flags::resize::SHRINK != 0)?;
        if flags & flags::resize::ALLOCATE != 0 && capacity > 0 {
            let path = dp.volume_path(&vol.name)?;
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .map_err(|e| sys("cannot open volume", &e))?;
            rustix::fs::fallocate(&f, rustix::fs::FallocateFlags::empty(), 0, capacity)
                .map_err(|e| sys("Failed to preallocate", &e.into()))?;
        }
        Ok(())
    }

    fn wipe_volume(&self, pool: &Pool, vol: &Volume, algorithm: u32, flags: u32) -> Result<()> {
        VirError::check_flags(
            ErrorDomain::Storage,
            flags,
            0,
            "virStorageBackendVolWipeLocal",
        )?;
        let dp = open(pool)?;
        let name = match algorithm {
            0 => return dp.wipe(&vol.name),
            1 => "nnsa",
            2 => "dod",
            3 => "bsi",
            4 => "gutmann",
            5 => "schneier",
            6 => "pfitzner7",
            7 => "pfitzner33",
            8 => "random",
            9 => {
                return Err(err(
                    ErrorCode::ArgumentUnsupported,
                    "'trim' algorithm not supported",
                ))
            }
            n => {
                return Err(err(
                    ErrorCode::InvalidArg,
                    format!("unsupported algorithm {n}"),
                ))
            }
        };
        // As libvirt: the other patterns are scrub(1)'s, on a regular file of the pool.
        if dp.info(&vol.name)?.kind != VolKind::File {
            return Err(err(
                ErrorCode::OperationInvalid,
                format!("volume '{}' is not a regular file", vol.name),
            ));
        }
        let found = std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("scrub").is_file()));
        if !found {
            return Err(err(
                ErrorCode::SystemError,
                "Cannot find 'scrub' in path: No such file or directory",
            ));
        }
        let path = dp.volume_path(&vol.name)?;
        let out = Command::new("scrub")
            .args(["-f", "-p", name])
            .arg(&path)
            .output()
            .map_err(|e| sys("cannot run scrub", &e))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(err(
                ErrorCode::InternalError,
                format!(
                    "Child process (scrub -f -p {name} {}) unexpected exit status {}: {}",
                    path.display(),
                    out.status.code().unwrap_or(-1),
                    String::from_utf8_lossy(&out.stderr).trim_end()
                ),
            ))
        }
    }

    fn open_read(
        &self,
        pool: &Pool,
        vol: &Volume,
        offset: u64,
        length: u64,
    ) -> Result<Box<dyn VolumeRead>> {
        open_read(pool, vol, offset, length)
    }

    fn open_write(
        &self,
        pool: &Pool,
        vol: &Volume,
        offset: u64,
        length: u64,
    ) -> Result<Box<dyn VolumeWrite>> {
        open_write(pool, vol, offset, length)
    }
}
