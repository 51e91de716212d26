//! Property tests: any domain the formatter writes, the parser reads back equal.

use oxvirt_domain::domain::Metadata;
use oxvirt_domain::memory::MemorySize;
use oxvirt_domain::{Domain, LifecycleAction, VirtType};
use oxvirt_xml::types::Uuid;
use oxvirt_xml::Element;
use proptest::prelude::*;

/// Text a user may put in a name, title or description (no control characters, no '/').
fn text(max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[a-zA-Z0-9 <>&'\"._\u{e9}\u{4e2d}-]{{1,{max}}}"))
        .expect("regex")
}

fn virt_type() -> impl Strategy<Value = VirtType> {
    prop_oneof![
        Just(VirtType::Qemu),
        Just(VirtType::Kvm),
        Just(VirtType::Test),
        Just(VirtType::Xen)
    ]
}

fn action() -> impl Strategy<Value = Option<LifecycleAction>> {
    proptest::option::of(prop_oneof![
        Just(LifecycleAction::Destroy),
        Just(LifecycleAction::Restart),
        Just(LifecycleAction::Preserve),
        Just(LifecycleAction::RenameRestart),
        Just(LifecycleAction::CoredumpDestroy),
    ])
}

fn metadata() -> impl Strategy<Value = Option<Metadata>> {
    proptest::option::of(("[a-z]{1,6}", text(10)).prop_map(|(name, value)| {
        let mut child = Element::new(format!("app:{name}"))
            .with_attr("xmlns:app", "http://example.org/app")
            .with_text(value);
        child.namespace = Some("http://example.org/app".into());
        Metadata {
            element: Element::new("metadata").with_child(child),
            raw: None,
        }
    }))
}

prop_compose! {
    fn domain()(
        virt_type in virt_type(),
        name in text(20).prop_filter("no slash", |n| !n.contains('/')),
        uuid in proptest::option::of(any::<[u8; 16]>().prop_map(Uuid::from_bytes)),
        title in proptest::option::of(text(30)),
        description in proptest::option::of(text(60)),
        memory in proptest::option::of(1u64..(1 << 40)),
        current in proptest::option::of(1u64..(1 << 40)),
        on_poweroff in action(),
        on_reboot in action(),
        on_crash in action(),
        metadata in metadata(),
        emulator in proptest::option::of("/usr/bin/[a-z-]{1,20}"),
    ) -> Domain {
        let mut d = Domain::new(name, virt_type);
        d.uuid = uuid;
        d.title = title;
        d.description = description;
        d.memory = memory.map(MemorySize::kib);
        d.current_memory = current;
        d.on_poweroff = on_poweroff;
        d.on_reboot = on_reboot;
        d.on_crash = on_crash;
        d.metadata = metadata;
        d.devices.emulator = emulator;
        d
    }
}

proptest! {
    #[test]
    fn formatted_domains_parse_back_equal(d in domain()) {
        let xml = d.to_xml();
        let parsed = Domain::parse(&xml).map_err(|e| TestCaseError::fail(format!("{e}\n{xml}")))?;
        prop_assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
        prop_assert_eq!(parsed.domain, d);
    }

    #[test]
    fn formatting_a_parsed_domain_is_idempotent(d in domain()) {
        let once = d.to_xml();
        let twice = Domain::parse(&once).unwrap().domain.to_xml();
        prop_assert_eq!(once, twice);
    }
}
