//! Reading and writing a block device node (a logical volume's `/dev/VG/LV`, an iSCSI
//! LUN's `/dev/disk/by-path/...`) for the backends whose volumes are devices.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};

use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use super::{Result, Segment, VolumeRead, VolumeWrite};

/// A `VIR_FROM_STORAGE` error.
pub(crate) fn storage_error(code: ErrorCode, msg: impl AsRef<str>) -> VirError {
    VirError::new(ErrorDomain::Storage, code, msg)
}

/// libvirt's error for an operation a pool type does not offer (`VIR_ERR_NO_SUPPORT`,
/// "storage pool does not support volume creation" and the like).
pub(crate) fn no_support(msg: &str) -> VirError {
    storage_error(ErrorCode::NoSupport, msg)
}

fn io_error(what: &str, path: &str, e: &std::io::Error) -> VirError {
    storage_error(
        ErrorCode::SystemError,
        format!("cannot {what} '{path}': {e}"),
    )
}

/// Opens the device `path` for reading or writing, positioned at `offset`.
pub(crate) fn open(path: &str, write: bool, offset: u64) -> Result<File> {
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(write)
        .open(path)
        .map_err(|e| io_error("open volume", path, &e))?;
    file.seek(SeekFrom::Start(offset))
        .map_err(|e| io_error("seek in volume", path, &e))?;
    Ok(file)
}

/// The size of the device or file open as `file`.
pub(crate) fn size(file: &mut File, path: &str) -> Result<u64> {
    let pos = file
        .stream_position()
        .map_err(|e| io_error("seek in volume", path, &e))?;
    let end = file
        .seek(SeekFrom::End(0))
        .map_err(|e| io_error("seek in volume", path, &e))?;
    file.seek(SeekFrom::Start(pos))
        .map_err(|e| io_error("seek in volume", path, &e))?;
    Ok(end)
}

/// A device opened for reading `left` bytes.
pub(crate) struct DeviceReader {
    file: File,
    left: u64,
}

impl DeviceReader {
    /// Reads `path` from `offset`, `length` bytes (0: to the end).
    pub(crate) fn open(path: &str, offset: u64, length: u64) -> Result<DeviceReader> {
        let mut file = open(path, false, offset)?;
        let end = size(&mut file, path)?;
        let rest = end.saturating_sub(offset);
        let left = if length == 0 { rest } else { length.min(rest) };
        Ok(DeviceReader { file, left })
    }
}

impl Read for DeviceReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = (buf.len() as u64).min(self.left) as usize;
        if n == 0 {
            return Ok(0);
        }
        let got = self.file.read(&mut buf[..n])?;
        self.left -= got as u64;
        Ok(got)
    }
}

impl VolumeRead for DeviceReader {
    fn segments(&mut self) -> Result<Vec<Segment>> {
        Ok(if self.left == 0 {
            Vec::new()
        } else {
            vec![Segment::Data(self.left)]
        })
    }

    fn skip(&mut self, len: u64) -> Result<()> {
        let len = len.min(self.left);
        self.file
            .seek(SeekFrom::Current(len as i64))
            .map_err(|e| storage_error(ErrorCode::SystemError, format!("cannot seek: {e}")))?;
        self.left -= len;
        Ok(())
    }
}

/// A device opened for writing at most `left` bytes.
pub(crate) struct DeviceWriter {
    file: File,
    left: u64,
}

impl DeviceWriter {
    /// Writes `path` from `offset`, at most `length` bytes (0: to the end).
    pub(crate) fn open(path: &str, offset: u64, length: u64) -> Result<DeviceWriter> {
        let mut file = open(path, true, offset)?;
        let end = size(&mut file, path)?;
        let rest = end.saturating_sub(offset);
        let left = if length == 0 { rest } else { length.min(rest) };
        Ok(DeviceWriter { file, left })
    }
}

fn past_end() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::WriteZero,
        "write past the end of the volume",
    )
}

impl Write for DeviceWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.left == 0 {
            return Err(past_end());
        }
        let n = (buf.len() as u64).min(self.left) as usize;
        let done = self.file.write(&buf[..n])?;
        self.left -= done as u64;
        Ok(done)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

impl VolumeWrite for DeviceWriter {
    fn hole(&mut self, len: u64) -> Result<()> {
        write_zeroes(self, len)
            .map_err(|e| storage_error(ErrorCode::SystemError, format!("cannot write: {e}")))
    }

    fn finish(&mut self) -> Result<()> {
        self.file
            .sync_all()
            .map_err(|e| storage_error(ErrorCode::SystemError, format!("cannot sync: {e}")))
    }
}

/// Writes `len` zero bytes to `out`.
pub(crate) fn write_zeroes(out: &mut impl Write, len: u64) -> std::io::Result<()> {
    let zeros = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        let n = left.min(zeros.len() as u64) as usize;
        out.write_all(&zeros[..n])?;
        left -= n as u64;
    }
    Ok(())
}

/// Overwrites the whole device `path` with zeroes (libvirt's wipe algorithm `zero`).
pub(crate) fn zero_device(path: &str) -> Result<()> {
    let mut w = DeviceWriter::open(path, 0, 0)?;
    let len = w.left;
    write_zeroes(&mut w, len).map_err(|e| io_error("wipe volume", path, &e))?;
    w.finish()
}

/// Copies `from` (a file or device) into the device `to`, as much as both hold.
pub(crate) fn copy(from: &str, to: &str) -> Result<u64> {
    let mut input = open(from, false, 0)?;
    let mut out = DeviceWriter::open(to, 0, 0)?;
    let want = size(&mut input, from)?.min(out.left);
    let copied = std::io::copy(&mut (&mut input).take(want), &mut out)
        .map_err(|e| io_error("copy into volume", to, &e))?;
    out.finish()?;
    Ok(copied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_and_writer_stay_in_range() {
        let dir = std::env::temp_dir().join(format!("oxvirt-device-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("dev.img");
        std::fs::write(&path, vec![7u8; 4096]).unwrap();
        let p = path.to_str().unwrap();

        let mut w = DeviceWriter::open(p, 100, 10).unwrap();
        w.write_all(b"0123456789").unwrap();
        assert!(w.write(b"x").is_err(), "past the length");
        w.hole(0).unwrap();
        w.finish().unwrap();

        let mut r = DeviceReader::open(p, 95, 20).unwrap();
        assert_eq!(r.segments().unwrap(), vec![Segment::Data(20)]);
        r.skip(5).unwrap();
        let mut got = Vec::new();
        r.read_to_end(&mut got).unwrap();
        assert_eq!(&got[..10], b"0123456789");
        assert_eq!(&got[10..], &[7u8; 5]);

        let src = dir.join("src.img");
        std::fs::write(&src, b"hello").unwrap();
        assert_eq!(copy(src.to_str().unwrap(), p).unwrap(), 5);
        zero_device(p).unwrap();
        assert!(std::fs::read(&path).unwrap().iter().all(|&b| b == 0));
        assert_eq!(std::fs::read(&path).unwrap().len(), 4096);

        let err = DeviceReader::open("/nonexistent/oxvirt/dev", 0, 0)
            .err()
            .unwrap();
        assert_eq!(err.code, ErrorCode::SystemError);
        assert!(err.message.contains("No such file"), "{}", err.message);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
