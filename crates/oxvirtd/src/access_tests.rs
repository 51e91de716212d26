//! Access control's pieces that need no daemon: XML identities, the flags of calls,
//! the table's coverage of every call.

use oxvirt_rpc::remote::*;
use oxvirt_rpc::types::NonnullDomain;
use oxvirt_rpc::xdr::encode_to_vec;
use oxvirt_rpc::RemoteProcedure as P;

use super::*;

#[test]
fn every_call_has_permissions() {
    let mut missing = Vec::new();
    for p in P::ALL {
        if crate::extra::is_event_message(*p) {
            continue;
        }
        if oxvirt_access::permissions(p.number()).is_none() {
            missing.push(p.short_name());
        }
    }
    assert!(missing.is_empty(), "no permissions for {missing:?}");
}

#[test]
fn xml_identity_takes_the_top_level_elements() {
    let xml = "<?xml version='1.0'?>\n<!-- <name>comment</name> -->\n<domain type='kvm'>\
               <metadata><app><name>inner</name><uuid>0</uuid></app></metadata>\
               <name>a&amp;b</name><uuid>C7A5FDBD-EDAF-9455-926A-D65C16DB1809</uuid>\
               <devices><disk/><name>deep</name></devices></domain>";
    assert_eq!(
        xml_identity("domain", xml),
        (
            Some("a&b".to_owned()),
            Some("c7a5fdbd-edaf-9455-926a-d65c16db1809".to_owned())
        )
    );
    assert_eq!(xml_identity("domain", "<domain/>"), (None, None));
    assert_eq!(xml_identity("domain", "not xml <"), (None, None));
    assert_eq!(xml_identity("domain", ""), (None, None));
}

/// The name checked is the name the driver defines: a comment, a CDATA section or a
/// character reference inside `<name>` does not make `admin` look like `a`, spaces are
/// kept (libvirt does not trim names), a UUID is compared in its canonical form.
#[test]
fn xml_identity_reads_the_name_as_the_drivers_do() {
    for xml in [
        "<domain type='test'><name>a<!-- -->dmin</name></domain>",
        "<domain type='test'><name><![CDATA[admin]]></name></domain>",
        "<domain type='test'><name>&#97;dmin</name></domain>",
        "<domain type='test'><name>a<![CDATA[dmin]]></name></domain>",
    ] {
        assert_eq!(
            xml_identity("domain", xml).0.as_deref(),
            Some("admin"),
            "{xml}"
        );
    }
    assert_eq!(
        xml_identity("network", "<network><name> n </name></network>")
            .0
            .as_deref(),
        Some(" n ")
    );
    // A pool or network <name> in a namespace is not their name; a domain's is.
    let ns = "<x xmlns='urn:n'><name>n</name></x>";
    assert_eq!(xml_identity("network", ns).0, None);
    assert_eq!(xml_identity("domain", ns).0.as_deref(), Some("n"));
    assert_eq!(
        xml_identity(
            "domain",
            "<domain><name>a</name><uuid>c7a5fdbdedaf9455926ad65c16db1809</uuid></domain>"
        )
        .1
        .as_deref(),
        Some("c7a5fdbd-edaf-9455-926a-d65c16db1809")
    );
}

fn dom() -> NonnullDomain {
    NonnullDomain {
        name: "a".into(),
        uuid: [7; 16],
        id: -1,
    }
}

/// The conditional permissions read the flags (and the argument before them) from the
/// end of the arguments: true of the calls served with such permissions.
#[test]
fn flags_are_the_last_word() {
    const F: u32 = 0x1234_5678;
    let cases: Vec<(P, Vec<u8>)> = vec![
        (
            P::DomainGetXmlDesc,
            encode_to_vec(&DomainGetXmlDescArgs {
                dom: dom(),
                flags: F,
            }),
        ),
        (
            P::DomainReboot,
            encode_to_vec(&DomainRebootArgs {
                dom: dom(),
                flags: F,
            }),
        ),
        (
            P::DomainShutdownFlags,
            encode_to_vec(&DomainShutdownFlagsArgs {
                dom: dom(),
                flags: F,
            }),
        ),
        (
            P::DomainAttachDeviceFlags,
            encode_to_vec(&DomainAttachDeviceFlagsArgs {
                dom: dom(),
                xml: "<disk/>".into(),
                flags: F,
            }),
        ),
        (
            P::DomainSetVcpusFlags,
            encode_to_vec(&DomainSetVcpusFlagsArgs {
                dom: dom(),
                nvcpus: 3,
                flags: F,
            }),
        ),
        (
            P::DomainGetVcpusFlags,
            encode_to_vec(&DomainGetVcpusFlagsArgs {
                dom: dom(),
                flags: F,
            }),
        ),
        (
            P::DomainSetMemoryFlags,
            encode_to_vec(&DomainSetMemoryFlagsArgs {
                dom: dom(),
                memory: 1,
                flags: F,
            }),
        ),
    ];
    for (p, bytes) in cases {
        assert_eq!(flags_and_arg(&bytes).0, F, "{p}");
        assert!(
            oxvirt_access::permissions(p.number())
                .unwrap()
                .required
                .iter()
                .any(|r| r.when != oxvirt_access::When::Always),
            "{p} has a conditional permission"
        );
    }
    let addrs = encode_to_vec(&DomainInterfaceAddressesArgs {
        dom: dom(),
        source: 1,
        flags: F,
    });
    assert_eq!(flags_and_arg(&addrs), (F, 1));
    assert_eq!(flags_and_arg(&[]), (0, 0));
    assert_eq!(flags_and_arg(&[0, 0, 0, 9]), (9, 0));
}

/// Bytes after the arguments do not hide the flags the driver will act on: a secure
/// DOMAIN_GET_XML_DESC with four zero bytes appended still needs `domain:read_secure`, a
/// persistent SET_MEMORY_FLAGS with AFFECT_LIVE appended still needs `domain:save`.
#[test]
fn trailing_bytes_do_not_change_the_flags() {
    let mut xml = encode_to_vec(&DomainGetXmlDescArgs {
        dom: dom(),
        flags: 1,
    });
    xml.extend_from_slice(&[0, 0, 0, 0]);
    assert_eq!(call_flags(P::DomainGetXmlDesc, &xml).unwrap().0, 1);
    let mut mem = encode_to_vec(&DomainSetMemoryFlagsArgs {
        dom: dom(),
        memory: 1,
        flags: 2,
    });
    mem.extend_from_slice(&[0, 0, 0, 1]);
    assert_eq!(call_flags(P::DomainSetMemoryFlags, &mem).unwrap().0, 2);
    // Undecodable arguments: the whole payload (the driver refuses them anyway).
    assert_eq!(call_flags(P::DomainReboot, &[0, 0, 0, 9]), Some((9, 0)));
}

/// Every procedure with a conditional permission is one whose flags [`call_flags`] finds,
/// or one of those this daemon does not serve (for them every condition applies).
#[test]
fn conditional_permissions_read_decoded_flags() {
    let mut unknown = Vec::new();
    for p in P::ALL {
        let Some(perms) = oxvirt_access::permissions(p.number()) else {
            continue;
        };
        let conditional = perms
            .required
            .iter()
            .any(|r| r.when != oxvirt_access::When::Always);
        if conditional && call_flags(*p, &[]).is_none() {
            unknown.push(p.short_name());
        }
    }
    assert_eq!(
        unknown,
        [
            "DOMAIN_SET_MEMORY_PARAMETERS",
            "DOMAIN_SET_BLKIO_PARAMETERS",
            "DOMAIN_SET_SCHEDULER_PARAMETERS_FLAGS",
            "DOMAIN_SET_BLOCK_IO_TUNE",
            "DOMAIN_SET_INTERFACE_PARAMETERS",
            "DOMAIN_SET_MEMORY_STATS_PERIOD",
            "DOMAIN_ADD_IOTHREAD",
            "DOMAIN_DEL_IOTHREAD",
            "DOMAIN_SET_VCPU",
            "DOMAIN_DETACH_DEVICE_ALIAS",
            "DOMAIN_SET_IOTHREAD_PARAMS",
            "DOMAIN_CHECKPOINT_CREATE_XML",
            "DOMAIN_CHECKPOINT_GET_XML_DESC",
        ]
    );
}

#[test]
fn denial_is_libvirts() {
    let e = denied_error("QEMU");
    assert_eq!(e.code, ErrorCode::AccessDenied);
    assert_eq!(e.domain, ErrorDomain::Access);
    assert_eq!(e.message, "access denied: 'QEMU' denied access");
    assert_eq!(driver_name("TEST"), "Test");
    assert_eq!(driver_name("QEMU"), "QEMU");
    assert_eq!(driver_name_for_uri(Some("qemu:///system")), "QEMU");
    assert_eq!(driver_name_for_uri(None), "Test");
    assert_eq!(driver_name_for_uri(Some("test:///default")), "Test");
}

fn obj(name: &str) -> Object {
    Object {
        kind: "domain",
        name: name.to_owned(),
        uuid: format!("uuid-of-{name}"),
    }
}

/// A client naming an object by the name of one and the UUID of another gets both
/// checked: whichever the driver uses, it is checked.
#[test]
fn mismatched_name_and_uuid_check_both() {
    let missing = || Err(VirError::bare(ErrorDomain::Domain, ErrorCode::NoDomain));
    assert_eq!(
        both(Ok(obj("a")), "a", Ok(obj("a"))),
        Objects::Known(vec![obj("a")])
    );
    assert_eq!(
        both(Ok(obj("a")), "b", Ok(obj("b"))),
        Objects::Known(vec![obj("a"), obj("b")])
    );
    assert_eq!(
        both(missing(), "b", Ok(obj("b"))),
        Objects::Known(vec![obj("b")])
    );
    assert_eq!(
        both(Ok(obj("a")), "b", missing()),
        Objects::Known(vec![obj("a")])
    );
    assert_eq!(both(missing(), "b", missing()), Objects::Missing);
}
