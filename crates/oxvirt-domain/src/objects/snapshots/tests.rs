//! Unit tests of the snapshot tree and of snapshot preparation, against what libvirt 9.0's
//! test driver (`test:///default`) printed and reported.

use super::prepare::{prepare_at, At};
use super::*;
use crate::driver::flags::snapshot_create as create;
use crate::driver::DomainState;
use crate::Domain;
use oxvirt_xml::{ErrorCode, ErrorDomain};

/// libvirt's generic post-parse step for a guest of this host's architecture, at `NOW`.
const AT: At<'static> = At {
    post_parse: &|d: &mut Domain| d.apply_defaults(),
    now: NOW,
};

/// The default test domain, as `virsh -c test:///default dumpxml test` prints it.
const TEST_DOMAIN: &str = "<domain type='test' id='1'>
  <name>test</name>
  <uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>
  <memory unit='KiB'>8388608</memory>
  <currentMemory unit='KiB'>2097152</currentMemory>
  <vcpu placement='static'>2</vcpu>
  <os>
    <type arch='i686'>hvm</type>
    <boot dev='hd'/>
  </os>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <disk type='file' device='disk'>
      <source file='/guest/diskimage1'/>
      <target dev='vda' bus='virtio'/>
      <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>
    </disk>
    <interface type='network'>
      <mac address='aa:bb:cc:dd:ee:ff'/>
      <source network='default'/>
      <target dev='testnet0'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x01' function='0x0'/>
    </interface>
    <memballoon model='virtio'>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0'/>
    </memballoon>
  </devices>
</domain>
";

const NOW: i64 = 1795689848;

fn test_domain() -> Domain {
    Domain::parse(TEST_DOMAIN).unwrap().domain
}

/// `test_domain()`'s XML indented one level, without its id, as a snapshot embeds it.
fn embedded() -> String {
    TEST_DOMAIN
        .replace(" id='1'", "")
        .lines()
        .map(|l| format!("  {l}\n"))
        .collect()
}

fn prepare(tree: &SnapshotTree, xml: &str, state: DomainState, flags: u32) -> DomainSnapshot {
    prepare_at(tree, xml, &test_domain(), state, flags, &AT).unwrap()
}

fn prepare_err(tree: &SnapshotTree, dom: &Domain, xml: &str, flags: u32) -> (i32, i32, String) {
    let e = prepare_at(tree, xml, dom, DomainState::Running, flags, &AT).unwrap_err();
    (e.code.number(), e.domain.number(), e.message)
}

/// Creates a snapshot named `name` as the test driver does: prepared, added, current.
fn create_snap(tree: &mut SnapshotTree, name: &str) {
    let xml = format!("<domainsnapshot><name>{name}</name></domainsnapshot>");
    let def = prepare(tree, &xml, DomainState::Running, 0);
    tree.insert(def).unwrap();
    tree.set_current(Some(name));
}

/// The tree of the libvirt session: a -> b -> c, a -> d, b -> e, made in that order with
/// the current snapshot moved back before d and e; e is current.
fn sample_tree() -> SnapshotTree {
    let mut t = SnapshotTree::new();
    for n in ["a", "b", "c"] {
        create_snap(&mut t, n);
    }
    t.set_current(Some("a"));
    create_snap(&mut t, "d");
    t.set_current(Some("b"));
    create_snap(&mut t, "e");
    t
}

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn parents(t: &SnapshotTree) -> Vec<(String, Option<String>)> {
    let mut v: Vec<_> = t
        .names()
        .map(|n| {
            (
                n.to_string(),
                t.get(n).unwrap().parent().map(str::to_string),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn a_new_snapshot_is_written_as_libvirt_writes_it() {
    let tree = SnapshotTree::new();
    let xml = "<domainsnapshot><name>s1</name><description>first</description></domainsnapshot>";
    let def = prepare(&tree, xml, DomainState::Running, 0);
    let expected = format!(
        "<domainsnapshot>\n  <name>s1</name>\n  <description>first</description>\n  \
         <state>running</state>\n  <creationTime>1795689848</creationTime>\n  \
         <memory snapshot='internal'/>\n  <disks>\n    \
         <disk name='vda' snapshot='internal'/>\n  </disks>\n{}</domainsnapshot>\n",
        embedded()
    );
    assert_eq!(def.to_xml(), expected);
}

#[test]
fn an_unnamed_snapshot_is_named_by_time_and_child_of_the_current_one() {
    let mut tree = SnapshotTree::new();
    create_snap(&mut tree, "s1");
    let def = prepare(
        &tree,
        "<domainsnapshot><name></name></domainsnapshot>",
        DomainState::Running,
        0,
    );
    assert_eq!(def.name.as_deref(), Some("1795689848"));
    assert_eq!(def.creation_time, Some(NOW));
    let xml = def.to_xml();
    assert!(
        xml.starts_with(
            "<domainsnapshot>\n  <name>1795689848</name>\n  <state>running</state>\n  \
             <parent>\n    <name>s1</name>\n  </parent>\n  \
             <creationTime>1795689848</creationTime>\n"
        ),
        "{xml}"
    );
}

#[test]
fn state_and_memory_follow_the_domain() {
    let tree = SnapshotTree::new();
    // Asked for no memory on a running domain: libvirt saves it internally anyway.
    let def = prepare(
        &tree,
        "<domainsnapshot><name>m</name><memory snapshot='no'/></domainsnapshot>",
        DomainState::Running,
        0,
    );
    assert_eq!(
        (def.state, def.memory),
        (
            Some(SnapshotState::Running),
            Some(SnapshotLocation::Internal)
        )
    );
    let def = prepare(&tree, "<domainsnapshot/>", DomainState::Paused, 0);
    assert_eq!(def.state, Some(SnapshotState::Paused));
    let def = prepare(
        &tree,
        "<domainsnapshot><memory snapshot='internal'/></domainsnapshot>",
        DomainState::Shutoff,
        create::HALT,
    );
    assert_eq!(
        (def.state, def.memory),
        (Some(SnapshotState::Shutoff), Some(SnapshotLocation::No))
    );
    // External memory keeps the disks' own choice.
    let def = prepare(
        &tree,
        "<domainsnapshot><memory snapshot='external' file='/tmp/mem'/><disks>\
         <disk name='vda' snapshot='internal'/></disks></domainsnapshot>",
        DomainState::Running,
        0,
    );
    assert!(def.to_xml().contains(
        "  <memory snapshot='external' file='/tmp/mem'/>\n  <disks>\n    \
         <disk name='vda' snapshot='internal'/>\n  </disks>\n"
    ));
    // A disk named by its source path is renamed to its target.
    let def = prepare(
        &tree,
        "<domainsnapshot><disks><disk name='/guest/diskimage1'/></disks></domainsnapshot>",
        DomainState::Running,
        0,
    );
    assert_eq!(def.disks[0].name, "vda");
}

#[test]
fn flag_rules_are_libvirts() {
    let tree = SnapshotTree::new();
    let dom = test_domain();
    let xml = "<domainsnapshot><name>x</name></domainsnapshot>";
    let cases: &[(u32, i32, i32, &str)] = &[
        (
            create::CURRENT,
            8,
            35,
            "Flag 'VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE' is required by flag \
             'VIR_DOMAIN_SNAPSHOT_CREATE_CURRENT'",
        ),
        (
            create::REDEFINE | create::HALT,
            8,
            35,
            "Flags 'VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE' and \
             'VIR_DOMAIN_SNAPSHOT_CREATE_HALT' are mutually exclusive",
        ),
        (
            create::REDEFINE | create::NO_METADATA,
            8,
            35,
            "Flags 'VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE' and \
             'VIR_DOMAIN_SNAPSHOT_CREATE_NO_METADATA' are mutually exclusive",
        ),
        (
            create::CURRENT | create::DISK_ONLY,
            8,
            35,
            "Flag 'VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE' is required by flag \
             'VIR_DOMAIN_SNAPSHOT_CREATE_CURRENT'",
        ),
        (
            create::NO_METADATA | create::DISK_ONLY,
            8,
            12,
            "unsupported flags (0x14) in function testDomainSnapshotCreateXML",
        ),
        (
            create::REUSE_EXT,
            8,
            12,
            "unsupported flags (0x20) in function testDomainSnapshotCreateXML",
        ),
        (
            create::REDEFINE,
            1,
            35,
            "internal error: missing creationTime from existing snapshot",
        ),
    ];
    for (flags, code, domain, message) in cases {
        assert_eq!(
            prepare_err(&tree, &dom, xml, *flags),
            (*code, *domain, message.to_string()),
            "flags {flags:#x}"
        );
    }
    for flags in [
        create::QUIESCE,
        create::ATOMIC,
        create::LIVE,
        create::VALIDATE,
    ] {
        assert!(prepare_at(&tree, xml, &dom, DomainState::Running, flags, &AT).is_ok());
    }
}

#[test]
fn document_errors() {
    let tree = SnapshotTree::new();
    let dom = test_domain();
    assert_eq!(
        prepare_err(&tree, &dom, "<foo/>", 0),
        (
            27,
            5,
            "XML error: expecting root element of 'domainsnapshot', not 'foo'".into()
        )
    );
    assert_eq!(
        prepare_err(
            &tree,
            &dom,
            "<domainsnapshot><memory snapshot='manual'/></domainsnapshot>",
            0
        ),
        (
            27,
            35,
            "XML error: 'manual' memory snapshot mode not supported".into()
        )
    );
    let e = prepare_err(&tree, &dom, "<domainsnapshot>", 0);
    assert_eq!((e.0, e.1), (35, 35));
    let e = prepare_err(
        &tree,
        &dom,
        "<domainsnapshot><bogus/></domainsnapshot>",
        create::VALIDATE,
    );
    assert_eq!(
        e,
        (
            92,
            5,
            "XML document failed to validate against schema: Unable to validate doc against \
             /usr/share/libvirt/schemas/domainsnapshot.rng\n\
             Element domainsnapshot has extra content: bogus\n"
                .into()
        )
    );
}

#[test]
fn disk_requests_are_checked_as_libvirt_checks_them() {
    let tree = SnapshotTree::new();
    let dom = test_domain();
    let cases: &[(&str, i32, i32, &str)] = &[
        (
            "<disk name='vdb'/>",
            67,
            35,
            "unsupported configuration: no disk named 'vdb'",
        ),
        (
            "<disk name='vda'/><disk name='vda'/>",
            67,
            35,
            "unsupported configuration: too many disk snapshot requests for domain",
        ),
        (
            "<disk name='vda' snapshot='no'/>",
            67,
            35,
            "unsupported configuration: disk 'vda' must use snapshot mode 'internal'",
        ),
        (
            "<disk name='vda' snapshot='external'><source file='/tmp/x.qcow2'/></disk>",
            67,
            35,
            "unsupported configuration: disk 'vda' must use snapshot mode 'internal'",
        ),
        (
            "<disk name='vda' snapshot='internal'><source file='/x'/></disk>",
            67,
            35,
            "unsupported configuration: file '/x' for disk 'vda' requires use of external \
             snapshot mode",
        ),
        (
            "<disk name='nope' snapshot='manual'/>",
            84,
            12,
            "Operation not supported: 'manual' snapshot mode is not supported by the test driver",
        ),
    ];
    for (disks, code, domain, message) in cases {
        let xml = format!("<domainsnapshot><name>d</name><disks>{disks}</disks></domainsnapshot>");
        assert_eq!(
            prepare_err(&tree, &dom, &xml, 0),
            (*code, *domain, message.to_string()),
            "{disks}"
        );
    }
    // External memory makes the disks external by default; /guest/diskimage1 does not
    // exist here, so no overlay name can be made.
    let xml = "<domainsnapshot><memory snapshot='external' file='/tmp/mem'/></domainsnapshot>";
    assert_eq!(
        prepare_err(&tree, &dom, xml, 0),
        (
            67,
            35,
            "unsupported configuration: source for disk 'vda' is not a regular file; refusing \
             to generate external snapshot name"
                .into()
        )
    );
}

#[test]
fn external_overlays_are_named_after_the_snapshot() {
    let dir = std::env::temp_dir().join(format!("oxvirt-snap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let img = dir.join("real.img");
    let noext = dir.join("noext");
    std::fs::write(&img, b"").unwrap();
    std::fs::write(&noext, b"").unwrap();
    let (img, noext) = (img.display().to_string(), noext.display().to_string());
    let xml = format!(
        "<domain type='test'><name>t2</name><memory>1024</memory><os><type>hvm</type></os>\
         <devices>\
         <disk type='file' device='disk'><source file='{img}'/><target dev='vda' bus='virtio'/></disk>\
         <disk type='file' device='disk'><source file='{noext}'/><target dev='vdb' bus='virtio'/></disk>\
         <disk type='file' device='cdrom'><target dev='hdc' bus='ide'/></disk>\
         <disk type='file' device='disk' snapshot='external'><source file='{img}'/>\
         <target dev='vdc' bus='virtio'/></disk></devices></domain>"
    );
    let dom = Domain::parse(&xml).unwrap().domain;
    let tree = SnapshotTree::new();
    let def = prepare_at(
        &tree,
        "<domainsnapshot><name>a</name></domainsnapshot>",
        &dom,
        DomainState::Shutoff,
        0,
        &AT,
    )
    .unwrap();
    // (Disks are listed in the domain's order, by bus: libvirt puts the IDE cdrom last.)
    let stem = img.trim_end_matches(".img");
    let expected = format!(
        "  <memory snapshot='no'/>\n  <disks>\n    <disk name='vda' snapshot='internal'/>\n    \
         <disk name='vdb' snapshot='internal'/>\n    \
         <disk name='vdc' snapshot='external' type='file'>\n      \
         <source file='{stem}.a'/>\n    </disk>\n    <disk name='hdc' snapshot='no'/>\n  \
         </disks>\n"
    );
    let out = def.to_xml();
    assert!(out.contains(&expected), "{out}");
    // With external memory every disk goes external, and vda's overlay is vdc's.
    let snap = "<domainsnapshot><name>e</name><memory snapshot='external' file='/tmp/m'/>\
                </domainsnapshot>";
    let e = prepare_at(&tree, snap, &dom, DomainState::Running, 0, &AT).unwrap_err();
    assert_eq!(
        e.message,
        "unsupported configuration: cannot generate external snapshot name for disk 'vdc': \
         collision with disk 'vda'"
    );
    let snap = "<domainsnapshot><name>e</name><memory snapshot='external' file='/tmp/m'/>\
                <disks><disk name='vdc' snapshot='no'/><disk name='hdc' snapshot='no'/>\
                </disks></domainsnapshot>";
    let def = prepare_at(&tree, snap, &dom, DomainState::Running, 0, &AT).unwrap();
    let paths: Vec<_> = def.disks.iter().map(|d| d.source.path.clone()).collect();
    assert_eq!(
        paths,
        vec![
            Some(format!("{stem}.e")),
            Some(format!("{noext}.e")),
            None,
            None
        ]
    );
    let order: Vec<_> = def.disks.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(order, ["vda", "vdb", "vdc", "hdc"]);
    let twice = "<domainsnapshot><disks><disk name='vda'/><disk name='vda'/></disks>\
                 </domainsnapshot>";
    let e = prepare_at(&tree, twice, &dom, DomainState::Running, 0, &AT).unwrap_err();
    assert_eq!(
        e.message,
        "unsupported configuration: disk 'vda' specified twice"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_existing_name_is_refused() {
    let mut tree = SnapshotTree::new();
    create_snap(&mut tree, "s1");
    let e = prepare_err(
        &tree,
        &test_domain(),
        "<domainsnapshot><name>s1</name></domainsnapshot>",
        0,
    );
    assert_eq!(
        e,
        (
            9,
            20,
            "operation failed: domain moment s1 already exists".into()
        )
    );
    let def = tree.get("s1").unwrap().def.clone();
    let e = tree.insert(def).unwrap_err();
    assert_eq!(
        e.message,
        "operation failed: domain moment s1 already exists"
    );
}

#[test]
fn redefinition_rules() {
    let mut tree = SnapshotTree::new();
    create_snap(&mut tree, "a");
    create_snap(&mut tree, "b");
    let dom = test_domain();
    let bare = |name: &str, state: &str, parent: &str| {
        format!(
            "<domainsnapshot><name>{name}</name><state>{state}</state>\
             <creationTime>17</creationTime>{parent}</domainsnapshot>"
        )
    };
    let cases: &[(String, i32, i32, &str)] = &[
        (
            bare("min", "running", ""),
            1,
            35,
            "internal error: missing domain in snapshot",
        ),
        (
            bare("m2", "shutoff", "<parent><name>zz</name></parent>"),
            8,
            20,
            "invalid argument: parent zz for moment m2 not found",
        ),
        (
            bare("m3", "running", "<parent><name>m3</name></parent>"),
            8,
            20,
            "invalid argument: cannot set moment m3 as its own parent",
        ),
        (
            bare("a", "running", "<parent><name>b</name></parent>"),
            8,
            20,
            "invalid argument: parent b would create cycle to a",
        ),
        (
            bare("a", "shutoff", ""),
            8,
            35,
            "invalid argument: cannot change between online and offline snapshot state in \
             snapshot a",
        ),
    ];
    for (xml, code, domain, message) in cases {
        assert_eq!(
            prepare_err(&tree, &dom, xml, create::REDEFINE),
            (*code, *domain, message.to_string()),
            "{xml}"
        );
    }
    // A definition for another domain.
    let other = tree
        .get("a")
        .unwrap()
        .def
        .to_xml()
        .replace("6695eb01", "6695eb02");
    assert_eq!(
        prepare_err(&tree, &dom, &other, create::REDEFINE),
        (
            8,
            35,
            "invalid argument: definition for snapshot a must use uuid \
             6695eb01-f6a4-8304-79aa-97f2502e193f"
                .into()
        )
    );
    // Redefining an existing one without a domain keeps its domain; it becomes a root.
    let xml = "<domainsnapshot><name>a</name><description>new</description>\
               <state>running</state><creationTime>18</creationTime></domainsnapshot>";
    let def = prepare(&tree, xml, DomainState::Running, create::REDEFINE);
    assert!(matches!(def.domain, Some(SnapshotDomain::Full(_))));
    assert_eq!(def.disks.len(), 1);
    tree.replace(def).unwrap();
    assert_eq!(tree.get("a").unwrap().def.creation_time, Some(18));
    assert_eq!(tree.current(), Some("b"));
    assert_eq!(
        tree.list(snapshot_list::TOPOLOGICAL).unwrap(),
        names(&["a", "b"])
    );
}

#[test]
fn a_deleted_snapshot_comes_back_by_redefinition() {
    let mut tree = SnapshotTree::new();
    create_snap(&mut tree, "a");
    create_snap(&mut tree, "b");
    let xml = tree.get("b").unwrap().def.to_xml();
    tree.remove("b", 0).unwrap();
    assert_eq!(tree.current(), Some("a"));
    let def = prepare(&tree, &xml, DomainState::Running, create::REDEFINE);
    assert_eq!(def.to_xml(), xml);
    tree.replace(def).unwrap();
    // Without CURRENT the current snapshot stays.
    assert_eq!(tree.current(), Some("a"));
    assert_eq!(tree.children("a", 0).unwrap(), names(&["b"]));
}

#[test]
fn listing_follows_libvirts_order_and_filters() {
    use snapshot_list as l;
    let t = sample_tree();
    assert_eq!(t.current(), Some("e"));
    let cases: &[(u32, &[&str])] = &[
        (0, &["a", "b", "c", "d", "e"]),
        (l::ROOTS, &["a"]),
        (l::LEAVES, &["c", "d", "e"]),
        (l::NO_LEAVES, &["a", "b"]),
        (l::LEAVES | l::NO_LEAVES, &[]),
        (l::METADATA, &["a", "b", "c", "d", "e"]),
        (l::NO_METADATA, &[]),
        (l::METADATA | l::NO_METADATA, &["a", "b", "c", "d", "e"]),
        (l::INACTIVE, &[]),
        (l::ACTIVE, &["a", "b", "c", "d", "e"]),
        (l::DISK_ONLY, &[]),
        (l::INTERNAL, &["a", "b", "c", "d", "e"]),
        (l::EXTERNAL, &[]),
        (l::TOPOLOGICAL, &["a", "d", "b", "e", "c"]),
        (l::TOPOLOGICAL | l::ROOTS, &["a"]),
        (l::TOPOLOGICAL | l::LEAVES, &["d", "e", "c"]),
    ];
    for (flags, expected) in cases {
        assert_eq!(t.list(*flags).unwrap(), names(expected), "flags {flags:#x}");
    }
    let children: &[(&str, u32, &[&str])] = &[
        ("a", 0, &["d", "b"]),
        ("a", l::DESCENDANTS, &["d", "b", "e", "c"]),
        ("a", l::DESCENDANTS | l::TOPOLOGICAL, &["d", "b", "e", "c"]),
        ("a", l::DESCENDANTS | l::LEAVES, &["d", "e", "c"]),
        ("b", 0, &["e", "c"]),
        ("c", l::DESCENDANTS, &[]),
    ];
    for (name, flags, expected) in children {
        assert_eq!(
            t.children(name, *flags).unwrap(),
            names(expected),
            "{name} {flags:#x}"
        );
    }
    let e = t.list(0x800).unwrap_err();
    assert_eq!(
        (e.code, e.domain, e.message.as_str()),
        (
            ErrorCode::InvalidArg,
            ErrorDomain::Test,
            "unsupported flags (0x800) in function testDomainListAllSnapshots"
        )
    );
    let e = t.children("a", 0x800).unwrap_err();
    assert_eq!(
        e.message,
        "unsupported flags (0x800) in function \
         testDomainSnapshotListAllChildren"
    );
    let e = t.children("x", 0).unwrap_err();
    assert_eq!(
        (e.code, e.domain, e.message.as_str()),
        (
            ErrorCode::NoDomainSnapshot,
            ErrorDomain::Test,
            "Domain snapshot not found: no domain snapshot with matching name 'x'"
        )
    );
}

#[test]
fn state_and_location_filters() {
    use snapshot_list as l;
    let mut t = SnapshotTree::new();
    create_snap(&mut t, "on");
    let def = prepare(
        &t,
        "<domainsnapshot><name>off</name></domainsnapshot>",
        DomainState::Shutoff,
        0,
    );
    t.insert(def).unwrap();
    let mut ext = prepare(
        &t,
        "<domainsnapshot><name>ext</name></domainsnapshot>",
        DomainState::Running,
        0,
    );
    ext.memory = Some(SnapshotLocation::External);
    ext.state = Some(SnapshotState::DiskSnapshot);
    t.insert(ext).unwrap();
    let cases: &[(u32, &[&str])] = &[
        (l::INACTIVE, &["off"]),
        (l::ACTIVE, &["on"]),
        (l::DISK_ONLY, &["ext"]),
        (l::ACTIVE | l::INACTIVE, &["on", "off"]),
        (
            l::ACTIVE | l::INACTIVE | l::DISK_ONLY,
            &["on", "off", "ext"],
        ),
        (l::EXTERNAL, &["ext"]),
        (l::INTERNAL, &["on", "off"]),
        (l::INTERNAL | l::EXTERNAL, &["on", "off", "ext"]),
    ];
    for (flags, expected) in cases {
        assert_eq!(t.list(*flags).unwrap(), names(expected), "flags {flags:#x}");
    }
}

#[test]
fn deleting_moves_children_and_the_current_snapshot_as_libvirt_does() {
    use snapshot_delete as d;
    let p = |pairs: &[(&str, Option<&str>)]| -> Vec<(String, Option<String>)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.map(str::to_string)))
            .collect()
    };
    // Plain delete of b: its children go to a, before a's own.
    let mut t = sample_tree();
    assert_eq!(t.remove("b", 0).unwrap(), names(&["b"]));
    assert_eq!(t.current(), Some("e"));
    assert_eq!(
        t.list(snapshot_list::TOPOLOGICAL).unwrap(),
        names(&["a", "e", "c", "d"])
    );
    assert_eq!(
        parents(&t),
        p(&[
            ("a", None),
            ("c", Some("a")),
            ("d", Some("a")),
            ("e", Some("a"))
        ])
    );
    // Deleting the current one makes its parent current.
    let mut t = sample_tree();
    t.remove("e", 0).unwrap();
    assert_eq!(t.current(), Some("b"));
    assert_eq!(
        t.list(snapshot_list::TOPOLOGICAL).unwrap(),
        names(&["a", "d", "b", "c"])
    );
    // CHILDREN: the subtree goes; the current one was in it, so the parent is current.
    let mut t = sample_tree();
    assert_eq!(t.remove("b", d::CHILDREN).unwrap(), names(&["e", "c", "b"]));
    assert_eq!(t.current(), Some("a"));
    assert_eq!(
        t.list(snapshot_list::TOPOLOGICAL).unwrap(),
        names(&["a", "d"])
    );
    // CHILDREN_ONLY: the current descendant's removal makes b current.
    let mut t = sample_tree();
    assert_eq!(t.remove("b", d::CHILDREN_ONLY).unwrap(), names(&["e", "c"]));
    assert_eq!(t.current(), Some("b"));
    assert_eq!(
        t.list(snapshot_list::TOPOLOGICAL).unwrap(),
        names(&["a", "d", "b"])
    );
    assert_eq!(t.list(snapshot_list::LEAVES).unwrap(), names(&["b", "d"]));
    // Deleting the root makes its children roots.
    let mut t = sample_tree();
    t.remove("a", 0).unwrap();
    assert_eq!(t.current(), Some("e"));
    assert_eq!(
        t.list(snapshot_list::TOPOLOGICAL).unwrap(),
        names(&["d", "b", "e", "c"])
    );
    assert_eq!(t.list(snapshot_list::ROOTS).unwrap(), names(&["d", "b"]));
    assert_eq!(t.get("d").unwrap().parent(), None);
    assert!(t.get("d").unwrap().def.to_xml().find("<parent>").is_none());
    // CHILDREN with the current one elsewhere leaves it.
    let mut t = sample_tree();
    t.set_current(Some("d"));
    t.remove("b", d::CHILDREN).unwrap();
    assert_eq!(t.current(), Some("d"));
    assert_eq!(t.len(), 2);
}

#[test]
fn delete_errors_are_libvirts() {
    let mut t = sample_tree();
    let cases: &[(&str, u32, ErrorDomain, &str)] = &[
        (
            "b",
            5,
            ErrorDomain::DomainSnapshot,
            "Flags 'VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN' and \
             'VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY' are mutually exclusive",
        ),
        (
            "b",
            2,
            ErrorDomain::Test,
            "unsupported flags (0x2) in function testDomainSnapshotDelete",
        ),
        (
            "b",
            8,
            ErrorDomain::Test,
            "unsupported flags (0x8) in function testDomainSnapshotDelete",
        ),
        (
            "zz",
            0,
            ErrorDomain::Test,
            "Domain snapshot not found: no domain snapshot with matching name 'zz'",
        ),
    ];
    for (name, flags, domain, message) in cases {
        let e = t.remove(name, *flags).unwrap_err();
        assert_eq!((e.domain, e.message.as_str()), (*domain, *message));
    }
    assert_eq!(t.len(), 5);
}

#[test]
fn set_current_ignores_unknown_names() {
    let mut t = sample_tree();
    t.set_current(Some("nope"));
    assert_eq!(t.current(), None);
    t.set_current(Some("c"));
    assert_eq!(t.current(), Some("c"));
    assert!(!t.is_empty());
    assert_eq!(t.get("a").unwrap().children(), &names(&["d", "b"])[..]);
}
