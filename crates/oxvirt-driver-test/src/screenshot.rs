//! `virDomainScreenshot` for the test driver. libvirt's test driver streams a PNG file it
//! ships; ours is built in code: a 640x480 8-bit grayscale diagonal gradient, compressed
//! with stored (uncompressed) deflate blocks, about 300 KB, so that a screenshot takes
//! more than one stream packet.

use std::sync::OnceLock;

use oxvirt_domain::driver::{DomainRef, Result, Screenshot};

use crate::driver::{check_flags, TestDriver};

/// The image's width in pixels.
pub const SCREEN_WIDTH: u32 = 640;
/// The image's height in pixels.
pub const SCREEN_HEIGHT: u32 = 480;
/// The MIME type the test driver reports.
pub const SCREENSHOT_MIME: &str = "image/png";

/// The 8 bytes every PNG file starts with.
pub const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

impl TestDriver {
    /// `virDomainScreenshot`: like libvirt's test driver, any screen number and any
    /// domain (running or not) give the same image; flags must be 0.
    pub fn screenshot_sync(&self, dom: &DomainRef, _screen: u32, flags: u32) -> Result<Screenshot> {
        check_flags(flags, 0, "testDomainScreenshot")?;
        self.lock().obj(dom)?;
        Ok(Screenshot {
            mime: SCREENSHOT_MIME.to_owned(),
            data: screenshot_png().to_vec(),
        })
    }
}

/// The test screen image (built once).
pub fn screenshot_png() -> &'static [u8] {
    static PNG: OnceLock<Vec<u8>> = OnceLock::new();
    PNG.get_or_init(|| gradient_png(SCREEN_WIDTH, SCREEN_HEIGHT))
}

/// A `width` x `height` 8-bit grayscale PNG whose pixels brighten along the diagonal.
pub fn gradient_png(width: u32, height: u32) -> Vec<u8> {
    let (w, h) = (width as usize, height as usize);
    // Each scanline: filter type 0 (None), then its pixels.
    let span = (w + h).saturating_sub(2).max(1);
    let mut raw = Vec::with_capacity((w + 1) * h);
    for y in 0..h {
        raw.push(0);
        raw.extend((0..w).map(|x| ((x + y) * 255 / span) as u8));
    }
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    // Bit depth 8, colour type 0 (grayscale), deflate, adaptive filtering, no interlace.
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    let mut png = PNG_SIGNATURE.to_vec();
    push_chunk(&mut png, b"IHDR", &ihdr);
    push_chunk(&mut png, b"IDAT", &zlib_stored(&raw));
    push_chunk(&mut png, b"IEND", &[]);
    png
}

/// Appends a PNG chunk: length, type, data, CRC of type and data.
fn push_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// A zlib stream holding `data` in stored deflate blocks (RFC 1950/1951).
pub fn zlib_stored(data: &[u8]) -> Vec<u8> {
    const MAX_BLOCK: usize = 65_535;
    let mut out = Vec::with_capacity(data.len() + data.len() / MAX_BLOCK * 5 + 11);
    // CMF: deflate with a 32 KiB window; FLG: no dictionary, check bits making it % 31.
    out.extend_from_slice(&[0x78, 0x01]);
    let mut blocks = data.chunks(MAX_BLOCK).peekable();
    if blocks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(block) = blocks.next() {
        let last = blocks.peek().is_none();
        let len = block.len() as u16;
        out.push(u8::from(last));
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    out.extend_from_slice(&adler32(data).to_be_bytes());
    out
}

/// CRC-32 (ISO-HDLC, as PNG uses it).
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Adler-32 (zlib's checksum).
pub fn adler32(data: &[u8]) -> u32 {
    const MOD: u32 = 65_521;
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in data.chunks(5552) {
        for &x in chunk {
            a += u32::from(x);
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    (b << 16) | a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_match_known_values() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        assert_eq!(crc32(b"IEND"), 0xae42_6082);
        assert_eq!(adler32(b"Wikipedia"), 0x11e6_0398);
        assert_eq!(adler32(&[]), 1);
    }

    #[test]
    fn stored_zlib_blocks_frame_the_data() {
        let data = vec![3u8; 70_000];
        let z = zlib_stored(&data);
        assert_eq!(&z[..2], &[0x78, 0x01]);
        assert_eq!((u16::from(z[0]) << 8 | u16::from(z[1])) % 31, 0);
        // First block: not final, 65535 bytes.
        assert_eq!(&z[2..7], &[0, 0xff, 0xff, 0, 0]);
        let second = 7 + 65_535;
        assert_eq!(&z[second..second + 5], &[1, 0x71, 0x11, 0x8e, 0xee]);
        assert_eq!(z.len(), 2 + 5 + 65_535 + 5 + 4_465 + 4);
        assert_eq!(
            zlib_stored(&[]),
            vec![0x78, 1, 1, 0, 0, 0xff, 0xff, 0, 0, 0, 1]
        );
    }

    #[test]
    fn the_image_is_a_valid_png() {
        let png = screenshot_png();
        assert_eq!(&png[..8], &PNG_SIGNATURE);
        assert_eq!(&png[8..16], &[0, 0, 0, 13, b'I', b'H', b'D', b'R']);
        assert_eq!(&png[16..20], &640u32.to_be_bytes());
        assert_eq!(&png[20..24], &480u32.to_be_bytes());
        assert_eq!(&png[24..29], &[8, 0, 0, 0, 0]);
        assert_eq!(&png[29..33], &crc32(&png[12..29]).to_be_bytes());
        assert_eq!(
            &png[png.len() - 12..],
            &[0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xae, 0x42, 0x60, 0x82]
        );
        // 640 * 480 pixels + 480 filter bytes, 5 bytes per stored block, zlib's 6 bytes,
        // the signature and 12 bytes around each chunk's data.
        let raw: usize = 640 * 480 + 480;
        assert_eq!(
            png.len(),
            8 + 25 + 12 + raw + 5 * raw.div_ceil(65_535) + 6 + 12
        );
        // More than one stream packet (262,120 bytes).
        assert!(png.len() > 262_120);
        // The first pixel is black, the last white.
        assert_eq!(
            (png[8 + 25 + 12 + 2 + 5 + 1], raw_last_pixel(png)),
            (0, 255)
        );
    }

    fn raw_last_pixel(png: &[u8]) -> u8 {
        // IEND (12), the CRC (4) and the Adler-32 (4) follow the last pixel.
        png[png.len() - 12 - 4 - 4 - 1]
    }
}
