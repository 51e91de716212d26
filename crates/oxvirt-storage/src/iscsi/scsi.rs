//! SCSI commands (SPC/SBC) the initiator sends, and what their answers mean.

/// TEST UNIT READY.
pub fn test_unit_ready() -> Vec<u8> {
    vec![0; 6]
}

/// INQUIRY; `page` asks for a vital product data page (EVPD=1).
pub fn inquiry(page: Option<u8>, alloc: u16) -> Vec<u8> {
    let [hi, lo] = alloc.to_be_bytes();
    match page {
        Some(p) => vec![0x12, 1, p, hi, lo, 0],
        None => vec![0x12, 0, 0, hi, lo, 0],
    }
}

/// REPORT LUNS (all LUNs).
pub fn report_luns(alloc: u32) -> Vec<u8> {
    let mut cdb = vec![0u8; 12];
    cdb[0] = 0xa0;
    cdb[6..10].copy_from_slice(&alloc.to_be_bytes());
    cdb
}

/// READ CAPACITY(10).
pub fn read_capacity10() -> Vec<u8> {
    let mut cdb = vec![0u8; 10];
    cdb[0] = 0x25;
    cdb
}

/// READ CAPACITY(16) (SERVICE ACTION IN(16), service action 0x10).
pub fn read_capacity16(alloc: u32) -> Vec<u8> {
    let mut cdb = vec![0u8; 16];
    cdb[0] = 0x9e;
    cdb[1] = 0x10;
    cdb[10..14].copy_from_slice(&alloc.to_be_bytes());
    cdb
}

/// READ(16) or WRITE(16) of `blocks` blocks at `lba`.
pub fn rw16(write: bool, lba: u64, blocks: u32) -> Vec<u8> {
    let mut cdb = vec![0u8; 16];
    cdb[0] = if write { 0x8a } else { 0x88 };
    cdb[2..10].copy_from_slice(&lba.to_be_bytes());
    cdb[10..14].copy_from_slice(&blocks.to_be_bytes());
    cdb
}

/// A logical unit's standard INQUIRY data, and its unit serial number if it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inquiry {
    /// The peripheral qualifier (0: a device is connected).
    pub qualifier: u8,
    /// The peripheral device type (0: disk, 5: CD/DVD, 0x0c: storage array controller).
    pub device_type: u8,
    /// Whether the medium is removable.
    pub removable: bool,
    /// T10 vendor identification (spaces trimmed).
    pub vendor: String,
    /// Product identification (spaces trimmed).
    pub product: String,
    /// Product revision level (spaces trimmed).
    pub revision: String,
    /// Unit serial number (VPD page 0x80), when the unit has one.
    pub serial: Option<String>,
    /// Device identification designators (VPD page 0x83), when the unit has them.
    pub designators: Vec<Designator>,
}

/// One designator of VPD page 0x83 (SPC-4 7.8.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Designator {
    /// The designator type (1: T10 vendor ID, 2: EUI-64, 3: NAA, 8: SCSI name string).
    pub kind: u8,
    /// The association (0: the logical unit, 1: the target port, 2: the target device).
    pub association: u8,
    /// The value: text for ASCII/UTF-8 code sets, else lower-case hex.
    pub value: String,
}

/// The designators in VPD page 0x83 data.
pub fn parse_designators(data: &[u8]) -> Vec<Designator> {
    let mut out = Vec::new();
    if data.len() < 4 || data[1] != 0x83 {
        return out;
    }
    let end = (4 + usize::from(u16::from_be_bytes([data[2], data[3]]))).min(data.len());
    let mut at = 4;
    while at + 4 <= end {
        let len = usize::from(data[at + 3]);
        let Some(raw) = data.get(at + 4..at + 4 + len) else {
            break;
        };
        let value = match data[at] & 0x0f {
            2 | 3 => String::from_utf8_lossy(raw)
                .trim_end_matches('\0')
                .trim()
                .to_string(),
            _ => raw.iter().map(|b| format!("{b:02x}")).collect(),
        };
        out.push(Designator {
            kind: data[at + 1] & 0x0f,
            association: (data[at + 1] >> 4) & 0x03,
            value,
        });
        at += 4 + len;
    }
    out
}

impl Inquiry {
    /// Parses standard INQUIRY data (SPC-4 6.6.2).
    pub fn parse(data: &[u8]) -> Option<Inquiry> {
        if data.len() < 36 {
            return None;
        }
        let field =
            |r: std::ops::Range<usize>| String::from_utf8_lossy(&data[r]).trim().to_string();
        Some(Inquiry {
            qualifier: data[0] >> 5,
            device_type: data[0] & 0x1f,
            removable: data[1] & 0x80 != 0,
            vendor: field(8..16),
            product: field(16..32),
            revision: field(32..36),
            serial: None,
            designators: Vec::new(),
        })
    }
}

/// The serial number in VPD page 0x80 data.
pub fn parse_serial(data: &[u8]) -> Option<String> {
    if data.len() < 4 || data[1] != 0x80 {
        return None;
    }
    let len = usize::from(u16::from_be_bytes([data[2], data[3]]));
    let s = data.get(4..4 + len).unwrap_or(&data[4..]);
    let s = String::from_utf8_lossy(s)
        .trim()
        .trim_end_matches('\0')
        .to_string();
    (!s.is_empty()).then_some(s)
}

/// A logical unit's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity {
    /// Bytes per logical block.
    pub block_size: u32,
    /// Number of logical blocks (last LBA + 1).
    pub blocks: u64,
}

impl Capacity {
    /// The capacity in bytes.
    pub fn bytes(&self) -> u64 {
        self.blocks * u64::from(self.block_size)
    }

    /// Parses READ CAPACITY(16) data.
    pub fn parse16(data: &[u8]) -> Option<Capacity> {
        let last = u64::from_be_bytes(data.get(0..8)?.try_into().ok()?);
        let block_size = u32::from_be_bytes(data.get(8..12)?.try_into().ok()?);
        Some(Capacity {
            block_size,
            blocks: last + 1,
        })
    }

    /// Parses READ CAPACITY(10) data.
    pub fn parse10(data: &[u8]) -> Option<Capacity> {
        let last = u32::from_be_bytes(data.get(0..4)?.try_into().ok()?);
        let block_size = u32::from_be_bytes(data.get(4..8)?.try_into().ok()?);
        Some(Capacity {
            block_size,
            blocks: u64::from(last) + 1,
        })
    }
}

/// The LUNs in REPORT LUNS data, and the full list length the target has.
pub fn parse_report_luns(data: &[u8]) -> (Vec<u64>, usize) {
    let Some(head) = data.get(0..4) else {
        return (Vec::new(), 0);
    };
    let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
    let end = (8 + len).min(data.len());
    let luns = data
        .get(8..end)
        .unwrap_or(&[])
        .chunks_exact(8)
        .map(super::pdu::decode_lun)
        .collect();
    (luns, len + 8)
}

/// Sense data: key, additional sense code and qualifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sense {
    /// The sense key (5: ILLEGAL REQUEST, 6: UNIT ATTENTION).
    pub key: u8,
    /// The additional sense code.
    pub asc: u8,
    /// The additional sense code qualifier.
    pub ascq: u8,
}

impl Sense {
    /// Parses fixed (0x70/0x71) or descriptor (0x72/0x73) format sense data.
    pub fn parse(data: &[u8]) -> Option<Sense> {
        match data.first()? & 0x7f {
            0x70 | 0x71 if data.len() >= 14 => Some(Sense {
                key: data[2] & 0x0f,
                asc: data[12],
                ascq: data[13],
            }),
            0x72 | 0x73 if data.len() >= 4 => Some(Sense {
                key: data[1] & 0x0f,
                asc: data[2],
                ascq: data[3],
            }),
            _ => None,
        }
    }

    /// The sense key's name.
    pub fn key_name(&self) -> &'static str {
        match self.key {
            0 => "NO SENSE",
            1 => "RECOVERED ERROR",
            2 => "NOT READY",
            3 => "MEDIUM ERROR",
            4 => "HARDWARE ERROR",
            5 => "ILLEGAL REQUEST",
            6 => "UNIT ATTENTION",
            7 => "DATA PROTECT",
            0x0b => "ABORTED COMMAND",
            _ => "SENSE",
        }
    }
}

impl std::fmt::Display for Sense {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} (ASC 0x{:02x}, ASCQ 0x{:02x})",
            self.key_name(),
            self.asc,
            self.ascq
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cdbs() {
        assert_eq!(inquiry(None, 96), vec![0x12, 0, 0, 0, 96, 0]);
        assert_eq!(inquiry(Some(0x80), 255), vec![0x12, 1, 0x80, 0, 255, 0]);
        let rc = read_capacity16(32);
        assert_eq!((rc[0], rc[1], rc[13]), (0x9e, 0x10, 32));
        let r = rw16(false, 0x0102, 8);
        assert_eq!(r[0], 0x88);
        assert_eq!(&r[2..10], &[0, 0, 0, 0, 0, 0, 1, 2]);
        assert_eq!(&r[10..14], &[0, 0, 0, 8]);
        assert_eq!(report_luns(4096)[6..10], [0, 0, 0x10, 0]);
    }

    #[test]
    fn answers() {
        let mut std = vec![0u8; 36];
        std[0] = 0x00;
        std[8..16].copy_from_slice(b"IET     ");
        std[16..32].copy_from_slice(b"VIRTUAL-DISK    ");
        std[32..36].copy_from_slice(b"0001");
        let inq = Inquiry::parse(&std).expect("parses");
        assert_eq!(
            (inq.vendor.as_str(), inq.product.as_str()),
            ("IET", "VIRTUAL-DISK")
        );
        assert!(Inquiry::parse(&std[..20]).is_none());
        assert_eq!(
            parse_serial(&[0, 0x80, 0, 5, b'b', b'e', b'a', b'f', b'1']),
            Some("beaf1".into())
        );
        // 64 MiB of 512-byte blocks: last LBA 131071.
        let mut rc16 = vec![0u8; 32];
        rc16[4..8].copy_from_slice(&131_071u32.to_be_bytes());
        rc16[8..12].copy_from_slice(&512u32.to_be_bytes());
        let cap = Capacity::parse16(&rc16).expect("parses");
        assert_eq!(cap.bytes(), 64 << 20);
        let cap = Capacity::parse10(&[0, 1, 0xff, 0xff, 0, 0, 2, 0]).expect("parses");
        assert_eq!(cap.blocks, 0x20000);
        let mut rl = vec![0, 0, 0, 16, 0, 0, 0, 0];
        rl.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(parse_report_luns(&rl), (vec![0, 1], 24));
        let sense = Sense::parse(&[0x70, 0, 0x05, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x24, 0]).expect("s");
        assert_eq!(sense.to_string(), "ILLEGAL REQUEST (ASC 0x24, ASCQ 0x00)");
        assert_eq!(
            Sense::parse(&[0x72, 0x06, 0x29, 0x00]).map(|s| s.key),
            Some(6)
        );
        // An NAA designator (binary) and a T10 vendor ID (ASCII) of the logical unit.
        let vpd = [
            0, 0x83, 0, 20, 0x01, 0x03, 0, 8, 0x60, 0, 0, 0, 0, 0, 0, 1, 0x02, 0x01, 0, 4, b'I',
            b'E', b'T', b' ',
        ];
        let d = parse_designators(&vpd);
        assert_eq!(d.len(), 2);
        assert_eq!((d[0].kind, d[0].value.as_str()), (3, "6000000000000001"));
        assert_eq!((d[1].kind, d[1].value.as_str()), (1, "IET"));
    }
}
