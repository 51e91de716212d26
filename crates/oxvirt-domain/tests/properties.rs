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

/// A device written from random values, in libvirt's syntax.
fn device() -> impl Strategy<Value = String> {
    let path = "/var/lib/[a-z]{1,8}/[a-z0-9_-]{1,12}\\.(img|qcow2|iso)";
    prop_oneof![
        (path, "[sv]d[a-z]", prop_oneof![Just("virtio"), Just("scsi"), Just("sata")], any::<bool>(), proptest::option::of(1u32..20))
            .prop_map(|(p, dev, bus, ro, boot)| {
                let bus = if dev.starts_with('v') { "virtio" } else { bus };
                format!(
                    "<disk type='file' device='disk'><driver name='qemu' type='qcow2' cache='none'/>\
                     <source file='{p}'/><target dev='{dev}' bus='{bus}'/>{}{}</disk>",
                    boot.map(|b| format!("<boot order='{b}'/>")).unwrap_or_default(),
                    if ro { "<readonly/>" } else { "" }
                )
            }),
        (any::<[u8; 3]>(), "[a-z]{1,6}[0-9]", prop_oneof![Just("virtio"), Just("e1000"), Just("rtl8139")])
            .prop_map(|(m, br, model)| format!(
                "<interface type='bridge'><mac address='52:54:00:{:02x}:{:02x}:{:02x}'/>\
                 <source bridge='{br}'/><model type='{model}'/></interface>",
                m[0], m[1], m[2]
            )),
        (0u32..8, prop_oneof![Just("usb"), Just("scsi"), Just("virtio-serial"), Just("sata")])
            .prop_map(|(i, t)| format!("<controller type='{t}' index='{i}'/>")),
        (0u32..4).prop_map(|p| format!(
            "<serial type='pty'><target port='{p}'/></serial>"
        )),
        "[a-z0-9._]{1,20}".prop_map(|n| format!(
            "<channel type='unix'><target type='virtio' name='org.{n}'/></channel>"
        )),
        (5900u32..6000, any::<bool>()).prop_map(|(port, auto)| format!(
            "<graphics type='vnc' port='{port}' autoport='{}' listen='127.0.0.1'>\
             <listen type='address' address='127.0.0.1'/></graphics>",
            if auto { "yes" } else { "no" }
        )),
        Just("<input type='tablet' bus='usb'/>".to_string()),
        Just("<rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>".to_string()),
    ]
}

proptest! {
    #[test]
    fn parsed_devices_format_and_parse_back_equal(
        mut devices in proptest::collection::vec(device(), 0..12),
        balloon in any::<bool>(),
    ) {
        if balloon {
            devices.push("<memballoon model='virtio'/>".to_string());
        }
        let xml = format!(
            "<domain type='kvm'><name>p</name><memory>1048576</memory><vcpu>2</vcpu>\
             <os><type arch='x86_64' machine='q35'>hvm</type></os><devices>{}</devices></domain>",
            devices.concat()
        );
        let first = Domain::parse(&xml).map_err(|e| TestCaseError::fail(format!("{e}\n{xml}")))?;
        prop_assert!(first.warnings.is_empty(), "{:?}", first.warnings);
        let text = first.domain.to_xml();
        let second = Domain::parse(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(&second.domain, &first.domain);
        prop_assert_eq!(second.domain.to_xml(), text);
    }
}
