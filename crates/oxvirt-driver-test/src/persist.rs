//! Keeping `test:///default` across daemon restarts ([`TestDriver::open_with_state`]).
//!
//! libvirt's test driver keeps everything in memory; a daemon that must show the same
//! domains after a restart (even after `SIGKILL`) writes them under a state directory,
//! as libvirt's stateful drivers keep configs in `/etc/libvirt/...` and status XML in
//! their run directory.
//!
//! # Layout
//!
//! Under `STATE_DIR/test/default/`:
//!
//! - `format-version`: `1`. Written last when the directory is first set up from the
//!   built-in default node; without it the directory is (re)initialised.
//! - `node.txt`: `next_id=N`, the ID the next started domain gets (on load, at least one
//!   more than any running domain's).
//! - `domains/UUID.xml`: one file per domain, named by UUID so that a rename changes only
//!   its content, holding everything about it in one `<oxvirt-test-domain>` document:
//!   `format`, its `order` in the list, `state`/`reason`, `id`, `persistent`,
//!   `autostart`; `<managedsave state= reason=/>` when it has a managed-save image;
//!   `<config>` with the persistent definition (persistent domains); `<live>` with the
//!   live definition (running domains, transient ones included); `<snapshots>` with every
//!   snapshot's `<domainsnapshot>` in the order they were added; `<current>` naming the
//!   current snapshot. A domain without a file does not exist.
//!
//! One file per domain makes every change to a domain one atomic replacement: the new
//! content goes to `UUID.xml.tmp`, is synced, renamed over `UUID.xml`, and the directory
//! is synced, before the call returns. A leftover `.tmp` (a write interrupted by a crash)
//! is ignored and removed on load. A file that does not read back is skipped with a
//! warning on stderr naming it, and left in place.
//!
//! # When it is written
//!
//! Every call of the [`Hypervisor`](oxvirt_domain::driver::Hypervisor) trait that can
//! change a domain goes through `TestDriver::persisted` (in `hypervisor.rs`): it runs
//! the call, then rewrites the files of the domains the call names (or, for a restore,
//! of every domain whose content changed) and `node.txt` if the next ID moved. Mutating
//! calls are serialised on the store's lock (reads are not).
//!
//! If a write fails the call fails with libvirt's `VIR_ERR_SYSTEM_ERROR` for a failed
//! config save ("cannot create file '...tmp': Permission denied") and the in-memory
//! domains are put back as they were before the call (libvirt's stateful drivers undo a
//! define whose config could not be saved). Events the call already sent are not taken
//! back. The `*_sync` methods themselves do not write: only the trait's calls do.

mod record;

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use oxvirt_domain::driver::{DomainRef, Result};
use oxvirt_domain::objects::domains::DomainList;
use oxvirt_xml::types::Uuid;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use crate::driver::TestDriver;
use crate::node::{self, NodeConfig};
use oxvirt_domain::fsio::{make_dir, remove, write_atomic, TMP_SUFFIX};
use record::{format_record, parse_record, Record};

/// The version of the layout this module writes.
const FORMAT_VERSION: &str = "1";

/// What the store last wrote, to write only what changed.
#[derive(Debug, Default)]
struct Written {
    /// Each domain's order and file content.
    domains: HashMap<Uuid, (u64, String)>,
    /// The order the next new domain gets.
    next_order: u64,
    /// The next ID in `node.txt`.
    next_id: i32,
}

/// The state directory of one node.
#[derive(Debug)]
pub(crate) struct Store {
    /// `STATE_DIR/test/default`.
    dir: PathBuf,
    /// Held while a mutating call runs and its changes are written.
    written: Mutex<Written>,
}

/// Which domains a call may have changed.
pub(crate) enum Scope {
    /// These.
    Domains(Vec<Uuid>),
    /// Any.
    All,
}

impl Store {
    fn domains_dir(&self) -> PathBuf {
        self.dir.join("domains")
    }

    fn domain_path(&self, uuid: &Uuid) -> PathBuf {
        self.domains_dir().join(format!("{uuid}.xml"))
    }

    fn lock(&self) -> MutexGuard<'_, Written> {
        self.written.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Opens the store under `state_dir` and the node it holds, setting it up from the
    /// built-in default node the first time.
    pub(crate) fn open(state_dir: &Path) -> Result<(Store, NodeConfig)> {
        let dir = state_dir.join("test").join("default");
        let store = Store {
            dir,
            written: Mutex::new(Written::default()),
        };
        let marker = store.dir.join("format-version");
        match fs::read_to_string(&marker) {
            Ok(v) if v.trim() == FORMAT_VERSION => {
                let mut config = node::default_node()?;
                let (domains, written) = store.load();
                config.domains = domains;
                *store.lock() = written;
                Ok((store, config))
            }
            Ok(v) => Err(VirError::new(
                ErrorDomain::Test,
                ErrorCode::OperationFailed,
                format!(
                    "unsupported state format version '{}' in '{}'",
                    v.trim(),
                    marker.display()
                ),
            )),
            Err(_) => {
                let config = node::default_node()?;
                store.init(&config.domains)?;
                write_atomic(&marker, &format!("{FORMAT_VERSION}\n"))?;
                Ok((store, config))
            }
        }
    }

    /// Writes every domain of a fresh node, replacing whatever an interrupted setup left.
    fn init(&self, domains: &DomainList) -> Result<()> {
        let ddir = self.domains_dir();
        make_dir(&ddir)?;
        if let Ok(entries) = fs::read_dir(&ddir) {
            for entry in entries.flatten() {
                remove(&entry.path())?;
            }
        }
        let mut written = self.lock();
        let all = domains.iter().map(|o| o.uuid()).collect();
        let plan = plan(&mut written, domains, Scope::Domains(all));
        self.apply(&mut written, plan)
    }

    /// Reads the node's domains; what does not read is skipped with a warning.
    fn load(&self) -> (DomainList, Written) {
        let ddir = self.domains_dir();
        let mut records: Vec<(PathBuf, Record)> = Vec::new();
        let mut entries: Vec<PathBuf> = fs::read_dir(&ddir)
            .map(|rd| rd.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        entries.sort();
        for path in entries {
            let name = path.to_string_lossy();
            if name.ends_with(TMP_SUFFIX) {
                // An interrupted write: the file it was to replace is still whole.
                let _ = fs::remove_file(&path);
                continue;
            }
            if !name.ends_with(".xml") {
                continue;
            }
            match fs::read_to_string(&path)
                .map_err(|e| e.to_string())
                .and_then(|t| parse_record(&t))
            {
                Ok(r) => records.push((path, r)),
                Err(e) => warn(&path, &e),
            }
        }
        records.sort_by_key(|(_, r)| r.order);
        let mut domains = DomainList::new();
        let mut written = Written::default();
        let mut max_id = 0;
        for (path, r) in records {
            let order = r.order;
            match add_record(&mut domains, r) {
                Ok((uuid, id)) => {
                    max_id = max_id.max(id);
                    written.next_order = written.next_order.max(order + 1);
                    if let Some(obj) = domains.find_by_uuid(&uuid) {
                        written
                            .domains
                            .insert(uuid, (order, format_record(obj, order)));
                    }
                }
                Err(e) => warn(&path, &e),
            }
        }
        let node_file = self.dir.join("node.txt");
        let stored = fs::read_to_string(&node_file).ok().and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("next_id="))
                .and_then(|n| n.trim().parse::<i32>().ok())
        });
        if stored.is_none() {
            warn(&node_file, "no valid next_id");
        }
        let next_id = stored.unwrap_or(1).max(max_id + 1).max(1);
        while domains.next_id() < next_id {
            domains.alloc_id();
        }
        written.next_id = domains.next_id();
        (domains, written)
    }

    /// Writes what `plan` says, recording each write that succeeded.
    fn apply(&self, written: &mut Written, plan: Plan) -> Result<()> {
        if let Some(next_id) = plan.next_id {
            write_atomic(&self.dir.join("node.txt"), &format!("next_id={next_id}\n"))?;
            written.next_id = next_id;
        }
        for (uuid, change) in plan.domains {
            let path = self.domain_path(&uuid);
            match change {
                Some((order, text)) => {
                    write_atomic(&path, &text)?;
                    written.domains.insert(uuid, (order, text));
                }
                None => {
                    remove(&path)?;
                    written.domains.remove(&uuid);
                }
            }
        }
        Ok(())
    }
}

/// Reports a state file that is skipped.
fn warn(path: &Path, why: &str) {
    eprintln!(
        "oxvirt-driver-test: warning: skipping state file '{}': {why}",
        path.display()
    );
}

/// Puts the domain of `r` into `domains`: its UUID and ID.
fn add_record(domains: &mut DomainList, r: Record) -> Result<(Uuid, i32), String> {
    if r.id != -1 && domains.find_by_id(r.id).is_some() {
        return Err(format!("another domain has id {}", r.id));
    }
    let active = r.id != -1;
    let (base, live) = match (r.config, r.live) {
        (Some(config), live) => (config, live),
        (None, Some(live)) => (live, None),
        (None, None) => return Err("no definition".into()),
    };
    let (obj, _) = domains.add(base, 0).map_err(|e| e.message)?;
    if let Some(live) = live {
        obj.assign_def(live, true);
    }
    obj.persistent = r.persistent;
    obj.autostart = r.autostart;
    obj.id = if active { r.id } else { -1 };
    obj.state = r.state;
    obj.has_managed_save = r.managed_save.is_some();
    obj.managed_save_state = r.managed_save.flatten();
    for mut snap in r.snapshots {
        snap.active = None;
        if let Err(e) = obj.snapshots.insert(snap) {
            return Err(e.message);
        }
    }
    obj.snapshots.set_current(r.current.as_deref());
    Ok((obj.uuid(), obj.id))
}

/// The writes that bring the files up to date.
struct Plan {
    next_id: Option<i32>,
    domains: Vec<(Uuid, Option<(u64, String)>)>,
}

/// What must be written for the domains of `scope` (and the next ID) to be on disk as
/// they are in `domains`.
fn plan(written: &mut Written, domains: &DomainList, scope: Scope) -> Plan {
    let uuids: Vec<Uuid> = match scope {
        Scope::Domains(u) => u,
        Scope::All => {
            let mut all: Vec<Uuid> = domains.iter().map(|o| o.uuid()).collect();
            all.extend(written.domains.keys().copied());
            all
        }
    };
    let mut changes = Vec::new();
    for uuid in uuids {
        if changes.iter().any(|(u, _)| *u == uuid) {
            continue;
        }
        let old = written.domains.get(&uuid);
        match domains.find_by_uuid(&uuid) {
            Some(obj) => {
                let order = match old {
                    Some((order, _)) => *order,
                    None => {
                        written.next_order += 1;
                        written.next_order - 1
                    }
                };
                let text = format_record(obj, order);
                if old.is_none_or(|(_, t)| *t != text) {
                    changes.push((uuid, Some((order, text))));
                }
            }
            None if old.is_some() => changes.push((uuid, None)),
            None => {}
        }
    }
    let next_id = domains.next_id();
    Plan {
        next_id: (next_id != written.next_id).then_some(next_id),
        domains: changes,
    }
}

impl TestDriver {
    /// Opens `test:///default` kept under `state_dir` (see the [module](crate::persist) docs): the
    /// process-wide shared node is loaded from `STATE_DIR/test/default/` when it was set
    /// up there before, else built from the built-in default node and written there; from
    /// then on every change a call makes to a domain is on disk before the call returns.
    ///
    /// While a `/default` connection is open, the shared node is returned as it is (the
    /// state directory of the first opener is kept). Any other `path` (a node file) ignores
    /// `state_dir`, as each such connection has its own copy of its node.
    pub fn open_with_state(path: &str, state_dir: &Path) -> Result<TestDriver> {
        if path != "/default" {
            return TestDriver::open(path);
        }
        TestDriver::open_shared(path, || {
            let (store, config) = Store::open(state_dir)?;
            Ok(TestDriver::from_parts(path, config, Some(store)))
        })
    }

    /// [`TestDriver::open_with_state`] with a node of its own (for tests that must not
    /// share `test:///default`).
    pub fn open_isolated_with_state(state_dir: &Path) -> Result<TestDriver> {
        let (store, config) = Store::open(state_dir)?;
        Ok(TestDriver::from_parts("/default", config, Some(store)))
    }

    /// Runs the mutating call `call`, then writes the domains `scope` names (all whose
    /// file would change, for [`Scope::All`]) if this node is kept on disk. A failed write
    /// puts the domains back as they were and fails the call.
    pub(crate) fn persisted<T>(&self, scope: Scope, call: impl FnOnce() -> Result<T>) -> Result<T> {
        self.persisted_with(call, |_| scope)
    }

    /// [`TestDriver::persisted`] for a call that returns the domain it changed.
    pub(crate) fn persisted_ref(
        &self,
        call: impl FnOnce() -> Result<DomainRef>,
    ) -> Result<DomainRef> {
        self.persisted_with(call, |out| match out {
            Ok(dom) => Scope::Domains(vec![dom.uuid]),
            Err(_) => Scope::Domains(Vec::new()),
        })
    }

    fn persisted_with<T>(
        &self,
        call: impl FnOnce() -> Result<T>,
        scope: impl FnOnce(&Result<T>) -> Scope,
    ) -> Result<T> {
        let Some(store) = self.shared.store.as_ref() else {
            return call();
        };
        let mut written = store.lock();
        let before = self.lock().domains.clone();
        let out = call();
        let plan = plan(&mut written, &self.lock().domains, scope(&out));
        if let Err(e) = store.apply(&mut written, plan) {
            self.lock().domains = before;
            return Err(out.err().unwrap_or(e));
        }
        out
    }
}
