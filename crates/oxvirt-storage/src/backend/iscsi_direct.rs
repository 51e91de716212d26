//! The `iscsi-direct` pool type: a target's LUNs through oxvirt's userspace initiator
//! ([`crate::iscsi::Session`]), as libvirt's `storage_backend_iscsi_direct.c` does with
//! libiscsi.
//!
//! The pool's source gives one `<host name port>` (port 3260 by default), the target
//! (`<device path='IQN'>`) and the initiator name (`<initiator><iqn name>`), and
//! optionally `<auth type='chap'>`. Every call logs in, does its work and logs out: the
//! backend keeps no session. A refresh lists one volume per LUN of REPORT LUNS, named as
//! libvirt names them (`unit:0:0:LUN`), with key and path `ip-HOST:PORT-iscsi-IQN-lun-LUN`,
//! type `network`, and capacity = allocation = the LUN's size (0 for LUNs that are not
//! direct-access block devices, as libvirt). Volumes cannot be created, deleted or
//! resized (libvirt's errors); they can be wiped (WRITE(16) of zeroes), and their content
//! read and written with READ/WRITE(16) at any byte offset.

use std::io::{Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};

use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use super::device::{storage_error, write_zeroes};
use super::iscsi::{chap_password, SecretLookup};
use super::{Backend, Refreshed, Result, Segment, VolumeRead, VolumeWrite};
use crate::iscsi::{Chap, Session};
use crate::model::{
    Pool, PoolSource, PoolSourceDevice, PoolType, Volume, VolumeTarget, VolumeType,
};

/// The iSCSI port used when the pool gives none.
pub const DEFAULT_PORT: i32 = 3260;
/// The prefix of every volume name (libvirt's `VOL_NAME_PREFIX`).
pub const VOL_NAME_PREFIX: &str = "unit:0:0:";
/// How many bytes one READ or WRITE moves at most.
const CHUNK: u64 = 1 << 20;

/// The `iscsi-direct` backend.
pub struct IscsiDirectBackend {
    secrets: Option<SecretLookup>,
}

impl std::fmt::Debug for IscsiDirectBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IscsiDirectBackend")
            .field("secrets", &self.secrets.is_some())
            .finish()
    }
}

impl Default for IscsiDirectBackend {
    fn default() -> Self {
        Self::new()
    }
}

/// libvirt's portal text for a pool source's single host: `HOST:PORT`, `[HOST]:PORT` for
/// an IPv6 address, port 3260 when unset.
pub fn portal_text(source: &PoolSource) -> Result<String> {
    let [host] = source.hosts.as_slice() else {
        return Err(storage_error(
            ErrorCode::ConfigUnsupported,
            "Expected exactly 1 host for the storage pool",
        ));
    };
    let port = if host.port == 0 {
        DEFAULT_PORT
    } else {
        host.port
    };
    Ok(if host.port != 0 && host.name.contains(':') {
        format!("[{}]:{port}", host.name)
    } else {
        format!("{}:{port}", host.name)
    })
}

fn socket_addr(source: &PoolSource) -> Result<SocketAddr> {
    let host = &source.hosts[0];
    let port = if host.port == 0 {
        DEFAULT_PORT
    } else {
        host.port
    };
    let name = host.name.trim_start_matches('[').trim_end_matches(']');
    (name, port as u16)
        .to_socket_addrs()
        .map_err(|e| {
            storage_error(
                ErrorCode::InternalError,
                format!("Failed to connect: host lookup of '{name}' failed: {e}"),
            )
        })?
        .next()
        .ok_or_else(|| {
            storage_error(
                ErrorCode::InternalError,
                format!("Failed to connect: no address for '{name}'"),
            )
        })
}

fn initiator(source: &PoolSource) -> Result<&str> {
    source
        .initiator_iqn
        .as_deref()
        .ok_or_else(|| storage_error(ErrorCode::ConfigUnsupported, "missing initiator IQN"))
}

fn target(pool: &Pool) -> Result<&str> {
    match pool.source.devices.first() {
        Some(d) if !d.path.is_empty() => Ok(&d.path),
        _ => Err(storage_error(
            ErrorCode::InternalError,
            "missing source device",
        )),
    }
}

/// The LUN of a volume named `unit:0:0:LUN`.
pub fn lun_of(vol: &Volume) -> Result<u64> {
    vol.name
        .strip_prefix(VOL_NAME_PREFIX)
        .and_then(|n| n.parse::<i32>().ok())
        .and_then(|n| u64::try_from(n).ok())
        .ok_or_else(|| {
            storage_error(
                ErrorCode::InternalError,
                format!("Invalid volume name {}", vol.name),
            )
        })
}

/// The volume libvirt lists for `lun` of the pool's target at `portal`.
pub fn lun_volume(portal: &str, iqn: &str, lun: u64, capacity: u64) -> Volume {
    let path = format!("ip-{portal}-iscsi-{iqn}-lun-{lun}");
    Volume {
        pool_type: PoolType::IscsiDirect,
        vol_type: VolumeType::Network,
        name: format!("{VOL_NAME_PREFIX}{lun}"),
        key: Some(path.clone()),
        extents: Vec::new(),
        capacity,
        allocation: capacity,
        has_allocation: true,
        physical: 0,
        target: VolumeTarget {
            path: Some(path),
            ..VolumeTarget::default()
        },
        backing_store: None,
    }
}

fn io_err(e: VirError) -> std::io::Error {
    std::io::Error::other(e.message)
}

impl IscsiDirectBackend {
    /// The backend, without a secret store: pools with CHAP fail with libvirt's
    /// "no secret" error.
    pub fn new() -> Self {
        IscsiDirectBackend { secrets: None }
    }

    /// The backend, reading CHAP secrets through `secrets` (the secret driver).
    pub fn with_secrets(secrets: SecretLookup) -> Self {
        IscsiDirectBackend {
            secrets: Some(secrets),
        }
    }

    /// Logs in to the pool's target (with CHAP when the pool has `<auth type='chap'>`).
    pub fn login(&self, pool: &Pool) -> Result<Session> {
        let source = &pool.source;
        let initiator = initiator(source)?;
        portal_text(source)?;
        let target = target(pool)?;
        let chap = match &source.auth {
            None => None,
            Some(a) if a.auth_type == "none" => None,
            Some(a) if a.auth_type == "chap" => Some(Chap {
                username: a.username.clone(),
                password: chap_password(self.secrets.as_ref(), &a.secret)?,
            }),
            Some(_) => {
                return Err(storage_error(
                    ErrorCode::XmlError,
                    "iscsi-direct pool only supports 'chap' auth type",
                ))
            }
        };
        let addr = socket_addr(source)?;
        match chap {
            None => Session::login(addr, initiator, target),
            Some(chap) => Session::login_chap(addr, initiator, target, &chap),
        }
    }

    /// TEST UNIT READY, tried again while the target reports a unit attention (as
    /// libvirt does after a bus reset).
    fn unit_ready(session: &mut Session, lun: u64) -> Result<()> {
        let mut tries = 0;
        loop {
            match session.test_unit_ready(lun) {
                Ok(()) => return Ok(()),
                Err(e) if tries < 5 && e.message.contains("UNIT ATTENTION") => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(e) => {
                    return Err(storage_error(
                        ErrorCode::InternalError,
                        format!("Failed testunitready: {}", e.message),
                    ))
                }
            }
        }
    }

    /// The LUN's size: READ CAPACITY(16) for direct-access devices, 0 for others.
    fn lun_capacity(session: &mut Session, lun: u64) -> Result<(u32, u64)> {
        let inq = session.inquiry(lun)?;
        if inq.device_type != 0 {
            return Ok((0, 0));
        }
        let cap = session.read_capacity(lun)?;
        Ok((cap.block_size, cap.bytes()))
    }

    fn open_lun(&self, pool: &Pool, vol: &Volume) -> Result<(Session, u64, u64, u64)> {
        let lun = lun_of(vol)?;
        let mut session = self.login(pool)?;
        Self::unit_ready(&mut session, lun)?;
        let (bs, size) = Self::lun_capacity(&mut session, lun)?;
        if bs == 0 {
            return Err(storage_error(
                ErrorCode::OperationUnsupported,
                format!("volume '{}' is not a block device", vol.name),
            ));
        }
        Ok((session, lun, u64::from(bs), size))
    }
}

impl Backend for IscsiDirectBackend {
    fn pool_type(&self) -> &'static str {
        "iscsi-direct"
    }

    /// The pool is usable when a login to its target succeeds.
    fn check(&self, pool: &Pool) -> Result<bool> {
        Ok(self.login(pool).and_then(Session::logout).is_ok())
    }

    /// libvirt's iscsi-direct pools have nothing to build.
    fn build(&self, _pool: &Pool, _flags: u32) -> Result<()> {
        Ok(())
    }

    /// Logs in and out: the target is reachable and takes the pool's credentials.
    fn start(&self, pool: &Pool) -> Result<()> {
        self.login(pool)?.logout()
    }

    fn refresh(&self, pool: &Pool) -> Result<Refreshed> {
        let portal = portal_text(&pool.source)?;
        let iqn = target(pool)?.to_string();
        let mut session = self.login(pool)?;
        let luns = session.report_luns().map_err(|e| {
            storage_error(
                ErrorCode::InternalError,
                format!("Failed to reportluns: {}", e.message),
            )
        })?;
        let mut out = Refreshed::default();
        for lun in luns {
            Self::unit_ready(&mut session, lun)?;
            let (_, capacity) = Self::lun_capacity(&mut session, lun)?;
            out.capacity += capacity;
            out.allocation += capacity;
            out.volumes.push(lun_volume(&portal, &iqn, lun, capacity));
        }
        session.logout()?;
        Ok(out)
    }

    fn stop(&self, _pool: &Pool) -> Result<()> {
        Ok(())
    }

    /// SendTargets discovery at the spec's host, as the spec's initiator: one source per
    /// target, with the host, the initiator and the target as `<device path>`.
    fn find_sources(&self, spec: Option<&PoolSource>, flags: u32) -> Result<Vec<PoolSource>> {
        VirError::check_flags(
            ErrorDomain::Storage,
            flags,
            0,
            "virStorageBackendISCSIDirectFindPoolSources",
        )?;
        let Some(spec) = spec else {
            return Err(storage_error(
                ErrorCode::InvalidArg,
                "hostname must be specified for iscsi sources",
            ));
        };
        portal_text(spec)?;
        let initiator = initiator(spec)?;
        let addr = socket_addr(spec)?;
        let targets = Session::discover(addr, initiator)?;
        Ok(targets
            .into_iter()
            .map(|t| PoolSource {
                hosts: vec![spec.hosts[0].clone()],
                devices: vec![PoolSourceDevice {
                    path: t.name,
                    part_separator: None,
                    free_extents: Vec::new(),
                }],
                initiator_iqn: Some(initiator.to_string()),
                ..PoolSource::default()
            })
            .collect())
    }

    /// Writes zeroes over the whole LUN (libvirt's only algorithm for these pools).
    fn wipe_volume(&self, pool: &Pool, vol: &Volume, algorithm: u32, flags: u32) -> Result<()> {
        VirError::check_flags(
            ErrorDomain::Storage,
            flags,
            0,
            "virStorageBackenISCSIDirectWipeVol",
        )?;
        if algorithm != 0 {
            return Err(storage_error(
                ErrorCode::InvalidArg,
                format!("unsupported algorithm {algorithm}"),
            ));
        }
        let (mut session, lun, bs, size) = self.open_lun(pool, vol)?;
        let blocks_per_write = (CHUNK / bs).max(1);
        let zeros = vec![0u8; (blocks_per_write * bs) as usize];
        let total = size / bs;
        let mut lba = 0;
        while lba < total {
            let n = (total - lba).min(blocks_per_write);
            session
                .write(lun, lba, &zeros[..(n * bs) as usize])
                .map_err(|e| {
                    storage_error(
                        ErrorCode::InternalError,
                        format!("failed to write to LUN {lun}: {}", e.message),
                    )
                })?;
            lba += n;
        }
        session.logout()
    }

    fn open_read(
        &self,
        pool: &Pool,
        vol: &Volume,
        offset: u64,
        length: u64,
    ) -> Result<Box<dyn VolumeRead>> {
        let (session, lun, bs, size) = self.open_lun(pool, vol)?;
        let rest = size.saturating_sub(offset);
        let end = offset + if length == 0 { rest } else { length.min(rest) };
        Ok(Box::new(LunReader {
            session,
            lun,
            bs,
            pos: offset,
            end,
            buf: Vec::new(),
            at: 0,
        }))
    }

    fn open_write(
        &self,
        pool: &Pool,
        vol: &Volume,
        offset: u64,
        length: u64,
    ) -> Result<Box<dyn VolumeWrite>> {
        let (mut session, lun, bs, size) = self.open_lun(pool, vol)?;
        if offset > size {
            return Err(storage_error(
                ErrorCode::InvalidArg,
                format!("offset {offset} is past the end of volume '{}'", vol.name),
            ));
        }
        let rest = size - offset;
        let end = offset + if length == 0 { rest } else { length.min(rest) };
        let head = offset % bs;
        let start = offset - head;
        let buf = if head == 0 {
            Vec::new()
        } else {
            let mut block = session.read(lun, start / bs, 1)?;
            block.truncate(head as usize);
            block
        };
        Ok(Box::new(LunWriter {
            session,
            lun,
            bs,
            start,
            end,
            buf,
        }))
    }
}

/// A LUN read through READ(16): whole blocks are read, the bytes asked for are kept.
struct LunReader {
    session: Session,
    lun: u64,
    bs: u64,
    /// The next byte not yet read from the target.
    pos: u64,
    end: u64,
    buf: Vec<u8>,
    at: usize,
}

impl LunReader {
    fn fill(&mut self) -> Result<()> {
        let want = (self.end - self.pos).min(CHUNK);
        let skip = self.pos % self.bs;
        let blocks = (skip + want).div_ceil(self.bs);
        let data = self
            .session
            .read(self.lun, self.pos / self.bs, blocks as u32)?;
        self.buf = data[skip as usize..(skip + want) as usize].to_vec();
        self.at = 0;
        self.pos += want;
        Ok(())
    }
}

impl Read for LunReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.at == self.buf.len() {
            if self.pos >= self.end || out.is_empty() {
                return Ok(0);
            }
            self.fill().map_err(io_err)?;
        }
        let n = out.len().min(self.buf.len() - self.at);
        out[..n].copy_from_slice(&self.buf[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

impl VolumeRead for LunReader {
    fn segments(&mut self) -> Result<Vec<Segment>> {
        let left = (self.buf.len() - self.at) as u64 + (self.end - self.pos);
        Ok(if left == 0 {
            Vec::new()
        } else {
            vec![Segment::Data(left)]
        })
    }

    fn skip(&mut self, len: u64) -> Result<()> {
        let buffered = (self.buf.len() - self.at) as u64;
        let from_buf = len.min(buffered);
        self.at += from_buf as usize;
        self.pos = (self.pos + (len - from_buf)).min(self.end);
        Ok(())
    }
}

/// A LUN written through WRITE(16): bytes are gathered into whole blocks; a partial first
/// or last block is read, patched and written back.
struct LunWriter {
    session: Session,
    lun: u64,
    bs: u64,
    /// The offset of `buf[0]`, on a block boundary.
    start: u64,
    /// The byte past the last one that may be written.
    end: u64,
    buf: Vec<u8>,
}

impl LunWriter {
    /// Writes the whole blocks gathered so far.
    fn write_blocks(&mut self) -> Result<()> {
        let whole = (self.buf.len() as u64 / self.bs) * self.bs;
        if whole == 0 {
            return Ok(());
        }
        self.session
            .write(self.lun, self.start / self.bs, &self.buf[..whole as usize])?;
        self.buf.drain(..whole as usize);
        self.start += whole;
        Ok(())
    }
}

impl Write for LunWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if data.is_empty() {
            return Ok(0);
        }
        let at = self.start + self.buf.len() as u64;
        if at >= self.end {
            return Err(std::io::Error::new(
                std::io::ErrorKind::WriteZero,
                "write past the end of the volume",
            ));
        }
        let n = (data.len() as u64).min(self.end - at) as usize;
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() as u64 >= CHUNK {
            self.write_blocks().map_err(io_err)?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.write_blocks().map_err(io_err)
    }
}

impl VolumeWrite for LunWriter {
    fn hole(&mut self, len: u64) -> Result<()> {
        write_zeroes(self, len)
            .map_err(|e| storage_error(ErrorCode::InternalError, format!("cannot write: {e}")))
    }

    fn finish(&mut self) -> Result<()> {
        self.write_blocks()?;
        if !self.buf.is_empty() {
            let lba = self.start / self.bs;
            let mut block = self.session.read(self.lun, lba, 1)?;
            block[..self.buf.len()].copy_from_slice(&self.buf);
            self.session.write(self.lun, lba, &block)?;
            self.start += self.buf.len() as u64;
            self.buf.clear();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::PoolSourceHost;

    fn source(name: &str, port: i32) -> PoolSource {
        PoolSource {
            hosts: vec![PoolSourceHost {
                name: name.into(),
                port,
            }],
            ..PoolSource::default()
        }
    }

    #[test]
    fn portal_and_names_as_libvirt() {
        assert_eq!(
            portal_text(&source("10.0.0.1", 0)).unwrap(),
            "10.0.0.1:3260"
        );
        assert_eq!(portal_text(&source("host", 3261)).unwrap(), "host:3261");
        assert_eq!(
            portal_text(&source("fe80::1", 3260)).unwrap(),
            "[fe80::1]:3260"
        );
        let err = portal_text(&PoolSource::default()).unwrap_err();
        assert_eq!(err.code, ErrorCode::ConfigUnsupported);
        assert_eq!(
            err.message,
            "unsupported configuration: Expected exactly 1 host for the storage pool"
        );

        let v = lun_volume("10.0.0.1:3260", "iqn.2024-01.org.x:t", 2, 4096);
        assert_eq!(v.name, "unit:0:0:2");
        assert_eq!(
            v.key.as_deref(),
            Some("ip-10.0.0.1:3260-iscsi-iqn.2024-01.org.x:t-lun-2")
        );
        assert_eq!(v.target.path, v.key);
        assert_eq!((v.capacity, v.allocation), (4096, 4096));
        assert_eq!(v.vol_type, VolumeType::Network);
        assert_eq!(lun_of(&v).unwrap(), 2);
        let bad = Volume {
            name: "sda".into(),
            ..v
        };
        assert_eq!(
            lun_of(&bad).unwrap_err().message,
            "internal error: Invalid volume name sda"
        );
    }

    #[test]
    fn unreachable_target_is_inactive() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let pool = Pool::parse(&format!(
            "<pool type='iscsi-direct'><name>p</name><source><host name='127.0.0.1' port='{port}'/>\
             <device path='iqn.2024-01.org.x:t'/><initiator><iqn name='iqn.2024-01.org.x:i'/>\
             </initiator></source></pool>"
        ))
        .unwrap();
        let b = IscsiDirectBackend::new();
        assert!(!b.check(&pool).unwrap());
        let e = b.start(&pool).unwrap_err();
        assert!(
            e.message.contains(&format!("127.0.0.1:{port}")),
            "{}",
            e.message
        );
        assert!(b.refresh(&pool).is_err());
        assert!(b.find_sources(Some(&pool.source), 0).is_err());
    }

    #[test]
    fn unsupported_operations_say_so() {
        let b = IscsiDirectBackend::new();
        let pool = Pool::parse(
            "<pool type='iscsi-direct'><name>p</name><source><host name='127.0.0.1'/>\
             <device path='iqn.2024-01.org.x:t'/><initiator><iqn name='iqn.2024-01.org.x:i'/>\
             </initiator></source></pool>",
        )
        .unwrap();
        let vol = lun_volume("127.0.0.1:3260", "iqn.2024-01.org.x:t", 1, 0);
        let e = b.create_volume(&pool, &vol, 0).unwrap_err();
        assert_eq!(e.code, ErrorCode::NoSupport);
        assert!(e
            .message
            .ends_with(": storage pool does not support volume creation"));
        let e = b.delete_volume(&pool, &vol, 0).unwrap_err();
        assert!(e
            .message
            .ends_with("storage pool does not support vol deletion"));
        let e = b.resize_volume(&pool, &vol, 1, 0).unwrap_err();
        assert!(e
            .message
            .ends_with("does not support changing of volume capacity"));
        let e = b.create_volume_from(&pool, &vol, &vol, 0).unwrap_err();
        assert!(e.message.ends_with("from an existing volume"));
        let e = b.delete(&pool, 0).unwrap_err();
        assert!(e.message.ends_with("pool does not support pool deletion"));
        let e = b.find_sources(None, 0).unwrap_err();
        assert_eq!(
            e.message,
            "invalid argument: hostname must be specified for iscsi sources"
        );
        let e = b
            .find_sources(Some(&source("127.0.0.1", 0)), 0)
            .unwrap_err();
        assert_eq!(
            e.message,
            "unsupported configuration: missing initiator IQN"
        );
        let e = b.wipe_volume(&pool, &vol, 2, 0).unwrap_err();
        assert_eq!(e.message, "invalid argument: unsupported algorithm 2");
    }
}
