//! A userspace iSCSI initiator (RFC 7143), enough for libvirt's `iscsi-direct` pools.
//!
//! libvirt's iscsi-direct backend uses libiscsi: it discovers targets with a discovery
//! session (`SendTargets=All`), logs in to the pool's target, lists LUNs with REPORT
//! LUNS, and sizes each with READ CAPACITY. oxvirt does the same over a blocking
//! `std::net::TcpStream` (run it on a blocking thread from async code):
//!
//! - [`pdu`]: PDU encoding and decoding (48-byte BHS, AHS, padded data segment; no
//!   digests).
//! - [`text`]: `key=value` text and SendTargets answers.
//! - [`md5`]: MD5 and the CHAP response.
//! - [`scsi`]: the CDBs and the parsing of their answers and of sense data.
//! - [`Session`]: login (AuthMethod=None or CHAP with MD5, operational negotiation),
//!   discovery, SCSI commands (TEST UNIT READY, REPORT LUNS, INQUIRY, READ CAPACITY, READ/WRITE(16)),
//!   logout.

pub mod md5;
pub mod pdu;
pub mod scsi;
pub mod session;
pub mod text;

pub use scsi::{Capacity, Designator, Inquiry, Sense};
pub use session::{Chap, Negotiated, Session};
pub use text::{TargetInfo, TargetPortal};
