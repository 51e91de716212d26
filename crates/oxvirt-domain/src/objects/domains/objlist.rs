//! The list of a driver's domains (libvirt's `virDomainObjList`): kept in the order the
//! domains were added, indexed by UUID and by name so that lookups do not scan.

use std::collections::HashMap;

use oxvirt_xml::types::Uuid;
use oxvirt_xml::{ErrorCode, ErrorDomain, VirError};

use super::{add_flags, DomainObj};
use crate::Domain;

/// Every domain of a driver, in the order they were added.
///
/// The domains sit in slots in the order they were added; a removed domain leaves an empty
/// slot (so that the others keep theirs) until the empty slots outnumber the domains and
/// the list closes them up. The UUID and name indexes map to slots. Names and UUIDs change
/// only through the list ([`DomainList::rename`]), so the indexes always agree with the
/// domains.
#[derive(Debug, Clone)]
pub struct DomainList {
    // Boxed: a domain object is large (two definitions), and empty slots stay small.
    slots: Vec<Option<Box<DomainObj>>>,
    by_uuid: HashMap<Uuid, usize>,
    by_name: HashMap<String, usize>,
    next_id: i32,
}

impl Default for DomainList {
    fn default() -> Self {
        Self::new()
    }
}

fn domain_error(code: ErrorCode, detail: String) -> VirError {
    VirError::new(ErrorDomain::Domain, code, detail)
}

impl DomainList {
    /// An empty list whose first running domain gets ID 1.
    pub fn new() -> Self {
        DomainList {
            slots: Vec::new(),
            by_uuid: HashMap::new(),
            by_name: HashMap::new(),
            next_id: 1,
        }
    }

    /// The number of domains.
    pub fn len(&self) -> usize {
        self.by_uuid.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_uuid.is_empty()
    }

    /// Every domain, in the order they were added.
    pub fn iter(&self) -> impl Iterator<Item = &DomainObj> {
        self.slots.iter().flatten().map(|b| &**b)
    }

    /// Every domain, to change them (all but their names and UUIDs).
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut DomainObj> {
        self.slots.iter_mut().flatten().map(|b| &mut **b)
    }

    fn slot(&self, at: usize) -> Option<&DomainObj> {
        self.slots.get(at)?.as_deref()
    }

    fn slot_mut(&mut self, at: usize) -> Option<&mut DomainObj> {
        self.slots.get_mut(at)?.as_deref_mut()
    }

    /// A fresh domain ID. IDs only grow; one is never given out twice.
    pub fn alloc_id(&mut self) -> i32 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// The ID the next started domain gets.
    pub fn next_id(&self) -> i32 {
        self.next_id
    }

    /// Marks `id` as given out (a domain found running when a daemon restarts): the next
    /// fresh ID is above it.
    pub fn reserve_id(&mut self, id: i32) {
        if id >= self.next_id {
            self.next_id = id.saturating_add(1);
        }
    }

    /// The domain with UUID `uuid`.
    pub fn find_by_uuid(&self, uuid: &Uuid) -> Option<&DomainObj> {
        self.slot(*self.by_uuid.get(uuid)?)
    }

    /// The domain with UUID `uuid`, to change it.
    pub fn find_by_uuid_mut(&mut self, uuid: &Uuid) -> Option<&mut DomainObj> {
        self.slot_mut(*self.by_uuid.get(uuid)?)
    }

    /// The domain named `name`.
    pub fn find_by_name(&self, name: &str) -> Option<&DomainObj> {
        self.slot(*self.by_name.get(name)?)
    }

    /// The domain named `name`, to change it.
    pub fn find_by_name_mut(&mut self, name: &str) -> Option<&mut DomainObj> {
        let at = *self.by_name.get(name)?;
        self.slot_mut(at)
    }

    /// The running domain with ID `id`.
    pub fn find_by_id(&self, id: i32) -> Option<&DomainObj> {
        if id < 0 {
            return None;
        }
        self.iter().find(|o| o.is_active() && o.id == id)
    }

    /// Adds `def` with libvirt's rules (`virDomainObjListAdd`), returning the domain's
    /// object and the definition it replaced:
    ///
    /// - a domain with the same UUID but another name: `VIR_ERR_OPERATION_FAILED` "domain
    ///   'old' is already defined with uuid U";
    /// - with [`add_flags::CHECK_LIVE`], a domain with the same UUID and name that runs:
    ///   `VIR_ERR_OPERATION_INVALID` "domain 'x' is already active" (or "is already being
    ///   started" when it is transient);
    /// - a domain with another UUID but the same name: `VIR_ERR_OPERATION_FAILED` "domain
    ///   'x' already exists with uuid U".
    ///
    /// A new domain is transient and inactive; an existing one gets the definition as
    /// [`DomainObj::assign_def`] puts it in ([`add_flags::LIVE`] for a domain about to
    /// start).
    pub fn add(
        &mut self,
        mut def: Domain,
        flags: u32,
    ) -> Result<(&mut DomainObj, Option<Domain>), VirError> {
        let uuid = match def.uuid {
            Some(u) => u,
            None => {
                let u = Uuid::new_v4()
                    .map_err(|e| domain_error(ErrorCode::InternalError, e.to_string()))?;
                def.uuid = Some(u);
                u
            }
        };
        if let Some(&at) = self.by_uuid.get(&uuid) {
            return self.replace_def(at, def, flags);
        }
        if let Some(vm) = self.find_by_name(&def.name) {
            return Err(domain_error(
                ErrorCode::OperationFailed,
                format!(
                    "domain '{}' already exists with uuid {}",
                    def.name,
                    vm.uuid()
                ),
            ));
        }
        let at = self.slots.len();
        self.by_uuid.insert(uuid, at);
        self.by_name.insert(def.name.clone(), at);
        self.slots.push(Some(Box::new(DomainObj::new(def))));
        let obj = self
            .slot_mut(at)
            .ok_or_else(|| domain_error(ErrorCode::InternalError, "lost a new domain".into()))?;
        Ok((obj, None))
    }

    /// [`DomainList::add`] for a definition whose UUID is that of the domain in slot `at`.
    fn replace_def(
        &mut self,
        at: usize,
        def: Domain,
        flags: u32,
    ) -> Result<(&mut DomainObj, Option<Domain>), VirError> {
        let vm = self
            .slot_mut(at)
            .ok_or_else(|| domain_error(ErrorCode::InternalError, "stale UUID index".into()))?;
        if vm.name() != def.name {
            return Err(domain_error(
                ErrorCode::OperationFailed,
                format!(
                    "domain '{}' is already defined with uuid {}",
                    vm.name(),
                    vm.uuid()
                ),
            ));
        }
        if flags & add_flags::CHECK_LIVE != 0 {
            if vm.is_active() {
                return Err(domain_error(
                    ErrorCode::OperationInvalid,
                    format!("domain '{}' is already active", vm.name()),
                ));
            }
            if !vm.persistent {
                return Err(domain_error(
                    ErrorCode::OperationInvalid,
                    format!("domain '{}' is already being started", vm.name()),
                ));
            }
        }
        let old = vm.assign_def(def, flags & add_flags::LIVE != 0);
        Ok((vm, old))
    }

    /// Renames the domain with UUID `uuid` to `new_name` (libvirt's
    /// `virDomainObjListRename`), in its definitions and in the name index:
    /// `VIR_ERR_OPERATION_INVALID` "Can't rename domain to itself" or "domain with name
    /// 'x' already exists" otherwise. Whether a domain may be renamed now (libvirt renames
    /// only inactive ones) is the driver's to check.
    pub fn rename(&mut self, uuid: &Uuid, new_name: &str) -> Result<(), VirError> {
        let at = *self.by_uuid.get(uuid).ok_or_else(|| {
            domain_error(
                ErrorCode::NoDomain,
                format!("no domain with matching uuid '{uuid}'"),
            )
        })?;
        if self.slot(at).is_some_and(|o| o.name() == new_name) {
            return Err(domain_error(
                ErrorCode::OperationInvalid,
                "Can't rename domain to itself".into(),
            ));
        }
        if self.by_name.contains_key(new_name) {
            return Err(domain_error(
                ErrorCode::OperationInvalid,
                format!("domain with name '{new_name}' already exists"),
            ));
        }
        let obj = self
            .slot_mut(at)
            .ok_or_else(|| domain_error(ErrorCode::InternalError, "stale UUID index".into()))?;
        let old = std::mem::replace(&mut obj.def.name, new_name.to_string());
        if let Some(def) = obj.new_def.as_mut() {
            def.name = new_name.to_string();
        }
        self.by_name.remove(&old);
        self.by_name.insert(new_name.to_string(), at);
        Ok(())
    }

    /// Takes the domain with UUID `uuid` out of the list.
    pub fn remove(&mut self, uuid: &Uuid) -> Option<DomainObj> {
        let at = self.by_uuid.remove(uuid)?;
        let obj = *self.slots.get_mut(at)?.take()?;
        self.by_name.remove(obj.name());
        if self.slots.len() > 2 * self.len() + 16 {
            self.close_up();
        }
        Some(obj)
    }

    /// Drops the empty slots, keeping the order, and points the indexes at the new slots.
    fn close_up(&mut self) {
        self.slots.retain(Option::is_some);
        for (at, obj) in self.slots.iter().flatten().enumerate() {
            if let Some(slot) = self.by_uuid.get_mut(&obj.uuid()) {
                *slot = at;
            }
            if let Some(slot) = self.by_name.get_mut(obj.name()) {
                *slot = at;
            }
        }
    }

    /// The domains passing `virConnectListAllDomains`' filter `flags`
    /// (libvirt's `virDomainObjListExport`), in list order.
    pub fn export(&self, flags: u32) -> Vec<&DomainObj> {
        self.iter().filter(|o| o.matches(flags)).collect()
    }

    /// The IDs of the running domains (`virConnectListDomains`).
    pub fn active_ids(&self) -> Vec<i32> {
        self.iter()
            .filter(|o| o.is_active())
            .map(|o| o.id)
            .collect()
    }

    /// The names of the inactive domains (`virConnectListDefinedDomains`).
    pub fn inactive_names(&self) -> Vec<String> {
        self.iter()
            .filter(|o| !o.is_active())
            .map(|o| o.name().to_string())
            .collect()
    }
}
