use oxvirt_xml::{Context, ErrorCode, ErrorDomain, XmlModel};

use super::{canonical_shmem, Shmem, ShmemModel, ShmemRole};

fn read(xml: &str) -> Result<Shmem, oxvirt_xml::XmlError> {
    Shmem::from_element(&oxvirt_xml::parse(xml).unwrap(), &mut Context::default())
}

fn canonical(xml: &str) -> String {
    let el = oxvirt_xml::parse(xml).unwrap();
    oxvirt_xml::to_string(&canonical_shmem(&el, &mut Context::default()).unwrap())
}

#[test]
fn model_defaults_to_ivshmem() {
    // libvirt 9.0's test driver: <shmem name='x'/> comes back with its model.
    assert_eq!(
        canonical("<shmem name='x'/>"),
        "<shmem name='x'>\n  <model type='ivshmem'/>\n</shmem>\n"
    );
    assert_eq!(
        canonical("<shmem name='x'><model/></shmem>"),
        "<shmem name='x'>\n  <model type='ivshmem'/>\n</shmem>\n"
    );
}

#[test]
fn children_in_libvirts_order_and_size_in_mib() {
    assert_eq!(
        canonical(
            "<shmem name='x'><address type='pci' domain='0' bus='0' slot='4' function='0'/>\
             <size unit='KiB'>2048</size><server/><model type='ivshmem-plain'/></shmem>"
        ),
        "<shmem name='x'>\n  <model type='ivshmem-plain'/>\n  <size unit='M'>2</size>\n  \
         <server/>\n  <address type='pci' domain='0x0000' bus='0x00' slot='0x04' \
         function='0x0'/>\n</shmem>\n"
    );
    assert_eq!(
        canonical("<shmem name='x'><size unit='G'>1</size></shmem>"),
        "<shmem name='x'>\n  <model type='ivshmem'/>\n  <size unit='M'>1024</size>\n</shmem>\n"
    );
    assert_eq!(
        read("<shmem name='x'><size>1048576</size></shmem>")
            .unwrap()
            .size,
        Some(1 << 20)
    );
    // Zero and empty are no size.
    assert_eq!(
        read("<shmem name='x'><size>0</size></shmem>").unwrap().size,
        None
    );
    assert_eq!(
        read("<shmem name='x'><size unit='M'></size></shmem>")
            .unwrap()
            .size,
        None
    );
}

#[test]
fn a_size_that_is_not_whole_mib_reads_back_the_same() {
    let xml = canonical("<shmem name='x'><size unit='K'>12345</size></shmem>");
    assert!(xml.contains("<size unit='K'>12345</size>"), "{xml}");
    assert_eq!(read(&xml).unwrap().size, Some(12345 * 1024));
}

#[test]
fn role_only_for_other_models_than_ivshmem() {
    assert_eq!(read("<shmem name='x' role='peer'/>").unwrap().role, None);
    assert_eq!(read("<shmem name='x' role='bogus'/>").unwrap().role, None);
    let s = read("<shmem name='x' role='master'><model type='ivshmem-doorbell'/></shmem>").unwrap();
    assert_eq!(
        (s.model, s.role),
        (ShmemModel::IvshmemDoorbell, Some(ShmemRole::Master))
    );
    assert!(canonical("<shmem name='x' role='peer'/>").starts_with("<shmem name='x'>"));
}

#[test]
fn only_the_first_of_each_child_is_read() {
    assert_eq!(
        canonical(
            "<shmem name='x'><model type='ivshmem-plain'/><model type='ivshmem-doorbell'/>\
             <server path='/a'/><server path='/b'/></shmem>"
        ),
        "<shmem name='x'>\n  <model type='ivshmem-plain'/>\n  <server path='/a'/>\n</shmem>\n"
    );
}

#[test]
fn msi_vectors_and_ioeventfd() {
    assert_eq!(
        canonical("<shmem name='x'><msi vectors='0'/><server/></shmem>"),
        "<shmem name='x'>\n  <model type='ivshmem'/>\n  <server/>\n  <msi/>\n</shmem>\n"
    );
    assert_eq!(
        canonical("<shmem name='x'><msi vectors='3' ioeventfd='off'/><server path=''/></shmem>"),
        "<shmem name='x'>\n  <model type='ivshmem'/>\n  <server path=''/>\n  \
         <msi vectors='3' ioeventfd='off'/>\n</shmem>\n"
    );
}

/// libvirt 9.0's errors, code, domain and message, as python3-libvirt reports them.
#[test]
fn parse_errors() {
    let cases = [
        (
            "<shmem/>",
            ErrorCode::XmlError,
            None,
            "shmem element must contain 'name' attribute",
        ),
        (
            "<shmem name='x'><model type='bogus'/></shmem>",
            ErrorCode::XmlError,
            Some(ErrorDomain::Xml),
            "Invalid value for attribute 'type' in element 'model': 'bogus'.",
        ),
        (
            "<shmem name='x' role='default'><model type='ivshmem-plain'/></shmem>",
            ErrorCode::XmlError,
            Some(ErrorDomain::Xml),
            "Invalid value for attribute 'role' in element 'shmem': 'default'.",
        ),
        (
            "<shmem name='x'><size unit='M'> 4 </size></shmem>",
            ErrorCode::XmlError,
            Some(ErrorDomain::Xml),
            "Invalid value ' 4 ' for element or attribute './size[1]'",
        ),
        (
            "<shmem name='x'><size unit='foo'>1</size></shmem>",
            ErrorCode::InvalidArg,
            Some(ErrorDomain::None),
            "unknown suffix 'foo'",
        ),
        (
            "<shmem name='x'><msi vectors='-1'/><server/></shmem>",
            ErrorCode::XmlError,
            Some(ErrorDomain::Xml),
            "Invalid value for attribute 'vectors' in element 'msi': '-1'. Expected \
             non-negative integer value",
        ),
        (
            "<shmem name='x'><msi ioeventfd='bogus'/><server/></shmem>",
            ErrorCode::XmlError,
            Some(ErrorDomain::Xml),
            "Invalid value for attribute 'ioeventfd' in element 'msi': 'bogus'.",
        ),
    ];
    for (xml, code, origin, message) in cases {
        let e = read(xml).unwrap_err();
        assert_eq!(
            (e.code, e.origin, e.message.as_str()),
            (code, origin, message),
            "{xml}"
        );
    }
}

#[test]
fn generic_checks() {
    let err = |xml: &str| read(xml).unwrap().validate().unwrap_err();
    let e = err("<shmem name='x'><msi/></shmem>");
    assert_eq!(
        (e.code, e.message.as_str()),
        (
            ErrorCode::XmlError,
            "msi option is only supported with a server"
        )
    );
    for (name, message) in [
        ("x/y", "shmem name cannot include '/' character"),
        (".", "shmem name cannot be equal to '.'"),
        ("..", "shmem name cannot be equal to '..'"),
    ] {
        let e = err(&format!("<shmem name='{name}'/>"));
        assert_eq!(
            (e.code, e.message.as_str()),
            (ErrorCode::ConfigUnsupported, message)
        );
    }
    // The size rules are the QEMU driver's only: the test driver takes 12345 KiB.
    let odd = read("<shmem name='x'><size unit='K'>12345</size></shmem>").unwrap();
    assert!(odd.validate().is_ok());
    assert_eq!(
        odd.validate_qemu().unwrap_err().message,
        "shmem size must be a power of two"
    );
    let small = read("<shmem name='x'><size unit='K'>16</size></shmem>").unwrap();
    assert!(small.validate().is_ok());
    assert_eq!(
        small.validate_qemu().unwrap_err().message,
        "shmem size must be at least 1 MiB (1024 KiB)"
    );
    assert!(read("<shmem name='x'><size unit='M'>4</size></shmem>")
        .unwrap()
        .validate_qemu()
        .is_ok());
}
