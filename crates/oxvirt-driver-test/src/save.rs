//! Saving and restoring domains: the test driver's image files, and managed save.
//!
//! An image is what libvirt's `testDomainSaveImageWrite` writes: the 15 bytes
//! `TestGuestMagic\0`, the length of the domain XML as a native-endian 32-bit integer, and
//! the XML (the live definition, with secrets). Images longer than 8192 bytes of XML are
//! written but, as in libvirt, refused when read back.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;

use oxvirt_domain::driver::event::{StartedDetail, StoppedDetail};
use oxvirt_domain::driver::flags::{save, xml};
use oxvirt_domain::driver::state::{RunningReason, ShutoffReason};
use oxvirt_domain::driver::{DomainRef, Result};
use oxvirt_domain::Domain;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use crate::driver::{check_flags, exclusive, internal, invalid, TestDriver};
use crate::format::format_domain;
use crate::parse::parse_domain_with;

/// The magic every image starts with, its terminating NUL included.
pub const SAVE_MAGIC: &[u8; 15] = b"TestGuestMagic\0";

/// The longest domain XML an image may hold to be read back.
pub const MAX_SAVED_XML: usize = 8192;

pub(crate) use oxvirt_domain::fsio::strerror;

/// `VIR_ERR_SYSTEM_ERROR` from the test driver: `detail: <strerror>`.
fn system_error(detail: &str, e: &io::Error) -> VirError {
    VirError::raw(
        ErrorDomain::Test,
        ErrorCode::SystemError,
        format!("{detail}: {}", strerror(e)),
    )
}

/// What a read that came up short reports: `errno` is 0 then, so libvirt says "Success".
fn short_read(detail: &str) -> VirError {
    VirError::raw(
        ErrorDomain::Test,
        ErrorCode::SystemError,
        format!("{detail}: Success"),
    )
}

/// libvirt's `VIR_EXCLUSIVE_FLAGS_GOTO(VIR_DOMAIN_SAVE_RUNNING, VIR_DOMAIN_SAVE_PAUSED)`.
fn running_paused_exclusive(flags: u32) -> Result<()> {
    exclusive(
        flags,
        (save::RUNNING, "VIR_DOMAIN_SAVE_RUNNING"),
        (save::PAUSED, "VIR_DOMAIN_SAVE_PAUSED"),
    )
}

/// `VIR_ERR_ARGUMENT_UNSUPPORTED` "xml modification unsupported".
fn no_xml_change() -> VirError {
    VirError::new(
        ErrorDomain::Test,
        ErrorCode::ArgumentUnsupported,
        "xml modification unsupported",
    )
}

/// Fills `buf` as far as the file goes; the number of bytes read.
fn read_full(f: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match f.read(&mut buf[done..]) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// Writes an image of `def` to `path` (libvirt's `testDomainSaveImageWrite`); a partial
/// file is removed.
pub fn write_image(path: &str, def: &Domain, id: i32) -> Result<()> {
    let xml = format_domain(def, id, xml::SECURE);
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| {
            system_error(
                &format!("saving domain '{}' to '{path}': open failed", def.name),
                &e,
            )
        })?;
    let len = i32::try_from(xml.len()).unwrap_or(i32::MAX);
    let written = f
        .write_all(SAVE_MAGIC)
        .and_then(|()| f.write_all(&len.to_ne_bytes()))
        .and_then(|()| f.write_all(xml.as_bytes()))
        .and_then(|()| f.sync_all());
    if let Err(e) = written {
        drop(f);
        let _ = std::fs::remove_file(path);
        return Err(system_error(
            &format!("saving domain '{}' to '{path}': write failed", def.name),
            &e,
        ));
    }
    Ok(())
}

/// Reads the definition in the image at `path` (libvirt's `testDomainSaveImageOpen`),
/// as an inactive definition that is not validated.
pub fn read_image(path: &str) -> Result<Domain> {
    let mut f = File::open(path)
        .map_err(|e| system_error(&format!("cannot read domain image '{path}'"), &e))?;
    let header_error =
        |e: io::Error| system_error(&format!("incomplete save header in '{path}'"), &e);
    let mut magic = [0u8; 15];
    if read_full(&mut f, &mut magic).map_err(header_error)? != magic.len() {
        return Err(short_read(&format!("incomplete save header in '{path}'")));
    }
    if &magic != SAVE_MAGIC {
        return Err(internal("mismatched header magic"));
    }
    let mut len = [0u8; 4];
    let len_msg = format!("failed to read metadata length in '{path}'");
    if read_full(&mut f, &mut len).map_err(|e| system_error(&len_msg, &e))? != len.len() {
        return Err(short_read(&len_msg));
    }
    let len = i32::from_ne_bytes(len);
    let len = usize::try_from(len)
        .ok()
        .filter(|l| (1..=MAX_SAVED_XML).contains(l))
        .ok_or_else(|| internal("length of metadata out of range"))?;
    let mut xml = vec![0u8; len];
    let xml_msg = format!("incomplete metadata in '{path}'");
    if read_full(&mut f, &mut xml).map_err(|e| system_error(&xml_msg, &e))? != len {
        return Err(short_read(&xml_msg));
    }
    // libvirt reads the bytes as a C string: they end at the first NUL.
    let end = xml.iter().position(|&b| b == 0).unwrap_or(xml.len());
    let text = String::from_utf8_lossy(&xml[..end]);
    Ok(parse_domain_with(&text, false)?.0)
}

impl TestDriver {
    /// `virDomainSaveFlags` (`testDomainSaveFlags`): writes the image and stops the domain
    /// (a transient one goes away).
    pub fn save_sync(
        &self,
        dom: &DomainRef,
        path: &str,
        dxml: Option<&str>,
        flags: u32,
    ) -> Result<()> {
        running_paused_exclusive(flags)?;
        check_flags(flags, 0, "testDomainSaveFlags")?;
        if dxml.is_some() {
            return Err(no_xml_change());
        }
        let mut node = self.lock();
        let obj = node.obj(dom)?;
        obj.check_active()?;
        write_image(path, obj.def(), obj.id)?;
        let event = node.stop_domain(dom, ShutoffReason::Saved, StoppedDetail::Saved)?;
        self.emit(vec![event]);
        Ok(())
    }

    /// `virDomainRestoreFlags` (`testDomainRestoreFlags`): starts the domain of the image,
    /// running for reason `restored`.
    pub fn restore_sync(&self, path: &str, dxml: Option<&str>, flags: u32) -> Result<()> {
        running_paused_exclusive(flags)?;
        check_flags(flags, 0, "testDomainRestoreFlags")?;
        if dxml.is_some() {
            return Err(no_xml_change());
        }
        let def = read_image(path)?;
        let mut node = self.lock();
        let (_, event) =
            node.add_and_start(def, RunningReason::Restored, StartedDetail::Restored)?;
        self.emit(vec![event]);
        Ok(())
    }

    /// `virDomainSaveImageGetXMLDesc` (`testDomainSaveImageGetXMLDesc`): the image's
    /// definition, with secrets whatever the flags.
    pub fn save_image_xml_sync(&self, path: &str, flags: u32) -> Result<String> {
        const XML_SECURE: u32 = 1;
        check_flags(flags, XML_SECURE, "testDomainSaveImageGetXMLDesc")?;
        let def = read_image(path)?;
        Ok(format_domain(&def, -1, xml::SECURE))
    }

    /// `virDomainSaveImageDefineXML` (`testDomainSaveImageDefineXML`): replaces the
    /// definition stored in the image.
    pub fn save_image_define_xml_sync(&self, path: &str, dxml: &str, flags: u32) -> Result<()> {
        running_paused_exclusive(flags)?;
        check_flags(
            flags,
            save::RUNNING | save::PAUSED,
            "testDomainSaveImageDefineXML",
        )?;
        read_image(path)?;
        let (def, _) = parse_domain_with(dxml, true)?;
        write_image(path, &def, -1)
    }

    /// `virDomainManagedSave` (`testDomainManagedSave`): stops the domain for reason
    /// `saved` and records a managed-save image.
    pub fn managed_save_sync(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        running_paused_exclusive(flags)?;
        check_flags(
            flags,
            save::BYPASS_CACHE | save::RUNNING | save::PAUSED,
            "testDomainManagedSave",
        )?;
        let mut node = self.lock();
        let obj = node.obj_mut(dom)?;
        obj.check_active()?;
        if !obj.persistent {
            return Err(invalid("cannot do managed save for transient domain"));
        }
        let state = obj.state;
        let event = node.stop_domain(dom, ShutoffReason::Saved, StoppedDetail::Saved)?;
        let obj = node.obj_mut(dom)?;
        obj.has_managed_save = true;
        obj.managed_save_state = Some(state);
        self.emit(vec![event]);
        Ok(())
    }

    /// `virDomainHasManagedSaveImage`.
    pub fn has_managed_save_sync(&self, dom: &DomainRef, flags: u32) -> Result<bool> {
        check_flags(flags, 0, "testDomainHasManagedSaveImage")?;
        Ok(self.lock().obj(dom)?.has_managed_save)
    }

    /// `virDomainManagedSaveRemove`.
    pub fn managed_save_remove_sync(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        check_flags(flags, 0, "testDomainManagedSaveRemove")?;
        let mut node = self.lock();
        let obj = node.obj_mut(dom)?;
        obj.has_managed_save = false;
        obj.managed_save_state = None;
        Ok(())
    }
}
