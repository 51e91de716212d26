//! Unit tests of the domain list and objects, with libvirt's rules and messages.

use super::*;
use crate::driver::state::{PausedReason, RunningReason};
use crate::VirtType;

fn def(name: &str, uuid: u8) -> Domain {
    let mut d = Domain::new(name, VirtType::Test);
    d.uuid = Some(Uuid::from([uuid; 16]));
    d
}

fn err(r: Result<(&mut DomainObj, Option<Domain>), VirError>) -> (ErrorCode, String) {
    let e = r.expect_err("an error");
    assert_eq!(e.domain, ErrorDomain::Domain);
    (e.code, e.message)
}

#[test]
fn add_refuses_name_and_uuid_clashes_as_libvirt() {
    let mut l = DomainList::new();
    l.add(def("a", 1), 0).unwrap();
    let u1 = Uuid::from([1; 16]);
    assert_eq!(
        err(l.add(def("b", 1), 0)),
        (
            ErrorCode::OperationFailed,
            format!("operation failed: domain 'a' is already defined with uuid {u1}")
        )
    );
    assert_eq!(
        err(l.add(def("a", 2), 0)),
        (
            ErrorCode::OperationFailed,
            format!("operation failed: domain 'a' already exists with uuid {u1}")
        )
    );
    // Same name and UUID: the definition is replaced, the old one returned.
    let mut newer = def("a", 1);
    newer.title = Some("t".into());
    let (obj, old) = l.add(newer, 0).unwrap();
    assert_eq!(obj.def().title.as_deref(), Some("t"));
    assert!(old.is_some_and(|o| o.title.is_none()));
    assert_eq!(l.len(), 1);
}

#[test]
fn add_generates_a_missing_uuid() {
    let mut l = DomainList::new();
    let (obj, old) = l.add(Domain::new("x", VirtType::Test), 0).unwrap();
    assert!(old.is_none());
    assert!(obj.def().uuid.is_some_and(|u| !u.is_nil()));
    assert!(!obj.persistent && !obj.is_active());
    assert_eq!(obj.state, StateReason::Shutoff(ShutoffReason::Unknown));
}

#[test]
fn check_live_refuses_running_and_transient_domains() {
    let mut l = DomainList::new();
    let id = l.alloc_id();
    let (obj, _) = l.add(def("a", 1), 0).unwrap();
    obj.persistent = true;
    obj.start(id, StateReason::Running(RunningReason::Booted));
    let flags = add_flags::LIVE | add_flags::CHECK_LIVE;
    assert_eq!(
        err(l.add(def("a", 1), flags)),
        (
            ErrorCode::OperationInvalid,
            "Requested operation is not valid: domain 'a' is already active".into()
        )
    );
    l.add(def("t", 2), 0).unwrap();
    assert_eq!(
        err(l.add(def("t", 2), flags)).1,
        "Requested operation is not valid: domain 't' is already being started"
    );
}

#[test]
fn live_definitions_keep_the_persistent_one_aside() {
    let mut l = DomainList::new();
    let (obj, _) = l.add(def("a", 1), 0).unwrap();
    obj.persistent = true;
    let mut live = def("a", 1);
    live.title = Some("live".into());
    let (obj, old) = l.add(live, add_flags::LIVE).unwrap();
    assert!(old.is_none());
    obj.start(7, StateReason::Running(RunningReason::Booted));
    assert_eq!(obj.def().title.as_deref(), Some("live"));
    assert_eq!(obj.persistent_def().title, None);
    // Defining while running replaces the persistent definition only.
    let mut next = def("a", 1);
    next.title = Some("next".into());
    let old = obj.assign_def(next, false);
    assert!(old.is_some());
    assert_eq!(obj.def().title.as_deref(), Some("live"));
    obj.stop(ShutoffReason::Destroyed);
    assert_eq!(obj.def().title.as_deref(), Some("next"));
    assert_eq!((obj.id, obj.is_active()), (-1, false));
    assert_eq!(obj.state, StateReason::Shutoff(ShutoffReason::Destroyed));
}

#[test]
fn ids_grow_and_are_never_reused() {
    let mut l = DomainList::new();
    assert_eq!((l.alloc_id(), l.alloc_id()), (1, 2));
    let id = l.alloc_id();
    let (obj, _) = l.add(def("a", 1), 0).unwrap();
    obj.start(id, StateReason::Running(RunningReason::Booted));
    assert_eq!(l.find_by_id(3).map(DomainObj::name), Some("a"));
    assert!(l.find_by_id(-1).is_none());
    l.remove(&Uuid::from([1; 16]));
    assert!(l.find_by_id(3).is_none());
    assert_eq!(l.alloc_id(), 4);
}

#[test]
fn lookups() {
    let mut l = DomainList::new();
    l.add(def("a", 1), 0).unwrap();
    l.add(def("b", 2), 0).unwrap();
    assert_eq!(
        l.find_by_name("b").map(|o| o.uuid()),
        Some(Uuid::from([2; 16]))
    );
    assert_eq!(
        l.find_by_uuid(&Uuid::from([1; 16])).map(DomainObj::name),
        Some("a")
    );
    assert!(l.find_by_name("c").is_none());
    assert_eq!(l.inactive_names(), vec!["a".to_string(), "b".to_string()]);
    assert!(l.active_ids().is_empty());
}

#[test]
fn export_filters_as_virdomainobjlist() {
    let mut l = DomainList::new();
    let (o, _) = l.add(def("run", 1), 0).unwrap();
    o.persistent = true;
    o.start(1, StateReason::Running(RunningReason::Booted));
    let (o, _) = l.add(def("pause", 2), 0).unwrap();
    o.start(2, StateReason::Paused(PausedReason::User));
    let (o, _) = l.add(def("off", 3), 0).unwrap();
    o.persistent = true;
    o.autostart = true;
    o.has_managed_save = true;
    o.state = StateReason::Shutoff(ShutoffReason::Saved);
    let (o, _) = l.add(def("crash", 4), 0).unwrap();
    o.persistent = true;
    o.start(
        3,
        StateReason::Crashed(crate::driver::state::CrashedReason::Panicked),
    );
    let names =
        |f: u32| -> Vec<String> { l.export(f).iter().map(|o| o.name().to_string()).collect() };
    assert_eq!(names(0), ["run", "pause", "off", "crash"]);
    assert_eq!(names(list::ACTIVE), ["run", "pause", "crash"]);
    assert_eq!(names(list::INACTIVE), ["off"]);
    assert_eq!(names(list::ACTIVE | list::INACTIVE).len(), 4);
    assert_eq!(names(list::TRANSIENT), ["pause"]);
    assert_eq!(names(list::PERSISTENT | list::ACTIVE), ["run", "crash"]);
    assert_eq!(names(list::RUNNING), ["run"]);
    assert_eq!(names(list::PAUSED | list::SHUTOFF), ["pause", "off"]);
    assert_eq!(names(list::OTHER), ["crash"]);
    assert_eq!(names(list::MANAGEDSAVE), ["off"]);
    assert_eq!(names(list::NO_MANAGEDSAVE).len(), 3);
    assert_eq!(names(list::AUTOSTART), ["off"]);
    assert_eq!(names(list::NO_AUTOSTART).len(), 3);
    assert!(names(list::HAS_SNAPSHOT).is_empty());
    assert_eq!(names(list::NO_SNAPSHOT).len(), 4);
    assert!(names(list::HAS_CHECKPOINT).is_empty());
    assert_eq!(names(list::NO_CHECKPOINT).len(), 4);
}

#[test]
fn modification_impact() {
    let mut l = DomainList::new();
    let (o, _) = l.add(def("a", 1), 0).unwrap();
    let e = o.update_modification_impact(affect::LIVE).unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (
            ErrorCode::OperationInvalid,
            "Requested operation is not valid: domain is not running"
        )
    );
    let e = o.update_modification_impact(affect::CURRENT).unwrap_err();
    assert_eq!(
        e.message,
        "Requested operation is not valid: transient domains do not have any persistent config"
    );
    o.persistent = true;
    assert_eq!(o.update_modification_impact(0).unwrap(), affect::CONFIG);
    o.start(1, StateReason::Running(RunningReason::Booted));
    assert_eq!(o.update_modification_impact(0).unwrap(), affect::LIVE);
    let e = o.one_def_mut(affect::LIVE | affect::CONFIG).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidArg);
    assert_eq!(
        e.message,
        "Flags 'VIR_DOMAIN_AFFECT_LIVE' and 'VIR_DOMAIN_AFFECT_CONFIG' are mutually exclusive"
    );
    o.one_def_mut(affect::CONFIG).unwrap().0.title = Some("cfg".into());
    assert_eq!(o.def().title, None);
    assert_eq!(o.persistent_def().title.as_deref(), Some("cfg"));
    let (live, config) = o.defs_mut(affect::LIVE | affect::CONFIG).unwrap();
    assert!(live.is_some() && config.is_some());
    drop((live, config));
    let (live, config) = o.defs_mut(0).unwrap();
    assert!(live.is_some() && config.is_none());
    drop((live, config));
    assert!(o.check_active().is_ok());
}

#[test]
fn the_indexes_follow_additions_and_removals_in_order() {
    let mut l = DomainList::new();
    for (i, name) in ["c", "a", "b", "d"].iter().enumerate() {
        l.add(def(name, i as u8 + 1), 0).unwrap();
    }
    l.remove(&Uuid::from([2; 16]));
    let names: Vec<&str> = l.iter().map(DomainObj::name).collect();
    assert_eq!(
        names,
        ["c", "b", "d"],
        "insertion order, without the removed one"
    );
    assert!(l.find_by_name("a").is_none());
    assert!(l.find_by_uuid(&Uuid::from([2; 16])).is_none());
    assert_eq!(
        l.find_by_name("d").map(DomainObj::uuid),
        Some(Uuid::from([4; 16]))
    );
    assert_eq!(
        l.find_by_uuid(&Uuid::from([3; 16])).map(DomainObj::name),
        Some("b")
    );
    // The freed name and UUID can be used again; the newcomer goes last.
    l.add(def("a", 2), 0).unwrap();
    let names: Vec<&str> = l.iter().map(DomainObj::name).collect();
    assert_eq!(names, ["c", "b", "d", "a"]);
    assert_eq!(l.len(), 4);
    assert!(l.remove(&Uuid::from([9; 16])).is_none());
}

#[test]
fn rename_updates_the_index_with_libvirts_refusals() {
    let mut l = DomainList::new();
    l.add(def("a", 1), 0).unwrap();
    l.add(def("b", 2), 0).unwrap();
    let u1 = Uuid::from([1; 16]);
    let e = l.rename(&u1, "a").unwrap_err();
    assert_eq!(
        (e.code, e.domain, e.message.as_str()),
        (
            ErrorCode::OperationInvalid,
            ErrorDomain::Domain,
            "Requested operation is not valid: Can't rename domain to itself"
        )
    );
    assert_eq!(
        l.rename(&u1, "b").unwrap_err().message,
        "Requested operation is not valid: domain with name 'b' already exists"
    );
    l.rename(&u1, "z").unwrap();
    assert!(l.find_by_name("a").is_none());
    assert_eq!(l.find_by_name("z").map(DomainObj::uuid), Some(u1));
    assert_eq!(l.find_by_uuid(&u1).map(DomainObj::name), Some("z"));
    // The old name is free again.
    l.add(def("a", 3), 0).unwrap();
    // A running domain's persistent definition is renamed too.
    let id = l.alloc_id();
    let obj = l.find_by_uuid_mut(&u1).unwrap();
    obj.persistent = true;
    obj.start(id, StateReason::Running(RunningReason::Booted));
    l.rename(&u1, "y").unwrap();
    let obj = l.find_by_uuid(&u1).unwrap();
    assert_eq!(
        (obj.def().name.as_str(), obj.persistent_def().name.as_str()),
        ("y", "y")
    );
}

#[test]
fn definitions_lent_out_keep_their_name_and_uuid() {
    let mut l = DomainList::new();
    l.add(def("a", 1), 0).unwrap();
    let u1 = Uuid::from([1; 16]);
    let obj = l.find_by_uuid_mut(&u1).unwrap();
    obj.persistent = true;
    {
        let mut d = obj.def_mut();
        d.name = "renamed".into();
        d.uuid = Some(Uuid::from([7; 16]));
        d.title = Some("kept".into());
    }
    assert_eq!(obj.name(), "a");
    assert_eq!(obj.uuid(), u1);
    assert_eq!(obj.def().title.as_deref(), Some("kept"));
    let (mut one, _) = obj.one_def_mut(affect::CONFIG).unwrap();
    one.name = "other".into();
    drop(one);
    let (_, config) = obj.defs_mut(affect::CONFIG).unwrap();
    config.unwrap().name = "third".into();
    assert_eq!(obj.name(), "a");
    // A definition put in whole keeps the domain's name and UUID too.
    let mut other = def("elsewhere", 5);
    other.title = Some("new".into());
    obj.assign_def(other, false);
    assert_eq!((obj.name(), obj.uuid()), ("a", u1));
    assert_eq!(obj.def().title.as_deref(), Some("new"));
    assert_eq!(l.find_by_name("a").map(DomainObj::uuid), Some(u1));
    assert!(l.find_by_name("elsewhere").is_none());
}

#[test]
fn removals_close_up_without_losing_order_or_lookups() {
    let mut l = DomainList::new();
    for i in 0..40u8 {
        l.add(def(&format!("d{i}"), i + 1), 0).unwrap();
    }
    // Removing most of them makes the list close up its empty slots on the way.
    for i in (0..40u8).filter(|i| i % 4 != 0) {
        assert!(l.remove(&Uuid::from([i + 1; 16])).is_some());
    }
    let names: Vec<&str> = l.iter().map(DomainObj::name).collect();
    assert_eq!(
        names,
        ["d0", "d4", "d8", "d12", "d16", "d20", "d24", "d28", "d32", "d36"]
    );
    assert_eq!(l.len(), 10);
    for i in (0..40u8).step_by(4) {
        let name = format!("d{i}");
        assert_eq!(
            l.find_by_name(&name).map(DomainObj::uuid),
            Some(Uuid::from([i + 1; 16]))
        );
        assert_eq!(
            l.find_by_uuid(&Uuid::from([i + 1; 16]))
                .map(DomainObj::name),
            Some(name.as_str())
        );
    }
    assert!(l.find_by_name("d1").is_none());
    l.add(def("new", 200), 0).unwrap();
    assert_eq!(l.iter().last().map(DomainObj::name), Some("new"));
    assert_eq!(
        l.find_by_name("new").map(DomainObj::uuid),
        Some(Uuid::from([200; 16]))
    );
    assert!(l.remove(&Uuid::from([1; 16])).is_some());
    assert_eq!(l.iter().next().map(DomainObj::name), Some("d4"));
}
