//! Autostart: a persistent domain marked to start with the daemon, as libvirt's
//! `virDomainSetAutostart` does with a link in its autostart directory. Here the mark is a
//! file `STATE/qemu/autostart/NAME` (created and removed durably).

use std::path::PathBuf;

use oxvirt_domain::driver::event::StartedDetail;
use oxvirt_domain::driver::DomainRef;
use oxvirt_domain::fsio::{make_dir, remove, write_atomic};
use oxvirt_xml::VirError;

use super::start::StartFrom;
use super::{invalid, QemuDriver};

impl QemuDriver {
    fn autostart_dir(&self) -> PathBuf {
        self.inner.config.state_dir.join("autostart")
    }

    /// Whether domain `name` is marked to start with the daemon.
    pub(crate) fn autostart_marked(&self, name: &str) -> bool {
        self.autostart_dir().join(name).exists()
    }

    /// Removes the autostart mark of domain `name` (it is being undefined).
    pub(crate) fn unmark_autostart(&self, name: &str) -> Result<(), VirError> {
        remove(&self.autostart_dir().join(name))
    }

    /// `virDomainSetAutostart` (`qemuDomainSetAutostart`).
    pub(crate) fn set_autostart(&self, dom: &DomainRef, autostart: bool) -> Result<(), VirError> {
        let (persistent, name) =
            self.with_obj(dom, |obj| Ok((obj.persistent, obj.name().to_string())))?;
        if !persistent {
            return Err(invalid("cannot set autostart for transient domain"));
        }
        if autostart {
            make_dir(&self.autostart_dir())?;
            write_atomic(
                &self.autostart_dir().join(&name),
                &format!("{}\n", dom.uuid),
            )?;
        } else {
            self.unmark_autostart(&name)?;
        }
        self.with_obj(dom, |obj| {
            obj.autostart = autostart;
            Ok(())
        })
    }

    /// Starts every autostart domain that is not running (the daemon just started). A
    /// domain that fails to start is reported on stderr; the others still start.
    pub(crate) async fn autostart_all(&self) {
        let due: Vec<DomainRef> = self
            .domains()
            .iter()
            .filter(|o| o.autostart && !o.is_active())
            .map(|o| o.to_ref())
            .collect();
        for dom in due {
            let job = self.job(&dom.uuid);
            let _job = job.lock().await;
            let started = self
                .start_reported(
                    &dom.uuid,
                    false,
                    StartFrom::default(),
                    StartedDetail::Booted,
                )
                .await;
            if let Err(e) = started {
                eprintln!("oxvirtd: cannot autostart '{}': {}", dom.name, e.message);
            }
        }
    }
}
