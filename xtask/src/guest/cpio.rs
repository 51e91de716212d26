//! The initramfs archive: newc cpio written in memory, gzipped without names or times, so
//! the same input gives the same bytes.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

/// A newc ("070701") cpio archive written in memory: owner root, mtime 0, inode numbers in
/// order, so the same input gives the same bytes.
#[derive(Default)]
pub(super) struct Cpio {
    out: Vec<u8>,
    ino: u32,
}

impl Cpio {
    pub(super) fn dir(&mut self, path: &str) {
        self.entry(path, 0o040_755, 0, &[]);
    }

    pub(super) fn file(&mut self, path: &str, perm: u32, data: &[u8]) {
        self.entry(path, 0o100_000 | perm, 0, data);
    }

    pub(super) fn symlink(&mut self, path: &str, target: &str) {
        self.entry(path, 0o120_777, 0, target.as_bytes());
    }

    pub(super) fn char_dev(&mut self, path: &str, major: u32, minor: u32) {
        self.entry(path, 0o020_600, (major << 8) | minor, &[]);
    }

    pub(super) fn entry(&mut self, path: &str, mode: u32, rdev: u32, data: &[u8]) {
        self.ino += 1;
        let nlink = if mode & 0o170_000 == 0o040_000 { 2 } else { 1 };
        let (rmajor, rminor) = (rdev >> 8, rdev & 0xff);
        let size = u32::try_from(data.len()).unwrap_or(u32::MAX);
        let name_size = u32::try_from(path.len() + 1).unwrap_or(u32::MAX);
        let fields = [
            self.ino, mode, 0, 0, nlink, 0, size, 0, 0, rmajor, rminor, name_size, 0,
        ];
        self.out.extend_from_slice(b"070701");
        for f in fields {
            self.out.extend_from_slice(format!("{f:08X}").as_bytes());
        }
        self.out.extend_from_slice(path.as_bytes());
        self.out.push(0);
        self.pad();
        self.out.extend_from_slice(data);
        self.pad();
    }

    pub(super) fn pad(&mut self) {
        while self.out.len() % 4 != 0 {
            self.out.push(0);
        }
    }

    pub(super) fn finish(mut self) -> Vec<u8> {
        self.ino = 0;
        self.entry("TRAILER!!!", 0, 0, &[]);
        self.out
    }
}

/// Gzips `data` into `path` with `gzip -n` (no name, no timestamp: deterministic).
pub(super) fn write_gzip(data: &[u8], path: &Path) -> Result<()> {
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut child = Command::new("gzip")
        .args(["-n", "-9", "-c"])
        .stdin(Stdio::piped())
        .stdout(file)
        .spawn()
        .context("guest: running gzip")?;
    let written = child.stdin.take().context("gzip's stdin")?.write_all(data);
    let status = child.wait().context("waiting for gzip")?;
    written.context("writing to gzip")?;
    if !status.success() {
        bail!("guest: gzip failed ({status})");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpio_entries_are_newc_and_padded() {
        let mut c = Cpio::default();
        c.file("init", 0o755, b"#!/bin/sh\n");
        let out = c.finish();
        let header = std::str::from_utf8(&out[..110]).unwrap_or_default();
        let expected = concat!(
            "070701", "00000001", "000081ED", "00000000", "00000000", "00000001", "00000000",
            "0000000A", "00000000", "00000000", "00000000", "00000000", "00000005", "00000000",
        );
        assert_eq!(header, expected);
        assert_eq!(&out[110..115], b"init\0");
        assert_eq!(out.len() % 4, 0);
        assert!(out.windows(10).any(|w| w == b"TRAILER!!!"));
    }

    #[test]
    fn console_node_and_symlink_headers() {
        let mut c = Cpio::default();
        c.char_dev("dev/console", 5, 1);
        c.symlink("bin/sh", "busybox");
        let out = c.finish();
        let field = |entry: &[u8], i: usize| {
            std::str::from_utf8(&entry[6 + 8 * i..14 + 8 * i])
                .unwrap_or_default()
                .to_string()
        };
        assert_eq!(field(&out, 1), "00002180");
        assert_eq!(field(&out, 9), "00000005");
        assert_eq!(field(&out, 10), "00000001");
        // 110 + "dev/console\0" (12) = 122, padded to 124; no data.
        let link = &out[124..];
        assert_eq!(field(link, 1), "0000A1FF");
        assert_eq!(field(link, 6), "00000007");
        assert_eq!(&link[110..117], b"bin/sh\0");
        assert_eq!(&link[120..127], b"busybox");
    }
}
