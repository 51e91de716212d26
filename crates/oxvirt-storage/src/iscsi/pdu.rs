//! iSCSI PDUs (RFC 7143 section 11): the 48-byte Basic Header Segment, the Additional
//! Header Segments and the data segment padded to 4 bytes. oxvirt negotiates
//! `HeaderDigest=None` and `DataDigest=None`, so no digests are ever on the wire.

use std::io::{Read, Write};

/// Length of the Basic Header Segment.
pub const BHS_LEN: usize = 48;

/// The "immediate delivery" bit of byte 0 of an initiator PDU.
pub const IMMEDIATE: u8 = 0x40;

/// The reserved Target Transfer Tag / Initiator Task Tag value.
pub const RESERVED_TAG: u32 = 0xffff_ffff;

/// Opcodes (byte 0, low 6 bits).
pub mod opcode {
    /// NOP-Out.
    pub const NOP_OUT: u8 = 0x00;
    /// SCSI Command.
    pub const SCSI_COMMAND: u8 = 0x01;
    /// Login Request.
    pub const LOGIN_REQUEST: u8 = 0x03;
    /// Text Request.
    pub const TEXT_REQUEST: u8 = 0x04;
    /// SCSI Data-Out.
    pub const DATA_OUT: u8 = 0x05;
    /// Logout Request.
    pub const LOGOUT_REQUEST: u8 = 0x06;
    /// NOP-In.
    pub const NOP_IN: u8 = 0x20;
    /// SCSI Response.
    pub const SCSI_RESPONSE: u8 = 0x21;
    /// Login Response.
    pub const LOGIN_RESPONSE: u8 = 0x23;
    /// Text Response.
    pub const TEXT_RESPONSE: u8 = 0x24;
    /// SCSI Data-In.
    pub const DATA_IN: u8 = 0x25;
    /// Logout Response.
    pub const LOGOUT_RESPONSE: u8 = 0x26;
    /// Ready To Transfer.
    pub const R2T: u8 = 0x31;
    /// Asynchronous Message.
    pub const ASYNC_MESSAGE: u8 = 0x32;
    /// Reject.
    pub const REJECT: u8 = 0x3f;
}

/// One PDU: its Basic Header Segment, Additional Header Segments and data segment
/// (without padding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pdu {
    /// The Basic Header Segment. Bytes 4..8 (lengths) are filled in by [`Pdu::encode`].
    pub bhs: [u8; BHS_LEN],
    /// The Additional Header Segments (a multiple of 4 bytes).
    pub ahs: Vec<u8>,
    /// The data segment.
    pub data: Vec<u8>,
}

impl Pdu {
    /// A PDU with `opcode` (with [`IMMEDIATE`] or'ed in when wanted) and `flags` (byte 1).
    pub fn new(opcode: u8, flags: u8) -> Pdu {
        let mut bhs = [0u8; BHS_LEN];
        bhs[0] = opcode;
        bhs[1] = flags;
        Pdu {
            bhs,
            ahs: Vec::new(),
            data: Vec::new(),
        }
    }

    /// The opcode (without the immediate bit).
    pub fn opcode(&self) -> u8 {
        self.bhs[0] & 0x3f
    }

    /// Byte 1 (the F bit and the opcode-specific flags).
    pub fn flags(&self) -> u8 {
        self.bhs[1]
    }

    /// The big-endian u32 at `offset` of the BHS.
    pub fn u32_at(&self, offset: usize) -> u32 {
        u32::from_be_bytes([
            self.bhs[offset],
            self.bhs[offset + 1],
            self.bhs[offset + 2],
            self.bhs[offset + 3],
        ])
    }

    /// Sets the big-endian u32 at `offset` of the BHS.
    pub fn set_u32(&mut self, offset: usize, value: u32) {
        self.bhs[offset..offset + 4].copy_from_slice(&value.to_be_bytes());
    }

    /// The 8 bytes at 8..16 (LUN, or ISID and TSIH in login PDUs).
    pub fn set_lun_field(&mut self, field: [u8; 8]) {
        self.bhs[8..16].copy_from_slice(&field);
    }

    /// The Initiator Task Tag (bytes 16..20).
    pub fn itt(&self) -> u32 {
        self.u32_at(16)
    }

    /// The DataSegmentLength the BHS declares (bytes 5..8).
    pub fn declared_data_len(&self) -> usize {
        (usize::from(self.bhs[5]) << 16)
            | (usize::from(self.bhs[6]) << 8)
            | usize::from(self.bhs[7])
    }

    /// The PDU on the wire: lengths filled in, AHS and data segment padded to 4 bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut bhs = self.bhs;
        // TotalAHSLength counts 4-byte words.
        bhs[4] = (self.ahs.len().div_ceil(4)) as u8;
        let len = self.data.len();
        bhs[5] = (len >> 16) as u8;
        bhs[6] = (len >> 8) as u8;
        bhs[7] = len as u8;
        let mut out = Vec::with_capacity(BHS_LEN + self.ahs.len() + padded(len));
        out.extend_from_slice(&bhs);
        out.extend_from_slice(&self.ahs);
        out.resize(BHS_LEN + padded(self.ahs.len()), 0);
        out.extend_from_slice(&self.data);
        out.resize(out.len() + padded(len) - len, 0);
        out
    }

    /// Decodes one complete PDU from `bytes` (as [`Pdu::encode`] makes them); `None` when
    /// `bytes` is shorter than the lengths its BHS declares.
    pub fn decode(bytes: &[u8]) -> Option<(Pdu, usize)> {
        let bhs: [u8; BHS_LEN] = bytes.get(..BHS_LEN)?.try_into().ok()?;
        let ahs_len = usize::from(bhs[4]) * 4;
        let mut pdu = Pdu {
            bhs,
            ahs: Vec::new(),
            data: Vec::new(),
        };
        let data_len = pdu.declared_data_len();
        let total = BHS_LEN + ahs_len + padded(data_len);
        let rest = bytes.get(BHS_LEN..total)?;
        pdu.ahs = rest[..ahs_len].to_vec();
        pdu.data = rest[ahs_len..ahs_len + data_len].to_vec();
        Some((pdu, total))
    }

    /// Reads one PDU from `reader`.
    pub fn read_from(reader: &mut impl Read) -> std::io::Result<Pdu> {
        let mut bhs = [0u8; BHS_LEN];
        reader.read_exact(&mut bhs)?;
        let ahs_len = usize::from(bhs[4]) * 4;
        let mut pdu = Pdu {
            bhs,
            ahs: vec![0; ahs_len],
            data: Vec::new(),
        };
        reader.read_exact(&mut pdu.ahs)?;
        let data_len = pdu.declared_data_len();
        let mut data = vec![0; padded(data_len)];
        reader.read_exact(&mut data)?;
        data.truncate(data_len);
        pdu.data = data;
        Ok(pdu)
    }

    /// Writes the PDU to `writer`.
    pub fn write_to(&self, writer: &mut impl Write) -> std::io::Result<()> {
        writer.write_all(&self.encode())?;
        writer.flush()
    }
}

/// `len` rounded up to a multiple of 4.
pub fn padded(len: usize) -> usize {
    len.div_ceil(4) * 4
}

/// The 8-byte LUN field for `lun` (SAM: peripheral device addressing below 256, flat
/// space addressing below 16384), as libiscsi and tgt use them.
pub fn encode_lun(lun: u64) -> [u8; 8] {
    let mut field = [0u8; 8];
    if lun < 256 {
        field[1] = lun as u8;
    } else {
        field[0] = 0x40 | ((lun >> 8) as u8 & 0x3f);
        field[1] = lun as u8;
    }
    field
}

/// The LUN number in an 8-byte LUN field (a REPORT LUNS entry): peripheral and flat
/// space addressing give the number; other methods give the first level as a 16-bit value.
pub fn decode_lun(field: &[u8]) -> u64 {
    let (b0, b1) = (
        field.first().copied().unwrap_or(0),
        field.get(1).copied().unwrap_or(0),
    );
    match b0 >> 6 {
        0 | 1 => (u64::from(b0 & 0x3f) << 8) | u64::from(b1),
        _ => (u64::from(b0) << 8) | u64::from(b1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_request_layout() {
        // RFC 7143 11.12: byte 0 = 0x43 (I + opcode 0x03), byte 1 = T|CSG=1|NSG=3,
        // DataSegmentLength in bytes 5..8, ISID+TSIH at 8..16, ITT at 16, CID at 20,
        // CmdSN at 24, ExpStatSN at 28.
        let mut pdu = Pdu::new(opcode::LOGIN_REQUEST | IMMEDIATE, 0x80 | (1 << 2) | 3);
        pdu.set_lun_field([0x80, 1, 2, 3, 4, 5, 0, 0]);
        pdu.set_u32(16, 0x1122_3344);
        pdu.set_u32(24, 7);
        pdu.set_u32(28, 9);
        pdu.data = b"HeaderDigest=None\0".to_vec(); // 18 bytes, padded to 20
        let bytes = pdu.encode();
        assert_eq!(bytes.len(), 48 + 20);
        assert_eq!(&bytes[0..8], &[0x43, 0x87, 0, 0, 0, 0, 0, 18]);
        assert_eq!(&bytes[8..16], &[0x80, 1, 2, 3, 4, 5, 0, 0]);
        assert_eq!(&bytes[16..20], &[0x11, 0x22, 0x33, 0x44]);
        assert_eq!(&bytes[24..32], &[0, 0, 0, 7, 0, 0, 0, 9]);
        assert_eq!(&bytes[48 + 18..], &[0, 0]);
        let (back, used) = Pdu::decode(&bytes).expect("decodes");
        assert_eq!(used, bytes.len());
        assert_eq!(back.opcode(), opcode::LOGIN_REQUEST);
        assert_eq!(back.data, pdu.data);
        assert_eq!(back.itt(), 0x1122_3344);
        // Truncated input does not decode.
        assert!(Pdu::decode(&bytes[..60]).is_none());
    }

    #[test]
    fn ahs_and_read_from() {
        let mut pdu = Pdu::new(opcode::SCSI_COMMAND, 0xc1);
        pdu.ahs = vec![0, 5, 0x02, 0, 1, 2, 3, 4];
        pdu.data = vec![9; 5];
        let bytes = pdu.encode();
        assert_eq!(bytes[4], 2);
        assert_eq!(bytes.len(), 48 + 8 + 8);
        let back = Pdu::read_from(&mut &bytes[..]).expect("reads");
        assert_eq!(back.ahs, pdu.ahs);
        assert_eq!(back.data, pdu.data);
    }

    #[test]
    fn data_in_fields() {
        // A SCSI Data-In (11.7) with F and S set, status GOOD, DataSN 2, offset 8192.
        let mut raw = [0u8; 48];
        raw[0] = 0x25;
        raw[1] = 0x81;
        raw[7] = 4;
        raw[36..40].copy_from_slice(&2u32.to_be_bytes());
        raw[40..44].copy_from_slice(&8192u32.to_be_bytes());
        let mut bytes = raw.to_vec();
        bytes.extend_from_slice(&[1, 2, 3, 4]);
        let (pdu, _) = Pdu::decode(&bytes).expect("decodes");
        assert_eq!(pdu.opcode(), opcode::DATA_IN);
        assert_eq!(pdu.flags() & 0x01, 1);
        assert_eq!(pdu.u32_at(36), 2);
        assert_eq!(pdu.u32_at(40), 8192);
        assert_eq!(pdu.data, vec![1, 2, 3, 4]);
    }

    #[test]
    fn luns() {
        assert_eq!(encode_lun(2), [0, 2, 0, 0, 0, 0, 0, 0]);
        assert_eq!(encode_lun(300), [0x41, 0x2c, 0, 0, 0, 0, 0, 0]);
        assert_eq!(decode_lun(&encode_lun(2)), 2);
        assert_eq!(decode_lun(&encode_lun(300)), 300);
    }
}
