//! Data and hole segments of a file, by `SEEK_DATA`/`SEEK_HOLE`.

use std::io;

use rustix::fs::SeekFrom;

/// A run of a volume: bytes to send, or a hole that reads as zeros.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment {
    /// `len` bytes of data at `offset`.
    Data {
        /// Start of the run.
        offset: u64,
        /// Its length.
        len: u64,
    },
    /// `len` bytes of hole at `offset`.
    Hole {
        /// Start of the run.
        offset: u64,
        /// Its length.
        len: u64,
    },
}

/// The segments of `file` from `start` to `end`, in order, covering the range exactly.
/// A file system without `SEEK_DATA` reports the whole range as data. The file position
/// is left unspecified.
pub fn segments(file: &std::fs::File, start: u64, end: u64) -> io::Result<Vec<Segment>> {
    let mut out = Vec::new();
    let mut pos = start;
    while pos < end {
        let data = match rustix::fs::seek(file, SeekFrom::Data(pos)) {
            Ok(d) => d.min(end),
            // No data at or after `pos`: the rest is a hole.
            Err(rustix::io::Errno::NXIO) => end,
            Err(rustix::io::Errno::INVAL) if out.is_empty() => {
                out.push(Segment::Data {
                    offset: start,
                    len: end - start,
                });
                return Ok(out);
            }
            Err(e) => return Err(e.into()),
        };
        if data > pos {
            out.push(Segment::Hole {
                offset: pos,
                len: data - pos,
            });
            pos = data;
        }
        if pos >= end {
            break;
        }
        let hole = match rustix::fs::seek(file, SeekFrom::Hole(pos)) {
            Ok(h) => h.min(end),
            Err(rustix::io::Errno::NXIO) => end,
            Err(e) => return Err(e.into()),
        };
        out.push(Segment::Data {
            offset: pos,
            len: hole - pos,
        });
        pos = hole;
    }
    Ok(out)
}
