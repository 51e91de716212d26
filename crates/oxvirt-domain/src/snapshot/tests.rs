//! Unit tests of the snapshot model.

use super::*;
use oxvirt_xml::ErrorCode;

const REDEFINE: SnapshotParseFlags = SnapshotParseFlags {
    redefine: true,
    internal: false,
    offline: false,
};

const RECORD: SnapshotParseFlags = SnapshotParseFlags {
    redefine: true,
    internal: true,
    offline: false,
};

fn doc(xml: &str) -> DomainSnapshot {
    DomainSnapshot::parse(xml).unwrap().snapshot
}

fn err(xml: &str, flags: SnapshotParseFlags) -> (ErrorCode, String) {
    let e = DomainSnapshot::parse_with(xml, flags).unwrap_err();
    (e.code, e.message)
}

#[test]
fn a_libvirt_record_round_trips_byte_for_byte() {
    let xml =
        "<domainsnapshot>\n  <name>my snap name</name>\n  <description>!@#$%^</description>\n  \
               <state>running</state>\n  <parent>\n    <name>earlier_snap</name>\n  </parent>\n  \
               <creationTime>1272917631</creationTime>\n  <memory snapshot='internal'/>\n  \
               <domain>\n    <uuid>9d37b878-a7cc-9f9a-b78f-49b3abad25a8</uuid>\n  </domain>\n  \
               <active>1</active>\n</domainsnapshot>\n";
    let snap = doc(xml);
    assert_eq!(snap.state, Some(SnapshotState::Running));
    assert_eq!(snap.creation_time, Some(1272917631));
    assert_eq!(snap.active, Some(true));
    assert_eq!(
        snap.domain_uuid().as_deref(),
        Some("9d37b878-a7cc-9f9a-b78f-49b3abad25a8")
    );
    assert_eq!(snap.to_xml(), xml);
    let recorded = DomainSnapshot::parse_with(xml, RECORD).unwrap();
    assert_eq!(recorded.snapshot, snap);
    assert!(recorded.warnings.is_empty(), "{:?}", recorded.warnings);
}

#[test]
fn creating_ignores_what_only_a_redefinition_says() {
    let xml = "<domainsnapshot><name>s</name><state>bogus</state><creationTime>x</creationTime>\
               <parent><name>p</name></parent><memory snapshot='external' file='/m'/>\
               <domain><uuid>u</uuid></domain><active>1</active></domainsnapshot>";
    let parsed = DomainSnapshot::parse_with(xml, SnapshotParseFlags::default()).unwrap();
    let snap = parsed.snapshot;
    assert_eq!(
        (snap.state, snap.creation_time, snap.parent),
        (None, None, None)
    );
    assert_eq!((snap.domain, snap.active), (None, None));
    assert_eq!(snap.memory, Some(SnapshotLocation::External));
    assert_eq!(parsed.warnings.len(), 5, "{:?}", parsed.warnings);
    assert_eq!(
        parsed.warnings[0].message,
        "element 'creationTime' ignored: only a redefined snapshot records it"
    );
}

#[test]
fn redefinition_requires_name_time_and_state() {
    let cases: &[(&str, ErrorCode, &str)] = &[
        (
            "<domainsnapshot><state>running</state></domainsnapshot>",
            ErrorCode::XmlError,
            "a redefined snapshot must have a name",
        ),
        (
            "<domainsnapshot><name>a</name><state>running</state></domainsnapshot>",
            ErrorCode::InternalError,
            "missing creationTime from existing snapshot",
        ),
        (
            "<domainsnapshot><name>a</name><creationTime>12a</creationTime></domainsnapshot>",
            ErrorCode::InternalError,
            "missing creationTime from existing snapshot",
        ),
        (
            "<domainsnapshot><name>a</name><creationTime>1</creationTime></domainsnapshot>",
            ErrorCode::XmlError,
            "missing state from existing snapshot",
        ),
        (
            "<domainsnapshot><name>a</name><creationTime>1</creationTime>\
             <state>nostate</state></domainsnapshot>",
            ErrorCode::ConfigUnsupported,
            "Invalid state 'nostate' in domain snapshot XML",
        ),
    ];
    for (xml, code, message) in cases {
        assert_eq!(err(xml, REDEFINE), (*code, message.to_string()), "{xml}");
    }
}

#[test]
fn memory_is_checked_as_libvirt_checks_it() {
    let head = "<domainsnapshot><name>a</name><creationTime>1</creationTime>";
    let cases: &[(&str, &str)] = &[
        (
            "<state>running</state><memory snapshot='manual'/>",
            "'manual' memory snapshot mode not supported",
        ),
        (
            "<state>running</state><memory snapshot='internal' file='/m'/>",
            "memory filename '/m' requires external snapshot",
        ),
        (
            "<state>running</state><memory snapshot='external'/>",
            "external memory snapshots require a filename",
        ),
        (
            "<state>shutoff</state><memory snapshot='internal'/>",
            "memory state cannot be saved with offline or disk-only snapshot",
        ),
        (
            "<state>running</state><memory file='m'/>",
            "memory snapshot file path (m) must be absolute",
        ),
        (
            "<state>running</state><memory snapshot='default'/>",
            "Invalid value for attribute 'snapshot' in element 'memory': 'default'.",
        ),
    ];
    for (body, message) in cases {
        let xml = format!("{head}{body}</domainsnapshot>");
        assert_eq!(
            err(&xml, REDEFINE),
            (ErrorCode::XmlError, message.to_string()),
            "{xml}"
        );
    }
}

#[test]
fn redefinition_fills_in_the_memory_location() {
    let online = "<domainsnapshot><name>a</name><state>paused</state>\
                  <creationTime>1</creationTime></domainsnapshot>";
    let snap = DomainSnapshot::parse_with(online, REDEFINE)
        .unwrap()
        .snapshot;
    assert_eq!(snap.memory, Some(SnapshotLocation::Internal));
    let offline = online.replace("paused", "disk-snapshot");
    let snap = DomainSnapshot::parse_with(&offline, REDEFINE)
        .unwrap()
        .snapshot;
    assert_eq!(snap.memory, Some(SnapshotLocation::No));
    // As written, the document says nothing about memory.
    assert_eq!(doc(online).memory, None);
}

#[test]
fn internal_records_need_active() {
    let xml = "<domainsnapshot><name>a</name><state>running</state>\
               <creationTime>1</creationTime></domainsnapshot>";
    assert_eq!(
        err(xml, RECORD),
        (
            ErrorCode::InternalError,
            "Could not find 'active' element".into()
        )
    );
    let with = xml.replace("</domainsnapshot>", "<active>0</active></domainsnapshot>");
    let snap = DomainSnapshot::parse_with(&with, RECORD).unwrap().snapshot;
    assert_eq!(snap.active, Some(false));
}

#[test]
fn offline_snapshots_have_no_cookie() {
    let xml = "<domainsnapshot><name>a</name><state>shutoff</state><creationTime>1</creationTime>\
               <cookie><slirpHelper/></cookie></domainsnapshot>";
    let parsed = DomainSnapshot::parse_with(xml, REDEFINE).unwrap();
    assert_eq!(parsed.snapshot.cookie, None);
    assert_eq!(parsed.warnings.len(), 1);
    assert!(doc(xml).cookie.is_some());
}

#[test]
fn unknown_content_and_cookie_are_kept_in_place() {
    let xml = "<domainsnapshot>\n  <name>a</name>\n  <!-- note -->\n  <x:y xmlns:x='urn:x'/>\n  \
               <memory snapshot='no' extra='1'/>\n  <disks>\n    <disk name='vda' snapshot='no'/>\n  \
               </disks>\n  <cookie>\n    <cpu mode='custom'>\n      <model>qemu64</model>\n    \
               </cpu>\n  </cookie>\n</domainsnapshot>\n";
    let parsed = DomainSnapshot::parse(xml).unwrap();
    assert_eq!(parsed.snapshot.to_xml(), xml);
    assert_eq!(parsed.warnings.len(), 2, "{:?}", parsed.warnings);
}

#[test]
fn wrong_root_and_empty_document() {
    let e = DomainSnapshot::parse("<domain type='kvm'/>").unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (ErrorCode::XmlError, "domainsnapshot")
    );
    let snap = doc("<domainsnapshot/>");
    assert_eq!(snap, DomainSnapshot::default());
    assert_eq!(snap.to_xml(), "<domainsnapshot/>\n");
}

#[test]
fn a_full_domain_and_inactive_domain_are_domains() {
    let devices = "<devices>\n      <emulator>/usr/bin/qemu-kvm</emulator>\n    </devices>\n  ";
    let xml = format!(
        "<domainsnapshot>\n  <name>s</name>\n  <domain type='kvm'>\n    <name>vm</name>\n    \
         {devices}</domain>\n  <inactiveDomain type='kvm'>\n    <name>vm</name>\n    \
         {devices}</inactiveDomain>\n</domainsnapshot>\n"
    );
    let xml = xml.as_str();
    let snap = doc(xml);
    match &snap.domain {
        Some(SnapshotDomain::Full(d)) => assert_eq!(d.name, "vm"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        snap.inactive_domain.as_ref().map(|d| d.name.as_str()),
        Some("vm")
    );
    assert_eq!(snap.to_xml(), xml);
}

#[test]
fn second_elements_of_a_typed_name_read_back_the_same() {
    for xml in [
        // The first <domain> is the recorded one, wherever the second stood.
        "<domainsnapshot><domain snapshot='no'/><disks><disk name='a'/></disks>\
         <domain type='qemu'><name>vm</name></domain></domainsnapshot>",
        // An empty first one is dropped as libvirt drops it, unless a second follows.
        "<domainsnapshot><name/><description>d</description><name>n</name></domainsnapshot>",
        "<domainsnapshot><memory/><disks/><parent/><memory snapshot='no'/><disks>\
         <disk name='a'/></disks><parent><name>p</name></parent></domainsnapshot>",
        "<domainsnapshot><disks><disk name='a'><source/><driver/><driver type='raw'/>\
         <source file='/b'/></disk></disks></domainsnapshot>",
        "<domainsnapshot><disks><disk name='a'><driver><metadata_cache><max_size>0</max_size>\
         </metadata_cache><metadata_cache><max_size>1</max_size></metadata_cache></driver>\
         </disk></disks></domainsnapshot>",
        // What follows an element that carries nothing stays after it.
        "<domainsnapshot><disks><disk name='a'><source/><!-- c --></disk></disks>\
         <memory/><x/><state>running</state></domainsnapshot>",
        // Every element in <disks> is a disk.
        "<domainsnapshot><disks><foo name='x'/><!-- c --><disk name='y'/></disks>\
         </domainsnapshot>",
    ] {
        let first = doc(xml);
        let text = first.to_xml();
        assert_eq!(doc(&text), first, "{xml}\n{text}");
    }
    assert_eq!(
        doc("<domainsnapshot><disks><disk name='a'><source/></disk></disks></domainsnapshot>")
            .to_xml(),
        "<domainsnapshot>\n  <disks>\n    <disk name='a'/>\n  </disks>\n</domainsnapshot>\n"
    );
}

/// The domain a redefined snapshot records gets the post-parse step it is given: a driver's
/// own architecture and defaults (libvirt 9.0's test driver shows `arch='i686'` and a
/// `cirrus` adapter for graphics); `parse_with` gives libvirt's generic defaults for this
/// host's architecture.
#[test]
fn redefined_domain_gets_the_drivers_post_parse_step() {
    use crate::defaults::{host_arch, DriverDefaults};
    use crate::devices::video::VideoModelType;
    let xml = "<domainsnapshot><name>s</name><state>running</state><creationTime>1</creationTime>\
               <domain type='test'>\
               <name>t</name><memory>1024</memory><os><type>hvm</type></os>\
               <devices><graphics type='vnc'/></devices></domain></domainsnapshot>";
    let flags = SnapshotParseFlags {
        redefine: true,
        ..SnapshotParseFlags::default()
    };
    let arch_of = |s: &DomainSnapshot| match &s.domain {
        Some(SnapshotDomain::Full(d)) => d.os.as_ref().and_then(|o| o.arch.clone()),
        _ => None,
    };
    let generic = DomainSnapshot::parse_with(xml, flags).unwrap().snapshot;
    assert_eq!(arch_of(&generic).as_deref(), Some(host_arch()));
    let test_driver = |d: &mut Domain| {
        let policy = DriverDefaults {
            video: VideoModelType::Cirrus,
            wide_scsi: false,
        };
        d.apply_defaults_with("i686", &policy)
    };
    let snap = DomainSnapshot::parse_for(xml, flags, &test_driver)
        .unwrap()
        .snapshot;
    assert_eq!(arch_of(&snap).as_deref(), Some("i686"));
    let out = snap.to_xml();
    assert!(
        out.contains("<model type='cirrus' vram='16384' heads='1' primary='yes'/>"),
        "{out}"
    );
    // A snapshot to create ignores the domain, and so the step.
    let plain = DomainSnapshot::parse_for(xml, SnapshotParseFlags::default(), &|_: &mut Domain| {
        panic!("not called")
    });
    assert!(plain.unwrap().snapshot.domain.is_none());
}
