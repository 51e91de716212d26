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
    assert_eq!(obj.def.title.as_deref(), Some("t"));
    assert!(old.is_some_and(|o| o.title.is_none()));
    assert_eq!(l.len(), 1);
}

#[test]
fn add_generates_a_missing_uuid() {
    let mut l = DomainList::new();
    let (obj, old) = l.add(Domain::new("x", VirtType::Test), 0).unwrap();
    assert!(old.is_none());
    assert!(obj.def.uuid.is_some_and(|u| !u.is_nil()));
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
    assert_eq!(obj.def.title.as_deref(), Some("live"));
    assert_eq!(obj.inactive_def().title, None);
    // Defining while running replaces the persistent definition only.
    let mut next = def("a", 1);
    next.title = Some("next".into());
    let old = obj.assign_def(next, false);
    assert!(old.is_some());
    assert_eq!(obj.def.title.as_deref(), Some("live"));
    obj.stop(ShutoffReason::Destroyed);
    assert_eq!(obj.def.title.as_deref(), Some("next"));
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
    assert_eq!(o.def.title, None);
    assert_eq!(o.persistent_def().title.as_deref(), Some("cfg"));
    let (live, config) = o.defs_mut(affect::LIVE | affect::CONFIG).unwrap();
    assert!(live.is_some() && config.is_some());
    let (live, config) = o.defs_mut(0).unwrap();
    assert!(live.is_some() && config.is_none());
    assert!(o.check_active().is_ok());
}
