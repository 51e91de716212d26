//! The domain objects a driver keeps (libvirt's `virDomainObj` and `virDomainObjList`):
//! each domain's live and persistent definitions, state, ID, persistence, autostart,
//! managed-save flag and snapshots, and the list that finds them by name, UUID or ID and
//! enforces libvirt's rules when a definition is added.
//!
//! The rules are those of libvirt's `conf/virdomainobjlist.c` and `conf/domain_conf.c`, so
//! every driver built on this list refuses the same things with the same errors.
//!
//! The list indexes its domains by UUID and by name. A domain's name and UUID therefore
//! change only through the list ([`DomainList::rename`]): a [`DomainObj`] lends its
//! definitions out only as [`DefMut`] guards, which undo any change to either.

use std::ops::{Deref, DerefMut};

use oxvirt_xml::types::Uuid;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use crate::driver::flags::{affect, list};
use crate::driver::state::{DomainState, ShutoffReason, StateReason};
use crate::driver::DomainRef;
use crate::objects::snapshots::SnapshotTree;
use crate::Domain;

mod objlist;

pub use objlist::DomainList;

/// Options of [`DomainList::add`] (libvirt's `VIR_DOMAIN_OBJ_LIST_ADD_*`).
pub mod add_flags {
    /// The definition is the live one of a domain about to start.
    pub const LIVE: u32 = 1;
    /// Refuse the definition if the domain is already running (or being started).
    pub const CHECK_LIVE: u32 = 2;
}

/// One domain as a driver keeps it.
#[derive(Debug, Clone)]
pub struct DomainObj {
    /// The definition in use: the live one while the domain runs, else the persistent one.
    def: Domain,
    /// The persistent definition while the domain runs (libvirt's `newDef`): what it
    /// returns to when it stops, and what `VIR_DOMAIN_XML_INACTIVE` shows.
    new_def: Option<Domain>,
    /// The state and its reason.
    pub state: StateReason,
    /// The ID while the domain runs, `-1` otherwise.
    pub id: i32,
    /// Whether the domain has a persistent definition.
    pub persistent: bool,
    /// Whether the domain starts with the host.
    pub autostart: bool,
    /// Whether a managed-save image exists.
    pub has_managed_save: bool,
    /// The state the domain was in when its managed-save image was written, if the driver
    /// keeps one.
    pub managed_save_state: Option<StateReason>,
    /// The domain's snapshots.
    pub snapshots: SnapshotTree,
}

impl DomainObj {
    /// A new, inactive, transient object for `def`, shut off for an unknown reason
    /// (libvirt's `virDomainObjNew`).
    pub fn new(def: Domain) -> Self {
        DomainObj {
            def,
            new_def: None,
            state: StateReason::Shutoff(ShutoffReason::Unknown),
            id: -1,
            persistent: false,
            autostart: false,
            has_managed_save: false,
            managed_save_state: None,
            snapshots: SnapshotTree::new(),
        }
    }

    /// The definition in use: the live one while the domain runs, else the persistent one.
    pub fn def(&self) -> &Domain {
        &self.def
    }

    /// The persistent definition kept aside while the domain runs (libvirt's `newDef`).
    pub fn new_def(&self) -> Option<&Domain> {
        self.new_def.as_ref()
    }

    /// The definition in use, to change it (all but its name and UUID: see [`DefMut`]).
    pub fn def_mut(&mut self) -> DefMut<'_> {
        DefMut::new(&mut self.def)
    }

    /// The domain's name.
    pub fn name(&self) -> &str {
        &self.def.name
    }

    /// The domain's UUID (nil if the definition has none, which a driver never lets in).
    pub fn uuid(&self) -> Uuid {
        self.def.uuid.unwrap_or_default()
    }

    /// Whether the domain runs (libvirt's `virDomainObjIsActive`: it has an ID).
    pub fn is_active(&self) -> bool {
        self.id != -1
    }

    /// The domain as calls name it, with its current ID.
    pub fn to_ref(&self) -> DomainRef {
        DomainRef {
            name: self.def.name.clone(),
            uuid: self.uuid(),
            id: self.id,
        }
    }

    /// The state alone.
    pub fn state(&self) -> DomainState {
        self.state.state()
    }

    /// libvirt's `virDomainObjCheckActive`: `VIR_ERR_OPERATION_INVALID` "domain is not
    /// running" unless the domain runs.
    pub fn check_active(&self) -> Result<(), VirError> {
        if self.is_active() {
            Ok(())
        } else {
            Err(VirError::new(
                ErrorDomain::Domain,
                ErrorCode::OperationInvalid,
                "domain is not running",
            ))
        }
    }

    /// libvirt's `virDomainObjAssignDef`: puts in a new definition. While the domain runs it
    /// becomes the persistent one; otherwise it becomes the live one (`live`, keeping the
    /// current one as persistent) or replaces the current one. Returns the definition it
    /// replaced, if any (what decides between `DEFINED_ADDED` and `DEFINED_UPDATED`).
    ///
    /// The domain keeps its name and UUID whatever `def` says (only
    /// [`DomainList::rename`] renames a domain).
    pub fn assign_def(&mut self, mut def: Domain, live: bool) -> Option<Domain> {
        def.name.clone_from(&self.def.name);
        def.uuid = self.def.uuid;
        if self.is_active() {
            self.new_def.replace(def)
        } else if live {
            let old = std::mem::replace(&mut self.def, def);
            if self.new_def.is_none() {
                self.new_def = Some(old);
            }
            None
        } else {
            Some(std::mem::replace(&mut self.def, def))
        }
    }

    /// libvirt's `virDomainObjSetDefTransient`: when a persistent domain starts, keeps a
    /// copy of its definition as the persistent one.
    fn set_def_transient(&mut self) {
        if self.persistent && self.new_def.is_none() {
            self.new_def = Some(self.def.clone());
        }
    }

    /// libvirt's `virDomainObjRemoveTransientDef`: when the domain stops, its persistent
    /// definition becomes the one in use again, without an ID.
    fn remove_transient_def(&mut self) {
        if let Some(def) = self.new_def.take() {
            self.def = def;
            self.def.id = None;
            self.id = -1;
        }
    }

    /// Marks the domain running with a fresh `id`, keeping its persistent definition
    /// aside; clears the managed-save image (it has been used or is now stale).
    pub fn start(&mut self, id: i32, state: StateReason) {
        self.state = state;
        self.id = id;
        self.set_def_transient();
        self.has_managed_save = false;
        self.managed_save_state = None;
    }

    /// Marks the domain shut off for `reason`, going back to its persistent definition
    /// (libvirt's test driver's `testDomainShutdownState`).
    pub fn stop(&mut self, reason: ShutoffReason) {
        self.remove_transient_def();
        self.state = StateReason::Shutoff(reason);
    }

    /// The persistent definition: `new_def` while the domain runs, else `def`
    /// (libvirt's `virDomainObjGetPersistentDef`); what `VIR_DOMAIN_XML_INACTIVE` formats.
    pub fn persistent_def(&self) -> &Domain {
        self.new_def.as_ref().unwrap_or(&self.def)
    }

    /// libvirt's `virDomainObjUpdateModificationImpact`: resolves `VIR_DOMAIN_AFFECT_CURRENT`
    /// to `LIVE` or `CONFIG` and checks that the domain has what the flags name. Returns the
    /// flags with the choice made.
    pub fn update_modification_impact(&self, flags: u32) -> Result<u32, VirError> {
        let mut flags = flags;
        if flags & (affect::LIVE | affect::CONFIG) == affect::CURRENT {
            flags |= if self.is_active() {
                affect::LIVE
            } else {
                affect::CONFIG
            };
        }
        if !self.is_active() && flags & affect::LIVE != 0 {
            return Err(VirError::new(
                ErrorDomain::Domain,
                ErrorCode::OperationInvalid,
                "domain is not running",
            ));
        }
        if !self.persistent && flags & affect::CONFIG != 0 {
            return Err(VirError::new(
                ErrorDomain::Domain,
                ErrorCode::OperationInvalid,
                "transient domains do not have any persistent config",
            ));
        }
        Ok(flags)
    }

    /// libvirt's `virDomainObjGetDefs`: the live and the persistent definition the flags
    /// name (either may be `None`), for a change applied to both.
    pub fn defs_mut(
        &mut self,
        flags: u32,
    ) -> Result<(Option<DefMut<'_>>, Option<DefMut<'_>>), VirError> {
        let flags = self.update_modification_impact(flags)?;
        let want_live = flags & affect::LIVE != 0;
        let want_config = flags & affect::CONFIG != 0;
        if self.is_active() {
            let live = want_live.then(|| DefMut::new(&mut self.def));
            let config = if want_config {
                self.new_def.as_mut().map(DefMut::new)
            } else {
                None
            };
            Ok((live, config))
        } else {
            Ok((None, want_config.then(|| DefMut::new(&mut self.def))))
        }
    }

    /// libvirt's `virDomainObjGetOneDefState`: the one definition the flags name, and
    /// whether it is the live one. `LIVE` and `CONFIG` together are refused.
    pub fn one_def_mut(&mut self, flags: u32) -> Result<(DefMut<'_>, bool), VirError> {
        check_live_config_exclusive(flags)?;
        let flags = self.update_modification_impact(flags)?;
        if flags & affect::LIVE != 0 {
            Ok((DefMut::new(&mut self.def), true))
        } else if self.is_active() {
            // The persistent definition of a running domain (kept aside when it started).
            let def = self.new_def.get_or_insert_with(|| self.def.clone());
            Ok((DefMut::new(def), false))
        } else {
            Ok((DefMut::new(&mut self.def), false))
        }
    }

    /// Read-only [`DomainObj::one_def_mut`].
    pub fn one_def(&self, flags: u32) -> Result<(&Domain, bool), VirError> {
        check_live_config_exclusive(flags)?;
        let flags = self.update_modification_impact(flags)?;
        if flags & affect::LIVE != 0 {
            Ok((&self.def, true))
        } else {
            Ok((self.persistent_def(), false))
        }
    }

    /// Whether the domain passes `virConnectListAllDomains`' filter `flags`
    /// (libvirt's `virDomainObjMatchFilter`).
    pub fn matches(&self, flags: u32) -> bool {
        let has = |f: u32| flags & f != 0;
        let either = |a: u32, b: u32, is_a: bool| {
            !(has(a) || has(b)) || (has(a) && is_a) || (has(b) && !is_a)
        };
        if !either(list::ACTIVE, list::INACTIVE, self.is_active()) {
            return false;
        }
        if !either(list::PERSISTENT, list::TRANSIENT, self.persistent) {
            return false;
        }
        let state_filters = list::RUNNING | list::PAUSED | list::SHUTOFF | list::OTHER;
        if has(state_filters) {
            let st = self.state();
            let ok = (has(list::RUNNING) && st == DomainState::Running)
                || (has(list::PAUSED) && st == DomainState::Paused)
                || (has(list::SHUTOFF) && st == DomainState::Shutoff)
                || (has(list::OTHER)
                    && !matches!(
                        st,
                        DomainState::Running | DomainState::Paused | DomainState::Shutoff
                    ));
            if !ok {
                return false;
            }
        }
        if !either(
            list::MANAGEDSAVE,
            list::NO_MANAGEDSAVE,
            self.has_managed_save,
        ) {
            return false;
        }
        if !either(list::AUTOSTART, list::NO_AUTOSTART, self.autostart) {
            return false;
        }
        if !either(
            list::HAS_SNAPSHOT,
            list::NO_SNAPSHOT,
            !self.snapshots.is_empty(),
        ) {
            return false;
        }
        // Checkpoints are not kept: every domain has none.
        either(list::HAS_CHECKPOINT, list::NO_CHECKPOINT, false)
    }
}

/// `VIR_ERR_INVALID_ARG` when both `VIR_DOMAIN_AFFECT_LIVE` and `VIR_DOMAIN_AFFECT_CONFIG`
/// are given to a call that changes one definition (libvirt's `VIR_EXCLUSIVE_FLAGS_RET`).
fn check_live_config_exclusive(flags: u32) -> Result<(), VirError> {
    if flags & affect::LIVE != 0 && flags & affect::CONFIG != 0 {
        return Err(VirError::raw(
            ErrorDomain::Domain,
            ErrorCode::InvalidArg,
            "Flags 'VIR_DOMAIN_AFFECT_LIVE' and 'VIR_DOMAIN_AFFECT_CONFIG' are mutually exclusive",
        ));
    }
    Ok(())
}

/// A domain's definition lent out to be changed: everything may change but the name and
/// the UUID, which identify the domain in its [`DomainList`] and change only through
/// [`DomainList::rename`]. A change to either is undone when the guard is dropped.
#[derive(Debug)]
pub struct DefMut<'a> {
    def: &'a mut Domain,
    // Not `name`/`uuid`: within this module those would shadow the definition's fields.
    pinned_name: String,
    pinned_uuid: Option<Uuid>,
}

impl<'a> DefMut<'a> {
    fn new(def: &'a mut Domain) -> Self {
        let pinned_name = def.name.clone();
        let pinned_uuid = def.uuid;
        DefMut {
            def,
            pinned_name,
            pinned_uuid,
        }
    }
}

impl Deref for DefMut<'_> {
    type Target = Domain;

    fn deref(&self) -> &Domain {
        self.def
    }
}

impl DerefMut for DefMut<'_> {
    fn deref_mut(&mut self) -> &mut Domain {
        self.def
    }
}

impl Drop for DefMut<'_> {
    fn drop(&mut self) {
        if self.def.name != self.pinned_name {
            self.def.name = std::mem::take(&mut self.pinned_name);
        }
        self.def.uuid = self.pinned_uuid;
    }
}

#[cfg(test)]
mod tests;
