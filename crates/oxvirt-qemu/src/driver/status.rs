//! What the driver keeps on disk: each persistent domain's definition in
//! `STATE/qemu/config/NAME.xml`, and each running domain's status in
//! `RUNTIME/qemu/NAME.xml`, from which a restarted daemon reattaches to its QEMU.
//!
//! A status file is one `<domstatus>` document written atomically when the domain starts
//! and whenever its state or live definition changes:
//!
//! ```xml
//! <domstatus state='1' reason='1' id='3' pid='1234'>
//!   <monitor path='/run/oxvirt/qemu/3.monitor'/>
//!   <privateDir path='/var/lib/oxvirt/qemu/domain-3-guest'/>
//!   <domain type='qemu' id='3'>...the live definition...</domain>
//! </domstatus>
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use oxvirt_domain::driver::state::{PausedReason, ShutoffReason};
use oxvirt_domain::driver::StateReason;
use oxvirt_domain::fsio::{remove, write_atomic, TMP_SUFFIX};
use oxvirt_domain::objects::domains::{add_flags, DomainObj};
use oxvirt_domain::Domain;
use oxvirt_xml::writer::escape;
use oxvirt_xml::{Element, VirError, XmlModel};

use super::vm::{Stopping, Vm};
use super::QemuDriver;
use crate::process::QemuProcess;

/// A running domain as its status file describes it.
#[derive(Debug)]
pub(crate) struct Status {
    pub state: StateReason,
    pub id: i32,
    pub pid: i32,
    pub monitor: PathBuf,
    pub private_dir: PathBuf,
    pub live: Domain,
}

/// The status document of `obj`, run by `vm`.
pub(crate) fn format_status(obj: &DomainObj, vm: &Vm) -> String {
    format!(
        "<domstatus state='{}' reason='{}' id='{}' pid='{}'>\n  <monitor path='{}'/>\n  \
         <privateDir path='{}'/>\n{}</domstatus>\n",
        obj.state.state().number(),
        obj.state.reason(),
        obj.id,
        vm.pid(),
        escape(&vm.monitor.to_string_lossy()),
        escape(&vm.private_dir.to_string_lossy()),
        oxvirt_xml::to_string(&obj.def().to_element()),
    )
}

fn number<T: std::str::FromStr>(el: &Element, name: &str) -> Result<T, String> {
    let value = el
        .attr(name)
        .ok_or_else(|| format!("missing attribute '{name}' on <{}>", el.name))?;
    value
        .parse()
        .map_err(|_| format!("invalid {name} '{value}' on <{}>", el.name))
}

fn path_of(root: &Element, name: &str) -> Result<PathBuf, String> {
    root.child(name)
        .and_then(|e| e.attr("path"))
        .map(PathBuf::from)
        .ok_or_else(|| format!("no <{name} path=...>"))
}

/// Reads a status document.
pub(crate) fn parse_status(text: &str) -> Result<Status, String> {
    let root = oxvirt_xml::parse(text).map_err(|e| e.message)?;
    if root.name != "domstatus" {
        return Err(format!("root element is <{}>, not <domstatus>", root.name));
    }
    let (state, reason) = (number(&root, "state")?, number(&root, "reason")?);
    let state = StateReason::from_numbers(state, reason)
        .ok_or_else(|| format!("invalid state {state} with reason {reason}"))?;
    let dom = root.child("domain").ok_or("no <domain>")?;
    let source = dom
        .span
        .clone()
        .and_then(|s| text.get(s))
        .ok_or("cannot locate <domain>")?;
    let live = Domain::parse(source).map_err(|e| e.message)?.domain;
    Ok(Status {
        state,
        id: number(&root, "id")?,
        pid: number(&root, "pid")?,
        monitor: path_of(&root, "monitor")?,
        private_dir: path_of(&root, "privateDir")?,
        live,
    })
}

/// The `.xml` files of `dir`, skipping interrupted writes (removed).
fn xml_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            if p.to_string_lossy().ends_with(TMP_SUFFIX) {
                let _ = std::fs::remove_file(p);
                return false;
            }
            p.extension().is_some_and(|e| e == "xml")
        })
        .collect();
    files.sort();
    files
}

impl QemuDriver {
    fn config_path(&self, name: &str) -> PathBuf {
        self.inner.config.config_dir().join(format!("{name}.xml"))
    }

    fn status_path(&self, name: &str) -> PathBuf {
        self.inner.config.runtime_dir.join(format!("{name}.xml"))
    }

    /// Writes the persistent definition of a domain (`virDomainDefSave`).
    pub(crate) fn save_config(&self, def: &Domain) -> Result<(), VirError> {
        let text = oxvirt_xml::to_string(&def.to_element());
        write_atomic(&self.config_path(&def.name), &text)
    }

    /// Removes the persistent definition of domain `name`.
    pub(crate) fn delete_config(&self, name: &str) -> Result<(), VirError> {
        remove(&self.config_path(name))
    }

    /// Writes the status file of `obj`, run by `vm`.
    pub(crate) fn save_status(&self, obj: &DomainObj, vm: &Vm) -> Result<(), VirError> {
        write_atomic(&self.status_path(obj.name()), &format_status(obj, vm))
    }

    /// Rewrites the status file of the running domain `obj` if it has a QEMU.
    pub(crate) fn refresh_status(&self, obj: &DomainObj) {
        if let Some(vm) = self.vm(&obj.uuid()) {
            if let Err(e) = self.save_status(obj, &vm) {
                eprintln!(
                    "oxvirtd: cannot save the status of '{}': {}",
                    obj.name(),
                    e.message
                );
            }
        }
    }

    /// Removes the status file of domain `name`.
    pub(crate) fn delete_status(&self, name: &str) {
        let _ = remove(&self.status_path(name));
    }

    /// Loads every definition under the config directory; a file that does not read back
    /// is skipped with a warning naming it.
    pub(crate) fn load_configs(&self) -> Result<(), VirError> {
        for path in xml_files(&self.inner.config.config_dir()) {
            let loaded = std::fs::read_to_string(&path)
                .map_err(|e| e.to_string())
                .and_then(|text| super::parse::parse_config(&text).map_err(|e| e.message));
            match loaded {
                Ok(def) => {
                    let mut list = self.domains();
                    let autostart = self.autostart_marked(&def.name);
                    match list.add(def, 0) {
                        Ok((obj, _)) => {
                            obj.persistent = true;
                            obj.autostart = autostart;
                        }
                        Err(e) => eprintln!("oxvirtd: skipping {}: {}", path.display(), e.message),
                    }
                }
                Err(e) => eprintln!("oxvirtd: skipping {}: {e}", path.display()),
            }
        }
        Ok(())
    }

    /// Reattaches to the QEMU of every status file; a domain whose QEMU is gone or does
    /// not answer is shut off (crashed, as libvirt reports a domain it cannot reconnect
    /// to) and its leftovers removed.
    pub(crate) async fn reattach_all(&self) {
        for path in xml_files(&self.inner.config.runtime_dir) {
            let status = std::fs::read_to_string(&path)
                .map_err(|e| e.to_string())
                .and_then(|t| parse_status(&t));
            let status = match status {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("oxvirtd: ignoring status file {}: {e}", path.display());
                    let _ = std::fs::remove_file(&path);
                    continue;
                }
            };
            self.reattach(status).await;
        }
    }

    /// Whether `vm`, paused for a migration, is the destination of one (QEMU waits for or
    /// has received the state but was never resumed) rather than its source (QEMU in
    /// `finish-migrate` or `postmigrate`).
    async fn incoming(vm: &Vm) -> bool {
        match vm.qmp().query_status().await {
            Ok(s) => !s.running && !matches!(s.status.as_str(), "postmigrate" | "finish-migrate"),
            Err(_) => false,
        }
    }

    async fn reattach(&self, status: Status) {
        let name = status.live.name.clone();
        let attached = QemuProcess::attach(status.pid, &status.monitor).await;
        let uuid = {
            let mut list = self.domains();
            let added = list.add(status.live.clone(), add_flags::LIVE);
            match added {
                Ok(_) => {}
                Err(e) => {
                    eprintln!("oxvirtd: cannot reattach '{name}': {}", e.message);
                    return;
                }
            }
            list.reserve_id(status.id);
            let Some(obj) = list.find_by_name_mut(&name) else {
                return;
            };
            obj.start(status.id, status.state);
            obj.uuid()
        };
        match attached {
            Ok((process, events)) => {
                let vm = Arc::new(Vm::new(process, status.monitor, status.private_dir));
                self.set_vm(uuid, Some(vm.clone()));
                self.record_in_use(&status.live).await;
                self.sync_state(&uuid, &vm).await;
                super::monitor::spawn(self, uuid, vm.clone(), events);
                if status.state == StateReason::Paused(PausedReason::Migration)
                    && Self::incoming(&vm).await
                {
                    // As libvirtd with a domain found in an incoming migration job: the
                    // migration cannot finish any more (its Finish call went with the
                    // daemon), so the half-migrated domain is killed (shut off, failed).
                    eprintln!("oxvirtd: killing '{name}': its incoming migration did not finish");
                    vm.set_got_shutdown(true);
                    if let Err(e) = self.kill(&vm, Stopping::Failed, false).await {
                        eprintln!("oxvirtd: cannot kill '{name}': {}", e.message);
                    }
                }
            }
            Err(e) => {
                eprintln!("oxvirtd: domain '{name}' is gone: {}", e.message);
                let _ = std::fs::remove_file(&status.monitor);
                let _ = std::fs::remove_dir_all(&status.private_dir);
                self.delete_status(&name);
                self.unplug_ports(super::netports::live_ports(&status.live))
                    .await;
                self.clear_in_use(&name);
                let mut list = self.domains();
                if let Some(obj) = list.find_by_name_mut(&name) {
                    obj.stop(ShutoffReason::Crashed);
                    if !obj.persistent {
                        list.remove(&uuid);
                    }
                }
            }
        }
    }
}
