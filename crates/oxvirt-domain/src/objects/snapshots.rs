//! The snapshots of one domain (libvirt's `virDomainMomentObjList` and
//! `virDomainSnapshotObjList`): the tree of snapshots by parent, the current snapshot,
//! listing with filters, and deletion; and [`prepare_snapshot`], what libvirt does to a
//! snapshot definition before it joins the tree.
//!
//! Children are kept newest first, as libvirt links them, so the topological listing and
//! the children listings come out in libvirt's order. libvirt lists all snapshots without
//! `TOPOLOGICAL` in the order of its hash table, which changes from process to process;
//! this tree lists them in the order they were added.
//!
//! Errors are worded as libvirt's test driver words them (`VIR_FROM_TEST` for its own
//! checks and unknown flags, `VIR_FROM_DOMAIN_SNAPSHOT` for the public API's flag rules,
//! `VIR_FROM_DOMAIN` for the moment list's).

mod prepare;

#[cfg(test)]
mod tests;

pub use prepare::{prepare_snapshot, TEST_CREATE_FLAGS};

use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use crate::driver::flags::{snapshot_delete, snapshot_list};
use crate::snapshot::{
    DomainSnapshot, SnapshotDomain, SnapshotLocation, SnapshotParent, SnapshotState,
};

/// The filter bits every listing call accepts (`VIR_DOMAIN_SNAPSHOT_FILTERS_ALL`).
const FILTERS_ALL: u32 = snapshot_list::LEAVES
    | snapshot_list::NO_LEAVES
    | snapshot_list::METADATA
    | snapshot_list::NO_METADATA
    | FILTERS_STATUS
    | FILTERS_LOCATION;

/// `VIR_DOMAIN_SNAPSHOT_FILTERS_STATUS`.
const FILTERS_STATUS: u32 =
    snapshot_list::INACTIVE | snapshot_list::ACTIVE | snapshot_list::DISK_ONLY;

/// `VIR_DOMAIN_SNAPSHOT_FILTERS_LOCATION`.
const FILTERS_LOCATION: u32 = snapshot_list::INTERNAL | snapshot_list::EXTERNAL;

/// One snapshot of a domain, as the driver keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotObj {
    /// The snapshot's definition. Change its name or parent only through the tree.
    pub def: DomainSnapshot,
    name: String,
    /// The snapshot it hangs under in the tree (`None`: a root). It differs from the
    /// definition's parent only when that parent was missing when the snapshot was added.
    link: Option<String>,
    /// The children, newest first.
    children: Vec<String>,
}

impl SnapshotObj {
    /// The snapshot's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The parent snapshot's name, as the definition records it.
    pub fn parent(&self) -> Option<&str> {
        self.def.parent.as_ref().and_then(|p| p.name.as_deref())
    }

    /// The names of the direct children, newest first.
    pub fn children(&self) -> &[String] {
        &self.children
    }

    /// Whether the snapshot keeps anything outside the disk images (an external memory
    /// file or an external disk overlay), as `virDomainSnapshotIsExternal` decides.
    pub fn is_external(&self) -> bool {
        self.def.memory == Some(SnapshotLocation::External)
            || self
                .def
                .disks
                .iter()
                .any(|d| d.snapshot == Some(SnapshotLocation::External))
    }
}

/// All snapshots of one domain.
#[derive(Debug, Clone, Default)]
pub struct SnapshotTree {
    /// The snapshots, in the order they were added.
    objs: Vec<SnapshotObj>,
    /// The roots (children of libvirt's metaroot), newest first.
    roots: Vec<String>,
    current: Option<String>,
}

/// `VIR_ERR_NO_DOMAIN_SNAPSHOT` for a name the tree does not hold, as the test driver
/// reports it.
pub fn no_snapshot(name: &str) -> VirError {
    VirError::new(
        ErrorDomain::Test,
        ErrorCode::NoDomainSnapshot,
        format!("no domain snapshot with matching name '{name}'"),
    )
}

/// Sets the parent name recorded in a definition.
fn set_parent_name(def: &mut DomainSnapshot, parent: Option<String>) {
    match (parent, def.parent.as_mut()) {
        (Some(name), Some(p)) => p.name = Some(name),
        (Some(name), None) => {
            def.parent = Some(SnapshotParent {
                name: Some(name),
                ..SnapshotParent::default()
            })
        }
        (None, _) => def.parent = None,
    }
}

impl SnapshotTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of snapshots.
    pub fn len(&self) -> usize {
        self.objs.len()
    }

    /// Whether there are no snapshots.
    pub fn is_empty(&self) -> bool {
        self.objs.is_empty()
    }

    /// The snapshot named `name`.
    pub fn get(&self, name: &str) -> Option<&SnapshotObj> {
        self.objs.iter().find(|o| o.name == name)
    }

    /// The snapshot named `name`, to change its definition (not its name or parent).
    pub fn get_mut(&mut self, name: &str) -> Option<&mut SnapshotObj> {
        self.objs.iter_mut().find(|o| o.name == name)
    }

    /// The snapshot named `name`, or libvirt's error for a missing one.
    pub fn lookup(&self, name: &str) -> Result<&SnapshotObj, VirError> {
        self.get(name).ok_or_else(|| no_snapshot(name))
    }

    fn position(&self, name: &str) -> Option<usize> {
        self.objs.iter().position(|o| o.name == name)
    }

    /// The names of all snapshots, in the order they were added.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.objs.iter().map(|o| o.name.as_str())
    }

    /// Adds a snapshot whose definition has a name, under the parent its definition names
    /// (as a root when it names none, or one the tree does not hold). Fails with libvirt's
    /// `VIR_ERR_OPERATION_FAILED` if the name is taken.
    pub fn insert(&mut self, def: DomainSnapshot) -> Result<&SnapshotObj, VirError> {
        let Some(name) = def.name.clone() else {
            return Err(VirError::new(
                ErrorDomain::Domain,
                ErrorCode::InternalError,
                "snapshot definition has no name",
            ));
        };
        if self.get(&name).is_some() {
            return Err(VirError::new(
                ErrorDomain::Domain,
                ErrorCode::OperationFailed,
                format!("domain moment {name} already exists"),
            ));
        }
        self.objs.push(SnapshotObj {
            def,
            name: name.clone(),
            link: None,
            children: Vec::new(),
        });
        self.link_parent(&name);
        self.lookup(&name)
    }

    /// Adds a redefined snapshot, or replaces the definition of the existing one of that
    /// name (libvirt's `virDomainSnapshotReplaceDef`): its children stay, it moves under
    /// the parent the new definition names, and it keeps its recorded domain if the new
    /// definition has none.
    pub fn replace(&mut self, mut def: DomainSnapshot) -> Result<&SnapshotObj, VirError> {
        let Some(name) = def.name.clone() else {
            return self.insert(def);
        };
        let Some(i) = self.position(&name) else {
            return self.insert(def);
        };
        if !matches!(def.domain, Some(SnapshotDomain::Full(_))) {
            if let Some(dom) = self.objs[i].def.domain.take() {
                def.domain = Some(dom);
            }
        }
        self.drop_parent(&name);
        self.objs[i].def = def;
        self.link_parent(&name);
        self.lookup(&name)
    }

    /// Hangs `name` under the parent its definition names, newest first.
    fn link_parent(&mut self, name: &str) {
        let Some(i) = self.position(name) else {
            return;
        };
        let parent = self.objs[i].parent().map(str::to_string);
        let link = parent.filter(|p| p != name && self.get(p).is_some());
        self.objs[i].link = link.clone();
        match link.and_then(|p| self.get_mut(&p)) {
            Some(p) => p.children.insert(0, name.to_string()),
            None => self.roots.insert(0, name.to_string()),
        }
    }

    /// Takes `name` out of its parent's children.
    fn drop_parent(&mut self, name: &str) {
        let link = self.get_mut(name).and_then(|o| o.link.take());
        let list = match link.and_then(|p| self.get_mut(&p)) {
            Some(p) => &mut p.children,
            None => &mut self.roots,
        };
        list.retain(|c| c != name);
    }

    /// The current snapshot's name.
    pub fn current(&self) -> Option<&str> {
        self.current.as_deref()
    }

    /// Makes `name` the current snapshot; `None`, or a name the tree does not hold, leaves
    /// no current snapshot.
    pub fn set_current(&mut self, name: Option<&str>) {
        self.current = name.filter(|n| self.get(n).is_some()).map(str::to_string);
    }

    /// The children of `from` (the roots for `None`), newest first.
    fn children_of(&self, from: Option<&str>) -> &[String] {
        match from.and_then(|n| self.get(n)) {
            Some(o) => &o.children,
            None if from.is_none() => &self.roots,
            None => &[],
        }
    }

    /// The descendants of `from` (all snapshots for `None`), parents before children,
    /// newest sibling first.
    fn descendants(&self, from: Option<&str>) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack: Vec<&String> = self.children_of(from).iter().rev().collect();
        while let Some(name) = stack.pop() {
            out.push(name.clone());
            stack.extend(self.children_of(Some(name)).iter().rev());
        }
        out
    }

    /// `virDomainListAllSnapshots`: the names of the snapshots `flags`
    /// ([`snapshot_list`]) select, in libvirt's order for `TOPOLOGICAL` and `ROOTS`.
    pub fn list(&self, flags: u32) -> Result<Vec<String>, VirError> {
        VirError::check_flags(
            ErrorDomain::Test,
            flags,
            snapshot_list::ROOTS | snapshot_list::TOPOLOGICAL | FILTERS_ALL,
            "testDomainListAllSnapshots",
        )?;
        Ok(self.filter_names(None, flags))
    }

    /// `virDomainSnapshotListAllChildren`: the children of `name` (all its descendants with
    /// `DESCENDANTS`) that `flags` select.
    pub fn children(&self, name: &str, flags: u32) -> Result<Vec<String>, VirError> {
        VirError::check_flags(
            ErrorDomain::Test,
            flags,
            snapshot_list::DESCENDANTS | snapshot_list::TOPOLOGICAL | FILTERS_ALL,
            "testDomainSnapshotListAllChildren",
        )?;
        self.lookup(name)?;
        Ok(self.filter_names(Some(name), flags))
    }

    /// libvirt's `virDomainSnapshotObjListGetNames`.
    fn filter_names(&self, from: Option<&str>, flags: u32) -> Vec<String> {
        // ROOTS and DESCENDANTS share a bit with opposite meanings; listing from the top,
        // no bit means all descendants of the metaroot.
        let mut descendants = flags & snapshot_list::DESCENDANTS != 0;
        if from.is_none() {
            descendants = !descendants;
        }
        let metadata = flags & (snapshot_list::METADATA | snapshot_list::NO_METADATA);
        if metadata == snapshot_list::NO_METADATA {
            // Every snapshot here has metadata.
            return Vec::new();
        }
        let candidates = if descendants {
            if from.is_some() || flags & snapshot_list::TOPOLOGICAL != 0 {
                self.descendants(from)
            } else {
                self.names().map(str::to_string).collect()
            }
        } else {
            self.children_of(from).to_vec()
        };
        let mut filter = flags & (FILTERS_STATUS | FILTERS_LOCATION);
        if filter & FILTERS_STATUS == FILTERS_STATUS {
            filter &= !FILTERS_STATUS;
        }
        if filter & FILTERS_LOCATION == FILTERS_LOCATION {
            filter &= !FILTERS_LOCATION;
        }
        candidates
            .into_iter()
            .filter(|n| self.get(n).is_some_and(|o| keep(o, flags, filter)))
            .collect()
    }

    /// `virDomainSnapshotDelete` on the metadata ([`snapshot_delete`] flags): without
    /// flags the snapshot goes and its children move to its parent; `CHILDREN` removes it
    /// with all its descendants, `CHILDREN_ONLY` only the descendants. The current
    /// snapshot moves as libvirt moves it. Returns the names removed, descendants first in
    /// topological order.
    pub fn remove(&mut self, name: &str, flags: u32) -> Result<Vec<String>, VirError> {
        let both = snapshot_delete::CHILDREN | snapshot_delete::CHILDREN_ONLY;
        if flags & both == both {
            return Err(VirError::raw(
                ErrorDomain::DomainSnapshot,
                ErrorCode::InvalidArg,
                "Flags 'VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN' and \
                 'VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY' are mutually exclusive",
            ));
        }
        VirError::check_flags(ErrorDomain::Test, flags, both, "testDomainSnapshotDelete")?;
        self.lookup(name)?;
        let mut removed = Vec::new();
        if flags & both != 0 {
            let descendants = self.descendants(Some(name));
            let mut was_current = false;
            for d in &descendants {
                was_current |= self.current.as_deref() == Some(d.as_str());
                self.objs.retain(|o| &o.name != d);
            }
            if was_current {
                self.current = Some(name.to_string());
            }
            removed = descendants;
        } else {
            self.move_children_to_parent(name);
        }
        if flags & snapshot_delete::CHILDREN_ONLY != 0 {
            if let Some(o) = self.get_mut(name) {
                o.children.clear();
            }
            return Ok(removed);
        }
        self.drop_parent(name);
        if self.current.as_deref() == Some(name) {
            let parent = self.get(name).and_then(SnapshotObj::parent);
            self.current = parent.filter(|p| self.get(p).is_some()).map(str::to_string);
        }
        self.objs.retain(|o| o.name != name);
        removed.push(name.to_string());
        Ok(removed)
    }

    /// Gives the children of `name` to its parent in the tree (libvirt's
    /// `virDomainMomentMoveChildren`): they go before the parent's own children.
    fn move_children_to_parent(&mut self, name: &str) {
        let Some(obj) = self.get_mut(name) else {
            return;
        };
        let children = std::mem::take(&mut obj.children);
        let link = obj.link.clone();
        for c in &children {
            if let Some(child) = self.get_mut(c) {
                child.link = link.clone();
                set_parent_name(&mut child.def, link.clone());
            }
        }
        let list = match link.and_then(|p| self.get_mut(&p)) {
            Some(p) => &mut p.children,
            None => &mut self.roots,
        };
        list.splice(0..0, children);
    }
}

/// Whether `obj` passes the leaf filter of `flags` and the state and location `filter`
/// (`virDomainMomentObjListCopyNames` and `virDomainSnapshotFilter`).
fn keep(obj: &SnapshotObj, flags: u32, filter: u32) -> bool {
    let leaf = obj.children.is_empty();
    if flags & snapshot_list::LEAVES != 0 && !leaf {
        return false;
    }
    if flags & snapshot_list::NO_LEAVES != 0 && leaf {
        return false;
    }
    if filter & FILTERS_STATUS != 0 {
        let state = obj.def.state;
        let inactive = state == Some(SnapshotState::Shutoff);
        let disk_only = state == Some(SnapshotState::DiskSnapshot);
        if (inactive && filter & snapshot_list::INACTIVE == 0)
            || (disk_only && filter & snapshot_list::DISK_ONLY == 0)
            || (!inactive && !disk_only && filter & snapshot_list::ACTIVE == 0)
        {
            return false;
        }
    }
    let external = obj.is_external();
    !(filter & snapshot_list::INTERNAL != 0 && external
        || filter & snapshot_list::EXTERNAL != 0 && !external)
}
