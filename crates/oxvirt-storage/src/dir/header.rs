//! Image format detection from the first bytes of a volume.

/// qcow2's magic: `QFI\xfb`.
pub const QCOW2_MAGIC: [u8; 4] = *b"QFI\xfb";

/// A volume's image format, as the `dir` backend detects it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VolFormat {
    /// No known header: the bytes are the disk.
    Raw,
    /// A qcow2 image (versions 2 and 3).
    Qcow2,
}

impl VolFormat {
    /// The name libvirt and qemu-img use for the format.
    pub fn as_str(self) -> &'static str {
        match self {
            VolFormat::Raw => "raw",
            VolFormat::Qcow2 => "qcow2",
        }
    }
}

/// Detects the format from a header (at least the first 32 bytes of the file), and the
/// virtual size a qcow2 header records (big-endian `u64` at offset 24).
pub fn probe(header: &[u8]) -> (VolFormat, Option<u64>) {
    if header.len() >= 32 && header[..4] == QCOW2_MAGIC {
        let version = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
        if version == 2 || version == 3 {
            let mut size = [0u8; 8];
            size.copy_from_slice(&header[24..32]);
            return (VolFormat::Qcow2, Some(u64::from_be_bytes(size)));
        }
    }
    (VolFormat::Raw, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_qcow2_size() {
        let mut h = vec![0u8; 72];
        h[..4].copy_from_slice(&QCOW2_MAGIC);
        h[4..8].copy_from_slice(&3u32.to_be_bytes());
        h[24..32].copy_from_slice(&(5u64 << 30).to_be_bytes());
        assert_eq!(probe(&h), (VolFormat::Qcow2, Some(5 << 30)));
        h[4..8].copy_from_slice(&9u32.to_be_bytes());
        assert_eq!(probe(&h), (VolFormat::Raw, None));
        assert_eq!(probe(b"QFI"), (VolFormat::Raw, None));
    }
}
