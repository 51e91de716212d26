//! Save, restore and managed save: the domain's memory written to a file by QEMU's
//! migration to a file descriptor the driver passes over the monitor, behind a header and
//! the domain XML in libvirt's save-image layout (so the image says what to restore).
//!
//! # Image layout (native endianness, as libvirt's `virQEMUSaveHeader`)
//!
//! - 16 bytes magic: `LibvirtQemudPart` while being written, `LibvirtQemudSave` once
//!   complete (an interrupted save never restores);
//! - `u32` version (2), `u32` length of the XML area, `u32` whether the domain was
//!   running, `u32` compression (0), `u32` cookie offset (0), 15 unused `u32`;
//! - the XML area: the domain XML, a NUL, and padding for a longer XML later
//!   (`virDomainSaveImageDefineXML`);
//! - QEMU's migration stream.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use oxvirt_domain::driver::event::StartedDetail;
use oxvirt_domain::driver::flags::{save, xml};
use oxvirt_domain::driver::state::{PausedReason, RunningReason};
use oxvirt_domain::driver::{DomainRef, DomainState};
use oxvirt_domain::format::format_domain;
use oxvirt_domain::objects::domains::add_flags;
use oxvirt_domain::Domain;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use super::start::StartFrom;
use super::vm::Stopping;
use super::{check_flags, invalid, QemuDriver};

type Result<T> = std::result::Result<T, VirError>;

const MAGIC_DONE: &[u8; 16] = b"LibvirtQemudSave";
const MAGIC_PARTIAL: &[u8; 16] = b"LibvirtQemudPart";
const VERSION: u32 = 2;
const HEADER_LEN: u64 = 16 + 4 * 20;
/// Room left after the XML for a longer one.
const XML_PAD: usize = 1024;
/// How often a save's progress is polled.
const POLL: Duration = Duration::from_millis(5);

/// A save image's header.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Header {
    data_len: u32,
    was_running: bool,
}

fn save_error(path: &Path, what: &str, e: &std::io::Error) -> VirError {
    VirError::new(
        ErrorDomain::Qemu,
        ErrorCode::SystemError,
        format!(
            "{what} '{}': {}",
            path.display(),
            oxvirt_domain::fsio::strerror(e)
        ),
    )
}

fn failed(detail: impl AsRef<str>) -> VirError {
    VirError::new(ErrorDomain::Qemu, ErrorCode::OperationFailed, detail)
}

fn header_bytes(magic: &[u8; 16], h: &Header) -> Vec<u8> {
    let mut out = magic.to_vec();
    for v in [VERSION, h.data_len, u32::from(h.was_running), 0, 0] {
        out.extend_from_slice(&v.to_ne_bytes());
    }
    out.resize(HEADER_LEN as usize, 0);
    out
}

fn u32_at(buf: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&buf[at..at + 4]);
    u32::from_ne_bytes(b)
}

/// Reads the header and XML of the image at `path`, leaving `file` at the migration data.
fn read_image(path: &Path) -> Result<(File, Header, String)> {
    let mut file = File::open(path).map_err(|e| save_error(path, "cannot open save image", &e))?;
    let mut head = vec![0u8; HEADER_LEN as usize];
    file.read_exact(&mut head).map_err(|_| {
        failed(format!(
            "failed to read qemu header from '{}'",
            path.display()
        ))
    })?;
    if &head[..16] == MAGIC_PARTIAL {
        return Err(failed(format!(
            "save image is incomplete: '{}'",
            path.display()
        )));
    }
    if &head[..16] != MAGIC_DONE {
        return Err(failed(format!(
            "image magic is incorrect: '{}'",
            path.display()
        )));
    }
    let version = u32_at(&head, 16);
    if version != VERSION {
        return Err(failed(format!(
            "image version is not supported ({version} > {VERSION})"
        )));
    }
    let header = Header {
        data_len: u32_at(&head, 20),
        was_running: u32_at(&head, 24) != 0,
    };
    if header.data_len == 0 || header.data_len > 10 * 1024 * 1024 {
        return Err(failed(format!("invalid XML length: {}", header.data_len)));
    }
    let mut data = vec![0u8; header.data_len as usize];
    file.read_exact(&mut data)
        .map_err(|_| failed("failed to read domain XML"))?;
    let end = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let xml = String::from_utf8_lossy(&data[..end]).into_owned();
    Ok((file, header, xml))
}

impl QemuDriver {
    /// Where the managed-save image of domain `name` goes.
    pub(crate) fn managed_save_path(&self, name: &str) -> PathBuf {
        self.inner
            .config
            .state_dir
            .join("save")
            .join(format!("{name}.save"))
    }

    /// Saves running domain `dom` to `path` and stops it (`qemuDomainSaveInternal`).
    pub(crate) async fn save_to(
        &self,
        dom: &DomainRef,
        path: &Path,
        dxml: Option<&str>,
        flags: u32,
    ) -> Result<()> {
        let vm = self.running(dom)?;
        let _job = self.lock_job(&dom.uuid).await?;
        let (state, live) = self.with_obj(dom, |obj| Ok((obj.state(), obj.def().clone())))?;
        let def = match dxml {
            Some(x) => {
                let def = self.parse_definition(x).await?;
                if def.uuid != live.uuid || def.name != live.name {
                    return Err(invalid("target domain uuid/name does not match source"));
                }
                def
            }
            None => live,
        };
        let was_running = match flags & (save::RUNNING | save::PAUSED) {
            save::RUNNING => true,
            save::PAUSED => false,
            _ => state == DomainState::Running,
        };
        let text = format_domain(&def, -1, xml::SECURE | xml::INACTIVE);
        let mut area = text.into_bytes();
        area.push(0);
        area.resize(area.len() + XML_PAD, 0);
        let header = Header {
            data_len: u32::try_from(area.len()).map_err(|_| failed("domain XML too long"))?,
            was_running,
        };
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| save_error(path, "Failed to create file", &e))?;
        file.write_all(&header_bytes(MAGIC_PARTIAL, &header))
            .and_then(|_| file.write_all(&area))
            .map_err(|e| save_error(path, "failed to write header to domain save file", &e))?;
        let paused = self.pause(dom, &vm, PausedReason::Save).await?;
        let migrated = async {
            vm.qmp().send_fd("migrate", file.as_fd()).await?;
            vm.qmp().migrate_to_fd("migrate").await?;
            vm.qmp().wait_migration_job(POLL, "domain save job").await
        }
        .await
        .map_err(|e| {
            if e.code == ErrorCode::OperationAborted {
                // What libvirtd 9.0 says when `virDomainAbortJob` cancels a save.
                VirError::new(
                    ErrorDomain::Qemu,
                    ErrorCode::OperationAborted,
                    "job 'domain save' canceled by client",
                )
            } else {
                e
            }
        });
        if let Err(e) = migrated {
            let _ = std::fs::remove_file(path);
            if paused && state == DomainState::Running {
                let _ = self
                    .unpause(dom, &vm, RunningReason::SaveCanceled, None)
                    .await;
            }
            return Err(e);
        }
        file.seek(SeekFrom::Start(0))
            .and_then(|_| file.write_all(MAGIC_DONE))
            .and_then(|_| file.sync_all())
            .map_err(|e| save_error(path, "failed to write header to domain save file", &e))?;
        drop(_job);
        self.kill(&vm, Stopping::Saved, false).await
    }

    /// Restores the image at `path` (`qemuDomainRestoreFlags`): the domain it holds (or
    /// `dxml`) starts from the saved memory.
    pub(crate) async fn restore_from(
        &self,
        path: &Path,
        dxml: Option<&str>,
        flags: u32,
    ) -> Result<DomainRef> {
        let (file, header, saved) = read_image(path)?;
        let def = self.parse_definition(dxml.unwrap_or(&saved)).await?;
        super::check_name(&def.name)?;
        let saved_def = super::parse::parse_config(&saved)?;
        if def.uuid != saved_def.uuid || def.name != saved_def.name {
            return Err(invalid("target domain uuid/name does not match source"));
        }
        let uuid = {
            let mut list = self.domains();
            let (obj, _) = list.add(def, add_flags::LIVE | add_flags::CHECK_LIVE)?;
            obj.uuid()
        };
        let paused = match flags & (save::RUNNING | save::PAUSED) {
            save::RUNNING => false,
            save::PAUSED => true,
            _ => !header.was_running,
        };
        let job = self.job(&uuid);
        let _job = job.lock().await;
        let started = self
            .start_reported(
                &uuid,
                paused,
                StartFrom {
                    incoming: Some(file),
                    ..StartFrom::default()
                },
                StartedDetail::Restored,
            )
            .await;
        if started.is_err() {
            let mut list = self.domains();
            if list
                .find_by_uuid(&uuid)
                .is_some_and(|o| !o.persistent && !o.is_active())
            {
                list.remove(&uuid);
            }
        }
        started
    }

    /// Starts `dom` from its managed-save image, which is then removed.
    pub(crate) async fn restore_managed(
        &self,
        dom: &DomainRef,
        path: &Path,
        paused: bool,
    ) -> Result<DomainRef> {
        let (file, header, _) = read_image(path)?;
        let started = self
            .start_reported(
                &dom.uuid,
                paused || !header.was_running,
                StartFrom {
                    incoming: Some(file),
                    ..StartFrom::default()
                },
                StartedDetail::Restored,
            )
            .await?;
        let _ = std::fs::remove_file(path);
        self.with_obj(dom, |obj| {
            obj.has_managed_save = false;
            Ok(())
        })?;
        Ok(started)
    }

    /// `virDomainManagedSave`.
    pub(crate) async fn managed_save(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        check_flags(
            flags,
            save::BYPASS_CACHE | save::RUNNING | save::PAUSED,
            "qemuDomainManagedSave",
        )?;
        let persistent = self.with_obj(dom, |obj| Ok(obj.persistent))?;
        if !persistent {
            return Err(invalid("cannot do managed save for transient domain"));
        }
        let path = self.managed_save_path(&dom.name);
        oxvirt_domain::fsio::make_dir(path.parent().unwrap_or(Path::new("/")))?;
        self.save_to(dom, &path, None, flags).await?;
        self.with_obj(dom, |obj| {
            obj.has_managed_save = true;
            Ok(())
        })
    }

    /// `virDomainHasManagedSaveImage`.
    pub(crate) fn has_managed_save(&self, dom: &DomainRef) -> Result<bool> {
        self.with_obj(dom, |_| Ok(()))?;
        Ok(self.managed_save_path(&dom.name).exists())
    }

    /// `virDomainManagedSaveRemove`.
    pub(crate) fn managed_save_remove(&self, dom: &DomainRef) -> Result<()> {
        self.with_obj(dom, |obj| {
            obj.has_managed_save = false;
            Ok(())
        })?;
        let path = self.managed_save_path(&dom.name);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(save_error(&path, "Failed to remove managed save file", &e)),
        }
    }

    /// `virDomainSaveImageGetXMLDesc`.
    pub(crate) fn save_image_xml(&self, path: &Path, flags: u32) -> Result<String> {
        check_flags(flags, xml::SECURE, "qemuDomainSaveImageGetXMLDesc")?;
        let (_, _, text) = read_image(path)?;
        let def = super::parse::parse_config(&text)?;
        Ok(format_domain(&def, -1, flags | xml::INACTIVE))
    }

    /// `virDomainSaveImageDefineXML`: a new XML (same name and UUID) in the image, and
    /// the state it restores to with `RUNNING` or `PAUSED`.
    pub(crate) async fn save_image_define_xml(
        &self,
        path: &Path,
        dxml: &str,
        flags: u32,
    ) -> Result<()> {
        check_flags(
            flags,
            save::RUNNING | save::PAUSED,
            "qemuDomainSaveImageDefineXML",
        )?;
        let (_, mut header, text) = read_image(path)?;
        let old = super::parse::parse_config(&text)?;
        let def: Domain = self.parse_definition(dxml).await?;
        if def.uuid != old.uuid || def.name != old.name {
            return Err(invalid("target domain uuid/name does not match source"));
        }
        match flags & (save::RUNNING | save::PAUSED) {
            save::RUNNING => header.was_running = true,
            save::PAUSED => header.was_running = false,
            _ => {}
        }
        let mut area = format_domain(&def, -1, xml::SECURE | xml::INACTIVE).into_bytes();
        area.push(0);
        if area.len() > header.data_len as usize {
            return Err(invalid("new xml too large to fit in file"));
        }
        area.resize(header.data_len as usize, 0);
        let mut file = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| save_error(path, "cannot open save image", &e))?;
        file.write_all(&header_bytes(MAGIC_DONE, &header))
            .and_then(|_| file.write_all(&area))
            .and_then(|_| file.sync_all())
            .map_err(|e| save_error(path, "failed to write header to domain save file", &e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_libvirts_96_bytes_and_read_back() {
        let h = Header {
            data_len: 4242,
            was_running: true,
        };
        let bytes = header_bytes(MAGIC_DONE, &h);
        assert_eq!(bytes.len(), 96);
        assert_eq!(&bytes[..16], b"LibvirtQemudSave");
        assert_eq!(u32_at(&bytes, 16), 2);
        assert_eq!(u32_at(&bytes, 20), 4242);
        assert_eq!(u32_at(&bytes, 24), 1);
        let dir = std::env::temp_dir().join(format!("oxvirt-save-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("img");
        let mut data = bytes.clone();
        let mut area = b"<domain/>".to_vec();
        area.resize(4242, 0);
        data.extend_from_slice(&area);
        data.extend_from_slice(b"QEVM");
        std::fs::write(&path, &data).unwrap();
        let (mut file, read, xml) = read_image(&path).unwrap();
        assert_eq!(read, h);
        assert_eq!(xml, "<domain/>");
        let mut rest = Vec::new();
        file.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, b"QEVM");
        let mut partial = header_bytes(MAGIC_PARTIAL, &h);
        partial.extend_from_slice(&area);
        std::fs::write(&path, &partial).unwrap();
        let err = read_image(&path).unwrap_err();
        assert!(
            err.message.contains("save image is incomplete"),
            "{}",
            err.message
        );
        std::fs::write(&path, b"short").unwrap();
        let err = read_image(&path).unwrap_err();
        assert_eq!(err.code, ErrorCode::OperationFailed);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
